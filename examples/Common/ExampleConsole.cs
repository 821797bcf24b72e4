using System.Diagnostics;
using Spectre.Console;

namespace DeepSharp.Examples.Common;

/// <summary>The examples' console (Spectre.Console): live progress bars on a terminal, plain lines in CI or a log file.</summary>
public static class ExampleConsole
{
    /// <summary>True when standard output is a terminal that can draw a live progress bar.</summary>
    public static bool IsInteractive => !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";

    /// <summary>A console writing to <paramref name="output"/>; without a terminal, no colours and lines up to <paramref name="plainWidth"/> wide.</summary>
    public static IAnsiConsole Create(TextWriter output, bool interactive, int plainWidth = 160)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        if (!interactive) console.Profile.Width = plainWidth;   // a log file has no width: do not wrap lines at 80 columns
        return console;
    }

    /// <summary>
    /// Runs <paramref name="body"/> under one live progress bar of <paramref name="total"/> steps. The body reports
    /// (steps done, a markup description); the description is redrawn at most every 100 ms and at the end.
    /// </summary>
    public static void ProgressBar(IAnsiConsole console, string description, int total, Action<Action<int, Func<string>>> body,
        bool remainingTime = true)
    {
        var columns = new List<ProgressColumn>
        {
            new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
        };
        if (remainingTime) columns.Add(new RemainingTimeColumn());
        console.Progress().AutoClear(false).Columns([.. columns]).Start(ctx =>
        {
            var task = ctx.AddTask(description, maxValue: total);
            var lastUpdate = Stopwatch.StartNew();
            body((done, describe) =>
            {
                task.Value = done;
                if (lastUpdate.ElapsedMilliseconds >= 100 || done >= total)
                {
                    task.Description = describe();
                    lastUpdate.Restart();
                }
            });
            task.Value = total;
        });
    }

    /// <summary>For plain output: true at each quarter of <paramref name="total"/> (and at the end), false otherwise.</summary>
    public static Func<int, bool> Quarters(int total)
    {
        int next = 1;
        return done =>
        {
            if (done * 4 < next * total && done != total) return false;
            while (next * total <= done * 4) next++;
            return true;
        };
    }
}
