using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests;

/// <summary>Second-order gradient checks of Conv2d and the pools over random geometries (groups, dilation, stride,
/// asymmetric "same" padding, ceil mode, count_include_pad, unbatched inputs), and a gradient penalty by hand.</summary>
[TestFixture]
public class ConvolutionDoubleBackwardTests
{
    private static Tensor R(Generator g, params int[] shape) => Tensor.Randn(shape, DType.Float64, g).RequiresGrad_();

    [FsCheck.NUnit.Property(MaxTest = 10)]
    public void Conv2dSecondOrder(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int n = 1 + (int)g.NextInt64(0, 2), groups = 1 + (int)g.NextInt64(0, 2);
        int cin = groups * (1 + (int)g.NextInt64(0, 2)), cout = groups;
        int k = 1 + (int)g.NextInt64(0, 2), stride = 1 + (int)g.NextInt64(0, 2), pad = (int)g.NextInt64(0, 2), dil = 1 + (int)g.NextInt64(0, 2);
        int h = dil * (k - 1) + 1 + (int)g.NextInt64(0, 2), w = dil * (k - 1) + 1 + (int)g.NextInt64(0, 2);
        var x = R(g, n, cin, h, w);
        var weight = R(g, cout, cin / groups, k, k);
        var bias = R(g, cout);
        GradCheck.GradGradCheck(xs => xs[0].Conv2d(xs[1], xs[2], stride, pad, dil, groups), [x, weight, bias]);
    }

    [Test]
    public void Conv2dSecondOrderWithSamePaddingAndUnbatchedInput()
    {
        var g = new Generator(5);
        var x = R(g, 2, 3, 4);
        var w = R(g, 2, 2, 2, 3); // even kernel height: one more padding row at the bottom
        GradCheck.GradGradCheck(xs => xs[0].Conv2d(xs[1], null, "same"), [x, w]);
    }

    [FsCheck.NUnit.Property(MaxTest = 10)]
    public void PoolingSecondOrder(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int k = 1 + (int)g.NextInt64(0, 3), stride = 1 + (int)g.NextInt64(0, 2), pad = (int)g.NextInt64(0, k / 2 + 1);
        int h = k + (int)g.NextInt64(0, 3), w = k + (int)g.NextInt64(0, 3);
        bool ceil = g.NextDouble() < 0.5, includePad = g.NextDouble() < 0.5;
        // Distinct values, so max pooling has no ties (the gradient is undefined at a tie).
        var perm = Tensor.RandPerm(2 * h * w, g).To(DType.Float64) * 0.1;
        var x = perm.Reshape(1, 2, h, w).Detach().RequiresGrad_();
        int oh = 1 + (int)g.NextInt64(0, h), ow = 1 + (int)g.NextInt64(0, w);
        GradCheck.GradGradCheck(xs => xs[0].MaxPool2d(k, stride, pad, ceilMode: ceil), [x]);
        GradCheck.GradGradCheck(xs => xs[0].AvgPool2d(k, stride, pad, ceil, includePad), [x]);
        GradCheck.GradGradCheck(xs => xs[0].AdaptiveAvgPool2d(oh, ow), [x]);
    }

    [Test]
    public void GradientPenaltyThroughConvAndPoolMatchesPyTorch()
    {
        // torch: x = arange(1, 17.).reshape(1, 1, 4, 4); w = tensor([[[[1., -1.], [2., 0.5]]]]), both requires_grad;
        // y = max_pool2d(conv2d(x, w) ** 2, 2, 1) + avg_pool2d(x, 2); g, = autograd.grad(y.sum(), x, create_graph=True)
        // (g ** 2).sum().backward()
        var x = Tensor.Arange(1.0, 17.0).Reshape(1, 1, 4, 4).Detach().Double().RequiresGrad_();
        var w = Tensor.FromArray(new[] { 1.0, -1.0, 2.0, 0.5 }, 1, 1, 2, 2).RequiresGrad_();
        var y = x.Conv2d(w).Pow(2).MaxPool2d(2, 1) + x.AvgPool2d(2);
        var gx = Autograd.Grad([y.Sum()], [x], createGraph: true)[0]!;
        gx.Pow(2).Sum().Backward();
        Assert.That(gx.GradFn, Is.Not.Null);
        DeepSharp.Tests.Ops.V.Equal(x.Grad!, ExpectedXGrad, [1, 1, 4, 4], 1e-9);
        DeepSharp.Tests.Ops.V.Equal(w.Grad!, ExpectedWGrad, [1, 1, 2, 2], 1e-9);
    }

    private static readonly double[] ExpectedXGrad =
        [0, 0, 0, 0, 0, 1789.5, -545.0, -1244.5, 0, 5168.5, 4068.75, -1652.25, 0, 3179.0, 5343.75, 1137.25];
    private static readonly double[] ExpectedWGrad = [109224.0, 74061.0, 165348.0, 134036.0];
}
