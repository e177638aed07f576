using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Backward of every generated layer against the float64 reference's analytic gradients (<see cref="NormReference.BackwardTraining(ReadOnlySpan{int}, ReadOnlySpan{double}, ReadOnlySpan{double}, ReadOnlySpan{double}, double)"/>),
/// and the reference itself against central finite differences of the reference forward.
/// </summary>
public sealed class BackwardTests
{
    public static TheoryData<string> Names => LayerCases.Names;

    // ---------------------------------------------------------------- the reference against finite differences

    public static TheoryData<string, string, int, NormKind, AffineMode, int[]> Declarations => new()
    {
        { "NCHW", "N,H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 3, 2, 2, 3 } },
        { "NHWC", "N,H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 2, 2, 3, 3 } },
        { "NCHW", "N", 0, NormKind.Standardize, AffineMode.Elementwise, new[] { 4, 2, 1, 3 } },
        { "NTC", "C", 0, NormKind.Standardize, AffineMode.Elementwise, new[] { 2, 3, 5 } },
        { "NCHW", "C,H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 2, 3, 2, 2 } },
        { "NHWC", "H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 2, 2, 3, 2 } },
        { "NHWC", "C,H,W", 2, NormKind.Standardize, AffineMode.PerChannel, new[] { 2, 2, 2, 4 } },
        { "NTC", "C", 0, NormKind.RootMeanSquare, AffineMode.PerChannel, new[] { 2, 3, 4 } },
        { "NCHW", "C,H,W", 0, NormKind.RootMeanSquare, AffineMode.Elementwise, new[] { 2, 2, 2, 2 } },
        { "NCL", "L", 0, NormKind.Standardize, AffineMode.None, new[] { 2, 3, 4 } },
    };

    [Theory]
    [MemberData(nameof(Declarations))]
    public void ReferenceGradientsMatchFiniteDifferences(string layout, string axes, int groups, NormKind kind, AffineMode affine, int[] dims)
    {
        var reference = new NormReference(layout, axes, groups, kind, affine);
        var random = new Random(layout.GetHashCode() ^ axes.Length * 31 + groups * 7 + (int)kind * 3 + (int)affine);
        int total = TestData.Product(dims);
        int parameters = reference.AffineLength(dims);
        double[] x = Doubles(random, total, 0.3, 1.5);
        double[] dy = Doubles(random, total, 0, 1);
        double[] gamma = Doubles(random, parameters, 1, 0.4);
        double[] beta = Doubles(random, parameters, 0, 0.5);
        const double eps = 1e-3;

        // L = sum dy * y(x, gamma, beta): its gradient is what Backward computes for an upstream gradient dy.
        double Loss(double[] xs, double[] g, double[] b, bool training, double[] rm, double[] rv)
        {
            double[] y = training ? reference.ForwardTraining(dims, xs, g, b, eps).Output : reference.ForwardInference(dims, xs, g, b, rm, rv, eps);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += dy[i] * y[i];
            return sum;
        }

        int statistics = reference.StatisticCount(dims);
        double[] runningMean = Doubles(random, statistics, 0.2, 0.3);
        double[] runningVar = Doubles(random, statistics, 1.5, 0.2).Select(Math.Abs).ToArray();
        foreach (bool training in reference.ReducesBatch ? new[] { true, false } : new[] { true })
        {
            ReferenceGradients analytic = training
                ? reference.BackwardTraining(dims, x, dy, gamma, eps)
                : reference.BackwardInference(dims, x, dy, gamma, runningMean, runningVar, eps);
            Func<double> loss = () => Loss(x, gamma, beta, training, runningMean, runningVar);
            for (int i = 0; i < total; i++)
                AssertNear(FiniteDifferences.Central(x, i, loss), analytic.InputGrad[i], $"dx[{i}] training={training}");
            for (int p = 0; p < parameters; p++)
            {
                AssertNear(FiniteDifferences.Central(gamma, p, loss), analytic.WeightGrad[p], $"dgamma[{p}] training={training}");
                AssertNear(FiniteDifferences.Central(beta, p, loss), analytic.BiasGrad[p], $"dbeta[{p}] training={training}");
            }
        }
    }

    private static void AssertNear(double numeric, double analytic, string what) =>
        Assert.True(Math.Abs(numeric - analytic) <= 1e-6 * (1 + Math.Abs(analytic)), $"{what}: finite difference {numeric}, analytic {analytic}");

    private static double[] Doubles(Random random, int length, double mean, double std) =>
        TestData.Normal(random, length, mean, std).Select(v => (double)v).ToArray();

    // ---------------------------------------------------------------- generated layers against the reference

    [Theory]
    [MemberData(nameof(Names))]
    public void TrainingBackwardMatchesReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims();
        var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 11));
        var output = new float[input.Length];
        layer.Forward(input, output, dims);

        var inputGrad = new float[input.Length];
        layer.Backward(input, outputGrad, inputGrad, dims);
        AssertExpectedPath(layer.LastPath);
        ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
        Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, name);

        // Parameter gradients accumulate (PyTorch): a second Backward adds the same amounts again.
        layer.Backward(input, outputGrad, inputGrad, dims);
        Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 2, name + " (accumulated)");
        layer.ZeroGrad();
        Assert.All(layer.WeightGrad, g => Assert.Equal(0f, g));
        Assert.All(layer.BiasGrad, g => Assert.Equal(0f, g));
    }

    /// <summary>Channels-last rows of five to eight vectors (GradientRuns.ApplyRows holds each block of two column vectors'
    /// coefficients for four rows: C = 20 to 32 on the 128-bit path, 40 to 64 on AVX2, 80 to 128 on AVX-512) and around
    /// them; 70 rows (17 groups of four and two rows left), against the float64 reference and in place over dy and over x
    /// against separate buffers (bit for bit).</summary>
    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(InNhwc))]
    [InlineData(nameof(GnNhwc))]
    public void ChannelsLastRowsOfFiveToEightVectorsMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int channels in new[] { 16, 20, 28, 32, 36, 40, 56, 64, 72, 80, 96, 112, 128, 144 })
        {
            int[] dims = [2, 5, 7, channels];
            var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 500 + channels));
            layer.Forward(input, new float[input.Length], dims);
            var inputGrad = new float[input.Length];
            layer.Backward(input, outputGrad, inputGrad, dims);
            ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
            Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, $"{name} C={channels}");
            float[] overDy = (float[])outputGrad.Clone(), overX = (float[])input.Clone();
            layer.Backward(input, overDy, overDy, dims);
            Assert.Equal(KernelCheck.Bits(inputGrad), KernelCheck.Bits(overDy));
            layer.Backward(overX, outputGrad, overX, dims);
            Assert.Equal(KernelCheck.Bits(inputGrad), KernelCheck.Bits(overX));
        }
    }

    /// <summary>Channels-last blocks whose x, dy and dx start anywhere (the GC aligns arrays to 8 bytes; spans start anywhere):
    /// the three buffers at every offset from 0 to 15 elements, C = 32 (column sums), 64, 192, 288 and 512 (the held rows too:
    /// wider than the flat range), against the float64 reference, in place over dy and over x against separate buffers, and
    /// against the buffers on a 64-byte boundary (bit for bit: the results never depend on alignment). With x and dy both off
    /// a 64-byte boundary, rows of whole strips (C = 64, 192, 512 on AVX-512) are read from dy's boundary with one vector
    /// wrapped across each two rows (GradientRuns.WrapStrip): the offsets give every lead from 1 to 15, BatchNorm's 42 rows
    /// chunks that start and end inside the call's rows, the per-sample blocks' 21 rows a chunk that ends the call.</summary>
    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(InNhwc))]
    [InlineData(nameof(GnNhwc))]
    public void ChannelsLastBlocksAtEveryOffsetMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int channels in new[] { 32, 64, 192, 288, 512 })
        {
            int[] dims = [2, 3, 7, channels];
            var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 700 + channels));
            layer.Forward(input, new float[input.Length], dims);
            ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
            int n = input.Length;
            int[]? aligned = null;
            for (int offset = 0; offset < 16; offset++)
            {
                float[] x = new float[n + 16], dy = new float[n + 16], dx = new float[n + 16];
                input.CopyTo(x, offset);
                outputGrad.CopyTo(dy, offset);
                layer.ZeroGrad();
                layer.Backward(x.AsSpan(offset, n), dy.AsSpan(offset, n), dx.AsSpan(offset, n), dims);
                Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, dx.AsSpan(offset, n), layer.WeightGrad, layer.BiasGrad, 1,
                    $"{name} C={channels} offset {offset}");
                int[] bits = KernelCheck.Bits(dx.AsSpan(offset, n));
                aligned ??= AlignedBits(layer, input, outputGrad, dims);
                Assert.Equal(aligned, bits);
                float[] overDy = (float[])dy.Clone(), overX = (float[])x.Clone();
                layer.Backward(x.AsSpan(offset, n), overDy.AsSpan(offset, n), overDy.AsSpan(offset, n), dims);
                Assert.Equal(KernelCheck.Bits(dx.AsSpan(offset, n).ToArray()), KernelCheck.Bits(overDy.AsSpan(offset, n).ToArray()));
                layer.Backward(overX.AsSpan(offset, n), dy.AsSpan(offset, n), overX.AsSpan(offset, n), dims);
                Assert.Equal(KernelCheck.Bits(dx.AsSpan(offset, n).ToArray()), KernelCheck.Bits(overX.AsSpan(offset, n).ToArray()));
                // Nothing outside the slice is written.
                Assert.All(dx.AsSpan(0, offset).ToArray(), v => Assert.Equal(0f, v));
                Assert.All(dx.AsSpan(offset + n).ToArray(), v => Assert.Equal(0f, v));
            }
        }
    }

    /// <summary>Channels-last blocks with x and dy at chosen distances from a 64-byte boundary, independently (pinned arrays):
    /// dy on one or 1, 5 or 15 elements past (GradientRuns.Lead reads from dy's boundary), x on one or 1, 3, 8, 14 or 15
    /// past (x as far off as dy, shifted loads with the first row's first strip read plainly where x is further off than the
    /// lead and, with dy aligned, the last row's last strip; both aligned: rows kept as they are), C = 64 (the wrapped strip
    /// alone) and 192, BatchNorm's 42 rows and the per-sample blocks' 21, and 1x1 planes (a block of one row: its first and
    /// last columns both from its own vectors): against the float64 reference and bit for bit against the three on 64-byte
    /// boundaries.</summary>
    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(GnNhwc))]
    [InlineData(nameof(InNhwc))]
    public unsafe void ChannelsLastBlocksAtIndependentPhasesMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        // 1x1 planes: not for InstanceNorm (one value a statistic, refused in training).
        int[][] shapes = name == nameof(InNhwc) ? [[2, 3, 7, 64], [2, 3, 7, 192]] : [[2, 3, 7, 64], [2, 3, 7, 192], [3, 1, 1, 192]];
        foreach (int[] dims in shapes)
        {
            int channels = dims[3];
            var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 900 + channels + dims[1]));
            layer.Forward(input, new float[input.Length], dims);
            ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
            int n = input.Length;
            int[] aligned = AlignedBits(layer, input, outputGrad, dims);
            float[] x = GC.AllocateArray<float>(n + 32, pinned: true), dy = GC.AllocateArray<float>(n + 32, pinned: true);
            float[] dx = GC.AllocateArray<float>(n + 32, pinned: true);
            static int At(float[] a, int phase) { fixed (float* p = a) return (int)((64 - ((nint)p & 63)) & 63) / sizeof(float) + phase; }
            foreach (int dyPhase in new[] { 0, 1, 5, 15 })
                foreach (int xPhase in new[] { 0, 1, 3, 8, 14, 15 })
                {
                    int ox = At(x, xPhase), ody = At(dy, dyPhase), odx = At(dx, 0);
                    input.CopyTo(x, ox);
                    outputGrad.CopyTo(dy, ody);
                    layer.ZeroGrad();
                    layer.Backward(x.AsSpan(ox, n), dy.AsSpan(ody, n), dx.AsSpan(odx, n), dims);
                    string what = $"{name} C={channels} x {xPhase} dy {dyPhase}";
                    Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, dx.AsSpan(odx, n), layer.WeightGrad, layer.BiasGrad, 1, what);
                    Assert.True(aligned.AsSpan().SequenceEqual(KernelCheck.Bits(dx.AsSpan(odx, n))), what);
                }
        }
    }

    /// <summary>dx's bits with x, dy and dx each starting on a 64-byte boundary (pinned arrays).</summary>
    private static unsafe int[] AlignedBits(INormalizationLayer layer, float[] input, float[] outputGrad, int[] dims)
    {
        int n = input.Length;
        float[] x = GC.AllocateArray<float>(n + 16, pinned: true), dy = GC.AllocateArray<float>(n + 16, pinned: true);
        float[] dx = GC.AllocateArray<float>(n + 16, pinned: true);
        static int Start(float[] a) { fixed (float* p = a) return (int)((64 - ((nint)p & 63)) & 63) / sizeof(float); }
        int ox = Start(x), ody = Start(dy), odx = Start(dx);
        input.CopyTo(x, ox);
        outputGrad.CopyTo(dy, ody);
        layer.Backward(x.AsSpan(ox, n), dy.AsSpan(ody, n), dx.AsSpan(odx, n), dims);
        return KernelCheck.Bits(dx.AsSpan(odx, n));
    }

    /// <summary>Blocks whose fold indices are short consecutive runs (GroupNorm NCHW's channels of a group, LayerNorm over
    /// C,H,W NCHW: Backward.ShortFolds): planes from 8 to 256 elements (one vector on AVX2 up to GradientRuns.LaneReduces'
    /// limit, and past it), 2 to 20 runs a block (whole and partial tree groups of 8 runs on AVX-512 and 4 on AVX2, and
    /// runs left to GradientRuns.Reduce), against the float64 reference, and in place over dy and over x against separate
    /// buffers (bit for bit).</summary>
    [Theory]
    [InlineData(nameof(GnNchw))]
    [InlineData(nameof(LnNchw))]
    public void ShortFoldRunsMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int plane in new[] { 8, 15, 16, 17, 25, 49, 64, 100, 196, 256, 300 })
            foreach (int perBlock in new[] { 2, 3, 4, 8, 12, 16, 20 })
            {
                // GroupNorm(4): perBlock channels a group; LayerNorm: perBlock channels a sample.
                int channels = name == nameof(GnNchw) ? 4 * perBlock : perBlock;
                int[] dims = [2, channels, plane / 4 > 0 && plane % 4 == 0 ? 4 : 1, plane % 4 == 0 ? plane / 4 : plane];
                var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 700 + plane * 31 + perBlock));
                layer.Forward(input, new float[input.Length], dims);
                var inputGrad = new float[input.Length];
                layer.Backward(input, outputGrad, inputGrad, dims);
                ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
                Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1,
                    $"{name} plane={plane} per block={perBlock}");
                float[] overDy = (float[])outputGrad.Clone(), overX = (float[])input.Clone();
                layer.Backward(input, overDy, overDy, dims);
                Assert.Equal(KernelCheck.Bits(inputGrad), KernelCheck.Bits(overDy));
                layer.Backward(overX, outputGrad, overX, dims);
                Assert.Equal(KernelCheck.Bits(inputGrad), KernelCheck.Bits(overX));
            }
    }

    [Theory]
    [InlineData(nameof(GnNhwc), true)]
    [InlineData(nameof(InNhwc), true)]
    [InlineData(nameof(LnNchw), false)]
    [InlineData(nameof(LnNhwc), true)]
    [InlineData(nameof(GnNhwcOneGroup), true)]
    [InlineData(nameof(GnNchw), false)]
    [InlineData(nameof(LnNtcNoAffine), false)]
    public void BlocksPastL2BackwardMatchesReference(string name, bool channelsLast)
    {
        // A sample of 147,456 floats a block: x and dy past 1 MB, so dx is made from the block's end, a chunk of rows at a
        // time (Backward.ReverseChunkRows), where the block has rows to chunk; a block of one contiguous run (a row of
        // LayerNorm without affine over the last dim) has none and is applied whole. Against the float64 reference, and in
        // place over dy against separate buffers (a run applied twice in place would read its own dx back as dy).
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = name == nameof(LnNtcNoAffine) ? [2, 1, 147_456] : channelsLast ? [2, 24, 24, 256] : [2, 256, 24, 24];
        var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 15));
        layer.Forward(input, new float[input.Length], dims);
        var inputGrad = new float[input.Length];
        layer.Backward(input, outputGrad, inputGrad, dims);
        ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
        Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, name + " past L2");
        float[] inPlace = (float[])outputGrad.Clone();
        layer.Backward(input, inPlace, inPlace, dims);
        Assert.Equal(KernelCheck.Bits(inputGrad), KernelCheck.Bits(inPlace));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InferenceBackwardHoldsRunningStatisticsConstant(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        if (!layerCase.ReducesBatch) return; // no running statistics: backward always uses the batch statistics
        int[] dims = layerCase.Dims();
        var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 12));
        var random = new Random(KernelCheck.Seed(name, 13));
        TestData.Uniform(random, layer.RunningMean!.Length, -0.5, 0.5).CopyTo(layer.RunningMean, 0);
        TestData.Uniform(random, layer.RunningVar!.Length, 0.5, 2).CopyTo(layer.RunningVar, 0);
        layer.Training = false;

        var inputGrad = new float[input.Length];
        layer.Backward(input, outputGrad, inputGrad, dims); // no Forward needed: the statistics are the running ones
        AssertExpectedPath(layer.LastPath);
        ReferenceGradients expected = layerCase.Reference.BackwardInference(dims, input, outputGrad, layer.Weight, layer.RunningMean, layer.RunningVar, layer.Epsilon);
        Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, name + " inference");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InPlaceOverOutputGradMatchesSeparateBuffers(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims(n: 2);
        var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 14));
        layer.Forward(input, new float[input.Length], dims);
        var separate = new float[input.Length];
        layer.Backward(input, outputGrad, separate, dims);
        float[] weightGrad = (float[])layer.WeightGrad.Clone(), biasGrad = (float[])layer.BiasGrad.Clone();
        layer.ZeroGrad();
        float[] inPlace = (float[])outputGrad.Clone();
        layer.Backward(input, inPlace, inPlace, dims);
        Assert.Equal(KernelCheck.Bits(separate), KernelCheck.Bits(inPlace));
        // The parameter gradients read dy too: in place, every dy must be read before its dx overwrites it.
        Assert.Equal(KernelCheck.Bits(weightGrad), KernelCheck.Bits(layer.WeightGrad));
        Assert.Equal(KernelCheck.Bits(biasGrad), KernelCheck.Bits(layer.BiasGrad));
    }

    /// <summary>Every innermost extent 1..40 of a few patterns: vector bodies, the unrolled loop and every tail length.</summary>
    [Theory]
    [InlineData("BnNhwc")]
    [InlineData("BnNchw")]
    [InlineData("LnNtc")]
    [InlineData("LnNchwElementwise")]
    [InlineData("InNhwc")]
    [InlineData("GnNhwc")]
    [InlineData("RmsNtc")]
    [InlineData("BnPerActivationNchw")]
    [InlineData("LnNclElementwise")]
    public void InnermostExtentSweep(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        for (int inner = 2; inner <= 40; inner++)
        {
            int[] dims = layerCase.Dims(n: 2);
            dims[^1] = layerCase.Declaration.Groups > 0 ? inner * layerCase.Declaration.Groups : inner;
            if (layerCase.Declaration.Groups > 0 && inner > 10) break;
            var (layer, input, outputGrad) = Prepared(layerCase, dims, KernelCheck.Seed(name, 100 + inner));
            layer.Forward(input, new float[input.Length], dims);
            var inputGrad = new float[input.Length];
            layer.Backward(input, outputGrad, inputGrad, dims);
            ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
            Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, name + " inner=" + inner);
        }
    }

    // ---------------------------------------------------------------- static kernels and forced paths

    [Fact]
    public void StaticBackwardKernelsMatchReference()
    {
        int[] dims = [3, 5, 9, 7];
        var random = new Random(21);
        int total = TestData.Product(dims);
        float[] input = TestData.Normal(random, total, 2, 3);
        float[] outputGrad = TestData.Normal(random, total, 0, 1);
        float[] weight = TestData.Uniform(random, 7, 0.5, 1.5);
        float[] bias = TestData.Uniform(random, 7, -1, 1);
        float[] mean = new float[7], variance = new float[7];
        BnNhwc.ForwardTraining(input, new float[total], dims[0], dims[1], dims[2], dims[3], weight, bias, mean, variance, 1e-3f);
        var reference = new NormReference("NHWC", "N,H,W");

        float[] inputGrad = new float[total], weightGrad = new float[7], biasGrad = new float[7];
        BnNhwc.BackwardTraining(input, outputGrad, inputGrad, dims[0], dims[1], dims[2], dims[3], weight, mean, variance, 1e-3f, weightGrad, biasGrad);
        Check(reference, dims, input, outputGrad, weight, reference.BackwardTraining(dims, input, outputGrad, weight, 1e-3), inputGrad, weightGrad, biasGrad, 1, "static training");

        float[] runningMean = TestData.Uniform(random, 7, -1, 1), runningVar = TestData.Uniform(random, 7, 0.5, 2);
        Array.Clear(weightGrad);
        Array.Clear(biasGrad);
        BnNhwc.BackwardInference(input, outputGrad, inputGrad, dims[0], dims[1], dims[2], dims[3], weight, runningMean, runningVar, 1e-3f, weightGrad, biasGrad);
        Check(reference, dims, input, outputGrad, weight, reference.BackwardInference(dims, input, outputGrad, weight, runningMean, runningVar, 1e-3), inputGrad, weightGrad, biasGrad, 1, "static inference");
    }

    public static TheoryData<KernelPath> Paths => new() { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar };

    /// <summary>Each path forced in-process, the 128-bit one through the ARM64 ops with the emulated AdvSimd instructions too.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void ForcedPathsMatchReference(KernelPath path)
    {
        if (path > Isa.Widest) return; // this process cannot run it; the ISA legs of tests/run.sh cover the narrower ones
        var random = new Random(22 + (int)path);
        {
            int[] dims = [3, 11, 37];
            int total = TestData.Product(dims);
            float[] input = TestData.Normal(random, total, -1, 2), outputGrad = TestData.Normal(random, total, 0, 1);
            float[] weight = TestData.Uniform(random, 37, 0.5, 1.5), bias = new float[37];
            float[] mean = new float[33], variance = new float[33];
            LnNtc.ForwardTraining(input, new float[total], 3, 11, 37, weight, bias, mean, variance, 1e-5f);
            var reference = new NormReference("NTC", "C");
            var expected = reference.BackwardTraining(dims, input, outputGrad, weight, 1e-5);
            float[] inputGrad = new float[total], weightGrad = new float[37], biasGrad = new float[37];
            Assert.Equal(path, LnNtc.BackwardTrainingOnPath<X86Vector128Ops>(path, input, outputGrad, inputGrad, 3, 11, 37, weight, mean, variance, 1e-5f, weightGrad, biasGrad));
            Check(reference, dims, input, outputGrad, weight, expected, inputGrad, weightGrad, biasGrad, 1, "LnNtc " + path);
            if (path == KernelPath.Vector128)
            {
                long calls = EmulatedAdvSimd.Calls;
                Array.Clear(weightGrad);
                Array.Clear(biasGrad);
                LnNtc.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, input, outputGrad, inputGrad, 3, 11, 37, weight, mean, variance, 1e-5f, weightGrad, biasGrad);
                Assert.True(EmulatedAdvSimd.Calls > calls, "the emulated AdvSimd instructions ran");
                Check(reference, dims, input, outputGrad, weight, expected, inputGrad, weightGrad, biasGrad, 1, "LnNtc emulated AdvSimd");
            }
        }
        {
            int[] dims = [5, 3, 7, 19];
            int total = TestData.Product(dims);
            float[] input = TestData.Normal(random, total, 1, 2), outputGrad = TestData.Normal(random, total, 0, 1);
            float[] weight = TestData.Uniform(random, 19, 0.5, 1.5), bias = new float[19];
            float[] mean = new float[19], variance = new float[19];
            BnNhwc.ForwardTraining(input, new float[total], 5, 3, 7, 19, weight, bias, mean, variance, 1e-3f);
            var reference = new NormReference("NHWC", "N,H,W");
            var expected = reference.BackwardTraining(dims, input, outputGrad, weight, 1e-3);
            float[] inputGrad = new float[total], weightGrad = new float[19], biasGrad = new float[19];
            Assert.Equal(path, BnNhwc.BackwardTrainingOnPath<X86Vector128Ops>(path, input, outputGrad, inputGrad, 5, 3, 7, 19, weight, mean, variance, 1e-3f, weightGrad, biasGrad));
            Check(reference, dims, input, outputGrad, weight, expected, inputGrad, weightGrad, biasGrad, 1, "BnNhwc " + path);
            if (path == KernelPath.Vector128)
            {
                Array.Clear(weightGrad);
                Array.Clear(biasGrad);
                BnNhwc.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, input, outputGrad, inputGrad, 5, 3, 7, 19, weight, mean, variance, 1e-3f, weightGrad, biasGrad);
                Check(reference, dims, input, outputGrad, weight, expected, inputGrad, weightGrad, biasGrad, 1, "BnNhwc emulated AdvSimd");
            }
        }
        {
            int[] dims = [3, 8, 5, 9];
            int total = TestData.Product(dims);
            float[] input = TestData.Normal(random, total, 0.5, 1), outputGrad = TestData.Normal(random, total, 0, 1);
            float[] weight = TestData.Uniform(random, total / 3, 0.5, 1.5), bias = new float[total / 3];
            float[] meanSquare = new float[3];
            RmsNchwElementwise.ForwardTraining(input, new float[total], 3, 8, 5, 9, weight, bias, meanSquare, 1e-5f);
            var reference = new NormReference("NCHW", "C,H,W", 0, NormKind.RootMeanSquare, AffineMode.Elementwise);
            var expected = reference.BackwardTraining(dims, input, outputGrad, weight, 1e-5);
            float[] inputGrad = new float[total], weightGrad = new float[total / 3], biasGrad = new float[total / 3];
            Assert.Equal(path, RmsNchwElementwise.BackwardTrainingOnPath<X86Vector128Ops>(path, input, outputGrad, inputGrad, 3, 8, 5, 9, weight, meanSquare, 1e-5f, weightGrad, biasGrad));
            Check(reference, dims, input, outputGrad, weight, expected, inputGrad, weightGrad, biasGrad, 1, "RmsNchwElementwise " + path);
        }
    }

    // ---------------------------------------------------------------- bad input

    [Fact]
    public void BackwardBeforeForwardThrowsAndWritesNothing()
    {
        var layer = new LnNtc(5);
        int[] dims = [2, 3, 5];
        var inputGrad = Enumerable.Repeat(float.NaN, 30).ToArray();
        var error = Assert.Throws<InvalidOperationException>(() => layer.Backward(new float[30], new float[30], inputGrad, 2, 3, 5));
        Assert.Contains("Forward", error.Message);
        Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));

        ((INormalizationLayer)layer).Forward(new float[30].Select((_, i) => (float)i).ToArray(), new float[30], dims);
        error = Assert.Throws<InvalidOperationException>(() => layer.Backward(new float[35], new float[35], new float[35], 7, 1, 5));
        Assert.Contains("30", error.Message);
    }

    [Fact]
    public void BackwardAfterSynchronizedForwardIsRefused()
    {
        var layer = new BnNchw(3);
        float[] input = TestData.Normal(new Random(6), 120, 0, 1);
        double[] count = new double[3], mean = new double[3], m2 = new double[3];
        BnNchw.ShardStatistics(input, 2, 3, 4, 5, count, mean, m2);
        layer.ForwardWithStatistics(input, new float[120], 2, 3, 4, 5, count, mean, m2);
        var inputGrad = Enumerable.Repeat(float.NaN, 120).ToArray();
        var error = Assert.Throws<InvalidOperationException>(() => layer.Backward(input, new float[120], inputGrad, 2, 3, 4, 5));
        Assert.Contains("ForwardWithStatistics", error.Message);
        Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));

        layer.Forward(input, new float[120], 2, 3, 4, 5); // a training Forward makes Backward available again
        layer.Backward(input, new float[120], inputGrad, 2, 3, 4, 5);
        Assert.All(inputGrad, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadBackwardArgumentsNameTheArgumentAndWriteNothing()
    {
        var layer = new BnNchw(3);
        int[] dims = [2, 3, 4, 5];
        var input = TestData.Normal(new Random(5), 120, 0, 1);
        ((INormalizationLayer)layer).Forward(input, new float[120], dims);
        var inputGrad = Enumerable.Repeat(float.NaN, 120).ToArray();
        float[] before = (float[])layer.WeightGrad.Clone();

        var e = Assert.Throws<ArgumentException>(() => layer.Backward(input, new float[119], inputGrad, 2, 3, 4, 5));
        Assert.Equal("outputGrad", e.ParamName);
        Assert.Contains("120", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(input, new float[120], new float[121], 2, 3, 4, 5));
        Assert.Equal("inputGrad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(input, new float[120], inputGrad, 2, 4, 3, 5));
        Assert.Equal("c", e.ParamName);
        var buffer = new float[240];
        e = Assert.Throws<ArgumentException>(() => layer.Backward(input, buffer.AsSpan(0, 120), buffer.AsSpan(7, 120), 2, 3, 4, 5));
        Assert.Equal("inputGrad", e.ParamName);
        Assert.Contains("outputGrad", e.Message);
        Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));
        Assert.Equal(before, layer.WeightGrad);

        float[] weight = new float[3], mean = new float[3], variance = new float[3];
        e = Assert.Throws<ArgumentException>(() => BnNchw.BackwardTraining(input, new float[120], inputGrad, 2, 3, 4, 5, weight, mean, variance, 1e-5f, new float[2], new float[3]));
        Assert.Equal("weightGrad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => BnNchw.BackwardTraining(input, new float[120], inputGrad, 2, 3, 4, 5, weight, mean, new float[4], 1e-5f, new float[3], new float[3]));
        Assert.Equal("variance", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => BnNchw.BackwardInference(input, new float[120], inputGrad, 2, 3, 4, 5, weight, new float[1], variance, 1e-5f, new float[3], new float[3]));
        Assert.Equal("runningMean", e.ParamName);
        Assert.ThrowsAny<ArgumentException>(() => BnNchw.BackwardTraining(input, new float[120], inputGrad, 2, 3, 4, 5, weight, mean, variance, 0f, new float[3], new float[3]));
        Assert.All(inputGrad, v => Assert.True(float.IsNaN(v)));
    }

    // ---------------------------------------------------------------- helpers

    internal static (INormalizationLayer Layer, float[] Input, float[] OutputGrad) Prepared(LayerCase layerCase, int[] dims, int seed)
    {
        var random = new Random(seed);
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);
        int total = TestData.Product(dims);
        return (layer, TestData.Normal(random, total, 0.7, 2), TestData.Normal(random, total, 0.1, 1));
    }

    private static void AssertExpectedPath(KernelPath actual)
    {
        // Small extents may legitimately take a narrower path; never a wider one than the process's expected path.
        Assert.True(actual != KernelPath.None && actual <= IsaPathTests.Expected, $"ran {actual}, expected at most {IsaPathTests.Expected}");
    }

    /// <summary>
    /// The float32 bound. A kernel forms dx = dy * P + (x - mean) * Q + R with P, Q, R rounded to float, from the statistics the
    /// forward saved (within <see cref="StatisticsRelative"/> of the exact ones, the forward's own bound) and the sums
    /// A = sum g*dy, B = sum g*dy*(x - mean) accumulated in float lanes over chunks of 16 vectors before double. Per element:
    /// <list type="bullet">
    /// <item>rounding of dy * P: a few u of |g dy r|;</item>
    /// <item>the chunked sums behind Q and R: 64u (and the statistics' relative error) of r * (mean|g dy| + (|xhat| + 1) * mean|g dy xhat|);</item>
    /// <item>x - mean in float, with the mean itself rounded to float: E = 2u * (|mean| + max|x|) absolute, carried by Q
    /// (r^2 * mean|g dy xhat|) and, through B, by (x - mean) * r^3 / M (r^2 * (|xhat| + 1) * mean|g dy|).</item>
    /// </list>
    /// Parameter gradients: 64u and the statistics' error of sum |dy * xhat|, and E * r * sum |dy| for dgamma.
    /// </summary>
    private const double StatisticsRelative = 2e-5;

    internal static void Check(NormReference reference, int[] dims, float[] input, float[] outputGrad, float[] weight, ReferenceGradients expected,
        ReadOnlySpan<float> inputGrad, ReadOnlySpan<float> weightGrad, ReadOnlySpan<float> biasGrad, int times, string what)
    {
        const double u = Tolerances.Roundoff;
        int statistics = reference.StatisticCount(dims);
        ReferenceStatistics batch = reference.Statistics(dims, input);
        bool standardize = reference.Kind == NormKind.Standardize;
        var absGdy = new double[statistics];
        var absGdyXhat = new double[statistics];
        var r = new double[statistics];
        var center = new double[statistics];
        var roundoff = new double[statistics];
        double count = reference.CountPerStatistic(dims);
        // Scales from the batch statistics (inference uses other statistics, but of the same data's magnitude).
        for (int s = 0; s < statistics; s++)
        {
            center[s] = standardize ? batch.Mean[s] : 0;
            r[s] = 1 / Math.Sqrt((standardize ? batch.Variance[s] : batch.MeanSquare[s]) + 1e-5);
        }
        var xhat = new double[input.Length];
        for (long i = 0; i < input.Length; i++)
        {
            int s = reference.StatisticIndex(dims, i);
            int p = reference.AffineIndex(dims, i);
            double g = p < 0 ? 1 : weight[p];
            xhat[i] = (input[i] - center[s]) * r[s];
            absGdy[s] += Math.Abs(g * outputGrad[i]) / count;
            absGdyXhat[s] += Math.Abs(g * outputGrad[i] * xhat[i]) / count;
            roundoff[s] = Math.Max(roundoff[s], 2 * u * (Math.Abs(center[s]) + Math.Abs(input[i])));
        }
        for (long i = 0; i < input.Length; i++)
        {
            int s = reference.StatisticIndex(dims, i);
            int p = reference.AffineIndex(dims, i);
            double g = p < 0 ? 1 : weight[p];
            double terms = r[s] * (Math.Abs(g * outputGrad[i]) + absGdy[s] + (Math.Abs(xhat[i]) + 1) * absGdyXhat[s]);
            double bound = 8 * u * Math.Abs(g * outputGrad[i] * r[s])
                + (64 * u + StatisticsRelative) * terms
                + roundoff[s] * r[s] * r[s] * (absGdyXhat[s] + (Math.Abs(xhat[i]) + 1) * absGdy[s])
                + 1e-30;
            Assert.True(Math.Abs(inputGrad[(int)i] - expected.InputGrad[i]) <= bound,
                $"{what}: dx[{i}] expected {expected.InputGrad[i]}, got {inputGrad[(int)i]} (bound {bound})");
        }

        int parameters = expected.WeightGrad.Length;
        Assert.Equal(parameters, weightGrad.Length);
        Assert.Equal(parameters, biasGrad.Length);
        if (parameters == 0) return;
        var absDy = new double[parameters];
        var absDyXhat = new double[parameters];
        var meanError = new double[parameters];
        for (long i = 0; i < input.Length; i++)
        {
            int p = reference.AffineIndex(dims, i);
            int s = reference.StatisticIndex(dims, i);
            absDy[p] += Math.Abs(outputGrad[i]);
            absDyXhat[p] += Math.Abs(outputGrad[i] * xhat[i]);
            meanError[p] += Math.Abs(outputGrad[i]) * roundoff[s] * r[s];
        }
        for (int p = 0; p < parameters; p++)
        {
            double bg = times * ((64 * u + StatisticsRelative) * absDyXhat[p] + meanError[p]) + 2 * u * Math.Abs(times * expected.WeightGrad[p]) + 1e-30;
            double bb = 64 * u * times * absDy[p] + 2 * u * Math.Abs(times * expected.BiasGrad[p]) + 1e-30;
            Assert.True(Math.Abs(weightGrad[p] - times * expected.WeightGrad[p]) <= bg, $"{what}: dgamma[{p}] expected {times * expected.WeightGrad[p]}, got {weightGrad[p]} (bound {bg})");
            Assert.True(Math.Abs(biasGrad[p] - times * expected.BiasGrad[p]) <= bb, $"{what}: dbeta[{p}] expected {times * expected.BiasGrad[p]}, got {biasGrad[p]} (bound {bb})");
        }
    }
}

/// <summary>Backward across thread counts; in the threading collection because it changes the process-wide
/// <see cref="Parallelism.MaxDegree"/>.</summary>
[Collection(nameof(ThreadingTests))]
public sealed class BackwardThreadingTests
{
    /// <summary>Shapes large enough for several parallel units: bitwise the same gradients for 1, 2 and 3 threads.</summary>
    [Theory]
    [InlineData("BnNhwc", new[] { 4, 33, 32, 32 })]
    [InlineData("LnNtc", new[] { 64, 33, 65 })]
    [InlineData("InNchw", new[] { 8, 20, 29, 31 })]
    [InlineData("BnPerActivationNchw", new[] { 80, 6, 17, 17 })]
    public void GradientsDoNotDependOnThreadCount(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int saved = Parallelism.MaxDegree;
        try
        {
            (int[] dx, int[] dg, int[] db)? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxDegree = threads;
                var (layer, input, outputGrad) = BackwardTests.Prepared(layerCase, dims, KernelCheck.Seed(name, 15));
                layer.Forward(input, new float[input.Length], dims);
                var inputGrad = new float[input.Length];
                layer.Backward(input, outputGrad, inputGrad, dims);
                Assert.Equal(Math.Min(threads, 2), ParallelUnits.LastWorkers); // really ran on that many threads (at most 2 units of 64k elements)
                var bits = (KernelCheck.Bits(inputGrad), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad));
                if (first is null)
                {
                    first = bits;
                    ReferenceGradients expected = layerCase.Reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
                    BackwardTests.Check(layerCase.Reference, dims, input, outputGrad, layer.Weight, expected, inputGrad, layer.WeightGrad, layer.BiasGrad, 1, name + " large");
                }
                else
                {
                    Assert.Equal(first.Value.dx, bits.Item1);
                    Assert.Equal(first.Value.dg, bits.Item2);
                    Assert.Equal(first.Value.db, bits.Item3);
                }
            }
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

}
