using NormKernels.Runtime;

namespace NormKernels.Tests;

public class StatisticsTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1e4, 1.0)]
    [InlineData(-3e3, 0.01)]
    public void ShiftedSumsGiveTwoPassMeanAndVariance(double offset, double std)
    {
        var rng = new Random(11);
        var x = new double[1000];
        for (int i = 0; i < x.Length; i++) x[i] = offset + std * (rng.NextDouble() * 2 - 1);

        double shift = x[0], sum = 0, squares = 0;
        foreach (double v in x) { sum += v - shift; squares += (v - shift) * (v - shift); }
        var (mean, variance) = Statistics.FromShiftedSums(shift, sum, squares, x.Length);

        double expectedMean = x.Average();
        double expectedVariance = x.Sum(v => (v - expectedMean) * (v - expectedMean)) / x.Length;
        Assert.Equal(expectedMean, mean, Math.Abs(expectedMean) * 1e-14 + std * 1e-14); // both sides round in double
        Assert.Equal(expectedVariance, variance, expectedVariance * 1e-12);
    }

    [Fact]
    public void VarianceIsClampedAtZeroWhenRoundingMakesItNegative()
    {
        // Sums as a float accumulation can leave them: S2/n slightly below (S1/n)^2.
        var (mean, variance) = Statistics.FromShiftedSums(5.0, 3.0, 8.999999, 1.0);
        Assert.Equal(8.0, mean);
        Assert.Equal(0.0, variance);
    }

    [Fact]
    public void InverseStdAddsEpsilonInsideTheSquareRoot()
    {
        Assert.Equal(1.0 / Math.Sqrt(4.0 + 0.25), Statistics.InverseStd(4.0, 0.25), 15);
        Assert.Equal(1.0 / Math.Sqrt(1e-5), Statistics.InverseStd(0.0, 1e-5), 9);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(5, 8)]
    [InlineData(12, 1536)]
    [InlineData(24, 1027)]
    public void SumPartialsAddsTheRowsInOrderPerSlot(int rows, int width)
    {
        // Values of mixed signs and scales, so another order of the additions would round differently.
        var rng = new Random(rows * 1000 + width);
        var partials = new double[rows * width + 5];
        for (int i = 0; i < partials.Length; i++) partials[i] = (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-8, 9));
        var totals = new double[width];
        Array.Fill(totals, double.NaN); // overwritten, not added to
        Statistics.SumPartials(totals, partials, rows);
        for (int slot = 0; slot < width; slot++)
        {
            double expected = 0; // the scalar order: ((0 + p0) + p1) + ...
            for (int row = 0; row < rows; row++) expected += partials[row * width + slot];
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(totals[slot]));
        }
    }

    [Fact]
    public void SumPartialsRejectsMoreRowsThanThePartialsHold()
    {
        var totals = new double[8];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Statistics.SumPartials(totals, new double[23], 3));
        Assert.Equal("rows", error.ParamName);
    }
}
