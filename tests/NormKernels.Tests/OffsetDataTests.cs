using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// Data far from zero relative to its spread, where a one-pass float E[x^2] - E[x]^2 loses everything: mean 1e4 with
/// std 1, and mean -3e3 with std 0.01 (ulp(3e3) = 2.4e-4, so the samples are quantized at 2% of their spread).
/// The batch mean must be within <see cref="Tolerances.MeanUlps"/> ulps of the float32 nearest |mean| (plus 1e-5 of the
/// std), the variance within <see cref="Tolerances.VarianceRelative"/> relative, and outputs within
/// <see cref="Tolerances.Output"/>, relative to the output's own scale: the apply subtracts the mean rounded to float
/// before scaling, so it does not lose eps*|mean|/std (1e-3 and 2e-2 here) as a plain x*a + b would.
/// <see cref="OffsetPrecisionTests"/> covers every family, the backward and (1e6, 1).
/// </summary>
public sealed class OffsetDataTests
{
    public static TheoryData<string, double, double> Cases()
    {
        var data = new TheoryData<string, double, double>();
        foreach (string name in new[] { nameof(BnNchw), nameof(BnNhwc), nameof(LnNchw), nameof(LnNhwc), nameof(InNchw), nameof(InNhwc) })
        {
            data.Add(name, 1e4, 1);
            data.Add(name, -3e3, 0.01);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StatisticsAndOutputsStayExactAtLargeOffset(string name, double mean, double std)
    {
        // N=4, C=7, H=23, W=29 by letter: 18,676 elements; BatchNorm statistics over 2,668 values, InstanceNorm 667.
        Check(name, mean, std, letter => letter switch { 'N' => 4, 'C' => 7, 'H' => 23, 'W' => 29, _ => 1 });
    }

    [Theory]
    [InlineData(nameof(BnNchw), 1e4, 1)]
    [InlineData(nameof(BnNhwc), -3e3, 0.01)]
    public void BatchNormOverManyValuesPerChannel(string name, double mean, double std)
    {
        // 73,728 values per channel: many accumulation chunks, combined across chunks.
        Check(name, mean, std, letter => letter switch { 'N' => 8, 'C' => 3, 'H' => 96, 'W' => 96, _ => 1 });
    }

    private static void Check(string name, double mean, double std, Func<char, int> extent)
    {
        LayerCase layerCase = LayerCases.Get(name);
        NormReference reference = layerCase.Reference;
        int[] dims = layerCase.Declaration.Layout.Select(extent).ToArray();
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, (int)mean));
        float[] input = TestData.Normal(random, length, mean, std);
        string what = $"{name} mean {mean} std {std}";

        // Static kernel: the batch statistics themselves.
        int statistics = reference.StatisticCount(dims);
        int affineLength = reference.AffineLength(dims);
        float[] weight = TestData.Uniform(random, affineLength, 0.5, 2);
        float[] bias = TestData.Uniform(random, affineLength, -1, 1);
        var output = new float[length];
        var batchMean = new float[statistics];
        var batchVariance = new float[statistics];
        layerCase.Training(input, output, dims, weight, bias, batchMean, batchVariance, 1e-5f);
        ReferenceResult expected = reference.ForwardTraining(dims, input, weight, bias, 1e-5f);
        KernelCheck.BatchStatistics(reference, expected.Statistics!, batchMean, batchVariance, what + " batch statistics");
        KernelCheck.Outputs(reference, dims, input, weight, bias, KernelCheck.BatchTerms(reference, expected.Statistics!), 1e-5f,
            expected.Output, output, what + " static training output");

        // The layer: training with running update, then (N reduced) inference around running statistics near the data.
        INormalizationLayer layer = layerCase.Create(dims);
        weight.CopyTo(layer.Weight, 0);
        bias.CopyTo(layer.Bias, 0);
        if (layer.RunningMean is { } runningMean && layer.RunningVar is { } runningVar)
        {
            Array.Fill(runningMean, (float)mean);
            Array.Fill(runningVar, (float)(std * std));
        }
        KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, what);
        KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, length, mean, std), what);
    }
}
