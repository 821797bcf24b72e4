using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class LossKernelsTests
{
    /// <summary>PyTorch's per-row formula, written directly in double.</summary>
    private static double[] RefLosses(double[] logits, long[] t, int rows, int classes, long ignore, double[]? w, double eps, out double denom)
    {
        var losses = new double[rows];
        denom = 0;
        for (int i = 0; i < rows; i++)
        {
            if (t[i] == ignore) continue;
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, logits[i * classes + c]);
            double se = 0;
            for (int c = 0; c < classes; c++) se += Math.Exp(logits[i * classes + c] - max);
            double Lp(int c) => logits[i * classes + c] - max - Math.Log(se);
            double wt = w?[t[i]] ?? 1;
            denom += wt;
            double smooth = 0;
            for (int c = 0; c < classes; c++) smooth += (w?[c] ?? 1) * -Lp(c);
            losses[i] = (1 - eps) * wt * -Lp((int)t[i]) + eps / classes * smooth;
        }
        return losses;
    }

    private static double MeanLoss(double[] logits, long[] t, int rows, int classes, long ignore, double[]? w, double eps)
    {
        var l = RefLosses(logits, t, rows, classes, ignore, w, eps, out double d);
        return l.Sum() / d;
    }

    [Test]
    public void HandWorked_NoWeightsNoSmoothing()
    {
        float[] logits = [1, 2, 3, 1, 1, 1];
        long[] t = [2, 0];
        var losses = new float[2]; var lp = new float[6];
        float denom = LossKernels.CrossEntropyForward<float>(logits, t, 2, 3, -100, default, 0f, losses, lp);
        Assert.That(losses[0], Is.EqualTo(0.40760596f).Within(1e-6f));
        Assert.That(losses[1], Is.EqualTo(MathF.Log(3)).Within(1e-6f));
        Assert.That(denom, Is.EqualTo(2f));
    }

    [Test]
    public void Forward_MatchesPyTorchFormula([Values(0.0, 0.1)] double eps, [Values] bool weighted)
    {
        foreach (int classes in new[] { 1, 7, 8, 9, 33, 1000 })
        {
            const int rows = 5;
            double[] logits = FusedTestUtil.Random(rows * classes, -8, 8, classes);
            long[] t = [0, classes - 1, -100, classes / 2, 0];
            double[]? w = weighted ? FusedTestUtil.Random(classes, 0.2, 2, 3) : null;
            var exp = RefLosses(logits, t, rows, classes, -100, w, eps, out double expDenom);

            var ld = new double[rows]; var lpd = new double[rows * classes];
            double dd = LossKernels.CrossEntropyForward<double>(logits, t, rows, classes, -100, w, eps, ld, lpd);
            FusedTestUtil.AssertClose(ld, exp, 1e-12, 1e-12, $"double C={classes}");
            Assert.That(dd, Is.EqualTo(expDenom).Within(1e-12));
            Assert.That(ld[2], Is.EqualTo(0.0));

            float[] lf32 = FusedTestUtil.ToFloat(logits);
            var lf = new float[rows]; var lpf = new float[rows * classes];
            float df = LossKernels.CrossEntropyForward<float>(lf32, t, rows, classes, -100, w is null ? default : FusedTestUtil.ToFloat(w), (float)eps, lf, lpf);
            var expF = RefLosses(FusedTestUtil.ToDouble(lf32), t, rows, classes, -100, w is null ? null : FusedTestUtil.ToDouble(FusedTestUtil.ToFloat(w)), (float)eps, out _);
            FusedTestUtil.AssertClose(lf, expF, 1e-5, 1e-5, $"float C={classes}");
            Assert.That(df, Is.EqualTo(expDenom).Within(1e-5));
        }
    }

    [Test]
    public void MeanReduction_DividesBySumOfTargetWeights()
    {
        // Two rows, targets 0 and 1, weights [2, 0.5, 1], smoothing 0.2: mean = (loss_0 + loss_1) / (2 + 0.5).
        double[] logits = [0.5, -1, 2, 1, 0, -2];
        long[] t = [0, 1];
        double[] w = [2, 0.5, 1];
        var l = new double[2]; var lp = new double[6];
        double denom = LossKernels.CrossEntropyForward<double>(logits, t, 2, 3, -100, w, 0.2, l, lp);
        Assert.That(denom, Is.EqualTo(2.5));
        Assert.That((l[0] + l[1]) / denom, Is.EqualTo(MeanLoss(logits, t, 2, 3, -100, w, 0.2)).Within(1e-14));
        // Hand check of row 0: (1−ε)·w0·(−lp0) + ε/3·Σ w_c·(−lp_c).
        double expected0 = 0.8 * 2 * -lp[0] + 0.2 / 3 * (2 * -lp[0] + 0.5 * -lp[1] + 1 * -lp[2]);
        Assert.That(l[0], Is.EqualTo(expected0).Within(1e-14));
    }

    [Test]
    public void AllIgnored_GivesZeroDenominator()
    {
        var l = new float[2]; var lp = new float[4];
        float d = LossKernels.CrossEntropyForward<float>([1f, 2f, 3f, 4f], [7, 7], 2, 2, 7, default, 0.1f, l, lp);
        Assert.That(d, Is.EqualTo(0f));
        Assert.That(l, Is.All.EqualTo(0f));
        Assert.That(float.IsNaN(l.Sum() / d), Is.True, "mean of nothing is NaN, as PyTorch");
    }

    [Test]
    public void Backward_MatchesFiniteDifferencesOfMeanLoss([Values(0.0, 0.15)] double eps, [Values] bool weighted)
    {
        const int rows = 4, classes = 9;
        double[] logits = FusedTestUtil.Random(rows * classes, -3, 3, 31);
        long[] t = [3, -100, 8, 0];
        double[]? w = weighted ? FusedTestUtil.Random(classes, 0.2, 2, 32) : null;
        var l = new double[rows]; var lp = new double[rows * classes];
        double denom = LossKernels.CrossEntropyForward<double>(logits, t, rows, classes, -100, w, eps, l, lp);
        var g = Enumerable.Repeat(1.0 / denom, rows).ToArray();
        var dl = new double[rows * classes];
        LossKernels.CrossEntropyBackward<double>(lp, t, g, rows, classes, -100, w, eps, dl);
        FusedTestUtil.AssertGrad(dl, FusedTestUtil.NumericGrad(v => MeanLoss(v, t, rows, classes, -100, w, eps), logits), "dlogits (mean)");
        Assert.That(dl.AsSpan(classes, classes).ToArray(), Is.All.EqualTo(0.0), "ignored row");

        // Per-row upstream gradients ('none' reduction), float vs double, dlogits aliasing logProbs.
        double[] gr = [0.3, -1, 2, 0.7];
        LossKernels.CrossEntropyBackward<double>(lp, t, gr, rows, classes, -100, w, eps, dl);
        FusedTestUtil.AssertGrad(dl, FusedTestUtil.NumericGrad(v => FusedTestUtil.Dot(RefLosses(v, t, rows, classes, -100, w, eps, out _), gr), logits), "dlogits (none)");
        float[] lpf = FusedTestUtil.ToFloat(lp);
        LossKernels.CrossEntropyBackward<float>(lpf, t, FusedTestUtil.ToFloat(gr), rows, classes, -100, w is null ? default : FusedTestUtil.ToFloat(w), (float)eps, lpf);
        FusedTestUtil.AssertClose(lpf, dl, 1e-5, 1e-4, "float, in place");
    }

    [Test]
    public void TargetOutOfRange_ThrowsNamingOpRowAndTarget()
    {
        var l = new float[3]; var lp = new float[9];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LossKernels.CrossEntropyForward<float>(new float[9], [0, 5, 1], 3, 3, -100, default, 0f, l, lp));
        Assert.That(ex!.Message, Does.Contain("CrossEntropy").And.Contain("row 1").And.Contain("target 5"));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LossKernels.CrossEntropyBackward<float>(lp, [0, 1, -1], new float[3], 3, 3, -100, default, 0f, new float[9]));
        Assert.That(ex!.Message, Does.Contain("CrossEntropy").And.Contain("row 2").And.Contain("target -1"));
        Assert.DoesNotThrow(() => LossKernels.CrossEntropyForward<float>(new float[9], [0, -100, 2], 3, 3, -100, default, 0f, l, lp));
    }
}
