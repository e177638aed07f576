using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// Writes the generated half of a <c>[LocalResponseNormalize]</c> layer. Every layout is the tensor [outer, C, inner]
/// (outer: the axes before C, inner: the axes after it, the stride between neighbouring channels). The runs are shared,
/// in the runtime (LrnRuns&lt;TS, TV, T&gt;, once per path struct, with the layer's Window struct as type argument): a
/// column run slides the window across C for a vector (or a chunk of vectors) of positions, keeping the window's sum of
/// squares in double (running add of the entering channel's square, subtract of the leaving one's). The layer keeps its
/// surface, its constants (Window) and its drivers, which switch once per run to the path's instantiation:
/// <list type="bullet">
/// <item>inner &gt; 1 (NCHW, NCL, ...): the planes are contiguous; columns are vectors across the inner run, the last
/// one overlapped with its neighbour.</item>
/// <item>inner == 1 (NHWC, NLC, ...): C is contiguous per position. Forward with Size &lt;= RowsMaxSize (9) and at least
/// one vector of channels: per position, the squares go (in double) into a zero-padded row and each vector of window sums
/// is Size shifted vector loads added in order (no transposes; nothing subtracted, so no re-sum guard is needed; measured
/// 2.7x-3.4x copy time against 9x-11x for the tiles on the quick bench). Otherwise (backward, wider windows, fewer channels
/// than a vector): tiles of up to 64 positions are transposed into a [C, tile] scratch (in cache), the same column kernel
/// runs across the tile, and the result is transposed back; its cost does not grow with Size.</item>
/// </list>
/// Both run on ParallelUnits: units are pieces of planes (inner &gt; 1) or ranges of whole tiles (inner == 1), fixed by
/// the shape, with per-worker scratch; there is no cross-unit reduction, so any thread count gives the same bits.
/// </summary>
internal static class LrnEmitter
{
    private const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";
    private const string Marshal = "global::System.Runtime.InteropServices.MemoryMarshal";
    private const string Checks = "global::NormKernels.Runtime.Checks";
    private const string KernelPath = Shared.KernelPath;
    private const string Ops = Shared.Ops;
    private const string WorkerScratch = "global::NormKernels.Runtime.WorkerScratch";
    private const string Units = "global::NormKernels.Runtime.ParallelUnits";
    private const string Body = "global::NormKernels.Runtime.IParallelBody";
    private const string Pinned = "global::NormKernels.Runtime.PinnedSpans";
    private const string Tiles = "global::NormKernels.Runtime.LrnTiles";

    /// <summary>Units a plane-major (inner &gt; 1) call aims for when there are few planes (pieces of planes fill the gap).</summary>
    public const int UnitsWanted = 16;

    /// <summary>Channels-last: the fewest tiles per unit (range of positions).</summary>
    public const int TilesPerUnit = 4;

    /// <summary>Channels-last forward: the largest window summed directly per row (Size loads per vector) instead of through transposed tiles.</summary>
    public const int RowsMaxSize = 9;

    private static string Workers(string units) => "global::NormKernels.Parallelism.Workers(input.Length, " + units + ")";

    /// <summary>Positions per transposed tile on the channels-last path.</summary>
    public const int TileWidth = 64;

    /// <summary>The fewest positions per tile: one 512-bit vector of floats.</summary>
    public const int MinTile = 16;

    /// <summary>Lanes per chunk of the forward kernel (running sums of a chunk live in a 2 KB double buffer); LrnRuns.ChunkWidth.</summary>
    public const int ChunkWidth = 256;

    public static string Emit(LrnSpec spec)
    {
        var w = new SourceWriter();
        string t = spec.Element;
        string span = "global::System.Span<" + t + ">", roSpan = "global::System.ReadOnlySpan<" + t + ">";
        string tensor = "global::System.Numerics.Tensors.TensorSpan<" + t + ">", roTensor = "global::System.Numerics.Tensors.ReadOnlyTensorSpan<" + t + ">";
        string[] dimNames = spec.Layout.Select(l => char.ToLowerInvariant(l).ToString()).ToArray();
        string dimParams = string.Join(", ", dimNames.Select(d => "int " + d));
        string dimArgs = string.Join(", ", dimNames);
        string dimsText = Literals.String(dimArgs);
        int ca = spec.ChannelAxis;
        string outerExpr = Product(dimNames.Take(ca)), innerExpr = Product(dimNames.Skip(ca + 1));
        string channelDim = dimNames[ca];
        string fromArray = string.Join(", ", spec.Layout.Select((_, i) => "dims[" + Literals.Int(i) + "]"));

        var closers = Shared.Open(w, spec.FullName, spec.Namespace, spec.Containers);

        w.Line("/// <remarks>");
        w.Line("/// Generated local response normalization (PyTorch's local_response_norm): layout " + spec.Layout + ", window " + Literals.Int(spec.Size) +
               " channels (" + Literals.Int(spec.Before) + " before, " + Literals.Int(spec.After) + " after), alpha " + Literals.Double(spec.Alpha) +
               ", beta " + Literals.Double(spec.Beta) + ", k " + Literals.Double(spec.K) + ", " + t + " elements.");
        w.Line("/// <para>y_c = x_c * D_c^-beta with D_c = k + alpha / size * (sum of x_j^2 over the window, zero padded). The tensor is [outer, C, inner] with outer = " +
               (ca == 0 ? "1" : string.Join("*", dimNames.Take(ca))) + " and inner = " + (ca == dimNames.Length - 1 ? "1" : string.Join("*", dimNames.Skip(ca + 1))) + ".</para>");
        w.Line("/// <para>Column kernel: one vector of positions slides across C; the window's sum of squares is a running sum in double" +
               (spec.IsDouble ? "" : " (float lanes widened into two double vectors)") + ", adding the entering channel's square and subtracting the leaving one's.</para>");
        w.Line("/// <para>Loops: inner &gt; 1: planes are contiguous; Forward slides chunks of up to " + Literals.Int(ChunkWidth) + " positions across C (running sums in a double buffer), Backward one vector column at a time (last chunk or column overlapped). " +
               "inner == 1 (C innermost): " + (spec.Size <= RowsMaxSize ? "Forward, when C fills a vector, sums each position's window directly from a zero-padded row of double squares (" + Literals.Int(spec.Size) + " shifted vector loads); otherwise " : "") +
               "tiles of up to " + Literals.Int(TileWidth) + " positions (fewer for many channels) are transposed to [C, tile] in a scratch buffer, run through the same kernels, and transposed back.</para>");
        w.Line("/// <para>Threads: units fixed by the shape (inner &gt; 1: pieces of planes; C innermost: ranges of whole tiles of positions) run through ParallelUnits, each worker with its own scratch; " +
               "positions are independent, so the bits never depend on the thread count. Small tensors stay on the calling thread (Parallelism.MinElementsPerThread per extra thread). " +
               "The layer keeps no state between calls (LastPath aside): Forward, Backward and the static kernels may run from any number of threads at once, on one instance or many.</para>");
        w.Line("/// <para>D^-beta: " + PowerText(spec.Beta) + ". Paths: Vector512, Vector256 (AVX2+FMA), Vector128 (SSE / AdvSimd), scalar; chosen per call by the vectorized extent.</para>");
        w.Line("/// </remarks>");
        Shared.Marks(w, spec.Marks);
        using (w.Block("partial class " + spec.TypeName))
        {
            w.Line("private const int TileWidth = " + Literals.Int(TileWidth) + ";");
            w.Line("private const int ChunkWidth = " + Literals.Int(ChunkWidth) + ";");
            w.Line();
            w.Line("/// <summary>The window and its constants, the type argument of the shared runs (LrnRuns).</summary>");
            using (w.Block("private readonly struct Window : global::NormKernels.Runtime.ILrnWindow"))
            {
                w.Line("public static int Before => " + Literals.Int(spec.Before) + ";");
                w.Line("public static int After => " + Literals.Int(spec.After) + ";");
                w.Line("public static double Scale => " + Literals.Double(spec.Alpha / spec.Size) + "; // alpha / size");
                w.Line("public static double K => " + Literals.Double(spec.K) + ";");
                w.Line("public static double Beta => " + Literals.Double(spec.Beta) + ";");
                w.Line("public static double GradientScale => " + Literals.Double(2 * spec.Alpha * spec.Beta / spec.Size) + "; // 2 * alpha * beta / size");
            }
            w.Line();
            w.Line("/// <summary>Creates the layer; it has no parameters.</summary>");
            w.Line("public " + spec.TypeName + "() { }");
            w.Line();
            w.Line("/// <summary>The window size: channels summed per output.</summary>");
            w.Line("public int Size => " + Literals.Int(spec.Size) + ";");
            w.Line("/// <summary>Scale of the sum of squares, divided by Size.</summary>");
            w.Line("public double Alpha => " + Literals.Double(spec.Alpha) + ";");
            w.Line("/// <summary>Exponent of the divisor.</summary>");
            w.Line("public double Beta => " + Literals.Double(spec.Beta) + ";");
            w.Line("/// <summary>Additive constant of the divisor.</summary>");
            w.Line("public double K => " + Literals.Double(spec.K) + ";");
            w.Line("/// <summary>The instruction-set path the last Forward or Backward ran on.</summary>");
            w.Line("public " + KernelPath + " LastPath { get; private set; }");
            w.Line();

            // ---- instance surface ----
            w.Line("/// <summary>Normalizes <paramref name=\"input\"/> (" + spec.Layout + ", dims in layout order) into <paramref name=\"output\"/>, which must not overlap it.</summary>");
            using (w.Block("public void Forward(" + roSpan + " input, " + span + " output, " + dimParams + ")"))
                w.Line("LastPath = ForwardKernel(input, output, " + dimArgs + ");");
            w.Line();
            w.Line("/// <summary>Writes to <paramref name=\"inputGrad\"/> the gradient of the loss with respect to <paramref name=\"input\"/>, given the gradient with respect to Forward's output. No state is kept between calls: pass the same input Forward saw.</summary>");
            using (w.Block("public void Backward(" + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ")"))
                w.Line("LastPath = BackwardKernel(input, outputGrad, inputGrad, " + dimArgs + ");");
            w.Line();
            w.Line("/// <summary>Forward on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); <paramref name=\"output\"/> of the same shape.</summary>");
            using (w.Block("public void Forward(" + roTensor + " input, " + tensor + " output)"))
            {
                Shared.TensorPrologue(w, spec.Layout, ("input", roSpan), ("output", span));
                w.Line("Forward(inputSpan, outputSpan, " + fromArray + ");");
            }
            w.Line();
            w.Line("/// <summary>Backward on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); gradients of the same shape.</summary>");
            using (w.Block("public void Backward(" + roTensor + " input, " + roTensor + " outputGrad, " + tensor + " inputGrad)"))
            {
                Shared.TensorPrologue(w, spec.Layout, ("input", roSpan), ("outputGrad", roSpan), ("inputGrad", span));
                w.Line("Backward(inputSpan, outputGradSpan, inputGradSpan, " + fromArray + ");");
            }
            w.Line();

            // ---- static kernels ----
            using (w.Block("private static void CheckDims(" + dimParams + ", int length, string name)"))
            {
                foreach (string d in dimNames) w.Line(Checks + ".Positive(" + d + ", nameof(" + d + "));");
                w.Line("int count = " + DimProducts.Checked(dimNames, dimArgs) + ";");
                w.Line(Checks + ".Length(length, count, name, " + dimsText + ");");
            }
            w.Line();
            w.Line("/// <summary>The widest path whose vector fits the extent the column kernel vectorizes: inner, or the tile of positions when C is innermost.</summary>");
            w.Line("private static " + KernelPath + " ChoosePath(int outer, int inner) => global::NormKernels.Isa.Select<" + t + ">(inner == 1 ? global::System.Math.Min(outer, " + Literals.Int(MinTile) + ") : inner);");
            w.Line();
            w.Line("/// <summary>Forward on caller-owned buffers (" + spec.Layout + ", dims in layout order; output must not overlap input). Returns the path that ran.</summary>");
            using (w.Block("public static " + KernelPath + " ForwardKernel(" + roSpan + " input, " + span + " output, " + dimParams + ")"))
            {
                ForwardChecks(w, dimArgs);
                w.Line(KernelPath + " path = ChoosePath(" + outerExpr + ", " + innerExpr + ");");
                Shared.ReturnWithOps(w, "ForwardCore", "path, input, output, " + outerExpr + ", " + channelDim + ", " + innerExpr);
            }
            w.Line();
            w.Line("/// <summary>Backward on caller-owned buffers: <paramref name=\"inputGrad\"/> (which must not overlap the inputs) from <paramref name=\"input\"/> and <paramref name=\"outputGrad\"/>. Returns the path that ran.</summary>");
            using (w.Block("public static " + KernelPath + " BackwardKernel(" + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ")"))
            {
                BackwardChecks(w, dimArgs);
                w.Line(KernelPath + " path = ChoosePath(" + outerExpr + ", " + innerExpr + ");");
                Shared.ReturnWithOps(w, "BackwardCore", "path, input, outputGrad, inputGrad, " + outerExpr + ", " + channelDim + ", " + innerExpr);
            }
            w.Line();
            w.Line("/// <summary>As ForwardKernel, on a forced path with a given 128-bit ops type (tests run the ARM64 path's logic on x86 this way).</summary>");
            using (w.Block("internal static " + KernelPath + " ForwardOnPath<TOps>(" + KernelPath + " path, " + roSpan + " input, " + span + " output, " + dimParams + ") where TOps : struct, " + Ops))
            {
                ForwardChecks(w, dimArgs);
                w.Line(Checks + ".PathAvailable(path, ChoosePath(" + outerExpr + ", " + innerExpr + "), nameof(path));");
                w.Line("return ForwardCore<TOps>(path, input, output, " + outerExpr + ", " + channelDim + ", " + innerExpr + ");");
            }
            w.Line();
            w.Line("/// <summary>As BackwardKernel, on a forced path with a given 128-bit ops type.</summary>");
            using (w.Block("internal static " + KernelPath + " BackwardOnPath<TOps>(" + KernelPath + " path, " + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ") where TOps : struct, " + Ops))
            {
                BackwardChecks(w, dimArgs);
                w.Line(Checks + ".PathAvailable(path, ChoosePath(" + outerExpr + ", " + innerExpr + "), nameof(path));");
                w.Line("return BackwardCore<TOps>(path, input, outputGrad, inputGrad, " + outerExpr + ", " + channelDim + ", " + innerExpr + ");");
            }
            w.Line();

            EmitCores(w, spec);
        }
        Shared.Close(closers);
        return w.ToString();
    }

    private static string Product(IEnumerable<string> factors)
    {
        var list = factors.ToList();
        return list.Count == 0 ? "1" : "(" + string.Join(" * ", list) + ")";
    }

    private static string PowerText(double beta) =>
        beta == 0 ? "beta = 0, the divisor is 1"
        : beta == 0.5 ? "1 / sqrt(D)"
        : beta == 0.75 ? "1 / (sqrt(D) * sqrt(sqrt(D))) (beta = 0.75 fast path)"
        : beta == 1 ? "1 / D"
        : "exp(-beta * log(D)) (vector Exp and Log)";

    private static void ForwardChecks(SourceWriter w, string dimArgs)
    {
        w.Line("CheckDims(" + dimArgs + ", input.Length, nameof(input));");
        w.Line("CheckDims(" + dimArgs + ", output.Length, nameof(output));");
        w.Line(Checks + ".Disjoint(input, output, nameof(output), nameof(input));");
    }

    private static void BackwardChecks(SourceWriter w, string dimArgs)
    {
        w.Line("CheckDims(" + dimArgs + ", input.Length, nameof(input));");
        w.Line("CheckDims(" + dimArgs + ", outputGrad.Length, nameof(outputGrad));");
        w.Line("CheckDims(" + dimArgs + ", inputGrad.Length, nameof(inputGrad));");
        w.Line(Checks + ".Disjoint(input, inputGrad, nameof(inputGrad), nameof(input));");
        w.Line(Checks + ".Disjoint(outputGrad, inputGrad, nameof(inputGrad), nameof(outputGrad));");
    }

    /// <summary>The drivers: planes (inner &gt; 1) or transposed tiles (inner == 1), then a switch to the path's column kernel.</summary>
    private static void EmitCores(SourceWriter w, LrnSpec spec)
    {
        string t = spec.Element;
        string span = "global::System.Span<" + t + ">", roSpan = "global::System.ReadOnlySpan<" + t + ">";
        var isas = VectorIsa.For(t);
        string constraint = " where TOps : struct, " + Ops;
        bool rows = spec.Size <= RowsMaxSize;

        // Units fixed by the shape (never by the thread count): inner > 1, pieces of each plane's positions; inner == 1,
        // ranges of positions, each a whole number of tiles or more. Positions are independent (no cross-unit reduction),
        // so any assignment of units to threads gives the same bits.
        w.Line("/// <summary>inner &gt; 1: pieces per plane, so that a few planes still give several units; each piece at least one forward chunk (" + Literals.Int(ChunkWidth) + " positions) long.</summary>");
        w.Line("private static int PiecesFor(int outer, int inner) => global::System.Math.Max(1, global::System.Math.Min(inner / ChunkWidth, (" + Literals.Int(UnitsWanted) + " + outer - 1) / outer));");
        w.Line();
        w.Line("/// <summary>inner == 1: ranges of positions, each at least " + Literals.Int(TilesPerUnit) + " tiles long (so a range never runs short of one tile).</summary>");
        w.Line("private static int RangesFor(int outer, int tile) => global::System.Math.Max(1, outer / (" + Literals.Int(TilesPerUnit) + " * tile));");
        w.Line();

        using (w.Block("private static " + KernelPath + " ForwardCore<TOps>(" + KernelPath + " path, " + roSpan + " input, " + span + " output, int outer, int channels, int inner)" + constraint))
        {
            using (w.Block("if (inner > 1)"))
            {
                w.Line("int pieces = PiecesFor(outer, inner);");
                w.Line("int units = outer * pieces;");
                w.Line(Units + ".For(units, " + Workers("units") + ", new ForwardUnit<TOps>(path, channels, inner, pieces, 0, null), input, output, default, default, default, default);");
                w.Line("return path;");
            }
            w.Line("int tile = global::System.Math.Min(TileFor(channels), outer);");
            w.Line("int ranges = RangesFor(outer, tile);");
            w.Line("int workers = " + Workers("ranges") + ";");
            if (rows)
            {
                w.Line("// Rows: at least one vector of channels, the window summed directly from a zero-padded row of squares (Before + channels + After doubles).");
                w.Line("bool rows = channels >= RowWidth(path);");
                w.Line("int scratchLength = rows ? " + Literals.Int(spec.IsDouble ? 1 : 2) + " * (channels + " + Literals.Int(spec.Size - 1) + ") : 2 * channels * tile;");
            }
            else
            {
                w.Line("const bool rows = false;");
                w.Line("int scratchLength = 2 * channels * tile;");
            }
            w.Line(WorkerScratch + "<" + t + "> workerScratch = " + WorkerScratch + "<" + t + ">.Rent(workers, 0, scratchLength);");
            w.Line(t + "[][] scratch = workerScratch.Elements;");
            using (w.Block("try"))
                w.Line(Units + ".For(ranges, workers, new ForwardUnit<TOps>(path, channels, outer, ranges, rows ? 0 : tile, scratch), input, output, default, default, default, default);");
            using (w.Block("finally"))
                w.Line("workerScratch.Return();");
            w.Line("return path;");
        }
        w.Line();

        // Forward unit: (channels, extent, parts, tile, scratch): inner > 1 (no scratch): extent = inner, parts = pieces per
        // plane; inner == 1: extent = outer, parts = ranges, tile 0 for the rows kernel.
        using (w.Block("private readonly struct ForwardUnit<TOps> : " + Body + constraint))
        {
            UnitFields(w, "ForwardUnit", t + "[][]?");
            using (w.Block("public void Run(int worker, int unit, in " + Pinned + " spans)"))
            {
                w.Line("ref " + t + " x = ref " + Units + ".At<" + t + ">(spans.S0);");
                w.Line("ref " + t + " y = ref " + Units + ".At<" + t + ">(spans.S1);");
                w.Line("int channels = _channels;");
                using (w.Block("if (_scratch is null)"))
                {
                    w.Line("// Piece p of plane o: positions [from, to) of channel c at (o * channels + c) * inner + from.");
                    PieceOfPlane(w);
                    w.Line("ForwardColumns<TOps>(_path, ref " + Unsafe + ".Add(ref x, at), ref " + Unsafe + ".Add(ref y, at), channels, inner, to - from);");
                    w.Line("return;");
                }
                w.Line("// C innermost: positions [begin, end).");
                w.Line("int begin = (int)((long)_extent * unit / _parts), end = (int)((long)_extent * (unit + 1) / _parts);");
                if (rows)
                {
                    using (w.Block("if (_tile == 0)"))
                    {
                        w.Line("ForwardRows<TOps>(_path, ref " + Unsafe + ".Add(ref x, (nint)begin * channels), ref " + Unsafe + ".Add(ref y, (nint)begin * channels), channels, end - begin, ref " +
                               Unsafe + ".As<" + t + ", double>(ref " + Marshal + ".GetArrayDataReference(_scratch[worker])));");
                        w.Line("return;");
                    }
                }
                w.Line("// Tiles transposed to [C, tile], run through the columns, transposed back. The last tile overlaps its neighbour.");
                w.Line("int tile = _tile;");
                w.Line("ref " + t + " tileX = ref " + Marshal + ".GetArrayDataReference(_scratch[worker]);");
                w.Line("ref " + t + " tileY = ref " + Unsafe + ".Add(ref tileX, channels * tile);");
                TileLoop(w, new[] { ("x", "tileX") }, "ForwardColumns<TOps>(_path, ref tileX, ref tileY, channels, tile, tile);", ("tileY", "y"));
            }
        }
        w.Line();

        using (w.Block("private static " + KernelPath + " BackwardCore<TOps>(" + KernelPath + " path, " + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, int outer, int channels, int inner)" + constraint))
        {
            w.Line("// Per worker: per column, D^-beta and dy * x * D^(-beta-1) of every channel (2 * channels vectors of at most 16 lanes), then (C innermost) three tiles.");
            w.Line("int columnScratch = 2 * channels * 16;");
            w.Line("int tile = inner > 1 ? 0 : global::System.Math.Min(TileFor(channels), outer);");
            w.Line("int parts = inner > 1 ? PiecesFor(outer, inner) : RangesFor(outer, tile);");
            w.Line("int units = inner > 1 ? outer * parts : parts;");
            w.Line("int workers = " + Workers("units") + ";");
            w.Line(WorkerScratch + "<" + t + "> workerScratch = " + WorkerScratch + "<" + t + ">.Rent(workers, 0, columnScratch + 3 * channels * tile);");
            w.Line(t + "[][] scratch = workerScratch.Elements;");
            using (w.Block("try"))
                w.Line(Units + ".For(units, workers, new BackwardUnit<TOps>(path, channels, inner > 1 ? inner : outer, parts, tile, scratch), input, inputGrad, outputGrad, default, default, default);");
            using (w.Block("finally"))
                w.Line("workerScratch.Return();");
            w.Line("return path;");
        }
        w.Line();

        using (w.Block("private readonly struct BackwardUnit<TOps> : " + Body + constraint))
        {
            UnitFields(w, "BackwardUnit", t + "[][]");
            using (w.Block("public void Run(int worker, int unit, in " + Pinned + " spans)"))
            {
                w.Line("ref " + t + " x = ref " + Units + ".At<" + t + ">(spans.S0);");
                w.Line("ref " + t + " dx = ref " + Units + ".At<" + t + ">(spans.S1);");
                w.Line("ref " + t + " dy = ref " + Units + ".At<" + t + ">(spans.S2);");
                w.Line("int channels = _channels;");
                w.Line("ref " + t + " columns = ref " + Marshal + ".GetArrayDataReference(_scratch[worker]);");
                using (w.Block("if (_tile == 0)"))
                {
                    PieceOfPlane(w);
                    w.Line("BackwardColumns<TOps>(_path, ref " + Unsafe + ".Add(ref x, at), ref " + Unsafe + ".Add(ref dy, at), ref " + Unsafe + ".Add(ref dx, at), channels, inner, to - from, ref columns);");
                    w.Line("return;");
                }
                w.Line("int tile = _tile;");
                w.Line("int begin = (int)((long)_extent * unit / _parts), end = (int)((long)_extent * (unit + 1) / _parts);");
                w.Line("ref " + t + " tileX = ref " + Unsafe + ".Add(ref columns, 2 * channels * 16);");
                w.Line("ref " + t + " tileDy = ref " + Unsafe + ".Add(ref tileX, channels * tile);");
                w.Line("ref " + t + " tileDx = ref " + Unsafe + ".Add(ref tileDy, channels * tile);");
                TileLoop(w, new[] { ("x", "tileX"), ("dy", "tileDy") }, "BackwardColumns<TOps>(_path, ref tileX, ref tileDy, ref tileDx, channels, tile, tile, ref columns);", ("tileDx", "dx"));
            }
        }
        w.Line();

        w.Line("/// <summary>Positions per tile: up to " + Literals.Int(TileWidth) + ", fewer for many channels so that a [channels, tile] tile stays within 32 KB; at least " + Literals.Int(MinTile) + ".</summary>");
        w.Line("private static int TileFor(int channels) => global::System.Math.Max(" + Literals.Int(MinTile) + ", global::System.Math.Min(TileWidth, " + Literals.Int(8192 / MinTile) + " / channels * " + Literals.Int(MinTile) + "));");
        w.Line();
        if (rows)
        {
            w.Line("/// <summary>Elements per vector of a path (the rows kernel needs at least one vector of channels).</summary>");
            w.Line("private static int RowWidth(" + KernelPath + " path) => path switch");
            w.Line("{");
            foreach (VectorIsa isa in isas)
                if (!isa.IsScalar) w.Line("    " + KernelPath + "." + isa.Path + " => " + Literals.Int(isa.Width) + ",");
            w.Line("    _ => 1,");
            w.Line("};");
            w.Line();
            using (w.Block("private static void ForwardRows<TOps>(" + KernelPath + " path, ref " + t + " x, ref " + t + " y, int channels, int count, ref double squares)" + constraint))
                Shared.PathSwitch(w, isas, isa => Runs(isa) + ".ForwardRows<Window>(ref x, ref y, channels, count, ref squares)");
            w.Line();
        }

        foreach (bool backward in new[] { false, true })
        {
            string name = backward ? "BackwardColumns" : "ForwardColumns";
            string refs = backward ? "ref " + t + " x, ref " + t + " dy, ref " + t + " dx" : "ref " + t + " x, ref " + t + " y";
            string args = backward ? "ref x, ref dy, ref dx, channels, stride, length, ref scratch" : "ref x, ref y, channels, stride, length";
            if (backward) w.Line();
            using (w.Block("private static void " + name + "<TOps>(" + KernelPath + " path, " + refs + ", int channels, int stride, int length" + (backward ? ", ref " + t + " scratch" : "") + ")" + constraint))
                Shared.PathSwitch(w, isas, isa => Runs(isa) + "." + name + "<Window>(" + args + ")");
        }
    }

    /// <summary>A unit's fields and constructor: the path, the shape of its work (channels, extent, parts, tile) and the per-worker scratch.</summary>
    private static void UnitFields(SourceWriter w, string name, string scratchType)
    {
        w.Line("private readonly " + KernelPath + " _path;");
        w.Line("private readonly int _channels, _extent, _parts, _tile;");
        w.Line("private readonly " + scratchType + " _scratch;");
        w.Line();
        using (w.Block("public " + name + "(" + KernelPath + " path, int channels, int extent, int parts, int tile, " + scratchType + " scratch)"))
            w.Line("_path = path; _channels = channels; _extent = extent; _parts = parts; _tile = tile; _scratch = scratch;");
        w.Line();
    }

    /// <summary>inner &gt; 1: the unit is piece p of plane o, positions [from, to); its channel 0 is at <c>at</c>.</summary>
    private static void PieceOfPlane(SourceWriter w)
    {
        w.Line("int inner = _extent, o = unit / _parts, p = unit % _parts;");
        w.Line("int from = (int)((long)inner * p / _parts), to = (int)((long)inner * (p + 1) / _parts);");
        w.Line("nint at = (nint)o * channels * inner + from;");
    }

    /// <summary>C innermost: the tiles of positions [begin, end) (the last one overlapping its neighbour), gathered to [C, tile], run, scattered back.</summary>
    private static void TileLoop(SourceWriter w, (string Source, string Tile)[] gathers, string run, (string Tile, string Destination) scatter)
    {
        using (w.Block("for (int first = begin; ; first += tile)"))
        {
            w.Line("if (first > end - tile) first = end - tile;");
            foreach (var (source, tile) in gathers)
                w.Line(Tiles + ".Gather(ref " + source + ", ref " + tile + ", channels, first, tile);");
            w.Line(run);
            w.Line(Tiles + ".Scatter(ref " + scatter.Tile + ", ref " + scatter.Destination + ", channels, first, tile);");
            w.Line("if (first == end - tile) break;");
        }
    }

    /// <summary>The shared runs (LrnRuns) instantiated for a path.</summary>
    private static string Runs(VectorIsa isa) => "global::NormKernels.Runtime.LrnRuns<" + isa.SimdType + ", " + isa.Vec + ", " + isa.Element + ">";
}
