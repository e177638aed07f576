using System.Globalization;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The fused epilogue's and Sizes' diagnostics (issue 12): NK0040-NK0046, each once, at the argument it is about; valid
/// declarations report nothing and compile, generated code included.
/// </summary>
public sealed class EpilogueDiagnosticsTests
{
    private static string Layer(string arguments) => $$"""
        using NormKernels;

        [Normalize({{arguments}})]
        public sealed partial class Layer;
        """;

    private static async Task<IReadOnlyList<Diagnostic>> VerifyAsync(string markup) =>
        (await BuildTest.RunAsync(markup, typeof(NormalizeGenerator))).Reported;

    [Theory]
    [InlineData("Layout = \"NCHW\", Axes = \"N,H,W\", Activation = NormActivation.Relu, Residual = ResidualMode.AddAfterNorm")]
    [InlineData("Layout = \"NTC\", Axes = \"C\", Residual = ResidualMode.AddBeforeNorm, Sizes = \"C=768\"")]
    [InlineData("Layout = \"NHWC\", Axes = \"H,W,C\", Groups = 32, Activation = NormActivation.Silu, Sizes = \"C=320, H=8 ,W=8\"")]
    [InlineData("Layout = \"NTC\", Axes = \"C\", Kind = NormKind.RootMeanSquare, Activation = NormActivation.GeluTanh, ElementType = typeof(double)")]
    [InlineData("Layout = \"NCHW\", Axes = \"H,W\", Activation = NormActivation.Gelu, Sizes = \"N=2,C=3,H=5,W=7\"")]
    public async Task ValidDeclarations_ReportNothing_AndCompile(string arguments)
    {
        await VerifyAsync(Layer(arguments));
        // The generated layer compiles warning-free under the strict options the generator tests use.
        var run = GeneratorHelper.Run(Layer(arguments));
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics.Concat(run.Output.GetDiagnostics()), "generated layer");
    }

    [Fact]
    public async Task UndefinedActivation_IsNK0040()
    {
        var d = await VerifyAsync(Layer("""Axes = "N,H,W", Activation = {|NK0040:(NormActivation)9|}"""));
        Assert.Contains("Activation 9 is not a NormActivation value", d[0].GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task UndefinedResidual_IsNK0041() =>
        await VerifyAsync(Layer("""Axes = "N,H,W", Residual = {|NK0041:(ResidualMode)3|}"""));

    [Theory]
    [InlineData("\"C\"")]
    [InlineData("\"C=768=1\"")]
    [InlineData("\"c=768\"")]
    [InlineData("\"CH=8\"")]
    [InlineData("\"C=768,\"")]
    public async Task MalformedSizes_IsNK0042(string sizes) =>
        await VerifyAsync(Layer("Layout = \"NTC\", Axes = \"C\", Sizes = {|NK0042:" + sizes + "|}"));

    [Fact]
    public async Task SizesLetterNotInLayout_IsNK0043()
    {
        var d = await VerifyAsync(Layer("""Layout = "NTC", Axes = "C", Sizes = {|NK0043:"H=8"|}"""));
        Assert.Contains("'H' (Layout is \"NTC\")", d[0].GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("\"C=0\"")]
    [InlineData("\"C=-4\"")]
    [InlineData("\"C=x\"")]
    [InlineData("\"C=99999999999\"")]
    public async Task NonPositiveSize_IsNK0044(string sizes) =>
        await VerifyAsync(Layer("Layout = \"NTC\", Axes = \"C\", Sizes = {|NK0044:" + sizes + "|}"));

    [Fact]
    public async Task DuplicateSize_IsNK0045_Once() =>
        await VerifyAsync(Layer("""Layout = "NHWC", Axes = "H,W", Sizes = {|NK0045:"H=8,W=8,H=8,H=4"|}"""));

    [Fact]
    public async Task SizeContradictingGroups_IsNK0046()
    {
        var d = await VerifyAsync(Layer("""Layout = "NHWC", Axes = "H,W,C", Groups = 32, Sizes = {|NK0046:"C=100"|}"""));
        Assert.Contains("C = 100 with Groups = 32", d[0].GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task SizesOnAnInvalidLayout_IsNotASecondError() =>
        // The layout's mistake is the one error: Sizes is not checked against it.
        await VerifyAsync(Layer("""Layout = {|NK0004:"NCC"|}, Axes = "N", Sizes = "Q=3" """));
}
