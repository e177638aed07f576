using System.Runtime.CompilerServices;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// The parallel runner on its own: every unit runs exactly once, on the worker whose contiguous range holds it or, taken
/// from the end of that range, on a worker done with its own, for any worker count, while other threads run loops of the same body type at the same time (the loops are cached and reused,
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

    /// <summary>Every unit runs exactly once; in each worker's range the units its owner ran are a prefix (the owner takes from
    /// the front) and the rest ran on other workers (taken from the end); one worker runs them all on worker 0.</summary>
    private static void RunAndCheck(int units, int workers)
    {
        var counts = new int[units];
        var ran = new int[units];
        ParallelUnits.For<int, Recorder>(units, workers, default, default, counts, default, default, ran, default);
        int used = Math.Min(workers, units);
        for (int unit = 0; unit < units; unit++)
        {
            Assert.True(counts[unit] == 1, $"unit {unit} of {units} ran {counts[unit]} times with {workers} workers");
            if (units <= 1 || workers <= 1) Assert.True(ran[unit] == 0, $"unit {unit} of {units} ran on worker {ran[unit]} with one worker");
        }
        if (units > 1 && workers > 1)
        {
            for (int owner = 0; owner < used; owner++)
            {
                int first = (int)((long)units * owner / used), last = (int)((long)units * (owner + 1) / used);
                int own = first;
                while (own < last && ran[own] == owner) own++;
                for (int unit = own; unit < last; unit++)
                    Assert.True(ran[unit] != owner, $"unit {unit} of {units} ran on its owner {owner} after unit {own} ran elsewhere ({workers} workers)");
                for (int unit = first; unit < last; unit++)
                    Assert.True(ParallelUnitsOwner(units, workers, unit) == owner, $"Owner({units}, {workers}, {unit}) is not {owner}");
            }
        }
        Assert.Equal(used, ParallelUnits.LastWorkers);
    }

    private static readonly System.Reflection.MethodInfo OwnerMethod =
        typeof(ParallelUnits).GetMethod("Owner", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;

    private static int ParallelUnitsOwner(int units, int workers, int unit) => (int)OwnerMethod.Invoke(null, [units, workers, unit])!;

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
    public void EveryUnitRunsOnce()
    {
        foreach (int workers in new[] { 1, 2, 3, 4, 8, 33 })
            foreach (int units in new[] { 1, 2, 3, 7, 8, 64, 1000 })
                for (int repeat = 0; repeat < 20; repeat++)
                    RunAndCheck(units, workers);
    }

    /// <summary>The same with every worker taking from the others' ranges first (the test hook the kernel tests use to run
    /// units away from their owners in every call).</summary>
    [Fact]
    public void EveryUnitRunsOnceWhenWorkersTakeFromEachOther()
    {
        using var scope = StealScope.On();
        foreach (int workers in new[] { 2, 3, 8 })
            foreach (int units in new[] { 2, 3, 7, 64, 1000 })
                for (int repeat = 0; repeat < 10; repeat++)
                    RunAndCheck(units, workers);
    }

    /// <summary>8 units on 2 workers (0-3, 4-7): unit 4 (worker 1's first, on a pool thread) waits until unit 7 ran, and unit
    /// 0 until unit 4 started, up to 30 s each. Counts in span 1, the managed thread ids in span 4.</summary>
    private readonly struct Stuck : IParallelBody
    {
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref int count = ref ParallelUnits.At<int>(spans.S1);
            ref int started = ref ParallelUnits.At<int>(spans.S0);
            long giveUp = Environment.TickCount64 + 30_000;
            if (unit == 4)
            {
                Volatile.Write(ref started, 1);
                while (Volatile.Read(ref Unsafe.Add(ref count, 7)) == 0 && Environment.TickCount64 < giveUp) Thread.Yield();
            }
            if (unit == 0)
                while (Volatile.Read(ref started) == 0 && Environment.TickCount64 < giveUp) Thread.Yield();
            ParallelUnits.At<int>(spans.S4 + unit * sizeof(int)) = Environment.CurrentManagedThreadId;
            Interlocked.Increment(ref Unsafe.Add(ref count, unit));
        }
    }

    /// <summary>A worker held up inside a unit does not hold up the rest of its range: the caller, done with its own units,
    /// takes the held worker's last unit (and the call still returns only when the held unit is done).</summary>
    [Fact]
    public void AWorkerDoneWithItsRangeTakesTheUnitsOfAHeldOne()
    {
        for (int repeat = 0; repeat < 3; repeat++)
        {
            var started = new int[1];
            var counts = new int[8];
            var threads = new int[8];
            ParallelUnits.For<int, Stuck>(8, 2, default, started, counts, default, default, threads, default);
            Assert.Equal(Enumerable.Repeat(1, 8), counts);
            Assert.NotEqual(Environment.CurrentManagedThreadId, threads[4]);
            Assert.Equal(Environment.CurrentManagedThreadId, threads[7]);
            Assert.All(threads[..4], id => Assert.Equal(Environment.CurrentManagedThreadId, id));
        }
    }

    /// <summary>A pool thread runs worker 1 while the caller runs worker 0, and the call returns only when both are done (the
    /// caller may take worker 1's last units while worker 1 sleeps in one: those after a unit the pool thread ran).</summary>
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
            Assert.NotEqual(Environment.CurrentManagedThreadId, threads[4]);
            int pooled = 4;
            while (pooled < 8 && threads[pooled] != Environment.CurrentManagedThreadId) pooled++;
            Assert.All(threads[pooled..], id => Assert.Equal(Environment.CurrentManagedThreadId, id));
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
