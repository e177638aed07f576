using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

// The members the local response normalization runs (LrnRuns) need beyond the statistics and apply runs: element
// division, square root and power, and the window sums kept in double. A window sum of one vector's lanes is three
// locals the runs keep in registers, (lo, hi, value): on vector paths lo and hi hold the bits of vectors of doubles of
// the path's width (the lower lanes widened, and for float elements the upper ones in hi), on the scalar path the sum
// is value; the other locals are unused (the JIT drops them). All zero is a zero sum.

public partial interface ISimd<TV, T>
{
    /// <summary><c>a / b</c>.</summary>
    static abstract TV Divide(TV a, TV b);

    /// <summary>The square root of every lane.</summary>
    static abstract TV Sqrt(TV v);

    /// <summary><c>1 / sqrt(v)</c> for v &gt; 0: float lanes on the 512- and 256-bit paths from the hardware estimate and
    /// Newton steps (relative error a few float ulps, no divider), <c>1 / sqrt(v)</c> elsewhere. At v = 0 and +infinity
    /// the estimate's infinity and zero.</summary>
    static abstract TV InverseSqrt(TV v);

    /// <summary><c>v^exponent</c>: <c>exp(log(v) * exponent)</c> with the vector Exp and Log on vector paths, Math(F).Pow on the scalar path.</summary>
    static abstract TV Power(TV v, T exponent);

    /// <summary>The window sum of one vector's lanes stored as doubles at <paramref name="d"/>[<paramref name="i"/> ..].</summary>
    static abstract void LoadWide(ref double d, nint i, out TV lo, out TV hi, out double value);

    /// <summary>Stores a window sum at <paramref name="d"/>[<paramref name="i"/> ..].</summary>
    static abstract void StoreWide(TV lo, TV hi, double value, ref double d, nint i);

    /// <summary>Adds the lanes of <paramref name="v"/>, widened, to a window sum.</summary>
    static abstract void Accumulate(ref TV lo, ref TV hi, ref double value, TV v);

    /// <summary>One slide step of a window sum: adds <paramref name="entering"/> and then subtracts <paramref name="leaving"/>
    /// (both widened; zero for nothing). True when a leaving lane's magnitude exceeds <paramref name="ratio"/> times what
    /// remains (the window must be summed again).</summary>
    static abstract bool Slide(ref TV lo, ref TV hi, ref double value, TV entering, TV leaving, double ratio);

    /// <summary>Stores the lanes, widened to double, at <paramref name="d"/>[<paramref name="i"/> ..].</summary>
    static abstract void StoreWidened(ref double d, nint i, TV v);

    /// <summary>A window sum in the element type.</summary>
    static abstract TV Narrow(TV lo, TV hi, double value);

    /// <summary><c>sum * a + b</c> in double under the path's multiply-add contract, then in the element type.</summary>
    static abstract TV NarrowMultiplyAdd(TV lo, TV hi, double value, double a, double b);

}


/// <summary>The local response normalization members of the 512-bit path.</summary>
public readonly partial struct V512<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Divide(Vector512<T> a, Vector512<T> b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sqrt(Vector512<T> v) => Vector512.Sqrt(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> InverseSqrt(Vector512<T> v)
    {
        if (typeof(T) != typeof(float) || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return Vector512<T>.One / Vector512.Sqrt(v);
        Vector512<float> d = v.AsSingle(), r = System.Runtime.Intrinsics.X86.Avx512F.ReciprocalSqrt14(d);
        // r' = r/2 (3 - d r r): the 14-bit estimate to float precision; 0 and infinity keep the estimate (the step gives NaN).
        Vector512<float> n = (Vector512.Create(0.5f) * r) * Vector512.FusedMultiplyAdd(-(d * r), r, Vector512.Create(3f));
        return Vector512.ConditionalSelect(Vector512.Equals(n, n), n, r).As<float, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Power(Vector512<T> v, T exponent)
    {
        if (typeof(T) == typeof(float))
            return Vector512.Exp(Vector512.Log(v.AsSingle()) * Vector512.Create(Unsafe.As<T, float>(ref exponent))).As<float, T>();
        return Vector512.Exp(Vector512.Log(v.AsDouble()) * Vector512.Create(Unsafe.As<T, double>(ref exponent))).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadWide(ref double d, nint i, out Vector512<T> lo, out Vector512<T> hi, out double value)
    {
        lo = Vector512.LoadUnsafe(ref d, (nuint)i).As<double, T>();
        hi = typeof(T) == typeof(float) ? Vector512.LoadUnsafe(ref d, (nuint)(i + 8)).As<double, T>() : default;
        value = 0;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWide(Vector512<T> lo, Vector512<T> hi, double value, ref double d, nint i)
    {
        lo.AsDouble().StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float)) hi.AsDouble().StoreUnsafe(ref d, (nuint)(i + 8));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Vector512<T> lo, ref Vector512<T> hi, ref double value, Vector512<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle();
            lo = (lo.AsDouble() + Vector512.WidenLower(f)).As<double, T>();
            hi = (hi.AsDouble() + Vector512.WidenUpper(f)).As<double, T>();
            return;
        }
        lo = (lo.AsDouble() + v.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Slide(ref Vector512<T> lo, ref Vector512<T> hi, ref double value, Vector512<T> entering, Vector512<T> leaving, double ratio)
    {
        Vector512<double> r = Vector512.Create(ratio);
        if (typeof(T) == typeof(float))
        {
            Vector512<float> e = entering.AsSingle(), l = leaving.AsSingle();
            Vector512<double> leavingLo = Vector512.WidenLower(l), leavingHi = Vector512.WidenUpper(l);
            Vector512<double> sumLo = lo.AsDouble() + Vector512.WidenLower(e) - leavingLo;
            Vector512<double> sumHi = hi.AsDouble() + Vector512.WidenUpper(e) - leavingHi;
            lo = sumLo.As<double, T>();
            hi = sumHi.As<double, T>();
            return Vector512.GreaterThanAny(Vector512.Abs(leavingLo), Vector512.Abs(sumLo) * r) ||
                   Vector512.GreaterThanAny(Vector512.Abs(leavingHi), Vector512.Abs(sumHi) * r);
        }
        Vector512<double> sum = lo.AsDouble() + entering.AsDouble() - leaving.AsDouble();
        lo = sum.As<double, T>();
        return Vector512.GreaterThanAny(Vector512.Abs(leaving.AsDouble()), Vector512.Abs(sum) * r);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWidened(ref double d, nint i, Vector512<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle();
            Vector512.WidenLower(f).StoreUnsafe(ref d, (nuint)i);
            Vector512.WidenUpper(f).StoreUnsafe(ref d, (nuint)(i + 8));
            return;
        }
        v.AsDouble().StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Narrow(Vector512<T> lo, Vector512<T> hi, double value) =>
        typeof(T) == typeof(float) ? Vector512.Narrow(lo.AsDouble(), hi.AsDouble()).As<float, T>() : lo;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> NarrowMultiplyAdd(Vector512<T> lo, Vector512<T> hi, double value, double a, double b) =>
        NarrowAffine(lo.AsDouble(), hi.AsDouble(), a, b);

    // lo * a + b (and hi * a + b for float lanes) under the path's multiply-add contract, back in the element type.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> NarrowAffine(Vector512<double> lo, Vector512<double> hi, double a, double b)
    {
        Vector512<double> va = Vector512.Create(a), vb = Vector512.Create(b);
        if (typeof(T) == typeof(float))
            return Vector512.Narrow(Vector512.FusedMultiplyAdd(lo, va, vb), Vector512.FusedMultiplyAdd(hi, va, vb)).As<float, T>();
        return Vector512.FusedMultiplyAdd(lo, va, vb).As<double, T>();
    }
}

/// <summary>The local response normalization members of the 256-bit path.</summary>
public readonly partial struct V256<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Divide(Vector256<T> a, Vector256<T> b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sqrt(Vector256<T> v) => Vector256.Sqrt(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> InverseSqrt(Vector256<T> v)
    {
        if (typeof(T) != typeof(float) || !System.Runtime.Intrinsics.X86.Avx.IsSupported) return Vector256<T>.One / Vector256.Sqrt(v);
        Vector256<float> d = v.AsSingle(), r = System.Runtime.Intrinsics.X86.Avx.ReciprocalSqrt(d);
        // One Newton step: the estimate's relative error (at most 1.5 * 2^-12) squared, about 3.4 float ulps, plus the
        // step's roundings; 0 and infinity keep the estimate. A second step cost LocalResponseNorm(5)'s 0.75 power (its
        // only user, q * sqrt(q)) a quarter of its time for two ulps: AMD Zen 5, 1 thread, 32x512x7x7 NCHW 396-402 ->
        // 281-283 us, NHWC 333-335 -> 246-248 (one process per build, alternating); the forward's largest error against
        // float64 over x from 1e-19 to 2e19 went 5.5 -> 6.6 ulps (the 512-bit path 4.6, the 128-bit 5.5; LrnTests allow 32).
        // The 512-bit path's form, Newton steps on the whole power, needs two from 12-bit estimates: 4.2 ulps, but 470-483
        // and 399-400 us there.
        Vector256<float> n = InverseSqrtStep(r, d * r);
        return Vector256.ConditionalSelect(Vector256.Equals(n, n), n, r).As<float, T>();
    }

    /// <summary>The Newton step of <see cref="InverseSqrt"/> from the estimate <paramref name="r"/> of 1 / sqrt(d) and the
    /// product <paramref name="dr"/> = d * r: (r / 2) * (3 - dr * r). Written once for its two users (InverseSqrt and
    /// LocalResponseNorm's unguarded power, <c>LrnRuns.ThreeQuartersAboveK</c>), whose results must stay the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> InverseSqrtStep(Vector256<float> r, Vector256<float> dr) =>
        (Vector256.Create(0.5f) * r) * Vector256.FusedMultiplyAdd(-dr, r, Vector256.Create(3f));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Power(Vector256<T> v, T exponent)
    {
        if (typeof(T) == typeof(float))
            return Vector256.Exp(Vector256.Log(v.AsSingle()) * Vector256.Create(Unsafe.As<T, float>(ref exponent))).As<float, T>();
        return Vector256.Exp(Vector256.Log(v.AsDouble()) * Vector256.Create(Unsafe.As<T, double>(ref exponent))).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadWide(ref double d, nint i, out Vector256<T> lo, out Vector256<T> hi, out double value)
    {
        lo = Vector256.LoadUnsafe(ref d, (nuint)i).As<double, T>();
        hi = typeof(T) == typeof(float) ? Vector256.LoadUnsafe(ref d, (nuint)(i + 4)).As<double, T>() : default;
        value = 0;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWide(Vector256<T> lo, Vector256<T> hi, double value, ref double d, nint i)
    {
        lo.AsDouble().StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float)) hi.AsDouble().StoreUnsafe(ref d, (nuint)(i + 4));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Vector256<T> lo, ref Vector256<T> hi, ref double value, Vector256<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle();
            lo = (lo.AsDouble() + Vector256.WidenLower(f)).As<double, T>();
            hi = (hi.AsDouble() + Vector256.WidenUpper(f)).As<double, T>();
            return;
        }
        lo = (lo.AsDouble() + v.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Slide(ref Vector256<T> lo, ref Vector256<T> hi, ref double value, Vector256<T> entering, Vector256<T> leaving, double ratio)
    {
        Vector256<double> r = Vector256.Create(ratio);
        if (typeof(T) == typeof(float))
        {
            Vector256<float> e = entering.AsSingle(), l = leaving.AsSingle();
            Vector256<double> leavingLo = Vector256.WidenLower(l), leavingHi = Vector256.WidenUpper(l);
            Vector256<double> sumLo = lo.AsDouble() + Vector256.WidenLower(e) - leavingLo;
            Vector256<double> sumHi = hi.AsDouble() + Vector256.WidenUpper(e) - leavingHi;
            lo = sumLo.As<double, T>();
            hi = sumHi.As<double, T>();
            return Vector256.GreaterThanAny(Vector256.Abs(leavingLo), Vector256.Abs(sumLo) * r) ||
                   Vector256.GreaterThanAny(Vector256.Abs(leavingHi), Vector256.Abs(sumHi) * r);
        }
        Vector256<double> sum = lo.AsDouble() + entering.AsDouble() - leaving.AsDouble();
        lo = sum.As<double, T>();
        return Vector256.GreaterThanAny(Vector256.Abs(leaving.AsDouble()), Vector256.Abs(sum) * r);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWidened(ref double d, nint i, Vector256<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle();
            Vector256.WidenLower(f).StoreUnsafe(ref d, (nuint)i);
            Vector256.WidenUpper(f).StoreUnsafe(ref d, (nuint)(i + 4));
            return;
        }
        v.AsDouble().StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Narrow(Vector256<T> lo, Vector256<T> hi, double value) =>
        typeof(T) == typeof(float) ? Vector256.Narrow(lo.AsDouble(), hi.AsDouble()).As<float, T>() : lo;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> NarrowMultiplyAdd(Vector256<T> lo, Vector256<T> hi, double value, double a, double b) =>
        NarrowAffine(lo.AsDouble(), hi.AsDouble(), a, b);

    // lo * a + b (and hi * a + b for float lanes) under the path's multiply-add contract, back in the element type.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> NarrowAffine(Vector256<double> lo, Vector256<double> hi, double a, double b)
    {
        Vector256<double> va = Vector256.Create(a), vb = Vector256.Create(b);
        if (typeof(T) == typeof(float))
            return Vector256.Narrow(Vector256.FusedMultiplyAdd(lo, va, vb), Vector256.FusedMultiplyAdd(hi, va, vb)).As<float, T>();
        return Vector256.FusedMultiplyAdd(lo, va, vb).As<double, T>();
    }
}

/// <summary>The local response normalization members of the 128-bit path.</summary>
public readonly partial struct V128<T, TOps>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Divide(Vector128<T> a, Vector128<T> b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Sqrt(Vector128<T> v) => Vector128.Sqrt(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> InverseSqrt(Vector128<T> v) => Vector128<T>.One / Vector128.Sqrt(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Power(Vector128<T> v, T exponent)
    {
        if (typeof(T) == typeof(float))
            return Vector128.Exp(Vector128.Log(v.AsSingle()) * Vector128.Create(Unsafe.As<T, float>(ref exponent))).As<float, T>();
        return Vector128.Exp(Vector128.Log(v.AsDouble()) * Vector128.Create(Unsafe.As<T, double>(ref exponent))).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadWide(ref double d, nint i, out Vector128<T> lo, out Vector128<T> hi, out double value)
    {
        lo = Vector128.LoadUnsafe(ref d, (nuint)i).As<double, T>();
        hi = typeof(T) == typeof(float) ? Vector128.LoadUnsafe(ref d, (nuint)(i + 2)).As<double, T>() : default;
        value = 0;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWide(Vector128<T> lo, Vector128<T> hi, double value, ref double d, nint i)
    {
        lo.AsDouble().StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float)) hi.AsDouble().StoreUnsafe(ref d, (nuint)(i + 2));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Vector128<T> lo, ref Vector128<T> hi, ref double value, Vector128<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle();
            lo = (lo.AsDouble() + Vector128.WidenLower(f)).As<double, T>();
            hi = (hi.AsDouble() + Vector128.WidenUpper(f)).As<double, T>();
            return;
        }
        lo = (lo.AsDouble() + v.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Slide(ref Vector128<T> lo, ref Vector128<T> hi, ref double value, Vector128<T> entering, Vector128<T> leaving, double ratio)
    {
        Vector128<double> r = Vector128.Create(ratio);
        if (typeof(T) == typeof(float))
        {
            Vector128<float> e = entering.AsSingle(), l = leaving.AsSingle();
            Vector128<double> leavingLo = Vector128.WidenLower(l), leavingHi = Vector128.WidenUpper(l);
            Vector128<double> sumLo = lo.AsDouble() + Vector128.WidenLower(e) - leavingLo;
            Vector128<double> sumHi = hi.AsDouble() + Vector128.WidenUpper(e) - leavingHi;
            lo = sumLo.As<double, T>();
            hi = sumHi.As<double, T>();
            return Vector128.GreaterThanAny(Vector128.Abs(leavingLo), Vector128.Abs(sumLo) * r) ||
                   Vector128.GreaterThanAny(Vector128.Abs(leavingHi), Vector128.Abs(sumHi) * r);
        }
        Vector128<double> sum = lo.AsDouble() + entering.AsDouble() - leaving.AsDouble();
        lo = sum.As<double, T>();
        return Vector128.GreaterThanAny(Vector128.Abs(leaving.AsDouble()), Vector128.Abs(sum) * r);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWidened(ref double d, nint i, Vector128<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle();
            Vector128.WidenLower(f).StoreUnsafe(ref d, (nuint)i);
            Vector128.WidenUpper(f).StoreUnsafe(ref d, (nuint)(i + 2));
            return;
        }
        v.AsDouble().StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Narrow(Vector128<T> lo, Vector128<T> hi, double value) =>
        typeof(T) == typeof(float) ? Vector128.Narrow(lo.AsDouble(), hi.AsDouble()).As<float, T>() : lo;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> NarrowMultiplyAdd(Vector128<T> lo, Vector128<T> hi, double value, double a, double b) =>
        NarrowAffine(lo.AsDouble(), hi.AsDouble(), a, b);

    // lo * a + b (and hi * a + b for float lanes) under the path's multiply-add contract, back in the element type.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> NarrowAffine(Vector128<double> lo, Vector128<double> hi, double a, double b)
    {
        Vector128<double> va = Vector128.Create(a), vb = Vector128.Create(b);
        if (typeof(T) == typeof(float))
            return Vector128.Narrow(TOps.MultiplyAdd(lo, va, vb), TOps.MultiplyAdd(hi, va, vb)).As<float, T>();
        return TOps.MultiplyAdd(lo, va, vb).As<double, T>();
    }
}

/// <summary>The local response normalization members of the scalar path.</summary>
public readonly partial struct Scalar<T>
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Divide(T a, T b) =>
        typeof(T) == typeof(float) ? F(S(a) / S(b)) : D(Dbl(a) / Dbl(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sqrt(T v) =>
        typeof(T) == typeof(float) ? F(System.MathF.Sqrt(S(v))) : D(System.Math.Sqrt(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T InverseSqrt(T v) =>
        typeof(T) == typeof(float) ? F(1f / System.MathF.Sqrt(S(v))) : D(1d / System.Math.Sqrt(Dbl(v)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Power(T v, T exponent) =>
        typeof(T) == typeof(float) ? F(System.MathF.Pow(S(v), S(exponent))) : D(System.Math.Pow(Dbl(v), Dbl(exponent)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadWide(ref double d, nint i, out T lo, out T hi, out double value)
    {
        lo = default;
        hi = default;
        value = Unsafe.Add(ref d, i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWide(T lo, T hi, double value, ref double d, nint i) => Unsafe.Add(ref d, i) = value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref T lo, ref T hi, ref double value, T v) => value += SumWidened(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Slide(ref T lo, ref T hi, ref double value, T entering, T leaving, double ratio)
    {
        double l = SumWidened(leaving);
        value = value + SumWidened(entering) - l;
        return System.Math.Abs(l) > System.Math.Abs(value) * ratio;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWidened(ref double d, nint i, T v) => Unsafe.Add(ref d, i) = SumWidened(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Narrow(T lo, T hi, double value) =>
        typeof(T) == typeof(float) ? F((float)value) : D(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T NarrowMultiplyAdd(T lo, T hi, double value, double a, double b) =>
        typeof(T) == typeof(float) ? F((float)(value * a + b)) : D(value * a + b);

}
