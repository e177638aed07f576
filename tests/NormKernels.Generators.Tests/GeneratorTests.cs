using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Tests;

/// <summary>
/// The whole matrix in one compilation: generated once, compiled strictly, emitted and loaded into a collectible
/// AssemblyLoadContext so the layers can run.
/// </summary>
public sealed class CompiledMatrixFixture : IDisposable
{
    private readonly AssemblyLoadContext _context = new("NormKernelsGeneratorTests", isCollectible: true);

    public CompiledMatrixFixture()
    {
        Run = GeneratorHelper.Run(LayerCase.Matrix.Select(c => c.Source).ToArray());
        using var image = new MemoryStream();
        EmitResult = Run.Output.Emit(image);
        if (EmitResult.Success)
        {
            image.Position = 0;
            Assembly = _context.LoadFromStream(image);
        }
    }

    internal GeneratorRun Run { get; }

    internal Microsoft.CodeAnalysis.Emit.EmitResult EmitResult { get; }

    /// <summary>The compiled matrix, or null when it did not compile (the compile tests then say why).</summary>
    internal Assembly? Assembly { get; }

    /// <summary>Constructs the layer sized for <paramref name="dims"/> (default: the case's dims), other arguments defaulted.</summary>
    internal INormalizationLayer Create(LayerCase layer, out ParameterInfo[] parameters, int[]? dims = null)
    {
        Assert.True(EmitResult.Success, "the matrix did not compile: " + string.Join("\n", EmitResult.Diagnostics));
        Type type = Assembly!.GetType(layer.MetadataName, throwOnError: true)!;
        ConstructorInfo constructor = Assert.Single(type.GetConstructors());
        parameters = constructor.GetParameters();
        dims ??= layer.Dims;
        // Every parameter but the size is optional: pass its default, as a caller who omits it gets.
        object?[] arguments = parameters.Select(p => p.Name switch
        {
            "channels" => (object)dims[layer.Layout.IndexOf('C')],
            "normalizedSize" => dims.Where((_, k) => layer.Layout[k] != 'N').Aggregate(1, (a, b) => a * b),
            _ => p.DefaultValue,
        }).ToArray();
        return Assert.IsAssignableFrom<INormalizationLayer>(constructor.Invoke(arguments));
    }

    public void Dispose() => _context.Unload();
}

/// <summary>
/// NormalizeGenerator through CSharpGeneratorDriver over the test matrix: no generator diagnostics, one file per layer,
/// the output compiles with no diagnostic at all at warning level 9999 (nullable on, documentation diagnosed), and the
/// compiled layers compute the formula of docs/architecture.md.
/// </summary>
public sealed class GeneratorTests : IClassFixture<CompiledMatrixFixture>
{
    private readonly CompiledMatrixFixture _matrix;

    public GeneratorTests(CompiledMatrixFixture matrix) => _matrix = matrix;

    [Theory]
    [MemberData(nameof(LayerCase.Names), MemberType = typeof(LayerCase))]
    public void Layer_GeneratesOneFile_ThatCompilesWithoutAnyDiagnostic(string name)
    {
        LayerCase layer = LayerCase.Get(name);
        GeneratorRun run = GeneratorHelper.Run(layer.Source);

        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics for " + name);
        Assert.Equal(new[] { layer.HintName }, run.Sources.Keys);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the output for " + name);
    }

    /// <summary>The one generated file of a layer declared with these arguments, after asserting that neither the generator
    /// nor the compilation of its output reports anything.</summary>
    private static string CompiledLayer(string layout, string axes, string more, string name)
    {
        string source = "using NormKernels;\nnamespace Layers;\n[Normalize(Layout = \"" + layout + "\", Axes = \"" + axes + "\"" + more +
                        ")]\npublic sealed partial class " + name + ";\n";
        GeneratorRun run = GeneratorHelper.Run(source);
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics");
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling " + name);
        return run.Sources.Values.Single();
    }

    [Theory]
    [InlineData("NCHW", "N,H,W", "")]
    [InlineData("NHWC", "C,H,W", ", Groups = 4")]
    [InlineData("NTC", "C", ", Kind = NormKind.RootMeanSquare, Affine = AffineMode.Elementwise")]
    [InlineData("NHWC", "C,H,W", ", Affine = AffineMode.Elementwise")]
    public void DoubleLayer_CompilesWithoutAnyDiagnostic_AndImplementsTheDoubleInterface(string layout, string axes, string more)
    {
        string generated = CompiledLayer(layout, axes, more + ", ElementType = typeof(double), Epsilon = 1e-7", "DoubleLayer");
        Assert.Contains(": NK.INormalizationLayer<double>", generated);
        Assert.Contains("double epsilon = 1E-07d", generated);               // the attribute's double, not a float literal
        Assert.DoesNotContain("<float>", generated);
        Assert.DoesNotContain("float ", generated);
    }

    [Theory]
    [InlineData("NCHW", "N,H,W", "")]
    [InlineData("NHWC", "C,H,W", ", Groups = 4, Activation = NormActivation.Silu")]
    [InlineData("NTC", "C", ", Residual = ResidualMode.AddBeforeNorm")]
    [InlineData("NTC", "C", ", Kind = NormKind.RootMeanSquare, Sizes = \"C=64\"")]
    public void HalfLayer_CompilesWithoutAnyDiagnostic_HalfTensorsFloatParameters(string layout, string axes, string more)
    {
        string generated = CompiledLayer(layout, axes, more + ", ElementType = typeof(System.Half)", "HalfLayer");
        Assert.Contains("Rt.HalfLayer<Nest, ", generated);                           // the runtime's Half wrapper over the float plan
        Assert.Contains("ReadOnlySpan<Half> input", generated);
        Assert.Contains("public float[] Weight", generated);                          // float parameters
        Assert.DoesNotContain("INormalizationLayer", generated);                     // its members would be Half
        Assert.DoesNotContain("ShardStatistics", generated);                         // the forward and backward only
        Assert.DoesNotContain("AdaptiveForward", generated);
    }

    [Fact]
    public void Matrix_InOneCompilation_OneFilePerLayer_NoDiagnostics_Emits()
    {
        GeneratorRun run = _matrix.Run;
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.GeneratorDiagnostics, "generator diagnostics");
        Assert.Equal(
            LayerCase.Matrix.Select(c => c.HintName).Order(StringComparer.Ordinal),
            run.Sources.Keys.Order(StringComparer.Ordinal));
        GeneratorHelper.AssertNoDiagnostics(run.Output, run.Output.GetDiagnostics(), "compiling the matrix");
        GeneratorHelper.AssertNoDiagnostics(run.Output, _matrix.EmitResult.Diagnostics, "emitting the matrix");
        Assert.True(_matrix.EmitResult.Success);
        Assert.NotNull(_matrix.Assembly);
    }

    [Theory]
    [MemberData(nameof(LayerCase.Names), MemberType = typeof(LayerCase))]
    public void Layer_Surface_MatchesTheDeclaration(string name)
    {
        LayerCase layer = LayerCase.Get(name);
        INormalizationLayer instance = _matrix.Create(layer, out ParameterInfo[] parameters);

        Assert.Equal(layer.Layout, instance.Layout);
        Assert.Equal(layer.Axes, instance.Axes);
        Assert.Equal(layer.Groups, instance.Groups);
        Assert.Equal(layer.Kind, instance.Kind.ToString());
        Assert.Equal(layer.Affine, instance.Affine.ToString());
        Assert.True(instance.Training);
        Assert.Equal((float)layer.EffectiveEpsilon, instance.Epsilon);
        Assert.Equal((float)layer.EffectiveEpsilon, Assert.Single(parameters, p => p.Name == "epsilon").DefaultValue);
        if (layer.Running)
            Assert.Equal((float)layer.EffectiveMomentum, Assert.Single(parameters, p => p.Name == "momentum").DefaultValue);
        else
            Assert.DoesNotContain(parameters, p => p.Name == "momentum");
        Assert.Equal(layer.Running, instance.RunningMean != null);
        Assert.Equal(layer.Running, instance.RunningVar != null);
        if (layer.Affine == "None") Assert.Empty(instance.Weight);
        else Assert.NotEmpty(instance.Weight);

        // The module surface: PyTorch's parameter names and state_dict keys, and a description that starts with the type.
        Assert.Equal(layer.Affine == "None" ? Array.Empty<string>() : new[] { "weight", "bias" }, instance.Parameters().Select(p => p.Name));
        var keys = new List<string>();
        if (layer.Affine != "None") keys.AddRange(new[] { "weight", "bias" });
        if (layer.Running) keys.AddRange(new[] { "running_mean", "running_var", "num_batches_tracked" });
        Assert.Equal(keys, instance.StateDict().Keys);
        Assert.StartsWith(layer.Name + "(", instance.ToString(), StringComparison.Ordinal);
        Assert.Contains(", layout=" + layer.Layout + ", axes=" + layer.Axes + ",", instance.ToString(), StringComparison.Ordinal);
        Assert.Equal(layer.Running, instance.GetType().GetProperty("NumBatchesTracked") != null);
        Assert.Equal(layer.Running, instance.GetType().GetMethod("ResetRunningStats") != null);
    }

    /// <summary>BatchNorm NCHW on a 2x3x2x2 tensor against explicit float64 loops: training output, running statistics, inference.</summary>
    [Fact]
    public void BatchNormNchw_MatchesExplicitLoops()
    {
        const int N = 2, C = 3, H = 2, W = 2;
        var layer = _matrix.Create(LayerCase.Get("BnNchw"), out _, new[] { N, C, H, W });
        float[] x = Float64Reference.Data(N * C * H * W, seed: 7, offset: 10, scale: 2);
        float[] gamma = { 0.5f, 2f, -1f }, beta = { 0.25f, -3f, 1f };
        gamma.CopyTo(layer.Weight, 0);
        beta.CopyTo(layer.Bias, 0);
        const double eps = 1e-5, momentum = 0.1;

        double[] mean = new double[C], variance = new double[C];
        for (int c = 0; c < C; c++)
        {
            double sum = 0;
            for (int n = 0; n < N; n++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        sum += x[((n * C + c) * H + h) * W + w];
            mean[c] = sum / (N * H * W);
            double sq = 0;
            for (int n = 0; n < N; n++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        sq += Math.Pow(x[((n * C + c) * H + h) * W + w] - mean[c], 2);
            variance[c] = sq / (N * H * W);
        }
        double[] expected = new double[x.Length];
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                    {
                        int i = ((n * C + c) * H + h) * W + w;
                        expected[i] = (x[i] - mean[c]) / Math.Sqrt(variance[c] + eps) * gamma[c] + beta[c];
                    }

        float[] y = new float[x.Length];
        layer.Forward(x, y, new[] { N, C, H, W });
        Float64Reference.AssertClose(expected, y, 1e-5, "y");
        Assert.NotEqual(KernelPath.None, layer.LastPath);

        // PyTorch: running = (1 - momentum) * running + momentum * batch, the variance unbiased (m / (m - 1)).
        double m = N * H * W;
        Float64Reference.AssertClose(mean.Select(v => momentum * v).ToArray(), layer.RunningMean!, 1e-6, "RunningMean");
        Float64Reference.AssertClose(variance.Select(v => (1 - momentum) + momentum * v * m / (m - 1)).ToArray(), layer.RunningVar!, 1e-6, "RunningVar");

        // Inference: the running statistics, not the batch's.
        layer.Training = false;
        float[] inferred = new float[x.Length];
        layer.Forward(x, inferred, new[] { N, C, H, W });
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                    {
                        int i = ((n * C + c) * H + h) * W + w;
                        expected[i] = (x[i] - layer.RunningMean![c]) / Math.Sqrt(layer.RunningVar![c] + eps) * gamma[c] + beta[c];
                    }
        Float64Reference.AssertClose(expected, inferred, 1e-5, "inference y");
    }

    /// <summary>Every layer of the matrix, training mode, against <see cref="Float64Reference"/> with non-trivial weight and bias.</summary>
    [Theory]
    [MemberData(nameof(LayerCase.Names), MemberType = typeof(LayerCase))]
    public void Layer_Forward_MatchesFloat64Reference(string name)
    {
        LayerCase layerCase = LayerCase.Get(name);
        INormalizationLayer layer = _matrix.Create(layerCase, out _);
        int[] dims = layerCase.Dims;
        int total = dims.Aggregate(1, (a, b) => a * b);
        float[] x = Float64Reference.Data(total, seed: name.Length, offset: 3, scale: 1.5);
        float[] weight = Float64Reference.Data(layer.Weight.Length, seed: 1, offset: 1, scale: 0.5);
        float[] bias = Float64Reference.Data(layer.Bias.Length, seed: 2, offset: 0, scale: 0.5);
        weight.CopyTo(layer.Weight, 0);
        bias.CopyTo(layer.Bias, 0);

        float[] y = new float[total];
        layer.Forward(x, y, dims);

        var expected = Float64Reference.Forward(layerCase, dims, x, weight, bias, (float)layerCase.EffectiveEpsilon);
        Float64Reference.AssertClose(expected.Output, y, 1e-5, name + " y");
        if (layerCase.Running)
        {
            double momentum = (float)layerCase.EffectiveMomentum, m = expected.CountPerStatistic;
            Float64Reference.AssertClose(expected.Mean.Select(v => momentum * v).ToArray(), layer.RunningMean!, 1e-6, name + " RunningMean");
            Float64Reference.AssertClose(expected.Variance.Select(v => (1 - momentum) + momentum * v * m / (m - 1)).ToArray(),
                layer.RunningVar!, 1e-6, name + " RunningVar");
        }
    }
}
