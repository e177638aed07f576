using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using NormKernels.Runtime;

namespace NormKernels.Tests.Fused;

/// <summary>
/// The fused activations on their own, lane by lane, against the float64 formulas (<see cref="FusedReference.Act"/> and
/// <see cref="FusedReference.ActDerivative"/>) over z from -40 to 40 (steps of 0.002 to |z| = 10) and the extremes, on every
/// path this process runs (512-, 256- and 128-bit vectors where the hardware accelerates them, and the scalar path), float
/// and double. The layers' tests see z only where data lands after a norm (a few units); these see the tails, where
/// cancellation and the exponential's clamp live: tanh-GELU's gradient at z = -100 was -0.013 on the 256-bit path (0 in
/// PyTorch), GELU's gradient at the largest float 2.66 (1), GELU in the left tail 5e-5 off in relative terms.
/// </summary>
public sealed class ActivationAccuracyTests
{
    public static TheoryData<string> Paths
    {
        get
        {
            var paths = new TheoryData<string>();
            if (Vector512.IsHardwareAccelerated) paths.Add("V512");
            if (Vector256.IsHardwareAccelerated) paths.Add("V256");
            if (Vector128.IsHardwareAccelerated) paths.Add("V128");
            paths.Add("Scalar");
            return paths;
        }
    }

    private static readonly string[] Activations = { "Silu", "Gelu", "GeluTanh" };

    [Theory]
    [MemberData(nameof(Paths))]
    public void FloatActivationsAndGradientsMatchFloat64(string path)
    {
        foreach (string activation in Activations)
        {
            // Absolute error against max(1, |z|) everywhere (the layers' tolerance is 2e-5); relative error of the forward
            // value wherever it is above 1e-35 (the left tails: SiLU and the GELUs go to 0 as z goes to -infinity). Where
            // the exponential's argument is computed in float (GELU's -z^2 / 2, tanh-GELU's -2u), its rounding is a
            // relative error of the result that grows with the argument: 1.6e-5 at GELU(-11.8), 4.9e-6 at tanh-GELU(-9.8).
            Check(path, activation, false, Grid<float>(), 1e-6, z => 2e-6 + 4e-7 * ExpArgument(activation, z), 1e-35);
            Check(path, activation, true, Grid<float>(), 1e-6, _ => 0, double.PositiveInfinity);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void DoubleActivationsAndGradientsMatchFloat64(string path)
    {
        foreach (string activation in Activations)
        {
            Check(path, activation, false, Grid<double>(), 1e-13, _ => 1e-9, 1e-300);
            Check(path, activation, true, Grid<double>(), 1e-13, _ => 0, double.PositiveInfinity);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ExtremeInputsGiveWhatPyTorchGives(string path)
    {
        // Forward values where float cannot hold z^3 or e^|z| any more; the reference here is the limit (z for large z,
        // -0 or a tiny negative for very negative z).
        foreach (string activation in Activations)
            foreach (float z in new[] { 1e4f, 1e30f, float.MaxValue, -1e4f, -1e30f, -float.MaxValue })
            {
                float y = (float)Evaluate<float>(path, activation, false, z);
                if (z > 0) Assert.True(y == z, $"{path} {activation}({z}) = {y}, expected {z}");
                else Assert.True(y <= 0 && y > -1e-30f, $"{path} {activation}({z}) = {y}, expected -0 or a tiny negative");
            }
        // Gradients: 1 far right and 0 far left for SiLU and GELU; tanh-GELU's at |z| = 1e4 (z^3 still finite).
        foreach (string activation in Activations)
            foreach (float z in new[] { 1e4f, -1e4f, 200f, -200f })
            {
                double g = Evaluate<float>(path, activation, true, z), expected = z > 0 ? 1 : 0;
                Assert.True(Math.Abs(g - expected) <= 1e-6, $"{path} {activation}'({z}) = {g}, expected {expected}");
            }
        foreach (float z in new[] { 1e30f, float.MaxValue, -1e30f, -float.MaxValue })
            foreach (string activation in new[] { "Silu", "Gelu" })
            {
                double g = Evaluate<float>(path, activation, true, z), expected = z > 0 ? 1 : 0;
                Assert.True(Math.Abs(g - expected) <= 1e-6, $"{path} {activation}'({z}) = {g}, expected {expected}");
            }
        // NaN in, NaN out, forward and gradient (the clamps and maxima take the hardware instructions with z second); ReLU's
        // gradient at NaN is 0, as PyTorch's threshold_backward (dy where z > 0).
        foreach (string activation in Activations.Append("Relu"))
            foreach (bool gradient in activation == "Relu" ? new[] { false } : new[] { false, true })
            {
                Assert.True(float.IsNaN((float)Evaluate<float>(path, activation, gradient, float.NaN)), $"{path} {activation}{(gradient ? "'" : "")}(NaN) is not NaN");
                Assert.True(double.IsNaN(Evaluate<double>(path, activation, gradient, double.NaN)), $"{path} double {activation}{(gradient ? "'" : "")}(NaN) is not NaN");
            }
    }

    /// <summary>The float exponential the activations use, alone: relative error within two float ulps (1.2e-7) from
    /// -87 to 88, and the clamp beyond (finite and positive: about 1.2e-38 below -87.3, 2.1e38 above 88.3).</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void FloatExponentialIsWithinTwoUlps(string path)
    {
        double worst = 0, at = 0;
        for (int i = -87000; i <= 88000; i++)
        {
            float z = i * 0.001f;
            double e = Math.Exp(z), rel = Math.Abs(ExpOn(path, z) - e) / e;
            if (rel > worst) { worst = rel; at = z; }
        }
        Assert.True(worst <= 1.2e-7, $"{path}: relative error {worst:E2} at z = {at}");
        if (path == "Scalar") return;   // MathF.Exp: 0 and infinity, not the clamp
        foreach (float z in new[] { -88f, -100f, -1e30f, float.MinValue })
        {
            double e = ExpOn(path, z);
            Assert.True(e > 0 && e < 2e-38, $"{path}: exp({z}) = {e}");
        }
        foreach (float z in new[] { 89f, 100f, 1e30f, float.MaxValue })
        {
            double e = ExpOn(path, z);
            Assert.True(e > 1e38 && e < float.MaxValue, $"{path}: exp({z}) = {e}");
        }
    }

    /// <summary>|the argument of the exponential| an activation computes from z (SiLU takes z itself: no rounding).</summary>
    private static double ExpArgument(string activation, double z) => activation switch
    {
        "Gelu" => z * z / 2,
        "GeluTanh" => 2 * Math.Sqrt(2 / Math.PI) * Math.Abs(z + 0.044715 * z * z * z),
        _ => 0,
    };

    /// <summary>The float64 values over a grid, computed once for all paths (GELU's erfc integral is the slow part).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, bool, Type), double[]> References = new();

    private static T[] Grid<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new List<T>();
        // Steps of 0.002 up to |z| = 10, of 0.05 beyond (the reference's erfc integral is the test's cost).
        for (int i = -40000; i <= 40000; i++)
            if (Math.Abs(i) <= 10000 ? i % 2 == 0 : i % 50 == 0) values.Add(T.CreateTruncating(i) * T.CreateTruncating(0.001));
        foreach (double v in new[] { 50, 80, 87.5, 88.5, 100, 0.1234567, 1e-10, 1e-30 })
        {
            values.Add(T.CreateTruncating(v));
            values.Add(T.CreateTruncating(-v));
        }
        return values.ToArray();
    }

    private static void Check<T>(string path, string activation, bool gradient, T[] grid, double absolute, Func<double, double> relative, double normal)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        string what = $"{path} {typeof(T).Name} {activation}{(gradient ? "'" : "")}";
        double[] reference = References.GetOrAdd((activation, gradient, typeof(T)), _ => grid.Select(zt =>
        {
            double z = double.CreateTruncating(zt);
            return gradient ? FusedReference.ActDerivative(activation, z) : FusedReference.Act(activation, z);
        }).ToArray());
        for (int i = 0; i < grid.Length; i++)
        {
            T zt = grid[i];
            double z = double.CreateTruncating(zt), expected = reference[i];
            double actual = Evaluate<T>(path, activation, gradient, zt);
            double error = Math.Abs(actual - expected);
            Assert.True(double.IsFinite(actual), $"{what}({z:R}) = {actual}, expected {expected:R}");
            Assert.True(error <= absolute * Math.Max(1, Math.Abs(z)), $"{what}({z:R}) = {actual:R}, expected {expected:R} (error {error:E2})");
            if (Math.Abs(expected) >= normal)
                Assert.True(error <= relative(z) * Math.Abs(expected), $"{what}({z:R}) = {actual:R}, expected {expected:R} (relative {error / Math.Abs(expected):E2})");
        }
    }

    /// <summary>The activation (or its gradient with dy = 1) at z in every lane of the path's vector; lane 0 returned, all
    /// lanes checked equal.</summary>
    private static double Evaluate<T>(string path, string activation, bool gradient, T z) where T : unmanaged, IFloatingPointIeee754<T> =>
        path switch
        {
            "V512" => Lanes<V512<T>, Vector512<T>, T>(activation, gradient, z),
            "V256" => Lanes<V256<T>, Vector256<T>, T>(activation, gradient, z),
            "V128" when AdvSimd.Arm64.IsSupported => Lanes<V128<T, AdvSimdVector128Ops<AdvSimdIntrinsics>>, Vector128<T>, T>(activation, gradient, z),
            "V128" => Lanes<V128<T, X86Vector128Ops>, Vector128<T>, T>(activation, gradient, z),
            _ => Lanes<Scalar<T>, T, T>(activation, gradient, z),
        };

    private static double Lanes<TS, TV, T>(string activation, bool gradient, T z)
        where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged, IFloatingPointIeee754<T>
    {
        TV v = TS.Splat(z), one = TS.Splat(T.One);
        TV r = (activation, gradient) switch
        {
            ("Relu", false) => Relu.Apply<TS, TV, T>(v),
            ("Silu", false) => Silu.Apply<TS, TV, T>(v),
            ("Silu", true) => Silu.Gradient<TS, TV, T>(v, one),
            ("Gelu", false) => Gelu.Apply<TS, TV, T>(v),
            ("Gelu", true) => Gelu.Gradient<TS, TV, T>(v, one),
            ("GeluTanh", false) => GeluTanh.Apply<TS, TV, T>(v),
            _ => GeluTanh.Gradient<TS, TV, T>(v, one),
        };
        ref T lanes = ref Unsafe.As<TV, T>(ref r);
        for (int i = 1; i < TS.Count; i++)
            Assert.Equal(lanes, Unsafe.Add(ref lanes, i));
        return double.CreateTruncating(lanes);
    }

    private static double ExpOn(string path, float z) => path switch
    {
        "V512" => V512<float>.Exp(Vector512.Create(z)).ToScalar(),
        "V256" => V256<float>.Exp(Vector256.Create(z)).ToScalar(),
        "V128" when AdvSimd.Arm64.IsSupported => V128<float, AdvSimdVector128Ops<AdvSimdIntrinsics>>.Exp(Vector128.Create(z)).ToScalar(),
        "V128" => V128<float, X86Vector128Ops>.Exp(Vector128.Create(z)).ToScalar(),
        _ => Scalar<float>.Exp(z),
    };
}
