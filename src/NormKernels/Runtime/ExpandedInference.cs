using System;
using System.Buffers;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace NormKernels.Runtime;

/// <summary>
/// Inference with running statistics when the runs between coefficient changes are short: a layer whose one kept axis K
/// carries the statistics and parameters (<see cref="HalfAffine.KeptAxis"/>: BatchNorm in eval mode, no epilogue) and whose
/// extent inside K is under <see cref="ShortRun"/> elements (ResNet's 7x7 planes: the loop nest's apply is one 49-element
/// run per (n, c), each with its partial last vector). The tensor is [outer, K, inner]; the coefficients A, B, C are folded
/// per k exactly as the loop nest's inference folds them (<c>y = (x - C) * A + B</c>, C the mean rounded to the element
/// type, in double), expanded along K x inner (repeated to runs of about <see cref="RunElements"/>), and applied with the
/// shared run <see cref="Runs{TS, TV, T}.Apply{TK, TW, TA}"/> with coefficients loaded along the run: the same bits as the
/// loop nest, without the per-plane tails. Where the period is long and its runs are lane rows (<see cref="ChannelRuns"/>),
/// or the runs are long (<see cref="LongRuns"/>), the runs go in memory order with their channel's coefficients broadcast
/// instead (<see cref="RunChannels"/>), the same bits again.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ExpandedInference<TK, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Inner extents from this many elements on are long runs (<see cref="LongRuns"/>), applied one by one.</summary>
    public const int ShortRun = 64;

    /// <summary>Most elements of K x inner expanded (three coefficient arrays of this many elements).</summary>
    private const int ExpandedLimit = 1 << 16;

    /// <summary>Elements of expanded coefficients a run reads: at most about this many, so that they stay in L1 (3 x 4 KB
    /// for float) while the run's data streams past. A period (K x inner) up to this long is repeated to runs of whole
    /// periods; a longer one is cut into blocks of channels, each applied to every outer index in turn.</summary>
    private const long RunElements = 1024;

    /// <summary>Elements of K x inner per block of channels, for periods longer than <see cref="RunElements"/>: each block is
    /// a unit (its statistics, then its apply from L2, over every outer index). Twice <see cref="RunElements"/>: the training
    /// forward's and the backward's sums read each outer index's run of the block, 32 runs of about 4 KB at 1024 (BatchNorm
    /// NCHW 32 x 512 x 7 x 7, 21 channels a block) and 8 KB at 2048 (42). AMD Zen 5, 1 thread, one process alternating, both
    /// orders: training 109.6-110.6 -> 105.5-106.2 us (1536: 107.9, 3072: 108-110), backward 1-2% faster (it now takes
    /// half this, ExpandedBackward's BlockElements), inference even
    /// (its blocks are only applied), 2 threads even. A block of x and dy at 2048 is 0.5 MB, in L2 for the apply.</summary>
    private const long BlockElements = 2048;

    /// <summary>Elements per parallel unit.</summary>
    private const long UnitElements = 1 << 16;

    /// <summary>Whether an inference call on <paramref name="dims"/> takes this path on <paramref name="path"/>: the layer's
    /// kind has no epilogue, its one kept axis carries statistics and parameters, and either the extent inside it is short
    /// (<see cref="ShortPeriod"/>) or it is 1 (channels last) with K wider than the coefficient vectors the loop nest's
    /// <see cref="Runs{TS, TV, T}.ApplyRows{TK, TW}"/> keeps in registers, on a call that does not stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Applies(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        if (TK.Epilogue || TK.AddsResidual || !shape.RunningStatistics || HalfAffine.OneKeptAxis(shape) < 0) return false;
        if (ShortPeriod(shape, dims, path) || LongRuns(shape, dims, path)) return true;
        // Channels last (inner 1) with K wider than the vectors the loop nest's ApplyRows keeps in registers, on a call that
        // does not stream: the expanded runs were faster (NHWC S3, C = 256: 1.76x -> 1.35-1.43x the limit at 1 thread,
        // 2.25x -> 1.52x at 2; S2, C = 512: about even). Streamed, the nest's one flat range peels once where each run
        // here would (AVX2 NHWC S1, C = 64: 1.04-1.10x -> 1.31-1.39x), and with K in registers it is faster anyway.
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        long bytes = 2 * outer * kept * Unsafe.SizeOf<T>();
        return outer > 0 && inner == 1 && kept > Runs<Scalar<T>, T, T>.Unroll * LaneCount(path) && kept <= ExpandedLimit && bytes <= Streaming.ThresholdBytes;
    }

    /// <summary>Inner extent 2 to <see cref="ShortRun"/> - 1, K x inner at most <see cref="ExpandedLimit"/> and at least one
    /// vector of <paramref name="path"/> (the caller checked <see cref="HalfAffine.OneKeptAxis"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool ShortPeriod(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        long period = kept * inner;
        return outer > 0 && inner > 1 && inner < ShortRun && period <= ExpandedLimit && period >= LaneCount(path);
    }

    /// <summary>Channel <paramref name="k"/>'s coefficients, as Forward's RunningTerms and Coefficients fold them: C = the mean
    /// rounded to T, A = gamma * rstd, B = beta - (mean - C) * A, in double (uncentered kinds: no mean); no affine when
    /// <paramref name="affine"/> is false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ChannelCoefficients(int k, bool affine, double eps, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean,
        ReadOnlySpan<T> variance, out T a, out T b, out T c)
    {
        double m = TK.Centered ? double.CreateTruncating(mean[k]) : 0d;
        c = TK.Centered ? T.CreateTruncating(m) : T.Zero;
        double g = affine ? double.CreateTruncating(weight[k]) : 1d, h = affine ? double.CreateTruncating(bias[k]) : 0d;
        double ak = g * Statistics.InverseStd(double.CreateTruncating(variance[k]), eps);
        a = T.CreateTruncating(ak);
        b = T.CreateTruncating(h - (m - double.CreateTruncating(c)) * ak);
    }

    /// <summary><paramref name="n"/> copies of <paramref name="value"/> at <paramref name="p"/>, inlined into the (optimized)
    /// caller: a process that sees one CPU runs <c>Span.Fill</c>'s generic copy unoptimized for seconds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Fill(ref T p, nint n, T value)
    {
        nint i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var v = new Vector<T>(value);
            for (; i + Vector<T>.Count <= n; i += Vector<T>.Count) v.StoreUnsafe(ref p, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref p, i) = value;
    }

    internal static int LaneCount(KernelPath path) => path switch
    {
        KernelPath.Vector512 => Vector512<T>.Count,
        KernelPath.Vector256 => Vector256<T>.Count,
        KernelPath.Vector128 => Vector128<T>.Count,
        _ => 1,
    };

    /// <summary>Runs the call (the caller checked every argument and <see cref="Applies"/>) on <paramref name="path"/>;
    /// returns it. An empty <paramref name="weight"/> and <paramref name="bias"/> mean no affine.</summary>
    public static KernelPath Run(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) =>
        AdvSimd.IsSupported
            ? Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, shape, dims, input, output, weight, bias, mean, variance, epsilon)
            : Run<X86Vector128Ops>(path, shape, dims, input, output, weight, bias, mean, variance, epsilon);

    /// <summary><see cref="Run(KernelPath, LayerShape, ReadOnlySpan{int}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T)"/>
    /// with the 128-bit path's operations given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe KernelPath Run<TOps>(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) where TOps : struct, IVector128Ops
    {
        bool stream = Streaming.Use((long)input.Length * Unsafe.SizeOf<T>(), (long)output.Length * Unsafe.SizeOf<T>(), LaneCount(path) > 1 && !input.Overlaps(output));
        if (LongRuns(shape, dims, path) || (!stream && ChannelRuns(shape, dims, path)))
        {
            RunChannels(path, stream, shape, dims, input, output, weight, bias, mean, variance, epsilon);
            return path;
        }
        // Unstreamed, the runs start at the input's 64-byte boundaries (see AlignedPlan); streamed, the stores' peel decides.
        var plan = stream ? PlanFor(shape, dims, input.Length) : AlignedPlan(shape, dims, input, LaneCount(path));
        int kept = plan.Kept, length = plan.Length; // blocks: one period; short periods: `repeat` of them
        long inner = plan.Inner, period = kept * inner;
        // Each coefficient array: element j the coefficient of the tensor's element j (j < Head + Length), from a 64-byte
        // boundary at j = Head (where the aligned runs start), so that the runs load it aligned too.
        int lane = 64 / Unsafe.SizeOf<T>(), stride = (length + 2 * lane + lane - 1) / lane * lane;
        T[] rented = ArrayPool<T>.Shared.Rent(3 * stride + lane);
        try
        {
            fixed (T* pinned = rented)
            {
                T* at0 = (T*)(((nint)pinned + 63) & ~(nint)63) + lane - (nint)plan.Head;
                nint filled = (nint)plan.Head + length;
                Span<T> a = new(at0, (int)filled), b = new(at0 + stride, (int)filled), c = new(at0 + 2 * stride, (int)filled);
                bool affine = shape.Affine != AffineMode.None && !weight.IsEmpty;
                double eps = double.CreateTruncating(epsilon);
                for (int k = 0; k < kept; k++)
                {
                    ChannelCoefficients(k, affine, eps, weight, bias, mean, variance, out T ak, out T bk, out T ck);
                    // The first period (filled is at least one: Head + Length, Length whole periods).
                    nint o = (nint)(k * inner);
                    Fill(ref Unsafe.Add(ref MemoryMarshal.GetReference(a), o), (nint)inner, ak);
                    Fill(ref Unsafe.Add(ref MemoryMarshal.GetReference(b), o), (nint)inner, bk);
                    Fill(ref Unsafe.Add(ref MemoryMarshal.GetReference(c), o), (nint)inner, ck);
                }
                for (nint r = (nint)period; r < filled; r += (nint)period)
                {
                    int n = (int)Math.Min(period, filled - r);
                    a[..n].CopyTo(a.Slice((int)r));
                    b[..n].CopyTo(b.Slice((int)r));
                    c[..n].CopyTo(c.Slice((int)r));
                }
                int units = (int)Math.Min(int.MaxValue, (plan.Runs + plan.PerUnit - 1) / plan.PerUnit);
                int workers = Parallelism.Workers(input.Length, units);
                ReadOnlySpan<T> ra = a, rb = b;
                switch (path)
                {
                    case KernelPath.Vector512: Go<V512<T>, Vector512<T>>(stream, units, workers, plan, input, output, ra, rb, c); break;
                    case KernelPath.Vector256: Go<V256<T>, Vector256<T>>(stream, units, workers, plan, input, output, ra, rb, c); break;
                    case KernelPath.Vector128: Go<V128<T, TOps>, Vector128<T>>(stream, units, workers, plan, input, output, ra, rb, c); break;
                    default: Go<Scalar<T>, T>(stream, units, workers, plan, input, output, ra, rb, c); break;
                }
            }
            return path;
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Whether an unstreamed call applies its (outer, k) runs one by one with k's coefficients broadcast
    /// (<see cref="RunChannels"/>) instead of expanding them: a period longer than <see cref="RunElements"/> (the expanded
    /// plan's blocks of channels) whose inner extent is a lane row of <paramref name="path"/>
    /// (<see cref="Runs{TS, TV, T}.LaneRows"/>: one vector up to 63 floats, 512- or 256-bit). BatchNorm inference NCHW
    /// on 32x512x7x7 (AMD Zen 5, harness, 1 and 2 threads): the expanded blocks took 115-125 and 134-147 us, 8% of it
    /// filling the three expanded arrays (300 KB) on the calling thread, and 2 threads ran slower than 1 (each run
    /// of a block 4 KB, the next 100 KB on); the runs in memory order with broadcast coefficients: 83-93 and 55-74 us.
    /// </summary>
    public static bool ChannelRuns(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        HalfAffine.Split(shape, dims, out _, out int kept, out long inner);
        if ((long)kept * inner <= RunElements || inner >= Runs<V512<T>, Vector512<T>, T>.LaneRowLimit) return false;
        return path switch
        {
            KernelPath.Vector512 => Runs<V512<T>, Vector512<T>, T>.LaneRows((nint)inner),
            KernelPath.Vector256 => Runs<V256<T>, Vector256<T>, T>.LaneRows((nint)inner),
            _ => false,
        };
    }

    /// <summary>
    /// Whether the call's (outer, k) runs are long (inner extent from <see cref="ShortRun"/> elements on: BatchNorm NCHW's
    /// planes of 8x8 and more) on the 512- or 256-bit path: then <see cref="RunChannels"/> applies them in memory order,
    /// streamed or not, instead of the loop nest's units (a group of channels, each over every outer index: runs 800 KB
    /// apart on 32x64x56x56). BatchNorm inference NCHW, 1 thread, AMD Zen 5, harness alternating the two in one process:
    /// 32x64x56x56 (streamed) 1.03-1.14 -> 0.90-0.97 ms, 2 threads 0.62-0.69 -> 0.53-0.58 ms; 2x256x64x64 (in L3) 181-192
    /// -> 178-187 us. One outer index keeps the loop nest (and the row plans' lane for small calls): its planes are in memory
    /// order there already (1x2048x56x56: 2% slower here, the coefficients made on the calling thread).
    /// </summary>
    public static bool LongRuns(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        HalfAffine.Split(shape, dims, out long outer, out _, out long inner);
        return outer > 1 && inner >= ShortRun && (path == KernelPath.Vector512 || path == KernelPath.Vector256);
    }

    /// <summary>Runs per unit of <see cref="RunChannels"/>: about this many elements.</summary>
    private const long ChannelUnitElements = 1 << 14;

    /// <summary>
    /// The call as [outer, K, inner] runs of inner elements in memory order, each applied with its channel's coefficients
    /// broadcast (<see cref="Runs{TS, TV, T}.ShortRuns{TK}"/>: the same <c>(x - C) * A + B</c> per element, with A, B, C
    /// folded per channel as <see cref="Run{TOps}"/> folds them, so the same bits as the expanded runs and the loop nest).
    /// Long runs (<see cref="LongRuns"/>) each take the shared run (<see cref="Runs{TS, TV, T}.Apply{TK, TW, TA}"/>, a, b, c
    /// broadcast), streamed when <paramref name="stream"/>; short ones (<see cref="ChannelRuns"/>, never streamed) go row by row.
    /// A unit is a range of about <see cref="ChannelUnitElements"/> elements of whole runs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunChannels(KernelPath path, bool stream, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon)
    {
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        T[] rented = ArrayPool<T>.Shared.Rent(3 * kept);
        try
        {
            Span<T> a = rented.AsSpan(0, kept), b = rented.AsSpan(kept, kept), c = rented.AsSpan(2 * kept, kept);
            bool affine = shape.Affine != AffineMode.None && !weight.IsEmpty;
            double eps = double.CreateTruncating(epsilon);
            for (int k = 0; k < kept; k++)
                ChannelCoefficients(k, affine, eps, weight, bias, mean, variance, out a[k], out b[k], out c[k]);
            long runs = outer * kept, perUnit = Math.Max(1, ChannelUnitElements / inner);
            int units = (int)((runs + perUnit - 1) / perUnit);
            int workers = Parallelism.Workers(input.Length, units);
            var spans = new ChannelSpans(kept, (nint)inner, runs, perUnit);
            if (stream)
            {
                if (path == KernelPath.Vector512)
                    ParallelUnits.For(units, workers, new ChannelBody<V512<T>, Vector512<T>, StreamedStores>(spans), input, output, a, b, c, default);
                else
                    ParallelUnits.For(units, workers, new ChannelBody<V256<T>, Vector256<T>, StreamedStores>(spans), input, output, a, b, c, default);
            }
            else if (path == KernelPath.Vector512)
                ParallelUnits.For(units, workers, new ChannelBody<V512<T>, Vector512<T>, CachedStores>(spans), input, output, a, b, c, default);
            else
                ParallelUnits.For(units, workers, new ChannelBody<V256<T>, Vector256<T>, CachedStores>(spans), input, output, a, b, c, default);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>The geometry of <see cref="RunChannels"/>: K, the run length, the runs and the runs per unit.</summary>
    private readonly record struct ChannelSpans(int Kept, nint Inner, long Runs, long PerUnit);

    private readonly struct ChannelBody<TS, TV, TW>(ChannelSpans geometry) : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref T x = ref ParallelUnits.At<T>(spans.S0), y = ref ParallelUnits.At<T>(spans.S1);
            ref T a = ref ParallelUnits.At<T>(spans.S2), b = ref ParallelUnits.At<T>(spans.S3), c = ref ParallelUnits.At<T>(spans.S4);
            long r = unit * geometry.PerUnit, end = Math.Min(geometry.Runs, r + geometry.PerUnit);
            while (r < end)
            {
                // The runs of one outer index from channel k on: consecutive in memory, one coefficient set each.
                int k = (int)(r % geometry.Kept);
                nint count = (nint)Math.Min(geometry.Kept - k, end - r), o = (nint)r * geometry.Inner;
                if (geometry.Inner >= Runs<TS, TV, T>.LaneRowLimit)
                {
                    for (nint j = 0; j < count; j++)
                        Runs<TS, TV, T>.Apply<TK, TW, Splat>(ref Unsafe.Add(ref x, o + j * geometry.Inner), ref Unsafe.Add(ref y, o + j * geometry.Inner), geometry.Inner,
                            ref Unsafe.Add(ref a, k + j), ref Unsafe.Add(ref b, k + j), ref Unsafe.Add(ref c, k + j));
                    r += count;
                    continue;
                }
                Runs<TS, TV, T>.ShortRuns<TK>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), count, geometry.Inner,
                    ref Unsafe.Add(ref a, k), ref Unsafe.Add(ref b, k), ref Unsafe.Add(ref c, k));
                r += count;
            }
        }
    }

    /// <summary>
    /// <see cref="PlanFor"/> with the runs of whole periods starting at the input's 64-byte boundaries, where the plan has
    /// such runs (not <see cref="Plan.Blocks"/>), the path has vectors, the input is element-aligned and has a vector before
    /// its first boundary's run: the first <see cref="Plan.Head"/> elements (to the boundary) are a peel stored lane by lane,
    /// and a run's length is a multiple of 64 bytes as well as of the period (its repeat rounded down to a multiple of
    /// 64 bytes over the period's common factor with them; left as it is when fewer periods than that fit). The runs'
    /// vector loads of x then never straddle two cache lines: on AMD Zen 5 a split 512-bit load of a tensor that comes from
    /// L3 cost enough that BatchNorm inference NHWC S3 (C = 256, 8.4 MB in, stored normally) ran at 3x a copy; a loop over
    /// it with x aligned ran 1.4-1.6x faster than the same loop with x 4 bytes off, in one process. (The stores stay where
    /// y's alignment puts them: x's alignment was the larger part of that.)
    /// </summary>
    internal static unsafe Plan AlignedPlan(LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, int lanes)
    {
        var plan = PlanFor(shape, dims, input.Length);
        int line = 64 / Unsafe.SizeOf<T>();
        nuint address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(input));
        if (plan.Blocks || lanes <= 1 || address % (nuint)Unsafe.SizeOf<T>() != 0) return plan;
        long period = plan.Kept * plan.Inner;
        long q = line / Gcd(period, line); // periods in the shortest run that is whole lines
        long repeat = plan.Length / period / q * q;
        if (repeat == 0) return plan;
        long head = (long)((64 - (address & 63)) & 63) / Unsafe.SizeOf<T>();
        if (input.Length < head + lanes) return plan;
        int length = (int)(period * repeat);
        long runs = (input.Length - head + length - 1) / length;
        return plan with { Length = length, Runs = runs, PerUnit = Math.Max(1, UnitElements / length), Head = head };

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
        static long Gcd(long u, long v)
        {
            while (v != 0) (u, v) = (v, u % v);
            return u;
        }
    }

    /// <summary>How a call is cut: runs of <see cref="Length"/> elements (whole periods), <see cref="PerUnit"/> per unit;
    /// or (<see cref="Blocks"/>) one block of channels per unit, applied to each of the <see cref="Outer"/> indices.</summary>
    internal readonly record struct Plan(int Length, long Runs, long PerUnit, long Total, bool Blocks, int Kept, long Inner, long Outer, long Head = 0)
    {
        /// <summary>Units of a call that sums statistics (training forward and backward): a block of channels each, or of whole
        /// periods one unit that sums every run (a channel's sums need all of them).</summary>
        public int SumUnits => Blocks ? (int)Runs : 1;

        /// <summary>The longest <see cref="SumUnit"/>'s run length (its per-lane scratch).</summary>
        public int LongestSumUnit => Blocks ? (int)((Kept + Runs - 1) / Runs * Inner) : Length;

        /// <summary>Sum unit <paramref name="unit"/>: its channels [K0, K1), where its lanes start in a period, their number,
        /// its runs (the outer index, or runs of whole periods) and their stride, and how many of them are whole (of whole
        /// periods, a last shorter run is summed on its own).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public SumUnitSpan SumUnit(int unit)
        {
            long k0 = Blocks ? Kept * (long)unit / Runs : 0, k1 = Blocks ? Kept * (long)(unit + 1) / Runs : Kept;
            nint period = (nint)(Kept * Inner), start = (nint)(k0 * Inner);
            nint length = Blocks ? (nint)((k1 - k0) * Inner) : Length;
            long runs = Blocks ? Outer : Runs;
            nint stride = Blocks ? period : Length;
            nint full = Blocks ? (nint)runs : (nint)Math.Min(runs, (Total - start) / stride);
            return new SumUnitSpan(k0, k1, period, start, length, runs, stride, full);
        }
    }

    /// <summary>See <see cref="Plan.SumUnit"/>.</summary>
    internal readonly record struct SumUnitSpan(long K0, long K1, nint Period, nint Start, nint Length, long Runs, nint Stride, nint Full);

    /// <summary>Short periods: runs of whole periods (contiguous), as many as make about <see cref="RunElements"/>, the
    /// coefficients expanded over one run. Long ones: <see cref="Plan.Runs"/> blocks of channels (about
    /// <paramref name="blockElements"/> elements each, <see cref="BlockElements"/> unless the caller says, at least one
    /// vector: see <see cref="ShortPeriod"/>), each applied to every outer index.</summary>
    internal static Plan PlanFor(LayerShape shape, ReadOnlySpan<int> dims, long total, long blockElements = BlockElements)
    {
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        long period = kept * inner;
        if (period > RunElements)
            return new Plan((int)period, (period + blockElements - 1) / blockElements, 1, total, true, kept, inner, outer);
        long repeat = Math.Min(outer, Math.Max(1, RunElements / period));
        int length = (int)(period * repeat);
        return new Plan(length, (outer + repeat - 1) / repeat, Math.Max(1, UnitElements / length), total, false, kept, inner, outer);
    }

    private static void Go<TS, TV>(bool stream, int units, int workers, Plan plan, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c) where TS : struct, ISimd<TV, T> where TV : struct
    {
        if (stream)
            ParallelUnits.For(units, workers, new Body<TS, TV, StreamedStores>(plan), input, output, a, b, c, default);
        else
            ParallelUnits.For(units, workers, new Body<TS, TV, CachedStores>(plan), input, output, a, b, c, default);
    }

    private readonly struct Body<TS, TV, TW>(Plan plan) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref T x = ref ParallelUnits.At<T>(spans.S0), y = ref ParallelUnits.At<T>(spans.S1);
            ref T a = ref ParallelUnits.At<T>(spans.S2), b = ref ParallelUnits.At<T>(spans.S3), c = ref ParallelUnits.At<T>(spans.S4);
            if (plan.Blocks)
            {
                // Channels [k0, k1) of every outer index: the block's coefficients stay in L1 across the outer indices.
                long k0 = plan.Kept * (long)unit / plan.Runs, k1 = plan.Kept * (long)(unit + 1) / plan.Runs;
                nint start = (nint)(k0 * plan.Inner), len = (nint)((k1 - k0) * plan.Inner), period = (nint)(plan.Kept * plan.Inner);
                ref T ab = ref Unsafe.Add(ref a, start), bb = ref Unsafe.Add(ref b, start), cb = ref Unsafe.Add(ref c, start);
                for (nint n = 0; n < plan.Outer; n++)
                {
                    nint o = n * period + start;
                    Runs<TS, TV, T>.Apply<TK, TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), len, ref ab, ref bb, ref cb);
                }
                return;
            }
            long first = unit * plan.PerUnit, last = Math.Min(plan.Runs, first + plan.PerUnit);
            nint head = (nint)plan.Head;
            // The peel before the first aligned run (the coefficients' first Head elements), stored lane by lane before that run
            // reads its input: in place, those lanes are the only ones it writes.
            if (head > 0 && unit == 0) Runs<TS, TV, T>.ApplyPeel<TK>(ref x, ref y, head, ref a, ref b, ref c);
            for (long r = first; r < last; r++)
            {
                nint o = head + (nint)(r * plan.Length);
                Runs<TS, TV, T>.Apply<TK, TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)Math.Min(plan.Length, plan.Total - o),
                    ref Unsafe.Add(ref a, head), ref Unsafe.Add(ref b, head), ref Unsafe.Add(ref c, head));
            }
        }
    }
}

/// <summary>
/// Training forward (batch statistics, written out, then the apply) on the shapes of <see cref="ExpandedInference{TK, T}"/>
/// without the running statistics' requirement: one kept axis K carrying the statistics and parameters, a centered kind
/// with no epilogue, 1 &lt; inner &lt; <see cref="ExpandedInference{TK, T}.ShortRun"/>. The loop nest sums each (n, k) run of
/// inner elements with horizontal sums; here a unit (a block of channels, or whole periods) sums <c>x - shift</c> and its
/// square lane by lane in the element type across the outer index (<see cref="Runs{TS, TV, T}.ReduceColumns{TK}(ref T, nint, nint, nint, ref T, ref double, ref double)"/>:
/// registers across 16 runs at a time, then added into double),
/// then adds each channel's lanes in double: the statistics of the loop nest's formula (shift = the channel's first
/// element, <see cref="Statistics.FromShiftedSums"/>) in another summation order, so not its bits. The block stays in L2
/// for the apply, with the coefficients expanded as <see cref="ExpandedInference{TK, T}"/> does.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ExpandedTraining<TK, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether a training forward on <paramref name="dims"/> takes this path on <paramref name="path"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Applies(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        if (!TK.Centered || TK.Epilogue || TK.AddsResidual || HalfAffine.OneKeptAxis(shape) < 0) return false;
        if (!ExpandedInference<TK, T>.ShortPeriod(shape, dims, path)) return false;
        // Periods up to RunElements run as one unit (every run feeds every channel's sums): only where that is small.
        var plan = ExpandedInference<TK, T>.PlanFor(shape, dims, 0);
        return plan.Blocks || plan.Outer * plan.Kept * plan.Inner <= OneUnitLimit;
    }

    /// <summary>Most elements a call of short periods (one unit, one thread) takes here; larger ones keep the loop nest.</summary>
    private const long OneUnitLimit = 1 << 18;

    /// <summary>Runs the call (the caller checked every argument and <see cref="Applies"/>): writes the batch mean and biased
    /// variance per channel into <paramref name="mean"/> and <paramref name="variance"/> (and the mean's rounding residual
    /// into <paramref name="meanResidual"/> when given), normalizes with them. Returns <paramref name="path"/>.</summary>
    public static KernelPath Run(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> mean, Span<T> variance, T epsilon, T[]? meanResidual) =>
        AdvSimd.IsSupported
            ? Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, shape, dims, input, output, weight, bias, mean, variance, epsilon, meanResidual)
            : Run<X86Vector128Ops>(path, shape, dims, input, output, weight, bias, mean, variance, epsilon, meanResidual);

    /// <summary><see cref="Run(KernelPath, LayerShape, ReadOnlySpan{int}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, T, T[])"/>
    /// with the 128-bit path's operations given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static KernelPath Run<TOps>(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> mean, Span<T> variance, T epsilon, T[]? meanResidual) where TOps : struct, IVector128Ops
    {
        var plan = ExpandedInference<TK, T>.PlanFor(shape, dims, input.Length);
        int units = plan.SumUnits;
        int workers = Parallelism.Workers(input.Length, units);
        int longest = plan.LongestSumUnit;
        WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, 2 * longest, 4 * longest);
        try
        {
            bool affine = shape.Affine != AffineMode.None && !weight.IsEmpty;
            var body = new Settings(plan, affine, double.CreateTruncating(epsilon), meanResidual, scratch.Doubles, scratch.Elements);
            bool stream = Streaming.Use((long)input.Length * Unsafe.SizeOf<T>(), (long)output.Length * Unsafe.SizeOf<T>(),
                ExpandedInference<TK, T>.LaneCount(path) > 1 && !input.Overlaps(output));
            switch (path)
            {
                case KernelPath.Vector512: Go<V512<T>, Vector512<T>>(stream, units, workers, body, input, output, weight, bias, mean, variance); break;
                case KernelPath.Vector256: Go<V256<T>, Vector256<T>>(stream, units, workers, body, input, output, weight, bias, mean, variance); break;
                case KernelPath.Vector128: Go<V128<T, TOps>, Vector128<T>>(stream, units, workers, body, input, output, weight, bias, mean, variance); break;
                default: Go<Scalar<T>, T>(stream, units, workers, body, input, output, weight, bias, mean, variance); break;
            }
            return path;
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>The <paramref name="n"/> doubles at <paramref name="p"/> added, four partial sums at a time (one chain of
    /// dependent additions per channel took about 4 cycles an element: 28 us of BatchNorm NCHW S2), in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double LaneSum(ref double p, nint n)
    {
        nint i = 0;
        double total = 0;
        if (Vector256.IsHardwareAccelerated && n >= 4)
        {
            Vector256<double> acc = Vector256.LoadUnsafe(ref p);
            for (i = 4; i + 4 <= n; i += 4) acc += Vector256.LoadUnsafe(ref p, (nuint)i);
            total = (acc.GetElement(0) + acc.GetElement(1)) + (acc.GetElement(2) + acc.GetElement(3));
        }
        for (; i < n; i++) total += Unsafe.Add(ref p, i);
        return total;
    }

    private readonly record struct Settings(ExpandedInference<TK, T>.Plan Plan, bool Affine, double Epsilon, T[]? MeanResidual, double[][] Doubles, T[][] Elements);

    private static void Go<TS, TV>(bool stream, int units, int workers, Settings settings, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> mean, Span<T> variance) where TS : struct, ISimd<TV, T> where TV : struct
    {
        if (stream)
            ParallelUnits.For(units, workers, new Body<TS, TV, StreamedStores>(settings), input, output, weight, bias, mean, variance);
        else
            ParallelUnits.For(units, workers, new Body<TS, TV, CachedStores>(settings), input, output, weight, bias, mean, variance);
    }

    private readonly struct Body<TS, TV, TW>(Settings settings) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            var plan = settings.Plan;
            ref T x = ref ParallelUnits.At<T>(spans.S0), y = ref ParallelUnits.At<T>(spans.S1);
            ref T gamma = ref ParallelUnits.At<T>(spans.S2), beta = ref ParallelUnits.At<T>(spans.S3);
            ref T mean = ref ParallelUnits.At<T>(spans.S4), variance = ref ParallelUnits.At<T>(spans.S5);
            // This unit's channels [k0, k1), its runs (rows of the block, or runs of whole periods) and their length.
            var cut = plan.SumUnit(unit);
            long k0 = cut.K0, k1 = cut.K1, runs = cut.Runs;
            nint period = cut.Period, start = cut.Start, length = cut.Length, stride = cut.Stride;
            T[] e = settings.Elements[worker];
            double[] d = settings.Doubles[worker];
            ref T shift = ref MemoryMarshal.GetArrayDataReference(e);
            ref T a = ref Unsafe.Add(ref shift, length), b = ref Unsafe.Add(ref a, length), c = ref Unsafe.Add(ref b, length);
            ref double sd = ref MemoryMarshal.GetArrayDataReference(d), qd = ref Unsafe.Add(ref sd, length);
            // Shift: each channel's first element (of the first run), along the lanes of the block.
            for (long k = k0; k < k1; k++)
            {
                nint first = (nint)((k - k0) * plan.Inner);
                T value = Unsafe.Add(ref x, start + first);
                for (nint j = first; j < length; j += period) Fill(ref Unsafe.Add(ref shift, j), (nint)plan.Inner, value);
            }
            MemoryMarshal.CreateSpan(ref sd, 2 * (int)length).Clear();
            // Each lane's sums across the runs, in registers over 16 runs at a time, then added into double (whole runs: all
            // of a block's; of whole periods, all but a last shorter one, summed on its own).
            nint full = cut.Full;
            Runs<TS, TV, T>.ReduceColumns<TK>(ref Unsafe.Add(ref x, start), full, length, stride, ref shift, ref sd, ref qd);
            if (full < runs)
            {
                nint o = start + full * stride, len = (nint)(plan.Total - o);
                Runs<TS, TV, T>.ReduceColumns<TK>(ref Unsafe.Add(ref x, o), 1, len, len, ref shift, ref sd, ref qd);
            }
            // Per channel: its lanes added in double, the statistics, the coefficients expanded along its lanes; or, for blocks
            // of channels whose runs are lane rows (7x7 planes) stored normally, one set per channel, broadcast run by run
            // (ShortRuns: the same a, b, c per element). BatchNorm NCHW 32x512x7x7, AMD Zen 5, harness alternating builds: 1 thread
            // 171-175 -> 140-147 us, 2 threads 128 -> 96-99 us.
            bool broadcast = !TW.Streaming && plan.Blocks && Runs<TS, TV, T>.LaneRows((nint)plan.Inner);
            double count = (double)plan.Outer * plan.Inner;
            for (long k = k0; k < k1; k++)
            {
                double sum = 0, sq = 0;
                for (nint j = (nint)((k - k0) * plan.Inner); j < length; j += period)
                {
                    sum += LaneSum(ref Unsafe.Add(ref sd, j), (nint)plan.Inner);
                    sq += LaneSum(ref Unsafe.Add(ref qd, j), (nint)plan.Inner);
                }
                nint first = (nint)((k - k0) * plan.Inner);
                (double m, double v) = Statistics.FromShiftedSums(double.CreateTruncating(Unsafe.Add(ref shift, first)), sum, sq, count);
                T rounded = T.CreateTruncating(m);
                Unsafe.Add(ref mean, (nint)k) = rounded;
                Unsafe.Add(ref variance, (nint)k) = T.CreateTruncating(v);
                if (settings.MeanResidual is { } residual) residual[k] = T.CreateTruncating(m - double.CreateTruncating(rounded));
                double g = settings.Affine ? double.CreateTruncating(Unsafe.Add(ref gamma, (nint)k)) : 1d;
                double h = settings.Affine ? double.CreateTruncating(Unsafe.Add(ref beta, (nint)k)) : 0d;
                double ak = g * Statistics.InverseStd(v, settings.Epsilon);
                T ca = T.CreateTruncating(ak), cb = T.CreateTruncating(h - (m - double.CreateTruncating(rounded)) * ak);
                if (broadcast)
                {
                    Unsafe.Add(ref a, (nint)(k - k0)) = ca;
                    Unsafe.Add(ref b, (nint)(k - k0)) = cb;
                    Unsafe.Add(ref c, (nint)(k - k0)) = rounded;
                    continue;
                }
                for (nint j = first; j < length; j += period)
                {
                    Fill(ref Unsafe.Add(ref a, j), (nint)plan.Inner, ca);
                    Fill(ref Unsafe.Add(ref b, j), (nint)plan.Inner, cb);
                    Fill(ref Unsafe.Add(ref c, j), (nint)plan.Inner, rounded);
                }
            }
            if (broadcast)
            {
                for (long r = 0; r < runs; r++)
                {
                    nint o = start + (nint)r * stride;
                    Runs<TS, TV, T>.ShortRuns<TK>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)(k1 - k0), (nint)plan.Inner, ref a, ref b, ref c);
                }
                return;
            }
            for (long r = 0; r < runs; r++)
            {
                nint o = start + (nint)r * stride;
                Runs<TS, TV, T>.Apply<TK, TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)Math.Min(length, plan.Total - o), ref a, ref b, ref c);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Fill(ref T p, nint n, T value) => ExpandedInference<TK, T>.Fill(ref p, n, value);
    }
}
