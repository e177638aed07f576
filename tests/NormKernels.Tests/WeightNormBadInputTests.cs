namespace NormKernels.Tests;

/// <summary>Bad calls of a generated [WeightNormalize] layer throw, naming the argument and the expected value, before any
/// output element is written (the outputs hold a sentinel that must survive).</summary>
public sealed class WeightNormBadInputTests
{
    private const float Sentinel = 12345f;

    // OIHW over I,H,W with dims [3, 2, 2, 5]: 60 elements, 3 norms.
    private static readonly int[] Dims = [3, 2, 2, 5];
    private const int Count = 60, Norms = 3;

    private static float[] Sentinels(int count) => WeightNormTests.Filled(count, Sentinel);

    private static void AssertUntouched(params float[][] outputs)
    {
        foreach (float[] output in outputs) Assert.All(output, x => Assert.Equal(Sentinel, x));
    }

    private static float[] Data(int count, int seed = 1) => TestData.Normal(new Random(seed), count, 0, 1);

    private static void Forward(ReadOnlySpan<float> v, ReadOnlySpan<float> g, Span<float> w) => new WnConv().Forward(v, g, w, Dims[0], Dims[1], Dims[2], Dims[3]);

    private static void Backward(ReadOnlySpan<float> v, ReadOnlySpan<float> g, ReadOnlySpan<float> dw, Span<float> dv, Span<float> dg) =>
        new WnConv().Backward(v, g, dw, dv, dg, Dims[0], Dims[1], Dims[2], Dims[3]);

    [Theory]
    [InlineData(0, 2, 2, 5, "o")]
    [InlineData(3, -1, 2, 5, "i")]
    [InlineData(3, 2, 0, 5, "h")]
    [InlineData(3, 2, 2, 0, "wSize")]   // W is named wSize: w is the output
    public void NonPositiveDim_Throws_NamingIt(int o, int i, int h, int wSize, string name)
    {
        var layer = new WnConv();
        float[] v = Data(Count), g = Data(Norms), w = Sentinels(Count), dv = Sentinels(Count), dg = Sentinels(Norms);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(v, g, w, o, i, h, wSize));
        Assert.Equal(name, e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Backward(v, g, v, dv, dg, o, i, h, wSize));
        Assert.Equal(name, e.ParamName);
        AssertUntouched(w, dv, dg);
        Assert.Equal(KernelPath.None, layer.LastPath);
    }

    [Fact]
    public void ProductTooLarge_Throws_BeforeAnything()
    {
        float[] w = Sentinels(4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new WnConv().Forward(new float[4], new float[65536], w, 65536, 65536, 1, 1));
        Assert.Contains("more than a span can hold", e.Message);
        Assert.Equal("i", e.ParamName);
        AssertUntouched(w);
    }

    /// <summary>Each length checked in parameter order, the message saying what was expected.</summary>
    [Fact]
    public void WrongLengths_Throw_NamingTheArgument()
    {
        float[] v = Data(Count), g = Data(Norms), dw = Data(Count, 2);
        float[] w = Sentinels(Count), dv = Sentinels(Count), dg = Sentinels(Norms);

        var e = Assert.Throws<ArgumentException>(() => Forward(Data(Count - 1), g, w));
        Assert.Equal("v", e.ParamName);
        Assert.Contains("expected 60", e.Message);
        e = Assert.Throws<ArgumentException>(() => Forward(v, Data(Norms + 1), w));
        Assert.Equal("g", e.ParamName);
        Assert.Contains("expected 3 (one g per index of the kept axes: the product of o)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Forward(v, g, w.AsSpan(1)));
        Assert.Equal("w", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => Backward(Data(Count + 1), g, dw, dv, dg));
        Assert.Equal("v", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Backward(v, Data(2), dw, dv, dg));
        Assert.Equal("g", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, Data(Count - 5), dv, dg));
        Assert.Equal("wGrad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, dw, dv.AsSpan(0, Count - 1), dg));
        Assert.Equal("vGrad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, dw, dv, dg.AsSpan(0, 2)));
        Assert.Equal("gGrad", e.ParamName);
        AssertUntouched(w, dv, dg);
    }

    /// <summary>w may be v itself but no part of it, and never overlaps g.</summary>
    [Fact]
    public void ForwardOverlaps_Throw_NamingW()
    {
        float[] buffer = Sentinels(200);
        float[] g = Data(Norms);
        Data(Count).CopyTo(buffer, 0);
        float[] before = (float[])buffer.Clone();
        var e = Assert.Throws<ArgumentException>(() => Forward(buffer.AsSpan(0, Count), g, buffer.AsSpan(7, Count)));
        Assert.Equal("w", e.ParamName);
        Assert.Contains("partly overlaps 'v'", e.Message);
        Assert.Equal(before, buffer);

        float[] shared = Sentinels(Count + 10);
        e = Assert.Throws<ArgumentException>(() => Forward(Data(Count), shared.AsSpan(Count - 1, Norms), shared.AsSpan(0, Count)));
        Assert.Equal("w", e.ParamName);
        Assert.Contains("overlaps 'g'", e.Message);
        AssertUntouched(shared);
    }

    /// <summary>vGrad may be v or wGrad itself but no part of them, and never overlaps g; gGrad overlaps nothing.</summary>
    [Fact]
    public void BackwardOverlaps_Throw_NamingTheOutput()
    {
        float[] v = Data(Count), g = Data(Norms), dw = Data(Count, 2);
        float[] buffer = Sentinels(3 * Count);

        var e = Assert.Throws<ArgumentException>(() => Backward(buffer.AsSpan(0, Count), g, dw, buffer.AsSpan(5, Count), Sentinels(Norms)));
        Assert.Equal("vGrad", e.ParamName);
        Assert.Contains("'v'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, buffer.AsSpan(0, Count), buffer.AsSpan(1, Count), Sentinels(Norms)));
        Assert.Equal("vGrad", e.ParamName);
        Assert.Contains("'wGrad'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backward(v, buffer.AsSpan(Count, Norms), dw, buffer.AsSpan(Count - 1, Count), Sentinels(Norms)));
        Assert.Equal("vGrad", e.ParamName);
        Assert.Contains("'g'", e.Message);

        // gGrad against each of v, g, wGrad and vGrad (even the same span as g is refused).
        e = Assert.Throws<ArgumentException>(() => Backward(buffer.AsSpan(0, Count), g, dw, Sentinels(Count), buffer.AsSpan(Count - 1, Norms)));
        Assert.Equal("gGrad", e.ParamName);
        Assert.Contains("'v'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backward(v, buffer.AsSpan(0, Norms), dw, Sentinels(Count), buffer.AsSpan(0, Norms)));
        Assert.Equal("gGrad", e.ParamName);
        Assert.Contains("'g'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, buffer.AsSpan(0, Count), Sentinels(Count), buffer.AsSpan(2, Norms)));
        Assert.Equal("gGrad", e.ParamName);
        Assert.Contains("'wGrad'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backward(v, g, dw, buffer.AsSpan(0, Count), buffer.AsSpan(Count - 2, Norms)));
        Assert.Equal("gGrad", e.ParamName);
        Assert.Contains("'vGrad'", e.Message);
        AssertUntouched(buffer);
    }

    /// <summary>A forced path the process (or the shape) cannot run is refused before anything is written.</summary>
    [Fact]
    public void UnavailablePath_Throws()
    {
        float[] w = Sentinels(30);
        // A run of 3 fits no vector: only the scalar path may be forced.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            WnLinear.ForwardOnPath<NormKernels.Runtime.X86Vector128Ops>(KernelPath.Vector128, Data(30), Data(10), w, 10, 3));
        Assert.Equal("path", e.ParamName);
        AssertUntouched(w);
    }
}
