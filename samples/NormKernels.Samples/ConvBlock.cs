using System.Globalization;

namespace NormKernels.Samples;

// The conv block's two normalization layers. Layout is the memory order of the tensor (here
// channels-last: batch, height, width, channels); Axes are the axes each statistic reduces over.

/// <summary>BatchNorm for a channels-last conv net: one mean/variance per channel over (batch, height, width).</summary>
[Normalize(Layout = "NHWC", Axes = "N,H,W")]
public sealed partial class ConvBatchNorm;

/// <summary>GroupNorm with 8 groups: one mean/variance per (sample, group of channels) over the group's channels and the image.</summary>
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 8)]
public sealed partial class ConvGroupNorm;

/// <summary>
/// depthwise 3x3 conv -> BatchNorm -> ReLU -> GroupNorm on channels-last activations. The conv's
/// input comes from a fixed distribution with a different offset and scale per channel, as a
/// previous layer's output would; BatchNorm learns that distribution's statistics while training and
/// uses them in inference.
/// </summary>
internal static class ConvBlock
{
    private const int Batch = 8, Height = 16, Width = 16, Channels = 32, Groups = 8;

    public static void Run()
    {
        Console.WriteLine($"== Conv block, NHWC {Batch}x{Height}x{Width}x{Channels}: depthwise 3x3 conv -> BatchNorm -> ReLU -> GroupNorm({Groups}) ==");
        var random = new Random(1234);
        var conv = new DepthwiseConv3x3(Channels, random);
        var bn = new ConvBatchNorm(channels: Channels);     // Weight 1, Bias 0, RunningMean 0, RunningVar 1, Momentum 0.1
        var gn = new ConvGroupNorm(channels: Channels);

        int size = Batch * Height * Width * Channels;
        var input = new float[size];
        var features = new float[size];
        var normalized = new float[size];
        var output = new float[size];

        // What BatchNorm should learn: the statistics of the conv output over many batches, in float64.
        var (populationMean, populationVariance) = PopulationStatistics(conv, batches: 16);

        // Training: every step sees a new batch; Forward normalizes with the batch's statistics and
        // moves the running ones toward them (running = 0.9 * running + 0.1 * batch).
        Console.WriteLine("training: gap between BatchNorm's running statistics and the population's (max over channels)");
        Console.WriteLine("   step   |running mean - mean|   |running var / var - 1|");
        for (int step = 1; step <= 40; step++)
        {
            SampleInput(random, input);
            conv.Forward(input, features, Batch, Height, Width);
            bn.Forward(features, normalized, Batch, Height, Width, Channels);   // dims in layout order: n, h, w, c
            if (step is 1 or 5 or 10 or 20 or 40)
            {
                double meanGap = 0, varGap = 0;
                for (int c = 0; c < Channels; c++)
                {
                    meanGap = Math.Max(meanGap, Math.Abs(bn.RunningMean[c] - populationMean[c]));
                    varGap = Math.Max(varGap, Math.Abs(bn.RunningVar[c] / populationVariance[c] - 1));
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {step,4}   {meanGap,20:F4}   {varGap,22:F4}"));
            }
        }
        PrintChannels("training output (batch statistics)", normalized);
        Console.WriteLine($"BatchNorm training ran on {bn.LastPath}");

        // Inference: the running statistics replace the batch's, so one sample's output no longer
        // depends on the rest of its batch, and the kernel is a single multiply-add per element.
        bn.Training = false;
        SampleInput(random, input);
        conv.Forward(input, features, Batch, Height, Width);
        bn.Forward(features, normalized, Batch, Height, Width, Channels);
        PrintChannels("inference output (running statistics, a new batch)", normalized);
        Console.WriteLine($"BatchNorm inference ran on {bn.LastPath}");

        // ReLU, then GroupNorm: statistics per sample and group of 4 channels, in training and
        // inference alike (no running statistics: N is not reduced).
        for (int i = 0; i < size; i++) normalized[i] = Math.Max(normalized[i], 0f);
        gn.Forward(normalized, output, Batch, Height, Width, Channels);
        int perGroup = Channels / Groups;
        Console.WriteLine("GroupNorm output of sample 0, per group (mean, std):");
        var line = new System.Text.StringBuilder("  ");
        int sampleSize = Height * Width * Channels;
        for (int g = 0; g < Groups; g++)
        {
            int group = g;
            var (mean, std) = Tensors.MeanStd(output.AsSpan(0, sampleSize), i => i % Channels / perGroup == group);
            line.Append($" g{g}: ({Tensors.F3(mean)}, {Tensors.F3(std)})");
        }
        Console.WriteLine(line);
        Console.WriteLine($"GroupNorm ran on {gn.LastPath}");

        // Learning: a fresh BatchNorm fits gamma and beta by gradient descent so that its output matches
        // 2 * xhat + 0.5 (xhat = the normalized input). Backward gives dL/dgamma and dL/dbeta (accumulated,
        // hence ZeroGrad) and dL/dinput, which would flow on into the conv.
        var learner = new ConvBatchNorm(Channels);
        var outputGrad = new float[size];
        var inputGrad = new float[size];
        Console.WriteLine("learning gamma -> 2, beta -> 0.5 with Backward (mean over channels):");
        for (int step = 1; step <= 20; step++)
        {
            SampleInput(random, input);
            conv.Forward(input, features, Batch, Height, Width);
            learner.Forward(features, normalized, Batch, Height, Width, Channels);
            for (int i = 0; i < size; i++)
            {
                int c = i % Channels;
                float xhat = (normalized[i] - learner.Bias[c]) / learner.Weight[c];
                outputGrad[i] = (normalized[i] - (2f * xhat + 0.5f)) / size;   // L = mean of (y - target)^2 / 2
            }
            learner.ZeroGrad();
            learner.Backward(features, outputGrad, inputGrad, Batch, Height, Width, Channels);
            // Plain SGD through the layer's parameter list (PyTorch's names weight and bias, the layer's own arrays).
            foreach (var parameter in learner.Parameters())
                for (int c = 0; c < Channels; c++)
                    parameter.Value[c] -= 0.5f * Channels * parameter.Grad[c];
            if (step is 1 or 2 or 5 or 20)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   step {step,2}: gamma {learner.Weight.Average(),7:F4}  beta {learner.Bias.Average(),7:F4}"));
        }
        Console.WriteLine($"BatchNorm backward ran on {learner.LastPath}");
    }

    /// <summary>The conv's input: per channel c, mean 0.5 + 0.1c and standard deviation 1 + 0.05c.</summary>
    private static void SampleInput(Random random, Span<float> input)
    {
        Tensors.FillNormal(random, input);
        for (int i = 0; i < input.Length; i++)
        {
            int c = i % Channels;
            input[i] = 0.5f + 0.1f * c + (1f + 0.05f * c) * input[i];
        }
    }

    private static (double[] Mean, double[] Variance) PopulationStatistics(DepthwiseConv3x3 conv, int batches)
    {
        var random = new Random(99);
        int size = Batch * Height * Width * Channels;
        var input = new float[size];
        var features = new float[batches * size];
        for (int b = 0; b < batches; b++)
        {
            SampleInput(random, input);
            conv.Forward(input, features.AsSpan(b * size, size), Batch, Height, Width);
        }
        return Tensors.ChannelStatistics(features, Channels);
    }

    private static void PrintChannels(string title, ReadOnlySpan<float> values)
    {
        var (mean, variance) = Tensors.ChannelStatistics(values, Channels);
        Console.WriteLine(title + ", per channel (mean, std):");
        var line = new System.Text.StringBuilder("  ");
        foreach (int c in new[] { 0, 1, 15, 31 })
            line.Append($" c{c}: ({Tensors.F3(mean[c])}, {Tensors.F3(Math.Sqrt(variance[c]))})");
        Console.WriteLine(line);
    }
}

/// <summary>A depthwise 3x3 convolution with zero padding on NHWC: each channel has its own 3x3 kernel and bias.</summary>
internal sealed class DepthwiseConv3x3
{
    private readonly int _channels;
    private readonly float[] _kernel;   // [3, 3, C]: channels innermost, like the data
    private readonly float[] _bias;     // [C]

    public DepthwiseConv3x3(int channels, Random random)
    {
        _channels = channels;
        _kernel = new float[9 * channels];
        _bias = new float[channels];
        Tensors.FillNormal(random, _kernel, mean: 0.1f, std: 0.3f);
        Tensors.FillNormal(random, _bias, std: 0.5f);
    }

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, int height, int width)
    {
        int c = _channels;
        for (int n = 0; n < batch; n++)
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            var result = output.Slice(((n * height + y) * width + x) * c, c);
            _bias.CopyTo(result);
            for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
            {
                int sy = y + dy, sx = x + dx;
                if (sy < 0 || sy >= height || sx < 0 || sx >= width) continue;   // zero padding
                var pixel = input.Slice(((n * height + sy) * width + sx) * c, c);
                var weights = _kernel.AsSpan(((dy + 1) * 3 + dx + 1) * c, c);
                for (int k = 0; k < c; k++) result[k] += pixel[k] * weights[k];
            }
        }
    }
}
