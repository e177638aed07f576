using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// LRN forward and backward split positions into units fixed by the shape (pieces of planes, or ranges of whole tiles
/// when C is innermost); no unit reduces across another, so outputs and gradients are bitwise identical for any
/// thread count.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class LrnThreadingTests : IDisposable
{
    private readonly int _saved = Parallelism.MaxDegree;

    public void Dispose() => Parallelism.MaxDegree = _saved;

    private sealed record Run<T>(T[] Output, T[] Grad, int ForwardWorkers, int BackwardWorkers);

    private static Run<float> RunFloat(string name, float[] x, float[] dy, int[] d)
    {
        var y = new float[x.Length];
        var dx = new float[x.Length];
        int fw, bw;
        switch (name)
        {
            case nameof(LrnNchw):
                { var l = new LrnNchw(); l.Forward(x, y, d[0], d[1], d[2], d[3]); fw = ParallelUnits.LastWorkers; l.Backward(x, dy, dx, d[0], d[1], d[2], d[3]); bw = ParallelUnits.LastWorkers; break; }
            case nameof(LrnNhwc):
                { var l = new LrnNhwc(); l.Forward(x, y, d[0], d[1], d[2], d[3]); fw = ParallelUnits.LastWorkers; l.Backward(x, dy, dx, d[0], d[1], d[2], d[3]); bw = ParallelUnits.LastWorkers; break; }
            case nameof(LrnNhwcSize3):
                { var l = new LrnNhwcSize3(); l.Forward(x, y, d[0], d[1], d[2], d[3]); fw = ParallelUnits.LastWorkers; l.Backward(x, dy, dx, d[0], d[1], d[2], d[3]); bw = ParallelUnits.LastWorkers; break; }
            case nameof(LrnNclSize3):
                { var l = new LrnNclSize3(); l.Forward(x, y, d[0], d[1], d[2]); fw = ParallelUnits.LastWorkers; l.Backward(x, dy, dx, d[0], d[1], d[2]); bw = ParallelUnits.LastWorkers; break; }
            default: throw new ArgumentException(name);
        }
        return new Run<float>(y, dx, fw, bw);
    }

    private static Run<double> RunDouble(double[] x, double[] dy, int[] d)
    {
        var y = new double[x.Length];
        var dx = new double[x.Length];
        var l = new LrnNhwcDouble();
        l.Forward(x, y, d[0], d[1], d[2], d[3]);
        int fw = ParallelUnits.LastWorkers;
        l.Backward(x, dy, dx, d[0], d[1], d[2], d[3]);
        return new Run<double>(y, dx, fw, ParallelUnits.LastWorkers);
    }

    /// <summary>Shapes of at least 3 * MinElementsPerThread elements and many units: several planes, one plane cut into
    /// pieces, channels-last ranges of tiles (including a last tile that overlaps its neighbour), odd extents.</summary>
    [Theory]
    [InlineData(nameof(LrnNchw), new[] { 3, 16, 80, 80 })]   // 3 planes of 6400: pieces of planes
    [InlineData(nameof(LrnNchw), new[] { 1, 24, 97, 101 })]  // one plane, odd extent
    [InlineData(nameof(LrnNhwc), new[] { 3, 80, 80, 16 })]
    [InlineData(nameof(LrnNhwc), new[] { 2, 37, 41, 67 })]   // odd channels and positions
    [InlineData(nameof(LrnNhwcSize3), new[] { 1, 53, 59, 70 })]
    [InlineData(nameof(LrnNclSize3), new[] { 5, 12, 3331 })]
    public void FloatBitwiseIdenticalForAnyThreadCount(string name, int[] dims)
    {
        int count = TestData.Product(dims);
        Assert.True(count >= 3 * Parallelism.MinElementsPerThread);
        var random = new Random(name.Length * 131 + count);
        float[] x = TestData.Normal(random, count, 0, 2), dy = TestData.Normal(random, count, 0, 1);

        Parallelism.MaxDegree = 1;
        Run<float> serial = RunFloat(name, x, dy, dims);
        Assert.Equal(1, serial.ForwardWorkers);
        Assert.Equal(1, serial.BackwardWorkers);
        foreach (int degree in new[] { 2, 3 })
        {
            Parallelism.MaxDegree = degree;
            Run<float> parallel = RunFloat(name, x, dy, dims);
            Assert.Equal(degree, parallel.ForwardWorkers);
            Assert.Equal(degree, parallel.BackwardWorkers);
            Assert.Equal(KernelCheck.Bits(serial.Output), KernelCheck.Bits(parallel.Output));
            Assert.Equal(KernelCheck.Bits(serial.Grad), KernelCheck.Bits(parallel.Grad));
        }
    }

    [Fact]
    public void DoubleBitwiseIdenticalForAnyThreadCount()
    {
        int[] dims = [2, 45, 47, 40];
        int count = TestData.Product(dims);
        var random = new Random(17);
        double[] x = TestData.Normal(random, count, 0, 2).Select(v => (double)v + random.NextDouble() * 1e-3).ToArray();
        double[] dy = TestData.Normal(random, count, 0, 1).Select(v => (double)v).ToArray();

        Parallelism.MaxDegree = 1;
        Run<double> serial = RunDouble(x, dy, dims);
        Assert.Equal(1, serial.ForwardWorkers);
        foreach (int degree in new[] { 2, 3 })
        {
            Parallelism.MaxDegree = degree;
            Run<double> parallel = RunDouble(x, dy, dims);
            Assert.True(parallel.ForwardWorkers > 1 && parallel.BackwardWorkers > 1, $"{parallel.ForwardWorkers}/{parallel.BackwardWorkers} workers at {degree}");
            Assert.True(serial.Output.AsSpan().SequenceEqual(parallel.Output), $"output differs at {degree} threads");
            Assert.True(serial.Grad.AsSpan().SequenceEqual(parallel.Grad), $"gradient differs at {degree} threads");
        }
    }

    /// <summary>Below MinElementsPerThread per extra thread the call stays on the calling thread.</summary>
    [Fact]
    public void SmallTensorsStayOnTheCallingThread()
    {
        Parallelism.MaxDegree = 8;
        int[] dims = [2, 8, 32, 32];   // 16384 elements
        var random = new Random(3);
        float[] x = TestData.Normal(random, 16384, 0, 1), dy = TestData.Normal(random, 16384, 0, 1);
        Run<float> run = RunFloat(nameof(LrnNchw), x, dy, dims);
        Assert.Equal(1, run.ForwardWorkers);
        Assert.Equal(1, run.BackwardWorkers);
    }
}
