namespace DeepSharp.Tests.Ops;

/// <summary>Behaviours found by a differential check against PyTorch 1.13: Std's gradient on equal values,
/// Item&lt;T&gt;() conversions.</summary>
[TestFixture]
public class PyTorchParityTests
{
    [TestCase(DType.Float32)]
    [TestCase(DType.Float64)]
    public void StdOfEqualValuesHasAZeroGradientNotNaN(DType dtype)
    {
        // torch: x = tensor([[2., 2., 2.], [1., 2., 4.]], requires_grad=True); x.std(1).sum().backward()
        // x.grad = [[0, 0, 0], [-0.43643578047198484, -0.10910894511799625, 0.5455447255899809]]
        var x = V.T(dtype, [2, 2, 2, 1, 2, 4], 2, 3).RequiresGrad_();
        x.Std(1).Sum().Backward();
        V.Equal(x.Grad!, [0, 0, 0, -0.43643578047198484, -0.10910894511799625, 0.5455447255899809], [2, 3], dtype == DType.Float32 ? 1e-6 : 1e-12);
        var all = V.T(dtype, [3, 3, 3, 3], 2, 2).RequiresGrad_();
        all.Std().Backward();
        Assert.That(V.Values(all.Grad!), Is.All.EqualTo(0));
    }

    [Test]
    public void StdAtZeroHasFiniteSecondDerivatives()
    {
        var x = Tensor.FromArray(new[] { 1.5, 1.5, 1.5, 0.2, -0.7, 1.1 }, 2, 3).RequiresGrad_();
        var g = Autograd.Grad([x.Std(1).Sum()], [x], createGraph: true)[0]!;
        g.Pow(2).Sum().Backward();
        Assert.That(V.Values(x.Grad!).All(double.IsFinite));
        GradCheck.GradGradCheck(xs => xs[0].Std(1), [Tensor.FromArray(new[] { 0.3, 1.5, -0.4, 0.2, -0.7, 1.1 }, 2, 3).RequiresGrad_()]);
    }

    [Test]
    public void ItemConvertsAsPyTorch()
    {
        Assert.That(Tensor.Scalar(1.5).Item<double>(), Is.EqualTo(1.5));         // a Float32 tensor read as double
        Assert.That(Tensor.Scalar(2.5, DType.Float64).Item<float>(), Is.EqualTo(2.5f));
        Assert.That(Tensor.FromArray(new[] { 7L }).Item<double>(), Is.EqualTo(7.0));
        Assert.That(Tensor.FromArray(new[] { long.MaxValue }).Item<long>(), Is.EqualTo(long.MaxValue));
        Assert.That(Tensor.Scalar(-2.7, DType.Float64).Item<long>(), Is.EqualTo(-2));
        Assert.That(Tensor.FromArray(new[] { true }).Item<long>(), Is.EqualTo(1));
        Assert.That(Tensor.Scalar(0.0).Item<bool>(), Is.False);
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item<double>());
        Assert.That(ex!.Message, Does.StartWith("Item<Double>").And.Contain("[2]"));
    }

    [Test]
    public void LoadStateDictResultPrintsItsKeyLists()
    {
        var r = new DeepSharp.NN.LoadStateDictResult(["fc.weight", "fc.bias"], []);
        Assert.That(r.ToString(), Is.EqualTo("LoadStateDictResult(MissingKeys=[fc.weight, fc.bias], UnexpectedKeys=[])"));
    }

    [Test]
    public void LinearDtypeMismatchNamesLinear()
    {
        var layer = new DeepSharp.NN.Linear(3, 2);
        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros([4, 3], DType.Float64)));
        Assert.That(ex!.Message, Does.StartWith("Linear:").And.Contain("Float64"));
    }
}
