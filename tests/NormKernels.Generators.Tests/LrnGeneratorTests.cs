using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// LocalResponseNormalizeGenerator through CSharpGeneratorDriver: one file per layer that compiles with no diagnostic at
/// warning level 9999 (nullable on, documentation diagnosed), nothing for declarations the analyzer reports, caching of
/// the parse step (ModelWalkTests walks its models); and the diagnostics it reports.
/// </summary>
public sealed class LrnGeneratorTests
{
    private static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            new[] { new LocalResponseNormalizeGenerator().AsSourceGenerator() },
            parseOptions: GeneratorHelper.ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    private static GeneratorRun Run(params string[] sources) => GeneratorHelper.Run(GeneratorHelper.Compile(sources), CreateDriver());

    private static string Layer(string arguments, string name = "Lrn") => $$"""
        using NormKernels;

        namespace Layers;

        /// <summary>An LRN layer.</summary>
        [LocalResponseNormalize({{arguments}})]
        public sealed partial class {{name}};
        """;

    public static TheoryData<string> Declarations => new()
    {
        "",
        "Layout = \"NHWC\"",
        "Layout = \"NCL\", Size = 2, Beta = 0.5",
        "Layout = \"NLC\", Size = 4, Beta = 1.0",
        "Layout = \"CHW\", Size = 3, Beta = 0.6, K = 2.0",
        "Layout = \"NCDHW\", Size = 1, Beta = 0.0",
        "Layout = \"NDHWC\", Alpha = 1e-3, ElementType = typeof(double)",
        "Layout = \"NC\", Beta = 1.7, ElementType = typeof(double)",
        "K = 0.0",   // a warning only: still generated
        "Layout = \"C\"",
        "Layout = \"CN\", Size = int.MaxValue, Alpha = -1.0, Beta = -0.5",
        "Beta = 1e300",   // beyond float range: the float kernel's exponent is -infinity, and it still compiles
        "Layout = \"NWC\", Size = 9, Beta = 0.3",    // channels-last rows kernel (widest direct window), exp/log power
        "Layout = \"NWC\", Size = 10, Beta = 0.3",   // one wider: channels-last keeps the transposed tiles only
    };

    [Theory, MemberData(nameof(Declarations))]
    public void Declaration_GeneratesOneFile_ThatCompilesWithoutAnyDiagnostic(string arguments)
    {
        GeneratorRun run = Run(Layer(arguments));
        // K = 0 is the one warning (NK0025), which the generator reports itself; nothing else is reported.
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics.Where(d => !(arguments == "K = 0.0" && d.Id == "NK0025")), "generator diagnostics for " + arguments);
        Assert.Equal(arguments == "K = 0.0" ? 1 : 0, run.GeneratorDiagnostics.Length);
        Assert.Equal(new[] { "Layers.Lrn.LocalResponseNormalize.g.cs" }, run.Sources.Keys);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the output for " + arguments);
    }

    [Fact]
    public void NestedKeywordNamedLayer_Compiles_AndRuns()
    {
        const string source = """
            using NormKernels;

            namespace Layers;

            /// <summary>Outer.</summary>
            public static partial class Outer
            {
                /// <summary>A layer named by a keyword.</summary>
                [LocalResponseNormalize(Layout = "NHWC", Size = 3, Alpha = 0.5)]
                public sealed partial class @event;
            }
            """;
        GeneratorRun run = Run(source);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator");
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compile");

        using var image = new MemoryStream();
        Assert.True(run.Output.Emit(image).Success);
        var context = new AssemblyLoadContext("LrnGeneratorTests", isCollectible: true);
        try
        {
            image.Position = 0;
            Type type = context.LoadFromStream(image).GetType("Layers.Outer+event", throwOnError: true)!;
            object layer = Activator.CreateInstance(type)!;
            Assert.Equal(3, type.GetProperty("Size")!.GetValue(layer));
            Assert.Equal(0.5, type.GetProperty("Alpha")!.GetValue(layer));
            Assert.Equal(KernelPath.None, type.GetProperty("LastPath")!.GetValue(layer));
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>An invalid declaration: its one NK error from the generator, and a stub of the layer's surface that compiles
    /// without any diagnostic at warning level 9999 (documentation diagnosed).</summary>
    [Theory]
    [InlineData("Layout = \"NHW\"", "NK0022")]
    [InlineData("Layout = \"NCC\"", "NK0004")]
    [InlineData("Layout = \"\"", "NK0002")]
    [InlineData("Size = 0", "NK0023")]
    [InlineData("Alpha = double.NaN", "NK0024")]
    [InlineData("K = double.PositiveInfinity", "NK0024")]
    [InlineData("ElementType = typeof(int)", "NK0021")]
    public void InvalidDeclaration_ReportsItsError_AndGeneratesAStubThatCompiles(string arguments, string id)
    {
        GeneratorRun run = Run(Layer(arguments));
        Assert.Equal(id, Assert.Single(run.GeneratorDiagnostics).Id);
        string stub = Assert.Single(run.Sources, s => s.Key == "Layers.Lrn.LocalResponseNormalize.g.cs").Value;
        Assert.Contains("throw new global::System.InvalidOperationException(\"NormKernels: this layer's declaration has errors (" + id + "); see the build output.\")", stub, StringComparison.Ordinal);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the stub for " + arguments);
    }

    [Fact]
    public void HalfElementType_GeneratesAHalfSurfaceOnTheFloatKernelsThatCompiles()
    {
        GeneratorRun run = Run(Layer("ElementType = typeof(System.Half)"));
        Assert.Empty(run.GeneratorDiagnostics);
        string source = Assert.Single(run.Sources, s => s.Key == "Layers.Lrn.LocalResponseNormalize.g.cs").Value;
        Assert.Contains("HalfLrnKernels<Window>", source);
        Assert.Contains("ReadOnlySpan<Half> input", source);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the Half layer");
    }

    [Fact]
    public void NotPartial_IsNK0001_AndGeneratesNothing()
    {
        GeneratorRun run = Run("using NormKernels;\n[LocalResponseNormalize] public sealed class Lrn { }\n");
        Assert.Equal("NK0001", Assert.Single(run.GeneratorDiagnostics).Id);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void UnrelatedEdit_ReusesTheParseStepAndTheOutput()
    {
        string layer = Layer("Layout = \"NHWC\"");
        const string unrelated = "namespace Other;\n/// <summary>U.</summary>\npublic static class U { /// <summary>A.</summary>\npublic static int A() => 1; }\n";
        Compilation first = GeneratorHelper.Compile(layer, unrelated);
        GeneratorDriver driver = CreateDriver(trackSteps: true).RunGenerators(first);
        var initial = IncrementalTests.Outputs(driver.GetRunResult().Results.Single(), TrackingNames.LrnParse);
        Assert.Equal(IncrementalStepRunReason.New, Assert.Single(initial).Reason);

        SyntaxTree old = first.SyntaxTrees.Single(t => t.GetText().ToString() == unrelated);
        Compilation edited = first.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(unrelated.Replace("=> 1;", "=> 2;"))));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        var parse = Assert.Single(IncrementalTests.Outputs(second, TrackingNames.LrnParse));
        Assert.Equal(IncrementalStepRunReason.Cached, parse.Reason);
        var output = Assert.Single(second.TrackedOutputSteps[WellKnownGeneratorOutputs.SourceOutput].SelectMany(s => s.Outputs));
        Assert.Equal(IncrementalStepRunReason.Cached, output.Reason);

        // Changing Size re-parses to a different model.
        SyntaxTree layerTree = first.SyntaxTrees.Single(t => t.GetText().ToString() == layer);
        Compilation resized = first.ReplaceSyntaxTree(layerTree, layerTree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(Layer("Layout = \"NHWC\", Size = 3"))));
        var redone = Assert.Single(IncrementalTests.Outputs(driver.RunGenerators(resized).GetRunResult().Results.Single(), TrackingNames.LrnParse));
        Assert.Equal(IncrementalStepRunReason.Modified, redone.Reason);
    }
}

/// <summary>The diagnostics of [LocalResponseNormalize], which LocalResponseNormalizeGenerator reports itself: every id with the exact span it is reported at (markup as in AnalyzerTests).</summary>
public sealed class LrnAnalyzerTests
{
    private static async Task<ImmutableArray<Diagnostic>> VerifyAsync(string markup) =>
        (await BuildTest.RunAsync(markup, typeof(LocalResponseNormalizeGenerator))).Reported;

    private static string Layer(string arguments) => $$"""
        using NormKernels;

        [LocalResponseNormalize({{arguments}})]
        public sealed partial class Lrn;
        """;

    [Theory]
    [InlineData("")]
    [InlineData("Layout = \"NHWC\", Size = 1, Alpha = 0, Beta = 0, K = 2")]
    [InlineData("Layout = \"C\", Size = 100, Alpha = -1.0, Beta = -0.5, ElementType = typeof(double)")]
    public async Task ValidDeclaration_ReportsNothing(string arguments) => Assert.Empty(await VerifyAsync(Layer(arguments)));

    [Fact]
    public async Task NormalizeDeclarations_AreNotThisAnalyzersBusiness() =>
        Assert.Empty(await VerifyAsync("using NormKernels;\n[Normalize(Layout = \"NHW\", Axes = \"H\")] public sealed partial class Ln;\n"));

    [Fact]
    public async Task NK0022_LayoutWithoutChannel_AtTheLayout()
    {
        var d = await VerifyAsync(Layer("Layout = {|NK0022:\"NHW\"|}"));
        Assert.Contains("\"NHW\"", d.Single().GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task LayoutLetters_ReuseNK0003AndNK0004()
    {
        await VerifyAsync(Layer("Layout = {|NK0003:\"NC-HW\"|}"));
        await VerifyAsync(Layer("Layout = {|NK0004:\"NCCHW\"|}"));
    }

    [Fact]
    public async Task EmptyLayout_IsNK0002() => await VerifyAsync(Layer("Layout = {|NK0002:\"\"|}"));

    [Fact]
    public async Task NK0023_SizeNotPositive_AtTheSize() => await VerifyAsync(Layer("Size = {|NK0023:-2|}"));

    [Fact]
    public async Task NK0024_NotFinite_AtEachArgument()
    {
        var d = await VerifyAsync(Layer("Alpha = {|NK0024:double.NaN|}, Beta = {|NK0024:double.PositiveInfinity|}, K = {|NK0024:1.0 / 0.0|}"));
        Assert.Equal(new[] { "Alpha is NaN; expected a finite number", "Beta is ∞; expected a finite number", "K is ∞; expected a finite number" }
            .Select(m => m.Replace("∞", double.PositiveInfinity.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)),
            d.Select(x => x.GetMessage(CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task NK0025_KNotPositive_IsAWarning()
    {
        var d = await VerifyAsync(Layer("K = {|NK0025:-1.0|}"));
        Assert.Equal(DiagnosticSeverity.Warning, d.Single().Severity);
    }

    [Fact]
    public async Task TypeShape_ReusesNK0001AndNK0019AndNK0021()
    {
        await VerifyAsync("using NormKernels;\n[LocalResponseNormalize] public sealed class {|NK0001:Lrn|} { }\n");
        await VerifyAsync("using NormKernels;\n[LocalResponseNormalize] public abstract partial class {|NK0019:Lrn|} { }\n");
        await VerifyAsync(Layer("ElementType = {|NK0021:typeof(int)|}"));
    }

    [Fact]
    public void Descriptors_HaveHelpLinks_AndTheLrnIdsAreNK0022ToNK0025_WithNK0025AWarning()
    {
        var descriptors = AnalyzerTests.Descriptors();
        var lrn = descriptors.Where(d => d.Title.ToString(CultureInfo.InvariantCulture).StartsWith("[LocalResponseNormalize]", StringComparison.Ordinal));
        Assert.Equal(new[] { "NK0022", "NK0023", "NK0024", "NK0025" }, lrn.Select(d => d.Id));
        Assert.All(descriptors, d => Assert.Equal("https://github.com/normkernels/normkernels/blob/main/docs/diagnostics.md#" + d.Id.ToLowerInvariant(), d.HelpLinkUri));
        Assert.Equal(DiagnosticSeverity.Warning, descriptors.Single(d => d.Id == "NK0025").DefaultSeverity);
        Assert.All(descriptors.Where(d => d.Id != "NK0025"), d => Assert.Equal(DiagnosticSeverity.Error, d.DefaultSeverity));
    }

    [Theory]
    [InlineData("NK0022")]
    [InlineData("NK0023")]
    [InlineData("NK0024")]
    [InlineData("NK0025")]
    public async Task Documentation_WrongExampleReportsItsId_CorrectedExampleReportsNothing(string id)
    {
        string? root = AppContext.BaseDirectory;
        while (root != null && !File.Exists(Path.Combine(root, "NormKernels.sln"))) root = Path.GetDirectoryName(root);
        string docs = File.ReadAllText(Path.Combine(root!, "docs", "diagnostics.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains("[" + id + "](#" + id.ToLowerInvariant() + ")", docs, StringComparison.Ordinal);
        int start = docs.IndexOf("\n## " + id + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0);
        int end = docs.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = docs[start..end];
        var blocks = section.Split("```csharp\n").Skip(1).Select(b => b[..b.IndexOf("```", StringComparison.Ordinal)]).ToList();
        Assert.Equal(2, blocks.Count);

        var wrong = await GeneratorHelper.BuildAsync("using NormKernels;\n" + blocks[0]);
        Assert.Equal(new[] { id }, wrong.Nk.Select(d => d.Id).Distinct());
        var corrected = await GeneratorHelper.BuildAsync("using NormKernels;\n" + blocks[1]);
        Assert.Empty(corrected.Errors);
        Assert.Empty(corrected.Nk);
    }
}
