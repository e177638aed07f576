using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

// Models are immutable and structurally equatable (records of strings, numbers, enums and
// EquatableArray): no ISymbol, SyntaxNode, Location or Compilation, so the incremental pipeline
// caches them across edits. Anyone adding a member must keep it so.

/// <summary>A containing type of the annotated class (outermost first), to re-open it as partial.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>What the user declared: the annotated type and the attribute's values.</summary>
internal sealed record NormSpec(
    string Namespace,
    EquatableArray<ContainingType> Containers,
    string TypeName,
    string Layout,
    string Axes,
    int Groups,
    int Kind,
    int Affine,
    double Epsilon,
    double Momentum,
    string Element,
    string Marks = "GE",
    string Unaliased = "")
{
    /// <summary>The element type as C#: <c>float</c> or <c>double</c>.</summary>
    public bool IsDouble => Element == "double";

    public bool IsPerChannel => Affine == 0;
    public bool IsElementwise => Affine == 1;
    public bool HasAffine => Affine != 2;
    public string FullName => (Namespace.Length > 0 ? Namespace + "." : "") + string.Join(".", System.Linq.Enumerable.Select(Containers, c => c.Name)) + (Containers.Count > 0 ? "." : "") + TypeName;
}
