using System;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace NormKernels.Bench.Suite;

/// <summary>
/// The physical limit of a case (issue 11, item 1): the least memory traffic a kernel must cause, moved as fast as the
/// machine moves it. A streaming pass reads the input and writes the output with non-temporal stores (the output's
/// lines are not read first, as a normal store's read-for-ownership would), after peeling the output to 64-byte
/// alignment (the GC aligns arrays to 8 bytes only), with a scalar tail; outputs that fit in L2 are stored normally
/// (<see cref="UsesNonTemporalStores"/>). Backward: x and dy read, dx written.
/// Where the statistics must see more than L2 holds before the first output element can be written, the input cannot
/// still be in cache when it is read again: one read-only pass over the input (backward: x and dy) comes first
/// (<see cref="NeedsReadPass"/>). Split into <see cref="BenchThreads.Count"/> contiguous parts like the copy.
/// </summary>
public static class StreamingLimit
{
    /// <summary>The per-core L2 size from sysfs (1 MB assumed when unreadable).</summary>
    public static long L2Bytes { get; } = ReadCache(2, 1 << 20);

    /// <summary>The L3 size cpu0 sees, from sysfs (32 MB assumed when unreadable).</summary>
    public static long L3Bytes { get; } = ReadCache(3, 32 << 20);

    /// <summary>
    /// Bytes the statistics of the case must read before the first output element that depends on them
    /// (backward: x and dy both): BatchNorm training and backward NCHW, one channel (N planes); NHWC, the whole tensor
    /// (every channel's statistic is spread over all of it); InstanceNorm NCHW, one plane; per-sample norms in
    /// channels-last order (InstanceNorm, GroupNorm NHWC), one sample; GroupNorm NCHW, one group (C/32 planes);
    /// LayerNorm over C,H,W, one sample; row norms, one row. Inference and LRN: 0 (no statistics first).
    /// </summary>
    public static long StatisticsSpan(BenchCase c)
    {
        var s = c.Shape;
        long plane = (long)s.H * s.W * sizeof(float), sample = plane * s.C, inputs = c.Op.IsBackward ? 2 : 1;
        bool nhwc = c.Op.Layout == "NHWC";
        long span = c.Op.Kind switch
        {
            OpKind.BatchNormTraining or OpKind.BatchNormBackward => nhwc ? s.Bytes : plane * s.N,
            OpKind.InstanceNorm => nhwc ? sample : plane,
            OpKind.GroupNorm or OpKind.GroupNormBackward => nhwc ? sample : plane * (s.C / CaseData.Groups),
            OpKind.LayerNorm or OpKind.LayerNormBackward or OpKind.RmsNorm => sample,
            _ => 0,
        };
        return span * inputs;
    }

    /// <summary>The rule: a read-only pass is added when <see cref="StatisticsSpan"/> exceeds L2.</summary>
    public static bool NeedsReadPass(BenchCase c) => StatisticsSpan(c) > L2Bytes;

    /// <summary>The limit's body for a case, over the case's own buffers.</summary>
    public static Action Create(CaseData d, BenchCase c)
    {
        float[] x = d.Input, y = d.Output;
        float[]? dy = d.OutputGrad;
        bool read = NeedsReadPass(c), nonTemporal = UsesNonTemporalStores(c);
        // Optimized from the first call, as the kernels' runs are (--first-calls times this beside the layer from call 1).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Part(int start, int end)
        {
            if (read)
            {
                Sink ^= ReadOnly(x, start, end);
                if (dy is not null) Sink ^= ReadOnly(dy, start, end);
            }
            if (nonTemporal) Stream(x, dy, y, start, end);
            else Plain(x, dy, y, start, end);
        }
        int threads = BenchThreads.Count;
        if (threads <= 1) return [MethodImpl(MethodImplOptions.AggressiveOptimization)] () => Part(0, x.Length);
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        return [MethodImpl(MethodImplOptions.AggressiveOptimization)] () => Parallel.For(0, threads, options, part =>
            Part((int)((long)x.Length * part / threads), (int)((long)x.Length * (part + 1) / threads)));
    }

    /// <summary>
    /// Non-temporal stores only where the bytes of one call (input and output; backward: x, dy and dx) exceed L3, so that
    /// they cannot stay in cache from one call to the next anyway. Below, the buffers stay L3-resident between calls and
    /// writing around the cache is slower than a normal store (AMD EPYC of 2026-11-30: S5, 32 KB, 1.3 us against
    /// 0.6 us for the copy; S2, 3.2 MB, 295 us against 75 us; S3, 8.4 MB, 531 us against 304 us); there the pass stores
    /// normally (same vector loop, <see cref="Plain"/>).
    /// </summary>
    public static bool UsesNonTemporalStores(BenchCase c) => c.TrafficBytes > L3Bytes;

    /// <summary>
    /// The normal-store pass, for bytes that stay cached: forward, <c>Span.CopyTo</c> (the runtime's memmove, faster
    /// here than a vector loop of ours, so the limit of these cases is the copy); backward, y = x + dy with the output
    /// peeled to 64-byte alignment and aligned vector stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimized from its first call, as the kernels (--first-calls)
    public static unsafe void Plain(float[] x, float[]? dy, float[] y, int start, int end)
    {
        if (dy is null) { x.AsSpan(start, end - start).CopyTo(y.AsSpan(start, end - start)); return; }
        fixed (float* px0 = x, py0 = y, pd0 = dy)
        {
            float* px = px0 + start, py = py0 + start, pd = pd0 + start;
            nint n = end - start, i = 0;
            nint head = Math.Min((nint)(((64 - ((nuint)py & 63)) & 63) / sizeof(float)), n);
            for (; i < head; i++) py[i] = px[i] + pd[i];
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) (Vector512.Load(px + i) + Vector512.Load(pd + i)).StoreAligned(py + i);
            else if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) (Vector256.Load(px + i) + Vector256.Load(pd + i)).StoreAligned(py + i);
            else if (Vector128.IsHardwareAccelerated)
                for (; i + 4 <= n; i += 4) (Vector128.Load(px + i) + Vector128.Load(pd + i)).StoreAligned(py + i);
            for (; i < n; i++) py[i] = px[i] + pd[i];
        }
    }

    /// <summary>Keeps the read-only pass's result alive.</summary>
    public static uint Sink;

    /// <summary>y[i] = x[i] (+ dy[i]) for i in [start, end), non-temporal vector stores on the 64-byte-aligned part of y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimized from its first call, as the kernels (--first-calls)
    public static unsafe void Stream(float[] x, float[]? dy, float[] y, int start, int end)
    {
        fixed (float* px0 = x, py0 = y, pd0 = dy)
        {
            float* px = px0 + start, py = py0 + start, pd = pd0 is null ? null : pd0 + start;
            nint n = end - start, i = 0;
            nint head = (nint)(((64 - ((nuint)py & 63)) & 63) / sizeof(float));
            if (((nuint)py & 3) != 0) head = n; // never happens for float arrays; stay correct anyway
            head = Math.Min(head, n);
            for (; i < head; i++) py[i] = pd is null ? px[i] : px[i] + pd[i];
            if (Vector512.IsHardwareAccelerated)
            {
                if (pd is null) for (; i + 16 <= n; i += 16) Vector512.Load(px + i).StoreAlignedNonTemporal(py + i);
                else for (; i + 16 <= n; i += 16) (Vector512.Load(px + i) + Vector512.Load(pd + i)).StoreAlignedNonTemporal(py + i);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                if (pd is null) for (; i + 8 <= n; i += 8) Vector256.Load(px + i).StoreAlignedNonTemporal(py + i);
                else for (; i + 8 <= n; i += 8) (Vector256.Load(px + i) + Vector256.Load(pd + i)).StoreAlignedNonTemporal(py + i);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                if (pd is null) for (; i + 4 <= n; i += 4) Vector128.Load(px + i).StoreAlignedNonTemporal(py + i);
                else for (; i + 4 <= n; i += 4) (Vector128.Load(px + i) + Vector128.Load(pd + i)).StoreAlignedNonTemporal(py + i);
            }
            for (; i < n; i++) py[i] = pd is null ? px[i] : px[i] + pd[i];
            if (Sse.IsSupported) Sse.StoreFence();
        }
    }

    /// <summary>Reads x[start..end) once (an OR of the bits, four independent accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimized from its first call, as the kernels (--first-calls)
    public static unsafe uint ReadOnly(float[] x, int start, int end)
    {
        fixed (float* p0 = x)
        {
            uint* p = (uint*)(p0 + start);
            nint n = end - start, i = 0;
            uint acc = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<uint> a = default, b = default, c = default, e = default;
                for (; i + 64 <= n; i += 64)
                {
                    a |= Vector512.Load(p + i); b |= Vector512.Load(p + i + 16);
                    c |= Vector512.Load(p + i + 32); e |= Vector512.Load(p + i + 48);
                }
                acc = Vector512.Sum(a | b | c | e);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<uint> a = default, b = default, c = default, e = default;
                for (; i + 32 <= n; i += 32)
                {
                    a |= Vector256.Load(p + i); b |= Vector256.Load(p + i + 8);
                    c |= Vector256.Load(p + i + 16); e |= Vector256.Load(p + i + 24);
                }
                acc = Vector256.Sum(a | b | c | e);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<uint> a = default, b = default;
                for (; i + 8 <= n; i += 8) { a |= Vector128.Load(p + i); b |= Vector128.Load(p + i + 4); }
                acc = Vector128.Sum(a | b);
            }
            for (; i < n; i++) acc |= p[i];
            return acc;
        }
    }


    private static long ReadCache(int level, long fallback)
    {
        try
        {
            for (int index = 0; index < 8; index++)
            {
                string dir = $"/sys/devices/system/cpu/cpu0/cache/index{index}";
                if (!Directory.Exists(dir)) break;
                if (File.ReadAllText(Path.Combine(dir, "level")).Trim() != level.ToString(System.Globalization.CultureInfo.InvariantCulture)) continue;
                string size = File.ReadAllText(Path.Combine(dir, "size")).Trim();
                long mult = size.EndsWith('K') ? 1024 : size.EndsWith('M') ? 1024 * 1024 : 1;
                return long.Parse(size.TrimEnd('K', 'M'), System.Globalization.CultureInfo.InvariantCulture) * mult;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return fallback;
    }
}
