using System;

namespace NormKernels;

/// <summary>
/// Turns a <c>partial class</c> into a normalization layer specialized at compile time for one memory
/// layout and one set of reduced axes: <c>y = (x - mean_S) / sqrt(var_S + eps) * gamma + beta</c>,
/// where S is the set of elements that share every index outside <see cref="Axes"/>.
/// </summary>
/// <example><code>
/// [Normalize(Layout = "NHWC", Axes = "N,H,W")]   // BatchNorm for a channels-last conv net
/// public sealed partial class StemNorm;
/// </code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class NormalizeAttribute : Attribute
{
    /// <summary>Distinct upper-case axis letters in memory order, outermost first (<c>NCHW</c>, <c>NHWC</c>, <c>NTC</c>, ...).
    /// <c>N</c> is the batch axis, <c>C</c> the channel axis; every other letter is spatial or sequence.</summary>
    public string Layout { get; set; } = "NCHW";

    /// <summary>The reduced axes, comma-separated letters of <see cref="Layout"/> (<c>"N,H,W"</c> is BatchNorm on NCHW).</summary>
    public string Axes { get; set; } = "";

    /// <summary>Number of channel groups (GroupNorm); 0 means no groups. Requires <c>C</c> among <see cref="Axes"/>.</summary>
    public int Groups { get; set; }

    /// <summary>Standardize (subtract the mean, divide by the standard deviation) or divide by the root mean square.</summary>
    public NormKind Kind { get; set; } = NormKind.Standardize;

    /// <summary>How the learned scale and shift are indexed; <see cref="AffineMode.PerChannel"/> when not written. A declaration
    /// whose <see cref="Axes"/> are every axis of a sample but N, more than one of them and C among them, without <see cref="Groups"/>
    /// (LayerNorm over <c>C,H,W</c>), must write it (NK0031): <see cref="AffineMode.Elementwise"/> is PyTorch's
    /// <c>nn.LayerNorm([C, H, W])</c>, <see cref="AffineMode.PerChannel"/> its <c>nn.GroupNorm(1, C)</c>.</summary>
    public AffineMode Affine { get; set; } = AffineMode.PerChannel;

    /// <summary>Added to the variance inside the square root; the default of the generated constructor's <c>epsilon</c>.</summary>
    public double Epsilon { get; set; } = 1e-5;

    /// <summary>Running-statistics momentum: <c>running = (1 - m) * running + m * batch</c>; the constructor's default.
    /// PyTorch's <c>momentum=None</c> (the cumulative moving average, <c>m = 1 / NumBatchesTracked</c>) is the layer's
    /// <c>momentum: null</c> (constructor) or <c>Momentum = null</c> (property); an attribute value cannot be null.</summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>PyTorch's <c>track_running_stats</c>, for layers whose <see cref="Axes"/> reduce <c>N</c> (BatchNorm). True (default):
    /// the layer keeps <c>RunningMean</c>, <c>RunningVar</c> and <c>NumBatchesTracked</c>, updates them in training and normalizes with
    /// them in inference. False: none of these (and no <c>momentum</c>); inference-mode <c>Forward</c> normalizes with the batch's own
    /// statistics, as training does. Layers that do not reduce <c>N</c> have no running statistics; writing <c>true</c> on one is NK0032.</summary>
    public bool TrackRunningStats { get; set; } = true;

    /// <summary>The element type of the tensors, weights and statistics: <c>typeof(float)</c> (default) or <c>typeof(double)</c>.
    /// Double layers run the same plans on double vectors (half the lanes) and implement <c>INormalizationLayer&lt;double&gt;</c>.</summary>
    public Type ElementType { get; set; } = typeof(float);

    /// <summary>An activation fused into the output pass: <c>y = act(norm(x))</c> (PyTorch's <c>F.relu</c>, <c>F.silu</c>,
    /// <c>F.gelu</c>, <c>F.gelu(approximate="tanh")</c>). Backward differentiates through it, recomputing the pre-activation
    /// from the input and the saved statistics.</summary>
    public NormActivation Activation { get; set; }

    /// <summary>A residual added in the same pass: after the norm (<c>y = act(norm(x) + residual)</c>, ResNet's tail) or before
    /// it (<c>sum = x + residual; y = act(norm(sum))</c>, a pre-norm transformer; the sum is written). The layer's Forward and
    /// Backward take the residual spans.</summary>
    public ResidualMode Residual { get; set; }

    /// <summary>Layout letters fixed at compile time, <c>"C=768"</c> or <c>"H=8,W=8"</c>: the generated loops use them as
    /// constants, and a call whose dims (or a constructor whose channel count) differ throws ArgumentException naming the dim.
    /// Empty (default): every extent comes from the call.</summary>
    public string Sizes { get; set; } = "";
}

/// <summary>The activation a <see cref="NormalizeAttribute"/> layer applies to its output (PyTorch's functional names).</summary>
public enum NormActivation
{
    /// <summary>No activation.</summary>
    None = 0,

    /// <summary><c>max(y, 0)</c> (<c>F.relu</c>).</summary>
    Relu = 1,

    /// <summary><c>y * sigmoid(y)</c> (<c>F.silu</c>).</summary>
    Silu = 2,

    /// <summary><c>y * Phi(y)</c> with the exact normal CDF, <c>(1 + erf(y / sqrt 2)) / 2</c> (<c>F.gelu</c>).</summary>
    Gelu = 3,

    /// <summary><c>y / 2 * (1 + tanh(sqrt(2 / pi) * (y + 0.044715 y^3)))</c> (<c>F.gelu(approximate="tanh")</c>).</summary>
    GeluTanh = 4,
}

/// <summary>Where a <see cref="NormalizeAttribute"/> layer adds a residual tensor of the input's shape.</summary>
public enum ResidualMode
{
    /// <summary>No residual.</summary>
    None = 0,

    /// <summary><c>sum = input + residual; y = act(norm(sum))</c>; the sum is written (the next layer's residual stream).</summary>
    AddBeforeNorm = 1,

    /// <summary><c>y = act(norm(input) + residual)</c>.</summary>
    AddAfterNorm = 2,
}

/// <summary>What a normalization divides by.</summary>
public enum NormKind
{
    /// <summary><c>(x - mean) / sqrt(var + eps)</c>: BatchNorm, LayerNorm, InstanceNorm, GroupNorm.</summary>
    Standardize = 0,

    /// <summary><c>x / sqrt(mean(x^2) + eps)</c>: RMSNorm. No mean is subtracted.</summary>
    RootMeanSquare = 1,
}

/// <summary>How <c>Weight</c> (gamma) and <c>Bias</c> (beta) are indexed.</summary>
public enum AffineMode
{
    /// <summary>One weight and bias per channel (PyTorch BatchNorm, GroupNorm, InstanceNorm(affine=True)).</summary>
    PerChannel = 0,

    /// <summary>One weight and bias per element of a sample, in layout order without N (PyTorch LayerNorm's
    /// <c>elementwise_affine</c>; BatchNorm per activation).</summary>
    Elementwise = 1,

    /// <summary>No learned scale or shift.</summary>
    None = 2,
}
