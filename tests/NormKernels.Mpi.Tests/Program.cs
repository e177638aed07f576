using NormKernels;
using NormKernels.Mpi;
using NormKernels.Reference;

namespace NormKernels.Mpi.Tests;

[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class BnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W", Epsilon = 1e-3, Momentum = 0.3)] public sealed partial class BnNhwc;
[Normalize(Layout = "NCHW", Axes = "N", Affine = AffineMode.Elementwise)] public sealed partial class BnPerActivationNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W", ElementType = typeof(double))] public sealed partial class BnNhwcDouble;

/// <summary>
/// Synchronized BatchNorm on real MPI processes. Every rank builds the same full batch (same seed), takes its shard along N
/// (batch 7: 4/3 on 2 ranks, 3/2/2 on 3), trains one step through <see cref="SynchronizedBatchNorm{T}"/> and checks, against
/// the float64 reference of the FULL batch: its outputs, running statistics, input gradients and (all-reduced) parameter
/// gradients; then that its merged statistics, gradient sums and parameter gradients are bitwise those of every other rank.
/// Usage: mpiexec.mpich -n R dotnet NormKernels.Mpi.Tests.dll [counts-file]
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        using MpiSession mpi = MpiSession.Start(ref args);
        var world = mpi.World;
        var results = new List<(string Name, bool Passed, string Detail)>();

        RunCase(results, world, "BnNchw", [7, 5, 6, 9], d => new BnNchw(d[1]));
        RunCase(results, world, "BnNhwc", [7, 6, 9, 21], d => new BnNhwc(d[3]));
        RunCase(results, world, "BnPerActivationNchw", [7, 3, 4, 5], d => new BnPerActivationNchw(d[1] * d[2] * d[3]));
        RunCase(results, world, "BnNhwc, 8 samples", [8, 5, 7, 13], d => new BnNhwc(d[3]));
        RunDoubleCase(results, world);

        // A case passes when it passed on every rank.
        var local = results.Select(r => r.Passed ? 1 : 0).ToArray();
        int[] all = world.AllgatherFlattened(local, local.Length);
        int passed = 0, failed = 0;
        for (int i = 0; i < results.Count; i++)
        {
            var failedOn = Enumerable.Range(0, mpi.Size).Where(k => all[k * results.Count + i] == 0).ToList();
            if (failedOn.Count == 0) passed++;
            else failed++;
            if (mpi.Rank == 0)
                Console.WriteLine($"  {(failedOn.Count == 0 ? "passed" : "FAILED")}  [{mpi.Size} ranks] {results[i].Name}" +
                                  (failedOn.Count == 0 ? "" : $"  (on rank {string.Join(", ", failedOn)})"));
        }
        foreach (var r in results.Where(r => !r.Passed))
            Console.WriteLine($"  rank {mpi.Rank}: {r.Name}: {r.Detail}");
        world.Barrier();
        if (mpi.Rank == 0)
        {
            Console.WriteLine($"{mpi.Size} ranks: {passed} passed, {failed} failed");
            if (args.Length > 0) File.WriteAllText(args[0], $"passed={passed} failed={failed}\n");
        }
        return failed == 0 ? 0 : 1;
    }

    private static (int Offset, int Count) Shard(int batch, int ranks, int rank)
    {
        int offset = 0;
        for (int k = 0; k < rank; k++) offset += batch / ranks + (k < batch % ranks ? 1 : 0);
        return (offset, batch / ranks + (rank < batch % ranks ? 1 : 0));
    }

    private static float[] Normal(Random random, int length, double mean, double std)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    private static void RunCase(List<(string, bool, string)> results, MPI.Intracommunicator world, string name, int[] dims,
        Func<int[], ISynchronizedNormalizationLayer<float>> create)
    {
        int ranks = world.Size, rank = world.Rank;
        var random = new Random(name.Length * 7919 + dims.Sum());
        int total = dims.Aggregate(1, (a, b) => a * b), sample = total / dims[0];
        float[] input = Normal(random, total, 0.7, 2);
        float[] outputGrad = Normal(random, total, 0.1, 1);
        ISynchronizedNormalizationLayer<float> layer = create(dims);
        for (int p = 0; p < layer.Weight.Length; p++)
        {
            layer.Weight[p] = (float)(0.5 + random.NextDouble());
            layer.Bias[p] = (float)(random.NextDouble() - 0.5);
        }
        for (int s = 0; s < layer.RunningMean!.Length; s++)
        {
            layer.RunningMean[s] = (float)(random.NextDouble() - 0.5);
            layer.RunningVar![s] = (float)(0.5 + random.NextDouble());
        }
        float[] weight = layer.Weight.ToArray(), bias = layer.Bias.ToArray();
        float[] runningMean = layer.RunningMean.ToArray(), runningVar = layer.RunningVar!.ToArray();
        double momentum = (double)(float)layer.GetType().GetProperty("Momentum")!.GetValue(layer)!;

        // This rank's shard.
        var (first, count) = Shard(dims[0], ranks, rank);
        int[] shardDims = (int[])dims.Clone();
        shardDims[0] = count;
        float[] x = input.AsSpan(first * sample, count * sample).ToArray();
        float[] dy = outputGrad.AsSpan(first * sample, count * sample).ToArray();
        var sync = new SynchronizedBatchNorm<float>(layer, world);
        var y = new float[x.Length];
        sync.Forward(x, y, shardDims);
        var dx = new float[x.Length];
        sync.Backward(x, dy, dx, shardDims);

        // The float64 reference of the full batch, on one process.
        var reference = NormReference.For(layer);
        ReferenceResult forward = reference.ForwardTraining(dims, input, weight, bias, layer.Epsilon, momentum, runningMean, runningVar);
        ReferenceGradients backward = reference.BackwardTraining(dims, input, outputGrad, weight, layer.Epsilon);
        ReferenceStatistics stats = forward.Statistics!;
        string tag = $"{name} {string.Join("x", dims)}, shard {count} of {dims[0]} on rank {rank}";

        int offset = first * sample;
        results.Add(Check($"{name}: outputs equal the full-batch forward", Enumerable.Range(0, x.Length),
            i => (y[i], forward.Output[offset + i], 2e-5 * (1 + Math.Abs(forward.Output[offset + i]))), tag));
        results.Add(Check($"{name}: running statistics equal the full-batch update", Enumerable.Range(0, 2 * runningMean.Length),
            s => s < runningMean.Length
                ? (layer.RunningMean[s], forward.RunningMean![s], 1e-5 * (1 + Math.Abs(forward.RunningMean[s])))
                : (layer.RunningVar![s - runningMean.Length], forward.RunningVar![s - runningMean.Length], 1e-5 * (1 + Math.Abs(forward.RunningVar[s - runningMean.Length]))), tag));
        // Gradient scales: r * |g| * (|dy| + mean|dy| + |xhat| mean|dy xhat|) per element bounds dx's size.
        int statistics = reference.StatisticCount(dims);
        var absDy = new double[statistics];
        var absDyXhat = new double[statistics];
        var dgScale = new double[weight.Length];
        var dbScale = new double[weight.Length];
        for (int i = 0; i < total; i++)
        {
            int s = reference.StatisticIndex(dims, i), p = reference.AffineIndex(dims, i);
            double xhat = (input[i] - stats.Mean[s]) / Math.Sqrt(stats.Variance[s] + layer.Epsilon);
            absDy[s] += Math.Abs(weight[p] * outputGrad[i]) / stats.Count;
            absDyXhat[s] += Math.Abs(weight[p] * outputGrad[i] * xhat) / stats.Count;
            dgScale[p] += Math.Abs(outputGrad[i] * xhat);
            dbScale[p] += Math.Abs(outputGrad[i]);
        }
        results.Add(Check($"{name}: input gradients equal the full-batch backward", Enumerable.Range(0, x.Length), i =>
        {
            int s = reference.StatisticIndex(dims, offset + i), p = reference.AffineIndex(dims, offset + i);
            double r = 1 / Math.Sqrt(stats.Variance[s] + layer.Epsilon);
            double xhat = (input[offset + i] - stats.Mean[s]) * r;
            double bound = r * (Math.Abs(weight[p] * outputGrad[offset + i]) + absDy[s] + (1 + Math.Abs(xhat)) * absDyXhat[s]);
            return (dx[i], backward.InputGrad[offset + i], 1e-5 * bound + 1e-7);
        }, tag));
        results.Add(Check($"{name}: parameter gradients (all-reduced) equal the full batch's", Enumerable.Range(0, 2 * weight.Length),
            p => p < weight.Length
                ? (layer.WeightGrad[p], backward.WeightGrad[p], 2e-5 * dgScale[p] + 1e-6)
                : (layer.BiasGrad[p - weight.Length], backward.BiasGrad[p - weight.Length], 2e-5 * dbScale[p - weight.Length] + 1e-6), tag));

        // Bitwise agreement across the ranks: merged statistics, running statistics, parameter gradients.
        var bits = new List<double>();
        bits.AddRange(sync.Count.ToArray());
        bits.AddRange(sync.Mean.ToArray());
        bits.AddRange(sync.M2.ToArray());
        results.Add(SameBits(world, $"{name}: merged statistics bitwise equal on every rank", bits.ToArray()));
        results.Add(SameBits(world, $"{name}: running statistics bitwise equal on every rank",
            layer.RunningMean.Concat(layer.RunningVar!).Select(v => (double)v).ToArray()));
        results.Add(SameBits(world, $"{name}: parameter gradients bitwise equal on every rank",
            layer.WeightGrad.Concat(layer.BiasGrad).Select(v => (double)v).ToArray()));
        // The statistics merged are the full batch's (float64 reference).
        results.Add(Check($"{name}: merged statistics equal the full batch's", Enumerable.Range(0, 3 * statistics), i =>
        {
            int s = i % statistics;
            return (i / statistics) switch
            {
                0 => (sync.Count[s], (double)stats.Count, 0d),
                1 => (sync.Mean[s], stats.Mean[s], 1e-6 * (Math.Abs(stats.Mean[s]) + Math.Sqrt(stats.Variance[s]))),
                _ => (Runtime.Statistics.Variance(sync.Count[s], sync.M2[s]), stats.Variance[s], 1e-5 * stats.Variance[s]),
            };
        }, tag));
    }

    /// <summary>Double layers too: the same step in double, checked to 1e-10.</summary>
    private static void RunDoubleCase(List<(string, bool, string)> results, MPI.Intracommunicator world)
    {
        int[] dims = [7, 4, 5, 6];
        var random = new Random(5);
        int total = dims.Aggregate(1, (a, b) => a * b), sample = total / dims[0];
        double[] input = Normal(random, total, -0.5, 1.5).Select(v => (double)v).ToArray();
        double[] outputGrad = Normal(random, total, 0, 1).Select(v => (double)v).ToArray();
        var layer = new BnNhwcDouble(dims[3]);
        for (int p = 0; p < dims[3]; p++) layer.Weight[p] = 0.5 + random.NextDouble();
        double[] weight = layer.Weight.ToArray();
        var (first, count) = Shard(dims[0], world.Size, world.Rank);
        int[] shardDims = [count, dims[1], dims[2], dims[3]];
        double[] x = input.AsSpan(first * sample, count * sample).ToArray(), dy = outputGrad.AsSpan(first * sample, count * sample).ToArray();
        var sync = new SynchronizedBatchNorm<double>(layer, world);
        var y = new double[x.Length];
        sync.Forward(x, y, shardDims);
        var dx = new double[x.Length];
        sync.Backward(x, dy, dx, shardDims);
        var reference = NormReference.For(layer);
        ReferenceResult forward = reference.ForwardTraining(dims, input, weight, new double[dims[3]], layer.Epsilon);
        ReferenceGradients backward = reference.BackwardTraining(dims, input, outputGrad, weight, layer.Epsilon);
        int offset = first * sample;
        string tag = $"BnNhwcDouble shard {count} of 7 on rank {world.Rank}";
        results.Add(Check("BnNhwcDouble: outputs equal the full-batch forward", Enumerable.Range(0, x.Length),
            i => (y[i], forward.Output[offset + i], 1e-10 * (1 + Math.Abs(forward.Output[offset + i]))), tag));
        results.Add(Check("BnNhwcDouble: input gradients equal the full-batch backward", Enumerable.Range(0, x.Length),
            i => (dx[i], backward.InputGrad[offset + i], 1e-10 * (1 + Math.Abs(backward.InputGrad[offset + i]))), tag));
        results.Add(Check("BnNhwcDouble: parameter gradients equal the full batch's", Enumerable.Range(0, 2 * dims[3]),
            p => p < dims[3]
                ? (layer.WeightGrad[p], backward.WeightGrad[p], 1e-10 * (1 + Math.Abs(backward.WeightGrad[p])))
                : (layer.BiasGrad[p - dims[3]], backward.BiasGrad[p - dims[3]], 1e-10 * (1 + Math.Abs(backward.BiasGrad[p - dims[3]]))), tag));
    }

    private static (string, bool, string) Check(string name, IEnumerable<int> indices, Func<int, (double Actual, double Expected, double Tolerance)> at, string tag)
    {
        double worst = 0;
        string detail = "";
        bool ok = true;
        foreach (int i in indices)
        {
            var (actual, expected, tolerance) = at(i);
            double error = Math.Abs(actual - expected);
            if (!(error <= tolerance))
            {
                if (ok) detail = $"{tag}: at {i} got {actual:R}, expected {expected:R} (tolerance {tolerance:R})";
                ok = false;
            }
            worst = Math.Max(worst, error);
        }
        return (name, ok, ok ? $"max error {worst:R}" : detail);
    }

    /// <summary>Gathers every rank's values and compares their bits with this rank's.</summary>
    private static (string, bool, string) SameBits(MPI.Intracommunicator world, string name, double[] values)
    {
        long[] mine = values.Select(BitConverter.DoubleToInt64Bits).ToArray();
        long[] all = world.AllgatherFlattened(mine, mine.Length);
        for (int k = 0; k < world.Size; k++)
            for (int i = 0; i < mine.Length; i++)
                if (all[k * mine.Length + i] != mine[i])
                    return (name, false, $"rank {k} differs at {i}: {BitConverter.Int64BitsToDouble(all[k * mine.Length + i]):R} vs {values[i]:R}");
        return (name, mine.Length > 0, mine.Length > 0 ? "" : "nothing to compare");
    }
}
