using System.Globalization;

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
    /// <summary>Folder of the PNGs; null means the current directory.</summary>
    public string? PlotDir { get; init; }
    public bool NoPlot { get; init; }
    /// <summary>Also write the tables as Markdown to this file.</summary>
    public string? MarkdownPath { get; init; }
    public bool Json { get; init; }
}

/// <summary>A command-line mistake: exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

public static class CommandLine
{
    public const string Usage = """
        Measure gradient flow: per-layer gradient norms at initialisation and short training runs of deep MLPs
        (plain, residual, residual + LayerNorm) and of Transformer encoder stacks (post-LN, pre-LN).

        Usage:
          dotnet run -c Release --project examples/GradientFlow [-- options]

        Deep MLPs (synthetic 10-class teacher task, SGD with momentum 0.9):
          --depth N                hidden layers (default 30)
          --width N                hidden width (default 128)
          --activation tanh|relu|both   (default both)
          --mlp-steps N            training steps (default 400)
          --mlp-lr X               SGD learning rate (default 0.01)
          --batch-size N           (default 128)
          --no-mlp                 skip the MLPs

        Transformer encoder stacks (sequence reversal, Adam with a constant rate, no warm-up):
          --layers N               encoder blocks (default 12)
          --d-model N              (default 64)
          --heads N                (default 4)
          --ff N                   feed-forward width (default 256)
          --seq-len N              (default 12)
          --transformer-steps N    (default 300)
          --transformer-lr X       Adam learning rate (default 0.001)
          --transformer-batch N    (default 32)
          --no-transformer         skip the Transformers

        Common:
          --grad-batches N         batches the gradient norms at initialisation are averaged over (default 4)
          --seed N                 (default 1)
          --threads N              kernel threads (default: all cores)
          --plots DIR              folder for the PNGs (default: current directory)
          --no-plot                do not write PNGs
          --markdown FILE          also write the tables as Markdown
          --json                   end with one JSON line holding every measurement
        """;

    public static GradientFlowOptions? Parse(IReadOnlyList<string> args)
    {
        if (args.Any(a => a is "-h" or "--help" or "-?" or "help")) return null;
        var o = new GradientFlowOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"Option {a} needs a value.");
                return args[++i];
            }
            int Int(int min)
            {
                string v = Value();
                if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < min)
                    throw new UsageException($"Option {a} needs an integer ≥ {min}, got '{v}'.");
                return n;
            }
            double Positive()
            {
                string v = Value();
                if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !(x > 0) || double.IsInfinity(x))
                    throw new UsageException($"Option {a} needs a positive number, got '{v}'.");
                return x;
            }
            o = a switch
            {
                "--depth" => o with { Depth = Int(1) },
                "--width" => o with { Width = Int(1) },
                "--activation" => Value() switch
                {
                    "tanh" => o with { Activations = ["tanh"] },
                    "relu" => o with { Activations = ["relu"] },
                    "both" => o with { Activations = ["tanh", "relu"] },
                    var v => throw new UsageException($"--activation must be tanh, relu or both, got '{v}'."),
                },
                "--mlp-steps" => o with { MlpSteps = Int(0) },
                "--mlp-lr" => o with { MlpLearningRate = Positive() },
                "--batch-size" => o with { BatchSize = Int(1) },
                "--no-mlp" => o with { RunMlp = false },
                "--layers" => o with { TransformerLayers = Int(1) },
                "--d-model" => o with { DModel = Int(2) },
                "--heads" => o with { Heads = Int(1) },
                "--ff" => o with { FeedForward = Int(1) },
                "--seq-len" => o with { SequenceLength = Int(1) },
                "--transformer-steps" => o with { TransformerSteps = Int(0) },
                "--transformer-lr" => o with { TransformerLearningRate = Positive() },
                "--transformer-batch" => o with { TransformerBatchSize = Int(1) },
                "--no-transformer" => o with { RunTransformer = false },
                "--grad-batches" => o with { GradBatches = Int(1) },
                "--seed" => o with { Seed = Int(0) },
                "--threads" => o with { Threads = Int(1) },
                "--plots" => o with { PlotDir = Value() },
                "--no-plot" => o with { NoPlot = true },
                "--markdown" => o with { MarkdownPath = Value() },
                "--json" => o with { Json = true },
                _ => throw new UsageException($"Unknown option '{a}'."),
            };
        }
        if (o.DModel % o.Heads != 0) throw new UsageException($"--d-model {o.DModel} must be divisible by --heads {o.Heads}.");
        return o;
    }
}
