namespace DeepSharp;

/// <summary>Computes the gradients of an op's inputs from the gradient of its output.</summary>
/// <param name="gradOutput">d(loss)/d(output), the output's shape.</param>
/// <returns>One entry per input (null where an input needs no gradient); shapes may be the broadcast
/// shape, the engine sums them back to each input's shape.</returns>
internal delegate Tensor?[] BackwardFunction(Tensor gradOutput);

/// <summary>Where a gradient flows: into a recorded node, or into a leaf's <c>Grad</c>.</summary>
internal readonly record struct Edge(Node? Function, Tensor? Leaf, int[] Shape, DType DType)
{
    public bool IsLive => Function is not null || Leaf is not null;
}

/// <summary>
/// One recorded op in the autograd graph (PyTorch's <c>grad_fn</c>). Every node has exactly one output;
/// multi-output ops (Split, Chunk) are built from single-output views.
/// </summary>
public sealed class Node
{
    private BackwardFunction? _backward;
    private Tensor[]? _saved;
    private int[]? _savedVersions;

    internal Node(string name, Edge[] inputs, BackwardFunction backward, Tensor[]? saved)
    {
        Name = name;
        Inputs = inputs;
        _backward = backward;
        if (saved is { Length: > 0 })
        {
            _saved = saved;
            _savedVersions = new int[saved.Length];
            for (int i = 0; i < saved.Length; i++) _savedVersions[i] = saved[i].Version;
        }
    }

    /// <summary>The op's backward name, as PyTorch prints it (e.g. <c>MulBackward</c>).</summary>
    public string Name { get; }

    internal Edge[] Inputs { get; }

    /// <summary>The nodes this one sends gradients to (null entries are leaves or inputs without grad).</summary>
    public IReadOnlyList<Node?> NextFunctions => Inputs.Select(e => e.Function).ToArray();

    /// <summary>Where the op was recorded (set only in anomaly mode).</summary>
    internal string? CreationTrace { get; set; }

    internal bool IsReleased => _backward is null;

    // Returns buffers only the backward closure can see (e.g. max-pool argmax indices) once it can no longer run.
    private Action? _onRelease;

    /// <summary>Registers a callback run once when the node drops its closure (after a non-retained backward);
    /// callbacks registered earlier still run.</summary>
    internal void OnRelease(Action action) => _onRelease = _onRelease is null ? action : _onRelease + action;

    // Storages only the backward closure sees, given back to the pool when the node is released.
    private List<Storage>? _private;

    /// <summary>Gives <paramref name="buffer"/>'s storage back to the pool when the node is released: for a tensor only the
    /// backward closure reads (created by the op for its backward, never returned nor saved elsewhere).</summary>
    internal void ReleaseWith(Tensor buffer) => (_private ??= []).Add(buffer._storage);

    /// <summary><see cref="ReleaseWith"/> for the contiguous copy an op made of <paramref name="original"/> for its
    /// backward; nothing when <c>Contiguous()</c> returned the original's storage itself.</summary>
    internal void ReleaseWithIfCopy(Tensor copy, Tensor original)
    {
        if (!ReferenceEquals(copy._storage, original._storage)) ReleaseWith(copy);
    }

    internal Tensor?[] Apply(Tensor gradOutput)
    {
        var backward = _backward ?? throw new InvalidOperationException(
            $"Trying to backward through the graph a second time (through {Name}), but the saved tensors were already freed. " +
            "Specify retainGraph: true on the first Backward() call if you need to backward through the graph again.");
        if (_saved is not null)
        {
            for (int i = 0; i < _saved.Length; i++)
            {
                if (_saved[i].IsDisposed)
                    throw new ObjectDisposedException(nameof(Tensor),
                        $"A tensor of shape {ShapeUtil.Format(_saved[i]._shape)} saved by {Name} for the backward pass was released " +
                        "(Tensor.Dispose() or the end of the DisposeScope that owned it) before Backward() ran; end the scope after Backward().");
                if (_saved[i].Version != _savedVersions![i])
                    throw new InvalidOperationException(
                        $"One of the tensors needed for gradient computation has been modified by an in-place operation: " +
                        $"a tensor of shape {ShapeUtil.Format(_saved[i]._shape)} saved by {Name} is at version {_saved[i].Version}; expected version {_savedVersions[i]}. " +
                        "Use an out-of-place op or Clone() before modifying it.");
            }
        }
        return backward(gradOutput);
    }

    /// <summary>Drops the saved tensors and the backward closure (after a non-retained backward). With
    /// <paramref name="freePrivate"/> false (a createGraph pass, whose new graph may read them) the closure's private
    /// buffers are left to the GC instead of the pool.</summary>
    internal void Release(bool freePrivate = true)
    {
        if (_backward is not null) Interlocked.Exchange(ref _onRelease, null)?.Invoke();
        if (Interlocked.Exchange(ref _private, null) is { } buffers && freePrivate)
            foreach (var b in buffers) b.Release();
        _backward = null;
        _saved = null;
        _savedVersions = null;
    }

    /// <inheritdoc/>
    public override string ToString() => $"<{Name}>";

    /// <summary>
    /// Attaches a node to <paramref name="result"/> when grad mode is on and any input requires grad.
    /// This is the single place ops use to record themselves.
    /// </summary>
    internal static Tensor Record(Tensor result, string name, Tensor[] inputs, BackwardFunction backward, params Tensor[] saved)
    {
        if (!GradMode.IsEnabled) return result;
        bool any = false;
        foreach (var t in inputs) any |= t.RequiresGrad;
        if (!any) return result;
        var edges = new Edge[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) edges[i] = EdgeTo(inputs[i]);
        result._gradFn = new Node(name, edges, backward, saved);
        if (Anomaly.IsEnabled) Anomaly.OnRecord(result);
        return result;
    }

    internal static bool NeedsGrad(Tensor a) => GradMode.IsEnabled && a.RequiresGrad;
    internal static bool NeedsGrad(Tensor a, Tensor b) => GradMode.IsEnabled && (a.RequiresGrad || b.RequiresGrad);

    internal static Edge EdgeTo(Tensor t) =>
        !t.RequiresGrad ? new Edge(null, null, t._shape, t.DType)   // RequiresGrad also refreshes a stale view's history
        : t._gradFn is not null ? new Edge(t._gradFn, null, t._shape, t.DType)
        : new Edge(null, t, t._shape, t.DType);
}
