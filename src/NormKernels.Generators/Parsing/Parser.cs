using System.Linq;
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

    private static readonly string[] Arguments = { "Layout", "Axes", "Groups", "Kind", "Affine", "Epsilon", "Momentum", "ElementType", "TrackRunningStats", "Activation", "Residual", "Sizes" };

    public static ParseResult<NormSpec>? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        LayerParser.Parse(context, AttributeName, Read,
            static (compilation, spec) => DeclarationChecks.NormalizeConstructor(compilation, spec), cancellationToken);

    private static SpecReading<NormSpec> Read(LayerName name, AttributeArguments arguments)
    {
        string? element = arguments.ElementType(half: true);
        string? layout = arguments.Get<string?>("Layout", "NCHW"), axes = arguments.Get<string?>("Axes", "");
        int groups = arguments.Get("Groups", 0), kind = arguments.Get("Kind", 0), affine = arguments.Get("Affine", 0);
        double epsilon = arguments.Get("Epsilon", 1e-5), momentum = arguments.Get("Momentum", 0.1);
        bool track = arguments.Get("TrackRunningStats", true);
        int activation = arguments.Get("Activation", 0), residual = arguments.Get("Residual", 0);
        string? sizes = arguments.Get<string?>("Sizes", "");
        if (!arguments.IsWellFormed(Arguments)) return default;

        var problems = LayoutGrammar.Check(layout, axes, groups, arguments.Has("Groups"), kind, affine, epsilon, momentum,
            arguments.Has("Affine"), arguments.Has("TrackRunningStats") ? track : null);
        // Sizes is checked against a valid layout and group count only: a mistake there is that argument's one error.
        bool layoutOk = !problems.Any(p => p.Argument is "Layout" or "Groups");
        var epilogue = LayoutGrammar.CheckEpilogue(layout ?? "", groups, activation, residual, layoutOk ? sizes : "");
        problems.AddRange(epilogue);
        problems.ForEach(p => arguments.Report(DiagnosticDescriptors.For(p.Kind), p.Argument, p.Detail));
        // A stub keeps a valid activation and residual (they decide the surface) and drops Sizes.
        int stubActivation = epilogue.Any(p => p.Argument == "Activation") ? 0 : activation, stubResidual = epilogue.Any(p => p.Argument == "Residual") ? 0 : residual;
        return problems.Count == 0 && element != null
            ? new SpecReading<NormSpec>(Spec(name, layout!, string.Join(",", LayoutGrammar.SplitAxes(axes)), groups, kind, affine, epsilon, momentum, element,
                track, activation, residual, LayoutGrammar.NormalizeSizes(layout!, sizes)), true)
            : new SpecReading<NormSpec>(StubSpecs.Normalize(name, layout, axes, groups, kind, affine, epsilon, momentum, element ?? "float", track) is { } stub
                ? stub with { Activation = (ActivationId)stubActivation, Residual = (ResidualId)stubResidual } : null, false);
    }

    public static NormSpec Spec(LayerName name, string layout, string axes, int groups, int kind, int affine, double epsilon, double momentum, string element,
        bool trackRunningStats = true, int activation = 0, int residual = 0, string sizes = "") =>
        new NormSpec(name, layout, axes, groups, (NormKindId)kind, (AffineKind)affine, epsilon, momentum, element, trackRunningStats,
            (ActivationId)activation, (ResidualId)residual, sizes);
}
