namespace NormKernels.Generators.Tests;

/// <summary>
/// The formula of docs/architecture.md, y = (x - mean_S) / sqrt(var_S + eps) * gamma + beta, in float64 over any layout: each element's
/// statistic is indexed by its kept axes (C counted by group when there are groups), in layout order. No vectors, no folding.
/// </summary>
internal static class Float64Reference
{
    public sealed record Result(double[] Output, double[] Mean, double[] Variance, long CountPerStatistic);

    public static Result Forward(LayerCase layer, int[] dims, float[] x, float[] weight, float[] bias, double epsilon)
    {
        string layout = layer.Layout;
        HashSet<char> reduced = layer.ReducedLetters;
        int total = dims.Aggregate(1, (a, b) => a * b);
        int[] statisticOf = new int[total];
        int[] parameterOf = new int[total];
        int statistics = 0;
        for (int i = 0; i < total; i++)
        {
            int rest = i, statistic = 0, statStride = 1, parameter = 0, paramStride = 1;
            for (int k = layout.Length - 1; k >= 0; k--)
            {
                int index = rest % dims[k];
                rest /= dims[k];
                char letter = layout[k];
                if (letter == 'C' && layer.Groups > 0)
                {
                    statistic += index / (dims[k] / layer.Groups) * statStride;
                    statStride *= layer.Groups;
                }
                else if (!reduced.Contains(letter))
                {
                    statistic += index * statStride;
                    statStride *= dims[k];
                }
                if (layer.Affine == "PerChannel" && letter == 'C') parameter = index;
                if (layer.Affine == "Elementwise" && letter != 'N')
                {
                    parameter += index * paramStride;
                    paramStride *= dims[k];
                }
            }
            statisticOf[i] = statistic;
            parameterOf[i] = parameter;
            statistics = statStride;
        }

        double[] sum = new double[statistics], count = new double[statistics];
        for (int i = 0; i < total; i++) { sum[statisticOf[i]] += x[i]; count[statisticOf[i]]++; }
        bool rms = layer.Kind == "RootMeanSquare";
        double[] mean = new double[statistics];
        for (int s = 0; s < statistics; s++) mean[s] = rms ? 0 : sum[s] / count[s];
        double[] variance = new double[statistics];
        for (int i = 0; i < total; i++) { double d = x[i] - mean[statisticOf[i]]; variance[statisticOf[i]] += d * d; }
        for (int s = 0; s < statistics; s++) variance[s] /= count[s];

        double[] y = new double[total];
        for (int i = 0; i < total; i++)
        {
            int s = statisticOf[i];
            double normalized = (x[i] - mean[s]) / Math.Sqrt(variance[s] + epsilon);
            y[i] = layer.Affine == "None" ? normalized : normalized * weight[parameterOf[i]] + bias[parameterOf[i]];
        }
        return new Result(y, mean, variance, (long)count[0]);
    }

    /// <summary>Deterministic data around <paramref name="offset"/> (an offset tests the shifted sums).</summary>
    public static float[] Data(int length, int seed, double offset, double scale)
    {
        var random = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)(offset + scale * (random.NextDouble() * 2 - 1));
        return data;
    }

    /// <summary>|actual - expected| within an absolute plus relative float32 tolerance, element by element, with the first miss named.</summary>
    public static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (!(error <= tolerance * (1 + Math.Abs(expected[i]))))
                Assert.Fail(FormattableString.Invariant($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (error {error:E2}, tolerance {tolerance:E1})"));
        }
    }
}
