using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using DeepSharp.Data;
using DeepSharp.Distributed;
using DeepSharp.Examples.Common;
using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Examples.Mnist;

/// <summary>
/// <c>--distributed</c> (data-parallel over the ranks of <c>mpirun -np N</c>) and <c>--accumulate N</c> (N micro-batches
/// per step in one process). Both cut each global batch of N × batch-size images the same way (DistributedSampler), so
/// the two end with the same weights, bit for bit: compare the <c>weights_sha256</c> of their <c>--json</c> lines.
/// </summary>
public static class DistributedTraining
{
    /// <summary>Trains as <paramref name="options"/> say; only rank 0 writes to <paramref name="output"/> and to files.</summary>
    public static void Run(TrainOptions options, TextWriter output)
    {
        if (options.Distributed && options.Accumulate > 1)
            throw new UsageException("Use --distributed (under mpirun -np N) or --accumulate N, not both.");
        if (options.Threads is { } threads) Torch.SetNumThreads(threads);
        if (options.Distributed) Distributed.Distributed.InitProcessGroup();
        try
        {
            Train(options, Distributed.Distributed.IsMainProcess ? output : TextWriter.Null);
        }
        finally
        {
            if (options.Distributed) Distributed.Distributed.DestroyProcessGroup();
        }
    }

    private static void Train(TrainOptions options, TextWriter output)
    {
        int world = Distributed.Distributed.WorldSize, rank = Distributed.Distributed.Rank;
        int shards = options.Distributed ? world : options.Accumulate;
        string folder = options.DataDir ?? MnistData.BundledFolder;
        if (options.Download)
            folder = Distributed.Distributed.IsMainProcess ? MnistData.Download(options.CacheDir, options.Mirrors, options.DownloadTimeout, output.WriteLine) : folder;
        if (options.Download && options.Distributed)
        {
            Distributed.Distributed.Barrier();   // rank 0 fetched the files; the others read them from the cache
            if (!Distributed.Distributed.IsMainProcess) folder = MnistData.Download(options.CacheDir, options.Mirrors, options.DownloadTimeout, _ => { });
        }
        var train = MnistData.Load(folder, train: true, options.TrainLimit);
        var test = MnistData.Load(folder, train: false, options.TestLimit);
        var lossFn = new CrossEntropyLoss();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"DeepSharp MNIST ({(options.Distributed ? $"data-parallel, {world} ranks" : $"gradient accumulation, {shards} micro-batches")}) - model {options.Model}, {train.Count:N0} training images, batch {options.BatchSize} × {shards}, {Torch.GetNumThreads()} threads per process"));

        if (!options.NoWarmup) WarmUp(options, train, lossFn);
        Torch.ManualSeed(options.Seed);
        var model = Models.Create(options.Model);
        Module<Tensor, Tensor> net = model;
        // 4 MiB buckets: the cnn's 4.5 MiB fc1 weight gets a bucket of its own, reduced while the convolutions' backward
        // runs (with 25 MiB it would wait for conv1's gradient, the last of the pass).
        DistributedDataParallel? ddp = options.Distributed ? new DistributedDataParallel(model, bucketCapMiB: 4) : null;
        if (ddp is not null) net = ddp;
        var optimizer = new Adam(model.Parameters(), lr: options.LearningRate);
        var samplers = Enumerable.Range(0, shards).Where(s => !options.Distributed || s == rank)
            .Select(s => new DistributedSampler(train.Count, options.BatchSize, shards, s, shuffle: true, seed: options.Seed, dropLast: true)).ToArray();
        if (samplers[0].StepsPerEpoch == 0)
            throw new MnistException($"{train.Count} training images are fewer than one global batch of {shards} × {options.BatchSize}.");

        var epochs = new JsonArray();
        var seconds = new JsonArray();
        var cpuSeconds = new JsonArray();
        var testAccuracies = new JsonArray();
        var waitSeconds = new JsonArray();
        var commSeconds = new JsonArray();
        double testAccuracy = 0;
        try
        {
            for (int epoch = 1; epoch <= options.EffectiveEpochs; epoch++)
            {
                foreach (var s in samplers) s.SetEpoch(epoch);
                model.Train();
                ddp?.ResetTimings();
                var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                double lossSum = 0;
                long seen = 0;
                var batches = samplers.Select(s => s.Batches().GetEnumerator()).ToArray();
                while (batches.All(b => b.MoveNext()))
                {
                    optimizer.ZeroGrad();
                    foreach (var b in batches)
                    {
                        var index = Tensor.FromBuffer(b.Current.Select(i => (long)i).ToArray(), b.Current.Length);
                        var loss = lossFn.Forward(net.Forward(train.Images.IndexSelect(0, index)), train.Labels.IndexSelect(0, index));
                        loss.Backward();
                        lossSum += loss.Item() * b.Current.Length;
                        seen += b.Current.Length;
                    }
                    if (shards > 1 && ddp is null) DistributedDataParallel.AverageAccumulatedGradients(model.Parameters(), shards);
                    optimizer.Step();
                }
                double elapsed = clock.Elapsed.TotalSeconds;
                double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
                double wait = ddp?.WaitTime.TotalSeconds ?? 0, comm = ddp?.CommunicationTime.TotalSeconds ?? 0;
                // The epoch's loss over every rank's images, the ranks' CPU time and their DDP timings (one small all-reduce per epoch).
                var totals = Tensor.FromBuffer(new[] { lossSum, seen, elapsed, cpu, wait, comm }, 6);
                if (ddp is not null) Distributed.Distributed.AllReduce(totals, ReduceOp.Sum);
                var t = totals.ToArray<double>();
                double images = t[1], trainLoss = t[0] / t[1];
                elapsed = ddp is null ? elapsed : t[2] / world;
                var (testLoss, accuracy) = MnistApp.Evaluate(model, new DataLoader(new TensorDataset(test.Images, test.Labels), batchSize: 1000), lossFn);
                testAccuracy = accuracy;
                epochs.Add(trainLoss);
                seconds.Add(elapsed);
                cpuSeconds.Add(t[3]);
                waitSeconds.Add(t[4] / world);
                commSeconds.Add(t[5] / world);
                testAccuracies.Add(accuracy);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch}/{options.EffectiveEpochs}: train loss {trainLoss:F4}, test loss {testLoss:F4}, test accuracy {accuracy * 100:F2}% ({elapsed:F2} s, {images / elapsed:N0} img/s over {(ddp is null ? "1 process" : $"{world} ranks")})"));
            }
        }
        finally
        {
            ddp?.Dispose();
        }

        string sha = WeightsSha256(model);
        if (options.SavePath is { } path && Distributed.Distributed.IsMainProcess)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            SafeTensors.Save(model.StateDict(), path, new Dictionary<string, string> { ["model"] = options.Model });
            output.WriteLine($"Saved the weights to {path}");
        }
        output.WriteLine($"weights_sha256 {sha}");
        if (options.Json)
        {
            var json = new JsonObject
            {
                ["model"] = options.Model,
                ["test_accuracy"] = testAccuracy,
                ["epoch_seconds"] = seconds,
                ["epoch_cpu_seconds"] = cpuSeconds,
                // Per rank (mean over the ranks): backward's wait for the all-reduce at its end, and the time the buckets'
                // reductions were in flight (DistributedDataParallel.WaitTime / CommunicationTime); 0 with --accumulate.
                ["epoch_allreduce_wait_seconds"] = waitSeconds,
                ["epoch_comm_seconds"] = commSeconds,
                ["train_loss"] = epochs,
                ["test_accuracies"] = testAccuracies,
                ["images_per_second"] = samplers[0].StepsPerEpoch * (double)options.BatchSize * shards / (double)seconds[^1]!,
                ["train_images"] = train.Count,
                ["threads"] = Torch.GetNumThreads(),
                ["world_size"] = world,
                ["accumulate"] = options.Accumulate,
                ["weights_sha256"] = sha,
            };
            output.WriteLine(json.ToJsonString());
        }
        output.Flush();
    }

    /// <summary>One local train step of a throwaway model, so that the JIT compiles before epoch 1 (no communication).</summary>
    private static void WarmUp(TrainOptions options, MnistSplit train, CrossEntropyLoss lossFn)
    {
        var model = Models.Create(options.Model);
        var optimizer = new Adam(model.Parameters(), lr: options.LearningRate);
        int n = Math.Min(options.BatchSize, train.Count);
        lossFn.Forward(model.Forward(train.Images.Narrow(0, 0, n)), train.Labels.Narrow(0, 0, n)).Backward();
        optimizer.Step();
    }

    /// <summary>SHA-256 (lower-case hex) of the model's parameters in state-dict order, as little-endian float32/float64
    /// bytes: two runs that end with the same weights, bit for bit, print the same hash.</summary>
    public static string WeightsSha256(Module model)
    {
        var parameters = model.NamedParameters().Select(p => p.Key).ToHashSet();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in model.StateDict())
        {
            if (!parameters.Contains(name)) continue;
            var t = tensor.Contiguous();
            if (t.DType == DType.Float64) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsReadOnlySpan<double>()));
            else sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsReadOnlySpan<float>()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
