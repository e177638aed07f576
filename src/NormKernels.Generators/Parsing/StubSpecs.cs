using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// The nearest valid declaration to one with errors, for the stub the generator emits in its place: each argument kept as
/// written where it is valid, its valid part kept where it has one (the letters of a layout, the tokens of Axes that name
/// them), the default otherwise. The stub's surface (constructor, Forward's dims, which members exist) is then the one the
/// user most likely expects, so use sites compile and the NK error stays the one error.
/// </summary>
internal static class StubSpecs
{
    /// <summary>The nearest valid <c>[Normalize]</c>, or null when none is found (then nothing is generated).</summary>
    public static NormSpec? Normalize(LayerName name, string? layout, string? axes, int groups, int kind, int affine,
        double epsilon, double momentum, string element, bool trackRunningStats = true)
    {
        string letters = Letters(layout, "NCHW");
        var reduced = LayoutGrammar.SplitAxes(axes).Select(t => t.Trim().ToUpperInvariant())
            .Where(t => t.Length == 1 && letters.IndexOf(t[0]) >= 0).Distinct().ToList();
        if (reduced.Count == 0)
            reduced = letters.Where(c => c != LayoutGrammar.Batch && c != LayoutGrammar.Channel).Select(c => c.ToString()).ToList();
        if (reduced.Count == 0) reduced = new List<string> { letters.Substring(letters.Length - 1) };

        // The rest, one rule at a time (a value that breaks a rule takes its default; a combination, the nearest change).
        for (int attempt = 0; attempt < 5; attempt++)
        {
            string joined = string.Join(",", reduced);
            // Affine as it reads (PerChannel when not written, NK0031 aside); TrackRunningStats as written where N is reduced
            // (NK0032 aside: a layer that keeps N has no running statistics either way).
            List<LayoutProblem> problems = LayoutGrammar.Check(letters, joined, groups, groups > 0, kind, affine, epsilon, momentum,
                trackRunningStats: trackRunningStats ? null : false);
            if (problems.Count == 0) return Parser.Spec(name, letters, joined, groups, kind, affine, epsilon, momentum, element, trackRunningStats);
            foreach (LayoutProblem problem in problems)
            {
                switch (problem.Kind)
                {
                    case LayoutProblemKind.GroupsNotPositive:
                    case LayoutProblemKind.GroupsWithoutChannelReduced: groups = 0; break;
                    case LayoutProblemKind.KindUndefined: kind = 0; break;
                    case LayoutProblemKind.AffineUndefined: affine = 0; break;
                    case LayoutProblemKind.EpsilonNotPositive: epsilon = 1e-5; break;
                    case LayoutProblemKind.MomentumOutOfRange: momentum = 0.1; break;
                    case LayoutProblemKind.PerChannelWithoutChannel: affine = 1; break;     // one weight per element instead
                    case LayoutProblemKind.ElementwiseWithoutSampleAxes: affine = 2; break;
                    case LayoutProblemKind.RootMeanSquareWithBatchReduced: kind = 0; break;
                    case LayoutProblemKind.RunningStatisticsUnsized:   // N reduced, as written: per activation, per channel, or one statistic
                        groups = 0;
                        reduced = affine == 1
                            ? new List<string> { LayoutGrammar.Batch.ToString() }
                            : letters.Where(c => c != LayoutGrammar.Channel).Select(c => c.ToString()).ToList();
                        if (reduced.Count == 0) reduced.Add(LayoutGrammar.Channel.ToString());
                        break;
                }
            }
        }
        return null;
    }

    /// <summary>The nearest valid <c>[LocalResponseNormalize]</c>: a layout with C, a positive size, finite constants.</summary>
    public static LrnSpec? Lrn(LayerName name, string? layout, int size, double alpha, double beta, double k, string element)
    {
        string letters = Letters(layout, "NCHW");
        if (letters.IndexOf(LayoutGrammar.Channel) < 0) letters = letters.Substring(0, 1) + LayoutGrammar.Channel + letters.Substring(1);
        if (size < 1) size = 5;
        if (!IsFinite(alpha)) alpha = 1e-4;
        if (!IsFinite(beta)) beta = 0.75;
        if (!IsFinite(k)) k = 1.0;
        return LrnRules.HasError(LrnRules.Check(letters, size, alpha, beta, k)) ? null : LrnParser.Spec(name, letters, size, alpha, beta, k, element);
    }

    /// <summary>The nearest valid <c>[WeightNormalize]</c>: the layout's letters and the letters of Axes among them, or (none, or
    /// all of them) every letter but the first (PyTorch's dim = 0). Its surface depends on the layout's letters alone.</summary>
    public static WeightNormSpec WeightNorm(LayerName name, string? layout, string? axes, string element)
    {
        string letters = Letters(layout, "OIHW");
        var tokens = LayoutGrammar.SplitAxes(axes).Select(t => t.Trim().ToUpperInvariant()).ToList();
        string reduced = new string(letters.Where(c => tokens.Contains(c.ToString())).ToArray());
        if (reduced.Length == 0 || reduced.Length == letters.Length) reduced = letters.Substring(1);
        return new WeightNormSpec(name, letters, reduced, element);
    }

    /// <summary>The distinct upper-case ASCII letters of <paramref name="layout"/>, upper-cased, or <paramref name="fallback"/> when it has none.</summary>
    private static string Letters(string? layout, string fallback)
    {
        string letters = new string((layout ?? "").ToUpperInvariant().Where(c => c >= 'A' && c <= 'Z').Distinct().ToArray());
        return letters.Length > 0 ? letters : fallback;
    }

    private static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);
}
