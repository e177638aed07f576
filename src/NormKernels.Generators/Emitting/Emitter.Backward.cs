using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// The backward passes. With f the fold index of an element (its position along the axes inside a block that index
/// statistics or parameters), s its statistic, p its parameter, M the elements per statistic, r = 1/sqrt(var + eps):
/// <list type="number">
/// <item>reduce, per f: U[f] = sum dy, V[f] = sum dy * (x - mean[s]) (the planner's <see cref="KernelPlan.GradientSegments"/>);</item>
/// <item>per statistic: A = sum over f of g[p] * U[f], B = sum g[p] * V[f]; per parameter: dbeta += U[f], dgamma += V[f] * r;</item>
/// <item>apply, per element: dx = dy * P[f] + (x - mean) * Q[f] + R[f] with P = g * r, Q = -r^3 * B / M, R = -r * A / M
/// (root mean square: mean = 0, R = 0; statistics held constant: Q = R = 0).</item>
/// </list>
/// Precision: the lanes never multiply an offset. They sum dy - dz (dz the fold index's first dy), (dy - dz) * (x - mf) (mf the
/// saved mean rounded to the element type) and, exactly in double, x - mf; U, V and the mean itself (mf + sum(x - mf) / M) come
/// back in double, and the apply runs (dy - dz) * P + (x - mf) * Q + R' with R' = R + dz * P + (mf - mean) * Q. The one-statistic
/// plans do the same with gamma: g * (dy - dz) + dz * (g - gb), gb the block's first gamma.
/// Blocks run in fixed groups (the parallel units); each group sums its parameter gradients into its own partial, and the
/// partials are added in group order, so the bits do not depend on the thread count. Whole-tensor plans reduce over
/// chunks of the first segment into per-chunk partials merged in chunk order, like the forward statistics.
/// </summary>
internal static partial class Emitter
{
    // The backward's scratch layout, in one place (EmitBackwardScratchRefs names the slots): doubles = 3 per fold index and
    // 5 per statistic (then, whole-tensor plans, 2 per parameter); elements = 5 per fold index; chunk partials = 3 per fold index.

    /// <summary>The planner's <see cref="KernelPlan.GradientPerStatistic"/>: sums per statistic, gamma loaded along the run.</summary>
    private static bool SingleStatistic(Context ctx) => ctx.Plan.GradientPerStatistic;

    /// <summary>The one-statistic plans' nests over one block (or the chunk [from0, to0) of its first segment), emitted once, generic
    /// over the path; the runs go to the runtime's shared <c>GradientRuns</c> kernels.</summary>
    private static void EmitSingleStatisticPasses(SourceWriter w, Context ctx)
    {
        var segs = ctx.Plan.GradientSegments.ToList();
        int n = segs.Count;
        string t = ctx.T, runs = VectorIsa.GradientRuns(t);
        var spaces = new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("p", Context.ParamAxis) };

        w.Line("/// <summary>One statistic's block: a += sum g * (dy - dz), b += sum g * (dy - dz) * (x + m), gs += sum (g - gb), hs += sum (g - gb) * (x + m), xs += sum (x + m); " +
               "segments " + ctx.Describe(ctx.Plan.GradientSegments) + ".</summary>");
        w.Line(Shared.Hot);
        // TH: x and dy come from memory (Lanes): the run hints their lines ahead.
        using (w.Block("public void GradientAffineReduce<TS, TV, TH>(ref " + t + " x, ref " + t + " dy, nint from0, nint to0, " + t + " m, " + t + " dz, " + t + " gb, ref " + t + " g, ref double a, ref double b, ref double gs, ref double hs, ref double xs)" +
                       VectorIsa.PathConstraint(t) + " where TH : struct, " + Rt + ".IOperand"))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], po = o["p"];
                w.Line(runs + ".AffineReduce<TH>(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", len" + I(n - 1) + ", m, dz, gb, ref " + At("g", po) +
                       ", ref a, ref b, ref gs, ref hs, ref xs);");
            });
        }
        w.Line();
        w.Line("/// <summary>One statistic's block: dx = (g * (dy - dz) + dz * (g - gb)) * r + (x + m) * q + rr, dx stored as TW says; dbeta[p] += dy, dgamma[p] += dy * ((x + m) * r + c1).</summary>");
        w.Line(Shared.Hot);
        using (w.Block("public void GradientAffineApply<TW, TS, TV>(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, nint from0, nint to0, " + t + " m, " + t + " r, " + t + " q, " + t + " rr, " + t + " dz, " + t + " gb, " + t + " c1, ref " + t + " g, ref " + t + " dbeta, ref " + t + " dgamma)" +
                       StoresConstraint + VectorIsa.PathConstraint(t)))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], po = o["p"];
                w.Line(runs + ".AffineApply<TW>(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", ref " + At("dx", xo) + ", len" + I(n - 1) + ", m, r, q, rr, dz, gb, c1, ref " + At("g", po) + ", ref " + At("dbeta", po) + ", ref " + At("dgamma", po) + ");");
            });
        }
        w.Line();
    }

    // ---------------------------------------------------------------- backward loop nests and runs

    /// <summary>The backward nests over one block (or the chunk [from0, to0) of its first segment), emitted once, generic over the
    /// path; the runs go to the runtime's shared <c>GradientRuns</c> kernels.</summary>
    private static void EmitBackwardPasses(SourceWriter w, Context ctx)
    {
        if (SingleStatistic(ctx))
        {
            EmitSingleStatisticPasses(w, ctx);
            return;
        }
        var segs = ctx.Plan.GradientSegments.ToList();
        int n = segs.Count;
        bool vector = segs[n - 1].Class == SegmentClass.Fold;
        string t = ctx.T, runs = VectorIsa.GradientRuns(t);
        var spaces = new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("f", Context.FoldAxis) };

        // Channels-last: the fold index runs along the innermost segment and the "-" segment right outside it gives its rows,
        // contiguous in memory; accumulate down the rows in registers (like the forward's vertical statistics).
        bool columns = vector && n >= 2 && segs[n - 2].Class == SegmentClass.Constant && segs[n - 2].Last + 1 == segs[n - 1].First;
        w.Line("/// <summary>Backward reduction on one block (or the chunk [from0, to0) of its first segment): per fold index f, u[f] += sum dy, v[f] += sum dy * (x + m[f]); segments " + ctx.Describe(ctx.Plan.GradientSegments) +
               (columns ? "; the innermost two as rows of contiguous fold indices" : "") + ".</summary>");
        w.Line(Shared.Hot);
        // TX: the exact sum z made (Lanes) or left to the driver, which has it from the forward's mean (Splat).
        // TH: x and dy come from memory (Lanes): the runs hint their lines ahead.
        using (w.Block("public void GradientReduce<TS, TV, TX, TH>(ref " + t + " x, ref " + t + " dy, nint from0, nint to0, ref " + t + " m, ref " + t + " dz, ref double u, ref double v, ref double z)" +
                       VectorIsa.PathConstraint(t) + " where TX : struct, " + Rt + ".IOperand where TH : struct, " + Rt + ".IOperand"))
        {
            int outer = columns ? n - 2 : n - 1;
            EmitSegmentLocals(w, ctx, segs, outer, spaces);
            var loops = SegmentLoops(ctx, segs, 0, outer, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            bool rowChunk = columns && outer == 0;
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], fo = o["f"];
                if (columns)
                {
                    string rowsFrom = rowChunk ? "from0 * len" + I(n - 1) : xo;
                    w.Line(runs + ".ReduceColumns<TX, TH>(ref " + At("x", rowsFrom) + ", ref " + At("dy", rowsFrom) + ", " + (rowChunk ? "to0 - from0" : "len" + I(n - 2)) + ", len" + I(n - 1) +
                           ", ref " + At("m", fo) + ", ref " + At("dz", fo) + ", ref " + At("u", fo) + ", ref " + At("v", fo) + ", ref " + At("z", fo) + ");");
                }
                else
                {
                    w.Line(runs + (vector ? ".ReduceLanes<TX, TH>(" : ".Reduce<TX, TH>(") + "ref " + At("x", xo) + ", ref " + At("dy", xo) + ", len" + I(n - 1) + ", " +
                           (vector ? "ref " + At("m", fo) + ", ref " + At("dz", fo) : Unsafe + ".Add(ref m, " + fo + "), " + Unsafe + ".Add(ref dz, " + fo + ")") +
                           ", ref " + At("u", fo) + ", ref " + At("v", fo) + ", ref " + At("z", fo) + ");");
                }
            });
        }
        w.Line();

        w.Line("/// <summary>Backward apply on one block (or the chunk [from0, to0) of its first segment): dx = dy * P[f] + (x + m[f]) * Q[f] + R[f].</summary>");
        w.Line(Shared.Hot);
        using (w.Block("public void GradientApply<TW, TS, TV>(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, nint from0, nint to0, ref " + t + " m, ref " + t + " cp, ref " + t + " cq, ref " + t + " cr, ref " + t + " dz)" +
                       StoresConstraint + VectorIsa.PathConstraint(t)))
        {
            // Channels-last, as the reduction: the rows of contiguous fold indices go to the run as one range.
            int outer = columns ? n - 2 : n - 1;
            EmitSegmentLocals(w, ctx, segs, outer, spaces);
            var loops = SegmentLoops(ctx, segs, 0, outer, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            bool rowChunk = columns && outer == 0;
            string method = runs + ".Apply<TW, " + Rt + (vector ? ".Lanes>" : ".Splat>");
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], fo = o["f"];
                string coefficients = "ref " + At("m", fo) + ", ref " + At("cp", fo) + ", ref " + At("cq", fo) + ", ref " + At("cr", fo) + ", ref " + At("dz", fo) + ");";
                if (columns)
                {
                    string rowsFrom = rowChunk ? "from0 * len" + I(n - 1) : xo;
                    w.Line(runs + ".ApplyRows<TW>(ref " + At("x", rowsFrom) + ", ref " + At("dy", rowsFrom) + ", ref " + At("dx", rowsFrom) + ", " +
                           (rowChunk ? "to0 - from0" : "len" + I(n - 2)) + ", len" + I(n - 1) + ", " + coefficients);
                    return;
                }
                w.Line(method + "(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", ref " + At("dx", xo) + ", len" + I(n - 1) + ", " + coefficients);
            });
        }
        w.Line();
    }
}
