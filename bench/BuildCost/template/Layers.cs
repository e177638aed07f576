// The 20 layers of the build-cost project (bench/BuildCost/measure.sh). measure.sh builds this file twice:
// as it is, and with every line that starts with an attribute ("[Normalize(" / "[LocalResponseNormalize(")
// removed, so the twin project declares the same classes without generated code. Keep one attribute per line.
using NormKernels;

namespace BuildCostApp;

// BatchNorm (statistics per channel, running mean/var kept)
[Normalize(Layout = "NCHW", Axes = "N,H,W")]
public sealed partial class BnNchwF;

[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(double))]
public sealed partial class BnNchwD;

[Normalize(Layout = "NHWC", Axes = "N,H,W")]
public sealed partial class BnNhwcF;

[Normalize(Layout = "NHWC", Axes = "N,H,W", ElementType = typeof(double))]
public sealed partial class BnNhwcD;

[Normalize(Layout = "NC", Axes = "N")]
public sealed partial class BnNcF;

[Normalize(Layout = "NCDHW", Axes = "N,D,H,W")]
public sealed partial class BnNcdhwF;

// LayerNorm (statistics per row / per sample)
[Normalize(Layout = "NTC", Axes = "C")]
public sealed partial class LnNtcF;

[Normalize(Layout = "NTC", Axes = "C", ElementType = typeof(double))]
public sealed partial class LnNtcD;

[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.Elementwise)]
public sealed partial class LnChwF;

[Normalize(Layout = "NHWC", Axes = "C")]
public sealed partial class LnNhwcF;

// GroupNorm (statistics per sample and group)
[Normalize(Layout = "NHWC", Axes = "C,H,W", Groups = 8)]
public sealed partial class GnNhwcF;

[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 8)]
public sealed partial class GnNchwF;

[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 8, ElementType = typeof(double))]
public sealed partial class GnNchwD;

// InstanceNorm (statistics per sample and channel)
[Normalize(Layout = "NCHW", Axes = "H,W")]
public sealed partial class InNchwF;

[Normalize(Layout = "NHWC", Axes = "H,W", Affine = AffineMode.None)]
public sealed partial class InNhwcF;

// RMSNorm (statistics per row, no mean subtracted)
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare)]
public sealed partial class RmsNtcF;

[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare, ElementType = typeof(double))]
public sealed partial class RmsNtcD;

// LocalResponseNorm (window across C)
[LocalResponseNormalize(Layout = "NCHW", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 1.0)]
public sealed partial class LrnNchwF;

[LocalResponseNormalize(Layout = "NHWC", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 1.0)]
public sealed partial class LrnNhwcF;

[LocalResponseNormalize(Layout = "NCHW", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 2.0, ElementType = typeof(double))]
public sealed partial class LrnNchwD;
