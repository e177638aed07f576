using System.Threading;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Diagnostics;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// Symbol and <c>[Normalize]</c> to <see cref="NormSpec"/>: <see cref="LayerParser"/> checks the class, and the rules of
/// <see cref="LayoutGrammar"/> (NK0002-NK0018) and NK0021 check the arguments, each diagnostic at the argument it is about.
/// </summary>
internal static class Parser
{
    public const string AttributeName = "NormKernels.NormalizeAttribute";

    private static readonly string[] Arguments = { "Layout", "Axes", "Groups", "Kind", "Affine", "Epsilon", "Momentum", "ElementType", "TrackRunningStats" };

    public static ParseResult<NormSpec>? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        LayerParser.Parse(context, LrnParser.AttributeName, reportsBoth: false, Read,
            static (compilation, spec) => DeclarationChecks.NormalizeConstructor(compilation, spec), cancellationToken);

    private static SpecReading<NormSpec> Read(LayerName name, AttributeArguments arguments)
    {
        string? element = arguments.ElementType();
        string? layout = arguments.Get<string?>("Layout", "NCHW"), axes = arguments.Get<string?>("Axes", "");
        int groups = arguments.Get("Groups", 0), kind = arguments.Get("Kind", 0), affine = arguments.Get("Affine", 0);
        double epsilon = arguments.Get("Epsilon", 1e-5), momentum = arguments.Get("Momentum", 0.1);
        bool track = arguments.Get("TrackRunningStats", true);
        if (!arguments.IsWellFormed(Arguments)) return default;

        var problems = LayoutGrammar.Check(layout, axes, groups, arguments.Has("Groups"), kind, affine, epsilon, momentum,
            arguments.Has("Affine"), arguments.Has("TrackRunningStats") ? track : null);
        problems.ForEach(p => arguments.Report(DiagnosticDescriptors.For(p.Kind), p.Argument, p.Detail));
        return problems.Count == 0 && element != null
            ? new SpecReading<NormSpec>(Spec(name, layout!, string.Join(",", LayoutGrammar.SplitAxes(axes)), groups, kind, affine, epsilon, momentum, element, track), true)
            : new SpecReading<NormSpec>(StubSpecs.Normalize(name, layout, axes, groups, kind, affine, epsilon, momentum, element ?? "float", track), false);
    }

    public static NormSpec Spec(LayerName name, string layout, string axes, int groups, int kind, int affine, double epsilon, double momentum, string element,
        bool trackRunningStats = true) =>
        new NormSpec(name, layout, axes, groups, (NormKindId)kind, (AffineKind)affine, epsilon, momentum, element, trackRunningStats);
}
