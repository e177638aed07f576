using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// A layer's Backward of a plan with one fold index per statistic (BatchNorm, InstanceNorm; whole-tensor and block plans,
/// and the expanded driver of BatchNorm NCHW's short planes) takes the sum of x - (float)mean from its training forward's
/// mean residual (mean - (float)mean) instead of summing it exactly in double. On offset data, where (float)mean is off the mean by many of the data's own units, that sum is what
/// keeps dx at the float floor: dx and the parameter gradients against the float64 reference, for shapes that take the
/// forward's different paths (a few rows, many, streamed, blocks), at 1 and 2 threads, and the static BackwardTraining
/// (exact sums) of BatchNorm NHWC on the same data within the same bound.
/// </summary>
[Collection(nameof(ThreadingTests))]
public sealed class ResidualBackwardTests : RestoresSettings
{
    private const double Gradient = 1e-6;

    /// <summary>Shapes as (N, C, H, W), put in each layout's order.</summary>
    public static TheoryData<string, int[], double, double, int> Cases()
    {
        var data = new TheoryData<string, int[], double, double, int>();
        int[][] shapes = [[1, 5, 1, 3], [1, 40, 2, 3], [6, 8, 11, 13], [4, 512, 7, 7], [16, 64, 14, 14]];
        foreach (string name in new[] { nameof(BnNhwc), nameof(BnNchw), nameof(InNchw), nameof(InNhwc) })
            foreach (int[] shape in shapes)
                foreach (var (offset, scale) in new[] { (1e4, 1.0), (-3e3, 0.01) })
                    foreach (int degree in new[] { 1, 2 })
                        data.Add(name, shape, offset, scale, degree);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerBackward_OfOffsetData_AtTheFloatFloor(string name, int[] shape, double offset, double scale, int degree)
    {
        Parallelism.MaxDegree = degree;
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        int[] dims = layerCase.Declaration.Layout.Select(letter => letter switch { 'N' => shape[0], 'C' => shape[1], 'H' => shape[2], _ => shape[3] }).ToArray();
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name + string.Join("x", dims), (int)offset + degree));
        float[] input = TestData.Normal(random, length, offset, scale);
        float[] outputGrad = TestData.Normal(random, length, 1e3, 1);
        string what = $"{name} [{string.Join(", ", dims)}] ({offset}, {scale}), {degree} thread(s) on {Isa.Widest}";

        INormalizationLayer layer = layerCase.Create(dims);
        float[] weight = TestData.Uniform(random, layer.Weight.Length, 0.5, 2);
        weight.CopyTo(layer.Weight, 0);
        TestData.Uniform(random, layer.Bias.Length, -1, 1).CopyTo(layer.Bias, 0);
        var output = new float[length];
        layer.Forward(input, output, dims);
        var inputGrad = new float[length];
        layer.Backward(input, outputGrad, inputGrad, dims);

        ReferenceGradients expected = reference.BackwardTraining(dims, input, outputGrad, weight, layer.Epsilon);
        double relative = OffsetPrecisionTests.NormRelative(expected.InputGrad, inputGrad);
        Assert.True(relative <= Gradient, $"{what}: layer dx, max |dx - ref| / max |ref| = {relative:E2} > {Gradient:E0}");
        for (int p = 0; p < expected.BiasGrad.Length; p++)
        {
            Assert.True(Math.Abs(layer.BiasGrad[p] - expected.BiasGrad[p]) <= 1e-5 * Math.Max(1, Math.Abs(expected.BiasGrad[p])), $"{what}: biasGrad[{p}]");
            Assert.True(Math.Abs(layer.WeightGrad[p] - expected.WeightGrad[p]) <= 1e-4 * Math.Max(1, Math.Abs(expected.WeightGrad[p])), $"{what}: weightGrad[{p}]");
        }
        if (layer is not BnNhwc bn) return;

        // The static kernel (no residual: the exact sums) on the same forward's statistics.
        var staticGrad = new float[length];
        float[] weightGrad = new float[dims[3]], biasGrad = new float[dims[3]];
        BnNhwc.BackwardTraining(input, outputGrad, staticGrad, dims[0], dims[1], dims[2], dims[3], weight, bn.BatchMean, bn.BatchVariance, bn.Epsilon,
            weightGrad, biasGrad);
        relative = OffsetPrecisionTests.NormRelative(expected.InputGrad, staticGrad);
        Assert.True(relative <= Gradient, $"{what}: static dx, max |dx - ref| / max |ref| = {relative:E2} > {Gradient:E0}");
    }
}
