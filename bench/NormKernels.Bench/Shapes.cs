using System;

namespace NormKernels.Bench;

/// <summary>One benchmark tensor shape, with its dims named as in an NCHW layout.</summary>
/// <remarks>A 2-D shape such as S4 <c>[8192, 768]</c> is N x C with H = W = 1 (rows x last dim).</remarks>
public sealed record BenchShape(string Name, int N, int C, int H, int W)
{
    /// <summary>Elements in the tensor.</summary>
    public long Elements => (long)N * C * H * W;

    /// <summary>Bytes of one float32 tensor of this shape.</summary>
    public long Bytes => Elements * sizeof(float);

    /// <summary>True for a [rows, last dim] shape (H = W = 1).</summary>
    public bool IsRows => H == 1 && W == 1;

    /// <summary>"32x64x56x56", or "8192x768" for a 2-D shape.</summary>
    public string Dims => IsRows ? $"{N}x{C}" : $"{N}x{C}x{H}x{W}";

    public override string ToString() => $"{Name} {Dims}";
}

/// <summary>The cases of the benchmark plan (the same names as in the peer measurements).</summary>
public static class Shapes
{
    /// <summary>ResNet stem-sized activation: 25.7 MB.</summary>
    public static readonly BenchShape S1 = new("S1", 32, 64, 56, 56);

    /// <summary>ResNet last stage: 3.2 MB, 7x7 planes.</summary>
    public static readonly BenchShape S2 = new("S2", 32, 512, 7, 7);

    /// <summary>Small batch, large planes (segmentation / diffusion UNet): 8.4 MB.</summary>
    public static readonly BenchShape S3 = new("S3", 2, 256, 64, 64);

    /// <summary>Transformer activations [tokens, hidden], normalized over the last dim: 25.2 MB.</summary>
    public static readonly BenchShape S4 = new("S4", 8192, 768, 1, 1);

    /// <summary>Tiny: 32 KB, fixed per-call overhead dominates.</summary>
    public static readonly BenchShape S5 = new("S5", 1, 32, 16, 16);

    /// <summary>Transformer activations with a wide hidden dim ([tokens, 4096]: LLaMA-7B's), the same 25.2 MB as S4 in rows
    /// of 16 KB, which no longer keep a row's arrays in L1 through the backward's apply.</summary>
    public static readonly BenchShape S6 = new("S6", 1536, 4096, 1, 1);

    /// <summary>Every benchmark shape.</summary>
    public static readonly BenchShape[] All = [S1, S2, S3, S4, S5, S6];

    /// <summary>The shape named <paramref name="name"/> ("S1" ... "S6").</summary>
    public static BenchShape Get(string name) =>
        Array.Find(All, s => s.Name == name)
        ?? throw new ArgumentOutOfRangeException(nameof(name), name, "expected one of S1, S2, S3, S4, S5, S6");

    /// <summary>A deterministic input: uniform in [offset - 1, offset + 1).</summary>
    public static float[] RandomInput(BenchShape shape, int seed = 42, float offset = 0.5f) =>
        RandomArray(shape.Elements, seed, offset - 1f, offset + 1f);

    /// <summary>A deterministic array, uniform in [low, high).</summary>
    public static float[] RandomArray(long length, int seed, float low, float high)
    {
        var data = new float[length];
        var rng = new Random(seed);
        for (long i = 0; i < data.LongLength; i++)
            data[i] = low + (float)(rng.NextDouble() * (high - low));
        return data;
    }
}
