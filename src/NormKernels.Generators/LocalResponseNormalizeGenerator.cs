using Microsoft.CodeAnalysis;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators;

/// <summary>
/// [LocalResponseNormalize] on a partial class becomes a specialized LRN layer: parse (attribute to LrnSpec, every usage
/// mistake found on the way), emit (one .g.cs per type). There is no planning step: every layout reduces to [outer, C,
/// inner] and the emitter picks the loop nest per call from the inner extent. Diagnostics, stubs and NK0900 as in
/// <see cref="NormalizeGenerator"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class LocalResponseNormalizeGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    /// <remarks>The source depends on the spec alone: moving a declaration with errors re-reports them without re-emitting its stub.</remarks>
    public void Initialize(IncrementalGeneratorInitializationContext context) =>
        LayerOutput.RegisterLayer<Model.LrnSpec>(context, LrnParser.AttributeName, LrnParser.Parse, TrackingNames.LrnParse, ".LocalResponseNormalize.g.cs", Emitting.LrnEmitter.Emit);
}
