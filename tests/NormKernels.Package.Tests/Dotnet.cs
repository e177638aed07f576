using System.Diagnostics;
using System.Text;

namespace NormKernels.Package.Tests;

/// <summary>What a finished child process printed, for assertions and their messages.</summary>
public sealed record ChildResult(string CommandLine, int ExitCode, string Output)
{
    public override string ToString() =>
        $"$ {CommandLine}\n(exit code {ExitCode})\n{Output}";
}

/// <summary>Runs the dotnet CLI as a child process with a timeout, as a user at a terminal would.</summary>
public static class Dotnet
{
    /// <summary>The dotnet host running these tests (so the child uses the same SDK), else the one on PATH.</summary>
    public static string HostPath { get; } = FindHost();

    public static ChildResult Run(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(HostPath)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        Isolate(start.Environment);

        string commandLine = "dotnet " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        // The package test runs beside the other test projects (dotnet test on the solution runs them in
        // parallel): its builds yield the CPU to them, so their timing checks see a quiet machine.
        // Processes the CLI starts (MSBuild nodes, the compiler) inherit the priority.
        try { process.PriorityClass = ProcessPriorityClass.BelowNormal; }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or PlatformNotSupportedException) { }
        process.StandardInput.Close();   // nothing may wait for input
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // WaitForExitAsync also waits for the end of both output streams; build servers are off (see
        // Isolate), so no grandchild keeps them open after the CLI exits.
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            process.WaitForExitAsync(cancel.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(10_000);
            lock (output)
            {
                throw new TimeoutException(
                    $"$ {commandLine}\ndid not finish within {timeout.TotalSeconds:F0} s and was killed. Output so far:\n{output}");
            }
        }

        lock (output) return new ChildResult(commandLine, process.ExitCode, output.ToString());
    }

    /// <summary>
    /// The child sees a user's environment, not the test run's: MSBuild variables that `dotnet test`
    /// leaves behind (MSBuildExtensionsPath, MSBUILD_EXE_PATH, ...) would point its build at this
    /// run's MSBuild; no build server or reusable node may outlive the child and hold its output
    /// open; messages are in English; ISA switches of a test leg do not apply to a user's program.
    /// </summary>
    private static void Isolate(IDictionary<string, string?> environment)
    {
        foreach (string name in environment.Keys.ToList())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("_MSBuild", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("NORMKERNELS_", StringComparison.OrdinalIgnoreCase))
            {
                environment.Remove(name);
            }
        }
        environment["MSBUILDDISABLENODEREUSE"] = "1";
        environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        environment["UseSharedCompilation"] = "false";
        environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_NOLOGO"] = "1";
        environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
    }

    private static string FindHost()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileName(current).Equals(exe, StringComparison.OrdinalIgnoreCase))
            return current;
        string? hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath)) return hostPath;
        return exe;
    }
}
