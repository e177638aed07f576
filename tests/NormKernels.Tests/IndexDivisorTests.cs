using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary><see cref="IndexDivisor"/> (the nests' per-channel index maps divide by a runtime extent with it) against the
/// hardware division: every divisor a layer can have up to 4,100 and a spread of larger ones, at indices around every
/// multiple of small divisors, around 2^31 and at random.</summary>
public sealed class IndexDivisorTests
{
    [Fact]
    public void QuotientsAreTheHardwareDivisions()
    {
        var random = new Random(17);
        var divisors = Enumerable.Range(1, 4100).Select(d => (long)d)
            .Concat(Enumerable.Range(0, 2000).Select(_ => (long)random.Next(4101, int.MaxValue)))
            .Concat([65536, 65537, 1 << 20, (1 << 30) - 1, 1 << 30, int.MaxValue]);
        foreach (long d in divisors)
        {
            var divisor = new IndexDivisor((nint)d);
            foreach (long n in Indices(d, random))
                Assert.True(n / d == divisor.Divide((nint)n), $"{n} / {d}: {divisor.Divide((nint)n)}, expected {n / d}");
        }
    }

    private static IEnumerable<long> Indices(long d, Random random)
    {
        for (long m = 0; m <= 40; m++)
            for (long e = -1; e <= 1; e++)
                if (m * d + e >= 0 && m * d + e <= int.MaxValue) yield return m * d + e;
        for (long e = 0; e < 3; e++) yield return int.MaxValue - e;
        for (long q = int.MaxValue / d; q >= 0 && q > int.MaxValue / d - 3; q--)
            for (long e = -1; e <= 1; e++)
                if (q * d + e >= 0 && q * d + e <= int.MaxValue) yield return q * d + e;
        for (int i = 0; i < 20; i++) yield return random.Next(0, int.MaxValue);
    }
}
