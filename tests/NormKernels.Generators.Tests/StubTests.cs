using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;

namespace NormKernels.Generators.Tests;

/// <summary>
/// A declaration with errors in its arguments gets exactly one NK error, at the argument, and a stub of the layer's surface
/// whose members throw: code that uses the layer compiles, so the mistake is not buried under CS1729/CS1061 errors at every
/// use site. The same with analyzers on and off (<c>-p:RunAnalyzers=false</c>): the generators report their own diagnostics.
/// </summary>
public sealed class StubTests
{
    /// <summary>Uses of a BatchNorm NCHW layer named Norm: the constructor, Forward, Backward, properties, the static kernels, the interface.</summary>
    private const string BatchNormUses = """
        public static class Uses
        {
            public static float Run()
            {
                var layer = new Norm(8);
                var x = new float[2 * 8 * 3 * 3];
                var y = new float[x.Length];
                layer.Training = true;
                layer.Forward(x, y, 2, 8, 3, 3);
                layer.Backward(x, y, x, 2, 8, 3, 3);
                layer.Momentum = 0.2f;
                var mean = new float[8];
                var variance = new float[8];
                Norm.ForwardTraining(x, y, 2, 8, 3, 3, layer.Weight, layer.Bias, mean, variance, 1e-5f);
                INormalizationLayer asInterface = layer;
                asInterface.ZeroGrad();
                return layer.RunningMean[0] + layer.RunningVar[0] + layer.Epsilon + layer.BiasGrad[0] + Norm.StatisticCount(2, 8, 3, 3);
            }
        }
        """;

    private const string LrnUses = """
        public static class Uses
        {
            public static double Run()
            {
                var layer = new Lrn();
                var x = new float[2 * 8 * 3 * 3];
                var y = new float[x.Length];
                layer.Forward(x, y, 2, 8, 3, 3);
                layer.Backward(x, y, x, 2, 8, 3, 3);
                Lrn.ForwardKernel(x, y, 2, 8, 3, 3);
                return layer.Size + layer.Alpha + layer.Beta + layer.K;
            }
        }
        """;

    /// <summary>
    /// Builds <paramref name="markup"/> with analyzers on and off: the marked NK diagnostics, and not one compiler error or
    /// warning besides (generated code included).
    /// </summary>
    private static async Task AssertOnlyTheMarkedDiagnostics(string markup)
    {
        foreach (bool analyzers in new[] { true, false })
        {
            await new BuildTest { TestCode = "using NormKernels;\n" + markup, RunAnalyzers = analyzers, CompilerDiagnostics = CompilerDiagnostics.Warnings }
                .RunAsync();
        }
    }

    [Theory]
    [InlineData("[Normalize(Axes = \"N,H,W\", Momentum = {|NK0016:2.0|})]")]                                 // a value out of range
    [InlineData("[Normalize(Axes = \"N,H,W\", Groups = {|NK0010:4|})]")]                                       // Groups on a BatchNorm
    [InlineData("[Normalize(Axes = \"N,H,W\", Epsilon = {|NK0015:-1|}, ElementType = {|NK0021:typeof(int)|})]")] // two mistakes, two errors
    [InlineData("[Normalize(Layout = \"NCHW\", Axes = {|NK0007:\"N,H,Q\"|})]")]                               // a letter not in the layout
    [InlineData("[Normalize(Layout = {|NK0003:\"NcHW\"|}, Axes = \"N,H,W\")]")]                               // a lower-case letter
    public async Task InvalidNormalize_WithUseSites_IsItsNkErrorsOnly(string attribute)
    {
        await AssertOnlyTheMarkedDiagnostics(attribute + "\npublic sealed partial class Norm;\n" + BatchNormUses);
    }

    [Theory]
    [InlineData("[LocalResponseNormalize(Size = {|NK0023:0|})]")]
    [InlineData("[LocalResponseNormalize(Layout = {|NK0022:\"NHW\"|})]")]   // C is added back where the user most likely meant it
    [InlineData("[LocalResponseNormalize(Alpha = {|NK0024:double.NaN|}, K = {|NK0025:-1|})]")]
    public async Task InvalidLrn_WithUseSites_IsItsNkDiagnosticsOnly(string attribute)
    {
        await AssertOnlyTheMarkedDiagnostics(attribute + "\npublic sealed partial class Lrn;\n" + LrnUses);
    }

    [Fact]
    public async Task WithoutTheStub_TheUseSitesWouldCascade()
    {
        // The same uses against a class the generator cannot extend (not partial): the NK error, then the compiler's cascade
        // (left out of the comparison with the markup, and looked for in the build's output).
        var build = new BuildTest
        {
            TestCode = "using NormKernels;\n[Normalize(Axes = \"N,H,W\")]\npublic sealed class {|NK0001:Norm|} { }\n" + BatchNormUses,
            RunAnalyzers = false,
            CompilerDiagnostics = CompilerDiagnostics.None,
        };
        await build.RunAsync();
        var errors = build.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).ToList();
        Assert.Contains("CS1729", errors);
        Assert.Contains("CS1061", errors);
    }

    /// <summary>The public surface of a type: its interfaces and each visible member's signature, sorted.</summary>
    private static List<string> Surface(Compilation compilation, string name)
    {
        INamedTypeSymbol type = compilation.GetTypeByMetadataName(name)!;
        return type.AllInterfaces.Select(i => "implements " + i.ToDisplayString())
            .Concat(type.GetMembers()
                .Where(m => m.DeclaredAccessibility == Accessibility.Public || m is IMethodSymbol { ExplicitInterfaceImplementations.Length: > 0 } || m is IPropertySymbol { ExplicitInterfaceImplementations.Length: > 0 })
                .Where(m => !m.IsImplicitlyDeclared)
                .Select(m => m.Kind + " " + m.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    [Theory]
    [InlineData("Axes = \"N,H,W\"", "Axes = \"N,H,W\", Momentum = 2.0")]
    [InlineData("Layout = \"NHWC\", Axes = \"N,H,W\"", "Layout = \"NHWC\", Axes = \"N,H,W\", Groups = 32")]
    [InlineData("Layout = \"NTC\", Axes = \"C\", Kind = NormKind.RootMeanSquare", "Layout = \"NTC\", Axes = \"C\", Kind = NormKind.RootMeanSquare, Epsilon = 0")]
    [InlineData("Axes = \"C,H,W\", Groups = 4", "Axes = \"C,H,W\", Groups = 4, ElementType = typeof(decimal)")]
    public void Stub_HasTheSurfaceOfTheNearestValidLayer_AndNothingElse(string valid, string invalid)
    {
        Compilation Generate(string arguments) => GeneratorHelper.Run(
            $"using NormKernels;\nnamespace Layers;\n[Normalize({arguments})]\npublic sealed partial class Norm;\n").Output;

        Compilation layer = Generate(valid);
        Compilation stub = Generate(invalid);
        Assert.Equal(Surface(layer, "Layers.Norm"), Surface(stub, "Layers.Norm"));
        Assert.Contains(Surface(stub, "Layers.Norm"), m => m.StartsWith("Method Layers.Norm.Forward(System.ReadOnlySpan<float>, System.Span<float>, int, int", StringComparison.Ordinal));

        // Nothing private: no field, no helper, no nested type.
        INamedTypeSymbol type = stub.GetTypeByMetadataName("Layers.Norm")!;
        Assert.Empty(type.GetMembers().Where(m => !m.IsImplicitlyDeclared && m.DeclaredAccessibility == Accessibility.Private &&
            m is not IMethodSymbol { ExplicitInterfaceImplementations.Length: > 0 } && m is not IPropertySymbol { ExplicitInterfaceImplementations.Length: > 0 }
            && m is not IMethodSymbol { AssociatedSymbol: not null }));
        Assert.Empty(type.GetTypeMembers());
    }

    [Fact]
    public void Stub_Throws_NamingTheErrors_WhenUsed()
    {
        GeneratorRun run = GeneratorHelper.Run(
            "using NormKernels;\nnamespace Layers;\n[Normalize(Axes = \"N,H,W\", Momentum = 2.0, Epsilon = 0)]\npublic sealed partial class Norm;\n");
        string stub = Assert.Single(run.Sources).Value;
        Assert.Contains("has errors (NK0015, NK0016)", stub, StringComparison.Ordinal);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the stub");

        var context = new AssemblyLoadContext("Stub", isCollectible: true);
        try
        {
            using var image = new MemoryStream();
            Assert.True(run.Output.Emit(image).Success);
            image.Position = 0;
            Type type = context.LoadFromStream(image).GetType("Layers.Norm", throwOnError: true)!;
            var thrown = Assert.Throws<TargetInvocationException>(() => Activator.CreateInstance(type, 8, 1e-5f, 0.1f));
            var inner = Assert.IsType<InvalidOperationException>(thrown.InnerException);
            Assert.Equal("NormKernels: this layer's declaration has errors (NK0015, NK0016); see the build output.", inner.Message);
            var statisticCount = type.GetMethod("StatisticCount", new[] { typeof(int), typeof(int), typeof(int), typeof(int) })!;
            thrown = Assert.Throws<TargetInvocationException>(() => statisticCount.Invoke(null, new object[] { 2, 8, 3, 3 }));
            Assert.IsType<InvalidOperationException>(thrown.InnerException);
        }
        finally
        {
            context.Unload();
        }
    }

    [Theory]
    [InlineData("NK0026", "[Normalize(Axes = \"N,H,W\")]\npublic sealed partial class {|NK0026:Weight|};")]                          // named like a member
    [InlineData("NK0016", "[Normalize(Axes = \"N,H,W\", Momentum = {|NK0016:2.0|})]\npublic sealed partial class Norm { public Norm(int c, float e, float? m) { } }")] // the stub's constructor would collide
    [InlineData("NK0001|NK0016", "[Normalize(Axes = \"N,H,W\", Momentum = {|NK0016:2.0|})]\npublic sealed class {|NK0001:Norm|} { }")]        // cannot be extended
    public async Task NoStub_WhereItWouldCollide_OrCannotBeAdded(string ids, string markup)
    {
        var build = new BuildTest { TestCode = "using NormKernels;\n" + markup, RunAnalyzers = false };
        await build.RunAsync();
        Assert.Equal(ids.Split('|'), build.Reported.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.Empty(build.Generated);
    }

    [Fact]
    public void MovingADeclarationWithErrors_ReReportsItsDiagnostics_WithoutReEmittingItsStub()
    {
        const string source = "using NormKernels;\nnamespace Layers;\n[Normalize(Axes = \"N,H,W\", Momentum = 2.0)]\npublic sealed partial class Norm;\n";
        Compilation first = GeneratorHelper.Compile(source);
        GeneratorDriver driver = GeneratorHelper.CreateDriver(trackSteps: true).RunGenerators(first);
        Diagnostic before = Assert.Single(driver.GetRunResult().Diagnostics);

        SyntaxTree tree = first.SyntaxTrees.Single();
        Compilation moved = first.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("// a line above\n" + source)));
        GeneratorRunResult result = driver.RunGenerators(moved).GetRunResult().Results.Single();
        Diagnostic after = Assert.Single(result.Diagnostics);
        Assert.Equal(before.Location.GetLineSpan().StartLinePosition.Line + 1, after.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal("2.0", after.Location.SourceTree!.GetText().ToString(after.Location.SourceSpan));

        var plan = Assert.Single(IncrementalTests.Outputs(result, TrackingNames.Plan));
        Assert.Equal(IncrementalStepRunReason.Unchanged, plan.Reason);
        // Two source outputs: the stub's (a source, no diagnostic) and the diagnostics' (no source).
        var stubOutput = Assert.Single(result.TrackedOutputSteps[WellKnownGeneratorOutputs.SourceOutput].SelectMany(s => s.Outputs),
            o => ((System.Collections.IEnumerable)((System.Runtime.CompilerServices.ITuple)o.Value)[0]!).Cast<object>().Any());
        Assert.Contains(stubOutput.Reason, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged });
    }
}
