using System.Numerics.Tensors;
using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>Shared helpers of the fused-kernel tests: random data, tolerant comparisons, central differences.</summary>
internal static class FusedTestUtil
{
    public static readonly int[] Lengths = [0, 1, 7, 8, 9, 31, 33, 1000];

    public static double[] Random(int n, double lo, double hi, int seed)
    {
        var rng = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.NextDouble();
        return a;
    }

    public static float[] ToFloat(double[] a) => Array.ConvertAll(a, v => (float)v);
    public static double[] ToDouble(float[] a) => Array.ConvertAll(a, v => (double)v);

    /// <summary>|actual − expected| ≤ atol + rtol·|expected| elementwise; NaN must meet NaN, ±∞ must match exactly.</summary>
    public static void AssertClose(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what);
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], e = expected[i];
            if (double.IsNaN(e)) { Assert.That(double.IsNaN(a), Is.True, $"{what}[{i}]: expected NaN, got {a}"); continue; }
            if (double.IsInfinity(e)) { Assert.That(a, Is.EqualTo(e), $"{what}[{i}]"); continue; }
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: got {a:R}, expected {e:R} (|diff| {Math.Abs(a - e):E3})");
        }
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what) =>
        AssertClose(ToDouble(actual.ToArray()), expected, atol, rtol, what);

    /// <summary>Central differences (eps 1e-6) of the scalar function f at x, for every element of x.</summary>
    public static double[] NumericGrad(Func<double[], double> f, double[] x, double eps = 1e-6)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double old = x[i];
            x[i] = old + eps; double fp = f(x);
            x[i] = old - eps; double fm = f(x);
            x[i] = old;
            g[i] = (fp - fm) / (2 * eps);
        }
        return g;
    }

    /// <summary>The finite-difference tolerance of the brief: atol 1e-5 + rtol 1e-3.</summary>
    public static void AssertGrad(ReadOnlySpan<double> analytic, ReadOnlySpan<double> numeric, string what) =>
        AssertClose(analytic, numeric, 1e-5, 1e-3, what);

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Runs body with KernelSettings.NumThreads = threads and restores it.</summary>
    public static void WithThreads(int threads, Action body)
    {
        int old = KernelSettings.NumThreads;
        KernelSettings.NumThreads = threads;
        try { body(); } finally { KernelSettings.NumThreads = old; }
    }
}

[TestFixture, Category("Kernels")]
public class VectorMathTests
{
    private static readonly double K = Math.Sqrt(2 / Math.PI);

    private static double RefGeluErf(double x) => 0.5 * x * (1 + ScalarMath.Erf(x / Math.Sqrt(2)));
    private static double RefGeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(K * (x + 0.044715 * x * x * x)));
    // Same function as x·σ(2u): keeps relative accuracy in the negative tail where 1 + tanh(u) cancels.
    private static double RefGeluTanhTail(double x) => x / (1 + Math.Exp(-2 * K * (x + 0.044715 * x * x * x)));
    private static double RefSigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public enum Op { Exp, Tanh, Sigmoid, GeluErf, GeluTanh }

    private static double Ref(Op op, double x) => op switch
    {
        Op.Exp => Math.Exp(x),
        Op.Tanh => Math.Tanh(x),
        Op.Sigmoid => RefSigmoid(x),
        Op.GeluErf => RefGeluErf(x),
        _ => RefGeluTanh(x),
    };

    private static void Run<T>(Op op, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case Op.Exp: VectorMath.Exp(x, y); break;
            case Op.Tanh: VectorMath.Tanh(x, y); break;
            case Op.Sigmoid: VectorMath.Sigmoid(x, y); break;
            case Op.GeluErf: VectorMath.GeluErf(x, y); break;
            default: VectorMath.GeluTanh(x, y); break;
        }
    }

    [Test]
    public void Forward_MatchesReference_AllLengths([Values] Op op)
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            double[] xd = FusedTestUtil.Random(n, -10, 10, 100 + n);
            float[] xf = FusedTestUtil.ToFloat(xd);
            var expF = Array.ConvertAll(xf, v => op == Op.GeluTanh ? RefGeluTanhTail(v) : Ref(op, v));
            var expD = Array.ConvertAll(xd, v => Ref(op, v));

            var yf = new float[n];
            Run<float>(op, xf, yf);
            // float: a few ulp relative; GELU(erf) near its negative tail is absolute-accurate only (erf approximation).
            // GELU(tanh) deep in the negative tail is e^(−2u) with a float-rounded argument: relative error grows with |u|.
            double fAtol = op == Op.GeluErf ? 3e-6 : op == Op.GeluTanh ? 1e-9 : 1e-30;
            FusedTestUtil.AssertClose(yf, expF, fAtol, 1e-6, $"{op}<float> n={n}");

            var yd = new double[n];
            Run<double>(op, xd, yd);
            // double GELU(erf): 1 + erf(x/√2) cancels in the negative tail, so compare absolutely there.
            FusedTestUtil.AssertClose(yd, expD, op == Op.GeluErf ? 1e-15 : 1e-300, 1e-14, $"{op}<double> n={n}");

            // In place (y aliases x).
            Run<float>(op, xf, xf);
            FusedTestUtil.AssertClose(xf, FusedTestUtil.ToDouble(yf), 0, 0, $"{op}<float> in place n={n}");
        }
    }

    [Test]
    public void ExpFloat_RelativeErrorBelow3e7_OverTheWholeRange()
    {
        const int n = 200_003;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87f + 175.7f * i / (n - 1); // up to ≈ 88.7
        var y = new float[n];
        VectorMath.Exp<float>(x, y);
        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            double r = Math.Exp(x[i]);
            if (r > float.MaxValue) continue;
            worst = Math.Max(worst, Math.Abs(y[i] - r) / r);
        }
        Assert.That(worst, Is.LessThan(3e-7));
    }

    [Test]
    public void ExpFloat_OverflowUnderflowAndNaN()
    {
        float[] x = [88.72f, 88.73f, 89f, 1000f, float.PositiveInfinity, -87f, -100f, -103f, -104f, -1e30f, float.NegativeInfinity, float.NaN, 0f, -0f, 1f];
        var y = new float[x.Length];
        VectorMath.Exp<float>(x, y);
        Assert.That(y[0] / MathF.Exp(88.72f), Is.EqualTo(1f).Within(3e-7f));
        for (int i = 1; i <= 4; i++) Assert.That(y[i], Is.EqualTo(float.PositiveInfinity), $"x={x[i]}");
        Assert.That(y[5] / Math.Exp(-87), Is.EqualTo(1.0).Within(3e-7));
        Assert.That(y[6], Is.EqualTo((float)Math.Exp(-100)).Within(2e-45f), "denormal result");
        Assert.That(y[7], Is.GreaterThan(0f).And.LessThan(1e-44f), "denormal result");
        for (int i = 8; i <= 10; i++) Assert.That(y[i], Is.EqualTo(0f), $"x={x[i]}");
        Assert.That(float.IsNaN(y[11]), Is.True);
        Assert.That(y[12], Is.EqualTo(1f));
        Assert.That(y[13], Is.EqualTo(1f));
        Assert.That(y[14] / Math.E, Is.EqualTo(1.0).Within(3e-7));
    }

    [Test]
    public void Extremes_SaturateWithoutNaN()
    {
        float[] x = [-1e30f, -1e4f, -100f, -30f, 30f, 100f, 1e4f, 1e30f, float.NaN];
        var y = new float[x.Length];
        VectorMath.Tanh<float>(x, y);
        Assert.That(y[..4], Is.All.EqualTo(-1f));
        Assert.That(y[4..8], Is.All.EqualTo(1f));
        Assert.That(float.IsNaN(y[8]), Is.True);
        VectorMath.Sigmoid<float>(x, y);
        Assert.That(y[..3], Is.All.EqualTo(0f));
        Assert.That(y[5..8], Is.All.EqualTo(1f));
        Assert.That(float.IsNaN(y[8]), Is.True);
        VectorMath.GeluTanh<float>(x, y);
        Assert.That(y[..4], Is.All.EqualTo(0f));
        Assert.That(y[4..8], Is.EqualTo(x[4..8]));
        VectorMath.GeluErf<float>(x, y);
        Assert.That(y[..4], Is.All.EqualTo(0f));
        Assert.That(y[4..8], Is.EqualTo(x[4..8]));

        double[] xd = [-1e300, -1e4, -40, 40, 1e4, 1e300];
        var yd = new double[xd.Length];
        VectorMath.GeluErf<double>(xd, yd);
        Assert.That(yd, Is.EqualTo(new double[] { 0, 0, 0, 40, 1e4, 1e300 }));
        VectorMath.Sigmoid<double>(xd, yd);
        Assert.That(yd, Is.EqualTo(new double[] { 0, 0, RefSigmoid(-40), 1, 1, 1 }));
    }

    [Test]
    public void SmallArguments_KeepRelativeAccuracy()
    {
        float[] x = [1e-8f, -3e-6f, 1e-3f, 0.3f, -0.6f];
        var y = new float[x.Length];
        VectorMath.Tanh<float>(x, y);
        FusedTestUtil.AssertClose(y, Array.ConvertAll(x, v => Math.Tanh(v)), 0, 3e-7, "tanh");
        VectorMath.GeluTanh<float>(x, y);
        FusedTestUtil.AssertClose(y, Array.ConvertAll(x, v => RefGeluTanh(v)), 0, 1e-6, "gelu_tanh");
    }

    [Test]
    public void Backward_MatchesFiniteDifferences_Double()
    {
        double[] x = FusedTestUtil.Random(33, -4, 4, 7);
        double[] dy = FusedTestUtil.Random(33, -1, 1, 8);
        int n = x.Length;
        double Loss(Op op, double[] v) { var y = new double[n]; Run<double>(op, v, y); return FusedTestUtil.Dot(y, dy); }

        var y = new double[n]; var dx = new double[n];
        VectorMath.Exp<double>(x, y); VectorMath.ExpBackward<double>(y, dy, dx);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(Op.Exp, v), x), "exp");
        VectorMath.Tanh<double>(x, y); VectorMath.TanhBackward<double>(y, dy, dx);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(Op.Tanh, v), x), "tanh");
        VectorMath.Sigmoid<double>(x, y); VectorMath.SigmoidBackward<double>(y, dy, dx);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(Op.Sigmoid, v), x), "sigmoid");
        VectorMath.GeluErfBackward<double>(x, dy, dx);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(Op.GeluErf, v), x), "gelu_erf");
        VectorMath.GeluTanhBackward<double>(x, dy, dx);
        FusedTestUtil.AssertGrad(dx, FusedTestUtil.NumericGrad(v => Loss(Op.GeluTanh, v), x), "gelu_tanh");
    }

    [Test]
    public void Backward_FloatMatchesDoubleReference_AllLengths()
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            double[] xd = FusedTestUtil.Random(n, -6, 6, 200 + n);
            double[] dyd = FusedTestUtil.Random(n, -2, 2, 300 + n);
            float[] xf = FusedTestUtil.ToFloat(xd), dyf = FusedTestUtil.ToFloat(dyd);
            xd = FusedTestUtil.ToDouble(xf); dyd = FusedTestUtil.ToDouble(dyf);
            var exp = new double[n]; var got = new float[n];

            VectorMath.GeluErfBackward<double>(xd, dyd, exp);
            VectorMath.GeluErfBackward<float>(xf, dyf, got);
            FusedTestUtil.AssertClose(got, exp, 5e-6, 1e-5, $"gelu_erf backward n={n}");

            VectorMath.GeluTanhBackward<double>(xd, dyd, exp);
            VectorMath.GeluTanhBackward<float>(xf, dyf, got);
            FusedTestUtil.AssertClose(got, exp, 1e-6, 1e-5, $"gelu_tanh backward n={n}");

            var yf = new float[n]; var yd = new double[n];
            VectorMath.Sigmoid<float>(xf, yf);
            VectorMath.SigmoidBackward<float>(yf, dyf, got);
            for (int i = 0; i < n; i++) { double s = RefSigmoid(xd[i]); exp[i] = dyd[i] * s * (1 - s); }
            FusedTestUtil.AssertClose(got, exp, 1e-6, 1e-5, $"sigmoid backward n={n}");

            VectorMath.Tanh<float>(xf, yf);
            VectorMath.TanhBackward<float>(yf, dyf, got);
            for (int i = 0; i < n; i++) { double t = Math.Tanh(xd[i]); exp[i] = dyd[i] * (1 - t * t); }
            FusedTestUtil.AssertClose(got, exp, 1e-6, 1e-5, $"tanh backward n={n}");

            // In place: dx aliases dy.
            var dyCopy = (float[])dyf.Clone();
            VectorMath.GeluTanhBackward<float>(xf, dyCopy, dyCopy);
            VectorMath.GeluTanhBackward<float>(xf, dyf, got);
            Assert.That(dyCopy, Is.EqualTo(got), $"in place n={n}");
        }
    }

    [Test]
    public void ExpShiftSum_MatchesReference_AllLengths()
    {
        foreach (int n in FusedTestUtil.Lengths)
        {
            float[] x = FusedTestUtil.ToFloat(FusedTestUtil.Random(n, -20, 5, 400 + n));
            var y = new float[n];
            float s = VectorMath.ExpShiftSum<float>(x, 3f, y);
            double expSum = 0;
            var exp = new double[n];
            for (int i = 0; i < n; i++) { exp[i] = Math.Exp(x[i] - 3f); expSum += exp[i]; } // the shift is applied in float
            FusedTestUtil.AssertClose(y, exp, 0, 3e-7, $"values n={n}");
            Assert.That(s, Is.EqualTo(expSum).Within(1e-6 * expSum + 1e-30), $"sum n={n}");
            Assert.That(VectorMath.ExpShiftSum<float>(x, 3f, Span<float>.Empty), Is.EqualTo(s), $"sum only n={n}");
        }
    }

    [Test]
    public void MismatchedLengths_Throw()
    {
        Assert.Throws<ArgumentException>(() => VectorMath.Exp<float>(new float[3], new float[2]));
        Assert.Throws<ArgumentException>(() => VectorMath.GeluErfBackward<double>(new double[3], new double[3], new double[2]));
    }

    [Test]
    public void FloatPath_IsTheExpectedOne()
    {
        // Documents which SIMD path this run exercises (CI runs the suite with and without DEEPSHARP_PORTABLE_SIMD=1).
        TestContext.Out.WriteLine($"UseAvx2Fma={KernelSettings.UseAvx2Fma}, ForcePortable={KernelSettings.ForcePortable}");
        if (KernelSettings.ForcePortable) Assert.That(KernelSettings.UseAvx2Fma, Is.False);
        Assert.That(TensorPrimitives.Sum<float>([1f, 2f]), Is.EqualTo(3f));
    }
}
