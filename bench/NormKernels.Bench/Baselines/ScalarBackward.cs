using System;

namespace NormKernels.Bench.Baselines;

// Scalar baselines of the backward passes (training mode, PyTorch semantics), what a user writes in plain C# from
//     xhat = (x - mean) * r,  r = 1 / sqrt(var + eps),  gdy = gamma * dy,  M values per statistic S:
//     dx = r * (gdy - mean_S(gdy) - xhat * mean_S(gdy * xhat)),  dgamma[c] += sum dy * xhat,  dbeta[c] += sum dy
// with the statistics the forward saved (mean, biased variance: CaseData.SavedMean/SavedVariance). Per statistic:
// one loop for the two sums (double accumulators, as the forward baselines), one to write dx; float[] and indices,
// no SIMD, no threads. With gamma per channel, mean_S(gdy) = gamma * mean_S(dy); GroupNorm and LayerNorm (gamma
// varies inside a statistic) weight the per-channel sums by gamma. dgamma/dbeta accumulate (PyTorch's .grad).

/// <summary>BatchNorm backward (statistics per channel over N, H, W) in plain scalar C#.</summary>
public static class ScalarBatchNormBackward
{
    public static void Nchw(float[] x, float[] dy, float[] dx, int n, int c, int h, int w,
        float[] gamma, float[] mean, float[] variance, float eps, float[] dgamma, float[] dbeta)
    {
        int plane = h * w;
        long count = (long)n * plane;
        for (int ch = 0; ch < c; ch++)
        {
            float m = mean[ch];
            float r = (float)(1.0 / Math.Sqrt(variance[ch] + eps));
            double sumDy = 0, sumDyXhat = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                {
                    double g = dy[start + i];
                    sumDy += g;
                    sumDyXhat += g * ((x[start + i] - m) * r);
                }
            }
            dgamma[ch] += (float)sumDyXhat;
            dbeta[ch] += (float)sumDy;

            float scale = gamma[ch] * r;
            float meanDy = (float)(sumDy / count), meanDyXhat = (float)(sumDyXhat / count);
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                {
                    float xhat = (x[start + i] - m) * r;
                    dx[start + i] = scale * (dy[start + i] - meanDy - xhat * meanDyXhat);
                }
            }
        }
    }

    public static void Nhwc(float[] x, float[] dy, float[] dx, int n, int h, int w, int c,
        float[] gamma, float[] mean, float[] variance, float eps, float[] dgamma, float[] dbeta)
    {
        int pixels = n * h * w;
        var r = new float[c];
        for (int ch = 0; ch < c; ch++)
            r[ch] = (float)(1.0 / Math.Sqrt(variance[ch] + eps));

        var sumDy = new double[c];
        var sumDyXhat = new double[c];
        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
            {
                double g = dy[p * c + ch];
                sumDy[ch] += g;
                sumDyXhat[ch] += g * ((x[p * c + ch] - mean[ch]) * r[ch]);
            }

        var scale = new float[c];
        var meanDy = new float[c];
        var meanDyXhat = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            dgamma[ch] += (float)sumDyXhat[ch];
            dbeta[ch] += (float)sumDy[ch];
            scale[ch] = gamma[ch] * r[ch];
            meanDy[ch] = (float)(sumDy[ch] / pixels);
            meanDyXhat[ch] = (float)(sumDyXhat[ch] / pixels);
        }

        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
            {
                int k = p * c + ch;
                float xhat = (x[k] - mean[ch]) * r[ch];
                dx[k] = scale[ch] * (dy[k] - meanDy[ch] - xhat * meanDyXhat[ch]);
            }
    }
}

/// <summary>LayerNorm backward over the last dim of rows <c>[n, c]</c> (gamma per last-dim element) in plain scalar C#.</summary>
public static class ScalarLayerNormBackward
{
    public static void Rows(float[] x, float[] dy, float[] dx, int n, int c,
        float[] gamma, float[] mean, float[] variance, float eps, float[] dgamma, float[] dbeta)
    {
        for (int row = 0; row < n; row++)
        {
            int start = row * c;
            float m = mean[row];
            float r = (float)(1.0 / Math.Sqrt(variance[row] + eps));
            double sumG = 0, sumGXhat = 0;
            for (int j = 0; j < c; j++)
            {
                float g = dy[start + j];
                float xhat = (x[start + j] - m) * r;
                double gdy = gamma[j] * g;
                sumG += gdy;
                sumGXhat += gdy * xhat;
                dgamma[j] += g * xhat;
                dbeta[j] += g;
            }
            float meanG = (float)(sumG / c), meanGXhat = (float)(sumGXhat / c);
            for (int j = 0; j < c; j++)
            {
                float xhat = (x[start + j] - m) * r;
                dx[start + j] = r * (gamma[j] * dy[start + j] - meanG - xhat * meanGXhat);
            }
        }
    }
}

/// <summary>GroupNorm backward (statistics per sample and group of channels; gamma per channel) in plain scalar C#.</summary>
public static class ScalarGroupNormBackward
{
    /// <summary><paramref name="mean"/>, <paramref name="variance"/>: one per (sample, group), <c>b * groups + g</c>.</summary>
    public static void Nchw(float[] x, float[] dy, float[] dx, int n, int c, int h, int w, int groups,
        float[] gamma, float[] mean, float[] variance, float eps, float[] dgamma, float[] dbeta)
    {
        int plane = h * w, perGroup = c / groups;
        long count = (long)perGroup * plane;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int s = b * groups + g;
                float m = mean[s];
                float r = (float)(1.0 / Math.Sqrt(variance[s] + eps));
                double sumG = 0, sumGXhat = 0;
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k, start = (b * c + ch) * plane;
                    double sumDy = 0, sumDyXhat = 0;
                    for (int i = 0; i < plane; i++)
                    {
                        double d = dy[start + i];
                        sumDy += d;
                        sumDyXhat += d * ((x[start + i] - m) * r);
                    }
                    dgamma[ch] += (float)sumDyXhat;
                    dbeta[ch] += (float)sumDy;
                    sumG += gamma[ch] * sumDy;
                    sumGXhat += gamma[ch] * sumDyXhat;
                }
                float meanG = (float)(sumG / count), meanGXhat = (float)(sumGXhat / count);
                for (int k = 0; k < perGroup; k++)
                {
                    int ch = g * perGroup + k, start = (b * c + ch) * plane;
                    for (int i = 0; i < plane; i++)
                    {
                        float xhat = (x[start + i] - m) * r;
                        dx[start + i] = r * (gamma[ch] * dy[start + i] - meanG - xhat * meanGXhat);
                    }
                }
            }
    }

    public static void Nhwc(float[] x, float[] dy, float[] dx, int n, int h, int w, int c, int groups,
        float[] gamma, float[] mean, float[] variance, float eps, float[] dgamma, float[] dbeta)
    {
        int plane = h * w, perGroup = c / groups;
        long count = (long)perGroup * plane;
        var sumDy = new double[c];
        var sumDyXhat = new double[c];
        var m = new float[c];
        var r = new float[c];
        var meanG = new float[groups];
        var meanGXhat = new float[groups];
        for (int b = 0; b < n; b++)
        {
            int start = b * plane * c;
            for (int ch = 0; ch < c; ch++)
            {
                int s = b * groups + ch / perGroup;
                m[ch] = mean[s];
                r[ch] = (float)(1.0 / Math.Sqrt(variance[s] + eps));
            }
            Array.Clear(sumDy);
            Array.Clear(sumDyXhat);
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    int k = start + p * c + ch;
                    double d = dy[k];
                    sumDy[ch] += d;
                    sumDyXhat[ch] += d * ((x[k] - m[ch]) * r[ch]);
                }
            for (int g = 0; g < groups; g++)
            {
                double sumG = 0, sumGXhat = 0;
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                {
                    dgamma[ch] += (float)sumDyXhat[ch];
                    dbeta[ch] += (float)sumDy[ch];
                    sumG += gamma[ch] * sumDy[ch];
                    sumGXhat += gamma[ch] * sumDyXhat[ch];
                }
                meanG[g] = (float)(sumG / count);
                meanGXhat[g] = (float)(sumGXhat / count);
            }
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    int k = start + p * c + ch, g = ch / perGroup;
                    float xhat = (x[k] - m[ch]) * r[ch];
                    dx[k] = r[ch] * (gamma[ch] * dy[k] - meanG[g] - xhat * meanGXhat[g]);
                }
        }
    }
}
