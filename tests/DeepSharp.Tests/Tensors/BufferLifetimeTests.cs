using DeepSharp.NN;

namespace DeepSharp.Tests;

/// <summary>Buffers whose last use is known return to the pool at that moment, without a GC: the log-probabilities
/// cross-entropy keeps for its backward, dropout's draws and mask, and the pool's limit follows the working set.
/// Each test uses a length no other test allocates, so what it finds in the pool is its own.</summary>
[TestFixture, NonParallelizable]
public class BufferLifetimeTests
{
    private long _min, _max;
    private bool _recycle;

    // GC-driven recycling off: what reaches the pool here was given back deterministically.
    [SetUp]
    public void Save()
    {
        _min = BufferPoolSettings.MinPooledBytes; _max = BufferPoolSettings.MaxPooledBytes;
        _recycle = BufferPoolSettings.RecycleUnreachable;
        BufferPoolSettings.RecycleUnreachable = false;
        Recycler.Reset();
    }

    [TearDown]
    public void Restore()
    {
        BufferPoolSettings.MinPooledBytes = _min; BufferPoolSettings.MaxPooledBytes = _max;
        BufferPoolSettings.RecycleUnreachable = _recycle;
        Recycler.Reset();   // the demand history of PoolLimitFollowsTheWorkingSet must not reach the next fixture
    }

    private static int Pooled(int length)
    {
        int n = 0;
        var taken = new List<float[]>();
        while (BufferPool<float>.TryRent(length) is { } a) { taken.Add(a); n++; }
        return n;
    }

    [Test]
    public void CrossEntropyLogProbabilitiesReturnWhenItsNodeRuns()
    {
        const int rows = 37, classes = 1009;   // 149 KB, a length only this test uses
        var logits = Tensor.Randn([rows, classes], DType.Float32, new Generator(1)).RequiresGrad_();
        var target = Tensor.RandInt(0, classes, [rows], generator: new Generator(2));
        Pooled(rows * classes);
        var loss = F.CrossEntropy(logits, target);
        Assert.That(Pooled(rows * classes), Is.Zero, "kept for the backward");
        loss.Backward();
        Assert.That(Pooled(rows * classes), Is.EqualTo(1), "released by the engine as soon as NllLossBackward ran");
        GC.KeepAlive(logits);
    }

    [Test]
    public void CrossEntropyWithoutGradReturnsAtOnce()
    {
        const int rows = 41, classes = 1013;
        var logits = Tensor.Randn([rows, classes], DType.Float32, new Generator(1));
        var target = Tensor.RandInt(0, classes, [rows], generator: new Generator(2));
        Pooled(rows * classes);
        using (Autograd.NoGrad()) F.CrossEntropy(logits, target);
        Assert.That(Pooled(rows * classes), Is.EqualTo(1));
    }

    [Test]
    public void DropoutTemporariesReturnAtOnceWithoutAGraphAndTheMaskWhenItsNodeRuns()
    {
        const int n = 43 * 1019;
        var x = Tensor.Randn([43, 1019], DType.Float32, new Generator(1));
        Pooled(n);
        Tensor y;
        using (Autograd.NoGrad()) y = F.Dropout(x, 0.5, generator: new Generator(3));
        // draws (A) die before the 0/1 mask is made, which reuses A; the scaled mask (B) reuses nothing, A dies
        // again and y takes it; B dies when the product is made: one buffer in the pool, none fresh beyond two.
        Assert.That(Pooled(n), Is.EqualTo(1), "the scaled mask, back as soon as y exists");
        var xg = x.Detach().RequiresGrad_();
        var y2 = F.Dropout(xg, 0.5, generator: new Generator(3));
        Assert.That(Pooled(n), Is.Zero, "the scaled mask is saved for the backward");
        Assert.That(y2.ToArray<float>(), Is.EqualTo(y.ToArray<float>()), "same draws, same result");
        y2.Sum().Backward();
        Assert.That(Pooled(n), Is.EqualTo(1), "the scaled mask, once MulBackward ran");
        Assert.That(xg.Grad!.ToArray<float>(), Is.EqualTo(y.ToArray<float>().Select(v => v == 0 ? 0f : 2f).ToArray()));
    }

    [Test]
    public void CreateGraphKeepsTheMaskForTheNewGraph()
    {
        var x = Tensor.Randn([47, 1021], DType.Float64, new Generator(1)).RequiresGrad_();
        var w = Tensor.Randn([47, 1021], DType.Float64, new Generator(2)).RequiresGrad_();
        var gx = Autograd.Grad((F.Dropout(x, 0.5, generator: new Generator(3)) * w).Sum(), x, createGraph: true, retainGraph: false);
        gx.Sum().Backward();   // d/dw of sum(w · mask): reads the mask through the graph the first backward built
        Tensor mask;
        using (Autograd.NoGrad()) mask = F.Dropout(Tensor.OnesLike(x), 0.5, generator: new Generator(3));
        Assert.That(w.Grad!.ToArray<double>(), Is.EqualTo(mask.ToArray<double>()));
    }

    [Test]
    public void PoolLimitFollowsTheWorkingSet()
    {
        BufferPoolSettings.MaxPooledBytes = long.MaxValue;
        BufferPoolSettings.NoteDemand(3L << 30);
        Assert.That(BufferPoolSettings.Limit, Is.EqualTo(6L << 30), "no fixed cap below a large step's working set");
        for (int i = 0; i < 200; i++) BufferPoolSettings.NoteDemand(1 << 20);
        Assert.That(BufferPoolSettings.Limit, Is.EqualTo(256L << 20), "smaller steps: the limit comes back down");
        BufferPoolSettings.MaxPooledBytes = 64L << 20;
        Assert.That(BufferPoolSettings.Limit, Is.EqualTo(64L << 20), "a fixed cap still applies");
    }
}
