using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace NormKernels.Bench.Suite;

/// <summary>The oneDNN 2.6 times of one run (<see cref="OneDnnRunner"/>): milliseconds per case id, or why there are none.</summary>
public sealed class OneDnnRun
{
    public bool Available { get; init; }

    /// <summary>"oneDNN 2.6, N threads" or the reason it is n/a.</summary>
    public string Note { get; init; } = "";

    /// <summary>Median ns per call by case id (the cases oneDNN 2.6 has a primitive for).</summary>
    public Dictionary<string, double> Cases { get; } = new();

    public static OneDnnRun NotAvailable(string reason) => new() { Available = false, Note = $"n/a ({reason})" };
}

/// <summary>
/// The oneDNN column (<c>--onednn</c>): builds <c>bench/onednn/bench_onednn.cpp</c> (copied next to the program) with
/// <c>g++ -O2 -std=c++17 ... -ldnnl</c> against Debian's libdnnl-dev (oneDNN 2.6), once per source (the binary is kept in
/// the temp directory under the source's hash), and runs it after the C# measurements, never at the same time, with
/// <c>OMP_NUM_THREADS</c> = the thread count. It times every case it has a primitive for (BatchNorm forward and backward,
/// LocalResponseNorm, LayerNorm over the last dim) with batches of about 8 ms, as the quick harness does, and prints one
/// line per case: the bench's case id and the median ms per call. Before timing a primitive it checks its outputs against a
/// float64 reference of the formulas; a primitive that fails prints "id check-failed error" instead, gets no time, and is
/// named in <see cref="OneDnnRun.Note"/>. Where the C# side runs without AVX-512 (<c>DOTNET_EnableAVX512=0</c> and the
/// like), oneDNN is capped at the same instruction set (<see cref="IsaCap"/>), so the column compares like with like.
/// CI does not need it.
/// </summary>
public static class OneDnnRunner
{
    /// <summary>The source next to the program (the project copies it there), or null.</summary>
    public static string? SourcePath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "onednn", "bench_onednn.cpp");
            return File.Exists(path) ? path : null;
        }
    }

    /// <summary>
    /// <c>bench_onednn.cpp</c> built with <c>g++ -O2 -std=c++17</c>, <paramref name="flags"/> and <c>-ldnnl</c> into the temp
    /// directory as <paramref name="prefix"/> + the source's hash + <paramref name="suffix"/>, once per source: the path, or
    /// null with the reason (no source next to the program, no libdnnl-dev, a failed compile).
    /// </summary>
    internal static string? Build(string prefix, string suffix, string[] flags, out string why)
    {
        why = "";
        if (SourcePath is not { } source) { why = "bench_onednn.cpp not found next to the program"; return null; }
        if (!File.Exists("/usr/include/oneapi/dnnl/dnnl.hpp")) { why = "libdnnl-dev not installed"; return null; }
        string output = Path.Combine(Path.GetTempPath(), $"{prefix}{Hash(source)}{suffix}");
        if (!File.Exists(output))
        {
            var (code, text) = Start("g++", ["-O2", "-std=c++17", .. flags, source, "-ldnnl", "-o", output + ".tmp"], null, 300_000);
            if (code != 0) { why = $"g++ failed ({code}): {FirstLine(text)}"; return null; }
            File.Move(output + ".tmp", output, overwrite: true);
        }
        return output;
    }

    /// <summary>Runs oneDNN on every case it has at <paramref name="threads"/> threads, or says why it cannot.</summary>
    public static OneDnnRun Run(int threads)
    {
        if (Build("normkernels-bench-onednn-", "", [], out string why) is not { } binary) return OneDnnRun.NotAvailable(why);
        var (exit, text) = Start(binary, [], threads, 1_200_000, IsaCap.OneDnn);
        if (exit != 0) return OneDnnRun.NotAvailable($"bench_onednn exited with {exit}: {FirstLine(text)}");
        var failed = new List<string>();
        var cases = new Dictionary<string, double>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
                cases[parts[0]] = ms * 1e6;
            else if (parts.Length == 3 && parts[1] == "check-failed") failed.Add($"{parts[0]} ({parts[2]})");
        }
        // A primitive whose outputs differ from the float64 reference gets no time (bench_onednn.cpp checks each before timing it).
        var run = new OneDnnRun
        {
            Available = true,
            Note = $"oneDNN 2.6, OMP_NUM_THREADS={threads}" + (IsaCap.OneDnn is { } cap ? $", DNNL_MAX_CPU_ISA={cap} ({IsaCap.Why})" : "") + (failed.Count > 0 ? $"; outputs off the float64 reference, not timed: {string.Join(", ", failed)}" : ""),
        };
        foreach (var (id, ns) in cases) run.Cases[id] = ns;
        return run;
    }

    /// <summary>The source's hash, for the names of the program and the library built from it.</summary>
    private static string Hash(string source) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(source)))[..16].ToLowerInvariant();

    internal static (int Code, string Output) Start(string program, string[] args, int? threads, int timeoutMs, string? isa = null)
    {
        try
        {
            var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in args) psi.ArgumentList.Add(a);
            if (threads is int t) psi.Environment["OMP_NUM_THREADS"] = t.ToString(CultureInfo.InvariantCulture);
            if (isa != null)
            {
                psi.Environment["DNNL_MAX_CPU_ISA"] = isa;
                psi.Environment["ONEDNN_MAX_CPU_ISA"] = isa;
            }
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(entireProcessTree: true);
                return (-1, "timed out");
            }
            return (p.ExitCode, stdout.Result + stderr.Result);
        }
        catch (Exception e)
        {
            return (-1, e.Message);
        }
    }

    internal static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first.Trim() : "";
}

/// <summary>
/// oneDNN 2.6 in the bench's own process (<c>--onednn</c> in the quick mode): <c>bench/onednn/bench_onednn.cpp</c> built as
/// a shared library (<c>g++ -O2 -std=c++17 -shared -fPIC -fopenmp -DNK_ONEDNN_LIBRARY ... -ldnnl</c>, kept in the temp
/// directory under the source's hash), loaded once; it builds every case it has a primitive for and checks its outputs
/// against a float64 reference (a failing one gets no time and is named in the note). The quick harness then times a case's
/// oneDNN calls as one more variant, in the same rounds as the generated kernel and the streaming limit, so both meet
/// the same load on a shared host (<see cref="QuickHarness"/>). OpenMP runs oneDNN's parallel regions on the bench's thread
/// count; its instruction set is capped as the C# side's (<see cref="IsaCap"/>).
/// </summary>
public sealed unsafe class OneDnnLibrary
{
    private readonly delegate* unmanaged<int, int, int> _run;
    private readonly Dictionary<string, int> _cases;

    private OneDnnLibrary(delegate* unmanaged<int, int, int> run, Dictionary<string, int> cases, OneDnnRun notes)
    {
        _run = run;
        _cases = cases;
        Notes = notes;
    }

    /// <summary>What the report says of the column (its note, the failed checks); <see cref="OneDnnRun.Cases"/> filled as
    /// the cases are measured.</summary>
    public OneDnnRun Notes { get; }

    /// <summary>Builds (once per source), loads and opens the library at <paramref name="threads"/> threads; null, with the
    /// reason, where it cannot (no compiler, no libdnnl-dev, a load failure).</summary>
    public static OneDnnLibrary? Load(int threads, out string why)
    {
        if (OneDnnRunner.Build("libnormkernels-bench-onednn-", ".so", ["-shared", "-fPIC", "-fopenmp", "-DNK_ONEDNN_LIBRARY"], out why) is not { } library)
            return null;
        try
        {
            nint handle = NativeLibrary.Load(library);
            var open = (delegate* unmanaged<int, byte*, int>)NativeLibrary.GetExport(handle, "nk_onednn_open");
            var describe = (delegate* unmanaged<int, byte*, int, double*, int>)NativeLibrary.GetExport(handle, "nk_onednn_case");
            var run = (delegate* unmanaged<int, int, int>)NativeLibrary.GetExport(handle, "nk_onednn_run");
            byte[] isa = Encoding.ASCII.GetBytes((IsaCap.OneDnn ?? "") + "\0");
            int count;
            fixed (byte* p = isa) count = open(threads, p);
            if (count < 0) { why = "oneDNN failed to build its cases (see the error above)"; return null; }
            var cases = new Dictionary<string, int>();
            var failed = new List<string>();
            byte* id = stackalloc byte[128];
            for (int i = 0; i < count; i++)
            {
                double error;
                int ok = describe(i, id, 128, &error);
                string name = Marshal.PtrToStringAnsi((nint)id) ?? "";
                if (ok == 1) cases[name] = i;
                else failed.Add($"{name} ({error.ToString("G3", CultureInfo.InvariantCulture)})");
            }
            var notes = new OneDnnRun
            {
                Available = true,
                Note = $"oneDNN 2.6 in this process, {threads} OpenMP thread(s), timed in the same rounds as the generated kernel" +
                       (IsaCap.OneDnn is { } cap ? $", DNNL_MAX_CPU_ISA={cap} ({IsaCap.Why})" : "") +
                       (failed.Count > 0 ? $"; outputs off the float64 reference, not timed: {string.Join(", ", failed)}" : ""),
            };
            return new OneDnnLibrary(run, cases, notes);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            why = $"could not load {library}: {e.Message}";
            return null;
        }
    }

    /// <summary>The body that runs one oneDNN call of the case <paramref name="id"/>, or null where oneDNN has no (checked) primitive for it.</summary>
    public Action? Body(string id) => _cases.TryGetValue(id, out int i) ? () => Call(i) : null;

    private void Call(int i)
    {
        if (_run(i, 1) != 0) throw new InvalidOperationException($"oneDNN case {i} did not run");
    }
}

/// <summary>
/// The instruction set the peers are held to: the C# side's widest vector path in this process. Where the runtime has
/// AVX-512 off (<c>DOTNET_EnableAVX512=0</c>: the kernels run on 256-bit vectors) oneDNN gets <c>DNNL_MAX_CPU_ISA=AVX2</c>;
/// with AVX2 off or no vectors at all, <c>SSE41</c> (oneDNN's lowest) and PyTorch <c>ATEN_CPU_CAPABILITY=default</c>.
/// PyTorch 1.13 from Debian runs its kernels at AVX2 on these machines anyway (its report: "CPU capability usage: AVX2").
/// Without a cap oneDNN picks AVX-512, and an AVX2-only CPU (Zen 3, laptops) would see the AVX2 column compared with
/// oneDNN's 512-bit kernels: on AMD Zen 5 its BatchNorm NHWC and LocalResponseNorm NHWC take 1.6-2x as long at AVX2.
/// </summary>
public static class IsaCap
{
    /// <summary>DNNL_MAX_CPU_ISA for oneDNN, or null (no cap: the C# side has 512-bit vectors, or this is not x86).</summary>
    public static string? OneDnn =>
        !System.Runtime.Intrinsics.X86.X86Base.IsSupported || System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? null
        : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2"
        : "SSE41";

    /// <summary>ATEN_CPU_CAPABILITY for PyTorch, or null.</summary>
    public static string? Torch =>
        !System.Runtime.Intrinsics.X86.X86Base.IsSupported || System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? null : "default";

    /// <summary>Why the cap, for the notes.</summary>
    public static string Why =>
        System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "the C# side runs on 256-bit vectors"
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? "the C# side runs on 128-bit vectors" : "the C# side runs scalar";
}
