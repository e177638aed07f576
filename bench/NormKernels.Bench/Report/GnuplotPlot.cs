using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace NormKernels.Bench.Report;

/// <summary>
/// The PNG plot, when gnuplot is installed (Debian: <c>apt-get install gnuplot-nox</c>): clustered bars per case,
/// log-scale ratio to the limit, the limit as a dashed line. The data and script are kept next to the PNG.
/// Without gnuplot the SVG (<see cref="SvgPlot"/>) is the plot.
/// </summary>
public static class GnuplotPlot
{
    public static bool TryRender(string title, IReadOnlyList<string> labels, IReadOnlyList<(string Name, string Color, double[] Values)> series,
        string pngPath, out string note)
    {
        note = "";
        string? gnuplot = FindOnPath("gnuplot");
        if (gnuplot is null) { note = "gnuplot not installed; the SVG is the plot"; return false; }
        if (labels.Count == 0) { note = "nothing to plot"; return false; }

        string stem = Path.ChangeExtension(pngPath, null);
        string dataPath = stem + ".plot.dat", scriptPath = stem + ".plot.gp";
        var data = new StringBuilder();
        data.AppendLine("# case " + string.Join(" ", series.Select(s => s.Name.Replace(' ', '_'))));
        for (int i = 0; i < labels.Count; i++)
            data.AppendLine(labels[i].Replace(' ', '_') + " " + string.Join(" ", series.Select(s =>
                double.IsFinite(s.Values[i]) ? s.Values[i].ToString("G6", CultureInfo.InvariantCulture) : "NaN")));
        File.WriteAllText(dataPath, data.ToString());

        int width = Math.Max(900, 120 + labels.Count * (series.Count * 7 + 10));
        var gp = new StringBuilder();
        gp.AppendLine($"set terminal pngcairo size {width},720 font 'sans,9'");
        gp.AppendLine($"set output '{Path.GetFileName(pngPath)}'");
        gp.AppendLine($"set title \"{title.Replace("\"", "'")}\"");
        gp.AppendLine("set datafile missing 'NaN'");
        gp.AppendLine("set style data histograms");
        gp.AppendLine("set style histogram cluster gap 1");
        gp.AppendLine("set style fill solid 0.9 noborder");
        gp.AppendLine("set boxwidth 0.9");
        gp.AppendLine("set logscale y");
        gp.AppendLine("set yrange [0.5:*]");
        gp.AppendLine("set ylabel 'time / copy time (lower is better; 1 = limit)'");
        gp.AppendLine("set xtics rotate by -50 scale 0 font 'sans,8' noenhanced");
        gp.AppendLine("set grid ytics");
        gp.AppendLine("set key top left noenhanced");
        gp.AppendLine("set bmargin 9");
        gp.AppendLine("set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#d62728' lw 1.5 dt 2 front");
        var plots = series.Select((s, k) =>
            (k == 0 ? $"'{Path.GetFileName(dataPath)}' using {k + 2}:xtic(1)" : $"'' using {k + 2}") + $" title '{s.Name}' lc rgb '{s.Color}'");
        gp.AppendLine("plot " + string.Join(", \\\n     ", plots));
        File.WriteAllText(scriptPath, gp.ToString());

        try
        {
            var psi = new ProcessStartInfo(gnuplot) { WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(pngPath))!, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.GetFileName(scriptPath));
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(60_000)) { p.Kill(); note = "gnuplot timed out"; return false; }
            if (p.ExitCode != 0 || !File.Exists(pngPath)) { note = "gnuplot failed: " + err.Trim(); return false; }
            return true;
        }
        catch (Exception e)
        {
            note = "gnuplot failed to start: " + e.Message;
            return false;
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
