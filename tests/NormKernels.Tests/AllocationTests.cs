using System.Numerics;
using System.Numerics.Tensors;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// No allocation per call: with <see cref="Parallelism.MaxDegree"/> = 1 every entry point (instance and static, forward,
/// backward, shards, the synchronized backward, AdaIN, LRN, span and tensor overloads, float and double) runs on pooled
/// scratch alone, so the calling thread's allocated bytes do not move across <see cref="Calls"/> calls once warmed up.
/// With two workers the calling thread allocates nothing either (the pool threads' share is measured process-wide in
/// the README: other tests run beside these, so a process-wide count cannot be asserted here).
/// </summary>
[Collection(nameof(ThreadingTests))]   // sets the process-wide Parallelism.MaxDegree
public sealed class AllocationTests : IDisposable
{
    private const int Calls = 20;

    private readonly int _saved = Parallelism.MaxDegree;

    public void Dispose() => Parallelism.MaxDegree = _saved;

    /// <summary>The bytes this thread allocates over <see cref="Calls"/> calls of <paramref name="call"/>, after a warm-up
    /// (JIT, static state, the pool's first arrays): the fewest over three rounds, so that a pool trimmed by a gen-2 GC of
    /// another test's garbage cannot fail the test, while an allocation in every call shows in every round.</summary>
    internal static long AllocatedBytes(Action call, int rounds = 3)
    {
        for (int i = 0; i < 3; i++) call();
        long fewest = long.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Calls; i++) call();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }

    private static void AssertNoAllocation(IEnumerable<(string What, Action Call)> calls, int degree = 1)
    {
        Parallelism.MaxDegree = degree;
        var failures = new List<string>();
        int count = 0;
        foreach (var (what, call) in calls)
        {
            call();
            if (ParallelUnits.LastWorkers != degree) failures.Add($"{what}: ran on {ParallelUnits.LastWorkers} workers, not {degree}");
            // More rounds with several threads: a pool thread that starts late may make the pool grow its queue.
            long bytes = AllocatedBytes(call, degree == 1 ? 3 : 5);
            if (bytes != 0) failures.Add($"{what}: {bytes} bytes over {Calls} calls ({bytes / (double)Calls:0.#} per call)");
            count++;
        }
        Assert.True(count > 0);
        Assert.True(failures.Count == 0, $"Allocations at MaxDegree = {degree}:\n" + string.Join("\n", failures));
    }

    private static T[] Data<T>(Random random, int length, double low, double high) where T : INumberBase<T>
    {
        var data = new T[length];
        for (int i = 0; i < length; i++) data[i] = T.CreateTruncating(low + (high - low) * random.NextDouble());
        return data;
    }

    private static nint[] Lengths(int[] dims) => Array.ConvertAll(dims, d => (nint)d);

    /// <summary>Every instance member of a layer, in an order whose state each call needs (Backward after a training
    /// Forward, the synchronized backward after ForwardWithStatistics).</summary>
    private static IEnumerable<(string, Action)> InstanceCalls<T>(string name, INormalizationLayer<T> layer, int[] dims)
        where T : unmanaged, INumberBase<T>
    {
        var random = new Random(name.Length * 31 + dims.Length);
        int length = TestData.Product(dims);
        T[] x = Data<T>(random, length, -1, 3), dy = Data<T>(random, length, -1, 1), y = new T[length], dx = new T[length];
        nint[] lengths = Lengths(dims);

        yield return ($"{name}.Forward (training)", () => { layer.Training = true; layer.Forward(x, y, dims); });
        yield return ($"{name}.Backward (training)", () => layer.Backward(x, dy, dx, dims));
        yield return ($"{name}.Forward (tensor, training)", () =>
            layer.Forward(new ReadOnlyTensorSpan<T>(x, lengths, []), new TensorSpan<T>(y, lengths, [])));
        yield return ($"{name}.Backward (tensor)", () =>
            layer.Backward(new ReadOnlyTensorSpan<T>(x, lengths, []), new ReadOnlyTensorSpan<T>(dy, lengths, []), new TensorSpan<T>(dx, lengths, [])));
        yield return ($"{name}.Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, dims); });
        yield return ($"{name}.Backward (inference)", () => { layer.Training = false; layer.Backward(x, dy, dx, dims); });
        layer.Training = true;
        if (layer is ISynchronizedNormalizationLayer<T> synchronized)
        {
            int statistics = synchronized.StatisticCount(dims);
            double[] count = new double[statistics], mean = new double[statistics], m2 = new double[statistics];
            double[] gradCount = new double[statistics], sumGrad = new double[statistics], sumGradCentered = new double[statistics];
            yield return ($"{name}.ShardStatistics", () => synchronized.ShardStatistics(x, dims, count, mean, m2));
            yield return ($"{name}.ForwardWithStatistics", () => synchronized.ForwardWithStatistics(x, y, dims, count, mean, m2));
            yield return ($"{name}.BackwardStatistics", () => synchronized.BackwardStatistics(x, dy, dims, gradCount, sumGrad, sumGradCentered));
            yield return ($"{name}.BackwardWithStatistics", () => synchronized.BackwardWithStatistics(x, dy, dx, dims, gradCount, sumGrad, sumGradCentered));
        }
    }

    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void FloatLayerAllocatesNothingAtOneThread(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = layerCase.Dims();
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(5));

        // The static forward kernels, on caller-owned statistics.
        var random = new Random(11);
        int length = TestData.Product(dims), statistics = layerCase.StatisticCount(dims);
        float[] x = TestData.Uniform(random, length, -1, 3), y = new float[length];
        float[] first = new float[statistics], second = new float[statistics];
        float[] runningMean = TestData.Uniform(random, statistics, -1, 1), runningVar = TestData.Uniform(random, statistics, 0.5, 2);
        var calls = new List<(string, Action)>
        {
            ($"{name}.ForwardTraining (static)", () => layerCase.Training(x, y, dims, layer.Weight, layer.Bias, first, second, 1e-5f)),
        };
        if (layerCase.Inference is { } inference)
            calls.Add(($"{name}.ForwardInference (static)", () => inference(x, y, dims, layer.Weight, layer.Bias, runningMean, runningVar, 1e-5f)));
        calls.AddRange(InstanceCalls(name, layer, dims));
        AssertNoAllocation(calls);
    }

    [Fact]
    public void DoubleLayersAllocateNothingAtOneThread() =>
        AssertNoAllocation(
        [
            .. InstanceCalls("BnNchwDouble", new BnNchwDouble(7), [3, 7, 5, 9]),
            .. InstanceCalls("BnNhwcDouble", new BnNhwcDouble(7), [3, 5, 9, 7]),
            .. InstanceCalls("LnNtcDouble", new LnNtcDouble(7), [3, 11, 7]),
            .. InstanceCalls("GnNhwcDouble", new GnNhwcDouble(12), [3, 5, 9, 12]),
            .. InstanceCalls("LnNhwcElementwiseDouble", new LnNhwcElementwiseDouble(5 * 9 * 7), [3, 5, 9, 7]),
            .. InstanceCalls("RmsNtcDouble", new RmsNtcDouble(7), [3, 11, 7]),
            .. InstanceCalls("InNhwcDouble", new InNhwcDouble(7), [3, 5, 9, 7]),
        ]);

    [Fact]
    public void StaticBackwardKernelsAllocateNothingAtOneThread()
    {
        var random = new Random(17);
        float[] Floats(int length) => TestData.Uniform(random, length, -1, 2);
        double[] Doubles(int length) => Data<double>(random, length, -1, 2);
        float[] x = Floats(945), dy = Floats(945), dx = new float[945];
        double[] xd = Doubles(945), dyd = Doubles(945), dxd = new double[945];
        float[] weight = Floats(7), weightGrad = new float[7], biasGrad = new float[7];
        float[] mean = Floats(135), variance = TestData.Uniform(random, 135, 0.5, 2);
        float[] weight12 = Floats(12), weightGrad12 = new float[12], biasGrad12 = new float[12];
        double[] weightD = Doubles(7), weightGradD = new double[7], biasGradD = new double[7];
        double[] meanD = Doubles(135), varianceD = Data<double>(random, 135, 0.5, 2);
        AssertNoAllocation(
        [
            ("BnNchw.BackwardTraining", () => BnNchw.BackwardTraining(x, dy, dx, 3, 7, 5, 9, weight, mean.AsSpan(0, 7), variance.AsSpan(0, 7), 1e-5f, weightGrad, biasGrad)),
            ("BnNchw.BackwardInference", () => BnNchw.BackwardInference(x, dy, dx, 3, 7, 5, 9, weight, mean.AsSpan(0, 7), variance.AsSpan(0, 7), 1e-5f, weightGrad, biasGrad)),
            ("BnNhwc.BackwardTraining", () => BnNhwc.BackwardTraining(x, dy, dx, 3, 5, 9, 7, weight, mean.AsSpan(0, 7), variance.AsSpan(0, 7), 1e-5f, weightGrad, biasGrad)),
            ("BnNhwc.BackwardInference", () => BnNhwc.BackwardInference(x, dy, dx, 3, 5, 9, 7, weight, mean.AsSpan(0, 7), variance.AsSpan(0, 7), 1e-5f, weightGrad, biasGrad)),
            ("LnNtc.BackwardTraining", () => LnNtc.BackwardTraining(x, dy, dx, 3, 45, 7, weight, mean.AsSpan(0, 135), variance.AsSpan(0, 135), 1e-5f, weightGrad, biasGrad)),
            ("GnNhwc.BackwardTraining", () => GnNhwc.BackwardTraining(x.AsSpan(0, 3 * 5 * 3 * 12), dy.AsSpan(0, 540), dx.AsSpan(0, 540), 3, 5, 3, 12,
                weight12, mean.AsSpan(0, 12), variance.AsSpan(0, 12), 1e-5f, weightGrad12, biasGrad12)),
            ("RmsNtc.BackwardTraining", () => RmsNtc.BackwardTraining(x, dy, dx, 3, 45, 7, weight, variance.AsSpan(0, 135), 1e-5f, weightGrad, biasGrad)),
            ("InNchw.BackwardTraining", () => InNchw.BackwardTraining(x, dy, dx, 3, 7, 5, 9, weight, mean.AsSpan(0, 21), variance.AsSpan(0, 21), 1e-5f, weightGrad, biasGrad)),
            ("BnNcAllAxes.BackwardTraining", () => BnNcAllAxes.BackwardTraining(x.AsSpan(0, 63), dy.AsSpan(0, 63), dx.AsSpan(0, 63), 9, 7, weight, mean.AsSpan(0, 1), variance.AsSpan(0, 1), 1e-5f, weightGrad, biasGrad)),
            ("BnNhwcDouble.BackwardTraining", () => BnNhwcDouble.BackwardTraining(xd, dyd, dxd, 3, 5, 9, 7, weightD, meanD.AsSpan(0, 7), varianceD.AsSpan(0, 7), 1e-5, weightGradD, biasGradD)),
            ("LnNtcDouble.BackwardTraining", () => LnNtcDouble.BackwardTraining(xd, dyd, dxd, 3, 45, 7, weightD, meanD.AsSpan(0, 135), varianceD.AsSpan(0, 135), 1e-5, weightGradD, biasGradD)),
        ]);
    }

    [Theory]
    [InlineData("BnNchw")]
    [InlineData("BnNhwc")]
    [InlineData("BnPerActivationNchw")]
    [InlineData("BnNcAllAxes")]
    [InlineData("GnNhwcAllAxes")]
    public void StaticSynchronizedKernelsAllocateNothingAtOneThread(string name)
    {
        SynchronizedBackwardTests.SyncCase c = SynchronizedBackwardTests.Case(name);
        INormalizationLayer layer = c.Create();
        KernelCheck.Randomize(layer, new Random(3));
        var random = new Random(23);
        int length = TestData.Product(c.Dims), statistics = ((ISynchronizedNormalizationLayer<float>)layer).StatisticCount(c.Dims);
        float[] x = TestData.Uniform(random, length, -1, 3), dy = TestData.Uniform(random, length, -1, 1), dx = new float[length];
        float[] mean = TestData.Uniform(random, statistics, 0, 1), variance = TestData.Uniform(random, statistics, 0.5, 2);
        double[] count = new double[statistics], shardMean = new double[statistics], m2 = new double[statistics];
        double[] sumGrad = new double[statistics], sumGradCentered = new double[statistics];
        float[] weightGrad = new float[layer.Weight.Length], biasGrad = new float[layer.Bias.Length];
        AssertNoAllocation(
        [
            ($"{name}.ShardStatistics (static)", () => c.Shard(x, c.Dims, count, shardMean, m2)),
            ($"{name}.BackwardStatistics (static)", () => c.StaticSums(0, default, x, dy, c.Dims, layer.Weight, mean, count, sumGrad, sumGradCentered)),
            ($"{name}.BackwardWithStatistics (static)", () => c.StaticApply(0, default, x, dy, dx, c.Dims, layer.Weight, mean, variance, 1e-5f,
                count, sumGrad, sumGradCentered, weightGrad, biasGrad)),
        ]);
    }

    /// <summary>Tensors of 163,840 elements: two workers at MaxDegree 2 (at least 65,536 elements each).</summary>
    [Fact]
    public void CallingThreadAllocatesNothingAtTwoWorkers()
    {
        var random = new Random(31);
        const int length = 8 * 16 * 32 * 40;
        float[] x = TestData.Uniform(random, length, -1, 3), dy = TestData.Uniform(random, length, -1, 1), y = new float[length], dx = new float[length];
        double[] xd = Data<double>(random, length, -1, 3), dyd = Data<double>(random, length, -1, 1), yd = new double[length], dxd = new double[length];
        double[] count = new double[16], mean = new double[16], m2 = new double[16], gradCount = new double[16], sumGrad = new double[16], sumGradCentered = new double[16];
        var bnNchw = new BnNchw(16);
        var bnNhwc = new BnNhwc(16);
        var lnNtc = new LnNtc(128);
        var gnNhwc = new GnNhwc(16);
        var lnNtcDouble = new LnNtcDouble(128);
        var lrnNchw = new LrnNchw();
        AssertNoAllocation(
        [
            ("BnNchw.Forward (training)", () => bnNchw.Forward(x, y, 8, 16, 32, 40)),
            ("BnNchw.Backward (training)", () => bnNchw.Backward(x, dy, dx, 8, 16, 32, 40)),
            ("BnNchw.ShardStatistics", () => BnNchw.ShardStatistics(x, 8, 16, 32, 40, count, mean, m2)),
            ("BnNchw.ForwardWithStatistics", () => bnNchw.ForwardWithStatistics(x, y, 8, 16, 32, 40, count, mean, m2)),
            ("BnNchw.BackwardStatistics", () => bnNchw.BackwardStatistics(x, dy, 8, 16, 32, 40, gradCount, sumGrad, sumGradCentered)),
            ("BnNchw.BackwardWithStatistics", () => bnNchw.BackwardWithStatistics(x, dy, dx, 8, 16, 32, 40, gradCount, sumGrad, sumGradCentered)),
            ("BnNhwc.Forward (training)", () => bnNhwc.Forward(x, y, 8, 32, 40, 16)),
            ("BnNhwc.Backward (training)", () => bnNhwc.Backward(x, dy, dx, 8, 32, 40, 16)),
            ("LnNtc.Forward (training)", () => lnNtc.Forward(x, y, 8, 160, 128)),
            ("LnNtc.Backward", () => lnNtc.Backward(x, dy, dx, 8, 160, 128)),
            ("GnNhwc.Forward (training)", () => gnNhwc.Forward(x, y, 8, 32, 40, 16)),
            ("InNchw.AdaptiveForward (static)", () => InNchw.AdaptiveForward(x, x, y, 8, 16, 32, 40, 32, 40, 1e-5f)),
            ("LnNtcDouble.Forward (training)", () => lnNtcDouble.Forward(xd, yd, 8, 160, 128)),
            ("LnNtcDouble.Backward", () => lnNtcDouble.Backward(xd, dyd, dxd, 8, 160, 128)),
            ("LrnNchw.Forward", () => lrnNchw.Forward(x, y, 8, 16, 32, 40)),
            ("LrnNchw.Backward", () => lrnNchw.Backward(x, dy, dx, 8, 16, 32, 40)),
        ], degree: 2);
    }

    [Fact]
    public void AdaptiveAndLrnAllocateNothingAtOneThread()
    {
        var random = new Random(29);
        float[] content = TestData.Uniform(random, 3 * 7 * 5 * 9, -1, 3), style = TestData.Uniform(random, 3 * 7 * 4 * 6, 0, 2);
        float[] output = new float[content.Length], outputGrad = TestData.Uniform(random, content.Length, -1, 1), inputGrad = new float[content.Length];
        float[] wide = TestData.Uniform(random, 2 * 5 * 9 * 40, 0, 2), wideOut = new float[wide.Length], wideGrad = new float[wide.Length];
        double[] contentD = Data<double>(random, content.Length, -1, 3), styleD = Data<double>(random, style.Length, 0, 2), outputD = new double[content.Length];
        double[] outputGradD = Data<double>(random, content.Length, -1, 1), inputGradD = new double[content.Length];
        var inNchw = new InNchw(7);
        var lrnNchw = new LrnNchw();
        var lrnNhwc = new LrnNhwc();
        var lrnNhwcDouble = new LrnNhwcDouble();
        nint[] lengths = [3, 7, 5, 9];
        AssertNoAllocation(
        [
            ("InNchw.AdaptiveForward (static)", () => InNchw.AdaptiveForward(content, style, output, 3, 7, 5, 9, 4, 6, 1e-5f)),
            ("InNchw.AdaptiveForward", () => inNchw.AdaptiveForward(content, style, output, 3, 7, 5, 9, 4, 6)),
            ("InNhwc.AdaptiveForward (static)", () => InNhwc.AdaptiveForward(content, style, output, 3, 5, 9, 7, 4, 6, 1e-5f)),
            ("InNhwcDouble.AdaptiveForward (static)", () => InNhwcDouble.AdaptiveForward(contentD, styleD, outputD, 3, 5, 9, 7, 4, 6, 1e-5)),
            ("LrnNchw.Forward", () => lrnNchw.Forward(content, output, 3, 7, 5, 9)),
            ("LrnNchw.Backward", () => lrnNchw.Backward(content, outputGrad, inputGrad, 3, 7, 5, 9)),
            ("LrnNchw.Forward (tensor)", () => lrnNchw.Forward(new ReadOnlyTensorSpan<float>(content, lengths, []), new TensorSpan<float>(output, lengths, []))),
            ("LrnNchw.ForwardKernel", () => LrnNchw.ForwardKernel(content, output, 3, 7, 5, 9)),
            ("LrnNchw.BackwardKernel", () => LrnNchw.BackwardKernel(content, outputGrad, inputGrad, 3, 7, 5, 9)),
            ("LrnNhwc.Forward (rows)", () => lrnNhwc.Forward(wide, wideOut, 2, 5, 9, 40)),
            ("LrnNhwc.Forward (tiles)", () => lrnNhwc.Forward(content, output, 3, 5, 9, 7)),
            ("LrnNhwc.Backward", () => lrnNhwc.Backward(wide, wide, wideGrad, 2, 5, 9, 40)),
            ("LrnNhwc.BackwardKernel", () => LrnNhwc.BackwardKernel(content, outputGrad, inputGrad, 3, 5, 9, 7)),
            ("LrnNhwcDouble.Forward", () => lrnNhwcDouble.Forward(contentD, outputD, 3, 5, 9, 7)),
            ("LrnNhwcDouble.Backward", () => lrnNhwcDouble.Backward(contentD, outputGradD, inputGradD, 3, 5, 9, 7)),
        ]);
    }
}
