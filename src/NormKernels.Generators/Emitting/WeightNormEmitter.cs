using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// Writes the generated half of a <c>[WeightNormalize]</c> layer: its surface (Forward, Backward, their tensor overloads,
/// NormCount, LastPath), each a one-line forwarder to the runtime's <c>WeightNormKernels&lt;Nest, T&gt;</c>, and the
/// layout's index facts (<c>Nest</c>: the layout and the mask of its reduced letters). The loops, the checks and the path
/// choice are the runtime's, shared by every layer.
/// </summary>
internal static class WeightNormEmitter
{
    public static string Emit(WeightNormSpec spec, bool hooks = false)
    {
        var w = new SourceWriter();
        string t = spec.Element, kernelPath = Shared.KernelPath;
        string[] dimNames = spec.Layout.Select(LayoutGrammar.WeightNormDimName).ToArray();
        var (span, roSpan, tensor, roTensor, dimParams, dims) = Shared.Signatures(t, dimNames);
        string reduced = string.Join(", ", spec.Reduced.Select(c => c.ToString()));
        string kept = string.Join(", ", spec.Kept.Select(c => c.ToString()));
        string keptDims = string.Join(" * ", spec.Layout.Where(c => spec.Reduced.IndexOf(c) < 0).Select(LayoutGrammar.WeightNormDimName));

        var closers = Shared.Open(w, spec.Name);
        w.Line("/// <remarks>");
        w.Line("/// Generated weight normalization (Salimans &amp; Kingma 2016; PyTorch's torch._weight_norm): layout " + spec.Layout + ", the norm over " +
               reduced + ", one norm and one g per index of " + kept + ", " + t + " elements.");
        w.Line("/// <para>w = g * v / ||v||, with ||v|| the Euclidean norm of v over " + reduced + " (its sum of squares in double). No epsilon, as in PyTorch: " +
               "a slice of v whose norm is zero gives NaN in every element of its w (and of its vGrad and gGrad).</para>");
        w.Line("/// <para>Loops (dims above 1): " + Form(spec) + " Paths: Vector512, Vector256 (AVX2+FMA), Vector128 (SSE / AdvSimd), scalar; " +
               "chosen per call by the innermost extent.</para>");
        w.Line("/// <para>Threads: units fixed by the shape run through ParallelUnits; each norm is summed in one unit, in one order, so the bits never " +
               "depend on the thread count. The layer keeps no state between calls (LastPath aside): Forward and Backward may run from any number " +
               "of threads at once, on one instance or many.</para>");
        w.Line("/// </remarks>");
        string[] facts =
        {
            "public static string Layout => " + Literals.String(spec.Layout) + ";",
            "public static int Reduced => " + Literals.Int(spec.ReducedMask) + "; // " + (reduced.Length > 0 ? reduced : "none"),
        };
        using (Shared.OpenLayer(w, spec.Name,
            ("The layout's index facts: the type argument of the shared kernels (WeightNormKernels).", "private readonly struct Nest : global::NormKernels.Runtime.IWeightNormLayer", facts),
            ("The kernels: the runtime's, on this layer's layout.", "global::NormKernels.Runtime.WeightNormKernels<Nest, " + t + ">"),
            "Creates the layer; it has no parameters of its own (v and g are the caller's)."))
        {
            w.Line();
            w.Line("/// <summary>The instruction-set path the last Forward or Backward ran on.</summary>");
            w.Line("public " + kernelPath + " LastPath { get; private set; }");
            w.Line();
            string shapes = "v (" + spec.Layout + ", dims " + string.Join(", ", dimNames) + " in layout order, dense row-major) and g (" +
                            (keptDims.Length > 0 ? keptDims : "1") + " entries, " + kept + " row-major: PyTorch's g flattened)";
            w.Line("/// <summary>The number of norms for these dims: the length of g and gGrad, " + (keptDims.Length > 0 ? keptDims : "1") + ".</summary>");
            w.Line("public static int NormCount(" + dimParams + ") => Kernels.NormCount(" + dims + ");");
            w.Line();
            w.Line("/// <summary>Writes <paramref name=\"w\"/> = g * v / ||v|| from " + shapes + ". <paramref name=\"w\"/> has v's shape; it may be v itself " +
                   "(in place) but no part of it, and must not overlap g. Every argument is checked before anything is written.</summary>");
            w.Line("public void Forward(" + roSpan + " v, " + roSpan + " g, " + span + " w, " + dimParams + ") => LastPath = Kernels.Forward(v, g, w, " + dims + ");");
            w.Line("/// <summary>Writes (does not accumulate) the gradients of the loss with respect to v and g, given <paramref name=\"wGrad\"/>, its gradient with " +
                   "respect to Forward's w: gGrad = sum(wGrad * v) / ||v|| per norm, vGrad = g / ||v|| * (wGrad - v * sum(wGrad * v) / ||v||^2). Shapes as " +
                   "Forward's; <paramref name=\"vGrad\"/> may be v or wGrad itself (in place) but no part of them, <paramref name=\"gGrad\"/> overlaps nothing. " +
                   "No state is kept between calls: pass the v and g Forward saw.</summary>");
            w.Line("public void Backward(" + roSpan + " v, " + roSpan + " g, " + roSpan + " wGrad, " + span + " vGrad, " + span + " gGrad, " + dimParams + ") =>");
            w.Line("    LastPath = Kernels.Backward(v, g, wGrad, vGrad, gGrad, " + dims + ");");
            w.Line("/// <summary>Forward on tensors: dims from <paramref name=\"v\"/>'s lengths (" + spec.Layout + ", dense row-major); <paramref name=\"g\"/> of " +
                   "PyTorch's shape (v's, with 1 on " + reduced + "); <paramref name=\"w\"/> of v's shape.</summary>");
            w.Line("public void Forward(" + roTensor + " v, " + roTensor + " g, " + tensor + " w) => LastPath = Kernels.Forward(v, g, w);");
            w.Line("/// <summary>Backward on tensors: dims from <paramref name=\"v\"/>'s lengths; wGrad and vGrad of v's shape, g and gGrad of PyTorch's shape.</summary>");
            w.Line("public void Backward(" + roTensor + " v, " + roTensor + " g, " + roTensor + " wGrad, " + tensor + " vGrad, " + tensor + " gGrad) =>");
            w.Line("    LastPath = Kernels.Backward(v, g, wGrad, vGrad, gGrad);");
            if (hooks)
            {
                w.Line();
                w.Line("/// <summary>As Forward, on a forced path with a given 128-bit ops type (tests run the ARM64 path's logic on x86 this way).</summary>");
                w.Line("internal static " + kernelPath + " ForwardOnPath<TOps>(" + kernelPath + " path, " + roSpan + " v, " + roSpan + " g, " + span + " w, " +
                       dimParams + ") where TOps : struct, " + Shared.Ops + " =>");
                w.Line("    Kernels.Forward<TOps>(path, v, g, w, " + dims + ");");
                w.Line("/// <summary>As Backward, on a forced path with a given 128-bit ops type.</summary>");
                w.Line("internal static " + kernelPath + " BackwardOnPath<TOps>(" + kernelPath + " path, " + roSpan + " v, " + roSpan + " g, " + roSpan + " wGrad, " +
                       span + " vGrad, " + span + " gGrad, " + dimParams + ") where TOps : struct, " + Shared.Ops + " =>");
                w.Line("    Kernels.Backward<TOps>(path, v, g, wGrad, vGrad, gGrad, " + dims + ");");
            }
        }
        Shared.Close(closers);
        return w.ToString();
    }

    /// <summary>How the runtime walks this layout when every dim is above 1 (an axis of extent 1 is left out of the walk).</summary>
    private static string Form(WeightNormSpec spec)
    {
        // Neighbouring letters of one class, outermost first: (reduced?, letters).
        var segments = new List<(bool Reduced, string Letters)>();
        foreach (char letter in spec.Layout)
        {
            bool r = spec.Reduced.IndexOf(letter) >= 0;
            if (segments.Count > 0 && segments[segments.Count - 1].Reduced == r)
                segments[segments.Count - 1] = (r, segments[segments.Count - 1].Letters + letter);
            else
                segments.Add((r, letter.ToString()));
        }
        var inner = segments[segments.Count - 1];
        if (inner.Reduced)
        {
            string outer = string.Concat(segments.Take(segments.Count - 1).Where(s => s.Reduced).Select(s => s.Letters));
            return "the reduced axes " + inner.Letters + " are innermost: each norm is " +
                   (outer.Length == 0 ? "one contiguous run" : "a contiguous run per index of " + outer) + ", summed and then scaled while in cache; units are ranges of norms.";
        }
        return "the kept axes " + inner.Letters + " are innermost: each row of " + inner.Letters + " is a row of norms, each norm a column summed down the rows of " +
               string.Concat(segments.Where(s => s.Reduced).Select(s => s.Letters)) + " (one vector of columns at a time, in double), then the rows scaled; units are pieces of rows of norms.";
    }
}
