using System.Collections.Immutable;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;

namespace NormKernels.Generators.Tests;

/// <summary>
/// WeightNormalizeGenerator through CSharpGeneratorDriver: one file per layer that compiles with no diagnostic at warning
/// level 9999 (nullable on, documentation diagnosed); and the diagnostics it reports, each at its exact span (markup as in
/// AnalyzerTests), with a stub for a declaration with errors so that its use sites compile.
/// </summary>
public sealed class WeightNormGeneratorTests
{
    private static GeneratorRun Run(params string[] sources) => GeneratorHelper.Run(GeneratorHelper.Compile(sources),
        CSharpGeneratorDriver.Create(new[] { new WeightNormalizeGenerator().AsSourceGenerator() }, parseOptions: GeneratorHelper.ParseOptions));

    private static string Layer(string arguments, string name = "Wn") => $$"""
        using NormKernels;

        namespace Layers;

        /// <summary>A weight norm layer.</summary>
        [WeightNormalize({{arguments}})]
        public sealed partial class {{name}};
        """;

    public static TheoryData<string> Declarations => new()
    {
        "Axes = \"I,H,W\"",                                          // the default layout OIHW
        "Layout = \"OI\", Axes = \"I\"",
        "Layout = \"OI\", Axes = \"O\", ElementType = typeof(double)",
        "Layout = \"HWIO\", Axes = \"H, W, I\"",                      // spaces around the commas
        "Layout = \"OIDHW\", Axes = \"I,D,H,W\", ElementType = typeof(float)",
        "Layout = \"GVW\", Axes = \"V,W\"",                           // dims named gSize, vSize, wSize
        "Layout = \"ABCDEF\", Axes = \"B,D,F\"",
        "Layout = \"ZYXWVUTSRQPONMLKJIHGFEDCBA\", Axes = \"A\"",     // every letter, one reduced
    };

    [Theory, MemberData(nameof(Declarations))]
    public void Declaration_GeneratesOneFile_ThatCompilesWithoutAnyDiagnostic(string arguments)
    {
        GeneratorRun run = Run(Layer(arguments));
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics for " + arguments);
        Assert.Equal(new[] { "Layers.Wn.WeightNormalize.g.cs" }, run.Sources.Keys);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the output for " + arguments);
    }

    [Fact]
    public void GeneratedFile_HoldsTheLayoutFacts_AndForwardsToTheRuntime()
    {
        string source = Run(Layer("Layout = \"GVW\", Axes = \"V,W\"")).Sources.Values.Single();
        Assert.Contains("public static string Layout => \"GVW\";", source, StringComparison.Ordinal);
        Assert.Contains("public static int Reduced => 6; // V, W", source, StringComparison.Ordinal);
        Assert.Contains("private abstract class Kernels : Rt.WeightNormKernels<Nest, float>;", source, StringComparison.Ordinal);
        Assert.Contains("public void Forward(ReadOnlySpan<float> v, ReadOnlySpan<float> g, Span<float> w, int gSize, int vSize, int wSize) => " +
                        "LastPath = Kernels.Forward(v, g, w, [gSize, vSize, wSize]);", source, StringComparison.Ordinal);
        Assert.Contains("public static int NormCount(int gSize, int vSize, int wSize) => Kernels.NormCount([gSize, vSize, wSize]);", source, StringComparison.Ordinal);
        // No loop in the generated file: the runs are the runtime's.
        Assert.DoesNotContain("for (", source, StringComparison.Ordinal);
        // The test hooks only where the build asks for them.
        Assert.DoesNotContain("OnPath", source, StringComparison.Ordinal);
    }

    [Fact]
    public void NestedKeywordNamedLayer_Compiles()
    {
        const string source = """
            using NormKernels;

            namespace Layers;

            /// <summary>Outer.</summary>
            public static partial class Outer<T>
            {
                /// <summary>A layer named by a keyword.</summary>
                [WeightNormalize(Layout = "OI", Axes = "I")]
                public sealed partial class @event;
            }
            """;
        GeneratorRun run = Run(source);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics.Concat(run.Output.GetDiagnostics()), "nested keyword-named layer");
    }

    // ---- diagnostics at their spans ---------------------------------------------------------

    private static async Task<ImmutableArray<Diagnostic>> VerifyAsync(string markup) =>
        (await BuildTest.RunAsync("using NormKernels;\n" + markup)).Reported;

    private static string Declaration(string arguments) => "[WeightNormalize(" + arguments + ")]\npublic sealed partial class Wn;\n";

    [Fact]
    public async Task NK0033_EveryAxisReduced_AtTheAxes()
    {
        var d = await VerifyAsync(Declaration("Layout = \"OI\", Axes = {|NK0033:\"O,I\"|}"));
        Assert.Equal("Axes \"O,I\" reduce every letter of Layout \"OI\", so no axis is left to index g; expected at least one kept axis, such as " +
                     "Axes = \"I,H,W\" on \"OIHW\" (one norm per output channel, PyTorch's dim = 0)", d.Single().GetMessage(CultureInfo.InvariantCulture));
        await VerifyAsync(Declaration("Layout = \"W\", Axes = {|NK0033:\"W\"|}"));
    }

    [Fact]
    public async Task LayoutAndAxes_ReuseNK0002ToNK0008()
    {
        await VerifyAsync(Declaration("Layout = {|NK0002:\"\"|}, Axes = \"I\""));
        await VerifyAsync(Declaration("Layout = {|NK0003:\"OiHW\"|}, Axes = \"H,W\""));
        await VerifyAsync(Declaration("Layout = {|NK0004:\"OIHO\"|}, Axes = \"I,H\""));
    }

    [Fact]
    public async Task MissingAxes_IsNK0005_AtTheAttributeName() =>
        await VerifyAsync("[{|NK0005:WeightNormalize|}(Layout = \"OIHW\")]\npublic sealed partial class Wn;\n");

    [Fact]
    public async Task AxesTokens_AreNK0006ToNK0008()
    {
        await VerifyAsync(Declaration("Axes = {|NK0006:\"I,HW\"|}"));
        await VerifyAsync(Declaration("Axes = {|NK0007:\"I,Q\"|}"));
        await VerifyAsync(Declaration("Axes = {|NK0008:\"I,H,I\"|}"));
    }

    [Fact]
    public async Task TypeShape_ReusesNK0001AndNK0019AndNK0021()
    {
        await VerifyAsync("[WeightNormalize(Axes = \"I,H,W\")] public sealed class {|NK0001:Wn|} { }\n");
        await VerifyAsync("[WeightNormalize(Axes = \"I,H,W\")] public static partial class {|NK0019:Wn|} { }\n");
        await VerifyAsync(Declaration("Axes = \"I,H,W\", ElementType = {|NK0021:typeof(int)|}"));
        // Half storage is for activations; a weight normalization keeps float or double weights.
        await VerifyAsync(Declaration("Axes = \"I,H,W\", ElementType = {|NK0021:typeof(System.Half)|}"));
    }

    [Fact]
    public async Task Collisions_AreNK0026AndNK0029()
    {
        await VerifyAsync("[WeightNormalize(Axes = \"I,H,W\")] public sealed partial class {|NK0026:NormCount|};\n");
        await VerifyAsync("[WeightNormalize(Axes = \"I,H,W\")] public sealed partial class Wn { public static int {|NK0029:NormCount|}() => 0; }\n");
        await VerifyAsync("[WeightNormalize(Axes = \"I,H,W\")] public sealed partial class Wn { public {|NK0029:Wn|}() { } }\n");
    }

    /// <summary>Two or three layer attributes on one class are one mistake: one NK0030, at the last of them in the order
    /// [Normalize], [LocalResponseNormalize], [WeightNormalize], naming them all; nothing is generated.</summary>
    [Theory]
    [InlineData("[Normalize(Layout = \"NC\", Axes = \"N\")]", "", "[Normalize] and [WeightNormalize]")]
    [InlineData("[LocalResponseNormalize]", "", "[LocalResponseNormalize] and [WeightNormalize]")]
    [InlineData("[Normalize(Layout = \"NC\", Axes = \"N\")]", "[LocalResponseNormalize]", "[Normalize], [LocalResponseNormalize] and [WeightNormalize]")]
    public async Task WithAnotherLayerAttribute_IsOneNK0030(string first, string second, string listed)
    {
        foreach (string order in new[] { "first", "last" })
        {
            string weightNorm = "[{|NK0030:WeightNormalize|}(Axes = \"I,H,W\")]";
            string markup = order == "first"
                ? weightNorm + "\n" + first + "\n" + second + "\npublic sealed partial class Wn;\n"
                : first + "\n" + second + "\n" + weightNorm + "\npublic sealed partial class Wn;\n";
            BuildTest build = await BuildTest.RunAsync("using NormKernels;\n" + markup);
            Assert.Equal("'Wn' has " + listed + ", which would each add a constructor, Forward and Backward; expected one layer attribute per class",
                build.Reported.Single().GetMessage(CultureInfo.InvariantCulture));
            Assert.Empty(build.Generated);
        }
        // The class's other mistakes are reported once (by the first attribute's parser), never by two parsers.
        BuildTest withName = await BuildTest.RunAsync("using NormKernels;\n" + first + "\n" + second +
            "\n[{|NK0030:WeightNormalize|}(Axes = \"I,H,W\")]\npublic sealed partial class {|NK0026:Forward|};\n");
        Assert.Equal(new[] { "NK0026", "NK0030" }, withName.Reported.Select(d => d.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task NormalizeAndLrn_StillReportNK0030AtTheLrnAttribute()
    {
        BuildTest build = await BuildTest.RunAsync("using NormKernels;\n[Normalize(Layout = \"NC\", Axes = \"N\")]\n[{|NK0030:LocalResponseNormalize|}]\npublic sealed partial class Norm;\n");
        Assert.Equal("'Norm' has [Normalize] and [LocalResponseNormalize], which would each add a constructor, Forward and Backward; expected one layer attribute per class",
            build.Reported.Single().GetMessage(CultureInfo.InvariantCulture));
    }

    // ---- stubs ---------------------------------------------------------------------------------

    private const string Uses = """
        public static class Uses
        {
            public static int Run()
            {
                var layer = new Wn();
                var v = new float[4 * 3 * 2 * 2];
                var g = new float[4];
                layer.Forward(v, g, v, 4, 3, 2, 2);
                layer.Backward(v, g, v, v, g, 4, 3, 2, 2);
                return (int)layer.LastPath + Wn.NormCount(4, 3, 2, 2);
            }
        }
        """;

    /// <summary>A declaration with errors: exactly its NK errors (analyzers on and off), and a stub whose surface (the layout's
    /// dims) lets the use sites compile.</summary>
    [Theory]
    [InlineData("[WeightNormalize(Layout = \"OIHW\", Axes = {|NK0033:\"O,I,H,W\"|})]")]
    [InlineData("[WeightNormalize(Layout = \"OIHW\", Axes = {|NK0007:\"I,Q\"|})]")]
    [InlineData("[WeightNormalize(Layout = {|NK0003:\"OIhW\"|}, Axes = \"I,H,W\")]")]   // the layout's letters, upper-cased: still OIHW
    [InlineData("[WeightNormalize(Layout = \"OIHW\", Axes = \"I,H,W\", ElementType = {|NK0021:typeof(int)|})]")]
    public async Task InvalidDeclaration_WithUseSites_IsItsNkErrorsOnly(string attribute)
    {
        foreach (bool analyzers in new[] { true, false })
        {
            var test = new BuildTest { TestCode = "using NormKernels;\n" + attribute + "\npublic sealed partial class Wn;\n" + Uses, RunAnalyzers = analyzers,
                CompilerDiagnostics = CompilerDiagnostics.Warnings };
            await test.RunAsync();
            Assert.Contains(test.Generated, t => t.GetText().ToString().Contains("every member throws", StringComparison.Ordinal));
        }
    }
}
