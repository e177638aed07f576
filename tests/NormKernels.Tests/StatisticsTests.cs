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
}
