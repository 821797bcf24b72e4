using System.Text.Json.Nodes;
using DeepSharp.Kernels;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>Parses the <c>workloads</c> command line and runs the selected workloads.</summary>
public static class WorkloadRunner
{
    /// <summary>Every workload, in output order. New workloads (mlp_step, cnn_step, resnet_step,
    /// encoder_step, …) are added here.</summary>
    public static IReadOnlyList<IWorkload> All { get; } =
    [
        new SgemmWorkload(),
        new MlpStepWorkload(),
        new CnnStepWorkload(),
        new ResnetStepWorkload(),
        new EncoderStepWorkload(),
        new EncoderInferWorkload(),
        new GptStepWorkload(),
        new GptInferWorkload(),
    ];

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        bool json = false;
        int threads = KernelSettings.NumThreads;
        HashSet<string>? only = null, configs = null;
        List<int>? sizes = null;
        int reps = 7;
        int? steps = null;
        bool traceMemory = false, disposeScope = false;
        string trans = "nn";
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            switch (arg)
            {
                case "--json": json = true; break;
                case "--threads": threads = int.Parse(Value()); break;
                case "--only": only = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries)]; break;
                case "--sizes": sizes = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)]; break;
                case "--reps": reps = int.Parse(Value()); break;
                case "--config": configs = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries)]; break;
                case "--trans": trans = Value().ToLowerInvariant(); break;
                case "--steps": steps = int.Parse(Value()); break;
                case "--trace-memory": traceMemory = true; break;
                case "--dispose-scope": disposeScope = true; break;
                default:
                    error.WriteLine($"unknown option {arg}");
                    error.WriteLine("usage: workloads [--json] [--threads N] [--only sgemm,...] [--sizes 256,512] [--reps 7] [--trans nn|nt|tn|tt] [--config mini,gpt2_small] [--steps N] [--trace-memory] [--dispose-scope]");
                    error.WriteLine("workloads: " + string.Join(", ", All.Select(w => w.Name)));
                    return 2;
            }
        }
        if (only is not null && only.FirstOrDefault(o => All.All(w => w.Name != o)) is { } unknown)
        {
            error.WriteLine($"unknown workload {unknown}; known: {string.Join(", ", All.Select(w => w.Name))}");
            return 2;
        }

        KernelSettings.NumThreads = threads;
        var options = new WorkloadOptions
        {
            Threads = threads, Sizes = sizes, Repetitions = reps, Trans = trans, Configs = configs,
            Steps = steps, TraceMemory = traceMemory, DisposeScope = disposeScope, Trace = error,
        };
        foreach (IWorkload w in All)
        {
            if (only is not null && !only.Contains(w.Name)) continue;
            ProcStats.ResetPeak();   // each workload reports its own peak resident set
            var stats = RecyclerStats.Now();
            foreach (JsonObject line in w.Run(options))
            {
                line["peak_rss_mb"] ??= Math.Round(ProcStats.PeakRssMb());
                RecyclerStats.Now().AddDelta(line, stats);
                stats = RecyclerStats.Now();
                output.WriteLine(json ? line.ToJsonString() : Describe(line, threads));
                output.Flush();
            }
        }
        return 0;
    }

    private static string Describe(JsonObject line, int threads) =>
        string.Join("  ", line.Select(kv => $"{kv.Key}={kv.Value}")) + $"  threads={threads}";
}

/// <summary>The buffer recycler's and the GC's counters, printed on every workload line: collections the recycler
/// ran (young and full), runtime GCs per generation, idle bytes the pool trimmed, bytes pooled, minor faults.</summary>
internal readonly record struct RecyclerStats(long Collections, long Full, int Gen0, int Gen1, int Gen2, long IdleDropped,
    long GiveBacks, long Faults)
{
    public static RecyclerStats Now() => new(Interlocked.Read(ref Recycler.Collections),
        Interlocked.Read(ref Recycler.FullCollections), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        Interlocked.Read(ref BufferPoolSettings.IdleDropped), Interlocked.Read(ref BufferPoolSettings.GiveBacks),
        ProcStats.MinorFaults());

    /// <summary>Adds the counts since <paramref name="start"/> to <paramref name="line"/>.</summary>
    public void AddDelta(JsonObject line, RecyclerStats start)
    {
        line["recycler_gc"] = Collections - start.Collections;
        line["recycler_full_gc"] = Full - start.Full;
        line["gc_counts"] = $"{Gen0 - start.Gen0}/{Gen1 - start.Gen1}/{Gen2 - start.Gen2}";
        line["pool_idle_dropped_mb"] = Math.Round((IdleDropped - start.IdleDropped) / 1048576.0);
        line["pool_give_backs"] = GiveBacks - start.GiveBacks;
        line["pool_mb"] = Math.Round(BufferPoolSettings.PooledBytes / 1048576.0);
        line["minor_faults"] ??= Faults - start.Faults;
    }
}
