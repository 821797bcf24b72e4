using System.Runtime.CompilerServices;

namespace DeepSharp;

/// <summary>
/// A flat buffer of elements shared by a tensor and all its views. The version counter is bumped by every
/// in-place write so that autograd can detect saved tensors that were modified after being saved.
/// </summary>
/// <remarks>
/// Large buffers come from <see cref="BufferPool{T}"/> and go back to it only through <see cref="Release()"/>,
/// which first detaches the array from the storage (so every tensor viewing this storage, and any stale
/// reference, sees an empty buffer and throws instead of reading a reused one). Release is called only where
/// the caller can prove no one else uses the storage: the autograd engine for gradients it created and
/// consumed itself, and <see cref="Tensor.Dispose"/> for users who opt in. See docs/performance.md.
/// </remarks>
internal abstract class Storage
{
    private static long s_nextId;

    /// <summary>Incremented by each in-place modification of any tensor that views this storage.</summary>
    public int Version;

    /// <summary>Creation order (monotonic, process-wide): the engine uses it to tell storages it created apart
    /// from storages that existed before a backward pass started.</summary>
    public readonly long Id = Interlocked.Increment(ref s_nextId);

    /// <summary>The id the next storage will get.</summary>
    public static long NextId => Volatile.Read(ref s_nextId) + 1;

    public abstract DType DType { get; }
    public abstract int Length { get; }

    /// <summary>The <see cref="DisposeScope"/> that releases this storage when it ends, if any: the innermost open
    /// scope of the creating thread, until the storage is moved out of it or kept (a parameter, a gradient, an
    /// optimizer buffer).</summary>
    internal DisposeScope? Scope;

    // Every storage is created on some thread; the innermost open dispose scope of that thread owns it.
    private protected Storage() => DisposeScope.Register(this);

    /// <summary>Set for pooled buffers: returns the buffer to the pool (via <see cref="Recycler"/>) once this storage
    /// is unreachable. Null for small, user-supplied and non-recyclable buffers.</summary>
    private protected Reclaimer? _reclaimer;

    /// <summary>Called by every typed access: a buffer touched by a thread other than the one that created it is
    /// never recycled (only its creator's safe points can prove no span into it is in use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void NoteAccess()
    {
        var r = _reclaimer;
        if (r is not null && !r.Shared && r.Owner.ThreadId != Environment.CurrentManagedThreadId) r.Shared = true;
    }

    /// <summary>True when the buffer returns to the pool once this storage is unreachable (see <see cref="Recycler"/>):
    /// pooled, created on a thread that reaches safe points, never touched by another thread nor exposed.</summary>
    public bool IsRecyclable => _reclaimer is { Shared: false };

    /// <summary>The buffer is handed out beyond DeepSharp's control (a public span, array or Tensor&lt;T&gt; view):
    /// it is never recycled, only collected by the GC.</summary>
    public void MarkExposed()
    {
        Exposed = true;
        if (_reclaimer is { } r) r.Shared = true;
    }

    /// <summary>Set by <see cref="MarkExposed"/>: a dispose scope that ends detaches the buffer but leaves it to the GC
    /// (the caller may still hold the span or array).</summary>
    public bool Exposed;

    /// <summary>True when the buffer was seen by another thread or handed out publicly: only the GC may reclaim it.</summary>
    public bool IsShared => Exposed || _reclaimer is { Shared: true };

    /// <summary>True once <see cref="Release()"/> ran: the storage is empty.</summary>
    public abstract bool IsReleased { get; }

    /// <summary>Detaches the buffer (the storage becomes empty) and returns it to the pool if it came from there.
    /// Idempotent and thread-safe. The caller guarantees no tensor in use views this storage.</summary>
    public void Release() => Release(toPool: true);

    /// <summary>Detaches the buffer; with <paramref name="toPool"/> false a pooled buffer is left to the GC instead of
    /// the pool (someone outside DeepSharp may still hold it).</summary>
    public abstract void Release(bool toPool);

    public static Storage Allocate(DType dtype, int length) => dtype switch
    {
        DType.Float32 => Storage<float>.Rent(length, zeroed: true),
        DType.Float64 => Storage<double>.Rent(length, zeroed: true),
        DType.Int64 => Storage<long>.Rent(length, zeroed: true),
        DType.Bool => new Storage<bool>(new bool[length]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Allocates without zeroing (the caller overwrites every element).</summary>
    public static Storage AllocateUninitialized(DType dtype, int length) => dtype switch
    {
        DType.Float32 => Storage<float>.Rent(length, zeroed: false),
        DType.Float64 => Storage<double>.Rent(length, zeroed: false),
        DType.Int64 => Storage<long>.Rent(length, zeroed: false),
        DType.Bool => new Storage<bool>(new bool[length]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}

internal sealed class Storage<T> : Storage where T : unmanaged
{
    private static readonly DType s_dtype = DTypeExtensions.Of<T>();

    /// <summary>The elements; an empty array after <see cref="Storage.Release()"/>.</summary>
    public T[] Data;

    // True when Data came from BufferPool<T> (arrays wrapped from user data never go to the pool).
    private readonly bool _pooled;

    public Storage(T[] data) => Data = data;

    private Storage(T[] data, bool pooled)
    {
        Data = data;
        _pooled = pooled;
    }

    /// <summary>A storage of exactly <paramref name="length"/> elements, from the pool when large enough.</summary>
    public static Storage<T> Rent(int length, bool zeroed)
    {
        if (!BufferPool<T>.Applies(length))
            return new Storage<T>(zeroed ? new T[length] : GC.AllocateUninitializedArray<T>(length));
        long bytes = (long)length * Unsafe.SizeOf<T>();
        var owner = Recycler.NoteRent(bytes);
        var array = BufferPool<T>.TryRent(length);
        if (array is null)
        {
            array = zeroed ? new T[length] : GC.AllocateUninitializedArray<T>(length);
            owner?.NoteFresh(bytes);
        }
        else if (zeroed) Array.Clear(array);
        var storage = new Storage<T>(array, pooled: true);
        if (owner is not null) storage._reclaimer = new Reclaimer<T>(array, owner);
        return storage;
    }

    public override DType DType => s_dtype;
    public override int Length => Data.Length;
    public override bool IsReleased => _released != 0;

    private int _released;

    public override void Release(bool toPool)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        var data = Data;
        Data = [];
        Version++;
        if (_reclaimer is Reclaimer<T> r) r.Disarm();   // returned now, not again when this storage dies
        if (_pooled && toPool) BufferPool<T>.Return(data);
    }
}

/// <summary>
/// Process-wide pool of large element arrays, by exact length (a training loop asks for the same sizes every
/// step, and exact lengths keep <c>Data.Length == numel</c> for every storage). Arrays of at least
/// <see cref="BufferPoolSettings.MinPooledBytes"/> are pooled, up to <see cref="BufferPoolSettings.Limit"/> in
/// total across element types (what the recent steps needed); beyond that returned arrays are left to the GC.
/// </summary>
internal static class BufferPool<T> where T : unmanaged
{
    // The free arrays of one length, with the low-water marks of the idle-buffer trim (see BufferPoolSettings).
    private sealed class Bin
    {
        public readonly Stack<T[]> Stack = new();

        // The fewest arrays held since the last safe point: that many sat unused through the interval (a bin
        // created mid-interval starts at 0, nothing idle yet).
        public int LowInterval;

        // The fewest over the intervals of the current window.
        public int LowWindow = int.MaxValue;
    }

    private static readonly Dictionary<int, Bin> s_free = [];
    private static readonly object s_lock = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Applies(int length) =>
        (long)length * Unsafe.SizeOf<T>() >= BufferPoolSettings.MinPooledBytes && BufferPoolSettings.MaxPooledBytes > 0;

    public static T[]? TryRent(int length)
    {
        lock (s_lock)
        {
            if (s_free.TryGetValue(length, out var bin) && bin.Stack.TryPop(out var a))
            {
                if (bin.Stack.Count < bin.LowInterval) bin.LowInterval = bin.Stack.Count;
                BufferPoolSettings.AddPooledBytes(-(long)length * Unsafe.SizeOf<T>());
                Interlocked.Increment(ref BufferPoolSettings.s_hits);
                return a;
            }
        }
        Interlocked.Increment(ref BufferPoolSettings.s_misses);
        return null;
    }

    public static void Return(T[] array)
    {
        long bytes = (long)array.Length * Unsafe.SizeOf<T>();
        if (!Applies(array.Length)) return;
        lock (s_lock)
        {
            if (!BufferPoolSettings.TryReserve(bytes)) return;
            if (!s_free.TryGetValue(array.Length, out var bin)) s_free[array.Length] = bin = new Bin();
            bin.Stack.Push(array);
        }
    }

    /// <summary>Pooled arrays of this length (tests).</summary>
    public static int Count(int length)
    {
        lock (s_lock) return s_free.TryGetValue(length, out var bin) ? bin.Stack.Count : 0;
    }

    /// <summary>Ends an interval between safe points for the idle-buffer trim; when <paramref name="windowEnds"/>,
    /// drops the arrays of each length that no interval of the window used. Returns the bytes dropped.</summary>
    public static long EndInterval(bool windowEnds)
    {
        long dropped = 0;
        lock (s_lock)
        {
            List<int>? empty = null;
            foreach (var (len, bin) in s_free)
            {
                bin.LowWindow = Math.Min(bin.LowWindow, bin.LowInterval);
                if (windowEnds)
                {
                    for (int i = 0; i < bin.LowWindow && bin.Stack.TryPop(out _); i++)
                        dropped += (long)len * Unsafe.SizeOf<T>();
                    bin.LowWindow = int.MaxValue;
                    if (bin.Stack.Count == 0) (empty ??= []).Add(len);
                }
                bin.LowInterval = bin.Stack.Count;
            }
            if (empty is not null) foreach (int len in empty) s_free.Remove(len);
            BufferPoolSettings.AddPooledBytes(-dropped);
        }
        return dropped;
    }

    /// <summary>Drops pooled arrays of this type, largest first, until the pool holds at most <paramref name="bytes"/>.</summary>
    public static void TrimTo(long bytes)
    {
        lock (s_lock)
        {
            foreach (int len in s_free.Keys.OrderDescending().ToArray())
            {
                var stack = s_free[len].Stack;
                while (BufferPoolSettings.PooledBytes > bytes && stack.TryPop(out _))
                    BufferPoolSettings.AddPooledBytes(-(long)len * Unsafe.SizeOf<T>());
                if (stack.Count == 0) s_free.Remove(len);
                if (BufferPoolSettings.PooledBytes <= bytes) return;
            }
        }
    }

    /// <summary>Drops every pooled array of this type (tests, or to give memory back).</summary>
    public static void Clear()
    {
        lock (s_lock)
        {
            foreach (var (len, bin) in s_free)
                BufferPoolSettings.AddPooledBytes(-(long)len * Unsafe.SizeOf<T>() * bin.Stack.Count);
            s_free.Clear();
        }
    }
}

/// <summary>Limits and counters of the tensor buffer pool. The pool keeps what the recent steps needed (see
/// <see cref="Limit"/>); <c>DEEPSHARP_POOL_MB</c> or <see cref="MaxPooledBytes"/> adds a fixed cap (0 disables pooling).</summary>
public static class BufferPoolSettings
{
    private static long s_pooledBytes;
    internal static long s_hits, s_misses;

    /// <summary>Buffers smaller than this many bytes are plain GC arrays (default 64 KiB).</summary>
    public static long MinPooledBytes { get; set; } = 64 << 10;

    /// <summary>A fixed upper bound on the bytes held by the pool, on top of the adaptive <see cref="Limit"/> (default
    /// none, or <c>DEEPSHARP_POOL_MB</c>); 0 disables pooling.</summary>
    public static long MaxPooledBytes { get; set; } =
        Kernels.KernelSettings.PoolCapBytes;

    // The largest demand of an interval between safe points, decaying by 1/16 per safe point.
    private static long s_recentDemand;

    /// <summary>The bytes the pool may hold now: twice the recent peak demand of an interval between safe points (at
    /// least 256 MiB), at most <see cref="MaxPooledBytes"/>. It follows the working set: no fixed cap falls below a
    /// large model's step, and a pool that grew for a large step is trimmed when the steps become smaller.</summary>
    public static long Limit => Math.Min(MaxPooledBytes, Math.Max(256L << 20, 2 * Interlocked.Read(ref s_recentDemand)));

    /// <summary>Records the demand of one interval between safe points and trims the pool to the new <see cref="Limit"/>.</summary>
    internal static void NoteDemand(long demand)
    {
        long cur = Interlocked.Read(ref s_recentDemand);
        Interlocked.Exchange(ref s_recentDemand, Math.Max(demand, cur - cur / 16));
        if (PooledBytes > Limit) Trim(Limit);
    }

    /// <summary>Safe points per idle-buffer window (at least; a window also spans two recycling collections).</summary>
    internal const int WindowSafePoints = 4;

    /// <summary>A drop of at least this many bytes by the idle-buffer trim is followed by a compacting collection
    /// that gives the memory back to the operating system.</summary>
    internal static long GiveBackBytes = 64L << 20;

    private static int s_windowTicks;
    private static long s_windowCollections = -1;

    /// <summary>Bytes the idle-buffer trim dropped since start (diagnostics and tests).</summary>
    internal static long IdleDropped;

    /// <summary>Compacting collections run after a large idle-buffer drop (diagnostics and tests).</summary>
    internal static long GiveBacks;

    /// <summary>The end of an interval between safe points: records its demand (<see cref="Limit"/>) and runs the
    /// low-water-mark trim. Over a window of at least <see cref="WindowSafePoints"/> safe points and two recycling
    /// collections (the pool is refilled at collections), the arrays of each length that stayed in the pool through
    /// every interval are dropped: the working set shrank (training, then inference), and they would only hold
    /// memory. A large drop is followed by a compacting collection so that the memory goes back to the system.</summary>
    internal static void NoteSafePoint(long demand, long collections)
    {
        lock (s_windowLock) NoteSafePointLocked(demand, collections);
    }

    private static readonly object s_windowLock = new();

    private static void NoteSafePointLocked(long demand, long collections)
    {
        NoteDemand(demand);
        if (s_windowCollections < 0) s_windowCollections = collections;
        bool windowEnds = ++s_windowTicks >= WindowSafePoints && collections - s_windowCollections >= 2;
        long dropped = BufferPool<float>.EndInterval(windowEnds) + BufferPool<double>.EndInterval(windowEnds)
            + BufferPool<long>.EndInterval(windowEnds);
        if (!windowEnds) return;
        s_windowTicks = 0;
        s_windowCollections = collections;
        if (dropped == 0) return;
        Interlocked.Add(ref IdleDropped, dropped);
        if (dropped < GiveBackBytes) return;
        Interlocked.Increment(ref GiveBacks);
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>Forgets the demand history and the trim's window (tests).</summary>
    internal static void ResetDemand()
    {
        lock (s_windowLock)
        {
            Interlocked.Exchange(ref s_recentDemand, 0);
            s_windowTicks = 0;
            s_windowCollections = -1;
        }
    }

    /// <summary>Drops pooled arrays until the pool holds at most <paramref name="bytes"/>.</summary>
    internal static void Trim(long bytes)
    {
        BufferPool<float>.TrimTo(bytes);
        BufferPool<double>.TrimTo(bytes);
        BufferPool<long>.TrimTo(bytes);
    }

    /// <summary>
    /// Whether buffers of tensors that became unreachable return to the pool at the next safe point of the thread
    /// that created them (the end of <see cref="Tensor.Backward"/>, of <c>Optimizer.ZeroGrad</c> and of a
    /// <see cref="Autograd.NoGrad"/> scope), with a young-generation GC there once per 16 MiB of large buffers rented. Default true; <c>DEEPSHARP_RECYCLE=0</c> turns it off.
    /// See docs/performance.md.
    /// </summary>
    public static bool RecycleUnreachable { get; set; } =
        Kernels.KernelSettings.RecycleUnreachable;

    /// <summary>Bytes currently held by the pool, ready for reuse.</summary>
    public static long PooledBytes => Interlocked.Read(ref s_pooledBytes);

    /// <summary>Large allocations served from the pool since start.</summary>
    public static long Hits => Interlocked.Read(ref s_hits);

    /// <summary>Large allocations that found no pooled buffer.</summary>
    public static long Misses => Interlocked.Read(ref s_misses);

    /// <summary>Empties the pool.</summary>
    public static void Clear()
    {
        BufferPool<float>.Clear();
        BufferPool<double>.Clear();
        BufferPool<long>.Clear();
    }

    internal static void AddPooledBytes(long delta) => Interlocked.Add(ref s_pooledBytes, delta);

    internal static bool TryReserve(long bytes)
    {
        while (true)
        {
            long cur = Interlocked.Read(ref s_pooledBytes);
            if (cur + bytes > Limit) return false;
            if (Interlocked.CompareExchange(ref s_pooledBytes, cur + bytes, cur) == cur) return true;
        }
    }
}
