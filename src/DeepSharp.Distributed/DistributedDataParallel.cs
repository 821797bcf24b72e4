using System.Collections.Concurrent;
using System.Numerics.Tensors;
using DeepSharp.NN;

namespace DeepSharp.Distributed;

/// <summary>What happened during the last synchronised backward, in order (see <see cref="DistributedDataParallel.LastBackwardEvents"/>).</summary>
/// <param name="Kind"><c>GradReady</c> (a parameter's gradient was accumulated), <c>Launch</c> (a bucket's reduction was
/// handed to the communication thread) or <c>Wait</c> (backward ended and waits for the reductions).</param>
/// <param name="Index">The parameter's index in <see cref="Module.Parameters"/> order, or the bucket's index.</param>
public readonly record struct DdpEvent(string Kind, int Index);

/// <summary>
/// Data-parallel training over a process group (PyTorch's <c>DistributedDataParallel</c>). At construction it copies
/// rank 0's parameters and buffers to every rank. During <c>loss.Backward()</c> each parameter's gradient is copied into
/// a bucket as soon as it is accumulated; buckets follow the reverse parameter order (the order backward produces them:
/// the first holds about 1 MiB, small so that communication starts early, the others about 25 MiB) and each bucket's reduction starts on a communication thread
/// as soon as its last gradient arrives, while backward goes on. Backward returns after every bucket is reduced and
/// each <c>Grad</c> holds the average over the ranks, summed in rank order: the same bits on every rank, and the same
/// as one process that accumulates the ranks' micro-batches in order and divides by their number.
/// </summary>
/// <remarks>
/// BatchNorm layers keep per-rank statistics (the running statistics of rank 0 are copied to all ranks before each
/// forward, as PyTorch does); use <see cref="SyncBatchNorm"/> layers for statistics over the whole global batch.
/// Call <see cref="NoSync"/> around the backward passes of micro-batches that only accumulate locally.
/// </remarks>
public sealed class DistributedDataParallel : Module<Tensor, Tensor>, IDisposable
{
    private readonly Module<Tensor, Tensor> _module;
    private readonly ProcessGroup _group;
    private readonly Tensor[] _parameters;          // Parameters() order
    private readonly Bucket[] _buckets;
    private readonly (Bucket Bucket, int Offset)[] _slots;   // per parameter
    private readonly List<IDisposable> _hooks = [];
    private readonly BlockingCollection<Bucket> _queue = [];
    private readonly Thread _commThread;
    private readonly bool _broadcastBuffers;
    private readonly List<DdpEvent> _events = [];
    private bool _passActive, _syncEnabled = true, _disposed;
    private int _nextLaunch;
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

        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!_parameters[i].RequiresGrad) continue;
            int index = i;
            _hooks.Add(_parameters[i].RegisterPostAccumulateGradHook(_ => OnGradReady(index)));
        }
        _commThread = new Thread(CommLoop) { IsBackground = true, Name = "DeepSharp DDP communication" };
        _commThread.Start();
    }

    private Bucket MakeBucket(int index, List<int> members, DType dtype)
    {
        long count = 0;
        foreach (int m in members) count += _parameters[m].NumEl;
        if (count > int.MaxValue / 2) throw new ArgumentException($"DistributedDataParallel: a bucket of {count} elements is too large; lower bucketCapMiB.");
        var bucket = new Bucket(index, [.. members], (int)count, _group.ChunkLength((int)count) * _group.WorldSize, dtype);
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

    /// <summary>The time the communication thread spent reducing buckets (from taking a bucket to its result, waits
    /// included), since construction or <see cref="ResetTimings"/>.</summary>
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
        if (_broadcastBuffers && _group.WorldSize > 1)
            using (Autograd.NoGrad())
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
            _nextLaunch = 0;
            foreach (var b in _buckets) b.Reset();
            Autograd.QueueCallback(FinishPass);
        }
        _events.Add(new DdpEvent("GradReady", index));
        var (bucket, offset) = _slots[index];
        if (bucket.Filled[Array.IndexOf(bucket.Members, index)]) return;
        CopyIn(bucket, index, offset);
        if (bucket.MarkFilled(Array.IndexOf(bucket.Members, index))) LaunchReady();
    }

    private void CopyIn(Bucket bucket, int index, int offset)
    {
        var p = _parameters[index];
        var grad = p.Grad;
        if (grad is null)
        {
            if (bucket.DType == DType.Float32) bucket.Floats.Span.Slice(offset, p.NumEl).Clear();
            else bucket.Doubles.Span.Slice(offset, p.NumEl).Clear();
            return;
        }
        if (!grad.IsContiguous) grad = grad.Contiguous();
        if (bucket.DType == DType.Float32) grad.AsReadOnlySpan<float>().CopyTo(bucket.Floats.Span.Slice(offset, p.NumEl));
        else grad.AsReadOnlySpan<double>().CopyTo(bucket.Doubles.Span.Slice(offset, p.NumEl));
    }

    // Buckets are reduced in index order on every rank, so the ranks' collectives always match.
    private void LaunchReady()
    {
        while (_nextLaunch < _buckets.Length && _buckets[_nextLaunch].IsFull)
        {
            var bucket = _buckets[_nextLaunch++];
            _events.Add(new DdpEvent("Launch", bucket.Index));
            bucket.Done.Reset();
            _queue.Add(bucket);
        }
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
        Exception? error = null;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            foreach (var bucket in _buckets)
            {
                bucket.Done.Wait();
                error ??= bucket.Error;
            }
        }
        finally
        {
            Interlocked.Add(ref _waitTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
        if (error is not null) throw new InvalidOperationException($"DistributedDataParallel: the gradient all-reduce failed on rank {_group.Rank}: {error.Message}", error);
        using (Autograd.NoGrad())
        {
            foreach (var bucket in _buckets)
                foreach (int m in bucket.Members)
                {
                    var p = _parameters[m];
                    int offset = _slots[m].Offset;
                    if (p.Grad is not { IsContiguous: true } grad || grad.Shape.Length != p.Shape.Length)
                        p.Grad = grad = Tensor.ZerosLike(p);
                    if (bucket.DType == DType.Float32) bucket.Floats.Span.Slice(offset, p.NumEl).CopyTo(grad.AsSpan<float>());
                    else bucket.Doubles.Span.Slice(offset, p.NumEl).CopyTo(grad.AsSpan<double>());
                }
        }
    }

    private unsafe void CommLoop()
    {
        foreach (var bucket in _queue.GetConsumingEnumerable())
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                int chunk = bucket.Padded / _group.WorldSize;
                if (bucket.DType == DType.Float32) _group.ReduceInRankOrder(bucket.Floats.Pointer, bucket.FloatScratch.Pointer, chunk, ReduceOp.Average);
                else _group.ReduceInRankOrder(bucket.Doubles.Pointer, bucket.DoubleScratch.Pointer, chunk, ReduceOp.Average);
                bucket.Error = null;
            }
            catch (Exception ex)
            {
                bucket.Error = ex;
            }
            Interlocked.Add(ref _commTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            bucket.Done.Set();
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
            if (g.DType == DType.Float32) TensorPrimitives.Divide(g.AsSpan<float>(), (float)microBatches, g.AsSpan<float>());
            else if (g.DType == DType.Float64) TensorPrimitives.Divide(g.AsSpan<double>(), microBatches, g.AsSpan<double>());
        }
    }

    /// <summary>Removes the hooks and stops the communication thread; the wrapped model stays usable on its own.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var h in _hooks) h.Dispose();
        _queue.CompleteAdding();
        _commThread.Join();
        foreach (var b in _buckets) b.Dispose();
        _group.Dispose();
    }

    private sealed class Bucket : IDisposable
    {
        private int _missing;

        public Bucket(int index, int[] members, int count, int padded, DType dtype)
        {
            Index = index;
            Members = members;
            Count = count;
            Padded = padded;
            DType = dtype;
            Filled = new bool[members.Length];
            if (dtype == DType.Float32) { Floats = new(padded); FloatScratch = new(padded); }
            else { Doubles = new(padded); DoubleScratch = new(padded); }
        }

        public int Index { get; }
        public int[] Members { get; }
        public int Count { get; }
        public int Padded { get; }
        public DType DType { get; }
        public bool[] Filled { get; }
        public NativeBuffer<float> Floats { get; }
        public NativeBuffer<float> FloatScratch { get; }
        public NativeBuffer<double> Doubles { get; }
        public NativeBuffer<double> DoubleScratch { get; }
        public ManualResetEventSlim Done { get; } = new(true);
        public Exception? Error { get; set; }
        public bool IsFull => _missing == 0;

        public void Reset()
        {
            Array.Clear(Filled);
            _missing = Members.Length;
        }

        /// <summary>Marks member k filled; true when it was the last.</summary>
        public bool MarkFilled(int k)
        {
            if (Filled[k]) return false;
            Filled[k] = true;
            return --_missing == 0;
        }

        public void Dispose()
        {
            if (DType == DType.Float32) { Floats.Dispose(); FloatScratch.Dispose(); }
            else { Doubles.Dispose(); DoubleScratch.Dispose(); }
        }
    }
}
