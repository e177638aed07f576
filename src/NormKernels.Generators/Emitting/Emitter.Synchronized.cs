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

    private static void EmitSynchronizedBackward(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Synchronized) return;
        EmitSynchronizedSurface(w, ctx);
        EmitSynchronizedInterface(w, ctx);
        EmitSynchronizedCore(w, ctx, sums: true);
        EmitSynchronizedCore(w, ctx, sums: false);
    }

    /// <summary>The hook in the class declaration: layers with a synchronized backward implement the interface of the synchronized step.</summary>
    private static string SynchronizedInterface(Context ctx) => ctx.Plan.Synchronized ? ", " + SyncInterface(ctx) : "";

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
        w.Line("private static " + KernelPath + " RunSynchronizedSums(" + KernelPath + " path, " + ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " +
               ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " stat0, " + sumsOut + ") =>");
        w.Line("    " + Rt + ".Backward<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">.Sums(path, " + NewNest(ctx) + ", input, outputGrad, gamma, stat0, count, sumGrad, sumGradCentered);");
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
        w.Line("private static " + KernelPath + " RunSynchronizedBackward(" + KernelPath + " path, " + runParams + ") =>");
        w.Line("    " + Rt + ".Backward<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">.WithSums(path, " + NewNest(ctx) +
               ", input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);");
        w.Line();
    }

    private static string SumsParams(Context ctx, bool sums) => sums
        ? ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT +
          " stat0, global::System.Span<double> count, global::System.Span<double> sumGrad, global::System.Span<double> sumGradCentered"
        : ctx.ReadOnlySpanT + " input, " + ctx.ReadOnlySpanT + " outputGrad, " + ctx.SpanT + " inputGrad, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " +
          ctx.ReadOnlySpanT + " stat0, " + ctx.ReadOnlySpanT + " stat1, " + ctx.T + " epsilon, global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> sumGrad, " +
          "global::System.ReadOnlySpan<double> sumGradCentered, " + ctx.SpanT + " weightGrad, " + ctx.SpanT + " biasGrad";

    /// <summary>SynchronizedSumsCore (sums) or SynchronizedBackwardCore: the runtime's backward driver in its synchronized modes
    /// (<c>Backward&lt;Nest, Kind, T&gt;.Sums</c>, <c>.WithSums</c>), over this layer's nest.</summary>
    private static void EmitSynchronizedCore(SourceWriter w, Context ctx, bool sums)
    {
        string driver = Rt + ".Backward<" + NestType + ", " + KindType(ctx) + ", " + ctx.T + ">";
        w.Line("private static " + KernelPath + " " + (sums ? "SynchronizedSumsCore" : "SynchronizedBackwardCore") + "<TOps>(" + KernelPath + " path, " + SumsParams(ctx, sums) +
               ") where TOps : struct, " + Ops + " =>");
        w.Line("    " + driver + (sums
            ? ".Sums<TOps>(path, " + NewNest(ctx) + ", input, outputGrad, gamma, stat0, count, sumGrad, sumGradCentered);"
            : ".WithSums<TOps>(path, " + NewNest(ctx) + ", input, outputGrad, inputGrad, gamma, stat0, stat1, epsilon, count, sumGrad, sumGradCentered, weightGrad, biasGrad);"));
        w.Line();
    }
}
