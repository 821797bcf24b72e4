using System.Globalization;

namespace DeepSharp.Examples.Mnist;

/// <summary>Options of <c>train</c> (the default command).</summary>
public sealed record TrainOptions
{
    public string Model { get; init; } = "mlp";
    /// <summary>IDX folder; null means the bundled 10,000 digits (or the download cache with <see cref="Download"/>).</summary>
    public string? DataDir { get; init; }
    public bool Download { get; init; }
    public string CacheDir { get; init; } = MnistData.DefaultCacheFolder;
    public IReadOnlyList<string> Mirrors { get; init; } = MnistData.DefaultMirrors;
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Epochs; null means the model's default (5 for mlp, 3 for cnn and resnet).</summary>
    public int? Epochs { get; init; }
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    public long Seed { get; init; } = 1;
    public int? Threads { get; init; }
    public string? SavePath { get; init; }
    public bool Json { get; init; }
    /// <summary>PNG of the training curves; null means <c>mnist-&lt;model&gt;.png</c> in the current directory.</summary>
    public string? PlotPath { get; init; }
    public bool NoPlot { get; init; }
    /// <summary>Skip the JIT warm-up step (a throwaway model's single train and eval step before epoch 1).</summary>
    public bool NoWarmup { get; init; }
    /// <summary>Use only the first N training / test examples (quick runs, CI).</summary>
    public int? TrainLimit { get; init; }
    public int? TestLimit { get; init; }
    /// <summary>Data-parallel training under mpirun (DistributedTraining.cs).</summary>
    public bool Distributed { get; init; }
    /// <summary>Micro-batches of BatchSize per optimizer step, gradients summed then averaged (DistributedTraining.cs).</summary>
    public int Accumulate { get; init; } = 1;

    public int EffectiveEpochs => Epochs ?? (Model == "mlp" ? 5 : 3);
    public string EffectivePlotPath => PlotPath ?? $"mnist-{Model}.png";
}

/// <summary>Options of <c>predict</c>.</summary>
public sealed record PredictOptions
{
    public required string WeightsPath { get; init; }
    public required string ImagePath { get; init; }
    /// <summary>The architecture; null infers it from the file (metadata, then parameter names).</summary>
    public string? Model { get; init; }
    public bool Json { get; init; }
}

/// <summary>A command-line mistake: reported with the usage text, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parses the command line (no dependency: a dozen options do not need a framework).</summary>
public static class CommandLine
{
    public const string Usage = """
        Train a classifier on MNIST-format IDX data with DeepSharp, or classify an image with saved weights.

        Usage:
          dotnet run -c Release --project examples/Mnist [-- train options]
          dotnet run -c Release --project examples/Mnist -- predict --weights PATH --image FILE [--model NAME]

        Train options:
          --model mlp|cnn|resnet   architecture (default mlp)
          --epochs N               passes over the training set (default 5 for mlp, 3 for cnn and resnet)
          --batch-size N           mini-batch size (default 64)
          --lr X                   Adam learning rate (default 1e-3)
          --seed N                 random seed for initialisation and shuffling (default 1)
          --threads N              kernel threads (default: all cores, or DEEPSHARP_NUM_THREADS)
          --data DIR               folder with the four IDX files (train-/t10k- images/labels, .gz or raw),
                                   e.g. full MNIST or Fashion-MNIST; default: the 10,000 bundled digits
          --download               fetch full MNIST (60,000 + 10,000) into the cache folder, checking SHA-256
          --cache DIR              download folder (default ~/.cache/deepsharp/mnist)
          --mirror URL             download from URL instead of the default mirrors (repeatable)
          --timeout SECONDS        connect timeout for --download (default 20)
          --save PATH              write the trained weights (state dict) as safetensors
          --plot PATH              PNG of the training curves (default mnist-<model>.png)
          --no-plot                do not write the PNG
          --no-warmup              skip the JIT warm-up (one train step of a throwaway model before epoch 1, timed
                                   and reported separately; the real model and results are the same either way)
          --json                   end with one JSON line: model, test_accuracy, epoch_seconds, train_loss, …
          --train-limit N          use only the first N training images (quick runs)
          --test-limit N           use only the first N test images
          --distributed            data-parallel over the ranks of mpirun -np N (batch size is per rank; rank 0
                                   prints and writes); see docs/distributed.md
          --accumulate N           N micro-batches per step, gradients summed then averaged: the same weights, bit
                                   for bit, as --distributed with N ranks

        Predict options:
          --weights PATH           safetensors file written by --save
          --image FILE             a 28×28 digit, PGM (P2/P5) or PNG; other sizes are resized, dark-on-light inverted
          --model mlp|cnn|resnet   architecture (default: inferred from the weights)
          --json                   print the result as one JSON line
        """;

    /// <summary>Returns ("train", TrainOptions) or ("predict", PredictOptions), or ("help", null).</summary>
    public static (string Command, object? Options) Parse(IReadOnlyList<string> args)
    {
        int i = 0;
        string command = "train";
        if (args.Count > 0 && !args[0].StartsWith('-'))
        {
            command = args[0];
            i = 1;
            if (command is not ("train" or "predict" or "help"))
                throw new UsageException($"Unknown command '{command}'; expected train or predict.");
        }
        if (command == "help" || args.Any(a => a is "-h" or "--help" or "-?")) return ("help", null);

        var train = new TrainOptions();
        string? weights = null, image = null, model = null;
        bool json = false;
        var mirrors = new List<string>();
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
            bool trainOnly = true;
            switch (a)
            {
                case "--model":
                    model = Value();
                    if (!Models.Names.Contains(model)) throw new UsageException($"--model must be one of {string.Join(", ", Models.Names)}, got '{model}'.");
                    trainOnly = false;
                    break;
                case "--json": json = true; trainOnly = false; break;
                case "--weights": weights = Value(); trainOnly = false; break;
                case "--image": image = Value(); trainOnly = false; break;
                case "--epochs": train = train with { Epochs = Int(1) }; break;
                case "--batch-size": train = train with { BatchSize = Int(1) }; break;
                case "--lr":
                {
                    string v = Value();
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double lr) || !(lr > 0) || double.IsInfinity(lr))
                        throw new UsageException($"--lr needs a positive number, got '{v}'.");
                    train = train with { LearningRate = lr };
                    break;
                }
                case "--seed":
                {
                    string v = Value();
                    if (!long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed))
                        throw new UsageException($"--seed needs an integer, got '{v}'.");
                    train = train with { Seed = seed };
                    break;
                }
                case "--threads": train = train with { Threads = Int(1) }; break;
                case "--data": train = train with { DataDir = Value() }; break;
                case "--download": train = train with { Download = true }; break;
                case "--cache": train = train with { CacheDir = Value() }; break;
                case "--mirror": mirrors.Add(Value()); break;
                case "--timeout": train = train with { DownloadTimeout = TimeSpan.FromSeconds(Int(1)) }; break;
                case "--save": train = train with { SavePath = Value() }; break;
                case "--plot": train = train with { PlotPath = Value() }; break;
                case "--no-plot": train = train with { NoPlot = true }; break;
                case "--no-warmup": train = train with { NoWarmup = true }; break;
                case "--train-limit": train = train with { TrainLimit = Int(1) }; break;
                case "--test-limit": train = train with { TestLimit = Int(1) }; break;
                case "--distributed": train = train with { Distributed = true }; break;
                case "--accumulate": train = train with { Accumulate = Int(1) }; break;
                default: throw new UsageException($"Unknown option '{a}'.");
            }
            if (trainOnly && command == "predict") throw new UsageException($"Option {a} is for training, not predict.");
        }

        if (command == "predict")
        {
            if (weights is null) throw new UsageException("predict needs --weights PATH (a file written by --save).");
            if (image is null) throw new UsageException("predict needs --image FILE (a 28×28 PGM or PNG).");
            return ("predict", new PredictOptions { WeightsPath = weights, ImagePath = image, Model = model, Json = json });
        }
        if (weights is not null || image is not null) throw new UsageException("--weights and --image belong to the predict command: mnist predict --weights PATH --image FILE.");
        if (train.Download && train.DataDir is not null) throw new UsageException("Use either --data DIR or --download, not both.");
        train = train with { Model = model ?? "mlp", Json = json };
        if (mirrors.Count > 0) train = train with { Mirrors = mirrors };
        return ("train", train);
    }
}
