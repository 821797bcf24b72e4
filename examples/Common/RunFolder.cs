namespace DeepSharp.Examples.Common;

/// <summary>
/// Where an example writes what a run produces (plots, tables): <c>runs/</c> under the current directory unless
/// <c>--out-dir</c> says otherwise. The folder is ignored by git, so a run never rewrites a committed file.
/// </summary>
public static class RunFolder
{
    /// <summary>The default output folder, relative to the current directory.</summary>
    public const string Default = "runs";

    /// <summary><paramref name="fileName"/> inside <paramref name="folder"/> (default <see cref="Default"/>); the folder is created.</summary>
    public static string File(string fileName, string? folder = null)
    {
        string dir = folder ?? Default;
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, fileName);
    }
}
