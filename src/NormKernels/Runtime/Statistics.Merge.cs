using System;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

// Mergeable statistics: a shard of a batch is summarized per statistic by (count, mean, M2), M2 the sum of squared
// deviations from the shard's mean. Shards merge with Chan et al.'s parallel formula, in a fixed order, so every
// process that merges the same shards in the same order gets the same bits (synchronized BatchNorm).
public static partial class Statistics
{
    /// <summary>
    /// Mean and M2 (sum of squared deviations from the mean) from <paramref name="count"/> values given as sums of
    /// <c>d = x - shift</c> and of <c>d * d</c>: <c>mean = shift + S1/n</c>, <c>M2 = S2 - S1^2/n</c> (clamped at 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Mean, double M2) MomentsFromShiftedSums(double shift, double sum, double sumOfSquares, double count)
    {
        double m2 = sumOfSquares - sum * (sum / count);
        return (shift + sum / count, m2 < 0d ? 0d : m2);
    }

    /// <summary>
    /// Chan's parallel formula for two shards a and b (a first): <c>n = na + nb</c>, <c>delta = mean_b - mean_a</c>,
    /// <c>mean = mean_a + delta * nb / n</c>, <c>M2 = M2_a + M2_b + delta^2 * na * nb / n</c>. A shard with count 0
    /// contributes nothing. Not commutative in the last bits: merge in one fixed order everywhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Count, double Mean, double M2) Merge(double countA, double meanA, double m2A, double countB, double meanB, double m2B)
    {
        if (countB == 0d) return (countA, meanA, m2A);
        if (countA == 0d) return (countB, meanB, m2B);
        double count = countA + countB;
        double delta = meanB - meanA;
        return (count, meanA + delta * (countB / count), m2A + m2B + delta * delta * (countA * (countB / count)));
    }

    /// <summary>
    /// Merges K shards' statistics, each given as <c>S = count.Length</c> entries (one per statistic), stored shard after
    /// shard (shard k at <c>[k*S, (k+1)*S)</c>: what an all-gather of every rank's arrays into one buffer produces), left to
    /// right in shard order, into <paramref name="count"/>, <paramref name="mean"/> and <paramref name="m2"/>. Every rank
    /// that merges the gathered arrays gets identical bits. Each output may be the first shard's entries of its own input (in
    /// place: <paramref name="count"/> = the start of <paramref name="shardCounts"/>, and so on); any other overlap is refused.
    /// </summary>
    /// <param name="shardCounts">Values per statistic of each shard, K*S entries; finite whole numbers, not negative.</param>
    /// <param name="shardMeans">Mean per statistic of each shard, K*S entries; finite where the count is positive.</param>
    /// <param name="shardM2">Sum of squared deviations per statistic of each shard, K*S entries; finite and not negative.</param>
    /// <param name="count">Receives the total count per statistic (S entries; positive after the merge).</param>
    /// <param name="mean">Receives the merged mean per statistic.</param>
    /// <param name="m2">Receives the merged M2 per statistic.</param>
    /// <exception cref="ArgumentException">Lengths disagree, a count is negative, fractional or not finite, an M2 is negative or
    /// not finite, a mean is not finite, a statistic's total count is 0, or an output overlaps an input (other than its own
    /// input's first shard) or another output; thrown before anything is written.</exception>
    public static void Merge(ReadOnlySpan<double> shardCounts, ReadOnlySpan<double> shardMeans, ReadOnlySpan<double> shardM2,
        Span<double> count, Span<double> mean, Span<double> m2)
    {
        int statistics = count.Length;
        Checks.MergeShapes(shardCounts.Length, shardMeans.Length, shardM2.Length, statistics, mean.Length, m2.Length);
        Checks.ShardValues(shardCounts, shardMeans, shardM2, statistics);
        Checks.MergeOverlaps(shardCounts, shardMeans, shardM2, count, mean, m2);
        int shards = shardCounts.Length / statistics;
        for (int s = 0; s < statistics; s++)
        {
            double n = shardCounts[s], mu = shardMeans[s], sq = shardM2[s];
            for (int k = 1; k < shards; k++)
            {
                int at = k * statistics + s;
                (n, mu, sq) = Merge(n, mu, sq, shardCounts[at], shardMeans[at], shardM2[at]);
            }
            count[s] = n;
            mean[s] = mu;
            m2[s] = sq;
        }
    }

    /// <summary>The biased variance <c>M2 / count</c> (what normalizes).</summary>
    public static double Variance(double count, double m2) => m2 / count;

    /// <summary>The unbiased variance <c>M2 / (count - 1)</c> (what enters the running estimate).</summary>
    public static double UnbiasedVariance(double count, double m2) => m2 / (count - 1d);
}
