using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

// The members the fused activations (Epilogues.cs) need beyond the statistics and apply runs: maximum, clamp, absolute
// value, the exponential, and "a where v > 0, else 0" (ReLU's gradient). Vector paths use the portable
// Vector512/256/128 APIs; float's exponential is ExpFloat's (double's is the runtime's vectorized one); the scalar path
// uses Math(F). The activations divide (ISimd.Divide) rather than refine a hardware reciprocal estimate: the divider works
// beside the multiply-add pipes, which bound SiLU, while the estimate's Newton steps took two or four of their slots per
// vector (Zen 4, SiLU over 4,096 floats in L1, ns per 16 floats, alternating processes: 512-bit 5.0-5.6 -> 4.5-4.8,
// 256-bit 12.1-14.3 -> 9.2-10.6; GroupNorm NHWC + SiLU on S1 at 1 thread, AVX2 path 9.1-10.4 -> 6.4-7.6 ms), and a
// division is correctly rounded.

/// <summary>
/// e^v for float vectors, the constants every path shares: v clamped to [<see cref="Low"/>, <see cref="High"/>] (results
/// stay finite: about 1.2e-38 for anything below, 2.1e38 above), v = n ln2 + r with n = round(v log2 e) (by adding
/// <see cref="Shifter"/>: a multiply-add and a subtraction instead of a multiply and a rounding instruction) and ln2 in two
/// parts (r exact to float rounding, |r| &lt;= ln2 / 2), e^r by a degree-6 polynomial 1 + r + C2 r^2 + ... + C6 r^6 fitted
/// for relative error on that interval (3e-9; about 6e-8, one float ulp, evaluated in float with fused multiply-adds;
/// the path's multiply-add, so two roundings on an x86 CPU without FMA, still within the tests' 1.2e-7; Taylor's degree
/// 7 needed one term more for the same), then times 2^n: `vscalefps` where AVX-512 has it (one instruction
/// instead of a saturating conversion, its fix-up, an add, a shift and a multiply), else n + 127 in the exponent bits.
/// </summary>
internal static class ExpFloat
{
    internal const float Shifter = 12582912f, Low = -87.3f, High = 88.3f, Log2E = 1.44269504f, Ln2Hi = 0.693145752f, Ln2Lo = 1.42860677e-6f;
    internal const float C2 = 0.49999994f, C3 = 0.16666521f, C4 = 0.04166839f, C5 = 0.008368707f, C6 = 0.0013814602f;

    /// <summary>e^v on the path <typeparamref name="TS"/>; <typeparamref name="TScale"/> multiplies e^r by 2^n its way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Evaluate<TS, TV, TScale>(TV v) where TS : struct, ISimd<TV, float> where TV : struct where TScale : struct, IExpScale<TV>
    {
        v = TS.Clamp(v, TS.Splat(Low), TS.Splat(High));
        // n = round(v log2 e): adding 1.5 x 2^23 rounds to an integer (to nearest even) in the low mantissa bits, which
        // then also hold n + 127 shifted into the exponent (the constant's own bits shift out).
        TV t = TS.MultiplyAdd(v, TS.Splat(Log2E), TS.Splat(Shifter));
        TV n = TS.Subtract(t, TS.Splat(Shifter));
        TV r = TS.MultiplyAdd(n, TS.Splat(-Ln2Hi), v);
        r = TS.MultiplyAdd(n, TS.Splat(-Ln2Lo), r);
        if (TS.Count >= 16)
        {
            // Horner's scheme on 512-bit vectors: the unrolled apply has enough independent vectors to hide the chain, and
            // it has the fewest instructions (Estrin's measured the same: SiLU over 4,096 floats, 4.3 ns per 16 both).
            TV p = TS.MultiplyAdd(TS.Splat(C6), r, TS.Splat(C5));
            p = TS.MultiplyAdd(p, r, TS.Splat(C4));
            p = TS.MultiplyAdd(p, r, TS.Splat(C3));
            p = TS.MultiplyAdd(p, r, TS.Splat(C2));
            p = TS.MultiplyAdd(p, r, TS.Splat(1f));
            return TScale.Scale(TS.MultiplyAdd(p, r, TS.Splat(1f)), n, t);
        }
        // Estrin's scheme: pairs of terms in parallel, combined by r^2 (depth 4 instead of Horner's 6 dependent
        // multiply-adds; on the 256-bit path SiLU was bound by that chain: GroupNorm NHWC + SiLU on 2 MB 0.248 vs 0.270 ms).
        TV r2 = TS.Multiply(r, r);
        TV p23 = TS.MultiplyAdd(r, TS.Splat(C3), TS.Splat(C2));
        TV p456 = TS.MultiplyAdd(r2, TS.Splat(C6), TS.MultiplyAdd(r, TS.Splat(C5), TS.Splat(C4)));
        return TScale.Scale(TS.MultiplyAdd(TS.MultiplyAdd(p456, r2, p23), r2, TS.Add(r, TS.Splat(1f))), n, t);
    }
}

/// <summary>How a path multiplies e^r by 2^n in <see cref="ExpFloat"/>: from n (a float holding an integer) or from t (n + 127 in
/// its low mantissa bits).</summary>
internal interface IExpScale<TV>
{
    static abstract TV Scale(TV p, TV n, TV t);
}

/// <summary>512-bit: <c>vscalefps</c>.</summary>
internal readonly struct ExpScale512 : IExpScale<Vector512<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scale(Vector512<float> p, Vector512<float> n, Vector512<float> t) =>
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? System.Runtime.Intrinsics.X86.Avx512F.Scale(p, n) : p * ((t.AsInt32() + Vector512.Create(127)) << 23).AsSingle();
}

/// <summary>256-bit: <c>vscalefps</c> where AVX-512 is on, else the exponent bits.</summary>
internal readonly struct ExpScale256 : IExpScale<Vector256<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scale(Vector256<float> p, Vector256<float> n, Vector256<float> t) =>
        System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported ? System.Runtime.Intrinsics.X86.Avx512F.VL.Scale(p, n) : p * ((t.AsInt32() + Vector256.Create(127)) << 23).AsSingle();
}

/// <summary>128-bit: <c>vscalefps</c> where AVX-512 is on, else the exponent bits (ARM too).</summary>
internal readonly struct ExpScale128 : IExpScale<Vector128<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Scale(Vector128<float> p, Vector128<float> n, Vector128<float> t) =>
        System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported ? System.Runtime.Intrinsics.X86.Avx512F.VL.Scale(p, n) : p * ((t.AsInt32() + Vector128.Create(127)) << 23).AsSingle();
}

public partial interface ISimd<TV, T>
{
    /// <summary>The larger of each pair of lanes (<c>max(a, b)</c>; a NaN in <paramref name="a"/> stays NaN). One instruction:
    /// the hardware maximum with <paramref name="a"/> second (x86 returns the second operand when either is NaN; ARM's FMAX
    /// returns NaN), where the IEEE <c>Vector.Max</c> of two variables costs a range instruction and two fix-ups.</summary>
    static abstract TV Max(TV a, TV b);

    /// <summary>Every lane of <paramref name="v"/> clamped to [<paramref name="low"/>, <paramref name="high"/>] (the
    /// exponential's argument), a NaN kept, by the hardware maximum and minimum as <see cref="Max"/>.</summary>
    static abstract TV Clamp(TV v, TV low, TV high);

    /// <summary>The absolute value of every lane.</summary>
    static abstract TV Abs(TV v);

    /// <summary><c>e^v</c> of every lane.</summary>
    static abstract TV Exp(TV v);

    /// <summary>Per lane: <paramref name="a"/> where <paramref name="v"/> &gt; 0, else 0.</summary>
    static abstract TV WherePositive(TV v, TV a);
}

/// <summary>The activation members of the 512-bit path.</summary>
public readonly partial struct V512<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.MaxNative(b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Clamp(Vector512<T> v, Vector512<T> low, Vector512<T> high) => Vector512.MinNative(high, Vector512.MaxNative(low, v));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Abs(Vector512<T> v) => Vector512.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp(Vector512<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector512.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats (<see cref="ExpFloat"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpSingle(Vector512<float> v) => ExpFloat.Evaluate<V512<float>, Vector512<float>, ExpScale512>(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> WherePositive(Vector512<T> v, Vector512<T> a) => a & Vector512.GreaterThan(v, Vector512<T>.Zero);
}

/// <summary>The activation members of the 256-bit path.</summary>
public readonly partial struct V256<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.MaxNative(b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Clamp(Vector256<T> v, Vector256<T> low, Vector256<T> high) => Vector256.MinNative(high, Vector256.MaxNative(low, v));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Abs(Vector256<T> v) => Vector256.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp(Vector256<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector256.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats (<see cref="ExpFloat"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpSingle(Vector256<float> v) => ExpFloat.Evaluate<V256<float>, Vector256<float>, ExpScale256>(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> WherePositive(Vector256<T> v, Vector256<T> a) => a & Vector256.GreaterThan(v, Vector256<T>.Zero);
}

/// <summary>The activation members of the 128-bit path.</summary>
public readonly partial struct V128<T, TOps>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Max(Vector128<T> a, Vector128<T> b) => Vector128.MaxNative(b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Clamp(Vector128<T> v, Vector128<T> low, Vector128<T> high) => Vector128.MinNative(high, Vector128.MaxNative(low, v));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Abs(Vector128<T> v) => Vector128.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Exp(Vector128<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector128.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats (<see cref="ExpFloat"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ExpSingle(Vector128<float> v) => ExpFloat.Evaluate<V128<float, TOps>, Vector128<float>, ExpScale128>(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> WherePositive(Vector128<T> v, Vector128<T> a) => a & Vector128.GreaterThan(v, Vector128<T>.Zero);
}

/// <summary>The activation members of the scalar path.</summary>
public readonly partial struct Scalar<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T a, T b) =>
        typeof(T) == typeof(float) ? F(S(b) > S(a) ? S(b) : S(a)) : D(Dbl(b) > Dbl(a) ? Dbl(b) : Dbl(a));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Clamp(T v, T low, T high) =>
        typeof(T) == typeof(float) ? F(System.Math.Clamp(S(v), S(low), S(high))) : D(System.Math.Clamp(Dbl(v), Dbl(low), Dbl(high)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Abs(T v) =>
        typeof(T) == typeof(float) ? F(System.MathF.Abs(S(v))) : D(System.Math.Abs(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exp(T v) =>
        typeof(T) == typeof(float) ? F(System.MathF.Exp(S(v))) : D(System.Math.Exp(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T WherePositive(T v, T a) =>
        typeof(T) == typeof(float) ? F(S(v) > 0f ? S(a) : 0f) : D(Dbl(v) > 0d ? Dbl(a) : 0d);
}
