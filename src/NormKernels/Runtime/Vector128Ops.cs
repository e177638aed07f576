using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>
/// The two operations of the 128-bit path whose best instruction differs between x86 and ARM64.
/// Everything else in that path is the portable <see cref="Vector128"/> API. Generated kernels take
/// the implementation as a struct type parameter, so the JIT specializes and inlines it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IVector128Ops
{
    /// <summary><c>a * b + c</c>; fused where the hardware has it.</summary>
    static abstract Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c);

    /// <summary><c>a * b + c</c> on doubles; fused where the hardware has it.</summary>
    static abstract Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> c);

    /// <summary>The sum of both lanes.</summary>
    static abstract double Sum(Vector128<double> v);
}

/// <summary>x86: FMA3 when the CPU has it (fused), otherwise SSE multiply then add (two roundings).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct X86Vector128Ops : IVector128Ops
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sum(Vector128<double> v) => v.GetElement(0) + v.GetElement(1);
}

/// <summary>
/// The AdvSimd instructions the ARM64 path uses, behind an interface so that the path's logic
/// (argument order, lane handling) can be run on x86 with a software stand-in of these exact
/// instruction semantics. Production code uses <see cref="AdvSimdIntrinsics"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IAdvSimdIntrinsics
{
    /// <summary>FMLA: <c>addend + left * right</c>, one rounding (note the addend comes first, unlike x86 FMA).</summary>
    static abstract Vector128<float> FusedMultiplyAdd(Vector128<float> addend, Vector128<float> left, Vector128<float> right);

    /// <summary>FMLA (2D): <c>addend + left * right</c> on doubles, one rounding.</summary>
    static abstract Vector128<double> FusedMultiplyAdd(Vector128<double> addend, Vector128<double> left, Vector128<double> right);

    /// <summary>FADDP (scalar): the sum of the two lanes, in lane 0 of a 64-bit vector.</summary>
    static abstract Vector64<double> AddPairwiseScalar(Vector128<double> value);
}

/// <summary>The real AdvSimd instructions (ARM64 only; never called on x86).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AdvSimdIntrinsics : IAdvSimdIntrinsics
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> FusedMultiplyAdd(Vector128<float> addend, Vector128<float> left, Vector128<float> right) =>
        AdvSimd.FusedMultiplyAdd(addend, left, right);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> FusedMultiplyAdd(Vector128<double> addend, Vector128<double> left, Vector128<double> right) =>
        AdvSimd.Arm64.FusedMultiplyAdd(addend, left, right);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector64<double> AddPairwiseScalar(Vector128<double> value) => AdvSimd.Arm64.AddPairwiseScalar(value);
}

/// <summary>ARM64: always-fused FMLA and a pairwise add across lanes, through <typeparamref name="TArm"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AdvSimdVector128Ops<TArm> : IVector128Ops where TArm : struct, IAdvSimdIntrinsics
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        TArm.FusedMultiplyAdd(c, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> c) =>
        TArm.FusedMultiplyAdd(c, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sum(Vector128<double> v) => TArm.AddPairwiseScalar(v).ToScalar();
}
