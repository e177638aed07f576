using System.Runtime.Intrinsics;
using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// Streaming (non-temporal) stores in the forward kernels (issue 11): with <see cref="Streaming.ThresholdBytes"/> at 0 every
/// call streams its output, so every layer's apply runs peel to a 64-byte boundary and store around the cache. The results
/// must match the float64 reference, be the same bits as with normal stores, and stay correct in place and at every
/// alignment of the output (the GC aligns arrays to 8 bytes only; spans start anywhere).
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Parallelism.MaxDegree
public sealed class StreamingStoresTests : RestoresSettings
{
    public static TheoryData<string> Names => LayerCases.Names;

    /// <summary>Whether the call that set <paramref name="layer"/>'s LastPath could stream: every vector path can, the scalar one never does.</summary>
    private static bool Streams(INormalizationLayer layer) => layer.LastPath != KernelPath.Scalar;

    /// <summary>A new layer (parameters from <paramref name="seed"/>) run forward with the given threshold into a buffer at
    /// <paramref name="offset"/> whose guard elements must stay untouched; its output bits and the layer.</summary>
    private static (int[] Output, INormalizationLayer Layer) Forward(LayerCase layerCase, int[] dims, float[] input, bool training, int seed,
        long threshold, int offset)
    {
        int length = input.Length;
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, new Random(seed));
        layer.Training = training;
        Streaming.ThresholdBytes = threshold;
        float[] buffer = Enumerable.Repeat(float.NaN, length + 32).ToArray();
        layer.Forward(input, buffer.AsSpan(offset, length), dims);
        Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + length)), v => Assert.True(float.IsNaN(v)));
        return (KernelCheck.Bits(buffer.AsSpan(offset, length)), layer);
    }

    /// <summary>Training and inference forwards streamed at each output offset against normal stores: the same bits.</summary>
    private static void AssertStreamedForwardEqualsCached(LayerCase layerCase, int[] dims, float[] input, int seed, int[] offsets)
    {
        foreach (bool training in new[] { true, false })
        {
            int[] expected = Forward(layerCase, dims, input, training, seed, long.MaxValue, 0).Output;
            foreach (int offset in offsets)
                Assert.Equal(expected, Forward(layerCase, dims, input, training, seed, 0, offset).Output);
        }
    }

    /// <summary>Backward after a training forward (normal stores), dx streamed into a guarded buffer at each offset, against
    /// normal stores: dx, WeightGrad and BiasGrad must be the same bits.</summary>
    private static void AssertStreamedBackwardEqualsCached(LayerCase layerCase, int[] dims, float[] input, float[] outputGrad, int seed, int[] offsets,
        bool? paired = null, bool? quads = null)
    {
        int length = input.Length;
        (int[] InputGrad, int[] WeightGrad, int[] BiasGrad) Run(long threshold, int offset)
        {
            Streaming.ThresholdBytes = long.MaxValue;
            INormalizationLayer layer = layerCase.Create(dims);
            KernelCheck.Randomize(layer, new Random(seed));
            layer.Forward(input, new float[length], dims);
            Streaming.ThresholdBytes = threshold;
            float[] buffer = Enumerable.Repeat(float.NaN, length + 32).ToArray();
            layer.Backward(input, outputGrad, buffer.AsSpan(offset, length), dims);
            if (threshold == 0 && paired is bool expected) Assert.Equal(expected, Streaming.LastCallPairedRows);
            if (threshold == 0 && quads is bool expectedQuads) Assert.Equal(expectedQuads, Streaming.LastCallQuadRows);
            Assert.All(buffer.Take(offset).Concat(buffer.Skip(offset + length)), v => Assert.True(float.IsNaN(v)));
            return (KernelCheck.Bits(buffer.AsSpan(offset, length)), KernelCheck.Bits(layer.WeightGrad), KernelCheck.Bits(layer.BiasGrad));
        }

        var expected = Run(long.MaxValue, 0);
        foreach (int offset in offsets)
        {
            var actual = Run(0, offset);
            Assert.Equal(expected.InputGrad, actual.InputGrad);
            Assert.Equal(expected.WeightGrad, actual.WeightGrad);
            Assert.Equal(expected.BiasGrad, actual.BiasGrad);
        }
    }

    /// <summary>Dims whose innermost letter is long enough for every run to stream (600 floats: at least
    /// <see cref="Streaming.MinimumRunBytes"/> after a peel of up to 15), the others short.</summary>
    private static int[] LongDims(LayerCase layerCase)
    {
        string layout = layerCase.Declaration.Layout;
        bool grouped = layerCase.Declaration.Groups > 0;
        return layout.Select((letter, i) => i == layout.Length - 1 ? (letter == 'C' && grouped ? 624 : 600) : letter switch
        {
            // At least 9 statistics where rows are the statistics (LayerNorm, RMSNorm over the last dim, InstanceNorm NCHW), so
            // units hold two rows (Runs.Rows runs a unit's rows one after the other), not only one row alone.
            'N' => 3,
            'C' => grouped ? 12 : 3,
            _ => 3,
        }).ToArray();
    }

    /// <summary>Dims of at least <paramref name="minimum"/> elements whose innermost letter is <paramref name="extent"/> (times the
    /// groups where C is innermost and grouped), N = 2, the letters between them as even as the size asks.</summary>
    private static int[] InnermostDims(LayerCase layerCase, int extent, int minimum)
    {
        string layout = layerCase.Declaration.Layout;
        int groups = layerCase.Declaration.Groups, last = layout.Length - 1;
        int inner = layout[last] == 'C' && groups > 0 ? groups * extent : extent;
        int middle = layout.Length - 2;
        int need = Math.Max(1, (minimum + 2 * inner - 1) / (2 * inner));
        int each = middle > 0 ? (int)Math.Ceiling(Math.Pow(need, 1.0 / middle)) : 1;
        return layout.Select((letter, i) => i == last ? inner : i == 0 ? 2
            : letter == 'C' && groups > 0 ? groups * (each / groups + 1) : Math.Max(2, each)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryInnermostExtentStreamedEqualsCached(string name)
    {
        // Every layer with its innermost extent from 1 to 129 (19 of them), a tensor of about 6,000 elements (a sample's range
        // streams): forward (training and inference) and backward streamed into an output 1 and 9 elements past a line,
        // against normal stores at 0, bit for bit, the guard elements around the output untouched. The fifty-fifth session's
        // wrong result (channels-last rows of one 128-bit vector, streamed, off a line) fails here on the 128-bit path.
        // The extents: below, at and past one, two and four vectors of every path (4, 8 and 16 floats), and rows narrower than
        // the elements before a 64-byte boundary (up to 15). Mutations on the 128-bit path: the forward's flat lead loop reading
        // its coefficients at o again (the bug) fails 10 layers, the backward's 7.
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int extent in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24, 32, 33, 48, 64, 65, 100, 129 })
        {
            int[] dims = InnermostDims(layerCase, extent, 6000);
            if (layerCase.Reference.Kind == NormKind.Standardize && layerCase.Reference.CountPerStatistic(dims) == 1) continue;
            var random = new Random(KernelCheck.Seed(name, extent));
            int length = TestData.Product(dims);
            float[] input = TestData.Normal(random, length, 0.5, 2);
            float[] outputGrad = TestData.Normal(random, length, 0, 1);
            AssertStreamedForwardEqualsCached(layerCase, dims, input, 17, [1, 9]);
            AssertStreamedBackwardEqualsCached(layerCase, dims, input, outputGrad, 18, [1, 9]);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamedTrainingAndInferenceMatchReference(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = LongDims(layerCase);
        var random = new Random(KernelCheck.Seed(name, 41));
        INormalizationLayer layer = layerCase.Create(dims);
        KernelCheck.Randomize(layer, random);
        Streaming.ThresholdBytes = 0;
        float[] input = TestData.Normal(random, TestData.Product(dims), 1.5, 2);
        KernelCheck.TrainingStep(layerCase, layer, dims, input, layerCase.DefaultMomentum, name + " streamed");
        Assert.Equal(Streams(layer), Streaming.LastCallStreamed);
        KernelCheck.InferenceStep(layerCase, layer, dims, TestData.Normal(random, input.Length, -0.5, 1), name + " streamed");
        Assert.Equal(Streams(layer), Streaming.LastCallStreamed);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamedEqualsCachedAtEveryAlignmentAndInPlace(string name)
    {
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = LongDims(layerCase);
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, 42));
        float[] input = TestData.Normal(random, length, -1, 3);

        foreach (bool training in new[] { true, false })
        {
            // Normal stores: the expected bits.
            (int[] expected, INormalizationLayer cached) = Forward(layerCase, dims, input, training, 7, long.MaxValue, 0);
            Assert.False(Streaming.LastCallStreamed);

            foreach (int offset in new[] { 0, 1, 2, 3, 5, 8, 13, 15 })
            {
                (int[] actual, INormalizationLayer streamed) = Forward(layerCase, dims, input, training, 7, 0, offset);
                Assert.Equal(Streams(streamed), Streaming.LastCallStreamed);
                Assert.Equal(expected, actual);
                Assert.Equal(KernelCheck.Bits(cached.RunningMean ?? []), KernelCheck.Bits(streamed.RunningMean ?? []));

                // In place at the same offset.
                INormalizationLayer inPlace = layerCase.Create(dims);
                KernelCheck.Randomize(inPlace, new Random(7));
                inPlace.Training = training;
                float[] same = new float[length + 32];
                input.CopyTo(same, offset);
                inPlace.Forward(same.AsSpan(offset, length), same.AsSpan(offset, length), dims);
                Assert.Equal(expected, KernelCheck.Bits(same.AsSpan(offset, length)));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamedBackwardEqualsCachedAtEveryAlignment(string name)
    {
        // The cached backward is checked against the float64 reference in BackwardTests; streamed, dx must be the same bits.
        LayerCase layerCase = LayerCases.Get(name);
        int[] dims = LongDims(layerCase);
        int length = TestData.Product(dims);
        var random = new Random(KernelCheck.Seed(name, 45));
        float[] input = TestData.Normal(random, length, 0.5, 2);
        float[] outputGrad = TestData.Normal(random, length, 0, 1);

        AssertStreamedBackwardEqualsCached(layerCase, dims, input, outputGrad, 8, [0, 1, 3, 6, 11, 15]);
    }

    [Theory]
    [InlineData(nameof(LnNtc))]
    [InlineData(nameof(RmsNtc))]
    public void RowsOffALineStreamedEqualCached(string name)
    {
        // Streamed rows of whole 64-byte lines that start off a line read gamma and beta from copies placed at the rows'
        // phase (Runs.SequentialRows): every offset of the output, rows of one and of several vectors past the steps.
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int width in new[] { 640, 1024, 784 })
        {
            int[] dims = [4, 16, width];
            float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, width)), TestData.Product(dims), 1, 2);
            AssertStreamedForwardEqualsCached(layerCase, dims, input, 11, [0, 1, 4, 8, 12, 15]);
        }
    }

    [Theory]
    [InlineData(nameof(LnNtc))]
    [InlineData(nameof(RmsNtc))]
    public void RowPairsBackwardStreamedEqualCached(string name)
    {
        // Rows of a multiple of 16 floats share their 64-byte phase, so from 2,048 floats the streamed backward applies them two
        // at a time (GradientRuns.AffineApplyPair) on the 512-bit path; normal stores apply them one by one. Odd and even row
        // counts, a group past the accumulators' flush every 16 rows, widths with and without a vector past the pair steps, rows
        // that do not share a phase (2,056) and rows too short (1,536, 768, 640): one by one streamed too. Rows of whole lines
        // off a line (every offset but 0) read gamma from a copy and keep the accumulators at their phase (AffineBackward.RowPhase).
        LayerCase layerCase = LayerCases.Get(name);
        foreach ((int rows, int width) in new[] { (2, 2048), (3, 2048), (41, 2048), (20, 2560), (33, 2064), (17, 4096), (5, 2056), (9, 1536), (9, 768), (40, 640) })
        {
            int[] dims = [1, rows, width];
            var random = new Random(KernelCheck.Seed(name, rows * 10_000 + width));
            float[] input = TestData.Normal(random, rows * width, 0.5, 2);
            float[] outputGrad = TestData.Normal(random, rows * width, 0, 1);
            // Which calls pair their rows: the 512-bit path (not the other legs), whole lines, at least 8 KB.
            bool paired = Vector512.IsHardwareAccelerated && width % 16 == 0 && width >= 2048;
            AssertStreamedBackwardEqualsCached(layerCase, dims, input, outputGrad, 12, [0, 1, 7, 15], paired);
        }
    }

    [Theory]
    [InlineData(nameof(LnNtc))]
    [InlineData(nameof(RmsNtc))]
    public void RowQuadsBackwardStreamedEqualCached(string name)
    {
        // From 3,072 floats (12 KB) the streamed backward applies rows four at a time (GradientRuns.AffineApplyQuad) on the
        // 512-bit path, the blocks a flush or the unit's end leaves over two at a time or alone; normal stores apply them one by
        // one. One quad (4 rows), quads up to the accumulators' flush every 16 rows and one row after it (17), a quad after the
        // flush and a pair (22), a quad, a pair and one alone (7), a quad and a pair (6) with rows of 8,192; a vector past
        // whole steps (4,112); enough rows for two workers (40 x 4,096: units of 20 blocks); rows not whole lines (4,104: one by
        // one), rows of 3,072 (quads from there) and rows under 12 KB (2,560: pairs only). dx, dgamma and dbeta: the same
        // bits at every phase of dx.
        LayerCase layerCase = LayerCases.Get(name);
        foreach ((int rows, int width) in new[] { (4, 4096), (17, 4096), (22, 4096), (7, 4112), (6, 8192), (40, 4096), (9, 4104), (9, 3072), (8, 2560) })
        {
            int[] dims = [1, rows, width];
            var random = new Random(KernelCheck.Seed(name, rows * 10_000 + width));
            float[] input = TestData.Normal(random, rows * width, 0.5, 2);
            float[] outputGrad = TestData.Normal(random, rows * width, 0, 1);
            bool paired = Vector512.IsHardwareAccelerated && width % 16 == 0 && width >= 2048;
            bool quads = paired && width >= 3072;
            AssertStreamedBackwardEqualsCached(layerCase, dims, input, outputGrad, 14, [0, 1, 7, 15], paired, quads);
        }
    }

    [Theory]
    [InlineData(nameof(LnNtcDouble))]
    [InlineData(nameof(RmsNtcDouble))]
    public void RowQuadsBackwardStreamedEqualCachedInDouble(string name)
    {
        // Double rows: four at a time from 1,536 elements (12 KB; a vector is 8 doubles, 64 bytes, on the 512-bit path), two
        // at a time below (1,280: 10 KB); dx, dgamma and dbeta bit for bit against normal stores, at four phases of dx.
        foreach ((int rows, int width) in new[] { (6, 1536), (5, 2048), (7, 1280) })
        {
            int[] dims = [1, rows, width];
            var random = new Random(rows * 10_000 + width + name.Length);
            double[] x = Enumerable.Range(0, rows * width).Select(_ => 0.5 + 2 * (random.NextDouble() - 0.5)).ToArray();
            double[] dy = Enumerable.Range(0, rows * width).Select(_ => random.NextDouble() - 0.5).ToArray();
            bool quads = Vector512.IsHardwareAccelerated && width >= 1536;
            (long[] Dx, long[] WeightGrad, long[] BiasGrad) Run(long threshold, int offset)
            {
                Streaming.ThresholdBytes = long.MaxValue;
                INormalizationLayer<double> layer = name == nameof(LnNtcDouble) ? new LnNtcDouble(width) : new RmsNtcDouble(width);
                var parameters = new Random(5);
                for (int i = 0; i < layer.Weight.Length; i++) layer.Weight[i] = 0.5 + parameters.NextDouble();
                for (int i = 0; i < layer.Bias.Length; i++) layer.Bias[i] = parameters.NextDouble() - 0.5;
                layer.Forward(x, new double[x.Length], dims);
                Streaming.ThresholdBytes = threshold;
                double[] buffer = Enumerable.Repeat(double.NaN, x.Length + 16).ToArray();
                layer.Backward(x, dy, buffer.AsSpan(offset, x.Length), dims);
                if (threshold == 0) Assert.Equal(quads, Streaming.LastCallQuadRows);
                static long[] Bits(ReadOnlySpan<double> v) => v.ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray();
                return (Bits(buffer.AsSpan(offset, x.Length)), Bits(layer.WeightGrad), Bits(layer.BiasGrad));
            }

            var expected = Run(long.MaxValue, 0);
            foreach (int offset in new[] { 0, 1, 3, 7 })
            {
                var actual = Run(0, offset);
                Assert.Equal(expected.Dx, actual.Dx);
                Assert.Equal(expected.WeightGrad, actual.WeightGrad);
                Assert.Equal(expected.BiasGrad, actual.BiasGrad);
            }
        }
    }

    [Theory]
    [InlineData(nameof(LnNtc))]
    [InlineData(nameof(RmsNtc))]
    public void RowPairsForwardStreamedEqualCached(string name)
    {
        // Streamed rows with gamma and beta along them, whole 64-byte lines and from 16 KB (4,096 floats), go two at a time on
        // the 512-bit path (Runs.ApplyPairStreamed: gamma and beta loaded once for both rows of a unit): the same bits as
        // normal stores, training and inference, at every phase of y. Units of two rows (16, 9 and 12 rows: at least eight
        // units), of three (a pair and a row alone) and a last unit of one; a vector past the pair steps (4,112); rows not
        // whole lines (4,104) and rows too short (3,072): one by one. Fewer than 2^17 elements: one worker, the calling thread.
        LayerCase layerCase = LayerCases.Get(name);
        foreach ((int rows, int width) in new[] { (16, 4096), (24, 4096), (9, 4096), (20, 4112), (12, 6160), (12, 4104), (16, 3072) })
        {
            int[] dims = [1, rows, width];
            float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, rows * 10_000 + width)), rows * width, 0.5, 2);
            bool paired = Vector512.IsHardwareAccelerated && width % 16 == 0 && width >= 4096;
            foreach (bool training in new[] { true, false })
            {
                int[] expected = Forward(layerCase, dims, input, training, 13, long.MaxValue, 0).Output;
                foreach (int offset in new[] { 0, 1, 7, 15 })
                {
                    Assert.Equal(expected, Forward(layerCase, dims, input, training, 13, 0, offset).Output);
                    Assert.Equal(paired, Streaming.LastCallPairedRows);
                }
            }
        }
    }

    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(InNhwc))]
    [InlineData(nameof(GnNhwc))]
    public void ChannelsLastRowsStreamedEqualCached(string name)
    {
        // Channels last with C of 1 to 4 whole vectors (coefficients in registers), wider (coefficients loaded) or past the flat
        // width (row by row): the rows run as one range streamed from the output's first 64-byte boundary, so every phase of a
        // row against that boundary comes up. Rows of five to eight vectors on the 256-bit path (40 to 64) go four at a time
        // with each column pair's coefficients held (Runs.FlatTiles), 40 and 56 ending each group in a single column vector.
        // C = 4 on the 128-bit path: a row of one vector, narrower than the elements before the output's boundary (up to
        // 15), whose lanes wrap within the row (they read past the copied coefficients before the fifty-fifth session).
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int channels in new[] { 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 128, 256, 264 })
        {
            // (C = 4 over 16 x 16: a sample's range at least Streaming.MinimumRunBytes, so it streams.)
            int[] dims = channels == 4 ? [2, 16, 16, channels] : [2, 5, 7, channels];
            float[] input = TestData.Normal(new Random(KernelCheck.Seed(name, channels)), TestData.Product(dims), 1, 2);
            AssertStreamedForwardEqualsCached(layerCase, dims, input, 9, [0, 1, 4, 7, 9, 15]);
        }
    }

    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(InNhwc))]
    [InlineData(nameof(GnNhwc))]
    public void ChannelsLastBackwardRowsStreamedEqualCached(string name)
    {
        // dx of channels-last layers as one flat range of rows (GradientRuns.ApplyRows), streamed at every phase.
        LayerCase layerCase = LayerCases.Get(name);
        // Past the flat width (256), whole vectors: cached, the rows four at a time with each column block's coefficients
        // held (GradientRuns.HeldRows); streamed, row by row: the same bits. 288 ends in a single vector on every path. Rows of
        // five to eight vectors (24 on the 128-bit path, 40 to 64 on AVX2, 80 to 128 on AVX-512) go four at a time in the
        // flat range too, streamed from dx's phase. From memory (the threshold at 0) the column sums of rows of five to eight
        // vectors on the 256- and 128-bit paths (20 to 32, 40 to 64) go row after row (GradientRuns.HeldRowSums), in cache in
        // strips of four vectors: the same bits, dx and the parameter gradients.
        // C = 4: as in ChannelsLastRowsStreamedEqualCached, dx's elements before its boundary wrap within a row.
        foreach (int channels in new[] { 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 128, 256, 264, 288, 512 })
        {
            int[] dims = channels == 4 ? [2, 16, 16, channels] : [2, 5, 7, channels];
            int length = TestData.Product(dims);
            var random = new Random(KernelCheck.Seed(name, 100 + channels));
            float[] input = TestData.Normal(random, length, 1, 2);
            float[] outputGrad = TestData.Normal(random, length, 0, 1);
            AssertStreamedBackwardEqualsCached(layerCase, dims, input, outputGrad, 10, [0, 1, 5, 9, 15]);
        }
    }

    [Theory]
    [InlineData(nameof(BnNhwc))]
    [InlineData(nameof(InNhwc))]
    [InlineData(nameof(GnNhwc))]
    public void ChannelsLastWideBackward_InPlace_EqualsSeparate(string name)
    {
        // Rows past the flat width with their coefficients held across rows: dx written over dy or over x (a copy of the
        // forward's input) gives the bits of a separate dx. 7 rows: a group of four and a partial one of three.
        LayerCase layerCase = LayerCases.Get(name);
        foreach (int channels in new[] { 288, 512 })
        {
            int[] dims = [1, 7, 1, channels];
            int length = TestData.Product(dims);
            var random = new Random(KernelCheck.Seed(name, 300 + channels));
            float[] input = TestData.Normal(random, length, 1, 2);
            float[] outputGrad = TestData.Normal(random, length, 0, 1);
            Streaming.ThresholdBytes = long.MaxValue;
            int[] Run(Func<float[], float[], (float[] X, float[] Dy, float[] Dx)> buffers)
            {
                INormalizationLayer layer = layerCase.Create(dims);
                KernelCheck.Randomize(layer, new Random(11));
                layer.Forward(input, new float[length], dims);
                var (x, dy, dx) = buffers(input.ToArray(), outputGrad.ToArray());
                layer.Backward(x, dy, dx, dims);
                return KernelCheck.Bits(dx);
            }
            int[] separate = Run((x, dy) => (x, dy, new float[length]));
            Assert.Equal(separate, Run((x, dy) => (x, dy, dy)));
            Assert.Equal(separate, Run((x, dy) => (x, dy, x)));
        }
    }

    [Fact]
    public void BatchNormBackwardStreams()
    {
        LayerCase layerCase = LayerCases.Get(nameof(BnNchw));
        int[] dims = [2, 3, 5, 131];
        int length = TestData.Product(dims);
        float[] input = TestData.Normal(new Random(46), length, 0, 1);
        INormalizationLayer layer = layerCase.Create(dims);
        Streaming.ThresholdBytes = long.MaxValue;
        layer.Forward(input, new float[length], dims);
        Assert.False(Streaming.LastCallStreamed);
        Streaming.ThresholdBytes = 0;
        layer.Backward(input, input, new float[length], dims);
        Assert.Equal(Streams(layer), Streaming.LastCallStreamed);
    }

    [Fact]
    public void StreamedOnTwoWorkersEqualsCached()
    {
        LayerCase layerCase = LayerCases.Get(nameof(BnNchw));
        int[] dims = [4, 6, 67, 131];   // 210k elements: two workers; odd runs, so every plane starts at another alignment
        int length = TestData.Product(dims);
        float[] input = TestData.Normal(new Random(43), length, 3, 0.5);
        Parallelism.MaxDegree = 2;
        Streaming.ThresholdBytes = long.MaxValue;
        INormalizationLayer cached = layerCase.Create(dims);
        var expected = new float[length];
        cached.Forward(input, expected, dims);

        Streaming.ThresholdBytes = 0;
        INormalizationLayer streamed = layerCase.Create(dims);
        var actual = new float[length + 5];
        streamed.Forward(input, actual.AsSpan(5, length), dims);
        Assert.Equal(Streams(streamed), Streaming.LastCallStreamed);
        Assert.Equal(2, Runtime.ParallelUnits.LastWorkers);
        Assert.Equal(KernelCheck.Bits(expected), KernelCheck.Bits(actual.AsSpan(5, length)));
    }

    [Fact]
    public void ThresholdDecidesAndIsValidated()
    {
        Assert.True(Streaming.ThresholdBytes > 0);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Streaming.ThresholdBytes = -1);
        Assert.Equal("value", error.ParamName);

        LayerCase layerCase = LayerCases.Get(nameof(LnNtc));
        int[] dims = [2, 3, 600];   // 3,600 floats in, 3,600 out: 28,800 bytes, in rows of 2,400 bytes
        float[] input = TestData.Normal(new Random(44), 3600, 0, 1);
        var output = new float[3600];
        INormalizationLayer layer = layerCase.Create(dims);
        Streaming.ThresholdBytes = 28800;
        layer.Forward(input, output, dims);
        Assert.False(Streaming.LastCallStreamed);
        Streaming.ThresholdBytes = 28799;
        layer.Forward(input, output, dims);
        Assert.Equal(Streams(layer), Streaming.LastCallStreamed);

        // In place never streams.
        Streaming.ThresholdBytes = 0;
        float[] same = input.ToArray();
        layer.Forward(same, same, dims);
        Assert.False(Streaming.LastCallStreamed);
    }
}
