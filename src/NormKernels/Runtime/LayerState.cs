using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;

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
        for (int stat = 0; stat < mean.Length; stat++)
        {
            runningMean[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningMean[stat]) +
                momentum * (double.CreateTruncating(mean[stat]) + double.CreateTruncating(meanResidual[stat])));
            runningVar[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningVar[stat]) +
                momentum * (double.CreateTruncating(variance[stat]) * unbias));
        }
    }

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
