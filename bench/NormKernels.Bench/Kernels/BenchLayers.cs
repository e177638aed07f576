namespace NormKernels.Bench.Kernels;

// The layers the benchmarks run: one declaration each, as a user would write them.
[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class BatchNormNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W")] public sealed partial class BatchNormNhwc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.PerChannel)] public sealed partial class LayerNormChw;
[Normalize(Layout = "NC", Axes = "C")] public sealed partial class LayerNormRows;
[Normalize(Layout = "NC", Axes = "C", Kind = NormKind.RootMeanSquare)] public sealed partial class RmsNormRows;
[Normalize(Layout = "NCHW", Axes = "H,W")] public sealed partial class InstanceNormNchw;
[Normalize(Layout = "NHWC", Axes = "H,W")] public sealed partial class InstanceNormNhwc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 32)] public sealed partial class GroupNormNchw;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 32)] public sealed partial class GroupNormNhwc;
