using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private const string ArmOps = "global::NormKernels.Runtime.AdvSimdVector128Ops<global::NormKernels.Runtime.AdvSimdIntrinsics>";
    private const string Stats = "global::NormKernels.Runtime.Statistics";
    private const string X86Ops = "global::NormKernels.Runtime.X86Vector128Ops";

    /// <summary>The per-call drivers: block loop, statistics, coefficients and the apply pass.</summary>
    private static void EmitCores(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string statParams = spec.IsRootMeanSquare ? ctx.SpanT + " stat0" : ctx.SpanT + " stat0, " + ctx.SpanT + " stat1";
        string statArgs = spec.IsRootMeanSquare ? "stat0" : "stat0, stat1";
        string common = "ref " + ctx.T + " x, ref " + ctx.T + " y, " + ctx.ExtentParams + ", ref " + ctx.T + " gamma, ref " + ctx.T + " beta";
        string commonArgs = "ref x, ref y, " + ctx.ExtentArgs + ", ref gamma, ref beta";

        // The 128-bit path's two ISA-specific operations come from a struct type parameter; pick it once here.
        using (w.Block("private static " + KernelPath + " RunTraining(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon)"))
        {
            w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
            w.Line("    ? TrainingCore<" + ArmOps + ">(path, " + commonArgs + ", " + statArgs + ", epsilon)");
            w.Line("    : TrainingCore<" + X86Ops + ">(path, " + commonArgs + ", " + statArgs + ", epsilon);");
        }
        w.Line();
        EmitTrainingCore(w, ctx, common, statParams);

        if (plan.BatchReduced)
        {
            using (w.Block("private static " + KernelPath + " RunInference(" + KernelPath + " path, " + common + ", ref " + ctx.T + " runningMean, ref " + ctx.T + " runningVar, " + ctx.T + " epsilon)"))
            {
                w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
                w.Line("    ? InferenceCore<" + ArmOps + ">(path, " + commonArgs + ", ref runningMean, ref runningVar, epsilon)");
                w.Line("    : InferenceCore<" + X86Ops + ">(path, " + commonArgs + ", ref runningMean, ref runningVar, epsilon);");
            }
            w.Line();
            EmitInferenceCore(w, ctx, common);
        }
    }

    private static void EmitTrainingCore(SourceWriter w, Context ctx, string common, string statParams)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        bool standardize = !spec.IsRootMeanSquare;
        EmitCore(w, ctx, "TrainingCore<TOps>(" + KernelPath + " path, " + common + ", " + statParams + ", " + ctx.T + " epsilon)", training: true, prologue: () =>
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
                w.Line("ref double rstd = ref " + Unsafe + ".Add(ref mu, statistics);");
                w.Line("ref " + ctx.T + " coefA = ref " + Marshal + ".GetArrayDataReference(elements);");
                w.Line("ref " + ctx.T + " coefB = ref " + Unsafe + ".Add(ref coefA, coefficients);");
                if (standardize)
                {
                    w.Line("ref " + ctx.T + " shift = ref " + Unsafe + ".Add(ref coefB, coefficients);");
                    w.Line(plan.Promoted ? "ref " + ctx.T + " statShift = ref " + Unsafe + ".Add(ref shift, accumulators);" : "ref " + ctx.T + " statShift = ref shift;");
                }

            }, block: offsets =>
                {
                    string so = offsets["s"], po = offsets["p"];
                    if (standardize)
                    {
                        w.Line("// Shift: each statistic's first element, so sums of (x - shift) stay small whatever the data's offset.");
                        EmitNest(w, InnerAxisLoops(ctx, Context.Kept, ("x", Context.Memory), ("s", Context.Kept)),
                            new Dictionary<string, string> { ["x"] = "(nint)0", ["s"] = "(nint)0" },
                            o => w.Line(Unsafe + ".Add(ref statShift, " + o["s"] + ") = " + Unsafe + ".Add(ref xb, " + o["x"] + ");"), "first_");
                        if (plan.Promoted)
                        {
                            w.Line("// Every per-channel accumulator of a group shares the group's shift, so their sums add up.");
                            EmitNest(w, InnerAxisLoops(ctx, Context.Accumulated, ("a", Context.Accumulated), ("s", Context.Kept)),
                                new Dictionary<string, string> { ["a"] = "(nint)0", ["s"] = "(nint)0" },
                                o => w.Line(Unsafe + ".Add(ref shift, " + o["a"] + ") = " + Unsafe + ".Add(ref statShift, " + o["s"] + ");"), "share_");
                        }
                    }
                    w.Line("new global::System.Span<double>(doubles, 0, 2 * accumulators).Clear();");
                    using (w.Block("switch (path)"))
                    {
                        string args = "ref xb, " + ctx.ExtentArgs + (standardize ? ", ref shift, ref sum" : "") + ", ref sq";
                        foreach (var isa in ctx.Isas)
                        {
                            w.Line((isa.IsScalar ? "default" : "case " + KernelPath + "." + isa.Path) + ": " + isa.Call("Statistics") + "(" + args + "); break;");
                        }
                    }
                    if (plan.Promoted)
                    {
                        w.Line("// Combine the per-channel accumulators into their group, in a fixed order.");
                        w.Line("new global::System.Span<double>(doubles, 2 * accumulators, 2 * statistics).Clear();");
                        EmitNest(w, InnerAxisLoops(ctx, Context.Accumulated, ("a", Context.Accumulated), ("s", Context.Kept)),
                            new Dictionary<string, string> { ["a"] = "(nint)0", ["s"] = "(nint)0" },
                            o =>
                            {
                                if (standardize) w.Line(Unsafe + ".Add(ref statSum, " + o["s"] + ") += " + Unsafe + ".Add(ref sum, " + o["a"] + ");");
                                w.Line(Unsafe + ".Add(ref statSq, " + o["s"] + ") += " + Unsafe + ".Add(ref sq, " + o["a"] + ");");
                            }, "combine_");
                    }
                    using (w.Block("for (int s = 0; s < statistics; s++)"))
                    {
                        if (standardize)
                        {
                            w.Line("(double mean, double variance) = " + Stats + ".FromShiftedSums(" + Unsafe + ".Add(ref statShift, s), " +
                                   Unsafe + ".Add(ref statSum, s), " + Unsafe + ".Add(ref statSq, s), count);");
                            w.Line("stat0[(int)" + so + " + s] = (" + ctx.T + ")mean;");
                            w.Line("stat1[(int)" + so + " + s] = (" + ctx.T + ")variance;");
                            w.Line(Unsafe + ".Add(ref mu, s) = mean;");
                            w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(variance, epsilon);");
                        }
                        else
                        {
                            w.Line("double meanSquare = " + Unsafe + ".Add(ref statSq, s) / count;");
                            w.Line("stat0[(int)" + so + " + s] = (" + ctx.T + ")meanSquare;");
                            w.Line(Unsafe + ".Add(ref mu, s) = 0d;");
                            w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(meanSquare, epsilon);");
                        }
                    }
                    EmitCoefficientsAndApply(w, ctx, po);
                });
    }

    private static void EmitInferenceCore(SourceWriter w, Context ctx, string common)
    {
        EmitCore(w, ctx, "InferenceCore<TOps>(" + KernelPath + " path, " + common + ", ref " + ctx.T + " runningMean, ref " + ctx.T + " runningVar, " + ctx.T + " epsilon)", training: false, prologue: () =>
            {
                w.Line("ref double mu = ref " + Marshal + ".GetArrayDataReference(doubles);");
                w.Line("ref double rstd = ref " + Unsafe + ".Add(ref mu, statistics);");
                w.Line("ref " + ctx.T + " coefA = ref " + Marshal + ".GetArrayDataReference(elements);");
                w.Line("ref " + ctx.T + " coefB = ref " + Unsafe + ".Add(ref coefA, coefficients);");
            }, block: offsets =>
                {
                    using (w.Block("for (int s = 0; s < statistics; s++)"))
                    {
                        w.Line(Unsafe + ".Add(ref mu, s) = " + Unsafe + ".Add(ref runningMean, " + offsets["s"] + " + s);");
                        w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(" + Unsafe + ".Add(ref runningVar, " + offsets["s"] + " + s), epsilon);");
                    }
                    EmitCoefficientsAndApply(w, ctx, offsets["p"]);
                });
    }

    /// <summary>
    /// The skeleton both drivers share: pooled scratch, the refs the prologue carves out of it, the block
    /// loop with the block's input/output refs (xb, yb), and the scratch returned in a finally.
    /// </summary>
    private static void EmitCore(SourceWriter w, Context ctx, string signature, bool training, System.Action prologue, System.Action<IDictionary<string, string>> block)
    {
        using (w.Block("private static " + KernelPath + " " + signature + " where TOps : struct, " + Ops))
        {
            EmitScratch(w, ctx, training);
            using (w.Block("try"))
            {
                prologue();
                EmitBlockNest(w, ctx, offsets =>
                {
                    w.Line("ref " + ctx.T + " xb = ref " + Unsafe + ".Add(ref x, " + offsets["x"] + ");");
                    w.Line("ref " + ctx.T + " yb = ref " + Unsafe + ".Add(ref y, " + offsets["x"] + ");");
                    block(offsets);
                });
            }
            using (w.Block("finally"))
            {
                w.Line("global::System.Buffers.ArrayPool<double>.Shared.Return(doubles);");
                w.Line("global::System.Buffers.ArrayPool<" + ctx.T + ">.Shared.Return(elements);");
            }
            w.Line("return path;");
        }
        w.Line();
    }

    /// <summary>Per-block scratch sizes and pooled arrays.</summary>
    private static void EmitScratch(SourceWriter w, Context ctx, bool training)
    {
        var plan = ctx.Plan;
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        w.Line("int statistics = (int)" + ctx.InnerProduct(Context.Kept) + ";");
        w.Line("int coefficients = " + (plan.Form == ApplyForm.Fold ? "(int)" + ctx.InnerProduct(Context.FoldAxis) : "statistics") + ";");
        if (training)
        {
            w.Line("int accumulators = (int)" + ctx.InnerProduct(Context.Accumulated) + ";");
            // sum, sq per accumulator; (promoted: sum, sq per statistic); mean, rstd per statistic.
            w.Line("double[] doubles = global::System.Buffers.ArrayPool<double>.Shared.Rent(2 * accumulators + " + (plan.Promoted ? "4" : "2") + " * statistics);");
            w.Line(ctx.T + "[] elements = global::System.Buffers.ArrayPool<" + ctx.T + ">.Shared.Rent(2 * coefficients" +
                   (standardize ? " + accumulators" + (plan.Promoted ? " + statistics" : "") : "") + ");");
        }
        else
        {
            w.Line("double[] doubles = global::System.Buffers.ArrayPool<double>.Shared.Rent(2 * statistics);");
            w.Line(ctx.T + "[] elements = global::System.Buffers.ArrayPool<" + ctx.T + ">.Shared.Rent(2 * coefficients);");
        }
    }

    /// <summary>The block loop: one loop per leading kept axis, tracking memory, statistic and parameter offsets.</summary>
    private static void EmitBlockNest(SourceWriter w, Context ctx, System.Action<IDictionary<string, string>> body)
    {
        var loops = new List<Loop>();
        for (int i = 0; i < ctx.Plan.BlockAxes; i++)
        {
            var axis = ctx.Axes[i];
            var loop = new Loop("b_" + axis.Name, ctx.E(i), i == 0 ? "Blocks: statistics depend on these axes' indices alone." : "");
            loop.Strides["x"] = ctx.Stride(i, Context.Memory);
            loop.Strides["s"] = ctx.Stride(i, Context.Kept);
            if (axis.Param) loop.Strides["p"] = ctx.Stride(i, Context.ParamAxis);
            loops.Add(loop);
        }
        EmitNest(w, loops, new Dictionary<string, string> { ["x"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" }, body, "block_");
    }

    /// <summary>One loop per axis inside the block that satisfies <paramref name="select"/>, with strides in the named spaces.</summary>
    private static List<Loop> InnerAxisLoops(Context ctx, System.Func<PlanAxis, bool> select, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        var loops = new List<Loop>();
        for (int i = ctx.Plan.BlockAxes; i < ctx.Axes.Count; i++)
        {
            var axis = ctx.Axes[i];
            if (!select(axis)) continue;
            var loop = new Loop("i_" + axis.Name, ctx.E(i), "");
            foreach (var (space, member) in spaces)
                if (member(axis)) loop.Strides[space] = ctx.Stride(i, member);
            loops.Add(loop);
        }
        return loops;
    }

    private static string Offset(string a, string b) => a == "(nint)0" ? b : b == "(nint)0" ? a : a + " + " + b;

    /// <summary>Coefficients from (mu, rstd) and the affine parameters, then the apply pass on the block.</summary>
    private static void EmitCoefficientsAndApply(SourceWriter w, Context ctx, string po)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string gamma(string p) => spec.HasAffine ? "(double)" + Unsafe + ".Add(ref gamma, " + Offset(po, p) + ")" : "1d";
        string beta(string p) => spec.HasAffine ? "(double)" + Unsafe + ".Add(ref beta, " + Offset(po, p) + ")" : "0d";
        if (plan.Form == ApplyForm.Fold)
        {
            w.Line("// Coefficients: A = gamma * rstd, B = beta - mean * A, one pair per fold index (computed in double).");
            EmitNest(w, InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.Kept), ("p", Context.ParamAxis)),
                new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" },
                o =>
                {
                    w.Line("double a = " + gamma(o["p"]) + " * " + Unsafe + ".Add(ref rstd, " + o["s"] + ");");
                    w.Line(Unsafe + ".Add(ref coefA, " + o["f"] + ") = (" + ctx.T + ")a;");
                    w.Line(Unsafe + ".Add(ref coefB, " + o["f"] + ") = (" + ctx.T + ")(" + beta(o["p"]) + " - " + Unsafe + ".Add(ref mu, " + o["s"] + ") * a);");
                }, "coef_");
        }
        else
        {
            w.Line("// Coefficients: a = rstd, b = -mean * rstd per statistic; gamma and beta are applied after.");
            using (w.Block("for (int s = 0; s < statistics; s++)"))
            {
                w.Line(Unsafe + ".Add(ref coefA, s) = (" + ctx.T + ")" + Unsafe + ".Add(ref rstd, s);");
                w.Line(Unsafe + ".Add(ref coefB, s) = (" + ctx.T + ")(-" + Unsafe + ".Add(ref mu, s) * " + Unsafe + ".Add(ref rstd, s));");
            }
        }
        using (w.Block("switch (path)"))
        {
            string args = "ref xb, ref yb, " + ctx.ExtentArgs + ", ref coefA, ref coefB" +
                (plan.Form == ApplyForm.TwoStep ? ", ref " + Unsafe + ".Add(ref gamma, " + po + "), ref " + Unsafe + ".Add(ref beta, " + po + ")" : "");
            foreach (var isa in ctx.Isas)
                w.Line((isa.IsScalar ? "default" : "case " + KernelPath + "." + isa.Path) + ": " + isa.Call("Apply") + "(" + args + "); break;");
        }
    }
}
