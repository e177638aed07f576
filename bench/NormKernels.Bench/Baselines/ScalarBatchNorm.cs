using System;
using BenchmarkDotNet.Attributes;

namespace NormKernels.Bench.Baselines;

/// <summary>
/// BatchNorm training forward over NCHW written the way a user would write it in plain C#:
/// per channel, one loop for the mean, one loop for the variance, then one loop to apply.
/// It is the baseline the generated kernels are compared with, not a reference for tests.
/// </summary>
/// <remarks>
/// Semantics follow <c>torch.nn.functional.batch_norm(training=True)</c>: biased variance to
/// normalize, unbiased variance (m / (m - 1)) in the running estimate, eps inside the square root,
/// <c>running = (1 - momentum) * running + momentum * batch</c>. Accumulators are double (a careful
/// user's choice; scalar double adds cost the same as float ones), with no SIMD and no threads.
/// </remarks>
public sealed class ScalarBatchNorm
{
    public ScalarBatchNorm(int channels, float epsilon = 1e-5f, float momentum = 0.1f)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, "must be positive");
        Epsilon = epsilon;
        Momentum = momentum;
        Weight = new float[channels];
        Bias = new float[channels];
        RunningMean = new float[channels];
        RunningVar = new float[channels];
        Weight.AsSpan().Fill(1f);
        RunningVar.AsSpan().Fill(1f);
    }

    public float Epsilon { get; }
    public float Momentum { get; }
    public float[] Weight { get; }
    public float[] Bias { get; }
    public float[] RunningMean { get; }
    public float[] RunningVar { get; }

    /// <summary>Training forward: batch statistics per channel over N, H, W; updates the running ones.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int n, int c, int h, int w)
    {
        if (c != Weight.Length) throw new ArgumentException($"expected c = {Weight.Length}, got {c}", nameof(c));
        long expected = (long)n * c * h * w;
        if (input.Length != expected) throw new ArgumentException($"expected length {expected}, got {input.Length}", nameof(input));
        if (output.Length != expected) throw new ArgumentException($"expected length {expected}, got {output.Length}", nameof(output));

        int plane = h * w;
        long count = (long)n * plane;

        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                    sum += input[start + i];
            }
            double mean = sum / count;

            double squares = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                {
                    double d = input[start + i] - mean;
                    squares += d * d;
                }
            }
            double variance = squares / count;

            float meanF = (float)mean;
            float invStd = (float)(1.0 / Math.Sqrt(variance + Epsilon));
            float gamma = Weight[ch], beta = Bias[ch];
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                    output[start + i] = (input[start + i] - meanF) * invStd * gamma + beta;
            }

            double unbiased = count > 1 ? squares / (count - 1) : variance;
            RunningMean[ch] = (float)((1 - Momentum) * RunningMean[ch] + Momentum * mean);
            RunningVar[ch] = (float)((1 - Momentum) * RunningVar[ch] + Momentum * unbiased);
        }
    }
}

/// <summary>The scalar baseline on the benchmark shapes (NCHW; S4 is N x C with H = W = 1).</summary>
[BenchmarkCategory("BatchNorm", "Baseline")]
public class ScalarBatchNormBenchmark
{
    private float[] _input = Array.Empty<float>();
    private float[] _output = Array.Empty<float>();
    private ScalarBatchNorm _layer = new(1);
    private BenchShape _shape = Shapes.S1;

    /// <summary>Shape name, see <see cref="Shapes"/>.</summary>
    [Params("S1", "S2", "S4")]
    public string Shape { get; set; } = "S1";

    [GlobalSetup]
    public void Setup()
    {
        _shape = Shapes.Get(Shape);
        _input = Shapes.RandomInput(_shape);
        _output = new float[_shape.Elements];
        _layer = new ScalarBatchNorm(_shape.C);
    }

    [Benchmark]
    public void TrainForwardNchw() => _layer.Forward(_input, _output, _shape.N, _shape.C, _shape.H, _shape.W);
}
