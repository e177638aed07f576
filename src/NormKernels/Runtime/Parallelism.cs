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
    /// call (worker threads address them directly), and each worker gets a contiguous range of units. Worker 0 is
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

        /// <summary>The units worker <paramref name="worker"/> runs, in order, when <see cref="For{T, TBody}"/> runs
        /// <paramref name="units"/> units on <paramref name="workers"/> workers: [<paramref name="first"/>,
        /// <paramref name="last"/>). A function of the three alone, so a body may rely on it (a unit whose predecessor ran on
        /// the same worker just before it).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Range(int units, int workers, int worker, out int first, out int last)
        {
            workers = workers <= 1 || units <= 1 ? 1 : Math.Min(workers, units);
            first = (int)((long)units * worker / workers);
            last = (int)((long)units * (worker + 1) / workers);
        }

        /// <summary>The element at a pinned address.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe ref T At<T>(nint address) => ref Unsafe.AsRef<T>((void*)address);

        /// <summary>A loop whose current call may have a worker left for a spinning thread (<see cref="Spin"/>).</summary>
        private interface IOffer
        {
            /// <summary>Claims and runs one worker of the loop's current call, if one is left.</summary>
            bool Help();
        }

        /// <summary>The loop whose call started last, until it ends: what spinning threads look at.</summary>
        private static IOffer? s_offer;

        /// <summary>Pool threads spinning for work and not running any (a call queues that many fewer work items).</summary>
        private static int s_spinning;

        private static long s_spunWorkers;

        /// <summary>How many workers spinning threads have run since the process started (for tests and diagnostics).</summary>
        public static long SpunWorkers => Volatile.Read(ref s_spunWorkers);

        /// <summary>
        /// After a pool thread has run its worker: spins up to <see cref="Parallelism.SpinMicroseconds"/> for another call's
        /// worker (any body type), runs it, and spins again, then returns to the pool. A call reads how many threads spin
        /// after publishing its offer (a full fence each side: the caller's exchange of <see cref="s_offer"/>, the spinner's
        /// decrement before its last look), so either the caller queues a work item for every worker or a spinner sees the
        /// offer; if both miss, the caller claims the worker itself once its own is done. Nothing waits on a spinner.
        /// </summary>
        private static void Spin()
        {
            int micros = Parallelism.SpinMicroseconds;
            // With one processor a spinning thread would only hold off the caller it waits for.
            if (micros <= 0 || Environment.ProcessorCount < 2) return;
            long window = Stopwatch.Frequency * micros / 1_000_000;
            Interlocked.Increment(ref s_spinning);
            try
            {
                long end = Stopwatch.GetTimestamp() + window;
                while (true)
                {
                    if (Volatile.Read(ref s_offer) is { } offer && offer.Help())
                    {
                        end = Stopwatch.GetTimestamp() + window;
                        continue;
                    }
                    if (Stopwatch.GetTimestamp() > end) break;
                    // About a microsecond of pause instructions between looks: against 4 iterations, the calls this
                    // thread helps ran 1-6% faster (S2 at 2 threads, nine pairs, one process alternating; 100 alike).
                    Thread.SpinWait(30);
                }
            }
            finally
            {
                Interlocked.Decrement(ref s_spinning);
            }
            if (Volatile.Read(ref s_offer) is { } last) last.Help();
        }

        /// <summary>
        /// One parallel loop of a body type, reused call after call. A call publishes a new generation of the loop's
        /// state (generation, workers, workers claimed) with worker 0 claimed by the caller, offers the call to spinning
        /// pool threads (<see cref="Spin"/>), queues work items for the workers they will not take, runs worker 0, then
        /// claims every worker no pool thread has started (so it never waits for a busy pool, and a kernel called from a
        /// pool thread cannot deadlock), and waits only for workers running elsewhere.
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
            private TBody _body;
            private PinnedSpans _spans;
            private int _units;
            private long _state;
            private int _unfinished;   // workers of this call not yet finished
            private ExceptionDispatchInfo? _error;

            public static void Run(int units, int workers, in TBody body, in PinnedSpans spans)
            {
                workers = (int)Math.Min(workers, CountMask);
                Loop<TBody> loop = Take() ?? new Loop<TBody>();
                loop._body = body;
                loop._spans = spans;
                loop._units = units;
                loop._unfinished = workers;
                loop._done.Reset();
                long generation = (Volatile.Read(ref loop._state) >> (2 * CountBits)) + 1;
                Interlocked.Exchange(ref loop._state, (generation << (2 * CountBits)) | ((long)workers << CountBits) | 1);
                // Offered to spinning pool threads first; work items for the workers they will not take.
                Interlocked.Exchange(ref s_offer, loop);
                int queued = workers - 1 - Math.Clamp(Volatile.Read(ref s_spinning), 0, workers - 1);
                for (int i = 0; i < queued; i++) ThreadPool.UnsafeQueueUserWorkItem(loop, preferLocal: false);

                bool finishedLast = loop.RunWorker(0, workers);
                for (int worker = loop.Claim(out _); worker >= 0; worker = loop.Claim(out _)) finishedLast = loop.RunWorker(worker, workers);
                // Unless this thread finished the last worker, wait for the thread that did to signal (not just for the
                // count: that thread's Set must be over before the next call resets the event).
                if (!finishedLast) loop._done.Wait();
                Interlocked.CompareExchange(ref s_offer, null, loop);

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

            /// <summary>A spinning thread: one worker of the call running now, if any is left (not counted as spinning
            /// while it runs).</summary>
            bool IOffer.Help()
            {
                int worker = Claim(out int workers);
                if (worker < 0) return false;
                Interlocked.Decrement(ref s_spinning);
                Interlocked.Increment(ref s_spunWorkers);
                RunWorker(worker, workers);
                Interlocked.Increment(ref s_spinning);
                return true;
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
            private bool RunWorker(int worker, int workers)
            {
                try
                {
                    TBody body = _body;
                    PinnedSpans spans = _spans;
                    Range(_units, workers, worker, out int first, out int last);
                    for (int unit = first; unit < last; unit++) body.Run(worker, unit, in spans);
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
}
