using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Pool threads that ran a share of a call spin for the next call's share (<see cref="Parallelism.SpinMicroseconds"/>),
/// and help whichever call is running then, of any kernel and any calling thread. Results must not depend on who runs a
/// worker: these compare bits with a one-thread run, with callers on several threads at once.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree and SpinMicroseconds
public sealed class SpinningWorkerTests : RestoresSettings
{
    [Theory]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public void SpinMicrosecondsRejectsOutOfRange(int value)
    {
        Parallelism.SpinMicroseconds = 40;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.SpinMicroseconds = value);
        Assert.Equal("value", error.ParamName);
        Assert.Equal(40, Parallelism.SpinMicroseconds);
    }

    /// <summary>BatchNorm NHWC (a whole-tensor plan: a parallel statistics pass, then a parallel apply; backward the same):
    /// one caller's training forward and backward, as bits.</summary>
    internal static (int[] Output, int[] InputGrad, int[] WeightGrad, int[] BiasGrad, int[] RunningMean) Step(int[] dims, float[] x, float[] dy)
    {
        INormalizationLayer layer = new BnNhwc(dims[3]);
        var random = new Random(5);
        KernelCheck.Randomize(layer, random);
        var y = new float[x.Length];
        var dx = new float[x.Length];
        layer.Training = true;
        layer.Forward(x, y, dims);
        layer.Backward(x, dy, dx, dims);
        return (KernelCheck.Bits(y), KernelCheck.Bits(dx), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad),
            KernelCheck.Bits(layer.RunningMean));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Parallelism.DefaultSpinMicroseconds)]
    [InlineData(20_000)]
    public void CallersOnSeveralThreadsGetTheOneThreadBits(int spin)
    {
        int[] dims = [8, 14, 14, 128];   // 200,704 elements: two workers a call
        int length = TestData.Product(dims);
        const int callers = 3;
        var inputs = new float[callers][];
        var grads = new float[callers][];
        for (int c = 0; c < callers; c++)
        {
            inputs[c] = TestData.Normal(new Random(100 + c), length, 0.5 + c, 1.5);
            grads[c] = TestData.Normal(new Random(200 + c), length, 0, 1);
        }

        Parallelism.MaxDegree = 1;
        var serial = new (int[], int[], int[], int[], int[])[callers];
        for (int c = 0; c < callers; c++) serial[c] = Step(dims, inputs[c], grads[c]);

        Parallelism.MaxDegree = 2;
        Parallelism.SpinMicroseconds = spin;
        Step(dims, inputs[0], grads[0]);
        Assert.Equal(2, ParallelUnits.LastWorkers);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            for (int round = 0; round < 8; round++)
            {
                var (output, inputGrad, weightGrad, biasGrad, runningMean) = Step(dims, inputs[c], grads[c]);
                var (sOutput, sInputGrad, sWeightGrad, sBiasGrad, sRunningMean) = serial[c];
                if (!output.AsSpan().SequenceEqual(sOutput)) failures.Add($"caller {c} round {round}: output");
                if (!inputGrad.AsSpan().SequenceEqual(sInputGrad)) failures.Add($"caller {c} round {round}: input gradient");
                if (!weightGrad.AsSpan().SequenceEqual(sWeightGrad) || !biasGrad.AsSpan().SequenceEqual(sBiasGrad))
                    failures.Add($"caller {c} round {round}: parameter gradients");
                if (!runningMean.AsSpan().SequenceEqual(sRunningMean)) failures.Add($"caller {c} round {round}: running mean");
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }
}

/// <summary>The spinning mechanism on an otherwise idle pool (see <see cref="SpinningWorkerTests"/>).</summary>
[Collection(nameof(AloneTests))]   // after the parallel collections: the pool has threads to spare
public sealed class SpinningWorkerAloneTests : RestoresSettings
{
    /// <summary>The mechanism itself: with a 20 ms spin, the pool thread that ran one call's second worker takes a later
    /// call's. Calls repeat until that happens (up to 20,000, about 20 s), each against the one-thread bits. Alone (after the
    /// parallel collections): beside them every pool thread was busy, a call's second worker found no thread before the
    /// caller had run both shares, and 3,000 calls went by with none spinning (CI, AVX2 leg, 2026-12-04).</summary>
    [Fact]
    public void ASpinningThreadRunsALaterCallsWorker()
    {
        if (Environment.ProcessorCount < 2) return;   // a process that sees one processor never spins
        int[] dims = [8, 14, 14, 128];
        float[] x = TestData.Normal(new Random(31), TestData.Product(dims), -1, 2);
        float[] dy = TestData.Normal(new Random(32), x.Length, 0, 1);
        Parallelism.MaxDegree = 1;
        var (output, inputGrad, _, _, _) = SpinningWorkerTests.Step(dims, x, dy);
        Parallelism.MaxDegree = 2;
        Parallelism.SpinMicroseconds = 20_000;
        long before = ParallelUnits.SpunWorkers;
        int calls = 0;
        while (ParallelUnits.SpunWorkers == before && calls < 20_000)
        {
            var (o, g, _, _, _) = SpinningWorkerTests.Step(dims, x, dy);
            Assert.Equal(2, ParallelUnits.LastWorkers);
            Assert.Equal(output, o);
            Assert.Equal(inputGrad, g);
            calls++;
        }
        Assert.True(ParallelUnits.SpunWorkers > before, $"no worker ran on a spinning thread in {calls} calls");
    }
}
