using System.Globalization;
using System.Text;
using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>Compares what a generated kernel produced with <see cref="NormReference"/>, element by element, under
/// the bounds of <see cref="Tolerances"/>; a failure names the worst element and how many exceeded their bound.</summary>
internal static class KernelCheck
{
    /// <summary>The (center, spread) a training pass normalizes with: (mean, variance), or (0, mean square).</summary>
    public static (double[] Center, double[] Spread) BatchTerms(NormReference reference, ReferenceStatistics batch) =>
        reference.Kind == NormKind.Standardize
            ? (batch.Mean, batch.Variance)
            : (new double[batch.Mean.Length], batch.MeanSquare);

    /// <summary>The (center, spread) inference normalizes with: the running statistics.</summary>
    public static (double[] Center, double[] Spread) RunningTerms(float[] runningMean, float[] runningVar) =>
        (runningMean.Select(v => (double)v).ToArray(), runningVar.Select(v => (double)v).ToArray());

    /// <summary>Asserts every output element is within <see cref="Tolerances.Output"/> of the reference.</summary>
    public static void Outputs(NormReference reference, int[] dims, float[] input, float[] weight, float[] bias,
        (double[] Center, double[] Spread) terms, double epsilon, double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var index = new int[dims.Length];
        int failures = 0, worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            reference.Decompose(dims, i, index);
            int s = reference.StatisticIndex(dims, index);
            int k = reference.AffineIndex(dims, index);
            double gamma = k < 0 ? 1.0 : weight[k];
            double beta = k < 0 ? 0.0 : bias[k];
            double a = gamma / Math.Sqrt(terms.Spread[s] + epsilon);
            double scale = Math.Abs(a) * Math.Sqrt(terms.Spread[s] + epsilon);
            double bound = Tolerances.Output(expected[i], input[i], terms.Center[s], a, beta, scale);
            double error = Math.Abs(actual[i] - expected[i]);
            double ratio = error / bound;
            if (!(ratio <= 1)) failures++;
            if (!(ratio <= worstRatio)) { worstRatio = ratio; worst = i; }
        }
        if (failures > 0)
        {
            reference.Decompose(dims, worst, index);
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {failures} of {expected.Length} outputs out of tolerance; worst at flat {worst} (indices [{string.Join(",", index)}], dims [{string.Join(",", dims)}]): expected {expected[worst]:R}, got {actual[worst]:R}, error/bound {worstRatio:G3}"));
        }
    }

    /// <summary>Asserts batch means and variances (or mean squares) written by a static kernel.</summary>
    public static void BatchStatistics(NormReference reference, ReferenceStatistics batch, ReadOnlySpan<float> first,
        ReadOnlySpan<float> second, string what)
    {
        var problems = new StringBuilder();
        for (int s = 0; s < batch.Mean.Length; s++)
        {
            if (reference.Kind == NormKind.Standardize)
            {
                Expect(problems, "mean", s, batch.Mean[s], first[s], Tolerances.Mean(batch.Mean[s], batch.Variance[s]));
                Expect(problems, "variance", s, batch.Variance[s], second[s], Tolerances.Variance(batch.Variance[s]));
            }
            else
            {
                Expect(problems, "mean square", s, batch.MeanSquare[s], first[s], Tolerances.Variance(batch.MeanSquare[s]));
            }
        }
        if (problems.Length > 0) Assert.Fail($"{what}:\n{problems}");
    }

    /// <summary>Asserts running statistics after one training step from <paramref name="previousMean"/>/<paramref name="previousVar"/>.</summary>
    public static void Running(ReferenceResult expected, float[] previousMean, float[] previousVar, double momentum,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, string what)
    {
        ReferenceStatistics batch = expected.Statistics!;
        var problems = new StringBuilder();
        for (int s = 0; s < batch.Mean.Length; s++)
        {
            double unbiased = batch.Variance[s] * batch.Count / (batch.Count - 1);
            Expect(problems, "running mean", s, expected.RunningMean![s], runningMean[s],
                Tolerances.Running(previousMean[s], batch.Mean[s], momentum, Tolerances.Mean(batch.Mean[s], batch.Variance[s])));
            Expect(problems, "running var", s, expected.RunningVar![s], runningVar[s],
                Tolerances.Running(previousVar[s], unbiased, momentum, Tolerances.Variance(unbiased)));
        }
        if (problems.Length > 0) Assert.Fail($"{what}:\n{problems}");
    }

    private static void Expect(StringBuilder problems, string quantity, int statistic, double expected, float actual, double bound)
    {
        double error = Math.Abs(actual - expected);
        if (!(error <= bound) && problems.Length < 2000)
            problems.Append(CultureInfo.InvariantCulture,
                $"  {quantity}[{statistic}]: expected {expected:R}, got {actual:R}, error {error:G3} > bound {bound:G3}\n");
    }

    /// <summary>Bit patterns, so that comparisons are exact and NaN payloads count.</summary>
    public static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }

    /// <summary>A deterministic seed from a test's name (string.GetHashCode is randomized per process).</summary>
    public static int Seed(string name, int salt = 0)
    {
        int seed = 17 + salt;
        foreach (char ch in name) seed = unchecked(seed * 31 + ch);
        return seed;
    }

    /// <summary>Random gamma, beta and running statistics, written into the layer's own arrays.</summary>
    public static void Randomize(INormalizationLayer layer, Random random)
    {
        TestData.Uniform(random, layer.Weight.Length, -2, 2).CopyTo(layer.Weight, 0);
        TestData.Uniform(random, layer.Bias.Length, -1, 1).CopyTo(layer.Bias, 0);
        if (layer.RunningMean is { } runningMean)
            TestData.Uniform(random, runningMean.Length, -1, 1).CopyTo(runningMean, 0);
        if (layer.RunningVar is { } runningVar)
            TestData.Uniform(random, runningVar.Length, 0.25, 3).CopyTo(runningVar, 0);
    }

    /// <summary>One training step of <paramref name="layer"/> on <paramref name="input"/>, checked against the reference
    /// (output, and running statistics when N is reduced).</summary>
    public static void TrainingStep(LayerCase layerCase, INormalizationLayer layer, int[] dims, float[] input, double momentum, string what)
    {
        NormReference reference = layerCase.Reference;
        float[] previousMean = layer.RunningMean?.ToArray() ?? [];
        float[] previousVar = layer.RunningVar?.ToArray() ?? [];
        var output = new float[input.Length];
        layer.Training = true;
        layer.Forward(input, output, dims);
        Assert.NotEqual(KernelPath.None, layer.LastPath);

        double epsilon = layer.Epsilon;
        ReferenceResult expected = reference.ReducesBatch
            ? reference.ForwardTraining(dims, input, layer.Weight, layer.Bias, epsilon, momentum, previousMean, previousVar)
            : reference.ForwardTraining(dims, input, layer.Weight, layer.Bias, epsilon);
        Outputs(reference, dims, input, layer.Weight, layer.Bias, BatchTerms(reference, expected.Statistics!), epsilon,
            expected.Output, output, what + " training output");
        if (reference.ReducesBatch)
            Running(expected, previousMean, previousVar, momentum, layer.RunningMean!, layer.RunningVar!, what + " running statistics");
    }

    /// <summary>One inference pass, checked against the reference: running statistics when N is reduced (which must not
    /// change), otherwise the same per-sample statistics as training.</summary>
    public static void InferenceStep(LayerCase layerCase, INormalizationLayer layer, int[] dims, float[] input, string what)
    {
        NormReference reference = layerCase.Reference;
        int[] meanBits = Bits(layer.RunningMean ?? []), varBits = Bits(layer.RunningVar ?? []);
        var output = new float[input.Length];
        layer.Training = false;
        layer.Forward(input, output, dims);
        Assert.NotEqual(KernelPath.None, layer.LastPath);

        double epsilon = layer.Epsilon;
        if (reference.ReducesBatch)
        {
            double[] expected = reference.ForwardInference(dims, input, layer.Weight, layer.Bias, layer.RunningMean!, layer.RunningVar!, epsilon);
            Outputs(reference, dims, input, layer.Weight, layer.Bias, RunningTerms(layer.RunningMean!, layer.RunningVar!), epsilon,
                expected, output, what + " inference output");
            Assert.Equal(meanBits, Bits(layer.RunningMean!));
            Assert.Equal(varBits, Bits(layer.RunningVar!));
        }
        else
        {
            ReferenceResult expected = reference.ForwardTraining(dims, input, layer.Weight, layer.Bias, epsilon);
            Outputs(reference, dims, input, layer.Weight, layer.Bias, BatchTerms(reference, expected.Statistics!), epsilon,
                expected.Output, output, what + " inference output (per-sample statistics)");
        }
    }
}
