using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private const string Stats = "global::NormKernels.Runtime.Statistics";
    private const string Pool = "global::System.Buffers.ArrayPool";


    /// <summary>
    /// The forward drivers are the runtime's <c>Forward&lt;Nest, Kind, T&gt;</c>, shared by every layer; these forwarders
    /// give them this layer's nest (see <see cref="EmitNestStruct"/>).
    /// </summary>
    private static void EmitCores(SourceWriter w, Context ctx)
    {
        string stats = ctx.SpanT + " stat0, " + ctx.SpanT + " stat1, " + ctx.T + " epsilon, " + ctx.T + "[]? meanResidual";
        string common = ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " beta";
        string args = "(path, " + NewNest(ctx) + ", input, output, gamma, beta, stat0, stat1, epsilon, meanResidual);";
        string driver = ForwardDriver(ctx);
        w.Line("private static " + KernelPath + " RunTraining(" + KernelPath + " path, " + common + ", " + stats + ") =>");
        w.Line("    " + driver + ".Training" + args);
        w.Line("private static " + KernelPath + " TrainingCore<TOps>(" + KernelPath + " path, " + common + ", " + stats + ") where TOps : struct, " + Ops + " =>");
        w.Line("    " + driver + ".Training<TOps>" + args);
        if (ctx.Plan.BatchReduced)
        {
            string running = ctx.ReadOnlySpanT + " stat0, " + ctx.ReadOnlySpanT + " stat1, " + ctx.T + " epsilon, " + ctx.T + "[]? meanResidual";
            w.Line("private static " + KernelPath + " RunInference(" + KernelPath + " path, " + common + ", " + running + ") =>");
            w.Line("    " + driver + ".Inference" + args);
            w.Line("private static " + KernelPath + " InferenceCore<TOps>(" + KernelPath + " path, " + common + ", " + running + ") where TOps : struct, " + Ops + " =>");
            w.Line("    " + driver + ".Inference<TOps>" + args);
        }
        w.Line();
    }

    /// <summary>
    /// Decomposes the block number <paramref name="block"/> into its index along each block axis (<c>b_*</c> locals,
    /// innermost fastest) and returns the block's offsets in memory, in the statistics and in the parameters.
    /// </summary>
    private static (string Memory, string Statistic, string Parameter) EmitBlockIndex(SourceWriter w, Context ctx, string block)
    {
        w.Line("// The block: its index along each block axis, innermost fastest.");
        w.Line("nint rest = " + block + ";");
        var x = new List<string>();
        var s = new List<string>();
        var p = new List<string>();
        var blockIndices = ctx.BlockIndices;
        for (int k = blockIndices.Count - 1; k >= 0; k--)
        {
            int i = blockIndices[k];
            var axis = ctx.Axes[i];
            w.Line("nint b_" + axis.Name + " = rest % e_" + axis.Name + ";");
            if (k > 0) w.Line("rest /= e_" + axis.Name + ";");
            x.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.Memory));
            s.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.Kept));
            if (axis.Param) p.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.ParamAxis));
        }
        string Sum(List<string> terms) => terms.Count == 0 ? "(nint)0" : string.Join(" + ", terms);
        return (Sum(x), Sum(s), Sum(p));
    }

    private static string StatFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.StatSegments[0]);

    private static string ApplyFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.ApplySegments[0]);

    // ---------------------------------------------------------------- shared pieces


}
