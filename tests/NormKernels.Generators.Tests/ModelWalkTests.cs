using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The models the pipeline caches (the values of the Parse and Plan steps) hold no Roslyn object: no symbol, compilation,
/// syntax, semantic model or location, which would keep compilations alive and defeat caching. Walked by reflection over
/// every field, declared and actual type, recursively. A second walk, over types, checks that the model types of every
/// tracked step of every generator compare by value all the way down (what Roslyn's caching compares).
/// </summary>
public sealed class ModelWalkTests
{
    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SemanticModel), typeof(Location),
        typeof(SyntaxToken), typeof(SyntaxReference), typeof(AttributeData), typeof(TypedConstant),
    };

    /// <summary>
    /// Roslyn's plain values: structs and enums of numbers that compare by value and keep nothing alive (what an equatable
    /// location or diagnostic model, as the LoggerMessage and Regex generators keep, is made of).
    /// </summary>
    private static readonly Type[] PlainRoslynValues =
    {
        typeof(Microsoft.CodeAnalysis.Text.TextSpan), typeof(Microsoft.CodeAnalysis.Text.LinePositionSpan),
        typeof(Microsoft.CodeAnalysis.Text.LinePosition), typeof(DiagnosticSeverity),
    };

    /// <summary>
    /// Why <paramref name="type"/> may not appear in a model, or null: a forbidden type, or any type of Roslyn's assemblies
    /// except <see cref="PlainRoslynValues"/>.
    /// </summary>
    private static string? Why(Type type)
    {
        foreach (Type forbidden in Forbidden)
            if (forbidden.IsAssignableFrom(type)) return forbidden.Name;
        if (PlainRoslynValues.Contains(type)) return null;
        Assembly assembly = type.Assembly;
        if (assembly == typeof(Compilation).Assembly || assembly == typeof(CSharpCompilation).Assembly) return "a Roslyn type";
        if (type.IsArray) return Why(type.GetElementType()!);
        if (type.IsGenericType)
            foreach (Type argument in type.GetGenericArguments())
                if (Why(argument) is string why) return why;
        return null;
    }

    /// <summary>What a walk found: forbidden members with their paths, and how many values it visited.</summary>
    private sealed class Walk
    {
        private readonly HashSet<object> _seen = new(ReferenceEqualityComparer.Instance);

        public List<string> Problems { get; } = new();

        public List<string> Strings { get; } = new();

        public int Visited { get; private set; }

        public void Visit(object? value, string path)
        {
            if (value is null) return;
            Visited++;
            Type type = value.GetType();
            if (Why(type) is string why)
            {
                Problems.Add(path + " is " + type.FullName + " (" + why + ")");
                return;
            }
            if (value is string text) { Strings.Add(text); return; }
            if (type.IsPrimitive || type.IsEnum || value is decimal) return;
            if (!type.IsValueType && !_seen.Add(value)) return;
            if (value is Array array)
            {
                for (int i = 0; i < array.Length; i++) Visit(array.GetValue(i), path + "[" + i + "]");
                return;
            }
            for (Type? t = type; t != null && t != typeof(object); t = t.BaseType)
            {
                foreach (PropertyInfo property in t.GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    if (Why(property.PropertyType) is string declared)
                        Problems.Add(path + "." + property.Name + " is declared " + property.PropertyType.FullName + " (" + declared + ")");
                foreach (FieldInfo field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (Why(field.FieldType) is string declared)
                        Problems.Add(path + "." + field.Name + " is declared " + field.FieldType.FullName + " (" + declared + ")");
                    else
                        Visit(field.GetValue(value), path + "." + field.Name);
                }
            }
        }
    }

    [Fact]
    public void ParseAndPlanModels_HoldNoRoslynObjects()
    {
        GeneratorRunResult result = GeneratorHelper.CreateDriver(trackSteps: true)
            .RunGenerators(GeneratorHelper.Compile(LayerCase.Matrix.Select(c => c.Source).ToArray()))
            .GetRunResult().Results.Single();

        foreach (string step in new[] { TrackingNames.Parse, TrackingNames.Plan })
        {
            var outputs = IncrementalTests.Outputs(result, step);
            Assert.Equal(LayerCase.Matrix.Length, outputs.Count);
            var walk = new Walk();
            foreach (var (value, _) in outputs) walk.Visit(value, step + "<" + value.GetType().Name + ">");

            Assert.True(walk.Problems.Count == 0, string.Join("\n", walk.Problems));
            // The walk reached the leaves: every layout and every type name of the matrix is among the strings it read.
            Assert.All(LayerCase.Matrix, c => Assert.Contains(c.Layout, walk.Strings));
            Assert.All(LayerCase.Matrix, c => Assert.Contains(c.Name, walk.Strings));
            Assert.Contains("Outer", walk.Strings);
        }
    }

    /// <summary>The parse models of the generators without a plan step, for two layers each (the WeightNormalize one with an
    /// error, NK0033: its stub's spec and its diagnostic are walked too), reach their leaves and hold no Roslyn object.</summary>
    [Theory]
    [InlineData("LocalResponseNormalize", "Layout = \"NHWC\", Size = 3", "Layout = \"NCL\", ElementType = typeof(double)", "NHWC NCL")]
    [InlineData("WeightNormalize", "Layout = \"HWIO\", Axes = \"H,W,I\"", "Layout = \"OI\", Axes = \"O,I\", ElementType = typeof(double)", "HWIO HWI NK0033")]
    public void UnplannedParseModels_HoldNoRoslynObjects(string attribute, string inner, string top, string leaves)
    {
        var (generator, step) = attribute == "WeightNormalize"
            ? ((IIncrementalGenerator)new WeightNormalizeGenerator(), TrackingNames.WeightNormParse)
            : (new LocalResponseNormalizeGenerator(), TrackingNames.LrnParse);
        Walk walk = WalkParseModels(generator, step, TwoLayers("[" + attribute + "(" + inner + ")]", "Inner", "[" + attribute + "(" + top + ")]", "Top"));
        foreach (string leaf in leaves.Split(' ').Concat(new[] { "Inner", "Outer", "double" }))
            Assert.Contains(leaf, walk.Strings);
    }

    /// <summary>Two layers: one nested in a static partial class Outer, one at the top of namespace Layers.</summary>
    private static string TwoLayers(string innerAttribute, string innerName, string topAttribute, string topName) => $$"""
        using NormKernels;

        namespace Layers;

        /// <summary>Outer.</summary>
        public static partial class Outer
        {
            /// <summary>A layer.</summary>
            {{innerAttribute}}
            public sealed partial class {{innerName}};
        }

        /// <summary>Another.</summary>
        {{topAttribute}}
        public sealed partial class {{topName}};
        """;

    /// <summary>Runs <paramref name="generator"/> alone on <paramref name="source"/> (two layers) and walks the models of its parse step
    /// <paramref name="step"/>: none may hold a Roslyn object.</summary>
    private static Walk WalkParseModels(IIncrementalGenerator generator, string step, string source)
    {
        GeneratorRunResult result = CSharpGeneratorDriver.Create(
                new[] { generator.AsSourceGenerator() },
                parseOptions: GeneratorHelper.ParseOptions,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true))
            .RunGenerators(GeneratorHelper.Compile(source))
            .GetRunResult().Results.Single();
        var outputs = IncrementalTests.Outputs(result, step);
        Assert.Equal(2, outputs.Count);
        var walk = new Walk();
        foreach (var (value, _) in outputs) walk.Visit(value, step + "<" + value.GetType().Name + ">");
        Assert.True(walk.Problems.Count == 0, string.Join("\n", walk.Problems));
        return walk;
    }

    /// <summary>The walk itself finds a Location hidden in an array inside a tuple, and a null field declared as a symbol.</summary>
    [Fact]
    public void Walk_FindsRoslynObjects_HiddenOrNull()
    {
        var walk = new Walk();
        walk.Visit(new LeakyModel("NCHW", new object[] { 1, Tuple.Create<string, object>("x", Location.None) }, null), "model");
        Assert.Equal(3, walk.Problems.Count);
        Assert.Contains(walk.Problems, p => p.StartsWith("model.Symbol is declared", StringComparison.Ordinal));
        Assert.Contains(walk.Problems, p => p.StartsWith("model.<Symbol>k__BackingField is declared", StringComparison.Ordinal));
        Assert.Contains(walk.Problems, p => p.StartsWith("model.<Items>k__BackingField[1].m_Item2 is", StringComparison.Ordinal) && p.EndsWith("(Location)", StringComparison.Ordinal));
    }

    private sealed record LeakyModel(string Layout, object[] Items, ISymbol? Symbol);

    /// <summary>
    /// Why values of <paramref name="type"/> might not compare by value, walked through the declared types of every field
    /// (null fields included, unlike the value walk above). Allowed: numbers, enums, strings; Nullable, ValueTuple and the
    /// generator's EquatableArray of allowed types; and sealed classes or structs of <paramref name="models"/> that
    /// implement IEquatable of themselves and declare Equals(object) and GetHashCode (records do), whose fields are allowed.
    /// Anything else (arrays, collections, object, interfaces, open classes, Roslyn types) compares by reference or
    /// unknowably, and would make a step's value differ from the last run's even when nothing changed.
    /// </summary>
    private static void CheckEquatable(Type type, string path, Assembly models, HashSet<Type> seen, List<string> problems)
    {
        if (Why(type) is string why) { problems.Add(path + " is " + type.FullName + " (" + why + ")"); return; }
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || PlainRoslynValues.Contains(type)) return;
        if (Nullable.GetUnderlyingType(type) is Type underlying) { CheckEquatable(underlying, path, models, seen, problems); return; }
        if (type.IsGenericType && (type.Namespace == "System" && type.Name.StartsWith("ValueTuple`", StringComparison.Ordinal)
            || type.Assembly == typeof(NormalizeGenerator).Assembly && type.Name == "EquatableArray`1"))
        {
            foreach (Type argument in type.GetGenericArguments()) CheckEquatable(argument, path + "<" + argument.Name + ">", models, seen, problems);
            return;
        }
        if (type.IsArray) { problems.Add(path + " is an array, " + type.Name + ", compared by reference (use EquatableArray<T>)"); return; }
        if (type.IsInterface || type.IsAbstract || type == typeof(object) || typeof(Delegate).IsAssignableFrom(type))
        {
            problems.Add(path + " is declared " + type.FullName + ": its equality depends on what it holds");
            return;
        }
        if (type.Assembly != models)
        {
            problems.Add(path + " is " + type.FullName + " from " + type.Assembly.GetName().Name + ", not known to compare by value");
            return;
        }
        if (!seen.Add(type)) return;
        if (!type.IsValueType && !type.IsSealed) problems.Add(path + ": " + type.Name + " is not sealed (a derived type can change its equality)");
        if (!typeof(IEquatable<>).MakeGenericType(type).IsAssignableFrom(type)) problems.Add(path + ": " + type.Name + " does not implement IEquatable<" + type.Name + ">");
        if (type.GetMethod(nameof(Equals), new[] { typeof(object) })?.DeclaringType != type) problems.Add(path + ": " + type.Name + " does not override Equals(object)");
        if (type.GetMethod(nameof(GetHashCode), Type.EmptyTypes)?.DeclaringType != type) problems.Add(path + ": " + type.Name + " does not override GetHashCode()");
        for (Type? t = type; t != null && t != typeof(object) && t != typeof(ValueType); t = t.BaseType)
            foreach (FieldInfo field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                CheckEquatable(field.FieldType, path + "." + field.Name, models, seen, problems);
    }

    /// <summary>The model types of every step TrackingNames names, in every generator, compare by value all the way down.</summary>
    [Fact]
    public void StepModelTypes_AreValueEquatable_AndHoldNoRoslynTypes()
    {
        const string lrn = "using NormKernels;\nnamespace Layers;\n/// <summary>L.</summary>\n[LocalResponseNormalize(Layout = \"NHWC\")]\npublic sealed partial class Lrn;\n";
        const string wn = "using NormKernels;\nnamespace Layers;\n/// <summary>W.</summary>\n[WeightNormalize(Layout = \"OI\", Axes = \"I\")]\npublic sealed partial class Wn;\n";
        GeneratorDriverRunResult run = IncrementalTests.CreateDriver(new NormalizeGenerator())
            .RunGenerators(GeneratorHelper.Compile(LayerCase.Matrix.Select(c => c.Source).Append(lrn).Append(wn).ToArray()))
            .GetRunResult();

        var problems = new List<string>();
        var seen = new HashSet<Type>();
        foreach (string step in IncrementalTests.StepNames)
        {
            var types = run.Results.Where(r => r.TrackedSteps.ContainsKey(step))
                .SelectMany(r => IncrementalTests.Outputs(r, step)).Select(o => o.Value.GetType()).Distinct().ToList();
            Assert.True(types.Count > 0, "step " + step + " produced nothing");
            foreach (Type type in types) CheckEquatable(type, step + "<" + type.Name + ">", typeof(NormalizeGenerator).Assembly, seen, problems);
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // The walk went below the step values: the spec, the plan and their element types were checked.
        Assert.Contains(seen, t => t.Name == "NormSpec");
        Assert.Contains(seen, t => t.Name == "KernelPlan");
        Assert.Contains(seen, t => t.Name == "PlanAxis");
        Assert.Contains(seen, t => t.Name == "LrnSpec");
        Assert.Contains(seen, t => t.Name == "WeightNormSpec");
    }

    /// <summary>The type walk itself finds each kind of model that does not compare by value.</summary>
    [Fact]
    public void TypeWalk_FindsModelsThatDoNotCompareByValue()
    {
        var problems = new List<string>();
        CheckEquatable(typeof(BadModel), "m", typeof(ModelWalkTests).Assembly, new HashSet<Type>(), problems);
        Assert.True(problems.Count == 8, string.Join("\n", problems));
        Assert.Contains(problems, p => p.StartsWith("m.<Items>k__BackingField is an array", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("m.<Names>k__BackingField is System.Collections.Generic.List", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("m.<Anything>k__BackingField is declared System.Object", StringComparison.Ordinal));
        Assert.Contains(problems, p => p == "m.<Open>k__BackingField: OpenModel is not sealed (a derived type can change its equality)");
        Assert.Contains(problems, p => p == "m.<Plain>k__BackingField: PlainModel does not implement IEquatable<PlainModel>");
        Assert.Contains(problems, p => p == "m.<Plain>k__BackingField: PlainModel does not override Equals(object)");
        Assert.Contains(problems, p => p.StartsWith("m.<Where>k__BackingField is Microsoft.CodeAnalysis.Location", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("m.<Pair>k__BackingField<Int32[]> is an array", StringComparison.Ordinal));
    }

    private record OpenModel(string Name);

    private sealed class PlainModel
    {
        public string Name { get; } = "";

        public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);
    }

    private sealed record BadModel(int[] Items, List<string> Names, object Anything, OpenModel Open, PlainModel Plain, Location? Where, (string, int[]) Pair, int Fine, string AlsoFine,
        Microsoft.CodeAnalysis.Text.TextSpan Span, DiagnosticSeverity Severity);
}
