namespace DeepSharp;

public sealed partial class Tensor
{
    // Hooks run after a backward pass has accumulated every gradient it sends to this leaf into Grad.
    internal List<Action<Tensor>>? _postAccumulateGradHooks;

    /// <summary>
    /// Registers <paramref name="hook"/> to run once per <c>Backward()</c> after this leaf's <see cref="Grad"/> has
    /// received all the gradient that pass sends to it (PyTorch's <c>register_post_accumulate_grad_hook</c>). The hook
    /// gets this tensor and may read or modify <c>Grad</c>; distributed data parallelism uses it to start a bucket's
    /// reduction while the rest of backward still runs. Hooks run in registration order on the thread running
    /// backward; <see cref="Autograd.Grad(Tensor[], Tensor[], Tensor?[], bool?, bool, bool)"/> does not run them.
    /// </summary>
    /// <returns>A handle whose <c>Dispose</c> removes the hook.</returns>
    /// <exception cref="InvalidOperationException">The tensor is not a leaf that requires grad.</exception>
    public IDisposable RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (_gradFn is not null || !RequiresGrad)
            throw new InvalidOperationException($"RegisterPostAccumulateGradHook: only a leaf tensor that requires grad accumulates a gradient (this tensor of shape {ShapeUtil.Format(_shape)} {(_gradFn is not null ? $"has GradFn {_gradFn}" : "does not require grad")}).");
        lock (this) (_postAccumulateGradHooks ??= []).Add(hook);
        return new HookHandle(this, hook);
    }

    private sealed class HookHandle(Tensor tensor, Action<Tensor> hook) : IDisposable
    {
        public void Dispose()
        {
            lock (tensor) tensor._postAccumulateGradHooks?.Remove(hook);
        }
    }
}

/// <summary>
/// One backward pass's bookkeeping for post-accumulate-grad hooks: how many gradients each hooked leaf still waits
/// for (a leaf used twice receives two), so that its hooks run once, after the last, and the callbacks queued with
/// <see cref="Autograd.QueueCallback"/> at the end of the pass. Null (no cost) when no reachable leaf has hooks.
/// </summary>
internal sealed class GradHookTracker
{
    [ThreadStatic] private static GradHookTracker? t_current;
    private readonly Dictionary<Tensor, int> _pending = new(ReferenceEqualityComparer.Instance);
    private List<Action>? _callbacks;
    private GradHookTracker? _outer;

    /// <summary>Starts a <c>Backward()</c> pass on this thread; <see cref="Finish"/> must follow (in a finally).</summary>
    public static GradHookTracker Enter()
    {
        var t = new GradHookTracker { _outer = t_current };
        t_current = t;
        return t;
    }

    /// <summary>Counts the edges into hooked leaves of the current <c>Backward()</c> pass (none outside one).</summary>
    public static void Track(List<Node> reachable, Tensor[] roots)
    {
        if (t_current is not { } tracker) return;
        foreach (var r in roots)
            if (r._gradFn is null) tracker.Count(r);
        foreach (var node in reachable)
            foreach (var edge in node.Inputs)
                if (edge.Leaf is { } leaf) tracker.Count(leaf);
    }

    /// <summary>The current pass's tracker when some leaf it reaches has hooks, else null (no cost per edge).</summary>
    public static GradHookTracker? Active => t_current is { _pending.Count: > 0 } t ? t : null;

    private void Count(Tensor leaf)
    {
        if (leaf._postAccumulateGradHooks is { Count: > 0 }) _pending[leaf] = _pending.GetValueOrDefault(leaf) + 1;
    }

    /// <summary>An edge into <paramref name="leaf"/> was handled (a gradient delivered, or none sent): runs its hooks after the last.</summary>
    public void Delivered(Tensor leaf)
    {
        if (!_pending.TryGetValue(leaf, out int left)) return;
        if (left > 1) { _pending[leaf] = left - 1; return; }
        _pending.Remove(leaf);
        if (leaf.Grad is null) return;
        Action<Tensor>[] hooks;
        lock (leaf) hooks = [.. leaf._postAccumulateGradHooks!];
        foreach (var h in hooks) h(leaf);
    }

    /// <summary>End of the pass (also when it failed, so waiting work is not left behind): runs the queued callbacks.</summary>
    public void Finish()
    {
        t_current = _outer;
        if (_callbacks is null) return;
        for (int i = 0; i < _callbacks.Count; i++) _callbacks[i]();
    }

    /// <summary>Queues a callback to the outermost <c>Backward()</c> pass running on this thread (a checkpointed
    /// segment's recomputation runs a nested pass); false when none runs.</summary>
    public static bool TryQueue(Action callback)
    {
        if (t_current is not { } t) return false;
        while (t._outer is { } outer) t = outer;
        (t._callbacks ??= []).Add(callback);
        return true;
    }
}

public static partial class Autograd
{
    /// <summary>
    /// Queues <paramref name="callback"/> to run when the <c>Backward()</c> pass running on this thread ends — the
    /// outermost one, when activation checkpointing nests a pass (PyTorch's
    /// <c>Variable._execution_engine.queue_callback</c>), typically from a hook: distributed data parallelism waits for
    /// its reductions there. Callbacks run in the order queued, after every gradient has been accumulated.
    /// </summary>
    /// <exception cref="InvalidOperationException">No backward pass is running on this thread.</exception>
    public static void QueueCallback(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (!GradHookTracker.TryQueue(callback))
            throw new InvalidOperationException("Autograd.QueueCallback: no Backward() is running on this thread; call it from a hook during backward.");
    }
}
