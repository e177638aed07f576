using System.Diagnostics;
using System.Text.RegularExpressions;

namespace NormKernels.Tests;

/// <summary>
/// The shared runs are written as small helpers (the ISimd operations, a vector's expression, a reduction's step) that the
/// JIT must inline into each loop; past its inlining budget it leaves them as calls, once a vector, with no error anywhere
/// (LayerNorm backward ran its in-cache apply so for a session: [64, 768] 26 us instead of 18). This test runs the child
/// program's "codegen" case (every layer's forward and backward on shapes that take each driver, in and out of cache; see
/// tests/NormKernels.SafetyCases/Codegen.cs) with the JIT's disassembly written to a file, and fails on any optimized
/// method that calls such a helper. The child inherits this process's environment, so it checks this leg's path (the
/// scalar leg with three drivers excused: <see cref="ScalarKnown"/>).
/// </summary>
public sealed partial class CodegenTests
{
    /// <summary>Types whose every method is a vector operation meant to be inlined (the ISimd paths, the 128-bit
    /// operations, the operand switches).</summary>
    [GeneratedRegex(@"^NormKernels\.Runtime\.(V512`1|V256`1|V128`2|Scalar`1|X86Vector128Ops|AdvSimdVector128Ops`1|AdvSimdIntrinsics|Splat|Lanes|Centered|Uncentered)$")]
    private static partial Regex OperationTypes();

    /// <summary>Helpers of the runs that work on one vector (or lane) at a time.</summary>
    [GeneratedRegex(@"^(\w*Expression|\w*ApplyVector|\w*Step|Accumulate\w*|StoreLanes|Hint|Prefetch)$")]
    private static partial Regex VectorHelpers();

    /// <summary>A call's (or tail jump's) target in a listing: [Namespace.Type`n[...]:Method...</summary>
    [GeneratedRegex(@"\b(?:call|jmp)\s+\[(?<type>[\w.`+]+)(?:\[[^:]*\])?:(?<method>\w+)")]
    private static partial Regex CallTarget();

    /// <summary>A call's (or tail jump's) whole target, as a listing's header names the method.</summary>
    [GeneratedRegex(@"\b(?:call|jmp)\s+\[(?<target>.*)\]\s*$")]
    private static partial Regex WholeCallTarget();

    /// <summary>Optimized code that runs once a unit, a block or a row, where a call to tier-0 code costs once a unit: the unit
    /// bodies (<c>Run(int, int, ref)</c>, the parallel runner's loop body) and the runs, and (<see cref="HotCallees"/>) every optimized
    /// runtime method they call.</summary>
    private static readonly string[] HotTypes =
        ["NormKernels.Runtime.Runs`3", "NormKernels.Runtime.GradientRuns`3", "NormKernels.Runtime.ParallelUnits:", "NormKernels.Runtime.LrnRuns`3", "NormKernels.Runtime.WeightNormRuns"];

    /// <summary>Where the scalar fallback (<c>DOTNET_EnableHWIntrinsic=0</c>, one lane a "vector") is known to call its
    /// helpers, left as they are (docs/architecture.md): the block driver's unit (its apply of each block), ExpandedInference's
    /// body and the plain reduction's chunk totals. Everything else is held to the rule on that leg too.</summary>
    private static readonly string[] ScalarKnown =
        ["NormKernels.Runtime.Forward`3+BlockUnit`3[..]:Run(", "NormKernels.Runtime.ExpandedInference`2+Body`3[..]:Run(", "NormKernels.Runtime.Runs`3[..]:Reduce["];

    /// <summary>Both ways the runtime compiles the kernels: with tiered compilation off, and on as users' processes run (the
    /// kernels' methods have AggressiveOptimization, so they are compiled optimized on their first call either way, but with
    /// tiering on that code is shaped by Synthesized PGO and the JIT's inlining decisions differ: a fused backward's
    /// recomputed apply and InstanceNorm NCHW's statistics left helpers as calls only there, 2026-12-04). With tiering on,
    /// the call-counting threshold is out of reach, so nothing is recompiled in the background (whose listings would
    /// interleave with the kernels').
    /// The scalar leg checks tiering off only: one lane a "vector", its helpers run millions of times and reach tier 1 even
    /// so, and the scalar fallback is not held to the rule with tiering on (docs/architecture.md).</summary>
    /// <summary>Runtime methods with a loop that run once a layer (its construction, its type's static fields) or a process,
    /// left at tier 0 (matched anywhere in the listed name).</summary>
    private static readonly string[] OncePerLayer =
        ["AlignedArrays:Allocate", "LayerShape:.ctor(", "LayerShape:FindOneKeptAxis(", ":NamesOf(", ":GTextOf(", "Streaming:DetectLastLevelCacheBytes("];

    [Theory]
    [MemberData(nameof(Tierings))]
    public async Task OptimizedKernelsLeaveNoVectorHelperAsACall(bool tiered)
    {
        KernelPath path = IsaPathTests.Expected;
        string listing = Path.Combine(Path.GetTempPath(), $"normkernels-jit-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
        try
        {
            ProcessStartInfo start = SafetyCaseTests.ChildStart("codegen");
            // Tiering off: every method compiled optimized on its first call, on the thread that calls it. On: the kernels
            // optimized on their first call, the rest at tier 0 and never promoted. Either way no background tier-up whose
            // listings would interleave with the kernels' (the child runs its kernels on one thread).
            start.Environment["DOTNET_TieredCompilation"] = tiered ? "1" : "0";
            if (tiered) start.Environment["DOTNET_TC_CallCountThreshold"] = "1000000";
            start.Environment["DOTNET_JitDisasm"] = "*";
            start.Environment["DOTNET_JitStdOutFile"] = listing;
            using Process child = SafetyCaseTests.StartGuarded(start, Path.GetFileName(SafetyCaseTests.ChildDll));
            Task<string> stdout = child.StandardOutput.ReadToEndAsync(), stderr = child.StandardError.ReadToEndAsync();
            if (!child.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                child.Kill(entireProcessTree: true);
                Assert.Fail($"the codegen child did not finish in 10 minutes:\n{await stdout}\n{await stderr}");
            }
            string output = await stdout, errors = await stderr;
            Assert.True(child.ExitCode == 0, $"the codegen child exited with {child.ExitCode}:\n{output}\n{errors}");
            Assert.True(File.Exists(listing), $"the JIT wrote no disassembly to {listing} (DOTNET_JitStdOutFile)");

            int optimized = 0, kernels = 0;
            var found = new SortedSet<string>(StringComparer.Ordinal);
            // Tiering on: the methods listed at tier 0, and what each optimized method calls (whole names, one instantiation each).
            var atTier0 = new HashSet<string>(StringComparer.Ordinal);
            var callees = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            var tier0Loops = new SortedSet<string>(StringComparer.Ordinal);
            string? method = null;
            foreach (string line in File.ReadLines(listing))
            {
                if (line.StartsWith("; Assembly listing for method ", StringComparison.Ordinal))
                {
                    // With tiering on, a method with a loop starts as "Instrumented Tier0" (and nothing is promoted here): the
                    // runtime's own methods must not, but for those that run once a layer or a process.
                    string listed = line[30..];
                    if (tiered && line.Contains("(Instrumented Tier0)", StringComparison.Ordinal) && listed.StartsWith("NormKernels.Runtime.", StringComparison.Ordinal)
                        && !OncePerLayer.Any(listed.Contains))
                        tier0Loops.Add(Shorten(listed));
                    // "... (FullOpts)", "(Tier1)", "(Tier1-OSR)" are checked; "(Tier0)", "(Instrumented ...)", "(MinOpts)" are not.
                    method = line.Contains("Tier0)", StringComparison.Ordinal) || line.Contains("(Instrumented", StringComparison.Ordinal)
                        || line.Contains("(MinOpts)", StringComparison.Ordinal) ? null : line[30..];
                    string bare = listed.EndsWith(')') && listed.LastIndexOf(" (", StringComparison.Ordinal) is int open and > 0 ? listed[..open] : listed;
                    if (method is null)
                    {
                        if (tiered && line.Contains("Tier0)", StringComparison.Ordinal)) atTier0.Add(bare);
                        continue;
                    }
                    if (tiered && !callees.ContainsKey(bare)) callees[bare] = new HashSet<string>(StringComparer.Ordinal);
                    optimized++;
                    if (method.StartsWith("NormKernels.Runtime.", StringComparison.Ordinal)) kernels++;
                    continue;
                }
                if (method is null) continue;
                if (tiered && WholeCallTarget().Match(line) is { Success: true } whole)
                    callees[method[..method.LastIndexOf(" (", StringComparison.Ordinal)]].Add(whole.Groups["target"].Value);
                Match call = CallTarget().Match(line);
                if (!call.Success) continue;
                string type = call.Groups["type"].Value, name = call.Groups["method"].Value;
                string caller = Shorten(method);
                // The helpers are the runtime's own: a framework method that happens to share a name (the file system's
                // EscapeExpression, called from its enumeration on the scalar leg with .NET 10.0.12) is not one of them.
                bool helper = OperationTypes().IsMatch(type) || (VectorHelpers().IsMatch(name) && type.StartsWith("NormKernels.", StringComparison.Ordinal));
                if (helper && !(path == KernelPath.Scalar && ScalarKnown.Any(caller.StartsWith)))
                    found.Add($"{caller} calls {type}:{name}");
            }
            // The mechanism itself: the listing holds the kernels' optimized code (the runs have AggressiveOptimization).
            Assert.True(kernels >= 20, $"only {kernels} optimized NormKernels.Runtime methods among {optimized} listings in {listing}");
            Assert.True(found.Count == 0, $"{path}: optimized code calls helpers meant to be inlined:\n" + string.Join('\n', found));
            var tier0Calls = tiered ? HotCallees(callees, atTier0) : [];
            Assert.True(tier0Calls.Count == 0, $"{path}: code run once a unit, a block or a row calls runtime or generated methods at tier 0 " +
                "(compiled unoptimized until the runtime promotes them, seconds in a process that sees one CPU; mark them " +
                "AggressiveOptimization):\n" + string.Join('\n', tier0Calls));
            Assert.True(tier0Loops.Count == 0, $"{path}: runtime methods with loops run at tier 0 (per call, until the runtime promotes them; " +
                "mark them AggressiveOptimization):\n" + string.Join('\n', tier0Loops));
        }
        finally
        {
            File.Delete(listing);
        }
    }

    /// <summary>"callee <- caller" for every NormKernels method listed at tier 0 that optimized per-unit code calls: the unit
    /// bodies and the runs (<see cref="HotTypes"/>), and every optimized NormKernels method they call, and so on. A unit body
    /// too large for the JIT to inline a small helper into (the pipelined runs' blocks of GroupNorm NCHW called their block
    /// map and the block's set-up so, once a block) ran them at tier 0 until the runtime promoted them, a few percent of each
    /// of GroupNorm(32) NCHW S1's first calls (README, fifty-fourth section).</summary>
    private static SortedSet<string> HotCallees(Dictionary<string, HashSet<string>> callees, HashSet<string> atTier0)
    {
        var hot = new HashSet<string>(callees.Keys.Where(m => Shorten(m).Contains(":Run(int,int,byref)", StringComparison.Ordinal) || HotTypes.Any(m.StartsWith)), StringComparer.Ordinal);
        var pending = new Stack<string>(hot);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            string caller = pending.Pop();
            foreach (string target in callees[caller])
            {
                if (!target.StartsWith("NormKernels.", StringComparison.Ordinal)) continue;
                if (atTier0.Contains(target)) found.Add($"{Shorten(target)} <- {Shorten(caller)}");
                else if (callees.ContainsKey(target) && hot.Add(target)) pending.Push(target);
            }
        }
        return found;
    }

    public static TheoryData<bool> Tierings() => IsaPathTests.Expected == KernelPath.Scalar ? new TheoryData<bool> { false } : new TheoryData<bool> { false, true };

    /// <summary>A listing's method without its type arguments' full names (the generic arguments of one instantiation).</summary>
    private static string Shorten(string method)
    {
        string text = Regex.Replace(method, @"\[[^\[\]]*(?:\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\][^\[\]]*)*\]", "[..]");
        return text.Length > 200 ? text[..200] : text;
    }
}
