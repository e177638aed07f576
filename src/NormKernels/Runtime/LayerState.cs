using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormKernels.Runtime;

/// <summary>The bookkeeping every generated layer does the same way around its kernels: saved statistics sized to the
/// call, saved dims, the running-statistics update, zeroing the gradients under the thread guard.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LayerState
{
    /// <summary>The array in <paramref name="field"/> when it has <paramref name="length"/> entries, else a new one stored there.
    /// The caller keeps the returned array: the kernel writes through it, never through a field another call may replace.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T[] Sized<T>(ref T[] field, int length)
    {
        T[] array = field;
        if (array.Length != length) field = array = new T[length];
        return array;
    }

    /// <summary>Copies a training forward's dims for Backward's shape check.</summary>
    public static void SaveDims(int[] saved, ReadOnlySpan<int> dims) => dims.CopyTo(saved);

    /// <summary>
    /// PyTorch's update, <c>running = (1 - momentum) * running + momentum * batch</c>, the running variance taking the
    /// unbiased batch variance (<c>variance * count / (count - 1)</c>); the batch mean in double is <paramref name="mean"/> plus its
    /// <paramref name="meanResidual"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdateRunning<T>(T[] runningMean, T[] runningVar, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, ReadOnlySpan<T> meanResidual,
        double count, double momentum) where T : IFloatingPointIeee754<T>
    {
        double unbias = count / (count - 1d);
        int stat = 0;
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated && variance.Length >= mean.Length && meanResidual.Length >= mean.Length
            && runningMean.Length >= mean.Length && runningVar.Length >= mean.Length)
        {
            // Four statistics at a time, the same double operations in the same order (widening is exact, narrowing rounds as
            // the cast does), so the same bits: a scalar loop was about 5% of a BatchNorm S5 call (32 channels).
            ref float rm = ref Unsafe.As<T, float>(ref MemoryMarshal.GetArrayDataReference(runningMean));
            ref float rv = ref Unsafe.As<T, float>(ref MemoryMarshal.GetArrayDataReference(runningVar));
            ref float bm = ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(mean));
            ref float bv = ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(variance));
            ref float br = ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(meanResidual));
            Vector256<double> keep = Vector256.Create(1d - momentum), m = Vector256.Create(momentum), u = Vector256.Create(unbias);
            for (; stat + 4 <= mean.Length; stat += 4)
            {
                nuint at = (nuint)stat;
                Vector256<double> newMean = keep * Widen(Vector128.LoadUnsafe(ref rm, at)) + m * (Widen(Vector128.LoadUnsafe(ref bm, at)) + Widen(Vector128.LoadUnsafe(ref br, at)));
                Vector256<double> newVar = keep * Widen(Vector128.LoadUnsafe(ref rv, at)) + m * (Widen(Vector128.LoadUnsafe(ref bv, at)) * u);
                Vector128.Narrow(newMean.GetLower(), newMean.GetUpper()).StoreUnsafe(ref rm, at);
                Vector128.Narrow(newVar.GetLower(), newVar.GetUpper()).StoreUnsafe(ref rv, at);
            }
        }
        for (; stat < mean.Length; stat++)
        {
            runningMean[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningMean[stat]) +
                momentum * (double.CreateTruncating(mean[stat]) + double.CreateTruncating(meanResidual[stat])));
            runningVar[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningVar[stat]) +
                momentum * (double.CreateTruncating(variance[stat]) * unbias));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widen(Vector128<float> v) => Vector256.Create(Vector128.WidenLower(v), Vector128.WidenUpper(v));

    /// <summary>Zeroes the parameter gradients, holding the instance alone (<see cref="CallGuard"/>).</summary>
    public static void ZeroGrad<T>(ref int guard, string call, T[] weightGrad, T[] biasGrad)
    {
        CallGuard.EnterExclusive(ref guard, call);
        try
        {
            Array.Clear(weightGrad);
            Array.Clear(biasGrad);
        }
        finally
        {
            CallGuard.ExitExclusive(ref guard);
        }
    }
}
