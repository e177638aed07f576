using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// LocalResponseNorm calls whose tensors exceed <see cref="Streaming.ThresholdBytes"/> (the last-level cache) read each
/// entering channel row from memory, and the column kernel hints the next row's positions into L1 as it goes (issue 11).
/// With the threshold at 0 every call takes the hints where its rows are at least 4 KB apart: the results against the
/// float64 reference, the same bits as the call without hints (threshold at its maximum), and the same bits on 1 and
/// 2 threads. Rows of 1,056 to 1,600 positions (4.1 to 6.3 KB), one under 4 KB (no hints) beside them, and planes cut
/// into pieces by their width.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Parallelism.MaxDegree
public sealed class LrnFromMemoryTests : RestoresSettings
{
    public static TheoryData<string, int[]> Cases => new()
    {
        { "LrnNchw", [3, 9, 32, 33] },        // Size 5: rows of 1,056 positions
        { "LrnNchwSize4", [2, 7, 33, 33] },   // an even window (Before != After): rows of 1,089
        { "LrnNclSize3", [3, 6, 1100] },      // three dims: rows of 1,100
        { "LrnNchwSmallK", [2, 8, 31, 32] },  // rows of 992 (under 4 KB: no hints)
        { "LrnNchw", [17, 5, 40, 40] },       // planes of 1,600 in two pieces (ForwardPieceWidth), 34 units
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void HintedColumnsMatchTheReferenceAndTheUnhintedBits(string name, int[] dims)
    {
        LrnTests.FloatCase layer = LrnTests.Floats[name];
        var reference = new LrnReference(layer.Layout, layer.Size, layer.Alpha, layer.Beta, layer.K);
        int count = TestData.Product(dims);
        float[] x = TestData.Normal(new Random(KernelCheck.Seed(name, 71)), count, 0, 2);
        double[] expected = reference.Forward(dims, x);
        KernelPath widest = Isa.Select(1 << 20);

        float[] Run(long threshold, int degree)
        {
            Streaming.ThresholdBytes = threshold;
            Parallelism.MaxDegree = degree;
            var y = new float[count];
            y.AsSpan().Fill(float.NaN);
            Assert.Equal(widest, layer.Forward(widest, false, x, y, dims));
            return y;
        }

        float[] hinted = Run(0, 1);
        for (int i = 0; i < count; i++)
        {
            double bound = LrnTests.ForwardRelative * Math.Abs(expected[i]) + 1e-30;
            Assert.True(Math.Abs(expected[i] - hinted[i]) <= bound, $"{name} [{string.Join(",", dims)}] y[{i}]: expected {expected[i]:R}, got {hinted[i]:R}");
        }
        Assert.Equal(KernelCheck.Bits(Run(long.MaxValue, 1)), KernelCheck.Bits(hinted));
        Assert.Equal(KernelCheck.Bits(Run(0, 2)), KernelCheck.Bits(hinted));
    }

    [Fact]
    public void ItsCallsSayTheyDidNotStreamAfterOneThatDid()
    {
        // LocalResponseNorm stores normally whatever its size: after a BatchNorm call that streamed, its forward and its
        // backward each leave Streaming.LastCallStreamed false (it used to tell of the call before).
        Streaming.ThresholdBytes = 0;
        int[] dims = [2, 8, 16, 40];
        int count = TestData.Product(dims);
        float[] x = TestData.Normal(new Random(7), count, 0, 1), dy = TestData.Normal(new Random(8), count, 0, 1);
        var norm = new BnNchw(dims[1]);
        var lrn = new LrnNchw();
        foreach (bool backward in new[] { false, true })
        {
            norm.Forward(x, new float[count], dims[0], dims[1], dims[2], dims[3]);
            Assert.Equal(norm.LastPath != KernelPath.Scalar, Streaming.LastCallStreamed);
            if (backward) lrn.Backward(x, dy, new float[count], dims[0], dims[1], dims[2], dims[3]);
            else lrn.Forward(x, new float[count], dims[0], dims[1], dims[2], dims[3]);
            Assert.False(Streaming.LastCallStreamed);
        }
    }
}
