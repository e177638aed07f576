using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NormKernels.Bench.Kernels;

namespace NormKernels.Bench.Suite;

/// <summary>
/// The baselines must compute what the generated kernel computes: scalar and TensorPrimitives outputs are compared
/// with the generated output, max absolute difference at most <see cref="Tolerance"/> (y has std ~ gamma ~ 1).
/// </summary>
public static class SelfCheck
{
    public const double Tolerance = 1e-3;

    /// <summary>Small shapes with odd extents (vector tails), every operation and layout that exists.</summary>
    private static readonly BenchShape[] ImageShapes = [new("check-a", 3, 64, 5, 7), new("check-b", 2, 96, 9, 3)];
    private static readonly BenchShape[] RowShapes = [new("check-r1", 5, 768, 1, 1), new("check-r2", 7, 100, 1, 1)];

    /// <summary>Runs every existing operation on small shapes; prints one line; false when a baseline disagrees.</summary>
    public static bool Run(TextWriter log)
    {
        var failures = new List<string>();
        double worst = 0;
        int checkedCount = 0;
        foreach (var op in Catalog.Operations.Where(o => o.Exists))
        {
            var shapes = op.Layout == "NC" ? RowShapes : ImageShapes;
            foreach (var shape in shapes)
            {
                var d = new CaseData(op, shape);
                var (scalar, tensors) = Compare(d);
                worst = Math.Max(worst, Math.Max(scalar, tensors));
                checkedCount++;
                if (!(scalar <= Tolerance)) failures.Add($"{op.Key} {shape.Dims}: scalar differs by {scalar:0.0E+0}");
                if (!(tensors <= Tolerance)) failures.Add($"{op.Key} {shape.Dims}: TensorPrimitives differs by {tensors:0.0E+0}");
            }
        }
        log.WriteLine($"self-check: {(failures.Count == 0 ? "ok" : "FAILED")}: scalar and TensorPrimitives vs generated on {checkedCount} small cases, " +
                      $"max |diff| = {worst:0.0E+0} (tolerance {Tolerance:0E+0})");
        foreach (var f in failures) log.WriteLine("  " + f);
        return failures.Count == 0;
    }

    /// <summary>Max |scalar - generated| and max |TensorPrimitives - generated| on <paramref name="d"/>'s buffers.</summary>
    public static (double Scalar, double Tensors) Compare(CaseData d) =>
        Compare(d, Variants.Create(Variant.Generated, d), Variants.Create(Variant.Scalar, d), Variants.Create(Variant.TensorPrimitives, d));

    /// <summary>As <see cref="Compare(CaseData)"/> with variant bodies already bound to <paramref name="d"/>.</summary>
    public static (double Scalar, double Tensors) Compare(CaseData d, Action generated, Action scalar, Action tensors)
    {
        Array.Clear(d.Output);
        generated();
        var reference = (float[])d.Output.Clone();
        Array.Clear(d.Output);
        scalar();
        double s = MaxDiff(reference, d.Output);
        Array.Clear(d.Output);
        tensors();
        double t = MaxDiff(reference, d.Output);
        return (s, t);
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        double worst = 0;
        for (long i = 0; i < a.LongLength; i++)
        {
            double diff = Math.Abs((double)a[i] - b[i]);
            if (!(diff <= worst)) worst = diff; // NaN propagates
        }
        return worst;
    }
}
