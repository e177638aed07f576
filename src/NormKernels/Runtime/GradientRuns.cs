using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>One run's terms for the affine backward's apply (the scalars of <see cref="GradientRuns{TS, TV, T}.AffineApply{TW}"/>).</summary>
[method: MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)] // built once a unit: never tier-0 code there
internal readonly struct AffineTerms<T>(T m, T r, T q, T rr, T dz, T gb, T c1) where T : unmanaged
{
    public readonly T M = m, R = r, Q = q, Rr = rr, Dz = dz, Gb = gb, C1 = c1;
}

/// <summary>
/// The shape-independent inner runs of the generated backward passes, written once for every path
/// (<typeparamref name="TS"/>), vector type (<typeparamref name="TV"/>) and element type (<typeparamref name="T"/>);
/// the generated layers keep only their loop nests, which call these on each contiguous run (see <see cref="Runs{TS, TV, T}"/>
/// for the conventions: runs of at least <c>TS.Count</c> elements, an overlapped masked last vector, in-place safe stores).
/// </summary>
/// <remarks>
/// Precision: the lanes never multiply an offset. With m = -mf (mf the saved mean rounded to the element type) and dz the
/// gradient's shift (the fold index's first dy), the lanes sum dy - dz and (dy - dz) * (x + m) in the element type over
/// chunks whose sums are widened and added in double, and x - mf exactly: widened to double lane by lane, summed in double
/// registers (<see cref="Wide{TV}"/>). The generated code adds the shifts back in double.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class GradientRuns<TS, TV, T> where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
{
    private const int Unroll = Runs<TS, TV, T>.Unroll;
    private const int ChunkVectors = Runs<TS, TV, T>.ChunkVectors;

    // ------------------------------------------------------------------ reduce, one fold index along the run

    /// <summary>
    /// Over a contiguous run with one fold index: <paramref name="u"/> += sum (dy - dz), <paramref name="v"/> += sum (dy - dz) * (x + m),
    /// <paramref name="z"/> += sum (x + m) exactly in double (<typeparamref name="TX"/> <see cref="Lanes"/>; with <see cref="Splat"/>
    /// z is left as it is: the caller knows the sum from the forward's mean, see <see cref="Backward{TNest, TK, T}"/>).
    /// <typeparamref name="TH"/> <see cref="Lanes"/> (x and dy come from memory): each step first hints their lines
    /// <see cref="AffineAhead"/> bytes on into L1 (BatchNorm backward NHWC 32x56x56x64, 1 thread, AMD Zen 5: 3.41 -> 2.92-3.03 ms;
    /// GroupNorm NHWC 4.39-4.55 -> 3.8-4.2 ms).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Reduce<TX, TH>(ref T x, ref T dy, nint len, T m, T dz, ref double u, ref double v, ref double z) where TX : struct, IOperand where TH : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w, chunkLength = ChunkVectors * step;
        nint ahead = Ahead<TH>();
        TV k = TS.Splat(m), kd = TS.Splat(dz);
        Wide<TV> kx = TX.Lanes ? TS.Widen(TS.Subtract(TS.Zero, k)) : default, xa = default;
        if (w > 1 && len < step)
        {
            // Runs shorter than a step (GroupNorm NCHW's 7x7 planes: 49 floats, a call each): one accumulator of each, no
            // chunk, the same operations in the same order on the lanes that carry data (the chunk path's other three
            // accumulators add zeros), so the same bits. GroupNorm(32) backward NCHW 32x512x7x7, AVX-512, AMD Zen 5, 1 thread,
            // one process alternating, both orders: 464-468 -> 437-441 us.
            TV s = TS.Zero, q = TS.Zero;
            nint i = 0;
            for (; i + w <= len; i += w)
                ReduceStep<TX>(ref x, ref dy, i, k, kd, kx, ref s, ref q, ref xa);
            if (i < len)
                ReduceStepMasked<TX>(ref x, ref dy, len - w, k, kd, kx, TS.LastLanes(len - i), ref s, ref q, ref xa);
            u += TS.SumWidened(s);
            v += TS.SumWidened(q);
            if (TX.Lanes) z += TS.SumWide(ref xa);
            return;
        }
        double su = 0d, sv = 0d;
        for (nint chunk = 0; chunk < len; chunk += chunkLength)
        {
            nint end = len - chunk > chunkLength ? chunk + chunkLength : len;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
            TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                if (ahead != 0)
                {
                    Hint(ref x, i, step, ahead);
                    Hint(ref dy, i, step, ahead);
                }
                ReduceStep<TX>(ref x, ref dy, i, k, kd, kx, ref s0, ref q0, ref xa);
                ReduceStep<TX>(ref x, ref dy, i + w, k, kd, kx, ref s1, ref q1, ref xa);
                ReduceStep<TX>(ref x, ref dy, i + 2 * w, k, kd, kx, ref s2, ref q2, ref xa);
                ReduceStep<TX>(ref x, ref dy, i + 3 * w, k, kd, kx, ref s3, ref q3, ref xa);
            }
            for (; i + w <= end; i += w)
                ReduceStep<TX>(ref x, ref dy, i, k, kd, kx, ref s0, ref q0, ref xa);
            if (w > 1 && i < end)
                ReduceStepMasked<TX>(ref x, ref dy, end - w, k, kd, kx, TS.LastLanes(end - i), ref s0, ref q0, ref xa);
            su += TS.SumWidened(TS.Add(TS.Add(s0, s1), TS.Add(s2, s3)));
            sv += TS.SumWidened(TS.Add(TS.Add(q0, q1), TS.Add(q2, q3)));
        }
        u += su;
        v += sv;
        if (TX.Lanes) z += TS.SumWide(ref xa);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceStep<TX>(ref T x, ref T dy, nint at, TV k, TV kd, Wide<TV> kx, ref TV s, ref TV q, ref Wide<TV> xa) where TX : struct, IOperand
    {
        TV xv = TS.Load(ref x, at);
        TV g = TS.Subtract(TS.Load(ref dy, at), kd);
        s = TS.Add(s, g);
        q = TS.MultiplyAdd(g, TS.Add(xv, k), q);
        if (TX.Lanes) TS.AccumulateWidenedDifference(ref xa, xv, kx);
    }

    // The overlapped last vector: finished lanes masked to 0 (x to -m, which adds 0 to the exact sum).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceStepMasked<TX>(ref T x, ref T dy, nint at, TV k, TV kd, Wide<TV> kx, TV mask, ref TV s, ref TV q, ref Wide<TV> xa)
        where TX : struct, IOperand
    {
        TV xv = TS.Load(ref x, at);
        TV g = TS.And(TS.Subtract(TS.Load(ref dy, at), kd), mask);
        s = TS.Add(s, g);
        q = TS.MultiplyAdd(g, TS.And(TS.Add(xv, k), mask), q);
        if (TX.Lanes) TS.AccumulateWidenedDifference(ref xa, TS.Select(mask, xv, TS.Subtract(TS.Zero, k)), kx);
    }

    // ------------------------------------------------------------------ reduce, fold indices along the run

    /// <summary>
    /// Over a contiguous run whose fold index moves with it, lane by lane in double: <paramref name="u"/>[i] += dy[i] - dz[i],
    /// <paramref name="v"/>[i] += (dy[i] - dz[i]) * (x[i] + m[i]), <paramref name="z"/>[i] += x[i] + m[i] exactly (<typeparamref name="TX"/>
    /// and <typeparamref name="TH"/> as <see cref="Reduce{TX, TH}"/>'s).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReduceLanes<TX, TH>(ref T x, ref T dy, nint len, ref T m, ref T dz, ref double u, ref double v, ref double z) where TX : struct, IOperand where TH : struct, IOperand
    {
        int w = TS.Count;
        nint i = 0, ahead = Ahead<TH>();
        for (; i + w <= len; i += w)
        {
            if (ahead != 0)
            {
                Hint(ref x, i, w, ahead);
                Hint(ref dy, i, w, ahead);
            }
            TV xv = TS.Load(ref x, i), km = TS.Load(ref m, i);
            TV g = TS.Subtract(TS.Load(ref dy, i), TS.Load(ref dz, i));
            TS.AddWidened(ref u, i, g);
            TS.AddWidened(ref v, i, TS.Multiply(g, TS.Add(xv, km)));
            if (TX.Lanes) TS.AddWidenedDifference(ref z, i, xv, TS.Subtract(TS.Zero, km));
        }
        if (w > 1 && i < len)
        {
            nint t = len - w;
            TV mask = TS.LastLanes(len - i);
            TV xv = TS.Load(ref x, t), km = TS.Load(ref m, t), kc = TS.Subtract(TS.Zero, km);
            TV g = TS.And(TS.Subtract(TS.Load(ref dy, t), TS.Load(ref dz, t)), mask);
            TS.AddWidened(ref u, t, g);
            TS.AddWidened(ref v, t, TS.Multiply(g, TS.And(TS.Add(xv, km), mask)));
            if (TX.Lanes) TS.AddWidenedDifference(ref z, t, TS.Select(mask, xv, kc), kc);
        }
    }

    /// <summary>
    /// Per column j of <paramref name="rows"/> rows of <paramref name="width"/> contiguous fold indices: <paramref name="u"/>[j] += sum (dy - dz[j]),
    /// <paramref name="v"/>[j] += sum (dy - dz[j]) * (x + m[j]), <paramref name="z"/>[j] += sum (x + m[j]) exactly; vectors of columns held in
    /// registers over chunks of <see cref="Runs{TS, TV, T}.ChunkVectors"/> rows, each chunk added into double (<typeparamref name="TX"/>
    /// and <typeparamref name="TH"/> as <see cref="Reduce{TX, TH}"/>'s).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReduceColumns<TX, TH>(ref T x, ref T dy, nint rows, nint width, ref T m, ref T dz, ref double u, ref double v, ref double z)
        where TX : struct, IOperand where TH : struct, IOperand =>
        ReduceColumnsCore<TX>(ref x, ref dy, rows, width, width, ref m, ref dz, ref u, ref v, ref z, Ahead<TH>());

    /// <summary><see cref="ReduceColumns{TX, TH}(ref T, ref T, nint, nint, ref T, ref T, ref double, ref double, ref double)"/> over rows
    /// <paramref name="stride"/> elements apart (a block of channels of every sample, NCHW).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReduceColumns<TX, TH>(ref T x, ref T dy, nint rows, nint width, nint stride, ref T m, ref T dz, ref double u, ref double v, ref double z)
        where TX : struct, IOperand where TH : struct, IOperand
    {
        nint ahead = Ahead<TH>();
        if (ahead == 0) ahead = Runs<TS, TV, T>.StridedHint(rows, width, stride);
        ReduceColumnsCore<TX>(ref x, ref dy, rows, width, stride, ref m, ref dz, ref u, ref v, ref z, ahead);
    }

    /// <summary>How far ahead (bytes) a reduction with <typeparamref name="TH"/> hints x's and dy's lines into L1:
    /// <see cref="AffineAhead"/> for <see cref="Lanes"/> (the call's tensors come from memory) on x86's vector paths, else
    /// none (0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Ahead<TH>() where TH : struct, IOperand => TH.Lanes && TS.Count > 1 && Sse.IsSupported ? AffineAhead : 0;

    // Compiled on its own, fully optimized: inlined into both ReduceColumns it counted its 28 vector locals against the
    // inliner's limit, and with the float lanes of X added the inline failed and this ran at tier 0 (7x slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReduceColumnsCore<TX>(ref T x, ref T dy, nint rows, nint width, nint stride, ref T m, ref T dz, ref double u, ref double v, ref double z,
        nint ahead) where TX : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        if (typeof(T) == typeof(float) && ahead != 0 && Unsafe.SizeOf<TV>() <= 32 && width % w == 0 && width > step && width <= 2 * step)
        {
            HeldRowSums<TX>(ref x, ref dy, rows, width, stride, ref m, ref dz, ref u, ref v, ref z);
            return;
        }
        nint lead = stride == width ? Lead(ref x, ref dy, width) : -1;
        if (lead >= 0)
        {
            LeadRows<TX>(ref x, ref dy, rows, width, lead, ref m, ref dz, ref u, ref v, ref z, ahead);
            return;
        }
        // Rows far apart that all start as far past a vector boundary (a stride of whole vectors: BatchNorm NCHW's blocks of
        // short-plane channels): the strips start at dy's boundary, so each load of dy reads one line; the columns before
        // it go as one vector with only those lanes. Each column's lanes do what they did, so the same bits. BatchNorm
        // backward NCHW 32x512x7x7, AMD Zen 5, one process alternating with strips from column 0 (medians of 21 rounds): 1
        // thread 0.972-0.974 of the time (four processes), 2 threads 0.965 and 0.982, AVX2 0.988 and 0.990. x read as
        // shifted loads from its own boundary as well (as LeadRows; AVX-512) was even with strips from column 0 (0.989-1.000),
        // 1.015-1.034x the time of dy's boundary alone: not kept.
        nint first = typeof(T) == typeof(float) && w > 1 && stride != width && stride % w == 0 && width >= 2 * step ? Runs<TS, TV, T>.LoadPeel(ref dy) : 0;
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            nint j = first;
            if (first != 0)
                ColumnVector<TX>(ref x, ref dy, r0, rend, stride, 0, ref m, ref dz, ref u, ref v, ref z, -first, ahead);
            for (; j + step <= width; j += step)
            {
                TV k0 = TS.Load(ref m, j), k1 = TS.Load(ref m, j + w), k2 = TS.Load(ref m, j + 2 * w), k3 = TS.Load(ref m, j + 3 * w);
                TV d0 = TS.Load(ref dz, j), d1 = TS.Load(ref dz, j + w), d2 = TS.Load(ref dz, j + 2 * w), d3 = TS.Load(ref dz, j + 3 * w);
                // Double elements subtract the widened m lane by lane (see ColumnStep).
                Wide<TV> c0 = default, c1 = default, c2 = default, c3 = default;
                if (TX.Lanes && typeof(T) != typeof(float))
                {
                    c0 = TS.Widen(TS.Subtract(TS.Zero, k0));
                    c1 = TS.Widen(TS.Subtract(TS.Zero, k1));
                    c2 = TS.Widen(TS.Subtract(TS.Zero, k2));
                    c3 = TS.Widen(TS.Subtract(TS.Zero, k3));
                }
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
                TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                Wide<TV> a0 = default, a1 = default, a2 = default, a3 = default;
                TV f0 = TS.Zero, f1 = TS.Zero, f2 = TS.Zero, f3 = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * stride + j;
                    if (ahead != 0)
                    {
                        // The strip's columns of a row further on (rows back to back: every line once over the strips).
                        Hint(ref x, o, step, ahead);
                        Hint(ref dy, o, step, ahead);
                    }
                    ColumnStep<TX>(ref x, ref dy, o, k0, d0, c0, ref s0, ref q0, ref a0, ref f0);
                    ColumnStep<TX>(ref x, ref dy, o + w, k1, d1, c1, ref s1, ref q1, ref a1, ref f1);
                    ColumnStep<TX>(ref x, ref dy, o + 2 * w, k2, d2, c2, ref s2, ref q2, ref a2, ref f2);
                    ColumnStep<TX>(ref x, ref dy, o + 3 * w, k3, d3, c3, ref s3, ref q3, ref a3, ref f3);
                }
                ColumnTotals<TX>(j, s0, q0, ref a0, f0, ref u, ref v, ref z);
                ColumnTotals<TX>(j + w, s1, q1, ref a1, f1, ref u, ref v, ref z);
                ColumnTotals<TX>(j + 2 * w, s2, q2, ref a2, f2, ref u, ref v, ref z);
                ColumnTotals<TX>(j + 3 * w, s3, q3, ref a3, f3, ref u, ref v, ref z);
            }
            for (; j + w <= width; j += w)
                ColumnVector<TX>(ref x, ref dy, r0, rend, stride, j, ref m, ref dz, ref u, ref v, ref z, w, ahead);
            if (w > 1 && j < width)
                ColumnVector<TX>(ref x, ref dy, r0, rend, stride, width - w, ref m, ref dz, ref u, ref v, ref z, width - j, ahead);
        }
    }

    /// <summary>
    /// Whether <see cref="ReduceColumnsCore{TX}"/>'s rows run in <see cref="LeadRows{TX}"/>, and from which column: -1 (no:
    /// x and dy both on a 64-byte boundary, double elements, rows that are not whole strips, or a path without shifts, see
    /// <see cref="ISimd{TV, T}.Shifts"/>), else the columns before dy's next 64-byte boundary (0 where dy is on one and x is
    /// off). Float rows of whole strips on the 512-bit path, contiguous, so every row starts as far off as the first. Each
    /// 512-bit load of dy then reads one cache line instead of two, and x's too (shifted where x is off); the strip that ends
    /// the row (<see cref="WrapStrip{TX}"/>) reads the row's last columns and the next row's first as one vector.
    /// BatchNorm backward NHWC 32x7x7x512, AMD Zen 5, 1 thread, its reduction alone (BackwardStatistics, one process
    /// alternating, shared buffers): x and dy 8 bytes off took 1.19x the time of both aligned, one of them off 1.05x; read
    /// from dy's boundary, 8 bytes off 1.03x, x and dy 8 and 24 bytes off 1.20x -> 1.10x with x read plainly, about 2% less
    /// with x shifted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Lead(ref T x, ref T dy, nint width)
    {
        int w = TS.Count;
        if (typeof(T) != typeof(float) || !TS.Shifts || width % (Unroll * w) != 0) return -1;
        // Lanes past a vector boundary (64 bytes here; 0 also for an address off the element size, read as it is).
        nint ox = Runs<TS, TV, T>.ShiftOffset(ref x), od = Runs<TS, TV, T>.ShiftOffset(ref dy);
        if (ox == 0 && od == 0) return -1;
        return od == 0 ? 0 : w - od;
    }

    /// <summary>
    /// <see cref="ReduceColumnsCore{TX}"/> over rows read from dy's vector boundary, <paramref name="lead"/> columns in (see
    /// <see cref="Lead"/>): strips of four column vectors from column lead, then, with a lead, <see cref="WrapStrip{TX}"/>.
    /// Where x is off a boundary there (x and dy at different distances from one), x is read as shifted loads
    /// (<see cref="ISimd{TV, T}.Shift"/>: five aligned vectors a strip, each column vector put together from two, the lanes a
    /// plain load gives), except where the aligned vectors would reach outside the call's rows. The same operations on the
    /// same lanes, so the same bits. A method of its own, its strips written again beside ReduceColumnsCore's rather than a
    /// branch in them: every other call (aligned buffers, double elements, the 256- and 128-bit paths, ARM) keeps the loop it
    /// ran before, unchanged (aligned calls 1.004-1.007x the old time, within noise).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LeadRows<TX>(ref T x, ref T dy, nint rows, nint width, nint lead, ref T m, ref T dz,
        ref double u, ref double v, ref double z, nint ahead) where TX : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        // x's lanes past a vector boundary at column lead (0: as far off as dy, so aligned there too).
        nint xo = Runs<TS, TV, T>.ShiftOffset(ref Unsafe.Add(ref x, lead));
        TV xi = xo != 0 ? TS.ShiftIndices(xo) : TS.Zero;
        Wide<TV> unused = default;
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            nint j = lead;
            for (; j + step <= width; j += step)
            {
                TV k0 = TS.Load(ref m, j), k1 = TS.Load(ref m, j + w), k2 = TS.Load(ref m, j + 2 * w), k3 = TS.Load(ref m, j + 3 * w);
                TV d0 = TS.Load(ref dz, j), d1 = TS.Load(ref dz, j + w), d2 = TS.Load(ref dz, j + 2 * w), d3 = TS.Load(ref dz, j + 3 * w);
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
                TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                TV f0 = TS.Zero, f1 = TS.Zero, f2 = TS.Zero, f3 = TS.Zero;
                for (nint r = r0; r < rend; r++)
                {
                    nint o = r * width + j;
                    if (ahead != 0)
                    {
                        Hint(ref x, o, step, ahead);
                        Hint(ref dy, o, step, ahead);
                    }
                    if (xo != 0 && (r > 0 || j >= xo) && (r + 1 < rows || j + step + w - xo <= width))
                    {
                        // The five aligned vectors inside the rows: not the first row's first strip where x is further off
                        // than the lead, nor, with no lead, the last row's last strip (its fifth vector past the end).
                        nint a = o - xo;
                        TV a0 = TS.Load(ref x, a), a1 = TS.Load(ref x, a + w), a2 = TS.Load(ref x, a + 2 * w), a3 = TS.Load(ref x, a + 3 * w), a4 = TS.Load(ref x, a + 4 * w);
                        LaneValues<TX>(TS.Shift(a0, a1, xi), TS.Load(ref dy, o), k0, d0, ref s0, ref q0, ref f0);
                        LaneValues<TX>(TS.Shift(a1, a2, xi), TS.Load(ref dy, o + w), k1, d1, ref s1, ref q1, ref f1);
                        LaneValues<TX>(TS.Shift(a2, a3, xi), TS.Load(ref dy, o + 2 * w), k2, d2, ref s2, ref q2, ref f2);
                        LaneValues<TX>(TS.Shift(a3, a4, xi), TS.Load(ref dy, o + 3 * w), k3, d3, ref s3, ref q3, ref f3);
                        continue;
                    }
                    LaneStep<TX>(ref x, ref dy, o, k0, d0, ref s0, ref q0, ref f0);
                    LaneStep<TX>(ref x, ref dy, o + w, k1, d1, ref s1, ref q1, ref f1);
                    LaneStep<TX>(ref x, ref dy, o + 2 * w, k2, d2, ref s2, ref q2, ref f2);
                    LaneStep<TX>(ref x, ref dy, o + 3 * w, k3, d3, ref s3, ref q3, ref f3);
                }
                ColumnTotals<TX>(j, s0, q0, ref unused, f0, ref u, ref v, ref z);
                ColumnTotals<TX>(j + w, s1, q1, ref unused, f1, ref u, ref v, ref z);
                ColumnTotals<TX>(j + 2 * w, s2, q2, ref unused, f2, ref u, ref v, ref z);
                ColumnTotals<TX>(j + 3 * w, s3, q3, ref unused, f3, ref u, ref v, ref z);
            }
            if (lead != 0) WrapStrip<TX>(ref x, ref dy, r0, rend, rows, width, lead, xo, xi, ref m, ref dz, ref u, ref v, ref z, ahead);
        }
    }

    /// <summary>
    /// The last strip of <see cref="LeadRows{TX}"/>' rows, over rows [<paramref name="r0"/>, <paramref name="rend"/>) of the
    /// call's <paramref name="rows"/>: three column vectors as the other strips', and a fourth that holds the row's last
    /// w - lead columns in its first lanes and the next row's first lead columns in its last (lane l: column l + lead, modulo
    /// w, of the vector that ends the row or starts it). Rows r and r + 1 share one such load (aligned, inside the call's
    /// rows, the four vectors contiguous); the chunk's first row's leading columns and its last row's trailing ones come from
    /// the neighbouring loads with the other row's lanes masked to 0 (at the call's first and last row, from the row's own
    /// first or last vector, its lanes rotated, so nothing outside the rows is read). x as in LeadRows (<paramref name="xo"/>,
    /// <paramref name="xi"/>), shifted where the five aligned vectors lie inside the rows. Each lane sums its column's rows of
    /// the chunk in order from 0, as the strips do: the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void WrapStrip<TX>(ref T x, ref T dy, nint r0, nint rend, nint rows, nint width, nint lead, nint xo, TV xi, ref T m, ref T dz,
        ref double u, ref double v, ref double z, nint ahead) where TX : struct, IOperand
    {
        int w = TS.Count;
        nint j = width - Unroll * w + lead, back = lead - w;
        // lane l <- lane (l + lead) mod w (a shift of the vector against itself): the row's first or last vector's columns
        // in the wrapped vector's lanes.
        TV rotate = TS.ShiftIndices(lead);
        TV firsts = TS.LastLanes(lead), lasts = TS.LastLanes(w - lead);
        TV all = TS.LastLanes(w), trailing = TS.Select(firsts, TS.Zero, all);
        TV k0 = TS.Load(ref m, j), k1 = TS.Load(ref m, j + w), k2 = TS.Load(ref m, j + 2 * w);
        TV d0 = TS.Load(ref dz, j), d1 = TS.Load(ref dz, j + w), d2 = TS.Load(ref dz, j + 2 * w);
        TV k3 = TS.Select(firsts, Rotate(TS.Load(ref m, 0), rotate), Rotate(TS.Load(ref m, width - w), rotate));
        TV d3 = TS.Select(firsts, Rotate(TS.Load(ref dz, 0), rotate), Rotate(TS.Load(ref dz, width - w), rotate));
        TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero;
        TV q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
        TV f0 = TS.Zero, f1 = TS.Zero, f2 = TS.Zero, f3 = TS.Zero;
        Wide<TV> unused = default;
        // The chunk's first row's leading columns (the wrapped vector's last lanes).
        nint first = r0 * width;
        if (r0 > 0) LaneValuesMasked<TX>(TS.Load(ref x, first + back), TS.Load(ref dy, first + back), k3, d3, firsts, ref s3, ref q3, ref f3);
        else LaneValuesMasked<TX>(Rotate(TS.Load(ref x, first), rotate), Rotate(TS.Load(ref dy, first), rotate), k3, d3, firsts, ref s3, ref q3, ref f3);
        for (nint r = r0; r < rend; r++)
        {
            nint o = r * width + j;
            if (ahead != 0)
            {
                Hint(ref x, o, Unroll * w, ahead);
                Hint(ref dy, o, Unroll * w, ahead);
            }
            // Row r's last columns and row r + 1's first (the wrapped vector, o + 3w), or at the call's last row its own last vector.
            bool inside = r + 1 < rows;
            TV x0, x1, x2, x3;
            if (xo != 0 && inside && (r > 0 || j >= xo))
            {
                nint a = o - xo;
                TV a0 = TS.Load(ref x, a), a1 = TS.Load(ref x, a + w), a2 = TS.Load(ref x, a + 2 * w), a3 = TS.Load(ref x, a + 3 * w), a4 = TS.Load(ref x, a + 4 * w);
                x0 = TS.Shift(a0, a1, xi); x1 = TS.Shift(a1, a2, xi); x2 = TS.Shift(a2, a3, xi); x3 = TS.Shift(a3, a4, xi);
            }
            else
            {
                x0 = TS.Load(ref x, o); x1 = TS.Load(ref x, o + w); x2 = TS.Load(ref x, o + 2 * w);
                x3 = inside ? TS.Load(ref x, o + 3 * w) : Rotate(TS.Load(ref x, o + 3 * w - lead), rotate);
            }
            TV y3 = inside ? TS.Load(ref dy, o + 3 * w) : Rotate(TS.Load(ref dy, o + 3 * w - lead), rotate);
            LaneValues<TX>(x0, TS.Load(ref dy, o), k0, d0, ref s0, ref q0, ref f0);
            LaneValues<TX>(x1, TS.Load(ref dy, o + w), k1, d1, ref s1, ref q1, ref f1);
            LaneValues<TX>(x2, TS.Load(ref dy, o + 2 * w), k2, d2, ref s2, ref q2, ref f2);
            // The next row's first columns only where that row is the chunk's.
            LaneValuesMasked<TX>(x3, y3, k3, d3, r + 1 < rend ? all : trailing, ref s3, ref q3, ref f3);
        }
        ColumnTotals<TX>(j, s0, q0, ref unused, f0, ref u, ref v, ref z);
        ColumnTotals<TX>(j + w, s1, q1, ref unused, f1, ref u, ref v, ref z);
        ColumnTotals<TX>(j + 2 * w, s2, q2, ref unused, f2, ref u, ref v, ref z);
        // Back to column order: lane l <- lane (l - lead) mod w, the last vector's columns in its last lanes, the first's in its first.
        TV back0 = TS.ShiftIndices(w - lead);
        TV S = Rotate(s3, back0), Q = Rotate(q3, back0), F = Rotate(f3, back0);
        TV leading = TS.Select(lasts, TS.Zero, all);
        ColumnTotals<TX>(width - w, TS.And(S, lasts), TS.And(Q, lasts), ref unused, TS.And(F, lasts), ref u, ref v, ref z);
        ColumnTotals<TX>(0, TS.And(S, leading), TS.And(Q, leading), ref unused, TS.And(F, leading), ref u, ref v, ref z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Rotate(TV v, TV indices) => TS.Shift(v, v, indices);

    /// <summary>
    /// <see cref="ReduceColumnsCore{TX}"/> over float rows of five to eight whole vectors read from memory on x86's 256-
    /// and 128-bit paths (C = 40 to 64 on AVX2, 20 to 32 on the 128-bit path; double rows, not measured, keep the strips),
    /// row after row: each vector's sum of dy - dz in a register, its sum of the product (and, with <typeparamref
    /// name="TX"/> Lanes, of x + m) in a 64-byte aligned stack slot that each row loads and stores, over the same chunks of
    /// <see cref="Runs{TS, TV, T}.ChunkVectors"/> rows, with the same operations per element: the same bits as the strips
    /// of four vectors that sixteen registers allow otherwise (sixteen sums, four shifts and four dy shifts do not fit).
    /// The strips read each row's lines in two passes a chunk apart, with hints; rows in order need none (hinted as the
    /// strips are, 6-35% slower in single runs). AMD Zen 5, 1 thread, one process alternating (both orders), new / strips:
    /// AVX2 BatchNorm backward NHWC 32x56x56x64 0.87 and 0.91 (3,939 / 4,459 us, 3,635 / 3,965), GroupNorm(32) 0.79 and
    /// 0.81; 128-bit 64x56x56x32 BatchNorm 0.94-0.99, GroupNorm 0.86-0.89; 2 threads (AVX2 BatchNorm) 0.95-1.01. In cache
    /// the strips stay: their sums never leave registers (AVX2 4x14x14x64 in L2, rows in order 1.31x slower), and AVX-512
    /// keeps them (32 registers; 16x28x28x128 rows in order 1.14-1.19x slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit] // slots zeroed per chunk
    private static unsafe void HeldRowSums<TX>(ref T x, ref T dy, nint rows, nint width, nint stride, ref T m, ref T dz,
        ref double u, ref double v, ref double z) where TX : struct, IOperand
    {
        int w = TS.Count;
        nint k = width / w;
        // Two rows of slots, the products' sums, then X's: each up to 2 x Unroll vectors of at most 32 bytes (the caller's
        // width <= 2 * step and Unsafe.SizeOf<TV>() <= 32), and 64 bytes of slack for the alignment.
        byte* raw = stackalloc byte[2 * 2 * Unroll * 32 + 64];
        ref T qs = ref Unsafe.AsRef<T>((void*)(((nint)raw + 63) & ~(nint)63));
        ref T xs = ref Unsafe.Add(ref qs, width);
        for (nint r0 = 0; r0 < rows; r0 += ChunkVectors)
        {
            nint rend = rows - r0 > ChunkVectors ? r0 + ChunkVectors : rows;
            for (nint c = 0; c < width; c += w)
            {
                TS.Store(TS.Zero, ref qs, c);
                if (TX.Lanes) TS.Store(TS.Zero, ref xs, c);
            }
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero, s4 = TS.Zero, s5 = TS.Zero, s6 = TS.Zero, s7 = TS.Zero;
            for (nint r = r0; r < rend; r++)
            {
                ref T xr = ref Unsafe.Add(ref x, r * stride), dr = ref Unsafe.Add(ref dy, r * stride);
                HeldRowStep<TX>(ref xr, ref dr, 0, ref m, ref dz, ref qs, ref xs, ref s0);
                HeldRowStep<TX>(ref xr, ref dr, w, ref m, ref dz, ref qs, ref xs, ref s1);
                HeldRowStep<TX>(ref xr, ref dr, 2 * w, ref m, ref dz, ref qs, ref xs, ref s2);
                HeldRowStep<TX>(ref xr, ref dr, 3 * w, ref m, ref dz, ref qs, ref xs, ref s3);
                HeldRowStep<TX>(ref xr, ref dr, 4 * w, ref m, ref dz, ref qs, ref xs, ref s4);
                if (k > 5) HeldRowStep<TX>(ref xr, ref dr, 5 * w, ref m, ref dz, ref qs, ref xs, ref s5);
                if (k > 6) HeldRowStep<TX>(ref xr, ref dr, 6 * w, ref m, ref dz, ref qs, ref xs, ref s6);
                if (k > 7) HeldRowStep<TX>(ref xr, ref dr, 7 * w, ref m, ref dz, ref qs, ref xs, ref s7);
            }
            HeldRowTotals<TX>(0, s0, ref qs, ref xs, ref u, ref v, ref z);
            HeldRowTotals<TX>(w, s1, ref qs, ref xs, ref u, ref v, ref z);
            HeldRowTotals<TX>(2 * w, s2, ref qs, ref xs, ref u, ref v, ref z);
            HeldRowTotals<TX>(3 * w, s3, ref qs, ref xs, ref u, ref v, ref z);
            HeldRowTotals<TX>(4 * w, s4, ref qs, ref xs, ref u, ref v, ref z);
            if (k > 5) HeldRowTotals<TX>(5 * w, s5, ref qs, ref xs, ref u, ref v, ref z);
            if (k > 6) HeldRowTotals<TX>(6 * w, s6, ref qs, ref xs, ref u, ref v, ref z);
            if (k > 7) HeldRowTotals<TX>(7 * w, s7, ref qs, ref xs, ref u, ref v, ref z);
        }
    }

    /// <summary>A step of <see cref="HeldRowSums{TX}"/>: <see cref="ColumnStep{TX}"/>'s operations, the product's sum (and X's)
    /// in the slots at <paramref name="c"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HeldRowStep<TX>(ref T x, ref T dy, nint c, ref T m, ref T dz, ref T qs, ref T xs, ref TV s) where TX : struct, IOperand
    {
        TV t = TS.Add(TS.Load(ref x, c), TS.Load(ref m, c));
        TV g = TS.Subtract(TS.Load(ref dy, c), TS.Load(ref dz, c));
        s = TS.Add(s, g);
        TS.Store(TS.MultiplyAdd(g, t, TS.Load(ref qs, c)), ref qs, c);
        if (TX.Lanes) TS.Store(TS.Add(TS.Load(ref xs, c), t), ref xs, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HeldRowTotals<TX>(nint c, TV s, ref T qs, ref T xs, ref double u, ref double v, ref double z) where TX : struct, IOperand
    {
        Wide<TV> unused = default;
        ColumnTotals<TX>(c, s, TS.Load(ref qs, c), ref unused, TX.Lanes ? TS.Load(ref xs, c) : TS.Zero, ref u, ref v, ref z);
    }

    /// <summary>One column vector's sums over rows [<paramref name="r0"/>, <paramref name="rend"/>): its last
    /// <paramref name="lanes"/> lanes (all of them, or a partial vector's that ends the row), or with <paramref name="lanes"/>
    /// negative its first -<paramref name="lanes"/> (the columns before the strips' first vector boundary). A call of its own
    /// (per chunk of rows): inlined into the chunked reductions' drivers, it was left a call with its mask made at the call
    /// site.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ColumnVector<TX>(ref T x, ref T dy, nint r0, nint rend, nint stride, nint col, ref T m, ref T dz,
        ref double u, ref double v, ref double z, nint lanes, nint ahead) where TX : struct, IOperand
    {
        bool masked = lanes < TS.Count;
        TV mask = !masked ? TS.Zero : lanes > 0 ? TS.LastLanes(lanes) : Runs<TS, TV, T>.FirstLanes(-lanes);
        TV k = TS.Load(ref m, col), kd = TS.Load(ref dz, col);
        TV s = TS.Zero, q = TS.Zero, xf = TS.Zero;
        Wide<TV> kx = TX.Lanes && typeof(T) != typeof(float) ? TS.Widen(TS.Subtract(TS.Zero, k)) : default, xa = default;
        for (nint r = r0; r < rend; r++)
        {
            if (ahead != 0)
            {
                Hint(ref x, r * stride + col, TS.Count, ahead);
                Hint(ref dy, r * stride + col, TS.Count, ahead);
            }
            if (masked && typeof(T) == typeof(float))
            {
                // The lanes of columns before the partial vector's: masked to 0 (x - mf's too).
                LaneStepMasked<TX>(ref x, ref dy, r * stride + col, k, kd, mask, ref s, ref q, ref xf);
            }
            else if (masked) ReduceStepMasked<TX>(ref x, ref dy, r * stride + col, k, kd, kx, mask, ref s, ref q, ref xa);
            else ColumnStep<TX>(ref x, ref dy, r * stride + col, k, kd, kx, ref s, ref q, ref xa, ref xf);
        }
        ColumnTotals<TX>(col, s, q, ref xa, xf, ref u, ref v, ref z);
    }

    /// <summary>A column step: as <see cref="ReduceStep{TX}"/>, but for float elements <see cref="LaneStep{TX}"/>: X's lanes
    /// sum x + m, the product's factor, in float (<paramref name="xf"/>) over the chunk's at most <see cref="Runs{TS, TV, T}.ChunkVectors"/> rows,
    /// widened once in <see cref="ColumnTotals{TX}"/>: exact while every |x - mf| is below |mf| / 32 (the differences are
    /// then multiples of the smallest ulp among x and mf, and 16 of them fit in 24 bits: offset data), rounding as the other
    /// float lanes on data centred near mf (GroupNorm(32) backward NHWC 32x7x7x512: 229 -> 217 us against x widened a
    /// vector at a time, AVX2 263 -> 238). Double elements subtract <paramref name="kx"/> lane by lane as <see cref="ReduceStep{TX}"/> does, into
    /// <paramref name="xa"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnStep<TX>(ref T x, ref T dy, nint at, TV k, TV kd, Wide<TV> kx, ref TV s, ref TV q, ref Wide<TV> xa, ref TV xf)
        where TX : struct, IOperand
    {
        if (typeof(T) != typeof(float))
        {
            ReduceStep<TX>(ref x, ref dy, at, k, kd, kx, ref s, ref q, ref xa);
            return;
        }
        LaneStep<TX>(ref x, ref dy, at, k, kd, ref s, ref q, ref xf);
    }

    /// <summary>A column vector's sums over a chunk of rows into u, v, z at <paramref name="col"/>: for float elements X from
    /// the float lanes <paramref name="xf"/> widened (see <see cref="ColumnStep{TX}"/>), for double ones from
    /// <paramref name="xa"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnTotals<TX>(nint col, TV s, TV q, ref Wide<TV> xa, TV xf, ref double u, ref double v, ref double z) where TX : struct, IOperand
    {
        TS.AddWidened(ref u, col, s);
        TS.AddWidened(ref v, col, q);
        if (TX.Lanes)
        {
            if (typeof(T) == typeof(float)) TS.AddWidened(ref z, col, xf);
            else TS.AddWide(ref z, col, ref xa);
        }
    }

    // ------------------------------------------------------------------ apply

    /// <summary>
    /// dx = (dy - dz) * P + (x + m) * Q + R over a contiguous run; <typeparamref name="TF"/> says whether m, P, Q, R, dz are one
    /// value (one fold index along the run) or loaded along it; <typeparamref name="TW"/> how dx is stored (streamed as in
    /// <see cref="Runs{TS, TV, T}"/>' apply). The last partial vector is blended with what is stored, so dx may be dy or x
    /// itself (a streamed call's dx overlaps neither).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TW, TF>(ref T x, ref T dy, ref T dx, nint len, ref T m, ref T p, ref T q, ref T r, ref T dz)
        where TW : struct, IStores where TF : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        TV vm = TF.Lanes ? TS.Zero : TS.Splat(m), vp = TF.Lanes ? TS.Zero : TS.Splat(p), vq = TF.Lanes ? TS.Zero : TS.Splat(q);
        TV vr = TF.Lanes ? TS.Zero : TS.Splat(r), vd = TF.Lanes ? TS.Zero : TS.Splat(dz);
        // The refs advance with the run (ref reassignment, here: a helper would move only its own copies) and every load is at a
        // constant offset from one of them: with up to eight streams, indices shared between them would be common subexpressions
        // the JIT keeps in registers, and spills.
        nint n = len;
        // Streamed runs in their own method, so their code does not count against the inlining budget of the nests (see Runs).
        if (TW.Streaming && w > 1 && ApplyStreamed<TF>(ref x, ref dy, ref dx, len, ref m, ref p, ref q, ref r, ref dz)) return;
        // The last partial vector computed first, from dy and x as given, and stored whole at the end (see Runs.ApplyCore's tail).
        bool whole = w > 1 && len >= w && (len & (w - 1)) != 0;
        TV last = whole ? ApplyExpression<TF>(TS.Load(ref dy, len - w), TS.Load(ref x, len - w), len - w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd) : TS.Zero;
        for (; n >= step; n -= step)
        {
            TV d0 = TS.Load(ref dy, 0), d1 = TS.Load(ref dy, w), d2 = TS.Load(ref dy, 2 * w), d3 = TS.Load(ref dy, 3 * w);
            TV x0 = TS.Load(ref x, 0), x1 = TS.Load(ref x, w), x2 = TS.Load(ref x, 2 * w), x3 = TS.Load(ref x, 3 * w);
            TS.Store(ApplyExpression<TF>(d0, x0, 0, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, 0);
            TS.Store(ApplyExpression<TF>(d1, x1, w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, w);
            TS.Store(ApplyExpression<TF>(d2, x2, 2 * w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, 2 * w);
            TS.Store(ApplyExpression<TF>(d3, x3, 3 * w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, 3 * w);
            x = ref Unsafe.Add(ref x, step);
            dy = ref Unsafe.Add(ref dy, step);
            dx = ref Unsafe.Add(ref dx, step);
            if (TF.Lanes)
            {
                m = ref Unsafe.Add(ref m, step);
                p = ref Unsafe.Add(ref p, step);
                q = ref Unsafe.Add(ref q, step);
                r = ref Unsafe.Add(ref r, step);
                dz = ref Unsafe.Add(ref dz, step);
            }
        }
        for (; n >= w; n -= w)
        {
            TS.Store(ApplyExpression<TF>(TS.Load(ref dy, 0), TS.Load(ref x, 0), 0, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, 0);
            x = ref Unsafe.Add(ref x, w);
            dy = ref Unsafe.Add(ref dy, w);
            dx = ref Unsafe.Add(ref dx, w);
            if (TF.Lanes)
            {
                m = ref Unsafe.Add(ref m, w);
                p = ref Unsafe.Add(ref p, w);
                q = ref Unsafe.Add(ref q, w);
                r = ref Unsafe.Add(ref r, w);
                dz = ref Unsafe.Add(ref dz, w);
            }
        }
        if (w > 1 && n > 0)
        {
            // The run's last w elements, which start n - w (< 0) from where the refs stand.
            nint t = n - w;
            if (whole)
            {
                TS.Store(last, ref dx, t);
                return;
            }
            TV tail = ApplyExpression<TF>(TS.Load(ref dy, t), TS.Load(ref x, t), t, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd);
            TS.Store(TS.Select(TS.LastLanes(n), tail, TS.Load(ref dx, t)), ref dx, t);
        }
    }

    /// <summary>Widest rows (elements) <see cref="ApplyRows{TW}"/> runs as one flat range (its five coefficient arrays, written
    /// twice over, live on the stack).</summary>
    private const int FlatWidth = 256;

    /// <summary>
    /// <see cref="Apply{TW, TF}"/> with the coefficients loaded along the run, over <paramref name="rows"/> contiguous rows of
    /// <paramref name="width"/> elements that share them (channels last), as Runs.ApplyRows does for the forward: rows of whole
    /// vectors up to <see cref="FlatWidth"/> elements run as one flat range (no call per row; streamed, peeled to 64 bytes once),
    /// the coefficients of vector j of a row that starts `phase` columns in read at phase + j of their doubled copies. The same
    /// bits as row by row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit] // the stack copies: only the doubled ones it writes are read
    public static unsafe void ApplyRows<TW>(ref T x, ref T dy, ref T dx, nint rows, nint width, ref T m, ref T p, ref T q, ref T r, ref T dz)
        where TW : struct, IStores
    {
        int w = TS.Count;
        if (!TW.Streaming && w > 1 && width % w == 0 && width > FlatWidth)
        {
            HeldRows(ref x, ref dy, ref dx, rows, width, ref m, ref p, ref q, ref r, ref dz);
            return;
        }
        if (w == 1 || width % w != 0 || width > FlatWidth)
        {
            for (nint row = 0; row < rows; row++)
            {
                nint o = row * width;
                Apply<TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref dx, o), width, ref m, ref p, ref q, ref r, ref dz);
            }
            return;
        }
        nint total = rows * width, head = 0;
        bool stream = false;
        if (TW.Streaming)
        {
            nuint address = (nuint)Unsafe.AsPointer(ref dx);
            head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
            stream = (long)total * sizeof(T) >= Streaming.MinimumRunBytes && address % (nuint)sizeof(T) == 0 && total >= head + width + w;
            if (!stream) head = 0;
        }
        // From a 64-byte boundary: a row's vectors then read their coefficients aligned wherever the phase is a whole vector.
        T* unaligned = stackalloc T[10 * FlatWidth + 64 / sizeof(T)];
        T* twice = (T*)(((nint)unaligned + 63) & ~(nint)63);
        ref T m2 = ref Unsafe.AsRef<T>(twice);
        ref T p2 = ref Unsafe.Add(ref m2, 2 * width);
        ref T q2 = ref Unsafe.Add(ref p2, 2 * width);
        ref T r2 = ref Unsafe.Add(ref q2, 2 * width);
        ref T z2 = ref Unsafe.Add(ref r2, 2 * width);
        Runs<TS, TV, T>.Doubled(ref m, ref m2, width);
        Runs<TS, TV, T>.Doubled(ref p, ref p2, width);
        Runs<TS, TV, T>.Doubled(ref q, ref q2, width);
        Runs<TS, TV, T>.Doubled(ref r, ref r2, width);
        Runs<TS, TV, T>.Doubled(ref dz, ref z2, width);
        // Streamed: the elements before dx's first 64-byte boundary lane by lane (columns o % width on: a row narrower than
        // the head, C = 4 on the 128-bit path, wraps within it).
        for (nint o = 0; o < head; o += w)
        {
            TV lead = FlatExpression(ref x, ref dy, o, ref m2, ref p2, ref q2, ref r2, ref z2, o % width);
            Runs<TS, TV, T>.StoreLanes(lead, ref dx, o, o + w < head ? o + w : head, o);
        }
        nint phase = head % width, at = head;
        int k = (int)(width / w);
        if (k <= Runs<TS, TV, T>.Unroll)
        {
            // Rows of at most four vectors: each vector's five coefficients held in registers across the rows, as the forward's
            // flat rows hold their three (loaded from the doubled copies at the row's phase once, not five misaligned loads a
            // vector: BatchNorm backward NHWC S1's dx pass, C = 64, 1 thread, AMD Zen 5: 3.3-3.4 -> 1.7-2.5 ms).
            nint n = (total - at) / width;
            HeldFlatRows(ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref dy, at), ref Unsafe.Add(ref dx, at), n, width, stream,
                ref Unsafe.Add(ref m2, phase), ref Unsafe.Add(ref p2, phase), ref Unsafe.Add(ref q2, phase), ref Unsafe.Add(ref r2, phase), ref Unsafe.Add(ref z2, phase));
            at += n * width;
        }
        else
        {
            if (k <= 2 * Runs<TS, TV, T>.Unroll)
            {
                bool hint = stream && typeof(TW) == typeof(StreamedFromMemoryStores) && Sse.IsSupported;
                // Rows of five to eight vectors (C = 40 to 64 on AVX2, 80 to 128 on AVX-512): four rows at a time, each block
                // of two column vectors with its ten coefficients held for the four (as HeldRows), not five coefficient
                // loads beside each vector's two. The same expression per element, so the same bits; every element's dx from
                // its own x and dy, so dx may be x or dy. AMD Zen 5, 1 thread, one process alternating calls (row by row /
                // held): AVX2 GroupNorm NHWC 32x56x56x64 3,026 / 2,837 and 2,941 / 2,810 us, BatchNorm even (3,425 / 3,375,
                // 3,182 / 3,333); AVX-512 32x28x28x128 BatchNorm 2,027 / 1,691 and 2,114 / 1,624, GroupNorm 1,475 / 1,259;
                // in cache (2x64x64x64 AVX2, 8x28x28x128 AVX-512) 10-15% faster; 2 threads within 2% or faster.
                // A whole tensor's dx from memory (StreamedFromMemoryStores: BatchNorm NHWC's second pass) hints each tile row's
                // lines AffineAhead on: the tile reads a row's lines a column pair at a time, four rows apart, an order the
                // hardware prefetchers fetch late. AMD Zen 5, 1 thread, one process alternating, both orders, BatchNorm
                // backward: AVX2 32x56x56x64 2,725-2,750 -> 2,565-2,590 us (the other order 2,727-2,853 -> 2,588-2,669);
                // AVX-512 64x28x28x128 2,988-3,074 -> 2,665-2,775 (2,983-3,053 -> 2,805-2,820); 2 threads 1,055-1,061 ->
                // 901-938 and 1,128-1,174 -> 925-942. 4 KB ahead against 8 KB: 2-4% faster (2 KB and 16 KB slower). In a block of GroupNorm (its rows
                // just reduced, in cache) the same hints were even to 2% slower, so they stay off there. The 512-bit path's
                // rows of up to four vectors (HeldFlatRows, in order) ran 3-10% slower with them.
                for (; at + HeldRowCount * width <= total; at += HeldRowCount * width)
                    HeldTile(ref x, ref dy, ref dx, at, HeldRowCount, width, ref m2, ref p2, ref q2, ref r2, ref z2, phase, stream, hint);
            }
            for (; at + width <= total; at += width)
                for (nint j = 0; j < width; j += w)
                    FlatStore(stream, FlatExpression(ref x, ref dy, at + j, ref m2, ref p2, ref q2, ref r2, ref z2, phase + j), ref dx, at + j);
        }
        for (nint j = 0; at + w <= total; at += w, j += w)
            FlatStore(stream, FlatExpression(ref x, ref dy, at, ref m2, ref p2, ref q2, ref r2, ref z2, phase + j), ref dx, at);
        if (at < total)
        {
            // The last w elements end a row: columns width - w .. width - 1.
            nint t = total - w;
            TV last = FlatExpression(ref x, ref dy, t, ref m2, ref p2, ref q2, ref r2, ref z2, width - w);
            Runs<TS, TV, T>.StoreLanes(last, ref dx, at, total, t);
        }
    }

    /// <summary>
    /// The flat range's rows of at most four vectors (<see cref="ApplyRows{TW}"/>): each vector's five coefficients loaded once,
    /// from <paramref name="m"/> .. <paramref name="dz"/> at the rows' phase (vector j's at j * w: the doubled copies), and
    /// held in registers across the rows. A method of its own: written out in <see cref="ApplyRows{TW}"/>, the JIT kept the
    /// loop's offsets and its bound on the stack (a store and two loads a vector beside the streaming stores), and BatchNorm
    /// backward NHWC S1 (C = 64) took 2.80-2.83 ms against 2.07-2.13 here (1 thread, AMD Zen 5, one process alternating;
    /// the other order 2.28-2.77 against 2.12-2.31); InstanceNorm backward NHWC S1 2.80 -> 2.20, GroupNorm 2.31 -> 2.10.
    /// The same expression, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void HeldFlatRows(ref T x, ref T dy, ref T dx, nint rows, nint width, bool stream, ref T m, ref T p, ref T q, ref T r, ref T dz)
    {
        int w = TS.Count;
        nint k = width / w, end = rows * width;
        TV M0 = TS.Load(ref m, 0), P0 = TS.Load(ref p, 0), Q0 = TS.Load(ref q, 0), R0 = TS.Load(ref r, 0), Z0 = TS.Load(ref dz, 0);
        TV M1 = k > 1 ? TS.Load(ref m, w) : M0, P1 = k > 1 ? TS.Load(ref p, w) : P0, Q1 = k > 1 ? TS.Load(ref q, w) : Q0;
        TV R1 = k > 1 ? TS.Load(ref r, w) : R0, Z1 = k > 1 ? TS.Load(ref dz, w) : Z0;
        TV M2 = k > 2 ? TS.Load(ref m, 2 * w) : M0, P2 = k > 2 ? TS.Load(ref p, 2 * w) : P0, Q2 = k > 2 ? TS.Load(ref q, 2 * w) : Q0;
        TV R2 = k > 2 ? TS.Load(ref r, 2 * w) : R0, Z2 = k > 2 ? TS.Load(ref dz, 2 * w) : Z0;
        TV M3 = k > 3 ? TS.Load(ref m, 3 * w) : M0, P3 = k > 3 ? TS.Load(ref p, 3 * w) : P0, Q3 = k > 3 ? TS.Load(ref q, 3 * w) : Q0;
        TV R3 = k > 3 ? TS.Load(ref r, 3 * w) : R0, Z3 = k > 3 ? TS.Load(ref dz, 3 * w) : Z0;
        for (nint at = 0; at < end; at += width)
        {
            FlatStore(stream, HeldExpression(ref x, ref dy, at, M0, P0, Q0, R0, Z0), ref dx, at);
            if (k > 1) FlatStore(stream, HeldExpression(ref x, ref dy, at + w, M1, P1, Q1, R1, Z1), ref dx, at + w);
            if (k > 2) FlatStore(stream, HeldExpression(ref x, ref dy, at + 2 * w, M2, P2, Q2, R2, Z2), ref dx, at + 2 * w);
            if (k > 3) FlatStore(stream, HeldExpression(ref x, ref dy, at + 3 * w, M3, P3, Q3, R3, Z3), ref dx, at + 3 * w);
        }
    }

    /// <summary>Rows taken together by <see cref="HeldRows"/> and by the flat range's rows of five to eight vectors (<see cref="HeldTile"/>):
    /// each column block's coefficients are loaded once for them.</summary>
    private const int HeldRowCount = 4;

    /// <summary>
    /// Rows wider than <see cref="FlatWidth"/> (whole vectors, stored normally), <see cref="HeldRowCount"/> at a time: for each
    /// block of two vectors of columns, the block's ten coefficient vectors are loaded once and held for the rows, instead of
    /// five loads per vector row by row (seven loads a vector with x and dy). The same expression per element
    /// (<see cref="HeldExpression"/>), so the same bits as row by row; every element's dx from its own x and dy, so dx may be
    /// x or dy.
    /// <para>Each tile hints the dx lines of the next tile's rows (the same columns, <see cref="HeldRowCount"/> rows on) into L1
    /// as it stores its own (x86): the stores' lines are read in first, from L3 when dx is not in L2, and the tile writes four
    /// rows' lines a column pair at a time, an order the hardware prefetchers fetch late. GroupNorm(32) backward NHWC
    /// 32x7x7x512 (its sample's x and dy in L2, dx from L3), AMD Zen 5, 1 thread, one process per variant alternating: AVX-512
    /// 200-203 -> 194-196 us, AVX2 247-257 -> 237-238; 2 threads 116 -> 113. Hinted 16 KB on: even; 256 bytes on (the next
    /// column pair): as one tile on with AVX-512, uneven with AVX2. Streamed instead (timing only: an in-cache call keeps
    /// normal stores, see Streaming): 176-183 us, so the lines read in for the stores are about a seventh of the call. In the
    /// bench (x, dy and dx 16, 0 and 8 bytes off a line; the copy before it leaves dx in cache), switched in one build and
    /// alternated: 2-3 us of about 200.</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void HeldRows(ref T x, ref T dy, ref T dx, nint rows, nint width, ref T m, ref T p, ref T q, ref T r, ref T dz)
    {
        nint row = 0, ahead = Sse.IsSupported ? HeldRowCount * width * Unsafe.SizeOf<T>() : 0;
        for (; row + HeldRowCount <= rows; row += HeldRowCount)
            HeldTile(ref x, ref dy, ref dx, row * width, HeldRowCount, width, ref m, ref p, ref q, ref r, ref dz, outputAhead: ahead);
        if (row < rows) HeldTile(ref x, ref dy, ref dx, row * width, rows - row, width, ref m, ref p, ref q, ref r, ref dz);
    }

    /// <summary>Rows [start, start + count x width) by blocks of two column vectors, each block's ten coefficients loaded once
    /// (at <paramref name="phase"/> + the column: the flat range's doubled copies, or 0 and the arrays themselves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HeldTile(ref T x, ref T dy, ref T dx, nint start, nint count, nint width, ref T m, ref T p, ref T q, ref T r, ref T dz,
        nint phase = 0, bool stream = false, bool hint = false, nint outputAhead = 0)
    {
        int w = TS.Count;
        nint j = 0;
        for (; j + 2 * w <= width; j += 2 * w)
        {
            nint c0 = phase + j, c1 = c0 + w;
            TV M0 = TS.Load(ref m, c0), P0 = TS.Load(ref p, c0), Q0 = TS.Load(ref q, c0), R0 = TS.Load(ref r, c0), Z0 = TS.Load(ref dz, c0);
            TV M1 = TS.Load(ref m, c1), P1 = TS.Load(ref p, c1), Q1 = TS.Load(ref q, c1), R1 = TS.Load(ref r, c1), Z1 = TS.Load(ref dz, c1);
            nint at = start + j;
            for (nint i = 0; i < count; i++, at += width)
            {
                if (hint)
                {
                    // From memory: the tile reads its rows' lines out of order, which the hardware prefetchers fetch late.
                    Hint(ref x, at, 2 * w, AffineAhead);
                    Hint(ref dy, at, 2 * w, AffineAhead);
                }
                if (outputAhead != 0) Hint(ref dx, at, 2 * w, outputAhead);
                FlatStore(stream, HeldExpression(ref x, ref dy, at, M0, P0, Q0, R0, Z0), ref dx, at);
                FlatStore(stream, HeldExpression(ref x, ref dy, at + w, M1, P1, Q1, R1, Z1), ref dx, at + w);
            }
        }
        if (j < width)
        {
            nint c0 = phase + j;
            TV M0 = TS.Load(ref m, c0), P0 = TS.Load(ref p, c0), Q0 = TS.Load(ref q, c0), R0 = TS.Load(ref r, c0), Z0 = TS.Load(ref dz, c0);
            nint at = start + j;
            for (nint i = 0; i < count; i++, at += width)
                FlatStore(stream, HeldExpression(ref x, ref dy, at, M0, P0, Q0, R0, Z0), ref dx, at);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FlatExpression(ref T x, ref T dy, nint at, ref T m, ref T p, ref T q, ref T r, ref T dz, nint column) =>
        HeldExpression(ref x, ref dy, at, TS.Load(ref m, column), TS.Load(ref p, column), TS.Load(ref q, column), TS.Load(ref r, column), TS.Load(ref dz, column));

    /// <summary><see cref="FlatExpression"/> with the coefficients given (the same operations, so the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV HeldExpression(ref T x, ref T dy, nint at, TV m, TV p, TV q, TV r, TV dz) =>
        TS.MultiplyAdd(TS.Subtract(TS.Load(ref dy, at), dz), p, TS.MultiplyAdd(TS.Add(TS.Load(ref x, at), m), q, r));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FlatStore(bool stream, TV v, ref T dx, nint at)
    {
        if (stream) TS.StoreStreaming(v, ref dx, at);
        else TS.Store(v, ref dx, at);
    }

    /// <summary>dx with streaming stores where the run allows (false, nothing written, otherwise); as Runs' streamed apply.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool ApplyStreamed<TF>(ref T x, ref T dy, ref T dx, nint n, ref T m, ref T p, ref T q, ref T r, ref T dz) where TF : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        nuint address = (nuint)Unsafe.AsPointer(ref dx);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if ((long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + step || address % (nuint)sizeof(T) != 0) return false;
        Runs<TS, TV, T>.HintTailLine(ref dx, n);
        TV vm = TF.Lanes ? TS.Zero : TS.Splat(m), vp = TF.Lanes ? TS.Zero : TS.Splat(p), vq = TF.Lanes ? TS.Zero : TS.Splat(q);
        TV vr = TF.Lanes ? TS.Zero : TS.Splat(r), vd = TF.Lanes ? TS.Zero : TS.Splat(dz);
        // The elements before dx's next 64-byte boundary with normal stores, then every whole vector streamed, the
        // tail's lanes one by one (as Runs.Apply does, for the same reasons).
        nint o = 0;
        for (; o + w <= head; o += w)
            TS.Store(ApplyExpression<TF>(TS.Load(ref dy, o), TS.Load(ref x, o), o, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o);
        if (o < head)
        {
            TV lead = ApplyExpression<TF>(TS.Load(ref dy, o), TS.Load(ref x, o), o, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd);
            Runs<TS, TV, T>.StoreLanes(lead, ref dx, o, head, o);
            o = head;
        }
        for (; o + step <= n; o += step)
        {
            TV d0 = TS.Load(ref dy, o), d1 = TS.Load(ref dy, o + w), d2 = TS.Load(ref dy, o + 2 * w), d3 = TS.Load(ref dy, o + 3 * w);
            TV x0 = TS.Load(ref x, o), x1 = TS.Load(ref x, o + w), x2 = TS.Load(ref x, o + 2 * w), x3 = TS.Load(ref x, o + 3 * w);
            TS.StoreStreaming(ApplyExpression<TF>(d0, x0, o, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o);
            TS.StoreStreaming(ApplyExpression<TF>(d1, x1, o + w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o + w);
            TS.StoreStreaming(ApplyExpression<TF>(d2, x2, o + 2 * w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o + 2 * w);
            TS.StoreStreaming(ApplyExpression<TF>(d3, x3, o + 3 * w, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o + 3 * w);
        }
        // Whole lines streamed, the vectors past them stored normally (see Runs.WholeLines).
        for (nint lines = head + Runs<TS, TV, T>.WholeLines(n - head); o + w <= n; o += w)
            Runs<TS, TV, T>.StoreRest(ApplyExpression<TF>(TS.Load(ref dy, o), TS.Load(ref x, o), o, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dx, o, lines);
        if (o < n)
        {
            nint t = n - w;
            TV last = ApplyExpression<TF>(TS.Load(ref dy, t), TS.Load(ref x, t), t, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd);
            Runs<TS, TV, T>.StoreLanes(last, ref dx, o, n, t);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ApplyExpression<TF>(TV d, TV xv, nint at, ref T m, ref T p, ref T q, ref T r, ref T dz, TV vm, TV vp, TV vq, TV vr, TV vd)
        where TF : struct, IOperand
    {
        TV M = TF.Lanes ? TS.Load(ref m, at) : vm, P = TF.Lanes ? TS.Load(ref p, at) : vp, Q = TF.Lanes ? TS.Load(ref q, at) : vq;
        TV R = TF.Lanes ? TS.Load(ref r, at) : vr, D = TF.Lanes ? TS.Load(ref dz, at) : vd;
        return TS.MultiplyAdd(TS.Subtract(d, D), P, TS.MultiplyAdd(TS.Add(xv, M), Q, R));
    }

    /// <summary>
    /// <see cref="Apply{TW, TF}"/> with one value per run (<see cref="Splat"/>), stored normally, over <paramref name="runs"/>
    /// consecutive runs of <paramref name="len"/> elements (at least a vector: BatchNorm NCHW backward's 7x7 planes, a run per
    /// channel): run i's m and dz at i times <paramref name="mStride"/> and <paramref name="dzStride"/>, its P, Q, R at i. The
    /// same expression per element, the last vector of a run overlapped and computed before the run's stores, as Apply's, so
    /// the same bits, and dx may be dy or x; one call for the runs instead of one each (a call per 49 elements cost about
    /// as much as its work). On the 512-bit path the runs go as one flat range (<see cref="FlatShortRuns"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void ShortRuns(ref T x, ref T dy, ref T dx, nint runs, nint len, ref T m, nint mStride, ref T p, ref T q, ref T r, ref T dz, nint dzStride)
    {
        if (typeof(TV) == typeof(System.Runtime.Intrinsics.Vector512<T>) && FlatShortRuns<Lanes>(ref x, ref dy, ref dx, runs, len, ref m, mStride, ref p, ref q, ref r, ref dz, dzStride))
            return;
        int w = TS.Count;
        nint tail = len - w;
        bool partial = len % w != 0;
        for (nint i = 0; i < runs; i++)
        {
            ref T xi = ref Unsafe.Add(ref x, i * len), dyi = ref Unsafe.Add(ref dy, i * len), dxi = ref Unsafe.Add(ref dx, i * len);
            TV vm = TS.Splat(Unsafe.Add(ref m, i * mStride)), vp = TS.Splat(Unsafe.Add(ref p, i)), vq = TS.Splat(Unsafe.Add(ref q, i));
            TV vr = TS.Splat(Unsafe.Add(ref r, i)), vd = TS.Splat(Unsafe.Add(ref dz, i * dzStride));
            TV last = ApplyExpression<Splat>(TS.Load(ref dyi, tail), TS.Load(ref xi, tail), 0, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd);
            for (nint o = 0; o + w <= len; o += w)
                TS.Store(ApplyExpression<Splat>(TS.Load(ref dyi, o), TS.Load(ref xi, o), 0, ref m, ref p, ref q, ref r, ref dz, vm, vp, vq, vr, vd), ref dxi, o);
            if (partial) TS.Store(last, ref dxi, tail);
        }
    }

    /// <summary>
    /// <see cref="ShortRuns"/> as one flat range of vectors from a vector boundary of the loads, as the forward's
    /// <c>Runs.FlatRuns</c>: a vector inside one run takes that run's broadcast values, one crossing into the next run
    /// selects the next run's for its lanes past the boundary; the range's first and last vectors are computed before any
    /// store, the first stored after the loop's first loads and the last at the end (dx may be x or dy); every store comes
    /// after the next vector's loads. The same expression per element, so the same bits. False, nothing done,
    /// for runs shorter than a vector or a range shorter than two. <typeparamref name="TM"/> <see cref="Lanes"/>: m and Q
    /// switch with the run as P, R and dz do (BatchNorm: a run per channel); <see cref="Splat"/>: every run's m and Q are
    /// the first run's (a block of one statistic, <see cref="SharedShortRuns"/>: three broadcasts and selects at a
    /// boundary instead of five, where the JIT spilled). BatchNorm backward NCHW S2 (16,384 runs of 49), AMD Zen 5, 1 thread,
    /// one process alternating calls: 4-5% faster than run by run (252-288 against 265-302 us). The range started at dx's
    /// boundary first; from dy's (or x's where x and dx share one that dy does not), with dx on a 64-byte boundary and x
    /// and dy alike 8 to 20 bytes off it: 0.943-0.951 of the call's time (x and dy apart: 0.967-0.978; x on dx's boundary,
    /// dy off: x's boundary, even), so on this machine a store that splits a line costs less than a load that does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool FlatShortRuns<TM>(ref T x, ref T dy, ref T dx, nint runs, nint len, ref T m, nint mStride, ref T p, ref T q, ref T r, ref T dz, nint dzStride)
        where TM : struct, IOperand
    {
        int w = TS.Count;
        nint total = runs * len;
        if (len < w || total < 2 * w) return false;
        TV vm = TS.Splat(m), vp = TS.Splat(p), vq = TS.Splat(q), vr = TS.Splat(r), vd = TS.Splat(dz);
        TV first = RunExpression(TS.Load(ref dy, 0), TS.Load(ref x, 0), vm, vp, vq, vr, vd);
        nint lastRun = runs - 1, tail = total - w;
        TV last = RunExpression(TS.Load(ref dy, tail), TS.Load(ref x, tail), TM.Lanes ? TS.Splat(Unsafe.Add(ref m, lastRun * mStride)) : vm,
            TS.Splat(Unsafe.Add(ref p, lastRun)), TM.Lanes ? TS.Splat(Unsafe.Add(ref q, lastRun)) : vq, TS.Splat(Unsafe.Add(ref r, lastRun)),
            TS.Splat(Unsafe.Add(ref dz, lastRun * dzStride)));
        // The range starts at dy's vector boundary, or at x's where x and dx share one that dy does not (loads that split lines
        // cost more here than stores that do: see the summary).
        nint px = Runs<TS, TV, T>.LoadPeel(ref x), pd = Runs<TS, TV, T>.LoadPeel(ref dy);
        nint o = px == pd || Runs<TS, TV, T>.LoadPeel(ref dx) != px ? pd : px, end = len, i = 0;
        // Each vector's dx is stored one step late, after the next vector's x and dy are loaded (the range's first vector,
        // computed above, goes out after the loop's first loads): a store a few bytes past where the next loads read, modulo
        // 4 KB, held those loads back while it was in flight (4K aliasing; see the fiftieth section of bench/HISTORY.md).
        TV held = first;
        nint at = 0;
        for (; o + w <= total; o += w)
        {
            TV d = TS.Load(ref dy, o), xv = TS.Load(ref x, o);
            if (o + w <= end)
            {
                TS.Store(held, ref dx, at);
                held = RunExpression(d, xv, vm, vp, vq, vr, vd);
                at = o;
                continue;
            }
            i++;
            TV nm = TM.Lanes ? TS.Splat(Unsafe.Add(ref m, i * mStride)) : vm, nq = TM.Lanes ? TS.Splat(Unsafe.Add(ref q, i)) : vq;
            TV np = TS.Splat(Unsafe.Add(ref p, i)), nr = TS.Splat(Unsafe.Add(ref r, i)), nd = TS.Splat(Unsafe.Add(ref dz, i * dzStride));
            TV k = TS.LastLanes(o + w - end);
            TS.Store(held, ref dx, at);
            held = RunExpression(d, xv, TM.Lanes ? TS.Select(k, nm, vm) : vm, TS.Select(k, np, vp), TM.Lanes ? TS.Select(k, nq, vq) : vq,
                TS.Select(k, nr, vr), TS.Select(k, nd, vd));
            at = o;
            vm = nm;
            vp = np;
            vq = nq;
            vr = nr;
            vd = nd;
            end += len;
        }
        TS.Store(held, ref dx, at);
        TS.Store(last, ref dx, tail);
        return true;
    }

    /// <summary><see cref="ApplyExpression{TF}"/> with its values given: (dy - dz) * P + ((x + m) * Q + R), in its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV RunExpression(TV d, TV xv, TV m, TV p, TV q, TV r, TV dz) =>
        TS.MultiplyAdd(TS.Subtract(d, dz), p, TS.MultiplyAdd(TS.Add(xv, m), q, r));

    // ------------------------------------------------------------------ one statistic per block, gamma along the run

    /// <summary>
    /// One statistic's run, gamma g loaded along it (gb the block's first gamma): <paramref name="a"/> += sum g * (dy - dz),
    /// <paramref name="b"/> += sum g * (dy - dz) * (x + m), <paramref name="gs"/> += sum (g - gb), <paramref name="hs"/> += sum (g - gb) * (x + m)
    /// (element-type lanes over chunks added into double), <paramref name="xs"/> += sum (x + m) exactly in double. The parameter
    /// gradients are left to <see cref="AffineApply{TW}"/>, which has the run in L1 and the mean corrected (here they cost two
    /// loads, two stores and three operations a vector in the pass that reads x and dy from memory: LayerNorm backward
    /// [8192, 768], 1 thread, with dx streamed: 6.9 -> 5.3 ms for them left out alone, 6.0 ms with them in the apply).
    /// </summary>
    /// <remarks><typeparamref name="TH"/> <see cref="Lanes"/> (x and dy come from memory): each step first hints the lines of x
    /// and dy <see cref="AffineAhead"/> bytes on into L1. Inlined into its driver (AffineBackward's Group, four call sites: from
    /// memory or not, the forward's residual or not): compiled on its own, a call a run, short rows ran slower (sixty-seventh
    /// session, AMD Zen 3, 1 thread, three process pairs: LayerNorm backward [4096, 64] 283-392 -> 450-462 us, [1024, 256]
    /// 176-226 -> 185-295 us), though the driver's code that a layer's first backward compiles shrank from 6 to 2.3 KB.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineReduce<TH>(ref T x, ref T dy, nint len, T m, T dz, T gb, ref T g,
        ref double a, ref double b, ref double gs, ref double hs, ref double xs) where TH : struct, IOperand
    {
        nint ahead = TH.Lanes && TS.Count > 1 && Sse.IsSupported ? AffineAhead : 0;
        // A null xs: the caller has the mean in double (a layer's forward kept its residual); six of the fourteen operations a
        // vector skipped (LayerNorm backward S4, 1 thread: see the README's LayerNorm backward bullet).
        if (Unsafe.IsNullRef(ref xs)) AffineReduceCore<Splat>(ref x, ref dy, len, m, dz, gb, ref g, ref a, ref b, ref gs, ref hs, ref xs, ahead);
        else AffineReduceCore<Lanes>(ref x, ref dy, len, m, dz, gb, ref g, ref a, ref b, ref gs, ref hs, ref xs, ahead);
    }

    /// <summary>
    /// Bytes ahead of its loads that a backward reduction over x and dy from memory hints into L1, in each of the two streams.
    /// As the forward's statistics (<see cref="Runs{TS, TV, T}.PrefetchAhead"/>), one core's hardware prefetchers alone fed the
    /// reduction at about half a read pass's bandwidth. AMD Zen 5, LayerNorm backward [8192, 768] (rows of 3 KB), medians of 21
    /// alternating calls, three runs: none 3.0-4.7 ms, 1 KB 3.1-4.0, 2 KB 2.8-3.6, 3 KB 2.4-3.2, 4 KB 2.3-3.1, 6 KB 2.4-3.4,
    /// 12 KB 3.2-3.4 (1 thread); 2.7 -> 1.7-2.5 ms at 4 KB with 2 threads.
    /// </summary>
    public const int AffineAhead = 4 << 10;

    /// <summary>
    /// Runs up to this many bytes hint the next run's x and dy into L1 while they store dx streamed (the affine backward's
    /// rows: one block after another in memory). The apply reads its run from L1 and issues no loads to memory; without the
    /// hints the memory stream idles while it runs and the next run's reduction waits for its lines. AMD Zen 5, LayerNorm
    /// backward over 8192 x 768 floats (the same 25.2 MB for every width), medians of 21 alternating rounds, without / with:
    /// rows of 768, 1 thread, 2.3-4.4 / 2.3-3.9 ms in eight processes, each 12-20% faster with; 2 threads 1.46-2.07 /
    /// 1.48-1.67 ms; rows of 1,024 +12%, 2,048 +3-10%, 4,096 +3-5%, 16,384 even, 256 even, 512 -9 to +9%. 512-bit vectors
    /// only (as <see cref="Runs{TS, TV, T}.StreamedAhead"/>): the AVX2 path ran rows of 768 at 2.23-2.61 ms without and
    /// 2.69-2.80 with.
    /// </summary>
    public const int NextRunHintBytes = 16 << 10;

    /// <summary>Hints the lines of <paramref name="count"/> elements from element <paramref name="i"/> of <paramref name="p"/>,
    /// <paramref name="ahead"/> bytes on, into L1 (x86). A hint never faults, past the end of the data included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Hint(ref T p, nint i, int count, nint ahead)
    {
        byte* b = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref p, i)) + ahead;
        for (int l = 0; l < count * sizeof(T); l += 64) Sse.Prefetch0(b + l);
    }

    /// <summary><see cref="AffineReduce"/>, the exact sum of x + m made (<typeparamref name="TX"/> Lanes) or not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AffineReduceCore<TX>(ref T x, ref T dy, nint len, T m, T dz, T gb, ref T g,
        ref double a, ref double b, ref double gs, ref double hs, ref double xs, nint ahead) where TX : struct, IOperand
    {
        // Two accumulators of each sum (four sums in flight), chunks as long as the other reductions'.
        int w = TS.Count, step = 2 * w, chunkLength = ChunkVectors * Unroll * w;
        TV k = TS.Splat(m), kd = TS.Splat(dz), kg = TS.Splat(gb), kc = TS.Subtract(TS.Zero, k);
        Wide<TV> kx = TS.Widen(kc), xa = default;
        double ta = 0d, tb = 0d, tg = 0d, th = 0d;
        for (nint chunk = 0; chunk < len; chunk += chunkLength)
        {
            nint end = len - chunk > chunkLength ? chunk + chunkLength : len;
            TV s0 = TS.Zero, s1 = TS.Zero, q0 = TS.Zero, q1 = TS.Zero, w0 = TS.Zero, w1 = TS.Zero, h0 = TS.Zero, h1 = TS.Zero;
            nint i = chunk;
            for (; i + step <= end; i += step)
            {
                if (ahead != 0)
                {
                    Hint(ref x, i, step, ahead);
                    Hint(ref dy, i, step, ahead);
                }
                AffineStep<TX>(ref x, ref dy, ref g, i, k, kd, kg, kc, kx, false, default, ref s0, ref q0, ref w0, ref h0, ref xa);
                AffineStep<TX>(ref x, ref dy, ref g, i + w, k, kd, kg, kc, kx, false, default, ref s1, ref q1, ref w1, ref h1, ref xa);
            }
            for (; i + w <= end; i += w)
                AffineStep<TX>(ref x, ref dy, ref g, i, k, kd, kg, kc, kx, false, default, ref s0, ref q0, ref w0, ref h0, ref xa);
            if (w > 1 && i < end)
                AffineStep<TX>(ref x, ref dy, ref g, end - w, k, kd, kg, kc, kx, true, TS.LastLanes(end - i), ref s0, ref q0, ref w0, ref h0, ref xa);
            ta += TS.SumWidened(TS.Add(s0, s1));
            tb += TS.SumWidened(TS.Add(q0, q1));
            tg += TS.SumWidened(TS.Add(w0, w1));
            th += TS.SumWidened(TS.Add(h0, h1));
        }
        a += ta;
        b += tb;
        gs += tg;
        hs += th;
        if (TX.Lanes) xs += TS.SumWide(ref xa);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AffineStep<TX>(ref T x, ref T dy, ref T g, nint at, TV k, TV kd, TV kg, TV kc, Wide<TV> kx, bool masked, TV mask,
        ref TV s, ref TV q, ref TV ws, ref TV h, ref Wide<TV> xa) where TX : struct, IOperand
    {
        TV xv = TS.Load(ref x, at), d = TS.Load(ref dy, at), gv = TS.Load(ref g, at);
        TV e = TS.Add(xv, k), gd = TS.Multiply(gv, TS.Subtract(d, kd)), hm = TS.Subtract(gv, kg);
        if (masked)
        {
            e = TS.And(e, mask);
            gd = TS.And(gd, mask);
            hm = TS.And(hm, mask);
            xv = TS.Select(mask, xv, kc);
        }
        s = TS.Add(s, gd);
        q = TS.MultiplyAdd(gd, e, q);
        ws = TS.Add(ws, hm);
        h = TS.MultiplyAdd(hm, e, h);
        if (TX.Lanes) TS.AccumulateWidenedDifference(ref xa, xv, kx);
    }

    /// <summary>
    /// One statistic's run: dx = (g * (dy - dz) + dz * (g - gb)) * r + (x + m) * q + rr (<typeparamref name="TW"/>: how dx is
    /// stored), and the parameter gradients per element in the element type, <paramref name="dbeta"/>[i] += dy[i] and
    /// <paramref name="dgamma"/>[i] += dy[i] * ((x[i] + m) * r + c1) (c1 = (mf - mean) * r: x - mean with the mean in double).
    /// dy is read before dx is written, so dx may be dy or x itself; the last partial vector is blended with what is stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineApply<TW>(ref T x, ref T dy, ref T dx, nint len, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g, ref T dbeta, ref T dgamma)
        where TW : struct, IStores
    {
        // Both loops in methods of their own, so their code does not count against the inlining budget of the nests (see
        // Runs): inlined into a nest's method, this loop was left calling AffineApplyVector once a vector (LayerNorm backward
        // rows of 256, 1 KB: too short to stream).
        if (TW.Streaming && TS.Count > 1
            && AffineApplyStreamed<Splat>(ref x, ref dy, ref dx, len, m, r, q, rr, dz, gb, c1, ref g, ref dbeta, ref dgamma, ref Unsafe.NullRef<T>())) return;
        AffineApplyStored(ref x, ref dy, ref dx, len, m, r, q, rr, dz, gb, c1, ref g, ref dbeta, ref dgamma);
    }

    /// <summary>
    /// <see cref="AffineApply{TW}"/> with <paramref name="addend"/>[i] added to each dx (the sum's gradient of a layer with the
    /// residual added before the norm): streamed, each vector of dx plus the addend's vector before it is stored, and the
    /// next run's addend lines hinted beside its x and dy; otherwise dx stored normally, then the addend added over the run
    /// while it is in cache. The same bits either way as dx stored and added in a pass of its own. <paramref name="dx"/> may
    /// be x or dy, not the addend.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineApplyAdding<TW>(ref T x, ref T dy, ref T dx, nint len, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g, ref T dbeta, ref T dgamma,
        ref T addend) where TW : struct, IStores
    {
        if (TW.Streaming && TS.Count > 1 && AffineApplyStreamed<Lanes>(ref x, ref dy, ref dx, len, m, r, q, rr, dz, gb, c1, ref g, ref dbeta, ref dgamma, ref addend))
            return;
        AffineApplyStored(ref x, ref dy, ref dx, len, m, r, q, rr, dz, gb, c1, ref g, ref dbeta, ref dgamma);
        Runs<TS, TV, T>.Add(ref dx, ref addend, ref dx, len);
    }

    /// <summary><see cref="AffineApply{TW}"/> with dx stored normally.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void AffineApplyStored(ref T x, ref T dy, ref T dx, nint len, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g, ref T dbeta, ref T dgamma)
    {
        int w = TS.Count, step = Unroll * w;
        TV k = TS.Splat(m), vr = TS.Splat(r), vq = TS.Splat(q), vrr = TS.Splat(rr), kd = TS.Splat(dz), kg = TS.Splat(gb), vc = TS.Splat(c1);
        // The last partial vector's dx computed first, from dy and x as given, and stored whole at the end (see Runs.ApplyCore's
        // tail); its lanes' parameter gradients are still added after the loop, as before.
        bool whole = w > 1 && len >= w && (len & (w - 1)) != 0;
        TV last = whole ? AffineApplyExpression(TS.Load(ref dy, len - w), TS.Add(TS.Load(ref x, len - w), k), TS.Load(ref g, len - w), vr, vq, vrr, kd, kg) : TS.Zero;
        nint i = 0;
        for (; i + step <= len; i += step)
        {
            TV d0 = TS.Load(ref dy, i), d1 = TS.Load(ref dy, i + w), d2 = TS.Load(ref dy, i + 2 * w), d3 = TS.Load(ref dy, i + 3 * w);
            TV x0 = TS.Load(ref x, i), x1 = TS.Load(ref x, i + w), x2 = TS.Load(ref x, i + 2 * w), x3 = TS.Load(ref x, i + 3 * w);
            TS.Store(AffineApplyVector(d0, x0, ref g, ref dbeta, ref dgamma, i, k, vr, vq, vrr, kd, kg, vc), ref dx, i);
            TS.Store(AffineApplyVector(d1, x1, ref g, ref dbeta, ref dgamma, i + w, k, vr, vq, vrr, kd, kg, vc), ref dx, i + w);
            TS.Store(AffineApplyVector(d2, x2, ref g, ref dbeta, ref dgamma, i + 2 * w, k, vr, vq, vrr, kd, kg, vc), ref dx, i + 2 * w);
            TS.Store(AffineApplyVector(d3, x3, ref g, ref dbeta, ref dgamma, i + 3 * w, k, vr, vq, vrr, kd, kg, vc), ref dx, i + 3 * w);
        }
        for (; i + w <= len; i += w)
            TS.Store(AffineApplyVector(TS.Load(ref dy, i), TS.Load(ref x, i), ref g, ref dbeta, ref dgamma, i, k, vr, vq, vrr, kd, kg, vc), ref dx, i);
        if (w > 1 && i < len)
        {
            nint t = len - w;
            TV tail = AffineApplyVector(TS.Load(ref dy, t), TS.Load(ref x, t), ref g, ref dbeta, ref dgamma, t, k, vr, vq, vrr, kd, kg, vc, TS.LastLanes(len - i));
            TS.Store(whole ? last : TS.Select(TS.LastLanes(len - i), tail, TS.Load(ref dx, t)), ref dx, t);
        }
    }

    /// <summary><see cref="AffineApply{TW}"/> with dx streamed where the run allows (false, nothing written, otherwise), as Runs'
    /// streamed apply: the elements before dx's next 64-byte boundary with normal stores (lane by lane), every whole vector
    /// from there streamed, the tail's lanes one by one; the parameter gradients (the worker's accumulators, in L1) with normal
    /// stores, each lane added once. <typeparamref name="TA"/> <see cref="Lanes"/>: each vector of dx plus the addend's
    /// (<see cref="AffineApplyAdding{TW}"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool AffineApplyStreamed<TA>(ref T x, ref T dy, ref T dx, nint n, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g,
        ref T dbeta, ref T dgamma, ref T addend) where TA : struct, IOperand
    {
        int w = TS.Count, step = Unroll * w;
        nuint address = (nuint)Unsafe.AsPointer(ref dx);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if ((long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + step || address % (nuint)sizeof(T) != 0) return false;
        Runs<TS, TV, T>.HintTailLine(ref dx, n);
        TV k = TS.Splat(m), vr = TS.Splat(r), vq = TS.Splat(q), vrr = TS.Splat(rr), kd = TS.Splat(dz), kg = TS.Splat(gb), vc = TS.Splat(c1);
        nint o = 0;
        for (; o < head; o += w)
        {
            nint end = o + w < head ? o + w : head;
            // The gradients' lanes [o, end) only (the lanes after are the next vector's): a mask of the first end - o lanes.
            TV first = Runs<TS, TV, T>.FirstLanes(end - o);
            Runs<TS, TV, T>.StoreLanes(Added<TA>(AffineApplyVector(TS.Load(ref dy, o), TS.Load(ref x, o), ref g, ref dbeta, ref dgamma, o, k, vr, vq, vrr, kd, kg, vc, first),
                ref addend, o), ref dx, o, end, o);
        }
        // The next run's lines hinted as this one's are stored (see NextRunHintBytes): the same offset one run on.
        nint ahead = Sse.IsSupported && TS.Count * sizeof(T) >= 64 && (long)n * sizeof(T) <= NextRunHintBytes ? n * sizeof(T) : 0;
        for (o = head; o + step <= n; o += step)
        {
            if (ahead != 0)
            {
                Hint(ref x, o, step, ahead);
                Hint(ref dy, o, step, ahead);
                if (TA.Lanes) Hint(ref addend, o, step, ahead);
            }
            for (nint j = o; j < o + step; j += w)
                TS.StoreStreaming(Added<TA>(AffineApplyVector(TS.Load(ref dy, j), TS.Load(ref x, j), ref g, ref dbeta, ref dgamma, j, k, vr, vq, vrr, kd, kg, vc), ref addend, j),
                    ref dx, j);
        }
        for (nint lines = head + Runs<TS, TV, T>.WholeLines(n - head); o + w <= n; o += w)
            Runs<TS, TV, T>.StoreRest(Added<TA>(AffineApplyVector(TS.Load(ref dy, o), TS.Load(ref x, o), ref g, ref dbeta, ref dgamma, o, k, vr, vq, vrr, kd, kg, vc), ref addend, o),
                ref dx, o, lines);
        if (o < n)
        {
            nint t = n - w;
            Runs<TS, TV, T>.StoreLanes(Added<TA>(AffineApplyVector(TS.Load(ref dy, t), TS.Load(ref x, t), ref g, ref dbeta, ref dgamma, t, k, vr, vq, vrr, kd, kg, vc,
                TS.LastLanes(n - o)), ref addend, t), ref dx, o, n, t);
        }
        return true;
    }

    /// <summary>v plus the addend's vector at <paramref name="at"/> (<typeparamref name="TA"/> <see cref="Lanes"/>), or v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Added<TA>(TV v, ref T addend, nint at) where TA : struct, IOperand => TA.Lanes ? TS.Add(v, TS.Load(ref addend, at)) : v;

    /// <summary>
    /// Two runs of <paramref name="n"/> elements that share gamma and the parameter gradients' accumulators (two rows of a
    /// LayerNorm or RMSNorm over the last dim), dx streamed: as <see cref="AffineApplyStreamed{TA}"/> on the first run and then on
    /// the second, the same operations per element in the same order (each accumulator element takes the first run's terms
    /// before the second's), so the same bits; but in the body each column vector of gamma and of the two accumulators is
    /// loaded and stored once for both runs, not once a run (the accumulators' stores were what the parameter gradients cost:
    /// two stores beside dx's one a vector). Both runs start at the same parameter, so <paramref name="b"/>'s Gb is
    /// <paramref name="a"/>'s. False, nothing written, where the runs would not both stream from the same 64-byte phase.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool AffineApplyPair(ref T x, ref T dy, ref T dx, ref T x2, ref T dy2, ref T dx2, nint n, in AffineTerms<T> a, in AffineTerms<T> b,
        ref T g, ref T dbeta, ref T dgamma)
    {
        int w = TS.Count, step = 2 * w;
        nuint address = (nuint)Unsafe.AsPointer(ref dx), address2 = (nuint)Unsafe.AsPointer(ref dx2);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (w == 1 || (long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + step || address % (nuint)sizeof(T) != 0 || ((address ^ address2) & 63) != 0)
            return false;
        Runs<TS, TV, T>.HintTailLine(ref dx, n);
        Runs<TS, TV, T>.HintTailLine(ref dx2, n);
        Splats(a, out TV k, out TV vr, out TV vq, out TV vrr, out TV kd, out TV vc);
        Splats(b, out TV k2, out TV vr2, out TV vq2, out TV vrr2, out TV kd2, out TV vc2);
        // One gamma for both runs, so one gb (the caller's runs start at the same parameter).
        TV kg = TS.Splat(a.Gb);
        HeadTwo(ref x, ref dy, ref dx, ref x2, ref dy2, ref dx2, head, a, b, kg, ref g, ref dbeta, ref dgamma);
        // No hints (AffineApplyStreamed hints the next run's lines): rows of 2,048 to 8,192 floats ran as fast or faster without.
        nint i = head;
        for (; i + step <= n; i += step)
        {
            PairVector(ref x, ref dy, ref dx, ref x2, ref dy2, ref dx2, i, ref g, ref dbeta, ref dgamma, k, vr, vq, vrr, kd, kg, vc, k2, vr2, vq2, vrr2, kd2, vc2);
            PairVector(ref x, ref dy, ref dx, ref x2, ref dy2, ref dx2, i + w, ref g, ref dbeta, ref dgamma, k, vr, vq, vrr, kd, kg, vc, k2, vr2, vq2, vrr2, kd2, vc2);
        }
        for (; i + w <= n; i += w)
            PairVector(ref x, ref dy, ref dx, ref x2, ref dy2, ref dx2, i, ref g, ref dbeta, ref dgamma, k, vr, vq, vrr, kd, kg, vc, k2, vr2, vq2, vrr2, kd2, vc2);
        if (i < n)
        {
            nint t = n - w;
            TV mask = TS.LastLanes(n - i);
            EdgeVector(ref x, ref dy, ref dx, t, i, n, a, kg, mask, ref g, ref dbeta, ref dgamma);
            EdgeVector(ref x2, ref dy2, ref dx2, t, i, n, b, kg, mask, ref g, ref dbeta, ref dgamma);
        }
        return true;
    }

    /// <summary>The heads of two runs before their 64-byte boundary (<paramref name="head"/> elements, dx's phase: both runs'),
    /// the first run's terms before the second's for each element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HeadTwo(ref T x, ref T dy, ref T dx, ref T x2, ref T dy2, ref T dx2, nint head, in AffineTerms<T> a, in AffineTerms<T> b, TV kg,
        ref T g, ref T dbeta, ref T dgamma)
    {
        int w = TS.Count;
        for (nint o = 0; o < head; o += w)
        {
            nint end = o + w < head ? o + w : head;
            TV first = Runs<TS, TV, T>.FirstLanes(end - o);
            EdgeVector(ref x, ref dy, ref dx, o, o, end, a, kg, first, ref g, ref dbeta, ref dgamma);
            EdgeVector(ref x2, ref dy2, ref dx2, o, o, end, b, kg, first, ref g, ref dbeta, ref dgamma);
        }
    }

    /// <summary>A run's terms splatted, for the bodies of <see cref="AffineApplyPair"/> and <see cref="AffineApplyQuad"/> to keep in
    /// registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Splats(in AffineTerms<T> t, out TV k, out TV vr, out TV vq, out TV vrr, out TV kd, out TV vc)
    {
        k = TS.Splat(t.M);
        vr = TS.Splat(t.R);
        vq = TS.Splat(t.Q);
        vrr = TS.Splat(t.Rr);
        kd = TS.Splat(t.Dz);
        vc = TS.Splat(t.C1);
    }

    /// <summary>The vector at <paramref name="at"/> of a run of <see cref="AffineApplyPair"/> or <see cref="AffineApplyQuad"/>
    /// at its head or its tail: its lanes of <paramref name="mask"/> added into the gradients, dx stored from
    /// <paramref name="from"/> to <paramref name="to"/>, with the run's terms <paramref name="t"/> splatted here (once a run's
    /// edge, where the bodies keep them in registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EdgeVector(ref T x, ref T dy, ref T dx, nint at, nint from, nint to, in AffineTerms<T> t, TV kg, TV mask, ref T g, ref T dbeta,
        ref T dgamma) =>
        Runs<TS, TV, T>.StoreLanes(AffineApplyVector(TS.Load(ref dy, at), TS.Load(ref x, at), ref g, ref dbeta, ref dgamma, at, TS.Splat(t.M), TS.Splat(t.R),
            TS.Splat(t.Q), TS.Splat(t.Rr), TS.Splat(t.Dz), kg, TS.Splat(t.C1), mask), ref dx, from, to, at);

    /// <summary>
    /// Four runs of <paramref name="n"/> elements, <paramref name="stride"/> apart, that share gamma and the parameter
    /// gradients' accumulators (four rows of a LayerNorm or RMSNorm over the last dim), dx streamed: as
    /// <see cref="AffineApplyPair"/> with four runs, the same operations per element in the same order (each accumulator
    /// element takes the first run's terms, then the second's, the third's, the fourth's), so the same bits as run by run;
    /// gamma and the two accumulators are loaded and stored once a column vector for the four. Rows of 12 KB and more no
    /// longer keep gamma and the accumulators in L1 beside the rows' lines: their loads and stores were half of the apply's
    /// time (a model of the apply alone, rows of 4,096 floats, AMD Zen 5: 2.3-2.6 ms with them, 1.4-1.8 without; four rows
    /// at a time 0.90 of the time of two). The four runs' 24 splatted terms want 24 of the 32 vector registers (the JIT
    /// reloads a few of them and the rows' addresses from the stack each step, and it still gains): the 512-bit path only.
    /// False, nothing written, where the runs would not all stream from one 64-byte phase.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool AffineApplyQuad(ref T x, ref T dy, ref T dx, nint stride, nint n, in AffineTerms<T> a, in AffineTerms<T> b,
        in AffineTerms<T> c, in AffineTerms<T> d, ref T g, ref T dbeta, ref T dgamma)
    {
        int w = TS.Count;
        nuint address = (nuint)Unsafe.AsPointer(ref dx);
        nint head = (nint)((64 - (address & 63)) & 63) / sizeof(T);
        if (w * sizeof(T) != 64 || (long)n * sizeof(T) < Streaming.MinimumRunBytes || n < head + w || address % (nuint)sizeof(T) != 0
            || stride * sizeof(T) % 64 != 0 || stride < n)
            return false;
        ref T x2 = ref Unsafe.Add(ref x, stride), dy2 = ref Unsafe.Add(ref dy, stride), dx2 = ref Unsafe.Add(ref dx, stride);
        ref T x3 = ref Unsafe.Add(ref x2, stride), dy3 = ref Unsafe.Add(ref dy2, stride), dx3 = ref Unsafe.Add(ref dx2, stride);
        ref T x4 = ref Unsafe.Add(ref x3, stride), dy4 = ref Unsafe.Add(ref dy3, stride), dx4 = ref Unsafe.Add(ref dx3, stride);
        Runs<TS, TV, T>.HintTailLine(ref dx, n);
        Runs<TS, TV, T>.HintTailLine(ref dx2, n);
        Runs<TS, TV, T>.HintTailLine(ref dx3, n);
        Runs<TS, TV, T>.HintTailLine(ref dx4, n);
        Splats(a, out TV k, out TV vr, out TV vq, out TV vrr, out TV kd, out TV vc);
        Splats(b, out TV k2, out TV vr2, out TV vq2, out TV vrr2, out TV kd2, out TV vc2);
        Splats(c, out TV k3, out TV vr3, out TV vq3, out TV vrr3, out TV kd3, out TV vc3);
        Splats(d, out TV k4, out TV vr4, out TV vq4, out TV vrr4, out TV kd4, out TV vc4);
        // One gamma for the four runs, so one gb (the caller's runs start at the same parameter).
        TV kg = TS.Splat(a.Gb);
        // The heads (one vector, 64 bytes a vector) two rows at a time: each element still takes the rows' terms in row order.
        HeadTwo(ref x, ref dy, ref dx, ref x2, ref dy2, ref dx2, head, a, b, kg, ref g, ref dbeta, ref dgamma);
        HeadTwo(ref x3, ref dy3, ref dx3, ref x4, ref dy4, ref dx4, head, c, d, kg, ref g, ref dbeta, ref dgamma);
        nint i = head;
        for (; i + w <= n; i += w)
        {
            TV gv = TS.Load(ref g, i), db = TS.Load(ref dbeta, i), dg = TS.Load(ref dgamma, i);
            TV d1 = TS.Load(ref dy, i), e1 = TS.Add(TS.Load(ref x, i), k);
            TV d2 = TS.Load(ref dy2, i), e2 = TS.Add(TS.Load(ref x2, i), k2);
            TV d3 = TS.Load(ref dy3, i), e3 = TS.Add(TS.Load(ref x3, i), k3);
            TV d4 = TS.Load(ref dy4, i), e4 = TS.Add(TS.Load(ref x4, i), k4);
            TS.Store(TS.Add(TS.Add(TS.Add(TS.Add(db, d1), d2), d3), d4), ref dbeta, i);
            dg = TS.MultiplyAdd(d1, TS.MultiplyAdd(e1, vr, vc), dg);
            dg = TS.MultiplyAdd(d2, TS.MultiplyAdd(e2, vr2, vc2), dg);
            dg = TS.MultiplyAdd(d3, TS.MultiplyAdd(e3, vr3, vc3), dg);
            TS.Store(TS.MultiplyAdd(d4, TS.MultiplyAdd(e4, vr4, vc4), dg), ref dgamma, i);
            TS.StoreStreaming(AffineApplyExpression(d1, e1, gv, vr, vq, vrr, kd, kg), ref dx, i);
            TS.StoreStreaming(AffineApplyExpression(d2, e2, gv, vr2, vq2, vrr2, kd2, kg), ref dx2, i);
            TS.StoreStreaming(AffineApplyExpression(d3, e3, gv, vr3, vq3, vrr3, kd3, kg), ref dx3, i);
            TS.StoreStreaming(AffineApplyExpression(d4, e4, gv, vr4, vq4, vrr4, kd4, kg), ref dx4, i);
        }
        if (i < n)
        {
            nint t = n - w;
            TV mask = TS.LastLanes(n - i);
            EdgeVector(ref x, ref dy, ref dx, t, i, n, a, kg, mask, ref g, ref dbeta, ref dgamma);
            EdgeVector(ref x2, ref dy2, ref dx2, t, i, n, b, kg, mask, ref g, ref dbeta, ref dgamma);
            EdgeVector(ref x3, ref dy3, ref dx3, t, i, n, c, kg, mask, ref g, ref dbeta, ref dgamma);
            EdgeVector(ref x4, ref dy4, ref dx4, t, i, n, d, kg, mask, ref g, ref dbeta, ref dgamma);
        }
        return true;
    }

    /// <summary>One column vector of <see cref="AffineApplyPair"/>'s body: gamma and the accumulators loaded once, the first run's
    /// terms added, then the second's; each run's dx as <see cref="AffineApplyVector(TV, TV, ref T, ref T, ref T, nint, TV, TV, TV, TV, TV, TV, TV)"/>
    /// makes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairVector(ref T x, ref T dy, ref T dx, ref T x2, ref T dy2, ref T dx2, nint at, ref T g, ref T dbeta, ref T dgamma,
        TV k, TV vr, TV vq, TV vrr, TV kd, TV kg, TV vc, TV k2, TV vr2, TV vq2, TV vrr2, TV kd2, TV vc2)
    {
        TV gv = TS.Load(ref g, at), db = TS.Load(ref dbeta, at), dg = TS.Load(ref dgamma, at);
        TV d = TS.Load(ref dy, at), e = TS.Add(TS.Load(ref x, at), k);
        TV d2 = TS.Load(ref dy2, at), e2 = TS.Add(TS.Load(ref x2, at), k2);
        db = TS.Add(TS.Add(db, d), d2);
        dg = TS.MultiplyAdd(d2, TS.MultiplyAdd(e2, vr2, vc2), TS.MultiplyAdd(d, TS.MultiplyAdd(e, vr, vc), dg));
        TS.StoreStreaming(AffineApplyExpression(d, e, gv, vr, vq, vrr, kd, kg), ref dx, at);
        TS.StoreStreaming(AffineApplyExpression(d2, e2, gv, vr2, vq2, vrr2, kd2, kg), ref dx2, at);
        TS.Store(db, ref dbeta, at);
        TS.Store(dg, ref dgamma, at);
    }

    /// <summary>One vector's dx (returned) and its parameter gradients added into <paramref name="dbeta"/> and
    /// <paramref name="dgamma"/>. (The splatted terms as arguments: in a struct, the JIT kept them on the stack and loaded
    /// each one per vector.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV AffineApplyVector(TV d, TV xv, ref T g, ref T dbeta, ref T dgamma, nint at, TV k, TV vr, TV vq, TV vrr, TV kd, TV kg, TV vc)
    {
        TV e = TS.Add(xv, k);
        TS.Store(TS.Add(TS.Load(ref dbeta, at), d), ref dbeta, at);
        TS.Store(TS.MultiplyAdd(d, TS.MultiplyAdd(e, vr, vc), TS.Load(ref dgamma, at)), ref dgamma, at);
        return AffineApplyExpression(d, e, TS.Load(ref g, at), vr, vq, vrr, kd, kg);
    }

    /// <summary><see cref="AffineApplyVector(TV, TV, ref T, ref T, ref T, nint, TV, TV, TV, TV, TV, TV, TV)"/> with only the lanes
    /// of <paramref name="mask"/> added into the gradients.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV AffineApplyVector(TV d, TV xv, ref T g, ref T dbeta, ref T dgamma, nint at, TV k, TV vr, TV vq, TV vrr, TV kd, TV kg, TV vc, TV mask)
    {
        // Lanes outside the mask may hold what this run already wrote (dx = dy or x): neither enters the gradients.
        TV e = TS.And(TS.Add(xv, k), mask), dm = TS.And(d, mask);
        TS.Store(TS.Add(TS.Load(ref dbeta, at), dm), ref dbeta, at);
        TS.Store(TS.MultiplyAdd(dm, TS.MultiplyAdd(e, vr, vc), TS.Load(ref dgamma, at)), ref dgamma, at);
        return AffineApplyExpression(d, e, TS.Load(ref g, at), vr, vq, vrr, kd, kg);
    }

    /// <summary>dx of one vector from dy, e = x + m and gamma.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV AffineApplyExpression(TV d, TV e, TV gv, TV vr, TV vq, TV vrr, TV kd, TV kg) =>
        TS.MultiplyAdd(TS.MultiplyAdd(TS.Subtract(d, kd), gv, TS.Multiply(TS.Subtract(gv, kg), kd)), vr, TS.MultiplyAdd(e, vq, vrr));
}
