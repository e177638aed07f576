using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
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

/// <summary>
/// The 128-bit path's ARM64 logic, two ways: on x86 through the <see cref="EmulatedAdvSimd"/> stand-in, and on a real
/// linux-arm64 runtime (tests/run.sh's arm64 legs, under qemu user-mode emulation) through the real AdvSimd
/// instructions, where the production dispatch must pick them and match the stand-in bit for bit.
/// </summary>
public class ArmPathTests
{
    private const string ArchVariable = "NORMKERNELS_EXPECT_ARCH";

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

    // ---------------------------------------------------------------- the real ARM64 runtime

    private delegate KernelPath PublicTraining(ReadOnlySpan<float> x, Span<float> y, int[] dims, float[] w, float[] b, Span<float> s0, Span<float> s1);

    /// <summary>Per layer of <see cref="Layers"/>: the 128-bit path on the real AdvSimd instructions, and the public entry (production dispatch).</summary>
    private static (Training Real, PublicTraining Dispatch) Native(string name) => name switch
    {
        "BnNchw" => (
            (p, x, y, d, w, b, s0, s1) => BnNchw.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f),
            (x, y, d, w, b, s0, s1) => BnNchw.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "BnNhwc" => (
            (p, x, y, d, w, b, s0, s1) => BnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f),
            (x, y, d, w, b, s0, s1) => BnNhwc.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "GnNhwc" => (
            (p, x, y, d, w, b, s0, s1) => GnNhwc.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f),
            (x, y, d, w, b, s0, s1) => GnNhwc.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        "LnNtc" => (
            (p, x, y, d, w, b, s0, s1) => LnNtc.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], w, b, s0, s1, 1e-5f),
            (x, y, d, w, b, s0, s1) => LnNtc.ForwardTraining(x, y, d[0], d[1], d[2], w, b, s0, s1, 1e-5f)),
        "RmsNtc" => (
            (p, x, y, d, w, b, s0, s1) => RmsNtc.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], w, b, s0, 1e-5f),
            (x, y, d, w, b, s0, s1) => RmsNtc.ForwardTraining(x, y, d[0], d[1], d[2], w, b, s0, 1e-5f)),
        "LnNhwcElementwise" => (
            (p, x, y, d, w, b, s0, s1) => LnNhwcElementwise.ForwardTrainingOnPath<AdvSimdVector128Ops<AdvSimdIntrinsics>>(p, x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f),
            (x, y, d, w, b, s0, s1) => LnNhwcElementwise.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, s0, s1, 1e-5f)),
        _ => throw new ArgumentException(name),
    };

    /// <summary>
    /// The process runs on the architecture tests/run.sh says (<c>NORMKERNELS_EXPECT_ARCH</c>, a
    /// <see cref="Architecture"/> name; the arm64 legs set Arm64), and its instruction sets are consistent with it:
    /// on ARM64 the 128-bit path is AdvSimd (with the Arm64 FMLA 2D and FADDP forms) and nothing wider exists;
    /// elsewhere AdvSimd is absent.
    /// </summary>
    [Fact]
    public void ProcessArchitectureMatchesExpectation()
    {
        Architecture arch = RuntimeInformation.ProcessArchitecture;
        string state = $"{arch}: {Isa.Describe()}, AdvSimd.Arm64={AdvSimd.Arm64.IsSupported}";
        string? text = Environment.GetEnvironmentVariable(ArchVariable);
        if (!string.IsNullOrWhiteSpace(text))
        {
            Assert.True(Enum.TryParse(text.Trim(), ignoreCase: false, out Architecture expected),
                $"{ArchVariable}='{text}' is not an Architecture name (X64, Arm64, ...)");
            Assert.True(expected == arch, $"expected {expected}, but this process runs {state}");
        }

        if (arch == Architecture.Arm64)
        {
            Assert.True(Vector128.IsHardwareAccelerated == AdvSimd.Arm64.IsSupported, state);
            Assert.True(Vector128.IsHardwareAccelerated == AdvSimd.IsSupported, state);
            Assert.False(Isa.Has256, state);
            Assert.False(Isa.Has512, state);
            if (IsaPathTests.Expected == KernelPath.Vector128) Assert.True(AdvSimd.Arm64.IsSupported, state);
        }
        else
        {
            Assert.False(AdvSimd.IsSupported, state);
        }
    }

    /// <summary>
    /// The public entry's path and bits. On ARM64 with AdvSimd: the production dispatch runs
    /// <see cref="KernelPath.Vector128"/>, and its output and statistics equal, bit for bit, both the 128-bit path
    /// driven by the real instructions directly and the same path through the stand-in; both are also checked
    /// against the float64 reference. Without AdvSimd (x86, or an ARM64 run with the intrinsics off) the real
    /// instructions' path cannot run: a Vector128 request is refused before any write where the process has no
    /// 128-bit vectors, and the intrinsics are unsupported on x86.
    /// </summary>
    [Theory, MemberData(nameof(Layers))]
    public void PublicEntryRunsTheRealAdvSimdPathOnArm64(string name)
    {
        var (layout, axes, groups, kind, affine, dims, standIn) = Case(name);
        var (real, dispatch) = Native(name);
        var reference = new NormReference(layout, axes, groups, kind, affine);
        int count = (int)reference.ElementCount(dims);
        float[] x = Random(count, 17, 2, 0.5);
        float[] w = Random(reference.AffineLength(dims), 18, 0.5, 1);
        float[] b = Random(w.Length, 19);
        int statistics = reference.StatisticCount(dims);
        var expected = reference.ForwardTraining(dims, x, w, b, 1e-5);

        var y = new float[count];
        var s0 = new float[statistics];
        var s1 = new float[statistics];
        KernelPath path = dispatch(x, y, dims, w, b, s0, s1);
        AssertClose(expected.Output, y, 2e-5, "output");

        if (!AdvSimd.Arm64.IsSupported)
        {
            var refused = new float[count];
            refused.AsSpan().Fill(float.NaN);
            if (!Vector128.IsHardwareAccelerated)
            {
                Assert.Equal(KernelPath.Scalar, path);
                Assert.Throws<ArgumentOutOfRangeException>(() => real(KernelPath.Vector128, x, refused, dims, w, b, new float[statistics], new float[statistics]));
                Assert.All(refused, v => Assert.True(float.IsNaN(v)));
            }
            else
            {
                Assert.NotEqual(Architecture.Arm64, RuntimeInformation.ProcessArchitecture);
                Assert.Throws<PlatformNotSupportedException>(() => real(KernelPath.Vector128, x, refused, dims, w, b, new float[statistics], new float[statistics]));
            }
            return;
        }

        Assert.Equal(KernelPath.Vector128, path);

        var yReal = new float[count];
        var s0Real = new float[statistics];
        var s1Real = new float[statistics];
        Assert.Equal(KernelPath.Vector128, real(KernelPath.Vector128, x, yReal, dims, w, b, s0Real, s1Real));

        long before = EmulatedAdvSimd.Calls;
        var yStandIn = new float[count];
        var s0StandIn = new float[statistics];
        var s1StandIn = new float[statistics];
        Assert.Equal(KernelPath.Vector128, standIn(KernelPath.Vector128, x, yStandIn, dims, w, b, s0StandIn, s1StandIn));
        Assert.True(EmulatedAdvSimd.Calls > before, "the stand-in ran");

        AssertSameBits(yReal, y, "output: dispatch vs real AdvSimd");
        AssertSameBits(yStandIn, y, "output: dispatch vs stand-in");
        AssertSameBits(s0Real, s0, "statistic 0: dispatch vs real AdvSimd");
        AssertSameBits(s0StandIn, s0, "statistic 0: dispatch vs stand-in");
        if (kind == NormKind.Standardize)
        {
            AssertSameBits(s1Real, s1, "statistic 1: dispatch vs real AdvSimd");
            AssertSameBits(s1StandIn, s1, "statistic 1: dispatch vs stand-in");
            AssertClose(expected.Statistics!.Mean, s0, 1e-6, "mean");
            AssertClose(expected.Statistics.Variance, s1, 1e-5, "variance");
        }
        else
        {
            AssertClose(expected.Statistics!.MeanSquare, s0, 1e-5, "meanSquare");
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what} [{i}]: {expected[i]:R} vs {actual[i]:R}");
    }
}
