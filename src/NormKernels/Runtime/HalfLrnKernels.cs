using System;
using System.ComponentModel;
using System.Numerics.Tensors;

namespace NormKernels.Runtime;

/// <summary>
/// LocalResponseNorm on Half tensors (<c>ElementType = typeof(Half)</c>): the float window kernels
/// (<see cref="LrnKernels{TWindow, T}"/>) on widened copies (<see cref="HalfScratch"/>), the result rounded to Half once.
/// The same contract as the float layer: the output must not overlap the input.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class HalfLrnKernels<TWindow> where TWindow : struct, ILrnLayer
{
    /// <summary>Not instantiated.</summary>
    protected HalfLrnKernels() { }

    /// <summary>Forward on caller-owned buffers. Returns the path that ran.</summary>
    public static KernelPath Forward(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims)
    {
        Checks.Disjoint(input, output, "output", "input");
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), y = scratch.Out(output.Length);
            KernelPath path = LrnKernels<TWindow, float>.Forward(x, y, dims);
            HalfScratch.Round(y, output);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>Backward on caller-owned buffers. Returns the path that ran.</summary>
    public static KernelPath Backward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad, ReadOnlySpan<int> dims)
    {
        Checks.Disjoint(input, inputGrad, "inputGrad", "input");
        Checks.Disjoint(outputGrad, inputGrad, "inputGrad", "outputGrad");
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), g = scratch.In(outputGrad), dx = scratch.Out(inputGrad.Length);
            KernelPath path = LrnKernels<TWindow, float>.Backward(x, g, dx, dims);
            HalfScratch.Round(dx, inputGrad);
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>Forward on tensors: dims from the input's lengths; the output of the same shape.</summary>
    public static KernelPath Forward(ReadOnlyTensorSpan<Half> input, TensorSpan<Half> output)
    {
        Span<int> dims = stackalloc int[TWindow.Layout.Length];
        ReadOnlySpan<Half> inputSpan = TensorArgs.Dense(in input, TWindow.Layout, "input", dims);
        return Forward(inputSpan, TensorArgs.DenseLike(in output, TWindow.Layout, "output", dims), dims);
    }

    /// <summary>Backward on tensors: dims from the input's lengths; the gradients of the same shape.</summary>
    public static KernelPath Backward(ReadOnlyTensorSpan<Half> input, ReadOnlyTensorSpan<Half> outputGrad, TensorSpan<Half> inputGrad)
    {
        Span<int> dims = stackalloc int[TWindow.Layout.Length];
        ReadOnlySpan<Half> inputSpan = TensorArgs.Dense(in input, TWindow.Layout, "input", dims);
        return Backward(inputSpan, TensorArgs.DenseLike(in outputGrad, TWindow.Layout, "outputGrad", dims),
            TensorArgs.DenseLike(in inputGrad, TWindow.Layout, "inputGrad", dims), dims);
    }
}
