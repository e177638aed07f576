using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// Row plans with short rows (8 to 63 floats on the 256-bit path, 16 to 63 on the 512-bit one) run with rows in the lanes
/// of a vector (Runs.LaneRowRuns): a group of rows summed row by row into vectors folded by a transpose-and-add tree,
/// the statistics finished four rows at a time, the group applied as one run with permuted coefficients. Checked: the
/// output against the float64 reference, the saved statistics against per-row float64 sums, the same bits for 1 and 2
/// threads and in place, and a row's results independent of where it sits (rows rotated give the rotated bits: groups,
/// partial groups, four-row and one-row finishes, batches and units all cut the rows differently). GroupNorm NCHW's
/// short runs per channel take the same grouped apply (Runs.ShortRuns). Rows of 64 to 256 floats take the same sums
/// (Runs.LaneSumRuns) and the row-by-row apply: the same checks, and the boundaries either side.
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Parallelism.MaxDegree
public sealed class LaneRowTests : RestoresSettings
{
    public static TheoryData<string, int[]> Cases => new()
    {
        { "InNchw", [3, 24, 7, 7] },            // 72 rows of 49: four full groups of 16 and a partial one
        { "InNchw", [2, 333, 5, 5] },           // 666 rows of 25: several batches and units
        { "InNchwNoAffine", [1, 17, 4, 4] },    // rows of 16: no tail in the sums
        { "InNchwNoAffine", [5, 7, 3, 3] },     // rows of 9: lanes on the 256-bit path only
        { "InNchwNoAffine", [3, 41, 9, 7] },    // rows of 63
        { "LnNtcNoAffine", [1, 1, 17] },        // one row: a partial group of one
        { "LnNtcNoAffine", [4, 30, 33] },
        { "LnNtcNoAffine", [2, 100, 12] },
        { "RmsNtcNoAffine", [3, 19, 31] },
        { "RmsNtcNoAffine", [1, 15, 48] },
        { "RmsNtcNoAffine", [2, 9, 8] },
        { "RmsNtcNoAffine", [2, 21, 32] },      // rows of 32: the shortest written out on the 512-bit path, no tail
        { "LnNtcNoAffine", [3, 13, 41] },       // rows of 41 = 5 x 8 + 1: AVX2 sums from element 1 (HeadLength)
        { "InNchwNoAffine", [2, 20, 3, 19] },   // planes of 57 = 7 x 8 + 1 (AVX2) = 3 x 16 + 9 (512-bit: the tail)
        // Rows of 64 to 256 floats: sums in lanes (Runs.LaneSumRuns), the apply row by row, gamma along the row or not.
        { "LnNtc", [2, 9, 64] },                // the shortest: full groups on both paths
        { "LnNtc", [3, 7, 100] },               // 21 rows: a partial group, a tail in every row
        { "RmsNtc", [1, 37, 256] },             // the longest
        { "LnNtcNoAffine", [2, 40, 257] },      // one past: the row-after-row sums
        { "InNchw", [2, 19, 14, 14] },          // 196-element planes
        { "InNchwNoAffine", [4, 9, 11, 13] },   // 143
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LaneRowsMatchTheReference(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int len = dims[^1] * (name.StartsWith("InNchw", StringComparison.Ordinal) ? dims[^2] : 1);
        float[] input = RowPlanTests.ReferenceSteps(layerCase, dims, new Random(KernelCheck.Seed(name, dims[1] * 64 + dims[^1])), name + " lane rows",
            (layer, x) => Statistics(layer, x, len, !name.StartsWith("Rms", StringComparison.Ordinal)));

        SameBitsOnTwoThreadsAndInPlace(layerCase, dims, input);
    }

    /// <summary>GroupNorm NCHW on short planes: a group's channels applied a group of runs at a time (Runs.ShortRuns), full
    /// and partial groups of runs, against the reference, on two threads and in place.</summary>
    [Theory]
    [InlineData(new[] { 2, 64, 7, 7 })]     // 16 channels of 49 per group: one full group of runs
    [InlineData(new[] { 3, 80, 5, 5 })]     // 20 channels of 25: a full group and a partial one
    [InlineData(new[] { 1, 12, 3, 3 })]     // 3 channels of 9: the 256-bit path only
    [InlineData(new[] { 2, 8, 4, 4 })]      // 2 channels of 16
    [InlineData(new[] { 1, 136, 9, 7 })]    // 34 channels of 63
    public void ShortRunsMatchTheReference(int[] dims)
    {
        const string name = "GnNchw";
        LayerCase layerCase = LayerCases.Get(name);
        float[] input = RowPlanTests.ReferenceSteps(layerCase, dims, new Random(KernelCheck.Seed(name, dims[1] * 64 + dims[^1])), name + " short runs", null);
        SameBitsOnTwoThreadsAndInPlace(layerCase, dims, input);
    }

    /// <summary>GroupNorm NCHW on 7x7 planes large enough for two workers (8 x 512 x 7 x 7: 256 blocks of 16 runs): one worker
    /// takes its blocks four to a unit, each phase for the four in turn (Forward.BlocksTogether), two workers a block a unit;
    /// the output and the statistics bit for bit alike, against the reference, and the second call really on two workers.</summary>
    [Fact]
    public void ShortRunBlocksOnOneAndTwoWorkersAlike()
    {
        const string name = "GnNchw";
        int[] dims = [8, 512, 7, 7];
        LayerCase layerCase = LayerCases.Get(name);
        float[] input = RowPlanTests.ReferenceSteps(layerCase, dims, new Random(KernelCheck.Seed(name, 8 * 512)), name + " blocks on two workers", null);
        Parallelism.MaxDegree = 1;
        var one = RowPlanTests.TrainingForward(layerCase, dims, input, out _);
        Assert.Equal(1, ParallelUnits.LastWorkers);
        Parallelism.MaxDegree = 2;
        var two = RowPlanTests.TrainingForward(layerCase, dims, input, out _);
        Assert.Equal(2, ParallelUnits.LastWorkers);
        Assert.Equal(one.Output, two.Output);
        Assert.Equal(one.State, two.State);
    }

    /// <summary>
    /// Short runs applied as one flat range from the output's vector boundary (Runs.FlatRuns, the 512-bit path; row by row
    /// elsewhere): the output, bit for bit, whatever the offsets of x and y in their arrays (every vector phase of y, so every
    /// peel, and runs that start anywhere in a vector) and in place at each of them. Training (InstanceNorm's lane rows,
    /// GroupNorm's runs per channel, BatchNorm's expanded training) and BatchNorm's expanded inference.
    /// </summary>
    [Theory]
    [InlineData("InNchw", new[] { 2, 24, 7, 7 }, true)]
    [InlineData("GnNchw", new[] { 2, 64, 7, 7 }, true)]
    [InlineData("GnNchw", new[] { 1, 8, 4, 4 }, true)]      // runs of 16: every vector inside one run, or at a boundary
    [InlineData("BnNchw", new[] { 2, 40, 7, 7 }, true)]     // blocks of channels (ExpandedTraining, ExpandedInference)
    [InlineData("BnNchw", new[] { 2, 40, 7, 7 }, false)]
    [InlineData("BnNchw", new[] { 3, 48, 5, 5 }, false)]
    public void ShortRunsSameBitsAtEveryOffset(string name, int[] dims, bool training)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int length = TestData.Product(dims);
        float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, dims[1] * 7 + (training ? 1 : 0))), length, 2, 1.5);
        Parallelism.MaxDegree = 1;
        int[] Run(int xOffset, int yOffset, bool inPlace)
        {
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, new Random(11));
            if (!training)
            {
                // Running statistics from one training call, then the inference call under test.
                layer.Training = true;
                layer.Forward(input, new float[length], dims);
            }
            layer.Training = training;
            var x = new float[length + 32];
            input.CopyTo(x, xOffset);
            if (inPlace)
            {
                layer.Forward(x.AsSpan(xOffset, length), x.AsSpan(xOffset, length), dims);
                return KernelCheck.Bits(x.AsSpan(xOffset, length));
            }
            var y = new float[length + 32];
            layer.Forward(x.AsSpan(xOffset, length), y.AsSpan(yOffset, length), dims);
            return KernelCheck.Bits(y.AsSpan(yOffset, length));
        }
        int[] expected = Run(0, 0, false);
        foreach (int xOffset in new[] { 0, 1, 5 })
            for (int yOffset = 0; yOffset < 16; yOffset++)
                Assert.True(expected.AsSpan().SequenceEqual(Run(xOffset, yOffset, false)), $"x at +{xOffset}, y at +{yOffset}");
        for (int offset = 0; offset < 16; offset++)
            Assert.True(expected.AsSpan().SequenceEqual(Run(offset, offset, true)), $"in place at +{offset}");
    }

    /// <summary>BatchNorm's backward on short planes (ExpandedBackward: dx of a block of channels' short runs, GradientRuns.ShortRuns,
    /// one flat range on the 512-bit path): dx bit for bit whatever dx's offset, and in place over dy and over x.</summary>
    [Theory]
    [InlineData(new[] { 2, 40, 7, 7 })]     // K x H x W = 1,960: blocks of channels, their runs broadcast
    [InlineData(new[] { 3, 48, 5, 5 })]
    public void ShortRunGradientsSameBitsAtEveryOffset(int[] dims)
    {
        LayerCase layerCase = LayerCases.Get("BnNchw");
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed("BnNchw backward", dims[1]));
        float[] input = TestData.Normal(random, length, 1, 2), outputGrad = TestData.Normal(random, length, 0.5, 1);
        Parallelism.MaxDegree = 1;
        int[] Run(int offset, int mode)
        {
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, new Random(12));
            layer.Training = true;
            layer.Forward(input, new float[length], dims);
            var x = new float[length + 32];
            var dy = new float[length + 32];
            input.CopyTo(x, offset);
            outputGrad.CopyTo(dy, offset);
            if (mode == 1)
            {
                layer.Backward(x.AsSpan(offset, length), dy.AsSpan(offset, length), dy.AsSpan(offset, length), dims);
                return KernelCheck.Bits(dy.AsSpan(offset, length));
            }
            if (mode == 2)
            {
                layer.Backward(x.AsSpan(offset, length), dy.AsSpan(offset, length), x.AsSpan(offset, length), dims);
                return KernelCheck.Bits(x.AsSpan(offset, length));
            }
            var dx = new float[length + 32];
            layer.Backward(input, outputGrad, dx.AsSpan(offset, length), dims);
            return KernelCheck.Bits(dx.AsSpan(offset, length));
        }
        int[] expected = Run(0, 0);
        for (int offset = 0; offset < 16; offset++)
        {
            Assert.True(expected.AsSpan().SequenceEqual(Run(offset, 0)), $"dx at +{offset}");
            Assert.True(expected.AsSpan().SequenceEqual(Run(offset, 1)), $"dx over dy at +{offset}");
            Assert.True(expected.AsSpan().SequenceEqual(Run(offset, 2)), $"dx over x at +{offset}");
        }
    }

    /// <summary>A fresh layer's training Forward on 1 and 2 threads and in place: the same output and state, bit for bit;
    /// returns them.</summary>
    internal static (int[] Output, int[] State) SameBitsOnTwoThreadsAndInPlace(LayerCase layerCase, int[] dims, float[] input)
    {
        Parallelism.MaxDegree = 1;
        var one = RowPlanTests.TrainingForward(layerCase, dims, input, out _);
        Parallelism.MaxDegree = 2;
        var two = RowPlanTests.TrainingForward(layerCase, dims, input, out _);
        Assert.Equal(one.Output, two.Output);
        Assert.Equal(one.State, two.State);
        INormalizationLayer inPlace = layerCase.Create(dims);
        KernelCheck.Randomize(inPlace, new Random(9));
        inPlace.Training = true;
        float[] buffer = input.ToArray();
        inPlace.Forward(buffer, buffer, dims);
        Assert.Equal(one.Output, KernelCheck.Bits(buffer));
        Assert.Equal(one.State, RowPlanTests.State(inPlace));
        return one;
    }

    /// <summary>Rows rotated by <paramref name="shift"/> give the rotated output and statistics, bit for bit (layers without
    /// per-channel parameters, so that a row's result depends on its values alone).</summary>
    [Theory]
    [InlineData("InNchwNoAffine", new[] { 3, 24, 7, 7 }, 1)]
    [InlineData("InNchwNoAffine", new[] { 3, 24, 7, 7 }, 7)]
    [InlineData("InNchwNoAffine", new[] { 2, 333, 5, 5 }, 13)]
    [InlineData("LnNtcNoAffine", new[] { 4, 30, 33 }, 5)]
    [InlineData("RmsNtcNoAffine", new[] { 3, 19, 31 }, 3)]
    [InlineData("RmsNtcNoAffine", new[] { 2, 9, 8 }, 1)]
    [InlineData("LnNtcNoAffine", new[] { 2, 21, 100 }, 5)]
    [InlineData("InNchwNoAffine", new[] { 3, 11, 16, 16 }, 9)]
    public void ARowsResultDoesNotDependOnWhereItSits(string name, int[] dims, int shift)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int len = dims[^1] * (name.StartsWith("InNchw", StringComparison.Ordinal) ? dims[^2] : 1);
        float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, shift)), TestData.Product(dims), 3, 1.5);
        int rows = input.Length / len;
        float[] rotated = Rotate(input, len, shift);
        Parallelism.MaxDegree = 1;
        INormalizationLayer a = layerCase.Create(dims), b = layerCase.Create(dims);
        var ya = new float[input.Length];
        var yb = new float[input.Length];
        a.Forward(input, ya, dims);
        b.Forward(rotated, yb, dims);
        Assert.Equal(KernelCheck.Bits(Rotate(ya, len, shift)), KernelCheck.Bits(yb));
        float[] sa = Saved(a), sb = Saved(b);
        Assert.Equal(KernelCheck.Bits(Rotate(sa, sa.Length / rows, shift)), KernelCheck.Bits(sb));
    }

    /// <summary>Row r of the result is row (r + shift) mod rows of <paramref name="values"/> (rows of <paramref name="len"/>).</summary>
    private static float[] Rotate(float[] values, int len, int shift)
    {
        int rows = values.Length / len;
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            Array.Copy(values, (r + shift) % rows * len, result, r * len, len);
        return result;
    }

    /// <summary>The saved statistics, interleaved per row: statistic 0 (mean, or mean square) and statistic 1 (variance) of row r
    /// at 2r and 2r + 1 (one per row when the kind has one).</summary>
    private static float[] Saved(INormalizationLayer layer)
    {
        float[] s0 = Field(layer, "_statistic0")!, s1 = Field(layer, "_statistic1") ?? [];
        if (s1.Length == 0) return s0;
        var result = new float[2 * s0.Length];
        for (int i = 0; i < s0.Length; i++)
        {
            result[2 * i] = s0[i];
            result[2 * i + 1] = s1[i];
        }
        return result;
    }

    private static float[]? Field(INormalizationLayer layer, string field)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        object state = layer.GetType().GetProperty("_layer", flags)!.GetValue(layer)!;
        return state.GetType().GetField(field, flags)!.GetValue(state) as float[];
    }

    /// <summary>The saved statistics of the last training Forward against per-row sums in double: the mean and biased
    /// variance (centered kinds) or the mean square, within a few float roundings of the row's scale.</summary>
    private static void Statistics(INormalizationLayer layer, float[] input, int len, bool centered)
    {
        float[] s0 = Field(layer, "_statistic0")!, s1 = Field(layer, "_statistic1") ?? [];
        int rows = input.Length / len;
        Assert.True(s0.Length >= rows);
        for (int r = 0; r < rows; r++)
        {
            double sum = 0, sq = 0;
            for (int i = 0; i < len; i++) sum += input[r * len + i];
            double mean = sum / len;
            for (int i = 0; i < len; i++) sq += centered ? (input[r * len + i] - mean) * (input[r * len + i] - mean) : (double)input[r * len + i] * input[r * len + i];
            double second = sq / len;
            if (centered)
            {
                Assert.True(Math.Abs(s0[r] - mean) <= 1e-5 * (Math.Abs(mean) + Math.Sqrt(second)), $"row {r}: mean {s0[r]} against {mean}");
                Assert.True(Math.Abs(s1[r] - second) <= 1e-5 * second, $"row {r}: variance {s1[r]} against {second}");
            }
            else
            {
                Assert.True(Math.Abs(s0[r] - second) <= 1e-5 * second, $"row {r}: mean square {s0[r]} against {second}");
            }
        }
    }
}
