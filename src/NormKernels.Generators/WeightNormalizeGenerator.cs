using Microsoft.CodeAnalysis;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators;

/// <summary>
/// [WeightNormalize] on a partial class becomes a weight normalization layer: parse (attribute to WeightNormSpec, every
/// usage mistake found on the way), emit (one .g.cs per type: the surface and the layout's index facts; the loops are the
/// runtime's WeightNormKernels). No planning step: the runtime folds the dims of each call. Diagnostics, stubs and NK0900 as
/// in <see cref="NormalizeGenerator"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class WeightNormalizeGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context) =>
        LayerOutput.RegisterLayer<Model.WeightNormSpec>(context, WeightNormParser.AttributeName, WeightNormParser.Parse, TrackingNames.WeightNormParse,
            ".WeightNormalize.g.cs", Emitting.WeightNormEmitter.Emit);
}
