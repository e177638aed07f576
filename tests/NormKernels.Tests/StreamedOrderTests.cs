using NormKernels.Runtime;
using NormKernels.Tests.Fused;

namespace NormKernels.Tests;

/// <summary>
/// The orders calls that stream take. BatchNorm NCHW's channels in memory order: where the output streams, each worker's
/// share of the channels is one group, its statistics pass and then its apply each one sequential stream through every
/// row (N) of the tensor, instead of groups of a few channels. Each channel's sums must be those of any grouping (the same
/// bits in memory order as in the cached groups, at 1 and 2 threads, the output at any alignment), and the output, the
/// saved statistics and the running statistics must match a float64 reference written from the formulas. The backward
/// likewise (dx and the parameter gradients). And InstanceNorm NCHW's rows (planes) read from memory, pipelined: each
/// row's streamed apply side by side with the next row's sums.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Parallelism.MaxDegree
public sealed class StreamedOrderTests : RestoresSettings
{
    private static float[] Random(int length, int seed)
    {
        var random = new Random(seed);
        var data = new float[length];
        // Offset data (mean 4, spread 3): the sums are of x - shift, so an error there would show.
        for (int i = 0; i < length; i++) data[i] = (float)(4 + 3 * (random.NextDouble() - 0.5));
        return data;
    }

    /// <summary>BatchNorm over N, H, W of an NCHW tensor in double: y (before the activation), the batch mean, the biased
    /// variance and the unbiased one (for the running update).</summary>
    private static (double[] Y, double[] Mean, double[] Variance, double[] Unbiased) Reference(float[] x, int n, int c, int hw, float[] weight, float[] bias,
        double epsilon)
    {
        var y = new double[x.Length];
        var mean = new double[c];
        var variance = new double[c];
        var unbiased = new double[c];
        double count = (double)n * hw;
        for (int k = 0; k < c; k++)
        {
            double s = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) s += x[(i * c + k) * hw + j];
            double m = s / count, q = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) q += (x[(i * c + k) * hw + j] - m) * (x[(i * c + k) * hw + j] - m);
            mean[k] = m;
            variance[k] = q / count;
            unbiased[k] = q / (count - 1);
            double rstd = 1 / Math.Sqrt(variance[k] + epsilon);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++)
                {
                    int at = (i * c + k) * hw + j;
                    y[at] = (x[at] - m) * rstd * weight[k] + bias[k];
                }
        }
        return (y, mean, variance, unbiased);
    }

    private static void SetParameters(float[] weight, float[] bias, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < weight.Length; i++) weight[i] = (float)(0.5 + random.NextDouble());
        for (int i = 0; i < bias.Length; i++) bias[i] = (float)(random.NextDouble() - 0.5);
    }

    /// <summary>A new layer's training forward into a NaN-guarded buffer at <paramref name="offset"/>: the output's bits, the
    /// running statistics' bits, whether the call streamed and ran in memory order, and its workers.</summary>
    private static (int[] Output, int[] RunningMean, int[] RunningVar, bool Streamed, bool MemoryOrder, KernelPath Path, int Workers) Run(
        Func<int, INormalizationLayer> create, int[] dims, float[] x, long threshold, int degree, int offset)
    {
        using var scope = DegreeScope.Set(degree);
        INormalizationLayer layer = create(dims[1]);
        SetParameters(layer.Weight, layer.Bias, 7);
        Streaming.ThresholdBytes = threshold;
        float[] buffer = Enumerable.Repeat(float.NaN, x.Length + 32).ToArray();
        layer.Forward(x, buffer.AsSpan(offset, x.Length), dims);
        Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
        return (KernelCheck.Bits(buffer.AsSpan(offset, x.Length)), KernelCheck.Bits(layer.RunningMean!), KernelCheck.Bits(layer.RunningVar!),
            Streaming.LastCallStreamed, Streaming.LastCallMemoryOrder, layer.LastPath, ParallelUnits.LastWorkers);
    }

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        // 41 channels: cached, in groups of 6 (7 units, the last one of 5 channels); in memory order, one group of 41 at 1
        // thread and two (21 and 20 channels) at 2.
        { 3, 41, 2, 600 },
        // Cached, groups of 3 channels (8 units), runs of 1,400.
        { 4, 24, 1, 1400 },
        // Runs of 500 floats (2,000 bytes), too short to stream: stored normally in a call that streams.
        { 3, 40, 2, 250 },
        // 30,000 channels of 4 floats: more than a group in memory order takes (InterleavedRuns.MemoryOrderScratch), so
        // several groups a worker, one after the other.
        { 2, 30000, 1, 4 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MemoryOrderGivesTheGroupsBitsAndTheReference(int n, int c, int h, int w)
    {
        int[] dims = [n, c, h, w];
        float[] x = Random(n * c * h * w, n * c + w);
        Func<int, INormalizationLayer> create = channels => new BnNchw(channels);
        var plain = Run(create, dims, x, long.MaxValue, 1, 0);
        Assert.False(plain.MemoryOrder);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 5 })
            {
                var ordered = Run(create, dims, x, 0, degree, offset);
                // Every vector path streams this call and runs it in memory order, a share of the channels a worker; the
                // scalar path does neither.
                Assert.Equal(ordered.Path != KernelPath.Scalar, ordered.Streamed);
                Assert.Equal(ordered.Path != KernelPath.Scalar, ordered.MemoryOrder);
                // A share of the channels a thread where the call is large enough for two.
                if (ordered.MemoryOrder) Assert.Equal(Math.Min(degree, Math.Max(1, x.Length / Parallelism.MinElementsPerThread)), ordered.Workers);
                Assert.Equal(plain.Output, ordered.Output);
                Assert.Equal(plain.RunningMean, ordered.RunningMean);
                Assert.Equal(plain.RunningVar, ordered.RunningVar);
            }

        var layer = new BnNchw(c);
        SetParameters(layer.Weight, layer.Bias, 7);
        Streaming.ThresholdBytes = 0;
        var y = new float[x.Length];
        layer.Forward(x, y, n, c, h, w);
        var expected = Reference(x, n, c, h * w, layer.Weight, layer.Bias, layer.Epsilon);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - expected.Y[i]) <= 2e-5 * (1 + Math.Abs(expected.Y[i])), $"element {i}: {y[i]}, the reference {expected.Y[i]}");
        // One training step from running statistics 0 and 1: the batch mean and the unbiased variance, weighed by the momentum.
        double m = layer.Momentum!.Value;
        for (int k = 0; k < c; k++)
        {
            double runningMean = m * expected.Mean[k], runningVar = (1 - m) + m * expected.Unbiased[k];
            Assert.True(Math.Abs(layer.RunningMean[k] - runningMean) <= 1e-5 * (1 + Math.Abs(runningMean)), $"running mean {k}: {layer.RunningMean[k]}, the reference {runningMean}");
            Assert.True(Math.Abs(layer.RunningVar[k] - runningVar) <= 1e-5 * (1 + runningVar), $"running variance {k}: {layer.RunningVar[k]}, the reference {runningVar}");
        }
    }

    [Fact]
    public void MemoryOrderKeepsTheActivation()
    {
        int[] dims = [3, 41, 2, 600];
        float[] x = Random(3 * 41 * 1200, 11);
        Func<int, INormalizationLayer> create = channels => new FBnNchwRelu(channels);
        var plain = Run(create, dims, x, long.MaxValue, 1, 0);
        var ordered = Run(create, dims, x, 0, 2, 3);
        Assert.Equal(ordered.Path != KernelPath.Scalar, ordered.MemoryOrder);
        Assert.Equal(plain.Output, ordered.Output);

        var layer = new FBnNchwRelu(41);
        SetParameters(layer.Weight, layer.Bias, 7);
        Streaming.ThresholdBytes = 0;
        var y = new float[x.Length];
        layer.Forward(x, y, 3, 41, 2, 600);
        var expected = Reference(x, 3, 41, 1200, layer.Weight, layer.Bias, layer.Epsilon);
        int zeros = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Max(0, expected.Y[i]);
            if (e == 0) zeros++;
            Assert.True(Math.Abs(y[i] - e) <= 2e-5 * (1 + Math.Abs(e)), $"element {i}: {y[i]}, the reference {e}");
        }
        Assert.InRange(zeros, x.Length / 10, x.Length - x.Length / 10);
    }

    [Fact]
    public void OtherCallsKeepTheirGroups()
    {
        float[] x = Random(3 * 41 * 1200, 5);
        var layer = new BnNchw(41);
        Streaming.ThresholdBytes = 0;
        layer.Forward(x, new float[x.Length], 3, 41, 2, 600);
        Assert.Equal(layer.LastPath != KernelPath.Scalar, Streaming.LastCallMemoryOrder);
        Assert.False(Streaming.LastCallPipelined);
        // In place: the output is not streamed, and the groups of a few channels read it from cache.
        float[] copy = (float[])x.Clone();
        layer.Forward(copy, copy, 3, 41, 2, 600);
        Assert.False(Streaming.LastCallStreamed);
        Assert.False(Streaming.LastCallMemoryOrder);
        // Inference: no statistics pass.
        layer.Training = false;
        layer.Forward(x, new float[x.Length], 3, 41, 2, 600);
        Assert.False(Streaming.LastCallMemoryOrder);
        // Channels-last: no interleaved blocks.
        var last = new BnNhwc(41);
        last.Forward(x, new float[x.Length], 3, 2, 600, 41);
        Assert.False(Streaming.LastCallMemoryOrder);
    }

    /// <summary>Whether the calls of the order tuner's trial run in memory order: the untimed first call and the trial's first
    /// one in memory order, then the groups and memory order alternating (what follows depends on the times).</summary>
    private static readonly bool[] OrderTrial = [true, true, false, true, false];

    /// <summary>
    /// A layer times both orders past the threshold (Runtime.LayerTuner, Streaming.Adaptive on): a BatchNorm NCHW training
    /// forward runs its channels in memory order on its first two calls and then in groups and in memory order alternating,
    /// every call streamed and the same bits (the groups streamed against memory order streamed, at 1 and 2 threads, the
    /// output at an offset that misaligns it), and a grouped call matches the float64 reference.
    /// </summary>
    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 5)]
    public void TheOrderTrialRunsBothOrdersWithTheSameBits(int degree, int offset)
    {
        int n = 3, c = 41, h = 2, w = 600;
        int[] dims = [n, c, h, w];
        float[] x = Random(n * c * h * w, 43);
        using var scope = DegreeScope.Set(degree);
        Streaming.ThresholdBytes = 0;
        Streaming.Adaptive = true;
        INormalizationLayer layer = new BnNchw(c);
        SetParameters(layer.Weight, layer.Bias, 7);
        float[] buffer = new float[x.Length + 16];
        int[]? first = null;
        var ordered = new bool[StreamingTuner.FullTrial + 1];
        for (int i = 0; i < ordered.Length; i++)
        {
            Array.Fill(buffer, float.NaN);
            layer.Forward(x, buffer.AsSpan(offset, x.Length), dims);
            ordered[i] = Streaming.LastCallMemoryOrder;
            Assert.Equal(layer.LastPath != KernelPath.Scalar, Streaming.LastCallStreamed);
            Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
            int[] bits = KernelCheck.Bits(buffer.AsSpan(offset, x.Length));
            first ??= bits;
            Assert.Equal(first, bits);
            if (i == 2)
            {
                var expected = Reference(x, n, c, h * w, layer.Weight, layer.Bias, layer.Epsilon);
                for (int j = 0; j < x.Length; j++)
                    Assert.True(Math.Abs(buffer[offset + j] - expected.Y[j]) <= 2e-5 * (1 + Math.Abs(expected.Y[j])),
                        $"element {j}: {buffer[offset + j]}, the reference {expected.Y[j]}");
            }
        }
        if (layer.LastPath == KernelPath.Scalar) Assert.All(ordered, o => Assert.False(o));   // the scalar path has no order to choose
        else Assert.Equal(OrderTrial, ordered.Take(OrderTrial.Length));
    }

    /// <summary>The backward's own order trial: dx and the parameter gradients of each call (after <c>ZeroGrad</c>) the same
    /// bits in groups as in memory order, at 1 and 2 threads.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheBackwardOrderTrialGivesTheSameBits(int degree)
    {
        int n = 3, c = 41, h = 2, w = 600;
        int[] dims = [n, c, h, w];
        float[] x = Random(n * c * h * w, 47), dy = Random(n * c * h * w, 53);
        using var scope = DegreeScope.Set(degree);
        Streaming.Adaptive = true;
        INormalizationLayer layer = new BnNchw(c);
        SetParameters(layer.Weight, layer.Bias, 3);
        Streaming.ThresholdBytes = long.MaxValue;
        layer.Forward(x, new float[x.Length], dims);
        Streaming.ThresholdBytes = 0;
        float[] dx = new float[x.Length];
        (int[] Dx, int[] WeightGrad, int[] BiasGrad)? first = null;
        var ordered = new bool[OrderTrial.Length];
        for (int i = 0; i < ordered.Length; i++)
        {
            layer.ZeroGrad();
            Array.Fill(dx, float.NaN);
            layer.Backward(x, dy, dx, dims);
            ordered[i] = Streaming.LastCallMemoryOrder;
            var bits = (KernelCheck.Bits(dx), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad));
            first ??= bits;
            Assert.Equal(first.Value.Dx, bits.Item1);
            Assert.Equal(first.Value.WeightGrad, bits.Item2);
            Assert.Equal(first.Value.BiasGrad, bits.Item3);
        }
        if (layer.LastPath == KernelPath.Scalar) Assert.All(ordered, o => Assert.False(o));
        else Assert.Equal(OrderTrial, ordered);
    }

    /// <summary>With <see cref="Streaming.Adaptive"/> off the fixed rule holds (memory order on every call that streams); calls
    /// with no order to choose (in place, channels last) run as before, and an instance's in-place calls do not keep its
    /// out-of-place calls from their trial (their own key).</summary>
    [Fact]
    public void OffOrWithoutAChoiceTheFixedOrderHolds()
    {
        int[] dims = [3, 41, 2, 600];
        float[] x = Random(3 * 41 * 1200, 59);
        Streaming.ThresholdBytes = 0;
        Streaming.Adaptive = false;
        INormalizationLayer layer = new BnNchw(41);
        bool vector = true;
        for (int i = 0; i < OrderTrial.Length; i++)
        {
            layer.Forward(x, new float[x.Length], dims);
            vector = layer.LastPath != KernelPath.Scalar;
            Assert.Equal(vector, Streaming.LastCallMemoryOrder);
        }
        Streaming.Adaptive = true;
        INormalizationLayer other = new BnNchw(41);
        for (int i = 0; i < OrderTrial.Length; i++)
        {
            float[] copy = (float[])x.Clone();
            other.Forward(copy, copy, dims);   // in place: not streamed, groups from cache
            Assert.False(Streaming.LastCallMemoryOrder);
        }
        var ordered = new bool[OrderTrial.Length];
        for (int i = 0; i < ordered.Length; i++)
        {
            other.Forward(x, new float[x.Length], dims);
            ordered[i] = Streaming.LastCallMemoryOrder;
        }
        if (vector) Assert.Equal(OrderTrial, ordered);
        var last = new BnNhwc(41);
        for (int i = 0; i < OrderTrial.Length; i++)
        {
            last.Forward(x, new float[x.Length], 3, 2, 600, 41);
            Assert.False(Streaming.LastCallMemoryOrder);
        }
    }

    /// <summary>Another instance of the class takes up the first one's order from its first call (no trial), with the same
    /// bits.</summary>
    [Fact]
    public void AnotherInstanceTakesUpTheOrder()
    {
        int[] dims = [3, 41, 2, 600];
        float[] x = Random(3 * 41 * 1200, 61);
        Streaming.ThresholdBytes = 0;
        Streaming.Adaptive = true;
        INormalizationLayer first = new BnNchw(41);
        float[] y = new float[x.Length];
        for (int i = 0; i < StreamingTuner.FullTrial + 2; i++) first.Forward(x, y, dims);
        if (first.LastPath == KernelPath.Scalar) return;
        bool chosen = Streaming.LastCallMemoryOrder;   // a call in the chosen order (the first probe comes 16 calls after the choice)
        int[] expected = KernelCheck.Bits(y);
        INormalizationLayer second = new BnNchw(41);
        for (int i = 0; i < StreamingTuner.FirstPeriod - 1; i++)
        {
            Array.Fill(y, float.NaN);
            second.Forward(x, y, dims);
            Assert.Equal(chosen, Streaming.LastCallMemoryOrder);
            Assert.Equal(expected, KernelCheck.Bits(y));
        }
    }

    /// <summary>A new layer's training forward (normal stores), then its backward with the given threshold into a NaN-guarded
    /// buffer at <paramref name="offset"/>: dx's bits, the parameter gradients' bits, whether dx streamed and ran in memory
    /// order, its path and its workers. The layer is BatchNorm NCHW unless <paramref name="create"/> makes another.</summary>
    private static (int[] InputGrad, int[] WeightGrad, int[] BiasGrad, bool Streamed, bool MemoryOrder, KernelPath Path, int Workers) Backward(int[] dims, float[] x, float[] dy,
        long threshold, int degree, int offset, Func<INormalizationLayer>? create = null, int parameterSeed = 3)
    {
        using var scope = DegreeScope.Set(degree);
        INormalizationLayer layer = create?.Invoke() ?? new BnNchw(dims[1]);
        SetParameters(layer.Weight, layer.Bias, parameterSeed);
        Streaming.ThresholdBytes = long.MaxValue;
        layer.Forward(x, new float[x.Length], dims);
        Streaming.ThresholdBytes = threshold;
        float[] buffer = Enumerable.Repeat(float.NaN, x.Length + 32).ToArray();
        layer.Backward(x, dy, buffer.AsSpan(offset, x.Length), dims);
        Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
        return (KernelCheck.Bits(buffer.AsSpan(offset, x.Length)), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad),
            Streaming.LastCallStreamed, Streaming.LastCallMemoryOrder, layer.LastPath, ParallelUnits.LastWorkers);
    }

    /// <summary>
    /// Blocks of short fold runs (Backward.ShortFolds: GroupNorm NCHW's group of channels, LayerNorm over C,H,W NCHW's
    /// sample, on 7x7 and 17-float planes): dx streamed (the nest's apply, run by run) gives the cached path's bits
    /// (GradientRuns.SharedShortRuns), at 1 and 2 threads and at offsets that misalign dx, and so do the parameter
    /// gradients; nothing outside dx is written.
    /// </summary>
    [Theory]
    [InlineData(nameof(GnNchw), 6, 64, 7, 7)]
    [InlineData(nameof(GnNchw), 3, 48, 1, 17)]
    [InlineData(nameof(LnNchw), 4, 40, 7, 7)]
    public void ShortFoldBlocksStreamedGiveTheCachedBits(string name, int n, int c, int h, int w)
    {
        int[] dims = [n, c, h, w];
        float[] x = Random(n * c * h * w, 17 + c), dy = Random(n * c * h * w, 29 + c);
        INormalizationLayer Create() => name == nameof(GnNchw) ? new GnNchw(c) : new LnNchw(c);
        var cached = Backward(dims, x, dy, long.MaxValue, 1, 0, Create, 7);
        Assert.False(cached.Streamed);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 3, 16 })
            {
                var other = Backward(dims, x, dy, 0, degree, offset, Create, 7);
                Assert.Equal(other.Path != KernelPath.Scalar, other.Streamed);
                Assert.Equal(cached.InputGrad, other.InputGrad);
                Assert.Equal(cached.WeightGrad, other.WeightGrad);
                Assert.Equal(cached.BiasGrad, other.BiasGrad);
                var threaded = Backward(dims, x, dy, long.MaxValue, degree, offset, Create, 7);
                Assert.Equal(cached.InputGrad, threaded.InputGrad);
                Assert.Equal(cached.WeightGrad, threaded.WeightGrad);
            }
    }

    /// <summary>
    /// The same blocks stored normally (GradientRuns.SharedShortRuns: one flat range from dy's vector boundary, or x's where
    /// x and dx share one that dy does not): x, dy and dx at offsets within a line, apart and alike, and dx over dy and
    /// over x, give the bits of every array at offset 0 (each element's dx from its own x and dy by the same expression,
    /// wherever the range starts); nothing outside dx is written.
    /// </summary>
    [Theory]
    [InlineData(nameof(GnNchw), 6, 64, 7, 7)]
    [InlineData(nameof(LnNchw), 4, 40, 7, 7)]
    public void ShortFoldBlocksDoNotDependOnWhereTheArraysStart(string name, int n, int c, int h, int w)
    {
        int[] dims = [n, c, h, w];
        int length = n * c * h * w;
        float[] values = Random(length, 17 + c), grads = Random(length, 29 + c);
        // inPlace 0: dx in its own buffer at dxOffset; 1: dx over dy; 2: dx over x.
        (int[] Dx, int[] WeightGrad, int[] BiasGrad) Run(int xOffset, int dyOffset, int dxOffset, int inPlace)
        {
            using var scope = DegreeScope.Set(1);
            INormalizationLayer layer = name == nameof(GnNchw) ? new GnNchw(c) : new LnNchw(c);
            SetParameters(layer.Weight, layer.Bias, 7);
            Streaming.ThresholdBytes = long.MaxValue;
            float[] xb = Enumerable.Repeat(float.NaN, length + 32).ToArray(), dyb = Enumerable.Repeat(float.NaN, length + 32).ToArray();
            values.CopyTo(xb, xOffset);
            grads.CopyTo(dyb, dyOffset);
            layer.Forward(values, new float[length], dims);
            float[] dxb = inPlace switch { 1 => dyb, 2 => xb, _ => Enumerable.Repeat(float.NaN, length + 32).ToArray() };
            int at = inPlace switch { 1 => dyOffset, 2 => xOffset, _ => dxOffset };
            layer.Backward(xb.AsSpan(xOffset, length), dyb.AsSpan(dyOffset, length), dxb.AsSpan(at, length), dims);
            Assert.False(Streaming.LastCallStreamed);
            Assert.All(dxb.Take(at).Concat(dxb.Skip(at + length)), v => Assert.True(float.IsNaN(v)));
            return (KernelCheck.Bits(dxb.AsSpan(at, length)), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad));
        }
        var expected = Run(0, 0, 0, 0);
        for (int offset = 0; offset < 16; offset++)
            for (int inPlace = 0; inPlace <= 2; inPlace++)
            {
                // x and dy alike at every fourth offset, apart otherwise; dx on x's phase at even offsets (the backward's two choices).
                int dyOffset = offset % 4 == 0 ? offset : (3 * offset + 5) % 16, dxOffset = offset % 2 == 0 ? offset : (7 * offset + 1) % 16;
                var actual = Run(offset, dyOffset, dxOffset, inPlace);
                Assert.Equal(expected.Dx, actual.Dx);
                Assert.Equal(expected.WeightGrad, actual.WeightGrad);
                Assert.Equal(expected.BiasGrad, actual.BiasGrad);
            }
    }

    public static TheoryData<int, int, int, int> BackwardShapes => new()
    {
        // 41 channels: cached, two units (20 and 21 channels), runs of 8 channels and a shorter last run in each; in memory
        // order one run of 41 at 1 thread, and of 20 and 21 at 2.
        { 3, 41, 2, 600 },
        // Runs of 500 floats: dx too short to stream, stored normally in a call that streams.
        { 4, 40, 2, 250 },
        // 30,000 channels of 4 floats: several runs of interleaved blocks a worker in memory order (MemoryOrderScratch).
        { 2, 30000, 1, 4 },
        // Channels of 4 MB and 8 MB (x and dy): one channel per cached unit, each applied from its end in chunks of rows;
        // in memory order both channels in one run (two at 2 threads).
        { 16, 2, 256, 256 },
    };

    [Theory]
    [MemberData(nameof(BackwardShapes))]
    public void MemoryOrderBackwardGivesTheGroupsBitsAndTheReference(int n, int c, int h, int w)
    {
        int[] dims = [n, c, h, w];
        int hw = h * w;
        float[] x = Random(n * c * hw, c + w);
        float[] dy = Random(n * c * hw, c + w + 1);
        for (int i = 0; i < dy.Length; i++) dy[i] -= 4;
        var plain = Backward(dims, x, dy, long.MaxValue, 1, 0);
        Assert.False(plain.MemoryOrder);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 7 })
            {
                var ordered = Backward(dims, x, dy, 0, degree, offset);
                Assert.Equal(ordered.Path != KernelPath.Scalar, ordered.Streamed);
                Assert.Equal(ordered.Path != KernelPath.Scalar, ordered.MemoryOrder);
                // A share of the channels a thread where the call is large enough for two.
                if (ordered.MemoryOrder) Assert.Equal(Math.Min(degree, Math.Max(1, x.Length / Parallelism.MinElementsPerThread)), ordered.Workers);
                Assert.Equal(plain.InputGrad, ordered.InputGrad);
                Assert.Equal(plain.WeightGrad, ordered.WeightGrad);
                Assert.Equal(plain.BiasGrad, ordered.BiasGrad);
            }

        // dx = rstd * gamma * (dy - mean(dy) - xhat * mean(dy * xhat)); dgamma = sum(dy * xhat); dbeta = sum(dy).
        var layer = new BnNchw(c);
        SetParameters(layer.Weight, layer.Bias, 3);
        Streaming.ThresholdBytes = 0;
        layer.Forward(x, new float[x.Length], n, c, h, w);
        var dx = new float[x.Length];
        layer.Backward(x, dy, dx, n, c, h, w);
        var forward = Reference(x, n, c, hw, layer.Weight, layer.Bias, layer.Epsilon);
        double count = (double)n * hw;
        for (int k = 0; k < c; k++)
        {
            double rstd = 1 / Math.Sqrt(forward.Variance[k] + layer.Epsilon), sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++)
                {
                    int at = (i * c + k) * hw + j;
                    sumDy += dy[at];
                    sumDyXhat += dy[at] * (x[at] - forward.Mean[k]) * rstd;
                }
            Assert.True(Math.Abs(layer.BiasGrad[k] - sumDy) <= 1e-4 * (1 + Math.Abs(sumDy)), $"bias gradient {k}: {layer.BiasGrad[k]}, the reference {sumDy}");
            Assert.True(Math.Abs(layer.WeightGrad[k] - sumDyXhat) <= 1e-4 * (1 + Math.Abs(sumDyXhat)), $"weight gradient {k}: {layer.WeightGrad[k]}, the reference {sumDyXhat}");
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++)
                {
                    int at = (i * c + k) * hw + j;
                    double xhat = (x[at] - forward.Mean[k]) * rstd;
                    double expected = rstd * layer.Weight[k] * (dy[at] - sumDy / count - xhat * sumDyXhat / count);
                    Assert.True(Math.Abs(dx[at] - expected) <= 2e-5 * (1 + Math.Abs(expected)), $"dx {at}: {dx[at]}, the reference {expected}");
                }
        }
    }

    /// <summary>The synchronized backward (the gradient sums of every shard added, then each shard's dx) streamed in memory
    /// order gives the cached groups' bits: shards of 1 and 2 samples (the first has no interleaved rows, the second runs
    /// in memory order).</summary>
    [Fact]
    public void SynchronizedBackwardInMemoryOrderGivesTheGroupsBits()
    {
        var c = SynchronizedBackwardTests.Case("BnNchw", [3, 41, 2, 600]);
        INormalizationLayer template = c.Create();
        KernelCheck.Randomize(template, new Random(17));
        float[] x = Random(3 * 41 * 1200, 21), dy = Random(x.Length, 22);
        for (int i = 0; i < dy.Length; i++) dy[i] -= 4;
        Streaming.ThresholdBytes = long.MaxValue;
        var cached = SynchronizedBackwardTests.Step(c, template, x, dy, [1, 2]);
        Assert.False(Streaming.LastCallMemoryOrder);
        Streaming.ThresholdBytes = 0;
        var ordered = SynchronizedBackwardTests.Step(c, template, x, dy, [1, 2]);
        Assert.Equal(ordered.Layers[^1].LastPath != KernelPath.Scalar, Streaming.LastCallMemoryOrder);
        Assert.Equal(KernelCheck.Bits(cached.InputGrad), KernelCheck.Bits(ordered.InputGrad));
        Assert.Equal(KernelCheck.Bits(cached.WeightGrad), KernelCheck.Bits(ordered.WeightGrad));
        Assert.Equal(KernelCheck.Bits(cached.BiasGrad), KernelCheck.Bits(ordered.BiasGrad));
    }

    public static TheoryData<int, int, int, int> RowShapes => new()
    {
        // 80 planes of 1,800 in units of 5 rows, two workers at 2 threads.
        { 4, 20, 3, 600 },
        // Planes of 500 floats (2,000 bytes): too short to stream, each row's apply and the next row's sums on their own.
        { 6, 50, 2, 250 },
        // Planes of 16 KB (applied forwards), 17.5 KB and 32 KB (applied from their ends back: Runs.ReversedApplyBytes), the
        // last two with a rest after the apply's whole steps at every offset.
        { 4, 8, 64, 64 },
        { 4, 8, 67, 67 },
        { 4, 6, 90, 91 },
    };

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void PipelinedRowsGiveTheUnpipelinedBitsAndTheReference(int n, int c, int h, int w)
    {
        int[] dims = [n, c, h, w];
        int hw = h * w;
        float[] x = Random(n * c * hw, n + c + w);
        Func<int, INormalizationLayer> create = channels => new InNchw(channels);
        (int[] Output, bool Streamed, bool Pipelined, KernelPath Path) Go(long threshold, int degree, int offset, bool inPlace = false)
        {
            using var scope = DegreeScope.Set(degree);
            INormalizationLayer layer = create(c);
            SetParameters(layer.Weight, layer.Bias, 9);
            Streaming.ThresholdBytes = threshold;
            float[] buffer = Enumerable.Repeat(float.NaN, x.Length + 32).ToArray();
            if (inPlace)
            {
                // y over x: the input copied into the output's place first.
                x.CopyTo(buffer.AsSpan(offset, x.Length));
                layer.Forward(buffer.AsSpan(offset, x.Length), buffer.AsSpan(offset, x.Length), dims);
            }
            else layer.Forward(x, buffer.AsSpan(offset, x.Length), dims);
            Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
            return (KernelCheck.Bits(buffer.AsSpan(offset, x.Length)), Streaming.LastCallStreamed, Streaming.LastCallPipelined, layer.LastPath);
        }

        var plain = Go(long.MaxValue, 1, 0);
        Assert.False(plain.Pipelined);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 9 })
            {
                var piped = Go(0, degree, offset);
                Assert.Equal(piped.Path != KernelPath.Scalar, piped.Streamed);
                Assert.Equal(piped.Path != KernelPath.Scalar, piped.Pipelined);
                Assert.Equal(plain.Output, piped.Output);
            }
        // Every offset within a line (the apply's head, its steps, forwards or back, and its rest move), and in place (y over
        // x: stored normally, never pipelined).
        for (int offset = 0; offset < 16; offset++)
        {
            var piped = Go(0, 1, offset);
            Assert.Equal(piped.Path != KernelPath.Scalar, piped.Pipelined);
            Assert.Equal(plain.Output, piped.Output);
            Assert.Equal(plain.Output, Go(0, 1, offset, inPlace: true).Output);
        }

        // Each plane standardized on its own, times its channel's weight plus bias.
        var reference = new InNchw(c);
        SetParameters(reference.Weight, reference.Bias, 9);
        Streaming.ThresholdBytes = 0;
        var y = new float[x.Length];
        reference.Forward(x, y, n, c, h, w);
        for (int plane = 0; plane < n * c; plane++)
        {
            double mean = 0, sq = 0;
            for (int j = 0; j < hw; j++) mean += x[plane * hw + j];
            mean /= hw;
            for (int j = 0; j < hw; j++) sq += (x[plane * hw + j] - mean) * (x[plane * hw + j] - mean);
            double rstd = 1 / Math.Sqrt(sq / hw + reference.Epsilon);
            int k = plane % c;
            for (int j = 0; j < hw; j++)
            {
                double expected = (x[plane * hw + j] - mean) * rstd * reference.Weight[k] + reference.Bias[k];
                Assert.True(Math.Abs(y[plane * hw + j] - expected) <= 2e-5 * (1 + Math.Abs(expected)), $"plane {plane}, element {j}: {y[plane * hw + j]}, the reference {expected}");
            }
        }
    }

    /// <summary>A pipelined test's forward: its output (bits and values) and what the call reported.</summary>
    private sealed record Forwarded(int[] Output, float[] Values, bool Streamed, bool Pipelined, KernelPath Path, int Workers);

    /// <summary>A new layer's training forward (parameters from <paramref name="seed"/>) at <paramref name="degree"/> threads
    /// into a NaN-guarded buffer at <paramref name="offset"/>, with <paramref name="threshold"/> as the streaming threshold.</summary>
    private static Forwarded Forward(Func<INormalizationLayer> create, int[] dims, float[] x, long threshold, int degree, int offset, int seed)
    {
        using var scope = DegreeScope.Set(degree);
        INormalizationLayer layer = create();
        SetParameters(layer.Weight, layer.Bias, seed);
        Streaming.ThresholdBytes = threshold;
        float[] buffer = Enumerable.Repeat(float.NaN, x.Length + 32).ToArray();
        layer.Forward(x, buffer.AsSpan(offset, x.Length), dims);
        Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
        return new Forwarded(KernelCheck.Bits(buffer.AsSpan(offset, x.Length)), buffer.AsSpan(offset, x.Length).ToArray(), Streaming.LastCallStreamed,
            Streaming.LastCallPipelined, layer.LastPath, ParallelUnits.LastWorkers);
    }

    public static TheoryData<string, int, int, int, int> BlockShapes => new()
    {
        // Channels last, a sample a block: rows of 4 vectors on AVX-512 (54 rows: three chunks of 16 and 6), of 3 (the
        // single-column loop alone on AVX-512; a column block and two vectors on AVX2), of 10 (two blocks and two vectors),
        // 20 channels (whole vectors on the 128-bit path only), and 147k elements (two workers at 2 threads, 3 samples each).
        { nameof(InNhwc), 5, 6, 9, 64 },
        { nameof(GnNhwc), 5, 6, 9, 64 },
        { nameof(InNhwc), 4, 7, 5, 48 },
        { nameof(GnNhwc), 3, 4, 9, 160 },
        { nameof(InNhwc), 4, 6, 6, 20 },
        { nameof(GnNhwc), 6, 16, 24, 64 },
        // Samples past 16 KB, applied from their ends back (Runs.ReversedApplyBytes; so are the two 23 and 98 KB ones above):
        // rows of 3 vectors (no strip of four on AVX-512) and of 5 (a strip and a vector).
        { nameof(InNhwc), 4, 10, 10, 48 },
        { nameof(InNhwc), 4, 9, 9, 80 },
    };

    [Theory]
    [MemberData(nameof(BlockShapes))]
    public void PipelinedChannelsLastBlocksGiveTheUnpipelinedBitsAndTheReference(string name, int n, int h, int w, int c)
    {
        // InstanceNorm and GroupNorm NHWC streamed: each sample's apply beside the next sample's column sums
        // (Runs.ApplyReduceRows), the same bits as a sample at a time, at 1 and 2 threads and any output alignment.
        int[] dims = [n, h, w, c];
        int hw = h * w, groups = name == nameof(GnNhwc) ? 4 : c;
        float[] x = Random(n * hw * c, n + c + w);
        INormalizationLayer Create() => name == nameof(GnNhwc) ? new GnNhwc(c) : new InNhwc(c);
        Forwarded Go(long threshold, int degree, int offset) => Forward(Create, dims, x, threshold, degree, offset, 11);

        var plain = Go(long.MaxValue, 1, 0);
        Assert.False(plain.Pipelined);
        int lanes = plain.Path switch { KernelPath.Scalar => 0, KernelPath.Vector128 => 4, KernelPath.Vector256 => 8, _ => 16 };
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 5, 16 })
            {
                var piped = Go(0, degree, offset);
                Assert.Equal(plain.Path, piped.Path);
                Assert.Equal(lanes > 0, piped.Streamed);
                Assert.Equal(lanes > 0 && c % lanes == 0 && n >= 2 * piped.Workers, piped.Pipelined);
                if (degree == 2 && x.Length >= 2 * Parallelism.MinElementsPerThread) Assert.Equal(2, piped.Workers);
                Assert.Equal(plain.Output, piped.Output);
            }
        // Every offset within a line: y's head, x's phase against y's (shifted loads or plain) and the last partial vector move.
        for (int offset = 0; offset < 16; offset++)
            Assert.Equal(plain.Output, Go(0, 1, offset).Output);

        var check = Go(0, 1, 3);
        var reference = Create();
        SetParameters(reference.Weight, reference.Bias, 11);
        double[] expected = ChannelsLastGroupsReference(Array.ConvertAll(x, v => (double)v), n, hw, c, groups, reference.Epsilon,
            j => reference.Weight[j], j => reference.Bias[j]);
        for (int at = 0; at < expected.Length; at++)
            Assert.True(Math.Abs(check.Values[at] - expected[at]) <= 2e-5 * (1 + Math.Abs(expected[at])),
                $"sample {at / (hw * c)}, row {at / c % hw}, channel {at % c}: {check.Values[at]}, the reference {expected[at]}");
    }

    /// <summary>The float64 reference of a channels-last group norm over [n, hw, c] (InstanceNorm: a group per channel): each
    /// (sample, group) standardized over its rows and channels, times the channel's weight plus its bias.</summary>
    private static double[] ChannelsLastGroupsReference(double[] x, int n, int hw, int c, int groups, double epsilon,
        Func<int, double> weight, Func<int, double> bias)
    {
        var y = new double[x.Length];
        int perGroup = c / groups;
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
            {
                double mean = 0, sq = 0, count = (double)hw * perGroup;
                for (int r = 0; r < hw; r++)
                    for (int j = g * perGroup; j < (g + 1) * perGroup; j++) mean += x[(s * hw + r) * c + j];
                mean /= count;
                for (int r = 0; r < hw; r++)
                    for (int j = g * perGroup; j < (g + 1) * perGroup; j++) sq += (x[(s * hw + r) * c + j] - mean) * (x[(s * hw + r) * c + j] - mean);
                double rstd = 1 / Math.Sqrt(sq / count + epsilon);
                for (int r = 0; r < hw; r++)
                    for (int j = g * perGroup; j < (g + 1) * perGroup; j++)
                    {
                        int at = (s * hw + r) * c + j;
                        y[at] = (x[at] - mean) * rstd * weight(j) + bias(j);
                    }
            }
        return y;
    }

    public static TheoryData<string, int, int, int, int> RunShapes => new()
    {
        // Blocks of runs: GroupNorm NCHW (4 groups, a group's channels a block: 3 runs of 150, 1,800 bytes, too short to
        // pipeline; 2 of 2,500), LayerNorm over C,H,W (a sample a block, a run a channel); planes of 150 floats (not whole
        // vectors: runs meet inside vectors), 1,023 and 256.
        { nameof(GnNchw), 3, 12, 10, 15 },
        { nameof(GnNchw), 2, 8, 50, 50 },
        { nameof(LnNchw), 5, 6, 10, 15 },
        { nameof(LnNchw), 3, 7, 33, 31 },
        { nameof(LnNchw), 4, 64, 16, 16 },
        // Blocks past 16 KB are applied from their ends back (Runs.ReversedApplyBytes; so are the two above): a group of two
        // runs of 2,115 floats, meeting inside a vector.
        { nameof(GnNchw), 2, 8, 45, 47 },
    };

    [Theory]
    [MemberData(nameof(RunShapes))]
    public void PipelinedRunsGiveTheUnpipelinedBitsAndTheReference(string name, int n, int c, int h, int w)
    {
        // GroupNorm NCHW and LayerNorm over C,H,W streamed on the 512-bit path: each block's apply (its runs, a channel's
        // coefficients each) beside the next block's sums (Runs.ApplyRunsReduce), the same bits as a block at a time.
        int[] dims = [n, c, h, w];
        int hw = h * w, groups = name == nameof(GnNchw) ? 4 : 1;
        float[] x = Random(n * c * hw, n + c + w);
        INormalizationLayer Create() => name == nameof(GnNchw) ? new GnNchw(c) : new LnNchw(c);
        Forwarded Go(long threshold, int degree, int offset) => Forward(Create, dims, x, threshold, degree, offset, 13);

        var plain = Go(long.MaxValue, 1, 0);
        Assert.False(plain.Pipelined);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 3, 16 })
            {
                var piped = Go(0, degree, offset);
                // Blocks of at least 2,048 bytes (Streaming.MinimumRunBytes), runs of at least four vectors, 64 runs at most.
                int runs = c / groups;
                Assert.Equal(plain.Path == KernelPath.Vector512 && hw >= 64 && runs * hw * sizeof(float) >= 2048 && runs <= 64, piped.Pipelined);
                Assert.Equal(plain.Output, piped.Output);
            }
        // Every offset within a line: the apply's head, its vectors across runs (forwards or back) and its last partial vector move.
        for (int offset = 0; offset < 16; offset++)
            Assert.Equal(plain.Output, Go(0, 1, offset).Output);

        // Each (sample, group) standardized over its channels' planes, times the channel's weight plus bias.
        var check = Go(0, 1, 5);
        var reference = Create();
        SetParameters(reference.Weight, reference.Bias, 13);
        double[] expected = NchwGroupsReference(Array.ConvertAll(x, v => (double)v), n, c, hw, groups, reference.Epsilon,
            j => reference.Weight[j], j => reference.Bias[j]);
        for (int at = 0; at < expected.Length; at++)
            Assert.True(Math.Abs(check.Values[at] - expected[at]) <= 2e-5 * (1 + Math.Abs(expected[at])),
                $"sample {at / (c * hw)}, channel {at / hw % c}, element {at % hw}: {check.Values[at]}, the reference {expected[at]}");
    }

    /// <summary>The float64 reference of an NCHW group norm over [n, c, hw] (InstanceNorm: a group per channel): each
    /// (sample, group) standardized over its channels' planes, times the channel's weight plus its bias.</summary>
    private static double[] NchwGroupsReference(double[] x, int n, int c, int hw, int groups, double epsilon,
        Func<int, double> weight, Func<int, double> bias)
    {
        var y = new double[x.Length];
        int perGroup = c / groups;
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
            {
                int start = (s * c + g * perGroup) * hw, count = perGroup * hw;
                double mean = 0, sq = 0;
                for (int i = 0; i < count; i++) mean += x[start + i];
                mean /= count;
                for (int i = 0; i < count; i++) sq += (x[start + i] - mean) * (x[start + i] - mean);
                double rstd = 1 / Math.Sqrt(sq / count + epsilon);
                for (int i = 0; i < count; i++)
                {
                    int channel = g * perGroup + i / hw;
                    y[start + i] = (x[start + i] - mean) * rstd * weight(channel) + bias(channel);
                }
            }
        return y;
    }

    [Theory]
    [InlineData(4, 6, 9, 32)]
    [InlineData(3, 5, 7, 48)]
    // A sample of 18 KB: applied from its end back (Runs.ReversedApplyBytes) on the 512-bit path.
    [InlineData(3, 8, 9, 32)]
    public void PipelinedDoubleBlocksGiveTheUnpipelinedBitsAndTheReference(int n, int h, int w, int c)
    {
        // GroupNorm NHWC in double (4 groups): samples pipelined as the float layers' (Runs.ApplyReduceRows over doubles).
        int hw = h * w, groups = 4;
        var random = new Random(n + h + c);
        double[] x = new double[n * hw * c];
        for (int i = 0; i < x.Length; i++) x[i] = 4 + 3 * (random.NextDouble() - 0.5);
        (long[] Bits, double[] Values, bool Pipelined, KernelPath Path) Go(long threshold, int offset)
        {
            var layer = new GnNhwcDouble(c);
            for (int j = 0; j < c; j++)
            {
                layer.Weight[j] = 0.5 + 0.01 * j;
                layer.Bias[j] = 0.1 - 0.003 * j;
            }
            Streaming.ThresholdBytes = threshold;
            double[] buffer = Enumerable.Repeat(double.NaN, x.Length + 16).ToArray();
            layer.Forward(x, buffer.AsSpan(offset, x.Length), n, h, w, c);
            Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(double.IsNaN(v)));
            double[] values = buffer.AsSpan(offset, x.Length).ToArray();
            return (values.Select(BitConverter.DoubleToInt64Bits).ToArray(), values, Streaming.LastCallPipelined, layer.LastPath);
        }

        var plain = Go(long.MaxValue, 0);
        Assert.False(plain.Pipelined);
        int lanes = plain.Path switch { KernelPath.Scalar => 0, KernelPath.Vector128 => 2, KernelPath.Vector256 => 4, _ => 8 };
        foreach (int offset in new[] { 0, 3, 8 })
        {
            var piped = Go(0, offset);
            Assert.Equal(lanes > 0 && c % lanes == 0, piped.Pipelined);
            Assert.Equal(plain.Bits, piped.Bits);
        }
        var check = Go(0, 5);
        double[] expected = ChannelsLastGroupsReference(x, n, hw, c, groups, 1e-5, j => 0.5 + 0.01 * j, j => 0.1 - 0.003 * j);
        for (int at = 0; at < expected.Length; at++)
            Assert.True(Math.Abs(check.Values[at] - expected[at]) <= 1e-12 * (1 + Math.Abs(expected[at])),
                $"sample {at / (hw * c)}, row {at / c % hw}, channel {at % c}: {check.Values[at]}, the reference {expected[at]}");
    }

    [Theory]
    [InlineData(nameof(GnNchwDouble), 3, 8, 33, 33)]
    [InlineData(nameof(InNchwDouble), 6, 4, 47, 45)]
    [InlineData(nameof(InNchwDouble), 6, 4, 20, 20)]
    public void PipelinedDoubleNchwBlocksGiveTheUnpipelinedBitsAndTheReference(string name, int n, int c, int h, int w)
    {
        // GroupNorm NCHW (4 groups: blocks of two runs of 1,089, 17 KB) and InstanceNorm NCHW (planes of 2,115 doubles, 17 KB;
        // of 400, 3.2 KB) in double, streamed: blocks past 16 KB applied from their ends back on the 512-bit path
        // (Runs.ApplyRunsReduce, Runs.ApplyReduce), the same bits as cached at every offset, and the float64 reference.
        int hw = h * w, groups = name == nameof(GnNchwDouble) ? 4 : c;
        var random = new Random(n + c + w);
        double[] x = new double[n * c * hw];
        for (int i = 0; i < x.Length; i++) x[i] = 4 + 3 * (random.NextDouble() - 0.5);
        (long[] Bits, double[] Values) Go(long threshold, int offset)
        {
            INormalizationLayer<double> layer = name == nameof(GnNchwDouble) ? new GnNchwDouble(c) : new InNchwDouble(c);
            for (int j = 0; j < c; j++)
            {
                layer.Weight[j] = 0.5 + 0.01 * j;
                layer.Bias[j] = 0.1 - 0.003 * j;
            }
            Streaming.ThresholdBytes = threshold;
            double[] buffer = Enumerable.Repeat(double.NaN, x.Length + 16).ToArray();
            layer.Forward(x, buffer.AsSpan(offset, x.Length), [n, c, h, w]);
            Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(double.IsNaN(v)));
            double[] values = buffer.AsSpan(offset, x.Length).ToArray();
            return (values.Select(BitConverter.DoubleToInt64Bits).ToArray(), values);
        }

        var plain = Go(long.MaxValue, 0);
        for (int offset = 0; offset < 8; offset++)
            Assert.Equal(plain.Bits, Go(0, offset).Bits);
        var check = Go(0, 5);
        double[] expected = NchwGroupsReference(x, n, c, hw, groups, 1e-5, j => 0.5 + 0.01 * j, j => 0.1 - 0.003 * j);
        for (int at = 0; at < expected.Length; at++)
            Assert.True(Math.Abs(check.Values[at] - expected[at]) <= 1e-12 * (1 + Math.Abs(expected[at])),
                $"sample {at / (c * hw)}, channel {at / hw % c}, element {at % hw}: {check.Values[at]}, the reference {expected[at]}");
    }

    public static TheoryData<string, int, int, int> AffineRowShapes => new()
    {
        // Rows of 768 floats (3 KB, whole lines), LayerNorm and RMSNorm.
        { "ln", 3, 40, 768 },
        { "rms", 3, 40, 768 },
        // Rows of 1,000 floats with a ReLU after the affine: rows off a line, so each row's head and rest move with the row.
        { "ln-relu", 2, 30, 1000 },
        // Rows of 4,100 floats (16.4 KB: on the 512-bit path applied from their end back, Runs.ReversedApplyBytes); twelve
        // (six rows or fewer take the small calls' row lane, which has no order to choose).
        { "ln", 2, 6, 4100 },
        // Rows of 300 floats (1.2 KB): too short to stream, each row's apply and the next row's sums on their own.
        { "rms", 2, 20, 300 },
    };

    private static INormalizationLayer AffineRows(string kind, int c) => kind switch
    {
        "ln" => new LnNtc(c),
        "rms" => new RmsNtc(c),
        _ => new FLnNtcRelu(c),
    };

    /// <summary>
    /// The rows of a LayerNorm or RMSNorm forward over the last dim past the threshold (Streaming.Adaptive on): the layer's
    /// order tuner runs them row after row on its first two calls, then pipelined (each row's apply beside the next row's
    /// sums, Runs.ApplyReduce with gamma and beta along the row) and row after row alternating, in training and in inference
    /// calls (batch statistics either way), every call the bits of the rows cached row after row (1 and 2 threads, the output
    /// at offsets that move every row's head and rest; in place, never pipelined), and a pipelined call matches the float64
    /// reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(AffineRowShapes))]
    public void PipelinedAffineRowsGiveTheRowByRowBitsAndTheReference(string kind, int n, int t, int c)
    {
        int[] dims = [n, t, c];
        float[] x = Random(n * t * c, n + t + c);
        Streaming.Adaptive = true;
        Streaming.ThresholdBytes = long.MaxValue;
        INormalizationLayer first = AffineRows(kind, c);
        SetParameters(first.Weight, first.Bias, 5);
        float[] cached = new float[x.Length];
        first.Forward(x, cached, dims);
        Assert.False(Streaming.LastCallPipelined);
        int[] expectedBits = KernelCheck.Bits(cached);
        foreach (int degree in new[] { 1, 2 })
            foreach (int offset in new[] { 0, 5, 13 })
                foreach (bool training in new[] { true, false })
                {
                    using var scope = DegreeScope.Set(degree);
                    // A new generation of the settings: no choice an earlier layer of the class made is taken up.
                    Streaming.ThresholdBytes = long.MaxValue;
                    Streaming.ThresholdBytes = 0;
                    INormalizationLayer layer = AffineRows(kind, c);
                    SetParameters(layer.Weight, layer.Bias, 5);
                    layer.Training = training;
                    float[] buffer = new float[x.Length + 16];
                    var piped = new bool[OrderTrial.Length];
                    for (int i = 0; i < piped.Length; i++)
                    {
                        Array.Fill(buffer, float.NaN);
                        layer.Forward(x, buffer.AsSpan(offset, x.Length), dims);
                        piped[i] = Streaming.LastCallPipelined;
                        Assert.False(Streaming.LastCallMemoryOrder);
                        Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + x.Length)), v => Assert.True(float.IsNaN(v)));
                        Assert.Equal(expectedBits, KernelCheck.Bits(buffer.AsSpan(offset, x.Length)));
                    }
                    // The scalar path has no order to choose; every vector path runs the trial: row after row first.
                    if (layer.LastPath == KernelPath.Scalar) Assert.All(piped, p => Assert.False(p));
                    else Assert.Equal(OrderTrial.Select(memory => !memory), piped);
                    // In place (y over x): stored normally, so no order to choose and never pipelined; the same bits.
                    float[] inPlace = (float[])x.Clone();
                    layer.Forward(inPlace, inPlace, dims);
                    Assert.False(Streaming.LastCallPipelined);
                    Assert.Equal(expectedBits, KernelCheck.Bits(inPlace));
                }

        // Each row standardized (LayerNorm) or scaled by its root mean square (RMSNorm), times the weight plus the bias along
        // the row, then the ReLU where the layer has it.
        Streaming.ThresholdBytes = long.MaxValue;
        Streaming.ThresholdBytes = 0;
        INormalizationLayer check = AffineRows(kind, c);
        SetParameters(check.Weight, check.Bias, 5);
        float[] y = new float[x.Length];
        bool pipelined = false;
        for (int i = 0; i < OrderTrial.Length && !pipelined; i++)
        {
            check.Forward(x, y, dims);
            pipelined = Streaming.LastCallPipelined;
        }
        Assert.Equal(check.LastPath != KernelPath.Scalar, pipelined);
        for (int row = 0; row < n * t; row++)
        {
            double mean = 0, sq = 0;
            if (kind != "rms")
            {
                for (int j = 0; j < c; j++) mean += x[row * c + j];
                mean /= c;
            }
            for (int j = 0; j < c; j++) sq += (x[row * c + j] - mean) * (x[row * c + j] - mean);
            double scale = 1 / Math.Sqrt(sq / c + check.Epsilon);
            for (int j = 0; j < c; j++)
            {
                double e = (x[row * c + j] - mean) * scale * check.Weight[j] + (check.Bias.Length > 0 ? check.Bias[j] : 0);
                if (kind == "ln-relu") e = Math.Max(0, e);
                Assert.True(Math.Abs(y[row * c + j] - e) <= 2e-5 * (1 + Math.Abs(e)), $"row {row}, element {j}: {y[row * c + j]}, the reference {e}");
            }
        }
    }
}
