using System.CommandLine;
using DeepSharp.Examples.Common;

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
    /// <summary>Write the trained model as ONNX here and score it with ONNX Runtime (<c>--export-onnx</c>).</summary>
    public string? ExportOnnxPath { get; init; }
    public bool Json { get; init; }
    /// <summary>PNG of the training curves; null means <c>mnist-&lt;model&gt;.png</c> in <see cref="OutputDir"/>.</summary>
    public string? PlotPath { get; init; }
    /// <summary>Folder of the files a run writes unless given a path (default <c>runs/</c>, ignored by git).</summary>
    public string OutputDir { get; init; } = RunFolder.Default;
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
    public string EffectivePlotPath => PlotPath ?? Path.Combine(OutputDir, $"mnist-{Model}.png");
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

/// <summary>The command line, declared with System.CommandLine through the shared <see cref="Flags"/>.</summary>
public static class CommandLine
{
    private static readonly Option<string?> Model = Flags.Choice("--model", "architecture (train: default mlp; predict: default inferred from the weights)", Models.Names);
    private static readonly Option<bool> Json = Flags.Json("model, test_accuracy, epoch_seconds, train_loss, … (predict: the result)");

    private static readonly Option<int?> Epochs = Flags.OptionalEpochs("5 for mlp, 3 for cnn and resnet");
    private static readonly Option<int> BatchSize = Flags.BatchSize(64);
    private static readonly Option<double> LearningRate = Flags.LearningRate(1e-3);
    private static readonly Option<long> Seed = Flags.Seed();
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Data = Flags.Text("--data", "folder with the four IDX files (train-/t10k- images/labels, .gz or raw), e.g. full MNIST or Fashion-MNIST; default: the 10,000 bundled digits", "DIR");
    private static readonly Option<bool> Download = Flags.Switch("--download", "fetch full MNIST (60,000 + 10,000) into the cache folder, checking SHA-256");
    private static readonly Option<string?> Cache = Flags.Text("--cache", "download folder (default ~/.cache/deepsharp/mnist)", "DIR");
    private static readonly Option<string[]> Mirror = Flags.Repeated("--mirror", "download from URL instead of the default mirrors (repeatable)", "URL");
    private static readonly Option<int> Timeout = Flags.Int("--timeout", "connect timeout in seconds for --download", 20);
    private static readonly Option<string?> Save = Flags.Save();
    private static readonly Option<string?> ExportOnnx = Flags.Text("--export-onnx", "write the trained model as ONNX and check it with ONNX Runtime on the test set");
    private static readonly Option<string?> Plot = Flags.Plot("OUT-DIR/mnist-<model>.png");
    private static readonly Option<bool> NoPlot = Flags.NoPlot();
    private static readonly Option<string> OutDir = Flags.OutputDir();
    private static readonly Option<bool> NoWarmup = Flags.Switch("--no-warmup", "skip the JIT warm-up (one train step of a throwaway model before epoch 1, timed and reported separately; the real model and results are the same either way)");
    private static readonly Option<int?> TrainLimit = Flags.OptionalInt("--train-limit", "use only the first N training images (quick runs)");
    private static readonly Option<int?> TestLimit = Flags.OptionalInt("--test-limit", "use only the first N test images");
    private static readonly Option<bool> DistributedRun = Flags.Switch("--distributed", "data-parallel over the ranks of mpirun -np N (batch size is per rank; rank 0 prints and writes); see docs/distributed.md");
    private static readonly Option<int> Accumulate = Flags.Int("--accumulate", "N micro-batches per step, gradients summed then averaged: the same weights, bit for bit, as --distributed with N ranks", 1);

    private static readonly Option<string?> Weights = Flags.Text("--weights", "safetensors file written by --save");
    private static readonly Option<string?> Image = Flags.Text("--image", "a 28×28 digit, PGM (P2/P5) or PNG; other sizes are resized, dark-on-light inverted", "FILE");

    private static readonly Option[] TrainOnly = [Epochs, BatchSize, LearningRate, Seed, Threads, Data, Download, Cache, Mirror, Timeout, Save, ExportOnnx, Plot, NoPlot, OutDir, NoWarmup, TrainLimit, TestLimit, DistributedRun, Accumulate];

    private const string Description = """
        Train a classifier on MNIST-format IDX data with DeepSharp, or classify an image with saved weights.

          dotnet run -c Release --project examples/Mnist [-- train options]
          dotnet run -c Release --project examples/Mnist -- predict --weights PATH --image FILE [--model NAME]
        """;

    private static readonly RootCommand Root = BuildRoot();

    private static RootCommand BuildRoot()
    {
        var root = new RootCommand(Description);
        var train = new Command("train", "train a model (the default command)");
        foreach (var o in TrainOnly.Prepend(Json).Prepend(Model)) { root.Options.Add(o); train.Options.Add(o); }
        // Weights and image on the root too, so that "--weights" without "predict" gets the hint below.
        root.Options.Add(Weights);
        root.Options.Add(Image);
        var predict = new Command("predict", "classify an image with saved weights") { Weights, Image, Model, Json };
        root.Subcommands.Add(train);
        root.Subcommands.Add(predict);
        return root;
    }

    /// <summary>The help text.</summary>
    public static string Usage => ExampleCli.HelpText(Root);

    /// <summary>Returns ("train", TrainOptions) or ("predict", PredictOptions), or ("help", the help text).</summary>
    public static (string Command, object? Options) Parse(IReadOnlyList<string> args)
    {
        var r = ExampleCli.Parse(Root, args, (option, command) =>
            command == "predict" && TrainOnly.Any(o => o.Name == option) ? $"Option {option} is for training, not predict." : null);
        if (ExampleCli.IsHelp(r)) return ("help", ExampleCli.HelpText(r));

        if (r.CommandResult.Command.Name == "predict")
        {
            string weights = r.GetValue(Weights) ?? throw new UsageException("predict needs --weights PATH (a file written by --save).");
            string image = r.GetValue(Image) ?? throw new UsageException("predict needs --image FILE (a 28×28 PGM or PNG).");
            return ("predict", new PredictOptions { WeightsPath = weights, ImagePath = image, Model = r.GetValue(Model), Json = r.GetValue(Json) });
        }
        if (r.Given(Weights) || r.Given(Image)) throw new UsageException("--weights and --image belong to the predict command: mnist predict --weights PATH --image FILE.");
        if (r.GetValue(Download) && r.GetValue(Data) is not null) throw new UsageException("Use either --data DIR or --download, not both.");
        var mirrors = r.GetValue(Mirror)!;
        return ("train", new TrainOptions
        {
            Model = r.GetValue(Model) ?? "mlp",
            DataDir = r.GetValue(Data),
            Download = r.GetValue(Download),
            CacheDir = r.GetValue(Cache) ?? MnistData.DefaultCacheFolder,
            Mirrors = mirrors.Length > 0 ? mirrors : MnistData.DefaultMirrors,
            DownloadTimeout = TimeSpan.FromSeconds(r.GetValue(Timeout)),
            Epochs = r.GetValue(Epochs),
            BatchSize = r.GetValue(BatchSize),
            LearningRate = r.GetValue(LearningRate),
            Seed = r.GetValue(Seed),
            Threads = r.GetValue(Threads),
            SavePath = r.GetValue(Save),
            ExportOnnxPath = r.GetValue(ExportOnnx),
            Json = r.GetValue(Json),
            PlotPath = r.GetValue(Plot),
            NoPlot = r.GetValue(NoPlot),
            OutputDir = r.GetValue(OutDir)!,
            NoWarmup = r.GetValue(NoWarmup),
            TrainLimit = r.GetValue(TrainLimit),
            TestLimit = r.GetValue(TestLimit),
            Distributed = r.GetValue(DistributedRun),
            Accumulate = r.GetValue(Accumulate),
        });
    }
}
