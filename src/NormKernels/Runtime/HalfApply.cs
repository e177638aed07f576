using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>A path for Half storage with float arithmetic: one step loads 2 x <see cref="Count"/> Half values as two float
/// vectors and stores two back (see <see cref="HalfConvert"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IHalfLanes<TV> where TV : struct
{
    /// <summary>Float lanes per vector; a step covers twice as many Half values.</summary>
    static abstract int Count { get; }

    /// <summary>The path's name.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>2 x Count Half values at <paramref name="p"/> + <paramref name="i"/> as float vectors.</summary>
    static abstract void Load(ref ushort p, nint i, out TV lo, out TV hi);

    /// <summary>Rounds the two vectors to Half and stores them at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract void Store(ref ushort p, nint i, TV lo, TV hi);

    /// <summary>Count floats at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract TV LoadFloat(ref float p, nint i);

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TV Splat(float value);

    /// <summary><c>(x - m) * a + b</c>, the multiply-add fused.</summary>
    static abstract TV Affine(TV x, TV m, TV a, TV b);
}

/// <summary>The 512-bit Half path.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Half512 : IHalfLanes<Vector512<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector512<float>.Count;
    /// <inheritdoc/>
    public static KernelPath Path => KernelPath.Vector512;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref ushort p, nint i, out Vector512<float> lo, out Vector512<float> hi)
    {
        (Vector512<int> l, Vector512<int> h) = Vector512.Widen(Vector512.LoadUnsafe(ref Unsafe.As<ushort, short>(ref p), (nuint)i));
        lo = HalfConvert.ToSingle(l);
        hi = HalfConvert.ToSingle(h);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector512<float> lo, Vector512<float> hi) =>
        Vector512.Narrow(HalfConvert.ToHalfBits(lo), HalfConvert.ToHalfBits(hi)).StoreUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFloat(ref float p, nint i) => Vector512.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Splat(float value) => Vector512.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Affine(Vector512<float> x, Vector512<float> m, Vector512<float> a, Vector512<float> b) => Vector512.FusedMultiplyAdd(x - m, a, b);
}

/// <summary>The 256-bit Half path (AVX2 + FMA).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Half256 : IHalfLanes<Vector256<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector256<float>.Count;
    /// <inheritdoc/>
    public static KernelPath Path => KernelPath.Vector256;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref ushort p, nint i, out Vector256<float> lo, out Vector256<float> hi)
    {
        (Vector256<int> l, Vector256<int> h) = Vector256.Widen(Vector256.LoadUnsafe(ref Unsafe.As<ushort, short>(ref p), (nuint)i));
        lo = HalfConvert.ToSingle(l);
        hi = HalfConvert.ToSingle(h);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector256<float> lo, Vector256<float> hi) =>
        Vector256.Narrow(HalfConvert.ToHalfBits(lo), HalfConvert.ToHalfBits(hi)).StoreUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadFloat(ref float p, nint i) => Vector256.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Splat(float value) => Vector256.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Affine(Vector256<float> x, Vector256<float> m, Vector256<float> a, Vector256<float> b) => Vector256.FusedMultiplyAdd(x - m, a, b);
}

/// <summary>The 128-bit Half path (SSE or AdvSimd): multiply then add where no fused instruction exists.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Half128 : IHalfLanes<Vector128<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector128<float>.Count;
    /// <inheritdoc/>
    public static KernelPath Path => KernelPath.Vector128;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref ushort p, nint i, out Vector128<float> lo, out Vector128<float> hi)
    {
        (Vector128<int> l, Vector128<int> h) = Vector128.Widen(Vector128.LoadUnsafe(ref Unsafe.As<ushort, short>(ref p), (nuint)i));
        lo = HalfConvert.ToSingle(l);
        hi = HalfConvert.ToSingle(h);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector128<float> lo, Vector128<float> hi) =>
        Vector128.Narrow(HalfConvert.ToHalfBits(lo), HalfConvert.ToHalfBits(hi)).StoreUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadFloat(ref float p, nint i) => Vector128.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Splat(float value) => Vector128.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Affine(Vector128<float> x, Vector128<float> m, Vector128<float> a, Vector128<float> b) => (x - m) * a + b;
}

/// <summary>
/// Half storage, float arithmetic, for the one normalization that is elementwise given its statistics: a layer with
/// running statistics in inference (BatchNorm in eval mode) whose statistics and parameters share one kept axis K. The
/// tensor is [outer, K, inner]; each element becomes <c>(x - m[k]) * a[k] + b[k]</c> with the coefficients folded once per
/// call (in double, rounded to float). Reads 2 bytes and writes 2 bytes per element, converted in registers: no float
/// copy of the tensor. In place (output = input) is safe on every path: each element is read before it is written and
/// tails run element by element.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class HalfAffine
{
    /// <summary>The one kept axis of a layer whose inference is elementwise (running statistics, every other axis reduced,
    /// no groups, parameters per channel on that axis or none), or -1.</summary>
    public static int KeptAxis(LayerShape shape)
    {
        if (!shape.RunningStatistics || shape.Groups != 0 || shape.Affine == AffineMode.Elementwise) return -1;
        int kept = -1;
        for (int i = 0; i < shape.Layout.Length; i++)
        {
            if (shape.IsReduced(i)) continue;
            if (kept >= 0) return -1;
            kept = i;
        }
        if (kept < 0 || shape.Affine == AffineMode.PerChannel && kept != shape.Channel) return -1;
        return kept;
    }

    /// <summary>The tensor as [outer, kept, inner] around the kept axis of <see cref="KeptAxis"/>.</summary>
    public static void Split(LayerShape shape, ReadOnlySpan<int> dims, out long outer, out int kept, out long inner)
    {
        int axis = KeptAxis(shape);
        outer = 1;
        inner = 1;
        for (int i = 0; i < axis; i++) outer *= dims[i];
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        kept = dims[axis];
    }

    /// <summary>Elements per parallel unit.</summary>
    private const long UnitElements = 1 << 16;

    /// <summary>Rows shorter than this many elements between coefficient changes (the inner extent) get coefficients expanded along the row.</summary>
    private const int ExpandedLimit = 1 << 16;

    /// <summary>
    /// Folds the coefficients (mean, variance, weight, bias per kept index; an empty weight means no affine) and applies them.
    /// <paramref name="centered"/>: subtract the mean (false for root-mean-square kinds, whose "variance" is the mean square).
    /// Returns the path that ran. The caller has checked every argument.
    /// </summary>
    public static KernelPath Run(ReadOnlySpan<Half> input, Span<Half> output, long outer, int kept, long inner,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double epsilon, bool centered)
    {
        bool expand = inner < 2 * Vector512<float>.Count && (long)kept * inner <= ExpandedLimit;
        int coefficients = expand ? (int)(kept * inner) : kept;
        float[] rented = ArrayPool<float>.Shared.Rent(3 * coefficients);
        try
        {
            Span<float> m = rented.AsSpan(0, coefficients), a = rented.AsSpan(coefficients, coefficients), b = rented.AsSpan(2 * coefficients, coefficients);
            for (int k = 0; k < kept; k++)
            {
                double scale = (weight.IsEmpty ? 1d : weight[k]) / Math.Sqrt(variance[k] + epsilon);
                float mk = centered ? mean[k] : 0f, ak = (float)scale, bk = bias.IsEmpty ? 0f : bias[k];
                if (!expand) { m[k] = mk; a[k] = ak; b[k] = bk; continue; }
                m.Slice((int)(k * inner), (int)inner).Fill(mk);
                a.Slice((int)(k * inner), (int)inner).Fill(ak);
                b.Slice((int)(k * inner), (int)inner).Fill(bk);
            }
            // Runs: expanded, one row per outer index (coefficients along it); otherwise one run per (outer, k) of inner elements.
            long runs = expand ? outer : outer * kept;
            long runLength = expand ? coefficients : inner;
            KernelPath path = HalfConvert.PathFor((nint)Math.Min(runLength, int.MaxValue));
            long runsPerUnit = Math.Max(1, UnitElements / Math.Max(1, runLength));
            int units = (int)Math.Min(int.MaxValue, (runs + runsPerUnit - 1) / runsPerUnit);
            var body = new Body(path, expand, kept, runLength, runs, runsPerUnit);
            ParallelUnits.For(units, Parallelism.Workers(input.Length, units), body,
                MemoryMarshal.AsBytes(input), MemoryMarshal.AsBytes(output), MemoryMarshal.AsBytes((ReadOnlySpan<float>)m),
                MemoryMarshal.AsBytes((ReadOnlySpan<float>)a), MemoryMarshal.AsBytes(b), default);
            return path;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private readonly struct Body(KernelPath path, bool expand, int kept, long runLength, long runs, long runsPerUnit) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            switch (path)
            {
                case KernelPath.Vector512: Runs<Half512, Vector512<float>>(unit, spans); break;
                case KernelPath.Vector256: Runs<Half256, Vector256<float>>(unit, spans); break;
                case KernelPath.Vector128: Runs<Half128, Vector128<float>>(unit, spans); break;
                default: Scalar(unit, spans); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Runs<TH, TV>(int unit, in PinnedSpans spans) where TH : struct, IHalfLanes<TV> where TV : struct
        {
            ref ushort x = ref ParallelUnits.At<ushort>(spans.S0);
            ref ushort y = ref ParallelUnits.At<ushort>(spans.S1);
            ref float m = ref ParallelUnits.At<float>(spans.S2), a = ref ParallelUnits.At<float>(spans.S3), b = ref ParallelUnits.At<float>(spans.S4);
            long first = unit * runsPerUnit, last = Math.Min(runs, first + runsPerUnit);
            for (long r = first; r < last; r++)
            {
                nint o = (nint)(r * runLength);
                if (expand) Row<TH, TV>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)runLength, ref m, ref a, ref b);
                else
                {
                    nint k = (nint)(r % kept);
                    Run<TH, TV>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)runLength, Unsafe.Add(ref m, k), Unsafe.Add(ref a, k), Unsafe.Add(ref b, k));
                }
            }
        }

        private void Scalar(int unit, in PinnedSpans spans)
        {
            ref Half x = ref ParallelUnits.At<Half>(spans.S0);
            ref Half y = ref ParallelUnits.At<Half>(spans.S1);
            ref float m = ref ParallelUnits.At<float>(spans.S2), a = ref ParallelUnits.At<float>(spans.S3), b = ref ParallelUnits.At<float>(spans.S4);
            long first = unit * runsPerUnit, last = Math.Min(runs, first + runsPerUnit);
            for (long r = first; r < last; r++)
            {
                nint o = (nint)(r * runLength);
                nint k = expand ? 0 : (nint)(r % kept);
                for (nint i = 0; i < (nint)runLength; i++)
                {
                    nint c = expand ? i : k;
                    float v = ((float)Unsafe.Add(ref x, o + i) - Unsafe.Add(ref m, c)) * Unsafe.Add(ref a, c) + Unsafe.Add(ref b, c);
                    Unsafe.Add(ref y, o + i) = (Half)v;
                }
            }
        }
    }

    /// <summary>A run whose coefficients are one value each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<TH, TV>(ref ushort x, ref ushort y, nint length, float m, float a, float b) where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int step = 2 * TH.Count;
        TV vm = TH.Splat(m), va = TH.Splat(a), vb = TH.Splat(b);
        nint i = 0;
        for (; i + 2 * step <= length; i += 2 * step)
        {
            TH.Load(ref x, i, out TV l0, out TV h0);
            TH.Load(ref x, i + step, out TV l1, out TV h1);
            TH.Store(ref y, i, TH.Affine(l0, vm, va, vb), TH.Affine(h0, vm, va, vb));
            TH.Store(ref y, i + step, TH.Affine(l1, vm, va, vb), TH.Affine(h1, vm, va, vb));
        }
        for (; i + step <= length; i += step)
        {
            TH.Load(ref x, i, out TV l0, out TV h0);
            TH.Store(ref y, i, TH.Affine(l0, vm, va, vb), TH.Affine(h0, vm, va, vb));
        }
        for (; i < length; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) = (Half)(((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) - m) * a + b);
    }

    /// <summary>A row whose coefficients are loaded along it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TH, TV>(ref ushort x, ref ushort y, nint length, ref float m, ref float a, ref float b) where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int w = TH.Count, step = 2 * w;
        nint i = 0;
        for (; i + step <= length; i += step)
        {
            TH.Load(ref x, i, out TV lo, out TV hi);
            TH.Store(ref y, i, TH.Affine(lo, TH.LoadFloat(ref m, i), TH.LoadFloat(ref a, i), TH.LoadFloat(ref b, i)),
                TH.Affine(hi, TH.LoadFloat(ref m, i + w), TH.LoadFloat(ref a, i + w), TH.LoadFloat(ref b, i + w)));
        }
        for (; i < length; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) =
                (Half)(((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) - Unsafe.Add(ref m, i)) * Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i));
    }
}
