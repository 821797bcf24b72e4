using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace DeepSharp.Tests.Packaging;

/// <summary>
/// Every <c>```csharp</c> block of README.md, docs/*.md and the package readmes compiles against DeepSharp, as a
/// newcomer would paste it into the Program.cs of a fresh console project (implicit usings only: no
/// <c>using DeepSharp;</c> for free), with warnings as errors. All blocks are compiled in one process with Roslyn,
/// one compilation each (a program's top-level statements need their own), sharing the references: a few seconds.
/// </summary>
/// <remarks>
/// Conventions, one HTML comment on the line just before a block, <c>&lt;!-- snippet: KEY VALUE; KEY VALUE --&gt;</c>:
/// <list type="bullet">
/// <item><c>file NAME.cs</c>: the block is a file of its own (types only), which later blocks can use.</item>
/// <item><c>with NAME.cs, NAME.cs</c>: compile the block together with those earlier blocks of the same document,
/// as the separate files of one project (so a program's statements never follow a class: CS8803).</item>
/// <item><c>prelude CODE</c>: a fragment that uses names it does not declare; the C# statements CODE
/// (e.g. <c>var x = Tensor.Randn(3);</c>) go in front of it, after its using directives.</item>
/// <item><c>excerpt PATH</c>: the block is quoted from repository file PATH (library internals a user cannot
/// compile); every non-blank line of it must appear in that file, in order.</item>
/// </list>
/// </remarks>
[TestFixture]
public class DocSnippetTests
{
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;

        """;

    /// <summary>A block: its code, the files it is compiled with, or the repository file it quotes.</summary>
    public sealed record Snippet(string File, int Line, string Code, IReadOnlyList<string> With, string? Excerpt)
    {
        public override string ToString() => $"{File}:{Line}";
    }

    private static readonly Regex Marker = new(@"^<!--\s*snippet:(?<body>.*)-->\s*$");

    /// <summary>The markdown files whose C# must compile.</summary>
    public static IEnumerable<string> Documents()
    {
        string root = DotnetCli.RepoRoot;
        yield return "README.md";
        foreach (var f in Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
            yield return Path.GetRelativePath(root, f);
        yield return "src/DeepSharp/PackageReadme.md";
        yield return "src/DeepSharp.Testing/PackageReadme.md";
    }

    /// <summary>The ```csharp blocks of one markdown file with their markers applied.</summary>
    public static List<Snippet> Extract(string relativePath)
    {
        var lines = System.IO.File.ReadAllLines(Path.Combine(DotnetCli.RepoRoot, relativePath));
        var snippets = new List<Snippet>();
        var files = new Dictionary<string, string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp") continue;
            int start = i + 1, end = start;
            while (end < lines.Length && lines[end].Trim() != "```") end++;
            string code = string.Join('\n', lines[start..end]);
            var with = new List<string>();
            string? excerpt = null;
            var marker = i > 0 ? Marker.Match(lines[i - 1].Trim()) : Match.Empty;
            string body = marker.Success ? marker.Groups["body"].Value : "";
            // "prelude" comes last and takes the rest, semicolons included.
            var prelude = Regex.Match(body, @"(^|;)\s*prelude\s(?<code>.*)$");
            if (prelude.Success)
            {
                code = AfterUsings(code, prelude.Groups["code"].Value.Trim());
                body = body[..prelude.Index];
            }
            if (marker.Success)
                foreach (var part in body.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    int space = part.IndexOf(' ');
                    string key = space < 0 ? part : part[..space], value = space < 0 ? "" : part[(space + 1)..].Trim();
                    switch (key)
                    {
                        case "file": files[value] = code; break;
                        case "with":
                            foreach (var name in value.Split(',', StringSplitOptions.TrimEntries))
                                with.Add(files.TryGetValue(name, out var other) ? other
                                    : throw new InvalidDataException($"{relativePath}:{i}: 'with {name}': no earlier block is 'file {name}'"));
                            break;
                        case "excerpt": excerpt = value; break;
                        default: throw new InvalidDataException($"{relativePath}:{i}: unknown snippet marker '{key}'");
                    }
                }
            snippets.Add(new Snippet(relativePath, start, code, with, excerpt));
            i = end;
        }
        return snippets;
    }

    private static readonly Regex UsingDirective = new(@"^\s*(global\s+)?using\s+(static\s+)?[\w.]+\s*(=\s*[\w.<>, ]+)?;\s*$");

    /// <summary>Inserts <paramref name="statements"/> after the using directives of <paramref name="code"/> (they must come first).</summary>
    private static string AfterUsings(string code, string statements)
    {
        var lines = code.Split('\n');
        int n = 0;
        while (n < lines.Length && (UsingDirective.IsMatch(lines[n]) || lines[n].Trim().Length == 0)) n++;
        return string.Join('\n', [.. lines[..n], statements, .. lines[n..]]);
    }

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        // The shared framework (what a console app gets) plus the packages a reader adds: DeepSharp, DeepSharp.Testing,
        // DeepSharp.Onnx and ONNX Runtime (docs/onnx.md),
        // and for the Testing readme's property tests FsCheck and NUnit.
        string framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = Directory.GetFiles(framework, "*.dll").Where(IsManaged).ToList();
        foreach (var t in new[] { typeof(Tensor), typeof(DeepSharp.Testing.TensorGen), typeof(FsCheck.Config), typeof(FsCheck.Fluent.Prop),
                     typeof(FsCheck.NUnit.PropertyAttribute), typeof(TestAttribute), typeof(System.Numerics.Tensors.TensorPrimitives),
                     typeof(Microsoft.FSharp.Core.FSharpFunc<,>), typeof(DeepSharp.Onnx.Onnx), typeof(DeepSharp.Distributed.Distributed), typeof(Microsoft.ML.OnnxRuntime.InferenceSession) })
            paths.Add(t.Assembly.Location);
        return [.. paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    });

    private static bool IsManaged(string path)
    {
        try { System.Reflection.AssemblyName.GetAssemblyName(path); return true; }
        catch (BadImageFormatException) { return false; }
    }

    private static IEnumerable<TestCaseData> AllSnippets() =>
        Documents().SelectMany(Extract).Select(s => new TestCaseData(s).SetArgDisplayNames(s.ToString()));

    [Test]
    public void TheDocumentsHaveSnippetsToCheck()
    {
        var all = Documents().SelectMany(Extract).ToList();
        Assert.That(all, Has.Count.GreaterThanOrEqualTo(15));
        Assert.That(all.Select(s => s.File).Distinct(), Does.Contain("README.md").And.Contain("docs/custom-ops-and-modules.md"));
    }

    [TestCaseSource(nameof(AllSnippets))]
    public void SnippetCompiles(Snippet snippet)
    {
        if (snippet.Excerpt is { } source)
        {
            // A quote of library source: each line, in order, in the quoted file.
            var text = System.IO.File.ReadAllLines(Path.Combine(DotnetCli.RepoRoot, source)).Select(l => l.Trim()).ToList();
            int at = 0;
            foreach (var line in snippet.Code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
            {
                int found = text.IndexOf(line, at);
                Assert.That(found, Is.GreaterThanOrEqualTo(0), $"{snippet}: the line '{line}' is not (or not in this order) in {source}");
                at = found + 1;
            }
            return;
        }
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var main = CSharpSyntaxTree.ParseText(snippet.Code, options, snippet.File);
        var trees = new List<SyntaxTree> { CSharpSyntaxTree.ParseText(ImplicitUsings, options, "GlobalUsings.g.cs"), main };
        trees.AddRange(snippet.With.Select((code, k) => CSharpSyntaxTree.ParseText(code, options, $"with{k}.cs")));
        bool program = trees.Any(t => t.GetCompilationUnitRoot().Members.OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any());
        var compilation = CSharpCompilation.Create("Snippet", trees, References.Value,
            new CSharpCompilationOptions(program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true, generalDiagnosticOption: ReportDiagnostic.Error));
        var errors = compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree == main)
            .Select(d => $"{snippet.File}:{snippet.Line + d.Location.GetLineSpan().StartLinePosition.Line}: {d.Id} {d.GetMessage()}")
            .ToList();
        Assert.That(errors, Is.Empty, $"the snippet at {snippet}:\n{snippet.Code}\n\n" + string.Join('\n', errors));
    }

    [Test]
    public void MarkersJoinFilesAddPreludesAndCheckExcerpts()
    {
        string file = Path.Combine(Path.GetTempPath(), $"snippets-{Guid.NewGuid():N}.md");
        System.IO.File.WriteAllText(file, "<!-- snippet: file Ops.cs -->\n```csharp\nusing DeepSharp;\nstatic class Ops { public static Tensor Twice(Tensor x) => x * 2; }\n```\n"
            + "<!-- snippet: with Ops.cs; prelude var b = Tensor.Ones(3); b = b + 1; -->\n```csharp\nusing DeepSharp;\nConsole.WriteLine(Ops.Twice(b));\n```\n"
            + "<!-- snippet: excerpt src/DeepSharp/Ops/Softplus.cs -->\n```csharp\npublic Tensor LogSigmoid() => not in the file;\n```\n");
        try
        {
            var snippets = Extract(Path.GetRelativePath(DotnetCli.RepoRoot, file));
            Assert.That(snippets, Has.Count.EqualTo(3));
            Assert.That(snippets[1].Code, Is.EqualTo("using DeepSharp;\nvar b = Tensor.Ones(3); b = b + 1;\nConsole.WriteLine(Ops.Twice(b));"));
            Assert.That(snippets[1].With, Is.EqualTo(new[] { snippets[0].Code }));
            SnippetCompiles(snippets[0]);
            SnippetCompiles(snippets[1]);
            // A wrong quote fails, and so does a snippet that does not compile.
            Assert.Throws<AssertionException>(() => SnippetCompiles(snippets[2]));
            Assert.Throws<AssertionException>(() => SnippetCompiles(snippets[1] with { With = [] }));
        }
        finally { System.IO.File.Delete(file); }
    }
}
