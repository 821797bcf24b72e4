using System.Text.Json;
using DeepSharp.Examples.Mnist;

namespace DeepSharp.Onnx.Tests;

/// <summary><c>examples/Mnist --export-onnx PATH --json</c>: the file is written and ONNX Runtime's accuracy equals DeepSharp's.</summary>
[TestFixture]
public class MnistExampleTests
{
    [Test]
    public void ExportOnnxReportsTheSameTestAccuracy()
    {
        var path = OrtHelper.TempPath("mnist-example");
        var (_, parsed) = CommandLine.Parse(["--export-onnx", path]);
        Assert.That(((TrainOptions)parsed!).ExportOnnxPath, Is.EqualTo(path));
        var options = new TrainOptions
        {
            Model = "mlp", Epochs = 1, TrainLimit = 512, TestLimit = 300, NoPlot = true, NoWarmup = true, Json = true, ExportOnnxPath = path,
        };
        var output = new StringWriter();
        MnistApp.Run(options, output);
        Assert.That(File.Exists(path), Is.True);
        using var json = JsonDocument.Parse(output.ToString().Trim().Split('\n')[^1]);
        double test = json.RootElement.GetProperty("test_accuracy").GetDouble();
        double onnx = json.RootElement.GetProperty("onnx_test_accuracy").GetDouble();
        Assert.That(onnx, Is.EqualTo(test));
        Assert.That(test, Is.GreaterThan(0.5));
    }
}
