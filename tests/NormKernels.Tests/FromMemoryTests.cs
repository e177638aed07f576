namespace NormKernels.Tests;

/// <summary>
/// Calls whose tensors exceed <see cref="Streaming.ThresholdBytes"/> (the last-level cache) read their statistics passes from
/// memory, and the reductions hint the lines 12 KB ahead into L1 (issue 11): row after row, block units, channel groups and
/// whole-tensor chunks. With the threshold at 0 every call takes them: the results against the float64 reference, the same
/// bits on 1 and 2 threads, and the same bits as the call without hints (threshold at its maximum), in place as well. Runs of
/// more than 4 KB where the layout has them (shorter runs take no hints of their own).
/// </summary>
[Collection(nameof(ThreadingTests))]   // changes the process-wide Streaming.ThresholdBytes and Parallelism.MaxDegree
public sealed class FromMemoryTests : RestoresSettings
{
    public static TheoryData<string, int[]> Cases => new()
    {
        { "BnNchw", [3, 8, 35, 37] },      // channel groups, planes of 1,295 floats
        { "BnNhwc", [3, 35, 37, 8] },      // whole-tensor chunks over columns
        { "InNchw", [2, 9, 35, 37] },      // row after row
        { "InNhwc", [2, 35, 37, 9] },      // block units over columns
        { "GnNchw", [2, 8, 35, 37] },      // block units over long runs
        { "GnNhwc", [2, 35, 37, 8] },
        { "LnNchw", [2, 8, 35, 37] },
        { "LnNtc", [2, 30, 1030] },        // row after row, rows over 4 KB
        { "RmsNtc", [3, 20, 1100] },
        { "LnNtcNoAffine", [2, 9, 401] },  // rows under 4 KB
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void HintedCallsMatchTheReferenceAndTheUnhintedBits(string name, int[] dims)
    {
        LayerCase layerCase = LayerCases.Get(name);
        Streaming.ThresholdBytes = 0;
        float[] input = RowPlanTests.ReferenceSteps(layerCase, dims, new Random(KernelCheck.Seed(name, 61)), name + " from memory", null);

        // 1 and 2 threads and in place (hints, no streaming: the output is the input): the same bits.
        var one = LaneRowTests.SameBitsOnTwoThreadsAndInPlace(layerCase, dims, input);

        // Without hints (and with normal stores): the same bits.
        Streaming.ThresholdBytes = long.MaxValue;
        var plain = RowPlanTests.TrainingForward(layerCase, dims, input, out _);
        Assert.False(Streaming.LastCallStreamed);
        Assert.Equal(plain.Output, one.Output);
        Assert.Equal(plain.State, one.State);
    }
}
