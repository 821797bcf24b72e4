using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace DeepSharp;

/// <summary>
/// Gives the buffers of unreachable tensors back to the <see cref="BufferPool{T}"/>, so that a training loop in
/// steady state reuses the same large arrays instead of allocating fresh ones every step.
/// </summary>
/// <remarks>
/// <para>Why: activations are allocated in the forward pass and die after the backward pass, but .NET cannot
/// tell the library when (a user may keep any tensor). Left to the GC, every step allocates fresh large arrays
/// and page-faults them in (figures in docs/performance.md).</para>
/// <para>How: each pooled buffer's storage carries a finalizable <see cref="Reclaimer"/>. When the GC finds the
/// storage unreachable, the finalizer queues the array on its creating thread's pending queue; the array enters
/// the pool only at a <b>safe point</b> of that thread — the end of <see cref="Tensor.Backward"/>, of
/// <c>Optimizer.ZeroGrad</c> and of a user's <see cref="Autograd.NoGrad"/> scope, public calls made from user code,
/// where no kernel of that thread can still hold a span into it (library code uses an internal no-grad scope that
/// is not a safe point). A buffer that another thread touched, or that was handed out as a public span, array or
/// <c>Tensor&lt;T&gt;</c>, is never recycled (it is left to the GC). Once per <see cref="CollectEveryBytes"/> of
/// large buffers rented, a safe point runs a gen-1 collection that finds the dead activations of the last steps
/// while they are still young; when the bytes of live-or-unfound storages (<see cref="Owner.Outstanding"/>) grew
/// since the last full collection, a full non-compacting one finds the storages a GC promoted to gen 2 during a
/// step. A collection that finds little (counting what any GC found) backs off exponentially, so a user who keeps
/// every tensor pays almost nothing. Only threads that reach safe points get recyclable buffers.</para>
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

        /// <summary><see cref="Rented"/> at the last module boundary (<see cref="AfterModule{T}"/>) of this interval.</summary>
        public long RentedAtMinor;

        /// <summary>Pooled bytes rented on this thread since start (diagnostics and benchmarks).</summary>
        public long RentedTotal;

        /// <summary>Pooled bytes freshly allocated (pool misses) on this thread since the last collection.</summary>
        public long Fresh;

        /// <summary>Pooled bytes freshly allocated on this thread since start (diagnostics and tests).</summary>
        public long FreshTotal;

        /// <summary>Safe points to skip before the next collection may run (exponential back-off).</summary>
        public int Skip, Backoff;

        /// <summary>Bytes of this thread's recyclable storages not yet found dead (live, or dead and not yet
        /// collected): added when a storage is armed, removed by its finalizer or <c>Release</c>.</summary>
        public long Outstanding;

        /// <summary><see cref="Outstanding"/> right after the last full collection: an estimate of the live bytes.</summary>
        public long LiveAfterFull;

        /// <summary>Bytes whose storages any GC found unreachable (diagnostics and the back-off).</summary>
        public long Found;

        /// <summary><see cref="Found"/> at the last collection.</summary>
        public long FoundAtCollect;

        /// <summary>Collections to skip before the next full one may run (exponential back-off).</summary>
        public int FullSkip, FullBackoff;

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
        return o.SafePoints > 0 && o.Rented - o.RentedAtMinor <= o.PendingCap ? o : null;
    }

    /// <summary>Pooled bytes rented between collections (default 16 MiB: the pool then holds about that much beyond
    /// the live tensors, and a small model's step pays a fraction of a collection).</summary>
    internal static long CollectEveryBytes = 16L << 20;

    /// <summary>An interval between collections of at least this many pooled bytes is followed by a full collection
    /// instead of a young one (see <see cref="Collect"/>).</summary>
    internal static long FullCollectBytes = 256L << 20;

    /// <summary>Collections run by safe points since start (diagnostics and tests).</summary>
    internal static long Collections;

    /// <summary>Of <see cref="Collections"/>, the full (gen-2, non-compacting) ones.</summary>
    internal static long FullCollections;

    /// <summary>Forgets this thread's recycling state, the pool's contents and its demand history (tests: each starts
    /// from the state of a fresh process whatever ran before). Storages armed before stay with the old state and are
    /// left to the GC.</summary>
    internal static void Reset()
    {
        if (t_owner is { } o) while (o.Pending.TryDequeue(out _)) { }
        t_owner = null;
        BufferPoolSettings.Clear();
        BufferPoolSettings.ResetDemand();
    }

    /// <summary>A point of the calling thread where no op is running: pending arrays may enter the pool.</summary>
    public static void SafePoint()
    {
        // A thread that reaches a safe point gets recyclable buffers from then on.
        var o = t_owner ??= BufferPoolSettings.RecycleUnreachable ? new Owner() : null;
        if (o is null) return;
        long demand = o.Rented, sinceMinor = o.Rented - o.RentedAtMinor;
        o.Rented = o.RentedAtMinor = 0;
        o.SafePoints++;
        if (demand > o.PeakDemand) Volatile.Write(ref o.PeakDemand, demand);
        Drain(o);
        Collect(o, sinceMinor, allowFull: true);
        BufferPoolSettings.NoteSafePoint(demand, Interlocked.Read(ref Collections));
    }

    /// <summary>The end of a library module's forward (returns <paramref name="value"/>). Inside a user's NoGrad scope
    /// (<see cref="GradMode.InUserNoGrad"/>) no op of this thread is running there and no graph keeps intermediates:
    /// the buffers that died in the layers before are drained into the pool (with the collection rule of
    /// <see cref="SafePoint"/>), so one long NoGrad loop reuses them without waiting for the scope to end. The
    /// interval's demand keeps running to the scope's end (the pool's limit and trim count whole intervals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T AfterModule<T>(T value)
    {
        if (t_owner is { } o && GradMode.InUserNoGrad) ModuleBoundary(o);
        return value;
    }

    private static void ModuleBoundary(Owner o)
    {
        long since = o.Rented - o.RentedAtMinor;
        o.RentedAtMinor = o.Rented;
        if (o.SafePoints == 0) o.SafePoints = 1;   // this thread's buffers become recyclable
        if (since > o.PeakDemand) Volatile.Write(ref o.PeakDemand, since);
        Drain(o);
        Collect(o, since, allowFull: false);   // mid-forward the outstanding bytes include live intermediates
    }

    // One young-generation collection per CollectEveryBytes of demand finds the dead arrays of the intervals since
    // the last one while they are in gen 0/1, so the pool serves the next intervals and memory stays flat.
    private static void Collect(Owner o, long demand, bool allowFull)
    {
        o.SinceCollect += demand;
        if (o.SinceCollect < CollectEveryBytes) return;
        if (o.Skip > 0) { o.Skip--; return; }
        long interval = o.SinceCollect;
        o.SinceCollect = 0;
        // A large interval (a big model's step) outlives several runtime GCs, which promote its activations to gen 2
        // where a young collection cannot find them; a full one costs little beside such a step, so it runs directly.
        bool large = allowFull && interval >= FullCollectBytes && o.FullSkip == 0;
        if (!large)
        {
            GC.Collect(1, GCCollectionMode.Forced, blocking: true, compacting: false);
            GC.WaitForPendingFinalizers();
            Drain(o);
        }
        Interlocked.Increment(ref Collections);
        // A GC during a step promotes the activations live then to gen 2, where young collections never find
        // them: when the outstanding bytes grew by a quarter of the largest interval since the last full collection,
        // run one (non-compacting: the marking of arrays of numbers is cheap).
        long growth = Volatile.Read(ref o.Outstanding) - o.LiveAfterFull;
        if (large || allowFull && growth >= Math.Max(interval, Volatile.Read(ref o.PeakDemand)) / 4)
        {
            if (o.FullSkip > 0) o.FullSkip--;
            else
            {
                long before = Volatile.Read(ref o.Found);
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
                GC.WaitForPendingFinalizers();
                Drain(o);
                Interlocked.Increment(ref FullCollections);
                o.LiveAfterFull = Volatile.Read(ref o.Outstanding);
                bool fullUseful = Volatile.Read(ref o.Found) - before >= growth / 4;
                o.FullBackoff = fullUseful ? 0 : Math.Min(64, Math.Max(1, o.FullBackoff * 2));
                o.FullSkip = o.FullBackoff;
            }
        }
        o.Fresh = 0;
        // What any GC found since the last collection counts (the runtime's own, a full one): a collection is
        // useless only when the buffers did not come back at all.
        long found = Volatile.Read(ref o.Found) - o.FoundAtCollect;
        o.FoundAtCollect = Volatile.Read(ref o.Found);
        // The deterministic releases of the engine are part of the interval but never found: a large interval's
        // collection is judged by what it found of the bytes outstanding beyond the live ones.
        bool useful = found >= (large ? growth : interval) / 4;
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

internal sealed class Reclaimer<T> : Reclaimer where T : unmanaged
{
    private T[]? _array;

    public Reclaimer(T[] array, Recycler.Owner owner) : base(owner)
    {
        _array = array;
        Interlocked.Add(ref owner.Outstanding, (long)array.Length * Unsafe.SizeOf<T>());
    }

    /// <summary>The storage gave its buffer back itself (<c>Release</c>).</summary>
    public void Disarm()
    {
        if (Interlocked.Exchange(ref _array, null) is { } a)
            Interlocked.Add(ref Owner.Outstanding, -(long)a.Length * Unsafe.SizeOf<T>());
        GC.SuppressFinalize(this);
    }

    ~Reclaimer()
    {
        var a = Interlocked.Exchange(ref _array, null);
        if (a is null) return;
        long bytes = (long)a.Length * Unsafe.SizeOf<T>();
        Interlocked.Add(ref Owner.Outstanding, -bytes);
        if (Shared) return;
        Interlocked.Add(ref Owner.Found, bytes);
        if (Interlocked.Add(ref Owner.PendingBytes, bytes) > Owner.PendingCap)
        {
            Interlocked.Add(ref Owner.PendingBytes, -bytes);   // left to the GC
            return;
        }
        Owner.Pending.Enqueue(a);
    }
}
