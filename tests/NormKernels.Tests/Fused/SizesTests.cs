namespace NormKernels.Tests.Fused;

/// <summary>
/// <c>Sizes</c> (issue 12): the fixed extents are constants of the layer; a call whose dims differ, or a constructor whose
/// channel count differs, throws ArgumentException naming the dim before anything is written. (The sized layers' results
/// against the float64 reference run in <see cref="FusedTests"/>, as the cases FSized*.)
/// </summary>
public sealed class SizesTests
{
    [Fact]
    public void ADimOtherThanTheFixedOne_ThrowsNamingIt_BeforeAnyWrite()
    {
        var layer = new FSizedLn768(768);
        var x = new float[2 * 3 * 512];
        var y = Enumerable.Repeat(5f, x.Length).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 2, 3, 512));
        Assert.Equal("c", ex.ParamName);
        Assert.Contains("fixed at compile time", ex.Message);
        Assert.All(y, v => Assert.Equal(5f, v));
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => FSizedLn768.StatisticCount(2, 3, 512)).ParamName);

        var bn = new FSizedBnReluAfter(24);
        var b = new float[3 * 8 * 9 * 24];
        var by = new float[b.Length];
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => bn.Forward(b, b, by, 3, 8, 9, 24)).ParamName);
        Assert.All(by, v => Assert.Equal(0f, v));

        var fixedAll = new FSizedIn(3);
        var z = new float[3 * 3 * 5 * 7];
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => fixedAll.Forward(z, new float[z.Length], 3, 3, 5, 7)).ParamName);
    }

    [Fact]
    public void EveryEntryPoint_ChecksTheFixedDims_BeforeAnyWrite()
    {
        // Wrong c = 512 for a layer fixed at C = 768: the static kernels, the shard statistics and the backward refuse it
        // before they write (their nests would walk 768-element rows over 512-element ones).
        int n = 2 * 3 * 512;
        var x = new float[n];
        var y = Enumerable.Repeat(5f, n).ToArray();
        var w = new float[512];
        var stats = Enumerable.Repeat(5f, 6).ToArray();
        var d = new double[6];
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => FSizedLn768.ForwardTraining(x, y, 2, 3, 512, w, w, stats, stats, 1e-5f)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => FSizedLn768.BackwardTraining(x, x, y, 2, 3, 512, w, stats, stats, 1e-5f, w, w)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => FSizedLn768.ShardStatistics(x, 2, 3, 512, d, d, d)).ParamName);
        var layer = new FSizedLn768(768);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => layer.Backward(x, x, y, 2, 3, 512)).ParamName);
        Assert.All(y, v => Assert.Equal(5f, v));
        Assert.All(stats, v => Assert.Equal(5f, v));
        Assert.All(d, v => Assert.Equal(0d, v));
    }

    [Fact]
    public void AConstructorChannelCountOtherThanTheFixedOne_ThrowsNamingIt()
    {
        var ex = Assert.Throws<ArgumentException>(() => new FSizedLn768(512));
        Assert.Equal("channels", ex.ParamName);
        Assert.Equal("channels", Assert.Throws<ArgumentException>(() => new FSizedGnSilu(64)).ParamName);
        Assert.Equal(768, new FSizedLn768(768).Weight.Length);
    }

    [Fact]
    public void TheSizedLayer_GivesTheSameBitsAsTheUnsizedOne()
    {
        // Constants change the loops, not the sums: the same order of additions, the same bits.
        var random = new Random(4);
        var x = Enumerable.Range(0, 16 * 768).Select(_ => (float)random.NextDouble() * 3 - 1).ToArray();
        var sized = new FSizedLn768(768);
        var plain = new LnNtc(768);
        var a = new float[x.Length];
        var b = new float[x.Length];
        sized.Forward(x, a, 1, 16, 768);
        plain.Forward(x, b, 1, 16, 768);
        Assert.Equal(b, a);

        // A decode step (one row, inference mode), and rows in lanes (InstanceNorm planes of 35, every dim fixed): the runs
        // compiled with the fixed row length as a constant give the bits of those given the length at run time.
        var one = x.AsSpan(0, 768).ToArray();
        sized.Training = plain.Training = false;
        var oa = new float[768];
        var ob = new float[768];
        sized.Forward(one, oa, 1, 1, 768);
        plain.Forward(one, ob, 1, 1, 768);
        Assert.Equal(ob, oa);
        var planes = x.AsSpan(0, 2 * 3 * 5 * 7).ToArray();
        var ia = new float[planes.Length];
        var ib = new float[planes.Length];
        new FSizedIn(3).Forward(planes, ia, 2, 3, 5, 7);
        new InNchw(3).Forward(planes, ib, 2, 3, 5, 7);
        Assert.Equal(ib, ia);
    }
}
