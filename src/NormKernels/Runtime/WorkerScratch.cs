using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime
{
    /// <summary>
    /// The per-worker scratch of a generated driver: each worker's <c>double</c> array and element array, from the calling
    /// thread's cache (small arrays, up to eight workers, each on a 64-byte boundary) or rented from
    /// <see cref="ArrayPool{T}.Shared"/>, the per-worker tables too, so that a call allocates nothing once the cache or the
    /// pool holds them. What each array holds is the driver's business; the arrays are at least as long as asked and
    /// indexed by worker (0 .. workers-1).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct WorkerScratch<T> where T : unmanaged
    {
        /// <summary>Largest arrays (elements or doubles) the thread's cache keeps per worker.</summary>
        private const int CachedLength = 4096;

        private readonly int _workers;
        private readonly Cache? _cache;

        private WorkerScratch(int workers, double[][] doubles, T[][] elements, Cache? cache)
        {
            _workers = workers;
            Doubles = doubles;
            Elements = elements;
            _cache = cache;
        }

        /// <summary>Most workers whose scratch a thread's cache keeps (more are rented from the shared pools each call).</summary>
        private const int CachedWorkers = 8;

        /// <summary>One thread's scratch, reused call after call (a call on one worker rented four arrays from the shared
        /// pools and gave them back: about a quarter of a small call's fixed cost), an array of each kind per worker, made
        /// as calls first need them. Each array's first element on a 64-byte boundary (<see cref="AlignedArrays"/>): the
        /// drivers keep per-channel sums and coefficients there and load them a vector at a time from element 0 (or a whole
        /// number of lines on). A pooled array is only 8-byte aligned, so most of those loads straddled two lines: AMD Zen 5,
        /// 32x7x7x512, 1 thread, GroupNorm(32) and InstanceNorm backward NHWC 4-5% faster aligned, GroupNorm forward NHWC 1-2%,
        /// the others even.</summary>
        private sealed class Cache
        {
            public double[][] Doubles = [];
            public T[][] Elements = [];
            public bool InUse;

            /// <summary>An array of each kind for each of <paramref name="workers"/> workers (the tables may be longer).</summary>
            [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a loop: never at tier 0 (CodegenTests)
            public void Ensure(int workers)
            {
                if (Doubles.Length >= workers) return;
                double[][] doubles = new double[workers][];
                T[][] elements = new T[workers][];
                Doubles.CopyTo(doubles, 0);
                Elements.CopyTo(elements, 0);
                for (int worker = Doubles.Length; worker < workers; worker++)
                {
                    doubles[worker] = AlignedArrays.Allocate<double>(CachedLength);
                    elements[worker] = AlignedArrays.Allocate<T>(CachedLength);
                }
                (Doubles, Elements) = (doubles, elements);
            }
        }

        [ThreadStatic]
        private static Cache? t_cache;

        /// <summary>Worker w's doubles: <c>Doubles[w]</c> (an empty array when none were asked for).</summary>
        public double[][] Doubles { get; }

        /// <summary>Worker w's elements: <c>Elements[w]</c> (an empty array when none were asked for).</summary>
        public T[][] Elements { get; }

        /// <summary>Rents <paramref name="doubles"/> doubles and <paramref name="elements"/> elements for each of
        /// <paramref name="workers"/> workers. Give them back with <see cref="Return"/> (in a finally). Up to
        /// <see cref="CachedWorkers"/> workers with small arrays take the calling thread's cached ones (one set per thread, not
        /// shared while in use; the tables may then be longer than <paramref name="workers"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static WorkerScratch<T> Rent(int workers, int doubles, int elements)
        {
            if (workers <= CachedWorkers && doubles <= CachedLength && elements <= CachedLength)
            {
                Cache cache = t_cache ??= new Cache();
                if (!cache.InUse)
                {
                    // Grown before it is marked in use: a failed allocation leaves the cache free for the next call.
                    cache.Ensure(workers);
                    cache.InUse = true;
                    return new WorkerScratch<T>(workers, cache.Doubles, cache.Elements, cache);
                }
            }
            double[][] doubleTable = ArrayPool<double[]>.Shared.Rent(workers);
            T[][] elementTable = ArrayPool<T[]>.Shared.Rent(workers);
            for (int worker = 0; worker < workers; worker++)
            {
                doubleTable[worker] = doubles > 0 ? ArrayPool<double>.Shared.Rent(doubles) : Array.Empty<double>();
                elementTable[worker] = elements > 0 ? ArrayPool<T>.Shared.Rent(elements) : Array.Empty<T>();
            }
            return new WorkerScratch<T>(workers, doubleTable, elementTable, null);
        }

        /// <summary>Returns every array to the pool (the tables cleared, so the pool keeps no reference to the arrays), or the
        /// thread's cached set to the thread.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Return()
        {
            if (_cache is not null)
            {
                _cache.InUse = false;
                return;
            }
            for (int worker = 0; worker < _workers; worker++)
            {
                if (Doubles[worker].Length > 0) ArrayPool<double>.Shared.Return(Doubles[worker]);
                if (Elements[worker].Length > 0) ArrayPool<T>.Shared.Return(Elements[worker]);
            }
            ArrayPool<double[]>.Shared.Return(Doubles, clearArray: true);
            ArrayPool<T[]>.Shared.Return(Elements, clearArray: true);
        }
    }
}
