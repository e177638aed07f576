using System;
using BenchmarkDotNet.Attributes;

namespace NormKernels.Bench.Kernels;

/// <summary>Shared setup: input, output, and the copy of the same bytes every case is compared to (Ratio column).</summary>
public abstract class KernelBenchmarkBase
{
    protected float[] Input = Array.Empty<float>();
    protected float[] Output = Array.Empty<float>();
    protected BenchShape Dims = Shapes.S1;

    /// <summary>Shape name, see <see cref="Shapes"/>.</summary>
    public abstract string Shape { get; set; }

    protected void Allocate()
    {
        Dims = Shapes.Get(Shape);
        Input = Shapes.RandomInput(Dims);
        Output = new float[Dims.Elements];
    }

    /// <summary>The limit: a plain copy of the same bytes (one read, one write).</summary>
    [Benchmark(Baseline = true)]
    public void Copy() => Input.AsSpan().CopyTo(Output);
}

/// <summary>BatchNorm forward, training (batch statistics + running update) and inference, NCHW and NHWC.</summary>
public class BatchNormBenchmarks : KernelBenchmarkBase
{
    private BatchNormNchw _nchw = null!;
    private BatchNormNhwc _nhwc = null!;

    [Params("S1", "S2")]
    public override string Shape { get; set; } = "S1";

    [GlobalSetup]
    public void Setup()
    {
        Allocate();
        _nchw = new BatchNormNchw(Dims.C);
        _nhwc = new BatchNormNhwc(Dims.C);
    }

    [Benchmark] public void TrainNchw() { _nchw.Training = true; _nchw.Forward(Input, Output, Dims.N, Dims.C, Dims.H, Dims.W); }
    [Benchmark] public void TrainNhwc() { _nhwc.Training = true; _nhwc.Forward(Input, Output, Dims.N, Dims.H, Dims.W, Dims.C); }
    [Benchmark] public void InferNchw() { _nchw.Training = false; _nchw.Forward(Input, Output, Dims.N, Dims.C, Dims.H, Dims.W); }
    [Benchmark] public void InferNhwc() { _nhwc.Training = false; _nhwc.Forward(Input, Output, Dims.N, Dims.H, Dims.W, Dims.C); }
}

/// <summary>Per-sample norms on images: LayerNorm over C,H,W; InstanceNorm; GroupNorm(32).</summary>
public class SampleNormBenchmarks : KernelBenchmarkBase
{
    private LayerNormChw _ln = null!;
    private InstanceNormNchw _inNchw = null!;
    private InstanceNormNhwc _inNhwc = null!;
    private GroupNormNchw _gnNchw = null!;
    private GroupNormNhwc _gnNhwc = null!;

    [Params("S1", "S2")]
    public override string Shape { get; set; } = "S1";

    [GlobalSetup]
    public void Setup()
    {
        Allocate();
        _ln = new LayerNormChw(Dims.C);
        _inNchw = new InstanceNormNchw(Dims.C);
        _inNhwc = new InstanceNormNhwc(Dims.C);
        _gnNchw = new GroupNormNchw(Dims.C);
        _gnNhwc = new GroupNormNhwc(Dims.C);
    }

    [Benchmark] public void LayerNormNchw() => _ln.Forward(Input, Output, Dims.N, Dims.C, Dims.H, Dims.W);
    [Benchmark] public void InstanceNormNchw() => _inNchw.Forward(Input, Output, Dims.N, Dims.C, Dims.H, Dims.W);
    [Benchmark] public void InstanceNormNhwc() => _inNhwc.Forward(Input, Output, Dims.N, Dims.H, Dims.W, Dims.C);
    [Benchmark] public void GroupNormNchw() => _gnNchw.Forward(Input, Output, Dims.N, Dims.C, Dims.H, Dims.W);
    [Benchmark] public void GroupNormNhwc() => _gnNhwc.Forward(Input, Output, Dims.N, Dims.H, Dims.W, Dims.C);
}

/// <summary>Transformer rows [tokens, hidden]: LayerNorm and RMSNorm over the last dim.</summary>
public class RowNormBenchmarks : KernelBenchmarkBase
{
    private LayerNormRows _ln = null!;
    private RmsNormRows _rms = null!;

    [Params("S4")]
    public override string Shape { get; set; } = "S4";

    [GlobalSetup]
    public void Setup()
    {
        Allocate();
        _ln = new LayerNormRows(Dims.C);
        _rms = new RmsNormRows(Dims.C);
    }

    [Benchmark] public void LayerNormLastDim() => _ln.Forward(Input, Output, Dims.N, Dims.C);
    [Benchmark] public void RmsNormLastDim() => _rms.Forward(Input, Output, Dims.N, Dims.C);
}
