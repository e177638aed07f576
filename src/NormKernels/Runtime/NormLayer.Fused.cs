using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

#pragma warning disable CS1591 // For generated code only: the members mirror the generated layers' public members, documented there.

// The residual forms of a fused layer (ResidualMode): the residual added after the norm (in the apply, at its byte offset
// from the input) and the residual added before it (a pass of its own writing the sum, then the norm over the sum).
public sealed partial class NormLayer<TNest, TK, T>
{
    // Per call: optimized from the first call (at tier 0 it and the nest's constructor cost a small call, BatchNorm training
    // NCHW S5 at 0.8 us, 13% for its first 100 calls).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static TNest NestFor(ReadOnlySpan<int> dims, nint residual) =>
        TK.AddsResidual ? TNest.WithResidual(TNest.Create(dims), residual) : TNest.Create(dims);

    /// <summary>AddAfterNorm: <c>output = act(norm(input) + residual)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Forward(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, ReadOnlySpan<int> dims)
    {
        var shape = Shape;
        shape.Shape(dims, input.Length, output.Length);
        Checks.Length(residual.Length, input.Length, nameof(residual), shape.DimsText);
        Checks.NoPartialOverlap(residual, output, nameof(output), nameof(residual));
        // The apply reads the residual at a fixed byte offset from the input: both stay pinned for the call.
        fixed (T* x = input)
        fixed (T* r = residual)
            ForwardTunable(input, output, dims, (nint)((byte*)r - (byte*)x), default);
    }

    /// <summary>AddBeforeNorm: <c>sum = input + residual; output = act(norm(sum))</c>.</summary>
    public unsafe void Forward(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, Span<T> output, Span<T> sum, ReadOnlySpan<int> dims)
    {
        var shape = Shape;
        shape.Shape(dims, input.Length, output.Length);
        Checks.Length(residual.Length, input.Length, nameof(residual), shape.DimsText);
        Checks.Length(sum.Length, input.Length, nameof(sum), shape.DimsText);
        shape.LayerSize(dims, _size);
        Checks.NoPartialOverlap(input, sum, nameof(sum));
        Checks.NoPartialOverlap(residual, sum, nameof(sum), nameof(residual));
        Checks.NoPartialOverlap(input, output, nameof(output));
        Checks.NoPartialOverlap(residual, output, nameof(output), nameof(residual));
        Checks.NoPartialOverlap(sum, output, nameof(output), nameof(sum));
        if (Training) Kernels<TNest, TK, T>.MoreThanOneValue(dims);
        // Everything the norm checks is checked. The sum is written by a pass of its own, which ForwardCore runs once it holds
        // the thread guard (so that a refused call writes nothing), then normalized (see BeforeAdd).
        fixed (T* x = input)
        fixed (T* r = residual)
        fixed (T* s = sum)
            ForwardTunable(input, output, dims, 0, new BeforeAdd(true, (nint)((byte*)r - (byte*)x), (nint)((byte*)s - (byte*)x)));
    }

    /// <summary>
    /// The residual added before the norm, pending until the forward holds its guard (<see cref="SeparateAdd"/>): the residual
    /// and the sum at byte offsets from the input, which the caller keeps pinned. Default: none. The sum is written by a pass
    /// of its own (<see cref="Elementwise.Add{T}"/>: streamed past the threshold, in chunks on the parallel runner) and the
    /// norm then reads it like any input. Until 2026-12-04 plans whose blocks are contiguous runs wrote each block's sum in
    /// its unit and normalized a staged copy in cache; the separate pass was as fast or faster everywhere measured (AMD Zen 5,
    /// one process alternating both, 1 thread): LayerNorm [8192, 768] 2.37-2.41 -> 2.12-2.14 ms (2 threads 1.44 -> 1.11),
    /// RMSNorm 2.46 -> 2.30, [64, 768] 10.2 -> 8.9 us, [1024, 768] and [2048, 4096] even; InstanceNorm NCHW S2 477 -> 232
    /// us, S1 even; GroupNorm(32) NHWC S1 3.49 -> 2.49 ms, NCHW S1 2.34 -> 2.26 ms, S2 and NHWC S2 within 3%.
    /// </summary>
    private readonly record struct BeforeAdd(bool On, nint Residual, nint Sum);

    /// <summary>The residual added before the norm by a pass of its own (<see cref="BeforeAdd"/>): the sum written, then it is
    /// the input. The caller holds the guard and keeps the spans pinned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SeparateAdd(ref ReadOnlySpan<T> input, ref BeforeAdd before)
    {
        if (!before.On) return;
        ref T x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(input);
        ReadOnlySpan<T> residual = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AddByteOffset(ref x, before.Residual), input.Length);
        Span<T> sum = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref x, before.Sum), input.Length);
        Elementwise.Add(input, residual, sum);
        input = sum;
        before = default;
    }

    /// <summary>Backward of AddAfterNorm: inputGrad through the norm, residualGrad = outputGrad * act'(norm(input) + residual).</summary>
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad, ReadOnlySpan<int> dims)
    {
        Kernels<TNest, TK, T>.CheckGradients(input, outputGrad, inputGrad, dims);
        Shape.LayerSize(dims, _size);
        Kernels<TNest, TK, T>.CheckGradientOverlaps(input, outputGrad, inputGrad);
        Checks.Length(residual.Length, input.Length, nameof(residual), Shape.DimsText);
        Checks.Length(residualGrad.Length, input.Length, nameof(residualGrad), Shape.DimsText);
        Checks.Disjoint<T>(inputGrad, residualGrad, nameof(residualGrad), nameof(inputGrad));
        Checks.NoPartialOverlap(residual, inputGrad, nameof(inputGrad), nameof(residual));
        Checks.NoPartialOverlap(outputGrad, residualGrad, nameof(residualGrad), nameof(outputGrad));
        Checks.NoPartialOverlap(input, residualGrad, nameof(residualGrad), nameof(input));
        Checks.NoPartialOverlap(residual, residualGrad, nameof(residualGrad), nameof(residual));
        BackwardTunable(input, residual, outputGrad, inputGrad, residualGrad, dims);
    }

    /// <summary>Backward of AddBeforeNorm: inputGrad = sumGrad + the gradient through act and the norm (empty sumGrad: zero).</summary>
    public void Backward(ReadOnlySpan<T> sum, ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> sumGrad, Span<T> inputGrad, ReadOnlySpan<int> dims)
    {
        Kernels<TNest, TK, T>.CheckGradients(sum, outputGrad, inputGrad, dims);
        Shape.LayerSize(dims, _size);
        Kernels<TNest, TK, T>.CheckGradientOverlaps(sum, outputGrad, inputGrad);
        if (!sumGrad.IsEmpty)
        {
            Checks.Length(sumGrad.Length, sum.Length, nameof(sumGrad), Shape.DimsText);
            Checks.Disjoint(sumGrad, inputGrad, nameof(inputGrad), nameof(sumGrad));
        }
        BackwardTunable(sum, default, outputGrad, inputGrad, default, dims, sumGrad);
    }

    /// <summary>AddAfterNorm forward on tensors.</summary>
    public void Forward(ReadOnlyTensorSpan<T> input, ReadOnlyTensorSpan<T> residual, TensorSpan<T> output)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> x = Kernels<TNest, TK, T>.Dense(in input, "input", dims);
        Forward(x, Kernels<TNest, TK, T>.DenseLike(in residual, "residual", dims), Kernels<TNest, TK, T>.DenseLike(in output, "output", dims), dims);
    }

    /// <summary>AddBeforeNorm forward on tensors.</summary>
    public void Forward(ReadOnlyTensorSpan<T> input, ReadOnlyTensorSpan<T> residual, TensorSpan<T> output, TensorSpan<T> sum)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> x = Kernels<TNest, TK, T>.Dense(in input, "input", dims);
        Forward(x, Kernels<TNest, TK, T>.DenseLike(in residual, "residual", dims), Kernels<TNest, TK, T>.DenseLike(in output, "output", dims),
            Kernels<TNest, TK, T>.DenseLike(in sum, "sum", dims), dims);
    }

    /// <summary>AddAfterNorm backward on tensors.</summary>
    public void Backward(ReadOnlyTensorSpan<T> input, ReadOnlyTensorSpan<T> residual, ReadOnlyTensorSpan<T> outputGrad, TensorSpan<T> inputGrad, TensorSpan<T> residualGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> x = Kernels<TNest, TK, T>.Dense(in input, "input", dims);
        Backward(x, Kernels<TNest, TK, T>.DenseLike(in residual, "residual", dims), Kernels<TNest, TK, T>.DenseLike(in outputGrad, "outputGrad", dims),
            Kernels<TNest, TK, T>.DenseLike(in inputGrad, "inputGrad", dims), Kernels<TNest, TK, T>.DenseLike(in residualGrad, "residualGrad", dims), dims);
    }

    /// <summary>AddBeforeNorm backward on tensors (an empty <paramref name="sumGrad"/>: zero).</summary>
    public void Backward(ReadOnlyTensorSpan<T> sum, ReadOnlyTensorSpan<T> outputGrad, ReadOnlyTensorSpan<T> sumGrad, TensorSpan<T> inputGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> s = Kernels<TNest, TK, T>.Dense(in sum, "sum", dims);
        ReadOnlySpan<T> sg = sumGrad.IsEmpty ? default : Kernels<TNest, TK, T>.DenseLike(in sumGrad, "sumGrad", dims);
        Backward(s, Kernels<TNest, TK, T>.DenseLike(in outputGrad, "outputGrad", dims), sg, Kernels<TNest, TK, T>.DenseLike(in inputGrad, "inputGrad", dims), dims);
    }
}
