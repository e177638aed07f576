using System;

namespace NormKernels.Reference;

/// <summary>
/// A float64 normalization written directly from the formulas, independent of the generator: the oracle the
/// generated kernels are tested against. It reads one declaration (layout, reduced axes, groups, kind, affine)
/// and evaluates, per element, <c>y = (x - mean_S) / sqrt(var_S + eps) * gamma + beta</c>
/// (root mean square: <c>y = x / sqrt(mean_S(x^2) + eps) * gamma + beta</c>).
/// </summary>
/// <remarks>
/// <para>Indexing, the only part that depends on the declaration:</para>
/// <list type="bullet">
/// <item>A tensor is stored row-major in layout order, outermost letter first; <c>dims</c> are given in layout order.</item>
/// <item>Statistics are indexed row-major over the KEPT axes in layout order. With <c>Groups = G</c> the C axis splits
/// into a kept group axis of extent G (outer) and a reduced within-group axis of extent C/G (inner), so GroupNorm on
/// NCHW is indexed (n, g), InstanceNorm on NHWC (n, c), BatchNorm on NHWC (c), LayerNorm on NCHW (n).</item>
/// <item>Affine <see cref="AffineMode.PerChannel"/>: <c>gamma[c]</c>; <see cref="AffineMode.Elementwise"/>: gamma indexed
/// row-major over every non-N axis in layout order (NCHW: [C,H,W], NHWC: [H,W,C], NTC: [T,C]);
/// <see cref="AffineMode.None"/>: gamma = 1, beta = 0.</item>
/// </list>
/// <para>Everything is accumulated in double with two passes (mean, then squared deviations), so the reference is
/// exact to double rounding for any offset of the data. It favours clarity over speed: every flat index is decomposed
/// into per-axis indices. It still handles a million elements in a small fraction of a second.</para>
/// </remarks>
public sealed class NormReference
{
    private readonly bool[] _reduced;   // per layout position: is this axis reduced?
    private readonly int _channelAxis;  // position of C in the layout, or -1
    private readonly int _batchAxis;    // position of N in the layout, or -1

    /// <summary>Describes one normalization.</summary>
    /// <param name="layout">Distinct upper-case axis letters in memory order, outermost first (<c>"NCHW"</c>, <c>"NTC"</c>, ...).</param>
    /// <param name="axes">The reduced axis letters; commas and spaces are ignored (<c>"N,H,W"</c> and <c>"NHW"</c> are the same).</param>
    /// <param name="groups">Channel groups (GroupNorm), 0 for none; requires C among the reduced axes.</param>
    /// <param name="kind">Standardize or root mean square.</param>
    /// <param name="affine">How gamma and beta are indexed.</param>
    /// <exception cref="ArgumentException">The declaration is malformed.</exception>
    public NormReference(string layout, string axes, int groups = 0, NormKind kind = NormKind.Standardize,
        AffineMode affine = AffineMode.PerChannel)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(axes);
        if (layout.Length == 0) throw new ArgumentException("Layout is empty.", nameof(layout));
        for (int i = 0; i < layout.Length; i++)
        {
            if (layout[i] < 'A' || layout[i] > 'Z' || layout.IndexOf(layout[i]) != i)
                throw new ArgumentException($"Layout \"{layout}\" must be distinct upper-case letters.", nameof(layout));
        }

        _reduced = new bool[layout.Length];
        foreach (char letter in axes)
        {
            if (letter == ',' || letter == ' ') continue;
            int position = layout.IndexOf(letter);
            if (position < 0 || _reduced[position])
                throw new ArgumentException($"Axes \"{axes}\": '{letter}' is not a distinct letter of layout \"{layout}\".", nameof(axes));
            _reduced[position] = true;
        }

        _channelAxis = layout.IndexOf('C');
        _batchAxis = layout.IndexOf('N');
        if (groups < 0) throw new ArgumentOutOfRangeException(nameof(groups), groups, "Groups must be 0 (none) or positive.");
        if (groups > 0 && (_channelAxis < 0 || !_reduced[_channelAxis]))
            throw new ArgumentException("Groups requires C among the reduced axes.", nameof(groups));
        if (affine == AffineMode.PerChannel && _channelAxis < 0)
            throw new ArgumentException($"Per-channel affine needs a C axis in layout \"{layout}\".", nameof(affine));
        if (kind is not (NormKind.Standardize or NormKind.RootMeanSquare))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        if (affine is not (AffineMode.PerChannel or AffineMode.Elementwise or AffineMode.None))
            throw new ArgumentOutOfRangeException(nameof(affine), affine, null);

        Layout = layout;
        Groups = groups;
        Kind = kind;
        Affine = affine;
        var letters = new System.Text.StringBuilder();
        for (int i = 0; i < layout.Length; i++)
            if (_reduced[i]) letters.Append(layout[i]);
        ReducedAxes = letters.ToString();
        if (ReducedAxes.Length == 0) throw new ArgumentException("No axis is reduced.", nameof(axes));
    }

    /// <summary>The reference for the declaration a layer reports about itself.</summary>
    public static NormReference For<T>(INormalizationLayer<T> layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return new NormReference(layer.Layout, layer.Axes, layer.Groups, layer.Kind, layer.Affine);
    }

    /// <summary>The layout letters in memory order.</summary>
    public string Layout { get; }

    /// <summary>The reduced letters in layout order, without separators (<c>"NHW"</c>).</summary>
    public string ReducedAxes { get; }

    /// <summary>Channel groups (0 = none).</summary>
    public int Groups { get; }

    /// <summary>Standardize or root mean square.</summary>
    public NormKind Kind { get; }

    /// <summary>How gamma and beta are indexed.</summary>
    public AffineMode Affine { get; }

    /// <summary>True when N is reduced: the layer keeps running statistics and inference differs from training.</summary>
    public bool ReducesBatch => _batchAxis >= 0 && _reduced[_batchAxis];

    /// <summary>The number of elements, the product of <paramref name="dims"/>.</summary>
    public long ElementCount(ReadOnlySpan<int> dims)
    {
        CheckDims(dims);
        long count = 1;
        foreach (int d in dims) count *= d;
        return count;
    }

    /// <summary>The number of statistics: the product of the kept extents (with groups, G stands for C).</summary>
    public int StatisticCount(ReadOnlySpan<int> dims)
    {
        CheckDims(dims);
        long count = 1;
        for (int a = 0; a < dims.Length; a++)
        {
            if (!_reduced[a]) count *= dims[a];
            else if (a == _channelAxis && Groups > 0) count *= Groups;
        }
        return checked((int)count);
    }

    /// <summary>How many elements each statistic is taken over.</summary>
    public long CountPerStatistic(ReadOnlySpan<int> dims) => ElementCount(dims) / StatisticCount(dims);

    /// <summary>The length <c>weight</c> and <c>bias</c> must have: C (per channel), the product of the non-N extents
    /// (elementwise), or 0 (none).</summary>
    public int AffineLength(ReadOnlySpan<int> dims)
    {
        CheckDims(dims);
        switch (Affine)
        {
            case AffineMode.PerChannel:
                return dims[_channelAxis];
            case AffineMode.Elementwise:
                long size = 1;
                for (int a = 0; a < dims.Length; a++)
                    if (a != _batchAxis) size *= dims[a];
                return checked((int)size);
            default:
                return 0;
        }
    }

    /// <summary>Splits a flat (row-major, layout-order) index into one index per layout axis.</summary>
    public void Decompose(ReadOnlySpan<int> dims, long flatIndex, Span<int> index)
    {
        long rest = flatIndex;
        for (int a = dims.Length - 1; a >= 0; a--)
        {
            index[a] = (int)(rest % dims[a]);
            rest /= dims[a];
        }
    }

    /// <summary>The statistic the element at <paramref name="index"/> (one index per layout axis) belongs to:
    /// row-major over the kept axes in layout order, the group g = c / (C/G) standing in for c when grouped.</summary>
    public int StatisticIndex(ReadOnlySpan<int> dims, ReadOnlySpan<int> index)
    {
        int statistic = 0;
        for (int a = 0; a < dims.Length; a++)
        {
            if (!_reduced[a])
                statistic = statistic * dims[a] + index[a];
            else if (a == _channelAxis && Groups > 0)
                statistic = statistic * Groups + index[a] / (dims[a] / Groups);
        }
        return statistic;
    }

    /// <summary>The statistic of the element at flat index <paramref name="flatIndex"/>.</summary>
    public int StatisticIndex(ReadOnlySpan<int> dims, long flatIndex)
    {
        Span<int> index = stackalloc int[dims.Length];
        Decompose(dims, flatIndex, index);
        return StatisticIndex(dims, index);
    }

    /// <summary>The entry of gamma and beta used by the element at <paramref name="index"/>, or -1 with
    /// <see cref="AffineMode.None"/>.</summary>
    public int AffineIndex(ReadOnlySpan<int> dims, ReadOnlySpan<int> index)
    {
        switch (Affine)
        {
            case AffineMode.PerChannel:
                return index[_channelAxis];
            case AffineMode.Elementwise:
                int position = 0;
                for (int a = 0; a < dims.Length; a++)
                    if (a != _batchAxis) position = position * dims[a] + index[a];
                return position;
            default:
                return -1;
        }
    }

    /// <summary>The entry of gamma and beta used by the element at flat index <paramref name="flatIndex"/>, or -1.</summary>
    public int AffineIndex(ReadOnlySpan<int> dims, long flatIndex)
    {
        Span<int> index = stackalloc int[dims.Length];
        Decompose(dims, flatIndex, index);
        return AffineIndex(dims, index);
    }

    /// <summary>Per-statistic mean, biased variance and mean square of <paramref name="input"/>, in double, two passes.</summary>
    public ReferenceStatistics Statistics(ReadOnlySpan<int> dims, ReadOnlySpan<float> input) => Statistics(dims, Widen(input));

    /// <summary>As <see cref="Statistics(ReadOnlySpan{int}, ReadOnlySpan{float})"/>, for double data.</summary>
    public ReferenceStatistics Statistics(ReadOnlySpan<int> dims, ReadOnlySpan<double> input)
    {
        long total = ElementCount(dims);
        CheckLength(input.Length, total, nameof(input));
        int statistics = StatisticCount(dims);
        long count = total / statistics;
        int[] statisticOf = StatisticMap(dims);

        var mean = new double[statistics];
        var meanSquare = new double[statistics];
        for (long i = 0; i < total; i++)
        {
            double x = input[(int)i];
            mean[statisticOf[i]] += x;
            meanSquare[statisticOf[i]] += x * x;
        }
        for (int s = 0; s < statistics; s++)
        {
            mean[s] /= count;
            meanSquare[s] /= count;
        }

        // Second pass around the mean: exact to double rounding however large the offset.
        var variance = new double[statistics];
        for (long i = 0; i < total; i++)
        {
            double deviation = input[(int)i] - mean[statisticOf[i]];
            variance[statisticOf[i]] += deviation * deviation;
        }
        for (int s = 0; s < statistics; s++)
            variance[s] /= count;

        return new ReferenceStatistics(count, mean, variance, meanSquare);
    }

    /// <summary>
    /// The elementwise step: <c>y = (x - center[s]) / sqrt(spread[s] + eps) * gamma + beta</c> for the statistic s of each
    /// element. Standardize passes (mean, variance), root mean square (0, mean square), inference (running mean, running var).
    /// </summary>
    public double[] Apply(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<double> center, ReadOnlySpan<double> spread, double epsilon) =>
        Apply(dims, Widen(input), Widen(weight), Widen(bias), center, spread, epsilon);

    /// <summary>As the float overload, for double data.</summary>
    public double[] Apply(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias,
        ReadOnlySpan<double> center, ReadOnlySpan<double> spread, double epsilon)
    {
        long total = ElementCount(dims);
        CheckLength(input.Length, total, nameof(input));
        CheckAffine(dims, weight, bias);
        int statistics = StatisticCount(dims);
        CheckLength(center.Length, statistics, nameof(center));
        CheckLength(spread.Length, statistics, nameof(spread));
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");

        int[] statisticOf = StatisticMap(dims);
        int[] affineOf = AffineMap(dims);
        var output = new double[total];
        for (long i = 0; i < total; i++)
        {
            int s = statisticOf[i];
            double gamma = Affine == AffineMode.None ? 1.0 : weight[affineOf[i]];
            double beta = Affine == AffineMode.None ? 0.0 : bias[affineOf[i]];
            output[i] = (input[(int)i] - center[s]) / Math.Sqrt(spread[s] + epsilon) * gamma + beta;
        }
        return output;
    }

    /// <summary>Training forward without running statistics: batch statistics, then the normalization they define.</summary>
    public ReferenceResult ForwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, double epsilon) => ForwardTraining(dims, Widen(input), Widen(weight), Widen(bias), epsilon);

    /// <summary>As the float overload, for double data.</summary>
    public ReferenceResult ForwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> bias, double epsilon)
    {
        ReferenceStatistics batch = Statistics(dims, input);
        double[] output = Kind == NormKind.Standardize
            ? Apply(dims, input, weight, bias, batch.Mean, batch.Variance, epsilon)
            : Apply(dims, input, weight, bias, new double[batch.Mean.Length], batch.MeanSquare, epsilon);
        return new ReferenceResult(output, batch, null, null);
    }

    /// <summary>
    /// Training forward with PyTorch's running update: <c>running = (1 - m) * running + m * batch</c>, where the variance
    /// that enters the running estimate is the UNBIASED one, <c>var * count / (count - 1)</c> (the output still uses the
    /// biased variance). Standardize only (root mean square keeps no running statistics).
    /// </summary>
    /// <exception cref="ArgumentException">A statistic has a single element (the unbiased variance is undefined).</exception>
    public ReferenceResult ForwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, double epsilon, double momentum, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar) =>
        ForwardTraining(dims, Widen(input), Widen(weight), Widen(bias), epsilon, momentum, Widen(runningMean), Widen(runningVar));

    /// <summary>As the float overload, for double data.</summary>
    public ReferenceResult ForwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> bias, double epsilon, double momentum, ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar)
    {
        if (Kind != NormKind.Standardize)
            throw new InvalidOperationException("Running statistics are defined for Standardize only.");
        int statistics = StatisticCount(dims);
        CheckLength(runningMean.Length, statistics, nameof(runningMean));
        CheckLength(runningVar.Length, statistics, nameof(runningVar));

        ReferenceResult result = ForwardTraining(dims, input, weight, bias, epsilon);
        ReferenceStatistics batch = result.Statistics!;
        if (batch.Count < 2)
            throw new ArgumentException("Expected more than 1 value per statistic when training.", nameof(dims));

        var newMean = new double[statistics];
        var newVar = new double[statistics];
        for (int s = 0; s < statistics; s++)
        {
            double unbiased = batch.Variance[s] * batch.Count / (batch.Count - 1);
            newMean[s] = (1 - momentum) * runningMean[s] + momentum * batch.Mean[s];
            newVar[s] = (1 - momentum) * runningVar[s] + momentum * unbiased;
        }
        return new ReferenceResult(result.Output, batch, newMean, newVar);
    }

    /// <summary>Inference with running statistics: <c>y = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta</c>.</summary>
    public double[] ForwardInference(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double epsilon) =>
        ForwardInference(dims, Widen(input), Widen(weight), Widen(bias), Widen(runningMean), Widen(runningVar), epsilon);

    /// <summary>As the float overload, for double data.</summary>
    public double[] ForwardInference(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> bias, ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, double epsilon)
    {
        int statistics = StatisticCount(dims);
        CheckLength(runningMean.Length, statistics, nameof(runningMean));
        CheckLength(runningVar.Length, statistics, nameof(runningVar));
        var center = new double[statistics];
        var spread = new double[statistics];
        for (int s = 0; s < statistics; s++)
        {
            center[s] = runningMean[s];
            spread[s] = runningVar[s];
        }
        return Apply(dims, input, weight, bias, center, spread, epsilon);
    }

    /// <summary>
    /// Gradients of the training forward, whose statistics depend on the input (written from the chain rule, in double).
    /// With xhat = (x - mean) * r, r = 1 / sqrt(var + eps) (root mean square: xhat = x * r, r = 1 / sqrt(meanSquare + eps)),
    /// gdy = gamma * dy and M elements per statistic:
    /// <c>dx = r * (gdy - mean_S(gdy) - xhat * mean_S(gdy * xhat))</c> (root mean square: no <c>mean_S(gdy)</c> term),
    /// <c>dgamma[p] = sum dy * xhat</c>, <c>dbeta[p] = sum dy</c> over the elements using parameter p.
    /// </summary>
    public ReferenceGradients BackwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        ReadOnlySpan<float> weight, double epsilon) => BackwardTraining(dims, Widen(input), Widen(outputGrad), Widen(weight), epsilon);

    /// <summary>As the float overload, for double data.</summary>
    public ReferenceGradients BackwardTraining(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> outputGrad,
        ReadOnlySpan<double> weight, double epsilon)
    {
        ReferenceStatistics batch = Statistics(dims, input);
        bool standardize = Kind == NormKind.Standardize;
        double[] center = standardize ? batch.Mean : new double[batch.Mean.Length];
        double[] spread = standardize ? batch.Variance : batch.MeanSquare;
        return Backward(dims, input, outputGrad, weight, center, spread, epsilon, constant: false);
    }

    /// <summary>
    /// Gradients of the inference forward, statistics held constant (a frozen BatchNorm):
    /// <c>dx = gamma * dy / sqrt(runningVar + eps)</c>, <c>dgamma = sum dy * xhat</c>, <c>dbeta = sum dy</c>.
    /// </summary>
    public ReferenceGradients BackwardInference(ReadOnlySpan<int> dims, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double epsilon) =>
        BackwardInference(dims, Widen(input), Widen(outputGrad), Widen(weight), Widen(runningMean), Widen(runningVar), epsilon);

    /// <summary>As the float overload, for double data.</summary>
    public ReferenceGradients BackwardInference(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> outputGrad,
        ReadOnlySpan<double> weight, ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, double epsilon)
    {
        int statistics = StatisticCount(dims);
        CheckLength(runningMean.Length, statistics, nameof(runningMean));
        CheckLength(runningVar.Length, statistics, nameof(runningVar));
        return Backward(dims, input, outputGrad, weight, runningMean.ToArray(), runningVar.ToArray(), epsilon, constant: true);
    }

    private ReferenceGradients Backward(ReadOnlySpan<int> dims, ReadOnlySpan<double> input, ReadOnlySpan<double> outputGrad,
        ReadOnlySpan<double> weight, double[] center, double[] spread, double epsilon, bool constant)
    {
        long total = ElementCount(dims);
        CheckLength(input.Length, total, nameof(input));
        CheckLength(outputGrad.Length, total, nameof(outputGrad));
        int parameters = AffineLength(dims);
        CheckLength(weight.Length, parameters, nameof(weight));
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");

        int statistics = StatisticCount(dims);
        double count = CountPerStatistic(dims);
        int[] statisticOf = StatisticMap(dims);
        int[] affineOf = AffineMap(dims);
        var r = new double[statistics];
        for (int s = 0; s < statistics; s++) r[s] = 1.0 / Math.Sqrt(spread[s] + epsilon);

        var xhat = new double[total];
        var gdy = new double[total];
        var meanGdy = new double[statistics];
        var meanGdyXhat = new double[statistics];
        var weightGrad = new double[parameters];
        var biasGrad = new double[parameters];
        for (long i = 0; i < total; i++)
        {
            int s = statisticOf[i];
            xhat[i] = (input[(int)i] - center[s]) * r[s];
            double gamma = Affine == AffineMode.None ? 1.0 : weight[affineOf[i]];
            gdy[i] = gamma * outputGrad[(int)i];
            meanGdy[s] += gdy[i] / count;
            meanGdyXhat[s] += gdy[i] * xhat[i] / count;
            if (Affine != AffineMode.None)
            {
                weightGrad[affineOf[i]] += outputGrad[(int)i] * xhat[i];
                biasGrad[affineOf[i]] += outputGrad[(int)i];
            }
        }

        var inputGrad = new double[total];
        for (long i = 0; i < total; i++)
        {
            int s = statisticOf[i];
            double g = gdy[i];
            if (!constant)
            {
                if (Kind == NormKind.Standardize) g -= meanGdy[s];
                g -= xhat[i] * meanGdyXhat[s];
            }
            inputGrad[i] = r[s] * g;
        }
        return new ReferenceGradients(inputGrad, weightGrad, biasGrad);
    }

    // The statistic of every flat index, computed once per call (decomposing per element is the slow part).
    private int[] StatisticMap(ReadOnlySpan<int> dims)
    {
        long total = ElementCount(dims);
        var map = new int[total];
        Span<int> index = stackalloc int[dims.Length];
        for (long i = 0; i < total; i++)
        {
            Decompose(dims, i, index);
            map[i] = StatisticIndex(dims, index);
        }
        return map;
    }

    private int[] AffineMap(ReadOnlySpan<int> dims)
    {
        long total = ElementCount(dims);
        var map = new int[total];
        Span<int> index = stackalloc int[dims.Length];
        for (long i = 0; i < total; i++)
        {
            Decompose(dims, i, index);
            map[i] = AffineIndex(dims, index);
        }
        return map;
    }

    private void CheckDims(ReadOnlySpan<int> dims)
    {
        if (dims.Length != Layout.Length)
            throw new ArgumentException($"Expected {Layout.Length} dims (layout \"{Layout}\"), got {dims.Length}.", nameof(dims));
        for (int a = 0; a < dims.Length; a++)
        {
            if (dims[a] <= 0)
                throw new ArgumentOutOfRangeException(nameof(dims), dims[a], $"Extent of '{Layout[a]}' must be positive.");
        }
        if (Groups > 0 && dims[_channelAxis] % Groups != 0)
            throw new ArgumentException($"C = {dims[_channelAxis]} is not a multiple of Groups = {Groups}.", nameof(dims));
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var wide = new double[values.Length];
        for (int i = 0; i < values.Length; i++) wide[i] = values[i];
        return wide;
    }

    private void CheckAffine(ReadOnlySpan<int> dims, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias)
    {
        int length = AffineLength(dims);
        CheckLength(weight.Length, length, nameof(weight));
        CheckLength(bias.Length, length, nameof(bias));
    }

    private static void CheckLength(long actual, long expected, string name)
    {
        if (actual != expected)
            throw new ArgumentException($"Expected length {expected}, got {actual}.", name);
    }
}

/// <summary>Per-statistic moments computed in double.</summary>
/// <param name="Count">Elements per statistic.</param>
/// <param name="Mean">Mean per statistic.</param>
/// <param name="Variance">Biased variance (divided by <paramref name="Count"/>) per statistic.</param>
/// <param name="MeanSquare">Mean of x squared per statistic (what root mean square normalizes by).</param>
public sealed record ReferenceStatistics(long Count, double[] Mean, double[] Variance, double[] MeanSquare);

/// <summary>The result of a reference forward pass.</summary>
/// <param name="Output">y, in layout order.</param>
/// <param name="Statistics">The batch statistics the output was normalized with.</param>
/// <param name="RunningMean">The updated running means, or null when no running update was asked for.</param>
/// <param name="RunningVar">The updated running (unbiased) variances, or null when no running update was asked for.</param>
public sealed record ReferenceResult(double[] Output, ReferenceStatistics? Statistics, double[]? RunningMean, double[]? RunningVar);

/// <summary>The result of a reference backward pass.</summary>
/// <param name="InputGrad">dL/dx, in layout order.</param>
/// <param name="WeightGrad">dL/dgamma (empty without affine parameters).</param>
/// <param name="BiasGrad">dL/dbeta (empty without affine parameters).</param>
public sealed record ReferenceGradients(double[] InputGrad, double[] WeightGrad, double[] BiasGrad);
