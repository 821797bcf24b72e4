using System.Text.Json;
using DeepSharp.Examples.Mnist;
using DeepSharp.NN;
using DeepSharp.Optim;
using static DeepSharp.Onnx.Tests.OrtHelper;

namespace DeepSharp.Onnx.Tests;

/// <summary>Onnx.Load: files DeepSharp exported (round trip) and files PyTorch exported (Models/make_torch_models.py).</summary>
[TestFixture]
public class ImportTests
{
    [SetUp]
    public void Seed() => Torch.ManualSeed(23);

    private static (Tensor Input, Tensor Output) Recorded(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Models", name + ".json")));
        Tensor Read(string key)
        {
            var e = doc.RootElement.GetProperty(key);
            int[] shape = [.. e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32())];
            float[] data = [.. e.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
            return Tensor.FromArray(data, shape);
        }
        return (Read("input"), Read("output"));
    }

    [TestCase("torch_mlp")]
    [TestCase("torch_cnn")]
    [TestCase("torch_encoder")]
    public void PyTorchExportRunsAndMatchesPyTorch(string name)
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Models", name + ".onnx");
        var module = Onnx.Load(path);
        module.Eval();
        var (x, y) = Recorded(name);
        Tensor actual;
        using (Autograd.NoGrad()) actual = module.Forward(x);
        AssertClose(y, actual, 1e-5, 1e-4, name);
        // And ONNX Runtime agrees on the same file with another batch size.
        var x2 = Tensor.Randn([5, .. x.Shape[1..]]);
        using (Autograd.NoGrad()) AssertClose(module.Forward(x2), Run(path, ("input", x2))[0], 1e-4, 1e-4, name + " batch 5");
    }

    [Test]
    public void PyTorchMlpKeepsStateDictNamesAndFineTunes()
    {
        var module = Onnx.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "Models", "torch_mlp.onnx"));
        Assert.That(module.StateDict().Keys, Is.EqualTo(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }));
        var (x, _) = Recorded("torch_mlp");
        var target = Tensor.FromArray(new long[] { 0, 1, 2 }, 3);
        var opt = new SGD(module.Parameters(), lr: 0.1);
        double first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            opt.ZeroGrad();
            var loss = F.CrossEntropy(module.Forward(x), target);
            loss.Backward();
            opt.Step();
            if (step == 0) first = loss.Item<float>();
            last = loss.Item<float>();
        }
        Assert.That(last, Is.LessThan(first * 0.5), "fine-tuning the loaded parameters lowers the loss");
    }

    [TestCase("mlp")]
    [TestCase("cnn")]
    [TestCase("resnet")]
    public void RoundTripGivesTheSameOutputs(string model)
    {
        var m = Models.Create(model);
        var path = TempPath("roundtrip-" + model);
        Onnx.Export(m, Tensor.Randn(2, 1, 28, 28), path);
        var loaded = Onnx.Load(path);
        m.Eval(); loaded.Eval();
        var x = Tensor.Randn(3, 1, 28, 28);
        using (Autograd.NoGrad()) AssertClose(m.Forward(x), loaded.Forward(x), 1e-5, 1e-5, model);
        Assert.That(loaded.StateDict().Keys.ToHashSet(), Is.SupersetOf(m.StateDict().Keys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal))));
    }

    [Test]
    public void RoundTripTransformerEncoder()
    {
        var layer = new TransformerEncoderLayer(16, 4, dimFeedforward: 32, batchFirst: true, normFirst: true);
        var path = TempPath("roundtrip-encoder");
        Onnx.Export(layer, Tensor.Randn(2, 5, 16), path);
        var loaded = Onnx.Load(path);
        layer.Eval(); loaded.Eval();
        var x = Tensor.Randn(4, 5, 16);
        using (Autograd.NoGrad()) AssertClose(layer.Forward(x), loaded.Forward(x), 1e-5, 1e-5);
    }

    [Test]
    public void WrongInputShapeIsNamed()
    {
        var path = TempPath("wrong-input");
        Onnx.Export(new Linear(4, 2), Tensor.Randn(3, 4), path);
        var loaded = Onnx.Load(path);
        var e = Assert.Throws<ArgumentException>(() => loaded.Forward(Tensor.Randn(3, 5)));
        Assert.That(e!.Message, Does.Contain("input").And.Contain("[batch, 4]").And.Contain("[3, 5]"));
    }

    [Test]
    public void NotAnOnnxFileIsNamed()
    {
        var path = TempPath("garbage");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF]);
        Assert.Throws<InvalidDataException>(() => Onnx.Load(path));
    }
}
