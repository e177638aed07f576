namespace NormKernels.Tests;

/// <summary>
/// Row plans (each statistic one contiguous run, the runs back to back) run row after row (Runs.Rows): LayerNorm and RMSNorm
/// over the last dim, InstanceNorm NCHW, and BatchNorm NCHW with N = 1 (a channel is one plane). Many rows per unit, rows with
/// tails, training then inference against the float64 reference (running statistics included), and the same bits for 1 and 2
/// threads.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class RowPlanTests : RestoresSettings
{
    public static TheoryData<string, int[]> Cases => new()
    {
        // Planes of 64 or more (shorter ones take the expanded training path).
        { "BnNchw", [1, 5, 9, 11] },
        { "BnNchw", [1, 32, 16, 16] },
        { "BnNchw", [1, 40, 5, 13] },
        { "InNchw", [3, 24, 7, 7] },
        { "InNchwNoAffine", [2, 20, 5, 9] },
        { "LnNtc", [4, 9, 37] },
        { "LnNtcNoAffine", [2, 33, 50] },
        { "RmsNtc", [5, 7, 40] },
        { "RmsNtcNoAffine", [3, 11, 21] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RowsMatchTheReferenceAndEveryThreadCount(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        var random = new Random(KernelCheck.Seed(name, dims[1]));
        int length = TestData.Product(dims);
        float[] input = TestData.Normal(random, length, 0.75, 2);

        Parallelism.MaxDegree = 1;
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(5));
        KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, name + " rows");
        KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, length, -0.5, 1), name + " rows");

        // The same bits on two threads (units are fixed by the shape), output and running statistics.
        var outputs = new List<int[]>();
        var running = new List<int[]>();
        foreach (int degree in new[] { 1, 2 })
        {
            Parallelism.MaxDegree = degree;
            INormalizationLayer fresh = layerCase.Create(dims);
            KernelCheck.Randomize(fresh, new Random(5));
            fresh.Training = true;
            var output = new float[length];
            fresh.Forward(input, output, dims);
            outputs.Add(KernelCheck.Bits(output));
            running.Add(KernelCheck.Bits(fresh.RunningMean ?? []).Concat(KernelCheck.Bits(fresh.RunningVar ?? [])).ToArray());
        }
        Assert.Equal(outputs[0], outputs[1]);
        Assert.Equal(running[0], running[1]);
    }
}
