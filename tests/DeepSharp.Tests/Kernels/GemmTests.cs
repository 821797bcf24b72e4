using System.Numerics;
using DeepSharp.Kernels;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Gemm against a triple-loop reference in double. Run once normally and once with
/// DEEPSHARP_PORTABLE_SIMD=1 to cover both the AVX2/FMA and the portable micro-kernels.
/// </summary>
[TestFixture, Category("Kernels")]
public class GemmTests
{
    private int _savedThreads;

    [SetUp] public void SaveThreads() => _savedThreads = KernelSettings.NumThreads;
    [TearDown] public void RestoreThreads() => KernelSettings.NumThreads = _savedThreads;

    // ----- helpers ---------------------------------------------------------------------------

    /// <summary>One GEMM problem: operands stored with padded strides; C holds random values (or NaN) and a sentinel in its padding.</summary>
    private sealed class Case<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool TA, TB;
        public int M, N, K, Lda, Ldb, Ldc;
        public T Alpha, Beta;
        public T[] A = [], B = [], C = [];

        public static Case<T> Make(Random rng, bool ta, bool tb, int m, int n, int k, double alpha, double beta,
            int padA = 0, int padB = 0, int padC = 0, bool nanC = false)
        {
            var c = new Case<T> { TA = ta, TB = tb, M = m, N = n, K = k, Alpha = T.CreateChecked(alpha), Beta = T.CreateChecked(beta) };
            int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
            c.Lda = ac + padA; c.Ldb = bc + padB; c.Ldc = n + padC;
            c.A= Fill<T>(rng, Math.Max(0, ar * c.Lda));
            c.B= Fill<T>(rng, Math.Max(0, br * c.Ldb));
            c.C= Fill<T>(rng, Math.Max(0, m * c.Ldc));
            for (int i = 0; i < m; i++)
                for (int j = 0; j < c.Ldc; j++)
                    if (j >= n) c.C[i * c.Ldc + j] = T.CreateChecked(12345.0);
                    else if (nanC) c.C[i * c.Ldc + j] = T.NaN;
            return c;
        }

        public double[] Reference()
        {
            var r = new double[C.Length];
            for (int idx = 0; idx < C.Length; idx++) r[idx] = double.CreateChecked(C[idx]);
            double al = double.CreateChecked(Alpha), be = double.CreateChecked(Beta);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                {
                    double s = 0;
                    for (int p = 0; p < K; p++) s += GetA(i, p) * GetB(p, j);
                    double old = r[i * Ldc + j];
                    r[i * Ldc + j] = al * s + (be == 0 ? 0 : be * old);
                }
            return r;
        }

        /// <summary>Error bound per element: ~(k+2)·eps·(|alpha|·Σ|a||b| + |beta·c|).</summary>
        public double Tolerance(int i, int j, double[] cBefore)
        {
            double s = 0;
            for (int p = 0; p < K; p++) s += Math.Abs(GetA(i, p) * GetB(p, j));
            double be = double.CreateChecked(Beta);
            double cb = be == 0 ? 0 : Math.Abs(be * cBefore[i * Ldc + j]);
            double eps = typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16;
            return 2 * (K + 2) * eps * (Math.Abs(double.CreateChecked(Alpha)) * s + cb) + 1e-30;
        }

        public double GetA(int i, int p) => double.CreateChecked(TA ? A[p * Lda + i] : A[i * Lda + p]);
        public double GetB(int p, int j) => double.CreateChecked(TB ? B[j * Ldb + p] : B[p * Ldb + j]);

        public void Run() => Gemm.Compute(TA, TB, M, N, K, Alpha, A, Lda, B, Ldb, Beta, C, Ldc);

        public override string ToString() =>
            $"{typeof(T).Name} tA={TA} tB={TB} m={M} n={N} k={K} lda={Lda} ldb={Ldb} ldc={Ldc} alpha={Alpha} beta={Beta}";
    }

    private static T[] Fill<T>(Random rng, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = new T[n];
        for (int i = 0; i < n; i++) x[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Runs the case and returns null when C matches the reference (padding untouched), else a message.</summary>
    private static string? Check<T>(Case<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var before = new double[c.C.Length];
        for (int i = 0; i < before.Length; i++) before[i] = double.CreateChecked(c.C[i]);
        double[] expected = c.Reference();
        c.Run();
        for (int i = 0; i < c.M; i++)
            for (int j = 0; j < c.Ldc; j++)
            {
                double got = double.CreateChecked(c.C[i * c.Ldc + j]);
                double want = expected[i * c.Ldc + j];
                if (j >= c.N)
                {
                    if (got != 12345.0) return $"{c}: padding C[{i},{j}] changed to {got}";
                    continue;
                }
                double tol = c.Tolerance(i, j, before);
                if (!(Math.Abs(got - want) <= tol))
                    return $"{c}: C[{i},{j}] = {got}, expected {want} (tol {tol:G3})";
            }
        return null;
    }

    private static void AssertCase<T>(Case<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string? err = Check(c);
        Assert.That(err, Is.Null, err);
    }

    // Shapes around MR (6; 12 on AVX-512, whose tiles of ≤ 6 valid rows run a 6-row kernel), NR (32/16 on AVX-512, 16/8 on AVX2, 8/4 portable), MC (144/72), KC (256/384), NC (4080)
    // and the threading thresholds.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 1, 7), (2, 3, 1), (5, 7, 3), (6, 16, 8), (7, 17, 9), (6, 8, 5), (12, 32, 2),
        (11, 15, 31), (6, 32, 8), (7, 33, 9), (12, 64, 5), (6, 31, 385), (13, 9, 257), (1, 70, 40), (70, 1, 40), (1, 1, 300),
        (145, 17, 20), (73, 30, 513), (150, 70, 260), (70, 150, 260), (2, 4100, 3), (97, 101, 103),
        (8, 32, 17), (18, 64, 9), (23, 48, 13), (24, 33, 8), (43, 40, 300), (29, 96, 24),   // 12-row tiles: 7–11 and ≤ 6 valid rows
        (13, 9, 2100), (40, 33, 4096), (1, 300, 2048),   // long K: split along K
    ];

    private static IEnumerable<TestCaseData> ShapeCases()
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                yield return new TestCaseData(ta, tb).SetArgDisplayNames($"tA={ta}", $"tB={tb}");
    }

    // ----- shapes × transposes, float and double -----------------------------------------------

    [TestCaseSource(nameof(ShapeCases))]
    public void Float_MatchesReference(bool ta, bool tb) => RunShapes<float>(ta, tb, seed: 1);

    [TestCaseSource(nameof(ShapeCases))]
    public void Double_MatchesReference(bool ta, bool tb) => RunShapes<double>(ta, tb, seed: 2);

    private static void RunShapes<T>(bool ta, bool tb, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed * 4 + (ta ? 2 : 0) + (tb ? 1 : 0));
        (double Alpha, double Beta)[] scalars = [(1, 0), (2.5, -0.5), (-1, 1), (0.75, 2)];
        int idx = 0;
        foreach (var (m, n, k) in Shapes)
        {
            var (alpha, beta) = scalars[idx % scalars.Length];
            int pad = idx % 3 == 0 ? 0 : idx % 5 + 1;
            AssertCase(Case<T>.Make(rng, ta, tb, m, n, k, alpha, beta, pad, pad + 1, pad + 2));
            idx++;
        }
    }

    // The driver reads a row-major operand in place or packs it depending on the other dimension (and on the SIMD
    // path); force each choice on every shape so both are tested whatever the defaults are.
    [TestCase(0, 0), TestCase(100_000, 0), TestCase(0, 100_000)]
    public void InPlaceAndPackedOperands_MatchReference(int inPlaceBMaxM, int inPlaceAMaxN)
    {
        int savedB = KernelSettings.GemmUnpackedBMaxM, savedA = KernelSettings.GemmUnpackedAMaxN;
        try
        {
            KernelSettings.GemmUnpackedBMaxM = inPlaceBMaxM;
            KernelSettings.GemmUnpackedAMaxN = inPlaceAMaxN;
            RunShapes<float>(false, false, seed: 11);
            RunShapes<double>(false, false, seed: 12);
        }
        finally { KernelSettings.GemmUnpackedBMaxM = savedB; KernelSettings.GemmUnpackedAMaxN = savedA; }
    }

    // ----- BLAS semantics ---------------------------------------------------------------------

    [TestCase(false, false), TestCase(true, true), TestCase(false, true), TestCase(true, false)]
    public void BetaZero_OverwritesNaN(bool ta, bool tb)
    {
        var rng = new Random(7);
        AssertCase(Case<float>.Make(rng, ta, tb, 13, 21, 9, 1.5, 0, 1, 2, 3, nanC: true));
        AssertCase(Case<double>.Make(rng, ta, tb, 13, 21, 9, 1.5, 0, 1, 2, 3, nanC: true));
        AssertCase(Case<float>.Make(rng, ta, tb, 130, 210, 90, 1, 0, nanC: true));
    }

    [Test]
    public void KZero_ScalesC()
    {
        var rng = new Random(8);
        AssertCase(Case<float>.Make(rng, false, false, 5, 7, 0, 1, 0.5, padC: 2));
        AssertCase(Case<double>.Make(rng, true, true, 5, 7, 0, 3, 0, padC: 2, nanC: true));
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Compute(false, false, 2, 2, 0, 1f, ReadOnlySpan<float>.Empty, 0, ReadOnlySpan<float>.Empty, 2, 2f, c, 2);
        Assert.That(c, Is.EqualTo(new float[] { 2, 4, 6, 8 }));
    }

    [Test]
    public void AlphaZero_ScalesC_IgnoringNaNInputs()
    {
        var a = new double[] { double.NaN, 1, 2, 3 };
        var c = new double[] { 1, 2, 3, 4 };
        Gemm.Compute(false, false, 2, 2, 2, 0.0, a, 2, a, 2, 0.5, c, 2);
        Assert.That(c, Is.EqualTo(new double[] { 0.5, 1, 1.5, 2 }));
    }

    [Test]
    public void EmptyOutput_IsANoOp()
    {
        var c = new float[] { 42 };
        Gemm.Compute(false, false, 0, 5, 3, 1f, ReadOnlySpan<float>.Empty, 3, new float[15], 5, 0f, c, 5);
        Gemm.Compute(false, false, 5, 0, 3, 1f, new float[15], 3, ReadOnlySpan<float>.Empty, 0, 0f, c, 0);
        Assert.That(c[0], Is.EqualTo(42f));
    }

    // ----- threads ----------------------------------------------------------------------------

    [TestCase(1), TestCase(2), TestCase(3)]
    public void Threads_MatchReference(int threads)
    {
        KernelSettings.NumThreads = threads;
        var rng = new Random(11 + threads);
        AssertCase(Case<float>.Make(rng, false, false, 301, 257, 300, 1, 0));
        AssertCase(Case<float>.Make(rng, true, true, 190, 333, 270, -2, 0.5, 3, 1, 2));
        AssertCase(Case<double>.Make(rng, false, true, 257, 129, 200, 1, 1));
        AssertCase(Case<double>.Make(rng, true, false, 40, 500, 300, 1, 0));
    }

    [Test]
    public void OneAndTwoThreads_Agree()
    {
        var rng = new Random(12);
        var c1 = Case<float>.Make(rng, false, false, 260, 300, 280, 1, 0);
        var c2 = new Case<float> { TA = c1.TA, TB = c1.TB, M = c1.M, N = c1.N, K = c1.K, Lda = c1.Lda, Ldb = c1.Ldb, Ldc = c1.Ldc,
            Alpha = c1.Alpha, Beta = c1.Beta, A = c1.A, B = c1.B, C = (float[])c1.C.Clone() };
        KernelSettings.NumThreads = 1;
        c1.Run();
        KernelSettings.NumThreads = 2;
        c2.Run();
        // The parts are whole micro-panels with the same K blocking, so the sums are identical.
        Assert.That(c2.C, Is.EqualTo(c1.C));
    }

    // Row-split (tall: B packed once and shared, row chunks; or, below the shared-B work threshold, each thread packing
    // its own B) and column-split (wide: halves of the columns) GEMMs over several KC blocks (K = 700) match the
    // reference and have the same bits for any thread count and either row split — with the default KC and with the
    // doubled KC of a large C (forced here by a threshold of exactly this C's size: it is decided on the whole C, and a
    // thread's part, smaller, must not fall back to the default KC).
    [TestCase(false, false, true), TestCase(true, true, true), TestCase(false, true, true), TestCase(true, false, true)]
    [TestCase(false, false, false), TestCase(true, true, false), TestCase(false, true, false), TestCase(true, false, false)]
    public void SplitGemms_SameBitsForAnyThreadCount(bool ta, bool tb, bool tall)
    {
        var rng = new Random(31 + (ta ? 2 : 0) + (tb ? 1 : 0) + (tall ? 4 : 0));
        var first = tall ? Case<float>.Make(rng, ta, tb, 307, 290, 700, 1.5, 0.5, 1, 2, 3)
                         : Case<float>.Make(rng, ta, tb, 150, 470, 700, 1.5, 0.5, 1, 2, 3);
        var c0 = (float[])first.C.Clone();
        long savedWork = KernelSettings.GemmSharedBMinWork, savedLongKc = KernelSettings.GemmLongKcMinC;
        try
        {
            foreach (long longKcMinC in new[] { savedLongKc, (long)first.M * first.N })
            {
                float[]? bits = null;
                foreach (long minWork in tall ? new[] { 0L, long.MaxValue } : new[] { savedWork })
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        KernelSettings.GemmLongKcMinC = longKcMinC;
                        KernelSettings.GemmSharedBMinWork = minWork;
                        KernelSettings.NumThreads = threads;
                        var run = new Case<float> { TA = ta, TB = tb, M = first.M, N = first.N, K = first.K, Lda = first.Lda, Ldb = first.Ldb,
                            Ldc = first.Ldc, Alpha = first.Alpha, Beta = first.Beta, A = first.A, B = first.B, C = (float[])c0.Clone() };
                        AssertCase(run);
                        var again = new Case<float> { TA = ta, TB = tb, M = first.M, N = first.N, K = first.K, Lda = first.Lda, Ldb = first.Ldb,
                            Ldc = first.Ldc, Alpha = first.Alpha, Beta = first.Beta, A = first.A, B = first.B, C = (float[])c0.Clone() };
                        again.Run();
                        if (bits is null) bits = again.C;
                        else Assert.That(again.C, Is.EqualTo(bits), $"{threads} threads, shared-B threshold {minWork}, long-KC threshold {longKcMinC}");
                    }
            }
        }
        finally { KernelSettings.GemmSharedBMinWork = savedWork; KernelSettings.GemmLongKcMinC = savedLongKc; }
    }

    // ----- batched ----------------------------------------------------------------------------

    [TestCase(1, 0, 1, 1), TestCase(2, 1, 0, 1), TestCase(1, 1, 1, 2), TestCase(2, 0, 0, 2)]
    public void Batched_MatchesPerMatrixReference(int threads, int broadcastA, int broadcastB, int sizeClass)
    {
        KernelSettings.NumThreads = threads;
        var rng = new Random(20 + threads * 7 + broadcastA * 3 + broadcastB + sizeClass * 11);
        // sizeClass 1: small matrices (spread over the batch); 2: larger ones (each split over threads).
        var (m, n, k, batch) = sizeClass == 1 ? (9, 13, 7, 11) : (150, 120, 130, 3);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                RunBatched<float>(rng, batch, ta, tb, m, n, k, broadcastA == 1, broadcastB == 1);
        RunBatched<double>(rng, batch, true, false, m, n, k, broadcastA == 1, broadcastB == 1);
    }

    private static void RunBatched<T>(Random rng, int batch, bool ta, bool tb, int m, int n, int k, bool bcastA, bool bcastB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cases = new Case<T>[batch];
        for (int i = 0; i < batch; i++) cases[i] = Case<T>.Make(rng, ta, tb, m, n, k, 1.5, i % 2 == 0 ? 0 : 0.5, 1, 2, 3);
        if (bcastA) foreach (var c in cases) c.A = cases[0].A;
        if (bcastB) foreach (var c in cases) c.B = cases[0].B;
        int sa = bcastA ? 0 : cases[0].A.Length + 5, sb = bcastB ? 0 : cases[0].B.Length + 1, sc = cases[0].C.Length + 2;
        var a = new T[bcastA ? cases[0].A.Length : sa * batch];
        var b = new T[bcastB ? cases[0].B.Length : sb * batch];
        var cAll = new T[sc * batch];
        for (int i = 0; i < batch; i++)
        {
            cases[i].A.CopyTo(a, i * sa);
            cases[i].B.CopyTo(b, i * sb);
            cases[i].C.CopyTo(cAll, i * sc);
        }
        // Beta differs per matrix in the cases but the batched call has one beta: use beta = 0.5 everywhere.
        foreach (var c in cases) c.Beta = T.CreateChecked(0.5);
        var expected = cases.Select(c => c.Reference()).ToArray();
        var before = cases.Select(c => c.C.Select(double.CreateChecked).ToArray()).ToArray();
        Gemm.ComputeStridedBatched(batch, ta, tb, m, n, k, cases[0].Alpha, a, cases[0].Lda, sa, b, cases[0].Ldb, sb,
            T.CreateChecked(0.5), cAll, cases[0].Ldc, sc);
        for (int i = 0; i < batch; i++)
        {
            var c = cases[i];
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                {
                    double got = double.CreateChecked(cAll[i * sc + r * c.Ldc + j]);
                    double want = expected[i][r * c.Ldc + j];
                    double tol = c.Tolerance(r, j, before[i]);
                    Assert.That(Math.Abs(got - want), Is.LessThanOrEqualTo(tol), $"batch {i} of {c}: C[{r},{j}]");
                }
            for (int idx = m * c.Ldc; idx < sc && i < batch - 1; idx++)
                Assert.That(double.CreateChecked(cAll[i * sc + idx]), Is.EqualTo(0.0), $"gap after batch {i} changed");
        }
    }

    [Test]
    public void Batched_EmptyAndKZero()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.ComputeStridedBatched(0, false, false, 1, 1, 1, 1f, ReadOnlySpan<float>.Empty, 1, 1, ReadOnlySpan<float>.Empty, 1, 1, 0f, c, 1, 1);
        Assert.That(c, Is.EqualTo(new float[] { 1, 2, 3, 4 }));
        Gemm.ComputeStridedBatched(2, false, false, 1, 2, 0, 1f, ReadOnlySpan<float>.Empty, 0, 0, ReadOnlySpan<float>.Empty, 2, 0, 0f, c, 2, 2);
        Assert.That(c, Is.EqualTo(new float[] { 0, 0, 0, 0 }));
    }

    // ----- validation -------------------------------------------------------------------------

    [Test]
    public void Validation_RejectsBadArguments()
    {
        var a = new float[6]; var b = new float[6]; var c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 3, 1f, a.AsSpan(0, 5), 3, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 3, 1f, a, 3, b.AsSpan(0, 5), 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c.AsSpan(0, 3), 2));
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));  // lda < k
        Assert.Throws<ArgumentException>(() => Gemm.Compute(true, false, 2, 2, 3, 1f, a, 1, b, 2, 0f, c, 2));   // lda < m
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, true, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));   // ldb < k
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 1));  // ldc < n
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.ComputeStridedBatched(2, false, false, 2, 2, 3, 1f, a, 3, 6, b, 2, 0, 0f, c, 2, 4));
        Assert.Throws<ArgumentException>(() => Gemm.ComputeStridedBatched(2, false, false, 1, 2, 3, 1f, a, 3, 3, b, 2, 0, 0f, c, 2, 0));
        Assert.Throws<NotSupportedException>(() => Gemm.Compute(false, false, 1, 1, 1, (Half)1, new Half[1], 1, new Half[1], 1, (Half)0, new Half[1], 1));
    }

    // ----- random property --------------------------------------------------------------------

    [FsCheck.NUnit.Property(MaxTest = 150, QuietOnSuccess = true)]
    public Property RandomShapes_MatchReference() =>
        Prop.ForAll(
            Gen.Choose(0, 40).Three().Zip(Gen.Choose(0, 15).Three()).Zip(Gen.Elements(0, 1, 2, 3).Two()).ToArbitrary(),
            x =>
            {
                var (((m, n, k), (pa, pb, pc)), (flags, ab)) = x;
                var rng = new Random(m * 1000003 + n * 1009 + k * 7 + pa + flags * 31 + ab);
                double alpha = ab switch { 0 => 1, 1 => -0.5, 2 => 2, _ => 0.25 };
                double beta = ab switch { 0 => 0, 1 => 1, 2 => -1.5, _ => 0 };
                bool ta = (flags & 1) != 0, tb = (flags & 2) != 0;
                string? e1 = Check(Case<float>.Make(rng, ta, tb, m, n, k, alpha, beta, pa % 4, pb % 4, pc % 4, nanC: beta == 0));
                string? e2 = Check(Case<double>.Make(rng, ta, tb, m, n, k, alpha, beta, pa % 3, pb % 3, pc % 3));
                return (e1 is null && e2 is null).Label(e1 ?? e2 ?? "");
            });

    [Test]
    public void LongKSplitGivesTheSameBitsForAnyThreadCount()
    {
        var rng = new Random(11);
        int m = 64, n = 48, k = 3000;
        var a = new float[m * k]; var b = new float[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
        float[] Run(int threads)
        {
            KernelSettings.NumThreads = threads;
            var c = new float[m * n];
            for (int i = 0; i < c.Length; i++) c[i] = 1f;
            Gemm.Compute(false, false, m, n, k, 0.5f, a, k, b, n, 2f, c, n);
            return c;
        }
        var one = Run(1);
        Assert.That(Run(2), Is.EqualTo(one));
        Assert.That(Run(3), Is.EqualTo(one));
        // and the values: alpha·A·B + beta·C against a double reference
        for (int i = 0; i < m; i += 7)
            for (int j = 0; j < n; j += 5)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                Assert.That(one[i * n + j], Is.EqualTo(0.5 * s + 2.0).Within(1e-3));
            }
    }
}
