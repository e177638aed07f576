namespace NormKernels.Tests;

/// <summary>
/// Every argument check of the contract: the exception is an <see cref="ArgumentException"/> (or a subclass) naming the
/// offending parameter, and it is thrown before any output element is written: outputs are filled with a NaN sentinel
/// whose payload must survive bit for bit, and the running statistics must not move.
/// </summary>
public sealed class BadInputTests
{
    private const int SentinelBits = 0x7FC0BEEF; // a quiet NaN with a payload no kernel produces
    private const string SingleValueMessage = "Expected more than 1 value per statistic when training";

    private static float[] Sentinel(int length) =>
        Enumerable.Repeat(BitConverter.Int32BitsToSingle(SentinelBits), length).ToArray();

    /// <summary>Asserts <paramref name="call"/> throws an ArgumentException whose ParamName is one of
    /// <paramref name="paramNames"/>, and that none of <paramref name="watched"/> changed.</summary>
    private static ArgumentException Rejects(Action call, string[] paramNames, params float[][] watched)
    {
        int[][] before = watched.Select(array => KernelCheck.Bits(array)).ToArray();
        ArgumentException exception = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Contains(exception.ParamName, paramNames);
        for (int i = 0; i < watched.Length; i++)
            Assert.Equal(before[i], KernelCheck.Bits(watched[i]));
        return exception;
    }

    private static float[] Data(int length) => TestData.Normal(new Random(length), length, 0.5, 1);

    // ---- Span lengths vs the product of dims -------------------------------------------------------------------------

    [Theory]
    [InlineData(119)]
    [InlineData(121)]
    [InlineData(0)]
    public void InputLengthMustEqualProductOfDims(int inputLength)
    {
        var layer = new BnNchw(3);
        float[] input = Data(inputLength), output = Sentinel(120);
        Rejects(() => layer.Forward(input, output, 2, 3, 4, 5), ["input"], output, input, layer.RunningMean!, layer.RunningVar!);
        INormalizationLayer generic = layer;
        Rejects(() => generic.Forward(input, output, [2, 3, 4, 5]), ["input"], output, layer.RunningMean!, layer.RunningVar!);
        Assert.Equal(KernelPath.None, layer.LastPath);
    }

    [Theory]
    [InlineData(119)]
    [InlineData(121)]
    public void OutputLengthMustEqualProductOfDims(int outputLength)
    {
        var layer = new LnNhwc(3);
        float[] input = Data(120), output = Sentinel(outputLength);
        Rejects(() => layer.Forward(input, output, 2, 4, 5, 3), ["output"], output, input);
        layer.Training = false;
        Rejects(() => layer.Forward(input, output, 2, 4, 5, 3), ["output"], output, input);
    }

    [Fact]
    public void StaticKernelsCheckEverySpan()
    {
        float[] input = Data(120), output = Sentinel(120);
        float[] three = [1, 1, 1], mean = Sentinel(3), variance = Sentinel(3);
        Rejects(() => BnNchw.ForwardTraining(input, output, 2, 3, 4, 5, [1, 1], three, mean, variance, 1e-5f), ["weight"], output, mean, variance);
        Rejects(() => BnNchw.ForwardTraining(input, output, 2, 3, 4, 5, three, new float[4], mean, variance, 1e-5f), ["bias"], output, mean, variance);
        Rejects(() => BnNchw.ForwardTraining(input, output, 2, 3, 4, 5, three, three, new float[2], variance, 1e-5f), ["mean"], output, variance);
        Rejects(() => BnNchw.ForwardTraining(input, output, 2, 3, 4, 5, three, three, mean, new float[4], 1e-5f), ["variance"], output, mean);
        Rejects(() => BnNchw.ForwardTraining(input.AsSpan(1), output, 2, 3, 4, 5, three, three, mean, variance, 1e-5f), ["input"], output, mean, variance);
        Rejects(() => BnNchw.ForwardTraining(input, output.AsSpan(1), 2, 3, 4, 5, three, three, mean, variance, 1e-5f), ["output"], output, mean, variance);

        float[] running = [0, 0, 0];
        Rejects(() => BnNchw.ForwardInference(input, output, 2, 3, 4, 5, three, three, [0, 0], running, 1e-5f), ["mean"], output);
        Rejects(() => BnNchw.ForwardInference(input, output, 2, 3, 4, 5, three, three, running, [1, 1, 1, 1], 1e-5f), ["variance"], output);
        Rejects(() => BnNchw.ForwardInference(input, output, 2, 3, 4, 5, three, [0, 0], running, three, 1e-5f), ["bias"], output);

        // Root mean square: one meanSquare span.
        float[] meanSquare = Sentinel(8);
        Rejects(() => RmsNtc.ForwardTraining(input, output, 2, 4, 15, new float[15], new float[15], new float[7], 1e-5f), ["meanSquare"], output);
        Rejects(() => RmsNtc.ForwardTraining(input, output, 2, 4, 15, new float[14], new float[15], meanSquare, 1e-5f), ["weight"], output, meanSquare);
    }

    // ---- Channel count and groups -----------------------------------------------------------------------------------

    [Fact]
    public void ChannelCountMustMatchTheLayer()
    {
        var nchw = new BnNchw(3);
        float[] input = Data(160), output = Sentinel(160);
        Rejects(() => nchw.Forward(input, output, 2, 4, 4, 5), ["c"], output, nchw.RunningMean!, nchw.RunningVar!);
        INormalizationLayer generic = nchw;
        Rejects(() => generic.Forward(input, output, [2, 4, 4, 5]), ["c", "dims"], output, nchw.RunningMean!, nchw.RunningVar!);
        nchw.Training = false;
        Rejects(() => nchw.Forward(input, output, 2, 4, 4, 5), ["c"], output);

        var nhwc = new InNhwc(5);
        Rejects(() => nhwc.Forward(input, output, 2, 4, 5, 4), ["c"], output);
        var ntc = new LnNtc(16);
        Rejects(() => ntc.Forward(input, output, 2, 4, 20), ["c"], output);
        var noAffine = new RmsNtcNoAffine(16);
        Rejects(() => noAffine.Forward(input, output, 2, 4, 20), ["c"], output);
    }

    [Fact]
    public void ElementwiseSizeMustMatchTheLayer()
    {
        // normalizedSize = C*H*W = 60; a tensor of C*H*W = 72 does not fit the weights (any of the dims may be blamed).
        var layer = new LnNchwElementwise(60);
        float[] input = Data(144), output = Sentinel(144);
        Rejects(() => layer.Forward(input, output, 2, 3, 4, 6), ["c", "h", "w"], output);
        var perActivation = new BnPerActivationNchw(60);
        Rejects(() => perActivation.Forward(input, output, 2, 3, 4, 6), ["c", "h", "w"], output, perActivation.RunningMean!, perActivation.RunningVar!);
    }

    [Fact]
    public void ChannelsMustDivideIntoGroups()
    {
        // 10 channels, Groups = 4. The constructor may refuse the channel count; if it accepts it, Forward must refuse c.
        float[] input = Data(2 * 10 * 3 * 3), output = Sentinel(input.Length);
        GnNchw? layer = null;
        try
        {
            layer = new GnNchw(10);
        }
        catch (ArgumentException exception)
        {
            Assert.Equal("channels", exception.ParamName);
        }
        if (layer is not null)
            Rejects(() => layer.Forward(input, output, 2, 10, 3, 3), ["c"], output);

        float[] weight = new float[10], bias = new float[10], mean = Sentinel(8), variance = Sentinel(8);
        Rejects(() => GnNchw.ForwardTraining(input, output, 2, 10, 3, 3, weight, bias, mean, variance, 1e-5f), ["c"], output, mean, variance);
        Rejects(() => GnNhwc.ForwardTraining(input, output, 2, 3, 3, 10, weight, bias, mean, variance, 1e-5f), ["c"], output, mean, variance);
    }

    // ---- Dims -------------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0, 3, 4, 5, "n")]
    [InlineData(-2, 3, 4, 5, "n")]
    [InlineData(2, 3, 0, 5, "h")]
    [InlineData(2, 3, 4, -1, "w")]
    [InlineData(2, 0, 4, 5, "c")]
    public void DimsMustBePositive(int n, int c, int h, int w, string param)
    {
        var layer = new BnNchw(3);
        // Zero-sized arrays match a product of zero: only the dims check stops a kernel from updating the running
        // statistics with the NaN mean of no values.
        int product = Math.Max(0, n * c * h * w);
        float[] input = Data(product), output = Sentinel(product);
        Rejects(() => layer.Forward(input, output, n, c, h, w), [param], output, layer.RunningMean!, layer.RunningVar!);
        INormalizationLayer generic = layer;
        Rejects(() => generic.Forward(input, output, [n, c, h, w]), [param, "dims"], output, layer.RunningMean!, layer.RunningVar!);

        float[] three = [1, 1, 1], mean = Sentinel(3), variance = Sentinel(3);
        Rejects(() => BnNchw.ForwardTraining(input, output, n, c, h, w, three, three, mean, variance, 1e-5f), [param], output, mean, variance);
    }

    [Fact]
    public void InterfaceDimsMustHaveOneEntryPerLayoutLetter()
    {
        INormalizationLayer layer = new InNchw(3);
        float[] input = Data(60), output = Sentinel(60);
        Rejects(() => layer.Forward(input, output, [3, 4, 5]), ["dims"], output);
        Rejects(() => layer.Forward(input, output, [1, 3, 4, 5, 1]), ["dims"], output);
    }

    // ---- Epsilon ----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0f)]
    [InlineData(-1e-5f)]
    public void EpsilonMustBePositive(float epsilon)
    {
        Assert.Equal("epsilon", Assert.ThrowsAny<ArgumentException>(() => new BnNchw(3, epsilon)).ParamName);
        Assert.Equal("epsilon", Assert.ThrowsAny<ArgumentException>(() => new LnNtc(3, epsilon)).ParamName);

        float[] input = Data(60), output = Sentinel(60), three = [1, 1, 1], mean = Sentinel(3), variance = Sentinel(3);
        Rejects(() => BnNchw.ForwardTraining(input, output, 2, 3, 2, 5, three, three, mean, variance, epsilon), ["epsilon"], output, mean, variance);
        Rejects(() => BnNchw.ForwardInference(input, output, 2, 3, 2, 5, three, three, [0, 0, 0], three, epsilon), ["epsilon"], output);

        // The setter may refuse the value; if it takes it, Forward must refuse to run with it.
        var layer = new InNchw(3);
        try
        {
            layer.Epsilon = epsilon;
        }
        catch (ArgumentException exception)
        {
            Assert.Contains(exception.ParamName, new[] { "value", "Epsilon", "epsilon" });
            Assert.Equal(1e-5f, layer.Epsilon);
            return;
        }
        Rejects(() => layer.Forward(input, output, 2, 3, 2, 5), ["epsilon", "Epsilon"], output);
    }

    // ---- A single value per statistic -------------------------------------------------------------------------------

    [Fact]
    public void TrainingNeedsMoreThanOneValuePerStatistic()
    {
        var batch = new BnNc(4);
        float[] input = Data(4), output = Sentinel(4);
        ArgumentException exception = Rejects(() => batch.Forward(input, output, 1, 4), ["n", "dims", "input"],
            output, batch.RunningMean!, batch.RunningVar!);
        Assert.Contains(SingleValueMessage, exception.Message);

        float[] mean = Sentinel(4), variance = Sentinel(4), ones = [1, 1, 1, 1];
        exception = Rejects(() => BnNc.ForwardTraining(input, output, 1, 4, ones, ones, mean, variance, 1e-5f), ["n", "dims", "input"],
            output, mean, variance);
        Assert.Contains(SingleValueMessage, exception.Message);

        var instance = new InNchw(4);
        exception = Rejects(() => instance.Forward(input, output, 1, 4, 1, 1), ["h", "w", "dims", "input"], output);
        Assert.Contains(SingleValueMessage, exception.Message);

        var group = new GnNhwc(4); // Groups = 4: one channel per group, one pixel
        float[] eight = Data(8), eightOut = Sentinel(8);
        exception = Rejects(() => group.Forward(eight, eightOut, 2, 1, 1, 4), ["c", "h", "w", "dims", "input"], eightOut);
        Assert.Contains(SingleValueMessage, exception.Message);
    }

    [Fact]
    public void InferenceAcceptsASingleSample()
    {
        // Running statistics need no batch: BatchNorm inference on one sample is the usual deployment case.
        LayerCase layerCase = LayerCases.Get(nameof(BnNc));
        INormalizationLayer layer = layerCase.Create([1, 4]);
        KernelCheck.Randomize(layer, new Random(6));
        KernelCheck.InferenceStep(layerCase, layer, [1, 4], Data(4), "BnNc single sample");
    }

    // ---- Aliasing -----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(0, 119)]
    public void OutputMustNotPartiallyOverlapInput(int inputStart, int outputStart)
    {
        var layer = new BnNchw(3);
        float[] buffer = Data(240);
        Rejects(() => layer.Forward(buffer.AsSpan(inputStart, 120), buffer.AsSpan(outputStart, 120), 2, 3, 4, 5), ["output"],
            buffer, layer.RunningMean!, layer.RunningVar!);
        layer.Training = false;
        Rejects(() => layer.Forward(buffer.AsSpan(inputStart, 120), buffer.AsSpan(outputStart, 120), 2, 3, 4, 5), ["output"], buffer);

        float[] three = [1, 1, 1], mean = Sentinel(3), variance = Sentinel(3);
        Rejects(() => BnNchw.ForwardTraining(buffer.AsSpan(inputStart, 120), buffer.AsSpan(outputStart, 120), 2, 3, 4, 5, three, three, mean, variance, 1e-5f),
            ["output"], buffer, mean, variance);
    }
}
