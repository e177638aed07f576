using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

/// <summary>Turns one row's sums into its coefficients (the driver's: statistics written out, mean and rstd, then
/// <c>y = (x - c) * a + b</c>, times gamma plus beta along the row for two-step plans).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRowFinish<T>
{
    /// <summary>Row <paramref name="row"/> of the run (0 = the first): its shift (first element) and sums.</summary>
    void Finish(nint row, T shift, double sum, double sq, out T a, out T b, out T c);

    /// <summary>Rows <paramref name="row"/> to row + 3 as <see cref="Finish"/> makes each (the same operations, so the same
    /// bits): their shifts the first elements of rows <paramref name="len"/> apart from <paramref name="x"/>, their sums
    /// at <paramref name="sum"/> and <paramref name="sq"/> (four each), their coefficients written at <paramref name="a"/>,
    /// <paramref name="b"/>, <paramref name="c"/> (four each).</summary>
    void FinishFour(nint row, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c);

    /// <summary>Rows <paramref name="row"/> to row + 7 as <see cref="FinishFour"/> makes them (the same bits), where the finish
    /// can take eight at once (AVX-512: the divisions and square roots of eight doubles cost what four do); false, nothing
    /// written, otherwise.</summary>
    bool FinishEight(nint row, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c) => false;

    /// <summary>Rows <paramref name="from"/> to <paramref name="to"/> - 1 as <see cref="FinishEight"/> makes them eight at a
    /// time (AVX-512) or <see cref="FinishFour"/> four at a time (AVX2), the same bits, in one loop with everything it can
    /// hoisted; <paramref name="x"/>, <paramref name="sum"/>, <paramref name="sq"/>, <paramref name="a"/>, <paramref name="b"/>,
    /// <paramref name="c"/> at row <paramref name="from"/>. Returns how many rows it finished: a multiple of eight, 0 where it
    /// cannot take them all so (neither instruction set, or rows whose parameters are not consecutive).</summary>
    nint FinishEights(nint from, nint to, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c) => 0;

    /// <summary>The rows' length when the layer fixes it (<see cref="INest{T}.FixedStatisticsExtent"/>), else 0. The
    /// finish is a type of the layer's driver, so every run it is a type argument of is compiled for that layer anyway: there
    /// the length is a constant (<see cref="Runs{TS, TV, T}.Rows"/>).</summary>
    static virtual nint FixedLength => 0;
}

public static partial class Runs<TS, TV, T>
{
    /// <summary>Bytes of rows a phased run (see <see cref="Rows"/>) takes through its three passes at a time: they stay in L1.</summary>
    private const int PhaseBytes = 16 << 10;

    /// <summary>
    /// Consecutive rows of <paramref name="len"/> elements, each its own statistic (LayerNorm and RMSNorm over the last dim,
    /// InstanceNorm NCHW with a plane per row, BatchNorm NCHW with N = 1): each row's sums as <see cref="Reduce{TK}"/> makes
    /// them, its coefficients from <paramref name="finish"/>, then the plain apply (<typeparamref name="TG"/>: gamma and beta
    /// loaded along the row, or none; <typeparamref name="TW"/>: how y is stored). The same bits as the block driver's unit
    /// per row, without its per-block set-up (scratch cleared, statistics and coefficients through the nest's loops); float
    /// rows shorter than 64 elements (<see cref="LaneRows"/>) and of 64 to 256 (<see cref="LaneSumRows"/>) have their sums
    /// made in lanes instead (another summation order, the same in and out of cache).
    /// <para><paramref name="phased"/> (the caller's choice: tensors that stay in cache): batches of rows that fit L1 go
    /// through three passes, every row's sums, then every row's coefficients (their chains of divisions and square roots,
    /// which a row alone waits for, overlap), then every row's apply; <paramref name="sums"/> (2 per row) and
    /// <paramref name="coefficients"/> (3 per row) hold them. Otherwise row after row: out of cache that streams better
    /// (AMD Zen 4, LayerNorm rows of 768, 1 thread: [1024, 768] 150 us row by row, 129 phased; [4096, 768] 0.96 ms against
    /// 1.25; [8192, 768] 1.7 ms against 2.3).</para>
    /// <para><paramref name="fromMemory"/> (the call's tensors exceed the last-level cache): row after row, each row's sums
    /// hint the lines <see cref="PrefetchAhead"/> bytes ahead into L1.</para>
    /// <para>Streamed rows from memory with gamma along them (LayerNorm and RMSNorm over the last dim) run row after row or
    /// pipelined, each row's apply in the loop that makes the next row's sums, as the layer's order tuner chooses
    /// (<see cref="PipelinesAffineRows"/>): on the Zen 5 guest the pipelined loop was slower ([8192, 768] 1.92 against 1.64
    /// ms, and pathological for some relative alignments of x and y), on the Zen 3 guest faster (sixty-sixth session).
    /// Static kernels, which have no tuner, run them row after row.</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rows<TK, TW, TG, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish,
        bool phased, bool fromMemory, ref double sums, ref T coefficients)
        where TK : struct, INormKind where TW : struct, IStores where TG : struct, IOperand where TF : struct, IRowFinish<T>
    {
        // A length the layer fixes (Sizes) is a constant here and in each run below (each takes it again: they are compiled on their own).
        if (TF.FixedLength > 0) len = TF.FixedLength;
        // Each order is compiled on its own, fully optimized, with one site of each run it inlines: inlined into one
        // method together, the runs were left as calls to unoptimized code (the JIT's inlining budget), which a process
        // that sees one CPU kept for seconds (LayerNorm [8192, 768]: 18 ms a call instead of 1.7).
        if (!TG.Lanes && LaneRows(len))
        {
            // Short rows: rows in lanes, in cache or not (their runs are too short to stream: Streaming.MinimumRunBytes).
            if (TK.Centered) LaneRowRuns<Centered, TK, TF>(ref x, ref y, rows, len, ref finish, ref sums, ref coefficients);
            else LaneRowRuns<Uncentered, TK, TF>(ref x, ref y, rows, len, ref finish, ref sums, ref coefficients);
        }
        else if (LaneSumRows(len))
        {
            // Rows of 64 to 256 floats: sums in lanes, in cache or not (the same bits either way).
            if (TK.Centered) LaneSumRuns<Centered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, phased, ref sums, ref coefficients);
            else LaneSumRuns<Uncentered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, phased, ref sums, ref coefficients);
        }
        else if (phased && rows == 1)
        {
            // One row (a decode step's [1, C]): its own small method (see OneRow).
            if (TK.Centered) OneRow<Centered, TW, TG, TK, TF>(ref x, ref y, len, ref g, ref h, ref finish);
            else OneRow<Uncentered, TW, TG, TK, TF>(ref x, ref y, len, ref g, ref h, ref finish);
        }
        else if (phased)
        {
            if (TK.Centered) PhasedRows<Centered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ref sums, ref coefficients);
            else PhasedRows<Uncentered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ref sums, ref coefficients);
        }
        else if (!TG.Lanes && TW.Streaming && fromMemory && rows > 1 && TS.Count > 1)
        {
            // Rows read from memory, streamed out, no gamma along them: each row's apply beside the next row's sums. (Rows with
            // gamma along them, LayerNorm and RMSNorm [8192, 768], ran at twice their time this way on the Zen 5 guest: 2.26
            // against 1.12-1.29 ms at 1 thread, 1.12-1.21 against 0.60-0.65 at 2; on the Zen 3 guest faster. Their layer's
            // order tuner chooses: see PipelinesAffineRows.)
            if (TK.Centered) PipelinedRows<Centered, Uncentered, TK, TF>(ref x, ref y, rows, len, ref x, ref x, ref finish);
            else PipelinedRows<Uncentered, Uncentered, TK, TF>(ref x, ref y, rows, len, ref x, ref x, ref finish);
        }
        else
        {
            // Rows read from memory: their sums hint the lines ahead into L1.
            nint ahead = fromMemory ? PrefetchAhead : 0;
            if (TK.Centered) SequentialRows<Centered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ahead);
            else SequentialRows<Uncentered, TW, TG, TK, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ahead);
        }
    }

    /// <summary>Row after row: sums, coefficients, apply. Gamma and beta along streamed rows that start off
    /// a 64-byte boundary are read from copies placed so that the rows' streamed vectors load them whole (see
    /// <see cref="ShiftedParameters"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SequentialRows<TC, TW, TG, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish, nint ahead)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind
        where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        T[]? copies = TG.Lanes && TW.Streaming && rows > 1 ? ShiftedParameters(ref y, len) : null;
        if (copies == null)
        {
            SequentialRowsCore<TC, TW, TG, TE, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ahead);
            return;
        }
        fixed (T* pinned = copies)
        {
            // Pinned: the copies must stay at the phase they are placed at while the rows read them.
            ref T g2 = ref Unsafe.AsRef<T>(pinned + ShiftedAt(pinned, ref y));
            ref T h2 = ref Unsafe.Add(ref g2, len);
            MemoryMarshal.CreateReadOnlySpan(ref g, (int)len).CopyTo(MemoryMarshal.CreateSpan(ref g2, (int)len));
            MemoryMarshal.CreateReadOnlySpan(ref h, (int)len).CopyTo(MemoryMarshal.CreateSpan(ref h2, (int)len));
            SequentialRowsCore<TC, TW, TG, TE, TF>(ref x, ref y, rows, len, ref g2, ref h2, ref finish, ahead);
        }
        System.Buffers.ArrayPool<T>.Shared.Return(copies);
    }

    /// <summary>
    /// Pooled room for copies of gamma and beta (<see cref="SequentialRows"/>), or null where the rows read them whole as they
    /// are: streamed rows of whole 64-byte lines (every row then starts at y's phase) whose first element is off a boundary,
    /// on a vector path. A streamed row's vectors start at y's first boundary, <c>head</c> elements in, and gamma and beta
    /// (64-byte aligned, <see cref="AlignedArrays"/>) are read from there too: every vector straddles two lines on the 512-bit
    /// path, x's as well unless it shares y's phase, and three split loads a vector cost more than the row's bandwidth
    /// allows. AMD Zen 5, [8192, 768], 1 thread, the output 16 bytes off a line and x on one: LayerNorm 1.10-1.23 -> 0.89-0.98
    /// ms, RMSNorm 1.00-1.05 -> 0.84-0.85 ms (32 bytes off: 1.16-1.21 -> 0.86-0.95, 1.17-1.18 -> 0.83; both on a line:
    /// 0.90-0.93); AVX2 path 16 bytes off 1.18 -> 1.12 ms. The copies cost two rows' reads a unit of rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe T[]? ShiftedParameters(ref T y, nint len)
    {
        nuint address = (nuint)Unsafe.AsPointer(ref y);
        if (TS.Count == 1 || len * sizeof(T) % 64 != 0 || (address & 63) == 0 || address % (nuint)sizeof(T) != 0) return null;
        return System.Buffers.ArrayPool<T>.Shared.Rent((int)(2 * len + 64 / sizeof(T)));
    }

    /// <summary>Where gamma's copy starts in the pinned room <paramref name="p"/>: its element <c>head</c> (a row's first
    /// streamed vector, y's first 64-byte boundary) on a 64-byte boundary; beta's copy follows it (rows of whole lines, so
    /// at the same phase).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint ShiftedAt(T* p, ref T y)
    {
        nint head = (nint)((64 - ((nuint)Unsafe.AsPointer(ref y) & 63)) & 63) / sizeof(T);
        nuint first = (nuint)(p + head);
        return (nint)((((first + 63) & ~(nuint)63) - first) / (nuint)sizeof(T));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SequentialRowsCore<TC, TW, TG, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish, nint ahead)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind
        where TF : struct, IRowFinish<T>
    {
        // Long rows two at a time in a method of their own: its loop here took SequentialRows past the JIT's inlining budget
        // (the sums' vector helpers left as calls to unoptimized code: LayerNorm [8192, 768] 3x its time).
        if (TG.Lanes && TW.Streaming && rows > 1 && PairedRows(len))
        {
            SequentialRowPairs<TC, TE, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish, ahead);
            return;
        }
        if (TG.Lanes && TW.Streaming && ahead != 0 && rows > 1 && TS.Count > 1 && PipelinesAffineRows())
        {
            PipelinedRows<TC, Lanes, TE, TF>(ref x, ref y, rows, len, ref g, ref h, ref finish);
            return;
        }
        for (nint i = 0; i < rows; i++) SequentialRow<TC, TW, TG, TE, TF>(ref x, ref y, i, len, ref g, ref h, ref finish, ahead);
    }

    /// <summary>Row <paramref name="i"/> of <see cref="SequentialRowsCore"/>: its sums, its coefficients, its apply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SequentialRow<TC, TW, TG, TE, TF>(ref T x, ref T y, nint i, nint len, ref T g, ref T h, ref TF finish, nint ahead)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind
        where TF : struct, IRowFinish<T>
    {
        ref T src = ref Unsafe.Add(ref x, i * len);
        T shift = TC.Lanes ? src : default;
        double s = 0d, q = 0d;
        RowSums<TC>(ref src, len, shift, ref s, ref q, ahead, false);
        finish.Finish(i, shift, s, q, out T a, out T b, out T c);
        OwnApplyRow<TC, TW, TG, TE>(ref src, ref Unsafe.Add(ref y, i * len), len, a, b, c, ref g, ref h);
    }

    /// <summary><see cref="SequentialRowsCore"/> for rows that go two at a time (<see cref="PairedRows"/>): each pair's sums
    /// and coefficients row after row, then both rows' apply with gamma and beta loaded once
    /// (<see cref="ApplyPairStreamed{TC, TE}"/>); an odd last row alone.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SequentialRowPairs<TC, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish, nint ahead)
        where TC : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        nint i = 0;
        for (; i + 1 < rows; i += 2)
        {
            ref T src = ref Unsafe.Add(ref x, i * len), src2 = ref Unsafe.Add(ref src, len);
            ref T dst = ref Unsafe.Add(ref y, i * len), dst2 = ref Unsafe.Add(ref dst, len);
            T shift = TC.Lanes ? src : default, shift2 = TC.Lanes ? src2 : default;
            double s = 0d, q = 0d, s2 = 0d, q2 = 0d;
            RowSums<TC>(ref src, len, shift, ref s, ref q, ahead, false);
            finish.Finish(i, shift, s, q, out T a, out T b, out T c);
            RowSums<TC>(ref src2, len, shift2, ref s2, ref q2, ahead, false);
            finish.Finish(i + 1, shift2, s2, q2, out T a2, out T b2, out T c2);
            if (ApplyPairStreamed<TC, TE>(ref src, ref dst, ref src2, ref dst2, len, a, b, c, a2, b2, c2, ref g, ref h))
                LastCall.Current.Paired = true;
            else
            {
                OwnApplyRow<TC, StreamedStores, Lanes, TE>(ref src, ref dst, len, a, b, c, ref g, ref h);
                OwnApplyRow<TC, StreamedStores, Lanes, TE>(ref src2, ref dst2, len, a2, b2, c2, ref g, ref h);
            }
        }
        if (i < rows) SequentialRow<TC, StreamedStores, Lanes, TE, TF>(ref x, ref y, i, len, ref g, ref h, ref finish, ahead);
    }

    /// <summary>
    /// Streamed rows with gamma and beta along them from this many bytes are applied two at a time
    /// (<see cref="ApplyPairStreamed{TC, TE}"/>). A row that long, with its gamma and beta (twice its bytes), its next
    /// lines hinted ahead and the lines it streams, no longer fits L1 (48 KB on AMD Zen 5) between its sums and its apply:
    /// the apply's parameter loads come from L2. A C# model of the loop (a row's sums, then y = (x * a + b) * g + h
    /// streamed; 25 MB a call, against a streaming copy in the same process): without gamma and beta rows of 1,024 / 4,096
    /// / 8,192 floats 0.98 / 1.16 / 1.20, with gamma 1.07 / 1.24 / 1.30, with both 1.19 / 1.44 / 1.59, both for two rows at
    /// a time 1.02 / 1.25 / 1.21. The library (AMD Zen 5, 25 MB a call, both builds in one process alternating, each load
    /// order), paired / one by one, LayerNorm (RMSNorm) forward at 1 thread: rows of 1,024 floats 1.08-1.08 (1.18-1.26),
    /// 2,048 1.26-1.28 (1.33-1.29), 3,072 1.22-1.30 (1.14-1.17): slower; 4,096 (the bench's S6) 0.97-1.01 (0.91-0.94),
    /// 4,608 0.99-1.00 (0.94-0.96), 5,120 0.96 (0.88-0.90), 6,144 0.96-0.97 (0.89-0.92), 8,192 0.93 (0.89-0.90); at 2
    /// threads 4,096 0.90-0.96 (0.91-0.92). Hence 16 KB (4,096 floats) and up.
    /// </summary>
    internal const int PairedRowBytes = 16 << 10;

    /// <summary>Whether streamed rows of <paramref name="len"/> elements go two at a time: the 512-bit path (a row's vectors
    /// whole lines), rows of whole 64-byte lines (so every row starts at y's phase), at least <see cref="PairedRowBytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PairedRows(nint len) =>
        TS.Count * Unsafe.SizeOf<T>() >= 64 && len * Unsafe.SizeOf<T>() % 64 == 0 && len * Unsafe.SizeOf<T>() >= PairedRowBytes;

    /// <summary>Rows read from memory and streamed out, without gamma along them (InstanceNorm and GroupNorm NCHW, BatchNorm
    /// NCHW with N = 1): row 0's sums, then for each row its coefficients and its apply side by side with the next row's sums
    /// (<see cref="ApplyReduce{TK, TG}"/>, the sums hinting their lines ahead as row after row): the same operations as row after row, so the
    /// same bits (a row's sums added to 0 are its sums: no total is -0), with the next row's reads from memory overlapping
    /// this row's streaming stores.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void PipelinedRows<TC, TG, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish)
        where TC : struct, IOperand where TG : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        LastCall.Current.Pipelined = true;
        T shift = TC.Lanes ? x : default;
        double s = 0d, q = 0d;
        RowSums<TC>(ref x, len, shift, ref s, ref q, PrefetchAhead, false);
        for (nint i = 0; i < rows; i++)
        {
            ref T xi = ref Unsafe.Add(ref x, i * len);
            finish.Finish(i, shift, s, q, out T a, out T b, out T c);
            if (i + 1 == rows)
            {
                OwnApplyRow<TC, StreamedStores, TG, TE>(ref xi, ref Unsafe.Add(ref y, i * len), len, a, b, c, ref g, ref h);
                break;
            }
            ref T next = ref Unsafe.Add(ref xi, len);
            shift = TC.Lanes ? next : default;
            s = 0d;
            q = 0d;
            if (!ApplyReduce<TE, TG>(ref xi, ref Unsafe.Add(ref y, i * len), len, a, b, c, ref g, ref h, ref next, shift, ref s, ref q, PrefetchAhead))
            {
                OwnApplyRow<TC, StreamedStores, TG, TE>(ref xi, ref Unsafe.Add(ref y, i * len), len, a, b, c, ref g, ref h);
                RowSums<TC>(ref next, len, shift, ref s, ref q, PrefetchAhead, false);
            }
        }
    }

    /// <summary>
    /// Whether streamed rows read from memory with gamma and beta along them (LayerNorm and RMSNorm over the last dim) that
    /// their layer's order tuner sent down its second order (<see cref="Streaming.SecondOrder"/>, <c>Runtime.LayerTuner</c>)
    /// run pipelined (<see cref="PipelinedRows{TC, TG, TE, TF}"/>: each row's apply beside the next row's sums) instead of row
    /// after row; reports the choice (<c>LastCall.OrderChoice</c>). On the AMD EPYC Zen 5 guest such rows ran at twice their
    /// time pipelined (512-bit; see <see cref="Rows"/>); on the Zen 3 guest (AVX2, sixty-sixth session) a model in C
    /// (<c>bench/models/layer_norm_rows_pipelined.c</c>) ran [8192, 768] in 0.72-0.81 of the time row after row and [1536,
    /// 4096] in 0.68-0.70: the layer times both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PipelinesAffineRows()
    {
        LastCall.Current.OrderChoice = true;
        return Streaming.SecondOrder;
    }

    /// <summary>One row in cache: its sums, its coefficients, its apply, as <see cref="PhasedRows"/> makes a row's (the same
    /// operations, so the same bits), in a method of its own. Compiled into the phased loop, a lone row's sums, coefficients
    /// and their addresses went through the stack between the passes (the loop keeps more live than there are registers):
    /// a [1, 768] row took about 80 ns there against 70 written out alone (AMD Zen 5).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OneRow<TC, TW, TG, TE, TF>(ref T x, ref T y, nint len, ref T g, ref T h, ref TF finish)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        T shift = TC.Lanes ? x : default;
        double s = 0d, q = 0d;
        RowSums<TC>(ref x, len, shift, ref s, ref q, 0, false);
        finish.Finish(0, shift, s, q, out T a, out T b, out T c);
        ApplyRow<TC, TW, TG, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, true);
    }

    /// <summary>Batches of rows that stay in L1 (<see cref="PhaseBytes"/>), three passes over each: every row's sums, every
    /// row's coefficients (four at a time, and their chains overlap), every row's apply.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void PhasedRows<TC, TW, TG, TE, TF>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref TF finish, ref double sums, ref T coefficients)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind where TF : struct, IRowFinish<T>
    {
        if (TF.FixedLength > 0) len = TF.FixedLength;
        // Planar: row i's sums at i and rows + i, its a, b, c at i, rows + i and 2 rows + i.
        ref double ss = ref sums, sq = ref Unsafe.Add(ref sums, rows);
        ref T ca = ref coefficients, cb = ref Unsafe.Add(ref coefficients, rows), cc = ref Unsafe.Add(ref coefficients, 2 * rows);
        nint batch = Math.Max(1, PhaseBytes / (len * Unsafe.SizeOf<T>()));
        for (nint b0 = 0; b0 < rows; b0 += batch)
        {
            nint b1 = Math.Min(rows, b0 + batch);
            for (nint i = b0; i < b1; i++)
            {
                ref T xi = ref Unsafe.Add(ref x, i * len);
                double s = 0d, q = 0d;
                RowSums<TC>(ref xi, len, TC.Lanes ? xi : default, ref s, ref q, 0, false);
                Unsafe.Add(ref ss, i) = s;
                Unsafe.Add(ref sq, i) = q;
            }
            Finish<TC, TF>(ref x, len, b0, b1, ref finish, ref ss, ref sq, ref ca, ref cb, ref cc);
            for (nint i = b0; i < b1; i++)
                ApplyRow<TC, TW, TG, TE>(ref Unsafe.Add(ref x, i * len), ref Unsafe.Add(ref y, i * len), len, ref Unsafe.Add(ref ca, i), ref Unsafe.Add(ref cb, i),
                    ref Unsafe.Add(ref cc, i), ref g, ref h, true);
        }
    }

    /// <summary>Rows of <paramref name="len"/> elements applied with given coefficients (row i's a, b, c at i of
    /// <paramref name="a"/>, <paramref name="b"/>, <paramref name="c"/>), each by the plain apply of <see cref="Rows"/>
    /// (<typeparamref name="TG"/>: gamma and beta along the row, or none), stored normally: an inference call's rows.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void ApplyEachRow<TK, TG>(ref T x, ref T y, nint rows, nint len, ref T g, ref T h, ref T a, ref T b, ref T c)
        where TK : struct, INormKind where TG : struct, IOperand
    {
        for (nint i = 0; i < rows; i++)
        {
            if (TK.Centered)
                ApplyRow<Centered, CachedStores, TG, TK>(ref Unsafe.Add(ref x, i * len), ref Unsafe.Add(ref y, i * len), len, ref Unsafe.Add(ref a, i),
                    ref Unsafe.Add(ref b, i), ref Unsafe.Add(ref c, i), ref g, ref h, true);
            else
                ApplyRow<Uncentered, CachedStores, TG, TK>(ref Unsafe.Add(ref x, i * len), ref Unsafe.Add(ref y, i * len), len, ref Unsafe.Add(ref a, i),
                    ref Unsafe.Add(ref b, i), ref Unsafe.Add(ref c, i), ref g, ref h, true);
        }
    }

    /// <summary>Rows [<paramref name="from"/>, <paramref name="to"/>)'s coefficients from their planar sums into planar a, b,
    /// c: eight rows at a time where the finish can (<see cref="IRowFinish{T}.FinishEight"/>), then four
    /// (<see cref="IRowFinish{T}.FinishFour"/>), then one by one; the same bits either way. Its own method, one call per batch
    /// of rows: inlined with the eights, it spent the JIT's inlining budget of the row runs that call it, and their applies were
    /// left as calls (BatchNorm, InstanceNorm, GroupNorm NCHW S5: 0.9 -> 6 us a call).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Finish<TC, TF>(ref T x, nint len, nint from, nint to, ref TF finish, ref double ss, ref double sq, ref T ca, ref T cb, ref T cc)
        where TC : struct, IOperand where TF : struct, IRowFinish<T>
    {
        nint i = from;
        if (to - from >= 8)
            i += finish.FinishEights(from, to, ref Unsafe.Add(ref x, from * len), len, ref Unsafe.Add(ref ss, from), ref Unsafe.Add(ref sq, from),
                ref Unsafe.Add(ref ca, from), ref Unsafe.Add(ref cb, from), ref Unsafe.Add(ref cc, from));
        for (; i + 8 <= to; i += 8)
            if (!finish.FinishEight(i, ref Unsafe.Add(ref x, i * len), len, ref Unsafe.Add(ref ss, i), ref Unsafe.Add(ref sq, i),
                ref Unsafe.Add(ref ca, i), ref Unsafe.Add(ref cb, i), ref Unsafe.Add(ref cc, i)))
                break;
        for (; i + 4 <= to; i += 4)
            finish.FinishFour(i, ref Unsafe.Add(ref x, i * len), len, ref Unsafe.Add(ref ss, i), ref Unsafe.Add(ref sq, i),
                ref Unsafe.Add(ref ca, i), ref Unsafe.Add(ref cb, i), ref Unsafe.Add(ref cc, i));
        for (; i < to; i++)
            finish.Finish(i, TC.Lanes ? Unsafe.Add(ref x, i * len) : default, Unsafe.Add(ref ss, i), Unsafe.Add(ref sq, i),
                out Unsafe.Add(ref ca, i), out Unsafe.Add(ref cb, i), out Unsafe.Add(ref cc, i));
    }

    /// <summary>A row's sums, as <see cref="Reduce{TK}"/>: centered, of x - shift and its square; uncentered, of x^2 (into
    /// <paramref name="q"/>); <paramref name="ahead"/> as <see cref="ReduceCore{TC}"/> takes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowSums<TC>(ref T x, nint len, T shift, ref double s, ref double q, nint ahead, bool accumulate = true) where TC : struct, IOperand
    {
        if (TC.Lanes) ReduceCore<Centered>(ref x, len, shift, ref s, ref q, ahead, accumulate);
        else ReduceCore<Uncentered>(ref x, len, default, ref q, ref q, ahead, accumulate);
    }

    /// <summary><see cref="ApplyRow"/> as a call of its own, for the loops over rows read from memory (<see cref="SequentialRows"/>,
    /// <see cref="PipelinedRows"/>): inlined there beside the sums, on the 128-bit path its loop was left calling the vector
    /// operations once a vector (the JIT's inlining budget; CodegenTests); a call a row is nothing beside a row read from memory.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OwnApplyRow<TC, TW, TG, TE>(ref T x, ref T y, nint len, T a, T b, T c, ref T g, ref T h)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind =>
        ApplyRow<TC, TW, TG, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h);

    /// <summary>A row's apply with one coefficient set: the plain apply (<typeparamref name="TG"/>: gamma and beta along
    /// the row, or none). <paramref name="inCache"/> (rows the caller keeps in cache: phased, or a small inference call's):
    /// a long row's peel aligns gamma's and beta's loads rather than x's. The layer's Weight and Bias start on a 64-byte
    /// boundary (<see cref="AlignedArrays"/>), and every row starts at their first element, so rows then need no peel:
    /// x and y straddle lines, two streams, where aligning x left y, gamma and beta straddling, three. AMD Zen 5, a row of
    /// 768 floats in L1, the apply alone: 37 ns against 47. Rows read from memory keep x aligned (see PeelBytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ApplyRow<TC, TW, TG, TE>(ref T x, ref T y, nint len, ref T a, ref T b, ref T c, ref T g, ref T h, bool inCache = false)
        where TC : struct, IOperand where TW : struct, IStores where TG : struct, IOperand where TE : struct, INormKind
    {
        if (TG.Lanes) ApplyCore<TC, TW, Splat, Centered, Lanes, TE>(ref x, ref y, len, ref a, ref b, ref c, ref g, ref h, 0, inCache);
        else ApplyCore<TC, TW, Splat, Uncentered, Splat, TE>(ref x, ref y, len, ref a, ref b, ref c, ref a, ref b, 0);
    }
}
