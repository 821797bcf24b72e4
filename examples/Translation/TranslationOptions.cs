using System.CommandLine;
using DeepSharp.Examples.Common;

namespace DeepSharp.Examples.Translation;

/// <summary>Options of <c>train</c> (the default command).</summary>
public sealed record TrainOptions
{
    /// <summary>A tab-separated parallel corpus; null means the built-in toy corpus.</summary>
    public string? DataPath { get; init; }
    /// <summary>Size of the generated toy corpus: training and held-out pairs.</summary>
    public int TrainPairs { get; init; } = 40_000;
    public int HeldOutPairs { get; init; } = 2_000;
    /// <summary>Fraction of a --data corpus's distinct source sentences held out.</summary>
    public double HeldOutFraction { get; init; } = 0.05;
    public int CorpusSeed { get; init; } = 1;
    public bool NormFirst { get; init; } = true;
    public int DModel { get; init; } = 64;
    public int Heads { get; init; } = 4;
    public int Layers { get; init; } = 2;
    public int FeedForward { get; init; } = 256;
    public double Dropout { get; init; } = 0.1;
    public int BatchSize { get; init; } = 64;
    public int Epochs { get; init; } = 10;
    /// <summary>Stop training after this many seconds (checked after every batch).</summary>
    public double? TimeLimit { get; init; } = 600;
    /// <summary>Stop after this many optimizer steps (quick runs and tests).</summary>
    public int? MaxSteps { get; init; }
    public int Warmup { get; init; } = 400;
    public double LrFactor { get; init; } = 1.0;
    public double LabelSmoothing { get; init; } = 0.1;
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Beam size for the final held-out evaluation (besides greedy); 0 or 1 skips it.</summary>
    public int Beam { get; init; } = 4;
    /// <summary>Evaluate on at most this many held-out pairs (null: all).</summary>
    public int? EvalLimit { get; init; }
    /// <summary>Held-out pairs decoded after each epoch to follow progress (0: none).</summary>
    public int EpochEvalPairs { get; init; } = 500;
    /// <summary>Also run the held-out check every this many steps (for the plot).</summary>
    public int? EvalEvery { get; init; }
    /// <summary>Stop early once the per-epoch held-out check reaches this greedy exact match (e.g. 1.0).</summary>
    public double? StopAt { get; init; }
    public long Seed { get; init; } = 1;
    public int? Threads { get; init; }
    public string? SavePath { get; init; }
    public string? PlotPath { get; init; }
    public bool Json { get; init; }
    public string Norm => NormFirst ? "pre" : "post";
}

/// <summary>Options of <c>translate</c>.</summary>
public sealed record TranslateOptions
{
    public required string WeightsPath { get; init; }
    /// <summary>Sentences to translate; empty means one per line from standard input.</summary>
    public IReadOnlyList<string> Sentences { get; init; } = [];
    public int Beam { get; init; } = 1;
    public bool Json { get; init; }
}

/// <summary>Options of <c>corpus</c>: write the built-in corpus as TSV.</summary>
public sealed record CorpusOptions
{
    public int TrainPairs { get; init; } = 40_000;
    public int HeldOutPairs { get; init; } = 2_000;
    public int Seed { get; init; } = 1;
    public bool HeldOut { get; init; }
    public string? OutPath { get; init; }
}

/// <summary>The command line, declared with System.CommandLine through the shared <see cref="Flags"/>.</summary>
public static class CommandLine
{
    private static readonly TrainOptions D = new();

    private static readonly Option<string?> Data = Flags.Text("--data", "your own parallel corpus, one \"source<TAB>target\" pair per line (default: the built-in toy English → Toy corpus, see docs/translation.md)", "FILE.tsv");
    private static readonly Option<int> Pairs = Flags.Int("--pairs", "toy corpus: training pairs", D.TrainPairs);
    private static readonly Option<int> HeldOutPairs = Flags.Int("--held-out-pairs", "toy corpus: held-out pairs, never in training", D.HeldOutPairs, min: 0);
    private static readonly Option<double?> HeldOutFraction = Flags.Real("--held-out-fraction", "--data: fraction of distinct source sentences held out", 1e-9, 0.9, D.HeldOutFraction);
    private static readonly Option<int> CorpusSeed = Flags.Int("--corpus-seed", "seed of the toy corpus / of the --data split", D.CorpusSeed, min: 0);
    private static readonly Option<string?> Norm = Flags.Choice("--norm", "LayerNorm placement in the Transformer blocks", ["pre", "post"], "pre");
    private static readonly Option<int> DModel = Flags.Int("--d-model", "model width", D.DModel, min: 2);
    private static readonly Option<int> Heads = Flags.Int("--heads", "attention heads", D.Heads);
    private static readonly Option<int> Layers = Flags.Int("--layers", "encoder and decoder blocks, each", D.Layers);
    private static readonly Option<int> FeedForward = Flags.Int("--ff", "feed-forward width", D.FeedForward);
    private static readonly Option<double?> Dropout = Flags.Real("--dropout", "dropout", 0, 0.99, D.Dropout);
    private static readonly Option<int> BatchSize = Flags.BatchSize(D.BatchSize, "sentence pairs per batch");
    private static readonly Option<int> Epochs = Flags.Epochs(D.Epochs);
    private static readonly Option<double?> TimeLimit = Flags.Real("--time-limit", "stop training after this many seconds (0 = no limit)", 0, 1e9, D.TimeLimit);
    private static readonly Option<int?> MaxSteps = Flags.OptionalInt("--max-steps", "stop after N optimizer steps");
    private static readonly Option<int> Warmup = Flags.Int("--warmup", "Noam warm-up steps", D.Warmup);
    private static readonly Option<double?> LrFactor = Flags.Real("--lr-factor", "Noam scale: lr = X · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)", 1e-9, 1e3, D.LrFactor);
    private static readonly Option<double?> LabelSmoothing = Flags.Real("--label-smoothing", "label smoothing", 0, 1, D.LabelSmoothing);
    private static readonly Option<double?> Clip = Flags.Real("--clip", "gradient-norm clipping, 0 = off", 0, 1e9, D.ClipNorm);
    private static readonly Option<int?> Beam = Flags.OptionalInt("--beam", "train: also evaluate with beam search of width K (default 4; 1 = greedy only); translate: beam width (default 1 = greedy)");
    private static readonly Option<int?> EvalLimit = Flags.OptionalInt("--eval-limit", "evaluate on the first N held-out pairs only");
    private static readonly Option<int> EpochEval = Flags.Int("--epoch-eval", "held-out pairs decoded after each epoch (0 = none)", D.EpochEvalPairs, min: 0);
    private static readonly Option<int?> EvalEvery = Flags.OptionalInt("--eval-every", "also run that check every N steps (for the plot)");
    private static readonly Option<double?> StopAt = Flags.Real("--stop-at", "stop once the per-epoch check reaches exact match X (0–1)", 0, 1);
    private static readonly Option<long> Seed = Flags.Long("--seed", "initialisation, dropout and shuffling seed (corpus: the corpus seed)", D.Seed);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Save = Flags.Save("write the weights (safetensors) and PATH-without-extension.vocab.json");
    private static readonly Option<string?> Plot = Flags.Text("--plot", "PNG of the loss curve and the per-epoch held-out accuracy");
    private static readonly Option<bool> Json = Flags.Json("exact_match, bleu, train_seconds, norm, … (translate: one line per sentence)");

    private static readonly Option<string?> Weights = Flags.Text("--weights", "a file written by --save (its .vocab.json next to it)");
    private static readonly Argument<string[]> Sentences = new("sentences") { Description = "sentences to translate; none: one per line on standard input", DefaultValueFactory = _ => [] };

    private static readonly Option<bool> HeldOut = Flags.Switch("--held-out", "write the held-out pairs instead of the training pairs");
    private static readonly Option<string?> Out = Flags.Text("--out", "the TSV file to write (default: standard output)", "FILE");

    private const string Description = """
        Train an encoder-decoder Transformer to translate, with DeepSharp; translate with saved weights.

          dotnet run -c Release --project examples/Translation [-- train options]
          dotnet run -c Release --project examples/Translation -- translate --weights PATH [--beam K] "a sentence" ...
          dotnet run -c Release --project examples/Translation -- corpus [--pairs N] [--held-out-pairs N] [--seed N] [--held-out] [--out FILE]
        """;

    private static readonly RootCommand Root = BuildRoot();

    private static RootCommand BuildRoot()
    {
        Option[] train = [Data, Pairs, HeldOutPairs, HeldOutFraction, CorpusSeed, Norm, DModel, Heads, Layers, FeedForward, Dropout, BatchSize, Epochs,
            TimeLimit, MaxSteps, Warmup, LrFactor, LabelSmoothing, Clip, Beam, EvalLimit, EpochEval, EvalEvery, StopAt, Seed, Threads, Save, Plot, Json];
        var root = new RootCommand(Description);
        var trainCommand = new Command("train", "train a model (the default command)");
        foreach (var o in train) { root.Options.Add(o); trainCommand.Options.Add(o); }
        root.Options.Add(Weights);   // so that "--weights" without "translate" gets the hint below
        root.Subcommands.Add(trainCommand);
        root.Subcommands.Add(new Command("translate", "translate sentences with saved weights") { Weights, Beam, Json, Sentences });
        root.Subcommands.Add(new Command("corpus", "write the built-in corpus as TSV") { Pairs, HeldOutPairs, Seed, HeldOut, Out });
        return root;
    }

    /// <summary>The help text.</summary>
    public static string Usage => ExampleCli.HelpText(Root);

    /// <summary>Returns ("train", TrainOptions), ("translate", TranslateOptions), ("corpus", CorpusOptions) or ("help", the help text).</summary>
    public static (string Command, object? Options) Parse(IReadOnlyList<string> args)
    {
        var r = ExampleCli.Parse(Root, args);
        if (ExampleCli.IsHelp(r)) return ("help", ExampleCli.HelpText(r));
        switch (r.CommandResult.Command.Name)
        {
            case "translate":
                string weights = r.GetValue(Weights) ?? throw new UsageException("translate needs --weights PATH (a file written by train --save).");
                return ("translate", new TranslateOptions { WeightsPath = weights, Sentences = r.GetValue(Sentences)!, Beam = r.GetValue(Beam) ?? 1, Json = r.GetValue(Json) });
            case "corpus":
                return ("corpus", new CorpusOptions
                {
                    TrainPairs = r.GetValue(Pairs), HeldOutPairs = r.GetValue(HeldOutPairs), Seed = (int)r.GetValue(Seed), HeldOut = r.GetValue(HeldOut), OutPath = r.GetValue(Out),
                });
        }
        if (r.Given(Weights)) throw new UsageException("--weights belongs to the translate command.");
        double timeLimit = r.GetValue(TimeLimit)!.Value;
        var train = new TrainOptions
        {
            DataPath = r.GetValue(Data),
            TrainPairs = r.GetValue(Pairs),
            HeldOutPairs = r.GetValue(HeldOutPairs),
            HeldOutFraction = r.GetValue(HeldOutFraction)!.Value,
            CorpusSeed = r.GetValue(CorpusSeed),
            NormFirst = r.GetValue(Norm) == "pre",
            DModel = r.GetValue(DModel),
            Heads = r.GetValue(Heads),
            Layers = r.GetValue(Layers),
            FeedForward = r.GetValue(FeedForward),
            Dropout = r.GetValue(Dropout)!.Value,
            BatchSize = r.GetValue(BatchSize),
            Epochs = r.GetValue(Epochs),
            TimeLimit = timeLimit == 0 ? null : timeLimit,
            MaxSteps = r.GetValue(MaxSteps),
            Warmup = r.GetValue(Warmup),
            LrFactor = r.GetValue(LrFactor)!.Value,
            LabelSmoothing = r.GetValue(LabelSmoothing)!.Value,
            ClipNorm = r.GetValue(Clip)!.Value,
            Beam = r.GetValue(Beam) ?? D.Beam,
            EvalLimit = r.GetValue(EvalLimit),
            EpochEvalPairs = r.GetValue(EpochEval),
            EvalEvery = r.GetValue(EvalEvery),
            StopAt = r.GetValue(StopAt),
            Seed = r.GetValue(Seed),
            Threads = r.GetValue(Threads),
            SavePath = r.GetValue(Save),
            PlotPath = r.GetValue(Plot),
            Json = r.GetValue(Json),
        };
        if (train.DModel % train.Heads != 0) throw new UsageException($"--d-model {train.DModel} must be divisible by --heads {train.Heads}.");
        return ("train", train);
    }
}
