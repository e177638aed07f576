using System;

namespace NormKernels.Bench.Baselines;

// Scalar baselines for the per-sample families (see ScalarBatchNorm.cs for what "scalar baseline" means).

/// <summary>LayerNorm: statistics per sample over everything but N; gamma/beta per channel.</summary>
public static class ScalarLayerNorm
{
    /// <summary>
    /// <paramref name="x"/> is <c>[n, c, inner]</c>: NCHW with inner = h * w (LayerNorm over C,H,W), or rows
    /// <c>[n, c]</c> with inner = 1 (LayerNorm over the last dim).
    /// </summary>
    public static void Forward(float[] x, float[] y, int n, int c, int inner, float[] gamma, float[] beta, float eps)
    {
        int size = c * inner;
        for (int b = 0; b < n; b++)
        {
            int start = b * size;
            double sum = 0;
            for (int i = 0; i < size; i++)
                sum += x[start + i];
            double mean = sum / size;
            double squares = 0;
            for (int i = 0; i < size; i++)
            {
                double d = x[start + i] - mean;
                squares += d * d;
            }
            float meanF = (float)mean;
            float invStd = (float)(1.0 / Math.Sqrt(squares / size + eps));
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < inner; i++)
                {
                    int k = start + ch * inner + i;
                    y[k] = (x[k] - meanF) * invStd * gamma[ch] + beta[ch];
                }
        }
    }
}

/// <summary>InstanceNorm: statistics per (sample, channel) over H, W.</summary>
public static class ScalarInstanceNorm
{
    public static void Nchw(float[] x, float[] y, int n, int c, int h, int w, float[] gamma, float[] beta, float eps)
    {
        int plane = h * w;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                int start = (b * c + ch) * plane;
                double sum = 0;
                for (int i = 0; i < plane; i++)
                    sum += x[start + i];
                double mean = sum / plane;
                double squares = 0;
                for (int i = 0; i < plane; i++)
                {
                    double d = x[start + i] - mean;
                    squares += d * d;
                }
                float meanF = (float)mean;
                float invStd = (float)(1.0 / Math.Sqrt(squares / plane + eps));
                for (int i = 0; i < plane; i++)
                    y[start + i] = (x[start + i] - meanF) * invStd * gamma[ch] + beta[ch];
            }
    }

    public static void Nhwc(float[] x, float[] y, int n, int h, int w, int c, float[] gamma, float[] beta, float eps)
    {
        int plane = h * w;
        var sum = new double[c];
        var squares = new double[c];
        var mean = new double[c];
        var meanF = new float[c];
        var invStd = new float[c];
        for (int b = 0; b < n; b++)
        {
            int start = b * plane * c;
            Array.Clear(sum);
            Array.Clear(squares);
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                    sum[ch] += x[start + p * c + ch];
            for (int ch = 0; ch < c; ch++)
                mean[ch] = sum[ch] / plane;
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    double d = x[start + p * c + ch] - mean[ch];
                    squares[ch] += d * d;
                }
            for (int ch = 0; ch < c; ch++)
            {
                meanF[ch] = (float)mean[ch];
                invStd[ch] = (float)(1.0 / Math.Sqrt(squares[ch] / plane + eps));
            }
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    int k = start + p * c + ch;
                    y[k] = (x[k] - meanF[ch]) * invStd[ch] * gamma[ch] + beta[ch];
                }
        }
    }
}

/// <summary>GroupNorm: statistics per (sample, group of c / groups channels) over the group's channels and H, W.</summary>
public static class ScalarGroupNorm
{
    public static void Nchw(float[] x, float[] y, int n, int c, int h, int w, int groups, float[] gamma, float[] beta, float eps)
    {
        int plane = h * w;
        int perGroup = c / groups;
        int size = perGroup * plane; // a group's channels are contiguous in NCHW
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int start = (b * c + g * perGroup) * plane;
                double sum = 0;
                for (int i = 0; i < size; i++)
                    sum += x[start + i];
                double mean = sum / size;
                double squares = 0;
                for (int i = 0; i < size; i++)
                {
                    double d = x[start + i] - mean;
                    squares += d * d;
                }
                float meanF = (float)mean;
                float invStd = (float)(1.0 / Math.Sqrt(squares / size + eps));
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k;
                    for (int i = 0; i < plane; i++)
                    {
                        int e = start + k * plane + i;
                        y[e] = (x[e] - meanF) * invStd * gamma[ch] + beta[ch];
                    }
                }
            }
    }

    public static void Nhwc(float[] x, float[] y, int n, int h, int w, int c, int groups, float[] gamma, float[] beta, float eps)
    {
        int plane = h * w;
        int perGroup = c / groups;
        long count = (long)plane * perGroup;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int start = b * plane * c + g * perGroup;
                double sum = 0;
                for (int p = 0; p < plane; p++)
                    for (int k = 0; k < perGroup; k++)
                        sum += x[start + p * c + k];
                double mean = sum / count;
                double squares = 0;
                for (int p = 0; p < plane; p++)
                    for (int k = 0; k < perGroup; k++)
                    {
                        double d = x[start + p * c + k] - mean;
                        squares += d * d;
                    }
                float meanF = (float)mean;
                float invStd = (float)(1.0 / Math.Sqrt(squares / count + eps));
                for (int p = 0; p < plane; p++)
                    for (int k = 0; k < perGroup; k++)
                    {
                        int e = start + p * c + k;
                        int ch = g * perGroup + k;
                        y[e] = (x[e] - meanF) * invStd * gamma[ch] + beta[ch];
                    }
            }
    }
}

/// <summary>RMSNorm over the last dim of rows <c>[n, c]</c>: y = x / sqrt(mean(x^2) + eps) * gamma + beta.</summary>
public static class ScalarRmsNorm
{
    public static void Rows(float[] x, float[] y, int n, int c, float[] gamma, float[] beta, float eps)
    {
        for (int r = 0; r < n; r++)
        {
            int start = r * c;
            double squares = 0;
            for (int i = 0; i < c; i++)
                squares += (double)x[start + i] * x[start + i];
            float invRms = (float)(1.0 / Math.Sqrt(squares / c + eps));
            for (int i = 0; i < c; i++)
                y[start + i] = x[start + i] * invRms * gamma[i] + beta[i];
        }
    }
}
