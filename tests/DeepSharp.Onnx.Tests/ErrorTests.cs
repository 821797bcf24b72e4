using DeepSharp.Examples.Mnist;
using DeepSharp.NN;
using static DeepSharp.Onnx.Tests.OrtHelper;

namespace DeepSharp.Onnx.Tests;

/// <summary>Export fails with named errors instead of writing a wrong graph.</summary>
[TestFixture]
public class ErrorTests
{
    private sealed class UsesSoftplus : Module<Tensor, Tensor>
    {
        private readonly Linear _fc;
        public UsesSoftplus() => _fc = RegisterModule("fc", new Linear(3, 3));
        public override Tensor Forward(Tensor input) => _fc.Forward(input).Softplus().Relu();
    }

    private sealed class InPlace : Module<Tensor, Tensor>
    {
        private readonly Linear _fc;
        public InPlace() => _fc = RegisterModule("fc", new Linear(3, 3));
        public override Tensor Forward(Tensor input)
        {
            var y = _fc.Forward(input);
            var z = y * 2.0;
            y.Add_(1.0);
            return z + y;
        }
    }

    private sealed class BatchSizedConstant : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input + Tensor.Arange(input.Shape[0] * input.Shape[1]).Reshape(input.Shape);
    }

    private sealed class UniformBatchSizedConstant : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input * Tensor.Full(input.Shape, 3.0);
    }

    /// <summary>Copies the input's data out and back: no op reports it, so only the values tell it from a constant.</summary>
    private sealed class DataRoundTrip : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input + Tensor.FromArray(input.Detach().ToArray<float>(), input.Shape);
    }

    [Test]
    public void UnsupportedOpIsNamedWithItsModule()
    {
        var model = new Sequential(new Linear(3, 3), new UsesSoftplus());
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(model, Tensor.Randn(2, 3), TempPath("softplus")));
        Assert.That(e!.Message, Does.Contain("Softplus").And.Contain("UsesSoftplus"));
        Assert.That(File.Exists(TempPath("softplus")), Is.False, "no file is written");
    }

    [Test]
    public void WrongSampleShapeIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => Onnx.Export(Models.Create("mlp"), Tensor.Randn(2, 1, 14, 14), TempPath("wrong-sample")));
        Assert.That(e!.Message, Does.Contain("Onnx.Export").And.Contain("Mlp").And.Contain("[2, 1, 14, 14]").And.Contain("Linear"));
    }

    [Test]
    public void InPlaceModificationIsRejected()
    {
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(new InPlace(), Tensor.Randn(2, 3), TempPath("inplace")));
        Assert.That(e!.Message, Does.Contain("in place"));
    }

    [Test]
    public void BatchSizedConstantIsRejected()
    {
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(new BatchSizedConstant(), Tensor.Randn(2, 3), TempPath("batch-const")));
        Assert.That(e!.Message, Does.Contain("batch size"));
    }

    [Test]
    public void UniformBatchSizedConstantBecomesAScalar()
    {
        var path = TempPath("uniform-const");
        Onnx.Export(new UniformBatchSizedConstant(), Tensor.Randn(2, 3), path);
        var x = Tensor.Randn(5, 3);
        AssertClose(x * 3.0, Run(path, ("input", x))[0]);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ValuesComputedOutsideTheTraceAreRejected(bool dynamic)
    {
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(new DataRoundTrip(), Tensor.Randn(2, 3), TempPath("data-roundtrip"),
            dynamicAxes: dynamic ? null : new Dictionary<string, int[]>()));
        Assert.That(e!.Message, Does.Contain("Onnx.Export").And.Contain("[2, 3]"));
    }

    [Test]
    public void BatchNormWithoutRunningStatisticsIsRejected()
    {
        var bn = new BatchNorm2d(3, trackRunningStats: false);
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(bn, Tensor.Randn(2, 3, 4, 4), TempPath("bn-train")));
        Assert.That(e!.Message, Does.Contain("BatchNorm"));
    }

    [Test]
    public void OtherOpsetsAndBadAxesAreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => Onnx.Export(new Linear(3, 3), Tensor.Randn(2, 3), TempPath("opset"), opset: 11));
        Assert.That(e!.Message, Does.Contain("opset 11"));
        e = Assert.Throws<ArgumentException>(() => Onnx.Export(new Linear(3, 3), Tensor.Randn(2, 3), TempPath("axes"),
            dynamicAxes: new Dictionary<string, int[]> { ["input"] = [2] }));
        Assert.That(e!.Message, Does.Contain("dynamic axis 2"));
    }

    [Test]
    public void StaticShapesWhenNoDynamicAxes()
    {
        var path = TempPath("static");
        Onnx.Export(new Linear(3, 2), Tensor.Randn(2, 3), path, dynamicAxes: new Dictionary<string, int[]>());
        var m = Onnx.Load(path);
        Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Randn(4, 3)));
        Assert.That(m.Forward(Tensor.Randn(2, 3)).Shape, Is.EqualTo(new[] { 2, 2 }));
    }
}
