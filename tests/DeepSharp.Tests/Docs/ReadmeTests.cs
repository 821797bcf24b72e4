using System.Text.RegularExpressions;
using DeepSharp.Examples;

namespace DeepSharp.Tests;

/// <summary>The README's quick-start is the QuickStart example's code, and it runs and learns.</summary>
[TestFixture]
public class ReadmeTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DeepSharp.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("DeepSharp.sln not found above the test directory.");
    }

    private static string Normalize(string code) =>
        string.Join("\n", code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    [Test]
    public void ReadmeSnippetIsTheCompiledQuickStart()
    {
        string root = RepoRoot();
        string example = File.ReadAllText(Path.Combine(root, "examples/QuickStart/QuickStartExample.cs"));
        var region = Regex.Match(example, @"// <quickstart>\s*\n(.*?)// </quickstart>", RegexOptions.Singleline);
        Assert.That(region.Success, Is.True, "quick-start markers missing in the example");
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var block = Regex.Match(readme, @"```csharp\s*\n(.*?)```", RegexOptions.Singleline);
        Assert.That(block.Success, Is.True, "README has no csharp code block");
        string snippet = Regex.Replace(block.Groups[1].Value, @"^using DeepSharp;\s*", "", RegexOptions.Multiline);
        Assert.That(Normalize(snippet), Is.EqualTo(Normalize(region.Groups[1].Value.Replace("output.WriteLine", "Console.WriteLine"))));
    }

    [Test]
    public void QuickStartRunsAndLearnsXor()
    {
        var output = new StringWriter();
        double loss = QuickStartExample.Run(output);
        Assert.That(output.ToString(), Does.StartWith("tensor([2., 4., 6.], shape=[3], dtype=Float64)"));
        Assert.That(loss, Is.LessThan(0.02));
    }
}
