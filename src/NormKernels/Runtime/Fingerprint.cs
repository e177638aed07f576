using System;
using System.ComponentModel;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

/// <summary>
/// A cheap check that Backward is given the input of the training-mode Forward whose statistics it uses: at Forward,
/// <see cref="Count"/> elements of the input at fixed positions spread evenly over the tensor (the first and the last
/// included) are saved bit for bit; Backward compares the same positions of its input. It catches another tensor
/// (e.g. the Forward's output, or the next batch) unless it agrees bitwise at every sampled position; it cannot
/// catch an edit of elements that are not sampled. The input is sampled as given, before the kernel runs: after an
/// in-place Forward (output == input) the buffer holds the output, so a Backward given that buffer is refused, and one
/// given a copy of the original input is accepted.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Fingerprint
{
    /// <summary>The number of sampled elements.</summary>
    public const int Count = 16;

    /// <summary>The sampled position <paramref name="i"/> (0 to <see cref="Count"/> - 1) of a tensor of <paramref name="length"/> elements.</summary>
    public static int Position(int i, int length) => (int)((long)i * (length - 1) / (Count - 1));

    /// <summary>Saves the sampled elements of <paramref name="input"/> into <paramref name="saved"/> (<see cref="Count"/> entries).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Take<T>(ReadOnlySpan<T> input, Span<T> saved) where T : unmanaged
    {
        for (int i = 0; i < Count; i++) saved[i] = input[Position(i, input.Length)];
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> when an element of <paramref name="input"/> at a sampled
    /// position differs bitwise from the one saved at Forward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public static void Check<T>(ReadOnlySpan<T> saved, ReadOnlySpan<T> input, string name) where T : unmanaged
    {
        for (int i = 0; i < Count; i++)
        {
            int at = Position(i, input.Length);
            T now = input[at];
            if (!MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in now)).SequenceEqual(MemoryMarshal.AsBytes(saved.Slice(i, 1))))
                throw new InvalidOperationException(
                    $"'{name}' is not the input of the last training-mode Forward: element {at.ToString(CultureInfo.InvariantCulture)} is " +
                    $"{Format(now)}, the Forward's input had {Format(saved[i])} there (Backward compares {Count.ToString(CultureInfo.InvariantCulture)} sampled " +
                    "elements bit for bit). Pass the tensor Forward normalized; after an in-place Forward, pass a copy of the input taken before it.");
        }
    }

    private static string Format<T>(T value) where T : unmanaged =>
        value is IFormattable f ? f.ToString("R", CultureInfo.InvariantCulture) : value.ToString() ?? "";
}
