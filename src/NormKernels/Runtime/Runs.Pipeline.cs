using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

public static partial class Runs<TS, TV, T>
{
    /// <summary>
    /// Two runs of <paramref name="len"/> elements at once, step by step: the streamed apply of one (<c>y = (x - c) * a + b</c>,
    /// one coefficient set, with <typeparamref name="TG"/> <see cref="Lanes"/> then times gamma <paramref name="g"/> plus beta
    /// <paramref name="h"/> along the run (LayerNorm and RMSNorm rows: as the rows' own apply), then <typeparamref name="TK"/>'s
    /// epilogue; as <see cref="Apply{TK, TW, TA}"/> with streaming stores and <see cref="Splat"/> coefficients) and the sums of
    /// the other (as <see cref="Reduce{TK}"/>, each unrolled step
    /// hinting the lines <paramref name="ahead"/> bytes on into L1 as <see cref="ReduceCore{TC}"/> does, or none for 0).
    /// Each is the same arithmetic in the same order as on its own, so the same bits;
    /// interleaved, the next row's reads from memory overlap this row's streaming stores (a core that only streams out
    /// leaves its read bandwidth idle, and the other way around). False, nothing done, where the apply would not stream
    /// (a short or element-misaligned output run). Runs past <see cref="ReversedApplyBytes"/> on the 512-bit path are applied
    /// from their end back.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool ApplyReduce<TK, TG>(ref T x, ref T y, nint len, T a, T b, T c, ref T g, ref T h, ref T p, T shift, ref double sum, ref double sq,
        nint ahead) where TK : struct, INormKind where TG : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (w == 1 || (long)len * sizeof(T) < Streaming.MinimumRunBytes || len < head + step || address % (nuint)sizeof(T) != 0) return false;
        HintTailLine(ref y, len);
        TV va = TS.Splat(a), vb = TS.Splat(b), vc = TK.Centered ? TS.Splat(c) : TS.Zero;
        // The apply's head: the elements before y's 64-byte boundary, lane by lane (as ApplyStreamed).
        for (nint o = 0; o < head; o += w)
            StoreLanes(Pipelined<TK, TG>(TS.Load(ref x, o), va, vb, vc, ref x, ref g, ref h, o), ref y, o, o + w < head ? o + w : head, o);
        nint n = len - head;
        x = ref Unsafe.Add(ref x, head);
        y = ref Unsafe.Add(ref y, head);
        if (TG.Lanes)
        {
            g = ref Unsafe.Add(ref g, head);
            h = ref Unsafe.Add(ref h, head);
        }
        // The apply's whole steps, then its rest. Runs past ReversedApplyBytes (512-bit path): the steps from the last back
        // to the first.
        nint body = n / step * step, rest = n - body, dir = step;
        ref T xRest = ref Unsafe.Add(ref x, body);
        ref T yRest = ref Unsafe.Add(ref y, body);
        ref T gRest = ref TG.Lanes ? ref Unsafe.Add(ref g, body) : ref g;
        ref T hRest = ref TG.Lanes ? ref Unsafe.Add(ref h, body) : ref h;
        n = body;
        if (w * sizeof(T) == 64 && (long)len * sizeof(T) > ReversedApplyBytes)
        {
            x = ref Unsafe.Add(ref x, body - step);
            y = ref Unsafe.Add(ref y, body - step);
            if (TG.Lanes)
            {
                g = ref Unsafe.Add(ref g, body - step);
                h = ref Unsafe.Add(ref h, body - step);
            }
            dir = -step;
        }

        // The sums' loop is ReduceCore's written out again (plain loads: the same values as its shifted ones). One loop shared
        // through a step hook (a ref struct holding the apply's refs, a step after each step of the sums) kept the refs on
        // the stack and took the shifted loads' permutes beside the apply: InstanceNorm NCHW S1 20-35% slower (Zen 5).
        TV k = TS.Splat(shift);
        double s = 0d, q = 0d;
        for (nint chunk = 0; chunk < len; chunk += chunkLength)
        {
            nint end = len - chunk > chunkLength ? chunk + chunkLength : len;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
            TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                if (ahead != 0) Prefetch(ref p, i, ahead);
                TV v0 = TS.Load(ref p, i), v1 = TS.Load(ref p, i + w), v2 = TS.Load(ref p, i + 2 * w), v3 = TS.Load(ref p, i + 3 * w);
                if (TK.Centered)
                {
                    Accumulate<Centered>(v0, k, ref s0, ref q0);
                    Accumulate<Centered>(v1, k, ref s1, ref q1);
                    Accumulate<Centered>(v2, k, ref s2, ref q2);
                    Accumulate<Centered>(v3, k, ref s3, ref q3);
                }
                else
                {
                    Accumulate<Uncentered>(v0, k, ref s0, ref q0);
                    Accumulate<Uncentered>(v1, k, ref s1, ref q1);
                    Accumulate<Uncentered>(v2, k, ref s2, ref q2);
                    Accumulate<Uncentered>(v3, k, ref s3, ref q3);
                }
                // One step of the apply beside each step of the sums.
                if (n >= step)
                {
                    StreamStep<TK, TG>(ref x, ref y, ref g, ref h, va, vb, vc);
                    x = ref Unsafe.Add(ref x, dir);
                    y = ref Unsafe.Add(ref y, dir);
                    if (TG.Lanes)
                    {
                        g = ref Unsafe.Add(ref g, dir);
                        h = ref Unsafe.Add(ref h, dir);
                    }
                    n -= step;
                }
            }
            for (; i + w <= end; i += w)
            {
                if (TK.Centered) Accumulate<Centered>(TS.Load(ref p, i), k, ref s0, ref q0);
                else Accumulate<Uncentered>(TS.Load(ref p, i), k, ref s0, ref q0);
            }
            if (i < end)
            {
                if (TK.Centered) AccumulateMasked<Centered>(TS.Load(ref p, end - w), k, TS.LastLanes(end - i), ref s0, ref q0);
                else AccumulateMasked<Uncentered>(TS.Load(ref p, end - w), k, TS.LastLanes(end - i), ref s0, ref q0);
            }
            double cs = TK.Centered ? TS.SumWidened(TS.Add(TS.Add(s0, s1), TS.Add(s2, s3))) : 0d, cq = TS.SumWidened(TS.Add(TS.Add(q0, q1), TS.Add(q2, q3)));
            if (chunk == 0)
            {
                s = cs;
                q = cq;
            }
            else
            {
                if (TK.Centered) s += cs;
                q += cq;
            }
        }
        if (TK.Centered) sum += s;
        sq += q;

        // The rest of the apply (the sums' run ran out first: the apply started past its head).
        if (n >= step) StreamSteps<TK, TG>(ref x, ref y, ref g, ref h, n, dir, va, vb, vc);
        ApplyRest<TK, TG>(ref xRest, ref yRest, ref gRest, ref hRest, rest, va, vb, vc);
        return true;
    }

    /// <summary>
    /// Blocks of more bytes than this take their apply beside the next block's sums (<see cref="ApplyReduce{TK, TG}"/>,
    /// <see cref="ApplyRunsReduce{TK}"/>, <see cref="ApplyReduceRows{TK}"/>; the 512-bit path) from the block's end back to
    /// its start. The sums read the next block from its start while the apply goes back over this one, so the apply's
    /// first loads are of the lines the sums read last. Forwards, every line of a block is read again a whole block after the sums read it, and from about 16 KB
    /// that is further back than L1 keeps it beside the next block's lines (a model here: a streamed pass whose loads come
    /// from L2 took 1.46-1.50x the time of its stores alone, from L1 1.02x; hints 256 B-2 KB ahead did not help). The same
    /// expression per element in either order, so the same bits. AMD Zen 5, one process alternating both orders (medians of
    /// 21 rounds), 1 thread: LayerNorm over C,H,W 32x64x56x56 (a sample of 800 KB a block) 0.83-0.88 of the time,
    /// GroupNorm(32) NCHW on it (blocks of 25 KB) 0.92-0.96, GroupNorm(16) (50 KB) 0.98-1.04; InstanceNorm NCHW over 25.7 MB
    /// in planes of 31 KB 0.95-0.99, of 50 KB 0.92-0.95, of 12.5 and 16 KB (forwards either way) 0.95-1.02 (against the
    /// apply as it was); channels last, a sample of 800 KB a block: InstanceNorm NHWC S1 0.86-0.93, GroupNorm(32) NHWC S1
    /// 0.79-0.90; 2 threads 0.91 (GroupNorm(32) NCHW), 0.98-0.99 (the others). On the 256-bit path
    /// InstanceNorm's planes of 20-31 KB ran 1.03-1.17x the time backwards (50 KB 0.86-0.91): it keeps them forwards.
    /// </summary>
    internal const int ReversedApplyBytes = 16 << 10;

    /// <summary>The last n (fewer than a step's) elements of <see cref="ApplyReduce{TK, TG}"/>'s apply: whole vectors, streamed
    /// where they fill lines, then a last partial vector blended (its load reaches back into the steps' elements: lanes not
    /// stored).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // once a run; left to the inlining budget it ran at tier 0
    private static void ApplyRest<TK, TG>(ref T x, ref T y, ref T g, ref T h, nint n, TV va, TV vb, TV vc) where TK : struct, INormKind where TG : struct, IOperand
    {
        int w = TS.Count;
        nint j = 0, lines = WholeLines(n);
        for (; j + w <= n; j += w)
            StoreRest(Pipelined<TK, TG>(TS.Load(ref x, j), va, vb, vc, ref x, ref g, ref h, j), ref y, j, lines);
        if (j < n)
        {
            nint t = n - w;
            StoreLanes(Pipelined<TK, TG>(TS.Load(ref x, t), va, vb, vc, ref x, ref g, ref h, t), ref y, j, n, t);
        }
    }

    /// <summary>The <paramref name="n"/> elements (whole steps) of <see cref="ApplyReduce{TK, TG}"/>'s apply left when its sums ran
    /// out, a step at a time <paramref name="dir"/> apart; in a method of its own (once a run), so that the loop beside the
    /// sums keeps the inlining budget.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void StreamSteps<TK, TG>(ref T x, ref T y, ref T g, ref T h, nint n, nint dir, TV va, TV vb, TV vc)
        where TK : struct, INormKind where TG : struct, IOperand
    {
        int step = Unroll * TS.Count;
        for (; n >= step; n -= step)
        {
            StreamStep<TK, TG>(ref x, ref y, ref g, ref h, va, vb, vc);
            x = ref Unsafe.Add(ref x, dir);
            y = ref Unsafe.Add(ref y, dir);
            if (TG.Lanes)
            {
                g = ref Unsafe.Add(ref g, dir);
                h = ref Unsafe.Add(ref h, dir);
            }
        }
    }

    /// <summary>One unrolled step of the streamed apply at <paramref name="x"/> and <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StreamStep<TK, TG>(ref T x, ref T y, ref T g, ref T h, TV va, TV vb, TV vc) where TK : struct, INormKind where TG : struct, IOperand
    {
        int w = TS.Count;
        TV u0 = TS.Load(ref x, 0), u1 = TS.Load(ref x, w), u2 = TS.Load(ref x, 2 * w), u3 = TS.Load(ref x, 3 * w);
        TS.StoreStreaming(Pipelined<TK, TG>(u0, va, vb, vc, ref x, ref g, ref h, 0), ref y, 0);
        TS.StoreStreaming(Pipelined<TK, TG>(u1, va, vb, vc, ref x, ref g, ref h, w), ref y, w);
        TS.StoreStreaming(Pipelined<TK, TG>(u2, va, vb, vc, ref x, ref g, ref h, 2 * w), ref y, 2 * w);
        TS.StoreStreaming(Pipelined<TK, TG>(u3, va, vb, vc, ref x, ref g, ref h, 3 * w), ref y, 3 * w);
    }

    /// <summary><see cref="Pipelined{TK}"/>, with <typeparamref name="TG"/> <see cref="Lanes"/> then times gamma plus beta along
    /// the run (the rows' own apply: <c>Expression</c> with one coefficient set and gamma and beta loaded at
    /// <paramref name="at"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Pipelined<TK, TG>(TV v, TV va, TV vb, TV vc, ref T x, ref T g, ref T h, nint at) where TK : struct, INormKind where TG : struct, IOperand
    {
        ref T none = ref Unsafe.NullRef<T>();
        if (!TG.Lanes)
            return TK.Centered
                ? Expression<Centered, Splat, Uncentered, Splat, TK>(v, at, ref none, ref none, ref none, ref none, ref none, va, vb, vc, TS.Zero, TS.Zero, ref x, 0)
                : Expression<Uncentered, Splat, Uncentered, Splat, TK>(v, at, ref none, ref none, ref none, ref none, ref none, va, vb, vc, TS.Zero, TS.Zero, ref x, 0);
        return TK.Centered
            ? Expression<Centered, Splat, Centered, Lanes, TK>(v, at, ref none, ref none, ref none, ref g, ref h, va, vb, vc, TS.Zero, TS.Zero, ref x, 0)
            : Expression<Uncentered, Splat, Centered, Lanes, TK>(v, at, ref none, ref none, ref none, ref g, ref h, va, vb, vc, TS.Zero, TS.Zero, ref x, 0);
    }

    /// <summary><see cref="Expression{TC, TA, TG, TP, TE}"/> with one coefficient set and no second affine step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Pipelined<TK>(TV v, TV va, TV vb, TV vc, ref T x, nint at) where TK : struct, INormKind
    {
        ref T none = ref Unsafe.NullRef<T>();
        return TK.Centered
            ? Expression<Centered, Splat, Uncentered, Splat, TK>(v, at, ref none, ref none, ref none, ref none, ref none, va, vb, vc, TS.Zero, TS.Zero, ref x, 0)
            : Expression<Uncentered, Splat, Uncentered, Splat, TK>(v, at, ref none, ref none, ref none, ref none, ref none, va, vb, vc, TS.Zero, TS.Zero, ref x, 0);
    }

    /// <summary>Whether <see cref="ApplyReduceRows{TK}"/> takes blocks of <paramref name="rows"/> rows of <paramref name="width"/>
    /// (a vector path, rows of whole vectors up to <see cref="FlatWidth"/>, a block of at least
    /// <see cref="Streaming.MinimumRunBytes"/> and two rows); it also declines where the thread is short of stack for the
    /// doubled coefficients or the output is not element-aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool PipelinesRows(nint rows, nint width) =>
        TS.Count > 1 && width > 0 && width % TS.Count == 0 && width <= FlatWidth && rows >= 2 && (long)rows * width * sizeof(T) >= Math.Max(Streaming.MinimumRunBytes, 64 + 2 * width * sizeof(T));

    /// <summary>
    /// Channels-last blocks pipelined: the streamed flat apply of one block's <paramref name="rows"/> rows of
    /// <paramref name="width"/> (as <see cref="ApplyRows{TK, TW}"/> with streaming stores, its coefficients loaded from the
    /// doubled copies) beside the column sums of the next block's rows at <paramref name="p"/> (as
    /// <see cref="ReduceColumns{TK}(ref T, nint, nint, ref T, ref double, ref double)"/>, hinting its lines
    /// <see cref="PrefetchAhead"/> on), a step of the apply after each step of the sums. Each is the same arithmetic in the same
    /// order as on its own, so the same bits. Interleaved step by step, the next block's reads from memory overlap this
    /// block's streaming stores; in passes of their own (or chunks of 4-64 KB) each leaves half the memory's bandwidth idle
    /// (see the remarks of <see cref="Forward{TNest, TK, T}"/>'s pipelined unit). False, nothing done, where the apply would not
    /// run as one streamed flat range (rows of part vectors or over <see cref="FlatWidth"/> wide, a short or misaligned output).
    /// Blocks past <see cref="ReversedApplyBytes"/> on the 512-bit path are applied from their end back.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe bool ApplyReduceRows<TK>(ref T x, ref T y, nint rows, nint width, ref T a, ref T b, ref T c, nint residual,
        ref T p, ref T shift, ref double sum, ref double sq) where TK : struct, INormKind
    {
        int w = TS.Count;
        nint total = rows * width;
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (!PipelinesRows(rows, width) || (width > 256 && !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            || address % (nuint)sizeof(T) != 0 || total < head + width + w)
            return false;
        // Blocks past ReversedApplyBytes (512-bit path): the apply from the block's end back.
        if (w * sizeof(T) == 64 && (long)total * sizeof(T) > ReversedApplyBytes)
        {
            if (TK.Centered) ApplyReduceRowsBackCore<Centered, TK>(ref x, ref y, rows, width, head, ref a, ref b, ref c, residual, ref p, ref shift, ref sum, ref sq);
            else ApplyReduceRowsBackCore<Uncentered, TK>(ref x, ref y, rows, width, head, ref a, ref b, ref a, residual, ref p, ref Unsafe.NullRef<T>(), ref sq, ref sq);
        }
        else if (TK.Centered) ApplyReduceRowsCore<Centered, TK>(ref x, ref y, rows, width, head, ref a, ref b, ref c, residual, ref p, ref shift, ref sum, ref sq);
        else ApplyReduceRowsCore<Uncentered, TK>(ref x, ref y, rows, width, head, ref a, ref b, ref a, residual, ref p, ref Unsafe.NullRef<T>(), ref sq, ref sq);
        return true;
    }

    // Its own optimized method (one per kind): inlined into the entry it went past the JIT's budget and ran at tier 0.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ApplyReduceRowsCore<TC, TE>(ref T x, ref T y, nint rows, nint width, nint head, ref T a, ref T b, ref T c, nint residual,
        ref T p, ref T shift, ref double sum, ref double sq) where TC : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w;
        nint total = rows * width;
        // The apply's vectors start `phase` columns into a row. Their coefficients interleaved a vector at a time: slot m
        // (three vectors: a, b, c) holds the columns of a row's m-th vector from there, gathered from each coefficient written
        // twice over (as FlatRows reads them) in turn in the same scratch; the loop loads a slot from one base at fixed
        // offsets. Three streams (a2, b2, c2, each at phase + j) had the JIT reload their refs from the stack at every vector:
        // on the AVX2 path InstanceNorm NHWC S1 ran 1,000 -> 890 us (GroupNorm 986 -> 887; x and y off their lines 1,090 ->
        // 1,007), the 512-bit path even to 5% faster (AMD Zen 5, 1 thread, one process alternating, both orders; same bits).
        nint phase = head % width;
        T* unaligned = stackalloc T[5 * FlatWidth + 192 / sizeof(T)];
        T* tri = (T*)(((nint)unaligned + 63) & ~(nint)63);
        T* twice = tri + 3 * width + (w - phase % w) % w + 64 / sizeof(T);
        ref T t0 = ref Unsafe.AsRef<T>(tri);
        ref T d2 = ref Unsafe.AsRef<T>(twice);
        Interleave(ref a, ref d2, ref t0, width, phase, 0);
        Interleave(ref b, ref d2, ref t0, width, phase, 1);
        if (TC.Lanes) Interleave(ref c, ref d2, ref t0, width, phase, 2);
        for (nint o = 0; o < head; o += w)
        {
            // Columns o % width .. + w - 1 of a row (whole vectors of it: width % w == 0).
            nint col = o % width;
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, o), TS.Load(ref a, col), TS.Load(ref b, col), TC.Lanes ? TS.Load(ref c, col) : TS.Zero, ref x, o, residual);
            StoreLanes(r, ref y, o, o + w < head ? o + w : head, o);
        }
        // The apply's next vector (q) and its coefficients' slot (j, in elements: 3 vectors a slot); it runs out before the sums
        // do (head > 0) or with them.
        nint q = head, j = 0, last = total - w, width3 = 3 * width;
        nint ahead = PrefetchAhead;
        // The sums' rows read as ReduceColumnsCore reads them: shifted loads where the rows (whole lines apart) start off a
        // vector boundary (ISimd.Shifts), except where the five aligned vectors would reach outside the block.
        nint offset = TS.Shifts && width >= step && width * sizeof(T) % 64 == 0 && total * sizeof(T) >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        // The apply's x where it is not at y's phase (y's vectors start on lines): x[q] sits xOffset past a vector boundary.
        nint xOffset = TS.Shifts && total * sizeof(T) >= ShiftBytes ? ShiftOffset(ref Unsafe.Add(ref x, head)) : 0;
        TV xIndices = xOffset != 0 ? TS.ShiftIndices(xOffset) : TS.Zero;
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            nint col = 0;
            for (; col + step <= width; col += step)
            {
                TV k0 = TC.Lanes ? TS.Load(ref shift, col) : TS.Zero, k1 = TC.Lanes ? TS.Load(ref shift, col + w) : TS.Zero;
                TV k2 = TC.Lanes ? TS.Load(ref shift, col + 2 * w) : TS.Zero, k3 = TC.Lanes ? TS.Load(ref shift, col + 3 * w) : TS.Zero;
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
                TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * width + col;
                    Prefetch(ref p, o, ahead);
                    if (!TS.Shifts)
                    {
                        Accumulate<TC>(TS.Load(ref p, o), k0, ref s0, ref q0);
                        Accumulate<TC>(TS.Load(ref p, o + w), k1, ref s1, ref q1);
                        Accumulate<TC>(TS.Load(ref p, o + 2 * w), k2, ref s2, ref q2);
                        Accumulate<TC>(TS.Load(ref p, o + 3 * w), k3, ref s3, ref q3);
                    }
                    else
                    {
                        TV v0, v1, v2, v3;
                        if (offset != 0 && (r > 0 || col > 0) && (r < rows - 1 || col + step + w - offset <= width))
                        {
                            o -= offset;
                            TV a0 = TS.Load(ref p, o), a1 = TS.Load(ref p, o + w), a2v = TS.Load(ref p, o + 2 * w), a3 = TS.Load(ref p, o + 3 * w), a4 = TS.Load(ref p, o + 4 * w);
                            v0 = TS.Shift(a0, a1, indices); v1 = TS.Shift(a1, a2v, indices); v2 = TS.Shift(a2v, a3, indices); v3 = TS.Shift(a3, a4, indices);
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
                    if (q + 3 * w <= last)
                    {
                        if (TS.Shifts && xOffset != 0 && q >= xOffset && q - xOffset + 5 * w <= total)
                        {
                            // x off y's phase: five aligned vectors shifted into the four (as the sums read theirs).
                            nint xa = q - xOffset;
                            TV u0 = TS.Load(ref x, xa), u1 = TS.Load(ref x, xa + w), u2 = TS.Load(ref x, xa + 2 * w), u3 = TS.Load(ref x, xa + 3 * w), u4 = TS.Load(ref x, xa + 4 * w);
                            FlatStep<TC, TE>(TS.Shift(u0, u1, xIndices), ref x, ref y, q, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u1, u2, xIndices), ref x, ref y, q + w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u2, u3, xIndices), ref x, ref y, q + 2 * w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u3, u4, xIndices), ref x, ref y, q + 3 * w, ref t0, ref j, width3, residual);
                        }
                        else
                        {
                            FlatStep<TC, TE>(TS.Load(ref x, q), ref x, ref y, q, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, q + w), ref x, ref y, q + w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, q + 2 * w), ref x, ref y, q + 2 * w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, q + 3 * w), ref x, ref y, q + 3 * w, ref t0, ref j, width3, residual);
                        }
                        q += step;
                    }
                }
                if (TC.Lanes)
                {
                    TS.AddWidened(ref sum, col, s0); TS.AddWidened(ref sum, col + w, s1);
                    TS.AddWidened(ref sum, col + 2 * w, s2); TS.AddWidened(ref sum, col + 3 * w, s3);
                }
                TS.AddWidened(ref sq, col, q0); TS.AddWidened(ref sq, col + w, q1);
                TS.AddWidened(ref sq, col + 2 * w, q2); TS.AddWidened(ref sq, col + 3 * w, q3);
            }
            for (; col < width; col += w)
            {
                // As ColumnVector (rows of whole vectors: no masked lanes), a vector of the apply beside each row's.
                TV k = TC.Lanes ? TS.Load(ref shift, col) : TS.Zero;
                TV s = TS.Zero, qs = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * width + col;
                    if (col == 0) Prefetch(ref p, o, ahead);
                    Accumulate<TC>(TS.Load(ref p, o), k, ref s, ref qs);
                    if (q <= last)
                    {
                        FlatStep<TC, TE>(TS.Load(ref x, q), ref x, ref y, q, ref t0, ref j, width3, residual);
                        q += w;
                    }
                }
                if (TC.Lanes) TS.AddWidened(ref sum, col, s);
                TS.AddWidened(ref sq, col, qs);
            }
        }
        for (; q <= last; q += w)
            FlatStep<TC, TE>(TS.Load(ref x, q), ref x, ref y, q, ref t0, ref j, width3, residual);
        if (q < total)
        {
            // The last w elements end a row: columns width - w .. width - 1.
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, last), TS.Load(ref a, width - w), TS.Load(ref b, width - w), TC.Lanes ? TS.Load(ref c, width - w) : TS.Zero, ref x, last, residual);
            StoreLanes(r, ref y, q, total, last);
        }
    }

    // ApplyReduceRowsCore with the apply from the block's end back (see ReversedApplyBytes), written out on its own as
    // ApplyRunsReduceBackCore is: the apply's whole vectors from the last down to head (in groups of four, each group's
    // vectors in order), then the last partial vector; each vector's slot of coefficients moved back with it.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ApplyReduceRowsBackCore<TC, TE>(ref T x, ref T y, nint rows, nint width, nint head, ref T a, ref T b, ref T c, nint residual,
        ref T p, ref T shift, ref double sum, ref double sq) where TC : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w;
        nint total = rows * width;
        // The coefficients interleaved a vector at a time from the output's phase, as ApplyReduceRowsCore has them.
        nint phase = head % width;
        T* unaligned = stackalloc T[5 * FlatWidth + 192 / sizeof(T)];
        T* tri = (T*)(((nint)unaligned + 63) & ~(nint)63);
        T* twice = tri + 3 * width + (w - phase % w) % w + 64 / sizeof(T);
        ref T t0 = ref Unsafe.AsRef<T>(tri);
        ref T d2 = ref Unsafe.AsRef<T>(twice);
        Interleave(ref a, ref d2, ref t0, width, phase, 0);
        Interleave(ref b, ref d2, ref t0, width, phase, 1);
        if (TC.Lanes) Interleave(ref c, ref d2, ref t0, width, phase, 2);
        for (nint o = 0; o < head; o += w)
        {
            // Columns o % width .. + w - 1 of a row (whole vectors of it: width % w == 0).
            nint col = o % width;
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, o), TS.Load(ref a, col), TS.Load(ref b, col), TC.Lanes ? TS.Load(ref c, col) : TS.Zero, ref x, o, residual);
            StoreLanes(r, ref y, o, o + w < head ? o + w : head, o);
        }
        // The apply's next vector from the top (q) and its coefficients' slot (j, in elements: 3 vectors a slot; the vector at
        // head has slot 0); it runs out before the sums do (head > 0) or with them.
        nint last = total - w, width3 = 3 * width, whole = head + (total - head) / w * w, q = whole - w;
        nint j = (q - head) / w % (width / w) * 3 * w;
        nint ahead = PrefetchAhead;
        // The sums' rows read as ReduceColumnsCore reads them: shifted loads where the rows (whole lines apart) start off a
        // vector boundary (ISimd.Shifts), except where the five aligned vectors would reach outside the block.
        nint offset = TS.Shifts && width >= step && width * sizeof(T) % 64 == 0 && total * sizeof(T) >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        // The apply's x where it is not at y's phase (y's vectors start on lines): x[q] sits xOffset past a vector boundary.
        nint xOffset = TS.Shifts && total * sizeof(T) >= ShiftBytes ? ShiftOffset(ref Unsafe.Add(ref x, head)) : 0;
        TV xIndices = xOffset != 0 ? TS.ShiftIndices(xOffset) : TS.Zero;
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            nint col = 0;
            for (; col + step <= width; col += step)
            {
                TV k0 = TC.Lanes ? TS.Load(ref shift, col) : TS.Zero, k1 = TC.Lanes ? TS.Load(ref shift, col + w) : TS.Zero;
                TV k2 = TC.Lanes ? TS.Load(ref shift, col + 2 * w) : TS.Zero, k3 = TC.Lanes ? TS.Load(ref shift, col + 3 * w) : TS.Zero;
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
                TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * width + col;
                    Prefetch(ref p, o, ahead);
                    if (!TS.Shifts)
                    {
                        Accumulate<TC>(TS.Load(ref p, o), k0, ref s0, ref q0);
                        Accumulate<TC>(TS.Load(ref p, o + w), k1, ref s1, ref q1);
                        Accumulate<TC>(TS.Load(ref p, o + 2 * w), k2, ref s2, ref q2);
                        Accumulate<TC>(TS.Load(ref p, o + 3 * w), k3, ref s3, ref q3);
                    }
                    else
                    {
                        TV v0, v1, v2, v3;
                        if (offset != 0 && (r > 0 || col > 0) && (r < rows - 1 || col + step + w - offset <= width))
                        {
                            o -= offset;
                            TV a0 = TS.Load(ref p, o), a1 = TS.Load(ref p, o + w), a2v = TS.Load(ref p, o + 2 * w), a3 = TS.Load(ref p, o + 3 * w), a4 = TS.Load(ref p, o + 4 * w);
                            v0 = TS.Shift(a0, a1, indices); v1 = TS.Shift(a1, a2v, indices); v2 = TS.Shift(a2v, a3, indices); v3 = TS.Shift(a3, a4, indices);
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
                    if (q - 3 * w >= head)
                    {
                        // The group of four ending at q, in order from its first vector (its slot three back from q's).
                        nint g = q - 3 * w;
                        j = SlotBack(j, 3, width3);
                        if (TS.Shifts && xOffset != 0 && g >= xOffset && g - xOffset + 5 * w <= total)
                        {
                            // x off y's phase: five aligned vectors shifted into the four (as the sums read theirs).
                            nint xa = g - xOffset;
                            TV u0 = TS.Load(ref x, xa), u1 = TS.Load(ref x, xa + w), u2 = TS.Load(ref x, xa + 2 * w), u3 = TS.Load(ref x, xa + 3 * w), u4 = TS.Load(ref x, xa + 4 * w);
                            FlatStep<TC, TE>(TS.Shift(u0, u1, xIndices), ref x, ref y, g, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u1, u2, xIndices), ref x, ref y, g + w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u2, u3, xIndices), ref x, ref y, g + 2 * w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Shift(u3, u4, xIndices), ref x, ref y, g + 3 * w, ref t0, ref j, width3, residual);
                        }
                        else
                        {
                            FlatStep<TC, TE>(TS.Load(ref x, g), ref x, ref y, g, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, g + w), ref x, ref y, g + w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, g + 2 * w), ref x, ref y, g + 2 * w, ref t0, ref j, width3, residual);
                            FlatStep<TC, TE>(TS.Load(ref x, g + 3 * w), ref x, ref y, g + 3 * w, ref t0, ref j, width3, residual);
                        }
                        // Past the group: back to the slot of the vector before it.
                        j = SlotBack(j, 5, width3);
                        q -= step;
                    }
                }
                if (TC.Lanes)
                {
                    TS.AddWidened(ref sum, col, s0); TS.AddWidened(ref sum, col + w, s1);
                    TS.AddWidened(ref sum, col + 2 * w, s2); TS.AddWidened(ref sum, col + 3 * w, s3);
                }
                TS.AddWidened(ref sq, col, q0); TS.AddWidened(ref sq, col + w, q1);
                TS.AddWidened(ref sq, col + 2 * w, q2); TS.AddWidened(ref sq, col + 3 * w, q3);
            }
            for (; col < width; col += w)
            {
                // As ColumnVector (rows of whole vectors: no masked lanes), a vector of the apply beside each row's.
                TV k = TC.Lanes ? TS.Load(ref shift, col) : TS.Zero;
                TV s = TS.Zero, qs = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * width + col;
                    if (col == 0) Prefetch(ref p, o, ahead);
                    Accumulate<TC>(TS.Load(ref p, o), k, ref s, ref qs);
                    if (q >= head)
                    {
                        FlatStep<TC, TE>(TS.Load(ref x, q), ref x, ref y, q, ref t0, ref j, width3, residual);
                        j = SlotBack(j, 2, width3);
                        q -= w;
                    }
                }
                if (TC.Lanes) TS.AddWidened(ref sum, col, s);
                TS.AddWidened(ref sq, col, qs);
            }
        }
        for (; q >= head; q -= w)
        {
            FlatStep<TC, TE>(TS.Load(ref x, q), ref x, ref y, q, ref t0, ref j, width3, residual);
            j = SlotBack(j, 2, width3);
        }
        if (whole < total)
        {
            // The last w elements end a row: columns width - w .. width - 1.
            TV r = FlatExpression<TC, TE>(TS.Load(ref x, last), TS.Load(ref a, width - w), TS.Load(ref b, width - w), TC.Lanes ? TS.Load(ref c, width - w) : TS.Zero, ref x, last, residual);
            StoreLanes(r, ref y, whole, total, last);
        }
    }

    /// <summary>The coefficient slot <paramref name="k"/> vectors before slot <paramref name="j"/> (3 vectors a slot), wrapping
    /// within a row's <paramref name="width3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint SlotBack(nint j, int k, nint width3)
    {
        j -= k * 3 * TS.Count;
        while (j < 0) j += width3;
        return j;
    }

    /// <summary>Coefficient <paramref name="slot"/> (0: a, 1: b, 2: c) of every slot of <paramref name="slots"/>: the
    /// <paramref name="width"/> values at <paramref name="source"/> written twice over at <paramref name="twice"/>, then the
    /// vector of each slot m read there from <paramref name="phase"/> + m vectors into slot m's vector <paramref name="slot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(ref T source, ref T twice, ref T slots, nint width, nint phase, int slot)
    {
        int w = TS.Count;
        Doubled(ref source, ref twice, width);
        for (nint m = 0; m < width / w; m++) TS.Store(TS.Load(ref twice, phase + m * w), ref slots, (3 * m + slot) * w);
    }

    /// <summary>One streamed vector of the flat apply at <paramref name="q"/> (x's there: <paramref name="v"/>), its coefficients the
    /// slot at <paramref name="j"/> of the interleaved copies (a, b, c a vector each); <paramref name="j"/> moves on a slot,
    /// wrapping at <paramref name="width3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FlatStep<TC, TE>(TV v, ref T x, ref T y, nint q, ref T t, ref nint j, nint width3, nint residual)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        ref T slot = ref Unsafe.Add(ref t, j);
        TS.StoreStreaming(FlatExpression<TC, TE>(v, TS.Load(ref slot, 0), TS.Load(ref slot, TS.Count), TC.Lanes ? TS.Load(ref slot, 2 * TS.Count) : TS.Zero, ref x, q, residual), ref y, q);
        j += 3 * TS.Count;
        if (j == width3) j = 0;
    }

    /// <summary>Most runs a block of <see cref="ApplyRunsReduce{TK}"/> takes (their coefficient vectors live on the stack).</summary>
    private const int PipelinedRuns = 64;

    /// <summary>Whether <see cref="ApplyRunsReduce{TK}"/> takes blocks of <paramref name="runs"/> runs of <paramref name="len"/>
    /// (the 512-bit path, up to <see cref="PipelinedRuns"/> runs of at least four vectors, a block of at least
    /// <see cref="Streaming.MinimumRunBytes"/>). On the 256-bit path the pipelined runs were slower than the two passes
    /// (AMD Zen 5, 1 thread, GroupNorm NCHW S1 879 -> 981 us, LayerNorm over C,H,W 948 -> 980; output off x's phase 894 ->
    /// 1,307 and 932 -> 1,158), so it keeps them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool PipelinesRuns(nint runs, nint len) =>
        TS.Count * sizeof(T) == 64 && runs >= 1 && runs <= PipelinedRuns && len >= 4 * TS.Count && (long)runs * len * sizeof(T) >= Streaming.MinimumRunBytes;

    /// <summary>
    /// Blocks of runs pipelined (GroupNorm NCHW, a group's channels a block; LayerNorm over C,H,W, a sample): the streamed
    /// apply of one block, <paramref name="runs"/> runs of <paramref name="len"/> back to back with run f's coefficients
    /// <paramref name="a"/>[f], <paramref name="b"/>[f], <paramref name="c"/>[f] broadcast (as <see cref="Apply{TK, TW, TA}"/>
    /// with <see cref="Splat"/> on each run; a vector across two runs takes each lane's own run's), beside the sums of the next
    /// block, one run of runs x len at <paramref name="p"/> (as <see cref="Reduce{TK}"/>, from memory: hints
    /// <see cref="PrefetchAhead"/> on), a vector of the apply after each vector of the sums. Each is the same arithmetic in
    /// the same order as on its own, so the same bits. Blocks past <see cref="ReversedApplyBytes"/> are applied from their end
    /// back. False, nothing done, where the output is not element-aligned.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe bool ApplyRunsReduce<TK>(ref T x, ref T y, nint runs, nint len, ref T a, ref T b, ref T c, ref T p, T shift, ref double sum, ref double sq)
        where TK : struct, INormKind
    {
        int w = TS.Count;
        nint total = runs * len;
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        // Not the fused activations: their apply took the loop past the JIT's inlining budget (its helpers left as calls).
        if (TK.Epilogue || !PipelinesRuns(runs, len) || address % (nuint)sizeof(T) != 0 || total < head + 2 * w) return false;
        // Blocks past ReversedApplyBytes: the apply from the block's end back to its start.
        if ((long)total * sizeof(T) > ReversedApplyBytes)
        {
            if (TK.Centered) ApplyRunsReduceBackCore<Centered, TK>(ref x, ref y, runs, len, head, ref a, ref b, ref c, ref p, shift, ref sum, ref sq);
            else ApplyRunsReduceBackCore<Uncentered, TK>(ref x, ref y, runs, len, head, ref a, ref b, ref a, ref p, shift, ref sq, ref sq);
        }
        else if (TK.Centered) ApplyRunsReduceCore<Centered, TK>(ref x, ref y, runs, len, head, ref a, ref b, ref c, ref p, shift, ref sum, ref sq);
        else ApplyRunsReduceCore<Uncentered, TK>(ref x, ref y, runs, len, head, ref a, ref b, ref a, ref p, shift, ref sq, ref sq);
        return true;
    }

    // Its own optimized method (one per kind), as ApplyReduceRowsCore. The runs' coefficients are broadcast once, before the
    // loop, into vectors on the stack, so the step that moves to the next run is three loads (inlined at each site: a call
    // there made the JIT keep the loop's vectors on the stack, and the run's per-vector helpers left as calls).
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ApplyRunsReduceCore<TC, TK>(ref T x, ref T y, nint runs, nint len, nint head, ref T a, ref T b, ref T c, ref T p, T shift,
        ref double sum, ref double sq) where TC : struct, IOperand where TK : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        nint total = runs * len;
        byte* buffer = stackalloc byte[3 * PipelinedRuns * 64 + 64];
        ref TV coefficients = ref Unsafe.AsRef<TV>((void*)(((nint)buffer + 63) & ~(nint)63));
        for (nint r = 0; r < runs; r++)
        {
            Unsafe.Add(ref coefficients, 3 * r) = TS.Splat(Unsafe.Add(ref a, r));
            Unsafe.Add(ref coefficients, 3 * r + 1) = TS.Splat(Unsafe.Add(ref b, r));
            Unsafe.Add(ref coefficients, 3 * r + 2) = TC.Lanes ? TS.Splat(Unsafe.Add(ref c, r)) : TS.Zero;
        }
        TV va = coefficients, vb = Unsafe.Add(ref coefficients, 1), vc = Unsafe.Add(ref coefficients, 2);
        for (nint o = 0; o < head; o += w)
            StoreLanes(Pipelined<TK>(TS.Load(ref x, o), va, vb, vc, ref x, o), ref y, o, o + w < head ? o + w : head, o);
        // q: the apply's next vector; f, boundary: its run and where that run ends.
        nint q = head, f = 0, boundary = len, last = total - w;
        // The sums as ReduceCore takes them (a chunk's totals into s and sq2 as it adds them; shifted loads where it shifts).
        TV k = TS.Splat(shift);
        double s = 0d, qd = 0d;
        nint offset = TS.Shifts && total * Unsafe.SizeOf<T>() >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        nint ahead = PrefetchAhead;
        for (nint chunk = 0; chunk < total; chunk += chunkLength)
        {
            nint end = total - chunk > chunkLength ? chunk + chunkLength : total;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
            TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                Prefetch(ref p, i, ahead);
                TV v0, v1, v2, v3;
                if (TS.Shifts && offset != 0 && i >= w && i + step + w - offset <= total)
                {
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
                for (int u = 0; u < Unroll; u++)
                    RunsStep<TK, TC>(ref x, ref y, ref q, last, ref f, ref boundary, runs, len, ref coefficients, ref va, ref vb, ref vc);
            }
            for (; i + w <= end; i += w)
            {
                Accumulate<TC>(TS.Load(ref p, i), k, ref s0, ref q0);
                RunsStep<TK, TC>(ref x, ref y, ref q, last, ref f, ref boundary, runs, len, ref coefficients, ref va, ref vb, ref vc);
            }
            if (i < end)
                AccumulateMasked<TC>(TS.Load(ref p, end - w), k, TS.LastLanes(end - i), ref s0, ref q0);
            double cs = TC.Lanes ? TS.SumWidened(TS.Add(TS.Add(s0, s1), TS.Add(s2, s3))) : 0d, cq = TS.SumWidened(TS.Add(TS.Add(q0, q1), TS.Add(q2, q3)));
            if (chunk == 0)
            {
                s = cs;
                qd = cq;
            }
            else
            {
                if (TC.Lanes) s += cs;
                qd += cq;
            }
        }
        if (TC.Lanes) sum += s;
        sq += qd;
        // The apply's vectors left (it started past its head), then its last partial vector, in the last run (len >= 4 vectors).
        while (q <= last) RunsStep<TK, TC>(ref x, ref y, ref q, last, ref f, ref boundary, runs, len, ref coefficients, ref va, ref vb, ref vc);
        if (q < total)
        {
            ref TV lastRun = ref Unsafe.Add(ref coefficients, 3 * (runs - 1));
            StoreLanes(Pipelined<TK>(TS.Load(ref x, last), lastRun, Unsafe.Add(ref lastRun, 1), Unsafe.Add(ref lastRun, 2), ref x, last), ref y, q, total, last);
        }
    }

    // ApplyRunsReduceCore with the apply from the block's end back (see ReversedApplyBytes), written out again: one method
    // with both steps' sites (a type argument choosing) went past the JIT's inlining budget and left the steps as calls.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ApplyRunsReduceBackCore<TC, TK>(ref T x, ref T y, nint runs, nint len, nint head, ref T a, ref T b, ref T c, ref T p, T shift,
        ref double sum, ref double sq) where TC : struct, IOperand where TK : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        nint total = runs * len;
        byte* buffer = stackalloc byte[3 * PipelinedRuns * 64 + 64];
        ref TV coefficients = ref Unsafe.AsRef<TV>((void*)(((nint)buffer + 63) & ~(nint)63));
        for (nint r = 0; r < runs; r++)
        {
            Unsafe.Add(ref coefficients, 3 * r) = TS.Splat(Unsafe.Add(ref a, r));
            Unsafe.Add(ref coefficients, 3 * r + 1) = TS.Splat(Unsafe.Add(ref b, r));
            Unsafe.Add(ref coefficients, 3 * r + 2) = TC.Lanes ? TS.Splat(Unsafe.Add(ref c, r)) : TS.Zero;
        }
        TV va = coefficients, vb = Unsafe.Add(ref coefficients, 1), vc = Unsafe.Add(ref coefficients, 2);
        for (nint o = 0; o < head; o += w)
            StoreLanes(Pipelined<TK>(TS.Load(ref x, o), va, vb, vc, ref x, o), ref y, o, o + w < head ? o + w : head, o);
        // The last partial vector first, then the whole vectors from the last (q) down to head; f the run of a vector's last
        // lane, boundary where that run starts.
        nint last = total - w, whole = head + (total - head) / w * w, q = whole - w, f = (whole - 1) / len, boundary = f * len;
        if (whole < total)
        {
            ref TV lastRun = ref Unsafe.Add(ref coefficients, 3 * (runs - 1));
            StoreLanes(Pipelined<TK>(TS.Load(ref x, last), lastRun, Unsafe.Add(ref lastRun, 1), Unsafe.Add(ref lastRun, 2), ref x, last), ref y, whole, total, last);
        }
        ref TV run = ref Unsafe.Add(ref coefficients, 3 * f);
        (va, vb, vc) = (run, Unsafe.Add(ref run, 1), Unsafe.Add(ref run, 2));
        // The sums as ReduceCore takes them (a chunk's totals into s and sq2 as it adds them; shifted loads where it shifts).
        TV k = TS.Splat(shift);
        double s = 0d, qd = 0d;
        nint offset = TS.Shifts && total * Unsafe.SizeOf<T>() >= ShiftBytes ? ShiftOffset(ref p) : 0;
        TV indices = offset != 0 ? TS.ShiftIndices(offset) : TS.Zero;
        nint ahead = PrefetchAhead;
        for (nint chunk = 0; chunk < total; chunk += chunkLength)
        {
            nint end = total - chunk > chunkLength ? chunk + chunkLength : total;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
            TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                Prefetch(ref p, i, ahead);
                TV v0, v1, v2, v3;
                if (TS.Shifts && offset != 0 && i >= w && i + step + w - offset <= total)
                {
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
                for (int u = 0; u < Unroll; u++)
                    RunsStepBack<TK>(ref x, ref y, ref q, head, ref f, ref boundary, len, ref coefficients, ref va, ref vb, ref vc);
            }
            for (; i + w <= end; i += w)
            {
                Accumulate<TC>(TS.Load(ref p, i), k, ref s0, ref q0);
                RunsStepBack<TK>(ref x, ref y, ref q, head, ref f, ref boundary, len, ref coefficients, ref va, ref vb, ref vc);
            }
            if (i < end)
                AccumulateMasked<TC>(TS.Load(ref p, end - w), k, TS.LastLanes(end - i), ref s0, ref q0);
            double cs = TC.Lanes ? TS.SumWidened(TS.Add(TS.Add(s0, s1), TS.Add(s2, s3))) : 0d, cq = TS.SumWidened(TS.Add(TS.Add(q0, q1), TS.Add(q2, q3)));
            if (chunk == 0)
            {
                s = cs;
                qd = cq;
            }
            else
            {
                if (TC.Lanes) s += cs;
                qd += cq;
            }
        }
        if (TC.Lanes) sum += s;
        sq += qd;
        // The apply's vectors left (down to its head).
        while (q >= head) RunsStepBack<TK>(ref x, ref y, ref q, head, ref f, ref boundary, len, ref coefficients, ref va, ref vb, ref vc);
    }

    /// <summary>The apply's vector at <paramref name="q"/>, streamed, if one is left (down to <paramref name="head"/>), with run
    /// <paramref name="f"/>'s coefficients (the run of its last lane, which starts at <paramref name="boundary"/>); a vector
    /// that starts before the run takes run f - 1's in its first lanes, and from there on run f - 1's coefficients: each lane
    /// its own run's, as <see cref="RunsStep{TK, TC}"/> gives it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunsStepBack<TK>(ref T x, ref T y, ref nint q, nint head, ref nint f, ref nint boundary, nint len, ref TV coefficients,
        ref TV va, ref TV vb, ref TV vc) where TK : struct, INormKind
    {
        if (q < head) return;
        int w = TS.Count;
        TV v = TS.Load(ref x, q);
        TV r = Pipelined<TK>(v, va, vb, vc, ref x, q);
        if (q <= boundary && f > 0)
        {
            // This vector reaches back to the run's start: the runs below take the previous run's coefficients.
            nint start = boundary;
            f--;
            boundary -= len;
            ref TV previous = ref Unsafe.Add(ref coefficients, 3 * f);
            va = previous;
            vb = Unsafe.Add(ref previous, 1);
            vc = Unsafe.Add(ref previous, 2);
            if (q < start)
                r = TS.Select(FirstLanes(start - q), Pipelined<TK>(v, va, vb, vc, ref x, q), r);
        }
        TS.StoreStreaming(r, ref y, q);
        q -= w;
    }

    /// <summary>The apply's vector at <paramref name="q"/>, streamed, if one is left (through <paramref name="last"/>), with run
    /// <paramref name="f"/>'s coefficients; across the run's end (<paramref name="boundary"/>) its lanes past the end with run
    /// f + 1's, and from a vector that reaches the end on, run f + 1's coefficients (from <paramref name="coefficients"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunsStep<TK, TC>(ref T x, ref T y, ref nint q, nint last, ref nint f, ref nint boundary, nint runs, nint len, ref TV coefficients,
        ref TV va, ref TV vb, ref TV vc) where TK : struct, INormKind where TC : struct, IOperand
    {
        if (q > last) return;
        int w = TS.Count;
        TV v = TS.Load(ref x, q);
        TV r = Pipelined<TK>(v, va, vb, vc, ref x, q);
        if (q + w >= boundary && f + 1 < runs)
        {
            f++;
            boundary += len;
            ref TV next = ref Unsafe.Add(ref coefficients, 3 * f);
            va = next;
            vb = Unsafe.Add(ref next, 1);
            vc = Unsafe.Add(ref next, 2);
            if (q + w > boundary - len)
                r = TS.Select(TS.LastLanes(q + w - (boundary - len)), Pipelined<TK>(v, va, vb, vc, ref x, q), r);
        }
        TS.StoreStreaming(r, ref y, q);
        q += w;
    }
}
