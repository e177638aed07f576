using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

public static partial class Runs<TS, TV, T>
{
    /// <summary>Rows shorter than this many elements (and at least one vector long) run with rows in lanes
    /// (<see cref="LaneRows"/>): InstanceNorm NCHW on ResNet's 7x7 planes, BatchNorm with N = 1 on them, LayerNorm over a
    /// short last dim.</summary>
    internal const int LaneRowLimit = 64;

    /// <summary>
    /// Whether a row plan's rows of <paramref name="len"/> elements run with rows in lanes: float rows of one vector up to
    /// <see cref="LaneRowLimit"/> elements, on the 512-bit or the 256-bit x86 path. Row after row, such a row pays two
    /// horizontal sums, a masked tail in the sums and a blended tail in the apply for a few vectors of work (AMD Zen 4:
    /// about 116 cycles a row of 49 floats). Here a group of as many rows as a vector has lanes is summed row by row into
    /// one vector each, the group's vectors are folded into one vector of the rows' sums (a transpose-and-add tree), and
    /// the group's rows are applied with broadcast coefficients (<see cref="Short{TC, TE}"/>). Each row's sums
    /// are the same operations in the same order whatever rows share its group, so the results do not depend on the units
    /// or the thread count; they are not the bits of <see cref="ReduceCore{TC}"/> (float lanes, then the tree in float).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool LaneRows(nint len) =>
        typeof(T) == typeof(float) && len >= TS.Count && len < LaneRowLimit
        && ((typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported) || (typeof(TV) == typeof(Vector256<float>) && Avx2.IsSupported));

    /// <summary>Rows from <see cref="LaneRowLimit"/> up to this many elements have their sums made as <see cref="LaneRows"/>
    /// rows' are (<see cref="LaneSumRows"/>).</summary>
    internal const int LaneSumLimit = 256;

    /// <summary>
    /// Whether a row plan's rows of <paramref name="len"/> elements have their sums made in lanes and are applied row by row
    /// (<see cref="LaneSumRuns{TC, TW, TG, TE, TF}"/>): float rows from <see cref="LaneRowLimit"/> to <see cref="LaneSumLimit"/>
    /// elements on the paths of <see cref="LaneRows"/>. Row after row, a row of 256 floats pays its two horizontal sums (each
    /// widened to double) about as much as its 16 vectors of sums (AMD Zen 4: about 60 cycles a row, half of them the
    /// horizontal sums); here a group's rows are summed into one vector each and folded by the tree. Phased or not, the same
    /// operations, so the same bits in and out of cache; not the bits of <see cref="ReduceCore{TC}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool LaneSumRows(nint len) =>
        typeof(T) == typeof(float) && len >= LaneRowLimit && len <= LaneSumLimit
        && ((typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported) || (typeof(TV) == typeof(Vector256<float>) && Avx2.IsSupported));

    /// <summary>Rows of <see cref="LaneSumRows"/> lengths in batches that stay in L1 (<see cref="PhaseBytes"/>, whole groups):
    /// every group's sums (<see cref="GroupSums{TC, TL}"/>), every row's coefficients from <paramref name="finish"/>, every row's
    /// plain apply (<typeparamref name="TG"/>: gamma and beta along the row, or none).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneSumRuns<TC, TW, TG, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish, bool phased,
        ref double sums, ref T coefficients)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        int w = TS.Count;
        Span<T> buffer = stackalloc T[32];
        ref T scratch = ref buffer[0];
        TV tailMask = TS.LastLanes(len % w == 0 ? w : len % w);
        ref T ca = ref coefficients, cb = ref Unsafe.Add(ref coefficients, rows), cc = ref Unsafe.Add(ref coefficients, 2 * rows);
        ref double ss = ref sums, sq = ref Unsafe.Add(ref sums, rows);
        // Out of cache, batches of about 4 KB (x and y of a batch of 16 KB evicted each other from L1: LayerNorm [8192, 256]
        // 0.96 ms against 0.64 row after row); partial groups cost only tree work (a row's sums do not depend on its group).
        nint batch = phased ? Math.Max(w, PhaseBytes / (len * Unsafe.SizeOf<T>()) / w * w) : Math.Clamp(4096 / (len * Unsafe.SizeOf<T>()), 1, w);
        for (nint b0 = 0; b0 < rows; b0 += batch)
        {
            nint b1 = Math.Min(rows, b0 + batch);
            for (nint r = b0; r < b1; r += w)
                GroupSums<TC, SumLength>(ref Unsafe.Add(ref x, r * len), len, (int)Math.Min(w, b1 - r), tailMask, ref Unsafe.Add(ref ss, r), ref Unsafe.Add(ref sq, r), ref scratch);
            Finish<TC, TF>(ref x, len, b0, b1, ref finish, ref ss, ref sq, ref ca, ref cb, ref cc);
            for (nint i = b0; i < b1; i++)
                ApplyRow<TC, TW, TG, TE>(ref Unsafe.Add(ref x, i * len), ref Unsafe.Add(ref y, i * len), len, ref Unsafe.Add(ref ca, i), ref Unsafe.Add(ref cb, i),
                    ref Unsafe.Add(ref cc, i), ref g, ref h, phased);
        }
    }

    /// <summary>Rows in lanes (see <see cref="LaneRows"/>), in batches that stay in L1 (<see cref="PhaseBytes"/>, whole groups):
    /// every group's sums, every row's coefficients from <paramref name="finish"/> (planar in <paramref name="coefficients"/>:
    /// a, b, c of row i at i, rows + i, 2 rows + i), every group's apply.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit] // the index: only what RowIndex writes is read
    private static void LaneRowRuns<TC, TE, TF>(ref T x, ref T y, nint rows, nint len, ref TF finish, ref double sums, ref T coefficients)
        where TC : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        int w = TS.Count;
        // The tree's two vectors of sums for a partial group (GroupSums); allocated here: a helper with a stackalloc is not
        // inlined into a loop.
        Span<T> buffer = stackalloc T[32];
        ref T scratch = ref buffer[0];
        TV tailMask = TS.LastLanes(len % w == 0 ? w : len % w);
        ref T ca = ref coefficients, cb = ref Unsafe.Add(ref coefficients, rows), cc = ref Unsafe.Add(ref coefficients, 2 * rows);
        // Planar sums as well: row i's at i and rows + i.
        ref double ss = ref sums, sq = ref Unsafe.Add(ref sums, rows);
        nint batch = Math.Max(w, PhaseBytes / (len * Unsafe.SizeOf<T>()) / w * w);
        for (nint b0 = 0; b0 < rows; b0 += batch)
        {
            nint b1 = Math.Min(rows, b0 + batch);
            // Rows of two whole vectors and more written out (LaneLength; centred rows one element past whole vectors from
            // element 1, HeadLength); shorter ones, a vector and a part, by the loops in one method (SumLength: the same
            // operations, so the same bits), where two calls a group cost more than the loops' compares (5x5 and 4x4 planes:
            // 1.02-1.11 and 1.03 of the loops' time written out; 6x6 0.91-0.92).
            if (TC.Lanes && len % w == 1 && len > 2 * w)
                for (nint g = b0; g < b1; g += w)
                    GroupSums<TC, HeadLength>(ref Unsafe.Add(ref x, g * len), len, (int)Math.Min(w, b1 - g), tailMask, ref Unsafe.Add(ref ss, g), ref Unsafe.Add(ref sq, g), ref scratch);
            else if (len >= 2 * w)
                for (nint g = b0; g < b1; g += w)
                    GroupSums<TC, LaneLength>(ref Unsafe.Add(ref x, g * len), len, (int)Math.Min(w, b1 - g), tailMask, ref Unsafe.Add(ref ss, g), ref Unsafe.Add(ref sq, g), ref scratch);
            else
                for (nint g = b0; g < b1; g += w)
                    GroupSums<TC, SumLength>(ref Unsafe.Add(ref x, g * len), len, (int)Math.Min(w, b1 - g), tailMask, ref Unsafe.Add(ref ss, g), ref Unsafe.Add(ref sq, g), ref scratch);
            Finish<TC, TF>(ref x, len, b0, b1, ref finish, ref ss, ref sq, ref ca, ref cb, ref cc);
            Short<TC, TE>(ref Unsafe.Add(ref x, b0 * len), ref Unsafe.Add(ref y, b0 * len), b1 - b0, len,
                ref Unsafe.Add(ref ca, b0), ref Unsafe.Add(ref cb, b0), ref Unsafe.Add(ref cc, b0));
        }
    }

    /// <summary>
    /// The apply of <paramref name="runs"/> consecutive runs of <paramref name="len"/> elements (a short run per coefficient
    /// set: GroupNorm NCHW's channels of a group on 7x7 planes), run r with a, b, c at r of <paramref name="a"/>,
    /// <paramref name="b"/>, <paramref name="c"/>: <see cref="Short{TC, TE}"/>, the same arithmetic per element as the
    /// nest's run by run apply (<c>(x - c) * a + b</c>, then the epilogue), so the same bits, without a blended tail per run.
    /// For <see cref="LaneRows"/> lengths, kinds without a residual added after the norm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ShortRuns<TK>(ref T x, ref T y, nint runs, nint len, ref T a, ref T b, ref T c) where TK : struct, INormKind
    {
        if (TK.Centered) Short<Centered, TK>(ref x, ref y, runs, len, ref a, ref b, ref c);
        else Short<Uncentered, TK>(ref x, ref y, runs, len, ref a, ref b, ref c);
    }

    /// <summary>
    /// Rows of one vector to <see cref="LaneRowLimit"/> elements applied row by row, each row's coefficients broadcast: its
    /// last vector (overlapped, at len - w) loaded and computed first, then its whole vectors, then the last one stored (in
    /// place stays correct: the whole vectors do not overlap each other); <c>(x - c) * a + b</c> then the kind's epilogue, as
    /// every apply computes each element (the same bits). A row of 49 floats stores four vectors instead of about three,
    /// but needs no lane permutes: this replaced a group of 16 rows applied as one run, each vector's a, b and c permuted
    /// from the group's by a lane-to-row table (three permutes a vector, and Zen 5 does one a cycle): InstanceNorm NCHW S2
    /// 211-215 -> 182-190 us, GroupNorm NCHW S2 206-213 -> 194-199 us (1 thread, AMD Zen 5, one process alternating).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void RowByRow<TC, TE>(ref T x, ref T y, nint rows, nint len, ref T a, ref T b, ref T c)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count;
        nint tail = len - w;
        bool partial = len % w != 0;
        for (nint i = 0; i < rows; i++)
        {
            ref T xi = ref Unsafe.Add(ref x, i * len);
            ref T yi = ref Unsafe.Add(ref y, i * len);
            TV va = TS.Splat(Unsafe.Add(ref a, i)), vb = TS.Splat(Unsafe.Add(ref b, i)), vc = TC.Lanes ? TS.Splat(Unsafe.Add(ref c, i)) : TS.Zero;
            TV rl = Broadcast<TC, TE>(TS.Load(ref xi, tail), va, vb, vc, ref xi, tail);
            if (w == 16)
            {
                // At most three whole vectors (rows under 64): written out (a loop here: InstanceNorm NCHW S2 5% slower).
                TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 0), va, vb, vc, ref xi, 0), ref yi, 0);
                if (len >= 32) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 16), va, vb, vc, ref xi, 16), ref yi, 16);
                if (len >= 48) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 32), va, vb, vc, ref xi, 32), ref yi, 32);
            }
            else if (w == 8 && len >= 16 && len < LaneRowLimit)
            {
                // Two to seven whole vectors: written out as well (the AVX2 path's GroupNorm NCHW S2, AMD Zen 5, 1 thread,
                // both builds in one process alternating by batch, both orders: 0.964 and 0.98 of the loop's time).
                TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 0), va, vb, vc, ref xi, 0), ref yi, 0);
                TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 8), va, vb, vc, ref xi, 8), ref yi, 8);
                if (len >= 24) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 16), va, vb, vc, ref xi, 16), ref yi, 16);
                if (len >= 32) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 24), va, vb, vc, ref xi, 24), ref yi, 24);
                if (len >= 40) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 32), va, vb, vc, ref xi, 32), ref yi, 32);
                if (len >= 48) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 40), va, vb, vc, ref xi, 40), ref yi, 40);
                if (len >= 56) TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, 48), va, vb, vc, ref xi, 48), ref yi, 48);
            }
            else
            {
                for (nint o = 0; o + w <= len; o += w)
                    TS.Store(Broadcast<TC, TE>(TS.Load(ref xi, o), va, vb, vc, ref xi, o), ref yi, o);
            }
            if (partial) TS.Store(rl, ref yi, tail);
        }
    }

    /// <summary><c>(v - c) * a + b</c> (uncentered: <c>v * a + b</c>), then <typeparamref name="TE"/>'s epilogue: each element of the
    /// short runs' applies, as every apply computes it (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Broadcast<TC, TE>(TV v, TV a, TV b, TV c, ref T x, nint at) where TC : struct, IOperand where TE : struct, INormKind =>
        Epilogue<TE>(TS.MultiplyAdd(TC.Lanes ? TS.Subtract(v, c) : v, a, b), ref x, at, 0);

    /// <summary>The apply of <paramref name="runs"/> consecutive short runs, run r with a, b, c at r: <see cref="FlatRuns{TC, TE}"/>
    /// on the 512-bit path, <see cref="RowByRow{TC, TE}"/> on the others (the same bits either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Short<TC, TE>(ref T x, ref T y, nint runs, nint len, ref T a, ref T b, ref T c)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        if (typeof(TV) == typeof(Vector512<T>)) FlatRuns<TC, TE>(ref x, ref y, runs, len, ref a, ref b, ref c);
        else RowByRow<TC, TE>(ref x, ref y, runs, len, ref a, ref b, ref c);
    }

    /// <summary>
    /// <see cref="RowByRow{TC, TE}"/>'s apply over the runs as one flat range of vectors from x's first vector
    /// boundary: a vector inside one run takes that run's broadcast coefficients; one that crosses into the next run
    /// (runs are at least a vector long, so it crosses one boundary at most) takes the next run's for its lanes past
    /// the boundary (a select each). The range's first and last vectors (inside the first and the last run) are loaded
    /// and computed before any store and stored last, whole, over lanes the loop wrote with the same values, so in
    /// place (y = x) stays correct. The same expression per element, so the same bits as row by row. A block of 16 runs
    /// of 49 floats stores 49 vectors (aligned where x and y are alike) instead of 64 that each straddle two lines. AMD
    /// Zen 5, 1 thread, one process alternating calls, x and y on 64-byte boundaries: InstanceNorm NCHW S2 158-162 ->
    /// 147-150 us, GroupNorm NCHW S2 171-176 -> 159-168 us; x and y off a boundary (3 and 5 floats) even (147-160 us
    /// either way). From x's boundary instead of y's (the range started at y's first), x and y apart modulo a line:
    /// 0.97-0.995 of the call's time (GroupNorm, InstanceNorm, BatchNorm training NCHW S2), x and y on the same
    /// boundary even: a load that splits a line costs more here than a store. On AVX2 3-6% slower than row by row (a
    /// row of 49 floats is six whole 256-bit vectors and an overlapped seventh, and the selects cost more than the
    /// stores they save): 512-bit only (<see cref="Short{TC, TE}"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void FlatRuns<TC, TE>(ref T x, ref T y, nint runs, nint len, ref T a, ref T b, ref T c)
        where TC : struct, IOperand where TE : struct, INormKind
    {
        int w = TS.Count;
        nint total = runs * len;
        if (w == 1 || len < w || total < 2 * w)
        {
            RowByRow<TC, TE>(ref x, ref y, runs, len, ref a, ref b, ref c);
            return;
        }
        TV ca = TS.Splat(a), cb = TS.Splat(b), cc = TC.Lanes ? TS.Splat(c) : TS.Zero;
        TV first = Broadcast<TC, TE>(TS.Load(ref x, 0), ca, cb, cc, ref x, 0);
        nint lastRun = runs - 1, tail = total - w;
        TV last = Broadcast<TC, TE>(TS.Load(ref x, tail), TS.Splat(Unsafe.Add(ref a, lastRun)), TS.Splat(Unsafe.Add(ref b, lastRun)),
            TC.Lanes ? TS.Splat(Unsafe.Add(ref c, lastRun)) : TS.Zero, ref x, tail);
        nint o = LoadPeel(ref x), end = len, r = 0;
        for (; o + w <= total; o += w)
        {
            TV v = TS.Load(ref x, o);
            if (o + w <= end)
            {
                TS.Store(Broadcast<TC, TE>(v, ca, cb, cc, ref x, o), ref y, o);
                continue;
            }
            // The vector crosses into run r + 1 (which exists: o + w <= total): its lanes from end - o on take that run's.
            r++;
            TV na = TS.Splat(Unsafe.Add(ref a, r)), nb = TS.Splat(Unsafe.Add(ref b, r)), nc = TC.Lanes ? TS.Splat(Unsafe.Add(ref c, r)) : TS.Zero;
            TV m = TS.LastLanes(o + w - end);
            TS.Store(Broadcast<TC, TE>(v, TS.Select(m, na, ca), TS.Select(m, nb, cb), TC.Lanes ? TS.Select(m, nc, cc) : TS.Zero, ref x, o), ref y, o);
            ca = na;
            cb = nb;
            cc = nc;
            end += len;
        }
        TS.Store(first, ref y, 0);
        TS.Store(last, ref y, tail);
    }

    /// <summary>The sums of the <paramref name="m"/> rows (at most one per lane) from <paramref name="x"/> into
    /// <paramref name="s"/> (of x - shift, shift = the row's first element; uncentered: zeros) and <paramref name="q"/>
    /// (of its square; uncentered: of x^2), one per row.</summary>
    // Its own method (one call per group of rows): inlined into LaneRowRuns with the apply, the tree's sixteen rows used up
    // the JIT's inlining budget and the finish and the apply were left as calls to unoptimized code.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GroupSums<TC, TL>(ref T x, nint len, int m, TV tailMask, ref double s, ref double q, ref T buffer) where TC : struct, IOperand where TL : struct, IRowLength
    {
        TV vs, vq;
        if (TS.Count == 16)
        {
            if (typeof(TL) == typeof(LaneLength) || typeof(TL) == typeof(HeadLength))
            {
                // Lane rows' written-out sums (RowVector): sixteen rows of them inlined in one method ran out of the JIT's
                // inlining budget (the last rows' vector operations left as calls), so two halves of eight, each its own method.
                EightApart<TC, TL>(ref x, 0, len, m, tailMask, out TV s0, out TV q0);
                EightApart<TC, TL>(ref x, 8, len, m, tailMask, out TV s1, out TV q1);
                vs = TC.Lanes ? Fold(s0, s1, 3) : s0;
                vq = Fold(q0, q1, 3);
            }
            else Sixteen<TC, TL>(ref x, 0, len, m, tailMask, out vs, out vq);
        }
        else if (typeof(TL) == typeof(LaneLength) || typeof(TL) == typeof(HeadLength))
        {
            // 256-bit lane rows written out: the group's eight rows in this method (with only this path imported, they fit
            // the JIT's inlining budget; InstanceNorm NCHW S2 on AVX2, one process alternating by batch, both orders:
            // 0.915-0.92 of the time of two halves apart).
            Eight<TC, TL>(ref x, 0, len, m, tailMask, out vs, out vq);
        }
        else
        {
            // 256-bit: two halves of four rows, each its own method. Written out as one, the JIT's inlining budget ran out
            // part way and left the vector operations of the rows' sums as calls (InstanceNorm NCHW S2 at 5.9x the limit).
            FourApart<TC, TL>(ref x, 0, len, m, tailMask, out TV s0, out TV q0);
            FourApart<TC, TL>(ref x, 4, len, m, tailMask, out TV s1, out TV q1);
            vs = TC.Lanes ? Fold(s0, s1, 2) : s0;
            vq = Fold(q0, q1, 2);
        }
        if (m == TS.Count)
        {
            Widen(vs, ref s);
            Widen(vq, ref q);
            return;
        }
        // The tree leaves row r in lane 4 (r mod 4) + r / 4 (16 lanes), 4 (r mod 2) + r / 2 (8 lanes).
        ref float o = ref Unsafe.As<T, float>(ref buffer);
        Unsafe.As<float, TV>(ref o) = vs;
        Unsafe.As<float, TV>(ref Unsafe.Add(ref o, 16)) = vq;
        for (int r = 0; r < m; r++)
        {
            int lane = TS.Count == 16 ? ((r & 3) << 2) | (r >> 2) : ((r & 1) << 2) | (r >> 1);
            Unsafe.Add(ref s, r) = Unsafe.Add(ref o, lane);
            Unsafe.Add(ref q, r) = Unsafe.Add(ref o, 16 + lane);
        }
    }

    /// <summary>A full group's sums from the tree's lanes, in row order, as doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(TV v, ref double d)
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var rows = Avx512F.PermuteVar16x32(Unsafe.BitCast<TV, Vector512<float>>(v), Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
            Avx512F.ConvertToVector512Double(rows.GetLower()).StoreUnsafe(ref d);
            Avx512F.ConvertToVector512Double(rows.GetUpper()).StoreUnsafe(ref d, 8);
        }
        else
        {
            var rows = Avx2.PermuteVar8x32(Unsafe.BitCast<TV, Vector256<float>>(v), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
            Avx.ConvertToVector256Double(rows.GetLower()).StoreUnsafe(ref d);
            Avx.ConvertToVector256Double(rows.GetUpper()).StoreUnsafe(ref d, 4);
        }
    }

    /// <summary>Row <paramref name="r"/>'s vectors added: its sum and sum of squares spread over the lanes (zero past
    /// <paramref name="m"/> rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowVector<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        s = TS.Zero;
        q = TS.Zero;
        if (r >= m) return;
        ref T p = ref Unsafe.Add(ref x, r * len);
        TV k = TC.Lanes ? TS.Splat(p) : TS.Zero;
        // (Written-out rows are only the 512-bit and 256-bit float paths'; LaneRows.) Each length class's body is a method of
        // its own, so that this one's IL stays small: the JIT's inliner prices a method by its whole IL, dead paths included,
        // and the tree inlines it sixteen times a group.
        if ((typeof(TL) == typeof(LaneLength) || (typeof(TL) == typeof(HeadLength) && TC.Lanes))
            && (typeof(TV) == typeof(Vector512<float>) || typeof(TV) == typeof(Vector256<float>)))
        {
            WrittenRow<TC>(ref p, typeof(TL) == typeof(HeadLength) ? 1 : 0, len, k, tailMask, ref s, ref q);
            return;
        }
        LoopRow<TC, TL>(ref p, len, k, tailMask, ref s, ref q);
    }

    /// <summary>
    /// A row written out from element <paramref name="from"/>: its whole vectors there on, then (where the rest is not whole
    /// vectors) its last vector overlapped with the lanes already added masked off. <see cref="LaneLength"/> rows from 0: two
    /// to four 512-bit vectors (two to eight 256-bit ones), the loop's operations in its order (so the same bits), without a
    /// loop's index and compares for each of the group's rows (InstanceNorm NCHW S2, 16,384 rows of 49 floats, AMD Zen 5, 1
    /// thread, both builds in one process alternating by batch: 512-bit 0.90-0.935 of the loop's time, AVX2 0.905-0.916).
    /// <see cref="HeadLength"/> rows (centred, one element past whole vectors: 7x7 planes, 49 floats, on both paths; 5x5 on
    /// AVX2) from 1: element 0 is the row's shift, whose x - shift is 0 in both sums (as the backward's short runs,
    /// <c>GradientRuns.Head</c>), so the rest is whole vectors and no masked last one: three a row of 49 on the 512-bit path
    /// instead of four, six instead of seven on AVX2 (the same elements in other lanes, so not the loop's bits). InstanceNorm
    /// NCHW, both load orders: 32x512x7x7 0.93-0.96 of the time from 0 (AVX2 0.94-1.01), 2x512x7x7 (in L2) 0.93 (AVX2 0.97);
    /// 32x512x5x5 on AVX2 0.97.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WrittenRow<TC>(ref T p, nint from, nint len, TV k, TV tailMask, ref TV s, ref TV q) where TC : struct, IOperand
    {
        int v = TS.Count;
        AddVector<TC>(ref p, from, k, ref s, ref q);
        AddVector<TC>(ref p, from + v, k, ref s, ref q);
        if (len >= from + 3 * v) AddVector<TC>(ref p, from + 2 * v, k, ref s, ref q);
        if (typeof(TV) == typeof(Vector256<float>))
        {
            if (len >= from + 32) AddVector<TC>(ref p, from + 24, k, ref s, ref q);
            if (len >= from + 40) AddVector<TC>(ref p, from + 32, k, ref s, ref q);
            if (len >= from + 48) AddVector<TC>(ref p, from + 40, k, ref s, ref q);
            if (len >= from + 56) AddVector<TC>(ref p, from + 48, k, ref s, ref q);
        }
        // From 1 the row is whole vectors (HeadLength's lengths): no test for a last part.
        if (from == 0 && len % v != 0)
        {
            TV d = TS.And(TC.Lanes ? TS.Subtract(TS.Load(ref p, len - v), k) : TS.Load(ref p, len - v), tailMask);
            if (TC.Lanes) s = TS.Add(s, d);
            q = TS.MultiplyAdd(d, d, q);
        }
    }

    /// <summary>A row by loops (<see cref="SumLength"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoopRow<TC, TL>(ref T p, nint len, TV k, TV tailMask, ref TV s, ref TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        int w = TS.Count;
        nint i = 0;
        TV s1 = TS.Zero, q1 = TS.Zero;
        // Rows of LaneSumRows lengths (64 floats and more): two accumulator pairs, so each add waits half as long for the
        // previous one (BatchNorm NCHW S5 training, rows of 256: 1.50 -> 1.42 us); lane rows (shorter) keep one.
        for (; typeof(TL) != typeof(LaneLength) && i + 2 * w <= len; i += 2 * w)
        {
            TV d = TC.Lanes ? TS.Subtract(TS.Load(ref p, i), k) : TS.Load(ref p, i);
            TV e = TC.Lanes ? TS.Subtract(TS.Load(ref p, i + w), k) : TS.Load(ref p, i + w);
            if (TC.Lanes) { s = TS.Add(s, d); s1 = TS.Add(s1, e); }
            q = TS.MultiplyAdd(d, d, q);
            q1 = TS.MultiplyAdd(e, e, q1);
        }
        if (TC.Lanes) s = TS.Add(s, s1);
        q = TS.Add(q, q1);
        for (; i + w <= len; i += w)
        {
            TV d = TC.Lanes ? TS.Subtract(TS.Load(ref p, i), k) : TS.Load(ref p, i);
            if (TC.Lanes) s = TS.Add(s, d);
            q = TS.MultiplyAdd(d, d, q);
        }
        if (i < len)
        {
            // The row's last w elements, the lanes already added masked off.
            TV d = TS.And(TC.Lanes ? TS.Subtract(TS.Load(ref p, len - w), k) : TS.Load(ref p, len - w), tailMask);
            if (TC.Lanes) s = TS.Add(s, d);
            q = TS.MultiplyAdd(d, d, q);
        }
    }

    /// <summary>How a <see cref="GroupSums{TC, TL}"/> instantiation sums its rows: <see cref="LaneLength"/> written out
    /// (<see cref="LaneRows"/> rows of two whole vectors and more, under <see cref="LaneRowLimit"/>), <see cref="HeadLength"/>
    /// written out from element 1 (centred such rows one element past whole vectors), or <see cref="SumLength"/>
    /// by loops (<see cref="LaneSumRows"/> rows, and lane rows shorter than two vectors; the same operations either way),
    /// tested with <c>typeof</c> so that the JIT imports only the instantiation's own path: a static property's test is
    /// folded only after the inlining, and the dead path's inlines spent the tree's budget (its last rows left as calls).</summary>
    private interface IRowLength;

    /// <summary>Rows summed by straight-line code (<see cref="WrittenRow{TC}"/> from element 0).</summary>
    private readonly struct LaneLength : IRowLength;

    /// <summary>Centred rows one element past whole vectors, summed by straight-line code from element 1.</summary>
    private readonly struct HeadLength : IRowLength;

    /// <summary>Rows summed by loops.</summary>
    private readonly struct SumLength : IRowLength;

    /// <summary>One whole vector of a row at <paramref name="at"/> into its sums (<see cref="RowVector{TC, TL}"/>'s loop body).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddVector<TC>(ref T p, nint at, TV k, ref TV s, ref TV q) where TC : struct, IOperand
    {
        TV d = TC.Lanes ? TS.Subtract(TS.Load(ref p, at), k) : TS.Load(ref p, at);
        if (TC.Lanes) s = TS.Add(s, d);
        q = TS.MultiplyAdd(d, d, q);
    }

    // The tree: rows r and r + 1 folded at level 0, pairs of those at level 1, and so on; 8 lanes take three levels, 16 four.
    // Written out level by level so that each Fold gets its level as a constant (the shuffles' control bytes): a loop over
    // the levels with the vectors in an array ran IN NCHW S2 at 3x the time.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Two<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        RowVector<TC, TL>(ref x, r, len, m, tailMask, out TV s0, out TV q0);
        RowVector<TC, TL>(ref x, r + 1, len, m, tailMask, out TV s1, out TV q1);
        s = TC.Lanes ? Fold(s0, s1, 0) : s0;
        q = Fold(q0, q1, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        Two<TC, TL>(ref x, r, len, m, tailMask, out TV s0, out TV q0);
        Two<TC, TL>(ref x, r + 2, len, m, tailMask, out TV s1, out TV q1);
        s = TC.Lanes ? Fold(s0, s1, 1) : s0;
        q = Fold(q0, q1, 1);
    }

    /// <summary><see cref="Four{TC, TL}"/> compiled on its own (the 256-bit tree's halves, for rows summed by loops).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void FourApart<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength =>
        Four<TC, TL>(ref x, r, len, m, tailMask, out s, out q);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Eight<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        Four<TC, TL>(ref x, r, len, m, tailMask, out TV s0, out TV q0);
        Four<TC, TL>(ref x, r + 4, len, m, tailMask, out TV s1, out TV q1);
        s = TC.Lanes ? Fold(s0, s1, 2) : s0;
        q = Fold(q0, q1, 2);
    }

    /// <summary><see cref="Eight{TC, TL}"/> compiled on its own (the 512-bit lane rows' halves).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void EightApart<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength =>
        Eight<TC, TL>(ref x, r, len, m, tailMask, out s, out q);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sixteen<TC, TL>(ref T x, nint r, nint len, int m, TV tailMask, out TV s, out TV q) where TC : struct, IOperand where TL : struct, IRowLength
    {
        Eight<TC, TL>(ref x, r, len, m, tailMask, out TV s0, out TV q0);
        Eight<TC, TL>(ref x, r + 8, len, m, tailMask, out TV s1, out TV q1);
        s = TC.Lanes ? Fold(s0, s1, 3) : s0;
        q = Fold(q0, q1, 3);
    }

    /// <summary>
    /// One level of the tree: <paramref name="a"/> and <paramref name="b"/> each hold their rows' partial sums in blocks of
    /// 2 x (lanes of the level); the result holds both vectors' rows, each block the sum of its two halves. 16 lanes: 256-bit
    /// halves, then 128-bit quarters (shuffles of 128-bit blocks), then pairs and single lanes inside each 128-bit block;
    /// row r ends in lane 4 (r mod 4) + r / 4. 8 lanes: 128-bit halves, then pairs and single lanes in each; row r ends in
    /// lane 4 (r mod 2) + r / 2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Fold(TV a, TV b, int level)
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var u = Unsafe.BitCast<TV, Vector512<float>>(a);
            var v = Unsafe.BitCast<TV, Vector512<float>>(b);
            Vector512<float> r = level switch
            {
                0 => Avx512F.Shuffle4x128(u, v, 0x44) + Avx512F.Shuffle4x128(u, v, 0xEE),
                1 => Avx512F.Shuffle4x128(u, v, 0x88) + Avx512F.Shuffle4x128(u, v, 0xDD),
                2 => Avx512F.Shuffle(u, v, 0x44) + Avx512F.Shuffle(u, v, 0xEE),
                _ => Avx512F.Shuffle(u, v, 0x88) + Avx512F.Shuffle(u, v, 0xDD),
            };
            return Unsafe.BitCast<Vector512<float>, TV>(r);
        }
        else
        {
            var u = Unsafe.BitCast<TV, Vector256<float>>(a);
            var v = Unsafe.BitCast<TV, Vector256<float>>(b);
            Vector256<float> r = level switch
            {
                0 => Avx.Permute2x128(u, v, 0x20) + Avx.Permute2x128(u, v, 0x31),
                1 => Avx.Shuffle(u, v, 0x44) + Avx.Shuffle(u, v, 0xEE),
                _ => Avx.Shuffle(u, v, 0x88) + Avx.Shuffle(u, v, 0xDD),
            };
            return Unsafe.BitCast<Vector256<float>, TV>(r);
        }
    }
}
