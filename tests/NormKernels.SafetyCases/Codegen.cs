using System.Numerics;

namespace NormKernels.SafetyCases;

[Normalize(Layout = "NHWC", Axes = "N,H,W", Activation = NormActivation.Relu, Residual = ResidualMode.AddAfterNorm)] public sealed partial class CodegenBnReluAfter;
[Normalize(Layout = "NTC", Axes = "C", Residual = ResidualMode.AddBeforeNorm)] public sealed partial class CodegenLnBefore;
[Normalize(Layout = "NCHW", Axes = "H,W,C", Groups = 4, Activation = NormActivation.Silu)] public sealed partial class CodegenGnSilu;
[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(Half))] public sealed partial class CodegenBnHalf;
[Normalize(Layout = "NTC", Axes = "C", ElementType = typeof(Half))] public sealed partial class CodegenLnHalf;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 4)] public sealed partial class CodegenGnNchw;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.PerChannel)] public sealed partial class CodegenLnChw;
[WeightNormalize(Layout = "OIHW", Axes = "I,H,W")] public sealed partial class CodegenWeightNorm;

/// <summary>
/// The "codegen" case: runs every layer of this program (and fused, Half and weight-norm ones declared here; BatchNorm's
/// data-parallel members and AdaIN too) through its forward (training and inference) and backward on shapes
/// that take the kernels' distinct drivers (rows, planes of 7 x 7 and of 3,136, channels last, one sample, tensors in cache
/// and, with the streaming threshold at 0, streamed with hints as out of cache), a few calls each, so the JIT compiles
/// their optimized code. The parent test (tests/NormKernels.Tests/CodegenTests.cs) runs it with the JIT's disassembly
/// written to a file and reads which helpers were left as calls.
/// </summary>
internal static class Codegen
{
    private static readonly int[][] FourDims = [[2, 8, 7, 7], [2, 4, 56, 56], [1, 16, 56, 56], [4, 32, 16, 16], [2, 64, 3, 5]];
    private static readonly int[][] ThreeDims = [[4, 16, 768], [2, 3, 256], [1, 1, 768], [2, 64, 64], [2, 9, 100]];

    public static int Run()
    {
        // One thread: the JIT writes each listing from the thread that compiles it, and listings of two threads interleave.
        Parallelism.MaxDegree = 1;
        long saved = Streaming.ThresholdBytes;
        foreach (long threshold in new[] { saved, 0L })
        {
            Streaming.ThresholdBytes = threshold;
            foreach (int[] d in FourDims)
            {
                Norm(new BnNchw(d[1]), d);
                Norm(new InNchw(d[1]), d);
                Norm(new LnNchwElementwise(d[1] * d[2] * d[3]), d);
                // The pipelined runs (a group's or a sample's channels a block, the next block's sums beside this one's
                // apply): out of cache on the 512-bit path.
                Norm(new CodegenGnNchw(d[1]), d);
                Norm(new CodegenLnChw(d[1]), d);
                Norm(new BnNchwDouble(d[1]), d);
                int[] nhwc = [d[0], d[2], d[3], d[1]];
                Norm(new BnNhwc(d[1]), nhwc);
                Norm(new InNhwc(d[1]), nhwc);
                Norm(new GnNhwc(d[1]), nhwc);
                Norm(new InNhwcDouble(d[1]), nhwc);
                Lrn(d, nhwc);
                Fused(d, nhwc);
                Synchronized(d, nhwc);
            }
            foreach (int[] d in ThreeDims)
            {
                Norm(new LnNtc(d[2]), d);
                Norm(new RmsNtc(d[2]), d);
                Rows(d);
            }
        }
        Streaming.ThresholdBytes = saved;
        Console.WriteLine("PASS codegen: every layer ran its forward and backward on every shape");
        return 0;
    }

    private static void Norm<T>(INormalizationLayer<T> layer, int[] dims) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = dims.Aggregate(1, (p, d) => p * d);
        T[] x = Data<T>(length, 1), dy = Data<T>(length, 2), y = new T[length], dx = new T[length];
        for (int call = 0; call < 3; call++)
        {
            layer.Training = true;
            layer.Forward(x, y, dims);
            layer.Backward(x, dy, dx, dims);
            layer.Training = false;
            layer.Forward(x, y, dims);
            layer.Backward(x, dy, dx, dims);
        }
    }

    /// <summary>The fused forms (activation, residual after and before the norm), a Half BatchNorm and weight normalization on
    /// a four-dim shape.</summary>
    private static void Fused(int[] nchw, int[] nhwc)
    {
        int length = nchw.Aggregate(1, (p, d) => p * d);
        float[] x = Data<float>(length, 1), r = Data<float>(length, 3), dy = Data<float>(length, 2), y = new float[length], dx = new float[length], dr = new float[length];
        Half[] xh = x.Select(v => (Half)v).ToArray(), dyh = dy.Select(v => (Half)v).ToArray(), yh = new Half[length], dxh = new Half[length];
        var tail = new CodegenBnReluAfter(nhwc[3]);
        var silu = new CodegenGnSilu(nchw[1]);
        var half = new CodegenBnHalf(nchw[1]);
        var weights = new CodegenWeightNorm();
        float[] g = Data<float>(nchw[0], 4), gg = new float[nchw[0]];
        for (int call = 0; call < 3; call++)
        {
            foreach (bool training in new[] { true, false })
            {
                tail.Training = silu.Training = half.Training = training;
                tail.Forward(x, r, y, nhwc[0], nhwc[1], nhwc[2], nhwc[3]);
                tail.Backward(x, r, dy, dx, dr, nhwc[0], nhwc[1], nhwc[2], nhwc[3]);
                silu.Forward(x, y, nchw[0], nchw[1], nchw[2], nchw[3]);
                silu.Backward(x, dy, dx, nchw[0], nchw[1], nchw[2], nchw[3]);
                half.Forward(xh, yh, nchw[0], nchw[1], nchw[2], nchw[3]);
                half.Backward(xh, dyh, dxh, nchw[0], nchw[1], nchw[2], nchw[3]);
            }
            weights.Forward(x, g, y, nchw[0], nchw[1], nchw[2], nchw[3]);
            weights.Backward(x, g, dy, dx, gg, nchw[0], nchw[1], nchw[2], nchw[3]);
        }
    }

    /// <summary>The data-parallel members (shard statistics, ForwardWithStatistics, the synchronized backward's two steps) of
    /// BatchNorm in both layouts, and AdaIN, on a four-dim shape.</summary>
    private static void Synchronized(int[] nchw, int[] nhwc)
    {
        int length = nchw.Aggregate(1, (p, d) => p * d), c = nchw[1];
        float[] x = Data<float>(length, 1), dy = Data<float>(length, 2), y = new float[length], dx = new float[length];
        double[] count = new double[c], mean = new double[c], m2 = new double[c], sumGrad = new double[c], sumCentered = new double[c];
        var first = new BnNchw(c);
        var last = new BnNhwc(c);
        var instance = new InNchw(c);
        for (int call = 0; call < 3; call++)
        {
            BnNchw.ShardStatistics(x, nchw[0], nchw[1], nchw[2], nchw[3], count, mean, m2);
            first.ForwardWithStatistics(x, y, nchw[0], nchw[1], nchw[2], nchw[3], count, mean, m2);
            first.BackwardStatistics(x, dy, nchw[0], nchw[1], nchw[2], nchw[3], count, sumGrad, sumCentered);
            first.BackwardWithStatistics(x, dy, dx, nchw[0], nchw[1], nchw[2], nchw[3], count, sumGrad, sumCentered);
            BnNhwc.ShardStatistics(x, nhwc[0], nhwc[1], nhwc[2], nhwc[3], count, mean, m2);
            last.ForwardWithStatistics(x, y, nhwc[0], nhwc[1], nhwc[2], nhwc[3], count, mean, m2);
            last.BackwardStatistics(x, dy, nhwc[0], nhwc[1], nhwc[2], nhwc[3], count, sumGrad, sumCentered);
            last.BackwardWithStatistics(x, dy, dx, nhwc[0], nhwc[1], nhwc[2], nhwc[3], count, sumGrad, sumCentered);
            instance.AdaptiveForward(x, dy, y, nchw[0], nchw[1], nchw[2], nchw[3], nchw[2], nchw[3]);
        }
    }

    /// <summary>LayerNorm with the residual added before it, and a Half LayerNorm, on a three-dim shape.</summary>
    private static void Rows(int[] d)
    {
        int length = d.Aggregate(1, (p, e) => p * e);
        float[] x = Data<float>(length, 1), r = Data<float>(length, 3), dy = Data<float>(length, 2), y = new float[length], sum = new float[length];
        float[] dsum = new float[length], dx = new float[length];
        Half[] xh = x.Select(v => (Half)v).ToArray(), dyh = dy.Select(v => (Half)v).ToArray(), yh = new Half[length], dxh = new Half[length];
        var pre = new CodegenLnBefore(d[2]);
        var half = new CodegenLnHalf(d[2]);
        for (int call = 0; call < 3; call++)
        {
            pre.Forward(x, r, y, sum, d[0], d[1], d[2]);
            pre.Backward(sum, dy, dsum, dx, d[0], d[1], d[2]);
            half.Forward(xh, yh, d[0], d[1], d[2]);
            half.Backward(xh, dyh, dxh, d[0], d[1], d[2]);
        }
    }

    private static void Lrn(int[] nchw, int[] nhwc)
    {
        int length = nchw.Aggregate(1, (p, d) => p * d);
        float[] x = Data<float>(length, 1), dy = Data<float>(length, 2), y = new float[length], dx = new float[length];
        var first = new LrnNchw();
        var last = new LrnNhwc();
        for (int call = 0; call < 3; call++)
        {
            first.Forward(x, y, nchw[0], nchw[1], nchw[2], nchw[3]);
            first.Backward(x, dy, dx, nchw[0], nchw[1], nchw[2], nchw[3]);
            last.Forward(x, y, nhwc[0], nhwc[1], nhwc[2], nhwc[3]);
            last.Backward(x, dy, dx, nhwc[0], nhwc[1], nhwc[2], nhwc[3]);
        }
    }

    private static T[] Data<T>(int length, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var data = new T[length];
        for (int i = 0; i < length; i++) data[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
        return data;
    }
}
