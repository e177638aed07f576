using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>
/// The statistics arithmetic the generated kernels share once their passes have produced sums.
/// The kernels accumulate <c>x - shift</c> (shift = a sample of the statistic's own data) so the sums
/// stay at the scale of the spread, not of the offset; these turn them into mean and variance in double.
/// </summary>
public static partial class Statistics
{
    /// <summary>
    /// Mean and biased variance from <paramref name="count"/> values given as sums of
    /// <c>d = x - shift</c> and of <c>d * d</c>: <c>mean = shift + S1/n</c>, <c>var = S2/n - (S1/n)^2</c>
    /// (clamped at 0). Exact to the sums' rounding whatever the data's offset, because d is small.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Mean, double Variance) FromShiftedSums(double shift, double sum, double sumOfSquares, double count)
    {
        double shifted = sum / count;
        double variance = sumOfSquares / count - shifted * shifted;
        return (shift + shifted, variance < 0d ? 0d : variance);
    }

    /// <summary>
    /// <paramref name="totals"/> = the sum of <paramref name="rows"/> consecutive rows of <paramref name="partials"/>, each
    /// <c>totals.Length</c> wide, added row after row from zero: per slot <c>((0 + p0) + p1) + ...</c>, the order a scalar
    /// loop over the chunks takes, in vectors (an IEEE addition per lane: the same bits). Merging the whole-tensor
    /// reduction's 12 chunks of 1,536 sums (BatchNorm backward NHWC S2) one double at a time took 10.7-11.4 us a call,
    /// 5-7% of the call (AMD EPYC Zen 5, 2026-12-03).
    /// </summary>
    public static void SumPartials(Span<double> totals, ReadOnlySpan<double> partials, int rows)
    {
        int width = totals.Length;
        totals.Clear();
        for (int row = 0; row < rows; row++)
            TensorPrimitives.Add(totals, partials.Slice(row * width, width), totals);
    }

    /// <summary><c>1 / sqrt(variance + epsilon)</c>, in double (PyTorch: eps inside the square root).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double InverseStd(double variance, double epsilon) => 1d / Math.Sqrt(variance + epsilon);
}
