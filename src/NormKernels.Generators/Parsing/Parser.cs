using System.Collections.Generic;
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

    private static readonly string[] Arguments = { "Layout", "Axes", "Groups", "Kind", "Affine", "Epsilon", "Momentum", "ElementType" };

    public static ParseResult<NormSpec>? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        LayerParser.Parse(context, LrnParser.AttributeName, reportsBoth: false, Read,
            static (compilation, spec) => DeclarationChecks.NormalizeConstructor(compilation, spec), cancellationToken);

    private static SpecReading<NormSpec> Read(LayerName name, AttributeArguments arguments, List<DiagnosticInfo> found)
    {
        string? element = arguments.ElementType(found);
        string? layout = arguments.Get<string?>("Layout", "NCHW"), axes = arguments.Get<string?>("Axes", "");
        int groups = arguments.Get("Groups", 0), kind = arguments.Get("Kind", 0), affine = arguments.Get("Affine", 0);
        double epsilon = arguments.Get("Epsilon", 1e-5), momentum = arguments.Get("Momentum", 0.1);
        if (!arguments.IsWellFormed(Arguments)) return default;

        // One diagnostic per id and argument: "N,C,H,W" is one mistake, reported at its first ','.
        List<LayoutProblem> problems = LayoutGrammar.Check(layout, axes, groups, arguments.Has("Groups"), kind, affine, epsilon, momentum);
        var reported = new HashSet<string>();
        foreach (LayoutProblem problem in problems)
        {
            if (reported.Add(problem.Argument + "\n" + problem.Kind))
                found.Add(DiagnosticInfo.Create(DiagnosticDescriptors.For(problem.Kind), arguments.LocationOf(problem.Argument), problem.Detail));
        }
        if (problems.Count == 0 && element != null)
            return new SpecReading<NormSpec>(Spec(name, layout!, string.Join(",", LayoutGrammar.SplitAxes(axes)), groups, kind, affine, epsilon, momentum, element), true);
        return new SpecReading<NormSpec>(StubSpecs.Normalize(name, layout, axes, groups, kind, affine, epsilon, momentum, element ?? "float"), false);
    }

    public static NormSpec Spec(LayerName name, string layout, string axes, int groups, int kind, int affine, double epsilon, double momentum, string element) =>
        new NormSpec(name.Namespace, name.Containers, name.TypeName, layout, axes, groups, kind, affine, epsilon, momentum, element);
}
