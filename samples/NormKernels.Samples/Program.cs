// NormKernels samples: two small networks written in plain C# around generated normalization layers.
//
//   ConvBlock.cs         a channels-last (NHWC) conv block: depthwise 3x3 conv -> BatchNorm -> ReLU -> GroupNorm.
//                        Trains BatchNorm's running statistics for a few steps, then switches to inference.
//   TransformerBlock.cs  a pre-norm transformer block over (batch, tokens, channels) = NTC:
//                        x + Attention(LayerNorm(x)), then h + MLP(RMSNorm(h)).
//
// Each layer is one attribute on a partial class (see the declarations at the top of each file); the
// source generator writes its constructor, parameters and SIMD kernels at compile time.
//
// Run: dotnet run -c Release --project samples/NormKernels.Samples

using NormKernels;
using NormKernels.Samples;

Console.WriteLine($"NormKernels samples. This machine: {Isa.Describe()}");
Console.WriteLine();

ConvBlock.Run();
Console.WriteLine();
TransformerBlock.Run();
