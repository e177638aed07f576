using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>
/// Division of an index by an extent fixed for a call, as one multiply: a nest's per-channel index maps (GroupNorm's fold to
/// group, channel to group) divided by the runtime channels-per-group with a hardware divide for every channel of every
/// block, 96% of GroupNorm NHWC S2's per-block time on AMD Zen 5. The quotient is the high half of the index times
/// <c>ceil(2^64 / d)</c>, exact for every index and divisor below 2^32 (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019); indices here are below 2^31.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct IndexDivisor
{
    private readonly ulong _magic; // ceil(2^64 / d) for d > 1; 0 for d <= 1 (the quotient is the index)

    /// <summary>A divisor of <paramref name="divisor"/> (an extent: positive, below 2^31).</summary>
    public IndexDivisor(nint divisor) => _magic = divisor > 1 ? ulong.MaxValue / (ulong)divisor + 1 : 0;

    /// <summary><paramref name="index"/> / d for 0 &lt;= index &lt; 2^32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public nint Divide(nint index) => _magic == 0 ? index : (nint)Math.BigMul(_magic, (ulong)index, out _);
}
