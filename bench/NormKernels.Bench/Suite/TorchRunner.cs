using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using NormKernels.Bench.Report;

namespace NormKernels.Bench.Suite;

/// <summary>
/// The PyTorch column: runs <c>bench/torch/bench_torch.py</c> (copied next to the program) with Debian's
/// <c>/usr/bin/python3</c> as a child process, after the C# measurements, never at the same time. The
/// interpreter is fixed on purpose: a pyenv or venv python first on PATH does not see Debian's python3-torch.
/// </summary>
public static class TorchRunner
{
    /// <summary><c>/usr/bin/python3</c>; <c>NORMKERNELS_BENCH_PYTHON</c> overrides it (tests of the n/a path, other installs).</summary>
    public static string Python =>
        Environment.GetEnvironmentVariable("NORMKERNELS_BENCH_PYTHON") is { Length: > 0 } python ? python : "/usr/bin/python3";

    /// <summary>The script next to the program (the project copies it there), or null.</summary>
    public static string? ScriptPath
    {
        get
        {
            var path = System.IO.Path.Combine(AppContext.BaseDirectory, "torch", "bench_torch.py");
            return File.Exists(path) ? path : null;
        }
    }

    /// <summary>Null when torch can be imported, else the reason for the n/a column.</summary>
    public static string? Unavailable()
    {
        if (!File.Exists(Python)) return "python3-torch not installed";
        if (ScriptPath is null) return "bench_torch.py not found next to the program";
        try
        {
            var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import torch");
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEndAsync();
            p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(120_000)) { p.Kill(); return "import torch timed out"; }
            return p.ExitCode == 0 ? null : "python3-torch not installed";
        }
        catch (Exception e)
        {
            return $"python3 failed to start: {e.Message}";
        }
    }

    /// <summary>
    /// Measures <paramref name="cases"/> in torch (<see cref="Run"/>), then measures again the cases whose torch numbers
    /// cannot be trusted, twice at most, keeping the better measurement of each. The torch process runs later than the
    /// C# measurements, and another job may slow it down meanwhile; a case is disturbed when
    /// <list type="bullet">
    /// <item>torch's own copy of the case's bytes, the canary, is more than 30% away from the C# copy of the same bytes
    /// (for copies of 50 us or more: below, torch's per-call Python dispatch of a few us is part of its copy), or</item>
    /// <item>at any size, more of its calls were dropped than kept (its thread waited on the run queue: the few calls
    /// left are no clean sample of a machine that was busy meanwhile);</item>
    /// </list>
    /// a case whose calls were all dropped (<see cref="TorchTiming.AllDropped"/>) has no clean time at all. Cases still
    /// disturbed after the re-measurements are marked in the table (<see cref="TorchRun.Disturbed"/>); cases still without
    /// a clean call are reported as dropped.
    /// </summary>
    public static TorchRun RunChecked(IReadOnlyList<BenchCase> cases, IReadOnlyList<CaseResult> results, bool quick)
    {
        var run = Run(cases, quick);
        Console.WriteLine("  " + run.Note);
        if (!run.Available) return run;

        var ourCopy = results.GroupBy(r => r.Case.Id)
            .ToDictionary(g => g.Key, g => g.First().Times.TryGetValue(Variant.Copy, out var t) ? t.MedianNs : double.NaN);
        double Deviation(string id, TorchTiming t) =>
            ourCopy.TryGetValue(id, out var copy) && copy >= 50_000 ? Math.Abs(Math.Log(t.CopyMedianNs / copy)) : 0;
        const double limit = 0.2623642645; // ln(1.3)
        bool Disturbed(string id, TorchTiming t) => Deviation(id, t) > limit || t.Dropped > t.Calls;
        // Lower is better: a clean time first, then an undisturbed one, then the closer copy.
        (bool, bool, double) Badness(string id, TorchTiming t) => (t.AllDropped, Disturbed(id, t), Deviation(id, t));

        for (int attempt = 1; attempt <= 2; attempt++)
        {
            var again = cases.Where(c => run.Cases.TryGetValue(c.Id, out var t) && (t.AllDropped || Disturbed(c.Id, t))).ToList();
            if (again.Count == 0) break;
            Console.WriteLine($"PyTorch: {again.Count} case(s) disturbed (torch copy > 30% away from the C# copy, or most calls dropped) " +
                              "or without a clean call: measured again");
            var rerun = Run(again, quick);
            if (!rerun.Available) break;
            run.RawJson += "\n" + rerun.RawJson;
            foreach (var (id, timing) in rerun.Cases)
                if (Badness(id, timing).CompareTo(Badness(id, run.Cases[id])) < 0)
                    run.Cases[id] = timing;
        }
        foreach (var (id, timing) in run.Cases)
            if (!timing.AllDropped && Disturbed(id, timing)) run.Disturbed.Add(id);
        return run;
    }

    /// <summary>The torch process's start: Debian's python, the script, the thread count and the environment both modes use.
    /// With <c>--pin-cpu</c> the torch process runs on the measuring thread's CPU too (<c>taskset -c</c>): on this host the two
    /// vCPUs run up to 1.4x apart for minutes, and a 1-thread comparison whose two sides landed on different vCPUs measured
    /// the vCPUs (fifty-third session).</summary>
    internal static ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo(BenchThreads.PinnedCpu is null ? Python : "taskset")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (BenchThreads.PinnedCpu is int cpu)
        {
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(cpu.ToString(System.Globalization.CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(Python);
        }
        psi.ArgumentList.Add(ScriptPath!);
        psi.ArgumentList.Add("--threads");
        psi.ArgumentList.Add(BenchThreads.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string a in args) psi.ArgumentList.Add(a);
        // As in the research notes: glibc keeps freed 25 MB blocks instead of unmapping them, so torch's
        // per-call output allocations do not page-fault thousands of times per call.
        psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "33554432";
        psi.Environment["MALLOC_TRIM_THRESHOLD_"] = "4294967296";
        psi.Environment["OMP_NUM_THREADS"] = BenchThreads.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The C# side on 128-bit vectors or scalar: PyTorch's kernels without AVX2 too (IsaCap); its oneDNN likewise.
        if (IsaCap.Torch is { } capability) psi.Environment["ATEN_CPU_CAPABILITY"] = capability;
        if (IsaCap.OneDnn is { } isa) psi.Environment["DNNL_MAX_CPU_ISA"] = isa;
        return psi;
    }

    /// <summary>A case as the script reads it.</summary>
    internal static Dictionary<string, object> CaseJson(BenchCase c) => new()
    {
        ["id"] = c.Id,
        ["op"] = c.Op.Torch,
        ["layout"] = c.Op.Layout,
        ["n"] = c.Shape.N,
        ["c"] = c.Shape.C,
        ["h"] = c.Shape.H,
        ["w"] = c.Shape.W,
        ["groups"] = CaseData.Groups,
        ["eps"] = CaseData.Epsilon,
    };

    /// <summary>Measures <paramref name="cases"/> in torch with <see cref="BenchThreads.Count"/> intra-op threads, the
    /// script's progress lines shown by a <see cref="ProgressView"/>.</summary>
    public static TorchRun Run(IReadOnlyList<BenchCase> cases, bool quick)
    {
        if (Unavailable() is { } reason) return TorchRun.NotAvailable(reason);
        var torchCases = cases.Where(c => c.Op.Exists).ToList();
        if (torchCases.Count == 0) return TorchRun.NotAvailable("no case selected");

        var psi = quick ? StartInfo("--quick") : StartInfo();
        string input = JsonSerializer.Serialize(torchCases.Select(CaseJson));

        string stdout = "";
        int exitCode = -1;
        string? startError = null;
        ProgressView.Run("PyTorch", torchCases.Count, progress =>
        {
            try
            {
                using var p = new Process { StartInfo = psi };
                p.ErrorDataReceived += (_, e) =>
                {
                    if (e.Data is null) return;
                    progress.Line(e.Data);
                    if (e.Data.TrimStart().StartsWith("torch [", StringComparison.Ordinal)) progress.Step(); // one line per case
                };
                p.Start();
                p.BeginErrorReadLine();
                var read = p.StandardOutput.ReadToEndAsync();
                p.StandardInput.Write(input);
                p.StandardInput.Close();
                stdout = read.GetAwaiter().GetResult();
                p.WaitForExit();
                exitCode = p.ExitCode;
            }
            catch (Exception e)
            {
                startError = e.Message;
            }
        });
        if (startError is not null) return TorchRun.NotAvailable($"torch script failed to start: {startError}");

        if (exitCode != 0 || string.IsNullOrWhiteSpace(stdout))
            return TorchRun.NotAvailable($"torch script exited with {exitCode}");

        try
        {
            using var doc = JsonDocument.Parse(stdout);
            var root = doc.RootElement;
            var run = new TorchRun
            {
                Available = true,
                Note = $"PyTorch {root.GetProperty("torch_version").GetString()}, {root.GetProperty("threads").GetInt32()} thread, " +
                       $"CPU capability {root.GetProperty("cpu_capability").GetString()}",
                RawJson = stdout.Trim(),
            };
            foreach (var entry in root.GetProperty("cases").EnumerateObject())
            {
                var v = entry.Value;
                if (v.TryGetProperty("error", out var error))
                    run.Errors[entry.Name] = error.GetString() ?? "error";
                else
                    run.Cases[entry.Name] = new TorchTiming(
                        v.GetProperty("median_ms").GetDouble() * 1e6,
                        v.GetProperty("min_ms").GetDouble() * 1e6,
                        v.GetProperty("calls").GetInt32(),
                        v.TryGetProperty("dropped", out var dropped) ? dropped.GetInt32() : 0,
                        v.GetProperty("copy_median_ms").GetDouble() * 1e6,
                        v.TryGetProperty("all_dropped", out var allDropped) && allDropped.GetBoolean());
            }
            return run;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return TorchRun.NotAvailable($"torch output unreadable: {e.Message}");
        }
    }
}

/// <summary>
/// PyTorch in lockstep with the quick harness (the quick mode's default since the fifty-second session): one torch process
/// (<c>bench_torch.py --serve</c>) for the whole run, told which case to build, then asked for batches of calls, each
/// timed in the script (so no pipe latency is in it) with the run-queue wait of its thread. The harness times those
/// batches as one more variant of the case, in the same rounds as the limit and the generated kernel, so both sides meet
/// the same load on a shared host; the run after the C# cases (<see cref="TorchRunner.RunChecked"/>) met another one,
/// minutes later. Each backward call is checked against autograd when its case is built, as in the script's own mode.
/// </summary>
public sealed class TorchLockstep : IDisposable
{
    private readonly Process _process;

    private TorchLockstep(Process process) => _process = process;

    /// <summary>"PyTorch 1.13.0a0, 1 thread, CPU capability AVX2, timed in the same rounds as the generated kernel".</summary>
    public string Note { get; private set; } = "";

    /// <summary>Cases the script could not build or check (id -> message).</summary>
    public Dictionary<string, string> Errors { get; } = new();

    /// <summary>Starts the torch process; null, with the reason, where torch is not there.</summary>
    public static TorchLockstep? Start(out string why)
    {
        why = "";
        if (TorchRunner.Unavailable() is { } reason) { why = reason; return null; }
        var psi = TorchRunner.StartInfo("--serve");
        psi.RedirectStandardError = false;
        TorchLockstep? lockstep = null;
        try
        {
            lockstep = new TorchLockstep(Process.Start(psi)!);
            string? info = lockstep.Ask("info");
            if (info is null) { why = "the torch script did not answer"; lockstep.Dispose(); return null; }
            using var doc = JsonDocument.Parse(info);
            var root = doc.RootElement;
            lockstep.Note = $"PyTorch {root.GetProperty("torch_version").GetString()}, {root.GetProperty("threads").GetInt32()} thread, " +
                            $"CPU capability {root.GetProperty("cpu_capability").GetString()}, timed in the same rounds as the generated kernel" +
                            (BenchThreads.PinnedCpu is int cpu ? $", pinned to CPU {cpu} as the measuring thread" : "");
            return lockstep;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or JsonException or KeyNotFoundException or IOException)
        {
            lockstep?.Dispose();
            why = $"the torch script failed to start: {e.Message}";
            return null;
        }
    }

    /// <summary>Builds (and for a backward checks) <paramref name="c"/> in torch; false where torch has no such case or its
    /// check failed (then named in <see cref="Errors"/>).</summary>
    public bool Prepare(BenchCase c)
    {
        if (!c.Op.Exists) return false;
        string? reply = Ask("case " + JsonSerializer.Serialize(TorchRunner.CaseJson(c)));
        if (reply == "ok") return true;
        Errors[c.Id] = reply is null ? "the torch script stopped" : reply.StartsWith("error ", StringComparison.Ordinal) ? reply[6..] : reply;
        return false;
    }

    /// <summary>Runs <paramref name="calls"/> calls of the prepared case in one batch: its time and its thread's run-queue wait, in ns.</summary>
    public (double Ns, double WaitNs) Run(int calls)
    {
        string reply = Ask("run " + calls.ToString(System.Globalization.CultureInfo.InvariantCulture))
            ?? throw new InvalidOperationException("the torch script stopped");
        string[] parts = reply.Split(' ');
        if (parts.Length != 2 || !double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ns)
            || !double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double wait))
            throw new InvalidOperationException($"the torch script answered '{reply}'");
        return (ns, wait);
    }

    private string? Ask(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return _process.StandardOutput.ReadLine();
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(5_000)) _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
        }
        _process.Dispose();
    }
}
