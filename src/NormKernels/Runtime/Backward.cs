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

/// <summary>The backward nests of a plan that sums per fold index (see <see cref="Backward{TNest, TK, T}"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGradientNest<T> : INest<T> where T : unmanaged
{
    /// <summary>Per fold index f over a block, or the chunk [from, to) of its first gradient segment: <c>u[f] += sum (dy - dz[f])</c>,
    /// <c>v[f] += sum (dy - dz[f]) * (x + m[f])</c>, <c>z[f] += sum (x + m[f])</c> (the last only with <typeparamref name="TX"/>
    /// <see cref="Lanes"/>: with <see cref="Splat"/> the driver has it from the forward's mean and z is not touched).</summary>
    /// <typeparamref name="TH"/> <see cref="Lanes"/>: x and dy come from memory, the runs hint their lines ahead into L1
    /// (<see cref="GradientRuns{TS, TV, T}.Reduce{TX, TH}"/>).
    void GradientReduce<TS, TV, TX, TH>(ref T x, ref T dy, nint from, nint to, ref T m, ref T dz, ref double u, ref double v, ref double z)
        where TS : struct, ISimd<TV, T> where TV : struct where TX : struct, IOperand where TH : struct, IOperand;

    /// <summary><c>dx = (dy - dz[f]) * p[f] + (x + m[f]) * q[f] + r[f]</c> over a block or a chunk of it, dx stored as
    /// <typeparamref name="TW"/> says.</summary>
    void GradientApply<TW, TS, TV>(ref T x, ref T dy, ref T dx, nint from, nint to, ref T m, ref T p, ref T q, ref T r, ref T dz)
        where TW : struct, IStores where TS : struct, ISimd<TV, T> where TV : struct;
}

/// <summary>The backward nests of a two-step plan with one statistic per block (see <see cref="AffineBackward{TNest, TK, T}"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IAffineGradientNest<T> : INest<T> where T : unmanaged
{
    /// <summary>One statistic's block: <c>a += sum g * (dy - dz)</c>, <c>b += sum g * (dy - dz) * (x + m)</c>, <c>gs += sum (g - gb)</c>,
    /// <c>hs += sum (g - gb) * (x + m)</c>, <c>xs += sum (x + m)</c>; <typeparamref name="TH"/> <see cref="Lanes"/>: x and dy come
    /// from memory, and each step hints their lines ahead into L1 (the same sums either way).</summary>
    void GradientAffineReduce<TS, TV, TH>(ref T x, ref T dy, nint from, nint to, T m, T dz, T gb, ref T g,
        ref double a, ref double b, ref double gs, ref double hs, ref double xs)
        where TS : struct, ISimd<TV, T> where TV : struct where TH : struct, IOperand;

    /// <summary>One statistic's block: <c>dx = (g * (dy - dz) + dz * (g - gb)) * r + (x + m) * q + rr</c>, stored as <typeparamref name="TW"/>
    /// says; <c>dbeta[p] += dy</c>, <c>dgamma[p] += dy * ((x + m) * r + c1)</c> (the parameter gradients in the element type: the driver
    /// adds them into double every few blocks).</summary>
    void GradientAffineApply<TW, TS, TV>(ref T x, ref T dy, ref T dx, nint from, nint to, T m, T r, T q, T rr, T dz, T gb, T c1, ref T g,
        ref T dbeta, ref T dgamma)
        where TW : struct, IStores where TS : struct, ISimd<TV, T> where TV : struct;
}

/// <summary>What the backward drivers share: the statistics' terms, the groups of blocks and the parameter gradients.</summary>
internal static class BackwardShared<TK, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Blocks run in fixed groups (the parallel units), a function of the shape alone.</summary>
    public static int Groups(int length, int blocks) => (int)Math.Clamp(length / (1 << 16), 1, Math.Min(32, Math.Max(1, blocks / 8)));

    /// <summary>The mean and the rstd of a statistic: the saved batch ones, or with <paramref name="constant"/> the running
    /// ones (uncentered kinds save the mean square alone, in <paramref name="stat0"/>, and their batch mean is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Mean, double Rstd) Terms(T stat0, T stat1, double epsilon, bool constant)
    {
        if (TK.Centered || constant)
            return (double.CreateTruncating(stat0), Statistics.InverseStd(double.CreateTruncating(stat1), epsilon));
        return (0d, Statistics.InverseStd(double.CreateTruncating(stat0), epsilon));
    }

    /// <summary>Whether a backward streams dx (see <see cref="Streaming"/>): x, dy and dx together exceed the threshold, the path
    /// has vectors (<paramref name="vectors"/>) and dx overlaps neither input.</summary>
    public static bool StreamsInputGrad(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, bool vectors) =>
        Streaming.Use((long)Unsafe.SizeOf<T>() * (input.Length + outputGrad.Length), (long)Unsafe.SizeOf<T>() * inputGrad.Length,
            vectors && !inputGrad.Overlaps(input) && !inputGrad.Overlaps(outputGrad));

    /// <summary>
    /// One channel's coefficients where a statistic has one fold index (a centered kind, batch statistics: what
    /// <see cref="Backward{TNest, TK, T}"/>'s Coefficients and FoldCoefficients compute for it, in the same order): from the
    /// lanes' sums <paramref name="su"/> = sum (dy - dz), <paramref name="sv"/> = sum (dy - dz) * (x - mf) and
    /// <paramref name="sx"/> = sum (x - mf) over <paramref name="count"/> values (dz = <paramref name="shift"/>, mf the saved
    /// mean in the element type), the mean corrected in double, U = sum dy and V = sum dy * (x - mean); then
    /// dx = (dy - dz) * P + (x - mf) * Q + R, and the bias and weight gradients U and V * rstd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double P, double Q, double R, double BiasGrad, double WeightGrad) Channel(double su, double sv, double sx, double shift, double mf,
        double rstd, double g, double count)
    {
        double mu = mf + sx / count;
        double u = su + count * shift;
        double v = sv + shift * sx + (mf - mu) * u;
        double q = -rstd * rstd * rstd * (g * v) / count;
        double a = -rstd * (g * u) / count;
        double p = g * rstd;
        return (p, q, a + shift * p + (mf - mu) * q, u, v * rstd);
    }

    /// <summary>Adds the groups' partial parameter gradients (bias at <c>g * 2P + p</c>, weight at <c>g * 2P + P + p</c>), in group
    /// order, into the accumulated gradients (PyTorch: they accumulate until zeroed). The groups' rows are added one after
    /// another into totals that start at 0 (the same additions, in the same order, as parameter by parameter; lane by lane
    /// in vectors): parameter by parameter read the partials a row apart per addition, 64 KB apart for LayerNorm's 4,096
    /// parameters, where it took 6% of the backward (AMD Zen 5, [1536, 4096], 1 thread). Float and double gradients four at a time
    /// (GroupNorm(32) backward NHWC 32x7x7x512: 0.7% -> 0.1% of a perf profile, about 2.3 -> 0.3 us a call; a total planted
    /// one parameter off fails 274 kernel tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddParameterGradients(double[] partials, int groups, Span<T> weightGrad, Span<T> biasGrad)
    {
        int parameters = weightGrad.Length, width = 2 * parameters;
        double[] rented = ArrayPool<double>.Shared.Rent(Math.Max(1, width));
        try
        {
            Span<double> totals = rented.AsSpan(0, width);
            Statistics.SumPartials(totals, partials, groups);
            int p = 0;
            if ((typeof(T) == typeof(float) || typeof(T) == typeof(double)) && Vector256.IsHardwareAccelerated && biasGrad.Length >= parameters)
            {
                // Four at a time: each gradient as a double, the total added, rounded back (the same bits as one by one).
                ref T bias = ref MemoryMarshal.GetReference(biasGrad), weight = ref MemoryMarshal.GetReference(weightGrad);
                ref double total = ref MemoryMarshal.GetReference(totals);
                for (; p + 4 <= parameters; p += 4)
                {
                    Store(Load(ref Unsafe.Add(ref bias, p)) + Vector256.LoadUnsafe(ref total, (nuint)p), ref Unsafe.Add(ref bias, p));
                    Store(Load(ref Unsafe.Add(ref weight, p)) + Vector256.LoadUnsafe(ref total, (nuint)(parameters + p)), ref Unsafe.Add(ref weight, p));
                }
            }
            for (; p < parameters; p++)
            {
                biasGrad[p] = T.CreateTruncating(double.CreateTruncating(biasGrad[p]) + totals[p]);
                weightGrad[p] = T.CreateTruncating(double.CreateTruncating(weightGrad[p]) + totals[parameters + p]);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    /// <summary>Four elements as doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> Load(ref T p) =>
        typeof(T) == typeof(float)
            ? Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref p)).ToVector256Unsafe())
            : Vector256.LoadUnsafe(ref Unsafe.As<T, double>(ref p));

    /// <summary>Four doubles stored as elements (rounded to float where T is float, as <c>T.CreateTruncating</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store(Vector256<double> v, ref T p)
    {
        if (typeof(T) == typeof(float)) Statistics.NarrowFour(v).StoreUnsafe(ref Unsafe.As<T, float>(ref p));
        else v.StoreUnsafe(ref Unsafe.As<T, double>(ref p));
    }
}

/// <summary>
/// The backward drivers of every plan that sums per fold index. With f the fold index of an element (its position along the
/// axes inside a block that index statistics or parameters), s its statistic, p its parameter, M the elements per statistic,
/// r = 1/sqrt(var + eps):
/// <list type="number">
/// <item>reduce, per f: U[f] = sum dy, V[f] = sum dy * (x - mean[s]);</item>
/// <item>per statistic: A = sum over f of g[p] * U[f], B = sum g[p] * V[f]; per parameter: dbeta += U[f], dgamma += V[f] * r;</item>
/// <item>apply, per element: dx = dy * P[f] + (x - mean) * Q[f] + R[f] with P = g * r, Q = -r^3 * B / M, R = -r * A / M
/// (uncentered kinds: R = 0; statistics held constant: Q = R = 0).</item>
/// </list>
/// Precision: the lanes never multiply an offset. They sum dy - dz (dz the fold index's first dy), (dy - dz) * (x - mf) (mf the
/// saved mean rounded to the element type) and x - mf; U, V and the mean itself (mf + sum(x - mf) / M) come back in double,
/// and the apply runs (dy - dz) * P + (x - mf) * Q + R' with R' = R + dz * P + (mf - mean) * Q. Blocks run in fixed groups;
/// each group sums its parameter gradients into its own partial, added in group order. Whole-tensor plans reduce over chunks
/// of the first segment into per-chunk partials merged in chunk order. Nothing depends on the thread count.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Backward<TNest, TK, T>
    where TNest : struct, IGradientNest<T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Gradients of a forward whose statistics are <paramref name="stat0"/>, <paramref name="stat1"/> (mean and biased
    /// variance; uncentered: mean square) or, with <paramref name="constant"/>, the given (running) ones held constant.
    /// Writes <paramref name="inputGrad"/>, adds into <paramref name="weightGrad"/> and <paramref name="biasGrad"/>.
    /// <paramref name="meanResidual"/>, when given (a layer's backward of its training forward), is that forward's mean - (T)mean
    /// per statistic: plans with one fold index per statistic (BatchNorm, InstanceNorm) then take the sum of x - (T)mean as
    /// count * residual instead of summing it exactly in double (the reduction's widening: BatchNorm NHWC S1 and S2 backward 12-17%
    /// faster without it).</summary>
    public static KernelPath Run(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> meanResidual = default) =>
        AdvSimd.IsSupported
            ? Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual)
            : Run<X86Vector128Ops>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual);

    /// <summary><see cref="Run(KernelPath, TNest, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, bool, Span{T}, Span{T}, ReadOnlySpan{T})"/>
    /// with the 128-bit path's operations given.</summary>
    public static KernelPath Run<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> meanResidual = default)
        where TOps : struct, IVector128Ops
    {
        Dispatch<TOps>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, Mode.Plain, null, 0,
            UsesResidual(nest, constant, meanResidual) ? meanResidual : default);
        return path;
    }

    /// <summary>Whether the forward's mean residual replaces the exact sum of x - (T)mean: a centered kind's batch statistics,
    /// a residual for every statistic (of every block), and one fold index per statistic, fold f of statistic f (the residual
    /// gives a statistic's sum, so it is a fold's only where the two are one: BatchNorm, InstanceNorm; not GroupNorm).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static bool UsesResidual(TNest nest, bool constant, ReadOnlySpan<T> meanResidual)
    {
        if (!TK.Centered || constant || nest.FoldCount != nest.StatisticCount) return false;
        if (meanResidual.Length < (long)nest.StatisticCount * Math.Max(1, nest.BlockCount)) return false;
        for (int f = 0; f < nest.FoldCount; f++)
        {
            nest.Fold(f, out nint s, out _);
            if (s != f) return false;
        }
        return true;
    }

    /// <summary>Synchronized step 1 with the 128-bit path's operations of this machine (see <see cref="Sums{TOps}"/>).</summary>
    public static KernelPath Sums(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> gamma, ReadOnlySpan<T> mean,
        Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered) =>
        AdvSimd.IsSupported
            ? Sums<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, outputGrad, gamma, mean, count, sumGrad, sumGradCentered)
            : Sums<X86Vector128Ops>(path, nest, input, outputGrad, gamma, mean, count, sumGrad, sumGradCentered);

    /// <summary>Synchronized step 2 with the 128-bit path's operations of this machine (see <see cref="WithSums{TOps}"/>).</summary>
    public static KernelPath WithSums(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered,
        Span<T> weightGrad, Span<T> biasGrad) =>
        AdvSimd.IsSupported
            ? WithSums<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, outputGrad, inputGrad, gamma, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad)
            : WithSums<X86Vector128Ops>(path, nest, input, outputGrad, inputGrad, gamma, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);

    /// <summary>
    /// Synchronized backward, step 1 (data-parallel BatchNorm): this shard's sums per statistic, <paramref name="count"/> (its
    /// values), <paramref name="sumGrad"/> = sum of g * dy and <paramref name="sumGradCentered"/> = sum of g * dy * (x - mean), with
    /// <paramref name="mean"/> the merged mean the forward normalized with: the backward's reduction, nothing written but the sums.
    /// </summary>
    public static KernelPath Sums<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> gamma, ReadOnlySpan<T> mean,
        Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered) where TOps : struct, IVector128Ops
    {
        int total = count.Length;
        double[] sums = ArrayPool<double>.Shared.Rent(3 * total);
        try
        {
            Dispatch<TOps>(path, nest, input, outputGrad, default, gamma, mean, mean, T.Zero, false, default, default, Mode.Sums, sums, total, default);
            new Span<double>(sums, 0, total).CopyTo(count);
            new Span<double>(sums, total, total).CopyTo(sumGrad);
            new Span<double>(sums, 2 * total, total).CopyTo(sumGradCentered);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sums);
        }
        return path;
    }

    /// <summary>
    /// Synchronized backward, step 2: with the sums of every shard added (<paramref name="count"/> the total M), this shard's part
    /// of the full-batch gradient, <c>dx = dy * g * r + (x - mean) * Q + R</c>, Q = -r^3 * sumGradCentered / M, R = -r * sumGrad / M,
    /// and this shard's parameter gradients added into <paramref name="weightGrad"/>, <paramref name="biasGrad"/>.
    /// </summary>
    public static KernelPath WithSums<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, T epsilon, ReadOnlySpan<double> count, ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered,
        Span<T> weightGrad, Span<T> biasGrad) where TOps : struct, IVector128Ops
    {
        int total = count.Length;
        double[] sums = ArrayPool<double>.Shared.Rent(3 * total);
        try
        {
            count.CopyTo(new Span<double>(sums, 0, total));
            sumGrad.CopyTo(new Span<double>(sums, total, total));
            sumGradCentered.CopyTo(new Span<double>(sums, 2 * total, total));
            Dispatch<TOps>(path, nest, input, outputGrad, inputGrad, gamma, mean, variance, epsilon, false, weightGrad, biasGrad, Mode.WithSums, sums, total, default);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sums);
        }
        return path;
    }

    /// <summary>What a backward call computes.</summary>
    internal enum Mode
    {
        /// <summary>The gradient of this tensor's forward.</summary>
        Plain,

        /// <summary>Synchronized step 1: the shard's gradient sums per statistic, nothing else.</summary>
        Sums,

        /// <summary>Synchronized step 2: dx from the sums of every shard; the shard's parameter gradients.</summary>
        WithSums,
    }

    private static void Dispatch<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, Mode mode, double[]? sums, int total,
        ReadOnlySpan<T> residual) where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: Run<V512<T>, Vector512<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual); break;
            case KernelPath.Vector256: Run<V256<T>, Vector256<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual); break;
            case KernelPath.Vector128: Run<V128<T, TOps>, Vector128<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual); break;
            default: Run<Scalar<T>, T>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual); break;
        }
    }

    /// <summary>Streams dx (see <see cref="Streaming"/>) where x, dy and dx together exceed the threshold and dx overlaps neither;
    /// a non-empty <paramref name="residual"/> (see <see cref="UsesResidual"/>): the sums of x - (T)mean from it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, Mode mode, double[]? sums, int total,
        ReadOnlySpan<T> residual)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        bool streams = BackwardShared<TK, T>.StreamsInputGrad(input, outputGrad, inputGrad, TS.Count > 1 && mode != Mode.Sums);
        if (residual.IsEmpty)
        {
            if (streams) Run<TS, TV, StreamedStores, Lanes>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, default);
            else Run<TS, TV, CachedStores, Lanes>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, default);
        }
        else if (streams) Run<TS, TV, StreamedStores, Splat>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual);
        else Run<TS, TV, CachedStores, Splat>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, mode, sums, total, residual);
    }

    /// <summary><typeparamref name="TX"/>: <see cref="Lanes"/>, the reduction sums x - (T)mean exactly; <see cref="Splat"/>, those
    /// sums are count * <paramref name="residual"/> (see <see cref="ResidualSums"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<TS, TV, TW, TX>(TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, Mode mode, double[]? sums, int total,
        ReadOnlySpan<T> residual)
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores where TX : struct, IOperand
    {
        var layout = new Layout(nest);
        int parameters = weightGrad.Length;
        double eps = double.CreateTruncating(epsilon);
        // Tensors past the last-level cache: the sums come from memory and hint their lines ahead (see GradientRuns.Reduce).
        bool fromMemory = Streaming.Exceeds((long)(input.Length + outputGrad.Length) * Unsafe.SizeOf<T>(), (long)inputGrad.Length * Unsafe.SizeOf<T>());
        Span<T> s0 = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(stat0), stat0.Length);
        Span<T> s1 = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(stat1), stat1.Length);
        if (nest.BlockCount > 0)
        {
            int blocks = nest.BlockCount;
            int groups = BackwardShared<TK, T>.Groups(input.Length, blocks);
            int interleaved = Interleaved(nest, blocks);
            bool memoryOrder = mode != Mode.Sums && MemoryOrder<TS, TV, TW>(nest, blocks, input.Length);
            if (memoryOrder)
            {
                // Each worker's share of the blocks as one group and one interleaved run: both passes in memory order.
                groups = Parallelism.Workers(input.Length, blocks);
                interleaved = InterleavedRuns.MemoryOrderGroup(blocks, groups, Math.Max(layout.Doubles, layout.Elements));
                LastCall.Current.MemoryOrder = true;
            }
            int workers = Parallelism.Workers(input.Length, groups);
            double[] gradPartials = ArrayPool<double>.Shared.Rent(Math.Max(1, groups * 2 * parameters));
            nint reverseRows = interleaved == 1 ? ReverseChunkRows(nest, input.Length / blocks) : 0;
            bool shortFolds = interleaved == 1 && reverseRows == 0 && !memoryOrder && ShortFolds<TS, TV>(nest);
            // Per worker, a slice of its scratch per block of an interleaved run (the k-th at k * layout.Doubles and k * layout.Elements).
            WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, interleaved * layout.Doubles, interleaved * layout.Elements);
            try
            {
                new Span<double>(gradPartials, 0, groups * 2 * parameters).Clear();
                // The residuals pinned for the units (every runner span is taken), read with TX Splat only.
                fixed (T* pinned = residual)
                {
                    var body = new Group<TS, TV, TW, TX>(nest, layout, eps, constant, fromMemory, blocks, groups, parameters, interleaved, scratch.Doubles, scratch.Elements, gradPartials,
                        mode, sums, total, pinned, reverseRows, memoryOrder, shortFolds);
                    ParallelUnits.For(groups, workers, body, input, inputGrad, outputGrad, gamma, s0, s1);
                }
                if (mode != Mode.Sums) BackwardShared<TK, T>.AddParameterGradients(gradPartials, groups, weightGrad, biasGrad);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(gradPartials);
                scratch.Return();
            }
            return;
        }

        // One block, the whole tensor: the reduction over chunks of the first segment, per-chunk partials merged in chunk order.
        nint rows = nest.GradientRows(out bool splittable);
        int chunks = splittable ? (int)Math.Clamp(input.Length / (1 << 16), 1, Math.Min(32L, Math.Max(1L, (long)rows / 8))) : 1;
        int width = 3 * layout.Folds;
        double[] partials = ArrayPool<double>.Shared.Rent(chunks * width);
        double[] doubles = ArrayPool<double>.Shared.Rent(layout.Doubles + 2 * parameters + 1);
        T[] elements = ArrayPool<T>.Shared.Rent(layout.Elements);
        try
        {
            ref double gradSums = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(doubles), layout.Doubles);
            new Span<double>(doubles, layout.Doubles, 2 * parameters).Clear();
            Terms(nest, layout, doubles, elements, 0, ref MemoryMarshal.GetReference(stat0), ref MemoryMarshal.GetReference(stat1), eps, constant);
            Shift(nest, layout, elements, ref MemoryMarshal.GetReference(outputGrad));
            new Span<double>(partials, 0, chunks * width).Clear();
            var reduce = new ReduceChunk<TS, TV, TX>(nest, layout, rows, chunks, partials, elements, fromMemory);
            ParallelUnits.For(chunks, Parallelism.Workers(input.Length, chunks), reduce, input, inputGrad, outputGrad, default, default, default);
            // Merge the chunks' partial sums in chunk order (deterministic whatever ran them).
            Statistics.SumPartials(doubles.AsSpan(0, width), partials, chunks);
            if (!TX.Lanes) ResidualSums(nest, layout, doubles, ref MemoryMarshal.GetReference(residual));
            ref T gammaRef = ref MemoryMarshal.GetReference(gamma);
            if (mode == Mode.Sums)
            {
                SumsOut(nest, layout, doubles, elements, ref gammaRef, 0, sums!, 0, total);
                return;
            }
            if (mode == Mode.WithSums) SynchronizedCoefficients(nest, layout, doubles, elements, ref gammaRef, 0, ref gradSums, parameters, sums!, 0, total);
            else Coefficients(nest, layout, doubles, elements, ref gammaRef, 0, ref gradSums, parameters, constant);
            int applyChunks = splittable ? (int)Math.Clamp(input.Length / (1 << 15), 1, (long)rows) : 1;
            int applyWorkers = Parallelism.Workers(input.Length, applyChunks);
            if (TW.Streaming && fromMemory)
                ParallelUnits.For(applyChunks, applyWorkers, new ApplyChunk<TS, TV, StreamedFromMemoryStores>(nest, layout, rows, applyChunks, applyWorkers, elements),
                    input, inputGrad, outputGrad, default, default, default);
            else
                ParallelUnits.For(applyChunks, applyWorkers, new ApplyChunk<TS, TV, TW>(nest, layout, rows, applyChunks, applyWorkers, elements),
                    input, inputGrad, outputGrad, default, default, default);
            for (int p = 0; p < parameters; p++)
            {
                biasGrad[p] = T.CreateTruncating(double.CreateTruncating(biasGrad[p]) + doubles[layout.Doubles + p]);
                weightGrad[p] = T.CreateTruncating(double.CreateTruncating(weightGrad[p]) + doubles[layout.Doubles + parameters + p]);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(partials);
            ArrayPool<double>.Shared.Return(doubles);
            ArrayPool<T>.Shared.Return(elements);
        }
    }

    /// <summary>X = sum (x - mf) per fold index (fold f of statistic f, see <see cref="UsesResidual"/>) from the forward's
    /// mean residual instead of the reduction: count * (mean - mf), mean the forward's in double and mf = (T)mean, so
    /// <see cref="Coefficients"/>' mean in double is the forward's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static void ResidualSums(TNest nest, Layout layout, Span<double> doubles, ref T residual)
    {
        double count = nest.Count;
        int f = 0;
        if (Vector256.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
        {
            // Four at a time (the same products), not a conversion each that merges into the last one's register.
            ref double x = ref doubles[2 * layout.Folds];
            var n = Vector256.Create(count);
            for (; f + 4 <= layout.Folds; f += 4)
                (n * Load(ref Unsafe.Add(ref residual, f))).StoreUnsafe(ref x, (nuint)f);
        }
        for (; f < layout.Folds; f++)
            doubles[2 * layout.Folds + f] = count * double.CreateTruncating(Unsafe.Add(ref residual, f));
    }

    /// <summary>The scratch layout. Doubles: U, V, X per fold index, then per statistic the sum of x - mf, mu, rstd, A, B.
    /// Elements per fold index: m = -mf, P, Q, R and the gradient's shift dz.</summary>
    internal readonly struct Layout
    {
        public Layout(TNest nest)
        {
            Folds = nest.FoldCount;
            Statistics = nest.StatisticCount;
            Doubles = 3 * Folds + 5 * Statistics;
            Elements = 5 * Folds;
            Identity = Folds == Statistics && Folds >= 4 && IdentityFolds(nest, Folds);
            Run = !Identity && Statistics > 0 && Folds % Statistics == 0 && Folds / Statistics % 4 == 0 && RunFolds(nest, Folds, Folds / Statistics)
                ? Folds / Statistics : 0;
            Contiguous = Folds >= 4 && ContiguousFolds(nest, Folds);
        }

        /// <summary>Whether fold index f is statistic f and parameter f (channels last: InstanceNorm and BatchNorm NHWC).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
        private static bool IdentityFolds(TNest nest, int folds)
        {
            for (int f = 0; f < folds; f++)
            {
                nest.Fold(f, out nint s, out nint p);
                if (s != f || p != f) return false;
            }
            return true;
        }

        /// <summary>Whether fold index f is statistic f / <paramref name="run"/> and parameter f (GroupNorm NHWC: a group's
        /// channels).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
        private static bool RunFolds(TNest nest, int folds, int run)
        {
            for (int f = 0; f < folds; f++)
            {
                nest.Fold(f, out nint s, out nint p);
                if (s != f / run || p != f) return false;
            }
            return true;
        }

        /// <summary>Fold indices per statistic where each statistic's run of them is consecutive, a multiple of four, and
        /// each is its own parameter (<see cref="RunFolds"/>: the coefficients then go four at a time,
        /// <see cref="RunCoefficients{TD, TDV}"/>); else 0.</summary>
        public int Run { get; }

        /// <summary>Whether fold index f starts at element f of its block (channels last).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
        private static bool ContiguousFolds(TNest nest, int folds)
        {
            for (int f = 0; f < folds; f++)
                if (nest.FoldStart(f) != f) return false;
            return true;
        }

        /// <summary>Fold index f starts at element f of its block (channels last): the gradient's shifts are the block's
        /// first row of dy (<see cref="Shift"/>).</summary>
        public bool Contiguous { get; }

        public int Folds { get; }

        /// <summary>Each fold index its own statistic and parameter, at its own index (<see cref="IdentityFolds"/>): the
        /// coefficients then go eight or four at a time (<see cref="CoefficientsInLanes"/>).</summary>
        public bool Identity { get; }
        public int Statistics { get; }
        public int Doubles { get; }
        public int Elements { get; }
    }

    /// <summary>The scratch of a block (see <see cref="Layout"/>) by name. Doubles: U, V, X per fold index, then per statistic
    /// the sum of x - mf, mu, rstd, A and B. Elements per fold index: m = -mf, P, Q, R and the gradient's shift dz.</summary>
    private readonly ref struct Slots
    {
        public readonly ref double SumU, SumV, SumX, CentredTotal, Mu, Rstd, SumA, SumB;
        public readonly ref T M, P, Q, R, D;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Slots(Layout layout, Span<double> doubles, Span<T> elements)
        {
            int folds = layout.Folds, statistics = layout.Statistics;
            SumU = ref MemoryMarshal.GetReference(doubles);
            SumV = ref Unsafe.Add(ref SumU, folds);
            SumX = ref Unsafe.Add(ref SumV, folds);
            CentredTotal = ref Unsafe.Add(ref SumX, folds);
            Mu = ref Unsafe.Add(ref CentredTotal, statistics);
            Rstd = ref Unsafe.Add(ref Mu, statistics);
            SumA = ref Unsafe.Add(ref Rstd, statistics);
            SumB = ref Unsafe.Add(ref SumA, statistics);
            M = ref MemoryMarshal.GetReference(elements);
            P = ref Unsafe.Add(ref M, folds);
            Q = ref Unsafe.Add(ref P, folds);
            R = ref Unsafe.Add(ref Q, folds);
            D = ref Unsafe.Add(ref R, folds);
        }
    }

    /// <summary>mu and rstd per statistic of the block (at <paramref name="so"/>), and m = -mu rounded to the element type per fold index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Terms(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, nint so, ref T stat0, ref T stat1, double epsilon, bool constant)
    {
        ref double mu = ref Unsafe.Add(ref MemoryMarshal.GetReference(doubles), 3 * layout.Folds + layout.Statistics);
        ref double rstd = ref Unsafe.Add(ref mu, layout.Statistics);
        ref T m = ref MemoryMarshal.GetReference(elements);
        int first = 0;
        if (Vector256.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
        {
            // BackwardShared.Terms eight (AVX-512) and then four at a time (the same operations: the same bits); see
            // CoefficientsInLanes for why.
            bool centered = TK.Centered || constant;
            if (Avx512F.IsSupported) first = TermsInLanes<EightLanes, Vector512<double>>(layout, so, ref stat0, ref stat1, epsilon, centered, ref mu, ref rstd, ref m, first);
            first = TermsInLanes<FourLanes, Vector256<double>>(layout, so, ref stat0, ref stat1, epsilon, centered, ref mu, ref rstd, ref m, first);
        }
        for (int s = first; s < layout.Statistics; s++)
            (Unsafe.Add(ref mu, s), Unsafe.Add(ref rstd, s)) = BackwardShared<TK, T>.Terms(Unsafe.Add(ref stat0, so + s),
                TK.Centered || constant ? Unsafe.Add(ref stat1, so + s) : T.Zero, epsilon, constant);
        if (layout.Statistics == 1)
        {
            // One statistic: every fold's m is the same (LayerNorm over C,H,W NCHW: 512 folds a block). The inlined fill, not
            // Span.Fill: its generic helper was JIT-compiled at instrumented tier 0 and stayed there through the bench's
            // measurements (GroupNorm(32) backward NCHW 32x512x7x7, 16 floats a block: 30 of 240 us in the harness).
            ExpandedInference<TK, T>.Fill(ref m, layout.Folds, T.CreateTruncating(-mu));
            return;
        }
        if (layout.Run > 0 && !layout.Identity)
        {
            // Runs of folds per statistic (GroupNorm's channels of a group): each run filled with its statistic's m, not fold
            // by fold through the nest (GroupNorm(32) backward NHWC 32x7x7x512, 512 folds a block: 212 -> 209 us).
            for (int s = 0; s < layout.Statistics; s++)
                ExpandedInference<TK, T>.Fill(ref Unsafe.Add(ref m, s * layout.Run), layout.Run, T.CreateTruncating(-Unsafe.Add(ref mu, s)));
            return;
        }
        for (int f = layout.Identity ? first : 0; f < layout.Folds; f++)
        {
            nest.Fold(f, out nint s, out _);
            Unsafe.Add(ref m, f) = T.CreateTruncating(-Unsafe.Add(ref mu, s));
        }
    }

    /// <summary><see cref="Terms"/>' statistics from <paramref name="first"/> on, <typeparamref name="TL"/>'s lanes at a time:
    /// mu, rstd and (identity folds) m. Returns where it stopped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TermsInLanes<TL, TV>(Layout layout, nint so, ref T stat0, ref T stat1, double epsilon, bool centered, ref double mu, ref double rstd,
        ref T m, int first) where TL : struct, IDoubleLanes<TV> where TV : struct
    {
        TV e = TL.Splat(epsilon);
        for (; first + TL.Count <= layout.Statistics; first += TL.Count)
        {
            TV mean = centered ? TL.Elements(ref Unsafe.Add(ref stat0, so + first)) : TL.Zero;
            TV second = TL.Elements(ref Unsafe.Add(ref (centered ? ref stat1 : ref stat0), so + first));
            TL.Store(mean, ref mu, first);
            TL.Store(TL.Divide(TL.One, TL.Sqrt(TL.Add(second, e))), ref rstd, first);
            if (layout.Identity) TL.Narrow(TL.Negate(mean), ref Unsafe.Add(ref m, first));
        }
        return first;
    }

    /// <summary>The gradient's shift dz per fold index: its first element's dy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Shift(TNest nest, Layout layout, Span<T> elements, ref T dy)
    {
        ref T dz = ref Unsafe.Add(ref MemoryMarshal.GetReference(elements), 4 * layout.Folds);
        if (layout.Contiguous)
        {
            MemoryMarshal.CreateReadOnlySpan(ref dy, layout.Folds).CopyTo(MemoryMarshal.CreateSpan(ref dz, layout.Folds));
            return;
        }
        for (int f = 0; f < layout.Folds; f++)
            Unsafe.Add(ref dz, f) = Unsafe.Add(ref dy, nest.FoldStart(f));
    }

    /// <summary>From U, V, X: the mean in double, A and B per statistic, the parameter gradients into <paramref name="gradSums"/>
    /// (dbeta at po + p, dgamma at parameters + po + p), then P, Q, R per fold index. A method of its own, compiled fully
    /// optimized on its first call (once a block).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Coefficients(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, ref double gradSums, int parameters, bool constant)
    {
        int folds = layout.Folds, statistics = layout.Statistics;
        var slots = new Slots(layout, doubles, elements);
        ref double sumU = ref slots.SumU, sumV = ref slots.SumV, sumX = ref slots.SumX, centredTotal = ref slots.CentredTotal;
        ref double mu = ref slots.Mu, rstd = ref slots.Rstd, sumA = ref slots.SumA, sumB = ref slots.SumB;
        ref T coefM = ref slots.M, coefP = ref slots.P, coefQ = ref slots.Q, coefR = ref slots.R, coefD = ref slots.D;
        // The statistics' sums of x - mf, A and B start at 0 (a loop: a block of one statistic paid two calls to clear them).
        for (int s = 0; s < statistics; s++)
        {
            Unsafe.Add(ref centredTotal, s) = 0d;
            Unsafe.Add(ref sumA, s) = 0d;
            Unsafe.Add(ref sumB, s) = 0d;
        }
        double count = nest.Count;
        // The lanes summed U' = sum (dy - dz), V' = sum (dy - dz) * (x - mf) and X = sum (x - mf) per fold index, mf the mean
        // rounded to the element type: U = sum dy = U' + n * dz and V = sum dy * (x - mean) = V' + dz * X + (mf - mean) * U
        // come back in double.
        double perIndex = count * statistics / folds;
        bool affine = nest.Affine;
        int first = layout.Identity ? CoefficientsInLanes(layout, doubles, elements, ref gamma, po, ref gradSums, parameters, constant, count, perIndex, affine) : 0;
        if (TK.Centered)
        {
            for (int f = first; f < folds; f++)
            {
                nest.Fold(f, out nint s, out _);
                Unsafe.Add(ref centredTotal, s) += Unsafe.Add(ref sumX, f);
            }
            // The mean in double: the saved one (rounded to the element type) corrected by the exact sum of x - mf over its statistic.
            if (!constant)
                for (int s = first; s < statistics; s++)
                    Unsafe.Add(ref mu, s) = -double.CreateTruncating(T.CreateTruncating(-Unsafe.Add(ref mu, s))) + Unsafe.Add(ref centredTotal, s) / count;
        }
        // A = sum g * U, B = sum g * V per statistic; dbeta += U, dgamma += V * rstd per parameter.
        for (int f = first; f < folds; f++)
        {
            nest.Fold(f, out nint s, out nint p);
            double g = affine ? double.CreateTruncating(Unsafe.Add(ref gamma, po + p)) : 1d;
            double shiftU = double.CreateTruncating(Unsafe.Add(ref coefD, f)), centerU = -double.CreateTruncating(Unsafe.Add(ref coefM, f));
            double u = Unsafe.Add(ref sumU, f) + perIndex * shiftU;
            double v = Unsafe.Add(ref sumV, f) + shiftU * Unsafe.Add(ref sumX, f) + (centerU - Unsafe.Add(ref mu, s)) * u;
            Unsafe.Add(ref sumA, s) += g * u;
            Unsafe.Add(ref sumB, s) += g * v;
            if (affine)
            {
                Unsafe.Add(ref gradSums, po + p) += u;
                Unsafe.Add(ref gradSums, parameters + po + p) += v * Unsafe.Add(ref rstd, s);
            }
        }
        // Per statistic, in place of A and B: Q = -r^3 * B / M and R = -r * A / M (0 with constant statistics; R = 0 uncentered).
        for (int s = first; s < statistics; s++)
        {
            double r = Unsafe.Add(ref rstd, s);
            double q = constant ? 0d : -r * r * r * Unsafe.Add(ref sumB, s) / count;
            Unsafe.Add(ref sumA, s) = TK.Centered && !constant ? -r * Unsafe.Add(ref sumA, s) / count : 0d;
            Unsafe.Add(ref sumB, s) = q;
        }
        FoldCoefficients(nest, layout, doubles, elements, ref gamma, po, first);
    }

    /// <summary>
    /// <see cref="Coefficients"/> for fold indices that are their own statistic and parameter (<see cref="Layout.Identity"/>),
    /// eight (AVX-512) and then four at a time in double lanes: its operations in its order per index (no fused multiply-add,
    /// as the scalar code), so the same bits. Returns how many it made (a multiple of four; the caller makes the rest). One by
    /// one the loops' scalar conversions (<c>vcvtss2sd</c>, <c>vcvtsd2ss</c>) merge into registers the JIT reuses across
    /// iterations, and each index waited for the last one's three divisions: InstanceNorm NHWC backward on 32 x 7 x 7 x 512
    /// spent about 10 ns a channel of each sample here, 165 of its 397 us (AMD Zen 5, 1 thread). With four lanes,
    /// <see cref="Terms"/>, <see cref="Shift"/> and <see cref="ResidualSums"/> in lanes too and the coefficients a method of
    /// their own: 209-214 us, the same bits (the harness compared every element of dx; a coefficient planted wrong fails 138
    /// tests). Eight lanes where AVX-512 is there (AMD Zen 5 divides and takes square roots of eight doubles at the rate of
    /// four, see Forward's StatisticsEight), here and in <see cref="Terms"/>: see <see cref="EightLanes"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int CoefficientsInLanes(Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, ref double gradSums, int parameters,
        bool constant, double count, double perIndex, bool affine)
    {
        if (!Vector256.IsHardwareAccelerated || (typeof(T) != typeof(float) && typeof(T) != typeof(double))) return 0;
        int f = 0;
        if (Avx512F.IsSupported)
            f = CoefficientLanes<EightLanes, Vector512<double>>(layout, doubles, elements, ref gamma, po, ref gradSums, parameters, constant, count, perIndex, affine, f);
        return CoefficientLanes<FourLanes, Vector256<double>>(layout, doubles, elements, ref gamma, po, ref gradSums, parameters, constant, count, perIndex, affine, f);
    }

    /// <summary><see cref="CoefficientsInLanes"/>' loop from fold <paramref name="f"/> on, <typeparamref name="TL"/>'s lanes at
    /// a time. Returns where it stopped.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int CoefficientLanes<TL, TV>(Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, ref double gradSums, int parameters,
        bool constant, double count, double perIndex, bool affine, int f) where TL : struct, IDoubleLanes<TV> where TV : struct
    {
        int folds = layout.Folds;
        var slots = new Slots(layout, doubles, elements);
        ref double sumU = ref slots.SumU, sumV = ref slots.SumV, sumX = ref slots.SumX, centredTotal = ref slots.CentredTotal;
        ref double mu = ref slots.Mu, rstd = ref slots.Rstd, sumA = ref slots.SumA, sumB = ref slots.SumB;
        ref T coefM = ref slots.M, coefP = ref slots.P, coefQ = ref slots.Q, coefR = ref slots.R, coefD = ref slots.D;
        TV n = TL.Splat(count), per = TL.Splat(perIndex);
        for (; f + TL.Count <= folds; f += TL.Count)
        {
            TV x = TL.Load(ref sumX, f), m = TL.Load(ref mu, f), r = TL.Load(ref rstd, f);
            if (TK.Centered)
            {
                // centredTotal starts at 0 (cleared) and takes this index's X alone.
                TV total = TL.Add(TL.Zero, x);
                TL.Store(total, ref centredTotal, f);
                if (!constant)
                {
                    m = TL.Add(RoundedMean(m), TL.Divide(total, n));
                    TL.Store(m, ref mu, f);
                }
            }
            TV g = affine ? TL.Elements(ref Unsafe.Add(ref gamma, po + f)) : TL.One;
            TV shift = TL.Elements(ref Unsafe.Add(ref coefD, f)), center = TL.Negate(TL.Elements(ref Unsafe.Add(ref coefM, f)));
            TV u = TL.Add(TL.Load(ref sumU, f), TL.Multiply(per, shift));
            TV v = TL.Add(TL.Add(TL.Load(ref sumV, f), TL.Multiply(shift, x)), TL.Multiply(TL.Subtract(center, m), u));
            TV a = TL.Add(TL.Zero, TL.Multiply(g, u)), b = TL.Add(TL.Zero, TL.Multiply(g, v));
            if (affine)
            {
                TL.Store(TL.Add(TL.Load(ref gradSums, po + f), u), ref gradSums, po + f);
                TL.Store(TL.Add(TL.Load(ref gradSums, parameters + po + f), TL.Multiply(v, r)), ref gradSums, parameters + po + f);
            }
            // -r * r * r * b / n and -r * a / n, left to right as the scalar code.
            TV q = constant ? TL.Zero : TL.Divide(TL.Multiply(TL.Multiply(TL.Multiply(TL.Negate(r), r), r), b), n);
            a = TK.Centered && !constant ? TL.Divide(TL.Multiply(TL.Negate(r), a), n) : TL.Zero;
            TL.Store(a, ref sumA, f);
            TL.Store(q, ref sumB, f);
            // FoldCoefficients' operations.
            TV coefp = TL.Multiply(g, r);
            TL.Narrow(coefp, ref Unsafe.Add(ref coefP, f));
            TL.Narrow(q, ref Unsafe.Add(ref coefQ, f));
            TL.Narrow(TL.Add(TL.Add(a, TL.Multiply(shift, coefp)), TL.Multiply(TL.Subtract(center, m), q)), ref Unsafe.Add(ref coefR, f));
        }
        return f;
    }

    /// <summary>Double lanes for <see cref="TermsInLanes"/> and <see cref="CoefficientLanes"/>: each operation lane by lane as
    /// the scalar code does it (no fused multiply-add; conversions round to nearest), so the same bits at either width.</summary>
    private interface IDoubleLanes<TV> where TV : struct
    {
        static abstract int Count { get; }
        static abstract TV Zero { get; }
        static abstract TV One { get; }
        static abstract TV Splat(double value);
        static abstract TV Load(ref double p, nint i);
        static abstract void Store(TV v, ref double p, nint i);
        /// <summary>Count elements at <paramref name="p"/> as doubles.</summary>
        static abstract TV Elements(ref T p);
        /// <summary>The lanes stored at <paramref name="p"/> as elements (rounded to float where T is float).</summary>
        static abstract void Narrow(TV v, ref T p);
        static abstract TV Add(TV a, TV b);
        static abstract TV Subtract(TV a, TV b);
        static abstract TV Multiply(TV a, TV b);
        static abstract TV Divide(TV a, TV b);
        static abstract TV Negate(TV a);
        static abstract TV Sqrt(TV a);
    }

    /// <summary>Four doubles (AVX). Two structs of one shape, one a width: one generic struct choosing the width by
    /// <c>typeof</c> ran InstanceNorm backward NHWC S2 1.10x slower on AVX-512 and 1.27-1.33x on AVX2 (AMD Zen 5).</summary>
    private readonly struct FourLanes : IDoubleLanes<Vector256<double>>
    {
        public static int Count => 4;
        public static Vector256<double> Zero => Vector256<double>.Zero;
        public static Vector256<double> One => Vector256<double>.One;
        public static Vector256<double> Splat(double value) => Vector256.Create(value);
        public static Vector256<double> Load(ref double p, nint i) => Vector256.LoadUnsafe(ref p, (nuint)i);
        public static void Store(Vector256<double> v, ref double p, nint i) => v.StoreUnsafe(ref p, (nuint)i);
        public static Vector256<double> Elements(ref T p) => Backward<TNest, TK, T>.Load(ref p);
        public static void Narrow(Vector256<double> v, ref T p) => Backward<TNest, TK, T>.Store(v, ref p);
        public static Vector256<double> Add(Vector256<double> a, Vector256<double> b) => a + b;
        public static Vector256<double> Subtract(Vector256<double> a, Vector256<double> b) => a - b;
        public static Vector256<double> Multiply(Vector256<double> a, Vector256<double> b) => a * b;
        public static Vector256<double> Divide(Vector256<double> a, Vector256<double> b) => a / b;
        public static Vector256<double> Negate(Vector256<double> a) => -a;
        public static Vector256<double> Sqrt(Vector256<double> a) => Vector256.Sqrt(a);
    }

    /// <summary>Eight doubles (AVX-512: only called where <see cref="Avx512F.IsSupported"/>).</summary>
    private readonly struct EightLanes : IDoubleLanes<Vector512<double>>
    {
        public static int Count => 8;
        public static Vector512<double> Zero => Vector512<double>.Zero;
        public static Vector512<double> One => Vector512<double>.One;
        public static Vector512<double> Splat(double value) => Vector512.Create(value);
        public static Vector512<double> Load(ref double p, nint i) => Vector512.LoadUnsafe(ref p, (nuint)i);
        public static void Store(Vector512<double> v, ref double p, nint i) => v.StoreUnsafe(ref p, (nuint)i);
        public static Vector512<double> Elements(ref T p) => Widen<Vector512<double>>(ref p);
        public static void Narrow(Vector512<double> v, ref T p) => Backward<TNest, TK, T>.Narrow(v, ref p);
        public static Vector512<double> Add(Vector512<double> a, Vector512<double> b) => a + b;
        public static Vector512<double> Subtract(Vector512<double> a, Vector512<double> b) => a - b;
        public static Vector512<double> Multiply(Vector512<double> a, Vector512<double> b) => a * b;
        public static Vector512<double> Divide(Vector512<double> a, Vector512<double> b) => a / b;
        public static Vector512<double> Negate(Vector512<double> a) => -a;
        public static Vector512<double> Sqrt(Vector512<double> a) => Vector512.Sqrt(a);
    }

    /// <summary>
    /// <see cref="Coefficients"/> for a centred kind's batch statistics whose folds run in consecutive runs of <see cref="Layout.Run"/> (a whole
    /// number of <typeparamref name="TD"/>'s double lanes), each fold its own parameter (GroupNorm's channels of a group, NCHW and
    /// NHWC; LayerNorm over C,H,W's channels), a statistic at a time in double vectors of <typeparamref name="TD"/>: the formulas
    /// of <see cref="Coefficients"/>' general loop in another order (not its bits), arranged so that the chain of dependent
    /// operations from the sums to the coefficients is short: B = sum g * V with V = V' + dz * X + (mf - mean) * U is made as
    /// B' + (mf - mean) * A (B' = sum g * (V' + dz * X), A = sum g * U, summed beside the mean's correction), the divisions
    /// by the count are products with factors made off the chain; each total across a statistic's folds is one vector and
    /// one horizontal sum. One fold after another in scalar, the chains were the block's latency (GroupNorm(32) backward NCHW
    /// 32x512x7x7, AMD Zen 5, 1 thread: 85 of 335 us); four folds at a time with two accumulators a total, a loop over the
    /// statistics reading sums cleared in another method: 188 -> 178 us against that (AVX2 221 -> 207; NHWC, 32 statistics
    /// a block, 211 -> 207, AVX2 242 -> 237; the same dx bits).
    /// <para>Blocks of at least as many statistics as double lanes (GroupNorm NHWC: 32 a block) take them a batch of w at a
    /// time: the batch's totals summed across lanes by one transposing tree (<see cref="BatchTotals{TD, TDV}"/>: statistic i in
    /// lane i), the scalar steps from the totals to q and R as w-lane vector operations, then each statistic's outputs with
    /// its terms broadcast. Each statistic's chain was three horizontal sums and the scalar steps after them; the batch has
    /// one short tree for w statistics. The totals' lanes are added in another order than the horizontal sum's, so the
    /// coefficients may differ in the last bit. GroupNorm(32) backward NHWC 32x7x7x512, AMD Zen 5, 1 thread (with the held
    /// rows' dx hints, <see cref="GradientRuns{TS, TV, T}"/>.HeldRows): 202-204 -> 191-192 us, AVX2 225-231 -> 215-222;
    /// this method's share of a perf profile 4.5% -> 3.4% of the samples (about 14 -> 10.6 us a call).</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void RunCoefficients<TD, TDV>(Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, ref double gradSums, int parameters,
        double count, bool affine) where TD : struct, ISimd<TDV, double> where TDV : struct
    {
        int statistics = layout.Statistics, run = layout.Run, w = TD.Count;
        var slots = new Slots(layout, doubles, elements);
        ref double mu = ref slots.Mu, rstd = ref slots.Rstd;
        double inverse = 1d / count;
        TDV per = TD.Splat(count * statistics / layout.Folds);
        int s = 0;
        if (statistics >= w && (w == 8 ? Avx512F.IsSupported : Avx.IsSupported))
        {
            // A statistic's terms per lane of a batch of w statistics: their q, R's part vr and mf - mean, broadcast to its folds.
            Span<double> terms = stackalloc double[3 * 8];
            ref double tq = ref MemoryMarshal.GetReference(terms), tr = ref Unsafe.Add(ref tq, 8), tc = ref Unsafe.Add(ref tq, 16);
            for (; s + w <= statistics; s += w)
            {
                // The totals of w statistics, one vector each (lane i: statistic s + i), their scalar steps as vector operations.
                BatchTotals<TD, TDV>(ref slots, ref gamma, s * run, run, per, affine, out TDV xs, out TDV sa, out TDV bb);
                TDV rs = TD.Load(ref rstd, s), vi = TD.Splat(inverse);
                TDV qf = TD.Subtract(TD.Zero, TD.Multiply(TD.Multiply(TD.Multiply(rs, rs), rs), vi)), af = TD.Subtract(TD.Zero, TD.Multiply(rs, vi));
                TDV rounded = RoundedMean<TDV>(TD.Load(ref mu, s));
                TDV mean = TD.Add(rounded, TD.Multiply(xs, vi)), offset = TD.Subtract(rounded, mean);
                TDV q = TD.Multiply(TD.Add(bb, TD.Multiply(offset, sa)), qf);
                TD.Store(mean, ref mu, s);
                TD.Store(q, ref tq, 0);
                TD.Store(TD.Add(TD.Multiply(sa, af), TD.Multiply(offset, q)), ref tr, 0);
                TD.Store(offset, ref tc, 0);
                for (int i = 0; i < w; i++)
                    StatisticOutputs<TD, TDV>(ref slots, ref gamma, ref gradSums, parameters, (s + i) * run, run, per, affine,
                        TD.Splat(Unsafe.Add(ref rstd, s + i)), TD.Splat(Unsafe.Add(ref tc, i)), TD.Splat(Unsafe.Add(ref tq, i)), TD.Splat(Unsafe.Add(ref tr, i)));
            }
        }
        for (int first = s * run; s < statistics; s++, first += run)
        {
            double rs = Unsafe.Add(ref rstd, s);
            double qf = -rs * rs * rs * inverse, af = -rs * inverse;
            // The mean rounded to the element type: Terms wrote m = (T)(-mean) for each of the statistic's folds.
            double rounded = -double.CreateTruncating(T.CreateTruncating(-Unsafe.Add(ref mu, s)));
            Partials<TD, TDV>(ref slots, ref gamma, first, run, per, affine, out TDV xs, out TDV a, out TDV bb);
            // The mean in double: the rounded one corrected by the exact sum of x - mf; B = B' + (mf - mean) * A.
            double mean = rounded + TD.SumWidened(xs) * inverse, offset = rounded - mean;
            double sa = TD.SumWidened(a), b = TD.SumWidened(bb) + offset * sa;
            double q = b * qf, ra = sa * af;
            Unsafe.Add(ref mu, s) = mean;
            StatisticOutputs<TD, TDV>(ref slots, ref gamma, ref gradSums, parameters, first, run, per, affine, TD.Splat(rs), TD.Splat(offset), TD.Splat(q),
                TD.Splat(ra + offset * q));
        }
    }

    /// <summary>A statistic's partial totals across its run of folds [<paramref name="first"/>, + <paramref name="run"/>), one
    /// lane per fold modulo the width: X = sum (x - mf), A = sum g * U and B' = sum g * (V' + dz * X) (see
    /// <see cref="RunCoefficients{TD, TDV}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Partials<TD, TDV>(ref Slots slots, ref T gamma, int first, int run, TDV per, bool affine, out TDV xs, out TDV a, out TDV bb)
        where TD : struct, ISimd<TDV, double> where TDV : struct
    {
        xs = TD.Zero;
        a = TD.Zero;
        bb = TD.Zero;
        for (int f = first, end = first + run; f < end; f += TD.Count)
        {
            TDV x = TD.Load(ref slots.SumX, f), dz = Widen<TDV>(ref Unsafe.Add(ref slots.D, f));
            TDV g = affine ? Widen<TDV>(ref Unsafe.Add(ref gamma, f)) : TD.Splat(1d);
            xs = TD.Add(xs, x);
            a = TD.Add(a, TD.Multiply(g, TD.Add(TD.Load(ref slots.SumU, f), TD.Multiply(per, dz))));
            bb = TD.Add(bb, TD.Multiply(g, TD.Add(TD.Load(ref slots.SumV, f), TD.Multiply(dz, x))));
        }
    }

    /// <summary>The totals of the w statistics from fold <paramref name="first"/> on (runs of <paramref name="run"/>): each
    /// statistic's <see cref="Partials{TD, TDV}"/> summed across its lanes by a transposing tree, statistic i's total in lane i
    /// (four pairs of lanes, then halves of 128-bit blocks: three vector additions a total for eight statistics instead of a
    /// horizontal sum each, and no chain from one statistic to the next).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BatchTotals<TD, TDV>(ref Slots slots, ref T gamma, int first, int run, TDV per, bool affine, out TDV xs, out TDV a, out TDV bb)
        where TD : struct, ISimd<TDV, double> where TDV : struct
    {
        Partials<TD, TDV>(ref slots, ref gamma, first, run, per, affine, out TDV x0, out TDV a0, out TDV b0);
        Partials<TD, TDV>(ref slots, ref gamma, first + run, run, per, affine, out TDV x1, out TDV a1, out TDV b1);
        Partials<TD, TDV>(ref slots, ref gamma, first + 2 * run, run, per, affine, out TDV x2, out TDV a2, out TDV b2);
        Partials<TD, TDV>(ref slots, ref gamma, first + 3 * run, run, per, affine, out TDV x3, out TDV a3, out TDV b3);
        if (TD.Count == 4)
        {
            xs = Across(x0, x1, x2, x3);
            a = Across(a0, a1, a2, a3);
            bb = Across(b0, b1, b2, b3);
            return;
        }
        Partials<TD, TDV>(ref slots, ref gamma, first + 4 * run, run, per, affine, out TDV x4, out TDV a4, out TDV b4);
        Partials<TD, TDV>(ref slots, ref gamma, first + 5 * run, run, per, affine, out TDV x5, out TDV a5, out TDV b5);
        Partials<TD, TDV>(ref slots, ref gamma, first + 6 * run, run, per, affine, out TDV x6, out TDV a6, out TDV b6);
        Partials<TD, TDV>(ref slots, ref gamma, first + 7 * run, run, per, affine, out TDV x7, out TDV a7, out TDV b7);
        xs = Across(x0, x1, x2, x3, x4, x5, x6, x7);
        a = Across(a0, a1, a2, a3, a4, a5, a6, a7);
        bb = Across(b0, b1, b2, b3, b4, b5, b6, b7);
    }

    /// <summary>Lane i: the sum of the lanes of v_i (four vectors of four doubles, AVX).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TDV Across<TDV>(TDV v0, TDV v1, TDV v2, TDV v3) where TDV : struct
    {
        Vector256<double> p0 = Unsafe.BitCast<TDV, Vector256<double>>(v0), p1 = Unsafe.BitCast<TDV, Vector256<double>>(v1);
        Vector256<double> p2 = Unsafe.BitCast<TDV, Vector256<double>>(v2), p3 = Unsafe.BitCast<TDV, Vector256<double>>(v3);
        // Per 128-bit block: [v0 pair sum, v1 pair sum], then the blocks added.
        Vector256<double> s01 = Avx.UnpackLow(p0, p1) + Avx.UnpackHigh(p0, p1), s23 = Avx.UnpackLow(p2, p3) + Avx.UnpackHigh(p2, p3);
        return Unsafe.BitCast<Vector256<double>, TDV>(Avx.Permute2x128(s01, s23, 0x20) + Avx.Permute2x128(s01, s23, 0x31));
    }

    /// <summary>Lane i: the sum of the lanes of v_i (eight vectors of eight doubles, AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TDV Across<TDV>(TDV v0, TDV v1, TDV v2, TDV v3, TDV v4, TDV v5, TDV v6, TDV v7) where TDV : struct
    {
        Vector512<double> s01 = Pairs(v0, v1), s23 = Pairs(v2, v3), s45 = Pairs(v4, v5), s67 = Pairs(v6, v7);
        // Blocks 0+1 and 2+3 of each: [v0 half, v1 half] sums of four lanes, then of eight.
        Vector512<double> h0123 = Avx512F.Shuffle4x128(s01, s23, 0x88) + Avx512F.Shuffle4x128(s01, s23, 0xDD);
        Vector512<double> h4567 = Avx512F.Shuffle4x128(s45, s67, 0x88) + Avx512F.Shuffle4x128(s45, s67, 0xDD);
        return Unsafe.BitCast<Vector512<double>, TDV>(Avx512F.Shuffle4x128(h0123, h4567, 0x88) + Avx512F.Shuffle4x128(h0123, h4567, 0xDD));
    }

    /// <summary>Per 128-bit block: [the sum of a's two lanes, the sum of b's].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Pairs<TDV>(TDV a, TDV b) where TDV : struct
    {
        Vector512<double> x = Unsafe.BitCast<TDV, Vector512<double>>(a), y = Unsafe.BitCast<TDV, Vector512<double>>(b);
        return Avx512F.UnpackLow(x, y) + Avx512F.UnpackHigh(x, y);
    }

    /// <summary>-(T)(-mu) in double lane by lane: the mean as Terms rounded it into m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TDV RoundedMean<TDV>(TDV mu) where TDV : struct
    {
        if (typeof(T) != typeof(float)) return mu;
        if (typeof(TDV) == typeof(Vector256<double>))
            return Unsafe.BitCast<Vector256<double>, TDV>(-RoundTrip(-Unsafe.BitCast<TDV, Vector256<double>>(mu)));
        Vector512<double> m = -Unsafe.BitCast<TDV, Vector512<double>>(mu);
        return Unsafe.BitCast<Vector512<double>, TDV>(-Avx512F.ConvertToVector512Double(Avx512F.ConvertToVector256Single(m)));
    }

    /// <summary>A statistic's outputs per fold of its run: P = g * rstd, Q = q, R = vr + dz * P (R' with the shift, see
    /// <see cref="FoldCoefficients"/>), and with an affine map dbeta += U, dgamma += V * rstd (U, V recovered from the
    /// lanes' sums with the shift and <paramref name="c"/> = mf - mean).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StatisticOutputs<TD, TDV>(ref Slots slots, ref T gamma, ref double gradSums, int parameters, int first, int run, TDV per, bool affine,
        TDV r, TDV c, TDV vq, TDV vr) where TD : struct, ISimd<TDV, double> where TDV : struct
    {
        for (int f = first, end = first + run; f < end; f += TD.Count)
        {
            TDV dz = Widen<TDV>(ref Unsafe.Add(ref slots.D, f));
            TDV g = affine ? Widen<TDV>(ref Unsafe.Add(ref gamma, f)) : TD.Splat(1d);
            if (affine)
            {
                // dbeta += U, dgamma += V * rstd per parameter.
                TDV u = TD.Add(TD.Load(ref slots.SumU, f), TD.Multiply(per, dz));
                TDV v = TD.Add(TD.Add(TD.Load(ref slots.SumV, f), TD.Multiply(dz, TD.Load(ref slots.SumX, f))), TD.Multiply(c, u));
                TD.Store(TD.Add(TD.Load(ref gradSums, f), u), ref gradSums, f);
                TD.Store(TD.Add(TD.Load(ref gradSums, parameters + f), TD.Multiply(v, r)), ref gradSums, parameters + f);
            }
            TDV coefp = TD.Multiply(g, r);
            Narrow(coefp, ref Unsafe.Add(ref slots.P, f));
            Narrow(vq, ref Unsafe.Add(ref slots.Q, f));
            Narrow(TD.Add(vr, TD.Multiply(dz, coefp)), ref Unsafe.Add(ref slots.R, f));
        }
    }

    /// <summary>The elements at <paramref name="p"/> as a vector of doubles (<typeparamref name="TDV"/>: four or eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TDV Widen<TDV>(ref T p) where TDV : struct
    {
        if (typeof(TDV) == typeof(Vector256<double>)) return Unsafe.BitCast<Vector256<double>, TDV>(Load(ref p));
        return Unsafe.BitCast<Vector512<double>, TDV>(typeof(T) == typeof(float)
            ? Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref p)))
            : Vector512.LoadUnsafe(ref Unsafe.As<T, double>(ref p)));
    }

    /// <summary>A vector of doubles stored at <paramref name="p"/> as elements (rounded to float where T is float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Narrow<TDV>(TDV v, ref T p) where TDV : struct
    {
        if (typeof(TDV) == typeof(Vector256<double>)) Store(Unsafe.BitCast<TDV, Vector256<double>>(v), ref p);
        else if (typeof(T) == typeof(float)) Avx512F.ConvertToVector256Single(Unsafe.BitCast<TDV, Vector512<double>>(v)).StoreUnsafe(ref Unsafe.As<T, float>(ref p));
        else Unsafe.BitCast<TDV, Vector512<double>>(v).StoreUnsafe(ref Unsafe.As<T, double>(ref p));
    }

    /// <summary>Four elements as doubles (<see cref="BackwardShared{TK, T}.Load"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Load(ref T p) => BackwardShared<TK, T>.Load(ref p);

    /// <summary>Four doubles stored as elements (<see cref="BackwardShared{TK, T}.Store"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<double> v, ref T p) => BackwardShared<TK, T>.Store(v, ref p);

    /// <summary>Four doubles rounded to the element type and back (<c>double.CreateTruncating(T.CreateTruncating(v))</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> RoundTrip(Vector256<double> v) =>
        typeof(T) == typeof(float) ? Vector256.WidenLower(Statistics.NarrowFour(v).ToVector256Unsafe()) : v;

    /// <summary>
    /// dx = dy * P + (x - mean) * Q + R per fold index, from Q and R per statistic (in the slots of B and A): run as
    /// (dy - dz) * P + (x - mf) * Q + R' with R' = R + dz * P + (mf - mean) * Q in double, so the lanes only multiply small differences.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FoldCoefficients(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, int first = 0)
    {
        int folds = layout.Folds, statistics = layout.Statistics;
        var slots = new Slots(layout, doubles, elements);
        ref double mu = ref slots.Mu, rstd = ref slots.Rstd, sumA = ref slots.SumA, sumB = ref slots.SumB;
        ref T coefM = ref slots.M, coefP = ref slots.P, coefQ = ref slots.Q, coefR = ref slots.R, coefD = ref slots.D;
        bool affine = nest.Affine;
        for (int f = first; f < folds; f++)
        {
            nest.Fold(f, out nint s, out nint p);
            double g = affine ? double.CreateTruncating(Unsafe.Add(ref gamma, po + p)) : 1d;
            double coefp = g * Unsafe.Add(ref rstd, s), coefq = Unsafe.Add(ref sumB, s);
            double shiftR = double.CreateTruncating(Unsafe.Add(ref coefD, f)), centerR = -double.CreateTruncating(Unsafe.Add(ref coefM, f));
            Unsafe.Add(ref coefP, f) = T.CreateTruncating(coefp);
            Unsafe.Add(ref coefQ, f) = T.CreateTruncating(coefq);
            Unsafe.Add(ref coefR, f) = T.CreateTruncating(Unsafe.Add(ref sumA, s) + shiftR * coefp + (centerR - Unsafe.Add(ref mu, s)) * coefq);
        }
    }

    /// <summary>U = sum dy and V = sum dy * (x - mean) of fold index f in double, from what the lanes summed (U' = sum (dy - dz),
    /// V' = sum (dy - dz) * (x - mf), X = sum (x - mf)): U = U' + n * dz, V = V' + dz * X + (mf - mean) * U, n the values per index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double U, double V) Recover(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, int f, nint s)
    {
        int folds = layout.Folds;
        ref double sumU = ref MemoryMarshal.GetReference(doubles);
        double mu = Unsafe.Add(ref sumU, 3 * folds + layout.Statistics + s);
        double shift = double.CreateTruncating(elements[4 * folds + f]), center = -double.CreateTruncating(elements[f]);
        double u = Unsafe.Add(ref sumU, f) + nest.Count * layout.Statistics / folds * shift;
        double v = Unsafe.Add(ref sumU, folds + f) + shift * Unsafe.Add(ref sumU, 2 * folds + f) + (center - mu) * u;
        return (u, v);
    }

    /// <summary>Synchronized step 1: A = sum g * U, B = sum g * V per statistic, written with the local count at statistic so + s of
    /// <paramref name="sums"/> ([count | sumGrad | sumGradCentered], <paramref name="total"/> statistics each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SumsOut(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, double[] sums, nint so, int total)
    {
        int folds = layout.Folds, statistics = layout.Statistics;
        ref double sumA = ref Unsafe.Add(ref MemoryMarshal.GetReference(doubles), 3 * folds + 3 * statistics);
        ref double sumB = ref Unsafe.Add(ref sumA, statistics);
        doubles.Slice(3 * folds + 3 * statistics, 2 * statistics).Clear();
        bool affine = nest.Affine;
        for (int f = 0; f < folds; f++)
        {
            nest.Fold(f, out nint s, out nint p);
            double g = affine ? double.CreateTruncating(Unsafe.Add(ref gamma, po + p)) : 1d;
            (double u, double v) = Recover(nest, layout, doubles, elements, f, s);
            Unsafe.Add(ref sumA, s) += g * u;
            Unsafe.Add(ref sumB, s) += g * v;
        }
        for (int s = 0; s < statistics; s++)
        {
            sums[so + s] = nest.Count;
            sums[total + so + s] = Unsafe.Add(ref sumA, s);
            sums[2 * total + so + s] = Unsafe.Add(ref sumB, s);
        }
    }

    /// <summary>Synchronized step 2: this shard's parameter gradients from U, V (dbeta += U, dgamma += V * rstd), then Q and R per
    /// statistic from the sums of every shard at statistic so + s (Q = -r^3 * B / M, R = -r * A / M, M the total count), then P, Q, R
    /// per fold index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SynchronizedCoefficients(TNest nest, Layout layout, Span<double> doubles, Span<T> elements, ref T gamma, nint po, ref double gradSums,
        int parameters, double[] sums, nint so, int total)
    {
        int folds = layout.Folds, statistics = layout.Statistics;
        ref double rstd = ref Unsafe.Add(ref MemoryMarshal.GetReference(doubles), 3 * folds + 2 * statistics);
        ref double sumA = ref Unsafe.Add(ref rstd, statistics);
        ref double sumB = ref Unsafe.Add(ref sumA, statistics);
        if (nest.Affine)
        {
            for (int f = 0; f < folds; f++)
            {
                nest.Fold(f, out nint s, out nint p);
                (double u, double v) = Recover(nest, layout, doubles, elements, f, s);
                Unsafe.Add(ref gradSums, po + p) += u;
                Unsafe.Add(ref gradSums, parameters + po + p) += v * Unsafe.Add(ref rstd, s);
            }
        }
        for (int s = 0; s < statistics; s++)
        {
            double r = Unsafe.Add(ref rstd, s);
            double count = sums[so + s];
            Unsafe.Add(ref sumB, s) = -r * r * r * sums[2 * total + so + s] / count;
            Unsafe.Add(ref sumA, s) = -r * sums[total + so + s] / count;
        }
        FoldCoefficients(nest, layout, doubles, elements, ref gamma, po);
    }

    /// <summary>Bytes of x and dy one run of interleaved blocks covers at most.</summary>
    private const long InterleavedBytes = 2L << 20;

    /// <summary>
    /// How many consecutive blocks a group runs together, row by row: 1, unless the blocks are interleaved (each is rows of
    /// one contiguous run, and the next block's run follows it in memory: BatchNorm's channel in NCHW), where block by block
    /// each pass would read one run per row, far apart, and a few blocks together read one sequential stream (as the forward
    /// does, Forward's GroupBlocks). Each block still sums its rows in order into its own sums, and the blocks' parameter
    /// gradients are added in block order: the bits are those of one block at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static int Interleaved(TNest nest, int blocks)
    {
        if (!InterleavedBlocks(nest, blocks)) return 1;
        long blockBytes = 2L * nest.GradientRows(out _) * nest.GradientExtent * Unsafe.SizeOf<T>();
        // At most 8 together (the size measured when each block of a run rented arrays of its own; its scratch is now a slice
        // of the worker's, see Group).
        return (int)Math.Clamp(InterleavedBytes / blockBytes, 1, Math.Min(8, blocks));
    }

    /// <summary>Whether consecutive blocks are interleaved row by row (see <see cref="Interleaved"/>): each block is rows of one
    /// contiguous run, and block 1's run follows block 0's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static bool InterleavedBlocks(TNest nest, int blocks)
    {
        nint rows = nest.GradientRows(out _), run = nest.GradientExtent;
        // A block of one segment reports that segment as its rows (rows == run) and ignores [from, to).
        if (blocks < 2 || rows < 2 || rows == run) return false;
        nest.Block(0, out nint first, out _, out _);
        nest.Block(1, out nint second, out _, out _);
        return second - first == run;
    }

    /// <summary>
    /// Whether a block is one statistic whose fold indices are consecutive short runs, fold f the run at f * len (len the
    /// gradient extent), and the block those runs alone (GroupNorm NCHW: a group's channels; LayerNorm over C,H,W NCHW): its
    /// reduction goes as one call with the runs' horizontal sums folded
    /// together (<see cref="GradientRuns{TS, TV, T}.LaneReduceRuns{TX}"/>, for
    /// <see cref="GradientRuns{TS, TV, T}.LaneReduces"/> lengths), and its dx with normal stores as one call over the runs
    /// (<see cref="GradientRuns{TS, TV, T}.SharedShortRuns"/>: the same expression per element as the nest's run by run apply).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static bool ShortFolds<TS, TV>(TNest nest) where TS : struct, ISimd<TV, T> where TV : struct
    {
        nint len = nest.GradientExtent;
        int folds = nest.FoldCount;
        if (folds < 2 || nest.StatisticCount != 1 || nest.GradientRows(out _) != folds || !GradientRuns<TS, TV, T>.LaneReduces(len)
            || nest.Count != (double)folds * len)
            return false;
        for (int f = 1; f < folds; f++)
            if (nest.FoldStart(f) != f * len) return false;
        return true;
    }

    /// <summary>Blocks whose x and dy together exceed this many bytes have their dx made from the end (<see cref="ReverseChunkRows"/>).</summary>
    internal const long ReverseBlockBytes = 1L << 20;

    /// <summary>x bytes in each chunk of a block whose dx is made from the end.</summary>
    private const long ReverseChunkBytes = 48 << 10;

    /// <summary>
    /// Rows (of the nest's first segment) per chunk when a block's dx is made from its end, or 0 for in order: blocks of
    /// more than one segment whose x and dy exceed <see cref="ReverseBlockBytes"/> (a typical L2; InstanceNorm and GroupNorm
    /// NHWC, a sample a block). The reduction has just read the block: its last lines are in L2, its first ones already evicted
    /// to L3. Made in order, the apply reads the first lines back from L3, and each line it brings in evicts one of the
    /// block's later lines before they are read: the whole block comes from L3. Made from the end, a chunk of rows at a
    /// time (each chunk in order), the last megabyte is read from L2 first. Every element's dx is its own expression, so the
    /// same bits. GroupNorm(32) backward NHWC S1 (1.6 MB a sample), AMD Zen 5: 2.95-2.99 -> 2.51-2.60 ms at 1 thread,
    /// 1.81-1.83 -> 1.56-1.57 at 2 (chunks of 8 to 16 a sample alike; 28 KB chunks 10% slower); in-cache S2 and S3 even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static nint ReverseChunkRows(TNest nest, long blockElements)
    {
        nint rows = nest.GradientRows(out _);
        long blockBytes = blockElements * Unsafe.SizeOf<T>();
        // A block of one segment reports that segment as its rows (rows == run) and its apply ignores [from, to): it has no
        // rows to take in chunks (each call would make the whole block again, and in place read its own dx back as dy).
        if (rows < 2 || rows == nest.GradientExtent || 2 * blockBytes <= ReverseBlockBytes) return 0;
        return (nint)Math.Clamp(rows * ReverseChunkBytes / blockBytes, 1, rows);
    }

    /// <summary>
    /// Whether a backward's interleaved blocks run in memory order (as the forward's, <c>Forward.Run.MemoryOrder</c>): each
    /// worker's share of them as one group and one interleaved run (<see cref="Group{TS, TV, TW, TX}"/>), the reduction and
    /// then dx each one sequential stream through the worker's part of every row. Where dx streams and the tensor is rows x
    /// blocks x run with block b's first run at b * run (BatchNorm NCHW). Runs of two channels at a time read x and dy as 32
    /// runs of 25 KB, 800 KB apart, for BatchNorm S1, which this machine reads at about half its sequential rate even with
    /// each run's dx pipelined beside the next run's sums (twenty-third session): BatchNorm backward NCHW S1 at 1 thread
    /// 1.89-2.21 -> 1.69-2.03x the limit (ten runs of each alternating, AMD EPYC Zen 5, 2026-12-03), 2 threads 1.97-2.22 ->
    /// 1.69-1.84x, AVX2 1.95-2.07 -> 1.66-1.80x. A run takes at most <see cref="InterleavedRuns.MemoryOrderScratch"/>
    /// scratch values (<see cref="InterleavedRuns.MemoryOrderGroup"/>). Each block still sums its rows in order into its
    /// own sums, and each parameter's gradient comes from its one block, so the bits are those of any grouping. On an AMD
    /// EPYC Zen 3 guest (2026-12-07) the runs of two channels were faster: S1 at 1 thread 0.69-0.74 of memory order's time,
    /// 0.74-0.78 at 2 (harness, one process alternating), so a layer's call past the threshold runs in the order its order
    /// tuner chose (<see cref="Streaming.SecondOrder"/>, <c>Runtime.LayerTuner</c>).
    /// </summary>
    private static bool MemoryOrder<TS, TV, TW>(TNest nest, int blocks, int length)
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        if (!TW.Streaming || TS.Count == 1 || !InterleavedBlocks(nest, blocks)
            || InterleavedRuns.Stride<TNest, T>(nest, blocks, nest.GradientRows(out _), nest.GradientExtent, length) == 0) return false;
        // A call its layer's order tuner can time either way (Streaming.SecondOrder: runs of a few blocks).
        LastCall.Current.OrderChoice = true;
        return !Streaming.SecondOrder;
    }

    /// <summary>One group of consecutive blocks: per block the terms, shift, reduction, coefficients and dx (interleaved blocks
    /// a few at a time, or in memory order the group's all at once up to a cap, each pass row by row over them); the group's
    /// parameter gradients into its own partial. Each block of an interleaved run has its own slice of the worker's scratch.</summary>
    private readonly unsafe struct Group<TS, TV, TW, TX>(TNest nest, Layout layout, double epsilon, bool constant, bool fromMemory, int blocks, int groups, int parameters, int interleaved,
        double[][] doubles, T[][] elements, double[] gradPartials, Mode mode, double[]? sums, int total, T* residual, nint reverseRows, bool memoryOrder, bool shortFolds)
        : IParallelBody
        where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores where TX : struct, IOperand
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T dx = ref ParallelUnits.At<T>(spans.S1);
            ref T dy = ref ParallelUnits.At<T>(spans.S2);
            ref T gamma = ref ParallelUnits.At<T>(spans.S3);
            ref double gradSums = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gradPartials), (nint)unit * 2 * parameters);
            int folds = layout.Folds;
            nint rows = nest.GradientRows(out _);
            // By rows (interleaved blocks): every block's row r, then row r + 1; otherwise each block's rows at once.
            nint steps = interleaved > 1 ? rows : 1, span = interleaved > 1 ? 1 : rows;
            int firstBlock = (int)((long)blocks * unit / groups), lastBlock = (int)((long)blocks * (unit + 1) / groups);
            double[] wd = doubles[worker];
            T[] we = elements[worker];
            int lanes = CoefficientLanes();
            if (shortFolds)
            {
                ShortFoldBlocks(firstBlock, lastBlock, ref x, ref dy, ref dx, ref gamma, ref gradSums, wd, we, spans);
                return;
            }
            for (int start = firstBlock; start < lastBlock; start += interleaved)
            {
                int count = Math.Min(interleaved, lastBlock - start);
                for (int k = 0; k < count; k++)
                {
                    Span<double> d = wd.AsSpan(k * layout.Doubles, layout.Doubles);
                    Span<T> e = we.AsSpan(k * layout.Elements, layout.Elements);
                    nest.Block(start + k, out nint xo, out nint so, out _);
                    Terms(nest, layout, d, e, so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, constant);
                    Shift(nest, layout, e, ref Unsafe.Add(ref dy, xo));
                    d.Slice(0, 3 * folds).Clear();
                }
                for (nint r = 0; r < steps; r++)
                    for (int k = 0; k < count; k++)
                    {
                        nest.Block(start + k, out nint xo, out _, out _);
                        ref T m = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(we), k * layout.Elements);
                        ref double sumU = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wd), k * layout.Doubles);
                        if (fromMemory)
                            nest.GradientReduce<TS, TV, TX, Lanes>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), r, r + span, ref m, ref Unsafe.Add(ref m, 4 * folds),
                                ref sumU, ref Unsafe.Add(ref sumU, folds), ref Unsafe.Add(ref sumU, 2 * folds));
                        else
                            nest.GradientReduce<TS, TV, TX, Splat>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), r, r + span, ref m, ref Unsafe.Add(ref m, 4 * folds),
                                ref sumU, ref Unsafe.Add(ref sumU, folds), ref Unsafe.Add(ref sumU, 2 * folds));
                    }
                for (int k = 0; k < count; k++)
                {
                    Span<double> d = wd.AsSpan(k * layout.Doubles, layout.Doubles);
                    Span<T> e = we.AsSpan(k * layout.Elements, layout.Elements);
                    nest.Block(start + k, out _, out nint so, out nint po);
                    if (!TX.Lanes) ResidualSums(nest, layout, d, ref Unsafe.AsRef<T>(residual + so));
                    if (mode == Mode.Sums) SumsOut(nest, layout, d, e, ref gamma, po, sums!, so, total);
                    else if (mode == Mode.WithSums) SynchronizedCoefficients(nest, layout, d, e, ref gamma, po, ref gradSums, parameters, sums!, so, total);
                    else if (lanes == 8)
                        RunCoefficients<V512<double>, Vector512<double>>(layout, d, e, ref Unsafe.Add(ref gamma, po), ref Unsafe.Add(ref gradSums, po), parameters, nest.Count, nest.Affine);
                    else if (lanes == 4)
                        RunCoefficients<V256<double>, Vector256<double>>(layout, d, e, ref Unsafe.Add(ref gamma, po), ref Unsafe.Add(ref gradSums, po), parameters, nest.Count, nest.Affine);
                    else Coefficients(nest, layout, d, e, ref gamma, po, ref gradSums, parameters, constant);
                }
                if (mode == Mode.Sums) continue;
                if (reverseRows != 0)
                {
                    // A block past L2 applied from its end (see ReverseChunkRows), a chunk of rows at a time.
                    nest.Block(start, out nint xo, out _, out _);
                    ref T m = ref MemoryMarshal.GetArrayDataReference(we);
                    for (nint end = rows; end > 0; end -= reverseRows)
                        nest.GradientApply<TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo), Math.Max(0, end - reverseRows), end,
                            ref m, ref Unsafe.Add(ref m, folds), ref Unsafe.Add(ref m, 2 * folds), ref Unsafe.Add(ref m, 3 * folds), ref Unsafe.Add(ref m, 4 * folds));
                    continue;
                }
                // Interleaved blocks in cache: dx from the last row back (the sums read the last rows last, still in L2), as the
                // forward's groups apply theirs (elementwise: the same bits in any order). In memory order (x and dy past the
                // last-level cache) in order: from the end it was even to 4% slower there. AMD Zen 5, one process alternating:
                // BatchNorm backward NCHW 32x512x7x7 217 -> 192, 211 -> 191 us; 2x256x64x64 482 -> 470 us.
                for (nint step = 0; step < steps; step++)
                    for (int k = 0; k < count; k++)
                    {
                        nint r = memoryOrder ? step : steps - 1 - step;
                        nest.Block(start + k, out nint xo, out _, out _);
                        ref T m = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(we), k * layout.Elements);
                        nest.GradientApply<TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo), r, r + span, ref m,
                            ref Unsafe.Add(ref m, folds), ref Unsafe.Add(ref m, 2 * folds), ref Unsafe.Add(ref m, 3 * folds), ref Unsafe.Add(ref m, 4 * folds));
                    }
            }
        }

        /// <summary>
        /// The group's blocks when their fold indices are short runs (<see cref="ShortFolds"/>), block by block: terms, shift and
        /// the reduction in one call over the runs (<see cref="Prepare"/>), the coefficients, and dx in one call over the runs
        /// (<see cref="GradientRuns{TS, TV, T}.SharedShortRuns"/>: GroupNorm(32) backward NCHW 32x512x7x7 250-257 -> 234-244 us
        /// against the general <see cref="GradientRuns{TS, TV, T}.ShortRuns"/>, AVX2 281-287 -> 269-276).
        /// (Pipelined by a block, the next block's reduction before this one's coefficients and dx, in two scratch slices:
        /// GroupNorm(32) backward NCHW 32x512x7x7 263-273 against 247-261 us, and again with this dx 248-279 against 227-252;
        /// units of 2, 4 or 8 blocks, each pass over the unit: 268, 273, 277 against 259. The block stays in L1 between its
        /// sums and its dx this way.)
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ShortFoldBlocks(int firstBlock, int lastBlock, ref T x, ref T dy, ref T dx, ref T gamma, ref double gradSums, double[] wd, T[] we,
            in PinnedSpans spans)
        {
            Span<double> d = wd.AsSpan(0, layout.Doubles);
            Span<T> e = we.AsSpan(0, layout.Elements);
            int folds = layout.Folds;
            double count = nest.Count;
            bool affine = nest.Affine;
            int lanes = CoefficientLanes();
            for (int b = firstBlock; b < lastBlock; b++)
            {
                nest.Block(b, out nint xo, out nint so, out nint po);
                Prepare(xo, so, ref x, ref dy, d, e, spans);
                if (!TX.Lanes) ResidualSums(nest, layout, d, ref Unsafe.AsRef<T>(residual + so));
                if (mode == Mode.Sums)
                {
                    SumsOut(nest, layout, d, e, ref gamma, po, sums!, so, total);
                    continue;
                }
                if (mode == Mode.WithSums) SynchronizedCoefficients(nest, layout, d, e, ref gamma, po, ref gradSums, parameters, sums!, so, total);
                else if (lanes == 8)
                    RunCoefficients<V512<double>, Vector512<double>>(layout, d, e, ref Unsafe.Add(ref gamma, po), ref Unsafe.Add(ref gradSums, po), parameters, count, affine);
                else if (lanes == 4)
                    RunCoefficients<V256<double>, Vector256<double>>(layout, d, e, ref Unsafe.Add(ref gamma, po), ref Unsafe.Add(ref gradSums, po), parameters, count, affine);
                else Coefficients(nest, layout, d, e, ref gamma, po, ref gradSums, parameters, constant);
                ref T m = ref MemoryMarshal.GetReference(e);
                if (TW.Streaming)
                    nest.GradientApply<TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo), 0, nest.GradientRows(out _), ref m,
                        ref Unsafe.Add(ref m, folds), ref Unsafe.Add(ref m, 2 * folds), ref Unsafe.Add(ref m, 3 * folds), ref Unsafe.Add(ref m, 4 * folds));
                else
                    GradientRuns<TS, TV, T>.SharedShortRuns(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo), folds, nest.GradientExtent,
                        ref m, ref Unsafe.Add(ref m, folds), ref Unsafe.Add(ref m, 2 * folds), ref Unsafe.Add(ref m, 3 * folds), ref Unsafe.Add(ref m, 4 * folds));
            }
        }

        /// <summary>The double lanes <see cref="RunCoefficients{TD, TDV}"/> takes for this call's blocks, or 0 (<see cref="Coefficients"/>):
        /// a centred kind's batch statistics, each fold its own parameter in whole runs of four (<see cref="Layout.Run"/>); 8 on
        /// the 512-bit path where the runs are whole vectors of eight, else 4.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int CoefficientLanes() =>
            !TK.Centered || constant || layout.Run == 0 || !Vector256.IsHardwareAccelerated || (typeof(T) != typeof(float) && typeof(T) != typeof(double)) ? 0
            : typeof(TV) == typeof(Vector512<T>) && Vector512.IsHardwareAccelerated && layout.Run % 8 == 0 ? 8 : 4;

        /// <summary>A block's terms (<see cref="Terms"/>) and its reduction in one call over its runs into the scratch
        /// <paramref name="d"/>, <paramref name="e"/> (no sums to clear: the lanes store them; the reduction writes the shifts,
        /// <see cref="Shift"/>'s dz, as it reads each run's first dy).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Prepare(nint xo, nint so, ref T x, ref T dy, Span<double> d, Span<T> e, in PinnedSpans spans)
        {
            int folds = layout.Folds;
            Terms(nest, layout, d, e, so, ref ParallelUnits.At<T>(spans.S4), ref ParallelUnits.At<T>(spans.S5), epsilon, constant);
            var slots = new Slots(layout, d, e);
            // One statistic (ShortFolds): every fold's m is the same. The reduction writes the shifts (Shift's dz: each run's
            // first dy) as it reads the runs.
            GradientRuns<TS, TV, T>.LaneReduceRuns<TX>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), folds, nest.GradientExtent, slots.M, ref slots.D,
                ref slots.SumU, ref slots.SumV, ref slots.SumX);
        }
    }

    /// <summary>A chunk of a whole-tensor reduction, into its own partial U, V, X (X only with <typeparamref name="TX"/> <see cref="Lanes"/>).</summary>
    private readonly struct ReduceChunk<TS, TV, TX>(TNest nest, Layout layout, nint rows, int chunks, double[] partials, T[] elements, bool fromMemory)
        : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TX : struct, IOperand
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            nint from = rows * unit / chunks, to = rows * (unit + 1) / chunks;
            int folds = layout.Folds;
            ref T m = ref MemoryMarshal.GetArrayDataReference(elements);
            ref double sumU = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(partials), (nint)unit * 3 * folds);
            if (fromMemory)
                nest.GradientReduce<TS, TV, TX, Lanes>(ref ParallelUnits.At<T>(spans.S0), ref ParallelUnits.At<T>(spans.S2), from, to, ref m, ref Unsafe.Add(ref m, 4 * folds),
                    ref sumU, ref Unsafe.Add(ref sumU, folds), ref Unsafe.Add(ref sumU, 2 * folds));
            else
                nest.GradientReduce<TS, TV, TX, Splat>(ref ParallelUnits.At<T>(spans.S0), ref ParallelUnits.At<T>(spans.S2), from, to, ref m, ref Unsafe.Add(ref m, 4 * folds),
                    ref sumU, ref Unsafe.Add(ref sumU, folds), ref Unsafe.Add(ref sumU, 2 * folds));
        }
    }

    /// <summary>A chunk of a whole-tensor dx.</summary>
    private readonly struct ApplyChunk<TS, TV, TW>(TNest nest, Layout layout, nint rows, int chunks, int workers, T[] elements)
        : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            // Each worker's chunks from its last: the reduction's chunks ran in the same halves, in order, so a worker's L2 holds
            // the end of its half (BatchNorm backward NHWC S2 at 2 threads, one process alternating: 160-162 -> 154-155 us; 1
            // thread even). Reversed within the range's owner's range (a unit taken by another worker is still its owner's
            // unit: the map is one-to-one whoever runs it), so a worker taking from the end of another's range gets that
            // range's first chunks. dx is elementwise: the same bits in any order.
            ParallelUnits.Range(chunks, workers, ParallelUnits.Owner(chunks, workers, unit), out int first, out int last);
            unit = first + last - 1 - unit;
            nint from = rows * unit / chunks, to = rows * (unit + 1) / chunks;
            int folds = layout.Folds;
            ref T m = ref MemoryMarshal.GetArrayDataReference(elements);
            nest.GradientApply<TW, TS, TV>(ref ParallelUnits.At<T>(spans.S0), ref ParallelUnits.At<T>(spans.S2), ref ParallelUnits.At<T>(spans.S1), from, to,
                ref m, ref Unsafe.Add(ref m, folds), ref Unsafe.Add(ref m, 2 * folds), ref Unsafe.Add(ref m, 3 * folds), ref Unsafe.Add(ref m, 4 * folds));
        }
    }
}

/// <summary>
/// The backward driver of two-step plans with one statistic per block (every axis inside a block indexes the parameters):
/// the sums of gamma * dy and gamma * dy * (x - mean) with gamma loaded along the run, then
/// <c>dx = dy * gamma * r + (x - mean) * q + rr</c>. The lanes run on x - mf, dy - dz (dz the block's first dy) and g - gb (gb
/// the block's first gamma); the sums come back in double: a = sum g * dy = a' + dz * (gb * M + sum (g - gb)) and
/// b = sum g * dy * (x - mean) = b' + dz * (gb * X + sum (g - gb) * (x - mf)) + (mf - mean) * a, X = sum (x - mf).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class AffineBackward<TNest, TK, T>
    where TNest : struct, IAffineGradientNest<T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>As <see cref="Backward{TNest, TK, T}.Run(KernelPath, TNest, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, bool, Span{T}, Span{T}, ReadOnlySpan{T})"/>;
    /// <paramref name="meanResidual"/>, when given (a layer's backward of its training forward), is that forward's mean - (T)mean
    /// per statistic: the mean in double without the exact sum of x - mf each row's reduce would otherwise widen.
    /// <paramref name="addend"/>, when given (the sum's gradient of a layer with the residual added before the norm), is added
    /// to dx (see <see cref="AddsInApply"/>).</summary>
    public static KernelPath Run(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> meanResidual = default,
        ReadOnlySpan<T> addend = default) =>
        AdvSimd.IsSupported
            ? Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend)
            : Run<X86Vector128Ops>(path, nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend);

    /// <summary>As <see cref="Run(KernelPath, TNest, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, bool, Span{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// with the 128-bit path's operations given.</summary>
    public static KernelPath Run<TOps>(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> meanResidual = default,
        ReadOnlySpan<T> addend = default)
        where TOps : struct, IVector128Ops
    {
        switch (path)
        {
            case KernelPath.Vector512: Run<V512<T>, Vector512<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend); break;
            case KernelPath.Vector256: Run<V256<T>, Vector256<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend); break;
            case KernelPath.Vector128: Run<V128<T, TOps>, Vector128<T>>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend); break;
            default: Run<Scalar<T>, T>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad, meanResidual, addend); break;
        }
        return path;
    }

    /// <summary>
    /// Whether dx + <c>addend</c> is made inside the apply (<see cref="GradientRuns{TS, TV, T}.AffineApplyAdding{TW}"/>): blocks
    /// of one contiguous run that indexes the parameters element by element (LayerNorm and RMSNorm over the last dims with
    /// their weight), each run's dx plus the addend stored once. Otherwise the addend is added in a pass of its own after the
    /// backward (<see cref="Elementwise.Add{T}"/>). The same bits either way: dx rounded to the element type, then one addition.
    /// </summary>
    private static bool AddsInApply(TNest nest, int parameters) =>
        parameters > 0 && nest.GradientExtent == parameters && nest.GradientRows(out _) == parameters && nest.Count == parameters;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, ReadOnlySpan<T> meanResidual,
        ReadOnlySpan<T> addend)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        bool adds = !addend.IsEmpty && AddsInApply(nest, weightGrad.Length);
        // The residuals and the addend, pinned for the units (every runner span is taken); the residuals are used by centered
        // kinds with batch statistics.
        fixed (T* residual = meanResidual)
        fixed (T* added = addend)
            Run<TS, TV>(nest, input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad,
                TK.Centered && !constant && meanResidual.Length >= nest.StatisticCount * nest.BlockCount ? residual : null, adds ? added : null);
        if (!addend.IsEmpty && !adds) Elementwise.Add(inputGrad, addend, inputGrad);
        LastCall.Current.AddedInApply = adds;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<TS, TV>(TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, Span<T> weightGrad, Span<T> biasGrad, T* residual, T* addend)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        int parameters = weightGrad.Length;
        int blocks = nest.BlockCount;
        int groups = BackwardShared<TK, T>.Groups(input.Length, blocks);
        int workers = Parallelism.Workers(input.Length, groups);
        double[] gradPartials = ArrayPool<double>.Shared.Rent(Math.Max(1, groups * 2 * parameters));
        // Room to place the accumulators at the rows' phase (see RowPhase).
        WorkerScratch<T> accumulators = WorkerScratch<T>.Rent(workers, 0, 2 * parameters + 64 / Unsafe.SizeOf<T>());
        Span<T> s0 = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(stat0), stat0.Length);
        Span<T> s1 = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(stat1), stat1.Length);
        try
        {
            new Span<double>(gradPartials, 0, groups * 2 * parameters).Clear();
            // x and dy from memory (the tensors exceed the last-level cache): the reductions hint their lines ahead.
            bool fromMemory = Streaming.Exceeds((long)(input.Length + outputGrad.Length) * Unsafe.SizeOf<T>(), (long)inputGrad.Length * Unsafe.SizeOf<T>());
            if (BackwardShared<TK, T>.StreamsInputGrad(input, outputGrad, inputGrad, TS.Count > 1))
            {
                bool pairs = addend == null && PairedRows<TS, TV>(nest, blocks);
                bool quads = pairs && QuadRows<TS, TV>(nest);
                LastCall.Current.Paired = pairs;
                LastCall.Current.Quads = quads;
                nint phase = RowPhase<TS, TV>(nest, blocks, parameters, inputGrad, out nint p0);
                T[]? copy = phase != 0 ? ArrayPool<T>.Shared.Rent(parameters + 64 / Unsafe.SizeOf<T>()) : null;
                try
                {
                    // Gamma read from a copy at the rows' phase, pinned while the units run (see RowPhase).
                    fixed (T* pinned = copy)
                    {
                        ReadOnlySpan<T> g = gamma;
                        if (copy != null)
                        {
                            var placed = new Span<T>(pinned + PhaseOffset((nuint)(pinned + p0 + phase)), parameters);
                            gamma.CopyTo(placed);
                            g = placed;
                        }
                        ParallelUnits.For(groups, workers, new Group<TS, TV, StreamedStores>(nest, double.CreateTruncating(epsilon), constant, blocks, groups, parameters,
                            gradPartials, accumulators.Elements, residual, fromMemory, pairs, quads, phase != 0 ? phase + p0 : 0, addend), input, inputGrad, outputGrad, g, s0, s1);
                    }
                }
                finally
                {
                    if (copy != null) ArrayPool<T>.Shared.Return(copy);
                }
            }
            else
                ParallelUnits.For(groups, workers, new Group<TS, TV, CachedStores>(nest, double.CreateTruncating(epsilon), constant, blocks, groups, parameters,
                    gradPartials, accumulators.Elements, residual, fromMemory, false, false, 0, addend), input, inputGrad, outputGrad, gamma, s0, s1);
            BackwardShared<TK, T>.AddParameterGradients(gradPartials, groups, weightGrad, biasGrad);
        }
        finally
        {
            accumulators.Return();
            ArrayPool<double>.Shared.Return(gradPartials);
        }
    }

    /// <summary>
    /// The phase (elements to the first 64-byte boundary) at which a streamed backward's runs start in dx, where they all
    /// share one off a boundary: blocks of one run each, back to back in memory, a whole number of 64-byte lines, one gamma
    /// for all (LayerNorm and RMSNorm over the last dim, <paramref name="p0"/> its first parameter); else 0. A streamed run's
    /// vectors start at dx's boundary, so x, dy, gamma and the two accumulators are read from that phase: gamma (64-byte
    /// aligned) and the accumulators then straddle two lines a vector on the 512-bit path. With a phase, gamma is read from a
    /// copy and the accumulators placed so that their vectors are whole: LayerNorm backward [8192, 768], AMD Zen 5, 1 thread,
    /// dx 16 or 32 bytes off a line and x on one: 2.97-3.67 -> 2.52-2.85 ms; x at dx's phase: 2.6-3.6 -> 1.89-2.11 ms; dx on
    /// a line: 2.09-2.21 either way. (x and dy off dx's phase still straddle lines: 20-30% of the time.)
    /// </summary>
    private static unsafe nint RowPhase<TS, TV>(TNest nest, int blocks, int parameters, Span<T> inputGrad, out nint p0)
        where TS : struct, ISimd<TV, T> where TV : struct
    {
        int size = Unsafe.SizeOf<T>();
        p0 = 0;
        if (TS.Count == 1 || parameters * size % 64 != 0 || !LineRows(nest, blocks, out nint first, out p0) || first * size % 64 != 0) return 0;
        nuint address = (nuint)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetReference(inputGrad), first));
        return address % (nuint)size != 0 ? 0 : PhaseOffset(address);
    }

    /// <summary>Whether the blocks are rows of whole 64-byte lines: one run each, back to back in memory, sharing their
    /// parameters (LayerNorm and RMSNorm over the last dim); block 0's memory and parameter offsets.</summary>
    private static bool LineRows(TNest nest, int blocks, out nint first, out nint p0)
    {
        first = p0 = 0;
        nint run = nest.GradientExtent;
        if (blocks < 2 || nest.GradientRows(out _) != run || nest.Count != run || run * Unsafe.SizeOf<T>() % 64 != 0) return false;
        nest.Block(0, out first, out _, out p0);
        nest.Block(1, out nint second, out _, out nint p1);
        return second - first == run && p0 == p1;
    }

    /// <summary>Elements from <paramref name="address"/> (element-aligned) to the next 64-byte boundary: where a copy or the
    /// accumulators start so that the element at <paramref name="address"/> lands on one.</summary>
    private static nint PhaseOffset(nuint address) => (nint)((64 - (address & 63)) & 63) / Unsafe.SizeOf<T>();

    /// <summary>Runs from this many bytes are applied two at a time where they can be (<see cref="PairedRows{TS, TV}"/>).</summary>
    internal const int PairedRowBytes = 8 << 10;

    /// <summary>
    /// Whether a streamed backward applies its blocks two at a time (<see cref="GradientRuns{TS, TV, T}.AffineApplyPair"/>):
    /// on a path of 64-byte vectors, blocks of one run each, back to back in memory, a whole number of 64-byte lines (so
    /// the two runs of a pair share dx's phase) and at least <see cref="PairedRowBytes"/> (LayerNorm and RMSNorm over a last
    /// dim of 2,048 floats and more, a multiple of 16). Gamma and the two accumulators are then loaded and stored once for
    /// two rows, the same bits. Rows that long no longer keep x, dy, gamma and the accumulators in L1 through their apply
    /// (five arrays of 8 KB at 2,048 floats). LayerNorm backward, AMD Zen 5, the same bytes as [8192, 768] in rows of 2,048
    /// floats: 19-25% faster at 1 thread (three processes, each alternating both), 15-18% at 2; 4,096: 10-14%, 8-11% at 2;
    /// 8,192: 9%; 16,384: 8-9%. Rows of 768 ran 5-20% slower paired, 1,024 10-44%, 1,536 2-8% (rows that fit L1 gain
    /// nothing from fewer accumulator loads and stores).
    /// </summary>
    private static bool PairedRows<TS, TV>(TNest nest, int blocks) where TS : struct, ISimd<TV, T> where TV : struct =>
        TS.Count * Unsafe.SizeOf<T>() >= 64 && (long)nest.GradientExtent * Unsafe.SizeOf<T>() >= PairedRowBytes && LineRows(nest, blocks, out _, out _);

    /// <summary>Runs from this many bytes are applied four at a time where they pair (<see cref="QuadRows{TS, TV}"/>).</summary>
    internal const int QuadRowBytes = 12 << 10;

    /// <summary>
    /// Whether a streamed backward whose blocks pair (<see cref="PairedRows{TS, TV}"/>) applies them four at a time
    /// (<see cref="GradientRuns{TS, TV, T}.AffineApplyQuad"/>): runs of at least <see cref="QuadRowBytes"/> (LayerNorm and
    /// RMSNorm over a last dim of 3,072 floats and more). Gamma and the two accumulators of a row that long (36 KB at 3,072
    /// floats) do not stay in L1 beside its lines; loaded and stored once for four rows instead of two. The same bits.
    /// LayerNorm backward, 25 MB a call, AMD Zen 5, 1 thread, both builds in one process alternating, both orders, four /
    /// two at a time: rows of 2,048 floats 1.03-1.06 (slower), 2,560 0.96-1.02, 3,072 0.91-0.95, 4,096 0.91-0.94 (2
    /// threads 0.96-0.97), 8,192 0.98.
    /// </summary>
    private static bool QuadRows<TS, TV>(TNest nest) where TS : struct, ISimd<TV, T> where TV : struct =>
        TS.Count * Unsafe.SizeOf<T>() == 64 && (long)nest.GradientExtent * Unsafe.SizeOf<T>() >= QuadRowBytes;

    /// <summary>Blocks whose parameter gradients are summed in the element type before they are added into double.</summary>
    private const int BlocksPerFlush = 16;

    private readonly unsafe struct Group<TS, TV, TW>(TNest nest, double epsilon, bool constant, int blocks, int groups, int parameters, double[] gradPartials,
        T[][] accumulators, T* residual, bool fromMemory, bool pairs, bool quads, nint phase, T* addend) : IParallelBody where TS : struct, ISimd<TV, T> where TV : struct where TW : struct, IStores
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            // dbeta then dgamma, per parameter, in the element type for up to BlocksPerFlush blocks (as the other sums' chunks),
            // then added into this group's double partials: per element one add in the element type instead of a widened one.
            ref T acc = ref MemoryMarshal.GetArrayDataReference(accumulators[worker]);
            // At the rows' phase (element phase of dbeta, and of dgamma a whole number of lines on, on a 64-byte boundary;
            // see RowPhase), or with element 0 on a boundary (gamma's: AlignedArrays): placed here each unit, so where the
            // array is now. A pooled array is only 8-byte aligned: left there, rows on a boundary loaded and stored both
            // accumulators across two lines a vector (LayerNorm backward [8192, 768] with x, dy and dx on a boundary ran
            // 1.15-1.20x the time of the same call with all three 8 bytes off).
            acc = ref Unsafe.Add(ref acc, PhaseOffset((nuint)Unsafe.AsPointer(ref Unsafe.Add(ref acc, phase))));
            MemoryMarshal.CreateSpan(ref acc, 2 * parameters).Clear();
            ref T x = ref ParallelUnits.At<T>(spans.S0);
            ref T dx = ref ParallelUnits.At<T>(spans.S1);
            ref T dy = ref ParallelUnits.At<T>(spans.S2);
            ref T gamma = ref ParallelUnits.At<T>(spans.S3);
            ref T stat0 = ref ParallelUnits.At<T>(spans.S4);
            ref T stat1 = ref ParallelUnits.At<T>(spans.S5);
            ref double gradSums = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gradPartials), (nint)unit * 2 * parameters);
            nint rows = nest.GradientRows(out _);
            double count = nest.Count;
            int firstBlock = (int)((long)blocks * unit / groups), lastBlock = (int)((long)blocks * (unit + 1) / groups);
            // With pairs (see PairedRows), two blocks' runs applied together (GradientRuns.AffineApplyPair): the first block's
            // terms held until the second's are made.
            bool pending = false;
            // Pairs and quads only on the 64-byte vector path (PairedRows, QuadRows): a constant of this instantiation, so the
            // other paths' code leaves out the held blocks' applies (the LayerNorm backward's first call compiles less).
            bool wide = typeof(TV) == typeof(Vector512<T>), paired = wide && pairs, quad = wide && quads;
            AffineTerms<T> heldTerms = default;
            nint heldXo = 0, heldPo = 0;
            // With quads (see QuadRows), up to three blocks' terms held until a fourth's are made (GradientRuns.AffineApplyQuad).
            int held = 0;
            AffineTerms<T> termsB = default, termsC = default;
            nint xoB = 0, poB = 0, xoC = 0, poC = 0;
            for (int block = firstBlock; block < lastBlock; block++)
            {
                nest.Block(block, out nint xo, out nint so, out nint po);
                ref T xb = ref Unsafe.Add(ref x, xo);
                ref T dyb = ref Unsafe.Add(ref dy, xo);
                (double mean, double r) = BackwardShared<TK, T>.Terms(Unsafe.Add(ref stat0, so),
                    TK.Centered || constant ? Unsafe.Add(ref stat1, so) : T.Zero, epsilon, constant);
                T m = T.CreateTruncating(-mean), rf = T.CreateTruncating(r);
                ref T gammaBlock = ref Unsafe.Add(ref gamma, po);
                double mf = -double.CreateTruncating(m);
                T dz = dyb, gb = gammaBlock;
                double sumGdy = 0d, sumGdyD = 0d, sumG = 0d, sumGD = 0d, sumD = 0d;
                if (residual != null)
                {
                    // The forward's mean in double (mf + its residual) and the sum of x - mf it implies; the reduce skips that sum.
                    mean = mf + double.CreateTruncating(residual[so]);
                    sumD = (mean - mf) * count;
                    if (fromMemory)
                        nest.GradientAffineReduce<TS, TV, Lanes>(ref xb, ref dyb, 0, rows, m, dz, gb, ref gammaBlock, ref sumGdy, ref sumGdyD, ref sumG, ref sumGD,
                            ref Unsafe.NullRef<double>());
                    else
                        nest.GradientAffineReduce<TS, TV, Splat>(ref xb, ref dyb, 0, rows, m, dz, gb, ref gammaBlock, ref sumGdy, ref sumGdyD, ref sumG, ref sumGD,
                            ref Unsafe.NullRef<double>());
                }
                else
                {
                    if (fromMemory)
                        nest.GradientAffineReduce<TS, TV, Lanes>(ref xb, ref dyb, 0, rows, m, dz, gb, ref gammaBlock, ref sumGdy, ref sumGdyD, ref sumG, ref sumGD, ref sumD);
                    else
                        nest.GradientAffineReduce<TS, TV, Splat>(ref xb, ref dyb, 0, rows, m, dz, gb, ref gammaBlock, ref sumGdy, ref sumGdyD, ref sumG, ref sumGD, ref sumD);
                    // The saved mean corrected by the exact sum of x - mf: the mean in double.
                    if (TK.Centered && !constant) mean = mf + sumD / count;
                }
                double dzd = double.CreateTruncating(dz), gbd = double.CreateTruncating(gb);
                sumGdy += dzd * (gbd * count + sumG);
                sumGdyD += dzd * (gbd * sumD + sumGD) + (mf - mean) * sumGdy;
                double q = constant ? 0d : -r * r * r * sumGdyD / count;
                double rr = TK.Centered && !constant ? -r * sumGdy / count : 0d;
                // dx = r * g * dy + (x - mean) * q + rr, run as r * (g * (dy - dz) + dz * (g - gb)) + (x - mf) * q + rr' with
                // rr' = rr + r * dz * gb + (mf - mean) * q in double: the lanes only multiply small differences.
                rr += r * dzd * gbd + (mf - mean) * q;
                var terms = new AffineTerms<T>(m, rf, T.CreateTruncating(q), T.CreateTruncating(rr), dz, gb, T.CreateTruncating((mf - mean) * r));
                bool flush = (block - firstBlock) % BlocksPerFlush == BlocksPerFlush - 1 || block == lastBlock - 1;
                if (quad)
                {
                    if (held < 3 && !flush)
                    {
                        if (held == 0) (heldTerms, heldXo, heldPo) = (terms, xo, po);
                        else if (held == 1) (termsB, xoB, poB) = (terms, xo, po);
                        else (termsC, xoC, poC) = (terms, xo, po);
                        held++;
                        continue;
                    }
                    // Three held and this one: four runs together where they share gamma and are equally spaced; otherwise (and
                    // where a flush comes first) the held blocks and this one in order, two at a time.
                    nint stride = xoB - heldXo;
                    if (held < 3 || heldPo != po || poB != po || poC != po || xoC - xoB != stride || xo - xoC != stride
                        || !GradientRuns<TS, TV, T>.AffineApplyQuad(ref Unsafe.Add(ref x, heldXo), ref Unsafe.Add(ref dy, heldXo), ref Unsafe.Add(ref dx, heldXo),
                            stride, rows, heldTerms, termsB, termsC, terms, ref gammaBlock, ref Unsafe.Add(ref acc, po), ref Unsafe.Add(ref acc, parameters + po)))
                    {
                        if (held == 0) Apply(ref x, ref dy, ref dx, ref gamma, ref acc, xo, po, rows, terms);
                        else if (held == 1) ApplyTwo(ref x, ref dy, ref dx, ref gamma, ref acc, heldXo, heldPo, heldTerms, xo, po, terms, rows);
                        else
                        {
                            ApplyTwo(ref x, ref dy, ref dx, ref gamma, ref acc, heldXo, heldPo, heldTerms, xoB, poB, termsB, rows);
                            if (held == 2) Apply(ref x, ref dy, ref dx, ref gamma, ref acc, xo, po, rows, terms);
                            else ApplyTwo(ref x, ref dy, ref dx, ref gamma, ref acc, xoC, poC, termsC, xo, po, terms, rows);
                        }
                    }
                    held = 0;
                    if (flush) Flush(ref acc, ref gradSums, 2 * parameters);
                    continue;
                }
                if (paired && !pending && !flush)
                {
                    // Held until the next block's terms are made: the two runs applied together.
                    (pending, heldTerms, heldXo, heldPo) = (true, terms, xo, po);
                    continue;
                }
                if (paired && pending)
                {
                    pending = false;
                    ApplyTwo(ref x, ref dy, ref dx, ref gamma, ref acc, heldXo, heldPo, heldTerms, xo, po, terms, rows);
                }
                else if (addend != null)
                    GradientRuns<TS, TV, T>.AffineApplyAdding<TW>(ref xb, ref dyb, ref Unsafe.Add(ref dx, xo), rows, terms.M, terms.R, terms.Q, terms.Rr, terms.Dz,
                        terms.Gb, terms.C1, ref gammaBlock, ref Unsafe.Add(ref acc, po), ref Unsafe.Add(ref acc, parameters + po), ref Unsafe.AsRef<T>(addend + xo));
                else Apply(ref x, ref dy, ref dx, ref gamma, ref acc, xo, po, rows, terms);
                if (flush) Flush(ref acc, ref gradSums, 2 * parameters);
            }
        }

        /// <summary>Two blocks' dx and parameter gradients, the first's terms before the second's: together
        /// (<see cref="GradientRuns{TS, TV, T}.AffineApplyPair"/>) where they share gamma and a 64-byte phase, else one after the other.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ApplyTwo(ref T x, ref T dy, ref T dx, ref T gamma, ref T acc, nint xo, nint po, in AffineTerms<T> t, nint xo2, nint po2, in AffineTerms<T> t2,
            nint rows)
        {
            if (po != po2 || !GradientRuns<TS, TV, T>.AffineApplyPair(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo),
                    ref Unsafe.Add(ref x, xo2), ref Unsafe.Add(ref dy, xo2), ref Unsafe.Add(ref dx, xo2), rows, t, t2, ref Unsafe.Add(ref gamma, po),
                    ref Unsafe.Add(ref acc, po), ref Unsafe.Add(ref acc, parameters + po)))
            {
                Apply(ref x, ref dy, ref dx, ref gamma, ref acc, xo, po, rows, t);
                Apply(ref x, ref dy, ref dx, ref gamma, ref acc, xo2, po2, rows, t2);
            }
        }

        /// <summary>One block's dx and parameter gradients (the nest's apply).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Apply(ref T x, ref T dy, ref T dx, ref T gamma, ref T acc, nint xo, nint po, nint rows, in AffineTerms<T> t) =>
            nest.GradientAffineApply<TW, TS, TV>(ref Unsafe.Add(ref x, xo), ref Unsafe.Add(ref dy, xo), ref Unsafe.Add(ref dx, xo), 0, rows, t.M, t.R, t.Q, t.Rr, t.Dz,
                t.Gb, t.C1, ref Unsafe.Add(ref gamma, po), ref Unsafe.Add(ref acc, po), ref Unsafe.Add(ref acc, parameters + po));

        /// <summary>Adds the accumulators into the group's double partials (each element widened and added on its own, so the
        /// same bits lane by lane as element by element) and clears them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Flush(ref T acc, ref double sums, int length)
        {
            int w = TS.Count, i = 0;
            for (; i + w <= length; i += w)
            {
                TS.AddWidened(ref sums, i, TS.Load(ref acc, i));
                TS.Store(TS.Zero, ref acc, i);
            }
            for (; i < length; i++)
            {
                Unsafe.Add(ref sums, i) += double.CreateTruncating(Unsafe.Add(ref acc, i));
                Unsafe.Add(ref acc, i) = T.Zero;
            }
        }
    }
}
