using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{


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
