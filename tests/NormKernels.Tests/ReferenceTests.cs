using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// Tests of the float64 reference itself: identities between normalizations, layout permutation, the moments of its
/// output, the documented indexing, and hand-worked cases computed here with explicit loops.
/// </summary>
public sealed class ReferenceTests
{
    // The reference runs in double; identities between two of its evaluations hold to a few double ulps.
    private const double Tight = 1e-12;

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance = Tight)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = tolerance * (1.0 + Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound,
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    // ---- Hand-worked cases ---------------------------------------------------------------------------------------

    [Fact]
    public void BatchNormNcMatchesFormulaWorkedByHand()
    {
        // x is 2 samples x 3 channels, NC layout: x[n, c] = x[n * 3 + c].
        float[] x = [1.0f, -2.0f, 0.5f,
                     3.0f, 4.0f, -1.5f];
        float[] gamma = [2.0f, 0.5f, -1.0f];
        float[] beta = [0.1f, 0.0f, 3.0f];
        float[] runningMean = [0.5f, -1.0f, 2.0f];
        float[] runningVar = [1.0f, 2.0f, 0.5f];
        const double eps = 0.25, momentum = 0.3;

        var expectedY = new double[6];
        var expectedRunningMean = new double[3];
        var expectedRunningVar = new double[3];
        var expectedInference = new double[6];
        for (int c = 0; c < 3; c++)
        {
            double a = x[0 * 3 + c], b = x[1 * 3 + c];
            double mean = (a + b) / 2;
            double biased = ((a - mean) * (a - mean) + (b - mean) * (b - mean)) / 2;
            double unbiased = ((a - mean) * (a - mean) + (b - mean) * (b - mean)) / 1;
            for (int n = 0; n < 2; n++)
            {
                expectedY[n * 3 + c] = (x[n * 3 + c] - mean) / Math.Sqrt(biased + eps) * gamma[c] + beta[c];
                expectedInference[n * 3 + c] = (x[n * 3 + c] - runningMean[c]) / Math.Sqrt(runningVar[c] + eps) * gamma[c] + beta[c];
            }
            expectedRunningMean[c] = 0.7 * runningMean[c] + 0.3 * mean;
            expectedRunningVar[c] = 0.7 * runningVar[c] + 0.3 * unbiased;
        }

        var reference = new NormReference("NC", "N");
        int[] dims = [2, 3];
        ReferenceResult result = reference.ForwardTraining(dims, x, gamma, beta, eps, momentum, runningMean, runningVar);

        AssertClose(expectedY, result.Output);
        AssertClose(expectedRunningMean, result.RunningMean!);
        AssertClose(expectedRunningVar, result.RunningVar!);
        Assert.Equal(2, result.Statistics!.Count);
        AssertClose([2.0, 1.0, -0.5], result.Statistics.Mean); // (1+3)/2, (-2+4)/2, (0.5-1.5)/2
        AssertClose([1.0, 9.0, 1.0], result.Statistics.Variance);
        AssertClose(expectedInference, reference.ForwardInference(dims, x, gamma, beta, runningMean, runningVar, eps));
    }

    [Fact]
    public void RmsNormNtcMatchesFormulaWorkedByHand()
    {
        // N = 1, T = 2, C = 3; one statistic per (n, t) row, no mean subtracted, elementwise affine over [T, C].
        float[] x = [1.0f, 2.0f, -2.0f,
                     0.0f, -3.0f, 4.0f];
        float[] gamma = [1.0f, 2.0f, 3.0f, -1.0f, 0.5f, 0.25f];
        float[] beta = [0.0f, 1.0f, 0.0f, -1.0f, 0.0f, 2.0f];
        const double eps = 1e-2;

        var expected = new double[6];
        for (int t = 0; t < 2; t++)
        {
            double sumSquares = 0;
            for (int c = 0; c < 3; c++) sumSquares += (double)x[t * 3 + c] * x[t * 3 + c];
            double rms = Math.Sqrt(sumSquares / 3 + eps);
            for (int c = 0; c < 3; c++)
                expected[t * 3 + c] = x[t * 3 + c] / rms * gamma[t * 3 + c] + beta[t * 3 + c];
        }

        var reference = new NormReference("NTC", "C", kind: NormKind.RootMeanSquare, affine: AffineMode.Elementwise);
        ReferenceResult result = reference.ForwardTraining([1, 2, 3], x, gamma, beta, eps);
        AssertClose(expected, result.Output);
        AssertClose([3.0, 25.0 / 3.0], result.Statistics!.MeanSquare);
    }

    // ---- Indexing as documented -----------------------------------------------------------------------------------

    [Fact]
    public void StatisticIndexFollowsDocumentedExamples()
    {
        const int N = 2, C = 6, H = 3, W = 4, G = 3;
        var groupNchw = new NormReference("NCHW", "C,H,W", groups: G);
        var instanceNhwc = new NormReference("NHWC", "H,W");
        var batchNhwc = new NormReference("NHWC", "N,H,W");
        var layerNchw = new NormReference("NCHW", "C,H,W");
        var perActivationNchw = new NormReference("NCHW", "N", affine: AffineMode.Elementwise);
        int[] nchw = [N, C, H, W], nhwc = [N, H, W, C];

        Assert.Equal(N * G, groupNchw.StatisticCount(nchw));
        Assert.Equal(N * C, instanceNhwc.StatisticCount(nhwc));
        Assert.Equal(C, batchNhwc.StatisticCount(nhwc));
        Assert.Equal(N, layerNchw.StatisticCount(nchw));
        Assert.Equal(C * H * W, perActivationNchw.StatisticCount(nchw));

        for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++)
        {
            int flatNchw = ((n * C + c) * H + h) * W + w;
            int flatNhwc = ((n * H + h) * W + w) * C + c;
            Assert.Equal(n * G + c / (C / G), groupNchw.StatisticIndex(nchw, flatNchw));
            Assert.Equal(n * C + c, instanceNhwc.StatisticIndex(nhwc, flatNhwc));
            Assert.Equal(c, batchNhwc.StatisticIndex(nhwc, flatNhwc));
            Assert.Equal(n, layerNchw.StatisticIndex(nchw, flatNchw));
            Assert.Equal((c * H + h) * W + w, perActivationNchw.StatisticIndex(nchw, flatNchw));
        }
    }

    [Fact]
    public void AffineIndexFollowsDocumentedExamples()
    {
        const int N = 2, C = 3, H = 4, W = 5, T = 6;
        var perChannelNhwc = new NormReference("NHWC", "N,H,W");
        var elementwiseNchw = new NormReference("NCHW", "C,H,W", affine: AffineMode.Elementwise);
        var elementwiseNhwc = new NormReference("NHWC", "C,H,W", affine: AffineMode.Elementwise);
        var elementwiseNtc = new NormReference("NTC", "C", affine: AffineMode.Elementwise);
        var none = new NormReference("NCHW", "H,W", affine: AffineMode.None);
        int[] nchw = [N, C, H, W], nhwc = [N, H, W, C], ntc = [N, T, C];

        Assert.Equal(C, perChannelNhwc.AffineLength(nhwc));
        Assert.Equal(C * H * W, elementwiseNchw.AffineLength(nchw));
        Assert.Equal(C * H * W, elementwiseNhwc.AffineLength(nhwc));
        Assert.Equal(T * C, elementwiseNtc.AffineLength(ntc));
        Assert.Equal(0, none.AffineLength(nchw));

        for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++)
        {
            int flatNchw = ((n * C + c) * H + h) * W + w;
            int flatNhwc = ((n * H + h) * W + w) * C + c;
            Assert.Equal(c, perChannelNhwc.AffineIndex(nhwc, flatNhwc));
            Assert.Equal((c * H + h) * W + w, elementwiseNchw.AffineIndex(nchw, flatNchw));
            Assert.Equal((h * W + w) * C + c, elementwiseNhwc.AffineIndex(nhwc, flatNhwc));
            Assert.Equal(-1, none.AffineIndex(nchw, flatNchw));
        }
        for (int n = 0; n < N; n++)
        for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++)
            Assert.Equal(t * C + c, elementwiseNtc.AffineIndex(ntc, (n * T + t) * C + c));
    }

    // ---- Identities between normalizations ------------------------------------------------------------------------

    [Theory]
    [InlineData("NCHW")]
    [InlineData("NHWC")]
    [InlineData("NDHWC")]
    public void GroupNormWithOneGroupIsLayerNorm(string layout)
    {
        var random = new Random(11);
        int[] dims = DimsFor(layout, n: 3, c: 5, spatial: 4);
        float[] x = TestData.Normal(random, TestData.Product(dims), 0.7, 2.0);
        float[] gamma = TestData.Uniform(random, 5, -1.5, 1.5);
        float[] beta = TestData.Uniform(random, 5, -1, 1);
        string allButN = string.Join(",", layout.Where(letter => letter != 'N'));

        ReferenceResult group = new NormReference(layout, allButN, groups: 1).ForwardTraining(dims, x, gamma, beta, 1e-3);
        ReferenceResult layer = new NormReference(layout, allButN).ForwardTraining(dims, x, gamma, beta, 1e-3);

        AssertClose(layer.Output, group.Output);
        AssertClose(layer.Statistics!.Mean, group.Statistics!.Mean);
        AssertClose(layer.Statistics.Variance, group.Statistics.Variance);
    }

    [Theory]
    [InlineData("NCHW")]
    [InlineData("NHWC")]
    [InlineData("NCL")]
    public void GroupNormWithOneChannelPerGroupIsInstanceNorm(string layout)
    {
        const int C = 6;
        var random = new Random(12);
        int[] dims = DimsFor(layout, n: 2, c: C, spatial: 5);
        float[] x = TestData.Normal(random, TestData.Product(dims), -1.0, 3.0);
        float[] gamma = TestData.Uniform(random, C, -1.5, 1.5);
        float[] beta = TestData.Uniform(random, C, -1, 1);
        string spatial = string.Join(",", layout.Where(letter => letter is not ('N' or 'C')));

        ReferenceResult group = new NormReference(layout, "C," + spatial, groups: C).ForwardTraining(dims, x, gamma, beta, 1e-3);
        ReferenceResult instance = new NormReference(layout, spatial).ForwardTraining(dims, x, gamma, beta, 1e-3);

        AssertClose(instance.Output, group.Output);
        AssertClose(instance.Statistics!.Mean, group.Statistics!.Mean); // (n, g) with g = c is (n, c)
        AssertClose(instance.Statistics.Variance, group.Statistics.Variance);
    }

    [Fact]
    public void BatchNormPerActivationIsBatchNormOverFlattenedFeatures()
    {
        // Axes = "N" with elementwise affine on NCHW is BatchNorm1d on NC with C' = C*H*W: same memory, same indexing.
        const int N = 4, C = 3, H = 2, W = 5;
        var random = new Random(13);
        float[] x = TestData.Normal(random, N * C * H * W, 2.0, 0.5);
        float[] gamma = TestData.Uniform(random, C * H * W, 0.5, 1.5);
        float[] beta = TestData.Uniform(random, C * H * W, -1, 1);
        float[] runningMean = TestData.Uniform(random, C * H * W, -1, 1);
        float[] runningVar = TestData.Uniform(random, C * H * W, 0.5, 2);

        ReferenceResult spatial = new NormReference("NCHW", "N", affine: AffineMode.Elementwise)
            .ForwardTraining([N, C, H, W], x, gamma, beta, 1e-5, 0.1, runningMean, runningVar);
        ReferenceResult flat = new NormReference("NC", "N")
            .ForwardTraining([N, C * H * W], x, gamma, beta, 1e-5, 0.1, runningMean, runningVar);

        AssertClose(flat.Output, spatial.Output);
        AssertClose(flat.RunningMean!, spatial.RunningMean!);
        AssertClose(flat.RunningVar!, spatial.RunningVar!);
    }

    public static TheoryData<string, int, NormKind, AffineMode> PermutationCases => new()
    {
        { "N,H,W", 0, NormKind.Standardize, AffineMode.PerChannel },       // BatchNorm
        { "H,W", 0, NormKind.Standardize, AffineMode.PerChannel },         // InstanceNorm
        { "C,H,W", 0, NormKind.Standardize, AffineMode.PerChannel },       // LayerNorm, per-channel affine
        { "C,H,W", 0, NormKind.Standardize, AffineMode.Elementwise },      // LayerNorm, elementwise affine
        { "C,H,W", 3, NormKind.Standardize, AffineMode.PerChannel },       // GroupNorm
        { "C,H,W", 0, NormKind.RootMeanSquare, AffineMode.Elementwise },   // RMSNorm
        { "N", 0, NormKind.Standardize, AffineMode.Elementwise },           // BatchNorm per activation
        { "H,W", 0, NormKind.Standardize, AffineMode.None },
    };

    [Theory]
    [MemberData(nameof(PermutationCases))]
    public void ChannelsLastOfPermutedDataIsPermutedOutput(string axes, int groups, NormKind kind, AffineMode affine)
    {
        const int N = 3, C = 6, H = 4, W = 5;
        int[] nchw = [N, C, H, W];
        int[] nhwc = [N, H, W, C];
        var random = new Random(14);
        float[] x = TestData.Normal(random, N * C * H * W, 0.3, 1.7);
        var first = new NormReference("NCHW", axes, groups, kind, affine);
        var last = new NormReference("NHWC", axes, groups, kind, affine);
        int affineLength = first.AffineLength(nchw);
        float[] gamma = TestData.Uniform(random, affineLength, -2, 2);
        float[] beta = TestData.Uniform(random, affineLength, -1, 1);
        // Elementwise weights are stored in layout order without N: [C,H,W] for NCHW, [H,W,C] for NHWC.
        float[] gammaLast = affine == AffineMode.Elementwise ? TestData.Transpose<float>(gamma, "CHW", [C, H, W], "HWC") : gamma;
        float[] betaLast = affine == AffineMode.Elementwise ? TestData.Transpose<float>(beta, "CHW", [C, H, W], "HWC") : beta;

        ReferenceResult outFirst = first.ForwardTraining(nchw, x, gamma, beta, 1e-2);
        ReferenceResult outLast = last.ForwardTraining(nhwc, TestData.Transpose<float>(x, "NCHW", nchw, "NHWC"), gammaLast, betaLast, 1e-2);

        AssertClose(TestData.Transpose<double>(outFirst.Output, "NCHW", nchw, "NHWC"), outLast.Output);
        if (axes != "N") // statistics kept per (n), (c), (n, c) or (n, g) are indexed alike in both layouts
        {
            AssertClose(outFirst.Statistics!.Mean, outLast.Statistics!.Mean);
            AssertClose(outFirst.Statistics.Variance, outLast.Statistics.Variance);
        }
    }

    // ---- Moments of the output ------------------------------------------------------------------------------------

    public static TheoryData<string, string, int, NormKind> MomentCases => new()
    {
        { "NCHW", "N,H,W", 0, NormKind.Standardize },
        { "NHWC", "N,H,W", 0, NormKind.Standardize },
        { "NHWC", "H,W", 0, NormKind.Standardize },
        { "NCHW", "C,H,W", 0, NormKind.Standardize },
        { "NHWC", "C,H,W", 2, NormKind.Standardize },
        { "NDHWC", "C,D,H,W", 3, NormKind.Standardize },
        { "NTC", "C", 0, NormKind.Standardize },
        { "NTC", "C", 0, NormKind.RootMeanSquare },
        { "NHWC", "H,W", 0, NormKind.RootMeanSquare },
        { "NCHW", "N", 0, NormKind.Standardize },
    };

    [Theory]
    [MemberData(nameof(MomentCases))]
    public void OutputPerStatisticHasZeroMeanAndShrunkVariance(string layout, string axes, int groups, NormKind kind)
    {
        // With gamma = 1, beta = 0 the output of each statistic's set S has mean 0 and variance var/(var + eps)
        // (root mean square: mean square ms/(ms + eps)). The sets are rebuilt here from per-axis indices, independently
        // of the reference's StatisticIndex, and the data has a different offset and scale along every axis, so a
        // wrong grouping leaves a visible mean.
        var reference = new NormReference(layout, axes, groups, kind, AffineMode.None);
        int[] dims = DimsFor(layout, n: 3, c: 6, spatial: 3);
        var random = new Random(15);
        float[] x = StructuredData(random, layout, dims);
        const double eps = 0.5; // large, so var/(var+eps) differs visibly from 1

        double[] y = reference.ForwardTraining(dims, x, [], [], eps).Output;

        var sets = new Dictionary<string, List<int>>();
        for (int i = 0; i < x.Length; i++)
        {
            string key = KeptKey(layout, axes, groups, dims, i);
            if (!sets.TryGetValue(key, out var members)) sets[key] = members = [];
            members.Add(i);
        }
        Assert.Equal(reference.StatisticCount(dims), sets.Count);

        foreach (List<int> members in sets.Values)
        {
            double meanX = members.Average(i => (double)x[i]);
            double varX = members.Average(i => (x[i] - meanX) * (x[i] - meanX));
            double msX = members.Average(i => (double)x[i] * x[i]);
            double meanY = members.Average(i => y[i]);
            double varY = members.Average(i => (y[i] - meanY) * (y[i] - meanY));
            double msY = members.Average(i => y[i] * y[i]);
            if (kind == NormKind.Standardize)
            {
                Assert.True(Math.Abs(meanY) < 1e-10, $"mean {meanY}");
                Assert.True(Math.Abs(varY - varX / (varX + eps)) < 1e-10, $"variance {varY} vs {varX / (varX + eps)}");
            }
            else
            {
                Assert.True(Math.Abs(msY - msX / (msX + eps)) < 1e-10, $"mean square {msY} vs {msX / (msX + eps)}");
            }
        }
    }

    // ---- Modes ------------------------------------------------------------------------------------------------------

    [Fact]
    public void InferenceWithBatchStatisticsAsRunningIsTrainingOutput()
    {
        var reference = new NormReference("NHWC", "N,H,W");
        int[] dims = [2, 3, 5, 4];
        var random = new Random(16);
        float[] x = TestData.Normal(random, TestData.Product(dims), 1, 2);
        float[] gamma = TestData.Uniform(random, 4, -1, 1);
        float[] beta = TestData.Uniform(random, 4, -1, 1);
        ReferenceResult training = reference.ForwardTraining(dims, x, gamma, beta, 1e-3);
        ReferenceStatistics batch = training.Statistics!;

        // Through float the statistics lose ~1e-7 relative; compare with a tolerance to match.
        float[] mean = batch.Mean.Select(m => (float)m).ToArray();
        float[] variance = batch.Variance.Select(v => (float)v).ToArray();
        double[] inference = reference.ForwardInference(dims, x, gamma, beta, mean, variance, 1e-3);
        AssertClose(training.Output, inference, 1e-6);
    }

    [Fact]
    public void MomentumZeroKeepsAndMomentumOneReplacesRunningStatistics()
    {
        var reference = new NormReference("NCL", "N,L");
        int[] dims = [3, 2, 7];
        var random = new Random(17);
        float[] x = TestData.Normal(random, TestData.Product(dims), 5, 3);
        float[] ones = [1, 1], zeros = [0, 0];
        float[] runningMean = [0.25f, -4f], runningVar = [3f, 0.5f];

        ReferenceResult kept = reference.ForwardTraining(dims, x, ones, zeros, 1e-5, 0.0, runningMean, runningVar);
        AssertClose([0.25, -4.0], kept.RunningMean!);
        AssertClose([3.0, 0.5], kept.RunningVar!);

        ReferenceResult replaced = reference.ForwardTraining(dims, x, ones, zeros, 1e-5, 1.0, runningMean, runningVar);
        for (int c = 0; c < 2; c++)
        {
            var values = new List<double>();
            for (int n = 0; n < 3; n++)
                for (int l = 0; l < 7; l++)
                    values.Add(x[(n * 2 + c) * 7 + l]);
            double mean = values.Average();
            double unbiased = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
            Assert.Equal(mean, replaced.RunningMean![c], 1e-12);
            Assert.Equal(unbiased, replaced.RunningVar![c], 1e-12);
        }
    }

    [Fact]
    public void LargeOffsetKeepsVarianceExact()
    {
        // Variance is shift-invariant: the samples at ~8192 (std 1e-2) minus 8192, which is exact in double, have the
        // same variance, computed here without any cancellation. A one-pass E[x^2] - E[x]^2 in double would lose
        // ~(8192^2 * 1e-16) / 1e-4 ~ 1e-4 relative; the reference must agree to double rounding.
        var reference = new NormReference("NC", "N");
        var random = new Random(18);
        float[] offset = TestData.Normal(random, 4096, 8192, 1e-2);
        double[] centered = offset.Select(v => (double)v - 8192.0).ToArray();
        double centeredMean = centered.Average();
        double variance = centered.Sum(v => (v - centeredMean) * (v - centeredMean)) / centered.Length;

        ReferenceStatistics stats = reference.Statistics([4096, 1], offset);

        Assert.Equal(8192.0 + centeredMean, stats.Mean[0], 1e-9);
        Assert.True(Math.Abs(stats.Variance[0] - variance) <= 1e-9 * variance, $"{stats.Variance[0]:R} vs {variance:R}");
    }

    // ---- Checks and speed -------------------------------------------------------------------------------------------

    [Fact]
    public void RejectsMalformedArguments()
    {
        var reference = new NormReference("NCHW", "C,H,W", groups: 2);
        float[] x = new float[2 * 4 * 3 * 3];
        float[] four = new float[4];

        Assert.Equal("dims", Assert.Throws<ArgumentException>(() => reference.ForwardTraining([2, 4, 3], x, four, four, 1e-5)).ParamName);
        Assert.Equal("dims", Assert.Throws<ArgumentOutOfRangeException>(() => reference.ForwardTraining([2, 4, 0, 3], x, four, four, 1e-5)).ParamName);
        Assert.Equal("dims", Assert.Throws<ArgumentException>(() => reference.ForwardTraining([2, 5, 3, 3], new float[90], new float[5], new float[5], 1e-5)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => reference.ForwardTraining([2, 4, 3, 3], new float[71], four, four, 1e-5)).ParamName);
        Assert.Equal("weight", Assert.Throws<ArgumentException>(() => reference.ForwardTraining([2, 4, 3, 3], x, new float[3], four, 1e-5)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => reference.ForwardTraining([2, 4, 3, 3], x, four, new float[5], 1e-5)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => reference.ForwardTraining([2, 4, 3, 3], x, four, four, 0)).ParamName);

        var batch = new NormReference("NC", "N");
        var single = Assert.Throws<ArgumentException>(() => batch.ForwardTraining([1, 3], new float[3], new float[3], new float[3], 1e-5, 0.1, new float[3], new float[3]));
        Assert.Contains("Expected more than 1 value per statistic when training", single.Message);
        Assert.Equal("runningMean", Assert.Throws<ArgumentException>(() => batch.ForwardTraining([2, 3], new float[6], new float[3], new float[3], 1e-5, 0.1, new float[2], new float[3])).ParamName);

        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new NormReference("NCHW", "H,W", groups: 2)).ParamName);
        Assert.Equal("axes", Assert.Throws<ArgumentException>(() => new NormReference("NCHW", "N,X")).ParamName);
        Assert.Equal("affine", Assert.Throws<ArgumentException>(() => new NormReference("NTL", "L")).ParamName);
    }

    // ---- Helpers ----------------------------------------------------------------------------------------------------

    /// <summary>Extents in layout order: N, C, and every other letter the same spatial extent (plus one per axis, so
    /// no two axes share an extent and a mixed-up axis shows).</summary>
    private static int[] DimsFor(string layout, int n, int c, int spatial)
    {
        var dims = new int[layout.Length];
        int next = spatial;
        for (int a = 0; a < layout.Length; a++)
            dims[a] = layout[a] switch { 'N' => n, 'C' => c, _ => next++ };
        return dims;
    }

    /// <summary>Samples whose offset and scale depend on every axis index, so each set S has its own moments.</summary>
    private static float[] StructuredData(Random random, string layout, int[] dims)
    {
        var offsets = dims.Select(d => TestData.Uniform(random, d, -3, 3)).ToArray();
        var scales = dims.Select(d => TestData.Uniform(random, d, 0.5, 2)).ToArray();
        float[] data = TestData.Normal(random, TestData.Product(dims), 0, 1);
        for (int i = 0; i < data.Length; i++)
        {
            int rest = i;
            double offset = 0, scale = 1;
            for (int a = layout.Length - 1; a >= 0; a--)
            {
                int k = rest % dims[a];
                rest /= dims[a];
                offset += offsets[a][k];
                scale *= scales[a][k];
            }
            data[i] = (float)(data[i] * scale + offset);
        }
        return data;
    }

    /// <summary>A name for the set S of element <paramref name="flat"/>: the indices of the kept axes, and the group of c
    /// when C is split into groups.</summary>
    private static string KeptKey(string layout, string axes, int groups, int[] dims, int flat)
    {
        var parts = new List<string>();
        int rest = flat;
        for (int a = layout.Length - 1; a >= 0; a--)
        {
            int k = rest % dims[a];
            rest /= dims[a];
            if (!axes.Contains(layout[a]))
                parts.Add($"{layout[a]}{k}");
            else if (layout[a] == 'C' && groups > 0)
                parts.Add($"G{k / (dims[a] / groups)}");
        }
        return string.Join(" ", parts);
    }
}
