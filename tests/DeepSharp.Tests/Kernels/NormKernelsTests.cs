using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class NormKernelsTests
{
    private static double[] RefLayerNorm(double[] x, int rows, int n, double[]? g, double[]? b, double eps, out double[] mean, out double[] rstd)
    {
        var y = new double[x.Length];
        mean = new double[rows]; rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double m = 0; for (int j = 0; j < n; j++) m += x[r * n + j]; m /= n;
            double v = 0; for (int j = 0; j < n; j++) v += (x[r * n + j] - m) * (x[r * n + j] - m); v /= n;
            double rs = 1 / Math.Sqrt(v + eps);
            mean[r] = m; rstd[r] = rs;
            for (int j = 0; j < n; j++) y[r * n + j] = (x[r * n + j] - m) * rs * (g?[j] ?? 1) + (b?[j] ?? 0);
        }
        return y;
    }

    private static double[] RefBatchNormTrain(double[] x, int n, int c, int s, double[]? g, double[]? b, double eps)
    {
        var y = new double[x.Length];
        for (int ch = 0; ch < c; ch++)
        {
            double m = 0, v = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < s; k++) m += x[(i * c + ch) * s + k];
            m /= n * s;
            for (int i = 0; i < n; i++) for (int k = 0; k < s; k++) { double d = x[(i * c + ch) * s + k] - m; v += d * d; }
            v /= n * s;
            double inv = 1 / Math.Sqrt(v + eps);
            for (int i = 0; i < n; i++) for (int k = 0; k < s; k++)
                y[(i * c + ch) * s + k] = (x[(i * c + ch) * s + k] - m) * inv * (g?[ch] ?? 1) + (b?[ch] ?? 0);
        }
        return y;
    }

    [Test]
    public void LayerNorm_HandWorked()
    {
        float[] x = [1, 2, 3];
        var y = new float[3]; var mean = new float[1]; var rstd = new float[1];
        NormKernels.LayerNormForward<float>(x, default, default, 1e-5f, y, mean, rstd);
        Assert.That(y, Is.EqualTo(new[] { -1.2247357f, 0f, 1.2247357f }).Within(1e-6f));
        Assert.That(mean[0], Is.EqualTo(2f));
        Assert.That(rstd[0], Is.EqualTo(1 / MathF.Sqrt(2f / 3 + 1e-5f)).Within(1e-6f));
    }

    [Test]
    public void LayerNormForward_MatchesReference_AllLengths([Values] bool affine)
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            if (n == 0) continue;
            const int rows = 4;
            double[] xd = FusedTestUtil.Random(rows * n, -3, 5, n);
            for (int j = 0; j < n; j++) xd[n + j] = 100 + xd[n + j] * 0.1; // large mean, small spread
            for (int j = 0; j < n; j++) xd[2 * n + j] = 7;                   // constant row
            double[]? g = affine ? FusedTestUtil.Random(n, 0.5, 1.5, 1) : null;
            double[]? b = affine ? FusedTestUtil.Random(n, -1, 1, 2) : null;
            var exp = RefLayerNorm(xd, rows, n, g, b, 1e-5, out var em, out var er);

            var yd = new double[rows * n]; var md = new double[rows]; var rd = new double[rows];
            NormKernels.LayerNormForward<double>(xd, g, b, 1e-5, yd, md, rd);
            FusedTestUtil.AssertClose(yd, exp, 1e-12, 1e-10, $"double y n={n}");
            FusedTestUtil.AssertClose(md, em, 0, 1e-14, "double mean");
            FusedTestUtil.AssertClose(rd, er, 0, 1e-10, "double rstd");

            float[] xf = FusedTestUtil.ToFloat(xd);
            exp = RefLayerNorm(FusedTestUtil.ToDouble(xf), rows, n, g, b, 1e-5, out em, out er);
            var yf = new float[rows * n]; var mf = new float[rows]; var rf = new float[rows];
            NormKernels.LayerNormForward<float>(xf, g is null ? default : FusedTestUtil.ToFloat(g), b is null ? default : FusedTestUtil.ToFloat(b),
                1e-5f, yf, mf, rf);
            FusedTestUtil.AssertClose(yf, exp, 2e-4, 1e-4, $"float y n={n}");
            FusedTestUtil.AssertClose(mf, em, 1e-5, 1e-6, "float mean");
        }
    }

    [Test]
    public void LayerNormBackward_MatchesFiniteDifferences([Values] bool affine)
    {
        const int rows = 3, n = 9;
        double eps = 1e-5;
        double[] x = FusedTestUtil.Random(rows * n, -2, 2, 3);
        double[] dy = FusedTestUtil.Random(rows * n, -1, 1, 4);
        double[] g = FusedTestUtil.Random(n, 0.5, 1.5, 5), b = FusedTestUtil.Random(n, -1, 1, 6);
        double[]? gg = affine ? g : null, bb = affine ? b : null;
        double Loss(double[] xv, double[]? gv, double[]? bv) => FusedTestUtil.Dot(RefLayerNorm(xv, rows, n, gv, bv, eps, out _, out _), dy);

        var y = new double[rows * n]; var mean = new double[rows]; var rstd = new double[rows];
        NormKernels.LayerNormForward<double>(x, gg, bb, eps, y, mean, rstd);
        var dx = new double[rows * n]; var dg = new double[n]; var db = new double[n];
        dg.AsSpan().Fill(123); // overwritten, not accumulated
        NormKernels.LayerNormBackward<double>(dy, x, mean, rstd, gg, dx, dg, db);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(v, gg, bb), x), "dx");
        FusedTestUtil.AssertGrad(dg, FusedTestUtil.NumericGrad(v => Loss(x, v, bb ?? new double[n]), (double[])g.Clone()), "dgamma");
        FusedTestUtil.AssertGrad(db, FusedTestUtil.NumericGrad(v => Loss(x, gg ?? Enumerable.Repeat(1.0, n).ToArray(), v), (double[])b.Clone()), "dbeta");

        // Optional outputs may be skipped; dx may alias dy.
        var dx2 = (double[])dy.Clone();
        NormKernels.LayerNormBackward<double>(dx2, x, mean, rstd, gg, dx2, default, default);
        Assert.That(dx2, Is.EqualTo(dx));
    }

    [Test]
    public void LayerNormBackward_FloatMatchesDouble_AllLengths()
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            if (n == 0) continue;
            const int rows = 3;
            float[] x = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -2, 2, 50 + n));
            float[] dy = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -1, 1, 60 + n));
            float[] g = FusedTestUtil.ToFloat(FusedTestUtil.Random(n, 0.5, 1.5, 70 + n));
            var y = new float[rows * n]; var m = new float[rows]; var r = new float[rows];
            NormKernels.LayerNormForward<float>(x, g, default, 1e-5f, y, m, r);
            var dx = new float[rows * n]; var dg = new float[n]; var db = new float[n];
            NormKernels.LayerNormBackward<float>(dy, x, m, r, g, dx, dg, db);

            double[] xd = FusedTestUtil.ToDouble(x), dyd = FusedTestUtil.ToDouble(dy), gd = FusedTestUtil.ToDouble(g);
            var yd = new double[rows * n]; var md = new double[rows]; var rd = new double[rows];
            NormKernels.LayerNormForward<double>(xd, gd, default, 1e-5, yd, md, rd);
            var dxd = new double[rows * n]; var dgd = new double[n]; var dbd = new double[n];
            NormKernels.LayerNormBackward<double>(dyd, xd, md, rd, gd, dxd, dgd, dbd);
            FusedTestUtil.AssertClose(dx, dxd, 1e-4, 1e-4, $"dx n={n}");
            FusedTestUtil.AssertClose(dg, dgd, 1e-4, 1e-4, $"dgamma n={n}");
            FusedTestUtil.AssertClose(db, dbd, 1e-5, 1e-5, $"dbeta n={n}");
        }
    }

    [Test]
    public void LayerNorm_LargeInput_ParallelEqualsSerial()
    {
        const int rows = 128, n = 768;
        float[] x = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -2, 2, 8));
        float[] dy = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -1, 1, 9));
        float[] g = FusedTestUtil.ToFloat(FusedTestUtil.Random(n, 0.5, 1.5, 10));
        float[] b = FusedTestUtil.ToFloat(FusedTestUtil.Random(n, -1, 1, 11));
        (float[] y, float[] dx, float[] dg, float[] db) Run(int threads)
        {
            var y = new float[rows * n]; var m = new float[rows]; var r = new float[rows];
            var dx = new float[rows * n]; var dg = new float[n]; var db = new float[n];
            FusedTestUtil.WithThreads(threads, () =>
            {
                NormKernels.LayerNormForward<float>(x, g, b, 1e-5f, y, m, r);
                NormKernels.LayerNormBackward<float>(dy, x, m, r, g, dx, dg, db);
            });
            return (y, dx, dg, db);
        }
        var s = Run(1); var p = Run(2);
        Assert.That(p.y, Is.EqualTo(s.y));
        Assert.That(p.dx, Is.EqualTo(s.dx));
        // dγ/dβ are reduced per chunk, so the summation order differs from the serial run.
        FusedTestUtil.AssertClose(p.dg, FusedTestUtil.ToDouble(s.dg), 1e-4, 1e-5, "dgamma");
        FusedTestUtil.AssertClose(p.db, FusedTestUtil.ToDouble(s.db), 1e-4, 1e-5, "dbeta");
    }

    [TestCase(4, 3, 5)]
    [TestCase(7, 9, 1)]   // BatchNorm1d on [N, C]
    [TestCase(2, 2, 33)]
    public void BatchNormStatsAndForward_MatchReference(int n, int c, int s)
    {
        double[] x = FusedTestUtil.Random(n * c * s, -2, 6, n + c + s);
        double[] g = FusedTestUtil.Random(c, 0.5, 1.5, 1), b = FusedTestUtil.Random(c, -1, 1, 2);
        var mean = new double[c]; var var = new double[c]; var inv = new double[c];
        NormKernels.BatchNormStats<double>(x, n, c, s, mean, var);
        NormKernels.BatchNormInvStd<double>(var, 1e-5, inv);
        var y = new double[x.Length];
        NormKernels.BatchNormForward<double>(x, mean, inv, g, b, y, n, c, s);
        FusedTestUtil.AssertClose(y, RefBatchNormTrain(x, n, c, s, g, b, 1e-5), 1e-12, 1e-10, "double");
        NormKernels.BatchNormForward<double>(x, mean, inv, default, default, y, n, c, s);
        FusedTestUtil.AssertClose(y, RefBatchNormTrain(x, n, c, s, null, null, 1e-5), 1e-12, 1e-10, "double, no affine");

        float[] xf = FusedTestUtil.ToFloat(x);
        var mf = new float[c]; var vf = new float[c]; var invf = new float[c]; var yf = new float[x.Length];
        NormKernels.BatchNormStats<float>(xf, n, c, s, mf, vf);
        NormKernels.BatchNormInvStd<float>(vf, 1e-5f, invf);
        NormKernels.BatchNormForward<float>(xf, mf, invf, FusedTestUtil.ToFloat(g), FusedTestUtil.ToFloat(b), yf, n, c, s);
        FusedTestUtil.AssertClose(yf, RefBatchNormTrain(FusedTestUtil.ToDouble(xf), n, c, s, g, b, 1e-5), 1e-4, 1e-4, "float");
    }

    [TestCase(3, 2, 4, true)]
    [TestCase(5, 3, 1, true)]
    [TestCase(2, 3, 5, false)]
    public void BatchNormBackwardTraining_MatchesFiniteDifferences(int n, int c, int s, bool affine)
    {
        double eps = 1e-5;
        double[] x = FusedTestUtil.Random(n * c * s, -2, 2, 11);
        double[] dy = FusedTestUtil.Random(n * c * s, -1, 1, 12);
        double[] g = FusedTestUtil.Random(c, 0.5, 1.5, 13), b = FusedTestUtil.Random(c, -1, 1, 14);
        double[]? gg = affine ? g : null;
        double Loss(double[] xv, double[]? gv, double[]? bv) => FusedTestUtil.Dot(RefBatchNormTrain(xv, n, c, s, gv, bv, eps), dy);

        var mean = new double[c]; var var = new double[c]; var inv = new double[c];
        NormKernels.BatchNormStats<double>(x, n, c, s, mean, var);
        NormKernels.BatchNormInvStd<double>(var, eps, inv);
        var dx = new double[x.Length]; var dg = new double[c]; var db = new double[c];
        NormKernels.BatchNormBackwardTraining<double>(dy, x, mean, inv, gg, dx, dg, db, n, c, s);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(v, gg, b), x), "dx");
        FusedTestUtil.AssertGrad(dg, FusedTestUtil.NumericGrad(v => Loss(x, v, b), (double[])g.Clone()), "dgamma");
        FusedTestUtil.AssertGrad(db, FusedTestUtil.NumericGrad(v => Loss(x, gg, v), (double[])b.Clone()), "dbeta");

        // float agrees with double; dx may alias dy.
        float[] xf = FusedTestUtil.ToFloat(x), dyf = FusedTestUtil.ToFloat(dy);
        var mf = new float[c]; var vf = new float[c]; var invf = new float[c];
        NormKernels.BatchNormStats<float>(xf, n, c, s, mf, vf);
        NormKernels.BatchNormInvStd<float>(vf, (float)eps, invf);
        NormKernels.BatchNormBackwardTraining<float>(dyf, xf, mf, invf, gg is null ? default : FusedTestUtil.ToFloat(gg), dyf, default, default, n, c, s);
        FusedTestUtil.AssertClose(dyf, dx, 1e-4, 1e-3, "float dx");
    }

    [TestCase(3, 2, 4)]
    [TestCase(6, 5, 1)]
    public void BatchNormBackwardEval_MatchesFiniteDifferences(int n, int c, int s)
    {
        double[] x = FusedTestUtil.Random(n * c * s, -2, 2, 21);
        double[] dy = FusedTestUtil.Random(n * c * s, -1, 1, 22);
        double[] g = FusedTestUtil.Random(c, 0.5, 1.5, 23), b = FusedTestUtil.Random(c, -1, 1, 24);
        double[] rm = FusedTestUtil.Random(c, -0.5, 0.5, 25), rv = FusedTestUtil.Random(c, 0.5, 2, 26);
        var inv = new double[c];
        NormKernels.BatchNormInvStd<double>(rv, 1e-5, inv);
        double Loss(double[] xv, double[] gv, double[] bv)
        {
            var y = new double[xv.Length];
            NormKernels.BatchNormForward<double>(xv, rm, inv, gv, bv, y, n, c, s);
            return FusedTestUtil.Dot(y, dy);
        }
        var dx = new double[x.Length]; var dg = new double[c]; var db = new double[c];
        NormKernels.BatchNormBackwardEval<double>(dy, x, rm, inv, g, dx, dg, db, n, c, s);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(v, g, b), x), "dx");
        FusedTestUtil.AssertGrad(dg, FusedTestUtil.NumericGrad(v => Loss(x, v, b), (double[])g.Clone()), "dgamma");
        FusedTestUtil.AssertGrad(db, FusedTestUtil.NumericGrad(v => Loss(x, g, v), (double[])b.Clone()), "dbeta");
    }

    [Test]
    public void BadShapes_Throw()
    {
        Assert.Throws<ArgumentException>(() => NormKernels.LayerNormForward<float>(new float[7], default, default, 1e-5f, new float[7], new float[2], new float[2]));
        Assert.Throws<ArgumentException>(() => NormKernels.LayerNormForward<float>(new float[8], new float[3], default, 1e-5f, new float[8], new float[2], new float[2]));
        Assert.Throws<ArgumentException>(() => NormKernels.BatchNormStats<float>(new float[10], 2, 2, 3, new float[2], new float[2]));
        Assert.DoesNotThrow(() => NormKernels.LayerNormForward<float>([], default, default, 1e-5f, [], [], []));
    }
}
