// The layers of the child-process cases (declared here: this program has its own generated code).
namespace NormKernels.SafetyCases;

[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class BnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W")] public sealed partial class BnNhwc;
[Normalize(Layout = "NCHW", Axes = "H,W")] public sealed partial class InNchw;
[Normalize(Layout = "NHWC", Axes = "H,W")] public sealed partial class InNhwc;
[Normalize(Layout = "NHWC", Axes = "H,W,C", Groups = 4)] public sealed partial class GnNhwc;
[Normalize(Layout = "NTC", Axes = "C")] public sealed partial class LnNtc;
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare)] public sealed partial class RmsNtc;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Affine = AffineMode.Elementwise)] public sealed partial class LnNchwElementwise;
[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(double))] public sealed partial class BnNchwDouble;
[Normalize(Layout = "NHWC", Axes = "H,W", ElementType = typeof(double))] public sealed partial class InNhwcDouble;
[LocalResponseNormalize(Layout = "NCHW")] public sealed partial class LrnNchw;
[LocalResponseNormalize(Layout = "NHWC")] public sealed partial class LrnNhwc;

/// <summary>Every entry point of each layer with given dims: the wrapping-dims matrix calls each one and checks it refuses.</summary>
internal static class EntryPoints
{
    /// <summary>The layers by name: layout, kept letters (G = the groups, blamed on c), and a factory of the calls for dims.</summary>
    public static readonly Dictionary<string, (string Layout, string Kept, Func<int[], Probe, List<(string, Action)>> Calls)> Layers = new()
    {
        ["BnNchw"] = ("NCHW", "C", BnNchwCalls),
        ["BnNhwc"] = ("NHWC", "C", BnNhwcCalls),
        ["InNchw"] = ("NCHW", "NC", InNchwCalls),
        ["InNhwc"] = ("NHWC", "NC", InNhwcCalls),
        ["GnNhwc"] = ("NHWC", "NG", GnNhwcCalls),
        ["LnNtc"] = ("NTC", "NT", LnNtcCalls),
        ["RmsNtc"] = ("NTC", "NT", RmsNtcCalls),
        ["LnNchwElementwise"] = ("NCHW", "N", LnNchwElementwiseCalls),
        ["BnNchwDouble"] = ("NCHW", "C", BnNchwDoubleCalls),
        ["InNhwcDouble"] = ("NHWC", "NC", InNhwcDoubleCalls),
        ["LrnNchw"] = ("NCHW", "", LrnNchwCalls),
        ["LrnNhwc"] = ("NHWC", "", LrnNhwcCalls),
    };

    private static List<(string, Action)> BnNchwCalls(int[] d, Probe p)
    {
        var layer = new BnNchw(d[1], momentum: 0.5f);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[1]), b = p.Input<float>(d[1]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[1]), bg = p.Output<float>(d[1]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(layer.RunningMean); p.Watch(layer.RunningVar);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("Backward (inference)", () => { layer.Training = false; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => BnNchw.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => BnNchw.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ForwardInference", () => BnNchw.ForwardInference(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardInference", () => BnNchw.BackwardInference(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => BnNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardStatistics", () => layer.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardWithStatistics", () => layer.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0])),
            ("static BackwardStatistics", () => BnNchw.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, m, cnt, mn, sq)),
            ("static BackwardWithStatistics", () => BnNchw.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], wg, bg)),
            ("ForwardWithStatistics", () => layer.ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [1, 1, 1, 1])),
        };
        calls.Add(("static StatisticCount", () => p.Returned(BnNchw.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> BnNhwcCalls(int[] d, Probe p)
    {
        var layer = new BnNhwc(d[3], momentum: 0.5f);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[3]), b = p.Input<float>(d[3]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[3]), bg = p.Output<float>(d[3]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(layer.RunningMean); p.Watch(layer.RunningVar);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("Backward (inference)", () => { layer.Training = false; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => BnNhwc.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => BnNhwc.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ForwardInference", () => BnNhwc.ForwardInference(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardInference", () => BnNhwc.BackwardInference(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => BnNhwc.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardStatistics", () => layer.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardWithStatistics", () => layer.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0])),
            ("static BackwardStatistics", () => BnNhwc.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, m, cnt, mn, sq)),
            ("static BackwardWithStatistics", () => BnNhwc.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], wg, bg)),
            ("ForwardWithStatistics", () => layer.ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [1, 1, 1, 1])),
        };
        calls.Add(("static StatisticCount", () => p.Returned(BnNhwc.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> InNchwCalls(int[] d, Probe p)
    {
        var layer = new InNchw(d[1]);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[1]), b = p.Input<float>(d[1]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[1]), bg = p.Output<float>(d[1]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => InNchw.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => InNchw.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => InNchw.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("static AdaptiveForward (content dims)", () => InNchw.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2, 1e-5f)),
            ("AdaptiveForward (content dims)", () => layer.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(InNchw.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> InNhwcCalls(int[] d, Probe p)
    {
        var layer = new InNhwc(d[3]);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[3]), b = p.Input<float>(d[3]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[3]), bg = p.Output<float>(d[3]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => InNhwc.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => InNhwc.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => InNhwc.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("static AdaptiveForward (content dims)", () => InNhwc.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2, 1e-5f)),
            ("AdaptiveForward (content dims)", () => layer.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(InNhwc.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> GnNhwcCalls(int[] d, Probe p)
    {
        var layer = new GnNhwc(d[3]);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[3]), b = p.Input<float>(d[3]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[3]), bg = p.Output<float>(d[3]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => GnNhwc.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => GnNhwc.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => GnNhwc.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(GnNhwc.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> LnNtcCalls(int[] d, Probe p)
    {
        var layer = new LnNtc(d[2]);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[2]), b = p.Input<float>(d[2]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[2]), bg = p.Output<float>(d[2]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => LnNtc.ForwardTraining(x, y, d[0], d[1], d[2], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => LnNtc.BackwardTraining(x, g, dx, d[0], d[1], d[2], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => LnNtc.ShardStatistics(x, d[0], d[1], d[2], cnt, mn, sq)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(LnNtc.StatisticCount(d[0], d[1], d[2]))));
        return calls;
    }

    private static List<(string, Action)> RmsNtcCalls(int[] d, Probe p)
    {
        var layer = new RmsNtc(d[2]);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(d[2]), b = p.Input<float>(d[2]), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(d[2]), bg = p.Output<float>(d[2]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => RmsNtc.ForwardTraining(x, y, d[0], d[1], d[2], w, b, m, 1e-5f)),
            ("static BackwardTraining", () => RmsNtc.BackwardTraining(x, g, dx, d[0], d[1], d[2], w, m, 1e-5f, wg, bg)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(RmsNtc.StatisticCount(d[0], d[1], d[2]))));
        return calls;
    }

    private static List<(string, Action)> LnNchwElementwiseCalls(int[] d, Probe p)
    {
        var layer = new LnNchwElementwise(60);
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        float[] w = p.Input<float>(60), b = p.Input<float>(60), m = p.Output<float>(4), v = p.Output<float>(4), wg = p.Output<float>(60), bg = p.Output<float>(60);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<float> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => LnNchwElementwise.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5f)),
            ("static BackwardTraining", () => LnNchwElementwise.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5f, wg, bg)),
            ("static ShardStatistics", () => LnNchwElementwise.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(LnNchwElementwise.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> BnNchwDoubleCalls(int[] d, Probe p)
    {
        var layer = new BnNchwDouble(d[1], momentum: 0.5);
        double[] x = p.Input<double>(), y = p.Output<double>(), g = p.Input<double>(), dx = p.Output<double>();
        double[] w = p.Input<double>(d[1]), b = p.Input<double>(d[1]), m = p.Output<double>(4), v = p.Output<double>(4), wg = p.Output<double>(d[1]), bg = p.Output<double>(d[1]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(layer.RunningMean); p.Watch(layer.RunningVar);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<double> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("Backward (inference)", () => { layer.Training = false; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => BnNchwDouble.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5)),
            ("static BackwardTraining", () => BnNchwDouble.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5, wg, bg)),
            ("static ForwardInference", () => BnNchwDouble.ForwardInference(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5)),
            ("static BackwardInference", () => BnNchwDouble.BackwardInference(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5, wg, bg)),
            ("static ShardStatistics", () => BnNchwDouble.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardStatistics", () => layer.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("BackwardWithStatistics", () => layer.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0])),
            ("static BackwardStatistics", () => BnNchwDouble.BackwardStatistics(x, g, d[0], d[1], d[2], d[3], w, m, cnt, mn, sq)),
            ("static BackwardWithStatistics", () => BnNchwDouble.BackwardWithStatistics(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5, [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], wg, bg)),
            ("ForwardWithStatistics", () => layer.ForwardWithStatistics(x, y, d[0], d[1], d[2], d[3], [2, 2, 2, 2], [0, 0, 0, 0], [1, 1, 1, 1])),
        };
        calls.Add(("static StatisticCount", () => p.Returned(BnNchwDouble.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> InNhwcDoubleCalls(int[] d, Probe p)
    {
        var layer = new InNhwcDouble(d[3]);
        double[] x = p.Input<double>(), y = p.Output<double>(), g = p.Input<double>(), dx = p.Output<double>();
        double[] w = p.Input<double>(d[3]), b = p.Input<double>(d[3]), m = p.Output<double>(4), v = p.Output<double>(4), wg = p.Output<double>(d[3]), bg = p.Output<double>(d[3]);
        double[] cnt = p.Output<double>(4), mn = p.Output<double>(4), sq = p.Output<double>(4);
        p.Watch(layer.WeightGrad); p.Watch(layer.BiasGrad); p.Watch(layer.Weight); p.Watch(layer.Bias);
        p.Watch(() => layer.LastPath);
        INormalizationLayer<double> any = layer;
        var calls = new List<(string, Action)>
        {
            ("Forward (training)", () => { layer.Training = true; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("Forward (inference)", () => { layer.Training = false; layer.Forward(x, y, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Forward", () => { layer.Training = true; any.Forward(x, y, d); }),
            ("Backward (training)", () => { layer.Training = true; layer.Backward(x, g, dx, d[0], d[1], d[2], d[3]); }),
            ("INormalizationLayer.Backward", () => { layer.Training = true; any.Backward(x, g, dx, d); }),
            ("static ForwardTraining", () => InNhwcDouble.ForwardTraining(x, y, d[0], d[1], d[2], d[3], w, b, m, v, 1e-5)),
            ("static BackwardTraining", () => InNhwcDouble.BackwardTraining(x, g, dx, d[0], d[1], d[2], d[3], w, m, v, 1e-5, wg, bg)),
            ("static ShardStatistics", () => InNhwcDouble.ShardStatistics(x, d[0], d[1], d[2], d[3], cnt, mn, sq)),
            ("static AdaptiveForward (content dims)", () => InNhwcDouble.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2, 1e-5)),
            ("AdaptiveForward (content dims)", () => layer.AdaptiveForward(x, g, y, d[0], d[1], d[2], d[3], 2, 2)),
        };
        calls.Add(("static StatisticCount", () => p.Returned(InNhwcDouble.StatisticCount(d[0], d[1], d[2], d[3]))));
        return calls;
    }

    private static List<(string, Action)> LrnNchwCalls(int[] d, Probe p)
    {
        var layer = new LrnNchw();
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        p.Watch(() => layer.LastPath);
        return
        [
            ("Forward", () => layer.Forward(x, y, d[0], d[1], d[2], d[3])),
            ("Backward", () => layer.Backward(x, g, dx, d[0], d[1], d[2], d[3])),
            ("static ForwardKernel", () => LrnNchw.ForwardKernel(x, y, d[0], d[1], d[2], d[3])),
            ("static BackwardKernel", () => LrnNchw.BackwardKernel(x, g, dx, d[0], d[1], d[2], d[3])),
        ];
    }

    private static List<(string, Action)> LrnNhwcCalls(int[] d, Probe p)
    {
        var layer = new LrnNhwc();
        float[] x = p.Input<float>(), y = p.Output<float>(), g = p.Input<float>(), dx = p.Output<float>();
        p.Watch(() => layer.LastPath);
        return
        [
            ("Forward", () => layer.Forward(x, y, d[0], d[1], d[2], d[3])),
            ("Backward", () => layer.Backward(x, g, dx, d[0], d[1], d[2], d[3])),
            ("static ForwardKernel", () => LrnNhwc.ForwardKernel(x, y, d[0], d[1], d[2], d[3])),
            ("static BackwardKernel", () => LrnNhwc.BackwardKernel(x, g, dx, d[0], d[1], d[2], d[3])),
        ];
    }

}
