using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using NormKernels.Bench.Full;
using NormKernels.Bench.Report;
using NormKernels.Bench.Suite;
using Spectre.Console;

namespace NormKernels.Bench;

/// <summary>
/// Entry point. Every case (operation x layout x shape, see <see cref="Catalog"/>) runs a plain copy of the same bytes
/// (the limit), the generated kernel, a scalar C# baseline and a TensorPrimitives composition side by side, then
/// PyTorch (when Debian's python3-torch is installed), and the run ends with one table, written as CSV, markdown
/// and a plot under <c>bench/results/&lt;date&gt;/</c>. The modes and options are System.CommandLine options below
/// (<c>--help</c> lists them): <c>--quick</c> (<see cref="QuickHarness"/>), the full BenchmarkDotNet run
/// (<see cref="NormBenchmarks"/>) without it, <c>--first-calls</c> (<see cref="FirstCalls"/>), <c>--numerics</c>,
/// <c>--isa</c>, <c>--list</c>, <c>--fused</c> (<see cref="Fused.FusedBench"/>: the fused layers against the unfused sequence, their limit and PyTorch); <c>--half</c> (<see cref="HalfStorage.HalfBench"/>: Half layers against float32); <c>--one-cpu</c> runs the rest of the command line again under <c>taskset -c 0</c>.
/// </summary>
public static class Program
{
    private static readonly Option<bool> QuickOption = new("--quick")
    { Description = "the whole matrix with the quick in-process harness, a minute or two (without it: the full BenchmarkDotNet run)" };
    private static readonly Option<bool> NoTorchOption = new("--no-torch") { Description = "skip the PyTorch column" };
    private static readonly Option<bool> OneDnnOption = new("--onednn")
    { Description = "quick mode: add a oneDNN 2.6 column (needs g++ and Debian's libdnnl-dev; bench/onednn/bench_onednn.cpp, built once as a library and timed in this process in the same rounds as the generated kernel)" };
    private static readonly Option<int> ThreadsOption = new("--threads")
    {
        Description = "kernel, copy-limit and PyTorch threads (the scalar and TensorPrimitives baselines stay single-threaded)",
        HelpName = "N",
        DefaultValueFactory = _ => 1,
        CustomParser = result =>
        {
            string text = result.Tokens[0].Value;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int threads) && threads >= 1) return threads;
            result.AddError($"--threads takes a whole number >= 1, not '{text}'");
            return 0;
        },
    };
    private static readonly Option<string?> CasesOption = new("--cases")
    { Description = "only the cases whose id contains one of the comma-separated patterns (e.g. S1, bn-train, gn32-nhwc-S2)", HelpName = "a,b" };
    private static readonly Option<bool> ListOption = new("--list") { Description = "print the case ids (with --cases: the selected ones) and exit" };
    private static readonly Option<bool> FirstCallsOption = new("--first-calls")
    { Description = "the first calls after constructing a layer against the steady state, each case in a fresh process (default cases: BN training, IN, GN32 S1 NCHW and LN S4, or --cases)" };
    private static readonly Option<string?> FirstCallsCaseOption = new("--first-calls-case")
    { Description = "internal: the child process of --first-calls, measuring one case id", HelpName = "id" };
    private static readonly Option<bool> OneCpuOption = new("--one-cpu")
    { Description = "run the rest of the command line again in a process that sees one CPU (taskset -c 0, or the CPU of --pin-cpu; as in a 1-CPU container)" };
    private static readonly Option<int?> PinCpuOption = new("--pin-cpu")
    {
        Description = "Linux: run the measuring thread on this CPU only (the process still sees every CPU); with --threads 1 the kernels run on it. " +
                      "The 2-CPU reference for --one-cpu on the same CPU: a 1-CPU process and a 2-CPU one then differ only in what the runtime sees",
        HelpName = "cpu",
    };
    private static readonly Option<bool> ShortOption = new("--short") { Description = "full mode: BenchmarkDotNet's short job instead of the default job" };
    private static readonly Option<bool> IsaJobsOption = new("--isa-jobs") { Description = "full mode: one BenchmarkDotNet job per instruction-set path" };
    private static readonly Option<bool> IsaOption = new("--isa")
    { Description = "print the widest kernel path this process runs (first line, read by tests/run.sh) and details, and exit" };
    private static readonly Option<bool> NumericsOption = new("--numerics") { Description = "the offset-data accuracy experiment only" };
    private static readonly Option<bool> HalfOption = new("--half")
    { Description = "layers declared with ElementType = typeof(Half) against the same layer in float32 and the streaming limit of the Half bytes" };

    private static readonly Option<bool> FusedOption = new("--fused")
    { Description = "the fused layers (activation, residual, Sizes) against the unfused NormKernels sequence, their streaming limit and PyTorch" };
    private static readonly Argument<string[]> BenchmarkDotNetArguments = new("benchmarkdotnet-arguments")
    {
        Description = "full mode: further arguments for BenchmarkDotNet (e.g. --filter *Generated*; default --filter *)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static int Main(string[] args)
    {
        var root = new RootCommand(
            "NormKernels benchmarks: per case, the copy limit vs the generated kernel vs scalar C# vs TensorPrimitives (vs PyTorch), " +
            "written as CSV, markdown and a plot (SVG, PNG) under bench/results/<date>/.")
        {
            QuickOption, NoTorchOption, OneDnnOption, ThreadsOption, CasesOption, ListOption, FirstCallsOption, FirstCallsCaseOption, OneCpuOption, PinCpuOption,
            ShortOption, IsaJobsOption, IsaOption, NumericsOption, FusedOption, HalfOption, BenchmarkDotNetArguments,
        };
        root.Validators.Add(result =>
        {
            bool quick = result.GetValue(QuickOption);
            if (quick && (result.GetValue(IsaJobsOption) || result.GetValue(ShortOption)))
                result.AddError("--isa-jobs and --short are options of the full (BenchmarkDotNet) mode, not of --quick");
            if (result.GetValue(BenchmarkDotNetArguments) is { Length: > 0 } extra && !result.GetValue(OneCpuOption) &&
                (quick || result.GetValue(ListOption) || result.GetValue(FirstCallsOption)))
                result.AddError($"unrecognized argument(s) (only the full BenchmarkDotNet mode takes further arguments): {string.Join(' ', extra)}");
            if (result.GetValue(PinCpuOption) is int cpu && (cpu < 0 || cpu >= 1024))
                result.AddError($"--pin-cpu takes a CPU number from 0 to 1023, not {cpu}");
            if (result.GetValue(PinCpuOption) is not null && result.GetValue(ThreadsOption) > 1)
                result.AddError("--pin-cpu pins the measuring thread, where the kernels run with --threads 1 only");
        });
        root.SetAction(parse => Run(parse, args));
        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction errors) errors.ShowHelp = false; // the error alone; --help shows the rest
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 4096; // a log: tables at their natural width, never wrapped
        return parsed.Invoke();
    }

    private static int Run(ParseResult parse, string[] args)
    {
        if (parse.GetValue(IsaOption))
        {
            // The first line is machine-read (tests/run.sh, --isa-jobs): a KernelPath name.
            Console.WriteLine(Isa.Widest);
            Console.WriteLine(Isa.Describe());
            return 0;
        }

        if (parse.GetValue(NumericsOption))
        {
            Numerics.Run();
            return 0;
        }

        if (parse.GetValue(OneCpuOption))
        {
            // A real 1-CPU process: the runtime reads its CPU count (and decides its tiering and GC) at startup,
            // so the affinity is set before it starts, by taskset, not by this process on itself.
            var psi = Relaunch.Self(args.Where(a => a != OneCpuOption.Name), "taskset", "-c", (parse.GetValue(PinCpuOption) ?? 0).ToString(CultureInfo.InvariantCulture));
            try
            {
                using var child = Process.Start(psi)!;
                child.WaitForExit();
                return child.ExitCode;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Console.Error.WriteLine($"--one-cpu needs taskset (util-linux): {e.Message}");
                return 2;
            }
        }
        bool quick = parse.GetValue(QuickOption);
        bool noTorch = parse.GetValue(NoTorchOption);
        bool isaJobs = parse.GetValue(IsaJobsOption);
        bool shortRun = parse.GetValue(ShortOption);
        BenchThreads.Set(parse.GetValue(ThreadsOption));
        if (parse.GetValue(PinCpuOption) is int pinned)
        {
            if (!ThreadAffinity.TryPin(pinned, out string? why))
            {
                Console.Error.WriteLine($"--pin-cpu {pinned}: {why}");
                return 2;
            }
            BenchThreads.PinnedCpu = pinned;
        }
        // The fused layers (issue 12) against the unfused sequence, their streaming limit and PyTorch; --threads and --no-torch apply.
        if (parse.GetValue(FusedOption)) return Fused.FusedBench.Run(!noTorch, Console.Out);
        // Half storage (issue 14) against float32 and the streaming limit of the Half bytes; --threads applies.
        if (parse.GetValue(HalfOption)) return HalfStorage.HalfBench.Run(Console.Out);
        string? casePatterns = parse.GetValue(CasesOption);
        Catalog.Select(casePatterns);
        if (parse.GetValue(FirstCallsCaseOption) is { } firstCallsCase) return FirstCalls.Child(Catalog.Find(firstCallsCase));
        if (parse.GetValue(FirstCallsOption)) return FirstCalls.Run(Catalog.Measurable, casePatterns is not null, CpuModel(), Console.Out);

        if (parse.GetValue(ListOption))
        {
            ReportWriter.WriteCaseList(Catalog.Selected);
            return 0;
        }
        if (!Catalog.Measurable.Any())
        {
            Console.Error.WriteLine("no case selected (see --list)");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        var report = new RunReport
        {
            Mode = (quick ? "quick" : isaJobs ? "full-isa" : "full") + "-" + BenchThreads.Count + "t",
            Started = DateTime.Now,
            Environment = EnvironmentLines(),
            Cpu = CpuModel(),
            Method = quick ? QuickMethod : FullMethod(isaJobs, shortRun),
        };
        Console.WriteLine($"NormKernels benchmarks ({report.Mode}): {Catalog.Measurable.Count()} cases x {(quick ? "streaming limit, " : "")}copy, generated, scalar, TensorPrimitives" +
                          (noTorch ? "" : quick ? ", PyTorch" : ", then PyTorch"));
        foreach (var line in report.Environment) Console.WriteLine("  " + line);
        Console.WriteLine();

        if (!SelfCheck.Run(Console.Out)) return 2;

        bool failed = false;
        // The quick mode times oneDNN in this process, in the same rounds as the generated kernel; where the library cannot be
        // built or loaded, its program runs after the C# measurements instead (below).
        OneDnnLibrary? oneDnnLibrary = null;
        if (quick && parse.GetValue(OneDnnOption))
        {
            Console.WriteLine($"oneDNN 2.6: building and checking its cases in this process, {BenchThreads.Text} ...");
            oneDnnLibrary = OneDnnLibrary.Load(BenchThreads.Count, out string why);
            Console.WriteLine(oneDnnLibrary is null ? $"oneDNN in this process: n/a ({why}); its program runs after the C# measurements" : $"oneDNN: {oneDnnLibrary.Notes.Note}");
            Console.WriteLine();
        }
        // PyTorch likewise: one torch process in lockstep, its batches in the same rounds; where it cannot start, torch runs
        // after the C# measurements as before (below).
        using TorchLockstep? torchLockstep = quick && !noTorch ? StartTorch() : null;
        if (quick)
        {
            int rounds = QuickHarness.SettleJit(Catalog.Measurable.Select(c => c.Op).Distinct());
            Console.WriteLine($"JIT warm-up: every variant on small shapes until no method is recompiled ({rounds} rounds)");
            Console.WriteLine();
            var harness = new QuickHarness { OneDnn = oneDnnLibrary, Torch = torchLockstep };
            var cases = Catalog.Measurable.ToList();
            ProgressView.Run("C# variants", cases.Count, progress =>
            {
                for (int i = 0; i < cases.Count; i++)
                {
                    progress.Describe(cases[i].Id);
                    var result = harness.Measure(cases[i]);
                    report.Results.Add(result);
                    progress.Line(ProgressLine(i + 1, cases.Count, result));
                    progress.Step();
                    if (!(result.ScalarDiff <= SelfCheck.Tolerance && result.TensorsDiff <= SelfCheck.Tolerance)) failed = true;
                    QuickHarness.CollectGarbage();
                }
            });
        }
        else
        {
            Console.WriteLine("checking the baselines at the benchmark shapes ...");
            var diffs = new Dictionary<string, (double, double)>();
            foreach (var c in Catalog.Measurable)
            {
                diffs[c.Id] = SelfCheck.Compare(new CaseData(c));
                QuickHarness.CollectGarbage();
            }
            var bdnArgs = (parse.GetValue(BenchmarkDotNetArguments) ?? []).ToList();
            if (!bdnArgs.Any(a => a == "--filter" || a.StartsWith("--filter=", StringComparison.Ordinal)))
                bdnArgs.AddRange(["--filter", "*"]); // never fall into BenchmarkDotNet's interactive menu
            (var results, failed) = FullRunner.Run(bdnArgs.ToArray(), isaJobs, shortRun);
            foreach (var r in results)
                (r.ScalarDiff, r.TensorsDiff) = diffs.GetValueOrDefault(r.Case.Id, (double.NaN, double.NaN));
            report.Results.AddRange(results);
        }

        Console.WriteLine();
        if (noTorch)
            report.Torch = TorchRun.NotAvailable("--no-torch");
        else if (torchLockstep is not null)
        {
            var run = new TorchRun { Available = true, Note = torchLockstep.Note };
            foreach (var (id, error) in torchLockstep.Errors) run.Errors[id] = error;
            foreach (var r in report.Results)
                if (r.Torch is { } timing) run.Cases[r.Case.Id] = timing;
            report.Torch = run;
        }
        else
        {
            Console.WriteLine($"PyTorch: the same cases, {BenchThreads.Text} ...");
            report.Torch = TorchRunner.RunChecked(Catalog.Measurable.ToList(), report.Results, quick);
        }
        foreach (var r in report.Results)
            r.Torch = report.Torch.Cases.GetValueOrDefault(r.Case.Id);
        if (oneDnnLibrary is not null)
        {
            report.OneDnn = oneDnnLibrary.Notes;
            foreach (var r in report.Results)
                if (r.OneDnnNs is double ns) report.OneDnn.Cases[r.Case.Id] = ns;
        }
        else if (parse.GetValue(OneDnnOption))
        {
            Console.WriteLine($"oneDNN 2.6: its cases, {BenchThreads.Text} ...");
            report.OneDnn = OneDnnRunner.Run(BenchThreads.Count);
            Console.WriteLine($"oneDNN: {report.OneDnn.Note}");
            foreach (var r in report.Results)
                r.OneDnnNs = report.OneDnn.Cases.TryGetValue(r.Case.Id, out double ns) ? ns : null;
        }

        report.Elapsed = clock.Elapsed;
        report.Environment.Add($"load average at end: {LoadAverage()}");
        report.Environment.Add("at end: " + CpuProbe.Describe());
        Console.WriteLine();
        Console.WriteLine($"Results ({report.Mode}, {report.Elapsed.TotalSeconds:0} s; torch: {report.Torch.Note})");
        Console.WriteLine();
        ReportWriter.WriteConsoleTable(report);
        Console.WriteLine();

        string directory = Path.Combine(ResultsRoot(), report.Started.ToString("yyyy-MM-dd"));
        string stem = $"{report.Mode}-{report.Started:HHmmss}";
        foreach (var file in ReportWriter.WriteFiles(report, directory, stem))
            Console.WriteLine("wrote " + file);

        if (failed) Console.WriteLine("FAILED: a benchmark failed or a baseline differed from the generated kernel (see above)");
        return failed ? 1 : 0;
    }

    /// <summary>The torch process in lockstep, or null (then torch runs after the C# cases).</summary>
    private static TorchLockstep? StartTorch()
    {
        Console.WriteLine($"PyTorch: starting its process in lockstep, {BenchThreads.Text} ...");
        var lockstep = TorchLockstep.Start(out string why);
        Console.WriteLine(lockstep is null ? $"PyTorch in lockstep: n/a ({why}); it runs after the C# measurements" : $"PyTorch: {lockstep.Note}");
        Console.WriteLine();
        return lockstep;
    }

    private static string ProgressLine(int index, int count, CaseResult r)
    {
        string check = r.ScalarDiff <= SelfCheck.Tolerance && r.TensorsDiff <= SelfCheck.Tolerance
            ? "" : $"  CHECK FAILED (scalar {r.ScalarDiff:0.0E+0}, TensorPrimitives {r.TensorsDiff:0.0E+0})";
        return
            $"[{index,2}/{count}] {r.Case.Id,-17} {r.Case.Shape.Dims,-13} limit {ReportWriter.LimitTime(r),12}  copy {ReportWriter.Time(r, Variant.Copy),9}  " +
            $"generated {ReportWriter.Time(r, Variant.Generated),9} = {ReportWriter.Ratio(r.Ratio(Variant.Generated)),5}x limit, {ReportWriter.Ratio(r.CopyRatio(Variant.Generated)),5}x copy  " +
            $"scalar {ReportWriter.Ratio(r.Ratio(Variant.Scalar)),5}x  TensorPrimitives {ReportWriter.Ratio(r.Ratio(Variant.TensorPrimitives)),5}x  ({r.Path}" +
            (r.Retried > 0 ? $", {r.Retried} re-timed" : "") + (r.Contended > 0 ? $", {r.Contended} contended" : "") +
            (r.Measurements > 1 ? $", measured {r.Measurements}x" : "") + (r.Noisy ? ", noisy" : "") + (r.Streamed ? ", streamed" : "") + $"){check}";
    }

    private static string[] QuickMethod =>
    [
        $"mode: quick: in-process harness, {BenchThreads.Text} (generated kernels, the streaming limit and the copy; scalar and TensorPrimitives single-threaded); per case: the baselines checked against the generated output at the case's shape, " +
        "each variant warmed up >= 30 ms, then 9 rounds of one batch (>= 8 ms, >= 1 call) per variant (limit, copy, generated, with --onednn oneDNN 2.6 in this process, PyTorch in lockstep unless --no-torch, scalar, TensorPrimitives) in rotating order; median per call. " +
        "A batch during which this thread waited on the run queue > 3% of its time (another job had the CPU) is re-timed (up to 4 attempts; " +
        "CSV: samples_retried, samples_contended); a case whose limit, copy or generated samples spread > 30% is measured again (up to 3 times, least spread kept; " +
        "still spread: marked * in the table). " +
        "JIT settled before (tier-1 code). Shows the picture, not publishable precision.",
        "all buffers L3-resident and shared by the variants; parameters: gamma, beta per channel; eps 1e-5; GroupNorm 32 groups",
    ];

    private static string[] FullMethod(bool isaJobs, bool shortRun) =>
    [
        $"mode: full: BenchmarkDotNet {(shortRun ? "ShortRun" : "default")} job{(isaJobs ? "s, one per ISA path (" + string.Join(", ", FullRunner.IsaJobs.Select(j => j.Id + (j.Variable.Length > 0 ? ": " + j.Variable + "=0" : ""))) + ")" : "")}, " +
        "separate process per benchmark; median per call",
        "all buffers L3-resident and shared by the variants; parameters: gamma, beta per channel; eps 1e-5; GroupNorm 32 groups",
    ];

    /// <summary>The CPU model from /proc/cpuinfo ("model name", with the family/model numbers), or "unknown CPU".</summary>
    public static string CpuModel()
    {
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToList();
            string Field(string name) =>
                lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model")}), L2 {StreamingLimit.L2Bytes / 1024} KB, L3 {StreamingLimit.L3Bytes >> 20} MB";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "unknown CPU"; }
    }

    private static List<string> EnvironmentLines()
    {
        string cpu = CpuModel();
        return
        [
            $"machine: {cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription.Trim()}",
            $"runtime: .NET {Environment.Version}, {RuntimeInformation.ProcessArchitecture}",
            $"kernels: {Isa.Describe()}",
            $"shapes (float32): {string.Join(", ", Shapes.All.Select(s => $"{s.Name} {s.Dims} ({s.Bytes / 1e6:0.###} MB)"))}",
            $"load average at start: {LoadAverage()} (the machine is shared: quote ratios from one run, not absolute times)",
            "at start: " + CpuProbe.Describe(),
        ];
    }

    /// <summary>The 1, 5 and 15 minute load averages (Linux), or "unknown".</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary><c>bench/results</c> of the repository this program was built from (or of the current directory).</summary>
    private static string ResultsRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "NormKernels.sln")))
                    return Path.Combine(dir.FullName, "bench", "results");
        }
        return Path.Combine(Environment.CurrentDirectory, "bench", "results");
    }
}
