using System.CommandLine;
using DeepSharp.Examples.Common;

namespace DeepSharp.Examples.Gpt;

/// <summary>Options of <c>train</c> (the default command).</summary>
public sealed record TrainOptions
{
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int Embd { get; init; } = 128;
    public int Block { get; init; } = 128;
    public int BatchSize { get; init; } = 16;
    public int Steps { get; init; } = 400;
    public double LearningRate { get; init; } = 3e-3;
    public double MinLrFraction { get; init; } = 0.1;
    public int Warmup { get; init; } = 40;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public double Dropout { get; init; }
    public long Seed { get; init; } = 1;
    public int? Threads { get; init; }
    /// <summary>The text file; null means the bundled one.</summary>
    public string? DataPath { get; init; }
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 8;
    public string? SavePath { get; init; }
    public string? ResumePath { get; init; }
    public bool Json { get; init; }
    public string? PlotPath { get; init; }
    public string OutputDir { get; init; } = RunFolder.Default;
    public bool NoPlot { get; init; }
    /// <summary>Characters to sample after training (0: none).</summary>
    public int Sample { get; init; } = 200;
    public string Prompt { get; init; } = "And God said";
    public double Temperature { get; init; } = 0.8;
    public int? TopK { get; init; } = 10;
    /// <summary>Data-parallel training over the ranks of mpirun (the batch size is per rank; rank 0 prints and writes).</summary>
    public bool Distributed { get; init; }
    /// <summary>Micro-batches of BatchSize per optimizer step in one process: the bits of --distributed with as many ranks.</summary>
    public int Accumulate { get; init; } = 1;

    public string EffectivePlotPath => PlotPath ?? Path.Combine(OutputDir, "gpt-loss.png");
}

/// <summary>Options of <c>generate</c>.</summary>
public sealed record GenerateOptions
{
    public required string WeightsPath { get; init; }
    public string Prompt { get; init; } = "And God said";
    public int Length { get; init; } = 300;
    public double Temperature { get; init; } = 0.8;
    public int? TopK { get; init; } = 10;
    public long Seed { get; init; } = 1;
    public bool NoCache { get; init; }
    public bool Json { get; init; }
}

/// <summary>The command line, declared with System.CommandLine through the shared <see cref="Flags"/>.</summary>
public static class CommandLine
{
    private static readonly Option<int> Layers = Flags.Int("--layers", "Transformer blocks", 4);
    private static readonly Option<int> Heads = Flags.Int("--heads", "attention heads", 4);
    private static readonly Option<int> Embd = Flags.Int("--embd", "model width (divisible by --heads)", 128);
    private static readonly Option<int> Block = Flags.Int("--block", "context length in characters", 128);
    private static readonly Option<int> BatchSize = Flags.BatchSize(16, "sequences per step");
    private static readonly Option<int> Steps = Flags.Steps(400);
    private static readonly Option<double> LearningRate = Flags.LearningRate(3e-3, "AdamW peak");
    private static readonly Option<int> Warmup = Flags.Int("--warmup", "linear warm-up steps before the cosine decay", 40, min: 0);
    private static readonly Option<double?> WeightDecay = Flags.Real("--weight-decay", "AdamW decay of the weight matrices (not of biases, norms)", 0, 10, 0.1);
    private static readonly Option<double?> GradClip = Flags.Real("--grad-clip", "clip the gradient norm (0: off)", 0, 1e6, 1.0);
    private static readonly Option<double?> Dropout = Flags.Real("--dropout", "dropout probability", 0, 0.99, 0.0);
    private static readonly Option<long> Seed = Flags.Seed();
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Data = Flags.Text("--data", "a UTF-8 text file to train on (default: the bundled KJV Pentateuch)", "FILE");
    private static readonly Option<int> EvalEvery = Flags.Int("--eval-every", "steps between validation losses", 100);
    private static readonly Option<int> EvalBatches = Flags.Int("--eval-batches", "batches per validation loss", 8);
    private static readonly Option<string?> Save = Flags.Save("write a checkpoint (weights, optimizer, schedule, RNG, vocabulary) to resume or generate from");
    private static readonly Option<string?> Resume = Flags.Text("--resume", "continue training from a checkpoint written by --save (up to --steps)", "PATH");
    private static readonly Option<bool> Json = Flags.Json("train_loss, val_loss, tokens_per_s, step_ms, peak_rss_mb, world_size, accumulate, threads, weights_sha256, ranks_agree, sample, …");
    private static readonly Option<string?> Plot = Flags.Plot("OUT-DIR/gpt-loss.png");
    private static readonly Option<bool> NoPlot = Flags.NoPlot();
    private static readonly Option<string> OutDir = Flags.OutputDir();
    private static readonly Option<int> Sample = Flags.Int("--sample", "characters to generate after training (0: none)", 200, min: 0);
    private static readonly Option<string?> Prompt = Flags.Text("--prompt", "text to start sampling from", "TEXT");
    private static readonly Option<double?> Temperature = Flags.Real("--temperature", "sampling temperature", 1e-3, 100, 0.8);
    private static readonly Option<int?> TopK = Flags.OptionalInt("--top-k", "sample among the k most likely characters (default 10)");
    private static readonly Option<bool> DistributedRun = Flags.Switch("--distributed", "data-parallel over the ranks of mpirun -np N (batch size is per rank; rank 0 prints and writes); see docs/distributed.md");
    private static readonly Option<int> Accumulate = Flags.Int("--accumulate", "N micro-batches per step, gradients summed then averaged: the same weights, bit for bit, as --distributed with N ranks", 1);

    private static readonly Option<string?> Weights = Flags.Text("--weights", "checkpoint written by --save");
    private static readonly Option<int> Length = Flags.Int("--length", "characters to generate", 300);
    private static readonly Option<bool> NoCache = Flags.Switch("--no-cache", "recompute the whole context for every token (no key-value cache; for comparison)");

    private static readonly Option[] TrainOnly = [Layers, Heads, Embd, Block, BatchSize, Steps, LearningRate, Warmup, WeightDecay, GradClip, Dropout, Threads, Data, EvalEvery, EvalBatches, Save, Resume, Plot, NoPlot, OutDir, Sample, DistributedRun, Accumulate];

    private const string Description = """
        Train a character-level GPT on a text with DeepSharp, or generate text from a checkpoint.

          dotnet run -c Release --project examples/Gpt [-- train options]
          dotnet run -c Release --project examples/Gpt -- generate --weights PATH [--prompt TEXT] [--length N]
        """;

    private static readonly RootCommand Root = BuildRoot();

    private static RootCommand BuildRoot()
    {
        var root = new RootCommand(Description);
        var train = new Command("train", "train a model (the default command)");
        foreach (var o in TrainOnly.Concat([Seed, Json, Prompt, Temperature, TopK])) { root.Options.Add(o); train.Options.Add(o); }
        root.Options.Add(Weights);
        var generate = new Command("generate", "sample text from a checkpoint") { Weights, Prompt, Length, Temperature, TopK, Seed, NoCache, Json };
        root.Subcommands.Add(train);
        root.Subcommands.Add(generate);
        return root;
    }

    /// <summary>The help text.</summary>
    public static string Usage => ExampleCli.HelpText(Root);

    /// <summary>Returns ("train", TrainOptions), ("generate", GenerateOptions) or ("help", the help text).</summary>
    public static (string Command, object? Options) Parse(IReadOnlyList<string> args)
    {
        var r = ExampleCli.Parse(Root, args, (option, command) =>
            command == "generate" && TrainOnly.Any(o => o.Name == option) ? $"Option {option} is for training, not generate." : null);
        if (ExampleCli.IsHelp(r)) return ("help", ExampleCli.HelpText(r));
        if (r.CommandResult.Command.Name == "generate")
        {
            string weights = r.GetValue(Weights) ?? throw new UsageException("generate needs --weights PATH (a checkpoint written by --save).");
            return ("generate", new GenerateOptions
            {
                WeightsPath = weights, Prompt = r.GetValue(Prompt) ?? "And God said", Length = r.GetValue(Length),
                Temperature = r.GetValue(Temperature) ?? 0.8, TopK = r.GetValue(TopK) ?? 10, Seed = r.GetValue(Seed),
                NoCache = r.GetValue(NoCache), Json = r.GetValue(Json),
            });
        }
        if (r.Given(Weights)) throw new UsageException("--weights belongs to the generate command: gpt generate --weights PATH.");
        return ("train", new TrainOptions
        {
            Layers = r.GetValue(Layers), Heads = r.GetValue(Heads), Embd = r.GetValue(Embd), Block = r.GetValue(Block),
            BatchSize = r.GetValue(BatchSize), Steps = r.GetValue(Steps), LearningRate = r.GetValue(LearningRate),
            Warmup = r.GetValue(Warmup), WeightDecay = r.GetValue(WeightDecay) ?? 0.1, GradClip = r.GetValue(GradClip) ?? 1.0,
            Dropout = r.GetValue(Dropout) ?? 0, Seed = r.GetValue(Seed), Threads = r.GetValue(Threads), DataPath = r.GetValue(Data),
            EvalEvery = r.GetValue(EvalEvery), EvalBatches = r.GetValue(EvalBatches), SavePath = r.GetValue(Save),
            ResumePath = r.GetValue(Resume), Json = r.GetValue(Json), PlotPath = r.GetValue(Plot), OutputDir = r.GetValue(OutDir)!,
            NoPlot = r.GetValue(NoPlot), Sample = r.GetValue(Sample), Prompt = r.GetValue(Prompt) ?? "And God said",
            Temperature = r.GetValue(Temperature) ?? 0.8, TopK = r.GetValue(TopK) ?? 10,
            Distributed = r.GetValue(DistributedRun), Accumulate = r.GetValue(Accumulate),
        });
    }
}
