namespace NormKernels.Tests;

// ---- The LRN layers under test ---------------------------------------------------------------------------------------
// Window sizes 1..5 (odd and even: Before != After for even sizes), every beta form the emitter specializes
// (0.75 fast path, 0.5, 1, general exp/log), four layouts (planes and channels-innermost), float and double.

[LocalResponseNormalize] public sealed partial class LrnNchw;                                                          // Size 5, beta 0.75
[LocalResponseNormalize(Layout = "NHWC")] public sealed partial class LrnNhwc;
[LocalResponseNormalize(Layout = "NCHW", Size = 1, Alpha = 0.5, Beta = 0.5, K = 2.0)] public sealed partial class LrnNchwSize1;
[LocalResponseNormalize(Layout = "NHWC", Size = 2, Alpha = 0.3, Beta = 1.0, K = 1.5)] public sealed partial class LrnNhwcSize2;
[LocalResponseNormalize(Layout = "NCL", Size = 3, Alpha = 0.2, Beta = 0.6, K = 1.0)] public sealed partial class LrnNclSize3;
[LocalResponseNormalize(Layout = "NLC", Size = 4, Alpha = 0.1, Beta = 0.75, K = 0.5)] public sealed partial class LrnNlcSize4;
[LocalResponseNormalize(Layout = "NCHW", Size = 4, Alpha = 0.25, Beta = 1.3, K = 1.0)] public sealed partial class LrnNchwSize4;
[LocalResponseNormalize(Layout = "NHWC", Size = 3, Alpha = 0.2, Beta = 0.75, K = 2.0)] public sealed partial class LrnNhwcSize3;
[LocalResponseNormalize(Layout = "NCHW", Size = 5, Alpha = 0.5, Beta = 0.75, K = 1.0, ElementType = typeof(double))] public sealed partial class LrnNchwDouble;
[LocalResponseNormalize(Layout = "NHWC", Size = 4, Alpha = 0.3, Beta = 0.6, K = 1.0, ElementType = typeof(double))] public sealed partial class LrnNhwcDouble;
// Small K with Alpha = 1: D is tiny where the window holds small values, so a float running sum that once held a huge
// square (and cancelled it imprecisely when it left the window) would be off by orders of magnitude.
[LocalResponseNormalize(Layout = "NCHW", Size = 3, Alpha = 1.0, Beta = 0.75, K = 1e-4)] public sealed partial class LrnNchwSmallK;
[LocalResponseNormalize(Layout = "NHWC", Size = 3, Alpha = 1.0, Beta = 0.75, K = 1e-4)] public sealed partial class LrnNhwcSmallK;
// A window wider than any tensor (Size = int.MaxValue): every index expression must stay clear of int overflow.
[LocalResponseNormalize(Layout = "NCL", Size = int.MaxValue, Alpha = 2e9, Beta = 0.75, K = 1.0)] public sealed partial class LrnNclHugeWindow;
// Channels-last forward sums windows of Size <= 9 directly per row; a wider window keeps the transposed tiles on every path.
[LocalResponseNormalize(Layout = "NHWC", Size = 11, Alpha = 0.4, Beta = 0.75, K = 1.0)] public sealed partial class LrnNhwcSize11;
