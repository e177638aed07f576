using System;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.Kernels;

/// <summary>The generated layers of <see cref="BenchLayers"/> bound to a case's buffers, called as a user calls them.</summary>
public static class GeneratedLayers
{
    public static Action Create(CaseData d) => Create(d, out Func<KernelPath> _);

    /// <summary>As <see cref="Create(CaseData)"/>; <paramref name="lastPath"/> reads the path the last call ran on
    /// (also for layers that are not an <see cref="INormalizationLayer"/>, such as LRN).</summary>
    public static Action Create(CaseData d, out Func<KernelPath> lastPath)
    {
        float[] x = d.Input, y = d.Output;
        int n = d.N, c = d.C, h = d.H, w = d.W;
        switch (d.Op.Kind, d.Op.Layout)
        {
            case (OpKind.LocalResponseNorm, "NCHW"):
            {
                var l = new Lrn5Nchw();
                lastPath = () => l.LastPath;
                return () => l.Forward(x, y, n, c, h, w);
            }
            case (OpKind.LocalResponseNorm, "NHWC"):
            {
                var l = new Lrn5Nhwc();
                lastPath = () => l.LastPath;
                return () => l.Forward(x, y, n, h, w, c);
            }
            default:
            {
                Action body = Create(d, out INormalizationLayer layer);
                lastPath = () => layer.LastPath;
                return body;
            }
        }
    }

    /// <summary>As <see cref="Create(CaseData)"/>; <paramref name="layer"/> reports the path the last call ran on.</summary>
    public static Action Create(CaseData d, out INormalizationLayer layer)
    {
        float[] x = d.Input, y = d.Output;
        int n = d.N, c = d.C, h = d.H, w = d.W;
        switch (d.Op.Kind, d.Op.Layout)
        {
            case (OpKind.BatchNormTraining, "NCHW"):
            {
                var l = Init(new BatchNormNchw(c), d, out layer);
                return () => { l.Training = true; l.Forward(x, y, n, c, h, w); };
            }
            case (OpKind.BatchNormTraining, "NHWC"):
            {
                var l = Init(new BatchNormNhwc(c), d, out layer);
                return () => { l.Training = true; l.Forward(x, y, n, h, w, c); };
            }
            case (OpKind.BatchNormInference, "NCHW"):
            {
                var l = Init(new BatchNormNchw(c), d, out layer);
                l.Training = false;
                return () => l.Forward(x, y, n, c, h, w);
            }
            case (OpKind.BatchNormInference, "NHWC"):
            {
                var l = Init(new BatchNormNhwc(c), d, out layer);
                l.Training = false;
                return () => l.Forward(x, y, n, h, w, c);
            }
            case (OpKind.LayerNorm, "NCHW"):
            {
                var l = Init(new LayerNormChw(c), d, out layer);
                return () => l.Forward(x, y, n, c, h, w);
            }
            case (OpKind.LayerNorm, "NC"):
            {
                var l = Init(new LayerNormRows(c), d, out layer);
                return () => l.Forward(x, y, n, c);
            }
            case (OpKind.InstanceNorm, "NCHW"):
            {
                var l = Init(new InstanceNormNchw(c), d, out layer);
                return () => l.Forward(x, y, n, c, h, w);
            }
            case (OpKind.InstanceNorm, "NHWC"):
            {
                var l = Init(new InstanceNormNhwc(c), d, out layer);
                return () => l.Forward(x, y, n, h, w, c);
            }
            case (OpKind.GroupNorm, "NCHW"):
            {
                var l = Init(new GroupNormNchw(c), d, out layer);
                return () => l.Forward(x, y, n, c, h, w);
            }
            case (OpKind.GroupNorm, "NHWC"):
            {
                var l = Init(new GroupNormNhwc(c), d, out layer);
                return () => l.Forward(x, y, n, h, w, c);
            }
            case (OpKind.RmsNorm, "NC"):
            {
                var l = Init(new RmsNormRows(c), d, out layer);
                return () => l.Forward(x, y, n, c);
            }
            // Backward: one training Forward at setup saves the batch statistics; the timed body is Backward alone
            // (no ZeroGrad: WeightGrad/BiasGrad accumulating does not change the work).
            case (OpKind.BatchNormBackward, "NCHW"):
            {
                var l = Init(new BatchNormNchw(c), d, out layer);
                l.Training = true;
                l.Forward(x, y, n, c, h, w);
                float[] dy = d.OutputGrad!;
                return () => l.Backward(x, dy, y, n, c, h, w);
            }
            case (OpKind.BatchNormBackward, "NHWC"):
            {
                var l = Init(new BatchNormNhwc(c), d, out layer);
                l.Training = true;
                l.Forward(x, y, n, h, w, c);
                float[] dy = d.OutputGrad!;
                return () => l.Backward(x, dy, y, n, h, w, c);
            }
            case (OpKind.LayerNormBackward, "NC"):
            {
                var l = Init(new LayerNormRows(c), d, out layer);
                l.Forward(x, y, n, c);
                float[] dy = d.OutputGrad!;
                return () => l.Backward(x, dy, y, n, c);
            }
            case (OpKind.GroupNormBackward, "NCHW"):
            {
                var l = Init(new GroupNormNchw(c), d, out layer);
                l.Forward(x, y, n, c, h, w);
                float[] dy = d.OutputGrad!;
                return () => l.Backward(x, dy, y, n, c, h, w);
            }
            case (OpKind.GroupNormBackward, "NHWC"):
            {
                var l = Init(new GroupNormNhwc(c), d, out layer);
                l.Forward(x, y, n, h, w, c);
                float[] dy = d.OutputGrad!;
                return () => l.Backward(x, dy, y, n, h, w, c);
            }
            default:
                throw Variants.NotYet(d);
        }
    }

    private static T Init<T>(T created, CaseData d, out INormalizationLayer layer) where T : INormalizationLayer
    {
        d.CopyParametersTo(created.Weight, created.Bias, created.RunningMean, created.RunningVar);
        layer = created;
        return created;
    }
}
