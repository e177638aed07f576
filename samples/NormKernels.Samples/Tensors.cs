namespace NormKernels.Samples;

/// <summary>Small helpers the samples share: deterministic random data and float64 statistics for printing.</summary>
internal static class Tensors
{
    /// <summary>Three decimals in the invariant culture, without the "-0.000" of a tiny negative value.</summary>
    public static string F3(double value) =>
        (Math.Round(value, 3) == 0 ? 0.0 : value).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Standard normal samples (Box-Muller) from a seeded generator, so every run prints the same numbers.</summary>
    public static void FillNormal(Random random, Span<float> values, float mean = 0f, float std = 1f)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = mean + std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
    }

    /// <summary>Mean and (biased) standard deviation of the elements <paramref name="select"/> picks, in float64.</summary>
    public static (double Mean, double Std) MeanStd(ReadOnlySpan<float> values, Func<int, bool> select)
    {
        double sum = 0, squares = 0;
        long count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (!select(i)) continue;
            sum += values[i];
            squares += (double)values[i] * values[i];
            count++;
        }
        double mean = sum / count;
        return (mean, Math.Sqrt(Math.Max(0, squares / count - mean * mean)));
    }

    /// <summary>Per-channel mean and biased variance of a channels-last tensor (the last axis is C), in float64.</summary>
    public static (double[] Mean, double[] Variance) ChannelStatistics(ReadOnlySpan<float> channelsLast, int channels)
    {
        var sum = new double[channels];
        var squares = new double[channels];
        for (int i = 0; i < channelsLast.Length; i++)
        {
            sum[i % channels] += channelsLast[i];
            squares[i % channels] += (double)channelsLast[i] * channelsLast[i];
        }
        long count = channelsLast.Length / channels;
        var mean = new double[channels];
        var variance = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            mean[c] = sum[c] / count;
            variance[c] = squares[c] / count - mean[c] * mean[c];
        }
        return (mean, variance);
    }

    /// <summary><c>y[row] = x[row] * W + b</c> for every row of <paramref name="x"/> (rows of length <c>inSize</c>), W stored [inSize, outSize].</summary>
    public static void Linear(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inSize, int outSize)
    {
        int rows = x.Length / inSize;
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * inSize, inSize);
            var result = y.Slice(r * outSize, outSize);
            bias.CopyTo(result);
            for (int i = 0; i < inSize; i++)
            {
                float xi = row[i];
                var w = weight.Slice(i * outSize, outSize);
                for (int o = 0; o < outSize; o++) result[o] += xi * w[o];
            }
        }
    }
}
