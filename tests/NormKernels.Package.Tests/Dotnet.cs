using System.Diagnostics;
using System.Text;
using CliWrap;

namespace NormKernels.Package.Tests;

/// <summary>What a finished child process printed, for assertions and their messages.</summary>
/// <param name="Output">Standard output and standard error, interleaved as a terminal shows them.</param>
/// <param name="StandardError">Standard error alone.</param>
public sealed record ChildResult(string CommandLine, int ExitCode, string Output, string StandardError)
{
    public override string ToString() =>
        $"$ {CommandLine}\n(exit code {ExitCode})\n{Output}" + (StandardError.Length > 0 ? $"\n--- of which standard error ---\n{StandardError}" : "");
}

/// <summary>Runs the dotnet CLI as a child process (CliWrap) with a timeout, as a user at a terminal would.</summary>
public static class Dotnet
{
    /// <summary>The dotnet host running these tests (so the child uses the same SDK), else the one on PATH.</summary>
    public static string HostPath { get; } = FindHost();

    /// <summary>
    /// Runs <c>dotnet <paramref name="args"/></c> in <paramref name="workingDirectory"/> with no standard input and returns
    /// what it printed, whatever its exit code. A child still running after <paramref name="timeout"/>, or when the test run
    /// is cancelled, is killed with its whole process tree; on the timeout this throws a <see cref="TimeoutException"/>
    /// with everything it had printed.
    /// </summary>
    public static Task<ChildResult> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgramAsync(HostPath, "dotnet", workingDirectory, timeout, args);

    /// <summary>As <see cref="RunAsync"/>, for any <paramref name="program"/> (shown as <paramref name="shownAs"/>).</summary>
    public static async Task<ChildResult> RunProgramAsync(string program, string shownAs, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        string commandLine = shownAs + " " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        var output = new StringBuilder();
        var error = new StringBuilder();
        Command command = Cli.Wrap(program)
            .WithArguments(args)
            .WithWorkingDirectory(workingDirectory)
            .WithEnvironmentVariables(Isolated())
            // The package test runs beside the other test projects (dotnet test on the solution runs them in
            // parallel): its builds yield the CPU to them, so their timing checks see a quiet machine.
            // Processes the CLI starts (MSBuild nodes, the compiler) inherit the priority.
            .WithResourcePolicy(policy => policy.SetPriority(ProcessPriorityClass.BelowNormal))
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => { lock (output) output.AppendLine(line); }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line =>
            {
                lock (output)
                {
                    output.AppendLine(line);
                    error.AppendLine(line);
                }
            }))
            .WithValidation(CommandResultValidation.None);

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancel.CancelAfter(timeout);
        try
        {
            // Cancellation kills the child's entire process tree. The pipes end with the child: build servers are off
            // (see Isolated), so no grandchild keeps them open after the CLI exits.
            CommandResult result = await command.ExecuteAsync(cancel.Token);
            lock (output) return new ChildResult(commandLine, result.ExitCode, output.ToString(), error.ToString());
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            lock (output)
            {
                throw new TimeoutException(
                    $"$ {commandLine}\ndid not finish within {timeout.TotalSeconds:F0} s and was killed. Output so far:\n{output}");
            }
        }
    }

    /// <summary>
    /// The child sees a user's environment, not the test run's: MSBuild variables that `dotnet test`
    /// leaves behind (MSBuildExtensionsPath, MSBUILD_EXE_PATH, ...) would point its build at this
    /// run's MSBuild; no build server or reusable node may outlive the child and hold its output
    /// open; messages are in English; ISA switches of a test leg do not apply to a user's program.
    /// A null value removes the variable from the child's environment.
    /// </summary>
    private static Dictionary<string, string?> Isolated()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("_MSBuild", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("NORMKERNELS_", StringComparison.OrdinalIgnoreCase))
            {
                environment[name] = null;
            }
        }
        environment["MSBUILDDISABLENODEREUSE"] = "1";
        environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        environment["UseSharedCompilation"] = "false";
        environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_NOLOGO"] = "1";
        environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        return environment;
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
