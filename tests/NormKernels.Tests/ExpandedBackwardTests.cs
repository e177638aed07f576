using NormKernels.Runtime;

namespace NormKernels.Tests;

[Normalize(Layout = "NCHW", Axes = "N,H,W", Affine = AffineMode.None)] public sealed partial class BnNchwNoAffine;

/// <summary>
/// BatchNorm's training backward on short planes (H x W under 64, more than 1) runs through
/// <see cref="ExpandedBackward{TK, T}"/>: the gradient sums lane by lane across the samples, the coefficients expanded along
/// a block of channels. Checked against a float64 reference written from the formulas (batch statistics from the data),
/// on both cuts of a call (whole periods in one unit; blocks of channels), with a channel offset far from zero; bitwise
/// the same at 1 and 2 threads, in place (dx = dy), streamed (dx from expanded coefficients) and through the static kernel;
/// the parameter gradients accumulate.
/// </summary>
[Collection(nameof(ThreadingTests))]   // DegreeScope changes the process-wide Parallelism.MaxDegree
public sealed class ExpandedBackwardTests
{
    private static readonly LayerShape Shape = new("BnNchw", "NCHW", "N,H,W", 0, AffineMode.PerChannel, NormKind.Standardize,
        LayerFeatures.Shards | LayerFeatures.Synchronized | LayerFeatures.RunningStatistics);

    [Theory]
    [InlineData(3, 64, 7, 7)]   // K x H x W = 3,136: rows of whole vectors, forward blocks of 1,568, backward of 784
    [InlineData(4, 128, 5, 5)]  // 3,200
    [InlineData(2, 96, 4, 4)]   // 1,536
    public void ShortPlanesDoNotDependOnWhereXAndDyStart(int n, int c, int h, int w)
    {
        // Periods of whole vectors put every sample's block at the same distance from a vector boundary, and the column sums
        // then start their strips at that boundary (x's in the forward, dy's in the backward) with the columns before it as
        // one vector with only those lanes. Each column's lanes do the same operations wherever the strips start, so x and
        // dy at every offset within a line give the bits of x and dy at offset 0: the forward's output and batch statistics,
        // dx and the parameter gradients. (The fifty-sixth session's change; its first-lanes mask taken as the last lanes
        // fails here.) The applies' flat ranges start at x's boundary (forward) and dy's or x's (backward, by where dx is):
        // y and dx move as well, on x's offset every other time.
        int length = n * c * h * w;
        var random = new Random(n * 131 + c);
        float[] values = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 1)).ToArray();
        float[] grads = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        // inPlace 0: separate outputs at outOffset; 1: the forward in place over a copy of x, dx over dy; 2: the same
        // forward, dx over x.
        (int[] Y, int[] Stats, int[] Dx, int[] Grads) Run(int xOffset, int dyOffset, int outOffset, int inPlace = 0)
        {
            float[] xb = new float[length + 16], dyb = new float[length + 16];
            values.CopyTo(xb, xOffset);
            grads.CopyTo(dyb, dyOffset);
            var layer = new BnNchw(c);
            for (int k = 0; k < c; k++) { layer.Weight[k] = 0.75f + k * 0.01f; layer.Bias[k] = k * 0.02f - 0.5f; }
            Span<float> x = xb.AsSpan(xOffset, length), dyv = dyb.AsSpan(dyOffset, length);
            Span<float> y = inPlace != 0 ? new float[length + 16].AsSpan(xOffset, length) : new float[length + 16].AsSpan(outOffset, length);
            if (inPlace != 0) x.CopyTo(y);
            layer.Forward(inPlace != 0 ? y : x, y, n, c, h, w);
            Span<float> dx = inPlace switch { 1 => dyv, 2 => x, _ => new float[length + 16].AsSpan(outOffset, length) };
            layer.Backward(x, dyv, dx, n, c, h, w);
            return (KernelCheck.Bits(y), KernelCheck.Bits(layer.BatchMean.ToArray().Concat(layer.BatchVariance.ToArray()).Concat(layer.RunningMean).Concat(layer.RunningVar).ToArray()),
                KernelCheck.Bits(dx), KernelCheck.Bits(layer.WeightGrad.Concat(layer.BiasGrad).ToArray()));
        }
        var expected = Run(0, 0, 0);
        for (int offset = 1; offset < 16; offset++)
        {
            var actual = Run(offset, (3 * offset + 5) % 16, offset % 2 == 0 ? offset : (7 * offset + 1) % 16);
            Assert.Equal(expected.Y, actual.Y);
            Assert.Equal(expected.Stats, actual.Stats);
            Assert.Equal(expected.Dx, actual.Dx);
            Assert.Equal(expected.Grads, actual.Grads);
        }
        // In place at every offset (y over x; dx over dy, then over x): every element's output from its own inputs, each
        // loaded before any store over it, wherever the flat ranges start.
        for (int offset = 0; offset < 16; offset++)
            for (int inPlace = 1; inPlace <= 2; inPlace++)
            {
                var actual = Run(offset, (5 * offset + 3) % 16, 0, inPlace);
                Assert.Equal(expected.Y, actual.Y);
                Assert.Equal(expected.Stats, actual.Stats);
                Assert.Equal(expected.Dx, actual.Dx);
                Assert.Equal(expected.Grads, actual.Grads);
            }
    }

    [Theory]
    [InlineData(33, 4, 2, 2)]   // whole periods: one unit sums every run, a partial last run
    [InlineData(2, 40, 7, 7)]   // K x H x W = 1,960: one block of channels (a block is about 2,048 elements)
    [InlineData(3, 100, 7, 7)]  // 4,900: three blocks of 33, 33 and 34 channels
    [InlineData(40, 3, 3, 3)]   // more samples than one chunk of lane sums (16)
    [InlineData(5, 48, 5, 5)]   // 1,200: one block, 25-element planes
    [InlineData(4, 180, 5, 5)]  // 4,500: three blocks of 60 channels, 25-element planes
    public void ShortPlanesBackwardMatchesTheReferenceAtAnyThreadCount(int n, int c, int h, int w)
    {
        var random = new Random(n * 31 + c * 7 + h);
        int plane = h * w;
        var x = new float[n * c * plane];
        var dy = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int k = i / plane % c;
            // Channel 1 sits 200,000 from zero (its float mean is off by up to 0.008: the backward corrects it from the data)
            // with a gradient that follows x; channel 2's gradient has an offset.
            double value = (random.NextDouble() * 2 - 1) * (k + 1);
            x[i] = (float)(value + (k == 1 ? 200_000 : 0));
            dy[i] = (float)(random.NextDouble() * 2 - 1 + (k == 2 ? 4 : 0) + (k == 1 ? value : 0));
        }
        Assert.True(ExpandedBackward<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], Isa.Select(plane), false));
        Assert.False(ExpandedBackward<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], Isa.Select(plane), true));

        (float[] Dx, float[] WeightGrad, float[] BiasGrad, float[] Mean, float[] Var) Run(int degree, bool inPlace)
        {
            using var scope = DegreeScope.Set(degree);
            var layer = new BnNchw(c);
            for (int k = 0; k < c; k++)
            {
                layer.Weight[k] = 1 + k * 0.25f; layer.Bias[k] = k * 0.5f - 1;
                layer.WeightGrad[k] = 0.5f; layer.BiasGrad[k] = -0.25f;   // Backward adds into them
            }
            layer.Forward(x, new float[x.Length], n, c, h, w);
            float[] dx = inPlace ? (float[])dy.Clone() : new float[x.Length];
            layer.Backward(x, inPlace ? dx : dy, dx, n, c, h, w);
            Assert.Equal(Isa.Select(plane), layer.LastPath);
            return (dx, layer.WeightGrad.ToArray(), layer.BiasGrad.ToArray(), layer.BatchMean.ToArray(), layer.BatchVariance.ToArray());
        }
        var one = Run(1, false);
        var two = Run(2, false);
        var inPlace = Run(1, true);
        Assert.Equal(one.Dx, two.Dx);
        Assert.Equal(one.WeightGrad, two.WeightGrad);
        Assert.Equal(one.BiasGrad, two.BiasGrad);
        Assert.Equal(one.Dx, inPlace.Dx);
        Assert.Equal(one.WeightGrad, inPlace.WeightGrad);
        // Streamed (threshold 0), dx takes the coefficients expanded along the lanes; stored normally, blocks of channels on
        // lane-row planes take them one per channel, broadcast: the same bits.
        using (ThresholdScope.Set(0))
        {
            var streamed = Run(1, false);
            Assert.Equal(Isa.Select(plane) != KernelPath.Scalar, Streaming.LastCallStreamed);
            Assert.Equal(one.Dx, streamed.Dx);
        }

        for (int k = 0; k < c; k++)
        {
            var expected = Reference(x, dy, n, c, plane, k, 1 + k * 0.25);
            Assert.True(Math.Abs(one.BiasGrad[k] - (-0.25 + expected.BiasGrad)) <= 1e-5 * (1 + expected.Scale),
                $"channel {k}: bias grad {one.BiasGrad[k]} against {-0.25 + expected.BiasGrad}");
            Assert.True(Math.Abs(one.WeightGrad[k] - (0.5 + expected.WeightGrad)) <= 2e-5 * (1 + expected.Scale),
                $"channel {k}: weight grad {one.WeightGrad[k]} against {0.5 + expected.WeightGrad}");
            AssertInputGrad(one.Dx, expected.Dx, n, c, plane, k);
        }

        // The static kernel on the layer's batch statistics: as close to the reference. (Not the layer's bits: the layer takes
        // each channel's sum of x - (float)mean from its forward's mean residual, the static kernel, given the statistics as
        // float, sums it exactly; ResidualBackwardTests.)
        var weight = Enumerable.Range(0, c).Select(k => 1 + k * 0.25f).ToArray();
        var weightGrad = Enumerable.Repeat(0.5f, c).ToArray();
        var biasGrad = Enumerable.Repeat(-0.25f, c).ToArray();
        var dxs = new float[x.Length];
        BnNchw.BackwardTraining(x, dy, dxs, n, c, h, w, weight, one.Mean, one.Var, 1e-5f, weightGrad, biasGrad);
        for (int k = 0; k < c; k++)
        {
            var expected = Reference(x, dy, n, c, plane, k, 1 + k * 0.25);
            Assert.True(Math.Abs(biasGrad[k] - (-0.25 + expected.BiasGrad)) <= 1e-5 * (1 + expected.Scale), $"static, channel {k}: bias grad");
            Assert.True(Math.Abs(weightGrad[k] - (0.5 + expected.WeightGrad)) <= 2e-5 * (1 + expected.Scale), $"static, channel {k}: weight grad");
            AssertInputGrad(dxs, expected.Dx, n, c, plane, k);
        }
    }

    [Fact]
    public void WithoutAffineOnlyTheInputGradientIsWritten()
    {
        int n = 6, c = 20, h = 7, w = 7, plane = h * w;
        var random = new Random(5);
        var x = Enumerable.Range(0, n * c * plane).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var dy = Enumerable.Range(0, x.Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var layer = new BnNchwNoAffine(c);
        layer.Forward(x, new float[x.Length], n, c, h, w);
        var dx = new float[x.Length];
        layer.Backward(x, dy, dx, n, c, h, w);
        Assert.Equal(Isa.Select(plane), layer.LastPath);
        for (int k = 0; k < c; k++)
            AssertInputGrad(dx, Reference(x, dy, n, c, plane, k, 1).Dx, n, c, plane, k);
    }

    /// <summary>The float64 reference of channel <paramref name="k"/> (NCHW, planes of <paramref name="plane"/>): with
    /// xhat = (x - mean) * rstd over its M = n * plane values (batch statistics from the data), dbeta = sum dy,
    /// dgamma = sum dy * xhat, dx = gamma * rstd / M * (M * dy - dbeta - xhat * dgamma); dx and an error scale per element
    /// (the sizes of the terms), indexed like x, and the sum of |dy| as the gradients' scale.</summary>
    private static ((double Value, double Scale)[] Dx, double BiasGrad, double WeightGrad, double Scale) Reference(float[] x, float[] dy, int n, int c,
        int plane, int k, double gamma)
    {
        (double mean, double variance) = ExpandedInferenceTests.ChannelMoments(x, n, c, plane, k);
        double rstd = 1 / Math.Sqrt(variance + 1e-5), sumDy = 0, sumDyXhat = 0, sumDyAbs = 0;
        int count = n * plane;
        for (int b = 0; b < n; b++)
            for (int j = 0; j < plane; j++)
            {
                int i = (b * c + k) * plane + j;
                sumDy += dy[i];
                sumDyXhat += dy[i] * (x[i] - mean) * rstd;
                sumDyAbs += Math.Abs(dy[i]);
            }
        var dx = new (double, double)[x.Length];
        for (int b = 0; b < n; b++)
            for (int j = 0; j < plane; j++)
            {
                int i = (b * c + k) * plane + j;
                double xhat = (x[i] - mean) * rstd;
                dx[i] = (gamma * rstd / count * (count * dy[i] - sumDy - xhat * sumDyXhat),
                    gamma * rstd * (Math.Abs(dy[i]) + sumDyAbs / count * (1 + Math.Abs(xhat))));
            }
        return (dx, sumDy, sumDyXhat, sumDyAbs);
    }

    private static void AssertInputGrad(float[] actual, (double Value, double Scale)[] expected, int n, int c, int plane, int k)
    {
        for (int b = 0; b < n; b++)
            for (int j = 0; j < plane; j++)
            {
                int i = (b * c + k) * plane + j;
                Assert.True(Math.Abs(actual[i] - expected[i].Value) <= 5e-5 * expected[i].Scale + 1e-6,
                    $"channel {k}, element {i}: {actual[i]} against {expected[i].Value}");
            }
    }
}
