using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>
/// The constants of one <c>[LocalResponseNormalize]</c> layer, as a struct type argument of <see cref="LrnRuns{TS, TV, T}"/>
/// (each layer emits one): the JIT compiles the runs once per layer and path with these folded in.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILrnWindow
{
    /// <summary>Channels of the window before the centre (Size / 2).</summary>
    static abstract int Before { get; }

    /// <summary>Channels of the window after the centre ((Size - 1) / 2).</summary>
    static abstract int After { get; }

    /// <summary>alpha / Size.</summary>
    static abstract double Scale { get; }

    /// <summary>The additive constant k.</summary>
    static abstract double K { get; }

    /// <summary>The exponent beta of the divisor (0, 0.5, 0.75 and 1 have their own forms).</summary>
    static abstract double Beta { get; }

    /// <summary>2 * alpha * beta / Size.</summary>
    static abstract double GradientScale { get; }
}

/// <summary>
/// The local response normalization runs, written once for every path (<typeparamref name="TS"/>), vector type
/// (<typeparamref name="TV"/>), element type (<typeparamref name="T"/>) and layer (the <see cref="ILrnWindow"/> type
/// argument). A run is a set of positions (one vector, or a chunk of vectors) sliding across C, channel c at
/// <c>c * stride</c>: the window's sum of squares is a running sum in double (adding the entering channel's square,
/// subtracting the leaving one's). A generated layer keeps its drivers (planes, pieces, tiles, threads) and calls these.
/// </summary>
/// <remarks>
/// Running sums: when the value leaving is more than <see cref="RecomputeRatio"/> times what remains (a large value
/// leaves a window of small ones), the subtraction has cancelled the sum to below its rounding error's scale, so the
/// window is summed again from scratch; the sum's relative error stays below RecomputeRatio * 2^-53 per step.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LrnRuns<TS, TV, T> where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Positions per chunk of <see cref="ForwardColumnsRunning"/> (their running sums live in a 2 KB double buffer), and
    /// the least positions a piece of a plane gets (LrnKernels.PiecesFor).</summary>
    public const int ChunkWidth = 256;

    /// <summary>A running sum is summed again when the value leaving it exceeds this many times what remains.</summary>
    public static double RecomputeRatio
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(T) == typeof(double) ? 256d : 1048576d;
    }

    /// <summary>Positions a chunk of <see cref="ForwardColumns"/> covers at most: rows of 16 KB of float, so a plane of S1
    /// (3,136 positions) is one chunk and each channel's row is read in one sequential pass. In one process, S1 NCHW at 1
    /// thread (Zen 4, AVX-512, per 32 samples): 6.60 ms with 256, 6.10 with 1024, 5.94 with 2048 (two chunks a plane), 4.99
    /// with the whole plane; on L2-resident data the width made no difference (3.3-3.6 ms). Before the ring's rows were
    /// padded and the entering row taken from the register, some widths ran at 11 ms, their loads waiting on 512-bit stores.</summary>
    public const int RingWidth = 4096;

    /// <summary>Elements of the ring of squares a chunk of <paramref name="length"/> positions needs for a window of
    /// <paramref name="size"/> channels (0 when the window is too large for a ring: the running sums are used).</summary>
    public static int RingLength(int size, int length)
    {
        int w = TS.Count;
        long width = Math.Min(RingWidth, ((long)length + w - 1) / w * w);
        return size <= MaxRingSize ? (int)(size * (width + RowPad)) : 0;
    }

    /// <summary>Elements between the ring's rows beyond their width (64 bytes): rows a power of two apart alias in the L1 sets
    /// and in the store buffer's 4 KB match, and the window reads all of them right after storing one.</summary>
    private static int RowPad => 64 / Unsafe.SizeOf<T>();

    /// <summary>Windows of more channels than this take the running sums in double.</summary>
    private const int MaxRingSize = 64;

    /// <summary>
    /// y = x * D^-beta for positions [0, <paramref name="length"/>) (length &gt;= TS.Count), channel c at c * <paramref name="stride"/>.
    /// Chunks of up to <see cref="RingWidth"/> positions (whole vectors; the last piece rounded up to whole vectors and
    /// moved back to end at length) slide across C together. The squares of the window's channels sit in a ring of Size
    /// rows in <paramref name="ring"/> (<see cref="RingLength"/> elements; the entering channel's row overwrites the leaving one's; rows past either end of C are zero), and
    /// each window sum is the ring's rows added in ring order, in the element type: no subtraction, so nothing cancels,
    /// and the sum of Size positive terms is within Size roundings. Windows too large for the ring take the running sums
    /// in double (<see cref="ForwardColumnsRunning"/>). With <paramref name="ahead"/> (the call's tensors exceed the last-level
    /// cache, so each entering row comes from memory) and rows at least <see cref="HintRowBytes"/> apart, each vector of the
    /// entering row first hints the same positions of the row after it into L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardColumns<TW>(ref T x, ref T y, int channels, int stride, int length, ref T ring, int ringLength, bool ahead) where TW : struct, ILrnWindow
    {
        int w = TS.Count, size = TW.Before + TW.After + 1;
        int chunk = size <= MaxRingSize ? Math.Min((ringLength / size - RowPad) / w * w, length / w * w) : 0;
        if (chunk < w)
        {
            ForwardColumnsRunning<TW>(ref x, ref y, channels, stride, length);
            return;
        }
        Span<T> ringSpan = MemoryMarshal.CreateSpan(ref ring, ringLength);
        TV scale = TS.Splat(Of(TW.Scale)), k = TS.Splat(Of(TW.K));
        for (int start = 0; start < length; start += chunk)
        {
            int piece = Math.Min(chunk, length - start);
            int width = (piece + w - 1) / w * w;
            ref T xc = ref Unsafe.Add(ref x, start + piece - width);
            ref T yc = ref Unsafe.Add(ref y, start + piece - width);
            // Row r of the ring holds channel j with j % size == r; before channel 0: the channels [0, After), zeros elsewhere.
            int rowStride = width + RowPad;
            bool hint = ahead && TS.Count > 1 && (long)stride * Unsafe.SizeOf<T>() >= HintRowBytes;
            ringSpan.Slice(0, size * rowStride).Clear();
            for (int j = 0; j < TW.After && j < channels; j++)
                for (int v = 0; v < width; v += w)
                    TS.Store(Square(TS.Load(ref xc, (nint)j * stride + v)), ref ring, (nint)(j % size) * rowStride + v);
            for (int c = 0; c < channels; c++)
            {
                // Channel c + After enters where channel c - Before - 1 was (the same row): its squares, or zeros past C.
                int entering = c + TW.After;
                int enteringRow = entering % size;
                ref T row = ref Unsafe.Add(ref ring, (nint)enteringRow * rowStride);
                bool inside = c < channels - TW.After;
                for (int v = 0; v < width; v += w)
                {
                    if (hint) Hint(ref xc, (nint)(entering + 1) * stride + v);
                    TV enteringSquare = inside ? Square(TS.Load(ref xc, (nint)entering * stride + v)) : TS.Zero;
                    TS.Store(enteringSquare, ref row, v);
                    // The entering squares from the register, the other rows from the ring: a load of the vector just
                    // stored would wait on the store (512-bit stores do not forward to loads on every core).
                    TV sum = RingSum(ref ring, v, rowStride, size, enteringRow, enteringSquare);
                    nint at = (nint)c * stride + v;
                    TS.Store(Normalized<TW>(TS.Load(ref xc, at), sum, scale, k), ref yc, at);
                }
            }
        }
    }

    /// <summary>Rows at least this far apart (bytes) take the entering row's hints in <see cref="ForwardColumns"/> when the call
    /// reads from memory. AMD Zen 5, S1 NCHW (32x64x56x56, rows of 12.5 KB), one process alternating with and without (the
    /// threshold toggled), three runs: 3.97-4.01 -> 3.30-3.49 ms at 1 thread, 3.48-3.55 -> 3.17-3.27 ms at 2. Hinted
    /// whatever the size, the same tensor with N = 8 (in L3) took 0.77 ms either way and with N = 2 (in L2) 0.168 -> 0.199
    /// ms: hence only from memory.</summary>
    public const int HintRowBytes = 4 << 10;

    /// <summary>Hints the line of element <paramref name="i"/> of <paramref name="p"/> into L1 (x86; a no-op elsewhere). A
    /// hint never faults, past the end of the data included, and never changes a result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Hint(ref T p, nint i)
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref p, i)));
    }

    /// <summary>The ring's <paramref name="size"/> rows at position <paramref name="v"/>: the entering row's values
    /// (<paramref name="enteringRow"/>, given), then the others added in row order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV RingSum(ref T ring, int v, int rowStride, int size, int enteringRow, TV entering)
    {
        TV s = entering;
        for (int r = 0; r < size; r++)
            if (r != enteringRow) s = TS.Add(s, TS.Load(ref ring, (nint)r * rowStride + v));
        return s;
    }

    /// <summary>Scratch elements <see cref="ForwardFlat"/> takes for a plane of <paramref name="inner"/> positions: the copies
    /// of a part's edges (at most two windows and four vectors).</summary>
    public static int FlatScratch<TW>(int inner) where TW : struct, ILrnWindow =>
        2 * (TW.Before + TW.After) * inner + 4 * TS.Count;

    /// <summary>
    /// y = x * D^-beta for the flat positions [<paramref name="from"/>, <paramref name="to"/>) of one sample of
    /// <paramref name="length"/> = C * <paramref name="inner"/> elements (channel-major, length &gt;= TS.Count, to - from
    /// &gt;= TS.Count). Channel c's neighbour c + j of a position is <c>j * inner</c> elements on in the same flat order,
    /// and a neighbour past either end of C is past either end of the sample: so the window sum of a vector of any
    /// positions (channels mixed: 49-element planes on 16 lanes) is Size vector loads of x, <c>j * inner</c> apart, squared
    /// and added in channel order (c - Before first), with zeros outside the sample. Vectors whose windows fall inside the
    /// sample read x directly; the few at the sample's two ends read a copy with the zeros in place (<paramref name="pad"/>,
    /// <see cref="FlatScratch"/> elements). Every position is computed by the same operations whichever vector holds it,
    /// so the bits do not depend on the parts or the threads. The output must not overlap x (LRN forbids in place; the last
    /// vector of a range overlaps the one before it).
    /// <para>For planes shorter than two vectors (<see cref="ForwardStrips"/> takes the others). It first took planes up to
    /// 16 KB of window (AMD Zen 5, 1 thread, against the columns' ring: 7x7 planes 427-483 -> 273-285 us, 14x14 677-711 ->
    /// 536-579 us, 28x28 even; from memory, 56x56, 22-30% slower), until the strips beat it there too.</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardFlat<TW>(ref T x, ref T y, nint length, int inner, nint from, nint to, ref T pad) where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        nint lo = (nint)TW.Before * inner, hi = (nint)TW.After * inner;
        TV scale = TS.Splat(Of(TW.Scale)), k = TS.Splat(Of(TW.K));
        // Positions whose vector's window lies inside the sample: [lo, length - hi - w] as vector starts.
        nint a = Math.Max(from, lo), b = Math.Min(to, length - hi);
        if (b - a < w)
        {
            FlatEdge<TW>(ref x, ref y, length, inner, from, to, from, to, ref pad, scale, k);
            return;
        }
        if (a > from) FlatEdge<TW>(ref x, ref y, length, inner, from, a, from, to, ref pad, scale, k);
        FlatVectors<TW>(ref x, 0, ref y, a, b - w, inner, scale, k);
        if (b < to) FlatEdge<TW>(ref x, ref y, length, inner, b, to, from, to, ref pad, scale, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Size<TW>() where TW : struct, ILrnWindow => TW.Before + TW.After + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SquareAdd(TV v, TV sum) => TS.MultiplyAdd(v, v, sum);

    /// <summary>Positions [<paramref name="start"/>, <paramref name="end"/>) of a part [<paramref name="from"/>,
    /// <paramref name="to"/>) from a copy of the x their windows read, zeros outside the sample.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void FlatEdge<TW>(ref T x, ref T y, nint length, int inner, nint start, nint end, nint from, nint to, ref T pad, TV scale, TV k)
        where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        nint lo = (nint)TW.Before * inner, hi = (nint)TW.After * inner;
        // Vectors from first to last (the last may overlap the one before it, or the part's positions past end).
        nint first = Math.Min(start, to - w), last = Math.Max(first, end - w);
        nint copyFrom = first - lo, copyTo = last + w + hi;
        for (nint i = copyFrom; i < copyTo; i++)
            Unsafe.Add(ref pad, i - copyFrom) = i >= 0 && i < length ? Unsafe.Add(ref x, i) : default;
        FlatVectors<TW>(ref pad, copyFrom, ref y, first, last, inner, scale, k);
    }

    /// <summary>The vectors at <paramref name="first"/>, first + TS.Count, ..., and <paramref name="last"/>, reading the
    /// window from <paramref name="source"/> (holding flat position i at i - <paramref name="origin"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FlatVectors<TW>(ref T source, nint origin, ref T y, nint first, nint last, int inner, TV scale, TV k) where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        nint lo = (nint)TW.Before * inner, s = inner;
        for (nint f = first; ; f += w)
        {
            if (f > last) f = last;
            ref T centre = ref Unsafe.Add(ref source, f - origin);
            ref T p = ref Unsafe.Add(ref centre, -lo);
            // Written out to the largest window (RowsMaxSize = 9; the size is a constant of the layer): a loop over the
            // window's channels stayed a loop.
            TV sum = Square(TS.Load(ref p, 0));
            if (Size<TW>() > 1) sum = SquareAdd(TS.Load(ref p, s), sum);
            if (Size<TW>() > 2) sum = SquareAdd(TS.Load(ref p, 2 * s), sum);
            if (Size<TW>() > 3) sum = SquareAdd(TS.Load(ref p, 3 * s), sum);
            if (Size<TW>() > 4) sum = SquareAdd(TS.Load(ref p, 4 * s), sum);
            if (Size<TW>() > 5) sum = SquareAdd(TS.Load(ref p, 5 * s), sum);
            if (Size<TW>() > 6) sum = SquareAdd(TS.Load(ref p, 6 * s), sum);
            if (Size<TW>() > 7) sum = SquareAdd(TS.Load(ref p, 7 * s), sum);
            if (Size<TW>() > 8) sum = SquareAdd(TS.Load(ref p, 8 * s), sum);
            TS.Store(Normalized<TW>(TS.Load(ref centre, 0), sum, scale, k), ref y, f);
            if (f == last) break;
        }
    }

    /// <summary>
    /// <see cref="ForwardColumns"/> for windows of up to <see cref="StripMaxSize"/> channels: a strip of two vectors slides
    /// across C with the window's squares in registers (the entering channel's squared, the window shifted by one each step),
    /// summed in channel order (c - Before first); the centre is loaded again (its row was read Before steps ago). No ring
    /// in memory: a step reads two vectors of one row and writes two of another. With <paramref name="ahead"/> (the call's
    /// tensors come from memory) each step hints the entering row's lines <see cref="StripHintStrips"/> strips on into L1.
    /// Positions [0, <paramref name="length"/>), length &gt;= two vectors (the last strip overlaps the one before it; LRN's
    /// output never overlaps its input). Strips start at x's first 64-byte boundary when the rows are whole lines apart (a
    /// load that straddles two lines costs both: S1 NCHW, 1 thread, 1.60 ms with x and y 32 and 56 bytes off a line,
    /// 1.28-1.35 ms with both on lines); the positions before it take unaligned strips first (up to 15 floats: more than a
    /// strip on the 128-bit and scalar paths), the last of them overlapping the first aligned one.
    /// <para>Against the columns' ring of squares (AMD Zen 5, 1 thread, 512-bit, one process per build alternating):
    /// LocalResponseNorm(5) NCHW S1 (32x64x56x56, from memory) 3.13 -> 1.47 ms (2 threads 1.47 -> 0.65), 8x64x56x56 (in L3)
    /// 603 -> 343 us, 32x32x64x64 2.51 -> 1.78 ms, 16x64x40x40 645 -> 285 us; against the flat kernel, 32x512x7x7 (two
    /// strips for 49 positions) 208-220 -> 175-177 us, 32x256x14x14 398-438 -> 322-328 us.</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ForwardStrips<TW>(ref T x, ref T y, int channels, int stride, int length, bool ahead) where TW : struct, ILrnWindow
    {
        int strip = 2 * TS.Count, line = 64 / sizeof(T);
        nuint address = (nuint)Unsafe.AsPointer(ref x);
        int peel = stride % line == 0 && address % (nuint)sizeof(T) == 0 ? (int)((64 - (address & 63)) & 63) / sizeof(T) : 0;
        if (peel > length - strip) peel = 0;
        int hintAt = ahead ? StripHintStrips * strip : 0;
        for (int start = 0; start < peel; start += strip)
            StripAt<TW>(ref x, ref y, channels, stride, start, hintAt);
        for (int start = peel; ; start += strip)
        {
            if (start > length - strip) start = length - strip;
            StripAt<TW>(ref x, ref y, channels, stride, start, start + strip < length ? hintAt : 0);
            if (start == length - strip) break;
        }
    }

    /// <summary>Windows of at most this many channels take <see cref="ForwardStrips"/> (its registers of squares, written out).</summary>
    public const int StripMaxSize = 9;

    /// <summary>Strips ahead <see cref="ForwardStrips"/> hints the entering rows' lines: AMD Zen 5, S1 NCHW at 1 thread, x and
    /// y off a line: one strip ahead 2.25 ms, two 1.56 ms, four 1.56 ms (the columns kernel: 3.05 ms).</summary>
    private const int StripHintStrips = 2;

    /// <summary>One strip of <see cref="ForwardStrips"/>: positions [start, start + two vectors) across every channel; with
    /// <paramref name="hintAt"/> &gt; 0 each step hints the entering row's lines that many positions on.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void StripAt<TW>(ref T x, ref T y, int channels, int stride, int start, int hintAt) where TW : struct, ILrnWindow
    {
        int v = TS.Count, size = Size<TW>(), before = TW.Before, after = TW.After;
        TV scale = TS.Splat(Of(TW.Scale)), k = TS.Splat(Of(TW.K));
        ref T xs = ref Unsafe.Add(ref x, start);
        ref T ys = ref Unsafe.Add(ref y, start);
        // w0 .. w7, the last size - 1 of them in use: channels c - Before .. c + After - 1 before step c (zeros outside C).
        TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero, a4 = TS.Zero, a5 = TS.Zero, a6 = TS.Zero, a7 = TS.Zero;
        TV b0 = TS.Zero, b1 = TS.Zero, b2 = TS.Zero, b3 = TS.Zero, b4 = TS.Zero, b5 = TS.Zero, b6 = TS.Zero, b7 = TS.Zero;
        for (int j = 0; j < size - 1; j++)
        {
            int channel = j - before;
            TV sa = TS.Zero, sb = TS.Zero;
            if (channel >= 0 && channel < channels)
            {
                sa = Square(TS.Load(ref xs, (nint)channel * stride));
                sb = Square(TS.Load(ref xs, (nint)channel * stride + v));
            }
            a0 = a1; a1 = a2; a2 = a3; a3 = a4; a4 = a5; a5 = a6; a6 = a7; a7 = sa;
            b0 = b1; b1 = b2; b2 = b3; b3 = b4; b4 = b5; b5 = b6; b6 = b7; b7 = sb;
        }
        for (int c = 0; c < channels; c++)
        {
            int entering = c + after;
            TV ea = TS.Zero, eb = TS.Zero;
            if (entering < channels)
            {
                nint at = (nint)entering * stride;
                if (hintAt > 0)
                {
                    Hint(ref xs, at + hintAt);
                    Hint(ref xs, at + hintAt + v);
                }
                ea = Square(TS.Load(ref xs, at));
                eb = Square(TS.Load(ref xs, at + v));
            }
            nint o = (nint)c * stride;
            TS.Store(Normalized<TW>(TS.Load(ref xs, o), WindowOf(size, a0, a1, a2, a3, a4, a5, a6, a7, ea), scale, k), ref ys, o);
            TS.Store(Normalized<TW>(TS.Load(ref xs, o + v), WindowOf(size, b0, b1, b2, b3, b4, b5, b6, b7, eb), scale, k), ref ys, o + v);
            a0 = a1; a1 = a2; a2 = a3; a3 = a4; a4 = a5; a5 = a6; a6 = a7; a7 = ea;
            b0 = b1; b1 = b2; b2 = b3; b3 = b4; b4 = b5; b5 = b6; b6 = b7; b7 = eb;
        }
    }

    /// <summary>The last <paramref name="size"/> - 1 of w0 .. w7 (the window's channels before the entering one, oldest
    /// first), then <paramref name="e"/>, added in that order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV WindowOf(int size, TV w0, TV w1, TV w2, TV w3, TV w4, TV w5, TV w6, TV w7, TV e) => size switch
    {
        1 => e,
        2 => TS.Add(w7, e),
        3 => TS.Add(TS.Add(w6, w7), e),
        4 => TS.Add(TS.Add(TS.Add(w5, w6), w7), e),
        5 => TS.Add(TS.Add(TS.Add(TS.Add(w4, w5), w6), w7), e),
        6 => TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(w3, w4), w5), w6), w7), e),
        7 => TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(w2, w3), w4), w5), w6), w7), e),
        8 => TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(w1, w2), w3), w4), w5), w6), w7), e),
        _ => TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(TS.Add(w0, w1), w2), w3), w4), w5), w6), w7), e),
    };

    /// <summary>
    /// <see cref="ForwardColumns"/> with the window sums running in double (adding the entering channel's square,
    /// subtracting the leaving one's, re-summed when the guard asks): for windows too large for the ring of squares.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardColumnsRunning<TW>(ref T x, ref T y, int channels, int stride, int length) where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        double ratio = RecomputeRatio;
        Span<double> sums = stackalloc double[ChunkWidth];
        ref double running = ref MemoryMarshal.GetReference(sums);
        int chunk = Math.Min(ChunkWidth, length / w * w);
        for (int start = 0; start < length; start += chunk)
        {
            // The last piece: the remaining positions rounded up to whole vectors, ending at length (overlapping the previous piece).
            int piece = Math.Min(chunk, length - start);
            int width = (piece + w - 1) / w * w;
            ref T xc = ref Unsafe.Add(ref x, start + piece - width);
            ref T yc = ref Unsafe.Add(ref y, start + piece - width);
            sums.Slice(0, width).Clear();
            // Window of channel c: [c - Before, c + After]; start with [0, After) so that step c adds c + After.
            for (int j = 0; j < TW.After && j < channels; j++)
                for (int v = 0; v < width; v += w)
                    TS.AddWidened(ref running, v, Square(TS.Load(ref xc, (nint)j * stride + v)));
            for (int c = 0; c < channels; c++)
            {
                for (int v = 0; v < width; v += w)
                {
                    TS.LoadWide(ref running, v, out TV lo, out TV hi, out double value);
                    Slide(ref lo, ref hi, ref value, c, TW.After, TW.Before, channels, ratio, ref xc, stride, v, square: true);
                    TS.StoreWide(lo, hi, value, ref running, v);
                    TV power = InversePower<TW>(TS.NarrowMultiplyAdd(lo, hi, value, TW.Scale, TW.K));
                    nint at = (nint)c * stride + v;
                    TS.Store(TS.Multiply(TS.Load(ref xc, at), power), ref yc, at);
                }
            }
        }
    }

    /// <summary>Rows of squares <see cref="ForwardRows"/> keeps (a power of two): each row's squares are stored
    /// <c>SquareRows - 1</c> rows before the row is summed.</summary>
    public const int SquareRows = 4;

    /// <summary>
    /// Channels innermost, without transposes: y = x * D^-beta for <paramref name="count"/> rows of
    /// <paramref name="channels"/> (&gt;= TS.Count) contiguous channels. The squares of a row go into one of
    /// <see cref="SquareRows"/> rows of <paramref name="squares"/> (Before + channels + After elements each), padded with
    /// zeros; the window sum of channel c is then Size shifted vector loads from c, added in order, in the element type
    /// (nothing subtracted, nothing cancels). The squares of row p + SquareRows - 1 are stored while row p is summed: the
    /// shifted loads each span two stores, and store forwarding fails on them, so they wait until those stores reach the
    /// cache. Loaded right after they were stored, that made NHWC S1 about 3x its instruction count (AMD Zen 4); one row
    /// ahead was still 4.0 ms against 1.9 ms for oneDNN on AMD Zen 5 (64 channels: a row is four vectors).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardRows<TW>(ref T x, ref T y, int channels, int count, ref T squares) where TW : struct, ILrnWindow
    {
        if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported && channels % 16 == 0 && TW.Before < 16 && TW.After < 16)
        {
            ForwardRowsInRegisters<TW>(ref Unsafe.As<T, float>(ref x), ref Unsafe.As<T, float>(ref y), channels, count);
            return;
        }
        int w = TS.Count, size = TW.Before + TW.After + 1, padded = TW.Before + channels + TW.After, ahead = SquareRows - 1;
        for (int row = 0; row < SquareRows; row++)
        {
            ref T buffer = ref Unsafe.Add(ref squares, row * padded);
            for (int i = 0; i < TW.Before; i++) Unsafe.Add(ref buffer, i) = default;
            for (int i = 0; i < TW.After; i++) Unsafe.Add(ref buffer, TW.Before + channels + i) = default;
        }
        TV scale = TS.Splat(Of(TW.Scale)), k = TS.Splat(Of(TW.K));
        int lastColumn = channels - w;
        for (int p = 0; p < ahead && p < count; p++)
            StoreSquares(ref Unsafe.Add(ref x, (nint)p * channels), ref Unsafe.Add(ref squares, p * padded), TW.Before, lastColumn, w);
        for (int p = 0; p < count; p++)
        {
            ref T xr = ref Unsafe.Add(ref x, (nint)p * channels);
            ref T yr = ref Unsafe.Add(ref y, (nint)p * channels);
            ref T current = ref Unsafe.Add(ref squares, (p & (SquareRows - 1)) * padded);
            if (p + ahead < count)
                StoreSquares(ref Unsafe.Add(ref xr, (nint)ahead * channels), ref Unsafe.Add(ref squares, ((p + ahead) & (SquareRows - 1)) * padded), TW.Before, lastColumn, w);
            for (int column = 0; ; column += w)
            {
                if (column > lastColumn) column = lastColumn;
                TS.Store(Normalized<TW>(TS.Load(ref xr, column), WindowSum(ref current, column, size), scale, k), ref yr, column);
                if (column == lastColumn) break;
            }
        }
    }

    /// <summary>
    /// <see cref="ForwardRows"/> on 512-bit float lanes for rows of whole vectors (channels a multiple of 16): each row's
    /// squares stay in registers, three vectors of them (the previous, this and the next 16 channels, zeros past the row's
    /// ends), and the window's shifted vectors are lane rotations across two of them (valignd), added in the same order as
    /// <see cref="WindowSum"/> adds the loads from the squares' rows: the same bits, without storing the squares and loading
    /// each window channel back (five loads that straddle lines a vector). AMD Zen 5, 1 thread, LocalResponseNorm(5) NHWC,
    /// one process alternating: S2 (C = 512) 202-204 -> 172-173 us, S1 (C = 64) 1.86-1.88 -> 1.36 ms.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRowsInRegisters<TW>(ref float x, ref float y, int channels, int count) where TW : struct, ILrnWindow
    {
        var scale = Vector512.Create((float)TW.Scale);
        var k = Vector512.Create((float)TW.K);
        for (int p = 0; p < count; p++)
        {
            ref float xr = ref Unsafe.Add(ref x, (nint)p * channels);
            ref float yr = ref Unsafe.Add(ref y, (nint)p * channels);
            var prev = Vector512<float>.Zero;
            var xc = Vector512.LoadUnsafe(ref xr);
            var cur = xc * xc;
            nint c = 0;
            for (; c + 16 < channels; c += 16)
            {
                var xn = Vector512.LoadUnsafe(ref xr, (nuint)(c + 16));
                var next = xn * xn;
                Normalized<TW>(xc, ShiftedWindow<TW>(prev, cur, next), scale, k).StoreUnsafe(ref yr, (nuint)c);
                prev = cur;
                cur = next;
                xc = xn;
            }
            Normalized<TW>(xc, ShiftedWindow<TW>(prev, cur, Vector512<float>.Zero), scale, k).StoreUnsafe(ref yr, (nuint)c);
        }
    }

    /// <summary>y = x * (k + scale * sum)^-beta: every forward kernel's output from its window sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Normalized<TW>(TV x, TV sum, TV scale, TV k) where TW : struct, ILrnWindow =>
        TS.Multiply(x, InversePower<TW>(TS.MultiplyAdd(sum, scale, k), atLeastK: true));

    /// <summary><see cref="Normalized{TW}(TV, TV, TV, TV)"/> on the 512-bit float lanes the register kernels hold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Normalized<TW>(Vector512<float> x, Vector512<float> sum, Vector512<float> scale, Vector512<float> k) where TW : struct, ILrnWindow =>
        Unsafe.BitCast<TV, Vector512<float>>(Normalized<TW>(Unsafe.BitCast<Vector512<float>, TV>(x), Unsafe.BitCast<Vector512<float>, TV>(sum),
            Unsafe.BitCast<Vector512<float>, TV>(scale), Unsafe.BitCast<Vector512<float>, TV>(k)));

    /// <summary>The squares of channels c + j (j from -15 to 15) for the 16 channels c of <paramref name="cur"/>, from the
    /// vectors before and after it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Shifted(Vector512<float> prev, Vector512<float> cur,
        Vector512<float> next, int j)
    {
        // A constant control per shift (j is a constant of the layer once inlined).
        if (j == 0) return cur;
        return (j switch
        {
            1 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 1),
            2 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 2),
            3 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 3),
            4 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 4),
            5 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 5),
            6 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 6),
            7 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 7),
            8 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 8),
            9 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 9),
            10 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 10),
            11 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 11),
            12 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 12),
            13 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 13),
            14 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 14),
            15 => Avx512F.AlignRight32(next.AsUInt32(), cur.AsUInt32(), 15),
            -1 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 15),
            -2 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 14),
            -3 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 13),
            -4 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 12),
            -5 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 11),
            -6 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 10),
            -7 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 9),
            -8 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 8),
            -9 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 7),
            -10 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 6),
            -11 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 5),
            -12 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 4),
            -13 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 3),
            -14 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 2),
            -15 => Avx512F.AlignRight32(cur.AsUInt32(), prev.AsUInt32(), 1),
            _ => throw new ArgumentOutOfRangeException(nameof(j)),
        }).AsSingle();
    }

    /// <summary>The window's squares added in channel order (c - Before first), as <see cref="WindowSum"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ShiftedWindow<TW>(Vector512<float> prev, Vector512<float> cur,
        Vector512<float> next) where TW : struct, ILrnWindow
    {
        int b = TW.Before, size = TW.Before + TW.After + 1;
        var s = Shifted(prev, cur, next, -b);
        if (size > 1) s += Shifted(prev, cur, next, 1 - b);
        if (size > 2) s += Shifted(prev, cur, next, 2 - b);
        if (size > 3) s += Shifted(prev, cur, next, 3 - b);
        if (size > 4) s += Shifted(prev, cur, next, 4 - b);
        if (size > 5) s += Shifted(prev, cur, next, 5 - b);
        if (size > 6) s += Shifted(prev, cur, next, 6 - b);
        if (size > 7) s += Shifted(prev, cur, next, 7 - b);
        if (size > 8) s += Shifted(prev, cur, next, 8 - b);
        return s;
    }

    /// <summary>A row's squares at <paramref name="buffer"/> + <paramref name="offset"/> (the last vector overlapped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSquares(ref T xr, ref T buffer, int offset, int lastColumn, int w)
    {
        for (int column = 0; ; column += w)
        {
            if (column > lastColumn) column = lastColumn;
            TS.Store(Square(TS.Load(ref xr, column)), ref buffer, offset + column);
            if (column == lastColumn) break;
        }
    }

    /// <summary>The sum of <paramref name="size"/> shifted vectors (<c>d[i + j ..]</c>, j = 0 .. size - 1), added in that order;
    /// unrolled for the window sizes the rows kernel takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV WindowSum(ref T d, nint i, int size)
    {
        TV s = TS.Load(ref d, i);
        if (size > 1) s = TS.Add(s, TS.Load(ref d, i + 1));
        if (size > 2) s = TS.Add(s, TS.Load(ref d, i + 2));
        if (size > 3) s = TS.Add(s, TS.Load(ref d, i + 3));
        if (size > 4) s = TS.Add(s, TS.Load(ref d, i + 4));
        if (size > 5) s = TS.Add(s, TS.Load(ref d, i + 5));
        if (size > 6) s = TS.Add(s, TS.Load(ref d, i + 6));
        if (size > 7) s = TS.Add(s, TS.Load(ref d, i + 7));
        if (size > 8) s = TS.Add(s, TS.Load(ref d, i + 8));
        for (int j = 9; j < size; j++) s = TS.Add(s, TS.Load(ref d, i + j));
        return s;
    }

    /// <summary>
    /// dx_j = dy_j * D_j^-beta - 2 alpha beta / size * x_j * (sum over c whose window holds j of dy_c * x_c * D_c^(-beta-1)),
    /// one vector column of positions at a time (the last overlapped), for positions [0, <paramref name="length"/>).
    /// <paramref name="scratch"/>: 2 * channels vectors (per channel D^-beta, then dy * x * D^(-beta-1)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardColumns<TW>(ref T x, ref T dy, ref T dx, int channels, int stride, int length, ref T scratch)
        where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        double ratio = RecomputeRatio;
        TV minusGradientScale = TS.Splat(Of(-TW.GradientScale));
        int lastColumn = length - w;
        for (int column = 0; ; column += w)
        {
            if (column > lastColumn) column = lastColumn;
            ref T xc = ref Unsafe.Add(ref x, column);
            ref T dyc = ref Unsafe.Add(ref dy, column);
            ref T dxc = ref Unsafe.Add(ref dx, column);
            // Pass 1, as Forward: D_c; keep D_c^-beta at scratch[2c] and dy_c * x_c * D_c^(-beta-1) at scratch[2c + 1] (vectors).
            TV lo = TS.Zero, hi = TS.Zero;
            double value = 0d;
            for (int j = 0; j < TW.After && j < channels; j++)
                TS.Accumulate(ref lo, ref hi, ref value, Square(TS.Load(ref xc, (nint)j * stride)));
            for (int c = 0; c < channels; c++)
            {
                Slide(ref lo, ref hi, ref value, c, TW.After, TW.Before, channels, ratio, ref xc, stride, 0, square: true);
                TV d = TS.NarrowMultiplyAdd(lo, hi, value, TW.Scale, TW.K);
                TV power = InversePower<TW>(d);
                nint at = (nint)c * stride;
                TS.Store(power, ref scratch, 2 * w * c);
                TS.Store(TS.Divide(TS.Multiply(TS.Multiply(TS.Load(ref dyc, at), TS.Load(ref xc, at)), power), d), ref scratch, 2 * w * c + w);
            }
            // Pass 2: channel j is in the windows of c in [j - After, j + Before]; start with [0, Before) so that step j adds j + Before.
            TV termsLo = TS.Zero, termsHi = TS.Zero;
            double termsValue = 0d;
            for (int c = 0; c < TW.Before && c < channels; c++)
                TS.Accumulate(ref termsLo, ref termsHi, ref termsValue, TS.Load(ref scratch, 2 * w * c + w));
            for (int j = 0; j < channels; j++)
            {
                Slide(ref termsLo, ref termsHi, ref termsValue, j, TW.Before, TW.After, channels, ratio, ref scratch, 2 * w, w, square: false);
                nint at = (nint)j * stride;
                TV direct = TS.Multiply(TS.Load(ref dyc, at), TS.Load(ref scratch, 2 * w * j));
                TS.Store(TS.MultiplyAdd(TS.Multiply(TS.Load(ref xc, at), minusGradientScale), TS.Narrow(termsLo, termsHi, termsValue), direct), ref dxc, at);
            }
            if (column == lastColumn) break;
        }
    }

    /// <summary>
    /// One slide step of a window sum (lo, hi, value; see ISimd), whose window is
    /// [center - behind, center + ahead]: adds the value at center + ahead when it is below channels, subtracts the one at
    /// center - behind - 1 when it is at least 0, and sums the window again when the guard asks (see the remarks). The
    /// value of channel r is <c>p[r * stride + offset]</c>, squared when <paramref name="square"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Slide(ref TV lo, ref TV hi, ref double value, int center, int ahead, int behind, int channels, double ratio,
        ref T p, nint stride, nint offset, bool square)
    {
        // Written so that nothing overflows for any Size: "center + ahead < channels" as "center < channels - ahead".
        bool enters = center < channels - ahead;
        TV entering = enters ? Value(ref p, center + ahead, stride, offset, square) : TS.Zero;
        TV leaving = center > behind ? Value(ref p, center - behind - 1, stride, offset, square) : TS.Zero;
        if (TS.Slide(ref lo, ref hi, ref value, entering, leaving, ratio))
        {
            lo = TS.Zero;
            hi = TS.Zero;
            value = 0d;
            int last = enters ? center + ahead : channels - 1;
            for (int r = center - behind; r <= last; r++)
                TS.Accumulate(ref lo, ref hi, ref value, Value(ref p, r, stride, offset, square));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Value(ref T p, int channel, nint stride, nint offset, bool square)
    {
        TV v = TS.Load(ref p, channel * stride + offset);
        return square ? Square(v) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Square(TV v) => TS.Multiply(v, v);

    /// <summary><c>d^-beta</c>: 1, 1 / sqrt(d), 1 / d for beta 0, 0.5, 1; for 0.75, with q = 1 / sqrt(d), q^2 / sqrt(q) on the
    /// 512-bit float path and q * sqrt(q) elsewhere; otherwise the path's power. <paramref name="atLeastK"/>: d is K plus
    /// alpha / n times a float sum of squares (<see cref="ThreeQuartersAboveK"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV InversePower<TW>(TV d, bool atLeastK = false) where TW : struct, ILrnWindow
    {
        TV one = TS.Splat(Of(1d));
        if (TW.Beta == 0) return one;
        if (TW.Beta == 0.5) return TS.InverseSqrt(d);
        if (TW.Beta == 1) return TS.Divide(one, d);
        if (TW.Beta == 0.75 && typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
            return Unsafe.BitCast<Vector512<float>, TV>(InverseThreeQuarters(Unsafe.BitCast<TV, Vector512<float>>(d)));
        if (TW.Beta == 0.75 && atLeastK && typeof(TV) == typeof(Vector256<float>) && Avx.IsSupported && (float)TW.K >= 1.17549435e-38f && (float)TW.Scale >= 0f)
            return Unsafe.BitCast<Vector256<float>, TV>(ThreeQuartersAboveK(Unsafe.BitCast<TV, Vector256<float>>(d)));
        if (TW.Beta == 0.75)
        {
            // D^-0.75 from q = D^-0.5, at least the smallest normal value, so D = +infinity (q = 0) gives zero (the product
            // underflows), as 1 / D^0.75 does, instead of 0 * infinity. Where the inverse square root is AVX-512's 14-bit
            // estimate and one Newton step (512-bit float lanes), a second one of q: q^2 * q^-0.5, no divider. Elsewhere the
            // estimate is 12 bits (256-bit; one Newton step, see V256.InverseSqrt) or it is a division and a square root
            // (128-bit, scalar, double), and q * sqrt(q) is cheaper: LocalResponseNorm(5) NHWC S1 at 1 thread on AMD Zen 5, in one process
            // alternating with the other form, 5.55 -> 3.05 ms on the 256-bit path, 7.4 -> 5.5 ms on the 128-bit one, 32.5 ->
            // 25.5 ms scalar (NCHW 7.4 -> 6.1 ms on the 256-bit path); on the 512-bit path q * sqrt(q) was slower there
            // (2.33-2.58 -> 2.74-3.02 ms), though a loop of the formula alone ran 13.2 -> 8.4 cycles per vector.
            TV q = TS.Max(TS.InverseSqrt(d), TS.Splat(typeof(T) == typeof(float) ? Of(1.1754943508222875e-38) : Of(2.2250738585072014e-308)));
            // (The same condition under which V512.InverseSqrt takes the estimate.)
            if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
                return TS.Multiply(TS.Multiply(q, q), TS.InverseSqrt(q));
            return TS.Multiply(q, TS.Sqrt(q));
        }
        return TS.Power(d, Of(-TW.Beta));
    }

    /// <summary>
    /// <c>d^-0.75</c> on 256-bit float lanes where the layer's K is a normal float and its alpha not negative and D is
    /// K + alpha / n * (a float sum of squares, never negative) (<paramref name="d"/> from
    /// <see cref="Normalized{TW}(TV, TV, TV, TV)"/>: the forward's strips, flat and row kernels; not the running sums in
    /// double of wide windows and the backward, whose subtractions can leave a sum a rounding below zero), so that D is at
    /// least K: the general form's operations (q = 1 / sqrt(D) as AVX's 12-bit estimate r and one Newton step,
    /// <see cref="V256{T}.InverseSqrtStep"/>, then q * sqrt(q)) without its guards. The general form checks the Newton step's result for
    /// NaN (D = 0 or +infinity make 0 * infinity there) and keeps the estimate instead, then raises q to the smallest
    /// normal float; with D at least K only +infinity can reach the product, and D clamped to the largest float in
    /// D * r alone makes that product 0 * (largest float) = 0, so q = 0 and the power 0, as the guards gave (the smallest
    /// normal's 1.5th power rounds to 0), while for finite D the clamp changes nothing and q is at least 5.4e-20 (1 /
    /// sqrt of the largest float), above the floor: the same bits for every D, NaN included (vminps returns its second
    /// operand, D). One minimum for a compare, a blend and a maximum: AMD EPYC Zen 3 (AVX2), 1 thread, LocalResponseNorm(5)
    /// 32x512x7x7, four process pairs alternating builds, every pair faster: NCHW 540-598 -> 497-523 us, NHWC 468-517 ->
    /// 427-448 us; 32x64x56x56 from memory even within the host's noise (NCHW 6.6-8.0 against 5.9-7.8 ms). Outputs
    /// bitwise equal to the general form's on both layouts and five shapes with x from 1e-25 to 1e25, zeros and the largest
    /// float (squares overflowing to a D of +infinity).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ThreeQuartersAboveK(Vector256<float> d)
    {
        Vector256<float> r = Avx.ReciprocalSqrt(d);
        Vector256<float> q = V256<float>.InverseSqrtStep(r, Avx.Min(Vector256.Create(float.MaxValue), d) * r);
        return q * Vector256.Sqrt(q);
    }

    /// <summary>
    /// <c>d^-0.75</c> on 512-bit float lanes from AVX-512's 14-bit estimates and one Newton step on the whole power: e0 =
    /// q * (q * r), q = rsqrt14(d), r = rsqrt14(q) (relative error about 2^-12.2: the three estimates'), then the Newton
    /// step for y^4 d^3 = 1, y = e0 (1.25 - z / 4) with z = (e0 d)^3 e0 (about 1; its error squares, so 2-4u against
    /// float64 where the two inverse square roots with a Newton step each took 4-6u). d = +infinity (the squares
    /// overflowed) gives zero, as x / D^0.75 does in float (PyTorch's result). Ten operations where the two inverse
    /// square roots took twenty (each with its estimate's guard): AMD Zen 5, 1 thread, LocalResponseNorm(5) S2 (32x512x7x7)
    /// NCHW 262 -> 221 us, NHWC 244 -> 200 us (one process alternating).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> InverseThreeQuarters(Vector512<float> d)
    {
        var q = Avx512F.ReciprocalSqrt14(d);
        // q * sqrt(q) rather than q^2 / sqrt(q): q^2 is subnormal for d above 8.5e37.
        var e0 = q * (q * Avx512F.ReciprocalSqrt14(q));
        var u = e0 * d;
        var z = u * u * u * e0;
        var y = e0 * Vector512.FusedMultiplyAdd(Vector512.Create(-0.25f), z, Vector512.Create(1.25f));
        return Vector512.ConditionalSelect(
            Vector512.Equals(d, Vector512.Create(float.PositiveInfinity)),
            Vector512<float>.Zero, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Of(double value)
    {
        if (typeof(T) == typeof(float))
        {
            float f = (float)value;
            return Unsafe.As<float, T>(ref f);
        }
        return Unsafe.As<double, T>(ref value);
    }
}

/// <summary>The channels-innermost layers' tiles: positions [first, first + width) copied to a [channels, width] tile and back.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LrnTiles
{
    /// <summary>Copies positions [first, first + width) of a channels-innermost tensor to a [channels, width] tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void Gather<T>(ref T source, ref T tile, int channels, int first, int width)
    {
        // Channel by channel: the tile is written in order, the source read across width rows that stay in L1.
        ref T start = ref Unsafe.Add(ref source, (nint)first * channels);
        for (int c = 0; c < channels; c++)
        {
            ref T tileRow = ref Unsafe.Add(ref tile, (nint)c * width);
            for (int p = 0; p < width; p++) Unsafe.Add(ref tileRow, p) = Unsafe.Add(ref start, (nint)p * channels + c);
        }
    }

    /// <summary>The inverse of <see cref="Gather"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void Scatter<T>(ref T tile, ref T destination, int channels, int first, int width)
    {
        ref T start = ref Unsafe.Add(ref destination, (nint)first * channels);
        for (int c = 0; c < channels; c++)
        {
            ref T tileRow = ref Unsafe.Add(ref tile, (nint)c * width);
            for (int p = 0; p < width; p++) Unsafe.Add(ref start, (nint)p * channels + c) = Unsafe.Add(ref tileRow, p);
        }
    }
}
