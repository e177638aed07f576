using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace NormKernels.Bench.Report;

/// <summary>
/// A dependency-free SVG bar chart: one group of horizontal bars per case, one bar per series, on a log-scale
/// axis of ratio to the limit, with the limit (1.0) drawn as a line. Missing values (NaN) draw no bar.
/// </summary>
public static class SvgPlot
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(string title, IReadOnlyList<string> labels, IReadOnlyList<(string Name, string Color, double[] Values)> series)
    {
        const int left = 200, right = 70, top = 64, bottom = 44, plotWidth = 760, bar = 6, groupGap = 8;
        int groupHeight = series.Count * bar + groupGap;
        int plotHeight = Math.Max(1, labels.Count) * groupHeight;
        int width = left + plotWidth + right, height = top + plotHeight + bottom;

        var values = series.SelectMany(s => s.Values).Where(v => v > 0 && double.IsFinite(v)).ToList();
        double lo = Nice(Math.Min(0.5, values.Count > 0 ? values.Min() : 0.5), down: true);
        double hi = Nice(Math.Max(2, values.Count > 0 ? values.Max() : 2), down: false);
        double X(double v) => left + (Math.Log10(v) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)) * plotWidth;

        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append(Inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append(Inv, $"<text x=\"{left}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{Esc(title)}</text>\n");

        // Legend.
        double lx = left;
        foreach (var (name, color, _) in series)
        {
            sb.Append(Inv, $"<rect x=\"{lx:0.#}\" y=\"30\" width=\"12\" height=\"10\" fill=\"{color}\"/><text x=\"{lx + 16:0.#}\" y=\"39\">{Esc(name)}</text>\n");
            lx += 30 + name.Length * 6.5;
        }

        // Grid and ticks: 1, 2, 5 per decade.
        for (double decade = Math.Pow(10, Math.Floor(Math.Log10(lo))); decade < hi * 1.0001; decade *= 10)
            foreach (double m in new[] { 1.0, 2.0, 5.0 })
            {
                double v = decade * m;
                if (v < lo * 0.9999 || v > hi * 1.0001) continue;
                double x = X(v);
                sb.Append(Inv, $"<line x1=\"{x:0.#}\" y1=\"{top}\" x2=\"{x:0.#}\" y2=\"{top + plotHeight}\" stroke=\"#e4e4e4\"/>\n");
                sb.Append(Inv, $"<text x=\"{x:0.#}\" y=\"{top + plotHeight + 14}\" text-anchor=\"middle\">{v.ToString("0.###", Inv)}</text>\n");
            }
        sb.Append(Inv, $"<text x=\"{left + plotWidth / 2}\" y=\"{top + plotHeight + 32}\" text-anchor=\"middle\">time / copy time (log scale; lower is better)</text>\n");

        for (int i = 0; i < labels.Count; i++)
        {
            double y0 = top + i * groupHeight + groupGap / 2.0;
            if (i % 2 == 1)
                sb.Append(Inv, $"<rect x=\"0\" y=\"{y0 - groupGap / 2.0:0.#}\" width=\"{left + plotWidth}\" height=\"{groupHeight}\" fill=\"#f6f6f6\" fill-opacity=\"0.7\"/>\n");
            sb.Append(Inv, $"<text x=\"{left - 6}\" y=\"{y0 + series.Count * bar / 2.0 + 4:0.#}\" text-anchor=\"end\">{Esc(labels[i])}</text>\n");
            for (int s = 0; s < series.Count; s++)
            {
                double v = series[s].Values[i];
                if (!(v > 0) || !double.IsFinite(v)) continue;
                double x1 = X(Math.Max(v, lo));
                double y = y0 + s * bar;
                sb.Append(Inv, $"<rect x=\"{left}\" y=\"{y:0.#}\" width=\"{Math.Max(1, x1 - left):0.#}\" height=\"{bar - 1}\" fill=\"{series[s].Color}\"><title>{Esc(series[s].Name)} {Esc(labels[i])}: {v.ToString("0.00", Inv)}</title></rect>\n");
                if (s == 0) // the generated kernel's value printed at the end of its bar
                    sb.Append(Inv, $"<text x=\"{x1 + 3:0.#}\" y=\"{y + bar - 1:0.#}\" font-size=\"8\">{v.ToString("0.00", Inv)}</text>\n");
            }
        }

        double limit = X(1);
        sb.Append(Inv, $"<line x1=\"{limit:0.#}\" y1=\"{top - 4}\" x2=\"{limit:0.#}\" y2=\"{top + plotHeight}\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n");
        sb.Append(Inv, $"<text x=\"{limit + 4:0.#}\" y=\"{top - 6}\" fill=\"#d62728\">limit: copy</text>\n");
        sb.Append(Inv, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotHeight}\" stroke=\"black\"/>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>The nearest 1-2-5 step below (or above) <paramref name="v"/>.</summary>
    private static double Nice(double v, bool down)
    {
        double decade = Math.Pow(10, Math.Floor(Math.Log10(v)));
        double[] steps = down ? [5, 2, 1] : [1, 2, 5, 10];
        foreach (double m in steps)
            if (down ? decade * m <= v : decade * m >= v) return decade * m;
        return down ? decade : decade * 10;
    }

    private static string Esc(string s) => WebUtility.HtmlEncode(s);
}
