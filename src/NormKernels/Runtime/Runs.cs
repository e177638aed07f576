using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>How a coefficient reaches a run: one value for the whole run, or one per element loaded along it.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IOperand
{
    /// <summary>True when the operand is loaded along the run; false when it is one value.</summary>
    static abstract bool Lanes { get; }
}

/// <summary>One value for the whole run, broadcast to every lane.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Splat : IOperand
{
    /// <inheritdoc/>
    public static bool Lanes => false;
}

/// <summary>One value per element of the run, loaded along it.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Lanes : IOperand
{
    /// <inheritdoc/>
    static bool IOperand.Lanes => true;
}

/// <summary>
/// The shape-independent inner runs of the generated layers, written once for every path
/// (<typeparamref name="TS"/>), vector type (<typeparamref name="TV"/>) and element type (<typeparamref name="T"/>).
/// A generated layer keeps only its loop nest, which calls these on each contiguous run; the JIT compiles one copy
/// per path and inlines it into that nest. Every run needs at least <c>TS.Count</c> elements (the paths are chosen
/// per call by the innermost extent): the last partial vector of a run is an overlapped load whose finished lanes are
/// masked, so a reduction's order depends on the shape alone, never on the address.
/// </summary>
/// <remarks>
/// Reductions: <see cref="Unroll"/> independent vector accumulators in the element type over chunks of
/// <see cref="ChunkVectors"/> unrolled steps, each chunk's lanes widened and added into double. Sums are of
/// <c>x - shift</c> (shift = a sample of the statistic), so they stay small whatever the data's offset.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class Runs<TS, TV, T> where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Independent accumulators per reduction (and the apply loop's unroll).</summary>
    public const int Unroll = 4;

    /// <summary>Unrolled steps (or rows) per chunk added into double.</summary>
    public const int ChunkVectors = 16;

    // ------------------------------------------------------------------ statistics

    /// <summary>Over a contiguous run: centered kinds (<typeparamref name="TK"/>) add the sum of <c>p[i] - shift</c> to
    /// <paramref name="sum"/> and of its square to <paramref name="sq"/>; uncentered ones add the sum of <c>p[i]^2</c> to
    /// <paramref name="sq"/> and leave <paramref name="sum"/> alone. A method of its own (never inlined): inlined into a nest's
    /// statistics with tiered compilation on (Synthesized PGO in optimized code), the JIT ran out of budget inside it and
    /// left its masked tail step a call, with the run's accumulators in memory for the whole loop (InstanceNorm NCHW;
    /// CodegenTests' tiered leg). One call a block.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Reduce<TK>(ref T p, nint len, T shift, ref double sum, ref double sq) where TK : struct, INormKind
    {
        // Runs shorter than a few lines are not worth hints of their own (the next run's come from the hardware).
        nint ahead = TK.Prefetches && len * Unsafe.SizeOf<T>() >= PrefetchRunBytes ? PrefetchAhead : 0;
        if (TK.Centered) RowSums<Centered>(ref p, len, shift, ref sum, ref sq, ahead);
        else RowSums<Uncentered>(ref p, len, shift, ref sum, ref sq, ahead);
    }

    /// <summary>
    /// Bytes ahead of its loads that a statistics pass over data read from memory hints into L1 (<see cref="Prefetch"/>):
    /// one core's hardware prefetchers alone fed the row plans' sums at about half the bandwidth a plain read pass gets, and
    /// the sums, the coefficients and the apply (from L1, or streamed out) do not overlap with the reads. AMD Zen 5,
    /// 1 thread, one process, alternating calls with and without (medians of 21 rounds, two runs each): LayerNorm
    /// [8192, 768] 2.20-2.30 -> 1.66-1.74 ms at 8 KB ahead, 1.70-1.76 at 12 KB, 1.75-1.77 at 16 KB, 1.76-1.78 at 24 KB;
    /// InstanceNorm NCHW S1 (rows of 3,136) 1.65-1.89 -> 1.05-1.24 at 8 KB, 1.03-1.20 at 12 KB, 1.19-1.24 at 16 KB. At 2
    /// threads (bandwidth-bound) the same time with and without. Not for data in cache: LayerNorm [64, 768] with it
    /// took 8% longer (a hint per line, for lines already there), LayerNorm over C,H,W on 32x16x16 1.14-1.22 -> 1.39-1.43 us,
    /// BatchNorm NCHW training on 32x512x7x7 (3.2 MB) 212 -> 237 us, and the bench's 8.4 MB tensors (S3, in L3 between
    /// calls) 5-15% slower; so only calls whose tensors exceed the last-level cache ask (<see cref="INormKind.Prefetches"/>,
    /// <see cref="Streaming.Exceeds"/>).
    /// </summary>
    public const int PrefetchAhead = 12 << 10;

    /// <summary>Contiguous runs at least this long (bytes) take hints in a statistics pass from memory
    /// (<see cref="INormKind.Prefetches"/>); shorter runs are left to the hardware prefetchers.</summary>
    public const int PrefetchRunBytes = 4 << 10;

    /// <summary>
    /// Bytes ahead of its loads that a streamed apply hints x into L1 (<see cref="PrefetchAhead"/>: a streamed call's tensors
    /// exceed the last-level cache, so the rows after the one in L1 come from memory). A row's apply otherwise issues no
    /// loads to memory and the stream its sums had kept going stops while it runs. AMD Zen 5, 1 thread, medians of 21
    /// alternating rounds, six processes each, without / with: LayerNorm [8192, 768] 1.23-1.39 / 1.21-1.37 ms, RMSNorm
    /// 1.24-1.53 / 1.16-1.36 ms, BatchNorm inference NCHW S1 0.83-0.92 / 0.81-0.84 ms, LayerNorm over C,H,W S1 1.36-1.67 /
    /// 1.36-1.60 ms, GroupNorm NCHW S1 1.06-1.12 / 1.05-1.09 ms, BatchNorm training and InstanceNorm NCHW S1 even; 2 threads,
    /// RMSNorm 0.62-0.65 / 0.60-0.63 ms, LayerNorm even. 512-bit vectors only: the AVX2 path's apply (twice the instructions
    /// a line) was slower with them, LayerNorm [8192, 768] 1.36-1.62 / 1.66-1.75 ms, RMSNorm 1.47-1.69 / 1.58-1.76 ms.
    /// </summary>
    internal const int StreamedAhead = PrefetchAhead;

    /// <summary>
    /// Bytes ahead along its row that a column reduction over rows far apart (<see cref="ReduceColumns{TK}(ref T, nint, nint, nint, ref T, ref double, ref double)"/>,
    /// <see cref="GradientRuns{TS, TV, T}.ReduceColumns{TX, TH}(ref T, ref T, nint, nint, nint, ref T, ref T, ref double, ref double, ref double)"/>:
    /// a block of channels of every sample, BatchNorm NCHW on 7x7 planes) hints each row's lines into L1 when its data is in
    /// cache (from memory those take <see cref="PrefetchAhead"/> or <see cref="GradientRuns{TS, TV, T}.AffineAhead"/>): the
    /// next strip of four vectors of the same row. A strip goes down 16 rows 100 KB apart (32 x 512 x 7 x 7) before the next
    /// strip, 16 streams the hardware's prefetchers do not follow well from L3. x86 vector paths only; a hint never changes
    /// a result. AMD EPYC Zen 5, 1 thread, one process alternating with and without (medians of 21 rounds), BatchNorm NCHW
    /// 32 x 512 x 7 x 7: backward 0.914-0.931 of the time in six processes (128 bytes ahead 1.03-1.04x the time of 256, 384
    /// 1.02-1.03x, 512 1.04-1.06x), AVX2 0.959-0.970, 2 threads 0.940-0.956; training forward (x read as shifted loads
    /// already) 0.972-0.988 (128 bytes 1.02x the time of 256, 512 even), AVX2 (no shifted loads) 0.873-0.875, 2 threads
    /// 0.973-0.977. A prototype of the backward's column sums alone put
    /// the rest of the gap to a sequential read in loads split across two lines (x and dy off a 64-byte boundary).
    /// </summary>
    internal const int StridedAhead = 256;

    /// <summary>The hint distance of a column reduction over <paramref name="rows"/> rows <paramref name="stride"/> elements
    /// apart, <paramref name="width"/> wide, whose data is in cache (<see cref="StridedAhead"/>), or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static nint StridedHint(nint rows, nint width, nint stride) =>
        TS.Count > 1 && Sse.IsSupported && rows > 1 && stride != width ? StridedAhead : 0;

    /// <summary>Hints the lines of one unrolled step of a reduction, <paramref name="ahead"/> bytes past element
    /// <paramref name="i"/> of <paramref name="p"/>, into L1 (x86; a no-op elsewhere). A hint never faults, past the end
    /// of the data included, and never changes a result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref T p, nint i, nint ahead)
    {
        if (!Sse.IsSupported || TS.Count == 1) return;
        byte* b = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref p, i)) + ahead;
        for (int l = 0; l < Unroll * TS.Count * sizeof(T); l += 64) Sse.Prefetch0(b + l);
    }

    /// <summary>A run's sums (<see cref="Reduce{TK}"/>); with <paramref name="ahead"/> (bytes, 0 = none), each unrolled
    /// step first hints the lines that far ahead into L1 (<see cref="PrefetchAhead"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceCore<TC>(ref T p, nint len, T shift, ref double sum, ref double sq, nint ahead, bool accumulate = true) where TC : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        TV k = TS.Splat(shift);
        // The first chunk's totals are taken as they are, and (accumulate false) the run's totals stored as they are: adding
        // them to 0 gives the same bits (no total is -0: every lane starts at +0, and +0 plus anything is never -0), but the
        // JIT keeps each 0 + x, a dependent add in the chain from the last load to a row's coefficients.
        double s = 0d, q = 0d;
        // A long run off a vector boundary is read as shifted loads (ISimd.Shifts): the steps whose aligned vectors all lie
        // inside the run (every one but the first and the last few) put each vector together from two aligned ones.
        nint offset = TS.Shifts && len * Unsafe.SizeOf<T>() >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        for (nint chunk = 0; chunk < len; chunk += chunkLength)
        {
            nint end = len - chunk > chunkLength ? chunk + chunkLength : len;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
            TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                if (ahead != 0) Prefetch(ref p, i, ahead);
                if (!TS.Shifts)
                {
                    // Each load straight into its sums (the same operations in the same order as below). With the four
                    // vectors held in locals across the branch below, the JIT kept them on the stack on the 256-bit
                    // path (16 registers): a store and a reload per vector.
                    Accumulate<TC>(TS.Load(ref p, i), k, ref s0, ref q0);
                    Accumulate<TC>(TS.Load(ref p, i + w), k, ref s1, ref q1);
                    Accumulate<TC>(TS.Load(ref p, i + 2 * w), k, ref s2, ref q2);
                    Accumulate<TC>(TS.Load(ref p, i + 3 * w), k, ref s3, ref q3);
                    continue;
                }
                TV v0, v1, v2, v3;
                if (offset != 0 && i >= w && i + step + w - offset <= len)
                {
                    // Shifted: the step's five aligned vectors (from i - offset) lie inside the run: every step but the
                    // run's first and its last few.
                    nint o = i - offset;
                    TV a0 = TS.Load(ref p, o), a1 = TS.Load(ref p, o + w), a2 = TS.Load(ref p, o + 2 * w), a3 = TS.Load(ref p, o + 3 * w), a4 = TS.Load(ref p, o + 4 * w);
                    v0 = TS.Shift(a0, a1, indices); v1 = TS.Shift(a1, a2, indices); v2 = TS.Shift(a2, a3, indices); v3 = TS.Shift(a3, a4, indices);
                }
                else
                {
                    v0 = TS.Load(ref p, i); v1 = TS.Load(ref p, i + w); v2 = TS.Load(ref p, i + 2 * w); v3 = TS.Load(ref p, i + 3 * w);
                }
                Accumulate<TC>(v0, k, ref s0, ref q0);
                Accumulate<TC>(v1, k, ref s1, ref q1);
                Accumulate<TC>(v2, k, ref s2, ref q2);
                Accumulate<TC>(v3, k, ref s3, ref q3);
            }
            for (; i + w <= end; i += w)
                Accumulate<TC>(TS.Load(ref p, i), k, ref s0, ref q0);
            if (w > 1 && i < end)
                AccumulateMasked<TC>(TS.Load(ref p, end - w), k, TS.LastLanes(end - i), ref s0, ref q0);
            double cs = TC.Lanes ? TS.SumWidened(TS.Add(TS.Add(s0, s1), TS.Add(s2, s3))) : 0d, cq = TS.SumWidened(TS.Add(TS.Add(q0, q1), TS.Add(q2, q3)));
            if (chunk == 0)
            {
                s = cs;
                q = cq;
            }
            else
            {
                if (TC.Lanes) s += cs;
                q += cq;
            }
        }
        if (accumulate)
        {
            if (TC.Lanes) sum += s;
            sq += q;
        }
        else
        {
            if (TC.Lanes) sum = s;
            sq = q;
        }
    }

    /// <summary>
    /// Per column, over <paramref name="rows"/> rows of <paramref name="width"/> contiguous columns: centered kinds add the
    /// sum of <c>p[r, j] - shift[j]</c> to <paramref name="sum"/>[j] and of its square to <paramref name="sq"/>[j];
    /// uncentered ones the sum of <c>p[r, j]^2</c> to <paramref name="sq"/>[j].
    /// </summary>
    /// <remarks>Compiled on its own (not inlined into the block driver, where the JIT kept the run's base address on the stack
    /// and reloaded it every row): GroupNorm NHWC S1's statistics pass alone 1.46-1.64 -> 0.97 ms at 1 thread on AMD Zen 5,
    /// InstanceNorm and GroupNorm NHWC S1 forward 2.30-2.38x -> 1.70-1.90x the limit (one call per block).
    /// <para>On a call's only worker it hints its lines <see cref="PrefetchAhead"/> on in cache too (<see cref="ParallelUnits.Alone"/>),
    /// unlike the row sums (whose hints there are a hint per line already in L1): a column block reads two to four lines of
    /// each row, a row apart, and the hardware prefetchers fetch such strides from L3 late. AMD Zen 5, 1 thread, one process
    /// alternating calls without / with (2x256x64x64 and 32x512x7x7 channels-last, tensors in L3): AVX2 BatchNorm training
    /// 402 / 353 us and 158 / 150, InstanceNorm 379 / 328 and 194 / 186, GroupNorm 370 / 319 and 178 / 170; AVX-512 337 / 330,
    /// 305 / 296, 318 / 312 and even on 32x512x7x7; rows of 64, 128 and 1,024 channels within 3% either way on both paths. On
    /// two workers the same hints were slower (2x256x64x64: AVX-512 InstanceNorm 196 / 204, GroupNorm 201 / 227, AVX2 2-10%),
    /// so those keep the hardware's.</para></remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ReduceColumns<TK>(ref T p, nint rows, nint width, ref T shift, ref double sum, ref double sq) where TK : struct, INormKind
    {
        nint ahead = TK.Prefetches || ParallelUnits.Alone ? PrefetchAhead : 0;
        if (TK.Centered) ReduceColumnsCore<Centered>(ref p, rows, width, width, ref shift, ref sum, ref sq, ahead);
        else ReduceColumnsCore<Uncentered>(ref p, rows, width, width, ref Unsafe.NullRef<T>(), ref sq, ref sq, ahead);
    }

    /// <summary><see cref="ReduceColumns{TK}(ref T, nint, nint, ref T, ref double, ref double)"/> over rows
    /// <paramref name="stride"/> elements apart (a block of channels of every sample, NCHW).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReduceColumns<TK>(ref T p, nint rows, nint width, nint stride, ref T shift, ref double sum, ref double sq) where TK : struct, INormKind
    {
        nint ahead = TK.Prefetches ? PrefetchAhead : 0;
        if (ahead == 0) ahead = StridedHint(rows, width, stride);
        if (TK.Centered) ReduceColumnsCore<Centered>(ref p, rows, width, stride, ref shift, ref sum, ref sq, ahead);
        else ReduceColumnsCore<Uncentered>(ref p, rows, width, stride, ref Unsafe.NullRef<T>(), ref sq, ref sq, ahead);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceColumnsCore<TC>(ref T p, nint rows, nint width, nint stride, ref T shift, ref double sum, ref double sq, nint ahead) where TC : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        // Rows far apart that share their phase (a stride of whole vectors: BatchNorm NCHW's blocks of short-plane channels)
        // read from x's vector boundary instead: the columns before it as one vector with only those lanes, then strips of
        // plain loads, each in one line. The same lanes, so the same bits. BatchNorm training NCHW 32x512x7x7, AMD Zen 5, one
        // process alternating with the shifted loads from column 0 (medians of 21 rounds): 1 thread 0.953-0.959 of the time
        // (three processes), 2 threads 0.972, AVX2 (plain loads from column 0 before) 0.994.
        bool fromBoundary = w > 1 && stride != width && stride % w == 0 && width >= 2 * step;
        nint first = fromBoundary ? LoadPeel(ref p) : 0;
        // Other rows that all start the same distance past a vector boundary (a stride of whole 64-byte lines) and long
        // enough are read as shifted loads (ISimd.Shifts): five aligned vectors per four, except where they would reach
        // before the first row (its first columns) or past the last row's end (its last columns), which load plainly in
        // their turn.
        nint offset = !fromBoundary && TS.Shifts && width * Unsafe.SizeOf<T>() >= 4 * w * Unsafe.SizeOf<T>() && stride * Unsafe.SizeOf<T>() % 64 == 0
            && rows * width * Unsafe.SizeOf<T>() >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            nint j = first;
            if (first != 0) // its first `first` lanes (made here: no mask live across the loops of the rows back to back)
                ColumnVector<TC>(ref p, r0, rend, stride, 0, ref shift, ref sum, ref sq, true, FirstLanes(first));
            for (; j + step <= width; j += step)
            {
                TV k0 = TC.Lanes ? TS.Load(ref shift, j) : TS.Zero, k1 = TC.Lanes ? TS.Load(ref shift, j + w) : TS.Zero;
                TV k2 = TC.Lanes ? TS.Load(ref shift, j + 2 * w) : TS.Zero, k3 = TC.Lanes ? TS.Load(ref shift, j + 3 * w) : TS.Zero;
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
                TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * stride + j;
                    if (ahead != 0) Prefetch(ref p, o, ahead);
                    if (!TS.Shifts)
                    {
                        // As ReduceCore's: each load straight into its sums, not through locals the 256-bit path spills.
                        Accumulate<TC>(TS.Load(ref p, o), k0, ref s0, ref q0);
                        Accumulate<TC>(TS.Load(ref p, o + w), k1, ref s1, ref q1);
                        Accumulate<TC>(TS.Load(ref p, o + 2 * w), k2, ref s2, ref q2);
                        Accumulate<TC>(TS.Load(ref p, o + 3 * w), k3, ref s3, ref q3);
                        continue;
                    }
                    TV v0, v1, v2, v3;
                    if (offset != 0 && (r > 0 || j > 0) && (r < rows - 1 || j + step + w - offset <= width))
                    {
                        // Shifted, where the five aligned vectors (from o - offset) lie inside the rows: not the first row's
                        // first columns, nor the last row's columns whose fifth vector passes its end.
                        o -= offset;
                        TV a0 = TS.Load(ref p, o), a1 = TS.Load(ref p, o + w), a2 = TS.Load(ref p, o + 2 * w), a3 = TS.Load(ref p, o + 3 * w), a4 = TS.Load(ref p, o + 4 * w);
                        v0 = TS.Shift(a0, a1, indices); v1 = TS.Shift(a1, a2, indices); v2 = TS.Shift(a2, a3, indices); v3 = TS.Shift(a3, a4, indices);
                    }
                    else
                    {
                        v0 = TS.Load(ref p, o); v1 = TS.Load(ref p, o + w); v2 = TS.Load(ref p, o + 2 * w); v3 = TS.Load(ref p, o + 3 * w);
                    }
                    Accumulate<TC>(v0, k0, ref s0, ref q0);
                    Accumulate<TC>(v1, k1, ref s1, ref q1);
                    Accumulate<TC>(v2, k2, ref s2, ref q2);
                    Accumulate<TC>(v3, k3, ref s3, ref q3);
                }
                if (TC.Lanes)
                {
                    TS.AddWidened(ref sum, j, s0); TS.AddWidened(ref sum, j + w, s1);
                    TS.AddWidened(ref sum, j + 2 * w, s2); TS.AddWidened(ref sum, j + 3 * w, s3);
                }
                TS.AddWidened(ref sq, j, q0); TS.AddWidened(ref sq, j + w, q1);
                TS.AddWidened(ref sq, j + 2 * w, q2); TS.AddWidened(ref sq, j + 3 * w, q3);
            }
            for (; j + w <= width; j += w)
                ColumnVector<TC>(ref p, r0, rend, stride, j, ref shift, ref sum, ref sq, false, default);
            if (w > 1 && j < width)
                ColumnVector<TC>(ref p, r0, rend, stride, width - w, ref shift, ref sum, ref sq, true, TS.LastLanes(width - j));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnVector<TC>(ref T p, nint r0, nint rend, nint stride, nint col, ref T shift, ref double sum, ref double sq, bool masked, TV mask)
        where TC : struct, IOperand
    {
        TV k = TC.Lanes ? TS.Load(ref shift, col) : TS.Zero;
        TV s = TS.Zero, q = TS.Zero;
        for (nint r = r0; r < rend; r++)
        {
            if (masked) AccumulateMasked<TC>(TS.Load(ref p, r * stride + col), k, mask, ref s, ref q);
            else Accumulate<TC>(TS.Load(ref p, r * stride + col), k, ref s, ref q);
        }
        if (TC.Lanes) TS.AddWidened(ref sum, col, s);
        TS.AddWidened(ref sq, col, q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TC>(TV v, TV k, ref TV s, ref TV q) where TC : struct, IOperand
    {
        TV d = TC.Lanes ? TS.Subtract(v, k) : v;
        if (TC.Lanes) s = TS.Add(s, d);
        q = TS.MultiplyAdd(d, d, q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateMasked<TC>(TV v, TV k, TV mask, ref TV s, ref TV q) where TC : struct, IOperand
    {
        TV d = TS.And(TC.Lanes ? TS.Subtract(v, k) : v, mask);
        if (TC.Lanes) s = TS.Add(s, d);
        q = TS.MultiplyAdd(d, d, q);
    }

    // ------------------------------------------------------------------ apply

    /// <summary><c>s = x + r</c> over a contiguous run (the residual added before the norm); s may be x or r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ref T x, ref T r, ref T s, nint len)
    {
        int w = TS.Count;
        nint i = 0;
        for (; i + 4 * w <= len; i += 4 * w)
        {
            TV a0 = TS.Add(TS.Load(ref x, i), TS.Load(ref r, i)), a1 = TS.Add(TS.Load(ref x, i + w), TS.Load(ref r, i + w));
            TV a2 = TS.Add(TS.Load(ref x, i + 2 * w), TS.Load(ref r, i + 2 * w)), a3 = TS.Add(TS.Load(ref x, i + 3 * w), TS.Load(ref r, i + 3 * w));
            TS.Store(a0, ref s, i);
            TS.Store(a1, ref s, i + w);
            TS.Store(a2, ref s, i + 2 * w);
            TS.Store(a3, ref s, i + 3 * w);
        }
        for (; i + w <= len; i += w) TS.Store(TS.Add(TS.Load(ref x, i), TS.Load(ref r, i)), ref s, i);
        for (; i < len; i++) Unsafe.Add(ref s, i) = Scalar<T>.Add(Unsafe.Add(ref x, i), Unsafe.Add(ref r, i));
    }

    /// <summary><c>s = x + r</c> over a contiguous run with s streamed from its first 64-byte boundary (the elements before it and
    /// those past the last whole vector stored one by one; <see cref="Elementwise.Add{T}"/>). s may be x or r; the caller pins s
    /// and fences.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void AddStreamed(ref T x, ref T r, ref T s, nint len)
    {
        int w = TS.Count;
        nint head = System.Math.Min(len, (nint)((64 - ((nuint)Unsafe.AsPointer(ref s) & 63)) & 63) / sizeof(T));
        nint i = 0;
        for (; i < head; i++) Unsafe.Add(ref s, i) = Scalar<T>.Add(Unsafe.Add(ref x, i), Unsafe.Add(ref r, i));
        for (; i + 2 * w <= len; i += 2 * w)
        {
            TV a0 = TS.Add(TS.Load(ref x, i), TS.Load(ref r, i)), a1 = TS.Add(TS.Load(ref x, i + w), TS.Load(ref r, i + w));
            TS.StoreStreaming(a0, ref s, i);
            TS.StoreStreaming(a1, ref s, i + w);
        }
        for (; i + w <= len; i += w) TS.StoreStreaming(TS.Add(TS.Load(ref x, i), TS.Load(ref r, i)), ref s, i);
        for (; i < len; i++) Unsafe.Add(ref s, i) = Scalar<T>.Add(Unsafe.Add(ref x, i), Unsafe.Add(ref r, i));
    }

    /// <summary><c>y = (x - c) * a + b</c> over a contiguous run (uncentered kinds: <c>y = x * a + b</c>); <typeparamref name="TA"/>
    /// says whether a, b, c are one value or loaded along the run, <typeparamref name="TW"/> how y is stored. The last
    /// partial vector is blended with what is already stored, so in-place use (y = x) stays correct.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TK, TW, TA>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, nint residual = 0)
        where TK : struct, INormKind where TW : struct, IStores where TA : struct, IOperand
    {
        if (TK.Centered) ApplyCore<Centered, TW, TA, Uncentered, Splat, TK>(ref x, ref y, len, ref a, ref b, ref c, ref a, ref b, residual);
        else ApplyCore<Uncentered, TW, TA, Uncentered, Splat, TK>(ref x, ref y, len, ref a, ref b, ref a, ref a, ref b, residual);
    }

    /// <summary>The first <paramref name="count"/> elements of a run longer than <paramref name="count"/> plus a vector, with
    /// coefficients loaded along it, as <see cref="Apply{TK, TW, TA}"/> computes them (whole vectors from the run's start,
    /// the same operations), stored lane by lane: the peel of a run that then starts at its input's 64-byte boundary.
    /// Nothing past <paramref name="count"/> is stored, so the rest may run after it in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ApplyPeel<TK>(ref T x, ref T y, nint count, ref T a, ref T b, ref T c) where TK : struct, INormKind
    {
        int w = TS.Count;
        for (nint o = 0; o < count; o += w)
        {
            TV r = TK.Centered
                ? Expression<Centered, Lanes, Uncentered, Splat, TK>(TS.Load(ref x, o), o, ref a, ref b, ref c, ref a, ref b, TS.Zero, TS.Zero, TS.Zero, TS.Zero, TS.Zero, ref x, 0)
                : Expression<Uncentered, Lanes, Uncentered, Splat, TK>(TS.Load(ref x, o), o, ref a, ref b, ref a, ref a, ref b, TS.Zero, TS.Zero, TS.Zero, TS.Zero, TS.Zero, ref x, 0);
            StoreLanes(r, ref y, o, o + w < count ? o + w : count, o);
        }
    }

    /// <summary>Widest rows (elements) <see cref="ApplyRows{TK, TW}"/> runs as one flat range (its coefficients, written twice
    /// over, live on the stack: 24 KB for float, 48 KB for double). 1024 rather than 256: wider rows went row by row through
    /// <see cref="Apply{TK, TW, TA}"/>, whose peel to x's boundary then left the three coefficient streams off theirs
    /// (InstanceNorm NHWC S2, C = 512, 2 threads: 141-150 -> 116 us; GroupNorm NHWC S2 168 -> 138 us; Zen 5).</summary>
    private const int FlatWidth = 1024;

    /// <summary>
    /// <see cref="Apply{TK, TW, TA}"/> with coefficients loaded along the run, over <paramref name="rows"/> contiguous rows of
    /// <paramref name="width"/> elements that share them (channels last: y[r, j] = (x[r, j] - c[j]) * a[j] + b[j]). Rows of whole
    /// vectors, up to <see cref="FlatWidth"/> elements, run as one flat range (no call per row; up to <see cref="Unroll"/>
    /// vectors wide, the coefficient vectors stay in registers) and, streamed, with the output peeled to 64 bytes once for the
    /// whole range; other widths run row by row. The same bits as row by row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyRows<TK, TW>(ref T x, ref T y, nint rows, nint width, ref T a, ref T b, ref T c, nint residual = 0)
        where TK : struct, INormKind where TW : struct, IStores
    {
        int w = TS.Count;
        // Rows over 256 wide put up to 48 KB on the stack: only where the thread has room to spare (a thread started with a
        // small stack takes the row-by-row apply instead of overflowing).
        if (w == 1 || width % w != 0 || width > FlatWidth || (width > 256 && !RuntimeHelpers.TryEnsureSufficientExecutionStack()))
        {
            for (nint r = 0; r < rows; r++)
                Apply<TK, TW, Lanes>(ref Unsafe.Add(ref x, r * width), ref Unsafe.Add(ref y, r * width), width, ref a, ref b, ref c, residual);
            return;
        }
        nint total = rows * width;
        int k = (int)(width / w);
        if (TK.Centered)
        {
            if (!FlatRows<Centered, TW, TK>(ref x, ref y, total, k, ref a, ref b, ref c, residual)) FlatRows<Centered, CachedStores, TK>(ref x, ref y, total, k, ref a, ref b, ref c, residual);
        }
        else if (!FlatRows<Uncentered, TW, TK>(ref x, ref y, total, k, ref a, ref b, ref a, residual))
        {
            FlatRows<Uncentered, CachedStores, TK>(ref x, ref y, total, k, ref a, ref b, ref a, residual);
        }
    }

    /// <summary>The flat range of <see cref="ApplyRows{TK, TW}"/>; false (nothing written) when it cannot stream as asked. Its
    /// stack is not cleared (SkipLocalsInit: the 6 x FlatWidth coefficients were zeroed on every call, about 100 ns on a
    /// [1, 16, 16, 32] BatchNorm): only the doubled copies it writes first are read.</summary>
    [SkipLocalsInit]
    private static unsafe bool FlatRows<TC, TW, TE>(ref T x, ref T y, nint total, int k, ref T a, ref T b, ref T c, nint residual)
        where TC : struct, IOperand where TW : struct, IStores where TE : struct, INormKind
    {
        int w = TS.Count;
        nint width = (nint)k * w;
        // Streamed, the range starts at y's first 64-byte boundary: its elements before it are stored lane by lane, and the
        // vectors from there on start `head` columns into a row, so each of the k column phases gets its coefficients from the
        // coefficients written twice over (a vector that starts inside a row reads past its end without wrapping).
        nint head = 0;
        if (TW.Streaming)
        {
            nuint address = (nuint)Unsafe.AsPointer(ref y);
            head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
            if ((long)total * sizeof(T) < Streaming.MinimumRunBytes || address % (nuint)sizeof(T) != 0 || total < head + width + w) return false;
        }
        else if (w > 1 && total * sizeof(T) >= PeelBytes)
        {
            // Stored normally, the range starts at x's vector boundary instead (see PeelBytes): its loads stay in one line.
            head = LoadPeel(ref x);
            if (total < head + width + w) head = 0;
        }
        // Placed so that the range's vectors, `phase` columns into a row, read their coefficients from whole vectors of the
        // copies (the copies start up to a vector past a 64-byte boundary: 64 bytes of slack for the boundary, 64 for that):
        // no coefficient load straddles two lines, peel or not.
        nint phase = head % width;
        T* unaligned = stackalloc T[6 * FlatWidth + 128 / sizeof(T)];
        T* twice = (T*)(((nint)unaligned + 63) & ~(nint)63) + (w - phase % w) % w;
        ref T a2 = ref Unsafe.AsRef<T>(twice);
        ref T b2 = ref Unsafe.Add(ref a2, 2 * width);
        ref T c2 = ref Unsafe.Add(ref b2, 2 * width);
        Doubled(ref a, ref a2, width);
        Doubled(ref b, ref b2, width);
        if (TC.Lanes) Doubled(ref c, ref c2, width);
        else MemoryMarshal.CreateSpan(ref c2, (int)(width + System.Math.Min(width, 64 / sizeof(T)))).Clear(); // what Doubled writes, all a vector reads
        for (nint o = 0; o < head; o += w)
        {
            // Columns o % width .. + w - 1 of a row (whole vectors of it: width % w == 0; a row narrower than the head,
            // C = 4 on the 128-bit path, wraps within it).
            nint col = o % width;
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, o), TS.Load(ref a2, col), TS.Load(ref b2, col), TS.Load(ref c2, col), ref x, o, residual);
            Runs<TS, TV, T>.StoreLanes(r, ref y, o, o + w < head ? o + w : head, o);
        }
        if (k > Unroll)
        {
            // Wider rows: the coefficients of vector j of a row that starts `phase` columns in are at phase + j * w of the
            // doubled copies (never past their end).
            nint q = head;
            if (TW.Streaming && TS.Count * sizeof(T) == 32 && k <= 2 * Unroll)
            {
                // Streamed rows of five to eight vectors on the 256-bit path (C = 40 to 64 floats): rows four at a time with each
                // column pair's coefficients held (FlatTiles), not three coefficient loads beside each vector's one. BatchNorm
                // training NHWC S1 (C = 64), AMD Zen 5, 1 thread, one process alternating, three pairs in each order:
                // 1,105-1,269 -> 1,022-1,087 us and 1,210-1,422 -> 1,050-1,239 (its apply alone had taken about 840 us against
                // the 512-bit path's 656, whose four vectors a row stay in registers); 2 threads and x, y off their lines even. Not taken
                // with normal stores: the 512-bit path's rows of eight vectors (C = 128, 12.8 MB, in cache) ran 15-20% slower
                // in tiles, the 256-bit path's in cache even.
                nint tiles = (total - q) / (TileRows * width);
                FlatTiles<TC, TW, TE>(ref x, ref y, q, tiles, width, ref Unsafe.Add(ref a2, phase), ref Unsafe.Add(ref b2, phase), ref Unsafe.Add(ref c2, phase), residual);
                q += tiles * TileRows * width;
            }
            for (; q + width <= total; q += width)
                for (nint j = 0; j < width; j += w)
                    FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, q + j), TS.Load(ref a2, phase + j), TS.Load(ref b2, phase + j), TS.Load(ref c2, phase + j), ref x, q + j, residual), ref y, q + j);
            for (nint j = 0; q + w <= total; q += w, j += w)
                FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, q), TS.Load(ref a2, phase + j), TS.Load(ref b2, phase + j), TS.Load(ref c2, phase + j), ref x, q, residual), ref y, q);
            if (q < total)
            {
                nint t = total - w;
                TV r = FlatExpression<TC, TE>(TS.Load(ref x, t), TS.Load(ref a2, width - w), TS.Load(ref b2, width - w), TS.Load(ref c2, width - w), ref x, t, residual);
                Runs<TS, TV, T>.StoreLanes(r, ref y, q, total, t);
            }
            return true;
        }
        TV A0 = TS.Load(ref a2, phase), B0 = TS.Load(ref b2, phase), C0 = TS.Load(ref c2, phase);
        TV A1 = k > 1 ? TS.Load(ref a2, (phase + w) % width) : A0, B1 = k > 1 ? TS.Load(ref b2, (phase + w) % width) : B0, C1 = k > 1 ? TS.Load(ref c2, (phase + w) % width) : C0;
        TV A2 = k > 2 ? TS.Load(ref a2, (phase + 2 * w) % width) : A0, B2 = k > 2 ? TS.Load(ref b2, (phase + 2 * w) % width) : B0, C2 = k > 2 ? TS.Load(ref c2, (phase + 2 * w) % width) : C0;
        TV A3 = k > 3 ? TS.Load(ref a2, (phase + 3 * w) % width) : A0, B3 = k > 3 ? TS.Load(ref b2, (phase + 3 * w) % width) : B0, C3 = k > 3 ? TS.Load(ref c2, (phase + 3 * w) % width) : C0;
        nint p = head;
        for (; p + width <= total; p += width)
        {
            FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, p), A0, B0, C0, ref x, p, residual), ref y, p);
            if (k > 1) FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, p + w), A1, B1, C1, ref x, p + w, residual), ref y, p + w);
            if (k > 2) FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, p + 2 * w), A2, B2, C2, ref x, p + 2 * w, residual), ref y, p + 2 * w);
            if (k > 3) FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, p + 3 * w), A3, B3, C3, ref x, p + 3 * w, residual), ref y, p + 3 * w);
        }
        // Fewer than a row left (after a peel: without one the range is whole rows).
        for (int j = 0; p + w <= total; p += w, j++)
        {
            TV A = j == 0 ? A0 : j == 1 ? A1 : j == 2 ? A2 : A3, B = j == 0 ? B0 : j == 1 ? B1 : j == 2 ? B2 : B3, C = j == 0 ? C0 : j == 1 ? C1 : j == 2 ? C2 : C3;
            FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, p), A, B, C, ref x, p, residual), ref y, p);
        }
        if (p < total)
        {
            // The last w elements end a row: columns width - w .. width - 1.
            nint t = total - w;
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, t), TS.Load(ref a2, width - w), TS.Load(ref b2, width - w), TS.Load(ref c2, width - w), ref x, t, residual);
            Runs<TS, TV, T>.StoreLanes(r, ref y, p, total, t);
        }
        return true;
    }

    /// <summary>Rows <see cref="FlatRows{TC, TW, TE}"/> takes together where a row is five to eight vectors.</summary>
    private const int TileRows = 4;

    /// <summary>
    /// <paramref name="tiles"/> groups of <see cref="TileRows"/> rows of <paramref name="width"/> (five to eight vectors) from
    /// <paramref name="start"/>: for each pair of column vectors, its six coefficient vectors loaded once (vector j's at j of
    /// <paramref name="a"/>, <paramref name="b"/>, <paramref name="c"/>: the doubled copies at the rows' phase) and held for
    /// the group's rows. The same expression per element as the flat range, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void FlatTiles<TC, TW, TE>(ref T x, ref T y, nint start, nint tiles, nint width, ref T a, ref T b, ref T c, nint residual)
        where TC : struct, IOperand where TW : struct, IStores where TE : struct, INormKind
    {
        int w = TS.Count;
        nint end = start + tiles * TileRows * width;
        for (nint t = start; t < end; t += TileRows * width)
        {
            nint j = 0;
            for (; j + 2 * w <= width; j += 2 * w)
            {
                TV A0 = TS.Load(ref a, j), B0 = TS.Load(ref b, j), C0 = TC.Lanes ? TS.Load(ref c, j) : TS.Zero;
                TV A1 = TS.Load(ref a, j + w), B1 = TS.Load(ref b, j + w), C1 = TC.Lanes ? TS.Load(ref c, j + w) : TS.Zero;
                nint at = t + j;
                for (int i = 0; i < TileRows; i++, at += width)
                {
                    FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, at), A0, B0, C0, ref x, at, residual), ref y, at);
                    FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, at + w), A1, B1, C1, ref x, at + w, residual), ref y, at + w);
                }
            }
            if (j < width)
            {
                TV A0 = TS.Load(ref a, j), B0 = TS.Load(ref b, j), C0 = TC.Lanes ? TS.Load(ref c, j) : TS.Zero;
                nint at = t + j;
                for (int i = 0; i < TileRows; i++, at += width)
                    FlatStore<TW>(FlatExpression<TC, TE>(TS.Load(ref x, at), A0, B0, C0, ref x, at, residual), ref y, at);
            }
        }
    }

    /// <summary>Stores the lanes of <paramref name="v"/> (a vector computed at <paramref name="vectorAt"/>) that fall on
    /// [<paramref name="start"/>, <paramref name="end"/>) one by one: the streamed runs' peel and tail, which must neither
    /// store nor load a whole vector there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreLanes(TV v, ref T y, nint start, nint end, nint vectorAt)
    {
        ref T lanes = ref Unsafe.As<TV, T>(ref v);
        for (nint i = start; i < end; i++)
            Unsafe.Add(ref y, i) = Unsafe.Add(ref lanes, i - vectorAt);
    }

    /// <summary>Writes the <paramref name="width"/> coefficients at <paramref name="source"/> at <paramref name="target"/>
    /// and their first ones again after them, so a vector that starts anywhere in a row reads its columns without wrapping.
    /// Every caller's vectors start at a phase (columns into a row) below one 64-byte line's elements (the peel to a
    /// boundary of x or of the output), so none reads past width + 64 / sizeof(T) - 1: that many are written again, not the
    /// whole row (the three copies of InstanceNorm NHWC S2's 512-channel blocks, 6 KB a block instead of 12; one process
    /// alternating, AMD Zen 5, 1 thread: InstanceNorm NHWC S2 0.977-0.988 of the time, GroupNorm NHWC S2 0.992, BatchNorm
    /// training and backward NHWC S2 0.999). Block copies: element by element (a load and two stores each) the three copies
    /// of a 512-channel block cost as much as a tenth of the block's apply; InstanceNorm NHWC S2 (32 blocks of 49 rows of
    /// 512), one process alternating, both orders: 128-131 -> 119-121 us; GroupNorm NHWC S2 131 -> 122, BatchNorm training
    /// NHWC S2 136 -> 123.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Doubled(ref T source, ref T target, nint width)
    {
        var row = MemoryMarshal.CreateReadOnlySpan(ref source, (int)width);
        row.CopyTo(MemoryMarshal.CreateSpan(ref target, (int)width));
        int again = (int)System.Math.Min(width, 64 / Unsafe.SizeOf<T>());
        row[..again].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref target, width), again));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FlatExpression<TC, TE>(TV v, TV a, TV b, TV c, ref T x, nint at, nint residual) where TC : struct, IOperand where TE : struct, INormKind =>
        Epilogue<TE>(TS.MultiplyAdd(TC.Lanes ? TS.Subtract(v, c) : v, a, b), ref x, at, residual);

    /// <summary>The kind's epilogue on an output vector: the residual (at byte offset <paramref name="residual"/> from x) added,
    /// then the activation; nothing for the plain kinds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Epilogue<TE>(TV r, ref T x, nint at, nint residual) where TE : struct, INormKind
    {
        if (TE.AddsResidual) r = TS.Add(r, TS.Load(ref Unsafe.AddByteOffset(ref x, residual), at));
        return TE.Epilogue ? TE.Activate<TS, TV, T>(r) : r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FlatStore<TW>(TV v, ref T y, nint at) where TW : struct, IStores
    {
        if (TW.Streaming) TS.StoreStreaming(v, ref y, at);
        else TS.Store(v, ref y, at);
    }

    /// <summary><c>y = ((x - c) * a + b) * g + h</c> (uncentered: <c>(x * a + b) * g + h</c>): the statistic's coefficients
    /// (<typeparamref name="TA"/>) then the affine parameters (<typeparamref name="TP"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyAffine<TK, TW, TA, TP>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual = 0)
        where TK : struct, INormKind where TW : struct, IStores where TA : struct, IOperand where TP : struct, IOperand
    {
        if (TK.Centered) ApplyCore<Centered, TW, TA, Centered, TP, TK>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual);
        else ApplyCore<Uncentered, TW, TA, Centered, TP, TK>(ref x, ref y, len, ref a, ref b, ref a, ref g, ref h, residual);
    }

    // TC: centered (x - c); TW: how y is stored; TA: how a, b, c arrive; TG: whether g, h apply (Centered = yes); TP: how g, h arrive.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ApplyCore<TC, TW, TA, TG, TP, TE>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual,
        bool peelToGamma = false)
        where TC : struct, IOperand where TW : struct, IStores where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind
    {
        // Streamed runs live in their own method: its code here would count against the inlining budget of every layer's
        // nest that inlines this run, streamed or not (GroupNorm NHWC S1 ran at twice its time when Expression stopped inlining).
        if (TW.Streaming && TS.Count > 1 && ApplyStreamed<TC, TA, TG, TP, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual)) return;
        // So does the stored loop of a kind with an epilogue (an activation, a residual added): inlined into a fused layer's
        // nest, its Expression was left a call once a vector (GroupNorm + SiLU, LayerNorm with the residual; CodegenTests).
        // And the norm a fused backward recomputes (Recomputed, INormKind.OwnApply), for the same reason.
        if (TE.Epilogue || TE.AddsResidual || TE.OwnApply) OwnApplyStored<TC, TW, TA, TG, TP, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual, peelToGamma);
        else ApplyStored<TC, TW, TA, TG, TP, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual, peelToGamma);
    }

    /// <summary><see cref="ApplyStored"/> as a method of its own (kinds with an epilogue).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OwnApplyStored<TC, TW, TA, TG, TP, TE>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual,
        bool peelToGamma)
        where TC : struct, IOperand where TW : struct, IStores where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind =>
        ApplyStored<TC, TW, TA, TG, TP, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual, peelToGamma);

    /// <summary><see cref="ApplyCore"/>'s loop with y stored normally (a streamed call's run too short to stream).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ApplyStored<TC, TW, TA, TG, TP, TE>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual,
        bool peelToGamma)
        where TC : struct, IOperand where TW : struct, IStores where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w;
        // A run shorter than a vector: its own method (one more site of the expression here took the 128-bit path's fused
        // kinds past the JIT's inlining budget).
        if (w > 1 && len < w)
        {
            ShortRun<TC, TA, TG, TP, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, residual);
            return;
        }
        TV va = TA.Lanes ? TS.Zero : TS.Splat(a), vb = TA.Lanes ? TS.Zero : TS.Splat(b);
        TV vc = TA.Lanes || !TC.Lanes ? TS.Zero : TS.Splat(c);
        TV vg = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(g), vh = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(h);
        // The refs advance with the run (reassigned here: a helper would move only its own copies) and every load is at a constant offset from one of them: with up to eight
        // streams, indices shared between them would be common subexpressions the JIT keeps in registers, and spills.
        nint n = len;
        // The peel aligns x's loads, or (peelToGamma, gamma and beta loaded along the run) gamma's and beta's: see ApplyRow.
        nint head = !TW.Streaming && w > 1 && n * Unsafe.SizeOf<T>() >= PeelBytes ? LoadPeel(ref peelToGamma && TG.Lanes && TP.Lanes ? ref g : ref x) : 0;
        // A run that ends off a vector boundary (at least a vector long) stores its last vector whole, computed here before
        // anything is stored (in place, from x as given): its lanes before the tail are the values the loops store there
        // (the same elementwise expression of the same inputs, so the same bits). Blending the tail into what y holds
        // instead reads back lines just stored, and that load waits for the stores to retire: InstanceNorm, GroupNorm and
        // BatchNorm NCHW S5 (planes of 256 off a vector boundary, so peeled, so a tail) 1,040-1,090 -> 930-950 ns a call,
        // a decode-step LayerNorm [1, 768] 136 -> 132 ns (AMD Zen 5, 1 thread, one process, alternating).
        bool whole = w > 1 && len >= w && ((len - head) & (w - 1)) != 0;
        TV last = whole ? Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, len - w), len - w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual) : TS.Zero;
        // A long run stored normally starts at x's next vector boundary (up to 64 bytes): the elements before it from
        // one vector at the run's start, blended with what y holds past them (in place, x's own values, read before
        // anything is stored); from there on no load of x straddles two cache lines (see PeelBytes).
        if (head != 0)
        {
            TV r = Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, 0), 0, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual);
            TS.Store(TS.Select(TS.LastLanes(w - head), TS.Load(ref y, 0), r), ref y, 0);
            n -= head;
            x = ref Unsafe.Add(ref x, head);
            y = ref Unsafe.Add(ref y, head);
            if (TA.Lanes)
            {
                a = ref Unsafe.Add(ref a, head);
                b = ref Unsafe.Add(ref b, head);
                if (TC.Lanes) c = ref Unsafe.Add(ref c, head);
            }
            if (TG.Lanes && TP.Lanes)
            {
                g = ref Unsafe.Add(ref g, head);
                h = ref Unsafe.Add(ref h, head);
            }
        }
        for (; n >= step; n -= step)
        {
            TV v0 = TS.Load(ref x, 0), v1 = TS.Load(ref x, w), v2 = TS.Load(ref x, 2 * w), v3 = TS.Load(ref x, 3 * w);
            TS.Store(Expression<TC, TA, TG, TP, TE>(v0, 0, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 0);
            TS.Store(Expression<TC, TA, TG, TP, TE>(v1, w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, w);
            TS.Store(Expression<TC, TA, TG, TP, TE>(v2, 2 * w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 2 * w);
            TS.Store(Expression<TC, TA, TG, TP, TE>(v3, 3 * w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 3 * w);
            x = ref Unsafe.Add(ref x, step);
            y = ref Unsafe.Add(ref y, step);
            if (TA.Lanes)
            {
                a = ref Unsafe.Add(ref a, step);
                b = ref Unsafe.Add(ref b, step);
                if (TC.Lanes) c = ref Unsafe.Add(ref c, step);
            }
            if (TG.Lanes && TP.Lanes)
            {
                g = ref Unsafe.Add(ref g, step);
                h = ref Unsafe.Add(ref h, step);
            }
        }
        for (; n >= w; n -= w)
        {
            TS.Store(Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, 0), 0, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 0);
            x = ref Unsafe.Add(ref x, w);
            y = ref Unsafe.Add(ref y, w);
            if (TA.Lanes)
            {
                a = ref Unsafe.Add(ref a, w);
                b = ref Unsafe.Add(ref b, w);
                if (TC.Lanes) c = ref Unsafe.Add(ref c, w);
            }
            if (TG.Lanes && TP.Lanes)
            {
                g = ref Unsafe.Add(ref g, w);
                h = ref Unsafe.Add(ref h, w);
            }
        }
        // The run's last w elements, which start n - w (< 0) from where the refs stand, computed first (above). (A run at least
        // a vector long that is not `whole` ends on a vector boundary: n is 0 here.)
        if (whole && n > 0) TS.Store(last, ref y, n - w);
    }

    /// <summary>A run shorter than a vector (at least one element): one vector's expression of the run's elements, blended
    /// with what y holds past them, in place too (x's own values, read before the store).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ShortRun<TC, TA, TG, TP, TE>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual)
        where TC : struct, IOperand where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count;
        TV va = TA.Lanes ? TS.Zero : TS.Splat(a), vb = TA.Lanes ? TS.Zero : TS.Splat(b);
        TV vc = TA.Lanes || !TC.Lanes ? TS.Zero : TS.Splat(c);
        TV vg = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(g), vh = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(h);
        nint t = len - w;
        TV r = Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, t), t, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual);
        TS.Store(TS.Select(TS.LastLanes(len), r, TS.Load(ref y, t)), ref y, t);
    }

    /// <summary>
    /// Runs stored normally and at least this long (bytes) start at their input's vector boundary (<see cref="LoadPeel"/>):
    /// on AMD Zen 5 a 512-bit load that straddles two cache lines of data coming from L3 cost so much that a loop
    /// <c>y = x * a + b</c> over 8 MB ran 1.4-1.6x faster with x aligned than 4 bytes off (one process, alternating), and
    /// InstanceNorm NCHW S3 took 200 us with the tensor's start aligned against 305 off it. Shorter runs keep their start:
    /// the peel (one more vector, blended) would cost more than the loads it aligns.
    /// </summary>
    internal const int PeelBytes = 1024;

    /// <summary>Runs summed from at least this many bytes on read their vectors as shifted loads where they start off a vector
    /// boundary (<see cref="ISimd{TV, T}.Shift"/>). Shorter ones load plainly: LayerNorm and RMSNorm [8192, 768] (rows of
    /// 3 KB, streamed from memory) were 15-25% slower with their rows' sums shifted, while InstanceNorm NCHW S1 and S3 (planes
    /// of 12 and 16 KB) were 1.3-1.5x faster (Zen 5, 1 thread, `--quick` alternating builds).</summary>
    internal const int ShiftBytes = 4096;

    /// <summary>Lanes <paramref name="x"/> lies past the vector boundary before it (0 on one, or when x is not
    /// element-aligned): the offset of its shifted loads (<see cref="ISimd{TV, T}.Shift"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static nint ShiftOffset(ref T x)
    {
        nint head = LoadPeel(ref x);
        return head == 0 ? 0 : TS.Count - head;
    }

    /// <summary>A mask of a vector's first <paramref name="lanes"/> lanes (0 &lt; lanes &lt;= <c>TS.Count</c>): the complement of
    /// <see cref="ISimd{TV, T}.LastLanes"/> of the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV FirstLanes(nint lanes) => TS.Select(TS.LastLanes(TS.Count - lanes), TS.Zero, TS.LastLanes(TS.Count));

    /// <summary>Elements from <paramref name="x"/> to its next vector boundary (a vector aligned to its own size stays in one
    /// cache line), 0 when it is on one or when x is not element-aligned (a span cast from bytes): fewer than a vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe nint LoadPeel(ref T x)
    {
        nuint bytes = (nuint)(TS.Count * sizeof(T)), address = (nuint)Unsafe.AsPointer(ref x); // 16, 32 or 64
        return address % (nuint)sizeof(T) != 0 ? 0 : (nint)((bytes - (address & (bytes - 1))) & (bytes - 1)) / sizeof(T);
    }

    /// <summary>
    /// The apply with streaming stores, where the run allows (false, nothing written, otherwise): the elements before y's next
    /// 64-byte boundary with normal stores (the lanes of a vector one by one), then every whole vector streamed, the tail's
    /// lanes one by one from an overlapped vector. No line is stored normally between streamed ones (rows of 768 floats:
    /// 1.39 ms with the last line stored normally, 0.99 ms all streamed, 1.24 ms with normal stores), and y is never read
    /// (its lines went around the cache; the caller streams only when the output does not overlap the input). Runs long
    /// of at least Streaming.MinimumRunBytes stream, and only element-aligned outputs (a span cast from bytes can be
    /// misaligned).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool ApplyStreamed<TC, TA, TG, TP, TE>(ref T x, ref T y, nint n, ref T a, ref T b, ref T c, ref T g, ref T h, nint residual)
        where TC : struct, IOperand where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w;
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if ((long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + step || address % (nuint)sizeof(T) != 0) return false;
        HintTailLine(ref y, n);
        TV va = TA.Lanes ? TS.Zero : TS.Splat(a), vb = TA.Lanes ? TS.Zero : TS.Splat(b);
        TV vc = TA.Lanes || !TC.Lanes ? TS.Zero : TS.Splat(c);
        TV vg = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(g), vh = TP.Lanes || !TG.Lanes ? TS.Zero : TS.Splat(h);
        nint o = 0;
        for (; o < head; o += w)
        {
            TV r = Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, o), o, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual);
            Runs<TS, TV, T>.StoreLanes(r, ref y, o, o + w < head ? o + w : head, o);
        }
        // From the boundary on, the refs advance with the run and every load is at a constant offset from one of them (as in
        // ApplyCore: indices shared by up to eight streams spill).
        n -= head;
        x = ref Unsafe.Add(ref x, head);
        y = ref Unsafe.Add(ref y, head);
        if (TA.Lanes)
        {
            a = ref Unsafe.Add(ref a, head);
            b = ref Unsafe.Add(ref b, head);
            if (TC.Lanes) c = ref Unsafe.Add(ref c, head);
        }
        if (TG.Lanes && TP.Lanes)
        {
            g = ref Unsafe.Add(ref g, head);
            h = ref Unsafe.Add(ref h, head);
        }
        // The statistics pass's hints continued (see StreamedAhead).
        nint ahead = Sse.IsSupported && TS.Count * sizeof(T) >= 64 ? StreamedAhead : 0;
        for (; n >= step; n -= step)
        {
            if (ahead != 0) Prefetch(ref x, 0, ahead);
            TV v0 = TS.Load(ref x, 0), v1 = TS.Load(ref x, w), v2 = TS.Load(ref x, 2 * w), v3 = TS.Load(ref x, 3 * w);
            TS.StoreStreaming(Expression<TC, TA, TG, TP, TE>(v0, 0, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 0);
            TS.StoreStreaming(Expression<TC, TA, TG, TP, TE>(v1, w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, w);
            TS.StoreStreaming(Expression<TC, TA, TG, TP, TE>(v2, 2 * w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 2 * w);
            TS.StoreStreaming(Expression<TC, TA, TG, TP, TE>(v3, 3 * w, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, 3 * w);
            x = ref Unsafe.Add(ref x, step);
            y = ref Unsafe.Add(ref y, step);
            if (TA.Lanes)
            {
                a = ref Unsafe.Add(ref a, step);
                b = ref Unsafe.Add(ref b, step);
                if (TC.Lanes) c = ref Unsafe.Add(ref c, step);
            }
            if (TG.Lanes && TP.Lanes)
            {
                g = ref Unsafe.Add(ref g, step);
                h = ref Unsafe.Add(ref h, step);
            }
        }
        // Fewer than a step left: whole lines streamed, the vectors past them stored normally (see WholeLines; one site of
        // the expression: a second one took the 128-bit path past the JIT's inlining budget).
        nint k = 0, lines = WholeLines(n);
        for (; k + w <= n; k += w)
            StoreRest(Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, k), k, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual), ref y, k, lines);
        if (k < n)
        {
            nint t = n - w;
            TV r = Expression<TC, TA, TG, TP, TE>(TS.Load(ref x, t), t, ref a, ref b, ref c, ref g, ref h, va, vb, vc, vg, vh, ref x, residual);
            Runs<TS, TV, T>.StoreLanes(r, ref y, k, n, t);
        }
        return true;
    }

    /// <summary>
    /// Two rows that share gamma and beta (a LayerNorm or RMSNorm over the last dim, <typeparamref name="TC"/> centered or
    /// not), y streamed: each row as <see cref="ApplyStreamed{TC, TA, TG, TP, TE}"/> applies it alone (its coefficients
    /// <paramref name="a"/>, <paramref name="b"/>, <paramref name="c"/> splatted, gamma and beta along it), the same
    /// expression per element, so the same bits; but gamma's and beta's vectors are loaded once for both rows. Rows that
    /// long no longer keep x, gamma and beta in L1 between their sums and their apply, and the parameters' loads from L2 were
    /// what a row cost past its bytes (see <see cref="PairedRowBytes"/>). False, nothing written, where the two rows would
    /// not stream from the same 64-byte phase of y.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool ApplyPairStreamed<TC, TE>(ref T x, ref T y, ref T x2, ref T y2, nint n, T a, T b, T c, T a2, T b2, T c2, ref T g, ref T h)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count, step = 2 * w;
        nuint address = (nuint)Unsafe.AsPointer(ref y), address2 = (nuint)Unsafe.AsPointer(ref y2);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (w == 1 || (long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + step || address % (nuint)sizeof(T) != 0 || ((address ^ address2) & 63) != 0)
            return false;
        HintTailLine(ref y, n);
        HintTailLine(ref y2, n);
        TV va = TS.Splat(a), vb = TS.Splat(b), vc = TC.Lanes ? TS.Splat(c) : TS.Zero;
        TV va2 = TS.Splat(a2), vb2 = TS.Splat(b2), vc2 = TC.Lanes ? TS.Splat(c2) : TS.Zero;
        for (nint o = 0; o < head; o += w)
        {
            nint end = o + w < head ? o + w : head;
            StoreLanes(Expression<TC, Splat, Centered, Lanes, TE>(TS.Load(ref x, o), o, ref a, ref b, ref c, ref g, ref h, va, vb, vc, default, default, ref x, 0),
                ref y, o, end, o);
            StoreLanes(Expression<TC, Splat, Centered, Lanes, TE>(TS.Load(ref x2, o), o, ref a2, ref b2, ref c2, ref g, ref h, va2, vb2, vc2, default, default, ref x2, 0),
                ref y2, o, end, o);
        }
        // The second row's lines StreamedAhead on hinted (the rows after the pair, as a row alone hints its own run on).
        nint ahead = Sse.IsSupported && w * sizeof(T) >= 64 ? StreamedAhead : 0;
        nint i = head;
        for (; i + step <= n; i += step)
        {
            if (ahead != 0) Prefetch(ref x2, i, ahead);
            PairVector<TC, TE>(ref x, ref y, ref x2, ref y2, i, ref g, ref h, va, vb, vc, va2, vb2, vc2);
            PairVector<TC, TE>(ref x, ref y, ref x2, ref y2, i + w, ref g, ref h, va, vb, vc, va2, vb2, vc2);
        }
        for (nint lines = head + WholeLines(n - head); i + w <= n; i += w)
        {
            TV gv = TS.Load(ref g, i), hv = TS.Load(ref h, i);
            StoreRest(Expression<TC, Splat, Centered, Splat, TE>(TS.Load(ref x, i), i, ref a, ref b, ref c, ref g, ref h, va, vb, vc, gv, hv, ref x, 0), ref y, i, lines);
            StoreRest(Expression<TC, Splat, Centered, Splat, TE>(TS.Load(ref x2, i), i, ref a2, ref b2, ref c2, ref g, ref h, va2, vb2, vc2, gv, hv, ref x2, 0), ref y2, i, lines);
        }
        if (i < n)
        {
            nint t = n - w;
            StoreLanes(Expression<TC, Splat, Centered, Lanes, TE>(TS.Load(ref x, t), t, ref a, ref b, ref c, ref g, ref h, va, vb, vc, default, default, ref x, 0),
                ref y, i, n, t);
            StoreLanes(Expression<TC, Splat, Centered, Lanes, TE>(TS.Load(ref x2, t), t, ref a2, ref b2, ref c2, ref g, ref h, va2, vb2, vc2, default, default, ref x2, 0),
                ref y2, i, n, t);
        }
        return true;
    }

    /// <summary>One column vector of <see cref="ApplyPairStreamed{TC, TE}"/>'s body: gamma and beta loaded once, each row's
    /// y streamed (the expression with gamma and beta given as loaded: the same operations as loaded inside it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairVector<TC, TE>(ref T x, ref T y, ref T x2, ref T y2, nint at, ref T g, ref T h, TV va, TV vb, TV vc, TV va2, TV vb2, TV vc2)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        TV gv = TS.Load(ref g, at), hv = TS.Load(ref h, at);
        TV v = TS.Load(ref x, at), v2 = TS.Load(ref x2, at);
        TS.StoreStreaming(Expression<TC, Splat, Centered, Splat, TE>(v, at, ref g, ref g, ref g, ref g, ref h, va, vb, vc, gv, hv, ref x, 0), ref y, at);
        TS.StoreStreaming(Expression<TC, Splat, Centered, Splat, TE>(v2, at, ref g, ref g, ref g, ref g, ref h, va2, vb2, vc2, gv, hv, ref x2, 0), ref y2, at);
    }

    /// <summary>
    /// Where a streamed run's whole 64-byte lines end: <paramref name="n"/> elements from a 64-byte boundary, the whole
    /// lines' elements. A streamed apply stores its vectors past this point normally: a vector narrower than a line (the
    /// 256- and 128-bit paths) streamed there would share its line with the next run's head, stored normally, and a line
    /// written both ways costs far more than either (AMD Zen 5, AVX2 path, LayerNorm [8192, 768]: 1.16-1.23 ms with the
    /// output 64-byte aligned, 2.05-2.14 ms 32 bytes off, every row's last half line streamed and the next row's first
    /// half not). On the 512-bit path a vector is a line and nothing changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static nint WholeLines(nint n) => n & ~(nint)(64 / Unsafe.SizeOf<T>() - 1);

    /// <summary>
    /// Hints into the cache the line holding a streamed run's last element, where the run ends inside a line: that line
    /// is stored normally (the run's tail, then the next run's head), and a normal store to a line not in cache waits for
    /// the line to be read (each store after it waits in order), once a run. Hinted when the run starts, the line is there
    /// by its end. AMD Zen 5, 1 thread, the output 16 bytes off a line: LayerNorm [8192, 768] 1.28 -> 1.09 and 1.42 -> 1.32 ms
    /// (AVX2 path 1.51 -> 1.24), BatchNorm training NCHW S1 3%, InstanceNorm NCHW S1 even (AVX2 6%); with the output on a
    /// line boundary nothing is hinted (the runs end on one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void HintTailLine(ref T y, nint n)
    {
        if (!Sse.IsSupported) return;
        byte* end = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref y, n));
        if (((nuint)end & 63) != 0) Sse.Prefetch0(end - 1);
    }

    /// <summary>A streamed run's vector at <paramref name="at"/> after its unrolled steps: streamed within the whole lines
    /// (<paramref name="lines"/>, see <see cref="WholeLines"/>), stored normally past them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreRest(TV v, ref T y, nint at, nint lines)
    {
        if (at + TS.Count <= lines) TS.StoreStreaming(v, ref y, at);
        else TS.Store(v, ref y, at);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Expression<TC, TA, TG, TP, TE>(TV v, nint at, ref T a, ref T b, ref T c, ref T g, ref T h, TV va, TV vb, TV vc, TV vg, TV vh, ref T x, nint residual)
        where TC : struct, IOperand where TA : struct, IOperand where TG : struct, IOperand where TP : struct, IOperand where TE : struct, INormKind
    {
        TV A = TA.Lanes ? TS.Load(ref a, at) : va, B = TA.Lanes ? TS.Load(ref b, at) : vb;
        TV d = TC.Lanes ? TS.Subtract(v, TA.Lanes ? TS.Load(ref c, at) : vc) : v;
        TV r = TS.MultiplyAdd(d, A, B);
        if (TG.Lanes)
            r = TS.MultiplyAdd(r, TP.Lanes ? TS.Load(ref g, at) : vg, TP.Lanes ? TS.Load(ref h, at) : vh);
        return Epilogue<TE>(r, ref x, at, residual);
    }

    // Internal flags reuse the operand vocabulary: Lanes = yes, Splat = no.
    private readonly struct Centered : IOperand
    {
        public static bool Lanes => true;
    }

    private readonly struct Uncentered : IOperand
    {
        public static bool Lanes => false;
    }
}
