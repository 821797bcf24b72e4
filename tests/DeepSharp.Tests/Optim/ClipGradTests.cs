using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

[TestFixture]
public class ClipGradTests
{
    private static Tensor[] Params()
    {
        var a = Tensor.Zeros([2]).RequiresGrad_();
        var b = Tensor.Zeros([1, 1], DType.Float64).RequiresGrad_();
        var c = Tensor.Zeros([3]).RequiresGrad_(); // no gradient: skipped
        a.Grad = Tensor.FromArray(new float[] { 3, 4 });
        b.Grad = Tensor.FromArray(new double[,] { { -12 } });
        return [a, b, c];
    }

    [Test]
    public void L2NormIsOfAllGradientsTogetherAndScales()
    {
        var ps = Params();
        double total = ClipGrad.ClipGradNorm(ps, maxNorm: 6.5);
        Assert.That(total, Is.EqualTo(13.0).Within(1e-12)); // √(9 + 16 + 144)
        double coef = 6.5 / (13 + 1e-6);
        Assert.That(ps[0].Grad!.ToArray<float>(), Is.EqualTo(new[] { (float)(3 * coef), (float)(4 * coef) }).Within(1e-6));
        Assert.That(ps[1].Grad!.Item(), Is.EqualTo(-12 * coef).Within(1e-12));
        Assert.That(ps[2].Grad, Is.Null);
    }

    [Test]
    public void BelowTheLimitNothingChanges()
    {
        var ps = Params();
        Assert.That(ClipGrad.ClipGradNorm(ps, maxNorm: 13.5), Is.EqualTo(13.0).Within(1e-12));
        Assert.That(ps[0].Grad!.ToArray<float>(), Is.EqualTo(new[] { 3f, 4f }));
        Assert.That(ps[1].Grad!.Item(), Is.EqualTo(-12.0));
    }

    [Test]
    public void InfinityAndOneNorms()
    {
        var ps = Params();
        Assert.That(ClipGrad.ClipGradNorm(ps, 6, double.PositiveInfinity), Is.EqualTo(12.0));
        Assert.That(ps[1].Grad!.Item(), Is.EqualTo(-12 * 6 / (12 + 1e-6)).Within(1e-12));
        ps = Params();
        Assert.That(ClipGrad.ClipGradNorm(ps, 100, normType: 1), Is.EqualTo(19.0).Within(1e-12));
        ps = Params();
        Assert.That(ClipGrad.ClipGradNorm(ps, 100, normType: 3), Is.EqualTo(Math.Pow(27 + 64 + 1728, 1.0 / 3)).Within(1e-12));
    }

    [Test]
    public void NonFiniteNormCanThrow()
    {
        var ps = Params();
        ps[0].Grad = Tensor.FromArray(new[] { float.NaN, 1f });
        Assert.Throws<InvalidOperationException>(() => ClipGrad.ClipGradNorm(ps, 1, errorIfNonfinite: true));
        Assert.That(ps[1].Grad!.Item(), Is.EqualTo(-12.0), "left unchanged");
        Assert.That(double.IsNaN(ClipGrad.ClipGradNorm(ps, 1)), Is.True);
    }

    [Test]
    public void ClipGradValueClamps()
    {
        var ps = Params();
        ClipGrad.ClipGradValue(ps, 3.5);
        Assert.That(ps[0].Grad!.ToArray<float>(), Is.EqualTo(new[] { 3f, 3.5f }));
        Assert.That(ps[1].Grad!.Item(), Is.EqualTo(-3.5));
        var nc = Tensor.Zeros([2, 2]).RequiresGrad_();
        nc.Grad = Tensor.FromArray(new float[,] { { 1, -9 }, { 9, 0 } }).T;
        ClipGrad.ClipGradValue([nc], 2);
        Assert.That(nc.Grad.Contiguous().ToArray<float>(), Is.EqualTo(new[] { 1f, 2, -2, 0 }));
    }
}
