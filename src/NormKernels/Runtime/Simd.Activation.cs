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
        if (typeof(T) == typeof(float)) return Vector512.Exp(v.AsSingle()).As<float, T>();
        return Vector512.Exp(v.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> WherePositive(Vector512<T> v, Vector512<T> a) => a & Vector512.GreaterThan(v, Vector512<T>.Zero);
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
        if (typeof(T) == typeof(float)) return Vector256.Exp(v.AsSingle()).As<float, T>();
        return Vector256.Exp(v.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> WherePositive(Vector256<T> v, Vector256<T> a) => a & Vector256.GreaterThan(v, Vector256<T>.Zero);
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
        if (typeof(T) == typeof(float)) return Vector128.Exp(v.AsSingle()).As<float, T>();
        return Vector128.Exp(v.AsDouble()).As<double, T>();
    }

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
}
