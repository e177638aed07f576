using NormKernels.Reference;

namespace NormKernels.Tests;

/// <summary>
/// <see cref="LrnReference"/> on its own: its analytic backward against central finite differences of its forward, and
/// its forward against values worked out by hand from PyTorch's definition.
/// </summary>
public sealed class LrnReferenceTests
{
    public static TheoryData<string, int, double, double, double, int[]> Cases => new()
    {
        { "NCHW", 5, 0.7, 0.75, 1.0, [2, 7, 2, 3] },
        { "NCHW", 4, 0.9, 1.3, 0.5, [1, 6, 2, 2] },   // even size: 2 before, 1 after
        { "NHWC", 2, 0.5, 0.5, 2.0, [1, 2, 3, 5] },
        { "NLC", 3, 1.5, 0.6, 1.0, [2, 3, 4] },       // C smaller than... equal to the window
        { "NCL", 6, 0.8, 0.75, 1.0, [1, 3, 4] },      // C smaller than the window
        { "NC", 1, 2.0, 2.0, 1.0, [3, 1] },           // C = 1, size 1
    };

    /// <summary>
    /// Loss L = sum(dy * y); dL/dx_i by central differences with step h: truncation error O(h^2 * |y'''|), rounding
    /// O(eps * |L| / h); with h = 1e-5 and values of order one both are below 1e-8, so 1e-7 relative to the gradient's
    /// scale (plus 1e-9 absolute) separates a right formula from any wrong term (those differ at order 1e-2 and more here:
    /// alpha is large so the cross-channel term matters).
    /// </summary>
    [Theory, MemberData(nameof(Cases))]
    public void Backward_MatchesFiniteDifferencesOfForward(string layout, int size, double alpha, double beta, double k, int[] dims)
    {
        var reference = new LrnReference(layout, size, alpha, beta, k);
        var random = new Random(size * 31 + dims.Length);
        int count = dims.Aggregate(1, (a, b) => a * b);
        double[] x = Enumerable.Range(0, count).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        double[] dy = Enumerable.Range(0, count).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] analytic = reference.Backward(dims, x, dy);
        double[] scale = reference.BackwardScale(dims, x, dy);
        const double h = 1e-5;
        for (int i = 0; i < count; i++)
        {
            double saved = x[i];
            x[i] = saved + h;
            double plus = Dot(dy, reference.Forward(dims, x));
            x[i] = saved - h;
            double minus = Dot(dy, reference.Forward(dims, x));
            x[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-7 * scale[i] + 1e-9,
                $"dx[{i}]: analytic {analytic[i]:R}, finite differences {numeric:R}");
        }
    }

    /// <summary>The cross-channel term is not negligible in these cases, so the finite-difference test can fail.</summary>
    [Fact]
    public void CrossChannelTerm_IsSignificant()
    {
        var reference = new LrnReference("NCHW", 5, 0.7, 0.75, 1.0);
        int[] dims = [1, 7, 1, 1];
        double[] x = [1, -2, 0.5, 1.5, -1, 2, 0.25];
        double[] dy = [0.5, 1, -1, 0.25, 1, -0.5, 1];
        double[] y = reference.Forward(dims, x);
        double[] dx = reference.Backward(dims, x, dy);
        // Ignoring the window: dx would be dy * y / x.
        Assert.Contains(Enumerable.Range(0, 7), i => Math.Abs(dx[i] - dy[i] * y[i] / x[i]) > 1e-2);
    }

    /// <summary>Hand-computed from torch's definition: C = 3, size 2 (window [c-1, c]), alpha 3, beta 1, k 1:
    /// D_0 = 1 + 3/2 * (0 + 1) = 2.5 (the padded position counts in the /size), D_1 = 1 + 3/2 * (1 + 4) = 8.5,
    /// D_2 = 1 + 3/2 * (4 + 9) = 20.5.</summary>
    [Fact]
    public void Forward_MatchesHandValues_WithZeroPaddingCountedInTheAverage()
    {
        var reference = new LrnReference("NC", 2, 3.0, 1.0, 1.0);
        double[] y = reference.Forward([1, 3], new double[] { 1, 2, 3 });
        Assert.Equal(1 / 2.5, y[0], 15);
        Assert.Equal(2 / 8.5, y[1], 15);
        Assert.Equal(3 / 20.5, y[2], 15);
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}

/// <summary>The reference against PyTorch itself: Golden/lrn_torch_golden.json holds float64 forward and autograd
/// backward of torch.nn.functional.local_response_norm, written by Golden/make_lrn_golden.py (torch is not needed to test).</summary>
public sealed class LrnTorchGoldenTests
{
    private static string GoldenPath([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Golden", "lrn_torch_golden.json");

    [Fact]
    public void Reference_MatchesTorch_ForwardAndBackward()
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(GoldenPath()));
        int cases = 0;
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            static double[] Doubles(System.Text.Json.JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            int[] dims = c.GetProperty("dims").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var reference = new NormKernels.Reference.LrnReference(c.GetProperty("layout").GetString()!, c.GetProperty("size").GetInt32(),
                c.GetProperty("alpha").GetDouble(), c.GetProperty("beta").GetDouble(), c.GetProperty("k").GetDouble());
            double[] x = Doubles(c.GetProperty("x")), dy = Doubles(c.GetProperty("dy"));
            double[] y = reference.Forward(dims, x), dx = reference.Backward(dims, x, dy);
            double[] yTorch = Doubles(c.GetProperty("y")), dxTorch = Doubles(c.GetProperty("dx"));
            double[] scale = reference.BackwardScale(dims, x, dy);
            // Both float64 with different summation orders and pow implementations: 1e-12 relative is ~5000 ulps of slack.
            for (int i = 0; i < x.Length; i++)
            {
                Assert.True(Math.Abs(y[i] - yTorch[i]) <= 1e-12 * Math.Abs(yTorch[i]), $"case {cases} y[{i}]: {y[i]:R} vs torch {yTorch[i]:R}");
                Assert.True(Math.Abs(dx[i] - dxTorch[i]) <= 1e-12 * scale[i], $"case {cases} dx[{i}]: {dx[i]:R} vs torch {dxTorch[i]:R}");
            }
            cases++;
        }
        Assert.Equal(4, cases);
    }
}
