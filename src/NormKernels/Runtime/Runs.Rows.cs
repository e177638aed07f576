using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>Turns one row's sums into its coefficients (the driver's: statistics written out, mean and rstd, then
/// <c>y = (x - c) * a + b</c>, times gamma plus beta along the row for two-step plans).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRowFinish<T>
{
    /// <summary>Row <paramref name="row"/> of the run (0 = the first): its shift (first element) and sums.</summary>
    void Finish(nint row, T shift, double sum, double sq, out T a, out T b, out T c);
}

public static partial class Runs<TS, TV, T>
{
    /// <summary>
    /// Consecutive rows of <paramref name="len"/> elements, each its own statistic (LayerNorm and RMSNorm over the last dim,
    /// InstanceNorm NCHW with a plane per row), one after the other: the row's sums as <see cref="Reduce{TK}"/> makes them,
    /// its coefficients from <paramref name="finish"/>, then the plain apply (<typeparamref name="TG"/>: gamma and beta
    /// loaded along the row, or none; <typeparamref name="TW"/>: how y is stored). With <typeparamref name="TB"/> (the
    /// residual added before the norm), the row read is x + r (at <paramref name="residual"/> bytes from x), written to the
    /// sum (at <paramref name="sum"/> bytes from x) and to <paramref name="stage"/> (len elements), which the norm reads.
    /// The same bits as the block driver's unit per row, without its per-block set-up (scratch cleared, statistics and
    /// coefficients through the nest's loops): LayerNorm rows of 768 in cache 158 -> 129 ns a row.
    /// (Applying row i in the loop that reduces row i + 1 was slower: rows of 768 out of cache 1.92 against 1.64 ms for
    /// [8192, 768], and pathological for some relative alignments of x and y.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TK, TW, TG, TB, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish,
        nint residual, nint sum, ref T stage)
        where TK : struct, INormKind where TW : struct, IStores where TG : struct, IOperand where TB : struct, IOperand where TF : struct, IRowFinish<T>, allows ref struct
    {
        for (nint i = 0; i < rows; i++)
        {
            ref T xi = ref Unsafe.Add(ref x, i * len);
            ref T src = ref xi;
            if (TB.Lanes)
            {
                AddStaged<TW>(ref xi, ref Unsafe.AddByteOffset(ref xi, residual), ref stage, ref Unsafe.AddByteOffset(ref xi, sum), len);
                src = ref stage;
            }
            T shift = TK.Centered ? src : default;
            double s = 0d, q = 0d;
            if (TK.Centered) ReduceCore<Centered>(ref src, len, shift, ref s, ref q);
            else ReduceCore<Uncentered>(ref src, len, default, ref q, ref q);
            finish.Finish(i, shift, s, q, out T a, out T b, out T c);
            ref T yi = ref Unsafe.Add(ref y, i * len);
            if (TK.Centered)
            {
                if (TG.Lanes) ApplyCore<Centered, TW, Splat, Centered, Lanes, TK>(ref src, ref yi, len, ref a, ref b, ref c, ref g, ref h, 0);
                else ApplyCore<Centered, TW, Splat, Uncentered, Splat, TK>(ref src, ref yi, len, ref a, ref b, ref c, ref a, ref b, 0);
            }
            else if (TG.Lanes) ApplyCore<Uncentered, TW, Splat, Centered, Lanes, TK>(ref src, ref yi, len, ref a, ref b, ref a, ref g, ref h, 0);
            else ApplyCore<Uncentered, TW, Splat, Uncentered, Splat, TK>(ref src, ref yi, len, ref a, ref b, ref a, ref a, ref b, 0);
        }
    }
}
