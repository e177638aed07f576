using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench.Suite;

/// <summary>
/// <c>--first-calls</c> (issue 11, item 3): how fast the first calls after constructing a layer run, against the
/// steady state. Each case runs in a fresh process of its own (this program again, with <c>--first-calls-case</c>,
/// the same affinity and environment), so that no earlier call has compiled or tiered up its generated methods:
/// no self-check, no JIT warm-up. In that process: the case's buffers, then a new layer, then for
/// <see cref="Seconds"/> s pairs of calls timed one by one, a call of the layer and a call of its physical limit
/// (<see cref="StreamingLimit"/>: the streaming pass over the same buffers), the layer first in even pairs (so the
/// very first call meets the buffers as a user's does) and the limit first in odd ones. Reported: the layer's first call
/// (and the JIT's time in it), its median of calls 1-10 and of calls 11-100 and its steady state (median of the last 50
/// calls), the first call starting a window of 20 consecutive calls whose median is within 10% of the steady state (and
/// when that call ended, in ms after construction); the limit's calls the same way; and the layer's time over the limit's of the same pair, its
/// median over calls 1-10, 11-100 and the last 50, the first two against the last: the part of a slow first call
/// that the machine shared with the limit beside it (a busy host, cold buffers) cancels, what is left is the
/// library's (its JIT, its first-call set-up). Then a second layer of the same class and shape: its first 100 calls, each
/// beside a call of the limit, the medians of their ratios over calls 1-10 and 11-100 against the first layer's steady
/// ratio (what a network's next block of the same shape sees). The steady ratio is also what compares a 1-CPU process with a 2-CPU
/// one (<c>--one-cpu</c> against <c>--pin-cpu 0</c>): the same code on vCPUs that run up to 1.4x apart minute to
/// minute on this guest (README, fifty-third section), each against a limit timed on its own vCPU.
/// <para>Until the fifty-fourth session the limit ran in a process of its own after the layer's, minutes apart: on a
/// 2-vCPU KVM guest (AMD EPYC Zen 5, 2026-12-06) its own calls 1-10 then ran at 0.38-3.2x its steady time from one
/// process to the next, so the two columns did not describe the same minute. A plain copy's calls 2-5 after its buffers
/// were made ran at 1.2-2.9x its steady time, and after any pause of a few milliseconds its next 2-4 calls at 1.5-13x
/// (README, forty-seventh section): the buffers' recent use decides, whatever code runs.</para>
/// Only measures: the kernels are unchanged.
/// </summary>
public static class FirstCalls
{
    public const double Seconds = 10;

    public static readonly string[] DefaultCases = ["bn-train-nchw-S1", "in-nchw-S1", "gn32-nchw-S1", "ln-last-S4"];

    private const string Header =
        "| case | CPUs seen | call 1 (JIT in it) | calls 1-10 | calls 11-100 | steady (last 50) | 1-10 / steady | 11-100 / steady | first 20 calls within 10% from call | at " +
        "| limit: 1-10 / steady, 11-100 / steady | ratio to the limit: 1-10, 11-100, steady | ratio 1-10 / steady, 11-100 / steady " +
        "| second layer: ratio 1-10 / steady, 11-100 / steady |";

    /// <summary>The parent: one child process per case; prints the table; returns the exit code.</summary>
    public static int Run(IEnumerable<BenchCase> selected, bool explicitCases, string cpu, TextWriter o)
    {
        var cases = explicitCases ? selected.ToList() : DefaultCases.Select(Catalog.Find).ToList();
        o.WriteLine($"First calls after constructing a layer, each case in a fresh process ({Environment.ProcessorCount} CPU(s) visible, " +
                    $"{BenchThreads.Text}), its limit timed beside it call by call; CPU: {cpu}; {DateTime.Now:yyyy-MM-dd HH:mm}");
        var lines = new List<string>();
        foreach (var c in cases)
        {
            string? line = Measure(c, o);
            if (line is null) return 1;
            lines.Add(line);
            o.WriteLine("  " + line);
        }
        o.WriteLine();
        o.WriteLine(Header);
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var l in lines) o.WriteLine(l);
        return 0;
    }

    /// <summary>One child process: the case's row (null when it failed, reported on <paramref name="o"/>).</summary>
    private static string? Measure(BenchCase c, TextWriter o)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var args = new List<string> { "--first-calls-case", c.Id, "--threads", BenchThreads.Count.ToString(inv) };
        string[] prefix = [];
        if (BenchThreads.PinnedCpu is int cpu && Environment.ProcessorCount > 1)
        {
            // A child started from this (pinned) thread would inherit its one CPU and see one CPU: a 1-CPU process, which
            // is --one-cpu's. It starts on every CPU instead and pins its own measuring thread once its runtime is up.
            args.AddRange(["--pin-cpu", cpu.ToString(inv)]);
            prefix = ["taskset", "-c", "0-" + (Environment.ProcessorCount - 1).ToString(inv)];
        }
        var psi = Relaunch.Self(args, prefix);
        psi.RedirectStandardOutput = true;
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string? row = output.Split('\n').FirstOrDefault(l => l.StartsWith("|", StringComparison.Ordinal));
        if (p.ExitCode == 0 && row is not null) return row.TrimEnd();
        o.WriteLine($"{c.Id}: child failed (exit {p.ExitCode}): {output.Trim()}");
        return null;
    }

    /// <summary>The child: measures one case from a cold start, the layer's calls each paired with a call of its
    /// streaming limit over the same buffers, and prints one markdown row.</summary>
    public static int Child(BenchCase c)
    {
        var d = new CaseData(c);
        var limit = StreamingLimit.Create(d, c);
        var body = GeneratedLayers.Create(d);
        var times = new List<double>();
        var limits = new List<double>();
        var at = new List<double>();
        TimePairs(body, limit, times, limits, at, out double firstJit);
        var ratios = times.Zip(limits, (t, l) => t / l).ToList();
        // A second layer of the same class and shape, built now (a network's next block): its first 100 calls, each beside a
        // call of the limit, as the first layer's. What the first layer's calls compiled and chose (the adaptive band's
        // shared choice) it finds done.
        var second = GeneratedLayers.Create(d);
        var times2 = new List<double>();
        var limits2 = new List<double>();
        TimePairs(second, limit, times2, limits2, new List<double>(), out _, 100);
        var ratios2 = times2.Zip(limits2, (t, l) => t / l).ToList();
        int n = times.Count;
        double steady = Median(times.Skip(n - 50)), first = Median(times.Take(10)), next = Median(times.Skip(10).Take(90));
        double lSteady = Median(limits.Skip(n - 50)), lFirst = Median(limits.Take(10)), lNext = Median(limits.Skip(10).Take(90));
        double rSteady = Median(ratios.Skip(n - 50)), rFirst = Median(ratios.Take(10)), rNext = Median(ratios.Skip(10).Take(90));
        double r2First = Median(ratios2.Take(10)), r2Next = Median(ratios2.Skip(10).Take(90));
        // The first window of 20 consecutive calls whose median is within 10% of the steady state (single calls, and
        // later stretches, are disturbed by other jobs on a shared machine, so "every call after" would measure them).
        const int window = 20;
        int settled = n;
        for (int i = 0; i + window <= n; i++)
            if (Median(times.Skip(i).Take(window)) <= 1.1 * steady) { settled = i; break; }
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        Console.WriteLine(string.Format(inv,
            "| {0} | {1} | {19} ({20:0} ms) | {2} | {3} | {4} | {5:0.00}x | {6:0.00}x | {7} of {8} | {9:0} ms | {10:0.00}x, {11:0.00}x | {12:0.00}, {13:0.00}, {14:0.00} | {15:0.00}x, {16:0.00}x | {17:0.00}x, {18:0.00}x |",
            c.Id, Environment.ProcessorCount, Duration(first), Duration(next), Duration(steady), first / steady, next / steady, settled + 1, n,
            settled < at.Count ? at[settled] : double.NaN, lFirst / lSteady, lNext / lSteady, rFirst, rNext, rSteady,
            rFirst / rSteady, rNext / rSteady, r2First / rSteady, r2Next / rSteady, Duration(times[0]), firstJit));
        return 0;
    }

    /// <summary>Pairs of calls, the layer's and the limit's, for <see cref="Seconds"/> s (at least 200): their times in ms and
    /// when each layer call ended; <paramref name="firstJit"/>: the JIT's time (every thread's, JitInfo) during the layer's
    /// first call, in ms. The loop and its timing are compiled optimized from the first call: at tier 0 (and then
    /// on-stack replaced) they added tens of nanoseconds to each of the first calls of both, a tenth of a call on the
    /// 32 KB shapes (S5). The layer's own call site (<see cref="GeneratedLayers"/>) is left as a user's code is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TimePairs(Action body, Action limit, List<double> times, List<double> limits, List<double> at, out double firstJit, int count = 0)
    {
        firstJit = 0;
        long begin = Stopwatch.GetTimestamp(), end = begin + (long)(Seconds * Stopwatch.Frequency);
        while (count > 0 ? times.Count < count : Stopwatch.GetTimestamp() < end || times.Count < 200)
        {
            bool layerFirst = times.Count % 2 == 0;
            if (!layerFirst) limits.Add(Time(limit));
            double jit = times.Count == 0 ? JitMilliseconds() : 0;
            times.Add(Time(body));
            if (times.Count == 1) firstJit = JitMilliseconds() - jit;
            at.Add(Milliseconds(Stopwatch.GetTimestamp() - begin));
            if (layerFirst) limits.Add(Time(limit));
        }
    }

    /// <summary>The JIT's time so far on every thread, in ms.</summary>
    private static double JitMilliseconds() => System.Runtime.JitInfo.GetCompilationTime(currentThread: false).TotalMilliseconds;

    /// <summary>A call's time in ms, or in us below 0.1 ms (the small shapes' calls take under a microsecond).</summary>
    private static string Duration(double ms) => ms >= 0.1
        ? ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + " ms"
        : (ms * 1000).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture) + " us";

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Time(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Milliseconds(Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Timestamp ticks (1 ns here) in ms: GetElapsedTime's TimeSpan counts 100 ns ticks, the whole of a small call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Median(IEnumerable<double> values)
    {
        var s = values.OrderBy(v => v).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}

/// <summary>Starting this program again (the same host, the same assembly), e.g. under <c>taskset</c>.</summary>
public static class Relaunch
{
    /// <summary>A start info running this program with <paramref name="args"/>, optionally prefixed by a command (taskset).</summary>
    public static ProcessStartInfo Self(IEnumerable<string> args, params string[] prefix)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var command = new List<string>(prefix) { host };
        // Under `dotnet NormKernels.Bench.dll` the host is dotnet: the assembly goes first.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            command.Add(typeof(Relaunch).Assembly.Location);
        command.AddRange(args);
        var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        return psi;
    }
}
