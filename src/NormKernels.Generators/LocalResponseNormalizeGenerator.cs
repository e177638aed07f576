using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Emitting;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators;

/// <summary>
/// [LocalResponseNormalize] on a partial class becomes a specialized LRN layer: parse (attribute to LrnSpec), emit (one
/// .g.cs per type). There is no planning step: every layout reduces to [outer, C, inner] and the emitter picks the loop
/// nest per call from the inner extent. Usage mistakes are reported by LocalResponseNormalizeAttributeAnalyzer; an internal
/// failure becomes NK0900, as in <see cref="NormalizeGenerator"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class LocalResponseNormalizeGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(LrnParser.AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => LrnParser.Parse(ctx, ct))
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(TrackingNames.LrnParse);

        context.RegisterSourceOutput(parsed, static (spc, item) => Emit(spc, item));
    }

    private static void Emit(SourceProductionContext context, LrnParseResult parsed)
    {
        string failure = parsed.Failure;
        if (parsed.Spec is not null)
        {
            try
            {
                string source = LrnEmitter.Emit(parsed.Spec);
                context.AddSource(Parser.HintName(parsed.Spec.FullName, ".LocalResponseNormalize.g.cs"), source);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = e.GetType().Name + ": " + e.Message;
            }
        }
        int colon = failure.IndexOf(':');
        context.ReportDiagnostic(Diagnostic.Create(Diagnostics.DiagnosticDescriptors.InternalGeneratorError, Location.None,
            parsed.TypeName, colon < 0 ? failure : failure.Substring(0, colon), colon < 0 ? "" : failure.Substring(colon + 1).Trim()));
    }
}
