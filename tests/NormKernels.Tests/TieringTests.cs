using System.Reflection;
using System.Runtime.CompilerServices;

namespace NormKernels.Tests;

/// <summary>
/// Issue 11's first calls: the runtime's kernels carry <see cref="MethodImplOptions.AggressiveOptimization"/>, so they are
/// compiled optimized on their first call instead of running the unoptimized tier for the first 30 calls and the 100 ms
/// after them (seconds in a 1-CPU process). A helper kept out of line (<see cref="MethodImplOptions.NoInlining"/>) is a
/// method of its own, compiled by its own attributes: one without AggressiveOptimization starts unoptimized, with every
/// vector operation it inlines left a call, whatever its caller is. The LRN flat kernel's edges did: LocalResponseNorm(5)
/// NCHW 32x512x7x7 took 380-399 us a call for its first 750 calls, 216-224 us after (AMD Zen 5, 1 thread). The
/// <c>CodegenTests</c> listing runs with tiered compilation off, so it cannot see this; this test reads the attributes.
/// </summary>
public sealed class TieringTests
{
    /// <summary>Out-of-line methods that run once per thread or process, not per call.</summary>
    private static readonly string[] Cold = ["NormKernels.Runtime.LastCall.Create"];

    [Fact]
    public void EveryOutOfLineRuntimeMethodIsOptimizedFromItsFirstCall()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var unoptimized = new List<string>();
        int outOfLine = 0;
        foreach (Type type in typeof(Parallelism).Assembly.GetTypes().Where(t => t.Namespace == "NormKernels.Runtime"))
            foreach (MethodBase method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                MethodImplAttributes flags = method.MethodImplementationFlags;
                if ((flags & MethodImplAttributes.NoInlining) == 0) continue;
                outOfLine++;
                string name = $"{type.FullName}.{method.Name}";
                if ((flags & MethodImplAttributes.AggressiveOptimization) == 0 && !Cold.Contains(name)) unoptimized.Add(name);
            }
        Assert.True(outOfLine > 30, $"the scan found {outOfLine} out-of-line methods: it no longer sees the runtime's kernels");
        Assert.True(unoptimized.Count == 0, "out-of-line without AggressiveOptimization: " + string.Join(", ", unoptimized.Distinct()));
    }
}
