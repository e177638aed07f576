using System;
using System.Numerics;

namespace NormKernels.Mpi;

/// <summary>
/// A BatchNorm layer (any generated layer that reduces <c>N</c>) trained data-parallel over an MPI communicator: each rank
/// holds one shard of the batch (any number of samples, shards may differ) and its own replica of the layer.
/// <list type="bullet">
/// <item><see cref="Forward"/> in training: every rank's (count, mean, M2) per statistic is all-gathered (3 doubles per
/// statistic per rank) and merged in rank order with <see cref="Runtime.Statistics.Merge(ReadOnlySpan{double}, ReadOnlySpan{double}, ReadOnlySpan{double}, Span{double}, Span{double}, Span{double})"/>:
/// every rank computes the same bits; then ForwardWithStatistics normalizes the shard and updates the running statistics.</item>
/// <item><see cref="Backward"/>: every rank's two gradient sums per statistic are all-gathered (2 doubles per statistic per
/// rank) and added in rank order (bitwise the same on every rank, unlike a reduction tree); then BackwardWithStatistics
/// writes the shard's part of the full-batch input gradient. The parameter gradients of the step are added over the ranks
/// the same way (2 values per parameter per rank) unless <see cref="ReduceParameterGradients"/> is false.</item>
/// </list>
/// Only double and primitive arrays travel (MPI.NET's AllgatherFlattened): never MPI.NET's object collectives, whose
/// serializer .NET 10 removed. Every rank must call Forward and Backward the same number of times, in the same order.
/// </summary>
/// <typeparam name="T">The element type of the layer.</typeparam>
public sealed class SynchronizedBatchNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MPI.Intracommunicator _communicator;
    private double[] _count = [], _mean = [], _m2 = [];
    private int[] _forwardDims = [];

    /// <summary>Wraps <paramref name="layer"/> (this rank's replica) for training over <paramref name="communicator"/>.</summary>
    public SynchronizedBatchNorm(ISynchronizedNormalizationLayer<T> layer, MPI.Intracommunicator communicator, bool reduceParameterGradients = true)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(communicator);
        Layer = layer;
        _communicator = communicator;
        ReduceParameterGradients = reduceParameterGradients;
    }

    /// <summary>This rank's replica of the layer.</summary>
    public ISynchronizedNormalizationLayer<T> Layer { get; }

    /// <summary>Whether Backward adds the step's parameter gradients over the ranks (default true); false leaves them local.</summary>
    public bool ReduceParameterGradients { get; set; }

    /// <summary>The merged statistics of the last training Forward (count, mean, M2 per statistic): the same bits on every rank.</summary>
    public ReadOnlySpan<double> Count => _count;

    /// <summary>The merged means of the last training Forward.</summary>
    public ReadOnlySpan<double> Mean => _mean;

    /// <summary>The merged M2 (sum of squared deviations) of the last training Forward.</summary>
    public ReadOnlySpan<double> M2 => _m2;

    /// <summary>Training (<c>Layer.Training</c>): normalizes this rank's shard with the whole batch's statistics. Inference: the
    /// layer's own Forward (running statistics, no communication). Collective in training: every rank must call it.</summary>
    public void Forward(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims)
    {
        if (!Layer.Training)
        {
            Layer.Forward(input, output, dims);
            return;
        }
        int statistics = Layer.StatisticCount(dims);
        var local = new double[3 * statistics];
        Layer.ShardStatistics(input, dims, local.AsSpan(0, statistics), local.AsSpan(statistics, statistics), local.AsSpan(2 * statistics, statistics));
        double[] all = _communicator.AllgatherFlattened(local, local.Length);
        int ranks = _communicator.Size;
        var counts = new double[ranks * statistics];
        var means = new double[ranks * statistics];
        var m2s = new double[ranks * statistics];
        for (int k = 0; k < ranks; k++)
        {
            all.AsSpan(k * 3 * statistics, statistics).CopyTo(counts.AsSpan(k * statistics));
            all.AsSpan(k * 3 * statistics + statistics, statistics).CopyTo(means.AsSpan(k * statistics));
            all.AsSpan(k * 3 * statistics + 2 * statistics, statistics).CopyTo(m2s.AsSpan(k * statistics));
        }
        var count = new double[statistics];
        var mean = new double[statistics];
        var m2 = new double[statistics];
        Runtime.Statistics.Merge(counts, means, m2s, count, mean, m2);
        Layer.ForwardWithStatistics(input, output, dims, count, mean, m2);
        (_count, _mean, _m2, _forwardDims) = (count, mean, m2, dims.ToArray());
    }

    /// <summary>Training: the shard's part of the full-batch gradient of the last training Forward (collective: every rank must
    /// call it). Adds the parameter gradients (over every rank unless <see cref="ReduceParameterGradients"/> is false) into
    /// <c>Layer.WeightGrad</c>, <c>Layer.BiasGrad</c>. Inference: the layer's own Backward, no communication.</summary>
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims)
    {
        if (!Layer.Training)
        {
            Layer.Backward(input, outputGrad, inputGrad, dims);
            return;
        }
        if (_forwardDims.Length == 0)
            throw new InvalidOperationException("Backward needs a training-mode Forward of this SynchronizedBatchNorm first.");
        int statistics = Layer.StatisticCount(dims);
        var local = new double[3 * statistics];
        Layer.BackwardStatistics(input, outputGrad, dims, local.AsSpan(0, statistics), local.AsSpan(statistics, statistics), local.AsSpan(2 * statistics, statistics));
        // The count is known from the forward's merge: only the two sums travel.
        double[] sums = local.AsSpan(statistics).ToArray();
        double[] total = SumOverRanks(sums);

        T[] weightGrad = Layer.WeightGrad, biasGrad = Layer.BiasGrad;
        double[]? before = null;
        if (ReduceParameterGradients && weightGrad.Length > 0)
        {
            // The step's own gradients, alone in the arrays, are added over the ranks, then onto what was accumulated.
            before = new double[2 * weightGrad.Length];
            for (int p = 0; p < weightGrad.Length; p++)
            {
                before[p] = double.CreateChecked(weightGrad[p]);
                before[weightGrad.Length + p] = double.CreateChecked(biasGrad[p]);
            }
            Layer.ZeroGrad();
        }
        try
        {
            Layer.BackwardWithStatistics(input, outputGrad, inputGrad, dims, _count, total.AsSpan(0, statistics), total.AsSpan(statistics, statistics));
        }
        catch
        {
            if (before is not null) Restore(before, weightGrad, biasGrad, null);
            throw;
        }
        if (before is not null)
        {
            var step = new double[2 * weightGrad.Length];
            for (int p = 0; p < weightGrad.Length; p++)
            {
                step[p] = double.CreateChecked(weightGrad[p]);
                step[weightGrad.Length + p] = double.CreateChecked(biasGrad[p]);
            }
            Restore(before, weightGrad, biasGrad, SumOverRanks(step));
        }
    }

    private static void Restore(double[] before, T[] weightGrad, T[] biasGrad, double[]? step)
    {
        int parameters = weightGrad.Length;
        for (int p = 0; p < parameters; p++)
        {
            weightGrad[p] = T.CreateChecked(before[p] + (step is null ? 0d : step[p]));
            biasGrad[p] = T.CreateChecked(before[parameters + p] + (step is null ? 0d : step[parameters + p]));
        }
    }

    /// <summary>Element-wise sum over the ranks, added in rank order after an all-gather: the same bits on every rank.</summary>
    public double[] SumOverRanks(double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double[] all = _communicator.AllgatherFlattened(values, values.Length);
        var total = new double[values.Length];
        for (int k = 0; k < _communicator.Size; k++)
            for (int i = 0; i < total.Length; i++)
                total[i] += all[k * values.Length + i];
        return total;
    }
}
