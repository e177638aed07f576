using System.Globalization;
using System.Text.Json;
using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

// BatchNorm without running statistics (PyTorch's track_running_stats=False): batch statistics in training and inference.
[Normalize(Layout = "NCHW", Axes = "N,H,W", TrackRunningStats = false)] public sealed partial class BnNchwUntracked;
[Normalize(Layout = "NHWC", Axes = "N,H,W", Affine = AffineMode.None, TrackRunningStats = false)] public sealed partial class BnNhwcUntrackedNoAffine;
// Statistics per (c, w): with running statistics this is NK0018 (their count is not known at construction); without, it is a layer.
[Normalize(Layout = "NCHW", Axes = "N,H", TrackRunningStats = false)] public sealed partial class BnNchwUntrackedPerColumn;
// PyTorch's GroupNorm(2, C), for the golden file.
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 2)] public sealed partial class GnNchwTwoGroups;

/// <summary>
/// The module conveniences (issue 14): parameters for an optimizer, the state_dict with PyTorch's keys, NumBatchesTracked,
/// ResetRunningStats, the cumulative moving average (momentum null), layers without running statistics and ToString. Every
/// number is checked against the float64 <see cref="NormReference"/> or against PyTorch's own (Golden/torch_state_golden.json).
/// </summary>
public sealed class ModuleTests
{
    public static TheoryData<string> Names => LayerCases.Names;

    private static readonly string[] RunningKeys = ["running_mean", "running_var", "num_batches_tracked"];

    // ---- Parameters ----------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Names))]
    public void Parameters_AreWeightAndBias_TheLayersOwnArrays(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims();
        INormalizationLayer layer = layerCase.Create(dims);
        IReadOnlyList<LayerParameter<float>> parameters = layer.Parameters();
        if (layerCase.Declaration.Affine == AffineMode.None)
        {
            Assert.Empty(parameters);
            return;
        }
        Assert.Equal(["weight", "bias"], parameters.Select(p => p.Name));
        Assert.Same(layer.Weight, parameters[0].Value);
        Assert.Same(layer.WeightGrad, parameters[0].Grad);
        Assert.Same(layer.Bias, parameters[1].Value);
        Assert.Same(layer.BiasGrad, parameters[1].Grad);
        int length = layerCase.Reference.AffineLength(dims);
        Assert.All(parameters, p => Assert.Equal(length, p.Value.Length));
        Assert.Same(parameters, layer.Parameters());
    }

    /// <summary>A plain SGD step written through <c>Parameters()</c> is the layer's new weight and bias: the values are those of a
    /// float64 step with the reference's gradients, and the next Forward normalizes with them.</summary>
    [Theory]
    [InlineData(nameof(BnNchw))]
    [InlineData(nameof(LnNchwElementwise))]
    [InlineData(nameof(GnNhwc))]
    public void Parameters_AnSgdStepThroughThem_UpdatesTheLayer(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        var random = new Random(KernelCheck.Seed(name, 14));
        int[] dims = layerCase.Dims();
        int length = TestData.Product(dims);
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);
        float[] input = TestData.Normal(random, length, 0.5, 2), outputGrad = TestData.Normal(random, length, 0, 1);
        layer.Forward(input, new float[length], dims);
        layer.Backward(input, outputGrad, new float[length], dims);

        const double rate = 0.1;
        ReferenceGradients gradients = reference.BackwardTraining(dims, input, outputGrad, layer.Weight, layer.Epsilon);
        double[] weight = layer.Weight.Select((w, i) => w - rate * gradients.WeightGrad[i]).ToArray();
        double[] bias = layer.Bias.Select((b, i) => b - rate * gradients.BiasGrad[i]).ToArray();

        foreach (LayerParameter<float> parameter in layer.Parameters())
            for (int i = 0; i < parameter.Value.Length; i++)
                parameter.Value[i] -= (float)rate * parameter.Grad[i];

        AssertStep(weight, layer.Weight, gradients.WeightGrad, rate, "weight");
        AssertStep(bias, layer.Bias, gradients.BiasGrad, rate, "bias");
        float[] next = TestData.Normal(random, length, -1, 1.5);
        KernelCheck.TrainingStep(layerCase, layer, dims, next, layerCase.DefaultMomentum, name + " after the step");
    }

    private static void AssertStep(double[] expected, float[] actual, double[] gradient, double rate, string what)
    {
        // The kernel's gradient within 1e-4 of the largest one (its sums are float lanes added in double), plus rounding to float.
        double scale = gradient.Max(Math.Abs) + 1;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= rate * 1e-4 * scale + 4 * Tolerances.Roundoff * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    // ---- StateDict -----------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Names))]
    public void StateDict_HasPyTorchsKeys_InOrder_WithTheLayersLengths(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims();
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(KernelCheck.Seed(name, 15)));
        IReadOnlyDictionary<string, double[]> state = layer.StateDict();

        var keys = new List<string>();
        if (layerCase.Declaration.Affine != AffineMode.None) keys.AddRange(["weight", "bias"]);
        if (layerCase.ReducesBatch) keys.AddRange(RunningKeys);
        Assert.Equal(keys, state.Keys);
        int affine = layerCase.Reference.AffineLength(dims), statistics = layerCase.Reference.StatisticCount(dims);
        foreach ((string key, double[] values) in state)
        {
            float[]? source = key switch
            {
                "weight" => layer.Weight, "bias" => layer.Bias, "running_mean" => layer.RunningMean, "running_var" => layer.RunningVar, _ => null,
            };
            if (source is null)
            {
                Assert.Equal([0d], values);
                continue;
            }
            Assert.Equal(key is "weight" or "bias" ? affine : statistics, values.Length);
            Assert.Equal(source.Select(v => (double)v), values);
        }
    }

    [Fact]
    public void StateDict_RoundTrip_GivesTheSameLayer_AndIsACopy()
    {
        var random = new Random(16);
        int[] dims = [4, 5, 3, 6];
        var trained = new BnNchw(5);
        KernelCheck.Randomize(trained, random);
        for (int step = 0; step < 3; step++) trained.Forward(TestData.Normal(random, 360, step, 1 + step), new float[360], 4, 5, 3, 6);
        Assert.Equal(3, trained.NumBatchesTracked);

        IReadOnlyDictionary<string, double[]> state = trained.StateDict();
        Assert.Equal([3d], state["num_batches_tracked"]);
        var loaded = new BnNchw(5, momentum: null);
        loaded.LoadStateDict(state);
        Assert.Equal(KernelCheck.Bits(trained.Weight), KernelCheck.Bits(loaded.Weight));
        Assert.Equal(KernelCheck.Bits(trained.Bias), KernelCheck.Bits(loaded.Bias));
        Assert.Equal(KernelCheck.Bits(trained.RunningMean), KernelCheck.Bits(loaded.RunningMean));
        Assert.Equal(KernelCheck.Bits(trained.RunningVar), KernelCheck.Bits(loaded.RunningVar));
        Assert.Equal(3, loaded.NumBatchesTracked);

        // The same inference output, bit for bit.
        float[] x = TestData.Normal(random, 360, 0.5, 2);
        float[] y1 = new float[360], y2 = new float[360];
        trained.Training = loaded.Training = false;
        trained.Forward(x, y1, 4, 5, 3, 6);
        loaded.Forward(x, y2, 4, 5, 3, 6);
        Assert.Equal(KernelCheck.Bits(y1), KernelCheck.Bits(y2));

        // A copy: editing it changes neither layer.
        float weight0 = trained.Weight[0];
        state["weight"][0] = 1234;
        Assert.Equal(weight0, trained.Weight[0]);
        Assert.Equal(weight0, loaded.Weight[0]);

        // The loaded count is the count: with momentum null the next update weighs its batch 1/4 (PyTorch's 1 / num_batches_tracked).
        float[] mean = (float[])loaded.RunningMean.Clone(), variance = (float[])loaded.RunningVar.Clone();
        loaded.Training = true;
        float[] batch = TestData.Normal(random, 360, -2, 3);
        loaded.Forward(batch, new float[360], 4, 5, 3, 6);
        Assert.Equal(4, loaded.NumBatchesTracked);
        ReferenceResult expected = LayerCases.Get(nameof(BnNchw)).Reference
            .ForwardTraining(dims, batch, loaded.Weight, loaded.Bias, loaded.Epsilon, 0.25, mean, variance);
        KernelCheck.Running(expected, mean, variance, 0.25, loaded.RunningMean, loaded.RunningVar, "after load, momentum null");
    }

    [Fact]
    public void StateDict_RoundTrip_DoubleLayer_IsExact()
    {
        var random = new Random(17);
        var trained = new BnNhwcDouble(4);
        for (int i = 0; i < 4; i++) { trained.Weight[i] = random.NextDouble() + 0.5; trained.Bias[i] = random.NextDouble() - 0.5; }
        double[] x = TestData.Normal(random, 2 * 3 * 5 * 4, 1, 2).Select(v => (double)v + 1e-12 * random.NextDouble()).ToArray();
        trained.Forward(x, new double[x.Length], 2, 3, 5, 4);
        var loaded = new BnNhwcDouble(4);
        loaded.LoadStateDict(trained.StateDict());
        Assert.Equal(trained.Weight, loaded.Weight);
        Assert.Equal(trained.Bias, loaded.Bias);
        Assert.Equal(trained.RunningMean, loaded.RunningMean);
        Assert.Equal(trained.RunningVar, loaded.RunningVar);
        Assert.Equal(1, loaded.NumBatchesTracked);
    }

    [Fact]
    public void StateDict_LayersWithoutState_AreEmpty_AndLoadOnlyAnEmptyState()
    {
        var layer = new LnNtcNoAffine(8);
        Assert.Empty(layer.StateDict());
        Assert.Empty(layer.Parameters());
        layer.LoadStateDict(new Dictionary<string, double[]>());
        var error = Assert.Throws<ArgumentException>(() => layer.LoadStateDict(new Dictionary<string, double[]> { ["weight"] = new double[8] }));
        Assert.Equal("state", error.ParamName);
        Assert.Contains("\"weight\"", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadStates => new()
    {
        { "unknown key", "running_mea" },
        { "key in another case", "Weight" },
        { "missing key", "running_var" },
        { "weight one too long", "weight" },
        { "bias empty", "bias" },
        { "running_mean too short", "running_mean" },
        { "running_var null", "running_var" },
        { "count negative", "num_batches_tracked" },
        { "count fractional", "num_batches_tracked" },
        { "count NaN", "num_batches_tracked" },
        { "count of two values", "num_batches_tracked" },
        { "count beyond a long", "num_batches_tracked" },
    };

    /// <summary>Every bad entry is refused with an ArgumentException naming its key, and the layer is left as it was: the
    /// state's valid entries (weight and bias first, different from the layer's) are not loaded either.</summary>
    [Theory]
    [MemberData(nameof(BadStates))]
    public void LoadStateDict_BadEntry_ThrowsNamingTheKey_AndChangesNothing(string mistake, string key)
    {
        var random = new Random(KernelCheck.Seed(mistake));
        var source = new BnNchw(5);
        KernelCheck.Randomize(source, random);
        source.Forward(TestData.Normal(random, 2 * 5 * 3 * 3, 1, 2), new float[90], 2, 5, 3, 3);
        var state = source.StateDict().ToDictionary(p => p.Key, p => p.Value);

        var layer = new BnNchw(5);
        KernelCheck.Randomize(layer, random);
        for (int step = 0; step < 2; step++) layer.Forward(TestData.Normal(random, 90, -1, 1), new float[90], 2, 5, 3, 3);
        IReadOnlyDictionary<string, double[]> before = layer.StateDict();
        Assert.NotEqual(before["weight"], state["weight"]);

        switch (mistake)
        {
            case "unknown key": state.Remove("running_mean"); state["running_mea"] = new double[5]; break;
            case "key in another case": state.Remove("weight"); state["Weight"] = new double[5]; break;
            case "missing key": state.Remove("running_var"); break;
            case "weight one too long": state["weight"] = new double[6]; break;
            case "bias empty": state["bias"] = []; break;
            case "running_mean too short": state["running_mean"] = new double[4]; break;
            case "running_var null": state["running_var"] = null!; break;
            case "count negative": state["num_batches_tracked"] = [-1]; break;
            case "count fractional": state["num_batches_tracked"] = [2.5]; break;
            case "count NaN": state["num_batches_tracked"] = [double.NaN]; break;
            case "count of two values": state["num_batches_tracked"] = [1, 2]; break;
            case "count beyond a long": state["num_batches_tracked"] = [9.3e18]; break;
        }
        var error = Assert.Throws<ArgumentException>(() => layer.LoadStateDict(state));
        Assert.Equal("state", error.ParamName);
        Assert.Contains("\"" + key + "\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was loaded", error.Message, StringComparison.Ordinal);

        IReadOnlyDictionary<string, double[]> after = layer.StateDict();
        Assert.Equal(before.Keys, after.Keys);
        foreach (string k in before.Keys) Assert.Equal(before[k], after[k]);
        Assert.Equal(2, layer.NumBatchesTracked);
    }

    [Fact]
    public void LoadStateDict_Null_ThrowsArgumentNull()
    {
        var error = Assert.Throws<ArgumentNullException>(() => new BnNchw(3).LoadStateDict(null!));
        Assert.Equal("state", error.ParamName);
    }

    [Fact]
    public void LoadStateDict_RoundsToFloat_AndTakesTheLargestExactCount()
    {
        var layer = new BnNc(2);
        layer.LoadStateDict(new Dictionary<string, double[]>
        {
            ["weight"] = [0.1, -3], ["bias"] = [1e-40, 2], ["running_mean"] = [1.0 / 3, 0], ["running_var"] = [2, 5],
            ["num_batches_tracked"] = [9007199254740992d], // 2^53
        });
        Assert.Equal([0.1f, -3f], layer.Weight);
        Assert.Equal([(float)1e-40, 2f], layer.Bias);
        Assert.Equal([1f / 3, 0f], layer.RunningMean);
        Assert.Equal(9007199254740992L, layer.NumBatchesTracked);
        Assert.Equal([9007199254740992d], layer.StateDict()["num_batches_tracked"]);
    }

    // ---- PyTorch's own numbers -----------------------------------------------------------------------------------------

    private static string GoldenPath([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Golden", "torch_state_golden.json");

    private static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    private static Dictionary<string, double[]> State(JsonElement e) =>
        e.EnumerateObject().ToDictionary(p => p.Name, p => Doubles(p.Value));

    private static void AssertTorch(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        // Both float32: PyTorch's kernels and ours round differently, a few ulps of the output's scale.
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])),
                string.Create(CultureInfo.InvariantCulture, $"{what}[{i}]: torch {expected[i]:R}, ours {actual[i]:R}"));
    }

    /// <summary>
    /// Golden/torch_state_golden.json (written by Golden/make_state.py with torch 1.13): the state_dict of BatchNorm2d (momentum 0.1
    /// and None, after three training steps), LayerNorm([C, H, W]) and GroupNorm(2, C) with random weights, an input and
    /// PyTorch's output (BatchNorm in eval mode). Each state loads into the matching layer, which reproduces the output; the
    /// BatchNorm layers trained on the same three batches reach PyTorch's running statistics and num_batches_tracked.
    /// </summary>
    [Fact]
    public void TorchStateDicts_Load_AndReproducePyTorchsOutput()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(GoldenPath()));
        var seen = new List<string>();
        foreach (JsonElement c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            string module = c.GetProperty("module").GetString()!;
            int[] d = c.GetProperty("dims").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            float eps = (float)c.GetProperty("eps").GetDouble();
            Dictionary<string, double[]> state = State(c.GetProperty("state"));
            float[] x = Floats(c.GetProperty("x"));
            double[] y = Doubles(c.GetProperty("y"));
            var output = new float[x.Length];
            switch (module)
            {
                case "BatchNorm2d":
                {
                    float? momentum = c.GetProperty("momentum").ValueKind == JsonValueKind.Null ? null : (float)c.GetProperty("momentum").GetDouble();
                    string what = "BatchNorm2d(momentum=" + (momentum?.ToString(CultureInfo.InvariantCulture) ?? "None") + ")";
                    var layer = new BnNchw(d[1], eps, momentum);
                    Assert.Equal(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"], state.Keys);
                    layer.LoadStateDict(state);
                    layer.Training = false;
                    layer.Forward(x, output, d[0], d[1], d[2], d[3]);
                    AssertTorch(y, output, what + " eval output");

                    var trained = new BnNchw(d[1], eps, momentum);
                    foreach (JsonElement batch in c.GetProperty("batches").EnumerateArray())
                        trained.Forward(Floats(batch), new float[x.Length], d[0], d[1], d[2], d[3]);
                    AssertTorch(state["running_mean"], trained.RunningMean, what + " running_mean");
                    AssertTorch(state["running_var"], trained.RunningVar, what + " running_var");
                    Assert.Equal((long)state["num_batches_tracked"][0], trained.NumBatchesTracked);
                    Assert.Equal(3, trained.NumBatchesTracked);
                    seen.Add(what);
                    break;
                }
                case "LayerNorm":
                {
                    var layer = new LnNchwElementwise(d[1] * d[2] * d[3], eps);
                    layer.LoadStateDict(state);
                    layer.Forward(x, output, d[0], d[1], d[2], d[3]);
                    AssertTorch(y, output, "LayerNorm output");
                    seen.Add(module);
                    break;
                }
                case "GroupNorm":
                {
                    Assert.Equal(2, c.GetProperty("groups").GetInt32());
                    var layer = new GnNchwTwoGroups(d[1], eps);
                    layer.LoadStateDict(state);
                    layer.Forward(x, output, d[0], d[1], d[2], d[3]);
                    AssertTorch(y, output, "GroupNorm output");
                    seen.Add(module);
                    break;
                }
                default:
                    Assert.Fail("unknown module " + module);
                    break;
            }
        }
        Assert.Equal(["BatchNorm2d(momentum=0.1)", "BatchNorm2d(momentum=None)", "LayerNorm", "GroupNorm"], seen);
    }

    // ---- NumBatchesTracked, ResetRunningStats, the cumulative moving average -------------------------------------------

    [Fact]
    public void NumBatchesTracked_CountsTrainingForwardsThatUpdateTheRunningStatistics()
    {
        var random = new Random(18);
        var layer = new BnNchw(4);
        float[] x = TestData.Normal(random, 120, 0, 1), y = new float[120];
        Assert.Equal(0, layer.NumBatchesTracked);
        layer.Forward(x, y, 3, 4, 2, 5);
        layer.Forward(x, y, 3, 4, 2, 5);
        Assert.Equal(2, layer.NumBatchesTracked);

        layer.Backward(x, TestData.Normal(random, 120, 0, 1), new float[120], 3, 4, 2, 5);
        layer.ZeroGrad();
        Assert.Equal(2, layer.NumBatchesTracked);

        layer.Training = false;                                   // inference reads the running statistics
        layer.Forward(x, y, 3, 4, 2, 5);
        Assert.Equal(2, layer.NumBatchesTracked);
        layer.Training = true;

        Assert.Throws<ArgumentException>(() => layer.Forward(x, new float[119], 3, 4, 2, 5));   // refused: nothing updated
        Assert.Equal(2, layer.NumBatchesTracked);

        // ForwardWithStatistics updates the running statistics (synchronized BatchNorm): it counts too.
        int statistics = BnNchw.StatisticCount(3, 4, 2, 5);
        double[] count = new double[statistics], mean = new double[statistics], m2 = new double[statistics];
        BnNchw.ShardStatistics(x, 3, 4, 2, 5, count, mean, m2);
        layer.ForwardWithStatistics(x, y, 3, 4, 2, 5, count, mean, m2);
        Assert.Equal(3, layer.NumBatchesTracked);

        // Layers without running statistics have no count.
        Assert.Null(typeof(LnNtc).GetProperty("NumBatchesTracked"));
        Assert.Null(typeof(BnNchwUntracked).GetProperty("NumBatchesTracked"));
        Assert.Null(typeof(BnNchwUntracked).GetMethod("ResetRunningStats"));
    }

    [Fact]
    public void ResetRunningStats_RestoresZeroOneAndZeroBatches_KeepsTheParameters()
    {
        var random = new Random(19);
        LayerCase layerCase = LayerCases.Get(nameof(BnNhwc));
        int[] dims = [3, 4, 5, 6];
        var layer = new BnNhwc(6, momentum: null);
        KernelCheck.Randomize(layer, random);
        for (int step = 0; step < 2; step++) layer.Forward(TestData.Normal(random, 360, 2, 3), new float[360], 3, 4, 5, 6);
        Assert.DoesNotContain(0f, layer.RunningMean);
        int[] weight = KernelCheck.Bits(layer.Weight), bias = KernelCheck.Bits(layer.Bias);

        layer.ResetRunningStats();
        Assert.All(layer.RunningMean, v => Assert.Equal(0f, v));
        Assert.All(layer.RunningVar, v => Assert.Equal(1f, v));
        Assert.Equal(0, layer.NumBatchesTracked);
        Assert.Equal(weight, KernelCheck.Bits(layer.Weight));
        Assert.Equal(bias, KernelCheck.Bits(layer.Bias));
        KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, 360, 0, 1), "after ResetRunningStats");

        // The count restarted: with momentum null the next batch weighs 1, the running statistics become its own.
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, 360, -1, 0.5), 1.0, "first batch after the reset");
        Assert.Equal(1, layer.NumBatchesTracked);
    }

    /// <summary>Momentum null (PyTorch's momentum=None): after k batches the running mean is the plain average of the k batch means
    /// and the running variance that of the k unbiased batch variances, whatever the initial running statistics were.</summary>
    [Fact]
    public void MomentumNull_IsTheCumulativeAverageOfTheBatchStatistics()
    {
        var random = new Random(20);
        NormReference reference = LayerCases.Get(nameof(BnNchw)).Reference;
        int[] dims = [4, 3, 5, 7];
        int length = TestData.Product(dims);
        var layer = new BnNchw(3, momentum: null);
        Assert.Null(layer.Momentum);
        KernelCheck.Randomize(layer, random);                     // initial running statistics: weighed 0 by the first batch

        var means = new List<double[]>();
        var variances = new List<double[]>();
        var biased = new List<double[]>();
        for (int k = 1; k <= 3; k++)
        {
            float[] batch = TestData.Normal(random, length, mean: 3 * k - 5, std: k);
            layer.Forward(batch, new float[length], 4, 3, 5, 7);
            ReferenceStatistics statistics = reference.Statistics(dims, batch);
            means.Add(statistics.Mean);
            biased.Add(statistics.Variance);
            variances.Add(statistics.Variance.Select(v => v * statistics.Count / (statistics.Count - 1)).ToArray());
            Assert.Equal(k, layer.NumBatchesTracked);
            for (int s = 0; s < 3; s++)
            {
                double mean = means.Average(m => m[s]), variance = variances.Average(v => v[s]);
                // Each batch statistic within its own bound (Tolerances), the average of k of them within the largest, plus the rounding of k updates.
                double meanBound = Enumerable.Range(0, k).Max(j => Tolerances.Mean(means[j][s], biased[j][s])) + 8 * k * Tolerances.Roundoff * Math.Abs(mean);
                double varianceBound = Tolerances.Variance(variances.Max(v => v[s])) + 8 * k * Tolerances.Roundoff * variance;
                Assert.True(Math.Abs(layer.RunningMean[s] - mean) <= meanBound, $"after {k} batches running_mean[{s}]: {layer.RunningMean[s]} vs {mean}");
                Assert.True(Math.Abs(layer.RunningVar[s] - variance) <= varianceBound, $"after {k} batches running_var[{s}]: {layer.RunningVar[s]} vs {variance}");
            }
        }
        // The batches differ by far more than the bounds: a fixed momentum (or a count that does not move) would fail above.
        Assert.True(Math.Abs(means[0][0] - means[2][0]) > 1);
    }

    /// <summary>Switching to null mid-training weighs the next batch by 1 / (every batch so far + 1), as PyTorch, whose count
    /// includes the batches of a fixed momentum.</summary>
    [Fact]
    public void MomentumSetToNull_WeighsByTheWholeCount()
    {
        var random = new Random(21);
        LayerCase layerCase = LayerCases.Get(nameof(BnNchw));
        int[] dims = [2, 3, 4, 5];
        var layer = new BnNchw(3, momentum: 0.5f);
        KernelCheck.Randomize(layer, random);
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, 120, 1, 2), 0.5, "momentum 0.5, batch 1");
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, 120, -1, 1), 0.5, "momentum 0.5, batch 2");
        layer.Momentum = null;
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, 120, 4, 3), 1.0 / 3, "momentum null, batch 3");
        layer.Momentum = 0.25f;
        KernelCheck.TrainingStep(layerCase, layer, dims, TestData.Normal(random, 120, 0, 1), 0.25, "momentum 0.25 again, batch 4");
        Assert.Equal(4, layer.NumBatchesTracked);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Momentum = 1.5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BnNchw(3, momentum: -0.1f));
        Assert.Equal(0.25f, layer.Momentum);
    }

    [Fact]
    public void MomentumNull_WithForwardWithStatistics_TakesTheMergedStatisticsFirst()
    {
        var random = new Random(22);
        var layer = new BnNhwc(4, momentum: null);
        KernelCheck.Randomize(layer, random);
        double[] count = [10, 11, 12, 13], mean = [0.5, -1, 2, 3], m2 = [9, 20, 33, 1];
        layer.ForwardWithStatistics(TestData.Normal(random, 2 * 3 * 5 * 4, 0, 1), new float[120], 2, 3, 5, 4, count, mean, m2);
        Assert.Equal(1, layer.NumBatchesTracked);
        for (int s = 0; s < 4; s++)
        {
            Assert.Equal((float)mean[s], layer.RunningMean[s]);
            Assert.Equal((float)(m2[s] / (count[s] - 1)), layer.RunningVar[s]);
        }
    }

    // ---- No running statistics (TrackRunningStats = false) -------------------------------------------------------------

    [Fact]
    public void Untracked_HasNoRunningStatisticsMembers()
    {
        foreach (Type type in new[] { typeof(BnNchwUntracked), typeof(BnNhwcUntrackedNoAffine), typeof(BnNchwUntrackedPerColumn) })
        {
            foreach (string member in new[] { "RunningMean", "RunningVar", "Momentum", "NumBatchesTracked", "ResetRunningStats" })
                Assert.Empty(type.GetMember(member));
            Assert.Equal(["channels", "epsilon"], Assert.Single(type.GetConstructors()).GetParameters().Select(p => p.Name));
        }
        INormalizationLayer layer = new BnNchwUntracked(3);
        Assert.Null(layer.RunningMean);
        Assert.Null(layer.RunningVar);
        Assert.Equal(["weight", "bias"], layer.StateDict().Keys);
        Assert.Empty(new BnNhwcUntrackedNoAffine(3).StateDict());
    }

    public static TheoryData<string, string, string> UntrackedLayers => new()
    {
        { nameof(BnNchwUntracked), "NCHW", "N,H,W" },
        { nameof(BnNhwcUntrackedNoAffine), "NHWC", "N,H,W" },
        { nameof(BnNchwUntrackedPerColumn), "NCHW", "N,H" },
    };

    /// <summary>PyTorch's track_running_stats=False: inference normalizes with the batch's statistics, as training does.</summary>
    [Theory]
    [MemberData(nameof(UntrackedLayers))]
    public void Untracked_InferenceUsesTheBatchStatistics(string name, string layout, string axes)
    {
        AffineMode affine = name.Contains("NoAffine") ? AffineMode.None : AffineMode.PerChannel;
        var reference = new NormReference(layout, axes, affine: affine);
        var random = new Random(KernelCheck.Seed(name, 23));
        int[] dims = layout == "NCHW" ? [3, 4, 5, 6] : [3, 5, 6, 4];
        int length = TestData.Product(dims);
        INormalizationLayer layer = name switch
        {
            nameof(BnNchwUntracked) => new BnNchwUntracked(4),
            nameof(BnNhwcUntrackedNoAffine) => new BnNhwcUntrackedNoAffine(4),
            _ => new BnNchwUntrackedPerColumn(4),
        };
        KernelCheck.Randomize(layer, random);
        for (int step = 0; step < 2; step++)
        {
            float[] x = TestData.Normal(random, length, 2 * step - 1, 1 + step);
            float[] training = new float[length], inference = new float[length];
            layer.Training = true;
            layer.Forward(x, training, dims);
            layer.Training = false;
            layer.Forward(x, inference, dims);
            ReferenceResult expected = reference.ForwardTraining(dims, x, layer.Weight, layer.Bias, layer.Epsilon);
            KernelCheck.Outputs(reference, dims, x, layer.Weight, layer.Bias, KernelCheck.BatchTerms(reference, expected.Statistics!),
                layer.Epsilon, expected.Output, inference, $"{name} inference, step {step}");
            Assert.Equal(KernelCheck.Bits(training), KernelCheck.Bits(inference));
        }
    }

    [Fact]
    public void Untracked_ForwardWithStatistics_NormalizesWithTheMergedStatistics()
    {
        var random = new Random(24);
        var reference = new NormReference("NCHW", "N,H,W");
        int[] dims = [4, 3, 2, 5];
        float[] x = TestData.Normal(random, 120, 1, 2), y = new float[120];
        var layer = new BnNchwUntracked(3);
        KernelCheck.Randomize(layer, random);
        double[] count = new double[3], mean = new double[3], m2 = new double[3];
        BnNchwUntracked.ShardStatistics(x, 4, 3, 2, 5, count, mean, m2);
        layer.ForwardWithStatistics(x, y, 4, 3, 2, 5, count, mean, m2);
        ReferenceResult expected = reference.ForwardTraining(dims, x, layer.Weight, layer.Bias, layer.Epsilon);
        KernelCheck.Outputs(reference, dims, x, layer.Weight, layer.Bias, KernelCheck.BatchTerms(reference, expected.Statistics!),
            layer.Epsilon, expected.Output, y, "untracked ForwardWithStatistics");
    }

    // ---- ToString ------------------------------------------------------------------------------------------------------

    [Fact]
    public void ToString_DescribesTheLayerLikePyTorchsRepr()
    {
        Assert.Equal("BnNchw(BatchNorm, layout=NCHW, axes=N,H,W, channels=64, eps=1e-05, momentum=0.1, affine=PerChannel, track_running_stats=True)",
            new BnNchw(64).ToString());
        Assert.Equal("BnNhwc(BatchNorm, layout=NHWC, axes=N,H,W, channels=8, eps=0.001, momentum=0.3, affine=PerChannel, track_running_stats=True)",
            new BnNhwc(8).ToString());
        Assert.Equal("BnNchw(BatchNorm, layout=NCHW, axes=N,H,W, channels=3, eps=1e-05, momentum=None, affine=PerChannel, track_running_stats=True)",
            new BnNchw(3, momentum: null).ToString());
        Assert.Equal("BnNchwUntracked(BatchNorm, layout=NCHW, axes=N,H,W, channels=4, eps=1e-05, affine=PerChannel, track_running_stats=False)",
            new BnNchwUntracked(4).ToString());
        Assert.Equal("BnPerActivationNchw(BatchNorm, layout=NCHW, axes=N, normalized_size=60, eps=1e-05, momentum=0.1, affine=Elementwise, track_running_stats=True)",
            new BnPerActivationNchw(60).ToString());
        Assert.Equal("LnNchwElementwise(LayerNorm, layout=NCHW, axes=C,H,W, normalized_size=200704, eps=1e-05, affine=Elementwise)",
            new LnNchwElementwise(200704).ToString());
        Assert.Equal("LnNchw(LayerNorm, layout=NCHW, axes=C,H,W, channels=64, eps=1e-05, affine=PerChannel)", new LnNchw(64).ToString());
        Assert.Equal("LnNtcNoAffine(LayerNorm, layout=NTC, axes=C, channels=8, eps=1e-06, affine=None)", new LnNtcNoAffine(8).ToString());
        Assert.Equal("LnNlNoAffine(LayerNorm, layout=NL, axes=L, eps=1e-05, affine=None)", new LnNlNoAffine().ToString());
        Assert.Equal("GnNhwc(GroupNorm, layout=NHWC, axes=C,H,W, groups=4, channels=12, eps=1e-05, affine=PerChannel)", new GnNhwc(12).ToString());
        Assert.Equal("InNhwc(InstanceNorm, layout=NHWC, axes=H,W, channels=7, eps=1e-05, affine=PerChannel)", new InNhwc(7).ToString());
        Assert.Equal("RmsNtc(RMSNorm, layout=NTC, axes=C, channels=16, eps=1e-05, affine=PerChannel)", new RmsNtc(16).ToString());
        Assert.Equal("BnNchwDouble(BatchNorm, layout=NCHW, axes=N,H,W, channels=2, eps=1e-05, momentum=0.1, affine=PerChannel, track_running_stats=True)",
            new BnNchwDouble(2).ToString());

        // The current values, not the declaration's.
        var layer = new BnNchw(5) { Epsilon = 2e-2f, Momentum = 0.25f };
        Assert.Equal("BnNchw(BatchNorm, layout=NCHW, axes=N,H,W, channels=5, eps=0.02, momentum=0.25, affine=PerChannel, track_running_stats=True)",
            layer.ToString());
    }

    // ---- The affine default (NK0031) -----------------------------------------------------------------------------------

    /// <summary>The LayerNorm over C,H,W that PyTorch's nn.LayerNorm([C, H, W]) is (Elementwise) and the one that is its
    /// GroupNorm(1, C) (PerChannel, written out since NK0031): their parameter counts and that both match their references.</summary>
    [Fact]
    public void LayerNormOverASample_AffineAsWritten()
    {
        Assert.Equal(64 * 7 * 8, new LnNchwElementwise(64 * 7 * 8).Weight.Length);
        Assert.Equal(64, new LnNchw(64).Weight.Length);
        Assert.Equal(AffineMode.PerChannel, ((INormalizationLayer)new LnNchw(64)).Affine);
        Assert.Equal(AffineMode.Elementwise, ((INormalizationLayer)new LnNchwElementwise(64 * 7 * 8)).Affine);
    }
}
