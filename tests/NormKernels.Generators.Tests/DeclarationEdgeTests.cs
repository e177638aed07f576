using System.Globalization;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Declarations that once generated code that did not compile, or generated nothing and said nothing (issue 9's fuzzing),
/// and their neighbours: each one now either generates code that compiles, or gets exactly one NK diagnostic and no
/// compiler error from generated code. Both generators (and any shipped analyzer) run, as in a build (<see cref="BuildTest"/>:
/// the sources mark every diagnostic expected, <c>{|NK0026:Weight|}</c>).
/// </summary>
public sealed class DeclarationEdgeTests
{
    private const string Bn = "[Normalize(Layout = \"NC\", Axes = \"N\")]";
    private const string Lrn = "[LocalResponseNormalize]";

    /// <summary>Generates one file per layer and compiles with no error and no NK diagnostic.</summary>
    private static async Task AssertCompiles(string source, int layers = 1)
    {
        BuildTest build = await BuildTest.RunAsync("using NormKernels;\n" + source);
        Assert.Equal(layers, build.Generated.Length);
    }

    /// <summary>
    /// Exactly one NK diagnostic, the one marked in <paramref name="markup"/>, and no compiler error; nothing generated but a
    /// stub. The same with analyzers off, as the generators report. Returns the diagnostic's id.
    /// </summary>
    private static async Task<string> AssertOneDiagnostic(string markup)
    {
        string id = "";
        foreach (bool analyzers in new[] { true, false })
        {
            var build = new BuildTest { TestCode = "using NormKernels;\n" + markup, RunAnalyzers = analyzers };
            await build.RunAsync();
            id = Assert.Single(build.Reported).Id;
            Assert.All(build.Generated, tree => Assert.Contains("(" + id + "); see the build output.", tree.GetText().ToString(), StringComparison.Ordinal));
        }
        return id;
    }

    /// <summary><paramref name="attribute"/> (<see cref="Bn"/> or <see cref="Lrn"/>) with its name marked as <paramref name="id"/>.</summary>
    private static string MarkName(string attribute, string id)
    {
        int end = attribute.IndexOfAny(new[] { '(', ']' });
        return "[{|" + id + ":" + attribute[1..end] + "|}" + attribute[end..];
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
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class {|NK0026:" + name + "|};");
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
    [InlineData("public sealed partial class {|NK0027:nint|};")]
    [InlineData("public sealed partial class {|NK0027:var|};")]
    [InlineData("public sealed partial class {|NK0027:nuint|};")]
    [InlineData("public sealed partial class {|NK0027:nameof|};")]
    public async Task LayerNamedLikeAKeywordTheGeneratedCodeUses_IsNK0027(string declaration)
    {
        await AssertOneDiagnostic(Bn + "\n" + declaration);
        await AssertOneDiagnostic(Lrn + "\n" + declaration);
    }

    [Theory]
    [InlineData("public sealed class nint { }\n{0}\npublic sealed partial class {|NK0027:Norm|};")]                                  // sibling
    [InlineData("public partial class var { {0} public sealed partial class {|NK0027:Norm|}; }")]                                  // container
    [InlineData("public partial class Outer<nint> { {0} public sealed partial class {|NK0027:Norm|}; }")]                          // type parameter
    [InlineData("namespace Inner { {0} public sealed partial class {|NK0027:Norm|}; }\npublic sealed class nameof { }")]         // outer namespace
    public async Task TypeInScopeNamedLikeAKeyword_IsNK0027(string template)
    {
        await AssertOneDiagnostic(template.Replace("{0}", Bn, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Bn, "(int x)")]
    [InlineData(Bn, "()")]
    [InlineData(Lrn, "(int channels, float epsilon = 1e-5f)")]
    public async Task PrimaryConstructor_IsNK0028(string attribute, string parameters)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm{|NK0028:" + parameters + "|};");
    }

    [Fact]
    public async Task BothAttributes_IsOneNK0030()
    {
        await AssertOneDiagnostic(Bn + "\n" + MarkName(Lrn, "NK0030") + "\npublic sealed partial class Norm;");
        // ... also when the class has another mistake [Normalize]'s parser reports: NK0030 is not repeated, nothing is generated.
        BuildTest build = await BuildTest.RunAsync("using NormKernels;\n" + Bn + "\n" + MarkName(Lrn, "NK0030") + "\npublic sealed partial class {|NK0026:Weight|};");
        Assert.Empty(build.Generated);
    }

    [Theory]
    [InlineData(Bn, "public {|NK0029:Norm|}(int channels, float epsilon, float? momentum) { }")]
    [InlineData("[Normalize(Axes = \"N,H,W\", TrackRunningStats = false)]", "public {|NK0029:Norm|}(int channels, float epsilon) { }")]
    [InlineData("[Normalize(Layout = \"NTC\", Axes = \"C\", ElementType = typeof(double))]", "public {|NK0029:Norm|}(int channels, double epsilon) { }")]
    [InlineData("[Normalize(Layout = \"NT\", Axes = \"T\", Affine = AffineMode.None)]", "public {|NK0029:Norm|}(float epsilon) { }")]
    [InlineData(Lrn, "public {|NK0029:Norm|}() { }")]
    [InlineData(Bn, "public float[] {|NK0029:Weight|} = new float[1];")]
    [InlineData(Bn, "private int {|NK0029:CheckShape|};")]
    [InlineData(Lrn, "public void {|NK0029:Forward|}() { }")]
    public async Task MemberTheGeneratorAdds_IsNK0029(string attribute, string member)
    {
        await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm { " + member + " }");
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
    [InlineData("public sealed partial record {|NK0019:Norm|};")]
    [InlineData("public static partial class {|NK0019:Norm|};")]
    [InlineData("public sealed partial class {|NK0019:Norm|}<T>;")]
    [InlineData("file sealed partial class {|NK0019:Norm|};")]
    public async Task UnsupportedClass_IsNK0019(string declaration)
    {
        await AssertOneDiagnostic(Bn + "\n" + declaration);
        await AssertOneDiagnostic(Lrn + "\n" + declaration);
    }

    [Theory]
    [InlineData("public partial struct Norm;")]
    [InlineData("public partial interface INorm { }")]
    [InlineData("public struct Norm { }")]
    public async Task NotAClass_IsTheCompilersCS0592Only(string declaration)
    {
        foreach (string attribute in new[] { Bn, Lrn })
        {
            BuildTest build = await BuildTest.RunAsync("using NormKernels;\n" + MarkName(attribute, "CS0592") + "\n" + declaration);
            Assert.Empty(build.Reported);
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
        BuildTest build = await BuildTest.RunAsync(
            "using NormKernels;\n" + attribute + "\npublic sealed partial class Norm;\n" + MarkName(attribute, "CS0579") + "\npublic sealed partial class Norm { }");
        Assert.Empty(build.Reported);
    }

    /// <summary>Groups on a BatchNorm is one mistake: NK0010, without an NK0018 about running statistics sized by the groups.</summary>
    [Theory]
    [InlineData("NK0010", "[Normalize(Layout = \"NCHW\", Axes = \"N,H,W\", Groups = {|NK0010:4|})]")]
    [InlineData("NK0010", "[Normalize(Layout = \"NHWC\", Axes = \"N,H,W\", Groups = {|NK0010:32|})]")]
    [InlineData("NK0009", "[Normalize(Layout = \"NCHW\", Axes = \"N,H,W\", Groups = {|NK0009:0|})]")]
    public async Task GroupsOnBatchNorm_IsOneDiagnostic(string id, string attribute)
    {
        Assert.Equal(id, await AssertOneDiagnostic(attribute + "\npublic sealed partial class Norm;"));
    }
}
