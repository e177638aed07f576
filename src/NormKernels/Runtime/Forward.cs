using System;
using System.Buffers;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

/// <summary>What a norm kind changes in the shared drivers and runs: whether statistics are centered (a mean is
/// taken and subtracted) or not (root mean square).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface INormKind
{
    /// <summary>True for mean and variance (x - mean); false for the mean square alone.</summary>
    static abstract bool Centered { get; }

    /// <summary>An epilogue follows the norm (an activation, or the residual added after it): the backward first takes the
    /// gradient through it (<see cref="Epilogue{TK, T}"/>). False for the plain kinds.</summary>
    static virtual bool Epilogue => false;

    /// <summary>The apply adds the residual (at the nest's byte offset from the input) before the activation.</summary>
    static virtual bool AddsResidual => false;

    /// <summary>The activation applied to each output vector (the identity for the plain kinds).</summary>
    static virtual TV Activate<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => z;

    /// <summary><c>dy * act'(z)</c> per lane (<paramref name="dy"/> for the plain kinds).</summary>
    static virtual TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => dy;

    /// <summary><see cref="Gradient"/> is dy itself (no activation: the plain kinds, and fused ones with the residual alone), so
    /// the backward needs no recomputed pre-activation (<see cref="FusedBackward{TNest, TK, T}"/>).</summary>
    static virtual bool IdentityGradient => true;

    /// <summary>The apply's stored loop runs as a method of its own (<see cref="Runs{TS, TV, T}"/>' ApplyCore) even without an
    /// epilogue: the norm a fused backward recomputes (<see cref="Recomputed{TB}"/>).</summary>
    static virtual bool OwnApply => false;

    /// <summary>The statistics pass reads its data from memory: its reductions hint the lines ahead into L1
    /// (<see cref="Runs{TS, TV, T}.PrefetchAhead"/>). Only <see cref="FromMemory{TK}"/> says so; the drivers pass it to the
    /// nest's statistics loops for calls whose tensors exceed the last-level cache (<see cref="Streaming.Exceeds"/>).</summary>
    static virtual bool Prefetches => false;
}

/// <summary>
/// <typeparamref name="TK"/>, for a statistics pass over data that comes from memory: every member is TK's, and
/// <see cref="INormKind.Prefetches"/> is true, so the nest's reductions (<see cref="Runs{TS, TV, T}.Reduce{TK}"/> and the strided
/// <see cref="Runs{TS, TV, T}.ReduceColumns{TK}(ref T, nint, nint, nint, ref T, ref double, ref double)"/>) hint their lines ahead
/// (the contiguous column reduction hints in cache as well on a call's only worker: <see cref="ParallelUnits.Alone"/>).
/// The same arithmetic in the same order: the same bits.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct FromMemory<TK> : INormKind where TK : struct, INormKind
{
    /// <inheritdoc/>
    public static bool Centered => TK.Centered;

    /// <inheritdoc/>
    public static bool Epilogue => TK.Epilogue;

    /// <inheritdoc/>
    public static bool AddsResidual => TK.AddsResidual;

    /// <inheritdoc/>
    public static bool IdentityGradient => TK.IdentityGradient;

    /// <inheritdoc/>
    public static bool OwnApply => TK.OwnApply;

    /// <inheritdoc/>
    public static TV Activate<TS, TV, T>(TV z) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TK.Activate<TS, TV, T>(z);

    /// <inheritdoc/>
    public static TV Gradient<TS, TV, T>(TV z, TV dy) where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged => TK.Gradient<TS, TV, T>(z, dy);

    /// <inheritdoc/>
    public static bool Prefetches => true;
}

/// <summary>
/// The plain kind <typeparamref name="TB"/> as the backward of a fused layer with an activation recomputes its
/// pre-activation (<see cref="FusedBackward{TNest, TK, T}"/>): the same arithmetic, with the apply's stored loop in a method
/// of its own (<see cref="INormKind.OwnApply"/>). Inlined into a fused layer's nest, that loop's expression was left a
/// call once a vector in the tiered JIT's optimized code (not with tiering off; CodegenTests now checks both): LayerNorm +
/// ReLU with the residual after, [1024, 768], backward 673 us a call where it runs 495 with every method compiled optimized.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Recomputed<TB> : INormKind where TB : struct, INormKind
{
    /// <inheritdoc/>
    public static bool Centered => TB.Centered;

    /// <inheritdoc/>
    public static bool OwnApply => true;
}

/// <summary>Standardize: mean and biased variance; <c>y = (x - mean) / sqrt(var + eps)</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct StandardizeNorm : INormKind
{
    /// <inheritdoc/>
    public static bool Centered => true;
}

/// <summary>Root mean square: <c>y = x / sqrt(mean(x^2) + eps)</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct RootMeanSquareNorm : INormKind
{
    /// <inheritdoc/>
    public static bool Centered => false;
}

/// <summary>The geometry the memory-order passes rely on (the forward's groups, the backward's runs of blocks).</summary>
internal static class InterleavedRuns
{
    /// <summary>
    /// The row stride when a tensor of <paramref name="length"/> elements is <paramref name="rows"/> x
    /// <paramref name="blocks"/> x <paramref name="run"/> with block b's first run at b * run (checked for every block):
    /// then, the nest's rows following each other in memory order, row r of block b is the run at r * blocks * run +
    /// b * run (BatchNorm NCHW: rows n, blocks c, runs h w). Otherwise 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static nint Stride<TNest, T>(TNest nest, int blocks, nint rows, nint run, long length) where TNest : struct, INest<T> where T : unmanaged
    {
        if ((long)rows * blocks * run != length) return 0;
        for (int b = 0; b < blocks; b++)
        {
            nest.Block(b, out nint memory, out _, out _);
            if (memory != b * run) return 0;
        }
        return blocks * run;
    }

    /// <summary>Scratch values (doubles, or elements) a worker's group of blocks in memory order may take at most.</summary>
    public const int MemoryOrderScratch = 1 << 16;

    /// <summary>Blocks per group in memory order: each of <paramref name="shares"/> workers' share of <paramref name="blocks"/>,
    /// at most <see cref="MemoryOrderScratch"/> / <paramref name="perBlock"/> (the scratch values a block takes; millions of
    /// channels would otherwise ask for more than an array holds), at least 1.</summary>
    public static int MemoryOrderGroup(int blocks, int shares, int perBlock) =>
        (int)Math.Clamp(((long)blocks + shares - 1) / shares, 1, Math.Max(1, MemoryOrderScratch / Math.Max(1, perBlock)));
}

/// <summary>
/// The layer-specific part of a generated layer, as the shared drivers see it: its extents (fields of the struct),
/// how its blocks and index spaces map onto memory, and its two loop nests. Everything else (scratch, threads,
/// statistics, coefficients) is in <see cref="Forward{TNest, TK, T}"/>, once for every layer. The drivers take the
/// nest as a struct type argument, so its members inline into them with no virtual call.
/// </summary>
/// <remarks>
/// Index spaces inside a block: statistics <c>s</c> (the kept axes inside it), accumulators <c>a</c> (the statistics pass's
/// separate accumulators: the kept axes, plus a promoted within-group channel axis), fold indices <c>f</c> (one coefficient
/// set each: the axes inside the block that index statistics or parameters) and parameters <c>p</c> (offsets into Weight
/// and Bias, relative to the block's).
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface INest<T> where T : unmanaged
{
    /// <summary>The statistics' innermost extent (<see cref="StatisticsExtent"/>) when <c>Sizes</c> fixes every axis of
    /// it, else 0: a constant of the generated nest, so the runs of a row plan compiled for this layer see their row length
    /// as a constant (constant-trip loops, no tail where the length is a whole number of vectors).</summary>
    static virtual nint FixedStatisticsExtent => 0;

    /// <summary>Blocks (units of parallel work run start to end: statistics, coefficients, apply); 0 when the plan has one
    /// block, the whole tensor, run as two chunked passes.</summary>
    int BlockCount { get; }

    /// <summary>Statistics per block.</summary>
    int StatisticCount { get; }

    /// <summary>Coefficient sets per block (fold indices; in the two-step form, one per statistic).</summary>
    int CoefficientCount { get; }

    /// <summary>Fold indices per block: positions along the axes inside a block that index statistics or parameters (the
    /// backward's per-index sums).</summary>
    int FoldCount { get; }

    /// <summary>The innermost contiguous extents of the statistics and apply passes (they choose the path).</summary>
    nint StatisticsExtent { get; }

    /// <inheritdoc cref="StatisticsExtent"/>
    nint ApplyExtent { get; }

    /// <summary>The innermost contiguous extent of the backward passes (it chooses their path).</summary>
    nint GradientExtent { get; }

    /// <summary>Accumulators of the statistics pass per block.</summary>
    int AccumulatorCount { get; }

    /// <summary>Elements per statistic.</summary>
    double Count { get; }

    /// <summary>Accumulators are per channel and combine into their group's statistic afterwards.</summary>
    bool Promoted { get; }

    /// <summary>Statistics and parameters are applied in two steps (no axis to reuse a folded coefficient along).</summary>
    bool TwoStep { get; }

    /// <summary>The layer has Weight and Bias.</summary>
    bool Affine { get; }

    /// <summary>The extent of the statistics pass's first segment, and whether chunks of it may run as separate units.</summary>
    nint StatisticsRows(out bool splittable);

    /// <summary>The extent of the apply pass's first segment, and whether chunks of it may run as separate units.</summary>
    nint ApplyRows(out bool splittable);

    /// <summary>The extent of the backward passes' first segment, and whether chunks of it may run as separate units.</summary>
    nint GradientRows(out bool splittable);

    /// <summary>The offsets of block <paramref name="block"/>: in memory, in the statistics and in the parameters.</summary>
    void Block(nint block, out nint memory, out nint statistic, out nint parameter);

    /// <summary>The offset in a block of statistic <paramref name="statistic"/>'s first element (its shift).</summary>
    nint StatisticStart(nint statistic);

    /// <summary>The statistic accumulator <paramref name="accumulator"/> adds into.</summary>
    nint AccumulatorStatistic(nint accumulator);

    /// <summary>The offset in a block of fold index <paramref name="fold"/>'s first element.</summary>
    nint FoldStart(nint fold);

    /// <summary>The statistic and the parameter of fold index <paramref name="fold"/>.</summary>
    void Fold(nint fold, out nint statistic, out nint parameter);

    /// <summary>The statistics pass over a block, or the chunk [from, to) of its first segment: per accumulator, sums of
    /// <c>x - shift</c> and its square (uncentered kinds: of <c>x^2</c> only).</summary>
    void Statistics<TK, TS, TV>(ref T x, nint from, nint to, ref T shift, ref double sum, ref double sq)
        where TK : struct, INormKind where TS : struct, ISimd<TV, T> where TV : struct;

    /// <summary>The apply pass over a block, or the chunk [from, to) of its first segment, storing the output as
    /// <typeparamref name="TW"/> says.</summary>
    void Apply<TK, TW, TS, TV>(ref T x, ref T y, nint from, nint to, ref T a, ref T b, ref T c, ref T g, ref T h)
        where TK : struct, INormKind where TW : struct, IStores where TS : struct, ISimd<TV, T> where TV : struct;

    /// <summary>How a block's apply can run beside the next block's statistics pass (<see cref="ApplyReduce"/>): 1, both passes
    /// rows of one contiguous run (channels last; <see cref="Runs{TS, TV, T}.ApplyReduceRows"/>); 2, the statistics one run
    /// over the block and the apply that run as runs back to back, a coefficient set each (<see cref="Runs{TS, TV, T}.ApplyRunsReduce"/>);
    /// 0, neither.</summary>
    int Pipelines { get; }

    /// <summary>The streamed apply of the block at <paramref name="x"/> beside the statistics pass of the block at
    /// <paramref name="p"/> (<see cref="Pipelines"/>), the same bits as the two passes; false, nothing done, where it does not
    /// apply.</summary>
    bool ApplyReduce<TK, TS, TV>(ref T x, ref T y, ref T p, ref T a, ref T b, ref T c, ref T shift, ref double sum, ref double sq)
        where TK : struct, INormKind where TS : struct, ISimd<TV, T> where TV : struct;
}

/// <summary>What a forward driver call computes.</summary>
internal enum ForwardMode
{
    /// <summary>Batch statistics, written out, then the apply.</summary>
    Training,

    /// <summary>Given statistics, then the apply.</summary>
    Inference,

    /// <summary>Batch statistics as mergeable moments (mean, M2 in double); no apply.</summary>
    Moments,
}

/// <summary>
/// The forward drivers of every generated layer (training with batch statistics, inference with given ones),
/// written once over the layer's nest <typeparamref name="TNest"/>, its kind <typeparamref name="TK"/> and element type.
/// Plans with blocks run one unit per block (statistics, coefficients and apply back to back while the block is in
/// cache, per-worker scratch). Whole-tensor plans run the statistics over chunks of their first segment into per-chunk
/// partial sums merged in chunk order, then the apply over chunks. Units depend on the shape alone, so results are
/// bitwise identical for any number of threads.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Forward<TNest, TK, T>
    where TNest : struct, INest<T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements per chunk of a whole-tensor pass: the unit of parallel work, fixed by the shape alone.</summary>
    private const int ChunkElements = 1 << 15;

    /// <summary>Training forward: batch statistics (mean and biased variance; uncentered: mean square) into
    /// <paramref name="stat0"/>, <paramref name="stat1"/>; <paramref name="meanResidual"/>, when given, gets
    /// <c>mean - (T)mean</c>.</summary>
    public static KernelPath Training(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) =>
        AdvSimd.IsSupported
            ? Training<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual)
            : Training<X86Vector128Ops>(path, nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);

    /// <summary>Inference forward with given statistics; <paramref name="meanResidual"/>, when given, is added to the mean.</summary>
    public static KernelPath Inference(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, T[]? meanResidual) =>
        AdvSimd.IsSupported
            ? Inference<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, output, gamma, beta, mean, variance, epsilon, meanResidual)
            : Inference<X86Vector128Ops>(path, nest, input, output, gamma, beta, mean, variance, epsilon, meanResidual);

    /// <summary>A shard's mergeable statistics: per statistic the count, the mean and M2 (the sum of squared deviations),
    /// in double, computed as the training forward computes its statistics; nothing else is written.</summary>
    public static KernelPath Moments(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<double> count, Span<double> mean, Span<double> m2) =>
        AdvSimd.IsSupported
            ? Moments<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, count, mean, m2)
            : Moments<X86Vector128Ops>(path, nest, input, count, mean, m2);

    /// <summary><see cref="Moments(KernelPath, TNest, ReadOnlySpan{T}, Span{double}, Span{double}, Span{double})"/> with the
    /// 128-bit path's operations given.</summary>
    public static KernelPath Moments<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<double> count, Span<double> mean, Span<double> m2)
        where TOps : struct, IVector128Ops
    {
        count.Fill(nest.Count);
        // The double outputs travel as spans of the element type (same bytes) and are written as double.
        var run = new Run(nest, input, default, default, default, MemoryMarshal.Cast<double, T>(mean), MemoryMarshal.Cast<double, T>(m2), T.Zero, null, ForwardMode.Moments);
        return run.Go<TOps>(path);
    }

    /// <summary>AdaIN with the 128-bit path's operations of this machine (see <see cref="Adaptive{TOps}"/>).</summary>
    public static KernelPath Adaptive(KernelPath path, TNest nest, TNest styleNest, ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, T epsilon) =>
        AdvSimd.IsSupported
            ? Adaptive<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, styleNest, content, style, output, epsilon)
            : Adaptive<X86Vector128Ops>(path, nest, styleNest, content, style, output, epsilon);

    /// <summary>
    /// AdaIN (Huang and Belongie 2017) on an instance-shaped layer: <c>y = sigma_s * (x - mu_c) / sigma_c + mu_s</c> per block,
    /// the content's moments from the content block, the style's from the same block of <paramref name="style"/> (its own
    /// extents along the reduced axes, <paramref name="styleNest"/>). Coefficients per fold index, in double:
    /// C = mu_c rounded to the element type, A = sigma_s * rstd_c, B = mu_s - (mu_c - C) * A.
    /// </summary>
    public static KernelPath Adaptive<TOps>(KernelPath path, TNest nest, TNest styleNest, ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, T epsilon)
        where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: Adaptive<V512<T>, Vector512<T>>(nest, styleNest, content, style, output, epsilon); break;
            case KernelPath.Vector256: Adaptive<V256<T>, Vector256<T>>(nest, styleNest, content, style, output, epsilon); break;
            case KernelPath.Vector128: Adaptive<V128<T, TOps>, Vector128<T>>(nest, styleNest, content, style, output, epsilon); break;
            default: Adaptive<Scalar<T>, T>(nest, styleNest, content, style, output, epsilon); break;
        }
        return path;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Adaptive<TS, TV>(TNest nest, TNest styleNest, ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, T epsilon)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        var layout = new Layout(nest, training: true);
        int units = nest.BlockCount;
        int workers = Parallelism.Workers((long)content.Length + style.Length, units);
        // Per worker: the statistics pass's scratch, then the content's and the style's (mean, M2) per statistic.
        WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, layout.Doubles + 4 * layout.Statistics, layout.Elements);
        try
        {
            var body = new AdaptiveBlock<TS, TV>(nest, styleNest, layout, double.CreateTruncating(epsilon), scratch.Doubles, scratch.Elements);
            ParallelUnits.For(units, workers, body, content, output, style, default, default, default);
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary><see cref="Training(KernelPath, TNest, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, T, T[])"/>
    /// with the 128-bit path's operations given (tests run the ARM64 logic on x86 this way).</summary>
    public static KernelPath Training<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TOps : struct, IVector128Ops
    {
        var run = new Run(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual, ForwardMode.Training);
        return run.Go<TOps>(path);
    }

    /// <summary><see cref="Inference(KernelPath, TNest, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, T[])"/>
    /// with the 128-bit path's operations given.</summary>
    public static KernelPath Inference<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, T[]? meanResidual) where TOps : struct, IVector128Ops
    {
        // The running statistics are only read; the parallel runner pins writable spans.
        Span<T> m = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(mean), mean.Length);
        Span<T> v = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(variance), variance.Length);
        var run = new Run(nest, input, output, gamma, beta, m, v, epsilon, meanResidual, ForwardMode.Inference);
        return run.Go<TOps>(path);
    }

    /// <summary>
    /// A batch-statistics forward with nothing added (no residual after or before the norm) whose plan is rows and whose call
    /// is small (<see cref="RowPlan"/>, <see cref="SmallRows"/>: a decode step's rows), run straight on the calling thread
    /// (<see cref="FewRows"/>): true when it ran; false, with nothing written, for any other call (run it with
    /// <see cref="Training(KernelPath, TNest, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, T, T[])"/>).
    /// The driver's own checks for every call (a vector path, streaming, the row plan), without its set-up: through the
    /// driver, a [1, 768] LayerNorm call spent about a sixth of its time before its rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TrySmallRows(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual)
    {
        if (!RowLane(path, nest, input, output, SmallRowCount)) return false;
        ParallelUnits.OnCallingThread();
        RunSmallRows(path, nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
        return true;
    }

    /// <summary><see cref="TrySmallRows"/>'s rows, on a call that passed its test: dims for which it ran before (its every
    /// decision but streaming is a function of the dims; the caller decides streaming itself), and the arguments checked as
    /// for it. The caller records the call (<see cref="ParallelUnits.LastWorkers"/>, <see cref="Streaming.LastCallStreamed"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunSmallRows(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) =>
        OnPath<BatchRows>(path, nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);

    /// <summary>
    /// An inference forward (given statistics: the running ones) whose plan is rows, on a call the runner would keep on the
    /// calling thread (fewer elements than <see cref="Parallelism.MinElementsPerThread"/>, not streamed, no residual):
    /// BatchNorm NCHW with N = 1, a batch-1 network's layers. Each row's coefficients as <see cref="RunningTerms"/> and
    /// <see cref="Coefficients"/> make them (the same operations, so the same bits), 64 rows at a time on the stack, then
    /// those rows' plain apply (<see cref="Runs{TS, TV, T}.ApplyEachRow"/>). The block driver sets up a unit per channel:
    /// about 25 ns a channel, 44% of a [1, 32, 16, 16] call on AMD Zen 4. True when it ran; false, with nothing written,
    /// for any other call (run it with <see cref="Inference(KernelPath, TNest, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, T[])"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryInferenceRows(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, T[]? meanResidual)
    {
        if (!RowLane(path, nest, input, output, int.MaxValue)) return false;
        ParallelUnits.OnCallingThread();
        RunInferenceRows(path, nest, input, output, gamma, beta, mean, variance, epsilon, meanResidual);
        return true;
    }

    /// <summary><see cref="TryInferenceRows"/>'s rows, on a call that passed its test (as <see cref="RunSmallRows"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunInferenceRows(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, T[]? meanResidual)
    {
        // Only read; the lanes share one signature.
        Span<T> m = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(mean), mean.Length);
        Span<T> v = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(variance), variance.Length);
        OnPath<RunningRows>(path, nest, input, output, gamma, beta, m, v, epsilon, meanResidual);
    }

    /// <summary>A small-row lane's body on one path.</summary>
    private interface IRowLane
    {
        static abstract void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
            Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TS : struct, ISimd<TV, T> where TV : struct;
    }

    /// <summary><see cref="FewRows"/>: batch statistics, written to stat0 and stat1.</summary>
    private readonly struct BatchRows : IRowLane
    {
        public static void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
            Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TS : struct, ISimd<TV, T> where TV : struct =>
            FewRows<TS, TV>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
    }

    /// <summary><see cref="InferenceRows"/>: the statistics given (stat0 the mean, stat1 the variance), only read.</summary>
    private readonly struct RunningRows : IRowLane
    {
        public static void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
            Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TS : struct, ISimd<TV, T> where TV : struct =>
            InferenceRows<TS, TV>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
    }

    /// <summary>Runs <typeparamref name="TLane"/> on <paramref name="path"/> (a vector path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OnPath<TLane>(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TLane : struct, IRowLane
    {
        if (path == KernelPath.Vector512) TLane.Run<V512<T>, Vector512<T>>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
        else if (path == KernelPath.Vector256) TLane.Run<V256<T>, Vector256<T>>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
        else if (AdvSimd.IsSupported) TLane.Run<V128<T, AdvSimdVector128Ops<AdvSimdIntrinsics>>, Vector128<T>>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
        else TLane.Run<V128<T, X86Vector128Ops>, Vector128<T>>(nest, input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);
    }

    /// <summary>Whether a call takes a small-row lane (<see cref="TrySmallRows"/>, <see cref="TryInferenceRows"/>): a vector path,
    /// nothing added after the norm, a row plan of at most <paramref name="maxRows"/> rows, fewer elements than the runner
    /// gives a second thread, and not streamed, decided as the driver decides (a call that streams takes the driver; the
    /// decision is remembered as <see cref="Streaming.LastCallStreamed"/> either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RowLane(KernelPath path, TNest nest, ReadOnlySpan<T> input, Span<T> output, int maxRows) =>
        path is (KernelPath.Vector512 or KernelPath.Vector256 or KernelPath.Vector128) && !TK.AddsResidual && nest.BlockCount > 0
        && nest.BlockCount <= maxRows && input.Length < Parallelism.MinElementsPerThread && RowPlan(nest, input.Length)
        && !Streaming.Use((long)input.Length * Unsafe.SizeOf<T>(), (long)output.Length * Unsafe.SizeOf<T>(), !input.Overlaps(output));

    /// <summary>The rows of <see cref="TryInferenceRows"/>: coefficients of up to <see cref="SmallRowCount"/> rows, then their apply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void InferenceRows<TS, TV>(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, T[]? meanResidual) where TS : struct, ISimd<TV, T> where TV : struct
    {
        // Not cleared (SkipLocalsInit): each batch's coefficients are written before they are read.
        Span<T> coefficients = stackalloc T[3 * SmallRowCount];
        ref T ca = ref MemoryMarshal.GetReference(coefficients);
        ref T cb = ref Unsafe.Add(ref ca, SmallRowCount), cc = ref Unsafe.Add(ref ca, 2 * SmallRowCount);
        int rows = nest.BlockCount;
        nint len = nest.StatisticsExtent;
        bool twoStep = nest.TwoStep, affine = nest.Affine;
        double eps = double.CreateTruncating(epsilon);
        ref T x = ref MemoryMarshal.GetReference(input);
        ref T y = ref MemoryMarshal.GetReference(output);
        for (int r0 = 0; r0 < rows; r0 += SmallRowCount)
        {
            int count = Math.Min(SmallRowCount, rows - r0);
            for (int i = 0; i < count; i++)
            {
                // RunningTerms, then Coefficients, for the row's one statistic and (folded) its one parameter.
                nest.Block(r0 + i, out _, out nint so, out nint po);
                double m = !TK.Centered ? 0d : double.CreateTruncating(mean[(int)so]) + (meanResidual is not null ? double.CreateTruncating(meanResidual[so]) : 0d);
                double rstd = Runtime.Statistics.InverseStd(double.CreateTruncating(variance[(int)so]), eps);
                T c = TK.Centered ? T.CreateTruncating(m) : T.Zero;
                double g = 1d, h = 0d;
                if (!twoStep && affine)
                {
                    nest.Fold(0, out _, out nint p);
                    g = double.CreateTruncating(gamma[(int)(po + p)]);
                    h = double.CreateTruncating(beta[(int)(po + p)]);
                }
                double a = g * rstd;
                Unsafe.Add(ref ca, i) = T.CreateTruncating(a);
                Unsafe.Add(ref cb, i) = T.CreateTruncating(h - (m - double.CreateTruncating(c)) * a);
                Unsafe.Add(ref cc, i) = c;
            }
            ref T xr = ref Unsafe.Add(ref x, r0 * len);
            ref T yr = ref Unsafe.Add(ref y, r0 * len);
            if (twoStep)
                Runs<TS, TV, T>.ApplyEachRow<TK, Lanes>(ref xr, ref yr, count, len, ref MemoryMarshal.GetReference(gamma), ref MemoryMarshal.GetReference(beta), ref ca, ref cb, ref cc);
            else
                Runs<TS, TV, T>.ApplyEachRow<TK, Splat>(ref xr, ref yr, count, len, ref ca, ref cb, ref ca, ref cb, ref cc);
        }
    }

    /// <summary>A row plan's small call (<see cref="SmallRows"/>): every row in one <see cref="Runs{TS, TV, T}.Rows"/>, phased,
    /// on the calling thread, its sums and coefficients on the stack. No scratch rented, no parallel runner, no per-unit
    /// set-up. Each row's arithmetic is a unit's (rows are independent; four rows finish together or one by one with the
    /// same bits), so the bits are those of the units' split.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static unsafe void FewRows<TS, TV>(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual) where TS : struct, ISimd<TV, T> where TV : struct
    {
        int rows = nest.BlockCount;
        // Not cleared (SkipLocalsInit): every row's sums and coefficients are written before they are read, as in rented scratch.
        Span<double> sums = stackalloc double[2 * SmallRowCount];
        Span<T> coefficients = stackalloc T[3 * SmallRowCount];
        fixed (T* x = input) fixed (T* y = output) fixed (T* g = gamma) fixed (T* h = beta) fixed (T* s0 = stat0) fixed (T* s1 = stat1)
        {
            var spans = new PinnedSpans((nint)x, (nint)y, (nint)g, (nint)h, (nint)s0, (nint)s1);
            UnitRows<TS, TV, CachedStores>(nest, default, 0, rows, nest.StatisticsExtent, epsilon, ref MemoryMarshal.GetReference(sums),
                ref MemoryMarshal.GetReference(coefficients), meanResidual, true, false, in spans);
        }
    }

    /// <summary>One call's arguments, carried to the path-specialized driver.</summary>
    private readonly ref struct Run(TNest nest, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> stat0, Span<T> stat1, T epsilon, T[]? meanResidual, ForwardMode mode)
    {
        private readonly ReadOnlySpan<T> _input = input, _gamma = gamma, _beta = beta;
        private readonly Span<T> _output = output, _stat0 = stat0, _stat1 = stat1;

        /// <summary>Bytes the call reads and writes.</summary>
        private long InputBytes => (long)_input.Length * Unsafe.SizeOf<T>();

        /// <inheritdoc cref="InputBytes"/>
        private long OutputBytes => (long)_output.Length * Unsafe.SizeOf<T>();

        /// <summary>The call's tensors are larger than the last-level cache (<see cref="Streaming.Exceeds"/>, whether or not
        /// the output streams): the statistics passes take <see cref="FromMemory{TK}"/>.</summary>
        private bool FromMemory => Streaming.Exceeds(InputBytes, OutputBytes);

        /// <summary>Runs the call on <paramref name="path"/>: one copy of the driver per path, the nest's members inlined into it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call (tier 0 cost small calls 10-20% for their first calls)
        public KernelPath Go<TOps>(KernelPath path) where TOps : struct, IVector128Ops
        {
            switch (path)
            {
                case KernelPath.Vector512: Go<V512<T>, Vector512<T>>(); break;
                case KernelPath.Vector256: Go<V256<T>, Vector256<T>>(); break;
                case KernelPath.Vector128: Go<V128<T, TOps>, Vector128<T>>(); break;
                default: Go<Scalar<T>, T>(); break;
            }
            return path;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Go<TS, TV>() where TS : struct, ISimd<TV, T> where TV : struct
        {
            if (Streaming.Use(InputBytes, OutputBytes, TS.Count > 1 && mode != ForwardMode.Moments && !_input.Overlaps(_output)))
                Go<TS, TV, StreamedStores>();
            else
                Go<TS, TV, CachedStores>();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Go<TS, TV, TW>() where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
        {
            var layout = new Layout(nest, mode != ForwardMode.Inference);
            if (nest.BlockCount > 0 && mode == ForwardMode.Training && TS.Count > 1 && !TK.AddsResidual && RowPlan(nest, _input.Length))
            {
                if (!TW.Streaming && SmallRows(nest, _input.Length))
                {
                    ParallelUnits.OnCallingThread();
                    FewRows<TS, TV>(nest, _input, _output, _gamma, _beta, _stat0, _stat1, epsilon, meanResidual);
                }
                else Rows<TS, TV, TW>(layout);
                return;
            }
            if (nest.BlockCount > 0)
            {
                int blocks = nest.BlockCount;
                int group = GroupBlocks(nest, blocks);
                if (MemoryOrder<TS, TV, TW>(blocks))
                {
                    // Each worker's share of the blocks as one group: both passes in memory order (see MemoryOrder).
                    group = InterleavedRuns.MemoryOrderGroup(blocks, Parallelism.Workers(_input.Length, blocks), Math.Max(layout.Doubles, layout.Elements));
                    LastCall.Current.MemoryOrder = true;
                }
                int units = (blocks + group - 1) / group;
                int workers = Parallelism.Workers(_input.Length, units);
                // Pipelined: two blocks' scratch a worker (the block applied, the next one summed).
                bool pipelined = group == 1 && PipelinedBlocks<TS, TV, TW>(blocks, workers);
                bool shortRuns = group == 1 && !pipelined && mode != ForwardMode.Moments && ShortRunApply<TS, TV>(nest, _input.Length);
                // Four blocks together only on one worker (see BlocksTogether).
                int together = shortRuns && mode == ForwardMode.Training && workers == 1
                    && 2L * BlocksTogether * (_input.Length / blocks) * Unsafe.SizeOf<T>() <= TogetherBytes ? BlocksTogether : 1;
                if (together > 1)
                {
                    units = (blocks + together - 1) / together;
                    workers = Parallelism.Workers(_input.Length, units);
                }
                int slots = pipelined ? 2 : Math.Max(group, together);
                WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, layout.Doubles * slots, layout.Elements * slots);
                try
                {
                    if (group > 1)
                    {
                        var body = new GroupUnit<TS, TV, TW>(nest, layout, group, blocks, nest.StatisticsRows(out _), epsilon, scratch.Doubles, scratch.Elements, meanResidual, mode, FromMemory);
                        ParallelUnits.For(units, workers, body, _input, _output, _gamma, _beta, _stat0, _stat1);
                    }
                    else if (pipelined)
                    {
                        LastCall.Current.Pipelined = true;
                        long[] ranges = ArrayPool<long>.Shared.Rent(UnitRanges.Length(workers));
                        try
                        {
                            UnitRanges.Set(ranges, blocks, workers);
                            var body = new PipelinedUnit<TS, TV, TW>(nest, layout, workers, ranges, nest.StatisticsRows(out _), nest.ApplyRows(out _), epsilon,
                                scratch.Doubles, scratch.Elements, meanResidual, mode, FromMemory);
                            ParallelUnits.For(workers, workers, body, _input, _output, _gamma, _beta, _stat0, _stat1);
                        }
                        finally
                        {
                            ArrayPool<long>.Shared.Return(ranges);
                        }
                    }
                    else
                    {
                        // Folds of short runs (GroupNorm NCHW on small planes): applied run by run, coefficients broadcast.
                        var body = new BlockUnit<TS, TV, TW>(nest, layout, epsilon, scratch.Doubles, scratch.Elements, meanResidual, mode, shortRuns, FromMemory, together, blocks);
                        ParallelUnits.For(units, workers, body, _input, _output, _gamma, _beta, _stat0, _stat1);
                    }
                }
                finally
                {
                    scratch.Return();
                }
                return;
            }
            Whole<TS, TV, TW>(layout);
        }

        /// <summary>
        /// Whether a training call's interleaved blocks run in memory order: each worker's share of them as one group
        /// (<see cref="GroupUnit{TS, TV, TW}"/>), its statistics pass and then its apply each one sequential stream through
        /// the worker's part of every row. Where the output streams (the tensors exceed the last-level cache) and the tensor
        /// is rows x blocks x run with block b's first run at b * run (<see cref="InterleavedRuns.Stride"/>; BatchNorm NCHW:
        /// rows n, blocks c, runs h w). Groups of a few blocks (<see cref="GroupBlocks"/>: 5 channels for BatchNorm S1) read
        /// 32 runs of 63 KB, 800 KB apart, and this machine's memory reads scattered runs at about half its sequential rate: a
        /// read-only pass over two 25.7 MB tensors (x and dy), one loop called per run, took 2.3-2.5 ms channel by channel
        /// against 1.1-1.3 ms sample by sample (AMD EPYC Zen 5, 1 thread, 2026-12-03). In memory order the apply reads the
        /// tensor from memory a second time, and that is still faster than the groups were with each group's apply pipelined
        /// beside the next group's statistics (twenty-third session): BatchNorm training NCHW S1 1.58-1.70 -> 1.42-1.55x the
        /// limit at 1 thread, AVX2 1.74-1.84 -> 1.44-1.47x, 2 threads 1.41-1.46 -> 1.20-1.47x (see the README's
        /// twenty-ninth section). Each block still sums its rows in order into its own sums, so the bits are those of any
        /// grouping. On an AMD EPYC Zen 3 guest (L2 512 KB, 2026-12-07) the groups were faster: BatchNorm training NCHW S1 at
        /// 1 thread 0.81-0.92 of memory order's time (harness, one process alternating, five runs), so a layer's call past the
        /// threshold runs in the order its order tuner chose (<see cref="Streaming.SecondOrder"/>, <c>Runtime.LayerTuner</c>);
        /// a call that has the choice says so (<see cref="LastCall.OrderChoice"/>).
        /// </summary>
        private bool MemoryOrder<TS, TV, TW>(int blocks) where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
        {
            if (!TW.Streaming || TS.Count == 1 || mode != ForwardMode.Training || !Interleaved(nest, blocks)
                || InterleavedRuns.Stride<TNest, T>(nest, blocks, nest.StatisticsRows(out _), nest.StatisticsExtent, _input.Length) == 0)
                return false;
            // A call its layer's order tuner can time either way (Streaming.SecondOrder: the groups of a few blocks).
            LastCall.Current.OrderChoice = true;
            return !Streaming.SecondOrder;
        }

        /// <summary>
        /// Whether a training call runs its blocks pipelined (<see cref="PipelinedUnit{TS, TV, TW}"/>): its output streams, each
        /// worker has at least two blocks, and the nest's blocks are either channels-last rows in both passes
        /// (<see cref="INest{T}.Pipelines"/> 1: InstanceNorm and GroupNorm NHWC, a sample a block) whose apply runs as one
        /// streamed flat range (<see cref="Runs{TS, TV, T}.PipelinesRows"/>), or runs (2: GroupNorm NCHW, a group's channels a
        /// block; LayerNorm over C,H,W, a sample) on the 512-bit path without a fused activation
        /// (<see cref="Runs{TS, TV, T}.PipelinesRuns"/>).
        /// </summary>
        private bool PipelinedBlocks<TS, TV, TW>(int blocks, int workers) where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores =>
            TW.Streaming && TS.Count > 1 && mode == ForwardMode.Training && blocks >= 2 * workers && nest.Pipelines switch
            {
                1 => Runs<TS, TV, T>.PipelinesRows(nest.StatisticsRows(out _), nest.StatisticsExtent),
                2 => !TK.Epilogue && Runs<TS, TV, T>.PipelinesRuns(nest.ApplyRows(out _), nest.ApplyExtent),
                _ => false,
            };

        /// <summary>A row plan (<see cref="RowPlan"/>): groups of consecutive rows per unit, row after row
        /// (<see cref="Runs{TS, TV, T}.Rows"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Rows<TS, TV, TW>(Layout layout) where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
        {
            int blocks = nest.BlockCount;
            nint len = nest.StatisticsExtent;
            int group = RowGroup(blocks, len);
            int units = (blocks + group - 1) / group;
            int workers = Parallelism.Workers(_input.Length, units);
            // Per row of a unit: its two sums and its three coefficients.
            WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, 2 * group, Math.Max(layout.Elements, 3 * group));
            try
            {
                var body = new RowUnit<TS, TV, TW>(nest, layout, group, blocks, len, epsilon, scratch.Doubles, scratch.Elements, meanResidual,
                    !TW.Streaming && (long)(_input.Length + _output.Length) * Unsafe.SizeOf<T>() <= PhasedBytes, FromMemory);
                ParallelUnits.For(units, workers, body, _input, _output, _gamma, _beta, _stat0, _stat1);
            }
            finally
            {
                scratch.Return();
            }
        }

        /// <summary>A whole-tensor plan: statistics over chunks (training), coefficients, apply over chunks.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Whole<TS, TV, TW>(Layout layout) where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
        {
            WorkerScratch<T> scratch = WorkerScratch<T>.Rent(1, layout.Doubles, layout.Elements);
            double[] doubles = scratch.Doubles[0];
            T[] elements = scratch.Elements[0];
            double[]? partials = null;
            try
            {
                ref T gamma = ref MemoryMarshal.GetReference(_gamma);
                ref T beta = ref MemoryMarshal.GetReference(_beta);
                if (mode != ForwardMode.Inference)
                {
                    ref T x = ref MemoryMarshal.GetReference(_input);
                    Shift(nest, layout, ref x, ref MemoryMarshal.GetArrayDataReference(elements));
                    nint rows = nest.StatisticsRows(out bool splittable);
                    int chunks = Chunks(_input.Length, rows, splittable);
                    int width = 2 * layout.Accumulators;
                    partials = ArrayPool<double>.Shared.Rent(chunks * width);
                    new Span<double>(partials, 0, chunks * width).Clear();
                    var body = new StatisticsChunk<TS, TV>(nest, layout, rows, chunks, partials, elements, FromMemory);
                    ParallelUnits.For(chunks, Parallelism.Workers(_input.Length, chunks), body, _input, default, default, default, default, default);
                    // Merge the chunks' partial sums in chunk order (deterministic whatever ran them).
                    Runtime.Statistics.SumPartials(doubles.AsSpan(0, width), partials, chunks);
                    FinishStatistics(nest, layout, ref MemoryMarshal.GetArrayDataReference(doubles), ref MemoryMarshal.GetArrayDataReference(elements), 0, ref MemoryMarshal.GetReference(_stat0), ref MemoryMarshal.GetReference(_stat1), epsilon, meanResidual, mode);
                    if (mode == ForwardMode.Moments) return;
                }
                else
                {
                    RunningTerms(layout, ref MemoryMarshal.GetArrayDataReference(doubles), 0, ref MemoryMarshal.GetReference(_stat0), ref MemoryMarshal.GetReference(_stat1), epsilon, meanResidual);
                }
                Coefficients(nest, layout, ref MemoryMarshal.GetArrayDataReference(doubles), ref MemoryMarshal.GetArrayDataReference(elements), ref gamma, ref beta);
                // Apply over chunks of its first segment (no reduction: any split gives the same bits).
                nint applyRows = nest.ApplyRows(out bool applySplittable);
                int applyChunks = Chunks(_input.Length, applyRows, applySplittable);
                var apply = new ApplyChunk<TS, TV, TW>(nest, layout, applyRows, applyChunks, elements);
                ParallelUnits.For(applyChunks, Parallelism.Workers(_input.Length, applyChunks), apply, _input, _output, _gamma, _beta, default, default);
            }
            finally
            {
                if (partials is not null) ArrayPool<double>.Shared.Return(partials);
                scratch.Return();
            }
        }
    }

    /// <summary>
    /// Whether the plan is rows: each block one statistic over one contiguous run of the tensor that starts where the last
    /// ended (LayerNorm and RMSNorm over the last dim, InstanceNorm NCHW, BatchNorm NCHW with N = 1, GroupNorm NCHW with one
    /// channel per group), applied along the same run, with one coefficient
    /// set per row and either gamma and beta along the row (two-step, one fold per element, the first at 0) or none folded
    /// in besides the row's own (folded, one coefficient). Such plans run row after row (<see cref="Runs{TS, TV, T}.Rows"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool RowPlan(TNest nest, int length)
    {
        // A block of one segment reports its run as its rows; a block of one row of it (BatchNorm NCHW with N = 1) reports 1;
        // either way, with the apply's run the statistics' run, the apply is that one run (GroupNorm with one channel per
        // group reports the segment for its statistics and its one fold's row for the apply).
        nint len = nest.StatisticsExtent, rows = nest.StatisticsRows(out _), applyRows = nest.ApplyRows(out _);
        if (nest.StatisticCount != 1 || nest.CoefficientCount != 1 || nest.AccumulatorCount != 1 || nest.Promoted || len < 1
            || nest.ApplyExtent != len || (rows != len && rows != 1) || (applyRows != len && applyRows != 1) || nest.StatisticStart(0) != 0
            || ContiguousBlock(nest, length) != len || !ConsecutiveStatistics(nest))
            return false;
        if (!nest.TwoStep) return true;
        if (!nest.Affine || nest.FoldCount != len) return false;
        nest.Block(nest.BlockCount - 1, out _, out _, out nint parameter);
        nest.Fold(len - 1, out nint statistic, out nint last);
        return parameter == 0 && statistic == 0 && last == len - 1;
    }

    /// <summary>Whether a block's apply is its folds' runs back to back, each short (<see cref="Runs{TS, TV, T}.LaneRows"/>)
    /// with its own folded coefficients (GroupNorm NCHW: a group's channels): then <see cref="Runs{TS, TV, T}.ShortRuns{TK}"/>
    /// applies it, run by run with broadcast coefficients and an overlapped last vector, in place of the nest's run by run
    /// apply and its blended tails (the same bits). Not with a residual
    /// added after the norm (its operand is not carried there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool ShortRunApply<TS, TV>(TNest nest, int length) where TS : struct, ISimd<TV, T> where TV : struct
    {
        nint len = nest.ApplyExtent;
        int folds = nest.FoldCount;
        if (TK.AddsResidual || nest.TwoStep || folds < 2 || nest.CoefficientCount != folds || nest.ApplyRows(out _) != folds
            || !Runs<TS, TV, T>.LaneRows(len))
            return false;
        return nest.FoldStart(1) == len && nest.FoldStart(folds - 1) == (folds - 1) * len && ContiguousBlock(nest, length) == folds * len;
    }

    /// <summary>Whether block b's statistic is b (a row plan writes its statistics by index: block b's at b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool ConsecutiveStatistics(TNest nest)
    {
        int blocks = nest.BlockCount;
        nest.Block(0, out _, out nint first, out _);
        if (blocks < 2) return first == 0;
        nest.Block(1, out _, out nint second, out _);
        nest.Block(blocks - 1, out _, out nint last, out _);
        return first == 0 && second == 1 && last == blocks - 1;
    }

    /// <summary>The elements of a block when the plan's blocks are consecutive runs of the tensor (block b at b times that), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static nint ContiguousBlock(TNest nest, int length)
    {
        int blocks = nest.BlockCount;
        if (blocks < 1 || length % blocks != 0) return 0;
        nint size = length / blocks;
        if (blocks == 1) return size;
        nest.Block(1, out nint second, out _, out _);
        nest.Block(blocks - 1, out nint last, out _, out _);
        return second == size && last == (blocks - 1) * size ? size : 0;
    }

    /// <summary>Rows per unit of a row plan: about <see cref="RowGroupBytes"/> of input, and at least 8 units where there are
    /// 8 rows (a function of the shape alone).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowGroup(int blocks, nint len)
    {
        long byBytes = Math.Max(1, RowGroupBytes / ((long)len * Unsafe.SizeOf<T>())), byUnits = (blocks + 7) / 8;
        return (int)Math.Max(1, Math.Min(byBytes, byUnits));
    }

    /// <summary>Calls whose input and output bytes together are at most this, and that do not stream their output, run a row
    /// plan's units phased (see <see cref="Runs{TS, TV, T}.Rows"/>): in cache, the rows' scalar chains overlap; beyond, row after row streams better
    /// (LayerNorm [1024, 768], 6 MB: phased 14% faster; [2048, 768], 12 MB: 10% slower). A quarter of a 32 MB L3.</summary>
    private const long PhasedBytes = 8L << 20;

    /// <summary>Rows of a call that <see cref="SmallRows"/> takes at most (their sums and coefficients on the stack).</summary>
    private const int SmallRowCount = 64;

    /// <summary>Whether a row plan's call is small: at most <see cref="SmallRowCount"/> rows, and fewer elements than the
    /// runner gives a second thread (<see cref="Parallelism.MinElementsPerThread"/>), so its units would all run on the
    /// calling thread anyway (<see cref="FewRows{TS, TV}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool SmallRows(TNest nest, int length) =>
        nest.BlockCount <= SmallRowCount && length < Parallelism.MinElementsPerThread;

    /// <summary>Input bytes one unit of a row plan covers at most.</summary>
    private const long RowGroupBytes = 256L << 10;

    /// <summary>A fixed function of the shape: enough chunks of about <see cref="ChunkElements"/> elements, at most one per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call (tier 0 cost small calls 10-20% for their first calls)
    private static int Chunks(int length, nint rows, bool splittable) =>
        splittable ? (int)Math.Clamp(length / ChunkElements, 1, (long)rows) : 1;

    /// <summary>Bytes of input one group of interleaved blocks covers at most (see <see cref="GroupBlocks"/>).</summary>
    private const long GroupBytes = 2L << 20;

    /// <summary>
    /// Blocks per unit of work. 1, unless consecutive blocks are interleaved row by row: each block is rows of one contiguous
    /// run and the next block's run follows it in memory (a kept axis outside the runs and inside a reduced one: BatchNorm's
    /// channel in NCHW). Block by block, such a pass reads one run per row, far apart (N planes 800 KB apart for BatchNorm
    /// S1); a group of them read row by row is one sequential stream. A group covers at most <see cref="GroupBytes"/> and a
    /// shape keeps at least 8 units where it has 8 blocks. Each block still sums its rows in order into its own sums, so
    /// the bits are those of a block alone; the grouping is a function of the shape alone anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call (tier 0 cost small calls 10-20% for their first calls)
    private static int GroupBlocks(TNest nest, int blocks)
    {
        if (!Interleaved(nest, blocks)) return 1;
        long blockBytes = (long)nest.StatisticsRows(out _) * nest.StatisticsExtent * Unsafe.SizeOf<T>();
        long byBytes = Math.Max(1, GroupBytes / blockBytes), byUnits = (blocks + 7) / 8;
        return (int)Math.Max(1, Math.Min(byBytes, byUnits));
    }

    /// <summary>Whether consecutive blocks are interleaved row by row (see <see cref="GroupBlocks"/>): each block is rows of one
    /// contiguous run, the statistics and the apply pass go over the same rows and runs, and block 1's run follows block 0's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static bool Interleaved(TNest nest, int blocks)
    {
        nint rows = nest.StatisticsRows(out _), run = nest.StatisticsExtent;
        // A block of one segment (its run) reports that segment as its rows: rows == run; such a nest ignores [from, to).
        // (A nest of rows whose count happens to equal the run's length is left ungrouped too: slower, not wrong.)
        if (blocks < 2 || rows < 2 || rows == run || nest.ApplyRows(out _) != rows || nest.ApplyExtent != run) return false;
        nest.Block(0, out nint first, out _, out _);
        nest.Block(1, out nint second, out _, out _);
        return second - first == run;
    }

    /// <summary>Where each quantity sits in a unit's scratch. Doubles: sum and sq per accumulator (training), the
    /// statistics' sums when promoted, then mu and rstd per statistic. Elements: coefficients A, B, C, then (training)
    /// the shift per accumulator and, when promoted, per statistic.</summary>
    private readonly struct Layout
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Layout(TNest nest, bool training)
        {
            Statistics = nest.StatisticCount;
            Coefficients = nest.CoefficientCount;
            Accumulators = training ? nest.AccumulatorCount : 0;
            bool promoted = training && nest.Promoted;
            StatSums = 2 * Accumulators;
            Mu = StatSums + (promoted ? 2 * Statistics : 0);
            Doubles = Mu + 2 * Statistics;
            Shift = 3 * Coefficients;
            StatShift = Shift + (promoted ? Accumulators : 0);
            Elements = Shift + (training ? Accumulators + (promoted ? Statistics : 0) : 0);
            AccumulatorRun = promoted ? AccumulatorRunOf(nest, Accumulators, Statistics) : 0;
            FirstRowShifts = training && FirstRow(nest, Statistics);
            FoldRun = nest.TwoStep ? 0 : FoldRunOf(nest, Coefficients);
        }

        /// <summary>q when promoted accumulator a adds into statistic a / q, every one of them (checked here, once a call):
        /// GroupNorm's channels of a group, consecutive. 0 otherwise.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int AccumulatorRunOf(TNest nest, int accumulators, int statistics)
        {
            if (statistics < 1 || accumulators % statistics != 0) return 0;
            int q = accumulators / statistics, j = 0;
            nint statistic = 0;
            for (int a = 0; a < accumulators; a++)
            {
                // statistic = a / q, j = a % q, kept by counting.
                if (nest.AccumulatorStatistic(a) != statistic) return 0;
                if (++j == q)
                {
                    j = 0;
                    statistic++;
                }
            }
            return q;
        }

        /// <summary>Whether statistic s starts at element s of its block, every one (checked here, once a call): their shifts
        /// are the block's first elements (channels last: its first row).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static bool FirstRow(TNest nest, int statistics)
        {
            for (int s = 0; s < statistics; s++)
                if (nest.StatisticStart(s) != s) return false;
            return true;
        }

        /// <summary>q when fold f's statistic is fold 0's plus f / q and its parameter fold 0's plus f, every fold (checked here,
        /// once a call): 1 for folds in step with their statistics (channels last), the channels of a group per statistic
        /// (GroupNorm). 0 otherwise.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int FoldRunOf(TNest nest, int folds)
        {
            if (folds < 1) return 0;
            nest.Fold(0, out nint s0, out nint p0);
            // One pass: q is the first fold whose statistic moves on (s0 + 1); from there statistic = s0 + f / q by counting.
            int q = 0, j = 0;
            nint statistic = s0;
            for (int f = 1; f < folds; f++)
            {
                nest.Fold(f, out nint s, out nint p);
                if (p != p0 + f) return 0;
                if (q == 0)
                {
                    if (s == s0) continue;
                    if (s != s0 + 1) return 0;
                    q = f;
                    statistic = s0 + 1;
                    j = 0;
                    continue;
                }
                if (++j == q)
                {
                    j = 0;
                    statistic++;
                }
                if (s != statistic) return 0;
            }
            return q == 0 ? folds : q;
        }

        public int Statistics { get; }
        public int Coefficients { get; }
        public int Accumulators { get; }
        public int StatSums { get; }
        public int Mu { get; }
        public int Doubles { get; }
        public int Shift { get; }
        public int StatShift { get; }
        public int Elements { get; }

        /// <summary>Promoted accumulators per statistic when accumulator a adds into statistic a / that (else 0).</summary>
        public int AccumulatorRun { get; }

        /// <summary>Folds per statistic when fold f takes statistic s0 + f / that and parameter p0 + f (else 0).</summary>
        public int FoldRun { get; }

        /// <summary>Training, and statistic s starts at element s of a block (its shifts are the block's first elements).</summary>
        public bool FirstRowShifts { get; }
    }

    /// <summary>Each statistic's shift (its first element), so sums of x - shift stay small whatever the data's offset;
    /// copied to every accumulator of the statistic when they are promoted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)] // not inlined into Whole with tiering on: optimized anyway
    private static void Shift(TNest nest, Layout layout, ref T xb, ref T elements)
    {
        if (!TK.Centered) return;
        ref T statShift = ref Unsafe.Add(ref elements, layout.StatShift);
        if (layout.FirstRowShifts && layout.Statistics == 1)
            statShift = xb;
        else if (layout.FirstRowShifts)
            MemoryMarshal.CreateReadOnlySpan(ref xb, layout.Statistics).CopyTo(MemoryMarshal.CreateSpan(ref statShift, layout.Statistics));
        else
            for (int s = 0; s < layout.Statistics; s++)
                Unsafe.Add(ref statShift, s) = Unsafe.Add(ref xb, nest.StatisticStart(s));
        if (layout.StatShift == layout.Shift) return;
        ref T shift = ref Unsafe.Add(ref elements, layout.Shift);
        if (layout.AccumulatorRun > 0)
        {
            // A vector at a time (the backward's fill of m, inlined): the shifts of a GroupNorm(32) NHWC S2 sample (32 taken,
            // 512 written) took 210-250 ns element by element, 100-110 ns so (AMD Zen 5; with the four-at-a-time statistics
            // in FinishStatistics, GroupNorm(32) NHWC S2 about 5% faster at 1 and 2 threads: bench/HISTORY.md, forty-eighth section).
            int q = layout.AccumulatorRun;
            for (int s = 0; s < layout.Statistics; s++)
                ExpandedInference<TK, T>.Fill(ref Unsafe.Add(ref shift, s * q), q, Unsafe.Add(ref statShift, s));
            return;
        }
        for (int a = 0; a < layout.Accumulators; a++)
            Unsafe.Add(ref shift, a) = Unsafe.Add(ref statShift, nest.AccumulatorStatistic(a));
    }

    /// <summary>A block's <paramref name="count"/> sums set to 0: a few in a loop here (a block of one statistic: GroupNorm NCHW's
    /// groups), more by <see cref="Span{T}.Clear"/> (a call). With a block of one statistic's shift taken without
    /// <c>Span.CopyTo</c> (<see cref="Shift"/>), two calls a block fewer: GroupNorm(32) NCHW 2x512x7x7 (in L2), AMD Zen 5, 1
    /// thread, both builds in one process alternating, both orders: 0.946-0.987 of the time; 32x512x7x7 0.97-1.00.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ClearSums(ref double sums, int count)
    {
        if (count > 16)
        {
            MemoryMarshal.CreateSpan(ref sums, count).Clear();
            return;
        }
        for (int i = 0; i < count; i++) Unsafe.Add(ref sums, i) = 0d;
    }

    /// <summary>Promoted accumulators combined into their statistic in a fixed order; the statistics written out
    /// (at <paramref name="so"/>) and kept as mu and rstd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)] // not inlined into Whole with tiering on: optimized anyway
    private static void FinishStatistics(TNest nest, Layout layout, ref double doubles, ref T elements, nint so, ref T stat0, ref T stat1, T epsilon, T[]? meanResidual,
        ForwardMode mode)
    {
        ref double sum = ref doubles;
        ref double sq = ref Unsafe.Add(ref sum, layout.Accumulators);
        ref double statSum = ref sum, statSq = ref sq;
        if (layout.Mu != layout.StatSums)
        {
            statSum = ref Unsafe.Add(ref sum, layout.StatSums);
            statSq = ref Unsafe.Add(ref statSum, layout.Statistics);
            if (layout.AccumulatorRun > 0)
            {
                // A statistic's accumulators are consecutive: added in a register from 0 in accumulator order, the same
                // operations as the loop below, without each addition waiting on the last one's store (GroupNorm NHWC S2,
                // 512 accumulators a block: about 9 cycles each that way).
                int q = layout.AccumulatorRun;
                int s = 0;
                // Four statistics at a time, each its own two chains (eight in flight, not two): GroupNorm(32) NHWC S2's 32
                // statistics of 16 accumulators a sample, the whole finish 270-330 ns one by one, 230-240 this way (AMD Zen 5).
                for (; s + 4 <= layout.Statistics; s += 4)
                {
                    double ts0 = 0, tq0 = 0, ts1 = 0, tq1 = 0, ts2 = 0, tq2 = 0, ts3 = 0, tq3 = 0;
                    ref double ps = ref Unsafe.Add(ref sum, s * q), pq = ref Unsafe.Add(ref sq, s * q);
                    for (int j = 0; j < q; j++)
                    {
                        ts0 += Unsafe.Add(ref ps, j);
                        tq0 += Unsafe.Add(ref pq, j);
                        ts1 += Unsafe.Add(ref ps, q + j);
                        tq1 += Unsafe.Add(ref pq, q + j);
                        ts2 += Unsafe.Add(ref ps, 2 * q + j);
                        tq2 += Unsafe.Add(ref pq, 2 * q + j);
                        ts3 += Unsafe.Add(ref ps, 3 * q + j);
                        tq3 += Unsafe.Add(ref pq, 3 * q + j);
                    }
                    Unsafe.Add(ref statSum, s) = ts0;
                    Unsafe.Add(ref statSq, s) = tq0;
                    Unsafe.Add(ref statSum, s + 1) = ts1;
                    Unsafe.Add(ref statSq, s + 1) = tq1;
                    Unsafe.Add(ref statSum, s + 2) = ts2;
                    Unsafe.Add(ref statSq, s + 2) = tq2;
                    Unsafe.Add(ref statSum, s + 3) = ts3;
                    Unsafe.Add(ref statSq, s + 3) = tq3;
                }
                for (; s < layout.Statistics; s++)
                {
                    double ts = 0, tq = 0;
                    ref double ps = ref Unsafe.Add(ref sum, s * q), pq = ref Unsafe.Add(ref sq, s * q);
                    for (int j = 0; j < q; j++)
                    {
                        ts += Unsafe.Add(ref ps, j);
                        tq += Unsafe.Add(ref pq, j);
                    }
                    Unsafe.Add(ref statSum, s) = ts;
                    Unsafe.Add(ref statSq, s) = tq;
                }
            }
            else
            {
                MemoryMarshal.CreateSpan(ref statSum, 2 * layout.Statistics).Clear();
                for (int a = 0; a < layout.Accumulators; a++)
                {
                    nint s = nest.AccumulatorStatistic(a);
                    Unsafe.Add(ref statSum, s) += Unsafe.Add(ref sum, a);
                    Unsafe.Add(ref statSq, s) += Unsafe.Add(ref sq, a);
                }
            }
        }
        ref double mu = ref Unsafe.Add(ref sum, layout.Mu);
        ref double rstd = ref Unsafe.Add(ref mu, layout.Statistics);
        ref T statShift = ref Unsafe.Add(ref elements, layout.StatShift);
        double count = nest.Count, eps = double.CreateTruncating(epsilon);
        int first = 0;
        if (typeof(T) == typeof(float) && mode != ForwardMode.Moments && Vector256.IsHardwareAccelerated)
            first = FinishFour(layout.Statistics, ref statShift, ref statSum, ref statSq, count, eps, ref mu, ref rstd, ref Unsafe.Add(ref stat0, so),
                ref Unsafe.Add(ref stat1, so), meanResidual, so);
        for (int s = first; s < layout.Statistics; s++)
        {
            if (mode == ForwardMode.Moments)
            {
                // Mergeable moments (centered kinds only): stat0 and stat1 hold doubles.
                (double momentMean, double momentM2) = Runtime.Statistics.MomentsFromShiftedSums(double.CreateTruncating(Unsafe.Add(ref statShift, s)),
                    Unsafe.Add(ref statSum, s), Unsafe.Add(ref statSq, s), count);
                Unsafe.Add(ref Unsafe.As<T, double>(ref stat0), so + s) = momentMean;
                Unsafe.Add(ref Unsafe.As<T, double>(ref stat1), so + s) = momentM2;
            }
            else if (TK.Centered)
            {
                (double mean, double variance) = Runtime.Statistics.FromShiftedSums(double.CreateTruncating(Unsafe.Add(ref statShift, s)),
                    Unsafe.Add(ref statSum, s), Unsafe.Add(ref statSq, s), count);
                T rounded = T.CreateTruncating(mean);
                Unsafe.Add(ref stat0, so + s) = rounded;
                if (meanResidual is not null) meanResidual[so + s] = T.CreateTruncating(mean - double.CreateTruncating(rounded));
                Unsafe.Add(ref stat1, so + s) = T.CreateTruncating(variance);
                Unsafe.Add(ref mu, s) = mean;
                Unsafe.Add(ref rstd, s) = Runtime.Statistics.InverseStd(variance, eps);
            }
            else
            {
                double meanSquare = Unsafe.Add(ref statSq, s) * (1d / count);
                Unsafe.Add(ref stat0, so + s) = T.CreateTruncating(meanSquare);
                Unsafe.Add(ref mu, s) = 0d;
                Unsafe.Add(ref rstd, s) = Runtime.Statistics.InverseStd(meanSquare, eps);
            }
        }
    }

    /// <summary>
    /// <see cref="FinishStatistics"/>'s loop four statistics at a time (float, <see cref="StatisticsFour"/>: the same bits;
    /// a block of 512 statistics, InstanceNorm NHWC, took about 30 cycles a statistic one by one). Returns how many it
    /// finished (a multiple of four); the caller finishes the rest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FinishFour(int statistics, ref T shift, ref double sum, ref double sq, double count, double eps, ref double mu, ref double rstd,
        ref T stat0, ref T stat1, T[]? meanResidual, nint so)
    {
        int s = 0;
        // 1/n made once here: made in each batch, its scalar division shared the divider with the batch's square root and
        // division (AMD EPYC Zen 3, AVX2: about 4 of a batch's 16-20 cycles). InstanceNorm NHWC S2 (512 statistics a
        // block), 1 thread, six process pairs alternating builds: its time over GroupNorm NHWC S2's in the same process,
        // medians 1.069 -> 1.048 (about 2%, what 4 cycles for each of 4,096 batches make). The same value: the same bits.
        double inverse = 1d / count;
        // Eight at a time where AVX-512 is there (StatisticsEight: the same bits; eight divisions cost what four do).
        if (Avx512F.IsSupported)
            for (; s + 8 <= statistics; s += 8)
            {
                Vector512<double> k = TK.Centered ? Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref shift), (nuint)s)) : default;
                StatisticsEight(k, Vector512.LoadUnsafe(ref sum, (nuint)s), Vector512.LoadUnsafe(ref sq, (nuint)s), inverse, eps,
                    ref Unsafe.Add(ref stat0, s), ref Unsafe.Add(ref stat1, s), ref meanResidual is null ? ref Unsafe.NullRef<T>() : ref meanResidual[so + s],
                    out Vector512<double> m8, out Vector512<double> r8);
                m8.StoreUnsafe(ref mu, (nuint)s);
                r8.StoreUnsafe(ref rstd, (nuint)s);
            }
        for (; s + 4 <= statistics; s += 4)
        {
            Vector256<double> k = TK.Centered ? Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref shift), (nuint)s).ToVector256Unsafe()) : default;
            StatisticsFour(k, Vector256.LoadUnsafe(ref sum, (nuint)s), Vector256.LoadUnsafe(ref sq, (nuint)s), inverse, eps,
                ref Unsafe.Add(ref stat0, s), ref Unsafe.Add(ref stat1, s), ref meanResidual is null ? ref Unsafe.NullRef<T>() : ref meanResidual[so + s],
                out Vector256<double> m, out Vector256<double> r);
            m.StoreUnsafe(ref mu, (nuint)s);
            r.StoreUnsafe(ref rstd, (nuint)s);
        }
        return s;
    }

    /// <summary>
    /// Four statistics from their shifts <paramref name="k"/> and sums, as <see cref="FinishStatistics"/> and
    /// <see cref="RowFinish.Finish"/> make one (float): centered, the mean (its float rounding into stat0, the rounding's
    /// residual into <paramref name="residual"/> unless null) and the biased variance (clamped at 0, into stat1);
    /// uncentered, the mean square into stat0 and a zero mu. The same double operations in the same order on four lanes
    /// (no fused multiply-add, as the scalar code; the sums times 1/n, as <see cref="Runtime.Statistics.FromShiftedSums"/>),
    /// so the same bits, with the divisions and square roots four at a time. Multiplied by 1/n instead of divided by n
    /// twice: InstanceNorm NCHW S2 (16,384 statistics of 49) 117-119 -> 111-114 us, NHWC 147-156 -> 147-148, InstanceNorm
    /// NCHW S5 810-820 -> 777-783 ns (AMD Zen 5, 1 thread, three process pairs alternating builds, medians of 11 rounds).
    /// <paramref name="inverseCount"/> is that 1/n, made by the caller (once a block in <see cref="FinishStatistics"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StatisticsFour(Vector256<double> k, Vector256<double> sum, Vector256<double> sq, double inverseCount, double eps,
        ref T stat0, ref T stat1, ref T residual, out Vector256<double> mu, out Vector256<double> rstd)
    {
        var inverse = Vector256.Create(inverseCount);
        Vector256<double> second;
        if (TK.Centered)
        {
            Vector256<double> shifted = sum * inverse;
            second = sq * inverse - shifted * shifted;
            second = Vector256.ConditionalSelect(Vector256.LessThan(second, Vector256<double>.Zero), Vector256<double>.Zero, second);
            mu = k + shifted;
            Vector128<float> rounded = Runtime.Statistics.NarrowFour(mu);
            rounded.StoreUnsafe(ref Unsafe.As<T, float>(ref stat0));
            if (!Unsafe.IsNullRef(ref residual))
            {
                Vector256<double> rest = mu - Vector256.WidenLower(rounded.ToVector256Unsafe());
                Runtime.Statistics.NarrowFour(rest).StoreUnsafe(ref Unsafe.As<T, float>(ref residual));
            }
            Runtime.Statistics.NarrowFour(second).StoreUnsafe(ref Unsafe.As<T, float>(ref stat1));
        }
        else
        {
            second = sq * inverse;
            Runtime.Statistics.NarrowFour(second).StoreUnsafe(ref Unsafe.As<T, float>(ref stat0));
            mu = Vector256<double>.Zero;
        }
        rstd = Vector256<double>.One / Vector256.Sqrt(second + Vector256.Create(eps));
    }

    /// <summary><see cref="StatisticsFour"/> on eight lanes (the same operations: the same bits; AVX-512 divides and takes
    /// square roots of eight doubles at the rate of four: AMD Zen 5, about 4 and 7.5 cycles an instruction either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StatisticsEight(Vector512<double> k, Vector512<double> sum, Vector512<double> sq, double inverseCount, double eps,
        ref T stat0, ref T stat1, ref T residual, out Vector512<double> mu, out Vector512<double> rstd)
    {
        var inverse = Vector512.Create(inverseCount);
        Vector512<double> second;
        if (TK.Centered)
        {
            Vector512<double> shifted = sum * inverse;
            second = sq * inverse - shifted * shifted;
            second = Vector512.ConditionalSelect(Vector512.LessThan(second, Vector512<double>.Zero), Vector512<double>.Zero, second);
            mu = k + shifted;
            Vector256<float> rounded = Avx512F.ConvertToVector256Single(mu);
            rounded.StoreUnsafe(ref Unsafe.As<T, float>(ref stat0));
            if (!Unsafe.IsNullRef(ref residual))
                Avx512F.ConvertToVector256Single(mu - Avx512F.ConvertToVector512Double(rounded)).StoreUnsafe(ref Unsafe.As<T, float>(ref residual));
            Avx512F.ConvertToVector256Single(second).StoreUnsafe(ref Unsafe.As<T, float>(ref stat1));
        }
        else
        {
            second = sq * inverse;
            Avx512F.ConvertToVector256Single(second).StoreUnsafe(ref Unsafe.As<T, float>(ref stat0));
            mu = Vector512<double>.Zero;
        }
        rstd = Vector512<double>.One / Vector512.Sqrt(second + Vector512.Create(eps));
    }

    /// <summary>mu and rstd of a block's statistics from given (running) statistics at <paramref name="so"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunningTerms(Layout layout, ref double doubles, nint so, ref T mean, ref T variance, T epsilon, T[]? meanResidual)
    {
        ref double mu = ref Unsafe.Add(ref doubles, layout.Mu);
        ref double rstd = ref Unsafe.Add(ref mu, layout.Statistics);
        double eps = double.CreateTruncating(epsilon);
        for (int s = 0; s < layout.Statistics; s++)
        {
            // Uncentered kinds take no mean (their "variance" is the mean square).
            Unsafe.Add(ref mu, s) = !TK.Centered ? 0d : double.CreateTruncating(Unsafe.Add(ref mean, so + s)) +
                (meanResidual is not null ? double.CreateTruncating(meanResidual[so + s]) : 0d);
            Unsafe.Add(ref rstd, s) = Runtime.Statistics.InverseStd(double.CreateTruncating(Unsafe.Add(ref variance, so + s)), eps);
        }
    }

    /// <summary>
    /// The coefficients, computed in double, with C the mean rounded to the element type (0 when uncentered).
    /// Folded: one set per fold index, <c>y = (x - C) * A + B</c>, A = gamma * rstd, B = beta - (mean - C) * A: x - C is
    /// exact for x near the mean, so y keeps the element type's precision relative to y itself. Two-step: one set per
    /// statistic, <c>y = ((x - C) * A + B) * gamma + beta</c>, A = rstd, B = -(mean - C) * rstd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Coefficients(TNest nest, Layout layout, ref double doubles, ref T elements, ref T gamma, ref T beta)
    {
        ref double mu = ref Unsafe.Add(ref doubles, layout.Mu);
        ref double rstd = ref Unsafe.Add(ref mu, layout.Statistics);
        ref T coefA = ref elements;
        ref T coefB = ref Unsafe.Add(ref coefA, layout.Coefficients);
        ref T coefC = ref Unsafe.Add(ref coefB, layout.Coefficients);
        bool affine = nest.Affine, twoStep = nest.TwoStep;
        int first = 0;
        int run = layout.FoldRun;
        if (typeof(T) == typeof(float) && !twoStep && Vector256.IsHardwareAccelerated && layout.Coefficients >= 4 && (run == 1 || (run > 0 && run % 4 == 0)))
        {
            // Folds whose parameters advance with them and whose statistics do too (channels last) or every `run` folds
            // (GroupNorm NHWC's channels of a group): four at a time.
            nest.Fold(0, out nint s0, out nint p0);
            first = CoefficientsFour(layout.Coefficients, run, ref Unsafe.Add(ref mu, s0), ref Unsafe.Add(ref rstd, s0), affine,
                ref Unsafe.Add(ref gamma, p0), ref Unsafe.Add(ref beta, p0), ref coefA, ref coefB, ref coefC);
        }
        for (int f = first; f < layout.Coefficients; f++)
        {
            nint s = f, p = 0;
            if (!twoStep) nest.Fold(f, out s, out p);
            double m = Unsafe.Add(ref mu, s);
            T c = TK.Centered ? T.CreateTruncating(m) : T.Zero;
            double g = !twoStep && affine ? double.CreateTruncating(Unsafe.Add(ref gamma, p)) : 1d;
            double h = !twoStep && affine ? double.CreateTruncating(Unsafe.Add(ref beta, p)) : 0d;
            double a = g * Unsafe.Add(ref rstd, s);
            Unsafe.Add(ref coefA, f) = T.CreateTruncating(a);
            Unsafe.Add(ref coefB, f) = T.CreateTruncating(h - (m - double.CreateTruncating(c)) * a);
            Unsafe.Add(ref coefC, f) = c;
        }
    }

    /// <summary><see cref="Coefficients"/>' folded loop four coefficients at a time (float), for folds whose parameter
    /// advances with them and whose statistic advances with them (<paramref name="run"/> 1) or every <paramref name="run"/>
    /// folds (a multiple of four: four folds share one): the same double operations in the same order, so the same bits.
    /// Returns how many it made (a multiple of four).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CoefficientsFour(int coefficients, int run, ref double mu, ref double rstd, bool affine, ref T gamma, ref T beta, ref T coefA, ref T coefB, ref T coefC)
    {
        int f = 0;
        nint statistic = 0; // f / run, for run > 1
        int left = run;
        if (Avx512F.IsSupported && (run == 1 || run % 8 == 0))
        {
            // Eight at a time in Vector512<double> (the same operations): InstanceNorm NHWC S2's 512 coefficients a sample.
            for (; f + 8 <= coefficients; f += 8)
            {
                Vector512<double> m8 = run == 1 ? Vector512.LoadUnsafe(ref mu, (nuint)f) : Vector512.Create(Unsafe.Add(ref mu, statistic));
                Vector512<double> r8 = run == 1 ? Vector512.LoadUnsafe(ref rstd, (nuint)f) : Vector512.Create(Unsafe.Add(ref rstd, statistic));
                if ((left -= 8) == 0)
                {
                    statistic++;
                    left = run;
                }
                Vector256<float> c8 = TK.Centered ? Avx512F.ConvertToVector256Single(m8) : Vector256<float>.Zero;
                Vector512<double> g8 = affine ? Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref gamma), (nuint)f)) : Vector512<double>.One;
                Vector512<double> h8 = affine ? Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref beta), (nuint)f)) : Vector512<double>.Zero;
                Vector512<double> a8 = g8 * r8;
                Vector512<double> b8 = h8 - (m8 - Avx512F.ConvertToVector512Double(c8)) * a8;
                Avx512F.ConvertToVector256Single(a8).StoreUnsafe(ref Unsafe.As<T, float>(ref coefA), (nuint)f);
                Avx512F.ConvertToVector256Single(b8).StoreUnsafe(ref Unsafe.As<T, float>(ref coefB), (nuint)f);
                c8.StoreUnsafe(ref Unsafe.As<T, float>(ref coefC), (nuint)f);
            }
        }
        for (; f + 4 <= coefficients; f += 4)
        {
            Vector256<double> m = run == 1 ? Vector256.LoadUnsafe(ref mu, (nuint)f) : Vector256.Create(Unsafe.Add(ref mu, statistic));
            Vector256<double> r = run == 1 ? Vector256.LoadUnsafe(ref rstd, (nuint)f) : Vector256.Create(Unsafe.Add(ref rstd, statistic));
            if ((left -= 4) == 0)
            {
                statistic++;
                left = run;
            }
            Vector128<float> c = TK.Centered ? Runtime.Statistics.NarrowFour(m) : Vector128<float>.Zero;
            Vector256<double> g = affine ? Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref gamma), (nuint)f).ToVector256Unsafe()) : Vector256<double>.One;
            Vector256<double> h = affine ? Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref beta), (nuint)f).ToVector256Unsafe()) : Vector256<double>.Zero;
            Vector256<double> a = g * r;
            Vector256<double> b = h - (m - Vector256.WidenLower(c.ToVector256Unsafe())) * a;
            Runtime.Statistics.NarrowFour(a).StoreUnsafe(ref Unsafe.As<T, float>(ref coefA), (nuint)f);
            Runtime.Statistics.NarrowFour(b).StoreUnsafe(ref Unsafe.As<T, float>(ref coefB), (nuint)f);
            c.StoreUnsafe(ref Unsafe.As<T, float>(ref coefC), (nuint)f);
        }
        return f;
    }

    /// <summary>One block: statistics (training) or the given statistics, coefficients, apply; or <paramref name="together"/>
    /// consecutive blocks of short runs a unit (see <see cref="BlocksTogether"/>), of <paramref name="blocks"/> in all.</summary>
    private readonly struct BlockUnit<TS, TV, TW>(TNest nest, Layout layout, T epsilon, double[][] doubles, T[][] elements, T[]? meanResidual, ForwardMode mode,
        bool shortRuns, bool fromMemory, int together, int blocks) : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public unsafe void Run(int worker, int unit, in PinnedSpans spans)
        {
            if (together > 1)
            {
                Together(worker, unit * together, Math.Min(together, blocks - unit * together), in spans);
                return;
            }
            double[] d = doubles[worker];
            T[] e = elements[worker];
            nest.Block(unit, out nint xo, out nint so, out nint po);
            ref T xb = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S0), xo);
            ref T yb = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S1), xo);
            ref T gamma = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po);
            ref T beta = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po);
            if (mode != ForwardMode.Inference)
            {
                Shift(nest, layout, ref xb, ref MemoryMarshal.GetArrayDataReference(e));
                ClearSums(ref MemoryMarshal.GetArrayDataReference(d), 2 * layout.Accumulators);
                ref double sum = ref MemoryMarshal.GetArrayDataReference(d);
                Statistics<TS, TV>(nest, fromMemory, ref xb, 0, nest.StatisticsRows(out _), ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(e), layout.Shift),
                    ref sum, ref Unsafe.Add(ref sum, layout.Accumulators));
                FinishStatistics(nest, layout, ref MemoryMarshal.GetArrayDataReference(d), ref MemoryMarshal.GetArrayDataReference(e), so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual, mode);
                if (mode == ForwardMode.Moments) return;
            }
            else
            {
                RunningTerms(layout, ref MemoryMarshal.GetArrayDataReference(d), so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual);
            }
            Coefficients(nest, layout, ref MemoryMarshal.GetArrayDataReference(d), ref MemoryMarshal.GetArrayDataReference(e), ref gamma, ref beta);
            ref T coefA = ref MemoryMarshal.GetArrayDataReference(e);
            ref T coefB = ref Unsafe.Add(ref coefA, layout.Coefficients);
            if (shortRuns)
                Runs<TS, TV, T>.ShortRuns<TK>(ref xb, ref yb, nest.FoldCount, nest.ApplyExtent, ref coefA, ref coefB, ref Unsafe.Add(ref coefB, layout.Coefficients));
            else
                nest.Apply<TK, TW, TS, TV>(ref xb, ref yb, 0, nest.ApplyRows(out _), ref coefA, ref coefB, ref Unsafe.Add(ref coefB, layout.Coefficients), ref gamma, ref beta);
        }

        /// <summary>Blocks [<paramref name="first"/>, + <paramref name="count"/>) of a training call with the short-run apply,
        /// phase by phase (see <see cref="BlocksTogether"/>), block k in the worker's k-th scratch slot.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Together(int worker, int first, int count, in PinnedSpans spans)
        {
            ref double d0 = ref MemoryMarshal.GetArrayDataReference(doubles[worker]);
            ref T e0 = ref MemoryMarshal.GetArrayDataReference(elements[worker]);
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            for (int k = 0; k < count; k++)
            {
                ref double d = ref Unsafe.Add(ref d0, k * layout.Doubles);
                ref T e = ref Unsafe.Add(ref e0, k * layout.Elements);
                nest.Block(first + k, out nint xo, out _, out _);
                ref T xb = ref Unsafe.Add(ref x, xo);
                Shift(nest, layout, ref xb, ref e);
                ClearSums(ref d, 2 * layout.Accumulators);
                Statistics<TS, TV>(nest, fromMemory, ref xb, 0, nest.StatisticsRows(out _), ref Unsafe.Add(ref e, layout.Shift), ref d, ref Unsafe.Add(ref d, layout.Accumulators));
            }
            for (int k = 0; k < count; k++)
            {
                nest.Block(first + k, out _, out nint so, out _);
                FinishStatistics(nest, layout, ref Unsafe.Add(ref d0, k * layout.Doubles), ref Unsafe.Add(ref e0, k * layout.Elements), so, ref ParallelUnits.At<T>(spans.S4),
                    ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual, mode);
            }
            for (int k = 0; k < count; k++)
            {
                ref double d = ref Unsafe.Add(ref d0, k * layout.Doubles);
                ref T e = ref Unsafe.Add(ref e0, k * layout.Elements);
                nest.Block(first + k, out nint xo, out _, out nint po);
                ref T gamma = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po);
                ref T beta = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po);
                Coefficients(nest, layout, ref d, ref e, ref gamma, ref beta);
                ref T coefB = ref Unsafe.Add(ref e, layout.Coefficients);
                Runs<TS, TV, T>.ShortRuns<TK>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S1), xo), nest.FoldCount, nest.ApplyExtent, ref e, ref coefB,
                    ref Unsafe.Add(ref coefB, layout.Coefficients));
            }
        }
    }

    /// <summary>
    /// Blocks of short runs (<see cref="BlockUnit{TS, TV, TW}"/> with its short-run apply: GroupNorm NCHW on small planes, a
    /// group's channels a block) whose x and y together, four blocks at a time, fit in <see cref="TogetherBytes"/> go four to a
    /// unit, each phase for the four in turn: their statistics passes, their finishes, then each one's coefficients and apply
    /// (<see cref="BlockUnit{TS, TV, TW}"/>.Together). One block a unit, its finish (two divisions, a square root and a
    /// division, one chain) stood between its sums and its apply with nothing beside it; four finishes one after another are
    /// four independent chains, and a quarter of the units. Each block's operations are its own, so the same bits.
    /// GroupNorm(32) NCHW 32x512x7x7 (16 planes of 49 floats a block, 6 KB of x and y), AMD Zen 5, one process per build
    /// alternating (41 rounds each, ten pairs): 1 thread 104-110 -> 95-101 us (means 106.6 -> 97.9), 2 threads 58 -> 54-56;
    /// two blocks a unit 99-103 us, eight (50 KB) 100-105 at 1 thread; AVX2 even (124-128 -> 120-128).
    /// <para>Only where the call runs on one worker. At two, the same call with a block a unit ran faster (forty-seventh
    /// session, a disturbed host, both builds in one process alternating, both orders): a block a unit took 0.85-0.96 of
    /// the time of four a unit on 32x512x7x7 in eight pairs (72.7 against 81.2 us in one), 0.82-0.93 on 8x512x7x7 and
    /// 64x512x7x7; AVX2 even; while at one thread four a unit stays 11-12% faster (110 against 124 us). The bench had
    /// this case at 1.19x from one thread to two where the other S2 rows went 1.45-1.9x (after: 2.17 -> 1.52 of the
    /// limit at two threads). The same bits either way (LaneRowTests.ShortRunBlocksOnOneAndTwoWorkersAlike).</para>
    /// </summary>
    internal const int BlocksTogether = 4;

    /// <summary>The most bytes of x and y that <see cref="BlocksTogether"/> blocks of short runs take together (within L1).</summary>
    internal const long TogetherBytes = 32 << 10;

    /// <summary>
    /// A worker's share of the blocks (a unit per worker, consecutive blocks, then blocks no worker has started from the end
    /// of the other units' ranges), pipelined: the first block's statistics, then
    /// each block's finish, coefficients and streamed apply with the next block's statistics pass beside it, step by step
    /// (<see cref="INest{T}.ApplyReduce"/>: <see cref="Runs{TS, TV, T}.ApplyReduceRows"/> or
    /// <see cref="Runs{TS, TV, T}.ApplyRunsReduce"/>), in two scratch slots taken in turn. Each block's sums are those of its
    /// own pass, so the bits are <see cref="BlockUnit{TS, TV, TW}"/>'s.
    /// </summary>
    /// <remarks>A block of a sample at a time reads the sample from memory for its sums (reads only), then applies it from
    /// cache streaming out (writes only): the two halves each leave half of the memory's bandwidth idle, whatever the sample's
    /// size (InstanceNorm NHWC 2,048 x 56 x 56 floats in samples of 200 KB to 3.2 MB: 1.30-1.42x the streaming limit alike).
    /// Interleaved in chunks of 4-64 KB (a call per chunk) it stayed at 1.21-1.30x; a step of the apply beside each step
    /// of the sums, in one loop, brought a stand-alone model from 1.32 to 1.04x. AMD EPYC Zen 5, 1 thread, one process
    /// alternating: InstanceNorm NHWC S1 (32 x 56 x 56 x 64) 952 -> 761 us, GroupNorm(32) 956 -> 781 us; 2 threads 531 -> 409,
    /// 474 -> 356 us; AVX2 926 -> 834, 928 -> 808 us. Runs: GroupNorm NCHW S1 841 -> 694 us, LayerNorm over C,H,W 967 -> 823.</remarks>
    private readonly struct PipelinedUnit<TS, TV, TW>(TNest nest, Layout layout, int units, long[] ranges, nint rows, nint applyRows, T epsilon, double[][] doubles,
        T[][] elements, T[]? meanResidual, ForwardMode mode, bool fromMemory) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            // The blocks of this unit's range from its front, then those of the other units' ranges no worker has started,
            // from their ends (UnitRanges.Take), each taken before the block before it is applied: the pipeline runs on
            // through the blocks it takes from another range. Its own blocks are taken a quarter of what is left at a time:
            // one compare-exchange a block (a full fence, with the apply's streaming stores in flight) made GroupNorm(32)
            // NCHW S1 (1,024 blocks of 25 KB) 1.10-1.12x as slow at 1 thread (AMD EPYC Zen 5, one process alternating).
            int k = UnitRanges.Take(ranges, unit, units, out int taken), batchEnd = k + taken;
            if (k < 0) return;
            ref double d = ref MemoryMarshal.GetArrayDataReference(doubles[worker]);
            ref T e = ref MemoryMarshal.GetArrayDataReference(elements[worker]);
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T y = ref ParallelUnits.At<T>(spans.S1);
            Begin(k, ref d, ref e, ref x);
            Statistics<TS, TV>(nest, fromMemory, ref Unsafe.Add(ref x, Offset(k)), 0, rows, ref Unsafe.Add(ref e, layout.Shift), ref d, ref Unsafe.Add(ref d, layout.Accumulators));
            for (int slot = 0; ; slot ^= 1)
            {
                ref double dk = ref Unsafe.Add(ref d, slot * layout.Doubles);
                ref T ek = ref Unsafe.Add(ref e, slot * layout.Elements);
                nest.Block(k, out nint xo, out nint so, out nint po);
                FinishStatistics(nest, layout, ref dk, ref ek, so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual, mode);
                ref T gamma = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po);
                ref T beta = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po);
                Coefficients(nest, layout, ref dk, ref ek, ref gamma, ref beta);
                ref T coefB = ref Unsafe.Add(ref ek, layout.Coefficients);
                ref T coefC = ref Unsafe.Add(ref coefB, layout.Coefficients);
                int next = k + 1;
                if (next >= batchEnd)
                {
                    next = UnitRanges.Take(ranges, unit, units, out taken);
                    batchEnd = next + taken;
                }
                if (next < 0)
                {
                    nest.Apply<TK, TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref y, xo), 0, applyRows, ref ek, ref coefB, ref coefC, ref gamma, ref beta);
                    break;
                }
                ref double dn = ref Unsafe.Add(ref d, (slot ^ 1) * layout.Doubles);
                ref T en = ref Unsafe.Add(ref e, (slot ^ 1) * layout.Elements);
                Begin(next, ref dn, ref en, ref x);
                ref T xn = ref Unsafe.Add(ref x, Offset(next));
                if (!nest.ApplyReduce<TK, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref y, xo), ref xn, ref ek, ref coefB, ref coefC,
                    ref Unsafe.Add(ref en, layout.Shift), ref dn, ref Unsafe.Add(ref dn, layout.Accumulators)))
                {
                    nest.Apply<TK, TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref y, xo), 0, applyRows, ref ek, ref coefB, ref coefC, ref gamma, ref beta);
                    Statistics<TS, TV>(nest, fromMemory, ref xn, 0, rows, ref Unsafe.Add(ref en, layout.Shift), ref dn, ref Unsafe.Add(ref dn, layout.Accumulators));
                }
                k = next;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private nint Offset(int block)
        {
            nest.Block(block, out nint xo, out _, out _);
            return xo;
        }

        /// <summary>Block <paramref name="block"/>'s shift and cleared sums, in the slot at <paramref name="d"/>, <paramref name="e"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Begin(int block, ref double d, ref T e, ref T x)
        {
            Shift(nest, layout, ref Unsafe.Add(ref x, Offset(block)), ref e);
            MemoryMarshal.CreateSpan(ref d, 2 * layout.Accumulators).Clear();
        }
    }

    /// <summary>A group of consecutive rows of a row plan, row after row: each row's statistics written out and its coefficients
    /// made as <see cref="BlockUnit{TS, TV, TW}"/> makes them (<see cref="RowFinish"/>), the same bits.</summary>
    private readonly struct RowUnit<TS, TV, TW>(TNest nest, Layout layout, int group, int blocks, nint len, T epsilon, double[][] doubles, T[][] elements,
        T[]? meanResidual, bool phased, bool fromMemory) : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            int first = unit * group, count = Math.Min(group, blocks - first);
            UnitRows<TS, TV, TW>(nest, layout, first, count, len, epsilon, ref MemoryMarshal.GetArrayDataReference(doubles[worker]),
                ref MemoryMarshal.GetArrayDataReference(elements[worker]), meanResidual, phased, fromMemory, in spans);
        }
    }

    /// <summary>Rows [<paramref name="first"/>, first + <paramref name="count"/>) of a row plan, row after row or phased: each
    /// row's statistics written out and its coefficients made as <see cref="BlockUnit{TS, TV, TW}"/> makes them
    /// (<see cref="RowFinish"/>), <paramref name="sums"/> (2 per row) and <paramref name="e"/> (the unit's elements, at
    /// least 3 per row) the unit's scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void UnitRows<TS, TV, TW>(TNest nest, Layout layout, int first, int count, nint len, T epsilon, ref double sums, ref T e,
        T[]? meanResidual, bool phased, bool fromMemory, in PinnedSpans spans) where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        nest.Block(first, out nint xo, out nint so, out nint po);
        var finish = new RowFinish(nest, first, so, nest.Count, double.CreateTruncating(epsilon), (T*)spans.S2, (T*)spans.S3, (T*)spans.S4, (T*)spans.S5, meanResidual);
        ref T x = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S0), xo);
        ref T y = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S1), xo);
        ref T g = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po);
        ref T h = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po);
        if (nest.TwoStep) Runs<TS, TV, T>.Rows<TK, TW, Lanes, RowFinish>(ref x, ref y, count, len, ref g, ref h, ref finish, phased, fromMemory, ref sums, ref e);
        else Runs<TS, TV, T>.Rows<TK, TW, Splat, RowFinish>(ref x, ref y, count, len, ref g, ref h, ref finish, phased, fromMemory, ref sums, ref e);
    }

    /// <summary>A row's statistics finished as a block's are by <see cref="FinishStatistics"/> and <see cref="Coefficients"/>
    /// (the same arithmetic, so the same bits), specialized to a row plan's one statistic and one coefficient set: the
    /// statistics written out at the row's index, the coefficients returned.</summary>
    private readonly unsafe struct RowFinish(TNest nest, int first, nint firstStatistic, double count, double epsilon, T* gamma, T* beta, T* stat0, T* stat1,
        T[]? meanResidual) : IRowFinish<T>
    {
        /// <inheritdoc/>
        public static nint FixedLength => TNest.FixedStatisticsExtent;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Finish(nint row, T shift, double sum, double sq, out T a, out T b, out T c)
        {
            nint so = firstStatistic + row;
            double mu, rstd;
            if (TK.Centered)
            {
                (double mean, double variance) = Runtime.Statistics.FromShiftedSums(double.CreateTruncating(shift), sum, sq, count);
                T rounded = T.CreateTruncating(mean);
                stat0[so] = rounded;
                if (meanResidual is not null) meanResidual[so] = T.CreateTruncating(mean - double.CreateTruncating(rounded));
                stat1[so] = T.CreateTruncating(variance);
                mu = mean;
                rstd = Runtime.Statistics.InverseStd(variance, epsilon);
            }
            else
            {
                double meanSquare = sq * (1d / count);
                stat0[so] = T.CreateTruncating(meanSquare);
                mu = 0d;
                rstd = Runtime.Statistics.InverseStd(meanSquare, epsilon);
            }
            c = TK.Centered ? T.CreateTruncating(mu) : T.Zero;
            double g = 1d, h = 0d;
            if (!nest.TwoStep && nest.Affine)
            {
                // Folded: the row's own gamma and beta (its block's parameter plus its one fold's).
                nest.Block(first + row, out _, out _, out nint po);
                nest.Fold(0, out _, out nint p);
                g = double.CreateTruncating(gamma[po + p]);
                h = double.CreateTruncating(beta[po + p]);
            }
            double scale = g * rstd;
            a = T.CreateTruncating(scale);
            b = T.CreateTruncating(h - (mu - double.CreateTruncating(c)) * scale);
        }

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void FinishFour(nint row, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c)
        {
            if (typeof(T) != typeof(float) || !Vector256.IsHardwareAccelerated)
            {
                for (int i = 0; i < 4; i++)
                    Finish(row + i, TK.Centered ? Unsafe.Add(ref x, i * len) : default, Unsafe.Add(ref sum, i), Unsafe.Add(ref sq, i),
                        out Unsafe.Add(ref a, i), out Unsafe.Add(ref b, i), out Unsafe.Add(ref c, i));
                return;
            }
            // Finish's double arithmetic on four lanes (StatisticsFour, then the coefficients in its order): the same bits.
            nint so = firstStatistic + row;
            Vector256<double> k = TK.Centered ? Vector256.WidenLower(FourFloats(ref x, len).ToVector256Unsafe()) : default;
            StatisticsFour(k, Vector256.LoadUnsafe(ref sum), Vector256.LoadUnsafe(ref sq), 1d / count, epsilon, ref stat0[so], ref stat1[so],
                ref meanResidual is null ? ref Unsafe.NullRef<T>() : ref meanResidual[so], out Vector256<double> mu, out Vector256<double> rstd);
            (TK.Centered ? Runtime.Statistics.NarrowFour(mu) : Vector128<float>.Zero).StoreUnsafe(ref Unsafe.As<T, float>(ref c));
            Vector256<double> g = Vector256<double>.One, h = Vector256<double>.Zero;
            if (!nest.TwoStep && nest.Affine)
            {
                nest.Fold(0, out _, out nint p);
                // Each row's parameter index once; four consecutive ones (as FinishEight's eight) in one load each.
                nint p0 = ParameterAt(row) + p, p1 = ParameterAt(row + 1) + p, p3 = ParameterAt(row + 3) + p;
                if (p1 == p0 + 1 && p3 == p0 + 3)
                {
                    g = Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.AsRef<float>((float*)gamma + p0)).ToVector256Unsafe());
                    h = Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.AsRef<float>((float*)beta + p0)).ToVector256Unsafe());
                }
                else
                {
                    nint p2 = ParameterAt(row + 2) + p;
                    g = Vector256.Create(double.CreateTruncating(gamma[p0]), double.CreateTruncating(gamma[p1]), double.CreateTruncating(gamma[p2]), double.CreateTruncating(gamma[p3]));
                    h = Vector256.Create(double.CreateTruncating(beta[p0]), double.CreateTruncating(beta[p1]), double.CreateTruncating(beta[p2]), double.CreateTruncating(beta[p3]));
                }
            }
            Vector256<double> scale = g * rstd;
            Runtime.Statistics.NarrowFour(scale).StoreUnsafe(ref Unsafe.As<T, float>(ref a));
            Vector256<double> cd = Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref c)).ToVector256Unsafe());
            Vector256<double> bd = h - (mu - cd) * scale;
            Runtime.Statistics.NarrowFour(bd).StoreUnsafe(ref Unsafe.As<T, float>(ref b));
        }

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool FinishEight(nint row, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c)
        {
            if (typeof(T) != typeof(float) || !Avx512F.IsSupported) return false;
            // FinishFour's operations on eight lanes: the same bits.
            nint so = firstStatistic + row;
            Vector512<double> k = TK.Centered
                ? Avx512F.ConvertToVector512Double(EightFloats(ref x, len))
                : default;
            StatisticsEight(k, Vector512.LoadUnsafe(ref sum), Vector512.LoadUnsafe(ref sq), 1d / count, epsilon, ref stat0[so], ref stat1[so],
                ref meanResidual is null ? ref Unsafe.NullRef<T>() : ref meanResidual[so], out Vector512<double> mu, out Vector512<double> rstd);
            Vector256<float> cf = TK.Centered ? Avx512F.ConvertToVector256Single(mu) : Vector256<float>.Zero;
            cf.StoreUnsafe(ref Unsafe.As<T, float>(ref c));
            Vector512<double> g = Vector512<double>.One, h = Vector512<double>.Zero;
            if (!nest.TwoStep && nest.Affine)
            {
                nest.Fold(0, out _, out nint p);
                nint f0 = ParameterAt(row), f1 = ParameterAt(row + 1), f7 = ParameterAt(row + 7);
                if (f1 == f0 + 1 && f7 == f0 + 7)
                {
                    // The eight rows' parameters are consecutive (InstanceNorm NCHW's channels away from a sample's end): two
                    // loads instead of sixteen, and three blocks' indices instead of eight (each a division in the nest, a
                    // multiply since the block map has the nest's divisors). A block's parameter index is its kept axes' indices times strides of 0 or 1 (per-channel
                    // parameters; elementwise ones are two-step, not here), so the first step of 1 and the seventh of 7 leave
                    // no room for a wrap in between. The same values, so the same bits. InstanceNorm NCHW S2, AMD Zen 5, 1
                    // thread, one process alternating: 144-149 -> 136-140 us.
                    g = Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.AsRef<float>((float*)gamma + f0 + p)));
                    h = Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.AsRef<float>((float*)beta + f0 + p)));
                }
                else
                {
                    nint p0 = f0 + p, p1 = f1 + p, p2 = ParameterAt(row + 2) + p, p3 = ParameterAt(row + 3) + p;
                    nint p4 = ParameterAt(row + 4) + p, p5 = ParameterAt(row + 5) + p, p6 = ParameterAt(row + 6) + p, p7 = f7 + p;
                    g = Vector512.Create(Value(gamma, p0), Value(gamma, p1), Value(gamma, p2), Value(gamma, p3), Value(gamma, p4), Value(gamma, p5), Value(gamma, p6), Value(gamma, p7));
                    h = Vector512.Create(Value(beta, p0), Value(beta, p1), Value(beta, p2), Value(beta, p3), Value(beta, p4), Value(beta, p5), Value(beta, p6), Value(beta, p7));
                }
            }
            Vector512<double> scale = g * rstd;
            Avx512F.ConvertToVector256Single(scale).StoreUnsafe(ref Unsafe.As<T, float>(ref a));
            Vector512<double> bd = h - (mu - Avx512F.ConvertToVector512Double(cf)) * scale;
            Avx512F.ConvertToVector256Single(bd).StoreUnsafe(ref Unsafe.As<T, float>(ref b));
            return true;
        }

        /// <inheritdoc/>
        /// <remarks>FinishEight called eight rows at a time re-read the finish's fields and three rows' block indices (each
        /// through the nest's divisors) for every eight rows; here the parameters' consecutiveness is checked once per batch
        /// and the pointers are set up once. InstanceNorm NCHW S2 (16,384 rows of 49 floats), AMD Zen 5, 1 thread: the finish
        /// cost about 20 us of a 128 us call (a second finish per batch added 20 us); with this loop, one process alternating
        /// calls with the eights one by one (a temporary switch), 0.93-0.99 of the call's time in five runs, 0.96 at 2 threads;
        /// LayerNorm [8192, 768] 0.99-1.00. The same operations, so the same bits (checked against the eights one by one on
        /// InstanceNorm, LayerNorm and GroupNorm shapes, forward and backward: every output bit equal).</remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public nint FinishEights(nint from, nint to, ref T x, nint len, ref double sum, ref double sq, ref T a, ref T b, ref T c)
        {
            if (typeof(T) != typeof(float) || !(Avx512F.IsSupported || Avx2.IsSupported)) return 0;
            nint rows = (to - from) & ~(nint)7;
            bool affine = !nest.TwoStep && nest.Affine;
            float* g = null, h = null;
            if (affine)
            {
                // A row's parameter index is its kept axes' indices times strides of 0 or 1 (see FinishEight), so from one
                // row to the next it grows by at most 1: grown by rows - 1 over the rows, it grew by 1 at every row.
                nint f0 = ParameterAt(from);
                if (ParameterAt(from + 1) != f0 + 1 || ParameterAt(from + rows - 1) != f0 + rows - 1) return 0;
                nest.Fold(0, out _, out nint p);
                g = (float*)gamma + f0 + p;
                h = (float*)beta + f0 + p;
            }
            nint so = firstStatistic + from;
            float* s0 = (float*)stat0 + so, s1 = (float*)stat1 + so;
            ref float residual = ref Unsafe.NullRef<float>();
            if (TK.Centered && meanResidual is not null)
            {
                _ = meanResidual[so + rows - 1];
                residual = ref Unsafe.As<T, float>(ref meanResidual[so]);
            }
            ref float xf = ref Unsafe.As<T, float>(ref x), af = ref Unsafe.As<T, float>(ref a), bf = ref Unsafe.As<T, float>(ref b), cf = ref Unsafe.As<T, float>(ref c);
            if (!Avx512F.IsSupported)
            {
                FinishFours(rows, affine, g, h, s0, s1, ref residual, ref xf, len, ref sum, ref sq, ref af, ref bf, ref cf);
                return rows;
            }
            Vector512<double> inverse = Vector512.Create(1d / count), e = Vector512.Create(epsilon);
            for (nint i = 0; i < rows; i += 8)
            {
                Vector512<double> s = Vector512.LoadUnsafe(ref sum, (nuint)i), q = Vector512.LoadUnsafe(ref sq, (nuint)i), mu, second;
                Vector256<float> rounded;
                if (TK.Centered)
                {
                    // StatisticsEight's operations, in its order.
                    Vector512<double> k = Avx512F.ConvertToVector512Double(EightFloats(ref Unsafe.As<float, T>(ref Unsafe.Add(ref xf, i * len)), len));
                    Vector512<double> shifted = s * inverse;
                    second = q * inverse - shifted * shifted;
                    second = Vector512.ConditionalSelect(Vector512.LessThan(second, Vector512<double>.Zero), Vector512<double>.Zero, second);
                    mu = k + shifted;
                    rounded = Avx512F.ConvertToVector256Single(mu);
                    Avx.Store(s0 + i, rounded);
                    if (!Unsafe.IsNullRef(ref residual))
                        Avx512F.ConvertToVector256Single(mu - Avx512F.ConvertToVector512Double(rounded)).StoreUnsafe(ref residual, (nuint)i);
                    Avx.Store(s1 + i, Avx512F.ConvertToVector256Single(second));
                }
                else
                {
                    second = q * inverse;
                    Avx.Store(s0 + i, Avx512F.ConvertToVector256Single(second));
                    mu = Vector512<double>.Zero;
                    rounded = Vector256<float>.Zero;
                }
                Vector512<double> rstd = Vector512<double>.One / Vector512.Sqrt(second + e);
                rounded.StoreUnsafe(ref cf, (nuint)i);
                Vector512<double> gd = Vector512<double>.One, hd = Vector512<double>.Zero;
                if (affine)
                {
                    gd = Avx512F.ConvertToVector512Double(Avx.LoadVector256(g + i));
                    hd = Avx512F.ConvertToVector512Double(Avx.LoadVector256(h + i));
                }
                Vector512<double> scale = gd * rstd;
                Avx512F.ConvertToVector256Single(scale).StoreUnsafe(ref af, (nuint)i);
                Avx512F.ConvertToVector256Single(hd - (mu - Avx512F.ConvertToVector512Double(rounded)) * scale).StoreUnsafe(ref bf, (nuint)i);
            }
            return rows;
        }

        /// <summary><see cref="FinishEights"/>' loop on AVX2: <see cref="FinishFour"/>'s operations four rows at a time (the same
        /// bits), with the parameters' pointers (<paramref name="g"/>, <paramref name="h"/>) found once for the batch (FinishFour
        /// found three rows' parameter indices for every four). InstanceNorm NCHW S2 on the AVX2 path, AMD Zen 5, one process
        /// alternating with FinishFour by a temporary switch: 1 thread 0.95-0.965 of the time (three runs), 2 threads 0.967.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void FinishFours(nint rows, bool affine, float* g, float* h, float* s0, float* s1, ref float residual, ref float xf, nint len,
            ref double sum, ref double sq, ref float af, ref float bf, ref float cf)
        {
            Vector256<double> inverse = Vector256.Create(1d / count), e = Vector256.Create(epsilon);
            for (nint i = 0; i < rows; i += 4)
            {
                Vector256<double> s = Vector256.LoadUnsafe(ref sum, (nuint)i), q = Vector256.LoadUnsafe(ref sq, (nuint)i), mu, second;
                Vector128<float> rounded;
                if (TK.Centered)
                {
                    // StatisticsFour's operations, in its order.
                    Vector256<double> k = Vector256.WidenLower(FourFloats(ref Unsafe.As<float, T>(ref Unsafe.Add(ref xf, i * len)), len).ToVector256Unsafe());
                    Vector256<double> shifted = s * inverse;
                    second = q * inverse - shifted * shifted;
                    second = Vector256.ConditionalSelect(Vector256.LessThan(second, Vector256<double>.Zero), Vector256<double>.Zero, second);
                    mu = k + shifted;
                    rounded = Runtime.Statistics.NarrowFour(mu);
                    Sse.Store(s0 + i, rounded);
                    if (!Unsafe.IsNullRef(ref residual))
                        Runtime.Statistics.NarrowFour(mu - Vector256.WidenLower(rounded.ToVector256Unsafe())).StoreUnsafe(ref residual, (nuint)i);
                    Sse.Store(s1 + i, Runtime.Statistics.NarrowFour(second));
                }
                else
                {
                    second = q * inverse;
                    Sse.Store(s0 + i, Runtime.Statistics.NarrowFour(second));
                    mu = Vector256<double>.Zero;
                    rounded = Vector128<float>.Zero;
                }
                Vector256<double> rstd = Vector256<double>.One / Vector256.Sqrt(second + e);
                rounded.StoreUnsafe(ref cf, (nuint)i);
                Vector256<double> gd = Vector256<double>.One, hd = Vector256<double>.Zero;
                if (affine)
                {
                    gd = Vector256.WidenLower(Sse.LoadVector128(g + i).ToVector256Unsafe());
                    hd = Vector256.WidenLower(Sse.LoadVector128(h + i).ToVector256Unsafe());
                }
                Vector256<double> scale = gd * rstd;
                Runtime.Statistics.NarrowFour(scale).StoreUnsafe(ref af, (nuint)i);
                Runtime.Statistics.NarrowFour(hd - (mu - Vector256.WidenLower(rounded.ToVector256Unsafe())) * scale).StoreUnsafe(ref bf, (nuint)i);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static double Value(T* values, nint at) => double.CreateTruncating(values[at]);

        /// <summary>
        /// The first elements of four rows <paramref name="len"/> apart (float rows: FinishFour's shifts), as one vector to
        /// widen. Made one by one (<c>Vector256.Create</c> of four <c>double</c>s), each was a <c>vcvtss2sd</c> that merges
        /// into its register's old value: the JIT reused registers that held the previous rows' coefficients, so every
        /// group of rows waited for the last group's chain of divisions and square roots. Loaded as floats (<c>vmovss</c>,
        /// <c>vinsertps</c>) and widened once, the groups overlap. The same values, so the same bits. InstanceNorm NCHW S2
        /// (16,384 rows of 49 floats), AMD Zen 5, 1 thread, one process alternating: 512-bit 114-115 -> 108-110 us (with
        /// <see cref="EightFloats"/>), AVX2 185-186 -> 166-169 us.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<float> FourFloats(ref T x, nint len)
        {
            ref float f = ref Unsafe.As<T, float>(ref x);
            return Vector128.Create(f, Unsafe.Add(ref f, len), Unsafe.Add(ref f, 2 * len), Unsafe.Add(ref f, 3 * len));
        }

        /// <summary><see cref="FourFloats"/> for eight rows (FinishEight's shifts).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> EightFloats(ref T x, nint len)
        {
            ref float f = ref Unsafe.As<T, float>(ref x);
            return Vector256.Create(f, Unsafe.Add(ref f, len), Unsafe.Add(ref f, 2 * len), Unsafe.Add(ref f, 3 * len),
                Unsafe.Add(ref f, 4 * len), Unsafe.Add(ref f, 5 * len), Unsafe.Add(ref f, 6 * len), Unsafe.Add(ref f, 7 * len));
        }

        /// <summary>Row <paramref name="row"/>'s block's parameter index.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private nint ParameterAt(nint row)
        {
            nest.Block(first + row, out _, out _, out nint po);
            return po;
        }
    }

    /// <summary>A group of interleaved blocks (see <see cref="GroupBlocks"/>, <see cref="Run.MemoryOrder{TS, TV, TW}"/>): each block's
    /// statistics, coefficients and apply as in <see cref="BlockUnit{TS, TV, TW}"/>, the passes row by row over the group.
    /// Each block has its own slice of the worker's scratch.</summary>
    private readonly struct GroupUnit<TS, TV, TW>(TNest nest, Layout layout, int group, int blocks, nint rows, T epsilon, double[][] doubles, T[][] elements,
        T[]? meanResidual, ForwardMode mode, bool fromMemory) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            int first = unit * group, count = Math.Min(group, blocks - first);
            ref double d = ref MemoryMarshal.GetArrayDataReference(doubles[worker]);
            ref T e = ref MemoryMarshal.GetArrayDataReference(elements[worker]);
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T y = ref ParallelUnits.At<T>(spans.S1);
            if (mode != ForwardMode.Inference)
            {
                for (int k = 0; k < count; k++)
                {
                    nest.Block(first + k, out nint xo, out _, out _);
                    Shift(nest, layout, ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref e, k * layout.Elements));
                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d, k * layout.Doubles), 2 * layout.Accumulators).Clear();
                }
                for (nint r = 0; r < rows; r++)
                    for (int k = 0; k < count; k++)
                    {
                        nest.Block(first + k, out nint xo, out _, out _);
                        ref double sum = ref Unsafe.Add(ref d, k * layout.Doubles);
                        Statistics<TS, TV>(nest, fromMemory, ref Unsafe.Add(ref x, xo), r, r + 1, ref Unsafe.Add(ref e, k * layout.Elements + layout.Shift),
                            ref sum, ref Unsafe.Add(ref sum, layout.Accumulators));
                    }
            }
            for (int k = 0; k < count; k++)
            {
                nest.Block(first + k, out _, out nint so, out nint po);
                ref double dk = ref Unsafe.Add(ref d, k * layout.Doubles);
                ref T ek = ref Unsafe.Add(ref e, k * layout.Elements);
                if (mode != ForwardMode.Inference)
                    FinishStatistics(nest, layout, ref dk, ref ek, so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual, mode);
                else
                    RunningTerms(layout, ref dk, so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, meanResidual);
                if (mode != ForwardMode.Moments)
                    Coefficients(nest, layout, ref dk, ref ek, ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po), ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po));
            }
            if (mode == ForwardMode.Moments) return;
            // The apply from the last row back: the statistics pass read the last rows last, so they are the ones still in
            // L2 (or L3), and each row the apply takes from there leaves the earlier rows' lines alone until it reaches them
            // (elementwise: the same bits in any order). AMD Zen 5, one process alternating: BatchNorm training NCHW
            // 32x512x7x7 126 -> 112 us, 2x256x64x64 245 -> 226 and 247 -> 225 (AVX2 242 -> 228), 32x64x56x56 even at 1
            // thread and 495 -> 473 us at 2 (memory order).
            for (nint r = rows - 1; r >= 0; r--)
                for (int k = 0; k < count; k++)
                {
                    nest.Block(first + k, out nint xo, out _, out nint po);
                    ref T coefA = ref Unsafe.Add(ref e, k * layout.Elements);
                    ref T coefB = ref Unsafe.Add(ref coefA, layout.Coefficients);
                    nest.Apply<TK, TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref y, xo), r, r + 1, ref coefA, ref coefB,
                        ref Unsafe.Add(ref coefB, layout.Coefficients), ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), po), ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S3), po));
                }
        }
    }

    /// <summary>The nest's statistics pass over rows [<paramref name="from"/>, <paramref name="to"/>) of a block, with
    /// <see cref="FromMemory{TK}"/> when <paramref name="fromMemory"/> (the same sums either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Statistics<TS, TV>(TNest nest, bool fromMemory, ref T x, nint from, nint to, ref T shift, ref double sum, ref double sq)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        if (fromMemory) nest.Statistics<FromMemory<TK>, TS, TV>(ref x, from, to, ref shift, ref sum, ref sq);
        else nest.Statistics<TK, TS, TV>(ref x, from, to, ref shift, ref sum, ref sq);
    }

    /// <summary>A block's (mean, M2) per statistic: shift, statistics pass, combine; as in the training forward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockMoments<TS, TV>(TNest nest, Layout layout, ref T xb, double[] doubles, T[] elements, ref double mean, ref double m2)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        Shift(nest, layout, ref xb, ref MemoryMarshal.GetArrayDataReference(elements));
        new Span<double>(doubles, 0, 2 * layout.Accumulators).Clear();
        ref double sum = ref MemoryMarshal.GetArrayDataReference(doubles);
        nest.Statistics<TK, TS, TV>(ref xb, 0, nest.StatisticsRows(out _), ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(elements), layout.Shift),
            ref sum, ref Unsafe.Add(ref sum, layout.Accumulators));
        FinishStatistics(nest, layout, ref MemoryMarshal.GetArrayDataReference(doubles), ref MemoryMarshal.GetArrayDataReference(elements), 0, ref Unsafe.As<double, T>(ref mean), ref Unsafe.As<double, T>(ref m2), T.Zero, null, ForwardMode.Moments);
    }

    /// <summary>One AdaIN block: the content's and the style's moments, coefficients, the layer's apply.</summary>
    private readonly struct AdaptiveBlock<TS, TV>(TNest nest, TNest styleNest, Layout layout, double epsilon, double[][] doubles, T[][] elements)
        : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            double[] d = doubles[worker];
            T[] e = elements[worker];
            int statistics = layout.Statistics;
            ref double contentMean = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(d), layout.Doubles);
            ref double contentM2 = ref Unsafe.Add(ref contentMean, statistics);
            ref double styleMean = ref Unsafe.Add(ref contentM2, statistics);
            ref double styleM2 = ref Unsafe.Add(ref styleMean, statistics);
            nest.Block(unit, out nint xo, out _, out _);
            styleNest.Block(unit, out nint so, out _, out _);
            ref T xb = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S0), xo);
            ref T yb = ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S1), xo);
            BlockMoments<TS, TV>(nest, layout, ref xb, d, e, ref contentMean, ref contentM2);
            BlockMoments<TS, TV>(styleNest, layout, ref Unsafe.Add(ref ParallelUnits.At<T>(spans.S2), so), d, e, ref styleMean, ref styleM2);
            double contentCount = nest.Count, styleCount = styleNest.Count;
            ref T coefA = ref MemoryMarshal.GetArrayDataReference(e);
            ref T coefB = ref Unsafe.Add(ref coefA, layout.Coefficients);
            ref T coefC = ref Unsafe.Add(ref coefB, layout.Coefficients);
            for (int f = 0; f < layout.Coefficients; f++)
            {
                nest.Fold(f, out nint s, out _);
                double sigmaStyle = Math.Sqrt(Runtime.Statistics.Variance(styleCount, Unsafe.Add(ref styleM2, s)) + epsilon);
                double a = sigmaStyle * Runtime.Statistics.InverseStd(Runtime.Statistics.Variance(contentCount, Unsafe.Add(ref contentM2, s)), epsilon);
                double m = Unsafe.Add(ref contentMean, s);
                T c = T.CreateTruncating(m);
                Unsafe.Add(ref coefA, f) = T.CreateTruncating(a);
                Unsafe.Add(ref coefC, f) = c;
                Unsafe.Add(ref coefB, f) = T.CreateTruncating(Unsafe.Add(ref styleMean, s) - (m - double.CreateTruncating(c)) * a);
            }
            nest.Apply<TK, CachedStores, TS, TV>(ref xb, ref yb, 0, nest.ApplyRows(out _), ref coefA, ref coefB, ref coefC, ref coefA, ref coefB);
        }
    }

    /// <summary>A chunk of a whole-tensor statistics pass, into its own partial sums.</summary>
    private readonly struct StatisticsChunk<TS, TV>(TNest nest, Layout layout, nint rows, int chunks, double[] partials, T[] elements, bool fromMemory)
        : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            nint from = rows * unit / chunks, to = rows * (unit + 1) / chunks;
            ref double sum = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(partials), unit * 2 * layout.Accumulators);
            Statistics<TS, TV>(nest, fromMemory, ref ParallelUnits.At<T>(spans.S0), from, to, ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(elements), layout.Shift),
                ref sum, ref Unsafe.Add(ref sum, layout.Accumulators));
        }
    }

    /// <summary>A chunk of a whole-tensor apply pass.</summary>
    private readonly struct ApplyChunk<TS, TV, TW>(TNest nest, Layout layout, nint rows, int chunks, T[] elements)
        : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            nint from = rows * unit / chunks, to = rows * (unit + 1) / chunks;
            ref T coefA = ref MemoryMarshal.GetArrayDataReference(elements);
            ref T coefB = ref Unsafe.Add(ref coefA, layout.Coefficients);
            nest.Apply<TK, TW, TS, TV>(ref ParallelUnits.At<T>(spans.S0), ref ParallelUnits.At<T>(spans.S1), from, to,
                ref coefA, ref coefB, ref Unsafe.Add(ref coefB, layout.Coefficients), ref ParallelUnits.At<T>(spans.S2), ref ParallelUnits.At<T>(spans.S3));
        }
    }
}
