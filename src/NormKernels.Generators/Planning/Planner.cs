using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Planning;

/// <summary>
/// Turns a declaration into a loop-nest plan: classify each axis reduced or kept, fold neighbours of
/// one class into segments, pick the innermost strategy. Every norm and layout goes through this one
/// function; the emitter knows patterns, never norms. Pure: no Roslyn types.
/// </summary>
internal static class Planner
{
    public const string GroupAxis = "grp";
    public const string ChannelsPerGroupAxis = "cpg";

    public static KernelPlan Plan(NormSpec spec)
    {
        var reduced = new HashSet<char>(LayoutGrammar.SplitAxes(spec.Axes).Select(t => t[0]));
        var axes = new List<PlanAxis>();
        foreach (char letter in spec.Layout)
        {
            bool isReduced = reduced.Contains(letter);
            bool param = spec.IsElementwise ? letter != LayoutGrammar.Batch
                       : spec.IsPerChannel && letter == LayoutGrammar.Channel;
            string name = char.ToLowerInvariant(letter).ToString();
            if (letter == LayoutGrammar.Channel && spec.Groups > 0)
            {
                // GroupNorm: C = (group, channel within group); statistics per group.
                // The group count is a literal: a const field costs the compiler's constant evaluation (issue 10's build cost).
                string groups = spec.Groups.ToString(System.Globalization.CultureInfo.InvariantCulture);
                axes.Add(new PlanAxis(GroupAxis, letter, groups, Reduced: false, param, Accumulated: true));
                axes.Add(new PlanAxis(ChannelsPerGroupAxis, letter, "(" + name + " / " + groups + ")", Reduced: true, param, Accumulated: false));
            }
            else
            {
                axes.Add(new PlanAxis(name, letter, name, isReduced, param, Accumulated: !isReduced));
            }
        }

        // A within-group channel axis that is innermost is short (C/G channels): vectorize across the
        // channels instead, with one accumulator per channel combined into its group afterwards.
        int last = axes.Count - 1;
        int leading = 0;
        while (leading < axes.Count && !axes[leading].Reduced) leading++;
        bool promoted = false;
        if (axes[last].Name == ChannelsPerGroupAxis &&
            Enumerable.Range(leading, last - leading).Any(i => axes[i].Reduced))
        {
            axes[last] = axes[last] with { Accumulated = true };
            promoted = true;
        }

        // Blocks: when the innermost axis is reduced, every kept axis indexes blocks, so a statistic's elements
        // (contiguous runs) are normalized right after their statistics while in cache (BatchNorm NCHW: a channel).
        // When the innermost axis is kept, its statistics are strided through everything after the leading kept
        // axes, so only those index blocks.
        bool innermostReduced = !axes[last].Accumulated;
        for (int i = 0; i < axes.Count; i++)
            if (!axes[i].Reduced && (innermostReduced || i < leading)) axes[i] = axes[i] with { Block = true };
        int blockAxes = axes.Count(a => a.Block);

        var statSegments = Fold(axes, a => a.Accumulated ? SegmentClass.Accumulated : SegmentClass.Reduced);
        var strategy = statSegments[statSegments.Count - 1].Class == SegmentClass.Accumulated ? ReduceStrategy.Vertical : ReduceStrategy.Horizontal;

        // Fold statistics and affine into one coefficient pair when some axis inside the block indexes
        // neither (the pair is then reused along it); otherwise apply them in two multiply-adds.
        bool reuse = axes.Any(a => !a.Block && a.Reduced && !a.Param);
        var form = reuse ? ApplyForm.Fold : ApplyForm.TwoStep;
        var applySegments = form == ApplyForm.Fold
            ? Fold(axes, a => !a.Reduced || a.Param ? SegmentClass.Fold : SegmentClass.Constant)
            : Fold(axes, a => (!a.Reduced ? SegmentClass.Statistic : SegmentClass.Constant) | (a.Param ? SegmentClass.Parameter : SegmentClass.Constant));

        // Backward: per fold index f (every axis inside the block that indexes statistics or parameters) the sums of dy and
        // dy * (x - mean), then dx = dy * P[f] + (x - mean) * Q[f] + R[f]. Same classes as the Fold apply.
        var gradientSegments = Fold(axes, a => !a.Reduced || a.Param ? SegmentClass.Fold : SegmentClass.Constant);
        // Two-step with one statistic per block: the fold index would be the element, so sum per statistic instead.
        bool gradientPerStatistic = form == ApplyForm.TwoStep && blockAxes > 0 && !axes.Any(a => !a.Reduced && !a.Block) && spec.HasAffine;

        bool batchReduced = reduced.Contains(LayoutGrammar.Batch);
        string runningSize = "";
        if (batchReduced)
        {
            var sizeKind = LayoutGrammar.RunningSize(spec.Layout, reduced, spec.Groups, (int)spec.Affine);
            runningSize = sizeKind switch
            {
                LayoutGrammar.RunningSizeKind.One => "1",
                LayoutGrammar.RunningSizeKind.Groups => spec.Groups.ToString(System.Globalization.CultureInfo.InvariantCulture),
                LayoutGrammar.RunningSizeKind.Channels => "channels",
                LayoutGrammar.RunningSizeKind.NormalizedSize => "normalizedSize",
                _ => "",
            };
        }

        // What the kind offers: shards and the synchronized backward need a mean (and the backward summing per fold index);
        // AdaIN an instance-shaped layer: kept axes exactly N and C, no groups, affine per channel or none, blocks, folded apply.
        var kind = KindModel.For(spec.Kind);
        string kept = new string(axes.Where(a => !a.Reduced).Select(a => a.Letter).OrderBy(l => l).ToArray());
        bool adaptive = kind.Centered && spec.Groups == 0 && !spec.IsElementwise && blockAxes > 0 && form == ApplyForm.Fold && kept == "CN" && axes.Count > 2;
        // An epilogue belongs to the layer's forward and backward: the shard, synchronized and AdaIN forms stay the plain norm's.
        // AdaIN's style has its own extents along the reduced axes: a layer whose extents are fixed (Sizes) has no AdaIN.
        var epilogue = EpilogueModel.For(spec.Activation, spec.Residual);
        // A Half layer (Half tensors on the float kernels through the runtime's Half wrappers) has the forward and backward only.
        bool plain = epilogue.IsNone && !spec.IsHalf;
        return new KernelPlan(new EquatableArray<PlanAxis>(axes), blockAxes, statSegments, strategy, promoted,
            form, applySegments, gradientSegments, gradientPerStatistic, batchReduced, runningSize,
            kind, Shards: kind.Centered && plain, Synchronized: batchReduced && kind.Centered && !gradientPerStatistic && plain, Adaptive: adaptive && plain && spec.Sizes.Length == 0,
            Epilogue: epilogue);
    }

    /// <summary>The non-block axes folded into segments: neighbours in memory (consecutive axes) of one class.</summary>
    private static EquatableArray<Segment> Fold(List<PlanAxis> axes, System.Func<PlanAxis, SegmentClass> classOf)
    {
        var segments = new List<Segment>();
        for (int i = 0; i < axes.Count; i++)
        {
            if (axes[i].Block) continue;
            SegmentClass cls = classOf(axes[i]);
            if (segments.Count > 0 && segments[segments.Count - 1].Class == cls && segments[segments.Count - 1].Last == i - 1)
                segments[segments.Count - 1] = segments[segments.Count - 1] with { Last = i };
            else
                segments.Add(new Segment(i, i, cls));
        }
        return new EquatableArray<Segment>(segments);
    }
}
