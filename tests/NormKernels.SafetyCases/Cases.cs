using NormKernels.Runtime;

namespace NormKernels.SafetyCases;

internal static class Cases
{
    private static int s_failures;

    private static void Pass(string what) => Console.WriteLine("PASS " + what);

    private static void Fail(string what)
    {
        s_failures++;
        Console.WriteLine("FAIL " + what);
    }

    public static int Usage()
    {
        Console.Error.WriteLine("usage: wrap <Layer> <512|0> | wrap-style <Layer> | train <Layer>");
        return 2;
    }

    /// <summary>Dims in layout order whose product is 2^64 + 512 (set "512") or 2^64 (set "0"); C is a small channel count.</summary>
    public static int[] WrapDims(string layout, string set)
    {
        long[] others = (layout.Length, set) switch
        {
            (4, "512") => [12, 245532353, 1565199712],   // 12 * 4 * 245532353 * 1565199712 = 2^64 + 512
            (4, "0") => [1 << 30, 1 << 30, 4],           // 2^30 * 2^30 * 4 * 4 = 2^64
            (3, "512") => [22321123, 48912491],          // 22321123 * 48912491 * 16896 = 2^64 + 512
            (3, "0") => [1 << 25, 1 << 25],              // 2^25 * 2^25 * 16384 = 2^64
            _ => throw new ArgumentException("no wrapping dims for " + layout + " / " + set),
        };
        int channels = layout.Length == 4 ? 4 : set == "512" ? 16896 : 16384;
        var dims = new int[layout.Length];
        int next = 0;
        for (int i = 0; i < layout.Length; i++) dims[i] = layout[i] == 'C' ? channels : (int)others[next++];
        return dims;
    }

    /// <summary>The dim at which the running product (layout order) first exceeds int.MaxValue, or null.</summary>
    private static string? FirstOverflow(string layout, IEnumerable<(char Letter, long Value)> factors)
    {
        long product = 1;
        foreach (var (letter, value) in factors)
        {
            product *= value;
            if (product > int.MaxValue) return char.ToLowerInvariant(letter).ToString();
            _ = layout;
        }
        return null;
    }

    public static int Wrap(string layerName, string set)
    {
        var (layout, kept, calls) = EntryPoints.Layers[layerName];
        int[] dims = WrapDims(layout, set);
        ulong wrapped = 1;
        foreach (int d in dims) wrapped = unchecked(wrapped * (ulong)d);
        string expected = FirstOverflow(layout, layout.Select((l, i) => (l, (long)dims[i])))!;
        // StatisticCount multiplies only the kept extents (G: the group count, blamed on c).
        var keptFactors = layout.Select((l, i) => (l, (long)dims[i])).Where(f => kept.Contains(f.l)).ToList();
        if (kept.Contains('G')) keptFactors.Add(('C', 4));
        string? keptExpected = FirstOverflow(layout, keptFactors);
        long keptProduct = keptExpected is null ? keptFactors.Aggregate(1L, (p, f) => p * f.Item2) : -1;

        Console.WriteLine($"{layerName} dims [{string.Join(", ", dims)}] ({layout}): product mod 2^64 = {wrapped}; spans of {wrapped} elements; expected ParamName '{expected}'");
        var probe = new Probe((int)wrapped);
        foreach (var (what, call) in calls(dims, probe))
        {
            string name = $"{layerName} {what}";
            string? param = what == "static StatisticCount" ? keptExpected : expected;
            try
            {
                call();
                if (param is null && probe.LastReturned == keptProduct) Pass($"{name}: returned {keptProduct}, the product of the kept extents (it fits)");
                else Fail($"{name}: no exception (returned {probe.LastReturned?.ToString() ?? "nothing"})");
            }
            catch (ArgumentOutOfRangeException e)
            {
                if (param is null) Fail($"{name}: threw although the kept product {keptProduct} fits: {e.Message}");
                else if (e.ParamName != param) Fail($"{name}: ParamName '{e.ParamName}', expected '{param}': {e.Message}");
                else if (!e.Message.Contains("overflows at")) Fail($"{name}: the message does not say what overflowed: {e.Message}");
                else Pass($"{name}: {e.GetType().Name}({e.ParamName}): {e.Message.Split('\n')[0]}");
            }
            catch (Exception e)
            {
                Fail($"{name}: {e.GetType().Name} instead of ArgumentOutOfRangeException: {e.Message}");
            }
            string? changed = probe.Changed();
            if (changed is not null) Fail($"{name}: {changed}");
        }
        return s_failures == 0 ? 0 : 1;
    }

    public static int WrapStyle(string layerName)
    {
        // Content dims fine (N=2, C=4, spatial 2 each); style spatial dims 245532353 and 1565199712: the product overflows at styleW.
        (string layout, Func<float[], float[], float[], int[], int[], Action> adaptive) = layerName switch
        {
            "InNchw" => ("NCHW", (Func<float[], float[], float[], int[], int[], Action>)((x, s, y, d, sd) => () => InNchw.AdaptiveForward(x, s, y, d[0], d[1], d[2], d[3], sd[0], sd[1], 1e-5f))),
            "InNhwc" => ("NHWC", (x, s, y, d, sd) => () => InNhwc.AdaptiveForward(x, s, y, d[0], d[1], d[2], d[3], sd[0], sd[1], 1e-5f)),
            _ => throw new ArgumentException("no AdaIN layer " + layerName),
        };
        int[] dims = layout == "NCHW" ? [2, 4, 2, 2] : [2, 2, 2, 4];
        int[] styleDims = [245532353, 1565199712];
        var probe = new Probe(32);
        float[] content = probe.Input<float>(), style = probe.Input<float>(512), output = probe.Output<float>();
        try
        {
            adaptive(content, style, output, dims, styleDims)();
            Fail($"{layerName} AdaptiveForward (style dims): no exception");
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "styleW" && e.Message.Contains("overflows at"))
        {
            Pass($"{layerName} AdaptiveForward (style dims): {e.GetType().Name}({e.ParamName}): {e.Message}");
        }
        catch (Exception e)
        {
            Fail($"{layerName} AdaptiveForward (style dims): {e.GetType().Name} ({(e as ArgumentException)?.ParamName}) instead of ArgumentOutOfRangeException(styleW): {e.Message}");
        }
        string? changed = probe.Changed();
        if (changed is not null) Fail($"{layerName} AdaptiveForward (style dims): {changed}");
        return s_failures == 0 ? 0 : 1;
    }

    public static int Train(string layerName) => TrainingRace.Run(layerName, Pass, Fail) && s_failures == 0 ? 0 : 1;

    public static int Scratch() => ScratchAlignment.Run(Pass, Fail) && s_failures == 0 ? 0 : 1;
}
