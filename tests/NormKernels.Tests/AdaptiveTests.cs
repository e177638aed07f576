using NormKernels.Runtime;

namespace NormKernels.Tests;

[Normalize(Layout = "NHWC", Axes = "H,W", ElementType = typeof(double))] public sealed partial class InNhwcDouble;

/// <summary>
/// AdaIN on InstanceNorm-shaped layers (AdaptiveForward): content normalized by its own (n, c) statistics and rescaled
/// by the style's, against <see cref="AdaptiveReference"/>; styles of other spatial sizes (down to 1x1), both layouts,
/// every path (forced, and the ARM64 logic through the AdvSimd stand-in), and bad input rejected before any write.
/// </summary>
public sealed class AdaptiveTests
{
    private const float Epsilon = 1e-5f;

    private delegate KernelPath Adaptive(KernelPath path, ReadOnlySpan<float> content, ReadOnlySpan<float> style, Span<float> output, int[] dims, int[] styleDims, float epsilon);

    // KernelPath.None: the public entry (its own path choice); otherwise the forced path with x86 128-bit ops.
    private static Adaptive Run(string layout) => layout switch
    {
        "NCHW" => (p, x, s, y, d, sd, e) => p == KernelPath.None
            ? InNchw.AdaptiveForward(x, s, y, d[0], d[1], d[2], d[3], sd[2], sd[3], e)
            : InNchw.AdaptiveForwardOnPath<X86Vector128Ops>(p, x, s, y, d[0], d[1], d[2], d[3], sd[2], sd[3], e),
        "NHWC" => (p, x, s, y, d, sd, e) => p == KernelPath.None
            ? InNhwc.AdaptiveForward(x, s, y, d[0], d[1], d[2], d[3], sd[1], sd[2], e)
            : InNhwc.AdaptiveForwardOnPath<X86Vector128Ops>(p, x, s, y, d[0], d[1], d[2], d[3], sd[1], sd[2], e),
        "NCDHW" => (p, x, s, y, d, sd, e) => p == KernelPath.None
            ? InNcdhw.AdaptiveForward(x, s, y, d[0], d[1], d[2], d[3], d[4], sd[2], sd[3], sd[4], e)
            : InNcdhw.AdaptiveForwardOnPath<X86Vector128Ops>(p, x, s, y, d[0], d[1], d[2], d[3], d[4], sd[2], sd[3], sd[4], e),
        _ => throw new ArgumentException(layout),
    };

    private static void Check(string layout, int[] dims, float[] content, int[] styleDims, float[] style, double epsilon, ReadOnlySpan<float> actual, string what)
    {
        AdaptiveReference.Result expected = AdaptiveReference.Forward(layout, dims, content, styleDims, style, epsilon);
        int failures = 0, worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < content.Length; i++)
        {
            int p = AdaptiveReference.Plane(layout, dims, i, expected.Channels);
            double a = expected.StyleSigma[p] / expected.ContentSigma[p];
            double bound = Tolerances.Output(expected.Output[i], content[i], expected.ContentMean[p], a, expected.StyleMean[p], expected.StyleSigma[p]);
            double ratio = Math.Abs(actual[i] - expected.Output[i]) / bound;
            if (!(ratio <= 1)) failures++;
            if (!(ratio <= worstRatio)) { worstRatio = ratio; worst = i; }
        }
        Assert.True(failures == 0, $"{what}: {failures} of {content.Length} outputs out of tolerance; worst at {worst}: expected {(worst >= 0 ? expected.Output[worst] : 0):R}, got {(worst >= 0 ? actual[worst] : 0):R}, error/bound {worstRatio:G3}");
    }

    private static int[] StyleDims(string layout, int[] dims, int[] spatial)
    {
        int[] result = (int[])dims.Clone();
        int k = 0;
        for (int a = 0; a < layout.Length; a++)
            if (layout[a] != 'N' && layout[a] != 'C') result[a] = spatial[k++];
        return result;
    }

    public static TheoryData<string, int[], int[]> Cases() => new()
    {
        { "NCHW", [2, 7, 5, 9], [3, 11] },
        { "NCHW", [2, 7, 5, 9], [1, 1] },       // one value per plane: variance 0, sigma_s = sqrt(eps)
        { "NCHW", [3, 4, 6, 6], [16, 20] },
        { "NHWC", [2, 5, 9, 7], [3, 11] },
        { "NHWC", [2, 5, 9, 7], [1, 1] },
        { "NHWC", [3, 6, 6, 21], [16, 20] },
        { "NCDHW", [2, 3, 3, 4, 5], [2, 2, 9] },
    };

    [Theory, MemberData(nameof(Cases))]
    public void MatchesTheReference(string layout, int[] dims, int[] spatial)
    {
        int[] styleDims = StyleDims(layout, dims, spatial);
        var random = new Random(KernelCheck.Seed(layout, spatial[0]));
        float[] content = TestData.Normal(random, TestData.Product(dims), 1.5, 2);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), -3, 0.5);
        var output = new float[content.Length];
        KernelPath path = Run(layout)(KernelPath.None, content, style, output, dims, styleDims, Epsilon);
        Assert.NotEqual(KernelPath.None, path);
        Check(layout, dims, content, styleDims, style, Epsilon, output, $"{layout} style {string.Join("x", spatial)}");

        // In place: output is the content.
        float[] inPlace = (float[])content.Clone();
        Run(layout)(KernelPath.None, inPlace, style, inPlace, dims, styleDims, Epsilon);
        Check(layout, dims, content, styleDims, style, Epsilon, inPlace, $"{layout} in place");
    }

    [Fact]
    public void OffsetDataStaysAccurate()
    {
        int[] dims = [2, 6, 8, 8], styleDims = [2, 6, 5, 7];
        var random = new Random(21);
        float[] content = TestData.Normal(random, TestData.Product(dims), 1e4, 1);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), -3e3, 0.5);
        var output = new float[content.Length];
        InNchw.AdaptiveForward(content, style, output, 2, 6, 8, 8, 5, 7, Epsilon);
        Check("NCHW", dims, content, styleDims, style, Epsilon, output, "offset NCHW");
        float[] contentNhwc = TestData.Transpose<float>(content, "NCHW", dims, "NHWC");
        float[] styleNhwc = TestData.Transpose<float>(style, "NCHW", styleDims, "NHWC");
        InNhwc.AdaptiveForward(contentNhwc, styleNhwc, output, 2, 8, 8, 6, 5, 7, Epsilon);
        Check("NHWC", [2, 8, 8, 6], contentNhwc, [2, 5, 7, 6], styleNhwc, Epsilon, output, "offset NHWC");
    }

    [Fact]
    public void InstanceMethodUsesTheLayersEpsilonAndRecordsThePath()
    {
        var layer = new InNhwc(96, epsilon: 0.25f);
        int[] dims = [2, 4, 4, 96], styleDims = [2, 3, 5, 96];
        var random = new Random(4);
        float[] content = TestData.Normal(random, TestData.Product(dims), 0, 1);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), 1, 0.2);
        var output = new float[content.Length];
        layer.AdaptiveForward(content, style, output, 2, 4, 4, 96, 3, 5);
        Assert.Equal(IsaPathTests.Expected, layer.LastPath);
        Check("NHWC", dims, content, styleDims, style, 0.25, output, "instance NHWC");

        var planes = new InNchw(4);
        int[] planeDims = [2, 4, 8, 16], stylePlanes = [2, 4, 4, 8];
        content = TestData.Normal(random, TestData.Product(planeDims), 0, 1);
        style = TestData.Normal(random, TestData.Product(stylePlanes), 1, 0.2);
        output = new float[content.Length];
        planes.AdaptiveForward(content, style, output, 2, 4, 8, 16, 4, 8);
        Assert.Equal(IsaPathTests.Expected, planes.LastPath);
        Check("NCHW", planeDims, content, stylePlanes, style, 1e-5, output, "instance NCHW");
    }

    public static TheoryData<string, KernelPath> Paths()
    {
        var data = new TheoryData<string, KernelPath>();
        foreach (string layout in new[] { "NCHW", "NHWC" })
            foreach (KernelPath path in new[] { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar })
                data.Add(layout, path);
        return data;
    }

    [Theory, MemberData(nameof(Paths))]
    public void EveryPathMatchesTheReference(string layout, KernelPath path)
    {
        // Every innermost extent (content and style) holds a 512-bit vector: 19 channels, planes of 5x9 and 4x5.
        int[] dims = layout == "NCHW" ? [2, 3, 5, 9] : [2, 5, 9, 19];
        int[] styleDims = StyleDims(layout, dims, [4, 5]);
        var random = new Random(KernelCheck.Seed(layout, (int)path));
        float[] content = TestData.Normal(random, TestData.Product(dims), 0.5, 1.5);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), 2, 3);
        var output = new float[content.Length];
        if (path > Isa.Widest)
        {
            output.AsSpan().Fill(float.NaN);
            Assert.Throws<ArgumentOutOfRangeException>(() => Run(layout)(path, content, style, output, dims, styleDims, Epsilon));
            Assert.All(output, v => Assert.True(float.IsNaN(v)));
            return;
        }
        Assert.Equal(path, Run(layout)(path, content, style, output, dims, styleDims, Epsilon));
        Check(layout, dims, content, styleDims, style, Epsilon, output, $"{layout} on {path}");

        if (path == KernelPath.Vector128)
        {
            long before = EmulatedAdvSimd.Calls;
            Array.Clear(output);
            KernelPath arm = layout == "NCHW"
                ? InNchw.AdaptiveForwardOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, content, style, output, 2, 3, 5, 9, 4, 5, Epsilon)
                : InNhwc.AdaptiveForwardOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(path, content, style, output, 2, 5, 9, 19, 4, 5, Epsilon);
            Assert.Equal(KernelPath.Vector128, arm);
            Assert.True(EmulatedAdvSimd.Calls > before, "the ARM64 path's AdvSimd calls went through the stand-in");
            Check(layout, dims, content, styleDims, style, Epsilon, output, $"{layout} on the ARM64 path logic");
        }
    }

    [Fact]
    public void DoubleLayerMatchesTheReferenceClosely()
    {
        int[] dims = [2, 5, 9, 11], styleDims = [2, 3, 4, 11];
        var random = new Random(44);
        float[] content = TestData.Normal(random, TestData.Product(dims), 3, 2);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), -1, 0.5);
        var output = new double[content.Length];
        InNhwcDouble.AdaptiveForward(content.Select(v => (double)v).ToArray(), style.Select(v => (double)v).ToArray(), output, 2, 5, 9, 11, 3, 4, 1e-5);
        AdaptiveReference.Result expected = AdaptiveReference.Forward("NHWC", dims, content, styleDims, style, 1e-5);
        for (int i = 0; i < output.Length; i++)
            Assert.True(Math.Abs(output[i] - expected.Output[i]) <= 1e-12 * (1 + Math.Abs(expected.Output[i])), $"[{i}]: expected {expected.Output[i]:R}, got {output[i]:R}");
    }

    [Fact]
    public void TensorOverloadTakesTheStylesSpatialShape()
    {
        int[] dims = [2, 5, 9, 7], styleDims = [2, 3, 4, 7];
        var random = new Random(12);
        float[] content = TestData.Normal(random, TestData.Product(dims), 0, 1);
        float[] style = TestData.Normal(random, TestData.Product(styleDims), 5, 2);
        var output = new float[content.Length];
        InNhwc.AdaptiveForward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(content, [2, 5, 9, 7]),
            new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(style, [2, 3, 4, 7]),
            new System.Numerics.Tensors.TensorSpan<float>(output, [2, 5, 9, 7]), Epsilon);
        Check("NHWC", dims, content, styleDims, style, Epsilon, output, "tensor NHWC");
    }

    [Fact]
    public void GeneratedOnlyForInstanceNormShapedLayers()
    {
        foreach (Type type in new[] { typeof(InNchw), typeof(InNhwc), typeof(InNcl), typeof(InNlc), typeof(InNcdhw), typeof(InNdhwc), typeof(InNchwNoAffine) })
            Assert.Equal(3, type.GetMethods().Count(m => m.Name == "AdaptiveForward"));   // span static, instance, tensor
        foreach (Type type in new[] { typeof(BnNchw), typeof(BnNhwc), typeof(LnNchw), typeof(LnNtc), typeof(GnNchw), typeof(GnNhwc), typeof(GnNhwcOneGroup), typeof(RmsNtc), typeof(BnPerActivationNchw) })
            Assert.DoesNotContain(type.GetMethods(), m => m.Name == "AdaptiveForward");
        // Root mean square: no shard statistics either (no running statistics to synchronize).
        Assert.DoesNotContain(typeof(RmsNtc).GetMethods(), m => m.Name == "ShardStatistics");
        Assert.Contains(typeof(LnNtc).GetMethods(), m => m.Name == "ShardStatistics");
        Assert.DoesNotContain(typeof(LnNtc).GetMethods(), m => m.Name == "ForwardWithStatistics");
    }
}
