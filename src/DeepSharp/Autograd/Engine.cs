using System.Diagnostics;

namespace DeepSharp;

/// <summary>
/// Reverse-mode execution of the graph (micrograd's <c>backward()</c>, iterative). It counts each node's
/// consumers, then runs nodes in topological order: a node runs once every gradient flowing into it has been
/// summed, and sends one gradient along each input edge. Depth is limited by memory, not by the call stack.
/// The other jobs live beside it: <see cref="GradientBuffers"/> (which gradient storages the engine may give
/// back), <see cref="GradCapture"/> (<c>Autograd.Grad</c>), <see cref="Profiled"/> (the timing hook).
/// </summary>
internal static class Engine
{
    /// <summary>Profiling hook (benchmarks only): called after each node's backward with its Stopwatch ticks.</summary>
    internal static Action<Node, long>? NodeTimer;
    [ThreadStatic] private static bool t_capturing;

    /// <summary>True while this thread runs an <c>Autograd.Grad</c> pass (a nested <c>Backward</c> clears it).</summary>
    internal static bool IsCapturing => t_capturing;

    private static readonly Node s_sumToShapeNode = new("(engine) SumToShape", [], _ => [], null);
    private static readonly Node s_deliverNode = new("(engine) Deliver to leaf", [], _ => [], null);

    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph, bool createGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward: the tensor does not require grad and has no GradFn (did you forget RequiresGrad, or run the forward under NoGrad?).");
        long firstOwned = Storage.NextId;
        gradient = InitialGradient(root, gradient, "Backward");
        var buffers = createGraph || Anomaly.IsEnabled ? GradientBuffers.None() : GradientBuffers.From(firstOwned);
        var hookPass = GradHookTracker.Enter();   // post-accumulate-grad hooks and queued callbacks (GradHooks.cs)
        try { Run([root], [gradient], capture: null, retainGraph, createGraph, buffers); }
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
        var capture = new GradCapture(inputs);
        Run(outputs, grads, capture, retainGraph, createGraph, GradientBuffers.None());
        var result = capture.Results;
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

    private static void Run(Tensor[] roots, Tensor[] rootGrads, GradCapture? capture, bool retainGraph, bool createGraph, GradientBuffers buffers)
    {
        using var mode = GradMode.Set(createGraph);
        bool wasCapturing = t_capturing;
        t_capturing = capture is not null;
        try { Walk(roots, rootGrads, capture, retainGraph, createGraph, buffers); }
        finally { t_capturing = wasCapturing; }
    }

    /// <summary>The walk: seed the roots, then run each node whose consumers have all run and pass its input
    /// gradients on (summed at nodes, delivered to leaves).</summary>
    private static void Walk(Tensor[] roots, Tensor[] rootGrads, GradCapture? capture, bool retainGraph, bool createGraph, GradientBuffers buffers)
    {
        var dependencies = CountDependencies(roots, capture);
        var hooks = capture is null ? GradHookTracker.Active : null;
        var pending = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance);   // gradients summed as they arrive

        for (int i = 0; i < roots.Length; i++)
        {
            if (roots[i]._gradFn is { } fn) Accumulate(pending, fn, rootGrads[i], buffers);
            else { DeliverToLeaf(roots[i], rootGrads[i], capture, createGraph, buffers); hooks?.Delivered(roots[i]); }
        }
        var ready = new Stack<Node>();
        foreach (var r in roots)
            if (r._gradFn is { } fn && Receives(capture, fn) && dependencies.GetValueOrDefault(fn) == 0 && !ready.Contains(fn)) ready.Push(fn);

        while (ready.TryPop(out var node))
        {
            pending.Remove(node, out var gradOut);
            capture?.TakeNodeGradient(node, gradOut!);
            if (capture is not null && !capture.MustRun(node)) continue;

            var inputGrads = Profiled(node, gradOut!);
            if (!retainGraph) node.Release(freePrivate: !createGraph);
            ReduceToInputShapes(node, inputGrads, capture, buffers);
            buffers.Drop(gradOut!);   // only now: an input gradient may be gradOut itself or a view of it

            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var edge = node.Inputs[i];
                var g = i < inputGrads.Length ? inputGrads[i] : null;
                if (edge.Function is { } next && Receives(capture, next))
                {
                    if (g is not null) { buffers.Drop(g, release: false); Accumulate(pending, next, g, buffers); }
                    if (--dependencies[next] > 0) continue;
                    if (pending.ContainsKey(next)) ready.Push(next);
                    else ReleaseUnreached(next, dependencies, retainGraph);
                }
                else if (edge.Leaf is { } leaf && g is not null)
                {
                    buffers.Drop(g, release: false);
                    long t0 = Now();
                    DeliverToLeaf(leaf, g, capture, createGraph, buffers);
                    NodeTimer?.Invoke(s_deliverNode, Stopwatch.GetTimestamp() - t0);
                }
                if (edge.Leaf is { } hooked) hooks?.Delivered(hooked);
            }
        }
    }

    private static long Now() => NodeTimer is null ? 0 : Stopwatch.GetTimestamp();

    private static bool Receives(GradCapture? capture, Node node) => capture is null || capture.Receives(node);

    /// <summary>How many kept edges point at each node reachable from the roots (for <c>Autograd.Grad</c>, only the
    /// nodes it needs).</summary>
    private static Dictionary<Node, int> CountDependencies(Tensor[] roots, GradCapture? capture)
    {
        var reachable = new List<Node>();
        var stack = new Stack<Node>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        foreach (var r in roots)
            if (r._gradFn is { } fn && seen.Add(fn)) { stack.Push(fn); reachable.Add(fn); }
        while (stack.TryPop(out var node))
            foreach (var edge in node.Inputs)
                if (edge.Function is { } next && seen.Add(next)) { stack.Push(next); reachable.Add(next); }
        capture?.Prune(reachable);
        if (capture is null) GradHookTracker.Track(reachable, roots);

        var dependencies = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var node in reachable)
        {
            if (capture is not null && !capture.MustRun(node)) continue;
            foreach (var edge in node.Inputs)
                if (edge.Function is { } next && Receives(capture, next))
                    dependencies[next] = dependencies.GetValueOrDefault(next) + 1;
        }
        return dependencies;
    }

    /// <summary><c>node.Apply</c> with the profiling hook and anomaly checks around it.</summary>
    private static Tensor?[] Profiled(Node node, Tensor gradOut)
    {
        long t0 = Now();
        var inputGrads = node.Apply(gradOut);
        NodeTimer?.Invoke(node, Stopwatch.GetTimestamp() - t0);
        if (Anomaly.IsEnabled) Anomaly.CheckBackward(node, inputGrads);
        return inputGrads;
    }

    /// <summary>Sums each broadcast input gradient back to its input's shape, casts it to its input's floating dtype
    /// (an op that promoted Float32 with Float64 computes its gradients in Float64; the Float32 input gets a Float32
    /// gradient, as PyTorch's engine does), drops the gradients no edge takes, and holds a reference to each kept one.</summary>
    private static void ReduceToInputShapes(Node node, Tensor?[] inputGrads, GradCapture? capture, GradientBuffers buffers)
    {
        for (int i = 0; i < node.Inputs.Length && i < inputGrads.Length; i++)
        {
            var g = inputGrads[i];
            if (g is null) continue;
            var edge = node.Inputs[i];
            if (!edge.IsLive || (edge.Function is { } fn && !Receives(capture, fn))) { inputGrads[i] = null; continue; }
            if (!ShapeUtil.SameShape(g._shape, edge.Shape))
            {
                long t0 = Now();
                var reduced = g.SumToShape(edge.Shape);
                NodeTimer?.Invoke(s_sumToShapeNode, Stopwatch.GetTimestamp() - t0);
                buffers.DropIfUnused(g);
                inputGrads[i] = g = reduced;
            }
            if (g.DType != edge.DType && g.DType.IsFloatingPoint() && edge.DType.IsFloatingPoint())
            {
                var cast = g.To(edge.DType);
                if (!SharedWithAnother(inputGrads, i)) buffers.DropIfUnused(g);
                inputGrads[i] = g = cast;
            }
            buffers.Hold(g);
        }
    }

    // True when another input's gradient is the same storage (AddBackward returns [g, g]).
    private static bool SharedWithAnother(Tensor?[] grads, int i)
    {
        for (int j = 0; j < grads.Length; j++)
            if (j != i && grads[j] is { } o && ReferenceEquals(o._storage, grads[i]!._storage)) return true;
        return false;
    }

    // A node all of whose consumers produced no gradient: nothing flows further down this branch.
    private static void ReleaseUnreached(Node node, Dictionary<Node, int> dependencies, bool retainGraph)
    {
        var stack = new Stack<Node>();
        stack.Push(node);
        while (stack.TryPop(out var n))
        {
            if (!retainGraph) n.Release(freePrivate: true);
            foreach (var e in n.Inputs)
            {
                if (e.Function is not { } next || !dependencies.ContainsKey(next)) continue;
                if (--dependencies[next] == 0) stack.Push(next);
            }
        }
    }

    // A tensor handed to Accumulate or DeliverToLeaf is no longer held by the caller.
    private static void Accumulate(Dictionary<Node, Tensor> pending, Node node, Tensor g, GradientBuffers buffers)
    {
        if (pending.TryGetValue(node, out var existing)) { pending[node] = buffers.Add(existing, g); return; }
        pending[node] = g;
        buffers.Hold(g);
    }

    private static void DeliverToLeaf(Tensor leaf, Tensor g, GradCapture? capture, bool createGraph, GradientBuffers buffers)
    {
        if (capture is not null) { capture.TakeLeafGradient(leaf, g); return; }
        if (buffers.TryHandOver(leaf, g)) return;
        if (leaf.Grad is null)
            leaf.Grad = createGraph ? g.Clone() : g.Detach().Clone();   // a copy: g may be shared with other edges
        else if (createGraph || leaf.Grad.RequiresGrad)
            leaf.Grad = leaf.Grad + g;
        else
            using (GradMode.Set(false)) leaf.Grad.Add_(g);
        buffers.DropIfUnused(g);
    }
}
