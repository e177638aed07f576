using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Diagnostics;
using System.Threading;

namespace NormKernels
{
    /// <summary>
    /// How many threads the generated kernels may use. Results never depend on it: work is split into units
    /// fixed by the shape (blocks of independent statistics, or chunks whose partial sums merge in a fixed
    /// order), and only the assignment of units to threads changes with the degree.
    /// </summary>
    public static class Parallelism
    {
        private static int s_maxDegree = Environment.ProcessorCount;

        /// <summary>Tensors smaller than this many elements per extra thread stay on the calling thread.</summary>
        public const long MinElementsPerThread = 1 << 16;

        /// <summary>The most threads one kernel call uses (default: the processor count; 1 = the calling thread only).</summary>
        public static int MaxDegree
        {
            get => s_maxDegree;
            set
            {
                if (value < 1)
                    throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDegree must be at least 1.");
                s_maxDegree = value;
            }
        }

        private static int s_spinMicroseconds = DefaultSpinMicroseconds;

        /// <summary>The default of <see cref="SpinMicroseconds"/>: 50 microseconds.</summary>
        public const int DefaultSpinMicroseconds = 50;

        /// <summary>
        /// How long a pool thread that has run its share of a call keeps spinning for the next call's share before it goes
        /// back to the thread pool, in microseconds (default <see cref="DefaultSpinMicroseconds"/>; 0 = back at once). The
        /// next call is often the same kernel's second pass (statistics, then the apply) or the next layer: a thread that
        /// is still spinning starts on it at once, where one the pool has to wake takes 10-20 us on this 2-vCPU KVM guest
        /// (BatchNorm training NHWC 32x512x7x7: its statistics pass took 37-49 us at 2 threads against 47 at 1). OpenMP runtimes
        /// do the same for longer (KMP_BLOCKTIME, 200 ms by default; GOMP_SPINCOUNT). Each spin costs the process at most this
        /// much processor time per call that used more than one thread; results never depend on it. A process that sees one
        /// processor never spins (with <see cref="MaxDegree"/> raised above 1 there, a spinning thread would only keep
        /// the caller off the processor).
        /// </summary>
        public static int SpinMicroseconds
        {
            get => s_spinMicroseconds;
            set
            {
                if (value < 0 || value > 1_000_000)
                    throw new ArgumentOutOfRangeException(nameof(value), value, "SpinMicroseconds must be between 0 and 1,000,000.");
                s_spinMicroseconds = value;
            }
        }

        /// <summary>Threads for a call over <paramref name="elements"/> elements split into <paramref name="units"/> units.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static int Workers(long elements, int units) =>
            (int)Math.Max(1, Math.Min(Math.Min(MaxDegree, units), elements / MinElementsPerThread));
    }
}

namespace NormKernels.Runtime
{
    /// <summary>A unit of a generated kernel's work, run with the call's spans pinned and given as addresses.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public interface IParallelBody
    {
        /// <summary>Runs unit <paramref name="unit"/> on worker <paramref name="worker"/> (0 .. workers-1; per-worker scratch).</summary>
        void Run(int worker, int unit, in PinnedSpans spans);
    }

    /// <summary>The addresses of up to six pinned spans of one call (0 for an empty span).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct PinnedSpans
    {
        internal PinnedSpans(nint s0, nint s1, nint s2, nint s3, nint s4, nint s5)
        {
            S0 = s0; S1 = s1; S2 = s2; S3 = s3; S4 = s4; S5 = s5;
        }

        /// <summary>Address of span 0..5.</summary>
        public nint S0 { get; }
        /// <inheritdoc cref="S0"/>
        public nint S1 { get; }
        /// <inheritdoc cref="S0"/>
        public nint S2 { get; }
        /// <inheritdoc cref="S0"/>
        public nint S3 { get; }
        /// <inheritdoc cref="S0"/>
        public nint S4 { get; }
        /// <inheritdoc cref="S0"/>
        public nint S5 { get; }
    }

    /// <summary>
    /// Runs the units of a generated kernel on up to <c>workers</c> threads. The spans are pinned for the whole
    /// call (worker threads address them directly), and each worker starts on a contiguous range of units
    /// (<see cref="Range"/>), from its front; a worker done with its own takes the units no worker has started from the end
    /// of the others' ranges, one at a time, so a worker on a slower or preempted processor holds up the call by no more
    /// than the units it has taken (its own in batches of a quarter of what is left of its range). Worker 0 is
    /// the calling thread; the others are pool threads (<see cref="ThreadPool.UnsafeQueueUserWorkItem(IThreadPoolWorkItem, bool)"/>).
    /// Nothing is allocated per call once warm: one thread runs the units in a plain loop, and more threads use a loop
    /// object from a small cache per body type (a new one only while every cached one serves another call).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static class ParallelUnits
    {
        /// <summary>The number of workers the last loop started on this thread used (for tests and diagnostics).</summary>
        public static int LastWorkers => LastCall.Current.Workers;

        /// <summary>Whether the units running on this thread are their loop's only worker (<see cref="For{T, TBody}"/> with one
        /// worker, on the calling thread): the contiguous column reduction hints its lines in cache then
        /// (<see cref="Runs{TS, TV, T}.ReduceColumns{TK}(ref T, nint, nint, ref T, ref double, ref double)"/>). Speed only:
        /// a hint never changes a result.</summary>
        internal static bool Alone => t_alone;

        [ThreadStatic] private static bool t_alone;

        /// <summary>Records a call whose work ran on the calling thread without this runner (a small call's own lane).</summary>
        internal static void OnCallingThread() => LastCall.Current.Workers = 1;

        /// <summary>Runs units 0..<paramref name="units"/>-1 of <paramref name="body"/>. Compiled on its own, fully optimized on
        /// the first call: inlined into a caller that tiered up with Dynamic PGO, the units' loops (which carry no profile)
        /// were laid out as cold code and ran up to four times slower (issue 11). Ends with a store fence, so streaming
        /// stores are ordered before whatever the caller does next.</summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static unsafe void For<T, TBody>(int units, int workers, TBody body,
            ReadOnlySpan<T> s0, Span<T> s1, ReadOnlySpan<T> s2, ReadOnlySpan<T> s3, Span<T> s4, Span<T> s5)
            where T : unmanaged
            where TBody : struct, IParallelBody
        {
            fixed (T* p0 = s0) fixed (T* p1 = s1) fixed (T* p2 = s2) fixed (T* p3 = s3) fixed (T* p4 = s4) fixed (T* p5 = s5)
            {
                var spans = new PinnedSpans((nint)p0, (nint)p1, (nint)p2, (nint)p3, (nint)p4, (nint)p5);
                LastCall.Current.Workers = Math.Min(workers, units);
                if (workers <= 1 || units <= 1)
                {
                    bool outer = t_alone;
                    t_alone = true;
                    try
                    {
                        for (int unit = 0; unit < units; unit++) body.Run(0, unit, in spans);
                    }
                    finally
                    {
                        t_alone = outer;
                    }
                    Streaming.Fence();
                    return;
                }
                Loop<TBody>.Run(units, Math.Min(workers, units), in body, in spans);
            }
        }

        /// <summary>The range of units worker <paramref name="worker"/> starts on, from its front, when <see cref="For{T, TBody}"/>
        /// runs <paramref name="units"/> units on <paramref name="workers"/> workers: [<paramref name="first"/>,
        /// <paramref name="last"/>), a function of the three alone. Its last units may run on another worker (one done with
        /// its own range takes them from the end), so a body must not rely on a unit's predecessor having run on the same
        /// worker; one that orders its work by range goes by the range's owner (<see cref="Owner"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Range(int units, int workers, int worker, out int first, out int last)
        {
            workers = workers <= 1 || units <= 1 ? 1 : Math.Min(workers, units);
            first = (int)((long)units * worker / workers);
            last = (int)((long)units * (worker + 1) / workers);
        }

        /// <summary>The worker whose <see cref="Range"/> holds <paramref name="unit"/> (0 .. units-1) when <paramref name="units"/>
        /// units run on <paramref name="workers"/> workers. A unit may run on another worker (a worker done with its own range
        /// takes units from the end of the others'); a body that orders its work by range goes by the range's owner, not by the
        /// worker running it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int Owner(int units, int workers, int unit)
        {
            workers = workers <= 1 || units <= 1 ? 1 : Math.Min(workers, units);
            return (int)(((long)(unit + 1) * workers - 1) / units);
        }

        /// <summary>Test hook: each worker of a loop with more than one takes units from the end of the other workers' ranges
        /// before it starts on its own (so the tests see units run away from their range's owner in every call, not only when
        /// a worker falls behind). Results never depend on it.</summary>
        internal static bool StealFirst { get; set; }

        /// <summary>The element at a pinned address.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe ref T At<T>(nint address) => ref Unsafe.AsRef<T>((void*)address);

        /// <summary>A loop whose current call may have a worker left for a spinning thread (<see cref="Spin"/>).</summary>
        private interface IOffer
        {
            /// <summary>Claims and runs one worker of the loop's current call, if one is left.</summary>
            void Help();
        }

        /// <summary>
        /// A spinning pool thread's token: <see cref="Idle"/> while a call may reserve it, <see cref="Reserved"/> once a call
        /// has (its loop then arrives in <see cref="Mailbox"/>), <see cref="Busy"/> while the thread registers, serves or
        /// leaves. A call reserves a specific spinner with a compare-exchange Idle to Reserved, and a spinner leaves only by
        /// a compare-exchange Idle to Busy, so every reservation is served: one slot read by every spinner (the runner until
        /// the forty-first session) let a call count a spinner that a later call's offer then took, and that call's worker
        /// ran on its caller after its own (1 call in 200 with two other threads calling 2-worker loops continuously).
        /// </summary>
        private sealed class Spinner
        {
            public const int Idle = 0, Reserved = 1, Busy = 2;
            public int State = Busy;
            public IOffer? Mailbox;
        }

        /// <summary>The spinning threads' tokens (a null slot is free); a thread finding every slot taken does not spin.</summary>
        private static readonly Spinner?[] s_spinners = new Spinner?[Math.Clamp(Environment.ProcessorCount, 2, 64)];

        /// <summary>This thread's token, reused from spin to spin (nothing allocated per call).</summary>
        [ThreadStatic] private static Spinner? t_spinner;

        private static long s_spunWorkers;

        /// <summary>How many workers spinning threads have run since the process started (for tests and diagnostics).</summary>
        public static long SpunWorkers => Volatile.Read(ref s_spunWorkers);

        /// <summary>
        /// After a pool thread has run its worker: registers its token and spins up to <see cref="Parallelism.SpinMicroseconds"/>
        /// for a call that reserves it (any body type, any caller), runs the worker that call hands it, and spins again, then
        /// leaves and returns to the pool. Nothing waits on a spinner: a call runs on its own thread every worker no thread
        /// has claimed by the time its own is done.
        /// </summary>
        private static void Spin()
        {
            int micros = Parallelism.SpinMicroseconds;
            // With one processor a spinning thread would only hold off the caller it waits for.
            if (micros <= 0 || Environment.ProcessorCount < 2) return;
            Spinner me = t_spinner ??= new Spinner();
            // Busy unless this thread spins already (a worker's body that ended up here again): one token, one slot.
            if (Volatile.Read(ref me.State) != Spinner.Busy) return;
            me.Mailbox = null;
            Spinner?[] slots = s_spinners;
            int slot = -1;
            for (int i = 0; i < slots.Length; i++)
            {
                if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], me, null) is null)
                {
                    slot = i;
                    break;
                }
            }
            if (slot < 0) return;
            long window = Stopwatch.Frequency * micros / 1_000_000;
            long end = Stopwatch.GetTimestamp() + window;
            Volatile.Write(ref me.State, Spinner.Idle);
            try
            {
                while (true)
                {
                    if (Volatile.Read(ref me.State) == Spinner.Reserved)
                    {
                        Serve(me);
                        end = Stopwatch.GetTimestamp() + window;
                        continue;
                    }
                    // Leaving takes the token from Idle to Busy; a call that reserved it first is served, then the thread spins on.
                    if (Stopwatch.GetTimestamp() > end && Interlocked.CompareExchange(ref me.State, Spinner.Busy, Spinner.Idle) == Spinner.Idle) break;
                    // About a microsecond of pause instructions between looks: against 4 iterations, the calls this
                    // thread helps ran 1-6% faster (S2 at 2 threads, nine pairs, one process alternating; 100 alike).
                    Thread.SpinWait(30);
                }
            }
            finally
            {
                // Left (Busy), or unwinding: no call can reserve the token again once it is Busy and out of its slot (a call
                // that reserved it just before an unwind runs that worker itself after its own, as for any unclaimed worker).
                Volatile.Write(ref me.State, Spinner.Busy);
                Volatile.Write(ref slots[slot], null);
            }
        }

        /// <summary>A reservation: the reserving call writes its loop into the mailbox right after its compare-exchange; the
        /// worker it hands over runs here (or none, if its caller has claimed them all), then the token is Idle again.</summary>
        private static void Serve(Spinner me)
        {
            IOffer? offer;
            while ((offer = Volatile.Read(ref me.Mailbox)) is null) Thread.SpinWait(1);
            me.Mailbox = null;
            offer.Help();
            Volatile.Write(ref me.State, Spinner.Idle);
        }

        /// <summary>Reserves up to <paramref name="count"/> idle spinners for <paramref name="offer"/> (its state published
        /// first) and hands it to them; returns how many it reserved.</summary>
        private static int Reserve(IOffer offer, int count)
        {
            int reserved = 0;
            Spinner?[] slots = s_spinners;
            for (int i = 0; i < slots.Length && reserved < count; i++)
            {
                if (Volatile.Read(ref slots[i]) is { } spinner && Volatile.Read(ref spinner.State) == Spinner.Idle
                    && Interlocked.CompareExchange(ref spinner.State, Spinner.Reserved, Spinner.Idle) == Spinner.Idle)
                {
                    Volatile.Write(ref spinner.Mailbox, offer);
                    reserved++;
                }
            }
            return reserved;
        }

        /// <summary>
        /// One parallel loop of a body type, reused call after call. A call publishes a new generation of the loop's
        /// state (generation, workers, workers claimed) with worker 0 claimed by the caller (and the first units of its range
        /// taken: the caller runs at least one unit of every call), reserves idle spinning pool threads and hands them the
        /// call (<see cref="Reserve"/>, <see cref="Spin"/>), queues work items for the workers they will not take, runs worker
        /// 0 (its range, then the units no worker has started from the end of the others'; <see cref="UnitRanges"/>), then
        /// claims every worker no pool thread has started (so it never waits for a busy pool, and a kernel called from a
        /// pool thread cannot deadlock), and waits only for workers running elsewhere, for the units they have taken.
        /// A work item claims with a compare-exchange on the whole state, so an item that runs late (after its call
        /// ended, while the loop sits in the cache or serves a later call) finds every worker claimed and does nothing,
        /// or helps the call running at that moment; the call's fields are written before its generation is published
        /// and read only by a claimer. Loops wait in a small cache per body type; a call that finds it empty (another
        /// call of the same body type runs at that moment) builds its own.
        /// </summary>
        private sealed class Loop<TBody> : IThreadPoolWorkItem, IOffer where TBody : struct, IParallelBody
        {
            // _state: generation (bits 34..63), workers (bits 17..33), workers claimed (bits 0..16).
            private const int CountBits = 17;
            private const long CountMask = (1L << CountBits) - 1;

            private static readonly Loop<TBody>?[] s_cache = new Loop<TBody>?[4];

            private readonly ManualResetEventSlim _done = new(false);
            /// <summary>Per worker, the units of its range no worker has taken yet (<see cref="UnitRanges"/>).</summary>
            private long[] _ranges = new long[UnitRanges.Length(2)];
            private TBody _body;
            private PinnedSpans _spans;
            private long _state;
            private int _unfinished;   // workers of this call not yet finished
            private ExceptionDispatchInfo? _error;

            public static void Run(int units, int workers, in TBody body, in PinnedSpans spans)
            {
                workers = (int)Math.Min(workers, CountMask);
                Loop<TBody> loop = Take() ?? new Loop<TBody>();
                loop._body = body;
                loop._spans = spans;
                loop._unfinished = workers;
                loop._done.Reset();
                if (loop._ranges.Length < UnitRanges.Length(workers)) loop._ranges = new long[UnitRanges.Length(workers)];
                UnitRanges.Set(loop._ranges, units, workers);
                // The caller's first units taken before any other worker can start: the caller runs at least one unit of every
                // call (what a body records on its thread, e.g. Streaming.LastCallPipelined, is the caller's to read).
                int own = UnitRanges.TakeNext(loop._ranges, 0, out int ownTaken);
                if (own < 0) ownTaken = 0;
                long generation = (Volatile.Read(ref loop._state) >> (2 * CountBits)) + 1;
                Interlocked.Exchange(ref loop._state, (generation << (2 * CountBits)) | ((long)workers << CountBits) | 1);
                // Handed to spinning pool threads it reserves first; work items for the workers they will not take.
                int queued = workers - 1 - Reserve(loop, workers - 1);
                for (int i = 0; i < queued; i++) ThreadPool.UnsafeQueueUserWorkItem(loop, preferLocal: false);

                bool finishedLast = loop.RunWorker(0, workers, own, ownTaken);
                for (int worker = loop.Claim(out _); worker >= 0; worker = loop.Claim(out _)) finishedLast = loop.RunWorker(worker, workers);
                // Unless this thread finished the last worker, wait for the thread that did to signal (not just for the
                // count: that thread's Set must be over before the next call resets the event).
                if (!finishedLast) loop._done.Wait();

                ExceptionDispatchInfo? error = loop._error;
                loop._error = null;
                loop._body = default;   // no reference to the call's scratch or arrays stays in the cache
                loop._spans = default;
                Return(loop);
                error?.Throw();
            }

            /// <summary>A pool thread: one worker of the call running now, if any is left.</summary>
            void IThreadPoolWorkItem.Execute()
            {
                int worker = Claim(out int workers);
                if (worker >= 0) RunWorker(worker, workers);
                Spin();
            }

            /// <summary>A spinning thread this call reserved: one worker of the call running now, if any is left.</summary>
            void IOffer.Help()
            {
                int worker = Claim(out int workers);
                if (worker < 0) return;
                Interlocked.Increment(ref s_spunWorkers);
                RunWorker(worker, workers);
            }

            /// <summary>The next unclaimed worker of the current call (and its worker count), or -1 when all are claimed.</summary>
            private int Claim(out int workers)
            {
                long state = Volatile.Read(ref _state);
                while (true)
                {
                    workers = (int)((state >> CountBits) & CountMask);
                    int claimed = (int)(state & CountMask);
                    if (claimed >= workers) return -1;
                    long seen = Interlocked.CompareExchange(ref _state, state + 1, state);
                    if (seen == state) return claimed;
                    state = seen;
                }
            }

            /// <summary>Runs one worker's units; true when it was the call's last worker to finish (it then signals the caller).</summary>
            [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
            private bool RunWorker(int worker, int workers, int first = 0, int count = 0)
            {
                try
                {
                    TBody body = _body;
                    PinnedSpans spans = _spans;
                    long[] ranges = _ranges;
                    int unit;
                    // Units taken for this worker before the call was published (the caller's first).
                    for (unit = first; unit < first + count; unit++) body.Run(worker, unit, in spans);
                    if (StealFirst)
                    {
                        while ((unit = UnitRanges.TakeOthers(ranges, worker, workers)) >= 0) body.Run(worker, unit, in spans);
                    }
                    // Its own range in batches of a quarter of what is left (see UnitRanges.TakeNext).
                    while ((unit = UnitRanges.TakeNext(ranges, worker, out int taken)) >= 0)
                        for (int end = unit + taken; unit < end; unit++) body.Run(worker, unit, in spans);
                    // Done with its own range: the others' units no worker has started, from the end of each range, one at a time.
                    while ((unit = UnitRanges.TakeOthers(ranges, worker, workers)) >= 0) body.Run(worker, unit, in spans);
                    Streaming.Fence();
                }
                catch (Exception exception)
                {
                    Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(exception), null);
                }
                if (Interlocked.Decrement(ref _unfinished) != 0) return false;
                _done.Set();
                return true;
            }

            private static Loop<TBody>? Take()
            {
                Loop<TBody>?[] cache = s_cache;
                for (int i = 0; i < cache.Length; i++)
                {
                    if (Volatile.Read(ref cache[i]) is not null && Interlocked.Exchange(ref cache[i], null) is { } loop)
                        return loop;
                }
                return null;
            }

            /// <summary>Puts the loop in a free cache slot (or drops it when none is free).</summary>
            private static void Return(Loop<TBody> loop)
            {
                Loop<TBody>?[] cache = s_cache;
                for (int i = 0; i < cache.Length; i++)
                {
                    if (Volatile.Read(ref cache[i]) is null && Interlocked.CompareExchange(ref cache[i], loop, null) is null)
                        return;
                }
            }
        }
    }

    /// <summary>
    /// Ranges of units shared by the workers of one call: per worker, the units of its range no worker has taken yet, next
    /// (low 32 bits) and end (high 32 bits) in one long, a 64-byte line apart. The range's worker takes from next, the
    /// others from end, each with a compare-exchange on the pair, so every unit is taken once. <see cref="ParallelUnits"/>
    /// keeps one per loop for its units; a body that runs one unit per worker and keeps state from one of its blocks to the
    /// next (the pipelined forward) keeps one for its blocks.
    /// </summary>
    internal static class UnitRanges
    {
        /// <summary>Longs between two workers' ranges: a 64-byte line.</summary>
        private const int Stride = 8;

        /// <summary>The longs <paramref name="workers"/> ranges take.</summary>
        public static int Length(int workers) => workers * Stride;

        /// <summary>Worker w's range: <see cref="ParallelUnits.Range"/>'s for <paramref name="units"/> units on
        /// <paramref name="workers"/> workers.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Set(long[] ranges, int units, int workers)
        {
            for (int worker = 0; worker < workers; worker++)
            {
                ParallelUnits.Range(units, workers, worker, out int first, out int last);
                Volatile.Write(ref ranges[worker * Stride], ((long)last << 32) | (uint)first);
            }
        }

        /// <summary>The next units of <paramref name="owner"/>'s range, taken: the first, or -1 when none is left, and how many
        /// (<paramref name="taken"/>: a quarter of what is left, at least one). A locked
        /// compare-exchange waits until the worker's pending stores have drained: one per unit made GroupNorm(32) NCHW
        /// 32x512x7x7 (blocks of 3 KB) at 2 threads 137-143 us against 83-93 with a quarter at a time (AMD EPYC Zen 5, one
        /// process alternating).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        public static int TakeNext(long[] ranges, int owner, out int taken)
        {
            ref long range = ref ranges[owner * Stride];
            long seen = Volatile.Read(ref range);
            while (true)
            {
                int next = (int)seen, end = (int)(seen >> 32);
                taken = Math.Max(1, (end - next) >> 2);
                if (next >= end) return -1;
                long was = Interlocked.CompareExchange(ref range, seen + taken, seen);
                if (was == seen) return next;
                seen = was;
            }
        }

        /// <summary>The last unit of <paramref name="owner"/>'s range, taken, or -1 when none is left.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        public static int TakeLast(long[] ranges, int owner)
        {
            ref long range = ref ranges[owner * Stride];
            long seen = Volatile.Read(ref range);
            while (true)
            {
                int next = (int)seen, end = (int)(seen >> 32);
                if (next >= end) return -1;
                long was = Interlocked.CompareExchange(ref range, seen - (1L << 32), seen);
                if (was == seen) return end - 1;
                seen = was;
            }
        }

        /// <summary>One unit of the other workers' ranges (<paramref name="workers"/> in all), taken from the end of the first
        /// that has one left, looking from <paramref name="worker"/> + 1 on; -1 when every other range is empty.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        public static int TakeOthers(long[] ranges, int worker, int workers)
        {
            for (int k = 1; k < workers; k++)
            {
                int unit = TakeLast(ranges, (worker + k) % workers);
                if (unit >= 0) return unit;
            }
            return -1;
        }

        /// <summary>Units for <paramref name="worker"/>: the next of its own range (a quarter of what is left, as
        /// <see cref="TakeNext"/>), else one from the end of another's (with <see cref="ParallelUnits.StealFirst"/>, the
        /// others' first); the first of them, or -1 when none is left, and how many (<paramref name="taken"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static int Take(long[] ranges, int worker, int workers, out int taken)
        {
            int unit;
            taken = 1;
            if (ParallelUnits.StealFirst && (unit = TakeOthers(ranges, worker, workers)) >= 0) return unit;
            if ((unit = TakeNext(ranges, worker, out taken)) >= 0) return unit;
            taken = 1;
            return TakeOthers(ranges, worker, workers);
        }
    }
}
