namespace NormKernels.Tests;

/// <summary>
/// Every tolerance the kernel tests use, in one place. The reference is float64 and exact to double rounding, so each
/// bound is what a float32 kernel can be expected to reach, stated against the magnitudes the kernel combines.
/// </summary>
/// <remarks>
/// <para>Outputs. A float32 kernel computes <c>y = (x - c) * a + b</c> with <c>c</c> the center rounded to float,
/// <c>a = gamma / sqrt(spread + eps)</c> and <c>b = beta - (center - c) * a</c> in double. <c>x - c</c> is exact for x near the
/// center, so besides the statistics' own error it rounds at the scale of <c>|a * (x - center)|</c>, the output itself, not
/// at <c>|a * x|</c>: offset data (1e4 with std 1, -3e3 with std 0.01) is normalized as precisely as centred data. The bound
/// per element is <c>OutputRelative * (|y - beta| + |beta| + |gamma|) + OutputRoundoffs * u * |a| * |x - center|</c>,
/// u = 2^-24: about 1e-5 of the output's scale. (A plain <c>x * a + b</c> in float would lose <c>u * |a| * (|x| + |center|)</c>,
/// 1e-3 to 0.1 of the scale on such data.)</para>
/// <para>Batch statistics. The mean is within <see cref="MeanUlps"/> ulps of the float32 value nearest |mean| plus
/// <see cref="MeanSpreadRelative"/> of the standard deviation (float accumulation of deviations, which scale with the
/// spread, not the offset). Variance and mean square: <see cref="VarianceRelative"/> relative.</para>
/// <para>Running statistics. <c>(1 - m) * running + m * batch</c> in float: a few roundoffs of both terms, plus m times
/// the batch statistic's bound (the unbiased variance inherits the variance's relative bound).</para>
/// </remarks>
internal static class Tolerances
{
    /// <summary>Unit roundoff of float32, 2^-24.</summary>
    public const double Roundoff = 1.0 / (1 << 24);

    /// <summary>Output error relative to the output's own scale |gamma * xhat| + |beta|: covers the statistics' relative
    /// error (variance 1e-5 moves y by half that) and the rounding of the reciprocal square root.</summary>
    public const double OutputRelative = 1e-5;

    /// <summary>Output error in units of roundoff of |a * (x - center)|.</summary>
    public const double OutputRoundoffs = 8;

    /// <summary>Batch mean: ulps of |mean| (the float mean is within half an ulp when exact; 2 leaves room for one more
    /// rounding in the combination).</summary>
    public const double MeanUlps = 2;

    /// <summary>Batch mean: relative to the standard deviation, for the float accumulation of deviations.</summary>
    public const double MeanSpreadRelative = 1e-5;

    /// <summary>Batch (biased) variance, unbiased running variance and mean square: relative.</summary>
    public const double VarianceRelative = 1e-5;

    /// <summary>Running statistics: roundoffs of each term of <c>(1 - m) * running + m * batch</c>.</summary>
    public const double RunningRoundoffs = 8;

    /// <summary>The distance from |v| (as float) to the next float: one ulp.</summary>
    public static double Ulp(double v)
    {
        float magnitude = Math.Abs((float)v);
        return MathF.BitIncrement(magnitude) - magnitude;
    }

    /// <summary>Bound for one output element. <paramref name="scale"/> is the output's scale,
    /// <c>|a| * sqrt(spread + eps)</c> (= |gamma|): an error of the mean within <see cref="MeanSpreadRelative"/> of the
    /// standard deviation moves every output of the statistic by that fraction of the scale, elements near the mean included.</summary>
    public static double Output(double expected, double x, double center, double a, double beta, double scale) =>
        OutputRelative * (Math.Abs(expected - beta) + Math.Abs(beta) + scale)
        + OutputRoundoffs * Roundoff * Math.Abs(a) * Math.Abs(x - center);

    /// <summary>Bound for a batch mean whose (biased) variance is <paramref name="variance"/>.</summary>
    public static double Mean(double mean, double variance) =>
        MeanUlps * Ulp(mean) + MeanSpreadRelative * Math.Sqrt(variance);

    /// <summary>Bound for a variance or mean square.</summary>
    public static double Variance(double variance) => VarianceRelative * Math.Abs(variance);

    /// <summary>Bound for a running statistic updated from <paramref name="previous"/> with <paramref name="momentum"/>,
    /// where the batch statistic is <paramref name="batch"/> known within <paramref name="batchBound"/>.</summary>
    public static double Running(double previous, double batch, double momentum, double batchBound) =>
        RunningRoundoffs * Roundoff * (Math.Abs((1 - momentum) * previous) + Math.Abs(momentum * batch))
        + Math.Abs(momentum) * batchBound;
}
