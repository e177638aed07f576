using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Bad input to the mergeable statistics (ShardStatistics, Statistics.Merge, ForwardWithStatistics) and to AdaIN
/// (AdaptiveForward): an ArgumentException naming the argument, thrown before anything is written (outputs hold a NaN
/// sentinel that must survive bit for bit; running statistics must not move).
/// </summary>
public sealed class StatisticsBadInputTests
{
    private static readonly float SentinelFloat = BitConverter.Int32BitsToSingle(0x7FC0BEEF);
    private static readonly double SentinelDouble = BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF);

    private static float[] Sentinel(int length) => Enumerable.Repeat(SentinelFloat, length).ToArray();
    private static double[] SentinelD(int length) => Enumerable.Repeat(SentinelDouble, length).ToArray();

    private static void Rejects(Action call, string paramName, float[][] floats, double[][] doubles)
    {
        int[][] before = floats.Select(f => KernelCheck.Bits(f)).ToArray();
        long[][] beforeD = doubles.Select(d => d.Select(BitConverter.DoubleToInt64Bits).ToArray()).ToArray();
        ArgumentException exception = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(paramName, exception.ParamName);
        for (int i = 0; i < floats.Length; i++) Assert.Equal(before[i], KernelCheck.Bits(floats[i]));
        for (int i = 0; i < doubles.Length; i++) Assert.Equal(beforeD[i], doubles[i].Select(BitConverter.DoubleToInt64Bits).ToArray());
    }

    private static float[] Data(int length) => TestData.Normal(new Random(length), length, 0.5, 1);

    [Fact]
    public void ShardStatisticsChecksEverySpan()
    {
        float[] input = Data(120);
        double[] count = SentinelD(3), mean = SentinelD(3), m2 = SentinelD(3);
        double[][] all = [count, mean, m2];
        Rejects(() => BnNchw.ShardStatistics(input.AsSpan(1), 2, 3, 4, 5, count, mean, m2), "input", [], all);
        Rejects(() => BnNchw.ShardStatistics(input, 2, 3, 4, 5, new double[2], mean, m2), "count", [], all);
        Rejects(() => BnNchw.ShardStatistics(input, 2, 3, 4, 5, count, new double[4], m2), "mean", [], all);
        Rejects(() => BnNchw.ShardStatistics(input, 2, 3, 4, 5, count, mean, new double[0]), "m2", [], all);
        Rejects(() => BnNchw.ShardStatistics(input, 2, 0, 4, 5, count, mean, m2), "c", [], all);
        Rejects(() => BnNhwc.ShardStatistics(input, 2, 3, 4, 5, SentinelD(4), mean, m2), "count", [], all);
    }

    [Fact]
    public void MergeChecksShapesAndValues()
    {
        double[] counts = [4, 5, 6, 7], means = [0, 1, 2, 3], m2s = [1, 1, 1, 1];
        double[] count = SentinelD(2), mean = SentinelD(2), m2 = SentinelD(2);
        double[][] outputs = [count, mean, m2];
        Rejects(() => Statistics.Merge(counts, means, m2s, count, mean, SentinelD(3)), "m2", [], outputs);
        Rejects(() => Statistics.Merge(counts, means, m2s, count, SentinelD(1), m2), "mean", [], outputs);
        Rejects(() => Statistics.Merge(counts, means, m2s, Array.Empty<double>(), mean, m2), "count", [], outputs);
        Rejects(() => Statistics.Merge(counts.AsSpan(1), means.AsSpan(1), m2s.AsSpan(1), count, mean, m2), "shardCounts", [], outputs);
        Rejects(() => Statistics.Merge(counts, means.AsSpan(1), m2s, count, mean, m2), "shardMeans", [], outputs);
        Rejects(() => Statistics.Merge(counts, means, [1, 1], count, mean, m2), "shardM2", [], outputs);
        Rejects(() => Statistics.Merge([4, -1, 6, 7], means, m2s, count, mean, m2), "shardCounts", [], outputs);
        Rejects(() => Statistics.Merge([4, double.PositiveInfinity, 6, 7], means, m2s, count, mean, m2), "shardCounts", [], outputs);
        Rejects(() => Statistics.Merge(counts, means, [1, 1, -0.5, 1], count, mean, m2), "shardM2", [], outputs);
        Rejects(() => Statistics.Merge([4, 0, 6, 0], means, m2s, count, mean, m2), "shardCounts", [], outputs);
    }

    [Fact]
    public void ForwardWithStatisticsChecksBeforeWriting()
    {
        var layer = new BnNchw(3);
        KernelCheck.Randomize(layer, new Random(1));
        float[] input = Data(120), output = Sentinel(120);
        double[] count = [40, 40, 40], mean = [0, 1, 2], m2 = [40, 40, 40];
        float[][] watched = [output, layer.RunningMean, layer.RunningVar];
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, [40, 40], mean, m2), "count", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, count, [0, 1, 2, 3], m2), "mean", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, count, mean, [1, 1]), "m2", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, [40, 1, 40], mean, m2), "count", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, [40, double.NaN, 40], mean, m2), "count", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 2, 3, 4, 5, count, mean, [1, -1, 1]), "m2", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output, 3, 2, 4, 5, count, mean, m2), "c", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, output.AsSpan(1), 2, 3, 4, 5, count, mean, m2), "output", watched, []);
        Rejects(() => layer.ForwardWithStatistics(input, input.AsSpan(2), 2, 3, 4, 5, count, mean, m2), "output", [input, layer.RunningMean, layer.RunningVar], []);
        Assert.Equal(KernelPath.None, layer.LastPath);
        Assert.Equal(0, layer.BatchMean.Length);
    }

    [Fact]
    public void AdaptiveForwardChecksBeforeWriting()
    {
        // Content 2x3x4x5 (NCHW), style 2x3x2x6.
        float[] content = Data(120), style = Data(72), output = Sentinel(120);
        float[][] watched = [output, content, style];
        Rejects(() => InNchw.AdaptiveForward(content.AsSpan(1), style, output, 2, 3, 4, 5, 2, 6, 1e-5f), "content", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output.AsSpan(1), 2, 3, 4, 5, 2, 6, 1e-5f), "output", watched, []);
        // A style from another batch size or channel count has the wrong length for (n, c, styleH, styleW).
        Rejects(() => InNchw.AdaptiveForward(content, Data(3 * 3 * 12), output, 2, 3, 4, 5, 2, 6, 1e-5f), "style", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, Data(2 * 4 * 12), output, 2, 3, 4, 5, 2, 6, 1e-5f), "style", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output, 2, 3, 4, 5, 0, 6, 1e-5f), "styleH", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output, 2, 3, 4, 5, 2, -6, 1e-5f), "styleW", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output, 2, 3, 4, 5, 2, 6, 0f), "epsilon", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output, 2, 3, 4, 5, 2, 6, float.NaN), "epsilon", watched, []);
        Rejects(() => InNchw.AdaptiveForward(content, style, output, 2, 3, 4, 6, 2, 6, 1e-5f), "content", watched, []);
        // Output partly over the content, or sharing memory with the style.
        float[] buffer = Data(240);
        Rejects(() => InNchw.AdaptiveForward(buffer.AsSpan(0, 120), style, buffer.AsSpan(3, 120), 2, 3, 4, 5, 2, 6, 1e-5f), "output", [buffer, style], []);
        Rejects(() => InNchw.AdaptiveForward(content, buffer.AsSpan(100, 72), buffer.AsSpan(0, 120), 2, 3, 4, 5, 2, 6, 1e-5f), "style", [buffer, content], []);
        var layer = new InNhwc(3);
        Rejects(() => layer.AdaptiveForward(content, style, output, 2, 4, 5, 3, 2, 7), "style", watched, []);
        Assert.Equal(KernelPath.None, layer.LastPath);
    }

    [Fact]
    public void AdaptiveTensorOverloadNamesTheMismatchedStyleDim()
    {
        float[] content = Data(120), output = Sentinel(120);
        KernelPath Run(float[] style, nint[] styleShape) => InNhwc.AdaptiveForward(
            new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(content, [2, 4, 5, 3]),
            new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(style, styleShape),
            new System.Numerics.Tensors.TensorSpan<float>(output, [2, 4, 5, 3]), 1e-5f);
        float[] wrongC = Data(2 * 2 * 2 * 4), wrongN = Data(1 * 2 * 2 * 3);
        var error = Assert.ThrowsAny<ArgumentException>(() => Run(wrongC, [2, 2, 2, 4]));
        Assert.Equal("style", error.ParamName);
        Assert.Contains("C = 4", error.Message);
        error = Assert.ThrowsAny<ArgumentException>(() => Run(wrongN, [1, 2, 2, 3]));
        Assert.Equal("style", error.ParamName);
        Assert.Contains("N = 1", error.Message);
        Assert.All(output, v => Assert.Equal(0x7FC0BEEF, BitConverter.SingleToInt32Bits(v)));
    }
}
