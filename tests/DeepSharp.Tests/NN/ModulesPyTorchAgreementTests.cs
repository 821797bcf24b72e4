using DeepSharp.IO;
using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Recurrent, transposed-convolution, Conv1d, GroupNorm, activation, loss and resampling values and gradients against
/// PyTorch 1.13 in float64. Each file under NN/data (written by docs/pytorch-reference/modules_reference.py) holds the
/// module's PyTorch state dict, which is loaded strictly by name, the inputs, the outputs, and the gradients of
/// loss = Σₖ (1 + 0.1k)·Σ outputₖ² with respect to the inputs and every parameter.
/// </summary>
[TestFixture]
public class ModulesPyTorchAgreementTests
{
    private const double Tol = 1e-10;

    private sealed record Case(Dictionary<string, Tensor> State, Dictionary<string, Tensor> Inputs, List<Tensor> Outputs, Dictionary<string, Tensor> Grads);

    private static string DataDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests/DeepSharp.Tests/NN/data");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/DeepSharp.Tests/NN/data not found above the test directory.");
    }

    private static Case Load(string name)
    {
        var tensors = SafeTensors.Load(Path.Combine(DataDir(), name + ".safetensors"));
        Dictionary<string, Tensor> state = [], inputs = [], grads = [];
        var outputs = new SortedDictionary<int, Tensor>();
        foreach (var (key, t) in tensors)
        {
            if (key.StartsWith("input.", StringComparison.Ordinal)) inputs[key["input.".Length..]] = t.RequiresGrad_();
            else if (key.StartsWith("output.", StringComparison.Ordinal)) outputs[int.Parse(key["output.".Length..], System.Globalization.CultureInfo.InvariantCulture)] = t;
            else if (key.StartsWith("grad.", StringComparison.Ordinal)) grads[key["grad.".Length..]] = t;
            else state[key] = t;
        }
        return new Case(state, inputs, [.. outputs.Values], grads);
    }

    /// <summary>Compares the outputs, then backpropagates PyTorch's loss and compares every recorded gradient.</summary>
    private static void Verify(Case c, Module? module, Tensor[] outputs, params string[] skipGradElements)
    {
        Assert.That(outputs, Has.Length.EqualTo(c.Outputs.Count), "number of outputs");
        for (int k = 0; k < outputs.Length; k++) AssertClose(outputs[k], c.Outputs[k], $"output {k}");
        Tensor loss = Tensor.Scalar(0.0, DType.Float64);
        for (int k = 0; k < outputs.Length; k++) loss = loss + outputs[k].Square().Sum() * (1 + 0.1 * k);
        loss.Backward();
        foreach (var (name, expected) in c.Grads)
        {
            Tensor? actual = name.StartsWith("input.", StringComparison.Ordinal)
                ? c.Inputs[name["input.".Length..]].Grad
                : module!.NamedParameters().Single(p => p.Key == name).Value.Grad;
            Assert.That(actual, Is.Not.Null, $"gradient {name}");
            AssertClose(actual!, expected, $"gradient {name}", skipGradElements.Contains(name));
        }
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what, bool skipNonFinite = false)
    {
        Assert.That(actual.Shape, Is.EqualTo(expected.Shape), what + " shape");
        var a = actual.Double().Contiguous().ToArray<double>();
        var e = expected.Contiguous().ToArray<double>();
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (skipNonFinite && !double.IsFinite(e[i])) continue; // PyTorch's NaN where DeepSharp defines the limit
            max = Math.Max(max, Math.Abs(a[i] - e[i]));
        }
        TestContext.Out.WriteLine($"{what}: max |DeepSharp − PyTorch| = {max:E2}");
        Assert.That(max, Is.LessThanOrEqualTo(Tol), what);
    }

    private static T Loaded<T>(T module, Case c) where T : Module
    {
        module.To(DType.Float64);
        module.LoadStateDict(c.State); // strict: every PyTorch name must exist and nothing may be missing
        return module;
    }

    [Test]
    public void LstmTwoLayersBidirectionalBatchFirst()
    {
        var c = Load("lstm_bidirectional");
        var lstm = Loaded(new LSTM(3, 4, numLayers: 2, bidirectional: true, batchFirst: true), c);
        var (output, (h, cell)) = lstm.Forward(c.Inputs["x"], (c.Inputs["h0"], c.Inputs["c0"]));
        Verify(c, lstm, [output, h, cell]);
    }

    [Test]
    public void LstmWithoutBiasFromZeroState()
    {
        var c = Load("lstm_nobias");
        var lstm = Loaded(new LSTM(3, 5, bias: false), c);
        Assert.That(lstm.StateDict().Keys, Is.EquivalentTo(new[] { "weight_ih_l0", "weight_hh_l0" }));
        var (output, (h, cell)) = lstm.Forward(c.Inputs["x"]);
        Verify(c, lstm, [output, h, cell]);
    }

    [Test]
    public void GruTwoLayersBidirectional()
    {
        var c = Load("gru_bidirectional");
        var gru = Loaded(new GRU(3, 4, numLayers: 2, bidirectional: true), c);
        var (output, h) = gru.Forward(c.Inputs["x"], c.Inputs["h0"]);
        Verify(c, gru, [output, h]);
    }

    [Test]
    public void Cells()
    {
        var c = Load("lstm_cell");
        var lstm = Loaded(new LSTMCell(3, 4), c);
        var (h, cell) = lstm.Forward(c.Inputs["x"], (c.Inputs["h"], c.Inputs["c"]));
        Verify(c, lstm, [h, cell]);

        var g = Load("gru_cell");
        var gru = Loaded(new GRUCell(3, 4), g);
        Verify(g, gru, [gru.Forward(g.Inputs["x"], g.Inputs["h"])]);
    }

    [Test]
    public void GroupNormValues()
    {
        var c = Load("group_norm");
        var gn = Loaded(new GroupNorm(2, 6), c);
        Verify(c, gn, [gn.Forward(c.Inputs["x"])]);
    }

    [Test]
    public void ConvTranspose2dGroupedStridedDilatedWithOutputPadding()
    {
        var c = Load("conv_transpose2d");
        var m = Loaded(new ConvTranspose2d(4, 6, (3, 2), stride: (2, 1), padding: (1, 0), outputPadding: (1, 0), groups: 2, dilation: (1, 2)), c);
        Verify(c, m, [m.Forward(c.Inputs["x"])]);

        var p = Load("conv_transpose2d_plain");
        var plain = Loaded(new ConvTranspose2d(3, 2, 3, stride: 2, padding: 1, bias: false), p);
        Verify(p, plain, [plain.Forward(p.Inputs["x"])]);
    }

    [Test]
    public void Conv1dValues()
    {
        var c = Load("conv1d");
        var m = Loaded(new Conv1d(4, 6, 3, stride: 2, padding: 1, dilation: 2, groups: 2), c);
        Verify(c, m, [m.Forward(c.Inputs["x"])]);
    }

    [Test]
    public void ActivationsShuffleAndSimilarity()
    {
        var c = Load("activations");
        var prelu = Loaded(new PReLU(3), c);
        var x = c.Inputs["x"];
        Verify(c, prelu,
        [
            F.Elu(x), F.Elu(x, 0.7), F.Mish(x), F.Hardswish(x * 2), prelu.Forward(x),
            F.PixelShuffle(x.Reshape(2, 12, 1, 1).Expand(2, 12, 2, 3).Contiguous(), 2),
            F.PixelUnshuffle(x.Reshape(1, 2, 6, 2), 2),
            F.CosineSimilarity(x, Flip0(x) + 0.3, dim: 1),
            F.CosineSimilarity(x[0], x.Narrow(0, 1, 1), dim: -1, eps: 0.5),
        ]);
    }

    private static Tensor Flip0(Tensor x) => Tensor.Stack([.. Enumerable.Range(0, x.Shape[0]).Reverse().Select(i => x[i])]);

    [Test]
    public void KlDivAndHuber()
    {
        var c = Load("losses");
        var (logp, t, pred, y) = (c.Inputs["logp"], c.Inputs["target"], c.Inputs["pred"], c.Inputs["y"]);
        // PyTorch's target gradient is NaN where the target is 0 (xlogy's t/t); DeepSharp gives the limit there.
        Verify(c, null,
        [
            F.KlDiv(logp, t, "none"), F.KlDiv(logp, t, "batchmean"), F.KlDiv(logp, t, "mean"),
            F.KlDiv(logp, t.Clamp(min: 1e-3).Log(), "sum", logTarget: true),
            F.HuberLoss(pred, y), F.HuberLoss(pred, y, "none", delta: 0.5),
        ], "input.target");
    }

    [Test]
    public void InterpolateNearestAndBilinear()
    {
        var c = Load("interpolate");
        var x = c.Inputs["x"];
        Verify(c, null,
        [
            F.Interpolate(x, scaleFactor: [2]), F.Interpolate(x, [5, 7]),
            F.Interpolate(x, [5, 7], mode: "bilinear", alignCorners: false), F.Interpolate(x, [5, 7], mode: "bilinear", alignCorners: true),
            F.Interpolate(x, scaleFactor: [2], mode: "bilinear", alignCorners: false),
        ]);
    }
}
