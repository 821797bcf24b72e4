using System.IO.Compression;
using System.Net;
using System.Text.Json;
using DeepSharp.Data;
using DeepSharp.Examples.Mnist;
using SkiaSharp;

namespace DeepSharp.Tests.Examples;

/// <summary>
/// The MNIST example in a tiny configuration (600 training images, one epoch) for each model, run in-process:
/// it learns, writes its JSON line, plot and weights, and <c>predict</c> reads the weights back.
/// </summary>
[TestFixture]
[NonParallelizable]
public class MnistExampleTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void CreateTempFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "deepsharp-mnist-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
    }

    [OneTimeTearDown]
    public void DeleteTempFolder()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Exit, string Out, string Err) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = MnistApp.Execute(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A test digit from the bundled data as raw bytes, with its label.</summary>
    private static (byte[] Pixels, int Label) BundledTestDigit(int index)
    {
        var images = IdxReader.ReadImages(MnistData.Find(MnistData.BundledFolder, train: false, images: true));
        var labels = IdxReader.ReadLabels(MnistData.Find(MnistData.BundledFolder, train: false, images: false));
        var pixels = images.Select(0, index).Contiguous().ToArray<float>().Select(v => (byte)v).ToArray();
        return (pixels, (int)labels.Select(0, index).Item());
    }

    // The ResNet needs more than a few batches to beat chance (PyTorch too: after 10 batches of 64 its eval accuracy
    // is 11-19%), and its convolutions are the slowest, so it runs 3 batches and only checks the pipeline.
    [TestCase("mlp", 640, 0.6)]
    [TestCase("cnn", 320, 0.4)]
    [TestCase("resnet", 128, 0.0)]
    public void TrainsSavesAndPredicts(string model, int trainImages, double minAccuracy)
    {
        string plot = Path.Combine(_dir, $"{model}.png"), weights = Path.Combine(_dir, $"{model}.safetensors");
        var (exit, output, error) = Cli("--model", model, "--epochs", "1", "--train-limit", trainImages.ToString(System.Globalization.CultureInfo.InvariantCulture), "--test-limit", model == "mlp" ? "500" : "200",
            "--threads", "2", "--seed", "3", "--json", "--plot", plot, "--save", weights);
        Assert.That(exit, Is.EqualTo(0), error);

        // The last line is the JSON summary.
        string last = output.TrimEnd().Split('\n')[^1];
        using var json = JsonDocument.Parse(last);
        var root = json.RootElement;
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo(model));
        double accuracy = root.GetProperty("test_accuracy").GetDouble();
        Assert.That(accuracy, Is.GreaterThanOrEqualTo(minAccuracy).And.LessThanOrEqualTo(1), output);
        Assert.That(root.GetProperty("epoch_seconds").GetArrayLength(), Is.EqualTo(1));
        double trainLoss = root.GetProperty("train_loss")[0].GetDouble();
        Assert.That(double.IsFinite(trainLoss), Is.True);
        if (minAccuracy > 0) Assert.That(trainLoss, Is.LessThan(Math.Log(10)), "mean training loss should be below chance level ln 10");
        Assert.That(output, Does.Contain("Training summary"));

        // The plot is a PNG, the weights load into predict.
        Assert.That(File.ReadAllBytes(plot).Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        var (pixels, label) = BundledTestDigit(0);
        string pgm = Path.Combine(_dir, $"digit-{model}.pgm");
        ImageFile.WritePgm(pgm, 28, 28, pixels);
        var prediction = MnistApp.Predict(new PredictOptions { WeightsPath = weights, ImagePath = pgm }, new StringWriter());
        Assert.That(prediction.Model, Is.EqualTo(model));
        Assert.That(prediction.Class, Is.InRange(0, 9));
        Assert.That(prediction.Probabilities.Sum(), Is.EqualTo(1).Within(1e-5));
        Assert.That(prediction.Inverted, Is.False);
        if (model == "mlp") Assert.That(prediction.Class, Is.EqualTo(label), $"the test digit is a {label}");
    }

    [TestCase("mlp"), TestCase("resnet")]
    public void JitWarmUpLeavesTheTrainingBitIdentical(string model)
    {
        // The warm-up trains a throwaway model and then re-seeds: the real run must not see any difference.
        TrainResult Train(bool noWarmup, StringWriter output) => MnistApp.Run(new TrainOptions
        {
            Model = model, Epochs = 1, TrainLimit = 256, TestLimit = 100, NoPlot = true, Seed = 3, Json = true, NoWarmup = noWarmup,
        }, output);
        var withOut = new StringWriter();
        var with = Train(noWarmup: false, withOut);
        var without = Train(noWarmup: true, new StringWriter());
        Assert.That(with.BatchLosses, Is.EqualTo(without.BatchLosses));
        Assert.That(with.TestAccuracy, Is.EqualTo(without.TestAccuracy));
        string json = withOut.ToString().TrimEnd().Split('\n')[^1];
        Assert.That(System.Text.Json.Nodes.JsonNode.Parse(json)!["warmup_seconds"]!.GetValue<double>(), Is.GreaterThan(0));
        Assert.That(withOut.ToString(), Does.Contain("JIT warm-up"));
    }

    [Test]
    public void LossDecreasesDuringTraining()
    {
        var result = MnistApp.Run(new TrainOptions { Model = "mlp", Epochs = 1, TrainLimit = 640, TestLimit = 200, NoPlot = true, Seed = 5 }, new StringWriter());
        var losses = result.BatchLosses;
        Assert.That(losses, Has.Count.EqualTo(10));
        Assert.That(losses.TakeLast(3).Average(), Is.LessThan(losses.Take(2).Average() * 0.7), string.Join(", ", losses));
    }

    [Test]
    public void PredictCliPrintsClassAndProbabilities()
    {
        string weights = Path.Combine(_dir, "cli-mlp.safetensors");
        Assert.That(Cli("--epochs", "1", "--train-limit", "640", "--test-limit", "100", "--no-plot", "--save", weights).Exit, Is.EqualTo(0));

        // A PNG with dark ink on white paper: predict inverts it.
        var (pixels, _) = BundledTestDigit(1);
        string png = Path.Combine(_dir, "digit.png");
        using (var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque))
        {
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    bitmap.SetPixel(x, y, new SKColor((byte)(255 - pixels[y * 28 + x]), (byte)(255 - pixels[y * 28 + x]), (byte)(255 - pixels[y * 28 + x])));
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(png, data.ToArray());
        }
        var (exit, output, error) = Cli("predict", "--weights", weights, "--image", png);
        Assert.That(exit, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("predicted class: "));
        Assert.That(output, Does.Contain("inverted"));
        Assert.That(output.Split('\n').Count(l => l.Contains('%')), Is.EqualTo(10));

        var (jsonExit, jsonOut, _) = Cli("predict", "--weights", weights, "--image", png, "--model", "mlp", "--json");
        Assert.That(jsonExit, Is.EqualTo(0));
        using var json = JsonDocument.Parse(jsonOut.Trim());
        Assert.That(json.RootElement.GetProperty("class").GetInt32(), Is.InRange(0, 9));

        var (wrongExit, _, wrongErr) = Cli("predict", "--weights", weights, "--image", png, "--model", "cnn");
        Assert.That(wrongExit, Is.EqualTo(1));
        Assert.That(wrongErr, Does.Contain("do not fit the cnn model"));
    }

    [Test]
    public void ReadsPlainAndBinaryPgm()
    {
        var plain = ImageFile.ReadPgm("P2\n# a comment\n3 2\n15\n0 15 3\n# another\n6 9 12\n"u8.ToArray());
        Assert.That(plain.Width, Is.EqualTo(3));
        Assert.That(plain.Height, Is.EqualTo(2));
        Assert.That(plain.Pixels, Is.EqualTo(new[] { 0f, 1f, 0.2f, 0.4f, 0.6f, 0.8f }).Within(1e-6));
        var wide = ImageFile.ReadPgm([.. "P5 2 1 65535\n"u8.ToArray(), 0xFF, 0xFF, 0x00, 0x00]);
        Assert.That(wide.Pixels, Is.EqualTo(new[] { 1f, 0f }));
        Assert.Throws<MnistException>(() => ImageFile.ReadPgm("P5 28 28 255\n\0\0"u8.ToArray()));
    }

    [Test]
    public void FindsRawAndDottedIdxNames()
    {
        // Un-gzipped files with the dotted names some mirrors use, and a "test" prefix.
        string folder = Path.Combine(_dir, "raw");
        Directory.CreateDirectory(folder);
        foreach (var (from, to) in new[] { ("train-images-idx3-ubyte.gz", "train-images.idx3-ubyte"), ("train-labels-idx1-ubyte.gz", "train-labels.idx1-ubyte"),
                     ("t10k-images-idx3-ubyte.gz", "test-images-idx3-ubyte"), ("t10k-labels-idx1-ubyte.gz", "test-labels-idx1-ubyte") })
        {
            using var gz = new GZipStream(File.OpenRead(Path.Combine(MnistData.BundledFolder, from)), CompressionMode.Decompress);
            using var file = File.Create(Path.Combine(folder, to));
            gz.CopyTo(file);
        }
        var train = MnistData.Load(folder, train: true, limit: 100);
        var test = MnistData.Load(folder, train: false);
        Assert.That(train.Images.Shape, Is.EqualTo(new[] { 100, 1, 28, 28 }));
        Assert.That(test.Count, Is.EqualTo(2000));
        Assert.That(train.Images.Mean().Item(), Is.EqualTo(0).Within(0.1), "inputs are normalised");

        var (exit, _, error) = Cli("--data", Path.Combine(_dir, "nowhere"));
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("does not exist"));
    }

    [Test]
    public void DownloadOfflineFailsWithAClearMessage()
    {
        // Port 1 on the loopback refuses connections, as an offline machine would.
        var (exit, _, error) = Cli("--download", "--cache", Path.Combine(_dir, "cache"), "--mirror", "http://127.0.0.1:1/mnist/", "--timeout", "5");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("Could not download train-images-idx3-ubyte.gz"));
        Assert.That(error, Does.Contain("http://127.0.0.1:1/mnist/train-images-idx3-ubyte.gz"));
        Assert.That(error, Does.Contain("--data DIR"));
        Assert.That(Directory.GetFiles(Path.Combine(_dir, "cache")), Is.Empty, "nothing half-written is left in the cache");
    }

    [Test]
    public void DownloadRejectsAFileWithTheWrongChecksum()
    {
        using var listener = new HttpListener();
        int port = 0;
        for (int attempt = 0; attempt < 20 && port == 0; attempt++)
        {
            int candidate = Random.Shared.Next(20000, 60000);
            try { listener.Prefixes.Clear(); listener.Prefixes.Add($"http://127.0.0.1:{candidate}/"); listener.Start(); port = candidate; }
            catch (HttpListenerException) { }
        }
        Assert.That(port, Is.Not.Zero, "no free port for a local HTTP server in 20 attempts");
        var serve = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var body = "not the MNIST file"u8.ToArray();
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        });
        string cache = Path.Combine(_dir, "cache-bad");
        var (exit, _, error) = Cli("--download", "--cache", cache, "--mirror", $"http://127.0.0.1:{port}/", "--timeout", "5");
        Assert.That(serve.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("SHA-256 mismatch"));
        Assert.That(Directory.GetFiles(cache), Is.Empty);
    }

    [TestCase(new[] { "--model", "vgg" }, "--model must be one of")]
    [TestCase(new[] { "--epochs", "zero" }, "--epochs needs an integer")]
    [TestCase(new[] { "--frobnicate" }, "Unknown option '--frobnicate'")]
    [TestCase(new[] { "predict", "--image", "x.png" }, "predict needs --weights")]
    [TestCase(new[] { "predict", "--weights", "w", "--image", "x", "--epochs", "2" }, "for training, not predict")]
    [TestCase(new[] { "--data", "d", "--download" }, "either --data DIR or --download")]
    public void BadCommandLinesExitWithCode2(string[] args, string message)
    {
        var (exit, _, error) = Cli(args);
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain(message));
    }

    [Test]
    public void HelpListsTheOptions()
    {
        var (exit, output, _) = Cli("--help");
        Assert.That(exit, Is.EqualTo(0));
        Assert.That(output, Does.Contain("--model <mlp|cnn|resnet>").And.Contain("predict --weights PATH --image FILE").And.Contain("--out-dir <DIR>"));
        var (predictExit, predictHelp, _) = Cli("predict", "--help");
        Assert.That(predictExit, Is.EqualTo(0));
        Assert.That(predictHelp, Does.Contain("--weights <PATH>").And.Not.Contain("--epochs"));
    }

    [Test]
    public void TheDefaultPlotGoesUnderTheRunFolderNotTheRepositoryRoot()
    {
        var (_, options) = DeepSharp.Examples.Mnist.CommandLine.Parse(["--model", "cnn"]);
        Assert.That(((TrainOptions)options!).EffectivePlotPath, Is.EqualTo(Path.Combine("runs", "mnist-cnn.png")));
        var (_, moved) = DeepSharp.Examples.Mnist.CommandLine.Parse(["--out-dir", "elsewhere"]);
        Assert.That(((TrainOptions)moved!).EffectivePlotPath, Is.EqualTo(Path.Combine("elsewhere", "mnist-mlp.png")));
        var (_, given) = DeepSharp.Examples.Mnist.CommandLine.Parse(["--plot", "p.png", "--mirror", "http://a/", "--mirror", "http://b/", "--seed", "-7"]);
        var train = (TrainOptions)given!;
        Assert.That((train.EffectivePlotPath, train.Seed), Is.EqualTo(("p.png", -7L)));
        Assert.That(train.Mirrors, Is.EqualTo(new[] { "http://a/", "http://b/" }));
    }
}
