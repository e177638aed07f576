using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;

namespace NormKernels.Bench.Suite;

/// <summary>
/// How fast each processor this process may run on is right now: a thread pinned to each in turn
/// (<see cref="ThreadAffinity"/>) copies 3.2 MB (S2's bytes, in L3) 40 times, median per copy. On the 2-vCPU guests these
/// tables come from, one vCPU ran slower than the other for minutes at a time (a copy 85-89 us against 63-65, kernels up to
/// 1.6x), and which one flipped: a 1-thread row runs on whichever the scheduler gives it, so the table's header says how
/// far apart they were when it started and ended.
/// </summary>
public static class CpuProbe
{
    /// <summary>"CPU 0 63.1 us, CPU 1 85.4 us (1.35x apart)" over the processors the calling thread may run on, or why
    /// there is no probe.</summary>
    public static string Describe()
    {
        if (!OperatingSystem.IsLinux()) return "per-processor probe: n/a (thread affinity is Linux-only here)";
        var times = new List<(int Cpu, double Us)>();
        // Only the processors this process was given (a taskset's, --one-cpu's): a thread may pin itself outside them.
        foreach (int cpu in ThreadAffinity.AllowedCpus().Take(8))
        {
            double us = double.NaN;
            bool pinned = false;
            var thread = new Thread(() =>
            {
                if (!ThreadAffinity.TryPin(cpu, out _)) return;
                pinned = true;
                us = CopyMedianUs();
            });
            thread.Start();
            thread.Join();
            if (pinned) times.Add((cpu, us));
        }
        if (times.Count == 0) return "per-processor probe: n/a (the affinity mask could not be read or no processor pinned)";
        string each = string.Join(", ", times.Select(t => $"CPU {t.Cpu} {t.Us.ToString("0.0", CultureInfo.InvariantCulture)} us"));
        double spread = times.Max(t => t.Us) / times.Min(t => t.Us);
        return $"per-processor probe (a 3.2 MB copy, median of 40, on a thread pinned to each): {each}" +
               (times.Count > 1 ? $" ({spread.ToString("0.00", CultureInfo.InvariantCulture)}x apart; a 1-thread row runs on whichever the scheduler gives it)" : "");
    }

    private static double CopyMedianUs()
    {
        var source = new float[800_000];
        var target = new float[source.Length];
        source.AsSpan().Fill(1f);
        for (int i = 0; i < 10; i++) source.AsSpan().CopyTo(target);
        var us = new double[40];
        for (int i = 0; i < us.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            source.AsSpan().CopyTo(target);
            us[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(us);
        return (us[us.Length / 2 - 1] + us[us.Length / 2]) / 2;
    }
}
