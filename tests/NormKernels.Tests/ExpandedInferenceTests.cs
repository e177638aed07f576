using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// BatchNorm inference on short planes (H x W under 64, more than 1) runs through <see cref="ExpandedInference{TK, T}"/>:
/// coefficients expanded along C x H x W instead of one short run per (n, c). It must give the loop nest's bits: the same
/// data laid into planes of 64 (which keep the loop nest) gives the same outputs, element for element, on every path, at
/// 1 and 2 threads, in place and not, through the layer and the static kernel.
/// </summary>
public sealed class ExpandedInferenceTests
{
    [Theory]
    [InlineData(2, 5, 7, 7)]    // 49-element planes (ResNet's last stage)
    [InlineData(3, 16, 3, 5)]   // 15
    [InlineData(33, 4, 2, 2)]   // 4: several periods per run, a partial last run
    public void ShortPlanesGiveTheLoopNestsBits(int n, int c, int h, int w)
    {
        var random = new Random(n * 100 + c * 10 + h);
        int plane = h * w, wide = 64; // the wide layout: the same plane values in the first `plane` of 64 (64 keeps the loop nest)
        var x = new float[n * c * plane];
        var xw = new float[n * c * wide];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 8 - 3 + 1000 * (i / plane % c == 1 ? 1 : 0));
        for (int p = 0; p < n * c; p++)
            for (int j = 0; j < wide; j++) xw[p * wide + j] = j < plane ? x[p * plane + j] : (float)random.NextDouble();
        var layer = new BnNchw(c) { Training = false };
        for (int k = 0; k < c; k++)
        {
            layer.Weight[k] = (float)(random.NextDouble() + 0.5); layer.Bias[k] = (float)(random.NextDouble() - 0.5);
            layer.RunningMean[k] = (float)(random.NextDouble() * 2 + (k == 1 ? 1000 : 0)); layer.RunningVar[k] = (float)(random.NextDouble() + 0.25);
        }
        Assert.True(ExpandedInference<StandardizeNorm, float>.Applies(Shape, [n, c, h, w], Isa.Select(plane)));
        Assert.False(ExpandedInference<StandardizeNorm, float>.Applies(Shape, [n, c, 8, 8], Isa.Select(64)));

        foreach (int degree in new[] { 1, 2 })
        {
            using var scope = DegreeScope.Set(degree);
            var yw = new float[xw.Length];
            layer.Forward(xw, yw, n, c, 8, 8);
            var y = new float[x.Length];
            layer.Forward(x, y, n, c, h, w);
            Assert.Equal(Isa.Select(plane), layer.LastPath);
            for (int p = 0; p < n * c; p++)
                for (int j = 0; j < plane; j++)
                    Assert.True(BitConverter.SingleToInt32Bits(yw[p * wide + j]) == BitConverter.SingleToInt32Bits(y[p * plane + j]),
                        $"degree {degree}, plane {p}, element {j}: {y[p * plane + j]:R} against the loop nest's {yw[p * wide + j]:R}");

            // In place, and the static kernel on the layer's statistics: the same bits.
            var inPlace = (float[])x.Clone();
            layer.Forward(inPlace, inPlace, n, c, h, w);
            Assert.Equal(y, inPlace);
            var ys = new float[x.Length];
            BnNchw.ForwardInference(x, ys, n, c, h, w, layer.Weight, layer.Bias, layer.RunningMean, layer.RunningVar, layer.Epsilon);
            Assert.Equal(y, ys);
        }
    }

    private static readonly LayerShape Shape = new("BnNchw", "NCHW", "N,H,W", 0, AffineMode.PerChannel, NormKind.Standardize,
        LayerFeatures.Shards | LayerFeatures.Synchronized | LayerFeatures.RunningStatistics);
}
