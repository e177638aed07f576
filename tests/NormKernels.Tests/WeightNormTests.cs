using System.Numerics.Tensors;
using NormKernels.Runtime;
using Arm = NormKernels.Runtime.AdvSimdVector128Ops<NormKernels.Tests.EmulatedAdvSimd>;
using X86 = NormKernels.Runtime.X86Vector128Ops;

namespace NormKernels.Tests;

/// <summary>
/// The generated [WeightNormalize] layers against <see cref="WeightNormReference"/> (float64), forward and backward, on
/// every path this process can run (forced through the internal OnPath entry points, the 128-bit one also with the
/// emulated AdvSimd ops); the reference's backward against finite differences of its forward; the layers against
/// PyTorch's own numbers (Golden/weight_norm_torch_golden.json), NaN of a zero slice included.
/// </summary>
/// <remarks>
/// Tolerances, u the element type's unit roundoff (2^-24, 2^-53). Forward: the squares round once each (all positive, so
/// their double sum keeps relative error u), the norm and g / ||v|| are double and round once to T (u), the product once
/// more (u): 3u of |w|, bounded by <see cref="ForwardUlps"/> = 8u. Backward: gGrad = dot / ||v|| with each product rounded
/// once (u of sum |wGrad * v|, which exceeds |sum(wGrad * v)| where the products cancel) and the quotient rounded (u);
/// vGrad = v * b + wGrad * a with a rounded (u), b = -a * dot / ||v||^2 carrying dot's error and its own rounding, the product
/// wGrad * a rounded and the multiply-add rounded: a few u of |a * wGrad| + |a * v| * (|dot| + sum |wGrad * v|) / ||v||^2, the
/// terms that may cancel (<see cref="WeightNormReference.Backward"/>), bounded by <see cref="BackwardUlps"/> = 16u.
/// </remarks>
public sealed class WeightNormTests
{
    private const double ForwardUlps = 8, BackwardUlps = 16;
    private static readonly double FloatU = Math.ScaleB(1, -24), DoubleU = Math.ScaleB(1, -53);

    internal delegate KernelPath Fwd<T>(KernelPath path, bool arm, T[] v, T[] g, T[] w, int[] d);
    internal delegate KernelPath Bwd<T>(KernelPath path, bool arm, T[] v, T[] g, T[] dw, T[] dv, T[] dg, int[] d);

    internal sealed record Case<T>(string Layout, string Reduced, int[][] Shapes, Fwd<T> Forward, Bwd<T> Backward);

    internal static readonly Dictionary<string, Case<float>> Floats = new()
    {
        // 1x1x1x1, a norm per single element, odd runs with tails, runs shorter than a vector, 153600 elements (several workers).
        [nameof(WnConv)] = new("OIHW", "IHW", [[1, 1, 1, 1], [3, 1, 1, 1], [4, 3, 3, 3], [5, 2, 1, 1], [7, 3, 1, 5], [6, 16, 3, 3], [2, 1, 1, 33], [96, 64, 5, 5]],
            (p, a, v, g, w, d) => a ? WnConv.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnConv.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnConv.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnConv.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
        [nameof(WnLinear)] = new("OI", "I", [[10, 3], [10, 17], [33, 64], [1, 100], [300, 513]],
            (p, a, v, g, w, d) => a ? WnLinear.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1]) : WnLinear.ForwardOnPath<X86>(p, v, g, w, d[0], d[1]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnLinear.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1]) : WnLinear.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1])),
        // [1, 40]: O of extent 1 leaves only the kept I, so each norm is one element.
        [nameof(WnLinearColumns)] = new("OI", "O", [[3, 10], [17, 10], [64, 33], [100, 1], [513, 300], [1, 40]],
            (p, a, v, g, w, d) => a ? WnLinearColumns.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1]) : WnLinearColumns.ForwardOnPath<X86>(p, v, g, w, d[0], d[1]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnLinearColumns.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1])
                : WnLinearColumns.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1])),
        // [4, 2, 2, 1]: O of extent 1, one norm of the whole tensor (a run); [32, 3, 3, 512]: pieces of the row of norms on several workers.
        [nameof(WnIhwo)] = new("IHWO", "IHW", [[3, 3, 3, 8], [5, 1, 1, 17], [2, 3, 3, 64], [1, 1, 1, 5], [4, 2, 2, 1], [7, 1, 3, 100], [32, 3, 3, 512]],
            (p, a, v, g, w, d) => a ? WnIhwo.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnIhwo.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnIhwo.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnIhwo.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
        // A run of H*W per index of I; [3, 5, 1, 1] leaves I then O: columns.
        [nameof(WnIohw)] = new("IOHW", "IHW", [[4, 6, 3, 3], [3, 5, 1, 1], [2, 7, 2, 9], [16, 32, 3, 3], [5, 3, 1, 40]],
            (p, a, v, g, w, d) => a ? WnIohw.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnIohw.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnIohw.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnIohw.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
        // Columns down C once per index of A; [1, 5, 1, 9]: nothing reduced left (one element per norm); [3, 1, 7, 20]: A and C fold.
        [nameof(WnAbcd)] = new("ABCD", "AC", [[3, 4, 5, 6], [2, 3, 4, 17], [1, 5, 1, 9], [3, 1, 7, 20], [5, 3, 2, 64]],
            (p, a, v, g, w, d) => a ? WnAbcd.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnAbcd.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnAbcd.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnAbcd.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
        [nameof(WnNamedLikeTensors)] = new("GVW", "VW", [[3, 4, 5], [2, 1, 9]],
            (p, a, v, g, w, d) => a ? WnNamedLikeTensors.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2]) : WnNamedLikeTensors.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnNamedLikeTensors.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2])
                : WnNamedLikeTensors.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2])),
    };

    internal static readonly Dictionary<string, Case<double>> Doubles = new()
    {
        [nameof(WnConvDouble)] = new("OIHW", "IHW", [[4, 3, 3, 3], [5, 2, 1, 1], [6, 16, 3, 3], [3, 1, 1, 7], [48, 64, 3, 3]],
            (p, a, v, g, w, d) => a ? WnConvDouble.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnConvDouble.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnConvDouble.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnConvDouble.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
        [nameof(WnHwioDouble)] = new("HWIO", "HWI", [[3, 3, 4, 8], [1, 1, 5, 3], [3, 3, 16, 33], [3, 3, 64, 130]],
            (p, a, v, g, w, d) => a ? WnHwioDouble.ForwardOnPath<Arm>(p, v, g, w, d[0], d[1], d[2], d[3]) : WnHwioDouble.ForwardOnPath<X86>(p, v, g, w, d[0], d[1], d[2], d[3]),
            (p, a, v, g, dw, dv, dg, d) => a ? WnHwioDouble.BackwardOnPath<Arm>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])
                : WnHwioDouble.BackwardOnPath<X86>(p, v, g, dw, dv, dg, d[0], d[1], d[2], d[3])),
    };

    public static TheoryData<string> FloatNames() => new(Floats.Keys);

    public static TheoryData<string> DoubleNames() => new(Doubles.Keys);

    /// <summary>The innermost extent the runtime chooses the path by, restated: the product of the trailing letters of one
    /// class (kept or reduced) once the letters of extent 1 are left out.</summary>
    internal static int Inner(string layout, string reduced, int[] dims)
    {
        int inner = 1;
        bool? innerReduced = null;
        for (int a = layout.Length - 1; a >= 0; a--)
        {
            if (dims[a] == 1) continue;
            bool r = reduced.Contains(layout[a]);
            if (innerReduced is { } c && c != r) break;
            innerReduced = r;
            inner *= dims[a];
        }
        return inner;
    }

    /// <summary>Every (path, arm ops?) to force: each path down to Scalar, and the 128-bit path once more with the ARM64 ops on the stand-in.</summary>
    private static IEnumerable<(KernelPath Path, bool Arm)> Paths()
    {
        foreach (KernelPath p in new[] { KernelPath.Vector512, KernelPath.Vector256, KernelPath.Vector128, KernelPath.Scalar })
        {
            yield return (p, false);
            if (p == KernelPath.Vector128) yield return (p, true);
        }
    }

    private static double[] Wide(float[] values) => values.Select(x => (double)x).ToArray();

    /// <summary>g away from zero, either sign.</summary>
    private static float[] Gains(Random random, int count) =>
        TestData.Uniform(random, count, 0.25, 2).Select((x, i) => i % 3 == 1 ? -x : x).ToArray();

    private static void AssertClose(double[] expected, double[] scale, ReadOnlySpan<float> actual, double bound, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound * scale[i] + 1e-37,
                $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bound {bound * scale[i]:R})");
    }

    private static void AssertClose(double[] expected, double[] scale, ReadOnlySpan<double> actual, double bound, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound * scale[i] + 1e-300,
                $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bound {bound * scale[i]:R})");
    }

    /// <summary>The magnitudes gGrad combines: |dg| and sum |dw * v| / ||v|| per norm.</summary>
    private static double[] GradScale(WeightNormReference reference, int[] dims, IReadOnlyList<double> v, IReadOnlyList<double> dw, double[] dg)
    {
        int[] of = reference.NormOf(dims);
        double[] norms = reference.Norms(dims, v);
        var sums = new double[norms.Length];
        for (int i = 0; i < of.Length; i++) sums[of[i]] += Math.Abs(dw[i] * v[i]);
        return sums.Select((s, k) => s / norms[k] + Math.Abs(dg[k])).ToArray();
    }

    [Theory, MemberData(nameof(FloatNames))]
    public void FloatLayer_MatchesReference_OnEveryPath(string name)
    {
        Case<float> layer = Floats[name];
        var reference = new WeightNormReference(layer.Layout, layer.Reduced);
        var random = new Random(KernelCheck.Seed(name, 21));
        int checkedRuns = 0;
        foreach (int[] dims in layer.Shapes)
        {
            int count = TestData.Product(dims), norms = reference.Count(dims);
            float[] v = TestData.Normal(random, count, 0, 1.5), g = Gains(random, norms), dw = TestData.Normal(random, count, 0, 1);
            double[] w = reference.Forward(dims, Wide(v), Wide(g));
            var (dv, dg, dvScale) = reference.Backward(dims, Wide(v), Wide(g), Wide(dw));
            double[] dgScale = GradScale(reference, dims, Wide(v), Wide(dw), dg);
            KernelPath widest = Isa.Select<float>(Inner(layer.Layout, layer.Reduced, dims));
            foreach (var (path, arm) in Paths())
            {
                string what = $"{name} [{string.Join(",", dims)}] {path}{(arm ? " (AdvSimd stand-in)" : "")}";
                float[] output = Filled(count, float.NaN), vGrad = Filled(count, float.NaN), gGrad = Filled(norms, float.NaN);
                if (path > widest)
                {
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(path, arm, v, g, output, dims));
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Backward(path, arm, v, g, dw, vGrad, gGrad, dims));
                    Assert.All(output.Concat(vGrad).Concat(gGrad), x => Assert.True(float.IsNaN(x)));
                    continue;
                }
                long armCalls = EmulatedAdvSimd.Calls;
                Assert.Equal(path, layer.Forward(path, arm, v, g, output, dims));
                AssertClose(w, w.Select(Math.Abs).ToArray(), output, ForwardUlps * FloatU, what + " w");
                Assert.Equal(path, layer.Backward(path, arm, v, g, dw, vGrad, gGrad, dims));
                AssertClose(dv, dvScale, vGrad, BackwardUlps * FloatU, what + " vGrad");
                AssertClose(dg, dgScale, gGrad, BackwardUlps * FloatU, what + " gGrad");
                // The backward's multiply-add goes through the 128-bit ops (the stand-in's FMLA) on that path.
                if (arm) Assert.True(EmulatedAdvSimd.Calls > armCalls, what + ": the AdvSimd stand-in was called");
                checkedRuns++;
            }
        }
        Assert.True(checkedRuns >= layer.Shapes.Length, "at least the scalar path ran for every shape");
    }

    [Theory, MemberData(nameof(DoubleNames))]
    public void DoubleLayer_MatchesReference_OnEveryPath(string name)
    {
        Case<double> layer = Doubles[name];
        var reference = new WeightNormReference(layer.Layout, layer.Reduced);
        var random = new Random(KernelCheck.Seed(name, 22));
        foreach (int[] dims in layer.Shapes)
        {
            int count = TestData.Product(dims), norms = reference.Count(dims);
            double[] v = TestData.Normal(random, count, 0, 1.5).Select(x => x + random.NextDouble() * 1e-3).ToArray();
            double[] g = Wide(Gains(random, norms)), dw = Wide(TestData.Normal(random, count, 0, 1));
            double[] w = reference.Forward(dims, v, g);
            var (dv, dg, dvScale) = reference.Backward(dims, v, g, dw);
            double[] dgScale = GradScale(reference, dims, v, dw, dg);
            KernelPath widest = Isa.Select<double>(Inner(layer.Layout, layer.Reduced, dims));
            foreach (var (path, arm) in Paths())
            {
                string what = $"{name} [{string.Join(",", dims)}] {path}{(arm ? " (AdvSimd stand-in)" : "")}";
                var output = new double[count];
                var vGrad = new double[count];
                var gGrad = new double[norms];
                if (path > widest)
                {
                    Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(path, arm, v, g, output, dims));
                    continue;
                }
                // In double the sums' own rounding counts too: at most (n - 1) u for n terms added one after another.
                int chain = count / norms;
                Assert.Equal(path, layer.Forward(path, arm, v, g, output, dims));
                AssertClose(w, w.Select(Math.Abs).ToArray(), output, (ForwardUlps + chain) * DoubleU, what + " w");
                Assert.Equal(path, layer.Backward(path, arm, v, g, dw, vGrad, gGrad, dims));
                AssertClose(dv, dvScale, vGrad, (BackwardUlps + chain) * DoubleU, what + " vGrad");
                AssertClose(dg, dgScale, gGrad, (BackwardUlps + chain) * DoubleU, what + " gGrad");
            }
        }
    }

    internal static float[] Filled(int count, float value)
    {
        var data = new float[count];
        data.AsSpan().Fill(value);
        return data;
    }

    /// <summary>
    /// The reference's backward against central differences of its forward, L = sum(dw * w), on a handful of elements of v and
    /// of g. Truncation O(h^2) and rounding O(1e-16 * |L| / h) are both below 1e-8 with h = 1e-5 and values of order one; a
    /// wrong term (the projection left out: dv = g / ||v|| * dw) is off by order 0.1 here, far above 1e-7.
    /// </summary>
    [Theory]
    [InlineData("OIHW", "IHW", new[] { 3, 2, 2, 3 })]
    [InlineData("IHWO", "IHW", new[] { 2, 2, 3, 4 })]
    [InlineData("ABCD", "AC", new[] { 2, 3, 2, 3 })]
    public void ReferenceBackward_MatchesFiniteDifferencesOfItsForward(string layout, string reduced, int[] dims)
    {
        var reference = new WeightNormReference(layout, reduced);
        var random = new Random(dims.Sum());
        int count = TestData.Product(dims), norms = reference.Count(dims);
        double[] v = Enumerable.Range(0, count).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        double[] g = Enumerable.Range(0, norms).Select(_ => random.NextDouble() * 3 - 1.5).ToArray();
        double[] dw = Enumerable.Range(0, count).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var (dv, dg, _) = reference.Backward(dims, v, g, dw);
        double Loss() => reference.Forward(dims, v, g).Select((x, i) => x * dw[i]).Sum();
        double Numeric(double[] values, int i) => FiniteDifferences.Central(values, i, Loss);
        int[] some = [0, 1, count / 2, count - 2, count - 1];
        foreach (int i in some)
            Assert.True(Math.Abs(Numeric(v, i) - dv[i]) <= 1e-7 * (1 + Math.Abs(dv[i])), $"dv[{i}]: analytic {dv[i]:R}, finite differences {Numeric(v, i):R}");
        foreach (int k in new[] { 0, norms - 1 })
            Assert.True(Math.Abs(Numeric(g, k) - dg[k]) <= 1e-7 * (1 + Math.Abs(dg[k])), $"dg[{k}]: analytic {dg[k]:R}, finite differences {Numeric(g, k):R}");
        // The projection term matters in these cases, so a backward without it would fail above.
        double[] norm = reference.Norms(dims, v);
        int[] of = reference.NormOf(dims);
        Assert.Contains(some, i => Math.Abs(dv[i] - g[of[i]] / norm[of[i]] * dw[i]) > 1e-2);
    }

    private static string GoldenPath([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Golden", "weight_norm_torch_golden.json");

    /// <summary>
    /// PyTorch 1.13's torch._weight_norm and its autograd backward on small tensors (Golden/make_weight_norm_golden.py), with a
    /// zero slice of v in two cases: the layers give PyTorch's numbers (within the float tolerances above, torch's own float
    /// rounding included) and NaN exactly where PyTorch gives NaN (every w and vGrad of the slice, its gGrad).
    /// </summary>
    [Fact]
    public void Layers_MatchTorch_IncludingTheNaNOfAZeroSlice()
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(GoldenPath()));
        int cases = 0, nans = 0;
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            static double[] Read(System.Text.Json.JsonElement e) =>
                e.EnumerateArray().Select(x => x.ValueKind == System.Text.Json.JsonValueKind.String ? double.NaN : x.GetDouble()).ToArray();
            string name = c.GetProperty("name").GetString()!;
            int[] dims = c.GetProperty("dims").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            double[] v = Read(c.GetProperty("v")), g = Read(c.GetProperty("g")), dw = Read(c.GetProperty("dw"));
            double[] w = Read(c.GetProperty("w")), dv = Read(c.GetProperty("dv")), dg = Read(c.GetProperty("dg"));
            double[] wOut, dvOut, dgOut;
            double u;
            if (Floats.TryGetValue(name, out Case<float>? f))
            {
                float[] vf = v.Select(x => (float)x).ToArray(), gf = g.Select(x => (float)x).ToArray(), dwf = dw.Select(x => (float)x).ToArray();
                float[] wf = new float[v.Length], dvf = new float[v.Length], dgf = new float[g.Length];
                f.Forward(KernelPath.Scalar, false, vf, gf, wf, dims);
                f.Backward(Isa.Select<float>(Inner(f.Layout, f.Reduced, dims)), false, vf, gf, dwf, dvf, dgf, dims);
                (wOut, dvOut, dgOut, u) = (Wide(wf), Wide(dvf), Wide(dgf), FloatU);
            }
            else
            {
                Case<double> d = Doubles[name];
                wOut = new double[v.Length];
                dvOut = new double[v.Length];
                dgOut = new double[g.Length];
                d.Forward(Isa.Select<double>(Inner(d.Layout, d.Reduced, dims)), false, v, g, wOut, dims);
                d.Backward(KernelPath.Scalar, false, v, g, dw, dvOut, dgOut, dims);
                u = DoubleU;
            }
            foreach (var (expected, actual, what) in new[] { (w, wOut, "w"), (dv, dvOut, "dv"), (dg, dgOut, "dg") })
            {
                for (int i = 0; i < expected.Length; i++)
                {
                    if (double.IsNaN(expected[i]))
                    {
                        Assert.True(double.IsNaN(actual[i]), $"{name} {what}[{i}]: torch gives NaN, the layer {actual[i]:R}");
                        nans++;
                        continue;
                    }
                    // Torch rounds in float too (its sums of a dozen elements in float): 64u of the value (w) or of the gradient's largest entry.
                    double scale = what == "w" ? Math.Abs(expected[i]) : expected.Where(x => !double.IsNaN(x)).Max(Math.Abs);
                    Assert.True(Math.Abs(actual[i] - expected[i]) <= 64 * u * scale,
                        $"{name} {what}[{i}]: torch {expected[i]:R}, the layer {actual[i]:R}");
                }
            }
            cases++;
        }
        Assert.Equal(4, cases);
        Assert.Equal(12 + 12 + 1 + 5 + 5 + 1, nans);   // WnConv's channel 1 (w, dv, dg), WnLinearColumns' column 2
    }

    /// <summary>
    /// A slice of v that is all zeros: no epsilon, so its w is 0 * (g / 0) = NaN in every element, on every path, as
    /// PyTorch (g = 0 too: 0 / 0); its vGrad and gGrad NaN; the other slices are unaffected. A zero g on a nonzero slice
    /// gives zeros with v's sign (v * +0), as PyTorch.
    /// </summary>
    [Fact]
    public void ZeroSlice_GivesNaN_OnEveryPath_AndZeroG_GivesSignedZeros()
    {
        int[] dims = [4, 3, 5, 7];
        var random = new Random(9);
        float[] v = TestData.Normal(random, 420, 0, 1), dw = TestData.Normal(random, 420, 0, 1);
        v.AsSpan(105, 105).Clear();                 // output channel 1
        float[] g = [1.5f, 2f, 0f, -0.5f];          // channel 2: g = 0
        var reference = new WeightNormReference("OIHW", "IHW");
        double[] w = reference.Forward(dims, Wide(v), Wide(g));
        foreach (var (path, arm) in Paths())
        {
            if (path > Isa.Select<float>(105)) continue;
            float[] output = new float[420], vGrad = new float[420], gGrad = new float[4];
            Floats[nameof(WnConv)].Forward(path, arm, v, g, output, dims);
            Floats[nameof(WnConv)].Backward(path, arm, v, g, dw, vGrad, gGrad, dims);
            Assert.All(output.AsSpan(105, 105).ToArray(), x => Assert.True(float.IsNaN(x)));
            Assert.All(vGrad.AsSpan(105, 105).ToArray(), x => Assert.True(float.IsNaN(x)));
            Assert.True(float.IsNaN(gGrad[1]), $"{path}: gGrad of the zero slice");
            for (int i = 210; i < 315; i++)
                Assert.Equal(float.IsNegative(v[i]), float.IsNegative(output[i]));
            Assert.All(output.AsSpan(210, 105).ToArray(), x => Assert.Equal(0f, x));
            Assert.True(output.AsSpan(0, 105).ToArray().Concat(output.AsSpan(315).ToArray()).All(float.IsFinite), $"{path}: the other slices");
            Assert.True(float.IsFinite(gGrad[0]) && float.IsFinite(gGrad[2]) && float.IsFinite(gGrad[3]));
            Assert.Equal((float)w[0], output[0], (float)(1e-6 * Math.Abs(w[0])));
        }
    }

    /// <summary>In place: w may be v itself, and vGrad may be wGrad or v itself: the same bits as into other buffers, on every path
    /// and in both forms (runs and columns), tails and several workers included.</summary>
    [Theory]
    [InlineData(nameof(WnConv), new[] { 7, 3, 1, 5 })]
    [InlineData(nameof(WnConv), new[] { 96, 64, 5, 5 })]
    [InlineData(nameof(WnIhwo), new[] { 7, 1, 3, 100 })]
    [InlineData(nameof(WnIhwo), new[] { 32, 3, 3, 512 })]
    [InlineData(nameof(WnAbcd), new[] { 3, 4, 5, 6 })]
    public void InPlace_GivesTheSameBits(string name, int[] dims)
    {
        Case<float> layer = Floats[name];
        var random = new Random(dims.Sum());
        int count = TestData.Product(dims), norms = new WeightNormReference(layer.Layout, layer.Reduced).Count(dims);
        float[] v = TestData.Normal(random, count, 0, 1), g = Gains(random, norms), dw = TestData.Normal(random, count, 0, 1);
        foreach (var (path, arm) in Paths())
        {
            if (path > Isa.Select<float>(Inner(layer.Layout, layer.Reduced, dims))) continue;
            float[] w = new float[count], dv = new float[count], dg = new float[norms], dg2 = new float[norms];
            layer.Forward(path, arm, v, g, w, dims);
            layer.Backward(path, arm, v, g, dw, dv, dg, dims);

            float[] inPlace = (float[])v.Clone();
            layer.Forward(path, arm, inPlace, g, inPlace, dims);
            Assert.Equal(KernelCheck.Bits(w), KernelCheck.Bits(inPlace));

            float[] gradInPlace = (float[])dw.Clone();
            layer.Backward(path, arm, v, g, gradInPlace, gradInPlace, dg2, dims);
            Assert.Equal(KernelCheck.Bits(dv), KernelCheck.Bits(gradInPlace));
            Assert.Equal(KernelCheck.Bits(dg), KernelCheck.Bits(dg2));

            float[] vInPlace = (float[])v.Clone();
            layer.Backward(path, arm, vInPlace, g, dw, vInPlace, dg2, dims);
            Assert.Equal(KernelCheck.Bits(dv), KernelCheck.Bits(vInPlace));
        }
    }

    /// <summary>The public surface picks the widest path for long innermost extents (runs of 64 and more, rows of 64 norms and more),
    /// as each ISA leg of tests/run.sh sets it, and reports it in LastPath.</summary>
    [Fact]
    public void LongExtents_RunOnTheExpectedPath()
    {
        KernelPath expected = IsaPathTests.Expected;
        var random = new Random(4);
        float[] v = TestData.Normal(random, 8 * 16 * 3 * 3, 0, 1), g = Gains(random, 64), dw = TestData.Normal(random, v.Length, 0, 1);
        float[] w = new float[v.Length], dv = new float[v.Length], dg = new float[64];
        var conv = new WnConv();
        Assert.Equal(KernelPath.None, conv.LastPath);
        conv.Forward(v, g.AsSpan(0, 8), w, 8, 16, 3, 3);
        Assert.Equal(expected, conv.LastPath);
        conv.Backward(v, g.AsSpan(0, 8), dw, dv, dg.AsSpan(0, 8), 8, 16, 3, 3);
        Assert.Equal(expected, conv.LastPath);

        var channelsLast = new WnIhwo();
        channelsLast.Forward(v.AsSpan(0, 2 * 3 * 3 * 64), g, w.AsSpan(0, 2 * 3 * 3 * 64), 2, 3, 3, 64);
        Assert.Equal(expected, channelsLast.LastPath);
        channelsLast.Backward(v.AsSpan(0, 1152), g, dw.AsSpan(0, 1152), dv.AsSpan(0, 1152), dg, 2, 3, 3, 64);
        Assert.Equal(expected, channelsLast.LastPath);

        // A run of 3 fits no vector: the scalar path, whatever the process has.
        var linear = new WnLinear();
        linear.Forward(v.AsSpan(0, 30), g.AsSpan(0, 10), w.AsSpan(0, 30), 10, 3);
        Assert.Equal(KernelPath.Scalar, linear.LastPath);
    }

    [Fact]
    public void NormCount_IsTheProductOfTheKeptDims()
    {
        Assert.Equal(64, WnConv.NormCount(64, 3, 7, 7));
        Assert.Equal(10, WnLinear.NormCount(10, 784));
        Assert.Equal(784, WnLinearColumns.NormCount(10, 784));
        Assert.Equal(32, WnIhwo.NormCount(3, 3, 3, 32));
        Assert.Equal(4 * 6, WnAbcd.NormCount(3, 4, 5, 6));
        Assert.Equal(3, WnNamedLikeTensors.NormCount(3, 4, 5));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => WnNamedLikeTensors.NormCount(3, 4, 0));
        Assert.Equal("wSize", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => WnConv.NormCount(1 << 16, 1 << 16, 1, 1));
        Assert.Contains("more than a span can hold", e.Message);
    }

    /// <summary>The tensor overloads: dims from v, g of PyTorch's shape (1 on the reduced axes); the same bits as the span overloads.</summary>
    [Fact]
    public void TensorOverloads_MatchTheSpanOnes()
    {
        var random = new Random(6);
        float[] v = TestData.Normal(random, 7 * 5 * 3 * 2, 0, 1), g = Gains(random, 7), dw = TestData.Normal(random, v.Length, 0, 1);
        var layer = new WnConv();
        float[] w1 = new float[v.Length], w2 = new float[v.Length], dv1 = new float[v.Length], dv2 = new float[v.Length], dg1 = new float[7], dg2 = new float[7];
        layer.Forward(v, g, w1, 7, 5, 3, 2);
        layer.Backward(v, g, dw, dv1, dg1, 7, 5, 3, 2);
        nint[] lengths = [7, 5, 3, 2], gLengths = [7, 1, 1, 1];
        layer.Forward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, gLengths), new TensorSpan<float>(w2, lengths));
        layer.Backward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, gLengths), new ReadOnlyTensorSpan<float>(dw, lengths),
            new TensorSpan<float>(dv2, lengths), new TensorSpan<float>(dg2, gLengths));
        Assert.Equal(KernelCheck.Bits(w1), KernelCheck.Bits(w2));
        Assert.Equal(KernelCheck.Bits(dv1), KernelCheck.Bits(dv2));
        Assert.Equal(KernelCheck.Bits(dg1), KernelCheck.Bits(dg2));

        // g flattened ([7]) or of v's shape is not PyTorch's g: refused, naming it, before anything is written.
        float[] untouched = Filled(v.Length, 5f);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, [7]),
            new TensorSpan<float>(untouched, lengths)));
        Assert.Equal("g", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(new float[14], [7, 1, 1, 2]),
            new TensorSpan<float>(untouched, lengths)));
        Assert.Equal("g", e.ParamName);
        Assert.Contains("[7, 1, 1, 1]", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, gLengths),
            new TensorSpan<float>(untouched, [7, 5, 2, 3])));
        Assert.Equal("w", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => layer.Backward(new ReadOnlyTensorSpan<float>(v, lengths), new ReadOnlyTensorSpan<float>(g, gLengths),
            new ReadOnlyTensorSpan<float>(dw, lengths), new TensorSpan<float>(untouched, lengths), new TensorSpan<float>(dg2, [7])));
        Assert.Equal("gGrad", e.ParamName);
        Assert.All(untouched, x => Assert.Equal(5f, x));
    }
}
