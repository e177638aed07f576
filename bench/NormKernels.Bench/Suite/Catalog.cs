using System;
using System.Collections.Generic;
using System.Linq;

namespace NormKernels.Bench.Suite;

/// <summary>What an operation computes (its family decides the scalar and TensorPrimitives code).</summary>
public enum OpKind
{
    BatchNormTraining,
    BatchNormInference,
    LayerNorm,
    InstanceNorm,
    GroupNorm,
    RmsNorm,

    // Issue "training". A backward pass has its extra buffers in CaseData (output gradient in, input gradient out)
    // and a limit that moves its bytes (x and dy read, dx written: the Copy variant copies both inputs), so that its
    // ratio stays "time / least possible traffic". A new operation adds an arm to each factory (GeneratedLayers.Create,
    // Variants.Scalar/Tensors, and the op in bench_torch.py); NotYet marks catalog entries with nothing to measure yet.
    LocalResponseNorm,
    BatchNormBackward,
    LayerNormBackward,
    GroupNormBackward,
}

/// <summary>
/// One operation in one memory layout, e.g. "BatchNorm training, NHWC", and the shapes it runs on.
/// </summary>
/// <param name="Key">Stable id prefix, e.g. <c>bn-train-nhwc</c> (case ids append the shape: <c>bn-train-nhwc-S1</c>).</param>
/// <param name="Title">Human-readable name for tables.</param>
/// <param name="Layout">Memory layout as the generated layer declares it (<c>NC</c> = rows x last dim).</param>
/// <param name="Torch">The op name <c>bench/torch/bench_torch.py</c> understands.</param>
/// <param name="NotYet">Why there is nothing to measure yet; null when the generated kernel exists.</param>
public sealed record Operation(string Key, string Title, OpKind Kind, string Layout, string[] ShapeNames, string Torch, string? NotYet = null)
{
    public bool Exists => NotYet is null;

    /// <summary>A backward pass: reads x and the output gradient dy, writes the input gradient dx.</summary>
    public bool IsBackward => Kind is OpKind.BatchNormBackward or OpKind.LayerNormBackward or OpKind.GroupNormBackward;
}

/// <summary>One row of the result table: an operation on one shape.</summary>
public sealed record BenchCase(Operation Op, BenchShape Shape)
{
    /// <summary><c>bn-train-nhwc-S1</c>: the BenchmarkDotNet parameter value and the key in CSV and torch output.</summary>
    public string Id => $"{Op.Key}-{Shape.Name}";

    /// <summary>Bytes the least possible traffic moves: the tensor read and written once (forward), or x and dy read and
    /// dx written once (backward). The copy limit moves these bytes; GB/s columns divide them by the time.</summary>
    public long TrafficBytes => (Op.IsBackward ? 3 : 2) * Shape.Bytes;

    public override string ToString() => Id;
}

/// <summary>The benchmark matrix (the issue "Performance: the benchmark suite").</summary>
public static class Catalog
{
    private static readonly string[] Images = ["S1", "S2", "S3", "S5"];
    private static readonly string[] Rows = ["S4", "S6"];

    public static readonly Operation[] Operations =
    [
        new("bn-train-nchw", "BatchNorm training", OpKind.BatchNormTraining, "NCHW", Images, "bn_train"),
        new("bn-train-nhwc", "BatchNorm training", OpKind.BatchNormTraining, "NHWC", Images, "bn_train"),
        new("bn-infer-nchw", "BatchNorm inference", OpKind.BatchNormInference, "NCHW", Images, "bn_infer"),
        new("bn-infer-nhwc", "BatchNorm inference", OpKind.BatchNormInference, "NHWC", Images, "bn_infer"),
        new("ln-chw-nchw", "LayerNorm over C,H,W", OpKind.LayerNorm, "NCHW", Images, "ln_sample"),
        new("ln-last", "LayerNorm over the last dim", OpKind.LayerNorm, "NC", Rows, "ln_last"),
        new("in-nchw", "InstanceNorm", OpKind.InstanceNorm, "NCHW", Images, "instance"),
        new("in-nhwc", "InstanceNorm", OpKind.InstanceNorm, "NHWC", Images, "instance"),
        new("gn32-nchw", "GroupNorm(32)", OpKind.GroupNorm, "NCHW", Images, "group32"),
        new("gn32-nhwc", "GroupNorm(32)", OpKind.GroupNorm, "NHWC", Images, "group32"),
        new("rms-last", "RMSNorm over the last dim", OpKind.RmsNorm, "NC", Rows, "rms_last"),

        new("lrn5-nchw", "LocalResponseNorm(5)", OpKind.LocalResponseNorm, "NCHW", ["S1", "S2"], "lrn5"),
        new("lrn5-nhwc", "LocalResponseNorm(5)", OpKind.LocalResponseNorm, "NHWC", ["S1", "S2"], "lrn5"),
        new("bn-bwd-nchw", "BatchNorm backward", OpKind.BatchNormBackward, "NCHW", ["S1", "S2"], "bn_backward"),
        new("bn-bwd-nhwc", "BatchNorm backward", OpKind.BatchNormBackward, "NHWC", ["S1", "S2"], "bn_backward"),
        new("ln-bwd-last", "LayerNorm backward over the last dim", OpKind.LayerNormBackward, "NC", Rows, "ln_backward"),
        new("gn32-bwd-nchw", "GroupNorm(32) backward", OpKind.GroupNormBackward, "NCHW", ["S1", "S2"], "gn_backward"),
        new("gn32-bwd-nhwc", "GroupNorm(32) backward", OpKind.GroupNormBackward, "NHWC", ["S1", "S2"], "gn_backward"),
    ];

    /// <summary>Every case, in table order: by operation, then by shape.</summary>
    public static readonly BenchCase[] All =
        Operations.SelectMany(op => op.ShapeNames.Select(s => new BenchCase(op, Shapes.Get(s)))).ToArray();

    /// <summary>The cases the current run measures (set from <c>--cases</c>; every existing case by default).</summary>
    public static BenchCase[] Selected { get; private set; } = All;

    /// <summary>Restricts <see cref="Selected"/> to cases whose id contains one of the comma-separated patterns.</summary>
    public static void Select(string? patterns)
    {
        if (string.IsNullOrWhiteSpace(patterns)) { Selected = All; return; }
        var parts = patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Selected = All.Where(c => parts.Any(p => c.Id.Contains(p, StringComparison.OrdinalIgnoreCase))).ToArray();
    }

    /// <summary>The case with this id (any case, selected or not).</summary>
    public static BenchCase Find(string id) =>
        Array.Find(All, c => c.Id == id) ?? throw new ArgumentException($"unknown case '{id}'", nameof(id));

    /// <summary>The existing (measurable) selected cases.</summary>
    public static IEnumerable<BenchCase> Measurable => Selected.Where(c => c.Op.Exists);
}
