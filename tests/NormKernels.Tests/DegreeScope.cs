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
