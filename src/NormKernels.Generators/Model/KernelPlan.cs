using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

/// <summary>
/// One axis of the planned loop nest. A layout letter is one axis, except C with Groups, which splits
/// into a kept group axis <c>grp</c> (outer) and a reduced within-group axis <c>cpg</c> (inner).
/// </summary>
/// <param name="Name">Identifier fragment: the lower-case letter, or <c>grp</c>/<c>cpg</c>.</param>
/// <param name="Letter">The layout letter it comes from.</param>
/// <param name="Extent">C# expression of its extent over the Forward parameters (<c>h</c>, <c>8</c>, <c>(c / 8)</c> for 8 groups).</param>
/// <param name="Reduced">Statistics are taken over it.</param>
/// <param name="Param">It indexes Weight/Bias.</param>
/// <param name="Accumulated">The statistics pass keeps separate accumulators along it: kept axes, plus a
/// within-group channel axis promoted so that channels-last GroupNorm vectorizes across channels.</param>
/// <param name="Block">It indexes the blocks: statistics, coefficients and apply run per block while it is in cache.</param>
internal sealed record PlanAxis(string Name, char Letter, string Extent, bool Reduced, bool Param, bool Accumulated, bool Block = false);

/// <summary>What a segment's axes are to a pass: a flag set, printed in the plan remarks as the letters in brackets.</summary>
[System.Flags]
internal enum SegmentClass
{
    /// <summary>"-": nothing the pass reads per index moves along it (the coefficients are constant along it).</summary>
    Constant = 0,

    /// <summary>"R": reduced into the statistics (statistics pass).</summary>
    Reduced = 1,

    /// <summary>"A": accumulated separately (statistics pass): kept axes, or a promoted within-group channel axis.</summary>
    Accumulated = 2,

    /// <summary>"F": indexes the folded coefficients (apply, backward).</summary>
    Fold = 4,

    /// <summary>"S": indexes the statistics (two-step apply).</summary>
    Statistic = 8,

    /// <summary>"P": indexes the affine parameters (two-step apply).</summary>
    Parameter = 16,
}

/// <summary>Neighbouring axes of one class folded into a single loop.</summary>
/// <param name="First">Index of the outermost axis in <see cref="KernelPlan.Axes"/>.</param>
/// <param name="Last">Index of the innermost axis.</param>
/// <param name="Class">What the axes are to the pass (<see cref="SegmentClass"/>).</param>
internal sealed record Segment(int First, int Last, SegmentClass Class)
{
    /// <summary>The class as the plan remarks print it: "R", "A", "F", "-", "S", "P" or "SP".</summary>
    public string ClassText => Class switch
    {
        SegmentClass.Constant => "-",
        SegmentClass.Reduced => "R",
        SegmentClass.Accumulated => "A",
        SegmentClass.Fold => "F",
        _ => ((Class & SegmentClass.Statistic) != 0 ? "S" : "") + ((Class & SegmentClass.Parameter) != 0 ? "P" : ""),
    };
}

/// <summary>How the statistics pass reduces its innermost segment.</summary>
internal enum ReduceStrategy
{
    /// <summary>Innermost segment reduced: a contiguous run summed across vector lanes (LN rows, BN NCHW planes).</summary>
    Horizontal,

    /// <summary>Innermost segment accumulated separately: vectors across it, summed down the rows of the reduced segment
    /// enclosing it (BN/IN/GN channels-last).</summary>
    Vertical,
}

/// <summary>How the apply pass combines statistics and affine parameters.</summary>
internal enum ApplyForm
{
    /// <summary><c>y = (x - C[f]) * A[f] + B[f]</c> (RMSNorm: no C): statistics and affine folded into coefficients per fold index,
    /// reused along at least one axis that indexes neither.</summary>
    Fold,

    /// <summary><c>y = ((x - c[s]) * a[s] + b[s]) * gamma[p] + beta[p]</c> (RMSNorm: no c): every axis indexes statistics or parameters,
    /// so folded coefficients would be as large as the data.</summary>
    TwoStep,
}

/// <summary>The plan of a layer: everything the emitter reads besides the <see cref="NormSpec"/>.</summary>
/// <param name="Axes">Virtual axes in memory order, outermost first.</param>
/// <param name="BlockAxes">How many axes are block axes (<see cref="PlanAxis.Block"/>). Each index combination of the block axes
/// is a block whose statistics depend on that block alone, so statistics, coefficients and apply run back to back on it while
/// it is in cache: every kept axis when the innermost axis is reduced (a BatchNorm NCHW channel is N contiguous H*W runs),
/// otherwise the leading kept axes (a channels-last channel is strided through the whole tensor).</param>
/// <param name="StatSegments">The non-block axes folded by R/A class, neighbours in memory only (the first is always R).</param>
/// <param name="Strategy">Innermost reduction strategy.</param>
/// <param name="Promoted">Some reduced axis is accumulated separately and combined into its statistic afterwards.</param>
/// <param name="Form">Apply form.</param>
/// <param name="ApplySegments">Axes inside a block folded by apply signature.</param>
/// <param name="GradientSegments">Axes inside a block folded for the backward passes: Fold where the axis indexes statistics or
/// parameters (the backward's per-index sums and coefficients move along it), Constant where they are constant. In the Fold form
/// this is <paramref name="ApplySegments"/>; in the TwoStep form every axis inside the block is Fold.</param>
/// <param name="GradientPerStatistic">The backward sums per statistic instead of per fold index: a two-step plan with one
/// statistic per block (every axis inside it indexes the parameters), whose fold index would be the element itself, so
/// its sums run with gamma loaded along the run and the parameter gradients are added per element.</param>
/// <param name="BatchReduced">N is reduced: the layer keeps running statistics.</param>
/// <param name="RunningSize">C# expression (over ctor fields) of the running-statistics length, or empty.</param>
/// <param name="Kind">The norm kind's model entry: its statistics, formulas and runtime operator.</param>
/// <param name="Shards">The layer offers mergeable shard statistics (ShardStatistics; ForwardWithStatistics when N is reduced).</param>
/// <param name="Synchronized">The layer offers the synchronized backward (BackwardStatistics, BackwardWithStatistics).</param>
/// <param name="Adaptive">The layer is instance-shaped and offers AdaIN (AdaptiveForward).</param>
internal sealed record KernelPlan(
    EquatableArray<PlanAxis> Axes,
    int BlockAxes,
    EquatableArray<Segment> StatSegments,
    ReduceStrategy Strategy,
    bool Promoted,
    ApplyForm Form,
    EquatableArray<Segment> ApplySegments,
    EquatableArray<Segment> GradientSegments,
    bool GradientPerStatistic,
    bool BatchReduced,
    string RunningSize,
    KindModel Kind,
    bool Shards,
    bool Synchronized,
    bool Adaptive,
    EpilogueModel Epilogue)
{
    /// <summary>The pattern of the whole layout, e.g. "R K R" for BatchNorm NCHW (kept block axes shown as K).</summary>
    public string Pattern
    {
        get
        {
            var parts = new System.Collections.Generic.List<string>();
            for (int i = 0; i < Axes.Count; i++)
            {
                string cls = Axes[i].Reduced ? "R" : "K";
                if (parts.Count == 0 || parts[parts.Count - 1] != cls) parts.Add(cls);
            }
            return string.Join(" ", parts);
        }
    }
}
