using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Results never depend on the number of threads: work is split into units fixed by the shape (independent blocks,
/// or chunks whose partial sums merge in a fixed order). These tests compare bits, not tolerances.
/// </summary>
[Collection(nameof(ThreadingTests))]   // they change the process-wide Parallelism.MaxDegree
public sealed class ThreadingTests : IDisposable
{
    private readonly int _saved = Parallelism.MaxDegree;

    public void Dispose() => Parallelism.MaxDegree = _saved;

    /// <summary>Dims of the layer's layout with at least 600k elements (enough for 8 workers): spatial extents grow first.</summary>
    private static int[] LargeDims(LayerCase layerCase)
    {
        int[] dims = layerCase.Dims(n: 8);
        string layout = layerCase.Declaration.Layout;
        int grow = Enumerable.Range(0, layout.Length).LastOrDefault(i => layout[i] != 'N' && layout[i] != 'C', layout.IndexOf('N'));
        while (TestData.Product(dims) < 600_000) dims[grow] *= 2;
        return dims;
    }

    private sealed record Run(float[] Output, float[] Inference, float[] Mean, float[] Var, int Workers);

    private static Run Forward(LayerCase layerCase, int[] dims, float[] input)
    {
        INormalizationLayer layer = layerCase.Create(dims);
        var random = new Random(7);
        KernelCheck.Randomize(layer, random);
        var output = new float[input.Length];
        layer.Training = true;
        layer.Forward(input, output, dims);
        int workers = ParallelUnits.LastWorkers;
        var inference = new float[input.Length];
        layer.Training = false;
        layer.Forward(input, inference, dims);
        return new Run(output, inference, layer.RunningMean?.ToArray() ?? [], layer.RunningVar?.ToArray() ?? [], workers);
    }

    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void BitwiseIdenticalForAnyThreadCount(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = LargeDims(layerCase);
        float[] input = TestData.Normal(new Random(name.Length * 977), TestData.Product(dims), 1.5, 2);

        Parallelism.MaxDegree = 1;
        Run serial = Forward(layerCase, dims, input);
        Assert.Equal(1, serial.Workers);
        foreach (int degree in new[] { 2, 3, 8 })
        {
            Parallelism.MaxDegree = degree;
            Run parallel = Forward(layerCase, dims, input);
            Assert.True(serial.Output.AsSpan().SequenceEqual(parallel.Output), $"{name}: training output differs at {degree} threads");
            Assert.True(serial.Inference.AsSpan().SequenceEqual(parallel.Inference), $"{name}: inference output differs at {degree} threads");
            Assert.Equal(serial.Mean, parallel.Mean);
            Assert.Equal(serial.Var, parallel.Var);
        }
    }

    [Theory]
    [InlineData(nameof(BnNchw))]   // one unit per channel (statistic blocks of N contiguous H*W runs)
    [InlineData(nameof(BnNcAllAxes))] // whole tensor: chunked statistics, partial sums merged in order
    [InlineData(nameof(BnNhwc))]   // whole tensor, vertical: chunks of rows
    [InlineData(nameof(LnNtc))]    // one unit per row block
    [InlineData(nameof(InNchw))]   // one unit per (n, c) plane
    [InlineData(nameof(GnNhwc))]   // one unit per sample
    public void LargeTensorsReallyRunOnSeveralThreads(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = LargeDims(layerCase);
        Parallelism.MaxDegree = 8;
        Run run = Forward(layerCase, dims, TestData.Normal(new Random(1), TestData.Product(dims), 0, 1));
        Assert.True(run.Workers >= 2, $"{name} used {run.Workers} worker(s)");
    }

    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void BitwiseIdenticalAtEveryElementOffset(string name)
    {
        // The summation order depends on the shape alone, never on the address (no peeling to alignment).
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims(n: 3);
        int count = TestData.Product(dims);
        float[] input = TestData.Normal(new Random(3), count, -2, 3);
        Run aligned = Forward(layerCase, dims, input);
        for (int offset = 1; offset < 16; offset++)
        {
            var buffer = new float[count + 16];
            input.CopyTo(buffer, offset);
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, new Random(7));
            var output = new float[count + 16];
            layer.Forward(buffer.AsSpan(offset, count), output.AsSpan(16 - offset, count), dims);
            Assert.True(aligned.Output.AsSpan().SequenceEqual(output.AsSpan(16 - offset, count)), $"{name}: output differs at input offset {offset}");
        }
    }

    [Fact]
    public void ConcurrentCallsOnDifferentLayersEqualSerialCalls()
    {
        string[] names = [nameof(BnNchw), nameof(BnNhwc), nameof(LnNtc), nameof(GnNhwc), nameof(InNhwc), nameof(RmsNtc)];
        var cases = names.Select(LayerCases.Get).ToArray();
        var dims = cases.Select(c => c.Dims(n: 6)).ToArray();
        var inputs = dims.Select((d, i) => TestData.Normal(new Random(i), TestData.Product(d), 0.5, 1)).ToArray();
        var serial = cases.Select((c, i) => Forward(c, dims[i], inputs[i])).ToArray();

        var results = new Run[cases.Length, 4];
        Parallel.For(0, cases.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 6 }, k =>
        {
            int i = k % cases.Length;
            results[i, k / cases.Length] = Forward(cases[i], dims[i], inputs[i]);
        });
        for (int i = 0; i < cases.Length; i++)
            for (int r = 0; r < 4; r++)
            {
                Assert.True(serial[i].Output.AsSpan().SequenceEqual(results[i, r].Output), names[i] + " concurrent training output");
                Assert.True(serial[i].Inference.AsSpan().SequenceEqual(results[i, r].Inference), names[i] + " concurrent inference output");
            }
    }

    [Fact]
    public void MaxDegreeRejectsLessThanOne()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.MaxDegree = 0);
        Assert.Equal("value", error.ParamName);
    }
}
