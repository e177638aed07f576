using System;
using System.Runtime.CompilerServices;
using System.Globalization;

namespace NormKernels.Runtime;

// Checks of mergeable statistics (count, mean, M2 per statistic) and of a second input (AdaIN's style).
public static partial class Checks
{
    /// <summary>Merge: K shards of S entries each in every input span, S entries in every output span, K &gt;= 1.</summary>
    public static void MergeShapes(int counts, int means, int m2s, int statistics, int mean, int m2)
    {
        if (statistics <= 0)
            throw new ArgumentException("'count' is empty; expected one entry per statistic (at least 1).", "count");
        if (mean != statistics)
            throw new ArgumentException($"'mean' has {Fmt(mean)} elements; expected {Fmt(statistics)} (one per statistic, the length of 'count').", "mean");
        if (m2 != statistics)
            throw new ArgumentException($"'m2' has {Fmt(m2)} elements; expected {Fmt(statistics)} (one per statistic, the length of 'count').", "m2");
        if (counts == 0 || counts % statistics != 0)
            throw new ArgumentException($"'shardCounts' has {Fmt(counts)} elements; expected a positive multiple of {Fmt(statistics)} (shard after shard, one entry per statistic).", "shardCounts");
        if (means != counts)
            throw new ArgumentException($"'shardMeans' has {Fmt(means)} elements; expected {Fmt(counts)} (the length of 'shardCounts').", "shardMeans");
        if (m2s != counts)
            throw new ArgumentException($"'shardM2' has {Fmt(m2s)} elements; expected {Fmt(counts)} (the length of 'shardCounts').", "shardM2");
    }

    /// <summary>Merge: every count a finite whole number &gt;= 0, every M2 finite and &gt;= 0, every mean of a shard with
    /// values finite, every statistic's total positive.</summary>
    public static void ShardValues(ReadOnlySpan<double> counts, ReadOnlySpan<double> means, ReadOnlySpan<double> m2, int statistics)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            if (!(counts[i] >= 0d) || double.IsInfinity(counts[i]) || Math.Floor(counts[i]) != counts[i])
                throw new ArgumentOutOfRangeException("shardCounts", counts[i], $"'shardCounts[{Fmt(i)}]' is {Fmt(counts[i])}; expected a finite whole count >= 0.");
            if (!(m2[i] >= 0d) || double.IsInfinity(m2[i]))
                throw new ArgumentOutOfRangeException("shardM2", m2[i], $"'shardM2[{Fmt(i)}]' is {Fmt(m2[i])}; expected a finite value >= 0 (a sum of squared deviations; " +
                    "NaN or infinity means the shard's data held NaN or infinity, and merged statistics could not normalize it).");
            if (counts[i] > 0d && !double.IsFinite(means[i]))
                throw new ArgumentOutOfRangeException("shardMeans", means[i], $"'shardMeans[{Fmt(i)}]' is {Fmt(means[i])}; expected a finite mean (its count is {Fmt(counts[i])}).");
        }
        for (int s = 0; s < statistics; s++)
        {
            double total = 0d;
            for (int i = s; i < counts.Length; i += statistics) total += counts[i];
            if (total == 0d)
                throw new ArgumentException($"Statistic {Fmt(s)} has a total count of 0 over every shard; expected at least one value.", "shardCounts");
        }
    }

    /// <summary>Merge: each output is either its own input's first shard (in place: <c>count</c> at the start of
    /// <c>shardCounts</c>, <c>mean</c> of <c>shardMeans</c>, <c>m2</c> of <c>shardM2</c>) or disjoint from every input, and the
    /// outputs are disjoint from each other. Any other overlap would overwrite entries the merge has yet to read.</summary>
    public static void MergeOverlaps(ReadOnlySpan<double> shardCounts, ReadOnlySpan<double> shardMeans, ReadOnlySpan<double> shardM2,
        ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2)
    {
        MergeOutput(count, "count", 0, shardCounts, shardMeans, shardM2);
        MergeOutput(mean, "mean", 1, shardCounts, shardMeans, shardM2);
        MergeOutput(m2, "m2", 2, shardCounts, shardMeans, shardM2);
        if (count.Overlaps(mean) || count.Overlaps(m2))
            throw new ArgumentException("'count' overlaps another output ('mean' or 'm2'); expected disjoint memory.", "count");
        if (mean.Overlaps(m2))
            throw new ArgumentException("'mean' overlaps 'm2'; expected disjoint memory.", "mean");
    }

    private static void MergeOutput(ReadOnlySpan<double> output, string name, int own,
        ReadOnlySpan<double> shardCounts, ReadOnlySpan<double> shardMeans, ReadOnlySpan<double> shardM2)
    {
        for (int k = 0; k < 3; k++)
        {
            ReadOnlySpan<double> input = k == 0 ? shardCounts : k == 1 ? shardMeans : shardM2;
            string inputName = k == 0 ? "shardCounts" : k == 1 ? "shardMeans" : "shardM2";
            if (input.Overlaps(output, out int offset) && !(k == own && offset == 0))
                throw new ArgumentException(k == own
                    ? $"'{name}' overlaps '{inputName}' at offset {Fmt(offset)}; expected its first shard's entries (offset 0, in place) or disjoint memory."
                    : $"'{name}' overlaps '{inputName}' (offset {Fmt(offset)}); expected disjoint memory (in place, '{name}' may only be the first shard of its own input).", name);
        }
    }

    /// <summary>Applying merged statistics in training: S entries each, every count &gt; 1 (the unbiased running variance
    /// needs two values) and finite, every M2 finite and not negative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void MergedStatistics(ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2, int statistics, string what)
    {
        VectorLength(count.Length, statistics, "count", what);
        VectorLength(mean.Length, statistics, "mean", what);
        VectorLength(m2.Length, statistics, "m2", what);
        for (int s = 0; s < statistics; s++)
        {
            if (!(count[s] > 1d) || double.IsInfinity(count[s]))
                throw new ArgumentOutOfRangeException("count", count[s], $"'count[{Fmt(s)}]' is {Fmt(count[s])}; expected a finite count > 1 (more than 1 value per statistic when training).");
            if (!(m2[s] >= 0d) || double.IsInfinity(m2[s]))
                throw new ArgumentOutOfRangeException("m2", m2[s], $"'m2[{Fmt(s)}]' is {Fmt(m2[s])}; expected a finite value >= 0 (a sum of squared deviations).");
        }
    }

    /// <summary>A dim of a second tensor must equal the first tensor's.</summary>
    public static void SameDim(int actual, int expected, string name, char letter, string first)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' has {letter} = {Fmt(actual)}; expected {Fmt(expected)}, the {letter} of '{first}'.", name);
    }

    private static string Fmt(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
