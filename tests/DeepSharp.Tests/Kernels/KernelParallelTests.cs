using DeepSharp.Kernels;

namespace DeepSharp.Tests;

/// <summary>The kernels' fork/join: every iteration runs exactly once, exceptions reach the caller unchanged,
/// nested and concurrent calls are correct.</summary>
[TestFixture, Category("Kernels")]
public class KernelParallelTests
{
    private int _threads;
    [SetUp] public void Save() => _threads = KernelSettings.NumThreads;
    [TearDown] public void Restore() => KernelSettings.NumThreads = _threads;

    [TestCase(1), TestCase(2), TestCase(4)]
    public void EveryIterationRunsOnce(int threads)
    {
        KernelSettings.NumThreads = threads;
        for (int n = 0; n < 40; n++)
        {
            var hits = new int[n];
            KernelParallel.For(0, n, i => Interlocked.Increment(ref hits[i]));
            Assert.That(hits, Is.All.EqualTo(1), $"n = {n}");
        }
    }

    [Test]
    public void UsesMoreThanOneThread()
    {
        KernelSettings.NumThreads = 2;
        var ids = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        for (int attempt = 0; attempt < 50 && ids.Count < 2; attempt++)
            KernelParallel.For(0, 2, _ => { ids[Environment.CurrentManagedThreadId] = true; Thread.Sleep(20); });
        Assert.That(ids.Count, Is.EqualTo(2));
    }

    [Test]
    public void ExceptionReachesTheCallerWithItsType()
    {
        KernelSettings.NumThreads = 2;
        var e = Assert.Throws<ArgumentException>(() =>
            KernelParallel.For(0, 8, i => { if (i == 5) throw new ArgumentException("boom at 5"); }));
        Assert.That(e!.Message, Does.Contain("boom at 5"));
        var hits = new int[8];                                  // the pool still works afterwards
        KernelParallel.For(0, 8, i => hits[i]++);
        Assert.That(hits, Is.All.EqualTo(1));
    }

    [Test]
    public void NestedCallsRunInlineAndSeeOneThread()
    {
        KernelSettings.NumThreads = 2;
        var inner = new int[4 * 6];
        int[] seenThreads = new int[4];
        KernelParallel.For(0, 4, i =>
        {
            seenThreads[i] = KernelSettings.NumThreads;
            KernelParallel.For(0, 6, j => inner[i * 6 + j]++);
        });
        Assert.That(inner, Is.All.EqualTo(1));
        Assert.That(seenThreads, Is.All.EqualTo(1));
    }

    [Test]
    public void ConcurrentCallersGetCorrectResults()
    {
        KernelSettings.NumThreads = 2;
        var rng = new Random(4);
        var a = new float[96 * 80]; var b = new float[80 * 72];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        var expected = new float[96 * 72];
        Gemm.Compute(false, false, 96, 72, 80, 1f, a, 80, b, 72, 0f, expected, 72);
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int r = 0; r < 20; r++)
            {
                var c = new float[96 * 72];
                Gemm.Compute(false, false, 96, 72, 80, 1f, a, 80, b, 72, 0f, c, 72);
                if (!c.AsSpan().SequenceEqual(expected)) Interlocked.Increment(ref failures);
            }
        });
        Assert.That(failures, Is.Zero);
    }
}
