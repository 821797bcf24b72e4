using System.Diagnostics;
using System.Text;

namespace DeepSharp.Distributed.Tests;

/// <summary>Starts the worker program under <c>mpirun -np N</c> (or alone) and collects its output, with a timeout.</summary>
internal static class MpiRun
{
    public static string WorkerDll => Path.Combine(AppContext.BaseDirectory, "DeepSharp.Distributed.Worker.dll");

    public sealed record Result(int ExitCode, string Output, bool TimedOut)
    {
        /// <summary>The text after "rank R: " of the lines that start with it and then with <paramref name="key"/>.</summary>
        public string[] Lines(int rank, string key) =>
            [.. Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith($"rank {rank}: {key}", StringComparison.Ordinal))
                .Select(l => l[$"rank {rank}: ".Length..])];
    }

    /// <summary>The dotnet host running the tests.</summary>
    public static string Dotnet => Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    /// <summary>The mpirun options every test run uses (root in a container, more ranks than cores).</summary>
    public const string MpirunOptions = "--allow-run-as-root --oversubscribe";

    public static Result Start(int ranks, string arguments, TimeSpan? timeout = null) =>
        ranks > 0
            ? Run("mpirun", $"{MpirunOptions} -np {ranks} {Dotnet} {WorkerDll} {arguments}", timeout)
            : Run(Dotnet, $"{WorkerDll} {arguments}", timeout);

    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/>, stdout and stderr together, killing it
    /// after <paramref name="timeout"/> (60 s by default).</summary>
    public static Result Run(string file, string arguments, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file, arguments);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.Environment["TERM"] = "dumb";
        psi.Environment.Remove("DEEPSHARP_NUM_THREADS");
        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60));
        if (!exited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        lock (output) return new Result(exited ? process.ExitCode : -1, output.ToString(), !exited);
    }
}
