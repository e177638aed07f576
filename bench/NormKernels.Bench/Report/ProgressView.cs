using System;
using Spectre.Console;

namespace NormKernels.Bench.Report;

/// <summary>
/// The progress of a phase (the C# cases, the torch cases): on an interactive console a live Spectre.Console progress
/// bar, with each case's result line printed above it; when the output is redirected or <c>CI=true</c>, plain lines
/// only, so logs stay readable.
/// </summary>
public sealed class ProgressView
{
    private readonly ProgressTask? task;
    private readonly string title;
    private readonly object gate = new();

    private ProgressView(ProgressTask? task, string title) { this.task = task; this.title = title; }

    /// <summary>Whether progress is drawn live: the output is a terminal that takes ANSI sequences, and not CI.</summary>
    public static bool Live { get; } =
        !Console.IsOutputRedirected &&
        !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) &&
        AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>Runs <paramref name="body"/> with a progress view of <paramref name="total"/> steps titled <paramref name="title"/>.</summary>
    public static void Run(string title, int total, Action<ProgressView> body)
    {
        if (!Live)
        {
            body(new ProgressView(null, title));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
                     new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context => body(new ProgressView(context.AddTask(title, maxValue: Math.Max(1, total)), title)));
    }

    /// <summary>A line of the log: above the live bar, or printed as it is.</summary>
    public void Line(string text)
    {
        lock (gate)
        {
            if (task is null) Console.WriteLine(text);
            else AnsiConsole.WriteLine(text);
        }
    }

    /// <summary>Names the step under way (the case being measured) next to the bar.</summary>
    public void Describe(string step)
    {
        if (task is not null) task.Description = $"{title}: {step}";
    }

    /// <summary>One step done.</summary>
    public void Step() => task?.Increment(1);
}
