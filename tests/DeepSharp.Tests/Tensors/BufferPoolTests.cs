using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests;

/// <summary>Pooled tensor storage: the engine recycles the gradients it owns, Dispose recycles on request, and
/// no buffer is ever handed out while a live tensor still references it.</summary>
[TestFixture]
public class BufferPoolTests
{
    private long _min, _max;

    [SetUp]
    public void SaveSettings() { _min = BufferPoolSettings.MinPooledBytes; _max = BufferPoolSettings.MaxPooledBytes; }

    [TearDown]
    public void RestoreSettings()
    {
        BufferPoolSettings.MinPooledBytes = _min;
        BufferPoolSettings.MaxPooledBytes = _max;
    }

    private static float[] TrainAndSnapshot(int seed, int steps, List<float[]>? intermediates = null)
    {
        var g = new Generator(seed);
        var model = new Sequential(
            new Conv2d(1, 4, 3, padding: 1, generator: g), new BatchNorm2d(4), new ReLU(),
            new ResidualBlock(4, 4, generator: g), new MaxPool2d(2), new Flatten(),
            new Linear(4 * 6 * 6, 32, generator: g), new ReLU(), new Linear(32, 5, generator: g));
        var opt = new Adam(model.Parameters(), lr: 1e-2);
        var loss = new CrossEntropyLoss();
        var x = Tensor.Randn([8, 1, 12, 12], DType.Float32, g);
        var y = Tensor.RandInt(0, 5, [8], generator: g);
        var kept = new List<(Tensor T, float[] Expected)>();
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            var h = model[0].Forward(x);
            var logits = model.Skip(1).Aggregate(h, (t, m) => m.Forward(t));
            var l = loss.Forward(logits, y);
            l.Backward();
            // The user keeps references to an intermediate, the logits and a gradient: they must stay intact.
            kept.Add((h, h.ToArray<float>()));
            kept.Add((logits, logits.ToArray<float>()));
            var grad0 = model.Parameters().First().Grad!;
            kept.Add((grad0, grad0.ToArray<float>()));
            opt.Step();
            intermediates?.Add(l.ToArray<float>());
        }
        // Parameter gradients were read before Step; the intermediates must not have been overwritten since.
        foreach (var (t, expected) in kept.Where(k => !k.T.IsLeaf || k.T.RequiresGrad == false))
            Assert.That(t.ToArray<float>(), Is.EqualTo(expected), "a live tensor's buffer was reused");
        return [.. model.Parameters().SelectMany(p => p.ToArray<float>())];
    }

    [Test]
    public void PooledRunsMatchUnpooledRunAcrossThreads()
    {
        BufferPoolSettings.MaxPooledBytes = 0;                 // no pooling: the reference
        var reference = TrainAndSnapshot(7, 6);
        BufferPoolSettings.MaxPooledBytes = 64L << 20;
        BufferPoolSettings.MinPooledBytes = 256;               // pool nearly everything, to stress reuse
        var results = new float[8][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = TrainAndSnapshot(7, 6));
        foreach (var r in results) Assert.That(r, Is.EqualTo(reference));
        Assert.That(BufferPoolSettings.Hits, Is.GreaterThan(0));
    }

    [Test]
    public void DisposeReleasesStorageAndViewsThrow()
    {
        BufferPoolSettings.MinPooledBytes = 256;
        var t = Tensor.Randn([64, 64], DType.Float32);
        var view = t.T;
        t.Dispose();
        Assert.That(t.IsDisposed && view.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => view.Sum());
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => (t + 1).Sum());
        t.Dispose();                                           // idempotent
        var fresh = Tensor.Ones([64, 64], DType.Float32);     // may reuse the released buffer
        Assert.That(fresh.Sum().Item(), Is.EqualTo(4096));
        Assert.That(t.IsDisposed, Is.True);
    }

    [Test]
    public void GradientsSharedByTwoEdgesStayIndependent()
    {
        BufferPoolSettings.MinPooledBytes = 256;
        var a = Tensor.Randn([32, 32], DType.Float32).RequiresGrad_();
        var b = Tensor.Randn([32, 32], DType.Float32).RequiresGrad_();
        for (int i = 0; i < 3; i++)
        {
            a.Grad = null; b.Grad = null;
            var s = a + b;                                     // AddBackward hands the same gradient to both
            var u = (s * 3).Relu() + s.View(-1).View(32, 32);  // a view path and a sum at s
            u.Sum().Backward();
            var ga = a.Grad!.ToArray<float>();
            Assert.That(b.Grad!.ToArray<float>(), Is.EqualTo(ga));
            b.Grad!.Add_(Tensor.Ones([32, 32], DType.Float32));
            Assert.That(a.Grad!.ToArray<float>(), Is.EqualTo(ga), "two leaves must not share a gradient buffer");
        }
    }

    [Test]
    public void UserGradientAndRetainedGraphAreNotRecycled()
    {
        BufferPoolSettings.MinPooledBytes = 256;
        var x = Tensor.Randn([40, 40], DType.Float32).RequiresGrad_();
        var y = x * 2;
        var seed = Tensor.Ones([40, 40], DType.Float32);
        y.Backward(seed, retainGraph: true);
        y.Backward(seed);
        Assert.That(seed.ToArray<float>(), Is.All.EqualTo(1f));
        Assert.That(x.Grad!.ToArray<float>(), Is.All.EqualTo(4f));
    }
}
