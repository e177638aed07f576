using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private const string ArmOps = "global::NormKernels.Runtime.AdvSimdVector128Ops<global::NormKernels.Runtime.AdvSimdIntrinsics>";
    private const string Stats = "global::NormKernels.Runtime.Statistics";
    private const string X86Ops = "global::NormKernels.Runtime.X86Vector128Ops";
    private const string Units = "global::NormKernels.Runtime.ParallelUnits";
    private const string Body = "global::NormKernels.Runtime.IParallelBody";
    private const string Pinned = "global::NormKernels.Runtime.PinnedSpans";
    private const string Pool = "global::System.Buffers.ArrayPool";
    private const string WorkerScratch = "global::NormKernels.Runtime.WorkerScratch";

    /// <summary>Elements per chunk of a whole-tensor pass: the unit of parallel work, fixed by the shape alone.</summary>
    private const int ChunkElements = 1 << 15;

    /// <summary>
    /// The per-call drivers. Plans with block axes run one unit per block (statistics, coefficients and apply
    /// back to back, per-worker scratch). Whole-tensor plans run the statistics over chunks of their first
    /// segment into per-chunk partial sums merged in chunk order, then the apply over chunks. The units depend
    /// on the shape only, so results are bitwise identical for any number of threads.
    /// </summary>
    private static void EmitCores(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string statParams = spec.IsRootMeanSquare ? ctx.SpanT + " stat0" : ctx.SpanT + " stat0, " + ctx.SpanT + " stat1";
        string statArgs = spec.IsRootMeanSquare ? "stat0" : "stat0, stat1";
        string residual = ResidualParam(ctx), residualArg = spec.IsRootMeanSquare ? "" : ", meanResidual";
        string common = ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " beta";
        string commonArgs = "input, output, " + ctx.ExtentArgs + ", gamma, beta";

        // The 128-bit path's two ISA-specific operations come from a struct type parameter; pick it once here.
        using (w.Block("private static " + KernelPath + " RunTraining(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon" + residual + ")"))
        {
            w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
            w.Line("    ? TrainingCore<" + ArmOps + ">(path, " + commonArgs + ", " + statArgs + ", epsilon" + residualArg + ")");
            w.Line("    : TrainingCore<" + X86Ops + ">(path, " + commonArgs + ", " + statArgs + ", epsilon" + residualArg + ");");
        }
        w.Line();
        if (plan.BatchReduced)
        {
            using (w.Block("private static " + KernelPath + " RunInference(" + KernelPath + " path, " + common + ", " + ctx.ReadOnlySpanT + " runningMean, " + ctx.ReadOnlySpanT + " runningVar, " + ctx.T + " epsilon" + residual + ")"))
            {
                w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
                w.Line("    ? InferenceCore<" + ArmOps + ">(path, " + commonArgs + ", runningMean, runningVar, epsilon" + residualArg + ")");
                w.Line("    : InferenceCore<" + X86Ops + ">(path, " + commonArgs + ", runningMean, runningVar, epsilon" + residualArg + ");");
            }
            w.Line();
        }

        if (plan.BlockAxes > 0)
        {
            EmitBlockDriver(w, ctx, training: true, common, statParams, statArgs);
            if (plan.BatchReduced) EmitBlockDriver(w, ctx, training: false, common, statParams, statArgs);
        }
        else
        {
            EmitWholeTraining(w, ctx, common, statParams);
            if (plan.BatchReduced) EmitWholeInference(w, ctx, common);
            EmitChunkBodies(w, ctx);
        }
    }

    /// <summary>Each worker's doubles and elements, rented with their tables in one call: locals <c>doubles</c> and
    /// <c>elements</c> indexed by worker (local <c>workers</c> in scope). Given back by <see cref="EmitReturnWorkerScratch"/> in a finally.</summary>
    private static void EmitRentWorkerScratch(SourceWriter w, Context ctx, string doublesSize, string elementsSize)
    {
        w.Line(WorkerScratch + "<" + ctx.T + "> workerScratch = " + WorkerScratch + "<" + ctx.T + ">.Rent(workers, " + doublesSize + ", " + elementsSize + ");");
        w.Line("double[][] doubles = workerScratch.Doubles;");
        w.Line(ctx.T + "[][] elements = workerScratch.Elements;");
    }

    private static void EmitReturnWorkerScratch(SourceWriter w) => w.Line("workerScratch.Return();");

    // ---------------------------------------------------------------- (A) one unit per block

    private static void EmitBlockDriver(SourceWriter w, Context ctx, bool training, string common, string statParams, string statArgs)
    {
        string name = training ? "TrainingBlock" : "InferenceBlock";
        string core = training ? "TrainingCore" : "InferenceCore";
        string extra = training ? statParams : ctx.ReadOnlySpanT + " runningMean, " + ctx.ReadOnlySpanT + " runningVar";
        string spanArgs = training
            ? (ctx.Spec.IsRootMeanSquare ? "stat0, default" : "stat0, stat1")
            : "global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(runningMean), runningMean.Length), " +
              "global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(runningVar), runningVar.Length)";
        bool centered = !ctx.Spec.IsRootMeanSquare;
        using (w.Block("private static " + KernelPath + " " + core + "<TOps>(" + KernelPath + " path, " + common + ", " + extra + ", " + ctx.T + " epsilon" + ResidualParam(ctx) + ") where TOps : struct, " + Ops))
        {
            w.Line("// Units: one per block (" + string.Join(", ", ctx.BlockAxes.Select(a => a.Name)) + "); each worker has its own scratch.");
            w.Line("int units = (int)" + ctx.Product(ctx.BlockIndices) + ";");
            w.Line("int workers = global::NormKernels.Parallelism.Workers(input.Length, units);");
            EmitScratchSizes(w, ctx, training);
            EmitRentWorkerScratch(w, ctx, DoublesSize(ctx, training), ElementsSize(ctx, training));
            using (w.Block("try"))
                w.Line(Units + ".For(units, workers, new " + name + "<TOps>(path, " + ctx.ExtentArgs + ", epsilon, doubles, elements" + (centered ? ", meanResidual" : "") + "), input, output, gamma, beta, " + spanArgs + ");");
            using (w.Block("finally"))
                EmitReturnWorkerScratch(w);
            w.Line("return path;");
        }
        w.Line();

        var fields = new List<(string, string)> { (ctx.T, "epsilon"), ("double[][]", "doubles"), (ctx.T + "[][]", "elements") };
        if (centered) fields.Add((ctx.T + "[]?", "meanResidual"));
        EmitUnitStruct(w, ctx, name, fields.ToArray(), () =>
        {
            w.Line(ctx.T + " epsilon = _epsilon;");
            if (centered) w.Line(ctx.T + "[]? meanResidual = _meanResidual;");
            EmitScratchSizes(w, ctx, training);
            w.Line("double[] doubles = _doubles[worker];");
            w.Line(ctx.T + "[] elements = _elements[worker];");
            w.Line("ref " + ctx.T + " x = ref " + Units + ".At<" + ctx.T + ">(spans.S0);");
            w.Line("ref " + ctx.T + " y = ref " + Units + ".At<" + ctx.T + ">(spans.S1);");
            w.Line("ref " + ctx.T + " gamma = ref " + Units + ".At<" + ctx.T + ">(spans.S2);");
            w.Line("ref " + ctx.T + " beta = ref " + Units + ".At<" + ctx.T + ">(spans.S3);");
            w.Line("ref " + ctx.T + " " + (training ? "stat0" : "runningMean") + " = ref " + Units + ".At<" + ctx.T + ">(spans.S4);");
            if (!training || !ctx.Spec.IsRootMeanSquare)
                w.Line("ref " + ctx.T + " " + (training ? "stat1" : "runningVar") + " = ref " + Units + ".At<" + ctx.T + ">(spans.S5);");
            EmitScratchRefs(w, ctx, training);

            w.Line("// The block of this unit: its index along each block axis, innermost fastest.");
            var offsets = EmitBlockIndex(w, ctx, "unit");
            w.Line("nint xo = " + offsets.Memory + ";");
            w.Line("nint so = " + offsets.Statistic + ";");
            if (ctx.Spec.HasAffine) w.Line("nint po = " + offsets.Parameter + ";");
            w.Line("ref " + ctx.T + " xb = ref " + Unsafe + ".Add(ref x, xo);");
            w.Line("ref " + ctx.T + " yb = ref " + Unsafe + ".Add(ref y, xo);");
            if (training)
            {
                if (!ctx.Spec.IsRootMeanSquare) EmitShift(w, ctx);
                w.Line("new global::System.Span<double>(doubles, 0, 2 * accumulators).Clear();");
                EmitStatisticsCall(w, ctx, "(nint)0", StatFirstExtent(ctx), "ref sum", "ref sq");
                EmitCombineAndFinalize(w, ctx, "so");
            }
            else
            {
                EmitRunningTerms(w, ctx, "so");
            }
            string po = ctx.Spec.HasAffine ? "po" : "(nint)0";
            EmitCoefficients(w, ctx, po);
            EmitApplyCall(w, ctx, "ref xb", "ref yb", "(nint)0", ApplyFirstExtent(ctx), "ref " + Unsafe + ".Add(ref gamma, po)", "ref " + Unsafe + ".Add(ref beta, po)");
        });
    }

    /// <summary>
    /// Decomposes the block number <paramref name="block"/> into its index along each block axis (<c>b_*</c> locals,
    /// innermost fastest) and returns the block's offsets in memory, in the statistics and in the parameters.
    /// </summary>
    private static (string Memory, string Statistic, string Parameter) EmitBlockIndex(SourceWriter w, Context ctx, string block)
    {
        w.Line("// The block: its index along each block axis, innermost fastest.");
        w.Line("nint rest = " + block + ";");
        var x = new List<string>();
        var s = new List<string>();
        var p = new List<string>();
        var blockIndices = ctx.BlockIndices;
        for (int k = blockIndices.Count - 1; k >= 0; k--)
        {
            int i = blockIndices[k];
            var axis = ctx.Axes[i];
            w.Line("nint b_" + axis.Name + " = rest % e_" + axis.Name + ";");
            if (k > 0) w.Line("rest /= e_" + axis.Name + ";");
            x.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.Memory));
            s.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.Kept));
            if (axis.Param) p.Add("b_" + axis.Name + " * " + ctx.Stride(i, Context.ParamAxis));
        }
        string Sum(List<string> terms) => terms.Count == 0 ? "(nint)0" : string.Join(" + ", terms);
        return (Sum(x), Sum(s), Sum(p));
    }

    // ---------------------------------------------------------------- (B) whole tensor, chunked passes

    private static void EmitWholeTraining(SourceWriter w, Context ctx, string common, string statParams)
    {
        var plan = ctx.Plan;
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        EmitWholeDriver(w, ctx, "TrainingCore<TOps>(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon" + ResidualParam(ctx) + ")", training: true,
            prologue: () =>
            {
                w.Line("// Statistics over chunks of the first segment, fixed by the shape: each chunk its own partial sums.");
                w.Line("nint statFirst = " + StatFirstExtent(ctx) + ";");
                w.Line("int chunks = " + ChunkCount(ctx, "statFirst", plan.Strategy == ReduceStrategy.Vertical || plan.StatSegments.Count > 1) + ";");
                w.Line("double[] partials = " + Pool + "<double>.Shared.Rent(chunks * 2 * accumulators);");
            },
            statistics: () =>
            {
                w.Line("ref " + ctx.T + " xb = ref " + Marshal + ".GetReference(input);");
                if (standardize) EmitShift(w, ctx);
                EmitStatisticsChunks(w, ctx);
                w.Line("ref " + ctx.T + " stat0Ref = ref " + Marshal + ".GetReference(stat0);");
                if (standardize) w.Line("ref " + ctx.T + " stat1Ref = ref " + Marshal + ".GetReference(stat1);");
                EmitCombineAndFinalize(w, ctx, "(nint)0", "stat0Ref", "stat1Ref");
            },
            release: () => w.Line(Pool + "<double>.Shared.Return(partials);"));
    }

    /// <summary>The statistics pass over the chunks of a whole-tensor plan (locals statFirst, chunks, accumulators,
    /// partials, elements, shift in place): each chunk's partial sums, then merged into doubles in chunk order.</summary>
    private static void EmitStatisticsChunks(SourceWriter w, Context ctx)
    {
        w.Line("new global::System.Span<double>(partials, 0, chunks * 2 * accumulators).Clear();");
        w.Line(Units + ".For(chunks, global::NormKernels.Parallelism.Workers(input.Length, chunks), new StatisticsChunk<TOps>(path, " + ctx.ExtentArgs +
               ", statFirst, chunks, accumulators, partials, elements), input, default, default, default, default, default);");
        EmitMergeChunkPartials(w, "2 * accumulators");
    }

    /// <summary>doubles[0, width) = the sum of the chunks' partials (partials[chunk * width + slot]), added in chunk order, so the
    /// result does not depend on which thread ran which chunk. (Not <c>a</c>: the coefficients' <c>double a</c> shares the scope
    /// when the plan has no coefficient loop.)</summary>
    private static void EmitMergeChunkPartials(SourceWriter w, string width)
    {
        w.Line("// Merge the chunks' partial sums in chunk order (deterministic whatever ran them).");
        w.Line("new global::System.Span<double>(doubles, 0, " + width + ").Clear();");
        using (w.Block("for (int chunk = 0; chunk < chunks; chunk++)"))
        using (w.Block("for (int slot = 0; slot < " + width + "; slot++)"))
            w.Line("doubles[slot] += partials[chunk * " + width + " + slot];");
    }

    private static void EmitWholeInference(SourceWriter w, Context ctx, string common)
    {
        EmitWholeDriver(w, ctx, "InferenceCore<TOps>(" + KernelPath + " path, " + common + ", " + ctx.ReadOnlySpanT + " runningMean, " + ctx.ReadOnlySpanT + " runningVar, " + ctx.T + " epsilon" + ResidualParam(ctx) + ")", training: false,
            prologue: () => { },
            statistics: () =>
            {
                w.Line("ref " + ctx.T + " runningMeanRef = ref " + Marshal + ".GetReference(runningMean);");
                w.Line("ref " + ctx.T + " runningVarRef = ref " + Marshal + ".GetReference(runningVar);");
                EmitRunningTerms(w, ctx, "(nint)0", "runningMeanRef", "runningVarRef");
            },
            release: () => { });
    }

    /// <summary>
    /// The skeleton of both whole-tensor drivers: pooled scratch, the statistics (batch or running) into (mu, rstd),
    /// coefficients, then the apply over chunks; scratch returned in a finally.
    /// </summary>
    private static void EmitWholeDriver(SourceWriter w, Context ctx, string signature, bool training,
        System.Action prologue, System.Action statistics, System.Action release)
    {
        using (w.Block("private static " + KernelPath + " " + signature + " where TOps : struct, " + Ops))
        {
            EmitScratchSizes(w, ctx, training);
            w.Line("double[] doubles = " + Pool + "<double>.Shared.Rent(" + DoublesSize(ctx, training) + ");");
            w.Line(ctx.T + "[] elements = " + Pool + "<" + ctx.T + ">.Shared.Rent(" + ElementsSize(ctx, training) + ");");
            prologue();
            using (w.Block("try"))
            {
                EmitScratchRefs(w, ctx, training);
                statistics();
                w.Line("ref " + ctx.T + " gammaRef = ref " + Marshal + ".GetReference(gamma);");
                w.Line("ref " + ctx.T + " betaRef = ref " + Marshal + ".GetReference(beta);");
                EmitCoefficients(w, ctx, "(nint)0", "gammaRef", "betaRef");
                EmitApplyChunks(w, ctx, "gamma, beta");
            }
            using (w.Block("finally"))
            {
                w.Line(Pool + "<double>.Shared.Return(doubles);");
                w.Line(Pool + "<" + ctx.T + ">.Shared.Return(elements);");
                release();
            }
            w.Line("return path;");
        }
        w.Line();
    }

    private static void EmitApplyChunks(SourceWriter w, Context ctx, string gammaBeta)
    {
        var plan = ctx.Plan;
        w.Line("// Apply over chunks of its first segment (no reduction: any split gives the same bits).");
        w.Line("nint applyFirst = " + ApplyFirstExtent(ctx) + ";");
        w.Line("int applyChunks = " + ChunkCount(ctx, "applyFirst", plan.ApplySegments.Count > 1) + ";");
        w.Line(Units + ".For(applyChunks, global::NormKernels.Parallelism.Workers(input.Length, applyChunks), new ApplyChunk<TOps>(path, " + ctx.ExtentArgs +
               ", applyFirst, applyChunks, elements, coefficients), input, output, " + gammaBeta + ", default, default);");
    }

    /// <summary>The unit bodies of whole-tensor plans: a chunk of the statistics pass, a chunk of the apply pass.</summary>
    private static void EmitChunkBodies(SourceWriter w, Context ctx)
    {
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        EmitUnitStruct(w, ctx, "StatisticsChunk",
            new[] { ("nint", "first"), ("int", "chunks"), ("int", "accumulators"), ("double[]", "partials"), (ctx.T + "[]", "elements") }, () =>
            {
                w.Line("nint from = _first * unit / _chunks, to = _first * (unit + 1) / _chunks;");
                w.Line("ref " + ctx.T + " xb = ref " + Units + ".At<" + ctx.T + ">(spans.S0);");
                w.Line("ref double sum = ref " + Unsafe + ".Add(ref " + Marshal + ".GetArrayDataReference(_partials), unit * 2 * _accumulators);");
                w.Line("ref double sq = ref " + Unsafe + ".Add(ref sum, _accumulators);");
                if (standardize)
                {
                    w.Line("int coefficients = (int)" + ctx.InnerProduct(ctx.Plan.Form == ApplyForm.Fold ? Context.FoldAxis : Context.InnerKept) + ";");
                    w.Line("ref " + ctx.T + " shift = ref " + Unsafe + ".Add(ref " + Marshal + ".GetArrayDataReference(_elements), " + CoefficientArrays(ctx) + " * coefficients);");
                }
                EmitStatisticsCall(w, ctx, "from", "to", "ref sum", "ref sq");
            });
        EmitUnitStruct(w, ctx, "ApplyChunk",
            new[] { ("nint", "first"), ("int", "chunks"), (ctx.T + "[]", "elements"), ("int", "coefficients") }, () =>
            {
                w.Line("nint from = _first * unit / _chunks, to = _first * (unit + 1) / _chunks;");
                w.Line("ref " + ctx.T + " coefA = ref " + Marshal + ".GetArrayDataReference(_elements);");
                w.Line("ref " + ctx.T + " coefB = ref " + Unsafe + ".Add(ref coefA, _coefficients);");
                if (!ctx.Spec.IsRootMeanSquare) w.Line("ref " + ctx.T + " coefC = ref " + Unsafe + ".Add(ref coefB, _coefficients);");
                EmitApplyCall(w, ctx, "ref " + Units + ".At<" + ctx.T + ">(spans.S0)", "ref " + Units + ".At<" + ctx.T + ">(spans.S1)", "from", "to",
                    "ref " + Units + ".At<" + ctx.T + ">(spans.S2)", "ref " + Units + ".At<" + ctx.T + ">(spans.S3)");
            });
    }

    /// <summary>
    /// A unit body: a readonly struct implementing IParallelBody whose primary constructor carries the path, the extents
    /// (<c>e_*</c>) and <paramref name="fields"/> (type, name: visible as <c>_name</c>) into <c>Run(worker, unit, spans)</c>,
    /// where <paramref name="run"/> writes the unit's work.
    /// </summary>
    private static void EmitUnitStruct(SourceWriter w, Context ctx, string name, (string Type, string Name)[] fields, System.Action run)
    {
        string parameters = string.Concat(fields.Select(f => ", " + f.Type + " _" + f.Name));
        using (w.Block("private readonly struct " + name + "<TOps>(" + KernelPath + " path, " + ctx.ExtentParams + parameters + ") : " + Body + " where TOps : struct, " + Ops))
        {
            using (w.Block("public void Run(int worker, int unit, in " + Pinned + " spans)"))
                run();
        }
        w.Line();
    }

    /// <summary>A fixed function of the shape: enough chunks of about <see cref="ChunkElements"/> elements, at most one per index of the first segment.</summary>
    private static string ChunkCount(Context ctx, string first, bool splittable) =>
        splittable ? "(int)global::System.Math.Clamp(input.Length / " + Literals.Int(ChunkElements) + ", 1, (long)" + first + ")" : "1";

    private static string StatFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.StatSegments[0]);

    private static string ApplyFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.ApplySegments[0]);

    // ---------------------------------------------------------------- shared pieces

    /// <summary>
    /// The mean's residual (standardize only): <c>mean - (T)mean</c> per statistic, so that the mean rounded to the element type
    /// plus its residual carries the double mean. Training writes it when given an array (the layer keeps one for its Backward;
    /// the static kernels pass null); inference adds it to the given mean when given one (ForwardWithStatistics' merged mean).
    /// </summary>
    private static string ResidualParam(Context ctx) => ctx.Spec.IsRootMeanSquare ? "" : ", " + ctx.T + "[]? meanResidual";

    /// <summary>Per-block scratch sizes (locals statistics, coefficients, accumulators).</summary>
    private static void EmitScratchSizes(SourceWriter w, Context ctx, bool training)
    {
        w.Line("int statistics = (int)" + ctx.InnerProduct(Context.InnerKept) + ";");
        w.Line("int coefficients = " + (ctx.Plan.Form == ApplyForm.Fold ? "(int)" + ctx.InnerProduct(Context.FoldAxis) : "statistics") + ";");
        if (training) w.Line("int accumulators = (int)" + ctx.InnerProduct(Context.Accumulated) + ";");
    }

    // doubles: sum, sq per accumulator; (promoted: sum, sq per statistic); mean, rstd per statistic.
    private static string DoublesSize(Context ctx, bool training) =>
        training ? "2 * accumulators + " + (ctx.Plan.Promoted ? "4" : "2") + " * statistics" : "2 * statistics";

    // elements: coefficients A, B (standardize: and the apply's center C); (training, standardize: shift per accumulator,
    // promoted: shift per statistic).
    private static string ElementsSize(Context ctx, bool training) =>
        CoefficientArrays(ctx) + " * coefficients" + (training && !ctx.Spec.IsRootMeanSquare ? " + accumulators" + (ctx.Plan.Promoted ? " + statistics" : "") : "");

    /// <summary>How many coefficient arrays the apply reads: A, B, and for a standardizing norm the center C.</summary>
    private static string CoefficientArrays(Context ctx) => ctx.Spec.IsRootMeanSquare ? "2" : "3";

    /// <summary>Refs carved out of the scratch arrays <c>doubles</c> and <c>elements</c>.</summary>
    private static void EmitScratchRefs(SourceWriter w, Context ctx, bool training)
    {
        var plan = ctx.Plan;
        if (training)
        {
            w.Line("double count = (double)" + ctx.Product(Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced)) + ";");
            w.Line("ref double sum = ref " + Marshal + ".GetArrayDataReference(doubles);");
            w.Line("ref double sq = ref " + Unsafe + ".Add(ref sum, accumulators);");
            if (plan.Promoted)
            {
                w.Line("ref double statSum = ref " + Unsafe + ".Add(ref sq, accumulators);");
                w.Line("ref double statSq = ref " + Unsafe + ".Add(ref statSum, statistics);");
                w.Line("ref double mu = ref " + Unsafe + ".Add(ref statSq, statistics);");
            }
            else
            {
                w.Line("ref double statSum = ref sum;");
                w.Line("ref double statSq = ref sq;");
                w.Line("ref double mu = ref " + Unsafe + ".Add(ref sq, accumulators);");
            }
        }
        else
        {
            w.Line("ref double mu = ref " + Marshal + ".GetArrayDataReference(doubles);");
        }
        w.Line("ref double rstd = ref " + Unsafe + ".Add(ref mu, statistics);");
        w.Line("ref " + ctx.T + " coefA = ref " + Marshal + ".GetArrayDataReference(elements);");
        w.Line("ref " + ctx.T + " coefB = ref " + Unsafe + ".Add(ref coefA, coefficients);");
        if (!ctx.Spec.IsRootMeanSquare) w.Line("ref " + ctx.T + " coefC = ref " + Unsafe + ".Add(ref coefB, coefficients);");
        if (training && !ctx.Spec.IsRootMeanSquare)
        {
            w.Line("ref " + ctx.T + " shift = ref " + Unsafe + ".Add(ref coefC, coefficients);");
            w.Line(plan.Promoted ? "ref " + ctx.T + " statShift = ref " + Unsafe + ".Add(ref shift, accumulators);" : "ref " + ctx.T + " statShift = ref shift;");
        }
    }

    /// <summary>Each statistic's shift (its first element), expanded per accumulator when channels are promoted.</summary>
    private static void EmitShift(SourceWriter w, Context ctx)
    {
        w.Line("// Shift: each statistic's first element, so sums of (x - shift) stay small whatever the data's offset.");
        EmitNest(w, InnerAxisLoops(ctx, Context.Kept, ("x", Context.Memory), ("s", Context.InnerKept)),
            new Dictionary<string, string> { ["x"] = "(nint)0", ["s"] = "(nint)0" },
            o => w.Line(Unsafe + ".Add(ref statShift, " + o["s"] + ") = " + Unsafe + ".Add(ref xb, " + o["x"] + ");"), "first_");
        if (ctx.Plan.Promoted)
        {
            w.Line("// Every per-channel accumulator of a group shares the group's shift, so their sums add up.");
            EmitNest(w, InnerAxisLoops(ctx, Context.Accumulated, ("a", Context.Accumulated), ("s", Context.InnerKept)),
                new Dictionary<string, string> { ["a"] = "(nint)0", ["s"] = "(nint)0" },
                o => w.Line(Unsafe + ".Add(ref shift, " + o["a"] + ") = " + Unsafe + ".Add(ref statShift, " + o["s"] + ");"), "share_");
        }
    }

    private static void EmitStatisticsCall(SourceWriter w, Context ctx, string from, string to, string sum, string sq)
    {
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        using (w.Block("switch (path)"))
        {
            string args = "ref xb, " + ctx.ExtentArgs + ", " + from + ", " + to + (standardize ? ", ref shift, " + sum : "") + ", " + sq;
            foreach (var isa in ctx.Isas)
                w.Line((isa.IsScalar ? "default" : "case " + KernelPath + "." + isa.Path) + ": " + isa.PathCall("Statistics") + "(" + args + "); break;");
        }
    }

    /// <summary>Promoted accumulators combined into their statistic; mean/variance written out and kept as (mu, rstd).</summary>
    private static void EmitCombineAndFinalize(SourceWriter w, Context ctx, string so, string stat0 = "stat0", string stat1 = "stat1")
    {
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        if (ctx.Plan.Promoted)
        {
            w.Line("// Combine the per-channel accumulators into their group, in a fixed order.");
            w.Line("new global::System.Span<double>(doubles, 2 * accumulators, 2 * statistics).Clear();");
            EmitNest(w, InnerAxisLoops(ctx, Context.Accumulated, ("a", Context.Accumulated), ("s", Context.InnerKept)),
                new Dictionary<string, string> { ["a"] = "(nint)0", ["s"] = "(nint)0" },
                o =>
                {
                    if (standardize) w.Line(Unsafe + ".Add(ref statSum, " + o["s"] + ") += " + Unsafe + ".Add(ref sum, " + o["a"] + ");");
                    w.Line(Unsafe + ".Add(ref statSq, " + o["s"] + ") += " + Unsafe + ".Add(ref sq, " + o["a"] + ");");
                }, "combine_");
        }
        string Out(string name, string s) => Unsafe + ".Add(ref " + name + ", " + Offset(so, s) + ")";
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            if (standardize)
            {
                w.Line("(double mean, double variance) = " + Stats + ".FromShiftedSums(" + Unsafe + ".Add(ref statShift, s), " +
                       Unsafe + ".Add(ref statSum, s), " + Unsafe + ".Add(ref statSq, s), count);");
                w.Line(Out(stat0, "s") + " = (" + ctx.T + ")mean;");
                w.Line("if (meanResidual is not null) meanResidual[" + Offset(so, "s") + "] = (" + ctx.T + ")(mean - (" + ctx.T + ")mean);");
                w.Line(Out(stat1, "s") + " = (" + ctx.T + ")variance;");
                w.Line(Unsafe + ".Add(ref mu, s) = mean;");
                w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(variance, epsilon);");
            }
            else
            {
                w.Line("double meanSquare = " + Unsafe + ".Add(ref statSq, s) / count;");
                w.Line(Out(stat0, "s") + " = (" + ctx.T + ")meanSquare;");
                w.Line(Unsafe + ".Add(ref mu, s) = 0d;");
                w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(meanSquare, epsilon);");
            }
        }
    }

    /// <summary>(mu, rstd) of the block's statistics from the running statistics.</summary>
    private static void EmitRunningTerms(SourceWriter w, Context ctx, string so, string mean = "runningMean", string variance = "runningVar")
    {
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            w.Line(Unsafe + ".Add(ref mu, s) = " + Unsafe + ".Add(ref " + mean + ", " + Offset(so, "s") + ")" +
                   (ctx.Spec.IsRootMeanSquare ? "" : " + (meanResidual is null ? 0d : meanResidual[" + Offset(so, "s") + "])") + ";");
            w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(" + Unsafe + ".Add(ref " + variance + ", " + Offset(so, "s") + "), epsilon);");
        }
    }

    private static string Offset(string a, string b) => a == "(nint)0" ? b : b == "(nint)0" ? a : a + " + " + b;

    /// <summary>One loop per axis inside the block that satisfies <paramref name="select"/>, with strides in the named spaces.</summary>
    private static List<Loop> InnerAxisLoops(Context ctx, System.Func<PlanAxis, bool> select, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        var loops = new List<Loop>();
        for (int i = 0; i < ctx.Axes.Count; i++)
        {
            var axis = ctx.Axes[i];
            if (axis.Block || !select(axis)) continue;
            var loop = new Loop("i_" + axis.Name, ctx.E(i), "");
            foreach (var (space, member) in spaces)
                if (member(axis)) loop.Strides[space] = ctx.Stride(i, member);
            loops.Add(loop);
        }
        return loops;
    }

    /// <summary>Coefficients from (mu, rstd) and the affine parameters.</summary>
    private static void EmitCoefficients(SourceWriter w, Context ctx, string po, string gammaRef = "gamma", string betaRef = "beta")
    {
        var spec = ctx.Spec;
        string gamma(string p) => spec.HasAffine ? "(double)" + Unsafe + ".Add(ref " + gammaRef + ", " + Offset(po, p) + ")" : "1d";
        string beta(string p) => spec.HasAffine ? "(double)" + Unsafe + ".Add(ref " + betaRef + ", " + Offset(po, p) + ")" : "0d";
        if (ctx.Plan.Form == ApplyForm.Fold)
        {
            if (spec.IsRootMeanSquare)
                w.Line("// Coefficients: A = gamma * rstd, B = beta, one pair per fold index (computed in double).");
            else
            {
                w.Line("// Coefficients, one triple per fold index (computed in double): y = (x - C) * A + B with C = mean rounded to the element type,");
                w.Line("// A = gamma * rstd and B = beta - (mean - C) * A. x - C is exact for x near the mean, so y keeps the element type's");
                w.Line("// precision relative to y itself, not to |mean| / std as x * A + (beta - mean * A) would.");
            }
            EmitNest(w, InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept), ("p", Context.ParamAxis)),
                new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" },
                o =>
                {
                    w.Line("double a = " + gamma(o["p"]) + " * " + Unsafe + ".Add(ref rstd, " + o["s"] + ");");
                    w.Line(Unsafe + ".Add(ref coefA, " + o["f"] + ") = (" + ctx.T + ")a;");
                    if (spec.IsRootMeanSquare)
                    {
                        w.Line(Unsafe + ".Add(ref coefB, " + o["f"] + ") = (" + ctx.T + ")(" + beta(o["p"]) + " - " + Unsafe + ".Add(ref mu, " + o["s"] + ") * a);");
                    }
                    else
                    {
                        w.Line("double m = " + Unsafe + ".Add(ref mu, " + o["s"] + ");");
                        w.Line(ctx.T + " c = (" + ctx.T + ")m;");
                        w.Line(Unsafe + ".Add(ref coefC, " + o["f"] + ") = c;");
                        w.Line(Unsafe + ".Add(ref coefB, " + o["f"] + ") = (" + ctx.T + ")(" + beta(o["p"]) + " - (m - c) * a);");
                    }
                }, "coef_");
        }
        else
        {
            w.Line(spec.IsRootMeanSquare
                ? "// Coefficients: a = rstd, b = -mean * rstd per statistic; gamma and beta are applied after."
                : "// Coefficients per statistic: c = mean rounded to the element type, a = rstd, b = -(mean - c) * rstd; y = ((x - c) * a + b) * gamma + beta.");
            using (w.Block("for (int s = 0; s < statistics; s++)"))
            {
                w.Line(Unsafe + ".Add(ref coefA, s) = (" + ctx.T + ")" + Unsafe + ".Add(ref rstd, s);");
                if (spec.IsRootMeanSquare)
                {
                    w.Line(Unsafe + ".Add(ref coefB, s) = (" + ctx.T + ")(-" + Unsafe + ".Add(ref mu, s) * " + Unsafe + ".Add(ref rstd, s));");
                }
                else
                {
                    w.Line("double m = " + Unsafe + ".Add(ref mu, s);");
                    w.Line(ctx.T + " c = (" + ctx.T + ")m;");
                    w.Line(Unsafe + ".Add(ref coefC, s) = c;");
                    w.Line(Unsafe + ".Add(ref coefB, s) = (" + ctx.T + ")(-(m - c) * " + Unsafe + ".Add(ref rstd, s));");
                }
            }
        }
    }

    private static void EmitApplyCall(SourceWriter w, Context ctx, string x, string y, string from, string to, string g, string h)
    {
        using (w.Block("switch (path)"))
        {
            string args = x + ", " + y + ", " + ctx.ExtentArgs + ", " + from + ", " + to + ", ref coefA, ref coefB" + (ctx.Spec.IsRootMeanSquare ? "" : ", ref coefC") +
                (ctx.Plan.Form == ApplyForm.TwoStep ? ", " + g + ", " + h : "");
            foreach (var isa in ctx.Isas)
                w.Line((isa.IsScalar ? "default" : "case " + KernelPath + "." + isa.Path) + ": " + isa.PathCall("Apply") + "(" + args + "); break;");
        }
    }
}
