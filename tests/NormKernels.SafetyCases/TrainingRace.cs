namespace NormKernels.SafetyCases;

/// <summary>
/// One layer instance, 8 threads, each running training Forward then Backward on its own input (batch sizes 2 and 4
/// alternating between threads, so the saved statistics change size). The contract: every call either returns the
/// result a serial run gives for that thread's input, bit for bit, or throws InvalidOperationException having written
/// nothing; BiasGrad ends as the sum of the contributions of the Backward calls that returned (none lost, none
/// extra), and with momentum 1 the running statistics end as those of one thread's input (never a mix).
/// </summary>
internal static class TrainingRace
{
    private const int Threads = 8;
    private const int Iterations = 40;
    private static readonly float Sentinel = BitConverter.Int32BitsToSingle(0x7FC0BEEF);

    private static (Func<INormalizationLayer> Create, Func<int, int[]> Dims) Layer(string name) => name switch
    {
        "BnNchw" => (() => new BnNchw(8, momentum: 1f), n => [n, 8, 12, 10]),
        "InNhwc" => (() => new InNhwc(8), n => [n, 12, 10, 8]),
        "GnNhwc" => (() => new GnNhwc(8), n => [n, 12, 10, 8]),
        "LnNtc" => (() => new LnNtc(16), n => [n, 30, 16]),
        "RmsNtc" => (() => new RmsNtc(16), n => [n, 30, 16]),
        _ => throw new ArgumentException("no training race for " + name),
    };

    private sealed record Expected(float[] Input, float[] OutputGrad, int[] Dims, float[] Output, float[] InputGrad,
        double[] WeightGrad, double[] BiasGrad, float[]? RunningMean, float[]? RunningVar);

    public static bool Run(string name, Action<string> pass, Action<string> fail)
    {
        var (create, dimsFor) = Layer(name);
        var random = new Random(11);
        INormalizationLayer shared = create();
        for (int i = 0; i < shared.Weight.Length; i++) { shared.Weight[i] = 0.5f + (float)random.NextDouble(); shared.Bias[i] = (float)random.NextDouble() - 0.5f; }

        // Serial reference: a fresh instance with the same parameters per thread input.
        var expected = new Expected[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int[] dims = dimsFor(t % 2 == 0 ? 2 : 4);
            int count = dims.Aggregate(1, (p, d) => p * d);
            float[] input = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 4 - 1 + t)).ToArray();
            float[] outputGrad = Enumerable.Range(0, count).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
            INormalizationLayer serial = create();
            shared.Weight.CopyTo(serial.Weight, 0);
            shared.Bias.CopyTo(serial.Bias, 0);
            var output = new float[count];
            var inputGrad = new float[count];
            serial.Forward(input, output, dims);
            serial.Backward(input, outputGrad, inputGrad, dims);
            expected[t] = new Expected(input, outputGrad, dims, output, inputGrad,
                serial.WeightGrad.Select(v => (double)v).ToArray(), serial.BiasGrad.Select(v => (double)v).ToArray(),
                serial.RunningMean?.ToArray(), serial.RunningVar?.ToArray());
        }

        int forwardOk = 0, forwardRefused = 0, backwardOk = 0, backwardRefused = 0;
        var backwardsPerThread = new int[Threads];
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // A round in which no Backward returns (every one refused because another thread's Forward got in between,
        // which happens under emulation) tested nothing: run another round, adding up the counts, up to MaxRounds.
        const int MaxRounds = 4;
        for (int round = 0; round < MaxRounds && (forwardOk == 0 || backwardOk == 0); round++)
        {
            using var start = new Barrier(Threads);
            var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                Expected e = expected[t];
                var output = new float[e.Input.Length];
                var inputGrad = new float[e.Input.Length];
                start.SignalAndWait();
                for (int i = 0; i < Iterations; i++)
                {
                    Array.Fill(output, Sentinel);
                    try
                    {
                        shared.Forward(e.Input, output, e.Dims);
                        Interlocked.Increment(ref forwardOk);
                        if (!output.AsSpan().SequenceEqual(e.Output)) problems.Enqueue($"thread {t}: a Forward returned an output that differs from the serial one");
                        Thread.Yield(); // invite another thread in: if its Forward runs before this Backward, this Backward must be refused
                    }
                    catch (InvalidOperationException)
                    {
                        Interlocked.Increment(ref forwardRefused);
                        if (output.Any(v => BitConverter.SingleToInt32Bits(v) != BitConverter.SingleToInt32Bits(Sentinel))) problems.Enqueue($"thread {t}: a refused Forward wrote its output");
                        continue;
                    }
                    catch (Exception ex)
                    {
                        problems.Enqueue($"thread {t}: Forward threw {ex.GetType().Name}: {ex.Message}");
                        continue;
                    }
                    Array.Fill(inputGrad, Sentinel);
                    try
                    {
                        shared.Backward(e.Input, e.OutputGrad, inputGrad, e.Dims);
                        Interlocked.Increment(ref backwardOk);
                        backwardsPerThread[t]++;
                        if (!inputGrad.AsSpan().SequenceEqual(e.InputGrad)) problems.Enqueue($"thread {t}: a Backward returned an input gradient that differs from the serial one");
                    }
                    catch (InvalidOperationException)
                    {
                        Interlocked.Increment(ref backwardRefused);
                        if (inputGrad.Any(v => BitConverter.SingleToInt32Bits(v) != BitConverter.SingleToInt32Bits(Sentinel))) problems.Enqueue($"thread {t}: a refused Backward wrote its input gradient");
                    }
                    catch (Exception ex)
                    {
                        problems.Enqueue($"thread {t}: Backward threw {ex.GetType().Name}: {ex.Message}");
                    }
                }
            })).ToList();
            threads.ForEach(th => th.Start());
            threads.ForEach(th => th.Join());
        }

        Console.WriteLine($"{name}: Forward {forwardOk} returned, {forwardRefused} refused; Backward {backwardOk} returned, {backwardRefused} refused " +
                          $"(per thread: {string.Join(" ", backwardsPerThread)})");
        bool ok = true;
        foreach (string problem in problems.Take(20)) { fail(name + ": " + problem); ok = false; }
        if (forwardOk == 0 || backwardOk == 0) { fail($"{name}: no Forward or no Backward returned; the race tested nothing"); ok = false; }

        // Gradients: the sum of the returned Backward calls' contributions (a lost or extra update moves BiasGrad by at
        // least the smallest contribution: dy > 0, so every contribution of a channel has the same sign).
        for (int p = 0; p < shared.BiasGrad.Length; p++)
        {
            double sum = 0, smallest = double.MaxValue, weightSum = 0, weightScale = 0;
            for (int t = 0; t < Threads; t++)
            {
                sum += backwardsPerThread[t] * expected[t].BiasGrad[p];
                smallest = Math.Min(smallest, Math.Abs(expected[t].BiasGrad[p]));
                weightSum += backwardsPerThread[t] * expected[t].WeightGrad[p];
                weightScale += backwardsPerThread[t] * Math.Abs(expected[t].WeightGrad[p]);
            }
            if (Math.Abs(shared.BiasGrad[p] - sum) > 0.25 * smallest)
            {
                fail($"{name}: BiasGrad[{p}] = {shared.BiasGrad[p]}, expected {sum} (the returned Backward calls' contributions; smallest {smallest})");
                ok = false;
                break;
            }
            if (Math.Abs(shared.WeightGrad[p] - weightSum) > 1e-4 * weightScale + 1e-6)
            {
                fail($"{name}: WeightGrad[{p}] = {shared.WeightGrad[p]}, expected {weightSum}");
                ok = false;
                break;
            }
        }

        if (shared.RunningMean is { } runningMean)
        {
            bool matched = expected.Any(e => runningMean.AsSpan().SequenceEqual(e.RunningMean) && shared.RunningVar.AsSpan().SequenceEqual(e.RunningVar));
            if (!matched) { fail($"{name}: the running statistics are not those of any one thread's input (momentum 1): mixed or corrupted"); ok = false; }
            else pass($"{name}: running statistics are one thread's input's, bit for bit");
        }
        if (ok) pass($"{name}: every call returned the serial result or was refused with InvalidOperationException; gradients add up");
        return ok;
    }
}
