using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

public static partial class Runs<TS, TV, T>
{
    /// <summary>
    /// Two runs of <paramref name="len"/> elements at once, step by step: the streamed apply of one (<c>y = (x - c) * a + b</c>,
    /// one coefficient set, then <typeparamref name="TK"/>'s epilogue; as <see cref="Apply{TK, TW, TA}"/> with streaming
    /// stores and <see cref="Splat"/> coefficients) and the sums of the other (as <see cref="Reduce{TK}"/>, each unrolled step
    /// hinting the lines <paramref name="ahead"/> bytes on into L1 as <see cref="ReduceCore{TC}"/> does, or none for 0).
    /// Each is the same arithmetic in the same order as on its own, so the same bits;
    /// interleaved, the next row's reads from memory overlap this row's streaming stores (a core that only streams out
    /// leaves its read bandwidth idle, and the other way around). False, nothing done, where the apply would not stream
    /// (a short or element-misaligned output run).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool ApplyReduce<TK>(ref T x, ref T y, nint len, T a, T b, T c, ref T p, T shift, ref double sum, ref double sq, nint ahead)
        where TK : struct, INormKind
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (w == 1 || (long)len * sizeof(T) < Streaming.MinimumRunBytes || len < head + step || address % (nuint)sizeof(T) != 0) return false;
        HintTailLine(ref y, len);
        TV va = TS.Splat(a), vb = TS.Splat(b), vc = TK.Centered ? TS.Splat(c) : TS.Zero;
        // The apply's head: the elements before y's 64-byte boundary, lane by lane (as ApplyStreamed).
        for (nint o = 0; o < head; o += w)
            StoreLanes(Pipelined<TK>(TS.Load(ref x, o), va, vb, vc, ref x, o), ref y, o, o + w < head ? o + w : head, o);
        nint n = len - head;
        x = ref Unsafe.Add(ref x, head);
        y = ref Unsafe.Add(ref y, head);

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
                    StreamStep<TK>(ref x, ref y, va, vb, vc);
                    x = ref Unsafe.Add(ref x, step);
                    y = ref Unsafe.Add(ref y, step);
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
        for (; n >= step; n -= step)
        {
            StreamStep<TK>(ref x, ref y, va, vb, vc);
            x = ref Unsafe.Add(ref x, step);
            y = ref Unsafe.Add(ref y, step);
        }
        nint j = 0, lines = WholeLines(n);
        for (; j + w <= n; j += w)
            StoreRest(Pipelined<TK>(TS.Load(ref x, j), va, vb, vc, ref x, j), ref y, j, lines);
        if (j < n)
        {
            nint t = n - w;
            StoreLanes(Pipelined<TK>(TS.Load(ref x, t), va, vb, vc, ref x, t), ref y, j, n, t);
        }
        return true;
    }

    /// <summary>One unrolled step of the streamed apply at <paramref name="x"/> and <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StreamStep<TK>(ref T x, ref T y, TV va, TV vb, TV vc) where TK : struct, INormKind
    {
        int w = TS.Count;
        TV u0 = TS.Load(ref x, 0), u1 = TS.Load(ref x, w), u2 = TS.Load(ref x, 2 * w), u3 = TS.Load(ref x, 3 * w);
        TS.StoreStreaming(Pipelined<TK>(u0, va, vb, vc, ref x, 0), ref y, 0);
        TS.StoreStreaming(Pipelined<TK>(u1, va, vb, vc, ref x, w), ref y, w);
        TS.StoreStreaming(Pipelined<TK>(u2, va, vb, vc, ref x, 2 * w), ref y, 2 * w);
        TS.StoreStreaming(Pipelined<TK>(u3, va, vb, vc, ref x, 3 * w), ref y, 3 * w);
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
}
