using System;

namespace NormKernels.Bench.Baselines;

// The scalar baselines: what a user writes in plain C# from the formula
//     y = (x - mean) / sqrt(var + eps) * gamma + beta
// per statistic: one loop for the mean, one for the variance, one to apply; float[] and indices, double
// accumulators (a careful user's choice: scalar double adds cost what float ones do), no SIMD, no threads.
// They are baselines to compare with, not references for tests; the startup self-check compares them with
// the generated kernels (within 1e-3). Semantics follow PyTorch: biased variance to normalize, unbiased in
// the running estimate, running = (1 - momentum) * running + momentum * batch.

/// <summary>BatchNorm (statistics per channel over N, H, W) in plain scalar C#.</summary>
public static class ScalarBatchNorm
{
    public static void TrainingNchw(float[] x, float[] y, int n, int c, int h, int w,
        float[] gamma, float[] beta, float[] runningMean, float[] runningVar, float eps, float momentum)
    {
        int plane = h * w;
        long count = (long)n * plane;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                    sum += x[start + i];
            }
            double mean = sum / count;

            double squares = 0;
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                {
                    double d = x[start + i] - mean;
                    squares += d * d;
                }
            }
            double variance = squares / count;

            float meanF = (float)mean;
            float invStd = (float)(1.0 / Math.Sqrt(variance + eps));
            for (int b = 0; b < n; b++)
            {
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                    y[start + i] = (x[start + i] - meanF) * invStd * gamma[ch] + beta[ch];
            }

            runningMean[ch] = (float)((1 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float)((1 - momentum) * runningVar[ch] + momentum * squares / (count - 1));
        }
    }

    public static void TrainingNhwc(float[] x, float[] y, int n, int h, int w, int c,
        float[] gamma, float[] beta, float[] runningMean, float[] runningVar, float eps, float momentum)
    {
        int pixels = n * h * w;
        var sum = new double[c];
        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
                sum[ch] += x[p * c + ch];
        var mean = new double[c];
        for (int ch = 0; ch < c; ch++)
            mean[ch] = sum[ch] / pixels;

        var squares = new double[c];
        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
            {
                double d = x[p * c + ch] - mean[ch];
                squares[ch] += d * d;
            }

        var meanF = new float[c];
        var invStd = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            meanF[ch] = (float)mean[ch];
            invStd[ch] = (float)(1.0 / Math.Sqrt(squares[ch] / pixels + eps));
            runningMean[ch] = (float)((1 - momentum) * runningMean[ch] + momentum * mean[ch]);
            runningVar[ch] = (float)((1 - momentum) * runningVar[ch] + momentum * squares[ch] / (pixels - 1));
        }

        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
                y[p * c + ch] = (x[p * c + ch] - meanF[ch]) * invStd[ch] * gamma[ch] + beta[ch];
    }

    public static void InferenceNchw(float[] x, float[] y, int n, int c, int h, int w,
        float[] gamma, float[] beta, float[] runningMean, float[] runningVar, float eps)
    {
        int plane = h * w;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                float invStd = 1f / MathF.Sqrt(runningVar[ch] + eps);
                int start = (b * c + ch) * plane;
                for (int i = 0; i < plane; i++)
                    y[start + i] = (x[start + i] - runningMean[ch]) * invStd * gamma[ch] + beta[ch];
            }
    }

    public static void InferenceNhwc(float[] x, float[] y, int n, int h, int w, int c,
        float[] gamma, float[] beta, float[] runningMean, float[] runningVar, float eps)
    {
        var invStd = new float[c];
        for (int ch = 0; ch < c; ch++)
            invStd[ch] = 1f / MathF.Sqrt(runningVar[ch] + eps);
        int pixels = n * h * w;
        for (int p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++)
                y[p * c + ch] = (x[p * c + ch] - runningMean[ch]) * invStd[ch] * gamma[ch] + beta[ch];
    }
}
