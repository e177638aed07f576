using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The incremental pipelines of the generators (NormalizeGenerator, LocalResponseNormalizeGenerator and
/// WeightNormalizeGenerator, run by one driver) cache. The contract is Roslyn's <see cref="IncrementalStepRunReason.Cached"/>: after an edit that does not touch
/// a layer's attribute, every step named in <see cref="TrackingNames"/> and every source output reports Cached for every
/// layer; <see cref="IncrementalStepRunReason.Unchanged"/> is not accepted, because it means the step ran again (and only
/// happened to produce an equal value). An edit of one layer's attribute re-runs that layer's steps and output
/// (Modified/New) and leaves every other layer's Cached. <see cref="PlannedRegressionIsCaught"/> plants a real caching
/// mistake in the pipeline and shows these checks fail on it.
/// </summary>
public sealed class IncrementalTests
{
    private static readonly IncrementalStepRunReason[] Redone = { IncrementalStepRunReason.Modified, IncrementalStepRunReason.New };

    private const string UnrelatedSource = """
        namespace Layers;

        /// <summary>Not a layer.</summary>
        public static class Unrelated
        {
            /// <summary>A method whose body the tests edit.</summary>
            public static int Answer() => 41;
        }
        """;

    private static LayerCase Bn => LayerCase.Get("BnNchw");

    private static LayerCase Gn => LayerCase.Get("GnNhwc");

    private static string Lrn(string name, string arguments) => $$"""
        using NormKernels;

        namespace Layers;

        /// <summary>LRN layer {{name}}.</summary>
        [LocalResponseNormalize({{arguments}})]
        public sealed partial class {{name}};
        """;

    private static readonly string LrnNhwc = Lrn("LrnNhwc", "Layout = \"NHWC\", Size = 5");

    private static readonly string LrnNchwDouble = Lrn("LrnNchwDouble", "Layout = \"NCHW\", ElementType = typeof(double)");

    private const string WeightNorm = """
        using NormKernels;

        namespace Layers;

        /// <summary>Weight norm layer ConvWeightNorm.</summary>
        [WeightNormalize(Layout = "OIHW", Axes = "I,H,W")]
        public sealed partial class ConvWeightNorm;
        """;

    /// <summary>Two [Normalize] layers, two [LocalResponseNormalize] layers, a [WeightNormalize] layer and a file that declares
    /// no layer, one tree each.</summary>
    private static Compilation LayersAndUnrelated() =>
        GeneratorHelper.Compile(Bn.Source, Gn.Source, LrnNhwc, LrnNchwDouble, WeightNorm, UnrelatedSource);

    /// <summary>Every step name <see cref="TrackingNames"/> declares (its public string constants).</summary>
    internal static readonly string[] StepNames = typeof(TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    /// <summary>One driver running every generator and recording every incremental step.</summary>
    internal static GeneratorDriver CreateDriver(NormalizeGenerator normalize) =>
        CSharpGeneratorDriver.Create(
            new[] { normalize.AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator(), new WeightNormalizeGenerator().AsSourceGenerator() },
            parseOptions: GeneratorHelper.ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    internal static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string step)
    {
        Assert.True(result.TrackedSteps.ContainsKey(step), "no tracked step " + step + "; steps: " + string.Join(", ", result.TrackedSteps.Keys));
        return result.TrackedSteps[step].SelectMany(s => s.Outputs).ToList();
    }

    /// <summary>The layer a step's model is about (every model of the pipelines carries the class name as TypeName), or null.</summary>
    private static string? TypeNameOf(object model) =>
        model.GetType().GetProperty("TypeName", BindingFlags.Public | BindingFlags.Instance)?.GetValue(model) as string;

    /// <summary>The layer a source output step emitted: the TypeName of the nearest model among the values it was computed from.</summary>
    private static string? LayerOf(IncrementalGeneratorRunStep step)
    {
        foreach (var (source, index) in step.Inputs)
            if (TypeNameOf(source.Outputs[index].Value) is string name) return name;
        foreach (var (source, _) in step.Inputs)
            if (LayerOf(source) is string name) return name;
        return null;
    }

    /// <summary>One output of one tracked step: which step (the named step, or a generator's source output), which layer, why.</summary>
    internal sealed record StepRow(string Step, string Layer, IncrementalStepRunReason Reason)
    {
        public override string ToString() => Step + " of " + Layer + ": " + Reason;
    }

    /// <summary>
    /// Every output of every step named in <see cref="TrackingNames"/> and of every source output, across the generators of
    /// the last run. Steps Roslyn tracks inside ForAttributeWithMetadataName are left out: they are combined with the
    /// compilation by design and re-run on every edit; what counts is that nothing of ours runs after them.
    /// </summary>
    internal static List<StepRow> Rows(GeneratorDriverRunResult run)
    {
        var rows = new List<StepRow>();
        foreach (GeneratorRunResult result in run.Results)
        {
            string generator = result.Generator.GetGeneratorType().Name;
            foreach (var (name, steps) in result.TrackedSteps)
            {
                // A step of ours with a name TrackingNames does not list would escape these checks.
                Assert.False(name.StartsWith("NormKernels", StringComparison.Ordinal) && !StepNames.Contains(name),
                    "tracked step " + name + " of " + generator + " is not declared in TrackingNames");
                if (!StepNames.Contains(name)) continue;
                foreach (IncrementalGeneratorRunStep step in steps)
                    foreach (var (value, reason) in step.Outputs)
                        rows.Add(new StepRow(name, TypeNameOf(value) ?? "?" + value.GetType().Name, reason));
            }
            foreach (var (name, steps) in result.TrackedOutputSteps)
                foreach (IncrementalGeneratorRunStep step in steps)
                    foreach (var (_, reason) in step.Outputs)
                        rows.Add(new StepRow(generator + " " + name, LayerOf(step) ?? "?", reason));
        }
        return rows;
    }

    /// <summary>
    /// What is wrong with the second run's <paramref name="rows"/>, given the first run's: each (step, layer) of the first
    /// run must appear exactly once again, the <paramref name="changed"/> layer's (if any) Modified or New, every other
    /// layer's Cached. Empty when the pipeline cached as it must.
    /// </summary>
    internal static List<string> CachingProblems(IReadOnlyList<StepRow> first, IReadOnlyList<StepRow> rows, string? changed)
    {
        var problems = new List<string>();
        var expected = first.Select(r => (r.Step, r.Layer)).OrderBy(k => k).ToList();
        var actual = rows.Select(r => (r.Step, r.Layer)).OrderBy(k => k).ToList();
        if (!expected.SequenceEqual(actual))
            problems.Add("the steps and layers differ from the first run's: first " + string.Join(", ", expected) + "; now " + string.Join(", ", actual));
        foreach (StepRow row in rows)
        {
            if (row.Layer == changed)
            {
                if (!Redone.Contains(row.Reason)) problems.Add(row + ", expected Modified or New (its attribute changed)");
            }
            else if (row.Reason != IncrementalStepRunReason.Cached)
            {
                problems.Add(row + ", expected Cached");
            }
        }
        return problems;
    }

    /// <summary>The first run on <paramref name="compilation"/>: every step and output New, all five layers generated, no diagnostic.</summary>
    private static (GeneratorDriver Driver, List<StepRow> Rows) RunFirst(Compilation compilation, NormalizeGenerator normalize)
    {
        GeneratorDriver driver = CreateDriver(normalize).RunGenerators(compilation);
        GeneratorDriverRunResult run = driver.GetRunResult();
        Assert.Empty(run.Diagnostics);
        Assert.Equal(5, run.GeneratedTrees.Length);
        List<StepRow> rows = Rows(run);
        foreach (string step in StepNames)
            Assert.True(rows.Any(r => r.Step == step), "no output of step " + step + " in the first run; rows: " + string.Join("; ", rows));
        Assert.All(rows, r => Assert.Equal(IncrementalStepRunReason.New, r.Reason));
        return (driver, rows);
    }

    /// <summary>
    /// Runs the driver on the compilation, then on <paramref name="edit"/> of it, and returns what is wrong with the second
    /// run's caching (<see cref="CachingProblems"/>) and its rows.
    /// </summary>
    internal static (List<string> Problems, List<StepRow> Rows) RunEdited(Func<Compilation, Compilation> edit, string? changed, NormalizeGenerator normalize)
    {
        Compilation compilation = LayersAndUnrelated();
        var (driver, first) = RunFirst(compilation, normalize);
        GeneratorDriverRunResult second = driver.RunGenerators(edit(compilation)).GetRunResult();
        Assert.Empty(second.Diagnostics);
        Assert.Equal(5, second.GeneratedTrees.Length);
        List<StepRow> rows = Rows(second);
        return (CachingProblems(first, rows, changed), rows);
    }

    private static void AssertCached(Func<Compilation, Compilation> edit, string? changed)
    {
        var (problems, rows) = RunEdited(edit, changed, new NormalizeGenerator());
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\nall rows:\n" + string.Join("\n", rows));
        // Every layer of every generator was checked, through each of its steps and its output.
        foreach (string layer in new[] { Bn.Name, Gn.Name, "LrnNhwc", "LrnNchwDouble", "ConvWeightNorm" })
            Assert.Contains(rows, r => r.Layer == layer && r.Step.EndsWith(WellKnownGeneratorOutputs.SourceOutput, StringComparison.Ordinal));
        Assert.Equal(2, rows.Count(r => r.Step == TrackingNames.Plan));
        Assert.Equal(2, rows.Count(r => r.Step == TrackingNames.LrnParse));
        Assert.Equal(1, rows.Count(r => r.Step == TrackingNames.WeightNormParse));
    }

    // The edits, by name, so the mutation test runs exactly these.
    internal static Compilation AddUnrelatedTree(Compilation c) => c.AddSyntaxTrees(
        CSharpSyntaxTree.ParseText("namespace Other;\n/// <summary>New.</summary>\npublic sealed class Added { }\n", GeneratorHelper.ParseOptions, path: "Added.cs"));

    internal static Compilation EditUnrelatedMethodBody(Compilation c) => Replace(c, UnrelatedSource, UnrelatedSource.Replace("=> 41;", "=> 42;"));

    internal static Compilation AddUnrelatedMethod(Compilation c) => Replace(c, UnrelatedSource,
        UnrelatedSource.Replace("=> 41;", "=> 41;\n\n    /// <summary>Typed later.</summary>\n    public static int Other() => 1;"));

    internal static Compilation ChangeBnAxes(Compilation c) => Replace(c, Bn.Source, Bn.Source.Replace("Axes = \"N,H,W\"", "Axes = \"H,W\""));

    internal static Compilation ChangeGnGroups(Compilation c) => Replace(c, Gn.Source, Gn.Source.Replace("Groups = 4", "Groups = 2"));

    internal static Compilation ChangeLrnSize(Compilation c) => Replace(c, LrnNhwc, LrnNhwc.Replace("Size = 5", "Size = 3"));

    internal static Compilation ChangeWeightNormAxes(Compilation c) => Replace(c, WeightNorm, WeightNorm.Replace("Axes = \"I,H,W\"", "Axes = \"I\""));

    [Fact]
    public void AddingAnUnrelatedSyntaxTree_LeavesEveryStepCached() => AssertCached(AddUnrelatedTree, changed: null);

    [Fact]
    public void EditingAnUnrelatedMethodBody_LeavesEveryStepCached() => AssertCached(EditUnrelatedMethodBody, changed: null);

    [Fact]
    public void AddingAMethodToAnUnrelatedClass_LeavesEveryStepCached() => AssertCached(AddUnrelatedMethod, changed: null);

    [Fact]
    public void EditingALayersOwnFile_OutsideTheDeclaration_LeavesEveryStepCached()
    {
        // The layer's own tree changes, yet its declaration does not. ForAttributeWithMetadataName (combined with the
        // compilation inside Roslyn) runs Parser.Parse again on every edit; the model is equal, so nothing of ours after it
        // runs: Parse, Plan and the outputs are Cached, as for any other edit.
        string edited = Bn.Source + "\n// a comment typed below the layer\n/// <summary>A helper typed next to the layer.</summary>\npublic static class Helper { }\n";
        AssertCached(c => Replace(c, Bn.Source, edited), changed: null);
    }

    [Fact]
    public void ChangingAxes_RedoesThatLayerOnly() => AssertCached(ChangeBnAxes, changed: Bn.Name);

    [Fact]
    public void ChangingGroups_RedoesThatLayerOnly() => AssertCached(ChangeGnGroups, changed: Gn.Name);

    [Fact]
    public void ChangingAnLrnSize_RedoesThatLayerOnly() => AssertCached(ChangeLrnSize, changed: "LrnNhwc");

    [Fact]
    public void ChangingWeightNormAxes_RedoesThatLayerOnly() => AssertCached(ChangeWeightNormAxes, changed: "ConvWeightNorm");

    /// <summary>
    /// Mutation test. <c>NormalizeGenerator.PlanWithCompilation</c> (internal, test only) builds the same pipeline with one
    /// change: the plan step is <c>parsed.Combine(context.CompilationProvider).Select(...)</c> instead of
    /// <c>parsed.Select(...)</c>. That is the mistake issue 10 found passing the old tests, and the one a contributor makes
    /// when the planner wants something from the compilation (a language version, whether a runtime type exists): every
    /// edit anywhere produces a new compilation, so every layer is planned again on every keystroke. The plans are equal,
    /// so Roslyn reports the step Unchanged and the source outputs stay Cached: the generated files never change, and a
    /// test that accepts Unchanged (as these did) cannot see it. The checks above must report it, for each edit.
    /// </summary>
    [Fact]
    public void PlannedRegressionIsCaught()
    {
        PropertyInfo knob = typeof(NormalizeGenerator).GetProperty("PlanWithCompilation", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("NormalizeGenerator.PlanWithCompilation is gone: restore the mutation switch or plant the regression another way");
        NormalizeGenerator Mutant()
        {
            var generator = new NormalizeGenerator();
            knob.SetValue(generator, true);
            return generator;
        }

        var edits = new (Func<Compilation, Compilation> Edit, string? Changed, string[] Replanned)[]
        {
            (AddUnrelatedTree, null, new[] { Bn.Name, Gn.Name }),
            (EditUnrelatedMethodBody, null, new[] { Bn.Name, Gn.Name }),
            (AddUnrelatedMethod, null, new[] { Bn.Name, Gn.Name }),
            (ChangeBnAxes, Bn.Name, new[] { Gn.Name }),
            (ChangeLrnSize, "LrnNhwc", new[] { Bn.Name, Gn.Name }),
        };
        foreach (var (edit, changed, replanned) in edits)
        {
            var (problems, rows) = RunEdited(edit, changed, Mutant());
            // Exactly the planted mistake is reported: the plan of each layer whose attribute did not change ran again.
            var expected = replanned.Select(layer => TrackingNames.Plan + " of " + layer + ": Unchanged, expected Cached").OrderBy(p => p, StringComparer.Ordinal);
            Assert.Equal(expected, problems.OrderBy(p => p, StringComparer.Ordinal));
            // And it is invisible in the output: every source output the edit did not concern is still Cached.
            Assert.All(rows.Where(r => r.Step.EndsWith(WellKnownGeneratorOutputs.SourceOutput, StringComparison.Ordinal) && r.Layer != changed),
                r => Assert.Equal(IncrementalStepRunReason.Cached, r.Reason));
        }

        // The unmutated generator passes the same runs.
        foreach (var (edit, changed, _) in edits)
            Assert.Empty(RunEdited(edit, changed, new NormalizeGenerator()).Problems);
    }

    [Fact]
    public void CompilingTheSameSourceTwice_GivesEqualButDistinctModels()
    {
        string[] sources = LayerCase.Matrix.Select(c => c.Source).Append(LrnNhwc).Append(LrnNchwDouble).Append(WeightNorm).ToArray();
        GeneratorDriverRunResult first = CreateDriver(new NormalizeGenerator()).RunGenerators(GeneratorHelper.Compile(sources)).GetRunResult();
        GeneratorDriverRunResult second = CreateDriver(new NormalizeGenerator()).RunGenerators(GeneratorHelper.Compile(sources)).GetRunResult();

        foreach (string step in StepNames)
        {
            var a = ModelsOf(first, step);
            var b = ModelsOf(second, step);
            Assert.Equal(step == TrackingNames.LrnParse ? 2 : step == TrackingNames.WeightNormParse ? 1 : LayerCase.Matrix.Length, a.Count);
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.NotSame(a[i], b[i]);
                Assert.Equal(a[i], b[i]);
                Assert.Equal(a[i].GetHashCode(), b[i].GetHashCode());
                if (i > 0) Assert.NotEqual(a[i - 1], a[i]);
            }
        }
    }

    private static List<object> ModelsOf(GeneratorDriverRunResult run, string step) => run.Results
        .Where(r => r.TrackedSteps.ContainsKey(step))
        .SelectMany(r => Outputs(r, step))
        .Select(o => o.Value)
        .OrderBy(v => TypeNameOf(v), StringComparer.Ordinal)
        .ToList();

    private static Compilation Replace(Compilation compilation, string oldSource, string newSource)
    {
        Assert.NotEqual(oldSource, newSource);
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.GetText().ToString() == oldSource);
        return compilation.ReplaceSyntaxTree(old, old.WithChangedText(SourceText.From(newSource)));
    }
}
