using System.Text.RegularExpressions;

namespace DeepSharp.Tests.Packaging;

/// <summary>
/// examples/AotSmoke, as built by the test project (JIT, with the trim and AOT analyzers of its PublishAot build as
/// errors), trains to at least 95 % accuracy. The NativeAOT publish itself (~85 s, needs clang) stays a manual step.
/// </summary>
[TestFixture, Category("Packaging")]
public class AotSmokeTests
{
    [Test]
    public void TheJitBuildOfTheAotSmokeTrainerLearns()
    {
        string dll = Path.Combine(DotnetCli.RepoRoot, "examples", "AotSmoke", "bin", DotnetCli.Configuration, "net10.0", "AotSmoke.dll");
        Assert.That(File.Exists(dll), $"{dll} was not built with the tests");
        string output = DotnetCli.RunOk(DotnetCli.RepoRoot, TimeSpan.FromSeconds(120), null, dll, "300");
        var final = Regex.Match(output, @"final loss ([0-9.]+), accuracy ([0-9.]+)");
        Assert.That(final.Success, output);
        Assert.That(double.Parse(final.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(0.1), output);
    }
}
