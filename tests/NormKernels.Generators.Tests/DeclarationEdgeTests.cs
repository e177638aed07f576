using System.Globalization;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Declarations that once generated code that did not compile, or generated nothing and said nothing (issue 9's fuzzing),
/// and their neighbours: each one now either generates code that compiles, or gets exactly one NK diagnostic and no
/// compiler error from generated code. Both generators (and any shipped analyzer) run, as in a build.
/// </summary>
public sealed class DeclarationEdgeTests
{
    private const string Bn = "[Normalize(Layout = \"NC\", Axes = \"N\")]";
    private const string Lrn = "[LocalResponseNormalize]";

    /// <summary>Generates one file per layer and compiles with no error and no NK diagnostic.</summary>
    private static async Task AssertCompiles(string source, int layers = 1)
    {
        FullRun run = await CompilationHelper.RunAllAsync("using NormKernels;\n" + source);
        Assert.True(run.Nk.IsEmpty && run.Errors.IsEmpty, string.Join("\n", run.Nk.Concat(run.Errors)));
        Assert.Equal(layers, run.Generated.Length);
    }

    /// <summary>
    /// Exactly one NK diagnostic, <paramref name="id"/>, covering <paramref name="at"/>; no compiler error but
    /// <paramref name="compilerError"/>; nothing generated but a stub. The same with analyzers off, as the generators report.
    /// </summary>
    private static async Task AssertOneDiagnostic(string source, string id, string at, string? compilerError = null)
    {
        foreach (bool analyzers in new[] { true, false })
        {
            FullRun run = await CompilationHelper.RunAllAsync(analyzers, "using NormKernels;\n" + source);
            Diagnostic single = Assert.Single(run.Nk);
            Assert.Equal(id, single.Id);
            Assert.Equal(at, single.Location.SourceTree!.GetText().ToString(single.Location.SourceSpan));
            Assert.Equal(compilerError == null ? Array.Empty<string>() : new[] { compilerError }, run.Errors.Select(e => e.Id));
            Assert.All(run.Generated, tree => Assert.Contains("(" + id + "); see the build output.", tree.GetText().ToString(), StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("[Normalize(Layout = \"N\", Axes = \"N\", Affine = AffineMode.None)]")]          // NK0014's corrected example: CS0136 before
    [InlineData("[Normalize(Layout = \"NCHW\", Axes = \"N,C,H,W\", Affine = AffineMode.None)]")]
    [InlineData("[Normalize(Layout = \"NC\", Axes = \"N,C\", Affine = AffineMode.None, ElementType = typeof(double))]")]
    [InlineData("[Normalize(Layout = \"NTC\", Axes = \"N,T,C\", Affine = AffineMode.None, Kind = NormKind.Standardize)]")]
    public async Task AllReducedWithoutAffine_Compiles(string attribute)
    {
        await AssertCompiles(attribute + "\npublic sealed partial class Norm;");
    }

    [Theory]
    [InlineData("[LocalResponseNormalize(Alpha = 3.5e38, Beta = 1e300)]")]   // 2 * alpha * beta / size overflows a double
    [InlineData("[LocalResponseNormalize(Alpha = 1e308, Beta = -1e308, K = 1e308)]")]
    [InlineData("[LocalResponseNormalize(Alpha = 1e-320, Size = 1000)]")]     // alpha / size underflows to 0
    [InlineData("[LocalResponseNormalize(Alpha = 3.5e38, ElementType = typeof(double))]")]
    public async Task LrnConstantsOutsideTheFloatOrDoubleRange_Compile(string attribute)
    {
        await AssertCompiles(attribute + "\npublic sealed partial class Lrn;");
    }

    [Theory]
    [InlineData(Bn, "Weight")]
    [InlineData(Bn, "Forward")]
    [InlineData(Bn, "Backward")]
    [InlineData(Bn, "Epsilon")]
    [InlineData(Bn, "Training")]
    [InlineData(Bn, "CheckShape")]
    [InlineData(Bn, "TrainingBlock")]
    [InlineData(Bn, "TOps")]
    [InlineData(Bn, "_epsilon")]
    [InlineData(Bn, "ReduceRun_V512")]
    [InlineData(Lrn, "Size")]
    [InlineData(Lrn, "K")]
    [InlineData(Lrn, "ScaleD")]
    [InlineData(Lrn, "Weight")]   // one list for both attributes
    public async Task LayerNamedLikeAGeneratedMember_IsNK0026(string attribute, string name)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class " + name + ";", "NK0026", name);
    }

    [Theory]
    [InlineData(Bn, "[System.Diagnostics.CodeAnalysis.ExcludeFromCodeCoverage]")]
    [InlineData(Lrn, "[System.CodeDom.Compiler.GeneratedCode(\"mine\", \"1\")]")]
    [InlineData(Bn, "[System.CodeDom.Compiler.GeneratedCode(\"mine\", \"1\"), System.Diagnostics.CodeAnalysis.ExcludeFromCodeCoverage]")]
    public async Task LayerWithTheClassAttributesTheGeneratorAdds_Compiles(string attribute, string marks)
    {
        // The generated part adds [GeneratedCode] and [ExcludeFromCodeCoverage] only where the user's part has not (CS0579).
        await AssertCompiles(attribute + "\n" + marks + "\npublic sealed partial class Norm;");
    }

    [Theory]
    [InlineData(Bn, "public sealed class Rt { }\n{0}\npublic sealed partial class Norm;")]                                          // a sibling type
    [InlineData(Bn, "namespace App { public sealed class Rt { }\n{0}\npublic sealed partial class Norm; }")]                         // in a namespace
    [InlineData(Bn, "namespace App { public sealed class ReadOnlySpan<T> { }\n{0}\npublic sealed partial class Norm; }")]
    [InlineData(Lrn, "namespace App.Inner { {0}\npublic sealed partial class Norm; }\nnamespace App { public sealed class Span<T> { } }")] // an enclosing namespace
    [InlineData(Lrn, "public sealed class Tensors { }\n{0}\npublic sealed partial class Norm;")]
    [InlineData(Bn, "public partial class Outer { public sealed class Unsafe { } {0} public sealed partial class Norm; }")]           // nested in a container
    [InlineData(Bn, "public sealed class ReadOnlySpan { }\npublic sealed class Span { }\n{0}\npublic sealed partial class Norm;")] // System types used bare
    [InlineData(Bn, "{0}\npublic sealed partial class Norm { public int KernelPath => 1; public static void MemoryMarshal() { } }")] // members of the layer
    [InlineData(Lrn, "public class Base { protected int NK; }\n{0}\npublic sealed partial class Norm : Base;")]                     // an inherited member
    [InlineData(Bn, "{0}\npublic sealed partial class Intrinsics;")]                                                                 // the layer itself
    public async Task NamesInScopeLikeTheGeneratedAliases_KeepTheirGlobalNames_AndCompile(string attribute, string template)
    {
        // The generated file uses its aliases only where nothing in scope has their names; otherwise it keeps global:: names.
        await AssertCompiles(template.Replace("{0}", attribute, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Bn)]
    [InlineData(Lrn)]
    public async Task ContainerNamedLikeAGeneratedMember_Compiles(string attribute)
    {
        await AssertCompiles("public partial class Weight { public partial class Forward { " + attribute + " public sealed partial class Norm; } }");
    }

    [Theory]
    [InlineData("public sealed partial class nint;", "nint")]
    [InlineData("public sealed partial class var;", "var")]
    [InlineData("public sealed partial class nuint;", "nuint")]
    [InlineData("public sealed partial class nameof;", "nameof")]
    public async Task LayerNamedLikeAKeywordTheGeneratedCodeUses_IsNK0027(string declaration, string name)
    {
        await AssertOneDiagnostic(Bn + "\n" + declaration, "NK0027", name);
        await AssertOneDiagnostic(Lrn + "\n" + declaration, "NK0027", name);
    }

    [Theory]
    [InlineData("public sealed class nint {{ }}\n{0}\npublic sealed partial class Norm;")]                                  // sibling
    [InlineData("public partial class var {{ {0} public sealed partial class Norm; }}")]                                  // container
    [InlineData("public partial class Outer<nint> {{ {0} public sealed partial class Norm; }}")]                          // type parameter
    [InlineData("namespace Inner {{ {0} public sealed partial class Norm; }}\npublic sealed class nameof {{ }}")]         // outer namespace
    public async Task TypeInScopeNamedLikeAKeyword_IsNK0027(string template)
    {
        await AssertOneDiagnostic(string.Format(CultureInfo.InvariantCulture, template, Bn), "NK0027", "Norm");
    }

    [Theory]
    [InlineData(Bn, "(int x)")]
    [InlineData(Bn, "()")]
    [InlineData(Lrn, "(int channels, float epsilon = 1e-5f)")]
    public async Task PrimaryConstructor_IsNK0028(string attribute, string parameters)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm" + parameters + ";", "NK0028", parameters);
    }

    [Fact]
    public async Task BothAttributes_IsOneNK0030()
    {
        await AssertOneDiagnostic(Bn + "\n" + Lrn + "\npublic sealed partial class Norm;", "NK0030", "LocalResponseNormalize");
        // ... also when the class has another mistake [Normalize]'s parser reports: NK0030 is not repeated, nothing is generated.
        FullRun run = await CompilationHelper.RunAllAsync("using NormKernels;\n" + Bn + "\n" + Lrn + "\npublic sealed partial class Weight;");
        Assert.Equal(new[] { "NK0026", "NK0030" }, run.Nk.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.Empty(run.Generated);
    }

    [Theory]
    [InlineData(Bn, "public Norm(int channels, float epsilon, float? momentum) { }", "Norm")]
    [InlineData("[Normalize(Axes = \"N,H,W\", TrackRunningStats = false)]", "public Norm(int channels, float epsilon) { }", "Norm")]
    [InlineData("[Normalize(Layout = \"NTC\", Axes = \"C\", ElementType = typeof(double))]", "public Norm(int channels, double epsilon) { }", "Norm")]
    [InlineData("[Normalize(Layout = \"NT\", Axes = \"T\", Affine = AffineMode.None)]", "public Norm(float epsilon) { }", "Norm")]
    [InlineData(Lrn, "public Norm() { }", "Norm")]
    [InlineData(Bn, "public float[] Weight = new float[1];", "Weight")]
    [InlineData(Bn, "private int CheckShape;", "CheckShape")]
    [InlineData(Lrn, "public void Forward() { }", "Forward")]
    public async Task MemberTheGeneratorAdds_IsNK0029(string attribute, string member, string at)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm { " + member + " }", "NK0029", at);
    }

    [Theory]
    [InlineData(Bn, "public Norm() : this(8) { }")]                         // a constructor of other parameters, calling the generated one
    [InlineData(Bn, "public Norm(int channels) : this(channels, 1e-3f, 0.1f) { }")]
    [InlineData(Lrn, "public Norm(int unused) : this() { }")]
    [InlineData(Bn, "public float[] Gamma => Weight;")]
    public async Task OtherMembers_Compile(string attribute, string member)
    {
        await AssertCompiles(attribute + "\npublic sealed partial class Norm { " + member + " }");
    }

    [Theory]
    [InlineData("public partial class Outer<T> {{ {0} public sealed partial class Norm; }}")]
    [InlineData("public partial class Outer<TKey, TValue> where TKey : notnull {{ {0} public sealed partial class Norm; }}")]
    [InlineData("public partial interface IOuter<T> {{ {0} public sealed partial class Norm; }}")]
    [InlineData("public partial struct Outer<T> where T : struct {{ public partial class Middle<TMiddle> {{ {0} public sealed partial class Norm; }} }}")]
    [InlineData("public partial record Outer<T>(T Value) {{ {0} public sealed partial class Norm; }}")]
    [InlineData("public partial interface IOuter {{ {0} public sealed partial class Norm; }}")]
    [InlineData("public static partial class Outer {{ {0} public sealed partial class Norm; }}")]
    public async Task LayerNestedInGenericOrOtherTypes_Compiles(string template)
    {
        await AssertCompiles(string.Format(CultureInfo.InvariantCulture, template, Bn));
        await AssertCompiles(string.Format(CultureInfo.InvariantCulture, template, Lrn));
    }

    [Fact]
    public async Task LayersOfOneNameInTwoGenericArities_GetTwoFiles()
    {
        await AssertCompiles(
            "public partial class Outer<T> { " + Bn + " public sealed partial class Norm; }\n" +
            "public partial class Outer<T, U> { " + Bn + " public sealed partial class Norm; }", layers: 2);
    }

    [Theory]
    [InlineData("public sealed partial record Norm;", "Norm")]
    [InlineData("public static partial class Norm;", "Norm")]
    [InlineData("public sealed partial class Norm<T>;", "Norm")]
    [InlineData("file sealed partial class Norm;", "Norm")]
    public async Task UnsupportedClass_IsNK0019(string declaration, string at)
    {
        await AssertOneDiagnostic(Bn + "\n" + declaration, "NK0019", at);
        await AssertOneDiagnostic(Lrn + "\n" + declaration, "NK0019", at);
    }

    [Theory]
    [InlineData("public partial struct Norm;")]
    [InlineData("public partial interface INorm { }")]
    [InlineData("public struct Norm { }")]
    public async Task NotAClass_IsTheCompilersCS0592Only(string declaration)
    {
        foreach (string attribute in new[] { Bn, Lrn })
        {
            FullRun run = await CompilationHelper.RunAllAsync("using NormKernels;\n" + attribute + "\n" + declaration);
            Assert.Empty(run.Nk);
            Assert.Equal(new[] { "CS0592" }, run.Errors.Select(e => e.Id));
        }
    }

    [Theory]
    [InlineData(Bn)]
    [InlineData(Lrn)]
    public async Task SeveralPartialDeclarations_AttributeOnOne_Compiles(string attribute)
    {
        await AssertCompiles(
            attribute + "\npublic sealed partial class Norm;\n" +
            "public sealed partial class Norm { public int Extra => 1; }\n" +
            "public partial class Norm { }");
    }

    [Theory]
    [InlineData(Bn)]
    [InlineData(Lrn)]
    public async Task AttributeOnTwoPartialDeclarations_IsTheCompilersCS0579Only(string attribute)
    {
        FullRun run = await CompilationHelper.RunAllAsync(
            "using NormKernels;\n" + attribute + "\npublic sealed partial class Norm;\n" + attribute + "\npublic sealed partial class Norm { }");
        Assert.Empty(run.Nk);
        Assert.Equal(new[] { "CS0579" }, run.Errors.Select(e => e.Id));
    }

    /// <summary>Groups on a BatchNorm is one mistake: NK0010, without an NK0018 about running statistics sized by the groups.</summary>
    [Theory]
    [InlineData("[Normalize(Layout = \"NCHW\", Axes = \"N,H,W\", Groups = 4)]", "NK0010", "4")]
    [InlineData("[Normalize(Layout = \"NHWC\", Axes = \"N,H,W\", Groups = 32)]", "NK0010", "32")]
    [InlineData("[Normalize(Layout = \"NCHW\", Axes = \"N,H,W\", Groups = 0)]", "NK0009", "0")]
    public async Task GroupsOnBatchNorm_IsOneDiagnostic(string attribute, string id, string at)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm;", id, at);
    }
}
