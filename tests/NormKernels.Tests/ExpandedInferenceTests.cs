using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// BatchNorm inference with running statistics takes <see cref="ExpandedInference{TK, T}"/> on short planes (H x W under 64,
/// more than 1: coefficients expanded along C x H x W, or the runs in memory order with broadcast coefficients) and on long
/// ones (plane by plane in memory order). It must give the loop nest's bits, taken from the same layer with a residual added
/// after the norm (which keeps the loop nest) of zeros: equal element for element (+0 and -0 alike), on every path, at 1 and 2
/// threads, in place and not, through the layer and the static kernel.
/// </summary>
[Collection(nameof(ThreadingTests))]   // DegreeScope changes the process-wide Parallelism.MaxDegree
public sealed class ExpandedInferenceTests
{
    [Theory]
    [InlineData(2, 5, 7, 7)]    // 49-element planes (ResNet's last stage)
    [InlineData(3, 16, 3, 5)]   // 15
    [InlineData(33, 4, 2, 2)]   // 4: several periods per run, a partial last run
    [InlineData(3, 40, 7, 7)]   // K x H x W = 1,960: the runs with broadcast coefficients on the 512- and 256-bit paths
    [InlineData(2, 100, 3, 5)]  // 1,500: planes of 15, broadcast on the 256-bit path, expanded blocks of channels on the others
    public void ShortPlanesGiveTheLoopNestsBits(int n, int c, int h, int w)
    {
        var random = new Random(n * 100 + c * 10 + h);
        int plane = h * w;
        var x = new float[n * c * plane];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 8 - 3 + 1000 * (i / plane % c == 1 ? 1 : 0));
        var (layer, expected) = LayerAndLoopNest(x, n, c, h, w, random);
        KernelPath path = Isa.Select(plane);
        Assert.True(ExpandedInference<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], path));
        // Periods over 1,024 elements whose planes are one vector up to 63 floats of a 512- or 256-bit path: run by run.
        bool broadcast = c * plane > 1024 && plane < 64 && (path == KernelPath.Vector512 ? plane >= 16 : path == KernelPath.Vector256 && plane >= 8);
        Assert.Equal(broadcast, ExpandedInference<StandardizeNorm, float>.ChannelRuns(Shape, [n, c, h, w], path));

        foreach (int degree in new[] { 1, 2 })
        {
            using var scope = DegreeScope.Set(degree);
            var y = new float[x.Length];
            layer.Forward(x, y, n, c, h, w);
            Assert.Equal(path, layer.LastPath);
            for (int i = 0; i < x.Length; i++)
                Assert.True(y[i] == expected[i], $"degree {degree}, element {i}: {y[i]:R} against the loop nest's {expected[i]:R}");

            // In place, and the static kernel on the layer's statistics: the same bits.
            var inPlace = (float[])x.Clone();
            layer.Forward(inPlace, inPlace, n, c, h, w);
            Assert.Equal(y, inPlace);
            var ys = new float[x.Length];
            BnNchw.ForwardInference(x, ys, n, c, h, w, layer.Weight, layer.Bias, layer.RunningMean, layer.RunningVar, layer.Epsilon);
            Assert.Equal(y, ys);

            // Every peel length before the input's first 64-byte boundary (see ChannelsLastGivesTheLoopNestsBits).
            for (int offset = 1; offset <= 16; offset++)
            {
                var input = new float[x.Length + 16];
                x.CopyTo(input, offset);
                var output = new float[x.Length + 16];
                layer.Forward(input.AsSpan(offset, x.Length), output.AsSpan(16 - offset, x.Length), n, c, h, w);
                Assert.True(y.AsSpan().SequenceEqual(output.AsSpan(16 - offset, x.Length)), $"degree {degree}, input offset {offset}");
                layer.Forward(input.AsSpan(offset, x.Length), input.AsSpan(offset, x.Length), n, c, h, w);
                Assert.True(y.AsSpan().SequenceEqual(input.AsSpan(offset, x.Length)), $"degree {degree}, in place at offset {offset}");
            }
        }
    }

    /// <summary>A BatchNorm NCHW layer in eval mode with random parameters and running statistics (channel 1's mean near
    /// 1,000), and the loop nest's output for <paramref name="x"/>: the same layer with a residual added after the norm, of
    /// zeros, at 1 thread; checked against the float64 reference.</summary>
    private static (BnNchw Layer, float[] Expected) LayerAndLoopNest(float[] x, int n, int c, int h, int w, Random random)
    {
        var layer = new BnNchw(c) { Training = false };
        var nest = new Fused.FBnNchwNoneAfter(c) { Training = false };
        for (int k = 0; k < c; k++)
        {
            nest.Weight[k] = layer.Weight[k] = (float)(random.NextDouble() + 0.5);
            nest.Bias[k] = layer.Bias[k] = (float)(random.NextDouble() - 0.5);
            nest.RunningMean[k] = layer.RunningMean[k] = (float)(random.NextDouble() * 2 + (k == 1 ? 1000 : 0));
            nest.RunningVar[k] = layer.RunningVar[k] = (float)(random.NextDouble() + 0.25);
        }
        var expected = new float[x.Length];
        using (DegreeScope.Set(1)) nest.Forward(x, new float[x.Length], expected, n, c, h, w);
        int plane = h * w;
        for (int k = 0; k < c; k++)
        {
            double scale = layer.Weight[k] / Math.Sqrt(layer.RunningVar[k] + (double)layer.Epsilon);
            for (int b = 0; b < n; b++)
                for (int j = 0; j < plane; j++)
                {
                    int i = (b * c + k) * plane + j;
                    double reference = (x[i] - (double)layer.RunningMean[k]) * scale + layer.Bias[k];
                    Assert.True(Math.Abs(expected[i] - reference) <= 1e-5 * (1 + Math.Abs(reference)), $"element {i}: {expected[i]} against {reference}");
                }
        }
        return (layer, expected);
    }

    /// <summary>
    /// Planes of 64 elements and more (<see cref="ExpandedInference{TK, T}.LongRuns"/>) go plane by plane in memory order with
    /// their channel's coefficients broadcast, on the 512- and 256-bit paths (more than one sample). The loop nest's bits, taken from the same layer
    /// with a residual added after the norm (which keeps the loop nest) of zeros: equal element for element (+0 and -0 alike);
    /// the float64 reference; 1 and 2 threads, streamed (threshold 0) and not, in place, every input and output offset.
    /// </summary>
    [Theory]
    [InlineData(2, 3, 8, 8)]      // 64: the shortest long run
    [InlineData(3, 5, 10, 13)]    // 130: a partial last vector on every path
    [InlineData(2, 4, 56, 56)]    // 3,136 (12.5 KB): long enough to stream
    [InlineData(1, 40, 9, 9)]     // one sample: the loop nest
    public void LongPlanesGiveTheLoopNestsBits(int n, int c, int h, int w)
    {
        var random = new Random(n * 1000 + c * 10 + h);
        int plane = h * w;
        var x = new float[n * c * plane];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 8 - 3 + 1000 * (i / plane % c == 1 ? 1 : 0));
        var (layer, expected) = LayerAndLoopNest(x, n, c, h, w, random);
        KernelPath path = Isa.Select(plane);
        bool longRuns = path is KernelPath.Vector512 or KernelPath.Vector256 && n > 1;
        Assert.Equal(longRuns, ExpandedInference<StandardizeNorm, float>.LongRuns(Shape, [n, c, h, w], path));
        Assert.Equal(longRuns, ExpandedInference<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], path));

        foreach (long threshold in new[] { long.MaxValue, 0L })
        {
            using var streaming = ThresholdScope.Set(threshold);
            foreach (int degree in new[] { 1, 2 })
            {
                using var scope = DegreeScope.Set(degree);
                var y = new float[x.Length];
                layer.Forward(x, y, n, c, h, w);
                Assert.Equal(path, layer.LastPath);
                Assert.Equal(threshold == 0 && path != KernelPath.Scalar, Streaming.LastCallStreamed);
                for (int i = 0; i < x.Length; i++)
                    Assert.True(y[i] == expected[i], $"threshold {threshold}, degree {degree}, element {i}: {y[i]:R} against the loop nest's {expected[i]:R}");
                var ys = new float[x.Length];
                BnNchw.ForwardInference(x, ys, n, c, h, w, layer.Weight, layer.Bias, layer.RunningMean, layer.RunningVar, layer.Epsilon);
                Assert.Equal(y, ys);
                for (int offset = 0; offset <= 16; offset += 5)
                {
                    var input = new float[x.Length + 16];
                    x.CopyTo(input, offset);
                    var output = new float[x.Length + 16];
                    int outputOffset = (offset * 7) % 17;
                    layer.Forward(input.AsSpan(offset, x.Length), output.AsSpan(outputOffset, x.Length), n, c, h, w);
                    Assert.True(y.AsSpan().SequenceEqual(output.AsSpan(outputOffset, x.Length)), $"degree {degree}, input offset {offset}, output offset {outputOffset}");
                    Assert.Equal(0f, outputOffset > 0 ? output[outputOffset - 1] : 0f); // nothing stored before the output
                    Assert.Equal(0f, output[outputOffset + x.Length]);                 // nor after it
                    layer.Forward(input.AsSpan(offset, x.Length), input.AsSpan(offset, x.Length), n, c, h, w);
                    Assert.True(y.AsSpan().SequenceEqual(input.AsSpan(offset, x.Length)), $"degree {degree}, in place at offset {offset}");
                }
            }
        }
    }

    /// <summary>Channel <paramref name="k"/>'s mean and biased variance in float64 over the <paramref name="n"/> planes of
    /// <paramref name="plane"/> elements of NCHW data with <paramref name="c"/> channels.</summary>
    internal static (double Mean, double Variance) ChannelMoments(float[] x, int n, int c, int plane, int k)
    {
        double sum = 0, m2 = 0;
        for (int b = 0; b < n; b++) for (int j = 0; j < plane; j++) sum += x[(b * c + k) * plane + j];
        double mean = sum / (n * plane);
        for (int b = 0; b < n; b++) for (int j = 0; j < plane; j++) m2 += Math.Pow(x[(b * c + k) * plane + j] - mean, 2);
        return (mean, m2 / (n * plane));
    }

    private static readonly LayerShape Shape = new("BnNchw", "NCHW", "N,H,W", 0, AffineMode.PerChannel, NormKind.Standardize,
        LayerFeatures.Shards | LayerFeatures.Synchronized | LayerFeatures.RunningStatistics);

    [Theory]
    [InlineData(33, 4, 2, 2)]   // whole periods: one unit sums every run
    [InlineData(2, 40, 7, 7)]   // K x H x W = 1,960: one block of channels (a block is about 2,048 elements)
    [InlineData(3, 100, 7, 7)]  // 4,900: three blocks of 33, 33 and 34 channels
    [InlineData(40, 3, 3, 3)]   // more runs than one flush of the lane sums
    public void ShortPlanesTrainingMatchesTheReferenceAtAnyThreadCount(int n, int c, int h, int w)
    {
        var random = new Random(n + c + h * w);
        int plane = h * w;
        var x = new float[n * c * plane];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((random.NextDouble() * 2 - 1) * (i / plane % c + 1) + (i / plane % c == 1 ? 5000 : 0));
        Assert.True(ExpandedTraining<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], Isa.Select(plane)));
        (float[] Y, float[] Mean, float[] Var, float[] RunningVar) Run(int degree, bool inPlace)
        {
            using var scope = DegreeScope.Set(degree);
            var layer = new BnNchw(c);
            for (int k = 0; k < c; k++) { layer.Weight[k] = 1 + k * 0.25f; layer.Bias[k] = k * 0.5f - 1; }
            float[] y = inPlace ? (float[])x.Clone() : new float[x.Length];
            layer.Forward(inPlace ? y : x, y, n, c, h, w);
            return (y, layer.BatchMean.ToArray(), layer.BatchVariance.ToArray(), layer.RunningVar.ToArray());
        }
        var one = Run(1, false);
        var two = Run(2, false);
        var inPlace = Run(1, true);
        // Streamed (threshold 0) the apply takes the coefficients expanded along the lanes; stored normally, blocks of channels
        // on lane-row planes take them one per channel, broadcast: the same bits.
        using (ThresholdScope.Set(0))
        {
            var streamed = Run(1, false);
            Assert.Equal(Isa.Select(plane) != KernelPath.Scalar, Streaming.LastCallStreamed);
            Assert.Equal(one.Y, streamed.Y);
        }
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Mean, two.Mean);
        Assert.Equal(one.Var, two.Var);
        Assert.Equal(one.Y, inPlace.Y);
        // float64 reference from the formulas.
        int count = n * plane;
        for (int k = 0; k < c; k++)
        {
            (double mean, double variance) = ChannelMoments(x, n, c, plane, k);
            Assert.True(Math.Abs(one.Mean[k] - mean) <= 1e-6 * Math.Abs(mean) + 1e-6, $"channel {k}: mean {one.Mean[k]} against {mean}");
            Assert.True(Math.Abs(one.Var[k] - variance) <= 2e-6 * variance, $"channel {k}: variance {one.Var[k]} against {variance}");
            Assert.True(Math.Abs(one.RunningVar[k] - (0.9 + 0.1 * variance * count / (count - 1))) <= 2e-6 * (1 + variance), $"channel {k}: running variance");
            for (int b = 0; b < n; b++)
                for (int j = 0; j < plane; j++)
                {
                    int i = (b * c + k) * plane + j;
                    double expected = (x[i] - mean) / Math.Sqrt(variance + 1e-5) * (1 + k * 0.25) + (k * 0.5 - 1);
                    Assert.True(Math.Abs(one.Y[i] - expected) <= 2e-5 * (1 + Math.Abs(expected)), $"element {i}: {one.Y[i]} against {expected}");
                }
        }
        // The static kernel: the same bits.
        var ys = new float[x.Length];
        var mean2 = new float[c];
        var var2 = new float[c];
        var weight = Enumerable.Range(0, c).Select(k => 1 + k * 0.25f).ToArray();
        var bias = Enumerable.Range(0, c).Select(k => k * 0.5f - 1).ToArray();
        BnNchw.ForwardTraining(x, ys, n, c, h, w, weight, bias, mean2, var2, 1e-5f);
        Assert.Equal(one.Y, ys);
        Assert.Equal(one.Mean, mean2);
        Assert.Equal(one.Var, var2);
    }

    [Theory]
    [InlineData(2, 8, 8, 80)]   // C wider than the loop nest's registers: the expanded runs
    [InlineData(3, 2, 5, 300)]
    [InlineData(5, 3, 3, 200)]  // runs of whole 64-byte lines: 4 periods (800 floats)
    public void ChannelsLastGivesTheLoopNestsBits(int n, int h, int w, int c)
    {
        var random = new Random(n * 7 + c);
        int plane = h * w;
        Assert.True(ExpandedInference<StandardizeNorm, float>.Applies(ShapeNhwc, [n, h, w, c], Isa.Select(c)));
        var nhwc = new BnNhwc(c) { Training = false };
        var nest = new Fused.FBnNhwcNoneAfter(c, nhwc.Epsilon) { Training = false }; // BnNhwc declares Epsilon = 1e-3
        for (int k = 0; k < c; k++)
        {
            nhwc.Weight[k] = nest.Weight[k] = (float)(random.NextDouble() + 0.5);
            nhwc.Bias[k] = nest.Bias[k] = (float)(random.NextDouble() - 0.5);
            nhwc.RunningMean[k] = nest.RunningMean[k] = (float)(random.NextDouble() * 4 - 2 + (k == 3 ? 3000 : 0));
            nhwc.RunningVar[k] = nest.RunningVar[k] = (float)(random.NextDouble() + 0.1);
        }
        var x = new float[n * plane * c];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 6 - 3 + (i % c == 3 ? 3000 : 0));
        // The loop nest's output: the same layer with a residual added after the norm (which keeps the loop nest), of zeros.
        var expected = new float[x.Length];
        using (DegreeScope.Set(1)) nest.Forward(x, new float[x.Length], expected, n, h, w, c);
        for (int i = 0; i < x.Length; i++)
        {
            int k = i % c;
            double reference = (x[i] - (double)nest.RunningMean[k]) * nest.Weight[k] / Math.Sqrt(nest.RunningVar[k] + (double)nest.Epsilon) + nest.Bias[k];
            Assert.True(Math.Abs(expected[i] - reference) <= 1e-5 * (1 + Math.Abs(reference)), $"element {i}: {expected[i]} against {reference}");
        }
        foreach (int degree in new[] { 1, 2 })
        {
            using var scope = DegreeScope.Set(degree);
            var y = new float[x.Length];
            nhwc.Forward(x, y, n, h, w, c);
            for (int i = 0; i < x.Length; i++)
                Assert.True(y[i] == expected[i], $"degree {degree}, element {i}: {y[i]:R} against the loop nest's {expected[i]:R}");
            var inPlace = (float[])x.Clone();
            nhwc.Forward(inPlace, inPlace, n, h, w, c);
            Assert.Equal(y, inPlace);

            // Unstreamed runs start at the input's 64-byte boundaries after a peel of up to 15 floats: every peel length (the
            // input at each offset in a larger array, the output at another), in place and not, gives the same bits.
            for (int offset = 0; offset <= 17; offset++)
            {
                var input = new float[x.Length + 17];
                x.CopyTo(input, offset);
                var output = new float[x.Length + 17];
                int outputOffset = (offset * 7) % 18;
                nhwc.Forward(input.AsSpan(offset, x.Length), output.AsSpan(outputOffset, x.Length), n, h, w, c);
                Assert.True(y.AsSpan().SequenceEqual(output.AsSpan(outputOffset, x.Length)), $"degree {degree}, input offset {offset}, output offset {outputOffset}");
                Assert.Equal(0f, outputOffset > 0 ? output[outputOffset - 1] : 0f); // nothing stored before the output
                Assert.Equal(0f, outputOffset + x.Length < output.Length ? output[outputOffset + x.Length] : 0f); // nor after it
                nhwc.Forward(input.AsSpan(offset, x.Length), input.AsSpan(offset, x.Length), n, h, w, c);
                Assert.True(y.AsSpan().SequenceEqual(input.AsSpan(offset, x.Length)), $"degree {degree}, in place at offset {offset}");
            }
        }
    }

    private static readonly LayerShape ShapeNhwc = new("BnNhwc", "NHWC", "N,H,W", 0, AffineMode.PerChannel, NormKind.Standardize,
        LayerFeatures.Shards | LayerFeatures.Synchronized | LayerFeatures.RunningStatistics);
}
