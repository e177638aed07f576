namespace NormKernels.Tests;

// Layers declared with ElementType = typeof(Half): Half tensors, float parameters and statistics (HalfTests).
[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(Half))] public sealed partial class HalfBnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W", ElementType = typeof(Half))] public sealed partial class HalfBnNhwc;
[Normalize(Layout = "NTC", Axes = "C", ElementType = typeof(Half))] public sealed partial class HalfLnNtc;
[Normalize(Layout = "NHWC", Axes = "H,W,C", Groups = 4, ElementType = typeof(Half))] public sealed partial class HalfGnNhwc;
[Normalize(Layout = "NCHW", Axes = "H,W", ElementType = typeof(Half))] public sealed partial class HalfInNchw;
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare, ElementType = typeof(Half))] public sealed partial class HalfRmsNtc;
[Normalize(Layout = "NCHW", Axes = "N,H,W", Activation = NormActivation.Relu, ElementType = typeof(Half))] public sealed partial class HalfBnReluNchw;
[Normalize(Layout = "NHWC", Axes = "H,W,C", Groups = 4, Activation = NormActivation.Silu, ElementType = typeof(Half))] public sealed partial class HalfGnSiluNhwc;
[Normalize(Layout = "NCHW", Axes = "N,H,W", Residual = ResidualMode.AddAfterNorm, Activation = NormActivation.Relu, ElementType = typeof(Half))]
public sealed partial class HalfBnTailNchw;
[Normalize(Layout = "NTC", Axes = "C", Residual = ResidualMode.AddBeforeNorm, ElementType = typeof(Half))] public sealed partial class HalfPreLnNtc;
[LocalResponseNormalize(Layout = "NCHW", ElementType = typeof(Half))] public sealed partial class HalfLrnNchw;
[LocalResponseNormalize(Layout = "NHWC", Size = 3, Alpha = 0.3, Beta = 0.5, K = 1.5, ElementType = typeof(Half))] public sealed partial class HalfLrnNhwc;
