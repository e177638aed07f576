using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Diagnostics;
using NormKernels.Generators.Emitting;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators;

/// <summary>
/// The output steps every generator shares: reporting the parsers' usage diagnostics, and adding a layer's source (the
/// layer, or its stub when the declaration has errors), an internal failure becoming NK0900 instead of the silent CS8785.
/// </summary>
internal static class LayerOutput
{
    /// <summary>
    /// The parse step of a layer attribute, tracked as <paramref name="trackingName"/>, with its usage diagnostics reported.
    /// Records are classes too (NK0019 is reported for them); structs, interfaces and the like are the compiler's CS0592.
    /// </summary>
    public static IncrementalValuesProvider<ParseResult<TSpec>> Parse<TSpec>(IncrementalGeneratorInitializationContext context,
        string attributeName, Func<GeneratorAttributeSyntaxContext, CancellationToken, ParseResult<TSpec>?> parse, string trackingName)
        where TSpec : class
    {
        IncrementalValuesProvider<ParseResult<TSpec>> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(attributeName, static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax, (ctx, ct) => parse(ctx, ct))
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(trackingName);
        ReportDiagnostics(context, parsed);
        return parsed;
    }

    /// <summary>
    /// The pipeline of a layer attribute without a planning step (<c>[LocalResponseNormalize]</c>, <c>[WeightNormalize]</c>):
    /// <see cref="Parse{TSpec}"/>, then the source of each spec (<see cref="AddSource{TSpec}"/>: <paramref name="emit"/>, told
    /// whether the build asks for the test hooks, or the stub) named "FullName<paramref name="suffix"/>". The source depends on
    /// the spec alone: moving a declaration with errors re-reports them without re-emitting its stub.
    /// </summary>
    public static void RegisterLayer<TSpec>(IncrementalGeneratorInitializationContext context, string attributeName,
        Func<GeneratorAttributeSyntaxContext, CancellationToken, ParseResult<TSpec>?> parse, string trackingName, string suffix, Func<TSpec, bool, string> emit)
        where TSpec : class, ILayerSpec => context.RegisterSourceOutput(
        Parse(context, attributeName, parse, trackingName).Select(static (r, _) => r with { Diagnostics = default }).Combine(PathHooks(context)),
        (spc, item) => AddSource(spc, item.Left.TypeName, item.Left.Failure, item.Left.StubErrors, item.Left.Spec, static s => s.Name, suffix,
            s => emit(s, item.Right.PathHooks)));

    /// <summary>The MSBuild property that asks for the <c>...OnPath&lt;TOps&gt;</c> test hooks (internal static kernels on a
    /// forced path and 128-bit operations; this repository's kernel tests run the ARM64 path's logic on x86 through them). A
    /// project sets it to <c>true</c> and lists it as a <c>CompilerVisibleProperty</c>; other builds compile no hooks.</summary>
    public const string PathHooksProperty = "NormKernelsPathHooks";

    /// <summary>Whether the build asks for the test hooks (<see cref="PathHooksProperty"/>).</summary>
    public static IncrementalValueProvider<EmitOptions> PathHooks(IncrementalGeneratorInitializationContext context) =>
        context.AnalyzerConfigOptionsProvider.Select(static (options, _) =>
            options.GlobalOptions.TryGetValue("build_property." + PathHooksProperty, out string? value) &&
            string.Equals(value, "true", StringComparison.OrdinalIgnoreCase) ? EmitOptions.WithHooks : EmitOptions.Default);

    /// <summary>A declaration's usage diagnostics, as a class (see <see cref="ReportDiagnostics"/>).</summary>
    private sealed record Reported(EquatableArray<DiagnosticInfo> Diagnostics);

    /// <summary>
    /// Reports the usage diagnostics of <paramref name="parsed"/>. Only declarations with diagnostics are combined with the
    /// compilation, to locate each diagnostic in its syntax tree (so <c>#pragma warning disable</c> applies to it); valid
    /// declarations never reach that step, and the source outputs depend on the equatable models alone.
    /// </summary>
    private static void ReportDiagnostics<TSpec>(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<ParseResult<TSpec>> parsed)
        where TSpec : class
    {
        // Reference types through the pipeline (a class, a tuple of references): Roslyn's node tables over a struct would be
        // JIT-compiled for it in every build.
        IncrementalValuesProvider<(Reported Reported, Compilation Compilation)> located = parsed
            .Where(static r => r.Diagnostics.Count > 0)
            .Select(static (r, _) => new Reported(r.Diagnostics))
            .Combine(context.CompilationProvider);
        context.RegisterSourceOutput(located, static (spc, item) =>
        {
            foreach (DiagnosticInfo diagnostic in item.Reported.Diagnostics)
            {
                // The one tree of that path that holds the span; else (no path, or several trees of it) a location by path.
                var trees = item.Compilation.SyntaxTrees.Where(t => t.FilePath == diagnostic.FilePath).Take(2).ToList();
                SyntaxTree? tree = trees.Count == 1 && diagnostic.Start + diagnostic.Length <= trees[0].Length ? trees[0] : null;
                spc.ReportDiagnostic(diagnostic.ToDiagnostic(tree));
            }
        });
    }

    /// <summary>
    /// Adds the source of the layer <paramref name="spec"/> (<paramref name="name"/>: its full name, its own name, how
    /// many types contain it and the alias names it must not use) as "FullName<paramref name="suffix"/>": <paramref name="emit"/>'s output with aliases (<see cref="Emitting.Shared.Shorten"/>), or with
    /// <paramref name="stubErrors"/> its stub (<see cref="StubEmitter"/>). <paramref name="failure"/>, or an exception of the
    /// emitter, is reported as NK0900 instead.
    /// </summary>
    public static void AddSource<TSpec>(SourceProductionContext context, string typeName, string failure, string stubErrors,
        TSpec? spec, Func<TSpec, LayerName> name, string suffix, Func<TSpec, string> emit)
        where TSpec : class
    {
        if (spec != null && failure.Length == 0)
        {
            try
            {
                string source = emit(spec);
                LayerName layer = name(spec);
                context.AddSource(LayerParser.HintName(layer.FullName, suffix),
                    stubErrors.Length == 0 ? Emitting.Shared.Shorten(source, layer.Unaliased) : StubEmitter.Emit(source, layer.TypeName, layer.Containers.Count, stubErrors));
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A stub is a courtesy to the use sites: the declaration's errors are reported already, and one is enough.
                if (stubErrors.Length > 0) return;
                failure = e.GetType().Name + ": " + e.Message;
            }
        }
        if (failure.Length == 0) return;
        int colon = failure.IndexOf(':');
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalGeneratorError, Location.None,
            typeName, colon < 0 ? failure : failure.Substring(0, colon), colon < 0 ? "" : failure.Substring(colon + 1).Trim()));
    }
}

/// <summary>What the build asks of the emitters beyond the declarations (a class: see <see cref="LayerOutput.PathHooks"/>).</summary>
internal sealed record EmitOptions(bool PathHooks)
{
    public static readonly EmitOptions Default = new(false);
    public static readonly EmitOptions WithHooks = new(true);
}
