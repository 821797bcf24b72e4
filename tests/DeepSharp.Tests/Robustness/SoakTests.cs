using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// Thousands of training steps hold managed memory flat: each step's graph, activations and gradients are freed, and
/// nothing accumulates in caches, optimizer state or the autograd engine.
/// </summary>
[TestFixture, Category("Soak"), NonParallelizable]
public class SoakTests
{
    [Test]
    public void LongTrainingRunHoldsMemoryFlat()
    {
        const int steps = 10000, warmup = 1000, every = 500;
        var g = new Generator(3);
        var x = Tensor.Randn([64, 8], DType.Float32, g);
        var y = x.Sum(1, keepDim: true).Gt(0).To(DType.Float32);
        var model = new Sequential(new Linear(8, 32, generator: g), new Tanh(), new Linear(32, 32, generator: g), new ReLU(), new Linear(32, 1, generator: g));
        var optimizer = new Adam(model.Parameters(), lr: 1e-3);
        var scheduler = new StepLR(optimizer, stepSize: 1000, gamma: 0.5);
        var samples = new List<(int Step, long Bytes)>();
        WeakReference? firstGraph = null;
        double firstLoss = 0, lastLoss = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int step = 1; step <= steps; step++)
        {
            optimizer.ZeroGrad();
            var loss = F.BinaryCrossEntropyWithLogits(model.Forward(x), y);
            loss.Backward();
            optimizer.Step();
            scheduler.Step();
            if (step == 1) { firstGraph = new WeakReference(loss); firstLoss = loss.Item(); }
            lastLoss = loss.Item();
            if (step >= warmup && step % every == 0) samples.Add((step, GC.GetTotalMemory(forceFullCollection: true)));
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var info = GC.GetGCMemoryInfo();
        TestContext.Out.WriteLine($"{steps} steps in {sw.ElapsedMilliseconds} ms, loss {firstLoss:F4} -> {lastLoss:F4}; heap after: {info.HeapSizeBytes / 1024} KiB");
        TestContext.Out.WriteLine(string.Join(", ", samples.Select(s => $"{s.Step}:{s.Bytes / 1024}K")));

        Assert.That(lastLoss, Is.LessThan(firstLoss), "the model did not train");
        Assert.That(firstGraph!.IsAlive, Is.False, "the first step's loss and graph are still reachable");
        // No growth trend: the least-squares slope over the samples, projected over the whole run, stays under 256 KiB,
        // and the last third of the samples is within 256 KiB of the first third.
        double meanX = samples.Average(s => s.Step), meanY = samples.Average(s => (double)s.Bytes);
        double slope = samples.Sum(s => (s.Step - meanX) * (s.Bytes - meanY)) / samples.Sum(s => (s.Step - meanX) * (s.Step - meanX));
        int third = samples.Count / 3;
        double early = samples.Take(third).Average(s => (double)s.Bytes), late = samples.TakeLast(third).Average(s => (double)s.Bytes);
        TestContext.Out.WriteLine($"slope {slope:F1} B/step, early {early / 1024:F0} KiB, late {late / 1024:F0} KiB");
        Assert.That(slope * steps, Is.LessThan(256 * 1024), "managed memory grows with the number of steps");
        Assert.That(late - early, Is.LessThan(256 * 1024));
    }
}
