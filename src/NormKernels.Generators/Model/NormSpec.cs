using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

// Models are immutable and structurally equatable (records of strings, numbers, enums and
// EquatableArray): no ISymbol, SyntaxNode, Location or Compilation, so the incremental pipeline
// caches them across edits. Anyone adding a member must keep it so.

/// <summary>A containing type of the annotated class (outermost first), to re-open it as partial.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>What the user declared: the annotated type and the attribute's values.</summary>
/// <param name="TrackRunningStats">The attribute's <c>TrackRunningStats</c>: a layer that reduces N keeps running statistics.</param>
internal sealed record NormSpec(
    Parsing.LayerName Name,
    string Layout,
    string Axes,
    int Groups,
    NormKindId Kind,
    AffineKind Affine,
    double Epsilon,
    double Momentum,
    string Element,
    bool TrackRunningStats = true,
    ActivationId Activation = ActivationId.None,
    ResidualId Residual = ResidualId.None,
    string Sizes = "")
{
    /// <summary>The element type as C#: <c>float</c> or <c>double</c>.</summary>
    public bool IsDouble => Element == "double";

    /// <summary>ElementType = typeof(Half): Half tensors, float parameters, statistics and arithmetic.</summary>
    public bool IsHalf => Element == "Half";

    public bool IsPerChannel => Affine == AffineKind.PerChannel;
    public bool IsElementwise => Affine == AffineKind.Elementwise;
    public bool HasAffine => Affine != AffineKind.None;
}

/// <summary>The attribute's <c>Kind</c> (the runtime's <c>NormKind</c>, whose values it mirrors).</summary>
internal enum NormKindId
{
    Standardize = 0,
    RootMeanSquare = 1,
}

/// <summary>The attribute's <c>Affine</c> (the runtime's <c>AffineMode</c>, whose values it mirrors).</summary>
internal enum AffineKind
{
    PerChannel = 0,
    Elementwise = 1,
    None = 2,
}
