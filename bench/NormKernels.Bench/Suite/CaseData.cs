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
        if (op.IsBackward)
        {
            OutputGrad = Shapes.RandomArray(shape.Elements, seed: 7, -1f, 1f);
            (SavedMean, SavedVariance) = BatchStatistics(op, shape, Input);
        }
    }

    public Operation Op { get; }
    public BenchShape Shape { get; }
    public int N => Shape.N;
    public int C => Shape.C;
    public int H => Shape.H;
    public int W => Shape.W;

    /// <summary>The input, uniform in [-0.5, 1.5).</summary>
    public float[] Input { get; }

    /// <summary>Backward ops: the output gradient dy, uniform in [-1, 1) (null for forward ops). The input gradient dx
    /// goes to <see cref="Output"/>.</summary>
    public float[]? OutputGrad { get; }

    /// <summary>Backward ops: the statistics the training forward saved (mean and biased variance, float as the layers
    /// save them), computed at construction in double, two passes; the baselines' backward reads them. Indexed per
    /// channel (BatchNorm), per row (LayerNorm) or per sample and group, <c>b * Groups + g</c> (GroupNorm).</summary>
    public float[]? SavedMean { get; }

    public float[]? SavedVariance { get; }

    /// <summary>Every variant writes here (backward: the input gradient dx).</summary>
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

    private static (float[] Mean, float[] Variance) BatchStatistics(Operation op, BenchShape shape, float[] x)
    {
        int c = shape.C, plane = shape.H * shape.W, perGroup = c / Groups;
        bool nhwc = op.Layout == "NHWC";
        int statistics = op.Kind switch
        {
            OpKind.BatchNormBackward => c,
            OpKind.LayerNormBackward => shape.N,
            OpKind.GroupNormBackward => shape.N * Groups,
            _ => throw new NotSupportedException(op.Kind.ToString()),
        };
        // The statistic element i belongs to (i: flat index in the op's layout).
        Func<long, int> statistic = op.Kind switch
        {
            OpKind.BatchNormBackward when nhwc => i => (int)(i % c),
            OpKind.BatchNormBackward => i => (int)(i / plane % c),
            OpKind.LayerNormBackward => i => (int)(i / c),
            OpKind.GroupNormBackward when nhwc => i => (int)(i / ((long)plane * c)) * Groups + (int)(i % c) / perGroup,
            _ => i => (int)(i / ((long)perGroup * plane)),
        };
        var count = new long[statistics];
        var sum = new double[statistics];
        for (long i = 0; i < x.LongLength; i++) { int s = statistic(i); sum[s] += x[i]; count[s]++; }
        var mean = new double[statistics];
        for (int s = 0; s < statistics; s++) mean[s] = sum[s] / count[s];
        var squares = new double[statistics];
        for (long i = 0; i < x.LongLength; i++) { int s = statistic(i); double d = x[i] - mean[s]; squares[s] += d * d; }
        var meanF = new float[statistics];
        var varianceF = new float[statistics];
        for (int s = 0; s < statistics; s++)
        {
            meanF[s] = (float)mean[s];
            varianceF[s] = (float)(squares[s] / count[s]);
        }
        return (meanF, varianceF);
    }
}
