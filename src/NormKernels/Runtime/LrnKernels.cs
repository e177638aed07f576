using System;
using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace NormKernels.Runtime;

/// <summary>A LocalResponseNorm layer's constants: its window (<see cref="ILrnWindow"/>) and its layout.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILrnLayer : ILrnWindow
{
    /// <summary>The layout letters, outermost first; C is the normalized axis.</summary>
    static abstract string Layout { get; }
}

/// <summary>
/// Every LocalResponseNorm layer's kernels, over its window and layout (<typeparamref name="TWindow"/>, a struct type
/// argument: one specialized copy per layer and path): the argument checks, the path choice and the drivers. The tensor
/// is [outer, C, inner]. inner &gt; 1: planes are contiguous, cut into pieces of positions that slide across C
/// (<see cref="LrnRuns{TS, TV, T}.ForwardColumns"/>). inner == 1 (C innermost): ranges of positions, summed from a
/// zero-padded row of squares when C fills a vector and the window has at most <see cref="RowsMaxSize"/> channels, else
/// tiles transposed to [C, tile], run through the column kernels and transposed back. Units are fixed by the shape
/// (never by the thread count) and positions are independent, so the bits do not depend on the threads.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class LrnKernels<TWindow, T> where TWindow : struct, ILrnLayer where T : unmanaged
{
    /// <summary>Generated layers derive a nested class from this one to name it briefly; it has no instances.</summary>
    protected LrnKernels() { }

    /// <summary>Units wanted from a few planes (inner &gt; 1).</summary>
    private const int UnitsWanted = 16;

    /// <summary>Tiles per unit at least (inner == 1), so a range never runs short of one tile.</summary>
    private const int TilesPerUnit = 4;

    /// <summary>Positions per tile at most and at least.</summary>
    private const int TileWidth = 64, MinTile = 16;

    /// <summary>The rows kernel's largest window (its shifted loads are unrolled per window channel).</summary>
    public const int RowsMaxSize = 9;

    private static readonly string[] Names = NamesOf(TWindow.Layout);
    private static readonly string DimsText = string.Join(", ", Names);
    private static readonly int Channel = TWindow.Layout.IndexOf('C');

    private static string[] NamesOf(string layout)
    {
        var names = new string[layout.Length];
        for (int i = 0; i < layout.Length; i++) names[i] = char.ToLowerInvariant(layout[i]).ToString();
        return names;
    }

    private static void CheckDims(ReadOnlySpan<int> dims, int length, string name)
    {
        Checks.PositiveDims(dims, Names, TWindow.Layout);
        Checks.Length(length, Checks.Count(dims, Names, DimsText), name, DimsText);
    }

    /// <summary>[outer, C, inner] from checked dims.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static (int Outer, int Channels, int Inner) Extents(ReadOnlySpan<int> dims)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < Channel; i++) outer *= dims[i];
        for (int i = Channel + 1; i < dims.Length; i++) inner *= dims[i];
        return (outer, dims[Channel], inner);
    }

    /// <summary>The widest path whose vector fits the extent the column kernel vectorizes: inner, or the tile of positions when C is innermost.</summary>
    private static KernelPath ChoosePath(int outer, int inner) => Isa.Select<T>(inner == 1 ? Math.Min(outer, MinTile) : inner);

    /// <summary>Forward on caller-owned buffers (output must not overlap input). Returns the path that ran.</summary>
    public static KernelPath Forward(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims) =>
        AdvSimd.IsSupported
            ? Forward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, output, dims)
            : Forward<X86Vector128Ops>(KernelPath.None, input, output, dims);

    /// <summary>Forward with the 128-bit operations given and, unless <c>KernelPath.None</c>, a forced path.</summary>
    public static KernelPath Forward<TOps>(KernelPath path, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims) where TOps : struct, IVector128Ops
    {
        CheckDims(dims, input.Length, "input");
        CheckDims(dims, output.Length, "output");
        Checks.Disjoint(input, output, "output", "input");
        var (outer, channels, inner) = Extents(dims);
        LastCall.NotStreamed();   // its output is stored normally, whatever its size
        return ForwardCore<TOps>(Checks.Forced(path, ChoosePath(outer, inner)), input, output, outer, channels, inner);
    }

    /// <summary>Backward on caller-owned buffers: inputGrad (which must not overlap the inputs). Returns the path that ran.</summary>
    public static KernelPath Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims) =>
        AdvSimd.IsSupported
            ? Backward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, input, outputGrad, inputGrad, dims)
            : Backward<X86Vector128Ops>(KernelPath.None, input, outputGrad, inputGrad, dims);

    /// <summary>Backward with the 128-bit operations given and, unless <c>KernelPath.None</c>, a forced path.</summary>
    public static KernelPath Backward<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims)
        where TOps : struct, IVector128Ops
    {
        CheckDims(dims, input.Length, "input");
        CheckDims(dims, outputGrad.Length, "outputGrad");
        CheckDims(dims, inputGrad.Length, "inputGrad");
        Checks.Disjoint(input, inputGrad, "inputGrad", "input");
        Checks.Disjoint(outputGrad, inputGrad, "inputGrad", "outputGrad");
        var (outer, channels, inner) = Extents(dims);
        LastCall.NotStreamed();
        return BackwardCore<TOps>(Checks.Forced(path, ChoosePath(outer, inner)), input, outputGrad, inputGrad, outer, channels, inner);
    }

    /// <summary>Forward on tensors: dims from the input's lengths; the output of the same shape.</summary>
    public static KernelPath Forward(ReadOnlyTensorSpan<T> input, TensorSpan<T> output)
    {
        Span<int> dims = stackalloc int[TWindow.Layout.Length];
        ReadOnlySpan<T> inputSpan = TensorArgs.Dense(in input, TWindow.Layout, "input", dims);
        return Forward(inputSpan, TensorArgs.DenseLike(in output, TWindow.Layout, "output", dims), dims);
    }

    /// <summary>Backward on tensors: dims from the input's lengths; the gradients of the same shape.</summary>
    public static KernelPath Backward(ReadOnlyTensorSpan<T> input, ReadOnlyTensorSpan<T> outputGrad, TensorSpan<T> inputGrad)
    {
        Span<int> dims = stackalloc int[TWindow.Layout.Length];
        ReadOnlySpan<T> inputSpan = TensorArgs.Dense(in input, TWindow.Layout, "input", dims);
        return Backward(inputSpan, TensorArgs.DenseLike(in outputGrad, TWindow.Layout, "outputGrad", dims),
            TensorArgs.DenseLike(in inputGrad, TWindow.Layout, "inputGrad", dims), dims);
    }

    // ------------------------------------------------------------------ drivers

    /// <summary>inner &gt; 1: pieces per plane, so that a few planes still give several units; each piece at least one forward chunk long.</summary>
    private static int PiecesFor(int outer, int inner) => Math.Max(1, Math.Min(inner / LrnRuns<Scalar<T>, T, T>.ChunkWidth, (UnitsWanted + outer - 1) / outer));

    /// <summary>Positions a forward piece of a plane covers at most (more pieces where a plane is wider): its ring of squares
    /// (Size rows of it) then stays in L1. AMD Zen 5, S1 NCHW (planes of 3,136: whole, or four pieces of 784), one process
    /// alternating, three runs: 2 threads 3.13-3.23 -> 1.69-2.63 ms (whole planes at 2 threads took longer than at 1),
    /// 1 thread 3.35-3.57 -> 3.41-3.67 ms; the same tensor with N = 8 (in L3) 0.729 -> 0.654 ms at 1 thread, 0.442 -> 0.378
    /// at 2. The positions are independent, so the split does not change a bit.</summary>
    private const int ForwardPieceWidth = 1024;

    /// <summary>The forward's pieces per plane: <see cref="PiecesFor"/>, or more to keep each within <see cref="ForwardPieceWidth"/>.</summary>
    private static int ForwardPiecesFor(int outer, int inner) =>
        Math.Max(1, Math.Min(inner / LrnRuns<Scalar<T>, T, T>.ChunkWidth, Math.Max((UnitsWanted + outer - 1) / outer, (int)(((long)inner + ForwardPieceWidth - 1) / ForwardPieceWidth))));

    /// <summary>inner == 1: ranges of positions, each at least <see cref="TilesPerUnit"/> tiles long.</summary>
    private static int RangesFor(int outer, int tile) => Math.Max(1, outer / (TilesPerUnit * tile));

    /// <summary>Positions per tile: up to 64, fewer for many channels so that a [channels, tile] tile stays within 32 KB; at least 16.</summary>
    private static int TileFor(int channels) => Math.Max(MinTile, Math.Min(TileWidth, 8192 / MinTile / channels * MinTile));

    /// <summary>Elements per vector of a path (the rows kernel needs at least one vector of channels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowWidth(KernelPath path) => path switch
    {
        KernelPath.Vector512 => Vector512<T>.Count,
        KernelPath.Vector256 => Vector256<T>.Count,
        KernelPath.Vector128 => Vector128<T>.Count,
        _ => 1,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static KernelPath ForwardCore<TOps>(KernelPath path, ReadOnlySpan<T> input, Span<T> output, int outer, int channels, int inner) where TOps : struct, IVector128Ops
    {
        int size = TWindow.Before + 1 + TWindow.After;
        if (inner > 1 && Flat(path, inner))
        {
            // Each sample's flat positions in parts (LrnRuns.ForwardFlat): as many as the columns' pieces, each at least a
            // vector; they read the window straight from x, so a part needs no ring.
            long length = (long)channels * inner;
            int parts = (int)Math.Max(1, Math.Min(ForwardPiecesFor(outer, inner), length / 16));
            int flatWorkers = Parallelism.Workers(input.Length, outer * parts);
            WorkerScratch<T> pads = WorkerScratch<T>.Rent(flatWorkers, 0, FlatScratch(path, inner));
            try
            {
                ParallelUnits.For(outer * parts, flatWorkers, new ForwardUnit<TOps>(path, channels, inner, parts, -2, pads.Elements, false),
                    input, output, default, default, default, default);
            }
            finally
            {
                pads.Return();
            }
            return path;
        }
        if (inner > 1)
        {
            int pieces = ForwardPiecesFor(outer, inner);
            int units = outer * pieces;
            int columnWorkers = Parallelism.Workers(input.Length, units);
            // Pieces the strips take need no ring (every piece is at least inner / pieces positions long).
            WorkerScratch<T> rings = WorkerScratch<T>.Rent(columnWorkers, 0, Strips(path, inner / pieces) ? 0 : RingLength(path, size, inner));
            try
            {
                // A call too large to stay in cache reads each entering row from memory: hint the next one (LrnRuns.ForwardColumns).
                bool ahead = Streaming.Exceeds((long)input.Length * Unsafe.SizeOf<T>(), (long)output.Length * Unsafe.SizeOf<T>());
                ParallelUnits.For(units, columnWorkers, new ForwardUnit<TOps>(path, channels, inner, pieces, -1, rings.Elements, ahead),
                    input, output, default, default, default, default);
            }
            finally
            {
                rings.Return();
            }
            return path;
        }
        int tile = Math.Min(TileFor(channels), outer);
        int ranges = RangesFor(outer, tile);
        int workers = Parallelism.Workers(input.Length, ranges);
        // Rows: at least one vector of channels, the window summed directly from zero-padded rows of squares (SquareRows of Before + channels + After elements).
        bool rows = size <= RowsMaxSize && channels >= RowWidth(path);
        int scratchLength = rows ? LrnRuns<Scalar<T>, T, T>.SquareRows * (channels + TWindow.Before + TWindow.After) : 2 * channels * tile + RingLength(path, size, tile);
        WorkerScratch<T> workerScratch = WorkerScratch<T>.Rent(workers, 0, scratchLength);
        T[][] scratch = workerScratch.Elements;
        try
        {
            ParallelUnits.For(ranges, workers, new ForwardUnit<TOps>(path, channels, outer, ranges, rows ? 0 : tile, scratch, false), input, output, default, default, default, default);
        }
        finally
        {
            workerScratch.Return();
        }
        return path;
    }

    /// <summary>(channels, extent, parts, tile, scratch, ahead): inner &gt; 1: extent = inner, parts = pieces per plane,
    /// scratch the rings, ahead: the columns hint the next entering row (tile -1), or parts per sample and the edges' copies
    /// (tile -2: the flat kernel); inner == 1: extent = outer, parts = ranges, tile 0 for the rows kernel.</summary>
    private readonly struct ForwardUnit<TOps>(KernelPath path, int channels, int extent, int parts, int tile, T[][]? scratch, bool ahead) : IParallelBody
        where TOps : struct, IVector128Ops
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T y = ref ParallelUnits.At<T>(spans.S1);
            T[] mine = scratch![worker];
            if (tile == -2)
            {
                // Part p of sample o's flat positions (LrnRuns.ForwardFlat).
                int inner = extent, o = unit / parts, p = unit % parts;
                long length = (long)channels * inner;
                nint from = (nint)(length * p / parts), to = (nint)(length * (p + 1) / parts);
                nint at = (nint)((long)o * length);
                ForwardFlat<TOps>(path, ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref y, at), (nint)length, inner, from, to, ref MemoryMarshal.GetArrayDataReference(mine));
                return;
            }
            if (tile < 0)
            {
                // Piece p of plane o: positions [from, to) of channel c at (o * channels + c) * inner + from.
                int inner = extent, o = unit / parts, p = unit % parts;
                int from = (int)((long)inner * p / parts), to = (int)((long)inner * (p + 1) / parts);
                nint at = (nint)o * channels * inner + from;
                ForwardColumns<TOps>(path, ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref y, at), channels, inner, to - from,
                    ref MemoryMarshal.GetArrayDataReference(mine), mine.Length, ahead);
                return;
            }
            // C innermost: positions [begin, end).
            int begin = (int)((long)extent * unit / parts), end = (int)((long)extent * (unit + 1) / parts);
            if (tile == 0)
            {
                ForwardRows<TOps>(path, ref Unsafe.Add(ref x, (nint)begin * channels), ref Unsafe.Add(ref y, (nint)begin * channels), channels, end - begin,
                    ref MemoryMarshal.GetArrayDataReference(scratch[worker]));
                return;
            }
            // Tiles transposed to [C, tile], run through the columns, transposed back. The last tile overlaps its neighbour.
            ref T tileX = ref MemoryMarshal.GetArrayDataReference(scratch[worker]);
            ref T tileY = ref Unsafe.Add(ref tileX, channels * tile);
            for (int first = begin; ; first += tile)
            {
                if (first > end - tile) first = end - tile;
                LrnTiles.Gather(ref x, ref tileX, channels, first, tile);
                ForwardColumns<TOps>(path, ref tileX, ref tileY, channels, tile, tile, ref Unsafe.Add(ref tileY, channels * tile), mine.Length - 2 * channels * tile, false);
                LrnTiles.Scatter(ref tileY, ref y, channels, first, tile);
                if (first == end - tile) break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static KernelPath BackwardCore<TOps>(KernelPath path, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, int outer, int channels, int inner)
        where TOps : struct, IVector128Ops
    {
        // Per worker: per column, D^-beta and dy * x * D^(-beta-1) of every channel (2 * channels vectors of at most 16 lanes), then (C innermost) three tiles.
        int columnScratch = 2 * channels * 16;
        int tile = inner > 1 ? 0 : Math.Min(TileFor(channels), outer);
        int parts = inner > 1 ? PiecesFor(outer, inner) : RangesFor(outer, tile);
        int units = inner > 1 ? outer * parts : parts;
        int workers = Parallelism.Workers(input.Length, units);
        WorkerScratch<T> workerScratch = WorkerScratch<T>.Rent(workers, 0, columnScratch + 3 * channels * tile);
        T[][] scratch = workerScratch.Elements;
        try
        {
            ParallelUnits.For(units, workers, new BackwardUnit<TOps>(path, channels, inner > 1 ? inner : outer, parts, tile, scratch),
                input, inputGrad, outputGrad, default, default, default);
        }
        finally
        {
            workerScratch.Return();
        }
        return path;
    }

    private readonly struct BackwardUnit<TOps>(KernelPath path, int channels, int extent, int parts, int tile, T[][] scratch) : IParallelBody
        where TOps : struct, IVector128Ops
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T dx = ref ParallelUnits.At<T>(spans.S1);
            ref T dy = ref ParallelUnits.At<T>(spans.S2);
            ref T columns = ref MemoryMarshal.GetArrayDataReference(scratch[worker]);
            if (tile == 0)
            {
                int inner = extent, o = unit / parts, p = unit % parts;
                int from = (int)((long)inner * p / parts), to = (int)((long)inner * (p + 1) / parts);
                nint at = (nint)o * channels * inner + from;
                BackwardColumns<TOps>(path, ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref dy, at), ref Unsafe.Add(ref dx, at), channels, inner, to - from, ref columns);
                return;
            }
            int begin = (int)((long)extent * unit / parts), end = (int)((long)extent * (unit + 1) / parts);
            ref T tileX = ref Unsafe.Add(ref columns, 2 * channels * 16);
            ref T tileDy = ref Unsafe.Add(ref tileX, channels * tile);
            ref T tileDx = ref Unsafe.Add(ref tileDy, channels * tile);
            for (int first = begin; ; first += tile)
            {
                if (first > end - tile) first = end - tile;
                LrnTiles.Gather(ref x, ref tileX, channels, first, tile);
                LrnTiles.Gather(ref dy, ref tileDy, channels, first, tile);
                BackwardColumns<TOps>(path, ref tileX, ref tileDy, ref tileDx, channels, tile, tile, ref columns);
                LrnTiles.Scatter(ref tileDx, ref dx, channels, first, tile);
                if (first == end - tile) break;
            }
        }
    }

    // The path switch, once per unit: every type argument a struct, so each path gets its own copy of the runs.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows<TOps>(KernelPath path, ref T x, ref T y, int channels, int count, ref T squares) where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: LrnRuns<V512<T>, Vector512<T>, T>.ForwardRows<TWindow>(ref x, ref y, channels, count, ref squares); break;
            case KernelPath.Vector256: LrnRuns<V256<T>, Vector256<T>, T>.ForwardRows<TWindow>(ref x, ref y, channels, count, ref squares); break;
            case KernelPath.Vector128: LrnRuns<V128<T, TOps>, Vector128<T>, T>.ForwardRows<TWindow>(ref x, ref y, channels, count, ref squares); break;
            default: LrnRuns<Scalar<T>, T, T>.ForwardRows<TWindow>(ref x, ref y, channels, count, ref squares); break;
        }
    }

    /// <summary>Whether planes of <paramref name="inner"/> positions (inner &gt; 1) on <paramref name="path"/> take the flat
    /// kernel (<see cref="LrnRuns{TS, TV, T}.ForwardFlat"/>): windows of the strips' sizes on planes too short for them
    /// (shorter than two vectors: 16 to 31 positions on the 512-bit path).</summary>
    private static bool Flat(KernelPath path, int inner) =>
        TWindow.Before + TWindow.After + 1 <= LrnRuns<Scalar<T>, T, T>.StripMaxSize && !Strips(path, inner);

    /// <summary>Whether runs of <paramref name="length"/> positions take the strips (<see cref="LrnRuns{TS, TV, T}.ForwardStrips"/>)
    /// on <paramref name="path"/>: windows of up to <see cref="LrnRuns{TS, TV, T}.StripMaxSize"/> channels, runs of two vectors
    /// at least.
    /// <para>On every path (AMD Zen 5, 1 thread, against the flat kernel for the small planes and the columns' ring for S1):
    /// AVX2 7x7 436 -> 453 us, 14x14 874 -> 750 us, S1 (56x56) 4.54 -> 2.95 ms; 128-bit 7x7 770 -> 748 us, 14x14 1.39 -> 1.34
    /// ms, S1 8.15 -> 5.50 ms; scalar 7x7 even, 14x14 5.68 -> 5.85 ms, S1 33.0 -> 24.2 ms.</para></summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Strips(KernelPath path, int length) =>
        TWindow.Before + TWindow.After + 1 <= LrnRuns<Scalar<T>, T, T>.StripMaxSize && length >= 2 * RowWidth(path);

    private static int FlatScratch(KernelPath path, int inner) => path switch
    {
        KernelPath.Vector512 => LrnRuns<V512<T>, Vector512<T>, T>.FlatScratch<TWindow>(inner),
        KernelPath.Vector256 => LrnRuns<V256<T>, Vector256<T>, T>.FlatScratch<TWindow>(inner),
        KernelPath.Vector128 => LrnRuns<V128<T, X86Vector128Ops>, Vector128<T>, T>.FlatScratch<TWindow>(inner),
        _ => LrnRuns<Scalar<T>, T, T>.FlatScratch<TWindow>(inner),
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardFlat<TOps>(KernelPath path, ref T x, ref T y, nint length, int inner, nint from, nint to, ref T pad)
        where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: LrnRuns<V512<T>, Vector512<T>, T>.ForwardFlat<TWindow>(ref x, ref y, length, inner, from, to, ref pad); break;
            case KernelPath.Vector256: LrnRuns<V256<T>, Vector256<T>, T>.ForwardFlat<TWindow>(ref x, ref y, length, inner, from, to, ref pad); break;
            case KernelPath.Vector128: LrnRuns<V128<T, TOps>, Vector128<T>, T>.ForwardFlat<TWindow>(ref x, ref y, length, inner, from, to, ref pad); break;
            default: LrnRuns<Scalar<T>, T, T>.ForwardFlat<TWindow>(ref x, ref y, length, inner, from, to, ref pad); break;
        }
    }

    /// <summary>The ring of squares the columns kernel of <paramref name="path"/> takes for runs of <paramref name="length"/> positions.</summary>
    private static int RingLength(KernelPath path, int size, int length) => path switch
    {
        KernelPath.Vector512 => LrnRuns<V512<T>, Vector512<T>, T>.RingLength(size, length),
        KernelPath.Vector256 => LrnRuns<V256<T>, Vector256<T>, T>.RingLength(size, length),
        KernelPath.Vector128 => LrnRuns<V128<T, X86Vector128Ops>, Vector128<T>, T>.RingLength(size, length),
        _ => LrnRuns<Scalar<T>, T, T>.RingLength(size, length),
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardColumns<TOps>(KernelPath path, ref T x, ref T y, int channels, int stride, int length, ref T ring, int ringLength, bool ahead)
        where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512:
                if (Strips(path, length)) LrnRuns<V512<T>, Vector512<T>, T>.ForwardStrips<TWindow>(ref x, ref y, channels, stride, length, ahead);
                else LrnRuns<V512<T>, Vector512<T>, T>.ForwardColumns<TWindow>(ref x, ref y, channels, stride, length, ref ring, ringLength, ahead);
                break;
            case KernelPath.Vector256:
                if (Strips(path, length)) LrnRuns<V256<T>, Vector256<T>, T>.ForwardStrips<TWindow>(ref x, ref y, channels, stride, length, ahead);
                else LrnRuns<V256<T>, Vector256<T>, T>.ForwardColumns<TWindow>(ref x, ref y, channels, stride, length, ref ring, ringLength, ahead);
                break;
            case KernelPath.Vector128:
                if (Strips(path, length)) LrnRuns<V128<T, TOps>, Vector128<T>, T>.ForwardStrips<TWindow>(ref x, ref y, channels, stride, length, ahead);
                else LrnRuns<V128<T, TOps>, Vector128<T>, T>.ForwardColumns<TWindow>(ref x, ref y, channels, stride, length, ref ring, ringLength, ahead);
                break;
            default:
                if (Strips(path, length)) LrnRuns<Scalar<T>, T, T>.ForwardStrips<TWindow>(ref x, ref y, channels, stride, length, ahead);
                else LrnRuns<Scalar<T>, T, T>.ForwardColumns<TWindow>(ref x, ref y, channels, stride, length, ref ring, ringLength, ahead);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardColumns<TOps>(KernelPath path, ref T x, ref T dy, ref T dx, int channels, int stride, int length, ref T scratch) where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: LrnRuns<V512<T>, Vector512<T>, T>.BackwardColumns<TWindow>(ref x, ref dy, ref dx, channels, stride, length, ref scratch); break;
            case KernelPath.Vector256: LrnRuns<V256<T>, Vector256<T>, T>.BackwardColumns<TWindow>(ref x, ref dy, ref dx, channels, stride, length, ref scratch); break;
            case KernelPath.Vector128: LrnRuns<V128<T, TOps>, Vector128<T>, T>.BackwardColumns<TWindow>(ref x, ref dy, ref dx, channels, stride, length, ref scratch); break;
            default: LrnRuns<Scalar<T>, T, T>.BackwardColumns<TWindow>(ref x, ref dy, ref dx, channels, stride, length, ref scratch); break;
        }
    }
}
