using System;
using System.Threading;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// Symbol and <c>[LocalResponseNormalize]</c> to <see cref="LrnSpec"/>: <see cref="LayerParser"/> checks the class (and
/// NK0030 with another layer attribute), and <see cref="LrnRules"/> (NK0002-NK0004, NK0022-NK0025) and NK0021
/// check the arguments, each diagnostic at the argument it is about.
/// </summary>
internal static class LrnParser
{
    public const string AttributeName = "NormKernels.LocalResponseNormalizeAttribute";

    private static readonly string[] Arguments = { "Layout", "Size", "Alpha", "Beta", "K", "ElementType" };

    public static ParseResult<LrnSpec>? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        LayerParser.Parse(context, AttributeName, Read,
            static (_, _) => Array.Empty<ITypeSymbol>(), cancellationToken); // the generated constructor takes no parameters

    private static SpecReading<LrnSpec> Read(LayerName name, AttributeArguments arguments)
    {
        string? element = arguments.ElementType(half: true);
        string? layout = arguments.Get<string?>("Layout", "NCHW");
        int size = arguments.Get("Size", 5);
        double alpha = arguments.Get("Alpha", 1e-4), beta = arguments.Get("Beta", 0.75), k = arguments.Get("K", 1.0);
        if (!arguments.IsWellFormed(Arguments)) return default;

        var problems = LrnRules.Check(layout, size, alpha, beta, k);
        problems.ForEach(p => arguments.Report(p.Descriptor, p.Argument, p.Detail));
        return !LrnRules.HasError(problems) && element != null
            ? new SpecReading<LrnSpec>(Spec(name, layout!, size, alpha, beta, k, element), true)
            : new SpecReading<LrnSpec>(StubSpecs.Lrn(name, layout, size, alpha, beta, k, element ?? "float"), false);
    }

    public static LrnSpec Spec(LayerName name, string layout, int size, double alpha, double beta, double k, string element) =>
        new LrnSpec(name, layout, size, alpha, beta, k, element);
}
