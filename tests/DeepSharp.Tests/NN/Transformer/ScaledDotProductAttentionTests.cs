using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>
/// The fused attention kernel against a loop-by-loop reference (values) and against the math path (gradients), across
/// block boundaries, masks and causal attention; its use in MultiheadAttention; bad input.
/// </summary>
[TestFixture]
public class ScaledDotProductAttentionTests
{
    /// <summary>softmax(scale·q·kᵀ + mask)·v for one head, written as plain loops (the oracle).</summary>
    private static double[] Reference(double[] q, double[] k, double[] v, int l, int s, int e, int ev, double scale,
        Func<int, int, double> mask)
    {
        var o = new double[l * ev];
        var p = new double[s];
        for (int i = 0; i < l; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < s; j++)
            {
                double dot = 0;
                for (int c = 0; c < e; c++) dot += q[i * e + c] * k[j * e + c];
                p[j] = dot * scale + mask(i, j);
                max = Math.Max(max, p[j]);
            }
            if (double.IsNegativeInfinity(max)) continue;   // every key masked: zeros
            double sum = 0;
            for (int j = 0; j < s; j++) sum += p[j] = Math.Exp(p[j] - max);
            for (int j = 0; j < s; j++)
                for (int c = 0; c < ev; c++) o[i * ev + c] += p[j] / sum * v[j * ev + c];
        }
        return o;
    }

    private static Tensor Randn(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(shape.Aggregate(17, (a, b) => a * 31 + b)));

    [TestCase(1, 1, 1, 3, false)]
    [TestCase(2, 3, 5, 4, false)]
    [TestCase(1, 2, 64, 8, true)]
    [TestCase(2, 1, 65, 16, true)]
    [TestCase(1, 2, 130, 8, false)]
    [TestCase(1, 1, 200, 4, true)]
    public void FusedEqualsTheLoopReference(int n, int h, int l, int e, bool causal)
    {
        int s = causal ? l : l / 2 + 3, ev = e + 1;
        var q = Randn(n, h, l, e);
        var k = Randn(n, h, s, e);
        var v = Randn(n, h, s, ev);
        var o = F.ScaledDotProductAttention(q, k, v, isCausal: causal);
        Assert.That(o.Shape, Is.EqualTo(new[] { n, h, l, ev }));
        double scale = 1 / Math.Sqrt(e);
        for (int b = 0; b < n; b++)
            for (int hh = 0; hh < h; hh++)
            {
                var expected = Reference(Head(q, b, hh), Head(k, b, hh), Head(v, b, hh), l, s, e, ev, scale,
                    (i, j) => causal && j > i ? double.NegativeInfinity : 0);
                Assert.That(Head(o, b, hh), Is.EqualTo(expected).Within(1e-12), $"batch {b} head {hh}");
            }
    }

    private static double[] Head(Tensor t, int b, int h) => t.Select(0, b).Select(0, h).Contiguous().ToArray<double>();

    [Test]
    public void MasksFollowPyTorch_BoolTrueTakesPart_FloatIsAdded_FullyMaskedRowsGiveZeros()
    {
        int l = 70, s = 67, e = 5;
        var q = Randn(2, l, e);
        var k = Randn(2, s, e);
        var v = Randn(2, s, e);
        var g = new Generator(3);
        var allowed = Tensor.Rand([l, s], DType.Float64, g).Lt(0.7);
        // Row 5 sees no key at all.
        using (Autograd.NoGrad()) allowed.Select(0, 5).Fill_(0);
        var bias = Tensor.Randn([l, s], DType.Float64, g);
        var ob = F.ScaledDotProductAttention(q, k, v, attnMask: allowed);
        var of = F.ScaledDotProductAttention(q, k, v, attnMask: bias, scale: 0.3);
        var a = allowed.ToArray<bool>();
        var bv = bias.ToArray<double>();
        for (int b = 0; b < 2; b++)
        {
            var qb = q.Select(0, b).Contiguous().ToArray<double>();
            var kb = k.Select(0, b).Contiguous().ToArray<double>();
            var vb = v.Select(0, b).Contiguous().ToArray<double>();
            var eb = Reference(qb, kb, vb, l, s, e, e, 1 / Math.Sqrt(e), (i, j) => a[i * s + j] ? 0 : double.NegativeInfinity);
            var ef = Reference(qb, kb, vb, l, s, e, e, 0.3, (i, j) => bv[i * s + j]);
            Assert.That(ob.Select(0, b).Contiguous().ToArray<double>(), Is.EqualTo(eb).Within(1e-12), "Bool mask");
            Assert.That(of.Select(0, b).Contiguous().ToArray<double>(), Is.EqualTo(ef).Within(1e-12), "float mask");
        }
        Assert.That(ob.Select(1, 5).Abs().Sum().Item(), Is.EqualTo(0.0), "a fully masked row is zeros");
    }

    /// <summary>Gradients of the fused backward equal the math path's (autograd through matmul and softmax).</summary>
    [TestCase(1, 2, 5, 3, 3, false, false)]
    [TestCase(2, 1, 64, 64, 8, true, false)]
    [TestCase(1, 2, 130, 130, 4, true, false)]
    [TestCase(1, 1, 97, 40, 6, false, true)]
    [TestCase(2, 2, 66, 129, 5, false, true)]
    public void FusedGradientsEqualTheMathPath(int n, int h, int l, int s, int e, bool causal, bool masked)
    {
        var q0 = Randn(n, h, l, e);
        var k0 = Randn(n, h, s, e);
        var v0 = Randn(n, h, s, e + 2);
        var w = Randn(n, h, l, e + 2);
        Tensor? mask = null;
        if (masked)
        {
            mask = Tensor.Zeros([n, 1, l, s], DType.Float64).MaskedFill(Tensor.Rand([n, 1, l, s], DType.Float64, new Generator(9)).Lt(0.3), double.NegativeInfinity);
            using (Autograd.NoGrad()) mask.Select(2, 1).Fill_(double.NegativeInfinity);   // a fully masked row
        }
        double scale = 1 / Math.Sqrt(e);
        var (fq, fk, fv, fo) = Grads((q, k, v) => Tensor.FusedAttention(q, k, v, mask, causal, scale));
        var (mq, mk, mv, mo) = Grads((q, k, v) => Tensor.AttentionMath(q, k, v, mask, causal, scale));
        Assert.That(fo, Is.EqualTo(mo).Within(1e-12), "output");
        Assert.That(fq, Is.EqualTo(mq).Within(1e-11), "dq");
        Assert.That(fk, Is.EqualTo(mk).Within(1e-11), "dk");
        Assert.That(fv, Is.EqualTo(mv).Within(1e-11), "dv");

        (double[], double[], double[], double[]) Grads(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var q = q0.Clone().RequiresGrad_();
            var k = k0.Clone().RequiresGrad_();
            var v = v0.Clone().RequiresGrad_();
            var o = f(q, k, v);
            (o * w).Sum().Backward();
            return (q.Grad!.ToArray<double>(), k.Grad!.ToArray<double>(), v.Grad!.ToArray<double>(), o.Detach().Contiguous().ToArray<double>());
        }
    }

    [Test]
    public void Float32IsAccurateAgainstFloat64()
    {
        var q = Randn(2, 3, 150, 16);
        var k = Randn(2, 3, 150, 16);
        var v = Randn(2, 3, 150, 16);
        var expected = F.ScaledDotProductAttention(q, k, v, isCausal: true).ToArray<double>();
        var actual = F.ScaledDotProductAttention(q.Float(), k.Float(), v.Float(), isCausal: true).Double().ToArray<double>();
        Assert.That(actual, Is.EqualTo(expected).Within(2e-5));
    }

    [Test]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        int saved = KernelSettings.NumThreads;
        try
        {
            var runs = new List<float[]>();
            foreach (int threads in new[] { 1, 2 })
            {
                KernelSettings.NumThreads = threads;
                var q = Randn(2, 2, 100, 8).Float().RequiresGrad_();
                var k = Randn(2, 2, 100, 8).Float().RequiresGrad_();
                var v = Randn(2, 2, 100, 8).Float().RequiresGrad_();
                var o = F.ScaledDotProductAttention(q, k, v, isCausal: true);
                (o * o).Sum().Backward();
                runs.Add([.. o.Detach().ToArray<float>(), .. q.Grad!.ToArray<float>(), .. k.Grad!.ToArray<float>(), .. v.Grad!.ToArray<float>()]);
            }
            Assert.That(runs[1], Is.EqualTo(runs[0]), "bit-identical with 1 and 2 threads");
        }
        finally { KernelSettings.NumThreads = saved; }
    }

    [Test]
    public void DropoutRunsTheMathPathWithTheGenerator()
    {
        var q = Randn(1, 6, 4);
        var k = Randn(1, 6, 4);
        var v = Randn(1, 6, 4);
        var a = F.ScaledDotProductAttention(q, k, v, dropoutP: 0.5, generator: new Generator(1)).ToArray<double>();
        var b = F.ScaledDotProductAttention(q, k, v, dropoutP: 0.5, generator: new Generator(1)).ToArray<double>();
        var none = F.ScaledDotProductAttention(q, k, v).ToArray<double>();
        Assert.That(b, Is.EqualTo(a), "same seed, same result");
        Assert.That(a, Is.Not.EqualTo(none).Within(1e-9), "dropout changed the result");
        var expected = Tensor.AttentionMath(q.Unsqueeze(0), k.Unsqueeze(0), v.Unsqueeze(0), null, false, 0.5, 0.5, new Generator(1)).ToArray<double>();
        Assert.That(a, Is.EqualTo(expected).Within(1e-12));
    }

    /// <summary>MultiheadAttention without weights (the fused path) equals the path that returns them.</summary>
    [TestCase(false, false, false)]
    [TestCase(true, false, false)]
    [TestCase(false, true, false)]
    [TestCase(true, true, true)]
    [TestCase(false, false, true)]
    public void MultiheadAttentionFusedPathEqualsTheWeightsPath(bool batchFirst, bool causal, bool padding)
    {
        Torch.ManualSeed(5);
        int n = 2, l = 70, e = 12;
        var mha = new MultiheadAttention(e, 3, batchFirst: batchFirst, dtype: DType.Float64, generator: new Generator(4));
        var x0 = batchFirst ? Randn(n, l, e) : Randn(l, n, e);
        Tensor? kpm = null;
        if (padding)
        {
            kpm = Tensor.Zeros([n, l], DType.Bool);
            using (Autograd.NoGrad()) kpm.Select(0, 1).Narrow(0, 60, 10).Fill_(1);
        }
        var attnMask = causal ? null : (Tensor?)Tensor.Randn([l, l], DType.Float64, new Generator(8));
        double[] Run(bool needWeights, out double[] grad)
        {
            var x = x0.Clone().RequiresGrad_();
            mha.ZeroGrad();
            var (o, _) = mha.Forward(x, x, x, keyPaddingMask: kpm, needWeights: needWeights, attnMask: attnMask, isCausal: causal);
            (o * o).Sum().Backward();
            grad = [.. x.Grad!.ToArray<double>(), .. mha.InProjWeight!.Grad!.ToArray<double>()];
            return o.Detach().Contiguous().ToArray<double>();
        }
        var fused = Run(false, out var fusedGrad);
        var math = Run(true, out var mathGrad);
        Assert.That(fused, Is.EqualTo(math).Within(1e-12), "output");
        Assert.That(fusedGrad, Is.EqualTo(mathGrad).Within(1e-10), "gradients");
    }

    [Test]
    public void BadInputNamesTheOpAndShapes()
    {
        var q = Tensor.Randn(2, 3, 4);
        var k = Tensor.Randn(2, 5, 4);
        var v = Tensor.Randn(2, 5, 6);
        Assert.Multiple(() =>
        {
            Expect(() => F.ScaledDotProductAttention(q, k.Narrow(2, 0, 3), v), "[2, 3, 4]", "[2, 5, 3]");
            Expect(() => F.ScaledDotProductAttention(q, k, v.Narrow(1, 0, 4)), "[2, 5, 4]", "[2, 4, 6]");
            Expect(() => F.ScaledDotProductAttention(q, k[0], v), "rank");
            Expect(() => F.ScaledDotProductAttention(q, Tensor.Randn(3, 5, 4), Tensor.Randn(3, 5, 6)), "leading");
            Expect(() => F.ScaledDotProductAttention(q, k, v, attnMask: Tensor.Zeros(3, 5), isCausal: true), "isCausal");
            Expect(() => F.ScaledDotProductAttention(q, k, v, attnMask: Tensor.Zeros(4, 5)), "[4, 5]");
            Expect(() => F.ScaledDotProductAttention(q, k, v, attnMask: Tensor.Zeros([3, 5], DType.Int64)), "Int64");
            Expect(() => F.ScaledDotProductAttention(q, k, v, dropoutP: 1.0), "dropoutP");
            Expect(() => F.ScaledDotProductAttention(q, k.Double(), v), "Float64");
        });

        static void Expect(TestDelegate call, params string[] parts)
        {
            var ex = Assert.Catch<ArgumentException>(call)!;
            Assert.That(ex.Message, Does.Contain("ScaledDotProductAttention"));
            foreach (var p in parts) Assert.That(ex.Message, Does.Contain(p));
        }
    }

    [Test]
    public void FusedActivationsMatchTheirFormulasInFloat32()
    {
        var x = Tensor.Linspace(-6, 6, 1001, DType.Float64);
        var xf = x.Float();
        var erf = x * 0.5 * (1.0 + (x * (1 / Math.Sqrt(2))).Erf());
        var tanh = x * 0.5 * (1.0 + ((x + x.Pow(3) * 0.044715) * Math.Sqrt(2 / Math.PI)).Tanh());
        var silu = x * x.Sigmoid();
        Assert.That(xf.Gelu().Double().ToArray<double>(), Is.EqualTo(erf.ToArray<double>()).Within(2e-6));
        Assert.That(xf.Gelu("tanh").Double().ToArray<double>(), Is.EqualTo(tanh.ToArray<double>()).Within(2e-6));
        Assert.That(xf.Silu().Double().ToArray<double>(), Is.EqualTo(silu.ToArray<double>()).Within(4e-6));
        // Gradients against the composite forms, float32 against float64.
        foreach (var (f, reference) in new (Func<Tensor, Tensor>, Func<Tensor, Tensor>)[]
                 {
                     (t => t.Gelu(), t => t * 0.5 * (1.0 + (t * (1 / Math.Sqrt(2))).Erf())),
                     (t => t.Gelu("tanh"), t => t * 0.5 * (1.0 + ((t + t.Pow(3) * 0.044715) * Math.Sqrt(2 / Math.PI)).Tanh())),
                     (t => t.Silu(), t => t * t.Sigmoid()),
                 })
        {
            var a = xf.Clone().RequiresGrad_();
            f(a).Sum().Backward();
            var b = x.Clone().RequiresGrad_();
            reference(b).Sum().Backward();
            Assert.That(a.Grad!.Double().ToArray<double>(), Is.EqualTo(b.Grad!.ToArray<double>()).Within(5e-6));
        }
    }
}
