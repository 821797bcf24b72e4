using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>
/// The composite F.LayerNorm / F.BatchNorm agree with the fused tensor ops (Ops/Normalization.cs) in values, gradients
/// and running-statistics updates, so either can sit behind the nn API.
/// </summary>
[TestFixture]
public class FusedAgreementTests
{
    [Test]
    public void LayerNormMatchesTheFusedOp()
    {
        var x = RandnD(1, 3, 2, 5);
        var w = RandnD(2, 5);
        var b = RandnD(3, 5);
        var composite = F.LayerNorm(x, [5], w, b);
        var fused = x.LayerNorm([5], w, b);
        Assert.That(Values(composite), Is.EqualTo(Values(fused)).Within(1e-12));
        var g = Tensor.Randn([3, 2, 5], DType.Float64, new Generator(4));
        var gc = Autograd.Grad([composite], [x, w, b], [g]);
        var gf = Autograd.Grad([fused], [x, w, b], [g]);
        for (int i = 0; i < 3; i++) Assert.That(Values(gc[i]!), Is.EqualTo(Values(gf[i]!)).Within(1e-10));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void BatchNormMatchesTheFusedOp(bool training)
    {
        var x = RandnD(1, 4, 3, 5);
        var w = RandnD(2, 3);
        var b = RandnD(3, 3);
        Tensor Stats(double v) => Tensor.Full([3], v, DType.Float64);
        var (m1, v1, m2, v2) = (Stats(0.2), Stats(1.5), Stats(0.2), Stats(1.5));
        var composite = F.BatchNorm(x, m1, v1, w, b, training, momentum: 0.3);
        var fused = x.BatchNorm(m2, v2, w, b, training, momentum: 0.3);
        Assert.That(Values(composite), Is.EqualTo(Values(fused)).Within(1e-12));
        Assert.That(Values(m1), Is.EqualTo(Values(m2)).Within(1e-12));
        Assert.That(Values(v1), Is.EqualTo(Values(v2)).Within(1e-12));
        var g = Tensor.Randn([4, 3, 5], DType.Float64, new Generator(4));
        var gc = Autograd.Grad([composite], [x, w, b], [g]);
        var gf = Autograd.Grad([fused], [x, w, b], [g]);
        for (int i = 0; i < 3; i++) Assert.That(Values(gc[i]!), Is.EqualTo(Values(gf[i]!)).Within(1e-10));
    }
}
