using DeepSharp.NN;
using FsCheck;
using FsCheck.Fluent;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>Float64 finite-difference checks of every layer and loss, with respect to inputs and parameters.</summary>
[TestFixture]
public class GradCheckTests
{
    // GradGradCheck's numeric pass runs f under NoGrad, but f's graph is still needed for its first derivative.
    private static Func<Tensor[], Tensor> WithGrad(Func<Tensor[], Tensor> f) => xs =>
    {
        using (Autograd.EnableGrad()) return f(xs);
    };

    private static Tensor[] WithParams(Tensor x, Module m) => [x, .. m.Parameters()];

    [Test]
    public void LinearForRandomShapes()
    {
        var shapes = from batch in Gen.Choose(1, 3)
                     from inF in Gen.Choose(1, 4)
                     from outF in Gen.Choose(1, 3)
                     from bias in Gen.Elements(true, false)
                     from seed in Gen.Choose(0, 1000)
                     select (batch, inF, outF, bias, seed);
        Prop.ForAll(shapes.ToArbitrary(), s =>
        {
            var lin = new Linear(s.inF, s.outF, s.bias, DType.Float64, new Generator(s.seed));
            var x = RandnD(s.seed + 1, s.batch, s.inF);
            Check(xs => lin.Forward(xs[0]), WithParams(x, lin));
        }).Check(Few);
    }

    [Test]
    public void LinearWithBatchDims()
    {
        var lin = new Linear(3, 2, dtype: DType.Float64, generator: new Generator(1));
        Check(xs => lin.Forward(xs[0]), WithParams(RandnD(2, 2, 2, 3), lin));
    }

    [Test]
    public void LayerNormForRandomShapes()
    {
        var shapes = from rows in Gen.Choose(1, 3)
                     from features in Gen.Choose(2, 5)
                     from affine in Gen.Elements(true, false)
                     from seed in Gen.Choose(0, 1000)
                     select (rows, features, affine, seed);
        Prop.ForAll(shapes.ToArbitrary(), s =>
        {
            var ln = new LayerNorm(s.features, elementwiseAffine: s.affine, dtype: DType.Float64);
            if (s.affine)
                using (Autograd.NoGrad()) { Init.Normal(ln.Weight!, 1, 0.5, new Generator(s.seed)); Init.Normal(ln.Bias!, 0, 0.5, new Generator(s.seed + 7)); }
            var x = RandnD(s.seed + 1, s.rows, s.features);
            Check(xs => ln.Forward(xs[0]), WithParams(x, ln));
        }).Check(Few);
    }

    [Test]
    public void LayerNormOverTwoTrailingDims()
    {
        var ln = new LayerNorm([2, 3], dtype: DType.Float64);
        using (Autograd.NoGrad()) Init.Normal(ln.Weight!, 1, 0.5, new Generator(3));
        Check(xs => ln.Forward(xs[0]), WithParams(RandnD(4, 2, 2, 3), ln));
    }

    [Test]
    public void BatchNorm1dTrainingForRandomShapes()
    {
        var shapes = from n in Gen.Choose(2, 4)
                     from c in Gen.Choose(1, 3)
                     from l in Gen.Choose(0, 3)
                     from seed in Gen.Choose(0, 1000)
                     select (n, c, l, seed);
        Prop.ForAll(shapes.ToArbitrary(), s =>
        {
            var bn = new BatchNorm1d(s.c, dtype: DType.Float64);
            using (Autograd.NoGrad()) { Init.Normal(bn.Weight!, 1, 0.5, new Generator(s.seed)); Init.Normal(bn.Bias!, 0, 0.5, new Generator(s.seed + 3)); }
            var x = s.l == 0 ? RandnD(s.seed + 1, s.n, s.c) : RandnD(s.seed + 1, s.n, s.c, s.l);
            Check(xs => bn.Forward(xs[0]), WithParams(x, bn));
        }).Check(Few);
    }

    [Test]
    public void BatchNorm2dTrainingAndEval()
    {
        var bn = new BatchNorm2d(2, dtype: DType.Float64);
        using (Autograd.NoGrad()) { Init.Normal(bn.Weight!, 1, 0.5, new Generator(1)); Init.Normal(bn.Bias!, 0, 0.5, new Generator(2)); }
        var x = RandnD(3, 2, 2, 2, 3);
        Check(xs => bn.Forward(xs[0]), WithParams(x, bn));
        bn.Eval();
        Check(xs => bn.Forward(xs[0]), WithParams(x, bn));
    }

    [Test]
    public void BatchNormWithoutAffineOrRunningStats()
    {
        var bn = new BatchNorm1d(3, affine: false, trackRunningStats: false, dtype: DType.Float64);
        bn.Eval(); // without running stats, batch statistics are used in eval mode too
        Check(xs => bn.Forward(xs[0]), RandnD(5, 4, 3));
    }

    [Test]
    public void EmbeddingWithRespectToWeight()
    {
        var emb = new Embedding(5, 3, dtype: DType.Float64, generator: new Generator(1));
        var idx = Tensor.FromArray(new long[] { 0, 4, 4, 2, 1, 0 }, 2, 3);
        Check(xs => emb.Forward(idx), [emb.Weight]);
    }

    [Test]
    public void EmbeddingSecondDerivative()
    {
        var idx = Tensor.FromArray(new long[] { 0, 2, 2, 1 }, 4);
        var w = RandnD(1, 3, 2);
        var c = Tensor.Randn([4, 2], DType.Float64, new Generator(2));
        // The padded lookup enters linearly (its row-1 gradient is dropped by design, so it must not feed back
        // into w's first derivative); the plain lookup enters quadratically.
        Assert.That(GradCheck.GradGradCheck(WithGrad(xs =>
            (F.Embedding(idx, xs[0], paddingIdx: 1) * c).Sum() + (F.Embedding(idx, xs[0]) * F.Embedding(idx, xs[0])).Sum()), [w]).Passed, Is.True);
    }

    [TestCase("relu")]
    [TestCase("leaky_relu")]
    [TestCase("gelu")]
    [TestCase("gelu_tanh")]
    [TestCase("tanh")]
    [TestCase("sigmoid")]
    [TestCase("silu")]
    [TestCase("softplus")]
    [TestCase("logsigmoid")]
    [TestCase("softmax")]
    [TestCase("logsoftmax")]
    [TestCase("identity")]
    [TestCase("flatten")]
    [TestCase("unflatten")]
    public void ParameterFreeLayers(string name)
    {
        Module<Tensor, Tensor> m = name switch
        {
            "relu" => new ReLU(),
            "leaky_relu" => new LeakyReLU(0.2),
            "gelu" => new GELU(),
            "gelu_tanh" => new GELU("tanh"),
            "tanh" => new Tanh(),
            "sigmoid" => new Sigmoid(),
            "silu" => new SiLU(),
            "softplus" => new Softplus(2, 1),
            "logsigmoid" => new LambdaModule(F.LogSigmoid),
            "softmax" => new Softmax(1),
            "logsoftmax" => new LogSoftmax(-1),
            "identity" => new Identity(),
            "flatten" => new Flatten(),
            _ => new Unflatten(1, 2, 2),
        };
        var x = RandnD(11, 3, 4);
        // Clone: a view output aliases the perturbed input (the numeric pass would read it after the restore).
        Check(xs => m.Forward(xs[0]).Clone(), x);
    }

    private sealed class LambdaModule(Func<Tensor, Tensor> f) : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => f(input);
    }

    [Test]
    public void DropoutWithAFixedMask()
    {
        // A freshly seeded generator per call gives the same mask for every evaluation.
        var x = RandnD(1, 4, 5);
        Check(xs => new Dropout(0.3, new Generator(42)).Forward(xs[0]), x);
    }

    [Test]
    public void SequentialAndResidual()
    {
        var g = new Generator(5);
        var model = new Sequential(
            new Linear(3, 4, dtype: DType.Float64, generator: g),
            new Tanh(),
            new Residual(new Sequential(new Linear(4, 4, dtype: DType.Float64, generator: g), new GELU())),
            new LayerNorm(4, dtype: DType.Float64),
            new Linear(4, 2, dtype: DType.Float64, generator: g));
        Check(xs => model.Forward(xs[0]), WithParams(RandnD(6, 2, 3), model));
    }

    // ---------------------------------------------------------------- losses

    [Test]
    public void CrossEntropyForRandomShapesAndOptions()
    {
        var cases = from n in Gen.Choose(1, 3)
                    from c in Gen.Choose(2, 4)
                    from extra in Gen.Choose(0, 2)
                    from reduction in Gen.Elements("none", "mean", "sum")
                    from smoothing in Gen.Elements(0.0, 0.2)
                    from weighted in Gen.Elements(true, false)
                    from seed in Gen.Choose(0, 1000)
                    select (n, c, extra, reduction, smoothing, weighted, seed);
        Prop.ForAll(cases.ToArbitrary(), s =>
        {
            int[] inShape = s.extra == 0 ? [s.n, s.c] : [s.n, s.c, s.extra];
            int[] tShape = s.extra == 0 ? [s.n] : [s.n, s.extra];
            var x = RandnD(s.seed, inShape);
            var t = Labels(s.seed + 1, s.c, tShape);
            // Ignore the first target (when there is more than one) to cover ignoreIndex.
            if (t.NumEl > 1) { var a = t.ToArray<long>(); a[0] = -100; t = Tensor.FromArray(a, tShape); }
            var w = s.weighted ? Tensor.Rand([s.c], DType.Float64, new Generator(s.seed + 2)) + 0.5 : null;
            var loss = new CrossEntropyLoss(w, reduction: s.reduction, labelSmoothing: s.smoothing);
            Check(xs => loss.Forward(xs[0], t), x);
        }).Check(Few);
    }

    [Test]
    public void CrossEntropyWithRespectToClassWeights()
    {
        var x = RandnD(1, 4, 3);
        var w = D([1.0, 2.0, 0.5], 3);
        var t = Tensor.FromArray(new long[] { 0, 2, 1, 2 });
        Check(xs => F.CrossEntropy(xs[0], t, xs[1], labelSmoothing: 0.1), x, w);
    }

    [Test]
    public void CrossEntropyWithProbabilityTargets()
    {
        var x = RandnD(1, 3, 4);
        var q = Tensor.Rand([3, 4], DType.Float64, new Generator(2)).Softmax(1).Detach();
        var w = Tensor.FromArray(new[] { 1.0, 2.0, 0.5, 1.5 });
        Check(xs => F.CrossEntropy(xs[0], q, w, labelSmoothing: 0.1), x);
        Check(xs => F.CrossEntropy(xs[0], xs[1], reduction: "sum"), x, q.Clone().RequiresGrad_());
    }

    [Test]
    public void NllLossAndUnbatchedCrossEntropy()
    {
        var x = RandnD(1, 3, 4);
        var t = Tensor.FromArray(new long[] { 3, 0, 1 });
        Check(xs => new NLLLoss(Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0 })).Forward(xs[0].LogSoftmax(1), t), x);
        Check(xs => F.CrossEntropy(xs[0], Tensor.Scalar(2, DType.Int64)), RandnD(2, 5));
    }

    [TestCase("none")]
    [TestCase("mean")]
    [TestCase("sum")]
    public void RegressionLosses(string reduction)
    {
        var x = RandnD(1, 3, 4);
        var y = RandnD(2, 3, 4);
        Check(xs => new MSELoss(reduction).Forward(xs[0], xs[1]), x, y);
        Check(xs => new L1Loss(reduction).Forward(xs[0], xs[1]), x, y);
        Check(xs => new SmoothL1Loss(reduction, beta: 0.7).Forward(xs[0], xs[1]), x, y);
    }

    [TestCase("none")]
    [TestCase("mean")]
    [TestCase("sum")]
    public void BinaryCrossEntropyLosses(string reduction)
    {
        var x = RandnD(1, 3, 4);
        var t = Tensor.Rand([3, 4], DType.Float64, new Generator(2));
        var w = Tensor.Rand([4], DType.Float64, new Generator(3)) + 0.5;
        var pw = Tensor.Rand([4], DType.Float64, new Generator(4)) * 3;
        Check(xs => new BCEWithLogitsLoss(w, reduction, pw).Forward(xs[0], xs[1]), x, t.Clone().RequiresGrad_());
        Check(xs => new BCEWithLogitsLoss(reduction: reduction).Forward(xs[0], t), x);
        var p = Tensor.Rand([3, 4], DType.Float64, new Generator(5)) * 0.8 + 0.1;
        Check(xs => new BCELoss(w, reduction).Forward(xs[0], xs[1]), p.RequiresGrad_(), t.Clone().RequiresGrad_());
    }

    [Test]
    public void SoftplusSecondDerivative()
    {
        var x = D([-30, -2, -0.5, 0, 0.5, 3, 25], 7);
        Assert.That(GradCheck.GradGradCheck(WithGrad(xs => xs[0].Softplus()), [x]).Passed, Is.True);
        Check(xs => xs[0].Softplus(beta: 2, threshold: 5), x);
    }
}
