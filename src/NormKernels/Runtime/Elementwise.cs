using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>The elementwise passes the fused layers run beside the norm (the residual added before it, the sum's gradient).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Elementwise
{
    /// <summary>
    /// <paramref name="destination"/>[i] = <paramref name="x"/>[i] + <paramref name="y"/>[i] for float or double (one IEEE addition an element, as
    /// <c>TensorPrimitives.Add</c>: the same bits), on the widest vector path the runtime accelerates
    /// (<see cref="Runs{TS, TV, T}.Add"/>). <paramref name="destination"/> may be either input itself (each vector is loaded before it is
    /// stored); partial overlaps are the caller's to refuse. Compiled optimized from the first call: TensorPrimitives.Add's
    /// generic code ran unoptimized for its first calls (LayerNorm [1024, 768] with the residual added before it, backward with
    /// a sum gradient: calls 11-100 at 2.2x its steady time, AMD EPYC Zen 5, 2026-12-04).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Add<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double)) throw new NotSupportedException($"Elementwise.Add runs on float and double, not {typeof(T).Name}.");
        int length = destination.Length;
        if (x.Length < length) throw new ArgumentException("x is shorter than the destination.", nameof(x));
        if (y.Length < length) throw new ArgumentException("y is shorter than the destination.", nameof(y));
        ref T a = ref Unsafe.AsRef(in MemoryMarshal.GetReference(x)), b = ref Unsafe.AsRef(in MemoryMarshal.GetReference(y));
        // Three tensors beyond the streaming threshold (Streaming.ThresholdBytes): the destination written around the cache,
        // from its first 64-byte boundary (in place too: the line was just read). LayerNorm [8192, 768] backward with the
        // sum's gradient added, `--fused`, AMD Zen 5: 3.5-4.0 ms with normal stores against 3.2-3.5 for the plain backward
        // and TensorPrimitives.Add, which streams large outputs.
        bool wide = Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported, avx = Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
        if (Sse.IsSupported && (wide || avx) && Streaming.Exceeds(2L * length * sizeof(T), (long)length * sizeof(T)))
        {
            fixed (T* d = destination)
            {
                if (wide) Runs<V512<T>, Vector512<T>, T>.AddStreamed(ref a, ref b, ref *d, length);
                else Runs<V256<T>, Vector256<T>, T>.AddStreamed(ref a, ref b, ref *d, length);
                Sse.StoreFence();
            }
            return;
        }
        ref T s = ref MemoryMarshal.GetReference(destination);
        if (wide) Runs<V512<T>, Vector512<T>, T>.Add(ref a, ref b, ref s, length);
        else if (avx) Runs<V256<T>, Vector256<T>, T>.Add(ref a, ref b, ref s, length);
        else if (Vector128.IsHardwareAccelerated && Vector128<T>.IsSupported)
        {
            if (AdvSimd.IsSupported) Runs<V128<T, AdvSimdVector128Ops<AdvSimdIntrinsics>>, Vector128<T>, T>.Add(ref a, ref b, ref s, length);
            else Runs<V128<T, X86Vector128Ops>, Vector128<T>, T>.Add(ref a, ref b, ref s, length);
        }
        else Runs<Scalar<T>, T, T>.Add(ref a, ref b, ref s, length);
    }
}
