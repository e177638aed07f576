using System.Reflection;
using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>Every generated layer against <see cref="NormReference"/>: surface, randomized training and inference over
/// several running-statistics steps, the static kernels, aliasing, and a sweep of every innermost extent 1..130.</summary>
public sealed class KernelTests
{
    public static TheoryData<string> Names => LayerCases.Names;

    [Theory]
    [MemberData(nameof(Names))]
    public void SurfaceMatchesDeclaration(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormalizeAttribute declaration = layerCase.Declaration;
        NormReference reference = layerCase.Reference;
        int[] dims = layerCase.Dims();
        INormalizationLayer layer = layerCase.Create(dims);

        Assert.Equal(declaration.Layout, layer.Layout);
        Assert.Equal(declaration.Axes, layer.Axes); // declared without spaces, so already in the normalized form
        Assert.Equal(declaration.Groups, layer.Groups);
        Assert.Equal(declaration.Kind, layer.Kind);
        Assert.Equal(declaration.Affine, layer.Affine);
        Assert.True(layer.Training);
        Assert.Equal(layerCase.DefaultEpsilon, layer.Epsilon);
        Assert.Equal(KernelPath.None, layer.LastPath);

        int affineLength = reference.AffineLength(dims);
        Assert.Equal(Enumerable.Repeat(1f, affineLength), layer.Weight);
        Assert.Equal(new float[affineLength], layer.Bias);

        int statistics = reference.StatisticCount(dims);
        Assert.Equal(statistics, layerCase.StatisticCount(dims));
        PropertyInfo? momentum = layerCase.Type.GetProperty("Momentum");
        if (reference.ReducesBatch)
        {
            Assert.Equal(new float[statistics], layer.RunningMean);
            Assert.Equal(Enumerable.Repeat(1f, statistics), layer.RunningVar);
            Assert.NotNull(momentum);
            Assert.Equal(layerCase.DefaultMomentum, (float)momentum.GetValue(layer)!);
        }
        else
        {
            Assert.Null(layer.RunningMean);
            Assert.Null(layer.RunningVar);
            Assert.Null(momentum);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ConstructorFollowsContract(string name)
    {
        // (channels | normalizedSize | nothing, float epsilon = <attribute>, [float momentum = <attribute> when N is reduced])
        LayerCase layerCase = LayerCases.Get(name);
        NormalizeAttribute declaration = layerCase.Declaration;
        ConstructorInfo constructor = Assert.Single(layerCase.Type.GetConstructors());
        var expected = new List<string>();
        if (declaration.Affine == AffineMode.Elementwise) expected.Add("normalizedSize");
        else if (declaration.Layout.Contains('C')) expected.Add("channels");
        expected.Add("epsilon");
        if (layerCase.ReducesBatch) expected.Add("momentum");

        ParameterInfo[] parameters = constructor.GetParameters();
        Assert.Equal(expected, parameters.Select(p => p.Name));
        ParameterInfo epsilon = parameters.Single(p => p.Name == "epsilon");
        Assert.Equal(typeof(float), epsilon.ParameterType);
        Assert.Equal(layerCase.DefaultEpsilon, (float)epsilon.DefaultValue!);
        if (parameters.SingleOrDefault(p => p.Name == "momentum") is { } momentum)
            Assert.Equal(layerCase.DefaultMomentum, (float)momentum.DefaultValue!);
    }

    [Fact]
    public void ConstructorArgumentsAndSettersTakeEffect()
    {
        var layer = new BnNchw(5, 1e-3f, 0.5f);
        Assert.Equal(1e-3f, layer.Epsilon);
        Assert.Equal(0.5f, layer.Momentum);
        Assert.Equal(5, layer.Weight.Length);
        layer.Momentum = 0.25f;
        layer.Epsilon = 2e-2f;
        Assert.Equal(0.25f, layer.Momentum);
        Assert.Equal(2e-2f, layer.Epsilon);

        // The set values are the ones used: one step against the reference with them.
        LayerCase layerCase = LayerCases.Get(nameof(BnNchw));
        int[] dims = [3, 5, 4, 7];
        var random = new Random(5);
        KernelCheck.Randomize(layer, random);
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, TestData.Product(dims), 0.5, 2), 0.25f, "BnNchw(momentum 0.25, eps 2e-2)");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TrainingAndInferenceMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        var random = new Random(KernelCheck.Seed(name));
        int[] dims = layerCase.Dims();
        int length = TestData.Product(dims);
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);

        for (int step = 0; step < 4; step++)
        {
            if (step == 2) layer.Epsilon = 1e-2f; // a changed epsilon is honoured
            float[] input = TestData.Normal(random, length, mean: random.NextDouble() * 4 - 2, std: 0.2 + random.NextDouble() * 3);
            KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, $"{name} step {step}");

            float[] other = TestData.Normal(random, length, mean: random.NextDouble() * 2 - 1, std: 0.5 + random.NextDouble());
            KernelCheck.InferenceStep(layerCase, layer, dims, other, $"{name} after step {step}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StaticKernelsMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        var random = new Random(KernelCheck.Seed(name, 1));
        int[] dims = layerCase.Dims(n: 4);
        int length = TestData.Product(dims);
        int statistics = reference.StatisticCount(dims);
        int affineLength = reference.AffineLength(dims);
        float[] weight = TestData.Uniform(random, affineLength, -2, 2);
        float[] bias = TestData.Uniform(random, affineLength, -1, 1);
        float[] input = TestData.Normal(random, length, 1.5, 2.5);
        const float epsilon = 1e-4f;

        var output = new float[length];
        var first = new float[statistics];
        var second = reference.Kind == NormKind.Standardize ? new float[statistics] : [];
        KernelPath path = layerCase.Training(input, output, dims, weight, bias, first, second, epsilon);
        Assert.NotEqual(KernelPath.None, path);

        ReferenceResult expected = reference.ForwardTraining(dims, input, weight, bias, epsilon);
        KernelCheck.BatchStatistics(reference, expected.Statistics!, first, second, name + " static batch statistics");
        KernelCheck.Outputs(reference, dims, input, weight, bias, KernelCheck.BatchTerms(reference, expected.Statistics!), epsilon,
            expected.Output, output, name + " static training output");

        if (reference.ReducesBatch)
        {
            Assert.NotNull(layerCase.Inference);
            float[] mean = TestData.Uniform(random, statistics, -1, 1);
            float[] variance = TestData.Uniform(random, statistics, 0.25, 3);
            path = layerCase.Inference(input, output, dims, weight, bias, mean, variance, epsilon);
            Assert.NotEqual(KernelPath.None, path);
            double[] expectedInference = reference.ForwardInference(dims, input, weight, bias, mean, variance, epsilon);
            KernelCheck.Outputs(reference, dims, input, weight, bias, KernelCheck.RunningTerms(mean, variance), epsilon,
                expectedInference, output, name + " static inference output");
        }
        else
        {
            Assert.Null(layerCase.Inference);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TypedForwardEqualsInterfaceForward(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        var random = new Random(KernelCheck.Seed(name, 2));
        int[] dims = layerCase.Dims();
        float[] input = TestData.Normal(random, TestData.Product(dims), -0.5, 1.5);
        INormalizationLayer viaInterface = layerCase.Create(dims), typed = layerCase.Create(dims);
        KernelCheck.Randomize(viaInterface, new Random(3));
        KernelCheck.Randomize(typed, new Random(3));

        foreach (bool training in new[] { true, false })
        {
            viaInterface.Training = typed.Training = training;
            var expected = new float[input.Length];
            var actual = new float[input.Length];
            viaInterface.Forward(input, expected, dims);
            layerCase.Forward(typed, input, actual, dims);
            Assert.Equal(KernelCheck.Bits(expected), KernelCheck.Bits(actual));
            Assert.Equal(KernelCheck.Bits(viaInterface.RunningMean ?? []), KernelCheck.Bits(typed.RunningMean ?? []));
            Assert.Equal(KernelCheck.Bits(viaInterface.RunningVar ?? []), KernelCheck.Bits(typed.RunningVar ?? []));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InPlaceEqualsOutOfPlace(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        var random = new Random(KernelCheck.Seed(name, 3));
        int[] dims = layerCase.Dims();
        INormalizationLayer outOfPlace = layerCase.Create(dims), inPlace = layerCase.Create(dims);
        KernelCheck.Randomize(outOfPlace, new Random(4));
        KernelCheck.Randomize(inPlace, new Random(4));

        foreach (bool training in new[] { true, true, false })
        {
            float[] input = TestData.Normal(random, TestData.Product(dims), 0.25, 2);
            outOfPlace.Training = inPlace.Training = training;
            var expected = new float[input.Length];
            outOfPlace.Forward(input, expected, dims);
            float[] buffer = input.ToArray();
            inPlace.Forward(buffer, buffer, dims);
            Assert.Equal(KernelCheck.Bits(expected), KernelCheck.Bits(buffer));
            Assert.Equal(KernelCheck.Bits(outOfPlace.RunningMean ?? []), KernelCheck.Bits(inPlace.RunningMean ?? []));
            Assert.Equal(KernelCheck.Bits(outOfPlace.RunningVar ?? []), KernelCheck.Bits(inPlace.RunningVar ?? []));
        }
    }

    // ---- Every innermost extent ---------------------------------------------------------------------------------

    /// <summary>One layer per distinct innermost pattern, and the dims that make its innermost contiguous extent e.
    /// 1..130 covers every remainder of 16-lane vectors unrolled 4x (64), twice, and the 8- and 4-lane widths.</summary>
    private static readonly Dictionary<string, Func<int, int[]>> SweepDims = new()
    {
        // BN NCHW (R K R): H*W contiguous; split e over H and W when even, so folding H and W is exercised too.
        [nameof(BnNchw)] = e => [2, 3, e % 2 == 0 ? 2 : 1, e % 2 == 0 ? e / 2 : e],
        // BN NHWC (R K): C contiguous, vectorized across channels.
        [nameof(BnNhwc)] = e => [2, 3, 2, e],
        // LN NTC (K R): one contiguous row of C per statistic. C = 1 is a single value per statistic: rejected.
        [nameof(LnNtc)] = e => [2, 3, e],
        // RMS NTC (K R): same pattern where C = 1 is allowed.
        [nameof(RmsNtc)] = e => [2, 3, e],
        // IN NCHW (K R): H*W contiguous per statistic; H*W = 1 is rejected.
        [nameof(InNchw)] = e => [2, 3, 1, e],
        // IN NHWC (K R K): C contiguous, statistics per (n, c).
        [nameof(InNhwc)] = e => [2, 3, 2, e],
        // GN NHWC (K R K R): the within-group run C/G = e is contiguous, G = 4 of them per pixel.
        [nameof(GnNhwc)] = e => [2, 3, 2, 4 * e],
        // GN NHWC with one group: the whole channel run C = e.
        [nameof(GnNhwcOneGroup)] = e => [2, 3, 2, e],
        // GN NHWC with six groups: runs of e channels, the statistics four at a time and two more.
        [nameof(GnNhwcSixGroups)] = e => [2, 3, 2, 6 * e],
    };

    public static TheoryData<string> Sweeps => new(SweepDims.Keys);

    [Theory]
    [MemberData(nameof(Sweeps))]
    public void EveryInnermostExtentFrom1To130(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        var random = new Random(KernelCheck.Seed(name, 4));
        for (int e = 1; e <= 130; e++)
        {
            int[] dims = SweepDims[name](e);
            int length = TestData.Product(dims);
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, random);
            float[] input = TestData.Normal(random, length, random.NextDouble() * 2 - 1, 0.5 + random.NextDouble());

            if (reference.Kind == NormKind.Standardize && reference.CountPerStatistic(dims) == 1)
            {
                var output = new float[length];
                var exception = Assert.ThrowsAny<ArgumentException>(() => layer.Forward(input, output, dims));
                Assert.Contains("Expected more than 1 value per statistic when training", exception.Message);
                continue;
            }

            string what = $"{name} innermost {e} (dims [{string.Join(",", dims)}])";
            KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, what);
            KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, length, 0.5, 1.5), what);
        }
    }
}
