using System.Globalization;
using System.Text.RegularExpressions;

namespace NormKernels.Package.Tests;

/// <summary>
/// A new user's path: a fresh console project outside the repository references the package (and
/// nothing of the repository), declares a layer, builds, runs; a mistake in the attribute fails the
/// build with its NK id, and with nothing else, analyzers on or off.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed partial class ConsumerTests(PackageFixture package)
{
    // The consumer's tensor and parameters; the test recomputes everything from these in float64.
    private const int N = 2, C = 3, H = 3, W = 5;
    private const double Epsilon = 1e-5, Momentum = 0.1;   // the attribute's defaults
    private const double Tolerance = 1e-5;

    private static double Input(int i) => ((i * 37) % 101) / 16.0 - 3.0;   // exact in float32 too
    private static double Gamma(int c) => 1.0 + 0.25 * c;
    private static double OutputGrad(int i) => ((i * 13) % 29) / 8.0 - 1.75;   // exact in float32 too
    private static double Beta(int c) => 0.5 * c - 0.25;

    private const string Program = """
        using System.Globalization;
        using NormKernels;

        // Training Forward of a BatchNorm over an NCHW tensor, then inference with the running
        // statistics; every number is printed round-trippable in the invariant culture.
        const int n = 2, c = 3, h = 3, w = 5;
        var x = new float[n * c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = ((i * 37) % 101) / 16f - 3f;

        var bn = new Bn(channels: c);
        for (int k = 0; k < c; k++) { bn.Weight[k] = 1f + 0.25f * k; bn.Bias[k] = 0.5f * k - 0.25f; }

        var y = new float[x.Length];
        bn.Forward(x, y, n, c, h, w);
        Console.WriteLine("path " + bn.LastPath);
        Print("y", y);
        Print("mean", bn.BatchMean);
        Print("var", bn.BatchVariance);
        Print("running_mean", bn.RunningMean);
        Print("running_var", bn.RunningVar);

        // Backward of that training Forward for an upstream gradient dy.
        var dy = new float[x.Length];
        for (int i = 0; i < dy.Length; i++) dy[i] = ((i * 13) % 29) / 8f - 1.75f;
        var dx = new float[x.Length];
        bn.Backward(x, dy, dx, n, c, h, w);
        Print("dx", dx);
        Print("dgamma", bn.WeightGrad);
        Print("dbeta", bn.BiasGrad);

        bn.Training = false;
        var z = new float[x.Length];
        bn.Forward(x, z, n, c, h, w);
        Print("z", z);

        static void Print(string name, ReadOnlySpan<float> values)
        {
            for (int i = 0; i < values.Length; i++)
                Console.WriteLine(name + " " + i.ToString(CultureInfo.InvariantCulture) + " " + values[i].ToString("R", CultureInfo.InvariantCulture));
        }

        [Normalize(Layout = "NCHW", Axes = "N,H,W")]
        public sealed partial class Bn;
        """;

    [Fact]
    public async Task Fresh_project_builds_against_the_package_and_its_BatchNorm_matches_float64()
    {
        package.RequirePackage();
        Assert.False(IsInside(package.WorkRoot, package.RepoRoot), $"{package.WorkRoot} is inside the repository");
        string dir = package.CreateConsumer("BnApp", Program);

        var build = await Dotnet.RunAsync(dir, PackageFixture.ChildTimeout, "build", "-c", "Release", "--disable-build-servers");
        Assert.True(build.ExitCode == 0, "the consumer did not build:\n" + build);
        Assert.False(WarningOrError().IsMatch(build.Output), "the consumer built with warnings:\n" + build);
        string restored = Path.Combine(package.WorkRoot, "packages", "normkernels", package.Version.ToLowerInvariant());
        Assert.True(Directory.Exists(restored), $"NormKernels {package.Version} was not restored into {restored}:\n{build}");

        var run = await Dotnet.RunAsync(dir, PackageFixture.ChildTimeout, "run", "-c", "Release", "--no-build");
        Assert.True(run.ExitCode == 0, "the consumer failed:\n" + run);
        var printed = Parse(run.Output);
        string context = "\n" + run;

        Assert.True(printed.TryGetValue("path", out var path) && Enum.GetNames<KernelPathName>().Contains(path[0].Text),
            "no valid LastPath printed" + context);

        // float64 reference from the formula: per channel, biased variance over n, h, w.
        int m = N * H * W;
        var x = Enumerable.Range(0, N * C * H * W).Select(Input).ToArray();
        var mean = new double[C];
        var variance = new double[C];
        for (int c = 0; c < C; c++)
        {
            double sum = 0, squares = 0;
            foreach (int i in Indices(c)) sum += x[i];
            mean[c] = sum / m;
            foreach (int i in Indices(c)) squares += (x[i] - mean[c]) * (x[i] - mean[c]);
            variance[c] = squares / m;
        }
        var y = new double[x.Length];
        var z = new double[x.Length];
        var runningMean = new double[C];
        var runningVar = new double[C];
        for (int c = 0; c < C; c++)
        {
            runningMean[c] = (1 - Momentum) * 0.0 + Momentum * mean[c];
            runningVar[c] = (1 - Momentum) * 1.0 + Momentum * variance[c] * m / (m - 1);
            foreach (int i in Indices(c))
            {
                y[i] = (x[i] - mean[c]) / Math.Sqrt(variance[c] + Epsilon) * Gamma(c) + Beta(c);
                z[i] = (x[i] - runningMean[c]) / Math.Sqrt(runningVar[c] + Epsilon) * Gamma(c) + Beta(c);
            }
        }

        AssertClose("y", y, printed, context);
        AssertClose("mean", mean, printed, context);
        AssertClose("var", variance, printed, context);
        AssertClose("running_mean", runningMean, printed, context);
        AssertClose("running_var", runningVar, printed, context);
        AssertClose("z", z, printed, context);

        // The backward, from the chain rule: dx = r * (g*dy - mean(g*dy) - xhat * mean(g*dy*xhat)) per channel.
        var dx = new double[x.Length];
        var dgamma = new double[C];
        var dbeta = new double[C];
        for (int c = 0; c < C; c++)
        {
            double r = 1 / Math.Sqrt(variance[c] + Epsilon), meanG = 0, meanGx = 0;
            foreach (int i in Indices(c))
            {
                double xhat = (x[i] - mean[c]) * r, dy = OutputGrad(i);
                meanG += Gamma(c) * dy / m;
                meanGx += Gamma(c) * dy * xhat / m;
                dgamma[c] += dy * xhat;
                dbeta[c] += dy;
            }
            foreach (int i in Indices(c))
                dx[i] = r * (Gamma(c) * OutputGrad(i) - meanG - (x[i] - mean[c]) * r * meanGx);
        }
        AssertClose("dx", dx, printed, context);
        AssertClose("dgamma", dgamma, printed, context);
        AssertClose("dbeta", dbeta, printed, context);
    }

    [Fact]
    public async Task Fresh_project_with_an_axis_not_in_the_layout_fails_to_build_with_NK0007()
    {
        package.RequirePackage();
        string dir = package.CreateConsumer("BrokenApp", """
            using NormKernels;

            Console.WriteLine(new Bn(3).Epsilon);        // a use site: the stub the generator emits keeps it compiling

            [Normalize(Layout = "NCHW", Axes = "N,Q")]   // Q is not a letter of NCHW
            public sealed partial class Bn;
            """);

        // The generator reports its own diagnostics: the same one error with analyzers off.
        foreach (string analyzers in new[] { "true", "false" })
        {
            var build = await Dotnet.RunAsync(dir, PackageFixture.ChildTimeout, "build", "-c", "Release", "--disable-build-servers", "-p:RunAnalyzers=" + analyzers);
            Assert.True(build.ExitCode != 0, "the build succeeded despite Axes = \"N,Q\":\n" + build);
            Assert.True(build.Output.Contains("error NK0007", StringComparison.Ordinal), "no NK0007 error:\n" + build);
            Assert.True(build.Output.Contains("Program.cs(5,", StringComparison.Ordinal), "NK0007 is not reported on the attribute's line:\n" + build);
            var errors = Regex.Matches(build.Output, @"error ([A-Z]+[0-9]+)").Select(m => m.Groups[1].Value).Distinct();
            Assert.True(errors.SequenceEqual(new[] { "NK0007" }), "errors besides NK0007 (RunAnalyzers=" + analyzers + "):\n" + build);
            foreach (string bad in new[] { "CS8784", "CS8785", "Exception:", "   at " })
                Assert.False(build.Output.Contains(bad, StringComparison.Ordinal), $"the output contains \"{bad}\":\n{build}");
        }
    }

    /// <summary>Names of NormKernels.KernelPath (this project references no repository code).</summary>
    private enum KernelPathName { Scalar, Vector128, Vector256, Vector512 }

    private static IEnumerable<int> Indices(int c)
    {
        for (int n = 0; n < N; n++)
            for (int i = 0; i < H * W; i++)
                yield return (n * C + c) * H * W + i;
    }

    private static Dictionary<string, List<(int Index, string Text)>> Parse(string output)
    {
        var printed = new Dictionary<string, List<(int, string)>>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            if (!printed.TryGetValue(parts[0], out var list)) printed[parts[0]] = list = new();
            if (parts.Length == 2) list.Add((0, parts[1]));
            else if (parts.Length == 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index)) list.Add((index, parts[2]));
        }
        return printed;
    }

    private static void AssertClose(string name, double[] expected, Dictionary<string, List<(int Index, string Text)>> printed, string context)
    {
        Assert.True(printed.TryGetValue(name, out var values), $"nothing printed for {name}{context}");
        Assert.True(values.Select(v => v.Index).SequenceEqual(Enumerable.Range(0, expected.Length)),
            $"{name}: expected indices 0..{expected.Length - 1}, got {values.Count} values{context}");
        foreach (var (index, text) in values)
        {
            Assert.True(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double actual),
                $"{name}[{index}] = \"{text}\" is not a number{context}");
            Assert.True(Math.Abs(actual - expected[index]) <= Tolerance,
                $"{name}[{index}] = {actual:R}, float64 formula gives {expected[index]:R} (|diff| {Math.Abs(actual - expected[index]):E2} > {Tolerance}){context}");
        }
    }

    private static bool IsInside(string path, string root)
    {
        string relative = Path.GetRelativePath(root, path);
        return relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }

    [GeneratedRegex(@"\b(warning|error) [A-Z]{2,}\d+")]
    private static partial Regex WarningOrError();
}
