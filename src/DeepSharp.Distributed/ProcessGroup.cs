using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace DeepSharp.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce"/> combines the ranks' values.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum, added in rank order (0 + 1 + 2 …) so every run gives the same bits.</summary>
    Sum,
    /// <summary>The sum in rank order, then divided by the world size.</summary>
    Average,
    /// <summary>Element-wise maximum.</summary>
    Max,
    /// <summary>Element-wise minimum.</summary>
    Min,
    /// <summary>Element-wise product, multiplied in rank order.</summary>
    Product,
}

/// <summary>
/// A set of processes that communicate (PyTorch's <c>ProcessGroup</c>): an MPI communicator, this process's rank in
/// it and its size. Under <c>mpirun</c> it is a duplicate of MPI_COMM_WORLD; otherwise a world of one whose
/// collectives leave tensors as they are.
/// </summary>
public sealed unsafe class ProcessGroup : IDisposable
{
    private nint _comm;                 // 0 for a world of one
    private readonly object? _gate;     // serialises MPI calls when the library gave less than MPI_THREAD_MULTIPLE

    internal ProcessGroup(nint comm, int rank, int worldSize, object? gate)
    {
        _comm = comm;
        Rank = rank;
        WorldSize = worldSize;
        _gate = gate;
    }

    /// <summary>This process's rank, 0 … <see cref="WorldSize"/> − 1.</summary>
    public int Rank { get; }

    /// <summary>The number of processes in the group.</summary>
    public int WorldSize { get; }

    /// <summary>True for a real MPI communicator, false for the world of one.</summary>
    public bool IsMpi => _comm != 0;

    /// <summary>A new group over the same processes with its own communicator (MPI_Comm_dup), so its collectives never
    /// match another group's.</summary>
    public ProcessGroup Duplicate()
    {
        if (_comm == 0) return new ProcessGroup(0, Rank, WorldSize, null);
        nint dup;
        using (Lock()) MpiNative.Check(MpiNative.MPI_Comm_dup(_comm, &dup), "MPI_Comm_dup");
        using (Lock()) MpiNative.Check(MpiNative.MPI_Comm_set_errhandler(dup, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        return new ProcessGroup(dup, Rank, WorldSize, _gate);
    }

    /// <summary>Splits the group (MPI_Comm_split): processes passing the same <paramref name="color"/> form a new group,
    /// ranked by <paramref name="key"/> (then by their rank here).</summary>
    public ProcessGroup Split(int color, int key)
    {
        if (color < 0) throw new ArgumentException($"ProcessGroup.Split: color must be non-negative, got {color}.");
        if (_comm == 0) return new ProcessGroup(0, 0, 1, null);
        nint comm;
        int rank, size;
        using (Lock())
        {
            MpiNative.Check(MpiNative.MPI_Comm_split(_comm, color, key, &comm), "MPI_Comm_split");
            MpiNative.Check(MpiNative.MPI_Comm_set_errhandler(comm, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
            MpiNative.Check(MpiNative.MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
            MpiNative.Check(MpiNative.MPI_Comm_size(comm, &size), "MPI_Comm_size");
        }
        return new ProcessGroup(comm, rank, size, _gate);
    }

    /// <summary>Blocks until every process of the group has called it.</summary>
    public void Barrier()
    {
        CheckOpen("Barrier");
        if (_comm == 0) return;
        using (Lock()) MpiNative.Check(MpiNative.MPI_Barrier(_comm), "MPI_Barrier");
    }

    /// <summary>Replaces <paramref name="tensor"/>'s values on every rank with those of rank <paramref name="src"/>, in place.</summary>
    /// <exception cref="ArgumentException">A bad source rank, or a non-contiguous tensor.</exception>
    public void Broadcast(Tensor tensor, int src = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOpen("Broadcast");
        if (src < 0 || src >= WorldSize) throw new ArgumentException($"Broadcast: source rank {src} is outside [0, {WorldSize}).");
        CheckContiguous(tensor, "Broadcast");
        if (_comm == 0 || tensor.NumEl == 0) return;
        using (Autograd.NoGrad())
        {
            switch (tensor.DType)
            {
                case DType.Float32: Bcast(tensor.AsSpan<float>(), MpiNative.Float, src); break;
                case DType.Float64: Bcast(tensor.AsSpan<double>(), MpiNative.Double, src); break;
                case DType.Int64: Bcast(tensor.AsSpan<long>(), MpiNative.Int64, src); break;
                default: Bcast(MemoryMarshal.AsBytes(tensor.AsSpan<bool>()), MpiNative.Byte, src); break;
            }
        }
    }

    private void Bcast<T>(Span<T> data, nint type, int src) where T : unmanaged
    {
        fixed (T* p = data)
            using (Lock()) MpiNative.Check(MpiNative.MPI_Bcast(p, data.Length, type, src, _comm), "MPI_Bcast");
    }

    /// <summary>
    /// Combines <paramref name="tensor"/> across the ranks with <paramref name="op"/> and writes the result into it on
    /// every rank. Sum, Average and Product combine in rank order, so the result has the same bits on every rank and in
    /// every run, and equals adding the ranks' tensors one after the other in one process.
    /// </summary>
    /// <exception cref="ArgumentException">A non-contiguous tensor, or a dtype the op does not support.</exception>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOpen("AllReduce");
        CheckContiguous(tensor, "AllReduce");
        if (tensor.DType == DType.Bool) throw new ArgumentException("AllReduce: Bool tensors cannot be reduced; convert with To(DType.Int64) first.");
        if (tensor.DType == DType.Int64 && op == ReduceOp.Average) throw new ArgumentException("AllReduce: Average needs a floating-point tensor, got Int64.");
        if (_comm == 0 || tensor.NumEl == 0) return;
        using (Autograd.NoGrad())
        {
            switch (tensor.DType)
            {
                case DType.Float32: AllReduceSpan(tensor.AsSpan<float>(), op); break;
                case DType.Float64: AllReduceSpan(tensor.AsSpan<double>(), op); break;
                default: AllReduceSpan(tensor.AsSpan<long>(), op); break;
            }
        }
    }

    private void AllReduceSpan<T>(Span<T> data, ReduceOp op) where T : unmanaged, System.Numerics.INumber<T>
    {
        nint type = MpiType<T>();
        if (op is ReduceOp.Max or ReduceOp.Min || typeof(T) == typeof(long))
        {
            // Order does not change a max, a min or an integer sum: Open MPI's own reduction.
            nint mpiOp = op switch { ReduceOp.Max => MpiNative.OpMax, ReduceOp.Min => MpiNative.OpMin, ReduceOp.Product => MpiNative.OpProd, _ => MpiNative.OpSum };
            fixed (T* p = data)
                using (Lock()) MpiNative.Check(MpiNative.MPI_Allreduce((void*)MpiNative.InPlace, p, data.Length, type, mpiOp, _comm), "MPI_Allreduce");
            return;
        }
        int chunk = ChunkLength(data.Length);
        lock (_workGate)
        {
            // One pair of buffers per group, kept between calls: fresh 25 MiB buffers each call cost page faults.
            long bytes = 2L * chunk * WorldSize * sizeof(T);
            if (_work.Length < bytes)
            {
                _work.Dispose();
                _work = new NativeBuffer<byte>(checked((int)bytes));
            }
            T* buffer = (T*)_work.Pointer, scratch = buffer + (long)chunk * WorldSize;
            data.CopyTo(new Span<T>(buffer, data.Length));
            ReduceInRankOrder(buffer, scratch, chunk, op);
            new ReadOnlySpan<T>(buffer, data.Length).CopyTo(data);
        }
    }

    private readonly object _workGate = new();
    private NativeBuffer<byte> _work = new(0);

    /// <summary>The per-rank chunk of a <paramref name="count"/>-element reduction: buffers hold chunk × WorldSize elements.</summary>
    internal int ChunkLength(int count) => (count + WorldSize - 1) / WorldSize;

    /// <summary>
    /// The rank-ordered all-reduce, in place on <paramref name="data"/> (chunk × WorldSize elements, the tail padding
    /// ignored): an all-to-all gives rank j every rank's j-th chunk, rank j adds them in rank order (and divides for
    /// Average), and an all-gather returns the reduced chunks to everyone. Each element crosses the network twice,
    /// like a ring all-reduce, but its sum is always g0 + g1 + … in that order.
    /// </summary>
    /// <param name="data">The values in, the reduced values out.</param>
    /// <param name="scratch">chunk × WorldSize elements the all-to-all receives into.</param>
    /// <param name="chunk">Elements per rank.</param>
    /// <param name="op">Sum, Average or Product.</param>
    internal void ReduceInRankOrder<T>(T* data, T* scratch, int chunk, ReduceOp op) where T : unmanaged, System.Numerics.INumber<T>
    {
        if (_comm == 0) return;
        nint request = PostAllToAll(data, scratch, chunk);
        WaitPolitely(ref request, "MPI_Ialltoall");
        // The ordered sum goes straight into this rank's chunk of data, which the all-gather then sends in place.
        SumInRankOrder(scratch, chunk, WorldSize, new Span<T>(data + (long)Rank * chunk, chunk), op);
        request = PostAllGatherInPlace(data, chunk);
        WaitPolitely(ref request, "MPI_Iallgather");
    }

    /// <summary>Posts MPI_Ialltoall: chunk elements of <paramref name="send"/> to each rank, chunk from each into <paramref name="receive"/>.</summary>
    internal nint PostAllToAll<T>(T* send, T* receive, int chunk) where T : unmanaged
    {
        nint type = MpiType<T>(), request;
        using (Lock())
            MpiNative.Check(MpiNative.MPI_Ialltoall(send, chunk, type, receive, chunk, type, _comm, &request), "MPI_Ialltoall");
        return request;
    }

    /// <summary>Posts an in-place MPI_Iallgather: <paramref name="buffer"/> holds count × WorldSize elements, this rank's
    /// count already at rank × count.</summary>
    internal nint PostAllGatherInPlace<T>(T* buffer, int count) where T : unmanaged
    {
        nint type = MpiType<T>(), request;
        using (Lock())
            MpiNative.Check(MpiNative.MPI_Iallgather((void*)MpiNative.InPlace, 0, type, buffer, count, type, _comm, &request), "MPI_Iallgather");
        return request;
    }

    /// <summary>One MPI_Test of a posted request (which also lets Open MPI move data); true once it completed.</summary>
    internal bool Test(ref nint request, string call)
    {
        int flag = 0, code;
        fixed (nint* r = &request)
            using (Lock()) code = MpiNative.MPI_Test(r, &flag, null);
        if (code != MpiNative.Success) MpiNative.Check(code, "MPI_Test (" + call + ")");   // the message only on failure: no allocation per test
        return flag != 0;
    }

    /// <summary>
    /// <paramref name="destination"/> = parts[0] + parts[1] + … + parts[n − 1] (part r at parts + r × <paramref name="stride"/>,
    /// as many elements as the destination), added in this order — the order one process accumulates micro-batches in —
    /// and divided by n for Average. The destination may be part 0.
    /// </summary>
    internal static void SumInRankOrder<T>(T* parts, long stride, int n, Span<T> destination, ReduceOp op) where T : unmanaged, System.Numerics.INumber<T>
    {
        int count = destination.Length;
        if (n == 1) new ReadOnlySpan<T>(parts, count).CopyTo(destination);
        for (int r = 1; r < n; r++)
        {
            ReadOnlySpan<T> left = r == 1 ? new ReadOnlySpan<T>(parts, count) : destination;
            var part = new ReadOnlySpan<T>(parts + r * stride, count);
            if (op == ReduceOp.Product) TensorPrimitives.Multiply(left, part, destination);
            else TensorPrimitives.Add(left, part, destination);
        }
        if (op == ReduceOp.Average) TensorPrimitives.Divide(destination, T.CreateChecked(n), destination);
    }

    // The tensor-level AllReduce's wait (DDP drives its own requests from the backward thread): polls with MPI_Test and
    // yields the core between polls instead of MPI_Wait's spin, which would take the core from other threads of this
    // rank. Open MPI moves the data only inside its calls, so the first polls follow each other (the transfer starts at
    // once); a long wait (usually for a rank that is behind) sleeps between polls.
    private void WaitPolitely(ref nint request, string call)
    {
        for (int polls = 0; ; polls++)
        {
            if (Test(ref request, call)) return;
            if (polls < 50) Thread.Yield();
            else Thread.Sleep(polls < 200 ? 0 : 1);
        }
    }

    internal static nint MpiType<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? MpiNative.Float : typeof(T) == typeof(double) ? MpiNative.Double : MpiNative.Int64;

    private GateScope Lock() => new(_gate);

    private readonly struct GateScope : IDisposable
    {
        private readonly object? _gate;
        public GateScope(object? gate)
        {
            _gate = gate;
            if (gate is not null) Monitor.Enter(gate);
        }
        public void Dispose()
        {
            if (_gate is not null) Monitor.Exit(_gate);
        }
    }

    private static void CheckContiguous(Tensor t, string op)
    {
        if (!t.IsContiguous)
            throw new ArgumentException($"{op}: the tensor of shape [{string.Join(", ", t.Shape)}] is not contiguous; call Contiguous() and copy the result back.");
    }

    private void CheckOpen(string op)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(ProcessGroup), $"{op}: the process group was destroyed.");
    }

    private bool _disposed;

    /// <summary>Frees the communicator (MPI_Comm_free); the world group is freed by <see cref="Distributed.DestroyProcessGroup"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_workGate) _work.Dispose();
        if (_comm == 0 || Distributed.IsFinalized) return;
        nint comm = _comm;
        using (Lock()) MpiNative.MPI_Comm_free(&comm);
        _comm = 0;
    }
}

/// <summary>An unmanaged, 64-byte-aligned array: communication buffers that the GC never moves.</summary>
internal readonly unsafe struct NativeBuffer<T> : IDisposable where T : unmanaged
{
    public NativeBuffer(int length)
    {
        Length = length;
        Pointer = (T*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * (nuint)sizeof(T), 64);
        new Span<T>(Pointer, length).Clear();
    }

    public T* Pointer { get; }
    public int Length { get; }
    public Span<T> Span => new(Pointer, Length);
    public void Dispose() => NativeMemory.AlignedFree(Pointer);
}
