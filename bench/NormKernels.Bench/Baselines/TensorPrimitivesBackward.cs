using System;
using System.Numerics.Tensors;

namespace NormKernels.Bench.Baselines;

// The backward passes composed from System.Numerics.Tensors.TensorPrimitives calls (see TensorPrimitivesNorms.cs for
// the forward ones), with the statistics the forward saved (mean, biased variance):
//
// * Sums of a contiguous run: TensorPrimitives.Sum(dy) and Dot(dy, x); sum dy * xhat = r * (Dot(dy, x) - mean * Sum(dy))
//   (the identity these two calls give, like the forward's E[x^2] - mean^2: fine for the benchmark data, whose dy is
//   centred on 0; it loses digits when mean * Sum(dy) is large).
// * dx on a contiguous run with one statistic and one gamma is affine in dy and x:
//       dx = k1 * dy + k2 * x + k3,  k1 = gamma * r,  k2 = -r^2 * mean_S(gdy * xhat),  k3 = -r * mean_S(gdy) - k2 * mean
//   as Multiply(x, k2) then Add(k3) then MultiplyAdd(dy, k1, dx) (no scalar-scalar MultiplyAdd overload; the last
//   two calls run on the L1-resident dx).
// * LayerNorm rows (gamma per element): written from the formula on a row-sized xhat scratch: Subtract, Multiply,
//   MultiplyAdd (dgamma), Add (dbeta), Multiply (gdy), Sum, Dot, MultiplyAdd, Add, Multiply.
// * Channels-last (NHWC): as the forward NHWC baselines, every pixel's C channels are one row; per-channel float sums
//   accumulated row by row (Add for sum dy, MultiplyAdd(dy, x, acc, acc) for sum dy * x), then
//   MultiplyAdd(x, k2[], k3[], dx) and MultiplyAdd(dy, k1[], dx, dx) per row: four calls per pixel on C elements.
// Per-call scratch arrays are allocated as a developer would (one float per channel, or one row).

/// <summary>BatchNorm backward composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesBatchNormBackward
{
    public static void Nchw(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int n, int c, int h, int w,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, Span<float> dgamma, Span<float> dbeta)
    {
        int plane = h * w;
        long count = (long)n * plane;
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyX = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                var g = dy.Slice(start, plane);
                sumDy += TensorPrimitives.Sum(g);
                sumDyX += TensorPrimitives.Dot(g, x.Slice(start, plane));
            }
            double r = 1 / Math.Sqrt(variance[ch] + eps);
            double sumDyXhat = r * (sumDyX - mean[ch] * sumDy);
            dgamma[ch] += (float)sumDyXhat;
            dbeta[ch] += (float)sumDy;
            var (k1, k2, k3) = BackwardRuns.Coefficients(gamma[ch], r, mean[ch], gamma[ch] * sumDy / count, gamma[ch] * sumDyXhat / count);
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                BackwardRuns.Apply(x.Slice(start, plane), dy.Slice(start, plane), dx.Slice(start, plane), k1, k2, k3);
            }
        }
    }

    public static void Nhwc(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int n, int h, int w, int c,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, Span<float> dgamma, Span<float> dbeta)
    {
        int pixels = n * h * w;
        var sumDy = new float[c];
        var sumDyX = new float[c];
        BackwardRuns.AccumulateChannelsLast(x, dy, pixels, c, sumDy, sumDyX);
        var k1 = new float[c];
        var k2 = new float[c];
        var k3 = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double r = 1 / Math.Sqrt(variance[ch] + eps);
            double sumDyXhat = r * (sumDyX[ch] - mean[ch] * (double)sumDy[ch]);
            dgamma[ch] += (float)sumDyXhat;
            dbeta[ch] += sumDy[ch];
            (k1[ch], k2[ch], k3[ch]) = BackwardRuns.Coefficients(gamma[ch], r, mean[ch], gamma[ch] * (double)sumDy[ch] / pixels, gamma[ch] * sumDyXhat / pixels);
        }
        BackwardRuns.ApplyChannelsLast(x, dy, dx, pixels, c, k1, k2, k3);
    }
}

/// <summary>LayerNorm backward over the last dim of rows <c>[n, c]</c> composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesLayerNormBackward
{
    public static void Rows(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int n, int c,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, Span<float> dgamma, Span<float> dbeta)
    {
        var xhat = new float[c];
        for (int row = 0; row < n; row++)
        {
            var xs = x.Slice(row * c, c);
            var g = dy.Slice(row * c, c);
            var target = dx.Slice(row * c, c);
            float r = 1 / MathF.Sqrt(variance[row] + eps);
            TensorPrimitives.Subtract(xs, mean[row], xhat);
            TensorPrimitives.Multiply(xhat, r, xhat);
            TensorPrimitives.MultiplyAdd(g, xhat, dgamma, dgamma);
            TensorPrimitives.Add(dbeta, g, dbeta);
            TensorPrimitives.Multiply(gamma, g, target); // gdy
            float meanG = TensorPrimitives.Sum(target) / c;
            float meanGXhat = TensorPrimitives.Dot(target, xhat) / c;
            TensorPrimitives.MultiplyAdd(xhat, -meanGXhat, target, target);
            TensorPrimitives.Add(target, -meanG, target);
            TensorPrimitives.Multiply(target, r, target);
        }
    }
}

/// <summary>GroupNorm backward composed from TensorPrimitives calls.</summary>
public static class TensorPrimitivesGroupNormBackward
{
    public static void Nchw(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int n, int c, int h, int w, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, Span<float> dgamma, Span<float> dbeta)
    {
        int plane = h * w, perGroup = c / groups;
        long count = (long)perGroup * plane;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int s = b * groups + g;
                double r = 1 / Math.Sqrt(variance[s] + eps);
                double sumG = 0, sumGXhat = 0;
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k, start = (b * c + ch) * plane;
                    var d = dy.Slice(start, plane);
                    double sumDy = TensorPrimitives.Sum(d);
                    double sumDyXhat = r * (TensorPrimitives.Dot(d, x.Slice(start, plane)) - mean[s] * sumDy);
                    dgamma[ch] += (float)sumDyXhat;
                    dbeta[ch] += (float)sumDy;
                    sumG += gamma[ch] * sumDy;
                    sumGXhat += gamma[ch] * sumDyXhat;
                }
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k, start = (b * c + ch) * plane;
                    var (k1, k2, k3) = BackwardRuns.Coefficients(gamma[ch], r, mean[s], sumG / count, sumGXhat / count);
                    BackwardRuns.Apply(x.Slice(start, plane), dy.Slice(start, plane), dx.Slice(start, plane), k1, k2, k3);
                }
            }
    }

    /// <summary>Per-channel sums as for BatchNorm NHWC, per sample; each group's channels combined with gamma.</summary>
    public static void Nhwc(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int n, int h, int w, int c, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, Span<float> dgamma, Span<float> dbeta)
    {
        int plane = h * w, size = plane * c, perGroup = c / groups;
        long count = (long)perGroup * plane;
        var sumDy = new float[c];
        var sumDyX = new float[c];
        var k1 = new float[c];
        var k2 = new float[c];
        var k3 = new float[c];
        for (int b = 0; b < n; b++)
        {
            Array.Clear(sumDy);
            Array.Clear(sumDyX);
            BackwardRuns.AccumulateChannelsLast(x.Slice(b * size, size), dy.Slice(b * size, size), plane, c, sumDy, sumDyX);
            for (int g = 0; g < groups; g++)
            {
                int s = b * groups + g;
                double r = 1 / Math.Sqrt(variance[s] + eps);
                double sumG = 0, sumGXhat = 0;
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                {
                    double sumDyXhat = r * (sumDyX[ch] - mean[s] * (double)sumDy[ch]);
                    dgamma[ch] += (float)sumDyXhat;
                    dbeta[ch] += sumDy[ch];
                    sumG += gamma[ch] * (double)sumDy[ch];
                    sumGXhat += gamma[ch] * sumDyXhat;
                }
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                    (k1[ch], k2[ch], k3[ch]) = BackwardRuns.Coefficients(gamma[ch], r, mean[s], sumG / count, sumGXhat / count);
            }
            BackwardRuns.ApplyChannelsLast(x.Slice(b * size, size), dy.Slice(b * size, size), dx.Slice(b * size, size), plane, c, k1, k2, k3);
        }
    }
}

/// <summary>The shared pieces of the TensorPrimitives backward baselines.</summary>
internal static class BackwardRuns
{
    /// <summary>dx = k1 * dy + k2 * x + k3 for one statistic (mean, r) and one gamma, given mean_S(gdy) and mean_S(gdy * xhat).</summary>
    public static (float K1, float K2, float K3) Coefficients(double gamma, double r, double mean, double meanGdy, double meanGdyXhat)
    {
        double k2 = -r * r * meanGdyXhat;
        return ((float)(gamma * r), (float)k2, (float)(-r * meanGdy - k2 * mean));
    }

    /// <summary>dx = k1 * dy + k2 * x + k3 on a contiguous run.</summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float k1, float k2, float k3)
    {
        TensorPrimitives.Multiply(x, k2, dx);
        TensorPrimitives.Add(dx, k3, dx);
        TensorPrimitives.MultiplyAdd(dy, k1, dx, dx);
    }

    /// <summary>sumDy[c] += dy[p, c]; sumDyX[c] += dy[p, c] * x[p, c] over <paramref name="pixels"/> rows.</summary>
    public static void AccumulateChannelsLast(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int pixels, int c, Span<float> sumDy, Span<float> sumDyX)
    {
        for (int p = 0; p < pixels; p++)
        {
            var g = dy.Slice(p * c, c);
            TensorPrimitives.Add(sumDy, g, sumDy);
            TensorPrimitives.MultiplyAdd(g, x.Slice(p * c, c), sumDyX, sumDyX);
        }
    }

    /// <summary>dx[p, c] = k1[c] * dy[p, c] + k2[c] * x[p, c] + k3[c].</summary>
    public static void ApplyChannelsLast(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int pixels, int c,
        ReadOnlySpan<float> k1, ReadOnlySpan<float> k2, ReadOnlySpan<float> k3)
    {
        for (int p = 0; p < pixels; p++)
        {
            var target = dx.Slice(p * c, c);
            TensorPrimitives.MultiplyAdd(x.Slice(p * c, c), k2, k3, target);
            TensorPrimitives.MultiplyAdd(dy.Slice(p * c, c), k1, target, target);
        }
    }
}
