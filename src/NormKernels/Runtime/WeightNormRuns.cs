using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>What a weight normalization pass computes: the norms and <c>w = v * s</c> (the forward), or also the products
/// <c>wGrad * v</c> and <c>vGrad = a * wGrad + b * v</c> (the backward).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IWeightNormPass
{
    /// <summary>True for the backward: the sums include <c>wGrad * v</c> and the apply reads <c>wGrad</c>.</summary>
    static abstract bool Gradient { get; }
}

/// <summary>The forward pass: sums of squares, then <c>w = v * s</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct WeightForward : IWeightNormPass
{
    /// <inheritdoc/>
    public static bool Gradient => false;
}

/// <summary>The backward pass: sums of squares and of <c>wGrad * v</c>, then <c>vGrad = a * wGrad + b * v</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct WeightBackward : IWeightNormPass
{
    /// <inheritdoc/>
    public static bool Gradient => true;
}

/// <summary>
/// The runs of weight normalization, written once for every path (<typeparamref name="TS"/>), vector type
/// (<typeparamref name="TV"/>) and element type (<typeparamref name="T"/>); <see cref="WeightNormKernels{TLayer, T}"/> calls
/// them on each contiguous run of a norm (or row of norms). As <see cref="Runs{TS, TV, T}"/>: every run holds at least
/// <c>TS.Count</c> elements, and its last partial vector is an overlapped load whose finished lanes are masked (the sums)
/// or kept as stored (the apply, so that in place, <c>w = v</c>, stays correct).
/// </summary>
/// <remarks>
/// Every square and product is rounded once in the element type, widened to double and added in double (register
/// accumulators, <see cref="Wide{TV}"/>): the forward and the backward compute the same norm, bit for bit, and a sum of
/// products that cancels keeps the precision of double.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class WeightNormRuns<TS, TV, T> where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Over a contiguous run: <paramref name="squares"/> += sum v^2 and, for the backward, <paramref name="products"/> += sum dy * v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sums<TP>(ref T v, ref T dy, nint len, ref double squares, ref double products) where TP : struct, IWeightNormPass
    {
        int w = TS.Count;
        Wide<TV> sq0 = default, sq1 = default, pr0 = default, pr1 = default;
        nint i = 0;
        for (; i + 2 * w <= len; i += 2 * w)
        {
            Accumulate<TP>(ref v, ref dy, i, ref sq0, ref pr0);
            Accumulate<TP>(ref v, ref dy, i + w, ref sq1, ref pr1);
        }
        if (i + w <= len)
        {
            Accumulate<TP>(ref v, ref dy, i, ref sq0, ref pr0);
            i += w;
        }
        if (w > 1 && i < len)
            AccumulateLast<TP>(ref v, ref dy, len - w, TS.LastLanes(len - i), ref sq1, ref pr1);
        squares += TS.SumWide(ref sq0) + TS.SumWide(ref sq1);
        if (TP.Gradient) products += TS.SumWide(ref pr0) + TS.SumWide(ref pr1);
    }

    /// <summary>
    /// Per column j of <paramref name="width"/> contiguous columns, over <paramref name="rows"/> rows <paramref name="stride"/>
    /// elements apart: <paramref name="squares"/>[j] += sum v[r, j]^2 and, for the backward, <paramref name="products"/>[j] +=
    /// sum dy[r, j] * v[r, j]; each row's lanes are added in double, row after row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ColumnSums<TP>(ref T v, ref T dy, nint rows, nint width, nint stride, ref double squares, ref double products)
        where TP : struct, IWeightNormPass
    {
        int w = TS.Count;
        for (nint r = 0, row = 0; r < rows; r++, row += stride)
        {
            nint j = 0;
            for (; j + w <= width; j += w)
            {
                TV x = TS.Load(ref v, row + j);
                TS.AddWidened(ref squares, j, TS.Multiply(x, x));
                if (TP.Gradient) TS.AddWidened(ref products, j, TS.Multiply(TS.Load(ref dy, row + j), x));
            }
            if (w > 1 && j < width)
            {
                // The last vector overlaps the one before it: its finished lanes add zero.
                nint t = width - w;
                TV mask = TS.LastLanes(width - j), x = TS.Load(ref v, row + t);
                TS.AddWidened(ref squares, t, TS.And(TS.Multiply(x, x), mask));
                if (TP.Gradient) TS.AddWidened(ref products, t, TS.And(TS.Multiply(TS.Load(ref dy, row + t), x), mask));
            }
        }
    }

    /// <summary>
    /// Over a contiguous run: the forward's <c>output = v * b</c>, or the backward's <c>output = v * b + dy * a</c> (the
    /// product <c>dy * a</c> rounded, then one multiply-add under the path's contract). <typeparamref name="TA"/>: a and b one
    /// value each (<see cref="Splat"/>) or loaded along the run (<see cref="Lanes"/>, a row of norms). Output may be v or dy itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TP, TA>(ref T v, ref T dy, ref T output, nint len, ref T a, ref T b)
        where TP : struct, IWeightNormPass where TA : struct, IOperand
    {
        int w = TS.Count;
        TV sa = TA.Lanes || !TP.Gradient ? default : TS.Splat(a), sb = TA.Lanes ? default : TS.Splat(b);
        nint i = 0;
        for (; i + w <= len; i += w)
            TS.Store(Combine<TP, TA>(ref v, ref dy, i, ref a, ref b, sa, sb), ref output, i);
        if (w > 1 && i < len)
        {
            nint t = len - w;
            TS.Store(TS.Select(TS.LastLanes(len - i), Combine<TP, TA>(ref v, ref dy, t, ref a, ref b, sa, sb), TS.Load(ref output, t)), ref output, t);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Combine<TP, TA>(ref T v, ref T dy, nint at, ref T a, ref T b, TV sa, TV sb)
        where TP : struct, IWeightNormPass where TA : struct, IOperand
    {
        TV x = TS.Load(ref v, at), kb = TA.Lanes ? TS.Load(ref b, at) : sb;
        if (!TP.Gradient) return TS.Multiply(x, kb);
        TV ka = TA.Lanes ? TS.Load(ref a, at) : sa;
        return TS.MultiplyAdd(x, kb, TS.Multiply(TS.Load(ref dy, at), ka));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TP>(ref T v, ref T dy, nint at, ref Wide<TV> squares, ref Wide<TV> products) where TP : struct, IWeightNormPass
    {
        TV x = TS.Load(ref v, at);
        TS.AccumulateWidenedDifference(ref squares, TS.Multiply(x, x), default);
        if (TP.Gradient) TS.AccumulateWidenedDifference(ref products, TS.Multiply(TS.Load(ref dy, at), x), default);
    }

    /// <summary>The overlapped last vector: the lanes before <c>at + w - lanes</c> were added already and add zero here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateLast<TP>(ref T v, ref T dy, nint at, TV mask, ref Wide<TV> squares, ref Wide<TV> products) where TP : struct, IWeightNormPass
    {
        TV x = TS.Load(ref v, at);
        TS.AccumulateWidenedDifference(ref squares, TS.And(TS.Multiply(x, x), mask), default);
        if (TP.Gradient) TS.AccumulateWidenedDifference(ref products, TS.And(TS.Multiply(TS.Load(ref dy, at), x), mask), default);
    }
}
