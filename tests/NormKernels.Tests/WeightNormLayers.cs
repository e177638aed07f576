namespace NormKernels.Tests;

// The [WeightNormalize] layers the kernel tests run (WeightNormTests), one per way the runtime walks a layout.

/// <summary>A Conv2d weight, PyTorch's weight_norm(conv, dim=0): each norm one contiguous run of I*H*W.</summary>
[WeightNormalize(Layout = "OIHW", Axes = "I,H,W")] public sealed partial class WnConv;

/// <summary>The same in double.</summary>
[WeightNormalize(Layout = "OIHW", Axes = "I,H,W", ElementType = typeof(double))] public sealed partial class WnConvDouble;

/// <summary>A Linear weight [out, in] (dim=0): a run of I per norm.</summary>
[WeightNormalize(Layout = "OI", Axes = "I")] public sealed partial class WnLinear;

/// <summary>A Linear weight normalized along dim=1: the kept I is innermost, each norm a column down O.</summary>
[WeightNormalize(Layout = "OI", Axes = "O")] public sealed partial class WnLinearColumns;

/// <summary>The reduced axes are not contiguous with the kept one after them: a row of O norms, each a column down I*H*W.</summary>
[WeightNormalize(Layout = "IHWO", Axes = "I,H,W")] public sealed partial class WnIhwo;

/// <summary>A channels-last kernel in double: columns.</summary>
[WeightNormalize(Layout = "HWIO", Axes = "H,W,I", ElementType = typeof(double))] public sealed partial class WnHwioDouble;

/// <summary>A ConvTranspose2d weight [in, out, kh, kw] with dim=1: each norm a run of H*W per index of I.</summary>
[WeightNormalize(Layout = "IOHW", Axes = "I,H,W")] public sealed partial class WnIohw;

/// <summary>Reduced and kept axes alternating, kept innermost: rows of D norms down C, once per index of A.</summary>
[WeightNormalize(Layout = "ABCD", Axes = "A,C")] public sealed partial class WnAbcd;

/// <summary>Letters named like the tensors: the dims are gSize, vSize and wSize.</summary>
[WeightNormalize(Layout = "GVW", Axes = "V,W")] public sealed partial class WnNamedLikeTensors;
