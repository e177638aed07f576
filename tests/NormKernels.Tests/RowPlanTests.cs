namespace NormKernels.Tests;

/// <summary>
/// Row plans (each statistic one contiguous run, the runs back to back) run row after row (Runs.Rows): LayerNorm and RMSNorm
/// over the last dim, InstanceNorm NCHW, and BatchNorm NCHW with N = 1 (a channel is one plane). Many rows per unit, rows with
/// tails, training then inference against the float64 reference (running statistics included), and the same bits for 1 and 2
/// threads.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class RowPlanTests : RestoresSettings
{
    public static TheoryData<string, int[]> Cases => new()
    {
        // Planes of 64 or more (shorter ones take the expanded training path).
        { "BnNchw", [1, 5, 9, 11] },
        { "BnNchw", [1, 32, 16, 16] },
        { "BnNchw", [1, 40, 5, 13] },
        { "InNchw", [3, 24, 7, 7] },
        { "InNchwNoAffine", [2, 20, 5, 9] },
        { "LnNtc", [4, 9, 37] },
        { "LnNtcNoAffine", [2, 33, 50] },
        { "RmsNtc", [5, 7, 40] },
        { "RmsNtcNoAffine", [3, 11, 21] },
        { "GnNchw", [2, 4, 9, 11] },       // one channel per group: its statistics' run is its apply's
        { "GnNchw", [3, 4, 7, 7] },        // the same on short rows (in lanes)
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RowsMatchTheReferenceAndEveryThreadCount(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        float[] input = ReferenceSteps(layerCase, dims, new Random(KernelCheck.Seed(name, dims[1])), name + " rows", null);

        // The same bits on two threads (units are fixed by the shape): output, saved and running statistics.
        Parallelism.MaxDegree = 1;
        var one = TrainingForward(layerCase, dims, input, out _);
        Parallelism.MaxDegree = 2;
        var two = TrainingForward(layerCase, dims, input, out _);
        Assert.Equal(one.Output, two.Output);
        Assert.Equal(one.State, two.State);
    }

    /// <summary>The same call in cache (phased: every row's sums, then every row's coefficients, then every row's apply; up to
    /// 64 rows in one lane on the calling thread, more in units) and streamed (row after row): the same output, saved
    /// statistics, mean residuals and running statistics, bit for bit.</summary>
    [Theory]
    [InlineData("LnNtc", new[] { 3, 11, 40 })]
    [InlineData("LnNtcNoAffine", new[] { 2, 17, 36 })]
    [InlineData("RmsNtc", new[] { 5, 7, 33 })]
    [InlineData("RmsNtcNoAffine", new[] { 1, 26, 48 })]
    [InlineData("InNchw", new[] { 3, 23, 8, 9 })]
    [InlineData("InNchwNoAffine", new[] { 2, 13, 5, 16 })]
    [InlineData("BnNchw", new[] { 1, 38, 9, 11 })]
    [InlineData("GnNchw", new[] { 2, 4, 9, 10 })]
    [InlineData("LnNtc", new[] { 2, 37, 256 })]        // lane sums: batches of 16 rows phased, of 4 out of cache
    [InlineData("RmsNtcNoAffine", new[] { 3, 11, 130 })]
    [InlineData("LnNtc", new[] { 2, 40, 40 })]          // more than 64 rows: phased in units (64 or fewer: one lane on the calling thread)
    [InlineData("RmsNtc", new[] { 1, 65, 33 })]
    public void PhasedRowsGiveTheBitsOfRowAfterRow(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        var random = new Random(KernelCheck.Seed(name, 77));
        float[] input = TestData.Normal(random, TestData.Product(dims), 40, 3);   // an offset, so the mean's residual is not zero
        Parallelism.MaxDegree = 1;
        Streaming.ThresholdBytes = long.MaxValue;
        var phased = TrainingForward(layerCase, dims, input, out _);
        Assert.False(Streaming.LastCallStreamed);
        Streaming.ThresholdBytes = 0;
        var streamed = TrainingForward(layerCase, dims, input, out KernelPath path);
        // The scalar path never streams (and runs both through the block driver).
        Assert.Equal(path != KernelPath.Scalar, Streaming.LastCallStreamed);
        Assert.Equal(phased.Output, streamed.Output);
        Assert.Equal(phased.State, streamed.State);
    }

    /// <summary>BatchNorm with N = 1 in inference mode (running statistics; a channel is one row): a call the runner keeps on
    /// the calling thread runs its rows' own lane (in place too), the same call streamed runs the block driver; the same bits. The lane's
    /// values against the float64 reference: <see cref="RowsMatchTheReferenceAndEveryThreadCount"/>' inference step.</summary>
    [Theory]
    [InlineData("BnNchw", new[] { 1, 38, 9, 11 })]
    [InlineData("BnNchw", new[] { 1, 70, 16, 16 })]     // more than 64 rows: coefficients 64 rows at a time
    [InlineData("BnNcl", new[] { 1, 9, 131 })]
    [InlineData("BnNcdhw", new[] { 1, 5, 3, 4, 17 })]
    public void InferenceRowsGiveTheDriversBits(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, 91)), TestData.Product(dims), 25, 3);
        int[] Inference(bool inPlace)
        {
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, new Random(4));
            layer.Training = false;
            float[] output = inPlace ? input.ToArray() : new float[input.Length];
            layer.Forward(inPlace ? output : input, output, dims);
            return KernelCheck.Bits(output);
        }
        Parallelism.MaxDegree = 1;
        Streaming.ThresholdBytes = long.MaxValue;
        int[] lane = Inference(false);
        Assert.Equal(lane, Inference(true));   // in place (the lane too: never streamed)
        Streaming.ThresholdBytes = 0;
        int[] driver = Inference(false);
        Assert.Equal(lane, driver);
    }

    /// <summary>On one thread, a fresh layer (parameters randomized) through a training step and an inference step, each
    /// against the reference (<paramref name="afterTraining"/> sees the layer and input in between); returns the training input.</summary>
    internal static float[] ReferenceSteps(LayerCase layerCase, int[] dims, Random random, string what, Action<INormalizationLayer, float[]>? afterTraining)
    {
        int length = TestData.Product(dims);
        float[] input = TestData.Normal(random, length, 0.75, 2);
        Parallelism.MaxDegree = 1;
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(5));
        KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, what);
        afterTraining?.Invoke(layer, input);
        KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, length, -0.5, 1), what);
        return input;
    }

    /// <summary>A fresh layer's training Forward (parameters and running statistics randomized from one seed): its output,
    /// then its saved statistics, the mean's residual and its running statistics, as bits.</summary>
    internal static (int[] Output, int[] State) TrainingForward(LayerCase layerCase, int[] dims, float[] input, out KernelPath path)
    {
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(9));
        layer.Training = true;
        var output = new float[input.Length];
        layer.Forward(input, output, dims);
        path = layer.LastPath;
        return (KernelCheck.Bits(output), State(layer));
    }

    /// <summary>The layer's saved statistics, the mean's residual and its running statistics, as bits.</summary>
    internal static int[] State(INormalizationLayer layer)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        object state = layer.GetType().GetProperty("_layer", flags)!.GetValue(layer)!;
        IEnumerable<int> Field(string field) =>
            state.GetType().GetField(field, flags)!.GetValue(state) is float[] values ? KernelCheck.Bits(values) : [];
        return Field("_statistic0").Concat(Field("_statistic1")).Concat(Field("_meanResidual"))
            .Concat(KernelCheck.Bits(layer.RunningMean ?? [])).Concat(KernelCheck.Bits(layer.RunningVar ?? [])).ToArray();
    }
}
