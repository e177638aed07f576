using System;
using System.Numerics.Tensors;

namespace NormKernels.Bench.Baselines;

// What a .NET developer writes with the BCL's vectorized span math, System.Numerics.Tensors.TensorPrimitives
// (10.0): no hand-written SIMD, one TensorPrimitives call per contiguous run.
//
// * Statistics of a contiguous run: TensorPrimitives.Sum and SumOfSquares, var = E[x^2] - mean^2 (the one-pass
//   formula these two calls give; fine for the benchmark data, which is centred near 0.5, but it loses digits
//   on offset data, unlike the generated kernels: see the README's accuracy section).
// * Apply on a contiguous run with one scale/shift: y = x * a + b, a = gamma * invStd, b = beta - mean * a, as
//   Multiply then Add (TensorPrimitives has no scalar-scalar MultiplyAdd overload; the second call runs on the
//   L1-resident output).
// * Channels-last (NHWC): the statistics of a channel are strided, and TensorPrimitives has no strided or
//   axis-wise reduction. What a developer writes instead treats every pixel's C channels as a row and
//   accumulates per-channel float sums row by row (Add for the sum, MultiplyAdd(row, row, sq, sq) for the
//   squares), then applies MultiplyAdd(row, scale[], shift[], out) per row: three calls per pixel, each on C
//   elements, so the call overhead grows as C shrinks. The float accumulators are the ones PyTorch 1.13 uses
//   channels-last (the research notes' numerics section): exact enough here, not on offset data.
// Per-call scratch arrays are allocated as a developer would (they are small: one float per channel).

/// <summary>BatchNorm composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesBatchNorm
{
    public static void TrainingNchw(ReadOnlySpan<float> x, Span<float> y, int n, int c, int h, int w,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> runningMean, Span<float> runningVar, float eps, float momentum)
    {
        int plane = h * w;
        long count = (long)n * plane;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, squares = 0;
            for (int b = 0; b < n; b++)
            {
                var run = x.Slice((b * c + ch) * plane, plane);
                sum += TensorPrimitives.Sum(run);
                squares += TensorPrimitives.SumOfSquares(run);
            }
            double mean = sum / count;
            double variance = Math.Max(squares / count - mean * mean, 0);
            float scale = (float)(gamma[ch] / Math.Sqrt(variance + eps));
            float shift = (float)(beta[ch] - mean * scale);
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                var target = y.Slice(start, plane);
                TensorPrimitives.Multiply(x.Slice(start, plane), scale, target);
                TensorPrimitives.Add(target, shift, target);
            }
            runningMean[ch] = (float)((1 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float)((1 - momentum) * runningVar[ch] + momentum * variance * count / (count - 1));
        }
    }

    public static void TrainingNhwc(ReadOnlySpan<float> x, Span<float> y, int n, int h, int w, int c,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> runningMean, Span<float> runningVar, float eps, float momentum)
    {
        int pixels = n * h * w;
        var sum = new float[c];
        var squares = new float[c];
        ChannelsLast.Accumulate(x, pixels, c, sum, squares);
        var scale = new float[c];
        var shift = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double mean = (double)sum[ch] / pixels;
            double variance = Math.Max((double)squares[ch] / pixels - mean * mean, 0);
            scale[ch] = (float)(gamma[ch] / Math.Sqrt(variance + eps));
            shift[ch] = (float)(beta[ch] - mean * scale[ch]);
            runningMean[ch] = (float)((1 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float)((1 - momentum) * runningVar[ch] + momentum * variance * pixels / (pixels - 1));
        }
        ChannelsLast.Apply(x, y, pixels, c, scale, shift);
    }

    public static void InferenceNchw(ReadOnlySpan<float> x, Span<float> y, int n, int c, int h, int w,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps)
    {
        int plane = h * w;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                float scale = gamma[ch] / MathF.Sqrt(runningVar[ch] + eps);
                float shift = beta[ch] - runningMean[ch] * scale;
                int start = (b * c + ch) * plane;
                var target = y.Slice(start, plane);
                TensorPrimitives.Multiply(x.Slice(start, plane), scale, target);
                TensorPrimitives.Add(target, shift, target);
            }
    }

    public static void InferenceNhwc(ReadOnlySpan<float> x, Span<float> y, int n, int h, int w, int c,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps)
    {
        var scale = new float[c];
        var shift = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            scale[ch] = gamma[ch] / MathF.Sqrt(runningVar[ch] + eps);
            shift[ch] = beta[ch] - runningMean[ch] * scale[ch];
        }
        ChannelsLast.Apply(x, y, n * h * w, c, scale, shift);
    }
}

/// <summary>LayerNorm composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesLayerNorm
{
    /// <summary>Over C,H,W of NCHW; gamma/beta per channel.</summary>
    public static void Nchw(ReadOnlySpan<float> x, Span<float> y, int n, int c, int h, int w,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        int plane = h * w, size = c * plane;
        for (int b = 0; b < n; b++)
        {
            var sample = x.Slice(b * size, size);
            double mean = (double)TensorPrimitives.Sum(sample) / size;
            double variance = Math.Max((double)TensorPrimitives.SumOfSquares(sample) / size - mean * mean, 0);
            double invStd = 1 / Math.Sqrt(variance + eps);
            for (int ch = 0; ch < c; ch++)
            {
                float scale = (float)(gamma[ch] * invStd);
                float shift = (float)(beta[ch] - mean * scale);
                int start = b * size + ch * plane;
                var target = y.Slice(start, plane);
                TensorPrimitives.Multiply(x.Slice(start, plane), scale, target);
                TensorPrimitives.Add(target, shift, target);
            }
        }
    }

    /// <summary>Over the last dim of rows <c>[n, c]</c>, written from the formula: subtract, scale, affine.</summary>
    public static void Rows(ReadOnlySpan<float> x, Span<float> y, int n, int c, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        for (int r = 0; r < n; r++)
        {
            var row = x.Slice(r * c, c);
            var target = y.Slice(r * c, c);
            float mean = TensorPrimitives.Sum(row) / c;
            float variance = MathF.Max(TensorPrimitives.SumOfSquares(row) / c - mean * mean, 0);
            TensorPrimitives.Subtract(row, mean, target);
            TensorPrimitives.Multiply(target, 1 / MathF.Sqrt(variance + eps), target);
            TensorPrimitives.MultiplyAdd(target, gamma, beta, target);
        }
    }
}

/// <summary>InstanceNorm composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesInstanceNorm
{
    public static void Nchw(ReadOnlySpan<float> x, Span<float> y, int n, int c, int h, int w,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        int plane = h * w;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                int start = (b * c + ch) * plane;
                var run = x.Slice(start, plane);
                double mean = (double)TensorPrimitives.Sum(run) / plane;
                double variance = Math.Max((double)TensorPrimitives.SumOfSquares(run) / plane - mean * mean, 0);
                float scale = (float)(gamma[ch] / Math.Sqrt(variance + eps));
                float shift = (float)(beta[ch] - mean * scale);
                var target = y.Slice(start, plane);
                TensorPrimitives.Multiply(run, scale, target);
                TensorPrimitives.Add(target, shift, target);
            }
    }

    public static void Nhwc(ReadOnlySpan<float> x, Span<float> y, int n, int h, int w, int c,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        int plane = h * w, size = plane * c;
        var sum = new float[c];
        var squares = new float[c];
        var scale = new float[c];
        var shift = new float[c];
        for (int b = 0; b < n; b++)
        {
            Array.Clear(sum);
            Array.Clear(squares);
            ChannelsLast.Accumulate(x.Slice(b * size, size), plane, c, sum, squares);
            for (int ch = 0; ch < c; ch++)
            {
                double mean = (double)sum[ch] / plane;
                double variance = Math.Max((double)squares[ch] / plane - mean * mean, 0);
                scale[ch] = (float)(gamma[ch] / Math.Sqrt(variance + eps));
                shift[ch] = (float)(beta[ch] - mean * scale[ch]);
            }
            ChannelsLast.Apply(x.Slice(b * size, size), y.Slice(b * size, size), plane, c, scale, shift);
        }
    }
}

/// <summary>GroupNorm composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesGroupNorm
{
    public static void Nchw(ReadOnlySpan<float> x, Span<float> y, int n, int c, int h, int w, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        int plane = h * w, perGroup = c / groups, size = perGroup * plane;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int groupStart = (b * c + g * perGroup) * plane; // a group's channels are contiguous in NCHW
                var run = x.Slice(groupStart, size);
                double mean = (double)TensorPrimitives.Sum(run) / size;
                double variance = Math.Max((double)TensorPrimitives.SumOfSquares(run) / size - mean * mean, 0);
                double invStd = 1 / Math.Sqrt(variance + eps);
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k;
                    float scale = (float)(gamma[ch] * invStd);
                    float shift = (float)(beta[ch] - mean * scale);
                    int start = groupStart + k * plane;
                    var target = y.Slice(start, plane);
                    TensorPrimitives.Multiply(x.Slice(start, plane), scale, target);
                    TensorPrimitives.Add(target, shift, target);
                }
            }
    }

    /// <summary>Per-channel sums as for InstanceNorm NHWC, then each group's channels summed (TensorPrimitives.Sum).</summary>
    public static void Nhwc(ReadOnlySpan<float> x, Span<float> y, int n, int h, int w, int c, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        int plane = h * w, size = plane * c, perGroup = c / groups;
        long count = (long)plane * perGroup;
        var sum = new float[c];
        var squares = new float[c];
        var scale = new float[c];
        var shift = new float[c];
        for (int b = 0; b < n; b++)
        {
            Array.Clear(sum);
            Array.Clear(squares);
            ChannelsLast.Accumulate(x.Slice(b * size, size), plane, c, sum, squares);
            for (int g = 0; g < groups; g++)
            {
                double mean = (double)TensorPrimitives.Sum(sum.AsSpan(g * perGroup, perGroup)) / count;
                double variance = Math.Max((double)TensorPrimitives.Sum(squares.AsSpan(g * perGroup, perGroup)) / count - mean * mean, 0);
                double invStd = 1 / Math.Sqrt(variance + eps);
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k;
                    scale[ch] = (float)(gamma[ch] * invStd);
                    shift[ch] = (float)(beta[ch] - mean * scale[ch]);
                }
            }
            ChannelsLast.Apply(x.Slice(b * size, size), y.Slice(b * size, size), plane, c, scale, shift);
        }
    }
}

/// <summary>RMSNorm over the last dim composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesRmsNorm
{
    public static void Rows(ReadOnlySpan<float> x, Span<float> y, int n, int c, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        for (int r = 0; r < n; r++)
        {
            var row = x.Slice(r * c, c);
            var target = y.Slice(r * c, c);
            float invRms = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / c + eps);
            TensorPrimitives.Multiply(row, invRms, target);
            TensorPrimitives.MultiplyAdd(target, gamma, beta, target);
        }
    }
}

/// <summary>The channels-last helpers: every pixel's C channels are one contiguous row.</summary>
internal static class ChannelsLast
{
    /// <summary>sum[c] += x[p, c]; squares[c] += x[p, c]^2 over <paramref name="pixels"/> rows.</summary>
    public static void Accumulate(ReadOnlySpan<float> x, int pixels, int c, Span<float> sum, Span<float> squares)
    {
        for (int p = 0; p < pixels; p++)
        {
            var row = x.Slice(p * c, c);
            TensorPrimitives.Add(sum, row, sum);
            TensorPrimitives.MultiplyAdd(row, row, squares, squares);
        }
    }

    /// <summary>y[p, c] = x[p, c] * scale[c] + shift[c].</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y, int pixels, int c, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        for (int p = 0; p < pixels; p++)
            TensorPrimitives.MultiplyAdd(x.Slice(p * c, c), scale, shift, y.Slice(p * c, c));
    }
}
