using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests;

/// <summary>Float64 gradient checks of Conv2d and the pooling ops over random geometries.</summary>
[TestFixture]
public class ConvolutionGradTests
{
    private static Tensor R(Generator g, params int[] shape) => Tensor.Randn(shape, DType.Float64, g).RequiresGrad_();

    [FsCheck.NUnit.Property(MaxTest = 25)]
    public void Conv2dGradients(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int n = 1 + (int)g.NextInt64(0, 2), groups = 1 + (int)g.NextInt64(0, 2);
        int cin = groups * (1 + (int)g.NextInt64(0, 2)), cout = groups * (1 + (int)g.NextInt64(0, 2));
        int k = 1 + (int)g.NextInt64(0, 3), stride = 1 + (int)g.NextInt64(0, 2), pad = (int)g.NextInt64(0, 2), dil = 1 + (int)g.NextInt64(0, 2);
        int h = dil * (k - 1) + 1 + (int)g.NextInt64(0, 3), w = dil * (k - 1) + 1 + (int)g.NextInt64(0, 3);
        var x = R(g, n, cin, h, w);
        var weight = R(g, cout, cin / groups, k, k);
        var bias = R(g, cout);
        GradCheck.Check(xs => xs[0].Conv2d(xs[1], xs[2], stride, pad, dil, groups), [x, weight, bias]);
    }

    /// <summary>3×3 stride-1 convs with ≥ 8 channels on both sides take the Winograd F(2×2, 3×3) kernels: gradcheck
    /// them with every padding 0–2, odd and even sizes, and the "same" padding of the residual blocks.</summary>
    [FsCheck.NUnit.Property(MaxTest = 6)]
    public void Conv2dGradientsOnTheWinogradPath(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int n = 1 + (int)g.NextInt64(0, 2), cin = 8 + (int)g.NextInt64(0, 2), cout = 8 + (int)g.NextInt64(0, 2);
        int pad = (int)g.NextInt64(0, 3), h = 3 + (int)g.NextInt64(0, 3), w = 3 + (int)g.NextInt64(0, 3);
        Assert.That(DeepSharp.Kernels.Conv2dWinograd.Applies(
            new DeepSharp.Kernels.Conv2dGeometry(n, cin, h, w, cout, 3, 3, 1, 1, pad, pad, 1, 1, 1)), Is.True);
        var x = R(g, n, cin, h, w);
        var weight = R(g, cout, cin, 3, 3);
        var bias = R(g, cout);
        GradCheck.Check(xs => xs[0].Conv2d(xs[1], xs[2], 1, pad), [x, weight, bias]);
        GradCheck.Check(xs => xs[0].Conv2d(xs[1], null, "same"), [x, weight]);
    }

    [Test]
    public void Conv2dSamePaddingKeepsTheSizeAndChecksGradients()
    {
        var g = new Generator(3);
        var x = R(g, 1, 2, 5, 4);
        var w = R(g, 3, 2, 2, 3); // even kernel height: PyTorch pads one more row at the bottom
        var y = x.Conv2d(w, null, "same");
        Assert.That(y.Shape, Is.EqualTo(new[] { 1, 3, 5, 4 }));
        GradCheck.Check(xs => xs[0].Conv2d(xs[1], null, "same"), [x, w]);
    }

    [Test]
    public void Conv2dByHand()
    {
        // 3×3 input 1..9 with a 2×2 kernel of ones: each output is the sum of a 2×2 window.
        var x = Tensor.FromArray(Enumerable.Range(1, 9).Select(v => (float)v).ToArray(), 1, 1, 3, 3);
        var w = Tensor.Ones(1, 1, 2, 2);
        Assert.That(x.Conv2d(w).ToArray<float>(), Is.EqualTo(new float[] { 12, 16, 24, 28 }));
    }

    [FsCheck.NUnit.Property(MaxTest = 20)]
    public void PoolingGradients(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int k = 1 + (int)g.NextInt64(0, 3), stride = 1 + (int)g.NextInt64(0, 2), pad = (int)g.NextInt64(0, k / 2 + 1);
        int h = k + (int)g.NextInt64(0, 4), w = k + (int)g.NextInt64(0, 4);
        // Distinct values, so max pooling has no ties (the gradient is undefined at a tie).
        var perm = Tensor.RandPerm(2 * 3 * h * w, g).To(DType.Float64) * 0.1;
        var x = perm.Reshape(2, 3, h, w).Detach().RequiresGrad_();
        bool includePad = g.NextDouble() < 0.5;
        int oh = 1 + (int)g.NextInt64(0, h), ow = 1 + (int)g.NextInt64(0, w);
        GradCheck.Check(t => t.MaxPool2d(k, stride, pad), x);
        GradCheck.Check(t => t.AvgPool2d(k, stride, pad, countIncludePad: includePad), x);
        GradCheck.Check(t => t.AdaptiveAvgPool2d(oh, ow), x);
    }

    [Test]
    public void PoolingByHand()
    {
        var x = Tensor.FromArray(Enumerable.Range(1, 16).Select(v => (float)v).ToArray(), 1, 1, 4, 4);
        Assert.That(x.MaxPool2d(2).ToArray<float>(), Is.EqualTo(new float[] { 6, 8, 14, 16 }));
        Assert.That(x.AvgPool2d(2).ToArray<float>(), Is.EqualTo(new float[] { 3.5f, 5.5f, 11.5f, 13.5f }));
        Assert.That(x.AdaptiveAvgPool2d(1, 1).Item(), Is.EqualTo(8.5).Within(1e-6));
    }

    [Test]
    public void BadConvolutionInputsNameTheOpAndShapes()
    {
        var x = Tensor.Zeros(1, 3, 5, 5);
        var ex = Assert.Throws<ArgumentException>(() => x.Conv2d(Tensor.Zeros(4, 2, 3, 3)));
        Assert.That(ex!.Message, Does.Contain("Conv2d").And.Contain("[1, 3, 5, 5]").And.Contain("[4, 2, 3, 3]"));
        Assert.Throws<ArgumentException>(() => x.Conv2d(Tensor.Zeros(4, 3, 7, 7)));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(5, 5).MaxPool2d(2));
        Assert.Throws<ArgumentException>(() => x.Conv2d(Tensor.Zeros(4, 3, 3, 3).Double()));
    }
}
