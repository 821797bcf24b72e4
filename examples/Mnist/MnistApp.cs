using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSharp;
using DeepSharp.Data;
using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Examples.Common;
using ScottPlot;
using Spectre.Console;

namespace DeepSharp.Examples.Mnist;

/// <summary>Metrics of one epoch.</summary>
public sealed record EpochStats(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double Seconds, double ImagesPerSecond,
    double CpuSeconds);

/// <summary>What <see cref="MnistApp.Run"/> returns: the per-epoch metrics, every batch's loss and the files written.</summary>
public sealed record TrainResult(string Model, IReadOnlyList<EpochStats> Epochs, IReadOnlyList<double> BatchLosses, int BatchesPerEpoch,
    int TrainCount, int TestCount, string DataFolder, string? PlotPath, string? SavePath)
{
    public double TestAccuracy => Epochs[^1].TestAccuracy;
}

/// <summary>What <see cref="MnistApp.Predict"/> returns.</summary>
public sealed record Prediction(string Model, int Class, string? ClassName, IReadOnlyList<double> Probabilities, bool Inverted, bool Resized);

/// <summary>The MNIST example: training (<see cref="Run"/>) and inference (<see cref="Predict"/>), callable in-process.</summary>
public static class MnistApp
{
    private static readonly string[] FashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Runs a command line; returns the process exit code (0 success, 1 failure, 2 usage error).</summary>
    public static int Execute(string[] args, TextWriter output, TextWriter error, bool interactive = false)
    {
        try
        {
            switch (CommandLine.Parse(args).Options)
            {
                case TrainOptions train when train.Distributed || train.Accumulate > 1: DistributedTraining.Run(train, output); break;
                case TrainOptions train: Run(train, output, interactive); break;
                case PredictOptions predict: Predict(predict, output); break;
                case string help: output.Write(help); break;
            }
            return 0;
        }
        catch (UsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            error.WriteLine("Run with --help for the options.");
            return 2;
        }
        catch (MnistException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    // ------------------------------------------------------------------------------------------------ training

    /// <summary>Trains a model as <paramref name="options"/> say, reporting to <paramref name="output"/>.</summary>
    /// <param name="interactive">Draw live progress bars (only for a terminal); otherwise print a few plain lines per epoch.</param>
    public static TrainResult Run(TrainOptions options, TextWriter output, bool interactive = false)
    {
        var console = ExampleConsole.Create(output, interactive);
        if (options.Threads is { } threads) Torch.SetNumThreads(threads);
        Torch.ManualSeed(options.Seed);

        // Data: the bundled digits, a folder given with --data, or full MNIST fetched with --download.
        string folder = options.DataDir ?? MnistData.BundledFolder;
        if (options.Download)
            folder = MnistData.Download(options.CacheDir, options.Mirrors, options.DownloadTimeout, line => console.WriteLine(line));
        var train = MnistData.Load(folder, train: true, options.TrainLimit);
        var test = MnistData.Load(folder, train: false, options.TestLimit);
        string dataName = options.DataDir is null && !options.Download ? "bundled MNIST digits" : folder;
        console.MarkupLineInterpolated($"[bold]DeepSharp MNIST[/] - model [green]{options.Model}[/], {train.Count:N0} training and {test.Count:N0} test images from {dataName}");
        console.MarkupLineInterpolated($"Adam lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch size {options.BatchSize}, {options.EffectiveEpochs} epochs, seed {options.Seed}, {Torch.GetNumThreads()} threads");

        var trainLoader = new DataLoader(new TensorDataset(train.Images, train.Labels), batchSize: options.BatchSize, shuffle: true,
            generator: new Generator(options.Seed));
        var testLoader = new DataLoader(new TensorDataset(test.Images, test.Labels), batchSize: 1000);

        var lossFn = new CrossEntropyLoss();
        double? warmupSeconds = null;
        if (!options.NoWarmup)
        {
            // .NET compiles each method the first time it runs: let that happen on a throwaway model, so that epoch 1
            // measures training, not the JIT (PyTorch's kernels are compiled ahead of time). Reported separately.
            warmupSeconds = WarmUp(options.Model, train, options.BatchSize, options.LearningRate, lossFn);
            console.MarkupLineInterpolated($"JIT warm-up (one step of a throwaway model, not part of any epoch): {warmupSeconds:F2} s");
            Torch.ManualSeed(options.Seed);   // the real model starts from exactly the same weights as without warm-up
        }

        var model = Models.Create(options.Model);
        var optimizer = new Adam(model.Parameters(), lr: options.LearningRate);
        console.MarkupLineInterpolated($"{model.ParameterCount():N0} parameters");

        var epochs = new List<EpochStats>();
        var batchLosses = new List<double>();
        for (int epoch = 1; epoch <= options.EffectiveEpochs; epoch++)
        {
            var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            var (trainLoss, trainAccuracy, seconds) = interactive
                ? TrainEpochWithProgressBar(console, model, trainLoader, optimizer, lossFn, epoch, options.EffectiveEpochs, batchLosses)
                : TrainEpoch(model, trainLoader, optimizer, lossFn, batchLosses, PlainReporter(console, epoch, options.EffectiveEpochs, trainLoader.Count));
            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
            var (testLoss, testAccuracy) = Evaluate(model, testLoader, lossFn);
            var stats = new EpochStats(epoch, trainLoss, trainAccuracy, testLoss, testAccuracy, seconds, train.Count / seconds, cpuSeconds);
            epochs.Add(stats);
            console.MarkupLineInterpolated(
                $"epoch {epoch}/{options.EffectiveEpochs}: train loss {trainLoss:F4}, test loss {testLoss:F4}, test accuracy [bold]{testAccuracy * 100:F2}%[/] ({seconds:F2} s, {stats.ImagesPerSecond:N0} img/s)");
        }
        console.Write(EpochTable(epochs));

        string? savePath = null;
        if (options.SavePath is { } path)
        {
            var metadata = new Dictionary<string, string>
            {
                ["model"] = options.Model,
                ["normalize_mean"] = MnistData.Mean.ToString(CultureInfo.InvariantCulture),
                ["normalize_std"] = MnistData.Std.ToString(CultureInfo.InvariantCulture),
                ["test_accuracy"] = epochs[^1].TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
            };
            if (folder.Contains("fashion", StringComparison.OrdinalIgnoreCase)) metadata["classes"] = string.Join(",", FashionClasses);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            SafeTensors.Save(model.StateDict(), path, metadata);
            savePath = path;
            console.MarkupLineInterpolated($"Saved the weights to {path}");
        }

        double? onnxAccuracy = options.ExportOnnxPath is { } onnxPath ? OnnxExport.ExportAndCheck(model, test, onnxPath, console) : null;
        var result = new TrainResult(options.Model, epochs, batchLosses, trainLoader.Count, train.Count, test.Count, folder, null, savePath);
        if (!options.NoPlot)
        {
            string plotPath = options.EffectivePlotPath;
            SavePlot(result, plotPath);
            result = result with { PlotPath = plotPath };
            console.MarkupLineInterpolated($"Wrote the training curves to {plotPath}");
        }

        if (options.Json)
        {
            var json = new JsonObject
            {
                ["model"] = options.Model,
                ["test_accuracy"] = result.TestAccuracy,
                ["epoch_seconds"] = new JsonArray(epochs.Select(e => (JsonNode?)e.Seconds).ToArray()),
                ["epoch_cpu_seconds"] = new JsonArray(epochs.Select(e => (JsonNode?)e.CpuSeconds).ToArray()),
                ["train_loss"] = new JsonArray(epochs.Select(e => (JsonNode?)e.TrainLoss).ToArray()),
                ["test_loss"] = new JsonArray(epochs.Select(e => (JsonNode?)e.TestLoss).ToArray()),
                ["test_accuracies"] = new JsonArray(epochs.Select(e => (JsonNode?)e.TestAccuracy).ToArray()),
                ["train_images"] = train.Count,
                ["test_images"] = test.Count,
                ["warmup_seconds"] = warmupSeconds,
                ["threads"] = Torch.GetNumThreads(),
                ["world_size"] = 1,
                ["weights_sha256"] = DistributedTraining.WeightsSha256(model),
            };
            if (onnxAccuracy is { } accuracy) json["onnx_test_accuracy"] = accuracy;
            output.Flush();
            output.WriteLine(json.ToJsonString());
        }
        output.Flush();
        return result;
    }

    /// <summary>One train step and one eval forward of a fresh <paramref name="modelName"/> on the first batch; returns the seconds.</summary>
    private static double WarmUp(string modelName, MnistSplit train, int batchSize, double lr, CrossEntropyLoss lossFn)
    {
        var clock = Stopwatch.StartNew();
        var model = Models.Create(modelName);
        var optimizer = new Adam(model.Parameters(), lr: lr);
        int n = Math.Min(batchSize, train.Count);
        var x = train.Images.Narrow(0, 0, n);
        var y = train.Labels.Narrow(0, 0, n);
        model.Train();
        optimizer.ZeroGrad();
        var logits = model.Forward(x);
        var loss = lossFn.Forward(logits, y);
        loss.Backward();
        optimizer.Step();
        _ = loss.Item() + logits.ArgMax(1).Eq(y).Float().Sum().Item();
        model.Eval();
        using (Autograd.NoGrad()) _ = lossFn.Forward(model.Forward(x), y).Item();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>One pass over the training data, PyTorch style. Returns the mean loss, the accuracy and the seconds taken.</summary>
    private static (double Loss, double Accuracy, double Seconds) TrainEpoch(Module<Tensor, Tensor> model, DataLoader loader, Optimizer optimizer,
        CrossEntropyLoss lossFn, List<double> batchLosses, Action<int, double, double, double> report)
    {
        model.Train();
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        long correct = 0, seen = 0;
        int batchIndex = 0;
        foreach (var batch in loader)
        {
            var (x, y) = (batch[0], batch[1]);
            optimizer.ZeroGrad();
            var logits = model.Forward(x);
            var loss = lossFn.Forward(logits, y);
            loss.Backward();
            optimizer.Step();

            double lossValue = loss.Item();
            int n = y.Shape[0];
            batchLosses.Add(lossValue);
            lossSum += lossValue * n;
            correct += (long)logits.ArgMax(1).Eq(y).Float().Sum().Item();
            seen += n;
            batchIndex++;
            report(batchIndex, lossSum / seen, (double)correct / seen, seen / clock.Elapsed.TotalSeconds);
        }
        return (lossSum / seen, (double)correct / seen, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Mean loss and accuracy on a data set, without recording gradients and with BatchNorm in eval mode.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module<Tensor, Tensor> model, DataLoader loader, CrossEntropyLoss lossFn)
    {
        model.Eval();
        double lossSum = 0;
        long correct = 0, seen = 0;
        using (Autograd.NoGrad())
        {
            foreach (var batch in loader)
            {
                var (x, y) = (batch[0], batch[1]);
                var logits = model.Forward(x);
                int n = y.Shape[0];
                lossSum += lossFn.Forward(logits, y).Item() * n;
                correct += (long)logits.ArgMax(1).Eq(y).Float().Sum().Item();
                seen += n;
            }
        }
        return (lossSum / seen, (double)correct / seen);
    }

    private static (double, double, double) TrainEpochWithProgressBar(IAnsiConsole console, Module<Tensor, Tensor> model, DataLoader loader,
        Optimizer optimizer, CrossEntropyLoss lossFn, int epoch, int epochs, List<double> batchLosses)
    {
        (double, double, double) result = default;
        ExampleConsole.ProgressBar(console, $"epoch {epoch}/{epochs}  starting…", loader.Count, report =>
            result = TrainEpoch(model, loader, optimizer, lossFn, batchLosses, (batch, loss, accuracy, imagesPerSecond) => report(batch, () =>
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}  loss [yellow]{loss:F4}[/]  acc [green]{accuracy * 100:F2}%[/]  [blue]{imagesPerSecond,7:N0} img/s[/]"))));
        return result;
    }

    /// <summary>Without a terminal (CI, redirected output): a plain line at each quarter of the epoch.</summary>
    private static Action<int, double, double, double> PlainReporter(IAnsiConsole console, int epoch, int epochs, int batches)
    {
        var quarter = ExampleConsole.Quarters(batches);
        return (batch, loss, accuracy, imagesPerSecond) =>
        {
            if (quarter(batch))
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  epoch {epoch}/{epochs} [{batch,5}/{batches}] loss {loss:F4}  acc {accuracy * 100:F2}%  {imagesPerSecond:N0} img/s"));
        };
    }

    /// <summary>The training curves: every batch's loss (moving average over a tenth of an epoch) and the per-epoch metrics.</summary>
    public static string SavePlot(TrainResult result, string path)
    {
        int perEpoch = result.BatchesPerEpoch;
        double[] epochs = result.Epochs.Select(e => (double)e.Epoch).ToArray();
        return new TrainingPlot($"DeepSharp MNIST, {result.Model}: {result.TestAccuracy * 100:F2}% test accuracy ({result.TrainCount:N0} training images)",
                "epoch", "cross-entropy loss", rightLabel: "accuracy (%)")
            .SmoothedLoss("train loss (moving average)", result.BatchLosses, perEpoch / 10, i => (i + 1) / (double)perEpoch)
            .Points("test loss", epochs, result.Epochs.Select(e => e.TestLoss).ToArray())
            .Points("test accuracy (%, right axis)", epochs, result.Epochs.Select(e => e.TestAccuracy * 100).ToArray(), rightAxis: true, LinePattern.Dashed)
            .Points("train accuracy (%, right axis)", epochs, result.Epochs.Select(e => e.TrainAccuracy * 100).ToArray(), rightAxis: true, LinePattern.Dotted)
            .XRange(0, Math.Max(1, result.Epochs.Count) + 0.05)
            .Save(path);
    }

    private static Table EpochTable(IReadOnlyList<EpochStats> epochs)
    {
        var table = new Table().Title("Training summary")
            .AddColumns(new TableColumn("epoch").RightAligned(), new TableColumn("train loss").RightAligned(), new TableColumn("train acc").RightAligned(),
                new TableColumn("test loss").RightAligned(), new TableColumn("test acc").RightAligned(), new TableColumn("seconds").RightAligned(),
                new TableColumn("img/s").RightAligned());
        foreach (var e in epochs)
            table.AddRow(e.Epoch.ToString(CultureInfo.InvariantCulture), F(e.TrainLoss, "F4"), P(e.TrainAccuracy), F(e.TestLoss, "F4"), P(e.TestAccuracy),
                F(e.Seconds, "F2"), F(e.ImagesPerSecond, "N0"));
        return table;

        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        static string P(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";
    }

    // ------------------------------------------------------------------------------------------------ inference

    /// <summary>Classifies one image with saved weights and prints the class and the probabilities.</summary>
    public static Prediction Predict(PredictOptions options, TextWriter output)
    {
        if (!File.Exists(options.WeightsPath)) throw new MnistException($"Weights file '{options.WeightsPath}' does not exist (write one with --save PATH).");
        OrderedDictionary<string, Tensor> state;
        Dictionary<string, string> metadata;
        try
        {
            (state, metadata) = SafeTensors.LoadWithMetadata(options.WeightsPath);
        }
        catch (InvalidDataException ex)
        {
            throw new MnistException($"'{options.WeightsPath}' is not a valid safetensors file: {ex.Message}", ex);
        }
        string modelName = options.Model
            ?? (metadata.TryGetValue("model", out var m) && Models.Names.Contains(m) ? m : null)
            ?? Models.Infer(state)
            ?? throw new MnistException($"Cannot tell which model '{options.WeightsPath}' holds; pass --model {string.Join("|", Models.Names)}.");
        var model = Models.Create(modelName);
        try
        {
            model.LoadStateDict(state);
        }
        catch (ArgumentException ex)
        {
            throw new MnistException($"The weights in '{options.WeightsPath}' do not fit the {modelName} model: {ex.Message}", ex);
        }
        model.Eval();

        var image = ImageFile.Read(options.ImagePath);
        var (pixels, inverted, resized) = ImageFile.ToMnist(image);
        var normalised = pixels.Select(p => (p - MnistData.Mean) / MnistData.Std).ToArray();
        double[] probabilities;
        using (Autograd.NoGrad())
        {
            var logits = model.Forward(Tensor.FromBuffer(normalised, 1, 1, 28, 28));
            probabilities = F.Softmax(logits, 1).Double().ToArray<double>();
        }
        int best = Array.IndexOf(probabilities, probabilities.Max());
        string[]? names = metadata.TryGetValue("classes", out var c) ? c.Split(',') : null;
        if (names is { Length: not 10 }) names = null;
        var prediction = new Prediction(modelName, best, names?[best], probabilities, inverted, resized);

        if (options.Json)
        {
            var json = new JsonObject
            {
                ["model"] = modelName,
                ["class"] = best,
                ["class_name"] = names?[best],
                ["probabilities"] = new JsonArray(probabilities.Select(p => (JsonNode?)p).ToArray()),
                ["inverted"] = inverted,
                ["resized"] = resized,
            };
            output.WriteLine(json.ToJsonString());
            return prediction;
        }
        output.WriteLine($"model {modelName}{(options.Model is null ? " (from the weights file)" : "")}, image {options.ImagePath} ({image.Width}×{image.Height})");
        if (resized) output.WriteLine("  note: the image was resized to 28×28");
        if (inverted) output.WriteLine("  note: dark ink on a light background, so the image was inverted (MNIST digits are light on black)");
        output.WriteLine($"predicted class: {best}{(names is null ? "" : $" ({names[best]})")}");
        for (int k = 0; k < probabilities.Length; k++)
        {
            string label = names is null ? k.ToString(CultureInfo.InvariantCulture) : $"{k} {names[k],-11}";
            string bar = new('#', (int)Math.Round(probabilities[k] * 40));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label,2}  {probabilities[k] * 100,6:F2}%  {bar}"));
        }
        output.Flush();
        return prediction;
    }
}
