using System;

namespace NormKernels;

/// <summary>
/// Turns a <c>partial class</c> into a weight normalization (Salimans &amp; Kingma 2016), specialized at compile time for one
/// memory layout and one set of reduced axes, with PyTorch's semantics (<c>torch._weight_norm(v, g, dim)</c>, what
/// <c>nn.utils.weight_norm</c> computes): <c>w = g * v / ||v||</c>, where <c>||v||</c> is the Euclidean norm of v over the
/// <see cref="Axes"/>, one norm (and one <c>g</c>) per index of the kept axes (the letters of <see cref="Layout"/> not in
/// <see cref="Axes"/>). There is no epsilon, as in PyTorch: a slice of v whose norm is zero gives NaN.
/// </summary>
/// <example><code>
/// [WeightNormalize(Layout = "OIHW", Axes = "I,H,W")]   // a Conv2d weight, PyTorch's weight_norm(conv, dim=0): g has O entries
/// public sealed partial class ConvWeightNorm;
///
/// [WeightNormalize(Layout = "OI", Axes = "I")]         // a Linear weight [out_features, in_features]
/// public sealed partial class LinearWeightNorm;
/// </code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class WeightNormalizeAttribute : Attribute
{
    /// <summary>Distinct upper-case axis letters of the weight tensor in memory order, outermost first (<c>OIHW</c> for a
    /// Conv2d weight, <c>OI</c> for a Linear weight, <c>HWIO</c> for a channels-last kernel, ...). The letters are names only.</summary>
    public string Layout { get; set; } = "OIHW";

    /// <summary>The reduced axes, comma-separated letters of <see cref="Layout"/> (<c>"I,H,W"</c> on OIHW: one norm per output
    /// channel, PyTorch's <c>dim=0</c>). Required (NK0005 without it); at least one letter of the layout must stay out of it
    /// (NK0033): the kept axes index <c>g</c>.</summary>
    public string Axes { get; set; } = "";

    /// <summary>The element type of the tensors: <c>typeof(float)</c> (default) or <c>typeof(double)</c>.</summary>
    public Type ElementType { get; set; } = typeof(float);
}
