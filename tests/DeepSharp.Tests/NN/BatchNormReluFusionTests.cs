using DeepSharp.NN;
using FsCheck;
using FsCheck.Fluent;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>
/// The fused ReLU(BatchNorm(x) [+ residual]) op that <see cref="ResidualBlock"/> uses (Ops/Normalization.cs) gives the
/// bits of the separate BatchNorm, add and ReLU ops — values, running statistics and every gradient — and its own
/// float64 gradients pass gradcheck.
/// </summary>
[TestFixture]
public class BatchNormReluFusionTests
{
    private static Tensor RandF(long seed, params int[] shape) => Tensor.Randn(shape, DType.Float32, new Generator(seed)).RequiresGrad_();

    private static float[] Bits(Tensor t) => t.Contiguous().ToArray<float>();

    // Small shapes take the sequential kernels (and a vector tail: 35 is not a multiple of the vector width); the
    // 8×16×28×28 input is large enough for the kernels to split over threads.
    [Test]
    public void FusedMatchesTheSeparateOpsBitForBit(
        [Values] bool training, [Values] bool withResidual, [Values] bool affine, [Values(0, 1, 2)] int shapeCase)
    {
        int[] shape = shapeCase switch { 0 => [6, 3], 1 => [4, 3, 5, 7], _ => [8, 16, 28, 28] };
        int c = shape[1];
        var x = RandF(1, shape);
        var r = withResidual ? RandF(2, shape) : null;
        var w = affine ? (Tensor.Rand([c], DType.Float32, new Generator(3)) * 2 - 0.5).Detach().RequiresGrad_() : null;
        var b = affine ? RandF(4, c) : null;
        Tensor Stats(double v) => Tensor.Full([c], v, DType.Float32);
        var (m1, v1, m2, v2) = (Stats(0.2), Stats(1.5), Stats(0.2), Stats(1.5));

        var z = x.BatchNorm(m1, v1, w, b, training, momentum: 0.3);
        if (r is not null) z = z + r;
        var separate = z.Relu();
        var fused = x.BatchNormRelu(m2, v2, w, b, training, 0.3, 1e-5, r);

        Assert.That(Bits(fused), Is.EqualTo(Bits(separate)));
        Assert.That(Bits(fused).Count(v => v == 0), Is.GreaterThan(0).And.LessThan(fused.NumEl), "the ReLU cuts some values");
        Assert.That(Bits(m2), Is.EqualTo(Bits(m1)));
        Assert.That(Bits(v2), Is.EqualTo(Bits(v1)));

        var g = Tensor.Randn(shape, DType.Float32, new Generator(5));
        Tensor[] wrt = [x, .. new[] { w, b, r }.OfType<Tensor>()];
        var gs = Autograd.Grad([separate], wrt, [g]);
        var gf = Autograd.Grad([fused], wrt, [g]);
        for (int i = 0; i < wrt.Length; i++)
            Assert.That(Bits(gf[i]!), Is.EqualTo(Bits(gs[i]!)), $"gradient {i}");
    }

    [Test]
    public void FusedGradientsForRandomShapes()
    {
        var cases = from n in Gen.Choose(2, 3)
                    from c in Gen.Choose(1, 3)
                    from h in Gen.Choose(1, 3)
                    from w in Gen.Choose(1, 3)
                    from residual in Gen.Elements(true, false)
                    from affine in Gen.Elements(true, false)
                    from seed in Gen.Choose(0, 1000)
                    select (n, c, h, w, residual, affine, seed);
        Prop.ForAll(cases.ToArbitrary(), s =>
        {
            var x = RandnD(s.seed, s.n, s.c, s.h, s.w);
            var inputs = new List<Tensor> { x };
            if (s.affine)
            {
                inputs.Add((Tensor.Rand([s.c], DType.Float64, new Generator(s.seed + 1)) + 0.5).Detach().RequiresGrad_());
                inputs.Add(RandnD(s.seed + 2, s.c));
            }
            if (s.residual) inputs.Add(RandnD(s.seed + 3, s.n, s.c, s.h, s.w));
            Check(xs => xs[0].BatchNormRelu(null, null, s.affine ? xs[1] : null, s.affine ? xs[2] : null,
                true, 0.1, 1e-5, s.residual ? xs[^1] : null), [.. inputs]);
        }).Check(Few);
    }

    [Test]
    public void FusedGradientsInEvalModeAndSecondOrder()
    {
        var x = RandnD(1, 3, 2, 2, 3);
        var w = (Tensor.Rand([2], DType.Float64, new Generator(2)) + 0.5).Detach().RequiresGrad_();
        var b = RandnD(3, 2);
        var r = RandnD(4, 3, 2, 2, 3);
        var rm = Tensor.FromArray(new[] { 0.1, -0.2 }, 2);
        var rv = Tensor.FromArray(new[] { 0.8, 1.3 }, 2);
        Check(xs => xs[0].BatchNormRelu(rm, rv, xs[1], xs[2], false, 0.1, 1e-5, xs[3]), [x, w, b, r]);
        // With a graph of the backward (createGraph), the op differentiates its composite form.
        Assert.That(GradCheck.GradGradCheck(xs =>
        {
            using (Autograd.EnableGrad()) return xs[0].BatchNormRelu(null, null, xs[1], xs[2], true, 0.1, 1e-5, xs[3]);
        }, [x, w, b, r]).Passed, Is.True);
    }

    [Test]
    public void ResidualBlockFusedForwardMatchesTheSeparateModules([Values] bool projection)
    {
        var fused = new ResidualBlock(4, projection ? 6 : 4, stride: projection ? 2 : 1, generator: new Generator(7));
        var separate = new ResidualBlock(4, projection ? 6 : 4, stride: projection ? 2 : 1, generator: new Generator(7));
        var x1 = RandF(8, 3, 4, 9, 9);
        var x2 = x1.Detach().Clone().RequiresGrad_();
        for (int step = 0; step < 2; step++)
        {
            var yf = fused.Forward(x1);
            var ys = separate.ForwardUnfused(x2);
            Assert.That(Bits(yf), Is.EqualTo(Bits(ys)));
            var g = Tensor.Randn(yf.Shape, DType.Float32, new Generator(9 + step));
            var gf = Autograd.Grad([yf], [x1, .. fused.Parameters()], [g]);
            var gs = Autograd.Grad([ys], [x2, .. separate.Parameters()], [g]);
            for (int i = 0; i < gf.Length; i++) Assert.That(Bits(gf[i]!), Is.EqualTo(Bits(gs[i]!)), $"gradient {i}");
        }
        foreach (var (key, value) in fused.StateDict())
            Assert.That(Values(value), Is.EqualTo(Values(separate.StateDict()[key])), key);
        fused.Eval();
        separate.Eval();
        Assert.That(Bits(fused.Forward(x1)), Is.EqualTo(Bits(separate.ForwardUnfused(x2))));
    }

    [Test]
    public void ResidualOfAnotherShapeIsRejectedByName()
    {
        var x = RandF(1, 2, 3, 4, 4);
        var ex = Assert.Throws<ArgumentException>(() => x.BatchNormRelu(null, null, null, null, true, 0.1, 1e-5, RandF(2, 2, 3, 4, 5)));
        Assert.That(ex!.Message, Does.Contain("BatchNorm + residual").And.Contain("[2, 3, 4, 4]").And.Contain("[2, 3, 4, 5]"));
    }
}
