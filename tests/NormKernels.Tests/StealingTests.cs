namespace NormKernels.Tests;

/// <summary>
/// The thread-count tests again with every worker of a parallel loop taking units from the end of the other workers' ranges
/// before its own (<see cref="StealScope"/>): a unit's result may not depend on which worker runs it, nor on what that worker
/// ran before it. Without the hook a worker takes from another's range only when it is done with its own first, which on an
/// idle machine is rare; with it, every multi-worker call runs units away from their owners. The bits are compared with
/// one thread's, as in the tests these call.
/// </summary>
[Collection(nameof(ThreadingTests))]
public sealed class StealingTests
{
    [Theory]
    [MemberData(nameof(LayerCases.Names), MemberType = typeof(LayerCases))]
    public void ForwardBitwiseIdenticalWhenWorkersTakeEachOthersUnits(string name)
    {
        using var steal = StealScope.On();
        using var threading = new ThreadingTests();
        threading.BitwiseIdenticalForAnyThreadCount(name);
    }

    [Theory]
    [InlineData("BnNhwc", new[] { 4, 33, 32, 32 })]            // whole-tensor dx in chunks (ApplyChunk: reversed within its owner's range)
    [InlineData("LnNtc", new[] { 64, 33, 65 })]
    [InlineData("InNchw", new[] { 8, 20, 29, 31 })]
    [InlineData("BnPerActivationNchw", new[] { 80, 6, 17, 17 })]
    public void BackwardBitwiseIdenticalWhenWorkersTakeEachOthersUnits(string name, int[] dims)
    {
        using var steal = StealScope.On();
        new BackwardThreadingTests().GradientsDoNotDependOnThreadCount(name, dims);
    }

    /// <summary>The pipelined forward (each block's apply beside the next block's sums) takes blocks from the end of the other
    /// workers' ranges itself and runs its pipeline on through them: streamed (threshold 0), two workers.</summary>
    [Theory]
    [InlineData(nameof(GnNhwc), 6, 16, 24, 64)]
    [InlineData(nameof(InNhwc), 8, 16, 16, 64)]
    public void PipelinedChannelsLastBlocksWhenWorkersTakeEachOthersBlocks(string name, int n, int h, int w, int c)
    {
        using var steal = StealScope.On();
        using var streamed = new StreamedOrderTests();
        streamed.PipelinedChannelsLastBlocksGiveTheUnpipelinedBitsAndTheReference(name, n, h, w, c);
    }

    [Theory]
    [InlineData(nameof(GnNchw), 8, 8, 50, 50)]
    [InlineData(nameof(LnNchw), 8, 64, 16, 16)]
    public void PipelinedRunsWhenWorkersTakeEachOthersBlocks(string name, int n, int c, int h, int w)
    {
        using var steal = StealScope.On();
        using var streamed = new StreamedOrderTests();
        streamed.PipelinedRunsGiveTheUnpipelinedBitsAndTheReference(name, n, c, h, w);
    }

    [Theory]
    [InlineData(nameof(LrnNchw), new[] { 3, 16, 80, 80 })]
    [InlineData(nameof(LrnNhwc), new[] { 2, 37, 41, 67 })]
    [InlineData(nameof(LrnNclSize3), new[] { 5, 12, 3331 })]
    public void LrnBitwiseIdenticalWhenWorkersTakeEachOthersUnits(string name, int[] dims)
    {
        using var steal = StealScope.On();
        using var lrn = new LrnThreadingTests();
        lrn.FloatBitwiseIdenticalForAnyThreadCount(name, dims);
    }

    [Theory]
    [InlineData(nameof(WnConv), new[] { 96, 64, 5, 5 })]
    [InlineData(nameof(WnIhwo), new[] { 64, 3, 3, 333 })]
    public void WeightNormBitwiseIdenticalWhenWorkersTakeEachOthersUnits(string name, int[] dims)
    {
        using var steal = StealScope.On();
        new WeightNormThreadingTests().BitwiseIdenticalForAnyThreadCount(name, dims);
    }

    [Theory]
    [InlineData("BnNchw", new[] { 8, 24, 33, 34 })]
    [InlineData("BnNhwc", new[] { 8, 33, 34, 24 })]
    public void SynchronizedBitwiseIdenticalWhenWorkersTakeEachOthersUnits(string name, int[] dims)
    {
        using var steal = StealScope.On();
        using var synchronized = new SynchronizedBackwardThreadingTests();
        synchronized.BitwiseIdenticalForAnyThreadCount(name, dims);
    }
}
