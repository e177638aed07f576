using System;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

#pragma warning disable CS1591 // For generated code only: the members mirror the generated layers' static kernels, documented there.

// The static kernels of residual layers (ResidualMode): the instance forms' checks and passes on caller-owned buffers.
// AddAfterNorm takes the residual in the apply (its byte offset from the input on the nest, both pinned); AddBeforeNorm
// writes the sum first and normalizes it. `sum` is empty for AddAfterNorm, `residual`/`residualGrad` for the backward
// of AddBeforeNorm.
public abstract partial class Kernels<TNest, TK, T>
{
    public static KernelPath ForwardResidualTraining(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> stat0, Span<T> stat1, T epsilon) =>
        Arm ? ForwardResidualTraining<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, residual, output, sum, dims, weight, bias, stat0, stat1, epsilon)
            : ForwardResidualTraining<X86Vector128Ops>(KernelPath.None, input, residual, output, sum, dims, weight, bias, stat0, stat1, epsilon);

    public static KernelPath ForwardResidualTraining<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum,
        ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> stat0, Span<T> stat1, T epsilon) where TOps : struct, IVector128Ops
    {
        CheckKernel(input, output, dims, weight.Length, bias.Length, stat0.Length, stat1.Length, epsilon, training: true);
        var outputs = Shape.Outputs;
        Checks.StatisticsOutputs(input, output, stat0, outputs[0], outputs.Length > 1 ? stat1 : default, outputs.Length > 1 ? outputs[1] : null);
        CheckResidualForward(input, residual, output, sum);
        if (!TK.AddsResidual) Checks.StatisticsOutputs(residual, sum, stat0, outputs[0], outputs.Length > 1 ? stat1 : default, outputs.Length > 1 ? outputs[1] : null);
        return ForwardResidual<TOps>(path, true, input, residual, output, sum, dims, weight, bias, stat0, stat1, epsilon);
    }

    public static KernelPath ForwardResidualInference(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) =>
        Arm ? ForwardResidualInference<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, residual, output, sum, dims, weight, bias, mean, variance, epsilon)
            : ForwardResidualInference<X86Vector128Ops>(KernelPath.None, input, residual, output, sum, dims, weight, bias, mean, variance, epsilon);

    public static KernelPath ForwardResidualInference<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum,
        ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) where TOps : struct, IVector128Ops
    {
        CheckKernel(input, output, dims, weight.Length, bias.Length, mean.Length, variance.Length, epsilon, training: false);
        CheckResidualForward(input, residual, output, sum);
        // The statistics are only read; the drivers take them as spans.
        Span<T> m = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(mean), mean.Length);
        Span<T> v = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(variance), variance.Length);
        return ForwardResidual<TOps>(path, false, input, residual, output, sum, dims, weight, bias, m, v, epsilon);
    }

    private static void CheckResidualForward(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum)
    {
        Checks.Length(residual.Length, input.Length, nameof(residual), Shape.DimsText);
        if (TK.AddsResidual)
        {
            Checks.NoPartialOverlap(residual, output, nameof(output), nameof(residual));
            return;
        }
        Checks.Length(sum.Length, input.Length, nameof(sum), Shape.DimsText);
        Checks.NoPartialOverlap(input, sum, nameof(sum));
        Checks.NoPartialOverlap(residual, sum, nameof(sum), nameof(residual));
        Checks.NoPartialOverlap(residual, output, nameof(output), nameof(residual));
        Checks.NoPartialOverlap(sum, output, nameof(output), nameof(sum));
    }

    private static unsafe KernelPath ForwardResidual<TOps>(KernelPath path, bool training, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output,
        Span<T> sum, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> stat0, Span<T> stat1, T epsilon) where TOps : struct, IVector128Ops
    {
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, Choose(nest, training));
        if (!TK.AddsResidual)
        {
            Elementwise.Add(input, residual, sum);
            input = sum;
        }
        fixed (T* x = input)
        fixed (T* r = residual)
        {
            if (TK.AddsResidual) nest = TNest.WithResidual(nest, (nint)((byte*)r - (byte*)x));
            return training
                ? Forward<TNest, TK, T>.Training<TOps>(path, nest, input, output, weight, bias, stat0, stat1, epsilon, null)
                : Forward<TNest, TK, T>.Inference<TOps>(path, nest, input, output, weight, bias, stat0, stat1, epsilon, null);
        }
    }

    /// <summary>The static backward of a residual layer: AddAfterNorm (<paramref name="residual"/>, <paramref name="residualGrad"/>)
    /// or AddBeforeNorm (<paramref name="input"/> is the sum; <paramref name="sumGrad"/>, empty for zero, is added to inputGrad).</summary>
    public static KernelPath BackwardResidual(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad,
        ReadOnlySpan<T> sumGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon,
        bool constant, Span<T> weightGrad, Span<T> biasGrad) =>
        Arm ? BackwardResidual<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, residual, outputGrad, inputGrad, residualGrad, sumGrad, dims, weight, bias,
                stat0, stat1, epsilon, constant, weightGrad, biasGrad)
            : BackwardResidual<X86Vector128Ops>(KernelPath.None, input, residual, outputGrad, inputGrad, residualGrad, sumGrad, dims, weight, bias,
                stat0, stat1, epsilon, constant, weightGrad, biasGrad);

    public static KernelPath BackwardResidual<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        Span<T> residualGrad, ReadOnlySpan<T> sumGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0,
        ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad) where TOps : struct, IVector128Ops
    {
        CheckBackward(input, outputGrad, inputGrad, dims, weight.Length, stat0.Length, stat1.Length, epsilon, weightGrad.Length, biasGrad.Length, constant);
        Checks.VectorLength(bias.Length, weight.Length, nameof(bias), "one per weight");
        Checks.GradientOutputs(inputGrad, weightGrad, biasGrad);
        string dimsText = Shape.DimsText;
        if (TK.AddsResidual)
        {
            Checks.Length(residual.Length, input.Length, nameof(residual), dimsText);
            Checks.Length(residualGrad.Length, input.Length, nameof(residualGrad), dimsText);
            Checks.Disjoint<T>(inputGrad, residualGrad, nameof(residualGrad), nameof(inputGrad));
            Checks.NoPartialOverlap(residual, inputGrad, nameof(inputGrad), nameof(residual));
            Checks.NoPartialOverlap(outputGrad, residualGrad, nameof(residualGrad), nameof(outputGrad));
            Checks.NoPartialOverlap(input, residualGrad, nameof(residualGrad), nameof(input));
            Checks.NoPartialOverlap(residual, residualGrad, nameof(residualGrad), nameof(residual));
            Checks.Disjoint<T>(residualGrad, weightGrad, nameof(weightGrad), nameof(residualGrad));
            Checks.Disjoint<T>(residualGrad, biasGrad, nameof(biasGrad), nameof(residualGrad));
        }
        else if (!sumGrad.IsEmpty)
        {
            Checks.Length(sumGrad.Length, input.Length, nameof(sumGrad), dimsText);
            Checks.Disjoint(sumGrad, inputGrad, nameof(inputGrad), nameof(sumGrad));
        }
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, ChooseBackward(nest));
        KernelPath ran = FusedBackward<TNest, TK, T>.Run<TOps>(path, nest, input, TK.AddsResidual ? residual : default, outputGrad, inputGrad,
            TK.AddsResidual ? residualGrad : default, weight, bias, stat0, stat1, epsilon, constant, null, weightGrad, biasGrad, TK.AddsResidual ? default : sumGrad);
        return ran;
    }
}
