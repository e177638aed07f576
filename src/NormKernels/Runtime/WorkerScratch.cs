using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime
{
    /// <summary>
    /// The per-worker scratch of a generated driver: each worker's <c>double</c> array and element array, all rented
    /// from <see cref="ArrayPool{T}.Shared"/>, the per-worker tables too, so that a call allocates nothing once the pool
    /// holds them. What each array holds is the driver's business; the arrays are at least as long as asked and
    /// indexed by worker (0 .. workers-1).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct WorkerScratch<T>
    {
        /// <summary>Largest arrays (elements or doubles) the single-worker cache keeps per thread.</summary>
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

        /// <summary>One thread's single-worker scratch, reused call after call (a call on one worker rented four arrays from
        /// the shared pools and gave them back: about a quarter of a small call's fixed cost).</summary>
        private sealed class Cache
        {
            public readonly double[][] Doubles = [new double[CachedLength]];
            public readonly T[][] Elements = [new T[CachedLength]];
            public bool InUse;
        }

        [ThreadStatic]
        private static Cache? t_cache;

        /// <summary>Worker w's doubles: <c>Doubles[w]</c> (an empty array when none were asked for).</summary>
        public double[][] Doubles { get; }

        /// <summary>Worker w's elements: <c>Elements[w]</c> (an empty array when none were asked for).</summary>
        public T[][] Elements { get; }

        /// <summary>Rents <paramref name="doubles"/> doubles and <paramref name="elements"/> elements for each of
        /// <paramref name="workers"/> workers. Give them back with <see cref="Return"/> (in a finally). One worker with small
        /// arrays takes the calling thread's cached ones (one set per thread, not shared while in use).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static WorkerScratch<T> Rent(int workers, int doubles, int elements)
        {
            if (workers == 1 && doubles <= CachedLength && elements <= CachedLength)
            {
                Cache cache = t_cache ??= new Cache();
                if (!cache.InUse)
                {
                    cache.InUse = true;
                    return new WorkerScratch<T>(1, cache.Doubles, cache.Elements, cache);
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
