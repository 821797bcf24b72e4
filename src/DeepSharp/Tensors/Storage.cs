using System.Runtime.CompilerServices;

namespace DeepSharp;

/// <summary>
/// A flat buffer of elements shared by a tensor and all its views. The version counter is bumped by every
/// in-place write so that autograd can detect saved tensors that were modified after being saved.
/// </summary>
/// <remarks>
/// Large buffers come from <see cref="BufferPool{T}"/> and go back to it only through <see cref="Release"/>,
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
        if (_reclaimer is { } r) r.Shared = true;
    }

    /// <summary>True once <see cref="Release"/> ran: the storage is empty.</summary>
    public abstract bool IsReleased { get; }

    /// <summary>Detaches the buffer (the storage becomes empty) and returns it to the pool if it came from there.
    /// Idempotent and thread-safe. The caller guarantees no tensor in use views this storage.</summary>
    public abstract void Release();

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

    /// <summary>The elements; an empty array after <see cref="Release"/>.</summary>
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

    public override void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        var data = Data;
        Data = [];
        Version++;
        if (_reclaimer is Reclaimer<T> r) r.Disarm();   // returned now, not again when this storage dies
        if (_pooled) BufferPool<T>.Return(data);
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
    private static readonly Dictionary<int, Stack<T[]>> s_free = [];
    private static readonly object s_lock = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Applies(int length) =>
        (long)length * Unsafe.SizeOf<T>() >= BufferPoolSettings.MinPooledBytes && BufferPoolSettings.MaxPooledBytes > 0;

    public static T[]? TryRent(int length)
    {
        lock (s_lock)
        {
            if (s_free.TryGetValue(length, out var stack) && stack.TryPop(out var a))
            {
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
            if (!s_free.TryGetValue(array.Length, out var stack)) s_free[array.Length] = stack = new Stack<T[]>();
            stack.Push(array);
        }
    }

    /// <summary>Drops pooled arrays of this type, largest first, until the pool holds at most <paramref name="bytes"/>.</summary>
    public static void TrimTo(long bytes)
    {
        lock (s_lock)
        {
            foreach (int len in s_free.Keys.OrderDescending().ToArray())
            {
                var stack = s_free[len];
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
            foreach (var (len, stack) in s_free)
                BufferPoolSettings.AddPooledBytes(-(long)len * Unsafe.SizeOf<T>() * stack.Count);
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
