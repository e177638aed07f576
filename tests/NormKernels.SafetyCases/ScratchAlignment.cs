using NormKernels.Runtime;

namespace NormKernels.SafetyCases;

/// <summary>
/// A thread's cached worker scratch (WorkerScratch, up to eight workers), checked in a process of its own: each array starts
/// on a 64-byte boundary where the runtime allows (AlignedArrays, best effort), is at least as long as asked, comes back the
/// same on the thread's next call, and is not handed out twice while in use (a nested rent takes the shared pool's arrays).
/// Each of 16 new threads makes its own cache. In the test host, after thousands of other tests had left gaps in the pinned
/// heap (which it fills before it allocates at its end, so a miss's filler no longer moves the next attempt), as few as
/// 13 of 31 arrays of a kind landed on a boundary; in a fresh process every attempt allocates at the heap's end, as a
/// program that sets up its layers first does.
/// </summary>
internal static class ScratchAlignment
{
    public static bool Run(Action<string> pass, Action<string> fail)
    {
        const int Threads = 16;
        int alignedElements = 0, alignedDoubles = 0, arrays = 0;
        string? failure = null;
        for (int i = 0; i < Threads && failure is null; i++)
        {
            int workers = 1 + i % 3;
            var thread = new Thread(() => failure = OneThread(workers, ref alignedElements, ref alignedDoubles, ref arrays));
            thread.Start();
            thread.Join();
            if (failure is not null) failure = $"thread {i}: {failure}";
        }
        if (failure is not null)
        {
            fail(failure);
            return false;
        }
        pass("cached per thread, long enough, the same on the next call, never handed out twice");
        // Best effort, so 3/4 of the arrays: a planted `new T[]` for the element arrays leaves those on a boundary about one
        // time in eight (an array is 8-byte aligned) and fails.
        string counts = $"{alignedElements} element and {alignedDoubles} double arrays of {arrays} each on a 64-byte boundary";
        if (4 * (alignedElements + alignedDoubles) >= 3 * 2 * arrays && 2 * alignedElements >= arrays && 2 * alignedDoubles >= arrays)
        {
            pass(counts);
            return true;
        }
        fail(counts);
        return false;
    }

    private static string? OneThread(int workers, ref int alignedElements, ref int alignedDoubles, ref int arrays)
    {
        WorkerScratch<float> scratch = WorkerScratch<float>.Rent(workers, 300, 500);
        float[] first = scratch.Elements[0];
        double[] firstDoubles = scratch.Doubles[0];
        try
        {
            for (int w = 0; w < workers; w++)
            {
                if (scratch.Elements[w].Length < 500 || scratch.Doubles[w].Length < 300) return $"worker {w}'s arrays are shorter than asked";
                if (Offset(scratch.Elements[w]) == 0) Interlocked.Increment(ref alignedElements);
                if (Offset(scratch.Doubles[w]) == 0) Interlocked.Increment(ref alignedDoubles);
                Interlocked.Increment(ref arrays);
                for (int v = 0; v < w; v++)
                    if (ReferenceEquals(scratch.Elements[v], scratch.Elements[w])) return $"workers {v} and {w} share an array";
            }
            WorkerScratch<float> nested = WorkerScratch<float>.Rent(workers, 300, 500);
            for (int w = 0; w < workers; w++)
                if (ReferenceEquals(scratch.Elements[w], nested.Elements[w])) return $"a nested rent handed out worker {w}'s array in use";
            nested.Return();
        }
        finally
        {
            scratch.Return();
        }
        WorkerScratch<float> again = WorkerScratch<float>.Rent(workers, 300, 500);
        bool same = ReferenceEquals(first, again.Elements[0]) && ReferenceEquals(firstDoubles, again.Doubles[0]);
        again.Return();
        return same ? null : "the thread's next rent did not return its cached arrays";
    }

    /// <summary>Bytes the array's first element lies past a 64-byte boundary.</summary>
    private static long Offset(Array array)
    {
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(array, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            return handle.AddrOfPinnedObject() & 63;
        }
        finally
        {
            handle.Free();
        }
    }
}
