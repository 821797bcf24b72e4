using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSharp.Distributed;
using DeepSharp.Examples.Common;
using Dist = DeepSharp.Distributed.Distributed;
using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Optim;
using Spectre.Console;

namespace DeepSharp.Examples.Gpt;

/// <summary>What a training run reached.</summary>
public sealed record GptResult(int Steps, double TrainLoss, double ValLoss, double TokensPerSecond, double StepMs,
    double PeakRssMb, long Parameters, string Sample, IReadOnlyList<double> Losses, string WeightsSha256)
{
    /// <summary>The number of ranks (1 without --distributed).</summary>
    public int WorldSize { get; init; } = 1;

    /// <summary>Micro-batches per step in one process (--accumulate).</summary>
    public int Accumulate { get; init; } = 1;

    /// <summary>Every rank ended with the same weights (always true in one process).</summary>
    public bool RanksAgree { get; init; } = true;
}

/// <summary>
/// A character-level GPT trained on a bundled text: AdamW (weight decay on the weight matrices only), gradient clipping,
/// linear warm-up then cosine decay, periodic validation loss, a checkpoint to resume or sample from, and sampling with
/// temperature, top-k and a key-value cache (each new character costs O(T)).
/// </summary>
public static class GptApp
{
    /// <summary>Runs the command line; returns the exit code (0 ok, 1 failure, 2 usage error).</summary>
    public static int Execute(string[] args, TextWriter output, TextWriter error, bool interactive = false)
    {
        (string command, object? options) parsed;
        try { parsed = CommandLine.Parse(args); }
        catch (UsageException e)
        {
            error.WriteLine(e.Message);
            error.WriteLine("Run with --help for the options.");
            return 2;
        }
        try
        {
            switch (parsed.command)
            {
                case "help": output.Write((string)parsed.options!); return 0;
                case "generate": Generate((GenerateOptions)parsed.options!, output); return 0;
                default: Train((TrainOptions)parsed.options!, output, interactive); return 0;
            }
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"gpt: {e.Message}");
            return 1;
        }
    }

    /// <summary>The bundled text (the KJV Pentateuch, public domain).</summary>
    public static string DefaultDataPath => Path.Combine(AppContext.BaseDirectory, "data", "kjv-pentateuch.txt");

    /// <summary>
    /// Trains (or resumes) and reports. With <c>--distributed</c> (under <c>mpirun -np N</c>) every rank trains on its
    /// slice of each global batch through <see cref="DistributedDataParallel"/> and rank 0 alone prints and writes; with
    /// <c>--accumulate N</c> one process takes the same global batches as N micro-batches. Both end with the same weights,
    /// bit for bit (<c>weights_sha256</c>).
    /// </summary>
    public static GptResult Train(TrainOptions o, TextWriter output, bool interactive = false)
    {
        if (o.Distributed && o.Accumulate > 1) throw new ArgumentException("use --distributed (under mpirun -np N) or --accumulate N, not both.");
        if (o.Accumulate < 1) throw new ArgumentException($"--accumulate must be at least 1, got {o.Accumulate}.");
        if (o.Threads is { } th) Kernels.KernelSettings.NumThreads = th;
        if (!o.Distributed) return TrainCore(o, output, interactive);
        Dist.InitProcessGroup();
        try
        {
            return TrainCore(o, Dist.IsMainProcess ? output : TextWriter.Null, interactive && Dist.IsMainProcess);
        }
        catch (Exception e) when (Dist.WorldSize > 1)
        {
            // The other ranks wait in a collective for this one: print why and end the whole job (MPI_Abort).
            Console.Error.WriteLine($"[rank {Dist.Rank} of {Dist.WorldSize}] gpt: {e.GetType().Name}: {e.Message}");
            Console.Error.Flush();
            Console.Out.Flush();
            Dist.Abort(1);
            throw;
        }
        finally
        {
            Dist.DestroyProcessGroup();
        }
    }

    private static GptResult TrainCore(TrainOptions o, TextWriter output, bool interactive)
    {
        int world = Dist.WorldSize, rank = Dist.Rank;
        bool main = rank == 0;
        int shards = o.Distributed ? world : o.Accumulate;
        var console = ExampleConsole.Create(output, interactive);
        string text = File.ReadAllText(o.DataPath ?? DefaultDataPath);
        CheckpointState? resume = o.ResumePath is null ? null : Checkpoint.Load(o.ResumePath);
        var vocab = resume is null ? CharVocabulary.FromText(text) : CharVocabulary.FromJson(resume.Json["vocab"]);
        var config = resume is null
            ? new GptConfig(vocab.Size, o.Block, o.Layers, o.Heads, o.Embd, o.Dropout)
            : JsonSerializer.Deserialize<GptConfig>(resume.Json["config"])!;
        if (text.Length < 2 * (config.BlockSize + 1)) throw new ArgumentException($"the text has {text.Length} characters; it needs at least {2 * (config.BlockSize + 1)} for --block {config.BlockSize}.");
        long[] tokens = vocab.Encode(text);
        int split = (int)(tokens.Length * 0.9);
        var (train, val) = (tokens[..split], tokens[split..]);

        var init = new Generator(o.Seed);
        // Dropout masks come from (seed, step, shard), reseeded before each micro-batch: the same data sees the same masks
        // in one process or on N ranks, and a resumed run draws what the uninterrupted one drew.
        var dropout = new Generator(o.Seed);
        var model = new GptModel(config, init, dropout);
        var batches = new Generator(o.Seed + 1);
        // AdamW: decay the weight matrices and embeddings, not biases and LayerNorm parameters (nanoGPT's groups).
        var decay = model.Parameters().Where(p => p.Dim >= 2).ToList();
        var noDecay = model.Parameters().Where(p => p.Dim < 2).ToList();
        var optimizer = new AdamW(
        [
            new ParamGroup(decay, new Dictionary<string, double> { ["weight_decay"] = o.WeightDecay }),
            new ParamGroup(noDecay, new Dictionary<string, double> { ["weight_decay"] = 0.0 }),
        ], lr: o.LearningRate, betas: (0.9, 0.95));
        var schedule = new LambdaLR(optimizer, step => LrFactor(step, o.Warmup, o.Steps, o.MinLrFraction));
        int step = 0;
        if (resume is not null)
        {
            model.LoadStateDict(resume.Tensors["model"]);
            optimizer.LoadStateDict(resume.GetOptimizer());
            schedule.LoadStateDict(resume.GetScheduler());
            batches.SetState(resume.RngStates["batches"]);
            step = (int)resume.Step;
        }
        // Under DDP the tied embedding/head weight gets its gradient from both uses before its bucket is reduced (the
        // autograd engine runs a leaf's post-accumulate hook after its last gradient); with --accumulate the
        // GradientAccumulator keeps each micro-batch's gradient whole, so the sums are added in DDP's order.
        using var ddp = o.Distributed ? new DistributedDataParallel(model) : null;
        Module<Tensor, Tensor> net = ddp is null ? model : ddp;
        var accumulator = shards > 1 && ddp is null ? new GradientAccumulator(model.Parameters()) : null;
        long parameters = model.Parameters().Sum(p => (long)p.NumEl);
        string how = o.Distributed ? $"; data-parallel over {world} ranks, {o.BatchSize} sequences each" : shards > 1 ? $"; {shards} micro-batches of {o.BatchSize} per step" : "";
        console.MarkupLineInterpolated($"GPT: {config.Layers} layers, {config.Heads} heads, width {config.Embd}, context {config.BlockSize}, vocabulary {config.VocabSize} characters, {parameters:N0} parameters; {train.Length:N0} training characters{how}{(resume is null ? "" : $", resuming at step {step}")}");

        var losses = new List<double>();
        var evalSteps = new List<double>();
        var evalLosses = new List<double>();
        var stepTimes = new List<double>();
        double valLoss = double.NaN;
        int total = o.Steps;
        int[] myShards = o.Distributed ? [rank] : [.. Enumerable.Range(0, shards)];
        void TrainStep()
        {
            var sw = Stopwatch.StartNew();
            // The step's tensors go back to the pool when it ends, not at a collection; gradients are zeroed in place to stay.
            using var scope = Torch.NewDisposeScope();
            model.Train();
            // Every rank draws the whole global batch (the same generator state everywhere) and takes its slice.
            var (x, y) = Batch(train, o.BatchSize * shards, config.BlockSize, batches);
            optimizer.ZeroGrad(setToNone: false);
            double lossSum = 0;
            foreach (int shard in myShards)
            {
                var xs = shards == 1 ? x : x.Narrow(0, shard * o.BatchSize, o.BatchSize);
                var ys = shards == 1 ? y : y.Narrow(0, shard * o.BatchSize, o.BatchSize);
                dropout.ManualSeed(Dist.SeedFor(o.Seed, step, shard));
                var logits = net.Forward(xs);
                var loss = F.CrossEntropy(logits.View(-1, config.VocabSize), ys.Reshape(-1));
                loss.Backward();
                accumulator?.Add();
                lossSum += loss.Item();
            }
            accumulator?.Average();
            if (o.GradClip > 0) ClipGrad.ClipGradNorm(model.Parameters(), o.GradClip);
            optimizer.Step();
            schedule.Step();
            losses.Add(o.Distributed ? lossSum : lossSum / shards);   // under DDP: this rank's; averaged over the ranks at the end
            step++;
            stepTimes.Add(sw.Elapsed.TotalMilliseconds);
            if (main && (step % o.EvalEvery == 0 || step == total))
            {
                valLoss = Evaluate(model, val, o.BatchSize, config.BlockSize, o.EvalBatches, new Generator(o.Seed + 2));
                evalSteps.Add(step);
                evalLosses.Add(valLoss);
            }
        }
        string Describe() => $"step {step}/{total}  loss {Recent(losses):F3}{(o.Distributed ? " (rank 0)" : "")}  val {(double.IsNaN(valLoss) ? "–" : valLoss.ToString("F3", CultureInfo.InvariantCulture))}";
        if (interactive)
            ExampleConsole.ProgressBar(console, "training", total - step, report =>
            {
                int first = step;
                while (step < total) { TrainStep(); report(step - first, Describe); }
            });
        else
        {
            var quarter = ExampleConsole.Quarters(Math.Max(1, total - step));
            int first = step;
            while (step < total)
            {
                TrainStep();
                if (quarter(step - first)) console.WriteLine(Describe());
            }
        }
        if (o.Distributed && world > 1 && losses.Count > 0)
        {
            // The training losses over every rank's slice (summed in rank order, then divided: the --accumulate values).
            var all = Tensor.FromBuffer(losses.ToArray(), losses.Count);
            Dist.AllReduce(all, ReduceOp.Sum);
            var summed = all.ToArray<double>();
            for (int i = 0; i < losses.Count; i++) losses[i] = summed[i] / world;
        }

        // Timing: the median step after the first few (JIT, pool warm-up).
        var steady = stepTimes.Skip(Math.Min(3, stepTimes.Count / 2)).Order().ToList();
        double stepMs = steady.Count == 0 ? double.NaN : steady[steady.Count / 2];
        double tokensPerSecond = (double)o.BatchSize * shards * config.BlockSize / (stepMs / 1000);
        string sample = main && o.Sample > 0 ? Sample(model, vocab, o.Prompt, o.Sample, o.Temperature, o.TopK, new Generator(o.Seed + 3), useCache: true) : "";
        if (main && o.Sample > 0) console.WriteLine($"sample: {sample}");

        if (o.SavePath is not null)
        {
            var state = new CheckpointState { Step = step };
            state.Tensors["model"] = model.StateDict();
            state.SetOptimizer(optimizer.StateDict());
            state.SetScheduler(schedule.StateDict());
            state.RngStates["batches"] = batches.GetState();
            state.Json["config"] = JsonSerializer.Serialize(config);
            state.Json["vocab"] = vocab.ToJson();
            if (o.Distributed) Dist.SaveCheckpoint(o.SavePath, state);   // rank 0 writes atomically; the others wait for it
            else Checkpoint.Save(state, o.SavePath);
            console.WriteLine($"checkpoint written to {o.SavePath}");
        }
        if (main && !o.NoPlot && losses.Count > 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.EffectivePlotPath))!);
            new TrainingPlot("Character-level GPT", "step", "cross-entropy (nats)")
                .SmoothedLoss("train (smoothed)", losses, Math.Max(1, losses.Count / 20), i => step - losses.Count + i + 1)
                .Points("validation", evalSteps, evalLosses)
                .Save(o.EffectivePlotPath);
            console.WriteLine($"loss plot: {o.EffectivePlotPath}");
        }

        string sha = WeightsSha256(model);
        bool ranksAgree = !o.Distributed || RanksAgree(sha);
        var result = new GptResult(step, Recent(losses), valLoss, tokensPerSecond, stepMs, PeakRssMb(), parameters, sample, losses, sha)
        {
            WorldSize = world, Accumulate = o.Accumulate, RanksAgree = ranksAgree,
        };
        console.WriteLine($"{result.Steps} steps: train loss {result.TrainLoss:F3}, validation loss {result.ValLoss:F3}, {result.TokensPerSecond:F0} tokens/s ({result.StepMs:F1} ms a step), peak RSS {result.PeakRssMb:F0} MB");
        console.WriteLine($"weights_sha256 {sha}{(o.Distributed ? $" ({(ranksAgree ? "the same on all" : "NOT the same on all")} {world} ranks)" : "")}");
        if (o.Json && main)
        {
            var json = new JsonObject
            {
                ["model"] = "gpt", ["layers"] = config.Layers, ["heads"] = config.Heads, ["embd"] = config.Embd, ["block"] = config.BlockSize,
                ["parameters"] = parameters, ["steps"] = result.Steps, ["train_loss"] = result.TrainLoss, ["val_loss"] = result.ValLoss,
                ["tokens_per_s"] = result.TokensPerSecond, ["step_ms"] = result.StepMs, ["peak_rss_mb"] = result.PeakRssMb,
                ["world_size"] = world, ["accumulate"] = o.Accumulate, ["threads"] = Torch.GetNumThreads(),
                ["weights_sha256"] = result.WeightsSha256, ["ranks_agree"] = ranksAgree, ["sample"] = result.Sample,
            };
            output.WriteLine(json.ToJsonString());
        }
        return result;
    }

    /// <summary>Whether every rank ended with the weights hashed to <paramref name="sha"/> (an all-reduce of the hash's
    /// words with Max and with Min: equal on every rank only when all hashes are).</summary>
    private static bool RanksAgree(string sha)
    {
        byte[] bytes = Convert.FromHexString(sha);
        var words = new long[bytes.Length / 8];
        for (int i = 0; i < words.Length; i++) words[i] = BitConverter.ToInt64(bytes, 8 * i);
        var max = Tensor.FromBuffer(words, words.Length);
        var min = Tensor.FromBuffer((long[])words.Clone(), words.Length);
        Dist.AllReduce(max, ReduceOp.Max);
        Dist.AllReduce(min, ReduceOp.Min);
        return max.ToArray<long>().SequenceEqual(words) && min.ToArray<long>().SequenceEqual(words);
    }

    /// <summary>Linear warm-up to 1, then cosine decay to <paramref name="minFraction"/> at <paramref name="steps"/>.</summary>
    public static double LrFactor(int step, int warmup, int steps, double minFraction)
    {
        if (step < warmup) return (step + 1.0) / warmup;
        if (step >= steps) return minFraction;
        double progress = (double)(step - warmup) / Math.Max(1, steps - warmup);
        return minFraction + (1 - minFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Random windows of the text: inputs [B, T] and the next characters [B, T], both Int64.</summary>
    public static (Tensor X, Tensor Y) Batch(long[] tokens, int batch, int block, Generator generator)
    {
        var x = new long[batch * block];
        var y = new long[batch * block];
        for (int b = 0; b < batch; b++)
        {
            int start = (int)generator.NextInt64(0, tokens.Length - block - 1);
            Array.Copy(tokens, start, x, b * block, block);
            Array.Copy(tokens, start + 1, y, b * block, block);
        }
        return (Tensor.FromArray(x, batch, block), Tensor.FromArray(y, batch, block));
    }

    /// <summary>The mean loss over <paramref name="batches"/> random batches of <paramref name="tokens"/>, without recording.</summary>
    public static double Evaluate(GptModel model, long[] tokens, int batch, int block, int batches, Generator generator)
    {
        model.Eval();
        double sum = 0;
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < batches; i++)
            {
                var (x, y) = Batch(tokens, batch, block, generator);
                sum += F.CrossEntropy(model.Forward(x).View(-1, model.Config.VocabSize), y.View(-1)).Item();
            }
        }
        model.Train();
        return sum / batches;
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> by <paramref name="length"/> characters, each drawn from softmax(logits / T)
    /// restricted to the <paramref name="topK"/> most likely. With the cache, each step feeds one character and attends
    /// to the cached keys and values; when the context is full it restarts from the last half-context.
    /// </summary>
    public static string Sample(GptModel model, CharVocabulary vocab, string prompt, int length, double temperature, int? topK,
        Generator generator, bool useCache)
    {
        model.Eval();
        int block = model.Config.BlockSize;
        var context = new List<long>(vocab.Encode(prompt.Length == 0 ? "\n" : prompt));
        var produced = new System.Text.StringBuilder();
        using (Autograd.NoGrad())
        {
            KvCache[]? caches = null;
            for (int i = 0; i < length; i++)
            {
                Tensor logits;
                if (!useCache)
                {
                    var window = context.Skip(Math.Max(0, context.Count - block)).ToArray();
                    logits = model.Forward(Tensor.FromArray(window, 1, window.Length)).Select(1, window.Length - 1);
                }
                else
                {
                    if (caches is null || caches[0].Length >= block)
                    {
                        // (Re)fill the cache from the last half-context (all of it at the start).
                        var window = context.Skip(Math.Max(0, context.Count - (caches is null ? block : block / 2))).ToArray();
                        caches = model.NewCaches(1);
                        logits = model.Forward(Tensor.FromArray(window, 1, window.Length), caches).Select(1, window.Length - 1);
                    }
                    else logits = model.Forward(Tensor.FromArray(new[] { context[^1] }, 1, 1), caches).Select(1, 0);
                }
                long next = Draw(logits.Select(0, 0), temperature, topK, generator);
                context.Add(next);
                produced.Append(vocab.Decode(next));
            }
        }
        model.Train();
        return prompt + produced;
    }

    /// <summary>One index drawn from softmax(logits / temperature) over the top-k logits (torch.topk, torch.multinomial).</summary>
    private static long Draw(Tensor logits, double temperature, int? topK, Generator generator)
    {
        logits = logits / temperature;
        if (topK is { } k && k < logits.Size(0))
        {
            var (top, _) = logits.TopK(k);
            logits = logits.MaskedFill(logits.Lt(top.Select(0, k - 1)), double.NegativeInfinity);
        }
        return logits.Softmax(-1).Multinomial(1, generator: generator).Item<long>();
    }

    /// <summary>Generates from a checkpoint.</summary>
    public static string Generate(GenerateOptions o, TextWriter output)
    {
        var state = Checkpoint.Load(o.WeightsPath);
        var vocab = CharVocabulary.FromJson(state.Json["vocab"]);
        var config = JsonSerializer.Deserialize<GptConfig>(state.Json["config"])!;
        var model = new GptModel(config, new Generator(0));
        model.LoadStateDict(state.Tensors["model"]);
        foreach (char c in o.Prompt)
            if (!vocab.Contains(c)) throw new ArgumentException($"the prompt's character '{c}' is not in the model's vocabulary.");
        var sw = Stopwatch.StartNew();
        string text = Sample(model, vocab, o.Prompt, o.Length, o.Temperature, o.TopK, new Generator(o.Seed), useCache: !o.NoCache);
        double seconds = sw.Elapsed.TotalSeconds;
        if (o.Json)
            output.WriteLine(new JsonObject { ["text"] = text, ["characters_per_s"] = o.Length / seconds, ["kv_cache"] = !o.NoCache }.ToJsonString());
        else
        {
            output.WriteLine(text);
            output.WriteLine($"({o.Length} characters in {seconds:F2} s, {(o.NoCache ? "no cache" : "key-value cache")})");
        }
        return text;
    }

    private static double Recent(List<double> losses) =>
        losses.Count == 0 ? double.NaN : losses.Skip(Math.Max(0, losses.Count - 20)).Average();

    /// <summary>Peak resident memory of this process (VmHWM), in MB.</summary>
    public static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        return double.NaN;
    }

    /// <summary>SHA-256 of the parameters in state-dict order (their float bytes), to compare runs from outside.</summary>
    public static string WeightsSha256(Module model)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (_, t) in model.StateDict())
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Contiguous().ToArray<float>().AsSpan()));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

/// <summary>The characters of a text, sorted, as token ids 0…V−1.</summary>
public sealed class CharVocabulary
{
    private readonly char[] _chars;
    private readonly Dictionary<char, long> _ids;

    private CharVocabulary(char[] chars)
    {
        _chars = chars;
        _ids = chars.Select((c, i) => (c, (long)i)).ToDictionary(p => p.c, p => p.Item2);
    }

    /// <summary>The distinct characters of <paramref name="text"/>.</summary>
    public static CharVocabulary FromText(string text) => new([.. text.Distinct().Order()]);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    public static CharVocabulary FromJson(string json) => new(JsonSerializer.Deserialize<string>(json)!.ToCharArray());

    /// <summary>The characters as a JSON string.</summary>
    public string ToJson() => JsonSerializer.Serialize(new string(_chars));

    /// <summary>V.</summary>
    public int Size => _chars.Length;

    /// <summary>Whether <paramref name="c"/> has an id.</summary>
    public bool Contains(char c) => _ids.ContainsKey(c);

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    public long[] Encode(string text)
    {
        var ids = new long[text.Length];
        for (int i = 0; i < text.Length; i++)
            ids[i] = _ids.TryGetValue(text[i], out long id) ? id : throw new ArgumentException($"character '{text[i]}' is not in the vocabulary.");
        return ids;
    }

    /// <summary>The character of an id.</summary>
    public char Decode(long id) => _chars[id];
}
