using System;
using System.Buffers;
using System.Collections.Generic;
using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' public members, documented there.
#pragma warning disable CS1591

/// <summary>
/// Float copies of a call's Half tensors, rented from <see cref="ArrayPool{T}.Shared"/> and given back by <see cref="Return"/>
/// (in a finally). Inputs are widened when taken; outputs are float buffers of the caller's lengths (so the float kernel's
/// checks see the caller's lengths and name the caller's arguments), rounded into the caller's Half spans only after the
/// float kernel returned: a call that throws writes nothing, and any aliasing between the caller's spans is harmless.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct HalfScratch
{
    private float[]? _a0, _a1, _a2, _a3, _a4, _a5;
    private int _count;

    /// <summary>A float copy of <paramref name="values"/> (empty stays empty).</summary>
    public Span<float> In(ReadOnlySpan<Half> values)
    {
        Span<float> copy = Out(values.Length);
        if (!values.IsEmpty) HalfConvert.ToSingle(values, copy);
        return copy;
    }

    /// <summary>A float buffer of <paramref name="length"/> elements (contents undefined).</summary>
    public Span<float> Out(int length)
    {
        if (length == 0) return Span<float>.Empty;
        float[] array = ArrayPool<float>.Shared.Rent(length);
        switch (_count++)
        {
            case 0: _a0 = array; break;
            case 1: _a1 = array; break;
            case 2: _a2 = array; break;
            case 3: _a3 = array; break;
            case 4: _a4 = array; break;
            case 5: _a5 = array; break;
            default: ArrayPool<float>.Shared.Return(array); throw new InvalidOperationException("HalfScratch holds six buffers.");
        }
        return array.AsSpan(0, length);
    }

    /// <summary>Rounds <paramref name="values"/> into <paramref name="destination"/> (same length).</summary>
    public static void Round(ReadOnlySpan<float> values, Span<Half> destination)
    {
        if (!values.IsEmpty) HalfConvert.ToHalf(values, destination);
    }

    /// <summary>Gives every buffer back.</summary>
    public void Return()
    {
        Give(ref _a0); Give(ref _a1); Give(ref _a2); Give(ref _a3); Give(ref _a4); Give(ref _a5);
        _count = 0;
    }

    private static void Give(ref float[]? array)
    {
        if (array is null) return;
        ArrayPool<float>.Shared.Return(array);
        array = null;
    }
}

/// <summary>
/// The state and instance calls of a layer declared with <c>ElementType = typeof(Half)</c>: Half tensors in and out, float
/// parameters, statistics and arithmetic (PyTorch's mixed-precision BatchNorm/LayerNorm), on the float layer of the same
/// plan (<see cref="NormLayer{TNest, TK, T}"/>). Inference with running statistics (BatchNorm in eval mode) runs on the Half
/// tensors directly (<see cref="HalfAffine"/>: 2 bytes read and 2 written per element). Every other call widens its Half
/// inputs into pooled float buffers, runs the float kernels (their sums, statistics and every path) and rounds the outputs
/// to Half (nearest even): float results rounded once.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class HalfLayer<TNest, TK>
    where TNest : struct, ILayerNest<TNest, float> where TK : struct, INormKind
{
    private readonly NormLayer<TNest, TK, float> _layer;

    public HalfLayer(int size, string? sizeName, float epsilon, float? momentum, int runningSize) =>
        _layer = new NormLayer<TNest, TK, float>(size, sizeName, epsilon, momentum, runningSize);

    private static LayerShape Shape => TNest.Shape;

    public float[] Weight => _layer.Weight;
    public float[] Bias => _layer.Bias;
    public float[] WeightGrad => _layer.WeightGrad;
    public float[] BiasGrad => _layer.BiasGrad;
    public float[]? RunningMean => _layer.RunningMean;
    public float[]? RunningVar => _layer.RunningVar;
    public bool Training { get => _layer.Training; set => _layer.Training = value; }
    public KernelPath LastPath => _layer.LastPath;
    public float Epsilon { get => _layer.Epsilon; set => _layer.Epsilon = value; }
    public float? Momentum { get => _layer.Momentum; set => _layer.Momentum = value; }
    public ReadOnlySpan<float> Statistic0 => _layer.Statistic0;
    public ReadOnlySpan<float> Statistic1 => _layer.Statistic1;
    public void ZeroGrad() => _layer.ZeroGrad();
    public IReadOnlyList<LayerParameter<float>> Parameters() => _layer.Parameters();
    public long NumBatchesTracked => _layer.NumBatchesTracked;
    public void ResetRunningStats() => _layer.ResetRunningStats();
    public IReadOnlyDictionary<string, double[]> StateDict() => _layer.StateDict();
    public void LoadStateDict(IReadOnlyDictionary<string, double[]> state) => _layer.LoadStateDict(state);
    public override string ToString() => _layer.ToString().Replace("float", "Half", StringComparison.Ordinal);

    // ------------------------------------------------------------------ forward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims)
    {
        if (_layer.ForwardHalfInference(input, output, dims) != KernelPath.None) return;
        if (ForwardTiled(input, output, dims)) return;
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input);
            Span<float> y = output.Length == input.Length ? x : scratch.Out(output.Length);
            _layer.Forward(x, y, dims);
            HalfScratch.Round(y, output);
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>Elements of one tile of samples (and of each worker's float buffer): 128 KB of Half, 256 KB of float, in L2.</summary>
    private const int TileElements = 1 << 16;

    /// <summary>
    /// Inference of a per-sample norm (N kept, outermost, not fixed by Sizes): samples are independent, so the call runs as
    /// tiles of whole samples, each widened into a worker's float buffer, normalized there by the float layer and rounded
    /// back while it is in cache (the whole-tensor copies went through memory three times). The checks run first and the
    /// instance is held for inference across the tiles, so nothing is written when the call is refused. False when the
    /// layer or the call does not qualify (nothing done).
    /// </summary>
    private bool ForwardTiled(ReadOnlySpan<Half> input, Span<Half> output, ReadOnlySpan<int> dims)
    {
        var shape = Shape;
        if (_layer.Training || shape.BatchReduced || TK.AddsResidual || shape.Layout[0] != 'N' || shape.IsReduced(0) || shape.Fixed[0] != 0) return false;
        _layer.CheckForwardLengths(input.Length, output.Length, dims);
        Checks.NoPartialOverlap(input, output, "output");
        int rows = dims[0], sample = input.Length / rows;
        if (sample > TileElements / 2) return false; // one sample per tile: nothing to gain over the whole-tensor copies
        int tileRows = TileElements / sample, tiles = (rows + tileRows - 1) / tileRows;
        int workers = Parallelism.Workers(input.Length, tiles);
        WorkerScratch<float> buffers = WorkerScratch<float>.Rent(workers, 0, Math.Min(rows, tileRows) * sample);
        int[] shapeDims = ArrayPool<int>.Shared.Rent(dims.Length);
        dims.CopyTo(shapeDims);
        _layer.EnterInference();
        try
        {
            var body = new Tiles(_layer, buffers.Elements, shapeDims, dims.Length, rows, tileRows, sample);
            ParallelUnits.For(tiles, workers, body, MemoryMarshal.AsBytes(input), MemoryMarshal.AsBytes(output), default, default, default, default);
        }
        finally
        {
            _layer.ExitInference();
            ArrayPool<int>.Shared.Return(shapeDims);
            buffers.Return();
        }
        return true;
    }

    private readonly struct Tiles(NormLayer<TNest, TK, float> layer, float[][] buffers, int[] dims, int rank, int rows, int tileRows, int sample) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            int first = unit * tileRows, count = Math.Min(tileRows, rows - first), length = count * sample;
            Span<int> tileDims = stackalloc int[rank];
            dims.AsSpan(0, rank).CopyTo(tileDims);
            tileDims[0] = count;
            Span<float> values = buffers[worker].AsSpan(0, length);
            KernelPath path = HalfConvert.PathFor(length);
            HalfConvert.ToSingle(ref Unsafe.Add(ref ParallelUnits.At<Half>(spans.S0), (nint)first * sample), ref MemoryMarshal.GetReference(values), length, path);
            layer.Forward(values, values, tileDims);
            HalfConvert.ToHalf(ref MemoryMarshal.GetReference(values), ref Unsafe.Add(ref ParallelUnits.At<Half>(spans.S1), (nint)first * sample), length, path);
        }
    }

    public void Forward(ReadOnlyTensorSpan<Half> input, TensorSpan<Half> output)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> inputSpan = TensorArgs.Dense(in input, Shape.Layout, "input", dims);
        Span<Half> outputSpan = HalfKernels<TNest, TK>.DenseLike(in output, "output", dims);
        Forward(inputSpan, outputSpan, dims);
    }

    /// <summary>AddAfterNorm: y = act(norm(input) + residual).</summary>
    public void Forward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, Span<Half> output, ReadOnlySpan<int> dims)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), r = scratch.In(residual), y = scratch.Out(output.Length);
            _layer.Forward(x, r, y, dims);
            HalfScratch.Round(y, output);
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>AddBeforeNorm: sum = input + residual (rounded to Half, as the next layer gets it), y = act(norm(sum)). The
    /// norm sees the rounded sum, so Backward's check of its input matches the Half sum the caller passes back.</summary>
    public void Forward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, Span<Half> output, Span<Half> sum, ReadOnlySpan<int> dims)
    {
        Checks.Length(residual.Length, input.Length, nameof(residual), Shape.DimsText);
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), r = scratch.In(residual);
            // The sum rounded to Half and widened back, then normalized with a zero residual: the kernel's sum is exactly it.
            HalfKernels<TNest, TK>.RoundSum(x, r, sameLength: true);
            Span<float> y = scratch.Out(output.Length), s = scratch.Out(sum.Length);
            _layer.Forward(x, r, y, s, dims);
            HalfScratch.Round(y, output);
            HalfScratch.Round(s, sum);
        }
        finally
        {
            scratch.Return();
        }
    }

    public void Forward(ReadOnlyTensorSpan<Half> input, ReadOnlyTensorSpan<Half> residual, TensorSpan<Half> output)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> x = TensorArgs.Dense(in input, Shape.Layout, "input", dims);
        Forward(x, HalfKernels<TNest, TK>.DenseLike(in residual, "residual", dims), HalfKernels<TNest, TK>.DenseLike(in output, "output", dims), dims);
    }

    public void Forward(ReadOnlyTensorSpan<Half> input, ReadOnlyTensorSpan<Half> residual, TensorSpan<Half> output, TensorSpan<Half> sum)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> x = TensorArgs.Dense(in input, Shape.Layout, "input", dims);
        Forward(x, HalfKernels<TNest, TK>.DenseLike(in residual, "residual", dims), HalfKernels<TNest, TK>.DenseLike(in output, "output", dims),
            HalfKernels<TNest, TK>.DenseLike(in sum, "sum", dims), dims);
    }

    // ------------------------------------------------------------------ backward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad, ReadOnlySpan<int> dims)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), g = scratch.In(outputGrad);
            Span<float> dx = inputGrad.Length == outputGrad.Length ? g : scratch.Out(inputGrad.Length);
            _layer.Backward(x, g, dx, dims);
            HalfScratch.Round(dx, inputGrad);
        }
        finally
        {
            scratch.Return();
        }
    }

    public void Backward(ReadOnlyTensorSpan<Half> input, ReadOnlyTensorSpan<Half> outputGrad, TensorSpan<Half> inputGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> x = TensorArgs.Dense(in input, Shape.Layout, "input", dims);
        Backward(x, HalfKernels<TNest, TK>.DenseLike(in outputGrad, "outputGrad", dims), HalfKernels<TNest, TK>.DenseLike(in inputGrad, "inputGrad", dims), dims);
    }

    /// <summary>AddAfterNorm's backward.</summary>
    public void Backward(ReadOnlySpan<Half> input, ReadOnlySpan<Half> residual, ReadOnlySpan<Half> outputGrad, Span<Half> inputGrad, Span<Half> residualGrad,
        ReadOnlySpan<int> dims)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> x = scratch.In(input), r = scratch.In(residual), g = scratch.In(outputGrad);
            Span<float> dx = scratch.Out(inputGrad.Length), dr = scratch.Out(residualGrad.Length);
            _layer.Backward(x, r, g, dx, dr, dims);
            HalfScratch.Round(dx, inputGrad);
            HalfScratch.Round(dr, residualGrad);
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>AddBeforeNorm's backward.</summary>
    public void Backward(ReadOnlySpan<Half> sum, ReadOnlySpan<Half> outputGrad, ReadOnlySpan<Half> sumGrad, Span<Half> inputGrad, ReadOnlySpan<int> dims)
    {
        var scratch = new HalfScratch();
        try
        {
            Span<float> s = scratch.In(sum), g = scratch.In(outputGrad), sg = scratch.In(sumGrad), dx = scratch.Out(inputGrad.Length);
            _layer.Backward(s, g, sg, dx, dims);
            HalfScratch.Round(dx, inputGrad);
        }
        finally
        {
            scratch.Return();
        }
    }

    public void Backward(ReadOnlyTensorSpan<Half> input, ReadOnlyTensorSpan<Half> residual, ReadOnlyTensorSpan<Half> outputGrad, TensorSpan<Half> inputGrad,
        TensorSpan<Half> residualGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> x = TensorArgs.Dense(in input, Shape.Layout, "input", dims);
        Backward(x, HalfKernels<TNest, TK>.DenseLike(in residual, "residual", dims), HalfKernels<TNest, TK>.DenseLike(in outputGrad, "outputGrad", dims),
            HalfKernels<TNest, TK>.DenseLike(in inputGrad, "inputGrad", dims), HalfKernels<TNest, TK>.DenseLike(in residualGrad, "residualGrad", dims), dims);
    }

    public void Backward(ReadOnlyTensorSpan<Half> sum, ReadOnlyTensorSpan<Half> outputGrad, ReadOnlyTensorSpan<Half> sumGrad, TensorSpan<Half> inputGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<Half> s = TensorArgs.Dense(in sum, Shape.Layout, "sum", dims);
        ReadOnlySpan<Half> sg = sumGrad.FlattenedLength == 0 ? default : HalfKernels<TNest, TK>.DenseLike(in sumGrad, "sumGrad", dims);
        Backward(s, HalfKernels<TNest, TK>.DenseLike(in outputGrad, "outputGrad", dims), sg, HalfKernels<TNest, TK>.DenseLike(in inputGrad, "inputGrad", dims), dims);
    }
}
