using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Emitting;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators;

/// <summary>
/// [LocalResponseNormalize] on a partial class becomes a specialized LRN layer: parse (attribute to LrnSpec, every usage
/// mistake found on the way), emit (one .g.cs per type). There is no planning step: every layout reduces to [outer, C,
/// inner] and the emitter picks the loop nest per call from the inner extent. Diagnostics, stubs and NK0900 as in
/// <see cref="NormalizeGenerator"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class LocalResponseNormalizeGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(LrnParser.AttributeName,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                static (ctx, ct) => LrnParser.Parse(ctx, ct))
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(TrackingNames.LrnParse);

        LayerOutput.ReportDiagnostics(context, parsed);

        // The source depends on the spec alone: moving a declaration with errors re-reports them without re-emitting its stub.
        var layers = parsed.Select(static (r, _) => r with { Diagnostics = default });
        context.RegisterSourceOutput(layers, static (spc, layer) => LayerOutput.AddSource(spc, layer.TypeName, layer.Failure,
            layer.Spec is null ? "" : LayerParser.HintName(layer.Spec.FullName, ".LocalResponseNormalize.g.cs"),
            layer.Spec is { } spec ? () => LrnEmitter.Emit(spec) : null,
            layer.Spec?.Containers.Count ?? 0, layer.StubErrors));
    }
}
