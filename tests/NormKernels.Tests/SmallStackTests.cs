namespace NormKernels.Tests;

/// <summary>Channels-last rows of 257 to 1024 channels keep their coefficients (up to 48 KB) on the stack only where the
/// thread has room: on a thread started with a small stack the call falls back to the row-by-row apply, with the same
/// bits and without overflowing.</summary>
[Collection(nameof(ThreadingTests))]   // DegreeScope changes the process-wide Parallelism.MaxDegree
public sealed class SmallStackTests
{
    [Theory]
    [InlineData(272)]   // 17 vectors of 16: the flat range's held column blocks end in a single vector
    [InlineData(512)]
    [InlineData(1024)]
    public void WideChannelsLastRowsOnASmallStackGiveTheSameBits(int c)
    {
        using var scope = DegreeScope.Set(1);   // the rows run on the calling thread
        var random = new Random(c);
        int n = 3, h = 2, w = 5;
        var x = new float[n * h * w * c];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 4 - 2);
        var layer = new BnNhwc(c);
        for (int k = 0; k < c; k++) { layer.Weight[k] = (float)(random.NextDouble() + 0.5); layer.Bias[k] = (float)(random.NextDouble() - 0.5); }
        var expected = new float[x.Length];
        layer.Forward(x, expected, n, h, w, c);

        var onSmallStack = new float[x.Length];
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { layer.Forward(x, onSmallStack, n, h, w, c); }
            catch (Exception e) { error = e; }
        }, maxStackSize: 96 * 1024);
        thread.Start();
        thread.Join();
        Assert.Null(error);
        Assert.Equal(expected, onSmallStack);

        // And against the float64 reference: each channel standardized over its N x H x W values.
        for (int k = 0; k < c; k += 37)
        {
            double sum = 0, sq = 0;
            for (int p = 0; p < n * h * w; p++) sum += x[p * c + k];
            double mean = sum / (n * h * w);
            for (int p = 0; p < n * h * w; p++) sq += Math.Pow(x[p * c + k] - mean, 2);
            double rstd = 1 / Math.Sqrt(sq / (n * h * w) + layer.Epsilon);
            for (int p = 0; p < n * h * w; p++)
            {
                double reference = (x[p * c + k] - mean) * rstd * layer.Weight[k] + layer.Bias[k];
                Assert.True(Math.Abs(onSmallStack[p * c + k] - reference) <= 1e-4 * (1 + Math.Abs(reference)),
                    $"channel {k}, position {p}: {onSmallStack[p * c + k]} against {reference}");
            }
        }
    }
}
