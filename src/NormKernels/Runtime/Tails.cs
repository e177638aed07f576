using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>
/// Lane masks for the last, overlapped vector of a run: the generated kernels load the final
/// <c>Count</c> elements of a run and keep only the lanes not yet processed, so a reduction never
/// peels to alignment and its summation order depends on the shape alone, never on the address.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Tails
{
    // 16 clear lanes then 16 set lanes: loading at offset r gives "the last r lanes set" for any width <= 16.
    private static ReadOnlySpan<int> Table =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    ];

    // 8 clear lanes then 8 set lanes of 64 bits, for double vectors.
    private static ReadOnlySpan<long> LongTable => [0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1];

    /// <summary>A double mask whose last <paramref name="lanes"/> (1..8) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Last512Double(nint lanes) =>
        Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(LongTable), (nuint)lanes).AsDouble();

    /// <summary>A double mask whose last <paramref name="lanes"/> (1..4) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Last256Double(nint lanes) =>
        Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(LongTable), (nuint)(4 + lanes)).AsDouble();

    /// <summary>A double mask whose last <paramref name="lanes"/> (1..2) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Last128Double(nint lanes) =>
        Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(LongTable), (nuint)(6 + lanes)).AsDouble();

    /// <summary>A mask whose last <paramref name="lanes"/> (1..16) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Last512(nint lanes) =>
        Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(Table), (nuint)lanes).AsSingle();

    /// <summary>A mask whose last <paramref name="lanes"/> (1..8) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Last256(nint lanes) =>
        Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(Table), (nuint)(8 + lanes)).AsSingle();

    /// <summary>A mask whose last <paramref name="lanes"/> (1..4) lanes are all-ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Last128(nint lanes) =>
        Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(Table), (nuint)(12 + lanes)).AsSingle();
}
