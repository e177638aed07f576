using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Linq;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' public members, documented there.
#pragma warning disable CS1591

/// <summary>
/// What a generated layer's public surface needs to know about its shape, built once per layer type from its attribute:
/// the layout and the reduced axes, the groups, the affine mode and the norm kind. The shared surface
/// (<see cref="Kernels{TNest, TK, T}"/>, <see cref="NormLayer{TNest, TK, T}"/>) checks the arguments against it, with the
/// parameter names and messages the generated code used to spell out per layer.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class LayerShape
{
    private readonly bool[] _reduced;
    private readonly int _batch; // N's index in the layout, -1 without one
    private readonly (int Dim, bool Reduced, int Part, string Text)[] _axes; // plan axes: Part 0 whole dim, 1 group count, 2 channels per group

    /// <param name="typeName">The layer's type name, for the thread guard's messages.</param>
    /// <param name="layout">The layout letters, outermost first (e.g. "NCHW").</param>
    /// <param name="axes">The reduced letters, comma-separated (e.g. "N,H,W").</param>
    /// <param name="groups">GroupNorm's group count, or 0.</param>
    /// <param name="affine">The affine parameters' shape.</param>
    /// <param name="kind">The norm kind.</param>
    /// <param name="features">What the layer offers beyond forward and backward.</param>
    /// <param name="sizes">The dims fixed at compile time (the attribute's <c>Sizes</c>, "C=768,H=8"), or empty.</param>
    public LayerShape(string typeName, string layout, string axes, int groups, AffineMode affine, NormKind kind, LayerFeatures features, string sizes = "")
    {
        TypeName = typeName;
        Calls = new[] { ".Forward (training)", ".Forward (inference)", ".Backward", ".ZeroGrad", ".ForwardWithStatistics", ".BackwardStatistics", ".BackwardWithStatistics" }
            .Select(call => typeName + call).ToArray();
        Layout = layout;
        Axes = axes;
        Groups = groups;
        Affine = affine;
        Kind = kind;
        Features = features;
        Names = new string[layout.Length];
        _reduced = new bool[layout.Length];
        for (int i = 0; i < layout.Length; i++)
        {
            Names[i] = char.ToLowerInvariant(layout[i]).ToString();
            _reduced[i] = axes.Contains(layout[i]);
        }
        DimsText = string.Join(", ", Names);
        Fixed = new int[layout.Length];
        foreach (string entry in sizes.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = entry.Split('=');
            Fixed[layout.IndexOf(parts[0].Trim()[0])] = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        Channel = layout.IndexOf('C');
        _batch = layout.IndexOf('N');
        BatchReduced = layout.IndexOf('N') is int batch and >= 0 && _reduced[batch];

        var plan = new List<(int, bool, int, string)>();
        for (int i = 0; i < layout.Length; i++)
        {
            if (i == Channel && groups > 0)
            {
                plan.Add((i, false, 1, "groups"));
                plan.Add((i, true, 2, "c / groups"));
            }
            else plan.Add((i, _reduced[i], 0, Names[i]));
        }
        _axes = plan.ToArray();
        var kept = new List<string>();
        var reduced = new List<string>();
        foreach (var axis in _axes) (axis.Reduced ? reduced : kept).Add(axis.Text);
        KeptText = kept.Count > 0 ? string.Join(", ", kept) : "a single statistic";
        ReducedText = string.Join(", ", reduced);
        FirstReduced = Names[Array.Find(_axes, a => a.Reduced).Dim];
        var sample = new List<string>();
        for (int i = 0; i < layout.Length; i++) if (layout[i] != 'N') sample.Add(Names[i]);
        SampleText = string.Join(", ", sample);
        FirstSample = sample.Count > 0 ? sample[0] : Names[0];
        ParameterText = affine switch
        {
            AffineMode.PerChannel => "one per channel (c)",
            AffineMode.Elementwise => "one per element of a sample (" + SampleText + ", layout order)",
            _ => "empty (no affine parameters)",
        };
        StatisticText = "one per statistic: " + KeptText;
        StyleNames = new string[layout.Length];
        for (int i = 0; i < layout.Length; i++) StyleNames[i] = _reduced[i] ? "style" + layout[i] : Names[i];
        StyleText = string.Join(", ", StyleNames);
        Outputs = kind == NormKind.RootMeanSquare ? new[] { "meanSquare" } : new[] { "mean", "variance" };
        OneKeptAxis = FindOneKeptAxis();
    }

    /// <summary>The one kept axis of a layer whose statistics and parameters all sit on it (every other axis reduced, no
    /// groups, parameters per channel on that axis or none), or -1.</summary>
    public int OneKeptAxis { get; }

    private int FindOneKeptAxis()
    {
        if (Groups != 0 || Affine == AffineMode.Elementwise) return -1;
        int kept = -1;
        for (int i = 0; i < Layout.Length; i++)
        {
            if (_reduced[i]) continue;
            if (kept >= 0) return -1;
            kept = i;
        }
        return kept < 0 || Affine == AffineMode.PerChannel && kept != Channel ? -1 : kept;
    }

    public string TypeName { get; }

    /// <summary>The thread guard's names of the instance calls, built once (a call allocates nothing).</summary>
    public string[] Calls { get; }
    public string Layout { get; }

    /// <summary>The reduced letters as the declaration wrote them, comma-separated ("N,H,W").</summary>
    public string Axes { get; }
    public int Groups { get; }
    public AffineMode Affine { get; }
    public NormKind Kind { get; }
    public LayerFeatures Features { get; }

    /// <summary>The dims' parameter names, lower-case layout letters.</summary>
    public string[] Names { get; }

    /// <summary>AdaIN's style dims: the reduced ones are "styleH", "styleW".</summary>
    public string[] StyleNames { get; }
    public string StyleText { get; }

    /// <summary>Whether the layout's dim <paramref name="i"/> is reduced.</summary>
    public bool IsReduced(int i) => _reduced[i];

    /// <summary>"n, c, h, w".</summary>
    public string DimsText { get; }

    /// <summary>The index of C in the layout, or -1.</summary>
    public int Channel { get; }

    /// <summary>N is reduced: the layer has an inference forward with given statistics (and keeps running statistics unless
    /// declared with <c>TrackRunningStats = false</c>: see <see cref="RunningStatistics"/>).</summary>
    public bool BatchReduced { get; }

    /// <summary>The layer keeps running statistics (N reduced, <c>TrackRunningStats</c> true): an inference-mode Forward
    /// normalizes with them and a training-mode Forward updates them. Without them both normalize with the batch's own statistics.</summary>
    public bool RunningStatistics
    {
        // Read on every call: inlined (left a call, it ran at tier 0 for the first calls).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BatchReduced && (Features & LayerFeatures.RunningStatistics) != 0;
    }

    public string KeptText { get; }
    public string ReducedText { get; }
    public string FirstReduced { get; }
    public string SampleText { get; }
    public string FirstSample { get; }
    public string ParameterText { get; }

    /// <summary>"one per statistic: c".</summary>
    public string StatisticText { get; }

    /// <summary>The kind's statistics' parameter names: mean and variance, or meanSquare.</summary>
    public string[] Outputs { get; }

    /// <summary>The kind subtracts the mean (the statistics need more than one value).</summary>
    public bool Centered => Kind != NormKind.RootMeanSquare;

    /// <summary>The dims' count is the layout's length.</summary>
    public void Rank(int length) => Checks.Rank(length, Layout, "dims");

    /// <summary>Every dim positive (and C divisible by the groups); returns the element count, checked against the
    /// lengths of the input and the output.</summary>
    public int Shape(ReadOnlySpan<int> dims, int inputLength, int outputLength, string input = "input", string output = "output")
    {
        Positive(dims);
        int count = Checks.Count(dims, Names, DimsText);
        Checks.Length(inputLength, count, input, DimsText);
        Checks.Length(outputLength, count, output, DimsText);
        return count;
    }

    /// <summary>Per dim in layout order, its value fixed at compile time (the attribute's <c>Sizes</c>), or 0.</summary>
    public int[] Fixed { get; }

    /// <summary>
    /// A call's <see cref="Shape"/>, <see cref="LayerSize"/> and <see cref="Statistics"/> in one pass when the call is valid,
    /// with no call per dim; any failure runs the checks one by one, in their order, and they throw as they always did
    /// (naming the argument). Returns the element count; <paramref name="statistics"/> gets the statistic count. (A decode
    /// step's [1, 768] spent about a tenth of its call in the one-by-one checks.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Call(ReadOnlySpan<int> dims, int inputLength, int outputLength, int size, out int statistics)
    {
        int[] fixedDims = Fixed;
        if (dims.Length == fixedDims.Length)
        {
            long count = 1, sample = 1;
            bool ok = true;
            for (int i = 0; i < dims.Length; i++)
            {
                int d = dims[i], f = fixedDims[i];
                ok &= d > 0 & (f == 0 | d == f);
                count *= d;
                if (i != _batch) sample *= d;
                if (count > int.MaxValue | count <= 0) { ok = false; break; }
            }
            if (ok && Groups > 0) ok = dims[Channel] % Groups == 0;
            ok = ok && count == inputLength && count == outputLength
                && (Affine == AffineMode.Elementwise ? sample == size : Channel < 0 || dims[Channel] == size);
            if (ok)
            {
                long kept = 1;
                foreach (var axis in _axes)
                    if (!axis.Reduced) kept *= axis.Part == 1 ? Groups : dims[axis.Dim];
                statistics = (int)kept;
                return (int)count;
            }
        }
        int total = Shape(dims, inputLength, outputLength);
        LayerSize(dims, size);
        statistics = Statistics(dims);
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Positive(ReadOnlySpan<int> dims)
    {
        Checks.PositiveDims(dims, Names, Layout);
        for (int i = 0; i < Fixed.Length; i++)
            if (Fixed[i] != 0) Checks.Equal(dims[i], Fixed[i], Names[i], "fixed at compile time by the layer's Sizes");
        if (Groups > 0) Checks.Divisible(dims[Channel], Groups, "c");
    }

    /// <summary>The number of statistics: the product of the kept extents.</summary>
    public int StatisticCount(ReadOnlySpan<int> dims)
    {
        Positive(dims);
        return Product(dims, reduced: false, KeptText);
    }

    /// <summary>The number of statistics for dims <see cref="Shape"/> has checked already (no second pass over them).</summary>
    public int Statistics(ReadOnlySpan<int> dims) => Product(dims, reduced: false, KeptText);

    /// <summary>The values per statistic: the product of the reduced extents.</summary>
    public long CountPerStatistic(ReadOnlySpan<int> dims) => Product(dims, reduced: true, ReducedText);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Product(ReadOnlySpan<int> dims, bool reduced, string text)
    {
        int product = 1;
        foreach (var axis in _axes)
        {
            if (axis.Reduced != reduced) continue;
            int extent = axis.Part switch { 1 => Groups, 2 => dims[axis.Dim] / Groups, _ => dims[axis.Dim] };
            product = Checks.Multiply(product, extent, Names[axis.Dim], text, axis.Part == 0 ? null : axis.Text);
        }
        return product;
    }

    /// <summary>The affine parameters' length for these dims.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public int ParameterCount(ReadOnlySpan<int> dims)
    {
        if (Affine == AffineMode.PerChannel) return dims[Channel];
        if (Affine != AffineMode.Elementwise) return 0;
        int product = 1;
        for (int i = 0; i < dims.Length; i++)
            if (Layout[i] != 'N') product = Checks.Multiply(product, dims[i], Names[i], SampleText);
        return product;
    }

    /// <summary>The dims against the layer's own size: C against its channels, or a sample against its normalizedSize.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void LayerSize(ReadOnlySpan<int> dims, int size)
    {
        if (Affine == AffineMode.Elementwise) Checks.Product(ParameterCount(dims), size, FirstSample, SampleText, "the layer's normalizedSize");
        else if (Channel >= 0) Checks.Equal(dims[Channel], size, "c", "the layer's channel count");
    }

    /// <summary>The statistic lengths of a call (the kind's outputs; a second slot past them is not checked).</summary>
    public void StatisticLengths(int statistics, int length0, int length1, bool running = false)
    {
        Checks.VectorLength(length0, statistics, running ? "runningMean" : Outputs[0], StatisticText);
        if (Outputs.Length > 1) Checks.VectorLength(length1, statistics, running ? "runningVar" : Outputs[1], StatisticText);
    }
}

/// <summary>What a layer offers beyond forward and backward (its plan decides).</summary>
[Flags]
[EditorBrowsable(EditorBrowsableState.Never)]
public enum LayerFeatures
{
    None = 0,

    /// <summary>ShardStatistics (mergeable statistics of a shard).</summary>
    Shards = 1,

    /// <summary>ForwardWithStatistics and the synchronized backward.</summary>
    Synchronized = 2,

    /// <summary>AdaIN (instance-shaped layers).</summary>
    Adaptive = 4,

    /// <summary>Running statistics (N reduced and <c>TrackRunningStats</c> true): RunningMean, RunningVar, NumBatchesTracked.</summary>
    RunningStatistics = 8,
}
