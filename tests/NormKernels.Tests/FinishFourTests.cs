namespace NormKernels.Tests;

/// <summary>
/// The block driver finishes statistics and makes coefficients four at a time (float, 256-bit vectors of doubles) and the
/// rest one at a time, with the same operations, so a channel gets the same bits wherever it falls: with C = 7 channels the
/// first four go through the vector code and the last three through the scalar code, and rotating the channels moves each
/// across that line. Channels-last layers with statistics per channel: output, saved and running statistics rotate with
/// the channels, bit for bit (parameters rotated with them).
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class FinishFourTests : RestoresSettings
{
    [Theory]
    [InlineData("BnNhwcNoAffine", new[] { 2, 3, 5, 7 }, 1)]
    [InlineData("BnNhwcNoAffine", new[] { 2, 3, 5, 7 }, 3)]
    [InlineData("BnNhwc", new[] { 3, 2, 2, 9 }, 4)]
    [InlineData("InNhwc", new[] { 3, 4, 4, 7 }, 2)]
    [InlineData("InNhwc", new[] { 2, 5, 3, 10 }, 5)]
    public void AChannelsResultDoesNotDependOnWhereItSits(string name, int[] dims, int shift)
    {
        LayerCase layerCase = LayerCases.Get(name);
        float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, shift)), TestData.Product(dims), 2, 1.5);
        int channels = dims[^1];
        Parallelism.MaxDegree = 1;
        INormalizationLayer a = layerCase.Create(dims), b = layerCase.Create(dims);
        KernelCheck.Randomize(a, new Random(3));
        Rotate(a.Weight, channels, shift).CopyTo(b.Weight, 0);
        Rotate(a.Bias, channels, shift).CopyTo(b.Bias, 0);
        if (a.RunningMean is { } mean) Rotate(mean, channels, shift).CopyTo(b.RunningMean!, 0);
        if (a.RunningVar is { } variance) Rotate(variance, channels, shift).CopyTo(b.RunningVar!, 0);
        a.Training = b.Training = true;
        var ya = new float[input.Length];
        var yb = new float[input.Length];
        a.Forward(input, ya, dims);
        b.Forward(Rotate(input, channels, shift), yb, dims);
        Assert.Equal(KernelCheck.Bits(Rotate(ya, channels, shift)), KernelCheck.Bits(yb));
        foreach (string field in new[] { "_statistic0", "_statistic1", "_meanResidual" })
            if (Field(a, field) is { Length: > 0 } sa)
                Assert.Equal(KernelCheck.Bits(Rotate(sa, channels, shift)), KernelCheck.Bits(Field(b, field)!));
        if (a.RunningMean is not null)
        {
            Assert.Equal(KernelCheck.Bits(Rotate(a.RunningMean, channels, shift)), KernelCheck.Bits(b.RunningMean!));
            Assert.Equal(KernelCheck.Bits(Rotate(a.RunningVar!, channels, shift)), KernelCheck.Bits(b.RunningVar!));
        }
    }

    /// <summary>
    /// Row plans (InstanceNorm NCHW: a plane per row) finish their rows eight at a time where AVX-512 is there
    /// (<c>IRowFinish.FinishEight</c>), then four, then one by one, with the same operations: a plane's output and saved
    /// statistics must not depend on where in its unit it falls. 2 x 100 planes run in units of 25 rows (three eights and a
    /// one); rotating the channels moves each plane across those lines. Short planes (rows in lanes), planes of 100 (sums in
    /// lanes) and of 300.
    /// </summary>
    [Theory]
    [InlineData(7, 7, 3)]
    [InlineData(7, 7, 9)]
    [InlineData(10, 10, 5)]
    [InlineData(15, 20, 7)]
    public void APlanesResultDoesNotDependOnWhereItSits(int h, int w, int shift)
    {
        const int n = 2, c = 100;
        int plane = h * w;
        int[] dims = [n, c, h, w];
        LayerCase layerCase = LayerCases.Get("InNchw");
        float[] input = TestData.Normal(new Random(KernelCheck.Seed("InNchw", shift + plane)), n * c * plane, 2, 1.5);
        Parallelism.MaxDegree = 1;
        INormalizationLayer a = layerCase.Create(dims), b = layerCase.Create(dims);
        KernelCheck.Randomize(a, new Random(5));
        Rotate(a.Weight, c, shift).CopyTo(b.Weight, 0);
        Rotate(a.Bias, c, shift).CopyTo(b.Bias, 0);
        var ya = new float[input.Length];
        var yb = new float[input.Length];
        a.Forward(input, ya, dims);
        b.Forward(RotatePlanes(input, c, plane, shift), yb, dims);
        Assert.Equal(KernelCheck.Bits(RotatePlanes(ya, c, plane, shift)), KernelCheck.Bits(yb));
        foreach (string field in new[] { "_statistic0", "_statistic1", "_meanResidual" })
            if (Field(a, field) is { Length: > 0 } sa)
                Assert.Equal(KernelCheck.Bits(Rotate(sa, c, shift)), KernelCheck.Bits(Field(b, field)!));
    }

    /// <summary>An NCHW tensor's channels rotated: plane (n, j) of the result is plane (n, (j + shift) mod channels).</summary>
    private static float[] RotatePlanes(float[] values, int channels, int plane, int shift)
    {
        var result = new float[values.Length];
        for (int o = 0; o + channels * plane <= values.Length; o += channels * plane)
            for (int j = 0; j < channels; j++)
                Array.Copy(values, o + (j + shift) % channels * plane, result, o + j * plane, plane);
        return result;
    }

    /// <summary>Each group of <paramref name="channels"/> values rotated: element j of a group is element (j + shift) mod
    /// channels of the same group in <paramref name="values"/> (a parameter array is one group).</summary>
    private static float[] Rotate(float[] values, int channels, int shift)
    {
        var result = new float[values.Length];
        for (int o = 0; o + channels <= values.Length; o += channels)
            for (int j = 0; j < channels; j++)
                result[o + j] = values[o + (j + shift) % channels];
        return result;
    }

    private static float[]? Field(INormalizationLayer layer, string field)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        object state = layer.GetType().GetProperty("_layer", flags)!.GetValue(layer)!;
        return state.GetType().GetField(field, flags)!.GetValue(state) as float[];
    }
}
