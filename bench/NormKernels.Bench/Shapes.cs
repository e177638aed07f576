using System;

namespace NormKernels.Bench;

/// <summary>One benchmark tensor shape, with its dims named as in an NCHW layout.</summary>
/// <remarks>A 2-D shape such as S4 <c>[8192, 768]</c> is N x C with H = W = 1.</remarks>
public sealed record BenchShape(string Name, int N, int C, int H, int W)
{
    /// <summary>Elements in the tensor.</summary>
    public long Elements => (long)N * C * H * W;

    /// <summary>Bytes of one float32 tensor of this shape.</summary>
    public long Bytes => Elements * sizeof(float);

    /// <summary>"32x64x56x56", or "8192x768" for a 2-D shape.</summary>
    public string Dims => H == 1 && W == 1 ? $"{N}x{C}" : $"{N}x{C}x{H}x{W}";

    public override string ToString() => $"{Name} {Dims}";
}

/// <summary>The cases of the benchmark plan (the same names as in the peer measurements).</summary>
public static class Shapes
{
    /// <summary>ResNet stem-sized activation: 25.7 MB.</summary>
    public static readonly BenchShape S1 = new("S1", 32, 64, 56, 56);

    /// <summary>ResNet last stage: 3.2 MB, fits in a large L2/L3.</summary>
    public static readonly BenchShape S2 = new("S2", 32, 512, 7, 7);

    /// <summary>Transformer activations [tokens, hidden]: 25.2 MB.</summary>
    public static readonly BenchShape S4 = new("S4", 8192, 768, 1, 1);

    /// <summary>The shape named <paramref name="name"/> ("S1", "S2", "S4").</summary>
    public static BenchShape Get(string name) => name switch
    {
        "S1" => S1,
        "S2" => S2,
        "S4" => S4,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "expected one of S1, S2, S4"),
    };

    /// <summary>A deterministic input: uniform in [offset - 1, offset + 1).</summary>
    public static float[] RandomInput(BenchShape shape, int seed = 42, float offset = 0.5f)
    {
        var data = new float[shape.Elements];
        var rng = new Random(seed);
        for (long i = 0; i < data.LongLength; i++)
            data[i] = offset + (float)(rng.NextDouble() * 2.0 - 1.0);
        return data;
    }
}
