using System;
using System.Runtime.InteropServices;

namespace NormKernels.Bench.Suite;

/// <summary>
/// Pins the calling thread to one CPU (Linux <c>sched_setaffinity</c> on thread id 0, the caller), after the runtime has
/// started: the process still saw every CPU at startup (its tiering, GC and thread pool are a multi-CPU process's), so
/// a run pinned so and a <c>--one-cpu</c> run (<c>taskset</c>, a process that sees one CPU) on the same CPU differ only in
/// what the runtime saw. On this 2-vCPU VM the two vCPUs do not run at the same speed (the host's other load), so the
/// 1-CPU process is compared with a 2-CPU one on the same vCPU, not with whichever vCPU the scheduler picked.
/// </summary>
public static class ThreadAffinity
{
    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint size, byte[] mask);

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nint size, byte[] mask);

    /// <summary>The processors the calling thread may run on now (its affinity mask: a <c>taskset</c>'s), or empty where it
    /// cannot be read. A thread may widen its own mask past its process's (<see cref="TryPin"/> does), so a probe of "every
    /// processor" asks this first.</summary>
    public static int[] AllowedCpus()
    {
        if (!OperatingSystem.IsLinux()) return [];
        var mask = new byte[128];
        if (sched_getaffinity(0, mask.Length, mask) != 0) return [];
        var cpus = new System.Collections.Generic.List<int>();
        for (int cpu = 0; cpu < mask.Length * 8; cpu++)
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0) cpus.Add(cpu);
        return cpus.ToArray();
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; false with the reason where that cannot be done.</summary>
    public static bool TryPin(int cpu, out string? why)
    {
        why = null;
        if (!OperatingSystem.IsLinux())
        {
            why = "thread affinity is set through Linux's sched_setaffinity; not available on this OS";
            return false;
        }
        var mask = new byte[128]; // 1,024 CPUs
        mask[cpu / 8] = (byte)(1 << (cpu % 8));
        if (sched_setaffinity(0, mask.Length, mask) == 0) return true;
        why = $"sched_setaffinity failed (errno {Marshal.GetLastPInvokeError()}: a CPU this process may not run on?)";
        return false;
    }
}
