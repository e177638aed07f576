namespace NormKernels;

/// <summary>
/// One learned parameter of a layer, as an optimizer sees it: its PyTorch name (<c>weight</c> or <c>bias</c>), the values
/// the layer normalizes with and the gradient <c>Backward</c> accumulates into. Both arrays are the layer's own (not copies):
/// a step written into <see cref="Value"/> is the layer's new parameter.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="Name">PyTorch's name: <c>"weight"</c> (gamma) or <c>"bias"</c> (beta).</param>
/// <param name="Value">The parameter: the layer's <c>Weight</c> or <c>Bias</c>.</param>
/// <param name="Grad">Its gradient: the layer's <c>WeightGrad</c> or <c>BiasGrad</c>.</param>
public readonly record struct LayerParameter<T>(string Name, T[] Value, T[] Grad);
