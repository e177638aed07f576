using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.HalfStorage;

// The Half layers the bench measures (issue 14) and their float32 twins.
[Normalize(Layout = "NCHW", Axes = "N,H,W", ElementType = typeof(Half))] public sealed partial class HalfBnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W", ElementType = typeof(Half))] public sealed partial class HalfBnNhwc;
[Normalize(Layout = "NC", Axes = "C", ElementType = typeof(Half))] public sealed partial class HalfLn;
[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class FloatBnNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W")] public sealed partial class FloatBnNhwc;
[Normalize(Layout = "NC", Axes = "C")] public sealed partial class FloatLn;

/// <summary>
/// <c>--half</c>: layers declared with <c>ElementType = typeof(Half)</c> beside the same layer in float32 and beside the
/// streaming limit of the Half bytes (the Half input read, the Half output written with non-temporal stores), interleaved in
/// rounds in one process. BatchNorm inference runs on the Half tensors (converted in registers); the other calls widen the
/// Half tensors into float buffers, run the float kernels and round the result (issue 14's target: Half BN inference S1
/// within 0.6x the float32 time).
/// </summary>
public static class HalfBench
{
    private sealed record Case(string Id, string What, long Elements, Action Half, Action Float);

    public static int Run(TextWriter output)
    {
        string cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?" : "?";
        output.WriteLine($"# Half layers, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {cpu}, {BenchThreads.Text}, widest path {Isa.Select(1 << 20)}");
        var cases = Cases();
        var limits = cases.ToDictionary(c => c.Id, c => Limit(c.Elements));
        var times = cases.ToDictionary(c => c.Id, _ => (Half: new List<double>(), Float: new List<double>(), Limit: new List<double>()));
        foreach (var c in cases) for (int i = 0; i < 5; i++) { c.Half(); c.Float(); limits[c.Id](); }
        for (int round = 0; round < 15; round++)
        {
            foreach (var c in cases)
            {
                times[c.Id].Half.Add(Fused.FusedBench.Time(c.Half));
                times[c.Id].Float.Add(Fused.FusedBench.Time(c.Float));
                times[c.Id].Limit.Add(Fused.FusedBench.Time(limits[c.Id]));
            }
        }
        output.WriteLine();
        output.WriteLine("| case | what | Half ms | float32 ms | Half / float32 | Half limit ms | Half / limit |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var c in cases)
        {
            double h = Fused.FusedBench.Median(times[c.Id].Half), f = Fused.FusedBench.Median(times[c.Id].Float), l = Fused.FusedBench.Median(times[c.Id].Limit);
            output.WriteLine($"| {c.Id} | {c.What} | {h:F3} | {f:F3} | {h / f:F2} | {l:F3} | {h / l:F2} |");
        }
        return 0;
    }

    private static List<Case> Cases()
    {
        var list = new List<Case>();
        var s1 = Shapes.S1;
        int n = s1.N, c = s1.C, h = s1.H, w = s1.W;
        float[] x = Shapes.RandomInput(s1, 1), y = new float[x.Length];
        Half[] hx = x.Select(v => (Half)v).ToArray(), hy = new Half[x.Length];
        var hbn = new HalfBnNchw(c) { Training = false };
        var fbn = new FloatBnNchw(c) { Training = false };
        var hbnc = new HalfBnNhwc(c) { Training = false };
        var fbnc = new FloatBnNhwc(c) { Training = false };
        var hbt = new HalfBnNchw(c);
        var fbt = new FloatBnNchw(c);
        list.Add(new Case("bn-infer-nchw-S1", "BatchNorm inference (Half-native)", x.Length, () => hbn.Forward(hx, hy, n, c, h, w), () => fbn.Forward(x, y, n, c, h, w)));
        list.Add(new Case("bn-infer-nhwc-S1", "BatchNorm inference (Half-native)", x.Length, () => hbnc.Forward(hx, hy, n, h, w, c), () => fbnc.Forward(x, y, n, h, w, c)));
        list.Add(new Case("bn-train-nchw-S1", "BatchNorm training (float copies)", x.Length, () => hbt.Forward(hx, hy, n, c, h, w), () => fbt.Forward(x, y, n, c, h, w)));
        var s4 = Shapes.S4;
        float[] a = Shapes.RandomInput(s4, 3), b = new float[a.Length];
        Half[] ha = a.Select(v => (Half)v).ToArray(), hb = new Half[a.Length];
        var hln = new HalfLn(s4.C);
        var fln = new FloatLn(s4.C);
        list.Add(new Case("ln-train-S4", "LayerNorm training (float copies)", a.Length, () => hln.Forward(ha, hb, s4.N, s4.C), () => fln.Forward(a, b, s4.N, s4.C)));
        var hlni = new HalfLn(s4.C) { Training = false };
        var flni = new FloatLn(s4.C) { Training = false };
        list.Add(new Case("ln-infer-S4", "LayerNorm inference (tiles of samples)", a.Length, () => hlni.Forward(ha, hb, s4.N, s4.C), () => flni.Forward(a, b, s4.N, s4.C)));
        return list;
    }

    /// <summary>The streaming limit of a Half case: its Half input read, its Half output written with non-temporal stores (after
    /// peeling to 64 bytes), split over the bench's threads.</summary>
    private static Action Limit(long elements)
    {
        var input = new byte[elements * 2];
        new Random(7).NextBytes(input);
        var output = new byte[elements * 2];
        return () =>
        {
            int parts = BenchThreads.Count;
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
            {
                long start = input.LongLength * p / parts & ~63L, end = p == parts - 1 ? input.LongLength : input.LongLength * (p + 1) / parts & ~63L;
                Pass(input, output, start, end);
            });
        };
    }

    private static unsafe void Pass(byte[] input, byte[] output, long start, long end)
    {
        fixed (byte* a0 = input, y0 = output)
        {
            byte* a = a0 + start, y = y0 + start;
            long len = end - start, i = 0;
            for (; i < len && (((nuint)(y + i)) & 63) != 0; i++) y[i] = a[i];
            if (Vector512.IsHardwareAccelerated)
                for (; i + 64 <= len; i += 64) Vector512.Load(a + i).StoreAlignedNonTemporal(y + i);
            else
                for (; i + 32 <= len; i += 32) Vector256.Load(a + i).StoreAlignedNonTemporal(y + i);
            for (; i < len; i++) y[i] = a[i];
            if (Sse.IsSupported) Sse.StoreFence();
        }
    }

}
