using System;
using System.ComponentModel;

namespace NormKernels;

/// <summary>
/// What every generated layer with <c>float</c> elements has in common (the default element type).
/// </summary>
public interface INormalizationLayer : INormalizationLayer<float>
{
}

/// <summary>
/// What every generated layer has in common, for code that handles layers of several layouts
/// (test harnesses, benchmarks, model containers). The hot path is the generated, layout-typed
/// <c>Forward(input, output, n, c, h, w)</c>; this interface forwards to it after reading the dims.
/// </summary>
/// <typeparam name="T">The element type: <c>float</c> (default) or <c>double</c> (<c>ElementType = typeof(double)</c>).</typeparam>
/// <remarks>
/// Threads: inference-mode <c>Forward</c> calls (<see cref="Training"/> false) may run on one instance from any number
/// of threads at once. A training-mode <c>Forward</c>, any <c>Backward</c> and <see cref="ZeroGrad"/> write the
/// instance's state and need it alone: a call that overlaps another call on the same instance it cannot share with is
/// refused with <see cref="InvalidOperationException"/> before it reads or writes anything. Use one instance per thread
/// for parallel training; the generated static kernels keep no state and may run from any thread.
/// </remarks>
public interface INormalizationLayer<T>
{
    /// <summary>For generated layers: the runtime layer the members with a default body forward to (<see cref="Layout"/>,
    /// <see cref="Axes"/>, <see cref="Groups"/>, <see cref="Kind"/>, <see cref="Affine"/>, <see cref="RunningMean"/>,
    /// <see cref="RunningVar"/>, the dims forms of <c>Forward</c> and <c>Backward</c>, and the synchronized steps), so a
    /// generated class declares one member instead of one per forwarded member (issue 10: the build cost per layer). An
    /// implementation of its own implements those members instead; this default throws.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected INormalizationLayer<T> Core =>
        throw new NotSupportedException(GetType().Name + " implements neither INormalizationLayer<T>.Core nor the member that was called.");

    /// <summary><see cref="Core"/>, refused when it is this very object: its members would forward to themselves without end
    /// (a stack overflow, which no exception handler catches).</summary>
    private INormalizationLayer<T> Target => Core is var core && !ReferenceEquals(core, this) ? core :
        throw new NotSupportedException(GetType().Name + "'s INormalizationLayer<T>.Core returns the layer itself and it does not implement the member that was called.");

    /// <summary>The layout letters in memory order, outermost first.</summary>
    string Layout => Target.Layout;

    /// <summary>The reduced axes, as written in the attribute (normalized: comma-separated, no spaces).</summary>
    string Axes => Target.Axes;

    /// <summary>Channel groups (0 = none).</summary>
    int Groups => Target.Groups;

    /// <summary>Standardize or root mean square.</summary>
    NormKind Kind => Target.Kind;

    /// <summary>How <see cref="Weight"/> and <see cref="Bias"/> are indexed.</summary>
    AffineMode Affine => Target.Affine;

    /// <summary>Training mode: batch statistics (and running-statistics update when N is reduced); otherwise running statistics.</summary>
    bool Training { get; set; }

    /// <summary>Added to the variance inside the square root.</summary>
    T Epsilon { get; set; }

    /// <summary>Gamma (ones at construction); empty with <see cref="AffineMode.None"/>.</summary>
    T[] Weight { get; }

    /// <summary>Beta (zeros at construction); empty with <see cref="AffineMode.None"/>.</summary>
    T[] Bias { get; }

    /// <summary>Running means when N is reduced, otherwise null.</summary>
    T[]? RunningMean => Target.RunningMean;

    /// <summary>Running (unbiased) variances when N is reduced, otherwise null.</summary>
    T[]? RunningVar => Target.RunningVar;

    /// <summary>Gradient with respect to <see cref="Weight"/>, accumulated by <c>Backward</c> (zeros at construction).</summary>
    T[] WeightGrad { get; }

    /// <summary>Gradient with respect to <see cref="Bias"/>, accumulated by <c>Backward</c> (zeros at construction).</summary>
    T[] BiasGrad { get; }

    /// <summary>Sets <see cref="WeightGrad"/> and <see cref="BiasGrad"/> to zero.</summary>
    void ZeroGrad();

    /// <summary>The learned parameters with PyTorch's names, for an optimizer: <c>weight</c> (<see cref="Weight"/>,
    /// <see cref="WeightGrad"/>) then <c>bias</c> (<see cref="Bias"/>, <see cref="BiasGrad"/>); empty with
    /// <see cref="AffineMode.None"/>. The arrays are the layer's own: a step written into them is the layer's new parameter.</summary>
    System.Collections.Generic.IReadOnlyList<LayerParameter<T>> Parameters();

    /// <summary>A copy of the layer's state under PyTorch's <c>state_dict</c> keys, only those the layer has, in this order:
    /// <c>weight</c>, <c>bias</c> (unless <see cref="AffineMode.None"/>), <c>running_mean</c>, <c>running_var</c>,
    /// <c>num_batches_tracked</c> (layers that keep running statistics; the count as one value). Values are doubles (exact for
    /// float and double layers and for the count), in the layer's order (see <see cref="Weight"/>).</summary>
    System.Collections.Generic.IReadOnlyDictionary<string, double[]> StateDict();

    /// <summary>Loads a state with exactly the keys <see cref="StateDict"/> gives (PyTorch's strict loading), each of its length
    /// (<c>num_batches_tracked</c>: one non-negative whole number). Every key and length is checked first: a missing, unknown,
    /// null or wrong-length entry throws <see cref="ArgumentException"/> naming its key, and nothing is changed. Values are
    /// rounded to the element type.</summary>
    void LoadStateDict(System.Collections.Generic.IReadOnlyDictionary<string, double[]> state);

    /// <summary>The instruction-set path the last <c>Forward</c> or <c>Backward</c> ran on (the narrowest of its passes).</summary>
    KernelPath LastPath { get; }

    /// <summary>Runs the layer on a tensor whose extents are given in layout order (<paramref name="dims"/>.Length == Layout.Length).</summary>
    void Forward(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims) => Target.Forward(input, output, dims);

    /// <summary>Runs the layer on tensors whose lengths are the dims in layout order (dense, row-major); output has the input's shape.</summary>
    void Forward(System.Numerics.Tensors.ReadOnlyTensorSpan<T> input, System.Numerics.Tensors.TensorSpan<T> output);

    /// <summary>Gradient of the last training-mode <c>Forward</c> (with running statistics and Training false: of the inference
    /// forward), dims in layout order: writes <paramref name="inputGrad"/>, adds into <see cref="WeightGrad"/> and <see cref="BiasGrad"/>.
    /// Throws <see cref="InvalidOperationException"/>, writing nothing, when no training-mode Forward ran, when the dims differ
    /// from that Forward's, or when <paramref name="input"/> is not that Forward's input (16 sampled elements compared bit for bit).</summary>
    void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims) =>
        Target.Backward(input, outputGrad, inputGrad, dims);

    /// <summary>Backward on tensors whose lengths are the dims in layout order (dense, row-major), all three of one shape.</summary>
    void Backward(System.Numerics.Tensors.ReadOnlyTensorSpan<T> input, System.Numerics.Tensors.ReadOnlyTensorSpan<T> outputGrad, System.Numerics.Tensors.TensorSpan<T> inputGrad);
}
