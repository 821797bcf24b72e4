using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace DeepSharp.Tests.Packaging;

/// <summary>
/// <c>dotnet pack</c> produces the DeepSharpNet and DeepSharpNet.Testing packages (assemblies DeepSharp and DeepSharp.Testing)
/// with full metadata, and a fresh console project that references the packed DeepSharpNet from a local folder feed
/// restores, builds and trains XOR to convergence.
/// These tests run the dotnet CLI as a subprocess (about 20–40 s together).
/// </summary>
[TestFixture, Category("Packaging"), NonParallelizable]
public class PackageTests
{
    private const string Version = "0.1.0";
    /// <summary>The id of the core package: "DeepSharp" on nuget.org is another project's.</summary>
    private const string CoreId = "DeepSharpNet";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(240);
    private string _root = "";
    private string _feed = "";

    [OneTimeSetUp]
    public void PackBoth()
    {
        _root = Directory.CreateTempSubdirectory("deepsharp-pack-").FullName;
        _feed = Path.Combine(_root, "feed");
        foreach (var project in new[] { "src/DeepSharp/DeepSharp.csproj", "src/DeepSharp.Testing/DeepSharp.Testing.csproj" })
        {
            // The test project references both libraries, so they are already built in this configuration: pack without
            // rebuilding (a rebuild would rewrite the DeepSharp.dll this test host has loaded).
            DotnetCli.RunOk(DotnetCli.RepoRoot, Timeout, null,
                "pack", project, "-c", DotnetCli.Configuration, "--no-build", "-o", _feed);
        }
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static XElement Metadata(ZipArchive zip, string id)
    {
        var entry = zip.GetEntry(id + ".nuspec") ?? throw new AssertionException($"{id}.nuspec missing");
        using var s = entry.Open();
        var doc = XDocument.Load(s);
        return doc.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static string? Field(XElement metadata, string name) =>
        metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

    [TestCase(CoreId, "DeepSharp.dll", "DeepSharp.xml")]
    [TestCase(CoreId + ".Testing", "DeepSharp.Testing.dll", "DeepSharp.Testing.xml")]
    public void PackageCarriesMetadataReadmeLicenseDocsAndSymbols(string id, string dll, string xml)
    {
        string nupkg = Path.Combine(_feed, $"{id}.{Version}.nupkg");
        string snupkg = Path.Combine(_feed, $"{id}.{Version}.snupkg");
        Assert.That(File.Exists(nupkg), $"{nupkg} not produced");
        Assert.That(File.Exists(snupkg), $"{snupkg} (symbols) not produced");
        TestContext.Out.WriteLine($"{id}: nupkg {new FileInfo(nupkg).Length / 1024} KiB, snupkg {new FileInfo(snupkg).Length / 1024} KiB");

        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var md = Metadata(zip, id);
            Assert.Multiple(() =>
            {
                Assert.That(Field(md, "id"), Is.EqualTo(id));
                Assert.That(Field(md, "version"), Is.EqualTo(Version));
                Assert.That(Field(md, "authors"), Is.EqualTo("DeepSharp contributors"));
                Assert.That(Field(md, "description"), Is.Not.Empty);
                Assert.That(Field(md, "tags"), Does.Contain("tensor"));
                Assert.That(Field(md, "license"), Is.EqualTo("MIT"));
                Assert.That(Field(md, "readme"), Is.EqualTo("README.md"));
                var repo = md.Elements().SingleOrDefault(e => e.Name.LocalName == "repository");
                Assert.That(repo?.Attribute("type")?.Value, Is.EqualTo("git"));
                var names = zip.Entries.Select(e => e.FullName).ToList();
                Assert.That(names, Does.Contain("README.md"));
                Assert.That(names, Does.Contain("LICENSE"));
                Assert.That(names, Does.Contain($"lib/net10.0/{dll}"));
                Assert.That(names, Does.Contain($"lib/net10.0/{xml}"), "XML documentation");
                if (id == CoreId)
                {
                    // NuGet imports build/<package id>.props only: the file is named for the id, not the assembly.
                    Assert.That(names, Does.Contain($"build/{CoreId}.props"), "the JIT setting for consuming apps");
                    Assert.That(names, Does.Contain($"buildTransitive/{CoreId}.props"));
                }
            });
            if (id == CoreId + ".Testing")
            {
                var deps = md.Descendants().Where(e => e.Name.LocalName == "dependency")
                    .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
                Assert.That(deps, Does.ContainKey(CoreId).WithValue(Version));
                Assert.That(deps, Does.ContainKey("FsCheck"));
            }
        }
        using (var zip = ZipFile.OpenRead(snupkg))
            Assert.That(zip.Entries.Select(e => e.FullName), Does.Contain($"lib/net10.0/{Path.ChangeExtension(dll, ".pdb")}"));
    }

    private const string ConsumerProgram = """
        using DeepSharp;
        using DeepSharp.NN;
        using DeepSharp.Optim;

        Torch.ManualSeed(0);
        var x = Tensor.FromArray(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
        var y = Tensor.FromArray(new float[,] { { 0 }, { 1 }, { 1 }, { 0 } });
        var model = new Sequential(new Linear(2, 8), new Tanh(), new Linear(8, 1), new Sigmoid());
        var optimizer = new Adam(model.Parameters(), lr: 0.05);
        double loss = double.NaN;
        for (int step = 0; step < 600; step++)
        {
            optimizer.ZeroGrad();
            var l = F.MseLoss(model.Forward(x), y);
            l.Backward();
            optimizer.Step();
            loss = l.Item();
        }
        Tensor p;
        using (Autograd.NoGrad()) p = model.Forward(x);
        float[] predictions = p.AsSpan<float>().ToArray();
        Console.WriteLine($"final loss {loss:F6}");
        Console.WriteLine("predictions " + string.Join(" ", predictions.Select(v => v > 0.5f ? 1 : 0)));
        """;

    [Test]
    public void FreshConsoleProjectRestoresThePackageAndTrainsXor()
    {
        string app = Path.Combine(_root, "XorApp");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "XorApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{CoreId}" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);
        // The local feed first; the machine's usual sources (nuget.org or its mirror) stay configured for the dependencies,
        // and this machine's package cache is offered as an offline source so that they restore without the network.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } c ? c
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cacheSource = Directory.Exists(cache) ? $"""<add key="machine-cache" value="{cache}" />""" : "";
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local-deepsharp" value="{_feed}" />
                {cacheSource}
              </packageSources>
            </configuration>
            """);
        // A private packages folder, so that a package 0.1.0 cached by an earlier run can never stand in for this build.
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_root, "packages") };

        DotnetCli.RunOk(app, Timeout, env, "build", "-c", "Release");
        string output = DotnetCli.RunOk(app, Timeout, env, "run", "-c", "Release", "--no-build");
        TestContext.Out.WriteLine(output);

        var restored = Path.Combine(_root, "packages", CoreId.ToLowerInvariant(), Version, "lib", "net10.0", "DeepSharp.dll");
        Assert.That(File.Exists(restored), $"{CoreId} was not restored from the local feed");
        // The package's build/DeepSharpNet.props reached the app: loops are compiled optimised at first call.
        string runtimeConfig = File.ReadAllText(Path.Combine(app, "bin", "Release", "net10.0", "XorApp.runtimeconfig.json"));
        Assert.That(runtimeConfig, Does.Match(@"""System\.Runtime\.TieredCompilation\.QuickJitForLoops"":\s*false"), runtimeConfig);
        var loss = Regex.Match(output, @"final loss ([0-9.]+)");
        Assert.That(loss.Success, output);
        Assert.That(double.Parse(loss.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(0.02), output);
        Assert.That(output, Does.Contain("predictions 0 1 1 0"));
    }
}
