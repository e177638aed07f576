using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormKernels;

/// <summary>The instruction-set path a generated kernel ran on.</summary>
public enum KernelPath
{
    /// <summary>No kernel has run yet.</summary>
    None = 0,

    /// <summary>Portable scalar loops (no hardware intrinsics).</summary>
    Scalar = 1,

    /// <summary>128-bit vectors: SSE on x86 (with FMA when present), AdvSimd on ARM64.</summary>
    Vector128 = 2,

    /// <summary>256-bit vectors: AVX2 with FMA.</summary>
    Vector256 = 3,

    /// <summary>512-bit vectors: AVX-512.</summary>
    Vector512 = 4,
}

/// <summary>Which paths this process can run, as the generated kernels decide it.</summary>
public static class Isa
{
    /// <summary>True when the 512-bit path is used: <see cref="Vector512.IsHardwareAccelerated"/>
    /// (not <c>Avx512F.IsSupported</c>, which can be true where 512-bit vectors are throttled).</summary>
    public static bool Has512 => Vector512.IsHardwareAccelerated;

    /// <summary>True when the 256-bit path is used: AVX2 with FMA.</summary>
    public static bool Has256 => Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>True when the 128-bit path is used: SSE on x86 or AdvSimd on ARM64.</summary>
    public static bool Has128 => Vector128.IsHardwareAccelerated;

    /// <summary>The widest path this process runs for an innermost contiguous extent of <paramref name="extent"/> elements.</summary>
    public static KernelPath Select(int extent) => Select<float>(extent);

    /// <summary>The widest path this process runs for an innermost extent of <paramref name="extent"/> elements of type <typeparamref name="T"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static KernelPath Select<T>(int extent)
    {
        if (Has512 && extent >= Vector512<T>.Count) return KernelPath.Vector512;
        if (Has256 && extent >= Vector256<T>.Count) return KernelPath.Vector256;
        if (Has128 && extent >= Vector128<T>.Count) return KernelPath.Vector128;
        return KernelPath.Scalar;
    }

    /// <summary>The widest path this process runs for long extents.</summary>
    public static KernelPath Widest => Select(int.MaxValue);

    /// <summary>A one-line description for logs and benchmark headers.</summary>
    public static string Describe() =>
        $"widest={Widest} (Vector512.IsHardwareAccelerated={Vector512.IsHardwareAccelerated}, Avx2={Avx2.IsSupported}, Fma={Fma.IsSupported}, " +
        $"Vector128.IsHardwareAccelerated={Vector128.IsHardwareAccelerated}, AdvSimd={AdvSimd.IsSupported}, Vector<float>.Count={Vector<float>.Count})";
}
