using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>
/// An ONNX graph loaded as a DeepSharp module (<see cref="Onnx.Load(string)"/>): <see cref="Forward"/> runs the graph's
/// ops with DeepSharp's differentiable ops, so the model can be evaluated, fine-tuned and saved like any module. Its
/// state dict uses the ONNX initializer names (PyTorch's state-dict names for files exported by PyTorch or DeepSharp).
/// </summary>
public sealed partial class OnnxModule : Module<Tensor, Tensor>
{
    private readonly OnnxGraph _graph;
    private readonly Dictionary<string, Func<Tensor>> _state = new(StringComparer.Ordinal);

    /// <summary>A module that holds part of the loaded state (one level of a dotted initializer name).</summary>
    private sealed class StateHolder : Module
    {
        public Module Owner(string name) => GetChild(name) ?? RegisterModule(name, new StateHolder());
        public bool Has(string name) => GetChild(name) is not null || GetParameter(name) is not null || GetBuffer(name) is not null;
        public void Add(string name, Tensor t, bool parameter)
        {
            if (parameter) RegisterParameter(name, t);
            else RegisterBuffer(name, t);
        }
        public Tensor Get(string name) => GetParameter(name) ?? GetBuffer(name)!;
    }

    internal OnnxModule(OnnxGraph graph)
    {
        _graph = graph;
        var initializerNames = graph.Initializers.Select(i => i.Name).ToHashSet();
        InputNames = [.. graph.Inputs.Select(i => i.Name).Where(n => !initializerNames.Contains(n))];
        OutputNames = [.. graph.Outputs.Select(o => o.Name)];
        // Running statistics (BatchNormalization's mean and variance) are buffers; other float initializers parameters.
        var statistics = graph.Nodes.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Inputs.Skip(3).Take(2)).ToHashSet();
        foreach (var init in graph.Initializers)
        {
            var t = init.ToTensor();
            bool parameter = t.DType is DType.Float32 or DType.Float64 && !statistics.Contains(init.Name);
            _state[init.Name] = Register(init.Name, t, parameter);
        }
    }

    /// <summary>The names of the graph's inputs, in order (initializers listed as inputs are left out).</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The names of the graph's outputs, in order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Registers an initializer under its dotted name (children for the dots) and returns how to read it back
    /// (through the registry, so <see cref="Module.To(DType)"/> and <see cref="Module.LoadStateDict"/> are seen).</summary>
    private Func<Tensor> Register(string name, Tensor t, bool parameter)
    {
        var parts = name.Split('.');
        if (parts.Any(p => p.Length == 0)) parts = [name.Replace('.', '_')];
        Module owner = this;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (owner is OnnxModule root)
            {
                if (root.GetParameter(parts[i]) is not null || root.GetBuffer(parts[i]) is not null) return Register(name.Replace('.', '_'), t, parameter);
                owner = root.GetChild(parts[i]) ?? root.RegisterModule(parts[i], new StateHolder());
            }
            else owner = ((StateHolder)owner).Owner(parts[i]);
        }
        var leaf = parts[^1];
        if (owner is OnnxModule self)
        {
            if (self.GetChild(leaf) is not null) return Register(name.Replace('.', '_') + "_", t, parameter);
            if (parameter) self.RegisterParameter(leaf, t); else self.RegisterBuffer(leaf, t);
            return () => self.GetParameter(leaf) ?? self.GetBuffer(leaf)!;
        }
        var holder = (StateHolder)owner;
        if (holder.Has(leaf)) return Register(name.Replace('.', '_'), t, parameter);
        holder.Add(leaf, t, parameter);
        return () => holder.Get(leaf);
    }

    /// <summary>Runs the graph on its one input and returns its first output.</summary>
    public override Tensor Forward(Tensor input)
    {
        if (InputNames.Count != 1)
            throw new ArgumentException($"OnnxModule.Forward: the graph has {InputNames.Count} inputs ({string.Join(", ", InputNames)}); use Run with one tensor per input.");
        return Run(input)[0];
    }

    /// <summary>Runs the graph on <paramref name="inputs"/> (in <see cref="InputNames"/> order); returns the outputs in
    /// <see cref="OutputNames"/> order.</summary>
    public Tensor[] Run(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length != InputNames.Count)
            throw new ArgumentException($"OnnxModule.Run: expected {InputNames.Count} inputs ({string.Join(", ", InputNames)}), got {inputs.Length}.");
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, get) in _state) values[name] = get();
        for (int i = 0; i < inputs.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(inputs[i]);
            CheckInput(InputNames[i], inputs[i]);
            values[InputNames[i]] = inputs[i];
        }
        foreach (var node in _graph.Nodes)
        {
            var ins = node.Inputs.Select(n => n.Length == 0 ? null : values.TryGetValue(n, out var v) ? v
                : throw new InvalidDataException($"OnnxModule: node {node.Name} ({node.OpType}) reads '{n}', which no earlier node produces.")).ToArray();
            Tensor[] outs;
            try { outs = Interpreter.Run(node, ins, IsTraining); }
            catch (ArgumentException e) { throw new ArgumentException($"OnnxModule: node {node.Name} ({node.OpType}) failed: {e.Message}", e); }
            for (int i = 0; i < Math.Min(outs.Length, node.Outputs.Count); i++)
                if (node.Outputs[i].Length > 0) values[node.Outputs[i]] = outs[i];
        }
        return [.. OutputNames.Select(n => values[n])];
    }

    private void CheckInput(string name, Tensor x)
    {
        var info = _graph.Inputs.First(i => i.Name == name);
        bool ok = info.Dims.Count == x.Dim;
        for (int d = 0; ok && d < x.Dim; d++) ok = info.Dims[d].Param is not null || info.Dims[d].Value < 0 || info.Dims[d].Value == x.Shape[d];
        if (!ok)
            throw new ArgumentException($"OnnxModule: input '{name}' must have shape [{string.Join(", ", info.Dims.Select(d => d.Param ?? d.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)))}], got [{string.Join(", ", x.Shape)}].");
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"inputs=[{string.Join(", ", InputNames)}], outputs=[{string.Join(", ", OutputNames)}], nodes={_graph.Nodes.Count}";
}
