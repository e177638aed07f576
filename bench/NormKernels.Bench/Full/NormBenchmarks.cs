using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.Full;

/// <summary>
/// The full mode: every case of the matrix is one value of <see cref="Case"/>, and its four variants run side by
/// side in one BenchmarkDotNet class, so the Ratio column is each variant's time / the same case's copy.
/// </summary>
public class NormBenchmarks
{
    private Action _copy = static () => { };
    private Action _generated = static () => { };
    private Action _scalar = static () => { };
    private Action _tensors = static () => { };

    /// <summary>The case id, e.g. <c>bn-train-nhwc-S1</c> (see <see cref="Catalog"/>).</summary>
    [ParamsSource(nameof(CaseIds))]
    public string Case { get; set; } = "";

    /// <summary>The selected cases that exist (<c>--cases</c> narrows them in the host process).</summary>
    public static IEnumerable<string> CaseIds => Catalog.Measurable.Select(c => c.Id);

    [GlobalSetup]
    public void Setup()
    {
        var d = new CaseData(Catalog.Find(Case));
        _copy = Variants.Create(Variant.Copy, d);
        _generated = Variants.Create(Variant.Generated, d);
        _scalar = Variants.Create(Variant.Scalar, d);
        _tensors = Variants.Create(Variant.TensorPrimitives, d);
        // Shown in the benchmark's log: which path this process (this ISA job) runs.
        Console.WriteLine($"// NormKernels {Case}: {Isa.Describe()}");
    }

    /// <summary>The limit: Span.CopyTo of the same bytes.</summary>
    [Benchmark(Baseline = true)]
    public void Copy() => _copy();

    /// <summary>The generated layer's Forward.</summary>
    [Benchmark]
    public void Generated() => _generated();

    /// <summary>Plain scalar C#.</summary>
    [Benchmark]
    public void Scalar() => _scalar();

    /// <summary>A composition of TensorPrimitives calls.</summary>
    [Benchmark]
    public void TensorPrimitives() => _tensors();
}
