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
    private const string Checks = "global::NormKernels.Runtime.Checks";
    private const string KernelPath = "global::NormKernels.KernelPath";
    private const string Ops = "global::NormKernels.Runtime.IVector128Ops";
    private const string TensorArgs = "global::NormKernels.Runtime.TensorArgs";
    private const string Rt = "global::NormKernels.Runtime";

    /// <summary>The runtime types behind the thread contract and Backward's input check.</summary>
    private static class Guard
    {
        public const string CallGuard = "global::NormKernels.Runtime.CallGuard";
        public const string Fingerprint = "global::NormKernels.Runtime.Fingerprint";
    }


    public static string Emit(NormSpec spec, KernelPlan plan)
    {
        var ctx = new Context(spec, plan);
        var w = new SourceWriter();
        var closers = Shared.Open(w, spec.FullName, spec.Namespace, spec.Containers);

        EmitPlanRemarks(w, ctx);
        Shared.Marks(w, spec.Marks);
        using (w.Block("partial class " + spec.TypeName + " : " + ctx.Interface + SynchronizedInterface(ctx)))
        {
            EmitSurface(w, ctx);
            EmitForward(w, ctx);
            EmitStatics(w, ctx);
            EmitBackwardSurface(w, ctx);
            EmitCores(w, ctx);
            EmitBackwardCores(w, ctx);
            EmitShards(w, ctx);
            EmitSynchronizedBackward(w, ctx);
            EmitAdaptive(w, ctx);
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
        w.Line("/// <para>Paths: Vector512 (AVX-512), Vector256 (AVX2+FMA), Vector128 (SSE / AdvSimd), scalar; chosen per call by the innermost extents.</para>");
        w.Line("/// <para>Threads: the static kernels (ForwardTraining, " + (plan.BatchReduced ? "ForwardInference, " : "") + "BackwardTraining, " +
               (plan.BatchReduced ? "BackwardInference, " : "") + (plan.Shards ? "ShardStatistics, " : "") + (plan.Adaptive ? "AdaptiveForward, " : "") +
               "StatisticCount) keep no state and may run from any number of threads at once. On one instance, inference-mode Forward calls " +
               "(Training false) may run from any number of threads at once; a training-mode Forward" + (plan.BatchReduced ? ", ForwardWithStatistics" : "") +
               ", any Backward and ZeroGrad write the instance's state (saved batch statistics" + (plan.BatchReduced ? ", running statistics" : "") +
               ", WeightGrad and BiasGrad) and need the instance alone: a call that would overlap another call on the same instance that it cannot share with " +
               "is refused with an InvalidOperationException before it reads or writes anything (nothing waits). Changing Weight, Bias" +
               (plan.BatchReduced ? ", RunningMean, RunningVar" : "") + ", Epsilon or Training while a call runs is not detected. Use one instance per thread for parallel training.</para>");
        w.Line("/// </remarks>");
    }

    private static void EmitSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        if (spec.Groups > 0) w.Line("private const int GroupCount = " + Literals.Int(spec.Groups) + ";");
        if (ctx.SizeParam.Length > 0) w.Line("private readonly int _" + ctx.SizeParam + ";");
        w.Line("private " + ctx.T + " _epsilon;");
        if (plan.BatchReduced) w.Line("private " + ctx.T + " _momentum;");
        for (int i = 0; i < ctx.Outputs.Count; i++)
            w.Line("private " + ctx.T + "[] _batchStatistic" + Literals.Int(i) + " = global::System.Array.Empty<" + ctx.T + ">();");
        if (plan.Kind.Centered) w.Line("private " + ctx.T + "[] _batchMeanResidual = global::System.Array.Empty<" + ctx.T + ">(); // mean - (" + ctx.T + ")mean: the batch mean in double, for Backward");
        w.Line("private long _savedLength = -1;");
        w.Line("private " + ctx.T + " _savedEpsilon;");
        w.Line("// What Backward checks its arguments against: the dims and sampled input elements of the last training Forward.");
        w.Line("private readonly int[] _savedDims = new int[" + Literals.Int(spec.Layout.Length) + "];");
        w.Line("private readonly " + ctx.T + "[] _fingerprint = new " + ctx.T + "[" + Guard.Fingerprint + ".Count];");
        w.Line("// The thread contract (see the class remarks): > 0 inference Forward calls running, -1 a call that writes the instance's state.");
        w.Line("private int _guard;");
        w.Line();

        string ctorParams = string.Join(", ", new[]
        {
            ctx.SizeParam.Length > 0 ? "int " + ctx.SizeParam : null,
            ctx.T + " epsilon = " + ctx.Literal(spec.Epsilon),
            plan.BatchReduced ? ctx.T + " momentum = " + ctx.Literal(spec.Momentum) : null,
        }.Where(p => p != null));
        w.Line("/// <summary>Creates the layer with " + (ctx.SizeParam == "channels" ? "one weight and bias per channel" :
            ctx.SizeParam == "normalizedSize" ? "one weight and bias per element of a sample (" + ctx.SampleDimsText + ", layout order)" : "no learned parameters") +
            (plan.BatchReduced ? " and running statistics" : "") + ".</summary>");
        if (ctx.SizeParam.Length > 0)
            w.Line("/// <param name=\"" + ctx.SizeParam + "\">" + (ctx.SizeParam == "channels" ? "The channel count C." : "The product of the non-batch dims (" + ctx.SampleDimsText + ").") + "</param>");
        w.Line("/// <param name=\"epsilon\">Added to the variance inside the square root.</param>");
        if (plan.BatchReduced) w.Line("/// <param name=\"momentum\">running = (1 - momentum) * running + momentum * batch.</param>");
        using (w.Block("public " + spec.TypeName + "(" + ctorParams + ")"))
        {
            if (ctx.SizeParam.Length > 0)
            {
                w.Line(Checks + ".Size(" + ctx.SizeParam + ", nameof(" + ctx.SizeParam + "));");
                if (spec.Groups > 0 && ctx.SizeParam == "channels")
                    w.Line(Checks + ".Divisible(channels, GroupCount, nameof(channels));");
            }
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            if (plan.BatchReduced) w.Line(Checks + ".Momentum(momentum, nameof(momentum));");
            if (ctx.SizeParam.Length > 0) w.Line("_" + ctx.SizeParam + " = " + ctx.SizeParam + ";");
            w.Line("_epsilon = epsilon;");
            if (plan.BatchReduced) w.Line("_momentum = momentum;");
            string paramLength = spec.HasAffine ? ctx.SizeParam : "0";
            w.Line("Weight = new " + ctx.T + "[" + paramLength + "];");
            w.Line("global::System.MemoryExtensions.AsSpan(Weight).Fill(" + ctx.Literal(1) + ");");
            w.Line("Bias = new " + ctx.T + "[" + paramLength + "];");
            w.Line("WeightGrad = new " + ctx.T + "[" + paramLength + "];");
            w.Line("BiasGrad = new " + ctx.T + "[" + paramLength + "];");
            if (plan.BatchReduced)
            {
                w.Line("RunningMean = new " + ctx.T + "[" + plan.RunningSize + "];");
                w.Line("RunningVar = new " + ctx.T + "[" + plan.RunningSize + "];");
                w.Line("global::System.MemoryExtensions.AsSpan(RunningVar).Fill(" + ctx.Literal(1) + ");");
            }
        }
        w.Line();

        w.Line("/// <summary>Gamma, " + (spec.HasAffine ? ctx.ParamShapeText + "; ones at construction." : "empty: this layer has no affine parameters.") + "</summary>");
        w.Line("public " + ctx.T + "[] Weight { get; }");
        w.Line("/// <summary>Beta, " + (spec.HasAffine ? ctx.ParamShapeText + "; zeros at construction." : "empty: this layer has no affine parameters.") + "</summary>");
        w.Line("public " + ctx.T + "[] Bias { get; }");
        if (plan.BatchReduced)
        {
            w.Line("/// <summary>Running mean per statistic (" + plan.RunningSize + " entries); zeros at construction.</summary>");
            w.Line("public " + ctx.T + "[] RunningMean { get; }");
            w.Line("/// <summary>Running unbiased variance per statistic; ones at construction.</summary>");
            w.Line("public " + ctx.T + "[] RunningVar { get; }");
            w.Line("/// <summary>running = (1 - Momentum) * running + Momentum * batch; in [0, 1].</summary>");
            using (w.Block("public " + ctx.T + " Momentum"))
            {
                w.Line("get => _momentum;");
                w.Line("set { " + Checks + ".Momentum(value, nameof(Momentum)); _momentum = value; }");
            }
        }
        w.Line("/// <summary>Added to the variance inside the square root; positive.</summary>");
        using (w.Block("public " + ctx.T + " Epsilon"))
        {
            w.Line("get => _epsilon;");
            w.Line("set { " + Checks + ".Epsilon(value, nameof(Epsilon)); _epsilon = value; }");
        }
        w.Line("/// <summary>" + (plan.BatchReduced
            ? "Training (default): batch statistics, running statistics updated. Otherwise: running statistics."
            : "Statistics are per sample, so training and inference compute the same output; training also checks each statistic has more than one value " +
              "and saves the statistics for Backward (so a training-mode Forward needs the instance alone, while inference-mode Forward calls may share it between threads).") + "</summary>");
        w.Line("public bool Training { get; set; } = true;");
        w.Line("/// <summary>The instruction-set path the last Forward ran on (the narrowest of its passes).</summary>");
        w.Line("public " + KernelPath + " LastPath { get; private set; }");
        w.Line();
        for (int i = 0; i < ctx.Outputs.Count; i++)
        {
            w.Line("/// <summary>" + ctx.Outputs[i].Summary + "</summary>");
            w.Line("public " + ctx.ReadOnlySpanT + " " + ctx.Outputs[i].Property + " => _batchStatistic" + Literals.Int(i) + ";");
        }
        w.Line();
        w.Line("string " + ctx.DeclaringInterface + ".Layout => " + Literals.String(spec.Layout) + ";");
        w.Line("string " + ctx.DeclaringInterface + ".Axes => " + Literals.String(ctx.AxesText) + ";");
        w.Line("int " + ctx.DeclaringInterface + ".Groups => " + Literals.Int(spec.Groups) + ";");
        w.Line("global::NormKernels.NormKind " + ctx.DeclaringInterface + ".Kind => global::NormKernels.NormKind." + plan.Kind.EnumMember + ";");
        w.Line("global::NormKernels.AffineMode " + ctx.DeclaringInterface + ".Affine => global::NormKernels.AffineMode." + (spec.IsPerChannel ? "PerChannel" : spec.IsElementwise ? "Elementwise" : "None") + ";");
        w.Line(ctx.T + "[]? " + ctx.DeclaringInterface + ".RunningMean => " + (plan.BatchReduced ? "RunningMean" : "null") + ";");
        w.Line(ctx.T + "[]? " + ctx.DeclaringInterface + ".RunningVar => " + (plan.BatchReduced ? "RunningVar" : "null") + ";");
        w.Line();
    }

    private static void EmitForward(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        w.Line("/// <summary>Normalizes <paramref name=\"input\"/> (" + spec.Layout + ", dims in layout order) into <paramref name=\"output\"/>, which may be the same span. " +
               "In training mode it saves, for Backward, the batch statistics, the dims and " + "16 elements of the input sampled before it is normalized" +
               (plan.BatchReduced ? ", and updates the running statistics" : "") + ": it needs the instance alone, and throws InvalidOperationException if another thread " +
               "runs a call on this instance at the same time. Inference-mode calls may run on one instance from any number of threads.</summary>");
        using (w.Block("public void Forward(" + ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.DimParams + ")"))
        {
            w.Line("CheckShape(input.Length, output.Length, " + ctx.DimArgs + ");");
            EmitLayerSizeCheck(w, ctx);
            w.Line(Checks + ".NoPartialOverlap(input, output, nameof(output));");
            // Locals have multi-letter names: every single lower-case letter may be a dim parameter.
            string paramRefs = spec.HasAffine ? "Weight, Bias" : "default, default";
            if (plan.BatchReduced)
            {
                using (w.Block("if (!Training)"))
                {
                    w.Line("// Inference reads the running statistics: shared with other inference calls, never with a call that updates them.");
                    w.Line(Guard.CallGuard + ".EnterShared(ref _guard, " + Literals.String(spec.TypeName + ".Forward (inference)") + ");");
                    using (w.Block("try"))
                        w.Line("LastPath = RunInference(ChoosePath(false, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", " + paramRefs +
                               ", RunningMean, RunningVar, _epsilon, null);");
                    using (w.Block("finally"))
                        w.Line(Guard.CallGuard + ".ExitShared(ref _guard);");
                    w.Line("return;");
                }
            }
            if (!plan.BatchReduced) w.Line("bool training = Training; // read once: it decides the checks and the path");
            if (plan.Kind.Centered)
            {
                if (plan.BatchReduced) w.Line(Checks + ".MoreThanOneValue(CountPerStatistic(" + ctx.DimArgs + "), nameof(" + ctx.FirstReducedDim + "), " + Literals.String(ctx.ReducedDimsText) + ");");
                else w.Line("if (training) " + Checks + ".MoreThanOneValue(CountPerStatistic(" + ctx.DimArgs + "), nameof(" + ctx.FirstReducedDim + "), " + Literals.String(ctx.ReducedDimsText) + ");");
            }
            w.Line("int statistics = StatisticCount(" + ctx.DimArgs + ");");
            if (!plan.BatchReduced)
            {
                using (w.Block("if (!training)"))
                {
                    w.Line("// Inference: the same statistics, in call-local buffers and not saved, so calls can share the instance between threads.");
                    w.Line(Guard.CallGuard + ".EnterShared(ref _guard, " + Literals.String(spec.TypeName + ".Forward (inference)") + ");");
                    var scratch = Enumerable.Range(0, ctx.Outputs.Count).Select(i => "scratch" + Literals.Int(i)).ToList();
                    foreach (string name in scratch) w.Line(ctx.T + "[] " + name + " = " + Pool + "<" + ctx.T + ">.Shared.Rent(statistics);");
                    using (w.Block("try"))
                        w.Line("LastPath = RunTraining(ChoosePath(true, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", " + paramRefs + ", " +
                               ctx.Slots(scratch.Select(name => "new " + ctx.SpanT + "(" + name + ", 0, statistics)").ToArray()) + ", _epsilon, null);");
                    using (w.Block("finally"))
                    {
                        foreach (string name in scratch) w.Line(Pool + "<" + ctx.T + ">.Shared.Return(" + name + ");");
                        w.Line(Guard.CallGuard + ".ExitShared(ref _guard);");
                    }
                    w.Line("return;");
                }
            }
            w.Line("// Saves statistics, dims and fingerprint for Backward" + (plan.BatchReduced ? " and updates the running statistics" : "") + ": this instance alone.");
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".Forward (training)") + ");");
            using (w.Block("try"))
            {
                w.Line("// Every field read once: the kernel writes through pointers into these very arrays.");
                var saved = Enumerable.Range(0, ctx.Outputs.Count).Select(i => "batchStatistic" + Literals.Int(i)).ToList();
                if (plan.Kind.Centered) saved.Add("batchMeanResidual");
                foreach (string name in saved) w.Line(ctx.T + "[] " + name + " = " + Rt + ".LayerState.Sized(ref _" + name + ", statistics);");
                w.Line(ctx.T + " epsilonValue = _epsilon;");
                w.Line("// The input as given, before the kernel runs (in place, it is overwritten).");
                w.Line(Guard.Fingerprint + ".Take(input, _fingerprint);");
                w.Line("_savedLength = -1;");
                w.Line("LastPath = RunTraining(ChoosePath(true, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", " + paramRefs +
                       ", " + ctx.Slots("batchStatistic0", "batchStatistic1") + ", epsilonValue, " + ctx.Residual("batchMeanResidual") + ");");
                EmitSaveDims(w, ctx);
                w.Line("_savedLength = input.Length;");
                w.Line("_savedEpsilon = epsilonValue;");
                if (plan.BatchReduced)
                {
                    w.Line("// PyTorch's update: the running variance takes the unbiased batch variance.");
                    w.Line(Rt + ".LayerState.UpdateRunning(RunningMean, RunningVar, batchStatistic0, batchStatistic1, batchMeanResidual, CountPerStatistic(" + ctx.DimArgs + "), _momentum);");
                }
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
        w.Line();
        using (w.Block("void " + ctx.DeclaringInterface + ".Forward(" + ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, global::System.ReadOnlySpan<int> dims)"))
        {
            w.Line(Checks + ".Rank(dims.Length, " + Literals.String(spec.Layout) + ", nameof(dims));");
            w.Line("Forward(input, output, " + string.Join(", ", spec.Layout.Select((_, i) => "dims[" + Literals.Int(i) + "]")) + ");");
        }
        w.Line();
        w.Line("/// <summary>Forward on tensors: the dims come from <paramref name=\"input\"/>'s lengths, which must be " + spec.Layout +
               " in layout order; <paramref name=\"output\"/> must have the same shape; both dense and row-major.</summary>");
        using (w.Block("public void Forward(" + ctx.ReadOnlyTensorT + " input, " + ctx.TensorT + " output)"))
        {
            EmitTensorPrologue(w, ctx);
            w.Line("Forward(inputSpan, outputSpan, " + ctx.DimsFromArray + ");");
        }
        w.Line();
    }

    /// <summary>ForwardTraining writes the statistics while it reads the input and writes the output: they must not share memory.</summary>
    private static void EmitStatisticsOutputsDisjoint(SourceWriter w, Context ctx)
    {
        var names = ctx.Outputs.Select(o => o.Parameter).ToList();
        w.Line(Checks + ".StatisticsOutputs(input, output, " + names[0] + ", nameof(" + names[0] + "), " +
               (names.Count > 1 ? names[1] + ", nameof(" + names[1] + ")" : "default, null") + ");");
    }

    /// <summary>Saves the dims of a training forward for Backward's shape check.</summary>
    private static void EmitSaveDims(SourceWriter w, Context ctx) =>
        w.Line(Rt + ".LayerState.SaveDims(_savedDims, stackalloc int[] { " + ctx.DimArgs + " });");

    /// <summary>The dims against the layer's own size: <c>c</c> against its channels, or the sample dims against its normalizedSize.</summary>
    private static void EmitLayerSizeCheck(SourceWriter w, Context ctx)
    {
        if (ctx.SizeParam == "channels")
            w.Line(Checks + ".Equal(c, _channels, nameof(c), \"the layer's channel count\");");
        else if (ctx.SizeParam == "normalizedSize")
            w.Line(Checks + ".Product(ParameterCount(" + ctx.DimArgs + "), _normalizedSize, nameof(" + ctx.FirstSampleDim + "), " +
                Literals.String(ctx.SampleDimsText) + ", \"the layer's normalizedSize\");");
    }

    /// <summary>Reads input/output tensors into spans and dims (checked against the layout and each other).</summary>
    private static void EmitTensorPrologue(SourceWriter w, Context ctx) =>
        Shared.TensorPrologue(w, ctx.Spec.Layout, ("input", ctx.ReadOnlySpanT), ("output", ctx.SpanT));

    private static void EmitStatics(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string dimsText = Literals.String(ctx.DimArgs);

        using (w.Block("private static int CheckShape(int inputLength, int outputLength, " + ctx.DimParams + ")"))
        {
            foreach (char letter in spec.Layout)
            {
                string d = char.ToLowerInvariant(letter).ToString();
                w.Line(Checks + ".Positive(" + d + ", nameof(" + d + "));");
            }
            if (spec.Groups > 0) w.Line(Checks + ".Divisible(c, GroupCount, nameof(c));");
            w.Line("int count = " + ctx.CheckedCount + ";");
            w.Line(Checks + ".Length(inputLength, count, \"input\", " + dimsText + ");");
            w.Line(Checks + ".Length(outputLength, count, \"output\", " + dimsText + ");");
            w.Line("return count;");
        }
        w.Line();

        w.Line("/// <summary>The number of statistics (mean/variance entries) for these dims: the product of the kept extents (" + ctx.KeptText + ").</summary>");
        using (w.Block("public static int StatisticCount(" + ctx.DimParams + ")"))
        {
            foreach (char letter in spec.Layout)
            {
                string d = char.ToLowerInvariant(letter).ToString();
                w.Line(Checks + ".Positive(" + d + ", nameof(" + d + "));");
            }
            if (spec.Groups > 0) w.Line(Checks + ".Divisible(c, GroupCount, nameof(c));");
            w.Line("return " + ctx.CheckedExtents(plan.Axes.Where(a => !a.Reduced), ctx.KeptText) + ";");
        }
        w.Line();
        w.Line("private static long CountPerStatistic(" + ctx.DimParams + ") => " + ctx.CheckedExtents(plan.Axes.Where(a => a.Reduced), ctx.ReducedDimsText) + ";");
        w.Line();
        w.Line("private static int ParameterCount(" + ctx.DimParams + ") => " + ctx.ParameterCountExpr + ";");
        w.Line();

        // Which path: the widest whose vector fits the innermost extent of every pass that runs.
        string applyExtent = ctx.Clamp(ctx.ApplyInnerExtent), statExtent = ctx.Clamp(ctx.StatInnerExtent);
        if (applyExtent == statExtent)
        {
            // Both passes run over the same innermost extent: one choice serves training and inference.
            w.Line("private static " + KernelPath + " ChoosePath(bool training, " + ctx.ExtentParams + ") => global::NormKernels.Isa.Select<" + ctx.T + ">(" + applyExtent + ");");
        }
        else
        {
            using (w.Block("private static " + KernelPath + " ChoosePath(bool training, " + ctx.ExtentParams + ")"))
            {
                w.Line(KernelPath + " apply = global::NormKernels.Isa.Select<" + ctx.T + ">(" + applyExtent + ");");
                w.Line("if (!training) return apply;");
                w.Line(KernelPath + " statistics = global::NormKernels.Isa.Select<" + ctx.T + ">(" + statExtent + ");");
                w.Line("return statistics < apply ? statistics : apply;");
            }
        }
        w.Line();

        // Static kernels for callers who own their buffers.
        string statParams = ctx.OutputParams(ctx.SpanT);
        string statArgs = ctx.OutputArgs;
        string driverArgs = ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray()) + ", epsilon, null";
        string kernelParams = ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.DimParams + ", " + ctx.ReadOnlySpanT + " weight, " + ctx.ReadOnlySpanT + " bias";
        string kernelArgs = "input, output, " + ctx.DimArgs + ", weight, bias";

        using (w.Block("private static void CheckKernel(" + kernelParams + ", int statisticsLength0, int statisticsLength1, " + ctx.T + " epsilon, bool training)"))
        {
            w.Line("CheckShape(input.Length, output.Length, " + ctx.DimArgs + ");");
            w.Line("int parameters = ParameterCount(" + ctx.DimArgs + ");");
            w.Line(Checks + ".VectorLength(weight.Length, parameters, nameof(weight), " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line(Checks + ".VectorLength(bias.Length, parameters, nameof(bias), " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line("int statistics = StatisticCount(" + ctx.DimArgs + ");");
            for (int i = 0; i < ctx.Outputs.Count; i++)
                w.Line(Checks + ".VectorLength(statisticsLength" + Literals.Int(i) + ", statistics, " + Literals.String(ctx.Outputs[i].Parameter) + ", \"one per statistic: " + ctx.KeptText + "\");");
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            if (plan.Kind.Centered)
                w.Line("if (training) " + Checks + ".MoreThanOneValue(CountPerStatistic(" + ctx.DimArgs + "), nameof(" + ctx.FirstReducedDim + "), " + Literals.String(ctx.ReducedDimsText) + ");");
            w.Line(Checks + ".NoPartialOverlap(input, output, nameof(output));");
        }
        w.Line();

        string lengths = ctx.Slots(ctx.Outputs.Select(o => o.Parameter + ".Length").ToArray()).Replace("default", "0");
        w.Line("/// <summary>Training forward on caller-owned buffers: batch statistics (" +
               plan.Kind.StatisticsText + ", one per statistic, see StatisticCount) are written and used to normalize." +
               " Weight and bias: " + ctx.ParamShapeText + ". Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " ForwardTraining(" + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon)"))
        {
            w.Line("CheckKernel(" + kernelArgs + ", " + lengths + ", epsilon, training: true);");
            EmitStatisticsOutputsDisjoint(w, ctx);
            w.Line("return RunTraining(ChoosePath(true, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", weight, bias, " + driverArgs + ");");
        }
        w.Line();
        w.Line("/// <summary>ForwardTraining on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); output of the same shape.</summary>");
        using (w.Block("public static " + KernelPath + " ForwardTraining(" + ctx.ReadOnlyTensorT + " input, " + ctx.TensorT + " output, " + ctx.ReadOnlySpanT + " weight, " + ctx.ReadOnlySpanT + " bias, " + statParams + ", " + ctx.T + " epsilon)"))
        {
            EmitTensorPrologue(w, ctx);
            w.Line("return ForwardTraining(inputSpan, outputSpan, " + ctx.DimsFromArray + ", weight, bias, " + statArgs + ", epsilon);");
        }
        w.Line();
        w.Line("/// <summary>As ForwardTraining, on a forced path with a given 128-bit ops type (tests run the ARM64 path's logic on x86 this way).</summary>");
        using (w.Block("internal static " + KernelPath + " ForwardTrainingOnPath<TOps>(" + KernelPath + " path, " + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon) where TOps : struct, " + Ops))
        {
            w.Line("CheckKernel(" + kernelArgs + ", " + lengths + ", epsilon, training: true);");
            EmitStatisticsOutputsDisjoint(w, ctx);
            w.Line(Checks + ".PathAvailable(path, ChoosePath(true, " + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return TrainingCore<TOps>(path, input, output, " + ctx.ExtentArgsFromDims + ", weight, bias, " + driverArgs + ");");
        }
        w.Line();
        if (plan.BatchReduced)
        {
            w.Line("/// <summary>Inference forward on caller-owned buffers with given statistics (one per statistic): y = (x - mean) / sqrt(variance + epsilon) * weight + bias, folded to one multiply-add per element. Returns the path that ran.</summary>");
            using (w.Block("public static " + KernelPath + " ForwardInference(" + kernelParams + ", " + ctx.ReadOnlySpanT + " mean, " + ctx.ReadOnlySpanT + " variance, " + ctx.T + " epsilon)"))
            {
                w.Line("CheckKernel(" + kernelArgs + ", mean.Length, variance.Length, epsilon, training: false);");
                w.Line("return RunInference(ChoosePath(false, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", weight, bias" +
                       ", mean, variance, epsilon, null);");
            }
            w.Line();
            w.Line("/// <summary>ForwardInference on tensors: dims from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", dense row-major); output of the same shape.</summary>");
            using (w.Block("public static " + KernelPath + " ForwardInference(" + ctx.ReadOnlyTensorT + " input, " + ctx.TensorT + " output, " + ctx.ReadOnlySpanT + " weight, " + ctx.ReadOnlySpanT + " bias, " + ctx.ReadOnlySpanT + " mean, " + ctx.ReadOnlySpanT + " variance, " + ctx.T + " epsilon)"))
            {
                EmitTensorPrologue(w, ctx);
                w.Line("return ForwardInference(inputSpan, outputSpan, " + ctx.DimsFromArray + ", weight, bias, mean, variance, epsilon);");
            }
            w.Line();
            w.Line("/// <summary>As ForwardInference, on a forced path with a given 128-bit ops type.</summary>");
            using (w.Block("internal static " + KernelPath + " ForwardInferenceOnPath<TOps>(" + KernelPath + " path, " + kernelParams + ", " + ctx.ReadOnlySpanT + " mean, " + ctx.ReadOnlySpanT + " variance, " + ctx.T + " epsilon) where TOps : struct, " + Ops))
            {
                w.Line("CheckKernel(" + kernelArgs + ", mean.Length, variance.Length, epsilon, training: false);");
                w.Line(Checks + ".PathAvailable(path, ChoosePath(false, " + ctx.ExtentArgsFromDims + "), nameof(path));");
                w.Line("return InferenceCore<TOps>(path, input, output, " + ctx.ExtentArgsFromDims + ", weight, bias" +
                       ", mean, variance, epsilon, null);");
            }
            w.Line();
        }
    }
}
