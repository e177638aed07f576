using NormKernels.Runtime;

namespace NormKernels.Tests;

/// <summary>
/// <see cref="LayerShape.Call"/>, the Forward's checks in one pass, against the checks one by one (<see cref="LayerShape.Shape"/>,
/// <see cref="LayerShape.LayerSize"/>, <see cref="LayerShape.Statistics"/>) that it stands for: on random dims and span lengths,
/// valid and not (zero and negative dims, dims off the fixed size or the layer's size, a sample's dims reordered so the groups do not
/// divide the channels,
/// products past a span, lengths one off), both give the same element and statistic counts or throw the same exception
/// type with the same parameter name and message.
/// </summary>
public sealed class LayerShapeCallTests
{
    public static TheoryData<string> Shapes => new() { "ln-sized", "gn-nchw", "gn-elementwise", "ln-elementwise", "bn-nhwc", "rms-none", "in-nchw" };

    private static (LayerShape Shape, int Size, int[] Typical) Make(string name) => name switch
    {
        "ln-sized" => (new LayerShape("LnSized", "NTC", "C", 0, AffineMode.PerChannel, NormKind.Standardize, LayerFeatures.Shards, "C=768"), 768, [2, 3, 768]),
        "gn-nchw" => (new LayerShape("Gn", "NCHW", "CHW", 4, AffineMode.PerChannel, NormKind.Standardize, LayerFeatures.Shards), 8, [2, 8, 3, 5]),
        "gn-elementwise" => (new LayerShape("GnEw", "NCHW", "CHW", 4, AffineMode.Elementwise, NormKind.Standardize, LayerFeatures.Shards), 72, [2, 4, 3, 6]),
        "ln-elementwise" => (new LayerShape("LnEw", "NCHW", "CHW", 0, AffineMode.Elementwise, NormKind.Standardize, LayerFeatures.Shards), 60, [2, 3, 4, 5]),
        "bn-nhwc" => (new LayerShape("Bn", "NHWC", "NHW", 0, AffineMode.PerChannel, NormKind.Standardize, LayerFeatures.Shards | LayerFeatures.RunningStatistics), 6, [3, 4, 5, 6]),
        "rms-none" => (new LayerShape("Rms", "NC", "C", 0, AffineMode.None, NormKind.RootMeanSquare, LayerFeatures.Shards), 9, [4, 9]),
        _ => (new LayerShape("In", "NCHW", "HW", 0, AffineMode.PerChannel, NormKind.Standardize, LayerFeatures.Shards), 5, [2, 5, 3, 7]),
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void OnePassGivesTheChecksOneByOne(string name)
    {
        var (shape, size, typical) = Make(name);
        var random = new Random(KernelCheck.Seed(name, 5));
        int valid = 0, refused = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            int[] dims = (int[])typical.Clone();
            int kind = random.Next(10);
            if (kind == 1) dims[random.Next(dims.Length)] = random.Next(-3, 1);                        // zero or negative
            else if (kind == 2) dims[random.Next(dims.Length)] += random.Next(1, 4);                    // off a fixed or layer size
            else if (kind == 3) dims[random.Next(dims.Length)] = int.MaxValue - random.Next(3);         // past a span
            else if (kind == 4) for (int i = 0; i < dims.Length; i++) dims[i] = random.Next(1, 70000);  // anything, often too large
            else if (kind == 5) dims = dims[..^1];                                                      // wrong rank
            else if (kind == 9) random.Shuffle(dims.AsSpan(1));                                         // a sample's dims in another order
            long product = 1;
            foreach (int d in dims) product = Math.Clamp(product * Math.Max(d, 0), 0, int.MaxValue);
            int inputLength = (int)product + (kind == 6 ? random.Next(-1, 2) : 0);
            int outputLength = (int)product + (kind == 7 ? random.Next(-1, 2) : 0);
            int layerSize = size + (kind == 8 ? random.Next(1, 3) : 0);

            Exception? expected = null;
            int count = 0, statistics = 0;
            try
            {
                count = shape.Shape(dims, inputLength, outputLength);
                shape.LayerSize(dims, layerSize);
                statistics = shape.Statistics(dims);
            }
            catch (Exception e) { expected = e; }

            Exception? actual = null;
            int callCount = 0, callStatistics = 0;
            try { callCount = shape.Call(dims, inputLength, outputLength, layerSize, out callStatistics); }
            catch (Exception e) { actual = e; }

            string what = $"{name} [{string.Join(", ", dims)}] input {inputLength} output {outputLength} size {layerSize}";
            if (expected is null)
            {
                Assert.True(actual is null, $"{what}: threw {actual?.Message}");
                Assert.Equal(count, callCount);
                Assert.Equal(statistics, callStatistics);
                valid++;
            }
            else
            {
                Assert.True(actual is not null, $"{what}: expected {expected.GetType().Name}: {expected.Message}");
                Assert.Equal(expected.GetType(), actual!.GetType());
                Assert.Equal((expected as ArgumentException)?.ParamName, (actual as ArgumentException)?.ParamName);
                Assert.Equal(expected.Message, actual.Message);
                refused++;
            }
        }
        // Both branches ran many times.
        Assert.True(valid > 300 && refused > 300, $"{valid} valid, {refused} refused");
    }
}
