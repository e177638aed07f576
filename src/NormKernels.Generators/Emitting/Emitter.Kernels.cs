using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private static string I(int value) => Literals.Int(value);

    /// <summary>Loops over the segments [from, to) of a pass, with the strides of each index space.</summary>
    private static List<Loop> SegmentLoops(Context ctx, IList<Segment> segments, int from, int to, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        var loops = new List<Loop>();
        for (int k = from; k < to; k++)
        {
            var seg = segments[k];
            var loop = new Loop("i" + I(k), "len" + I(k), "[" + string.Join(" ", Enumerable.Range(seg.First, seg.Last - seg.First + 1).Select(i => ctx.Axes[i].Name)) + "]=" + seg.ClassText);
            foreach (var (space, member) in spaces)
                if (member(ctx.Axes[seg.Last])) loop.Strides[space] = "st_" + space + I(k);
            loops.Add(loop);
        }
        return loops;
    }

    /// <summary>The first loop of a pass runs over [from0, to0): the chunk of its segment this call covers.</summary>
    private static void Chunk(Loop first)
    {
        first.Start = "from0";
        first.Extent = "to0";
    }

    private static void EmitSegmentLocals(SourceWriter w, Context ctx, IList<Segment> segments, int outer, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        for (int k = 0; k < segments.Count; k++)
        {
            var seg = segments[k];
            // The first segment's loop runs over the chunk [from0, to0): its length is needed only when it is the innermost run.
            if (k > 0 || segments.Count == 1) w.Line("nint len" + I(k) + " = " + ctx.SegmentExtent(seg) + ";");
            foreach (var (space, member) in spaces)
                if (k < outer && member(ctx.Axes[seg.Last])) w.Line("nint st_" + space + I(k) + " = " + ctx.Stride(seg.Last, member) + ";");
        }
    }

    // ---------------------------------------------------------------- statistics

    /// <summary>The statistics pass: the layer's loop nest over one block, a member of the nest struct, generic over the kind and
    /// the path; the contiguous runs it reaches go to the runtime's shared <c>Runs</c> kernels.</summary>
    private static void EmitStatisticsPass(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        var segs = plan.StatSegments.ToList();
        int n = segs.Count;
        string t = ctx.T;
        w.Line("/// <summary>Statistics of one block (or of the chunk [from0, to0) of its first segment): segments " + ctx.Describe(plan.StatSegments) + ".</summary>");
        w.Line(Shared.Hot);
        using (w.Block("public void Statistics<TK, TS, TV>(ref " + t + " x, nint from0, nint to0, ref " + t + " shift, ref double sum, ref double sq)" + KindConstraint + VectorIsa.PathConstraint(t)))
        {
            int outer = plan.Strategy == ReduceStrategy.Horizontal ? n - 1 : n - 2;
            EmitSegmentLocals(w, ctx, segs, outer, ("x", Context.Memory), ("a", Context.Accumulated));
            var loops = SegmentLoops(ctx, segs, 0, outer, ("x", Context.Memory), ("a", Context.Accumulated));
            if (loops.Count > 0) Chunk(loops[0]);
            // Vertical with no outer loop: the rows are the first segment; a chunk is a range of rows.
            bool rowChunk = plan.Strategy == ReduceStrategy.Vertical && outer == 0;
            string runs = VectorIsa.Runs(t);
            EmitNest(w, loops,
                new Dictionary<string, string> { ["x"] = "(nint)0", ["a"] = "(nint)0" },
                o =>
                {
                    string xo = o["x"], ao = o["a"];
                    string sums = ", ref " + At("sum", ao) + ", ref " + At("sq", ao) + ");";
                    if (plan.Strategy == ReduceStrategy.Horizontal)
                    {
                        w.Line("// Innermost: a contiguous reduced run.");
                        w.Line(runs + ".Reduce<TK>(ref " + At("x", xo) + ", len" + I(n - 1) + ", " + At("shift", ao) + sums);
                    }
                    else
                    {
                        w.Line("// Innermost: rows of the reduced segment, each a contiguous run of accumulators.");
                        string rowsFrom = rowChunk ? "from0 * len" + I(n - 1) : xo;
                        w.Line(runs + ".ReduceColumns<TK>(ref " + At("x", rowsFrom) + ", " + (rowChunk ? "to0 - from0" : "len" + I(n - 2)) + ", len" + I(n - 1) +
                               ", ref " + At("shift", ao) + sums);
                    }
                });
        }
        w.Line();
    }

    private const string KindConstraint = " where TK : struct, global::NormKernels.Runtime.INormKind";
    private const string StoresConstraint = " where TW : struct, global::NormKernels.Runtime.IStores";

    // ---------------------------------------------------------------- apply

    /// <summary>The apply pass: the layer's loop nest over one block, a member of the nest struct, generic over the kind and the path.</summary>
    private static void EmitApplyPass(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        var segs = plan.ApplySegments.ToList();
        int n = segs.Count;
        bool fold = plan.Form == ApplyForm.Fold;
        SegmentClass inner = segs[n - 1].Class;
        var spaces = fold
            ? new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("f", Context.FoldAxis) }
            : new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("s", Context.InnerKept), ("p", Context.ParamAxis) };
        string t = ctx.T;
        w.Line("/// <summary>Apply on one block (or on the chunk [from0, to0) of its first segment): segments " + ctx.Describe(plan.ApplySegments) + ".</summary>");
        w.Line(Shared.Hot);
        using (w.Block("public void Apply<TK, TW, TS, TV>(ref " + t + " x, ref " + t + " y, nint from0, nint to0, ref " + t + " a, ref " + t + " b, ref " + t + " c, ref " + t + " g, ref " + t + " h)" +
                       KindConstraint + StoresConstraint + VectorIsa.PathConstraint(t)))
        {
            // Channels-last: coefficients along the innermost segment and the "-" segment right outside it gives its rows,
            // contiguous in memory: the rows go to the run as one range (coefficients held in registers).
            bool rows = fold && inner == SegmentClass.Fold && n >= 2 && segs[n - 2].Class == SegmentClass.Constant && segs[n - 2].Last + 1 == segs[n - 1].First;
            int outer = rows ? n - 2 : n - 1;
            EmitSegmentLocals(w, ctx, segs, outer, spaces);
            var start = spaces.ToDictionary(s => s.Item1, s => "(nint)0");
            var loops = SegmentLoops(ctx, segs, 0, outer, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            bool rowChunk = rows && outer == 0;
            bool statVec = fold ? inner == SegmentClass.Fold : (inner & SegmentClass.Statistic) != 0;
            bool paramVec = !fold && (inner & SegmentClass.Parameter) != 0;
            string Kind(bool lanes) => lanes ? Rt + ".Lanes" : Rt + ".Splat";
            string method = (fold ? "Apply" : "ApplyAffine") + "<TK, TW, " + Kind(statVec) + (fold ? "" : ", " + Kind(paramVec)) + ">";
            // A residual added after the norm is read by the run at the nest's byte offset from x.
            string residual = plan.Epilogue.AddsAfter ? ", Residual" : "";
            EmitNest(w, loops, start, o =>
            {
                string xo = o["x"];
                string So = fold ? o["f"] : o["s"];
                if (rows)
                {
                    string rowsFrom = rowChunk ? "from0 * len" + I(n - 1) : xo;
                    w.Line("// Innermost: rows of a contiguous run, coefficients loaded along it.");
                    w.Line(VectorIsa.Runs(t) + ".ApplyRows<TK, TW>(ref " + At("x", rowsFrom) + ", ref " + At("y", rowsFrom) + ", " + (rowChunk ? "to0 - from0" : "len" + I(n - 2)) +
                           ", len" + I(n - 1) + ", ref " + At("a", So) + ", ref " + At("b", So) + ", ref " + At("c", So) + residual + ");");
                    return;
                }
                var args = new List<string> { "ref " + At("x", xo), "ref " + At("y", xo), "len" + I(n - 1), "ref " + At("a", So), "ref " + At("b", So), "ref " + At("c", So) };
                if (!fold) { args.Add("ref " + At("g", o["p"])); args.Add("ref " + At("h", o["p"])); }
                if (residual.Length > 0) args.Add("Residual");
                w.Line("// Innermost: a contiguous run, coefficients " + (inner == SegmentClass.Constant ? "constant along it." : "loaded along it."));
                w.Line(VectorIsa.Runs(t) + "." + method + "(" + string.Join(", ", args) + ");");
            });
        }
        w.Line();
    }

    /// <summary>Whether a block is channels-last rows in both passes: the statistics sum rows of one contiguous run of
    /// accumulators (columns) and the apply takes the same rows with coefficients along them, one range each
    /// (<c>Runs.ReduceColumns</c> and <c>Runs.ApplyRows</c> over the whole block), so a block's apply can run beside the
    /// next block's statistics (<c>Runs.ApplyReduceRows</c>).</summary>
    private static bool PipelinedRows(Context ctx)
    {
        var plan = ctx.Plan;
        var stat = plan.StatSegments.ToList();
        var apply = plan.ApplySegments.ToList();
        return plan.Strategy == ReduceStrategy.Vertical && stat.Count == 2 && plan.Form == ApplyForm.Fold && apply.Count == 2
            && apply[1].Class == SegmentClass.Fold && apply[0].Class == SegmentClass.Constant && apply[0].Last + 1 == apply[1].First
            && stat[0].First == apply[0].First && stat[0].Last == apply[0].Last && stat[1].First == apply[1].First && stat[1].Last == apply[1].Last;
    }

    /// <summary>Whether a block is runs: the statistics one contiguous run over the whole block and the apply that run as runs
    /// back to back, one per fold index (consecutive) with its coefficients broadcast (GroupNorm NCHW, a group's channels;
    /// LayerNorm over C,H,W with per-channel parameters, a sample), so a block's apply can run beside the next block's
    /// statistics (<c>Runs.ApplyRunsReduce</c>). Not with a residual added after the norm (not among its operands).</summary>
    private static bool PipelinedRuns(Context ctx)
    {
        var plan = ctx.Plan;
        var stat = plan.StatSegments.ToList();
        var apply = plan.ApplySegments.ToList();
        return plan.Strategy == ReduceStrategy.Horizontal && stat.Count == 1 && plan.Form == ApplyForm.Fold && apply.Count == 2 && !plan.Epilogue.AddsAfter
            && apply[0].Class == SegmentClass.Fold && apply[1].Class == SegmentClass.Constant && apply[0].Last + 1 == apply[1].First
            && apply[0].First == apply[0].Last && ctx.Stride(apply[0].First, Context.FoldAxis) == "(nint)1"
            && stat[0].First == apply[0].First && stat[0].Last == apply[1].Last;
    }

    /// <summary>The pipelined pass (<see cref="PipelinedRows"/>, <see cref="PipelinedRuns"/>): one block's streamed apply beside
    /// the next block's statistics, false where the plan is neither kind or the run declines (the driver then runs the two
    /// passes).</summary>
    private static void EmitPipelinePass(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        string t = ctx.T;
        bool rows = PipelinedRows(ctx), runs = !rows && PipelinedRuns(ctx);
        w.Line("/// <summary>How a block's apply can run beside the next block's statistics (<see cref=\"ApplyReduce\"/>): 0 not, 1 channels-last rows, 2 runs.</summary>");
        w.Line("public int Pipelines => " + (rows ? "1" : runs ? "2" : "0") + ";");
        w.Line();
        w.Line("/// <summary>The apply of the block at x (streamed) beside the statistics of the block at p" + (rows || runs ? "" : " (not this plan's: false)") + ".</summary>");
        w.Line(Shared.Hot);
        using (w.Block("public bool ApplyReduce<TK, TS, TV>(ref " + t + " x, ref " + t + " y, ref " + t + " p, ref " + t + " a, ref " + t + " b, ref " + t + " c, ref " + t +
                       " shift, ref double sum, ref double sq)" + KindConstraint + VectorIsa.PathConstraint(t)))
        {
            // Both kinds: the apply's two segments are the block's rows (or runs) and the run.
            string extents = rows || runs ? ctx.SegmentExtent(plan.ApplySegments[0]) + ", " + ctx.SegmentExtent(plan.ApplySegments[1]) : "";
            if (rows)
                w.Line("return " + VectorIsa.Runs(t) + ".ApplyReduceRows<TK>(ref x, ref y, " + extents + ", ref a, ref b, ref c, " +
                       (plan.Epilogue.AddsAfter ? "Residual" : "0") + ", ref p, ref shift, ref sum, ref sq);");
            else if (runs)
                w.Line("return " + VectorIsa.Runs(t) + ".ApplyRunsReduce<TK>(ref x, ref y, " + extents + ", ref a, ref b, ref c, ref p, shift, ref sum, ref sq);");
            else
                w.Line("return false;");
        }
        w.Line();
    }

    private static string At(string reference, string offset) => offset == "(nint)0" ? reference : Unsafe + ".Add(ref " + reference + ", " + offset + ")";
}
