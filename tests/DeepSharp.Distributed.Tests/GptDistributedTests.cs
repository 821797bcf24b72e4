using System.Text.Json.Nodes;

namespace DeepSharp.Distributed.Tests;

/// <summary>
/// examples/Gpt under <c>mpirun -np 2 … --distributed</c>: a tiny model (1 layer, width 16, context 16, 2 sequences per
/// rank, dropout on) for a few steps, so that each run takes seconds. The weights are compared through the
/// <c>weights_sha256</c> of the <c>--json</c> line.
/// </summary>
[TestFixture, NonParallelizable, Category("Mpi")]
public class GptDistributedTests
{
    private static string GptDll => Path.Combine(AppContext.BaseDirectory, "Gpt.dll");

    // --warmup 10 with at most 10 steps: the learning rate is in its linear warm-up, which does not depend on --steps,
    // so a run of 3 steps resumed to 6 follows the same schedule as a run of 6 (the cosine decay is stretched to --steps).
    private static string Tiny(int steps) =>
        $"--layers 1 --heads 2 --embd 16 --block 16 --batch-size 2 --steps {steps} --warmup 10 --dropout 0.1 --lr 1e-2 " +
        "--sample 0 --no-plot --eval-batches 1 --json";

    private static MpiRun.Result Mpirun(int ranks, string arguments) =>
        MpiRun.Run("mpirun", $"{MpiRun.MpirunOptions} -np {ranks} {MpiRun.Dotnet} {GptDll} {arguments}", TimeSpan.FromSeconds(120));

    private static MpiRun.Result Alone(string arguments) => MpiRun.Run(MpiRun.Dotnet, $"{GptDll} {arguments}", TimeSpan.FromSeconds(120));

    private static JsonObject Json(MpiRun.Result run)
    {
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        var lines = run.Output.Split('\n').Where(l => l.StartsWith("{\"model\":\"gpt\"", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), "rank 0 alone prints the --json line: " + run.Output);
        return JsonNode.Parse(lines[0])!.AsObject();
    }

    [Test]
    public void TwoRanksEndWithTheWeightsOfOneProcessAccumulatingTwoMicroBatches()
    {
        var distributed = Json(Mpirun(2, $"{Tiny(4)} --distributed --threads 1"));
        var accumulated = Json(Alone($"{Tiny(4)} --accumulate 2 --threads 2"));
        var plain = Json(Alone($"{Tiny(4)} --threads 2"));
        Assert.Multiple(() =>
        {
            Assert.That((int)distributed["world_size"]!, Is.EqualTo(2));
            Assert.That((int)distributed["threads"]!, Is.EqualTo(1));
            Assert.That((bool)distributed["ranks_agree"]!, Is.True);
            Assert.That((int)accumulated["world_size"]!, Is.EqualTo(1));
            Assert.That((int)accumulated["accumulate"]!, Is.EqualTo(2));
            Assert.That((string)accumulated["weights_sha256"]!, Is.EqualTo((string)distributed["weights_sha256"]!),
                "2 ranks × 1 thread and 1 process × 2 threads × 2 micro-batches should end with the same bits");
            // The losses are averaged over the ranks in rank order, as the micro-batches' are.
            Assert.That((double)accumulated["train_loss"]!, Is.EqualTo((double)distributed["train_loss"]!));
            // Sanity: one micro-batch of 2 (half the data) ends elsewhere, so equal hashes say something.
            Assert.That((string)plain["weights_sha256"]!, Is.Not.EqualTo((string)distributed["weights_sha256"]!));
        });
    }

    [Test]
    public void ARankThatFailsEndsTheJobWithItsMessageInsteadOfHanging()
    {
        // Rank 1 is given a text that does not exist; rank 0 meanwhile waits for it in DDP's first broadcast.
        string missing = Path.Combine(Path.GetTempPath(), $"deepsharp-no-such-text-{Guid.NewGuid():N}.txt");
        var run = MpiRun.Run("mpirun",
            $"{MpiRun.MpirunOptions} -np 1 {MpiRun.Dotnet} {GptDll} {Tiny(50)} --distributed : -np 1 {MpiRun.Dotnet} {GptDll} {Tiny(50)} --distributed --data {missing}",
            TimeSpan.FromSeconds(60));
        Assert.That(run.TimedOut, Is.False, "the job hung: " + run.Output);
        Assert.That(run.ExitCode, Is.Not.EqualTo(0), run.Output);
        Assert.That(run.Output, Does.Contain($"[rank 1 of 2] gpt: FileNotFoundException: Could not find file '{missing}'"));
        Assert.That(run.Output, Does.Not.Contain("{\"model\":\"gpt\""), "rank 0 should not have finished");
    }

    [Test]
    public void TwoRanksResumedFromACheckpointEndWithTheBitsOfTheUninterruptedRun()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"deepsharp-gpt-resume-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string checkpoint = Path.Combine(dir, "gpt.safetensors");
            var whole = Json(Mpirun(2, $"{Tiny(6)} --distributed --threads 1"));
            var first = Json(Mpirun(2, $"{Tiny(3)} --distributed --threads 1 --save {checkpoint}"));
            Assert.That(File.Exists(checkpoint), Is.True, "rank 0 wrote no checkpoint");
            var resumed = Json(Mpirun(2, $"{Tiny(6)} --distributed --threads 1 --resume {checkpoint}"));
            Assert.Multiple(() =>
            {
                Assert.That((int)resumed["steps"]!, Is.EqualTo(6));
                Assert.That((bool)resumed["ranks_agree"]!, Is.True);
                Assert.That((string)resumed["weights_sha256"]!, Is.EqualTo((string)whole["weights_sha256"]!));
                Assert.That((string)first["weights_sha256"]!, Is.Not.EqualTo((string)whole["weights_sha256"]!));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
