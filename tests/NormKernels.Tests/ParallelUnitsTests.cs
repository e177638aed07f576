using System.Runtime.CompilerServices;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// The parallel runner on its own: every unit runs exactly once, on the worker whose contiguous range holds it, for any
/// worker count, while other threads run loops of the same body type at the same time (the loops are cached and reused,
/// and work items of finished calls may run late: they must neither run a unit twice nor miss one).
/// In the <see cref="AloneTests"/> collection, with no other test class beside it: the hand-off tests wait for a pool
/// thread inside worker 0, and kernel calls of other classes would only add load. Beside them, with the runner's one offer
/// slot of the time, <see cref="TheCallWaitsForAWorkerOnAPoolThread"/> failed once in the vector128 leg (forty-first
/// session's CI at fae66e7: another call took the spinner the call had counted, and worker 1 ran on the caller after
/// worker 0 had waited the test's 30 s); <see cref="EveryCallGetsItsPoolWorkerBesideOtherCallers"/> reproduces that race.
/// </summary>
[Collection(nameof(AloneTests))]
public sealed class ParallelUnitsTests
{
    /// <summary>Counts each unit in span 1 and records its worker in span 4 (both int, addressed through the pinned spans).</summary>
    private readonly struct Recorder : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            Interlocked.Increment(ref ParallelUnits.At<int>(spans.S1 + unit * sizeof(int)));
            ParallelUnits.At<int>(spans.S4 + unit * sizeof(int)) = worker;
        }
    }

    /// <summary>Throws in one unit (given in span 0).</summary>
    private readonly struct Thrower : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            if (unit == ParallelUnits.At<int>(spans.S0)) throw new InvalidOperationException("unit " + unit);
        }
    }

    /// <summary>8 units on 2 workers (0-3, 4-7). Worker 0 waits until unit 4 ran (on a pool thread: the caller runs worker 0
    /// first), up to <paramref name="waitMilliseconds"/>; worker 1 sleeps <paramref name="sleepMilliseconds"/> before each of
    /// its units (so it is still running when worker 0 is done). Counts in span 1, the managed thread ids in span 4.</summary>
    private readonly struct HandOff(int waitMilliseconds, int sleepMilliseconds) : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref int count = ref ParallelUnits.At<int>(spans.S1);
            if (unit == 0)
            {
                long giveUp = Environment.TickCount64 + waitMilliseconds;
                while (Volatile.Read(ref Unsafe.Add(ref count, 4)) == 0 && Environment.TickCount64 < giveUp) Thread.Yield();
            }
            if (worker == 1 && sleepMilliseconds > 0) Thread.Sleep(sleepMilliseconds);
            ParallelUnits.At<int>(spans.S4 + unit * sizeof(int)) = Environment.CurrentManagedThreadId;
            Interlocked.Increment(ref Unsafe.Add(ref count, unit));
        }
    }

    private static void RunAndCheck(int units, int workers)
    {
        var counts = new int[units];
        var ran = new int[units];
        ParallelUnits.For<int, Recorder>(units, workers, default, default, counts, default, default, ran, default);
        int used = Math.Min(workers, units);
        for (int unit = 0; unit < units; unit++)
        {
            Assert.True(counts[unit] == 1, $"unit {unit} of {units} ran {counts[unit]} times with {workers} workers");
            int expected = units <= 1 || workers <= 1 ? 0 : Enumerable.Range(0, used).Single(w => (long)units * w / used <= unit && unit < (long)units * (w + 1) / used);
            Assert.True(ran[unit] == expected, $"unit {unit} of {units} ran on worker {ran[unit]}, not {expected} ({workers} workers)");
        }
        Assert.Equal(used, ParallelUnits.LastWorkers);
    }

    private static readonly System.Reflection.PropertyInfo AloneProperty =
        typeof(ParallelUnits).GetProperty("Alone", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;

    private static bool Alone => (bool)AloneProperty.GetValue(null)!;

    /// <summary>Records in span 1 whether each unit saw itself as its loop's only worker (1) or not (2); throws in the unit
    /// given in span 0 (-1: none).</summary>
    private readonly struct AloneRecorder : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ParallelUnits.At<int>(spans.S1 + unit * sizeof(int)) = Alone ? 1 : 2;
            if (unit == ParallelUnits.At<int>(spans.S0)) throw new InvalidOperationException("unit " + unit);
        }
    }

    /// <summary>ParallelUnits.Alone (what the column reduction's in-cache hints go by) is true in the units of a one-worker
    /// loop only, on the calling thread, and false again after it, an exception included; false in every unit of a loop
    /// on two workers.</summary>
    [Fact]
    public void AloneHoldsForTheOneWorkerLoopOnly()
    {
        int[] none = [-1], seen = new int[8];
        Assert.False(Alone);
        ParallelUnits.For<int, AloneRecorder>(8, 1, default, none, seen, default, default, default, default);
        Assert.All(seen, v => Assert.Equal(1, v));
        Assert.False(Alone);
        Array.Clear(seen);
        ParallelUnits.For<int, AloneRecorder>(8, 2, default, none, seen, default, default, default, default);
        Assert.All(seen, v => Assert.Equal(2, v));
        Assert.False(Alone);
        Assert.Throws<InvalidOperationException>(() => ParallelUnits.For<int, AloneRecorder>(8, 1, default, [3], seen, default, default, default, default));
        Assert.False(Alone);
    }

    [Fact]
    public void EveryUnitRunsOnceOnItsWorker()
    {
        foreach (int workers in new[] { 1, 2, 3, 4, 8, 33 })
            foreach (int units in new[] { 1, 2, 3, 7, 8, 64, 1000 })
                for (int repeat = 0; repeat < 20; repeat++)
                    RunAndCheck(units, workers);
    }

    /// <summary>A pool thread runs worker 1 while the caller runs worker 0, and the call returns only when both are done.</summary>
    [Fact]
    public void TheCallWaitsForAWorkerOnAPoolThread()
    {
        for (int repeat = 0; repeat < 3; repeat++)
        {
            var counts = new int[8];
            var threads = new int[8];
            ParallelUnits.For<int, HandOff>(8, 2, new HandOff(30_000, 20), default, counts, default, default, threads, default);
            Assert.Equal(Enumerable.Repeat(1, 8), counts);
            Assert.All(threads[..4], id => Assert.Equal(Environment.CurrentManagedThreadId, id));
            Assert.All(threads[4..], id => Assert.NotEqual(Environment.CurrentManagedThreadId, id));
        }
    }

    /// <summary>Spins a little per unit (a stand-in for a kernel's block).</summary>
    private readonly struct Busy : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans) => Thread.SpinWait(200);
    }

    /// <summary>Worker 1 of a call runs on a pool thread while two other threads call 2-worker loops without pause: every
    /// call gets its spinner or its work item, none loses its pool worker to another call (the runner before the
    /// forty-first session: 1 hand-off in 200 ran on the caller, after worker 0 had waited for it). Worker 0 waits for unit
    /// 4 here (up to 10 s), so a lost worker shows as unit 4 on the caller's thread.</summary>
    [Fact]
    public void EveryCallGetsItsPoolWorkerBesideOtherCallers()
    {
        bool stop = false;
        var others = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            var units = new int[64];
            while (!Volatile.Read(ref stop)) ParallelUnits.For<int, Busy>(64, 2, default, default, units, default, default, default, default);
        })).ToArray();
        foreach (var thread in others) thread.Start();
        int onCaller = 0;
        try
        {
            for (int call = 0; call < 200; call++)
            {
                var counts = new int[8];
                var threads = new int[8];
                ParallelUnits.For<int, HandOff>(8, 2, new HandOff(10_000, 0), default, counts, default, default, threads, default);
                Assert.Equal(Enumerable.Repeat(1, 8), counts);
                if (threads[4] == Environment.CurrentManagedThreadId) onCaller++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            foreach (var thread in others) thread.Join();
        }
        Assert.Equal(0, onCaller);
    }

    [Fact]
    public void ConcurrentCallersOfOneBodyType()
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, 6).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            try
            {
                for (int call = 0; call < 400; call++) RunAndCheck(random.Next(1, 200), random.Next(2, 7));
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToArray();
        foreach (Thread thread in threads) thread.Start();
        foreach (Thread thread in threads) thread.Join();
        Assert.Empty(errors);
    }

    [Fact]
    public void AUnitsExceptionReachesTheCallerAfterEveryWorkerStopped()
    {
        foreach (int throwing in new[] { 0, 5, 99 })
        {
            var error = Assert.Throws<InvalidOperationException>(() =>
                ParallelUnits.For<int, Thrower>(100, 4, default, [throwing], default, default, default, default, default));
            Assert.Equal("unit " + throwing, error.Message);
        }
        // The loop object is reused after a throw: the next calls still run every unit once.
        for (int repeat = 0; repeat < 20; repeat++) RunAndCheck(100, 4);
    }
}
