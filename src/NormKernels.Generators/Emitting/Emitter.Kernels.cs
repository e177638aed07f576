using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    private static string I(int value) => Literals.Int(value);

    // The per-run kernels are called once per row of an outer loop (a channels-last row can be 64 floats): inline them.
    private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

    /// <summary>Loops over the segments [from, to) of a pass, with the strides of each index space.</summary>
    private static List<Loop> SegmentLoops(Context ctx, IList<Segment> segments, int from, int to, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        var loops = new List<Loop>();
        for (int k = from; k < to; k++)
        {
            var seg = segments[k];
            var loop = new Loop("i" + I(k), "len" + I(k), "[" + string.Join(" ", Enumerable.Range(seg.First, seg.Last - seg.First + 1).Select(i => ctx.Axes[i].Name)) + "]=" + seg.Class);
            foreach (var (space, member) in spaces)
                if (member(ctx.Axes[seg.Last])) loop.Strides[space] = "st_" + space + I(k);
            loops.Add(loop);
        }
        return loops;
    }

    /// <summary>The first loop of a pass runs over [from0, to0): the chunk of its segment this call covers.</summary>
    private static void Chunk(Loop first)
    {
        first.Start = "from0";
        first.Extent = "to0";
    }

    private static void EmitSegmentLocals(SourceWriter w, Context ctx, IList<Segment> segments, int outer, params (string Space, System.Func<PlanAxis, bool> Member)[] spaces)
    {
        for (int k = 0; k < segments.Count; k++)
        {
            var seg = segments[k];
            w.Line("nint len" + I(k) + " = " + ctx.SegmentExtent(seg) + ";");
            foreach (var (space, member) in spaces)
                if (k < outer && member(ctx.Axes[seg.Last])) w.Line("nint st_" + space + I(k) + " = " + ctx.Stride(seg.Last, member) + ";");
        }
    }

    // ---------------------------------------------------------------- statistics

    private static void EmitStatisticsPass(SourceWriter w, Context ctx, VectorIsa isa)
    {
        var plan = ctx.Plan;
        bool standardize = !ctx.Spec.IsRootMeanSquare;
        var segs = plan.StatSegments.ToList();
        int n = segs.Count;
        string accParams = (standardize ? ", ref " + isa.Element + " shift, ref double sum" : "") + ", ref double sq";
        w.Line("/// <summary>Statistics of one block (or of the chunk [from0, to0) of its first segment) on the " + isa.Path + " path: segments " + ctx.Describe(plan.StatSegments) + ".</summary>");
        using (w.Block("private static void Statistics_" + isa.Suffix + isa.TypeParams + "(ref " + isa.Element + " x, " + ctx.ExtentParams + ", nint from0, nint to0" + accParams + ")" + isa.Constraint))
        {
            int outer = plan.Strategy == ReduceStrategy.Horizontal ? n - 1 : n - 2;
            EmitSegmentLocals(w, ctx, segs, outer, ("x", Context.Memory), ("a", Context.Accumulated));
            var loops = SegmentLoops(ctx, segs, 0, outer, ("x", Context.Memory), ("a", Context.Accumulated));
            if (loops.Count > 0) Chunk(loops[0]);
            // Vertical with no outer loop: the rows are the first segment; a chunk is a range of rows.
            bool rowChunk = plan.Strategy == ReduceStrategy.Vertical && outer == 0;
            EmitNest(w, loops,
                new Dictionary<string, string> { ["x"] = "(nint)0", ["a"] = "(nint)0" },
                o =>
                {
                    string xo = o["x"], ao = o["a"];
                    string acc = (standardize ? ", ref " + Unsafe + ".Add(ref sum, " + ao + ")" : "") + ", ref " + Unsafe + ".Add(ref sq, " + ao + ")";
                    if (plan.Strategy == ReduceStrategy.Horizontal)
                    {
                        w.Line("// Innermost: a contiguous reduced run.");
                        w.Line(isa.Call("ReduceRun") + "(ref " + Unsafe + ".Add(ref x, " + xo + "), len" + I(n - 1) +
                               (standardize ? ", " + Unsafe + ".Add(ref shift, " + ao + ")" : "") + acc + ");");
                    }
                    else
                    {
                        w.Line("// Innermost: rows of the reduced segment, each a contiguous run of accumulators.");
                        string rowsFrom = rowChunk ? "from0 * len" + I(n - 1) : xo;
                        w.Line(isa.Call("ReduceColumns") + "(ref " + Unsafe + ".Add(ref x, " + rowsFrom + "), " + (rowChunk ? "to0 - from0" : "len" + I(n - 2)) + ", len" + I(n - 1) +
                               (standardize ? ", ref " + Unsafe + ".Add(ref shift, " + ao + ")" : "") + acc + ");");
                    }
                });
        }
        w.Line();
        if (plan.Strategy == ReduceStrategy.Horizontal) EmitReduceRun(w, ctx, isa, standardize);
        else EmitReduceColumns(w, ctx, isa, standardize);
    }

    /// <summary>Sum (and sum of squares) of one contiguous run; float chunks, double across chunks.</summary>
    private static void EmitReduceRun(SourceWriter w, Context ctx, VectorIsa isa, bool standardize)
    {
        int u = Context.Unroll, width = isa.Width;
        int step = u * width, chunk = Context.ChunkVectors * step;
        w.Line("/// <summary>Reduces a contiguous run of <paramref name=\"len\"/> (&gt;= " + I(width) + ") elements: " + I(u) + " accumulators of " + I(width) +
               " lanes over chunks of " + I(chunk) + " elements, each chunk added into double" + (isa.IsScalar ? "" : "; the run's last partial vector is an overlapped load with the finished lanes masked off") + ".</summary>");
        w.Line(Inline);
        using (w.Block("private static void ReduceRun_" + isa.Suffix + isa.TypeParams + "(ref " + isa.Element + " p, nint len" + (standardize ? ", " + isa.Element + " shift, ref double sum" : "") + ", ref double sq)" + isa.Constraint))
        {
            if (standardize) w.Line(isa.Vec + " k = " + isa.Splat("shift") + ";");
            if (standardize) w.Line(isa.DeclareDouble("s"));
            w.Line(isa.DeclareDouble("q"));
            using (w.Block("for (nint chunk = 0; chunk < len; chunk += " + I(chunk) + ")"))
            {
                w.Line("nint end = len - chunk > " + I(chunk) + " ? chunk + " + I(chunk) + " : len;");
                for (int j = 0; j < u; j++)
                {
                    if (standardize) w.Line(isa.Vec + " s" + I(j) + " = " + isa.Zero + ";");
                    w.Line(isa.Vec + " q" + I(j) + " = " + isa.Zero + ";");
                }
                w.Line("nint i = chunk;");
                using (w.Block("for (; i + " + I(step) + " <= end; i += " + I(step) + ")"))
                {
                    for (int j = 0; j < u; j++)
                        EmitAccumulate(w, isa, standardize, isa.Load("p", j == 0 ? "i" : "i + " + I(j * width)), I(j), "");
                }
                if (u > 1 || !isa.IsScalar)
                {
                    using (w.Block("for (; i + " + I(width) + " <= end; i += " + I(width) + ")"))
                        EmitAccumulate(w, isa, standardize, isa.Load("p", "i"), "0", "");
                }
                if (!isa.IsScalar)
                {
                    using (w.Block("if (i < end)"))
                        EmitAccumulate(w, isa, standardize, isa.Load("p", "end - " + I(width)), "0", isa.LastLanes("end - i"));
                }
                if (standardize) w.Line("s0 = (s0 + s1) + (s2 + s3);");
                w.Line("q0 = (q0 + q1) + (q2 + q3);");
                if (standardize) w.Line(isa.WidenAdd("s", "s0"));
                w.Line(isa.WidenAdd("q", "q0"));
            }
            if (standardize) w.Line("sum += " + isa.SumDouble("s") + ";");
            w.Line("sq += " + isa.SumDouble("q") + ";");
        }
        w.Line();
    }

    /// <summary>One accumulate step: d = x - k (masked), s += d, q = d * d + q.</summary>
    private static void EmitAccumulate(SourceWriter w, VectorIsa isa, bool standardize, string load, string j, string mask, string shift = "k")
    {
        string value = standardize ? "(" + load + " - " + shift + ")" : load;
        if (mask.Length > 0) value = "(" + value + " & " + mask + ")";
        w.Line(isa.Vec + " d" + j + " = " + value + ";");
        if (standardize) w.Line("s" + j + " += d" + j + ";");
        w.Line("q" + j + " = " + isa.MultiplyAdd("d" + j, "d" + j, "q" + j) + ";");
    }

    /// <summary>Per-accumulator sums down the rows: vectors across a contiguous run of accumulators.</summary>
    private static void EmitReduceColumns(SourceWriter w, Context ctx, VectorIsa isa, bool standardize)
    {
        int u = Context.Unroll, width = isa.Width, rows = Context.ChunkVectors;
        w.Line("/// <summary>Accumulates <paramref name=\"rows\"/> rows of <paramref name=\"width\"/> (&gt;= " + I(width) + ") contiguous accumulators: " + I(u) +
               " vectors of accumulators held in registers over chunks of " + I(rows) + " rows, each chunk added into double" +
               (isa.IsScalar ? "" : "; the last partial vector overlaps, its finished lanes masked off") + ".</summary>");
        string sums = (standardize ? ", ref " + isa.Element + " shift, ref double sum" : "") + ", ref double sq";
        using (w.Block("private static void ReduceColumns_" + isa.Suffix + isa.TypeParams + "(ref " + isa.Element + " p, nint rows, nint width" + sums + ")" + isa.Constraint))
        {
            using (w.Block("for (nint r0 = 0; r0 < rows; r0 += " + I(rows) + ")"))
            {
                w.Line("nint rend = rows - r0 > " + I(rows) + " ? r0 + " + I(rows) + " : rows;");
                w.Line("nint j = 0;");
                EmitColumnBlock(w, isa, standardize, u, "for (; j + " + I(u * width) + " <= width; j += " + I(u * width) + ")", "j", "");
                if (u > 1 || !isa.IsScalar)
                    EmitColumnBlock(w, isa, standardize, 1, "for (; j + " + I(width) + " <= width; j += " + I(width) + ")", "j", "");
                if (!isa.IsScalar)
                    EmitColumnBlock(w, isa, standardize, 1, "if (j < width)", "width - " + I(width), isa.LastLanes("width - j"));
            }
        }
        w.Line();
    }

    private static void EmitColumnBlock(SourceWriter w, VectorIsa isa, bool standardize, int vectors, string header, string column, string mask)
    {
        using (w.Block(header))
        {
            w.Line("nint col = " + column + ";");
            for (int j = 0; j < vectors; j++)
            {
                string at = j == 0 ? "col" : "col + " + I(j * isa.Width);
                if (standardize) w.Line(isa.Vec + " k" + I(j) + " = " + isa.Load("shift", at) + ";");
                if (standardize) w.Line(isa.Vec + " s" + I(j) + " = " + isa.Zero + ";");
                w.Line(isa.Vec + " q" + I(j) + " = " + isa.Zero + ";");
            }
            if (mask.Length > 0) w.Line(isa.Vec + " mask = " + mask + ";");
            using (w.Block("for (nint r = r0; r < rend; r++)"))
            {
                w.Line("nint o = r * width + col;");
                for (int j = 0; j < vectors; j++)
                    EmitAccumulate(w, isa, standardize, isa.Load("p", j == 0 ? "o" : "o + " + I(j * isa.Width)), I(j), mask.Length > 0 ? "mask" : "", "k" + I(j));
            }
            for (int j = 0; j < vectors; j++)
            {
                string at = j == 0 ? "col" : "col + " + I(j * isa.Width);
                if (standardize) w.Line(isa.AddToDoubles("sum", at, "s" + I(j)));
                w.Line(isa.AddToDoubles("sq", at, "q" + I(j)));
            }
        }
    }

    // ---------------------------------------------------------------- apply

    private static void EmitApplyPass(SourceWriter w, Context ctx, VectorIsa isa)
    {
        var plan = ctx.Plan;
        var segs = plan.ApplySegments.ToList();
        int n = segs.Count;
        bool fold = plan.Form == ApplyForm.Fold;
        string inner = segs[n - 1].Class;
        var spaces = fold
            ? new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("f", Context.FoldAxis) }
            : new (string, System.Func<PlanAxis, bool>)[] { ("x", Context.Memory), ("s", Context.InnerKept), ("p", Context.ParamAxis) };
        string t = isa.Element;
        bool centered = !ctx.Spec.IsRootMeanSquare;
        string extra = (centered ? ", ref " + t + " c" : "") + (fold ? "" : ", ref " + t + " g, ref " + t + " h");
        w.Line("/// <summary>Apply on one block (or on the chunk [from0, to0) of its first segment), " + isa.Path + " path: segments " + ctx.Describe(plan.ApplySegments) + ".</summary>");
        using (w.Block("private static void Apply_" + isa.Suffix + isa.TypeParams + "(ref " + t + " x, ref " + t + " y, " + ctx.ExtentParams + ", nint from0, nint to0, ref " + t + " a, ref " + t + " b" + extra + ")" + isa.Constraint))
        {
            EmitSegmentLocals(w, ctx, segs, n - 1, spaces);
            var start = spaces.ToDictionary(s => s.Item1, s => "(nint)0");
            var loops = SegmentLoops(ctx, segs, 0, n - 1, spaces);
            if (loops.Count > 0) Chunk(loops[0]);
            EmitNest(w, loops, start, o =>
            {
                string xo = o["x"];
                var args = new List<string> { xo == "(nint)0" ? "ref x" : "ref " + Unsafe + ".Add(ref x, " + xo + ")", xo == "(nint)0" ? "ref y" : "ref " + Unsafe + ".Add(ref y, " + xo + ")", "len" + I(n - 1) };
                if (fold)
                {
                    args.AddRange(Operands("a", "b", o["f"], inner == "F"));
                    if (centered) args.Add(Operands("c", "c", o["f"], inner == "F").First());
                }
                else
                {
                    args.AddRange(Operands("a", "b", o["s"], inner.Contains("S")));
                    if (centered) args.Add(Operands("c", "c", o["s"], inner.Contains("S")).First());
                    args.AddRange(Operands("g", "h", o["p"], inner.Contains("P")));
                }
                w.Line("// Innermost: a contiguous run, coefficients " + (inner == "-" ? "constant along it." : "loaded along it."));
                w.Line(isa.Call("ApplyRun") + "(" + string.Join(", ", args) + ");");
            });
        }
        w.Line();
        EmitApplyRun(w, ctx, isa, fold, inner, centered);
    }

    private static IEnumerable<string> Operands(string a, string b, string offset, bool vector)
    {
        string At(string r) => offset == "(nint)0" ? r : Unsafe + ".Add(ref " + r + ", " + offset + ")";
        return vector ? new[] { "ref " + At(a), "ref " + At(b) } : new[] { At(a), At(b) };
    }

    private static void EmitApplyRun(SourceWriter w, Context ctx, VectorIsa isa, bool fold, string inner, bool centered)
    {
        int u = Context.Unroll, width = isa.Width, step = u * width;
        bool statVec = fold ? inner == "F" : inner.Contains("S");
        bool paramVec = !fold && inner.Contains("P");
        string Param(string name, bool vector) => (vector ? "ref " : "") + isa.Element + " " + name;
        var ps = new List<string> { "ref " + isa.Element + " x", "ref " + isa.Element + " y", "nint len", Param("a", statVec), Param("b", statVec) };
        if (centered) ps.Add(Param("c", statVec));
        if (!fold) { ps.Add(Param("g", paramVec)); ps.Add(Param("h", paramVec)); }

        string xc = centered ? "(x - c)" : "x";
        w.Line("/// <summary>y = " + (fold ? xc + " * a + b" : "(" + xc + " * a + b) * g + h") + " over a contiguous run of <paramref name=\"len\"/> (&gt;= " + I(width) + ") elements, " +
               "main loop unrolled " + I(u) + "x" + (isa.IsScalar ? "" : "; the last partial vector overlaps and is blended with what is already stored, so in-place use stays correct") + ".</summary>");
        w.Line(Inline);
        using (w.Block("private static void ApplyRun_" + isa.Suffix + isa.TypeParams + "(" + string.Join(", ", ps) + ")" + isa.Constraint))
        {
            if (!statVec) { w.Line(isa.Vec + " va = " + isa.Splat("a") + ";"); w.Line(isa.Vec + " vb = " + isa.Splat("b") + ";"); }
            if (!statVec && centered) w.Line(isa.Vec + " vc = " + isa.Splat("c") + ";");
            if (!fold && !paramVec) { w.Line(isa.Vec + " vg = " + isa.Splat("g") + ";"); w.Line(isa.Vec + " vh = " + isa.Splat("h") + ";"); }
            string Expr(string v, string at)
            {
                string A = statVec ? isa.Load("a", at) : "va", B = statVec ? isa.Load("b", at) : "vb";
                string r = isa.MultiplyAdd(centered ? "(" + v + " - " + (statVec ? isa.Load("c", at) : "vc") + ")" : v, A, B);
                if (!fold)
                {
                    string G = paramVec ? isa.Load("g", at) : "vg", H = paramVec ? isa.Load("h", at) : "vh";
                    r = isa.MultiplyAdd(r, G, H);
                }
                return r;
            }
            w.Line("nint i = 0;");
            using (w.Block("for (; i + " + I(step) + " <= len; i += " + I(step) + ")"))
            {
                for (int j = 0; j < u; j++)
                {
                    string at = j == 0 ? "i" : "i + " + I(j * width);
                    w.Line(isa.Vec + " v" + I(j) + " = " + isa.Load("x", at) + ";");
                }
                for (int j = 0; j < u; j++)
                {
                    string at = j == 0 ? "i" : "i + " + I(j * width);
                    w.Line(isa.Store(Expr("v" + I(j), at), "y", at));
                }
            }
            using (w.Block("for (; i + " + I(width) + " <= len; i += " + I(width) + ")"))
                w.Line(isa.Store(Expr(isa.Load("x", "i"), "i"), "y", "i"));
            if (!isa.IsScalar)
            {
                using (w.Block("if (i < len)"))
                {
                    w.Line("nint t = len - " + I(width) + ";");
                    w.Line(isa.Vec + " r = " + Expr(isa.Load("x", "t"), "t") + ";");
                    w.Line(isa.Store(isa.Select(isa.LastLanes("len - i"), "r", isa.Load("y", "t")), "y", "t"));
                }
            }
        }
        w.Line();
    }
}
