using System.Runtime.Intrinsics;
using System.Threading;
using NormKernels.Reference;
using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// A software stand-in with the exact semantics of the two AdvSimd instructions the ARM64 path uses:
/// FMLA takes the addend FIRST (addend + left * right, one rounding) and FADDP (scalar) sums the two
/// lanes. Plugged into the production <see cref="AdvSimdVector128Ops{TArm}"/>, it runs the ARM64 path's
/// own logic (argument order, lane handling, every generated 128-bit loop) on x86.
/// </summary>
public readonly struct EmulatedAdvSimd : IAdvSimdIntrinsics
{
    private static long s_calls;

    public static long Calls => Interlocked.Read(ref s_calls);

    public static Vector128<float> FusedMultiplyAdd(Vector128<float> addend, Vector128<float> left, Vector128<float> right)
    {
        Interlocked.Increment(ref s_calls);
        return Vector128.Create(
            MathF.FusedMultiplyAdd(left[0], right[0], addend[0]),
            MathF.FusedMultiplyAdd(left[1], right[1], addend[1]),
            MathF.FusedMultiplyAdd(left[2], right[2], addend[2]),
            MathF.FusedMultiplyAdd(left[3], right[3], addend[3]));
    }

    public static Vector128<double> FusedMultiplyAdd(Vector128<double> addend, Vector128<double> left, Vector128<double> right)
    {
        Interlocked.Increment(ref s_calls);
        return Vector128.Create(
            Math.FusedMultiplyAdd(left[0], right[0], addend[0]),
            Math.FusedMultiplyAdd(left[1], right[1], addend[1]));
    }

    public static Vector64<double> AddPairwiseScalar(Vector128<double> value)
    {
        Interlocked.Increment(ref s_calls);
        return Vector64.CreateScalar(value[0] + value[1]);
    }
}

public class ArmPathTests
{
    private static float[] Random(int count, int seed, double scale = 1, double offset = 0)
    {
        var rng = new Random(seed);
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(offset + scale * (rng.NextDouble() * 2 - 1));
        return data;
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    private delegate KernelPath Training(KernelPath path, ReadOnlySpan<float> x, Span<float> y, int[] dims, float[] w, float[] b, Span<float> s0, Span<float> s1);

    // One entry per innermost pattern: horizontal fold (BN NCHW), vertical (BN NHWC), promoted groups (GN NHWC),
    // two-step with a per-row statistic (LN NTC), root mean square, two-step with elementwise parameters (LN NHWC elementwise).
    public static TheoryData<string> Layers() => new() { "BnNchw", "BnNhwc", "GnNhwc", "LnNtc", "RmsNtc", "LnNhwcElementwise" };

    private static (string Layout, string Axes, int Groups, NormKind Kind, AffineMode Affine, int[] Dims, Training Run) Case(string name) => name switch
    {
        "BnNchw" => ("NCHW", "N,H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 3, 5, 7, 9 },
            (p, x, y, d, w, b, s0, s1) => BnNchw.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "BnNhwc" => ("NHWC", "N,H,W", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 3, 5, 7, 23 },
            (p, x, y, d, w, b, s0, s1) => BnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "GnNhwc" => ("NHWC", "C,H,W", 4, NormKind.Standardize, AffineMode.PerChannel, new[] { 2, 5, 7, 28 },
            (p, x, y, d, w, b, s0, s1) => GnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "LnNtc" => ("NTC", "C", 0, NormKind.Standardize, AffineMode.PerChannel, new[] { 3, 5, 77 },
            (p, x, y, d, w, b, s0, s1) => LnNtc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], w, b, s0, s1, 1e-5f)),
        "RmsNtc" => ("NTC", "C", 0, NormKind.RootMeanSquare, AffineMode.PerChannel, new[] { 3, 4, 50 },
            (p, x, y, d, w, b, s0, s1) => RmsNtc.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], w, b, s0, 1e-5f)),
        "LnNhwcElementwise" => ("NHWC", "C,H,W", 0, NormKind.Standardize, AffineMode.Elementwise, new[] { 2, 5, 7, 21 },
            (p, x, y, d, w, b, s0, s1) => LnNhwcElementwise.ForwardTrainingOnPath<AdvSimdVector128Ops<EmulatedAdvSimd>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        _ => throw new ArgumentException(name),
    };

    [Theory, MemberData(nameof(Layers))]
    public void Arm64PathLogicMatchesReferenceThroughStandIn(string name)
    {
        var (layout, axes, groups, kind, affine, dims, run) = Case(name);
        var reference = new NormReference(layout, axes, groups, kind, affine);
        int count = (int)reference.ElementCount(dims);
        float[] x = Random(count, 7, 2, 0.5);
        float[] w = Random(reference.AffineLength(dims), 8, 0.5, 1);
        float[] b = Random(w.Length, 9);
        var y = new float[count];
        var s0 = new float[reference.StatisticCount(dims)];
        var s1 = new float[s0.Length];

        if (!Vector128.IsHardwareAccelerated)
        {
            // Scalar-only process (DOTNET_EnableHWIntrinsic=0): forcing a vector path is refused before any write.
            y.AsSpan().Fill(float.NaN);
            Assert.Throws<ArgumentOutOfRangeException>(() => run(KernelPath.Vector128, x, y, dims, w, b, s0, s1));
            Assert.All(y, v => Assert.True(float.IsNaN(v)));
            return;
        }

        long before = EmulatedAdvSimd.Calls;
        Assert.Equal(KernelPath.Vector128, run(KernelPath.Vector128, x, y, dims, w, b, s0, s1));
        Assert.True(EmulatedAdvSimd.Calls > before, "the ARM64 path's AdvSimd calls went through the stand-in");

        var expected = reference.ForwardTraining(dims, x, w, b, 1e-5);
        AssertClose(expected.Output, y, 2e-5, "output");
        if (kind == NormKind.Standardize)
        {
            AssertClose(expected.Statistics!.Mean, s0, 1e-6, "mean");
            AssertClose(expected.Statistics.Variance, s1, 1e-5, "variance");
        }
        else
        {
            AssertClose(expected.Statistics!.MeanSquare, s0, 1e-5, "meanSquare");
        }
    }
}
