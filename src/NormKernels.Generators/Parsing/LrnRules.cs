using System.Collections.Generic;
using System.Globalization;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Diagnostics;

namespace NormKernels.Generators.Parsing;

/// <summary>What can be wrong with a <c>[LocalResponseNormalize]</c> declaration besides its layout's letters.</summary>
internal enum LrnProblemKind
{
    /// <summary>The layout is valid but has no C: there is no axis for the window to slide along.</summary>
    LayoutWithoutChannel,
    SizeNotPositive,
    NotFinite,
    KNotPositive,
}

/// <summary>
/// The rules of <c>[LocalResponseNormalize]</c>, checked by <see cref="LrnParser"/>, which reports them and generates a stub
/// for a declaration that breaks an error rule. Layout letters are checked by
/// <see cref="LayoutGrammar"/>'s rules (NK0002-NK0004), reported here as <see cref="LayoutProblem"/>s.
/// </summary>
internal static class LrnRules
{
    /// <summary>One problem: kind (a <see cref="LayoutProblemKind"/> or an <see cref="LrnProblemKind"/>), argument, detail.</summary>
    internal sealed class Problem
    {
        public Problem(LayoutProblem? layout, LrnProblemKind kind, string argument, string detail)
        {
            Layout = layout;
            Kind = kind;
            Argument = argument;
            Detail = detail;
        }

        /// <summary>A layout-letter problem (NK0002-NK0004), or null when the problem is an <see cref="Kind"/>.</summary>
        public LayoutProblem? Layout { get; }

        public LrnProblemKind Kind { get; }

        public string Argument { get; }

        public string Detail { get; }

        /// <summary>False only for a warning (K not positive): the generator still emits the layer.</summary>
        public bool IsError => Layout != null || Kind != LrnProblemKind.KNotPositive;

        /// <summary>The diagnostic this problem is reported as.</summary>
        public DiagnosticDescriptor Descriptor => Layout != null ? DiagnosticDescriptors.For(Layout.Kind) : Kind switch
        {
            LrnProblemKind.LayoutWithoutChannel => DiagnosticDescriptors.LrnLayoutWithoutChannel,
            LrnProblemKind.SizeNotPositive => DiagnosticDescriptors.LrnSizeNotPositive,
            LrnProblemKind.NotFinite => DiagnosticDescriptors.LrnNotFinite,
            _ => DiagnosticDescriptors.LrnKNotPositive,
        };
    }

    public static List<Problem> Check(string? layout, int size, double alpha, double beta, double k)
    {
        var problems = new List<Problem>();
        layout ??= "";
        // The layout's letters follow [Normalize]'s grammar; an Axes is irrelevant here, so "C" stands in for it.
        foreach (LayoutProblem p in LayoutGrammar.Check(layout, "C", 0, false, 0, 2, 1e-5, 0.1))
        {
            if (p.Kind == LayoutProblemKind.LayoutEmpty || p.Kind == LayoutProblemKind.LayoutInvalidLetter || p.Kind == LayoutProblemKind.LayoutDuplicateLetter)
                problems.Add(new Problem(p, default, p.Argument, p.Detail));
        }
        bool lettersOk = problems.Count == 0;
        if (lettersOk && layout.IndexOf(LayoutGrammar.Channel) < 0)
            problems.Add(new Problem(null, LrnProblemKind.LayoutWithoutChannel, "Layout", "\"" + layout + "\""));
        if (size < 1)
            problems.Add(new Problem(null, LrnProblemKind.SizeNotPositive, "Size", size.ToString(CultureInfo.InvariantCulture)));
        AddIfNotFinite(problems, "Alpha", alpha);
        AddIfNotFinite(problems, "Beta", beta);
        AddIfNotFinite(problems, "K", k);
        if (IsFinite(k) && !(k > 0))
            problems.Add(new Problem(null, LrnProblemKind.KNotPositive, "K", k.ToString("R", CultureInfo.InvariantCulture)));
        return problems;
    }

    /// <summary>True when <see cref="Check"/> finds an error (warnings do not stop generation).</summary>
    public static bool HasError(List<Problem> problems)
    {
        foreach (Problem p in problems)
            if (p.IsError) return true;
        return false;
    }

    private static void AddIfNotFinite(List<Problem> problems, string argument, double value)
    {
        if (!IsFinite(value))
            problems.Add(new Problem(null, LrnProblemKind.NotFinite, argument, argument + " is " + value.ToString("R", CultureInfo.InvariantCulture)));
    }

    private static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);
}
