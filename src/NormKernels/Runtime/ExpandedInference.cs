using System;
using System.Buffers;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
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
/// loop nest, without the per-plane tails.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ExpandedInference<TK, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Inner extents from this many elements on keep the loop nest (its runs are long enough).</summary>
    public const int ShortRun = 64;

    /// <summary>Most elements of K x inner expanded (three coefficient arrays of this many elements).</summary>
    private const int ExpandedLimit = 1 << 16;

    /// <summary>Elements of expanded coefficients a run reads: at most about this many, so that they stay in L1 (3 x 4 KB
    /// for float) while the run's data streams past. A period (K x inner) up to this long is repeated to runs of whole
    /// periods; a longer one is cut into blocks of channels, each applied to every outer index in turn.</summary>
    private const long RunElements = 1024;

    /// <summary>Elements per parallel unit.</summary>
    private const long UnitElements = 1 << 16;

    /// <summary>Whether an inference call on <paramref name="dims"/> takes this path on <paramref name="path"/>: the layer's
    /// kind has no epilogue, its one kept axis carries statistics and parameters, the extent inside it is short but more
    /// than 1 (with K innermost, channels last, the loop nest's <see cref="Runs{TS, TV, T}.ApplyRows{TK, TW}"/> already runs
    /// rows of K as one range, its coefficients in registers), and K x inner is at most <see cref="ExpandedLimit"/> and at
    /// least one vector of the path.</summary>
    public static bool Applies(LayerShape shape, ReadOnlySpan<int> dims, KernelPath path)
    {
        if (TK.Epilogue || TK.AddsBefore || TK.AddsResidual || !shape.RunningStatistics || HalfAffine.KeptAxis(shape) < 0) return false;
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        long period = kept * inner;
        return outer > 0 && inner > 1 && inner < ShortRun && period <= ExpandedLimit && period >= LaneCount(path);
    }

    private static int LaneCount(KernelPath path) => path switch
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
    public static KernelPath Run<TOps>(KernelPath path, LayerShape shape, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon) where TOps : struct, IVector128Ops
    {
        HalfAffine.Split(shape, dims, out long outer, out int kept, out long inner);
        long period = kept * inner;
        // Short periods: runs of `repeat` whole periods (contiguous), coefficients expanded over one run. Long ones: blocks of
        // channels [k0, k1) (about RunElements each, at least one vector: see Applies), one unit each, over every outer index.
        bool blocks = period > RunElements;
        long repeat = blocks ? 1 : Math.Min(outer, Math.Max(1, RunElements / period));
        int length = (int)(period * repeat);
        int blockCount = blocks ? (int)((period + RunElements - 1) / RunElements) : 0;
        T[] rented = ArrayPool<T>.Shared.Rent(3 * length);
        try
        {
            Span<T> a = rented.AsSpan(0, length), b = rented.AsSpan(length, length), c = rented.AsSpan(2 * length, length);
            bool affine = shape.Affine != AffineMode.None && !weight.IsEmpty;
            double eps = double.CreateTruncating(epsilon);
            for (int k = 0; k < kept; k++)
            {
                // As Forward's RunningTerms and Coefficients: C = the mean rounded to T, A = gamma * rstd, B = beta - (mean - C) * A.
                double m = TK.Centered ? double.CreateTruncating(mean[k]) : 0d;
                T ck = TK.Centered ? T.CreateTruncating(m) : T.Zero;
                double g = affine ? double.CreateTruncating(weight[k]) : 1d, h = affine ? double.CreateTruncating(bias[k]) : 0d;
                double ak = g * Statistics.InverseStd(double.CreateTruncating(variance[k]), eps);
                a.Slice((int)(k * inner), (int)inner).Fill(T.CreateTruncating(ak));
                b.Slice((int)(k * inner), (int)inner).Fill(T.CreateTruncating(h - (m - double.CreateTruncating(ck)) * ak));
                c.Slice((int)(k * inner), (int)inner).Fill(ck);
            }
            for (long r = 1; r < repeat; r++)
            {
                a[..(int)period].CopyTo(a.Slice((int)(r * period)));
                b[..(int)period].CopyTo(b.Slice((int)(r * period)));
                c[..(int)period].CopyTo(c.Slice((int)(r * period)));
            }
            long runs = blocks ? blockCount : (outer + repeat - 1) / repeat;
            long runsPerUnit = blocks ? 1 : Math.Max(1, UnitElements / length);
            int units = (int)Math.Min(int.MaxValue, (runs + runsPerUnit - 1) / runsPerUnit);
            int workers = Parallelism.Workers(input.Length, units);
            var plan = new Plan(length, runs, runsPerUnit, input.Length, blocks, kept, inner, outer);
            ReadOnlySpan<T> ra = a, rb = b;
            Span<T> sc = c;
            bool stream = Streaming.Use((long)input.Length * Unsafe.SizeOf<T>(), (long)output.Length * Unsafe.SizeOf<T>(), LaneCount(path) > 1 && !input.Overlaps(output));
            switch (path)
            {
                case KernelPath.Vector512: Go<V512<T>, Vector512<T>>(stream, units, workers, plan, input, output, ra, rb, sc); break;
                case KernelPath.Vector256: Go<V256<T>, Vector256<T>>(stream, units, workers, plan, input, output, ra, rb, sc); break;
                case KernelPath.Vector128: Go<V128<T, TOps>, Vector128<T>>(stream, units, workers, plan, input, output, ra, rb, sc); break;
                default: Go<Scalar<T>, T>(stream, units, workers, plan, input, output, ra, rb, sc); break;
            }
            return path;
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>How a call is cut: runs of <see cref="Length"/> elements (whole periods), <see cref="PerUnit"/> per unit;
    /// or (<see cref="Blocks"/>) one block of channels per unit, applied to each of the <see cref="Outer"/> indices.</summary>
    private readonly record struct Plan(int Length, long Runs, long PerUnit, long Total, bool Blocks, int Kept, long Inner, long Outer);

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
            for (long r = first; r < last; r++)
            {
                nint o = (nint)(r * plan.Length);
                Runs<TS, TV, T>.Apply<TK, TW, Lanes>(ref Unsafe.Add(ref x, o), ref Unsafe.Add(ref y, o), (nint)Math.Min(plan.Length, plan.Total - o), ref a, ref b, ref c);
            }
        }
    }
}
