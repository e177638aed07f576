using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
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
        // Three tensors beyond the streaming threshold (Streaming.ThresholdBytes): the destination written around the cache,
        // from its first 64-byte boundary (in place too: the line was just read). LayerNorm [8192, 768] backward with the
        // sum's gradient added, `--fused`, AMD Zen 5: 3.5-4.0 ms with normal stores against 3.2-3.5 for the plain backward
        // and TensorPrimitives.Add, which streams large outputs.
        bool wide = Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported, avx = Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
        bool stream = Sse.IsSupported && (wide || avx) && Streaming.Exceeds(2L * length * sizeof(T), (long)length * sizeof(T));
        // Chunks of 32 K elements (a function of the length alone) on the parallel runner, as many workers as the call's
        // size gives (Parallelism.Workers): at 2 threads the pre-norm LayerNorm [8192, 768] backward's add of the sum's
        // gradient had been one thread's pass.
        int units = (int)Math.Clamp(length / (1 << 15), 1, 1 << 16);
        if (wide) Run<V512<T>, Vector512<T>>(x, y, destination, units, stream);
        else if (avx) Run<V256<T>, Vector256<T>>(x, y, destination, units, stream);
        else if (Vector128.IsHardwareAccelerated && Vector128<T>.IsSupported)
        {
            if (AdvSimd.IsSupported) Run<V128<T, AdvSimdVector128Ops<AdvSimdIntrinsics>>, Vector128<T>>(x, y, destination, units, false);
            else Run<V128<T, X86Vector128Ops>, Vector128<T>>(x, y, destination, units, false);
        }
        else Run<Scalar<T>, T>(x, y, destination, units, false);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Run<TS, TV>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination, int units, bool stream) where TS : struct, ISimd<TV, T> where TV : struct =>
            ParallelUnits.For(units, Parallelism.Workers(destination.Length, units), new AddChunks<TS, TV, T>(destination.Length, units, stream),
                x[..destination.Length], destination, y[..destination.Length], default, default, default);
    }

    /// <summary>Unit u of <see cref="Add{T}"/>: elements [length * u / units, length * (u + 1) / units), streamed or not (the
    /// runner pins the spans and fences each worker's streaming stores).</summary>
    private readonly struct AddChunks<TS, TV, T>(nint length, int units, bool stream) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            nint start = (nint)((long)length * unit / units), end = (nint)((long)length * (unit + 1) / units);
            ref T x = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S0), start);
            ref T s = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S1), start);
            ref T y = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), start);
            if (stream) Runs<TS, TV, T>.AddStreamed(ref x, ref y, ref s, end - start);
            else Runs<TS, TV, T>.Add(ref x, ref y, ref s, end - start);
        }
    }
}
