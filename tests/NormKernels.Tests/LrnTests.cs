using NormKernels.Reference;
using NormKernels.Runtime;
using Arm = NormKernels.Runtime.AdvSimdVector128Ops<NormKernels.Tests.EmulatedAdvSimd>;
using X86 = NormKernels.Runtime.X86Vector128Ops;

namespace NormKernels.Tests;

/// <summary>
/// The generated LRN layers against <see cref="LrnReference"/> (float64), on every path this process can run (forced
/// through the internal OnPath entry points, the 128-bit one also with the emulated AdvSimd ops), and the reference's
/// backward against finite differences of its forward.
/// </summary>
/// <remarks>
/// Tolerances. The reference gets exactly the float inputs the kernel gets, so only the kernel's arithmetic differs.
/// Forward, float: the squares round (u = 2^-24 each, all positive so the sum keeps relative error u), the double sum
/// is exact to 1e-16, D rounds once to float (u), D^-beta costs at most 4u for the sqrt forms (7u on the 256-bit path,
/// whose 12-bit inverse square root estimate takes one Newton step) and (4 + |beta ln D|) u for exp(log) (the absolute
/// error of log D is amplified by beta), and the product one more u: with |beta ln D| &lt;= 10 in these tests, under
/// 20u, bounded by <see cref="ForwardRelative"/> = 32u relative to |y|. Backward: each dx_j is a difference of two
/// terms that may cancel; each term carries the errors above plus a few roundings (products, the division by D, the
/// double sum narrowed once), so the bound is <see cref="BackwardRelative"/> = 64u of the sum of the terms' magnitudes
/// (<see cref="LrnReference.BackwardScale(int[], ReadOnlySpan{float}, ReadOnlySpan{float})"/>). Double layers: the same
/// counts in units of 2^-53, rounded up to 1e-13.
/// </remarks>
public sealed class LrnTests
{
    private const double U = 1.0 / (1 << 24);
    internal const double ForwardRelative = 32 * U;
    internal const double BackwardRelative = 64 * U;
    private const double DoubleRelative = 1e-13;

    internal delegate KernelPath Fwd<T>(KernelPath path, bool arm, T[] x, T[] y, int[] d);
    internal delegate KernelPath Bwd<T>(KernelPath path, bool arm, T[] x, T[] dy, T[] dx, int[] d);

    internal sealed record FloatCase(string Layout, int Size, double Alpha, double Beta, double K, Fwd<float> Forward, Bwd<float> Backward);

    internal sealed record DoubleCase(string Layout, int Size, double Alpha, double Beta, double K, Fwd<double> Forward, Bwd<double> Backward);

    internal static readonly Dictionary<string, FloatCase> Floats = new()
    {
        ["LrnNchw"] = new("NCHW", 5, 1e-4, 0.75, 1.0,
            (p, a, x, y, d) => a ? LrnNchw.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNchw.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNchw.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNchw.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwc"] = new("NHWC", 5, 1e-4, 0.75, 1.0,
            (p, a, x, y, d) => a ? LrnNhwc.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwc.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwc.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwc.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNchwSize1"] = new("NCHW", 1, 0.5, 0.5, 2.0,
            (p, a, x, y, d) => a ? LrnNchwSize1.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNchwSize1.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNchwSize1.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNchwSize1.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwcSize2"] = new("NHWC", 2, 0.3, 1.0, 1.5,
            (p, a, x, y, d) => a ? LrnNhwcSize2.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwcSize2.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwcSize2.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwcSize2.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNclSize3"] = new("NCL", 3, 0.2, 0.6, 1.0,
            (p, a, x, y, d) => a ? LrnNclSize3.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2]) : LrnNclSize3.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2]),
            (p, a, x, dy, dx, d) => a ? LrnNclSize3.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2]) : LrnNclSize3.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2])),
        ["LrnNlcSize4"] = new("NLC", 4, 0.1, 0.75, 0.5,
            (p, a, x, y, d) => a ? LrnNlcSize4.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2]) : LrnNlcSize4.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2]),
            (p, a, x, dy, dx, d) => a ? LrnNlcSize4.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2]) : LrnNlcSize4.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2])),
        ["LrnNchwSize4"] = new("NCHW", 4, 0.25, 1.3, 1.0,
            (p, a, x, y, d) => a ? LrnNchwSize4.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNchwSize4.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNchwSize4.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNchwSize4.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwcSize3"] = new("NHWC", 3, 0.2, 0.75, 2.0,
            (p, a, x, y, d) => a ? LrnNhwcSize3.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwcSize3.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwcSize3.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwcSize3.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNchwSmallK"] = new("NCHW", 3, 1.0, 0.75, 1e-4,
            (p, a, x, y, d) => a ? LrnNchwSmallK.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNchwSmallK.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNchwSmallK.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNchwSmallK.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwcSmallK"] = new("NHWC", 3, 1.0, 0.75, 1e-4,
            (p, a, x, y, d) => a ? LrnNhwcSmallK.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwcSmallK.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwcSmallK.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwcSmallK.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwcSize11"] = new("NHWC", 11, 0.4, 0.75, 1.0,
            (p, a, x, y, d) => a ? LrnNhwcSize11.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwcSize11.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwcSize11.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwcSize11.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNclHugeWindow"] = new("NCL", int.MaxValue, 2e9, 0.75, 1.0,
            (p, a, x, y, d) => a ? LrnNclHugeWindow.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2]) : LrnNclHugeWindow.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2]),
            (p, a, x, dy, dx, d) => a ? LrnNclHugeWindow.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2]) : LrnNclHugeWindow.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2])),
    };

    internal static readonly Dictionary<string, DoubleCase> Doubles = new()
    {
        ["LrnNchwDouble"] = new("NCHW", 5, 0.5, 0.75, 1.0,
            (p, a, x, y, d) => a ? LrnNchwDouble.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNchwDouble.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNchwDouble.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNchwDouble.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
        ["LrnNhwcDouble"] = new("NHWC", 4, 0.3, 0.6, 1.0,
            (p, a, x, y, d) => a ? LrnNhwcDouble.ForwardOnPath<Arm>(p, x, y, d[0], d[1], d[2], d[3]) : LrnNhwcDouble.ForwardOnPath<X86>(p, x, y, d[0], d[1], d[2], d[3]),
            (p, a, x, dy, dx, d) => a ? LrnNhwcDouble.BackwardOnPath<Arm>(p, x, dy, dx, d[0], d[1], d[2], d[3]) : LrnNhwcDouble.BackwardOnPath<X86>(p, x, dy, dx, d[0], d[1], d[2], d[3])),
    };

    /// <summary>Shapes per layout: C = 1, C smaller than the window, C around it, odd spatial extents that leave vector
    /// tails (and, channels-innermost, a last tile that overlaps its neighbour), extents below one vector, planes longer than
    /// one forward chunk (256) and channel counts that shrink the tiles.</summary>
    public static int[][] ShapesFor(string layout) => layout switch
    {
        // Planes of two vectors and more run the strips (the last one overlapped; 551 in two pieces), shorter ones the flat
        // kernel (17, 21, 25 on the 512-bit path; 12 and 6 on the 256- and 128-bit ones).
        "NCHW" => [[2, 1, 3, 7], [1, 2, 5, 5], [2, 3, 1, 17], [1, 7, 3, 13], [2, 13, 5, 9], [1, 4, 1, 1], [1, 9, 2, 1], [1, 6, 19, 29], [1, 6, 33, 40],
            [2, 6, 3, 4], [1, 5, 2, 3]],
        // 16, 48 and 64 channels: rows of whole 512-bit vectors, their squares kept in registers (ForwardRowsInRegisters).
        "NHWC" => [[2, 3, 7, 1], [1, 5, 5, 2], [2, 1, 17, 3], [1, 3, 13, 7], [2, 9, 11, 13], [1, 1, 1, 4], [1, 1, 3, 9], [1, 5, 7, 600], // 600: 16-wide tiles
            [1, 2, 3, 16], [2, 3, 2, 48], [1, 2, 2, 64]],
        "NCL" => [[3, 1, 19], [2, 2, 33], [1, 11, 37], [2, 6, 3], [2, 5, 300]],
        "NLC" => [[3, 19, 1], [2, 33, 2], [1, 37, 11], [2, 3, 6], [1, 150, 5], [2, 7, 32]],
        _ => throw new ArgumentException(layout),
    };

    public static TheoryData<string> FloatNames() => new(Floats.Keys);

    public static TheoryData<string> DoubleNames() => new(Doubles.Keys);

    /// <summary>The widest path the generated code allows for these dims (its ChoosePath, restated).</summary>
    private static KernelPath Widest<T>(string layout, int[] dims)
    {
        int ca = layout.IndexOf('C');
        int outer = dims.Take(ca).Aggregate(1, (a, b) => a * b), inner = dims.Skip(ca + 1).Aggregate(1, (a, b) => a * b);
        return Isa.Select<T>(inner == 1 ? Math.Min(outer, 16) : inner);
    }

    /// <summary>Every (path, arm ops?) to force: each path up to Scalar, and the 128-bit path once more with the ARM64 ops on the stand-in.</summary>
    private static IEnumerable<(KernelPath Path, bool Arm)> Runs()
    {
        foreach (KernelPath p in new[] { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar })
        {
            yield return (p, false);
            if (p == KernelPath.Vector128) yield return (p, true);
        }
    }

    private static float[] Data(Random random, int count, double std = 1)
    {
        return TestData.Normal(random, count, 0, std);
    }

    private static void AssertClose(double[] expected, double[] scale, ReadOnlySpan<float> actual, double relative, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = relative * scale[i] + 1e-30;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bound {bound:R})");
        }
    }

    private static void AssertClose(double[] expected, double[] scale, ReadOnlySpan<double> actual, double relative, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = relative * scale[i] + 1e-300;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bound {bound:R})");
        }
    }

    [Theory, MemberData(nameof(FloatNames))]
    public void FloatLayer_MatchesReference_OnEveryPath(string name)
    {
        FloatCase layer = Floats[name];
        var reference = new LrnReference(layer.Layout, layer.Size, layer.Alpha, layer.Beta, layer.K);
        var random = new Random(KernelCheck.Seed(name, 11));
        int checkedRuns = 0;
        foreach (int[] dims in ShapesFor(layer.Layout))
        {
            int count = TestData.Product(dims);
            float[] x = name.Contains("SmallK") ? SpikyData(random, count) : Data(random, count, 2);
            float[] dy = Data(random, count);
            double[] y = reference.Forward(dims, x);
            double[] yScale = y.Select(Math.Abs).ToArray();
            double[] dx = reference.Backward(dims, x, dy);
            double[] dxScale = reference.BackwardScale(dims, x, dy);
            KernelPath widest = Widest<float>(layer.Layout, dims);
            foreach (var (path, arm) in Runs())
            {
                string what = $"{name} [{string.Join(",", dims)}] {path}{(arm ? " (AdvSimd stand-in)" : "")}";
                var output = new float[count];
                var grad = new float[count];
                output.AsSpan().Fill(float.NaN);
                grad.AsSpan().Fill(float.NaN);
                if (path > widest)
                {
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(path, arm, x, output, dims));
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Backward(path, arm, x, dy, grad, dims));
                    Assert.All(output, v => Assert.True(float.IsNaN(v)));
                    Assert.All(grad, v => Assert.True(float.IsNaN(v)));
                    continue;
                }
                long armCalls = EmulatedAdvSimd.Calls;
                Assert.Equal(path, layer.Forward(path, arm, x, output, dims));
                AssertClose(y, yScale, output, ForwardRelative, what + " forward");
                Assert.Equal(path, layer.Backward(path, arm, x, dy, grad, dims));
                AssertClose(dx, dxScale, grad, BackwardRelative, what + " backward");
                if (arm) Assert.True(EmulatedAdvSimd.Calls > armCalls, what + ": the AdvSimd stand-in was called");
                checkedRuns++;
            }
        }
        Assert.True(checkedRuns >= ShapesFor(layer.Layout).Length, "at least the scalar path ran for every shape");
    }

    [Theory, MemberData(nameof(DoubleNames))]
    public void DoubleLayer_MatchesReference_OnEveryPath(string name)
    {
        DoubleCase layer = Doubles[name];
        var reference = new LrnReference(layer.Layout, layer.Size, layer.Alpha, layer.Beta, layer.K);
        var random = new Random(KernelCheck.Seed(name, 12));
        foreach (int[] dims in ShapesFor(layer.Layout))
        {
            int count = TestData.Product(dims);
            double[] x = Data(random, count, 2).Select(v => (double)v + random.NextDouble() * 1e-3).ToArray();
            double[] dy = Data(random, count).Select(v => (double)v).ToArray();
            double[] y = reference.Forward(dims, x);
            double[] yScale = y.Select(Math.Abs).ToArray();
            double[] dx = reference.Backward(dims, x, dy);
            double[] dxScale = reference.BackwardScale(dims, x, dy);
            KernelPath widest = Widest<double>(layer.Layout, dims);
            foreach (var (path, arm) in Runs())
            {
                string what = $"{name} [{string.Join(",", dims)}] {path}{(arm ? " (AdvSimd stand-in)" : "")}";
                var output = new double[count];
                var grad = new double[count];
                if (path > widest)
                {
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(path, arm, x, output, dims));
                    continue;
                }
                Assert.Equal(path, layer.Forward(path, arm, x, output, dims));
                AssertClose(y, yScale, output, DoubleRelative, what + " forward");
                Assert.Equal(path, layer.Backward(path, arm, x, dy, grad, dims));
                AssertClose(dx, dxScale, grad, DoubleRelative, what + " backward");
            }
        }
    }

    /// <summary>Mostly small values with rare huge ones (|x| ~ 3e3 among ~1e-2): the running sum must not keep the huge
    /// squares' rounding after they leave the window.</summary>
    private static float[] SpikyData(Random random, int count)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
            data[i] = (float)((random.NextDouble() * 2 - 1) * (random.Next(7) == 0 ? 3e3 : 1e-2));
        return data;
    }

    /// <summary>
    /// A channel of 1e20 (its squares overflow float): every window holding it has D = +infinity, and y = x / D^0.75 is
    /// (signed) zero there, as float arithmetic and PyTorch give it, on every path and in both layouts (the 512-bit power's
    /// Newton step would make it NaN unguarded); the windows without it match the float64 reference. Planes of 7x7 (the
    /// flat kernel) and of 40x40 (the columns' ring).
    /// </summary>
    [Theory]
    [InlineData("LrnNchw", new[] { 2, 9, 7, 7 })]
    [InlineData("LrnNchw", new[] { 1, 9, 40, 40 })]
    [InlineData("LrnNhwc", new[] { 2, 7, 7, 40 })]
    [InlineData("LrnNhwc", new[] { 2, 3, 5, 48 })]
    public void OverflowedWindow_GivesZero_OnEveryPath(string name, int[] dims)
    {
        FloatCase layer = Floats[name];
        bool nchw = layer.Layout == "NCHW";
        int count = TestData.Product(dims);
        int channels = nchw ? dims[1] : dims[3], inner = nchw ? dims[2] * dims[3] : 1, big = 4;
        float[] x = Data(new Random(23), count);
        int ChannelOf(int i) => nchw ? i / inner % channels : i % channels;
        for (int i = 0; i < count; i++)
            if (ChannelOf(i) == big) x[i] = (i & 1) == 0 ? 1e20f : -1e20f;
        double[] reference = new LrnReference(layer.Layout, layer.Size, layer.Alpha, layer.Beta, layer.K).Forward(dims, x);
        foreach (var (path, arm) in Runs())
        {
            if (path > Widest<float>(layer.Layout, dims)) continue;
            var y = new float[count];
            Assert.Equal(path, layer.Forward(path, arm, x, y, dims));
            for (int i = 0; i < count; i++)
            {
                int c = ChannelOf(i);
                string what = $"{name} {path}{(arm ? " (AdvSimd stand-in)" : "")} y[{i}] (channel {c})";
                if (Math.Abs(c - big) <= 2) Assert.True(y[i] == 0f, $"{what}: expected 0, got {y[i]:R}");
                else Assert.True(Math.Abs(reference[i] - y[i]) <= ForwardRelative * Math.Abs(reference[i]) + 1e-30, $"{what}: expected {reference[i]:R}, got {y[i]:R}");
            }
        }
    }

    /// <summary>The public surface picks the widest path for long extents (per call, as each ISA leg of tests/run.sh sets it).</summary>
    [Theory]
    [InlineData("NCHW", new[] { 2, 8, 16, 16 })]
    [InlineData("NHWC", new[] { 2, 8, 8, 64 })]
    public void LongExtents_RunOnTheExpectedPath(string layout, int[] dims)
    {
        var random = new Random(5);
        int count = TestData.Product(dims);
        float[] x = Data(random, count), dy = Data(random, count);
        var y = new float[count];
        var dx = new float[count];
        KernelPath expected = IsaPathTests.Expected;
        double[] yRef = new LrnReference(layout).Forward(dims, x);
        if (layout == "NCHW")
        {
            var layer = new LrnNchw();
            layer.Forward(x, y, dims[0], dims[1], dims[2], dims[3]);
            Assert.Equal(expected, layer.LastPath);
            layer.Backward(x, dy, dx, dims[0], dims[1], dims[2], dims[3]);
            Assert.Equal(expected, layer.LastPath);
        }
        else
        {
            var layer = new LrnNhwc();
            layer.Forward(x, y, dims[0], dims[1], dims[2], dims[3]);
            Assert.Equal(expected, layer.LastPath);
            layer.Backward(x, dy, dx, dims[0], dims[1], dims[2], dims[3]);
            Assert.Equal(expected, layer.LastPath);
        }
        AssertClose(yRef, yRef.Select(Math.Abs).ToArray(), y, ForwardRelative, layout + " forward");
    }

    [Fact]
    public void Surface_ReportsTheDeclaration()
    {
        var layer = new LrnNhwcSize2();
        Assert.Equal((2, 0.3, 1.0, 1.5), (layer.Size, layer.Alpha, layer.Beta, layer.K));
        Assert.Equal(KernelPath.None, layer.LastPath);
    }

    [Fact]
    public void TensorOverloads_MatchTheSpanOnes()
    {
        int[] dims = [2, 5, 3, 7];
        var random = new Random(3);
        float[] x = Data(random, 210), dy = Data(random, 210);
        var layer = new LrnNhwc();
        float[] y1 = new float[210], y2 = new float[210], g1 = new float[210], g2 = new float[210];
        layer.Forward(x, y1, 2, 5, 3, 7);
        layer.Backward(x, dy, g1, 2, 5, 3, 7);
        nint[] lengths = [2, 5, 3, 7];
        layer.Forward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(x, lengths), new System.Numerics.Tensors.TensorSpan<float>(y2, lengths));
        layer.Backward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(x, lengths), new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(dy, lengths),
            new System.Numerics.Tensors.TensorSpan<float>(g2, lengths));
        Assert.Equal(KernelCheck.Bits(y1), KernelCheck.Bits(y2));
        Assert.Equal(KernelCheck.Bits(g1), KernelCheck.Bits(g2));
        Assert.Throws<ArgumentException>(() => layer.Forward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(x, lengths),
            new System.Numerics.Tensors.TensorSpan<float>(y2, [2, 5, 7, 3])));
        _ = dims;
    }
}
