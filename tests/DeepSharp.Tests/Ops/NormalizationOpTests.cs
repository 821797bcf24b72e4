using FsCheck;

namespace DeepSharp.Tests;

/// <summary>The fused LayerNorm/BatchNorm ops: gradient checks, agreement with the composite formula,
/// second derivatives through the composite fallback, and running statistics.</summary>
[TestFixture]
public class NormalizationOpTests
{
    private static Tensor R(Generator g, params int[] shape) => Tensor.Randn(shape, DType.Float64, g).RequiresGrad_();

    [FsCheck.NUnit.Property(MaxTest = 20)]
    public void LayerNormGradientsAndCompositeAgree(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int rows = 1 + (int)g.NextInt64(0, 4), n = 2 + (int)g.NextInt64(0, 5);
        var x = R(g, rows, 2, n);
        var w = R(g, n);
        var b = R(g, n);
        GradCheck.Check(xs => xs[0].LayerNorm([n], xs[1], xs[2]), [x, w, b]);
        var fused = x.LayerNorm([n], w, b);
        var composite = Tensor.LayerNormComposite(x, [2], w, b, 1e-5);
        Assert.That(fused.AllClose(composite, 1e-10, 1e-12), Is.True);
        GradCheck.Check(xs => xs[0].LayerNorm([2, n]), [x]);
    }

    [Test]
    public void LayerNormSecondDerivatives()
    {
        var g = new Generator(5);
        GradCheck.GradGradCheck(xs => xs[0].LayerNorm([4], xs[1], xs[2]), [R(g, 3, 4), R(g, 4), R(g, 4)]);
    }

    [Test]
    public void LayerNormByHand()
    {
        var y = Tensor.FromArray(new float[] { 1, 2, 3 }).LayerNorm([3]);
        Assert.That(y.ToArray<float>(), Is.EqualTo(new[] { -1.2247357f, 0f, 1.2247357f }).Within(1e-5));
    }

    [FsCheck.NUnit.Property(MaxTest = 20)]
    public void BatchNormTrainingGradients(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int n = 2 + (int)g.NextInt64(0, 3), c = 1 + (int)g.NextInt64(0, 3);
        var x = R(g, n, c, 2, 3);
        var w = R(g, c);
        var b = R(g, c);
        GradCheck.Check(xs => xs[0].BatchNorm(null, null, xs[1], xs[2], training: true), [x, w, b]);
        GradCheck.Check(xs => xs[0].BatchNorm(null, null, xs[1], xs[2], training: true), [R(g, n + 1, c), w, b]);
    }

    [Test]
    public void BatchNormEvalUsesRunningStatisticsAndSecondDerivativesWork()
    {
        var g = new Generator(9);
        var rm = Tensor.FromArray(new[] { 0.5, -1.0 });
        var rv = Tensor.FromArray(new[] { 2.0, 0.5 });
        var x = R(g, 3, 2, 2);
        var w = R(g, 2);
        GradCheck.Check(xs => xs[0].BatchNorm(rm, rv, xs[1], null, training: false), [x, w]);
        var y = x.BatchNorm(rm, rv, null, null, training: false);
        double expected = (x.GetFlat(0) - 0.5) / Math.Sqrt(2.0 + 1e-5);
        Assert.That(y.GetFlat(0), Is.EqualTo(expected).Within(1e-12));
        GradCheck.GradGradCheck(xs => xs[0].BatchNorm(null, null, xs[1], null, training: true), [R(g, 4, 2), R(g, 2)]);
    }

    [Test]
    public void BatchNormUpdatesRunningStatisticsWithTheUnbiasedVariance()
    {
        // One channel, batch [1, 2, 3, 4]: mean 2.5, biased var 1.25, unbiased var 5/3.
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 4, 1);
        var rm = Tensor.Zeros(1);
        var rv = Tensor.Ones(1);
        x.BatchNorm(rm, rv, training: true, momentum: 0.1);
        Assert.That(rm.Item(), Is.EqualTo(0.25).Within(1e-6));
        Assert.That(rv.Item(), Is.EqualTo(0.9 + 0.1 * 5.0 / 3.0).Within(1e-6));
    }

    [Test]
    public void BadNormInputsAreNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).LayerNorm([4]));
        Assert.That(ex!.Message, Does.Contain("LayerNorm").And.Contain("[4]").And.Contain("[2, 3]"));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).BatchNorm(Tensor.Zeros(2), Tensor.Ones(2)));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(1, 3).BatchNorm(null, null, training: true));
    }
}
