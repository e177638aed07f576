using System;
using NormKernels.Bench.Baselines;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench.Suite;

/// <summary>What runs side by side in each case.</summary>
public enum Variant
{
    /// <summary><c>Span.CopyTo</c> of the same bytes (one read, one write): the second ratio column.</summary>
    Copy,

    /// <summary>The NormKernels generated layer (instance <c>Forward</c>, as a user calls it).</summary>
    Generated,

    /// <summary>Straightforward scalar C# (see <c>Baselines/Scalar*.cs</c>).</summary>
    Scalar,

    /// <summary>A composition of <c>System.Numerics.Tensors.TensorPrimitives</c> calls (see <c>Baselines/TensorPrimitives*.cs</c>).</summary>
    TensorPrimitives,

    /// <summary>The physical limit, baseline of the ratio column: a streaming pass over the same bytes with
    /// non-temporal stores, plus one read pass where the statistics span more than L2 (<see cref="StreamingLimit"/>).</summary>
    Limit,

    /// <summary>oneDNN 2.6's primitive for the case, in this process (<see cref="OneDnnLibrary"/>; quick mode with
    /// <c>--onednn</c>, where oneDNN has one): its own buffers of the same shapes.</summary>
    OneDnn,

    /// <summary>PyTorch 1.13's call for the case, in its own process in lockstep (<see cref="TorchLockstep"/>; quick mode
    /// without <c>--no-torch</c>): its own tensors of the same shapes, each batch timed in that process.</summary>
    Torch,
}

/// <summary>Builds the runnable body of each variant for a case. A new operation adds one arm to each switch.</summary>
public static class Variants
{
    public static readonly Variant[] All = [Variant.Limit, Variant.Copy, Variant.Generated, Variant.Scalar, Variant.TensorPrimitives];

    /// <summary>The variant's body, reading <see cref="CaseData.Input"/> and writing <see cref="CaseData.Output"/>.</summary>
    public static Action Create(Variant variant, CaseData d) => variant switch
    {
        Variant.Copy => Copy(d),
        Variant.Limit => StreamingLimit.Create(d, new BenchCase(d.Op, d.Shape)),
        Variant.Generated => GeneratedLayers.Create(d),
        Variant.Scalar => Scalar(d),
        Variant.TensorPrimitives => Tensors(d),
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
    };

    /// <summary>The copy limit at <see cref="BenchThreads.Count"/> threads: contiguous parts copied in parallel.</summary>
    private static Action Copy(CaseData d)
    {
        if (d.OutputGrad is not null) return CopyBoth(d);
        int threads = BenchThreads.Count;
        if (threads <= 1) return () => d.Input.AsSpan().CopyTo(d.Output);
        var options = new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = threads };
        return () => System.Threading.Tasks.Parallel.For(0, threads, options, part =>
        {
            int start = (int)((long)d.Input.Length * part / threads), end = (int)((long)d.Input.Length * (part + 1) / threads);
            d.Input.AsSpan(start, end - start).CopyTo(d.Output.AsSpan(start, end - start));
        });
    }

    /// <summary>
    /// The backward limit: x and dy read, dx written once. Both inputs are copied into dx, chunk by chunk (8 KB): the
    /// second copy overwrites the first while it is still in L1, so memory sees two reads and one write, the least
    /// traffic of a backward pass.
    /// </summary>
    private static Action CopyBoth(CaseData d)
    {
        float[] x = d.Input, dy = d.OutputGrad!, dx = d.Output;
        const int chunk = 2048;
        void Part(int start, int end)
        {
            for (int i = start; i < end; i += chunk)
            {
                int length = Math.Min(chunk, end - i);
                x.AsSpan(i, length).CopyTo(dx.AsSpan(i, length));
                dy.AsSpan(i, length).CopyTo(dx.AsSpan(i, length));
            }
        }
        int threads = BenchThreads.Count;
        if (threads <= 1) return () => Part(0, x.Length);
        var options = new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = threads };
        return () => System.Threading.Tasks.Parallel.For(0, threads, options, part =>
            Part((int)((long)x.Length * part / threads), (int)((long)x.Length * (part + 1) / threads)));
    }

    private static Action Scalar(CaseData d)
    {
        float[] x = d.Input, y = d.Output, g = d.Gamma, b = d.Beta;
        int n = d.N, c = d.C, h = d.H, w = d.W;
        float[] rm = (float[])d.RunningMean.Clone(), rv = (float[])d.RunningVar.Clone();
        float[] dg = new float[d.Gamma.Length], db = new float[d.Beta.Length]; // backward: private accumulating gradients
        const float eps = CaseData.Epsilon, mom = CaseData.Momentum;
        bool nhwc = d.Op.Layout == "NHWC";
        return d.Op.Kind switch
        {
            OpKind.BatchNormTraining when nhwc => () => ScalarBatchNorm.TrainingNhwc(x, y, n, h, w, c, g, b, rm, rv, eps, mom),
            OpKind.BatchNormTraining => () => ScalarBatchNorm.TrainingNchw(x, y, n, c, h, w, g, b, rm, rv, eps, mom),
            OpKind.BatchNormInference when nhwc => () => ScalarBatchNorm.InferenceNhwc(x, y, n, h, w, c, g, b, rm, rv, eps),
            OpKind.BatchNormInference => () => ScalarBatchNorm.InferenceNchw(x, y, n, c, h, w, g, b, rm, rv, eps),
            OpKind.LayerNorm => () => ScalarLayerNorm.Forward(x, y, n, c, h * w, g, b, eps),
            OpKind.InstanceNorm when nhwc => () => ScalarInstanceNorm.Nhwc(x, y, n, h, w, c, g, b, eps),
            OpKind.InstanceNorm => () => ScalarInstanceNorm.Nchw(x, y, n, c, h, w, g, b, eps),
            OpKind.GroupNorm when nhwc => () => ScalarGroupNorm.Nhwc(x, y, n, h, w, c, CaseData.Groups, g, b, eps),
            OpKind.GroupNorm => () => ScalarGroupNorm.Nchw(x, y, n, c, h, w, CaseData.Groups, g, b, eps),
            OpKind.RmsNorm => () => ScalarRmsNorm.Rows(x, y, n, c, g, b, eps),
            OpKind.LocalResponseNorm when nhwc => () => ScalarLrn.Forward(x, y, n * h * w, c, 1),
            OpKind.LocalResponseNorm => () => ScalarLrn.Forward(x, y, n, c, h * w),
            OpKind.BatchNormBackward when nhwc => () => ScalarBatchNormBackward.Nhwc(x, d.OutputGrad!, y, n, h, w, c, g, d.SavedMean!, d.SavedVariance!, eps, dg, db),
            OpKind.BatchNormBackward => () => ScalarBatchNormBackward.Nchw(x, d.OutputGrad!, y, n, c, h, w, g, d.SavedMean!, d.SavedVariance!, eps, dg, db),
            OpKind.LayerNormBackward => () => ScalarLayerNormBackward.Rows(x, d.OutputGrad!, y, n, c, g, d.SavedMean!, d.SavedVariance!, eps, dg, db),
            OpKind.GroupNormBackward when nhwc => () => ScalarGroupNormBackward.Nhwc(x, d.OutputGrad!, y, n, h, w, c, CaseData.Groups, g, d.SavedMean!, d.SavedVariance!, eps, dg, db),
            OpKind.GroupNormBackward => () => ScalarGroupNormBackward.Nchw(x, d.OutputGrad!, y, n, c, h, w, CaseData.Groups, g, d.SavedMean!, d.SavedVariance!, eps, dg, db),
            _ => throw NotYet(d),
        };
    }

    private static Action Tensors(CaseData d)
    {
        float[] x = d.Input, y = d.Output, g = d.Gamma, b = d.Beta;
        int n = d.N, c = d.C, h = d.H, w = d.W;
        float[] rm = (float[])d.RunningMean.Clone(), rv = (float[])d.RunningVar.Clone();
        float[] dg = new float[d.Gamma.Length], db = new float[d.Beta.Length]; // backward: private accumulating gradients
        const float eps = CaseData.Epsilon, mom = CaseData.Momentum;
        bool nhwc = d.Op.Layout == "NHWC";
        return d.Op.Kind switch
        {
            OpKind.BatchNormTraining when nhwc => () => TensorPrimitivesBatchNorm.TrainingNhwc(x, y, n, h, w, c, g, b, rm, rv, eps, mom),
            OpKind.BatchNormTraining => () => TensorPrimitivesBatchNorm.TrainingNchw(x, y, n, c, h, w, g, b, rm, rv, eps, mom),
            OpKind.BatchNormInference when nhwc => () => TensorPrimitivesBatchNorm.InferenceNhwc(x, y, n, h, w, c, g, b, rm, rv, eps),
            OpKind.BatchNormInference => () => TensorPrimitivesBatchNorm.InferenceNchw(x, y, n, c, h, w, g, b, rm, rv, eps),
            OpKind.LayerNorm when d.Shape.IsRows => () => TensorPrimitivesLayerNorm.Rows(x, y, n, c, g, b, eps),
            OpKind.LayerNorm => () => TensorPrimitivesLayerNorm.Nchw(x, y, n, c, h, w, g, b, eps),
            OpKind.InstanceNorm when nhwc => () => TensorPrimitivesInstanceNorm.Nhwc(x, y, n, h, w, c, g, b, eps),
            OpKind.InstanceNorm => () => TensorPrimitivesInstanceNorm.Nchw(x, y, n, c, h, w, g, b, eps),
            OpKind.GroupNorm when nhwc => () => TensorPrimitivesGroupNorm.Nhwc(x, y, n, h, w, c, CaseData.Groups, g, b, eps),
            OpKind.GroupNorm => () => TensorPrimitivesGroupNorm.Nchw(x, y, n, c, h, w, CaseData.Groups, g, b, eps),
            OpKind.RmsNorm => () => TensorPrimitivesRmsNorm.Rows(x, y, n, c, g, b, eps),
            OpKind.LocalResponseNorm when nhwc => () => TensorPrimitivesLrn.Nhwc(x, y, n * h * w, c),
            OpKind.LocalResponseNorm => () => TensorPrimitivesLrn.Nchw(x, y, n, c, h * w),
            OpKind.BatchNormBackward when nhwc => () => TensorPrimitivesBatchNormBackward.Nhwc(x, d.OutputGrad, y, n, h, w, c, g, d.SavedMean, d.SavedVariance, eps, dg, db),
            OpKind.BatchNormBackward => () => TensorPrimitivesBatchNormBackward.Nchw(x, d.OutputGrad, y, n, c, h, w, g, d.SavedMean, d.SavedVariance, eps, dg, db),
            OpKind.LayerNormBackward => () => TensorPrimitivesLayerNormBackward.Rows(x, d.OutputGrad, y, n, c, g, d.SavedMean, d.SavedVariance, eps, dg, db),
            OpKind.GroupNormBackward when nhwc => () => TensorPrimitivesGroupNormBackward.Nhwc(x, d.OutputGrad, y, n, h, w, c, CaseData.Groups, g, d.SavedMean, d.SavedVariance, eps, dg, db),
            OpKind.GroupNormBackward => () => TensorPrimitivesGroupNormBackward.Nchw(x, d.OutputGrad, y, n, c, h, w, CaseData.Groups, g, d.SavedMean, d.SavedVariance, eps, dg, db),
            _ => throw NotYet(d),
        };
    }

    internal static NotSupportedException NotYet(CaseData d) =>
        new($"{d.Op.Title} ({d.Op.Layout}): {d.Op.NotYet ?? "no implementation"}");
}
