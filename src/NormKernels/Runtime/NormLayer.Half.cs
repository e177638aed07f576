using System;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

// Half layers (ElementType = typeof(Half)) hold a float NormLayer; this is the one call they run on Half storage directly.
public sealed partial class NormLayer<TNest, TK, T>
{
    /// <summary>
    /// Inference with running statistics on Half tensors, when it is elementwise (<see cref="HalfAffine"/>): checks the
    /// arguments as <see cref="Forward(ReadOnlySpan{T}, Span{T}, ReadOnlySpan{int})"/> does, then applies the folded
    /// running statistics. Returns None, having done nothing, when the layer is training or the call is not elementwise.
    /// </summary>
    internal KernelPath ForwardHalfInference(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims)
    {
        var shape = Shape;
        if (typeof(T) != typeof(float) || Training || !shape.RunningStatistics || TK.Epilogue || HalfAffine.KeptAxis(shape) < 0) return KernelPath.None;
        shape.Shape(dims, input.Length, output.Length);
        shape.LayerSize(dims, _size);
        Checks.NoPartialOverlap(input, output, "output");
        CallGuard.EnterShared(ref _guard, shape.Calls[1]);
        try
        {
            HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
            KernelPath path = HalfAffine.Run(input, output, outer, kept, inner, Floats(RunningMean!), Floats(RunningVar!), Floats(Weight), Floats(Bias),
                double.CreateTruncating(_epsilon), shape.Centered);
            LastPath = path;
            return path;
        }
        finally
        {
            CallGuard.ExitShared(ref _guard);
        }
    }

    private static ReadOnlySpan<float> Floats(T[] array) => Unsafe.As<T[], float[]>(ref array);

    /// <summary>The checks of an inference Forward whose tensors are not of the element type: dims, lengths, the layer's size.</summary>
    internal void CheckForwardLengths(int inputLength, int outputLength, ReadOnlySpan<int> dims)
    {
        var shape = Shape;
        shape.Shape(dims, inputLength, outputLength);
        shape.LayerSize(dims, _size);
    }

    /// <summary>Holds the instance for inference calls (as an inference Forward does) across a call made of several
    /// inference Forward calls: a training call that starts meanwhile is refused, not the pieces of this one.</summary>
    internal void EnterInference() => CallGuard.EnterShared(ref _guard, Shape.Calls[1]);

    internal void ExitInference() => CallGuard.ExitShared(ref _guard);
}
