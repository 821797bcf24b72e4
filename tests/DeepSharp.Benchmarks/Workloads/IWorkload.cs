using System.Text.Json.Nodes;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>
/// One benchmark workload of the PyTorch comparison. Add a workload by writing one class that
/// implements this and listing it in <see cref="WorkloadRunner.All"/>; docs/benchmarks/torch_peer.py
/// gets a function of the same name printing the same fields.
/// </summary>
public interface IWorkload
{
    /// <summary>The name in the JSON lines and for <c>--only</c> (e.g. "sgemm", "mlp_step").</summary>
    string Name { get; }

    /// <summary>Runs the workload (warm-up included) and yields one JSON object per measured configuration,
    /// each with at least <c>"workload": Name</c>.</summary>
    IEnumerable<JsonObject> Run(WorkloadOptions options);
}

/// <summary>Command-line options shared by all workloads.</summary>
public sealed class WorkloadOptions
{
    /// <summary>Threads for the kernels (KernelSettings.NumThreads); the runner has set it already.</summary>
    public int Threads { get; init; }

    /// <summary>Problem sizes to run instead of the workload's defaults (<c>--sizes</c>), or null.</summary>
    public IReadOnlyList<int>? Sizes { get; init; }

    /// <summary>GEMM operand layout for sgemm (<c>--trans nn|nt|tn|tt</c>: op(A), op(B) transposed or not).</summary>
    public string Trans { get; init; } = "nn";

    /// <summary>Configurations of the GPT workloads to run (<c>--config mini,gpt2_small</c>), or null for all.</summary>
    public IReadOnlySet<string>? Configs { get; init; }

    /// <summary>Measured steps of the GPT workloads (<c>--steps N</c>), overriding <see cref="Repetitions"/>: a long run
    /// shows whether RSS stays flat (minimum and maximum RSS over the steps are reported), or null.</summary>
    public int? Steps { get; init; }

    /// <summary>Writes one JSON line per measured GPT step to standard error (<c>--trace-memory</c>): time, RSS,
    /// minor faults, pooled bytes and the recycler's collections.</summary>
    public bool TraceMemory { get; init; }

    /// <summary>The GPT workloads wrap each step (each forward) in a <see cref="DeepSharp.DisposeScope"/>
    /// (<c>--dispose-scope</c>): buffers return to the pool when it ends instead of at the recycler's collections.</summary>
    public bool DisposeScope { get; init; }

    /// <summary>Where <see cref="TraceMemory"/> lines go.</summary>
    public TextWriter Trace { get; init; } = TextWriter.Null;

    /// <summary>Measured repetitions per configuration (the median is reported).</summary>
    public int Repetitions { get; init; } = 7;

    /// <summary>Target duration of one repetition; fast calls are repeated to reach it.</summary>
    public TimeSpan MinRepetitionTime { get; init; } = TimeSpan.FromMilliseconds(100);
}
