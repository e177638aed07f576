using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>A path for Half storage with float arithmetic. A step covers 2 x <see cref="Count"/> Half values as two float
/// vectors without shuffles: each 32-bit lane holds two neighbouring Half values, the even element (low 16 bits) goes to the
/// first vector and the odd one (high 16 bits) to the second, and the store packs them back the same way. Elementwise
/// work sees every element once whatever the order; coefficients loaded along a run are stored in the same order (each
/// block of 2 x Count: the even elements' coefficients, then the odd ones').</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IHalfLanes<TV> where TV : struct
{
    /// <summary>Float lanes per vector; a step covers twice as many Half values.</summary>
    static abstract int Count { get; }

    /// <summary>The path's name.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>2 x Count Half values at <paramref name="p"/> + <paramref name="i"/>: the even elements and the odd ones, widened (exact).</summary>
    static abstract void Load(ref ushort p, nint i, out TV even, out TV odd);

    /// <summary>Rounds the two vectors to Half (nearest even) and stores them, interleaved, at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract void Store(ref ushort p, nint i, TV even, TV odd);

    /// <summary>Count floats at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract TV LoadFloat(ref float p, nint i);

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TV Splat(float value);

    /// <summary><c>x * a + b</c> (fused where the path has it).</summary>
    static abstract TV Affine(TV x, TV a, TV b);
}

/// <summary>The 512-bit Half path (AVX-512).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Half512 : IHalfLanes<Vector512<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector512<float>.Count;
    /// <inheritdoc/>
    public static KernelPath Path => KernelPath.Vector512;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref ushort p, nint i, out Vector512<float> even, out Vector512<float> odd)
    {
        Vector512<int> v = Vector512.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        even = Widen(v << 16);
        odd = Widen(v);
    }

    /// <summary>The Half in the high 16 bits of each lane (the low bits ignored) as float: sign in place, exponent and
    /// mantissa shifted down 3 bits (the arithmetic shift's sign copies masked off), one multiply by 2^112 to rebias the
    /// exponent and normalize a subnormal; an all-ones exponent (infinity, NaN) becomes the float's, the payload kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(Vector512<int> high)
    {
        Vector512<int> o = (high >> 3) & Vector512.Create(unchecked((int)0x8FFFE000));
        Vector512<float> f = o.AsSingle() * Vector512.Create((127 + 112) << 23).AsSingle();
        Vector512<int> special = Vector512.Equals(high & Vector512.Create(0x7C000000), Vector512.Create(0x7C000000));
        return Vector512.ConditionalSelect(special, f.AsInt32() | Vector512.Create(0x7F800000), f.AsInt32()).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector512<float> even, Vector512<float> odd)
    {
        Vector512<uint> ue = even.AsUInt32(), uo = odd.AsUInt32();
        // Round to nearest even on the bits, valid where the result is a normal Half; the sign rides above bit 15.
        Vector512<uint> ne = (ue + Vector512.Create(0xC8000FFFu) + ((ue >> 13) & Vector512.Create(1u))) >> 13;
        Vector512<uint> no = (uo + Vector512.Create(0xC8000FFFu) + ((uo >> 13) & Vector512.Create(1u))) >> 13;
        Vector512<uint> low = Vector512.ConditionalSelect(Vector512.Create(0x7FFFu), ne, ue >> 16);
        Vector512<uint> high = Vector512.ConditionalSelect(Vector512.Create(0x7FFF0000u), no << 16, uo);
        Vector512<uint> packed = Vector512.ConditionalSelect(Vector512.Create(0xFFFFu), low, high);
        // Zero, subnormal, overflow, infinity, NaN: the exact conversion, for this step only.
        Vector512<uint> limit = Vector512.Create((HalfOverflow - HalfMinNormal) << 1);
        if (Vector512.GreaterThanOrEqualAny((ue << 1) - Vector512.Create(HalfMinNormal << 1), limit) ||
            Vector512.GreaterThanOrEqualAny((uo << 1) - Vector512.Create(HalfMinNormal << 1), limit))
            packed = (HalfConvert.ToHalfBits(even) & Vector512.Create(0xFFFFu)) | (HalfConvert.ToHalfBits(odd) << 16);
        packed.StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFloat(ref float p, nint i) => Vector512.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Splat(float value) => Vector512.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Affine(Vector512<float> x, Vector512<float> a, Vector512<float> b) => Vector512.FusedMultiplyAdd(x, a, b);

    private const uint HalfMinNormal = 113u << 23;        // 2^-14
    private const uint HalfOverflow = (127u + 16u) << 23; // 65536
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
    public static void Load(ref ushort p, nint i, out Vector256<float> even, out Vector256<float> odd)
    {
        Vector256<int> v = Vector256.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        even = Widen(v << 16);
        odd = Widen(v);
    }

    /// <summary>The Half in the high 16 bits of each lane (the low bits ignored) as float: sign in place, exponent and
    /// mantissa shifted down 3 bits (the arithmetic shift's sign copies masked off), one multiply by 2^112 to rebias the
    /// exponent and normalize a subnormal; an all-ones exponent (infinity, NaN) becomes the float's, the payload kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen(Vector256<int> high)
    {
        Vector256<int> o = (high >> 3) & Vector256.Create(unchecked((int)0x8FFFE000));
        Vector256<float> f = o.AsSingle() * Vector256.Create((127 + 112) << 23).AsSingle();
        Vector256<int> special = Vector256.Equals(high & Vector256.Create(0x7C000000), Vector256.Create(0x7C000000));
        return Vector256.ConditionalSelect(special, f.AsInt32() | Vector256.Create(0x7F800000), f.AsInt32()).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector256<float> even, Vector256<float> odd)
    {
        Vector256<uint> ue = even.AsUInt32(), uo = odd.AsUInt32();
        // Round to nearest even on the bits, valid where the result is a normal Half; the sign rides above bit 15.
        Vector256<uint> ne = (ue + Vector256.Create(0xC8000FFFu) + ((ue >> 13) & Vector256.Create(1u))) >> 13;
        Vector256<uint> no = (uo + Vector256.Create(0xC8000FFFu) + ((uo >> 13) & Vector256.Create(1u))) >> 13;
        Vector256<uint> low = Vector256.ConditionalSelect(Vector256.Create(0x7FFFu), ne, ue >> 16);
        Vector256<uint> high = Vector256.ConditionalSelect(Vector256.Create(0x7FFF0000u), no << 16, uo);
        Vector256<uint> packed = Vector256.ConditionalSelect(Vector256.Create(0xFFFFu), low, high);
        // Zero, subnormal, overflow, infinity, NaN: the exact conversion, for this step only.
        Vector256<uint> limit = Vector256.Create((HalfOverflow - HalfMinNormal) << 1);
        if (Vector256.GreaterThanOrEqualAny((ue << 1) - Vector256.Create(HalfMinNormal << 1), limit) ||
            Vector256.GreaterThanOrEqualAny((uo << 1) - Vector256.Create(HalfMinNormal << 1), limit))
            packed = (HalfConvert.ToHalfBits(even) & Vector256.Create(0xFFFFu)) | (HalfConvert.ToHalfBits(odd) << 16);
        packed.StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadFloat(ref float p, nint i) => Vector256.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Splat(float value) => Vector256.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Affine(Vector256<float> x, Vector256<float> a, Vector256<float> b) => Vector256.FusedMultiplyAdd(x, a, b);

    private const uint HalfMinNormal = 113u << 23;        // 2^-14
    private const uint HalfOverflow = (127u + 16u) << 23; // 65536
}

/// <summary>The 128-bit Half path (SSE or AdvSimd): multiply then add, as the 128-bit float kernels without FMA.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Half128 : IHalfLanes<Vector128<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector128<float>.Count;
    /// <inheritdoc/>
    public static KernelPath Path => KernelPath.Vector128;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref ushort p, nint i, out Vector128<float> even, out Vector128<float> odd)
    {
        Vector128<int> v = Vector128.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        even = Widen(v << 16);
        odd = Widen(v);
    }

    /// <summary>The Half in the high 16 bits of each lane (the low bits ignored) as float: sign in place, exponent and
    /// mantissa shifted down 3 bits (the arithmetic shift's sign copies masked off), one multiply by 2^112 to rebias the
    /// exponent and normalize a subnormal; an all-ones exponent (infinity, NaN) becomes the float's, the payload kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Widen(Vector128<int> high)
    {
        Vector128<int> o = (high >> 3) & Vector128.Create(unchecked((int)0x8FFFE000));
        Vector128<float> f = o.AsSingle() * Vector128.Create((127 + 112) << 23).AsSingle();
        Vector128<int> special = Vector128.Equals(high & Vector128.Create(0x7C000000), Vector128.Create(0x7C000000));
        return Vector128.ConditionalSelect(special, f.AsInt32() | Vector128.Create(0x7F800000), f.AsInt32()).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector128<float> even, Vector128<float> odd)
    {
        Vector128<uint> ue = even.AsUInt32(), uo = odd.AsUInt32();
        // Round to nearest even on the bits, valid where the result is a normal Half; the sign rides above bit 15.
        Vector128<uint> ne = (ue + Vector128.Create(0xC8000FFFu) + ((ue >> 13) & Vector128.Create(1u))) >> 13;
        Vector128<uint> no = (uo + Vector128.Create(0xC8000FFFu) + ((uo >> 13) & Vector128.Create(1u))) >> 13;
        Vector128<uint> low = Vector128.ConditionalSelect(Vector128.Create(0x7FFFu), ne, ue >> 16);
        Vector128<uint> high = Vector128.ConditionalSelect(Vector128.Create(0x7FFF0000u), no << 16, uo);
        Vector128<uint> packed = Vector128.ConditionalSelect(Vector128.Create(0xFFFFu), low, high);
        // Zero, subnormal, overflow, infinity, NaN: the exact conversion, for this step only.
        Vector128<uint> limit = Vector128.Create((HalfOverflow - HalfMinNormal) << 1);
        if (Vector128.GreaterThanOrEqualAny((ue << 1) - Vector128.Create(HalfMinNormal << 1), limit) ||
            Vector128.GreaterThanOrEqualAny((uo << 1) - Vector128.Create(HalfMinNormal << 1), limit))
            packed = (HalfConvert.ToHalfBits(even) & Vector128.Create(0xFFFFu)) | (HalfConvert.ToHalfBits(odd) << 16);
        packed.StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadFloat(ref float p, nint i) => Vector128.LoadUnsafe(ref p, (nuint)i);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Splat(float value) => Vector128.Create(value);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Affine(Vector128<float> x, Vector128<float> a, Vector128<float> b) => x * a + b;

    private const uint HalfMinNormal = 113u << 23;        // 2^-14
    private const uint HalfOverflow = (127u + 16u) << 23; // 65536
}

/// <summary>
/// Half storage, float arithmetic, for the one normalization that is elementwise given its statistics: a layer with
/// running statistics in inference (BatchNorm in eval mode) whose statistics and parameters share one kept axis K. The
/// tensor is [outer, K, inner]; each element becomes <c>x * a[k] + b[k]</c> with <c>a = gamma / sqrt(var + eps)</c> and
/// <c>b = beta - mean * a</c> folded once per call in double and rounded to float (the float kernels keep <c>(x - mean) * a</c>
/// for offset data; a Half input carries 13 bits less than the float arithmetic, so the folded form loses nothing that
/// shows after rounding to Half). Reads 2 bytes and writes 2 bytes per element, converted in registers: no float copy of
/// the tensor. In place (output = input) is safe on every path: each element is read before it is written and tails run
/// element by element.
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

    /// <summary>Runs shorter than this many elements between coefficient changes (the inner extent) get their coefficients
    /// expanded along rows of K x inner, up to <see cref="ExpandedLimit"/> elements.</summary>
    private const int ShortRun = 64;

    private const int ExpandedLimit = 1 << 16;

    /// <summary>
    /// Folds the coefficients (mean, variance, weight, bias per kept index; an empty weight means no affine) and applies them.
    /// <paramref name="centered"/>: subtract the mean (false for root-mean-square kinds, whose "variance" is the mean square).
    /// Returns the path that ran. The caller has checked every argument.
    /// </summary>
    public static KernelPath Run(ReadOnlySpan<Half> input, Span<Half> output, long outer, int kept, long inner,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double epsilon, bool centered)
    {
        long period = kept * inner;
        bool rows = inner < ShortRun && period <= ExpandedLimit;
        // Rows: the coefficients expanded along `repeat` periods of [K, inner] (the pattern repeats every period), one row per
        // `repeat` outer indices (the last one shorter); otherwise one run per (outer, k) of inner elements.
        long repeat = rows ? Math.Max(1, Math.Min(outer, RowElements / period)) : 1;
        long runs = rows ? (outer + repeat - 1) / repeat : outer * kept;
        long runLength = rows ? period * repeat : inner;
        KernelPath path = HalfConvert.PathFor((nint)Math.Min(rows ? period * Math.Min(outer, repeat) : inner, int.MaxValue));
        int coefficients = rows ? (int)runLength : kept;
        float[] rented = ArrayPool<float>.Shared.Rent(4 * coefficients);
        try
        {
            Span<float> a = rented.AsSpan(0, coefficients), b = rented.AsSpan(coefficients, coefficients);
            Span<float> laneA = rented.AsSpan(2 * coefficients, coefficients), laneB = rented.AsSpan(3 * coefficients, coefficients);
            for (int k = 0; k < kept; k++)
            {
                double scale = (weight.IsEmpty ? 1d : weight[k]) / Math.Sqrt(variance[k] + epsilon);
                double shift = (bias.IsEmpty ? 0d : bias[k]) - (centered ? mean[k] : 0d) * scale;
                if (!rows) { a[k] = (float)scale; b[k] = (float)shift; continue; }
                a.Slice((int)(k * inner), (int)inner).Fill((float)scale);
                b.Slice((int)(k * inner), (int)inner).Fill((float)shift);
            }
            if (rows)
            {
                for (long r = 1; r < repeat; r++)
                {
                    a[..(int)period].CopyTo(a.Slice((int)(r * period)));
                    b[..(int)period].CopyTo(b.Slice((int)(r * period)));
                }
                a.CopyTo(laneA);
                b.CopyTo(laneB);
                int lanes = path switch { KernelPath.Vector512 => 16, KernelPath.Vector256 => 8, KernelPath.Vector128 => 4, _ => 0 };
                if (lanes > 0) { Deinterleave(laneA, 2 * lanes); Deinterleave(laneB, 2 * lanes); }
            }
            long runsPerUnit = Math.Max(1, UnitElements / Math.Max(1, runLength));
            int units = (int)Math.Min(int.MaxValue, (runs + runsPerUnit - 1) / runsPerUnit);
            var body = new Body(path, rows, kept, runLength, runs, runsPerUnit, input.Length);
            ParallelUnits.For(units, Parallelism.Workers(input.Length, units), body,
                MemoryMarshal.AsBytes(input), MemoryMarshal.AsBytes(output), MemoryMarshal.AsBytes((ReadOnlySpan<float>)a),
                MemoryMarshal.AsBytes((ReadOnlySpan<float>)b), MemoryMarshal.AsBytes(laneA), MemoryMarshal.AsBytes(laneB));
            return path;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Elements a row of expanded coefficients covers at most when a period is shorter (channels last: a few rows of C
    /// per row). Small, so the coefficients (8 bytes per element, twice) stay in L1: rows of 4096 read 64 KB of coefficients per
    /// 8 KB of Half data, and NHWC S1 ran 1.5x slower.</summary>
    private const long RowElements = 512;

    /// <summary>Each whole block of <paramref name="block"/> coefficients in the lanes' order: the even elements', then the odd
    /// ones' (<see cref="IHalfLanes{TV}"/>); the partial block at the end (the scalar tail's) stays in element order.</summary>
    private static void Deinterleave(Span<float> values, int block)
    {
        Span<float> copy = stackalloc float[block];
        for (int j = 0; j + block <= values.Length; j += block)
        {
            Span<float> b = values.Slice(j, block);
            b.CopyTo(copy);
            for (int t = 0; t < block / 2; t++) { b[t] = copy[2 * t]; b[block / 2 + t] = copy[2 * t + 1]; }
        }
    }

    private readonly struct Body(KernelPath path, bool rows, int kept, long runLength, long runs, long runsPerUnit, long total) : IParallelBody
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
            ref float a = ref ParallelUnits.At<float>(spans.S2), b = ref ParallelUnits.At<float>(spans.S3);
            ref float laneA = ref ParallelUnits.At<float>(spans.S4), laneB = ref ParallelUnits.At<float>(spans.S5);
            long first = unit * runsPerUnit, last = Math.Min(runs, first + runsPerUnit);
            for (long r = first; r < last; r++)
            {
                nint o = (nint)(r * runLength);
                if (rows) Row<TH, TV>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)Math.Min(runLength, total - o), ref a, ref b, ref laneA, ref laneB);
                else
                {
                    nint k = (nint)(r % kept);
                    Run<TH, TV>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)runLength, Unsafe.Add(ref a, k), Unsafe.Add(ref b, k));
                }
            }
        }

        private void Scalar(int unit, in PinnedSpans spans)
        {
            ref Half x = ref ParallelUnits.At<Half>(spans.S0);
            ref Half y = ref ParallelUnits.At<Half>(spans.S1);
            ref float a = ref ParallelUnits.At<float>(spans.S2), b = ref ParallelUnits.At<float>(spans.S3);
            long first = unit * runsPerUnit, last = Math.Min(runs, first + runsPerUnit);
            for (long r = first; r < last; r++)
            {
                nint o = (nint)(r * runLength);
                nint k = rows ? 0 : (nint)(r % kept);
                for (nint i = 0, n = (nint)Math.Min(runLength, total - o); i < n; i++)
                {
                    nint c = rows ? i : k;
                    Unsafe.Add(ref y, o + i) = (Half)((float)Unsafe.Add(ref x, o + i) * Unsafe.Add(ref a, c) + Unsafe.Add(ref b, c));
                }
            }
        }
    }

    /// <summary>A run whose coefficients are one value each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<TH, TV>(ref ushort x, ref ushort y, nint length, float a, float b) where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int step = 2 * TH.Count;
        TV va = TH.Splat(a), vb = TH.Splat(b);
        nint i = 0;
        for (; i + 2 * step <= length; i += 2 * step)
        {
            TH.Load(ref x, i, out TV e0, out TV o0);
            TH.Load(ref x, i + step, out TV e1, out TV o1);
            TH.Store(ref y, i, TH.Affine(e0, va, vb), TH.Affine(o0, va, vb));
            TH.Store(ref y, i + step, TH.Affine(e1, va, vb), TH.Affine(o1, va, vb));
        }
        for (; i + step <= length; i += step)
        {
            TH.Load(ref x, i, out TV e0, out TV o0);
            TH.Store(ref y, i, TH.Affine(e0, va, vb), TH.Affine(o0, va, vb));
        }
        for (; i < length; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) = (Half)((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) * a + b);
    }

    /// <summary>A row whose coefficients are loaded along it: each whole step's from the lane-ordered copies, the tail's
    /// from the element-ordered ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TH, TV>(ref ushort x, ref ushort y, nint length, ref float a, ref float b, ref float laneA, ref float laneB)
        where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int w = TH.Count, step = 2 * w;
        nint i = 0;
        for (; i + step <= length; i += step)
        {
            TH.Load(ref x, i, out TV even, out TV odd);
            TH.Store(ref y, i, TH.Affine(even, TH.LoadFloat(ref laneA, i), TH.LoadFloat(ref laneB, i)),
                TH.Affine(odd, TH.LoadFloat(ref laneA, i + w), TH.LoadFloat(ref laneB, i + w)));
        }
        for (; i < length; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) =
                (Half)((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) * Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i));
    }
}
