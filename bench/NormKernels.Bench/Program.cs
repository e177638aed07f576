using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using NormKernels.Bench.Baselines;
using NormKernels.Bench.Kernels;
using NormKernels.Bench.Roofline;

namespace NormKernels.Bench;

/// <summary>
/// Entry point.
/// <list type="bullet">
/// <item><c>--quick</c>: a short in-process run of every benchmark (a few seconds per case), one table.</item>
/// <item><c>--numerics</c>: the offset-data accuracy experiment only (also printed before a quick run).</item>
/// <item><c>--isa</c>: prints the widest kernel path this process runs (first line) and the details.</item>
/// <item>anything else: BenchmarkDotNet's own command line with its default (full) job,
/// e.g. <c>--filter *Copy*</c>; with no <c>--filter</c> every benchmark runs.</item>
/// </list>
/// </summary>
public static class Program
{
    private static readonly Type[] Benchmarks =
    [
        typeof(BatchNormBenchmarks),
        typeof(SampleNormBenchmarks),
        typeof(RowNormBenchmarks),
        typeof(ScalarBatchNormBenchmark),
        typeof(CopyBenchmark),
    ];

    public static int Main(string[] args)
    {
        if (args.Contains("--isa"))
        {
            // The first line is machine-read (tests/run.sh): a KernelPath name.
            Console.WriteLine(Isa.Widest);
            Console.WriteLine(Isa.Describe());
            return 0;
        }

        if (args.Contains("--numerics"))
        {
            Numerics.Run();
            return 0;
        }

        bool quick = args.Contains("--quick");
        var rest = args.Where(a => a != "--quick").ToList();
        if (!rest.Any(a => a == "--filter" || a.StartsWith("--filter=", StringComparison.Ordinal)))
            rest.AddRange(["--filter", "*"]); // never fall into BenchmarkDotNet's interactive menu

        PrintHeader(quick);
        if (!SelfCheck()) return 2;
        if (quick) Numerics.Run();

        var config = quick ? QuickConfig() : FullConfig();
        var summaries = BenchmarkSwitcher.FromTypes(Benchmarks).Run(rest.ToArray(), config).ToList();
        return Failed(summaries) ? 1 : 0;
    }

    /// <summary>A few iterations, in process: enough to see the shape of the numbers, not to publish them.</summary>
    private static IConfig QuickConfig() =>
        Common(DefaultConfig.Instance)
            .AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1)
                .WithWarmupCount(2)
                .WithIterationCount(5)
                .WithId("Quick"))
            .WithOptions(ConfigOptions.JoinSummary);

    /// <summary>BenchmarkDotNet's default job (separate process, statistics until stable).</summary>
    private static IConfig FullConfig() =>
        Common(DefaultConfig.Instance).AddJob(Job.Default.WithId("Full"));

    private static IConfig Common(IConfig config) =>
        ManualConfig.Create(config)
            .HideColumns(Column.Namespace)
            .AddColumn(new EffectiveBandwidthColumn())
            .AddDiagnoser(MemoryDiagnoser.Default);

    private static void PrintHeader(bool quick)
    {
        Console.WriteLine($"NormKernels benchmarks ({(quick ? "quick" : "full")})");
        Console.WriteLine($"  runtime: {Environment.Version}, {Environment.ProcessorCount} logical cores");
        Console.WriteLine($"  kernels: {Isa.Describe()}");
        Console.WriteLine($"  shapes : {Shapes.S1}, {Shapes.S2}, {Shapes.S4} (float32)");
        Console.WriteLine("  ratio  : each class's Ratio column is time / Copy of the same bytes (the limit for one read + one write).");
        Console.WriteLine();
    }

    /// <summary>Guards the baseline: per channel, its output must have mean 0 and variance 1.</summary>
    private static bool SelfCheck()
    {
        var shape = new BenchShape("check", 3, 5, 4, 7);
        var input = Shapes.RandomInput(shape, seed: 7, offset: 100f);
        var output = new float[shape.Elements];
        new ScalarBatchNorm(shape.C).Forward(input, output, shape.N, shape.C, shape.H, shape.W);

        int plane = shape.H * shape.W;
        double worstMean = 0, worstVar = 0;
        for (int ch = 0; ch < shape.C; ch++)
        {
            var values = new List<double>();
            for (int b = 0; b < shape.N; b++)
                for (int i = 0; i < plane; i++)
                    values.Add(output[(b * shape.C + ch) * plane + i]);
            double mean = values.Average();
            double variance = values.Sum(v => (v - mean) * (v - mean)) / values.Count;
            worstMean = Math.Max(worstMean, Math.Abs(mean));
            worstVar = Math.Max(worstVar, Math.Abs(variance - 1));
        }

        bool ok = worstMean < 1e-3 && worstVar < 1e-2;
        Console.WriteLine($"scalar baseline self-check: {(ok ? "ok" : "FAILED")} (max |mean| = {worstMean:E1}, max |var - 1| = {worstVar:E1})");
        Console.WriteLine();
        return ok;
    }

    private static bool Failed(IReadOnlyList<Summary> summaries) =>
        summaries.Count == 0
        || summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
}
