using System;
using System.ComponentModel;
using System.Globalization;

namespace NormKernels.Runtime;

/// <summary>
/// Argument checks the generated layers run before writing any output element. Every exception
/// names the offending argument and states the expected value.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class Checks
{
    /// <summary>A dimension must be at least 1.</summary>
    public static void Positive(int value, string name)
    {
        if (value <= 0)
            throw new ArgumentOutOfRangeException(name, value, $"Dimension '{name}' must be positive; got {Fmt(value)}.");
    }

    /// <summary>The tensor's element count (product of dims) must fit a span.</summary>
    public static int Count(long total, string dims)
    {
        if (total > int.MaxValue)
            throw new ArgumentOutOfRangeException(dims, total, $"The product of the dims ({dims}) is {Fmt(total)}, more than a span can hold ({Fmt(int.MaxValue)}).");
        return (int)total;
    }

    /// <summary>A span must hold exactly the product of the dims.</summary>
    public static void Length(int actual, int expected, string name, string dims)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' has {Fmt(actual)} elements; expected {Fmt(expected)} (the product of {dims}).", name);
    }

    /// <summary>A per-statistic or per-parameter span must have the expected length.</summary>
    public static void VectorLength(int actual, int expected, string name, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' has {Fmt(actual)} elements; expected {Fmt(expected)} ({what}).", name);
    }

    /// <summary>A dim (or a product of dims, named by its first) must equal the layer's size.</summary>
    public static void Equal(int actual, int expected, string name, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' is {Fmt(actual)}; expected {Fmt(expected)} ({what}).", name);
    }

    /// <summary>A product of dims (blamed on its first, <paramref name="name"/>) must equal the layer's size.</summary>
    public static void Product(int actual, int expected, string name, string dims, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"The product of the dims ({dims}) is {Fmt(actual)}; expected {Fmt(expected)} ({what}).", name);
    }

    /// <summary>The channel dim must be a multiple of the group count.</summary>
    public static void Divisible(int channels, int groups, string name)
    {
        if (channels % groups != 0)
            throw new ArgumentException($"'{name}' is {Fmt(channels)}; expected a multiple of Groups = {Fmt(groups)}.", name);
    }

    /// <summary>Epsilon must be a positive finite number.</summary>
    public static void Epsilon(float epsilon, string name)
    {
        if (!(epsilon > 0f) || float.IsInfinity(epsilon))
            throw new ArgumentOutOfRangeException(name, epsilon, $"'{name}' must be a positive finite number; got {Fmt(epsilon)}.");
    }

    /// <summary>Epsilon must be a positive finite number (double layers).</summary>
    public static void Epsilon(double epsilon, string name)
    {
        if (!(epsilon > 0d) || double.IsInfinity(epsilon))
            throw new ArgumentOutOfRangeException(name, epsilon, $"'{name}' must be a positive finite number; got {epsilon.ToString("R", CultureInfo.InvariantCulture)}.");
    }

    /// <summary>Momentum must lie in [0, 1] (double layers).</summary>
    public static void Momentum(double momentum, string name)
    {
        if (!(momentum >= 0d && momentum <= 1d))
            throw new ArgumentOutOfRangeException(name, momentum, $"'{name}' must lie in [0, 1]; got {momentum.ToString("R", CultureInfo.InvariantCulture)}.");
    }

    /// <summary>Momentum must lie in [0, 1].</summary>
    public static void Momentum(float momentum, string name)
    {
        if (!(momentum >= 0f && momentum <= 1f))
            throw new ArgumentOutOfRangeException(name, momentum, $"'{name}' must lie in [0, 1]; got {Fmt(momentum)}.");
    }

    /// <summary>A size argument of a constructor must be at least 1.</summary>
    public static void Size(int value, string name)
    {
        if (value <= 0)
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be positive; got {Fmt(value)}.");
    }

    /// <summary>Training statistics need at least two values each (PyTorch: "Expected more than 1 value per channel when training").</summary>
    public static void MoreThanOneValue(long countPerStatistic, string name, string dims)
    {
        if (countPerStatistic <= 1)
            throw new ArgumentException($"Expected more than 1 value per statistic when training; the reduced dims ({dims}) give {Fmt(countPerStatistic)}.", name);
    }

    /// <summary>Output may be the input itself (in place) but must not partly overlap it.</summary>
    public static void NoPartialOverlap<T>(ReadOnlySpan<T> input, Span<T> output, string name)
    {
        if (input.Overlaps(output, out int offset) && offset != 0)
            throw new ArgumentException($"'{name}' partly overlaps 'input' (offset {Fmt(offset)} elements); expected the same span (in place) or disjoint memory.", name);
    }

    /// <summary>As <see cref="NoPartialOverlap{T}(ReadOnlySpan{T}, Span{T}, string)"/>, naming the other span.</summary>
    public static void NoPartialOverlap<T>(ReadOnlySpan<T> other, Span<T> output, string name, string otherName)
    {
        if (other.Overlaps(output, out int offset) && offset != 0)
            throw new ArgumentException($"'{name}' partly overlaps '{otherName}' (offset {Fmt(offset)} elements); expected the same span or disjoint memory.", name);
    }

    /// <summary>The saved length a layer records after ForwardWithStatistics: its plain Backward is refused (BackwardWithStatistics is its backward).</summary>
    public const long SynchronizedForward = -2;

    /// <summary>Backward needs the statistics a training-mode Forward saved for an input of the same length.</summary>
    public static void SavedStatistics(long savedLength, int inputLength, string name)
    {
        if (savedLength == SynchronizedForward)
            throw new InvalidOperationException("Backward after ForwardWithStatistics (statistics merged across shards) would be this shard's local gradient: " +
                "call BackwardStatistics, add its sums over every shard (an all-reduce), then BackwardWithStatistics. Or run a training-mode Forward first.");
        if (savedLength != inputLength)
            throw new InvalidOperationException(savedLength < 0
                ? $"Backward needs the statistics of a training-mode Forward; none has run yet (expected Forward on this '{name}' first)."
                : $"Backward needs the statistics of a training-mode Forward of the same shape; the last one had {Fmt(savedLength)} elements, '{name}' has {Fmt(inputLength)}.");
    }

    /// <summary>Two spans that must not share any element (one is read while the other is written, at other positions);
    /// <paramref name="name"/> is the argument blamed.</summary>
    public static void Disjoint<T>(ReadOnlySpan<T> other, Span<T> output, string name, string otherName)
    {
        if (other.Overlaps(output, out int offset))
            throw new ArgumentException($"'{name}' overlaps '{otherName}' (offset {Fmt(offset)} elements); expected disjoint memory (one is read while the other is written).", name);
    }

    /// <summary>A dims span must have one entry per layout letter.</summary>
    public static void Rank(int actual, string layout, string name)
    {
        if (actual != layout.Length)
            throw new ArgumentException($"'{name}' has {Fmt(actual)} entries; expected {Fmt(layout.Length)}, one per letter of the layout \"{layout}\".", name);
    }

    /// <summary>A forced kernel path must be one this process can run for the given extent.</summary>
    public static void PathAvailable(KernelPath requested, KernelPath widest, string name)
    {
        if (requested == KernelPath.None || requested > widest)
            throw new ArgumentOutOfRangeException(name, requested, $"'{name}' is {requested}; this process and shape can run at most {widest}.");
    }

    private static string Fmt(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Fmt(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
