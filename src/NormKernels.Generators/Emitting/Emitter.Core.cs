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
    /// The forward drivers are the runtime's <c>Forward&lt;Nest, Kind, T&gt;</c>, shared by every layer; these forwarders
    /// give them this layer's nest (see <see cref="EmitNestStruct"/>).
    /// </summary>
    private static void EmitCores(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        string statParams = spec.IsRootMeanSquare ? ctx.SpanT + " stat0" : ctx.SpanT + " stat0, " + ctx.SpanT + " stat1";
        string statArgs = spec.IsRootMeanSquare ? "stat0, default" : "stat0, stat1";
        string residual = ResidualParam(ctx), residualArg = spec.IsRootMeanSquare ? ", null" : ", meanResidual";
        string common = ctx.ReadOnlySpanT + " input, " + ctx.SpanT + " output, " + ctx.ExtentParams + ", " + ctx.ReadOnlySpanT + " gamma, " + ctx.ReadOnlySpanT + " beta";
        string args = "(path, " + NewNest(ctx) + ", input, output, gamma, beta, ";
        string driver = ForwardDriver(ctx);
        w.Line("private static " + KernelPath + " RunTraining(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon" + residual + ") =>");
        w.Line("    " + driver + ".Training" + args + statArgs + ", epsilon" + residualArg + ");");
        w.Line("private static " + KernelPath + " TrainingCore<TOps>(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon" + residual + ") where TOps : struct, " + Ops + " =>");
        w.Line("    " + driver + ".Training<TOps>" + args + statArgs + ", epsilon" + residualArg + ");");
        if (ctx.Plan.BatchReduced)
        {
            string running = ctx.ReadOnlySpanT + " runningMean, " + ctx.ReadOnlySpanT + " runningVar, " + ctx.T + " epsilon" + residual;
            w.Line("private static " + KernelPath + " RunInference(" + KernelPath + " path, " + common + ", " + running + ") =>");
            w.Line("    " + driver + ".Inference" + args + "runningMean, runningVar, epsilon" + residualArg + ");");
            w.Line("private static " + KernelPath + " InferenceCore<TOps>(" + KernelPath + " path, " + common + ", " + running + ") where TOps : struct, " + Ops + " =>");
            w.Line("    " + driver + ".Inference<TOps>" + args + "runningMean, runningVar, epsilon" + residualArg + ");");
        }
        w.Line();
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

    private static string StatFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.StatSegments[0]);

    private static string ApplyFirstExtent(Context ctx) => ctx.SegmentExtent(ctx.Plan.ApplySegments[0]);

    // ---------------------------------------------------------------- shared pieces

    /// <summary>
    /// The mean's residual (standardize only): <c>mean - (T)mean</c> per statistic, so that the mean rounded to the element type
    /// plus its residual carries the double mean. Training writes it when given an array (the layer keeps one for its Backward;
    /// the static kernels pass null); inference adds it to the given mean when given one (ForwardWithStatistics' merged mean).
    /// </summary>
    private static string ResidualParam(Context ctx) => ctx.Spec.IsRootMeanSquare ? "" : ", " + ctx.T + "[]? meanResidual";

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

}
