using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class PoolKernelTests
{
    // ------------------------------------------------------------ references (double, written from the definitions)

    /// <summary>PyTorch's pooling output size, computed with doubles.</summary>
    private static int RefOutSize(int size, int k, int p, int s, int d, bool ceil)
    {
        double v = (size + 2.0 * p - d * (k - 1) - 1) / s;
        int o = (int)(ceil ? Math.Ceiling(v) : Math.Floor(v)) + 1;
        if (ceil && (o - 1) * s >= size + p) o--;
        return o;
    }

    private static (double[] Y, int[] Idx) RefMax(Pool2dGeometry g, double[] x)
    {
        int oh = RefOutSize(g.H, g.KernelH, g.PadH, g.StrideH, g.DilationH, g.CeilMode);
        int ow = RefOutSize(g.W, g.KernelW, g.PadW, g.StrideW, g.DilationW, g.CeilMode);
        var y = new double[g.N * g.C * oh * ow];
        var idx = new int[y.Length];
        for (int p = 0; p < g.N * g.C; p++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            double best = double.NegativeInfinity;
            int bi = -1;
            for (int ki = 0; ki < g.KernelH; ki++)
            for (int kj = 0; kj < g.KernelW; kj++)
            {
                int iy = oy * g.StrideH - g.PadH + ki * g.DilationH;
                int ix = ox * g.StrideW - g.PadW + kj * g.DilationW;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;   // padding is −∞
                double v = x[p * g.H * g.W + iy * g.W + ix];
                if (bi < 0 || v > best) { best = v; bi = iy * g.W + ix; }
            }
            int o = (p * oh + oy) * ow + ox;
            y[o] = best;
            idx[o] = bi;
        }
        return (y, idx);
    }

    /// <summary>AvgPool2d as a weight matrix: weight of input i in output o, from counting kernel taps.</summary>
    private static void ForEachAvgTap(Pool2dGeometry g, Action<int, int, double> tap /* outIdx, inIdx, weight */)
    {
        int oh = RefOutSize(g.H, g.KernelH, g.PadH, g.StrideH, 1, g.CeilMode);
        int ow = RefOutSize(g.W, g.KernelW, g.PadW, g.StrideW, 1, g.CeilMode);
        for (int p = 0; p < g.N * g.C; p++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            int inPadded = 0, inImage = 0;
            var taps = new List<int>();
            for (int ki = 0; ki < g.KernelH; ki++)
            for (int kj = 0; kj < g.KernelW; kj++)
            {
                int iy = oy * g.StrideH - g.PadH + ki, ix = ox * g.StrideW - g.PadW + kj;
                if (iy < g.H + g.PadH && ix < g.W + g.PadW) inPadded++;   // taps past the padded edge (ceil_mode) never count
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                inImage++;
                taps.Add(p * g.H * g.W + iy * g.W + ix);
            }
            double div = g.DivisorOverride != 0 ? g.DivisorOverride : g.CountIncludePad ? inPadded : inImage;
            foreach (int t in taps) tap((p * oh + oy) * ow + ox, t, 1.0 / div);
        }
    }

    private static void ForEachAdaptiveTap(AdaptivePool2dGeometry g, Action<int, int, double> tap)
    {
        for (int p = 0; p < g.N * g.C; p++)
        for (int oy = 0; oy < g.OutH; oy++)
        for (int ox = 0; ox < g.OutW; ox++)
        {
            int y0 = (int)Math.Floor((double)oy * g.H / g.OutH), y1 = (int)Math.Ceiling((oy + 1.0) * g.H / g.OutH);
            int x0 = (int)Math.Floor((double)ox * g.W / g.OutW), x1 = (int)Math.Ceiling((ox + 1.0) * g.W / g.OutW);
            double wgt = 1.0 / ((y1 - y0) * (x1 - x0));
            for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++)
                tap((p * g.OutH + oy) * g.OutW + ox, p * g.H * g.W + iy * g.W + ix, wgt);
        }
    }

    private delegate void TapVisitor(Action<int, int, double> tap);

    private static double[] Apply(TapVisitor taps, double[] x, int outLen)
    {
        var y = new double[outLen];
        taps((o, i, w) => y[o] += w * x[i]);
        return y;
    }

    private static double[] ApplyTransposed(TapVisitor taps, double[] dy, int inLen)
    {
        var dx = new double[inLen];
        taps((o, i, w) => dx[i] += w * dy[o]);
        return dx;
    }

    // ------------------------------------------------------------ helpers

    private static T[] Random<T>(Random rng, int n) where T : IFloatingPointIeee754<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static double[] ToDouble<T>(T[] a) where T : IFloatingPointIeee754<T> =>
        Array.ConvertAll(a, v => double.CreateTruncating(v));

    private static void AssertClose<T>(T[] actual, double[] expected, string what) where T : IFloatingPointIeee754<T>
    {
        double tol = typeof(T) == typeof(float) ? 1e-5 : 1e-13;
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < actual.Length; i++)
        {
            double a = double.CreateTruncating(actual[i]);
            if (a != expected[i] && !(Math.Abs(a - expected[i]) <= tol * (1 + Math.Abs(expected[i]))))
                Assert.Fail($"{what}: element {i} is {a}, expected {expected[i]}");
        }
    }

    private static T[] Garbage<T>(int n) where T : IFloatingPointIeee754<T>
    {
        var a = new T[n];
        Array.Fill(a, T.CreateTruncating(77.25));
        return a;
    }

    private static Pool2dGeometry RandomPool(Random rng, bool avg)
    {
        while (true)
        {
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5);
            var g = new Pool2dGeometry(rng.Next(1, 4), rng.Next(1, 5), rng.Next(1, 10), rng.Next(1, 10), kh, kw,
                rng.Next(1, 4), rng.Next(1, 4), rng.Next(0, kh / 2 + 1), rng.Next(0, kw / 2 + 1),
                avg ? 1 : rng.Next(1, 3), avg ? 1 : rng.Next(1, 3), CeilMode: rng.Next(2) == 0,
                CountIncludePad: rng.Next(2) == 0, DivisorOverride: avg && rng.Next(5) == 0 ? rng.Next(1, 7) : 0);
            int oh = RefOutSize(g.H, kh, g.PadH, g.StrideH, g.DilationH, g.CeilMode);
            int ow = RefOutSize(g.W, kw, g.PadW, g.StrideW, g.DilationW, g.CeilMode);
            if (oh >= 1 && ow >= 1)
            {
                Assert.That((g.OutH, g.OutW), Is.EqualTo((oh, ow)), g.ToString());
                return g;
            }
            Assert.Throws<ArgumentException>(() => g.Validate("pool"), g.ToString());
        }
    }

    // ------------------------------------------------------------ MaxPool2d

    [Test]
    public void MaxPool_RandomGeometries_Float() => RunMax<float>(1, 300);

    [Test]
    public void MaxPool_RandomGeometries_Double() => RunMax<double>(2, 300);

    private static void RunMax<T>(int seed, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        for (int c = 0; c < count; c++)
        {
            var g = RandomPool(rng, avg: false);
            CheckMax<T>(g, rng);
        }
    }

    private static void CheckMax<T>(Pool2dGeometry g, Random rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] x = Random<T>(rng, g.InputLength);
        if (rng.Next(3) == 0) for (int i = 0; i < x.Length; i++) x[i] = -T.Abs(x[i]) - T.One; // all below 0: padding must not win
        var (ry, ridx) = RefMax(g, ToDouble(x));
        var y = Garbage<T>(g.OutputLength);
        var idx = new int[g.OutputLength];
        PoolKernels.MaxPool2dForward<T>(g, x, y, idx);
        AssertClose(y, ry, $"max forward {typeof(T).Name} {g}");
        // A window that (with dilation) only touches padding gives −∞ and index −1, which the backward pass ignores.
        Assert.That(idx, Is.EqualTo(ridx), $"max indices {g}");

        T[] dy = Random<T>(rng, g.OutputLength);
        var expected = new double[g.InputLength];
        for (int o = 0; o < dy.Length; o++)
            if (ridx[o] >= 0) expected[o / (g.OutH * g.OutW) * g.H * g.W + ridx[o]] += double.CreateTruncating(dy[o]);
        var dx = Garbage<T>(g.InputLength);
        PoolKernels.MaxPool2dBackward<T>(g, dy, idx, dx);
        AssertClose(dx, expected, $"max backward {typeof(T).Name} {g}");
    }

    [Test]
    public void MaxPool_Hand_2x2Stride2()
    {
        var g = new Pool2dGeometry(1, 1, 4, 4, 2, 2, 2, 2);
        float[] x = [1, 5, 2, 0,
                     3, 4, 8, 7,
                     -1, -2, 6, 6,
                     -3, 0, 9, 1];
        var y = new float[4];
        var idx = new int[4];
        PoolKernels.MaxPool2dForward<float>(g, x, y, idx);
        Assert.That(y, Is.EqualTo(new float[] { 5, 8, 0, 9 }));
        Assert.That(idx, Is.EqualTo(new[] { 1, 6, 13, 14 }));
        var dx = new float[16];
        PoolKernels.MaxPool2dBackward<float>(g, [1f, 2, 3, 4], idx, dx);
        Assert.That(dx, Is.EqualTo(new float[] { 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 4, 0 }));
    }

    [Test]
    public void MaxPool_Hand_OverlappingWindows_ScatterAdds()
    {
        // 3×3 input, 2×2 kernel, stride 1: the centre 9 is the max of all four windows.
        var g = new Pool2dGeometry(1, 1, 3, 3, 2, 2, 1, 1);
        var y = new double[4];
        var idx = new int[4];
        PoolKernels.MaxPool2dForward<double>(g, [1.0, 2, 3, 4, 9, 5, 6, 7, 8], y, idx);
        Assert.That(idx, Is.EqualTo(new[] { 4, 4, 4, 4 }));
        var dx = new double[9];
        PoolKernels.MaxPool2dBackward<double>(g, [1.0, 1, 1, 1], idx, dx);
        Assert.That(dx[4], Is.EqualTo(4.0));
    }

    [Test]
    public void MaxPool_Hand_PaddingIsMinusInfinity_CeilMode()
    {
        // H = W = 3, kernel 2, stride 2, padding 1: floor mode gives 2×2; windows start at −1 and 1.
        var g = new Pool2dGeometry(1, 1, 3, 3, 2, 2, 2, 2, 1, 1);
        double[] x = [-1, -2, -3, -4, -5, -6, -7, -8, -9];
        var y = new double[4];
        var idx = new int[4];
        PoolKernels.MaxPool2dForward<double>(g, x, y, idx);
        Assert.That(y, Is.EqualTo(new double[] { -1, -2, -4, -5 }));
        Assert.That(idx, Is.EqualTo(new[] { 0, 1, 3, 4 }));

        // H = 5, kernel 2, stride 2: floor gives 2, ceil gives 3 (last window [4, 6) starts inside).
        Assert.That(new Pool2dGeometry(1, 1, 5, 5, 2, 2, 2, 2).OutH, Is.EqualTo(2));
        Assert.That(new Pool2dGeometry(1, 1, 5, 5, 2, 2, 2, 2, CeilMode: true).OutH, Is.EqualTo(3));
        // H = 4, kernel 2, stride 2, pad 1, ceil: 3 windows starting at −1, 1, 3.
        Assert.That(new Pool2dGeometry(1, 1, 4, 4, 2, 2, 2, 2, 1, 1, CeilMode: true).OutH, Is.EqualTo(3));
        // H = 4, kernel 2, stride 2, ceil: floor((4 − 1 − 1 + 1) / 2) + 1 = 2.
        Assert.That(new Pool2dGeometry(1, 1, 4, 4, 2, 2, 2, 2, CeilMode: true).OutH, Is.EqualTo(2));
    }

    [Test]
    public void MaxPool_NaN_Propagates()
    {
        var g = new Pool2dGeometry(1, 1, 2, 2, 2, 2, 2, 2);
        var y = new float[1];
        var idx = new int[1];
        PoolKernels.MaxPool2dForward<float>(g, [1f, float.NaN, 5f, 2f], y, idx);
        Assert.That(float.IsNaN(y[0]), Is.True);
        Assert.That(idx[0], Is.EqualTo(1));
    }

    [Test]
    public void MaxPool_FiniteDifferences()
    {
        var g = new Pool2dGeometry(2, 2, 7, 6, 3, 2, 2, 1, 1, 1, 2, 1, CeilMode: true);
        var rng = new Random(3);
        double[] x = Random<double>(rng, g.InputLength), r = Random<double>(rng, g.OutputLength);
        double Loss()
        {
            var y = new double[g.OutputLength];
            PoolKernels.MaxPool2dForward<double>(g, x, y, new int[g.OutputLength]);
            return y.Zip(r, (a, b) => a * b).Sum();
        }
        var idx = new int[g.OutputLength];
        PoolKernels.MaxPool2dForward<double>(g, x, new double[g.OutputLength], idx);
        var dx = new double[g.InputLength];
        PoolKernels.MaxPool2dBackward<double>(g, r, idx, dx);
        CheckFd(x, dx, Loss);
    }

    private static void CheckFd(double[] x, double[] analytic, Func<double> loss)
    {
        const double eps = 1e-6;
        for (int i = 0; i < x.Length; i++)
        {
            double old = x[i];
            x[i] = old + eps; double lp = loss();
            x[i] = old - eps; double lm = loss();
            x[i] = old;
            Assert.That(analytic[i], Is.EqualTo((lp - lm) / (2 * eps)).Within(1e-6), $"d/dx[{i}]");
        }
    }

    // ------------------------------------------------------------ AvgPool2d

    [Test]
    public void AvgPool_RandomGeometries_Float() => RunAvg<float>(3, 300);

    [Test]
    public void AvgPool_RandomGeometries_Double() => RunAvg<double>(4, 300);

    private static void RunAvg<T>(int seed, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        for (int c = 0; c < count; c++)
        {
            var g = RandomPool(rng, avg: true);
            T[] x = Random<T>(rng, g.InputLength), dy = Random<T>(rng, g.OutputLength);
            void Taps(Action<int, int, double> t) => ForEachAvgTap(g, t);

            var y = Garbage<T>(g.OutputLength);
            PoolKernels.AvgPool2dForward<T>(g, x, y);
            AssertClose(y, Apply(Taps, ToDouble(x), g.OutputLength), $"avg forward {typeof(T).Name} {g}");

            var dx = Garbage<T>(g.InputLength);
            PoolKernels.AvgPool2dBackward<T>(g, dy, dx);
            AssertClose(dx, ApplyTransposed(Taps, ToDouble(dy), g.InputLength), $"avg backward {typeof(T).Name} {g}");
        }
    }

    [Test]
    public void AvgPool_Hand_Padding_CountIncludePad()
    {
        // 2×2 input [[1,2],[3,4]], kernel 2, stride 1, pad 1 → 3×3 windows over the padded 4×4.
        var g = new Pool2dGeometry(1, 1, 2, 2, 2, 2, 1, 1, 1, 1);
        double[] x = [1, 2, 3, 4];
        var y = new double[9];
        PoolKernels.AvgPool2dForward<double>(g, x, y);
        Assert.That(y, Is.EqualTo(new[] { 1 / 4.0, 3 / 4.0, 2 / 4.0, 4 / 4.0, 10 / 4.0, 6 / 4.0, 3 / 4.0, 7 / 4.0, 4 / 4.0 }));

        PoolKernels.AvgPool2dForward<double>(g with { CountIncludePad = false }, x, y);
        Assert.That(y, Is.EqualTo(new[] { 1.0, 3 / 2.0, 2.0, 4 / 2.0, 10 / 4.0, 6 / 2.0, 3.0, 7 / 2.0, 4.0 }));

        PoolKernels.AvgPool2dForward<double>(g with { DivisorOverride = 2 }, x, y);
        Assert.That(y, Is.EqualTo(new[] { 0.5, 1.5, 1, 2, 5, 3, 1.5, 3.5, 2 }));

        var dx = new double[4];
        PoolKernels.AvgPool2dBackward<double>(g, Enumerable.Repeat(1.0, 9).ToArray(), dx);
        Assert.That(dx, Is.EqualTo(new[] { 1.0, 1, 1, 1 }));   // each input is in 4 windows, each of divisor 4
    }

    [Test]
    public void AvgPool_Hand_CeilMode_DivisorExcludesPastPaddedEdge()
    {
        // H = W = 3, kernel 2, stride 2, ceil: windows [0,2) and [2,4); the second is clipped to [2,3) and,
        // as in PyTorch, the pool size (count_include_pad) only counts up to H + pad = 3: divisors 4, 2, 2, 1.
        var g = new Pool2dGeometry(1, 1, 3, 3, 2, 2, 2, 2, CeilMode: true);
        Assert.That((g.OutH, g.OutW), Is.EqualTo((2, 2)));
        var y = new double[4];
        PoolKernels.AvgPool2dForward<double>(g, [1.0, 2, 3, 4, 5, 6, 7, 8, 9], y);
        Assert.That(y, Is.EqualTo(new[] { 12 / 4.0, 9 / 2.0, 15 / 2.0, 9.0 }));
    }

    [Test]
    public void AvgPool_FiniteDifferences()
    {
        var g = new Pool2dGeometry(2, 2, 7, 6, 3, 2, 2, 1, 1, 1, CeilMode: true, CountIncludePad: false);
        var rng = new Random(4);
        double[] x = Random<double>(rng, g.InputLength), r = Random<double>(rng, g.OutputLength);
        double Loss()
        {
            var y = new double[g.OutputLength];
            PoolKernels.AvgPool2dForward<double>(g, x, y);
            return y.Zip(r, (a, b) => a * b).Sum();
        }
        var dx = new double[g.InputLength];
        PoolKernels.AvgPool2dBackward<double>(g, r, dx);
        CheckFd(x, dx, Loss);
    }

    // ------------------------------------------------------------ AdaptiveAvgPool2d

    [Test]
    public void AdaptiveAvgPool_Random([Values] bool useFloat)
    {
        var rng = new Random(useFloat ? 5 : 6);
        for (int c = 0; c < 200; c++)
        {
            var g = new AdaptivePool2dGeometry(rng.Next(1, 4), rng.Next(1, 5), rng.Next(1, 10), rng.Next(1, 10),
                rng.Next(1, 10), rng.Next(1, 10));
            if (useFloat) CheckAdaptive<float>(g, rng);
            else CheckAdaptive<double>(g, rng);
        }
    }

    private static void CheckAdaptive<T>(AdaptivePool2dGeometry g, Random rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] x = Random<T>(rng, g.InputLength), dy = Random<T>(rng, g.OutputLength);
        void Taps(Action<int, int, double> t) => ForEachAdaptiveTap(g, t);
        var y = Garbage<T>(g.OutputLength);
        PoolKernels.AdaptiveAvgPool2dForward<T>(g, x, y);
        AssertClose(y, Apply(Taps, ToDouble(x), g.OutputLength), $"adaptive forward {g}");
        var dx = Garbage<T>(g.InputLength);
        PoolKernels.AdaptiveAvgPool2dBackward<T>(g, dy, dx);
        AssertClose(dx, ApplyTransposed(Taps, ToDouble(dy), g.InputLength), $"adaptive backward {g}");
    }

    [Test]
    public void AdaptiveAvgPool_Hand_5To3()
    {
        // Windows [0,2), [1,4), [3,5) in each dimension; a 1×5 row to 1×3.
        var g = new AdaptivePool2dGeometry(1, 1, 1, 5, 1, 3);
        var y = new double[3];
        PoolKernels.AdaptiveAvgPool2dForward<double>(g, [1.0, 2, 3, 4, 5], y);
        Assert.That(y, Is.EqualTo(new[] { 1.5, 3.0, 4.5 }));
        var dx = new double[5];
        PoolKernels.AdaptiveAvgPool2dBackward<double>(g, [2.0, 3, 4], dx);
        Assert.That(dx, Is.EqualTo(new[] { 1.0, 2, 1, 3, 2 }));
    }

    [Test]
    public void AdaptiveAvgPool_FiniteDifferences()
    {
        var g = new AdaptivePool2dGeometry(1, 2, 7, 5, 3, 4);
        var rng = new Random(8);
        double[] x = Random<double>(rng, g.InputLength), r = Random<double>(rng, g.OutputLength);
        double Loss()
        {
            var y = new double[g.OutputLength];
            PoolKernels.AdaptiveAvgPool2dForward<double>(g, x, y);
            return y.Zip(r, (a, b) => a * b).Sum();
        }
        var dx = new double[g.InputLength];
        PoolKernels.AdaptiveAvgPool2dBackward<double>(g, r, dx);
        CheckFd(x, dx, Loss);
    }

    // ------------------------------------------------------------ threading

    [Test]
    public void LargeInputs_ParallelPathMatchesReference([Values(1, 3)] int threads)
    {
        int saved = KernelSettings.NumThreads;
        long savedMin = KernelSettings.PoolParallelMinWork;
        try
        {
            KernelSettings.NumThreads = threads;
            KernelSettings.PoolParallelMinWork = 0;
            var rng = new Random(9);
            CheckMax<float>(new Pool2dGeometry(2, 5, 9, 8, 3, 3, 2, 2, 1, 1, CeilMode: true), rng);
            var ga = new Pool2dGeometry(2, 5, 9, 8, 3, 2, 2, 1, 1, 1, CeilMode: true);
            double[] x = Random<double>(rng, ga.InputLength);
            var y = new double[ga.OutputLength];
            PoolKernels.AvgPool2dForward<double>(ga, x, y);
            AssertClose(y, Apply(t => ForEachAvgTap(ga, t), x, ga.OutputLength), "avg threaded");
            var dx = new double[ga.InputLength];
            PoolKernels.AvgPool2dBackward<double>(ga, y, dx);
            AssertClose(dx, ApplyTransposed(t => ForEachAvgTap(ga, t), y, ga.InputLength), "avg backward threaded");
            CheckAdaptive<double>(new AdaptivePool2dGeometry(3, 3, 9, 7, 4, 3), rng);
        }
        finally
        {
            KernelSettings.NumThreads = saved;
            KernelSettings.PoolParallelMinWork = savedMin;
        }
    }

    // ------------------------------------------------------------ validation

    [Test]
    public void BadGeometries_Throw()
    {
        void Expect(Action a, params string[] fragments)
        {
            var ex = Assert.Throws<ArgumentException>(() => a());
            foreach (string f in fragments) Assert.That(ex!.Message, Does.Contain(f));
        }
        var ok = new Pool2dGeometry(1, 1, 5, 5, 2, 2, 2, 2);
        float[] buf = new float[100];
        int[] ibuf = new int[100];
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok with { PadH = 2 }, buf, buf, ibuf),
            "max_pool2d:", "pad should be smaller than or equal to half of kernel size", "padH = 2", "kH = 2");
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok with { StrideW = 0 }, buf, buf, ibuf), "max_pool2d:", "stride", "dW: 0");
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok with { KernelH = 0 }, buf, buf, ibuf), "max_pool2d:", "kernel size", "kH: 0");
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok with { DilationW = 0 }, buf, buf, ibuf), "max_pool2d:", "dilation");
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok with { H = 1 }, buf, buf, ibuf), "max_pool2d:", "Output size is too small", "(1x0x");
        Expect(() => PoolKernels.AvgPool2dForward<float>(ok with { DilationH = 2 }, buf, buf), "avg_pool2d:", "dilation");
        Expect(() => PoolKernels.AvgPool2dBackward<float>(ok with { PadW = 3 }, buf, buf), "avg_pool2d backward:", "padW = 3");
        Expect(() => PoolKernels.AdaptiveAvgPool2dForward<float>(new AdaptivePool2dGeometry(1, 1, 4, 4, 0, 2), buf, buf),
            "adaptive_avg_pool2d:", "(0, 2)");
        Expect(() => PoolKernels.MaxPool2dForward<float>(ok, new float[25], new float[3], ibuf), "output has 3 elements, expected 4");
    }

    /// <summary>The 2×2/stride-2 fast paths (scalar, and 8 windows at a time with AVX2) against the window rule
    /// written out: scan order (0,0), (0,1), (1,0), (1,1), a later value wins only if strictly greater or NaN.
    /// Values come from a small set so that ties, NaN and −∞ occur often; odd sizes leave a remainder.</summary>
    [TestCase(1, 2, 4, 16), TestCase(2, 3, 7, 35), TestCase(1, 1, 24, 24), TestCase(2, 2, 5, 17), TestCase(1, 1, 2, 2)]
    public void MaxPool2x2FastPathFollowsTheWindowRule(int n, int c, int h, int w)
    {
        float[] palette = [0f, 0f, 1f, 2f, -1f, float.NaN, float.NegativeInfinity, 2f];
        var rng = new Random(h * 100 + w);
        var input = new float[n * c * h * w];
        for (int i = 0; i < input.Length; i++) input[i] = palette[rng.Next(palette.Length)];
        var g = new Pool2dGeometry(n, c, h, w, 2, 2, 2, 2);
        int oh = h / 2, ow = w / 2;
        var output = new float[n * c * oh * ow];
        var indices = new int[output.Length];
        PoolKernels.MaxPool2dForward<float>(g, input, output, indices);
        for (int p = 0; p < n * c; p++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    float m = float.NegativeInfinity;
                    int mi = 2 * y * w + 2 * x;
                    foreach (var (dy, dx) in new[] { (0, 0), (0, 1), (1, 0), (1, 1) })
                    {
                        int k = (2 * y + dy) * w + 2 * x + dx;
                        float v = input[p * h * w + k];
                        if (v > m || float.IsNaN(v)) { m = v; mi = k; }
                    }
                    int o = p * oh * ow + y * ow + x;
                    Assert.That(indices[o], Is.EqualTo(mi), $"index of window ({p}, {y}, {x})");
                    Assert.That(output[o], Is.EqualTo(m), $"value of window ({p}, {y}, {x})");
                }
        // float64 takes the generic fast path: same answers.
        var output64 = new double[output.Length];
        var indices64 = new int[output.Length];
        PoolKernels.MaxPool2dForward<double>(g, input.Select(v => (double)v).ToArray(), output64, indices64);
        Assert.That(indices64, Is.EqualTo(indices));
    }
}
