using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The diagnostics of [Normalize], which NormalizeGenerator reports itself (there is no analyzer): every NK id with the exact
/// span it is reported at. Expected diagnostics are marked in the source as <c>{|NK0007:"N,Q"|}</c>; anything reported and
/// not marked fails the test.
/// </summary>
public sealed class AnalyzerTests
{
    private const string HelpBase = "https://github.com/normkernels/normkernels/blob/main/docs/diagnostics.md#";

    /// <summary>
    /// Checks, through the Roslyn testing framework, that NormalizeGenerator reports exactly the marked diagnostics and that
    /// the build has no compiler error but the marked ones, generated code included; returns the NK diagnostics.
    /// </summary>
    private static async Task<ImmutableArray<Diagnostic>> VerifyAsync(string markup) =>
        (await BuildTest.RunAsync(markup, typeof(NormalizeGenerator))).Reported;

    private static string Message(Diagnostic diagnostic) => diagnostic.GetMessage(CultureInfo.InvariantCulture);

    /// <summary>A layer with the given attribute arguments (markup allowed) on a sealed partial class.</summary>
    private static string Layer(string arguments) => $$"""
        using NormKernels;

        [Normalize({{arguments}})]
        public sealed partial class Layer;
        """;

    // ---- valid declarations -------------------------------------------------------------------

    [Theory]
    [InlineData("Axes = \"N,H,W\"")]                                                          // BatchNorm, default NCHW
    [InlineData("Layout = \"NHWC\", Axes = \"N,H,W\"")]                                       // BatchNorm channels-last
    [InlineData("Layout = \"NC\", Axes = \"N\", Epsilon = 1e-3, Momentum = 0")]               // BatchNorm1d, momentum bound
    [InlineData("Layout = \"NC\", Axes = \"N\", Momentum = 1.0")]                             // momentum upper bound
    [InlineData("Layout = \"NCDHW\", Axes = \"N,D,H,W\"")]                                    // BatchNorm3d
    [InlineData("Layout = \"NCHW\", Axes = \"N\", Affine = AffineMode.Elementwise")]          // BatchNorm per activation
    [InlineData("Layout = \"NCHW\", Axes = \"N,C,H,W\"")]                                     // one statistic
    [InlineData("Layout = \"NTC\", Axes = \"C\"")]                                            // LayerNorm, transformers
    [InlineData("Layout = \"NCHW\", Axes = \"C,H,W\", Affine = AffineMode.Elementwise")]      // LayerNorm, elementwise affine
    [InlineData("Axes = \"H,W\"")]                                                            // InstanceNorm
    [InlineData("Layout = \"NHWC\", Axes = \" H , W ,C \", Groups = 32")]                      // GroupNorm, spaces around commas
    [InlineData("Layout = \"NTC\", Axes = \"C\", Kind = NormKind.RootMeanSquare, Affine = AffineMode.None, Epsilon = 1e-6f")] // RMSNorm
    [InlineData("Layout = \"NL\", Axes = \"L\", Affine = AffineMode.None")]                   // no C, no affine
    [InlineData("Layout = Names.Layout, Axes = \"N,\" + \"H,W\"")]                           // constant expressions
    [InlineData("Layout = \"NCHW\", Axes = \"C,H,W\", Affine = AffineMode.PerChannel")]       // LayerNorm over a sample, one weight per channel
    [InlineData("Layout = \"NCHW\", Axes = \"C,H,W\", Affine = AffineMode.None")]             // ... no affine
    [InlineData("Layout = \"NHWC\", Axes = \"C,H,W\", Groups = 1")]                           // GroupNorm(1, C): Groups says per channel
    [InlineData("Layout = \"NC\", Axes = \"C\"")]                                             // one axis: per channel is per element
    [InlineData("Layout = \"NCL\", Axes = \"C\"")]                                            // L kept: not a whole sample
    [InlineData("Axes = \"N,C,H,W\", Groups = 2")]                                             // N among the axes
    [InlineData("Axes = \"N,H,W\", TrackRunningStats = false")]                                // BatchNorm without running statistics
    [InlineData("Axes = \"N,H,W\", TrackRunningStats = true")]                                 // ... with, as written
    [InlineData("Axes = \"N,H\", TrackRunningStats = false")]                                  // kept C, W: nothing to size without running statistics
    [InlineData("Axes = \"H,W\", TrackRunningStats = false")]                                  // no running statistics, as asked
    public async Task ValidDeclaration_ReportsNothing(string arguments)
    {
        var diagnostics = await VerifyAsync($$"""
            using NormKernels;

            [Normalize({{arguments}})]
            public sealed partial class Layer;

            internal static class Names
            {
                public const string Layout = "NCHW";
            }
            """);
        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task ValidNestedAndSplitDeclarations_ReportNothing()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            namespace Models
            {
                public static partial class Blocks
                {
                    internal partial class Stage
                    {
                        [Normalize(Layout = "NHWC", Axes = "N,H,W")]
                        public sealed partial class StemNorm;
                    }
                }

                [NormKernels.NormalizeAttribute(Layout = "NTC", Axes = "C")]
                public partial class Split { }

                public partial class Split { public int Other => 1; }
            }
            """);
        Assert.Empty(diagnostics);
    }

    // ---- type shape: NK0001, NK0019, NK0020 --------------------------------------------------

    [Fact]
    public async Task NK0001_TypeNotPartial_AtTypeIdentifier()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [Normalize(Axes = "N,H,W")]
            public sealed class {|NK0001:BatchNorm|} { }
            """);
        Assert.Equal(
            "'BatchNorm' carries [Normalize] but is not partial; expected 'partial class BatchNorm' so the generator can add the layer's members",
            Message(diagnostics.Single()));
    }

    [Theory]
    [InlineData("public partial class {|NK0019:Generic|}<T>;", "'Generic' is generic")]
    [InlineData("public static partial class {|NK0019:Static|};", "'Static' is static")]
    [InlineData("public abstract partial class {|NK0019:Abstract|};", "'Abstract' is abstract")]
    [InlineData("public abstract partial class {|NK0019:Both|}<T>;", "'Both' is generic and abstract")]
    [InlineData("public partial record {|NK0019:Rec|};", "'Rec' is a record")]
    public async Task NK0019_UnsupportedType_AtTypeIdentifier(string declaration, string messageStart)
    {
        var diagnostics = await VerifyAsync($$"""
            using NormKernels;

            [Normalize(Axes = "N,H,W")]
            {{declaration}}
            """);
        Assert.Equal(messageStart + "; expected a non-generic, non-static, non-abstract partial class", Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0019_NotOnAStruct_TheCompilerErrorIsTheOneError()
    {
        // AttributeUsage(Class) makes this CS0592; a second error for the same mistake would only repeat it.
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [{|CS0592:Normalize|}(Axes = "N,H,W")]
            public partial struct Value;
            """);
        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task NK0020_ContainingTypeNotPartial_AtEachContainingTypeIdentifier()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            public class {|NK0020:Model|}
            {
                public partial class Block
                {
                    public class {|NK0020:Stage|}
                    {
                        [Normalize(Axes = "N,H,W")]
                        public sealed partial class Norm;
                    }
                }
            }
            """);
        Assert.Equal(
            "'Model' contains the [Normalize] type 'Norm' but is not partial; expected 'partial' on every containing type",
            Message(diagnostics[0]));
        Assert.StartsWith("'Stage' contains the [Normalize] type 'Norm'", Message(diagnostics[1]), StringComparison.Ordinal);
    }

    // ---- Layout: NK0002, NK0003, NK0004 ------------------------------------------------------

    [Fact]
    public async Task NK0002_LayoutEmpty_AtLayoutValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = {|NK0002:""|}, Axes = "N" """));
        Assert.Equal(
            "Layout is \"\"; expected one or more distinct upper-case axis letters in memory order, such as \"NCHW\"",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0002_LayoutNull_AtLayoutValue()
    {
        await VerifyAsync(Layer("""Layout = {|NK0002:null|}, Axes = "N" """));
    }

    [Theory]
    [InlineData("\"NcHW\"", "'c' at position 1")]
    [InlineData("\"N-C\"", "'-' at position 1")]
    [InlineData("\"NCHWÉ\"", "'É' at position 4")]
    public async Task NK0003_LayoutInvalidLetter_AtLayoutValue(string layout, string detail)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Layout = {|NK0003:{{layout}}|}, Axes = "N" """));
        Assert.Equal(
            "Layout has " + detail + ", which is not an upper-case ASCII letter; expected letters A to Z only, such as \"NCHW\"",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0004_LayoutDuplicateLetter_AtLayoutValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = {|NK0004:"NCHC"|}, Axes = "H" """));
        Assert.Equal("Layout repeats 'C'; expected each axis letter once", Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0004_LetterRepeatedThrice_ReportedOnce()
    {
        await VerifyAsync(Layer("""Layout = {|NK0004:"NCCC"|}, Axes = "N" """));
    }

    // ---- Axes: NK0005 ... NK0008 -------------------------------------------------------------

    [Theory]
    [InlineData("[{|NK0005:Normalize|}(Layout = \"NCHW\")]")]                 // Axes missing: at the attribute name
    [InlineData("[{|NK0005:Normalize|}]")]                                    // no argument list at all
    [InlineData("[{|NK0005:NormKernels.NormalizeAttribute|}()]")]             // qualified, empty argument list
    [InlineData("[Normalize(Axes = {|NK0005:\"\"|})]")]                        // written but empty: at the value
    [InlineData("[Normalize(Axes = {|NK0005:\"  \"|})]")]
    [InlineData("[Normalize(Axes = {|NK0005:null|})]")]
    public async Task NK0005_AxesMissingOrEmpty(string attribute)
    {
        var diagnostics = await VerifyAsync($$"""
            using NormKernels;

            {{attribute}}
            public sealed partial class Layer;
            """);
        Assert.EndsWith(
            "; expected the reduced axes as comma-separated letters of Layout, such as Axes = \"N,H,W\"",
            Message(diagnostics.Single()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"N,HW\"", "\"HW\"")]
    [InlineData("\"N,h,W\"", "\"h\"")]
    [InlineData("\"N,,H\"", "\"\"")]
    [InlineData("\"N;H\"", "\"N;H\"")]
    public async Task NK0006_AxesInvalidToken_AtAxesValue(string axes, string token)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Axes = {|NK0006:{{axes}}|}"""));
        Assert.Equal(
            "Axes has the token " + token + ", which is not a single upper-case letter; expected comma-separated letters of Layout, such as \"N,H,W\"",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0007_AxesLetterNotInLayout_AtAxesValue()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [Normalize(Layout = "NCHW", Axes = {|NK0007:"N,Q"|})]
            public sealed partial class Layer;
            """);
        Diagnostic diagnostic = diagnostics.Single();

        FileLinePositionSpan span = diagnostic.Location.GetLineSpan();
        Assert.Equal((2, 35), (span.StartLinePosition.Line, span.StartLinePosition.Character));   // line 3, columns 36 to 40 (1-based)
        Assert.Equal((2, 40), (span.EndLinePosition.Line, span.EndLinePosition.Character));
        Assert.Equal(
            "Axes names 'Q' (Layout is \"NCHW\"), which is not a letter of the layout; expected only letters of Layout",
            Message(diagnostic));
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(HelpBase + "nk0007", diagnostic.Descriptor.HelpLinkUri);
    }

    [Fact]
    public async Task NK0008_AxesDuplicateLetter_AtAxesValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Axes = {|NK0008:"N, H, N"|}"""));
        Assert.Equal("Axes repeats 'N'; expected each reduced axis once", Message(diagnostics.Single()));
    }

    // ---- Groups: NK0009, NK0010 --------------------------------------------------------------

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    public async Task NK0009_GroupsNotPositive_AtGroupsValue(string groups)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Axes = "C,H,W", Groups = {|NK0009:{{groups}}|}"""));
        Assert.Equal(
            "Groups is " + groups + "; expected a positive number of channel groups, or no Groups argument",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0010_GroupsWithoutChannelAmongAxes_AtGroupsValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = "NHWC", Axes = "H,W", Groups = {|NK0010:8|}"""));
        Assert.Equal(
            "Groups splits the channel axis, but C is not among Axes \"H,W\"; expected a layout with C and C among Axes, such as Axes = \"C,H,W\"",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0010_GroupsWithoutChannelInLayout_AtGroupsValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = "NTL", Axes = "T,L", Groups = {|NK0010:2|}, Affine = AffineMode.None"""));
        Assert.Contains("but Layout \"NTL\" has no C;", Message(diagnostics.Single()), StringComparison.Ordinal);
    }

    // ---- Kind, Affine: NK0011 ... NK0014 -----------------------------------------------------

    [Fact]
    public async Task NK0011_KindUndefined_AtKindValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Axes = "H,W", Kind = {|NK0011:(NormKind)7|}"""));
        Assert.Equal(
            "Kind is 7, which is not a defined NormKind; expected NormKind.Standardize or NormKind.RootMeanSquare",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0012_AffineUndefined_AtAffineValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Axes = "H,W", Affine = {|NK0012:(AffineMode)(-1)|}"""));
        Assert.StartsWith("Affine is -1, which is not a defined AffineMode;", Message(diagnostics.Single()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NK0013_PerChannelByDefaultWithoutChannel_AtAttributeName()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [{|NK0013:Normalize|}(Layout = "NTL", Axes = "L")]
            public sealed partial class Layer;
            """);
        Assert.Equal(
            "Affine is PerChannel (the default), but Layout \"NTL\" has no C; expected a layout with C, or Affine = AffineMode.Elementwise or AffineMode.None",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task NK0013_PerChannelWrittenWithoutChannel_AtAffineValue()
    {
        await VerifyAsync(Layer("""Layout = "NTL", Axes = "L", Affine = {|NK0013:AffineMode.PerChannel|}"""));
    }

    [Fact]
    public async Task NK0014_ElementwiseWithOnlyBatchAxis_AtAffineValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = "N", Axes = "N", Affine = {|NK0014:AffineMode.Elementwise|}"""));
        Assert.Equal(
            "Affine is Elementwise, but Layout \"N\" has no axis besides N; expected a layout with an axis besides N, or Affine = AffineMode.None",
            Message(diagnostics.Single()));
    }

    // ---- Affine over a whole sample: NK0031 -----------------------------------------------------

    [Theory]
    [InlineData("Layout = \"NCHW\", Axes = \"C,H,W\"", "\"C,H,W\"")]                        // nn.LayerNorm([C, H, W]) or nn.GroupNorm(1, C)?
    [InlineData("Layout = \"NHWC\", Axes = \"H,W,C\"", "\"H,W,C\"")]                        // channels-last, any order
    [InlineData("Layout = \"NCL\", Axes = \"L,C\"", "\"L,C\"")]
    [InlineData("Layout = \"NCDHW\", Axes = \"C,D,H,W\", Epsilon = 1e-6", "\"C,D,H,W\"")]
    [InlineData("Layout = \"CHW\", Axes = \"C,H,W\"", "\"C,H,W\"")]                          // no N: the tensor is the sample
    [InlineData("Layout = \"NCHW\", Axes = \"C,H,W\", Kind = NormKind.RootMeanSquare", "\"C,H,W\"")] // nn.RMSNorm([C, H, W]) is elementwise too
    public async Task NK0031_AffineNotWrittenOverAWholeSample_AtAttributeName(string arguments, string axes)
    {
        var diagnostics = await VerifyAsync($$"""
            using NormKernels;

            [{|NK0031:Normalize|}({{arguments}})]
            public sealed partial class Layer;
            """);
        Assert.Equal(
            "Axes " + axes + " are every axis of a sample but N (a LayerNorm), and Affine is not written; expected Affine = AffineMode.Elementwise " +
            "(one weight per element of a sample: PyTorch's nn.LayerNorm over these dims), AffineMode.PerChannel (one weight per channel: " +
            "PyTorch's nn.GroupNorm(1, C)) or AffineMode.None",
            Message(diagnostics.Single()));
    }

    /// <summary>Without C the default PerChannel is NK0013 already: one mistake, one diagnostic.</summary>
    [Fact]
    public async Task NK0031_NotReportedWhereNK0013Is()
    {
        await VerifyAsync("""
            using NormKernels;

            [{|NK0013:Normalize|}(Layout = "NTL", Axes = "T,L")]
            public sealed partial class Layer;
            """);
    }

    /// <summary>The stub of an NK0031 declaration is the layer it was before NK0031 (per channel): code that uses it compiles.</summary>
    [Fact]
    public async Task NK0031_Stub_IsThePerChannelLayer_SoUseSitesCompile()
    {
        // The framework fails on any compiler error, generated code included: the NK0031 at its span is the one diagnostic.
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [{|NK0031:Normalize|}(Layout = "NCHW", Axes = "C,H,W")]
            public sealed partial class Layer;

            public static class Use
            {
                public static float[] Weight() => new Layer(channels: 64).Weight;
            }
            """);
        Assert.Equal(new[] { "NK0031" }, diagnostics.Select(d => d.Id));
    }

    // ---- Running statistics where there are none: NK0032 ------------------------------------------

    [Theory]
    [InlineData("Axes = \"H,W\", TrackRunningStats = {|NK0032:true|}", "\"H,W\"")]                  // PyTorch's InstanceNorm2d(track_running_stats=True)
    [InlineData("Layout = \"NTC\", Axes = \"C\", TrackRunningStats = {|NK0032:true|}", "\"C\"")]
    public async Task NK0032_TrackRunningStatsWithoutBatch_AtItsValue(string arguments, string axes)
    {
        var diagnostics = await VerifyAsync(Layer(arguments));
        Assert.Equal(
            "TrackRunningStats is true, but Axes " + axes + " do not reduce N: only a layer that reduces N (BatchNorm) keeps running statistics, " +
            "and this one normalizes every sample with its own statistics in training and inference; expected Axes with N, or no TrackRunningStats",
            Message(diagnostics.Single()));
    }

    // ---- Epsilon, Momentum: NK0015, NK0016 ---------------------------------------------------

    [Theory]
    [InlineData("0", "0")]
    [InlineData("-1e-5", "-1E-05")]
    [InlineData("double.NaN", "NaN")]
    [InlineData("double.PositiveInfinity", "Infinity")]
    [InlineData("1e39", "1E+39")]     // finite as a double, infinite as the constructor's float
    [InlineData("1e-50", "1E-50")]    // positive as a double, zero as a float
    public async Task NK0015_EpsilonNotPositive_AtEpsilonValue(string epsilon, string shown)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Axes = "H,W", Epsilon = {|NK0015:{{epsilon}}|}"""));
        Assert.Equal(
            "Epsilon is " + shown + "; expected a finite number greater than 0 that stays so as a float, such as the default 1e-5",
            Message(diagnostics.Single()));
    }

    [Theory]
    [InlineData("1.5", "1.5")]
    [InlineData("-0.1", "-0.1")]
    [InlineData("double.NaN", "NaN")]
    public async Task NK0016_MomentumOutOfRange_AtMomentumValue(string momentum, string shown)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Axes = "N,H,W", Momentum = {|NK0016:{{momentum}}|}"""));
        Assert.Equal(
            "Momentum is " + shown + "; expected a number from 0 to 1, such as the default 0.1",
            Message(diagnostics.Single()));
    }

    [Fact]
    public async Task Epsilon_FormattedInvariantly_UnderFinnishCulture()
    {
        CultureInfo saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("fi-FI");
            Assert.Contains("\u2212", (-1.5e-5).ToString(CultureInfo.CurrentCulture), StringComparison.Ordinal); // the trap is live
            var diagnostics = await VerifyAsync(Layer("""Axes = "H,W", Epsilon = {|NK0015:-1.5e-5|}"""));
            Assert.StartsWith("Epsilon is -1.5E-05;", Message(diagnostics.Single()), StringComparison.Ordinal);
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    // ---- running statistics: NK0017, NK0018 --------------------------------------------------

    [Fact]
    public async Task NK0017_RootMeanSquareWithBatchReduced_AtKindValue()
    {
        var diagnostics = await VerifyAsync(Layer("""Layout = "NC", Axes = "N", Kind = {|NK0017:NormKind.RootMeanSquare|}"""));
        Assert.Equal(
            "Kind is RootMeanSquare, but Axes \"N\" reduce N, and RMS normalization keeps no running statistics for inference; expected Axes without N, such as Axes = \"C\"",
            Message(diagnostics.Single()));
    }

    [Theory]
    [InlineData("Axes = {|NK0018:\"N,H\"|}", "\"CW\"")]                                        // kept C and W
    [InlineData("Axes = {|NK0018:\"N\"|}", "\"CHW\"")]                                         // per activation needs Elementwise
    [InlineData("Axes = {|NK0018:\"N,H,W\"|}, Affine = AffineMode.Elementwise", "\"C\"")]      // constructor takes normalizedSize
    public async Task NK0018_RunningStatisticsUnsized_AtAxesValue(string arguments, string kept)
    {
        var diagnostics = await VerifyAsync(Layer(arguments));
        Assert.Equal(
            "Axes reduce N, so running statistics are kept, but their count is not known at construction with kept axes " + kept
            + "; expected Axes that keep only C (BatchNorm), keep nothing, or, with Affine = AffineMode.Elementwise, keep every axis besides N; or TrackRunningStats = false",
            Message(diagnostics.Single()));
    }

    // ---- several problems, suppression, what is left alone -----------------------------------

    [Fact]
    public async Task SeveralProblems_AreReportedTogether_EachAtItsArgument()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            [{|NK0013:Normalize|}(Layout = "NTL", Axes = {|NK0007:"N,Q"|}, Groups = {|NK0009:-1|},
                       Epsilon = {|NK0015:0.0|}, Momentum = {|NK0016:2.0|}, Kind = {|NK0011:(NormKind)3|})]
            public sealed class {|NK0001:Layer|} { }
            """);
        Assert.Equal(7, diagnostics.Length);
    }

    [Fact]
    public async Task PragmaWarningDisable_SuppressesOnlyTheNamedId()
    {
        var diagnostics = await VerifyAsync("""
            using NormKernels;

            #pragma warning disable NK0007
            [Normalize(Layout = "NCHW", Axes = "N,Q", Momentum = {|NK0016:2.0|})]
            public sealed partial class Suppressed;
            #pragma warning restore NK0007

            [Normalize(Layout = "NCHW", Axes = {|NK0007:"N,Q"|})]
            public sealed partial class NotSuppressed;
            """);
        Assert.Equal(2, diagnostics.Length);

        // Without the pragma the first one is reported too: the test above is not vacuous.
        var unsuppressed = await VerifyAsync("""
            using NormKernels;

            [Normalize(Layout = "NCHW", Axes = {|NK0007:"N,Q"|})]
            public sealed partial class Suppressed;
            """);
        Assert.Equal("NK0007", unsuppressed.Single().Id);
    }

    /// <summary>An attribute the compiler rejects gets the compiler's errors (marked) and no NK diagnostic.</summary>
    [Theory]
    [InlineData("[Normalize(Axes = \"N,Q\", Groups = {|CS0182:System.Environment.ProcessorCount|})]")]   // not a constant
    [InlineData("[Normalize(Axes = \"N,Q\", Groups = {|CS0029:\"two\"|})]")]                             // wrong type
    [InlineData("[Normalize(Axes = \"N,Q\", {|CS0246:Size|} = 5)]")]                                     // no such property
    [InlineData("[Normalize(Axes = \"N,Q\", {|CS0643:Axes = \"N\"|})]")]                                 // written twice
    [InlineData("[{|CS1729:Normalize(\"N,Q\")|}]")]                                                      // positional
    [InlineData("[Normalize(Axes = \"N,Q\"{|CS1026:]|}")]                                                // syntax error
    [InlineData("[{|CS1729:Normalize(Axes = \"N,Q\", {|CS1016:|}{|CS1525:)|}|}]")]                            // syntax error
    public async Task MalformedAttribute_IsLeftToTheCompiler(string attribute)
    {
        var diagnostics = await VerifyAsync($$"""
            using NormKernels;

            {{attribute}}
            public sealed partial class Layer;
            """);
        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task OtherAttributeNamedNormalize_IsIgnored()
    {
        var diagnostics = await VerifyAsync("""
            namespace Other
            {
                public sealed class NormalizeAttribute : System.Attribute { public string Axes { get; set; } = ""; }

                [Normalize(Axes = "N,Q")]
                public sealed class Layer { }
            }
            """);
        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task GeneratedCode_IsNotAnalyzed()
    {
        var diagnostics = await VerifyAsync("""
            // <auto-generated/>
            using NormKernels;

            [Normalize(Axes = "N,Q")]
            public sealed class Layer { }
            """);
        Assert.Empty(diagnostics);
    }

    // ---- ElementType: NK0021 -----------------------------------------------------------------

    [Theory]
    [InlineData("typeof(int)", "int")]
    [InlineData("typeof(decimal)", "decimal")]
    [InlineData("typeof(System.Numerics.Complex)", "Complex")]
    public async Task NK0021_ElementTypeUnsupported_AtElementTypeValue(string type, string shown)
    {
        var diagnostics = await VerifyAsync(Layer($$"""Axes = "H,W", ElementType = {|NK0021:{{type}}|}"""));
        Assert.Equal("ElementType is '" + shown + "'; expected typeof(float), typeof(double) or typeof(Half)", Message(diagnostics.Single()));
    }

    [Theory]
    [InlineData("typeof(float)")]
    [InlineData("typeof(double)")]
    [InlineData("typeof(System.Half)")]
    public async Task NK0021_FloatDoubleAndHalfAreAccepted(string type)
    {
        Assert.Empty(await VerifyAsync(Layer($$"""Axes = "H,W", ElementType = {{type}}""")));
    }

    // ---- descriptors -------------------------------------------------------------------------

    /// <summary>Every descriptor the generators report, from DiagnosticDescriptors (internal to the generator assembly).</summary>
    internal static List<DiagnosticDescriptor> Descriptors() =>
        typeof(NormalizeGenerator).Assembly.GetType("NormKernels.Generators.Diagnostics.DiagnosticDescriptors", throwOnError: true)!
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .OrderBy(d => d.Id, StringComparer.Ordinal)
            .ToList();

    [Fact]
    public void Descriptors_AreNK0001ToNK0033_NK0040ToNK0046_UsageErrorsWithHelpLinks_AndNK0900()
    {
        var descriptors = Descriptors();
        Assert.Equal(
            Enumerable.Range(1, 33).Concat(Enumerable.Range(40, 7)).Select(i => "NK" + i.ToString("D4", CultureInfo.InvariantCulture)).Append("NK0900"),
            descriptors.Select(d => d.Id));
        Assert.All(descriptors, d =>
        {
            Assert.Equal(d.Id == "NK0900" ? "NormKernels.Generator" : "NormKernels.Usage", d.Category);
            Assert.Equal(d.Id == "NK0025" ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error, d.DefaultSeverity);
            Assert.True(d.IsEnabledByDefault);
            Assert.Equal(HelpBase + d.Id.ToLowerInvariant(), d.HelpLinkUri);
            Assert.False(string.IsNullOrWhiteSpace(d.Title.ToString(CultureInfo.InvariantCulture)));
        });
    }

    [Fact]
    public void For_MapsEveryLayoutProblemKind_ToItsOwnDescriptor()
    {
        // DiagnosticDescriptors and LayoutProblemKind are internal to the generator assembly.
        Assembly generator = typeof(NormalizeGenerator).Assembly;
        Type kinds = generator.GetType("NormKernels.LayoutProblemKind", throwOnError: true)!;
        MethodInfo map = generator.GetType("NormKernels.Generators.Diagnostics.DiagnosticDescriptors", throwOnError: true)!
            .GetMethod("For", BindingFlags.Public | BindingFlags.Static)!;

        var ids = Enum.GetValues(kinds).Cast<object>()
            .Select(kind => ((DiagnosticDescriptor)map.Invoke(null, new[] { kind })!).Id)
            .ToList();

        Assert.Equal(Enumerable.Range(2, 17).Append(31).Append(32).Concat(Enumerable.Range(40, 7)).Select(i => "NK" + i.ToString("D4", CultureInfo.InvariantCulture)), ids.Order(StringComparer.Ordinal));
        var undefined = Assert.Throws<TargetInvocationException>(() => map.Invoke(null, new[] { Enum.ToObject(kinds, 999) }));
        Assert.IsType<ArgumentOutOfRangeException>(undefined.InnerException);
    }

    [Fact]
    public void InternalGeneratorError_IsNK0900_WithTheDocumentedMessage()
    {
        var descriptor = (DiagnosticDescriptor)typeof(NormalizeGenerator).Assembly
            .GetType("NormKernels.Generators.Diagnostics.DiagnosticDescriptors", throwOnError: true)!
            .GetField("InternalGeneratorError", BindingFlags.Public | BindingFlags.Static)!
            .GetValue(null)!;

        Assert.Equal("NK0900", descriptor.Id);
        Assert.Equal("NormKernels.Generator", descriptor.Category);
        Assert.Equal(DiagnosticSeverity.Error, descriptor.DefaultSeverity);
        Assert.Equal(HelpBase + "nk0900", descriptor.HelpLinkUri);
        Assert.Equal(
            "The NormKernels generator failed on 'Models.StemNorm': System.InvalidOperationException: no plan. Please report this.",
            Message(Diagnostic.Create(descriptor, Location.None, "Models.StemNorm", "System.InvalidOperationException", "no plan")));
    }

    /// <summary>Every usage id the generators report.</summary>
    private static IEnumerable<string> UsageIds() =>
        Descriptors().Where(d => d.Category == "NormKernels.Usage").Select(d => d.Id);

    private static string ReadDocumentation()
    {
        string? root = AppContext.BaseDirectory;
        while (root != null && !File.Exists(Path.Combine(root, "NormKernels.sln"))) root = Path.GetDirectoryName(root);
        Assert.NotNull(root);
        return File.ReadAllText(Path.Combine(root, "docs", "diagnostics.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>The C# blocks of the "## NKnnnn" section of docs/diagnostics.md.</summary>
    private static List<string> DocumentationExamples(string docs, string id)
    {
        int start = docs.IndexOf("\n## " + id + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/diagnostics.md has no section '## " + id + "'");
        int end = docs.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = end < 0 ? docs[start..] : docs[start..end];

        var blocks = new List<string>();
        for (int open = section.IndexOf("```csharp\n", StringComparison.Ordinal); open >= 0;
             open = section.IndexOf("```csharp\n", open + 1, StringComparison.Ordinal))
        {
            int body = open + "```csharp\n".Length;
            blocks.Add(section[body..section.IndexOf("```", body, StringComparison.Ordinal)]);
        }
        return blocks;
    }

    [Fact]
    public void Documentation_HasASectionPerId_WithHelpLinkAnchors()
    {
        string docs = ReadDocumentation();
        var ids = UsageIds().Append("NK0900");
        Assert.All(ids, id =>
        {
            Assert.Contains("\n## " + id + "\n", docs, StringComparison.Ordinal);          // GitHub anchor #nk00nn
            Assert.Contains("[" + id + "](#" + id.ToLowerInvariant() + ")", docs, StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// Each section's first example, compiled as written (with every generator and any shipped analyzer), reports exactly one
    /// NK diagnostic, its id, and no compiler error; the second compiles with no error and no NK diagnostic, generated
    /// code included.
    /// </summary>
    [Theory]
    [MemberData(nameof(DocumentedUsageIds))]
    public async Task Documentation_WrongExampleReportsExactlyItsId_CorrectedExampleCompiles(string id)
    {
        var examples = DocumentationExamples(ReadDocumentation(), id);
        Assert.Equal(2, examples.Count);

        var (wrongNk, wrongErrors) = await CompileAsDocumentedAsync(examples[0]);
        Assert.Equal(new[] { id }, wrongNk.Select(d => d.Id));
        Assert.True(wrongErrors.IsEmpty, "the wrong example of " + id + " also has: " + string.Join("; ", wrongErrors));

        var (correctedNk, correctedErrors) = await CompileAsDocumentedAsync(examples[1]);
        Assert.True(correctedNk.IsEmpty && correctedErrors.IsEmpty,
            "the corrected example of " + id + " has: " + string.Join("; ", correctedNk.Concat(correctedErrors)));
    }

    /// <summary>The NK diagnostics (analyzers and generators) and the compiler errors of an example, generated code included.</summary>
    private static Task<(ImmutableArray<Diagnostic> Nk, ImmutableArray<Diagnostic> Errors)> CompileAsDocumentedAsync(string example) =>
        GeneratorHelper.BuildAsync("using System;\nusing NormKernels;\n" + example);

    public static TheoryData<string> DocumentedUsageIds()
    {
        var data = new TheoryData<string>();
        foreach (string id in UsageIds()) data.Add(id);
        return data;
    }
}
