namespace NormKernels.Tests;

/// <summary>Sets the process-wide <see cref="Parallelism.MaxDegree"/> until disposed, then restores what it was (tests that use it
/// belong to the ThreadingTests collection, which runs them one at a time).</summary>
internal sealed class DegreeScope : IDisposable
{
    private readonly int _saved = Parallelism.MaxDegree;

    private DegreeScope(int degree) => Parallelism.MaxDegree = degree;

    public static DegreeScope Set(int degree) => new(degree);

    public void Dispose() => Parallelism.MaxDegree = _saved;
}

/// <summary>Sets the process-wide <see cref="Streaming.ThresholdBytes"/> until disposed, then restores what it was (tests that
/// use it belong to the ThreadingTests collection).</summary>
internal sealed class ThresholdScope : IDisposable
{
    private readonly long _saved = Streaming.ThresholdBytes;

    private ThresholdScope(long bytes) => Streaming.ThresholdBytes = bytes;

    public static ThresholdScope Set(long bytes) => new(bytes);

    public void Dispose() => Streaming.ThresholdBytes = _saved;
}

/// <summary>A test class that changes the process-wide <see cref="Streaming.ThresholdBytes"/>, <see cref="Streaming.Adaptive"/>,
/// <see cref="Parallelism.MaxDegree"/> or <see cref="Parallelism.SpinMicroseconds"/> (it belongs to the ThreadingTests
/// collection): all four are restored after each test.</summary>
public abstract class RestoresSettings : IDisposable
{
    private readonly long _savedThreshold = Streaming.ThresholdBytes;
    private readonly bool _savedAdaptive = Streaming.Adaptive;
    private readonly int _savedDegree = Parallelism.MaxDegree;
    private readonly int _savedSpin = Parallelism.SpinMicroseconds;

    public void Dispose()
    {
        Streaming.ThresholdBytes = _savedThreshold;
        Streaming.Adaptive = _savedAdaptive;
        Parallelism.MaxDegree = _savedDegree;
        Parallelism.SpinMicroseconds = _savedSpin;
        GC.SuppressFinalize(this);
    }
}

/// <summary>Turns the runner's test hook <c>ParallelUnits.StealFirst</c> on until disposed (each worker of a loop takes units
/// from the end of the others' ranges before its own), then off (tests that use it belong to the ThreadingTests or AloneTests
/// collection).</summary>
internal sealed class StealScope : IDisposable
{
    private static readonly System.Reflection.PropertyInfo Property =
        typeof(NormKernels.Runtime.ParallelUnits).GetProperty("StealFirst", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;

    private StealScope() => Property.SetValue(null, true);

    public static StealScope On() => new();

    public void Dispose() => Property.SetValue(null, false);
}
