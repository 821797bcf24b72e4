using System.Runtime.InteropServices;

namespace DeepSharp;

/// <summary>
/// Releases, when it ends, every tensor buffer created on its thread while it was the innermost open scope
/// (TorchSharp's <c>torch.NewDisposeScope()</c>): the deterministic way to end a buffer's life in .NET, where no
/// reference count says when the last tensor over it died. Open one per training step or per evaluation batch:
/// <code>
/// using (Torch.NewDisposeScope())
/// {
///     var loss = criterion.Forward(model.Forward(x), y);
///     loss.Backward();
///     optimizer.Step();
///     lossSum += loss.Item();
/// }   // activations, gradients of intermediates and temporaries go back to the buffer pool here
/// </code>
/// </summary>
/// <remarks>
/// <para>What a scope owns: the storages (buffers) created on the thread while it is the innermost open scope. A
/// view of an older tensor shares that tensor's storage and is not owned. When the scope ends, each owned storage is
/// released as <see cref="Tensor.Dispose"/> does: every tensor over it throws <see cref="ObjectDisposedException"/>
/// on use, and a large buffer goes back to the pool at once, without waiting for a garbage collection.</para>
/// <para>What it does not own: state that lives on by design is taken out of the scope when DeepSharp stores it —
/// module parameters and buffers (<c>RegisterParameter</c>, <c>RegisterBuffer</c>, <c>Module.To</c>), a tensor's
/// <see cref="Tensor.Grad"/>, optimizer state and internal caches. A result you want after the scope ends is moved
/// out with <see cref="MoveToOuter(Tensor)"/> (into the enclosing scope, or out of all scopes) or
/// <see cref="Tensor.DetachFromDisposeScope"/>; a tensor that existed before can be given to the scope with
/// <see cref="Include"/>. A buffer handed out as a public span, array or <c>Tensor&lt;T&gt;</c> is detached but left
/// to the GC (the caller may still hold it).</para>
/// <para>A scope does not keep what it owns alive: a tensor that becomes unreachable inside it (an intermediate of a
/// no-grad forward) is collected and its buffer recycled as without a scope; what is still alive when the scope ends
/// is released then.</para>
/// <para>Scopes nest and belong to the thread that opened them (buffers created on other threads are not
/// owned); ending a scope ends the scopes opened inside it first. Without a scope, buffers return to the pool when the
/// GC finds them unreachable (see <see cref="BufferPoolSettings.RecycleUnreachable"/>).</para>
/// </remarks>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? t_current;

    private readonly DisposeScope? _outer;
    private readonly int _threadId = Environment.CurrentManagedThreadId;
    // Weak handles: a storage that dies inside the scope (an inference intermediate) is collected and recycled as
    // usual instead of being held to the end; the ones still alive when the scope ends are released then.
    private readonly List<GCHandle> _storages = [];
    private bool _ended;

    internal DisposeScope()
    {
        _outer = t_current;
        t_current = this;
    }

    /// <summary>The innermost open scope of the calling thread, or null.</summary>
    public static DisposeScope? Current => t_current;

    /// <summary>The scope this one was opened in, or null.</summary>
    public DisposeScope? Outer => _outer;

    /// <summary>True once the scope has ended (<see cref="Dispose"/>).</summary>
    public bool IsDisposed => _ended;

    /// <summary>The number of storages the scope owns now (each shared by a tensor and its views).</summary>
    public int Count
    {
        get
        {
            int n = 0;
            foreach (var h in _storages) if (h.Target is Storage s && ReferenceEquals(s.Scope, this) && !s.IsReleased) n++;
            return n;
        }
    }

    /// <summary>Handles held now, owned or not (tests: a long scope prunes the others).</summary>
    internal int HandleCount => _storages.Count;

    /// <summary>Called by every new storage: the innermost open scope of this thread owns it.</summary>
    internal static void Register(Storage storage)
    {
        var scope = t_current;
        if (scope is null) return;
        storage.Scope = scope;
        scope.Track(storage);
    }

    // Handles past which the list is pruned of storages it no longer owns: a long scope (a whole no-grad loop) whose
    // intermediates die holds a bounded list, and pruning costs O(1) amortised per registration.
    private int _pruneAt = 1024;

    private void Track(Storage storage)
    {
        if (_storages.Count >= _pruneAt)
        {
            _storages.RemoveAll(h =>
            {
                if (h.Target is Storage s && ReferenceEquals(s.Scope, this)) return false;   // still owned
                h.Free();   // collected, moved out or kept
                return true;
            });
            _pruneAt = Math.Max(1024, 2 * _storages.Count);
        }
        _storages.Add(GCHandle.Alloc(storage, GCHandleType.Weak));
    }

    /// <summary>Takes <paramref name="tensor"/>'s storage out of whatever scope owns it: DeepSharp calls this where it
    /// stores a tensor that outlives the step (parameters, buffers, gradients, optimizer state, caches).</summary>
    internal static Tensor? Keep(Tensor? tensor)
    {
        if (tensor is not null) tensor._storage.Scope = null;
        return tensor;
    }

    /// <summary>
    /// Moves <paramref name="tensor"/>'s storage (shared with its views) to the enclosing scope, or out of every scope
    /// when this one is the outermost: the result of the scope's work survives its end. Returns the tensor.
    /// </summary>
    /// <exception cref="InvalidOperationException">The scope has ended, or the tensor's storage belongs to another scope.</exception>
    public Tensor MoveToOuter(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOpen("MoveToOuter");
        var storage = tensor._storage;
        if (storage.Scope is { } owner && !ReferenceEquals(owner, this))
            throw new InvalidOperationException($"DisposeScope.MoveToOuter: the tensor of shape {ShapeUtil.Format(tensor._shape)} belongs to another dispose scope; move it from that one.");
        if (storage.Scope is null) return tensor;   // not owned by any scope: nothing to move
        storage.Scope = _outer;
        _outer?.Track(storage);
        return tensor;
    }

    /// <summary><see cref="MoveToOuter(Tensor)"/> for several tensors (null entries are skipped).</summary>
    public void MoveToOuter(params ReadOnlySpan<Tensor?> tensors)
    {
        foreach (var t in tensors) if (t is not null) MoveToOuter(t);
    }

    /// <summary>Takes <paramref name="tensor"/>'s storage out of every scope: it lives until the GC finds it unreachable
    /// or it is disposed. Returns the tensor.</summary>
    public Tensor Detach(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOpen("Detach");
        return Keep(tensor)!;
    }

    /// <summary>Gives <paramref name="tensor"/>'s storage (shared with its views) to this scope, taking it from any other
    /// scope: it is released when this scope ends. Returns the tensor.</summary>
    public Tensor Include(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOpen("Include");
        var storage = tensor._storage;
        if (!ReferenceEquals(storage.Scope, this))
        {
            storage.Scope = this;
            Track(storage);
        }
        return tensor;
    }

    /// <summary>Releases everything the scope owns now and keeps the scope open (TorchSharp's <c>DisposeEverything</c>),
    /// e.g. at the end of each iteration of a loop inside one scope.</summary>
    public void DisposeEverything()
    {
        CheckOpen("DisposeEverything");
        CheckThread("DisposeEverything");
        ReleaseOwned();
    }

    /// <summary>Ends the scope (and any scope opened inside it that is still open) and releases every storage it owns.</summary>
    /// <exception cref="InvalidOperationException">Called from another thread than the one that opened the scope.</exception>
    public void Dispose()
    {
        if (_ended) return;
        CheckThread("Dispose");
        while (t_current is { } inner && !ReferenceEquals(inner, this)) inner.Dispose();   // inner scopes end first
        _ended = true;
        ReleaseOwned();
        t_current = _outer;
    }

    private void ReleaseOwned()
    {
        foreach (var handle in _storages)
        {
            // Collected storages are gone (their buffers were recycled); moved, kept or given away ones are skipped.
            if (handle.Target is Storage storage && ReferenceEquals(storage.Scope, this))
            {
                storage.Scope = null;
                storage.Release(toPool: !storage.IsShared);
            }
            handle.Free();
        }
        _storages.Clear();
    }

    private void CheckOpen(string op)
    {
        if (_ended) throw new InvalidOperationException($"DisposeScope.{op}: the scope has already ended.");
    }

    private void CheckThread(string op)
    {
        if (Environment.CurrentManagedThreadId != _threadId)
            throw new InvalidOperationException($"DisposeScope.{op}: a scope must end on the thread that opened it (thread {_threadId}), not on thread {Environment.CurrentManagedThreadId}.");
    }
}

public static partial class Torch
{
    /// <summary>Opens a <see cref="DisposeScope"/> on this thread (TorchSharp's <c>torch.NewDisposeScope()</c>): the
    /// buffers of the tensors created until it ends are released when it ends. Use with <c>using</c>.</summary>
    public static DisposeScope NewDisposeScope() => new();
}
