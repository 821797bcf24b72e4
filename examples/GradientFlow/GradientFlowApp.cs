using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DeepSharp;
using DeepSharp.Examples.Common;
using Spectre.Console;

namespace DeepSharp.Examples.GradientFlow;

/// <summary>What <see cref="GradientFlowApp.Run"/> returns.</summary>
public sealed record GradientFlowResult(IReadOnlyList<Run> Mlps, IReadOnlyList<Run> Transformers, IReadOnlyList<string> PlotPaths, string Markdown);

/// <summary>The gradient-flow experiment, callable in-process.</summary>
public static class GradientFlowApp
{
    public static int Execute(string[] args, TextWriter output, TextWriter error, bool interactive = false)
    {
        try
        {
            var options = CommandLine.Parse(args);
            if (options is null) output.WriteLine(CommandLine.Usage);
            else Run(options, output, interactive);
            return 0;
        }
        catch (UsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            error.WriteLine("Run with --help for the options.");
            return 2;
        }
    }

    public static GradientFlowResult Run(GradientFlowOptions o, TextWriter output, bool interactive = false)
    {
        var console = ExampleConsole.Create(output, interactive, plainWidth: 200);
        if (o.Threads is { } threads) Torch.SetNumThreads(threads);
        Torch.ManualSeed(o.Seed);
        var mlps = new List<Run>();
        var transformers = new List<Run>();

        if (o.RunMlp)
        {
            console.MarkupLineInterpolated($"[bold]Deep MLPs[/]: {o.Depth} hidden layers of width {o.Width}, PyTorch's default Linear init, 10-class teacher task ({o.MlpSamples:N0} samples), SGD lr {o.MlpLearningRate.ToString(CultureInfo.InvariantCulture)} momentum 0.9, batch {o.BatchSize}, {o.MlpSteps} steps");
            foreach (string activation in o.Activations)
                foreach (var kind in new[] { MlpKind.Plain, MlpKind.Residual, MlpKind.ResidualLayerNorm })
                    mlps.Add(WithProgress(console, interactive, $"{kind} {activation}", o.MlpSteps, p => Experiments.Mlp(kind, activation, o, p)));
            console.Write(LayerTable($"Gradient norm ‖∂L/∂θ‖ per hidden layer at initialisation (mean of {o.GradBatches} batches)", "layer", mlps));
            console.Write(SummaryTable("Deep MLPs", mlps));
        }
        if (o.RunTransformer)
        {
            console.MarkupLineInterpolated($"[bold]Transformer encoder stacks[/]: {o.TransformerLayers} blocks, d_model {o.DModel}, {o.Heads} heads, ff {o.FeedForward}, Xavier init, sequence reversal (vocab {o.Vocab}, length {o.SequenceLength}), Adam lr {o.TransformerLearningRate.ToString(CultureInfo.InvariantCulture)} constant (no warm-up), batch {o.TransformerBatchSize}, {o.TransformerSteps} steps");
            foreach (bool normFirst in new[] { false, true })
                transformers.Add(WithProgress(console, interactive, normFirst ? "pre-LN" : "post-LN", o.TransformerSteps, p => Experiments.Transformer(normFirst, o, p)));
            console.Write(LayerTable($"Gradient norm ‖∂L/∂θ‖ per encoder block at initialisation (mean of {o.GradBatches} batches)", "block", transformers));
            console.Write(SummaryTable("Transformer encoder stacks", transformers));
        }

        var plots = new List<string>();
        if (!o.NoPlot)
        {
            string dir = o.PlotDir ?? Path.Combine(RunFolder.Default, "gradient-flow");
            Directory.CreateDirectory(dir);
            if (mlps.Count > 0)
            {
                plots.Add(Plots.GradientNorms(mlps, Path.Combine(dir, "gradient-flow-mlp-gradients.png"),
                    $"Deep MLPs ({o.Depth} layers, width {o.Width}): gradient norm per layer at initialisation", "hidden layer (1 = input side)"));
                plots.Add(Plots.Losses(mlps, Path.Combine(dir, "gradient-flow-mlp-loss.png"), $"Deep MLPs ({o.Depth} layers): training loss, SGD lr {o.MlpLearningRate.ToString(CultureInfo.InvariantCulture)}",
                    1.5 * Math.Log(o.Classes)));
            }
            if (transformers.Count > 0)
            {
                plots.Add(Plots.GradientNorms(transformers, Path.Combine(dir, "gradient-flow-transformer-gradients.png"),
                    $"{o.TransformerLayers}-block Transformer encoders: gradient norm per block at initialisation", "encoder block (1 = input side)"));
                plots.Add(Plots.Losses(transformers, Path.Combine(dir, "gradient-flow-transformer-loss.png"),
                    $"{o.TransformerLayers}-block encoders: training loss, Adam lr {o.TransformerLearningRate.ToString(CultureInfo.InvariantCulture)}, no warm-up",
                    1.5 * Math.Log(o.Vocab)));
            }
            foreach (var p in plots) console.WriteLine($"Wrote {p}");
        }

        string markdown = Markdown(o, mlps, transformers);
        if (o.MarkdownPath is { } md)
        {
            File.WriteAllText(md, markdown);
            console.WriteLine($"Wrote {md}");
        }
        if (o.Json)
        {
            static JsonObject RunJson(Run r) => new()
            {
                ["name"] = r.Name,
                ["gradient_norms"] = new JsonArray(r.GradientNorms.Select(v => double.IsFinite(v) ? (JsonNode?)v : null).ToArray()),
                ["losses"] = new JsonArray(r.Losses.Select(v => double.IsFinite(v) ? (JsonNode?)v : null).ToArray()),
                ["final_loss"] = double.IsFinite(r.FinalLoss) ? r.FinalLoss : null,
                ["diverged"] = r.Losses.Any(v => !double.IsFinite(v)),
                ["seconds"] = r.Seconds,
            };
            output.Flush();
            output.WriteLine(new JsonObject
            {
                ["mlp"] = new JsonArray(mlps.Select(r => (JsonNode?)RunJson(r)).ToArray()),
                ["transformer"] = new JsonArray(transformers.Select(r => (JsonNode?)RunJson(r)).ToArray()),
                ["threads"] = Torch.GetNumThreads(),
            }.ToJsonString());
        }
        output.Flush();
        return new GradientFlowResult(mlps, transformers, plots, markdown);
    }

    private static Run WithProgress(IAnsiConsole console, bool interactive, string name, int steps, Func<Action<int, double>, Run> body)
    {
        Run? run = null;
        if (interactive && steps > 0)
        {
            ExampleConsole.ProgressBar(console, name, steps, report =>
                run = body((step, loss) => report(step, () => string.Create(CultureInfo.InvariantCulture, $"{name,-22} loss [yellow]{loss:F4}[/]"))),
                remainingTime: false);
        }
        else
        {
            run = body((step, loss) =>
            {
                if (step == steps || step % Math.Max(1, steps / 4) == 0)
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-22} step {step,4}/{steps}  loss {loss:F4}"));
            });
        }
        return run!;
    }

    private static string G(double v) => v.ToString("0.00e+00", CultureInfo.InvariantCulture);
    private static string F(double v, string format = "F3") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "diverged";

    private static Table LayerTable(string title, string what, IReadOnlyList<Run> runs)
    {
        var table = new Table().Title(title).AddColumn(new TableColumn(what).RightAligned());
        foreach (var r in runs) table.AddColumn(new TableColumn(r.Name).RightAligned());
        int layers = runs.Max(r => r.GradientNorms.Count);
        for (int l = 0; l < layers; l++)
            table.AddRow([(l + 1).ToString(CultureInfo.InvariantCulture), .. runs.Select(r => l < r.GradientNorms.Count ? G(r.GradientNorms[l]) : "")]);
        return table;
    }

    private static Table SummaryTable(string title, IReadOnlyList<Run> runs)
    {
        var table = new Table().Title(title)
            .AddColumns(new TableColumn("network"), new TableColumn("first-layer grad").RightAligned(), new TableColumn("last-layer grad").RightAligned(),
                new TableColumn("last / first").RightAligned(), new TableColumn("initial loss").RightAligned(), new TableColumn("final loss").RightAligned(),
                new TableColumn("seconds").RightAligned());
        foreach (var r in runs)
            table.AddRow(r.Name, G(r.GradientNorms[0]), G(r.GradientNorms[^1]), G(r.LastOverFirst), F(r.Losses.Count > 0 ? r.Losses[0] : double.NaN),
                F(r.FinalLoss), F(r.Seconds, "F1"));
        return table;
    }

    /// <summary>The tables as Markdown (for docs/gradient-flow.md).</summary>
    public static string Markdown(GradientFlowOptions o, IReadOnlyList<Run> mlps, IReadOnlyList<Run> transformers)
    {
        var sb = new StringBuilder();
        void Layers(string what, IReadOnlyList<Run> runs)
        {
            sb.AppendLine($"| {what} | {string.Join(" | ", runs.Select(r => r.Name))} |");
            sb.AppendLine($"|---:|{string.Concat(runs.Select(_ => "---:|"))}");
            int layers = runs.Max(r => r.GradientNorms.Count);
            for (int l = 0; l < layers; l++)
                sb.AppendLine($"| {l + 1} | {string.Join(" | ", runs.Select(r => G(r.GradientNorms[l])))} |");
            sb.AppendLine();
        }
        void Summary(IReadOnlyList<Run> runs)
        {
            sb.AppendLine("| network | first-layer grad | last-layer grad | last / first | initial loss | final loss | seconds |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var r in runs)
                sb.AppendLine($"| {r.Name} | {G(r.GradientNorms[0])} | {G(r.GradientNorms[^1])} | {G(r.LastOverFirst)} | {F(r.Losses.Count > 0 ? r.Losses[0] : double.NaN)} | {F(r.FinalLoss)} | {F(r.Seconds, "F1")} |");
            sb.AppendLine();
        }
        if (mlps.Count > 0)
        {
            sb.AppendLine($"Deep MLPs: {o.Depth} hidden layers of width {o.Width}; SGD lr {o.MlpLearningRate.ToString(CultureInfo.InvariantCulture)}, momentum 0.9, {o.MlpSteps} steps of batch {o.BatchSize}.");
            sb.AppendLine();
            Summary(mlps);
            Layers("layer", mlps);
        }
        if (transformers.Count > 0)
        {
            sb.AppendLine($"Transformer encoders: {o.TransformerLayers} blocks, d_model {o.DModel}, {o.Heads} heads, ff {o.FeedForward}; Adam lr {o.TransformerLearningRate.ToString(CultureInfo.InvariantCulture)}, no warm-up, {o.TransformerSteps} steps of batch {o.TransformerBatchSize}.");
            sb.AppendLine();
            Summary(transformers);
            Layers("block", transformers);
        }
        return sb.ToString();
    }
}
