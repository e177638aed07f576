using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// A layer's Backward of a whole-tensor plan with one fold index per statistic (BatchNorm channels-last and per-activation)
/// takes the sum of x - (float)mean from its training forward's mean residual (mean - (float)mean) instead of summing it
/// exactly in double. On offset data, where (float)mean is many standard deviations' ulps away from the mean, that sum is
/// what keeps dx at the float floor: dx and the parameter gradients against the float64 reference, for shapes that take the
/// forward's different row paths (a few rows, many, streamed), at 1 and 2 threads, and the static BackwardTraining (exact
/// sums) on the same data within the same bound.
/// </summary>
[Collection(nameof(ThreadingTests))]
public sealed class ResidualBackwardTests : RestoresSettings
{
    private const double Gradient = 1e-6;

    public static TheoryData<int[], double, double, int> Cases()
    {
        var data = new TheoryData<int[], double, double, int>();
        int[][] shapes = [[1, 1, 3, 5], [1, 2, 3, 40], [6, 11, 13, 8], [4, 7, 7, 512], [16, 14, 14, 64]];
        foreach (int[] dims in shapes)
            foreach (var (offset, scale) in new[] { (1e4, 1.0), (-3e3, 0.01) })
                foreach (int degree in new[] { 1, 2 })
                    data.Add(dims, offset, scale, degree);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChannelsLastBatchNorm_LayerBackward_AtTheFloatFloor(int[] dims, double offset, double scale, int degree)
    {
        Parallelism.MaxDegree = degree;
        LayerCase layerCase = LayerCases.Get(nameof(BnNhwc));
        NormReference reference = layerCase.Reference;
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(string.Join("x", dims), (int)offset + degree));
        float[] input = TestData.Normal(random, length, offset, scale);
        float[] outputGrad = TestData.Normal(random, length, 1e3, 1);
        string what = $"BnNhwc [{string.Join(", ", dims)}] ({offset}, {scale}), {degree} thread(s) on {Isa.Widest}";

        var layer = new BnNhwc(dims[3]);
        float[] weight = TestData.Uniform(random, layer.Weight.Length, 0.5, 2);
        weight.CopyTo(layer.Weight, 0);
        TestData.Uniform(random, layer.Bias.Length, -1, 1).CopyTo(layer.Bias, 0);
        var output = new float[length];
        layer.Forward(input, output, dims[0], dims[1], dims[2], dims[3]);
        var inputGrad = new float[length];
        layer.Backward(input, outputGrad, inputGrad, dims[0], dims[1], dims[2], dims[3]);

        ReferenceGradients expected = reference.BackwardTraining(dims, input, outputGrad, weight, layer.Epsilon);
        double relative = OffsetPrecisionTests.NormRelative(expected.InputGrad, inputGrad);
        Assert.True(relative <= Gradient, $"{what}: layer dx, max |dx - ref| / max |ref| = {relative:E2} > {Gradient:E0}");
        for (int p = 0; p < dims[3]; p++)
        {
            Assert.True(Math.Abs(layer.BiasGrad[p] - expected.BiasGrad[p]) <= 1e-5 * Math.Max(1, Math.Abs(expected.BiasGrad[p])), $"{what}: biasGrad[{p}]");
            Assert.True(Math.Abs(layer.WeightGrad[p] - expected.WeightGrad[p]) <= 1e-4 * Math.Max(1, Math.Abs(expected.WeightGrad[p])), $"{what}: weightGrad[{p}]");
        }

        // The static kernel (no residual: the exact sums) on the same forward's statistics.
        var staticGrad = new float[length];
        float[] weightGrad = new float[dims[3]], biasGrad = new float[dims[3]];
        BnNhwc.BackwardTraining(input, outputGrad, staticGrad, dims[0], dims[1], dims[2], dims[3], weight, layer.BatchMean, layer.BatchVariance, layer.Epsilon,
            weightGrad, biasGrad);
        relative = OffsetPrecisionTests.NormRelative(expected.InputGrad, staticGrad);
        Assert.True(relative <= Gradient, $"{what}: static dx, max |dx - ref| / max |ref| = {relative:E2} > {Gradient:E0}");
    }
}
