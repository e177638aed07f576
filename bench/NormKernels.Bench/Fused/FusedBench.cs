using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Numerics.Tensors;
using System.Runtime;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using NormKernels.Bench.Suite;

namespace NormKernels.Bench.Fused;

// The fused layers the bench measures (issue 12), and their plain twins for the unfused sequence.
[Normalize(Layout = "NHWC", Axes = "N,H,W", Activation = NormActivation.Relu, Residual = ResidualMode.AddAfterNorm)] public sealed partial class TailNhwc;
[Normalize(Layout = "NCHW", Axes = "N,H,W", Activation = NormActivation.Relu, Residual = ResidualMode.AddAfterNorm)] public sealed partial class TailNchw;
[Normalize(Layout = "NHWC", Axes = "N,H,W")] public sealed partial class PlainBnNhwc;
[Normalize(Layout = "NCHW", Axes = "N,H,W")] public sealed partial class PlainBnNchw;
[Normalize(Layout = "NC", Axes = "C", Residual = ResidualMode.AddBeforeNorm)] public sealed partial class PreLn;
[Normalize(Layout = "NC", Axes = "C", Kind = NormKind.RootMeanSquare, Residual = ResidualMode.AddBeforeNorm)] public sealed partial class PreRms;
[Normalize(Layout = "NC", Axes = "C")] public sealed partial class PlainLn;
[Normalize(Layout = "NC", Axes = "C", Kind = NormKind.RootMeanSquare)] public sealed partial class PlainRms;
[Normalize(Layout = "NHWC", Axes = "H,W,C", Groups = 32, Activation = NormActivation.Silu)] public sealed partial class UNetGn;
[Normalize(Layout = "NHWC", Axes = "H,W,C", Groups = 32)] public sealed partial class PlainGn;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 32, Activation = NormActivation.Silu)] public sealed partial class UNetGnNchw;
[Normalize(Layout = "NCHW", Axes = "C,H,W", Groups = 32)] public sealed partial class PlainGnNchw;
[Normalize(Layout = "NC", Axes = "C", Sizes = "C=768")] public sealed partial class DecodeLn;

/// <summary>
/// <c>--fused</c>: the fused layers beside the same work as a sequence of NormKernels calls (the norm, then TensorPrimitives
/// for the add and the activation), the streaming limit of the fused case's own bytes (inputs read, outputs written with
/// non-temporal stores; plus one read pass where the statistics must see the whole tensor first) and PyTorch 1.13's op
/// sequence, interleaved in rounds in one process. Decode-time LayerNorm (<c>Sizes = "C=768"</c>) is timed per call.
/// </summary>
public static class FusedBench
{
    private sealed record Case(string Id, string What, int Reads, int Writes, bool ReadPass, long Elements, Action Fused, Action Unfused, string TorchOp, int[] Shape);

    public static int Run(bool torch, TextWriter output)
    {
        string cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?" : "?";
        output.WriteLine($"# Fused layers, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {cpu}, {BenchThreads.Text}, widest path {Isa.Select(1 << 20)}");
        var cases = Cases();
        var times = cases.ToDictionary(c => c.Id, _ => (Fused: new List<double>(), Unfused: new List<double>(), Limit: new List<double>()));
        var limits = cases.ToDictionary(c => c.Id, c => Limit(c));
        // Warm up (every kernel tiers up), then rounds: each case's fused, unfused and limit one after the other, the fused
        // call first in even rounds and the unfused one first in odd rounds. The first call after the previous limit pass
        // (two tensors written with non-temporal stores) pays for its writes still draining: with the fused call always
        // first, the pre-norm add + LayerNorm took 2.76-2.83 ms fused against 2.59-2.64 unfused; with the unfused call
        // always first, 2.74-2.82 fused against 2.71-2.87 unfused (AMD Zen 5, 1 thread, one process each, two runs).
        foreach (var c in cases) for (int i = 0; i < 5; i++) { c.Fused(); c.Unfused(); limits[c.Id](); }
        for (int round = 0; round < 16; round++)
        {
            foreach (var c in cases)
            {
                if (round % 2 == 0)
                {
                    times[c.Id].Fused.Add(Time(c.Fused));
                    times[c.Id].Unfused.Add(Time(c.Unfused));
                }
                else
                {
                    times[c.Id].Unfused.Add(Time(c.Unfused));
                    times[c.Id].Fused.Add(Time(c.Fused));
                }
                times[c.Id].Limit.Add(Time(limits[c.Id]));
            }
        }
        Dictionary<string, double> torchMs = torch ? Torch(cases, output) : new();
        output.WriteLine();
        output.WriteLine("| case | what | fused ms | unfused ms | limit ms | fused / limit | unfused / fused | torch ms | torch / fused |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in cases)
        {
            double f = Median(times[c.Id].Fused), u = Median(times[c.Id].Unfused), l = Median(times[c.Id].Limit);
            string t = torchMs.TryGetValue(c.Id, out double tm) ? $"{tm:F2}" : "-";
            string tr = torchMs.TryGetValue(c.Id, out tm) ? $"{tm / f:F2}" : "-";
            output.WriteLine($"| {c.Id} | {c.What} | {f:F3} | {u:F3} | {l:F3} | {f / l:F2} | {u / f:F2} | {t} | {tr} |");
        }
        Decode(output, torch);
        return 0;
    }

    private static List<Case> Cases()
    {
        var list = new List<Case>();
        var s1 = Shapes.S1;
        int n = s1.N, c = s1.C, h = s1.H, w = s1.W;
        long e1 = s1.Elements;
        float[] x = Shapes.RandomInput(s1, 1), r = Shapes.RandomInput(s1, 2), y = new float[e1], t = new float[e1];
        var tailNhwc = new TailNhwc(c);
        var tailNchw = new TailNchw(c);
        var bnNhwc = new PlainBnNhwc(c);
        var bnNchw = new PlainBnNchw(c);
        list.Add(new Case("resnet-tail-nhwc-S1", "relu(bn(x) + r), training", 2, 1, true, e1,
            () => tailNhwc.Forward(x, r, y, n, h, w, c),
            () => { bnNhwc.Forward(x, y, n, h, w, c); TensorPrimitives.Add(y, r, y); TensorPrimitives.Max(y, 0f, y); }, "tail", [n, c, h, w, 1]));
        list.Add(new Case("resnet-tail-nchw-S1", "relu(bn(x) + r), training", 2, 1, false, e1,
            () => tailNchw.Forward(x, r, y, n, c, h, w),
            () => { bnNchw.Forward(x, y, n, c, h, w); TensorPrimitives.Add(y, r, y); TensorPrimitives.Max(y, 0f, y); }, "tail", [n, c, h, w, 0]));
        var gn = new UNetGn(c);
        var plainGn = new PlainGn(c);
        list.Add(new Case("unet-gn32-silu-nhwc-S1", "silu(group_norm(x, 32))", 1, 1, false, e1,
            () => gn.Forward(x, y, n, h, w, c),
            () => { plainGn.Forward(x, y, n, h, w, c); TensorPrimitives.Sigmoid(y, t); TensorPrimitives.Multiply(y, t, y); }, "gn_silu", [n, c, h, w, 1]));
        // In cache (8.4 MB in and out): the stored apply, not the streamed one (until the twenty-fifth session its fused
        // expression was left a call once a vector there; the S1 cases never showed it).
        var s3 = Shapes.S3;
        long e3 = s3.Elements;
        float[] x3 = Shapes.RandomInput(s3, 5), y3 = new float[e3], t3 = new float[e3];
        var gnNchw = new UNetGnNchw(s3.C);
        var plainGnNchw = new PlainGnNchw(s3.C);
        list.Add(new Case("unet-gn32-silu-nchw-S3", "silu(group_norm(x, 32))", 1, 1, false, e3,
            () => gnNchw.Forward(x3, y3, s3.N, s3.C, s3.H, s3.W),
            () => { plainGnNchw.Forward(x3, y3, s3.N, s3.C, s3.H, s3.W); TensorPrimitives.Sigmoid(y3, t3); TensorPrimitives.Multiply(y3, t3, y3); }, "gn_silu",
            [s3.N, s3.C, s3.H, s3.W, 0]));
        var s4 = Shapes.S4;
        long e4 = s4.Elements;
        float[] a = Shapes.RandomInput(s4, 3), b = Shapes.RandomInput(s4, 4), sum = new float[e4], o = new float[e4];
        var preLn = new PreLn(s4.C);
        var preRms = new PreRms(s4.C);
        var plainLn = new PlainLn(s4.C);
        var plainRms = new PlainRms(s4.C);
        list.Add(new Case("prenorm-add-ln-S4", "s = x + r; layer_norm(s) (s written)", 2, 2, false, e4,
            () => preLn.Forward(a, b, o, sum, s4.N, s4.C),
            () => { TensorPrimitives.Add(a, b, sum); plainLn.Forward(sum, o, s4.N, s4.C); }, "add_ln", [s4.N, s4.C]));
        list.Add(new Case("prenorm-add-rms-S4", "s = x + r; rms_norm(s) (s written)", 2, 2, false, e4,
            () => preRms.Forward(a, b, o, sum, s4.N, s4.C),
            () => { TensorPrimitives.Add(a, b, sum); plainRms.Forward(sum, o, s4.N, s4.C); }, "add_rms", [s4.N, s4.C]));
        // Their backward: dx = the norm's gradient from dy, plus the gradient arriving on the residual stream (ds); the unfused
        // sequence is the plain layer's backward, then TensorPrimitives.Add. Each layer's forward ran on these arrays above
        // (and runs again each round, on the same values), so its saved statistics are the sum's.
        float[] dy4 = Shapes.RandomInput(s4, 6), ds4 = Shapes.RandomInput(s4, 7), dx4 = new float[e4];
        preLn.Forward(a, b, o, sum, s4.N, s4.C);
        preRms.Forward(a, b, o, sum, s4.N, s4.C);
        TensorPrimitives.Add(a, b, sum);
        plainLn.Forward(sum, o, s4.N, s4.C);
        plainRms.Forward(sum, o, s4.N, s4.C);
        list.Add(new Case("prenorm-add-ln-S4-backward", "dx = layer_norm'(s) dy + ds", 3, 1, false, e4,
            () => preLn.Backward(sum, dy4, ds4, dx4, s4.N, s4.C),
            () => { plainLn.Backward(sum, dy4, dx4, s4.N, s4.C); TensorPrimitives.Add(dx4, ds4, dx4); }, "add_ln_bwd", [s4.N, s4.C]));
        list.Add(new Case("prenorm-add-rms-S4-backward", "dx = rms_norm'(s) dy + ds", 3, 1, false, e4,
            () => preRms.Backward(sum, dy4, ds4, dx4, s4.N, s4.C),
            () => { plainRms.Backward(sum, dy4, dx4, s4.N, s4.C); TensorPrimitives.Add(dx4, ds4, dx4); }, "add_rms_bwd", [s4.N, s4.C]));
        return list;
    }

    /// <summary>The streaming limit of a case's bytes: its inputs read, its outputs written with non-temporal stores (one
    /// read pass first where the statistics need the whole tensor), split over the bench's threads.</summary>
    private static Action Limit(Case c)
    {
        int n = (int)c.Elements;
        var ins = Enumerable.Range(0, c.Reads).Select(i => Shapes.RandomArray(n, 10 + i, -1, 1)).ToArray();
        var outs = Enumerable.Range(0, c.Writes).Select(_ => new float[n]).ToArray();
        return () =>
        {
            int parts = BenchThreads.Count;
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
            {
                int start = (int)((long)n * p / parts), end = (int)((long)n * (p + 1) / parts);
                if (c.ReadPass) StreamingLimit.Sink |= StreamingLimit.ReadOnly(ins[0], start, end);
                Pass(ins, outs, start, end);
            });
        };
    }

    private static unsafe void Pass(float[][] ins, float[][] outs, int start, int end)
    {
        fixed (float* a0 = ins[0], b0 = ins.Length > 1 ? ins[1] : ins[0], c0 = ins.Length > 2 ? ins[2] : ins[0], y0 = outs[0], z0 = outs.Length > 1 ? outs[1] : outs[0])
        {
            float* a = a0 + start, b = b0 + start, c = c0 + start, y = y0 + start, z = z0 + start;
            nint len = end - start, i = 0;
            bool two = outs.Length > 1, second = ins.Length > 1, third = ins.Length > 2;
            // Peel until y is 64-byte aligned (z has the same offset: both arrays come from the GC with the same alignment class
            // only by chance, so z is stored normally where it is not aligned).
            for (; i < len && (((nuint)(y + i)) & 63) != 0; i++) { y[i] = (second ? a[i] + b[i] : a[i]) + (third ? c[i] : 0f); if (two) z[i] = a[i]; }
            bool zAligned = (((nuint)(z + i)) & 63) == 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= len; i += 16)
                {
                    var va = Vector512.Load(a + i);
                    var vs = second ? va + Vector512.Load(b + i) : va;
                    if (third) vs += Vector512.Load(c + i);
                    vs.StoreAlignedNonTemporal(y + i);
                    if (two) { if (zAligned) va.StoreAlignedNonTemporal(z + i); else va.Store(z + i); }
                }
            }
            else
            {
                for (; i + 8 <= len; i += 8)
                {
                    var va = Vector256.Load(a + i);
                    var vs = second ? va + Vector256.Load(b + i) : va;
                    if (third) vs += Vector256.Load(c + i);
                    vs.StoreAlignedNonTemporal(y + i);
                    if (two) { if (zAligned) va.StoreAlignedNonTemporal(z + i); else va.Store(z + i); }
                }
            }
            for (; i < len; i++) { y[i] = (second ? a[i] + b[i] : a[i]) + (third ? c[i] : 0f); if (two) z[i] = a[i]; }
            if (Sse.IsSupported) Sse.StoreFence();
        }
    }

    /// <summary>Milliseconds one call of <paramref name="a"/> takes.</summary>
    internal static double Time(Action a)
    {
        long t0 = Stopwatch.GetTimestamp();
        a();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    /// <summary>The median of <paramref name="v"/>.</summary>
    internal static double Median(List<double> v)
    {
        var s = v.OrderBy(d => d).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>Decode-time LayerNorm over C = 768: the layer with Sizes = "C=768" against the same layer without, per call,
    /// in training mode (statistics saved for Backward) and in inference mode (<c>Training = false</c>: nothing saved, as a
    /// decoding model runs; LayerNorm's output is the same).</summary>
    private static void Decode(TextWriter output, bool torch)
    {
        output.WriteLine();
        output.WriteLine("| decode LayerNorm | Sizes \"C=768\" ns/call | inference mode | no Sizes ns/call | inference mode | torch ns/call |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|");
        var sized = new DecodeLn(768);
        var plain = new PlainLn(768);
        var sizedInference = new DecodeLn(768) { Training = false };
        var plainInference = new PlainLn(768) { Training = false };
        foreach (int rows in new[] { 1, 16 })
        {
            var x = Shapes.RandomArray(rows * 768L, 5, -1, 1);
            var y = new float[x.Length];
            var times = new List<double>[] { [], [], [], [] };
            const int Calls = 20000;
            // Settle the JIT first: each layer's generated Forward starts in the tier-0 JIT and moves on to optimized code through
            // an instrumented tier, in the background, a call-counting delay after the process last compiled something. Rounds
            // of calls then a pause, until a round compiles nothing. Timed without this (twelve rounds right away), the four
            // variants of [1, 768] took 165-200 ns a call against 130-140 ns once settled (AMD Zen 5, 1 thread).
            long compiled = -1;
            for (int settle = 0; settle < 30 && JitInfo.GetCompiledMethodCount() != compiled; settle++)
            {
                compiled = JitInfo.GetCompiledMethodCount();
                for (int variant = 0; variant < 4; variant++) PerCall(variant, sized, sizedInference, plain, plainInference, x, y, rows);
                Thread.Sleep(250);
            }
            for (int round = 0; round < 12; round++)
                for (int variant = 0; variant < 4; variant++)
                    times[variant].Add(PerCall(variant, sized, sizedInference, plain, plainInference, x, y, rows));
            string t = "-";
            if (torch && TorchOne("ln_decode", [rows, 768]) is double tn) t = $"{tn:F0}";
            output.WriteLine($"| [{rows}, 768] | {string.Join(" | ", times.Select(list => $"{Median(list.Skip(2).ToList()):F0}"))} | {t} |");

            // Each variant's calls in a loop of their own, the layer called directly: through a delegate (a lambda capturing the
            // layer and the arrays) the same [1, 768] calls took 10-15 ns more each (AMD Zen 5), the delegate's cost, not the layer's.
            static double PerCall(int variant, DecodeLn sized, DecodeLn sizedInference, PlainLn plain, PlainLn plainInference, float[] x, float[] y, int rows)
            {
                long t0 = Stopwatch.GetTimestamp();
                switch (variant)
                {
                    case 0: for (int i = 0; i < Calls; i++) sized.Forward(x, y, rows, 768); break;
                    case 1: for (int i = 0; i < Calls; i++) sizedInference.Forward(x, y, rows, 768); break;
                    case 2: for (int i = 0; i < Calls; i++) plain.Forward(x, y, rows, 768); break;
                    default: for (int i = 0; i < Calls; i++) plainInference.Forward(x, y, rows, 768); break;
                }
                return Stopwatch.GetElapsedTime(t0).TotalNanoseconds / Calls;
            }
        }
    }

    private static Dictionary<string, double> Torch(List<Case> cases, TextWriter output)
    {
        var result = new Dictionary<string, double>();
        foreach (var c in cases)
            if (TorchOne(c.TorchOp, c.Shape) is double ns) result[c.Id] = ns / 1e6;
        return result;
    }

    /// <summary>Median ns per call of PyTorch's op sequence (bench/torch/bench_fused.py), or null where torch is not there.</summary>
    private static double? TorchOne(string op, int[] shape)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "torch", "bench_fused.py");
        if (!File.Exists(script) || !File.Exists("/usr/bin/python3")) return null;
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(op);
        info.ArgumentList.Add(string.Join(",", shape));
        info.ArgumentList.Add(BenchThreads.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.Environment["MALLOC_MMAP_THRESHOLD_"] = "1000000000";
        info.Environment["MALLOC_TRIM_THRESHOLD_"] = "1000000000";
        using var process = Process.Start(info)!;
        string text = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        if (!process.WaitForExit(120_000)) { process.Kill(true); return null; }
        return process.ExitCode == 0 && double.TryParse(text.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ns) ? ns : null;
    }
}
