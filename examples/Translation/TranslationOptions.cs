using System.Globalization;

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

/// <summary>A command-line mistake: reported with a hint, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parses the command line.</summary>
public static class CommandLine
{
    public const string Usage = """
        Train an encoder-decoder Transformer to translate, with DeepSharp; translate with saved weights.

        Usage:
          dotnet run -c Release --project examples/Translation [-- train options]
          dotnet run -c Release --project examples/Translation -- translate --weights PATH [--beam K] "a sentence" ...
          dotnet run -c Release --project examples/Translation -- corpus [--pairs N] [--held-out-pairs N] [--seed N] [--held-out] [--out FILE]

        Train options:
          --data FILE.tsv          your own parallel corpus, one "source<TAB>target" pair per line
                                   (default: the built-in toy English → Toy corpus, see docs/translation.md)
          --pairs N                toy corpus: training pairs (default 40000)
          --held-out-pairs N       toy corpus: held-out pairs, never in training (default 2000)
          --held-out-fraction X    --data: fraction of distinct source sentences held out (default 0.05)
          --corpus-seed N          seed of the toy corpus / of the --data split (default 1)
          --norm pre|post          LayerNorm placement in the Transformer blocks (default pre)
          --d-model N              model width (default 64)
          --heads N                attention heads (default 4)
          --layers N               encoder and decoder blocks, each (default 2)
          --ff N                   feed-forward width (default 256)
          --dropout X              dropout (default 0.1)
          --batch-size N           sentence pairs per batch (default 64)
          --epochs N               passes over the training pairs (default 10)
          --time-limit SECONDS     stop training after this long (default 600; 0 = no limit)
          --max-steps N            stop after N optimizer steps
          --warmup N               Noam warm-up steps (default 400)
          --lr-factor X            Noam scale: lr = X · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5) (default 1)
          --label-smoothing X      (default 0.1)
          --clip X                 gradient-norm clipping, 0 = off (default 1)
          --beam K                 also evaluate with beam search of width K (default 4; 1 = greedy only)
          --eval-limit N           evaluate on the first N held-out pairs only
          --epoch-eval N           held-out pairs decoded after each epoch (default 500; 0 = none)
          --eval-every N           also run that check every N steps (for the plot)
          --stop-at X              stop once the per-epoch check reaches exact match X (0–1)
          --seed N                 initialisation, dropout and shuffling seed (default 1)
          --threads N              kernel threads (default: all cores)
          --save PATH              write the weights (safetensors) and PATH-without-extension.vocab.json
          --plot PATH              PNG of the loss curve and the per-epoch held-out accuracy
          --json                   end with one JSON line: exact_match, bleu, train_seconds, norm, …

        Translate options:
          --weights PATH           a file written by --save (its .vocab.json next to it)
          --beam K                 beam width (default 1 = greedy)
          --json                   one JSON line per sentence
          sentences                as arguments, or one per line on standard input
        """;

    public static (string Command, object? Options) Parse(IReadOnlyList<string> args)
    {
        int i = 0;
        string command = "train";
        if (args.Count > 0 && !args[0].StartsWith('-'))
        {
            command = args[0];
            i = 1;
            if (command is not ("train" or "translate" or "corpus" or "help"))
                throw new UsageException($"Unknown command '{command}'; expected train, translate or corpus.");
        }
        if (command == "help" || args.Any(a => a is "-h" or "--help" or "-?")) return ("help", null);

        var train = new TrainOptions();
        var corpus = new CorpusOptions();
        string? weights = null;
        int? beam = null;
        bool json = false;
        var sentences = new List<string>();
        for (; i < args.Count; i++)
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
            double Real(double min, double max)
            {
                string v = Value();
                if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !(x >= min && x <= max))
                    throw new UsageException($"Option {a} needs a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], got '{v}'.");
                return x;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                if (command != "translate") throw new UsageException($"Unexpected argument '{a}'.");
                sentences.Add(a);
                continue;
            }
            string[] allowed = command switch
            {
                "translate" => ["--weights", "--beam", "--json"],
                "corpus" => ["--pairs", "--held-out-pairs", "--seed", "--held-out", "--out"],
                _ => [],
            };
            if (command != "train" && !allowed.Contains(a)) throw new UsageException($"Option {a} does not apply to {command}.");
            switch (a)
            {
                case "--json": json = true; break;
                case "--weights": weights = Value(); break;
                case "--beam": beam = Int(1); break;
                case "--data": train = train with { DataPath = Value() }; break;
                case "--pairs": { int n = Int(1); train = train with { TrainPairs = n }; corpus = corpus with { TrainPairs = n }; break; }
                case "--held-out-pairs": { int n = Int(0); train = train with { HeldOutPairs = n }; corpus = corpus with { HeldOutPairs = n }; break; }
                case "--held-out-fraction": train = train with { HeldOutFraction = Real(1e-9, 0.9) }; break;
                case "--corpus-seed": train = train with { CorpusSeed = Int(0) }; break;
                case "--held-out": corpus = corpus with { HeldOut = true }; break;
                case "--out": corpus = corpus with { OutPath = Value() }; break;
                case "--norm":
                {
                    string v = Value();
                    if (v is not ("pre" or "post")) throw new UsageException($"--norm must be pre or post, got '{v}'.");
                    train = train with { NormFirst = v == "pre" };
                    break;
                }
                case "--d-model": train = train with { DModel = Int(2) }; break;
                case "--heads": train = train with { Heads = Int(1) }; break;
                case "--layers": train = train with { Layers = Int(1) }; break;
                case "--ff": train = train with { FeedForward = Int(1) }; break;
                case "--dropout": train = train with { Dropout = Real(0, 0.99) }; break;
                case "--batch-size": train = train with { BatchSize = Int(1) }; break;
                case "--epochs": train = train with { Epochs = Int(1) }; break;
                case "--time-limit": { double t = Real(0, 1e9); train = train with { TimeLimit = t == 0 ? null : t }; break; }
                case "--max-steps": train = train with { MaxSteps = Int(1) }; break;
                case "--warmup": train = train with { Warmup = Int(1) }; break;
                case "--lr-factor": train = train with { LrFactor = Real(1e-9, 1e3) }; break;
                case "--label-smoothing": train = train with { LabelSmoothing = Real(0, 1) }; break;
                case "--clip": train = train with { ClipNorm = Real(0, 1e9) }; break;
                case "--eval-limit": train = train with { EvalLimit = Int(1) }; break;
                case "--epoch-eval": train = train with { EpochEvalPairs = Int(0) }; break;
                case "--eval-every": train = train with { EvalEvery = Int(1) }; break;
                case "--stop-at": train = train with { StopAt = Real(0, 1) }; break;
                case "--seed":
                {
                    string v = Value();
                    if (!long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed))
                        throw new UsageException($"--seed needs an integer, got '{v}'.");
                    train = train with { Seed = seed };
                    corpus = corpus with { Seed = (int)seed };
                    break;
                }
                case "--threads": train = train with { Threads = Int(1) }; break;
                case "--save": train = train with { SavePath = Value() }; break;
                case "--plot": train = train with { PlotPath = Value() }; break;
                default: throw new UsageException($"Unknown option '{a}'.");
            }
        }
        switch (command)
        {
            case "translate":
                if (weights is null) throw new UsageException("translate needs --weights PATH (a file written by train --save).");
                return ("translate", new TranslateOptions { WeightsPath = weights, Sentences = sentences, Beam = beam ?? 1, Json = json });
            case "corpus":
                return ("corpus", corpus);
            default:
                if (weights is not null) throw new UsageException("--weights belongs to the translate command.");
                if (train.DModel % train.Heads != 0) throw new UsageException($"--d-model {train.DModel} must be divisible by --heads {train.Heads}.");
                return ("train", train with { Json = json, Beam = beam ?? train.Beam });
        }
    }
}
