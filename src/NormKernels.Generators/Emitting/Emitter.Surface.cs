using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// The layer's public surface: a forwarder per member. The state and the instance calls are the runtime's
/// <c>NormLayer&lt;Nest, Kind, T&gt;</c>, the static kernels its <c>Kernels&lt;Nest, Kind, T&gt;</c>: argument checks, thread
/// guard, saved statistics, path choice and tensor arguments are written once there, for every layer. What is left here is
/// what only this layer has: its signatures (one parameter per layout letter), its documentation and its nest.
/// </summary>
internal static partial class Emitter
{
    private const string KernelsType = "Kernels";

    private static string LayerType(Context ctx) => ctx.Half ? Rt + ".HalfLayer<" + NestType + ", " + KindType(ctx) + ">"
        : Rt + ".NormLayer<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">";

    /// <summary>"[n, c, h, w]": the dims as a span argument (a collection expression: on the stack).</summary>
    private static string DimsSpan(Context ctx) => "[" + ctx.DimArgs + "]";

    private static void EmitSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        // A get-only auto-property, not a field: a source field costs a cold compiler about 50 more of its methods to JIT
        // (constant-field ordering) in a build (issue 10's build cost); the JIT inlines the getter.
        w.Line("private " + LayerType(ctx) + " _layer { get; }");
        w.Line();
        w.Line("/// <summary>The static kernels: the runtime's, on this layer's nest and kind.</summary>");
        w.Line("private abstract class " + KernelsType + " : " + Rt + (ctx.Half ? ".HalfKernels<" + NestType + ", " + KindType(ctx) + ">;" : ".Kernels<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">;"));
        w.Line();

        string ctorParams = string.Join(", ", new[]
        {
            ctx.SizeParam.Length > 0 ? "int " + ctx.SizeParam : null,
            ctx.T + " epsilon = " + ctx.Literal(spec.Epsilon),
            ctx.Running ? ctx.T + "? momentum = " + ctx.Literal(spec.Momentum) : null,
        }.Where(p => p != null));
        w.Line("/// <summary>Creates the layer with " + (ctx.SizeParam == "channels" ? "one weight and bias per channel" :
            ctx.SizeParam == "normalizedSize" ? "one weight and bias per element of a sample (" + ctx.SampleDimsText + ", layout order)" : "no learned parameters") +
            (ctx.Running ? " and running statistics" : "") + ".</summary>");
        if (ctx.SizeParam.Length > 0)
            w.Line("/// <param name=\"" + ctx.SizeParam + "\">" + (ctx.SizeParam == "channels" ? "The channel count C." : "The product of the non-batch dims (" + ctx.SampleDimsText + ").") + "</param>");
        w.Line("/// <param name=\"epsilon\">Added to the variance inside the square root.</param>");
        if (ctx.Running) w.Line("/// <param name=\"momentum\">running = (1 - momentum) * running + momentum * batch; null: the cumulative moving average, momentum = 1 / NumBatchesTracked (PyTorch's momentum=None).</param>");
        string size = ctx.SizeParam.Length > 0 ? ctx.SizeParam + ", nameof(" + ctx.SizeParam + ")" : "0, null";
        w.Line("public " + spec.Name.TypeName + "(" + ctorParams + ") => _layer = new(" + size + ", epsilon, " + (ctx.Running ? "momentum" : "default") + ", " +
               (ctx.Running ? plan.RunningSize : "0") + ");");
        w.Line();

        w.Line("/// <summary>Gamma, " + (spec.HasAffine ? ctx.ParamShapeText + "; ones at construction." : "empty: this layer has no affine parameters.") + "</summary>");
        w.Line("public " + ctx.T + "[] Weight => _layer.Weight;");
        w.Line("/// <summary>Beta, " + (spec.HasAffine ? ctx.ParamShapeText + "; zeros at construction." : "empty: this layer has no affine parameters.") + "</summary>");
        w.Line("public " + ctx.T + "[] Bias => _layer.Bias;");
        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Weight\"/>, accumulated by every Backward (PyTorch semantics: call <see cref=\"ZeroGrad\"/> between steps).</summary>");
        w.Line("public " + ctx.T + "[] WeightGrad => _layer.WeightGrad;");
        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Bias\"/>, accumulated by every Backward.</summary>");
        w.Line("public " + ctx.T + "[] BiasGrad => _layer.BiasGrad;");
        if (ctx.Running)
        {
            w.Line("/// <summary>Running mean per statistic (" + plan.RunningSize + " entries); zeros at construction.</summary>");
            w.Line("public " + ctx.T + "[] RunningMean => _layer.RunningMean!;");
            w.Line("/// <summary>Running unbiased variance per statistic; ones at construction.</summary>");
            w.Line("public " + ctx.T + "[] RunningVar => _layer.RunningVar!;");
            w.Line("/// <summary>running = (1 - Momentum) * running + Momentum * batch; in [0, 1]. Null: the cumulative moving average of every batch since construction " +
                   "(or ResetRunningStats), Momentum = 1 / NumBatchesTracked for each update (PyTorch's momentum=None).</summary>");
            w.Line("public " + ctx.T + "? Momentum { get => _layer.Momentum; set => _layer.Momentum = value; }");
        }
        w.Line("/// <summary>Added to the variance inside the square root; positive.</summary>");
        w.Line("public " + ctx.T + " Epsilon { get => _layer.Epsilon; set => _layer.Epsilon = value; }");
        w.Line("/// <summary>" + (ctx.Running
            ? "Training (default): batch statistics, running statistics updated. Otherwise: running statistics."
            : plan.BatchReduced
            ? "No running statistics (TrackRunningStats = false): training (default) and inference both normalize with the batch's own statistics; training also " +
              "checks each statistic has more than one value and saves the statistics for Backward (so a training-mode Forward needs the instance alone, while " +
              "inference-mode Forward calls may share it between threads)."
            : "Statistics are per sample, so training and inference compute the same output; training also checks each statistic has more than one value " +
              "and saves the statistics for Backward (so a training-mode Forward needs the instance alone, while inference-mode Forward calls may share it between threads).") + "</summary>");
        w.Line("public bool Training { get => _layer.Training; set => _layer.Training = value; }");
        w.Line("/// <summary>The instruction-set path the last Forward ran on (the narrowest of its passes).</summary>");
        w.Line("public " + KernelPath + " LastPath => _layer.LastPath;");
        for (int i = 0; i < ctx.Outputs.Count; i++)
        {
            w.Line("/// <summary>" + ctx.Outputs[i].Summary + "</summary>");
            w.Line("public " + ctx.ParamReadOnlySpan + " " + ctx.Outputs[i].Property + " => _layer.Statistic" + Literals.Int(i) + ";");
        }
        w.Line();
        if (ctx.Residual || ctx.Half) return;
        // The interface members that only forward (Layout, Axes, Groups, Kind, Affine, RunningMean, RunningVar, the dims forms
        // of Forward and Backward, the synchronized steps) have default bodies that forward to the runtime layer: one member here.
        w.Line(ctx.DeclaringInterface + " " + ctx.DeclaringInterface + ".Core => _layer;");
        w.Line();
    }

    private static string AffineMember(NormSpec spec) => spec.IsPerChannel ? "PerChannel" : spec.IsElementwise ? "Elementwise" : "None";

    private static void EmitForward(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string ro = ctx.ReadOnlySpanT, span = ctx.SpanT;
        if (ctx.Residual)
        {
            EmitResidualForward(w, ctx);
            return;
        }
        w.Line("/// <summary>Normalizes <paramref name=\"input\"/> (" + spec.Layout + ", dims in layout order) into <paramref name=\"output\"/>, which may be the same span. " +
               "In training mode it saves, for Backward, the batch statistics, the dims and 16 elements of the input sampled before it is normalized" +
               (ctx.Running ? ", and updates the running statistics" : "") + ": it needs the instance alone, and throws InvalidOperationException if another thread " +
               "runs a call on this instance at the same time. Inference-mode calls may run on one instance from any number of threads.</summary>");
        w.Line(Shared.Hot);
        w.Line("public void Forward(" + ro + " input, " + span + " output, " + ctx.DimParams + ") => _layer.Forward(input, output, " + DimsSpan(ctx) + ");");
        w.Line("/// <summary>Forward on tensors: the dims come from <paramref name=\"input\"/>'s lengths, which must be " + spec.Layout +
               " in layout order; <paramref name=\"output\"/> must have the same shape; both dense and row-major.</summary>");
        w.Line(Shared.Hot);
        w.Line("public void Forward(" + ctx.ReadOnlyTensorT + " input, " + ctx.TensorT + " output) => _layer.Forward(input, output);");
        w.Line();

        w.Line("/// <summary>The number of statistics (mean/variance entries) for these dims: the product of the kept extents (" + ctx.KeptText + ").</summary>");
        w.Line("public static int StatisticCount(" + ctx.DimParams + ") => " + KernelsType + ".StatisticCount(" + DimsSpan(ctx) + ");");
        w.Line();

        string weights = ctx.ParamReadOnlySpan + " weight, " + ctx.ParamReadOnlySpan + " bias";
        string outs = ctx.OutputParams(ctx.ParamSpan);
        string slots = ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray());
        w.Line("/// <summary>Training forward on caller-owned buffers: batch statistics (" + plan.Kind.StatisticsText + ", one per statistic, see StatisticCount) are written " +
               "and used to normalize. Weight and bias: " + ctx.ParamShapeText + ". Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "ForwardTraining", ro + " input, " + span + " output", "input, output", weights + ", " + outs + ", " + ctx.T + " epsilon",
            "weight, bias, " + slots + ", epsilon", tensors: "input, output");
        if (plan.BatchReduced)
        {
            w.Line("/// <summary>Inference forward on caller-owned buffers with given statistics (one per statistic): y = (x - mean) / sqrt(variance + epsilon) * weight + bias, " +
                   "folded to one multiply-add per element. Returns the path that ran.</summary>");
            EmitStatic(w, ctx, "ForwardInference", ro + " input, " + span + " output", "input, output", weights + ", " + ctx.ParamReadOnlySpan + " mean, " + ctx.ParamReadOnlySpan + " variance, " + ctx.T + " epsilon",
                "weight, bias, mean, variance, epsilon", tensors: "input, output");
        }
    }

    /// <summary>A static kernel with its <c>OnPath</c> test hook (a forced path and 128-bit operations) and, when
    /// <paramref name="tensors"/> names the tensor arguments, its overload on tensors.</summary>
    private static void EmitStatic(SourceWriter w, Context ctx, string name, string spans, string spanArgs, string rest, string restArgs,
        string? tensors = null, string? runtimeName = null, string? extra = null)
    {
        string target = KernelsType + "." + (runtimeName ?? name);
        string dims = DimsSpan(ctx);
        string parameters = spans + ", " + ctx.DimParams + (extra ?? "") + ", " + rest;
        string args = spanArgs + ", " + dims + ", " + restArgs;
        w.Line("public static " + KernelPath + " " + name + "(" + parameters + ") =>");
        w.Line("    " + target + "(" + args + ");");
        if (tensors != null)
        {
            var names = tensors.Split(new[] { ", " }, System.StringSplitOptions.None);
            w.Line("/// <summary>" + name + " on tensors: dims from <paramref name=\"" + names[0] + "\"/>'s lengths (" + ctx.Spec.Layout + ", dense row-major)" +
                   (names.Length > 1 ? "; " + string.Join(" and ", names.Skip(1)) + " of the same shape" : "") + ".</summary>");
            string tensorParams = string.Join(", ", names.Select((n, i) => (i == 0 || n.EndsWith("Grad") && n != "inputGrad" ? ctx.ReadOnlyTensorT : ctx.TensorT) + " " + n));
            w.Line("public static " + KernelPath + " " + name + "(" + tensorParams + ", " + rest + ") =>");
            w.Line("    " + target + "(" + string.Join(", ", names.Select(n => "in " + n)) + ", " + restArgs + ");");
        }
        if (ctx.Hooks && !ctx.Half)
        {
            w.Line("/// <summary>As " + name + ", on a forced path with a given 128-bit ops type (tests run the ARM64 path's logic on x86 this way).</summary>");
            w.Line("internal static " + KernelPath + " " + name + "OnPath<TOps>(" + KernelPath + " path, " + parameters + ") where TOps : struct, " + Ops + " =>");
            w.Line("    " + target + "<TOps>(path, " + args + ");");
        }
        w.Line();
    }

    private static void EmitBackwardSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string ro = ctx.ReadOnlySpanT, span = ctx.SpanT;
        w.Line("/// <summary>Sets <see cref=\"WeightGrad\"/> and <see cref=\"BiasGrad\"/> to zero.</summary>");
        w.Line("public void ZeroGrad() => _layer.ZeroGrad();");
        w.Line();
        if (ctx.Residual)
        {
            EmitResidualBackward(w, ctx);
            return;
        }
        w.Line("/// <summary>");
        w.Line("/// Gradient of the last training-mode Forward" + (ctx.Running ? " (or, with Training false, of the inference forward: running statistics held constant)" : "") +
               ": writes dL/dinput into <paramref name=\"inputGrad\"/> (which may be <paramref name=\"outputGrad\"/> or <paramref name=\"input\"/> itself) and adds dL/dweight, dL/dbias");
        w.Line("/// into <see cref=\"WeightGrad\"/>, <see cref=\"BiasGrad\"/>. <paramref name=\"input\"/> must be the input of that Forward (or a bitwise copy); its saved statistics are used, not recomputed.");
        w.Line("/// Throws InvalidOperationException, before writing anything, when no training-mode Forward ran, when the dims differ from that Forward's (the saved statistics' count and layout follow them),");
        w.Line("/// when <paramref name=\"input\"/> differs bitwise from that Forward's input at one of 16 positions sampled evenly over the tensor (first and last included; it catches another tensor,");
        w.Line("/// e.g. the Forward's output, not an edit of elements between the samples; after an in-place Forward pass a copy of the input taken before it), or when another thread runs a call on this instance.");
        w.Line("/// </summary>");
        string grads = ro + " input, " + ro + " outputGrad, " + span + " inputGrad";
        w.Line(Shared.Hot);
        w.Line("public void Backward(" + grads + ", " + ctx.DimParams + ") => _layer.Backward(input, outputGrad, inputGrad, " + DimsSpan(ctx) + ");");
        w.Line("/// <summary>Backward on tensors: the dims come from <paramref name=\"input\"/>'s lengths (" + spec.Layout + ", layout order); <paramref name=\"outputGrad\"/> and " +
               "<paramref name=\"inputGrad\"/> must have the same shape; all dense and row-major.</summary>");
        w.Line(Shared.Hot);
        w.Line("public void Backward(" + ctx.ReadOnlyTensorT + " input, " + ctx.ReadOnlyTensorT + " outputGrad, " + ctx.TensorT + " inputGrad) => _layer.Backward(input, outputGrad, inputGrad);");
        w.Line();

        string gradOut = ctx.ParamSpan + " weightGrad, " + ctx.ParamSpan + " biasGrad";
        string pro = ctx.ParamReadOnlySpan;
        w.Line("/// <summary>Backward of ForwardTraining on caller-owned buffers: the batch statistics it wrote (" + plan.Kind.StatisticsText.Replace(" and ", ", ") +
               ") and the same epsilon. Writes inputGrad, ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        // With an activation the backward recomputes the pre-activation: it needs the bias too.
        string weight = pro + " weight, " + (ctx.Activates ? pro + " bias, " : ""), weightArgs = "weight, " + (ctx.Activates ? "bias, " : "");
        EmitStatic(w, ctx, "BackwardTraining", grads, "input, outputGrad, inputGrad", weight + ctx.OutputParams(pro) + ", " + ctx.T + " epsilon, " + gradOut,
            weightArgs + ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray()) + ", epsilon, false, weightGrad, biasGrad", runtimeName: "Backward");
        if (plan.BatchReduced)
        {
            w.Line("/// <summary>Backward of ForwardInference (statistics held constant, as for a frozen BatchNorm): inputGrad = outputGrad * weight / sqrt(runningVar + epsilon);" +
                   " ADDS into weightGrad and biasGrad. Returns the path that ran.</summary>");
            EmitStatic(w, ctx, "BackwardInference", grads, "input, outputGrad, inputGrad", weight + pro + " runningMean, " + pro + " runningVar, " + ctx.T + " epsilon, " + gradOut,
                weightArgs + "runningMean, runningVar, epsilon, true, weightGrad, biasGrad", runtimeName: "Backward");
        }
    }

    /// <summary>The forward of a residual layer (ResidualMode): its own signature, tensor overload and static kernels.</summary>
    private static void EmitResidualForward(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        string ro = ctx.ReadOnlySpanT, span = ctx.SpanT, dims = DimsSpan(ctx);
        string training = " In training mode it saves, for Backward, the batch statistics, the dims and 16 sampled input elements" +
            (ctx.Plan.BatchReduced ? ", and updates the running statistics" : "") + ": it needs the instance alone.";
        if (ctx.Plan.Epilogue.AddsAfter)
        {
            w.Line("/// <summary><c>output = " + Act(ctx, "norm(input) + residual") + "</c> in one pass (" + spec.Layout + ", dims in layout order): the residual is added to the normalized " +
                   "(and scaled, shifted) input, then the activation. <paramref name=\"output\"/> may be <paramref name=\"input\"/> or <paramref name=\"residual\"/>." + training + "</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Forward(" + ro + " input, " + ro + " residual, " + span + " output, " + ctx.DimParams + ") => _layer.Forward(input, residual, output, " + dims + ");");
            w.Line("/// <summary>Forward on tensors (" + spec.Layout + ", dense row-major); residual and output of the input's shape.</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Forward(" + ctx.ReadOnlyTensorT + " input, " + ctx.ReadOnlyTensorT + " residual, " + ctx.TensorT + " output) => _layer.Forward(input, residual, output);");
        }
        else
        {
            w.Line("/// <summary><c>sum = input + residual; output = " + Act(ctx, "norm(sum)") + "</c> (" + spec.Layout + ", dims in layout order): the sum is written (the next " +
                   "layer's residual stream) and normalized. <paramref name=\"sum\"/> may be <paramref name=\"input\"/> or <paramref name=\"residual\"/>; " +
                   "<paramref name=\"output\"/> may be any of the three." + training + " Backward takes the sum.</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Forward(" + ro + " input, " + ro + " residual, " + span + " output, " + span + " sum, " + ctx.DimParams + ") => _layer.Forward(input, residual, output, sum, " + dims + ");");
            w.Line("/// <summary>Forward on tensors (" + spec.Layout + ", dense row-major); residual, output and sum of the input's shape.</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Forward(" + ctx.ReadOnlyTensorT + " input, " + ctx.ReadOnlyTensorT + " residual, " + ctx.TensorT + " output, " + ctx.TensorT + " sum) => _layer.Forward(input, residual, output, sum);");
        }
        w.Line();
        w.Line("/// <summary>The number of statistics (mean/variance entries) for these dims: the product of the kept extents (" + ctx.KeptText + ").</summary>");
        w.Line("public static int StatisticCount(" + ctx.DimParams + ") => " + KernelsType + ".StatisticCount(" + dims + ");");
        w.Line();

        // The static kernels on caller-owned buffers, with the residual (and the sum) as the instance forms take them.
        bool after = ctx.Plan.Epilogue.AddsAfter;
        string spans = ro + " input, " + ro + " residual, " + span + " output" + (after ? "" : ", " + span + " sum");
        string spanArgs = "input, residual, output, " + (after ? "default" : "sum");
        string pro = ctx.ParamReadOnlySpan;
        string weights = pro + " weight, " + pro + " bias";
        string slots = ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray());
        w.Line("/// <summary>Training forward on caller-owned buffers: " + (after ? "output = act(norm(input) + residual)" : "sum = input + residual, output = act(norm(sum))") +
               " with batch statistics (" + ctx.Plan.Kind.StatisticsText + ", one per statistic, see StatisticCount) written. Weight and bias: " + ctx.ParamShapeText + ". Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "ForwardTraining", spans, spanArgs, weights + ", " + ctx.OutputParams(ctx.ParamSpan) + ", " + ctx.T + " epsilon", "weight, bias, " + slots + ", epsilon",
            runtimeName: "ForwardResidualTraining");
        if (ctx.Plan.BatchReduced)
        {
            w.Line("/// <summary>Inference forward on caller-owned buffers with given statistics, the epilogue as ForwardTraining. Returns the path that ran.</summary>");
            EmitStatic(w, ctx, "ForwardInference", spans, spanArgs, weights + ", " + pro + " mean, " + pro + " variance, " + ctx.T + " epsilon",
                "weight, bias, mean, variance, epsilon", runtimeName: "ForwardResidualInference");
        }
    }

    /// <summary>The backward of a residual layer (ResidualMode).</summary>
    private static void EmitResidualBackward(SourceWriter w, Context ctx)
    {
        string ro = ctx.ReadOnlySpanT, span = ctx.SpanT, dims = DimsSpan(ctx);
        string state = " Adds dL/dweight, dL/dbias into WeightGrad, BiasGrad, using the statistics the last training-mode Forward saved" +
            (ctx.Plan.BatchReduced ? " (with Training false: the running statistics)" : "") + "; throws InvalidOperationException, before writing anything, when no such Forward ran, " +
            "when the dims differ, or when the input differs from that Forward's at one of 16 sampled positions.";
        if (ctx.Plan.Epilogue.AddsAfter)
        {
            w.Line("/// <summary>Gradient of the last training-mode Forward: <paramref name=\"residualGrad\"/> = outputGrad * act'(norm(input) + residual) (the gradient " +
                   "through the activation, recomputed from the input and the saved statistics) and <paramref name=\"inputGrad\"/> through the norm from it. " +
                   "inputGrad may be outputGrad or input; residualGrad may be outputGrad; the two must not overlap." + state + "</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Backward(" + ro + " input, " + ro + " residual, " + ro + " outputGrad, " + span + " inputGrad, " + span + " residualGrad, " + ctx.DimParams + ") =>");
            w.Line("    _layer.Backward(input, residual, outputGrad, inputGrad, residualGrad, " + dims + ");");
            w.Line("/// <summary>Backward on tensors (" + ctx.Spec.Layout + ", dense row-major), every tensor of the input's shape.</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Backward(" + ctx.ReadOnlyTensorT + " input, " + ctx.ReadOnlyTensorT + " residual, " + ctx.ReadOnlyTensorT + " outputGrad, " + ctx.TensorT + " inputGrad, " +
                   ctx.TensorT + " residualGrad) => _layer.Backward(input, residual, outputGrad, inputGrad, residualGrad);");
        }
        else
        {
            w.Line("/// <summary>Gradient of the last training-mode Forward, given its <paramref name=\"sum\"/>: <paramref name=\"inputGrad\"/> = sumGrad + dL/dsum through the " +
                   "activation and the norm, the gradient of both input and residual. <paramref name=\"sumGrad\"/> is the gradient arriving on the residual stream " +
                   "(empty: zero); it must not overlap inputGrad. inputGrad may be outputGrad or sum." + state + "</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Backward(" + ro + " sum, " + ro + " outputGrad, " + ro + " sumGrad, " + span + " inputGrad, " + ctx.DimParams + ") =>");
            w.Line("    _layer.Backward(sum, outputGrad, sumGrad, inputGrad, " + dims + ");");
            w.Line("/// <summary>Backward on tensors (" + ctx.Spec.Layout + ", dense row-major), every tensor of the sum's shape (an empty sumGrad: zero).</summary>");
            w.Line(Shared.Hot);
            w.Line("public void Backward(" + ctx.ReadOnlyTensorT + " sum, " + ctx.ReadOnlyTensorT + " outputGrad, " + ctx.ReadOnlyTensorT + " sumGrad, " + ctx.TensorT +
                   " inputGrad) => _layer.Backward(sum, outputGrad, sumGrad, inputGrad);");
        }
        w.Line();

        bool after = ctx.Plan.Epilogue.AddsAfter;
        string spans = after ? ro + " input, " + ro + " residual, " + ro + " outputGrad, " + span + " inputGrad, " + span + " residualGrad"
                             : ro + " sum, " + ro + " outputGrad, " + ro + " sumGrad, " + span + " inputGrad";
        string spanArgs = after ? "input, residual, outputGrad, inputGrad, residualGrad, default" : "sum, default, outputGrad, inputGrad, default, sumGrad";
        string gradOut = ctx.ParamSpan + " weightGrad, " + ctx.ParamSpan + " biasGrad";
        string pro = ctx.ParamReadOnlySpan;
        string weights = pro + " weight, " + pro + " bias, ";
        w.Line("/// <summary>Backward of ForwardTraining on caller-owned buffers: the batch statistics it wrote and the same epsilon. Writes inputGrad" +
               (after ? " and residualGrad" : " (plus sumGrad when not empty)") + ", ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "BackwardTraining", spans, spanArgs, weights + ctx.OutputParams(pro) + ", " + ctx.T + " epsilon, " + gradOut,
            "weight, bias, " + ctx.Slots(ctx.Outputs.Select(o => o.Parameter).ToArray()) + ", epsilon, false, weightGrad, biasGrad", runtimeName: "BackwardResidual");
        if (ctx.Plan.BatchReduced)
        {
            w.Line("/// <summary>Backward of ForwardInference (statistics held constant). ADDS into weightGrad and biasGrad. Returns the path that ran.</summary>");
            EmitStatic(w, ctx, "BackwardInference", spans, spanArgs, weights + pro + " runningMean, " + pro + " runningVar, " + ctx.T + " epsilon, " + gradOut,
                "weight, bias, runningMean, runningVar, epsilon, true, weightGrad, biasGrad", runtimeName: "BackwardResidual");
        }
    }

    /// <summary>The activation applied to <paramref name=\"z\"/>, as the summaries write it.</summary>
    private static string Act(Context ctx, string z) => ctx.Activates ? ctx.Plan.Epilogue.Activation.ToLowerInvariant() + "(" + z + ")" : z;

    private static void EmitShards(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Shards) return;
        string ro = ctx.ReadOnlySpanT;
        w.Line("/// <summary>The statistics pass alone, as mergeable partial statistics of this shard of a batch: per statistic (see StatisticCount) " +
               "its value count, mean and M2 (sum of squared deviations from the mean), in double. Merge shards (e.g. gathered from every " +
               "data-parallel worker) with <see cref=\"global::NormKernels.Runtime.Statistics.Merge(global::System.ReadOnlySpan{double}, global::System.ReadOnlySpan{double}, " +
               "global::System.ReadOnlySpan{double}, global::System.Span{double}, global::System.Span{double}, global::System.Span{double})\"/>" +
               (ctx.Plan.BatchReduced ? " and normalize with ForwardWithStatistics" : "") + ". Same sums as a training forward, units fixed by the shape: " +
               "bitwise identical for any thread count. Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "ShardStatistics", ro + " input", "input", "global::System.Span<double> count, global::System.Span<double> mean, global::System.Span<double> m2",
            "count, mean, m2", tensors: "input");
        if (!ctx.Plan.BatchReduced) return;
        w.Line("/// <summary>Training forward with given (merged) statistics: normalizes <paramref name=\"input\"/> with mean and biased variance " +
               "M2 / count per statistic, keeps them as BatchMean and BatchVariance" + (ctx.Running ? ", and updates the running statistics like Forward in training " +
               "(running variance: the unbiased M2 / (count - 1) with the TOTAL count)" : "") + ". Runs whatever Training is. For synchronized BatchNorm: " +
               "every worker calls ShardStatistics on its shard, the shards are merged in one fixed order (Statistics.Merge), then every worker " +
               "calls this on its own shard.</summary>");
        w.Line("public void ForwardWithStatistics(" + ro + " input, " + ctx.SpanT + " output, " + ctx.DimParams + ", " + Merged + ") =>");
        w.Line("    _layer.ForwardWithStatistics(input, output, " + DimsSpan(ctx) + ", count, mean, m2);");
        w.Line();
    }

    private const string Merged = "global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> mean, global::System.ReadOnlySpan<double> m2";
    private const string SumsOut = "global::System.Span<double> count, global::System.Span<double> sumGrad, global::System.Span<double> sumGradCentered";
    private const string SumsIn = "global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> sumGrad, global::System.ReadOnlySpan<double> sumGradCentered";

    /// <summary>The hook in the class declaration: layers with a synchronized backward implement the interface of the synchronized step.</summary>
    private static string SynchronizedInterface(Context ctx) => ctx.Plan.Synchronized ? ", global::NormKernels.ISynchronizedNormalizationLayer<" + ctx.T + ">" : "";

    // Synchronized backward (data-parallel BatchNorm, the backward of ForwardWithStatistics): each worker computes its local
    // gradient sums per statistic (BackwardStatistics), the workers add them, and BackwardWithStatistics writes dx with the
    // global sums. The runtime's Backward driver runs both steps; see Runtime/Backward.cs.
    private static void EmitSynchronizedBackward(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Synchronized) return;
        string ro = ctx.ReadOnlySpanT, span = ctx.SpanT, dims = DimsSpan(ctx);
        w.Line("/// <summary>Synchronized backward, step 1 (after ForwardWithStatistics): this shard's sums of the gradient, per statistic: its value count, " +
               "<paramref name=\"sumGrad\"/> = sum of weight * outputGrad and <paramref name=\"sumGradCentered\"/> = sum of weight * outputGrad * (input - mean), " +
               "with the statistics of the last ForwardWithStatistics. Add them over the shards (all-reduce), then call BackwardWithStatistics. Writes nothing else.</summary>");
        w.Line("public void BackwardStatistics(" + ro + " input, " + ro + " outputGrad, " + ctx.DimParams + ", " + SumsOut + ") =>");
        w.Line("    _layer.BackwardStatistics(input, outputGrad, " + dims + ", count, sumGrad, sumGradCentered);");
        w.Line("/// <summary>Synchronized backward, step 1, on caller-owned buffers: <paramref name=\"mean\"/> is the merged mean (per statistic) the forward normalized with " +
               "(as the element type, like ForwardInference's). Writes count, sumGrad and sumGradCentered. Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "BackwardStatistics", ro + " input, " + ro + " outputGrad", "input, outputGrad", ro + " weight, " + ro + " mean, " + SumsOut,
            "weight, mean, count, sumGrad, sumGradCentered");

        w.Line("/// <summary>Synchronized backward, step 2: with the sums of every shard added (<paramref name=\"count\"/>, <paramref name=\"sumGrad\"/>, " +
               "<paramref name=\"sumGradCentered\"/>, per statistic, e.g. all-reduced from BackwardStatistics), writes this shard's part of the full-batch gradient " +
               "dL/dinput into <paramref name=\"inputGrad\"/> (which may be <paramref name=\"outputGrad\"/> or <paramref name=\"input\"/> itself), using the statistics " +
               "of the last ForwardWithStatistics, and ADDS this shard's dL/dweight, dL/dbias into WeightGrad, BiasGrad (local: add them over the shards like any " +
               "data-parallel parameter gradient). Plain Backward after ForwardWithStatistics still throws: it would be the shard's local gradient.</summary>");
        w.Line("public void BackwardWithStatistics(" + ro + " input, " + ro + " outputGrad, " + span + " inputGrad, " + ctx.DimParams + ", " + SumsIn + ") =>");
        w.Line("    _layer.BackwardWithStatistics(input, outputGrad, inputGrad, " + dims + ", count, sumGrad, sumGradCentered);");
        w.Line("/// <summary>Synchronized backward, step 2, on caller-owned buffers: the merged mean and biased variance the forward normalized with, its epsilon, " +
               "and the summed gradient sums. Writes inputGrad, ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        EmitStatic(w, ctx, "BackwardWithStatistics", ro + " input, " + ro + " outputGrad, " + span + " inputGrad", "input, outputGrad, inputGrad",
            ro + " weight, " + ro + " mean, " + ro + " variance, " + ctx.T + " epsilon, " + SumsIn + ", " + span + " weightGrad, " + span + " biasGrad",
            "weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad");

        w.Line();
    }

    // AdaIN (Huang & Belongie 2017) on InstanceNorm-shaped layers: y = sigma_s * (x - mu_c) / sigma_c + mu_s per (n, c), the
    // content's statistics from the content, sigma and mu of the style from a style tensor with the same N and C and its own
    // extents along the reduced (spatial) axes. The runtime's forward driver runs it on this layer's nest over both.
    private static void EmitAdaptive(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Adaptive) return;
        var reduced = ctx.Axes.Where(a => a.Reduced).ToList();
        string styleParams = string.Join(", ", reduced.Select(a => "int style" + a.Letter));
        string styleSpan = "[" + string.Join(", ", reduced.Select(a => "style" + a.Letter)) + "]";
        string spans = ctx.ReadOnlySpanT + " content, " + ctx.ReadOnlySpanT + " style, " + ctx.SpanT + " output";
        string dims = DimsSpan(ctx);
        string summary = "AdaIN (Huang and Belongie 2017): <c>output = sigma_s * (content - mu_c) / sigma_c + mu_s</c> per (n, c), mu and sigma the mean and " +
                         "<c>sqrt(biased variance + epsilon)</c> of the content's and the style's (n, c) planes. The style has the content's N and C and its own " +
                         string.Join(", ", reduced.Select(a => a.Letter.ToString())) + " (" + string.Join(", ", reduced.Select(a => "style" + a.Letter)) + "). The layer's Weight and Bias are not used. " +
                         "<paramref name=\"output\"/> may be <paramref name=\"content\"/> (in place); <paramref name=\"style\"/> must not overlap it.";
        w.Line("/// <summary>" + summary + " Returns the path that ran.</summary>");
        w.Line("public static " + KernelPath + " AdaptiveForward(" + spans + ", " + ctx.DimParams + ", " + styleParams + ", " + ctx.T + " epsilon) =>");
        w.Line("    " + KernelsType + ".AdaptiveForward(content, style, output, " + dims + ", " + styleSpan + ", epsilon);");
        w.Line("/// <summary>AdaptiveForward with the layer's Epsilon; LastPath tells the path that ran.</summary>");
        w.Line("public void AdaptiveForward(" + spans + ", " + ctx.DimParams + ", " + styleParams + ") => _layer.AdaptiveForward(content, style, output, " + dims + ", " + styleSpan + ");");
        w.Line("/// <summary>AdaptiveForward on tensors (" + ctx.Spec.Layout + ", dense row-major): the style must have the content's " +
               string.Join(" and ", ctx.Axes.Where(a => !a.Reduced).Select(a => a.Letter.ToString())) + "; output the content's shape.</summary>");
        w.Line("public static " + KernelPath + " AdaptiveForward(" + ctx.ReadOnlyTensorT + " content, " + ctx.ReadOnlyTensorT + " style, " + ctx.TensorT + " output, " + ctx.T + " epsilon) =>");
        w.Line("    " + KernelsType + ".AdaptiveForward(content, style, output, epsilon);");
        if (ctx.Hooks)
        {
            w.Line("/// <summary>As AdaptiveForward, on a forced path with a given 128-bit ops type.</summary>");
            w.Line("internal static " + KernelPath + " AdaptiveForwardOnPath<TOps>(" + KernelPath + " path, " + spans + ", " + ctx.DimParams + ", " + styleParams + ", " + ctx.T + " epsilon) where TOps : struct, " + Ops + " =>");
            w.Line("    " + KernelsType + ".AdaptiveForward<TOps>(path, content, style, output, " + dims + ", " + styleSpan + ", epsilon);");
        }
        w.Line();
    }

    /// <summary>The nest's static part: the layer's shape facts, the extents from the dims, the path extents and its backward driver.</summary>
    private static void EmitNestStatics(SourceWriter w, Context ctx, List<string> divisors)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        var features = new List<string>();
        if (plan.Shards) features.Add("Shards");
        if (plan.Synchronized) features.Add("Synchronized");
        if (plan.Adaptive) features.Add("Adaptive");
        if (ctx.Running) features.Add("RunningStatistics");
        string featureText = features.Count == 0 ? Rt + ".LayerFeatures.None" : string.Join(" | ", features.Select(f => Rt + ".LayerFeatures." + f));
        // Set in a static constructor, not by an initializer: the compiler's initializer binding was about 70 more of its
        // methods to JIT in a build's cold compiler process, for this one line (issue 10's build cost).
        w.Line("public static " + Rt + ".LayerShape Shape { get; }");
        w.Line("static " + NestType + "() => Shape = new(" + Literals.String(spec.Name.TypeName) + ", " + Literals.String(spec.Layout) + ", " +
               Literals.String(ctx.AxesText) + ", " + Literals.Int(spec.Groups) + ", global::NormKernels.AffineMode." + AffineMember(spec) + ", global::NormKernels.NormKind." +
               plan.Kind.EnumMember + ", " + featureText + (spec.Sizes.Length > 0 ? ", " + Literals.String(spec.Sizes) : "") + ");");
        // The extents from the dims: each dim letter of the plan's extent expressions is dims[i].
        var index = spec.Layout.Select((l, i) => (Name: char.ToLowerInvariant(l).ToString(), i)).ToDictionary(p => p.Name, p => p.i);
        string FromDims(PlanAxis a) => TextEdits.ReplaceLetters(a.Extent, letter => "dims[" + Literals.Int(index[letter.ToString()]) + "]");
        string extents = string.Join(", ", ctx.Axes.Where(a => !ctx.IsFixed(a)).Select(FromDims));
        // Each divisor (see EmitNestStruct) is made from its extent, once per nest.
        string divisorArgs = string.Concat(divisors.Select(name => ", new(" + FromDims(ctx.Axes.First(a => a.Name == name)) + ")"));
        w.Line(Shared.Hot);
        w.Line("public static " + NestType + " Create(global::System.ReadOnlySpan<int> dims) => new(" + extents + divisorArgs + ");");
        w.Line("public nint StatisticsExtent => " + ctx.StatInnerExtent + ";");
        var statInner = ctx.Plan.StatSegments[ctx.Plan.StatSegments.Count - 1];
        if (Enumerable.Range(statInner.First, statInner.Last - statInner.First + 1).All(i => ctx.IsFixed(ctx.Axes[i])))
            w.Line("public static nint FixedStatisticsExtent => " + ctx.StatInnerExtent + "; // fixed by Sizes: the row runs' length is a constant");
        w.Line("public nint ApplyExtent => " + ctx.ApplyInnerExtent + ";");
        w.Line("public nint GradientExtent => " + ctx.SegmentExtent(plan.GradientSegments[plan.GradientSegments.Count - 1]) + ";");
        // The backward driver (Rt.NestBackward): per fold index unless the plan sums per statistic.
        if (plan.GradientPerStatistic)
            w.Line("public static bool GradientPerStatistic => true;");
        w.Line();
    }
}
