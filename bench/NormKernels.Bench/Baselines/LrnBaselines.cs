using System;
using System.Numerics.Tensors;

namespace NormKernels.Bench.Baselines;

/// <summary>LocalResponseNorm(5) as PyTorch defines it (alpha / size, zero padding counted), the baselines' constants.</summary>
public static class LrnConstants
{
    public const int Size = 5;
    public const float Alpha = 1e-4f, Beta = 0.75f, K = 1f;
}

/// <summary>Scalar LRN: per element, the window's sum of squares in double, then MathF.Pow.</summary>
public static class ScalarLrn
{
    /// <summary><paramref name="x"/> is [outer, c, inner]: NCHW with outer = n, inner = h * w; NHWC with outer = n * h * w, inner = 1.</summary>
    public static void Forward(float[] x, float[] y, int outer, int c, int inner)
    {
        const int before = LrnConstants.Size / 2, after = (LrnConstants.Size - 1) / 2;
        for (int o = 0; o < outer; o++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < inner; i++)
                {
                    double sum = 0;
                    for (int j = Math.Max(0, ch - before); j <= Math.Min(c - 1, ch + after); j++)
                    {
                        float v = x[((long)o * c + j) * inner + i];
                        sum += v * v;
                    }
                    long at = ((long)o * c + ch) * inner + i;
                    y[at] = x[at] * MathF.Pow((float)(LrnConstants.K + LrnConstants.Alpha / LrnConstants.Size * sum), -LrnConstants.Beta);
                }
    }
}

/// <summary>LRN composed from TensorPrimitives: squares, window sums by adding shifted runs, then k + a * s, Pow and Multiply.</summary>
public static class TensorPrimitivesLrn
{
    /// <summary>NCHW: each channel's window sum adds the squared planes of its window (recomputed per channel).</summary>
    public static void Nchw(float[] x, float[] y, int n, int c, int plane)
    {
        const int before = LrnConstants.Size / 2, after = (LrnConstants.Size - 1) / 2;
        var squares = new float[c * plane];
        var sum = new float[plane];
        for (int b = 0; b < n; b++)
        {
            ReadOnlySpan<float> xs = x.AsSpan(b * c * plane, c * plane);
            Span<float> ys = y.AsSpan(b * c * plane, c * plane);
            TensorPrimitives.Multiply(xs, xs, squares);
            for (int ch = 0; ch < c; ch++)
            {
                sum.AsSpan().Clear();
                for (int j = Math.Max(0, ch - before); j <= Math.Min(c - 1, ch + after); j++)
                    TensorPrimitives.Add(sum, squares.AsSpan(j * plane, plane), sum);
                TensorPrimitives.Multiply(sum, LrnConstants.Alpha / LrnConstants.Size, sum);
                TensorPrimitives.Add(sum, LrnConstants.K, sum);
                TensorPrimitives.Pow(sum, -LrnConstants.Beta, sum);
                TensorPrimitives.Multiply(xs.Slice(ch * plane, plane), sum, ys.Slice(ch * plane, plane));
            }
        }
    }

    /// <summary>NHWC: per pixel, the window sums of the contiguous C squares are Size shifted adds of a zero-padded row.</summary>
    public static void Nhwc(float[] x, float[] y, int pixels, int c)
    {
        const int before = LrnConstants.Size / 2;
        var padded = new float[c + LrnConstants.Size - 1];
        var sum = new float[c];
        for (int p = 0; p < pixels; p++)
        {
            ReadOnlySpan<float> row = x.AsSpan(p * c, c);
            TensorPrimitives.Multiply(row, row, padded.AsSpan(before, c));
            padded.AsSpan(0, c).CopyTo(sum);
            for (int o = 1; o < LrnConstants.Size; o++)
                TensorPrimitives.Add(sum, padded.AsSpan(o, c), sum);
            TensorPrimitives.Multiply(sum, LrnConstants.Alpha / LrnConstants.Size, sum);
                TensorPrimitives.Add(sum, LrnConstants.K, sum);
            TensorPrimitives.Pow(sum, -LrnConstants.Beta, sum);
            TensorPrimitives.Multiply(row, sum, y.AsSpan(p * c, c));
        }
    }
}
