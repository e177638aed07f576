using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Outputs and gradients at the float32 floor for offset data (issue 9): data <c>offset + scale * N(0, 1)</c> rounded
/// to float, at (1e4, 1), (-3e3, 0.01) and (1e6, 1), against the float64 reference computed from the same float input.
/// <list type="bullet">
/// <item>Forward (training and inference): every output within <see cref="Output"/> <c>* max(1, |y|)</c> of the reference
/// (a plain <c>x * A + B</c> in float loses <c>eps * |mean| / std</c>, 6e-4 to 0.1 here).</item>
/// <item>Backward, with an offset gradient <c>dy = 1e3 + N(0, 1)</c>: <c>max |dx - ref| / max |ref|</c> within
/// <see cref="Gradient"/>; the parameter gradients, sums over many elements, within <see cref="Gradient"/> of
/// <c>sum |dy * xhat|</c> (dgamma) and <c>sum |dy|</c> (dbeta) per parameter: the floor of a float sum.</item>
/// </list>
/// Layers run on this process's widest path (the ISA legs of tests/run.sh cover the others); the forced-path test runs
/// each path in-process, the 128-bit one also through the emulated AdvSimd ops.
/// </summary>
public sealed class OffsetPrecisionTests
{
    /// <summary>Forward: max abs error relative to max(1, |y|).</summary>
    private const double Output = 1e-5;

    /// <summary>Backward: max abs error of dx relative to max |dx|.</summary>
    private const double Gradient = 1e-6;

    private const double GradientOffset = 1e3;

    private static readonly (double Offset, double Scale)[] Offsets = [(1e4, 1), (-3e3, 0.01), (1e6, 1)];

    private static readonly string[] FloatLayers =
    [
        nameof(BnNchw), nameof(BnNhwc), nameof(BnPerActivationNchw), nameof(LnNtc), nameof(LnNchw),
        nameof(InNchw), nameof(InNhwc), nameof(GnNchw), nameof(GnNhwc),
    ];

    public static TheoryData<string, double, double> FloatCases()
    {
        var data = new TheoryData<string, double, double>();
        foreach (string name in FloatLayers)
            foreach (var (offset, scale) in Offsets)
                data.Add(name, offset, scale);
        return data;
    }

    public static TheoryData<string, double, double> DoubleCases()
    {
        var data = new TheoryData<string, double, double>();
        foreach (string name in new[] { nameof(BnNchwDouble), nameof(BnNhwcDouble), nameof(LnNtcDouble), nameof(GnNhwcDouble), nameof(LnNhwcElementwiseDouble) })
            foreach (var (offset, scale) in Offsets)
                data.Add(name, offset, scale);
        return data;
    }

    /// <summary>Dims by letter: C = 768 for the transformer LayerNorm, 8 channels (2 per group) elsewhere; N = 6 for
    /// the per-activation BatchNorm (statistics over N alone).</summary>
    private static int[] DimsOf(string layout, string name) => name == nameof(LnNtc) || name == nameof(LnNtcDouble)
        ? [2, 5, 768]
        : layout.Select(letter => letter switch { 'N' => 6, 'C' => 8, 'H' => 11, 'W' => 13, _ => 1 }).ToArray();

    private static double MaxRelative(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, out int at)
    {
        double worst = 0;
        at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(actual[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i]));
            if (!(e <= worst)) { worst = e; at = i; }
        }
        return worst;
    }

    internal static double NormRelative(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return diff / scale;
    }

    private static void AssertOutputs(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        double worst = MaxRelative(expected, actual, out int at);
        Assert.True(worst <= Output, $"{what}: max |y - ref| / max(1, |ref|) = {worst:E2} > {Output:E0} (at {at}: {actual[at]:R} vs {expected[at]:R})");
    }

    private static void AssertInputGrad(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        double relative = NormRelative(expected, actual);
        Assert.True(relative <= Gradient, $"{what}: max |dx - ref| / max |ref| = {relative:E2} > {Gradient:E0}");
    }

    /// <summary>Parameter gradients: per parameter within <see cref="Gradient"/> of the sum of the magnitudes it adds.</summary>
    private static void AssertParameterGrads(NormReference reference, int[] dims, float[] input, float[] outputGrad, ReferenceStatistics? statistics,
        ReferenceGradients expected, ReadOnlySpan<float> weightGrad, ReadOnlySpan<float> biasGrad, (double[] Center, double[] Spread) terms, double epsilon, string what)
    {
        int parameters = expected.WeightGrad.Length;
        var dyScale = new double[parameters];
        var dyXhatScale = new double[parameters];
        for (long i = 0; i < input.Length; i++)
        {
            int s = reference.StatisticIndex(dims, i), p = reference.AffineIndex(dims, i);
            double xhat = (input[i] - terms.Center[s]) / Math.Sqrt(terms.Spread[s] + epsilon);
            dyScale[p] += Math.Abs(outputGrad[i]);
            dyXhatScale[p] += Math.Abs(outputGrad[i] * xhat);
        }
        for (int p = 0; p < parameters; p++)
        {
            Assert.True(Math.Abs(biasGrad[p] - expected.BiasGrad[p]) <= Gradient * dyScale[p], $"{what}: biasGrad[{p}] {biasGrad[p]:R} vs {expected.BiasGrad[p]:R}");
            Assert.True(Math.Abs(weightGrad[p] - expected.WeightGrad[p]) <= Gradient * dyXhatScale[p], $"{what}: weightGrad[{p}] {weightGrad[p]:R} vs {expected.WeightGrad[p]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(FloatCases))]
    public void FloatLayerForwardAndBackward(string name, double offset, double scale)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        int[] dims = DimsOf(layerCase.Declaration.Layout, name);
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, (int)offset));
        float[] input = TestData.Normal(random, length, offset, scale);
        float[] outputGrad = TestData.Normal(random, length, GradientOffset, 1);
        string what = $"{name} ({offset}, {scale}) on {Isa.Widest}";

        INormalizationLayer layer = layerCase.Create(dims);
        float[] weight = TestData.Uniform(random, layer.Weight.Length, 0.5, 2);
        float[] bias = TestData.Uniform(random, layer.Bias.Length, -1, 1);
        weight.CopyTo(layer.Weight, 0);
        bias.CopyTo(layer.Bias, 0);
        double epsilon = layer.Epsilon;

        // Training forward.
        var output = new float[length];
        layer.Forward(input, output, dims);
        ReferenceResult expected = reference.ForwardTraining(dims, input, weight, bias, epsilon);
        AssertOutputs(expected.Output, output, what + " training output");

        // Backward of that forward, with an offset gradient.
        CheckTrainingBackward(reference, dims, layer, input, outputGrad, weight, expected, epsilon, what + " training");
        var inputGrad = new float[length];

        if (layer.RunningMean is not { } runningMean || layer.RunningVar is not { } runningVar) return;

        // Inference around running statistics near the data (the batch's, as float), on fresh data.
        for (int s = 0; s < runningMean.Length; s++)
        {
            runningMean[s] = (float)expected.Statistics!.Mean[s];
            runningVar[s] = (float)expected.Statistics!.Variance[s];
        }
        layer.Training = false;
        float[] fresh = TestData.Normal(random, length, offset, scale);
        layer.Forward(fresh, output, dims);
        AssertOutputs(reference.ForwardInference(dims, fresh, weight, bias, runningMean, runningVar, epsilon), output, what + " inference output");

        layer.ZeroGrad();
        layer.Backward(fresh, outputGrad, inputGrad, dims);
        ReferenceGradients constant = reference.BackwardInference(dims, fresh, outputGrad, weight, runningMean, runningVar, epsilon);
        AssertInputGrad(constant.InputGrad, inputGrad, what + " inference inputGrad");
        AssertParameterGrads(reference, dims, fresh, outputGrad, null, constant, layer.WeightGrad, layer.BiasGrad,
            KernelCheck.RunningTerms(runningMean, runningVar), epsilon, what + " inference");
    }

    public static TheoryData<string, double, double, int> FloatLaneCases()
    {
        var data = new TheoryData<string, double, double, int>();
        foreach (string name in new[] { nameof(GnNchw), nameof(LnNchw), nameof(GnNhwc), nameof(BnNhwc), nameof(InNhwc) })
            foreach (var (offset, scale) in Offsets.Append((0d, 1d)))
                foreach (int plane in new[] { 17, 49, 64 })
                    data.Add(name, offset, scale, plane);
        return data;
    }

    /// <summary>
    /// The backward's sums of x - mf in float lanes, at most 16 values a lane, with an offset gradient: the blocks of short
    /// runs (GroupNorm NCHW's 16 channels of a group, LayerNorm over C,H,W's 16 channels of a sample: whole tree groups of
    /// runs, GradientRuns.LaneReduceRuns) and the channels-last column sums (GroupNorm, BatchNorm, InstanceNorm NHWC over 64
    /// channels: GradientRuns.ReduceColumns, chunks of 16 rows). On offset data the sums are exact; on centred data (offset
    /// 0), where they round, dx and the parameter gradients stay at the same floor.
    /// </summary>
    [Theory]
    [MemberData(nameof(FloatLaneCases))]
    public void FloatLaneSumsOfXAtTheFloatFloor(string name, double offset, double scale, int plane)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        int[] dims = name switch
        {
            nameof(GnNchw) => [2, 64, 1, plane],
            nameof(LnNchw) => [2, 16, 1, plane],
            _ => [2, 1, plane, 64],
        };
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, 900 + plane + (int)offset));
        float[] input = TestData.Normal(random, length, offset, scale);
        float[] outputGrad = TestData.Normal(random, length, GradientOffset, 1);
        string what = $"{name} ({offset}, {scale}) plane {plane} on {Isa.Widest}";
        INormalizationLayer layer = layerCase.Create(dims);
        float[] weight = TestData.Uniform(random, layer.Weight.Length, 0.5, 2);
        weight.CopyTo(layer.Weight, 0);
        TestData.Uniform(random, layer.Bias.Length, -1, 1).CopyTo(layer.Bias, 0);
        double epsilon = layer.Epsilon;
        layer.Forward(input, new float[length], dims);
        ReferenceResult expected = reference.ForwardTraining(dims, input, weight, layer.Bias, epsilon);
        CheckTrainingBackward(reference, dims, layer, input, outputGrad, weight, expected, epsilon, what);
    }

    /// <summary>The layer's backward of its training forward (<paramref name="expected"/>: the reference's) against the
    /// reference: dx and the parameter gradients at the floor.</summary>
    private static void CheckTrainingBackward(NormReference reference, int[] dims, INormalizationLayer layer, float[] input, float[] outputGrad,
        float[] weight, ReferenceResult expected, double epsilon, string what)
    {
        var inputGrad = new float[input.Length];
        layer.ZeroGrad();
        layer.Backward(input, outputGrad, inputGrad, dims);
        ReferenceGradients gradients = reference.BackwardTraining(dims, input, outputGrad, weight, epsilon);
        AssertInputGrad(gradients.InputGrad, inputGrad, what + " inputGrad");
        AssertParameterGrads(reference, dims, input, outputGrad, expected.Statistics, gradients, layer.WeightGrad, layer.BiasGrad,
            KernelCheck.BatchTerms(reference, expected.Statistics!), epsilon, what);
    }

    [Theory]
    [MemberData(nameof(DoubleCases))]
    public void DoubleLayerForwardAndBackward(string name, double offset, double scale)
    {
        var layerType = typeof(OffsetPrecisionTests).Assembly.GetType("NormKernels.Tests." + name)!;
        var declaration = (NormalizeAttribute)Attribute.GetCustomAttribute(layerType, typeof(NormalizeAttribute))!;
        var reference = new NormReference(declaration.Layout, declaration.Axes, declaration.Groups, declaration.Kind, declaration.Affine);
        int[] dims = DimsOf(declaration.Layout, name);
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, (int)offset));
        double[] input = TestData.Normal(random, length, offset, scale).Select(v => (double)v).ToArray();
        double[] outputGrad = TestData.Normal(random, length, GradientOffset, 1).Select(v => (double)v).ToArray();
        string what = $"{name} ({offset}, {scale}) on {Isa.Widest}";
        INormalizationLayer<double> layer = name switch
        {
            nameof(BnNchwDouble) => new BnNchwDouble(dims[1]),
            nameof(BnNhwcDouble) => new BnNhwcDouble(dims[3]),
            nameof(LnNtcDouble) => new LnNtcDouble(dims[2]),
            nameof(GnNhwcDouble) => new GnNhwcDouble(dims[3]),
            nameof(LnNhwcElementwiseDouble) => new LnNhwcElementwiseDouble(dims[1] * dims[2] * dims[3]),
            _ => throw new ArgumentException(name),
        };
        for (int i = 0; i < layer.Weight.Length; i++) layer.Weight[i] = 0.5 + 1.5 * random.NextDouble();
        for (int i = 0; i < layer.Bias.Length; i++) layer.Bias[i] = random.NextDouble() * 2 - 1;

        var output = new double[length];
        layer.Forward(input, output, dims);
        ReferenceResult expected = reference.ForwardTraining(dims, input, layer.Weight, layer.Bias, layer.Epsilon);
        AssertOutputs(expected.Output, output.Select(v => (float)v).ToArray(), what + " training output");
        var inputGrad = new double[length];
        layer.Backward(input, outputGrad, inputGrad, dims);
        ReferenceGradients gradients = reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
        AssertInputGrad(gradients.InputGrad, inputGrad.Select(v => (float)v).ToArray(), what + " training inputGrad");

        if (layer.RunningMean is not { } runningMean || layer.RunningVar is not { } runningVar) return;
        for (int s = 0; s < runningMean.Length; s++)
        {
            runningMean[s] = expected.Statistics!.Mean[s];
            runningVar[s] = expected.Statistics!.Variance[s];
        }
        layer.Training = false;
        layer.Forward(input, output, dims);
        AssertOutputs(reference.ForwardInference(dims, input, layer.Weight, layer.Bias, runningMean, runningVar, layer.Epsilon),
            output.Select(v => (float)v).ToArray(), what + " inference output");
    }

    public static TheoryData<KernelPath, double, double> PathCases()
    {
        var data = new TheoryData<KernelPath, double, double>();
        foreach (KernelPath path in new[] { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar })
            foreach (var (offset, scale) in Offsets)
                data.Add(path, offset, scale);
        return data;
    }

    /// <summary>Each path forced in-process through the static kernels (training and inference forward; backward with the
    /// float statistics the static kernels take and an offset gradient), the 128-bit path also through the emulated AdvSimd ops.</summary>
    [Theory]
    [MemberData(nameof(PathCases))]
    public void ForcedPaths(KernelPath path, double offset, double scale)
    {
        if (path > Isa.Widest) return; // this process cannot run it; the ISA legs of tests/run.sh cover the narrower ones
        var random = new Random(31 + (int)path + (int)offset);
        foreach (bool arm in path == KernelPath.Vector128 ? new[] { false, true } : new[] { false })
        {
            string leg = $"({offset}, {scale}) {path}{(arm ? " emulated AdvSimd" : "")}";
            {
                int[] dims = [5, 6, 7, 9];
                var reference = new NormReference("NCHW", "N,H,W");
                CheckStatic(reference, dims, random, offset, scale, 6, "BnNchw " + leg,
                    (x, y, w, b, m, v) => arm
                        ? BnNchw.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 5, 6, 7, 9, w, b, m, v, 1e-5f)
                        : BnNchw.ForwardTrainingOnPath<X86Vector128Ops>(path, x, y, 5, 6, 7, 9, w, b, m, v, 1e-5f),
                    (x, y, w, b, m, v) => arm
                        ? BnNchw.ForwardInferenceOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 5, 6, 7, 9, w, b, m, v, 1e-5f)
                        : BnNchw.ForwardInferenceOnPath<X86Vector128Ops>(path, x, y, 5, 6, 7, 9, w, b, m, v, 1e-5f),
                    (x, dy, dx, w, m, v, wg, bg) => arm
                        ? BnNchw.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, dy, dx, 5, 6, 7, 9, w, m, v, 1e-5f, wg, bg)
                        : BnNchw.BackwardTrainingOnPath<X86Vector128Ops>(path, x, dy, dx, 5, 6, 7, 9, w, m, v, 1e-5f, wg, bg));
            }
            {
                int[] dims = [5, 7, 3, 19];
                var reference = new NormReference("NHWC", "N,H,W");
                CheckStatic(reference, dims, random, offset, scale, 19, "BnNhwc " + leg,
                    (x, y, w, b, m, v) => arm
                        ? BnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 5, 7, 3, 19, w, b, m, v, 1e-5f)
                        : BnNhwc.ForwardTrainingOnPath<X86Vector128Ops>(path, x, y, 5, 7, 3, 19, w, b, m, v, 1e-5f),
                    (x, y, w, b, m, v) => arm
                        ? BnNhwc.ForwardInferenceOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 5, 7, 3, 19, w, b, m, v, 1e-5f)
                        : BnNhwc.ForwardInferenceOnPath<X86Vector128Ops>(path, x, y, 5, 7, 3, 19, w, b, m, v, 1e-5f),
                    (x, dy, dx, w, m, v, wg, bg) => arm
                        ? BnNhwc.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, dy, dx, 5, 7, 3, 19, w, m, v, 1e-5f, wg, bg)
                        : BnNhwc.BackwardTrainingOnPath<X86Vector128Ops>(path, x, dy, dx, 5, 7, 3, 19, w, m, v, 1e-5f, wg, bg));
            }
            {
                int[] dims = [3, 5, 12, 20];
                var reference = new NormReference("NHWC", "C,H,W", groups: 4);
                CheckStatic(reference, dims, random, offset, scale, 20, "GnNhwc " + leg,
                    (x, y, w, b, m, v) => arm
                        ? GnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 3, 5, 12, 20, w, b, m, v, 1e-5f)
                        : GnNhwc.ForwardTrainingOnPath<X86Vector128Ops>(path, x, y, 3, 5, 12, 20, w, b, m, v, 1e-5f),
                    null,
                    (x, dy, dx, w, m, v, wg, bg) => arm
                        ? GnNhwc.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, dy, dx, 3, 5, 12, 20, w, m, v, 1e-5f, wg, bg)
                        : GnNhwc.BackwardTrainingOnPath<X86Vector128Ops>(path, x, dy, dx, 3, 5, 12, 20, w, m, v, 1e-5f, wg, bg));
            }
            {
                int[] dims = [2, 3, 768];
                var reference = new NormReference("NTC", "C");
                CheckStatic(reference, dims, random, offset, scale, 768, "LnNtc " + leg,
                    (x, y, w, b, m, v) => arm
                        ? LnNtc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, y, 2, 3, 768, w, b, m, v, 1e-5f)
                        : LnNtc.ForwardTrainingOnPath<X86Vector128Ops>(path, x, y, 2, 3, 768, w, b, m, v, 1e-5f),
                    null,
                    (x, dy, dx, w, m, v, wg, bg) => arm
                        ? LnNtc.BackwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, x, dy, dx, 2, 3, 768, w, m, v, 1e-5f, wg, bg)
                        : LnNtc.BackwardTrainingOnPath<X86Vector128Ops>(path, x, dy, dx, 2, 3, 768, w, m, v, 1e-5f, wg, bg));
            }
        }
    }

    private delegate KernelPath Training(float[] x, float[] y, float[] w, float[] b, float[] mean, float[] variance);
    private delegate KernelPath Backward(float[] x, float[] dy, float[] dx, float[] w, float[] mean, float[] variance, float[] weightGrad, float[] biasGrad);

    private static void CheckStatic(NormReference reference, int[] dims, Random random, double offset, double scale, int parameters, string what,
        Training training, Training? inference, Backward backward)
    {
        int length = TestData.Product(dims), statistics = reference.StatisticCount(dims);
        float[] input = TestData.Normal(random, length, offset, scale);
        float[] weight = TestData.Uniform(random, parameters, 0.5, 2), bias = TestData.Uniform(random, parameters, -1, 1);
        float[] output = new float[length], mean = new float[statistics], variance = new float[statistics];
        training(input, output, weight, bias, mean, variance);
        ReferenceResult expected = reference.ForwardTraining(dims, input, weight, bias, 1e-5);
        AssertOutputs(expected.Output, output, what + " training output");
        if (inference is not null)
        {
            float[] fresh = TestData.Normal(random, length, offset, scale);
            inference(fresh, output, weight, bias, mean, variance);
            AssertOutputs(reference.ForwardInference(dims, fresh, weight, bias, mean, variance, 1e-5), output, what + " inference output");
        }

        // The static backward takes the float statistics ForwardTraining wrote (its contract) and recovers the double mean from
        // the exact sum of x - mean; with an offset gradient its inputGrad is at the floor too.
        training(input, output, weight, bias, mean, variance);
        float[] outputGrad = TestData.Normal(random, length, GradientOffset, 1);
        float[] inputGrad = new float[length], weightGrad = new float[parameters], biasGrad = new float[parameters];
        backward(input, outputGrad, inputGrad, weight, mean, variance, weightGrad, biasGrad);
        AssertInputGrad(reference.BackwardTraining(dims, input, outputGrad, weight, 1e-5).InputGrad, inputGrad, what + " static backward inputGrad");
    }

    /// <summary>AdaIN's apply: content and style both offset, output at the style's scale.</summary>
    [Theory]
    [InlineData("NCHW", 1e4, 1)]
    [InlineData("NCHW", -3e3, 0.01)]
    [InlineData("NCHW", 1e6, 1)]
    [InlineData("NHWC", 1e4, 1)]
    [InlineData("NHWC", -3e3, 0.01)]
    [InlineData("NHWC", 1e6, 1)]
    public void AdaptiveInstanceNorm(string layout, double offset, double scale)
    {
        var random = new Random(KernelCheck.Seed(layout, (int)offset));
        int[] dims = layout == "NCHW" ? [2, 6, 9, 11] : [2, 9, 11, 6];
        int[] styleDims = layout == "NCHW" ? [2, 6, 5, 7] : [2, 5, 7, 6];
        float[] content = TestData.Normal(random, TestData.Product(dims), offset, scale);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), 3, 2);
        var output = new float[content.Length];
        if (layout == "NCHW") InNchw.AdaptiveForward(content, style, output, 2, 6, 9, 11, 5, 7, 1e-5f);
        else InNhwc.AdaptiveForward(content, style, output, 2, 9, 11, 6, 5, 7, 1e-5f);
        AdaptiveReference.Result expected = AdaptiveReference.Forward(layout, dims, content, styleDims, style, 1e-5);
        AssertOutputs(expected.Output, output, $"AdaIN {layout} ({offset}, {scale})");
    }
}
