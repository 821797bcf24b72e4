using System.Diagnostics;
using System.Text.Json.Nodes;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>One GPT-2 configuration of the <c>gpt_step</c>/<c>gpt_infer</c> workloads.</summary>
internal sealed record GptConfig(string Name, int Layers, int Heads, int Embd, int Vocab, int Block, int Batch)
{
    public static readonly GptConfig Mini = new("mini", 4, 4, 256, 8192, 256, 8);
    public static readonly GptConfig Small = new("gpt2_small", 12, 12, 768, 50257, 256, 4);

    /// <summary>The configurations named by <c>--config</c> (mini and GPT-2 small by default).</summary>
    public static IEnumerable<GptConfig> Select(WorkloadOptions options) =>
        new[] { Mini, Small }.Where(c => options.Configs is null || options.Configs.Contains(c.Name));
}

/// <summary>A nanoGPT-style pre-LN block, written from the public modules (MultiheadAttention with isCausal, GELU tanh).</summary>
internal sealed class GptBlock : Module<Tensor, Tensor>
{
    private readonly LayerNorm _ln1, _ln2;
    private readonly MultiheadAttention _attn;
    private readonly Linear _fc, _proj;
    private readonly GELU _gelu = new("tanh");

    public GptBlock(GptConfig c, Generator g)
    {
        _ln1 = RegisterModule("ln_1", new LayerNorm(c.Embd));
        _attn = RegisterModule("attn", new MultiheadAttention(c.Embd, c.Heads, batchFirst: true, generator: g));
        _ln2 = RegisterModule("ln_2", new LayerNorm(c.Embd));
        _fc = RegisterModule("c_fc", new Linear(c.Embd, 4 * c.Embd, generator: g));
        _proj = RegisterModule("c_proj", new Linear(4 * c.Embd, c.Embd, generator: g));
    }

    public override Tensor Forward(Tensor x)
    {
        var h = _ln1.Forward(x);
        x = x + _attn.Forward(h, h, h, needWeights: false, isCausal: true).Output;
        return x + _proj.Forward(_gelu.Forward(_fc.Forward(_ln2.Forward(x))));
    }
}

/// <summary>GPT-2 from the public API: token and position embeddings, pre-LN blocks, final LayerNorm, LM head
/// tied to the token embedding.</summary>
internal sealed class GptModel : Module<Tensor, Tensor>
{
    private readonly Embedding _wte, _wpe;
    private readonly GptBlock[] _blocks;
    private readonly LayerNorm _lnF;
    private readonly Tensor _positions;

    public GptModel(GptConfig c, Generator g)
    {
        _wte = RegisterModule("wte", new Embedding(c.Vocab, c.Embd, generator: g));
        _wpe = RegisterModule("wpe", new Embedding(c.Block, c.Embd, generator: g));
        _blocks = new GptBlock[c.Layers];
        for (int i = 0; i < c.Layers; i++) _blocks[i] = RegisterModule($"h_{i}", new GptBlock(c, g));
        _lnF = RegisterModule("ln_f", new LayerNorm(c.Embd));
        _positions = Tensor.Arange(c.Block, DType.Int64);
    }

    /// <summary>Logits [B, T, vocab] for token ids [B, T].</summary>
    public override Tensor Forward(Tensor idx)
    {
        var x = _wte.Forward(idx) + _wpe.Forward(_positions);
        foreach (var b in _blocks) x = b.Forward(x);
        return F.Linear(_lnF.Forward(x), _wte.Weight);   // weight tying
    }

    /// <summary>AdamW with no decay on norms and biases (parameters of fewer than 2 dims).</summary>
    public AdamW Optimizer() => new(
    [
        new ParamGroup(Parameters().Where(p => p.Dim >= 2), new Dictionary<string, double> { ["weight_decay"] = 0.1 }),
        new ParamGroup(Parameters().Where(p => p.Dim < 2), new Dictionary<string, double> { ["weight_decay"] = 0.0 }),
    ], lr: 3e-4);
}

/// <summary>Process memory figures from /proc (Linux; zero elsewhere).</summary>
internal static class ProcStats
{
    /// <summary>Peak resident set (VmHWM) in MiB.</summary>
    public static double PeakRssMb() => StatusKb("VmHWM:") / 1024.0;

    /// <summary>Current resident set (VmRSS) in MiB.</summary>
    public static double RssMb() => StatusKb("VmRSS:") / 1024.0;

    /// <summary>Minor page faults of the process so far (/proc/self/stat field 10).</summary>
    public static long MinorFaults()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7]);   // fields[0] is field 3 (state)
        }
        catch (IOException) { return 0; }
    }

    /// <summary>Resets VmHWM to the current RSS (writing 5 to /proc/self/clear_refs), so each workload reports its own peak.</summary>
    public static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static long StatusKb(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0]);
        }
        catch (IOException) { }
        return 0;
    }
}

/// <summary>Shared timing of the GPT workloads: a few steps (they take seconds at GPT-2 small scale), median
/// milliseconds, tokens/s, minor faults and pooled buffer pages per step, RSS at the first and last measured step.</summary>
internal static class GptBench
{
    public static JsonObject Measure(string workload, GptConfig c, Action body, WorkloadOptions options)
    {
        Action step = !options.DisposeScope ? body : () =>
        {
            using var scope = Torch.NewDisposeScope();
            body();
        };
        int warm = 2, reps = Math.Max(1, options.Steps ?? options.Repetitions);
        for (int i = 0; i < warm; i++) step();
        var ms = new double[reps];
        long faults0 = ProcStats.MinorFaults(), hits0 = BufferPoolSettings.Hits, misses0 = BufferPoolSettings.Misses;
        long rented0 = Recycler.Current?.RentedTotal ?? 0;
        double rssFirst = 0, rssMin = double.MaxValue, rssMax = 0;
        for (int r = 0; r < reps; r++)
        {
            long f0 = options.TraceMemory ? ProcStats.MinorFaults() : 0;
            long t0 = Stopwatch.GetTimestamp();
            step();
            ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            double rss = ProcStats.RssMb();
            if (r == 0) rssFirst = rss;
            rssMin = Math.Min(rssMin, rss);
            rssMax = Math.Max(rssMax, rss);
            if (options.TraceMemory)
                options.Trace.WriteLine(new JsonObject
                {
                    ["workload"] = workload, ["config"] = c.Name, ["step"] = r, ["ms"] = Math.Round(ms[r], 1),
                    ["rss_mb"] = Math.Round(rss), ["faults"] = ProcStats.MinorFaults() - f0,
                    ["pool_mb"] = Math.Round(BufferPoolSettings.PooledBytes / 1048576.0),
                    ["recycler_gc"] = Recycler.Collections, ["recycler_full_gc"] = Recycler.FullCollections,
                    ["gc_heap_mb"] = Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0),
                    ["gc_committed_mb"] = Math.Round(GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0),
                    ["gc_fragmented_mb"] = Math.Round(GC.GetGCMemoryInfo().FragmentedBytes / 1048576.0),
                    ["outstanding_mb"] = Math.Round((Recycler.Current?.Outstanding ?? 0) / 1048576.0),
                }.ToJsonString());
        }
        long faults = ProcStats.MinorFaults() - faults0;
        long bufferPages = ((Recycler.Current?.RentedTotal ?? 0) - rented0) / 4096;
        Array.Sort(ms);
        double median = reps % 2 == 1 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
        var result = new JsonObject
        {
            ["workload"] = workload, ["config"] = c.Name, ["ms"] = Math.Round(median, 1),
            ["tokens_per_s"] = Math.Round(c.Batch * c.Block / (median / 1e3)),
            ["faults_per_step"] = faults / reps, ["buffer_pages_per_step"] = bufferPages / reps,
            ["fault_pct_of_buffer_pages"] = bufferPages > 0 ? Math.Round(100.0 * faults / bufferPages, 3) : null,
            ["pool_misses_per_step"] = (BufferPoolSettings.Misses - misses0) / reps,
            ["pool_hits_per_step"] = (BufferPoolSettings.Hits - hits0) / reps,
            ["rss_first_mb"] = Math.Round(rssFirst), ["rss_last_mb"] = Math.Round(ProcStats.RssMb()),
            ["rss_min_mb"] = Math.Round(rssMin), ["rss_max_mb"] = Math.Round(rssMax),
            ["steps"] = reps,
        };
        if (options.DisposeScope) result["dispose_scope"] = true;
        return result;
    }
}

/// <summary><c>gpt_step</c>: one AdamW training step of a GPT-2 (mini and small, see <see cref="GptConfig"/>) on random
/// tokens: forward, cross-entropy over [B·T, vocab], backward, step.</summary>
public sealed class GptStepWorkload : IWorkload
{
    public string Name => "gpt_step";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        foreach (var c in GptConfig.Select(options))
        {
            var g = new Generator(0);
            var model = new GptModel(c, g);
            var opt = model.Optimizer();
            var idx = Tensor.RandInt(0, c.Vocab, [c.Batch, c.Block], generator: g);
            var targets = Tensor.RandInt(0, c.Vocab, [c.Batch * c.Block], generator: g);
            void Step()
            {
                // With a scope, gradients are zeroed in place: ZeroGrad() would drop them to the GC every step.
                opt.ZeroGrad(setToNone: !options.DisposeScope);
                var logits = model.Forward(idx);
                var loss = F.CrossEntropy(logits.Reshape(c.Batch * c.Block, c.Vocab), targets);
                loss.Backward();
                opt.Step();
            }
            yield return GptBench.Measure(Name, c, Step, options);
        }
    }
}

/// <summary><c>gpt_infer</c>: a no-grad forward (logits of every position) of the same models in eval mode, one NoGrad
/// scope per forward, then (a second line, <c>"nograd": "one scope"</c>) all forwards inside one scope.</summary>
public sealed class GptInferWorkload : IWorkload
{
    public string Name => "gpt_infer";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        foreach (var c in GptConfig.Select(options))
        {
            var g = new Generator(0);
            var model = new GptModel(c, g);
            model.Eval();
            var idx = Tensor.RandInt(0, c.Vocab, [c.Batch, c.Block], generator: g);
            void Infer()
            {
                using (Autograd.NoGrad()) model.Forward(idx);
            }
            yield return GptBench.Measure(Name, c, Infer, options);
            // The usual evaluation loop: every forward (warm-up included) inside one NoGrad scope.
            JsonObject loop;
            using (Autograd.NoGrad()) loop = GptBench.Measure(Name, c, () => model.Forward(idx), options);
            loop["nograd"] = "one scope";
            yield return loop;
        }
    }
}
