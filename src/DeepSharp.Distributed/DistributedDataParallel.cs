using System.Numerics.Tensors;
using DeepSharp.NN;

namespace DeepSharp.Distributed;

/// <summary>What happened during the last synchronised backward, in order (see <see cref="DistributedDataParallel.LastBackwardEvents"/>).</summary>
/// <param name="Kind"><c>GradReady</c> (a parameter's gradient was accumulated), <c>Launch</c> (a bucket's reduction was
/// posted) or <c>Wait</c> (backward ended and waits for the reductions).</param>
/// <param name="Index">The parameter's index in <see cref="Module.Parameters"/> order, or the bucket's index.</param>
public readonly record struct DdpEvent(string Kind, int Index);

/// <summary>
/// Data-parallel training over a process group (PyTorch's <c>DistributedDataParallel</c>). At construction it copies
/// rank 0's parameters and buffers to every rank. During <c>loss.Backward()</c> each parameter's gradient is copied into
/// a bucket as soon as it is accumulated; buckets follow the reverse parameter order (the order backward produces them:
/// the first holds about 1 MiB, small so that communication starts early, the others about 25 MiB) and each bucket's
/// non-blocking reduction is posted as soon as its last gradient arrives, while backward goes on. Backward returns after
/// every bucket is reduced and each <c>Grad</c> holds the average over the ranks, summed in rank order: the same bits on
/// every rank, and the same as one process that accumulates the ranks' micro-batches in order and divides by their number.
/// </summary>
/// <remarks>
/// There is no communication thread: the backward thread itself drives Open MPI (an <c>MPI_Test</c> of the reductions in
/// flight at each gradient hook, a wait only at the end of backward), so that on a machine with one core per rank the
/// communication never competes with the computation for the core.
/// BatchNorm layers keep per-rank statistics (the running statistics of rank 0 are copied to all ranks before each
/// forward, as PyTorch does); use <see cref="SyncBatchNorm"/> layers for statistics over the whole global batch.
/// Call <see cref="NoSync"/> around the backward passes of micro-batches that only accumulate locally.
/// </remarks>
public sealed unsafe class DistributedDataParallel : Module<Tensor, Tensor>, IDisposable
{
    /// <summary>Buckets whose collectives move at most this many bytes per rank use one all-gather of the whole bucket
    /// (one latency phase) instead of an all-to-all and an all-gather (two phases).</summary>
    private const long GatherAllMaxBytes = 256 << 10;

    /// <summary>How long the end of backward polls without sleeping (2 ms).</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500;

    private readonly Module<Tensor, Tensor> _module;
    private readonly ProcessGroup _group;
    private readonly ProcessGroup? _secondGroup;    // the all-gathers of two-phase buckets, on their own communicator
    private readonly Tensor[] _parameters;          // Parameters() order
    private readonly Bucket[] _buckets;
    private readonly (Bucket Bucket, int Offset)[] _slots;   // per parameter
    private readonly List<IDisposable> _hooks = [];
    private readonly bool _broadcastBuffers;
    private readonly List<DdpEvent> _events = [];
    private bool _passActive, _syncEnabled = true, _disposed;
    private int _nextLaunch, _nextDone;
    private long _waitTicks, _commTicks;            // Stopwatch ticks, see WaitTime and CommunicationTime

    /// <summary>Wraps <paramref name="module"/> (registered as child <c>module</c>, so state-dict keys start with <c>module.</c>).</summary>
    /// <param name="module">The model; every rank must build the same architecture.</param>
    /// <param name="group">The ranks to average over (a duplicate is used); the world when null.</param>
    /// <param name="bucketCapMiB">The size of the buckets after the first (PyTorch's <c>bucket_cap_mb</c>, default 25).</param>
    /// <param name="broadcastBuffers">Copy rank 0's buffers (BatchNorm running statistics) to all ranks before each forward.</param>
    /// <param name="firstBucketMiB">The size of the first bucket (default 1 MiB, as PyTorch).</param>
    public DistributedDataParallel(Module<Tensor, Tensor> module, ProcessGroup? group = null, double bucketCapMiB = 25, bool broadcastBuffers = true,
        double firstBucketMiB = 1)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!(bucketCapMiB > 0)) throw new ArgumentException($"DistributedDataParallel: bucketCapMiB must be positive, got {bucketCapMiB}.");
        if (!(firstBucketMiB > 0)) throw new ArgumentException($"DistributedDataParallel: firstBucketMiB must be positive, got {firstBucketMiB}.");
        _module = RegisterModule("module", module);
        _group = (group ?? Distributed.World).Duplicate();
        _broadcastBuffers = broadcastBuffers;
        _parameters = [.. module.Parameters()];

        using (Autograd.NoGrad())
        {
            foreach (var p in _parameters) _group.Broadcast(p, 0);
            foreach (var b in module.Buffers()) _group.Broadcast(b, 0);
        }

        // Buckets in reverse parameter order; a dtype change also starts a new bucket.
        var buckets = new List<Bucket>();
        _slots = new (Bucket, int)[_parameters.Length];
        var members = new List<int>();
        long cap = (long)(firstBucketMiB * (1 << 20)), bytes = 0;
        DType? dtype = null;
        for (int i = _parameters.Length - 1; i >= 0; i--)
        {
            var p = _parameters[i];
            if (!p.RequiresGrad) continue;
            long size = p.NumEl * ElementSize(p.DType);
            if (members.Count > 0 && (bytes + size > cap || p.DType != dtype))
            {
                buckets.Add(MakeBucket(buckets.Count, members, dtype!.Value));
                members.Clear();
                bytes = 0;
                cap = (long)(bucketCapMiB * (1 << 20));
            }
            members.Add(i);
            bytes += size;
            dtype = p.DType;
        }
        if (members.Count > 0) buckets.Add(MakeBucket(buckets.Count, members, dtype!.Value));
        _buckets = [.. buckets];
        foreach (var b in _buckets)
            if (!b.GatherAll && _group.IsMpi) { _secondGroup = _group.Duplicate(); break; }

        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!_parameters[i].RequiresGrad) continue;
            int index = i;
            _hooks.Add(_parameters[i].RegisterPostAccumulateGradHook(_ => OnGradReady(index)));
        }
    }

    private Bucket MakeBucket(int index, List<int> members, DType dtype)
    {
        long count = 0;
        foreach (int m in members) count += _parameters[m].NumEl;
        if (count > int.MaxValue / 2) throw new ArgumentException($"DistributedDataParallel: a bucket of {count} elements is too large; lower bucketCapMiB.");
        int world = _group.WorldSize, size = ElementSize(dtype);
        // Two ranks: one all-gather moves as many bytes as an all-to-all and an all-gather, in one phase instead of two.
        // More ranks: an all-gather of the whole bucket moves (N − 1)/2 times more, so only small buckets use it.
        bool gatherAll = world <= 2 || count * (world - 1) * size <= GatherAllMaxBytes;
        long bufferBytes = gatherAll ? count * world * size : 2L * _group.ChunkLength((int)count) * world * size;
        if (bufferBytes > int.MaxValue) throw new ArgumentException($"DistributedDataParallel: a bucket of {count} elements needs a {bufferBytes >> 20} MiB buffer over {world} ranks, too large; lower bucketCapMiB.");
        var bucket = new Bucket(index, [.. members], (int)count, _group.ChunkLength((int)count), world, _group.Rank, dtype, gatherAll);
        int offset = 0;
        foreach (int m in members)
        {
            _slots[m] = (bucket, offset);
            offset += _parameters[m].NumEl;
        }
        return bucket;
    }

    private static int ElementSize(DType dtype) => dtype == DType.Float64 ? 8 : 4;

    /// <summary>The wrapped model (PyTorch's <c>ddp.module</c>).</summary>
    public Module<Tensor, Tensor> Module => _module;

    /// <summary>The ranks this module averages over.</summary>
    public ProcessGroup Group => _group;

    /// <summary>The buckets: for each, the indices (in <see cref="Module.Parameters"/> order) of its parameters, in the order they fill it.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Buckets => [.. _buckets.Select(b => (IReadOnlyList<int>)b.Members)];

    /// <summary>
    /// The time backward passes spent at their end waiting for the gradient reductions to finish, since construction or
    /// <see cref="ResetTimings"/>: the communication that did not overlap with computation.
    /// </summary>
    public TimeSpan WaitTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _waitTicks));

    /// <summary>The time the buckets' reductions were in flight (from posting a bucket's first collective to seeing its
    /// result, summed over the buckets), since construction or <see cref="ResetTimings"/>.</summary>
    public TimeSpan CommunicationTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _commTicks));

    /// <summary>Sets <see cref="WaitTime"/> and <see cref="CommunicationTime"/> to zero (e.g. at the start of an epoch).</summary>
    public void ResetTimings()
    {
        Interlocked.Exchange(ref _waitTicks, 0);
        Interlocked.Exchange(ref _commTicks, 0);
    }

    /// <summary>The gradient-ready, launch and wait events of the last synchronised backward, in order (for tests and profiling).</summary>
    public IReadOnlyList<DdpEvent> LastBackwardEvents => _events;

    /// <summary>Runs the wrapped model (after copying rank 0's buffers to every rank when <c>broadcastBuffers</c>).</summary>
    public override Tensor Forward(Tensor input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Broadcast runs without recording autograd; no NoGrad scope of our own (its end is a buffer-pool safe point).
        if (_broadcastBuffers && _group.WorldSize > 1)
            foreach (var b in _module.Buffers()) _group.Broadcast(b, 0);
        return _module.Forward(input);
    }

    /// <summary>
    /// Within the returned scope backward passes only accumulate gradients locally (no communication), as with
    /// PyTorch's <c>no_sync()</c>; the first backward after it averages the accumulated gradients.
    /// </summary>
    public IDisposable NoSync()
    {
        bool previous = _syncEnabled;
        _syncEnabled = false;
        return new Scope(() => _syncEnabled = previous);
    }

    private sealed class Scope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }

    private void OnGradReady(int index)
    {
        if (!_syncEnabled || _disposed) return;
        if (!_passActive)
        {
            _passActive = true;
            _events.Clear();
            _nextLaunch = _nextDone = 0;
            foreach (var b in _buckets) b.Reset();
            Autograd.QueueCallback(FinishPass);
        }
        _events.Add(new DdpEvent("GradReady", index));
        var (bucket, offset) = _slots[index];
        int k = Array.IndexOf(bucket.Members, index);
        if (!bucket.Filled[k])
        {
            CopyIn(bucket, index, offset);
            if (bucket.MarkFilled(k)) LaunchReady();
        }
        // Each hook lets Open MPI move the data of the reductions in flight (it progresses only inside MPI calls).
        Advance(block: false);
    }

    private void CopyIn(Bucket bucket, int index, int offset)
    {
        var p = _parameters[index];
        var grad = p.Grad;
        if (grad is null)
        {
            if (bucket.DType == DType.Float32) new Span<float>((float*)bucket.Input + offset, p.NumEl).Clear();
            else new Span<double>((double*)bucket.Input + offset, p.NumEl).Clear();
            return;
        }
        if (!grad.IsContiguous) grad = grad.Contiguous();
        // The internal span, not AsSpan: a public span marks the storage exposed and the buffer pool never takes it
        // back, so every step's gradients would be fresh memory (page faults on the 4.7 MB fc1 gradient of the CNN).
        if (bucket.DType == DType.Float32) grad.ReadSpan<float>().CopyTo(new Span<float>((float*)bucket.Input + offset, p.NumEl));
        else grad.ReadSpan<double>().CopyTo(new Span<double>((double*)bucket.Input + offset, p.NumEl));
    }

    // Buckets are posted in index order on every rank, so the ranks' collectives always match.
    private void LaunchReady()
    {
        while (_nextLaunch < _buckets.Length && _buckets[_nextLaunch].IsFull)
        {
            var bucket = _buckets[_nextLaunch++];
            _events.Add(new DdpEvent("Launch", bucket.Index));
            bucket.Posted = System.Diagnostics.Stopwatch.GetTimestamp();
            if (!_group.IsMpi)
            {
                bucket.Stage = Stage.Done;
                continue;
            }
            try
            {
                bucket.Request = bucket.DType == DType.Float32 ? PostFirst<float>(bucket) : PostFirst<double>(bucket);
                bucket.Stage = Stage.First;
            }
            catch (Exception ex)
            {
                throw Failed(bucket, ex);
            }
        }
    }

    private nint PostFirst<T>(Bucket bucket) where T : unmanaged =>
        bucket.GatherAll ? _group.PostAllGatherInPlace((T*)bucket.Memory.Pointer, bucket.Count)
            : _group.PostAllToAll((T*)bucket.Memory.Pointer, (T*)bucket.Memory.Pointer + (long)bucket.Chunk * bucket.World, bucket.Chunk);

    /// <summary>
    /// Moves the posted reductions on, in bucket order: an MPI_Test of each in flight (or, with <paramref name="block"/>,
    /// a wait for each), and on completion the next step. A one-phase bucket is then done (FinishPass sums its parts into
    /// the gradients); a two-phase bucket's all-to-all is summed into this rank's chunk and its all-gather posted. All-gathers are posted in bucket order
    /// (a later bucket waits for an earlier one's all-to-all), so every rank posts them in the same order.
    /// </summary>
    private void Advance(bool block)
    {
        for (int b = _nextDone; b < _nextLaunch; b++)
        {
            var bucket = _buckets[b];
            try
            {
                while (bucket.Stage is Stage.First or Stage.Second && Complete(bucket, block))
                {
                    if (bucket.Stage == Stage.First && !bucket.GatherAll)
                    {
                        bucket.Request = bucket.DType == DType.Float32 ? SumAndPostSecond<float>(bucket) : SumAndPostSecond<double>(bucket);
                        bucket.Stage = Stage.Second;
                        continue;
                    }
                    bucket.Stage = Stage.Done;   // a one-phase bucket's parts are summed straight into the gradients
                    Interlocked.Add(ref _commTicks, System.Diagnostics.Stopwatch.GetTimestamp() - bucket.Posted);
                }
            }
            catch (Exception ex)
            {
                throw Failed(bucket, ex);
            }
            if (bucket.Stage == Stage.First) break;   // its all-gather is not posted yet: nor may a later bucket's be
            if (bucket.Stage == Stage.Done && b == _nextDone) _nextDone++;
        }
    }

    private bool Complete(Bucket bucket, bool block)
    {
        string call = bucket.Stage == Stage.First && !bucket.GatherAll ? "MPI_Ialltoall" : "MPI_Iallgather";
        var group = bucket.Stage == Stage.Second ? _secondGroup! : _group;
        if (!block) return group.Test(ref bucket.Request, call);
        // At the end of backward this thread has nothing else to do: test again at once, yielding only to a thread that
        // wants the core. A wait longer than SpinTicks is for a rank the machine descheduled (other load): then sleep
        // between tests, so that the spinning does not take the CPU time that rank needs to catch up.
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!group.Test(ref bucket.Request, call))
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() - start < SpinTicks) Thread.Yield();
            else Thread.Sleep(1);
        }
        return true;
    }

    private nint SumAndPostSecond<T>(Bucket bucket) where T : unmanaged, System.Numerics.INumber<T>
    {
        T* data = (T*)bucket.Memory.Pointer;
        // The ordered sum goes straight into this rank's chunk of the data, which the all-gather then sends in place.
        ProcessGroup.SumInRankOrder(data + (long)bucket.Chunk * bucket.World, bucket.Chunk, bucket.World, new Span<T>(data + (long)bucket.Rank * bucket.Chunk, bucket.Chunk), ReduceOp.Average);
        return _secondGroup!.PostAllGatherInPlace(data, bucket.Chunk);
    }

    private InvalidOperationException Failed(Bucket bucket, Exception ex)
    {
        bucket.Stage = Stage.Failed;
        return new InvalidOperationException($"DistributedDataParallel: the gradient all-reduce failed on rank {_group.Rank}: {ex.Message}", ex);
    }

    private void FinishPass()
    {
        _passActive = false;
        // Parameters whose gradient this pass did not reach: their current Grad (or zeros) takes part.
        foreach (var bucket in _buckets)
            for (int k = 0; k < bucket.Members.Length; k++)
                if (!bucket.Filled[k])
                {
                    CopyIn(bucket, bucket.Members[k], _slots[bucket.Members[k]].Offset);
                    bucket.MarkFilled(k);
                }
        LaunchReady();
        _events.Add(new DdpEvent("Wait", -1));
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            Advance(block: true);
        }
        finally
        {
            Interlocked.Add(ref _waitTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
        // No Autograd.NoGrad() scope here: its end is a safe point of the buffer pool (Recycler), and one in the middle
        // of Backward split each step's pool statistics in two and set off a compacting give-back collection at the
        // end of backward (measured: ~0.3 CPU s per epoch and rank on the MNIST CNN). Nothing below records autograd.
        foreach (var bucket in _buckets)
            foreach (int m in bucket.Members)
            {
                var p = _parameters[m];
                int offset = _slots[m].Offset;
                if (p.Grad is not { IsContiguous: true } grad || grad.Shape.Length != p.Shape.Length)
                    p.Grad = grad = Tensor.ZerosLike(p);
                // One-phase: every rank adds all the parts in rank order (the same bits everywhere) straight into the
                // gradient, one pass over the data instead of a sum into the bucket and a copy out of it.
                if (bucket.GatherAll)
                {
                    if (bucket.DType == DType.Float32) ProcessGroup.SumInRankOrder((float*)bucket.Memory.Pointer + offset, bucket.Count, bucket.World, grad.Span<float>(), ReduceOp.Average);
                    else ProcessGroup.SumInRankOrder((double*)bucket.Memory.Pointer + offset, bucket.Count, bucket.World, grad.Span<double>(), ReduceOp.Average);
                }
                else if (bucket.DType == DType.Float32) new ReadOnlySpan<float>((float*)bucket.Memory.Pointer + offset, p.NumEl).CopyTo(grad.Span<float>());
                else new ReadOnlySpan<double>((double*)bucket.Memory.Pointer + offset, p.NumEl).CopyTo(grad.Span<double>());
            }
    }

    /// <summary>
    /// Divides every gradient of <paramref name="parameters"/> by <paramref name="microBatches"/> with the same
    /// element-wise division DDP's average uses: after summing N micro-batches' gradients in one process, this gives the
    /// bits N ranks give.
    /// </summary>
    public static void AverageAccumulatedGradients(IEnumerable<Tensor> parameters, int microBatches)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (microBatches <= 0) throw new ArgumentException($"AverageAccumulatedGradients: microBatches must be positive, got {microBatches}.");
        foreach (var p in parameters)
        {
            if (p.Grad is not { } g) continue;
            if (!g.IsContiguous) p.Grad = g = g.Contiguous();
            // Internal spans: a public one would keep the gradient's buffer from going back to the pool.
            if (g.DType == DType.Float32) TensorPrimitives.Divide(g.Span<float>(), (float)microBatches, g.Span<float>());
            else if (g.DType == DType.Float64) TensorPrimitives.Divide(g.Span<double>(), microBatches, g.Span<double>());
        }
    }

    /// <summary>Removes the hooks and frees the buckets; the wrapped model stays usable on its own.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var h in _hooks) h.Dispose();
        foreach (var b in _buckets)
            if (b.Stage is not (Stage.First or Stage.Second or Stage.Failed)) b.Dispose();   // one MPI may still write into is never freed
        _secondGroup?.Dispose();
        _group.Dispose();
    }

    private enum Stage { Idle, First, Second, Done, Failed }

    private sealed class Bucket : IDisposable
    {
        private int _missing;

        public Bucket(int index, int[] members, int count, int chunk, int world, int rank, DType dtype, bool gatherAll)
        {
            Index = index;
            Members = members;
            Count = count;
            Chunk = chunk;
            World = world;
            Rank = rank;
            DType = dtype;
            GatherAll = gatherAll;
            Filled = new bool[members.Length];
            int size = dtype == DType.Float64 ? 8 : 4;
            // One-phase: every rank's part (this rank's gradients copied into its own), summed into the gradients at the end.
            // Two-phase: the data (chunk × world, padded; the averaged values in place at the end), then the all-to-all's
            // receive buffer.
            Memory = new NativeBuffer<byte>(gatherAll ? count * world * size : 2 * chunk * world * size);   // < 2 GiB: checked in MakeBucket
            Input = gatherAll ? Memory.Pointer + (long)rank * count * size : Memory.Pointer;
        }

        public int Index { get; }
        public int[] Members { get; }
        public int Count { get; }
        public int Chunk { get; }
        public int World { get; }
        public int Rank { get; }
        public DType DType { get; }
        public bool GatherAll { get; }
        public bool[] Filled { get; }
        public NativeBuffer<byte> Memory { get; }
        /// <summary>Where this rank's gradients are copied in.</summary>
        public byte* Input { get; }
        public nint Request;
        public Stage Stage;
        public long Posted;
        public bool IsFull => _missing == 0;

        public void Reset()
        {
            Array.Clear(Filled);
            _missing = Members.Length;
            if (Stage != Stage.Failed) Stage = Stage.Idle;
        }

        /// <summary>Marks member k filled; true when it was the last.</summary>
        public bool MarkFilled(int k)
        {
            if (Filled[k]) return false;
            Filled[k] = true;
            return --_missing == 0;
        }

        public void Dispose() => Memory.Dispose();
    }
}
