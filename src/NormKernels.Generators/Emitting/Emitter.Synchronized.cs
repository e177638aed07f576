using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

// Synchronized backward (data-parallel BatchNorm, the backward of ForwardWithStatistics). With the global statistics
// (mean, r = 1/sqrt(var + eps), total count M) the gradient of the whole batch is, per element of any shard,
// dx = dy * g * r + (x - mean) * Q + R with Q = -r^3 * B / M, R = -r * A / M, where A = sum of g * dy and
// B = sum of g * dy * (x - mean) over the statistic's elements of EVERY shard. A and B are sums, so each worker
// computes its local A, B (BackwardStatistics: the backward's reduction pass, per fold index U = sum dy,
// V = sum dy * (x - mean), then A = sum g * U, B = sum g * V per statistic), the workers add them (all-reduce), and
// BackwardWithStatistics writes dx with the global A, B, M; its parameter gradients (dbeta += U, dgamma += V * r)
// are the local shard's, to be all-reduced like any data-parallel parameter gradient. Same units and chunk order as
// the backward: bitwise identical for any thread count.
internal static partial class Emitter
{
    /// <summary>Layers reducing N whose backward sums per fold index (every BatchNorm: a per-statistic plan needs N to index parameters).</summary>
    private static bool HasSynchronizedBackward(Context ctx) => ctx.Plan.BatchReduced && !ctx.Spec.IsRootMeanSquare && !SingleStatistic(ctx);

    private static void EmitSynchronizedBackward(SourceWriter w, Context ctx)
    {
        if (!HasSynchronizedBackward(ctx)) return;
        EmitSynchronizedSurface(w, ctx);
        EmitSynchronizedInterface(w, ctx);
        EmitSynchronizedCore(w, ctx, sums: true);
        EmitSynchronizedCore(w, ctx, sums: false);
        if (ctx.Plan.BlockAxes > 0)
        {
            EmitSynchronizedGroup(w, ctx, sums: true);
            EmitSynchronizedGroup(w, ctx, sums: false);
        }
    }

    /// <summary>The hook in the class declaration: layers with a synchronized backward implement the interface of the synchronized step.</summary>
    private static string SynchronizedInterface(Context ctx) => HasSynchronizedBackward(ctx) ? ", " + SyncInterface(ctx) : "";

    private static string SyncInterface(Context ctx) => "global::NormKernels.ISynchronizedNormalizationLayer<" + ctx.T + ">";

    /// <summary>The interface's members, dims read from a span of the layout's rank.</summary>
    private static void EmitSynchronizedInterface(SourceWriter w, Context ctx)
    {
        string layout = Literals.String(ctx.Spec.Layout);
        string args = string.Join(", ", ctx.Spec.Layout.Select((_, i) => "dims[" + Literals.Int(i) + "]"));
        string rank = Checks + ".Rank(dims.Length, " + layout + ", nameof(dims));";
        string i = SyncInterface(ctx);
        using (w.Block("int " + i + ".StatisticCount(global::System.ReadOnlySpan<int> dims)"))
        {
            w.Line(rank);
            w.Line("return StatisticCount(" + args + ");");
        }
        w.Line();
        using (w.Block(KernelPath + " " + i + ".ShardStatistics(" + ctx.ReadOnlySpanT + " input, global::System.ReadOnlySpan<int> dims, global::System.Span<double> count, global::System.Span<double> mean, global::System.Span<double> m2)"))
        {
            w.Line(rank);
            w.Line("return ShardStatistics(input, " + args + ", count, mean, m2);");
        }
        w.Line();
        using (w.Block("void " + i + ".ForwardWithStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, global::System.ReadOnlySpan<int> dims, global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> mean, global::System.ReadOnlySpan<double> m2)"))
        {
            w.Line(rank);
            w.Line("ForwardWithStatistics(input, output, " + args + ", count, mean, m2);");
        }
        w.Line();
        using (w.Block("void " + i + ".BackwardStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, global::System.ReadOnlySpan<int> dims, global::System.Span<double> count, global::System.Span<double> sumGrad, global::System.Span<double> sumGradCentered)"))
        {
            w.Line(rank);
            w.Line("BackwardStatistics(input, outputGrad, " + args + ", count, sumGrad, sumGradCentered);");
        }
        w.Line();
        using (w.Block("void " + i + ".BackwardWithStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, global::System.ReadOnlySpan<int> dims, global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> sumGrad, global::System.ReadOnlySpan<double> sumGradCentered)"))
        {
            w.Line(rank);
            w.Line("BackwardWithStatistics(input, outputGrad, inputGrad, " + args + ", count, sumGrad, sumGradCentered);");
        }
        w.Line();
    }

    private static void EmitSynchronizedSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        string dims = ctx.DimArgs, dimsText = Literals.String(dims), what = Literals.String(StatisticsWhat(ctx));
        string sumsOut = "global::System.Span<double> count, global::System.Span<double> sumGrad, global::System.Span<double> sumGradCentered";
        string sumsIn = "global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> sumGrad, global::System.ReadOnlySpan<double> sumGradCentered";
        string weight = spec.HasAffine ? "Weight" : "default";
        string grads = ctx.SpanT + " weightGrad, " + ctx.SpanT + " biasGrad";

        w.Line("/// <summary>The synchronized backward differentiates the last ForwardWithStatistics: same dims, same input (the fingerprint it saved).</summary>");
        using (w.Block("private void CheckSynchronized(" + ctx.ReadOnlySpanT + " input, " + ctx.DimParams + ")"))
        {
            w.Line(Checks + ".SynchronizedStatistics(_savedLength, _savedDims, stackalloc int[] { " + dims + " }, " + Literals.String(spec.Layout) + ");");
            w.Line(Guard.Fingerprint + ".Check<" + ctx.T + ">(_fingerprint, input, nameof(input));");
        }
        w.Line();

        // ---- BackwardStatistics
        using (w.Block("private static void CheckBackwardStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.DimParams +
                       ", int weightLength, int meanLength, " + sumsOut + ")"))
        {
            w.Line("int total = CheckShape(input.Length, input.Length, " + dims + ");");
            w.Line(Checks + ".Length(outputGrad.Length, total, \"outputGrad\", " + dimsText + ");");
            w.Line(Checks + ".VectorLength(weightLength, ParameterCount(" + dims + "), \"weight\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line("int statistics = StatisticCount(" + dims + ");");
            w.Line(Checks + ".VectorLength(meanLength, statistics, \"mean\", " + what + ");");
            w.Line(Checks + ".GradientSumOutputs(count, sumGrad, sumGradCentered, statistics, " + what + ");");
        }
        w.Line();
        w.Line("/// <summary>Synchronized backward, step 1 (after ForwardWithStatistics): this shard's sums of the gradient, per statistic: its value count, " +
               "<paramref name=\"sumGrad\"/> = sum of weight * outputGrad and <paramref name=\"sumGradCentered\"/> = sum of weight * outputGrad * (input - mean), " +
               "mean being the merged mean ForwardWithStatistics normalized with. Add them over every shard (an all-reduce), then call BackwardWithStatistics. " +
               "Bitwise identical for any thread count. Writes nothing else.</summary>");
        using (w.Block("public void BackwardStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.DimParams + ", " + sumsOut + ")"))
        {
            w.Line("CheckBackwardStatistics(input, outputGrad, " + dims + ", " + (spec.HasAffine ? "Weight.Length" : "0") + ", StatisticCount(" + dims + "), count, sumGrad, sumGradCentered);");
            EmitLayerSizeCheck(w, ctx);
            w.Line("// Reads the saved statistics: this instance alone.");
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".BackwardStatistics") + ");");
            using (w.Block("try"))
            {
                w.Line("CheckSynchronized(input, " + dims + ");");
                w.Line("// The kernels read the statistics through the arrays read here, whose lengths are checked: never through a field another call may replace.");
                w.Line(ctx.T + "[] savedMean = _batchStatistic0;");
                w.Line(Checks + ".SynchronizedStatisticsLength(savedMean.Length, StatisticCount(" + dims + "));");
                w.Line("LastPath = RunSynchronizedSums(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, " + ctx.ExtentArgsFromDims + ", " + weight +
                       ", savedMean, count, sumGrad, sumGradCentered);");
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
        w.Line();
        w.Line("/// <summary>Synchronized backward, step 1, on caller-owned buffers: <paramref name=\"mean\"/> is the merged mean (per statistic) the forward " +
               "normalized with (as the element type, like ForwardInference's). Writes count, sumGrad, sumGradCentered. Returns the path that ran.</summary>");
        string statsParams = ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.DimParams + ", " + ctx.ReadOnlySpanT + " weight, " + ctx.ReadOnlySpanT + " mean, " + sumsOut;
        using (w.Block("public static " + KernelPath + " BackwardStatistics(" + statsParams + ")"))
        {
            w.Line("CheckBackwardStatistics(input, outputGrad, " + dims + ", weight.Length, mean.Length, count, sumGrad, sumGradCentered);");
            w.Line("return RunSynchronizedSums(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, " + ctx.ExtentArgsFromDims + ", weight, mean, count, sumGrad, sumGradCentered);");
        }
        w.Line();
        w.Line("/// <summary>As the static BackwardStatistics, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " BackwardStatisticsOnPath<TOps>(" + KernelPath + " path, " + statsParams + ") where TOps : struct, " + Ops))
        {
            w.Line("CheckBackwardStatistics(input, outputGrad, " + dims + ", weight.Length, mean.Length, count, sumGrad, sumGradCentered);");
            w.Line(Checks + ".PathAvailable(path, ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return SynchronizedSumsCore<TOps>(path, input, outputGrad, " + ctx.ExtentArgsFromDims + ", weight, mean, count, sumGrad, sumGradCentered);");
        }
        w.Line();
        using (w.Block("private static " + KernelPath + " RunSynchronizedSums(" + KernelPath + " path, " + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " +
                       ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " stat0, " + sumsOut + ")"))
        {
            string args = "path, input, outputGrad, " + ctx.ExtentArgs + ", gamma, stat0, count, sumGrad, sumGradCentered";
            w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
            w.Line("    ? SynchronizedSumsCore<" + ArmOps + ">(" + args + ")");
            w.Line("    : SynchronizedSumsCore<" + X86Ops + ">(" + args + ");");
        }
        w.Line();

        // ---- BackwardWithStatistics
        using (w.Block("private static void CheckBackwardWithStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.DimParams +
                       ", int weightLength, int meanLength, int varianceLength, " + ctx.T + " epsilon, " + sumsIn + ", int weightGradLength, int biasGradLength)"))
        {
            w.Line("int total = CheckShape(input.Length, input.Length, " + dims + ");");
            w.Line(Checks + ".Length(outputGrad.Length, total, \"outputGrad\", " + dimsText + ");");
            w.Line(Checks + ".Length(inputGrad.Length, total, \"inputGrad\", " + dimsText + ");");
            w.Line("int parameters = ParameterCount(" + dims + ");");
            w.Line(Checks + ".VectorLength(weightLength, parameters, \"weight\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line(Checks + ".VectorLength(weightGradLength, parameters, \"weightGrad\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line(Checks + ".VectorLength(biasGradLength, parameters, \"biasGrad\", " + Literals.String(ctx.ParamShapeText) + ");");
            w.Line("int statistics = StatisticCount(" + dims + ");");
            w.Line(Checks + ".VectorLength(meanLength, statistics, \"mean\", " + what + ");");
            w.Line(Checks + ".VectorLength(varianceLength, statistics, \"variance\", " + what + ");");
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            w.Line(Checks + ".GradientSums(count, sumGrad, sumGradCentered, statistics, CountPerStatistic(" + dims + "), " + what + ");");
            w.Line(Checks + ".NoPartialOverlap(input, inputGrad, nameof(inputGrad));");
            w.Line(Checks + ".NoPartialOverlap(outputGrad, inputGrad, nameof(inputGrad), nameof(outputGrad));");
        }
        w.Line();
        w.Line("/// <summary>Synchronized backward, step 2: with the sums of every shard added (<paramref name=\"count\"/>, <paramref name=\"sumGrad\"/>, " +
               "<paramref name=\"sumGradCentered\"/>, per statistic, e.g. all-reduced from BackwardStatistics), writes this shard's part of the full-batch gradient " +
               "dL/dinput into <paramref name=\"inputGrad\"/> (which may be <paramref name=\"outputGrad\"/> or <paramref name=\"input\"/> itself), using the statistics " +
               "of the last ForwardWithStatistics, and ADDS this shard's dL/dweight, dL/dbias into WeightGrad, BiasGrad (local: add them over the shards like " +
               "any data-parallel parameter gradient). Plain Backward after ForwardWithStatistics still throws: it would be the shard's local gradient.</summary>");
        using (w.Block("public void BackwardWithStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.DimParams + ", " + sumsIn + ")"))
        {
            w.Line("int statistics = StatisticCount(" + dims + ");");
            w.Line("CheckBackwardWithStatistics(input, outputGrad, inputGrad, " + dims + ", " + (spec.HasAffine ? "Weight.Length" : "0") + ", statistics, statistics, _epsilon, count, sumGrad, sumGradCentered, WeightGrad.Length, BiasGrad.Length);");
            EmitLayerSizeCheck(w, ctx);
            w.Line("// Adds into WeightGrad and BiasGrad and reads the saved statistics: this instance alone.");
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".BackwardWithStatistics") + ");");
            using (w.Block("try"))
            {
                w.Line("CheckSynchronized(input, " + dims + ");");
                w.Line(ctx.T + "[] savedMean = _batchStatistic0, savedVariance = _batchStatistic1;");
                w.Line(Checks + ".SynchronizedStatisticsLength(savedMean.Length, statistics);");
                w.Line(Checks + ".SynchronizedStatisticsLength(savedVariance.Length, statistics);");
                w.Line("LastPath = RunSynchronizedBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", " + weight +
                       ", savedMean, savedVariance, _epsilon, count, sumGrad, sumGradCentered, WeightGrad, BiasGrad);");
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
        w.Line();
        string applyParams = ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.DimParams + ", " + ctx.ReadOnlySpanT + " weight, " +
                             ctx.ReadOnlySpanT + " mean, " + ctx.ReadOnlySpanT + " variance, " + ctx.T + " epsilon, " + sumsIn + ", " + grads;
        string applyCheck = "CheckBackwardWithStatistics(input, outputGrad, inputGrad, " + dims + ", weight.Length, mean.Length, variance.Length, epsilon, count, sumGrad, sumGradCentered, weightGrad.Length, biasGrad.Length);";
        w.Line("/// <summary>Synchronized backward, step 2, on caller-owned buffers: the merged mean and biased variance the forward normalized with, its epsilon, " +
               "and the summed gradient sums. Writes inputGrad, ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " BackwardWithStatistics(" + applyParams + ")"))
        {
            w.Line(applyCheck);
            w.Line("return RunSynchronizedBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims +
                   ", weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);");
        }
        w.Line();
        w.Line("/// <summary>As the static BackwardWithStatistics, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " BackwardWithStatisticsOnPath<TOps>(" + KernelPath + " path, " + applyParams + ") where TOps : struct, " + Ops))
        {
            w.Line(applyCheck);
            w.Line(Checks + ".PathAvailable(path, ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return SynchronizedBackwardCore<TOps>(path, input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims +
                   ", weight, mean, variance, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);");
        }
        w.Line();
        string runParams = ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " +
                           ctx.ReadOnlySpanT + " stat0, " + ctx.ReadOnlySpanT + " stat1, " + ctx.T + " epsilon, " + sumsIn + ", " + grads;
        using (w.Block("private static " + KernelPath + " RunSynchronizedBackward(" + KernelPath + " path, " + runParams + ")"))
        {
            string args = "path, input, outputGrad, inputGrad, " + ctx.ExtentArgs + ", gamma, stat0, stat1, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad";
            w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
            w.Line("    ? SynchronizedBackwardCore<" + ArmOps + ">(" + args + ")");
            w.Line("    : SynchronizedBackwardCore<" + X86Ops + ">(" + args + ");");
        }
        w.Line();
    }

    private static string SumsParams(Context ctx, bool sums) => sums
        ? ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT +
          " stat0, global::System.Span<double> count, global::System.Span<double> sumGrad, global::System.Span<double> sumGradCentered"
        : ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " +
          ctx.ReadOnlySpanT + " stat0, " + ctx.ReadOnlySpanT + " stat1, " + ctx.T + " epsilon, global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> sumGrad, " +
          "global::System.ReadOnlySpan<double> sumGradCentered, " + ctx.SpanT + " weightGrad, " + ctx.SpanT + " biasGrad";

    /// <summary>
    /// SynchronizedSumsCore (sums) or SynchronizedBackwardCore: block plans run fixed groups of blocks (as the backward) with the
    /// sums travelling through a pooled double array [count | sumGrad | sumGradCentered]; whole-tensor plans reduce over the
    /// backward's chunks, merged in chunk order.
    /// </summary>
    private static void EmitSynchronizedCore(SourceWriter w, Context ctx, bool sums)
    {
        var plan = ctx.Plan;
        string name = sums ? "SynchronizedSumsCore" : "SynchronizedBackwardCore";
        using (w.Block("private static " + KernelPath + " " + name + "<TOps>(" + KernelPath + " path, " + SumsParams(ctx, sums) + ") where TOps : struct, " + Ops))
        {
            w.Line("int statistics = (int)" + ctx.InnerProduct(Context.InnerKept) + ";");
            w.Line("int coefficients = (int)" + ctx.InnerProduct(Context.FoldAxis) + ";");
            w.Line("int parameters = " + (sums ? "0" : "weightGrad.Length") + ";");
            if (plan.BlockAxes > 0)
            {
                w.Line("// Units: fixed groups of consecutive blocks (" + string.Join(", ", ctx.BlockAxes.Select(a => a.Name)) + "), as in the backward.");
                w.Line("int blocks = (int)" + ctx.Product(ctx.BlockIndices) + ";");
                w.Line("int totalStatistics = blocks * statistics;");
                EmitGroupGradientScratch(w, ctx, GradientDoubles, GradientElements);
                w.Line("double[] sums = " + Pool + "<double>.Shared.Rent(3 * totalStatistics);");
                using (w.Block("try"))
                {
                    if (!sums)
                    {
                        w.Line("count.CopyTo(new global::System.Span<double>(sums, 0, totalStatistics));");
                        w.Line("sumGrad.CopyTo(new global::System.Span<double>(sums, totalStatistics, totalStatistics));");
                        w.Line("sumGradCentered.CopyTo(new global::System.Span<double>(sums, 2 * totalStatistics, totalStatistics));");
                        w.Line("new global::System.Span<double>(gradPartials, 0, groups * 2 * parameters).Clear();");
                    }
                    string stat = sums ? "stat0" : "stat1";
                    w.Line(Units + ".For(groups, workers, new Synchronized" + (sums ? "Sums" : "Backward") + "Group<TOps>(path, " + ctx.ExtentArgs +
                           (sums ? "" : ", epsilon") + ", blocks, groups, parameters, totalStatistics, doubles, elements, gradPartials, sums), input, " + (sums ? "default" : "inputGrad") +
                           ", outputGrad, " + ReadOnlyAsSpan("gamma") + ", " + ReadOnlyAsSpan("stat0") + ", " + ReadOnlyAsSpan(stat) + ");");
                    if (sums)
                    {
                        w.Line("new global::System.Span<double>(sums, 0, totalStatistics).CopyTo(count);");
                        w.Line("new global::System.Span<double>(sums, totalStatistics, totalStatistics).CopyTo(sumGrad);");
                        w.Line("new global::System.Span<double>(sums, 2 * totalStatistics, totalStatistics).CopyTo(sumGradCentered);");
                    }
                    else
                    {
                        EmitParameterGradients(w, ctx, "groups");
                    }
                }
                using (w.Block("finally"))
                {
                    w.Line(Pool + "<double>.Shared.Return(sums);");
                    EmitReturnGroupGradientScratch(w, ctx);
                }
            }
            else
            {
                EmitWholeTensorGradientScratch(w, ctx, "One block, the whole tensor: the backward's reduction over chunks of the first segment, merged in chunk order.");
                using (w.Block("try"))
                {
                    w.Line("double localCount = (double)" + ctx.Product(Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced)) + ";");
                    EmitBackwardScratchRefs(w, ctx);
                    w.Line("ref " + ctx.T + " stat0Ref = ref " + Marshal + ".GetReference(stat0);");
                    if (!sums) w.Line("ref " + ctx.T + " stat1Ref = ref " + Marshal + ".GetReference(stat1);");
                    w.Line("ref " + ctx.T + " gammaRef = ref " + Marshal + ".GetReference(gamma);");
                    w.Line("ref double gradSums = ref " + Unsafe + ".Add(ref sumB, statistics); // inside the array even without parameters (+1)");
                    w.Line("new global::System.Span<double>(doubles, " + GradientDoubles + ", 2 * parameters).Clear();");
                    EmitSynchronizedTerms(w, ctx, sums, "(nint)0", "stat0Ref", "stat1Ref");
                    w.Line("ref " + ctx.T + " dyRef = ref " + Marshal + ".GetReference(outputGrad);");
                    EmitGradientShift(w, ctx, "dyRef");
                    w.Line("new global::System.Span<double>(partials, 0, chunks * " + GradientPartials + ").Clear();");
                    w.Line(Units + ".For(chunks, global::NormKernels.Parallelism.Workers(input.Length, chunks), new GradientChunk<TOps>(path, " + ctx.ExtentArgs +
                           ", gradFirst, chunks, coefficients, partials, elements), input, default, outputGrad, default, default, default);");
                    EmitMergeChunkPartials(w, GradientPartials);
                    w.Line("ref double countRef = ref " + Marshal + ".GetReference(count);");
                    w.Line("ref double sumGradRef = ref " + Marshal + ".GetReference(sumGrad);");
                    w.Line("ref double sumGradCenteredRef = ref " + Marshal + ".GetReference(sumGradCentered);");
                    if (sums)
                    {
                        EmitSynchronizedSums(w, ctx, "(nint)0", "(nint)0", "gammaRef", "localCount");
                    }
                    else
                    {
                        EmitSynchronizedCoefficients(w, ctx, "(nint)0", "(nint)0", "gammaRef", "gradSums", "parameters", "localCount");
                        EmitWholeTensorGradientApply(w, ctx);
                    }
                }
                EmitReturnWholeTensorGradientScratch(w, ctx);
            }
            w.Line("return path;");
        }
        w.Line();
    }

    private static string ReadOnlyAsSpan(string name) =>
        Marshal + ".CreateSpan(ref " + Marshal + ".GetReference(" + name + "), " + name + ".Length)";

    /// <summary>mu (and, for the apply, rstd) per statistic of the block from the merged statistics, and m = -mu per fold index.</summary>
    private static void EmitSynchronizedTerms(SourceWriter w, Context ctx, bool sums, string so, string stat0, string stat1)
    {
        if (!sums)
        {
            EmitBackwardTerms(w, ctx, so, stat0, stat1);
            return;
        }
        using (w.Block("for (int s = 0; s < statistics; s++)"))
            w.Line(Unsafe + ".Add(ref mu, s) = " + Unsafe + ".Add(ref " + stat0 + ", " + Offset(so, "s") + ");");
        EmitNest(w, InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept)),
            new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0" },
            o => w.Line(Unsafe + ".Add(ref coefM, " + o["f"] + ") = (" + ctx.T + ")(-" + Unsafe + ".Add(ref mu, " + o["s"] + "));"), "m_");
    }

    /// <summary>U = sum dy and V = sum dy * (x - mean) of fold index f, in double, from what the backward's lanes summed:
    /// U' = sum (dy - dz), V' = sum (dy - dz) * (x - mf), X = sum (x - mf) (dz = coefD, mf = -coefM), with
    /// U = U' + n * dz and V = V' + dz * X + (mf - mean) * U, n the values per fold index.</summary>
    private static void EmitRecoverSums(SourceWriter w, Context ctx, string f, string s, string localCount)
    {
        w.Line("double shift = " + Unsafe + ".Add(ref coefD, " + f + "), center = -(double)" + Unsafe + ".Add(ref coefM, " + f + ");");
        w.Line("double u = " + Unsafe + ".Add(ref sumU, " + f + ") + " + localCount + " * statistics / coefficients * shift;");
        w.Line("double v = " + Unsafe + ".Add(ref sumV, " + f + ") + shift * " + Unsafe + ".Add(ref sumX, " + f + ") + (center - " + Unsafe + ".Add(ref mu, " + s + ")) * u;");
    }

    private static string Gamma(Context ctx, string gammaRef, string po, string p) =>
        ctx.Spec.HasAffine ? "(double)" + Unsafe + ".Add(ref " + gammaRef + ", " + Offset(po, p) + ")" : "1d";

    /// <summary>From U, V per fold index: A = sum g * U, B = sum g * V per statistic, written with the local count at statistic so + s.</summary>
    private static void EmitSynchronizedSums(SourceWriter w, Context ctx, string so, string po, string gammaRef, string localCount)
    {
        var loops = InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept), ("p", Context.ParamAxis));
        var start = new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" };
        w.Line("new global::System.Span<double>(doubles, 3 * coefficients + 3 * statistics, 2 * statistics).Clear();");
        w.Line("// A = sum g * U, B = sum g * V per statistic.");
        EmitNest(w, loops, start, o =>
        {
            w.Line("double g = " + Gamma(ctx, gammaRef, po, o["p"]) + ";");
            EmitRecoverSums(w, ctx, o["f"], o["s"], localCount);
            w.Line(Unsafe + ".Add(ref sumA, " + o["s"] + ") += g * u;");
            w.Line(Unsafe + ".Add(ref sumB, " + o["s"] + ") += g * v;");
        }, "ab_");
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            w.Line(Unsafe + ".Add(ref countRef, " + Offset(so, "s") + ") = " + localCount + ";");
            w.Line(Unsafe + ".Add(ref sumGradRef, " + Offset(so, "s") + ") = " + Unsafe + ".Add(ref sumA, s);");
            w.Line(Unsafe + ".Add(ref sumGradCenteredRef, " + Offset(so, "s") + ") = " + Unsafe + ".Add(ref sumB, s);");
        }
    }

    /// <summary>The local parameter gradients from U, V (dbeta += U, dgamma += V * rstd), then Q, R per statistic from the GLOBAL
    /// count and sums at statistic so + s, then P, Q, R per fold index (as the backward's coefficients).</summary>
    private static void EmitSynchronizedCoefficients(SourceWriter w, Context ctx, string so, string po, string gammaRef, string gradSums, string parameters, string localCount)
    {
        var loops = InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept), ("p", Context.ParamAxis));
        var start = new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" };
        if (ctx.Spec.HasAffine)
        {
            w.Line("// dbeta += U, dgamma += V * rstd per parameter: this shard's share.");
            EmitNest(w, loops, start, o =>
            {
                EmitRecoverSums(w, ctx, o["f"], o["s"], localCount);
                w.Line(Unsafe + ".Add(ref " + gradSums + ", " + Offset(po, o["p"]) + ") += u;");
                w.Line(Unsafe + ".Add(ref " + gradSums + ", " + Offset(parameters, Offset(po, o["p"])) + ") += v * " + Unsafe + ".Add(ref rstd, " + o["s"] + ");");
            }, "pg_");
        }
        w.Line("// Per statistic, from the sums of every shard: Q = -r^3 * B / M and R = -r * A / M with M the total count.");
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            w.Line("double r = " + Unsafe + ".Add(ref rstd, s);");
            w.Line("double total = " + Unsafe + ".Add(ref countRef, " + Offset(so, "s") + ");");
            w.Line(Unsafe + ".Add(ref sumB, s) = -r * r * r * " + Unsafe + ".Add(ref sumGradCenteredRef, " + Offset(so, "s") + ") / total;");
            w.Line(Unsafe + ".Add(ref sumA, s) = -r * " + Unsafe + ".Add(ref sumGradRef, " + Offset(so, "s") + ") / total;");
        }
        w.Line("// dx = dy * P + (x - mean) * Q + R per fold index, run as the backward runs it: (dy - dz) * P + (x - mf) * Q + R' with");
        w.Line("// R' = R + dz * P + (mf - mean) * Q in double.");
        EmitNest(w, loops, start, o =>
        {
            w.Line("double coefp = " + Gamma(ctx, gammaRef, po, o["p"]) + " * " + Unsafe + ".Add(ref rstd, " + o["s"] + "), coefq = " + Unsafe + ".Add(ref sumB, " + o["s"] + ");");
            w.Line("double shiftR = " + Unsafe + ".Add(ref coefD, " + o["f"] + "), centerR = -(double)" + Unsafe + ".Add(ref coefM, " + o["f"] + ");");
            w.Line(Unsafe + ".Add(ref coefP, " + o["f"] + ") = (" + ctx.T + ")coefp;");
            w.Line(Unsafe + ".Add(ref coefQ, " + o["f"] + ") = (" + ctx.T + ")coefq;");
            w.Line(Unsafe + ".Add(ref coefR, " + o["f"] + ") = (" + ctx.T + ")(" + Unsafe + ".Add(ref sumA, " + o["s"] + ") + shiftR * coefp + (centerR - " + Unsafe + ".Add(ref mu, " + o["s"] + ")) * coefq);");
        }, "pqr_");
    }

    /// <summary>The parallel unit of block plans: a fixed group of consecutive blocks, each reduced (and, for the apply, written)
    /// on its own; sums at the block's statistics in the shared [count | sumGrad | sumGradCentered] array.</summary>
    private static void EmitSynchronizedGroup(SourceWriter w, Context ctx, bool sums)
    {
        var fields = new List<(string, string)>();
        if (!sums) fields.Add((ctx.T, "epsilon"));
        fields.AddRange(new[]
        {
            ("int", "blocks"), ("int", "groups"), ("int", "parameters"), ("int", "totalStatistics"),
            ("double[][]", "doubles"), (ctx.T + "[][]", "elements"), ("double[]", "gradPartials"), ("double[]", "sums"),
        });
        EmitUnitStruct(w, ctx, "Synchronized" + (sums ? "Sums" : "Backward") + "Group", fields.ToArray(), () =>
        {
            if (!sums) w.Line(ctx.T + " epsilon = _epsilon;");
            w.Line("int statistics = (int)" + ctx.InnerProduct(Context.InnerKept) + ";");
            w.Line("int coefficients = (int)" + ctx.InnerProduct(Context.FoldAxis) + ";");
            w.Line("double localCount = (double)" + ctx.Product(Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced)) + ";");
            w.Line("double[] doubles = _doubles[worker];");
            w.Line(ctx.T + "[] elements = _elements[worker];");
            EmitBackwardScratchRefs(w, ctx);
            w.Line("ref double countRef = ref " + Marshal + ".GetArrayDataReference(_sums);");
            w.Line("ref double sumGradRef = ref " + Unsafe + ".Add(ref countRef, _totalStatistics);");
            w.Line("ref double sumGradCenteredRef = ref " + Unsafe + ".Add(ref sumGradRef, _totalStatistics);");
            string po = ctx.Spec.HasAffine ? "po" : "(nint)0";
            EmitGroupBlocks(w, ctx, writesDx: !sums, () =>
            {
                EmitSynchronizedTerms(w, ctx, sums, "so", "stat0", "stat1");
                EmitGradientShift(w, ctx, "dyb");
                w.Line("new global::System.Span<double>(doubles, 0, 3 * coefficients).Clear();");
                EmitGradientCall(w, ctx, "GradientReduce", "ref xb, ref dyb", "(nint)0", ctx.SegmentExtent(ctx.Plan.GradientSegments[0]), "ref coefM, ref coefD, ref sumU, ref sumV, ref sumX");
                if (sums)
                {
                    EmitSynchronizedSums(w, ctx, "so", po, "gamma", "localCount");
                }
                else
                {
                    EmitSynchronizedCoefficients(w, ctx, "so", po, "gamma", "gradSums", "parameters", "localCount");
                    EmitGradientCall(w, ctx, "GradientApply", "ref xb, ref dyb, ref dxb", "(nint)0", ctx.SegmentExtent(ctx.Plan.GradientSegments[0]), "ref coefM, ref coefP, ref coefQ, ref coefR, ref coefD");
                }
            });
        });
    }
}
