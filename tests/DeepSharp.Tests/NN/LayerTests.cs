using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>Layer values, initialisation and train/eval behaviour.</summary>
[TestFixture]
public class LayerTests
{
    [Test]
    public void LinearComputesXWTransposePlusBias()
    {
        var lin = new Linear(2, 3, dtype: DType.Float64);
        using (Autograd.NoGrad())
        {
            lin.Weight.Copy_(Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } }));
            lin.Bias!.Copy_(Tensor.FromArray(new[] { 0.5, -0.5, 1 }));
        }
        var y = lin.Forward(Tensor.FromArray(new double[,] { { 1, 1 }, { 2, -1 } }));
        Assert.That(Values(y), Is.EqualTo(new[] { 3.5, 6.5, 12, 0.5, 1.5, 5 }).Within(1e-12));
        Assert.That(lin.Forward(Tensor.Zeros([4, 5, 2], DType.Float64)).Shape, Is.EqualTo(new[] { 4, 5, 3 }));
        var ex = Assert.Throws<ArgumentException>(() => lin.Forward(Tensor.Zeros([4, 3], DType.Float64)));
        Assert.That(ex!.Message, Does.Contain("[4, 3]").And.Contain("[3, 2]"));
    }

    [Test]
    public void LinearDefaultInitialisationBounds()
    {
        var lin = new Linear(784, 256, generator: new Generator(0));
        double bound = 1 / Math.Sqrt(784);
        var w = lin.Weight.Double().ToArray<double>();
        var b = lin.Bias!.Double().ToArray<double>();
        Assert.That(w.Max(Math.Abs), Is.LessThanOrEqualTo(bound));
        Assert.That(w.Max(Math.Abs), Is.GreaterThan(0.99 * bound));
        Assert.That(w.Average(), Is.EqualTo(0).Within(0.01 * bound));
        // U(−a, a) has standard deviation a/√3.
        double std = Math.Sqrt(w.Select(v => v * v).Average());
        Assert.That(std, Is.EqualTo(bound / Math.Sqrt(3)).Within(0.01 * bound));
        Assert.That(b.Max(Math.Abs), Is.LessThanOrEqualTo(bound));
        Assert.That(b.Max(Math.Abs), Is.GreaterThan(0.9 * bound));
        Assert.That(lin.Weight.Shape, Is.EqualTo(new[] { 256, 784 }));
        Assert.That(lin.Weight.RequiresGrad && lin.Weight.IsLeaf, Is.True);
    }

    [Test]
    public void SeededConstructionIsReproducible()
    {
        var a = new Linear(5, 4, generator: new Generator(7));
        var b = new Linear(5, 4, generator: new Generator(7));
        var c = new Linear(5, 4, generator: new Generator(8));
        Assert.That(a.Weight.ToArray<float>(), Is.EqualTo(b.Weight.ToArray<float>()));
        Assert.That(a.Bias!.ToArray<float>(), Is.EqualTo(b.Bias!.ToArray<float>()));
        Assert.That(a.Weight.ToArray<float>(), Is.Not.EqualTo(c.Weight.ToArray<float>()));
    }

    [Test]
    public void LayerNormOfOneTwoThree()
    {
        var ln = new LayerNorm(3);
        var y = ln.Forward(Tensor.FromArray(new float[] { 1, 2, 3 }));
        Assert.That(y.ToArray<float>(), Is.EqualTo(new[] { -1.2247f, 0f, 1.2247f }).Within(1e-4));
        Assert.That(ln.Weight!.ToArray<float>(), Is.EqualTo(new[] { 1f, 1f, 1f }));
        Assert.That(ln.Bias!.ToArray<float>(), Is.EqualTo(new[] { 0f, 0f, 0f }));
        // Rows are normalised independently, with the biased variance and eps inside the square root.
        var z = F.LayerNorm(Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 10, 10, 40 } }), [3], eps: 0);
        Assert.That(Values(z), Is.EqualTo(new[] { -Math.Sqrt(1.5), 0, Math.Sqrt(1.5), -Math.Sqrt(0.5), -Math.Sqrt(0.5), Math.Sqrt(2) }).Within(1e-12));
        Assert.Throws<ArgumentException>(() => ln.Forward(Tensor.Zeros(2, 4)));
    }

    [Test]
    public void BatchNormRunningStatisticsAfterOneStep()
    {
        var bn = new BatchNorm1d(2, dtype: DType.Float64);
        var x = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 9 } });
        var y = bn.Forward(x);
        // Channel 0: [1, 3, 5] mean 3, unbiased var 4; channel 1: [2, 4, 9] mean 5, unbiased var 13.
        Assert.That(Values(bn.RunningMean!), Is.EqualTo(new[] { 0.3, 0.5 }).Within(1e-12));
        Assert.That(Values(bn.RunningVar!), Is.EqualTo(new[] { 0.9 + 0.4, 0.9 + 1.3 }).Within(1e-12));
        Assert.That(bn.NumBatchesTracked!.DType, Is.EqualTo(DType.Int64));
        Assert.That(bn.NumBatchesTracked.Item<long>(), Is.EqualTo(1));
        // Training output uses the batch mean and the biased variance.
        double s0 = Math.Sqrt(8.0 / 3 + 1e-5), s1 = Math.Sqrt(26.0 / 3 + 1e-5);
        Assert.That(Values(y), Is.EqualTo(new[] { -2 / s0, -3 / s1, 0, -1 / s1, 2 / s0, 4 / s1 }).Within(1e-12));
        // A second step composes the exponential average.
        bn.Forward(x);
        Assert.That(Values(bn.RunningMean!), Is.EqualTo(new[] { 0.9 * 0.3 + 0.3, 0.9 * 0.5 + 0.5 }).Within(1e-12));
        Assert.That(bn.NumBatchesTracked.Item<long>(), Is.EqualTo(2));
    }

    [Test]
    public void BatchNormEvalUsesRunningStatistics()
    {
        var bn = new BatchNorm1d(2, dtype: DType.Float64);
        var x = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 9 } });
        bn.Forward(x);
        bn.Eval();
        var y = bn.Forward(x);
        Assert.That(bn.NumBatchesTracked!.Item<long>(), Is.EqualTo(1), "eval does not count batches");
        Assert.That(Values(bn.RunningMean!), Is.EqualTo(new[] { 0.3, 0.5 }).Within(1e-12), "eval does not update");
        double s0 = Math.Sqrt(1.3 + 1e-5), s1 = Math.Sqrt(2.2 + 1e-5);
        Assert.That(Values(y), Is.EqualTo(new[] { 0.7 / s0, 1.5 / s1, 2.7 / s0, 3.5 / s1, 4.7 / s0, 8.5 / s1 }).Within(1e-12));
        // Eval works on a single sample (training would refuse it).
        Assert.That(bn.Forward(Tensor.FromArray(new double[,] { { 1, 2 } })).Shape, Is.EqualTo(new[] { 1, 2 }));
        bn.Train();
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.FromArray(new double[,] { { 1, 2 } })));
        Assert.That(ex!.Message, Does.Contain("more than 1 value per channel"));
    }

    [Test]
    public void BatchNormCumulativeAverageWithoutMomentum()
    {
        var bn = new BatchNorm1d(1, momentum: null, dtype: DType.Float64);
        bn.Forward(Tensor.FromArray(new double[,] { { 0 }, { 2 } }));   // mean 1, unbiased var 2
        bn.Forward(Tensor.FromArray(new double[,] { { 4 }, { 10 } }));  // mean 7, unbiased var 18
        Assert.That(bn.RunningMean!.Item(), Is.EqualTo(4).Within(1e-12));
        Assert.That(bn.RunningVar!.Item(), Is.EqualTo(10).Within(1e-12));
        Assert.That(bn.ToString(), Is.EqualTo("BatchNorm1d(1, eps=1e-05, momentum=None, affine=True, track_running_stats=True)"));
    }

    [Test]
    public void BatchNorm2dNormalisesPerChannelOverBatchAndSpace()
    {
        var bn = new BatchNorm2d(3, dtype: DType.Float64);
        var x = Tensor.Randn([4, 3, 5, 6], DType.Float64, new Generator(1)) * 3 + 2;
        var y = bn.Forward(x);
        var mean = y.Mean([0, 2, 3]);
        var variance = y.Var([0, 2, 3], correction: 0);
        Assert.That(Values(mean), Is.EqualTo(new double[3]).Within(1e-10));
        Assert.That(Values(variance), Is.EqualTo(new[] { 1.0, 1, 1 }).Within(1e-4));
        var expectedRunningMean = Values(x.Mean([0, 2, 3]) * 0.1);
        Assert.That(Values(bn.RunningMean!), Is.EqualTo(expectedRunningMean).Within(1e-12));
        var expectedRunningVar = Values(x.Var([0, 2, 3]) * 0.1 + 0.9);
        Assert.That(Values(bn.RunningVar!), Is.EqualTo(expectedRunningVar).Within(1e-12));
        Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros([2, 3, 4], DType.Float64)));
        Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros([2, 4, 2, 2], DType.Float64)));
    }

    [Test]
    public void BatchNorm1dOnSequences()
    {
        var bn = new BatchNorm1d(2, dtype: DType.Float64);
        var x = Tensor.Randn([3, 2, 4], DType.Float64, new Generator(2));
        bn.Forward(x);
        Assert.That(Values(bn.RunningMean!), Is.EqualTo(Values(x.Mean([0, 2]) * 0.1)).Within(1e-12));
    }

    [Test]
    public void DropoutScalesSurvivorsAndIsIdentityInEval()
    {
        var drop = new Dropout(0.25, new Generator(3));
        var x = Tensor.Ones([100, 100]);
        var y = drop.Forward(x).ToArray<float>();
        Assert.That(y.All(v => v == 0f || Math.Abs(v - 1 / 0.75f) < 1e-6), Is.True);
        double kept = y.Count(v => v != 0) / (double)y.Length;
        Assert.That(kept, Is.EqualTo(0.75).Within(0.02));
        drop.Eval();
        Assert.That(drop.Forward(x), Is.SameAs(x));
        Assert.That(new Dropout(0).Forward(x), Is.SameAs(x));
        Assert.That(new Dropout(1).Forward(x).ToArray<float>().All(v => v == 0), Is.True);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5));
    }

    [Test]
    public void DropoutWithSeededGeneratorsIsReproducible()
    {
        var x = Tensor.Ones([50]);
        var a = new Dropout(0.5, new Generator(9)).Forward(x).ToArray<float>();
        var b = new Dropout(0.5, new Generator(9)).Forward(x).ToArray<float>();
        Assert.That(a, Is.EqualTo(b));
    }

    [Test]
    public void DropoutGradientUsesTheSameMask()
    {
        var x = Tensor.Ones([1000], DType.Float64).RequiresGrad_();
        var y = F.Dropout(x, 0.5, generator: new Generator(1));
        y.Sum().Backward();
        Assert.That(Values(x.Grad!), Is.EqualTo(Values(y.Detach())));
    }

    [Test]
    public void EmbeddingLooksUpRowsForAnyIndexShape()
    {
        var emb = new Embedding(4, 3, dtype: DType.Float64, generator: new Generator(1));
        var idx = Tensor.FromArray(new long[,] { { 0, 3 }, { 3, 1 } });
        var y = emb.Forward(idx);
        Assert.That(y.Shape, Is.EqualTo(new[] { 2, 2, 3 }));
        var w = Values(emb.Weight);
        Assert.That(Values(y[1, 0]), Is.EqualTo(w[9..12]));
        Assert.That(emb.Forward(Tensor.Scalar(2, DType.Int64)).Shape, Is.EqualTo(new[] { 3 }));
        // N(0, 1) initialisation.
        var big = Values(new Embedding(1000, 10, generator: new Generator(2)).Weight.Double());
        Assert.That(big.Average(), Is.EqualTo(0).Within(0.05));
        Assert.That(Math.Sqrt(big.Select(v => v * v).Average()), Is.EqualTo(1).Within(0.05));
    }

    [Test]
    public void EmbeddingPaddingRowIsZeroAndGetsNoGradient()
    {
        var emb = new Embedding(4, 2, paddingIdx: 1, dtype: DType.Float64, generator: new Generator(1));
        Assert.That(Values(emb.Weight[1]), Is.EqualTo(new[] { 0.0, 0.0 }));
        var idx = Tensor.FromArray(new long[] { 1, 2, 1, 2, 0 });
        (emb.Forward(idx) * 3).Sum().Backward();
        Assert.That(Values(emb.Weight.Grad!), Is.EqualTo(new double[] { 3, 3, 0, 0, 6, 6, 0, 0 }));
        Assert.That(new Embedding(4, 2, paddingIdx: -1).PaddingIdx, Is.EqualTo(3));
        Assert.That(emb.ToString(), Is.EqualTo("Embedding(4, 2, padding_idx=1)"));
    }

    [Test]
    public void EmbeddingIndexOutOfRangeNamesTheValue()
    {
        var emb = new Embedding(10, 2);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => emb.Forward(Tensor.FromArray(new long[] { 3, 12 })));
        Assert.That(ex!.Message, Does.Contain("Embedding").And.Contain("12").And.Contain("10"));
        Assert.Throws<ArgumentOutOfRangeException>(() => emb.Forward(Tensor.FromArray(new long[] { -1 })));
        Assert.Throws<ArgumentException>(() => emb.Forward(Tensor.Zeros(2)));
    }

    [Test]
    public void ActivationValues()
    {
        var x = Tensor.FromArray(new[] { -2.0, 0.0, 1.5 });
        Assert.That(Values(new ReLU().Forward(x)), Is.EqualTo(new[] { 0, 0, 1.5 }));
        Assert.That(Values(new LeakyReLU(0.1).Forward(x)), Is.EqualTo(new[] { -0.2, 0, 1.5 }).Within(1e-12));
        Assert.That(Values(new Tanh().Forward(x)), Is.EqualTo(new[] { Math.Tanh(-2), 0, Math.Tanh(1.5) }).Within(1e-12));
        Assert.That(Values(new Sigmoid().Forward(x)), Is.EqualTo(new[] { 1 / (1 + Math.Exp(2)), 0.5, 1 / (1 + Math.Exp(-1.5)) }).Within(1e-12));
        Assert.That(Values(new GELU().Forward(x))[2], Is.EqualTo(1.5 * 0.9331927987311419).Within(1e-9));
        Assert.That(Values(new Softplus().Forward(x)), Is.EqualTo(new[] { Math.Log(1 + Math.Exp(-2)), Math.Log(2), Math.Log(1 + Math.Exp(1.5)) }).Within(1e-12));
        Assert.That(Values(F.Softplus(Tensor.FromArray(new[] { 30.0, -800 }))), Is.EqualTo(new[] { 30.0, 0 }).Within(1e-12));
        Assert.That(Values(F.LogSigmoid(Tensor.FromArray(new[] { -800.0, 0 }))), Is.EqualTo(new[] { -800, -Math.Log(2) }).Within(1e-12));
        var s = Values(new Softmax(0).Forward(x));
        Assert.That(s.Sum(), Is.EqualTo(1).Within(1e-12));
        Assert.That(Values(new LogSoftmax(0).Forward(x)), Is.EqualTo(s.Select(v => Math.Log(v)).ToArray()).Within(1e-12));
        Assert.Throws<ArgumentException>(() => new GELU("fast"));
    }

    [Test]
    public void FlattenUnflattenAndIdentity()
    {
        var x = Tensor.Zeros(2, 3, 4, 5);
        Assert.That(new Flatten().Forward(x).Shape, Is.EqualTo(new[] { 2, 60 }));
        Assert.That(new Flatten(0, 1).Forward(x).Shape, Is.EqualTo(new[] { 6, 4, 5 }));
        Assert.That(new Unflatten(1, 3, 20).Forward(new Flatten().Forward(x)).Shape, Is.EqualTo(new[] { 2, 3, 20 }));
        Assert.That(new Identity().Forward(x), Is.SameAs(x));
    }

    [Test]
    public void ResidualAddsItsInput()
    {
        var r = new Residual(new Tanh());
        var x = Tensor.FromArray(new[] { 0.5, -1 });
        Assert.That(Values(r.Forward(x)), Is.EqualTo(new[] { 0.5 + Math.Tanh(0.5), -1 + Math.Tanh(-1) }).Within(1e-12));
        var bad = new Residual(new Linear(2, 3));
        Assert.Throws<ArgumentException>(() => bad.Forward(Tensor.Zeros(1, 2)));
    }
}
