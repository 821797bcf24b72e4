using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests;

/// <summary>A <see cref="DisposeScope"/> ends the life of the buffers created inside it deterministically: they are
/// released when the scope ends and reach the pool without a garbage collection, while parameters, gradients,
/// optimizer state, module buffers and results moved out survive. GC-driven recycling is off in these tests, so
/// what reaches the pool was given back by the scope. Each test uses lengths no other test allocates.</summary>
[TestFixture, NonParallelizable]
public class DisposeScopeTests
{
    private bool _recycle;

    [SetUp]
    public void Save()
    {
        _recycle = BufferPoolSettings.RecycleUnreachable;
        BufferPoolSettings.RecycleUnreachable = false;
        Recycler.Reset();
    }

    [TearDown]
    public void Restore()
    {
        while (DisposeScope.Current is { } s) s.Dispose();   // a failed test must not leave a scope open on this thread
        BufferPoolSettings.RecycleUnreachable = _recycle;
        Recycler.Reset();
    }

    private static int Pooled(int length)
    {
        int n = 0;
        var taken = new List<float[]>();
        while (BufferPool<float>.TryRent(length) is { } a) { taken.Add(a); n++; }
        foreach (var a in taken) BufferPool<float>.Return(a);
        return n;
    }

    // Runs the action with no garbage collection at all (fails if one ran): what reached the pool meanwhile was given
    // back by the scopes, not found by a collection.
    private static void NoCollection(Action action)
    {
        Assert.That(GC.TryStartNoGCRegion(96L << 20), Is.True, "could not start a no-GC region");
        bool held;
        try { action(); }
        finally
        {
            held = System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion;
            if (held) GC.EndNoGCRegion();
        }
        Assert.That(held, Is.True, "a garbage collection ran inside the no-GC region");
    }

    [Test]
    public void TensorsCreatedInsideAreReleasedAndTheirBuffersPooledWhenTheScopeEnds()
    {
        const int n = 3 * 17_011;   // 204 KB, pooled
        Tensor a, b;
        using (Torch.NewDisposeScope())
        {
            a = Tensor.Randn([3, 17_011], DType.Float32, new Generator(1));
            b = a * 2.0;
            Assert.That(b[1, 5].Item(), Is.EqualTo(2 * a[1, 5].Item()));
            Assert.That(Pooled(n), Is.Zero, "nothing is released while the scope is open");
        }
        Assert.That(a.IsDisposed && b.IsDisposed, Is.True);
        Assert.That(Pooled(n), Is.EqualTo(2), "both buffers went back to the pool when the scope ended");
        var ex = Assert.Throws<ObjectDisposedException>(() => b.Sum().Item());
        Assert.That(ex!.Message, Does.Contain("released"));
        Assert.That(DisposeScope.Current, Is.Null);
    }

    [Test]
    public void AScopeDoesNotKeepAliveWhatBecameUnreachableInsideIt()
    {
        using var scope = Torch.NewDisposeScope();
        var weak = MakeGarbage();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.That(weak.TryGetTarget(out _), Is.False, "the scope held a dead tensor's storage");
        Assert.That(scope.Count, Is.Zero);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<Tensor> MakeGarbage() => new(Tensor.Ones([128, 129], DType.Float32) * 3.0);

    [Test]
    public void ALongScopeKeepsABoundedListOfHandles()
    {
        using var scope = Torch.NewDisposeScope();
        var kept = Tensor.Ones([2], DType.Float64);   // owned to the end
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < 3000; i++) _ = Tensor.Ones([3], DType.Float64).DetachFromDisposeScope();   // not owned any more
            for (int i = 0; i < 3000; i++) MakeGarbage();                                                 // collected below
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.That(scope.HandleCount, Is.LessThan(5000), "handles of storages the scope no longer owns are pruned");
        Assert.That(scope.Count, Is.EqualTo(1));
        scope.Dispose();
        Assert.That(kept.IsDisposed, Is.True);
    }

    [Test]
    public void TensorsFromBeforeTheScopeAndViewsOfThemSurvive()
    {
        var x = Tensor.Arange(0, 24, dtype: DType.Float64).Reshape(4, 6);
        using (Torch.NewDisposeScope())
        {
            var v = x.Transpose(0, 1);      // a view shares x's storage: not the scope's
            var row = x[1];
            row.Add_(100.0);                // in place on x's storage
            Assert.That(v[2, 1].Item(), Is.EqualTo(108.0));
        }
        Assert.That(x.IsDisposed, Is.False);
        Assert.That(x[1, 2].Item(), Is.EqualTo(108.0));
        Assert.That(x.Sum().Item(), Is.EqualTo(276.0 + 600.0));
    }

    [Test]
    public void MoveToOuterHandsAResultToTheEnclosingScopeOrOutOfAll()
    {
        Tensor kept, toOuter, dropped;
        using (var outer = Torch.NewDisposeScope())
        {
            using (var inner = Torch.NewDisposeScope())
            {
                Assert.That(inner.Outer, Is.SameAs(outer));
                toOuter = Tensor.Full([2, 2], 3.0, DType.Float64);
                dropped = Tensor.Full([2, 2], 4.0, DType.Float64);
                var view = toOuter.View(4);
                Assert.That(inner.MoveToOuter(view), Is.SameAs(view));   // a view moves the storage it shares
                kept = Tensor.Full([3], 5.0, DType.Float64).MoveToOuterDisposeScope();
                Assert.That(inner.Count, Is.EqualTo(1));
            }
            Assert.That(dropped.IsDisposed, Is.True);
            Assert.That(toOuter.IsDisposed, Is.False);
            Assert.That(outer.Count, Is.EqualTo(2));
            Assert.That(toOuter.Sum().Item(), Is.EqualTo(12.0));   // the sum is the outer scope's now
            outer.MoveToOuter(kept);   // the outermost scope: out of every scope
        }
        Assert.That(toOuter.IsDisposed, Is.True, "the outer scope ended");
        Assert.That(kept.IsDisposed, Is.False);
        Assert.That(kept.Sum().Item(), Is.EqualTo(15.0));
    }

    [Test]
    public void DetachAndIncludeChangeWhatTheScopeReleases()
    {
        var before = Tensor.Ones([5], DType.Float64);
        Tensor detached;
        using (var scope = Torch.NewDisposeScope())
        {
            scope.Include(before);
            detached = Tensor.Zeros([5], DType.Float64).DetachFromDisposeScope();
            Assert.That(scope.Count, Is.EqualTo(1));
        }
        Assert.That(before.IsDisposed, Is.True, "included");
        Assert.That(detached.IsDisposed, Is.False, "detached");
    }

    [Test]
    public void DisposeEverythingReleasesNowAndKeepsTheScopeOpen()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Tensor.Ones([4], DType.Float64);
        scope.DisposeEverything();
        Assert.That(a.IsDisposed, Is.True);
        var b = Tensor.Ones([4], DType.Float64);
        Assert.That(DisposeScope.Current, Is.SameAs(scope));
        Assert.That(scope.Count, Is.EqualTo(1));
        Assert.That(b.Sum().Item(), Is.EqualTo(4.0));
    }

    [Test]
    public void EndingAnOuterScopeEndsTheScopesOpenedInsideIt()
    {
        var outer = Torch.NewDisposeScope();
        var inner = Torch.NewDisposeScope();
        var t = Tensor.Ones([3], DType.Float64);
        outer.Dispose();
        Assert.That(inner.IsDisposed && outer.IsDisposed, Is.True);
        Assert.That(t.IsDisposed, Is.True);
        Assert.That(DisposeScope.Current, Is.Null);
        var ex = Assert.Throws<InvalidOperationException>(() => inner.MoveToOuter(t));
        Assert.That(ex!.Message, Does.Contain("DisposeScope.MoveToOuter").And.Contain("already ended"));
    }

    [Test]
    public void AScopeEndsOnlyOnItsOwnThreadAndOwnsOnlyItsThreadsBuffers()
    {
        using var scope = Torch.NewDisposeScope();
        Tensor? fromOtherThread = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            fromOtherThread = Tensor.Ones([3], DType.Float64);   // no scope is open on that thread
            try { scope.Dispose(); } catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        Assert.That(error, Is.TypeOf<InvalidOperationException>());
        Assert.That(error!.Message, Does.Contain("thread that opened it"));
        Assert.That(scope.Count, Is.Zero);
        scope.Dispose();
        Assert.That(fromOtherThread!.IsDisposed, Is.False);
    }

    [Test]
    public void MovingATensorOwnedByAnotherScopeIsRefusedWithItsShape()
    {
        using var outer = Torch.NewDisposeScope();
        using var inner = Torch.NewDisposeScope();
        var t = Tensor.Ones([2, 7], DType.Float64);
        var ex = Assert.Throws<InvalidOperationException>(() => outer.MoveToOuter(t));
        Assert.That(ex!.Message, Does.Contain("[2, 7]").And.Contain("another dispose scope"));
    }

    [Test]
    public void ABufferHandedOutAsAnArrayIsDetachedButNotPooled()
    {
        const int n = 2 * 16_411;
        float[] exposed;
        Tensor t;
        using (Torch.NewDisposeScope())
        {
            t = Tensor.Ones([2, 16_411], DType.Float32);
            var span = t.AsSpan<float>();   // exposes the buffer
            span[0] = 7;
            exposed = t.ToArray<float>();
        }
        Assert.That(t.IsDisposed, Is.True);
        Assert.That(Pooled(n), Is.Zero, "someone outside DeepSharp may still hold the array");
        Assert.That(exposed[1], Is.EqualTo(1f));
    }

    [Test]
    public void BackwardAfterTheScopeOfItsGraphEndedFailsWithADisposedTensor()
    {
        var w = Tensor.Randn([4, 4], DType.Float64, new Generator(3)).RequiresGrad_();
        Tensor loss;
        using (Torch.NewDisposeScope())
        {
            loss = (w.Exp() * w).Sum();
            loss.MoveToOuterDisposeScope();   // the loss survives, the saved activations do not
        }
        Assert.Throws<ObjectDisposedException>(() => loss.Backward());
    }

    // A model with the state a scope must not release: parameters, BatchNorm running statistics, LayerNorm, attention
    // (its cached causal mask), dropout, AdamW's moments, gradients.
    private sealed class Net : Module<Tensor, Tensor>
    {
        private readonly Linear _in, _out;
        private readonly BatchNorm1d _bn;
        private readonly LayerNorm _ln;
        private readonly MultiheadAttention _attn;
        private readonly Dropout _drop;

        public Net(Generator g)
        {
            _in = RegisterModule("in", new Linear(12, 32, dtype: DType.Float64, generator: g));
            _bn = RegisterModule("bn", new BatchNorm1d(32, dtype: DType.Float64));
            _ln = RegisterModule("ln", new LayerNorm(32, dtype: DType.Float64));
            _attn = RegisterModule("attn", new MultiheadAttention(32, 4, batchFirst: true, dtype: DType.Float64, generator: g));
            _drop = RegisterModule("drop", new Dropout(0.2, new Generator(9)));
            _out = RegisterModule("out", new Linear(32, 5, dtype: DType.Float64, generator: g));
        }

        public override Tensor Forward(Tensor x)   // x: [B, T, 12]
        {
            int b = x.Size(0), t = x.Size(1);
            var h = _in.Forward(x).Reshape(b * t, 32);
            h = _bn.Forward(h).Reshape(b, t, 32).Relu();
            var n = _ln.Forward(h);
            var a = _attn.Forward(n, n, n, needWeights: false, isCausal: true).Output;   // the cached causal mask
            return _out.Forward(_drop.Forward(h + a));
        }
    }

    private static (double[] Params, double[] Buffers, double[] Losses) Train(bool scoped, int steps)
    {
        var model = new Net(new Generator(11));
        var opt = new AdamW(model.Parameters(), lr: 1e-2);
        var data = new Generator(5);
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            var scope = scoped ? Torch.NewDisposeScope() : null;
            var x = Tensor.Randn([3, 6, 12], DType.Float64, data);
            var y = Tensor.RandInt(0, 5, [3 * 6], generator: data);
            opt.ZeroGrad(setToNone: false);
            var loss = F.CrossEntropy(model.Forward(x).Reshape(18, 5), y);
            loss.Backward();
            opt.Step();
            losses[s] = loss.Item();
            scope?.Dispose();
            Assert.That(loss.IsDisposed, Is.EqualTo(scoped));
        }
        foreach (var p in model.Parameters()) Assert.That(p.Grad!.IsDisposed, Is.False, "a gradient belongs to its parameter");
        foreach (var st in opt.State.Values)
            foreach (var b in st.Buffers.Values) Assert.That(b.IsDisposed, Is.False, "optimizer state outlives the scope");
        return (model.Parameters().SelectMany(p => p.ToArray<double>()).ToArray(),
                model.Buffers().Where(b => b.DType == DType.Float64).SelectMany(b => b.ToArray<double>()).ToArray(), losses);
    }

    [Test]
    public void TrainingStepsInsideScopesGiveTheSameBitsAndKeepTheModelsState()
    {
        var plain = Train(scoped: false, steps: 4);
        var scoped = Train(scoped: true, steps: 4);
        Assert.That(scoped.Losses, Is.EqualTo(plain.Losses));
        Assert.That(scoped.Params, Is.EqualTo(plain.Params));
        Assert.That(scoped.Buffers, Is.EqualTo(plain.Buffers), "BatchNorm's running statistics");
        Assert.That(plain.Losses[3], Is.Not.EqualTo(plain.Losses[0]), "the model trained");
    }

    [Test]
    public void AModelBuiltInsideAScopeKeepsItsParametersAndBuffers()
    {
        Net model;
        AdamW opt;
        using (Torch.NewDisposeScope())
        {
            model = new Net(new Generator(2));
            opt = new AdamW(model.Parameters());
            var loss = model.Forward(Tensor.Randn([2, 3, 12], DType.Float64, new Generator(4))).Sum();
            loss.Backward();
            opt.Step();
        }
        foreach (var p in model.Parameters()) Assert.That(p.IsDisposed || p.Grad!.IsDisposed, Is.False);
        foreach (var b in model.Buffers()) Assert.That(b.IsDisposed, Is.False);
        var again = model.Forward(Tensor.Randn([2, 3, 12], DType.Float64, new Generator(6))).Sum();
        again.Backward();
        opt.Step();
        Assert.That(double.IsFinite(again.Item()), Is.True);
    }

    [Test]
    public void TheCausalMaskCacheOutlivesTheScopeThatFilledIt()
    {
        // The weights path of attention builds its causal mask from a process-wide cache; a length no other test uses.
        var mha = new MultiheadAttention(8, 2, batchFirst: true, dtype: DType.Float64, generator: new Generator(7));
        var x = Tensor.Randn([2, 19, 8], DType.Float64, new Generator(8));
        double first;
        using (Torch.NewDisposeScope())
            first = mha.Forward(x, x, x, needWeights: true, isCausal: true).Output.Sum().Item();
        var (output, weights) = mha.Forward(x, x, x, needWeights: true, isCausal: true);
        Assert.That(output.Sum().Item(), Is.EqualTo(first));
        Assert.That(weights![0, 0, 1].Item(), Is.Zero, "the mask still hides the future");
    }

    [Test]
    public void StepsInsideScopesReuseTheirBuffersWithoutAGarbageCollection()
    {
        // Float32 and wide enough that the activations are pooled (>= 64 KiB); GC-driven recycling is off, so only the
        // scope can give them back.
        var g = new Generator(21);
        var model = new Sequential(new Linear(96, 512, generator: g), new GELU(), new LayerNorm(512), new Linear(512, 10, generator: g));
        var opt = new AdamW(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn([67, 96], DType.Float32, g);
        var y = Tensor.RandInt(0, 10, [67], generator: g);
        void Step()
        {
            using var scope = Torch.NewDisposeScope();
            // Gradients belong to the parameters and are zeroed in place; ZeroGrad() would drop them to the GC instead.
            opt.ZeroGrad(setToNone: false);
            var loss = F.CrossEntropy(model.Forward(x), y);
            loss.Backward();
            opt.Step();
        }
        Step();
        Step();   // the first steps fill the pool (and create AdamW's state)
        long misses = BufferPoolSettings.Misses, hits = BufferPoolSettings.Hits;
        NoCollection(() => { for (int i = 0; i < 3; i++) Step(); });
        Assert.That(BufferPoolSettings.Misses - misses, Is.Zero, "every large buffer of a step came from the pool");
        Assert.That(BufferPoolSettings.Hits - hits, Is.GreaterThanOrEqualTo(3 * 4), "and the steps did rent large buffers");

        // The same without the scope: the buffers wait for the GC, so the next steps allocate afresh.
        misses = BufferPoolSettings.Misses;
        for (int i = 0; i < 2; i++)
        {
            opt.ZeroGrad(setToNone: false);
            F.CrossEntropy(model.Forward(x), y).Backward();
            opt.Step();
        }
        Assert.That(BufferPoolSettings.Misses - misses, Is.GreaterThan(0));
    }

    [Test]
    public void AnEvaluationLoopInOneNoGradRegionReusesEachBatchsBuffers()
    {
        var g = new Generator(22);
        var model = new Sequential(new Linear(80, 640, generator: g), new ReLU(), new Linear(640, 80, generator: g));
        var batches = Enumerable.Range(0, 5).Select(_ => Tensor.Randn([53, 80], DType.Float32, g)).ToArray();
        double total = 0, reference = 0;
        foreach (var b in batches) reference += model.Forward(b).Sum().Item();
        long misses = 0;
        using (Autograd.NoGrad())
        {
            void Batch(int i)
            {
                using var scope = Torch.NewDisposeScope();
                total += model.Forward(batches[i]).Sum().Item();
            }
            Batch(0);
            misses = BufferPoolSettings.Misses;
            NoCollection(() => { for (int i = 1; i < batches.Length; i++) Batch(i); });
        }
        Assert.That(BufferPoolSettings.Misses - misses, Is.Zero);
        Assert.That(total, Is.EqualTo(reference));
    }
}
