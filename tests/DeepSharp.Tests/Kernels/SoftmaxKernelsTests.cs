using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class SoftmaxKernelsTests
{
    private static double[] RefSoftmax(double[] x, int rows, int n, bool log)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < n; j++) max = Math.Max(max, x[r * n + j]);
            double sum = 0;
            for (int j = 0; j < n; j++) sum += Math.Exp(x[r * n + j] - max);
            for (int j = 0; j < n; j++)
                y[r * n + j] = log ? x[r * n + j] - max - Math.Log(sum) : Math.Exp(x[r * n + j] - max) / sum;
        }
        return y;
    }

    [Test]
    public void Softmax_HandWorked()
    {
        float[] x = [1, 2, 3];
        var y = new float[3];
        SoftmaxKernels.Softmax<float>(x, y, 1, 3);
        Assert.That(y, Is.EqualTo(new[] { 0.09003057f, 0.24472847f, 0.66524096f }).Within(1e-7f));
        SoftmaxKernels.LogSoftmax<float>(x, y, 1, 3);
        Assert.That(y, Is.EqualTo(new[] { -2.40760596f, -1.40760596f, -0.40760596f }).Within(1e-6f));
    }

    [Test]
    public void SoftmaxAndLogSoftmax_MatchReference_AllLengths([Values] bool log)
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            const int rows = 3;
            double[] xd = FusedTestUtil.Random(rows * n, -30, 30, 10 + n);
            float[] xf = FusedTestUtil.ToFloat(xd);
            var expF = RefSoftmax(FusedTestUtil.ToDouble(xf), rows, n, log);
            var expD = RefSoftmax(xd, rows, n, log);
            var yf = new float[rows * n];
            var yd = new double[rows * n];
            if (log) { SoftmaxKernels.LogSoftmax<float>(xf, yf, rows, n); SoftmaxKernels.LogSoftmax<double>(xd, yd, rows, n); }
            else { SoftmaxKernels.Softmax<float>(xf, yf, rows, n); SoftmaxKernels.Softmax<double>(xd, yd, rows, n); }
            // exp(x − max) of a float-rounded difference: tiny probabilities are only absolutely accurate.
            FusedTestUtil.AssertClose(yf, expF, log ? 1e-5 : 1e-10, 2e-6, $"float n={n}");
            FusedTestUtil.AssertClose(yd, expD, log ? 1e-14 : 1e-300, 1e-13, $"double n={n}");
            // In place.
            if (log) SoftmaxKernels.LogSoftmax<float>(xf, xf, rows, n); else SoftmaxKernels.Softmax<float>(xf, xf, rows, n);
            Assert.That(xf, Is.EqualTo(yf), $"in place n={n}");
        }
    }

    [Test]
    public void SpecialRows()
    {
        float ninf = float.NegativeInfinity;
        float[] x =
        [
            ninf, ninf, ninf, ninf,       // fully masked: NaN (PyTorch)
            0, ninf, 0, ninf,             // partially masked
            5, 5, 5, 5,                   // all equal
            1e30f, -1e30f, 1e30f, 0,      // huge magnitudes
            float.NaN, 0, 1, 2,           // NaN poisons the row
            float.PositiveInfinity, 0, 1, 2,
        ];
        var y = new float[x.Length];
        SoftmaxKernels.Softmax<float>(x, y, 6, 4);
        Assert.That(y[0..4].All(float.IsNaN), Is.True);
        Assert.That(y[4..8], Is.EqualTo(new[] { 0.5f, 0f, 0.5f, 0f }));
        Assert.That(y[8..12], Is.All.EqualTo(0.25f));
        Assert.That(y[12..16], Is.EqualTo(new[] { 0.5f, 0f, 0.5f, 0f }));
        Assert.That(y[16..20].All(float.IsNaN), Is.True);
        Assert.That(y[20..24].All(float.IsNaN), Is.True);

        SoftmaxKernels.LogSoftmax<float>(x, y, 6, 4);
        Assert.That(y[0..4].All(float.IsNaN), Is.True);
        Assert.That(y[4..8], Is.EqualTo(new[] { -MathF.Log(2), ninf, -MathF.Log(2), ninf }).Within(1e-7f));
        Assert.That(y[8..12], Is.All.EqualTo(-MathF.Log(4)).Within(1e-7f));
        Assert.That(y[12], Is.EqualTo(-MathF.Log(2)).Within(1e-7f));
        Assert.That(y[13], Is.EqualTo(-2e30f).Within(1e24f));

        double[] xd = [double.NegativeInfinity, double.NegativeInfinity, -1e300, 1e300];
        var yd = new double[4];
        SoftmaxKernels.Softmax<double>(xd, yd, 2, 2);
        Assert.That(double.IsNaN(yd[0]) && double.IsNaN(yd[1]), Is.True);
        Assert.That(yd[2..], Is.EqualTo(new[] { 0.0, 1.0 }));
    }

    [Test]
    public void Backward_MatchesFiniteDifferences([Values] bool log)
    {
        const int rows = 3, n = 9;
        double[] x = FusedTestUtil.Random(rows * n, -3, 3, 21);
        double[] dy = FusedTestUtil.Random(rows * n, -1, 1, 22);
        double Loss(double[] v)
        {
            var y = new double[v.Length];
            if (log) SoftmaxKernels.LogSoftmax<double>(v, y, rows, n); else SoftmaxKernels.Softmax<double>(v, y, rows, n);
            return FusedTestUtil.Dot(y, dy);
        }
        var yv = new double[rows * n];
        var dx = new double[rows * n];
        if (log) { SoftmaxKernels.LogSoftmax<double>(x, yv, rows, n); SoftmaxKernels.LogSoftmaxBackward<double>(yv, dy, dx, rows, n); }
        else { SoftmaxKernels.Softmax<double>(x, yv, rows, n); SoftmaxKernels.SoftmaxBackward<double>(yv, dy, dx, rows, n); }
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(Loss, x), log ? "log_softmax" : "softmax");

        // float agrees with double, all lengths, and dx may alias dy.
        foreach (int m in FusedTestUtil.Lengths)
        {
            float[] xf = FusedTestUtil.ToFloat(FusedTestUtil.Random(2 * m, -5, 5, 30 + m));
            float[] dyf = FusedTestUtil.ToFloat(FusedTestUtil.Random(2 * m, -1, 1, 40 + m));
            var yf = new float[2 * m]; var dxf = new float[2 * m];
            var yd = new double[2 * m]; var dxd = new double[2 * m];
            if (log)
            {
                SoftmaxKernels.LogSoftmax<float>(xf, yf, 2, m); SoftmaxKernels.LogSoftmaxBackward<float>(yf, dyf, dxf, 2, m);
                SoftmaxKernels.LogSoftmax<double>(FusedTestUtil.ToDouble(xf), yd, 2, m);
                SoftmaxKernels.LogSoftmaxBackward<double>(yd, FusedTestUtil.ToDouble(dyf), dxd, 2, m);
                SoftmaxKernels.LogSoftmaxBackward<float>(yf, dyf, dyf, 2, m);
            }
            else
            {
                SoftmaxKernels.Softmax<float>(xf, yf, 2, m); SoftmaxKernels.SoftmaxBackward<float>(yf, dyf, dxf, 2, m);
                SoftmaxKernels.Softmax<double>(FusedTestUtil.ToDouble(xf), yd, 2, m);
                SoftmaxKernels.SoftmaxBackward<double>(yd, FusedTestUtil.ToDouble(dyf), dxd, 2, m);
                SoftmaxKernels.SoftmaxBackward<float>(yf, dyf, dyf, 2, m);
            }
            FusedTestUtil.AssertClose(dxf, dxd, 1e-5, 1e-4, $"float backward n={m}");
            Assert.That(dyf, Is.EqualTo(dxf), $"in place n={m}");
        }
    }

    [Test]
    public void LargeInput_ParallelEqualsSerial()
    {
        const int rows = 256, n = 1024; // above the parallel threshold
        float[] x = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -10, 10, 5));
        float[] dy = FusedTestUtil.ToFloat(FusedTestUtil.Random(rows * n, -1, 1, 6));
        float[] Run(int threads)
        {
            var y = new float[rows * n]; var l = new float[rows * n]; var dx = new float[rows * n]; var dl = new float[rows * n];
            FusedTestUtil.WithThreads(threads, () =>
            {
                SoftmaxKernels.Softmax<float>(x, y, rows, n);
                SoftmaxKernels.LogSoftmax<float>(x, l, rows, n);
                SoftmaxKernels.SoftmaxBackward<float>(y, dy, dx, rows, n);
                SoftmaxKernels.LogSoftmaxBackward<float>(l, dy, dl, rows, n);
            });
            return [.. y, .. l, .. dx, .. dl];
        }
        Assert.That(Run(2), Is.EqualTo(Run(1)));
    }

    [Test]
    public void BadShapes_Throw()
    {
        Assert.Throws<ArgumentException>(() => SoftmaxKernels.Softmax<float>(new float[6], new float[6], 2, 4));
        Assert.DoesNotThrow(() => SoftmaxKernels.Softmax<float>([], [], 0, 5));
        Assert.DoesNotThrow(() => SoftmaxKernels.LogSoftmax<double>([], [], 3, 0));
    }
}
