using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>
/// Half (IEEE binary16) to float and back, vectorized with integer bit manipulation: .NET 10 exposes no F16C or
/// AVX512-FP16 conversion intrinsic, so the vector paths rebias the exponent and move the mantissa with shifts, adds and
/// selects (the technique TensorPrimitives' <c>ConvertToSingle</c>/<c>ConvertToHalf</c> use; written here from the
/// binary16 format). Both directions are exact: Half to float loses nothing, float to Half rounds to nearest even with
/// overflow to infinity, subnormals and signed zeros as IEEE 754 says, the same bits as <c>(float)h</c> and <c>(Half)f</c>
/// (a NaN stays a NaN of its sign; its payload becomes the quiet NaN 0x7E00).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class HalfConvert
{
    // Half to float: exponent and mantissa moved into place ((h << 13) & 0x0FFFE000), then one multiply by 2^112 rebiases the
    // exponent (127 - 15) and normalizes a subnormal half (a subnormal float times a power of two: exact); an all-ones half
    // exponent (infinity, NaN) becomes the float's, the payload kept; the sign is the sign-extended half's top bit.
    private const int HalfExponentMantissa = 0x0FFFE000;
    private const int HalfInfinityInPlace = 0x0F800000;
    private const int FloatInfinity = 0x7F800000;
    private const int Scale112 = (127 + 112) << 23;               // 2^112 as float bits
    // Float to Half, round to nearest even on the bits (x + HalfRound + odd) >> 13 for results that are normal halves; the
    // rest (zero, subnormal, overflow, infinity, NaN) through the full path only when a vector holds one.
    private const uint HalfRound = 0xC8000FFFu;                   // ((15 - 127) << 23) + 0xFFF: rebias plus half an ulp minus one (wraps, on purpose)
    private const uint HalfMinNormal = 113u << 23;                // 2^-14: below, a subnormal Half
    private const uint HalfOverflow = (127u + 16u) << 23;         // 65536.0f: at or above, infinity (NaN stays NaN)
    private const uint SubnormalAdd = 126u << 23;                 // 0.5f: adding it rounds to a multiple of 2^-24

    // ------------------------------------------------------------------ one vector of 32-bit lanes holding sign-extended Half bits

    /// <summary>Float lanes from Half bits sign-extended to 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingle(Vector512<int> h)
    {
        Vector512<int> o = (h << 13) & Vector512.Create(HalfExponentMantissa);
        Vector512<float> f = o.AsSingle() * Vector512.Create(Scale112).AsSingle();
        Vector512<int> special = Vector512.GreaterThanOrEqual(o, Vector512.Create(HalfInfinityInPlace));
        Vector512<int> bits = Vector512.ConditionalSelect(special, f.AsInt32() | Vector512.Create(FloatInfinity), f.AsInt32());
        return (bits | (h & Vector512.Create(int.MinValue))).AsSingle();
    }

    /// <inheritdoc cref="ToSingle(Vector512{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<int> h)
    {
        Vector256<int> o = (h << 13) & Vector256.Create(HalfExponentMantissa);
        Vector256<float> f = o.AsSingle() * Vector256.Create(Scale112).AsSingle();
        Vector256<int> special = Vector256.GreaterThan(o, Vector256.Create(HalfInfinityInPlace - 1));
        return (f.AsInt32() | (special & Vector256.Create(FloatInfinity)) | (h & Vector256.Create(int.MinValue))).AsSingle();
    }

    /// <inheritdoc cref="ToSingle(Vector512{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToSingle(Vector128<int> h)
    {
        Vector128<int> o = (h << 13) & Vector128.Create(HalfExponentMantissa);
        Vector128<float> f = o.AsSingle() * Vector128.Create(Scale112).AsSingle();
        Vector128<int> special = Vector128.GreaterThan(o, Vector128.Create(HalfInfinityInPlace - 1));
        return (f.AsInt32() | (special & Vector128.Create(FloatInfinity)) | (h & Vector128.Create(int.MinValue))).AsSingle();
    }

    /// <summary>Half bits (in the low 16 bits of each 32-bit lane; the high bits are not specified) from float lanes, rounded to
    /// nearest even. Narrow with truncation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> ToHalfBits(Vector512<float> x)
    {
        Vector512<uint> u = x.AsUInt32();
        // Normal results: the sign rides along above bit 15 and is put back by the select below.
        Vector512<uint> normal = (u + Vector512.Create(HalfRound) + ((u >> 13) & Vector512.Create(1u))) >> 13;
        Vector512<uint> o = Vector512.ConditionalSelect(Vector512.Create(0x7FFFu), normal, u >> 16);
        Vector512<uint> offset = (u << 1) - Vector512.Create(HalfMinNormal << 1);
        if (Vector512.GreaterThanOrEqualAny(offset, Vector512.Create((HalfOverflow - HalfMinNormal) << 1))) o = Special(u, o);
        return o;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<uint> Special(Vector512<uint> u, Vector512<uint> o)
        {
            Vector512<uint> sign = u & Vector512.Create(0x80000000u), f = u ^ sign;
            Vector512<int> magnitude = f.AsInt32(); // non-negative: signed compares are exact
            Vector512<uint> big = Vector512.ConditionalSelect(Vector512.GreaterThan(magnitude, Vector512.Create(FloatInfinity)).AsUInt32(),
                Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
            Vector512<uint> small = (f.AsSingle() + Vector512.Create(SubnormalAdd).AsSingle()).AsUInt32() - Vector512.Create(SubnormalAdd);
            o = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create((int)HalfMinNormal)).AsUInt32(), small | (sign >> 16), o);
            return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(magnitude, Vector512.Create((int)HalfOverflow)).AsUInt32(), big | (sign >> 16), o);
        }
    }

    /// <inheritdoc cref="ToHalfBits(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> ToHalfBits(Vector256<float> x)
    {
        Vector256<uint> u = x.AsUInt32();
        Vector256<uint> normal = (u + Vector256.Create(HalfRound) + ((u >> 13) & Vector256.Create(1u))) >> 13;
        Vector256<uint> o = Vector256.ConditionalSelect(Vector256.Create(0x7FFFu), normal, u >> 16);
        Vector256<uint> offset = (u << 1) - Vector256.Create(HalfMinNormal << 1);
        if (Vector256.GreaterThanOrEqualAny(offset, Vector256.Create((HalfOverflow - HalfMinNormal) << 1))) o = Special(u, o);
        return o;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<uint> Special(Vector256<uint> u, Vector256<uint> o)
        {
            Vector256<uint> sign = u & Vector256.Create(0x80000000u), f = u ^ sign;
            Vector256<int> magnitude = f.AsInt32();
            Vector256<uint> big = Vector256.ConditionalSelect(Vector256.GreaterThan(magnitude, Vector256.Create(FloatInfinity)).AsUInt32(),
                Vector256.Create(0x7E00u), Vector256.Create(0x7C00u));
            Vector256<uint> small = (f.AsSingle() + Vector256.Create(SubnormalAdd).AsSingle()).AsUInt32() - Vector256.Create(SubnormalAdd);
            o = Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create((int)HalfMinNormal)).AsUInt32(), small | (sign >> 16), o);
            return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create((int)HalfOverflow)).AsUInt32(), big | (sign >> 16), o);
        }
    }

    /// <inheritdoc cref="ToHalfBits(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> ToHalfBits(Vector128<float> x)
    {
        Vector128<uint> u = x.AsUInt32();
        Vector128<uint> normal = (u + Vector128.Create(HalfRound) + ((u >> 13) & Vector128.Create(1u))) >> 13;
        Vector128<uint> o = Vector128.ConditionalSelect(Vector128.Create(0x7FFFu), normal, u >> 16);
        Vector128<uint> offset = (u << 1) - Vector128.Create(HalfMinNormal << 1);
        if (Vector128.GreaterThanOrEqualAny(offset, Vector128.Create((HalfOverflow - HalfMinNormal) << 1))) o = Special(u, o);
        return o;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector128<uint> Special(Vector128<uint> u, Vector128<uint> o)
        {
            Vector128<uint> sign = u & Vector128.Create(0x80000000u), f = u ^ sign;
            Vector128<int> magnitude = f.AsInt32();
            Vector128<uint> big = Vector128.ConditionalSelect(Vector128.GreaterThan(magnitude, Vector128.Create(FloatInfinity)).AsUInt32(),
                Vector128.Create(0x7E00u), Vector128.Create(0x7C00u));
            Vector128<uint> small = (f.AsSingle() + Vector128.Create(SubnormalAdd).AsSingle()).AsUInt32() - Vector128.Create(SubnormalAdd);
            o = Vector128.ConditionalSelect(Vector128.LessThan(magnitude, Vector128.Create((int)HalfMinNormal)).AsUInt32(), small | (sign >> 16), o);
            return Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(magnitude, Vector128.Create((int)HalfOverflow)).AsUInt32(), big | (sign >> 16), o);
        }
    }

    // ------------------------------------------------------------------ spans

    /// <summary>The path a conversion of runs of <paramref name="length"/> elements takes (whole vectors of Half: 2 float vectors).</summary>
    public static KernelPath PathFor(nint length)
    {
        if (Isa.Has512 && length >= 2 * Vector512<float>.Count) return KernelPath.Vector512;
        if (Isa.Has256 && length >= 2 * Vector256<float>.Count) return KernelPath.Vector256;
        if (Isa.Has128 && length >= 2 * Vector128<float>.Count) return KernelPath.Vector128;
        return KernelPath.Scalar;
    }

    /// <summary>Widens <paramref name="length"/> Half values at <paramref name="source"/> to float at <paramref name="destination"/>
    /// (which must not partly overlap the source) on <paramref name="path"/>. Returns the path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static KernelPath ToSingle(ref Half source, ref float destination, nint length, KernelPath path)
    {
        ref short s = ref Unsafe.As<Half, short>(ref source);
        nint i = 0;
        if (path == KernelPath.Vector512)
        {
            for (; i + Vector512<ushort>.Count <= length; i += Vector512<ushort>.Count)
            {
                (Vector512<int> lo, Vector512<int> hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
                ToSingle(lo).StoreUnsafe(ref destination, (nuint)i);
                ToSingle(hi).StoreUnsafe(ref destination, (nuint)(i + Vector512<float>.Count));
            }
        }
        else if (path == KernelPath.Vector256)
        {
            for (; i + Vector256<ushort>.Count <= length; i += Vector256<ushort>.Count)
            {
                (Vector256<int> lo, Vector256<int> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                ToSingle(lo).StoreUnsafe(ref destination, (nuint)i);
                ToSingle(hi).StoreUnsafe(ref destination, (nuint)(i + Vector256<float>.Count));
            }
        }
        else if (path == KernelPath.Vector128)
        {
            for (; i + Vector128<ushort>.Count <= length; i += Vector128<ushort>.Count)
            {
                (Vector128<int> lo, Vector128<int> hi) = Vector128.Widen(Vector128.LoadUnsafe(ref s, (nuint)i));
                ToSingle(lo).StoreUnsafe(ref destination, (nuint)i);
                ToSingle(hi).StoreUnsafe(ref destination, (nuint)(i + Vector128<float>.Count));
            }
        }
        for (; i < length; i++) Unsafe.Add(ref destination, i) = (float)Unsafe.Add(ref source, i);
        return path;
    }

    /// <summary>Rounds <paramref name="length"/> floats at <paramref name="source"/> to Half at <paramref name="destination"/>
    /// (nearest even) on <paramref name="path"/>. Returns the path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static KernelPath ToHalf(ref float source, ref Half destination, nint length, KernelPath path)
    {
        ref ushort d = ref Unsafe.As<Half, ushort>(ref destination);
        nint i = 0;
        if (path == KernelPath.Vector512)
        {
            for (; i + Vector512<ushort>.Count <= length; i += Vector512<ushort>.Count)
            {
                Vector512<uint> lo = ToHalfBits(Vector512.LoadUnsafe(ref source, (nuint)i));
                Vector512<uint> hi = ToHalfBits(Vector512.LoadUnsafe(ref source, (nuint)(i + Vector512<float>.Count)));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        else if (path == KernelPath.Vector256)
        {
            for (; i + Vector256<ushort>.Count <= length; i += Vector256<ushort>.Count)
            {
                Vector256<uint> lo = ToHalfBits(Vector256.LoadUnsafe(ref source, (nuint)i));
                Vector256<uint> hi = ToHalfBits(Vector256.LoadUnsafe(ref source, (nuint)(i + Vector256<float>.Count)));
                Vector256.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        else if (path == KernelPath.Vector128)
        {
            for (; i + Vector128<ushort>.Count <= length; i += Vector128<ushort>.Count)
            {
                Vector128<uint> lo = ToHalfBits(Vector128.LoadUnsafe(ref source, (nuint)i));
                Vector128<uint> hi = ToHalfBits(Vector128.LoadUnsafe(ref source, (nuint)(i + Vector128<float>.Count)));
                Vector128.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < length; i++) Unsafe.Add(ref destination, i) = (Half)Unsafe.Add(ref source, i);
        return path;
    }

    /// <summary>Widens <paramref name="source"/> into <paramref name="destination"/> (same length), split over the kernels'
    /// threads for large spans. Returns the path.</summary>
    public static KernelPath ToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException("The destination must have the source's length.", nameof(destination));
        KernelPath path = PathFor(source.Length);
        int units = Units(source.Length);
        if (units <= 1)
            return ToSingle(ref MemoryMarshal.GetReference(source), ref MemoryMarshal.GetReference(destination), source.Length, path);
        ParallelUnits.For(units, Parallelism.Workers(source.Length, units), new Converter(source.Length, path, widen: true),
            MemoryMarshal.AsBytes(source), MemoryMarshal.AsBytes(destination), default, default, default, default);
        return path;
    }

    /// <summary>Rounds <paramref name="source"/> into <paramref name="destination"/> (same length), split over the kernels'
    /// threads for large spans. Returns the path.</summary>
    public static KernelPath ToHalf(ReadOnlySpan<float> source, Span<Half> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException("The destination must have the source's length.", nameof(destination));
        KernelPath path = PathFor(source.Length);
        int units = Units(source.Length);
        if (units <= 1)
            return ToHalf(ref MemoryMarshal.GetReference(source), ref MemoryMarshal.GetReference(destination), source.Length, path);
        ParallelUnits.For(units, Parallelism.Workers(source.Length, units), new Converter(source.Length, path, widen: false),
            MemoryMarshal.AsBytes(source), MemoryMarshal.AsBytes(destination), default, default, default, default);
        return path;
    }

    /// <summary>Elements per parallel unit of a conversion.</summary>
    private const int UnitElements = 1 << 16;

    private static int Units(int length) => (int)(((long)length + UnitElements - 1) / UnitElements);

    private readonly struct Converter(nint length, KernelPath path, bool widen) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            nint start = (nint)unit * UnitElements;
            nint count = Math.Min(UnitElements, length - start);
            if (widen) ToSingle(ref Unsafe.Add(ref ParallelUnits.At<Half>(spans.S0), start), ref Unsafe.Add(ref ParallelUnits.At<float>(spans.S1), start), count, path);
            else ToHalf(ref Unsafe.Add(ref ParallelUnits.At<float>(spans.S0), start), ref Unsafe.Add(ref ParallelUnits.At<Half>(spans.S1), start), count, path);
        }
    }
}
