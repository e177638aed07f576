using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The models the pipeline caches (the values of the Parse and Plan steps) hold no Roslyn object: no symbol, compilation,
/// syntax, semantic model or location, which would keep compilations alive and defeat caching. Walked by reflection over
/// every field, declared and actual type, recursively.
/// </summary>
public sealed class ModelWalkTests
{
    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SemanticModel), typeof(Location),
        typeof(SyntaxToken), typeof(SyntaxReference), typeof(AttributeData), typeof(TypedConstant),
    };

    /// <summary>Why <paramref name="type"/> may not appear in a model, or null: a forbidden type, or any type of Roslyn's assemblies.</summary>
    private static string? Why(Type type)
    {
        foreach (Type forbidden in Forbidden)
            if (forbidden.IsAssignableFrom(type)) return forbidden.Name;
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

    [Fact]
    public void LrnParseModels_HoldNoRoslynObjects()
    {
        const string source = """
            using NormKernels;

            namespace Layers;

            /// <summary>Outer.</summary>
            public static partial class Outer
            {
                /// <summary>An LRN layer.</summary>
                [LocalResponseNormalize(Layout = "NHWC", Size = 3)]
                public sealed partial class LrnInner;
            }

            /// <summary>Another.</summary>
            [LocalResponseNormalize(Layout = "NCL", ElementType = typeof(double))]
            public sealed partial class LrnTop;
            """;
        GeneratorRunResult result = CSharpGeneratorDriver.Create(
                new[] { new LocalResponseNormalizeGenerator().AsSourceGenerator() },
                parseOptions: GeneratorHelper.ParseOptions,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true))
            .RunGenerators(GeneratorHelper.Compile(source))
            .GetRunResult().Results.Single();

        var outputs = IncrementalTests.Outputs(result, TrackingNames.LrnParse);
        Assert.Equal(2, outputs.Count);
        var walk = new Walk();
        foreach (var (value, _) in outputs) walk.Visit(value, TrackingNames.LrnParse + "<" + value.GetType().Name + ">");
        Assert.True(walk.Problems.Count == 0, string.Join("\n", walk.Problems));
        Assert.Contains("NHWC", walk.Strings);
        Assert.Contains("NCL", walk.Strings);
        Assert.Contains("LrnInner", walk.Strings);
        Assert.Contains("Outer", walk.Strings);
        Assert.Contains("double", walk.Strings);
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
}
