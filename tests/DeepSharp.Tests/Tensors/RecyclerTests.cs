using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests;

/// <summary>Buffers of unreachable tensors return to the pool at safe points (end of Backward, ZeroGrad, end of a
/// user's NoGrad scope): a training loop stops allocating, results do not change, and no buffer a user can still
/// see (a live tensor, a span handed out, a tensor another thread touched) is ever reused.</summary>
[TestFixture, NonParallelizable]
public class RecyclerTests
{
    private long _min, _max;
    private bool _recycle;

    [SetUp]
    public void Save()
    {
        _min = BufferPoolSettings.MinPooledBytes; _max = BufferPoolSettings.MaxPooledBytes;
        _recycle = BufferPoolSettings.RecycleUnreachable;
        _every = Recycler.CollectEveryBytes;
        _fullEvery = Recycler.FullCollectBytes;
        Recycler.CollectEveryBytes = 256 << 10;                 // these small models collect every step or two
        Recycler.Reset();                                       // whatever ran before (e.g. BufferLifetimeTests)
    }

    private long _every, _fullEvery;

    [TearDown]
    public void Restore()
    {
        BufferPoolSettings.MinPooledBytes = _min; BufferPoolSettings.MaxPooledBytes = _max;
        BufferPoolSettings.RecycleUnreachable = _recycle;
        Recycler.CollectEveryBytes = _every;
        Recycler.FullCollectBytes = _fullEvery;
        Recycler.Reset();
    }

    private static (float[] Losses, float[] Weights) Train(int steps, Action<int>? afterStep = null, Action? midStep = null)
    {
        var g = new Generator(3);
        var model = new Sequential(new Linear(64, 128, generator: g), new ReLU(), new Linear(128, 128, generator: g),
            new ReLU(), new Linear(128, 10, generator: g));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn([96, 64], DType.Float32, g);
        var y = Tensor.RandInt(0, 10, [96], generator: g);
        var losses = new float[steps];
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            var l = F.CrossEntropy(model.Forward(x), y);
            midStep?.Invoke();
            l.Backward();
            opt.Step();
            losses[s] = (float)l.Item();
            afterStep?.Invoke(s);
        }
        return (losses, [.. model.Parameters().SelectMany(p => p.ToArray<float>())]);
    }

    [Test]
    public void TrainingLoopStopsAllocatingAndMatchesTheRunWithoutRecycling()
    {
        BufferPoolSettings.MinPooledBytes = 16 << 10;          // activations [96,128] floats = 48 KiB are pooled
        BufferPoolSettings.RecycleUnreachable = false;
        var reference = Train(40);

        BufferPoolSettings.RecycleUnreachable = true;
        long freshAfterWarmup = 0;
        var recycled = Train(40, s =>
        {
            if (s == 9) freshAfterWarmup = Recycler.Current!.FreshTotal;
        });
        long freshAtEnd = Recycler.Current!.FreshTotal;

        Assert.That(recycled.Losses, Is.EqualTo(reference.Losses));
        Assert.That(recycled.Weights, Is.EqualTo(reference.Weights));
        // After ten warm-up steps the 30 remaining steps take every pooled buffer from the pool: a few fresh
        // arrays at most (a GC may promote a live activation and delay its recovery), not ~30 steps' worth.
        long perStep = freshAfterWarmup / 10;
        Assert.That(freshAfterWarmup, Is.GreaterThan(0));
        Assert.That(freshAtEnd - freshAfterWarmup, Is.LessThan(3 * perStep),
            $"fresh pooled bytes: {freshAfterWarmup} in the first 10 steps, {freshAtEnd - freshAfterWarmup} in the next 30");
    }

    [Test]
    public void ActivationsPromotedToGen2DuringAStepAreStillRecycled()
    {
        BufferPoolSettings.MinPooledBytes = 16 << 10;
        BufferPoolSettings.RecycleUnreachable = false;
        var reference = Train(40);

        BufferPoolSettings.RecycleUnreachable = true;
        long freshAfterWarmup = 0, fullAfterWarmup = 0;
        var recycled = Train(40, s =>
        {
            if (s == 9) (freshAfterWarmup, fullAfterWarmup) = (Recycler.Current!.FreshTotal, Recycler.FullCollections);
        }, midStep: () =>
        {
            // Two young collections while the activations are live promote them to gen 2, where the recycler's
            // young collections never find them once they die (a GC during a large model's step does the same).
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
        });
        long freshAtEnd = Recycler.Current!.FreshTotal;

        Assert.That(recycled.Losses, Is.EqualTo(reference.Losses));
        Assert.That(recycled.Weights, Is.EqualTo(reference.Weights));
        long perStep = freshAfterWarmup / 10;
        Assert.That(freshAfterWarmup, Is.GreaterThan(0));
        Assert.That(freshAtEnd - freshAfterWarmup, Is.LessThan(3 * perStep),
            $"fresh pooled bytes: {freshAfterWarmup} in the first 10 steps, {freshAtEnd - freshAfterWarmup} in the next 30");
        Assert.That(Recycler.FullCollections, Is.GreaterThan(fullAfterWarmup), "full collections found them");
    }

    [Test]
    public void LargeStepsEndWithAFullCollectionThatFindsTheirPromotedActivations()
    {
        // A step larger than FullCollectBytes (a GPT's) outlives runtime GCs that promote its activations to gen 2:
        // its safe point runs a full collection at once, every step, and judges it by what it found of the bytes
        // outstanding (not of the step's demand, most of which the engine gave back itself and a GC never finds).
        BufferPoolSettings.MinPooledBytes = 16 << 10;
        BufferPoolSettings.RecycleUnreachable = false;
        var reference = Train(40);

        BufferPoolSettings.RecycleUnreachable = true;
        Recycler.FullCollectBytes = 256 << 10;                  // every step of this model is "large"
        long freshAfterWarmup = 0, fullAfterWarmup = 0;
        var recycled = Train(40, s =>
        {
            if (s == 9) (freshAfterWarmup, fullAfterWarmup) = (Recycler.Current!.FreshTotal, Recycler.FullCollections);
        }, midStep: () =>
        {
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            // Most of a large step's demand is given back deterministically (the engine's gradient buffers): 16 MiB
            // rented and released here, against well under 1 MiB of activations left for the collection to find.
            for (int i = 0; i < 16; i++) Tensor.Zeros(256, 1024).Dispose();
        });
        long freshAtEnd = Recycler.Current!.FreshTotal;

        Assert.That(recycled.Losses, Is.EqualTo(reference.Losses));
        Assert.That(recycled.Weights, Is.EqualTo(reference.Weights));
        Assert.That(Recycler.FullCollections - fullAfterWarmup, Is.GreaterThanOrEqualTo(28),
            "a full collection at the end of (nearly) every one of the last 30 steps, none skipped by the back-off");
        long perStep = freshAfterWarmup / 10;
        Assert.That(freshAtEnd - freshAfterWarmup, Is.LessThan(perStep),
            $"fresh pooled bytes: {freshAfterWarmup} in the first 10 steps, {freshAtEnd - freshAfterWarmup} in the next 30");
    }

    [Test]
    public void IdleBuffersLeaveThePoolWhenTheWorkingSetShrinks()
    {
        const int big = 70_001, small = 30_011;                 // lengths only this test uses
        long giveBack = BufferPoolSettings.GiveBackBytes, giveBacks = BufferPoolSettings.GiveBacks;
        try
        {
            BufferPoolSettings.GiveBackBytes = 4 * big * 4;     // dropping four of the big arrays gives memory back
            for (int i = 0; i < 6; i++) BufferPool<float>.Return(new float[big]);    // what "training" left
            for (int i = 0; i < 2; i++) BufferPool<float>.Return(new float[small]);
            long collections = 0;
            // "Inference": every interval rents two big arrays and one small one, and gives them back.
            void Interval(long collectionsRun)
            {
                var a = new[] { BufferPool<float>.TryRent(big)!, BufferPool<float>.TryRent(big)! };
                var b = BufferPool<float>.TryRent(small)!;
                foreach (var x in a) BufferPool<float>.Return(x);
                BufferPool<float>.Return(b);
                collections += collectionsRun;
                BufferPoolSettings.NoteSafePoint(2L * big * 4 + small * 4, collections);
            }
            for (int i = 0; i < 8; i++) Interval(collectionsRun: 0);
            Assert.That(BufferPool<float>.Count(big), Is.EqualTo(6), "no collection refilled the pool: no window ended");
            Interval(collectionsRun: 1);
            Interval(collectionsRun: 1);
            Assert.That(BufferPool<float>.Count(big), Is.EqualTo(6), "the first window ends, but the arrays arrived during it");
            for (int i = 0; i < 3; i++) Interval(collectionsRun: 1);
            Assert.That(BufferPool<float>.Count(big), Is.EqualTo(6), "a window spans four safe points and two collections");
            Interval(collectionsRun: 1);
            Assert.That(BufferPool<float>.Count(big), Is.EqualTo(2), "the four big arrays no interval used are dropped");
            Assert.That(BufferPool<float>.Count(small), Is.EqualTo(1), "one small array idle through the window");
            Assert.That(BufferPoolSettings.GiveBacks, Is.EqualTo(giveBacks + 1), "a large drop gives the memory back");
            for (int i = 0; i < 12; i++) Interval(collectionsRun: 1);
            Assert.That(BufferPool<float>.Count(big), Is.EqualTo(2), "the steady state keeps what it uses");
            Assert.That(BufferPool<float>.Count(small), Is.EqualTo(1));
        }
        finally { BufferPoolSettings.GiveBackBytes = giveBack; }
    }

    [Test]
    public void TensorsTheUserKeepsAreNeverRecycled()
    {
        BufferPoolSettings.MinPooledBytes = 1 << 10;
        var kept = new List<(Tensor T, float[] Values)>();
        var g = new Generator(5);
        var w = Tensor.Randn([64, 64], DType.Float32, g).RequiresGrad_();
        for (int s = 0; s < 30; s++)
        {
            var h = (Tensor.Randn([64, 64], DType.Float32, g).MatMul(w)).Relu();   // an intermediate the user keeps
            var l = (h * h).Mean();
            l.Backward();
            w.Grad = null;
            if (s % 3 == 0) kept.Add((h, h.ToArray<float>()));
            GC.Collect();                                       // make unreachable tensors eligible as early as possible
            GC.WaitForPendingFinalizers();
        }
        foreach (var (t, values) in kept) Assert.That(t.ToArray<float>(), Is.EqualTo(values));
    }

    [Test]
    public void ASpanHandedOutOutlivesItsTensor()
    {
        BufferPoolSettings.MinPooledBytes = 1 << 10;
        float[] expected = [.. Enumerable.Range(0, 4096).Select(i => (float)i)];
        var backing = MakeExposedSpan(expected);               // the tensor is unreachable from here on
        var w = Tensor.Randn([64, 64], DType.Float32).RequiresGrad_();
        for (int s = 0; s < 20; s++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ((Tensor.Ones([64, 64], DType.Float32) * 7).MatMul(w)).Sum().Backward();   // safe points that reuse buffers
        }
        Assert.That(backing.AsSpan(0, 4096).ToArray(), Is.EqualTo(expected));
    }

    // Hands out a span of a pooled, library-owned buffer and returns the array behind it (what a caller holding
    // the span keeps alive), dropping the tensor.
    private static float[] MakeExposedSpan(float[] values)
    {
        using (Autograd.NoGrad()) { }                          // a safe point: this thread's buffers become recyclable
        var t = Tensor.FromArray(values).Reshape(64, 64) * 1;
        Assert.That(t._storage.IsRecyclable, Is.True);
        Assert.That(t.AsSpan<float>().Length, Is.EqualTo(4096));
        Assert.That(t._storage.IsRecyclable, Is.False);
        return t.Data<float>();
    }

    [Test]
    public void ATensorTouchedByAnotherThreadIsNotRecycled()
    {
        BufferPoolSettings.MinPooledBytes = 1 << 10;
        using (Autograd.NoGrad()) { }                          // a safe point: this thread's buffers become recyclable
        var t = Tensor.Randn([64, 64], DType.Float32) * 1;
        Assert.That(t._storage.IsRecyclable, Is.True);
        var other = new Thread(() => t.Sum());
        other.Start();
        other.Join();
        Assert.That(t._storage.IsRecyclable, Is.False);
        var mine = Tensor.Randn([64, 64], DType.Float32) * 1;
        Assert.That(mine._storage.IsRecyclable, Is.True);
    }

    [Test]
    public void NoGradInferenceLoopReusesBuffers()
    {
        BufferPoolSettings.MinPooledBytes = 16 << 10;
        var g = new Generator(9);
        var model = new Sequential(new Linear(64, 256, generator: g), new ReLU(), new Linear(256, 10, generator: g));
        var x = Tensor.Randn([64, 64], DType.Float32, g);
        float[] first = [];
        long freshAfterWarmup = 0;
        for (int s = 0; s < 40; s++)
        {
            using (Autograd.NoGrad())
            {
                var y = model.Forward(x).ToArray<float>();
                if (s == 0) first = y;
                else Assert.That(y, Is.EqualTo(first));
            }
            if (s == 9) freshAfterWarmup = Recycler.Current!.FreshTotal;
        }
        long perStep = freshAfterWarmup / 10;
        Assert.That(Recycler.Current!.FreshTotal - freshAfterWarmup, Is.LessThan(3 * perStep + 1));
    }

    [Test]
    public void OneLongNoGradLoopReusesBuffersAndMatchesTheRunWithoutRecycling()
    {
        BufferPoolSettings.MinPooledBytes = 16 << 10;           // [64, 256] floats = 64 KiB are pooled
        var g = new Generator(11);
        var model = new Sequential(new Linear(64, 256, generator: g), new ReLU(), new Linear(256, 256, generator: g),
            new GELU("tanh"), new Linear(256, 10, generator: g));
        var batches = Enumerable.Range(0, 40).Select(_ => Tensor.Randn([64, 64], DType.Float32, g)).ToArray();
        long freshAfterWarmup = 0;
        float[][] Evaluate()
        {
            var outputs = new float[batches.Length][];
            using (Autograd.NoGrad())                           // the usual evaluation loop: one scope, many batches
            {
                for (int s = 0; s < batches.Length; s++)
                {
                    outputs[s] = model.Forward(batches[s]).ToArray<float>();
                    if (s == 9) freshAfterWarmup = Recycler.Current?.FreshTotal ?? 0;
                }
                if (BufferPoolSettings.RecycleUnreachable)
                {
                    // Measured inside the scope: the buffers came back at module ends, not at the scope's end.
                    long perBatch = freshAfterWarmup / 10;
                    Assert.That(freshAfterWarmup, Is.GreaterThan(0));
                    Assert.That(Recycler.Current!.FreshTotal - freshAfterWarmup, Is.LessThan(3 * perBatch + 1),
                        $"fresh pooled bytes: {freshAfterWarmup} in the first 10 batches, {Recycler.Current!.FreshTotal - freshAfterWarmup} in the next 30");
                    Assert.That(Recycler.Collections, Is.GreaterThan(0));
                }
            }
            return outputs;
        }
        BufferPoolSettings.RecycleUnreachable = false;
        var reference = Evaluate();
        BufferPoolSettings.RecycleUnreachable = true;
        var recycled = Evaluate();
        Assert.That(recycled, Is.EqualTo(reference), "bit for bit the same as without recycling");
    }

    [Test]
    public void ModuleEndsAreSafePointsOnlyInsideAUserNoGradScope()
    {
        BufferPoolSettings.MinPooledBytes = 16 << 10;
        var lin = new Linear(64, 256, generator: new Generator(1));
        var x = Tensor.Randn([64, 64], DType.Float32, new Generator(2));
        lin.Forward(x);                                         // grad mode on: a graph may still need the buffers
        Assert.That(Recycler.Current!.SafePoints, Is.Zero);
        using (GradMode.Set(false)) lin.Forward(x);             // library-internal scope: may be inside an op
        Assert.That(Recycler.Current!.SafePoints, Is.Zero);
        using (Autograd.NoGrad())
        {
            using (Autograd.EnableGrad()) lin.Forward(x);       // grad re-enabled inside the user's scope
            Assert.That(Recycler.Current!.SafePoints, Is.EqualTo(1), "only the inner scope's end");
            lin.Forward(x);
            Assert.That(Recycler.Current!.SafePoints, Is.EqualTo(1), "the module end: a boundary, not a new interval");
            Assert.That(Recycler.Current!.RentedAtMinor, Is.EqualTo(Recycler.Current!.Rented));
        }
        Assert.That(Recycler.Current!.SafePoints, Is.EqualTo(2));
        Assert.That(Recycler.Current!.RentedAtMinor, Is.Zero);
    }

    [Test]
    public void ALoopWithoutSafePointsHoardsNothing()
    {
        BufferPoolSettings.MinPooledBytes = 1 << 10;
        BufferPoolSettings.MaxPooledBytes = 1 << 20;
        for (int s = 0; s < 200; s++) _ = (Tensor.Ones([128, 128], DType.Float32) * 2).Sum();   // no Backward, no NoGrad scope
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(Recycler.Current!.PendingBytes, Is.LessThanOrEqualTo(1 << 20));
    }
}
