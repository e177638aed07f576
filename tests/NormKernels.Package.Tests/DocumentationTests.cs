using System.Globalization;
using System.Text.RegularExpressions;

namespace NormKernels.Package.Tests;

/// <summary>
/// The code a user copies from the documentation, as one file: the README's quickstart block (marked
/// <c>&lt;!-- quickstart</c>) and PACKAGE.md's block become the Program.cs of fresh console projects
/// against the packed package, which must build without warnings and run; the quickstart's printed
/// numbers are checked against the same program's formulas in float64.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed partial class DocumentationTests(PackageFixture package)
{
    private const double Epsilon = 1e-5, Momentum = 0.1;   // the attribute's defaults
    private const double Tolerance = 1e-5;

    [Fact]
    public async Task README_quickstart_builds_as_one_file_runs_and_prints_the_float64_results()
    {
        package.RequirePackage();
        string readme = File.ReadAllText(Path.Combine(package.RepoRoot, "README.md"));
        string program = CodeBlockAfter(readme, "<!-- quickstart", "README.md");
        var run = await BuildAndRunAsync("QuickstartApp", program);
        string context = "\n" + run;

        // The BatchNorm: NHWC, 2 x 4 x 4 x 64, x[i] = i % 7 - 3; channel 0 reduces over n, h, w.
        const int n = 2, h = 4, w = 4, c = 64;
        var channel0 = new List<double>();
        for (int i = 0; i < n * h * w * c; i += c) channel0.Add(i % 7 - 3);
        int m = channel0.Count;
        double mean = channel0.Average();
        double variance = channel0.Sum(v => (v - mean) * (v - mean)) / m;
        double runningMean = Momentum * mean;
        double runningVar = (1 - Momentum) * 1.0 + Momentum * variance * m / (m - 1);
        double x0 = channel0[0];

        var train = Line(TrainLine(), run.Output, context);
        AssertClose("train y[0]", (x0 - mean) / Math.Sqrt(variance + Epsilon), train.Groups["y"].Value, context);
        AssertClose("runningMean[0]", runningMean, train.Groups["rm"].Value, context);

        var infer = Line(InferLine(), run.Output, context);
        AssertClose("infer y[0]", (x0 - runningMean) / Math.Sqrt(runningVar + Epsilon), infer.Groups["y"].Value, context);
        Assert.True(Enum.TryParse<KernelPathName>(infer.Groups["path"].Value, out _), "no valid LastPath printed" + context);

        // The LayerNorm over one token 1..8.
        double[] token = [1, 2, 3, 4, 5, 6, 7, 8];
        double tokenMean = token.Average();
        double tokenVar = token.Sum(v => (v - tokenMean) * (v - tokenMean)) / token.Length;
        var layer = Line(LayerLine(), run.Output, context);
        AssertClose("layer y[7]", (token[7] - tokenMean) / Math.Sqrt(tokenVar + Epsilon), layer.Groups["y"].Value, context);
    }

    [Fact]
    public async Task PACKAGE_md_code_builds_as_one_file_and_runs()
    {
        package.RequirePackage();
        string readme = File.ReadAllText(Path.Combine(package.RepoRoot, "src", "NormKernels", "PACKAGE.md"));
        string program = CodeBlockAfter(readme, "# NormKernels", "PACKAGE.md");
        var run = await BuildAndRunAsync("PackageReadmeApp", program);
        string last = run.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        Assert.True(Enum.TryParse<KernelPathName>(last, out _), "PACKAGE.md's program did not print a LastPath:\n" + run);
    }

    /// <summary>Names of NormKernels.KernelPath (this project references no repository code).</summary>
    private enum KernelPathName { Scalar, Vector128, Vector256, Vector512 }

    private async Task<ChildResult> BuildAndRunAsync(string name, string program)
    {
        string dir = package.CreateConsumer(name, program);
        var build = await Dotnet.RunAsync(dir, PackageFixture.ChildTimeout, "build", "-c", "Release", "--disable-build-servers");
        Assert.True(build.ExitCode == 0, $"{name} (the documentation's code as Program.cs) did not build:\n{build}\n--- Program.cs ---\n{program}");
        Assert.False(WarningOrError().IsMatch(build.Output), $"{name} built with warnings:\n{build}");
        var run = await Dotnet.RunAsync(dir, PackageFixture.ChildTimeout, "run", "-c", "Release", "--no-build");
        Assert.True(run.ExitCode == 0, $"{name} failed:\n{run}");
        return run;
    }

    /// <summary>The first ```csharp block after <paramref name="marker"/>.</summary>
    private static string CodeBlockAfter(string markdown, string marker, string file)
    {
        markdown = markdown.ReplaceLineEndings("\n");
        int at = markdown.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{file} has no \"{marker}\"");
        const string open = "```csharp\n";
        int start = markdown.IndexOf(open, at, StringComparison.Ordinal);
        Assert.True(start >= 0, $"{file} has no ```csharp block after \"{marker}\"");
        start += open.Length;
        int end = markdown.IndexOf("\n```", start - 1, StringComparison.Ordinal);
        Assert.True(end > start, $"{file}: the ```csharp block after \"{marker}\" is not closed");
        return markdown[start..(end + 1)];
    }

    private static Match Line(Regex pattern, string output, string context)
    {
        var match = pattern.Match(output);
        Assert.True(match.Success, $"no line matching {pattern}{context}");
        return match;
    }

    // The program prints with the current culture, as the test parses (both inherit it from the environment).
    private static void AssertClose(string name, double expected, string text, string context)
    {
        Assert.True(double.TryParse(text, NumberStyles.Float, CultureInfo.CurrentCulture, out double actual),
            $"{name} = \"{text}\" is not a number{context}");
        Assert.True(Math.Abs(actual - expected) <= Tolerance * Math.Max(1, Math.Abs(expected)),
            $"{name} = {actual:R}, float64 formula gives {expected:R}{context}");
    }

    [GeneratedRegex(@"^train y\[0\] = (?<y>\S+) runningMean\[0\] = (?<rm>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex TrainLine();

    [GeneratedRegex(@"^infer y\[0\] = (?<y>\S+) path = (?<path>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex InferLine();

    [GeneratedRegex(@"^layer y\[7\] = (?<y>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex LayerLine();

    [GeneratedRegex(@"\b(warning|error) [A-Z]{2,}\d+")]
    private static partial Regex WarningOrError();
}
