namespace NormKernels.Tests;

/// <summary>Bad calls of a generated LRN layer throw, naming the argument and the expected value, before any output element is written.</summary>
public sealed class LrnBadInputTests
{
    private static void AssertUntouched(float[] output) => Assert.All(output, v => Assert.True(float.IsNaN(v)));

    private static float[] Nans(int count)
    {
        var data = new float[count];
        data.AsSpan().Fill(float.NaN);
        return data;
    }

    [Theory]
    [InlineData(0, 3, 4, 5, "n")]
    [InlineData(2, -1, 4, 5, "c")]
    [InlineData(2, 3, 0, 5, "h")]
    [InlineData(2, 3, 4, 0, "w")]
    public void NonPositiveDim_Throws_NamingIt(int n, int c, int h, int w, string name)
    {
        var layer = new LrnNchw();
        float[] x = new float[120], y = Nans(120), g = Nans(120);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(x, y, n, c, h, w));
        Assert.Equal(name, e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Backward(x, x, g, n, c, h, w));
        Assert.Equal(name, e.ParamName);
        AssertUntouched(y);
        AssertUntouched(g);
    }

    [Fact]
    public void LengthMismatch_Throws_WithTheExpectedCount()
    {
        var layer = new LrnNhwc();
        float[] x = new float[120], y = Nans(119);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 2, 3, 4, 5));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("expected 120", e.Message);
        AssertUntouched(y);

        e = Assert.Throws<ArgumentException>(() => layer.Forward(new float[121], Nans(120), 2, 3, 4, 5));
        Assert.Equal("input", e.ParamName);

        float[] g = Nans(120);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(x, new float[100], g, 2, 3, 4, 5));
        Assert.Equal("outputGrad", e.ParamName);
        Assert.Contains("expected 120", e.Message);
        AssertUntouched(g);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(x, x, Nans(12), 2, 3, 4, 5));
        Assert.Equal("inputGrad", e.ParamName);
    }

    /// <summary>The window reads channels the kernel has already written, so neither in place nor partial overlap is allowed.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void OverlappingOutput_Throws(int offset)
    {
        var layer = new LrnNchw();
        float[] buffer = new float[200];
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(buffer.AsSpan(0, 120), buffer.AsSpan(offset, 120), 2, 3, 4, 5));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("disjoint", e.Message);

        float[] dy = new float[120];
        e = Assert.Throws<ArgumentException>(() => layer.Backward(buffer.AsSpan(0, 120), dy, buffer.AsSpan(offset, 120), 2, 3, 4, 5));
        Assert.Equal("inputGrad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(new float[120], buffer.AsSpan(0, 120), buffer.AsSpan(offset, 120), 2, 3, 4, 5));
        Assert.Equal("inputGrad", e.ParamName);
        Assert.Contains("outputGrad", e.Message);
    }

    [Fact]
    public void ProductTooLarge_Throws()
    {
        var layer = new LrnNchw();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(new float[4], Nans(4), 65536, 65536, 1, 1));
        Assert.Contains("more than a span can hold", e.Message);
    }
}
