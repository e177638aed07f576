using System;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

// Checks of the synchronized backward (BackwardStatistics, BackwardWithStatistics: the backward of ForwardWithStatistics).
public static partial class Checks
{
    /// <summary>The synchronized backward needs the statistics of a ForwardWithStatistics of the same dims, with no training
    /// Forward since.</summary>
    public static void SynchronizedStatistics(long savedLength, ReadOnlySpan<int> savedDims, ReadOnlySpan<int> dims, string layout)
    {
        if (savedLength != SynchronizedForward || savedDims.Length != dims.Length)
            throw new InvalidOperationException(
                "BackwardStatistics and BackwardWithStatistics differentiate the last ForwardWithStatistics (statistics merged across shards); " +
                (savedLength < 0 && savedLength != SynchronizedForward ? "none has run yet." : "a training-mode Forward ran since.") + " Run ForwardWithStatistics on this shard first.");
        if (!savedDims.SequenceEqual(dims))
            throw new InvalidOperationException(
                $"The synchronized backward needs the dims of the last ForwardWithStatistics: {layout} was ({string.Join(", ", savedDims.ToArray())}), " +
                $"these are ({string.Join(", ", dims.ToArray())}).");
    }

    /// <summary>The saved statistics read for the synchronized backward have one entry per statistic (they may differ only when
    /// another call on the same instance replaced them meanwhile).</summary>
    public static void SynchronizedStatisticsLength(int savedLength, int statistics)
    {
        if (savedLength != statistics)
            throw new InvalidOperationException(
                $"The saved statistics have {Fmt(savedLength)} entries, the dims {Fmt(statistics)}: another training call on this instance replaced them " +
                "(one instance trains on one thread at a time).");
    }

    /// <summary>BackwardStatistics' outputs: one entry per statistic each, three disjoint spans.</summary>
    public static void GradientSumOutputs(Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered, int statistics, string what)
    {
        VectorLength(count.Length, statistics, "count", what);
        VectorLength(sumGrad.Length, statistics, "sumGrad", what);
        VectorLength(sumGradCentered.Length, statistics, "sumGradCentered", what);
        Disjoint<double>(count, sumGrad, "sumGrad", "count");
        Disjoint<double>(count, sumGradCentered, "sumGradCentered", "count");
        Disjoint<double>(sumGrad, sumGradCentered, "sumGradCentered", "sumGrad");
    }

    /// <summary>BackwardWithStatistics' sums over every shard: one entry per statistic each, every count finite and at least this
    /// shard's own (<paramref name="localCount"/>, which the total includes). Sums may be NaN or infinite: a non-finite
    /// gradient stays inside its own statistic, as in Backward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void GradientSums(ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered, int statistics, long localCount, string what)
    {
        VectorLength(count.Length, statistics, "count", what);
        VectorLength(sumGrad.Length, statistics, "sumGrad", what);
        VectorLength(sumGradCentered.Length, statistics, "sumGradCentered", what);
        for (int s = 0; s < statistics; s++)
        {
            if (!(count[s] >= localCount) || double.IsInfinity(count[s]))
                throw new ArgumentOutOfRangeException("count", count[s],
                    $"'count[{Fmt(s)}]' is {Fmt(count[s])}; expected the finite total count over every shard, at least this shard's {Fmt(localCount)}.");
        }
    }
}
