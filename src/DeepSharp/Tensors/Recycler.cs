using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace DeepSharp;

/// <summary>
/// Gives the buffers of unreachable tensors back to the <see cref="BufferPool{T}"/>, so that a training loop in
/// steady state reuses the same large arrays instead of allocating fresh ones every step.
/// </summary>
/// <remarks>
/// <para>Why: activations are allocated in the forward pass and die after the backward pass, but .NET cannot
/// tell the library when (a user may keep any tensor). Left to the GC, every step allocates megabytes of fresh
/// large-object-heap arrays; the GC decommits the dead ones and the next step page-faults the memory back in.
/// On the 2-core benchmark machine that cost more than the arithmetic (mlp_step: 300–540 page faults and
/// 5–17 ms a step, against 3 ms without them).</para>
/// <para>How: each pooled buffer's storage carries a finalizable <see cref="Reclaimer"/>. When the GC finds the
/// storage unreachable, the finalizer queues the array on its creating thread's pending queue; the array enters
/// the pool only at a <b>safe point</b> of that thread — the end of <see cref="Tensor.Backward"/>, of
/// <c>Optimizer.ZeroGrad</c> and of a user's <see cref="Autograd.NoGrad"/> scope, public calls made from user code,
/// where no kernel of that thread can still hold a span into it (library code uses an internal no-grad scope that
/// is not a safe point). A buffer that another thread touched, or that was handed out as a public span, array or
/// <c>Tensor&lt;T&gt;</c>, is never recycled (it is left to the GC). Once per <see cref="CollectEveryBytes"/> of
/// large buffers rented, a safe point runs a gen-1 collection that finds the dead activations of the last steps
/// while they are still young; a collection that recovers little backs off exponentially (a user who keeps every
/// tensor pays almost nothing). Only threads that reach safe points get recyclable buffers.</para>
/// <para><c>DEEPSHARP_RECYCLE=0</c> (or <see cref="BufferPoolSettings.RecycleUnreachable"/> = false) turns it off.</para>
/// </remarks>
internal static class Recycler
{
    /// <summary>Per-thread recycling state.</summary>
    internal sealed class Owner
    {
        public readonly int ThreadId = Environment.CurrentManagedThreadId;

        /// <summary>Arrays of this thread's storages that the GC found unreachable, waiting for a safe point.</summary>
        public readonly ConcurrentQueue<Array> Pending = new();

        /// <summary>Bytes in <see cref="Pending"/>, capped at <see cref="PendingCap"/>.</summary>
        public long PendingBytes;

        /// <summary>Demand accumulated since the last collection.</summary>
        public long SinceCollect;

        /// <summary>Safe points this thread reached.</summary>
        public long SafePoints;

        /// <summary>The largest demand of an interval between two safe points seen so far.</summary>
        public long PeakDemand;

        /// <summary>Arrays beyond this many pending bytes are left to the GC: twice the peak demand between safe
        /// points (at least 16 MiB), so a thread that rarely or never reaches a safe point (a loop without
        /// Backward or a NoGrad scope) does not hoard memory.</summary>
        public long PendingCap => Math.Min(BufferPoolSettings.Limit, Math.Max(16L << 20, 2 * Volatile.Read(ref PeakDemand)));

        /// <summary>Pooled bytes rented on this thread since the last safe point (hits and misses).</summary>
        public long Rented;

        /// <summary>Pooled bytes rented on this thread since start (diagnostics and benchmarks).</summary>
        public long RentedTotal;

        /// <summary>Pooled bytes freshly allocated (pool misses) on this thread since the last collection.</summary>
        public long Fresh;

        /// <summary>Pooled bytes freshly allocated on this thread since start (diagnostics and tests).</summary>
        public long FreshTotal;

        /// <summary>Safe points to skip before the next collection may run (exponential back-off).</summary>
        public int Skip, Backoff;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void NoteFresh(long bytes) { Fresh += bytes; FreshTotal += bytes; }
    }

    [ThreadStatic] private static Owner? t_owner;

    /// <summary>This thread's state, if it rented a pooled buffer (tests).</summary>
    internal static Owner? Current => t_owner;

    /// <summary>Counts a pooled rent on this thread; returns the owner for the new storage, or null when recycling is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Owner? NoteRent(long bytes)
    {
        if (!BufferPoolSettings.RecycleUnreachable) return null;
        var o = t_owner ??= new Owner();
        o.Rented += bytes;
        o.RentedTotal += bytes;
        // Only a thread that reaches safe points gets recyclable buffers: a finalizable companion keeps a dead
        // array alive until its finalizer ran, which costs a loop that never drains (no Backward, no NoGrad
        // scope) more than plain GC arrays.
        return o.SafePoints > 0 && o.Rented <= o.PendingCap ? o : null;
    }

    /// <summary>Pooled bytes rented between collections (default 16 MiB: the pool then holds about that much beyond
    /// the live tensors, and a small model's step pays a fraction of a collection).</summary>
    internal static long CollectEveryBytes = 16L << 20;

    /// <summary>Collections run by safe points since start (diagnostics and tests).</summary>
    internal static long Collections;

    /// <summary>A point of the calling thread where no op is running: pending arrays may enter the pool.</summary>
    public static void SafePoint()
    {
        var o = t_owner;
        if (o is null) return;
        long demand = o.Rented;
        o.Rented = 0;
        o.SafePoints++;
        if (demand > o.PeakDemand) Volatile.Write(ref o.PeakDemand, demand);
        BufferPoolSettings.NoteDemand(demand);
        Drain(o);
        // A young-generation collection once every CollectEveryBytes of demand finds the dead arrays of the
        // intervals since the last one (still in gen 0/1); the pool then serves the next intervals without fresh
        // arrays, and holds about that much memory. Memory stays flat; the cost is one gen-1 GC per interval
        // (0.1–0.2 ms measured) per CollectEveryBytes of large buffers rented.
        o.SinceCollect += demand;
        if (o.SinceCollect < CollectEveryBytes) return;
        if (o.Skip > 0) { o.Skip--; return; }
        demand = o.SinceCollect;
        o.SinceCollect = 0;
        long before = BufferPoolSettings.PooledBytes;
        GC.Collect(1, GCCollectionMode.Forced, blocking: true, compacting: false);
        GC.WaitForPendingFinalizers();
        Drain(o);
        Interlocked.Increment(ref Collections);
        o.Fresh = 0;
        bool useful = BufferPoolSettings.PooledBytes - before >= demand / 4;
        o.Backoff = useful ? 0 : Math.Min(64, Math.Max(1, o.Backoff * 2));
        o.Skip = o.Backoff;
    }

    private static void Drain(Owner o)
    {
        while (o.Pending.TryDequeue(out var a))
        {
            Interlocked.Add(ref o.PendingBytes, -(long)a.Length * BytesPer(a));
            switch (a)
            {
                case float[] f: BufferPool<float>.Return(f); break;
                case double[] d: BufferPool<double>.Return(d); break;
                case long[] l: BufferPool<long>.Return(l); break;
            }
        }
    }

    internal static int BytesPer(Array a) => a is double[] or long[] ? 8 : 4;
}

/// <summary>The finalizable companion of a pooled storage (see <see cref="Recycler"/>): referenced only by its
/// storage, so it is finalized exactly when the storage became unreachable.</summary>
internal abstract class Reclaimer(Recycler.Owner owner)
{
    /// <summary>The creating thread's state.</summary>
    public readonly Recycler.Owner Owner = owner;

    /// <summary>Touched by another thread or exposed publicly: never recycled.</summary>
    public volatile bool Shared;
}

internal sealed class Reclaimer<T>(T[] array, Recycler.Owner owner) : Reclaimer(owner) where T : unmanaged
{
    private T[]? _array = array;

    /// <summary>The storage gave its buffer back itself (<c>Release</c>).</summary>
    public void Disarm()
    {
        _array = null;
        GC.SuppressFinalize(this);
    }

    ~Reclaimer()
    {
        var a = Interlocked.Exchange(ref _array, null);
        if (a is null || Shared) return;
        long bytes = (long)a.Length * Unsafe.SizeOf<T>();
        if (Interlocked.Add(ref Owner.PendingBytes, bytes) > Owner.PendingCap)
        {
            Interlocked.Add(ref Owner.PendingBytes, -bytes);   // left to the GC
            return;
        }
        Owner.Pending.Enqueue(a);
    }
}
