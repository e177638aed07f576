using System;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

/// <summary>
/// The calling thread's record of its last kernel call, for tests and diagnostics (<see cref="ParallelUnits.LastWorkers"/>,
/// <see cref="Streaming.LastCallStreamed"/>): one thread-static object holding both, so a small call's lane records them
/// with one thread-local lookup (two thread-static fields took one each: about 3 ns of a 90 ns decode-step LayerNorm).
/// </summary>
internal sealed class LastCall
{
    [ThreadStatic]
    private static LastCall? t_current;

    /// <summary>The workers the last call used.</summary>
    public int Workers;

    /// <summary>Whether the last call streamed its output.</summary>
    public bool Streamed;

    /// <summary>Whether the last call ran rows pipelined (<see cref="Streaming.LastCallPipelined"/>).</summary>
    public bool Pipelined;

    /// <summary>Whether the last call ran its interleaved blocks in memory order (<see cref="Streaming.LastCallMemoryOrder"/>).</summary>
    public bool MemoryOrder;

    /// <summary>Whether the last call had interleaved blocks it could run in memory order (it did, or ran them in groups because
    /// its layer's order tuner asked): the calls an order tuner times.</summary>
    public bool OrderChoice;

    /// <summary>Whether the last call applied rows two at a time, forward or backward (<see cref="Streaming.LastCallPairedRows"/>).</summary>
    public bool Paired;

    /// <summary>Whether the last call's backward applied rows four at a time (<see cref="Streaming.LastCallQuadRows"/>).</summary>
    public bool Quads;

    /// <summary>Whether the last call's backward added the sum's gradient inside its apply (<see cref="Streaming.LastCallAddedInApply"/>).</summary>
    public bool AddedInApply;

    /// <summary>This thread's record (made on its first use).</summary>
    public static LastCall Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_current ?? Create();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static LastCall Create() => t_current = new LastCall();

    /// <summary>Records a call whose output is stored normally, on however many workers (LocalResponseNorm, which never streams:
    /// without this, <see cref="Streaming.LastCallStreamed"/> still told of the call before it); returns the thread's record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LastCall NotStreamed()
    {
        LastCall record = Current;
        record.Streamed = false;
        record.Pipelined = false;
        record.MemoryOrder = false;
        record.OrderChoice = false;
        record.Paired = false;
        record.Quads = false;
        record.AddedInApply = false;
        return record;
    }

    /// <summary>Records a call that ran on the calling thread alone, its output stored normally (a small call's lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OnCallingThreadNotStreamed() => NotStreamed().Workers = 1;
}
