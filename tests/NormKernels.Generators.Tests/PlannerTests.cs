using System.Text.RegularExpressions;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The planner, one row per case of the pattern table in docs/architecture.md, read from the plan the emitter prints into each generated
/// file's <c>&lt;remarks&gt;</c> (the readable contract of the .g.cs): axis pattern, blocks, statistics segments and
/// innermost strategy, and the apply form.
/// </summary>
public sealed class PlannerTests
{
    /// <summary>The plan as printed: what a reader of the .g.cs sees.</summary>
    private sealed record PrintedPlan(string Pattern, string Blocks, string StatSegments, string Strategy, bool Promoted, string ApplySegments, string Form, string GradientSegments);

    private sealed record Row(LayerCase Layer, PrintedPlan Expected);

    /// <summary>The pattern table of docs/architecture.md. Blocks: the leading kept axes ("" = the whole tensor is one block).</summary>
    private static readonly Row[] Rows =
    {
        // A channel's elements are N contiguous H*W runs: one block per channel, normalized right after its statistics.
        new(new("BnNchw", "NCHW", "N,H,W"),
            new("R K R", "c", "[n]=R [h w]=R", "horizontal", false, "[n]=- [h w]=-", "fold", "[n]=- [h w]=-")),
        new(new("BnNhwc", "NHWC", "N,H,W"),
            new("R K", "", "[n h w]=R [c]=A", "vertical", false, "[n h w]=- [c]=F", "fold", "[n h w]=- [c]=F")),
        new(new("LnNchw", "NCHW", "C,H,W", WriteAffine: true),
            new("K R", "n", "[c h w]=R", "horizontal", false, "[c]=F [h w]=-", "fold", "[c]=F [h w]=-")),
        new(new("LnNchwElementwise", "NCHW", "C,H,W", Affine: "Elementwise"),
            new("K R", "n", "[c h w]=R", "horizontal", false, "[c h w]=P", "two-step", "[c h w]=F")),
        new(new("LnNtc", "NTC", "C"),
            new("K R", "n, t", "[c]=R", "horizontal", false, "[c]=P", "two-step", "[c]=F")),
        new(new("InNchw", "NCHW", "H,W"),
            new("K R", "n, c", "[h w]=R", "horizontal", false, "[h w]=-", "fold", "[h w]=-")),
        new(new("InNhwc", "NHWC", "H,W"),
            new("K R K", "n", "[h w]=R [c]=A", "vertical", false, "[h w]=- [c]=F", "fold", "[h w]=- [c]=F")),
        new(new("GnNhwc", "NHWC", "C,H,W", Groups: 4),
            new("K R K R", "n", "[h w]=R [grp cpg]=A", "vertical", true, "[h w]=- [grp cpg]=F", "fold", "[h w]=- [grp cpg]=F")),
        new(new("GnNchw", "NCHW", "C,H,W", Groups: 4),
            new("K R", "n, grp", "[cpg h w]=R", "horizontal", false, "[cpg]=F [h w]=-", "fold", "[cpg]=F [h w]=-")),
    };

    private static readonly Lazy<GeneratorRun> Generated = new(() =>
    {
        GeneratorRun run = GeneratorHelper.Run(GeneratorHelper.Compile(Rows.Select(r => r.Layer.Source).ToArray()), GeneratorHelper.CreateDriver(trackSteps: true));
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics");
        return run;
    });

    public static IEnumerable<object[]> Names => Rows.Select(r => new object[] { r.Layer.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Plan_MatchesDesignTable(string name)
    {
        Row row = Rows.Single(r => r.Layer.Name == name);
        PrintedPlan actual = Read(Generated.Value.Sources[row.Layer.HintName]);
        Assert.Equal(row.Expected, actual);
    }

    /// <summary>The printed plan is the planner's: the KernelPlan of the Plan step (read by reflection) says the same.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void PrintedPlan_IsTheKernelPlan(string name)
    {
        Row row = Rows.Single(r => r.Layer.Name == name);
        object planned = Assert.Single(IncrementalTests.Outputs(Generated.Value.Result, TrackingNames.Plan),
            o => Property(o.Value, "TypeName") as string == name).Value;
        object plan = Property(planned, "Plan")!;
        PrintedPlan printed = Read(Generated.Value.Sources[row.Layer.HintName]);

        Assert.Equal(printed.Pattern, Property(plan, "Pattern"));
        Assert.Equal(printed.Strategy, Property(plan, "Strategy")!.ToString()!.ToLowerInvariant());
        Assert.Equal(printed.Promoted, Property(plan, "Promoted"));
        Assert.Equal(printed.Form == "fold" ? "Fold" : "TwoStep", Property(plan, "Form")!.ToString());
        Assert.Equal(printed.Blocks.Length == 0 ? 0 : printed.Blocks.Split(", ").Length, Property(plan, "BlockAxes"));
        Assert.Equal(printed.StatSegments.Count(ch => ch == '['), ((System.Collections.IEnumerable)Property(plan, "StatSegments")!).Cast<object>().Count());
        Assert.Equal(printed.GradientSegments.Count(ch => ch == '['), ((System.Collections.IEnumerable)Property(plan, "GradientSegments")!).Cast<object>().Count());
        // Two-step plans with one statistic per block (the LayerNorm rows here) sum per statistic in the backward.
        Assert.Equal(printed.Form == "two-step", Property(plan, "GradientPerStatistic"));
        Assert.Equal(printed.Form == "two-step", Generated.Value.Sources[row.Layer.HintName].Contains("Backward per block: segments " + printed.GradientSegments + "; one statistic per block", StringComparison.Ordinal));
    }

    private static object? Property(object target, string name) =>
        target.GetType().GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)!.GetValue(target);

    /// <summary>Reads the plan from the class's remarks; fails if a sentence the reader relies on is missing.</summary>
    private static PrintedPlan Read(string source)
    {
        int start = source.IndexOf("/// <remarks>", StringComparison.Ordinal), end = source.IndexOf("/// </remarks>", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "no <remarks> plan comment in:\n" + source[..Math.Min(source.Length, 2000)]);
        string remarks = source[start..end];

        string Match(string pattern)
        {
            var match = Regex.Match(remarks, pattern);
            Assert.True(match.Success, "remarks do not match /" + pattern + "/:\n" + remarks);
            return match.Groups[1].Value;
        }

        string pattern = Match(@"; pattern ([RK](?: [RK])*)\.</para>");
        string blocks = remarks.Contains("Blocks: one block, the whole tensor", StringComparison.Ordinal) ? "" : Match(@"Blocks: one per \(([^)]*)\)");
        string stat = Match(@"Statistics pass per block: segments ([^;]*); innermost");
        string strategy = Match(@"Statistics pass per block: [^<]*?\((horizontal|vertical)\)");
        bool promoted = remarks.Contains("per-channel accumulators combined into their group afterwards", StringComparison.Ordinal);
        string apply = Match(@"Apply pass per block: segments ([^;]*); ");
        string form = Match(@"Apply pass per block: segments [^;]*; (y = x \* A\[f\] \+ B\[f\]|y = \(x - C\[f\]\) \* A\[f\] \+ B\[f\]|y = \(x \* a\[s\] \+ b\[s\]\) \* gamma\[p\] \+ beta\[p\]|y = \(\(x - c\[s\]\) \* a\[s\] \+ b\[s\]\) \* gamma\[p\] \+ beta\[p\])");
        string gradient = Match(@"Backward per block: segments ([^;]*); ");
        return new PrintedPlan(pattern, blocks, stat, strategy, promoted, apply, form.StartsWith("y = x * A[f]", StringComparison.Ordinal) || form.StartsWith("y = (x - C[f]) * A[f]", StringComparison.Ordinal) ? "fold" : "two-step", gradient);
    }
}
