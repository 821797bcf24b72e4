using DeepSharp.Examples.Mnist;
using DeepSharp.NN;
using static DeepSharp.Onnx.Tests.OrtHelper;

namespace DeepSharp.Onnx.Tests;

/// <summary>Exported files run by ONNX Runtime give DeepSharp's outputs, for the sample's batch size and another.</summary>
[TestFixture]
public class ExportTests
{
    [SetUp]
    public void Seed() => Torch.ManualSeed(17);

    /// <summary>A module whose forward is a lambda (for functional ops between layers).</summary>
    private sealed class Lambda : Module<Tensor, Tensor>
    {
        private readonly Func<Tensor, Tensor> _f;
        public Lambda(Func<Tensor, Tensor> f, params Module[] children)
        {
            _f = f;
            for (int i = 0; i < children.Length; i++) RegisterModule($"m{i}", children[i]);
        }
        public override Tensor Forward(Tensor input) => _f(input);
    }

    private static BatchNorm2d TrainedBatchNorm(int c)
    {
        var bn = new BatchNorm2d(c);
        for (int i = 0; i < 3; i++) bn.Forward(Tensor.Randn(4, c, 5, 5) * 2.0 + 1.0);
        return bn;
    }

    public static IEnumerable<TestCaseData> Layers()
    {
        TestCaseData Case(string name, Func<Module<Tensor, Tensor>> make, params int[] shape) => new TestCaseData(make, shape).SetName($"Layer_{name}");
        yield return Case("Linear", () => new Linear(6, 4), 3, 6);
        yield return Case("LinearNoBias3D", () => new Linear(6, 4, bias: false), 3, 5, 6);
        yield return Case("Conv2d", () => new Conv2d(3, 4, 3), 2, 3, 8, 8);
        yield return Case("Conv2dStridePad", () => new Conv2d(3, 4, 3, stride: 2, padding: 1), 2, 3, 9, 9);
        yield return Case("Conv2dDilation", () => new Conv2d(3, 4, 3, dilation: 2, padding: 2), 2, 3, 9, 9);
        yield return Case("Conv2dGroups", () => new Conv2d(4, 6, 3, groups: 2, bias: false), 2, 4, 7, 7);
        yield return Case("BatchNorm2d", () => TrainedBatchNorm(3), 2, 3, 5, 5);
        yield return Case("LayerNorm", () => new LayerNorm([8]), 3, 4, 8);
        yield return Case("ReLU", () => new ReLU(), 3, 7);
        yield return Case("LeakyReLU", () => new LeakyReLU(0.2), 3, 7);
        yield return Case("GELU", () => new GELU(), 3, 7);
        yield return Case("GELUTanh", () => new GELU("tanh"), 3, 7);
        yield return Case("Tanh", () => new Tanh(), 3, 7);
        yield return Case("Sigmoid", () => new Sigmoid(), 3, 7);
        yield return Case("SiLU", () => new SiLU(), 3, 7);
        yield return Case("Softmax", () => new Softmax(1), 3, 7);
        yield return Case("LogSoftmax", () => new LogSoftmax(-1), 3, 7);
        yield return Case("MaxPool2d", () => new MaxPool2d(3, stride: 2, padding: 1), 2, 3, 9, 9);
        yield return Case("AvgPool2d", () => new AvgPool2d(2), 2, 3, 8, 8);
        yield return Case("AvgPool2dPad", () => new AvgPool2d(3, stride: 2, padding: 1, countIncludePad: false), 2, 3, 9, 9);
        yield return Case("AdaptiveAvgPool2dGlobal", () => new AdaptiveAvgPool2d(1), 2, 3, 6, 6);
        yield return Case("AdaptiveAvgPool2d2", () => new AdaptiveAvgPool2d(2), 2, 3, 6, 6);
        yield return Case("Flatten", () => new Flatten(), 2, 3, 4, 4);
        yield return Case("DropoutIdentityInEval", () => new Sequential(new Linear(5, 5), new Dropout(0.5), new ReLU()), 3, 5);
        yield return Case("PermuteTransposeReshape", () => new Lambda(x => x.Permute(0, 2, 1).Transpose(1, 2).Reshape(x.Shape[0], -1) * 2.0 - 1.0), 3, 4, 5);
        yield return Case("AddMulMatMul", () =>
        {
            var w = new Linear(4, 4);
            return new Lambda(x => (x + w.Forward(x)) * x.MatMul(w.Weight.T).Sigmoid() / 3.0, w);
        }, 3, 4);
        yield return Case("BatchNorm1d", () =>
        {
            var bn = new BatchNorm1d(5);
            for (int i = 0; i < 3; i++) bn.Forward(Tensor.Randn(6, 5) * 3.0 - 1.0);
            return bn;
        }, 4, 5);
        yield return Case("Conv2dSameEvenKernel", () => new Conv2d(3, 2, 4, padding: "same"), 2, 3, 7, 7);
        yield return Case("ElementwiseViewsReductions", () => new Lambda(x =>
        {
            var a = x.Narrow(1, 0, 2).Exp() + x.Select(1, 2).Unsqueeze(1).Abs().Sqrt();
            var b = Tensor.Cat([a, x.Narrow(1, 2, 2).Neg()], 1);
            var c = Tensor.Maximum(b, x.Narrow(1, 0, 4) * 0.5).Pow(2.0) + (b.Abs() + 1.0).Rsqrt().Log() - Tensor.Minimum(b, x.Slice(1, 1, 5)) / 4.0;
            var d = c.Mean(1, keepDim: true) + c.Sum([1], keepDim: true);
            return d.Expand(-1, 4) * c + x.Unsqueeze(2).Squeeze(2).Narrow(1, 1, 4).Tanh();
        }), 3, 5);
        yield return Case("ComparisonsWhereMaskedFill", () => new Lambda(x =>
        {
            var positive = x.Gt(0.0);
            var y = Tensor.Where(positive, x * 2.0, x.Exp()).MaskedFill(x.Lt(-1.0), -5.0);
            return y + x.Ge(0.5).To(DType.Float32) - x.Le(-0.5).Float() * 3.0 + x.Ne(x * 0.0).Float() + x.Eq(x).Float();
        }), 4, 6);
        yield return Case("ResidualBlock", () => new ResidualBlock(4, 4), 2, 4, 6, 6);
        yield return Case("ResidualBlockDownsample", () => new ResidualBlock(4, 8, stride: 2), 2, 4, 6, 6);
    }

    [TestCaseSource(nameof(Layers))]
    public void LayerMatchesOnnxRuntime(Func<Module<Tensor, Tensor>> make, int[] shape)
    {
        var m = make();
        var other = (int[])shape.Clone();
        other[0] = shape[0] + 3;
        ExportAndCheck(m, Tensor.Randn(shape), Tensor.Randn(other), TestContext.CurrentContext.Test.Name);
    }

    [Test]
    public void EmbeddingExportsAsGather()
    {
        var m = new Embedding(10, 4);
        var path = TempPath("embedding");
        var sample = Tensor.RandInt(0, 10, [2, 3]);
        Onnx.Export(m, sample, path);
        var other = Tensor.RandInt(0, 10, [5, 3]);
        Tensor expected;
        using (Autograd.NoGrad()) expected = m.Forward(other);
        AssertClose(expected, Run(path, ("input", other))[0]);
    }

    [TestCase("mlp")]
    [TestCase("cnn")]
    [TestCase("resnet")]
    public void MnistModelsMatchOnnxRuntime(string model)
    {
        var m = Models.Create(model);
        ExportAndCheck(m, Tensor.Randn(2, 1, 28, 28), Tensor.Randn(5, 1, 28, 28), model, atol: 2e-4);
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void TransformerEncoderLayerMatchesOnnxRuntime(bool normFirst, bool batchFirst)
    {
        var layer = new TransformerEncoderLayer(16, 4, dimFeedforward: 32, dropout: 0.1, activation: "gelu", batchFirst: batchFirst, normFirst: normFirst);
        int[] Shape(int batch) => batchFirst ? [batch, 5, 16] : [5, batch, 16];
        var dyn = new Dictionary<string, int[]> { ["input"] = [batchFirst ? 0 : 1] };
        var path = TempPath($"encoder-{normFirst}-{batchFirst}");
        Onnx.Export(layer, Tensor.Randn(Shape(2)), path, dynamicAxes: dyn);
        layer.Eval();
        foreach (int b in new[] { 2, 3 })
        {
            var x = Tensor.Randn(Shape(b));
            Tensor expected;
            using (Autograd.NoGrad()) expected = layer.Forward(x);
            AssertClose(expected, Run(path, ("input", x))[0], what: $"batch {b}");
        }
    }

    [Test]
    public void CausalEncoderLayerMatchesOnnxRuntime()
    {
        var layer = new TransformerEncoderLayer(16, 4, dimFeedforward: 32, batchFirst: true);
        var path = TempPath("encoder-causal");
        Onnx.Export(layer, xs => [layer.Forward(xs[0], null, isCausal: true)], [Tensor.Randn(2, 5, 16)], path);
        layer.Eval();
        var x = Tensor.Randn(4, 5, 16);
        Tensor expected;
        using (Autograd.NoGrad()) expected = layer.Forward(x, null, isCausal: true);
        AssertClose(expected, Run(path, ("input", x))[0]);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TransformerDecoderLayerWithCausalMaskMatchesOnnxRuntime(bool normFirst)
    {
        var layer = new TransformerDecoderLayer(16, 4, dimFeedforward: 32, batchFirst: true, normFirst: normFirst);
        var mask = Transformer.GenerateSquareSubsequentMask(4);
        var path = TempPath($"decoder-{normFirst}");
        Onnx.Export(layer, xs => [layer.Forward(xs[0], xs[1], mask)], [Tensor.Randn(2, 4, 16), Tensor.Randn(2, 6, 16)], path,
            inputNames: ["tgt", "memory"]);
        layer.Eval();
        var tgt = Tensor.Randn(3, 4, 16);
        var memory = Tensor.Randn(3, 6, 16);
        Tensor expected;
        using (Autograd.NoGrad()) expected = layer.Forward(tgt, memory, mask);
        AssertClose(expected, Run(path, ("tgt", tgt), ("memory", memory))[0]);
    }

    [Test]
    public void InitializersCarryStateDictNames()
    {
        var m = Models.Create("resnet");
        var model = Onnx.BuildModel(m, xs => [((Module<Tensor, Tensor>)m).Forward(xs[0])], [Tensor.Randn(1, 1, 28, 28)], 17, null, null, null);
        var names = model.Graph.Initializers.Select(i => i.Name).ToHashSet();
        foreach (var key in m.StateDict().Keys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            Assert.That(names, Does.Contain(key));
        Assert.That(model.Graph.Inputs[0].Dims[0].Param, Is.EqualTo("batch"));
        Assert.That(model.Graph.Outputs[0].Dims[0].Param, Is.EqualTo("batch"));
    }
}

/// <summary>MultiheadAttention with an attention mask and a key padding mask given as graph inputs.</summary>
[TestFixture]
public class AttentionExportTests
{
    [TestCase(true, true)]
    [TestCase(false, true)]
    [TestCase(true, false)]
    [TestCase(false, false)]
    public void MultiheadAttentionWithMasksMatchesOnnxRuntime(bool batchFirst, bool needWeights)
    {
        Torch.ManualSeed(5);
        var mha = new MultiheadAttention(16, 4, batchFirst: batchFirst);
        int[] Shape(int n, int l) => batchFirst ? [n, l, 16] : [l, n, 16];
        var attnMask = Tensor.Randn(4, 6) * 0.5;
        Tensor Padding(int n)
        {
            var data = new bool[n * 6];
            for (int b = 0; b < n; b++) for (int s = 6 - 1 - b % 3; s < 6; s++) data[b * 6 + s] = s > 0;
            return Tensor.FromArray(data, n, 6);
        }
        var path = OrtHelper.TempPath($"mha-{batchFirst}-{needWeights}");
        int batchAxis = batchFirst ? 0 : 1;
        Onnx.Export(mha, xs => [mha.Forward(xs[0], xs[1], xs[1], keyPaddingMask: xs[2], needWeights: needWeights, attnMask: attnMask).Output],
            [Tensor.Randn(Shape(2, 4)), Tensor.Randn(Shape(2, 6)), Padding(2)], path,
            dynamicAxes: new Dictionary<string, int[]> { ["query"] = [batchAxis], ["memory"] = [batchAxis], ["padding"] = [0] },
            inputNames: ["query", "memory", "padding"]);
        mha.Eval();
        var q = Tensor.Randn(Shape(3, 4));
        var m = Tensor.Randn(Shape(3, 6));
        var pad = Padding(3);
        Tensor expected;
        using (Autograd.NoGrad()) expected = mha.Forward(q, m, m, keyPaddingMask: pad, attnMask: attnMask).Output;
        OrtHelper.AssertClose(expected, OrtHelper.Run(path, ("query", q), ("memory", m), ("padding", pad))[0]);
    }
}
