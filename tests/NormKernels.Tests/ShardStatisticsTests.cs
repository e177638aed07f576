using System.Runtime.Intrinsics;
using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

// Channels-last GroupNorm over the batch too: a whole-tensor plan whose per-channel accumulators combine into groups.
[Normalize(Layout = "NHWC", Axes = "N,C,H,W", Groups = 4)] public sealed partial class GnNhwcAllAxes;

/// <summary>
/// Mergeable statistics (synchronized BatchNorm): a batch split along N into K uneven shards, each summarized by the
/// generated ShardStatistics, merged with Statistics.Merge, must give the full batch's statistics (float64 reference over
/// the whole batch), and ForwardWithStatistics on every shard must give the full-batch normalization and running update.
/// </summary>
public sealed class ShardStatisticsTests
{
    private delegate KernelPath Shard(KernelPath path, ReadOnlySpan<float> x, int[] dims, Span<double> count, Span<double> mean, Span<double> m2);

    private delegate void WithStatistics(INormalizationLayer layer, ReadOnlySpan<float> x, Span<float> y, int[] dims,
        ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2);

    private sealed record ShardCase(string Name, int[] Dims, Func<INormalizationLayer> Create, Shard Run, WithStatistics Apply, int BatchAxis = 0);


    private static ShardCase Case(string name) => name switch
    {
        // Blocks per channel (N contiguous H*W runs).
        "BnNchw" => new(name, [7, 5, 6, 9], () => new BnNchw(5),
            (p, x, d, c, m, q) => p == KernelPath.None ? BnNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q)
                : BnNchw.ShardStatisticsOnPath<X86Vector128Ops>(p, x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNchw)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q)),
        // Whole tensor, vertical: chunked rows.
        "BnNhwc" => new(name, [7, 6, 9, 21], () => new BnNhwc(21),
            (p, x, d, c, m, q) => p == KernelPath.None ? BnNhwc.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q)
                : BnNhwc.ShardStatisticsOnPath<X86Vector128Ops>(p, x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNhwc)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q)),
        // Per-activation BatchNorm: one statistic per element of a sample, a 1-sample shard has count 1 and M2 0.
        "BnPerActivationNchw" => new(name, [7, 3, 4, 5], () => new BnPerActivationNchw(60),
            (p, x, d, c, m, q) => p == KernelPath.None ? BnPerActivationNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q)
                : BnPerActivationNchw.ShardStatisticsOnPath<X86Vector128Ops>(p, x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnPerActivationNchw)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q)),
        // Channels-last with the channel reduced too: a single statistic, whole tensor.
        "BnNcAllAxes" => new(name, [7, 37], () => new BnNcAllAxes(37),
            (p, x, d, c, m, q) => p == KernelPath.None ? BnNcAllAxes.ShardStatistics(x, d[0], d[1], c, m, q)
                : BnNcAllAxes.ShardStatisticsOnPath<X86Vector128Ops>(p, x, d[0], d[1], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNcAllAxes)l).ForwardWithStatistics(x, y, d[0], d[1], c, m, q)),
        "GnNhwcAllAxes" => new(name, [7, 3, 5, 20], () => new GnNhwcAllAxes(20),
            (p, x, d, c, m, q) => p == KernelPath.None ? GnNhwcAllAxes.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q)
                : GnNhwcAllAxes.ShardStatisticsOnPath<X86Vector128Ops>(p, x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((GnNhwcAllAxes)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q)),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, int[]> Splits()
    {
        var data = new TheoryData<string, int[]>();
        foreach (string name in new[] { "BnNchw", "BnNhwc", "BnPerActivationNchw", "BnNcAllAxes", "GnNhwcAllAxes" })
        {
            data.Add(name, [7]);
            data.Add(name, [3, 4]);
            data.Add(name, [1, 2, 4]);
        }
        return data;
    }

    private static NormReference Reference(INormalizationLayer layer) => NormReference.For(layer);

    private static int[] WithBatch(int[] dims, int n)
    {
        int[] result = (int[])dims.Clone();
        result[0] = n;
        return result;
    }

    /// <summary>Every shard's (count, mean, M2), gathered shard after shard as an all-gather would, then merged.</summary>
    private static (double[] Count, double[] Mean, double[] M2, double[] Gathered) ShardAndMerge(ShardCase shardCase, float[] input, int[] split, int statistics)
    {
        int sample = TestData.Product(shardCase.Dims) / shardCase.Dims[0];
        var counts = new double[split.Length * statistics];
        var means = new double[counts.Length];
        var m2s = new double[counts.Length];
        int offset = 0;
        for (int k = 0; k < split.Length; k++)
        {
            int[] dims = WithBatch(shardCase.Dims, split[k]);
            int length = split[k] * sample;
            KernelPath path = shardCase.Run(KernelPath.None, input.AsSpan(offset, length), dims,
                counts.AsSpan(k * statistics, statistics), means.AsSpan(k * statistics, statistics), m2s.AsSpan(k * statistics, statistics));
            Assert.NotEqual(KernelPath.None, path);
            offset += length;
        }
        var count = new double[statistics];
        var mean = new double[statistics];
        var m2 = new double[statistics];
        Statistics.Merge(counts, means, m2s, count, mean, m2);
        return (count, mean, m2, counts);
    }

    [Theory, MemberData(nameof(Splits))]
    public void ShardsMergedGiveTheFullBatch(string name, int[] split)
    {
        ShardCase shardCase = Case(name);
        Assert.Equal(shardCase.Dims[0], split.Sum());
        var random = new Random(KernelCheck.Seed(name, split.Length));
        float[] input = TestData.Normal(random, TestData.Product(shardCase.Dims), 3, 2);
        INormalizationLayer probe = shardCase.Create();
        NormReference reference = Reference(probe);
        int statistics = reference.StatisticCount(shardCase.Dims);
        ReferenceStatistics full = reference.Statistics(shardCase.Dims, input);

        var (count, mean, m2, _) = ShardAndMerge(shardCase, input, split, statistics);
        for (int s = 0; s < statistics; s++)
        {
            Assert.Equal((double)full.Count, count[s]);
            double variance = Statistics.Variance(count[s], m2[s]);
            Assert.True(Math.Abs(mean[s] - full.Mean[s]) <= Tolerances.Mean(full.Mean[s], full.Variance[s]),
                $"{name} mean[{s}]: expected {full.Mean[s]:R}, merged {mean[s]:R}");
            Assert.True(Math.Abs(variance - full.Variance[s]) <= Tolerances.Variance(full.Variance[s]),
                $"{name} variance[{s}]: expected {full.Variance[s]:R}, merged {variance:R}");
        }
    }

    [Theory, MemberData(nameof(Splits))]
    public void ForwardWithMergedStatisticsMatchesTheFullBatchOnEveryShard(string name, int[] split)
    {
        ShardCase shardCase = Case(name);
        var random = new Random(KernelCheck.Seed(name, 10 + split.Length));
        float[] input = TestData.Normal(random, TestData.Product(shardCase.Dims), -1.5, 0.7);
        INormalizationLayer template = shardCase.Create();
        KernelCheck.Randomize(template, random);
        NormReference reference = Reference(template);
        int statistics = reference.StatisticCount(shardCase.Dims);
        double epsilon = template.Epsilon;
        float momentum = (float)template.GetType().GetProperty("Momentum")!.GetValue(template)!;
        ReferenceResult expected = reference.ForwardTraining(shardCase.Dims, input, template.Weight, template.Bias, epsilon, momentum,
            template.RunningMean!, template.RunningVar!);
        var terms = KernelCheck.BatchTerms(reference, expected.Statistics!);

        var (count, mean, m2, _) = ShardAndMerge(shardCase, input, split, statistics);
        int sample = input.Length / shardCase.Dims[0];
        int offset = 0;
        int[]? runningMeanBits = null, runningVarBits = null;
        for (int k = 0; k < split.Length; k++)
        {
            // Every rank holds its own replica of the layer, with the same parameters and running statistics.
            INormalizationLayer layer = shardCase.Create();
            template.Weight.CopyTo(layer.Weight, 0);
            template.Bias.CopyTo(layer.Bias, 0);
            template.RunningMean!.CopyTo(layer.RunningMean!, 0);
            template.RunningVar!.CopyTo(layer.RunningVar!, 0);
            int[] dims = WithBatch(shardCase.Dims, split[k]);
            float[] shardInput = input.AsSpan(offset, split[k] * sample).ToArray();
            var output = new float[shardInput.Length];
            shardCase.Apply(layer, shardInput, output, dims, count, mean, m2);
            Assert.NotEqual(KernelPath.None, layer.LastPath);

            // The shard's output is the full batch's normalization of the shard's elements.
            double[] expectedShard = reference.Apply(dims, shardInput, layer.Weight, layer.Bias, terms.Center, terms.Spread, epsilon);
            KernelCheck.Outputs(reference, dims, shardInput, layer.Weight, layer.Bias, terms, epsilon, expectedShard, output, $"{name} shard {k}");
            KernelCheck.Running(expected, template.RunningMean!, template.RunningVar!, momentum, layer.RunningMean!, layer.RunningVar!, $"{name} shard {k} running");
            KernelCheck.BatchStatistics(reference, expected.Statistics!, BatchMean(layer), BatchVariance(layer), $"{name} shard {k} batch statistics");

            // Every rank ends with the same running statistics, bit for bit.
            runningMeanBits ??= KernelCheck.Bits(layer.RunningMean!);
            runningVarBits ??= KernelCheck.Bits(layer.RunningVar!);
            Assert.Equal(runningMeanBits, KernelCheck.Bits(layer.RunningMean!));
            Assert.Equal(runningVarBits, KernelCheck.Bits(layer.RunningVar!));
            offset += shardInput.Length;
        }
    }

    private static float[] BatchMean(INormalizationLayer layer) => Saved(layer, "_statistic0");

    private static float[] BatchVariance(INormalizationLayer layer) => Saved(layer, "_statistic1");

    /// <summary>A saved statistic of the layer's runtime state (its public property is a span, which reflection cannot return).</summary>
    private static float[] Saved(INormalizationLayer layer, string field)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        object state = layer.GetType().GetProperty("_layer", flags)!.GetValue(layer)!;
        return ((float[])state.GetType().GetField(field, flags)!.GetValue(state)!).ToArray();
    }

    [Fact]
    public void BatchMeanAndVarianceExposeTheMergedStatistics()
    {
        var layer = new BnNchw(5);
        int[] dims = [4, 5, 3, 7];
        float[] input = TestData.Normal(new Random(3), TestData.Product(dims), 0.5, 1);
        double[] count = [60, 61, 62, 63, 64], mean = [0.1, 0.2, -0.3, 4, 5], m2 = [60, 30, 15, 6, 0];
        layer.ForwardWithStatistics(input, new float[input.Length], 4, 5, 3, 7, count, mean, m2);
        for (int s = 0; s < 5; s++)
        {
            Assert.Equal((float)mean[s], layer.BatchMean[s]);
            Assert.Equal((float)(m2[s] / count[s]), layer.BatchVariance[s]);
            // running = (1 - m) * running + m * batch from (0, 1), the unbiased variance over the total count; m = 0.1f.
            double m = layer.Momentum!.Value;
            Assert.Equal((float)(m * mean[s]), layer.RunningMean[s]);
            Assert.Equal((float)((1 - m) + m * (m2[s] / (count[s] - 1))), layer.RunningVar[s]);
        }
    }

    [Fact]
    public void ShardStatisticsOfTheDoubleLayerMatchTheReference()
    {
        int[] dims = [5, 6, 7, 9];
        var random = new Random(77);
        double[] input = TestData.Normal(random, TestData.Product(dims), 1e3, 1).Select(v => (double)v + random.NextDouble() * 1e-3).ToArray();
        var reference = new NormReference("NHWC", "N,H,W");
        ReferenceStatistics full = reference.Statistics(dims, input);
        int statistics = 9, sample = 6 * 7 * 9;
        var counts = new double[2 * statistics];
        var means = new double[counts.Length];
        var m2s = new double[counts.Length];
        BnNhwcDouble.ShardStatistics(input.AsSpan(0, 2 * sample), 2, 6, 7, 9, counts.AsSpan(0, 9), means.AsSpan(0, 9), m2s.AsSpan(0, 9));
        BnNhwcDouble.ShardStatistics(input.AsSpan(2 * sample), 3, 6, 7, 9, counts.AsSpan(9), means.AsSpan(9), m2s.AsSpan(9));
        // In place: the merged statistics overwrite the first shard's entries.
        Statistics.Merge(counts, means, m2s, counts.AsSpan(0, 9), means.AsSpan(0, 9), m2s.AsSpan(0, 9));
        for (int s = 0; s < statistics; s++)
        {
            Assert.Equal(full.Count, counts[s]);
            Assert.True(Math.Abs(means[s] - full.Mean[s]) <= 1e-12 * Math.Abs(full.Mean[s]), $"mean[{s}]");
            Assert.True(Math.Abs(m2s[s] / counts[s] - full.Variance[s]) <= 1e-9 * full.Variance[s], $"variance[{s}]");
        }
    }

    [Fact]
    public void PerSampleLayersGiveTheirStatisticsToo()
    {
        // Statistics that do not reduce N (GroupNorm, per sample and group, channels promoted; LayerNorm rows) are offered
        // as well; they only merge over shards of their reduced axes.
        int[] dims = [3, 4, 5, 16];
        float[] input = TestData.Normal(new Random(31), TestData.Product(dims), 2, 1);
        ReferenceStatistics full = new NormReference("NHWC", "C,H,W", groups: 4).Statistics(dims, input);
        var count = new double[12];
        var mean = new double[12];
        var m2 = new double[12];
        GnNhwc.ShardStatistics(input, 3, 4, 5, 16, count, mean, m2);
        AssertStatistics(full, count, mean, m2, "GnNhwc");
        int[] rows = [6, 5, 32];
        full = new NormReference("NTC", "C").Statistics(rows, input.AsSpan(0, 960));
        count = new double[30];
        mean = new double[30];
        m2 = new double[30];
        LnNtc.ShardStatistics(input.AsSpan(0, 960), 6, 5, 32, count, mean, m2);
        AssertStatistics(full, count, mean, m2, "LnNtc");
    }

    public static TheoryData<string, KernelPath> Paths()
    {
        var data = new TheoryData<string, KernelPath>();
        foreach (string name in new[] { "BnNchw", "BnNhwc", "BnPerActivationNchw" })
            foreach (KernelPath path in new[] { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar })
                data.Add(name, path);
        return data;
    }

    [Theory, MemberData(nameof(Paths))]
    public void EveryPathGivesTheReferenceStatistics(string name, KernelPath path)
    {
        ShardCase shardCase = Case(name);
        int[] dims = name == "BnNchw" ? [3, 5, 8, 9] : name == "BnNhwc" ? [3, 6, 9, 35] : [3, 4, 5, 7];
        float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, (int)path)), TestData.Product(dims), 1e3, 1);
        NormReference reference = Reference(shardCase.Create());
        int statistics = reference.StatisticCount(dims);
        ReferenceStatistics full = reference.Statistics(dims, input);
        var count = new double[statistics];
        var mean = new double[statistics];
        var m2 = new double[statistics];
        if (path > Isa.Widest)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => shardCase.Run(path, input, dims, count, mean, m2));
            return;
        }
        Assert.Equal(path, shardCase.Run(path, input, dims, count, mean, m2));
        AssertStatistics(full, count, mean, m2, $"{name} on {path}");
        if (path == KernelPath.Vector128)
        {
            // The ARM64 path's logic through the AdvSimd stand-in.
            long before = EmulatedAdvSimd.Calls;
            Array.Clear(mean);
            var runArm = name switch
            {
                "BnNchw" => BnNchw.ShardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, input, dims[0], dims[1], dims[2], dims[3], count, mean, m2),
                "BnNhwc" => BnNhwc.ShardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, input, dims[0], dims[1], dims[2], dims[3], count, mean, m2),
                _ => BnPerActivationNchw.ShardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, input, dims[0], dims[1], dims[2], dims[3], count, mean, m2),
            };
            Assert.Equal(KernelPath.Vector128, runArm);
            Assert.True(EmulatedAdvSimd.Calls > before);
            AssertStatistics(full, count, mean, m2, $"{name} on the ARM64 path logic");
        }
    }

    private static void AssertStatistics(ReferenceStatistics full, double[] count, double[] mean, double[] m2, string what)
    {
        for (int s = 0; s < mean.Length; s++)
        {
            Assert.Equal((double)full.Count, count[s]);
            Assert.True(Math.Abs(mean[s] - full.Mean[s]) <= Tolerances.Mean(full.Mean[s], full.Variance[s]), $"{what} mean[{s}]: expected {full.Mean[s]:R}, got {mean[s]:R}");
            double variance = m2[s] / count[s];
            Assert.True(Math.Abs(variance - full.Variance[s]) <= Tolerances.Variance(full.Variance[s]), $"{what} variance[{s}]: expected {full.Variance[s]:R}, got {variance:R}");
        }
    }

    [Fact]
    public void TheLongExtentsRunOnTheExpectedPath()
    {
        int[] dims = [2, 8, 8, 64];
        float[] input = TestData.Normal(new Random(5), TestData.Product(dims), 0, 1);
        var count = new double[64];
        var mean = new double[64];
        var m2 = new double[64];
        Assert.Equal(IsaPathTests.Expected, BnNhwc.ShardStatistics(input, 2, 8, 8, 64, count, mean, m2));
        float[] planes = TestData.Normal(new Random(6), 2 * 8 * 16 * 16, 0, 1);
        Assert.Equal(IsaPathTests.Expected, BnNchw.ShardStatistics(planes, 2, 8, 16, 16, new double[8], new double[8], new double[8]));
    }

    // ---- Merge ---------------------------------------------------------------------------------------------------

    /// <summary>(count, mean, M2) of plain double values, two passes.</summary>
    private static (double Count, double Mean, double M2) Direct(IReadOnlyList<double> values)
    {
        double mean = values.Sum() / values.Count;
        double m2 = values.Sum(v => (v - mean) * (v - mean));
        return (values.Count, mean, m2);
    }

    private static List<double[]> RandomShards(int seed, int shards)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, shards)
            .Select(k => Enumerable.Range(0, 1 + random.Next(40)).Select(_ => 100 * k + random.NextDouble() * (k + 1) - 0.5).ToArray())
            .ToList();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(16)]
    public void MergeMatchesADirectTwoPassOverTheConcatenation(int shards)
    {
        List<double[]> data = RandomShards(shards, shards);
        const int statistics = 3;   // three statistics: the data, the data scaled by -2, the data shifted by 1e6
        Func<double, double>[] views = [v => v, v => -2 * v, v => v + 1e6];
        var counts = new double[shards * statistics];
        var means = new double[counts.Length];
        var m2s = new double[counts.Length];
        for (int k = 0; k < shards; k++)
            for (int s = 0; s < statistics; s++)
                (counts[k * statistics + s], means[k * statistics + s], m2s[k * statistics + s]) = Direct(data[k].Select(views[s]).ToList());

        var count = new double[statistics];
        var mean = new double[statistics];
        var m2 = new double[statistics];
        Statistics.Merge(counts, means, m2s, count, mean, m2);
        for (int s = 0; s < statistics; s++)
        {
            var (n, mu, sq) = Direct(data.SelectMany(d => d).Select(views[s]).ToList());
            Assert.Equal(n, count[s]);
            Assert.True(Math.Abs(mean[s] - mu) <= 1e-12 * (Math.Abs(mu) + 1), $"mean[{s}]: {mean[s]:R} vs {mu:R}");
            Assert.True(Math.Abs(m2[s] - sq) <= 1e-9 * sq + 1e-12, $"m2[{s}]: {m2[s]:R} vs {sq:R}");
        }

        // Same order, same bits; the two-shard overload is the same fold.
        var again = (new double[statistics], new double[statistics], new double[statistics]);
        Statistics.Merge(counts, means, m2s, again.Item1, again.Item2, again.Item3);
        Assert.Equal(mean.Select(BitConverter.DoubleToInt64Bits), again.Item2.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(m2.Select(BitConverter.DoubleToInt64Bits), again.Item3.Select(BitConverter.DoubleToInt64Bits));
        if (shards == 2)
        {
            var pair = Statistics.Merge(counts[0], means[0], m2s[0], counts[3], means[3], m2s[3]);
            Assert.Equal(BitConverter.DoubleToInt64Bits(mean[0]), BitConverter.DoubleToInt64Bits(pair.Mean));
            Assert.Equal(BitConverter.DoubleToInt64Bits(m2[0]), BitConverter.DoubleToInt64Bits(pair.M2));
        }
    }

    [Fact]
    public void AnotherOrderGivesCloseButNotNecessarilyIdenticalResults()
    {
        List<double[]> data = RandomShards(99, 7);
        double[] Merged(IEnumerable<int> order)
        {
            int[] ks = order.ToArray();
            var counts = new double[ks.Length];
            var means = new double[ks.Length];
            var m2s = new double[ks.Length];
            for (int i = 0; i < ks.Length; i++) (counts[i], means[i], m2s[i]) = Direct(data[ks[i]]);
            var result = new double[3];
            Statistics.Merge(counts, means, m2s, result.AsSpan(0, 1), result.AsSpan(1, 1), result.AsSpan(2, 1));
            return result;
        }
        double[] forward = Merged(Enumerable.Range(0, 7));
        double[] backward = Merged(Enumerable.Range(0, 7).Reverse());
        Assert.Equal(forward[0], backward[0]);
        Assert.True(Math.Abs(forward[1] - backward[1]) <= 1e-12 * Math.Abs(forward[1]));
        Assert.True(Math.Abs(forward[2] - backward[2]) <= 1e-10 * forward[2]);
    }

    [Fact]
    public void EmptyShardsContributeNothing()
    {
        double[] counts = [0, 4, 0, 6, 0], means = [123, 1, -7, 2, 9], m2s = [0, 3, 0, 5, 0];
        var result = new double[3];
        Statistics.Merge(counts, means, m2s, result.AsSpan(0, 1), result.AsSpan(1, 1), result.AsSpan(2, 1));
        var expected = Statistics.Merge(4, 1, 3, 6, 2, 5);
        Assert.Equal(expected.Count, result[0]);
        Assert.Equal(expected.Mean, result[1]);
        Assert.Equal(expected.M2, result[2]);
        Assert.Equal(10, expected.Count);
        Assert.Equal(1.6, expected.Mean, 12);
        Assert.Equal(3 + 5 + 1.0 * 4 * 6 / 10, expected.M2, 12);
    }
}

/// <summary>Shard statistics under several thread counts (process-wide Parallelism.MaxDegree: the threading tests' collection).</summary>
[Collection(nameof(ThreadingTests))]
public sealed class ShardThreadingTests
{
    [Fact]
    public void ShardStatisticsAreBitwiseIdenticalForAnyThreadCount()
    {
        int[] dims = [8, 40, 40, 16];   // > 64k elements per thread for several threads
        float[] input = TestData.Normal(new Random(8), TestData.Product(dims), 2, 1);
        int saved = Parallelism.MaxDegree;
        try
        {
            (double[], double[]) Run(int degree)
            {
                Parallelism.MaxDegree = degree;
                var mean = new double[16];
                var m2 = new double[16];
                BnNhwc.ShardStatistics(input, dims[0], dims[1], dims[2], dims[3], new double[16], mean, m2);
                return (mean, m2);
            }
            var serial = Run(1);
            var parallel = Run(3);
            Assert.Equal(serial.Item1.Select(BitConverter.DoubleToInt64Bits), parallel.Item1.Select(BitConverter.DoubleToInt64Bits));
            Assert.Equal(serial.Item2.Select(BitConverter.DoubleToInt64Bits), parallel.Item2.Select(BitConverter.DoubleToInt64Bits));
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }
}
