using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NormKernels.Generators.Tests;

/// <summary>What one generator run produced: the updated compilation, the generator's own diagnostics and the driver.</summary>
internal sealed record GeneratorRun(GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics)
{
    /// <summary>The single generator's result.</summary>
    public GeneratorRunResult Result => Driver.GetRunResult().Results.Single();

    /// <summary>Generated sources by hint name.</summary>
    public ImmutableDictionary<string, string> Sources =>
        Result.GeneratedSources.ToImmutableDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
}

/// <summary>
/// Runs <see cref="NormalizeGenerator"/> through <see cref="CSharpGeneratorDriver"/> and compiles its output as strictly as
/// the compiler allows: warning level 9999, nullable enabled, documentation comments diagnosed. For the tests that look at
/// the driver's results (generated text, tracked steps) or compile and run the generated layers; tests of what a build
/// reports use <see cref="BuildTest"/>.
/// </summary>
internal static class GeneratorHelper
{
    /// <summary>C# 12 (what the pinned Roslyn 4.8 knows) with documentation comments parsed and diagnosed (CS1591 and friends).</summary>
    public static readonly CSharpParseOptions ParseOptions = TestReferences.ParseOptions.WithDocumentationMode(DocumentationMode.Diagnose);

    /// <summary>Every warning the compiler has, nullable analysis on; no unsafe code (the generated kernels use Unsafe/MemoryMarshal only).</summary>
    public static readonly CSharpCompilationOptions StrictOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        warningLevel: 9999,
        nullableContextOptions: NullableContextOptions.Enable,
        allowUnsafe: false,
        optimizationLevel: OptimizationLevel.Release);

    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create(
            "NormKernelsGeneratorTest",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: "Layer" + i.ToString(CultureInfo.InvariantCulture) + ".cs")),
            TestReferences.MetadataReferences,
            StrictOptions);

    /// <summary>A driver for one NormalizeGenerator, optionally recording every incremental step.</summary>
    public static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>A driver for every layer generator, as a build runs them.</summary>
    public static GeneratorDriver CreateDriverForAll() =>
        CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator(), new WeightNormalizeGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions);

    public static GeneratorRun Run(Compilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver()).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out var diagnostics);
        return new GeneratorRun(driver, WithNullableWarnings(output), diagnostics);
    }

    /// <summary>The generated files ask for nullable annotations only (users' builds skip the flow analysis of forwarders and
    /// loop nests); the tests compile them with the nullable warnings on as well, so the generated code stays clean of them.</summary>
    private static Compilation WithNullableWarnings(Compilation output)
    {
        foreach (SyntaxTree tree in output.SyntaxTrees.ToList())
        {
            string text = tree.GetText().ToString();
            if (!text.Contains("#nullable enable annotations", StringComparison.Ordinal)) continue;
            output = output.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText(text.Replace("#nullable enable annotations", "#nullable enable"),
                (CSharpParseOptions)tree.Options, tree.FilePath));
        }
        return output;
    }

    public static GeneratorRun Run(params string[] sources) => Run(Compile(sources));

    /// <summary>Every DiagnosticAnalyzer the generator assembly ships (none today: the generators report their own diagnostics).</summary>
    public static ImmutableArray<DiagnosticAnalyzer> ShippedAnalyzers { get; } = typeof(NormalizeGenerator).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
        .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
        .ToImmutableArray();

    /// <summary>What <see cref="ShippedAnalyzers"/> report on <paramref name="compilation"/>, failing on any analyzer exception.</summary>
    public static async Task<ImmutableArray<Diagnostic>> AnalyzerDiagnosticsAsync(Compilation compilation)
    {
        if (ShippedAnalyzers.IsEmpty) return ImmutableArray<Diagnostic>.Empty;
        var exceptions = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (exception, _, _) => { lock (exceptions) exceptions.Add(exception); },
            concurrentAnalysis: true, logAnalyzerExecutionTime: false);
        var diagnostics = await compilation.WithAnalyzers(ShippedAnalyzers, options).GetAnalyzerDiagnosticsAsync();
        Assert.Empty(exceptions);
        Assert.DoesNotContain(diagnostics, d => d.Id == "AD0001");
        return diagnostics;
    }

    /// <summary>
    /// A build of <paramref name="sources"/> with every generator and every shipped analyzer, for sources whose diagnostics'
    /// places a test does not know (the examples of docs/diagnostics.md): the NK diagnostics (suppressed ones left out) and
    /// the compiler errors, generated code included.
    /// </summary>
    public static async Task<(ImmutableArray<Diagnostic> Nk, ImmutableArray<Diagnostic> Errors)> BuildAsync(params string[] sources)
    {
        GeneratorRun run = Run(Compile(sources), CreateDriverForAll());
        var nk = run.GeneratorDiagnostics.Concat(await AnalyzerDiagnosticsAsync(run.Output))
            .Where(d => d.Id.StartsWith("NK", StringComparison.Ordinal) && !d.IsSuppressed);
        var errors = run.Output.GetDiagnostics().Concat(run.GeneratorDiagnostics)
            .Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("NK", StringComparison.Ordinal));
        return (nk.ToImmutableArray(), errors.ToImmutableArray());
    }

    /// <summary>Fails with the diagnostics and the numbered text of every file they are in.</summary>
    public static void AssertNoDiagnostics(Compilation compilation, IEnumerable<Diagnostic> diagnostics, string what)
    {
        var list = diagnostics.ToList();
        if (list.Count == 0) return;
        var message = new StringBuilder();
        message.Append(what).Append(": ").Append(list.Count.ToString(CultureInfo.InvariantCulture)).AppendLine(" diagnostic(s)");
        foreach (Diagnostic d in list.Take(50))
            message.AppendLine(d.ToString());
        foreach (SyntaxTree tree in list.Select(d => d.Location.SourceTree).OfType<SyntaxTree>().Distinct().Take(3))
        {
            message.AppendLine().Append("==== ").AppendLine(tree.FilePath);
            message.Append(Numbered(tree.GetText().ToString()));
        }
        if (list.All(d => d.Location.SourceTree == null))
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
                message.AppendLine().Append("==== ").AppendLine(tree.FilePath).Append(Numbered(tree.GetText().ToString()));
        Assert.Fail(message.ToString());
    }

    /// <summary>The text with 1-based line numbers, as the compiler's (line,column) positions count.</summary>
    public static string Numbered(string source)
    {
        var text = new StringBuilder();
        string[] lines = source.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            text.Append((i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(5)).Append("  ").AppendLine(lines[i].TrimEnd('\r'));
        return text.ToString();
    }
}
