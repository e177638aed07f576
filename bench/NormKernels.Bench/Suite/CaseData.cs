using System;

namespace NormKernels.Bench.Suite;

/// <summary>
/// The buffers of one case, shared by every variant so that each reads and writes the same bytes:
/// the input (random, read in the case's layout), the output, and per-channel parameters.
/// </summary>
public sealed class CaseData
{
    public const int Groups = 32;
    public const float Epsilon = 1e-5f;
    public const float Momentum = 0.1f;

    public CaseData(BenchCase benchCase) : this(benchCase.Op, benchCase.Shape) { }

    /// <summary>Any operation on any shape (the self-check uses small odd shapes).</summary>
    public CaseData(Operation op, BenchShape shape)
    {
        Op = op;
        Shape = shape;
        Input = Shapes.RandomInput(shape, seed: 42);
        Output = new float[shape.Elements];
        Gamma = Shapes.RandomArray(shape.C, seed: 1, 0.5f, 1.5f);
        Beta = Shapes.RandomArray(shape.C, seed: 2, -0.5f, 0.5f);
        RunningMean = Shapes.RandomArray(shape.C, seed: 3, 0.25f, 0.75f);
        RunningVar = Shapes.RandomArray(shape.C, seed: 4, 0.2f, 0.5f);
    }

    public Operation Op { get; }
    public BenchShape Shape { get; }
    public int N => Shape.N;
    public int C => Shape.C;
    public int H => Shape.H;
    public int W => Shape.W;

    /// <summary>The input, uniform in [-0.5, 1.5).</summary>
    public float[] Input { get; }

    /// <summary>Every variant writes here.</summary>
    public float[] Output { get; }

    /// <summary>gamma, one per channel (one per last-dim element for row shapes).</summary>
    public float[] Gamma { get; }

    /// <summary>beta, one per channel.</summary>
    public float[] Beta { get; }

    /// <summary>Running mean/variance used by inference (and updated, on private copies, by training).</summary>
    public float[] RunningMean { get; }

    public float[] RunningVar { get; }

    /// <summary>Copies the case's parameters into a generated layer's (or a baseline's) arrays.</summary>
    public void CopyParametersTo(float[] weight, float[] bias, float[]? runningMean = null, float[]? runningVar = null)
    {
        Gamma.AsSpan().CopyTo(weight);
        Beta.AsSpan().CopyTo(bias);
        if (runningMean is not null) RunningMean.AsSpan().CopyTo(runningMean);
        if (runningVar is not null) RunningVar.AsSpan().CopyTo(runningVar);
    }
}
