// Shared source: compiled into NormKernels (runtime) and linked into NormKernels.Generators
// (netstandard2.0), so the generator (which reports these rules) and the runtime read a declaration the same way.
// Keep it free of APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace NormKernels
{
    /// <summary>What can be wrong with a <c>[Normalize]</c> declaration, independent of Roslyn.</summary>
    internal enum LayoutProblemKind
    {
        LayoutEmpty,
        LayoutInvalidLetter,
        LayoutDuplicateLetter,
        AxesEmpty,
        AxesInvalidToken,
        AxesLetterNotInLayout,
        AxesDuplicateLetter,
        GroupsNotPositive,
        GroupsWithoutChannelReduced,
        KindUndefined,
        AffineUndefined,
        PerChannelWithoutChannel,
        ElementwiseWithoutSampleAxes,
        EpsilonNotPositive,
        MomentumOutOfRange,
        RootMeanSquareWithBatchReduced,
        RunningStatisticsUnsized,
        AffineImplicitOverSample,
        RunningStatisticsWithoutBatch,
        ActivationUndefined,
        ResidualUndefined,
        SizesMalformed,
        SizesLetterNotInLayout,
        SizesNotPositive,
        SizesDuplicate,
        SizesContradictsGroups,
    }

    /// <summary>One problem: which attribute argument, and a detail for the message.</summary>
    internal sealed class LayoutProblem
    {
        public LayoutProblem(LayoutProblemKind kind, string argument, string detail)
        {
            Kind = kind;
            Argument = argument;
            Detail = detail;
        }

        public LayoutProblemKind Kind { get; }

        /// <summary>The attribute property the problem is about (<c>Layout</c>, <c>Axes</c>, <c>Groups</c>, ...).</summary>
        public string Argument { get; }

        /// <summary>The offending value or a short explanation, already formatted invariantly.</summary>
        public string Detail { get; }
    }

    /// <summary>
    /// The grammar of <c>Layout</c> and <c>Axes</c>, and every rule a declaration must satisfy.
    /// Layout: one or more distinct upper-case ASCII letters. Axes: comma-separated letters of the layout
    /// (spaces around commas allowed).
    /// </summary>
    internal static class LayoutGrammar
    {
        public const char Batch = 'N';
        public const char Channel = 'C';

        /// <summary>The parameter name of a <c>[WeightNormalize]</c> layer's dim for <paramref name="letter"/>: the letter in lower
        /// case, or with "Size" appended (<c>wSize</c>) where it would be the name of a tensor (v, g, w).</summary>
        public static string WeightNormDimName(char letter)
        {
            string name = char.ToLowerInvariant(letter).ToString();
            return name == "v" || name == "g" || name == "w" ? name + "Size" : name;
        }

        /// <summary>Splits <paramref name="axes"/> into tokens (trimmed), or an empty list for null/blank text.</summary>
        public static List<string> SplitAxes(string? axes)
        {
            var tokens = new List<string>();
            if (axes == null || axes.Trim().Length == 0) return tokens;
            foreach (string part in axes.Split(','))
                tokens.Add(part.Trim());
            return tokens;
        }

        /// <summary>The reduced letters in layout order, or null when the declaration is invalid.</summary>
        public static string? ReducedLetters(string layout, string axes)
        {
            var tokens = SplitAxes(axes);
            var chars = new char[layout.Length];
            int count = 0;
            foreach (char letter in layout)
                if (tokens.Contains(letter.ToString())) chars[count++] = letter;
            return count == tokens.Count ? new string(chars, 0, count) : null;
        }

        /// <summary>Checks a whole declaration. <paramref name="groupsGiven"/> is true when the user wrote <c>Groups = ...</c>,
        /// <paramref name="affineGiven"/> when the user wrote <c>Affine = ...</c>; <paramref name="trackRunningStats"/> is
        /// <c>TrackRunningStats</c> when written, else null.</summary>
        public static List<LayoutProblem> Check(string? layout, string? axes, int groups, bool groupsGiven,
            int kind, int affine, double epsilon, double momentum, bool affineGiven = true, bool? trackRunningStats = null)
        {
            var problems = new List<LayoutProblem>();
            layout ??= "";

            // Layout: distinct upper-case ASCII letters.
            bool layoutOk = layout.Length > 0;
            if (layout.Length == 0)
                problems.Add(new LayoutProblem(LayoutProblemKind.LayoutEmpty, "Layout", "\"\""));
            for (int i = 0; i < layout.Length; i++)
            {
                char ch = layout[i];
                if (ch < 'A' || ch > 'Z')
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.LayoutInvalidLetter, "Layout",
                        "'" + ch + "' at position " + i.ToString(CultureInfo.InvariantCulture)));
                    layoutOk = false;
                }
                else if (layout.IndexOf(ch) != i)
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.LayoutDuplicateLetter, "Layout", "'" + ch + "'"));
                    layoutOk = false;
                }
            }

            // Axes: letters of the layout, each once.
            var tokens = SplitAxes(axes);
            var reduced = new HashSet<char>();
            if (tokens.Count == 0)
                problems.Add(new LayoutProblem(LayoutProblemKind.AxesEmpty, "Axes", "\"" + (axes ?? "") + "\""));
            bool axesOk = tokens.Count > 0;
            foreach (string token in tokens)
            {
                if (token.Length != 1 || token[0] < 'A' || token[0] > 'Z')
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.AxesInvalidToken, "Axes", "\"" + token + "\""));
                    axesOk = false;
                }
                else if (!reduced.Add(token[0]))
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.AxesDuplicateLetter, "Axes", "'" + token + "'"));
                    axesOk = false;
                }
                else if (layoutOk && layout.IndexOf(token[0]) < 0)
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.AxesLetterNotInLayout, "Axes", "'" + token + "' (Layout is \"" + layout + "\")"));
                    axesOk = false;
                }
            }

            if (kind != 0 && kind != 1)
                problems.Add(new LayoutProblem(LayoutProblemKind.KindUndefined, "Kind", kind.ToString(CultureInfo.InvariantCulture)));
            if (affine < 0 || affine > 2)
                problems.Add(new LayoutProblem(LayoutProblemKind.AffineUndefined, "Affine", affine.ToString(CultureInfo.InvariantCulture)));
            // The generated constructor takes a float: the value must stay positive and finite as a float.
            if (!(epsilon > 0) || double.IsInfinity(epsilon) || !((float)epsilon > 0f) || float.IsInfinity((float)epsilon))
                problems.Add(new LayoutProblem(LayoutProblemKind.EpsilonNotPositive, "Epsilon", epsilon.ToString("R", CultureInfo.InvariantCulture)));
            if (!(momentum >= 0 && momentum <= 1))
                problems.Add(new LayoutProblem(LayoutProblemKind.MomentumOutOfRange, "Momentum", momentum.ToString("R", CultureInfo.InvariantCulture)));

            bool hasChannel = layout.IndexOf(Channel) >= 0;
            bool groupsOk = true;
            if (groupsGiven && groups <= 0)
            {
                problems.Add(new LayoutProblem(LayoutProblemKind.GroupsNotPositive, "Groups", groups.ToString(CultureInfo.InvariantCulture)));
                groupsOk = false;
            }
            else if (groups > 0 && !(hasChannel && reduced.Contains(Channel)))
            {
                groupsOk = false;
                problems.Add(new LayoutProblem(LayoutProblemKind.GroupsWithoutChannelReduced, "Groups",
                    hasChannel ? "C is not among Axes \"" + (axes ?? "") + "\"" : "Layout \"" + layout + "\" has no C"));
            }

            if (affine == 0 && layoutOk && !hasChannel)
                problems.Add(new LayoutProblem(LayoutProblemKind.PerChannelWithoutChannel, "Affine", "Layout \"" + layout + "\" has no C"));
            if (affine == 1 && layoutOk && layout.Replace(Batch.ToString(), "").Length == 0)
                problems.Add(new LayoutProblem(LayoutProblemKind.ElementwiseWithoutSampleAxes, "Affine", "Layout \"" + layout + "\" has no axis besides N"));

            if (layoutOk && axesOk && reduced.Contains(Batch))
            {
                if (kind == 1)
                    problems.Add(new LayoutProblem(LayoutProblemKind.RootMeanSquareWithBatchReduced, "Kind", "Axes \"" + axes + "\" reduce N"));
                // With a Groups mistake (NK0009/NK0010) the running size follows from no valid declaration: one error is enough.
                // Without running statistics (TrackRunningStats = false) there is nothing to size.
                else if (groupsOk && trackRunningStats != false && RunningSize(layout, reduced, groups, affine) == RunningSizeKind.Unknown)
                    problems.Add(new LayoutProblem(LayoutProblemKind.RunningStatisticsUnsized, "Axes",
                        "kept axes \"" + Kept(layout, reduced) + "\""));
            }

            // Running statistics asked for where there are none: PyTorch's InstanceNorm(track_running_stats=True) keeps them per
            // channel and normalizes with them in eval mode; these layers never do.
            if (layoutOk && axesOk && trackRunningStats == true && !reduced.Contains(Batch))
                problems.Add(new LayoutProblem(LayoutProblemKind.RunningStatisticsWithoutBatch, "TrackRunningStats", "Axes \"" + axes + "\" do not reduce N"));

            // Every axis of a sample but N reduced, more than one, C among them, no groups: PyTorch's LayerNorm over them has one
            // weight per element, its GroupNorm(1, C) one per channel; the default would silently pick one of two layers.
            if (!affineGiven && !groupsGiven && layoutOk && axesOk && hasChannel && !reduced.Contains(Batch) &&
                reduced.Count >= 2 && reduced.Count == layout.Replace(Batch.ToString(), "").Length)
                problems.Add(new LayoutProblem(LayoutProblemKind.AffineImplicitOverSample, "Affine",
                    "Axes \"" + axes + "\""));
            return problems;
        }

        /// <summary>
        /// The fused epilogue's arguments: <paramref name="activation"/> (NormActivation 0-4), <paramref name="residual"/>
        /// (ResidualMode 0-2) and <paramref name="sizes"/>: "LETTER=value" entries separated by commas (spaces allowed), each
        /// a letter of the layout, once, with a positive int value; C a multiple of Groups.
        /// </summary>
        public static List<LayoutProblem> CheckEpilogue(string layout, int groups, int activation, int residual, string? sizes)
        {
            var problems = new List<LayoutProblem>();
            if (activation < 0 || activation > 4)
                problems.Add(new LayoutProblem(LayoutProblemKind.ActivationUndefined, "Activation", activation.ToString(CultureInfo.InvariantCulture)));
            if (residual < 0 || residual > 2)
                problems.Add(new LayoutProblem(LayoutProblemKind.ResidualUndefined, "Residual", residual.ToString(CultureInfo.InvariantCulture)));
            var seen = new HashSet<char>();
            foreach (string entry in (sizes ?? "").Split(','))
            {
                if (sizes == null || sizes.Trim().Length == 0) break;
                string[] parts = entry.Split('=');
                string letter = parts[0].Trim();
                if (parts.Length != 2 || letter.Length != 1 || letter[0] < 'A' || letter[0] > 'Z')
                {
                    problems.Add(new LayoutProblem(LayoutProblemKind.SizesMalformed, "Sizes", "\"" + sizes + "\""));
                    break;
                }
                char ch = letter[0];
                if (layout.IndexOf(ch) < 0)
                    problems.Add(new LayoutProblem(LayoutProblemKind.SizesLetterNotInLayout, "Sizes", "'" + ch + "' (Layout is \"" + layout + "\")"));
                else if (!seen.Add(ch))
                    problems.Add(new LayoutProblem(LayoutProblemKind.SizesDuplicate, "Sizes", "'" + ch + "'"));
                else if (!int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value <= 0)
                    problems.Add(new LayoutProblem(LayoutProblemKind.SizesNotPositive, "Sizes", "'" + ch + "' = \"" + parts[1].Trim() + "\""));
                else if (ch == Channel && groups > 0 && value % groups != 0)
                    problems.Add(new LayoutProblem(LayoutProblemKind.SizesContradictsGroups, "Sizes",
                        "C = " + value.ToString(CultureInfo.InvariantCulture) + " with Groups = " + groups.ToString(CultureInfo.InvariantCulture)));
            }
            return problems;
        }

        /// <summary>The fixed sizes of a valid <c>Sizes</c> argument, in layout order: "C=768" (empty when none).</summary>
        public static string NormalizeSizes(string layout, string? sizes)
        {
            var values = new Dictionary<char, string>();
            foreach (string entry in (sizes ?? "").Split(','))
            {
                string[] parts = entry.Split('=');
                if (parts.Length == 2) values[parts[0].Trim()[0]] = int.Parse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
            }
            var ordered = new List<string>();
            foreach (char ch in layout)
                if (values.TryGetValue(ch, out string? value)) ordered.Add(ch + "=" + value);
            return string.Join(",", ordered);
        }

        /// <summary>How many running statistics a layer that reduces N keeps.</summary>
        internal enum RunningSizeKind { Unknown, One, Groups, Channels, NormalizedSize }

        internal static RunningSizeKind RunningSize(string layout, ICollection<char> reduced, int groups, int affine)
        {
            string kept = Kept(layout, reduced);
            if (groups > 0) return kept.Length == 0 ? RunningSizeKind.Groups : RunningSizeKind.Unknown;
            if (kept.Length == 0) return RunningSizeKind.One;
            if (kept == Channel.ToString() && affine != 1) return RunningSizeKind.Channels;
            if (affine == 1 && kept == layout.Replace(Batch.ToString(), "")) return RunningSizeKind.NormalizedSize;
            return RunningSizeKind.Unknown;
        }

        private static string Kept(string layout, ICollection<char> reduced)
        {
            var chars = new List<char>();
            foreach (char ch in layout)
                if (!reduced.Contains(ch)) chars.Add(ch);
            return new string(chars.ToArray());
        }
    }
}
