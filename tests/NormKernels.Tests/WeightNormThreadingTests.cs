using System.Numerics.Tensors;
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

    /// <summary>Forward and backward of a test layer on the path and with the 128-bit operations the public surface would choose
    /// (on ARM64 the AdvSimd ones, through the stand-in, which matches the real instructions bit for bit), with the workers each used.</summary>
    private static Run RunOnce(string name, float[] v, float[] g, float[] dw, int[] dims)
    {
        WeightNormTests.Case<float> layer = WeightNormTests.Floats[name];
        KernelPath path = Isa.Select<float>(WeightNormTests.Inner(layer.Layout, layer.Reduced, dims));
        bool arm = System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
        float[] w = new float[v.Length], dv = new float[v.Length], dg = new float[g.Length];
        layer.Forward(path, arm, v, g, w, dims);
        int forwardWorkers = ParallelUnits.LastWorkers;
        layer.Backward(path, arm, v, g, dw, dv, dg, dims);
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

    /// <summary>No allocation per call on one thread (the folded shape's table and the per-worker sums are pooled; the dims travel
    /// on the stack): spans and tensors, both forms, float and double. The fewest bytes over three rounds of 20 calls, after a warm-up.</summary>
    [Fact]
    public void NoAllocationPerCall_OnOneThread()
    {
        using var scope = DegreeScope.Set(1);
        var random = new Random(8);
        float[] v = TestData.Normal(random, 4 * 16 * 3 * 3, 0, 1), g = TestData.Uniform(random, 64, 0.5, 2), dw = TestData.Normal(random, v.Length, 0, 1);
        float[] w = new float[v.Length], dv = new float[v.Length], dg = new float[64];
        double[] vd = v.Select(x => (double)x).ToArray(), gd = g.Select(x => (double)x).ToArray(), wd = new double[v.Length], dgd = new double[64];
        var conv = new WnConv();
        var channelsLast = new WnIhwo();
        var convDouble = new WnConvDouble();
        nint[] lengths = [4, 16, 3, 3], gLengths = [4, 1, 1, 1];
        var calls = new (string What, Action Call)[]
        {
            ("WnConv.Forward", () => conv.Forward(v, g.AsSpan(0, 4), w, 4, 16, 3, 3)),
            ("WnConv.Backward", () => conv.Backward(v, g.AsSpan(0, 4), dw, dv, dg.AsSpan(0, 4), 4, 16, 3, 3)),
            ("WnConv.Forward (tensor)", () => conv.Forward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, gLengths), new TensorSpan<float>(w, lengths))),
            ("WnIhwo.Forward", () => channelsLast.Forward(v.AsSpan(0, 576), g, w.AsSpan(0, 576), 3, 1, 3, 64)),
            ("WnIhwo.Backward", () => channelsLast.Backward(v.AsSpan(0, 576), g, dw.AsSpan(0, 576), dv.AsSpan(0, 576), dg, 3, 1, 3, 64)),
            ("WnConvDouble.Forward", () => convDouble.Forward(vd, gd.AsSpan(0, 4), wd, 4, 16, 3, 3)),
        };
        var failures = new List<string>();
        foreach (var (what, call) in calls)
        {
            for (int i = 0; i < 3; i++) call();
            long fewest = long.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 20; i++) call();
                fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            if (fewest != 0) failures.Add($"{what}: {fewest} bytes over 20 calls");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
