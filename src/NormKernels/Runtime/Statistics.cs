using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>
/// The statistics arithmetic the generated kernels share once their passes have produced sums.
/// The kernels accumulate <c>x - shift</c> (shift = a sample of the statistic's own data) so the sums
/// stay at the scale of the spread, not of the offset; these turn them into mean and variance in double.
/// </summary>
public static partial class Statistics
{
    /// <summary>
    /// Mean and biased variance from <paramref name="count"/> values given as sums of
    /// <c>d = x - shift</c> and of <c>d * d</c>: <c>mean = shift + S1/n</c>, <c>var = S2/n - (S1/n)^2</c>
    /// (clamped at 0). Exact to the sums' rounding whatever the data's offset, because d is small. The sums are multiplied by
    /// <c>1/n</c>, one division instead of two (the finishes' vector lanes take the same operations, so the same bits): the
    /// divisions were the finish's cost where statistics are many and short (InstanceNorm S2, 16,384 statistics of 49).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Mean, double Variance) FromShiftedSums(double shift, double sum, double sumOfSquares, double count)
    {
        double inverse = 1d / count;
        double shifted = sum * inverse;
        double variance = sumOfSquares * inverse - shifted * shifted;
        return (shift + shifted, variance < 0d ? 0d : variance);
    }

    /// <summary>
    /// <paramref name="totals"/> = the sum of <paramref name="rows"/> consecutive rows of <paramref name="partials"/>, each
    /// <c>totals.Length</c> wide, added row after row from zero: per slot <c>((0 + p0) + p1) + ...</c>, the order a scalar
    /// loop over the chunks takes, in vectors (512-bit where the runtime accelerates them, else <see cref="Vector{T}"/>; an
    /// IEEE addition per lane: the same bits). Merging the whole-tensor reduction's 12 chunks of 1,536 sums (BatchNorm
    /// backward NHWC S2) one double at a time took 10.7-11.4 us a call, 5-7% of the call; 24 rows of 1,024 (BatchNorm
    /// training NHWC S2) took 12-14 us that way and 2.1-2.2 us here (3.0 us with 256-bit vectors; AMD EPYC Zen 5,
    /// 2026-12-03). Not TensorPrimitives.Add: its generic code ran unoptimized for the first thousands of calls (24-28 us for
    /// those 24 rows until it tiered up to 1.5 us), where this method is compiled optimized at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SumPartials(Span<double> totals, ReadOnlySpan<double> partials, int rows)
    {
        int width = totals.Length;
        if (rows < 0 || (long)rows * width > partials.Length) throw new ArgumentOutOfRangeException(nameof(rows));
        totals.Clear();
        ref double total = ref MemoryMarshal.GetReference(totals);
        for (int row = 0; row < rows; row++)
        {
            ref double part = ref Unsafe.Add(ref MemoryMarshal.GetReference(partials), (nint)row * width);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + Vector512<double>.Count <= width; i += Vector512<double>.Count)
                    Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref total, (nuint)i) + Vector512.LoadUnsafe(ref part, (nuint)i), ref total, (nuint)i);
            if (Vector.IsHardwareAccelerated)
                for (; i + Vector<double>.Count <= width; i += Vector<double>.Count)
                    Vector.StoreUnsafe(Vector.LoadUnsafe(ref total, (nuint)i) + Vector.LoadUnsafe(ref part, (nuint)i), ref total, (nuint)i);
            for (; i < width; i++) Unsafe.Add(ref total, i) += Unsafe.Add(ref part, i);
        }
    }

    /// <summary>Four doubles rounded to float, as <c>Vector256.Narrow(v, v).GetLower()</c> rounds them (the same values): one
    /// <c>vcvtpd2ps</c> where AVX is there, where the JIT converted both halves of that and inserted one into the other.
    /// The finishes store three to five such vectors for every four statistics: InstanceNorm NCHW S2 on the AVX2 path
    /// (AMD Zen 5, 1 thread, one process alternating, both orders) 166-171 -> 158-164 us; the 512-bit path even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> NarrowFour(Vector256<double> v) =>
        System.Runtime.Intrinsics.X86.Avx.IsSupported ? System.Runtime.Intrinsics.X86.Avx.ConvertToVector128Single(v) : Vector256.Narrow(v, v).GetLower();

    /// <summary><c>1 / sqrt(variance + epsilon)</c>, in double (PyTorch: eps inside the square root).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double InverseStd(double variance, double epsilon) => 1d / Math.Sqrt(variance + epsilon);
}
