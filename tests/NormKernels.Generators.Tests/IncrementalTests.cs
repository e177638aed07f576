using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The incremental pipeline caches: an unrelated edit leaves the Parse and Plan steps and the source output Cached or
/// Unchanged, while an edit of a layer's Axes or Groups re-plans and re-emits that layer only.
/// </summary>
public sealed class IncrementalTests
{
    private static readonly IncrementalStepRunReason[] Reused = { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged };
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

    private static readonly string[] StepNames = { TrackingNames.Parse, TrackingNames.Plan };

    private static LayerCase Bn => LayerCase.Get("BnNchw");

    private static LayerCase Gn => LayerCase.Get("GnNhwc");

    /// <summary>Runs a tracking driver on <paramref name="first"/>, then the same driver on the edited compilation.</summary>
    private static GeneratorRunResult RunTwice(Compilation first, Func<Compilation, Compilation> edit)
    {
        GeneratorDriver driver = GeneratorHelper.CreateDriver(trackSteps: true).RunGenerators(first);
        GeneratorRunResult initial = driver.GetRunResult().Results.Single();
        Assert.Empty(initial.Diagnostics);
        Assert.Equal(2, initial.GeneratedSources.Length);
        foreach (string step in StepNames)
            Assert.All(Outputs(initial, step), o => Assert.Equal(IncrementalStepRunReason.New, o.Reason));

        GeneratorRunResult second = driver.RunGenerators(edit(first)).GetRunResult().Results.Single();
        Assert.Empty(second.Diagnostics);
        Assert.Equal(2, second.GeneratedSources.Length);
        return second;
    }

    private static Compilation TwoLayersAndUnrelated() => GeneratorHelper.Compile(Bn.Source, Gn.Source, UnrelatedSource);

    internal static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string step)
    {
        Assert.True(result.TrackedSteps.ContainsKey(step), "no tracked step " + step + "; steps: " + string.Join(", ", result.TrackedSteps.Keys));
        return result.TrackedSteps[step].SelectMany(s => s.Outputs).ToList();
    }

    private static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> SourceOutputs(GeneratorRunResult result) =>
        result.TrackedOutputSteps[WellKnownGeneratorOutputs.SourceOutput].SelectMany(s => s.Outputs).ToList();

    /// <summary>The layer a Parse or Plan output is about (both models carry a TypeName).</summary>
    private static string TypeNameOf(object model) =>
        (string)model.GetType().GetProperty("TypeName", BindingFlags.Public | BindingFlags.Instance)!.GetValue(model)!;

    private static void AssertReasons(IEnumerable<(object Value, IncrementalStepRunReason Reason)> outputs, int count, IncrementalStepRunReason[] allowed, string what)
    {
        var list = outputs.ToList();
        Assert.True(list.Count == count, what + ": expected " + count + " outputs, got " + list.Count);
        foreach (var (value, reason) in list)
            Assert.True(allowed.Contains(reason), what + ": " + value + " is " + reason + ", expected one of " + string.Join("/", allowed));
    }

    private static void AssertEverythingReused(GeneratorRunResult result)
    {
        foreach (string step in StepNames)
            AssertReasons(Outputs(result, step), 2, Reused, step);
        AssertReasons(SourceOutputs(result), 2, Reused, "source output");
    }

    [Fact]
    public void AddingAnUnrelatedSyntaxTree_ReusesEveryStep()
    {
        GeneratorRunResult result = RunTwice(TwoLayersAndUnrelated(), c => c.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace Other;\n/// <summary>New.</summary>\npublic sealed class Added { }\n", GeneratorHelper.ParseOptions, path: "Added.cs")));
        AssertEverythingReused(result);
    }

    [Fact]
    public void EditingAnUnrelatedMethodBody_ReusesEveryStep()
    {
        GeneratorRunResult result = RunTwice(TwoLayersAndUnrelated(), c => Replace(c, UnrelatedSource, UnrelatedSource.Replace("=> 41;", "=> 42;")));
        AssertEverythingReused(result);
    }

    [Fact]
    public void EditingTheLayersOwnFile_OutsideTheDeclaration_ReusesEveryStep()
    {
        // The attribute's file is re-parsed, so Parse re-runs, but it produces an equal model: Unchanged, and nothing after it runs.
        string edited = Bn.Source + "\n// a comment typed below the layer\n/// <summary>A helper typed next to the layer.</summary>\npublic static class Helper { }\n";
        GeneratorRunResult result = RunTwice(TwoLayersAndUnrelated(), c => Replace(c, Bn.Source, edited));
        AssertEverythingReused(result);
    }

    [Fact]
    public void ChangingAxes_RedoesThatLayerOnly()
    {
        GeneratorRunResult result = RunTwice(TwoLayersAndUnrelated(),
            c => Replace(c, Bn.Source, Bn.Source.Replace("Axes = \"N,H,W\"", "Axes = \"H,W\"")));
        AssertOnlyRedone(result, Bn.Name, Gn.Name);
    }

    [Fact]
    public void ChangingGroups_RedoesThatLayerOnly()
    {
        GeneratorRunResult result = RunTwice(TwoLayersAndUnrelated(),
            c => Replace(c, Gn.Source, Gn.Source.Replace("Groups = 4", "Groups = 2")));
        AssertOnlyRedone(result, Gn.Name, Bn.Name);
    }

    private static void AssertOnlyRedone(GeneratorRunResult result, string changed, string untouched)
    {
        foreach (string step in StepNames)
        {
            var outputs = Outputs(result, step);
            AssertReasons(outputs.Where(o => TypeNameOf(o.Value) == changed), 1, Redone, step + " of " + changed);
            AssertReasons(outputs.Where(o => TypeNameOf(o.Value) == untouched), 1, Reused, step + " of " + untouched);
        }
        var sources = SourceOutputs(result);
        AssertReasons(sources.Where(o => !Reused.Contains(o.Reason)), 1, Redone, "source output");
        AssertReasons(sources.Where(o => Reused.Contains(o.Reason)), 1, Reused, "source output");
    }

    [Fact]
    public void CompilingTheSameSourceTwice_GivesEqualButDistinctModels()
    {
        string[] sources = LayerCase.Matrix.Select(c => c.Source).ToArray();
        GeneratorRunResult first = GeneratorHelper.CreateDriver(trackSteps: true).RunGenerators(GeneratorHelper.Compile(sources)).GetRunResult().Results.Single();
        GeneratorRunResult second = GeneratorHelper.CreateDriver(trackSteps: true).RunGenerators(GeneratorHelper.Compile(sources)).GetRunResult().Results.Single();

        foreach (string step in StepNames)
        {
            var a = Outputs(first, step).Select(o => o.Value).OrderBy(TypeNameOf, StringComparer.Ordinal).ToList();
            var b = Outputs(second, step).Select(o => o.Value).OrderBy(TypeNameOf, StringComparer.Ordinal).ToList();
            Assert.Equal(LayerCase.Matrix.Length, a.Count);
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

    private static Compilation Replace(Compilation compilation, string oldSource, string newSource)
    {
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.GetText().ToString() == oldSource);
        return compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(newSource)));
    }
}
