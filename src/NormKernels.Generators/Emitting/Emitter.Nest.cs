using System;
using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private const string NestType = "Nest";

    /// <summary>
    /// The layer's part of its forward passes, as the runtime's shared drivers (<c>Forward&lt;Nest, Kind, T&gt;</c>) see it:
    /// a struct holding the extents, with the plan's sizes and index maps as members and the two loop nests. Everything the
    /// drivers do besides (scratch, threads, statistics, coefficients) is in the runtime, once for every layer.
    /// </summary>
    private static void EmitNestStruct(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        string t = ctx.T;
        // The maps inside a block run for every statistic, accumulator or fold of every block: their divisions by a
        // runtime extent are multiplies by a divisor set up with the nest (Rt.IndexDivisor), one per extent. A dry run of
        // the maps lists them first: they are primary constructor parameters (Create makes them), not fields with
        // initializers (source fields cost a cold compiler more of its methods to JIT: issue 10's build cost).
        var inside = Enumerable.Range(0, ctx.Axes.Count).Where(i => !ctx.Axes[i].Block).ToList();
        var divisors = new List<string>();
        EmitBlockMap(new SourceWriter(), ctx, divisors);
        EmitInsideMaps(new SourceWriter(), ctx, inside, divisors);
        string divisorParams = string.Concat(divisors.Select(name => ", " + Rt + ".IndexDivisor d_" + name));
        w.Line("/// <summary>The plan of this layer for the runtime's shared drivers: extents, blocks, index maps and the two loop nests.</summary>");
        using (w.Block("private readonly struct " + NestType + "(" + ctx.ExtentParams + divisorParams + ") : " + Rt + ".ILayerNest<" + NestType + ", " + t + ">"))
        {
            foreach (var (name, value) in ctx.FixedExtents)
                w.Line("private const nint e_" + name + " = " + value + "; // fixed by Sizes");
            EmitNestStatics(w, ctx, divisors);
            if (plan.Epilogue.AddsAfter)
            {
                w.Line("/// <summary>The residual's byte offset from the input (the apply adds it).</summary>");
                w.Line("public nint Residual { get; init; }");
                w.Line("public static " + NestType + " WithResidual(" + NestType + " nest, nint residual) => nest with { Residual = residual };");
            }
            var reduced = Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced);
            w.Line("public int BlockCount { " + Shared.HotInline + " get => " + (plan.BlockAxes > 0 ? "(int)" + ctx.Product(ctx.BlockIndices) : "0") + "; }");
            w.Line("public int StatisticCount { " + Shared.HotInline + " get => (int)" + ctx.InnerProduct(Context.InnerKept) + "; }");
            w.Line("public int CoefficientCount { " + Shared.HotInline + " get => (int)" + ctx.InnerProduct(plan.Form == ApplyForm.Fold ? Context.FoldAxis : Context.InnerKept) + "; }");
            w.Line("public int FoldCount { " + Shared.HotInline + " get => (int)" + ctx.InnerProduct(Context.FoldAxis) + "; }");
            w.Line("public int AccumulatorCount { " + Shared.HotInline + " get => (int)" + ctx.InnerProduct(Context.Accumulated) + "; }");
            // The counts as the index maps (Shared.HotInline): read once a unit by large unit bodies too.
            w.Line("public double Count { " + Shared.HotInline + " get => (double)" + ctx.Product(reduced) + "; }");
            w.Line("public bool Promoted => " + Bool(plan.Promoted) + ";");
            w.Line("public bool TwoStep => " + Bool(plan.Form == ApplyForm.TwoStep) + ";");
            w.Line("public bool Affine => " + Bool(ctx.Spec.HasAffine) + ";");
            bool wholeStatistics = plan.BlockAxes == 0 && (plan.Strategy == ReduceStrategy.Vertical || plan.StatSegments.Count > 1);
            bool wholeApply = plan.BlockAxes == 0 && plan.ApplySegments.Count > 1;
            w.Line("public nint StatisticsRows(out bool splittable) { splittable = " + Bool(wholeStatistics) + "; return " + StatFirstExtent(ctx) + "; }");
            w.Line("public nint ApplyRows(out bool splittable) { splittable = " + Bool(wholeApply) + "; return " + ApplyFirstExtent(ctx) + "; }");
            bool wholeGradient = plan.BlockAxes == 0 && plan.GradientSegments.Count > 1;
            w.Line("public nint GradientRows(out bool splittable) { splittable = " + Bool(wholeGradient) + "; return " + ctx.SegmentExtent(plan.GradientSegments[0]) + "; }");
            w.Line();

            EmitBlockMap(w, ctx, divisors);
            EmitInsideMaps(w, ctx, inside, divisors);
            w.Line();
            EmitStatisticsPass(w, ctx);
            EmitApplyPass(w, ctx);
            EmitPipelinePass(w, ctx);
            EmitBackwardPasses(w, ctx);
        }
        w.Line();
    }

    /// <summary>The block map: a block's memory offset, statistic and parameter indices, its divisions by a runtime extent
    /// multiplies by the nest's <c>d_</c> divisors as the maps inside a block have them. The row runs call it for every row
    /// (a row's gamma and beta: <c>Forward.RowFinish</c>), and a hardware divide each was most of InstanceNorm NCHW S2's
    /// coefficients (16,384 rows of 49 floats).</summary>
    private static void EmitBlockMap(SourceWriter w, Context ctx, List<string> divisors) =>
        EmitIndexMap(w, ctx, "public void Block(nint block, out nint memory, out nint statistic, out nint parameter)", "block", ctx.BlockIndices, divisors,
            ("memory", Context.Memory), ("statistic", Context.Kept), ("parameter", Context.ParamAxis));

    /// <summary>The index maps inside a block (statistic, accumulator, fold); their runtime divisions by the extents in
    /// <paramref name="divisors"/> (which they add to) are multiplies by the nest's <c>d_</c> divisors.</summary>
    private static void EmitInsideMaps(SourceWriter w, Context ctx, List<int> inside, List<string> divisors)
    {
        EmitIndexMap(w, ctx, "public nint StatisticStart(nint statistic)", "statistic", inside.Where(i => Context.InnerKept(ctx.Axes[i])).ToList(),
            divisors, ("return", Context.Memory));
        EmitIndexMap(w, ctx, "public nint AccumulatorStatistic(nint accumulator)", "accumulator", inside.Where(i => Context.Accumulated(ctx.Axes[i])).ToList(),
            divisors, ("return", Context.InnerKept));
        var folds = inside.Where(i => Context.FoldAxis(ctx.Axes[i])).ToList();
        EmitIndexMap(w, ctx, "public nint FoldStart(nint fold)", "fold", folds, divisors, ("return", Context.Memory));
        EmitIndexMap(w, ctx, "public void Fold(nint fold, out nint statistic, out nint parameter)", "fold", folds, divisors,
            ("statistic", Context.InnerKept), ("parameter", Context.ParamAxis));
    }

    private static string StatFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.StatSegments[0]);

    private static string ApplyFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.ApplySegments[0]);

    private static string Bool(bool value) => value ? "true" : "false";

    /// <summary>
    /// A member that decomposes <paramref name="index"/> into its index along each of <paramref name="axes"/> (innermost
    /// fastest) and gives, per output, the sum of those indices times their strides in the output's index space
    /// (an output named "return" is the return value).
    /// </summary>
    private static void EmitIndexMap(SourceWriter w, Context ctx, string signature, string index, List<int> axes, params (string Name, Func<PlanAxis, bool> Member)[] outputs) =>
        EmitIndexMap(w, ctx, signature, index, axes, null, outputs);

    /// <summary>As above; with <paramref name="divisors"/>, a division by a runtime extent is its divisor field's
    /// (<c>d_name.Divide</c>), and the extent is added to the list (the nest takes one divisor per listed extent).</summary>
    private static void EmitIndexMap(SourceWriter w, Context ctx, string signature, string index, List<int> axes, List<string>? divisors,
        params (string Name, Func<PlanAxis, bool> Member)[] outputs)
    {
        bool Fast(string name)
        {
            if (divisors is null || ctx.FixedExtents.Any(f => f.Name == name)) return false;
            if (!divisors.Contains(name)) divisors.Add(name);
            return true;
        }
        string Quotient(string name) => Fast(name) ? "d_" + name + ".Divide(" + index + ")" : index + " / e_" + name;
        string Sum(Func<PlanAxis, bool> member, Func<int, string> position)
        {
            var terms = axes.Where(i => member(ctx.Axes[i])).Select(i =>
            {
                string stride = ctx.Stride(i, member);
                return stride == "(nint)1" ? position(i) : position(i) + " * " + stride;
            }).ToList();
            return terms.Count == 0 ? "0" : string.Join(" + ", terms);
        }

        // Only the axes an output reads are decomposed: outward from the innermost, one division per axis up to the
        // outermost one read (an axis read: quotient, then the remainder from it; an axis skipped: the quotient alone).
        var read = axes.Select(i => outputs.Any(o => o.Member(ctx.Axes[i]))).ToList();
        int outermost = read.IndexOf(true);
        bool alone = outermost == 0 && axes.Count == 1;
        w.Line(Shared.HotInline);
        if (outputs.Length == 1 && outputs[0].Name == "return" && (outermost < 0 || alone))
        {
            // Nothing to decompose: the index is the one axis's own (or no axis is read).
            w.Line(signature + " => " + Sum(outputs[0].Member, _ => index) + ";");
            return;
        }
        using (w.Block(signature))
        {
            for (int k = axes.Count - 1; k >= Math.Max(outermost, 0) && outermost >= 0; k--)
            {
                string name = ctx.Axes[axes[k]].Name;
                if (k == 0) w.Line("nint i_" + name + " = " + index + ";");
                else if (k == outermost)
                    w.Line("nint i_" + name + " = " + (Fast(name) ? index + " - " + Quotient(name) + " * e_" + name : index + " % e_" + name) + ";");
                else if (read[k])
                {
                    w.Line("nint q_" + name + " = " + Quotient(name) + ", i_" + name + " = " + index + " - q_" + name + " * e_" + name + ";");
                    w.Line(index + " = q_" + name + ";");
                }
                else w.Line(Fast(name) ? index + " = " + Quotient(name) + ";" : index + " /= e_" + name + ";");
            }
            foreach (var o in outputs)
                w.Line((o.Name == "return" ? "return " : o.Name + " = ") + Sum(o.Member, i => "i_" + ctx.Axes[i].Name) + ";");
        }
    }

    /// <summary>The runtime type of the layer's norm kind, the type argument its nests and drivers take.</summary>
    private static string KindType(Context ctx) => ctx.Plan.Epilogue.KindType(Rt, Rt + "." + ctx.Plan.Kind.RuntimeType);

}
