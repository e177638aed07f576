namespace NormKernels.Generators.Model;

/// <summary>A layer attribute's parse model: what <see cref="LayerOutput.RegisterLayer{TSpec}"/> needs of it besides its emitter.</summary>
internal interface ILayerSpec
{
    /// <summary>Where the layer is declared (its file's hint name and the partial declarations to reopen).</summary>
    Parsing.LayerName Name { get; }
}
