using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using NormKernels.Bench.Suite;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace NormKernels.Bench.Report;

/// <summary>The final table (console), and the files of a run: CSV, markdown, the raw torch JSON, the plot (SVG, PNG).</summary>
public static class ReportWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What each column means (console footer and markdown).</summary>
    public static readonly string[] Legend =
    [
        $"limit: the physical limit, median time per call: one streaming pass over the same bytes (input read, output written with non-temporal stores after peeling to 64-byte alignment, normal stores when input + output fit in L3 ({StreamingLimit.L3Bytes >> 20} MB) and stay cached between calls; backward: x and dy read, dx written); " +
        $"+r = one read-only pass over the input (backward: x and dy) comes first, because the statistics must see more than L2 ({StreamingLimit.L2Bytes / 1024} KB) before the first output " +
        "(BN training/backward: one channel NCHW, the whole tensor NHWC; IN/GN NHWC, LN over C,H,W: one sample; GN NCHW: one group; IN NCHW: one plane; row norms: one row).",
        "copy: Span.CopyTo of the same bytes (one read + one write; backward: x and dy copied into dx in L1-sized chunks, two reads + one write); median time per call.",
        "generated: the NormKernels layer's Forward, or its Backward for the backward rows (path = the instruction-set path it ran on); median time per call.",
        "ratio: generated / limit (1.00 = at the physical limit; lower is better); * = noisy: other jobs disturbed the samples of limit, copy or generated (spread > 30% after 3 measurements), rerun. /copy: generated / copy.",
        "scalar, TensorPrimitives: the baseline's time / limit (same scale as ratio): plain scalar C#, and a composition of System.Numerics.Tensors.TensorPrimitives calls.",
        "torch: generated time / PyTorch time for the same case, same thread count (below 1 = NormKernels is faster). Quick mode: one torch process in lockstep, " +
        "each case's torch batches timed in that process as one more variant, in the same rounds as the generated kernel and the limit (where it cannot start: run after the C# cases, as follows); " +
        "* = torch disturbed, after up to 2 re-measurements: its own copy of the bytes stayed > 30% away from the C# copy, or more of its calls were dropped than kept, rerun; " +
        "dropped = fewer than 3 torch calls ran without its thread waiting on the run queue (another job had the CPU), in each of 3 attempts: no torch time, rerun (fewer threads, a quieter machine). " +
        "Backward calls are checked against torch.autograd.grad before they are timed (GroupNorm NHWC on torch 1.13: timed as its autograd calls it, on contiguous copies).",
    ];

    // ---------------------------------------------------------------- console / markdown table

    /// <summary>The oneDNN column's legend line (<c>--onednn</c> runs only).</summary>
    public const string OneDnnLegend =
        "oneDNN: generated time / oneDNN 2.6 time for the same case, same thread count (below 1 = NormKernels is faster; bench/onednn/bench_onednn.cpp, " +
        "built with g++ -O2 against Debian's libdnnl-dev as a library loaded into this process, each case timed as one more variant in the same rounds " +
        "as the generated kernel and the limit, OpenMP at the thread count (where the library cannot load: the same file as a program run after the C# " +
        "measurements, see the oneDNN note); each primitive's outputs checked against a float64 reference first, a failing one not timed and named in the note); " +
        "- = no oneDNN 2.6 primitive for the case (InstanceNorm, GroupNorm, RMSNorm, LayerNorm over C,H,W) or not in its program (S5).";

    private static string[] Header(RunReport report, bool jobs) =>
        (jobs ? new[] { "job" } : Array.Empty<string>())
        .Concat(["case", "shape", "layout", "path", "limit", "copy", "generated", "ratio", "/copy", "scalar", "TensorPrimitives", "torch"])
        .Concat(report.OneDnn is null ? [] : ["oneDNN"]).ToArray();

    /// <summary>The oneDNN column: the ratio, "-" (no such case in oneDNN), or why oneDNN is n/a.</summary>
    private static string OneDnnCell(RunReport report, CaseResult r) =>
        report.OneDnn is not { Available: true } run ? report.OneDnn?.Note ?? "" : Ratio(r.OneDnnRatio);

    private static IEnumerable<string[]> Rows(RunReport report, bool jobs)
    {
        foreach (var r in report.Results)
        {
            var row = new List<string>();
            if (jobs) row.Add(r.Job);
            row.AddRange([
                r.Case.Op.Title, r.Case.Shape.ToString(), r.Case.Op.Layout, r.Path,
                LimitTime(r), Time(r, Variant.Copy), Time(r, Variant.Generated),
                Ratio(r.Ratio(Variant.Generated)) + (r.Noisy ? "*" : ""), Ratio(r.CopyRatio(Variant.Generated)), Ratio(r.Ratio(Variant.Scalar)), Ratio(r.Ratio(Variant.TensorPrimitives)),
                TorchCell(report, r),
            ]);
            if (report.OneDnn is not null) row.Add(OneDnnCell(report, r));
            yield return row.ToArray();
        }
        foreach (var c in NotYet(report))
        {
            var row = new List<string>();
            if (jobs) row.Add("");
            row.AddRange([c.Op.Title, c.Shape.ToString(), c.Op.Layout, "", "", "", "not yet", "", "", "", "", ""]);
            if (report.OneDnn is not null) row.Add("");
            yield return row.ToArray();
        }
    }

    /// <summary>The torch column: the ratio (* when disturbed), "dropped" when every call was, "error", "-", or why torch is n/a.</summary>
    private static string TorchCell(RunReport report, CaseResult r) =>
        !report.Torch.Available ? report.Torch.Note
        : r.Torch is null ? (report.Torch.Errors.ContainsKey(r.Case.Id) ? "error" : "-")
        : r.Torch.AllDropped ? "dropped"
        : Ratio(r.TorchRatio) + (report.Torch.Disturbed.Contains(r.Case.Id) ? "*" : "");

    /// <summary>The selected cases whose generated kernel does not exist yet.</summary>
    public static IEnumerable<BenchCase> NotYet(RunReport report) => Catalog.Selected.Where(c => !c.Op.Exists);

    private static bool HasJobs(RunReport report) => report.Results.Select(r => r.Job).Distinct().Count() > 1;

    /// <summary>The results table: text columns left-aligned, numbers right-aligned, in the given border.</summary>
    private static Table ResultTable(RunReport report, TableBorder border, Func<string, string> cell)
    {
        bool jobs = HasJobs(report);
        int firstNumeric = jobs ? 5 : 4;
        var table = new Table().Border(border);
        foreach (var (name, i) in Header(report, jobs).Select((h, i) => (h, i)))
            table.AddColumn(new TableColumn(new Text(name)) { Alignment = i >= firstNumeric ? Justify.Right : Justify.Left });
        foreach (var row in Rows(report, jobs))
            table.AddRow(row.Select(c => (IRenderable)new Text(cell(c))));
        return table;
    }

    /// <summary>The readable table printed at the end of a run.</summary>
    public static void WriteConsoleTable(RunReport report)
    {
        Console.WriteLine($"CPU: {report.Cpu}");
        AnsiConsole.Write(ResultTable(report, TableBorder.Horizontal, c => c));
        Console.WriteLine();
        foreach (var l in Legend) Console.WriteLine("  " + l);
        if (report.OneDnn is not null) Console.WriteLine("  " + OneDnnLegend);
    }

    /// <summary><c>--list</c>: the selected cases, one a line.</summary>
    public static void WriteCaseList(IEnumerable<BenchCase> cases)
    {
        var table = new Table().Border(TableBorder.None).HideHeaders().AddColumns("id", "operation");
        foreach (var c in cases)
            table.AddRow(new Text(c.Id), new Text($"{c.Op.Title}, {c.Op.Layout}, {c.Shape}{(c.Op.Exists ? "" : "  (not yet)")}"));
        AnsiConsole.Write(table);
    }

    // ---------------------------------------------------------------- files

    /// <summary>Writes <c>&lt;dir&gt;/&lt;stem&gt;.csv/.md/.svg/.png</c> (+ torch JSON); returns the paths.</summary>
    public static List<string> WriteFiles(RunReport report, string directory, string stem)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        string Path(string ext) => System.IO.Path.Combine(directory, stem + ext);

        ResultCsv.Write(report, Path(".csv"));
        written.Add(Path(".csv"));
        File.WriteAllText(Path(".md"), Markdown(report, stem), new UTF8Encoding(false));
        written.Add(Path(".md"));
        if (report.Torch.RawJson.Length > 0)
        {
            File.WriteAllText(Path(".torch.json"), report.Torch.RawJson + "\n");
            written.Add(Path(".torch.json"));
        }

        string title = $"NormKernels {report.Mode} run {report.Started:yyyy-MM-dd HH:mm}: time / streaming limit of the same bytes (log scale, lower is better, 1 = limit)";
        ResultPlot.Save(report, title, Path(".svg"), Path(".png"));
        written.Add(Path(".svg"));
        written.Add(Path(".png"));
        return written;
    }

    public static string Markdown(RunReport report, string stem)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# NormKernels benchmark, {report.Mode} run, {report.Started:yyyy-MM-dd HH:mm:ss}, {report.Cpu}");
        sb.AppendLine();
        foreach (var line in report.Environment) sb.AppendLine($"* {line}");
        sb.AppendLine($"* torch: {report.Torch.Note}");
        if (report.OneDnn is not null) sb.AppendLine($"* oneDNN: {report.OneDnn.Note}");
        foreach (var line in report.Method) sb.AppendLine($"* {line}");
        sb.AppendLine($"* wall time of the run: {report.Elapsed.TotalSeconds:0} s");
        sb.AppendLine();
        sb.Append(MarkdownTable(report));
        sb.AppendLine();
        foreach (var l in Legend) sb.AppendLine($"* {l}");
        if (report.OneDnn is not null) sb.AppendLine($"* {OneDnnLegend}");
        if (report.Torch.Errors.Count > 0)
        {
            sb.AppendLine();
            foreach (var (id, error) in report.Torch.Errors) sb.AppendLine($"* torch {id}: {error}");
        }
        sb.AppendLine();
        sb.AppendLine($"![ratio to the limit per case]({stem}.svg)");
        return sb.ToString();
    }

    /// <summary>The results table in markdown (Spectre.Console's markdown border, rendered without a terminal).</summary>
    private static string MarkdownTable(RunReport report)
    {
        var text = new StringWriter { NewLine = "\n" };
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = int.MaxValue / 2; // never wrap a cell
        console.Write(ResultTable(report, TableBorder.Markdown, c => c.Replace("*", "\\*")));
        return string.Join("\n", text.ToString().Split('\n').Select(l => l.TrimEnd()));
    }

    // ---------------------------------------------------------------- formatting

    /// <summary>The limit's time, "+r" when it includes the read pass; "-" when not measured (full mode).</summary>
    public static string LimitTime(CaseResult r) =>
        r.Times.ContainsKey(Variant.Limit) ? Time(r, Variant.Limit) + (StreamingLimit.NeedsReadPass(r.Case) ? " +r" : "") : "-";

    public static string Time(CaseResult r, Variant v) => r.Times.TryGetValue(v, out var t) ? Time(t.MedianNs) : "-";

    public static string Time(double ns) => ns switch
    {
        >= 100e6 => (ns / 1e6).ToString("0", Inv) + " ms",
        >= 1e6 => (ns / 1e6).ToString("0.00", Inv) + " ms",
        >= 1e3 => (ns / 1e3).ToString("0.0", Inv) + " us",
        _ => ns.ToString("0", Inv) + " ns",
    };

    public static string Ratio(double ratio) =>
        double.IsNaN(ratio) ? "-" : ratio >= 10 ? ratio.ToString("0.0", Inv) : ratio.ToString("0.00", Inv);
}
