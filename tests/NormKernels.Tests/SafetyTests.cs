using System.Numerics.Tensors;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Issue 9's rows that cannot crash the process once fixed, checked in process: Backward refuses statistics saved for
/// other dims and an input that is not the Forward's; overflow messages name one dim and the real product; the thread
/// contract's safe cases (inference on one instance, static kernels) are bitwise equal to a serial run; Statistics.Merge
/// refuses non-finite or fractional values and overlapping outputs. Every refusal writes nothing (sentinel outputs,
/// gradients, saved statistics and running statistics compared bit for bit). The crash cases are in SafetyCaseTests.
/// </summary>
public sealed class SafetyTests
{
    private static readonly float SentinelFloat = BitConverter.Int32BitsToSingle(0x7FC0BEEF);
    private static readonly double SentinelDouble = BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF);

    private static float[] Sentinel(int length) => Enumerable.Repeat(SentinelFloat, length).ToArray();
    private static double[] SentinelD(int length) => Enumerable.Repeat(SentinelDouble, length).ToArray();
    private static long[] Bits(double[] values) => values.Select(BitConverter.DoubleToInt64Bits).ToArray();

    /// <summary>Runs <paramref name="call"/>, expects <typeparamref name="TException"/>, and checks that none of the watched arrays changed.</summary>
    private static TException Refuses<TException>(Action call, params float[][] watched) where TException : Exception
    {
        int[][] before = watched.Select(w => KernelCheck.Bits(w)).ToArray();
        TException exception = Assert.Throws<TException>(call);
        for (int i = 0; i < watched.Length; i++) Assert.Equal(before[i], KernelCheck.Bits(watched[i]));
        return exception;
    }

    /// <summary>A layer after one training Forward on its input; the Backward arguments; the arrays a refused Backward must leave alone.</summary>
    private static (INormalizationLayer Layer, int[] Dims, float[] Input, float[] Output, float[] OutputGrad, float[] InputGrad, float[][] Watched) Trained(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims();
        INormalizationLayer layer = layerCase.Create(dims);
        var random = new Random(KernelCheck.Seed(name, 90));
        KernelCheck.Randomize(layer, random);
        float[] input = TestData.Normal(random, TestData.Product(dims), 0.3, 1.2);
        var output = new float[input.Length];
        layer.Training = true;
        layer.Forward(input, output, dims);
        float[] outputGrad = TestData.Normal(random, input.Length, 0, 1), inputGrad = Sentinel(input.Length);
        float[][] watched = [inputGrad, layer.WeightGrad, layer.BiasGrad, layer.RunningMean ?? [], layer.RunningVar ?? [], input, outputGrad];
        return (layer, dims, input, output, outputGrad, inputGrad, watched);
    }

    // ---- Backward after a Forward of another shape with the same length ----------------------------------------------

    /// <summary>The reproducer: GroupNorm NHWC, Groups = 4, 8 channels: Forward (2,4,4,8), Backward (4,2,4,8).
    /// Same length, twice the statistics: the kernel used to read past the saved array.</summary>
    [Fact]
    public void GroupNormBackwardWithOtherDimsOfTheSameLengthIsRefused()
    {
        var layer = new GnNhwc(8);
        float[] input = TestData.Normal(new Random(5), 256, 0, 1), output = new float[256], outputGrad = TestData.Normal(new Random(6), 256, 0, 1);
        layer.Forward(input, output, 2, 4, 4, 8);
        float[] inputGrad = Sentinel(256);
        InvalidOperationException e = Refuses<InvalidOperationException>(() => layer.Backward(input, outputGrad, inputGrad, 4, 2, 4, 8),
            inputGrad, layer.WeightGrad, layer.BiasGrad, layer.BatchMean.ToArray(), layer.BatchVariance.ToArray());
        Assert.Contains("[2, 4, 4, 8]", e.Message);
        Assert.Contains("[4, 2, 4, 8]", e.Message);
        Assert.Contains("'n' is 4", e.Message);
        float[] mean = layer.BatchMean.ToArray();
        Refuses<InvalidOperationException>(() => ((INormalizationLayer)layer).Backward(input, outputGrad, inputGrad, [4, 2, 4, 8]), inputGrad, layer.WeightGrad, layer.BiasGrad);
        Refuses<InvalidOperationException>(() => layer.Backward(new ReadOnlyTensorSpan<float>(input, [4, 2, 4, 8]), new ReadOnlyTensorSpan<float>(outputGrad, [4, 2, 4, 8]),
            new TensorSpan<float>(inputGrad, [4, 2, 4, 8])), inputGrad, layer.WeightGrad, layer.BiasGrad);
        Assert.Equal(KernelCheck.Bits(mean), KernelCheck.Bits(layer.BatchMean));
        // The same dims still work after the refusals.
        layer.Backward(input, outputGrad, inputGrad, 2, 4, 4, 8);
        Assert.DoesNotContain(BitConverter.SingleToInt32Bits(SentinelFloat), KernelCheck.Bits(inputGrad));
    }

    /// <summary>Every layer: Backward with two dims swapped (same length, same channel count and normalized size) after
    /// a Forward refuses, through the typed (via the interface), dims and tensor overloads alike.</summary>
    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void BackwardWithOtherDimsOfTheSameLengthIsRefused(string name)
    {
        var (layer, dims, input, _, outputGrad, inputGrad, watched) = Trained(name);
        int[]? other = SwappedDims(layer, dims);
        if (other is null)
        {
            // Layout NC with a channel count: no other dims of the same length fit the layer; a larger N is refused by
            // the length check (ArgumentException) before the saved state is read.
            Assert.Equal("NC", layer.Layout);
            int[] grown = [dims[0] * 2, dims[1]];
            Refuses<ArgumentException>(() => layer.Backward(input, outputGrad, inputGrad, grown), watched);
            return;
        }
        InvalidOperationException e = Refuses<InvalidOperationException>(() => layer.Backward(input, outputGrad, inputGrad, other), watched);
        Assert.Contains("same shape", e.Message);
        nint[] lengths = other.Select(d => (nint)d).ToArray();
        Refuses<InvalidOperationException>(() => layer.Backward(new ReadOnlyTensorSpan<float>(input, lengths, []), new ReadOnlyTensorSpan<float>(outputGrad, lengths, []),
            new TensorSpan<float>(inputGrad, lengths, [])), watched);
    }

    /// <summary>Two dims to swap so that the length, C (when the layer has a channel count) and the product of the sample
    /// dims (elementwise affine) stay: a valid call for the layer with dims the Forward did not see. Null when there are none.</summary>
    private static int[]? SwappedDims(INormalizationLayer layer, int[] dims)
    {
        string layout = layer.Layout;
        bool fixedC = layer.Affine != AffineMode.Elementwise, fixedSample = layer.Affine == AffineMode.Elementwise;
        for (int i = 0; i < layout.Length; i++)
            for (int j = i + 1; j < layout.Length; j++)
            {
                if (dims[i] == dims[j]) continue;
                if (fixedC && (layout[i] == 'C' || layout[j] == 'C')) continue;
                if (fixedSample && (layout[i] == 'N' || layout[j] == 'N')) continue;
                int[] other = (int[])dims.Clone();
                (other[i], other[j]) = (other[j], other[i]);
                return other;
            }
        return null;
    }

    // ---- Backward given a tensor other than the Forward's input ------------------------------------------------------

    /// <summary>The row: Backward given the Forward's output instead of its input (accepted before, dx off by 0.66).</summary>
    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void BackwardGivenTheForwardsOutputIsRefused(string name)
    {
        var (layer, dims, input, output, outputGrad, inputGrad, watched) = Trained(name);
        InvalidOperationException e = Refuses<InvalidOperationException>(() => layer.Backward(output, outputGrad, inputGrad, dims), watched);
        Assert.Contains("not the input of the last training-mode Forward", e.Message);
        nint[] lengths = dims.Select(d => (nint)d).ToArray();
        Refuses<InvalidOperationException>(() => layer.Backward(new ReadOnlyTensorSpan<float>(output, lengths, []), new ReadOnlyTensorSpan<float>(outputGrad, lengths, []),
            new TensorSpan<float>(inputGrad, lengths, [])), watched);
        // Another batch of the same shape, too.
        float[] next = TestData.Normal(new Random(3), input.Length, 0.3, 1.2);
        Refuses<InvalidOperationException>(() => layer.Backward(next, outputGrad, inputGrad, dims), watched);
        // A copy of the input is the input: accepted, same bits as Backward on the original.
        float[] copy = (float[])input.Clone();
        layer.Backward(copy, outputGrad, inputGrad, dims);
        float[] first = (float[])inputGrad.Clone();
        layer.Backward(input, outputGrad, inputGrad, dims);
        Assert.Equal(KernelCheck.Bits(first), KernelCheck.Bits(inputGrad));
    }

    /// <summary>Double layers run the same checks: another shape of the same length, the Forward's output, tensor overloads.</summary>
    [Fact]
    public void DoubleLayersRefuseTheSameWay()
    {
        var layer = new BnNchwDouble(3);
        double[] input = TestData.Normal(new Random(21), 120, 1, 2).Select(v => (double)v).ToArray();
        double[] output = new double[120], outputGrad = TestData.Normal(new Random(22), 120, 0, 1).Select(v => (double)v).ToArray();
        layer.Forward(input, output, 2, 3, 4, 5);
        double[] inputGrad = SentinelD(120), weightGrad = (double[])layer.WeightGrad.Clone(), runningMean = (double[])layer.RunningMean.Clone();
        Assert.Throws<InvalidOperationException>(() => layer.Backward(input, outputGrad, inputGrad, 2, 3, 5, 4));
        Assert.Throws<InvalidOperationException>(() => layer.Backward(output, outputGrad, inputGrad, 2, 3, 4, 5));
        Assert.Throws<InvalidOperationException>(() => layer.Backward(new ReadOnlyTensorSpan<double>(output, [2, 3, 4, 5]),
            new ReadOnlyTensorSpan<double>(outputGrad, [2, 3, 4, 5]), new TensorSpan<double>(inputGrad, [2, 3, 4, 5])));
        Assert.Equal(Bits(SentinelD(120)), Bits(inputGrad));
        Assert.Equal(Bits(weightGrad), Bits(layer.WeightGrad));
        Assert.Equal(Bits(runningMean), Bits(layer.RunningMean));
        layer.Backward(new ReadOnlyTensorSpan<double>((double[])input.Clone(), [2, 3, 4, 5]), new ReadOnlyTensorSpan<double>(outputGrad, [2, 3, 4, 5]),
            new TensorSpan<double>(inputGrad, [2, 3, 4, 5]));
        Assert.DoesNotContain(BitConverter.DoubleToInt64Bits(SentinelDouble), Bits(inputGrad));
    }

    /// <summary>In place: the fingerprint is of the input as given, so after Forward(buffer, buffer) the buffer (now the
    /// output) is refused, and a copy of the input taken before the Forward gives the out-of-place gradients bit for bit.</summary>
    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void BackwardAfterAnInPlaceForwardNeedsTheOriginalInput(string name)
    {
        var (outOfPlace, dims, input, _, outputGrad, expectedGrad, _) = Trained(name);
        outOfPlace.Backward(input, outputGrad, expectedGrad, dims);

        LayerCase layerCase = LayerCases.Get(name);
        INormalizationLayer layer = layerCase.Create(dims);
        outOfPlace.Weight.CopyTo(layer.Weight, 0);
        outOfPlace.Bias.CopyTo(layer.Bias, 0);
        float[] buffer = (float[])input.Clone();
        layer.Forward(buffer, buffer, dims);
        float[] inputGrad = Sentinel(input.Length);
        InvalidOperationException e = Refuses<InvalidOperationException>(() => layer.Backward(buffer, outputGrad, inputGrad, dims), inputGrad, layer.WeightGrad, layer.BiasGrad);
        Assert.Contains("in-place", e.Message);
        layer.Backward(input, outputGrad, inputGrad, dims);
        Assert.Equal(KernelCheck.Bits(expectedGrad), KernelCheck.Bits(inputGrad));
        Assert.Equal(KernelCheck.Bits(outOfPlace.WeightGrad), KernelCheck.Bits(layer.WeightGrad));
    }

    /// <summary>What the fingerprint cannot see: an edit of an element between the sampled positions is accepted (documented).</summary>
    [Fact]
    public void AnEditBetweenTheSampledElementsIsNotDetected()
    {
        var (layer, dims, input, _, outputGrad, inputGrad, _) = Trained(nameof(BnNchw));
        int unsampled = Enumerable.Range(0, input.Length).First(i => Enumerable.Range(0, Fingerprint.Count).All(k => Fingerprint.Position(k, input.Length) != i));
        float[] edited = (float[])input.Clone();
        edited[unsampled] += 1f;
        layer.Backward(edited, outputGrad, inputGrad, dims);
        int sampled = Fingerprint.Position(Fingerprint.Count / 2, input.Length);
        edited[sampled] += 1f;
        Assert.Throws<InvalidOperationException>(() => layer.Backward(edited, outputGrad, inputGrad, dims));
    }

    /// <summary>LayerNorm-like layers (no running statistics) in inference mode keep nothing for Backward: the statistics
    /// Backward uses stay those of the last training-mode Forward.</summary>
    [Fact]
    public void InferenceForwardOfAPerSampleLayerSavesNothingForBackward()
    {
        var (layer, dims, input, _, outputGrad, inputGrad, watched) = Trained(nameof(LnNtc));
        float[] other = TestData.Normal(new Random(8), input.Length, 0, 1), output = new float[input.Length];
        layer.Training = false;
        layer.Forward(other, output, dims);
        layer.Training = true;
        Refuses<InvalidOperationException>(() => layer.Backward(other, outputGrad, inputGrad, dims), watched);
        layer.Backward(input, outputGrad, inputGrad, dims);
    }

    // ---- Overflow messages ------------------------------------------------------------------------------------------

    /// <summary>One dim is blamed (not the list "n, t, c"), and the message gives the product that overflowed, with c in it.</summary>
    [Fact]
    public void OverflowNamesOneDimAndTheRealProduct()
    {
        var layer = new LnNtc(4);
        float[] input = new float[16], output = Sentinel(16);
        var e = Refuses<ArgumentOutOfRangeException>(() => layer.Forward(input, output, 1 << 15, 1 << 15, 4), output);
        Assert.Equal("c", e.ParamName);
        Assert.Contains("(n, t, c)", e.Message);
        Assert.Contains("1073741824 * 4 = 4294967296", e.Message);
        e = Refuses<ArgumentOutOfRangeException>(() => RmsNtc.ForwardTraining(input, output, 1 << 16, 1 << 16, 4, new float[4], new float[4], new float[4], 1e-5f), output);
        Assert.Equal("t", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => LnNtc.StatisticCount(1 << 16, 1 << 16, 4));
        Assert.Equal("t", e.ParamName);
        Assert.Equal(1 << 30, LnNtc.StatisticCount(1 << 15, 1 << 15, 4)); // fits, although n*t*c does not
        e = Assert.Throws<ArgumentOutOfRangeException>(() => GnNhwc.StatisticCount(1 << 30, 1, 1, 8));
        Assert.Equal("c", e.ParamName);
        Assert.Contains("groups (from 'c')", e.Message);
    }

    // ---- The thread contract's safe cases ---------------------------------------------------------------------------

    /// <summary>Inference-mode Forward on one instance from 8 threads at once: bitwise the single-thread result.</summary>
    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void InferenceOnOneInstanceFromEightThreadsIsBitwiseSerial(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims(n: 4);
        INormalizationLayer layer = layerCase.Create(dims);
        var random = new Random(KernelCheck.Seed(name, 91));
        KernelCheck.Randomize(layer, random);
        layer.Training = false;
        float[][] inputs = Enumerable.Range(0, 8).Select(t => TestData.Normal(random, TestData.Product(dims), t, 1 + t)).ToArray();
        float[][] expected = inputs.Select(x => { var y = new float[x.Length]; layer.Forward(x, y, dims); return y; }).ToArray();
        var outputs = inputs.Select(x => new float[x.Length]).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 25; i++)
            {
                try
                {
                    layer.Forward(inputs[t], outputs[t], dims);
                    if (!outputs[t].AsSpan().SequenceEqual(expected[t])) failures.Add($"thread {t}: output differs");
                }
                catch (Exception e)
                {
                    failures.Add($"thread {t}: {e.GetType().Name}: {e.Message}");
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    /// <summary>The static kernels keep no state: 8 threads of ForwardTraining / BackwardTraining at once, each on its own
    /// buffers, give the serial bits.</summary>
    [Fact]
    public void StaticKernelsFromEightThreadsAreBitwiseSerial()
    {
        int[] dims = [4, 6, 10, 12];
        int count = TestData.Product(dims);
        var random = new Random(92);
        float[] weight = TestData.Uniform(random, 6, 0.5, 1.5), bias = TestData.Uniform(random, 6, -0.5, 0.5);
        float[][] inputs = Enumerable.Range(0, 8).Select(t => TestData.Normal(random, count, t, 1)).ToArray();
        float[][] grads = Enumerable.Range(0, 8).Select(_ => TestData.Normal(random, count, 0, 1)).ToArray();

        (float[] Output, float[] InputGrad, float[] WeightGrad) Run(int t)
        {
            float[] output = new float[count], mean = new float[6], variance = new float[6], inputGrad = new float[count], weightGrad = new float[6], biasGrad = new float[6];
            BnNchw.ForwardTraining(inputs[t], output, dims[0], dims[1], dims[2], dims[3], weight, bias, mean, variance, 1e-5f);
            BnNchw.BackwardTraining(inputs[t], grads[t], inputGrad, dims[0], dims[1], dims[2], dims[3], weight, mean, variance, 1e-5f, weightGrad, biasGrad);
            return (output, inputGrad, weightGrad);
        }

        var serial = Enumerable.Range(0, 8).Select(Run).ToArray();
        var parallel = new (float[], float[], float[])[8];
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() => { start.SignalAndWait(); parallel[t] = Run(t); })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int t = 0; t < 8; t++)
        {
            Assert.Equal(KernelCheck.Bits(serial[t].Output), KernelCheck.Bits(parallel[t].Item1));
            Assert.Equal(KernelCheck.Bits(serial[t].InputGrad), KernelCheck.Bits(parallel[t].Item2));
            Assert.Equal(KernelCheck.Bits(serial[t].WeightGrad), KernelCheck.Bits(parallel[t].Item3));
        }
    }

    /// <summary>The static kernels' other outputs (statistics; parameter gradients) must not share memory with the tensors
    /// they are computed from or with each other: the kernel would read back what it wrote.</summary>
    [Fact]
    public void StaticKernelOutputsMustNotShareMemory()
    {
        float[] buffer = TestData.Normal(new Random(31), 200, 0, 1), output = Sentinel(120), weight = [1, 1, 1], bias = [0, 0, 0];
        float[] variance = Sentinel(3);
        var e = Refuses<ArgumentException>(() => BnNchw.ForwardTraining(buffer.AsSpan(0, 120), output, 2, 3, 4, 5, weight, bias, buffer.AsSpan(100, 3), variance, 1e-5f),
            buffer, output, variance);
        Assert.Equal("mean", e.ParamName);
        float[] mean = Sentinel(3);
        e = Refuses<ArgumentException>(() => BnNchw.ForwardTraining(buffer.AsSpan(0, 120), buffer.AsSpan(0, 120), 2, 3, 4, 5, weight, bias, mean, buffer.AsSpan(50, 3), 1e-5f),
            buffer, mean);
        Assert.Equal("variance", e.ParamName);
        float[] stats = Sentinel(4);
        e = Refuses<ArgumentException>(() => BnNchw.ForwardTraining(buffer.AsSpan(0, 120), output, 2, 3, 4, 5, weight, bias, stats.AsSpan(0, 3), stats.AsSpan(1, 3), 1e-5f),
            buffer, output, stats);
        Assert.Equal("variance", e.ParamName);

        float[] input = buffer[..120], outputGrad = TestData.Normal(new Random(32), 120, 0, 1), grads = Sentinel(130), biasGrad = Sentinel(3);
        float[] batchMean = new float[3], batchVariance = new float[3];
        BnNchw.ForwardTraining(input, new float[120], 2, 3, 4, 5, weight, bias, batchMean, batchVariance, 1e-5f);
        e = Refuses<ArgumentException>(() => BnNchw.BackwardTraining(input, outputGrad, grads.AsSpan(0, 120), 2, 3, 4, 5, weight, batchMean, batchVariance, 1e-5f,
            grads.AsSpan(119, 3), biasGrad), grads, biasGrad, input, outputGrad);
        Assert.Equal("weightGrad", e.ParamName);
        float[] weightGrad = Sentinel(3);
        e = Refuses<ArgumentException>(() => BnNchw.BackwardInference(input, outputGrad, grads.AsSpan(0, 120), 2, 3, 4, 5, weight, batchMean, batchVariance, 1e-5f,
            weightGrad, weightGrad), grads, weightGrad);
        Assert.Equal("biasGrad", e.ParamName);
    }

    /// <summary>ShardStatistics' three outputs are separate buffers, and in a double layer none may share the input's memory.</summary>
    [Fact]
    public void ShardStatisticsOutputsMustNotShareMemory()
    {
        float[] input = TestData.Normal(new Random(33), 120, 0, 1);
        double[] outputs = SentinelD(8), m2 = SentinelD(3);
        var e = Assert.ThrowsAny<ArgumentException>(() => BnNchw.ShardStatistics(input, 2, 3, 4, 5, outputs.AsSpan(0, 3), outputs.AsSpan(2, 3), m2));
        Assert.Equal("mean", e.ParamName);
        Assert.Equal(Bits(SentinelD(8)), Bits(outputs));
        Assert.Equal(Bits(SentinelD(3)), Bits(m2));
        double[] data = TestData.Normal(new Random(34), 130, 0, 1).Select(v => (double)v).ToArray(), before = (double[])data.Clone();
        e = Assert.ThrowsAny<ArgumentException>(() => BnNchwDouble.ShardStatistics(data.AsSpan(0, 120), 2, 3, 4, 5, SentinelD(3), data.AsSpan(119, 3), SentinelD(3)));
        Assert.Equal("mean", e.ParamName);
        Assert.Equal(Bits(before), Bits(data));
    }

    // ---- Statistics.Merge -------------------------------------------------------------------------------------------

    private static void MergeRefuses(string paramName, double[] shardCounts, double[] shardMeans, double[] shardM2, int statistics = 2)
    {
        double[] count = SentinelD(statistics), mean = SentinelD(statistics), m2 = SentinelD(statistics);
        var e = Assert.ThrowsAny<ArgumentException>(() => Statistics.Merge(shardCounts, shardMeans, shardM2, count, mean, m2));
        Assert.Equal(paramName, e.ParamName);
        Assert.Equal(Bits(SentinelD(statistics)), Bits(count));
        Assert.Equal(Bits(SentinelD(statistics)), Bits(mean));
        Assert.Equal(Bits(SentinelD(statistics)), Bits(m2));
    }

    [Fact]
    public void MergeRefusesNonFiniteAndFractionalValues()
    {
        double[] counts = [4, 5, 2, 3], means = [0, 1, 2, 3], m2s = [1, 2, 3, 4];
        MergeRefuses("shardM2", counts, means, [1, double.NaN, 3, 4]);
        MergeRefuses("shardM2", counts, means, [1, 2, double.PositiveInfinity, 4]);
        MergeRefuses("shardMeans", counts, [0, double.NaN, 2, 3], m2s);
        MergeRefuses("shardMeans", counts, [0, 1, double.NegativeInfinity, 3], m2s);
        MergeRefuses("shardCounts", [4, 5.5, 2, 3], means, m2s);
        MergeRefuses("shardCounts", [4, double.NaN, 2, 3], means, m2s);
        // A shard without values may hold any mean (it contributes nothing).
        double[] count = new double[2], mean = new double[2], m2 = new double[2];
        Statistics.Merge([4, 0, 2, 3], [0, double.NaN, 2, 3], m2s, count, mean, m2);
        Assert.Equal([6, 3], count);
    }

    /// <summary>The row: outputs partly overlapping the inputs gave counts [6, 11] for [6, 8]. Each output may be
    /// its own input's first shard (in place), nothing else.</summary>
    [Fact]
    public void MergeRefusesOverlappingOutputsAndMergesInPlace()
    {
        // Two statistics, two shards: counts (4, 5) + (2, 3) = (6, 8).
        double[] Counts() => [4, 5, 2, 3];
        double[] Means() => [0, 1, 2, 3];
        double[] M2s() => [1, 2, 3, 4];

        var (count, mean, m2) = (new double[2], new double[2], new double[2]);
        Statistics.Merge(Counts(), Means(), M2s(), count, mean, m2);
        Assert.Equal([6, 8], count);

        // In place: each output over its own input's first shard.
        double[] counts = Counts(), means = Means(), m2s = M2s();
        Statistics.Merge(counts, means, m2s, counts.AsSpan(0, 2), means.AsSpan(0, 2), m2s.AsSpan(0, 2));
        Assert.Equal(Bits(count), Bits(counts[..2]));
        Assert.Equal(Bits(mean), Bits(means[..2]));
        Assert.Equal(Bits(m2), Bits(m2s[..2]));

        void Refused(string paramName, Func<double[], double[], double[], (Memory<double> Count, Memory<double> Mean, Memory<double> M2)> outputs)
        {
            double[] c = Counts(), mu = Means(), sq = M2s();
            long[] before = [.. Bits(c), .. Bits(mu), .. Bits(sq)];
            var o = outputs(c, mu, sq);
            var e = Assert.ThrowsAny<ArgumentException>(() => Statistics.Merge(c, mu, sq, o.Count.Span, o.Mean.Span, o.M2.Span));
            Assert.Equal(paramName, e.ParamName);
            Assert.Equal(before, Bits(c).Concat(Bits(mu)).Concat(Bits(sq)).ToArray());
        }

        Refused("count", (c, mu, sq) => (c.AsMemory(1, 2), new double[2], new double[2]));        // partly over its own input
        Refused("count", (c, mu, sq) => (c.AsMemory(2, 2), new double[2], new double[2]));        // over the second shard
        Refused("mean", (c, mu, sq) => (new double[2], c.AsMemory(0, 2), new double[2]));         // over another input
        Refused("m2", (c, mu, sq) => (new double[2], new double[2], mu.AsMemory(1, 2)));
        var shared = new double[3];
        Refused("count", (c, mu, sq) => (shared.AsMemory(0, 2), shared.AsMemory(1, 2), new double[2])); // outputs over each other
    }
}
