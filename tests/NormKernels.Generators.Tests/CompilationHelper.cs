using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace NormKernels.Generators.Tests;

/// <summary>What a build with both generators (and any shipped analyzer) says: NK diagnostics, compiler errors, generated files.</summary>
internal sealed record FullRun(ImmutableArray<Diagnostic> Nk, ImmutableArray<Diagnostic> Errors, ImmutableArray<SyntaxTree> Generated)
{
    /// <summary>The compiler's warnings (not NK, not suppressed), generated code included.</summary>
    public ImmutableArray<Diagnostic> Warnings { get; init; } = ImmutableArray<Diagnostic>.Empty;
}

/// <summary>An expected diagnostic: its id and the span of source it must cover.</summary>
internal readonly record struct ExpectedDiagnostic(string Id, TextSpan Span);

/// <summary>
/// Compiles test sources against this process's runtime assemblies and NormKernels.dll, and runs the generators
/// on them. Sources may mark expected diagnostics as <c>{|NK0007:"N,Q"|}</c>: the id, then the exact text
/// the diagnostic must cover.
/// </summary>
internal static class CompilationHelper
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    /// <summary>The framework assemblies of this process plus NormKernels.dll.</summary>
    public static ImmutableArray<MetadataReference> MetadataReferences => References.Value;

    /// <summary>The C# the compiler the generator pins (Microsoft.CodeAnalysis 4.8) understands.</summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.CSharp12);

    public static CSharpCompilation Create(params string[] sources) =>
        CSharpCompilation.Create(
            "NormKernelsAnalyzerTest",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: "Test" + i + ".cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>Compiler errors of <paramref name="compilation"/> (without analyzers).</summary>
    public static ImmutableArray<Diagnostic> CompilerErrors(Compilation compilation) =>
        compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();

    /// <summary>
    /// Runs <paramref name="generator"/> on <paramref name="compilation"/> and returns the NK diagnostics it reports (suppressed
    /// ones left out), in source order, failing on any generator exception (CS8784/CS8785). The NormKernels generators report
    /// every usage mistake themselves: this is what a build shows with analyzers off.
    /// </summary>
    public static Task<ImmutableArray<Diagnostic>> DiagnoseAsync(Compilation compilation, IIncrementalGenerator generator)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { generator.AsSourceGenerator() }, parseOptions: ParseOptions);
        driver.RunGeneratorsAndUpdateCompilation(compilation, out _, out ImmutableArray<Diagnostic> diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.Id is "CS8784" or "CS8785");
        return Task.FromResult(diagnostics
            .Where(d => d.Id.StartsWith("NK", StringComparison.Ordinal) && !d.IsSuppressed)
            .OrderBy(d => d.Location.SourceSpan.Start)
            .ThenBy(d => d.Id, StringComparer.Ordinal)
            .ToImmutableArray());
    }

    /// <summary>Every DiagnosticAnalyzer the generator assembly ships (none today: the generators report their own diagnostics).</summary>
    public static ImmutableArray<DiagnosticAnalyzer> ShippedAnalyzers { get; } = typeof(NormalizeGenerator).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
        .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
        .ToImmutableArray();

    /// <summary>
    /// Both generators and every shipped analyzer on <paramref name="sources"/>, as a build runs them: the NK diagnostics
    /// (generators and analyzers, each reported once), the compiler errors of the result (generated code included), and the
    /// generated files. With <paramref name="analyzers"/> false, as <c>dotnet build -p:RunAnalyzers=false</c> runs them.
    /// </summary>
    public static Task<FullRun> RunAllAsync(params string[] sources) => RunAllAsync(true, sources);

    public static async Task<FullRun> RunAllAsync(bool analyzers, params string[] sources)
    {
        CSharpCompilation input = Create(sources);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions);
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        IEnumerable<Diagnostic> reported = generatorDiagnostics.Where(d => !d.IsSuppressed);
        if (analyzers && !ShippedAnalyzers.IsEmpty)
        {
            var exceptions = new List<Exception>();
            var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
                onAnalyzerException: (exception, _, _) => { lock (exceptions) exceptions.Add(exception); },
                concurrentAnalysis: true, logAnalyzerExecutionTime: false);
            reported = reported.Concat(await output.WithAnalyzers(ShippedAnalyzers, options).GetAnalyzerDiagnosticsAsync());
            Assert.Empty(exceptions);
        }
        return new FullRun(
            reported.Where(d => d.Id.StartsWith("NK", StringComparison.Ordinal)).ToImmutableArray(),
            output.GetDiagnostics().Concat(generatorDiagnostics).Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("NK", StringComparison.Ordinal)).ToImmutableArray(),
            driver.GetRunResult().GeneratedTrees)
        {
            Warnings = output.GetDiagnostics().Concat(generatorDiagnostics)
                .Where(d => d.Severity == DiagnosticSeverity.Warning && !d.IsSuppressed && !d.Id.StartsWith("NK", StringComparison.Ordinal)).ToImmutableArray(),
        };
    }

    /// <summary>Removes <c>{|ID:text|}</c> markers and returns the plain source with the expected diagnostics.</summary>
    public static (string Source, ImmutableArray<ExpectedDiagnostic> Expected) ParseMarkup(string markup)
    {
        var source = new StringBuilder();
        var expected = ImmutableArray.CreateBuilder<ExpectedDiagnostic>();
        int position = 0;
        while (true)
        {
            int open = markup.IndexOf("{|", position, StringComparison.Ordinal);
            if (open < 0) break;
            int colon = markup.IndexOf(':', open);
            int close = markup.IndexOf("|}", colon, StringComparison.Ordinal);
            if (colon < 0 || close < 0) throw new ArgumentException("Unterminated {|ID:text|} marker at " + open + ".", nameof(markup));

            source.Append(markup, position, open - position);
            string id = markup.Substring(open + 2, colon - open - 2);
            string text = markup.Substring(colon + 1, close - colon - 1);
            expected.Add(new ExpectedDiagnostic(id, new TextSpan(source.Length, text.Length)));
            source.Append(text);
            position = close + 2;
        }
        source.Append(markup, position, markup.Length - position);
        return (source.ToString(), expected.ToImmutable());
    }

    /// <summary>"NK0007 (3,29)-(3,34) "N,Q"": id, 1-based line and column span, covered text.</summary>
    public static string Describe(string id, SyntaxTree tree, TextSpan span)
    {
        FileLinePositionSpan lines = tree.GetLineSpan(span);
        return string.Format(
            System.Globalization.CultureInfo.InvariantCulture,
            "{0} ({1},{2})-({3},{4}) {5}",
            id,
            lines.StartLinePosition.Line + 1, lines.StartLinePosition.Character + 1,
            lines.EndLinePosition.Line + 1, lines.EndLinePosition.Character + 1,
            tree.GetText().ToString(span));
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        // The framework half of the trusted platform assemblies (not xunit or the test's own dependencies),
        // plus the runtime library that defines [Normalize].
        string frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string trusted = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var paths = trusted
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => string.Equals(Path.GetDirectoryName(path), frameworkDirectory, StringComparison.Ordinal))
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .ToList();
        paths.Add(typeof(NormalizeAttribute).Assembly.Location);
        // Generated layers also have TensorSpan overloads: the runtime library's System.Numerics.Tensors dependency.
        paths.Add(typeof(System.Numerics.Tensors.TensorSpan<float>).Assembly.Location);
        return paths
            .Distinct(StringComparer.Ordinal)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray();
    }
}
