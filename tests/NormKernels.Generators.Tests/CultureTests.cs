using System.Globalization;
using System.Text;

namespace NormKernels.Generators.Tests;

/// <summary>
/// Everything the generator prints goes through the invariant culture: under fi-FI and sv-SE (decimal comma, U+2212 minus
/// sign) the generated text is byte-identical to the invariant run, and compiles.
/// </summary>
public sealed class CultureTests
{
    private static readonly LayerCase[] Layers =
    {
        new("CultureBn", "NHWC", "N,H,W", Epsilon: 1e-5, Momentum: 0.25),
        new("CultureGn", "NCHW", "C,H,W", Groups: 4, Epsilon: 1e-5),
    };

    private static GeneratorRun RunUnder(CultureInfo culture)
    {
        CultureInfo culture0 = CultureInfo.CurrentCulture, uiCulture0 = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentCulture = culture;
            CultureInfo.CurrentUICulture = culture;
            return GeneratorHelper.Run(Layers.Select(l => l.Source).ToArray());
        }
        finally
        {
            CultureInfo.CurrentCulture = culture0;
            CultureInfo.CurrentUICulture = uiCulture0;
        }
    }

    [Theory]
    [InlineData("fi-FI")]
    [InlineData("sv-SE")]
    public void GeneratedText_IsByteIdenticalToTheInvariantRun_AndCompiles(string name)
    {
        var culture = CultureInfo.GetCultureInfo(name);
        // The canaries only sing where the culture really formats differently (ICU present, not invariant globalization).
        Assert.Equal("\u2212", culture.NumberFormat.NegativeSign);
        Assert.NotEqual((1e-5).ToString(CultureInfo.InvariantCulture), (1e-5).ToString(culture));
        Assert.NotEqual((0.25f).ToString(CultureInfo.InvariantCulture), (0.25f).ToString(culture));

        CultureInfo before = CultureInfo.CurrentCulture;
        GeneratorRun invariant = RunUnder(CultureInfo.InvariantCulture);
        GeneratorRun localized = RunUnder(culture);
        Assert.Same(before, CultureInfo.CurrentCulture);

        Assert.Equal(Layers.Select(l => l.HintName).Order(StringComparer.Ordinal), localized.Sources.Keys.Order(StringComparer.Ordinal));
        foreach (var (hint, text) in invariant.Sources)
        {
            byte[] expected = Encoding.UTF8.GetBytes(text);
            byte[] actual = Encoding.UTF8.GetBytes(localized.Sources[hint]);
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                int line = FirstDifferentLine(text, localized.Sources[hint]);
                Assert.Fail(hint + " under " + name + " differs from the invariant run at line " + line + ":\n  invariant: " +
                    text.Split('\n')[line - 1] + "\n  " + name + ": " + localized.Sources[hint].Split('\n')[line - 1]);
            }
        }
        // The canaries are in the text: epsilon and momentum as float literals.
        Assert.Contains("float epsilon = 1E-05f", invariant.Sources[Layers[0].HintName], StringComparison.Ordinal);
        Assert.Contains("float? momentum = 0.25f", invariant.Sources[Layers[0].HintName], StringComparison.Ordinal);

        GeneratorHelper.AssertNoDiagnostics(localized.Output, localized.GeneratorDiagnostics, "generator diagnostics under " + name);
        GeneratorHelper.AssertNoDiagnostics(localized.Output, localized.Output.GetDiagnostics(), "compiling the output generated under " + name);
    }

    private static int FirstDifferentLine(string a, string b)
    {
        string[] x = a.Split('\n'), y = b.Split('\n');
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
            if (x[i] != y[i]) return i + 1;
        return Math.Min(x.Length, y.Length) + 1;
    }
}
