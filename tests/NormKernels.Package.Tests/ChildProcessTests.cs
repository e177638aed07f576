namespace NormKernels.Package.Tests;

/// <summary>
/// <see cref="Dotnet"/>'s child processes (CliWrap) on a shell script instead of the dotnet CLI: what they print and their
/// exit code come back, and a child that outlives its timeout is killed with its children and reported with what it printed.
/// </summary>
public sealed class ChildProcessTests
{
    [Fact]
    public async Task Output_error_and_exit_code_come_back()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "needs /bin/sh");
        ChildResult result = await Dotnet.RunProgramAsync("/bin/sh", "sh", Path.GetTempPath(), TimeSpan.FromMinutes(1),
            "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("out\n", result.Output, StringComparison.Ordinal);
        Assert.Contains("err\n", result.Output, StringComparison.Ordinal);
        Assert.Equal("err\n", result.StandardError);
        Assert.Contains("--- of which standard error ---\nerr", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_child_past_its_timeout_is_killed_with_its_children_and_its_output_is_reported()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc");
        var started = System.Diagnostics.Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => Dotnet.RunProgramAsync("/bin/sh", "sh", Path.GetTempPath(),
            TimeSpan.FromSeconds(3), "-c", "sleep 300 & echo grandchild $!; echo still-running >&2; wait"));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "the timeout took " + started.Elapsed);
        Assert.Contains("did not finish within 3 s and was killed", timeout.Message, StringComparison.Ordinal);
        Assert.Contains("still-running", timeout.Message, StringComparison.Ordinal);

        // The shell's own child, the sleep, is gone too (or a zombie waiting to be reaped), not left running for 300 s.
        string pid = timeout.Message.Split('\n').Single(l => l.StartsWith("grandchild ", StringComparison.Ordinal))["grandchild ".Length..];
        string stat = Path.Combine("/proc", pid, "stat");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (File.Exists(stat) && !IsZombie(stat) && DateTime.UtcNow < deadline) await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.True(!File.Exists(stat) || IsZombie(stat), "the grandchild " + pid + " is still running");
    }

    private static bool IsZombie(string stat)
    {
        try
        {
            string text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException) { return true; }   // gone between the two looks
    }
}
