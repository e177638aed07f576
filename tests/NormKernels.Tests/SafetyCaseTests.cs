using System.Diagnostics;
using System.Reflection;

namespace NormKernels.Tests;

/// <summary>
/// The cases that used to kill the process (issue 9): dims whose product wraps 64 bits, in every entry point of every
/// family; one instance trained from 8 threads. Each runs in a child process (tests/NormKernels.SafetyCases, built with
/// this project), so a regression fails one test instead of taking the test host down. The child inherits this
/// process's environment, so it runs on the same ISA leg. It prints PASS/FAIL per check and exits 0 when all held.
/// </summary>
public sealed class SafetyCaseTests
{
    private static string ChildDll => typeof(SafetyCaseTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SafetyCasesDll").Value!;

    private static void RunChild(params string[] args)
    {
        string dll = Path.GetFullPath(ChildDll);
        Assert.True(File.Exists(dll), $"the child program {dll} is missing: build tests/NormKernels.SafetyCases");
        string host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using Process child = Process.Start(start)!;
        Task<string> stdout = child.StandardOutput.ReadToEndAsync(), stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail($"child '{string.Join(' ', args)}' did not finish in 3 minutes:\n{stdout.Result}\n{stderr.Result}");
        }
        string output = stdout.Result, errors = stderr.Result;
        Assert.True(child.ExitCode == 0,
            $"child '{string.Join(' ', args)}' exited with {child.ExitCode} (0 = every check held, 1 = a check failed, other = a crash):\n{output}\n{errors}");
        Assert.Contains("PASS ", output);
        Assert.DoesNotContain("FAIL ", output);
    }

    public static TheoryData<string, string> WrapCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string layer in new[] { "BnNchw", "BnNhwc", "InNchw", "InNhwc", "GnNhwc", "LnNtc", "RmsNtc", "LnNchwElementwise", "BnNchwDouble", "InNhwcDouble", "LrnNchw", "LrnNhwc" })
            foreach (string set in new[] { "512", "0" })
                data.Add(layer, set);
        return data;
    }

    /// <summary>Dims whose product is 2^64 + 512 with spans of 512 elements (the reproducer: the kernel used to
    /// read and write far outside them), or 2^64 with empty spans: every entry point (instance and interface Forward and
    /// Backward, training and inference; static ForwardTraining, ForwardInference, BackwardTraining, BackwardInference,
    /// ShardStatistics, StatisticCount; ForwardWithStatistics; AdaptiveForward; LRN Forward, Backward and kernels) throws
    /// ArgumentOutOfRangeException naming the dim where the product overflows, and writes nothing (outputs, running
    /// statistics, gradients, LastPath). The TensorSpan overloads read their dims from a tensor, whose lengths cannot wrap.</summary>
    [Theory]
    [MemberData(nameof(WrapCases))]
    public void WrappingDimsAreRefusedEverywhere(string layer, string set) => RunChild("wrap", layer, set);

    [Theory]
    [InlineData("InNchw")]
    [InlineData("InNhwc")]
    public void WrappingStyleDimsAreRefused(string layer) => RunChild("wrap-style", layer);

    /// <summary>One instance, 8 threads of training Forward + Backward with batch sizes 2 and 4: every call returns the
    /// serial result bit for bit or throws InvalidOperationException having written nothing; no gradient update is lost;
    /// the running statistics are one input's, never a mix.</summary>
    [Theory]
    [InlineData("BnNchw")]
    [InlineData("InNhwc")]
    [InlineData("GnNhwc")]
    [InlineData("LnNtc")]
    [InlineData("RmsNtc")]
    public void ConcurrentTrainingOnOneInstanceIsRefusedNotMixed(string layer) => RunChild("train", layer);
}
