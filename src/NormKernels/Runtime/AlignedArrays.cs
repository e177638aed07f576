using System;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>
/// Parameter arrays (Weight, Bias) whose elements start on a 64-byte boundary where the runtime allows it: the GC aligns
/// arrays to 8 bytes only, and an apply that loads gamma and beta along a row from arrays off a vector boundary makes two
/// loads straddle cache lines for every vector it stores. AMD Zen 5, a LayerNorm row of 768 floats in L1, the apply alone
/// (x aligned, y 24 bytes off): gamma and beta off a boundary 45 ns, on one 33 ns.
/// <para>The arrays live on the pinned object heap (they never move, so the alignment stays); an attempt whose array lands
/// off a boundary allocates a filler sized to move the next allocation onto one (the heap allocates consecutively) and
/// tries again. Where that does not land either, the array is used as it is: alignment is speed only, never a
/// condition of a kernel.</para>
/// </summary>
internal static class AlignedArrays
{
    /// <summary>Attempts before an array off a boundary is kept.</summary>
    private const int Attempts = 4;

    /// <summary>Arrays longer than this (bytes; an elementwise affine over a large sample) are allocated as usual: a
    /// failed attempt would leave a copy's worth of garbage, and the loads of such parameters come from memory anyway.</summary>
    private const long MaximumBytes = 256 << 10;

    /// <summary>A zeroed array of <paramref name="length"/> elements, its first element on a 64-byte boundary where the
    /// runtime allows it. Arrays shorter than a cache line or longer than <see cref="MaximumBytes"/> are allocated as usual.</summary>
    public static unsafe T[] Allocate<T>(int length) where T : unmanaged
    {
        if ((long)length * sizeof(T) < 64 || (long)length * sizeof(T) > MaximumBytes) return new T[length];
        T[] array = GC.AllocateArray<T>(length, pinned: true);
        for (int attempt = 1; attempt < Attempts && Offset(array) != 0; attempt++)
        {
            // The next object starts where this one ends (its size: the 24 bytes of an array's header, length and padding,
            // then the elements, to 8 bytes); a byte[] filler of 24 + k bytes moves the next array's elements by as much.
            long end = Offset(array) + ((24L + (long)length * sizeof(T) + 7) & ~7L);
            int filler = (int)((64 - end % 64) % 64);
            while (filler < 24) filler += 64;
            _ = GC.AllocateUninitializedArray<byte>(filler - 24, pinned: true);
            array = GC.AllocateArray<T>(length, pinned: true);
        }
        return array;
    }

    /// <summary>Bytes the array's first element lies past a 64-byte boundary.</summary>
    public static unsafe int Offset<T>(T[] array) where T : unmanaged =>
        (int)((nuint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array)) & 63);
}
