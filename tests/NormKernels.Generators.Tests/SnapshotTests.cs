using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The generated source of five representative layers, compared exactly (line endings normalized to \n) with the files
/// committed under Snapshots/: a change of the emitter shows up as a diff of those files, and that diff is the review.
/// On a mismatch the test fails with a diff excerpt and writes what it got next to the expected file as
/// <c>*.received.cs</c> (git-ignored). After an intended change, regenerate every expected file with one command from the
/// repository root, then review <c>git diff tests/NormKernels.Generators.Tests/Snapshots</c>:
/// <code>
/// NORMKERNELS_UPDATE_SNAPSHOTS=1 dotnet test tests/NormKernels.Generators.Tests -c Release --filter "FullyQualifiedName~SnapshotTests"
/// </code>
/// (The files are read and written in the source tree, found from this file's compile-time path.)
/// </summary>
public sealed class SnapshotTests
{
    private const string UpdateVariable = "NORMKERNELS_UPDATE_SNAPSHOTS";

    /// <summary>Case name to the declaration; each is generated alone, so its snapshot depends on nothing else.</summary>
    private static readonly Dictionary<string, string> Declarations = new(StringComparer.Ordinal)
    {
        ["BatchNormNchwFloat"] = Layer("[Normalize(Layout = \"NCHW\", Axes = \"N,H,W\")]", "BatchNormNchw"),
        ["LayerNormNtcDouble"] = Layer("[Normalize(Layout = \"NTC\", Axes = \"C\", ElementType = typeof(double))]", "LayerNormNtc"),
        ["GroupNormNhwcFloat"] = Layer("[Normalize(Layout = \"NHWC\", Axes = \"C,H,W\", Groups = 4)]", "GroupNormNhwc"),
        ["LocalResponseNormNhwcFloat"] = Layer("[LocalResponseNormalize(Layout = \"NHWC\", Size = 5)]", "LrnNhwc"),
        // Fused epilogues (issue 12): the ResNet tail, and a pre-norm block with a compile-time size.
        ["BatchNormNhwcReluAfterFloat"] = Layer("[Normalize(Layout = \"NHWC\", Axes = \"N,H,W\", Activation = NormActivation.Relu, Residual = ResidualMode.AddAfterNorm)]", "BlockTail"),
        ["LayerNormNtcSizedBeforeFloat"] = Layer("[Normalize(Layout = \"NTC\", Axes = \"C\", Activation = NormActivation.GeluTanh, Residual = ResidualMode.AddBeforeNorm, Sizes = \"C=768\")]", "PreNorm"),
        ["WeightNormOihwFloat"] = Layer("[WeightNormalize(Layout = \"OIHW\", Axes = \"I,H,W\")]", "ConvWeightNorm"),
    };

    public static TheoryData<string> Cases => new(Declarations.Keys);

    private static string Layer(string attribute, string name) => $$"""
        using NormKernels;

        namespace Layers;

        /// <summary>Snapshot layer {{name}}.</summary>
        {{attribute}}
        public sealed partial class {{name}};
        """;

    private static string SnapshotDirectory([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "Snapshots");

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>The one file the generators produce for the declaration, with its hint name.</summary>
    private static (string HintName, string Text) Generate(string declaration)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator(), new WeightNormalizeGenerator().AsSourceGenerator() },
            parseOptions: GeneratorHelper.ParseOptions);
        GeneratorDriverRunResult run = driver.RunGenerators(GeneratorHelper.Compile(declaration)).GetRunResult();
        Assert.Empty(run.Diagnostics);
        GeneratedSourceResult source = Assert.Single(run.Results.SelectMany(r => r.GeneratedSources));
        return (source.HintName, Normalize(source.SourceText.ToString()));
    }

    [Theory, MemberData(nameof(Cases))]
    public void GeneratedSource_MatchesTheCommittedSnapshot(string name)
    {
        var (hintName, actual) = Generate(Declarations[name]);
        string directory = SnapshotDirectory();
        Assert.True(Directory.Exists(directory), "no snapshot directory " + directory + " (the tests read the source tree)");
        string expectedPath = Path.Combine(directory, hintName);
        string receivedPath = Path.ChangeExtension(expectedPath, ".received.cs");

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(expectedPath, actual, new UTF8Encoding(false));
            File.Delete(receivedPath);
            return;
        }

        string? expected = File.Exists(expectedPath) ? Normalize(File.ReadAllText(expectedPath)) : null;
        if (expected == actual)
        {
            File.Delete(receivedPath);
            return;
        }
        File.WriteAllText(receivedPath, actual, new UTF8Encoding(false));
        string why = expected is null
            ? "no snapshot " + expectedPath
            : "the generated source of " + name + " differs from " + expectedPath + ":\n" + DiffExcerpt(expected, actual);
        Assert.Fail(why + "\nWrote what was generated to " + receivedPath + ". If the change is intended, regenerate the snapshots: "
            + UpdateVariable + "=1 dotnet test tests/NormKernels.Generators.Tests -c Release --filter \"FullyQualifiedName~SnapshotTests\"");
    }

    /// <summary>Every committed snapshot belongs to a case (a renamed case must not leave its old file behind).</summary>
    [Fact]
    public void EverySnapshotFile_BelongsToACase()
    {
        var hintNames = Declarations.Values.Select(d => Generate(d).HintName).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Declarations.Count, hintNames.Count);
        var files = Directory.GetFiles(SnapshotDirectory(), "*.cs")
            .Select(f => Path.GetFileName(f))
            .Where(f => !f.EndsWith(".received.cs", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        if (Environment.GetEnvironmentVariable(UpdateVariable) != "1") Assert.Equal(hintNames.Order(StringComparer.Ordinal), files.Order(StringComparer.Ordinal));
        else Assert.Subset(hintNames, files);
    }

    /// <summary>The excerpt of a unified diff: the changed region (common leading and trailing lines cut) with 3 lines of context.</summary>
    internal static string DiffExcerpt(string expected, string actual, int maxLines = 40)
    {
        string[] a = expected.Split('\n');
        string[] b = actual.Split('\n');
        int prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix]) prefix++;
        int suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[a.Length - 1 - suffix] == b[b.Length - 1 - suffix]) suffix++;
        int start = Math.Max(0, prefix - 3);
        int endA = Math.Min(a.Length, a.Length - suffix + 3);
        int endB = Math.Min(b.Length, b.Length - suffix + 3);

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"--- expected ({a.Length} lines)\n+++ received ({b.Length} lines)\n");
        text.Append(CultureInfo.InvariantCulture, $"@@ -{start + 1},{endA - start} +{start + 1},{endB - start} @@\n");
        int written = 0;
        void Line(char mark, string line)
        {
            if (written++ < maxLines) text.Append(mark).Append(line).Append('\n');
        }
        for (int i = start; i < prefix; i++) Line(' ', a[i]);
        for (int i = prefix; i < a.Length - suffix; i++) Line('-', a[i]);
        for (int i = prefix; i < b.Length - suffix; i++) Line('+', b[i]);
        for (int i = a.Length - suffix; i < endA; i++) Line(' ', a[i]);
        if (written > maxLines) text.Append(CultureInfo.InvariantCulture, $"... {written - maxLines} more diff lines\n");
        return text.ToString();
    }

    [Fact]
    public void DiffExcerpt_ShowsTheChangedLinesWithContext()
    {
        const string expected = "a\nb\nc\nd\ne\nf\ng\nh\n";
        const string actual = "a\nb\nc\nd\nE\nE2\nf\ng\nh\n";
        Assert.Equal(
            "--- expected (9 lines)\n+++ received (10 lines)\n@@ -2,7 +2,8 @@\n b\n c\n d\n-e\n+E\n+E2\n f\n g\n h\n",
            DiffExcerpt(expected, actual));
        Assert.EndsWith("... 2 more diff lines\n", DiffExcerpt(expected, actual, maxLines: 7), StringComparison.Ordinal);
    }
}
