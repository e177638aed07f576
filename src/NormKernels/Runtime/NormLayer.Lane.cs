using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace NormKernels.Runtime;

#pragma warning disable CS1591

public sealed partial class NormLayer<TNest, TK, T>
{
    /// <summary>Dims an inference-mode Forward ran in a row lane with (<see cref="RememberRowLane"/>): the call's checks passed
    /// and every decision that took the lane is a function of the dims (the shape, the path, the plan, the expanded driver
    /// not taken), so a later call with the same dims and lengths makes only the decision that is not (streaming) and the
    /// checks that do not follow from the dims (overlap, the thread guard).</summary>
    private sealed class RowLaneMemo(int[] dims, int count, int statistics, KernelPath path)
    {
        public readonly int[] Dims = dims;
        public readonly int Count = count;
        public readonly int Statistics = statistics;
        public readonly KernelPath Path = path;
    }

    /// <summary>Dims remembered at once (a decode step's layers may alternate a few shapes, e.g. [1, C] and [16, C]); a new
    /// shape takes the slots in turn. Each slot holds an immutable memo, read and written whole.</summary>
    private const int RowLaneSlots = 4;

    private readonly RowLaneMemo?[] _rowLanes = new RowLaneMemo?[RowLaneSlots];

    // The shape's facts the lane asks every call, read once.
    private static readonly bool s_runningStatistics = Shape.RunningStatistics, s_twoOutputs = Shape.Outputs.Length > 1;
    private int _rowLaneNext;

    /// <summary>Remembers <paramref name="dims"/> as a row lane's (unless a slot has them already).</summary>
    private void RememberRowLane(ReadOnlySpan<int> dims, int count, int statistics, KernelPath path)
    {
        if (FindRowLane(dims, count, count) is not null) return;
        int slot = (int)((uint)(Interlocked.Increment(ref _rowLaneNext) - 1) % RowLaneSlots);
        Volatile.Write(ref _rowLanes[slot], new RowLaneMemo(dims.ToArray(), count, statistics, path));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private RowLaneMemo? FindRowLane(ReadOnlySpan<int> dims, int inputLength, int outputLength)
    {
        if (inputLength != outputLength) return null;
        RowLaneMemo?[] lanes = _rowLanes;
        for (int i = 0; i < lanes.Length; i++)
        {
            RowLaneMemo? memo = Volatile.Read(ref lanes[i]);
            if (memo is not null && memo.Count == inputLength && SameDims(dims, memo.Dims)) return memo;
        }
        return null;
    }

    /// <summary>Whether two dims lists are equal (a few ints: compared in place, without a call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool SameDims(ReadOnlySpan<int> dims, int[] remembered)
    {
        if (dims.Length != remembered.Length) return false;
        for (int i = 0; i < dims.Length; i++)
            if (dims[i] != remembered[i]) return false;
        return true;
    }

    /// <summary>
    /// An inference-mode Forward with dims a row lane ran with before (<see cref="RowLaneMemo"/>), run in that lane without
    /// the driver's decisions: true when it ran; false, with nothing read or written, for any other call (training mode, dims
    /// not remembered, a partial overlap, a call that streams), which <see cref="ForwardCore"/> then runs (and checks). A
    /// decode step's LayerNorm [1, 768] spent about a third of its time in the checks and decisions before its row
    /// (AMD Zen 5: 132 ns a call, the row 84). The lane itself is <see cref="RunRowLane"/>, a method of its own, compiled only
    /// when a call takes it: this test runs first in every Forward, and inlined here the lane's drivers of every path were
    /// compiled with a layer's first call whatever it ran (16-17 ms of a BatchNorm training call's 150-170 ms of JIT, AMD Zen 3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryRowLane(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims)
    {
        RowLaneMemo? memo = FindRowLane(dims, input.Length, output.Length);
        if (memo is null || Training) return false;
        // Both spans have the remembered length: in place (the same start) or apart, else the checked path says why.
        nint bytes = (nint)input.Length * Unsafe.SizeOf<T>();
        nint apart = Unsafe.ByteOffset(ref MemoryMarshal.GetReference(input), ref MemoryMarshal.GetReference(output));
        bool inPlace = apart == 0;
        if (!inPlace && (nuint)(apart + bytes - 1) < (nuint)(2 * bytes - 1)) return false;
        // The driver's one decision that is not a function of the dims (Streaming.Use): a call that would stream takes it.
        if (!inPlace && Streaming.Exceeds(bytes, bytes)) return false;
        RunRowLane(memo, input, output, dims);
        return true;
    }

    /// <summary>The remembered row lane of a call <see cref="TryRowLane"/> let through.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private void RunRowLane(RowLaneMemo memo, ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims)
    {
        LastCall.OnCallingThreadNotStreamed();
        TNest nest = TNest.Create(dims);
        if (s_runningStatistics)
        {
            // The running statistics are read: shared with other inference calls, never with a call that updates them.
            CallGuard.EnterShared(ref _guard, Shape.Calls[1]);
            try
            {
                Forward<TNest, TK, T>.RunInferenceRows(memo.Path, nest, input, output, Weight, Bias, RunningMean, RunningVar, _epsilon, null);
            }
            finally
            {
                CallGuard.ExitShared(ref _guard);
            }
        }
        else
        {
            // Batch statistics in call-local buffers, without the guard, as ForwardCore's inference call (see there): the statistics
            // on the stack (a lane's rows are at most StackStatistics).
            Span<T> stat0 = stackalloc T[StackStatistics];
            Span<T> stat1 = s_twoOutputs ? stackalloc T[StackStatistics] : default;
            int statistics = memo.Statistics;
            Forward<TNest, TK, T>.RunSmallRows(memo.Path, nest, input, output, Weight, Bias, stat0[..statistics],
                stat1.IsEmpty ? default : stat1[..statistics], _epsilon, null);
        }
        LastPath = memo.Path;
    }
}
