namespace NormKernels.Bench.Suite;

/// <summary>
/// The thread count of a run (<c>--threads N</c>, default 1): the generated kernels run with
/// <see cref="Parallelism.MaxDegree"/> = N, the copy limit copies N contiguous parts in parallel, PyTorch runs with
/// N intra-op threads. The scalar and TensorPrimitives baselines stay single-threaded (what a user would write).
/// </summary>
public static class BenchThreads
{
    public static int Count { get; private set; } = 1;

    public static void Set(int count)
    {
        Count = count;
        Parallelism.MaxDegree = count;
    }

    /// <summary>The CPU the measuring thread runs on (--pin-cpu), or null.</summary>
    public static int? PinnedCpu { get; set; }

    public static string Text => (Count == 1 ? "1 thread" : $"{Count} threads") + (PinnedCpu is int cpu ? $", measuring thread on CPU {cpu}" : "");
}
