using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>Loss values against numbers worked out by hand from PyTorch's documented formulas.</summary>
[TestFixture]
public class LossTests
{
    // log Σ exp([1, 2, 3]) = 3 + log(1 + e^−1 + e^−2)
    private static readonly double Lse123 = 3 + Math.Log(1 + Math.Exp(-1) + Math.Exp(-2));

    private static Tensor Logits123() => Tensor.FromArray(new double[,] { { 1, 2, 3 } });

    [Test]
    public void CrossEntropyOfASingleRow()
    {
        var loss = F.CrossEntropy(Logits123(), Tensor.FromArray(new long[] { 2 }));
        Assert.That(loss.Item(), Is.EqualTo(0.40760596).Within(1e-8));
        Assert.That(loss.Dim, Is.Zero);
    }

    [Test]
    public void CrossEntropyWithLabelSmoothing()
    {
        // PyTorch: (1 − ε)·nll + ε/C·Σ_c −log p_c = 0.9·0.40760596 + 0.1/3·(2.40760596 + 1.40760596 + 0.40760596).
        // That is 0.50760596, which equals −Σ q log p for q = 0.9·onehot + 0.1/3.
        // (A value of 0.49760596 sometimes quoted for this case is off by exactly 0.01.)
        var loss = F.CrossEntropy(Logits123(), Tensor.FromArray(new long[] { 2 }), labelSmoothing: 0.1);
        double expected = 0.9 * (Lse123 - 3) + 0.1 / 3 * (3 * Lse123 - 6);
        Assert.That(expected, Is.EqualTo(0.50760596).Within(1e-8));
        Assert.That(loss.Item(), Is.EqualTo(expected).Within(1e-10));
        // Same value through probability targets.
        var q = Tensor.FromArray(new double[,] { { 0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3 } });
        Assert.That(F.CrossEntropy(Logits123(), q).Item(), Is.EqualTo(expected).Within(1e-10));
    }

    [Test]
    public void CrossEntropyMeanWithWeightsDividesBySumOfTargetWeights()
    {
        var x = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2, 3 } });
        var t = Tensor.FromArray(new long[] { 2, 0, -100 });
        var w = Tensor.FromArray(new[] { 1.0, 2.0, 3.0 });
        double nll2 = Lse123 - 3, nll0 = Lse123 - 1;
        Assert.That(F.CrossEntropy(x, t, w).Item(), Is.EqualTo((3 * nll2 + 1 * nll0) / 4).Within(1e-12));
        Assert.That(F.CrossEntropy(x, t, w, reduction: "sum").Item(), Is.EqualTo(3 * nll2 + 1 * nll0).Within(1e-12));
        Assert.That(Values(F.CrossEntropy(x, t, w, reduction: "none")), Is.EqualTo(new[] { 3 * nll2, nll0, 0 }).Within(1e-12));
        Assert.That(F.CrossEntropy(x, t).Item(), Is.EqualTo((nll2 + nll0) / 2).Within(1e-12));
    }

    [Test]
    public void CrossEntropyLabelSmoothingWithWeightsFollowsPyTorch()
    {
        // PyTorch (cross_entropy_loss_label_smoothing): (1 − ε)·nll_mean + ε/C · Σ_i Σ_c w_c·(−log p_ic) / Σ_i w[t_i].
        var x = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 0.5, -1, 2 } });
        var t = Tensor.FromArray(new long[] { 0, 2 });
        var w = new[] { 1.0, 2.0, 3.0 };
        double eps = 0.2;
        var logp = x.LogSoftmax(1).ToArray<double>();
        double nll = -(w[0] * logp[0] + w[2] * logp[5]);
        double smooth = 0;
        for (int i = 0; i < 2; i++) for (int c = 0; c < 3; c++) smooth += -w[c] * logp[i * 3 + c];
        double denom = w[0] + w[2];
        double expected = (1 - eps) * nll / denom + eps / 3 * smooth / denom;
        Assert.That(F.CrossEntropy(x, t, Tensor.FromArray(w), labelSmoothing: eps).Item(), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void CrossEntropyWithSpatialDimsMatchesFlattenedRows()
    {
        var x = Tensor.Randn([2, 3, 4], DType.Float64, new Generator(1));
        var t = Tensor.RandInt(0, 3, [2, 4], generator: new Generator(2));
        var rows = x.Permute(0, 2, 1).Reshape(8, 3);
        Assert.That(F.CrossEntropy(x, t).Item(), Is.EqualTo(F.CrossEntropy(rows, t.Reshape(8)).Item()).Within(1e-12));
        Assert.That(F.CrossEntropy(x, t, reduction: "none").Shape, Is.EqualTo(new[] { 2, 4 }));
    }

    [Test]
    public void CrossEntropyOneHotProbabilitiesEqualIndexTargets()
    {
        var x = Tensor.Randn([4, 5], DType.Float64, new Generator(1));
        var t = Tensor.FromArray(new long[] { 0, 4, 2, 2 });
        var q = F.OneHot(t, 5).Double();
        Assert.That(F.CrossEntropy(x, q).Item(), Is.EqualTo(F.CrossEntropy(x, t).Item()).Within(1e-12));
    }

    [Test]
    public void CrossEntropyGradientIsSoftmaxMinusOneHot()
    {
        var x = D([1, 2, 3], 1, 3);
        F.CrossEntropy(x, Tensor.FromArray(new long[] { 2 })).Backward();
        var p = Values(x.Detach().Softmax(1));
        Assert.That(Values(x.Grad!), Is.EqualTo(new[] { p[0], p[1], p[2] - 1 }).Within(1e-12));
    }

    [Test]
    public void CrossEntropyLossModuleAndFloat32()
    {
        var loss = new CrossEntropyLoss(labelSmoothing: 0.1);
        var value = loss.Forward(Tensor.FromArray(new float[,] { { 1, 2, 3 } }), Tensor.FromArray(new long[] { 2 }));
        Assert.That(value.DType, Is.EqualTo(DType.Float32));
        Assert.That(value.Item(), Is.EqualTo(0.50760596).Within(1e-6));
        Assert.That(loss.ToString(), Is.EqualTo("CrossEntropyLoss()"));
    }

    [Test]
    public void TargetOutOfRangeNamesOpAndValue()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Logits123(), Tensor.FromArray(new long[] { 5 })));
        Assert.That(ex!.Message, Does.Contain("CrossEntropy").And.Contain("target 5").And.Contain("3 classes"));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => F.NllLoss(Logits123(), Tensor.FromArray(new long[] { -1 })));
        Assert.That(ex!.Message, Does.Contain("NllLoss").And.Contain("target -1"));
    }

    [Test]
    public void ShapeMismatchesNameBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros([4, 3], DType.Float64), Tensor.Zeros([5], DType.Int64)));
        Assert.That(ex!.Message, Does.Contain("[4, 3]").And.Contain("[5]"));
        ex = Assert.Throws<ArgumentException>(() => F.MseLoss(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.That(ex!.Message, Does.Contain("MseLoss").And.Contain("[2, 3]").And.Contain("[3, 2]"));
        ex = Assert.Throws<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.That(ex!.Message, Does.Contain("[2, 3]").And.Contain("[2, 4]"));
        Assert.Throws<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros(2, 3), Tensor.Zeros([2], DType.Int64), reduction: "avg"));
    }

    [Test]
    public void AllIgnoredTargetsGiveNaNMeanAsPyTorch()
    {
        var loss = F.CrossEntropy(Logits123(), Tensor.FromArray(new long[] { -100 }));
        Assert.That(double.IsNaN(loss.Item()), Is.True);
        Assert.That(F.CrossEntropy(Logits123(), Tensor.FromArray(new long[] { 7 }), ignoreIndex: 7, reduction: "sum").Item(), Is.Zero);
    }

    [Test]
    public void NllLossPicksWeightedNegativeLogProbabilities()
    {
        var logp = Tensor.FromArray(new double[,] { { -1, -2 }, { -3, -4 } });
        var t = Tensor.FromArray(new long[] { 1, 0 });
        Assert.That(F.NllLoss(logp, t).Item(), Is.EqualTo(2.5).Within(1e-12));
        Assert.That(F.NllLoss(logp, t, Tensor.FromArray(new[] { 1.0, 3.0 })).Item(), Is.EqualTo((3 * 2 + 1 * 3) / 4.0).Within(1e-12));
    }

    [Test]
    public void RegressionLossValues()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0, 4.0 });
        var y = Tensor.FromArray(new[] { 1.5, 0.0, 4.0 });
        Assert.That(F.MseLoss(x, y).Item(), Is.EqualTo((0.25 + 4) / 3).Within(1e-12));
        Assert.That(F.MseLoss(x, y, "sum").Item(), Is.EqualTo(4.25).Within(1e-12));
        Assert.That(F.L1Loss(x, y).Item(), Is.EqualTo(2.5 / 3).Within(1e-12));
        Assert.That(Values(F.L1Loss(x, y, "none")), Is.EqualTo(new[] { 0.5, 2, 0 }).Within(1e-12));
        Assert.That(Values(F.SmoothL1Loss(x, y, "none")), Is.EqualTo(new[] { 0.125, 1.5, 0 }).Within(1e-12));
    }

    [Test]
    public void BinaryCrossEntropyWithLogitsIsStable()
    {
        var x = Tensor.FromArray(new[] { 0.0, 100.0, -100.0, 2.0 });
        var t = Tensor.FromArray(new[] { 1.0, 0.0, 1.0, 0.25 });
        var l = Values(F.BinaryCrossEntropyWithLogits(x, t, reduction: "none"));
        double s2 = 1 / (1 + Math.Exp(-2));
        Assert.That(l, Is.EqualTo(new[] { Math.Log(2), 100, 100, -(0.25 * Math.Log(s2) + 0.75 * Math.Log(1 - s2)) }).Within(1e-10));
        // Float32 as well: no overflow to infinity.
        Assert.That(F.BinaryCrossEntropyWithLogits(x.Float(), t.Float(), reduction: "sum").Item(), Is.EqualTo(l.Sum()).Within(1e-3));
    }

    [Test]
    public void BinaryCrossEntropyWithLogitsPosWeightAndWeight()
    {
        var x = Tensor.FromArray(new double[,] { { 0.5, -1 } });
        var t = Tensor.FromArray(new double[,] { { 1, 0.5 } });
        var pw = Tensor.FromArray(new[] { 3.0, 2.0 });
        var w = Tensor.FromArray(new[] { 0.5, 2.0 });
        double Sig(double v) => 1 / (1 + Math.Exp(-v));
        // ℓ = −w·[pw·t·log σ(x) + (1 − t)·log(1 − σ(x))]
        double l0 = -0.5 * (3 * 1 * Math.Log(Sig(0.5)));
        double l1 = -2 * (2 * 0.5 * Math.Log(Sig(-1)) + 0.5 * Math.Log(1 - Sig(-1)));
        Assert.That(F.BinaryCrossEntropyWithLogits(x, t, w, "sum", pw).Item(), Is.EqualTo(l0 + l1).Within(1e-12));
        Assert.That(new BCEWithLogitsLoss(w, posWeight: pw).Forward(x, t).Item(), Is.EqualTo((l0 + l1) / 2).Within(1e-12));
    }

    [Test]
    public void BinaryCrossEntropyWithLogitsGradientAtZeroLogit()
    {
        var x = D([0.0, 0.0], 2);
        F.BinaryCrossEntropyWithLogits(x, Tensor.FromArray(new[] { 1.0, 0.0 }), reduction: "sum").Backward();
        Assert.That(Values(x.Grad!), Is.EqualTo(new[] { -0.5, 0.5 }).Within(1e-12)); // σ(0) − t
    }

    [Test]
    public void BinaryCrossEntropyOnProbabilitiesClampsLogs()
    {
        var p = Tensor.FromArray(new[] { 0.0, 0.5 });
        var t = Tensor.FromArray(new[] { 1.0, 1.0 });
        Assert.That(Values(F.BinaryCrossEntropy(p, t, reduction: "none")), Is.EqualTo(new[] { 100, Math.Log(2) }).Within(1e-12));
    }

    [Test]
    public void OneHotEncodes()
    {
        var oh = F.OneHot(Tensor.FromArray(new long[,] { { 0, 2 }, { 1, 1 } }));
        Assert.That(oh.Shape, Is.EqualTo(new[] { 2, 2, 3 }));
        Assert.That(oh.ToArray<long>(), Is.EqualTo(new long[] { 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0 }));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => F.OneHot(Tensor.FromArray(new long[] { 4 }), 3));
        Assert.That(ex!.Message, Does.Contain("4"));
        Assert.That(() => F.OneHot(Tensor.FromArray(new long[] { 1, -2 }), 3), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("-2"));
        Assert.That(() => F.OneHot(Tensor.FromArray(new long[] { 1, 1L << 40 })), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains((1L << 40).ToString()));
        Assert.That(() => F.OneHot(Tensor.FromArray(new long[] { 1, 2, 0 }), int.MaxValue), Throws.ArgumentException.With.Message.Contains("[3, 2147483647]"));
        Assert.That(() => F.OneHot(Tensor.FromArray(Array.Empty<long>())), Throws.ArgumentException.With.Message.Contains("empty"));
        Assert.That(F.OneHot(Tensor.FromArray(Array.Empty<long>()), 4).Shape, Is.EqualTo(new[] { 0, 4 }));
    }
}
