using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime;
using System.Threading;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench.Suite;

/// <summary>
/// The quick mode's own harness (BenchmarkDotNet's per-benchmark overhead, a few seconds each, would take the
/// 150+ benchmarks of the matrix past ten minutes). Per case, in one process, single-threaded:
/// <list type="number">
/// <item>the case's buffers are allocated once and shared by every variant (same bytes read and written);</item>
/// <item>the scalar and TensorPrimitives outputs are compared with the generated one at the case's own shape;</item>
/// <item>warm-up: each variant runs for at least <see cref="WarmupMs"/> and 2 calls (the JIT was settled before,
/// see <see cref="SettleJit"/>), which also gives a per-call estimate;</item>
/// <item>each variant gets a batch of calls filling about <see cref="BatchMs"/> (at least 1 call); then
/// <see cref="Rounds"/> rounds time one batch of every variant, the variants' order rotating each round so that
/// drift on the shared machine hits all of them alike;</item>
/// <item>a batch during which this thread waited on the run queue for more than <see cref="MaxRunQueueShare"/> of
/// its time (another job had the CPU: <see cref="RunQueue"/>) is measured again, up to <see cref="MaxAttempts"/>
/// times, then the least disturbed attempt is kept and counted as contended;</item>
/// <item>reported: the median over rounds of (batch time / calls), and min / max;</item>
/// <item>other jobs also take memory bandwidth, which the run queue does not show: when the copy's or the generated
/// kernel's samples spread more than <see cref="MaxSpread"/> (second-highest minus second-lowest, over the median),
/// the case is measured again, up to <see cref="MaxRepeats"/> times, and the least spread measurement is kept
/// (still noisy: <see cref="CaseResult.Noisy"/>, marked in the table).</item>
/// </list>
/// </summary>
public sealed class QuickHarness
{
    public int Rounds { get; init; } = 9;
    public double WarmupMs { get; init; } = 30;
    public double BatchMs { get; init; } = 8;
    public double MaxRunQueueShare { get; init; } = 0.03;
    public int MaxAttempts { get; init; } = 4;
    public double MaxSpread { get; init; } = 0.3;
    public int MaxRepeats { get; init; } = 2;

    /// <summary>oneDNN 2.6 in this process (<c>--onednn</c>), timed as one more variant where it has the case; or null.</summary>
    public OneDnnLibrary? OneDnn { get; init; }

    /// <summary>PyTorch in lockstep (quick mode without <c>--no-torch</c>), timed as one more variant where it has the case
    /// (its batches timed in its own process); or null.</summary>
    public TorchLockstep? Torch { get; init; }

    /// <summary>After a batch of a peer's calls (oneDNN, PyTorch) at more than one thread, this long a pause: both run
    /// libgomp, whose workers spin after a parallel region before they sleep (its default spin count: a 2-thread region's
    /// worker burned 5.8-6.8 ms of processor time in the 50 ms after it, a torch batch's 5.3-5.7 ms in the 10 ms after it
    /// and none later; AMD Zen 5), and a spinning worker would take a processor from the next batch.</summary>
    public int PeerSettleMs { get; init; } = 10;

    /// <summary>Measures one case, again while its samples are too spread; prints nothing (the caller prints the progress line).</summary>
    public CaseResult Measure(BenchCase benchCase)
    {
        var best = MeasureOnce(benchCase);
        int measurements = 1;
        while (Spread(best) > MaxSpread && measurements <= MaxRepeats)
        {
            CollectGarbage();
            var again = MeasureOnce(benchCase);
            again.Retried += best.Retried;
            again.Contended += best.Contended;
            measurements++;
            if (Spread(again) < Spread(best)) best = again;
            else { best.Retried = again.Retried; best.Contended = again.Contended; }
        }
        best.Measurements = measurements;
        best.Noisy = Spread(best) > MaxSpread;
        return best;
    }

    /// <summary>The largest relative spread of the limit's, the copy's and the generated kernel's samples.</summary>
    private static double Spread(CaseResult r) => Math.Max(r.Spread(Variant.Limit), Math.Max(r.Spread(Variant.Copy), r.Spread(Variant.Generated)));

    private CaseResult MeasureOnce(BenchCase benchCase)
    {
        var d = new CaseData(benchCase);
        var result = new CaseResult(benchCase, "Quick");
        var bodies = new Dictionary<Variant, Action>
        {
            [Variant.Limit] = Variants.Create(Variant.Limit, d),
            [Variant.Copy] = Variants.Create(Variant.Copy, d),
            [Variant.Generated] = GeneratedLayers.Create(d, out Func<KernelPath> lastPath),
            [Variant.Scalar] = Variants.Create(Variant.Scalar, d),
            [Variant.TensorPrimitives] = Variants.Create(Variant.TensorPrimitives, d),
        };

        (result.ScalarDiff, result.TensorsDiff) = SelfCheck.Compare(d, bodies[Variant.Generated], bodies[Variant.Scalar], bodies[Variant.TensorPrimitives]);
        result.Path = lastPath().ToString();

        // The peers that have the case (oneDNN, then PyTorch, whose batches are timed in its own process: `timed`) right
        // after the generated kernel in the rotation, so that the last of them is followed by the one-thread scalar
        // variant, and each pauses after its batch (PeerSettleMs).
        var variants = Variants.All;
        var peers = new List<Variant>();
        var timed = new Dictionary<Variant, Func<int, (double Ns, double WaitNs)>>();
        if (OneDnn?.Body(benchCase.Id) is { } oneDnn)
        {
            bodies[Variant.OneDnn] = oneDnn;
            peers.Add(Variant.OneDnn);
        }
        if (Torch is not null && Torch.Prepare(benchCase))
        {
            timed[Variant.Torch] = Torch.Run;
            peers.Add(Variant.Torch);
        }
        if (peers.Count > 0)
        {
            int at = Array.IndexOf(variants, Variant.Generated) + 1;
            variants = [.. variants[..at], .. peers, .. variants[at..]];
        }
        var batch = new Dictionary<Variant, int>();
        foreach (var v in variants)
        {
            int calls = 0;
            double elapsedMs = 0;
            if (timed.TryGetValue(v, out var run))
            {
                do
                {
                    elapsedMs += run(1).Ns / 1e6;
                    calls++;
                }
                while (calls < 2 || elapsedMs < WarmupMs);
            }
            else
            {
                var body = bodies[v];
                long start = Stopwatch.GetTimestamp();
                do
                {
                    body();
                    calls++;
                    elapsedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
                while (calls < 2 || elapsedMs < WarmupMs);
            }
            double perCallMs = elapsedMs / calls;
            batch[v] = Math.Max(1, (int)Math.Ceiling(BatchMs / perCallMs));
        }

        var samples = variants.ToDictionary(v => v, _ => new List<double>(Rounds));
        using var runQueue = new RunQueue();
        for (int round = 0; round < Rounds; round++)
        {
            for (int k = 0; k < variants.Length; k++)
            {
                var v = variants[(k + round) % variants.Length];
                int calls = batch[v];
                double best = double.NaN, bestShare = double.PositiveInfinity;
                for (int attempt = 0; attempt < MaxAttempts; attempt++)
                {
                    double ns, share;
                    if (timed.TryGetValue(v, out var run))
                    {
                        (ns, double waitNs) = run(calls);
                        share = waitNs / ns;
                    }
                    else
                    {
                        var body = bodies[v];
                        long wait0 = runQueue.WaitNs();
                        long start = Stopwatch.GetTimestamp();
                        for (int i = 0; i < calls; i++) body();
                        long stop = Stopwatch.GetTimestamp();
                        long wait1 = runQueue.WaitNs();
                        ns = (stop - start) * (1e9 / Stopwatch.Frequency);
                        share = runQueue.Available ? (wait1 - wait0) / ns : 0;
                    }
                    if (share < bestShare) { bestShare = share; best = ns / calls; }
                    if (share <= MaxRunQueueShare) break;
                    result.Retried++;
                }
                if (bestShare > MaxRunQueueShare) result.Contended++;
                samples[v].Add(best);
                // Both peers run OpenMP (oneDNN in this process, PyTorch in its own): their workers spin on after a batch.
                if ((v == Variant.OneDnn || v == Variant.Torch) && BenchThreads.Count > 1) Thread.Sleep(PeerSettleMs);
            }
        }

        // Which path the layer's calls took by the end (a tuner in the adaptive band chooses from its own calls' times).
        bodies[Variant.Generated]();
        result.Streamed = NormKernels.Streaming.LastCallStreamed;

        foreach (var v in variants)
        {
            var s = samples[v];
            s.Sort();
            result.Times[v] = new Timing(Median(s), s[0], s[^1], s.Count, batch[v]);
            result.Spreads[v] = s.Count >= 5 ? (s[^2] - s[1]) / Median(s) : (s[^1] - s[0]) / Median(s);
        }
        if (result.Times.TryGetValue(Variant.OneDnn, out var oneDnnTime)) result.OneDnnNs = oneDnnTime.MedianNs;
        if (result.Times.TryGetValue(Variant.Torch, out var torchTime))
            result.Torch = new TorchTiming(torchTime.MedianNs, torchTime.MinNs, torchTime.Samples, 0, double.NaN, false);
        return result;
    }

    /// <summary>
    /// Tiered compilation (with dynamic PGO) recompiles a method after 30 calls and a 100 ms quiet period, in the
    /// background. Every variant of every operation runs on a small shape in rounds of calls with pauses until a
    /// round compiles no new method, so that the measured calls run final (tier-1) code. Returns the rounds used.
    /// </summary>
    public static int SettleJit(IEnumerable<Operation> operations, int maxRounds = 12)
    {
        var bodies = new List<Action>();
        foreach (var op in operations.Where(o => o.Exists))
        {
            var d = new CaseData(op, op.Layout == "NC" ? new BenchShape("warm-rows", 16, 768, 1, 1) : Shapes.S5);
            foreach (var v in Variants.All) bodies.Add(Variants.Create(v, d));
        }

        long before = System.Runtime.JitInfo.GetCompiledMethodCount();
        for (int round = 1; round <= maxRounds; round++)
        {
            foreach (var body in bodies)
                for (int i = 0; i < 40; i++) body();
            Thread.Sleep(150);
            long after = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (after == before && round > 2) return round;
            before = after;
        }
        return maxRounds;
    }

    /// <summary>Between cases: drop the last case's buffers so the next case's allocation does not trigger a GC mid-measure.</summary>
    public static void CollectGarbage()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
