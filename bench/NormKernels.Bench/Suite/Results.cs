using System;
using System.Collections.Generic;

namespace NormKernels.Bench.Suite;

/// <summary>Time per call of one variant in one case: statistics over the measured samples, in nanoseconds.</summary>
/// <param name="Samples">Measured samples (quick: rounds; full: BenchmarkDotNet iterations).</param>
/// <param name="CallsPerSample">Calls timed together in one sample (per-call time = sample time / calls).</param>
public sealed record Timing(double MedianNs, double MinNs, double MaxNs, int Samples, long CallsPerSample);

/// <summary>A PyTorch measurement of one case (bench/torch/bench_torch.py).</summary>
/// <param name="Dropped">Calls dropped because the thread waited on the run queue (another job had the CPU).</param>
/// <param name="AllDropped">Fewer than 3 calls were clean, so the script's median is of disturbed calls: no torch time
/// is reported for the case ("dropped" in the table, CSV and plot).</param>
public sealed record TorchTiming(double MedianNs, double MinNs, int Calls, int Dropped, double CopyMedianNs, bool AllDropped);

/// <summary>The torch column for a whole run: either available with per-case timings, or a reason it is not.</summary>
public sealed class TorchRun
{
    public bool Available { get; init; }

    /// <summary>"n/a (python3-torch not installed)" and the like when not available; the version line otherwise.</summary>
    public string Note { get; init; } = "";

    public Dictionary<string, TorchTiming> Cases { get; } = new();

    /// <summary>Per-case failures reported by the script (case id -> message).</summary>
    public Dictionary<string, string> Errors { get; } = new();

    /// <summary>Cases whose torch copy stayed more than 30% away from the C# copy, or most of whose calls were dropped
    /// (torch was disturbed; see <see cref="TorchRunner.RunChecked"/>): marked in the table. Cases whose calls were all
    /// dropped (<see cref="TorchTiming.AllDropped"/>) are reported as dropped instead.</summary>
    public HashSet<string> Disturbed { get; } = new();

    /// <summary>The script's JSON, kept beside the results: one line per torch process (re-measurements follow the first).</summary>
    public string RawJson { get; set; } = "";

    public static TorchRun NotAvailable(string reason) => new() { Available = false, Note = $"n/a ({reason})" };
}

/// <summary>One measured case: every variant's time, the self-check differences, the torch time.</summary>
public sealed class CaseResult
{
    public CaseResult(BenchCase benchCase, string job) { Case = benchCase; Job = job; }

    public BenchCase Case { get; }

    /// <summary>"Quick", "Full", or the ISA job's name in a full run with <c>--isa-jobs</c> (the job column appears when a run has several).</summary>
    public string Job { get; }

    /// <summary>The <see cref="KernelPath"/> the generated kernel ran on (quick mode; "" when unknown).</summary>
    public string Path { get; set; } = "";

    public Dictionary<Variant, Timing> Times { get; } = new();

    /// <summary>Max |scalar - generated| and |TensorPrimitives - generated| at this case's shape (NaN when not checked).</summary>
    public double ScalarDiff { get; set; } = double.NaN;

    public double TensorsDiff { get; set; } = double.NaN;

    public TorchTiming? Torch { get; set; }

    /// <summary>oneDNN 2.6's median ns per call for this case (<c>--onednn</c>), or null.</summary>
    public double? OneDnnNs { get; set; }

    /// <summary>Generated time / oneDNN time, or NaN.</summary>
    public double OneDnnRatio =>
        OneDnnNs is double d && Times.TryGetValue(Variant.Generated, out var g) ? g.MedianNs / d : double.NaN;

    /// <summary>Quick mode: samples measured again because this thread waited on the run queue (another job ran).</summary>
    public int Retried { get; set; }

    /// <summary>Quick mode: samples kept although every attempt was disturbed (the least disturbed one).</summary>
    public int Contended { get; set; }

    /// <summary>Quick mode: how often the case was measured (more than once when its samples spread too much).</summary>
    public int Measurements { get; set; } = 1;

    /// <summary>Quick mode: the kept measurement still spreads more than the harness accepts (marked in the table).</summary>
    public bool Noisy { get; set; }

    /// <summary>Quick mode: whether a generated call after the timed rounds streamed its output
    /// (<see cref="NormKernels.Streaming.LastCallStreamed"/>): past the threshold, or in the adaptive band with the layer's
    /// tuner on the streamed path (<see cref="NormKernels.Streaming.Adaptive"/>).</summary>
    public bool Streamed { get; set; }

    /// <summary>Quick mode: per variant, (second-highest - second-lowest sample) / median.</summary>
    public Dictionary<Variant, double> Spreads { get; } = new();

    public double Spread(Variant v) => Spreads.TryGetValue(v, out var s) ? s : 0;

    /// <summary>Time / limit time (the streaming limit, <see cref="Variant.Limit"/>; the copy in a full BenchmarkDotNet
    /// run, which does not measure the limit), or NaN when a time is missing.</summary>
    public double Ratio(Variant v) =>
        Times.TryGetValue(v, out var t) && (Times.TryGetValue(Variant.Limit, out var limit) || Times.TryGetValue(Variant.Copy, out limit))
            ? t.MedianNs / limit.MedianNs : double.NaN;

    /// <summary>Time / <c>Span.CopyTo</c> time of the same bytes (the second ratio column), or NaN.</summary>
    public double CopyRatio(Variant v) =>
        Times.TryGetValue(v, out var t) && Times.TryGetValue(Variant.Copy, out var copy) ? t.MedianNs / copy.MedianNs : double.NaN;

    /// <summary>Generated time / torch time (lower is better for us), or NaN (also when every torch call was dropped).</summary>
    public double TorchRatio =>
        Torch is { AllDropped: false } torch && Times.TryGetValue(Variant.Generated, out var g) ? g.MedianNs / torch.MedianNs : double.NaN;

    /// <summary>Torch time / limit time (the plot's scale), or NaN (also when every torch call was dropped).</summary>
    public double TorchLimitRatio =>
        Torch is { AllDropped: false } torch && Times.TryGetValue(Variant.Generated, out var g) ? torch.MedianNs * Ratio(Variant.Generated) / g.MedianNs : double.NaN;
}

/// <summary>Everything one run produced, for the table, CSV, markdown and plot.</summary>
public sealed class RunReport
{
    public required string Mode { get; init; }
    public required DateTime Started { get; init; }
    public required List<string> Environment { get; init; }

    /// <summary>The CPU model (/proc/cpuinfo), printed in the table header and the markdown title.</summary>
    public string Cpu { get; init; } = "unknown CPU";

    /// <summary>The oneDNN column's run (<c>--onednn</c>), or null: no column.</summary>
    public OneDnnRun? OneDnn { get; set; }
    public required IReadOnlyList<string> Method { get; init; }
    public List<CaseResult> Results { get; } = new();
    public TorchRun Torch { get; set; } = TorchRun.NotAvailable("not run");
    public TimeSpan Elapsed { get; set; }
}
