using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

// Mergeable statistics (synchronized BatchNorm across data-parallel workers): ShardStatistics runs only the statistics
// pass of a training forward (same shift, float chunks, double accumulation, same fixed units) and returns, per
// statistic, (count, mean, M2) in double; Statistics.Merge combines any number of shards in a fixed order;
// ForwardWithStatistics normalizes with merged statistics and updates the running ones like a training Forward.
internal static partial class Emitter
{

    private static void EmitShards(SourceWriter w, Context ctx)
    {
        if (!ctx.Plan.Shards) return;
        EmitShardSurface(w, ctx);
        if (ctx.Plan.BatchReduced) EmitForwardWithStatistics(w, ctx);
        EmitShardCore(w, ctx);
    }

    private static string StatisticsWhat(Context ctx) => "one per statistic: " + ctx.KeptText;

    private static void EmitShardSurface(SourceWriter w, Context ctx)
    {
        string shardParams = ctx.ReadOnlySpanT + " input, " + ctx.DimParams + ", global::System.Span<double> count, global::System.Span<double> mean, global::System.Span<double> m2";
        string what = Literals.String(StatisticsWhat(ctx));

        using (w.Block("private static void CheckShard(int inputLength, " + ctx.DimParams + ", int countLength, int meanLength, int m2Length)"))
        {
            w.Line("CheckShape(inputLength, inputLength, " + ctx.DimArgs + ");");
            w.Line("int statistics = StatisticCount(" + ctx.DimArgs + ");");
            w.Line(Checks + ".VectorLength(countLength, statistics, \"count\", " + what + ");");
            w.Line(Checks + ".VectorLength(meanLength, statistics, \"mean\", " + what + ");");
            w.Line(Checks + ".VectorLength(m2Length, statistics, \"m2\", " + what + ");");
        }
        w.Line();

        w.Line("/// <summary>The statistics pass alone, as mergeable partial statistics of this shard of a batch: per statistic (see StatisticCount) " +
               "its value count, mean and M2 (sum of squared deviations from the mean), in double. Merge shards (e.g. gathered from every " +
               "data-parallel worker) with <see cref=\"global::NormKernels.Runtime.Statistics.Merge(global::System.ReadOnlySpan{double}, global::System.ReadOnlySpan{double}, " +
               "global::System.ReadOnlySpan{double}, global::System.Span{double}, global::System.Span{double}, global::System.Span{double})\"/>" +
               (ctx.Plan.BatchReduced ? " and normalize with ForwardWithStatistics" : "") + ". Same sums as a training forward, units fixed by the shape: " +
               "bitwise identical for any thread count. Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " ShardStatistics(" + shardParams + ")"))
        {
            w.Line("CheckShard(input.Length, " + ctx.DimArgs + ", count.Length, mean.Length, m2.Length);");
            EmitShardOutputsDisjoint(w, ctx);
            w.Line("return " + ForwardDriver(ctx) + ".Moments(ChoosePath(true, " + ctx.ExtentArgsFromDims + "), new " + NestType + "(" + ctx.ExtentArgsFromDims + "), input, count, mean, m2);");
        }
        w.Line();
        w.Line("/// <summary>ShardStatistics on a tensor: dims from <paramref name=\"input\"/>'s lengths (" + ctx.Spec.Layout + ", dense row-major).</summary>");
        using (w.Block("public static " + KernelPath + " ShardStatistics(" + ctx.ReadOnlyTensorT + " input, global::System.Span<double> count, global::System.Span<double> mean, global::System.Span<double> m2)"))
        {
            Shared.TensorPrologue(w, ctx.Spec.Layout, ("input", ctx.ReadOnlySpanT));
            w.Line("return ShardStatistics(inputSpan, " + ctx.DimsFromArray + ", count, mean, m2);");
        }
        w.Line();
        w.Line("/// <summary>As ShardStatistics, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " ShardStatisticsOnPath<TOps>(" + KernelPath + " path, " + shardParams + ") where TOps : struct, " + Ops))
        {
            w.Line("CheckShard(input.Length, " + ctx.DimArgs + ", count.Length, mean.Length, m2.Length);");
            EmitShardOutputsDisjoint(w, ctx);
            w.Line(Checks + ".PathAvailable(path, ChoosePath(true, " + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return ShardCore<TOps>(path, input, " + ctx.ExtentArgsFromDims + ", count, mean, m2);");
        }
        w.Line();
    }

    /// <summary>ShardStatistics writes count, mean and M2 while it reads the input: separate buffers (the input can only
    /// share memory with them in a double layer).</summary>
    private static void EmitShardOutputsDisjoint(SourceWriter w, Context ctx)
    {
        if (ctx.Spec.IsDouble)
            foreach (string output in new[] { "count", "mean", "m2" })
                w.Line(Checks + ".Disjoint(input, " + output + ", nameof(" + output + "), nameof(input));");
        w.Line(Checks + ".Disjoint(count, mean, nameof(mean), nameof(count));");
        w.Line(Checks + ".Disjoint(count, m2, nameof(m2), nameof(count));");
        w.Line(Checks + ".Disjoint(mean, m2, nameof(m2), nameof(mean));");
    }

    private static void EmitForwardWithStatistics(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        w.Line("/// <summary>Training forward with given (merged) statistics: normalizes <paramref name=\"input\"/> with mean and biased variance " +
               "M2 / count per statistic, keeps them as BatchMean and BatchVariance, and updates the running statistics like Forward in training " +
               "(running variance: the unbiased M2 / (count - 1) with the TOTAL count). Runs whatever Training is. For synchronized BatchNorm: " +
               "every worker calls ShardStatistics on its shard, the shards are merged in one fixed order (Statistics.Merge), then every worker " +
               "calls this on its own shard.</summary>");
        using (w.Block("public void ForwardWithStatistics(" + ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.DimParams +
                       ", global::System.ReadOnlySpan<double> count, global::System.ReadOnlySpan<double> mean, global::System.ReadOnlySpan<double> m2)"))
        {
            w.Line("CheckShape(input.Length, output.Length, " + ctx.DimArgs + ");");
            EmitLayerSizeCheck(w, ctx);
            w.Line(Checks + ".NoPartialOverlap(input, output, nameof(output));");
            w.Line("int statistics = StatisticCount(" + ctx.DimArgs + ");");
            w.Line(Checks + ".MergedStatistics(count, mean, m2, statistics, " + Literals.String(StatisticsWhat(ctx)) + ");");
            w.Line("// Saves statistics and updates the running ones: this instance alone.");
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".ForwardWithStatistics") + ");");
            using (w.Block("try"))
            {
                w.Line("// Every field read once: the kernel reads through pointers into these very arrays.");
                foreach (string name in new[] { "batchStatistic0", "batchStatistic1", "batchMeanResidual" })
                    w.Line(ctx.T + "[] " + name + " = " + Rt + ".LayerState.Sized(ref _" + name + ", statistics);");
                using (w.Block("for (int stat = 0; stat < statistics; stat++)"))
                {
                    w.Line("batchStatistic0[stat] = (" + ctx.T + ")mean[stat];");
                    w.Line("batchMeanResidual[stat] = (" + ctx.T + ")(mean[stat] - batchStatistic0[stat]);");
                    w.Line("batchStatistic1[stat] = (" + ctx.T + ")" + Stats + ".Variance(count[stat], m2[stat]);");
                }
                w.Line(Guard.Fingerprint + ".Take(input, _fingerprint);");
                EmitSaveDims(w, ctx);
                w.Line("// Its backward needs gradient sums added across the shards: Backward refuses (it would be the local gradient); BackwardStatistics and BackwardWithStatistics give it.");
                w.Line("_savedLength = " + Checks + ".SynchronizedForward;");
                string paramRefs = spec.HasAffine ? "Weight, Bias" : "default, default";
                w.Line("LastPath = RunInference(ChoosePath(false, " + ctx.ExtentArgsFromDims + "), input, output, " + ctx.ExtentArgsFromDims + ", " + paramRefs +
                       ", batchStatistic0, batchStatistic1, _epsilon, batchMeanResidual);");
                w.Line("// PyTorch's update (SyncBatchNorm too): the running variance takes the unbiased variance over the total count.");
                w.Line("double momentum = _momentum;");
                w.Line(ctx.T + "[] runningMean = RunningMean, runningVar = RunningVar;");
                using (w.Block("for (int stat = 0; stat < statistics; stat++)"))
                {
                    w.Line("runningMean[stat] = (" + ctx.T + ")((1d - momentum) * runningMean[stat] + momentum * mean[stat]);");
                    w.Line("runningVar[stat] = (" + ctx.T + ")((1d - momentum) * runningVar[stat] + momentum * " + Stats + ".UnbiasedVariance(count[stat], m2[stat]));");
                }
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
        w.Line();
    }

    /// <summary>The shard statistics are the runtime forward driver's moments: the training forward's statistics pass.</summary>
    private static void EmitShardCore(SourceWriter w, Context ctx)
    {
        w.Line("private static " + KernelPath + " ShardCore<TOps>(" + KernelPath + " path, " + ctx.ReadOnlySpanT + " input, " + ctx.ExtentParams +
               ", global::System.Span<double> count, global::System.Span<double> mean, global::System.Span<double> m2) where TOps : struct, " + Ops + " =>");
        w.Line("    " + ForwardDriver(ctx) + ".Moments<TOps>(path, " + NewNest(ctx) + ", input, count, mean, m2);");
        w.Line();
    }
}
