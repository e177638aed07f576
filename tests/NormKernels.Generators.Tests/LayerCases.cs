using System.Globalization;
using System.Text;

namespace NormKernels.Generators.Tests;

/// <summary>
/// One declaration of the generator test matrix: what the user writes, and what the test needs to know to check it.
/// Only the non-default attribute arguments are written, so the defaults are exercised too.
/// </summary>
/// <param name="Name">The class name (unique across the matrix, so every case fits in one compilation).</param>
/// <param name="Namespace">Its namespace; empty for the global namespace.</param>
/// <param name="Container">A partial class it is nested in, or null.</param>
/// <param name="WriteAffine">Write <c>Affine</c> even when it is the default PerChannel (NK0031 asks for it over a whole sample).</param>
/// <param name="TrackRunningStats">The attribute's <c>TrackRunningStats</c>; written when false.</param>
internal sealed record LayerCase(
    string Name,
    string Layout,
    string Axes,
    int Groups = 0,
    string Kind = "Standardize",
    string Affine = "PerChannel",
    double? Epsilon = null,
    double? Momentum = null,
    string Namespace = "Layers",
    string? Container = null,
    bool WriteAffine = false,
    bool TrackRunningStats = true)
{
    public static readonly LayerCase[] Matrix =
    {
        new("BnNchw", "NCHW", "N,H,W"),
        new("BnNhwc", "NHWC", "N,H,W"),
        new("BnNcdhw", "NCDHW", "N,D,H,W"),
        new("BnNdhwc", "NDHWC", "N,D,H,W"),
        new("BnNc", "NC", "N"),
        new("LnNtc", "NTC", "C"),
        new("LnNchwElementwise", "NCHW", "C,H,W", Affine: "Elementwise"),
        new("InNchw", "NCHW", "H,W"),
        new("InNhwc", "NHWC", "H,W"),
        new("GnNchw", "NCHW", "C,H,W", Groups: 4),
        new("GnNhwc", "NHWC", "C,H,W", Groups: 4),
        new("RmsNtc", "NTC", "C", Kind: "RootMeanSquare"),
        new("BnNchwNoAffine", "NCHW", "N,H,W", Affine: "None"),
        new("LnNtcNoAffine", "NTC", "C", Affine: "None"),
        new("GnNhwcNoAffine", "NHWC", "C,H,W", Groups: 4, Affine: "None"),
        new("NestedBn", "NHWC", "N,H,W", Container: "Outer"),
        new("GlobalLn", "NTC", "C", Namespace: ""),
        new("BnNcEpsilonMomentum", "NC", "N", Epsilon: 1e-3, Momentum: 0.01),
        new("BnNhwcUntracked", "NHWC", "N,H,W", TrackRunningStats: false),
        new("LnNchwPerChannel", "NCHW", "C,H,W", WriteAffine: true),
    };

    public static IEnumerable<object[]> Names => Matrix.Select(c => new object[] { c.Name });

    public static LayerCase Get(string name) => Matrix.Single(c => c.Name == name);

    public string FullName =>
        (Namespace.Length > 0 ? Namespace + "." : "") + (Container != null ? Container + "." : "") + Name;

    /// <summary>The name reflection finds it by (nested types after a '+').</summary>
    public string MetadataName =>
        (Namespace.Length > 0 ? Namespace + "." : "") + (Container != null ? Container + "+" : "") + Name;

    /// <summary>The hint name the generator gives the layer's file.</summary>
    public string HintName => FullName + ".Normalize.g.cs";

    public double EffectiveEpsilon => Epsilon ?? 1e-5;

    public double EffectiveMomentum => Momentum ?? 0.1;

    public bool BatchReduced => ReducedLetters.Contains('N');

    /// <summary>The layer keeps running statistics: N reduced, TrackRunningStats not false.</summary>
    public bool Running => BatchReduced && TrackRunningStats;

    public HashSet<char> ReducedLetters => Axes.Split(',').Select(a => a.Trim()[0]).ToHashSet();

    /// <summary>The attribute as the user writes it.</summary>
    public string Attribute
    {
        get
        {
            var args = new List<string> { "Layout = \"" + Layout + "\"", "Axes = \"" + Axes + "\"" };
            if (Groups > 0) args.Add("Groups = " + Groups.ToString(CultureInfo.InvariantCulture));
            if (Kind != "Standardize") args.Add("Kind = NormKind." + Kind);
            if (Affine != "PerChannel" || WriteAffine) args.Add("Affine = AffineMode." + Affine);
            if (Epsilon is double e) args.Add("Epsilon = " + e.ToString("R", CultureInfo.InvariantCulture));
            if (Momentum is double m) args.Add("Momentum = " + m.ToString("R", CultureInfo.InvariantCulture));
            if (!TrackRunningStats) args.Add("TrackRunningStats = false");
            return "[Normalize(" + string.Join(", ", args) + ")]";
        }
    }

    /// <summary>A complete, documented source file declaring the layer.</summary>
    public string Source
    {
        get
        {
            var text = new StringBuilder();
            text.Append("using NormKernels;\n\n");
            if (Namespace.Length > 0) text.Append("namespace ").Append(Namespace).Append(";\n\n");
            string indent = "";
            if (Container != null)
            {
                text.Append("/// <summary>A user type the layer is nested in.</summary>\n");
                text.Append("public partial class ").Append(Container).Append("\n{\n");
                indent = "    ";
            }
            text.Append(indent).Append("/// <summary>Test layer ").Append(Name).Append(".</summary>\n");
            text.Append(indent).Append(Attribute).Append('\n');
            text.Append(indent).Append("public sealed partial class ").Append(Name).Append(";\n");
            if (Container != null) text.Append("}\n");
            return text.ToString();
        }
    }

    /// <summary>Small extents per layout letter: vectors plus a tail on 128/256-bit paths, and C divisible by the 4 groups.</summary>
    public int[] Dims => Layout.Select(letter => letter switch
    {
        'N' => 2,
        'C' => 12,
        'H' => 3,
        'W' => 5,
        'D' => 2,
        'T' => 5,
        _ => 3,
    }).ToArray();

    public override string ToString() => Name;
}
