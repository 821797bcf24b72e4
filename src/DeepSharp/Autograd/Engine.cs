namespace DeepSharp;

/// <summary>
/// Reverse-mode execution of the graph. Iterative: it counts each node's consumers, then runs nodes in
/// topological order (a node runs only once every gradient flowing into it has been summed), so depth
/// is limited by memory, not by the call stack.
/// </summary>
internal static class Engine
{
    /// <summary>Profiling hook (benchmarks only): called after each node's backward with its Stopwatch ticks.</summary>
    internal static Action<Node, long>? NodeTimer;
    private static readonly Node s_sumToShapeNode = new("(engine) SumToShape", [], _ => [], null);
    private static readonly Node s_deliverNode = new("(engine) Deliver to leaf", [], _ => [], null);

    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph, bool createGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward: the tensor does not require grad and has no GradFn (did you forget RequiresGrad, or run the forward under NoGrad?).");
        long firstOwned = Storage.NextId;
        gradient = InitialGradient(root, gradient, "Backward");
        var hookPass = GradHookTracker.Enter();
        try
        {
            Run([root], [gradient], captureFor: null, retainGraph, createGraph, accumulate: true,
                owned: createGraph || Anomaly.IsEnabled ? null : new OwnedGradients(firstOwned));
        }
        finally { hookPass.Finish(); }
    }

    public static Tensor?[] Grad(Tensor[] outputs, Tensor?[]? gradOutputs, Tensor[] inputs, bool retainGraph, bool createGraph, bool allowUnused)
    {
        if (gradOutputs is not null && gradOutputs.Length != outputs.Length)
            throw new ArgumentException($"Grad: got {outputs.Length} outputs but {gradOutputs.Length} gradOutputs.");
        var grads = new Tensor[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            if (!outputs[i].RequiresGrad)
                throw new InvalidOperationException($"Grad: output {i} does not require grad and has no GradFn.");
            grads[i] = InitialGradient(outputs[i], gradOutputs?[i], "Grad");
        }
        foreach (var t in inputs)
            if (!t.RequiresGrad) throw new InvalidOperationException("Grad: one of the inputs does not require grad.");
        var result = Run(outputs, grads, inputs, retainGraph, createGraph, accumulate: false, owned: null)!;
        if (!allowUnused)
            for (int i = 0; i < result.Length; i++)
                if (result[i] is null)
                    throw new InvalidOperationException($"Grad: input {i} was not used in the graph of the outputs; pass allowUnused: true to get null for it.");
        return result;
    }

    private static Tensor InitialGradient(Tensor root, Tensor? gradient, string op)
    {
        if (gradient is null)
        {
            if (root.NumEl != 1)
                throw new InvalidOperationException($"{op}: gradient can be implicitly created only for scalar outputs, but the output has shape {ShapeUtil.Format(root._shape)}; pass an explicit gradient.");
            return Tensor.OnesLike(root);
        }
        if (!ShapeUtil.SameShape(gradient._shape, root._shape))
            throw new ArgumentException($"{op}: the gradient has shape {ShapeUtil.Format(gradient._shape)} but the output has shape {ShapeUtil.Format(root._shape)}.");
        Tensor.CheckSameDType(root, gradient, op);
        return gradient;
    }

    private static Tensor?[]? Run(Tensor[] roots, Tensor[] rootGrads, Tensor[]? captureFor, bool retainGraph, bool createGraph, bool accumulate,
        OwnedGradients? owned)
    {
        using var mode = GradMode.Set(createGraph);

        // Gradients waiting at each node (summed as they arrive) and what each captured input receives.
        var pending = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance);
        Tensor?[]? captured = captureFor is null ? null : new Tensor?[captureFor.Length];
        var captureNodes = new Dictionary<Node, List<int>>(ReferenceEqualityComparer.Instance);
        var captureLeaves = new Dictionary<Tensor, List<int>>(ReferenceEqualityComparer.Instance);
        if (captureFor is not null)
        {
            for (int i = 0; i < captureFor.Length; i++)
            {
                var t = captureFor[i];
                if (t._gradFn is not null) GetList(captureNodes, t._gradFn).Add(i);
                else GetList(captureLeaves, t).Add(i);
            }
        }

        // 1. Find the reachable nodes; for Autograd.Grad keep only those from which a requested input can be
        //    reached (nothing below the inputs runs), then count how many kept edges point at each node.
        var reachable = new List<Node>();
        var stack = new Stack<Node>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        foreach (var r in roots)
            if (r._gradFn is { } fn && seen.Add(fn)) { stack.Push(fn); reachable.Add(fn); }
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            foreach (var edge in node.Inputs)
                if (edge.Function is { } next && seen.Add(next)) { stack.Push(next); reachable.Add(next); }
        }
        // `needed`: nodes that must run (a requested input lies below them). A requested non-leaf input's own
        // node only receives its gradient; it runs only if another requested input lies below it.
        HashSet<Node>? needed = captureFor is null ? null : FindNeeded(reachable, captureNodes, captureLeaves);
        var hooks = accumulate && captureFor is null ? GradHookTracker.Track(reachable, roots) : null;   // post-accumulate-grad hooks
        bool Receives(Node n) => needed is null || needed.Contains(n) || captureNodes.ContainsKey(n);
        var dependencies = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var node in reachable)
        {
            if (needed is not null && !needed.Contains(node)) continue;
            foreach (var edge in node.Inputs)
                if (edge.Function is { } next && Receives(next))
                    dependencies[next] = dependencies.GetValueOrDefault(next) + 1;
        }

        // 2. Seed the roots (a root that is a leaf receives its gradient directly).
        for (int i = 0; i < roots.Length; i++)
        {
            var r = roots[i];
            if (r._gradFn is { } fn) Accumulate(pending, fn, rootGrads[i], owned);
            else { Deliver(r, rootGrads[i], captureLeaves, captured, accumulate, createGraph, owned); hooks?.Delivered(r); }
        }

        // 3. Run nodes whose every consumer has already run.
        var ready = new Stack<Node>();
        foreach (var r in roots)
            if (r._gradFn is { } fn && Receives(fn) && dependencies.GetValueOrDefault(fn) == 0 && !ready.Contains(fn)) ready.Push(fn);
        while (ready.Count > 0)
        {
            var node = ready.Pop();
            var gradOut = pending[node];
            pending.Remove(node);
            if (captureNodes.TryGetValue(node, out var slots))
                foreach (int s in slots) captured![s] = gradOut;
            if (needed is not null && !needed.Contains(node)) continue;

            long t0 = NodeTimer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var inputGrads = node.Apply(gradOut);
            if (NodeTimer is { } timer) timer(node, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            if (Anomaly.IsEnabled) Anomaly.CheckBackward(node, inputGrads);
            if (!retainGraph) node.Release();

            // Reduce broadcast gradients first, and let the engine hold a reference to each before it lets go of
            // gradOut: an input gradient may be gradOut itself or a view of it.
            for (int i = 0; i < node.Inputs.Length && i < inputGrads.Length; i++)
            {
                var g = inputGrads[i];
                if (g is null) continue;
                var edge = node.Inputs[i];
                if (!edge.IsLive || (edge.Function is { } fn && !Receives(fn))) { inputGrads[i] = null; continue; }
                if (!ShapeUtil.SameShape(g._shape, edge.Shape))
                {
                    long ts = NodeTimer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                    var reduced = g.SumToShape(edge.Shape);
                    if (NodeTimer is { } tm) tm(s_sumToShapeNode, System.Diagnostics.Stopwatch.GetTimestamp() - ts);
                    owned?.DropIfUnused(g);
                    inputGrads[i] = g = reduced;
                }
                owned?.Hold(g);
            }
            owned?.Drop(gradOut);

            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var edge = node.Inputs[i];
                if (!edge.IsLive) continue;
                Tensor? g = i < inputGrads.Length ? inputGrads[i] : null;
                if (edge.Function is { } next)
                {
                    if (!Receives(next)) continue;
                    if (g is not null) { owned?.Drop(g, release: false); Accumulate(pending, next, g, owned); }
                    int left = dependencies[next] - 1;
                    dependencies[next] = left;
                    if (left == 0)
                    {
                        if (pending.ContainsKey(next)) ready.Push(next);
                        else ReleaseUnreached(next, dependencies, retainGraph);
                    }
                }
                else if (g is not null)
                {
                    owned?.Drop(g, release: false);
                    long ts = NodeTimer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                    Deliver(edge.Leaf!, g, captureLeaves, captured, accumulate, createGraph, owned);
                    if (NodeTimer is { } tm) tm(s_deliverNode, System.Diagnostics.Stopwatch.GetTimestamp() - ts);
                }
                if (edge.Leaf is { } hooked) hooks?.Delivered(hooked);
            }
        }
        return captured;
    }

    /// <summary>The nodes from which some captured input (node or leaf) can be reached.</summary>
    private static HashSet<Node> FindNeeded(List<Node> reachable, Dictionary<Node, List<int>> captureNodes, Dictionary<Tensor, List<int>> captureLeaves)
    {
        var needed = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        // Reverse adjacency: who feeds gradient into whom; propagate "needed" from the targets upwards.
        var consumers = new Dictionary<Node, List<Node>>(ReferenceEqualityComparer.Instance);
        var work = new Stack<Node>();
        foreach (var node in reachable)
        {
            bool direct = false;
            foreach (var edge in node.Inputs)
            {
                if (edge.Leaf is { } leaf && captureLeaves.ContainsKey(leaf)) direct = true;
                if (edge.Function is { } next)
                {
                    GetConsumers(consumers, next).Add(node);
                    if (captureNodes.ContainsKey(next)) direct = true;
                }
            }
            if (direct && needed.Add(node)) work.Push(node);
        }
        while (work.Count > 0)
        {
            var node = work.Pop();
            if (!consumers.TryGetValue(node, out var list)) continue;
            foreach (var c in list)
                if (needed.Add(c)) work.Push(c);
        }
        return needed;

        static List<Node> GetConsumers(Dictionary<Node, List<Node>> d, Node key)
        {
            if (!d.TryGetValue(key, out var list)) d[key] = list = [];
            return list;
        }
    }

    // A node all of whose consumers produced no gradient: nothing flows further down this branch.
    private static void ReleaseUnreached(Node node, Dictionary<Node, int> dependencies, bool retainGraph)
    {
        var stack = new Stack<Node>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!retainGraph) n.Release();
            foreach (var e in n.Inputs)
            {
                if (e.Function is not { } next || !dependencies.ContainsKey(next)) continue;
                int left = dependencies[next] - 1;
                dependencies[next] = left;
                if (left == 0) stack.Push(next);
            }
        }
    }

    // `owned` tracks references: a tensor handed to Accumulate/Deliver is no longer held by the caller.
    private static void Accumulate(Dictionary<Node, Tensor> pending, Node node, Tensor g, OwnedGradients? owned)
    {
        if (!pending.TryGetValue(node, out var existing))
        {
            pending[node] = g;
            owned?.Hold(g);
            return;
        }
        if (owned is not null && owned.IsExclusive(existing) && existing._isContiguous && !ReferenceEquals(existing._storage, g._storage))
        {
            // The engine created `existing` and nothing else sees it: sum in place instead of allocating.
            using (GradMode.Set(false)) existing.Add_(g);
            owned.DropIfUnused(g);
            return;
        }
        var sum = existing + g;
        pending[node] = sum;
        owned?.Hold(sum);
        owned?.Drop(existing);
        owned?.DropIfUnused(g);
    }

    private static void Deliver(Tensor leaf, Tensor g, Dictionary<Tensor, List<int>> captureLeaves, Tensor?[]? captured, bool accumulate, bool createGraph,
        OwnedGradients? owned)
    {
        if (owned is not null && accumulate && captured is null && leaf.Grad is null && owned.CanHandOver(g))
        {
            // A gradient the engine created and no one else references becomes the leaf's Grad without a copy.
            leaf.Grad = g.Detach();
            owned.Escape(g);
            return;
        }
        DeliverCore(leaf, g, captureLeaves, captured, accumulate, createGraph);
        owned?.DropIfUnused(g);
    }

    private static void DeliverCore(Tensor leaf, Tensor g, Dictionary<Tensor, List<int>> captureLeaves, Tensor?[]? captured, bool accumulate, bool createGraph)
    {
        if (captured is not null)
        {
            if (captureLeaves.TryGetValue(leaf, out var slots))
                foreach (int s in slots) captured[s] = captured[s] is { } prev ? prev + g : g;
            return;
        }
        if (!accumulate) return;
        if (leaf.Grad is null)
        {
            // A fresh copy: the incoming gradient may be shared with other edges.
            leaf.Grad = createGraph ? g.Clone() : g.Detach().Clone();
        }
        else if (createGraph || leaf.Grad.RequiresGrad)
        {
            leaf.Grad = leaf.Grad + g;
        }
        else
        {
            using (GradMode.Set(false)) leaf.Grad.Add_(g);
        }
    }

    private static List<int> GetList<K>(Dictionary<K, List<int>> d, K key) where K : notnull
    {
        if (!d.TryGetValue(key, out var list)) d[key] = list = [];
        return list;
    }

    /// <summary>
    /// Gradient storages a plain <c>Backward()</c> created itself (ids at or after <c>firstId</c>): the tensors
    /// the backward closures return and the sums the engine forms. The engine counts its own references to each
    /// (pending sums, gradients being routed); when a count drops to zero the storage can be referenced by
    /// nothing else — closures keep no gradients, and there are no hooks — so it goes back to the buffer pool.
    /// Storages that existed before the pass (forward activations, the user's gradient, saved tensors returned
    /// as gradients) and storages handed to a leaf's Grad are never released.
    /// </summary>
    private sealed class OwnedGradients(long firstId)
    {
        private readonly Dictionary<Storage, int> _refs = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Storage> _escaped = new(ReferenceEqualityComparer.Instance);

        private bool IsOurs(Tensor t) => t._storage.Id >= firstId && !_escaped.Contains(t._storage);

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

        /// <summary>True when t's storage is ours and held exactly once (by the caller).</summary>
        public bool IsExclusive(Tensor t) => IsOurs(t) && _refs.GetValueOrDefault(t._storage) == 1;

        /// <summary>True when g may become a leaf's Grad as is: ours, unreferenced, contiguous and covering its whole storage.</summary>
        public bool CanHandOver(Tensor g) => IsOurs(g) && !_refs.ContainsKey(g._storage) && g._isContiguous
            && g._offset == 0 && g.NumEl == g._storage.Length && !g.RequiresGrad;

        public void Escape(Tensor g) => _escaped.Add(g._storage);
    }
}
