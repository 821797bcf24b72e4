namespace DeepSharp.Distributed.Tests;

/// <summary>
/// Real multi-process runs: the worker program under <c>mpirun --oversubscribe -np N</c> on this machine (Open MPI must be
/// installed: apt-get install openmpi-bin libopenmpi-dev). Each run takes a few seconds.
/// </summary>
[TestFixture, NonParallelizable, Category("Mpi")]
public class MpiRunTests
{
    [TestCase(2)]
    [TestCase(3)]
    public void AllReduceAndBroadcastGiveTheRankOrderedValuesOnEveryRank(int ranks)
    {
        var run = MpiRun.Start(ranks, "collectives");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        for (int r = 0; r < ranks; r++)
        {
            var lines = run.Lines(r, "collectives ok");
            Assert.That(lines, Has.Length.EqualTo(1), run.Output);
            Assert.That(lines[0], Does.Contain($"over {ranks} ranks"));
        }
        if (ranks == 3)   // the data is such that the order of the sum matters, so the bitwise checks mean something
            Assert.That(run.Lines(0, "collectives ok")[0], Does.Not.Contain("(0 sums"));
    }

    [Test]
    public void WithoutMpirunTheProgramIsAWorldOfOne()
    {
        var run = MpiRun.Start(0, "collectives");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        Assert.That(run.Lines(0, "collectives ok").Single(), Does.Contain("over 1 ranks"));
    }

    [Test]
    public void BucketsAreReducedDuringBackwardInOrderAndGradientsAgree()
    {
        var run = MpiRun.Start(2, "hooks");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        var buckets = run.Lines(0, "buckets").Single()["buckets ".Length..].Split(" | ").Select(b => b.Split(',').Select(int.Parse).ToArray()).ToArray();
        Assert.That(buckets, Has.Length.GreaterThan(2), "the test model should span several buckets");
        // Reverse parameter order: the last parameters fill the first bucket.
        Assert.That(buckets.SelectMany(b => b), Is.EqualTo(Enumerable.Range(0, 8).Reverse()));
        for (int r = 0; r < 2; r++)
        {
            var events = run.Lines(r, "events").Single()["events ".Length..].Split(' ');
            int lastGrad = Array.FindLastIndex(events, e => e[0] == 'G');
            int firstLaunch = Array.FindIndex(events, e => e[0] == 'L');
            Assert.That(firstLaunch, Is.LessThan(lastGrad), $"no bucket started before backward ended: {string.Join(' ', events)}");
            Assert.That(events.Where(e => e[0] == 'L'), Is.EqualTo(Enumerable.Range(0, buckets.Length).Select(i => $"L{i}")));
            for (int b = 0; b < buckets.Length; b++)
            {
                int launch = Array.IndexOf(events, $"L{b}");
                foreach (int p in buckets[b])
                    Assert.That(Array.IndexOf(events, $"G{p}"), Is.InRange(0, launch), $"bucket {b} started before parameter {p}'s gradient: {string.Join(' ', events)}");
                // Started as soon as its last gradient arrived and every earlier bucket had started (all ranks reduce
                // the buckets in the same order): no other gradient in between.
                int lastMember = buckets[..(b + 1)].SelectMany(m => m).Max(p => Array.IndexOf(events, $"G{p}"));
                Assert.That(events[(lastMember + 1)..launch].Where(e => e[0] == 'G'), Is.Empty, string.Join(' ', events));
            }
            Assert.That(events[^1], Is.EqualTo("W"));
        }
        Assert.That(run.Lines(1, "grad checksum").Single(), Is.EqualTo(run.Lines(0, "grad checksum").Single()));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void NRanksEndWithTheBitsOfOneProcessAccumulatingNMicroBatches(int ranks)
    {
        var distributed = MpiRun.Start(ranks, "train --threads 1");
        Assert.That(distributed.ExitCode, Is.EqualTo(0), distributed.Output);
        // One process, two kernel threads, the same global batches as N micro-batches.
        var single = MpiRun.Start(0, $"train --accumulate {ranks} --threads 2");
        Assert.That(single.ExitCode, Is.EqualTo(0), single.Output);
        string Sha(MpiRun.Result r, int rank) => r.Lines(rank, "weights_sha256").Single().Split(' ')[1];
        for (int r = 1; r < ranks; r++) Assert.That(Sha(distributed, r), Is.EqualTo(Sha(distributed, 0)), $"rank {r} ended with other weights");
        Assert.That(Sha(single, 0), Is.EqualTo(Sha(distributed, 0)), distributed.Output + single.Output);
        // Sanity: the weights did change during training, so equal hashes are not those of untouched weights.
        Assert.That(distributed.Lines(0, "initial_sha256").Single().Split(' ')[1], Is.Not.EqualTo(Sha(distributed, 0)));
    }

    [Test]
    public void SyncBatchNormOverTwoRanksEqualsBatchNormOverTheWholeBatch()
    {
        var run = MpiRun.Start(2, "syncbn");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        for (int r = 0; r < 2; r++)
        {
            var parts = run.Lines(r, "syncbn").Single().Split(' ');
            // float64: forward, input gradient and running mean agree with BatchNorm2d on all 4 images to rounding.
            foreach (int i in new[] { 5, 10, 15 })
                Assert.That(double.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(1e-12), string.Join(' ', parts));
        }
    }

    [Test]
    public void ARankThatThrowsFailsTheJobWithItsMessageInsteadOfHanging()
    {
        var run = MpiRun.Start(2, "throw", TimeSpan.FromSeconds(60));
        Assert.That(run.TimedOut, Is.False, "the job hung: " + run.Output);
        Assert.That(run.ExitCode, Is.Not.EqualTo(0), run.Output);
        Assert.That(run.Output, Does.Contain("[rank 1 of 2] System.InvalidOperationException: rank 1 failed on purpose in its training step"));
        Assert.That(run.Output, Does.Not.Contain("passed the barrier"));
    }
}
