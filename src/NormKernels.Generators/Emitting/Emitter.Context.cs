using System;
using System.Collections.Generic;
using System.Linq;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Emitting;

internal static partial class Emitter
{
    /// <summary>Names and expressions derived once from the spec and plan, shared by every emit step.</summary>
    private sealed class Context
    {
        /// <summary>Independent accumulators (and stores) per unrolled iteration.</summary>
        public const int Unroll = 4;

        /// <summary>Vectors each accumulator takes before the chunk is added into double.</summary>
        public const int ChunkVectors = 16;

        public Context(NormSpec spec, KernelPlan plan, bool hooks)
        {
            Spec = spec;
            Plan = plan;
            Hooks = hooks;
            Axes = plan.Axes.ToList();
            foreach (string entry in spec.Sizes.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries))
                FixedLetters[entry[0]] = int.Parse(entry.Substring(2), System.Globalization.CultureInfo.InvariantCulture);
        }

        public NormSpec Spec { get; }

        /// <summary>The layer takes a residual (before or after the norm): its Forward and Backward have their own signatures.</summary>
        public bool Residual => Plan.Epilogue.Residual != ResidualId.None;

        /// <summary>The layer has an activation: its static backward takes the bias too (the pre-activation is recomputed).</summary>
        public bool Activates => Plan.Epilogue.Activation != "None";

        /// <summary>The build asked for the <c>...OnPath&lt;TOps&gt;</c> test hooks (LayerOutput.PathHooksProperty).</summary>
        public bool Hooks { get; }

        /// <summary>The layer keeps running statistics: N is reduced and the declaration did not say <c>TrackRunningStats = false</c>.</summary>
        public bool Running => Plan.BatchReduced && Spec.TrackRunningStats;

        /// <summary>The arithmetic type as C#: "float" or "double" (a Half layer computes in float): parameters, statistics, epsilon, the nest.</summary>
        public string T => Spec.IsHalf ? "float" : Spec.Element;

        /// <summary>ElementType = typeof(Half): Half tensors, float parameters and statistics, on the runtime's Half wrappers.</summary>
        public bool Half => Spec.IsHalf;

        /// <summary>The tensors' element type as C#: <see cref="T"/>, or Half.</summary>
        public string D => Spec.IsHalf ? "global::System.Half" : T;

        // The tensors' spans (input, output, gradients, residual, sum).
        public string SpanT => "global::System.Span<" + D + ">";
        public string ReadOnlySpanT => "global::System.ReadOnlySpan<" + D + ">";
        public string TensorT => "global::System.Numerics.Tensors.TensorSpan<" + D + ">";
        public string ReadOnlyTensorT => "global::System.Numerics.Tensors.ReadOnlyTensorSpan<" + D + ">";

        // Parameters' and statistics' spans (and every span of the nest).
        public string ParamSpan => "global::System.Span<" + T + ">";
        public string ParamReadOnlySpan => "global::System.ReadOnlySpan<" + T + ">";

        /// <summary>The interface the class implements: INormalizationLayer (float) or INormalizationLayer&lt;double&gt;.</summary>
        public string Interface => Spec.IsDouble ? "global::NormKernels.INormalizationLayer<double>" : "global::NormKernels.INormalizationLayer";

        /// <summary>The generic interface that declares the members (explicit implementations must name it).</summary>
        public string DeclaringInterface => "global::NormKernels.INormalizationLayer<" + T + ">";

        /// <summary>A literal of the element type.</summary>
        public string Literal(double value) => Spec.IsDouble ? Literals.Double(value) : Literals.Float(value);

        /// <summary>The batch statistics the kind keeps (its model entry's outputs).</summary>
        public IReadOnlyList<StatisticOutput> Outputs => Plan.Kind.Outputs.ToList();

        /// <summary>The kind's statistics as parameters of <paramref name="spanType"/>: "Span&lt;float&gt; mean, Span&lt;float&gt; variance".</summary>
        public string OutputParams(string spanType) => string.Join(", ", Outputs.Select(o => spanType + " " + o.Parameter));

        /// <summary>The drivers' two statistic slots (stat0, stat1) from <paramref name="names"/>, "default" past the kind's outputs.</summary>
        public string Slots(params string[] names) => string.Join(", ", Enumerable.Range(0, 2).Select(i => i < Outputs.Count ? names[i] : "default"));

        public KernelPlan Plan { get; }
        public List<PlanAxis> Axes { get; }

        public IEnumerable<PlanAxis> BlockAxes => Axes.Where(a => a.Block);

        /// <summary>Indices of the block axes, outermost first.</summary>
        public List<int> BlockIndices => Enumerable.Range(0, Axes.Count).Where(i => Axes[i].Block).ToList();

        public string AxesText => string.Join(",", LayoutGrammar.SplitAxes(Spec.Axes));

        /// <summary>The constructor's size parameter: channels, normalizedSize, or none.</summary>
        public string SizeParam => Spec.IsElementwise ? "normalizedSize"
            : Spec.Layout.IndexOf(LayoutGrammar.Channel) >= 0 ? "channels" : "";

        private IEnumerable<string> Dims => Spec.Layout.Select(l => char.ToLowerInvariant(l).ToString());

        public string DimParams => string.Join(", ", Dims.Select(d => "int " + d));
        public string DimArgs => string.Join(", ", Dims);

        public string SampleDimsText => string.Join(", ", Spec.Layout.Where(l => l != LayoutGrammar.Batch).Select(l => char.ToLowerInvariant(l).ToString()));

        public string KeptText => Axes.Any(a => !a.Reduced) ? string.Join(", ", Axes.Where(a => !a.Reduced).Select(a => AxisText(a))) : "a single statistic";

        private static string AxisText(PlanAxis a) =>
            a.Name == Planning.Planner.GroupAxis ? "groups" : a.Name == Planning.Planner.ChannelsPerGroupAxis ? "c / groups" : a.Name;

        public string ParamShapeText => Spec.IsPerChannel ? "one per channel (c)"
            : Spec.IsElementwise ? "one per element of a sample (" + SampleDimsText + ", layout order)" : "empty (no affine parameters)";

        public string ExtentParams => string.Join(", ", Axes.Where(a => !IsFixed(a)).Select(a => "nint e_" + a.Name));

        /// <summary>The letters the attribute's <c>Sizes</c> fixes, with their values.</summary>
        public Dictionary<char, int> FixedLetters { get; } = new Dictionary<char, int>();

        /// <summary>The axes whose extent <c>Sizes</c> fixes (a group axis with C), with their values: constants of the nest.</summary>
        public IEnumerable<(string Name, string Value)> FixedExtents => Axes.Where(IsFixed).Select(a => (a.Name, Literals.Int(FixedValue(a))));

        public bool IsFixed(PlanAxis a) => FixedLetters.ContainsKey(a.Letter);

        private int FixedValue(PlanAxis a) =>
            a.Name == Planning.Planner.GroupAxis ? Spec.Groups
            : a.Name == Planning.Planner.ChannelsPerGroupAxis ? FixedLetters[a.Letter] / Spec.Groups
            : FixedLetters[a.Letter];

        /// <summary>The extent of axis <paramref name="i"/> inside generated methods.</summary>
        public string E(int i) => "e_" + Axes[i].Name;

        /// <summary>Product of the extents of the axes selected, as an nint expression.</summary>
        public string Product(IEnumerable<int> axes)
        {
            var list = axes.ToList();
            return list.Count == 0 ? "(nint)1" : list.Count == 1 ? E(list[0]) : "(" + string.Join(" * ", list.Select(E)) + ")";
        }

        public string SegmentExtent(Segment s) => Product(Enumerable.Range(s.First, s.Last - s.First + 1));

        /// <summary>Stride of axis <paramref name="i"/> in the index space of the axes satisfying <paramref name="member"/>: the product of the later member axes.</summary>
        public string Stride(int i, Func<PlanAxis, bool> member) =>
            Product(Enumerable.Range(i + 1, Axes.Count - i - 1).Where(j => member(Axes[j])));

        // Index spaces. Memory, Kept (the global statistic index) and ParamAxis span every axis; the per-block
        // spaces (InnerKept, Accumulated, FoldAxis) span the axes inside a block only.
        public static bool Memory(PlanAxis a) => true;
        public static bool Kept(PlanAxis a) => !a.Reduced;
        public static bool InnerKept(PlanAxis a) => !a.Reduced && !a.Block;
        public static bool Accumulated(PlanAxis a) => a.Accumulated && !a.Block;
        public static bool ParamAxis(PlanAxis a) => a.Param;
        public static bool FoldAxis(PlanAxis a) => (!a.Reduced || a.Param) && !a.Block;

        /// <summary>Product of the extents of the axes inside a block that satisfy <paramref name="member"/>.</summary>
        public string InnerProduct(Func<PlanAxis, bool> member) =>
            Product(Enumerable.Range(0, Axes.Count).Where(j => !Axes[j].Block && member(Axes[j])));

        public string StatInnerExtent => SegmentExtent(Plan.StatSegments[Plan.StatSegments.Count - 1]);
        public string ApplyInnerExtent => SegmentExtent(Plan.ApplySegments[Plan.ApplySegments.Count - 1]);

        public string Describe(EquatableArray<Segment> segments) =>
            string.Join(" ", segments.Select(s => "[" + string.Join(" ", Enumerable.Range(s.First, s.Last - s.First + 1).Select(i => Axes[i].Name)) + "]=" + s.ClassText));
    }

    /// <summary>One loop of an emitted nest: a counter, its extent, and its stride in each index space it moves.</summary>
    private sealed class Loop(string counter, string extent, string comment)
    {
        public string Counter { get; } = counter;
        public string Extent { get; set; } = extent;

        /// <summary>Where the counter starts ("0", or a chunk's first index).</summary>
        public string Start { get; set; } = "0";
        public string Comment { get; } = comment;
        public Dictionary<string, string> Strides { get; } = new Dictionary<string, string>();
    }

    /// <summary>
    /// Emits nested loops; each index space (memory offset, statistic, parameter, coefficient, accumulator)
    /// starts at the given offset and advances by its stride per loop. The body gets the final offset names.
    /// </summary>
    private static void EmitNest(SourceWriter w, IList<Loop> loops, IDictionary<string, string> start, Action<IDictionary<string, string>> body, string prefix = "")
    {
        EmitNestLevel(w, loops, 0, new Dictionary<string, string>(start), body, prefix);
    }

    private static void EmitNestLevel(SourceWriter w, IList<Loop> loops, int depth, Dictionary<string, string> offsets, Action<IDictionary<string, string>> body, string prefix)
    {
        if (depth == loops.Count)
        {
            body(offsets);
            return;
        }
        var loop = loops[depth];
        if (loop.Comment.Length > 0) w.Line("// " + loop.Comment);
        using (w.Block("for (nint " + loop.Counter + " = " + loop.Start + "; " + loop.Counter + " < " + loop.Extent + "; " + loop.Counter + "++)"))
        {
            var next = new Dictionary<string, string>(offsets);
            foreach (var pair in loop.Strides)
            {
                string name = prefix + pair.Key + Literals.Int(depth + 1);
                string term = pair.Value == "(nint)1" ? loop.Counter : loop.Counter + " * " + pair.Value;
                w.Line("nint " + name + " = " + (offsets[pair.Key] == "(nint)0" ? term : offsets[pair.Key] + " + " + term) + ";");
                next[pair.Key] = name;
            }
            EmitNestLevel(w, loops, depth + 1, next, body, prefix);
        }
    }
}
