using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench.Suite;

/// <summary>
/// <c>--first-calls</c> (issue 11, item 3): how fast the first calls after constructing a layer run, against the
/// steady state. Each case runs in a fresh process of its own (this program again, with <c>--first-calls-case</c>,
/// the same affinity and environment), so that no earlier call has compiled or tiered up its generated methods:
/// no self-check, no JIT warm-up. In that process: the case's buffers, then a new layer, then every call timed
/// one by one for <see cref="Seconds"/> s. Reported: the median of calls 1-10 and of calls 11-100, the steady state
/// (median of the last 50 calls), and the first call starting a window of 20 consecutive calls whose median is
/// within 10% of the steady state (and when that call ended, in ms after construction).
/// <para>Beside each case, the same measurement of its physical limit (<see cref="StreamingLimit"/>: the streaming pass
/// over the same bytes) in a fresh process of its own, buffers made the same way: the part of the first calls' cost that
/// is the machine's, not the library's. On a 2-vCPU KVM guest (AMD EPYC Zen 5, 2026-12-05) a plain copy's calls 2-5
/// after its buffers were made ran at 1.2-2.9x its steady time, and after any pause of a few milliseconds (a sleep, a
/// busy loop in registers, a line of console output) its next 2-4 calls at 1.5-13x: the buffers' recent use decides,
/// whatever code runs (README, forty-seventh section).</para>
/// Only measures: the kernels are unchanged.
/// </summary>
public static class FirstCalls
{
    public const double Seconds = 10;

    public static readonly string[] DefaultCases = ["bn-train-nchw-S1", "in-nchw-S1", "gn32-nchw-S1", "ln-last-S4"];

    /// <summary>The parent: one child process per case; prints the table; returns the exit code.</summary>
    public static int Run(IEnumerable<BenchCase> selected, bool explicitCases, string cpu, TextWriter o)
    {
        var cases = explicitCases ? selected.ToList() : DefaultCases.Select(Catalog.Find).ToList();
        o.WriteLine($"First calls after constructing a layer, each case in a fresh process ({Environment.ProcessorCount} CPU(s) visible, " +
                    $"{BenchThreads.Text}); CPU: {cpu}; {DateTime.Now:yyyy-MM-dd HH:mm}");
        var lines = new List<string>();
        foreach (var c in cases)
        {
            string? line = Measure(c, limit: false, o, out _);
            if (line is null || Measure(c, limit: true, o, out string? ratios) is null) return 1;
            line = line.TrimEnd() + $" {ratios} |";
            lines.Add(line);
            o.WriteLine("  " + line);
        }
        o.WriteLine();
        o.WriteLine("| case | CPUs seen | calls 1-10 | calls 11-100 | steady (last 50) | 1-10 / steady | 11-100 / steady | first 20 calls within 10% from call | at | limit: 1-10 / steady, 11-100 / steady |");
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var l in lines) o.WriteLine(l);
        return 0;
    }

    /// <summary>One child process: the case's row (null when it failed, reported on <paramref name="o"/>) and its
    /// ratios, "calls 1-10 / steady, calls 11-100 / steady".</summary>
    private static string? Measure(BenchCase c, bool limit, TextWriter o, out string? ratios)
    {
        var args = new List<string> { "--first-calls-case", c.Id, "--threads", BenchThreads.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (limit) args.Add("--first-calls-limit");
        var psi = Relaunch.Self(args);
        psi.RedirectStandardOutput = true;
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string[] lines = output.Split('\n');
        string? row = lines.FirstOrDefault(l => l.StartsWith("|", StringComparison.Ordinal));
        ratios = lines.FirstOrDefault(l => l.StartsWith(RatiosPrefix, StringComparison.Ordinal))?[RatiosPrefix.Length..].Trim();
        if (p.ExitCode == 0 && row is not null && ratios is not null) return row;
        o.WriteLine($"{c.Id}{(limit ? " (limit)" : "")}: child failed (exit {p.ExitCode}): {output.Trim()}");
        return null;
    }

    private const string RatiosPrefix = "ratios:";

    /// <summary>The child: measures one case from a cold start, the layer's calls or with <paramref name="limit"/> its
    /// streaming limit's, and prints one markdown row and the ratios line.</summary>
    public static int Child(BenchCase c, bool limit)
    {
        var d = new CaseData(c);
        var body = limit ? StreamingLimit.Create(d, c) : GeneratedLayers.Create(d);
        var times = new List<double>();
        var at = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < Seconds || times.Count < 200)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            at.Add(clock.Elapsed.TotalMilliseconds);
        }
        double steady = Median(times.Skip(times.Count - 50));
        double first = Median(times.Take(10)), next = Median(times.Skip(10).Take(90));
        // The first window of 20 consecutive calls whose median is within 10% of the steady state (single calls, and
        // later stretches, are disturbed by other jobs on a shared machine, so "every call after" would measure them).
        const int window = 20;
        int settled = times.Count;
        for (int i = 0; i + window <= times.Count; i++)
            if (Median(times.Skip(i).Take(window)) <= 1.1 * steady) { settled = i; break; }
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        Console.WriteLine(string.Format(inv, "| {0} | {1} | {2:0.00} ms | {3:0.00} ms | {4:0.00} ms | {5:0.00}x | {6:0.00}x | {7} of {8} | {9:0} ms |",
            c.Id, Environment.ProcessorCount, first, next, steady, first / steady, next / steady, settled + 1, times.Count,
            settled < at.Count ? at[settled] : double.NaN));
        Console.WriteLine(string.Format(inv, "{0} {1:0.00}x, {2:0.00}x", RatiosPrefix, first / steady, next / steady));
        return 0;
    }

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
