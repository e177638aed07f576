using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Declarations the analyzer accepts must generate code that compiles and works: a bad declaration is an NK error at the
/// attribute, never broken generated code or an NK0900 internal error. Each row here is a valid declaration (the analyzer
/// reports nothing) on an edge the matrix does not reach.
/// </summary>
public sealed class AcceptedDeclarationTests
{
    private static async Task<GeneratorRun> AcceptedAndGenerated(LayerCase layer)
    {
        // No markup: the build reports nothing (no NK diagnostic, no compiler error).
        await BuildTest.RunAsync(layer.Source, typeof(NormalizeGenerator));
        return GeneratorHelper.Run(layer.Source);
    }

    private static void AssertGeneratesOneCompilingFile(GeneratorRun run)
    {
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics");
        Assert.Single(run.Sources);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the output");
    }

    /// <summary>Forward's dims are named by the layout's lower-case letters; Forward's own locals (x, y, and with N reduced m, s) must not take those names.</summary>
    [Theory]
    [InlineData("NCX", "X")]
    [InlineData("NYC", "N,Y")]
    [InlineData("NSC", "N,S")]
    [InlineData("NMC", "N,M")]
    public async Task LayoutLetter_ThatForwardUsesAsALocal_Compiles(string layout, string axes)
    {
        AssertGeneratesOneCompilingFile(await AcceptedAndGenerated(new LayerCase("Letters" + layout, layout, axes)));
    }

    /// <summary>Identifiers spelled with @ (keywords) are re-emitted with their @, and the hint name stays a valid file name.</summary>
    [Theory]
    [InlineData("@class", "Layers", null)]
    [InlineData("Inner", "Layers", "@struct")]
    [InlineData("Inner", "Layers.@event", null)]
    public async Task KeywordIdentifier_IsEscaped(string name, string ns, string? container)
    {
        AssertGeneratesOneCompilingFile(await AcceptedAndGenerated(new LayerCase(name, "NC", "N", Namespace: ns, Container: container)));
    }

    /// <summary>Epsilon is a double in the attribute and a float in the layer: a value that is not a positive finite float must
    /// be an NK0015 at the attribute, or else the layer must compile and construct with a positive finite default.</summary>
    [Theory]
    [InlineData(1e39)]
    [InlineData(1e-50)]
    public void EpsilonOutsideFloatRange_IsReportedOrWorks(double epsilon)
    {
        var layer = new LayerCase("EpsilonEdge", "NC", "N", Epsilon: epsilon);
        GeneratorRun run = GeneratorHelper.Run(layer.Source);
        if (run.GeneratorDiagnostics.Any(d => d.Id == "NK0015")) return;

        AssertGeneratesOneCompilingFile(run);
        var context = new AssemblyLoadContext("EpsilonEdge", isCollectible: true);
        try
        {
            using var image = new MemoryStream();
            Assert.True(run.Output.Emit(image).Success);
            image.Position = 0;
            Type type = context.LoadFromStream(image).GetType(layer.MetadataName, throwOnError: true)!;
            ConstructorInfo constructor = Assert.Single(type.GetConstructors());
            object?[] arguments = constructor.GetParameters().Select(p => p.Name == "channels" ? 4 : p.DefaultValue).ToArray();
            var instance = (INormalizationLayer)constructor.Invoke(arguments);
            Assert.True(instance.Epsilon > 0 && float.IsFinite(instance.Epsilon));
        }
        finally
        {
            context.Unload();
        }
    }
}
