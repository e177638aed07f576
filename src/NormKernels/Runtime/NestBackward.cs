using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>
/// A layer's backward on its plan's driver: <see cref="AffineBackward{TNest, TK, T}"/> when the nest's
/// <see cref="ILayerNest{TSelf, T}.GradientPerStatistic"/> says so, else <see cref="Backward{TNest, TK, T}"/>. The choice is a
/// constant of the nest type, so the JIT compiles one driver per layer and the generated code holds no forwarding method.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NestBackward<TNest, T>
    where TNest : struct, ILayerNest<TNest, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The backward of the plan; <paramref name="meanResidual"/>, when given, is the training forward's mean - (T)mean
    /// per statistic; <paramref name="addend"/>, when given, is added to dx (the per-statistic driver adds it block by block
    /// where it can, see AffineBackward's AddsInApply; otherwise a pass of its own after the backward).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static KernelPath Run<TK, TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad,
        ReadOnlySpan<T> meanResidual, ReadOnlySpan<T> addend = default)
        where TK : struct, INormKind where TOps : struct, IVector128Ops
    {
        if (TNest.GradientPerStatistic)
            return AffineBackward<TNest, TK, T>.Run<TOps>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad,
                meanResidual, addend);
        KernelPath ran = Backward<TNest, TK, T>.Run<TOps>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad,
            meanResidual);
        if (!addend.IsEmpty) Elementwise.Add(inputGrad, addend, inputGrad);
        return ran;
    }

    /// <summary>The synchronized backward's first step (plans with <see cref="LayerFeatures.Synchronized"/>).</summary>
    public static KernelPath Sums<TK, TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> mean, Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered)
        where TK : struct, INormKind where TOps : struct, IVector128Ops =>
        Synchronized
            ? Backward<TNest, TK, T>.Sums<TOps>(path, nest, input, outputGrad, gamma, mean, count, sumGrad, sumGradCentered)
            : throw NestBackward.NotSynchronized(TNest.Shape);

    /// <summary>The synchronized backward's second step (plans with <see cref="LayerFeatures.Synchronized"/>).</summary>
    public static KernelPath WithSums<TK, TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad,
        ReadOnlySpan<double> sumGradCentered, Span<T> weightGrad, Span<T> biasGrad)
        where TK : struct, INormKind where TOps : struct, IVector128Ops =>
        Synchronized
            ? Backward<TNest, TK, T>.WithSums<TOps>(path, nest, input, outputGrad, inputGrad, gamma, mean, variance, epsilon, count, sumGrad, sumGradCentered,
                weightGrad, biasGrad)
            : throw NestBackward.NotSynchronized(TNest.Shape);

    /// <summary>Synchronized plans sum per fold index (the planner gives them no per-statistic gradient).</summary>
    private static bool Synchronized => !TNest.GradientPerStatistic && (TNest.Shape.Features & LayerFeatures.Synchronized) != 0;
}

/// <summary>The exceptions of <see cref="NestBackward{TNest, T}"/> and of the gradient methods a nest leaves to
/// <see cref="ILayerNest{TSelf, T}"/>.</summary>
internal static class NestBackward
{
    /// <summary>A gradient method of the driver the plan does not take (never called by the runtime).</summary>
    public static NotSupportedException OtherDriver() =>
        new("This nest's plan takes the other backward driver (ILayerNest.GradientPerStatistic); its gradient methods are the ones it implements.");

    public static NotSupportedException NotSynchronized(LayerShape shape) =>
        new($"{shape.TypeName} has no synchronized backward (BackwardStatistics, BackwardWithStatistics): its plan does not reduce N.");
}
