using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Seeded random declarations through both generators (and any shipped analyzer). Every declaration must end one of three ways:
/// refused with an NK error at it (and, when a stub is generated, a stub that compiles), refused by the compiler on its own (a declaration that is not valid C# even without the
/// generator, such as [Normalize] on a struct), or generated into code that compiles. The test counts the three ways it
/// can go wrong: a generator exception (CS8784/CS8785/NK0900), a declaration accepted without an NK error whose generated
/// code or declaration then has compiler errors, and a declaration that produces neither code nor a diagnostic.
/// <para>The default run checks <see cref="DefaultCount"/> declarations with a fixed seed. Set NORMKERNELS_FUZZ_COUNT (for
/// example 50000) and NORMKERNELS_FUZZ_SEED for a longer or different run; a failure prints the seed and each failing
/// declaration shrunk to the fewest arguments that still fail. NORMKERNELS_FUZZ_REPORT=path writes the counts of each
/// ending to that file.</para>
/// </summary>
public sealed class GeneratorFuzzTests
{
    private const int DefaultCount = 2000;
    private const int DefaultSeed = 20261130;
    private const int BatchSize = 100;

    [Fact]
    public async Task RandomDeclarations_AreGeneratedOrReported_NeverBrokenOrIgnored()
    {
        int count = EnvironmentInt("NORMKERNELS_FUZZ_COUNT", DefaultCount);
        int seed = EnvironmentInt("NORMKERNELS_FUZZ_SEED", DefaultSeed);
        var random = new Random(seed);
        var declarations = Enumerable.Range(0, count).Select(i => FuzzDeclaration.Random(random, i)).ToList();

        var outcomes = new List<Outcome>();
        for (int start = 0; start < declarations.Count; start += BatchSize)
            outcomes.AddRange(await CheckAsync(declarations.Skip(start).Take(BatchSize).ToList()));

        var failures = outcomes.Where(o => o.Failure != null).ToList();
        if (Environment.GetEnvironmentVariable("NORMKERNELS_FUZZ_REPORT") is { Length: > 0 } reportPath)
        {
            File.WriteAllText(reportPath, string.Create(CultureInfo.InvariantCulture,
                $"seed {seed}, {count} declarations: {outcomes.Count(o => o.Kind == OutcomeKind.Generated)} generated and compiled, " +
                $"{outcomes.Count(o => o.Kind == OutcomeKind.ReportedNk)} refused with an NK error, " +
                $"{outcomes.Count(o => o.Kind == OutcomeKind.RefusedByCompiler)} refused by the compiler on their own, " +
                $"{failures.Count} failures; {CompiledKeys.Count} distinct generated layers compiled\n"));
        }
        if (failures.Count == 0)
        {
            // The run must exercise all three good endings, or it proves little.
            Assert.Contains(outcomes, o => o.Kind == OutcomeKind.Generated);
            Assert.Contains(outcomes, o => o.Kind == OutcomeKind.ReportedNk);
            return;
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"seed {seed}, {count} declarations: ")
            .Append(CultureInfo.InvariantCulture, $"{failures.Count(f => f.Failure == FailureKind.GeneratorException)} generator exceptions, ")
            .Append(CultureInfo.InvariantCulture, $"{failures.Count(f => f.Failure == FailureKind.AcceptedButBroken)} accepted but failing to compile, ")
            .Append(CultureInfo.InvariantCulture, $"{failures.Count(f => f.Failure == FailureKind.SilentlyIgnored)} silently ignored, ")
            .Append(CultureInfo.InvariantCulture, $"{failures.Count(f => f.Failure == FailureKind.StubBroken)} reported but with a stub that does not compile.")
            .AppendLine();
        // A few of each kind, each with a different first error.
        var shown = failures.GroupBy(f => f.Failure).SelectMany(kind => kind.GroupBy(f => ErrorKind(f.FirstError)).Select(g => g.First()).Take(6));
        foreach (Outcome failure in shown)
        {
            FuzzDeclaration minimal = await ShrinkAsync(failure.Declaration, failure.Failure!.Value);
            Outcome again = (await CheckAsync(new List<FuzzDeclaration> { minimal })).Single();
            message.AppendLine().Append(failure.Failure).Append(" (#").Append(failure.Declaration.Index).Append(", shrunk): ")
                .AppendLine(again.FirstError).Append(minimal.Source);
        }
        Assert.Fail(message.ToString());
    }

    /// <summary>"error CS0542" and the like: the id of the first error, without where it is.</summary>
    private static string ErrorKind(string error)
    {
        int at = error.IndexOf(": error ", StringComparison.Ordinal);
        return at < 0 ? error : error.Substring(at, Math.Min(20, error.Length - at));
    }

    /// <summary>Fewer arguments, one at a time, while the declaration still fails the same way.</summary>
    private static async Task<FuzzDeclaration> ShrinkAsync(FuzzDeclaration declaration, FailureKind failure)
    {
        bool shrunk = true;
        while (shrunk)
        {
            shrunk = false;
            foreach (FuzzDeclaration smaller in declaration.Smaller())
            {
                Outcome outcome = (await CheckAsync(new List<FuzzDeclaration> { smaller })).Single();
                if (outcome.Failure != failure) continue;
                declaration = smaller;
                shrunk = true;
                break;
            }
        }
        return declaration;
    }

    private enum OutcomeKind { Generated, ReportedNk, RefusedByCompiler, Broken }

    private enum FailureKind { GeneratorException, AcceptedButBroken, SilentlyIgnored, StubBroken }

    private sealed record Outcome(FuzzDeclaration Declaration, OutcomeKind Kind, FailureKind? Failure, string FirstError);

    /// <summary>One compilation for the batch: each declaration in its own file and namespace, so diagnostics map back to it.</summary>
    private static async Task<List<Outcome>> CheckAsync(List<FuzzDeclaration> batch)
    {
        var trees = batch.Select(d => CSharpSyntaxTree.ParseText(d.Source, TestReferences.ParseOptions, path: d.FileName)).ToList();
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable);
        CSharpCompilation input = CSharpCompilation.Create("Fuzz", trees, TestReferences.MetadataReferences, options);

        // What the compiler says about each declaration on its own (no generator).
        var ownErrors = input.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree != null)
            .ToLookup(d => d.Location.SourceTree!.FilePath);

        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator() },
            parseOptions: TestReferences.ParseOptions);
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out _, out ImmutableArray<Diagnostic> generatorDiagnostics);
        var generatedTrees = driver.GetRunResult().GeneratedTrees;

        // The generators report their own diagnostics; any analyzer the generator assembly ships reads the declarations only.
        ImmutableArray<Diagnostic> analyzed = await GeneratorHelper.AnalyzerDiagnosticsAsync(input);

        // Compiling generated code is the slow part: a declaration whose generated files and declaration read the same as one
        // already compiled, up to its own names and finite floating-point literals, compiles the same way and is not compiled again.
        var toCompile = new List<FuzzDeclaration>();
        var keys = new Dictionary<FuzzDeclaration, string>();
        foreach (FuzzDeclaration declaration in batch)
        {
            var generated = generatedTrees.Where(t => t.FilePath.Contains(declaration.Marker, StringComparison.Ordinal)).ToList();
            if (generated.Count == 0) continue;
            string key = declaration.CompileKey(generated.Select(t => t.GetText().ToString()));
            keys[declaration] = key;
            if (!CompiledKeys.ContainsKey(key) && !toCompile.Any(d => keys[d] == key)) toCompile.Add(declaration);
        }
        var compiledErrors = new List<Diagnostic>();
        if (toCompile.Count > 0)
        {
            var compileTrees = toCompile.Select(d => trees[batch.IndexOf(d)])
                .Concat(generatedTrees.Where(t => toCompile.Any(d => t.FilePath.Contains(d.Marker, StringComparison.Ordinal))));
            var compiled = CSharpCompilation.Create("FuzzCompiled", compileTrees, TestReferences.MetadataReferences, options);
            compiledErrors.AddRange(compiled.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
            foreach (FuzzDeclaration declaration in toCompile)
            {
                Diagnostic? first = compiledErrors.FirstOrDefault(d => d.Location.SourceTree is { } tree &&
                    (tree.FilePath == declaration.FileName || tree.FilePath.Contains(declaration.Marker, StringComparison.Ordinal)));
                CompiledKeys.TryAdd(keys[declaration], first?.ToString() ?? "");
            }
        }
        var all = analyzed;

        var outcomes = new List<Outcome>();
        var crashes = generatorDiagnostics.Concat(all).Where(d => d.Id is "CS8784" or "CS8785" or "NK0900").ToList();
        if (crashes.Any(c => !batch.Any(d => c.ToString().Contains(d.Marker, StringComparison.Ordinal) || c.Location.SourceTree?.FilePath == d.FileName)))
            outcomes.Add(new Outcome(batch[0], OutcomeKind.Broken, FailureKind.GeneratorException, string.Join("; ", crashes)));
        foreach (FuzzDeclaration declaration in batch)
        {
            bool Mine(Diagnostic d) =>
                d.Location.SourceTree is { } tree
                    ? tree.FilePath == declaration.FileName || tree.FilePath.Contains(declaration.Marker, StringComparison.Ordinal)
                    : d.GetMessage(CultureInfo.InvariantCulture).Contains(declaration.Marker, StringComparison.Ordinal);

            var mine = all.Concat(generatorDiagnostics).Where(Mine).ToList();
            var generated = generatedTrees.Where(t => t.FilePath.Contains(declaration.Marker, StringComparison.Ordinal)).ToList();
            Diagnostic? crash = mine.FirstOrDefault(d => d.Id is "CS8784" or "CS8785" or "NK0900");
            bool nkError = mine.Any(d => d.Id.StartsWith("NK", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error);
            bool compilerRefused = ownErrors[declaration.FileName].Any();
            string error = keys.TryGetValue(declaration, out string? key) ? CompiledKeys[key] : "";

            if (crash != null)
                outcomes.Add(new Outcome(declaration, OutcomeKind.Broken, FailureKind.GeneratorException, crash.ToString()));
            else if (nkError && !compilerRefused && error.Length > 0)
                outcomes.Add(new Outcome(declaration, OutcomeKind.Broken, FailureKind.StubBroken, error));
            else if (nkError)
                outcomes.Add(new Outcome(declaration, OutcomeKind.ReportedNk, null, ""));
            else if (compilerRefused)
                outcomes.Add(new Outcome(declaration, OutcomeKind.RefusedByCompiler, null, ""));
            else if (generated.Count == 0)
                outcomes.Add(new Outcome(declaration, OutcomeKind.Broken, FailureKind.SilentlyIgnored, "no generated source and no diagnostic"));
            else if (error.Length > 0)
                outcomes.Add(new Outcome(declaration, OutcomeKind.Broken, FailureKind.AcceptedButBroken, error));
            else
                outcomes.Add(new Outcome(declaration, OutcomeKind.Generated, null, ""));
        }
        return outcomes;
    }

    /// <summary>Compile key to the first compiler error of that declaration and its generated files ("" when none).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> CompiledKeys = new(StringComparer.Ordinal);

    private static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value : fallback;
}

/// <summary>
/// One random declaration: which attribute(s) with which arguments, on which class, nested how. Arguments are kept as
/// source text (null = not written) so a failing declaration can be shrunk argument by argument.
/// </summary>
internal sealed record FuzzDeclaration(
    int Index,
    bool Normalize,
    bool Lrn,
    ImmutableArray<string?> NormalizeArguments,
    ImmutableArray<string?> LrnArguments,
    string Modifiers,
    string Name,
    string? TypeParameters,
    string? PrimaryConstructor,
    ImmutableArray<string> Containers,
    string? Sibling,
    string? Member,
    bool SecondPart,
    bool SecondPartAttributed)
{
    private static readonly string[] NormalizeKeys = { "Layout", "Axes", "Groups", "Kind", "Affine", "Epsilon", "Momentum", "ElementType", "TrackRunningStats" };
    private static readonly string[] LrnKeys = { "Layout", "Size", "Alpha", "Beta", "K", "ElementType" };

    /// <summary>Names the generated code declares or leans on, keywords that bind to a type of that name, and plain ones.</summary>
    private static readonly string[] Names =
    {
        "Layer", "Norm", "BatchNorm", "Lrn", "L", "Model",
        "Weight", "Bias", "WeightGrad", "BiasGrad", "RunningMean", "RunningVar", "Momentum", "Epsilon", "Training", "LastPath",
        "BatchMean", "BatchVariance", "BatchMeanSquare", "Forward", "Backward", "ForwardTraining", "ForwardInference",
        "ForwardKernel", "BackwardKernel", "StatisticCount", "Size", "Alpha", "Beta", "K", "Layout", "Axes", "Groups", "Kind", "Affine",
        "CheckShape", "CheckKernel", "CheckDims", "CountPerStatistic", "ParameterCount", "ChoosePath", "RunTraining", "RunInference",
        "TrainingCore", "InferenceCore", "TrainingBlock", "GroupCount", "Before", "After", "TileWidth", "ChunkWidth", "ScaleD", "KD",
        "GradientScaleD", "RecomputeRatio", "TOps", "T", "TileFor", "PiecesFor", "RangesFor", "StatisticsChunk", "ApplyChunk",
        "ForwardTrainingOnPath", "ShardStatistics", "_epsilon", "_e_c", "ReduceRun_V512", "Apply_Scalar", "Isa_V128", "count", "statistics",
        "Parameters", "StateDict", "LoadStateDict", "NumBatchesTracked", "ResetRunningStats", "ToString",
        "nint", "nuint", "var", "dynamic", "nameof", "value", "record", "async", "await", "global", "scoped", "unmanaged", "notnull",
        "@class", "@int", "@float", "System", "NormKernels", "Runtime", "Isa", "Math", "MathF", "Span", "Vector128", "Unsafe",
    };

    private static readonly string[] Layouts =
    {
        "\"NCHW\"", "\"NHWC\"", "\"NC\"", "\"NTC\"", "\"NCL\"", "\"NCDHW\"", "\"NDHWC\"", "\"N\"", "\"C\"", "\"NCX\"", "\"NYC\"",
        "\"NSC\"", "\"NMC\"", "\"NAC\"", "\"NCA\"", "\"NKC\"", "\"NIC\"", "\"NXYZC\"", "\"CN\"", "\"HWC\"", "\"QC\"", "\"NQ\"",
        "\"\"", "null", "\"N,C\"", "\"nchw\"", "\"NCHC\"", "\"NC1\"", "\"NÇ\"",
    };

    private static readonly string[] Doubles =
    {
        "1e-5", "1e-3", "0.1", "0.5", "1", "1.0", "0", "-1", "-0.0", "1e-50", "1e-45", "1e-320", "1e39", "3.4e38", "3.5e38", "1e300",
        "double.MaxValue", "double.Epsilon", "double.NaN", "double.PositiveInfinity", "double.NegativeInfinity", "float.Epsilon",
        "float.MaxValue", "2", "100", "0.75", "1e-4",
    };

    public string Marker => "Fz" + Index.ToString("D6", CultureInfo.InvariantCulture);

    public string FileName => Marker + ".cs";

    /// <summary>
    /// The generated files and the declaration with this declaration's own names (its namespace, its "LayerN" name) and
    /// finite floating-point literals written alike: two declarations with the same key compile alike. The attribute
    /// lines are left out (the generated files carry what they say).
    /// </summary>
    public string CompileKey(IEnumerable<string> generated)
    {
        string own = "Layer" + Index.ToString(CultureInfo.InvariantCulture);
        string Normalized(string text) => FloatLiteral.Replace(
            System.Text.RegularExpressions.Regex.Replace(text.Replace(Marker, "FzX", StringComparison.Ordinal), "\\b" + own + "\\b", "LayerX"), "0.0d");
        var declarationLines = Source.Split('\n').Where(line => !line.TrimStart().StartsWith('['));
        return Normalized(string.Join("\n", declarationLines)) + "\n----\n" + string.Join("\n----\n", generated.Select(Normalized));
    }

    private static readonly System.Text.RegularExpressions.Regex FloatLiteral = new(
        "(?<![A-Za-z0-9_.])[0-9]+\\.[0-9]+(E[+-]?[0-9]+)?[fd]\\b|(?<![A-Za-z0-9_.])[0-9]+(\\.[0-9]+)?E[+-]?[0-9]+[fd]\\b",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public static FuzzDeclaration Random(Random random, int index)
    {
        int which = random.Next(20);
        bool normalize = which < 15 || which == 19, lrn = which >= 15;
        string? Pick(string[] values) => values[random.Next(values.Length)];
        string? Maybe(double p, Func<string?> value) => random.NextDouble() < p ? value() : null;

        string? Axes(string? layout)
        {
            if (random.Next(12) == 0) return Pick(new[] { "\"\"", "null", "\"N,HW\"", "\"n\"", "\"N,,C\"", "\"N;C\"", "\"Q\"", "\" \"" });
            string letters = layout is { Length: > 2 } && layout[0] == '"' ? layout.Trim('"') : "NCHW";
            var chosen = letters.Where(_ => random.Next(2) == 0).Distinct().ToList();
            if (chosen.Count == 0 && letters.Length > 0) chosen.Add(letters[random.Next(letters.Length)]);
            if (random.Next(15) == 0 && chosen.Count > 0) chosen.Add(chosen[0]);
            string separator = random.Next(5) == 0 ? " , " : ",";
            return "\"" + string.Join(separator, chosen) + "\"";
        }

        string? layout = Maybe(0.85, () => Pick(Layouts));
        var normalizeArguments = ImmutableArray.Create(
            layout,
            Maybe(0.95, () => Axes(layout)),
            Maybe(0.25, () => Pick(new[] { "1", "2", "4", "32", "0", "-1", "3" })),
            Maybe(0.3, () => Pick(new[] { "NormKind.Standardize", "NormKind.RootMeanSquare", "(NormKind)2" })),
            Maybe(0.4, () => Pick(new[] { "AffineMode.PerChannel", "AffineMode.Elementwise", "AffineMode.None", "(AffineMode)3" })),
            Maybe(0.25, () => Pick(Doubles)),
            Maybe(0.2, () => Pick(Doubles)),
            Maybe(0.25, () => Pick(new[] { "typeof(float)", "typeof(double)", "typeof(double)", "typeof(System.Half)", "typeof(int)" })),
            Maybe(0.15, () => Pick(new[] { "false", "true", "false" })));
        var lrnArguments = ImmutableArray.Create(
            Maybe(0.6, () => Pick(Layouts)),
            Maybe(0.5, () => Pick(new[] { "1", "2", "3", "5", "9", "10", "0", "-3", "100", "int.MaxValue" })),
            Maybe(0.5, () => Pick(Doubles)),
            Maybe(0.5, () => Pick(Doubles)),
            Maybe(0.5, () => Pick(Doubles)),
            Maybe(0.25, () => Pick(new[] { "typeof(float)", "typeof(double)", "typeof(double)", "typeof(System.Half)" })));

        string modifiers = random.Next(10) switch
        {
            0 => "partial class",
            1 => "public partial class",
            2 => Pick(new[] { "static partial class", "abstract partial class", "sealed class", "partial record", "sealed partial record",
                              "partial struct", "file sealed partial class", "internal sealed partial class", "public sealed partial record class" })!,
            _ => "public sealed partial class",
        };
        var containers = ImmutableArray.CreateBuilder<string>();
        int depth = random.Next(10) switch { < 6 => 0, < 9 => 1, _ => 2 };
        for (int i = 0; i < depth; i++)
        {
            string name = random.Next(3) == 0 ? Pick(Names)! : "Outer" + i.ToString(CultureInfo.InvariantCulture);
            containers.Add(random.Next(8) switch
            {
                0 => "public partial class " + name + "<TOuter>",
                1 => "partial struct " + name,
                2 => "partial record " + name + (random.Next(2) == 0 ? "(int Value)" : ""),
                3 => "partial interface " + name + (random.Next(2) == 0 ? "<TOut>" : ""),
                4 => "public class " + name,
                5 => "static partial class " + name,
                6 => "partial class " + name + "<TKey, TValue> where TKey : notnull",
                _ => "public partial class " + name,
            });
        }
        return new FuzzDeclaration(
            index, normalize, lrn, normalizeArguments, lrnArguments, modifiers,
            random.Next(3) == 0 ? Pick(Names)! : "Layer" + index.ToString(CultureInfo.InvariantCulture),
            random.Next(25) == 0 ? "<TElement>" : null,
            random.Next(15) == 0 ? Pick(new[] { "(int x)", "()", "(int channels, float epsilon = 1e-5f)" }) : null,
            containers.ToImmutable(),
            random.Next(12) == 0 ? Pick(Names) : null,
            random.Next(15) == 0 ? Pick(new[] { "public int Weight;", "public void Forward() { }", "public Layer() { }", "private int CheckShape;", "public int x;" }) : null,
            random.Next(20) == 0,
            random.Next(40) == 0);
    }

    /// <summary>Copies with one thing fewer: an argument left out, a container, a modifier, a member.</summary>
    public IEnumerable<FuzzDeclaration> Smaller()
    {
        for (int i = 0; i < NormalizeArguments.Length; i++)
            if (NormalizeArguments[i] != null) yield return this with { NormalizeArguments = NormalizeArguments.SetItem(i, null) };
        for (int i = 0; i < LrnArguments.Length; i++)
            if (LrnArguments[i] != null) yield return this with { LrnArguments = LrnArguments.SetItem(i, null) };
        if (Normalize && Lrn)
        {
            yield return this with { Lrn = false };
            yield return this with { Normalize = false };
        }
        for (int i = 0; i < Containers.Length; i++) yield return this with { Containers = Containers.RemoveAt(i) };
        if (Sibling != null) yield return this with { Sibling = null };
        if (Member != null) yield return this with { Member = null };
        if (SecondPart) yield return this with { SecondPart = false };
        if (SecondPartAttributed) yield return this with { SecondPartAttributed = false };
        if (PrimaryConstructor != null) yield return this with { PrimaryConstructor = null };
        if (TypeParameters != null) yield return this with { TypeParameters = null };
        if (Modifiers != "partial class") yield return this with { Modifiers = "partial class" };
        if (!Name.StartsWith("Layer", StringComparison.Ordinal)) yield return this with { Name = "Layer" };
    }

    public string Source
    {
        get
        {
            var text = new StringBuilder();
            text.Append("using NormKernels;\n\nnamespace ").Append(Marker).Append("\n{\n");
            if (Sibling != null) text.Append("    public sealed class ").Append(Sibling).Append(" { }\n");
            foreach (string container in Containers) text.Append("    ").Append(container).Append("\n    {\n");
            if (Normalize) text.Append("    ").Append(Attribute("Normalize", NormalizeKeys, NormalizeArguments)).Append('\n');
            if (Lrn) text.Append("    ").Append(Attribute("LocalResponseNormalize", LrnKeys, LrnArguments)).Append('\n');
            text.Append("    ").Append(Modifiers).Append(' ').Append(Name).Append(TypeParameters).Append(PrimaryConstructor);
            text.Append(Member != null ? " { " + Member.Replace("Layer(", Name + "(", StringComparison.Ordinal) + " }\n" : ";\n");
            if (SecondPart) text.Append("    ").Append(Modifiers).Append(' ').Append(Name).Append(TypeParameters).Append(" { }\n");
            if (SecondPartAttributed)
            {
                // The attribute again on another part: CS0579 (AllowMultiple = false), and the generator must not trip over it.
                if (Normalize) text.Append("    ").Append(Attribute("Normalize", NormalizeKeys, NormalizeArguments)).Append('\n');
                if (Lrn) text.Append("    ").Append(Attribute("LocalResponseNormalize", LrnKeys, LrnArguments)).Append('\n');
                text.Append("    ").Append(Modifiers).Append(' ').Append(Name).Append(TypeParameters).Append(" { }\n");
            }
            foreach (string _ in Containers) text.Append("    }\n");
            text.Append("}\n");
            return text.ToString();
        }
    }

    private static string Attribute(string name, string[] keys, ImmutableArray<string?> values)
    {
        var arguments = keys.Zip(values, (k, v) => v == null ? null : k + " = " + v).Where(a => a != null);
        return "[" + name + "(" + string.Join(", ", arguments) + ")]";
    }
}
