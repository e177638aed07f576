using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>
/// One instruction-set path for elements of type <typeparamref name="T"/> (float or double), whose vector type is
/// <typeparamref name="TV"/> (<typeparamref name="T"/> itself on the scalar path). The shared kernels in
/// <see cref="Runs{TS, TV, T}"/> are written once against this interface; every path is a struct, so the JIT
/// compiles one specialized copy per path with every member inlined (no virtual calls). The multiply-add contract:
/// 512 and 256 fused (those paths are only chosen where FMA exists), 128 through <c>TOps</c> (fused on ARM64 and on x86
/// with FMA3, multiply-then-add otherwise), scalar multiply-then-add.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public partial interface ISimd<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Lanes per vector (1 on the scalar path).</summary>
    static abstract int Count { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TV Zero { get; }

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TV Splat(T value);

    /// <summary>Loads <see cref="Count"/> elements at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract TV Load(ref T p, nint i);

    /// <summary>Stores <paramref name="v"/> at <paramref name="p"/> + <paramref name="i"/>.</summary>
    static abstract void Store(TV v, ref T p, nint i);

    /// <summary>Stores <paramref name="v"/> at <paramref name="p"/> + <paramref name="i"/> around the caches (a non-temporal
    /// store), where the hardware has one; the address must be aligned to the vector's size. The memory must be pinned.
    /// The worker that used it ends with a store fence.</summary>
    static abstract void StoreStreaming(TV v, ref T p, nint i);

    /// <summary><c>a + b</c>.</summary>
    static abstract TV Add(TV a, TV b);

    /// <summary><c>a - b</c>.</summary>
    static abstract TV Subtract(TV a, TV b);

    /// <summary><c>a * b</c>.</summary>
    static abstract TV Multiply(TV a, TV b);

    /// <summary><c>a * b + c</c> under the path's contract.</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);

    /// <summary>A mask whose last <paramref name="lanes"/> lanes are set (vector paths only).</summary>
    static abstract TV LastLanes(nint lanes);

    /// <summary><c>a &amp; mask</c>.</summary>
    static abstract TV And(TV a, TV mask);

    /// <summary>Lanes of <paramref name="a"/> where <paramref name="mask"/> is set, else of <paramref name="b"/>.</summary>
    static abstract TV Select(TV mask, TV a, TV b);

    /// <summary>The lanes widened to double (exactly) and summed in double.</summary>
    static abstract double SumWidened(TV v);

    /// <summary>Adds the lanes, widened to double, to <paramref name="d"/>[<paramref name="i"/> ..].</summary>
    static abstract void AddWidened(ref double d, nint i, TV v);

    /// <summary>Adds, lane by lane in double, <paramref name="v"/> minus <paramref name="k"/> (both widened) to <paramref name="d"/>[<paramref name="i"/> ..]:
    /// exact for float lanes whatever their magnitudes.</summary>
    static abstract void AddWidenedDifference(ref double d, nint i, TV v, TV k);

    /// <summary>The lanes of <paramref name="v"/> widened to double (exactly), as register accumulators hold them.</summary>
    static abstract Wide<TV> Widen(TV v);

    /// <summary>Adds, lane by lane in double, <paramref name="v"/> widened minus <paramref name="k"/> (lanes already widened, see
    /// <see cref="Widen"/>) to the register accumulators <paramref name="acc"/>: exact for float lanes whatever their magnitudes.</summary>
    static abstract void AccumulateWidenedDifference(ref Wide<TV> acc, TV v, Wide<TV> k);

    /// <summary>The double lanes of <paramref name="acc"/> summed in double.</summary>
    static abstract double SumWide(ref Wide<TV> acc);

    /// <summary>Adds the double lanes of <paramref name="acc"/> to <paramref name="d"/>[<paramref name="i"/> ..].</summary>
    static abstract void AddWide(ref double d, nint i, ref Wide<TV> acc);
}

/// <summary>
/// Double accumulators for the lanes of one vector, kept in registers: the bits of two <typeparamref name="TV"/>
/// values hold the lanes widened to double (float lanes: <see cref="Lo"/> the lower half, <see cref="Hi"/> the upper;
/// double lanes: <see cref="Lo"/> alone; the scalar path: one double across the bits of both). <c>default</c> is all
/// lanes zero. Only the path that wrote it reads it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct Wide<TV> where TV : struct
{
    /// <summary>The lower lanes' doubles (all of them for double lanes).</summary>
    public TV Lo;

    /// <summary>The upper lanes' doubles (float lanes only).</summary>
    public TV Hi;
}

/// <summary>The 512-bit path (AVX-512): <c>Vector512</c>, fused multiply-add.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly partial struct V512<T> : ISimd<Vector512<T>, T> where T : unmanaged
{
    /// <inheritdoc/>
    public static int Count { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<T>.Count; }

    /// <inheritdoc/>
    public static Vector512<T> Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<T>.Zero; }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Splat(T value) => Vector512.Create(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T p, nint i) => Vector512.LoadUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> v, ref T p, nint i) => v.StoreUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreStreaming(Vector512<T> v, ref T p, nint i) => v.StoreAlignedNonTemporal((T*)Unsafe.AsPointer(ref Unsafe.Add(ref p, i)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Subtract(Vector512<T> a, Vector512<T> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LastLanes(nint lanes) =>
        typeof(T) == typeof(float) ? Tails.Last512(lanes).As<float, T>() : Tails.Last512Double(lanes).As<double, T>();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> And(Vector512<T> a, Vector512<T> mask) => a & mask;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Select(Vector512<T> mask, Vector512<T> a, Vector512<T> b) => Vector512.ConditionalSelect(mask, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWidened(Vector512<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle();
            return Vector512.Sum(Vector512.WidenLower(f) + Vector512.WidenUpper(f));
        }
        return Vector512.Sum(v.AsDouble());
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(ref double d, nint i, Vector512<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle();
            (Vector512.LoadUnsafe(ref d, (nuint)i) + Vector512.WidenLower(f)).StoreUnsafe(ref d, (nuint)i);
            (Vector512.LoadUnsafe(ref d, (nuint)(i + 8)) + Vector512.WidenUpper(f)).StoreUnsafe(ref d, (nuint)(i + 8));
            return;
        }
        (Vector512.LoadUnsafe(ref d, (nuint)i) + v.AsDouble()).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidenedDifference(ref double d, nint i, Vector512<T> v, Vector512<T> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle(), g = k.AsSingle();
            (Vector512.LoadUnsafe(ref d, (nuint)i) + (Vector512.WidenLower(f) - Vector512.WidenLower(g))).StoreUnsafe(ref d, (nuint)i);
            (Vector512.LoadUnsafe(ref d, (nuint)(i + 8)) + (Vector512.WidenUpper(f) - Vector512.WidenUpper(g))).StoreUnsafe(ref d, (nuint)(i + 8));
            return;
        }
        (Vector512.LoadUnsafe(ref d, (nuint)i) + (v.AsDouble() - k.AsDouble())).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Wide<Vector512<T>> Widen(Vector512<T> v)
    {
        Wide<Vector512<T>> w = default;
        if (typeof(T) == typeof(float))
        {
            w.Lo = Vector512.WidenLower(v.AsSingle()).As<double, T>();
            w.Hi = Vector512.WidenUpper(v.AsSingle()).As<double, T>();
        }
        else
        {
            w.Lo = v;
        }
        return w;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateWidenedDifference(ref Wide<Vector512<T>> acc, Vector512<T> v, Wide<Vector512<T>> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> f = v.AsSingle();
            acc.Lo = (acc.Lo.AsDouble() + (Vector512.WidenLower(f) - k.Lo.AsDouble())).As<double, T>();
            acc.Hi = (acc.Hi.AsDouble() + (Vector512.WidenUpper(f) - k.Hi.AsDouble())).As<double, T>();
            return;
        }
        acc.Lo = (acc.Lo.AsDouble() + (v.AsDouble() - k.Lo.AsDouble())).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(ref Wide<Vector512<T>> acc) =>
        typeof(T) == typeof(float) ? Vector512.Sum(acc.Lo.AsDouble() + acc.Hi.AsDouble()) : Vector512.Sum(acc.Lo.AsDouble());

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWide(ref double d, nint i, ref Wide<Vector512<T>> acc)
    {
        (Vector512.LoadUnsafe(ref d, (nuint)i) + acc.Lo.AsDouble()).StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float))
            (Vector512.LoadUnsafe(ref d, (nuint)(i + 8)) + acc.Hi.AsDouble()).StoreUnsafe(ref d, (nuint)(i + 8));
    }
}

/// <summary>The 256-bit path (AVX2 + FMA): <c>Vector256</c>, fused multiply-add.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly partial struct V256<T> : ISimd<Vector256<T>, T> where T : unmanaged
{
    /// <inheritdoc/>
    public static int Count { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256<T>.Count; }

    /// <inheritdoc/>
    public static Vector256<T> Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256<T>.Zero; }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Splat(T value) => Vector256.Create(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T p, nint i) => Vector256.LoadUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> v, ref T p, nint i) => v.StoreUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreStreaming(Vector256<T> v, ref T p, nint i) => v.StoreAlignedNonTemporal((T*)Unsafe.AsPointer(ref Unsafe.Add(ref p, i)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Subtract(Vector256<T> a, Vector256<T> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LastLanes(nint lanes) =>
        typeof(T) == typeof(float) ? Tails.Last256(lanes).As<float, T>() : Tails.Last256Double(lanes).As<double, T>();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> And(Vector256<T> a, Vector256<T> mask) => a & mask;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Select(Vector256<T> mask, Vector256<T> a, Vector256<T> b) => Vector256.ConditionalSelect(mask, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWidened(Vector256<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle();
            return Vector256.Sum(Vector256.WidenLower(f) + Vector256.WidenUpper(f));
        }
        return Vector256.Sum(v.AsDouble());
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(ref double d, nint i, Vector256<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle();
            (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.WidenLower(f)).StoreUnsafe(ref d, (nuint)i);
            (Vector256.LoadUnsafe(ref d, (nuint)(i + 4)) + Vector256.WidenUpper(f)).StoreUnsafe(ref d, (nuint)(i + 4));
            return;
        }
        (Vector256.LoadUnsafe(ref d, (nuint)i) + v.AsDouble()).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidenedDifference(ref double d, nint i, Vector256<T> v, Vector256<T> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle(), g = k.AsSingle();
            (Vector256.LoadUnsafe(ref d, (nuint)i) + (Vector256.WidenLower(f) - Vector256.WidenLower(g))).StoreUnsafe(ref d, (nuint)i);
            (Vector256.LoadUnsafe(ref d, (nuint)(i + 4)) + (Vector256.WidenUpper(f) - Vector256.WidenUpper(g))).StoreUnsafe(ref d, (nuint)(i + 4));
            return;
        }
        (Vector256.LoadUnsafe(ref d, (nuint)i) + (v.AsDouble() - k.AsDouble())).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Wide<Vector256<T>> Widen(Vector256<T> v)
    {
        Wide<Vector256<T>> w = default;
        if (typeof(T) == typeof(float))
        {
            w.Lo = Vector256.WidenLower(v.AsSingle()).As<double, T>();
            w.Hi = Vector256.WidenUpper(v.AsSingle()).As<double, T>();
        }
        else
        {
            w.Lo = v;
        }
        return w;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateWidenedDifference(ref Wide<Vector256<T>> acc, Vector256<T> v, Wide<Vector256<T>> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> f = v.AsSingle();
            acc.Lo = (acc.Lo.AsDouble() + (Vector256.WidenLower(f) - k.Lo.AsDouble())).As<double, T>();
            acc.Hi = (acc.Hi.AsDouble() + (Vector256.WidenUpper(f) - k.Hi.AsDouble())).As<double, T>();
            return;
        }
        acc.Lo = (acc.Lo.AsDouble() + (v.AsDouble() - k.Lo.AsDouble())).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(ref Wide<Vector256<T>> acc) =>
        typeof(T) == typeof(float) ? Vector256.Sum(acc.Lo.AsDouble() + acc.Hi.AsDouble()) : Vector256.Sum(acc.Lo.AsDouble());

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWide(ref double d, nint i, ref Wide<Vector256<T>> acc)
    {
        (Vector256.LoadUnsafe(ref d, (nuint)i) + acc.Lo.AsDouble()).StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float))
            (Vector256.LoadUnsafe(ref d, (nuint)(i + 4)) + acc.Hi.AsDouble()).StoreUnsafe(ref d, (nuint)(i + 4));
    }
}

/// <summary>The 128-bit path (SSE on x86, AdvSimd on ARM64): <c>Vector128</c>, multiply-add and lane sums through <typeparamref name="TOps"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly partial struct V128<T, TOps> : ISimd<Vector128<T>, T> where T : unmanaged where TOps : struct, IVector128Ops
{
    /// <inheritdoc/>
    public static int Count { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector128<T>.Count; }

    /// <inheritdoc/>
    public static Vector128<T> Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector128<T>.Zero; }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Splat(T value) => Vector128.Create(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(ref T p, nint i) => Vector128.LoadUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> v, ref T p, nint i) => v.StoreUnsafe(ref p, (nuint)i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreStreaming(Vector128<T> v, ref T p, nint i) => v.StoreAlignedNonTemporal((T*)Unsafe.AsPointer(ref Unsafe.Add(ref p, i)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Add(Vector128<T> a, Vector128<T> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Subtract(Vector128<T> a, Vector128<T> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Multiply(Vector128<T> a, Vector128<T> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd(Vector128<T> a, Vector128<T> b, Vector128<T> c)
    {
        if (typeof(T) == typeof(float))
            return TOps.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return TOps.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LastLanes(nint lanes) =>
        typeof(T) == typeof(float) ? Tails.Last128(lanes).As<float, T>() : Tails.Last128Double(lanes).As<double, T>();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> And(Vector128<T> a, Vector128<T> mask) => a & mask;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Select(Vector128<T> mask, Vector128<T> a, Vector128<T> b) => Vector128.ConditionalSelect(mask, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWidened(Vector128<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle();
            return TOps.Sum(Vector128.WidenLower(f) + Vector128.WidenUpper(f));
        }
        return TOps.Sum(v.AsDouble());
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(ref double d, nint i, Vector128<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle();
            (Vector128.LoadUnsafe(ref d, (nuint)i) + Vector128.WidenLower(f)).StoreUnsafe(ref d, (nuint)i);
            (Vector128.LoadUnsafe(ref d, (nuint)(i + 2)) + Vector128.WidenUpper(f)).StoreUnsafe(ref d, (nuint)(i + 2));
            return;
        }
        (Vector128.LoadUnsafe(ref d, (nuint)i) + v.AsDouble()).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidenedDifference(ref double d, nint i, Vector128<T> v, Vector128<T> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle(), g = k.AsSingle();
            (Vector128.LoadUnsafe(ref d, (nuint)i) + (Vector128.WidenLower(f) - Vector128.WidenLower(g))).StoreUnsafe(ref d, (nuint)i);
            (Vector128.LoadUnsafe(ref d, (nuint)(i + 2)) + (Vector128.WidenUpper(f) - Vector128.WidenUpper(g))).StoreUnsafe(ref d, (nuint)(i + 2));
            return;
        }
        (Vector128.LoadUnsafe(ref d, (nuint)i) + (v.AsDouble() - k.AsDouble())).StoreUnsafe(ref d, (nuint)i);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Wide<Vector128<T>> Widen(Vector128<T> v)
    {
        Wide<Vector128<T>> w = default;
        if (typeof(T) == typeof(float))
        {
            w.Lo = Vector128.WidenLower(v.AsSingle()).As<double, T>();
            w.Hi = Vector128.WidenUpper(v.AsSingle()).As<double, T>();
        }
        else
        {
            w.Lo = v;
        }
        return w;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateWidenedDifference(ref Wide<Vector128<T>> acc, Vector128<T> v, Wide<Vector128<T>> k)
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> f = v.AsSingle();
            acc.Lo = (acc.Lo.AsDouble() + (Vector128.WidenLower(f) - k.Lo.AsDouble())).As<double, T>();
            acc.Hi = (acc.Hi.AsDouble() + (Vector128.WidenUpper(f) - k.Hi.AsDouble())).As<double, T>();
            return;
        }
        acc.Lo = (acc.Lo.AsDouble() + (v.AsDouble() - k.Lo.AsDouble())).As<double, T>();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(ref Wide<Vector128<T>> acc) =>
        typeof(T) == typeof(float) ? TOps.Sum(acc.Lo.AsDouble() + acc.Hi.AsDouble()) : TOps.Sum(acc.Lo.AsDouble());

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWide(ref double d, nint i, ref Wide<Vector128<T>> acc)
    {
        (Vector128.LoadUnsafe(ref d, (nuint)i) + acc.Lo.AsDouble()).StoreUnsafe(ref d, (nuint)i);
        if (typeof(T) == typeof(float))
            (Vector128.LoadUnsafe(ref d, (nuint)(i + 2)) + acc.Hi.AsDouble()).StoreUnsafe(ref d, (nuint)(i + 2));
    }
}

/// <summary>The scalar path: one element per "vector", multiply then add (two roundings).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly partial struct Scalar<T> : ISimd<T, T> where T : unmanaged
{
    /// <inheritdoc/>
    public static int Count { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 1; }

    /// <inheritdoc/>
    public static T Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => default; }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Splat(T value) => value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(ref T p, nint i) => Unsafe.Add(ref p, i);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T v, ref T p, nint i) => Unsafe.Add(ref p, i) = v;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStreaming(T v, ref T p, nint i) => Unsafe.Add(ref p, i) = v;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) =>
        typeof(T) == typeof(float) ? F(S(a) + S(b)) : D(Dbl(a) + Dbl(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Subtract(T a, T b) =>
        typeof(T) == typeof(float) ? F(S(a) - S(b)) : D(Dbl(a) - Dbl(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Multiply(T a, T b) =>
        typeof(T) == typeof(float) ? F(S(a) * S(b)) : D(Dbl(a) * Dbl(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MultiplyAdd(T a, T b, T c) =>
        typeof(T) == typeof(float) ? F(S(a) * S(b) + S(c)) : D(Dbl(a) * Dbl(b) + Dbl(c));

    /// <summary>Never used: the scalar path has no partial vector.</summary>
    public static T LastLanes(nint lanes) => throw new System.NotSupportedException();

    /// <summary>Never used: the scalar path has no partial vector.</summary>
    public static T And(T a, T mask) => throw new System.NotSupportedException();

    /// <summary>Never used: the scalar path has no partial vector.</summary>
    public static T Select(T mask, T a, T b) => throw new System.NotSupportedException();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWidened(T v) => typeof(T) == typeof(float) ? S(v) : Dbl(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(ref double d, nint i, T v) => Unsafe.Add(ref d, i) += SumWidened(v);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidenedDifference(ref double d, nint i, T v, T k) => Unsafe.Add(ref d, i) += SumWidened(v) - SumWidened(k);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Wide<T> Widen(T v)
    {
        Wide<T> w = default;
        Unsafe.As<Wide<T>, double>(ref w) = SumWidened(v);
        return w;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateWidenedDifference(ref Wide<T> acc, T v, Wide<T> k) =>
        Unsafe.As<Wide<T>, double>(ref acc) += SumWidened(v) - Unsafe.As<Wide<T>, double>(ref k);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(ref Wide<T> acc) => Unsafe.As<Wide<T>, double>(ref acc);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWide(ref double d, nint i, ref Wide<T> acc) => Unsafe.Add(ref d, i) += Unsafe.As<Wide<T>, double>(ref acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float S(T v) => Unsafe.As<T, float>(ref v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dbl(T v) => Unsafe.As<T, double>(ref v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T F(float v) => Unsafe.As<float, T>(ref v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T D(double v) => Unsafe.As<double, T>(ref v);
}
