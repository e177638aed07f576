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

    private const string BackwardArgs = "input, outputGrad, inputGrad, {0}, gamma, stat0, stat1, epsilon, constant, weightGrad, biasGrad";

    private static void EmitBackwardCores(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        string args = string.Format(System.Globalization.CultureInfo.InvariantCulture, BackwardArgs, ctx.ExtentArgs);
        using (w.Block("private static " + KernelPath + " RunBackward(" + KernelPath + " path, " + BackwardParams(ctx) + ")"))
        {
            w.Line("return global::System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported");
            w.Line("    ? BackwardCore<" + ArmOps + ">(path, " + args + ")");
            w.Line("    : BackwardCore<" + X86Ops + ">(path, " + args + ");");
        }
        w.Line();

        using (w.Block("private static " + KernelPath + " ChooseBackwardPath(" + ctx.ExtentParams + ")"))
            w.Line("return global::NormKernels.Isa.Select<" + ctx.T + ">(" + ctx.Clamp(ctx.SegmentExtent(plan.GradientSegments[plan.GradientSegments.Count - 1])) + ");");
        w.Line();

        string stat0Span = "global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(stat0), stat0.Length)";
        string stat1Span = "global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(stat1), stat1.Length)";
        using (w.Block("private static " + KernelPath + " BackwardCore<TOps>(" + KernelPath + " path, " + BackwardParams(ctx) + ") where TOps : struct, " + Ops))
        {
            if (!SingleStatistic(ctx))
            {
                w.Line("int statistics = (int)" + ctx.InnerProduct(Context.InnerKept) + ";");
                w.Line("int coefficients = (int)" + ctx.InnerProduct(Context.FoldAxis) + ";");
            }
            w.Line("int parameters = weightGrad.Length;");
            if (plan.BlockAxes > 0)
            {
                w.Line("// Units: fixed groups of consecutive blocks (" + string.Join(", ", ctx.BlockAxes.Select(a => a.Name)) + "); each group sums its parameter gradients into its own partial.");
                w.Line("int blocks = (int)" + ctx.Product(ctx.BlockIndices) + ";");
                // One statistic per block: no per-index scratch (the sums stay in registers).
                EmitGroupGradientScratch(w, ctx, SingleStatistic(ctx) ? null : GradientDoubles, GradientElements);
                using (w.Block("try"))
                {
                    w.Line("new global::System.Span<double>(gradPartials, 0, groups * 2 * parameters).Clear();");
                    w.Line(Units + ".For(groups, workers, new BackwardGroup<TOps>(path, " + ctx.ExtentArgs + ", epsilon, constant, blocks, groups, parameters" +
                           (SingleStatistic(ctx) ? "" : ", doubles, elements") + ", gradPartials), " +
                           "input, inputGrad, outputGrad, gamma, " + stat0Span + ", " + stat1Span + ");");
                    EmitParameterGradients(w, ctx, "groups");
                }
                using (w.Block("finally"))
                    EmitReturnGroupGradientScratch(w, ctx, !SingleStatistic(ctx));
            }
            else
            {
                EmitWholeTensorGradientScratch(w, ctx, "One block, the whole tensor: the reduction over chunks of the first segment, per-chunk partials merged in chunk order.");
                using (w.Block("try"))
                {
                    w.Line("double count = (double)" + ctx.Product(Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced)) + ";");
                    EmitBackwardScratchRefs(w, ctx);
                    w.Line("ref " + ctx.T + " stat0Ref = ref " + Marshal + ".GetReference(stat0);");
                    w.Line("ref " + ctx.T + " stat1Ref = ref " + Marshal + ".GetReference(stat1);");
                    w.Line("ref " + ctx.T + " gammaRef = ref " + Marshal + ".GetReference(gamma);");
                    w.Line("ref double gradSums = ref " + Unsafe + ".Add(ref sumB, statistics); // inside the array even without parameters (+1)");
                    w.Line("new global::System.Span<double>(doubles, " + GradientDoubles + ", 2 * parameters).Clear();");
                    EmitBackwardTerms(w, ctx, "(nint)0", "stat0Ref", "stat1Ref");
                    w.Line("ref " + ctx.T + " dyRef = ref " + Marshal + ".GetReference(outputGrad);");
                    EmitGradientShift(w, ctx, "dyRef");
                    w.Line("new global::System.Span<double>(partials, 0, chunks * " + GradientPartials + ").Clear();");
                    w.Line(Units + ".For(chunks, global::NormKernels.Parallelism.Workers(input.Length, chunks), new GradientChunk<TOps>(path, " + ctx.ExtentArgs +
                           ", gradFirst, chunks, coefficients, partials, elements), input, inputGrad, outputGrad, default, default, default);");
                    EmitMergeChunkPartials(w, GradientPartials);
                    EmitGradientCoefficients(w, ctx, "(nint)0", "gammaRef", "gradSums", "parameters");
                    EmitWholeTensorGradientApply(w, ctx);
                }
                EmitReturnWholeTensorGradientScratch(w, ctx);
            }
            w.Line("return path;");
        }
        w.Line();

        if (plan.BlockAxes > 0) EmitBackwardGroup(w, ctx);
        else EmitGradientChunkBodies(w, ctx);
    }

    /// <summary>Adds the groups' partial parameter gradients, in group order, into weightGrad and biasGrad.</summary>
    private static void EmitParameterGradients(SourceWriter w, Context ctx, string groups)
    {
        w.Line("// Parameter gradients accumulate (PyTorch): add the groups' partials in group order.");
        using (w.Block("for (int p = 0; p < parameters; p++)"))
        {
            w.Line("double db = 0d, dg = 0d;");
            using (w.Block("for (int g = 0; g < " + groups + "; g++)"))
            {
                w.Line("db += gradPartials[g * 2 * parameters + p];");
                w.Line("dg += gradPartials[g * 2 * parameters + parameters + p];");
            }
            w.Line("biasGrad[p] = (" + ctx.T + ")(biasGrad[p] + db);");
            w.Line("weightGrad[p] = (" + ctx.T + ")(weightGrad[p] + dg);");
        }
    }

    // The backward's scratch layout, in one place (EmitBackwardScratchRefs names the slots): doubles = 3 per fold index and
    // 5 per statistic (then, whole-tensor plans, 2 per parameter); elements = 5 per fold index; chunk partials = 3 per fold index.
    private const string GradientDoubles = "3 * coefficients + 5 * statistics";
    private const string GradientElements = "5 * coefficients";
    private const string GradientPartials = "3 * coefficients";

    /// <summary>Block plans: the groups of blocks (the parallel units), the workers, the groups' parameter-gradient partials and each
    /// worker's doubles and elements.</summary>
    private static void EmitGroupGradientScratch(SourceWriter w, Context ctx, string? workerDoubles, string workerElements)
    {
        w.Line("int groups = (int)global::System.Math.Clamp(input.Length / " + Literals.Int(1 << 16) + ", 1, global::System.Math.Min(32, global::System.Math.Max(1, blocks / 8)));");
        w.Line("int workers = global::NormKernels.Parallelism.Workers(input.Length, groups);");
        w.Line("double[] gradPartials = " + Pool + "<double>.Shared.Rent(global::System.Math.Max(1, groups * 2 * parameters));");
        if (workerDoubles is null) return;
        EmitRentWorkerScratch(w, ctx, workerDoubles, workerElements);
    }

    private static void EmitReturnGroupGradientScratch(SourceWriter w, Context ctx, bool workerScratch = true)
    {
        w.Line(Pool + "<double>.Shared.Return(gradPartials);");
        if (!workerScratch) return;
        EmitReturnWorkerScratch(w);
    }

    /// <summary>Whole-tensor plans: the chunking of the first gradient segment and the rented partials, doubles and elements.</summary>
    private static void EmitWholeTensorGradientScratch(SourceWriter w, Context ctx, string comment)
    {
        w.Line("// " + comment);
        w.Line("nint gradFirst = " + ctx.SegmentExtent(ctx.Plan.GradientSegments[0]) + ";");
        w.Line("int chunks = " + (ctx.Plan.GradientSegments.Count > 1
            ? "(int)global::System.Math.Clamp(input.Length / " + Literals.Int(1 << 16) + ", 1, global::System.Math.Min(32L, global::System.Math.Max(1L, (long)gradFirst / 8)))"
            : "1") + ";");
        w.Line("double[] partials = " + Pool + "<double>.Shared.Rent(chunks * " + GradientPartials + ");");
        w.Line("double[] doubles = " + Pool + "<double>.Shared.Rent(" + GradientDoubles + " + 2 * parameters + 1);");
        w.Line(ctx.T + "[] elements = " + Pool + "<" + ctx.T + ">.Shared.Rent(" + GradientElements + ");");
    }

    /// <summary>Whole-tensor plans, after the coefficients: dx over fixed apply chunks, then the parameter gradients (doubles after
    /// the layout's slots) added into weightGrad and biasGrad.</summary>
    private static void EmitWholeTensorGradientApply(SourceWriter w, Context ctx)
    {
        var plan = ctx.Plan;
        w.Line("nint applyFirst = gradFirst;");
        w.Line("int applyChunks = " + (plan.GradientSegments.Count > 1 ? "(int)global::System.Math.Clamp(input.Length / " + Literals.Int(ChunkElements) + ", 1, (long)applyFirst)" : "1") + ";");
        w.Line(Units + ".For(applyChunks, global::NormKernels.Parallelism.Workers(input.Length, applyChunks), new GradientApplyChunk<TOps>(path, " + ctx.ExtentArgs +
               ", applyFirst, applyChunks, elements, coefficients), input, inputGrad, outputGrad, default, default, default);");
        using (w.Block("for (int p = 0; p < parameters; p++)"))
        {
            w.Line("biasGrad[p] = (" + ctx.T + ")(biasGrad[p] + doubles[" + GradientDoubles + " + p]);");
            w.Line("weightGrad[p] = (" + ctx.T + ")(weightGrad[p] + doubles[" + GradientDoubles + " + parameters + p]);");
        }
    }

    private static void EmitReturnWholeTensorGradientScratch(SourceWriter w, Context ctx)
    {
        using (w.Block("finally"))
        {
            w.Line(Pool + "<double>.Shared.Return(partials);");
            w.Line(Pool + "<double>.Shared.Return(doubles);");
            w.Line(Pool + "<" + ctx.T + ">.Shared.Return(elements);");
        }
    }

    /// <summary>Refs into the scratch: doubles = U, V, X (per f), sum of x - mf, mu, rstd, A, B (per statistic); elements = m = -mf (mf the mean rounded to the element type), P, Q, R, and the gradient's shift dz (per f).</summary>
    private static void EmitBackwardScratchRefs(SourceWriter w, Context ctx)
    {
        w.Line("ref double sumU = ref " + Marshal + ".GetArrayDataReference(doubles);");
        w.Line("ref double sumV = ref " + Unsafe + ".Add(ref sumU, coefficients);");
        w.Line("ref double sumX = ref " + Unsafe + ".Add(ref sumV, coefficients);");
        w.Line("ref double centredTotal = ref " + Unsafe + ".Add(ref sumX, coefficients);");
        w.Line("ref double mu = ref " + Unsafe + ".Add(ref centredTotal, statistics);");
        w.Line("ref double rstd = ref " + Unsafe + ".Add(ref mu, statistics);");
        w.Line("ref double sumA = ref " + Unsafe + ".Add(ref rstd, statistics);");
        w.Line("ref double sumB = ref " + Unsafe + ".Add(ref sumA, statistics);");
        w.Line("ref " + ctx.T + " coefM = ref " + Marshal + ".GetArrayDataReference(elements);");
        w.Line("ref " + ctx.T + " coefP = ref " + Unsafe + ".Add(ref coefM, coefficients);");
        w.Line("ref " + ctx.T + " coefQ = ref " + Unsafe + ".Add(ref coefP, coefficients);");
        w.Line("ref " + ctx.T + " coefR = ref " + Unsafe + ".Add(ref coefQ, coefficients);");
        w.Line("ref " + ctx.T + " coefD = ref " + Unsafe + ".Add(ref coefR, coefficients);");
    }

    /// <summary>The gradient's shift dz per fold index (its first element's dy): the sums run over dy - dz (small whatever dy's
    /// offset) and the apply multiplies dy - dz, not dy, by P; the shift is added back in double.</summary>
    private static void EmitGradientShift(SourceWriter w, Context ctx, string dy)
    {
        w.Line("// Gradient shift: each fold index's first dy.");
        EmitNest(w, InnerAxisLoops(ctx, Context.FoldAxis, ("x", Context.Memory), ("f", Context.FoldAxis)),
            new Dictionary<string, string> { ["x"] = "(nint)0", ["f"] = "(nint)0" },
            o => w.Line(Unsafe + ".Add(ref coefD, " + o["f"] + ") = " + Unsafe + ".Add(ref " + dy + ", " + o["x"] + ");"), "dz_");
    }

    /// <summary>(mu, rstd) per statistic of the block from the saved statistics (or the running ones when constant), and m = -mu per f.</summary>
    private static void EmitBackwardTerms(SourceWriter w, Context ctx, string so, string stat0, string stat1)
    {
        string At(string r) => Unsafe + ".Add(ref " + r + ", " + Offset(so, "s") + ")";
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            if (ctx.Spec.IsRootMeanSquare)
            {
                using (w.Block("if (constant)"))
                {
                    w.Line(Unsafe + ".Add(ref mu, s) = " + At(stat0) + ";");
                    w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(" + At(stat1) + ", epsilon);");
                }
                using (w.Block("else"))
                {
                    w.Line(Unsafe + ".Add(ref mu, s) = 0d;");
                    w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(" + At(stat0) + ", epsilon);");
                }
            }
            else
            {
                w.Line(Unsafe + ".Add(ref mu, s) = " + At(stat0) + ";");
                w.Line(Unsafe + ".Add(ref rstd, s) = " + Stats + ".InverseStd(" + At(stat1) + ", epsilon);");
            }
        }
        EmitNest(w, InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept)),
            new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0" },
            o => w.Line(Unsafe + ".Add(ref coefM, " + o["f"] + ") = (" + ctx.T + ")(-" + Unsafe + ".Add(ref mu, " + o["s"] + "));"), "m_");
    }

    /// <summary>From U, V: A, B per statistic; parameter gradients into <paramref name="gradSums"/> (dbeta at p, dgamma at
    /// parameters + p, global parameter index po + p); then P, Q, R per f.</summary>
    private static void EmitGradientCoefficients(SourceWriter w, Context ctx, string po, string gammaRef, string gradSums, string parameters)
    {
        bool affine = ctx.Spec.HasAffine;
        string gamma(string p) => affine ? "(double)" + Unsafe + ".Add(ref " + gammaRef + ", " + Offset(po, p) + ")" : "1d";
        var loops = InnerAxisLoops(ctx, Context.FoldAxis, ("f", Context.FoldAxis), ("s", Context.InnerKept), ("p", Context.ParamAxis));
        var start = new Dictionary<string, string> { ["f"] = "(nint)0", ["s"] = "(nint)0", ["p"] = "(nint)0" };
        w.Line("new global::System.Span<double>(doubles, 3 * coefficients, statistics).Clear();");
        w.Line("new global::System.Span<double>(doubles, 3 * coefficients + 3 * statistics, 2 * statistics).Clear();");
        w.Line("// The lanes summed U' = sum (dy - dz), V' = sum (dy - dz) * (x - mf) and, exactly in double, X = sum (x - mf) per fold index,");
        w.Line("// mf the mean rounded to the element type: U = sum dy = U' + n * dz and V = sum dy * (x - mean) = V' + dz * X + (mf - mean) * U");
        w.Line("// come back in double.");
        w.Line("double perIndex = count * statistics / coefficients;");
        if (!ctx.Spec.IsRootMeanSquare)
        {
            EmitNest(w, loops, start, o =>
                w.Line(Unsafe + ".Add(ref centredTotal, " + o["s"] + ") += " + Unsafe + ".Add(ref sumX, " + o["f"] + ");"), "x_");
            w.Line("// The mean in double: the saved one (rounded to the element type) corrected by the exact sum of x - mf over its statistic.");
            using (w.Block("if (!constant)"))
            using (w.Block("for (int s = 0; s < statistics; s++)"))
                w.Line(Unsafe + ".Add(ref mu, s) = -(double)(" + ctx.T + ")(-" + Unsafe + ".Add(ref mu, s)) + " + Unsafe + ".Add(ref centredTotal, s) / count;");
        }
        w.Line("// A = sum g * U, B = sum g * V per statistic; dbeta += U, dgamma += V * rstd per parameter.");
        EmitNest(w, loops, start, o =>
        {
            w.Line("double g = " + gamma(o["p"]) + ";");
            w.Line("double shiftU = " + Unsafe + ".Add(ref coefD, " + o["f"] + "), centerU = -(double)" + Unsafe + ".Add(ref coefM, " + o["f"] + ");");
            w.Line("double u = " + Unsafe + ".Add(ref sumU, " + o["f"] + ") + perIndex * shiftU;");
            w.Line("double v = " + Unsafe + ".Add(ref sumV, " + o["f"] + ") + shiftU * " + Unsafe + ".Add(ref sumX, " + o["f"] + ") + (centerU - " + Unsafe + ".Add(ref mu, " + o["s"] + ")) * u;");
            w.Line(Unsafe + ".Add(ref sumA, " + o["s"] + ") += g * u;");
            w.Line(Unsafe + ".Add(ref sumB, " + o["s"] + ") += g * v;");
            if (affine)
            {
                w.Line(Unsafe + ".Add(ref " + gradSums + ", " + Offset(po, o["p"]) + ") += u;");
                w.Line(Unsafe + ".Add(ref " + gradSums + ", " + Offset(parameters, Offset(po, o["p"])) + ") += v * " + Unsafe + ".Add(ref rstd, " + o["s"] + ");");
            }
        }, "ab_");
        w.Line("// Per statistic, in place of A and B: Q = -r^3 * B / M and R = -r * A / M (0 with constant statistics).");
        using (w.Block("for (int s = 0; s < statistics; s++)"))
        {
            w.Line("double r = " + Unsafe + ".Add(ref rstd, s);");
            w.Line("double q = constant ? 0d : -r * r * r * " + Unsafe + ".Add(ref sumB, s) / count;");
            w.Line(Unsafe + ".Add(ref sumA, s) = " + (ctx.Spec.IsRootMeanSquare ? "0d;" : "constant ? 0d : -r * " + Unsafe + ".Add(ref sumA, s) / count;"));
            w.Line(Unsafe + ".Add(ref sumB, s) = q;");
        }
        w.Line("// dx = dy * P + (x - mean) * Q + R, per fold index, run as (dy - dz) * P + (x - mf) * Q + R' with");
        w.Line("// R' = R + dz * P + (mf - mean) * Q in double: the lanes only multiply small differences.");
        EmitNest(w, loops, start, o =>
        {
            w.Line("double coefp = " + gamma(o["p"]) + " * " + Unsafe + ".Add(ref rstd, " + o["s"] + "), coefq = " + Unsafe + ".Add(ref sumB, " + o["s"] + ");");
            w.Line("double shiftR = " + Unsafe + ".Add(ref coefD, " + o["f"] + "), centerR = -(double)" + Unsafe + ".Add(ref coefM, " + o["f"] + ");");
            w.Line(Unsafe + ".Add(ref coefP, " + o["f"] + ") = (" + ctx.T + ")coefp;");
            w.Line(Unsafe + ".Add(ref coefQ, " + o["f"] + ") = (" + ctx.T + ")coefq;");
            w.Line(Unsafe + ".Add(ref coefR, " + o["f"] + ") = (" + ctx.T + ")(" + Unsafe + ".Add(ref sumA, " + o["s"] + ") + shiftR * coefp + (centerR - " + Unsafe + ".Add(ref mu, " + o["s"] + ")) * coefq);");
        }, "pqr_");
    }

    private static void EmitBackwardGroup(SourceWriter w, Context ctx)
    {
        var fields = new List<(string, string)> { (ctx.T, "epsilon"), ("bool", "constant"), ("int", "blocks"), ("int", "groups"), ("int", "parameters") };
        if (!SingleStatistic(ctx)) { fields.Add(("double[][]", "doubles")); fields.Add((ctx.T + "[][]", "elements")); }
        fields.Add(("double[]", "gradPartials"));
        EmitUnitStruct(w, ctx, "BackwardGroup", fields.ToArray(), () =>
        {
            w.Line(ctx.T + " epsilon = _epsilon;");
            w.Line("bool constant = _constant;");
            if (!SingleStatistic(ctx))
            {
                w.Line("int statistics = (int)" + ctx.InnerProduct(Context.InnerKept) + ";");
                w.Line("int coefficients = (int)" + ctx.InnerProduct(Context.FoldAxis) + ";");
            }
            w.Line("double count = (double)" + ctx.Product(Enumerable.Range(0, ctx.Axes.Count).Where(i => ctx.Axes[i].Reduced)) + ";");
            if (!SingleStatistic(ctx))
            {
                w.Line("double[] doubles = _doubles[worker];");
                w.Line(ctx.T + "[] elements = _elements[worker];");
                EmitBackwardScratchRefs(w, ctx);
            }
            EmitGroupBlocks(w, ctx, writesDx: true, () =>
            {
                if (SingleStatistic(ctx))
                {
                    EmitSingleStatisticBlock(w, ctx);
                }
                else
                {
                    EmitBackwardTerms(w, ctx, "so", "stat0", "stat1");
                    EmitGradientShift(w, ctx, "dyb");
                    w.Line("new global::System.Span<double>(doubles, 0, 3 * coefficients).Clear();");
                    EmitGradientCall(w, ctx, "GradientReduce", "ref xb, ref dyb", "(nint)0", ctx.SegmentExtent(ctx.Plan.GradientSegments[0]), "ref coefM, ref coefD, ref sumU, ref sumV, ref sumX");
                    EmitGradientCoefficients(w, ctx, ctx.Spec.HasAffine ? "po" : "(nint)0", "gamma", "gradSums", "parameters");
                    EmitGradientCall(w, ctx, "GradientApply", "ref xb, ref dyb, ref dxb", "(nint)0", ctx.SegmentExtent(ctx.Plan.GradientSegments[0]), "ref coefM, ref coefP, ref coefQ, ref coefR, ref coefD");
                }
            });
        });
    }

    /// <summary>A group unit's loop over its blocks (the unit's share of the fixed groups): the span refs, the group's
    /// parameter-gradient partial, and per block its offsets (xo, so, po) and refs (xb, dyb, and dxb when it writes dx).</summary>
    private static void EmitGroupBlocks(SourceWriter w, Context ctx, bool writesDx, System.Action body)
    {
        w.Line("ref " + ctx.T + " x = ref " + Units + ".At<" + ctx.T + ">(spans.S0);");
        if (writesDx) w.Line("ref " + ctx.T + " dx = ref " + Units + ".At<" + ctx.T + ">(spans.S1);");
        w.Line("ref " + ctx.T + " dy = ref " + Units + ".At<" + ctx.T + ">(spans.S2);");
        w.Line("ref " + ctx.T + " gamma = ref " + Units + ".At<" + ctx.T + ">(spans.S3);");
        w.Line("ref " + ctx.T + " stat0 = ref " + Units + ".At<" + ctx.T + ">(spans.S4);");
        w.Line("ref " + ctx.T + " stat1 = ref " + Units + ".At<" + ctx.T + ">(spans.S5);");
        w.Line("ref double gradSums = ref " + Unsafe + ".Add(ref " + Marshal + ".GetArrayDataReference(_gradPartials), (nint)unit * 2 * _parameters);");
        w.Line("int parameters = _parameters;");
        w.Line("int firstBlock = (int)((long)_blocks * unit / _groups), lastBlock = (int)((long)_blocks * (unit + 1) / _groups);");
        using (w.Block("for (int block = firstBlock; block < lastBlock; block++)"))
        {
            var offsets = EmitBlockIndex(w, ctx, "block");
            w.Line("nint xo = " + offsets.Memory + ";");
            w.Line("nint so = " + offsets.Statistic + ";");
            if (ctx.Spec.HasAffine) w.Line("nint po = " + offsets.Parameter + ";");
            w.Line("ref " + ctx.T + " xb = ref " + Unsafe + ".Add(ref x, xo);");
            w.Line("ref " + ctx.T + " dyb = ref " + Unsafe + ".Add(ref dy, xo);");
            if (writesDx) w.Line("ref " + ctx.T + " dxb = ref " + Unsafe + ".Add(ref dx, xo);");
            body();
        }
    }

    /// <summary>The planner's <see cref="KernelPlan.GradientPerStatistic"/>: sums per statistic, gamma loaded along the run.</summary>
    private static bool SingleStatistic(Context ctx) => ctx.Plan.GradientPerStatistic;

    private static void EmitSingleStatisticBlock(SourceWriter w, Context ctx)
    {
        string first = ctx.SegmentExtent(ctx.Plan.GradientSegments[0]);
        w.Line("double mean = " + (ctx.Spec.IsRootMeanSquare ? "constant ? " + Unsafe + ".Add(ref stat0, so) : 0d" : Unsafe + ".Add(ref stat0, so)") + ";");
        w.Line("double r = " + Stats + ".InverseStd(" + (ctx.Spec.IsRootMeanSquare ? "constant ? " + Unsafe + ".Add(ref stat1, so) : " + Unsafe + ".Add(ref stat0, so)" : Unsafe + ".Add(ref stat1, so)") + ", epsilon);");
        w.Line(ctx.T + " m = (" + ctx.T + ")(-mean), rf = (" + ctx.T + ")r;");
        w.Line("ref " + ctx.T + " gammaBlock = ref " + Unsafe + ".Add(ref gamma, po);");
        w.Line("// The lanes run on x - mf (mf = -m, the mean rounded to the element type), dy - dz (dz the block's first dy) and g - gb (gb");
        w.Line("// the block's first gamma); the sums come back in double: a = sum g * dy = a' + dz * (gb * M + sum (g - gb)) and");
        w.Line("// b = sum g * dy * (x - mean) = b' + dz * (gb * X + sum (g - gb) * (x - mf)) + (mf - mean) * a, X = sum (x - mf) summed exactly");
        w.Line("// in double.");
        w.Line("double mf = -(double)m;");
        w.Line(ctx.T + " dz = dyb, gb = gammaBlock, c0 = (" + ctx.T + ")((mf - mean) * r);");
        w.Line("double sumGdy = 0d, sumGdyD = 0d, sumG = 0d, sumGD = 0d, sumD = 0d;");
        w.Line("ref double dbeta = ref " + Unsafe + ".Add(ref gradSums, po);");
        w.Line("ref double dgamma = ref " + Unsafe + ".Add(ref gradSums, parameters + po);");
        EmitGradientCall(w, ctx, "GradientAffineReduce", "ref xb, ref dyb", "(nint)0", first, "m, dz, gb, rf, c0, ref gammaBlock, ref sumGdy, ref sumGdyD, ref sumG, ref sumGD, ref sumD, ref dbeta, ref dgamma");
        if (!ctx.Spec.IsRootMeanSquare)
        {
            w.Line("if (!constant) mean = mf + sumD / count; // the saved mean corrected by the exact sum of x - mf: the mean in double");
        }
        w.Line("sumGdy += dz * (gb * count + sumG);");
        w.Line("sumGdyD += dz * (gb * sumD + sumGD) + (mf - mean) * sumGdy;");
        w.Line("double q = constant ? 0d : -r * r * r * sumGdyD / count;");
        w.Line("double rr = " + (ctx.Spec.IsRootMeanSquare ? "0d" : "constant ? 0d : -r * sumGdy / count") + ";");
        w.Line("// dx = r * g * dy + (x - mean) * q + rr, run as r * (g * (dy - dz) + dz * (g - gb)) + (x - mf) * q + rr' with");
        w.Line("// rr' = rr + r * dz * gb + (mf - mean) * q in double (gb the block's first gamma): the lanes only multiply small differences.");
        w.Line("rr += r * dz * gb + (mf - mean) * q;");
        EmitGradientCall(w, ctx, "GradientAffineApply", "ref xb, ref dyb, ref dxb", "(nint)0", first, "m, rf, (" + ctx.T + ")q, (" + ctx.T + ")rr, dz, gb, (" + ctx.T + ")((mf - mean) * r), ref gammaBlock, ref dgamma");
    }

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
        using (w.Block("private static void GradientAffineReduce" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, " + ctx.ExtentParams + ", nint from0, nint to0, " + t + " m, " + t + " dz, " + t + " gb, " + t + " r, " + t + " c0, ref " + t + " g, ref double a, ref double b, ref double gs, ref double hs, ref double xs, ref double dbeta, ref double dgamma)" + VectorIsa.PathConstraint(t)))
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
        using (w.Block("private static void GradientAffineApply" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, " + ctx.ExtentParams + ", nint from0, nint to0, " + t + " m, " + t + " r, " + t + " q, " + t + " rr, " + t + " dz, " + t + " gb, " + t + " c1, ref " + t + " g, ref double dgamma)" + VectorIsa.PathConstraint(t)))
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

    private static void EmitGradientChunkBodies(SourceWriter w, Context ctx)
    {
        EmitUnitStruct(w, ctx, "GradientChunk",
            new[] { ("nint", "first"), ("int", "chunks"), ("int", "coefficients"), ("double[]", "partials"), (ctx.T + "[]", "elements") }, () =>
            {
                w.Line("nint from = _first * unit / _chunks, to = _first * (unit + 1) / _chunks;");
                w.Line("ref " + ctx.T + " xb = ref " + Units + ".At<" + ctx.T + ">(spans.S0);");
                w.Line("ref " + ctx.T + " dyb = ref " + Units + ".At<" + ctx.T + ">(spans.S2);");
                w.Line("ref " + ctx.T + " coefM = ref " + Marshal + ".GetArrayDataReference(_elements);");
                w.Line("ref " + ctx.T + " coefD = ref " + Unsafe + ".Add(ref coefM, 4 * (nint)_coefficients);");
                w.Line("ref double sumU = ref " + Unsafe + ".Add(ref " + Marshal + ".GetArrayDataReference(_partials), (nint)unit * 3 * _coefficients);");
                w.Line("ref double sumV = ref " + Unsafe + ".Add(ref sumU, _coefficients);");
                w.Line("ref double sumX = ref " + Unsafe + ".Add(ref sumV, _coefficients);");
                EmitGradientCall(w, ctx, "GradientReduce", "ref xb, ref dyb", "from", "to", "ref coefM, ref coefD, ref sumU, ref sumV, ref sumX");
            });
        EmitUnitStruct(w, ctx, "GradientApplyChunk",
            new[] { ("nint", "first"), ("int", "chunks"), (ctx.T + "[]", "elements"), ("int", "coefficients") }, () =>
            {
                w.Line("nint from = _first * unit / _chunks, to = _first * (unit + 1) / _chunks;");
                w.Line("ref " + ctx.T + " coefM = ref " + Marshal + ".GetArrayDataReference(_elements);");
                w.Line("ref " + ctx.T + " coefP = ref " + Unsafe + ".Add(ref coefM, _coefficients);");
                w.Line("ref " + ctx.T + " coefQ = ref " + Unsafe + ".Add(ref coefP, _coefficients);");
                w.Line("ref " + ctx.T + " coefR = ref " + Unsafe + ".Add(ref coefQ, _coefficients);");
                w.Line("ref " + ctx.T + " coefD = ref " + Unsafe + ".Add(ref coefR, _coefficients);");
                EmitGradientCall(w, ctx, "GradientApply",
                    "ref " + Units + ".At<" + ctx.T + ">(spans.S0), ref " + Units + ".At<" + ctx.T + ">(spans.S2), ref " + Units + ".At<" + ctx.T + ">(spans.S1)",
                    "from", "to", "ref coefM, ref coefP, ref coefQ, ref coefR, ref coefD");
            });
    }

    private static void EmitGradientCall(SourceWriter w, Context ctx, string method, string data, string from, string to, string tail)
    {
        using (w.Block("switch (path)"))
        {
            string args = data + ", " + ctx.ExtentArgs + ", " + from + ", " + to + ", " + tail;
            foreach (var isa in ctx.Isas)
                w.Line((isa.IsScalar ? "default" : "case " + KernelPath + "." + isa.Path) + ": " + isa.PathCall(method) + "(" + args + "); break;");
        }
    }

    // ---------------------------------------------------------------- public surface

    /// <summary>Fields and members the backward adds to the layer: gradients, saved-forward bookkeeping, Backward, statics.</summary>
    private static void EmitBackwardSurface(SourceWriter w, Context ctx)
    {
        var spec = ctx.Spec;
        var plan = ctx.Plan;
        string dims = ctx.DimArgs;
        string stat = spec.IsRootMeanSquare ? "meanSquare" : "mean, variance";

        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Weight\"/>, accumulated by every Backward (PyTorch semantics: call <see cref=\"ZeroGrad\"/> between steps).</summary>");
        w.Line("public " + ctx.T + "[] WeightGrad { get; }");
        w.Line("/// <summary>Gradient of the loss with respect to <see cref=\"Bias\"/>, accumulated by every Backward.</summary>");
        w.Line("public " + ctx.T + "[] BiasGrad { get; }");
        w.Line();
        w.Line("/// <summary>Sets <see cref=\"WeightGrad\"/> and <see cref=\"BiasGrad\"/> to zero.</summary>");
        using (w.Block("public void ZeroGrad()"))
        {
            w.Line(Guard.CallGuard + ".EnterExclusive(ref _guard, " + Literals.String(spec.TypeName + ".ZeroGrad") + ");");
            using (w.Block("try"))
            {
                w.Line("global::System.Array.Clear(WeightGrad);");
                w.Line("global::System.Array.Clear(BiasGrad);");
            }
            using (w.Block("finally"))
                w.Line(Guard.CallGuard + ".ExitExclusive(ref _guard);");
        }
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
                       ", _batchStatistic0, " + (spec.IsRootMeanSquare ? "default" : "_batchStatistic1") + ", _savedEpsilon, false, WeightGrad, BiasGrad);");
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
            string layout = Literals.String(spec.Layout), rank = Literals.Int(spec.Layout.Length);
            w.Line("global::System.Span<int> dims = stackalloc int[" + rank + "];");
            w.Line("global::System.Span<int> outputGradDims = stackalloc int[" + rank + "];");
            w.Line("global::System.Span<int> inputGradDims = stackalloc int[" + rank + "];");
            w.Line(ctx.ReadOnlySpanT + " inputSpan = " + TensorArgs + ".Dense(in input, " + layout + ", nameof(input), dims);");
            w.Line(ctx.ReadOnlySpanT + " outputGradSpan = " + TensorArgs + ".Dense(in outputGrad, " + layout + ", nameof(outputGrad), outputGradDims);");
            w.Line(ctx.SpanT + " inputGradSpan = " + TensorArgs + ".Dense(in inputGrad, " + layout + ", nameof(inputGrad), inputGradDims);");
            w.Line(TensorArgs + ".SameShape(dims, outputGradDims, nameof(outputGrad), " + layout + ");");
            w.Line(TensorArgs + ".SameShape(dims, inputGradDims, nameof(inputGrad), " + layout + ");");
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
            string first = spec.IsRootMeanSquare ? "meanSquare" : "mean";
            if (plan.BatchReduced)
            {
                w.Line(Checks + ".VectorLength(statisticsLength0, statistics, constant ? \"runningMean\" : \"" + first + "\", \"one per statistic: " + ctx.KeptText + "\");");
                w.Line((spec.IsRootMeanSquare ? "if (constant) " : "") + Checks + ".VectorLength(statisticsLength1, statistics, constant ? \"runningVar\" : \"variance\", \"one per statistic: " + ctx.KeptText + "\");");
            }
            else
            {
                w.Line(Checks + ".VectorLength(statisticsLength0, statistics, \"" + first + "\", \"one per statistic: " + ctx.KeptText + "\");");
                if (!spec.IsRootMeanSquare)
                    w.Line(Checks + ".VectorLength(statisticsLength1, statistics, \"variance\", \"one per statistic: " + ctx.KeptText + "\");");
            }
            w.Line(Checks + ".Epsilon(epsilon, nameof(epsilon));");
            w.Line(Checks + ".NoPartialOverlap(input, inputGrad, nameof(inputGrad));");
            w.Line(Checks + ".NoPartialOverlap(outputGrad, inputGrad, nameof(inputGrad), nameof(outputGrad));");
        }
        w.Line();

        string statParams = spec.IsRootMeanSquare ? ctx.ReadOnlySpanT + " meanSquare" : ctx.ReadOnlySpanT + " mean, " + ctx.ReadOnlySpanT + " variance";
        string len1 = spec.IsRootMeanSquare ? "0" : "variance.Length";
        string len0 = spec.IsRootMeanSquare ? "meanSquare.Length" : "mean.Length";
        string stat1 = spec.IsRootMeanSquare ? "default" : "variance";
        string stat0 = spec.IsRootMeanSquare ? "meanSquare" : "mean";
        string checkArgs = "input, outputGrad, inputGrad, " + dims + ", weight";
        w.Line("/// <summary>Backward of ForwardTraining on caller-owned buffers: the batch statistics it wrote (" + (spec.IsRootMeanSquare ? "mean square" : "mean, biased variance") +
               ") and the same epsilon. Writes inputGrad, ADDS into weightGrad and biasGrad (" + ctx.ParamShapeText + "). Returns the path that ran.</summary>");
        using (w.Block("public static " + KernelPath + " BackwardTraining(" + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon, " + grads + ")"))
        {
            w.Line("CheckBackward(" + checkArgs + ", " + len0 + ", " + len1 + ", epsilon, weightGrad.Length, biasGrad.Length, false);");
            EmitGradientOutputsDisjoint(w);
            w.Line("return RunBackward(ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, " + stat0 + ", " + stat1 + ", epsilon, false, weightGrad, biasGrad);");
        }
        w.Line();
        w.Line("/// <summary>As BackwardTraining, on a forced path with a given 128-bit ops type.</summary>");
        using (w.Block("internal static " + KernelPath + " BackwardTrainingOnPath<TOps>(" + KernelPath + " path, " + kernelParams + ", " + statParams + ", " + ctx.T + " epsilon, " + grads + ") where TOps : struct, " + Ops))
        {
            w.Line("CheckBackward(" + checkArgs + ", " + len0 + ", " + len1 + ", epsilon, weightGrad.Length, biasGrad.Length, false);");
            EmitGradientOutputsDisjoint(w);
            w.Line(Checks + ".PathAvailable(path, ChooseBackwardPath(" + ctx.ExtentArgsFromDims + "), nameof(path));");
            w.Line("return BackwardCore<TOps>(path, input, outputGrad, inputGrad, " + ctx.ExtentArgsFromDims + ", weight, " + stat0 + ", " + stat1 + ", epsilon, false, weightGrad, biasGrad);");
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
    private static void EmitGradientOutputsDisjoint(SourceWriter w)
    {
        w.Line(Checks + ".Disjoint(inputGrad, weightGrad, nameof(weightGrad), nameof(inputGrad));");
        w.Line(Checks + ".Disjoint(inputGrad, biasGrad, nameof(biasGrad), nameof(inputGrad));");
        w.Line(Checks + ".Disjoint(weightGrad, biasGrad, nameof(biasGrad), nameof(weightGrad));");
    }

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
        bool vector = segs[n - 1].Class == "F";
        string t = ctx.T, runs = VectorIsa.GradientRuns(t);
        var spaces = new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("f", Context.FoldAxis) };

        // Channels-last: the fold index runs along the innermost segment and the "-" segment right outside it gives its rows,
        // contiguous in memory; accumulate down the rows in registers (like the forward's vertical statistics).
        bool columns = vector && n >= 2 && segs[n - 2].Class == "-" && segs[n - 2].Last + 1 == segs[n - 1].First;
        w.Line("/// <summary>Backward reduction on one block (or the chunk [from0, to0) of its first segment): per fold index f, u[f] += sum dy, v[f] += sum dy * (x + m[f]); segments " + ctx.Describe(ctx.Plan.GradientSegments) +
               (columns ? "; the innermost two as rows of contiguous fold indices" : "") + ".</summary>");
        using (w.Block("private static void GradientReduce" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, " + ctx.ExtentParams + ", nint from0, nint to0, ref " + t + " m, ref " + t + " dz, ref double u, ref double v, ref double z)" + VectorIsa.PathConstraint(t)))
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
        using (w.Block("private static void GradientApply" + VectorIsa.PathParams + "(ref " + t + " x, ref " + t + " dy, ref " + t + " dx, " + ctx.ExtentParams + ", nint from0, nint to0, ref " + t + " m, ref " + t + " cp, ref " + t + " cq, ref " + t + " cr, ref " + t + " dz)" + VectorIsa.PathConstraint(t)))
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
