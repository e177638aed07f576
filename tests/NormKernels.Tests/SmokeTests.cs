using NormKernels.Reference;
using NormKernels.Tests.Smoke;

namespace NormKernels.Tests;

public class SmokeTests
{
    public static TheoryData<string, int[]> Cases() => new()
    {
        { "BnNchw", new[] { 3, 5, 7, 9 } }, { "BnNchw", new[] { 2, 3, 4, 40 } },
        { "BnNhwc", new[] { 3, 5, 7, 37 } }, { "BnNhwc", new[] { 2, 3, 3, 20 } },
        { "LnNtc", new[] { 3, 5, 77 } }, { "LnNchwElem", new[] { 2, 3, 5, 7 } },
        { "GnNhwc", new[] { 2, 5, 7, 24 } }, { "GnNchw", new[] { 2, 8, 5, 7 } },
        { "InNhwc", new[] { 2, 5, 7, 21 } }, { "RmsNtc", new[] { 3, 4, 50 } },
        { "BnPerActivation", new[] { 4, 3, 5, 6 } }, { "InNhwcElem", new[] { 2, 5, 7, 21 } },
    };

    private static INormalizationLayer Make(string name, int[] dims)
    {
        int size = dims.Skip(1).Aggregate(1, (a, b) => a * b);
        return name switch
        {
            "BnNchw" => new BnNchw(dims[1]), "BnNhwc" => new BnNhwc(dims[3]), "LnNtc" => new LnNtc(dims[2]),
            "LnNchwElem" => new LnNchwElem(size), "GnNhwc" => new GnNhwc(dims[3]), "GnNchw" => new GnNchw(dims[1]),
            "InNhwc" => new InNhwc(dims[3]), "RmsNtc" => new RmsNtc(dims[2]), "BnPerActivation" => new BnPerActivation(size),
            "InNhwcElem" => new InNhwcElem(size), _ => throw new ArgumentException(name),
        };
    }

    [Theory, MemberData(nameof(Cases))]
    public void MatchesReference(string name, int[] dims)
    {
        var layer = Make(name, dims);
        var r = NormReference.For(layer);
        var rng = new Random(1);
        int count = (int)r.ElementCount(dims);
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 4 - 1);
        for (int i = 0; i < layer.Weight.Length; i++) { layer.Weight[i] = (float)(rng.NextDouble() + 0.5); layer.Bias[i] = (float)rng.NextDouble(); }
        var y = new float[count];
        layer.Forward(x, y, dims);
        var expected = r.ForwardTraining(dims, x, layer.Weight, layer.Bias, 1e-5).Output;
        double worst = 0;
        for (int i = 0; i < count; i++) worst = Math.Max(worst, Math.Abs(y[i] - expected[i]));
        Assert.True(worst < 1e-4, $"{name} max error {worst} path {layer.LastPath}");
    }
}
