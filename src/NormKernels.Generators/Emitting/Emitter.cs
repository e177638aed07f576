using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// Writes the generated half of a layer: the public surface (constructor, parameters, running
/// statistics, Forward, static kernels) and the planned loop nests. The emitter knows loop-nest
/// patterns from <see cref="KernelPlan"/>, never norms: a new layout or norm needs no code here.
/// </summary>
internal static partial class Emitter
{
    private const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";
    private const string KernelPath = "global::NormKernels.KernelPath";
    private const string Ops = "global::NormKernels.Runtime.IVector128Ops";
    private const string Rt = "global::NormKernels.Runtime";

    public static string Emit(NormSpec spec, KernelPlan plan, bool hooks = false)
    {
        var ctx = new Context(spec, plan, hooks);
        var w = new SourceWriter();
        var closers = Shared.Open(w, spec.Name);

        EmitPlanRemarks(w, ctx);
        Shared.Marks(w, spec.Name.Marks);
        // A residual layer's Forward and Backward take the residual, a Half layer Half tensors: neither is an INormalizationLayer.
        using (w.Block("partial class " + spec.Name.TypeName + (ctx.Residual || ctx.Half ? "" : " : " + ctx.Interface + SynchronizedInterface(ctx))))
        {
            EmitSurface(w, ctx);
            EmitForward(w, ctx);
            EmitBackwardSurface(w, ctx);
            EmitShards(w, ctx);
            EmitSynchronizedBackward(w, ctx);
            EmitAdaptive(w, ctx);
            EmitModule(w, ctx);
            EmitNestStruct(w, ctx);
        }

        Shared.Close(closers);
        return w.ToString();
    }

    /// <summary>The XML remarks on the class: the plan, so a reader of the .g.cs can follow the loops.</summary>
    private static void EmitPlanRemarks(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        w.Line("/// <remarks>");
        w.Line("/// Generated normalization layer: layout " + spec.Layout + ", reduced axes " + ctx.AxesText +
               (spec.Groups > 0 ? ", " + Literals.Int(spec.Groups) + " groups" : "") + ", " +
               plan.Kind.Description + ", affine " +
               (spec.IsPerChannel ? "per channel" : spec.IsElementwise ? "elementwise" : "none") + ".");
        w.Line("/// <para>Plan. Axes (outermost first): " + string.Join(", ", plan.Axes.Select(a =>
            a.Name + (a.Reduced ? "=R" : "=K") + (a.Param ? "+param" : "") + (a.Accumulated && a.Reduced ? "+accumulated" : ""))) +
            "; pattern " + plan.Pattern + ".</para>");
        w.Line("/// <para>Blocks: " + (plan.BlockAxes == 0
            ? "one block, the whole tensor (statistics need every block axis first: two passes, statistics then apply)."
            : "one per (" + string.Join(", ", ctx.BlockAxes.Select(a => a.Name)) + "): statistics, coefficients and apply run back to back on a block while it is in cache; blocks are the units of parallel work.") + "</para>");
        w.Line("/// <para>Statistics pass per block: segments " + ctx.Describe(plan.StatSegments) + "; innermost " +
            (plan.Strategy == ReduceStrategy.Horizontal
                ? "reduced run summed across lanes (horizontal)"
                : "run of separate accumulators, vectors across it summed down the rows (vertical)") +
            (plan.Promoted ? "; per-channel accumulators combined into their group afterwards" : "") +
            ". " + plan.Kind.SumsText +
            " in " + ctx.T + " lanes over chunks of " + Literals.Int(Context.ChunkVectors) + " vectors per accumulator, " + Literals.Int(Context.Unroll) +
            " independent accumulators, each chunk added into double.</para>");
        w.Line("/// <para>Apply pass per block: segments " + ctx.Describe(plan.ApplySegments) + "; " +
            (plan.Form == ApplyForm.Fold
                ? plan.Kind.FoldApply + " with A, B folded from statistics and affine per coefficient index f."
                : plan.Kind.TwoStepApply + " * gamma[p] + beta[p] (every axis indexes statistics or parameters, so nothing would be reused by folding).") +
            " Main loop unrolled " + Literals.Int(Context.Unroll) + "x; the tail is one overlapped vector with the finished lanes masked (blended on store).</para>");
        w.Line("/// <para>Backward per block: segments " + ctx.Describe(plan.GradientSegments) + "; " + (plan.GradientPerStatistic
            ? "one statistic per block: the sums of gamma * dy and gamma * dy * (x - mean) with gamma loaded along the run, then dx = dy * gamma * r + (x - mean) * Q + R"
            : "per fold index f the sums of dy and dy * (x - mean), then dx = dy * P[f] + (x - mean) * Q[f] + R[f]") +
            ", weight and bias gradients summed per group of blocks and added in group order.</para>");
        if (!plan.Epilogue.IsNone) w.Line("/// <para>Epilogue: " + plan.Epilogue.Text + ".</para>");
        if (spec.Sizes.Length > 0) w.Line("/// <para>Sizes fixed at compile time: " + spec.Sizes + " (constants in the loop nests; other dims throw ArgumentException).</para>");
        w.Line("/// <para>Paths: Vector512 (AVX-512), Vector256 (AVX2+FMA), Vector128 (SSE / AdvSimd), scalar; chosen per call by the innermost extents.</para>");
        w.Line("/// <para>Threads: the static kernels (ForwardTraining, " + (plan.BatchReduced ? "ForwardInference, " : "") + "BackwardTraining, " +
               (plan.BatchReduced ? "BackwardInference, " : "") + (plan.Shards ? "ShardStatistics, " : "") + (plan.Adaptive ? "AdaptiveForward, " : "") +
               "StatisticCount) keep no state and may run from any number of threads at once. On one instance, inference-mode Forward calls " +
               "(Training false) may run from any number of threads at once" +
               (ctx.Running ? "" : ", and beside any other call on it (they read only Weight, Bias and Epsilon, which no call writes but LoadStateDict)") +
               "; a training-mode Forward" + (plan.BatchReduced ? ", ForwardWithStatistics" : "") +
               ", any Backward and ZeroGrad write the instance's state (saved batch statistics" + (ctx.Running ? ", running statistics" : "") +
               ", WeightGrad and BiasGrad) and need the instance alone: a call that would overlap another call on the same instance that it cannot share with " +
               "is refused with an InvalidOperationException before it reads or writes anything (nothing waits). Changing Weight, Bias" +
               (ctx.Running ? ", RunningMean, RunningVar" : "") + ", Epsilon or Training while a call runs is not detected. Use one instance per thread for parallel training.</para>");
        w.Line("/// </remarks>");
    }
}
