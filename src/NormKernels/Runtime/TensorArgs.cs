using System;
using System.ComponentModel;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

/// <summary>
/// Reads a tensor argument of a generated layer: its rank must be the layout's length, its memory dense
/// and row-major in layout order; the result is the flat span and the dims in layout order.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class TensorArgs
{
    /// <summary>The elements of <paramref name="tensor"/> as a span; its lengths go to <paramref name="dims"/>.</summary>
    public static ReadOnlySpan<T> Dense<T>(in ReadOnlyTensorSpan<T> tensor, string layout, string name, scoped Span<int> dims)
    {
        Shape(tensor.Lengths, tensor.Strides, layout, name, dims);
        return MemoryMarshal.CreateReadOnlySpan(in tensor.GetPinnableReference(), (int)tensor.FlattenedLength);
    }

    /// <summary>The elements of <paramref name="tensor"/> as a writable span; its lengths go to <paramref name="dims"/>.</summary>
    public static Span<T> Dense<T>(in TensorSpan<T> tensor, string layout, string name, scoped Span<int> dims)
    {
        Shape(tensor.Lengths, tensor.Strides, layout, name, dims);
        return MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), (int)tensor.FlattenedLength);
    }

    /// <summary>A further tensor argument of a call: dense, row-major, of the first tensor's shape <paramref name="dims"/>.</summary>
    public static ReadOnlySpan<T> DenseLike<T>(in ReadOnlyTensorSpan<T> tensor, string layout, string name, scoped ReadOnlySpan<int> dims)
    {
        Span<int> other = stackalloc int[dims.Length];
        ReadOnlySpan<T> span = Dense(in tensor, layout, name, other);
        SameShape(dims, other, name, layout);
        return span;
    }

    /// <inheritdoc cref="DenseLike{T}(in ReadOnlyTensorSpan{T}, string, string, ReadOnlySpan{int})"/>
    public static Span<T> DenseLike<T>(in TensorSpan<T> tensor, string layout, string name, scoped ReadOnlySpan<int> dims)
    {
        Span<int> other = stackalloc int[dims.Length];
        Span<T> span = Dense(in tensor, layout, name, other);
        SameShape(dims, other, name, layout);
        return span;
    }

    /// <summary>Two tensors of one call must have the same shape.</summary>
    public static void SameShape(ReadOnlySpan<int> expected, ReadOnlySpan<int> actual, string name, string layout) =>
        SameShape(expected, actual, name, layout, "the shape of 'input'");

    /// <summary>A tensor must have the <paramref name="expected"/> shape; <paramref name="what"/> says what that shape is, for the message.</summary>
    public static void SameShape(ReadOnlySpan<int> expected, ReadOnlySpan<int> actual, string name, string layout, string what)
    {
        if (!expected.SequenceEqual(actual))
            throw new ArgumentException($"'{name}' has shape [{Join(actual)}]; expected [{Join(expected)}] ({layout}), {what}.", name);
    }

    private static void Shape(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides, string layout, string name, Span<int> dims)
    {
        if (lengths.Length != layout.Length)
            throw new ArgumentException($"'{name}' has rank {lengths.Length.ToString(CultureInfo.InvariantCulture)}; expected {layout.Length.ToString(CultureInfo.InvariantCulture)}, one dimension per letter of the layout \"{layout}\".", name);
        long expectedStride = 1;
        for (int i = lengths.Length - 1; i >= 0; i--)
        {
            if (lengths[i] > int.MaxValue)
                throw new ArgumentOutOfRangeException(name, $"'{name}' dimension {layout[i]} is {lengths[i].ToString(CultureInfo.InvariantCulture)}, more than a span can hold.");
            dims[i] = (int)lengths[i];
            if (lengths[i] > 1 && strides[i] != expectedStride)
                throw new ArgumentException($"'{name}' has strides [{Join(strides)}]; expected a dense row-major tensor in layout order ({layout}).", name);
            expectedStride *= Math.Max(lengths[i], 1);
        }
    }

    private static string Join(ReadOnlySpan<int> values)
    {
        var parts = new string[values.Length];
        for (int i = 0; i < values.Length; i++) parts[i] = values[i].ToString(CultureInfo.InvariantCulture);
        return string.Join(", ", parts);
    }

    private static string Join(ReadOnlySpan<nint> values)
    {
        var parts = new string[values.Length];
        for (int i = 0; i < values.Length; i++) parts[i] = values[i].ToString(CultureInfo.InvariantCulture);
        return string.Join(", ", parts);
    }
}
