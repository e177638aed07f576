using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Double-precision layers against the float64 reference. Both sides compute in double, so the bound is a small
/// multiple of double rounding at the scale of the operands (1e-12 relative), not float32's.
/// </summary>
public class DoubleTests
{
    private const double Relative = 1e-12;

    private static double[] Normal(Random random, int length, double mean, double std) =>
        TestData.Normal(random, length, 0, 1).Select(v => mean + std * (double)v + 1e-3 * random.NextDouble()).ToArray();

    private static INormalizationLayer<double> Create(string name, int[] d) => name switch
    {
        nameof(BnNchwDouble) => new BnNchwDouble(d[1]),
        nameof(BnNhwcDouble) => new BnNhwcDouble(d[3]),
        nameof(LnNtcDouble) => new LnNtcDouble(d[2]),
        nameof(GnNhwcDouble) => new GnNhwcDouble(d[3]),
        nameof(LnNhwcElementwiseDouble) => new LnNhwcElementwiseDouble(d[1] * d[2] * d[3]),
        nameof(RmsNtcDouble) => new RmsNtcDouble(d[2]),
        _ => throw new ArgumentException(name),
    };

    private static double MomentumOf(INormalizationLayer<double> layer) => layer switch
    {
        BnNchwDouble bn => bn.Momentum!.Value,
        BnNhwcDouble bn => bn.Momentum!.Value,
        _ => throw new ArgumentException("no running statistics", nameof(layer)),
    };

    private static void AssertClose(double[] expected, ReadOnlySpan<double> actual, double scale, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = Relative * (Math.Abs(expected[i]) + scale);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>Every remainder of the innermost extent for double vectors (8 lanes x 4 unrolled = 32 per step).</summary>
    public static TheoryData<string, int[]> Cases()
    {
        var data = new TheoryData<string, int[]>();
        for (int inner = 1; inner <= 70; inner++)
        {
            data.Add(nameof(BnNchwDouble), [3, 2, 1, inner]);
            data.Add(nameof(BnNhwcDouble), [3, 2, 1, inner]);
            data.Add(nameof(LnNtcDouble), [2, 3, inner + 1]);
            data.Add(nameof(GnNhwcDouble), [2, 3, 1, 4 * inner]);
            data.Add(nameof(LnNhwcElementwiseDouble), [2, 3, 1, inner]);
            data.Add(nameof(RmsNtcDouble), [2, 3, inner]);
        }
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void TrainingThenInferenceMatchReference(string name, int[] dims)
    {
        INormalizationLayer<double> layer = Create(name, dims);
        var reference = NormReference.For(layer);
        var random = new Random(dims.Sum() * 31 + name.Length);
        for (int i = 0; i < layer.Weight.Length; i++) { layer.Weight[i] = 0.5 + random.NextDouble(); layer.Bias[i] = random.NextDouble() - 0.5; }
        double[] x = Normal(random, TestData.Product(dims), 3, 2);
        var y = new double[x.Length];
        double[] runningMean = layer.RunningMean?.ToArray() ?? [], runningVar = layer.RunningVar?.ToArray() ?? [];

        layer.Forward(x, y, dims);
        ReferenceResult expected = reference.ReducesBatch
            ? reference.ForwardTraining(dims, x, layer.Weight, layer.Bias, layer.Epsilon, MomentumOf(layer), runningMean, runningVar)
            : reference.ForwardTraining(dims, x, layer.Weight, layer.Bias, layer.Epsilon);
        AssertClose(expected.Output, y, 1, name + " training output");
        if (reference.ReducesBatch)
        {
            AssertClose(expected.RunningMean!, layer.RunningMean, 3, name + " running mean");
            AssertClose(expected.RunningVar!, layer.RunningVar, 4, name + " running var");

            layer.Training = false;
            layer.Forward(x, y, dims);
            double[] inference = reference.ForwardInference(dims, x, layer.Weight, layer.Bias, layer.RunningMean, layer.RunningVar!, layer.Epsilon);
            AssertClose(inference, y, 1, name + " inference output");
        }
    }

    /// <summary>Backward of double layers against the reference's analytic gradients: training, then (running statistics) inference.
    /// Both in double; the sums behind the gradients cancel (sum of g * dy * xhat), so the bound is 1e-10 of the largest
    /// gradient of the kind, not 1e-12 per element.</summary>
    [Theory, MemberData(nameof(Cases))]
    public void BackwardMatchesReference(string name, int[] dims)
    {
        INormalizationLayer<double> layer = Create(name, dims);
        var reference = NormReference.For(layer);
        var random = new Random(dims.Sum() * 37 + name.Length);
        for (int i = 0; i < layer.Weight.Length; i++) { layer.Weight[i] = 0.5 + random.NextDouble(); layer.Bias[i] = random.NextDouble() - 0.5; }
        double[] x = Normal(random, TestData.Product(dims), 3, 2);
        double[] dy = Normal(random, x.Length, 0.1, 1);
        var dx = new double[x.Length];
        layer.Forward(x, new double[x.Length], dims);
        layer.Backward(x, dy, dx, dims);
        ReferenceGradients expected = reference.BackwardTraining(dims, x, dy, layer.Weight, layer.Epsilon);
        AssertGradients(expected, dx, layer, TermScale(reference, dims, x, dy, layer), name + " training");
        if (reference.ReducesBatch)
        {
            layer.ZeroGrad();
            layer.Training = false;
            layer.Backward(x, dy, dx, dims);
            AssertGradients(reference.BackwardInference(dims, x, dy, layer.Weight, layer.RunningMean, layer.RunningVar!, layer.Epsilon), dx, layer,
                TermScale(reference, dims, x, dy, layer), name + " inference");
        }
    }

    /// <summary>The size of the terms dx is a difference of: max |dy| * max |gamma| * max r (r = 1 / sqrt(spread + eps)).</summary>
    private static double TermScale(NormReference reference, int[] dims, double[] x, double[] dy, INormalizationLayer<double> layer)
    {
        ReferenceStatistics batch = reference.Statistics(dims, x);
        double[] spread = reference.Kind == NormKind.Standardize ? batch.Variance : batch.MeanSquare;
        double r = spread.Concat(layer.RunningVar ?? []).Max(v => 1 / Math.Sqrt(v + layer.Epsilon));
        double g = layer.Weight.Length == 0 ? 1 : layer.Weight.Max(Math.Abs);
        return dy.Max(Math.Abs) * g * r;
    }

    private static void AssertGradients(ReferenceGradients expected, double[] dx, INormalizationLayer<double> layer, double terms, string what)
    {
        void Close(double[] e, ReadOnlySpan<double> a, string quantity)
        {
            Assert.Equal(e.Length, a.Length);
            double scale = e.Length == 0 ? 0 : e.Max(Math.Abs);
            if (quantity == "dx") scale = Math.Max(scale, terms);
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - a[i]) <= 1e-10 * (Math.Abs(e[i]) + scale), $"{what} {quantity}[{i}]: expected {e[i]:R}, got {a[i]:R}");
        }
        Close(expected.InputGrad, dx, "dx");
        Close(expected.WeightGrad, layer.WeightGrad, "dgamma");
        Close(expected.BiasGrad, layer.BiasGrad, "dbeta");
    }

    [Fact]
    public void StaticKernelsWriteDoubleStatistics()
    {
        int[] dims = [4, 5, 7, 19];
        var random = new Random(3);
        double[] x = Normal(random, TestData.Product(dims), -2e3, 0.5), y = new double[x.Length];
        double[] w = Enumerable.Range(0, 5).Select(i => 1.0 + 0.1 * i).ToArray(), b = Enumerable.Range(0, 5).Select(i => 0.2 * i).ToArray();
        double[] mean = new double[5], variance = new double[5];
        KernelPath path = BnNchwDouble.ForwardTraining(x, y, dims[0], dims[1], dims[2], dims[3], w, b, mean, variance, 1e-5);

        var reference = new NormReference("NCHW", "N,H,W");
        var expected = reference.ForwardTraining(dims, x, w, b, 1e-5);
        AssertClose(expected.Statistics!.Mean, mean, 0, "mean");
        AssertClose(expected.Statistics.Variance, variance, 0, "variance");
        // Offset data: y = x * a + b with |a * x| ~ 1.4 / 0.5 * 2e3 ~ 6e3, and each double rounding at that magnitude costs
        // ~1.3e-12: the bound's scale term is 6 (6e-12 absolute), the double counterpart of the float roundoff term.
        AssertClose(expected.Output, y, 6, "output");
        Assert.NotEqual(KernelPath.None, path);
    }

    [Fact]
    public void Arm64PathLogicOnDoublesThroughStandIn()
    {
        int[] dims = [3, 5, 7, 9];
        var random = new Random(4);
        double[] x = Normal(random, TestData.Product(dims), 1, 2), y = new double[x.Length];
        double[] w = Enumerable.Repeat(1.5, 9).ToArray(), b = Enumerable.Repeat(-0.25, 9).ToArray();
        double[] mean = new double[9], variance = new double[9];
        if (!System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => BnNhwcDouble.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(
                KernelPath.Vector128, x, y, dims[0], dims[1], dims[2], dims[3], w, b, mean, variance, 1e-5));
            return;
        }
        long before = EmulatedAdvSimd.Calls;
        BnNhwcDouble.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(KernelPath.Vector128, x, y, dims[0], dims[1], dims[2], dims[3], w, b, mean, variance, 1e-5);
        Assert.True(EmulatedAdvSimd.Calls > before);
        var expected = new NormReference("NHWC", "N,H,W").ForwardTraining(dims, x, w, b, 1e-5);
        AssertClose(expected.Output, y, 1, "output");
        AssertClose(expected.Statistics!.Variance, variance, 0, "variance");
    }

    [Fact]
    public void LongExtentsRunOnTheExpectedPath()
    {
        int[] dims = [2, 4, 4, 64];
        var layer = new BnNhwcDouble(64);
        double[] x = Normal(new Random(5), TestData.Product(dims), 0, 1), y = new double[x.Length];
        layer.Forward(x, y, dims[0], dims[1], dims[2], dims[3]);
        Assert.Equal(IsaPathTests.Expected, layer.LastPath);
    }

    [Fact]
    public void DoubleLayerSurface()
    {
        var layer = new BnNhwcDouble(6);
        Assert.IsType<double[]>(layer.Weight);
        Assert.Equal(1e-5, layer.Epsilon);
        Assert.Equal(0.3, layer.Momentum!.Value, 15);                 // the attribute's double, not a float rounding of it
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Epsilon = 0);
        Assert.IsAssignableFrom<INormalizationLayer<double>>(layer);
    }
}
