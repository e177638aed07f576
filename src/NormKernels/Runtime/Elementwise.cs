using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>The elementwise passes the fused layers run beside the norm (the residual added before it, the sum's gradient).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Elementwise
{
    /// <summary>
    /// <paramref name="destination"/>[i] = <paramref name="x"/>[i] + <paramref name="y"/>[i] (one IEEE addition an element, as
    /// <c>TensorPrimitives.Add</c>: the same bits), in 512-bit vectors where the runtime accelerates them, else
    /// <see cref="Vector{T}"/>. <paramref name="destination"/> may be either input itself (each vector is loaded before it is
    /// stored); partial overlaps are the caller's to refuse. Compiled optimized from the first call: TensorPrimitives.Add's
    /// generic code ran unoptimized for its first calls (LayerNorm [1024, 768] with the residual added before it, backward with
    /// a sum gradient: calls 11-100 at 2.2x its steady time, AMD EPYC Zen 5, 2026-12-04).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Add<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination) where T : unmanaged, INumber<T>
    {
        int length = destination.Length;
        if (x.Length < length) throw new ArgumentException("x is shorter than the destination.", nameof(x));
        if (y.Length < length) throw new ArgumentException("y is shorter than the destination.", nameof(y));
        ref T a = ref MemoryMarshal.GetReference(x), b = ref MemoryMarshal.GetReference(y), d = ref MemoryMarshal.GetReference(destination);
        nint i = 0, n = length;
        // Three tensors beyond the streaming threshold (Streaming.ThresholdBytes): the destination written around the cache,
        // from its first 64-byte boundary (in place too: the line was just read). LayerNorm [8192, 768] backward with the
        // sum's gradient added, `--fused`, AMD Zen 5: 3.5-4.0 ms with normal stores against 3.2-3.5 for the plain backward
        // and TensorPrimitives.Add, which streams large outputs.
        if (Sse.IsSupported && (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated) && Vector256<T>.IsSupported
            && Streaming.Exceeds(2L * length * sizeof(T), (long)length * sizeof(T)))
        {
            fixed (T* pd = destination)
            {
                for (; i < n && ((nuint)(pd + i) & 63) != 0; i++) pd[i] = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
                if (Vector512.IsHardwareAccelerated)
                {
                    nint w = Vector512<T>.Count;
                    for (; i + 2 * w <= n; i += 2 * w)
                    {
                        Vector512<T> s0 = Vector512.LoadUnsafe(ref a, (nuint)i) + Vector512.LoadUnsafe(ref b, (nuint)i);
                        Vector512<T> s1 = Vector512.LoadUnsafe(ref a, (nuint)(i + w)) + Vector512.LoadUnsafe(ref b, (nuint)(i + w));
                        s0.StoreAlignedNonTemporal(pd + i);
                        s1.StoreAlignedNonTemporal(pd + i + w);
                    }
                }
                else
                {
                    nint w = Vector256<T>.Count;
                    for (; i + 2 * w <= n; i += 2 * w)
                    {
                        Vector256<T> s0 = Vector256.LoadUnsafe(ref a, (nuint)i) + Vector256.LoadUnsafe(ref b, (nuint)i);
                        Vector256<T> s1 = Vector256.LoadUnsafe(ref a, (nuint)(i + w)) + Vector256.LoadUnsafe(ref b, (nuint)(i + w));
                        s0.StoreAlignedNonTemporal(pd + i);
                        s1.StoreAlignedNonTemporal(pd + i + w);
                    }
                }
                for (; i < n; i++) pd[i] = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
                Sse.StoreFence();
            }
            return;
        }
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            nint w = Vector512<T>.Count;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                Vector512<T> s0 = Vector512.LoadUnsafe(ref a, (nuint)i) + Vector512.LoadUnsafe(ref b, (nuint)i);
                Vector512<T> s1 = Vector512.LoadUnsafe(ref a, (nuint)(i + w)) + Vector512.LoadUnsafe(ref b, (nuint)(i + w));
                s0.StoreUnsafe(ref d, (nuint)i);
                s1.StoreUnsafe(ref d, (nuint)(i + w));
            }
            for (; i + w <= n; i += w)
                (Vector512.LoadUnsafe(ref a, (nuint)i) + Vector512.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            nint w = Vector<T>.Count;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                Vector<T> s0 = Vector.LoadUnsafe(ref a, (nuint)i) + Vector.LoadUnsafe(ref b, (nuint)i);
                Vector<T> s1 = Vector.LoadUnsafe(ref a, (nuint)(i + w)) + Vector.LoadUnsafe(ref b, (nuint)(i + w));
                s0.StoreUnsafe(ref d, (nuint)i);
                s1.StoreUnsafe(ref d, (nuint)(i + w));
            }
            for (; i + w <= n; i += w)
                (Vector.LoadUnsafe(ref a, (nuint)i) + Vector.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
    }
}
