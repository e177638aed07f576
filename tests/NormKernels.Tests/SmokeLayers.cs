namespace NormKernels.Tests.Smoke;

[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class BnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W")] public sealed partial class BnNhwc;
[Normalize(Layout = "NTC", Axes = "C")] public sealed partial class LnNtc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.Elementwise)] public sealed partial class LnNchwElem;
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 4)] public sealed partial class GnNhwc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 4)] public sealed partial class GnNchw;
[Normalize(Layout = "NHWC", Axes = "H,W")] public sealed partial class InNhwc;
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare)] public sealed partial class RmsNtc;
[Normalize(Layout = "NCHW", Axes = "N", Affine = AffineMode.Elementwise)] public sealed partial class BnPerActivation;
[Normalize(Layout = "NHWC", Axes = "H,W", Affine = AffineMode.Elementwise)] public sealed partial class InNhwcElem;
