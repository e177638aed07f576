using System;

namespace NormKernels;

/// <summary>
/// The synchronized (data-parallel) training step of a layer that reduces <c>N</c> (every BatchNorm), dims in layout
/// order: each worker holds one shard of the batch and its own replica of the layer. A transport (MPI, NCCL, sockets;
/// see the NormKernels.Mpi package) moves the doubles between the calls:
/// <list type="number">
/// <item><see cref="ShardStatistics"/> on the shard; gather every shard's (count, mean, M2), merge them in one fixed
/// order (<see cref="Runtime.Statistics.Merge(ReadOnlySpan{double}, ReadOnlySpan{double}, ReadOnlySpan{double}, Span{double}, Span{double}, Span{double})"/>);</item>
/// <item><see cref="ForwardWithStatistics"/> with the merged statistics;</item>
/// <item><see cref="BackwardStatistics"/>; add every shard's sums;</item>
/// <item><see cref="BackwardWithStatistics"/> with the added sums and the merged count.</item>
/// </list>
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ISynchronizedNormalizationLayer<T> : INormalizationLayer<T>
{
    /// <summary>The number of statistics of a tensor of these dims (the length of every statistics span).</summary>
    int StatisticCount(ReadOnlySpan<int> dims) => Synchronized.StatisticCount(dims);

    /// <summary>The shard's mergeable statistics: per statistic its value count, mean and M2. Returns the path that ran.</summary>
    KernelPath ShardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<int> dims, Span<double> count, Span<double> mean, Span<double> m2) =>
        Synchronized.ShardStatistics(input, dims, count, mean, m2);

    /// <summary>Training forward of the shard with the merged statistics (and the running-statistics update).</summary>
    void ForwardWithStatistics(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2) =>
        Synchronized.ForwardWithStatistics(input, output, dims, count, mean, m2);

    /// <summary>The shard's gradient sums after <see cref="ForwardWithStatistics"/>: per statistic its count, sum of weight * outputGrad
    /// and sum of weight * outputGrad * (input - mean).</summary>
    void BackwardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> dims, Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered) =>
        Synchronized.BackwardStatistics(input, outputGrad, dims, count, sumGrad, sumGradCentered);

    /// <summary>The shard's part of the full-batch input gradient from the sums of every shard; adds the shard's parameter gradients
    /// into <see cref="INormalizationLayer{T}.WeightGrad"/> and <see cref="INormalizationLayer{T}.BiasGrad"/>.</summary>
    void BackwardWithStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims,
        ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered) =>
        Synchronized.BackwardWithStatistics(input, outputGrad, inputGrad, dims, count, sumGrad, sumGradCentered);

    /// <summary>The runtime layer of a generated layer (see <see cref="INormalizationLayer{T}.Core"/>) as this interface;
    /// refused when it is this very object (the steps would forward to themselves without end).</summary>
    private ISynchronizedNormalizationLayer<T> Synchronized => Core is ISynchronizedNormalizationLayer<T> core && !ReferenceEquals(core, this) ? core :
        throw new NotSupportedException(GetType().Name + " implements neither the synchronized steps nor INormalizationLayer<T>.Core.");
}
