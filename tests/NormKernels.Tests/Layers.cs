using System.Reflection;
using NormKernels.Reference;

namespace NormKernels.Tests;

// ---- The layers under test: one generated class per declaration ----------------------------------------------------

// BatchNorm (conv): statistics per channel, running statistics.
[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class BnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W", Epsilon = 1e-3, Momentum = 0.3)] public sealed partial class BnNhwc;
[Normalize(Layout = "NC", Axes = "N")] public sealed partial class BnNc;
[Normalize(Layout = "NCL", Axes = "N,L")] public sealed partial class BnNcl;
[Normalize(Layout = "NLC", Axes = "N,L")] public sealed partial class BnNlc;
[Normalize(Layout = "NCDHW", Axes = "N,D,H,W")] public sealed partial class BnNcdhw;
[Normalize(Layout = "NDHWC", Axes = "N,D,H,W", Momentum = 0.05)] public sealed partial class BnNdhwc;
[Normalize(Layout = "NHWC", Axes = "N,H,W", Affine = AffineMode.None)] public sealed partial class BnNhwcNoAffine;
// BatchNorm per activation: one statistic, weight and running entry per element of a sample.
[Normalize(Layout = "NCHW", Axes = "N", Affine = AffineMode.Elementwise)] public sealed partial class BnPerActivationNchw;
// Every axis reduced: one statistic (running arrays of length 1), or one per group.
[Normalize(Layout = "NC", Axes = "N,C")] public sealed partial class BnNcAllAxes;
[Normalize(Layout = "NCHW", Axes = "N,C,H,W", Groups = 2)] public sealed partial class GnNchwAllAxes;

// LayerNorm: statistics per sample.
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.PerChannel)] public sealed partial class LnNchw;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Affine = AffineMode.PerChannel)] public sealed partial class LnNhwc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.Elementwise)] public sealed partial class LnNchwElementwise;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Affine = AffineMode.Elementwise)] public sealed partial class LnNhwcElementwise;
[Normalize(Layout = "NTC", Axes = "C")] public sealed partial class LnNtc;
[Normalize(Layout = "NTC", Axes = "C", Affine = AffineMode.None, Epsilon = 1e-6)] public sealed partial class LnNtcNoAffine;
// Statistics per (n, l) over C with weights per (c, l): every axis inside a block indexes statistics or parameters,
// with a kept axis among them (the backward's per-index sums run along the whole block, no "-" rows outside).
[Normalize(Layout = "NCL", Axes = "C", Affine = AffineMode.Elementwise)] public sealed partial class LnNclElementwise;
// No C and no affine: the constructor has no size argument.
[Normalize(Layout = "NL", Axes = "L", Affine = AffineMode.None)] public sealed partial class LnNlNoAffine;

// InstanceNorm: statistics per (sample, channel).
[Normalize(Layout = "NCHW", Axes = "H,W")] public sealed partial class InNchw;
[Normalize(Layout = "NHWC", Axes = "H,W")] public sealed partial class InNhwc;
[Normalize(Layout = "NCL", Axes = "L")] public sealed partial class InNcl;
[Normalize(Layout = "NLC", Axes = "L")] public sealed partial class InNlc;
[Normalize(Layout = "NCDHW", Axes = "D,H,W")] public sealed partial class InNcdhw;
[Normalize(Layout = "NDHWC", Axes = "D,H,W")] public sealed partial class InNdhwc;
[Normalize(Layout = "NCHW", Axes = "H,W", Affine = AffineMode.None)] public sealed partial class InNchwNoAffine;

// GroupNorm: statistics per (sample, group).
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 4)] public sealed partial class GnNchw;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 4)] public sealed partial class GnNhwc;
[Normalize(Layout = "NDHWC", Axes = "C,D,H,W", Groups = 4)] public sealed partial class GnNdhwc;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 1)] public sealed partial class GnNhwcOneGroup;
// Six groups a sample: a block's statistics four at a time and then two more (Forward.FinishStatistics).
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 6)] public sealed partial class GnNhwcSixGroups;

// RMSNorm: no mean subtracted.
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare)] public sealed partial class RmsNtc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Kind = NormKind.RootMeanSquare, Affine = AffineMode.Elementwise)] public sealed partial class RmsNchwElementwise;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Kind = NormKind.RootMeanSquare, Affine = AffineMode.PerChannel)] public sealed partial class RmsNchw;
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare, Affine = AffineMode.None)] public sealed partial class RmsNtcNoAffine;

// ---- The table the tests iterate ---------------------------------------------------------------------------------

/// <summary>Runs the generated, layout-typed <c>Forward(input, output, n, c, h, w)</c> of a layer with dims in layout order.</summary>
public delegate void TypedForward(INormalizationLayer layer, ReadOnlySpan<float> input, Span<float> output, int[] dims);

/// <summary>A generated static <c>ForwardTraining</c>: Standardize writes (mean, variance) into (first, second);
/// RootMeanSquare writes the mean square into first and ignores second.</summary>
public delegate KernelPath StaticTraining(ReadOnlySpan<float> input, Span<float> output, int[] dims,
    ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> first, Span<float> second, float epsilon);

/// <summary>A generated static <c>ForwardInference</c> (layers that reduce N).</summary>
public delegate KernelPath StaticInference(ReadOnlySpan<float> input, Span<float> output, int[] dims,
    ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon);

/// <summary>One generated layer and typed access to its members; the declaration is read back from the attribute,
/// so the reference is built from what the user wrote, not from what the generated code reports.</summary>
public sealed class LayerCase
{
    public required Type Type { get; init; }

    /// <summary>Builds a layer sized for <c>dims</c> (layout order): channels, normalizedSize, or nothing.</summary>
    public required Func<int[], INormalizationLayer> Create { get; init; }

    public required Func<int[], int> StatisticCount { get; init; }
    public required TypedForward Forward { get; init; }
    public required StaticTraining Training { get; init; }
    public StaticInference? Inference { get; init; }

    public string Name => Type.Name;
    public NormalizeAttribute Declaration => Type.GetCustomAttribute<NormalizeAttribute>()!;
    public NormReference Reference => new(Declaration.Layout, Declaration.Axes, Declaration.Groups, Declaration.Kind, Declaration.Affine);
    public bool ReducesBatch => Reference.ReducesBatch;

    /// <summary>The momentum and epsilon the constructor defaults to (from the attribute), as the float the layer stores.</summary>
    public float DefaultMomentum => (float)Declaration.Momentum;
    public float DefaultEpsilon => (float)Declaration.Epsilon;

    /// <summary>Odd extents per letter; C is a multiple of every group count used (12) when grouped, else 7.</summary>
    public int[] Dims(int n = 3) =>
        Declaration.Layout.Select(letter => letter switch
        {
            'N' => n,
            'C' => Declaration.Groups > 0 ? 12 : 7,
            'H' => 5,
            'W' => 9,
            'D' => 3,
            'L' => 13,
            'T' => 11,
            _ => 5,
        }).ToArray();

    public override string ToString() => Name;
}

/// <summary>Every layer under test, by name.</summary>
public static class LayerCases
{
    private static LayerCase Case<T>(Func<int[], T> create, Func<int[], int> statisticCount,
        TypedForwardOf<T> forward, StaticTraining training, StaticInference? inference = null)
        where T : INormalizationLayer =>
        new()
        {
            Type = typeof(T),
            Create = dims => create(dims),
            StatisticCount = statisticCount,
            Forward = (layer, input, output, dims) => forward((T)layer, input, output, dims),
            Training = training,
            Inference = inference,
        };

    /// <summary>The typed <c>Forward</c> of one layer class.</summary>
    public delegate void TypedForwardOf<T>(T layer, ReadOnlySpan<float> input, Span<float> output, int[] dims);

    /// <summary>normalizedSize: the product of the non-batch extents (N is first in every layout here).</summary>
    private static int NonBatch(int[] d) => d.Skip(1).Aggregate(1, (a, b) => a * b);

    public static readonly IReadOnlyList<LayerCase> All =
    [
        Case(d => new BnNchw(d[1]), d => BnNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => BnNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNchw.ForwardInference(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new BnNhwc(d[3]), d => BnNhwc.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => BnNhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNhwc.ForwardInference(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new BnNc(d[1]), d => BnNc.StatisticCount(d[0], d[1]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1]),
            (i, o, d, w, b, m, v, e) => BnNc.ForwardTraining(i, o, d[0], d[1], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNc.ForwardInference(i, o, d[0], d[1], w, b, m, v, e)),
        Case(d => new BnNcl(d[1]), d => BnNcl.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => BnNcl.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNcl.ForwardInference(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new BnNlc(d[2]), d => BnNlc.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => BnNlc.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNlc.ForwardInference(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new BnNcdhw(d[1]), d => BnNcdhw.StatisticCount(d[0], d[1], d[2], d[3], d[4]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3], d[4]),
            (i, o, d, w, b, m, v, e) => BnNcdhw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNcdhw.ForwardInference(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e)),
        Case(d => new BnNdhwc(d[4]), d => BnNdhwc.StatisticCount(d[0], d[1], d[2], d[3], d[4]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3], d[4]),
            (i, o, d, w, b, m, v, e) => BnNdhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNdhwc.ForwardInference(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e)),
        Case(d => new BnNhwcNoAffine(d[3]), d => BnNhwcNoAffine.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => BnNhwcNoAffine.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNhwcNoAffine.ForwardInference(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new BnPerActivationNchw(NonBatch(d)), d => BnPerActivationNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => BnPerActivationNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnPerActivationNchw.ForwardInference(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new BnNcAllAxes(d[1]), d => BnNcAllAxes.StatisticCount(d[0], d[1]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1]),
            (i, o, d, w, b, m, v, e) => BnNcAllAxes.ForwardTraining(i, o, d[0], d[1], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => BnNcAllAxes.ForwardInference(i, o, d[0], d[1], w, b, m, v, e)),
        Case(d => new GnNchwAllAxes(d[1]), d => GnNchwAllAxes.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => GnNchwAllAxes.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e),
            (i, o, d, w, b, m, v, e) => GnNchwAllAxes.ForwardInference(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),

        Case(d => new LnNchw(d[1]), d => LnNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => LnNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new LnNhwc(d[3]), d => LnNhwc.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => LnNhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new LnNchwElementwise(NonBatch(d)), d => LnNchwElementwise.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => LnNchwElementwise.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new LnNhwcElementwise(NonBatch(d)), d => LnNhwcElementwise.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => LnNhwcElementwise.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new LnNtc(d[2]), d => LnNtc.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => LnNtc.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new LnNclElementwise(NonBatch(d)), d => LnNclElementwise.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => LnNclElementwise.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new LnNtcNoAffine(d[2]), d => LnNtcNoAffine.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => LnNtcNoAffine.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new LnNlNoAffine(), d => LnNlNoAffine.StatisticCount(d[0], d[1]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1]),
            (i, o, d, w, b, m, v, e) => LnNlNoAffine.ForwardTraining(i, o, d[0], d[1], w, b, m, v, e)),

        Case(d => new InNchw(d[1]), d => InNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => InNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new InNhwc(d[3]), d => InNhwc.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => InNhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new InNcl(d[1]), d => InNcl.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => InNcl.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new InNlc(d[2]), d => InNlc.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, m, v, e) => InNlc.ForwardTraining(i, o, d[0], d[1], d[2], w, b, m, v, e)),
        Case(d => new InNcdhw(d[1]), d => InNcdhw.StatisticCount(d[0], d[1], d[2], d[3], d[4]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3], d[4]),
            (i, o, d, w, b, m, v, e) => InNcdhw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e)),
        Case(d => new InNdhwc(d[4]), d => InNdhwc.StatisticCount(d[0], d[1], d[2], d[3], d[4]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3], d[4]),
            (i, o, d, w, b, m, v, e) => InNdhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e)),
        Case(d => new InNchwNoAffine(d[1]), d => InNchwNoAffine.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => InNchwNoAffine.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),

        Case(d => new GnNchw(d[1]), d => GnNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => GnNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new GnNhwc(d[3]), d => GnNhwc.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => GnNhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new GnNdhwc(d[4]), d => GnNdhwc.StatisticCount(d[0], d[1], d[2], d[3], d[4]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3], d[4]),
            (i, o, d, w, b, m, v, e) => GnNdhwc.ForwardTraining(i, o, d[0], d[1], d[2], d[3], d[4], w, b, m, v, e)),
        Case(d => new GnNhwcOneGroup(d[3]), d => GnNhwcOneGroup.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => GnNhwcOneGroup.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),
        Case(d => new GnNhwcSixGroups(d[3]), d => GnNhwcSixGroups.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, m, v, e) => GnNhwcSixGroups.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, m, v, e)),

        Case(d => new RmsNtc(d[2]), d => RmsNtc.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, ms, _, e) => RmsNtc.ForwardTraining(i, o, d[0], d[1], d[2], w, b, ms, e)),
        Case(d => new RmsNchwElementwise(NonBatch(d)), d => RmsNchwElementwise.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, ms, _, e) => RmsNchwElementwise.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, ms, e)),
        Case(d => new RmsNchw(d[1]), d => RmsNchw.StatisticCount(d[0], d[1], d[2], d[3]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2], d[3]),
            (i, o, d, w, b, ms, _, e) => RmsNchw.ForwardTraining(i, o, d[0], d[1], d[2], d[3], w, b, ms, e)),
        Case(d => new RmsNtcNoAffine(d[2]), d => RmsNtcNoAffine.StatisticCount(d[0], d[1], d[2]),
            (l, i, o, d) => l.Forward(i, o, d[0], d[1], d[2]),
            (i, o, d, w, b, ms, _, e) => RmsNtcNoAffine.ForwardTraining(i, o, d[0], d[1], d[2], w, b, ms, e)),
    ];

    public static LayerCase Get(string name) => All.Single(c => c.Name == name);

    /// <summary>Every layer name, for <c>[MemberData]</c>.</summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (LayerCase layerCase in All) data.Add(layerCase.Name);
            return data;
        }
    }
}
