using System;
using System.Buffers;
using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace NormKernels.Runtime;

/// <summary>A weight normalization layer's index facts: its layout and which of its letters are reduced.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IWeightNormLayer
{
    /// <summary>The layout letters, outermost first.</summary>
    static abstract string Layout { get; }

    /// <summary>Bit i set: letter i of <see cref="Layout"/> is reduced (the norm runs over it); the others are kept (they index g).</summary>
    static abstract int Reduced { get; }
}

/// <summary>
/// Every weight normalization layer's kernels (<c>w = g * v / ||v||</c>, PyTorch's <c>torch._weight_norm</c>), over its
/// layout (<typeparamref name="TLayer"/>, a struct type argument): the argument checks, the path choice and the drivers.
/// </summary>
/// <remarks>
/// <para>Each call folds the dims into segments of neighbouring kept or reduced axes (axes of extent 1 left out) and takes
/// one of two forms from the innermost segment. Reduced innermost (OIHW over I,H,W; OI over I): each norm is one contiguous
/// run of the innermost extent, or several such runs at the offsets of the outer reduced axes (IOHW over I,H,W); units are
/// ranges of norms. Kept innermost (HWIO over H,W,I): a row of norms is contiguous, and each norm a column down the rows
/// of the reduced segment around it (and of any outer reduced axes); units are pieces of columns. The offsets of the
/// norms (or rows of norms) and of the outer reduced runs are tabled once per call.</para>
/// <para>Per norm: the sums of squares (and, backward, of <c>wGrad * v</c>) in double (<see cref="WeightNormRuns{TS, TV, T}"/>),
/// then <c>||v|| = sqrt(sum)</c> and the coefficients in double, rounded once to <typeparamref name="T"/>: forward
/// <c>w = v * (g / ||v||)</c>; backward <c>gGrad = sum(wGrad * v) / ||v||</c> and
/// <c>vGrad = wGrad * (g / ||v||) + v * (-(g / ||v||) * sum(wGrad * v) / ||v||^2)</c>. No epsilon: a zero norm gives
/// NaN in every element of its slice (and its gGrad), as PyTorch does. A norm's sums never depend on the units or the thread
/// count, so neither do the bits.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class WeightNormKernels<TLayer, T> where TLayer : struct, IWeightNormLayer where T : unmanaged
{
    /// <summary>Generated layers derive a nested class from this one to name it briefly; it has no instances.</summary>
    protected WeightNormKernels() { }

    /// <summary>Units of norms wanted at most (reduced innermost), and pieces of columns wanted (kept innermost).</summary>
    private const int UnitsWanted = 64, PiecesWanted = 16;

    /// <summary>The fewest columns a piece of a row of norms gets (at least a vector of every path).</summary>
    private const int MinPieceWidth = 64;

    private static readonly string[] Names = NamesOf(TLayer.Layout);
    private static readonly string DimsText = string.Join(", ", Names);
    private static readonly string GText = GTextOf(TLayer.Layout, TLayer.Reduced, Names);

    private static string[] NamesOf(string layout)
    {
        var names = new string[layout.Length];
        for (int i = 0; i < layout.Length; i++) names[i] = LayoutGrammar.WeightNormDimName(layout[i]);
        return names;
    }

    private static string GTextOf(string layout, int reduced, string[] names)
    {
        var kept = new System.Collections.Generic.List<string>();
        for (int i = 0; i < layout.Length; i++)
            if ((reduced >> i & 1) == 0) kept.Add(names[i]);
        return "one g per index of the kept axes: the product of " + string.Join(", ", kept);
    }

    private static bool IsReduced(int axis) => (TLayer.Reduced >> axis & 1) != 0;

    /// <summary>The number of norms for these dims: the length of g (and gGrad), the product of the kept dims.</summary>
    public static int NormCount(ReadOnlySpan<int> dims)
    {
        CheckDims(dims);
        return KeptCount(dims);
    }

    /// <summary>Rank, positive dims and their product (which must fit a span); returns the product.</summary>
    private static int CheckDims(ReadOnlySpan<int> dims)
    {
        Checks.PositiveDims(dims, Names, TLayer.Layout);
        return Checks.Count(dims, Names, DimsText);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    private static int KeptCount(ReadOnlySpan<int> dims)
    {
        int kept = 1;
        for (int i = 0; i < dims.Length; i++)
            if (!IsReduced(i)) kept *= dims[i];
        return kept;
    }

    /// <summary>Forward on caller-owned buffers: <c>w = g * v / ||v||</c>. Returns the path that ran.</summary>
    public static KernelPath Forward(ReadOnlySpan<T> v, ReadOnlySpan<T> g, Span<T> w, ReadOnlySpan<int> dims) =>
        AdvSimd.IsSupported
            ? Forward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, v, g, w, dims)
            : Forward<X86Vector128Ops>(KernelPath.None, v, g, w, dims);

    /// <summary>Forward with the 128-bit operations given and, unless <c>KernelPath.None</c>, a forced path.</summary>
    public static KernelPath Forward<TOps>(KernelPath path, ReadOnlySpan<T> v, ReadOnlySpan<T> g, Span<T> w, ReadOnlySpan<int> dims)
        where TOps : struct, IVector128Ops
    {
        int count = CheckDims(dims);
        Checks.Length(v.Length, count, nameof(v), DimsText);
        Checks.VectorLength(g.Length, KeptCount(dims), nameof(g), GText);
        Checks.Length(w.Length, count, nameof(w), DimsText);
        Checks.NoPartialOverlap(v, w, nameof(w), nameof(v));
        Checks.Disjoint(g, w, nameof(w), nameof(g));
        return Run<WeightForward, TOps>(path, dims, v, w, g, default, default);
    }

    /// <summary>Backward on caller-owned buffers: writes <c>vGrad</c> and <c>gGrad</c> from <c>wGrad</c>. Returns the path that ran.</summary>
    public static KernelPath Backward(ReadOnlySpan<T> v, ReadOnlySpan<T> g, ReadOnlySpan<T> wGrad, Span<T> vGrad, Span<T> gGrad, ReadOnlySpan<int> dims) =>
        AdvSimd.IsSupported
            ? Backward<AdvSimdVector128Ops<AdvSimdIntrinsics>>(KernelPath.None, v, g, wGrad, vGrad, gGrad, dims)
            : Backward<X86Vector128Ops>(KernelPath.None, v, g, wGrad, vGrad, gGrad, dims);

    /// <summary>Backward with the 128-bit operations given and, unless <c>KernelPath.None</c>, a forced path.</summary>
    public static KernelPath Backward<TOps>(KernelPath path, ReadOnlySpan<T> v, ReadOnlySpan<T> g, ReadOnlySpan<T> wGrad, Span<T> vGrad, Span<T> gGrad,
        ReadOnlySpan<int> dims) where TOps : struct, IVector128Ops
    {
        int count = CheckDims(dims), norms = KeptCount(dims);
        Checks.Length(v.Length, count, nameof(v), DimsText);
        Checks.VectorLength(g.Length, norms, nameof(g), GText);
        Checks.Length(wGrad.Length, count, nameof(wGrad), DimsText);
        Checks.Length(vGrad.Length, count, nameof(vGrad), DimsText);
        Checks.VectorLength(gGrad.Length, norms, nameof(gGrad), GText);
        // vGrad may be v or wGrad itself (each norm's sums are taken before its elements are written), never a part of them.
        Checks.NoPartialOverlap(v, vGrad, nameof(vGrad), nameof(v));
        Checks.NoPartialOverlap(wGrad, vGrad, nameof(vGrad), nameof(wGrad));
        Checks.Disjoint(g, vGrad, nameof(vGrad), nameof(g));
        Checks.Disjoint(v, gGrad, nameof(gGrad), nameof(v));
        Checks.Disjoint(g, gGrad, nameof(gGrad), nameof(g));
        Checks.Disjoint(wGrad, gGrad, nameof(gGrad), nameof(wGrad));
        Checks.Disjoint<T>(vGrad, gGrad, nameof(gGrad), nameof(vGrad));
        return Run<WeightBackward, TOps>(path, dims, v, vGrad, g, wGrad, gGrad);
    }

    /// <summary>Forward on tensors: dims from v's lengths (dense row-major in layout order); g of PyTorch's shape (the kept
    /// axes' extents, 1 on each reduced axis); w of v's shape.</summary>
    public static KernelPath Forward(ReadOnlyTensorSpan<T> v, ReadOnlyTensorSpan<T> g, TensorSpan<T> w)
    {
        Span<int> dims = stackalloc int[TLayer.Layout.Length];
        ReadOnlySpan<T> vSpan = TensorArgs.Dense(in v, TLayer.Layout, nameof(v), dims);
        return Forward(vSpan, Parameter(g, nameof(g), dims), Writable(LikeV(w, nameof(w), dims)), dims);
    }

    /// <summary>Backward on tensors: dims from v's lengths; wGrad and vGrad of v's shape, g and gGrad of PyTorch's shape.</summary>
    public static KernelPath Backward(ReadOnlyTensorSpan<T> v, ReadOnlyTensorSpan<T> g, ReadOnlyTensorSpan<T> wGrad, TensorSpan<T> vGrad, TensorSpan<T> gGrad)
    {
        Span<int> dims = stackalloc int[TLayer.Layout.Length];
        ReadOnlySpan<T> vSpan = TensorArgs.Dense(in v, TLayer.Layout, nameof(v), dims);
        // Arguments are evaluated left to right: the tensors are checked in parameter order.
        return Backward(vSpan, Parameter(g, nameof(g), dims), LikeV(wGrad, nameof(wGrad), dims), Writable(LikeV(vGrad, nameof(vGrad), dims)),
            Writable(Parameter(gGrad, nameof(gGrad), dims)), dims);
    }

    /// <summary>A tensor of v's shape (<paramref name="dims"/>), dense row-major: its elements.</summary>
    private static ReadOnlySpan<T> LikeV(in ReadOnlyTensorSpan<T> tensor, string name, ReadOnlySpan<int> dims)
    {
        Span<int> other = stackalloc int[dims.Length];
        ReadOnlySpan<T> span = TensorArgs.Dense(in tensor, TLayer.Layout, name, other);
        TensorArgs.SameShape(dims, other, name, TLayer.Layout, "the shape of 'v'");
        return span;
    }

    /// <summary>g (or gGrad) as a tensor: PyTorch's shape, the dims of v with 1 on each reduced axis.</summary>
    private static ReadOnlySpan<T> Parameter(in ReadOnlyTensorSpan<T> tensor, string name, ReadOnlySpan<int> dims)
    {
        Span<int> other = stackalloc int[dims.Length], expected = stackalloc int[dims.Length];
        ReadOnlySpan<T> span = TensorArgs.Dense(in tensor, TLayer.Layout, name, other);
        for (int i = 0; i < dims.Length; i++) expected[i] = IsReduced(i) ? 1 : dims[i];
        TensorArgs.SameShape(expected, other, name, TLayer.Layout, "the shape of 'v' with 1 on each reduced axis (PyTorch's g)");
        return span;
    }

    /// <summary>The elements of a writable tensor, read through <see cref="LikeV"/> or <see cref="Parameter"/>, writable again.</summary>
    private static Span<T> Writable(ReadOnlySpan<T> span) => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(span), span.Length);

    // ------------------------------------------------------------------ drivers

    /// <summary>The folded shape of one call (see the class remarks) and its table: the first elements of the norms (reduced
    /// innermost) or of the rows of norms (kept innermost), then the offsets of the outer reduced runs.</summary>
    private readonly struct Folded
    {
        /// <summary>Kept innermost: norms are columns of rows of <see cref="Inner"/> norms.</summary>
        public readonly bool Columns;

        /// <summary>The innermost extent: each run's length (reduced innermost) or the row of norms (kept innermost).</summary>
        public readonly nint Inner;

        /// <summary>Kept innermost: the rows (<see cref="Inner"/> apart) of the reduced segment around the row of norms; else 1.</summary>
        public readonly nint Rows;

        /// <summary>Entries of the table for the norms (or rows of norms), then for the outer reduced runs.</summary>
        public readonly int Kept, Outer;

        public Folded(ReadOnlySpan<int> dims, out nint[] table)
        {
            Span<long> extent = stackalloc long[dims.Length];
            Span<bool> reduced = stackalloc bool[dims.Length];
            int n = 0;
            for (int a = 0; a < dims.Length; a++)
            {
                if (dims[a] == 1) continue;
                if (n > 0 && reduced[n - 1] == IsReduced(a)) extent[n - 1] *= dims[a];
                else
                {
                    extent[n] = dims[a];
                    reduced[n++] = IsReduced(a);
                }
            }
            Span<long> stride = stackalloc long[Math.Max(n, 1)];
            for (int s = n - 1; s >= 0; s--) stride[s] = s == n - 1 ? 1 : stride[s + 1] * extent[s + 1];

            Columns = n > 0 && !reduced[n - 1];
            Inner = n == 0 ? 1 : (nint)extent[n - 1];
            // Kept innermost: the reduced segment just outside it holds the rows; it is left out of the outer runs.
            int rows = Columns && n > 1 ? n - 2 : -1;
            Rows = rows >= 0 ? (nint)extent[rows] : 1;
            int kept = 1, outer = 1;
            for (int s = 0; s < n - 1; s++)
            {
                if (!reduced[s]) kept *= (int)extent[s];
                else if (s != rows) outer *= (int)extent[s];
            }
            Kept = kept;
            Outer = outer;
            table = ArrayPool<nint>.Shared.Rent(kept + outer);
            Span<nint> norms = table.AsSpan(0, kept), runs = table.AsSpan(kept, outer);
            int filled = 1, runsFilled = 1;
            norms[0] = 0;
            runs[0] = 0;
            for (int s = 0; s < n - 1; s++)
            {
                if (!reduced[s]) filled = Expand(norms, filled, (int)extent[s], (nint)stride[s]);
                else if (s != rows) runsFilled = Expand(runs, runsFilled, (int)extent[s], (nint)stride[s]);
            }
        }

        /// <summary>Row-major expansion by one more axis: entry t * extent + i = old entry t + i * stride (in place, from the back).</summary>
        private static int Expand(Span<nint> table, int count, int extent, nint stride)
        {
            for (int t = count - 1; t >= 0; t--)
            {
                nint first = table[t];
                for (int i = extent - 1; i >= 0; i--) table[t * extent + i] = first + i * stride;
            }
            return count * extent;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static KernelPath Run<TP, TOps>(KernelPath forced, ReadOnlySpan<int> dims, ReadOnlySpan<T> v, Span<T> output, ReadOnlySpan<T> g,
        ReadOnlySpan<T> wGrad, Span<T> gGrad) where TP : struct, IWeightNormPass where TOps : struct, IVector128Ops
    {
        var shape = new Folded(dims, out nint[] table);
        try
        {
            KernelPath path = Checks.Forced(forced, Isa.Select<T>((int)Math.Min(shape.Inner, int.MaxValue)));
            if (!shape.Columns)
            {
                int units = Math.Min(shape.Kept, UnitsWanted);
                ParallelUnits.For(units, Parallelism.Workers(v.Length, units), new Unit<TP, TOps>(path, shape, table, units, null),
                    v, output, g, wGrad, gGrad, default);
                return path;
            }
            // Pieces of each row of norms, at least MinPieceWidth columns each, so a single row still gives a few units.
            int pieces = (int)Math.Max(1, Math.Min(shape.Inner / MinPieceWidth, (PiecesWanted + shape.Kept - 1) / shape.Kept));
            int count = shape.Kept * pieces, workers = Parallelism.Workers(v.Length, count);
            int width = (int)((shape.Inner + pieces - 1) / pieces);
            WorkerScratch<T> scratch = WorkerScratch<T>.Rent(workers, 2 * width, 2 * width);
            try
            {
                ParallelUnits.For(count, workers, new Unit<TP, TOps>(path, shape, table, pieces, scratch), v, output, g, wGrad, gGrad, default);
            }
            finally
            {
                scratch.Return();
            }
            return path;
        }
        finally
        {
            ArrayPool<nint>.Shared.Return(table);
        }
    }

    /// <summary>One unit: a range of norms (reduced innermost: <paramref name="parts"/> = the unit count) or one piece of a
    /// row of norms (kept innermost: <paramref name="parts"/> = pieces per row, <paramref name="scratch"/> per worker).
    /// Spans: v, output (w or vGrad), g, wGrad, gGrad.</summary>
    private readonly struct Unit<TP, TOps>(KernelPath path, Folded shape, nint[] table, int parts, WorkerScratch<T>? scratch) : IParallelBody
        where TP : struct, IWeightNormPass where TOps : struct, IVector128Ops
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int worker, int unit, in PinnedSpans spans)
        {
            var at = new Spans(spans);
            switch (path)
            {
                case KernelPath.Vector512: Body<V512<T>, Vector512<T>>(worker, unit, at); break;
                case KernelPath.Vector256: Body<V256<T>, Vector256<T>>(worker, unit, at); break;
                case KernelPath.Vector128: Body<V128<T, TOps>, Vector128<T>>(worker, unit, at); break;
                default: Body<Scalar<T>, T>(worker, unit, at); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Body<TS, TV>(int worker, int unit, Spans at) where TS : struct, ISimd<TV, T> where TV : struct
        {
            if (scratch is { } perWorker)
            {
                Columns<TS, TV>(unit, at, perWorker.Doubles[worker], perWorker.Elements[worker]);
                return;
            }
            int first = (int)((long)shape.Kept * unit / parts), last = (int)((long)shape.Kept * (unit + 1) / parts);
            for (int k = first; k < last; k++)
            {
                nint start = table[k];
                double squares = 0, products = 0;
                for (int q = 0; q < shape.Outer; q++)
                {
                    nint o = start + table[shape.Kept + q];
                    WeightNormRuns<TS, TV, T>.Sums<TP>(ref at.V(o), ref at.Dy(o), shape.Inner, ref squares, ref products);
                }
                Coefficients(squares, products, at.G(k), out T a, out T b, ref at.GGrad(k));
                for (int q = 0; q < shape.Outer; q++)
                {
                    nint o = start + table[shape.Kept + q];
                    WeightNormRuns<TS, TV, T>.Apply<TP, Splat>(ref at.V(o), ref at.Dy(o), ref at.Output(o), shape.Inner, ref a, ref b);
                }
            }
        }

        /// <summary>Columns [from, to) of row of norms <c>unit / parts</c>: every column's sums down its rows, its coefficients, then the rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Columns<TS, TV>(int unit, Spans at, double[] sums, T[] coefficients) where TS : struct, ISimd<TV, T> where TV : struct
        {
            int row = unit / parts, piece = unit % parts;
            nint from = shape.Inner * piece / parts, to = shape.Inner * (piece + 1) / parts, width = to - from;
            nint start = table[row] + from, norm = row * shape.Inner + from;
            Span<double> squares = sums.AsSpan(0, (int)width), products = sums.AsSpan((int)width, (int)width);
            squares.Clear();
            products.Clear();
            for (int q = 0; q < shape.Outer; q++)
            {
                nint o = start + table[shape.Kept + q];
                WeightNormRuns<TS, TV, T>.ColumnSums<TP>(ref at.V(o), ref at.Dy(o), shape.Rows, width, shape.Inner,
                    ref MemoryMarshal.GetReference(squares), ref MemoryMarshal.GetReference(products));
            }
            ref T a = ref MemoryMarshal.GetArrayDataReference(coefficients);
            ref T b = ref Unsafe.Add(ref a, width);
            for (nint j = 0; j < width; j++)
                Coefficients(squares[(int)j], products[(int)j], at.G(norm + j), out Unsafe.Add(ref a, j), out Unsafe.Add(ref b, j), ref at.GGrad(norm + j));
            for (int q = 0; q < shape.Outer; q++)
            {
                for (nint r = 0, o = start + table[shape.Kept + q]; r < shape.Rows; r++, o += shape.Inner)
                    WeightNormRuns<TS, TV, T>.Apply<TP, Lanes>(ref at.V(o), ref at.Dy(o), ref at.Output(o), width, ref a, ref b);
            }
        }

        /// <summary>A norm's coefficients from its sums, in double: forward <c>b = g / ||v||</c>; backward <c>a = g / ||v||</c>,
        /// <c>b = -a * sum(wGrad * v) / ||v||^2</c> and gGrad written. A zero norm gives NaN (0/0), as PyTorch.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Coefficients(double squares, double products, T g, out T a, out T b, ref T gGrad)
        {
            double norm = Math.Sqrt(squares), scale = Scalar<T>.SumWidened(g) / norm;
            if (!TP.Gradient)
            {
                a = b = Scalar<T>.Narrow(default, default, scale);
                return;
            }
            a = Scalar<T>.Narrow(default, default, scale);
            b = Scalar<T>.Narrow(default, default, -scale * (products / squares));
            gGrad = Scalar<T>.Narrow(default, default, products / norm);
        }
    }

    /// <summary>The pinned spans of a call as refs (the forward's wGrad and gGrad are null and never read or written).</summary>
    private readonly struct Spans(PinnedSpans spans)
    {
        private readonly nint _v = spans.S0, _output = spans.S1, _g = spans.S2, _dy = spans.S3, _gGrad = spans.S4;

        public ref T V(nint i) => ref Unsafe.Add(ref ParallelUnits.At<T>(_v), i);

        public ref T Output(nint i) => ref Unsafe.Add(ref ParallelUnits.At<T>(_output), i);

        public ref T Dy(nint i) => ref Unsafe.Add(ref ParallelUnits.At<T>(_dy), i);

        public T G(nint i) => Unsafe.Add(ref ParallelUnits.At<T>(_g), i);

        public ref T GGrad(nint i) => ref Unsafe.Add(ref ParallelUnits.At<T>(_gGrad), i);
    }
}
