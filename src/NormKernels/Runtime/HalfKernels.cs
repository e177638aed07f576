using System;
using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' static kernels, documented there.
#pragma warning disable CS1591

/// <summary>
/// The static kernels of a layer declared with <c>ElementType = typeof(Half)</c>: Half tensors, float parameters and
/// statistics, on the float kernels of the same plan (<see cref="Kernels{TNest, TK, T}"/>) through <see cref="HalfScratch"/>,
/// except an elementwise inference (<see cref="HalfAffine"/>), which runs on the Half tensors directly.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class HalfKernels<TNest, TK>
    where TNest : struct, ILayerNest<TNest, float> where TK : struct, INormKind
{
    protected HalfKernels() { }

    private static LayerShape Shape => TNest.Shape;

    public static int StatisticCount(ReadOnlySpan<int> dims) => Shape.StatisticCount(dims);

    public static KernelPath ForwardTraining(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> stat0, Span<float> stat1, float epsilon) =>
        ForwardCopies(true, input, output, dims, weight, bias, stat0, stat1, epsilon);

    /// <summary>A forward on float copies: the float kernel (training, or inference with <paramref name="stat0"/> and
    /// <paramref name="stat1"/> read as the mean and variance) on the widened input, the output rounded after it returned.</summary>
    private static KernelPath ForwardCopies(bool training, ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> stat0, Span<float> stat1, float epsilon)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), y = output.Length == input.Length ? x : scratch.Out(output.Length);
            KernelPath path = training
                ? Kernels<TNest, TK, float>.ForwardTraining(x, y, dims, weight, bias, stat0, stat1, epsilon)
                : Kernels<TNest, TK, float>.ForwardInference(x, y, dims, weight, bias, stat0, stat1, epsilon);
            HalfScratch.Round(y, output);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    public static KernelPath ForwardInference(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon)
    {
        var shape = Shape;
        if (!TK.Epilogue && HalfAffine.KeptAxis(shape) >= 0)
        {
            // The float kernel's checks, on the Half spans.
            shape.Shape(dims, input.Length, output.Length);
            int parameters = shape.ParameterCount(dims);
            Checks.VectorLength(weight.Length, parameters, "weight", shape.ParameterText);
            Checks.VectorLength(bias.Length, parameters, "bias", shape.ParameterText);
            shape.StatisticLengths(shape.Statistics(dims), mean.Length, variance.Length);
            Checks.Epsilon(epsilon, "epsilon");
            Checks.NoPartialOverlap(input, output, "output");
            HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
            return HalfAffine.Run(input, output, outer, kept, inner, mean, variance, weight, bias, epsilon, shape.Centered);
        }
        return ForwardCopies(false, input, output, dims, weight, bias, ReadOnly(mean), ReadOnly(variance), epsilon);
    }

    /// <summary>Statistics that are only read, as the span the shared forms take.</summary>
    private static Span<float> ReadOnly(ReadOnlySpan<float> values) => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(values), values.Length);

    public static KernelPath Backward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> stat0, ReadOnlySpan<float> stat1, float epsilon, bool constant, Span<float> weightGrad, Span<float> biasGrad)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), g = scratch.In(outputGrad), dx = inputGrad.Length == outputGrad.Length ? g : scratch.Out(inputGrad.Length);
            KernelPath path = Kernels<TNest, TK, float>.Backward(x, g, dx, dims, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad);
            HalfScratch.Round(dx, inputGrad);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    public static KernelPath Backward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> stat0, ReadOnlySpan<float> stat1, float epsilon, bool constant, Span<float> weightGrad, Span<float> biasGrad)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), g = scratch.In(outputGrad), dx = inputGrad.Length == outputGrad.Length ? g : scratch.Out(inputGrad.Length);
            KernelPath path = Kernels<TNest, TK, float>.Backward(x, g, dx, dims, weight, bias, stat0, stat1, epsilon, constant, weightGrad, biasGrad);
            HalfScratch.Round(dx, inputGrad);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    // ------------------------------------------------------------------ residual layers

    public static KernelPath ForwardResidualTraining(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, Span<Half> output, Span<Half> sum, ReadOnlySpan<int> dims,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> stat0, Span<float> stat1, float epsilon) =>
        ForwardResidual(true, input, residual, output, sum, dims, weight, bias, stat0, stat1, epsilon);

    public static KernelPath ForwardResidualInference(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, Span<Half> output, Span<Half> sum, ReadOnlySpan<int> dims,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon) =>
        ForwardResidual(false, input, residual, output, sum, dims, weight, bias, ReadOnly(mean), ReadOnly(variance), epsilon);

    private static KernelPath ForwardResidual(bool training, ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, Span<Half> output, Span<Half> sum,
        ReadOnlySpan<int> dims, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> stat0, Span<float> stat1, float epsilon)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), r = scratch.In(residual), y = scratch.Out(output.Length), s = scratch.Out(sum.Length);
            if (!TK.AddsResidual) RoundSum(x, r, input.Length == residual.Length);
            KernelPath path = training
                ? Kernels<TNest, TK, float>.ForwardResidualTraining(x, r, y, s, dims, weight, bias, stat0, stat1, epsilon)
                : Kernels<TNest, TK, float>.ForwardResidualInference(x, r, y, s, dims, weight, bias, stat0, stat1, epsilon);
            HalfScratch.Round(y, output);
            HalfScratch.Round(s, sum);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>AddBeforeNorm on Half: x = (Half)(x + r) widened back, r = 0, so the float kernel's sum is the Half sum
    /// (when the lengths differ the float kernel reports it).</summary>
    internal static void RoundSum(Span<float> x, Span<float> r, bool sameLength)
    {
        if (!sameLength) return;
        Elementwise.Add(x, r, x);
        Span<Half> halves = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Half>(r)[..x.Length];
        HalfConvert.ToHalf(x, halves);
        HalfConvert.ToSingle(halves, x);
        r.Clear();
    }

    public static KernelPath BackwardResidual(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad,
        Span<Half> residualGrad, ReadOnlySpan<Half> sumGrad, ReadOnlySpan<int> dims, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> stat0,
        ReadOnlySpan<float> stat1, float epsilon, bool constant, Span<float> weightGrad, Span<float> biasGrad)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), r = scratch.In(residual), g = scratch.In(outputGrad), sg = scratch.In(sumGrad);
            Span<float> dx = scratch.Out(inputGrad.Length), dr = scratch.Out(residualGrad.Length);
            KernelPath path = Kernels<TNest, TK, float>.BackwardResidual(x, r, g, dx, dr, sg, dims, weight, bias, stat0, stat1, epsilon, constant, weightGrad, biasGrad);
            HalfScratch.Round(dx, inputGrad);
            HalfScratch.Round(dr, residualGrad);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    // ------------------------------------------------------------------ tensors

    /// <summary>ForwardTraining on tensors: the dims from <paramref name="input"/>'s lengths, <paramref name="output"/> of its shape.</summary>
    public static KernelPath ForwardTraining(in ReadOnlyTensorSpan<Half> input, in TensorSpan<Half> output, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> stat0, Span<float> stat1, float epsilon) =>
        OnTensors(true, in input, in output, weight, bias, stat0, stat1, default, default, epsilon);

    /// <summary>ForwardInference on tensors.</summary>
    public static KernelPath ForwardInference(in ReadOnlyTensorSpan<Half> input, in TensorSpan<Half> output, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon) =>
        OnTensors(false, in input, in output, weight, bias, default, default, mean, variance, epsilon);

    /// <summary>Both tensor forms: the spans and dims of the two tensors (checked before anything runs), then the span form.</summary>
    private static KernelPath OnTensors(bool training, in ReadOnlyTensorSpan<Half> input, in TensorSpan<Half> output, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> stat0, Span<float> stat1, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> x = Dense(in input, "input", dims);
        Span<Half> y = DenseLike(in output, "output", dims);
        return training ? ForwardTraining(x, y, dims, weight, bias, stat0, stat1, epsilon) : ForwardInference(x, y, dims, weight, bias, mean, variance, epsilon);
    }

    public static ReadOnlySpan<Half> Dense(in ReadOnlyTensorSpan<Half> tensor, string name, scoped Span<int> dims) => TensorArgs.Dense(in tensor, Shape.Layout, name, dims);

    public static Span<Half> Dense(in TensorSpan<Half> tensor, string name, scoped Span<int> dims) => TensorArgs.Dense(in tensor, Shape.Layout, name, dims);

    public static ReadOnlySpan<Half> DenseLike(in ReadOnlyTensorSpan<Half> tensor, string name, scoped ReadOnlySpan<int> dims) =>
        TensorArgs.DenseLike(in tensor, Shape.Layout, name, dims);

    public static Span<Half> DenseLike(in TensorSpan<Half> tensor, string name, scoped ReadOnlySpan<int> dims) => TensorArgs.DenseLike(in tensor, Shape.Layout, name, dims);
}
