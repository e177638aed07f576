using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

// Same rule as NormSpec: strings, numbers and EquatableArray only (no Roslyn objects), so the pipeline caches it.

/// <summary>What a <c>[LocalResponseNormalize]</c> declaration says: the annotated type and the attribute's values.</summary>
internal sealed record LrnSpec(
    Parsing.LayerName Name,
    string Layout,
    int Size,
    double Alpha,
    double Beta,
    double K,
    string Element) : ILayerSpec
{
    public bool IsDouble => Element == "double";

    /// <summary>Channels before c in the window: <c>Size / 2</c> (PyTorch pads <c>size/2</c> in front).</summary>
    public int Before => Size / 2;

    /// <summary>Channels after c in the window: <c>(Size - 1) / 2</c>.</summary>
    public int After => (Size - 1) / 2;

    /// <summary>Position of C in <see cref="Layout"/>.</summary>
    public int ChannelAxis => Layout.IndexOf('C');

}
