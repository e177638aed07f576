namespace NormKernels.Tests.Fused;

/// <summary>
/// AddBeforeNorm writes the sum by a pass of its own (Elementwise.Add: streamed when the call streams) and normalizes it:
/// rows long enough to stream (2,800 bytes), at every alignment of the sum and the output, streamed and not, in place, and a
/// large per-sample block: the sum is x + r rounded once, the output matches the float64 reference, and streamed and cached
/// give the same bits. (Until 2026-12-04 the layers staged each block's sum in the worker's scratch; these shapes covered
/// the stage's batches and a block larger than it.)
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Parallelism.MaxDegree
public sealed class SumBeforeNormTests : RestoresSettings
{
    private delegate void SpanForward(object layer, ReadOnlySpan<float> x, ReadOnlySpan<float> r, Span<float> y, Span<float> sum, int[] d);

    private static readonly Dictionary<string, (Func<int, object> Create, SpanForward Forward)> Layers = new()
    {
        ["FLnNtcNoneBefore"] = (c => new FLnNtcNoneBefore(c), (l, x, r, y, s, d) => ((FLnNtcNoneBefore)l).Forward(x, r, y, s, d[0], d[1], d[2])),
        ["FRmsNtcNoneBefore"] = (c => new FRmsNtcNoneBefore(c), (l, x, r, y, s, d) => ((FRmsNtcNoneBefore)l).Forward(x, r, y, s, d[0], d[1], d[2])),
        ["FLnNtcSiluBefore"] = (c => new FLnNtcSiluBefore(c), (l, x, r, y, s, d) => ((FLnNtcSiluBefore)l).Forward(x, r, y, s, d[0], d[1], d[2])),
        ["FGnNhwcNoneBefore"] = (c => new FGnNhwcNoneBefore(c), (l, x, r, y, s, d) => ((FGnNhwcNoneBefore)l).Forward(x, r, y, s, d[0], d[1], d[2], d[3])),
    };

    public static TheoryData<string, int[]> Cases => new()
    {
        { "FLnNtcNoneBefore", [2, 3, 700] },
        // 40 rows: units of 5 rows (Runs.Rows).
        { "FLnNtcNoneBefore", [4, 10, 700] },
        { "FRmsNtcNoneBefore", [5, 8, 517] },
        { "FRmsNtcNoneBefore", [2, 3, 700] },
        { "FLnNtcSiluBefore", [1, 2, 1031] },
        { "FGnNhwcNoneBefore", [2, 6, 6, 32] },
        // One sample of 67,584 elements (264 KB).
        { "FGnNhwcNoneBefore", [1, 64, 33, 32] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StreamedAndCachedSumsAndOutputsMatchTheReferenceAtEveryAlignment(string name, int[] dims)
    {
        FusedSpec spec = FusedCases.All[name].Spec with { Dims = dims };
        (Func<int, object> create, SpanForward forward) = Layers[name];
        int length = spec.Length, channels = spec.Channels;
        var random = new Random(KernelCheck.Seed(name, dims.Length));
        float[] x = TestData.Normal(random, length, 0.5, 2);
        float[] r = TestData.Normal(random, length, 0, 1);
        float[] gamma = TestData.Normal(random, channels, 1, 0.3);
        float[] beta = TestData.Normal(random, channels, 0, 0.3);
        object Layer()
        {
            object layer = create(channels);
            gamma.CopyTo((float[])layer.GetType().GetProperty("Weight")!.GetValue(layer)!, 0);
            beta.CopyTo((float[])layer.GetType().GetProperty("Bias")!.GetValue(layer)!, 0);
            return layer;
        }

        // The reference: the sum rounded once, the norm of that sum in float64.
        float[] sum = new float[length];
        for (int i = 0; i < length; i++) sum[i] = x[i] + r[i];
        double[] expected = FusedReference.Forward(spec, sum.Select(v => (double)v).ToArray(), r.Select(v => (double)v).ToArray(),
            gamma.Select(v => (double)v).ToArray(), beta.Select(v => (double)v).ToArray(), 1e-5).Y;

        Parallelism.MaxDegree = 1;
        Streaming.ThresholdBytes = long.MaxValue;
        var cachedY = new float[length];
        var cachedSum = new float[length];
        forward(Layer(), x, r, cachedY, cachedSum, dims);
        Assert.False(Streaming.LastCallStreamed);
        Assert.Equal(KernelCheck.Bits(sum), KernelCheck.Bits(cachedSum));
        for (int i = 0; i < length; i++)
        {
            double bound = 3e-5 * (1 + Math.Abs(expected[i]));
            Assert.True(Math.Abs(cachedY[i] - expected[i]) <= bound, $"y[{i}]: {cachedY[i]:R}, expected {expected[i]:R}");
        }

        Streaming.ThresholdBytes = 0;
        foreach (int degree in new[] { 1, 2 })
        {
            Parallelism.MaxDegree = degree;
            foreach (int offset in new[] { 0, 1, 3, 5, 8, 13, 15 })
            {
                // The output and the sum at offsets into fresh arrays (their 64-byte phases move with them).
                var yBuffer = new float[length + 32];
                var sumBuffer = new float[length + 32];
                Span<float> y = yBuffer.AsSpan(offset, length), s = sumBuffer.AsSpan(offset + 2, length);
                forward(Layer(), x, r, y, s, dims);
                Assert.Equal(Isa.Select(1 << 20) != KernelPath.Scalar, Streaming.LastCallStreamed);
                Assert.Equal(KernelCheck.Bits(cachedSum), KernelCheck.Bits(s));
                Assert.Equal(KernelCheck.Bits(cachedY), KernelCheck.Bits(y));
            }
        }

        // In place: the sum over the input, the output over the sum (the output wins where they share memory).
        var inPlace = (float[])x.Clone();
        forward(Layer(), inPlace, r, inPlace, inPlace, dims);
        Assert.Equal(KernelCheck.Bits(cachedY), KernelCheck.Bits(inPlace));
        // The sum over the residual, the output apart.
        var residual = (float[])r.Clone();
        var y2 = new float[length];
        forward(Layer(), x, residual, y2, residual, dims);
        Assert.Equal(KernelCheck.Bits(cachedSum), KernelCheck.Bits(residual));
        Assert.Equal(KernelCheck.Bits(cachedY), KernelCheck.Bits(y2));
    }
}
