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
    internal static string ChildDll => typeof(SafetyCaseTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SafetyCasesDll").Value!;

    /// <summary>How to start the child program with <paramref name="args"/> (its output redirected; the environment, this
    /// process's, to be added to by the caller).</summary>
    internal static ProcessStartInfo ChildStart(params string[] args)
    {
        string dll = Path.GetFullPath(ChildDll);
        Assert.True(File.Exists(dll), $"the child program {dll} is missing: build tests/NormKernels.SafetyCases");
        string host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return start;
    }

    internal static void RunChild(params string[] args)
    {
        ProcessStartInfo start = ChildStart(args);
        using Process child = StartGuarded(start, Path.GetFileName(ChildDll));
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

    /// <summary>
    /// Process.Start with a guard for a fork that never reaches exec: under qemu user-mode emulation (the arm64 legs) the
    /// forked copy of this multithreaded test host has hung on a lock before exec (once in about ten CI runs), leaving
    /// Process.Start waiting for it and the leg to its 40-minute timeout. A start that has not returned in a minute has its
    /// stuck forks killed (children of this process whose command line does not name the child program yet) and is tried
    /// once more.
    /// </summary>
    internal static Process StartGuarded(ProcessStartInfo start, string program)
    {
        for (int attempt = 1; ; attempt++)
        {
            Task<Process> started = Task.Run(() => Process.Start(start)!);
            if (started.Wait(TimeSpan.FromMinutes(1))) return started.Result;
            int killed = KillStuckForks(program);
            // Killed before exec, the fork's start returns (or throws); either way that process is gone.
            try
            {
                if (started.Wait(TimeSpan.FromMinutes(1))) started.Result.Dispose();
            }
            catch (AggregateException)
            {
            }
            if (attempt == 2)
                Assert.Fail($"starting the child program {program} hung twice before exec ({killed} stuck fork(s) killed the second time)");
        }
    }

    /// <summary>Kills this process's children whose command line does not name <paramref name="program"/> (forks that
    /// have not exec'd it); returns how many. Linux only (reads /proc); elsewhere none.</summary>
    private static int KillStuckForks(string program)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        int self = Environment.ProcessId, killed = 0;
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == self) continue;
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces or parentheses, so split after the last ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(rest[1]) != self) continue;
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(program, StringComparison.Ordinal)) continue;
                using Process fork = Process.GetProcessById(pid);
                fork.Kill();
                killed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or FormatException or IndexOutOfRangeException)
            {
                // The process ended meanwhile, or is not ours to read.
            }
        }
        return killed;
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
