using NormKernels.Reference;
using NormKernels.Runtime;
using NormKernels.Tests.Fused;

namespace NormKernels.Tests;

/// <summary>
/// <see cref="StreamingTuner"/>'s schedule and choices from given call times (no clock): one untimed cached call, then
/// calls each way alternating (cached first), ending after two each when one path is faster by the early margin and
/// after three otherwise; the faster path by a 5% margin (the cached one on a tie); a probe of the other path after 16
/// calls that takes over only when it wins by the margin, the period doubling while the choice holds; a new key starting
/// over; calls that never report. The shared choices (tuners of one layer class) are tested with the band end to end
/// (<see cref="AdaptiveStreamingTests"/>: they depend on the process-wide settings).
/// </summary>
public sealed class StreamingTunerTests
{
    private const long Bytes = 12L << 20;

    /// <summary>One call: its ticket, then the time of the path it chose.</summary>
    internal static StreamingTuner.Ticket Call(ref StreamingTuner tuner, long cached, long streamed, long bytes = Bytes, int workers = 1, int mode = 0)
    {
        StreamingTuner.Ticket ticket = tuner.Choose(bytes, workers, mode);
        tuner.Report(ticket, ticket.Streams ? streamed : cached);
        return ticket;
    }

    private static bool[] Paths(ref StreamingTuner tuner, int calls, long cached, long streamed)
    {
        var paths = new bool[calls];
        for (int i = 0; i < calls; i++) paths[i] = Call(ref tuner, cached, streamed).Streams;
        return paths;
    }

    /// <summary>Calls until the tuner has decided (the last one is the first call on the chosen path): their paths.</summary>
    private static List<bool> Trial(ref StreamingTuner tuner, long cached, long streamed)
    {
        var paths = new List<bool>();
        while (!tuner.Decided)
        {
            paths.Add(Call(ref tuner, cached, streamed).Streams);
            Assert.True(paths.Count <= StreamingTuner.FullTrial + 1);
        }
        return paths;
    }

    [Theory]
    [InlineData(100, 90, true)]    // close: three calls each way
    [InlineData(90, 100, false)]
    [InlineData(100, 70, true)]    // 70 is not under 0.7 x 100: still close
    [InlineData(70, 100, false)]
    public void OneUntimedCachedCallThenThreeEachWayAlternatingWhenClose(long cached, long streamed, bool streams)
    {
        var tuner = new StreamingTuner();
        List<bool> paths = Trial(ref tuner, cached, streamed);
        Assert.Equal(StreamingTuner.FullTrial + 1, paths.Count);
        Assert.Equal([false, false, true, false, true, false, true, streams], paths);
        Assert.Equal(streams, tuner.Streams);
        Assert.False(tuner.Adopted);
    }

    [Theory]
    [InlineData(100, 69, true)]    // clear: the trial ends after two calls each way
    [InlineData(100, 50, true)]
    [InlineData(69, 100, false)]
    [InlineData(50, 100, false)]
    public void AClearDifferenceEndsTheTrialAfterTwoCallsEachWay(long cached, long streamed, bool streams)
    {
        var tuner = new StreamingTuner();
        List<bool> paths = Trial(ref tuner, cached, streamed);
        Assert.Equal(StreamingTuner.EarlyTrial + 1, paths.Count);
        Assert.Equal([false, false, true, false, true, streams], paths);
        Assert.Equal(streams, tuner.Streams);
        // Of the first ten calls, two (the cached path's fastest is 100) or three on the slower path.
        bool[] ten = [.. paths, .. Paths(ref tuner, 10 - paths.Count, cached, streamed)];
        Assert.Equal(streams ? 3 : 2, ten.Count(path => path != streams));
    }

    [Theory]
    [InlineData(100, 50, true)]
    [InlineData(50, 100, false)]
    [InlineData(100, 96, false)]   // within the margin: the cached path stays
    [InlineData(100, 94, true)]
    [InlineData(100, 100, false)]
    public void TheTrialKeepsTheFasterPathByTheMargin(long cached, long streamed, bool streams)
    {
        var tuner = new StreamingTuner();
        Trial(ref tuner, cached, streamed);
        bool[] steady = Paths(ref tuner, StreamingTuner.FirstPeriod - 1, cached, streamed);   // up to the first probe
        Assert.All(steady, path => Assert.Equal(streams, path));
        Assert.Equal(streams, tuner.Streams);
        Assert.All(Paths(ref tuner, StreamingTuner.ProbeCalls, cached, streamed), path => Assert.Equal(!streams, path));
    }

    [Fact]
    public void TheFastestCallOfEachPathDecidesNotItsSlowest()
    {
        var tuner = new StreamingTuner();
        // The untimed call, then cached 300, 80, 300 and streamed 70, 400, 400: after two each 70 against 80 is close.
        long[] cachedTimes = [0, 300, 80, 300], streamedTimes = [70, 400, 400];
        int c = 0, s = 0;
        for (int i = 0; i < StreamingTuner.FullTrial; i++)
        {
            StreamingTuner.Ticket ticket = tuner.Choose(Bytes, 1, 0);
            tuner.Report(ticket, ticket.Streams ? streamedTimes[s++] : cachedTimes[c++]);
        }
        Assert.Equal((cachedTimes.Length, streamedTimes.Length), (c, s));
        Assert.True(tuner.Choose(Bytes, 1, 0).Streams);   // 70 < 0.95 * 80
    }

    [Fact]
    public void AProbeTakesOverWhenTheOtherPathHasBecomeFaster()
    {
        var tuner = new StreamingTuner();
        Trial(ref tuner, 50, 100);                             // cached chosen
        // The machine changes: the cached path now takes 100, the streamed one 40.
        bool[] period = Paths(ref tuner, StreamingTuner.FirstPeriod - 1, 100, 40);
        Assert.All(period, path => Assert.False(path));
        bool[] probe = Paths(ref tuner, StreamingTuner.ProbeCalls, 100, 40);
        Assert.All(probe, path => Assert.True(path));
        Assert.True(Call(ref tuner, 100, 40).Streams);         // the probe won: streamed from here
        Assert.True(tuner.Streams);
        // The next probe (of the cached path) comes after the first period again.
        bool[] after = Paths(ref tuner, StreamingTuner.FirstPeriod - 1, 100, 40);
        Assert.All(after, path => Assert.True(path));
        Assert.All(Paths(ref tuner, StreamingTuner.ProbeCalls, 100, 40), path => Assert.False(path));
        Assert.True(Call(ref tuner, 100, 40).Streams);         // that probe lost
    }

    [Fact]
    public void AProbeThatLosesDoublesThePeriodUpToTheLongest()
    {
        var tuner = new StreamingTuner();
        Trial(ref tuner, 50, 100);
        var probes = new List<int>();
        for (int i = 0; i < 4000; i++)
            if (Call(ref tuner, 50, 100).Streams) probes.Add(i);
        // Pairs of probe calls at growing distances: 16 calls on the chosen path (the trial's last call the first of them),
        // then 32, 64, ..., 1024, 1024 between them.
        Assert.Equal((16, 2, 1024), (StreamingTuner.FirstPeriod, StreamingTuner.ProbeCalls, StreamingTuner.LongestPeriod));
        Assert.Equal([15, 16, 15 + 2 + 32, 15 + 2 + 33], probes.Take(4));
        var gaps = new List<int>();
        for (int p = 2; p < probes.Count; p += 2) gaps.Add(probes[p] - probes[p - 2] - StreamingTuner.ProbeCalls);
        Assert.Equal([32, 64, 128, 256, 512, 1024, 1024], gaps.Take(7));
        Assert.False(tuner.Streams);
    }

    [Theory]
    [InlineData(1L << 20, 1, 0)]
    [InlineData(Bytes, 2, 0)]
    [InlineData(Bytes, 1, 1)]
    public void ANewKeyStartsOver(long bytes, int workers, int mode)
    {
        var tuner = new StreamingTuner();
        Paths(ref tuner, 20, 100, 50);
        Assert.True(tuner.Streams);
        var paths = new bool[StreamingTuner.EarlyTrial];
        for (int i = 0; i < paths.Length; i++) paths[i] = Call(ref tuner, 50, 100, bytes, workers, mode).Streams;
        Assert.Equal([false, false, true, false, true], paths);
        Assert.False(tuner.Decided);
        Assert.False(Call(ref tuner, 50, 100, bytes, workers, mode).Streams);
        Assert.True(tuner.Decided);
    }

    [Fact]
    public void CallsThatReportNothingLeaveTheCachedPathAndTheProbesOn()
    {
        // The streamed trial calls throw (no report): no early end, the cached path stays, and the probes still come.
        var tuner = new StreamingTuner();
        var streamedCalls = new List<long>();
        for (int i = 0; i < 300; i++)
        {
            StreamingTuner.Ticket ticket = tuner.Choose(Bytes, 1, 0);
            if (ticket.Streams) streamedCalls.Add(ticket.Call);
            else tuner.Report(ticket, 100);
        }
        // Trial calls 2, 4, 6; the first probe at 7 + 16 = 23 (two calls); the next ones 32, 64 and 128 calls after each probe's end.
        Assert.Equal([2, 4, 6, 23, 24, 57, 58, 123, 124, 253, 254], streamedCalls);
        Assert.False(tuner.Streams);
    }
}

/// <summary>
/// The adaptive band end to end (<see cref="Streaming.Adaptive"/>): with the threshold at 16 MiB, calls of 4-16 MiB (input
/// and output together) go through their layer's tuner, so its trial sends calls 2 and 4 down the streamed path and calls
/// 0, 1 and 3 down the cached one (what follows depends on the times); every call's output (and dx) is the same bits, and
/// matches the float64 reference. Another instance of the class takes up the first one's choice from its first call, unless
/// the settings changed in between. Off, or outside the band, the fixed rule holds.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Streaming.Adaptive
public sealed class AdaptiveStreamingTests : RestoresSettings
{
    private const long Threshold = 16L << 20;

    public static TheoryData<string, int[]> BandCases => new()
    {
        { "BnNchw", [4, 64, 64, 64] },     // 4 MiB a tensor: 8 MiB a forward, 12 MiB a backward
        { "InNchw", [4, 64, 64, 64] },
        { "GnNhwc", [4, 64, 64, 64] },
        { "LnNtc", [8, 128, 1024] },
    };

    /// <summary>The first calls of every trial (an early end comes after them).</summary>
    private static readonly bool[] TrialPattern = [false, false, true, false, true];

    [Theory]
    [MemberData(nameof(BandCases))]
    public void TheTrialTakesBothPathsWithTheSameBits(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        Streaming.ThresholdBytes = Threshold;
        Streaming.Adaptive = true;
        var random = new Random(KernelCheck.Seed(name, 83));
        float[] input = TestData.Uniform(random, dims.Aggregate(1, (a, b) => a * b), -3, 5);
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);
        layer.Training = true;
        int calls = StreamingTuner.FullTrial + 2;
        var streamed = new bool[calls];
        int[]? first = null;
        float[] output = new float[input.Length];
        for (int i = 0; i < calls; i++)
        {
            Array.Fill(output, float.NaN);
            layer.Forward(input, output, dims);
            streamed[i] = Streaming.LastCallStreamed;
            int[] bits = KernelCheck.Bits(output);
            if (first is null) first = bits;
            else Assert.Equal(first, bits);
            if (i == 2)
            {
                // A streamed call against the float64 reference.
                NormReference reference = layerCase.Reference;
                ReferenceResult expected = reference.ForwardTraining(dims, input, layer.Weight, layer.Bias, layer.Epsilon);
                KernelCheck.Outputs(reference, dims, input, layer.Weight, layer.Bias, KernelCheck.BatchTerms(reference, expected.Statistics!), layer.Epsilon,
                    expected.Output, output, name + " streamed trial call");
            }
        }
        if (layer.LastPath == KernelPath.Scalar) Assert.All(streamed, s => Assert.False(s));   // the scalar path never streams
        else Assert.Equal(TrialPattern, streamed.Take(TrialPattern.Length));
    }

    [Fact]
    public void TheBackwardHasItsOwnTrialWithTheSameBits()
    {
        int[] dims = [4, 64, 64, 64];
        LayerCase layerCase = LayerCases.Get("BnNchw");
        Streaming.ThresholdBytes = Threshold;
        Streaming.Adaptive = true;
        var random = new Random(KernelCheck.Seed("BnNchw backward band", 5));
        int length = dims.Aggregate(1, (a, b) => a * b);
        float[] input = TestData.Uniform(random, length, -2, 3), outputGrad = TestData.Uniform(random, length, -1, 1);
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);
        layer.Training = true;
        layer.Forward(input, new float[length], dims);
        var streamed = new bool[TrialPattern.Length];
        int[]? first = null;
        float[] inputGrad = new float[length];
        for (int i = 0; i < TrialPattern.Length; i++)
        {
            Array.Fill(inputGrad, float.NaN);
            layer.Backward(input, outputGrad, inputGrad, dims);
            streamed[i] = Streaming.LastCallStreamed;
            int[] bits = KernelCheck.Bits(inputGrad);
            if (first is null) first = bits;
            else Assert.Equal(first, bits);
        }
        if (layer.LastPath == KernelPath.Scalar) Assert.All(streamed, s => Assert.False(s));
        else Assert.Equal(TrialPattern, streamed);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnotherInstanceOfTheClassTakesUpTheChoice(bool training)
    {
        int[] dims = [4, 64, 64, 64];
        LayerCase layerCase = LayerCases.Get("GnNhwc");
        Streaming.ThresholdBytes = Threshold;
        Streaming.Adaptive = true;
        var random = new Random(KernelCheck.Seed("shared band choice", training ? 1 : 0));
        float[] input = TestData.Uniform(random, dims.Aggregate(1, (a, b) => a * b), -2, 2);
        float[] output = new float[input.Length];
        INormalizationLayer first = layerCase.Create(dims);
        first.Training = training;
        for (int i = 0; i < StreamingTuner.FullTrial + 2; i++) first.Forward(input, output, dims);
        bool chosen = Streaming.LastCallStreamed;   // a call on the chosen path (the first probe comes 16 calls after the choice)
        int[] expected = KernelCheck.Bits(output);
        if (first.LastPath == KernelPath.Scalar) return;   // the scalar path never streams: nothing to choose
        // A new instance: the first instance's path from its first call (a trial would take both within five calls).
        INormalizationLayer second = layerCase.Create(dims);
        second.Training = training;
        for (int i = 0; i < StreamingTuner.FirstPeriod - 1; i++)
        {
            Array.Fill(output, float.NaN);
            second.Forward(input, output, dims);
            Assert.Equal(chosen, Streaming.LastCallStreamed);
            Assert.Equal(expected, KernelCheck.Bits(output));
        }
        // In the other mode (a new key), and after the settings changed, a new instance runs its own trial.
        INormalizationLayer other = layerCase.Create(dims);
        other.Training = !training;
        Assert.Equal(TrialPattern, Calls(other, input, output, dims, TrialPattern.Length));
        Streaming.Adaptive = false;
        Streaming.Adaptive = true;
        INormalizationLayer third = layerCase.Create(dims);
        third.Training = training;
        Assert.Equal(TrialPattern, Calls(third, input, output, dims, TrialPattern.Length));
    }

    [Theory]
    [InlineData("FBnNchwReluAfter")]
    [InlineData("FBnNchwNoneBefore")]
    public void TheResidualFormsHaveTheirTrialWithTheSameBits(string name)
    {
        int[] dims = [4, 64, 64, 64];   // 4 MiB a tensor: the input and the output 8 MiB, in the band
        FusedEntry entry = FusedCases.All[name];
        FusedSpec spec = entry.Spec with { Dims = dims };
        var forward = (FusedForward<float>)entry.Forward;
        var backward = (FusedBackward<float>)entry.Backward;
        Streaming.ThresholdBytes = Threshold;
        Streaming.Adaptive = true;
        var random = new Random(KernelCheck.Seed(name, 17));
        int length = spec.Length, channels = spec.Channels;
        float[] x = TestData.Normal(random, length, 0.5, 2), r = TestData.Normal(random, length, 0, 1), dy = TestData.Uniform(random, length, -1, 1);
        float[] gamma = TestData.Normal(random, channels, 1, 0.3), beta = TestData.Normal(random, channels, 0, 0.3);
        object layer = entry.Create(channels);
        gamma.CopyTo((float[])layer.GetType().GetProperty("Weight")!.GetValue(layer)!, 0);
        beta.CopyTo((float[])layer.GetType().GetProperty("Bias")!.GetValue(layer)!, 0);
        bool scalar = Isa.Select(1 << 20) == KernelPath.Scalar;
        float[] y = new float[length], sum = new float[length];
        int[]? firstY = null, firstSum = null;
        for (int i = 0; i < TrialPattern.Length; i++)
        {
            Array.Fill(y, float.NaN);
            Array.Fill(sum, float.NaN);
            forward(layer, x, r, y, sum, dims);
            Assert.Equal(TrialPattern[i] && !scalar, Streaming.LastCallStreamed);
            firstY ??= KernelCheck.Bits(y);
            Assert.Equal(firstY, KernelCheck.Bits(y));
            if (spec.Before)
            {
                firstSum ??= KernelCheck.Bits(sum);
                Assert.Equal(firstSum, KernelCheck.Bits(sum));
            }
        }
        // The last call (streamed) against the float64 reference: the norm of the rounded sum (before), or the norm plus the
        // residual (after), the activation last.
        double[] xd = (spec.Before ? sum : x).Select(v => (double)v).ToArray();
        double[] expected = FusedReference.Forward(spec, xd, r.Select(v => (double)v).ToArray(), gamma.Select(v => (double)v).ToArray(),
            beta.Select(v => (double)v).ToArray(), 1e-5).Y;
        for (int i = 0; i < length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 3e-5 * (1 + Math.Abs(expected[i])), $"{name} y[{i}]: {y[i]:R}, expected {expected[i]:R}");
        // The backward's own trial (of the last training forward): dx and the residual's gradient the same bits on both paths.
        float[] dx = new float[length], g = spec.Before ? TestData.Uniform(random, length, -1, 1) : new float[length];
        int[]? firstDx = null, firstG = null;
        for (int i = 0; i < TrialPattern.Length; i++)
        {
            Array.Fill(dx, float.NaN);
            if (!spec.Before) Array.Fill(g, float.NaN);
            backward(layer, spec.Before ? sum : x, r, dy, dx, g, dims);
            Assert.Equal(TrialPattern[i] && !scalar, Streaming.LastCallStreamed);
            firstDx ??= KernelCheck.Bits(dx);
            Assert.Equal(firstDx, KernelCheck.Bits(dx));
            firstG ??= KernelCheck.Bits(g);
            Assert.Equal(firstG, KernelCheck.Bits(g));
        }
    }

    /// <summary>Whether each of <paramref name="count"/> forward calls streamed.</summary>
    private static bool[] Calls(INormalizationLayer layer, float[] input, float[] output, int[] dims, int count)
    {
        var streamed = new bool[count];
        for (int i = 0; i < count; i++)
        {
            layer.Forward(input, output, dims);
            streamed[i] = Streaming.LastCallStreamed;
        }
        return streamed;
    }

    [Fact]
    public void OffOrOutsideTheBandTheFixedRuleHolds()
    {
        LayerCase layerCase = LayerCases.Get("InNchw");
        Streaming.ThresholdBytes = Threshold;
        var random = new Random(KernelCheck.Seed("band edges", 9));
        (int[] Dims, bool Adaptive, bool Streams)[] cases =
        [
            ([4, 64, 64, 64], false, false),   // 8 MiB, in the band, adaptive off: under the threshold, cached
            ([2, 64, 64, 64], true, false),    // 4 MiB: not over AdaptiveMinimumBytes, cached
            ([3, 64, 64, 64], true, false),    // 6 MiB: over a quarter of the threshold, not over three eighths, cached
            ([9, 64, 64, 64], true, true),     // 18 MiB: over the threshold, streamed from the first call
        ];
        foreach (var (dims, adaptive, streams) in cases)
        {
            Streaming.Adaptive = adaptive;
            float[] input = TestData.Uniform(random, dims.Aggregate(1, (a, b) => a * b), -1, 1);
            INormalizationLayer layer = layerCase.Create(dims);
            float[] output = new float[input.Length];
            for (int i = 0; i < TrialPattern.Length; i++)
            {
                layer.Forward(input, output, dims);
                Assert.Equal(streams && layer.LastPath != KernelPath.Scalar, Streaming.LastCallStreamed);
            }
        }
    }
}
