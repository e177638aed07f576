using System;

namespace NormKernels;

/// <summary>
/// Turns a <c>partial class</c> into a local response normalization layer (AlexNet), specialized at compile time for one
/// memory layout, with PyTorch's semantics (<c>torch.nn.functional.local_response_norm</c>):
/// <c>y_c = x_c / (K + Alpha / Size * sum_{j in W(c)} x_j^2)^Beta</c>, where the window
/// <c>W(c) = [c - Size/2, c + (Size-1)/2]</c> (integer division) runs across channels, clipped to <c>[0, C)</c>; the
/// clipped positions count as zeros (the sum is still divided by <see cref="Size"/>).
/// </summary>
/// <example><code>
/// [LocalResponseNormalize(Layout = "NCHW", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 1.0)]
/// public sealed partial class AlexNetLrn;
/// </code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class LocalResponseNormalizeAttribute : Attribute
{
    /// <summary>Distinct upper-case axis letters in memory order, outermost first; must contain <c>C</c>, the axis the window slides along.</summary>
    public string Layout { get; set; } = "NCHW";

    /// <summary>The number of neighbouring channels summed (the window size); at least 1.</summary>
    public int Size { get; set; } = 5;

    /// <summary>The multiplicative factor; the sum of squares is scaled by <c>Alpha / Size</c> (PyTorch's convention).</summary>
    public double Alpha { get; set; } = 1e-4;

    /// <summary>The exponent of the divisor.</summary>
    public double Beta { get; set; } = 0.75;

    /// <summary>The additive constant of the divisor.</summary>
    public double K { get; set; } = 1.0;

    /// <summary>The element type of the tensors: <c>typeof(float)</c> (default) or <c>typeof(double)</c>.</summary>
    public Type ElementType { get; set; } = typeof(float);
}
