namespace NormKernels.Bench.Kernels;

// The LRN layers of the "lrn5-*" cases: AlexNet's LocalResponseNorm(5), PyTorch defaults (alpha 1e-4, beta 0.75, k 1).
[LocalResponseNormalize(Layout = "NCHW", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 1.0)] public sealed partial class Lrn5Nchw;
[LocalResponseNormalize(Layout = "NHWC", Size = 5, Alpha = 1e-4, Beta = 0.75, K = 1.0)] public sealed partial class Lrn5Nhwc;
