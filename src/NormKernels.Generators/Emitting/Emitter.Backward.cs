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
    private static string BackwardParams(Context ctx) =>
        ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.ExtentParams + ", " +
        ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " stat0, " + ctx.ReadOnlySpanT + " stat1, " + ctx.T + " epsilon, bool constant, " +
        ctx.SpanT + " weightGrad, " + ctx.SpanT + " biasGrad";


    /// <summary>The backward drivers are the runtime's (<c>Backward&lt;Nest, Kind, T&gt;</c>, or <c>AffineBackward</c> for plans with one
    /// statistic per block), shared by every layer; these forwarders give them this layer's nest.</summary>
    private static void EmitBackwardCores(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        string driver = Rt + "." + (SingleStatistic(ctx) ? "AffineBackward" : "Backward") + "<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">";
        string args = "(path, " + NewNest(ctx) + ", input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad);";
        w.Line("private static " + KernelPath + " RunBackward(" + KernelPath + " path, " + BackwardParams(ctx) + ") =>");
        w.Line("    " + driver + ".Run" + args);
        w.Line("private static " + KernelPath + " BackwardCore<TOps>(" + KernelPath + " path, " + BackwardParams(ctx) + ") where TOps : struct, " + Ops + " =>");
        w.Line("    " + driver + ".Run<TOps>" + args);
        w.Line("private static " + KernelPath + " ChooseBackwardPath(" + ctx.ExtentParams + ") =>");
        w.Line("    global::NormKernels.Isa.Select<" + ctx.T + ">(" + ctx.Clamp(ctx.SegmentExtent(plan.GradientSegments[plan.GradientSegments.Count - 1])) + ");");
        w.Line();
    }

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
               "dbeta[p] += dy, dgamma[p] += dy * ((x + m) * r + c0); segments " + ctx.Describe(ctx.Plan.GradientSegments) + ".</summary>");
        using (w.Block("public void GradientAffineReduce" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, nint from0, nint to0, " + t + " m, " + t + " dz, " + t + " gb, " + t + " r, " + t + " c0, ref " + t + " g, ref double a, ref double b, ref double gs, ref double hs, ref double xs, ref double dbeta, ref double dgamma)" + VectorIsa.PathConstraint(t)))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], po = o["p"];
                w.Line(runs + ".AffineReduce(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", len" + I(n - 1) + ", m, dz, gb, r, c0, ref " + At("g", po) +
                       ", ref a, ref b, ref gs, ref hs, ref xs, ref " + At("dbeta", po) + ", ref " + At("dgamma", po) + ");");
            });
        }
        w.Line();
        w.Line("/// <summary>One statistic's block: dx = (g * (dy - dz) + dz * (g - gb)) * r + (x + m) * q + rr.</summary>");
        using (w.Block("public void GradientAffineApply" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, nint from0, nint to0, " + t + " m, " + t + " r, " + t + " q, " + t + " rr, " + t + " dz, " + t + " gb, " + t + " c1, ref " + t + " g, ref double dgamma)" + VectorIsa.PathConstraint(t)))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], po = o["p"];
                w.Line(runs + ".AffineApply(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", ref " + At("dx", xo) + ", len" + I(n - 1) + ", m, r, q, rr, dz, gb, c1, ref " + At("g", po) + ", ref " + At("dgamma", po) + ");");
            });
        }
        w.Line();
    }

    // ---------------------------------------------------------------- public surface

    /// <summary>Fields and members the backward adds to the layer: gradients, saved-forward bookkeeping, Backward, statics.</summary>
    private static void EmitBackwardSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string dims = ctx.DimArgs;
        string stat = ctx.OutputArgs;

        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Weight\"/>, accumulated by every Backward (PyTorch semantics: call <see cref=\"ZeroGrad\"/> between steps).</summary>");
        w.Line("public " + ctx.T + "[] WeightGrad { get; }");
        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Bias\"/>, accumulated by every Backward.</summary>");
        w.Line("public " + ctx.T + "[] BiasGrad { get; }");
        w.Line();
        w.Line("/// <summary>Sets <see cref=\"WeightGrad\"/> and <see cref=\"BiasGrad\"/> to zero.</summary>");
        w.Line("public void ZeroGrad() => " + Rt + ".LayerState.ZeroGrad(ref _guard, " + Literals.String(spec.TypeName + ".ZeroGrad") + ", WeightGrad, BiasGrad);");
        w.Line();

        w.Line("/// <summary>");
        w.Line("/// Gradient of the last training-mode Forward" + (plan.BatchReduced ? " (or, with Training false, of the inference forward: running statistics held constant)" : "") +
               ": writes dL/dinput into <paramref name=\"inputGrad\"/> (which may be <paramref name=\"outputGrad\"/> or <paramref name=\"input\"/> itself) and adds dL/dweight, dL/dbias");
        w.Line("/// into <see cref=\"WeightGrad\"/>, <see cref=\"BiasGrad\"/>. <paramref name=\"input\"/> must be the input of that Forward (or a bitwise copy); its saved statistics are used, not recomputed.");
        w.Line("/// Throws InvalidOperationException, before writing anything, when no training-mode Forward ran, when the dims differ from that Forward's (the saved statistics' count and layout follow them),");
        w.Line("/// when <paramref name=\"input\"/> differs bitwise from that Forward's input at one of 16 positions sampled evenly over the tensor (first and last included; it catches another tensor,");
        w.Line("/// e.g. the Forward's output, not an edit of elements between the samples; after an in-place Forward pass a copy of the input taken before it), or when another thread runs a call on this instance.");
        w.Line("/// </summary>");
        using (w.Block("public void Backward(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.DimParams + ")"))
        {
            w.Line("int count = CheckShape(input.Length, input.Length, " + dims + ");");
            w.Line(Checks + ".Length(outputGrad.Length, count, \"outputGrad\", " + Literals.String(dims) + ");");
            w.Line(Checks + ".Length(inputGrad.Length, count, \"inputGrad\", " + Literals.String(dims) + ");");
            EmitLayerSizeCheck(w, ctx);
            w.Line(Checks + ".NoPartialOverlap(input, inputGrad, nameof(inputGrad));");
            w.Line(Checks + ".NoPartialOverlap(outputGrad, inputGrad, nameof(inputGrad), nameof(outputGrad));");
            string weight = spec.HasAffine ? "Weight" : "default";
            w.Line("global::System.ReadOnlySpan<int> givenDims = stackalloc int[] { " + dims + " };");
            w.Line("// Adds into WeightGrad and BiasGrad and reads the saved statistics: this instance alone.");
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".Backward") + ");");
            using (w.Block("try"))
            {
                if (plan.BatchReduced)
                {
                    using (w.Block("if (!Training)"))
                    {
                        w.Line("LastPath = RunBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", " + weight +
                               ", RunningMean, RunningVar, _epsilon, true, WeightGrad, BiasGrad);");
                        w.Line("return;");
                    }
                }
                w.Line(Checks + ".SavedStatistics(_savedLength, input.Length, nameof(input));");
                w.Line(Checks + ".SavedDims(_savedDims, givenDims, " + Literals.String(spec.Layout) + ");");
                w.Line(Guard.Fingerprint + ".Check<" + ctx.T + ">(_fingerprint, input, nameof(input));");
                w.Line("LastPath = RunBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", " + weight +
                       ", " + ctx.Slots("_batchStatistic0", "_batchStatistic1") + ", _savedEpsilon, false, WeightGrad, BiasGrad);");
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
        w.Line();
        using (w.Block("void " + ctx.DeclaringInterface + ".Backward(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, global::System.ReadOnlySpan<int> dims)"))
        {
            w.Line(Checks + ".Rank(dims.Length, " + Literals.String(spec.Layout) + ", nameof(dims));");
            w.Line("Backward(input, outputGrad, inputGrad, " + string.Join(", ", spec.Layout.Select((_, i) => "dims[" + Literals.Int(i) + "]")) + ");");
        }
        w.Line();

        w.Line("/// <summary>Backward on tensors: the dims come from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", layout order); <paramref name=\"outputGrad\"/> and " +
               "<paramref name=\"inputGrad\"/> must have the same shape; all dense and row-major.</summary>");
        using (w.Block("public void Backward(" + ctx.ReadOnlyTensorT + " input, " + ctx.ReadOnlyTensorT + " outputGrad, " + ctx.TensorT + " inputGrad)"))
        {
            Shared.TensorPrologue(w, spec.Layout, ("input", ctx.ReadOnlySpanT), ("outputGrad", ctx.ReadOnlySpanT), ("inputGrad", ctx.SpanT));
            w.Line("Backward(inputSpan, outputGradSpan, inputGradSpan, " + ctx.DimsFromArray + ");");
        }
        w.Line();

        // Static kernels on caller-owned buffers.
        string kernelParams = ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.DimParams + ", " + ctx.ReadOnlySpanT + " weight";
        string grads = ctx.SpanT + " weightGrad, " + ctx.SpanT + " biasGrad";
        using (w.Block("private static void CheckBackward(" + kernelParams + ", int statisticsLength0, int statisticsLength1, " + ctx.T + " epsilon, int weightGradLength, int biasGradLength, bool constant)"))
        {
            w.Line("int count = CheckShape(input.Length, input.Length, " + dims + ");");
            w.Line(Checks + ".Length(outputGrad.Length, count, \"outputGrad\", " + Literals.String(dims) + ");");
            w.Line(Checks + ".Length(inputGrad.Length, count, \"inputGrad\", " + Literals.String(dims) + ");");
            w.Line("int parameters = ParameterCount(" + dims + ");");
            w.Line(Checks + ".VectorLength(weight.Length, parameters, nameof(weight), " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line(Checks + ".VectorLength(weightGradLength, parameters, \"weightGrad\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line(Checks + ".VectorLength(biasGradLength, parameters, \"biasGrad\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line("int statistics = StatisticCount(" + dims + ");");
            // With running statistics (N reduced) the constant-statistics backward takes them in the slots of the batch ones.
            string[] running = { "runningMean", "runningVar" };
            for (int i = 0; i < ctx.Outputs.Count; i++)
            {
                string name = Literals.String(ctx.Outputs[i].Parameter);
                w.Line(Checks + ".VectorLength(statisticsLength" + Literals.Int(i) + ", statistics, " + (plan.BatchReduced ? "constant ? " + Literals.String(running[i]) + " : " + name : name) +
                       ", \"one per statistic: " + ctx.KeptText + "\");");
            }
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            w.Line(Checks + ".NoPartialOverlap(input, inputGrad, nameof(inputGrad));");
            w.Line(Checks + ".NoPartialOverlap(outputGrad, inputGrad, nameof(inputGrad), nameof(outputGrad));");
        }
        w.Line();

        string statParams = ctx.OutputParams(ctx.ReadOnlySpanT);
        string lengths = ctx.Slots(ctx.Outputs.Select(o => o.Parameter + ".Length").ToArray()).Replace("default", "0");
        string stats = ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray());
        string checkArgs = "input, outputGrad, inputGrad, " + dims + ", weight";
        w.Line("/// <summary>Backward of ForwardTraining on caller-owned buffers: the batch statistics it wrote (" + plan.Kind.StatisticsText.Replace(" and ", ", ") +
               ") and the same epsilon. Writes inputGrad, ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " BackwardTraining(" + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon, " + grads + ")"))
        {
            w.Line("CheckBackward(" + checkArgs + ", " + lengths + ", epsilon, weightGrad.Length, biasGrad.Length, false);");
            EmitGradientOutputsDisjoint(w);
            w.Line("return RunBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, " + stats + ", epsilon, false, weightGrad, biasGrad);");
        }
        w.Line();
        w.Line("/// <summary>As BackwardTraining, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " BackwardTrainingOnPath<TOps>(" + KernelPath + " path, " + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon, " + grads + ") where TOps : struct, " + Ops))
        {
            w.Line("CheckBackward(" + checkArgs + ", " + lengths + ", epsilon, weightGrad.Length, biasGrad.Length, false);");
            EmitGradientOutputsDisjoint(w);
            w.Line(Checks + ".PathAvailable(path, ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return BackwardCore<TOps>(path, input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, " + stats + ", epsilon, false, weightGrad, biasGrad);");
        }
        w.Line();
        if (plan.BatchReduced)
        {
            string runParams = ctx.ReadOnlySpanT + " runningMean, " + ctx.ReadOnlySpanT + " runningVar";
            w.Line("/// <summary>Backward of ForwardInference (statistics held constant, as for a frozen BatchNorm): inputGrad = outputGrad * weight / sqrt(runningVar + epsilon);" +
                   " ADDS into weightGrad and biasGrad. Returns the path that ran.</summary>");
            using (w.Block("public static " + KernelPath + " BackwardInference(" + kernelParams + ", " + runParams + ", " + ctx.T + " epsilon, " + grads + ")"))
            {
                w.Line("CheckBackward(" + checkArgs + ", runningMean.Length, runningVar.Length, epsilon, weightGrad.Length, biasGrad.Length, true);");
                EmitGradientOutputsDisjoint(w);
                w.Line("return RunBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, runningMean, runningVar, epsilon, true, weightGrad, biasGrad);");
            }
            w.Line();
            w.Line("/// <summary>As BackwardInference, on a forced path with a given 128-bit ops type.</summary>");
            using (w.Block("internal static " + KernelPath + " BackwardInferenceOnPath<TOps>(" + KernelPath + " path, " + kernelParams + ", " + runParams + ", " + ctx.T + " epsilon, " + grads + ") where TOps : struct, " + Ops))
            {
                w.Line("CheckBackward(" + checkArgs + ", runningMean.Length, runningVar.Length, epsilon, weightGrad.Length, biasGrad.Length, true);");
                EmitGradientOutputsDisjoint(w);
                w.Line(Checks + ".PathAvailable(path, ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), nameof(path));");
                w.Line("return BackwardCore<TOps>(path, input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, runningMean, runningVar, epsilon, true, weightGrad, biasGrad);");
            }
            w.Line();
        }
    }

    /// <summary>The static backward kernels write inputGrad, then add into weightGrad and biasGrad: three separate buffers.</summary>
    private static void EmitGradientOutputsDisjoint(SourceWriter w) => w.Line(Checks + ".GradientOutputs(inputGrad, weightGrad, biasGrad);");

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
        using (w.Block("public void GradientReduce" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, nint from0, nint to0, ref " + t + " m, ref " + t + " dz, ref double u, ref double v, ref double z)" + VectorIsa.PathConstraint(t)))
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
                    w.Line(runs + ".ReduceColumns(ref " + At("x", rowsFrom) + ", ref " + At("dy", rowsFrom) + ", " + (rowChunk ? "to0 - from0" : "len" + I(n - 2)) + ", len" + I(n - 1) +
                           ", ref " + At("m", fo) + ", ref " + At("dz", fo) + ", ref " + At("u", fo) + ", ref " + At("v", fo) + ", ref " + At("z", fo) + ");");
                }
                else
                {
                    w.Line(runs + (vector ? ".ReduceLanes(" : ".Reduce(") + "ref " + At("x", xo) + ", ref " + At("dy", xo) + ", len" + I(n - 1) + ", " +
                           (vector ? "ref " + At("m", fo) + ", ref " + At("dz", fo) : Unsafe + ".Add(ref m, " + fo + "), " + Unsafe + ".Add(ref dz, " + fo + ")") +
                           ", ref " + At("u", fo) + ", ref " + At("v", fo) + ", ref " + At("z", fo) + ");");
                }
            });
        }
        w.Line();

        w.Line("/// <summary>Backward apply on one block (or the chunk [from0, to0) of its first segment): dx = dy * P[f] + (x + m[f]) * Q[f] + R[f].</summary>");
        using (w.Block("public void GradientApply" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, nint from0, nint to0, ref " + t + " m, ref " + t + " cp, ref " + t + " cq, ref " + t + " cr, ref " + t + " dz)" + VectorIsa.PathConstraint(t)))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            string method = runs + ".Apply<" + Rt + (vector ? ".Lanes>" : ".Splat>");
            EmitNest(w, loops, spaces.ToDictionary(s => s.Item1, s => "(nint)0"), o =>
            {
                string xo = o["x"], fo = o["f"];
                w.Line(method + "(ref " + At("x", xo) + ", ref " + At("dy", xo) + ", ref " + At("dx", xo) + ", len" + I(n - 1) + ", ref " +
                       At("m", fo) + ", ref " + At("cp", fo) + ", ref " + At("cq", fo) + ", ref " + At("cr", fo) + ", ref " + At("dz", fo) + ");");
            });
        }
        w.Line();
    }
}
