using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Diagnostics;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// Symbol and <c>[WeightNormalize]</c> to <see cref="WeightNormSpec"/>: <see cref="LayerParser"/> checks the class (and
/// NK0030 with another layer attribute), the layout and axes rules of <see cref="LayoutGrammar"/> (NK0002-NK0008), NK0033
/// (no kept axis) and NK0021 check the arguments, each diagnostic at the argument it is about.
/// </summary>
internal static class WeightNormParser
{
    public const string AttributeName = "NormKernels.WeightNormalizeAttribute";

    private static readonly string[] Arguments = { "Layout", "Axes", "ElementType" };

    public static ParseResult<WeightNormSpec>? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        LayerParser.Parse(context, AttributeName, Read, static (_, _) => Array.Empty<ITypeSymbol>(), cancellationToken); // the constructor takes no parameters

    private static SpecReading<WeightNormSpec> Read(LayerName name, AttributeArguments arguments)
    {
        string? element = arguments.ElementType();
        string? layout = arguments.Get<string?>("Layout", "OIHW"), axes = arguments.Get<string?>("Axes", "");
        if (!arguments.IsWellFormed(Arguments)) return default;

        // The letters of Layout and Axes follow [Normalize]'s grammar; its other rules are about the norm kinds' arguments.
        var problems = LayoutGrammar.Check(layout, axes, 0, false, 0, 2, 1e-5, 0.1)
            .Where(p => p.Kind <= LayoutProblemKind.AxesDuplicateLetter).ToList();
        problems.ForEach(p => arguments.Report(DiagnosticDescriptors.For(p.Kind), p.Argument, p.Detail));
        string? reduced = problems.Count == 0 ? LayoutGrammar.ReducedLetters(layout!, axes!) : null;
        bool nothingKept = reduced != null && reduced.Length == layout!.Length;
        if (nothingKept)
            arguments.Report(DiagnosticDescriptors.WeightNormNothingKept, "Axes", "Axes \"" + axes + "\" reduce every letter of Layout \"" + layout + "\"");
        return reduced != null && !nothingKept && element != null
            ? new SpecReading<WeightNormSpec>(new WeightNormSpec(name, layout!, reduced, element), true)
            : new SpecReading<WeightNormSpec>(StubSpecs.WeightNorm(name, layout, axes, element ?? "float"), false);
    }
}
