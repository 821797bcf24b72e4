namespace DeepSharp;

/// <summary>
/// Gradient storages a plain <c>Backward()</c> created itself (ids at or after the pass's first id): the tensors
/// the backward closures return and the sums the engine forms. The engine counts its own references to each
/// (pending sums, gradients being routed); when a count drops to zero the storage can be referenced by
/// nothing else — closures keep no gradients, and there are no hooks — so it goes back to the buffer pool.
/// Storages that existed before the pass (forward activations, the user's gradient, saved tensors returned
/// as gradients) and storages handed to a leaf's Grad are never released.
/// </summary>
internal sealed class GradientBuffers
{
    private readonly long _firstId;
    private readonly Dictionary<Storage, int> _refs = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Storage> _escaped = new(ReferenceEqualityComparer.Instance);

    private GradientBuffers(long firstId) => _firstId = firstId;

    /// <summary>Owns the storages created from <paramref name="firstId"/> on.</summary>
    public static GradientBuffers From(long firstId) => new(firstId);

    /// <summary>Owns nothing (createGraph, anomaly mode, <c>Autograd.Grad</c>): every call is a no-op.</summary>
    public static GradientBuffers None() => new(long.MaxValue);

    private bool IsOurs(Tensor t) => t._storage.Id >= _firstId && !_escaped.Contains(t._storage);

    /// <summary>Adds one engine reference to t's storage.</summary>
    public void Hold(Tensor t)
    {
        if (IsOurs(t)) _refs[t._storage] = _refs.GetValueOrDefault(t._storage) + 1;
    }

    /// <summary>Removes one reference; releases the storage when it was the last (unless release is false).</summary>
    public void Drop(Tensor t, bool release = true)
    {
        if (!IsOurs(t) || !_refs.TryGetValue(t._storage, out int n)) return;
        if (n > 1) { _refs[t._storage] = n - 1; return; }
        _refs.Remove(t._storage);
        if (release) t._storage.Release();
    }

    /// <summary>Releases a storage of ours that the engine holds no reference to.</summary>
    public void DropIfUnused(Tensor t)
    {
        if (IsOurs(t) && !_refs.ContainsKey(t._storage)) t._storage.Release();
    }

    /// <summary>The sum waiting at a node after <paramref name="g"/> arrives at <paramref name="existing"/>; the
    /// caller no longer holds <paramref name="g"/>.</summary>
    public Tensor Add(Tensor existing, Tensor g)
    {
        if (IsExclusive(existing) && existing._isContiguous && !ReferenceEquals(existing._storage, g._storage))
        {
            // The engine created `existing` and nothing else sees it: sum in place instead of allocating.
            using (GradMode.Set(false)) existing.Add_(g);
            DropIfUnused(g);
            return existing;
        }
        var sum = existing + g;
        Hold(sum);
        Drop(existing);
        DropIfUnused(g);
        return sum;
    }

    /// <summary>Makes <paramref name="g"/> the leaf's Grad without a copy when the engine created it and no one
    /// else references it; false when the caller must copy.</summary>
    public bool TryHandOver(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is not null || !IsOurs(g) || _refs.ContainsKey(g._storage) || !g._isContiguous
            || g._offset != 0 || g.NumEl != g._storage.Length || g.RequiresGrad)
            return false;
        leaf.Grad = g.Detach();
        _escaped.Add(g._storage);
        return true;
    }

    // True when t's storage is ours and held exactly once (by the caller).
    private bool IsExclusive(Tensor t) => IsOurs(t) && _refs.GetValueOrDefault(t._storage) == 1;
}
