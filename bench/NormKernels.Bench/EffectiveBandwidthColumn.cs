using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench;

/// <summary>
/// GB/s counting 8 bytes per tensor element: one float read and one float written, the least
/// traffic any forward pass can have. On <c>Copy</c> it is the machine's copy bandwidth (the
/// limit); on a normalization it says how close that kernel comes to it.
/// </summary>
public sealed class EffectiveBandwidthColumn : IColumn
{
    public string Id => nameof(EffectiveBandwidthColumn);
    public string ColumnName => "GB/s (8 B/elem)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Tensor bytes read + written once (8 B per element) divided by Mean; compare with the Copy rows";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var caseId = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Case")?.Value as string;
        var meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (caseId is null || meanNs is not > 0) return "-";
        double bytes = Catalog.Find(caseId).TrafficBytes; // backward cases: 12 B/elem (x, dy read; dx written)
        return (bytes / meanNs.Value).ToString("F1", CultureInfo.InvariantCulture); // bytes per ns = GB/s
    }
}
