using System.Text.Json;
using DeepSharp.Examples.Common;
using DeepSharp.Examples.GradientFlow;

namespace DeepSharp.Tests.Examples;

/// <summary>The gradient-flow experiment in a tiny configuration.</summary>
[TestFixture]
public class GradientFlowTests
{
    private static readonly GradientFlowOptions Tiny = new()
    {
        Depth = 12, Width = 32, MlpSamples = 512, BatchSize = 64, MlpSteps = 8, Activations = ["tanh"],
        TransformerLayers = 3, DModel = 16, Heads = 2, FeedForward = 32, SequenceLength = 6, TransformerBatchSize = 8, TransformerSteps = 4,
        GradBatches = 2, Threads = 2, Json = true,
    };

    [Test]
    public void TablesHaveOneRowPerLayerAndPlainGradientsVanish()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"gradflow-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            var result = GradientFlowApp.Run(Tiny with { PlotDir = dir }, output);

            Assert.That(result.Mlps.Select(r => r.Name), Is.EqualTo(new[] { "plain tanh", "residual tanh", "residual+LN tanh" }));
            Assert.That(result.Mlps.Select(r => r.GradientNorms.Count), Is.All.EqualTo(12));
            Assert.That(result.Mlps.Select(r => r.Losses.Count), Is.All.EqualTo(8));
            Assert.That(result.Transformers.Select(r => r.Name), Is.EqualTo(new[] { "post-LN", "pre-LN" }));
            Assert.That(result.Transformers.Select(r => r.GradientNorms.Count), Is.All.EqualTo(3));

            var plain = result.Mlps[0];
            var residualLn = result.Mlps[2];
            Assert.That(plain.GradientNorms[0], Is.LessThan(residualLn.GradientNorms[0] * 1e-2),
                $"plain first layer {plain.GradientNorms[0]:E2} vs residual+LN {residualLn.GradientNorms[0]:E2}");
            Assert.That(plain.GradientNorms[0], Is.LessThan(plain.GradientNorms[^1] * 1e-2), "plain: the gradient shrinks towards the input");
            Assert.That(result.Mlps.SelectMany(r => r.GradientNorms).Concat(result.Transformers.SelectMany(r => r.GradientNorms)),
                Is.All.GreaterThan(0).And.All.Matches<double>(double.IsFinite));

            // Markdown: a table row per layer for the MLPs and per block for the Transformers.
            var rows = result.Markdown.Split('\n');
            Assert.That(rows.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\| \d+ \|")), Is.EqualTo(12 + 3));

            Assert.That(result.PlotPaths, Has.Count.EqualTo(4));
            foreach (var png in result.PlotPaths)
            {
                var bytes = File.ReadAllBytes(png);
                Assert.That(bytes.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), png);
            }

            using var json = JsonDocument.Parse(output.ToString().TrimEnd().Split('\n')[^1]);
            Assert.That(json.RootElement.GetProperty("mlp").GetArrayLength(), Is.EqualTo(3));
            Assert.That(json.RootElement.GetProperty("transformer")[1].GetProperty("gradient_norms").GetArrayLength(), Is.EqualTo(3));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Test]
    public void CommandLineParsesOptions()
    {
        var o = CommandLine.Parse(["--depth", "10", "--activation", "relu", "--no-transformer", "--json"])!;
        Assert.That((o.Depth, o.Activations.Single(), o.RunTransformer, o.Json), Is.EqualTo((10, "relu", false, true)));
        Assert.That(CommandLine.Parse(["--help"]), Is.Null);
        Assert.Throws<UsageException>(() => CommandLine.Parse(["--activation", "sigmoid"]));
        Assert.That(GradientFlowApp.Execute(["--depth", "0"], new StringWriter(), new StringWriter()), Is.EqualTo(2));
    }
}
