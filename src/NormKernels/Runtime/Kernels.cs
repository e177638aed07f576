using System;
using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' public members, documented there.
#pragma warning disable CS1591

/// <summary>
/// A generated layer's plan as the shared surface sees it: its <see cref="INest{T}"/> and gradient nests, plus what only
/// the layer knows: its <see cref="LayerShape"/>, how the extents follow from the dims, the innermost extents that choose
/// the path, and which backward driver its plan takes. Static members on a struct type argument: no virtual call.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILayerNest<TSelf, T> : IGradientNest<T>, IAffineGradientNest<T> where TSelf : struct, ILayerNest<TSelf, T> where T : unmanaged
{
    /// <summary>The layer's shape facts.</summary>
    static abstract LayerShape Shape { get; }

    /// <summary>The nest for checked dims in layout order.</summary>
    static abstract TSelf Create(ReadOnlySpan<int> dims);


    /// <summary>The nest with the residual's byte offset from the input (layers whose apply adds a residual; others ignore it).</summary>
    static virtual TSelf WithResidual(TSelf nest, nint residual) => nest;

    /// <summary>The plan's backward sums per statistic (<see cref="AffineBackward{TNest, TK, T}"/>, the nest's
    /// <see cref="IAffineGradientNest{T}"/> methods) instead of per fold index (<see cref="Backward{TNest, TK, T}"/>, its
    /// <see cref="IGradientNest{T}"/> methods): a constant of the nest type, so each layer compiles only its own driver
    /// (<see cref="NestBackward{TNest, T}"/>).</summary>
    static virtual bool GradientPerStatistic => false;

    // A nest implements the gradient methods of its plan's driver; the other driver's are never called (GradientPerStatistic,
    // a constant, picks the driver), so they need no body in the generated code.
    void IGradientNest<T>.GradientReduce<TS, TV, TX, TH>(ref T x, ref T dy, nint from, nint to, ref T m, ref T dz, ref double u, ref double v, ref double z) =>
        throw NestBackward.OtherDriver();

    void IGradientNest<T>.GradientApply<TW, TS, TV>(ref T x, ref T dy, ref T dx, nint from, nint to, ref T m, ref T p, ref T q, ref T r, ref T dz) =>
        throw NestBackward.OtherDriver();

    void IAffineGradientNest<T>.GradientAffineReduce<TS, TV, TH>(ref T x, ref T dy, nint from, nint to, T m, T dz, T gb, ref T g,
        ref double a, ref double b, ref double gs, ref double hs, ref double xs) => throw NestBackward.OtherDriver();

    void IAffineGradientNest<T>.GradientAffineApply<TW, TS, TV>(ref T x, ref T dy, ref T dx, nint from, nint to, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g,
        ref T dbeta, ref T dgamma) => throw NestBackward.OtherDriver();
}

/// <summary>
/// The static kernels of every generated layer on caller-owned buffers: argument checks (every one before any write),
/// the path choice, and the runtime drivers on the layer's nest. Each has a form with the 128-bit operations and a forced
/// path given (<c>KernelPath.None</c>: the widest that fits), which the generated <c>...OnPath</c> hooks use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract partial class Kernels<TNest, TK, T>
    where TNest : struct, ILayerNest<TNest, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Generated layers derive a nested class from this one to name it briefly; it has no instances.</summary>
    protected Kernels() { }

    private static LayerShape Shape => TNest.Shape;

    private static bool Arm => AdvSimd.IsSupported;

    // ------------------------------------------------------------------ paths

    /// <summary>The widest path whose vector fits the innermost extent of every pass that runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static KernelPath Choose(TNest nest, bool training)
    {
        KernelPath apply = Isa.Select<T>(Clamp(nest.ApplyExtent));
        if (!training) return apply;
        KernelPath statistics = Isa.Select<T>(Clamp(nest.StatisticsExtent));
        return statistics < apply ? statistics : apply;
    }

    internal static KernelPath ChooseBackward(TNest nest) => Isa.Select<T>(Clamp(nest.GradientExtent));

    private static int Clamp(nint extent) => (int)Math.Min(extent, int.MaxValue);

    // ------------------------------------------------------------------ checks shared with the layer object

    internal static void CheckKernel(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, int weight, int bias, int length0, int length1, T epsilon, bool training)
    {
        var shape = Shape;
        shape.Shape(dims, input.Length, output.Length);
        int parameters = shape.ParameterCount(dims);
        Checks.VectorLength(weight, parameters, "weight", shape.ParameterText);
        Checks.VectorLength(bias, parameters, "bias", shape.ParameterText);
        shape.StatisticLengths(shape.Statistics(dims), length0, length1);
        CheckEpsilon(epsilon);
        if (training) MoreThanOneValue(dims);
        Checks.NoPartialOverlap(input, output, "output");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MoreThanOneValue(ReadOnlySpan<int> dims)
    {
        if (Shape.Centered) Checks.MoreThanOneValue(Shape.CountPerStatistic(dims), Shape.FirstReduced, Shape.ReducedText);
    }

    internal static void CheckEpsilon(T epsilon, string name = "epsilon")
    {
        // The element type's own overload: the message prints the value as the caller wrote it.
        if (typeof(T) == typeof(float)) Checks.Epsilon(System.Runtime.CompilerServices.Unsafe.As<T, float>(ref epsilon), name);
        else Checks.Epsilon(double.CreateTruncating(epsilon), name);
    }

    internal static void CheckMomentum(T momentum, string name)
    {
        if (typeof(T) == typeof(float)) Checks.Momentum(System.Runtime.CompilerServices.Unsafe.As<T, float>(ref momentum), name);
        else Checks.Momentum(double.CreateTruncating(momentum), name);
    }

    /// <summary>Shape, lengths and overlaps of a backward call; returns nothing, throws on the first bad argument.</summary>
    internal static void CheckGradients(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims)
    {
        int count = Shape.Shape(dims, input.Length, input.Length);
        Checks.Length(outputGrad.Length, count, "outputGrad", Shape.DimsText);
        Checks.Length(inputGrad.Length, count, "inputGrad", Shape.DimsText);
    }

    internal static void CheckGradientOverlaps(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
    {
        Checks.NoPartialOverlap(input, inputGrad, "inputGrad");
        Checks.NoPartialOverlap(outputGrad, inputGrad, "inputGrad", "outputGrad");
    }

    internal static void CheckParameters(ReadOnlySpan<int> dims, int weight, int weightGrad, int biasGrad)
    {
        int parameters = Shape.ParameterCount(dims);
        Checks.VectorLength(weight, parameters, "weight", Shape.ParameterText);
        Checks.VectorLength(weightGrad, parameters, "weightGrad", Shape.ParameterText);
        Checks.VectorLength(biasGrad, parameters, "biasGrad", Shape.ParameterText);
    }

    internal static void CheckBackward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, int weight,
        int length0, int length1, T epsilon, int weightGrad, int biasGrad, bool constant)
    {
        CheckGradients(input, outputGrad, inputGrad, dims);
        CheckParameters(dims, weight, weightGrad, biasGrad);
        Shape.StatisticLengths(Shape.Statistics(dims), length0, length1, running: constant && Shape.BatchReduced);
        CheckEpsilon(epsilon);
        CheckGradientOverlaps(input, outputGrad, inputGrad);
    }

    internal static void CheckBackwardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> dims, int weight, int mean,
        Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered)
    {
        int total = Shape.Shape(dims, input.Length, input.Length);
        Checks.Length(outputGrad.Length, total, "outputGrad", Shape.DimsText);
        Checks.VectorLength(weight, Shape.ParameterCount(dims), "weight", Shape.ParameterText);
        int statistics = Shape.Statistics(dims);
        Checks.VectorLength(mean, statistics, "mean", Shape.StatisticText);
        Checks.GradientSumOutputs(count, sumGrad, sumGradCentered, statistics, Shape.StatisticText);
    }

    internal static void CheckBackwardWithStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, int weight,
        int mean, int variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered, int weightGrad, int biasGrad)
    {
        CheckGradients(input, outputGrad, inputGrad, dims);
        CheckParameters(dims, weight, weightGrad, biasGrad);
        int statistics = Shape.Statistics(dims);
        Checks.VectorLength(mean, statistics, "mean", Shape.StatisticText);
        Checks.VectorLength(variance, statistics, "variance", Shape.StatisticText);
        CheckEpsilon(epsilon);
        Checks.GradientSums(count, sumGrad, sumGradCentered, statistics, Shape.CountPerStatistic(dims), Shape.StatisticText);
        CheckGradientOverlaps(input, outputGrad, inputGrad);
    }

    // ------------------------------------------------------------------ forward

    /// <summary>Training forward: batch statistics written (the kind's outputs, <see cref="LayerShape.Outputs"/>), then used to normalize.</summary>
    public static KernelPath ForwardTraining(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> stat0, Span<T> stat1, T epsilon) =>
        Arm ? ForwardTraining<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, output, dims, weight, bias, stat0, stat1, epsilon)
            : ForwardTraining<X86Vector128Ops>(KernelPath.None, input, output, dims, weight, bias, stat0, stat1, epsilon);

    public static KernelPath ForwardTraining<TOps>(KernelPath path, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> stat0, Span<T> stat1, T epsilon) where TOps : struct, IVector128Ops
    {
        CheckKernel(input, output, dims, weight.Length, bias.Length, stat0.Length, stat1.Length, epsilon, training: true);
        var outputs = Shape.Outputs;
        Checks.StatisticsOutputs(input, output, stat0, outputs[0], outputs.Length > 1 ? stat1 : default, outputs.Length > 1 ? outputs[1] : null);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, Choose(nest, true));
        if (ExpandedTraining<TK, T>.Applies(Shape, dims, path))
            return ExpandedTraining<TK, T>.Run<TOps>(path, Shape, dims, input, output, weight, bias, stat0, stat1, epsilon, null);
        return Forward<TNest, TK, T>.Training<TOps>(path, nest, input, output, weight, bias, stat0, stat1, epsilon, null);
    }

    /// <summary>Inference forward with given statistics (layers with running statistics).</summary>
    public static KernelPath ForwardInference(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) =>
        Arm ? ForwardInference<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, output, dims, weight, bias, mean, variance, epsilon)
            : ForwardInference<X86Vector128Ops>(KernelPath.None, input, output, dims, weight, bias, mean, variance, epsilon);

    public static KernelPath ForwardInference<TOps>(KernelPath path, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) where TOps : struct, IVector128Ops
    {
        CheckKernel(input, output, dims, weight.Length, bias.Length, mean.Length, variance.Length, epsilon, training: false);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, Choose(nest, false));
        if (ExpandedInference<TK, T>.Applies(Shape, dims, path))
            return ExpandedInference<TK, T>.Run<TOps>(path, Shape, dims, input, output, weight, bias, mean, variance, epsilon);
        return Forward<TNest, TK, T>.Inference<TOps>(path, nest, input, output, weight, bias, mean, variance, epsilon, null);
    }

    /// <summary>The statistics pass alone, as a shard's mergeable (count, mean, M2) per statistic.</summary>
    public static KernelPath ShardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<int> dims, Span<double> count, Span<double> mean, Span<double> m2) =>
        Arm ? ShardStatistics<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, dims, count, mean, m2)
            : ShardStatistics<X86Vector128Ops>(KernelPath.None, input, dims, count, mean, m2);

    public static KernelPath ShardStatistics<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<int> dims, Span<double> count, Span<double> mean,
        Span<double> m2) where TOps : struct, IVector128Ops
    {
        var shape = Shape;
        shape.Shape(dims, input.Length, input.Length);
        int statistics = shape.Statistics(dims);
        Checks.VectorLength(count.Length, statistics, "count", shape.StatisticText);
        Checks.VectorLength(mean.Length, statistics, "mean", shape.StatisticText);
        Checks.VectorLength(m2.Length, statistics, "m2", shape.StatisticText);
        if (typeof(T) == typeof(double))
        {
            // Only a double layer's input can share memory with the double outputs.
            ReadOnlySpan<double> values = MemoryMarshal.Cast<T, double>(input);
            Checks.Disjoint(values, count, "count", "input");
            Checks.Disjoint(values, mean, "mean", "input");
            Checks.Disjoint(values, m2, "m2", "input");
        }
        Checks.Disjoint(count, mean, "mean", "count");
        Checks.Disjoint(count, m2, "m2", "count");
        Checks.Disjoint(mean, m2, "m2", "mean");
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, Choose(nest, true));
        return Forward<TNest, TK, T>.Moments<TOps>(path, nest, input, count, mean, m2);
    }

    /// <summary>AdaIN: <paramref name="styleDims"/> are the style's extents along the reduced axes, in layout order.</summary>
    public static KernelPath AdaptiveForward(ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<int> styleDims, T epsilon) =>
        Arm ? AdaptiveForward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, content, style, output, dims, styleDims, epsilon)
            : AdaptiveForward<X86Vector128Ops>(KernelPath.None, content, style, output, dims, styleDims, epsilon);

    public static KernelPath AdaptiveForward<TOps>(KernelPath path, ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, ReadOnlySpan<int> dims,
        ReadOnlySpan<int> styleDims, T epsilon) where TOps : struct, IVector128Ops
    {
        var shape = Shape;
        shape.Rank(dims.Length);
        string[] names = shape.StyleNames;
        Span<int> full = stackalloc int[dims.Length];
        for (int i = 0, s = 0; i < dims.Length; i++)
        {
            Checks.Positive(dims[i], shape.Names[i]);
            full[i] = shape.IsReduced(i) ? styleDims[s++] : dims[i];
        }
        for (int i = 0; i < dims.Length; i++) if (shape.IsReduced(i)) Checks.Positive(full[i], names[i]);
        int count = Checks.Count(dims, shape.Names, shape.DimsText);
        Checks.Length(content.Length, count, "content", shape.DimsText);
        Checks.Length(output.Length, count, "output", shape.DimsText);
        int styleCount = Checks.Count(full, names, shape.StyleText);
        Checks.Length(style.Length, styleCount, "style", shape.StyleText);
        CheckEpsilon(epsilon);
        Checks.NoPartialOverlap(content, output, "output");
        Checks.Disjoint(style, output, "style", "output");
        TNest nest = TNest.Create(dims), styleNest = TNest.Create(full);
        // The widest path whose vector fits the content's passes and the style's statistics pass.
        KernelPath contentPath = Choose(nest, true), stylePath = Choose(styleNest, true);
        path = Checks.Forced(path, stylePath < contentPath ? stylePath : contentPath);
        return Forward<TNest, TK, T>.Adaptive<TOps>(path, nest, styleNest, content, style, output, epsilon);
    }

    /// <summary>AdaIN on tensors: the style has the content's kept extents; the output the content's shape.</summary>
    public static KernelPath AdaptiveForward(ReadOnlyTensorSpan<T> content, ReadOnlyTensorSpan<T> style, TensorSpan<T> output, T epsilon)
    {
        var shape = Shape;
        int rank = shape.Layout.Length;
        Span<int> dims = stackalloc int[rank];
        Span<int> styleDims = stackalloc int[rank];
        Span<int> outputDims = stackalloc int[rank];
        ReadOnlySpan<T> contentSpan = TensorArgs.Dense(in content, shape.Layout, "content", dims);
        ReadOnlySpan<T> styleSpan = TensorArgs.Dense(in style, shape.Layout, "style", styleDims);
        Span<T> outputSpan = TensorArgs.Dense(in output, shape.Layout, "output", outputDims);
        TensorArgs.SameShape(dims, outputDims, "output", shape.Layout);
        Span<int> reducedDims = stackalloc int[rank];
        int reduced = 0;
        for (int i = 0; i < rank; i++)
        {
            if (shape.IsReduced(i)) reducedDims[reduced++] = styleDims[i];
            else Checks.SameDim(styleDims[i], dims[i], "style", shape.Layout[i], "content");
        }
        return AdaptiveForward(contentSpan, styleSpan, outputSpan, dims, reducedDims[..reduced], epsilon);
    }

    // ------------------------------------------------------------------ backward

    /// <summary>Backward of a forward with statistics <paramref name="stat0"/>, <paramref name="stat1"/>; with
    /// <paramref name="constant"/> they are held constant (the running statistics of an inference forward).</summary>
    public static KernelPath Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad) =>
        Arm ? Backward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad)
            : Backward<X86Vector128Ops>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad);

    public static KernelPath Backward<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad)
        where TOps : struct, IVector128Ops
    {
        CheckBackward(input, outputGrad, inputGrad, dims, weight.Length, stat0.Length, stat1.Length, epsilon, weightGrad.Length, biasGrad.Length, constant);
        Checks.GradientOutputs(inputGrad, weightGrad, biasGrad);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, ChooseBackward(nest));
        if (ExpandedBackward<TK, T>.Applies(Shape, dims, path, constant))
            return ExpandedBackward<TK, T>.Run<TOps>(path, Shape, dims, input, outputGrad, inputGrad, weight, stat0, stat1, epsilon, weightGrad, biasGrad);
        return NestBackward<TNest, T>.Run<TK, TOps>(path, nest, input, outputGrad, inputGrad, weight, stat0, stat1, epsilon, constant, weightGrad, biasGrad, default);
    }

    /// <summary>Synchronized backward, step 1, on caller-owned buffers.</summary>
    /// <summary>The static backward of a layer with an activation: as <see cref="Backward(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, bool, Span{T}, Span{T})"/>
    /// with the bias, which the gradient through the activation needs (it recomputes the pre-activation).</summary>
    public static KernelPath Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad) =>
        Arm ? Backward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, bias, stat0, stat1, epsilon, constant, weightGrad, biasGrad)
            : Backward<X86Vector128Ops>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, bias, stat0, stat1, epsilon, constant, weightGrad, biasGrad);

    public static KernelPath Backward<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad)
        where TOps : struct, IVector128Ops
    {
        CheckBackward(input, outputGrad, inputGrad, dims, weight.Length, stat0.Length, stat1.Length, epsilon, weightGrad.Length, biasGrad.Length, constant);
        Checks.VectorLength(bias.Length, weight.Length, nameof(bias), "one per weight");
        Checks.GradientOutputs(inputGrad, weightGrad, biasGrad);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, ChooseBackward(nest));
        return FusedBackward<TNest, TK, T>.Run<TOps>(path, nest, input, default, outputGrad, inputGrad, default, weight, bias, stat0, stat1, epsilon, constant, null,
            weightGrad, biasGrad);
    }

    public static KernelPath BackwardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight, ReadOnlySpan<T> mean,
        Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered) =>
        Arm ? BackwardStatistics<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, outputGrad, dims, weight, mean, count, sumGrad, sumGradCentered)
            : BackwardStatistics<X86Vector128Ops>(KernelPath.None, input, outputGrad, dims, weight, mean, count, sumGrad, sumGradCentered);

    public static KernelPath BackwardStatistics<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> mean, Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered) where TOps : struct, IVector128Ops
    {
        CheckBackwardStatistics(input, outputGrad, dims, weight.Length, mean.Length, count, sumGrad, sumGradCentered);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, ChooseBackward(nest));
        return NestBackward<TNest, T>.Sums<TK, TOps>(path, nest, input, outputGrad, weight, mean, count, sumGrad, sumGradCentered);
    }

    /// <summary>Synchronized backward, step 2, on caller-owned buffers.</summary>
    public static KernelPath BackwardWithStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered,
        Span<T> weightGrad, Span<T> biasGrad) =>
        Arm ? BackwardWithStatistics<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad)
            : BackwardWithStatistics<X86Vector128Ops>(KernelPath.None, input, outputGrad, inputGrad, dims, weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);

    public static KernelPath BackwardWithStatistics<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad,
        ReadOnlySpan<double> sumGradCentered, Span<T> weightGrad, Span<T> biasGrad) where TOps : struct, IVector128Ops
    {
        CheckBackwardWithStatistics(input, outputGrad, inputGrad, dims, weight.Length, mean.Length, variance.Length, epsilon, count, sumGrad, sumGradCentered,
            weightGrad.Length, biasGrad.Length);
        TNest nest = TNest.Create(dims);
        path = Checks.Forced(path, ChooseBackward(nest));
        return NestBackward<TNest, T>.WithSums<TK, TOps>(path, nest, input, outputGrad, inputGrad, weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);
    }

    /// <summary>The number of statistics for these dims.</summary>
    public static int StatisticCount(ReadOnlySpan<int> dims) => Shape.StatisticCount(dims);

    // ------------------------------------------------------------------ tensors

    // The static kernels on tensors: the generated overloads are one call each (issue 10: the build cost per layer).

    /// <summary><see cref="ForwardTraining(ReadOnlySpan{T}, Span{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, T)"/>
    /// on tensors: the dims from <paramref name="input"/>'s lengths, <paramref name="output"/> of its shape.</summary>
    public static KernelPath ForwardTraining(in ReadOnlyTensorSpan<T> input, in TensorSpan<T> output, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> stat0, Span<T> stat1, T epsilon)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        return ForwardTraining(Dense(in input, "input", dims), DenseLike(in output, "output", dims), dims, weight, bias, stat0, stat1, epsilon);
    }

    /// <summary><see cref="ForwardInference(ReadOnlySpan{T}, Span{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T)"/>
    /// on tensors.</summary>
    public static KernelPath ForwardInference(in ReadOnlyTensorSpan<T> input, in TensorSpan<T> output, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        return ForwardInference(Dense(in input, "input", dims), DenseLike(in output, "output", dims), dims, weight, bias, mean, variance, epsilon);
    }

    /// <summary><see cref="ShardStatistics(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{double}, Span{double}, Span{double})"/> on a tensor.</summary>
    public static KernelPath ShardStatistics(in ReadOnlyTensorSpan<T> input, Span<double> count, Span<double> mean, Span<double> m2)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        return ShardStatistics(Dense(in input, "input", dims), dims, count, mean, m2);
    }

    /// <summary>A tensor argument's span and dims (dense, row-major, the layout's rank).</summary>
    public static ReadOnlySpan<T> Dense(in ReadOnlyTensorSpan<T> tensor, string name, scoped Span<int> dims) => TensorArgs.Dense(in tensor, Shape.Layout, name, dims);

    public static Span<T> Dense(in TensorSpan<T> tensor, string name, scoped Span<int> dims) => TensorArgs.Dense(in tensor, Shape.Layout, name, dims);

    /// <summary>A second tensor of the call: the same shape as the first's <paramref name="dims"/>.</summary>
    public static ReadOnlySpan<T> DenseLike(in ReadOnlyTensorSpan<T> tensor, string name, scoped ReadOnlySpan<int> dims) =>
        TensorArgs.DenseLike(in tensor, Shape.Layout, name, dims);

    public static Span<T> DenseLike(in TensorSpan<T> tensor, string name, scoped ReadOnlySpan<int> dims) => TensorArgs.DenseLike(in tensor, Shape.Layout, name, dims);
}
