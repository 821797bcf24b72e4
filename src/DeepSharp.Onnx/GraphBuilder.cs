using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>Turns a trace into an ONNX graph: walks back from the outputs (ops whose results are not used, such as the
/// parts of a composite op recorded as a whole, drop out) and converts each op.</summary>
internal sealed partial class GraphBuilder
{
    private readonly Module _module;
    private readonly Onnx.TraceResult _t1;
    private readonly Onnx.TraceResult _t2;
    private readonly bool _dynamic;
    private readonly OnnxGraph _graph = new() { Name = "main_graph" };
    private readonly Dictionary<Tensor, string> _names = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, string> _stateNames = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _usedNames = [];
    private int _counter;

    public GraphBuilder(Module module, Onnx.TraceResult first, Onnx.TraceResult second, bool dynamic)
    {
        _module = module;
        _t1 = first;
        _t2 = second;
        _dynamic = dynamic;
        foreach (var (name, t) in module.StateDictTensors()) _stateNames.TryAdd(t, name);
    }

    public OnnxModel Build(string[] inputNames, string[]? outputNames, List<int>[] axes)
    {
        for (int i = 0; i < _t1.Inputs.Length; i++)
        {
            var x = _t1.Inputs[i];
            _names[x] = inputNames[i];
            _usedNames.Add(inputNames[i]);
            var info = new OnnxValueInfo { Name = inputNames[i], ElemType = OnnxType.Of(x.DType) };
            for (int d = 0; d < x.Dim; d++)
                info.Dims.Add(axes[i].Contains(d) ? (0, d == 0 ? "batch" : $"{inputNames[i]}_dim{d}") : (x.Shape[d], null));
            _graph.Inputs.Add(info);
        }
        outputNames ??= [.. _t1.Outputs.Select((_, i) => i == 0 ? "output" : $"output{i}")];
        if (outputNames.Length != _t1.Outputs.Length)
            throw new ArgumentException($"Onnx.Export: {outputNames.Length} output names for {_t1.Outputs.Length} outputs.");
        for (int i = 0; i < _t1.Outputs.Length; i++)
        {
            var y = _t1.Outputs[i];
            var name = Resolve(y, "the module's output", _t2.Outputs.ElementAtOrDefault(i));
            // Graph outputs carry their own names: rename the producing value when it is an op result.
            if (_graph.Nodes.Any(n => n.Outputs.Contains(name)) && !_graph.Outputs.Any(o => o.Name == name) && !_graph.Inputs.Any(v => v.Name == name))
                Rename(name, outputNames[i]);
            else Node("Identity", [name], outputNames[i]);
            var y2 = _dynamic ? _t2.Outputs.ElementAtOrDefault(i) : null;
            var info = new OnnxValueInfo { Name = outputNames[i], ElemType = OnnxType.Of(y.DType) };
            for (int d = 0; d < y.Dim; d++)
                info.Dims.Add(y2 is not null && y2.Dim == y.Dim && y2.Shape[d] != y.Shape[d] ? (0, d == 0 ? "batch" : $"{outputNames[i]}_dim{d}") : (y.Shape[d], null));
            _graph.Outputs.Add(info);
        }
        return new OnnxModel
        {
            Opsets = [("", Onnx.DefaultOpset)],
            ProducerVersion = typeof(Tensor).Assembly.GetName().Version?.ToString() ?? "",
            Graph = _graph,
        };
    }

    private void Rename(string from, string to)
    {
        foreach (var n in _graph.Nodes)
        {
            for (int i = 0; i < n.Outputs.Count; i++) if (n.Outputs[i] == from) n.Outputs[i] = to;
            for (int i = 0; i < n.Inputs.Count; i++) if (n.Inputs[i] == from) n.Inputs[i] = to;
        }
        foreach (var (t, name) in _names.ToList()) if (name == from) _names[t] = to;
    }

    /// <summary>The ONNX value name of <paramref name="t"/>, emitting its producer (and, recursively, what that needs).</summary>
    private string Resolve(Tensor t, string consumer, Tensor? twin)
    {
        if (_names.TryGetValue(t, out var known)) return known;
        if (_stateNames.TryGetValue(t, out var stateName))
        {
            _graph.Initializers.Add(OnnxTensor.From(stateName, t));
            _usedNames.Add(stateName);
            return _names[t] = stateName;
        }
        if (_t1.Tracer.Producer.TryGetValue(t, out var node))
        {
            if (t.Version != node.OutputVersion)
                throw new NotSupportedException($"Onnx.Export: the result of {node.Op} was modified in place afterwards (an in-place op such as Add_ or Relu_ in {_t1.Tracer.UnknownOrigins.GetValueOrDefault(t, "the forward")}); in-place ops cannot be exported, use the out-of-place form.");
            var twinNode = _t2.Tracer.Nodes.ElementAtOrDefault(node.Index);
            if (twinNode is null || twinNode.Op != node.Op)
                throw new NotSupportedException($"Onnx.Export: the forward runs different ops for different batch sizes (op #{node.Index} is {node.Op} for the sample, {twinNode?.Op ?? "missing"} for a batch one larger); data-dependent control flow cannot be exported.");
            if (node.Op == "Identity" && node.Inputs[0] is { } source) return _names[t] = Resolve(source, node.Op, twinNode.Inputs[0]);
            var inputs = new string?[node.Inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
                if (node.Inputs[i] is { } input)
                    inputs[i] = BroadcastScalar(node, i, twinNode) ?? Resolve(input, node.Op, twinNode.Inputs.ElementAtOrDefault(i));
            var output = Fresh(node.Op);
            _names[t] = output;
            Convert(node, _dynamic ? twinNode : null, inputs, output);
            return output;
        }
        if (t.GradFn is { } fn)
        {
            var op = fn.Name.EndsWith("Backward", StringComparison.Ordinal) ? fn.Name[..^"Backward".Length] : fn.Name;
            var where = _t1.Tracer.UnknownOrigins.TryGetValue(t, out var w) ? $"module {w}" : consumer;
            throw new NotSupportedException($"Onnx.Export: op '{op}' (used by {consumer}, in {where}) cannot be exported to ONNX: DeepSharp.Onnx does not support it. Supported: {SupportedOps}.");
        }
        // A tensor made inside the forward without the input: a constant, unless its size follows the batch or its
        // values follow the input (computed by an op the trace does not see, e.g. under NoGrad).
        if (twin is not null && !twin.Shape.SequenceEqual(t.Shape))
            throw new NotSupportedException($"Onnx.Export: a tensor of shape [{string.Join(", ", t.Shape)}] used by {consumer} is created inside the forward with a size that depends on the batch size; it cannot be a constant of the ONNX graph.");
        if (twin is not null && !SameValues(t, twin))
            throw new NotSupportedException($"Onnx.Export: a tensor of shape [{string.Join(", ", t.Shape)}] used by {consumer} is computed from the input by an op that cannot be exported (one that does not report to the tracer, or runs under NoGrad on the input's data); the ONNX graph would hold it as a constant.");
        var constName = Fresh("const");
        _graph.Initializers.Add(OnnxTensor.From(constName, t));
        return _names[t] = constName;
    }

    private static bool SameValues(Tensor a, Tensor b)
    {
        using var _ = GradMode.Set(false);
        var x = a.Detach().Contiguous().To(DType.Float64).ToArray<double>();
        var y = b.Detach().Contiguous().To(DType.Float64).ToArray<double>();
        for (int i = 0; i < x.Length; i++)
            if (!(x[i] == y[i] || (double.IsNaN(x[i]) && double.IsNaN(y[i])))) return false;
        return true;
    }

    private static readonly HashSet<string> Broadcasting = ["Where", "AddOp", "SubOp", "MulOp", "DivOp", "MaximumOp", "MinimumOp"];

    /// <summary>A constant made inside the forward whose size follows the batch but whose elements are all equal (e.g.
    /// the zeros that MultiheadAttention fills from a padding mask) is written as a scalar when the op's other inputs
    /// alone give the output's shape (broadcasting does the rest); null otherwise.</summary>
    private string? BroadcastScalar(TraceNode node, int slot, TraceNode twinNode)
    {
        var t = node.Inputs[slot]!;
        var twin = twinNode.Inputs.ElementAtOrDefault(slot);
        if (!Broadcasting.Contains(node.Op) || twin is null || twin.Shape.SequenceEqual(t.Shape) || t.GradFn is not null
            || _names.ContainsKey(t) || _stateNames.ContainsKey(t) || _t1.Tracer.Producer.ContainsKey(t) || t.NumEl == 0) return null;
        int[] others = [];
        for (int i = 0; i < node.Inputs.Length; i++)
            if (i != slot && node.Inputs[i] is { } o) others = Broadcast(others, o.Shape);
        if (!others.SequenceEqual(node.Output.Shape)) return null;
        double[] values;
        using (GradMode.Set(false)) values = [.. t.Detach().Contiguous().To(DType.Float64).ToArray<double>(), .. twin.Detach().Contiguous().To(DType.Float64).ToArray<double>()];
        if (values.Any(v => !v.Equals(values[0]))) return null;
        return ConstScalar(values[0], t.DType);
    }

    private static int[] Broadcast(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1, y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            r[i] = x == 1 ? y : x;
        }
        return r;
    }

    private string Fresh(string hint)
    {
        string name;
        do name = $"/{hint}_{_counter++}"; while (!_usedNames.Add(name));
        return name;
    }

    private string Node(string opType, string?[] inputs, string? output = null, params OnnxAttribute[] attributes)
    {
        output ??= Fresh(opType);
        var trimmed = inputs.ToList();
        while (trimmed.Count > 0 && trimmed[^1] is null) trimmed.RemoveAt(trimmed.Count - 1);
        _graph.Nodes.Add(new OnnxNode
        {
            OpType = opType,
            Name = $"{opType}_{_graph.Nodes.Count}",
            Inputs = [.. trimmed.Select(i => i ?? "")],
            Outputs = [output],
            Attributes = [.. attributes],
        });
        return output;
    }

    private string Const(Tensor t)
    {
        var name = Fresh("const");
        _graph.Initializers.Add(OnnxTensor.From(name, t));
        return name;
    }

    private string ConstInts(params long[] values) => Const(Tensor.FromArray(values, values.Length));

    private string ConstScalar(double value, DType dtype)
    {
        using var _ = GradMode.Set(false);
        return Const(Tensor.Scalar(value, dtype));
    }
}

internal static class ModuleStateExtensions
{
    /// <summary>Every parameter and buffer (persistent or not) with its state-dict name, by the module's own tensors.</summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> StateDictTensors(this Module module) =>
        module.NamedParameters().Concat(module.NamedBuffers());
}
