namespace NormKernels.Tests;

// Double-precision layers (ElementType = typeof(double)): one per innermost pattern of the planner.
[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(double))] public sealed partial class BnNchwDouble;
[Normalize(Layout = "NHWC", Axes = "N,H,W", ElementType = typeof(double), Momentum = 0.3)] public sealed partial class BnNhwcDouble;
[Normalize(Layout = "NTC", Axes = "C", ElementType = typeof(double))] public sealed partial class LnNtcDouble;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 4, ElementType = typeof(double))] public sealed partial class GnNhwcDouble;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Affine = AffineMode.Elementwise, ElementType = typeof(double))] public sealed partial class LnNhwcElementwiseDouble;
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare, ElementType = typeof(double))] public sealed partial class RmsNtcDouble;
// NCHW blocks pipelined in double (StreamedOrderTests): a group's channels, a plane.
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 4, ElementType = typeof(double))] public sealed partial class GnNchwDouble;
[Normalize(Layout = "NCHW", Axes = "H,W", ElementType = typeof(double))] public sealed partial class InNchwDouble;
