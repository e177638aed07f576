using System;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Emitting;
using NormKernels.Generators.Model;
using NormKernels.Generators.Parsing;
using NormKernels.Generators.Planning;

namespace NormKernels.Generators;

/// <summary>
/// [Normalize] on a partial class becomes a specialized normalization layer: parse (attribute to NormSpec, every usage
/// mistake found on the way), plan (NormSpec to KernelPlan), emit (one .g.cs per type). The generator reports its own
/// diagnostics (there is no analyzer), so they appear with analyzers off too; a declaration with errors gets a stub of
/// the layer's surface (<see cref="StubEmitter"/>), and an internal failure becomes NK0900 instead of the silent CS8785.
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
        var parsed = LayerOutput.Parse(context, Parser.AttributeName, Parser.Parse, TrackingNames.Parse);
        var planned = (PlanWithCompilation
                ? parsed.Combine(context.CompilationProvider).Select(static (p, _) => Plan(p.Left))
                : parsed.Select(static (r, _) => Plan(r)))
            .WithTrackingName(TrackingNames.Plan);

        context.RegisterSourceOutput(planned.Combine(LayerOutput.PathHooks(context)), static (spc, item) =>
        {
            var (layer, hooks) = item;
            LayerOutput.AddSource(spc, layer.TypeName, layer.Failure, layer.StubErrors, layer.Spec, static s => s.Name, ".Normalize.g.cs",
                s => Emitter.Emit(s, layer.Plan!, hooks.PathHooks));
        });
    }

    private static PlannedLayer Plan(ParseResult<NormSpec> parsed)
    {
        if (parsed.Spec is null) return new PlannedLayer(null, null, parsed.TypeName, parsed.Failure, "");
        try
        {
            return new PlannedLayer(parsed.Spec, Planner.Plan(parsed.Spec), parsed.TypeName, "", parsed.StubErrors);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A stub's plan is a courtesy: without one nothing is generated, and the declaration's errors are reported already.
            return new PlannedLayer(null, null, parsed.TypeName, parsed.StubErrors.Length > 0 ? "" : e.GetType().Name + ": " + e.Message, "");
        }
    }
}

/// <summary>The plan step's result: spec and plan (of the stub's nearest valid declaration when <see cref="StubErrors"/> names
/// errors), or the internal failure to report. Without the parse step's diagnostics, so moving a declaration with errors
/// re-reports them without re-emitting its stub.</summary>
internal sealed record PlannedLayer(NormSpec? Spec, KernelPlan? Plan, string TypeName, string Failure, string StubErrors);
