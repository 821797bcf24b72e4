using DeepSharp.NN;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// Separate models trained on separate threads at the same time give exactly the results they give trained alone;
/// grad mode and anomaly mode are per async flow; the default generator is safe to share (though not reproducible
/// under contention).
/// </summary>
[TestFixture, NonParallelizable]
public class ThreadSafetyTests
{
    [Test]
    public void ConcurrentTrainingMatchesTrainingAlone()
    {
        const int steps = 15;
        long[] seeds = [21, 22, 23];
        // Alone, one after the other.
        var alone = seeds.Select(s => Trainer.WithThreads(2, () => Trainer.Train(s, steps))).ToArray();
        // Together: one thread per model, all started at once, kernels still allowed two threads each.
        var together = Trainer.WithThreads(2, () =>
        {
            var results = new Trainer.Run[seeds.Length];
            using var start = new Barrier(seeds.Length);
            var threads = seeds.Select((s, i) => new Thread(() => { start.SignalAndWait(); results[i] = Trainer.Train(s, steps); })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) Assert.That(t.Join(TimeSpan.FromSeconds(60)), "a training thread hung");
            return results;
        });
        for (int i = 0; i < seeds.Length; i++)
            Assert.That(Trainer.BitIdentical(alone[i], together[i]), $"model {i} trained concurrently differs from alone (max weight difference {Trainer.MaxWeightDifference(alone[i], together[i]):E3})");
    }

    [Test]
    public async Task GradModeIsPerAsyncFlowAndDoesNotLeakToOtherThreads()
    {
        var w = Tensor.Ones([2], DType.Float64).RequiresGrad_();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var noGradTask = Task.Run(() =>
        {
            using (Autograd.NoGrad())
            {
                entered.Set();
                release.Wait();
                return (w * 2).RequiresGrad;
            }
        });
        entered.Wait();
        // While the other flow is inside NoGrad, this one still records.
        Assert.That(Autograd.IsGradEnabled);
        Assert.That((w * 2).RequiresGrad);
        release.Set();
        Assert.That(await noGradTask, Is.False);
        Assert.That(Autograd.IsGradEnabled);
    }

    [Test]
    public void DefaultGeneratorIsSafeToShare()
    {
        // Many threads drawing from the locked default generator at once: no torn state, every draw a valid number,
        // and the total number of draws is what a single thread would have made (the stream is shared, not duplicated).
        Torch.ManualSeed(5);
        const int threads = 4, draws = 200, size = 64;
        var bags = new float[threads][];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var all = new List<float>();
            for (int k = 0; k < draws; k++) all.AddRange(Tensor.Rand(size).ToArray<float>());
            bags[i] = [.. all];
        });
        var concurrent = bags.SelectMany(b => b).Order().ToArray();
        Torch.ManualSeed(5);
        var sequential = Enumerable.Range(0, threads * draws).SelectMany(_ => Tensor.Rand(size).ToArray<float>()).Order().ToArray();
        Assert.That(concurrent, Is.EqualTo(sequential), "the same multiset of values, in some interleaving");
    }

    [Test]
    public void ModulesEvaluatedConcurrentlyInNoGradAgree()
    {
        // A trained model shared read-only (eval mode, no grad) by several threads.
        var g = new Generator(9);
        var model = new Sequential(new Linear(16, 64, generator: g), new ReLU(), new Linear(64, 4, generator: g));
        model.Eval();
        var x = Tensor.Randn([32, 16], DType.Float32, g);
        float[] expected;
        using (Autograd.NoGrad()) expected = model.Forward(x).ToArray<float>();
        var outputs = new float[4][];
        Parallel.For(0, 4, i =>
        {
            for (int k = 0; k < 50; k++)
                using (Autograd.NoGrad()) outputs[i] = model.Forward(x).ToArray<float>();
        });
        foreach (var o in outputs) Assert.That(o, Is.EqualTo(expected));
    }
}
