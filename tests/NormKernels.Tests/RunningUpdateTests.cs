using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// The running-statistics update (<see cref="LayerState.UpdateRunning"/>), four statistics at a time where vectors are
/// accelerated: bit for bit PyTorch's formula evaluated in double one statistic at a time, written here from the formula
/// (running = (1 - momentum) * running + momentum * batch, the variance unbiased by count / (count - 1), the batch mean in
/// double as the float mean plus its residual), for counts of statistics around the vector width and the tail.
/// </summary>
public sealed class RunningUpdateTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(32)]
    [InlineData(37)]
    public void FourAtATimeGiveTheBitsOfTheFormula(int statistics)
    {
        var random = new Random(KernelCheck.Seed("running", statistics));
        float[] Values(double scale, double offset) => Enumerable.Range(0, statistics).Select(_ => (float)(offset + scale * (random.NextDouble() - 0.5))).ToArray();
        float[] runningMean = Values(4, 1), runningVar = Values(2, 1.5), mean = Values(300, 0), variance = Values(10, 6);
        float[] residual = mean.Select(m => (float)(Math.BitIncrement((double)m) - m) * (float)random.NextDouble()).ToArray();
        const double Count = 49, Momentum = 0.1;

        var expectedMean = new float[statistics];
        var expectedVar = new float[statistics];
        for (int i = 0; i < statistics; i++)
        {
            double batchMean = (double)mean[i] + residual[i];
            double unbiased = variance[i] * (Count / (Count - 1));
            expectedMean[i] = (float)((1 - Momentum) * runningMean[i] + Momentum * batchMean);
            expectedVar[i] = (float)((1 - Momentum) * runningVar[i] + Momentum * unbiased);
        }

        LayerState.UpdateRunning(runningMean, runningVar, mean, variance, residual, Count, Momentum);
        Assert.Equal(expectedMean, runningMean);
        Assert.Equal(expectedVar, runningVar);
    }
}
