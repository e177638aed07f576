using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Tests;

/// <summary>
/// Which instruction-set path ran. CI runs the suite once per ISA level (<c>DOTNET_EnableAVX512=0</c>,
/// <c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c>) and sets <c>NORMKERNELS_EXPECT_PATH</c> to the path that
/// level must take. A misspelled runtime switch is silently ignored, so the process's ISA state is asserted too: a run
/// meant to be AVX2 that still has AVX-512 fails here instead of testing the wrong path four times.
/// </summary>
public sealed class IsaPathTests
{
    private const string Variable = "NORMKERNELS_EXPECT_PATH";

    /// <summary>The path every kernel of this process must take on long extents.</summary>
    internal static KernelPath Expected
    {
        get
        {
            string? text = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrWhiteSpace(text)) return Isa.Widest;
            Assert.True(Enum.TryParse(text.Trim(), ignoreCase: false, out KernelPath path) && path != KernelPath.None,
                $"{Variable}='{text}' is not one of Vector512, Vector256, Vector128, Scalar");
            return path;
        }
    }

    [Fact]
    public void ProcessIsaStateMatchesExpectation()
    {
        KernelPath expected = Expected;
        string state = Isa.Describe();
        Assert.True(expected == Isa.Widest, $"expected {expected}, but this process runs {state}");
        switch (expected)
        {
            case KernelPath.Scalar:
                Assert.False(Vector128.IsHardwareAccelerated, state);
                break;
            case KernelPath.Vector128:
                Assert.True(Vector128.IsHardwareAccelerated, state);
                Assert.False(Isa.Has256, state);
                Assert.False(Vector512.IsHardwareAccelerated, state);
                break;
            case KernelPath.Vector256:
                Assert.False(Vector512.IsHardwareAccelerated, state);
                Assert.True(Avx2.IsSupported, state);
                Assert.True(Fma.IsSupported, state);
                break;
            case KernelPath.Vector512:
                Assert.True(Vector512.IsHardwareAccelerated, state);
                break;
        }
    }

    /// <summary>Layers whose every contiguous extent is at least 64, so no pass may fall back to a narrower path.</summary>
    public static TheoryData<string, int[]> LongExtents => new()
    {
        { nameof(BnNchw), [2, 8, 16, 16] },     // H*W = 256
        { nameof(BnNhwc), [2, 8, 8, 64] },      // C = 64
        { nameof(LnNtc), [2, 4, 128] },         // C = 128
        { nameof(InNchw), [2, 4, 8, 16] },      // H*W = 128
        { nameof(InNhwc), [2, 4, 4, 96] },      // C = 96
        { nameof(GnNhwc), [2, 4, 4, 256] },     // C/G = 64
        { nameof(RmsNtc), [2, 3, 192] },        // C = 192
    };

    [Theory]
    [MemberData(nameof(LongExtents))]
    public void LongExtentsRunOnTheExpectedPath(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        INormalizationLayer layer = layerCase.Create(dims);
        var random = new Random(KernelCheck.Seed(name, 5));
        KernelCheck.Randomize(layer, random);
        float[] input = TestData.Normal(random, TestData.Product(dims), 0, 1);
        var output = new float[input.Length];
        KernelPath expected = Expected;

        layer.Training = true;
        layer.Forward(input, output, dims);
        Assert.Equal(expected, layer.LastPath);

        layer.Training = false;
        layer.Forward(input, output, dims);
        Assert.Equal(expected, layer.LastPath);
    }
}
