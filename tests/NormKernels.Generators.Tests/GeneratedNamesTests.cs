using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Every name the generated code declares inside a layer (members, nested types, type parameters) is reserved: a layer of
/// that name gets NK0026 rather than CS0542 in generated code. The names are read from what the generators write for the
/// whole test matrix and a set of LRN and weight norm layers, so a member added to the emitter without listing it fails here.
/// </summary>
public sealed class GeneratedNamesTests
{
    private static readonly string[] OtherDeclarations =
    {
        "[LocalResponseNormalize]",
        "[LocalResponseNormalize(Layout = \"NHWC\", ElementType = typeof(double))]",
        "[LocalResponseNormalize(Layout = \"NC\", Size = 3, Beta = 0.5)]",
        "[LocalResponseNormalize(Layout = \"NCL\", Size = 12, Beta = 1.3)]",
        "[WeightNormalize(Layout = \"OIHW\", Axes = \"I,H,W\")]",
        "[WeightNormalize(Layout = \"HWIO\", Axes = \"H,W,I\", ElementType = typeof(double))]",
        "[WeightNormalize(Layout = \"GVW\", Axes = \"V,W\")]",
    };

    /// <summary>Names declared in the generated files, each with the hint name of one file that declares it.</summary>
    private static SortedDictionary<string, string> GeneratedMemberNames()
    {
        var sources = LayerCase.Matrix.Select(c => c.Source)
            .Concat(LayerCase.Matrix.Select(c => c.Source.Replace(c.Attribute, c.Attribute.Replace(")]", ", ElementType = typeof(double))]", StringComparison.Ordinal), StringComparison.Ordinal)
                .Replace("class " + c.Name, "class " + c.Name + "Double", StringComparison.Ordinal)))
            .Concat(OtherDeclarations.Select((a, i) => "using NormKernels;\nnamespace Lrns;\n" + a + "\npublic sealed partial class Lrn" + i.ToString(CultureInfo.InvariantCulture) + ";\n"))
            .ToArray();
        var trees = sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, TestReferences.ParseOptions, path: "Names" + i.ToString(CultureInfo.InvariantCulture) + ".cs"));
        var compilation = CSharpCompilation.Create("Names", trees, TestReferences.MetadataReferences,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new NormalizeGenerator().AsSourceGenerator(), new LocalResponseNormalizeGenerator().AsSourceGenerator(), new WeightNormalizeGenerator().AsSourceGenerator() },
            parseOptions: TestReferences.ParseOptions).RunGenerators(compilation);
        var generated = driver.GetRunResult().GeneratedTrees;
        Assert.Equal(sources.Length, generated.Length);

        var names = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (SyntaxTree tree in generated)
        {
            // The generated partial of the layer (the class that declares Forward); everything inside it is generated.
            ClassDeclarationSyntax layer = tree.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>()
                .First(c => c.Members.OfType<MethodDeclarationSyntax>().Any(m => m.Identifier.ValueText == "Forward"));
            // The members of the nested nest struct live in its own scope (a layer or user member may share their names);
            // the struct's name is the layer's.
            foreach (SyntaxNode node in layer.DescendantNodes(n => n is not StructDeclarationSyntax { Identifier.ValueText: "Nest" }))
            {
                string? name = node switch
                {
                    MethodDeclarationSyntax m => m.ExplicitInterfaceSpecifier == null ? m.Identifier.ValueText : null,
                    PropertyDeclarationSyntax p => p.ExplicitInterfaceSpecifier == null ? p.Identifier.ValueText : null,
                    VariableDeclaratorSyntax v when v.Parent?.Parent is FieldDeclarationSyntax => v.Identifier.ValueText,
                    BaseTypeDeclarationSyntax t => t.Identifier.ValueText,
                    DelegateDeclarationSyntax d => d.Identifier.ValueText,
                    TypeParameterSyntax tp => tp.Identifier.ValueText,
                    _ => null,
                };
                if (name != null) names.TryAdd(name, Path.GetFileName(tree.FilePath));
            }
        }
        return names;
    }

    [Fact]
    public async Task EveryGeneratedMemberName_IsRefusedAsALayerName()
    {
        SortedDictionary<string, string> names = GeneratedMemberNames();
        Assert.Contains("Kernels", names.Keys);
        Assert.Contains("Forward", names.Keys);

        // One layer per name, each in its own namespace, with both attributes: each name marked as the NK0026 it must get, and
        // nothing else reported (a name a layer may still take is a missing NK0026 at that name).
        var source = new StringBuilder("using NormKernels;\n");
        int i = 0;
        foreach (string name in names.Keys)
        {
            source.Append(CultureInfo.InvariantCulture, $"namespace N{i++} {{ [Normalize(Layout = \"NC\", Axes = \"N\")] public sealed partial class {{|NK0026:{name}|}}; }}\n");
            source.Append(CultureInfo.InvariantCulture, $"namespace N{i++} {{ [LocalResponseNormalize] public sealed partial class {{|NK0026:{name}|}}; }}\n");
            source.Append(CultureInfo.InvariantCulture, $"namespace N{i++} {{ [WeightNormalize(Layout = \"OI\", Axes = \"I\")] public sealed partial class {{|NK0026:{name}|}}; }}\n");
        }
        BuildTest build = await BuildTest.RunAsync(source.ToString());
        Assert.Equal(3 * names.Count, build.Reported.Length);
    }
}
