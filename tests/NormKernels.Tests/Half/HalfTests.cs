using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using NormKernels.Reference;
using NormKernels.Runtime;
using NormKernels.Tests.Fused;

namespace NormKernels.Tests;

/// <summary>What every Half layer has (its generated members implement it).</summary>
public interface IHalfModule
{
    float[] Weight { get; }
    float[] Bias { get; }
    float[] WeightGrad { get; }
    float[] BiasGrad { get; }
    bool Training { get; set; }
    float Epsilon { get; set; }
    KernelPath LastPath { get; }
}

/// <summary>The Half layers with running statistics.</summary>
public interface IHalfRunning : IHalfModule
{
    float[] RunningMean { get; }
    float[] RunningVar { get; }
    float? Momentum { get; set; }
}

public sealed partial class HalfBnNchw : IHalfRunning;
public sealed partial class HalfBnNhwc : IHalfRunning;
public sealed partial class HalfLnNtc : IHalfModule;
public sealed partial class HalfGnNhwc : IHalfModule;
public sealed partial class HalfInNchw : IHalfModule;
public sealed partial class HalfRmsNtc : IHalfModule;
public sealed partial class HalfBnReluNchw : IHalfRunning;
public sealed partial class HalfGnSiluNhwc : IHalfModule;
public sealed partial class HalfBnTailNchw : IHalfRunning;
public sealed partial class HalfPreLnNtc : IHalfModule;

/// <summary>
/// <c>ElementType = typeof(Half)</c> (issue 14): Half tensors in and out, float parameters and statistics. The conversions
/// against the BCL's on every path and every Half value; every norm, training and inference, forward and backward, the
/// residual forms and LocalResponseNorm against the float64 references on the Half inputs; the output within half an ulp
/// of Half (plus float arithmetic) of the reference. The run repeats on every instruction-set path (tests/run.sh's legs).
/// </summary>
[Collection(nameof(ThreadingTests))]   // one test changes the process-wide Parallelism.MaxDegree
public sealed class HalfTests
{
    /// <summary>One ulp of Half relative to the value (rounding to nearest is half of it; the rest covers float arithmetic).</summary>
    private const double HalfRelative = 1.0 / 2048;

    private sealed record Case(FusedSpec Spec, Func<int, IHalfModule> Create, Action<IHalfModule, Half[], Half[], int[]> Forward,
        Action<IHalfModule, Half[], Half[], Half[], int[]> Backward);

    private static FusedSpec Spec(string name, string layout, string axes, int groups = 0, bool rms = false, string activation = "None") =>
        new(name, layout, axes, groups, rms, activation, "None", []);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["HalfBnNchw"] = new(Spec("HalfBnNchw", "NCHW", "NHW"), c => new HalfBnNchw(c),
            (l, x, y, d) => ((HalfBnNchw)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfBnNchw)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
        ["HalfBnNhwc"] = new(Spec("HalfBnNhwc", "NHWC", "NHW"), c => new HalfBnNhwc(c),
            (l, x, y, d) => ((HalfBnNhwc)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfBnNhwc)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
        ["HalfLnNtc"] = new(Spec("HalfLnNtc", "NTC", "C"), c => new HalfLnNtc(c),
            (l, x, y, d) => ((HalfLnNtc)l).Forward(x, y, d[0], d[1], d[2]), (l, x, g, dx, d) => ((HalfLnNtc)l).Backward(x, g, dx, d[0], d[1], d[2])),
        ["HalfGnNhwc"] = new(Spec("HalfGnNhwc", "NHWC", "HWC", groups: 4), c => new HalfGnNhwc(c),
            (l, x, y, d) => ((HalfGnNhwc)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfGnNhwc)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
        ["HalfInNchw"] = new(Spec("HalfInNchw", "NCHW", "HW"), c => new HalfInNchw(c),
            (l, x, y, d) => ((HalfInNchw)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfInNchw)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
        ["HalfRmsNtc"] = new(Spec("HalfRmsNtc", "NTC", "C", rms: true), c => new HalfRmsNtc(c),
            (l, x, y, d) => ((HalfRmsNtc)l).Forward(x, y, d[0], d[1], d[2]), (l, x, g, dx, d) => ((HalfRmsNtc)l).Backward(x, g, dx, d[0], d[1], d[2])),
        ["HalfBnReluNchw"] = new(Spec("HalfBnReluNchw", "NCHW", "NHW", activation: "Relu"), c => new HalfBnReluNchw(c),
            (l, x, y, d) => ((HalfBnReluNchw)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfBnReluNchw)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
        ["HalfGnSiluNhwc"] = new(Spec("HalfGnSiluNhwc", "NHWC", "HWC", groups: 4, activation: "Silu"), c => new HalfGnSiluNhwc(c),
            (l, x, y, d) => ((HalfGnSiluNhwc)l).Forward(x, y, d[0], d[1], d[2], d[3]), (l, x, g, dx, d) => ((HalfGnSiluNhwc)l).Backward(x, g, dx, d[0], d[1], d[2], d[3])),
    };

    /// <summary>Shapes with every kind of run: vector tails, runs shorter than a vector pair (the expanded rows of the Half
    /// inference), long runs, channels last.</summary>
    public static TheoryData<string, int[]> Shapes()
    {
        var data = new TheoryData<string, int[]>();
        foreach (int[] d in new[] { new[] { 3, 5, 7, 7 }, new[] { 2, 4, 9, 13 }, new[] { 2, 8, 16, 16 }, new[] { 4, 3, 1, 70 } })
        {
            data.Add("HalfBnNchw", d);
            data.Add("HalfInNchw", d);
            data.Add("HalfBnReluNchw", d);
        }
        data.Add("HalfBnNhwc", [3, 20, 23, 13]); // rows of 315 x C = 13 (coefficients expanded), the last one shorter
        data.Add("HalfBnNchw", [70, 3, 4, 5]);   // rows of 68 samples, the last one 2
        foreach (int[] d in new[] { new[] { 3, 5, 7, 8 }, new[] { 2, 3, 5, 36 }, new[] { 2, 4, 4, 64 } })
        {
            data.Add("HalfBnNhwc", d);
            data.Add("HalfGnNhwc", d);
            data.Add("HalfGnSiluNhwc", d);
        }
        foreach (int[] d in new[] { new[] { 2, 3, 7 }, new[] { 3, 2, 37 }, new[] { 2, 4, 768 } })
        {
            data.Add("HalfLnNtc", d);
            data.Add("HalfRmsNtc", d);
        }
        return data;
    }

    private static Half[] RandomHalves(Random random, int length, double mean, double std) =>
        TestData.Normal(random, length, mean, std).Select(v => (Half)v).ToArray();

    private static double[] Widen(Half[] values) => values.Select(v => (double)(float)v).ToArray();

    private static double[] Widen(float[] values) => values.Select(v => (double)v).ToArray();

    /// <summary>Every Half output within one Half ulp (relative) plus <paramref name="absolute"/> of the float64 value.</summary>
    private static void CloseHalf(double[] expected, Half[] actual, double absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double a = (float)actual[i], bound = HalfRelative * Math.Abs(expected[i]) + absolute;
            Assert.True(Math.Abs(a - expected[i]) <= bound, $"{what}[{i}]: expected {expected[i]:R}, got {a:R} (bound {bound:E2})");
        }
    }

    private static void CloseFloat(double[] expected, float[] actual, double relative, double absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = relative * Math.Abs(expected[i]) + absolute;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= bound, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bound {bound:E2})");
        }
    }

    private static int ChannelsOf(FusedSpec spec, int[] dims) => dims[spec.Layout.IndexOf('C')];

    private static void Randomize(IHalfModule layer, Random random)
    {
        for (int i = 0; i < layer.Weight.Length; i++)
        {
            layer.Weight[i] = (float)(0.5 + random.NextDouble());
            layer.Bias[i] = (float)(random.NextDouble() - 0.5);
        }
    }

    // ------------------------------------------------------------------ conversions

    [Fact]
    public void ConversionsMatchTheBclOnEveryPathForEveryHalfAndRoundingCase()
    {
        var halves = new Half[65536];
        for (int i = 0; i < halves.Length; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var random = new Random(14);
        var floats = new float[1 << 18];
        for (int i = 0; i < floats.Length; i++)
        {
            floats[i] = (i % 4) switch
            {
                0 => BitConverter.Int32BitsToSingle(random.Next() ^ (random.Next(2) << 31)),                                            // any bits
                1 => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)halves[random.Next(65536)]) + random.Next(-4096, 4097)), // near a Half, ties included
                2 => (float)(random.NextDouble() * 8 - 4),
                _ => (float)((random.NextDouble() - 0.5) * 2e-4),                                                                          // Half subnormals
            };
        }
        float[] specials = [0f, -0f, 65504f, 65519.996f, 65520f, -65520f, 65536f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN,
            5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f, 6.1035153e-5f, float.Epsilon, float.MaxValue, -float.MaxValue];
        specials.CopyTo(floats, 0);
        foreach (KernelPath path in new[] { KernelPath.Scalar, KernelPath.Vector128, KernelPath.Vector256, KernelPath.Vector512 })
        {
            if (path > Isa.Widest) continue;
            var widened = new float[halves.Length];
            HalfConvert.ToSingle(ref halves[0], ref widened[0], halves.Length, path);
            for (int i = 0; i < halves.Length; i++)
            {
                float expected = (float)halves[i];
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(widened[i]) || float.IsNaN(expected) && float.IsNaN(widened[i]),
                    $"{path}: Half 0x{i:X4} widened to {widened[i]:R}, expected {expected:R}");
            }
            var rounded = new Half[floats.Length];
            HalfConvert.ToHalf(ref floats[0], ref rounded[0], floats.Length, path);
            for (int i = 0; i < floats.Length; i++)
            {
                Half expected = (Half)floats[i];
                Assert.True(BitConverter.HalfToUInt16Bits(expected) == BitConverter.HalfToUInt16Bits(rounded[i]) || Half.IsNaN(expected) && Half.IsNaN(rounded[i]),
                    $"{path}: {floats[i]:R} (0x{BitConverter.SingleToInt32Bits(floats[i]):X8}) rounded to 0x{BitConverter.HalfToUInt16Bits(rounded[i]):X4}, " +
                    $"expected 0x{BitConverter.HalfToUInt16Bits(expected):X4}");
                if (Half.IsNaN(expected)) Assert.Equal(Half.IsNegative(expected), Half.IsNegative(rounded[i]));
            }
        }
    }

    [Fact]
    public void InterleavedLanesRoundTripEveryFiniteHalfAndRoundScaledFloatsOnEveryPath()
    {
        var halves = new ushort[65536];
        for (int i = 0; i < halves.Length; i++) halves[i] = (ushort)i;
        var random = new Random(15);
        var floats = new float[1 << 16];
        for (int i = 0; i < floats.Length; i++)
        {
            // Values that round to a finite Half: random bits below 65520, and Half values nudged by up to +-4096 float ulps
            // (ties, subnormals, the edges of each binade).
            float f;
            do
            {
                f = i % 2 == 0 ? BitConverter.Int32BitsToSingle(random.Next(0x477FF000) ^ (random.Next(2) << 31))
                    : BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)random.Next(65536))) + random.Next(-4096, 4097));
            } while (!(Math.Abs(f) < 65520f));
            floats[i] = f;
        }
        if (Isa.Has512) LanesRoundTrip<Half512, System.Runtime.Intrinsics.Vector512<float>>(halves, floats);
        if (Isa.Has256) LanesRoundTrip<Half256, System.Runtime.Intrinsics.Vector256<float>>(halves, floats);
        if (Isa.Has128) LanesRoundTrip<Half128, System.Runtime.Intrinsics.Vector128<float>>(halves, floats);
    }

    private static void LanesRoundTrip<TH, TV>(ushort[] halves, float[] floats) where TH : struct, IHalfLanes<TV> where TV : struct
    {
        int step = 2 * TH.Count;
        var k = HalfConstants<TV>.For<TH>(0x7BFF);
        var copy = new ushort[halves.Length];
        int loaded = 0;
        for (int i = 0; i < halves.Length; i += step)
        {
            bool special = false;
            for (int e = 0; e < step; e++) special |= (halves[i + e] & 0x7FFF) > 0x7BFF;
            bool ok = TH.Load(ref halves[0], i, k.Bound, k.Magnitude, k.Fields, out TV even, out TV odd);
            Assert.True(ok == !special, $"{TH.Path}: the step at 0x{i:X4} loaded {ok}, holds infinity or NaN {special}");
            if (!ok) continue;
            loaded++;
            // The loaded lanes are x * 2^-112, in the lanes' order (element 2t: lane t of even, 2t + 1: lane t of odd).
            var lanes = new float[step];
            MemoryMarshal.Write(MemoryMarshal.AsBytes(lanes.AsSpan(0, TH.Count)), even);
            MemoryMarshal.Write(MemoryMarshal.AsBytes(lanes.AsSpan(TH.Count)), odd);
            for (int t = 0; t < step / 2; t++)
            {
                Assert.Equal((double)BitConverter.UInt16BitsToHalf(halves[i + 2 * t]) * Math.Pow(2, -112), (double)lanes[t]);
                Assert.Equal((double)BitConverter.UInt16BitsToHalf(halves[i + 2 * t + 1]) * Math.Pow(2, -112), (double)lanes[step / 2 + t]);
            }
            TH.Store(ref copy[0], i, even, odd, k.Lsb, k.Half, k.Up, k.Low, k.Sign, k.Word);
            for (int e = 0; e < step; e++)
                Assert.True(halves[i + e] == copy[i + e], $"{TH.Path}: 0x{halves[i + e]:X4} came back 0x{copy[i + e]:X4}");
        }
        Assert.Equal((halves.Length - 2048) / step, loaded); // every step but those of the 2 x 1,024 infinity/NaN codes
        // Floats z = f * 2^-112 in, in the lanes' order: the Half nearest z * 2^112 (ties to even), the float subnormals included.
        var scaled = new float[step];
        var packed = new ushort[step];
        for (int j = 0; j + step <= floats.Length; j += step)
        {
            for (int t = 0; t < step / 2; t++)
            {
                scaled[t] = (float)(floats[j + 2 * t] * Math.Pow(2, -112));
                scaled[step / 2 + t] = (float)(floats[j + 2 * t + 1] * Math.Pow(2, -112));
            }
            TH.Store(ref packed[0], 0, TH.LoadFloat(ref scaled[0], 0), TH.LoadFloat(ref scaled[0], TH.Count), k.Lsb, k.Half, k.Up, k.Low, k.Sign, k.Word);
            for (int e = 0; e < step; e++)
            {
                float z = e % 2 == 0 ? scaled[e / 2] : scaled[step / 2 + e / 2];
                Half expected = (Half)((double)z * Math.Pow(2, 112)), got = BitConverter.UInt16BitsToHalf(packed[e]);
                Assert.True(BitConverter.HalfToUInt16Bits(expected) == packed[e],
                    $"{TH.Path}: {floats[j + e]:R} as z = {z:R} (0x{BitConverter.SingleToInt32Bits(z):X8}) stored 0x{packed[e]:X4}, expected 0x{BitConverter.HalfToUInt16Bits(expected):X4}");
            }
        }
    }

    // ------------------------------------------------------------------ every norm

    [Theory, MemberData(nameof(Shapes))]
    public void TrainingForwardBackwardAndInferenceMatchTheReference(string name, int[] dims)
    {
        Case c = Cases[name];
        FusedSpec spec = c.Spec with { Dims = dims };
        int channels = ChannelsOf(spec, dims);
        IHalfModule layer = c.Create(channels);
        var random = new Random(dims.Sum() * 17 + name.Length);
        Randomize(layer, random);
        Half[] x = RandomHalves(random, spec.Length, 0.5, 2);
        var y = new Half[x.Length];
        double eps = layer.Epsilon;
        double[] gamma = Widen(layer.Weight), beta = Widen(layer.Bias);
        float[]? runningMean = (layer as IHalfRunning)?.RunningMean.ToArray(), runningVar = (layer as IHalfRunning)?.RunningVar.ToArray();

        c.Forward(layer, x, y, dims);
        double[] xd = Widen(x);
        FusedReference.Result forward = FusedReference.Forward(spec, xd, null, gamma, beta, eps);
        CloseHalf(forward.Y, y, 1e-4, name + " training output");
        Assert.Equal(IsaPathTests.Expected >= KernelPath.Vector128 ? layer.LastPath : KernelPath.Scalar, layer.LastPath); // a path ran, reported
        if (layer is IHalfRunning running)
        {
            // PyTorch's update with the unbiased batch variance, momentum 0.1.
            double[] mean = forward.Mean.Select((m, k) => 0.9 * runningMean![k] + 0.1 * m).ToArray();
            double[] variance = forward.Var.Select((v, k) => 0.9 * runningVar![k] + 0.1 * v * forward.Count[k] / (forward.Count[k] - 1)).ToArray();
            CloseFloat(mean, running.RunningMean, 1e-5, 1e-6, name + " running mean");
            CloseFloat(variance, running.RunningVar, 1e-5, 1e-6, name + " running var");
        }

        Half[] dy = RandomHalves(random, x.Length, 0, 1);
        var dx = new Half[x.Length];
        c.Backward(layer, x, dy, dx, dims);
        var (rdx, _, rdgamma, rdbeta) = FusedReference.Backward(spec, xd, null, Widen(dy), gamma, beta, eps, forward, constantStatistics: false);
        double gradScale = rdx.Max(Math.Abs);
        CloseHalf(rdx, dx, 2e-4 * gradScale + 1e-5, name + " inputGrad");
        double count = (double)x.Length / gamma.Length;
        CloseFloat(rdgamma, layer.WeightGrad, 1e-4, 1e-5 * count, name + " weightGrad");
        CloseFloat(rdbeta, layer.BiasGrad, 1e-4, 1e-5 * count, name + " biasGrad");

        // Inference: running statistics for BatchNorm (the Half-native path when there is no activation), the same statistics otherwise.
        layer.Training = false;
        var yi = new Half[x.Length];
        c.Forward(layer, x, yi, dims);
        FusedReference.Result inference = layer is IHalfRunning r
            ? FusedReference.Forward(spec, xd, null, gamma, beta, eps, Widen(r.RunningMean), Widen(r.RunningVar))
            : forward;
        CloseHalf(inference.Y, yi, 1e-4, name + " inference output");

        // In place: the same bits.
        Half[] inPlace = (Half[])x.Clone();
        c.Forward(layer, inPlace, inPlace, dims);
        Assert.Equal(yi, inPlace);
    }

    [Theory]
    [InlineData(1, 64, 56, 56)]   // long runs (splat coefficients)
    [InlineData(8, 64, 7, 7)]     // 49-element planes: coefficients expanded along each sample
    public void HalfBatchNormInferenceRunsOnTheHalfTensorsOnTheProcessPath(int n, int c, int h, int w)
    {
        var layer = new HalfBnNchw(c) { Training = false };
        var random = new Random(n + c + h);
        Randomize(layer, random);
        for (int k = 0; k < c; k++) { layer.RunningMean[k] = (float)random.NextDouble(); layer.RunningVar[k] = (float)(0.5 + random.NextDouble()); }
        Half[] x = RandomHalves(random, n * c * h * w, 0, 2);
        var y = new Half[x.Length];
        layer.Forward(x, y, n, c, h, w);
        Assert.Equal(IsaPathTests.Expected, layer.LastPath);
        var spec = new FusedSpec("HalfBnNchw", "NCHW", "NHW", 0, false, "None", "None", [n, c, h, w]);
        double[] expected = FusedReference.Forward(spec, Widen(x), null, Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon,
            Widen(layer.RunningMean), Widen(layer.RunningVar)).Y;
        CloseHalf(expected, y, 1e-4, "inference");

        // The static kernel on caller-owned statistics: the same bits.
        var ys = new Half[x.Length];
        KernelPath path = HalfBnNchw.ForwardInference(x, ys, n, c, h, w, layer.Weight, layer.Bias, layer.RunningMean, layer.RunningVar, layer.Epsilon);
        Assert.Equal(IsaPathTests.Expected, path);
        Assert.Equal(y, ys);
    }

    [Theory]
    [InlineData(false, 2, 4, 9, 9, false)]   // runs of 81: vector steps, a tail step overlapping the last one
    [InlineData(false, 2, 4, 9, 9, true)]    // in place: the tails element by element
    [InlineData(false, 3, 4, 5, 5, false)]   // 25-element planes: rows of expanded coefficients
    [InlineData(false, 1, 4, 64, 33, false)] // long runs
    [InlineData(true, 2, 64, 5, 7, false)]   // channels last, C = 64: two steps' coefficients in registers, a partial last row
    [InlineData(true, 2, 48, 5, 7, true)]    // C = 48: coefficients loaded along the rows, in place
    public void HalfBatchNormInferenceHandlesInfinityNaNOverflowAndSubnormals(bool channelsLast, int n, int c, int h, int w, bool inPlace)
    {
        IHalfModule layer = channelsLast ? new HalfBnNhwc(c) { Training = false } : new HalfBnNchw(c) { Training = false };
        var running = (IHalfRunning)layer;
        // Channel 0: y = x. 1: a = 4000, so |x| above about 16 overflows. 2: b = -60000, so x above about 5500 (or below
        // -5500) leaves the range. 3: a = 1e-4, outputs in the Half subnormals.
        float[] weight = [1f, 4000f, 1f, 1e-4f], bias = [0f, 0.5f, -60000f, 0f];
        for (int k = 0; k < c; k++) { layer.Weight[k] = weight[k % 4]; layer.Bias[k] = bias[k % 4] + k / 64f; running.RunningMean[k] = 0; running.RunningVar[k] = 1 - (float)layer.Epsilon; }
        var random = new Random(n * 31 + h + (inPlace ? 7 : 0));
        ushort[] specials = [0x7C00, 0xFC00, 0x7E00, 0xFE01, 0x7BFF, 0xFBFF, 0x0001, 0x83FF, 0x0000, 0x8000, 0x4C00, 0xCC00, 0x6D80, 0xED80];
        // Channels last, one bound covers a row of every channel (the smallest, channel 1's 16.4): inputs up to 2 there, so
        // that most steps stay vector steps; up to 20 in NCHW, where channel 1's runs overflow from its own inputs.
        double range = channelsLast ? 2 : 20;
        var x = new Half[n * c * h * w];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Next(60) == 0 ? BitConverter.UInt16BitsToHalf(specials[random.Next(specials.Length)]) : (Half)((random.NextDouble() * 2 - 1) * range);
        Half[] input = (Half[])x.Clone();
        Half[] y = inPlace ? x : new Half[x.Length];
        if (channelsLast) ((HalfBnNhwc)layer).Forward(x, y, n, h, w, c);
        else ((HalfBnNchw)layer).Forward(x, y, n, c, h, w);
        Assert.Equal(IsaPathTests.Expected, layer.LastPath);
        for (int i = 0; i < y.Length; i++)
        {
            int k = channelsLast ? i % c : i / (h * w) % c;
            double xd = (double)input[i], yd = xd / Math.Sqrt((double)running.RunningVar[k] + layer.Epsilon) * layer.Weight[k] + layer.Bias[k];
            Half got = y[i], expected = (Half)yd;
            string what = $"element {i} (channel {k}): x = {input[i]} (0x{BitConverter.HalfToUInt16Bits(input[i]):X4}), y = {yd:R}, got {got} (0x{BitConverter.HalfToUInt16Bits(got):X4})";
            if (double.IsNaN(yd)) { Assert.True(Half.IsNaN(got), what); continue; }
            if (Math.Abs(Math.Abs(yd) - 65520) < 70) continue; // rounding of the float coefficients decides
            Assert.True(expected.Equals(got) && Half.IsNegative(expected) == Half.IsNegative(got)
                || Half.IsFinite(expected) && Half.IsFinite(got) && Math.Abs((double)got - (double)expected) <= Math.Max(Math.Abs((double)expected) / 1024, Math.Pow(2, -24)), what);
        }
    }

    [Fact]
    public void ThreadsDoNotChangeTheBits()
    {
        int[] dims = [4, 32, 40, 40];
        var random = new Random(3);
        Half[] x = RandomHalves(random, TestData.Product(dims), 1, 3), dy = RandomHalves(random, x.Length, 0, 1);
        (Half[] Y, Half[] Yi, Half[] Dx, float[] Wg) Run(int degree)
        {
            using var scope = DegreeScope.Set(degree);
            var layer = new HalfBnNhwc(dims[3]);
            var y = new Half[x.Length];
            var yi = new Half[x.Length];
            var dx = new Half[x.Length];
            layer.Forward(x, y, dims[0], dims[1], dims[2], dims[3]);
            layer.Backward(x, dy, dx, dims[0], dims[1], dims[2], dims[3]);
            layer.Training = false;
            layer.Forward(x, yi, dims[0], dims[1], dims[2], dims[3]);
            return (y, yi, dx, layer.WeightGrad.ToArray());
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Yi, two.Yi);
        Assert.Equal(one.Dx, two.Dx);
        Assert.Equal(one.Wg, two.Wg);
    }

    [Fact]
    public void PerSampleInferenceInTilesEqualsTheWholeTensorBitwise()
    {
        int[] d = [45, 3, 768]; // 2,304 elements a sample: tiles of 28 samples, the last one 17
        var random = new Random(12);
        Half[] x = RandomHalves(random, TestData.Product(d), 1, 2);
        var layer = new HalfLnNtc(768);
        Randomize(layer, random);
        var whole = new Half[x.Length];
        layer.Forward(x, whole, d[0], d[1], d[2]);                 // training: one float call over the whole tensor
        var spec = new FusedSpec("HalfLnNtc", "NTC", "C", 0, false, "None", "None", d);
        CloseHalf(FusedReference.Forward(spec, Widen(x), null, Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon).Y, whole, 1e-4, "training");
        layer.Training = false;
        foreach (int degree in new[] { 1, 2 })
        {
            using var scope = DegreeScope.Set(degree);
            var tiled = new Half[x.Length];
            layer.Forward(x, tiled, d[0], d[1], d[2]);
            Assert.Equal(whole, tiled);
            Half[] inPlace = (Half[])x.Clone();
            layer.Forward(inPlace, inPlace, d[0], d[1], d[2]);
            Assert.Equal(whole, inPlace);
        }
        var shortOutput = new Half[x.Length - 1];
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(x, shortOutput, d[0], d[1], d[2])).ParamName);
        Assert.All(shortOutput, v => Assert.Equal((Half)0, v));
    }

    // ------------------------------------------------------------------ static kernels

    [Fact]
    public void StaticKernelsMatchTheReference()
    {
        int[] d = [3, 6, 5, 9];
        var spec = new FusedSpec("HalfBnNchw", "NCHW", "NHW", 0, false, "None", "None", d);
        var random = new Random(8);
        Half[] x = RandomHalves(random, spec.Length, -1, 2), dy = RandomHalves(random, spec.Length, 0, 1);
        float[] weight = TestData.Uniform(random, 6, 0.5, 1.5), bias = TestData.Uniform(random, 6, -0.5, 0.5);
        var y = new Half[x.Length];
        var mean = new float[6];
        var variance = new float[6];
        HalfBnNchw.ForwardTraining(x, y, d[0], d[1], d[2], d[3], weight, bias, mean, variance, 1e-5f);
        FusedReference.Result f = FusedReference.Forward(spec, Widen(x), null, Widen(weight), Widen(bias), 1e-5);
        CloseHalf(f.Y, y, 1e-4, "static training output");
        CloseFloat(f.Mean, mean, 1e-5, 1e-6, "mean");
        CloseFloat(f.Var, variance, 1e-5, 1e-6, "variance");

        var dx = new Half[x.Length];
        var weightGrad = new float[6];
        var biasGrad = new float[6];
        HalfBnNchw.BackwardTraining(x, dy, dx, d[0], d[1], d[2], d[3], weight, mean, variance, 1e-5f, weightGrad, biasGrad);
        var (rdx, _, rdgamma, rdbeta) = FusedReference.Backward(spec, Widen(x), null, Widen(dy), Widen(weight), Widen(bias), 1e-5, f, constantStatistics: false);
        CloseHalf(rdx, dx, 2e-4 * rdx.Max(Math.Abs) + 1e-5, "static inputGrad");
        CloseFloat(rdgamma, weightGrad, 1e-4, 1e-3, "static weightGrad");
        CloseFloat(rdbeta, biasGrad, 1e-4, 1e-3, "static biasGrad");

        HalfBnNchw.BackwardInference(x, dy, dx, d[0], d[1], d[2], d[3], weight, mean, variance, 1e-5f, weightGrad.AsSpan().ToArray(), new float[6]);
        var (idx, _, _, _) = FusedReference.Backward(spec, Widen(x), null, Widen(dy), Widen(weight), Widen(bias), 1e-5,
            FusedReference.Forward(spec, Widen(x), null, Widen(weight), Widen(bias), 1e-5, Widen(mean), Widen(variance)), constantStatistics: true);
        CloseHalf(idx, dx, 2e-4 * idx.Max(Math.Abs) + 1e-5, "static inference inputGrad");
    }

    // ------------------------------------------------------------------ residual forms

    [Fact]
    public void AddAfterNormForwardAndBackwardMatchTheReference()
    {
        int[] d = [2, 5, 6, 7];
        var spec = new FusedSpec("HalfBnTailNchw", "NCHW", "NHW", 0, false, "Relu", "AddAfterNorm", d);
        var layer = new HalfBnTailNchw(5);
        var random = new Random(21);
        Randomize(layer, random);
        Half[] x = RandomHalves(random, spec.Length, 1, 2), r = RandomHalves(random, spec.Length, 0, 1), dy = RandomHalves(random, spec.Length, 0, 1);
        var y = new Half[x.Length];
        layer.Forward(x, r, y, d[0], d[1], d[2], d[3]);
        FusedReference.Result f = FusedReference.Forward(spec, Widen(x), Widen(r), Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon);
        CloseHalf(f.Y, y, 1e-4, "output");
        var dx = new Half[x.Length];
        var dr = new Half[x.Length];
        layer.Backward(x, r, dy, dx, dr, d[0], d[1], d[2], d[3]);
        var (rdx, rdr, rdgamma, _) = FusedReference.Backward(spec, Widen(x), Widen(r), Widen(dy), Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon, f, false);
        CloseHalf(rdx, dx, 2e-4 * rdx.Max(Math.Abs) + 1e-5, "inputGrad");
        CloseHalf(rdr, dr, 1e-5, "residualGrad");
        CloseFloat(rdgamma, layer.WeightGrad, 1e-4, 1e-3, "weightGrad");
    }

    [Fact]
    public void AddBeforeNormWritesTheHalfSumAndNormalizesIt()
    {
        int[] d = [3, 4, 40];
        var spec = new FusedSpec("HalfPreLnNtc", "NTC", "C", 0, false, "None", "AddBeforeNorm", d);
        var layer = new HalfPreLnNtc(40);
        var random = new Random(22);
        Randomize(layer, random);
        Half[] x = RandomHalves(random, spec.Length, 0, 3), r = RandomHalves(random, spec.Length, 0.5, 1), dy = RandomHalves(random, spec.Length, 0, 1);
        Half[] sumGrad = RandomHalves(random, spec.Length, 0, 0.5);
        var y = new Half[x.Length];
        var sum = new Half[x.Length];
        layer.Forward(x, r, y, sum, d[0], d[1], d[2]);
        for (int i = 0; i < x.Length; i++) Assert.Equal((Half)((float)x[i] + (float)r[i]), sum[i]); // x + r in float, rounded once
        FusedReference.Result f = FusedReference.Forward(spec, Widen(sum), null, Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon);
        CloseHalf(f.Y, y, 1e-4, "output");
        var dx = new Half[x.Length];
        layer.Backward(sum, dy, sumGrad, dx, d[0], d[1], d[2]);
        var (rdx, _, _, _) = FusedReference.Backward(spec, Widen(sum), null, Widen(dy), Widen(layer.Weight), Widen(layer.Bias), layer.Epsilon, f, false);
        double[] expected = rdx.Select((v, i) => v + (float)sumGrad[i]).ToArray();
        CloseHalf(expected, dx, 2e-4 * expected.Max(Math.Abs) + 1e-5, "inputGrad");
    }

    // ------------------------------------------------------------------ LocalResponseNorm

    [Theory]
    [InlineData("NCHW", 2, 7, 5, 6)]
    [InlineData("NHWC", 2, 5, 6, 7)]
    public void LocalResponseNormMatchesTheReference(string layout, int n, int a, int b, int c)
    {
        int[] d = [n, a, b, c];
        var random = new Random(a * b + c);
        Half[] x = RandomHalves(random, TestData.Product(d), 0, 2), dy = RandomHalves(random, x.Length, 0, 1);
        var y = new Half[x.Length];
        var dx = new Half[x.Length];
        LrnReference reference;
        if (layout == "NCHW")
        {
            var layer = new HalfLrnNchw();
            layer.Forward(x, y, n, a, b, c);
            layer.Backward(x, dy, dx, n, a, b, c);
            reference = new LrnReference("NCHW");
        }
        else
        {
            var layer = new HalfLrnNhwc();
            layer.Forward(x, y, n, a, b, c);
            layer.Backward(x, dy, dx, n, a, b, c);
            reference = new LrnReference("NHWC", 3, 0.3, 0.5, 1.5);
        }
        CloseHalf(reference.Forward(d, Widen(x)), y, 1e-5, "LRN output");
        double[] rdx = reference.Backward(d, Widen(x), Widen(dy));
        CloseHalf(rdx, dx, 1e-4 * rdx.Max(Math.Abs) + 1e-5, "LRN inputGrad");
    }

    // ------------------------------------------------------------------ arguments, tensors, state

    [Fact]
    public void BadArgumentsThrowBeforeAnyOutputIsWritten()
    {
        var layer = new HalfBnNchw(4);
        Half[] x = new Half[2 * 4 * 3 * 3];
        var shortOutput = new Half[x.Length - 1];
        Array.Fill(shortOutput, (Half)7);
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(x, shortOutput, 2, 4, 3, 3)).ParamName);
        layer.Training = false; // the Half-native inference checks as the float layer does
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => layer.Forward(x, shortOutput, 2, 4, 3, 3)).ParamName);
        Assert.All(shortOutput, v => Assert.Equal((Half)7, v));
        Assert.Equal("weight", Assert.ThrowsAny<ArgumentException>(() =>
            HalfBnNchw.ForwardInference(x, new Half[x.Length], 2, 4, 3, 3, new float[3], new float[4], new float[4], new float[4], 1e-5f)).ParamName);
        Assert.Equal("epsilon", Assert.ThrowsAny<ArgumentException>(() =>
            HalfBnNchw.ForwardInference(x, new Half[x.Length], 2, 4, 3, 3, new float[4], new float[4], new float[4], new float[4], -1f)).ParamName);
        var fresh = new HalfLnNtc(8);
        var dx = new Half[16];
        Array.Fill(dx, (Half)3);
        Assert.Throws<InvalidOperationException>(() => fresh.Backward(new Half[16], new Half[16], dx, 2, 1, 8));
        Assert.All(dx, v => Assert.Equal((Half)3, v));
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => new HalfLrnNchw().Forward(x, x, 2, 4, 3, 3)).ParamName); // must not overlap
    }

    [Fact]
    public void TensorOverloadsMatchTheSpanCalls()
    {
        int[] d = [2, 3, 16];
        var random = new Random(5);
        Half[] x = RandomHalves(random, 96, 0, 1), dy = RandomHalves(random, 96, 0, 1);
        var a = new HalfLnNtc(16);
        var b = new HalfLnNtc(16);
        var y1 = new Half[96];
        var y2 = new Half[96];
        a.Forward(x, y1, 2, 3, 16);
        b.Forward(new ReadOnlyTensorSpan<Half>(x, [2, 3, 16], []), new TensorSpan<Half>(y2, [2, 3, 16], []));
        Assert.Equal(y1, y2);
        var dx1 = new Half[96];
        var dx2 = new Half[96];
        a.Backward(x, dy, dx1, 2, 3, 16);
        b.Backward(new ReadOnlyTensorSpan<Half>(x, [2, 3, 16], []), new ReadOnlyTensorSpan<Half>(dy, [2, 3, 16], []), new TensorSpan<Half>(dx2, [2, 3, 16], []));
        Assert.Equal(dx1, dx2);
        Assert.Equal(a.WeightGrad, b.WeightGrad);
        Assert.Equal(16, d[2]);

        // The static kernels' tensor forms: the same bits as the span forms, and the bad tensor named before any write.
        int[] bd = [2, 3, 4, 4];
        Half[] bx = RandomHalves(random, 96, -1, 2);
        float[] weight = TestData.Uniform(random, 3, 0.5, 1.5), bias = TestData.Uniform(random, 3, -0.5, 0.5);
        float[] m1 = new float[3], v1 = new float[3], m2 = new float[3], v2 = new float[3];
        Half[] by1 = new Half[96], by2 = new Half[96];
        nint[] lengths = [2, 3, 4, 4];
        HalfBnNchw.ForwardTraining(bx, by1, bd[0], bd[1], bd[2], bd[3], weight, bias, m1, v1, 1e-5f);
        HalfBnNchw.ForwardTraining(new ReadOnlyTensorSpan<Half>(bx, lengths, []), new TensorSpan<Half>(by2, lengths, []), weight, bias, m2, v2, 1e-5f);
        Assert.Equal(by1, by2);
        Assert.Equal(m1, m2);
        Assert.Equal(v1, v2);
        HalfBnNchw.ForwardInference(bx, by1, bd[0], bd[1], bd[2], bd[3], weight, bias, m1, v1, 1e-5f);
        HalfBnNchw.ForwardInference(new ReadOnlyTensorSpan<Half>(bx, lengths, []), new TensorSpan<Half>(by2, lengths, []), weight, bias, m1, v1, 1e-5f);
        Assert.Equal(by1, by2);
        var untouched = Enumerable.Repeat(Half.NaN, 96).ToArray();
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => HalfBnNchw.ForwardInference(new ReadOnlyTensorSpan<Half>(bx, lengths, []),
            new TensorSpan<Half>(untouched, [2, 3, 16], []), weight, bias, m1, v1, 1e-5f)).ParamName);
        Assert.All(untouched, e => Assert.True(Half.IsNaN(e)));
    }

    [Fact]
    public void HalfCallsAllocateNothingOnceWarm()
    {
        using var scope = DegreeScope.Set(1);
        int[] d = [2, 8, 12, 12];
        Half[] x = RandomHalves(new Random(4), TestData.Product(d), 0, 1), dy = RandomHalves(new Random(5), x.Length, 0, 1);
        var y = new Half[x.Length];
        var dx = new Half[x.Length];
        var layer = new HalfBnNchw(8);
        var lrn = new HalfLrnNchw();
        var calls = new (string What, Action Call)[]
        {
            ("training Forward", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Backward", () => layer.Backward(x, dy, dx, d[0], d[1], d[2], d[3])),
            ("inference Forward (Half-native)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("LRN Forward", () => lrn.Forward(x, y, d[0], d[1], d[2], d[3])),
        };
        foreach (var (what, call) in calls)
        {
            long bytes = AllocationTests.AllocatedBytes(call);
            Assert.True(bytes == 0, $"{what}: {bytes} bytes over 20 calls");
        }
    }

    [Fact]
    public void ModuleStateIsFloatWithPyTorchKeys()
    {
        var layer = new HalfBnNhwc(3);
        Half[] x = RandomHalves(new Random(1), 2 * 2 * 2 * 3, 0, 1);
        layer.Forward(x, new Half[x.Length], 2, 2, 2, 3);
        IReadOnlyDictionary<string, double[]> state = layer.StateDict();
        Assert.Equal(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"], state.Keys);
        var copy = new HalfBnNhwc(3);
        copy.LoadStateDict(state);
        Assert.Equal(layer.RunningMean, copy.RunningMean);
        Assert.Equal(layer.RunningVar, copy.RunningVar);
        Assert.Equal(1, copy.NumBatchesTracked);
        Assert.Equal(["weight", "bias"], layer.Parameters().Select(p => p.Name));
    }
}
