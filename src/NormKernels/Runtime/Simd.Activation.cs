using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

// The members the fused activations (Epilogues.cs) need beyond the statistics and apply runs: maximum, absolute value,
// sign transfer, the exponential, and "a where v > 0, else 0" (ReLU's gradient). Vector paths use the portable
// Vector512/256/128 APIs (their Exp is the runtime's vectorized one); the scalar path uses Math(F).

public partial interface ISimd<TV, T>
{
    /// <summary>The larger of each pair of lanes (<c>max(a, b)</c>; a NaN in <paramref name="a"/> stays NaN).</summary>
    static abstract TV Max(TV a, TV b);

    /// <summary>The absolute value of every lane.</summary>
    static abstract TV Abs(TV v);

    /// <summary>The magnitude of <paramref name="magnitude"/> with the sign of <paramref name="sign"/>.</summary>
    static abstract TV CopySign(TV magnitude, TV sign);

    /// <summary><c>e^v</c> of every lane.</summary>
    static abstract TV Exp(TV v);

    /// <summary>Per lane: <paramref name="a"/> where <paramref name="v"/> &gt; 0, else 0.</summary>
    static abstract TV WherePositive(TV v, TV a);

    /// <summary><c>1 / v</c> for v &gt;= 1 (the activations' denominators): float on the 512- and 256-bit paths from the
    /// hardware estimate and one Newton step (relative error below 1e-7), a division elsewhere.</summary>
    static abstract TV Reciprocal(TV v);
}

/// <summary>The activation members of the 512-bit path.</summary>
public readonly partial struct V512<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.ConditionalSelect(Vector512.GreaterThan(b, a), b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Abs(Vector512<T> v) => Vector512.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> CopySign(Vector512<T> magnitude, Vector512<T> sign) => Vector512.CopySign(magnitude, sign);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp(Vector512<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector512.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats: v = n ln2 + r, |r| &lt;= ln2 / 2 (ln2 in two parts), e^r by its Taylor polynomial of degree 7
    /// (truncation below 4e-9 relative, evaluated by Estrin's scheme), times 2^n built in the exponent bits. v is clamped to [-87.3, 88.3] (results stay
    /// normal floats: 1e-38 for anything below, 3.4e38 above). About 12 instructions; the runtime's Vector Exp widens to
    /// double and costs several times that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpSingle(Vector512<float> v)
    {
        v = Vector512.Min(Vector512.Max(v, Vector512.Create(-87.3f)), Vector512.Create(88.3f));
        Vector512<float> n = Vector512.Round(v * Vector512.Create(1.44269504f));
        Vector512<float> r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), v);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r);
        // Horner's scheme: on the 512-bit path the unrolled apply has enough independent vectors to hide the chain, and
        // Estrin's two extra multiplies cost more than they save (GroupNorm NHWC + SiLU on 2 MB: 0.163 vs 0.185 ms; on the
        // 256-bit path Estrin wins, 0.248 vs 0.270).
        Vector512<float> p = Vector512.Create(1f / 5040);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        Vector512<int> scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> WherePositive(Vector512<T> v, Vector512<T> a) => a & Vector512.GreaterThan(v, Vector512<T>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Reciprocal(Vector512<T> v)
    {
        if (typeof(T) != typeof(float) || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return Vector512<T>.One / v;
        Vector512<float> d = v.AsSingle(), r = System.Runtime.Intrinsics.X86.Avx512F.Reciprocal14(d);
        // r' = r (2 - d r): the 14-bit estimate to float precision.
        return (r * Vector512.FusedMultiplyAdd(-d, r, Vector512.Create(2f))).As<float, T>();
    }
}

/// <summary>The activation members of the 256-bit path.</summary>
public readonly partial struct V256<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.ConditionalSelect(Vector256.GreaterThan(b, a), b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Abs(Vector256<T> v) => Vector256.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> CopySign(Vector256<T> magnitude, Vector256<T> sign) => Vector256.CopySign(magnitude, sign);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp(Vector256<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector256.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats: v = n ln2 + r, |r| &lt;= ln2 / 2 (ln2 in two parts), e^r by its Taylor polynomial of degree 7
    /// (truncation below 4e-9 relative, evaluated by Estrin's scheme), times 2^n built in the exponent bits. v is clamped to [-87.3, 88.3] (results stay
    /// normal floats: 1e-38 for anything below, 3.4e38 above). About 12 instructions; the runtime's Vector Exp widens to
    /// double and costs several times that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpSingle(Vector256<float> v)
    {
        v = Vector256.Min(Vector256.Max(v, Vector256.Create(-87.3f)), Vector256.Create(88.3f));
        Vector256<float> n = Vector256.Round(v * Vector256.Create(1.44269504f));
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693145752f), v);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-1.42860677e-6f), r);
        // Estrin's scheme: pairs of terms in parallel, then r^2 and r^4 combine them (depth 4 instead of Horner's 7
        // dependent multiply-adds; on the 256-bit path SiLU was bound by that chain).
        Vector256<float> r2 = r * r, r4 = r2 * r2;
        Vector256<float> p01 = Vector256.FusedMultiplyAdd(r, Vector256.Create(1f), Vector256.Create(1f));
        Vector256<float> p23 = Vector256.FusedMultiplyAdd(r, Vector256.Create(1f / 6), Vector256.Create(0.5f));
        Vector256<float> p45 = Vector256.FusedMultiplyAdd(r, Vector256.Create(1f / 120), Vector256.Create(1f / 24));
        Vector256<float> p67 = Vector256.FusedMultiplyAdd(r, Vector256.Create(1f / 5040), Vector256.Create(1f / 720));
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(p67, r2, p45), r4, Vector256.FusedMultiplyAdd(p23, r2, p01));
        Vector256<int> scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> WherePositive(Vector256<T> v, Vector256<T> a) => a & Vector256.GreaterThan(v, Vector256<T>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Reciprocal(Vector256<T> v)
    {
        if (typeof(T) != typeof(float) || !System.Runtime.Intrinsics.X86.Avx.IsSupported) return Vector256<T>.One / v;
        Vector256<float> d = v.AsSingle(), r = System.Runtime.Intrinsics.X86.Avx.Reciprocal(d);
        // Two Newton steps: the 12-bit estimate to float precision.
        r = r * Vector256.FusedMultiplyAdd(-d, r, Vector256.Create(2f));
        return (r * Vector256.FusedMultiplyAdd(-d, r, Vector256.Create(2f))).As<float, T>();
    }
}

/// <summary>The activation members of the 128-bit path.</summary>
public readonly partial struct V128<T, TOps>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Max(Vector128<T> a, Vector128<T> b) => Vector128.ConditionalSelect(Vector128.GreaterThan(b, a), b, a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Abs(Vector128<T> v) => Vector128.Abs(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> CopySign(Vector128<T> magnitude, Vector128<T> sign) => Vector128.CopySign(magnitude, sign);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Exp(Vector128<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpSingle(v.AsSingle()).As<float, T>();
        return Vector128.Exp(v.AsDouble()).As<double, T>();
    }

    /// <summary>e^v for floats: v = n ln2 + r, |r| &lt;= ln2 / 2 (ln2 in two parts), e^r by its Taylor polynomial of degree 7
    /// (truncation below 4e-9 relative, evaluated by Estrin's scheme), times 2^n built in the exponent bits. v is clamped to [-87.3, 88.3] (results stay
    /// normal floats: 1e-38 for anything below, 3.4e38 above). About 12 instructions; the runtime's Vector Exp widens to
    /// double and costs several times that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ExpSingle(Vector128<float> v)
    {
        v = Vector128.Min(Vector128.Max(v, Vector128.Create(-87.3f)), Vector128.Create(88.3f));
        Vector128<float> n = Vector128.Round(v * Vector128.Create(1.44269504f));
        Vector128<float> r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-0.693145752f), v);
        r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-1.42860677e-6f), r);
        // Estrin's scheme: pairs of terms in parallel, then r^2 and r^4 combine them (depth 4 instead of Horner's 7
        // dependent multiply-adds; on the 256-bit path SiLU was bound by that chain).
        Vector128<float> r2 = r * r, r4 = r2 * r2;
        Vector128<float> p01 = Vector128.FusedMultiplyAdd(r, Vector128.Create(1f), Vector128.Create(1f));
        Vector128<float> p23 = Vector128.FusedMultiplyAdd(r, Vector128.Create(1f / 6), Vector128.Create(0.5f));
        Vector128<float> p45 = Vector128.FusedMultiplyAdd(r, Vector128.Create(1f / 120), Vector128.Create(1f / 24));
        Vector128<float> p67 = Vector128.FusedMultiplyAdd(r, Vector128.Create(1f / 5040), Vector128.Create(1f / 720));
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.FusedMultiplyAdd(p67, r2, p45), r4, Vector128.FusedMultiplyAdd(p23, r2, p01));
        Vector128<int> scale = (Vector128.ConvertToInt32(n) + Vector128.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> WherePositive(Vector128<T> v, Vector128<T> a) => a & Vector128.GreaterThan(v, Vector128<T>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Reciprocal(Vector128<T> v) => Vector128<T>.One / v;
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
    public static T Abs(T v) =>
        typeof(T) == typeof(float) ? F(System.MathF.Abs(S(v))) : D(System.Math.Abs(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T CopySign(T magnitude, T sign) =>
        typeof(T) == typeof(float) ? F(System.MathF.CopySign(S(magnitude), S(sign))) : D(System.Math.CopySign(Dbl(magnitude), Dbl(sign)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exp(T v) =>
        typeof(T) == typeof(float) ? F(System.MathF.Exp(S(v))) : D(System.Math.Exp(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T WherePositive(T v, T a) =>
        typeof(T) == typeof(float) ? F(S(v) > 0f ? S(a) : 0f) : D(Dbl(v) > 0d ? Dbl(a) : 0d);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Reciprocal(T v) =>
        typeof(T) == typeof(float) ? F(1f / S(v)) : D(1d / Dbl(v));
}
