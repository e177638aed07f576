namespace NormKernels.Generators.Model;

// Same rule as NormSpec: strings and numbers only (no Roslyn objects), so the pipeline caches it.

/// <summary>What a <c>[WeightNormalize]</c> declaration says: the annotated type, the layout, the reduced letters (in layout
/// order: "IHW" for Axes = "I,H,W" on OIHW) and the element type.</summary>
internal sealed record WeightNormSpec(Parsing.LayerName Name, string Layout, string Reduced, string Element) : ILayerSpec
{
    /// <summary>Bit i set: letter i of <see cref="Layout"/> is reduced.</summary>
    public int ReducedMask
    {
        get
        {
            int mask = 0;
            for (int i = 0; i < Layout.Length; i++)
                if (Reduced.IndexOf(Layout[i]) >= 0) mask |= 1 << i;
            return mask;
        }
    }

    /// <summary>The kept letters, in layout order: they index g.</summary>
    public string Kept
    {
        get
        {
            var kept = new System.Text.StringBuilder();
            foreach (char letter in Layout)
                if (Reduced.IndexOf(letter) < 0) kept.Append(letter);
            return kept.ToString();
        }
    }
}
