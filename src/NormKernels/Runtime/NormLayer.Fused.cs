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
            ForwardCore(input, output, dims, (nint)((byte*)r - (byte*)x), default);
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
        // Everything the norm checks is checked. Plans whose blocks are contiguous runs of the tensor (LayerNorm, RMSNorm,
        // InstanceNorm and GroupNorm NCHW, per-sample norms channels-last) write each block's sum in its unit and normalize it
        // while it is in cache; the others (BatchNorm) write the sum in a pass of its own, then normalize it.
        // (BlockLength 0: the separate pass, which ForwardCore runs once it holds the thread guard, so that a refused call
        // writes nothing.)
        nint blockLength = TK.AddsBefore ? Forward<TNest, TK, T>.ContiguousBlock(TNest.Create(dims), input.Length) : 0;
        fixed (T* x = input)
        fixed (T* r = residual)
        fixed (T* s = sum)
            ForwardCore(input, output, dims, 0, new BeforeAdd(true, (nint)((byte*)r - (byte*)x), (nint)((byte*)s - (byte*)x), blockLength));
    }

    /// <summary>The residual added before the norm by a pass of its own (plans whose blocks are not contiguous runs): the sum
    /// written, then it is the input and nothing is left for the units. The caller holds the guard and keeps the spans pinned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SeparateAdd(ref ReadOnlySpan<T> input, ref BeforeAdd before)
    {
        if (!before.On || before.BlockLength != 0) return;
        ref T x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(input);
        ReadOnlySpan<T> residual = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AddByteOffset(ref x, before.Residual), input.Length);
        Span<T> sum = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref x, before.Sum), input.Length);
        Elementwise.Add(input, residual, sum);
        input = sum;
        before = default;
    }

    /// <summary>The fingerprint of the sum the units write: x + r at the sampled positions, rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private unsafe void FingerprintOfSum(ReadOnlySpan<T> input, nint residual)
    {
        fixed (T* x = input)
        {
            T* r = (T*)((byte*)x + residual);
            for (int i = 0; i < Fingerprint.Count; i++)
            {
                int at = Fingerprint.Position(i, input.Length);
                _fingerprint[i] = x[at] + r[at];
            }
        }
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
        BackwardCore(input, residual, outputGrad, inputGrad, residualGrad, dims);
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
        BackwardCore(sum, default, outputGrad, inputGrad, default, dims, sumGrad);
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
