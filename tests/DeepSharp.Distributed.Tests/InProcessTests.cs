using DeepSharp.NN;

namespace DeepSharp.Distributed.Tests;

/// <summary>The parts that run in one process: the sampler's layout and DDP in a world of one (this test process is
/// not started by mpirun).</summary>
[TestFixture, NonParallelizable]
public class InProcessTests
{
    [TestCase(50, 4, 2, true)]
    [TestCase(50, 4, 3, true)]
    [TestCase(50, 4, 3, false)]
    [TestCase(7, 5, 4, false)]
    public void SamplerShardsAreEqualDisjointAndSliceEachGlobalBatch(int length, int batch, int replicas, bool dropLast)
    {
        var samplers = Enumerable.Range(0, replicas).Select(r => new DistributedSampler(length, batch, replicas, r, seed: 3, dropLast: dropLast)).ToArray();
        foreach (var s in samplers) s.SetEpoch(2);
        var shards = samplers.Select(s => s.Batches().ToArray()).ToArray();
        Assert.That(shards.Select(s => s.Sum(b => b.Length)), Is.All.EqualTo(samplers[0].Count));
        Assert.That(shards.Select(s => s.Length), Is.All.EqualTo(samplers[0].StepsPerEpoch));
        // The single shuffled order (rank count 1, batch N·B) cut into N slices gives the same batches.
        var whole = new DistributedSampler(length, batch * replicas, 1, 0, seed: 3, dropLast: dropLast);
        whole.SetEpoch(2);
        var all = shards.SelectMany(s => s.SelectMany(b => b)).ToArray();
        if (dropLast)
        {
            Assert.That(samplers[0].Count, Is.EqualTo(length / (batch * replicas) * batch));
            Assert.That(all.Distinct().Count(), Is.EqualTo(all.Length), "with drop_last no item is used twice");
            var global = whole.Batches().ToArray();
            for (int step = 0; step < global.Length; step++)
                Assert.That(Enumerable.Range(0, replicas).SelectMany(r => shards[r][step]), Is.EqualTo(global[step]));
        }
        else
        {
            Assert.That(samplers[0].Count, Is.EqualTo((length + replicas - 1) / replicas));
            Assert.That(all.Distinct().Count(), Is.EqualTo(length), "without drop_last every item is used");
        }
    }

    [Test]
    public void SamplerOrderDependsOnSeedAndEpochOnly()
    {
        int[] Order(long seed, long epoch)
        {
            var s = new DistributedSampler(100, 10, 2, 1, seed: seed);
            s.SetEpoch(epoch);
            return [.. s];
        }
        var first = Order(1, 0);
        Assert.That(Order(1, 0), Is.EqualTo(first));
        Assert.That(Order(1, 1), Is.Not.EqualTo(Order(1, 0)));
        Assert.That(Order(2, 0), Is.Not.EqualTo(Order(1, 0)));
        var plain = new DistributedSampler(10, 2, 2, 1, shuffle: false);
        // Global batches of 4: rank 1 takes the second half of each; the last (2 items) is split evenly.
        Assert.That(plain.Batches().ToArray(), Is.EqualTo(new[] { new[] { 2, 3 }, [6, 7], [9] }));
    }

    [Test]
    public void SamplerRejectsBadArgumentsByName()
    {
        Assert.That(() => new DistributedSampler(10, 0, 2, 0), Throws.ArgumentException.With.Message.Contains("batchSize"));
        Assert.That(() => new DistributedSampler(10, 2, 2, 2), Throws.ArgumentException.With.Message.Contains("rank 2 is outside [0, 2)"));
    }

    [Test]
    public void InAWorldOfOneDdpKeepsTheGradientsAndReportsItsBuckets()
    {
        Distributed.InitProcessGroup();
        try
        {
            Assert.That((Distributed.Rank, Distributed.WorldSize, Distributed.World.IsMpi), Is.EqualTo((0, 1, false)));
            Torch.ManualSeed(1);
            var model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
            var reference = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
            reference.LoadStateDict(model.StateDict());
            var x = Tensor.Randn([5, 4], DType.Float32);
            reference.Forward(x).Sum().Backward();
            using (var ddp = new DistributedDataParallel(model))
            {
                ddp.Forward(x).Sum().Backward();
                Assert.That(ddp.Buckets, Has.Count.EqualTo(1));
                Assert.That(ddp.LastBackwardEvents.Skip(4), Is.EqualTo(new[] { new DdpEvent("Launch", 0), new DdpEvent("Wait", -1) }));
                using (ddp.NoSync()) ddp.Forward(x).Sum().Backward();
                Assert.That(ddp.LastBackwardEvents, Has.Count.EqualTo(6), "NoSync: no events recorded for the second backward");
            }
            var got = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
            var expect = reference.Parameters().Select(p => (p.Grad! * 2).ToArray<float>()).ToArray();
            Assert.That(got, Is.EqualTo(expect));
            Assert.That(() => Distributed.InitProcessGroup(), Throws.InvalidOperationException);
        }
        finally
        {
            Distributed.DestroyProcessGroup();
        }
    }

    [Test]
    public void SyncBatchNormInAWorldOfOneIsBatchNormAndPassesGradCheck()
    {
        Distributed.InitProcessGroup();
        try
        {
            var x = Tensor.Randn([4, 3, 2, 5], DType.Float64, new Generator(4));
            var sync = new SyncBatchNorm(3, dtype: DType.Float64);
            var bn = new BatchNorm2d(3, dtype: DType.Float64);
            var diff = (sync.Forward(x) - bn.Forward(x)).Abs().Max().Item();
            Assert.That(diff, Is.LessThan(1e-12));
            Assert.That(sync.StateDict()["running_var"].ToArray<double>(), Is.EqualTo(bn.StateDict()["running_var"].ToArray<double>()).Within(1e-12));
            var weight = Tensor.Randn([3], DType.Float64, new Generator(5));
            var bias = Tensor.Randn([3], DType.Float64, new Generator(6));
            var layer = new SyncBatchNorm(3, dtype: DType.Float64);
            layer.LoadStateDict(new Dictionary<string, Tensor> { ["weight"] = weight, ["bias"] = bias, ["running_mean"] = Tensor.Zeros([3], DType.Float64), ["running_var"] = Tensor.Ones([3], DType.Float64) });
            GradCheck.Check(t => layer.Forward(t[0]), [x.Clone().RequiresGrad_()]);
            GradCheck.Check(t => layer.Forward(x) * t[0].View(1, 3, 1, 1), [Tensor.Randn([3], DType.Float64, new Generator(7)).RequiresGrad_()]);
            Assert.That(() => layer.Forward(Tensor.Zeros([2, 4, 3], DType.Float64)), Throws.ArgumentException.With.Message.Contains("expected input [N, 3, …]"));
        }
        finally
        {
            Distributed.DestroyProcessGroup();
        }
    }

    [Test]
    public void AverageAccumulatedGradientsDividesEveryGradient()
    {
        var p = Tensor.FromBuffer(new float[] { 1, 2, 3 }, 3).RequiresGrad_();
        p.Grad = Tensor.FromBuffer(new float[] { 3, 6, 1 }, 3);
        DistributedDataParallel.AverageAccumulatedGradients([p], 3);
        Assert.That(p.Grad.ToArray<float>(), Is.EqualTo(new[] { 1f, 2f, 1f / 3 }));
        Assert.That(() => DistributedDataParallel.AverageAccumulatedGradients([p], 0), Throws.ArgumentException.With.Message.Contains("microBatches"));
    }

    [Test]
    public void GradientAccumulatorSumsMicroBatchesEachRunInItsOwnDisposeScope()
    {
        var w = Tensor.FromArray(new double[] { 1, -2, 0.5 }).RequiresGrad_();
        var acc = new GradientAccumulator([w]);
        double[][] inputs = [[1, 2, 3], [-1, 0.5, 4], [2, 2, -1]];
        foreach (var x in inputs)
        {
            using (Torch.NewDisposeScope())   // the micro-batch's tensors and its gradient die here; the running sum must not
            {
                (w * Tensor.FromArray(x)).Sum().Backward();
                acc.Add();
            }
        }
        acc.Average();
        Assert.That(w.Grad!.ToArray<double>(), Is.EqualTo(new[] { 2.0 / 3, 4.5 / 3, 6.0 / 3 }));
    }

    [Test]
    public void SeedForSeparatesSeedsStepsAndShards()
    {
        var seeds = new HashSet<long>();
        for (long seed = 0; seed < 3; seed++)
            for (long step = 0; step < 10; step++)
                for (int shard = 0; shard < 4; shard++)
                    seeds.Add(Distributed.SeedFor(seed, step, shard));
        Assert.That(seeds, Has.Count.EqualTo(120));
        long once = Distributed.SeedFor(5, 6, 7);
        Assert.That(Distributed.SeedFor(5, 6, 7), Is.EqualTo(once));
    }
}
