using System.CommandLine;
using DeepSharp.Examples.Common;

namespace DeepSharp.Examples.GradientFlow;

/// <summary>The experiment's settings (defaults: the configuration written up in docs/gradient-flow.md).</summary>
public sealed record GradientFlowOptions
{
    // Deep MLPs.
    public int Depth { get; init; } = 30;
    public int Width { get; init; } = 128;
    public int MlpInputs { get; init; } = 32;
    public int Classes { get; init; } = 10;
    public int MlpSamples { get; init; } = 8192;
    public int BatchSize { get; init; } = 128;
    public int MlpSteps { get; init; } = 400;
    public double MlpLearningRate { get; init; } = 0.01;
    public IReadOnlyList<string> Activations { get; init; } = ["tanh", "relu"];
    public bool RunMlp { get; init; } = true;

    // Transformer encoder stacks.
    public int TransformerLayers { get; init; } = 12;
    public int DModel { get; init; } = 64;
    public int Heads { get; init; } = 4;
    public int FeedForward { get; init; } = 256;
    public int Vocab { get; init; } = 16;
    public int SequenceLength { get; init; } = 12;
    public int TransformerBatchSize { get; init; } = 32;
    public int TransformerSteps { get; init; } = 300;
    public double TransformerLearningRate { get; init; } = 1e-3;
    public bool RunTransformer { get; init; } = true;

    /// <summary>Batches the gradient norms at initialisation are averaged over.</summary>
    public int GradBatches { get; init; } = 4;
    public long Seed { get; init; } = 1;
    public int? Threads { get; init; }
    /// <summary>Folder of the PNGs; null means <c>runs/gradient-flow</c> (ignored by git).</summary>
    public string? PlotDir { get; init; }
    public bool NoPlot { get; init; }
    /// <summary>Also write the tables as Markdown to this file.</summary>
    public string? MarkdownPath { get; init; }
    public bool Json { get; init; }
}

/// <summary>The command line, declared with System.CommandLine through the shared <see cref="Flags"/>.</summary>
public static class CommandLine
{
    private static readonly GradientFlowOptions D = new();

    private static readonly Option<int> Depth = Flags.Int("--depth", "MLP hidden layers", D.Depth);
    private static readonly Option<int> Width = Flags.Int("--width", "MLP hidden width", D.Width);
    private static readonly Option<string?> Activation = Flags.Choice("--activation", "MLP activation", ["tanh", "relu", "both"], "both");
    private static readonly Option<int> MlpSteps = Flags.Int("--mlp-steps", "MLP training steps", D.MlpSteps, min: 0);
    private static readonly Option<double> MlpLr = Flags.Positive("--mlp-lr", "MLP SGD learning rate", D.MlpLearningRate);
    private static readonly Option<int> BatchSize = Flags.BatchSize(D.BatchSize, "MLP mini-batch size");
    private static readonly Option<bool> NoMlp = Flags.Switch("--no-mlp", "skip the MLPs");
    private static readonly Option<int> Layers = Flags.Int("--layers", "Transformer encoder blocks", D.TransformerLayers);
    private static readonly Option<int> DModel = Flags.Int("--d-model", "Transformer width", D.DModel, min: 2);
    private static readonly Option<int> Heads = Flags.Int("--heads", "attention heads", D.Heads);
    private static readonly Option<int> FeedForward = Flags.Int("--ff", "feed-forward width", D.FeedForward);
    private static readonly Option<int> SeqLen = Flags.Int("--seq-len", "sequence length", D.SequenceLength);
    private static readonly Option<int> TransformerSteps = Flags.Int("--transformer-steps", "Transformer training steps", D.TransformerSteps, min: 0);
    private static readonly Option<double> TransformerLr = Flags.Positive("--transformer-lr", "Transformer Adam learning rate", D.TransformerLearningRate);
    private static readonly Option<int> TransformerBatch = Flags.Int("--transformer-batch", "Transformer mini-batch size", D.TransformerBatchSize);
    private static readonly Option<bool> NoTransformer = Flags.Switch("--no-transformer", "skip the Transformers");
    private static readonly Option<int> GradBatches = Flags.Int("--grad-batches", "batches the gradient norms at initialisation are averaged over", D.GradBatches);
    private static readonly Option<int> Seed = Flags.Int("--seed", "random seed", (int)D.Seed, min: 0);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Plots = Flags.Text("--plots", "folder for the PNGs (default runs/gradient-flow, ignored by git)", "DIR");
    private static readonly Option<bool> NoPlot = Flags.Switch("--no-plot", "do not write PNGs");
    private static readonly Option<string?> Markdown = Flags.Text("--markdown", "also write the tables as Markdown", "FILE");
    private static readonly Option<bool> Json = Flags.Json("every measurement");

    private static readonly RootCommand Root = new("""
        Measure gradient flow: per-layer gradient norms at initialisation and short training runs of deep MLPs
        (plain, residual, residual + LayerNorm; a synthetic 10-class teacher task, SGD with momentum 0.9) and of
        Transformer encoder stacks (post-LN, pre-LN; sequence reversal, Adam with a constant rate, no warm-up).

          dotnet run -c Release --project examples/GradientFlow [-- options]
        """)
    {
        Depth, Width, Activation, MlpSteps, MlpLr, BatchSize, NoMlp,
        Layers, DModel, Heads, FeedForward, SeqLen, TransformerSteps, TransformerLr, TransformerBatch, NoTransformer,
        GradBatches, Seed, Threads, Plots, NoPlot, Markdown, Json,
    };

    /// <summary>The help text.</summary>
    public static string Usage => ExampleCli.HelpText(Root);

    /// <summary>The options, or null when the command line asks for help.</summary>
    public static GradientFlowOptions? Parse(IReadOnlyList<string> args)
    {
        if (args.Any(a => a is "help")) return null;
        var r = ExampleCli.Parse(Root, args);
        if (ExampleCli.IsHelp(r)) return null;
        var o = new GradientFlowOptions
        {
            Depth = r.GetValue(Depth),
            Width = r.GetValue(Width),
            Activations = r.GetValue(Activation) switch { "tanh" => ["tanh"], "relu" => ["relu"], _ => ["tanh", "relu"] },
            MlpSteps = r.GetValue(MlpSteps),
            MlpLearningRate = r.GetValue(MlpLr),
            BatchSize = r.GetValue(BatchSize),
            RunMlp = !r.GetValue(NoMlp),
            TransformerLayers = r.GetValue(Layers),
            DModel = r.GetValue(DModel),
            Heads = r.GetValue(Heads),
            FeedForward = r.GetValue(FeedForward),
            SequenceLength = r.GetValue(SeqLen),
            TransformerSteps = r.GetValue(TransformerSteps),
            TransformerLearningRate = r.GetValue(TransformerLr),
            TransformerBatchSize = r.GetValue(TransformerBatch),
            RunTransformer = !r.GetValue(NoTransformer),
            GradBatches = r.GetValue(GradBatches),
            Seed = r.GetValue(Seed),
            Threads = r.GetValue(Threads),
            PlotDir = r.GetValue(Plots),
            NoPlot = r.GetValue(NoPlot),
            MarkdownPath = r.GetValue(Markdown),
            Json = r.GetValue(Json),
        };
        if (o.DModel % o.Heads != 0) throw new UsageException($"--d-model {o.DModel} must be divisible by --heads {o.Heads}.");
        return o;
    }
}
