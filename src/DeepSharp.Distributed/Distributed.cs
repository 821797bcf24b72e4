using DeepSharp.IO;

namespace DeepSharp.Distributed;

/// <summary>
/// The process-group API (PyTorch's <c>torch.distributed</c>) over Open MPI. Start the program with
/// <c>mpirun -np N dotnet App.dll</c> and call <see cref="InitProcessGroup"/> first; without mpirun the program runs
/// as a world of one (rank 0 of 1) and every collective leaves tensors unchanged, so the same code runs both ways.
/// </summary>
public static unsafe class Distributed
{
    private static ProcessGroup? s_world;
    private static bool s_mpiStarted;

    /// <summary>True when the environment says this process was started by Open MPI's <c>mpirun</c>.</summary>
    public static bool IsLaunchedByMpirun =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>True between <see cref="InitProcessGroup"/> and <see cref="DestroyProcessGroup"/>.</summary>
    public static bool IsInitialized => s_world is not null;

    /// <summary>True after MPI_Finalize: no MPI call may follow.</summary>
    public static bool IsFinalized { get; private set; }

    /// <summary>The world group (every process of the job).</summary>
    /// <exception cref="InvalidOperationException">Before <see cref="InitProcessGroup"/>.</exception>
    public static ProcessGroup World => s_world ?? throw new InvalidOperationException("Distributed: call Distributed.InitProcessGroup() first.");

    /// <summary>This process's rank in the world (0 when not initialised or not under mpirun).</summary>
    public static int Rank => s_world?.Rank ?? 0;

    /// <summary>The number of processes in the world (1 when not initialised or not under mpirun).</summary>
    public static int WorldSize => s_world?.WorldSize ?? 1;

    /// <summary>True on rank 0, the process that prints and writes files.</summary>
    public static bool IsMainProcess => Rank == 0;

    /// <summary>
    /// Starts MPI (MPI_Init_thread, asking for MPI_THREAD_MULTIPLE) when the process was started by mpirun, or sets up a
    /// world of one otherwise. An exception that escapes any thread afterwards is printed with this rank's number and
    /// aborts the whole job (MPI_Abort), so the other ranks do not wait for it forever.
    /// </summary>
    /// <returns>The world group.</returns>
    /// <exception cref="InvalidOperationException">Called twice without <see cref="DestroyProcessGroup"/>, or after MPI was finalised.</exception>
    /// <exception cref="DllNotFoundException">Started by mpirun but libmpi cannot be loaded.</exception>
    public static ProcessGroup InitProcessGroup()
    {
        if (s_world is not null) throw new InvalidOperationException("Distributed.InitProcessGroup: the process group is already initialised.");
        if (IsFinalized) throw new InvalidOperationException("Distributed.InitProcessGroup: MPI was finalised by DestroyProcessGroup and cannot start again in this process.");
        if (!IsLaunchedByMpirun)
        {
            s_world = new ProcessGroup(0, 0, 1, null);
            return s_world;
        }
        MpiNative.Load();
        int provided = 0, rank = 0, size = 0;
        MpiNative.Check(MpiNative.MPI_Init_thread(null, null, MpiNative.ThreadMultiple, &provided), "MPI_Init_thread");
        s_mpiStarted = true;
        MpiNative.Check(MpiNative.MPI_Comm_set_errhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        MpiNative.Check(MpiNative.MPI_Comm_rank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
        MpiNative.Check(MpiNative.MPI_Comm_size(MpiNative.CommWorld, &size), "MPI_Comm_size");
        AppDomain.CurrentDomain.UnhandledException += AbortJob;
        var world = new ProcessGroup(MpiNative.CommWorld, rank, size, provided >= MpiNative.ThreadMultiple ? null : new object());
        s_world = world.Duplicate();
        return s_world;
    }

    private static void AbortJob(object sender, UnhandledExceptionEventArgs e)
    {
        // Print first: MPI_Abort ends this process and mpirun kills the others.
        Console.Error.WriteLine($"[rank {Rank} of {WorldSize}] {e.ExceptionObject}");
        Console.Error.Flush();
        Console.Out.Flush();
        Abort(1);
    }

    /// <summary>Ends every process of the job with <paramref name="errorCode"/> (MPI_Abort); exits this process alone without MPI.</summary>
    public static void Abort(int errorCode = 1)
    {
        if (s_mpiStarted && !IsFinalized) MpiNative.MPI_Abort(MpiNative.CommWorld, errorCode);
        Environment.Exit(errorCode);
    }

    /// <summary>Blocks until every process has called it.</summary>
    public static void Barrier() => World.Barrier();

    /// <summary>Combines <paramref name="tensor"/> across the world in place (see <see cref="ProcessGroup.AllReduce"/>).</summary>
    public static void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum) => World.AllReduce(tensor, op);

    /// <summary>Copies rank <paramref name="src"/>'s <paramref name="tensor"/> into every rank's, in place.</summary>
    public static void Broadcast(Tensor tensor, int src = 0) => World.Broadcast(tensor, src);

    /// <summary>Frees the world group and finalises MPI (MPI_Finalize); a world of one just forgets its group.</summary>
    public static void DestroyProcessGroup()
    {
        if (s_world is null) return;
        var world = s_world;
        s_world = null;
        if (!s_mpiStarted) return;
        world.Barrier();
        world.Dispose();
        AppDomain.CurrentDomain.UnhandledException -= AbortJob;
        MpiNative.Check(MpiNative.MPI_Finalize(), "MPI_Finalize");
        IsFinalized = true;
    }

    /// <summary>
    /// Rank 0 writes <paramref name="state"/> to <paramref name="path"/> (atomically, see <see cref="Checkpoint.Save"/>);
    /// the others wait until the file is complete, so any rank can load it right after.
    /// </summary>
    public static void SaveCheckpoint(string path, CheckpointState state)
    {
        if (IsMainProcess) Checkpoint.Save(state, path);
        if (IsInitialized) Barrier();
    }

    /// <summary>
    /// A seed for the randomness of one micro-batch (dropout masks…) from the run's <paramref name="seed"/>, the
    /// optimizer <paramref name="step"/> and the <paramref name="shard"/> of the global batch (the rank under DDP, the
    /// micro-batch index with gradient accumulation), so that the same data sees the same masks however it is split
    /// across processes. Reseed the model's generator with it before each micro-batch's forward.
    /// </summary>
    public static long SeedFor(long seed, long step, int shard)
    {
        ulong h = SplitMix((ulong)seed);
        h = SplitMix(h ^ (ulong)step);
        h = SplitMix(h ^ (ulong)shard);
        return (long)(h >> 1);

        static ulong SplitMix(ulong x)
        {
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }
}
