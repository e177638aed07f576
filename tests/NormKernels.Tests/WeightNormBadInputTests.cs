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

    /// <summary>
    /// Each bad call: the argument it must blame and a fragment of the message. Lengths are checked in parameter order; w may be
    /// v itself but no part of it and never overlaps g; vGrad may be v or wGrad itself but no part of them and never overlaps g;
    /// gGrad overlaps nothing (not even as the same span as g). The buffer holds every span a call shares.
    /// </summary>
    public static TheoryData<string, string, string> BadCalls => new()
    {
        { "v short", "v", "expected 60" },
        { "g long", "g", "expected 3 (one g per index of the kept axes: the product of o)" },
        { "w short", "w", "expected 60" },
        { "backward v long", "v", "expected 60" },
        { "backward g short", "g", "expected 3" },
        { "wGrad short", "wGrad", "expected 60" },
        { "vGrad short", "vGrad", "expected 60" },
        { "gGrad short", "gGrad", "expected 3" },
        { "w in part of v", "w", "partly overlaps 'v'" },
        { "w over g", "w", "overlaps 'g'" },
        { "vGrad in part of v", "vGrad", "partly overlaps 'v'" },
        { "vGrad in part of wGrad", "vGrad", "partly overlaps 'wGrad'" },
        { "vGrad over g", "vGrad", "overlaps 'g'" },
        { "gGrad over v", "gGrad", "overlaps 'v'" },
        { "gGrad as g", "gGrad", "overlaps 'g'" },
        { "gGrad over wGrad", "gGrad", "overlaps 'wGrad'" },
        { "gGrad over vGrad", "gGrad", "overlaps 'vGrad'" },
    };

    [Theory, MemberData(nameof(BadCalls))]
    public void BadCall_Throws_NamingTheArgument_BeforeAnyWrite(string call, string name, string fragment)
    {
        float[] v = Data(Count), g = Data(Norms), dw = Data(Count, 2);
        float[] w = Sentinels(Count), dv = Sentinels(Count), dg = Sentinels(Norms), buffer = Sentinels(3 * Count);
        Data(Count).CopyTo(buffer, 0);
        float[] before = (float[])buffer.Clone();
        Span<float> At(int start, int length) => buffer.AsSpan(start, length);
        Action act = call switch
        {
            "v short" => () => Forward(Data(Count - 1), g, w),
            "g long" => () => Forward(v, Data(Norms + 1), w),
            "w short" => () => Forward(v, g, w.AsSpan(1)),
            "backward v long" => () => Backward(Data(Count + 1), g, dw, dv, dg),
            "backward g short" => () => Backward(v, Data(2), dw, dv, dg),
            "wGrad short" => () => Backward(v, g, Data(Count - 5), dv, dg),
            "vGrad short" => () => Backward(v, g, dw, dv.AsSpan(0, Count - 1), dg),
            "gGrad short" => () => Backward(v, g, dw, dv, dg.AsSpan(0, 2)),
            "w in part of v" => () => Forward(At(0, Count), g, At(7, Count)),
            "w over g" => () => Forward(v, At(Count - 1, Norms), At(0, Count)),
            "vGrad in part of v" => () => Backward(At(0, Count), g, dw, At(5, Count), dg),
            "vGrad in part of wGrad" => () => Backward(v, g, At(0, Count), At(1, Count), dg),
            "vGrad over g" => () => Backward(v, At(Count, Norms), dw, At(Count - 1, Count), dg),
            "gGrad over v" => () => Backward(At(0, Count), g, dw, dv, At(Count - 1, Norms)),
            "gGrad as g" => () => Backward(v, At(0, Norms), dw, dv, At(0, Norms)),
            "gGrad over wGrad" => () => Backward(v, g, At(0, Count), dv, At(2, Norms)),
            "gGrad over vGrad" => () => Backward(v, g, dw, At(0, Count), At(Count - 2, Norms)),
            _ => throw new ArgumentException(call),
        };
        var e = Assert.Throws<ArgumentException>(act);
        Assert.Equal(name, e.ParamName);
        Assert.Contains(fragment, e.Message);
        AssertUntouched(w, dv, dg);
        Assert.Equal(before, buffer);
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
