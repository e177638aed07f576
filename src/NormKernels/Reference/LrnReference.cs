using System;

namespace NormKernels.Reference;

/// <summary>
/// A float64 local response normalization written directly from the formulas of
/// <c>torch.nn.functional.local_response_norm</c> (PyTorch 1.13), independent of the generator: the oracle the generated
/// LRN kernels are tested against. Naive on purpose: every window is summed from scratch.
/// </summary>
/// <remarks>
/// <para>Forward, per position and channel c (C channels): <c>D_c = k + alpha / size * sum_{j in W(c)} x_j^2</c>,
/// <c>y_c = x_c * D_c^-beta</c>, with the window <c>W(c) = [c - size/2, c + (size-1)/2]</c> (integer division) clipped
/// to <c>[0, C)</c>. Clipped positions are zero padding and still count in the <c>/ size</c> (PyTorch pads with zeros and
/// averages with <c>count_include_pad</c>).</para>
/// <para>Backward: <c>dx_j = dy_j * D_j^-beta - (2 * alpha * beta / size) * x_j * sum_{c : j in W(c)} dy_c * x_c * D_c^(-beta-1)</c>;
/// <c>j in W(c)</c> exactly when <c>c in [j - (size-1)/2, j + size/2]</c>.</para>
/// <para>A tensor is row-major in layout order; every axis before C is "outer", every axis after C "inner" (the stride
/// between neighbouring channels).</para>
/// </remarks>
public sealed class LrnReference
{
    private readonly string _layout;
    private readonly int _channelAxis;

    /// <summary>Describes one LRN.</summary>
    /// <param name="layout">Distinct upper-case axis letters in memory order containing C (<c>"NCHW"</c>, <c>"NHWC"</c>, ...).</param>
    /// <param name="size">Window size, at least 1.</param>
    /// <param name="alpha">Scale of the sum of squares (divided by <paramref name="size"/>).</param>
    /// <param name="beta">Exponent.</param>
    /// <param name="k">Additive constant.</param>
    /// <exception cref="ArgumentException">The layout has no C or the size is not positive.</exception>
    public LrnReference(string layout, int size = 5, double alpha = 1e-4, double beta = 0.75, double k = 1.0)
    {
        ArgumentNullException.ThrowIfNull(layout);
        _channelAxis = layout.IndexOf('C');
        if (_channelAxis < 0) throw new ArgumentException($"Layout \"{layout}\" has no C.", nameof(layout));
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _layout = layout;
        Size = size;
        Alpha = alpha;
        Beta = beta;
        K = k;
    }

    /// <summary>Window size.</summary>
    public int Size { get; }

    /// <summary>Scale of the sum of squares (before the division by <see cref="Size"/>).</summary>
    public double Alpha { get; }

    /// <summary>Exponent.</summary>
    public double Beta { get; }

    /// <summary>Additive constant.</summary>
    public double K { get; }

    /// <summary>Channels before c in the window: <c>size / 2</c>.</summary>
    public int Before => Size / 2;

    /// <summary>Channels after c in the window: <c>(size - 1) / 2</c>.</summary>
    public int After => (Size - 1) / 2;

    /// <summary>The product of <paramref name="dims"/> (layout order).</summary>
    public long ElementCount(int[] dims)
    {
        CheckDims(dims);
        long count = 1;
        foreach (int d in dims) count *= d;
        return count;
    }

    /// <summary>Forward on <paramref name="x"/> (layout order).</summary>
    public double[] Forward(int[] dims, ReadOnlySpan<double> x)
    {
        var (outer, channels, inner) = Split(dims, x.Length);
        var y = new double[x.Length];
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
                for (int c = 0; c < channels; c++)
                {
                    long at = Index(o, c, i, channels, inner);
                    y[at] = x[(int)at] * Math.Pow(Divisor(x, o, c, i, channels, inner), -Beta);
                }
        return y;
    }

    /// <summary>Forward on float input, evaluated in double.</summary>
    public double[] Forward(int[] dims, ReadOnlySpan<float> x) => Forward(dims, Widen(x));

    /// <summary>The gradient with respect to <paramref name="x"/> given the output gradient <paramref name="dy"/>.</summary>
    public double[] Backward(int[] dims, ReadOnlySpan<double> x, ReadOnlySpan<double> dy) => BackwardTerms(dims, x, dy, magnitudes: false);

    /// <summary>
    /// The scale of the two terms each <c>dx_j</c> combines, for error bounds of a kernel that may cancel them:
    /// <c>|dy_j| * D_j^-beta + (2 * alpha * |beta| / size) * |x_j| * sum_{c : j in W(c)} |dy_c * x_c| * D_c^(-beta-1)</c>.
    /// </summary>
    public double[] BackwardScale(int[] dims, ReadOnlySpan<float> x, ReadOnlySpan<float> dy) => BackwardTerms(dims, Widen(x), Widen(dy), magnitudes: true);

    /// <summary><see cref="BackwardScale(int[], ReadOnlySpan{float}, ReadOnlySpan{float})"/> for double tensors.</summary>
    public double[] BackwardScale(int[] dims, ReadOnlySpan<double> x, ReadOnlySpan<double> dy) => BackwardTerms(dims, x, dy, magnitudes: true);

    /// <summary>Backward on float tensors, evaluated in double.</summary>
    public double[] Backward(int[] dims, ReadOnlySpan<float> x, ReadOnlySpan<float> dy) => Backward(dims, Widen(x), Widen(dy));

    private double[] BackwardTerms(int[] dims, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, bool magnitudes)
    {
        var (outer, channels, inner) = Split(dims, x.Length);
        if (dy.Length != x.Length) throw new ArgumentException("dy must have the length of x.", nameof(dy));
        var dx = new double[x.Length];
        double coefficient = 2 * Alpha * Beta / Size;
        var divisor = new double[channels];
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                for (int c = 0; c < channels; c++) divisor[c] = Divisor(x, o, c, i, channels, inner);
                for (int j = 0; j < channels; j++)
                {
                    long at = Index(o, j, i, channels, inner);
                    double sum = 0;
                    // Every channel c whose window contains j.
                    for (int c = (int)Math.Max(0L, (long)j - After); c <= (int)Math.Min(channels - 1L, (long)j + Before); c++)
                    {
                        long ac = Index(o, c, i, channels, inner);
                        double term = dy[(int)ac] * x[(int)ac] * Math.Pow(divisor[c], -Beta - 1);
                        sum += magnitudes ? Math.Abs(term) : term;
                    }
                    double direct = dy[(int)at] * Math.Pow(divisor[j], -Beta), mixed = coefficient * x[(int)at] * sum;
                    dx[at] = magnitudes ? Math.Abs(direct) + Math.Abs(mixed) : direct - mixed;
                }
            }
        return dx;
    }

    private double Divisor(ReadOnlySpan<double> x, long o, int c, long i, int channels, long inner)
    {
        double sum = 0;
        for (int j = (int)Math.Max(0L, (long)c - Before); j <= (int)Math.Min(channels - 1L, (long)c + After); j++)
        {
            double v = x[(int)Index(o, j, i, channels, inner)];
            sum += v * v;
        }
        return K + Alpha / Size * sum;
    }

    private static long Index(long o, int c, long i, int channels, long inner) => (o * channels + c) * inner + i;

    private (long Outer, int Channels, long Inner) Split(int[] dims, int length)
    {
        CheckDims(dims);
        long outer = 1, inner = 1;
        for (int a = 0; a < _channelAxis; a++) outer *= dims[a];
        for (int a = _channelAxis + 1; a < dims.Length; a++) inner *= dims[a];
        int channels = dims[_channelAxis];
        if (outer * channels * inner != length)
            throw new ArgumentException($"Expected {outer * channels * inner} elements for dims [{string.Join(", ", dims)}], got {length}.");
        return (outer, channels, inner);
    }

    private void CheckDims(int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length != _layout.Length) throw new ArgumentException($"Expected {_layout.Length} dims for layout \"{_layout}\".", nameof(dims));
        foreach (int d in dims) ArgumentOutOfRangeException.ThrowIfLessThan(d, 1, nameof(dims));
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var wide = new double[values.Length];
        for (int i = 0; i < values.Length; i++) wide[i] = values[i];
        return wide;
    }
}
