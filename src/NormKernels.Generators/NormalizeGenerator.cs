using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Emitting;
using NormKernels.Generators.Model;
using NormKernels.Generators.Parsing;
using NormKernels.Generators.Planning;

namespace NormKernels.Generators;

/// <summary>
/// [Normalize] on a partial class becomes a specialized normalization layer: parse (attribute to
/// NormSpec), plan (NormSpec to KernelPlan), emit (one .g.cs per type). Usage mistakes are reported
/// by NormalizeAttributeAnalyzer; here invalid declarations are skipped quietly, and an internal
/// failure becomes diagnostic NK0900 instead of the silent CS8785.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NormalizeGenerator : IIncrementalGenerator
{
    /// <summary>
    /// Test only, never set in production: plants the caching regression issue 10 describes, the plan step combined with
    /// the whole compilation, so that it re-runs on every edit. IncrementalTests sets it (by reflection) to show that its
    /// caching checks fail on that mistake; everything else in the pipeline is the same code.
    /// </summary>
    internal bool PlanWithCompilation { get; init; }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(Parser.AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => Parser.Parse(ctx, ct))
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(TrackingNames.Parse);

        var planned = (PlanWithCompilation
                ? parsed.Combine(context.CompilationProvider).Select(static (p, _) => Plan(p.Left))
                : parsed.Select(static (r, _) => Plan(r)))
            .WithTrackingName(TrackingNames.Plan);

        context.RegisterSourceOutput(planned, static (spc, item) => Emit(spc, item));
    }

    private static PlannedLayer Plan(ParseResult parsed)
    {
        if (parsed.Spec is null) return new PlannedLayer(null, null, parsed.TypeName, parsed.Failure);
        try
        {
            return new PlannedLayer(parsed.Spec, Planner.Plan(parsed.Spec), parsed.TypeName, "");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new PlannedLayer(null, null, parsed.TypeName, e.GetType().Name + ": " + e.Message);
        }
    }

    private static void Emit(SourceProductionContext context, PlannedLayer layer)
    {
        string failure = layer.Failure;
        if (layer.Spec is not null && layer.Plan is not null)
        {
            try
            {
                string source = Emitter.Emit(layer.Spec, layer.Plan);
                context.AddSource(HintName(layer.Spec), source);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = e.GetType().Name + ": " + e.Message;
            }
        }
        int colon = failure.IndexOf(':');
        context.ReportDiagnostic(Diagnostic.Create(Diagnostics.DiagnosticDescriptors.InternalGeneratorError, Location.None,
            layer.TypeName, colon < 0 ? failure : failure.Substring(0, colon), colon < 0 ? "" : failure.Substring(colon + 1).Trim()));
    }

    private static string HintName(NormSpec spec) => Parser.HintName(spec.FullName, ".Normalize.g.cs");
}

/// <summary>The plan step's result: spec and plan, or the internal failure to report.</summary>
internal sealed record PlannedLayer(NormSpec? Spec, KernelPlan? Plan, string TypeName, string Failure);
