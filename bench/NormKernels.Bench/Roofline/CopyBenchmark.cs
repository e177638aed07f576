using System;
using BenchmarkDotNet.Attributes;

namespace NormKernels.Bench.Roofline;

/// <summary>
/// The memory roofline: a plain copy of the same bytes a normalization reads and writes.
/// A forward pass that reads x once and writes y once cannot beat this; the generated kernels
/// are judged by how close they come to it (see the GB/s column).
/// </summary>
[BenchmarkCategory("Roofline")]
public class CopyBenchmark
{
    private float[] _source = Array.Empty<float>();
    private float[] _destination = Array.Empty<float>();

    /// <summary>Shape name, see <see cref="Shapes"/>.</summary>
    [Params("S1", "S2", "S4")]
    public string Shape { get; set; } = "S1";

    [GlobalSetup]
    public void Setup()
    {
        var shape = Shapes.Get(Shape);
        _source = Shapes.RandomInput(shape);
        _destination = new float[shape.Elements];
    }

    /// <summary>Span.CopyTo: one read and one write stream of the tensor.</summary>
    [Benchmark]
    public void Copy() => _source.AsSpan().CopyTo(_destination);
}
