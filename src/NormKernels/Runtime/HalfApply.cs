using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>A path for Half storage with float arithmetic, in the scaled domain of <see cref="HalfAffine"/>: a Half value x is
/// read as the float x * 2^-112 (the Half's bits moved into the float's fields, no rebias), and a float z is stored as the
/// Half z * 2^112; the affine map's shift is scaled the same way. A step covers 2 x <see cref="Count"/> Half values as two
/// float vectors without shuffles: each 32-bit lane holds two neighbouring Half values, the even element (low 16 bits) goes
/// to the first vector and the odd one (high 16 bits) to the second, and the store packs them back the same way.
/// Elementwise work sees every element once whatever the order; coefficients loaded along a run are stored in the same
/// order (each block of 2 x Count: the even elements' coefficients, then the odd ones').</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IHalfLanes<TV> where TV : struct
{
    /// <summary>Float lanes per vector; a step covers twice as many Half values.</summary>
    static abstract int Count { get; }

    /// <summary>The path's name.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>Every 32-bit lane <paramref name="bits"/> (see <see cref="HalfConstants{TV}"/>).</summary>
    static abstract TV Bits(uint bits);

    /// <summary>2 x Count Half values at <paramref name="p"/> + <paramref name="i"/>, the even elements and the odd ones, each
    /// as the float x * 2^-112 (exact for every finite Half: a subnormal becomes a float subnormal); false, with the vectors
    /// unset, when one value's magnitude bits exceed the bound (infinity and NaN always do).</summary>
    static abstract bool Load(ref ushort p, nint i, TV bound, TV magnitude, TV fields, out TV even, out TV odd);

    /// <summary>Stores the Half values z * 2^112 (nearest even) of the two vectors, interleaved, at <paramref name="p"/> +
    /// <paramref name="i"/>. Every z * 2^112 must round to a finite Half (|z * 2^112| below 65520).</summary>
    static abstract void Store(ref ushort p, nint i, TV even, TV odd, TV lsb, TV half, TV up, TV low, TV sign, TV word);

    /// <summary>Count floats at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract TV LoadFloat(ref float p, nint i);

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TV Splat(float value);

    /// <summary><c>x * a + b</c> (fused where the path has it).</summary>
    static abstract TV Affine(TV x, TV a, TV b);
}

/// <summary>The constants of the Half steps (<see cref="IHalfLanes{TV}"/>) as 32-bit lane patterns, made once per loop by its
/// caller and copied into the loop's locals: the JIT reloads a vector constant written inside a loop at every use (and folds
/// one it can see into a memory operand), where it keeps a local it cannot see through in a register.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HalfConstants<TV> where TV : struct
{
    /// <summary>Load: the bound in both 16-bit halves of a lane (at most 0x7BFF), the magnitude mask 0x7FFF7FFF, the float
    /// fields 0x8FFFE000 a shifted Half occupies.</summary>
    public readonly TV Bound, Magnitude, Fields;

    /// <summary>Store: bit 13 (0x2000, a Half's lowest mantissa bit in the float), 0xFFF and 0x1000 (rounding below it), and
    /// 0x7FFF, 0x80000000, 0xFFFF (its selects).</summary>
    public readonly TV Lsb, Half, Up, Low, Sign, Word;

    private HalfConstants(TV bound, TV magnitude, TV fields, TV lsb, TV half, TV up, TV low, TV sign, TV word)
    {
        Bound = bound; Magnitude = magnitude; Fields = fields;
        Lsb = lsb; Half = half; Up = up; Low = low; Sign = sign; Word = word;
    }

    /// <summary>The constants with <paramref name="bound"/> (at most 0x7BFF) as the largest magnitude bits a vector step takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static HalfConstants<TV> For<TH>(ushort bound) where TH : IHalfLanes<TV> =>
        new(TH.Bits(bound | (uint)bound << 16), TH.Bits(0x7FFF7FFF), TH.Bits(0x8FFFE000),
            TH.Bits(0x2000), TH.Bits(0xFFF), TH.Bits(0x1000), TH.Bits(0x7FFF), TH.Bits(0x80000000), TH.Bits(0xFFFF));
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
    public static Vector512<float> Bits(uint bits) => Vector512.Create(bits).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Load(ref ushort p, nint i, Vector512<float> bound, Vector512<float> magnitude, Vector512<float> fields, out Vector512<float> even, out Vector512<float> odd)
    {
        Vector512<int> v = Vector512.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        // Magnitudes are at most 0x7FFF, so the signed 16-bit compare is exact.
        if (Vector512.GreaterThanAny(v.AsInt16() & magnitude.AsInt16(), bound.AsInt16()))
        {
            even = odd = default;
            return false;
        }
        even = (((v << 16) >> 3) & fields.AsInt32()).AsSingle();
        odd = ((v >> 3) & fields.AsInt32()).AsSingle();
        return true;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector512<float> even, Vector512<float> odd, Vector512<float> lsb, Vector512<float> half, Vector512<float> up, Vector512<float> low, Vector512<float> sign, Vector512<float> word)
    {
        // Round to nearest even at bit 13: add 0xFFF, or 0x1000 where bit 13 is set (a masked add). The exponent field is the
        // Half's already (a float subnormal gives a Half subnormal, a carry out of the mantissa a bumped exponent) and bits
        // 30..28 are zero, as |z * 2^112| < 65520.
        Vector512<uint> ue = even.AsUInt32(), uo = odd.AsUInt32(), h = half.AsUInt32();
        ue = Vector512.ConditionalSelect(Vector512.Equals(ue & lsb.AsUInt32(), Vector512<uint>.Zero), ue + h, ue + up.AsUInt32());
        uo = Vector512.ConditionalSelect(Vector512.Equals(uo & lsb.AsUInt32(), Vector512<uint>.Zero), uo + h, uo + up.AsUInt32());
        // Even element to bits 15..0 (sign from bit 31, the rest from bits 27..13), odd to bits 31..16 (sign in place).
        Vector512<uint> l = Vector512.ConditionalSelect(low.AsUInt32(), ue >> 13, ue >> 16);
        Vector512<uint> u = Vector512.ConditionalSelect(sign.AsUInt32(), uo, uo << 3);
        Vector512.ConditionalSelect(word.AsUInt32(), l, u).StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
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
    public static Vector256<float> Bits(uint bits) => Vector256.Create(bits).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Load(ref ushort p, nint i, Vector256<float> bound, Vector256<float> magnitude, Vector256<float> fields, out Vector256<float> even, out Vector256<float> odd)
    {
        Vector256<int> v = Vector256.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        // Magnitudes are at most 0x7FFF, so the signed 16-bit compare is exact.
        if (Vector256.GreaterThanAny(v.AsInt16() & magnitude.AsInt16(), bound.AsInt16()))
        {
            even = odd = default;
            return false;
        }
        even = (((v << 16) >> 3) & fields.AsInt32()).AsSingle();
        odd = ((v >> 3) & fields.AsInt32()).AsSingle();
        return true;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector256<float> even, Vector256<float> odd, Vector256<float> lsb, Vector256<float> half, Vector256<float> up, Vector256<float> low, Vector256<float> sign, Vector256<float> word)
    {
        // Round to nearest even at bit 13: add 0xFFF and bit 13. The exponent field is the Half's already (a float subnormal
        // gives a Half subnormal, a carry out of the mantissa a bumped exponent) and bits 30..28 are zero, as |z * 2^112| < 65520.
        Vector256<uint> ue = even.AsUInt32(), uo = odd.AsUInt32(), h = half.AsUInt32();
        ue += ((ue & lsb.AsUInt32()) >> 13) + h;
        uo += ((uo & lsb.AsUInt32()) >> 13) + h;
        // Even element to bits 15..0 (sign from bit 31, the rest from bits 27..13), odd to bits 31..16 (sign in place).
        Vector256<uint> l = Vector256.ConditionalSelect(low.AsUInt32(), ue >> 13, ue >> 16);
        Vector256<uint> u = Vector256.ConditionalSelect(sign.AsUInt32(), uo, uo << 3);
        Vector256.ConditionalSelect(word.AsUInt32(), l, u).StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
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
    public static Vector128<float> Bits(uint bits) => Vector128.Create(bits).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Load(ref ushort p, nint i, Vector128<float> bound, Vector128<float> magnitude, Vector128<float> fields, out Vector128<float> even, out Vector128<float> odd)
    {
        Vector128<int> v = Vector128.LoadUnsafe(ref Unsafe.As<ushort, int>(ref Unsafe.Add(ref p, i)));
        // Magnitudes are at most 0x7FFF, so the signed 16-bit compare is exact.
        if (Vector128.GreaterThanAny(v.AsInt16() & magnitude.AsInt16(), bound.AsInt16()))
        {
            even = odd = default;
            return false;
        }
        even = (((v << 16) >> 3) & fields.AsInt32()).AsSingle();
        odd = ((v >> 3) & fields.AsInt32()).AsSingle();
        return true;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ushort p, nint i, Vector128<float> even, Vector128<float> odd, Vector128<float> lsb, Vector128<float> half, Vector128<float> up, Vector128<float> low, Vector128<float> sign, Vector128<float> word)
    {
        // Round to nearest even at bit 13: add 0xFFF and bit 13. The exponent field is the Half's already (a float subnormal
        // gives a Half subnormal, a carry out of the mantissa a bumped exponent) and bits 30..28 are zero, as |z * 2^112| < 65520.
        Vector128<uint> ue = even.AsUInt32(), uo = odd.AsUInt32(), h = half.AsUInt32();
        ue += ((ue & lsb.AsUInt32()) >> 13) + h;
        uo += ((uo & lsb.AsUInt32()) >> 13) + h;
        // Even element to bits 15..0 (sign from bit 31, the rest from bits 27..13), odd to bits 31..16 (sign in place).
        Vector128<uint> l = Vector128.ConditionalSelect(low.AsUInt32(), ue >> 13, ue >> 16);
        Vector128<uint> u = Vector128.ConditionalSelect(sign.AsUInt32(), uo, uo << 3);
        Vector128.ConditionalSelect(word.AsUInt32(), l, u).StoreUnsafe(ref Unsafe.As<ushort, uint>(ref Unsafe.Add(ref p, i)));
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
}

/// <summary>
/// Half storage, float arithmetic, for the one normalization that is elementwise given its statistics: a layer with
/// running statistics in inference (BatchNorm in eval mode) whose statistics and parameters share one kept axis K. The
/// tensor is [outer, K, inner]; each element becomes <c>x * a[k] + b[k]</c> with <c>a = gamma / sqrt(var + eps)</c> and
/// <c>b = beta - mean * a</c> folded once per call in double and rounded to float (the float kernels keep <c>(x - mean) * a</c>
/// for offset data; a Half input carries 13 bits less than the float arithmetic, so the folded form loses nothing that
/// shows after rounding to Half). Reads 2 bytes and writes 2 bytes per element, converted in registers: no float copy of
/// the tensor.
/// <para>The vector steps work on x * 2^-112 (<see cref="IHalfLanes{TV}"/>): the Half's bits are the float's once shifted,
/// <c>z = x' * a + b * 2^-112</c> is y * 2^-112, and its bits rounded at bit 13 are y's Half bits, subnormals included, so
/// neither conversion rebiases or handles a special case. A step whose input holds a value beyond the run's bound (where
/// <c>|x * a + b|</c> could pass 65504: overflow, or infinity and NaN in the input) runs element by element instead.</para>
/// <para>In place (output = input) is safe on every path: each element is read before it is written, and a step's fallback
/// reads and writes one element at a time.</para>
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class HalfAffine
{
    /// <summary>The one kept axis of a layer whose inference is elementwise (running statistics, every other axis reduced,
    /// no groups, parameters per channel on that axis or none), or -1.</summary>
    public static int KeptAxis(LayerShape shape) => shape.RunningStatistics ? OneKeptAxis(shape) : -1;

    /// <summary>The one kept axis of a layer whose statistics and parameters all sit on it (every other axis reduced, no
    /// groups, parameters per channel on that axis or none), or -1: <see cref="LayerShape.OneKeptAxis"/>, found once per
    /// layer type (calls ask it before choosing a driver).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int OneKeptAxis(LayerShape shape) => shape.OneKeptAxis;

    /// <summary>The tensor as [outer, kept, inner] around the kept axis of <see cref="OneKeptAxis"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Split(LayerShape shape, ReadOnlySpan<int> dims, out long outer, out int kept, out long inner)
    {
        int axis = OneKeptAxis(shape);
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

    /// <summary>2^-112: a float times this has the bits of the Half of the same value shifted up 13 (see <see cref="IHalfLanes{TV}"/>).</summary>
    private const float Down = 1.92592994e-34f;

    /// <summary>
    /// Folds the coefficients (mean, variance, weight, bias per kept index; an empty weight means no affine) and applies them.
    /// <paramref name="centered"/>: subtract the mean (false for root-mean-square kinds, whose "variance" is the mean square).
    /// Returns the path that ran. The caller has checked every argument.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static KernelPath Run(ReadOnlySpan<Half> input, Span<Half> output, long outer, int kept, long inner,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double epsilon, bool centered)
    {
        long period = kept * inner;
        bool rows = inner < ShortRun && period <= ExpandedLimit;
        // Rows: the coefficients expanded along `repeat` periods of [K, inner] (the pattern repeats every period), one row per
        // `repeat` outer indices (the last one shorter); otherwise one run per (outer, k) of inner elements.
        long repeat = rows ? Math.Min(outer, RowRepeat(period)) : 1;
        long runs = rows ? (outer + repeat - 1) / repeat : outer * kept;
        long runLength = rows ? period * repeat : inner;
        KernelPath path = HalfConvert.PathFor((nint)Math.Min(rows ? period * Math.Min(outer, repeat) : inner, int.MaxValue));
        int coefficients = rows ? (int)runLength : kept;
        float[] rented = ArrayPool<float>.Shared.Rent(4 * coefficients);
        try
        {
            // a, b: element order, unscaled (tails and fallback steps). Runs: laneA = b * 2^-112, laneB = the bound's bits in
            // both halves of the float's 32 bits (never read as a number) per k. Rows: laneA, laneB = a and b * 2^-112 in the lanes' order, one bound for the row.
            Span<float> a = rented.AsSpan(0, coefficients), b = rented.AsSpan(coefficients, coefficients);
            Span<float> laneA = rented.AsSpan(2 * coefficients, coefficients), laneB = rented.AsSpan(3 * coefficients, coefficients);
            double rowBound = double.PositiveInfinity;
            for (int k = 0; k < kept; k++)
            {
                double scale = (weight.IsEmpty ? 1d : weight[k]) / Math.Sqrt(variance[k] + epsilon);
                double shift = (bias.IsEmpty ? 0d : bias[k]) - (centered ? mean[k] : 0d) * scale;
                double bound = Bound((float)scale, (float)shift);
                if (!rows)
                {
                    a[k] = (float)scale; b[k] = (float)shift;
                    laneA[k] = b[k] * Down; laneB[k] = BitConverter.UInt32BitsToSingle(Pair(BoundBits(bound)));
                    continue;
                }
                rowBound = Math.Min(rowBound, bound);
                // The inlined fill, not Span.Fill (its generic helper can stay at the JIT's tier 0 for seconds: see Backward.Terms).
                ExpandedInference<StandardizeNorm, float>.Fill(ref a[(int)(k * inner)], (nint)inner, (float)scale);
                ExpandedInference<StandardizeNorm, float>.Fill(ref b[(int)(k * inner)], (nint)inner, (float)shift);
            }
            if (rows)
            {
                for (long r = 1; r < repeat; r++)
                {
                    a[..(int)period].CopyTo(a.Slice((int)(r * period)));
                    b[..(int)period].CopyTo(b.Slice((int)(r * period)));
                }
                a.CopyTo(laneA);
                for (int j = 0; j < b.Length; j++) laneB[j] = b[j] * Down;
                int lanes = path switch { KernelPath.Vector512 => 16, KernelPath.Vector256 => 8, KernelPath.Vector128 => 4, _ => 0 };
                if (lanes > 0) { Deinterleave(laneA, 2 * lanes); Deinterleave(laneB, 2 * lanes); }
            }
            long runsPerUnit = Math.Max(1, UnitElements / Math.Max(1, runLength));
            int units = (int)Math.Min(int.MaxValue, (runs + runsPerUnit - 1) / runsPerUnit);
            var body = new Body(path, rows, kept, period, runLength, runs, runsPerUnit, input.Length, BoundBits(rowBound), !input.Overlaps(output));
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

    /// <summary>The largest Half magnitude x with |x * a| + |b| at most 65504, so that the float x * a + b rounds to a finite
    /// Half (the rounding to float adds far less than the 16 up to 65520), capped at 65504; 0 when no input is safe (|b| above
    /// 65504, or a NaN coefficient).</summary>
    private static double Bound(float a, float b)
    {
        double room = 65504d - Math.Abs((double)b);
        if (!(room >= 0)) return 0;
        double bound = Math.Abs((double)a) == 0 ? 65504d : Math.Min(65504d, room / Math.Abs((double)a));
        return double.IsNaN(bound) ? 0 : bound;
    }

    /// <summary>The bits of the largest Half at most <paramref name="bound"/> (at most 0x7BFF, 65504).</summary>
    private static ushort BoundBits(double bound)
    {
        if (!(bound > 0)) return 0;
        if (bound >= 65504d) return 0x7BFF;
        ushort bits = BitConverter.HalfToUInt16Bits((Half)bound);
        return (double)BitConverter.UInt16BitsToHalf(bits) > bound ? (ushort)(bits - 1) : bits;
    }

    /// <summary>Elements a row of expanded coefficients covers at most when a period is shorter (channels last: a few rows of C
    /// per row). Small, so the coefficients (8 bytes per element, twice) stay in L1: rows of 4096 read 64 KB of coefficients per
    /// 8 KB of Half data, and NHWC S1 ran 1.5x slower.</summary>
    private const long RowElements = 512;

    /// <summary>Periods per row: about <see cref="RowElements"/> elements, rounded up so that a row is a whole number of the
    /// widest step (32 Half values) where that stays within <see cref="ExpandedLimit"/>; then the vector steps run across
    /// the rows of a unit without stopping at each row's end.</summary>
    private static long RowRepeat(long period)
    {
        long repeat = Math.Max(1, RowElements / period), whole = 32 / (long)System.Numerics.BigInteger.GreatestCommonDivisor(period, 32);
        return period * whole <= ExpandedLimit ? (repeat + whole - 1) / whole * whole : repeat;
    }

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

    private readonly struct Body(KernelPath path, bool rows, int kept, long period, long runLength, long runs, long runsPerUnit, long total, ushort rowBound, bool apart) : IParallelBody
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
            if (rows)
            {
                nint o = (nint)(first * runLength);
                Rows<TH, TV>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)(Math.Min(last * runLength, total) - o), (nint)runLength, (nint)period, ref a, ref b, ref laneA, ref laneB, rowBound);
                return;
            }
            nint o0 = (nint)(first * runLength), count = (nint)(last - first), length = (nint)runLength, k0 = (nint)(first % kept);
            var constants = HalfConstants<TV>.For<TH>(0);
            ref ushort xu = ref Unsafe.Add(ref x, o0), yu = ref Unsafe.Add(ref y, o0);
            int step = 2 * TH.Count;
            nint i = 0, end = count * length;
            while ((i = RunSteps<TH, TV>(ref xu, ref yu, i, count, length, k0, kept, ref a, ref laneA, ref laneB, apart, constants)) < end)
            {
                // A step with a value beyond the bound, or a run's tail: element by element, up to the step's or the run's end.
                nint r = i / length, j = i - r * length, k = (k0 + r) % kept;
                nint stop = r * length + Math.Min(length, j + step <= length ? j + step : length);
                Elements(ref xu, ref yu, i, stop, Unsafe.Add(ref a, k), Unsafe.Add(ref b, k));
                i = stop;
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

    /// <summary>Both 16-bit halves of a lane <paramref name="bits"/>.</summary>
    private static uint Pair(ushort bits) => bits | (uint)bits << 16;

    /// <summary>
    /// Vector steps over <paramref name="count"/> runs of <paramref name="length"/> elements from element <paramref name="i"/>
    /// (run r has kept index (<paramref name="k0"/> + r) mod <paramref name="kept"/>, coefficient a[k], b[k] * 2^-112 in
    /// <paramref name="scaledB"/>, the bound's bits in <paramref name="bounds"/>), while every input is within the bound;
    /// returns where it stopped: the end, a step to do element by element, or a run's tail shorter than a step. With the
    /// output apart from the input (<paramref name="apart"/>), a tail is one more step ending at the run's end, over
    /// elements already written (recomputed from the input, the same bits). No call inside: the constants stay in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint RunSteps<TH, TV>(ref ushort x, ref ushort y, nint i, nint count, nint length, nint k0, nint kept,
        ref float a, ref float scaledB, ref float bounds, bool apart, in HalfConstants<TV> constants)
        where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int step = 2 * TH.Count;
        TV magnitude = constants.Magnitude, fields = constants.Fields, lsb = constants.Lsb, half = constants.Half, up = constants.Up;
        TV low = constants.Low, sign = constants.Sign, word = constants.Word;
        nint r = i / length, j = i - r * length, k = (k0 + r) % kept;
        for (; r < count; r++, j = 0, k = k + 1 == kept ? 0 : k + 1)
        {
            TV va = TH.Splat(Unsafe.Add(ref a, k)), vb = TH.Splat(Unsafe.Add(ref scaledB, k));
            TV bound = TH.Bits(BitConverter.SingleToUInt32Bits(Unsafe.Add(ref bounds, k)));
            ref ushort xr = ref Unsafe.Add(ref x, r * length), yr = ref Unsafe.Add(ref y, r * length);
            for (; j + step <= length; j += step)
            {
                if (!TH.Load(ref xr, j, bound, magnitude, fields, out TV even, out TV odd)) return r * length + j;
                TH.Store(ref yr, j, TH.Affine(even, va, vb), TH.Affine(odd, va, vb), lsb, half, up, low, sign, word);
            }
            if (j == length) continue;
            nint t = length - step;
            if (!apart || t < 0 || !TH.Load(ref xr, t, bound, magnitude, fields, out TV e, out TV o)) return r * length + j;
            TH.Store(ref yr, t, TH.Affine(e, va, vb), TH.Affine(o, va, vb), lsb, half, up, low, sign, word);
        }
        return count * length;
    }

    /// <summary>Elements [<paramref name="from"/>, <paramref name="to"/>) of a run one at a time, through the BCL's conversions.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Elements(ref ushort x, ref ushort y, nint from, nint to, float a, float b)
    {
        for (nint i = from; i < to; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) = (Half)((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) * a + b);
    }

    /// <summary>Elements [<paramref name="from"/>, <paramref name="to"/>) of a row one at a time (element-order coefficients).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Elements(ref ushort x, ref ushort y, nint from, nint to, ref float a, ref float b)
    {
        for (nint i = from; i < to; i++)
            Unsafe.As<ushort, Half>(ref Unsafe.Add(ref y, i)) =
                (Half)((float)Unsafe.As<ushort, Half>(ref Unsafe.Add(ref x, i)) * Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i));
    }

    /// <summary>Whole rows (the last one possibly shorter) of <paramref name="length"/> elements in all, whose coefficients
    /// repeat every <paramref name="rowLength"/> elements: each vector step's from the lane-ordered copies (a, b * 2^-112), the
    /// rows' tails (when a row is not a whole number of steps) and fallback steps' from the element-ordered ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows<TH, TV>(ref ushort x, ref ushort y, nint length, nint rowLength, nint period, ref float a, ref float b, ref float laneA, ref float laneB, ushort bound)
        where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int step = 2 * TH.Count;
        nint i = 0;
        var k = HalfConstants<TV>.For<TH>(bound);
        bool pairs = rowLength % (2 * step) == 0 && 2 * step % period == 0;
        while ((i = pairs ? PairSteps<TH, TV>(ref x, ref y, i, length, ref laneA, ref laneB, k)
                          : RowSteps<TH, TV>(ref x, ref y, i, length, rowLength, ref laneA, ref laneB, k)) < length)
        {
            // A step with a value beyond the bound, or a row's tail: element by element, up to the step's or the row's end.
            nint c = i % rowLength, row = i - c;
            nint stop = Math.Min(length, i + Math.Min(step, rowLength - c));
            Elements(ref Unsafe.Add(ref x, row), ref Unsafe.Add(ref y, row), c, c + (stop - i), ref a, ref b);
            i = stop;
        }
    }

    /// <summary>Vector steps from <paramref name="i"/> (a multiple of the step) when the coefficients repeat every two steps
    /// (a period dividing 2 x 2 x Count: channels last with C up to 64 on the 512-bit path) and a row is a whole number of
    /// step pairs: the two steps' coefficients stay in registers instead of four loads a step. Returns where it stopped, as
    /// <see cref="RowSteps"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint PairSteps<TH, TV>(ref ushort x, ref ushort y, nint i, nint length, ref float laneA, ref float laneB, in HalfConstants<TV> k)
        where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int w = TH.Count, step = 2 * w;
        TV bound = k.Bound, magnitude = k.Magnitude, fields = k.Fields, lsb = k.Lsb, half = k.Half, up = k.Up, low = k.Low, sign = k.Sign, word = k.Word;
        TV a0 = TH.LoadFloat(ref laneA, 0), a1 = TH.LoadFloat(ref laneA, w), b0 = TH.LoadFloat(ref laneB, 0), b1 = TH.LoadFloat(ref laneB, w);
        TV a2 = TH.LoadFloat(ref laneA, step), a3 = TH.LoadFloat(ref laneA, step + w), b2 = TH.LoadFloat(ref laneB, step), b3 = TH.LoadFloat(ref laneB, step + w);
        TV even, odd;
        if ((i / step & 1) != 0 && i + step <= length)
        {
            if (!TH.Load(ref x, i, bound, magnitude, fields, out even, out odd)) return i;
            TH.Store(ref y, i, TH.Affine(even, a2, b2), TH.Affine(odd, a3, b3), lsb, half, up, low, sign, word);
            i += step;
        }
        for (; i + 2 * step <= length; i += 2 * step)
        {
            if (!TH.Load(ref x, i, bound, magnitude, fields, out even, out odd)) return i;
            TH.Store(ref y, i, TH.Affine(even, a0, b0), TH.Affine(odd, a1, b1), lsb, half, up, low, sign, word);
            if (!TH.Load(ref x, i + step, bound, magnitude, fields, out even, out odd)) return i + step;
            TH.Store(ref y, i + step, TH.Affine(even, a2, b2), TH.Affine(odd, a3, b3), lsb, half, up, low, sign, word);
        }
        if (i + step <= length)
        {
            if (!TH.Load(ref x, i, bound, magnitude, fields, out even, out odd)) return i;
            TH.Store(ref y, i, TH.Affine(even, a0, b0), TH.Affine(odd, a1, b1), lsb, half, up, low, sign, word);
            i += step;
        }
        return i;
    }

    /// <summary>Vector steps from <paramref name="i"/> (a step never crosses a row's end) while every input is within the
    /// bound; returns where it stopped: <paramref name="length"/>, a row's tail shorter than a step, or a step to do element by element.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint RowSteps<TH, TV>(ref ushort x, ref ushort y, nint i, nint length, nint rowLength, ref float laneA, ref float laneB, in HalfConstants<TV> k)
        where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int w = TH.Count, step = 2 * w;
        TV bound = k.Bound, magnitude = k.Magnitude, fields = k.Fields, lsb = k.Lsb, half = k.Half, up = k.Up, low = k.Low, sign = k.Sign, word = k.Word;
        nint c = i % rowLength;
        for (; i + step <= length; i += step)
        {
            if (c + step > rowLength || !TH.Load(ref x, i, bound, magnitude, fields, out TV even, out TV odd)) break;
            TH.Store(ref y, i, TH.Affine(even, TH.LoadFloat(ref laneA, c), TH.LoadFloat(ref laneB, c)),
                TH.Affine(odd, TH.LoadFloat(ref laneA, c + w), TH.LoadFloat(ref laneB, c + w)), lsb, half, up, low, sign, word);
            c += step;
            if (c == rowLength) c = 0;
        }
        return i;
    }
}
