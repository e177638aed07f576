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
/// The training backward (batch statistics, not held constant) on the shapes of <see cref="ExpandedTraining{TK, T}"/>: one
/// kept axis K carrying the statistics and parameters, a centered kind with no epilogue, 1 &lt; inner &lt;
/// <see cref="ExpandedInference{TK, T}.ShortRun"/> (BatchNorm NCHW on ResNet's 7x7 planes). The loop nest reduces and
/// applies each (n, k) run of inner elements on its own, two horizontal sums and a masked tail per run; here a unit (a
/// block of channels of every sample, or runs of whole periods) sums the backward's three terms lane by lane across the
/// outer index (<see cref="GradientRuns{TS, TV, T}.ReduceColumns(ref T, ref T, nint, nint, nint, ref T, ref T, ref double, ref double, ref double)"/>),
/// adds each channel's lanes in double, turns them into the coefficients with <see cref="Backward{TNest, TK, T}"/>'s
/// formulas (the same shifts: m = -mean rounded to the element type, dz = the channel's first dy), expands those along
/// the lanes and applies them with <see cref="GradientRuns{TS, TV, T}.Apply{TW, TF}"/> along the block while it is in L2.
/// The loop nest's formulas in another summation order, so not its bits; a channel's result depends on the shape alone
/// (units are fixed blocks of channels), never on the thread count. The parameter gradients go into a per-channel buffer,
/// added into WeightGrad and BiasGrad in channel order after the units.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ExpandedBackward<TK, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether a backward on <paramref name="dims"/> takes this path on <paramref name="path"/>: the shapes of the
    /// training forward's expanded path (<see cref="ExpandedTraining{TK, T}.Applies"/>), with batch statistics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Applies(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path, bool constant) =>
        !constant && ExpandedTraining<TK, T>.Applies(shape, dims, path);

    /// <summary>Runs the call (the caller checked every argument and <see cref="Applies"/>): writes
    /// <paramref name="inputGrad"/>, adds into <paramref name="weightGrad"/> and <paramref name="biasGrad"/> (none when the
    /// layer has no affine: <paramref name="weight"/> empty). <paramref name="mean"/> and <paramref name="variance"/>: the
    /// forward's batch statistics per channel. <paramref name="meanResidual"/>, when given (a layer's backward of its training
    /// forward): that forward's mean - (T)mean per channel, which gives each channel's sum of x - (T)mean as count * residual
    /// instead of the exact lane sums (as <see cref="Backward{TNest, TK, T}"/>). Returns <paramref name="path"/>.</summary>
    public static KernelPath Run(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad,
        Span<T> inputGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, Span<T> weightGrad, Span<T> biasGrad,
        ReadOnlySpan<T> meanResidual = default) =>
        AdvSimd.IsSupported
            ? Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, shape, dims, input, outputGrad, inputGrad, weight, mean, variance, epsilon, weightGrad, biasGrad, meanResidual)
            : Run<X86Vector128Ops>(path, shape, dims, input, outputGrad, inputGrad, weight, mean, variance, epsilon, weightGrad, biasGrad, meanResidual);

    /// <summary><see cref="Run(KernelPath, LayerShape, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, Span{T}, Span{T}, ReadOnlySpan{T})"/>
    /// with the 128-bit path's operations given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static KernelPath Run<TOps>(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad,
        Span<T> inputGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, Span<T> weightGrad, Span<T> biasGrad,
        ReadOnlySpan<T> meanResidual = default)
        where TOps : struct, IVector128Ops
    {
        var plan = ExpandedInference<TK, T>.PlanFor(shape, dims, input.Length, BlockElements);
        int kept = plan.Kept;
        int units = plan.SumUnits;
        int workers = Parallelism.Workers(input.Length, units);
        int longest = plan.LongestSumUnit;
        WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, 3 * longest, 5 * longest);
        // Per channel: rstd (written before the units), then the bias and weight gradients (written by the unit that owns it).
        double[] channels = ArrayPool<double>.Shared.Rent(3 * kept);
        try
        {
            bool affine = shape.Affine != AffineMode.None && !weight.IsEmpty;
            double eps = double.CreateTruncating(epsilon);
            for (int k = 0; k < kept; k++) channels[k] = Statistics.InverseStd(double.CreateTruncating(variance[k]), eps);
            var settings = new Settings(plan, affine, channels, scratch.Doubles, scratch.Elements);
            bool stream = BackwardShared<TK, T>.StreamsInputGrad(input, outputGrad, inputGrad, ExpandedInference<TK, T>.LaneCount(path) > 1);
            ReadOnlySpan<T> residual = meanResidual.Length >= kept ? meanResidual : default;
            switch (path)
            {
                case KernelPath.Vector512: Go<V512<T>, Vector512<T>>(stream, units, workers, settings, input, outputGrad, inputGrad, weight, mean, residual); break;
                case KernelPath.Vector256: Go<V256<T>, Vector256<T>>(stream, units, workers, settings, input, outputGrad, inputGrad, weight, mean, residual); break;
                case KernelPath.Vector128: Go<V128<T, TOps>, Vector128<T>>(stream, units, workers, settings, input, outputGrad, inputGrad, weight, mean, residual); break;
                default: Go<Scalar<T>, T>(stream, units, workers, settings, input, outputGrad, inputGrad, weight, mean, residual); break;
            }
            if (affine)
                for (int k = 0; k < kept; k++)
                {
                    biasGrad[k] = T.CreateTruncating(double.CreateTruncating(biasGrad[k]) + channels[kept + k]);
                    weightGrad[k] = T.CreateTruncating(double.CreateTruncating(weightGrad[k]) + channels[2 * kept + k]);
                }
            return path;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(channels);
            scratch.Return();
        }
    }

    /// <summary>
    /// Elements of K x inner per block of channels (a unit: its sums, then its dx from L2, over every outer index): half the
    /// training forward's (<c>ExpandedInference.BlockElements</c>). Twice the units balance two workers better (BatchNorm
    /// backward NCHW 32 x 512 x 7 x 7: 25 blocks of about 20 channels instead of 13 of about 39), and a block's x and dy
    /// (256 KB) leave more of L2 to the next. AMD EPYC Zen 5, one process alternating with 2,048 (medians of 15-21 rounds):
    /// 2 threads 0.960, 0.961, 0.976, 0.985 of the time (one run 1.15, a disturbed round), AVX2 0.953, 0.963; 1 thread
    /// 0.993-1.003; 512 even with 1,024 at 2 threads and 1.02x its time at 1; 1,536 even. The forward keeps 2,048 (1,024 took
    /// 1.025-1.042x its time at 1 and 2 threads). Each lane's sums run down the rows alike in any block, and a channel's lanes
    /// are added in their order, so the bits do not depend on the block size (checked bit for bit against 2,048: dx, the
    /// parameter gradients, BatchNorm NCHW 32 x 512 x 7 x 7, 5 x 300 x 7 x 7, 3 x 129 x 5 x 5, 4 x 1000 x 3 x 3, AVX-512
    /// and AVX2).
    /// </summary>
    private const long BlockElements = 1024;

    private readonly record struct Settings(ExpandedInference<TK, T>.Plan Plan, bool Affine, double[] Channels, double[][] Doubles, T[][] Elements);

    /// <summary>The units on the path; with a <paramref name="residual"/> per channel (the fifth span), the sums of x - mf from it.</summary>
    private static void Go<TS, TV>(bool stream, int units, int workers, Settings settings, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad,
        Span<T> inputGrad, ReadOnlySpan<T> weight, ReadOnlySpan<T> saved, ReadOnlySpan<T> residual) where TS : struct, ISimd<TV, T> where TV : struct
    {
        // Read only: the runner's spans.
        Span<T> mean = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(saved), saved.Length);
        Span<T> rest = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(residual), residual.Length);
        if (residual.IsEmpty)
        {
            if (stream) ParallelUnits.For(units, workers, new Body<TS, TV, StreamedStores, Lanes>(settings), input, inputGrad, outputGrad, weight, default, mean);
            else ParallelUnits.For(units, workers, new Body<TS, TV, CachedStores, Lanes>(settings), input, inputGrad, outputGrad, weight, default, mean);
        }
        else if (stream) ParallelUnits.For(units, workers, new Body<TS, TV, StreamedStores, Splat>(settings), input, inputGrad, outputGrad, weight, rest, mean);
        else ParallelUnits.For(units, workers, new Body<TS, TV, CachedStores, Splat>(settings), input, inputGrad, outputGrad, weight, rest, mean);
    }

    /// <summary>One unit; <typeparamref name="TX"/>: <see cref="Lanes"/>, each channel's sum of x - mf from the exact lane sums,
    /// <see cref="Splat"/>, from the residual (the fifth span).</summary>
    private readonly struct Body<TS, TV, TW, TX>(Settings settings) : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores where TX : struct, IOperand
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            var plan = settings.Plan;
            ref T x = ref ParallelUnits.At<T>(spans.S0), dx = ref ParallelUnits.At<T>(spans.S1), dy = ref ParallelUnits.At<T>(spans.S2);
            ref T gamma = ref ParallelUnits.At<T>(spans.S3), residual = ref ParallelUnits.At<T>(spans.S4), saved = ref ParallelUnits.At<T>(spans.S5);
            // This unit's channels [k0, k1), its runs (rows of the block, or runs of whole periods) and their length, as in the
            // training forward's units.
            var cut = plan.SumUnit(unit);
            long k0 = cut.K0, k1 = cut.K1, runs = cut.Runs;
            nint period = cut.Period, start = cut.Start, length = cut.Length, stride = cut.Stride, inner = (nint)plan.Inner;
            T[] e = settings.Elements[worker];
            double[] d = settings.Doubles[worker];
            ref T m = ref MemoryMarshal.GetArrayDataReference(e);
            ref T dz = ref Unsafe.Add(ref m, length), p = ref Unsafe.Add(ref dz, length), q = ref Unsafe.Add(ref p, length), r = ref Unsafe.Add(ref q, length);
            ref double u = ref MemoryMarshal.GetArrayDataReference(d);
            ref double v = ref Unsafe.Add(ref u, length), z = ref Unsafe.Add(ref v, length);
            // The shifts along the lanes of the block: m = -mean (the saved mean, already in the element type) and dz = the
            // channel's first dy (Backward's Terms and Shift).
            for (long k = k0; k < k1; k++)
            {
                nint first = (nint)((k - k0) * plan.Inner);
                T mk = -Unsafe.Add(ref saved, (nint)k), dk = Unsafe.Add(ref dy, start + first);
                for (nint j = first; j < length; j += period)
                {
                    Fill(ref Unsafe.Add(ref m, j), inner, mk);
                    Fill(ref Unsafe.Add(ref dz, j), inner, dk);
                }
            }
            MemoryMarshal.CreateSpan(ref u, 3 * (int)length).Clear();
            // Each lane's sums of dy - dz, (dy - dz) * (x + m) and x + m across the runs (whole runs: all of a block's; of whole
            // periods, all but a last shorter one, summed on its own).
            nint full = cut.Full;
            GradientRuns<TS, TV, T>.ReduceColumns<TX, Splat>(ref Unsafe.Add(ref x, start), ref Unsafe.Add(ref dy, start), full, length, stride, ref m, ref dz, ref u, ref v, ref z);
            if (full < runs)
            {
                nint o = start + full * stride, len = (nint)(plan.Total - o);
                GradientRuns<TS, TV, T>.ReduceColumns<TX, Splat>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref dy, o), 1, len, len, ref m, ref dz, ref u, ref v, ref z);
            }
            // Per channel: its lanes added in double, U = sum dy and V = sum dy * (x - mean) recovered in double with the mean
            // corrected by the exact sum of x - mf, the parameter gradients, the coefficients expanded along its lanes.
            double count = (double)plan.Outer * plan.Inner;
            int kept = plan.Kept;
            // Blocks of channels whose runs are lane rows (7x7 planes), dx stored normally: P, Q, R one per channel (at k - k0)
            // and each (n, k) run applied with them, m and dz broadcast (GradientRuns.Apply with Splat: the same expression per
            // element, its last vector overlapped: GradientRuns.ShortRuns), instead of expanded along the lanes. BatchNorm
            // backward NCHW 32x512x7x7, AMD Zen 5, harness alternating builds: 1 thread 403-424 -> 321-325 us, 2 threads
            // 254-260 -> 201-206 us (a call of Apply per run: 328-345 at 1 thread).
            bool broadcast = !TW.Streaming && plan.Blocks && Runs<TS, TV, T>.LaneRows(inner);
            double[] channels = settings.Channels;
            for (long k = k0; k < k1; k++)
            {
                nint first = (nint)((k - k0) * plan.Inner);
                double su = 0, sv = 0, sx = 0;
                for (nint j = first; j < length; j += period)
                {
                    su += ExpandedTraining<TK, T>.LaneSum(ref Unsafe.Add(ref u, j), inner);
                    sv += ExpandedTraining<TK, T>.LaneSum(ref Unsafe.Add(ref v, j), inner);
                    if (TX.Lanes) sx += ExpandedTraining<TK, T>.LaneSum(ref Unsafe.Add(ref z, j), inner);
                }
                if (!TX.Lanes) sx = count * double.CreateTruncating(Unsafe.Add(ref residual, (nint)k));
                double mf = double.CreateTruncating(Unsafe.Add(ref saved, (nint)k)), shift = double.CreateTruncating(Unsafe.Add(ref dz, first));
                double rstd = channels[k], g = settings.Affine ? double.CreateTruncating(Unsafe.Add(ref gamma, (nint)k)) : 1d;
                (double cp, double cq, double cr, double du, double dg) = BackwardShared<TK, T>.Channel(su, sv, sx, shift, mf, rstd, g, count);
                channels[kept + k] = du;
                channels[2 * kept + k] = dg;
                T tp = T.CreateTruncating(cp), tq = T.CreateTruncating(cq), tr = T.CreateTruncating(cr);
                if (broadcast)
                {
                    Unsafe.Add(ref p, (nint)(k - k0)) = tp;
                    Unsafe.Add(ref q, (nint)(k - k0)) = tq;
                    Unsafe.Add(ref r, (nint)(k - k0)) = tr;
                    continue;
                }
                for (nint j = first; j < length; j += period)
                {
                    Fill(ref Unsafe.Add(ref p, j), inner, tp);
                    Fill(ref Unsafe.Add(ref q, j), inner, tq);
                    Fill(ref Unsafe.Add(ref r, j), inner, tr);
                }
            }
            if (broadcast)
            {
                for (long run = 0; run < runs; run++)
                {
                    nint o = start + (nint)run * stride;
                    GradientRuns<TS, TV, T>.ShortRuns(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref dx, o), (nint)(k1 - k0), inner,
                        ref m, inner, ref p, ref q, ref r, ref dz, inner);
                }
                return;
            }
            for (long run = 0; run < runs; run++)
            {
                nint o = start + (nint)run * stride;
                GradientRuns<TS, TV, T>.Apply<TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref dx, o),
                    (nint)Math.Min(length, plan.Total - o), ref m, ref p, ref q, ref r, ref dz);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Fill(ref T p, nint n, T value) => ExpandedInference<TK, T>.Fill(ref p, n, value);
    }
}
