using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace DeepSharp.Tests.Packaging;

/// <summary>Runs the <c>dotnet</c> CLI as a subprocess for the packaging tests, with a timeout and captured output.</summary>
internal static class DotnetCli
{
    /// <summary>The repository root (the folder holding DeepSharp.sln), found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The build configuration of the running test assembly (Debug or Release), so that packing can reuse its build.</summary>
    public static string Configuration { get; } =
        typeof(DotnetCli).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DeepSharp.sln"))) return dir.FullName;
        throw new InvalidOperationException("DeepSharp.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>The dotnet host that runs these tests (DOTNET_HOST_PATH under dotnet test), else the one on PATH.</summary>
    private static string DotnetExe =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>Runs <c>dotnet args</c> in <paramref name="workingDirectory"/>; fails the test on timeout.</summary>
    public static Result Run(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetExe)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The test host runs inside an MSBuild-launched process: drop the variables that would point a child build
        // at this build's SDK internals, and keep the CLI quiet.
        foreach (var key in psi.Environment.Keys.ToList())
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || key.StartsWith("MSBUILD", StringComparison.Ordinal)
                || key is "VSTEST_HOST_DEBUG" or "DOTNET_ROOT_X64")
                psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;

        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s. Output so far:\n{output}");
        }
        process.WaitForExit();
        lock (output) return new Result(process.ExitCode, output.ToString(), sw.Elapsed);
    }

    /// <summary>Runs and asserts a zero exit code, returning the output.</summary>
    public static string RunOk(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var r = Run(workingDirectory, timeout, environment, args);
        TestContext.Out.WriteLine($"dotnet {string.Join(' ', args)}: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:F1} s");
        Assert.That(r.ExitCode, Is.Zero, $"dotnet {string.Join(' ', args)} failed:\n{r.Output}");
        return r.Output;
    }
}
