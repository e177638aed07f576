using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>
/// Shifted loads: a run that does not start on a vector boundary read as aligned vectors, each of its vectors put together
/// from two neighbours by a two-source permute, so that no load straddles two cache lines and every vector holds exactly
/// the lanes a plain load at the run's own offsets would (the same sums, the same bits). On AMD Zen 5 a 512-bit load that
/// straddles two lines of data coming from L3 or memory is slow enough that InstanceNorm NCHW S3 took 300 us with its
/// tensor 4 bytes off a 64-byte boundary against 190 us on one. Only the 512-bit path shifts: a 256-bit or narrower load
/// straddles a line at most every other vector, and AVX2 has no two-source permute across its 128-bit halves.
/// </summary>
public partial interface ISimd<TV, T>
{
    /// <summary>Whether <see cref="Shift"/> is available (the 512-bit path).</summary>
    static abstract bool Shifts { get; }

    /// <summary>The permute for a run <paramref name="offset"/> lanes past a vector boundary (0 &lt; offset &lt; Count).</summary>
    static abstract TV ShiftIndices(nint offset);

    /// <summary>Lanes offset..Count-1 of <paramref name="low"/> then lanes 0..offset-1 of <paramref name="high"/>, the offset
    /// as <see cref="ShiftIndices"/> made <paramref name="indices"/>.</summary>
    static abstract TV Shift(TV low, TV high, TV indices);
}

/// <summary>The shifted loads of the 512-bit path: <c>vpermt2ps</c> / <c>vpermt2pd</c>.</summary>
public readonly partial struct V512<T>
{
    /// <inheritdoc/>
    public static bool Shifts { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Avx512F.IsSupported; }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ShiftIndices(nint offset) =>
        typeof(T) == typeof(float)
            ? (Vector512<int>.Indices + Vector512.Create((int)offset)).As<int, T>()
            : (Vector512<long>.Indices + Vector512.Create((long)offset)).As<long, T>();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Shift(Vector512<T> low, Vector512<T> high, Vector512<T> indices) =>
        typeof(T) == typeof(float)
            ? Avx512F.PermuteVar16x32x2(low.AsSingle(), indices.AsInt32(), high.AsSingle()).As<float, T>()
            : Avx512F.PermuteVar8x64x2(low.AsDouble(), indices.AsInt64(), high.AsDouble()).As<double, T>();
}

/// <summary>No shifted loads on the 256-bit path (see <see cref="ISimd{TV, T}.Shifts"/>).</summary>
public readonly partial struct V256<T>
{
    /// <inheritdoc/>
    public static bool Shifts => false;

    /// <inheritdoc/>
    public static Vector256<T> ShiftIndices(nint offset) => throw new System.NotSupportedException();

    /// <inheritdoc/>
    public static Vector256<T> Shift(Vector256<T> low, Vector256<T> high, Vector256<T> indices) => throw new System.NotSupportedException();
}

/// <summary>No shifted loads on the 128-bit path.</summary>
public readonly partial struct V128<T, TOps>
{
    /// <inheritdoc/>
    public static bool Shifts => false;

    /// <inheritdoc/>
    public static Vector128<T> ShiftIndices(nint offset) => throw new System.NotSupportedException();

    /// <inheritdoc/>
    public static Vector128<T> Shift(Vector128<T> low, Vector128<T> high, Vector128<T> indices) => throw new System.NotSupportedException();
}

/// <summary>No shifted loads on the scalar path.</summary>
public readonly partial struct Scalar<T>
{
    /// <inheritdoc/>
    public static bool Shifts => false;

    /// <inheritdoc/>
    public static T ShiftIndices(nint offset) => throw new System.NotSupportedException();

    /// <inheritdoc/>
    public static T Shift(T low, T high, T indices) => throw new System.NotSupportedException();
}
