namespace DeepSharp;

/// <summary>
/// What <c>Autograd.Grad</c> asked for: the gradients of some inputs (nodes or leaves), returned instead of
/// accumulated into <c>Grad</c>. It also prunes the walk: only nodes from which a requested input can be reached
/// run (nothing below the inputs runs). A requested non-leaf input's own node only receives its gradient; it runs
/// only if another requested input lies below it.
/// </summary>
internal sealed class GradCapture
{
    private readonly Dictionary<Node, List<int>> _nodes = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, List<int>> _leaves = new(ReferenceEqualityComparer.Instance);
    private HashSet<Node> _needed = new(ReferenceEqualityComparer.Instance);

    public GradCapture(Tensor[] inputs)
    {
        Results = new Tensor?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            if (t._gradFn is not null) SlotsOf(_nodes, t._gradFn).Add(i);
            else SlotsOf(_leaves, t).Add(i);
        }
    }

    /// <summary>The gradient of each requested input (null where none arrived).</summary>
    public Tensor?[] Results { get; }

    /// <summary>True when <paramref name="node"/>'s backward must run.</summary>
    public bool MustRun(Node node) => _needed.Contains(node);

    /// <summary>True when <paramref name="node"/> is sent gradients (it runs, or it is a requested input).</summary>
    public bool Receives(Node node) => _needed.Contains(node) || _nodes.ContainsKey(node);

    /// <summary>The summed gradient of a node, when it is a requested input.</summary>
    public void TakeNodeGradient(Node node, Tensor g)
    {
        if (_nodes.TryGetValue(node, out var slots))
            foreach (int s in slots) Results[s] = g;
    }

    /// <summary>A gradient arriving at a leaf, when it is a requested input.</summary>
    public void TakeLeafGradient(Tensor leaf, Tensor g)
    {
        if (_leaves.TryGetValue(leaf, out var slots))
            foreach (int s in slots) Results[s] = Results[s] is { } prev ? prev + g : g;
    }

    /// <summary>Keeps the nodes from which some requested input (node or leaf) can be reached.</summary>
    public void Prune(List<Node> reachable)
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
                if (edge.Leaf is { } leaf && _leaves.ContainsKey(leaf)) direct = true;
                if (edge.Function is { } next)
                {
                    if (!consumers.TryGetValue(next, out var list)) consumers[next] = list = [];
                    list.Add(node);
                    if (_nodes.ContainsKey(next)) direct = true;
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
        _needed = needed;
    }

    private static List<int> SlotsOf<K>(Dictionary<K, List<int>> d, K key) where K : notnull
    {
        if (!d.TryGetValue(key, out var list)) d[key] = list = [];
        return list;
    }
}
