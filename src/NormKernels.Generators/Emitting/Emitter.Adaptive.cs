using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

// AdaIN (Huang & Belongie 2017) on InstanceNorm-shaped layers: y = sigma_s * (x - mu_c) / sigma_c + mu_s per (n, c), the
// content's statistics from the content, sigma and mu of the style from a style tensor with the same N and C and its own
// extents along the reduced (spatial) axes. One unit per block: the statistics pass on the content block and on the style
// block, coefficients A = sigma_s * rstd_c, B = mu_s - mu_c * A, then the layer's fused apply y = x * A + B.
internal static partial class Emitter
{
    private static IEnumerable<PlanAxis> StyleAxes(Context ctx) => ctx.Axes.Where(a => a.Reduced);

    private static string StyleDim(PlanAxis a) => "style" + a.Letter;

    private static void EmitAdaptive(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Adaptive) return;
        var spec = ctx.Spec;
        string styleDimParams = string.Join(", ", StyleAxes(ctx).Select(a => "int " + StyleDim(a)));
        string styleDimArgs = string.Join(", ", StyleAxes(ctx).Select(StyleDim));
        string styleExtentArgs = string.Join(", ", ctx.Axes.Select(a => a.Reduced ? "(nint)(" + StyleDim(a) + ")" : "(nint)(" + a.Extent + ")"));
        string styleExtentParams = string.Join(", ", ctx.Axes.Select(a => "nint se_" + a.Name));
        string styleExtents = string.Join(", ", ctx.Axes.Select(a => "se_" + a.Name));
        string dimsText = Literals.String(ctx.DimArgs);
        string styleDimsText = Literals.String(string.Join(", ", ctx.Axes.Select(a => a.Reduced ? StyleDim(a) : a.Name)));
        string spans = ctx.ReadOnlySpanT + " content, " + ctx.ReadOnlySpanT + " style, " + ctx.SpanT + " output, " + ctx.DimParams + ", " + styleDimParams;
        string args = "content, style, output, " + ctx.DimArgs + ", " + styleDimArgs;
        string path = "AdaptivePath(" + ctx.ExtentArgsFromDims + ", " + styleExtentArgs + ")";

        using (w.Block("private static void CheckAdaptive(" + spans + ", " + ctx.T + " epsilon)"))
        {
            foreach (char letter in spec.Layout)
            {
                string d = char.ToLowerInvariant(letter).ToString();
                w.Line(Checks + ".Positive(" + d + ", nameof(" + d + "));");
            }
            foreach (var axis in StyleAxes(ctx)) w.Line(Checks + ".Positive(" + StyleDim(axis) + ", nameof(" + StyleDim(axis) + "));");
            w.Line("int count = " + ctx.CheckedCount + ";");
            w.Line(Checks + ".Length(content.Length, count, nameof(content), " + dimsText + ");");
            w.Line(Checks + ".Length(output.Length, count, nameof(output), " + dimsText + ");");
            w.Line("int styleCount = " + DimProducts.Checked(ctx.Axes.Select(a => a.Reduced ? StyleDim(a) : a.Name),
                string.Join(", ", ctx.Axes.Select(a => a.Reduced ? StyleDim(a) : a.Name))) + ";");
            w.Line(Checks + ".Length(style.Length, styleCount, nameof(style), " + styleDimsText + ");");
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            w.Line(Checks + ".NoPartialOverlap(content, output, nameof(output));");
            w.Line(Checks + ".Disjoint(style, output, nameof(style), nameof(output));");
        }
        w.Line();

        using (w.Block("private static " + KernelPath + " AdaptivePath(" + ctx.ExtentParams + ", " + styleExtentParams + ")"))
        {
            w.Line("// The widest path whose vector fits the content's passes and the style's statistics pass.");
            w.Line(KernelPath + " contentPath = ChoosePath(true, " + ctx.ExtentArgs + ");");
            w.Line(KernelPath + " stylePath = ChoosePath(true, " + styleExtents + ");");
            w.Line("return stylePath < contentPath ? stylePath : contentPath;");
        }
        w.Line();

        string summary = "AdaIN (Huang and Belongie 2017): <c>output = sigma_s * (content - mu_c) / sigma_c + mu_s</c> per (n, c), mu and sigma the mean and " +
                         "<c>sqrt(biased variance + epsilon)</c> of the content's and the style's (n, c) planes. The style has the content's N and C and its own " +
                         string.Join(", ", StyleAxes(ctx).Select(a => a.Letter.ToString())) + " (" + styleDimArgs + "). The layer's Weight and Bias are not used. " +
                         "<paramref name=\"output\"/> may be <paramref name=\"content\"/> (in place); <paramref name=\"style\"/> must not overlap it.";
        w.Line("/// <summary>" + summary + " Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " AdaptiveForward(" + spans + ", " + ctx.T + " epsilon)"))
        {
            w.Line("CheckAdaptive(" + args + ", epsilon);");
            w.Line("return " + ForwardDriver(ctx) + ".Adaptive(" + path + ", new " + NestType + "(" + ctx.ExtentArgsFromDims + "), new " + NestType + "(" + styleExtentArgs +
                   "), content, style, output, epsilon);");
        }
        w.Line();
        w.Line("/// <summary>AdaptiveForward with the layer's Epsilon; LastPath tells the path that ran.</summary>");
        using (w.Block("public void AdaptiveForward(" + spans + ")"))
            w.Line("LastPath = AdaptiveForward(" + args + ", _epsilon);");
        w.Line();
        w.Line("/// <summary>AdaptiveForward on tensors (" + spec.Layout + ", dense row-major): the style must have the content's " +
               string.Join(" and ", ctx.Axes.Where(a => !a.Reduced).Select(a => a.Letter.ToString())) + "; output the content's shape.</summary>");
        using (w.Block("public static " + KernelPath + " AdaptiveForward(" + ctx.ReadOnlyTensorT + " content, " + ctx.ReadOnlyTensorT + " style, " + ctx.TensorT + " output, " + ctx.T + " epsilon)"))
        {
            string layout = Literals.String(spec.Layout), rank = Literals.Int(spec.Layout.Length);
            w.Line("global::System.Span<int> dims = stackalloc int[" + rank + "];");
            w.Line("global::System.Span<int> styleDims = stackalloc int[" + rank + "];");
            w.Line("global::System.Span<int> outputDims = stackalloc int[" + rank + "];");
            w.Line(ctx.ReadOnlySpanT + " contentSpan = " + TensorArgs + ".Dense(in content, " + layout + ", nameof(content), dims);");
            w.Line(ctx.ReadOnlySpanT + " styleSpan = " + TensorArgs + ".Dense(in style, " + layout + ", nameof(style), styleDims);");
            w.Line(ctx.SpanT + " outputSpan = " + TensorArgs + ".Dense(in output, " + layout + ", nameof(output), outputDims);");
            w.Line(TensorArgs + ".SameShape(dims, outputDims, nameof(output), " + layout + ");");
            for (int i = 0; i < spec.Layout.Length; i++)
                if (!ctx.Axes[i].Reduced)
                    w.Line(Checks + ".SameDim(styleDims[" + Literals.Int(i) + "], dims[" + Literals.Int(i) + "], nameof(style), '" + spec.Layout[i] + "', nameof(content));");
            w.Line("return AdaptiveForward(contentSpan, styleSpan, outputSpan, " + ctx.DimsFromArray + ", " +
                   string.Join(", ", Enumerable.Range(0, spec.Layout.Length).Where(i => ctx.Axes[i].Reduced).Select(i => "styleDims[" + Literals.Int(i) + "]")) + ", epsilon);");
        }
        w.Line();
        w.Line("/// <summary>As AdaptiveForward, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " AdaptiveForwardOnPath<TOps>(" + KernelPath + " path, " + spans + ", " + ctx.T + " epsilon) where TOps : struct, " + Ops))
        {
            w.Line("CheckAdaptive(" + args + ", epsilon);");
            w.Line(Checks + ".PathAvailable(path, " + path + ", nameof(path));");
            w.Line("return AdaptiveCore<TOps>(path, content, style, output, " + ctx.ExtentArgsFromDims + ", " + styleExtentArgs + ", epsilon);");
        }
        w.Line();

        // The driver is the runtime's, shared by every instance-shaped layer: this layer's nest over the content and over the style.
        w.Line("private static " + KernelPath + " AdaptiveCore<TOps>(" + KernelPath + " path, " + ctx.ReadOnlySpanT + " content, " + ctx.ReadOnlySpanT + " style, " +
               ctx.SpanT + " output, " + ctx.ExtentParams + ", " + styleExtentParams + ", " + ctx.T + " epsilon) where TOps : struct, " + Ops + " =>");
        w.Line("    " + ForwardDriver(ctx) + ".Adaptive<TOps>(path, " + NewNest(ctx) + ", new " + NestType + "(" + styleExtents + "), content, style, output, epsilon);");
        w.Line();
    }
}
