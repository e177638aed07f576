using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// Writes the generated half of a <c>[LocalResponseNormalize]</c> layer. Every layout is the tensor [outer, C, inner]
/// (outer: the axes before C, inner: the axes after it, the stride between neighbouring channels). The runs are shared,
/// in the runtime (LrnRuns&lt;TS, TV, T&gt;, once per path struct, with the layer's Window struct as type argument): a
/// column run slides the window across C for a vector (or a chunk of vectors) of positions, keeping the window's sum of
/// squares in double (running add of the entering channel's square, subtract of the leaving one's). The checks, the
/// path choice and the drivers are the runtime's too (LrnKernels&lt;Window, T&gt;); the layer keeps its surface as
/// forwarders and its constants and layout (Window). The drivers switch once per run to the path's instantiation:
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
    private const string KernelPath = Shared.KernelPath;
    private const string Ops = Shared.Ops;

    /// <summary>Channels-last forward: the largest window summed directly per row (Size loads per vector) instead of through transposed tiles.</summary>
    public const int RowsMaxSize = 9;

    /// <summary>Positions per transposed tile on the channels-last path.</summary>
    public const int TileWidth = 64;

    /// <summary>Lanes per chunk of the forward kernel (running sums of a chunk live in a 2 KB double buffer); LrnRuns.ChunkWidth.</summary>
    public const int ChunkWidth = 256;

    public static string Emit(LrnSpec spec, bool hooks = false)
    {
        var w = new SourceWriter();
        bool half = spec.Element == "Half";
        string t = half ? "global::System.Half" : spec.Element;
        string[] dimNames = spec.Layout.Select(l => char.ToLowerInvariant(l).ToString()).ToArray();
        var (span, roSpan, tensor, roTensor, dimParams, dims) = Shared.Signatures(t, dimNames);
        int ca = spec.ChannelAxis;

        var closers = Shared.Open(w, spec.Name);

        w.Line("/// <remarks>");
        w.Line("/// Generated local response normalization (PyTorch's local_response_norm): layout " + spec.Layout + ", window " + Literals.Int(spec.Size) +
               " channels (" + Literals.Int(spec.Before) + " before, " + Literals.Int(spec.After) + " after), alpha " + Literals.Double(spec.Alpha) +
               ", beta " + Literals.Double(spec.Beta) + ", k " + Literals.Double(spec.K) + ", " + (half ? "Half elements (float arithmetic)" : t + " elements") + ".");
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
        string[] window =
        {
            "public static int Before => " + Literals.Int(spec.Before) + ";",
            "public static int After => " + Literals.Int(spec.After) + ";",
            "public static double Scale => " + Literals.Double(spec.Alpha / spec.Size) + "; // alpha / size",
            "public static double K => " + Literals.Double(spec.K) + ";",
            "public static double Beta => " + Literals.Double(spec.Beta) + ";",
            "public static double GradientScale => " + Literals.Double(2 * spec.Alpha * spec.Beta / spec.Size) + "; // 2 * alpha * beta / size",
            "public static string Layout => " + Literals.String(spec.Layout) + ";",
        };
        using (Shared.OpenLayer(w, spec.Name,
            ("The window, its constants and the layout: the type argument of the shared kernels and runs (LrnKernels, LrnRuns).",
                "private readonly struct Window : global::NormKernels.Runtime.ILrnLayer", window),
            ("The kernels: the runtime's, on this layer's window" + (half ? " (Half tensors on the float kernels: widened, run, rounded once)." : "."),
                half ? "global::NormKernels.Runtime.HalfLrnKernels<Window>" : "global::NormKernels.Runtime.LrnKernels<Window, " + t + ">"),
            "Creates the layer; it has no parameters."))
        {
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

            w.Line("/// <summary>Normalizes <paramref name=\"input\"/> (" + spec.Layout + ", dims in layout order) into <paramref name=\"output\"/>, which must not overlap it.</summary>");
            w.Line("public void Forward(" + roSpan + " input, " + span + " output, " + dimParams + ") => LastPath = Kernels.Forward(input, output, " + dims + ");");
            w.Line("/// <summary>Writes to <paramref name=\"inputGrad\"/> the gradient of the loss with respect to <paramref name=\"input\"/>, given the gradient with respect to Forward's output. No state is kept between calls: pass the same input Forward saw.</summary>");
            w.Line("public void Backward(" + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ") => LastPath = Kernels.Backward(input, outputGrad, inputGrad, " + dims + ");");
            w.Line("/// <summary>Forward on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); <paramref name=\"output\"/> of the same shape.</summary>");
            w.Line("public void Forward(" + roTensor + " input, " + tensor + " output) => LastPath = Kernels.Forward(input, output);");
            w.Line("/// <summary>Backward on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); gradients of the same shape.</summary>");
            w.Line("public void Backward(" + roTensor + " input, " + roTensor + " outputGrad, " + tensor + " inputGrad) => LastPath = Kernels.Backward(input, outputGrad, inputGrad);");
            w.Line();
            w.Line("/// <summary>Forward on caller-owned buffers (" + spec.Layout + ", dims in layout order; output must not overlap input). Returns the path that ran.</summary>");
            w.Line("public static " + KernelPath + " ForwardKernel(" + roSpan + " input, " + span + " output, " + dimParams + ") => Kernels.Forward(input, output, " + dims + ");");
            w.Line("/// <summary>Backward on caller-owned buffers: <paramref name=\"inputGrad\"/> (which must not overlap the inputs) from <paramref name=\"input\"/> and <paramref name=\"outputGrad\"/>. Returns the path that ran.</summary>");
            w.Line("public static " + KernelPath + " BackwardKernel(" + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ") =>");
            w.Line("    Kernels.Backward(input, outputGrad, inputGrad, " + dims + ");");
            if (hooks && !half)
            {
                w.Line("/// <summary>As ForwardKernel, on a forced path with a given 128-bit ops type (tests run the ARM64 path's logic on x86 this way).</summary>");
                w.Line("internal static " + KernelPath + " ForwardOnPath<TOps>(" + KernelPath + " path, " + roSpan + " input, " + span + " output, " + dimParams + ") where TOps : struct, " + Ops + " =>");
                w.Line("    Kernels.Forward<TOps>(path, input, output, " + dims + ");");
                w.Line("/// <summary>As BackwardKernel, on a forced path with a given 128-bit ops type.</summary>");
                w.Line("internal static " + KernelPath + " BackwardOnPath<TOps>(" + KernelPath + " path, " + roSpan + " input, " + roSpan + " outputGrad, " + span + " inputGrad, " + dimParams + ") where TOps : struct, " + Ops + " =>");
                w.Line("    Kernels.Backward<TOps>(path, input, outputGrad, inputGrad, " + dims + ");");
            }
        }
        Shared.Close(closers);
        return w.ToString();
    }


    private static string PowerText(double beta) =>
        beta == 0 ? "beta = 0, the divisor is 1"
        : beta == 0.5 ? "1 / sqrt(D)"
        : beta == 0.75 ? "1 / (sqrt(D) * sqrt(sqrt(D))) (beta = 0.75 fast path)"
        : beta == 1 ? "1 / D"
        : "exp(-beta * log(D)) (vector Exp and Log)";







}
