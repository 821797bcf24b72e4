using System.Reflection;
using System.Text.RegularExpressions;

namespace DeepSharp.Tests.Packaging;

/// <summary>Every DeepSharp name in docs/pytorch-cheatsheet.md (the right-hand column and the C# loop) exists in the library.</summary>
[TestFixture]
public partial class CheatSheetTests
{
    private static readonly string[] OutsideDeepSharp = ["Console", "WriteLine", "Backward"];

    [GeneratedRegex(@"new\s+([A-Z][A-Za-z0-9]*)")]
    private static partial Regex NewType();

    [GeneratedRegex(@"(?:^|[^A-Za-z0-9_])([A-Z][A-Za-z0-9]*)\.([A-Z][A-Za-z0-9_]*)")]
    private static partial Regex StaticMember();

    [GeneratedRegex(@"[a-z\]\)]\.([A-Z][A-Za-z0-9_]*)")]
    private static partial Regex InstanceMember();

    [Test]
    public void EveryDeepSharpNameExists()
    {
        string path = Path.Combine(DotnetCli.RepoRoot, "docs", "pytorch-cheatsheet.md");
        var lines = File.ReadAllLines(path);
        var code = new List<string>();
        bool inCSharp = false;
        foreach (var line in lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal)) { inCSharp = line == "```csharp"; continue; }
            if (inCSharp) { if (!line.StartsWith("using ", StringComparison.Ordinal)) code.Add(line); continue; }   // DocSnippetTests compiles the block
            if (!line.StartsWith('|') || line.StartsWith("|---", StringComparison.Ordinal)) continue;
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length < 3 || cells[1] == "PyTorch") continue;
            code.AddRange(Regex.Matches(cells[2], "`([^`]*)`").Select(m => m.Groups[1].Value));
        }
        Assert.That(code, Has.Count.GreaterThan(150));

        var types = typeof(Tensor).Assembly.GetExportedTypes().GroupBy(t => t.Name.Split('`')[0]).ToDictionary(g => g.Key, g => g.OrderBy(t => t.IsGenericTypeDefinition).First(), StringComparer.Ordinal);
        var members = typeof(Tensor).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.FlattenHierarchy))
            .Select(m => m.Name)
            .Concat(typeof(Tensor).Assembly.GetExportedTypes().SelectMany(t => t.GetMembers(BindingFlags.NonPublic | BindingFlags.Instance))
                .OfType<MethodInfo>().Where(m => m.IsFamily).Select(m => m.Name))   // RegisterModule & co. are protected
            .ToHashSet(StringComparer.Ordinal);
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        int checkedNames = 0;
        foreach (var snippet in code)
        {
            foreach (Match m in NewType().Matches(snippet))
            {
                checkedNames++;
                if (!types.ContainsKey(m.Groups[1].Value)) missing.Add($"type {m.Groups[1].Value} (in `{snippet}`)");
            }
            foreach (Match m in StaticMember().Matches(snippet))
            {
                string type = m.Groups[1].Value, member = m.Groups[2].Value;
                if (OutsideDeepSharp.Contains(type)) continue;
                checkedNames++;
                if (!types.TryGetValue(type, out var t)) { missing.Add($"type {type} (in `{snippet}`)"); continue; }
                if (t.GetMember(member, BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.FlattenHierarchy).Length == 0
                    && !t.IsEnum)
                    missing.Add($"{type}.{member} (in `{snippet}`)");
            }
            foreach (Match m in InstanceMember().Matches(snippet))
            {
                string member = m.Groups[1].Value;
                if (OutsideDeepSharp.Contains(member) && member != "Backward") continue;
                checkedNames++;
                if (!members.Contains(member)) missing.Add($"member {member} (in `{snippet}`)");
            }
        }
        foreach (var name in new[] { "RegisterModule", "RegisterParameter", "RegisterBuffer" })
            Assert.That(typeof(DeepSharp.NN.Module).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Instance), Is.Not.Null, name);
        TestContext.Out.WriteLine($"{code.Count} snippets, {checkedNames} names checked");
        Assert.That(missing, Is.Empty, "names in the cheat sheet that the library does not have:\n" + string.Join("\n", missing));
    }
}
