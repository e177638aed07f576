using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

// Fused epilogues: what follows the norm in the same pass. An activation and the residual added after the norm run inside
// the apply (Runs.Expression asks the layer's kind, TK, for them); the residual added before the norm is a pass of its own
// before the statistics. The kind of a fused layer is Fused<TBase, TAct, TRes>: the norm it is built on, its activation and
// whether the apply adds a residual. The drivers and nests take it like any kind; the runs fold what it says.

/// <summary>An activation after the norm: <c>y = act(z)</c> and its gradient <c>dz = dy * act'(z)</c>, on any path.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IActivation
{
    /// <summary><c>act(z)</c> per lane.</summary>
    static abstract TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged;

    /// <summary><c>dy * act'(z)</c> per lane.</summary>
    static abstract TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged;
}

/// <summary>No activation.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Identity : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => z;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => dy;
}

/// <summary><c>F.relu</c>: <c>max(z, 0)</c>; gradient <c>dy</c> where z &gt; 0, else 0 (PyTorch's threshold_backward).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Relu : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TS.Max(z, TS.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TS.WherePositive(z, dy);
}

/// <summary><c>F.silu</c>: <c>z * sigmoid(z)</c>; gradient <c>dy * s * (1 + z * (1 - s))</c>, s = sigmoid(z).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Silu : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged =>
        TS.Divide(Activations.SigmoidFactor<TS, TV, T>(z), TS.Add(Activations.C<TS, TV, T>(1), TS.Exp(TS.Subtract(TS.Zero, z))));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        TV one = Activations.C<TS, TV, T>(1);
        TV s = TS.Divide(one, TS.Add(one, TS.Exp(TS.Subtract(TS.Zero, z))));
        return TS.Multiply(dy, TS.Multiply(s, TS.MultiplyAdd(Activations.SigmoidFactor<TS, TV, T>(z), TS.Subtract(one, s), one)));
    }
}

/// <summary><c>F.gelu</c> (erf): <c>z * Phi(z)</c>, Phi(z) = (1 + erf(z / sqrt 2)) / 2; gradient <c>dy * (Phi(z) + z * phi(z))</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Gelu : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged =>
        TS.Multiply(z, Phi<TS, TV, T>(z));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        // phi(z) = exp(-z^2 / 2) / sqrt(2 pi), taken as 0 from z^2 = 175 on (below 1e-38: the float exponential stops at its
        // clamp, about 1.2e-38, and z * phi(z) would grow again for |z| past 1e36).
        TV z2 = TS.Multiply(z, z);
        TV phi = TS.Multiply(Activations.C<TS, TV, T>(0.3989422804014327), TS.Exp(TS.Multiply(z2, Activations.C<TS, TV, T>(-0.5))));
        phi = TS.WherePositive(TS.Subtract(Activations.C<TS, TV, T>(175), z2), phi);
        return TS.Multiply(dy, TS.MultiplyAdd(z, phi, Phi<TS, TV, T>(z)));
    }

    /// <summary>Phi(z) = (1 + erf(x)) / 2, x = z / sqrt 2, as erfc(|x|) / 2 for z &lt;= 0 and 1 - erfc(|x|) / 2 above, so the
    /// left tail keeps erfc's relative precision (1 + erf(x) there loses it to cancellation: GELU at z = -3.4 was 5e-5 off
    /// in relative terms, at z = -5 about 10%, as float PyTorch's is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Phi<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            TV r = z;
            ref double lanes = ref Unsafe.As<TV, double>(ref r);
            for (int i = 0; i < TS.Count; i++)
            {
                double zi = Unsafe.Add(ref lanes, i), tail = 0.5 * Activations.ErfcDouble(Math.Abs(zi) * 0.7071067811865476);
                Unsafe.Add(ref lanes, i) = zi > 0 ? 1 - tail : tail;
            }
            return r;
        }
        TV x = TS.Multiply(z, Activations.C<TS, TV, T>(0.7071067811865476));
        TV c = TS.Multiply(Activations.ErfcOfAbs<TS, TV, T>(TS.Abs(x)), Activations.C<TS, TV, T>(0.5));
        return TS.Add(c, TS.WherePositive(z, TS.MultiplyAdd(c, Activations.C<TS, TV, T>(-2), Activations.C<TS, TV, T>(1))));
    }
}

/// <summary>
/// <c>F.gelu(approximate="tanh")</c>: <c>z / 2 * (1 + tanh(u))</c>, u = sqrt(2 / pi) * (z + 0.044715 z^3), computed as
/// <c>z * sigmoid(2u)</c> (the same function: (1 + tanh(u)) / 2 = 1 / (1 + e^(-2u))), which has no cancellation where
/// tanh(u) is near -1 and costs what SiLU costs. Gradient <c>s + z / 2 * (1 - tanh(u)^2) * du/dz</c> with s = sigmoid(2u)
/// and 1 - tanh(u)^2 = 4 s (1 - s) = 4 e^(-2u) s^2: no cancellation either (tanh as 1 - 2 / (e^(2u) + 1), rounded to one
/// ulp off -1 by the 256-bit path's reciprocal estimate, made the gradient at z = -100 -0.013 instead of 0). Where z^3 overflows
/// (|z| above about 7e12) the gradient is not finite, as PyTorch's is not (NaN).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GeluTanh : IActivation
{
    private const double K = 0.7978845608028654, Cubic = 0.044715;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged =>
        TS.Divide(Activations.SigmoidFactor<TS, TV, T>(z), TS.Add(Activations.C<TS, TV, T>(1), TS.Exp(TS.Subtract(TS.Zero, TwoU<TS, TV, T>(z)))));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        TV one = Activations.C<TS, TV, T>(1);
        // e^(-2u) at most e^80 (finite on every path, so e s stays at most 1 and s^2 e at most s).
        TV e = TS.Exp(TS.Subtract(TS.Zero, TS.Max(TwoU<TS, TV, T>(z), Activations.C<TS, TV, T>(-80))));
        TV s = TS.Divide(one, TS.Add(one, e));
        // z / 2 * 4 s^2 e * du/dz, du/dz = K (1 + 3 c z^2).
        TV zdu = TS.Multiply(z, TS.MultiplyAdd(TS.Multiply(z, z), Activations.C<TS, TV, T>(3 * Cubic), one));
        TV sech2 = TS.Multiply(TS.Multiply(e, s), s);
        return TS.Multiply(dy, TS.MultiplyAdd(TS.Multiply(zdu, Activations.C<TS, TV, T>(2 * K)), sech2, s));
    }

    /// <summary><c>2u = 2 K (z + c z^3) = z * (2 K + 2 K c z^2)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV TwoU<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged =>
        TS.Multiply(z, TS.MultiplyAdd(TS.Multiply(z, z), Activations.C<TS, TV, T>(2 * K * Cubic), Activations.C<TS, TV, T>(2 * K)));
}

/// <summary>Whether the apply adds a residual (<c>ResidualMode.AddAfterNorm</c>) before the activation.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IResidual
{
    /// <summary>True when the apply adds the residual.</summary>
    static abstract bool Adds { get; }
}

/// <summary>The apply adds no residual (no residual, or one added before the norm by a pass of its own).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct NoResidual : IResidual
{
    /// <inheritdoc/>
    public static bool Adds => false;
}

/// <summary>The residual is added before the norm: <c>sum = x + residual</c> written by a pass of its own, then the norm over the
/// sum (the layer's forward does the add; the apply adds nothing).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AddBeforeNorm : IResidual
{
    /// <inheritdoc/>
    public static bool Adds => false;
}

/// <summary>The apply adds the residual: <c>y = act(norm(x) + residual)</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AddAfterNorm : IResidual
{
    /// <inheritdoc/>
    public static bool Adds => true;
}

/// <summary>
/// The kind of a fused layer: the norm <typeparamref name="TBase"/> (<see cref="StandardizeNorm"/> or
/// <see cref="RootMeanSquareNorm"/>) followed by <typeparamref name="TAct"/>, with the residual added in the apply when
/// <typeparamref name="TRes"/> says so.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Fused<TBase, TAct, TRes> : INormKind
    where TBase : struct, INormKind where TAct : struct, IActivation where TRes : struct, IResidual
{
    /// <inheritdoc/>
    public static bool Centered => TBase.Centered;

    /// <inheritdoc/>
    public static bool Epilogue => true;

    /// <inheritdoc/>
    public static bool AddsResidual => TRes.Adds;

    /// <inheritdoc/>
    public static bool IdentityGradient => typeof(TAct) == typeof(Identity);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Activate<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TAct.Apply<TS, TV, T>(z);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TAct.Gradient<TS, TV, T>(z, dy);
}

/// <summary>The math the activations share: constants, erfc and the sigmoid factor on any path.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Activations
{
    /// <summary><paramref name="value"/> in every lane, in the element type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV C<TS, TV, T>(double value) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            float f = (float)value;
            return TS.Splat(Unsafe.As<float, T>(ref f));
        }
        return TS.Splat(Unsafe.As<double, T>(ref value));
    }

    /// <summary>z as the factor of a sigmoid of z (SiLU, tanh-GELU): at least -100. Below that the float sigmoid stops at
    /// the exponential's clamp, about 4.7e-39, and z times it would grow again (SiLU(-1e30) came out -4.5e-9, where
    /// PyTorch gives -0); from -100 it is below 1e-36.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidFactor<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged =>
        TS.Max(z, C<TS, TV, T>(-100));

    /// <summary>erfc(z) for float lanes z &gt;= 0: <c>t * exp(-z^2 + P(t))</c>, t = 1 / (1 + z / 2), with the Chebyshev-fitted
    /// P of Numerical Recipes' erfcc (relative error below 1.2e-7, under float's rounding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ErfcOfAbs<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        TV one = C<TS, TV, T>(1);
        TV t = TS.Divide(one, TS.MultiplyAdd(z, C<TS, TV, T>(0.5), one));
        TV p = C<TS, TV, T>(0.17087277);
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(-0.82215223));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(1.48851587));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(-1.13520398));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(0.27886807));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(-0.18628806));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(0.09678418));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(0.37409196));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(1.00002368));
        p = TS.MultiplyAdd(p, t, C<TS, TV, T>(-1.26551223));
        return TS.Multiply(t, TS.Exp(TS.Subtract(p, TS.Multiply(z, z))));
    }

    /// <summary>erfc(a) in double for a &gt;= 0: below 3, 1 - erf(a) with erf from its series
    /// <c>2/sqrt(pi) e^(-a^2) sum (2a^2)^n a / (1*3*...*(2n+1))</c> (positive terms, no cancellation; erfc(3) = 2.2e-5, so
    /// at most 5e-12 relative is lost in 1 - erf); from 3 on its continued fraction (Laplace), evaluated from depth 60 back,
    /// at full relative precision down to where e^(-a^2) underflows. NaN stays NaN.</summary>
    public static double ErfcDouble(double a)
    {
        if (a < 3)
        {
            double a2 = 2 * a * a, term = a, sum = a;
            for (int n = 1; n < 200 && term > sum * 1e-17; n++)
            {
                term *= a2 / (2 * n + 1);
                sum += term;
            }
            return 1d - 1.1283791670955126 * Math.Exp(-a * a) * sum;
        }
        double f = a;
        for (int k = 60; k >= 1; k--) f = a + k / 2d / f;
        return Math.Exp(-a * a) / (1.7724538509055159 * f);
    }
}

/// <summary>The passes a fused layer adds around the norm's own: the residual added before it, and the backward's gradient
/// through the epilogue.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Epilogue<TK, T> where TK : struct, INormKind where T : unmanaged
{
    /// <summary>
    /// <c>g = dy * act'(z + r)</c> (r only when the kind adds a residual), elementwise on the path <paramref name="path"/>.
    /// <paramref name="g"/> may be <paramref name="z"/> or <paramref name="dy"/> (each element is read before it is written).
    /// </summary>
    public static void Gradient(KernelPath path, ReadOnlySpan<T> z, ReadOnlySpan<T> r, ReadOnlySpan<T> dy, Span<T> g)
    {
        ref T zr = ref MemoryMarshal.GetReference(z), rr = ref MemoryMarshal.GetReference(r), dyr = ref MemoryMarshal.GetReference(dy), gr = ref MemoryMarshal.GetReference(g);
        nint len = g.Length;
        switch (path)
        {
            case KernelPath.Vector512: Gradient<V512<T>, System.Runtime.Intrinsics.Vector512<T>>(ref zr, ref rr, ref dyr, ref gr, len); break;
            case KernelPath.Vector256: Gradient<V256<T>, System.Runtime.Intrinsics.Vector256<T>>(ref zr, ref rr, ref dyr, ref gr, len); break;
            case KernelPath.Vector128:
                if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) Gradient<V128<T, AdvSimdVector128Ops<AdvSimdIntrinsics>>, System.Runtime.Intrinsics.Vector128<T>>(ref zr, ref rr, ref dyr, ref gr, len);
                else Gradient<V128<T, X86Vector128Ops>, System.Runtime.Intrinsics.Vector128<T>>(ref zr, ref rr, ref dyr, ref gr, len);
                break;
            default: Gradient<Scalar<T>, T>(ref zr, ref rr, ref dyr, ref gr, len); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient<TS, TV>(ref T z, ref T r, ref T dy, ref T g, nint len) where TS : struct, ISimd<TV, T> where TV : struct
    {
        int w = TS.Count;
        nint i = 0;
        for (; i + w <= len; i += w)
        {
            TV v = TS.Load(ref z, i);
            if (TK.AddsResidual) v = TS.Add(v, TS.Load(ref r, i));
            TS.Store(TK.Gradient<TS, TV, T>(v, TS.Load(ref dy, i)), ref g, i);
        }
        // The last elements one by one on the scalar path (no overlapped vector: g may be z or dy).
        for (; i < len; i++)
        {
            T v = Unsafe.Add(ref z, i);
            if (TK.AddsResidual) v = Scalar<T>.Add(v, Unsafe.Add(ref r, i));
            Unsafe.Add(ref g, i) = TK.Gradient<Scalar<T>, T, T>(v, Unsafe.Add(ref dy, i));
        }
    }
}

/// <summary>
/// The backward of every layer, through its epilogue first when its kind has one: <c>g = dy * act'(z (+ r))</c>, z the
/// norm's output recomputed from the input and the statistics the forward used (nothing extra is kept), then the norm's own
/// backward with g as its output gradient. The residual added after the norm gets g as its gradient. Without an activation
/// g is dy itself: nothing is recomputed.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FusedBackward<TNest, TK, T>
    where TNest : struct, ILayerNest<TNest, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Plain kinds: the plan's backward. Fused kinds: the plain kind's backward (<see cref="StandardizeNorm"/> or
    /// <see cref="RootMeanSquareNorm"/>, the norm without its epilogue) from g. Arguments are checked by the caller.
    /// <paramref name="sumGrad"/>, when given (the residual added before the norm: the gradient reaching the sum from elsewhere),
    /// is added to dx, inside the backward's apply where the plan allows (see <see cref="NestBackward{TNest, T}.Run{TK, TOps}"/>).
    /// </summary>
    public static KernelPath Run<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        Span<T> residualGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant,
        T[]? meanResidual, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> sumGrad = default) where TOps : struct, IVector128Ops
    {
        if (!TK.Epilogue)
            return NestBackward<TNest, T>.Run<TK, TOps>(path, nest, input, outputGrad, inputGrad, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual,
                sumGrad);
        // The norm without its epilogue is the plain kind of the same centering, so its code is the plain layers' own. (A kind
        // of its own wrapping TK, Unfused<TK>, did the same arithmetic until 2026-12-04, but the JIT left the apply's
        // expression a call in that instantiation: the recomputed forward ran 3-4x slower than the plain one, and at tier 0
        // for the first ~100 calls.)
        return TK.Centered
            ? Through<StandardizeNorm, TOps>(path, nest, input, residual, outputGrad, inputGrad, residualGrad, weight, bias, stat0, stat1, epsilon, constant,
                meanResidual, weightGrad, biasGrad, sumGrad)
            : Through<RootMeanSquareNorm, TOps>(path, nest, input, residual, outputGrad, inputGrad, residualGrad, weight, bias, stat0, stat1, epsilon, constant,
                meanResidual, weightGrad, biasGrad, sumGrad);
    }

    /// <summary>
    /// With an activation: z into a buffer (<paramref name="residualGrad"/> when it overlaps none of the input, residual and
    /// output gradient; else <paramref name="inputGrad"/> when it overlaps neither input nor output gradient and there is no
    /// residual; else pooled), g over it in place, the backward of <typeparamref name="TB"/> from g, g copied to
    /// <paramref name="residualGrad"/> when it was not computed there. Without one (<see cref="INormKind.IdentityGradient"/>):
    /// the backward from dy, and dy copied to <paramref name="residualGrad"/> (<see cref="FromOutputGrad"/>).
    /// </summary>
    private static KernelPath Through<TB, TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad,
        Span<T> inputGrad, Span<T> residualGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon,
        bool constant, T[]? meanResidual, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> sumGrad) where TB : struct, INormKind where TOps : struct, IVector128Ops
    {
        if (TK.IdentityGradient)
            return FromOutputGrad<TB, TOps>(path, nest, input, outputGrad, inputGrad, residualGrad, weight, stat0, stat1, epsilon, constant, meanResidual,
                weightGrad, biasGrad, sumGrad);
        int length = input.Length;
        T[]? rented = null;
        Span<T> g;
        if (TK.AddsResidual && !residualGrad.Overlaps(input) && !residualGrad.Overlaps(residual) && !residualGrad.Overlaps(outputGrad))
            g = residualGrad;
        else if (!TK.AddsResidual && !inputGrad.Overlaps(input) && !inputGrad.Overlaps(outputGrad))
            g = inputGrad;
        else
            g = (rented = System.Buffers.ArrayPool<T>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            // The norm without its epilogue, on the forward's statistics (uncentered kinds keep the mean square in stat0).
            KernelPath widest = Kernels<TNest, TK, T>.Choose(nest, false), forward = path < widest ? path : widest;
            Forward<TNest, Recomputed<TB>, T>.Inference<TOps>(forward, nest, input, g, weight, bias, stat0, TK.Centered ? stat1 : stat0, epsilon, meanResidual);
            Epilogue<TK, T>.Gradient(forward, g, residual, outputGrad, g);
            KernelPath ran = NestBackward<TNest, T>.Run<TB, TOps>(path, nest, input, g, inputGrad, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad,
                meanResidual, sumGrad);
            if (TK.AddsResidual && rented is not null) g.CopyTo(residualGrad);
            return ran;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// g = dy: the backward of <typeparamref name="TB"/> from <paramref name="outputGrad"/>, and with the residual added after
    /// the norm dy into <paramref name="residualGrad"/> (<see cref="CopyDy"/>).
    /// </summary>
    private static KernelPath FromOutputGrad<TB, TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        Span<T> residualGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, T[]? meanResidual,
        Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> sumGrad) where TB : struct, INormKind where TOps : struct, IVector128Ops
    {
        DyCopy copy = CopyDy(input, outputGrad, inputGrad, residualGrad);
        T[]? rented = copy == DyCopy.Pooled ? System.Buffers.ArrayPool<T>.Shared.Rent(input.Length) : null;
        try
        {
            ReadOnlySpan<T> dy = Before(copy, outputGrad, residualGrad, rented);
            KernelPath ran = NestBackward<TNest, T>.Run<TB, TOps>(path, nest, input, dy, inputGrad, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad,
                meanResidual, sumGrad);
            After(copy, dy, residualGrad);
            return ran;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// A fused BatchNorm-like layer without an activation whose plain twin's backward is <see cref="ExpandedBackward{TK, T}"/>
    /// (<c>StandardizeNorm</c>; the caller checked it applies): that backward from dy, dy into <paramref name="residualGrad"/>
    /// with the residual after the norm. The nest's backward took 2.2x as long (BatchNorm NCHW S2 with the residual added
    /// before it, 305-344 against 141-143 us for the plain layer; AMD Zen 5, 1 thread, 2026-12-04).
    /// </summary>
    public static KernelPath Expanded(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad,
        Span<T> inputGrad, Span<T> residualGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, Span<T> weightGrad,
        Span<T> biasGrad, ReadOnlySpan<T> meanResidual)
    {
        DyCopy copy = TK.AddsResidual ? CopyDy(input, outputGrad, inputGrad, residualGrad) : DyCopy.None;
        T[]? rented = copy == DyCopy.Pooled ? System.Buffers.ArrayPool<T>.Shared.Rent(input.Length) : null;
        try
        {
            ReadOnlySpan<T> dy = Before(copy, outputGrad, residualGrad, rented);
            KernelPath ran = ExpandedBackward<StandardizeNorm, T>.Run(path, shape, dims, input, dy, inputGrad, weight, mean, variance, epsilon, weightGrad,
                biasGrad, meanResidual);
            After(copy, dy, residualGrad);
            return ran;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>How dy reaches the residual's gradient around a backward from dy (<see cref="CopyDy"/>).</summary>
    private enum DyCopy
    {
        /// <summary>Nothing to copy: no residual after the norm, or its gradient is dy itself.</summary>
        None,

        /// <summary>Copied before the backward (the gradient overlaps neither the input nor dy).</summary>
        Before,

        /// <summary>Copied after it (the gradient is the input, which the backward reads; dx is not dy).</summary>
        After,

        /// <summary>Through a pooled copy (the gradient is the input and dx is dy: dy is gone when the backward ends).</summary>
        Pooled,
    }

    /// <summary>Where dy goes into <paramref name="residualGrad"/>: before the backward unless it is the input (partial overlaps
    /// are refused by the caller), then after it, from a pooled copy of dy when <paramref name="inputGrad"/> is dy too.</summary>
    private static DyCopy CopyDy(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad)
    {
        if (!TK.AddsResidual || Unsafe.AreSame(ref MemoryMarshal.GetReference(residualGrad), ref Unsafe.AsRef(in MemoryMarshal.GetReference(outputGrad))))
            return DyCopy.None;
        if (!residualGrad.Overlaps(input)) return DyCopy.Before;
        return inputGrad.Overlaps(outputGrad) ? DyCopy.Pooled : DyCopy.After;
    }

    /// <summary>The copy before the backward; returns the dy the backward reads (the pooled copy for <see cref="DyCopy.Pooled"/>).</summary>
    private static ReadOnlySpan<T> Before(DyCopy copy, ReadOnlySpan<T> outputGrad, Span<T> residualGrad, T[]? rented)
    {
        if (copy == DyCopy.Before) outputGrad.CopyTo(residualGrad);
        if (copy != DyCopy.Pooled) return outputGrad;
        Span<T> dy = rented.AsSpan(0, outputGrad.Length);
        outputGrad.CopyTo(dy);
        return dy;
    }

    /// <summary>The copy after the backward, from the dy it read.</summary>
    private static void After(DyCopy copy, ReadOnlySpan<T> dy, Span<T> residualGrad)
    {
        if (copy is DyCopy.After or DyCopy.Pooled) dy.CopyTo(residualGrad);
    }
}
