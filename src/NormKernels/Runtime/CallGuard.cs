using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Threading;

namespace NormKernels.Runtime;

/// <summary>
/// The thread contract of a generated layer instance, enforced with one <see cref="int"/> per instance:
/// inference-mode Forward calls share the instance (they only read it); a training-mode Forward, ForwardWithStatistics,
/// any Backward and ZeroGrad need it alone (they write the saved batch statistics, the running statistics or the
/// gradients). A call that would overlap another one it cannot share with is refused with an
/// <see cref="InvalidOperationException"/> before it reads or writes anything; nothing waits. A compare-exchange on
/// entry and a write (shared calls: a decrement) on exit: nanoseconds against the microseconds of the smallest kernel call.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CallGuard
{
    private const int Exclusive = -1;

    /// <summary>Enters a call that writes the instance's state; <paramref name="state"/> is the instance's guard field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void EnterExclusive(ref int state, string call)
    {
        int seen = Interlocked.CompareExchange(ref state, Exclusive, 0);
        if (seen != 0) throw Refused(call, seen);
    }

    /// <summary>Leaves a call entered with <see cref="EnterExclusive"/> (in a finally block).</summary>
    public static void ExitExclusive(ref int state) => Volatile.Write(ref state, 0);

    /// <summary>Enters a call that only reads the instance (inference Forward): any number may run at once, but none
    /// while a call that writes runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void EnterShared(ref int state, string call)
    {
        while (true)
        {
            int seen = Volatile.Read(ref state);
            if (seen < 0) throw Refused(call, seen);
            if (Interlocked.CompareExchange(ref state, seen + 1, seen) == seen) return;
        }
    }

    /// <summary>Leaves a call entered with <see cref="EnterShared"/> (in a finally block).</summary>
    public static void ExitShared(ref int state) => Interlocked.Decrement(ref state);

    private static InvalidOperationException Refused(string call, int seen) => new(
        $"{call} was refused: another thread is running " +
        (seen < 0 ? "a training-mode Forward, a Backward or ZeroGrad" : "an inference-mode Forward") +
        " on this layer instance. A training-mode Forward saves the batch statistics its Backward uses and updates the running " +
        "statistics; a Backward adds into WeightGrad and BiasGrad; so these calls need the instance alone, and an inference " +
        "Forward must not read running statistics halfway through an update. Nothing was read or written. Use one instance per " +
        "thread (they may share Weight and Bias values by copying them), or serialize the calls; inference-mode Forward calls " +
        "alone may run on one instance from any number of threads, and the static kernels on caller-owned buffers from any thread.");
}
