using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
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

        /// <summary>Threads for a call over <paramref name="elements"/> elements split into <paramref name="units"/> units.</summary>
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
    /// Nothing is allocated per call: one thread runs the units in a plain loop, and more threads share a loop object
    /// cached per body type (a second call of the same body type running at that moment builds its own).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static class ParallelUnits
    {
        [ThreadStatic]
        private static int t_lastWorkers;

        /// <summary>The number of workers the last loop started on this thread used (for tests and diagnostics).</summary>
        public static int LastWorkers => t_lastWorkers;

        /// <summary>Runs units 0..<paramref name="units"/>-1 of <paramref name="body"/>.</summary>
        public static unsafe void For<T, TBody>(int units, int workers, TBody body,
            ReadOnlySpan<T> s0, Span<T> s1, ReadOnlySpan<T> s2, ReadOnlySpan<T> s3, Span<T> s4, Span<T> s5)
            where T : unmanaged
            where TBody : struct, IParallelBody
        {
            fixed (T* p0 = s0) fixed (T* p1 = s1) fixed (T* p2 = s2) fixed (T* p3 = s3) fixed (T* p4 = s4) fixed (T* p5 = s5)
            {
                var spans = new PinnedSpans((nint)p0, (nint)p1, (nint)p2, (nint)p3, (nint)p4, (nint)p5);
                t_lastWorkers = Math.Min(workers, units);
                if (workers <= 1 || units <= 1)
                {
                    for (int unit = 0; unit < units; unit++) body.Run(0, unit, in spans);
                    return;
                }
                Loop<TBody>.Run(units, Math.Min(workers, units), in body, in spans);
            }
        }

        /// <summary>The element at a pinned address.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe ref T At<T>(nint address) => ref Unsafe.AsRef<T>((void*)address);

        /// <summary>
        /// One parallel loop of a body type. The caller queues <c>workers - 1</c> work items, runs worker 0, then
        /// claims every worker no pool thread has started (so it never waits for a busy pool, and a kernel called from
        /// a pool thread cannot deadlock), and waits only for workers running elsewhere. A work item that starts after
        /// every worker was claimed does nothing; the loop object returns to the cache when its last holder (the
        /// caller or such an item) lets go of it, so a late item never sees the next call's state.
        /// </summary>
        private sealed class Loop<TBody> : IThreadPoolWorkItem where TBody : struct, IParallelBody
        {
            private static Loop<TBody>? s_cached;

            private readonly ManualResetEventSlim _done = new(false);
            private TBody _body;
            private PinnedSpans _spans;
            private int _units, _workers;
            private int _claimed;      // workers handed out so far (may run past _workers: late claims get nothing)
            private int _unfinished;   // workers not yet finished
            private int _holders;      // the caller and the queued work items not yet run
            private ExceptionDispatchInfo? _error;

            public static void Run(int units, int workers, in TBody body, in PinnedSpans spans)
            {
                Loop<TBody> loop = Interlocked.Exchange(ref s_cached, null) ?? new Loop<TBody>();
                loop._body = body;
                loop._spans = spans;
                loop._units = units;
                loop._workers = workers;
                loop._claimed = 1;
                loop._unfinished = workers;
                loop._holders = workers;
                loop._done.Reset();
                for (int i = 1; i < workers; i++) ThreadPool.UnsafeQueueUserWorkItem(loop, preferLocal: false);

                loop.RunWorker(0);
                for (int worker = loop.Claim(); worker >= 0; worker = loop.Claim()) loop.RunWorker(worker);
                if (Volatile.Read(ref loop._unfinished) != 0) loop._done.Wait();

                ExceptionDispatchInfo? error = loop._error;
                loop._error = null;
                loop._body = default;   // no reference to the call's scratch or arrays stays in the cache
                loop._spans = default;
                loop.Release();
                error?.Throw();
            }

            /// <summary>A pool thread: one worker, if any is left.</summary>
            void IThreadPoolWorkItem.Execute()
            {
                int worker = Claim();
                if (worker >= 0) RunWorker(worker);
                Release();
            }

            private int Claim()
            {
                int worker = Interlocked.Increment(ref _claimed) - 1;
                return worker < _workers ? worker : -1;
            }

            private void RunWorker(int worker)
            {
                try
                {
                    TBody body = _body;
                    PinnedSpans spans = _spans;
                    int first = (int)((long)_units * worker / _workers), last = (int)((long)_units * (worker + 1) / _workers);
                    for (int unit = first; unit < last; unit++) body.Run(worker, unit, in spans);
                }
                catch (Exception exception)
                {
                    Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(exception), null);
                }
                finally
                {
                    if (Interlocked.Decrement(ref _unfinished) == 0) _done.Set();
                }
            }

            private void Release()
            {
                if (Interlocked.Decrement(ref _holders) == 0) Volatile.Write(ref s_cached, this);
            }
        }
    }
}
