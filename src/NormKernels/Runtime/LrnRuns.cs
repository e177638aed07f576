using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormKernels.Runtime;

/// <summary>
/// The constants of one <c>[LocalResponseNormalize]</c> layer, as a struct type argument of <see cref="LrnRuns{TS, TV, T}"/>
/// (each layer emits one): the JIT compiles the runs once per layer and path with these folded in.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILrnWindow
{
    /// <summary>Channels of the window before the centre (Size / 2).</summary>
    static abstract int Before { get; }

    /// <summary>Channels of the window after the centre ((Size - 1) / 2).</summary>
    static abstract int After { get; }

    /// <summary>alpha / Size.</summary>
    static abstract double Scale { get; }

    /// <summary>The additive constant k.</summary>
    static abstract double K { get; }

    /// <summary>The exponent beta of the divisor (0, 0.5, 0.75 and 1 have their own forms).</summary>
    static abstract double Beta { get; }

    /// <summary>2 * alpha * beta / Size.</summary>
    static abstract double GradientScale { get; }
}

/// <summary>
/// The local response normalization runs, written once for every path (<typeparamref name="TS"/>), vector type
/// (<typeparamref name="TV"/>), element type (<typeparamref name="T"/>) and layer (the <see cref="ILrnWindow"/> type
/// argument). A run is a set of positions (one vector, or a chunk of vectors) sliding across C, channel c at
/// <c>c * stride</c>: the window's sum of squares is a running sum in double (adding the entering channel's square,
/// subtracting the leaving one's). A generated layer keeps its drivers (planes, pieces, tiles, threads) and calls these.
/// </summary>
/// <remarks>
/// Running sums: when the value leaving is more than <see cref="RecomputeRatio"/> times what remains (a large value
/// leaves a window of small ones), the subtraction has cancelled the sum to below its rounding error's scale, so the
/// window is summed again from scratch; the sum's relative error stays below RecomputeRatio * 2^-53 per step.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LrnRuns<TS, TV, T> where TS : struct, ISimd<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Positions per chunk of <see cref="ForwardColumns"/> (their running sums live in a 2 KB double buffer).</summary>
    public const int ChunkWidth = 256;

    /// <summary>A running sum is summed again when the value leaving it exceeds this many times what remains.</summary>
    public static double RecomputeRatio
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(T) == typeof(double) ? 256d : 1048576d;
    }

    /// <summary>
    /// y = x * D^-beta for positions [0, <paramref name="length"/>) (length &gt;= TS.Count), channel c at c * <paramref name="stride"/>.
    /// Chunks of up to <see cref="ChunkWidth"/> positions (whole vectors; the last piece rounded up to whole vectors and
    /// moved back to end at length) slide across C together, their running sums in a double buffer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardColumns<TW>(ref T x, ref T y, int channels, int stride, int length) where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        double ratio = RecomputeRatio;
        Span<double> sums = stackalloc double[ChunkWidth];
        ref double running = ref MemoryMarshal.GetReference(sums);
        int chunk = Math.Min(ChunkWidth, length / w * w);
        for (int start = 0; start < length; start += chunk)
        {
            // The last piece: the remaining positions rounded up to whole vectors, ending at length (overlapping the previous piece).
            int piece = Math.Min(chunk, length - start);
            int width = (piece + w - 1) / w * w;
            ref T xc = ref Unsafe.Add(ref x, start + piece - width);
            ref T yc = ref Unsafe.Add(ref y, start + piece - width);
            sums.Slice(0, width).Clear();
            // Window of channel c: [c - Before, c + After]; start with [0, After) so that step c adds c + After.
            for (int j = 0; j < TW.After && j < channels; j++)
                for (int v = 0; v < width; v += w)
                    TS.AddWidened(ref running, v, Square(TS.Load(ref xc, (nint)j * stride + v)));
            for (int c = 0; c < channels; c++)
            {
                for (int v = 0; v < width; v += w)
                {
                    TS.LoadWide(ref running, v, out TV lo, out TV hi, out double value);
                    Slide(ref lo, ref hi, ref value, c, TW.After, TW.Before, channels, ratio, ref xc, stride, v, square: true);
                    TS.StoreWide(lo, hi, value, ref running, v);
                    TV power = InversePower<TW>(TS.NarrowMultiplyAdd(lo, hi, value, TW.Scale, TW.K));
                    nint at = (nint)c * stride + v;
                    TS.Store(TS.Multiply(TS.Load(ref xc, at), power), ref yc, at);
                }
            }
        }
    }

    /// <summary>
    /// Channels innermost, without transposes: y = x * D^-beta for <paramref name="count"/> rows of
    /// <paramref name="channels"/> (&gt;= TS.Count) contiguous channels. Per row the squares go, widened to double, into
    /// <paramref name="squares"/> (Before + channels + After doubles) padded with zeros; the window sum of channel c is
    /// then Size shifted vector loads from c, added in order. Nothing is subtracted, so no re-sum guard is needed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardRows<TW>(ref T x, ref T y, int channels, int count, ref double squares) where TW : struct, ILrnWindow
    {
        int w = TS.Count, size = TW.Before + TW.After + 1;
        for (int i = 0; i < TW.Before; i++) Unsafe.Add(ref squares, i) = 0d;
        for (int i = 0; i < TW.After; i++) Unsafe.Add(ref squares, TW.Before + channels + i) = 0d;
        int lastColumn = channels - w;
        for (int p = 0; p < count; p++)
        {
            ref T xr = ref Unsafe.Add(ref x, (nint)p * channels);
            ref T yr = ref Unsafe.Add(ref y, (nint)p * channels);
            for (int column = 0; ; column += w)
            {
                if (column > lastColumn) column = lastColumn;
                TS.StoreWidened(ref squares, TW.Before + column, Square(TS.Load(ref xr, column)));
                if (column == lastColumn) break;
            }
            for (int column = 0; ; column += w)
            {
                if (column > lastColumn) column = lastColumn;
                TV power = InversePower<TW>(TS.NarrowWindowMultiplyAdd(ref squares, column, size, TW.Scale, TW.K));
                TS.Store(TS.Multiply(TS.Load(ref xr, column), power), ref yr, column);
                if (column == lastColumn) break;
            }
        }
    }

    /// <summary>
    /// dx_j = dy_j * D_j^-beta - 2 alpha beta / size * x_j * (sum over c whose window holds j of dy_c * x_c * D_c^(-beta-1)),
    /// one vector column of positions at a time (the last overlapped), for positions [0, <paramref name="length"/>).
    /// <paramref name="scratch"/>: 2 * channels vectors (per channel D^-beta, then dy * x * D^(-beta-1)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardColumns<TW>(ref T x, ref T dy, ref T dx, int channels, int stride, int length, ref T scratch)
        where TW : struct, ILrnWindow
    {
        int w = TS.Count;
        double ratio = RecomputeRatio;
        TV minusGradientScale = TS.Splat(Of(-TW.GradientScale));
        int lastColumn = length - w;
        for (int column = 0; ; column += w)
        {
            if (column > lastColumn) column = lastColumn;
            ref T xc = ref Unsafe.Add(ref x, column);
            ref T dyc = ref Unsafe.Add(ref dy, column);
            ref T dxc = ref Unsafe.Add(ref dx, column);
            // Pass 1, as Forward: D_c; keep D_c^-beta at scratch[2c] and dy_c * x_c * D_c^(-beta-1) at scratch[2c + 1] (vectors).
            TV lo = TS.Zero, hi = TS.Zero;
            double value = 0d;
            for (int j = 0; j < TW.After && j < channels; j++)
                TS.Accumulate(ref lo, ref hi, ref value, Square(TS.Load(ref xc, (nint)j * stride)));
            for (int c = 0; c < channels; c++)
            {
                Slide(ref lo, ref hi, ref value, c, TW.After, TW.Before, channels, ratio, ref xc, stride, 0, square: true);
                TV d = TS.NarrowMultiplyAdd(lo, hi, value, TW.Scale, TW.K);
                TV power = InversePower<TW>(d);
                nint at = (nint)c * stride;
                TS.Store(power, ref scratch, 2 * w * c);
                TS.Store(TS.Divide(TS.Multiply(TS.Multiply(TS.Load(ref dyc, at), TS.Load(ref xc, at)), power), d), ref scratch, 2 * w * c + w);
            }
            // Pass 2: channel j is in the windows of c in [j - After, j + Before]; start with [0, Before) so that step j adds j + Before.
            TV termsLo = TS.Zero, termsHi = TS.Zero;
            double termsValue = 0d;
            for (int c = 0; c < TW.Before && c < channels; c++)
                TS.Accumulate(ref termsLo, ref termsHi, ref termsValue, TS.Load(ref scratch, 2 * w * c + w));
            for (int j = 0; j < channels; j++)
            {
                Slide(ref termsLo, ref termsHi, ref termsValue, j, TW.Before, TW.After, channels, ratio, ref scratch, 2 * w, w, square: false);
                nint at = (nint)j * stride;
                TV direct = TS.Multiply(TS.Load(ref dyc, at), TS.Load(ref scratch, 2 * w * j));
                TS.Store(TS.MultiplyAdd(TS.Multiply(TS.Load(ref xc, at), minusGradientScale), TS.Narrow(termsLo, termsHi, termsValue), direct), ref dxc, at);
            }
            if (column == lastColumn) break;
        }
    }

    /// <summary>
    /// One slide step of a window sum (lo, hi, value; see ISimd), whose window is
    /// [center - behind, center + ahead]: adds the value at center + ahead when it is below channels, subtracts the one at
    /// center - behind - 1 when it is at least 0, and sums the window again when the guard asks (see the remarks). The
    /// value of channel r is <c>p[r * stride + offset]</c>, squared when <paramref name="square"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Slide(ref TV lo, ref TV hi, ref double value, int center, int ahead, int behind, int channels, double ratio,
        ref T p, nint stride, nint offset, bool square)
    {
        // Written so that nothing overflows for any Size: "center + ahead < channels" as "center < channels - ahead".
        bool enters = center < channels - ahead;
        TV entering = enters ? Value(ref p, center + ahead, stride, offset, square) : TS.Zero;
        TV leaving = center > behind ? Value(ref p, center - behind - 1, stride, offset, square) : TS.Zero;
        if (TS.Slide(ref lo, ref hi, ref value, entering, leaving, ratio))
        {
            lo = TS.Zero;
            hi = TS.Zero;
            value = 0d;
            int last = enters ? center + ahead : channels - 1;
            for (int r = center - behind; r <= last; r++)
                TS.Accumulate(ref lo, ref hi, ref value, Value(ref p, r, stride, offset, square));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Value(ref T p, int channel, nint stride, nint offset, bool square)
    {
        TV v = TS.Load(ref p, channel * stride + offset);
        return square ? Square(v) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Square(TV v) => TS.Multiply(v, v);

    /// <summary><c>d^-beta</c>: 1, 1 / sqrt(d), 1 / d, 1 / (sqrt(d) * sqrt(sqrt(d))) for beta 0, 0.5, 1, 0.75; otherwise the path's power.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV InversePower<TW>(TV d) where TW : struct, ILrnWindow
    {
        TV one = TS.Splat(Of(1d));
        if (TW.Beta == 0) return one;
        if (TW.Beta == 0.5) return TS.Divide(one, TS.Sqrt(d));
        if (TW.Beta == 1) return TS.Divide(one, d);
        if (TW.Beta == 0.75)
        {
            TV root = TS.Sqrt(d);
            return TS.Divide(one, TS.Multiply(root, TS.Sqrt(root)));
        }
        return TS.Power(d, Of(-TW.Beta));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Of(double value)
    {
        if (typeof(T) == typeof(float))
        {
            float f = (float)value;
            return Unsafe.As<float, T>(ref f);
        }
        return Unsafe.As<double, T>(ref value);
    }
}

/// <summary>The channels-innermost layers' tiles: positions [first, first + width) copied to a [channels, width] tile and back.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LrnTiles
{
    /// <summary>Copies positions [first, first + width) of a channels-innermost tensor to a [channels, width] tile.</summary>
    public static void Gather<T>(ref T source, ref T tile, int channels, int first, int width)
    {
        // Channel by channel: the tile is written in order, the source read across width rows that stay in L1.
        ref T start = ref Unsafe.Add(ref source, (nint)first * channels);
        for (int c = 0; c < channels; c++)
        {
            ref T tileRow = ref Unsafe.Add(ref tile, (nint)c * width);
            for (int p = 0; p < width; p++) Unsafe.Add(ref tileRow, p) = Unsafe.Add(ref start, (nint)p * channels + c);
        }
    }

    /// <summary>The inverse of <see cref="Gather"/>.</summary>
    public static void Scatter<T>(ref T tile, ref T destination, int channels, int first, int width)
    {
        ref T start = ref Unsafe.Add(ref destination, (nint)first * channels);
        for (int c = 0; c < channels; c++)
        {
            ref T tileRow = ref Unsafe.Add(ref tile, (nint)c * width);
            for (int p = 0; p < width; p++) Unsafe.Add(ref start, (nint)p * channels + c) = Unsafe.Add(ref tileRow, p);
        }
    }
}
