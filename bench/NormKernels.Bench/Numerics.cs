using System;
using System.Globalization;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench;

/// <summary>
/// The peers' accuracy experiment (research notes, "Numerical check"): BatchNorm training forward on S1 with
/// x = float32(1e4 + N(0, 1)), NCHW and NHWC, against per-channel statistics computed in double from the same
/// float32 input. PyTorch 1.13 and oneDNN 2.6 return a variance 57x too large channels-last on this input.
/// </summary>
public static class Numerics
{
    public static void Run()
    {
        var shape = Shapes.S1;
        int n = shape.N, c = shape.C, h = shape.H, w = shape.W, plane = h * w;
        var rng = new Random(3);
        var nchw = new float[shape.Elements];
        for (long i = 0; i < nchw.LongLength; i++)
        {
            // Box-Muller: a normal sample with mean 1e4, std 1.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            nchw[i] = (float)(1e4 + Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        var nhwc = new float[nchw.Length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < plane; p++)
                    nhwc[((long)b * plane + p) * c + ch] = nchw[((long)b * c + ch) * plane + p];

        // Double reference per channel: two-pass.
        var mean = new double[c];
        var variance = new double[c];
        long count = (long)n * plane;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
                for (int p = 0; p < plane; p++) sum += nchw[((long)b * c + ch) * plane + p];
            mean[ch] = sum / count;
            double sq = 0;
            for (int b = 0; b < n; b++)
                for (int p = 0; p < plane; p++) { double d = nchw[((long)b * c + ch) * plane + p] - mean[ch]; sq += d * d; }
            variance[ch] = sq / count;
        }

        var output = new float[nchw.Length];
        var m = new float[c];
        var v = new float[c];
        var ones = new float[c];
        Array.Fill(ones, 1f);
        var zeros = new float[c];

        Console.WriteLine("Accuracy: BatchNorm training, S1, x = 1e4 + N(0,1), vs double statistics of the same float32 input");
        Console.WriteLine("| layout | path | mean max rel. error | variance max rel. error | y max abs. error (y has std 1) |");
        Console.WriteLine("|---|---|---|---|---|");
        var pathNchw = BatchNormNchw.ForwardTraining(nchw, output, n, c, h, w, ones, zeros, m, v, 1e-5f);
        Report("NCHW", pathNchw, m, v, mean, variance, (ch, b, p) => output[((long)b * c + ch) * plane + p], (ch, b, p) => nchw[((long)b * c + ch) * plane + p], n, c, plane);
        var pathNhwc = BatchNormNhwc.ForwardTraining(nhwc, output, n, h, w, c, ones, zeros, m, v, 1e-5f);
        Report("NHWC", pathNhwc, m, v, mean, variance, (ch, b, p) => output[((long)b * plane + p) * c + ch], (ch, b, p) => nhwc[((long)b * plane + p) * c + ch], n, c, plane);
        Console.WriteLine("(PyTorch 1.13 / oneDNN 2.6 channels-last, same experiment: variance rel. error 56, y error 5.4; NCHW: 2.6e-7 and 9.5e-4.)");
        Console.WriteLine();

        void Report(string layout, KernelPath path, float[] m, float[] v, double[] mean, double[] variance,
            Func<int, int, int, float> y, Func<int, int, int, float> x, int n, int c, int plane)
        {
            double meanErr = 0, varErr = 0, yErr = 0;
            for (int ch = 0; ch < c; ch++)
            {
                meanErr = Math.Max(meanErr, Math.Abs(m[ch] - mean[ch]) / Math.Abs(mean[ch]));
                varErr = Math.Max(varErr, Math.Abs(v[ch] - variance[ch]) / variance[ch]);
                double rstd = 1 / Math.Sqrt(variance[ch] + 1e-5);
                for (int b = 0; b < n; b++)
                    for (int p = 0; p < plane; p++)
                        yErr = Math.Max(yErr, Math.Abs(y(ch, b, p) - (x(ch, b, p) - mean[ch]) * rstd));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {layout} | {path} | {meanErr:0.0E+0} | {varErr:0.0E+0} | {yErr:0.0E+0} |"));
        }
    }
}
