using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using NormKernels.Bench.Suite;
using ScottPlot;
using SkiaSharp;

namespace NormKernels.Bench.Report;

/// <summary>
/// The plot of a run, drawn by ScottPlot and saved as SVG and PNG: one group of horizontal bars per case, one bar per
/// series (generated, TensorPrimitives, scalar C#, PyTorch), on a log-scale axis of time / limit time, with the limit
/// (1.0) as a dashed line. Unreliable cells are marked so that they do not read as wins: a noisy case's C# bars and a
/// disturbed torch bar are faded, hatched (PNG; Skia's SVG canvas drops the hatch, the faded fill stays), outlined in red and carry a red cross
/// and a note; a torch cell whose calls were all dropped draws no bar, only the cross and "dropped".
/// </summary>
public static class ResultPlot
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly Color Warning = Color.FromHex("#d62728");

    /// <summary>One series: per case its value (time / limit; NaN: no bar) and, when unreliable, why.</summary>
    private sealed record Series(string Name, Color Color, double[] Values, string?[] Unreliable);

    /// <summary>Draws the run's plot and saves it to <paramref name="svgPath"/> and <paramref name="pngPath"/>.</summary>
    public static void Save(RunReport report, string title, string svgPath, string pngPath)
    {
        var (labels, series) = Data(report);
        var plot = Draw(title, labels, series);
        int width = 1200, height = Math.Max(420, 170 + labels.Count * (series.Count + 1) * 9);
        plot.SaveSvg(svgPath, width, height);
        plot.SavePng(pngPath, width, height);
    }

    /// <summary>One group per measured case; torch as its time / our limit time.</summary>
    private static (List<string> Labels, List<Series> Series) Data(RunReport report)
    {
        var results = report.Results;
        bool jobs = results.Select(r => r.Job).Distinct().Count() > 1;
        var labels = results.Select(r => (jobs ? r.Job + " " : "") + r.Case.Id).ToList();
        string?[] noisy = results.Select(r => r.Noisy ? "noisy" : null).ToArray();
        var series = new List<Series>
        {
            new("generated", Color.FromHex("#1f4e9c"), results.Select(r => r.Ratio(Variant.Generated)).ToArray(), noisy),
            new("TensorPrimitives", Color.FromHex("#e07b1a"), results.Select(r => r.Ratio(Variant.TensorPrimitives)).ToArray(), noisy),
            new("scalar C#", Color.FromHex("#8c8c8c"), results.Select(r => r.Ratio(Variant.Scalar)).ToArray(), noisy),
        };
        if (report.Torch.Available)
            series.Add(new($"PyTorch ({BenchThreads.Text})", Color.FromHex("#2e9e44"), results.Select(r => r.TorchLimitRatio).ToArray(),
                results.Select(r => r.Torch is { AllDropped: true } ? "dropped (all calls disturbed)"
                    : report.Torch.Disturbed.Contains(r.Case.Id) ? "disturbed" : null).ToArray()));
        return (labels, series);
    }

    private static Plot Draw(string title, IReadOnlyList<string> labels, IReadOnlyList<Series> series)
    {
        var plot = new Plot();
        plot.Font.Set(SansFont());
        plot.Title(title, 13);

        var values = series.SelectMany(s => s.Values).Where(v => v > 0 && double.IsFinite(v)).ToList();
        double lo = Nice(Math.Min(0.5, values.Count > 0 ? values.Min() : 0.5), down: true);
        double hi = Nice(Math.Max(2, values.Count > 0 ? values.Max() * 1.6 : 2), down: false); // room for the labels
        // x = log10(value / lo): the axis starts at 0, so that every bar is positive and ScottPlot puts its label right of it.
        double X(double v) => Math.Log10(v / lo);
        double xMax = X(hi);

        // Case i (from the top) has the positions group * (n - 1 - i) + (series - 1 - k) for its series k.
        int n = labels.Count, group = series.Count + 1;
        double Position(int i, int k) => group * (n - 1 - i) + (series.Count - 1 - k);
        var bars = new List<Bar>();
        var crosses = new List<Coordinates>();
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            for (int i = 0; i < n; i++)
            {
                double v = s.Values[i];
                string? why = s.Unreliable[i];
                bool hasBar = v > 0 && double.IsFinite(v);
                double end = hasBar ? X(Math.Max(v, lo)) : 0.01 * xMax;
                if (why is not null) crosses.Add(new Coordinates(end, Position(i, k)));
                if (!hasBar)
                {
                    if (why is not null) // no value to draw: the cross and the reason at the axis
                        bars.Add(new Bar { Position = Position(i, k), ValueBase = 0, Value = end, Size = 0.9, LineWidth = 0,
                                           FillColor = Colors.Transparent, Label = why, LabelOffset = 10 });
                    continue;
                }
                var bar = new Bar
                {
                    Position = Position(i, k), ValueBase = 0, Value = end, Size = 0.9,
                    FillColor = s.Color, LineWidth = 0,
                    // The generated kernel's value at the end of its bar, as the table's ratio column.
                    Label = (k == 0 ? v.ToString("0.00", Inv) : "") + (why is null ? "" : (k == 0 ? " " : "") + why),
                };
                if (why is not null)
                {
                    bar.FillColor = s.Color.WithAlpha(0.3);
                    bar.FillHatch = new ScottPlot.Hatches.Striped();
                    bar.FillHatchColor = s.Color;
                    bar.LineColor = Warning;
                    bar.LineWidth = 1;
                    bar.LabelOffset = 10;
                }
                bars.Add(bar);
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        barPlot.ValueLabelStyle.FontSize = 9;
        if (crosses.Count > 0)
            plot.Add.Markers(crosses.ToArray(), MarkerShape.Eks, 8, Warning);

        var limit = plot.Add.VerticalLine(X(1), 1.5f, Warning, LinePattern.Solid); // Skia's SVG canvas draws no dashes
        limit.LabelText = "limit";

        // Legend: the series, then the mark of unreliable cells.
        foreach (var s in series)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = s.Name, FillColor = s.Color });
        plot.Legend.ManualItems.Add(new LegendItem
        {
            LabelText = "unreliable, rerun: noisy C# case, disturbed or dropped torch (table: *, dropped)",
            FillColor = Colors.Gray.WithAlpha(0.3), FillHatch = new ScottPlot.Hatches.Striped(), FillHatchColor = Colors.Gray,
            OutlineColor = Warning, OutlineWidth = 1,
            MarkerShape = MarkerShape.Eks, MarkerSize = 8, MarkerColor = Warning,
        });
        plot.ShowLegend(Edge.Top);

        // Axes: case ids on the left, the ratio on a log scale (ticks 1, 2, 5 per decade) below.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, n).Select(i => Position(i, 0) - (series.Count - 1) / 2.0).ToArray(), labels.ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        var xTicks = new ScottPlot.TickGenerators.NumericManual();
        for (double decade = Math.Pow(10, Math.Floor(Math.Log10(lo))); decade < hi * 1.0001; decade *= 10)
            foreach (double m in new[] { 1.0, 2.0, 5.0 })
            {
                double v = decade * m;
                if (v >= lo * 0.9999 && v <= hi * 1.0001) xTicks.AddMajor(X(v), v.ToString("0.###", Inv));
            }
        plot.Axes.Bottom.TickGenerator = xTicks;
        plot.Axes.Bottom.Label.Text = "time / limit time (log scale; lower is better; 1 = limit)";
        plot.Axes.SetLimits(0, xMax, -1, group * n - 1);
        return plot;
    }

    /// <summary>A sans-serif family that is installed (ScottPlot's own guess finds none through Skia's font manager here), or ScottPlot's.</summary>
    private static string SansFont() =>
        new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica" }.FirstOrDefault(SKFontManager.Default.FontFamilies.Contains) ?? Fonts.Sans;

    /// <summary>The nearest 1-2-5 step below (or above) <paramref name="v"/>.</summary>
    private static double Nice(double v, bool down)
    {
        double decade = Math.Pow(10, Math.Floor(Math.Log10(v)));
        double[] steps = down ? [5, 2, 1] : [1, 2, 5, 10];
        foreach (double m in steps)
            if (down ? decade * m <= v : decade * m >= v) return decade * m;
        return down ? decade : decade * 10;
    }
}
