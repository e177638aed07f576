using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Weight normalization splits its norms (or pieces of a row of norms) into units fixed by the shape; each norm is summed
/// within one unit, so results are bitwise identical for any thread count. The layer keeps no state but LastPath, so one
/// instance serves many threads at once.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class WeightNormThreadingTests
{
    private sealed record Run(float[] W, float[] Dv, float[] Dg, int ForwardWorkers, int BackwardWorkers);

    /// <summary>Forward and backward of a test layer on the path the public surface would choose, with the workers each used.</summary>
    private static Run RunOnce(string name, float[] v, float[] g, float[] dw, int[] dims)
    {
        WeightNormTests.Case<float> layer = WeightNormTests.Floats[name];
        KernelPath path = Isa.Select<float>(WeightNormTests.Inner(layer.Layout, layer.Reduced, dims));
        float[] w = new float[v.Length], dv = new float[v.Length], dg = new float[g.Length];
        layer.Forward(path, false, v, g, w, dims);
        int forwardWorkers = ParallelUnits.LastWorkers;
        layer.Backward(path, false, v, g, dw, dv, dg, dims);
        return new Run(w, dv, dg, forwardWorkers, ParallelUnits.LastWorkers);
    }

    /// <summary>Shapes of well over 3 * MinElementsPerThread elements: norms as runs, a single row of norms cut into pieces,
    /// runs per index of an outer reduced axis.</summary>
    [Theory]
    [InlineData(nameof(WnConv), new[] { 96, 64, 5, 5 })]
    [InlineData(nameof(WnIhwo), new[] { 32, 3, 3, 512 })]
    [InlineData(nameof(WnIhwo), new[] { 64, 3, 3, 333 })]   // pieces of uneven width, a masked last vector in each
    [InlineData(nameof(WnIohw), new[] { 64, 48, 7, 7 })]
    public void BitwiseIdenticalForAnyThreadCount(string name, int[] dims)
    {
        var random = new Random(dims.Sum());
        int count = TestData.Product(dims);
        int norms = name == nameof(WnIohw) ? dims[1] : name == nameof(WnIhwo) ? dims[3] : dims[0];
        float[] v = TestData.Normal(random, count, 0, 1), g = TestData.Uniform(random, norms, 0.5, 2), dw = TestData.Normal(random, count, 0, 1);

        Run serial;
        using (DegreeScope.Set(1)) serial = RunOnce(name, v, g, dw, dims);
        Assert.Equal((1, 1), (serial.ForwardWorkers, serial.BackwardWorkers));
        foreach (int degree in new[] { 2, 3, 4 })
        {
            using var scope = DegreeScope.Set(degree);
            Run parallel = RunOnce(name, v, g, dw, dims);
            Assert.True(parallel.ForwardWorkers > 1 && parallel.BackwardWorkers > 1, $"{name}: {degree} threads allowed, {parallel.ForwardWorkers} used");
            Assert.Equal(KernelCheck.Bits(serial.W), KernelCheck.Bits(parallel.W));
            Assert.Equal(KernelCheck.Bits(serial.Dv), KernelCheck.Bits(parallel.Dv));
            Assert.Equal(KernelCheck.Bits(serial.Dg), KernelCheck.Bits(parallel.Dg));
        }
    }

    /// <summary>One instance, eight threads at once, each with its own tensors (some large enough to run parallel units of
    /// their own): every result is the one a lone call gives.</summary>
    [Fact]
    public void OneInstance_ManyThreadsAtOnce_EachGetsItsOwnResult()
    {
        using var scope = DegreeScope.Set(2);
        var layer = new WnConv();
        int[][] shapes = [[8, 16, 3, 3], [96, 64, 5, 5], [5, 3, 1, 7], [64, 32, 3, 3]];
        var inputs = Enumerable.Range(0, 8).Select(t =>
        {
            int[] d = shapes[t % shapes.Length];
            var random = new Random(100 + t);
            int count = TestData.Product(d);
            return (Dims: d, V: TestData.Normal(random, count, 0, 1), G: TestData.Uniform(random, d[0], 0.5, 2), Dw: TestData.Normal(random, count, 0, 1));
        }).ToArray();
        Run[] alone = inputs.Select(x => RunOnce(nameof(WnConv), x.V, x.G, x.Dw, x.Dims)).ToArray();

        var results = new Run[inputs.Length];
        using var start = new Barrier(inputs.Length);
        var threads = inputs.Select((x, t) => new Thread(() =>
        {
            float[] w = new float[x.V.Length], dv = new float[x.V.Length], dg = new float[x.G.Length];
            start.SignalAndWait();
            for (int repeat = 0; repeat < 5; repeat++)
            {
                layer.Forward(x.V, x.G, w, x.Dims[0], x.Dims[1], x.Dims[2], x.Dims[3]);
                layer.Backward(x.V, x.G, x.Dw, dv, dg, x.Dims[0], x.Dims[1], x.Dims[2], x.Dims[3]);
            }
            results[t] = new Run(w, dv, dg, 0, 0);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int t = 0; t < inputs.Length; t++)
        {
            Assert.Equal(KernelCheck.Bits(alone[t].W), KernelCheck.Bits(results[t].W));
            Assert.Equal(KernelCheck.Bits(alone[t].Dv), KernelCheck.Bits(results[t].Dv));
            Assert.Equal(KernelCheck.Bits(alone[t].Dg), KernelCheck.Bits(results[t].Dg));
        }
        Assert.Equal(IsaPathTests.Expected, layer.LastPath);
    }
}
