using System;
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
    /// <summary>Bytes of rows a phased run (see <see cref="Rows"/>) takes through its three passes at a time: they stay in L1.</summary>
    private const int PhaseBytes = 16 << 10;

    /// <summary>
    /// Consecutive rows of <paramref name="len"/> elements, each its own statistic (LayerNorm and RMSNorm over the last dim,
    /// InstanceNorm NCHW with a plane per row, BatchNorm NCHW with N = 1): each row's sums as <see cref="Reduce{TK}"/> makes
    /// them, its coefficients from <paramref name="finish"/>, then the plain apply (<typeparamref name="TG"/>: gamma and beta
    /// loaded along the row, or none; <typeparamref name="TW"/>: how y is stored). The same bits as the block driver's unit
    /// per row, without its per-block set-up (scratch cleared, statistics and coefficients through the nest's loops).
    /// <para><paramref name="phased"/> (the caller's choice: tensors that stay in cache): batches of rows that fit L1 go
    /// through three passes, every row's sums, then every row's coefficients (their chains of divisions and square roots,
    /// which a row alone waits for, overlap), then every row's apply; <paramref name="sums"/> (2 per row) and
    /// <paramref name="coefficients"/> (3 per row) hold them. Otherwise row after row: out of cache that streams better
    /// (AMD Zen 4, LayerNorm rows of 768, 1 thread: [1024, 768] 150 us row by row, 129 phased; [4096, 768] 0.96 ms against
    /// 1.25; [8192, 768] 1.7 ms against 2.3).</para>
    /// <para>With <typeparamref name="TB"/> (the residual added before the norm), row after row: the row read is x + r (at
    /// <paramref name="residual"/> bytes from x), written to the sum (at <paramref name="sum"/> bytes from x) and to
    /// <paramref name="stage"/> (len elements), which the norm reads.</para>
    /// <para>(Applying row i in the loop that reduces row i + 1 was slower: [8192, 768] 1.92 against 1.64 ms, and
    /// pathological for some relative alignments of x and y.)</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TK, TW, TG, TB, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish,
        nint residual, nint sum, ref T stage, bool phased, ref double sums, ref T coefficients)
        where TK : struct, INormKind where TW : struct, IStores where TG : struct, IOperand where TB : struct, IOperand where TF : struct, IRowFinish<T>, allows ref struct
    {
        if (!TB.Lanes && phased)
        {
            // Batches of rows that stay in L1 (PhaseBytes), three passes over each: every row's sums, every row's
            // coefficients (the rows' scalar chains of divisions and square roots are independent, so they overlap), every
            // row's apply.
            nint batch = Math.Max(1, PhaseBytes / (len * Unsafe.SizeOf<T>()));
            for (nint b0 = 0; b0 < rows; b0 += batch)
            {
                nint b1 = Math.Min(rows, b0 + batch);
                for (nint i = b0; i < b1; i++)
                {
                    ref T xi = ref Unsafe.Add(ref x, i * len);
                    double s = 0d, q = 0d;
                    if (TK.Centered) ReduceCore<Centered>(ref xi, len, xi, ref s, ref q);
                    else ReduceCore<Uncentered>(ref xi, len, default, ref q, ref q);
                    Unsafe.Add(ref sums, 2 * i) = s;
                    Unsafe.Add(ref sums, 2 * i + 1) = q;
                }
                for (nint i = b0; i < b1; i++)
                {
                    finish.Finish(i, TK.Centered ? Unsafe.Add(ref x, i * len) : default, Unsafe.Add(ref sums, 2 * i), Unsafe.Add(ref sums, 2 * i + 1),
                        out Unsafe.Add(ref coefficients, 3 * i), out Unsafe.Add(ref coefficients, 3 * i + 1), out Unsafe.Add(ref coefficients, 3 * i + 2));
                }
                for (nint i = b0; i < b1; i++)
                {
                    ref T xi = ref Unsafe.Add(ref x, i * len);
                    ref T yi = ref Unsafe.Add(ref y, i * len);
                    ref T a = ref Unsafe.Add(ref coefficients, 3 * i);
                    ref T b = ref Unsafe.Add(ref a, 1);
                    ref T c = ref Unsafe.Add(ref a, 2);
                    if (TK.Centered)
                    {
                        if (TG.Lanes) ApplyCore<Centered, TW, Splat, Centered, Lanes, TK>(ref xi, ref yi, len, ref a, ref b, ref c, ref g, ref h, 0);
                        else ApplyCore<Centered, TW, Splat, Uncentered, Splat, TK>(ref xi, ref yi, len, ref a, ref b, ref c, ref a, ref b, 0);
                    }
                    else if (TG.Lanes) ApplyCore<Uncentered, TW, Splat, Centered, Lanes, TK>(ref xi, ref yi, len, ref a, ref b, ref a, ref g, ref h, 0);
                    else ApplyCore<Uncentered, TW, Splat, Uncentered, Splat, TK>(ref xi, ref yi, len, ref a, ref b, ref a, ref a, ref b, 0);
                }
            }
            return;
        }
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
