using System.Diagnostics;
using DeepSharp.Interop;
using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>One op recorded during a traced forward.</summary>
internal sealed class TraceNode(int index, string op, Tensor output, Tensor?[] inputs, object?[] attributes, StackTrace stack)
{
    public StackTrace Stack { get; } = stack;
    public int Index { get; } = index;
    public string Op { get; } = op;
    public Tensor Output { get; } = output;
    public int OutputVersion { get; } = output.Version;
    public Tensor?[] Inputs { get; } = inputs;
    public object?[] Attributes { get; } = attributes;
}

/// <summary>Records the ops of one forward (installed with <see cref="Tracing.Begin"/>); the last op that produced a
/// tensor owns it, so a composite op (recorded after its parts) replaces them.</summary>
internal sealed class Tracer(Module root, HashSet<Tensor> known) : ITraceRecorder
{
    public List<TraceNode> Nodes { get; } = [];
    public Dictionary<Tensor, TraceNode> Producer { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Where a tensor of unknown origin (an op that does not report) was first consumed: op and module path.</summary>
    public Dictionary<Tensor, string> UnknownOrigins { get; } = new(ReferenceEqualityComparer.Instance);

    public void Record(string op, Tensor output, Tensor?[] inputs, params object?[] attributes)
    {
        var stack = new StackTrace(1, false);
        foreach (var t in inputs)
            if (t is not null && t.GradFn is not null && !Producer.ContainsKey(t) && !known.Contains(t) && !UnknownOrigins.ContainsKey(t))
                UnknownOrigins[t] = ModulePath(root, stack);
        var node = new TraceNode(Nodes.Count, op, output, inputs, attributes, stack);
        Nodes.Add(node);
        Producer[output] = node;
    }

    /// <summary>The module whose Forward is running (from the call stack): its path in the tree when it is the only
    /// module of its type, else the chain of module types.</summary>
    internal static string ModulePath(Module root, StackTrace stack)
    {
        var types = new List<Type>();
        foreach (var frame in stack.GetFrames())
        {
            var m = frame.GetMethod();
            if (m?.Name == "Forward" && m.DeclaringType is { } t && typeof(Module).IsAssignableFrom(t) && (types.Count == 0 || types[^1] != t))
                types.Add(t);
        }
        if (types.Count == 0) return $"'' ({root.GetType().Name})";
        var inner = types[0];
        var matches = root.NamedModules().Where(m => m.Value.GetType() == inner).ToList();
        if (matches.Count == 1) return $"'{matches[0].Key}' ({inner.Name})";
        types.Reverse();
        return string.Join(" > ", types.Select(t => t.Name));
    }
}
