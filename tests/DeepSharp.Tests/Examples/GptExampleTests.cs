using System.Text.Json;
using DeepSharp.Examples.Gpt;

namespace DeepSharp.Tests.Examples;

/// <summary>
/// The GPT example in tiny configurations, run in-process: it learns, resumes bit for bit, its key-value cache gives the
/// logits of a full recomputation, and bad flags are named.
/// </summary>
[TestFixture]
[NonParallelizable]
public class GptExampleTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void CreateTempFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "deepsharp-gpt-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
    }

    [OneTimeTearDown]
    public void DeleteTempFolder()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Exit, string Out, string Err) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = GptApp.Execute(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static readonly string[] Tiny = ["--layers", "1", "--heads", "2", "--embd", "32", "--block", "32", "--batch-size", "8", "--json"];

    private static JsonElement LastJson(string output) => JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]).RootElement;

    [Test]
    public void ItLearnsAndReportsItsFigures()
    {
        var (exit, output, error) = Cli([.. Tiny, "--steps", "80", "--lr", "1e-2", "--eval-every", "40", "--sample", "30", "--plot", Path.Combine(_dir, "loss.png")]);
        Assert.That(exit, Is.EqualTo(0), error);
        var json = LastJson(output);
        double uniform = Math.Log(72);   // 72 distinct characters in the bundled text
        Assert.That(json.GetProperty("train_loss").GetDouble(), Is.LessThan(uniform - 1.3), "below the uniform guess by a margin");
        Assert.That(json.GetProperty("val_loss").GetDouble(), Is.LessThan(uniform - 1.0));
        Assert.That(json.GetProperty("tokens_per_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.GetProperty("peak_rss_mb").GetDouble(), Is.GreaterThan(10));
        Assert.That(json.GetProperty("sample").GetString(), Does.StartWith("And God said").And.Length.EqualTo("And God said".Length + 30));
        Assert.That(File.Exists(Path.Combine(_dir, "loss.png")), "the loss plot was written where asked");
    }

    [Test]
    public void ResumingFromACheckpointGivesTheSameWeightsBitForBit()
    {
        string ckpt = Path.Combine(_dir, "half.safetensors");
        string Sha(params string[] extra)
        {
            var (exit, output, error) = Cli([.. Tiny, "--no-plot", "--sample", "0", "--eval-every", "5", .. extra]);
            Assert.That(exit, Is.EqualTo(0), error);
            return LastJson(output).GetProperty("weights_sha256").GetString()!;
        }
        string straight = Sha("--steps", "12");
        Sha("--steps", "6", "--save", ckpt);
        string resumed = Sha("--steps", "12", "--resume", ckpt);
        Assert.That(resumed, Is.EqualTo(straight));
        Assert.That(Sha("--steps", "6"), Is.Not.EqualTo(straight), "the hash tells runs apart");

        // The checkpoint also generates, with and without the key-value cache, the same text within the context.
        var (e1, cached, _) = Cli("generate", "--weights", ckpt, "--prompt", "And", "--length", "25", "--seed", "4", "--json");
        var (e2, plain, _) = Cli("generate", "--weights", ckpt, "--prompt", "And", "--length", "25", "--seed", "4", "--json", "--no-cache");
        Assert.That(e1 + e2, Is.EqualTo(0));
        Assert.That(LastJson(cached).GetProperty("text").GetString(), Is.EqualTo(LastJson(plain).GetProperty("text").GetString()));
    }

    [Test]
    public void TheKeyValueCacheGivesTheLogitsOfAFullRecomputation()
    {
        var model = new GptModel(new GptConfig(11, 24, 2, 2, 16), new Generator(3));
        model.Eval();
        var tokens = Tensor.FromArray(Enumerable.Range(0, 20).Select(i => (long)(i * 7 % 11)).ToArray(), 1, 20);
        using var _ = Autograd.NoGrad();
        var full = model.Forward(tokens);                         // [1, 20, 11]
        var caches = model.NewCaches(1);
        var prefix = model.Forward(tokens.Narrow(1, 0, 5), caches);   // 5 positions at once, then one at a time
        Assert.That(prefix.ToArray<float>(), Is.EqualTo(full.Narrow(1, 0, 5).Contiguous().ToArray<float>()).Within(2e-5));
        for (int t = 5; t < 20; t++)
        {
            var step = model.Forward(tokens.Narrow(1, t, 1), caches);
            Assert.That(step.ToArray<float>(), Is.EqualTo(full.Narrow(1, t, 1).Contiguous().ToArray<float>()).Within(2e-5), $"position {t}");
        }
        // Two positions at once after a cached prefix (the bottom-right causal mask).
        var caches2 = model.NewCaches(1);
        model.Forward(tokens.Narrow(1, 0, 7), caches2);
        var two = model.Forward(tokens.Narrow(1, 7, 2), caches2);
        Assert.That(two.ToArray<float>(), Is.EqualTo(full.Narrow(1, 7, 2).Contiguous().ToArray<float>()).Within(2e-5));
    }

    [Test]
    public void TheLearningRateWarmsUpThenFollowsACosine()
    {
        Assert.That(GptApp.LrFactor(0, 10, 110, 0.1), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(GptApp.LrFactor(9, 10, 110, 0.1), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(GptApp.LrFactor(10, 10, 110, 0.1), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(GptApp.LrFactor(60, 10, 110, 0.1), Is.EqualTo(0.55).Within(1e-12), "half-way down the cosine");
        Assert.That(GptApp.LrFactor(110, 10, 110, 0.1), Is.EqualTo(0.1).Within(1e-12));
    }

    [Test]
    public void BadFlagsAreNamed()
    {
        var (exit, _, error) = Cli("--embd", "30", "--heads", "4", "--steps", "1", "--no-plot");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--embd (30)").And.Contain("--heads (4)"));
        (exit, _, error) = Cli("--layers", "0");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--layers"));
        (exit, _, error) = Cli("generate");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--weights"));
        (exit, _, error) = Cli("generate", "--weights", "x", "--steps", "3");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("for training"));
    }
}
