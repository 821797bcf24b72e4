using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class Conv2dKernelTests
{
    // ------------------------------------------------------------ direct reference loops (double)

    private static int InIndex(Conv2dGeometry g, int n, int c, int y, int x) => ((n * g.InC + c) * g.H + y) * g.W + x;
    private static int OutIndex(Conv2dGeometry g, int n, int o, int y, int x) => ((n * g.OutC + o) * g.OutH + y) * g.OutW + x;
    private static int WIndex(Conv2dGeometry g, int o, int c, int ki, int kj) =>
        ((o * g.InCPerGroup + c) * g.KernelH + ki) * g.KernelW + kj;

    /// <summary>Visits every (output, input, weight) triple that contributes to the convolution.</summary>
    private static void ForEachTap(Conv2dGeometry g, Action<int, int, int> tap /* outIdx, inIdx, wIdx */)
    {
        int cg = g.InCPerGroup, og = g.OutCPerGroup;
        for (int n = 0; n < g.N; n++)
        for (int o = 0; o < g.OutC; o++)
        for (int oy = 0; oy < g.OutH; oy++)
        for (int ox = 0; ox < g.OutW; ox++)
        for (int c = 0; c < cg; c++)
        for (int ki = 0; ki < g.KernelH; ki++)
        for (int kj = 0; kj < g.KernelW; kj++)
        {
            int iy = oy * g.StrideH - g.PadTop + ki * g.DilationH;
            int ix = ox * g.StrideW - g.PadLeft + kj * g.DilationW;
            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
            int ic = (o / og) * cg + c;
            tap(OutIndex(g, n, o, oy, ox), InIndex(g, n, ic, iy, ix), WIndex(g, o, c, ki, kj));
        }
    }

    private static (double[] Value, double[] Scale) RefForward(Conv2dGeometry g, double[] x, double[] w, double[]? b)
    {
        var y = new double[g.OutputLength];
        var s = new double[g.OutputLength];
        if (b is not null)
            for (int i = 0; i < y.Length; i++)
            {
                int o = i / (g.OutH * g.OutW) % g.OutC;
                y[i] = b[o];
                s[i] = Math.Abs(b[o]);
            }
        ForEachTap(g, (oi, ii, wi) => { y[oi] += x[ii] * w[wi]; s[oi] += Math.Abs(x[ii] * w[wi]); });
        return (y, s);
    }

    private static (double[] Value, double[] Scale) RefBackwardInput(Conv2dGeometry g, double[] dy, double[] w)
    {
        var dx = new double[g.InputLength];
        var s = new double[g.InputLength];
        ForEachTap(g, (oi, ii, wi) => { dx[ii] += dy[oi] * w[wi]; s[ii] += Math.Abs(dy[oi] * w[wi]); });
        return (dx, s);
    }

    private static (double[] Value, double[] Scale) RefBackwardWeight(Conv2dGeometry g, double[] x, double[] dy)
    {
        var dw = new double[g.WeightLength];
        var s = new double[g.WeightLength];
        ForEachTap(g, (oi, ii, wi) => { dw[wi] += dy[oi] * x[ii]; s[wi] += Math.Abs(dy[oi] * x[ii]); });
        return (dw, s);
    }

    private static (double[] Value, double[] Scale) RefBackwardBias(Conv2dGeometry g, double[] dy)
    {
        var db = new double[g.OutC];
        var s = new double[g.OutC];
        for (int i = 0; i < dy.Length; i++)
        {
            int o = i / (g.OutH * g.OutW) % g.OutC;
            db[o] += dy[i];
            s[o] += Math.Abs(dy[i]);
        }
        return (db, s);
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

    private static void AssertClose<T>(T[] actual, (double[] Value, double[] Scale) expected, string what)
        where T : IFloatingPointIeee754<T>
    {
        double rel = typeof(T) == typeof(float) ? 2e-6 : 1e-13;
        Assert.That(actual, Has.Length.EqualTo(expected.Value.Length), what);
        for (int i = 0; i < actual.Length; i++)
        {
            double a = double.CreateTruncating(actual[i]);
            double tol = rel * (expected.Scale[i] + 1) * 8;
            if (!(Math.Abs(a - expected.Value[i]) <= tol))
                Assert.Fail($"{what}: element {i} is {a}, expected {expected.Value[i]} (tolerance {tol})");
        }
    }

    /// <summary>A random valid geometry in the ranges of the brief (sometimes with asymmetric padding).</summary>
    private static Conv2dGeometry RandomGeometry(Random rng)
    {
        while (true)
        {
            int groups = rng.Next(1, 3);
            int cg = rng.Next(1, 6 / groups + 1), og = rng.Next(1, 6 / groups + 1);
            var g = new Conv2dGeometry(
                N: rng.Next(1, 4), InC: cg * groups, H: rng.Next(1, 10), W: rng.Next(1, 10), OutC: og * groups,
                KernelH: rng.Next(1, 5), KernelW: rng.Next(1, 5), StrideH: rng.Next(1, 4), StrideW: rng.Next(1, 4),
                PadH: rng.Next(0, 3), PadW: rng.Next(0, 3), DilationH: rng.Next(1, 3), DilationW: rng.Next(1, 3),
                Groups: groups);
            if (rng.Next(4) == 0) g = g with { PadBottom = rng.Next(0, 3), PadRight = rng.Next(0, 3) };
            if (rng.Next(6) == 0) g = g with { KernelH = 1, KernelW = 1, StrideH = 1, StrideW = 1, PadH = 0, PadW = 0 };
            if (g.OutH >= 1 && g.OutW >= 1) return g;
        }
    }

    private static void CheckAll<T>(Conv2dGeometry g, Random rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool withBias = rng.Next(2) == 0;
        T[] x = Random<T>(rng, g.InputLength), w = Random<T>(rng, g.WeightLength);
        T[] b = withBias ? Random<T>(rng, g.OutC) : [];
        T[] dy = Random<T>(rng, g.OutputLength);
        double[] xd = ToDouble(x), wd = ToDouble(w), dyd = ToDouble(dy);
        string name = $"{typeof(T).Name} {g} padBottom={g.PadBottom} padRight={g.PadRight} bias={withBias}";

        var y = new T[g.OutputLength];
        Conv2dKernels.Forward<T>(g, x, w, b, y);
        AssertClose(y, RefForward(g, xd, wd, withBias ? ToDouble(b) : null), "forward " + name);

        var dx = Fill<T>(g.InputLength);   // garbage first: the kernels must overwrite
        Conv2dKernels.BackwardInput<T>(g, dy, w, dx);
        AssertClose(dx, RefBackwardInput(g, dyd, wd), "backward input " + name);

        var dw = Fill<T>(g.WeightLength);
        Conv2dKernels.BackwardWeight<T>(g, x, dy, dw);
        AssertClose(dw, RefBackwardWeight(g, xd, dyd), "backward weight " + name);

        var db = Fill<T>(g.OutC);
        Conv2dKernels.BackwardBias<T>(g, dy, db);
        AssertClose(db, RefBackwardBias(g, dyd), "backward bias " + name);
    }

    private static T[] Fill<T>(int n) where T : IFloatingPointIeee754<T>
    {
        var a = new T[n];
        Array.Fill(a, T.CreateTruncating(123.5));
        return a;
    }

    // ------------------------------------------------------------ random geometries vs reference

    [Test]
    public void RandomGeometries_Float() => RunRandom<float>(seed: 1, count: 300);

    [Test]
    public void RandomGeometries_Double() => RunRandom<double>(seed: 2, count: 300);

    private static void RunRandom<T>(int seed, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++) CheckAll<T>(RandomGeometry(rng), rng);
    }

    [Test]
    public void LargerGeometries_TiledAndThreaded([Values(1, 3)] int threads)
    {
        // Forces the parallel path and small column tiles (several output-row tiles per image).
        int savedThreads = KernelSettings.NumThreads;
        int savedTile = KernelSettings.ConvColumnTileBytes;
        long savedMin = KernelSettings.ConvParallelMinMacs;
        try
        {
            KernelSettings.NumThreads = threads;
            KernelSettings.ConvColumnTileBytes = 3000;
            KernelSettings.ConvParallelMinMacs = 0;
            var rng = new Random(7 + threads);
            CheckAll<float>(new Conv2dGeometry(2, 6, 13, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2), rng);
            CheckAll<double>(new Conv2dGeometry(1, 4, 12, 10, 6, 3, 2, 2, 1, 1, 0, 1, 2, 2), rng);
            CheckAll<double>(new Conv2dGeometry(5, 3, 9, 9, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1), rng);
            CheckAll<float>(new Conv2dGeometry(1, 4, 10, 10, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2), rng);
            CheckAll<float>(Conv2dGeometry.Same(3, 3, 8, 9, 5, 4, 2), rng);
            CheckAll<float>(new Conv2dGeometry(3, 8, 12, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8), rng);       // depthwise
            CheckAll<double>(new Conv2dGeometry(2, 6, 12, 11, 12, 3, 5, 2, 3, 1, 2, 2, 1, 6), rng);     // depthwise ×2
            for (int i = 0; i < 20; i++) CheckAll<double>(RandomGeometry(rng), rng);
        }
        finally
        {
            KernelSettings.NumThreads = savedThreads;
            KernelSettings.ConvColumnTileBytes = savedTile;
            KernelSettings.ConvParallelMinMacs = savedMin;
        }
    }

    [Test]
    public void MediumGeometry_DefaultSettings()
    {
        // Big enough to take the default parallel path.
        CheckAll<float>(new Conv2dGeometry(4, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), new Random(11));
        CheckAll<float>(new Conv2dGeometry(4, 16, 24, 24, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16), new Random(12));
    }

    [Test]
    public void RandomDepthwise([Values] bool useFloat)
    {
        var rng = new Random(useFloat ? 21 : 22);
        for (int i = 0; i < 100; i++)
        {
            var g = RandomGeometry(rng);
            int c = rng.Next(2, 5);
            g = g with { InC = c, Groups = c, OutC = c * rng.Next(1, 3) };
            Assert.That(Conv2dDepthwise.Applies(g), Is.True);
            if (useFloat) CheckAll<float>(g, rng);
            else CheckAll<double>(g, rng);
        }
    }

    // ------------------------------------------------------------ finite differences (double)

    private static readonly Conv2dGeometry[] FiniteDifferenceCases =
    [
        new Conv2dGeometry(2, 2, 5, 4, 3, 3, 2, 2, 1, 1, 0, 1, 2, 1),
        new Conv2dGeometry(1, 4, 6, 6, 2, 2, 3, 1, 2, 2, 1, 2, 1, 2),
        new Conv2dGeometry(1, 3, 4, 5, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1),
        Conv2dGeometry.Same(2, 2, 5, 5, 2, 2, 4),
        new Conv2dGeometry(2, 3, 6, 5, 6, 3, 3, 2, 1, 1, 1, 1, 2, 3),   // depthwise, channel multiplier 2
    ];

    [Test]
    public void Backward_MatchesFiniteDifferences([Range(0, 4)] int index)
    {
        Conv2dGeometry g = FiniteDifferenceCases[index];
        var rng = new Random(5);
        double[] x = Random<double>(rng, g.InputLength), w = Random<double>(rng, g.WeightLength),
            b = Random<double>(rng, g.OutC), r = Random<double>(rng, g.OutputLength);
        double Loss(double[] xx, double[] ww, double[] bb)
        {
            var y = new double[g.OutputLength];
            Conv2dKernels.Forward<double>(g, xx, ww, bb, y);
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += y[i] * r[i];
            return s;
        }
        void CheckFd(double[] p, double[] analytic, string what)
        {
            const double eps = 1e-5;
            for (int i = 0; i < p.Length; i++)
            {
                double old = p[i];
                p[i] = old + eps; double lp = Loss(x, w, b);
                p[i] = old - eps; double lm = Loss(x, w, b);
                p[i] = old;
                Assert.That(analytic[i], Is.EqualTo((lp - lm) / (2 * eps)).Within(1e-7), $"{what}[{i}] {g}");
            }
        }
        var dx = new double[g.InputLength];
        var dw = new double[g.WeightLength];
        var db = new double[g.OutC];
        Conv2dKernels.BackwardInput<double>(g, r, w, dx);
        Conv2dKernels.BackwardWeight<double>(g, x, r, dw);
        Conv2dKernels.BackwardBias<double>(g, r, db);
        CheckFd(x, dx, "dx");
        CheckFd(w, dw, "dw");
        CheckFd(b, db, "db");
    }

    // ------------------------------------------------------------ hand-computed cases

    [Test]
    public void Hand_3x3Input_2x2Kernel()
    {
        var g = new Conv2dGeometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1);
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        double[] w = [1, 2, 3, 4];
        var y = new double[4];
        Conv2dKernels.Forward<double>(g, x, w, [1.0], y);
        // 1·1+2·2+3·4+4·5 = 37, 2+6+15+24 = 47, 4+10+21+32 = 67, 5+12+24+36 = 77; plus bias 1
        Assert.That(y, Is.EqualTo(new double[] { 38, 48, 68, 78 }));

        double[] ones = [1, 1, 1, 1];
        var dx = new double[9];
        Conv2dKernels.BackwardInput<double>(g, ones, w, dx);
        Assert.That(dx, Is.EqualTo(new double[] { 1, 3, 2, 4, 10, 6, 3, 7, 4 }));

        var dw = new double[4];
        Conv2dKernels.BackwardWeight<double>(g, x, ones, dw);
        Assert.That(dw, Is.EqualTo(new double[] { 12, 16, 24, 28 }));

        var db = new double[1];
        Conv2dKernels.BackwardBias<double>(g, ones, db);
        Assert.That(db, Is.EqualTo(new double[] { 4 }));
    }

    [Test]
    public void Hand_Stride2_Pointwise()
    {
        var g = new Conv2dGeometry(1, 1, 4, 4, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1);
        float[] x = Enumerable.Range(1, 16).Select(i => (float)i).ToArray();
        var y = new float[4];
        Conv2dKernels.Forward<float>(g, x, [2f], [], y);
        Assert.That(y, Is.EqualTo(new float[] { 2, 6, 18, 22 }));
    }

    [Test]
    public void Hand_Padding1_3x3Ones()
    {
        // Every 3×3 window of the padded 2×2 input covers all four values: 1+2+3+4 = 10.
        var g = new Conv2dGeometry(1, 1, 2, 2, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var y = new float[4];
        Conv2dKernels.Forward<float>(g, [1f, 2, 3, 4], Enumerable.Repeat(1f, 9).ToArray(), [], y);
        Assert.That(y, Is.EqualTo(new float[] { 10, 10, 10, 10 }));
    }

    [Test]
    public void Hand_Groups2_Pointwise()
    {
        var g = new Conv2dGeometry(1, 2, 1, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 2);
        var y = new double[4];
        Conv2dKernels.Forward<double>(g, [1.0, 2, 3, 4], [3.0, 5], [0.5, -1], y);
        Assert.That(y, Is.EqualTo(new double[] { 3.5, 6.5, 14, 19 }));
    }

    [Test]
    public void Hand_SamePadding_EvenKernel_PadsBottomRight()
    {
        var g = Conv2dGeometry.Same(1, 1, 2, 2, 1, 2, 2);
        Assert.That((g.PadTop, g.PadBottom, g.PadLeft, g.PadRight, g.OutH, g.OutW), Is.EqualTo((0, 1, 0, 1, 2, 2)));
        var y = new double[4];
        Conv2dKernels.Forward<double>(g, [1.0, 2, 3, 4], [1.0, 1, 1, 1], [], y);
        Assert.That(y, Is.EqualTo(new double[] { 10, 6, 7, 4 }));
    }

    [Test]
    public void EmptyBatch_GradientsAreZero()
    {
        var g = new Conv2dGeometry(0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        Conv2dKernels.Forward<float>(g, [], new float[g.WeightLength], new float[3], []);
        Conv2dKernels.BackwardInput<float>(g, [], new float[g.WeightLength], []);
        var dw = Fill<float>(g.WeightLength);
        Conv2dKernels.BackwardWeight<float>(g, [], [], dw);
        Assert.That(dw, Is.All.EqualTo(0f));
        var db = Fill<float>(3);
        Conv2dKernels.BackwardBias<float>(g, [], db);
        Assert.That(db, Is.All.EqualTo(0f));
    }

    [Test]
    public void OutputSize_AsPyTorch()
    {
        // floor((32 + 2 − 2·2 − 1) / 2) + 1 = 15
        var g = new Conv2dGeometry(1, 1, 32, 7, 1, 3, 3, 2, 3, 1, 0, 2, 1, 1);
        Assert.That(g.OutH, Is.EqualTo(15));
        Assert.That(g.OutW, Is.EqualTo(2));   // floor((7 − 3) / 3) + 1
    }

    // ------------------------------------------------------------ validation

    private static readonly Conv2dGeometry Ok = new(1, 4, 5, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1, 2);

    private static readonly Dictionary<string, (Conv2dGeometry G, string Fragment)> BadGeometries = new()
    {
        ["OutputTooSmall"] = (Ok with { H = 2 }, "calculated output size (0x3) is too small: input (2x5)"),
        ["InChannelsNotDivisible"] = (Ok with { InC = 3 }, "in_channels (3) must be divisible by groups (2)"),
        ["OutChannelsNotDivisible"] = (Ok with { OutC = 5 }, "out_channels (5) must be divisible by groups (2)"),
        ["ZeroStride"] = (Ok with { StrideW = 0 }, "stride must be positive, got (1, 0)"),
        ["NegativeDilation"] = (Ok with { DilationH = -1 }, "dilation must be positive, got (-1, 1)"),
        ["ZeroKernel"] = (Ok with { KernelH = 0 }, "kernel size must be positive, got (0, 3)"),
        ["NegativePadding"] = (Ok with { PadW = -1 }, "padding must be non-negative, got top=0, bottom=0, left=-1, right=-1"),
        ["NegativePadRight"] = (Ok with { PadRight = -2 }, "right=-2"),
        ["ZeroGroups"] = (Ok with { Groups = 0 }, "groups must be positive, got 0"),
        ["ZeroChannels"] = (Ok with { InC = 0 }, "in_channels=0"),
    };

    private static IEnumerable<string> BadGeometryNames => BadGeometries.Keys;

    [TestCaseSource(nameof(BadGeometryNames))]
    public void BadGeometry_Throws(string name)
    {
        var (g, fragment) = BadGeometries[name];
        var ex = Assert.Throws<ArgumentException>(() => g.Validate("conv2d"));
        Assert.That(ex!.Message, Does.StartWith("conv2d:").And.Contain(fragment));
        var big = new float[10000];
        var ex2 = Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward<float>(g, big, big, [], big));
        Assert.That(ex2!.Message, Does.StartWith("conv2d:").And.Contain(fragment));
        Assert.Throws<ArgumentException>(() => Conv2dKernels.BackwardInput<float>(g, big, big, big));
        Assert.Throws<ArgumentException>(() => Conv2dKernels.BackwardWeight<float>(g, big, big, big));
    }

    [Test]
    public void WrongSpanLength_Throws()
    {
        var g = new Conv2dGeometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1);
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2dKernels.Forward<float>(g, new float[9], new float[4], [], new float[5]));
        Assert.That(ex!.Message, Does.Contain("output has 5 elements, expected 4"));
    }

    [TestCase(1), TestCase(2)]
    public void BackwardBiasOnALargeOutputMatchesTheDoubleSumForAnyThreadCount(int threads)
    {
        int saved = KernelSettings.NumThreads;
        try
        {
            KernelSettings.NumThreads = threads;
            var g = new Conv2dGeometry(8, 1, 66, 66, 9, 3, 3, 1, 1, 0, 0, 1, 1, 1);   // 8·9·64·64 ≥ 2¹⁸: parallel over channels
            var rng = new Random(3);
            var dy = new float[g.OutputLength];
            for (int i = 0; i < dy.Length; i++) dy[i] = (float)(rng.NextDouble() - 0.5);
            var db = new float[g.OutC];
            Conv2dKernels.BackwardBias<float>(g, dy, db);
            int plane = g.OutH * g.OutW;
            for (int o = 0; o < g.OutC; o++)
            {
                double s = 0;
                for (int n = 0; n < g.N; n++)
                    for (int i = 0; i < plane; i++) s += dy[(n * g.OutC + o) * plane + i];
                Assert.That(db[o], Is.EqualTo(s).Within(1e-3), $"channel {o}");
            }
        }
        finally { KernelSettings.NumThreads = saved; }
    }

    // ------------------------------------------------------------ Winograd F(2×2, 3×3)

    /// <summary>A random 3×3 stride-1 geometry that the Winograd path takes (channels ≥ 8, padding ≤ 2, odd and even sizes).</summary>
    private static Conv2dGeometry RandomWinogradGeometry(Random rng)
    {
        while (true)
        {
            var g = new Conv2dGeometry(N: rng.Next(1, 4), InC: rng.Next(8, 13), H: rng.Next(1, 12), W: rng.Next(1, 12),
                OutC: rng.Next(8, 13), KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1,
                PadH: rng.Next(0, 3), PadW: rng.Next(0, 3), DilationH: 1, DilationW: 1, Groups: 1);
            if (rng.Next(3) == 0) g = g with { PadBottom = rng.Next(0, 3), PadRight = rng.Next(0, 3) };
            if (g.OutH >= 1 && g.OutW >= 1) return g;
        }
    }

    [Test]
    public void Winograd_RandomGeometriesMatchTheDirectSum([Values(1, 3)] int threads, [Values(1, 5, 128)] int targetTiles)
    {
        // targetTiles 1 and 5 cut the tiles into many chunks (chunks spanning images and ending mid-image).
        int savedThreads = KernelSettings.NumThreads, savedTiles = KernelSettings.WinogradTargetTiles;
        long savedMin = KernelSettings.ConvParallelMinMacs;
        try
        {
            KernelSettings.NumThreads = threads;
            KernelSettings.WinogradTargetTiles = targetTiles;
            KernelSettings.ConvParallelMinMacs = 0;
            var rng = new Random(100 * threads + targetTiles);
            for (int i = 0; i < 25; i++)
            {
                var g = RandomWinogradGeometry(rng);
                Assert.That(Conv2dWinograd.Applies(g), Is.True, g.ToString());
                CheckAll<float>(g, rng);
                CheckAll<double>(g, rng);
            }
        }
        finally
        {
            KernelSettings.NumThreads = savedThreads;
            KernelSettings.WinogradTargetTiles = savedTiles;
            KernelSettings.ConvParallelMinMacs = savedMin;
        }
    }

    [Test]
    public void Winograd_TheNetworkShapesMatchIm2ColInFloat()
    {
        // The convolutions of the cnn/resnet workloads (batch cut to 2) and two wide ones, Winograd against im2col.
        var shapes = new[]
        {
            new Conv2dGeometry(2, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 1, 1, 1),
            new Conv2dGeometry(2, 32, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            new Conv2dGeometry(2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            // Wide rows: several 16-tile vector blocks per row, the last one partial (odd and even output widths).
            new Conv2dGeometry(2, 8, 7, 45, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            new Conv2dGeometry(1, 9, 5, 70, 10, 3, 3, 1, 1, 2, 2, 1, 1, 1),
        };
        var rng = new Random(11);
        foreach (var g in shapes)
        {
            float[] x = Random<float>(rng, g.InputLength), w = Random<float>(rng, g.WeightLength);
            float[] b = Random<float>(rng, g.OutC), dy = Random<float>(rng, g.OutputLength);
            float[] Run(bool winograd, int pass)
            {
                bool saved = KernelSettings.WinogradEnabled;
                try
                {
                    KernelSettings.WinogradEnabled = winograd;
                    Assert.That(Conv2dWinograd.Applies(g), Is.EqualTo(winograd));
                    switch (pass)
                    {
                        case 0: { var y = new float[g.OutputLength]; Conv2dKernels.Forward<float>(g, x, w, b, y); return y; }
                        case 1: { var dx = new float[g.InputLength]; Conv2dKernels.BackwardInput<float>(g, dy, w, dx); return dx; }
                        default: { var dw = new float[g.WeightLength]; Conv2dKernels.BackwardWeight<float>(g, x, dy, dw); return dw; }
                    }
                }
                finally { KernelSettings.WinogradEnabled = saved; }
            }
            for (int pass = 0; pass < 3; pass++)
            {
                float[] a = Run(true, pass), e = Run(false, pass);
                double maxErr = 0, maxVal = 0;
                for (int i = 0; i < a.Length; i++) { maxErr = Math.Max(maxErr, Math.Abs(a[i] - e[i])); maxVal = Math.Max(maxVal, Math.Abs(e[i])); }
                // A few float32 ulps of the largest value: the transforms only add and halve.
                Assert.That(maxErr, Is.LessThan(maxVal * 2e-6), $"{g} pass {pass}: max |winograd − im2col| {maxErr} of max {maxVal}");
            }
        }
    }

    [Test]
    public void Winograd_IsNotTakenOutsideItsDomain()
    {
        var baseG = new Conv2dGeometry(1, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        Assert.That(Conv2dWinograd.Applies(baseG), Is.True);
        Assert.That(Conv2dWinograd.Applies(baseG with { StrideH = 2 }), Is.False);
        Assert.That(Conv2dWinograd.Applies(baseG with { DilationW = 2 }), Is.False);
        Assert.That(Conv2dWinograd.Applies(baseG with { KernelH = 5 }), Is.False);
        Assert.That(Conv2dWinograd.Applies(baseG with { Groups = 2 }), Is.False);
        Assert.That(Conv2dWinograd.Applies(baseG with { InC = 4 }), Is.False);
        Assert.That(Conv2dWinograd.Applies(baseG with { PadH = 3 }), Is.False);
    }
}
