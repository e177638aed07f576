using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Synchronized BatchNorm backward: a batch split along N into K uneven shards, every shard run through ShardStatistics,
/// Statistics.Merge, ForwardWithStatistics, BackwardStatistics, the shards' gradient sums added in shard order (an
/// all-reduce), then BackwardWithStatistics, must give the full batch's dx (shard after shard) and, with the shards'
/// parameter gradients added, the full batch's dgamma and dbeta: all against the float64 reference
/// (<see cref="NormReference.BackwardTraining(ReadOnlySpan{int}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, double)"/>).
/// </summary>
public sealed class SynchronizedBackwardTests
{
    internal delegate void ShardFn(ReadOnlySpan<float> x, int[] d, Span<double> count, Span<double> mean, Span<double> m2);
    internal delegate void ForwardFn(INormalizationLayer layer, ReadOnlySpan<float> x, Span<float> y, int[] d, ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2);
    internal delegate void SumsFn(INormalizationLayer layer, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int[] d, Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered);
    internal delegate void ApplyFn(INormalizationLayer layer, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int[] d,
        ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered);
    /// <summary>mode 0: the public static; 1: forced path, x86 ops; 2: forced path, ARM64 ops on the emulated AdvSimd.</summary>
    internal delegate KernelPath StaticSumsFn(int mode, KernelPath path, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int[] d, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean,
        Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered);
    internal delegate KernelPath StaticApplyFn(int mode, KernelPath path, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int[] d, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered,
        Span<float> weightGrad, Span<float> biasGrad);

    internal sealed record SyncCase(string Name, int[] Dims, Func<INormalizationLayer> Create, ShardFn Shard, ForwardFn Forward, SumsFn Sums, ApplyFn Apply,
        StaticSumsFn StaticSums, StaticApplyFn StaticApply);

    internal static SyncCase Case(string name, int[]? dims = null) => name switch
    {
        // Block plan: one block per channel (N contiguous H*W runs).
        "BnNchw" => new(name, dims ?? [7, 5, 6, 9], () => new BnNchw(dims?[1] ?? 5),
            (x, d, c, m, q) => BnNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNchw)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, g, d, c, a, b) => ((BnNchw)l).BackwardStatistics(x, g, d[0], d[1], d[2], d[3], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((BnNchw)l).BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => BnNchw.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                1 => BnNchw.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                _ => BnNchw.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => BnNchw.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                1 => BnNchw.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                _ => BnNchw.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
            }),
        // Whole tensor, channels last: the fold index runs along the rows.
        "BnNhwc" => new(name, dims ?? [7, 6, 9, 21], () => new BnNhwc(dims?[3] ?? 21),
            (x, d, c, m, q) => BnNhwc.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNhwc)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, g, d, c, a, b) => ((BnNhwc)l).BackwardStatistics(x, g, d[0], d[1], d[2], d[3], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((BnNhwc)l).BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => BnNhwc.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                1 => BnNhwc.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                _ => BnNhwc.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => BnNhwc.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                1 => BnNhwc.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                _ => BnNhwc.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
            }),
        // Per-activation BatchNorm: one statistic per element of a sample, elementwise affine.
        "BnPerActivationNchw" => new(name, dims ?? [7, 3, 4, 5], () => new BnPerActivationNchw(dims is null ? 60 : dims[1] * dims[2] * dims[3]),
            (x, d, c, m, q) => BnPerActivationNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnPerActivationNchw)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, g, d, c, a, b) => ((BnPerActivationNchw)l).BackwardStatistics(x, g, d[0], d[1], d[2], d[3], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((BnPerActivationNchw)l).BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => BnPerActivationNchw.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                1 => BnPerActivationNchw.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                _ => BnPerActivationNchw.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => BnPerActivationNchw.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                1 => BnPerActivationNchw.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                _ => BnPerActivationNchw.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
            }),
        // One statistic over everything, parameters per channel: fold index (channel) and statistic differ.
        "BnNcAllAxes" => new(name, dims ?? [7, 37], () => new BnNcAllAxes(dims?[1] ?? 37),
            (x, d, c, m, q) => BnNcAllAxes.ShardStatistics(x, d[0], d[1], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNcAllAxes)l).ForwardWithStatistics(x, y, d[0], d[1], c, m, q),
            (l, x, g, d, c, a, b) => ((BnNcAllAxes)l).BackwardStatistics(x, g, d[0], d[1], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((BnNcAllAxes)l).BackwardWithStatistics(x, g, dx, d[0], d[1], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => BnNcAllAxes.BackwardStatistics(x, g, d[0], d[1], w, mu, c, a, b),
                1 => BnNcAllAxes.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], w, mu, c, a, b),
                _ => BnNcAllAxes.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => BnNcAllAxes.BackwardWithStatistics(x, g, dx, d[0], d[1], w, mu, v, e, c, a, b, wg, bg),
                1 => BnNcAllAxes.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], w, mu, v, e, c, a, b, wg, bg),
                _ => BnNcAllAxes.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], w, mu, v, e, c, a, b, wg, bg),
            }),
        // Channels last without affine parameters (gamma = 1, no parameter gradients).
        "BnNhwcNoAffine" => new(name, dims ?? [7, 5, 3, 19], () => new BnNhwcNoAffine(dims?[3] ?? 19),
            (x, d, c, m, q) => BnNhwcNoAffine.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((BnNhwcNoAffine)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, g, d, c, a, b) => ((BnNhwcNoAffine)l).BackwardStatistics(x, g, d[0], d[1], d[2], d[3], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((BnNhwcNoAffine)l).BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => BnNhwcNoAffine.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                1 => BnNhwcNoAffine.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                _ => BnNhwcNoAffine.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => BnNhwcNoAffine.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                1 => BnNhwcNoAffine.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                _ => BnNhwcNoAffine.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
            }),
        // GroupNorm over the batch too: per-channel accumulators combined into groups, parameters per channel.
        "GnNhwcAllAxes" => new(name, dims ?? [7, 3, 5, 20], () => new GnNhwcAllAxes(dims?[3] ?? 20),
            (x, d, c, m, q) => GnNhwcAllAxes.ShardStatistics(x, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, y, d, c, m, q) => ((GnNhwcAllAxes)l).ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], c, m, q),
            (l, x, g, d, c, a, b) => ((GnNhwcAllAxes)l).BackwardStatistics(x, g, d[0], d[1], d[2], d[3], c, a, b),
            (l, x, g, dx, d, c, a, b) => ((GnNhwcAllAxes)l).BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], c, a, b),
            (mode, p, x, g, d, w, mu, c, a, b) => mode switch
            {
                0 => GnNhwcAllAxes.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                1 => GnNhwcAllAxes.BackwardStatisticsOnPath<X86Vector128Ops>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
                _ => GnNhwcAllAxes.BackwardStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, d[0], d[1], d[2], d[3], w, mu, c, a, b),
            },
            (mode, p, x, g, dx, d, w, mu, v, e, c, a, b, wg, bg) => mode switch
            {
                0 => GnNhwcAllAxes.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                1 => GnNhwcAllAxes.BackwardWithStatisticsOnPath<X86Vector128Ops>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
                _ => GnNhwcAllAxes.BackwardWithStatisticsOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, g, dx, d[0], d[1], d[2], d[3], w, mu, v, e, c, a, b, wg, bg),
            }),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, int[]> Splits()
    {
        var data = new TheoryData<string, int[]>();
        foreach (string name in new[] { "BnNchw", "BnNhwc", "BnPerActivationNchw", "BnNcAllAxes", "BnNhwcNoAffine", "GnNhwcAllAxes" })
        {
            data.Add(name, [7]);
            data.Add(name, [4, 3]);
            data.Add(name, [3, 2, 2]);
            data.Add(name, [1, 2, 4]);
        }
        return data;
    }

    internal static int[] WithBatch(int[] dims, int n)
    {
        int[] result = (int[])dims.Clone();
        result[0] = n;
        return result;
    }

    /// <summary>Everything a data-parallel step produces, per shard, and the shards' results put together.</summary>
    internal sealed record SyncRun(INormalizationLayer[] Layers, float[] InputGrad, float[] WeightGrad, float[] BiasGrad, double[][] Sums, double[] Count, double[] SumGrad, double[] SumGradCentered);

    /// <summary>One synchronized training step over the shards of <paramref name="split"/>, each shard on its own replica of <paramref name="template"/>.</summary>
    internal static SyncRun Step(SyncCase c, INormalizationLayer template, float[] input, float[] outputGrad, int[] split)
    {
        var reference = NormReference.For(template);
        int statistics = reference.StatisticCount(c.Dims);
        int sample = input.Length / c.Dims[0];

        // Forward: every shard's (count, mean, M2), merged in shard order.
        var counts = new double[split.Length * statistics];
        var means = new double[counts.Length];
        var m2s = new double[counts.Length];
        for (int k = 0, offset = 0; k < split.Length; offset += split[k] * sample, k++)
            c.Shard(input.AsSpan(offset, split[k] * sample), WithBatch(c.Dims, split[k]),
                counts.AsSpan(k * statistics, statistics), means.AsSpan(k * statistics, statistics), m2s.AsSpan(k * statistics, statistics));
        double[] count = new double[statistics], mean = new double[statistics], m2 = new double[statistics];
        Statistics.Merge(counts, means, m2s, count, mean, m2);

        var layers = new INormalizationLayer[split.Length];
        var sums = new double[split.Length][];
        for (int k = 0, offset = 0; k < split.Length; offset += split[k] * sample, k++)
        {
            INormalizationLayer layer = layers[k] = c.Create();
            template.Weight.CopyTo(layer.Weight, 0);
            template.Bias.CopyTo(layer.Bias, 0);
            template.RunningMean!.CopyTo(layer.RunningMean!, 0);
            template.RunningVar!.CopyTo(layer.RunningVar!, 0);
            int length = split[k] * sample;
            int[] dims = WithBatch(c.Dims, split[k]);
            c.Forward(layer, input.AsSpan(offset, length), new float[length], dims, count, mean, m2);
            sums[k] = new double[3 * statistics];
            c.Sums(layer, input.AsSpan(offset, length), outputGrad.AsSpan(offset, length), dims,
                sums[k].AsSpan(0, statistics), sums[k].AsSpan(statistics, statistics), sums[k].AsSpan(2 * statistics, statistics));
        }
        // The all-reduce: added in shard order.
        var total = new double[3 * statistics];
        foreach (double[] s in sums)
            for (int i = 0; i < total.Length; i++) total[i] += s[i];

        var inputGrad = new float[input.Length];
        var weightGrad = new double[template.Weight.Length];
        var biasGrad = new double[template.Bias.Length];
        for (int k = 0, offset = 0; k < split.Length; offset += split[k] * sample, k++)
        {
            int length = split[k] * sample;
            c.Apply(layers[k], input.AsSpan(offset, length), outputGrad.AsSpan(offset, length), inputGrad.AsSpan(offset, length), WithBatch(c.Dims, split[k]),
                total.AsSpan(0, statistics), total.AsSpan(statistics, statistics), total.AsSpan(2 * statistics, statistics));
            for (int p = 0; p < weightGrad.Length; p++)
            {
                weightGrad[p] += layers[k].WeightGrad[p];
                biasGrad[p] += layers[k].BiasGrad[p];
            }
        }
        return new SyncRun(layers, inputGrad, weightGrad.Select(v => (float)v).ToArray(), biasGrad.Select(v => (float)v).ToArray(), sums,
            total[..statistics], total[statistics..(2 * statistics)], total[(2 * statistics)..]);
    }

    [Theory, MemberData(nameof(Splits))]
    public void ShardsGiveTheFullBatchGradients(string name, int[] split)
    {
        SyncCase c = Case(name);
        Assert.Equal(c.Dims[0], split.Sum());
        var random = new Random(KernelCheck.Seed(name, 40 + split.Length));
        INormalizationLayer template = c.Create();
        KernelCheck.Randomize(template, random);
        float[] input = TestData.Normal(random, TestData.Product(c.Dims), 0.7, 2);
        float[] outputGrad = TestData.Normal(random, input.Length, 0.1, 1);
        NormReference reference = NormReference.For(template);
        int statistics = reference.StatisticCount(c.Dims);

        SyncRun run = Step(c, template, input, outputGrad, split);
        foreach (INormalizationLayer layer in run.Layers) Assert.NotEqual(KernelPath.None, layer.LastPath);

        // The summed counts are the full batch's; the summed sums are the full batch's A and B (float64 reference).
        ReferenceStatistics full = reference.Statistics(c.Dims, input);
        var (a, b) = ReferenceSums(reference, c.Dims, input, outputGrad, template.Weight, full.Mean);
        for (int s = 0; s < statistics; s++)
        {
            Assert.Equal((double)full.Count, run.Count[s]);
            var (scaleA, scaleB) = SumScale(reference, c.Dims, input, outputGrad, template.Weight, full.Mean, s);
            Assert.True(Math.Abs(run.SumGrad[s] - a[s]) <= 1e-5 * scaleA, $"{name} sumGrad[{s}]: expected {a[s]:R}, got {run.SumGrad[s]:R}");
            // Chunked float sums (64u), and the mean rounded to float (u |mean| per |g dy|).
            Assert.True(Math.Abs(run.SumGradCentered[s] - b[s]) <= 1e-5 * scaleB + 1e-6 * Math.Abs(full.Mean[s]) * scaleA,
                $"{name} sumGradCentered[{s}]: expected {b[s]:R}, got {run.SumGradCentered[s]:R}");
        }

        ReferenceGradients expected = reference.BackwardTraining(c.Dims, input, outputGrad, template.Weight, template.Epsilon);
        BackwardTests.Check(reference, c.Dims, input, outputGrad, template.Weight, expected, run.InputGrad, run.WeightGrad, run.BiasGrad, 1, $"{name} split {string.Join("/", split)}");
    }

    /// <summary>A = sum g * dy and B = sum g * dy * (x - mean) per statistic, in double from the formulas.</summary>
    private static (double[] A, double[] B) ReferenceSums(NormReference reference, int[] dims, float[] x, float[] dy, float[] weight, double[] mean)
    {
        int statistics = reference.StatisticCount(dims);
        var a = new double[statistics];
        var b = new double[statistics];
        for (long i = 0; i < x.Length; i++)
        {
            int s = reference.StatisticIndex(dims, i);
            double g = weight.Length == 0 ? 1 : weight[reference.AffineIndex(dims, i)];
            a[s] += g * dy[i];
            b[s] += g * dy[i] * (x[i] - mean[s]);
        }
        return (a, b);
    }

    /// <summary>sum |g * dy| and sum |g * dy * (x - mean)| of a statistic: the scales of its sums' rounding.</summary>
    private static (double A, double B) SumScale(NormReference reference, int[] dims, float[] x, float[] dy, float[] weight, double[] mean, int statistic)
    {
        double a = 0, b = 0;
        for (long i = 0; i < x.Length; i++)
        {
            if (reference.StatisticIndex(dims, i) != statistic) continue;
            double gdy = Math.Abs((weight.Length == 0 ? 1 : weight[reference.AffineIndex(dims, i)]) * dy[i]);
            a += gdy;
            b += gdy * Math.Abs(x[i] - mean[statistic]);
        }
        return (a, b);
    }

    public static TheoryData<KernelPath> Paths => new() { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar };

    /// <summary>The static kernels on every path this process can run (and the ARM64 logic through the emulated AdvSimd), 3 uneven shards.</summary>
    [Theory, MemberData(nameof(Paths))]
    public void StaticKernelsOnForcedPathsGiveTheFullBatchGradients(KernelPath path)
    {
        if (path > Isa.Widest) return; // this process cannot run it; the ISA legs of tests/run.sh cover the narrower ones
        foreach (string name in new[] { "BnNchw", "BnNhwc", "BnPerActivationNchw", "BnNcAllAxes", "BnNhwcNoAffine", "GnNhwcAllAxes" })
        {
            foreach (int mode in path == KernelPath.Vector128 ? new[] { 0, 1, 2 } : new[] { 0, 1 })
            {
                SyncCase c = Case(name);
                var random = new Random(KernelCheck.Seed(name, 60 + (int)path));
                INormalizationLayer template = c.Create();
                KernelCheck.Randomize(template, random);
                float[] input = TestData.Normal(random, TestData.Product(c.Dims), -1.5, 3);
                float[] outputGrad = TestData.Normal(random, input.Length, 0.2, 1);
                NormReference reference = NormReference.For(template);
                int statistics = reference.StatisticCount(c.Dims);
                int sample = input.Length / c.Dims[0];
                int[] split = [3, 2, 2];

                var counts = new double[3 * statistics];
                var means = new double[counts.Length];
                var m2s = new double[counts.Length];
                for (int k = 0, offset = 0; k < 3; offset += split[k] * sample, k++)
                    c.Shard(input.AsSpan(offset, split[k] * sample), WithBatch(c.Dims, split[k]),
                        counts.AsSpan(k * statistics, statistics), means.AsSpan(k * statistics, statistics), m2s.AsSpan(k * statistics, statistics));
                double[] count = new double[statistics], mean = new double[statistics], m2 = new double[statistics];
                Statistics.Merge(counts, means, m2s, count, mean, m2);
                float[] meanT = mean.Select(v => (float)v).ToArray();
                float[] varianceT = mean.Select((_, s) => (float)Statistics.Variance(count[s], m2[s])).ToArray();
                float epsilon = template.Epsilon;

                var total = new double[3 * statistics];
                long calls = EmulatedAdvSimd.Calls;
                for (int k = 0, offset = 0; k < 3; offset += split[k] * sample, k++)
                {
                    var sums = new double[3 * statistics];
                    int length = split[k] * sample;
                    KernelPath ran = c.StaticSums(mode, path, input.AsSpan(offset, length), outputGrad.AsSpan(offset, length), WithBatch(c.Dims, split[k]),
                        template.Weight, meanT, sums.AsSpan(0, statistics), sums.AsSpan(statistics, statistics), sums.AsSpan(2 * statistics, statistics));
                    if (mode > 0) Assert.Equal(path, ran);
                    for (int i = 0; i < total.Length; i++) total[i] += sums[i];
                }
                var inputGrad = new float[input.Length];
                var weightGrad = new float[template.Weight.Length];
                var biasGrad = new float[template.Bias.Length];
                var shardWeightGrad = new float[weightGrad.Length];
                var shardBiasGrad = new float[biasGrad.Length];
                var sumWeight = new double[weightGrad.Length];
                var sumBias = new double[biasGrad.Length];
                for (int k = 0, offset = 0; k < 3; offset += split[k] * sample, k++)
                {
                    int length = split[k] * sample;
                    Array.Clear(shardWeightGrad);
                    Array.Clear(shardBiasGrad);
                    KernelPath ran = c.StaticApply(mode, path, input.AsSpan(offset, length), outputGrad.AsSpan(offset, length), inputGrad.AsSpan(offset, length),
                        WithBatch(c.Dims, split[k]), template.Weight, meanT, varianceT, epsilon,
                        total.AsSpan(0, statistics), total.AsSpan(statistics, statistics), total.AsSpan(2 * statistics, statistics), shardWeightGrad, shardBiasGrad);
                    if (mode > 0) Assert.Equal(path, ran);
                    for (int p = 0; p < sumWeight.Length; p++)
                    {
                        sumWeight[p] += shardWeightGrad[p];
                        sumBias[p] += shardBiasGrad[p];
                    }
                }
                if (mode == 2) Assert.True(EmulatedAdvSimd.Calls > calls, "the emulated AdvSimd instructions ran");
                ReferenceGradients expected = reference.BackwardTraining(c.Dims, input, outputGrad, template.Weight, epsilon);
                BackwardTests.Check(reference, c.Dims, input, outputGrad, template.Weight, expected, inputGrad,
                    sumWeight.Select(v => (float)v).ToArray(), sumBias.Select(v => (float)v).ToArray(), 1, $"{name} {path} mode {mode}");
            }
        }
    }

    /// <summary>One shard holding the whole batch: the synchronized backward is the training backward (same sums, same formulas).</summary>
    [Theory]
    [InlineData("BnNchw")]
    [InlineData("BnNhwc")]
    [InlineData("BnPerActivationNchw")]
    [InlineData("BnNcAllAxes")]
    public void OneShardMatchesTheTrainingBackward(string name)
    {
        SyncCase c = Case(name);
        var random = new Random(KernelCheck.Seed(name, 70));
        INormalizationLayer template = c.Create();
        KernelCheck.Randomize(template, random);
        float[] input = TestData.Normal(random, TestData.Product(c.Dims), 0.3, 1);
        float[] outputGrad = TestData.Normal(random, input.Length, 0, 1);
        SyncRun run = Step(c, template, input, outputGrad, [c.Dims[0]]);

        INormalizationLayer plain = c.Create();
        template.Weight.CopyTo(plain.Weight, 0);
        plain.Forward(input, new float[input.Length], c.Dims);
        var inputGrad = new float[input.Length];
        plain.Backward(input, outputGrad, inputGrad, c.Dims);
        double worst = 0;
        for (int i = 0; i < inputGrad.Length; i++) worst = Math.Max(worst, Math.Abs(inputGrad[i] - run.InputGrad[i]) / (1 + Math.Abs(inputGrad[i])));
        Assert.True(worst <= 1e-5, $"{name}: synchronized and training backward differ by {worst:R}");
    }

    /// <summary>The interface of the synchronized step (what a transport such as NormKernels.Mpi calls) runs the typed members.</summary>
    [Fact]
    public void InterfaceRunsTheTypedMembers()
    {
        int[] dims = [3, 4, 5, 6];
        var random = new Random(14);
        float[] input = TestData.Normal(random, 360, 1, 2), outputGrad = TestData.Normal(random, 360, 0, 1);
        var typed = new BnNchw(4);
        ISynchronizedNormalizationLayer<float> viaInterface = new BnNchw(4);
        Assert.Equal(4, viaInterface.StatisticCount(dims));

        double[] count = new double[4], mean = new double[4], m2 = new double[4];
        viaInterface.ShardStatistics(input, dims, count, mean, m2);
        typed.ForwardWithStatistics(input, new float[360], 3, 4, 5, 6, count, mean, m2);
        var output = new float[360];
        viaInterface.ForwardWithStatistics(input, output, dims, count, mean, m2);
        double[] typedSums = new double[12], interfaceSums = new double[12];
        typed.BackwardStatistics(input, outputGrad, 3, 4, 5, 6, typedSums.AsSpan(0, 4), typedSums.AsSpan(4, 4), typedSums.AsSpan(8, 4));
        viaInterface.BackwardStatistics(input, outputGrad, dims, interfaceSums.AsSpan(0, 4), interfaceSums.AsSpan(4, 4), interfaceSums.AsSpan(8, 4));
        Assert.Equal(typedSums, interfaceSums);
        float[] typedGrad = new float[360], interfaceGrad = new float[360];
        typed.BackwardWithStatistics(input, outputGrad, typedGrad, 3, 4, 5, 6, count, typedSums.AsSpan(4, 4), typedSums.AsSpan(8, 4));
        viaInterface.BackwardWithStatistics(input, outputGrad, interfaceGrad, dims, count, interfaceSums.AsSpan(4, 4), interfaceSums.AsSpan(8, 4));
        Assert.Equal(KernelCheck.Bits(typedGrad), KernelCheck.Bits(interfaceGrad));
        Assert.Equal(KernelCheck.Bits(typed.WeightGrad), KernelCheck.Bits(viaInterface.WeightGrad));

        var error = Assert.Throws<ArgumentException>(() => viaInterface.BackwardStatistics(input, outputGrad, [3, 4, 30], count, mean, m2));
        Assert.Equal("dims", error.ParamName);
    }

    // ---------------------------------------------------------------- refusals

    [Fact]
    public void SynchronizedBackwardNeedsItsForward()
    {
        int[] dims = [2, 3, 4, 5];
        float[] input = TestData.Normal(new Random(8), 120, 0, 1), outputGrad = TestData.Normal(new Random(9), 120, 0, 1);
        double[] count = new double[3], sumGrad = new double[3], sumGradCentered = new double[3];
        var layer = new BnNchw(3);

        // None yet.
        var error = Assert.Throws<InvalidOperationException>(() => layer.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, count, sumGrad, sumGradCentered));
        Assert.Contains("ForwardWithStatistics", error.Message);

        double[] shardCount = new double[3], mean = new double[3], m2 = new double[3];
        BnNchw.ShardStatistics(input, 2, 3, 4, 5, shardCount, mean, m2);
        layer.ForwardWithStatistics(input, new float[120], 2, 3, 4, 5, shardCount, mean, m2);
        layer.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, count, sumGrad, sumGradCentered);
        Assert.Equal([40d, 40d, 40d], count);

        // Other dims of the same length.
        Assert.Throws<InvalidOperationException>(() => layer.BackwardStatistics(input, outputGrad, 2, 3, 5, 4, count, sumGrad, sumGradCentered));
        var inputGrad = Enumerable.Repeat(float.NaN, 120).ToArray();
        Assert.Throws<InvalidOperationException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 5, 4, count, sumGrad, sumGradCentered));

        // A training Forward since: its own Backward applies, the synchronized one is refused.
        layer.Forward(input, new float[120], 2, 3, 4, 5);
        Assert.Throws<InvalidOperationException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, count, sumGrad, sumGradCentered));
        Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));
        Assert.All(layer.WeightGrad, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadSumsAreRefusedBeforeWriting()
    {
        float[] input = TestData.Normal(new Random(10), 120, 0, 1), outputGrad = TestData.Normal(new Random(11), 120, 0, 1);
        var layer = new BnNchw(3);
        double[] shardCount = new double[3], mean = new double[3], m2 = new double[3];
        BnNchw.ShardStatistics(input, 2, 3, 4, 5, shardCount, mean, m2);
        layer.ForwardWithStatistics(input, new float[120], 2, 3, 4, 5, shardCount, mean, m2);
        double[] count = [80, 80, 80], sumGrad = [1, 2, 3], sumGradCentered = [0.5, 0.25, 0.125];
        var inputGrad = Enumerable.Repeat(float.NaN, 120).ToArray();

        void Refused<TException>(Action call, string parameter) where TException : ArgumentException
        {
            var error = Assert.Throws<TException>(call);
            Assert.Equal(parameter, error.ParamName);
            Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));
            Assert.All(layer.WeightGrad, v => Assert.Equal(0f, v));
            Assert.All(layer.BiasGrad, v => Assert.Equal(0f, v));
        }
        Refused<ArgumentOutOfRangeException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, [80, 39, 80], sumGrad, sumGradCentered), "count");
        Refused<ArgumentOutOfRangeException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, [80, double.NaN, 80], sumGrad, sumGradCentered), "count");
        Refused<ArgumentOutOfRangeException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, [80, double.PositiveInfinity, 80], sumGrad, sumGradCentered), "count");
        Refused<ArgumentException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, [80, 80], sumGrad, sumGradCentered), "count");
        Refused<ArgumentException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, count, [1, 2], sumGradCentered), "sumGrad");
        Refused<ArgumentException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, count, sumGrad, [1, 2, 3, 4]), "sumGradCentered");
        Refused<ArgumentException>(() => layer.BackwardWithStatistics(input, outputGrad.AsSpan(1), inputGrad, 2, 3, 4, 5, count, sumGrad, sumGradCentered), "outputGrad");
        Refused<ArgumentException>(() => layer.BackwardWithStatistics(input, outputGrad, inputGrad.AsSpan(1), 2, 3, 4, 5, count, sumGrad, sumGradCentered), "inputGrad");

        var sums = Enumerable.Repeat(double.NaN, 9).ToArray();
        var error = Assert.Throws<ArgumentException>(() => layer.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, sums.AsSpan(0, 3), sums.AsSpan(2, 3), sums.AsSpan(6, 3)));
        Assert.Equal("sumGrad", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => layer.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, sums.AsSpan(0, 3), sums.AsSpan(3, 3), sums.AsSpan(6, 2)));
        Assert.Equal("sumGradCentered", error.ParamName);
        Assert.All(sums, v => Assert.True(double.IsNaN(v)));
    }

    [Fact]
    public void StaticKernelsRefuseBadArgumentsBeforeWriting()
    {
        float[] input = TestData.Normal(new Random(15), 120, 0, 1), outputGrad = TestData.Normal(new Random(16), 120, 0, 1);
        float[] weight = [1, 1, 1], mean = [0, 0, 0], variance = [1, 1, 1];
        double[] count = [40, 40, 40], sumGrad = [1, 2, 3], sumGradCentered = [0.5, 0.25, 0.125];
        var inputGrad = Enumerable.Repeat(float.NaN, 120).ToArray();
        var weightGrad = new float[3];
        var sums = Enumerable.Repeat(double.NaN, 9).ToArray();

        void Refused<TException>(Func<KernelPath> call, string parameter) where TException : ArgumentException
        {
            var error = Assert.Throws<TException>(() => call());
            Assert.Equal(parameter, error.ParamName);
            Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));
            Assert.All(weightGrad, v => Assert.Equal(0f, v));
            Assert.All(sums, v => Assert.True(double.IsNaN(v)));
        }
        Refused<ArgumentException>(() => BnNchw.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, weight, [0, 0], sums.AsSpan(0, 3), sums.AsSpan(3, 3), sums.AsSpan(6, 3)), "mean");
        Refused<ArgumentException>(() => BnNchw.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, [1, 1], mean, sums.AsSpan(0, 3), sums.AsSpan(3, 3), sums.AsSpan(6, 3)), "weight");
        Refused<ArgumentException>(() => BnNchw.BackwardStatistics(input, outputGrad.AsSpan(0, 119), 2, 3, 4, 5, weight, mean, sums.AsSpan(0, 3), sums.AsSpan(3, 3), sums.AsSpan(6, 3)), "outputGrad");
        Refused<ArgumentException>(() => BnNchw.BackwardStatistics(input, outputGrad, 2, 3, 4, 5, weight, mean, sums.AsSpan(0, 2), sums.AsSpan(3, 3), sums.AsSpan(6, 3)), "count");
        Refused<ArgumentException>(() => BnNchw.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, weight, mean, [1, 1], 1e-5f, count, sumGrad, sumGradCentered, weightGrad, new float[3]), "variance");
        Refused<ArgumentOutOfRangeException>(() => BnNchw.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, weight, mean, variance, -1f, count, sumGrad, sumGradCentered, weightGrad, new float[3]), "epsilon");
        Refused<ArgumentException>(() => BnNchw.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, weight, mean, variance, 1e-5f, count, sumGrad, sumGradCentered, weightGrad, new float[2]), "biasGrad");
        Refused<ArgumentOutOfRangeException>(() => BnNchw.BackwardWithStatistics(input, outputGrad, inputGrad, 2, 3, 4, 5, weight, mean, variance, 1e-5f, [40, 40, 39.5], sumGrad, sumGradCentered, weightGrad, new float[3]), "count");
        Refused<ArgumentException>(() => BnNchw.BackwardWithStatistics(input, outputGrad, inputGrad.AsSpan(1, 119), 2, 3, 4, 5, weight, mean, variance, 1e-5f, count, sumGrad, sumGradCentered, weightGrad, new float[3]), "inputGrad");
    }

    /// <summary>A non-finite gradient stays inside its own statistic, as in Backward.</summary>
    [Fact]
    public void NonFiniteGradientStaysInItsStatistic()
    {
        SyncCase c = Case("BnNhwc");
        var random = new Random(12);
        INormalizationLayer template = c.Create();
        KernelCheck.Randomize(template, random);
        float[] input = TestData.Normal(random, TestData.Product(c.Dims), 0, 1);
        float[] outputGrad = TestData.Normal(random, input.Length, 0, 1);
        outputGrad[5 * 21 + 4] = float.NaN;   // channel 4 of the first sample: shard 0
        SyncRun run = Step(c, template, input, outputGrad, [3, 2, 2]);
        for (int i = 0; i < input.Length; i++)
            Assert.True(i % 21 == 4 ? float.IsNaN(run.InputGrad[i]) : float.IsFinite(run.InputGrad[i]), $"dx[{i}] = {run.InputGrad[i]}");
    }
}

/// <summary>The synchronized backward's results do not depend on the number of threads (bits compared).</summary>
[Collection(nameof(ThreadingTests))]   // they change the process-wide Parallelism.MaxDegree
public sealed class SynchronizedBackwardThreadingTests : IDisposable
{
    private readonly int _saved = Parallelism.MaxDegree;

    public void Dispose() => Parallelism.MaxDegree = _saved;

    [Theory]
    [InlineData("BnNchw", new[] { 8, 24, 33, 34 })]
    [InlineData("BnNhwc", new[] { 8, 33, 34, 24 })]
    [InlineData("BnPerActivationNchw", new[] { 8, 24, 33, 34 })]
    public void BitwiseIdenticalForAnyThreadCount(string name, int[] dims)
    {
        SynchronizedBackwardTests.SyncCase c = SynchronizedBackwardTests.Case(name, dims);
        var random = new Random(13);
        INormalizationLayer template = c.Create();
        KernelCheck.Randomize(template, random);
        float[] input = TestData.Normal(random, TestData.Product(dims), 1, 2);
        float[] outputGrad = TestData.Normal(random, input.Length, 0, 1);

        Parallelism.MaxDegree = 1;
        var serial = SynchronizedBackwardTests.Step(c, template, input, outputGrad, [5, 3]);
        Assert.Equal(1, ParallelUnits.LastWorkers);
        foreach (int degree in new[] { 2, 3, 8 })
        {
            Parallelism.MaxDegree = degree;
            var parallel = SynchronizedBackwardTests.Step(c, template, input, outputGrad, [5, 3]);
            for (int k = 0; k < 2; k++) Assert.Equal(serial.Sums[k], parallel.Sums[k]);
            Assert.Equal(KernelCheck.Bits(serial.InputGrad), KernelCheck.Bits(parallel.InputGrad));
            Assert.Equal(KernelCheck.Bits(serial.WeightGrad), KernelCheck.Bits(parallel.WeightGrad));
            Assert.Equal(KernelCheck.Bits(serial.BiasGrad), KernelCheck.Bits(parallel.BiasGrad));
        }
    }
}
