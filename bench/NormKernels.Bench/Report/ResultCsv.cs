using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using CsvHelper;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.Report;

/// <summary>The CSV of a run: one record per measured case, then one per case whose kernel does not exist yet.</summary>
public static partial class ResultCsv
{
    public static void Write(RunReport report, string path)
    {
        using var csv = CsvWriter.ToFile(path, CsvWriterOptions.For<Row>());
        csv.WriteRecords(report.Results.Select(r => Measured(report, r))
            .Concat(ReportWriter.NotYet(report).Select(c => new Row
            {
                Mode = report.Mode, Job = "", Case = c.Id, Op = c.Op.Title, Layout = c.Op.Layout, Shape = c.Shape.Name, Dims = c.Shape.Dims,
                Bytes = c.Shape.Bytes, Status = "not yet: " + c.Op.NotYet,
            })));
    }

    private static Row Measured(RunReport report, CaseResult r)
    {
        var g = r.Times.GetValueOrDefault(Variant.Generated);
        var copy = r.Times.GetValueOrDefault(Variant.Copy);
        double bytes = r.Case.TrafficBytes; // one read + one write of the tensor (backward: x, dy read, dx written)
        var torch = r.Torch;
        bool dropped = torch is { AllDropped: true };
        return new Row
        {
            Mode = report.Mode, Job = r.Job, Case = r.Case.Id, Op = r.Case.Op.Title, Layout = r.Case.Op.Layout,
            Shape = r.Case.Shape.Name, Dims = r.Case.Shape.Dims, Bytes = r.Case.Shape.Bytes, Path = r.Path,
            LimitNs = r.Times.GetValueOrDefault(Variant.Limit)?.MedianNs, LimitReadPass = StreamingLimit.NeedsReadPass(r.Case) ? "yes" : "no",
            CopyRatio = Value(r.CopyRatio(Variant.Generated)),
            CopyNs = copy?.MedianNs, GeneratedNs = g?.MedianNs, ScalarNs = r.Times.GetValueOrDefault(Variant.Scalar)?.MedianNs,
            TensorPrimitivesNs = r.Times.GetValueOrDefault(Variant.TensorPrimitives)?.MedianNs,
            Ratio = Value(r.Ratio(Variant.Generated)), ScalarRatio = Value(r.Ratio(Variant.Scalar)),
            TensorPrimitivesRatio = Value(r.Ratio(Variant.TensorPrimitives)),
            GeneratedMinNs = g?.MinNs, GeneratedMaxNs = g?.MaxNs,
            CopyGbps = copy is null ? null : bytes / copy.MedianNs, GeneratedGbps = g is null ? null : bytes / g.MedianNs,
            TorchNs = dropped ? "dropped" : Text(torch?.MedianNs), TorchCopyNs = torch?.CopyMedianNs,
            TorchRatio = dropped ? "dropped" : Text(r.TorchRatio), TorchCalls = torch?.Calls, TorchDropped = torch?.Dropped,
            OneDnnNs = r.OneDnnNs, OneDnnRatio = Value(r.OneDnnRatio),
            ScalarMaxAbsDiff = Value(r.ScalarDiff), TensorPrimitivesMaxAbsDiff = Value(r.TensorsDiff),
            SamplesRetried = r.Retried, SamplesContended = r.Contended,
            CopySpread = r.Spread(Variant.Copy), GeneratedSpread = r.Spread(Variant.Generated),
            Measurements = r.Measurements, Noisy = r.Noisy ? "yes" : "no", Streamed = r.Job == "Quick" ? (r.Streamed ? "yes" : "no") : null,
            Status = !report.Torch.Available && torch is null ? "measured; torch " + report.Torch.Note
                : dropped ? "measured; torch dropped: every call disturbed, no torch time" : "measured",
        };
    }

    private static double? Value(double v) => double.IsNaN(v) ? null : v;

    /// <summary>A number as the numeric columns write it (G6), for the torch columns that can also say "dropped".</summary>
    private static string? Text(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("G6", CultureInfo.InvariantCulture) : null;

    /// <summary>Numbers with 6 significant digits (G6), a missing value as an empty field.</summary>
    internal sealed class SixDigits : ICsvConverter<double?>
    {
        public double? Read(CsvReader reader, int index) =>
            reader.GetSpan(index).IsEmpty ? null : reader.Parse<double>(index, CultureInfo.InvariantCulture);

        public void Write(CsvWriter writer, double? value) => writer.WriteField(value, "G6");
    }

    /// <summary>The columns, in order; missing values as empty fields.</summary>
    [CsvRecord]
    [CsvOptions(NewLine = "\n", Culture = "")]
    internal sealed partial class Row
    {
        [CsvColumn("mode")] public string Mode { get; set; } = "";
        [CsvColumn("job")] public string Job { get; set; } = "";
        [CsvColumn("case")] public string Case { get; set; } = "";
        [CsvColumn("op")] public string Op { get; set; } = "";
        [CsvColumn("layout")] public string Layout { get; set; } = "";
        [CsvColumn("shape")] public string Shape { get; set; } = "";
        [CsvColumn("dims")] public string Dims { get; set; } = "";
        [CsvColumn("bytes")] public long Bytes { get; set; }
        [CsvColumn("path")] public string Path { get; set; } = "";
        [CsvColumn("limit_ns"), CsvConverter(typeof(SixDigits))] public double? LimitNs { get; set; }
        [CsvColumn("limit_read_pass")] public string LimitReadPass { get; set; } = "";
        [CsvColumn("copy_ratio"), CsvConverter(typeof(SixDigits))] public double? CopyRatio { get; set; }
        [CsvColumn("copy_ns"), CsvConverter(typeof(SixDigits))] public double? CopyNs { get; set; }
        [CsvColumn("generated_ns"), CsvConverter(typeof(SixDigits))] public double? GeneratedNs { get; set; }
        [CsvColumn("scalar_ns"), CsvConverter(typeof(SixDigits))] public double? ScalarNs { get; set; }
        [CsvColumn("tensorprimitives_ns"), CsvConverter(typeof(SixDigits))] public double? TensorPrimitivesNs { get; set; }
        [CsvColumn("ratio"), CsvConverter(typeof(SixDigits))] public double? Ratio { get; set; }
        [CsvColumn("scalar_ratio"), CsvConverter(typeof(SixDigits))] public double? ScalarRatio { get; set; }
        [CsvColumn("tensorprimitives_ratio"), CsvConverter(typeof(SixDigits))] public double? TensorPrimitivesRatio { get; set; }
        [CsvColumn("generated_min_ns"), CsvConverter(typeof(SixDigits))] public double? GeneratedMinNs { get; set; }
        [CsvColumn("generated_max_ns"), CsvConverter(typeof(SixDigits))] public double? GeneratedMaxNs { get; set; }
        [CsvColumn("copy_gbps"), CsvConverter(typeof(SixDigits))] public double? CopyGbps { get; set; }
        [CsvColumn("generated_gbps"), CsvConverter(typeof(SixDigits))] public double? GeneratedGbps { get; set; }
        [CsvColumn("torch_ns")] public string? TorchNs { get; set; }
        [CsvColumn("torch_copy_ns"), CsvConverter(typeof(SixDigits))] public double? TorchCopyNs { get; set; }
        [CsvColumn("torch_ratio")] public string? TorchRatio { get; set; }
        [CsvColumn("torch_calls")] public int? TorchCalls { get; set; }
        [CsvColumn("torch_dropped")] public int? TorchDropped { get; set; }
        [CsvColumn("onednn_ns"), CsvConverter(typeof(SixDigits))] public double? OneDnnNs { get; set; }
        [CsvColumn("onednn_ratio"), CsvConverter(typeof(SixDigits))] public double? OneDnnRatio { get; set; }
        [CsvColumn("scalar_max_abs_diff"), CsvConverter(typeof(SixDigits))] public double? ScalarMaxAbsDiff { get; set; }
        [CsvColumn("tensorprimitives_max_abs_diff"), CsvConverter(typeof(SixDigits))] public double? TensorPrimitivesMaxAbsDiff { get; set; }
        [CsvColumn("samples_retried")] public int? SamplesRetried { get; set; }
        [CsvColumn("samples_contended")] public int? SamplesContended { get; set; }
        [CsvColumn("copy_spread"), CsvConverter(typeof(SixDigits))] public double? CopySpread { get; set; }
        [CsvColumn("generated_spread"), CsvConverter(typeof(SixDigits))] public double? GeneratedSpread { get; set; }
        [CsvColumn("measurements")] public int? Measurements { get; set; }
        [CsvColumn("noisy")] public string? Noisy { get; set; }
        [CsvColumn("streamed")] public string? Streamed { get; set; }
        [CsvColumn("status")] public string Status { get; set; } = "";
    }
}
