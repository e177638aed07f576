using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.Full;

/// <summary>The full mode: BenchmarkDotNet (separate processes, statistics until stable) over <see cref="NormBenchmarks"/>.</summary>
public static class FullRunner
{
    /// <summary>
    /// The ISA jobs of <c>--isa-jobs</c> (as ImageSharp's Config.HwIntrinsics): the default, then each wider
    /// instruction set switched off, so every kernel path's speed is visible. Each job is its own process with
    /// the runtime switch in its environment; the generated kernels report the path in the log.
    /// </summary>
    public static readonly (string Id, string Variable, string Path)[] IsaJobs =
    [
        // Not "Default": BenchmarkDotNet treats that id as unset and names the job by its characteristics.
        ("DefaultIsa", "", "widest (AVX-512 where present)"),
        ("NoAvx512", "DOTNET_EnableAVX512", "Vector256 (AVX2 + FMA)"),
        ("NoAvx2", "DOTNET_EnableAVX2", "Vector128"),
        ("NoHwIntrinsic", "DOTNET_EnableHWIntrinsic", "Scalar"),
    ];

    /// <summary>The job id without <c>--isa-jobs</c>.</summary>
    public const string SingleJobId = "Full";

    public static IConfig Config(bool isaJobs, bool shortRun)
    {
        Job baseJob = shortRun ? Job.ShortRun : Job.Default;
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .HideColumns(Column.Namespace)
            .AddColumn(new EffectiveBandwidthColumn())
            .AddDiagnoser(MemoryDiagnoser.Default);
        if (!isaJobs)
            return config.AddJob(baseJob.WithId(SingleJobId));
        foreach (var (id, variable, _) in IsaJobs)
            config.AddJob(variable.Length == 0 ? baseJob.WithId(id) : baseJob.WithEnvironmentVariable(variable, "0").WithId(id));
        return config;
    }

    /// <summary>Runs BenchmarkDotNet and turns its reports into case results (median per variant, per job).</summary>
    public static (List<CaseResult> Results, bool Failed) Run(string[] benchmarkDotNetArgs, bool isaJobs, bool shortRun)
    {
        var summaries = BenchmarkSwitcher.FromTypes([typeof(NormBenchmarks)])
            .Run(benchmarkDotNetArgs, Config(isaJobs, shortRun)).ToList();
        bool failed = summaries.Count == 0 || summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));

        var results = new Dictionary<(string Job, string Case), CaseResult>();
        foreach (var report in summaries.SelectMany(s => s.Reports))
        {
            var bc = report.BenchmarkCase;
            if (bc.Parameters.Items.FirstOrDefault(p => p.Name == "Case")?.Value is not string id) continue;
            if (!Enum.TryParse<Variant>(bc.Descriptor.WorkloadMethod.Name, out var variant)) continue;
            if (report.ResultStatistics is not { } stats) continue;
            string job = bc.Job.Id;
            if (!results.TryGetValue((job, id), out var result))
                results[(job, id)] = result = new CaseResult(Catalog.Find(id), job);
            long operations = report.AllMeasurements
                .Where(m => m.IterationMode == IterationMode.Workload && m.IterationStage == IterationStage.Result)
                .Select(m => m.Operations).FirstOrDefault();
            result.Times[variant] = new Timing(stats.Median, stats.Min, stats.Max, stats.N, operations);
        }

        // Table order: job order of the config, then the catalog's case order.
        var jobOrder = isaJobs ? IsaJobs.Select(j => j.Id).ToList() : [SingleJobId];
        var caseOrder = Catalog.All.Select((c, i) => (c.Id, i)).ToDictionary(t => t.Id, t => t.i);
        var ordered = results.Values
            .OrderBy(r => jobOrder.IndexOf(r.Job) is var k && k >= 0 ? k : int.MaxValue)
            .ThenBy(r => caseOrder[r.Case.Id])
            .ToList();
        var paths = new Dictionary<string, string>();
        foreach (var r in ordered)
        {
            if (!paths.TryGetValue(r.Job, out var path))
                paths[r.Job] = path = ProbeWidestPath(IsaJobs.FirstOrDefault(j => j.Id == r.Job).Variable ?? "");
            r.Path = path;
        }
        return (ordered, failed);
    }

    /// <summary>
    /// The widest kernel path a process with the job's switch runs: this program started again with <c>--isa</c>
    /// under that environment (the benchmark processes print the same in their log).
    /// </summary>
    public static string ProbeWidestPath(string variable)
    {
        if (variable.Length == 0) return Isa.Widest.ToString();
        try
        {
            string host = Environment.ProcessPath ?? "dotnet";
            var psi = new System.Diagnostics.ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet")
                psi.ArgumentList.Add(typeof(FullRunner).Assembly.Location);
            psi.ArgumentList.Add("--isa");
            psi.Environment[variable] = "0";
            using var p = System.Diagnostics.Process.Start(psi)!;
            string first = p.StandardOutput.ReadLine() ?? "";
            p.StandardOutput.ReadToEnd();
            p.WaitForExit(60_000);
            return first.Trim().Length > 0 ? first.Trim() : "?";
        }
        catch (Exception)
        {
            return "?";
        }
    }
}
