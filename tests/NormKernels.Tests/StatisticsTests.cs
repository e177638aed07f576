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

    /// <summary>Elementwise.Add (the fused layers' residual and sum-gradient passes): every length through the vector loops'
    /// remainders, float and double, into a third array and over either input, against one float or double addition an element.</summary>
    [Fact]
    public void ElementwiseAddIsOneAdditionPerElementAtEveryLengthAndInPlace()
    {
        var rng = new Random(12);
        for (int n = 0; n <= 70; n++)
        {
            float[] a = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e3f).ToArray();
            float[] b = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e-3f).ToArray();
            float[] expected = a.Zip(b, (p, q) => p + q).ToArray();
            var d = new float[n + 1];
            d[n] = 7f;
            Elementwise.Add<float>(a, b, d.AsSpan(0, n));
            Assert.Equal(expected, d.AsSpan(0, n).ToArray());
            Assert.Equal(7f, d[n]);
            float[] overA = (float[])a.Clone(), overB = (float[])b.Clone();
            Elementwise.Add<float>(overA, b, overA);
            Elementwise.Add<float>(a, overB, overB);
            Assert.Equal(expected, overA);
            Assert.Equal(expected, overB);
            double[] x = a.Select(v => (double)v * 1.1).ToArray(), y = b.Select(v => (double)v).ToArray(), z = new double[n];
            Elementwise.Add<double>(x, y, z);
            Assert.Equal(x.Zip(y, (p, q) => p + q).ToArray(), z);
        }
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Elementwise.Add<float>(new float[4], new float[3], new float[4])).ParamName);
    }
}

/// <summary>Elementwise.Add past the streaming threshold (set to 0): the destination stored around the cache from its first
/// 64-byte boundary, at every start offset and length through the peel, the vector loop and the tail, in place too.</summary>
[Collection(nameof(ThreadingTests))]   // ThresholdScope changes the process-wide Streaming.ThresholdBytes
public sealed class ElementwiseStreamingTests
{
    [Fact]
    public void StreamedAddIsOneAdditionPerElementAtEveryOffsetAndLength()
    {
        var rng = new Random(13);
        float[] a = Enumerable.Range(0, 400).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, 400).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e-2f).ToArray();
        using (ThresholdScope.Set(0))
        {
            for (int offset = 0; offset < 16; offset++)
                foreach (int n in new[] { 0, 1, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257, 383 })
                {
                    var d = new float[offset + n + 1];
                    d[offset + n] = 9f;
                    Elementwise.Add<float>(a.AsSpan(0, n), b.AsSpan(0, n), d.AsSpan(offset, n));
                    for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], d[offset + i]);
                    Assert.Equal(9f, d[offset + n]);
                    var over = new float[offset + n];
                    a.AsSpan(0, n).CopyTo(over.AsSpan(offset));
                    Elementwise.Add<float>(over.AsSpan(offset, n), b.AsSpan(0, n), over.AsSpan(offset, n));
                    for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], over[offset + i]);
                    double[] x = a.Take(n).Select(v => (double)v).ToArray(), z = new double[n];
                    Elementwise.Add<double>(x, b.Take(n).Select(v => (double)v).ToArray(), z);
                    for (int i = 0; i < n; i++) Assert.Equal(x[i] + b[i], z[i]);
                }
        }
    }

    /// <summary>Long enough for several 32 K-element chunks on 2 workers (the last one uneven), streamed and not, in place
    /// and not: one addition per element, and the element past the destination untouched.</summary>
    [Fact]
    public void ChunkedAddOnTwoWorkersIsOneAdditionPerElement()
    {
        var rng = new Random(14);
        const int n = 5 * 32768 + 4099;
        float[] a = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e-3f).ToArray();
        float[] expected = a.Zip(b, (p, q) => p + q).ToArray();
        using var degree = DegreeScope.Set(2);
        foreach (long threshold in new[] { 0L, long.MaxValue })
        {
            using var streaming = ThresholdScope.Set(threshold);
            var d = new float[n + 1];
            d[n] = 9f;
            Elementwise.Add<float>(a, b, d.AsSpan(0, n));
            Assert.Equal(expected, d.AsSpan(0, n).ToArray());
            Assert.Equal(9f, d[n]);
            Assert.Equal(2, ParallelUnits.LastWorkers);
            float[] over = (float[])a.Clone();
            Elementwise.Add<float>(over, b, over);
            Assert.Equal(expected, over);
        }
    }
}
