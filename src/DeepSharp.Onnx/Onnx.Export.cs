
using DeepSharp.Interop;
using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>
/// ONNX export and import: <see cref="Export(Module{Tensor, Tensor}, Tensor, string, int, IReadOnlyDictionary{string, int[]}?, string, string)"/>
/// traces a module's forward on a sample input and writes an ONNX model that ONNX Runtime runs;
/// <see cref="Load(string)"/> builds a runnable, trainable DeepSharp module from an ONNX file.
/// </summary>
public static partial class Onnx
{
    /// <summary>The ONNX op set the exporter writes.</summary>
    public const int DefaultOpset = 17;

    /// <summary>
    /// Traces <paramref name="module"/>'s forward (in eval mode) on <paramref name="sampleInput"/> and writes the ops
    /// it ran as an ONNX model to <paramref name="path"/> (PyTorch's <c>torch.onnx.export</c>). Parameters and
    /// buffers become initializers named as in <see cref="Module.StateDict"/>. By default dim 0 of the input (the
    /// batch) is dynamic; <paramref name="dynamicAxes"/> maps the input name to its dynamic axes instead (an empty
    /// map: all shapes fixed). The module's training mode is restored afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">The forward fails on the sample input, or an axis is out of range.</exception>
    /// <exception cref="NotSupportedException">The forward runs an op that cannot be exported (the message names the op
    /// and the module), or a BatchNorm runs in training mode.</exception>
    public static void Export(Module<Tensor, Tensor> module, Tensor sampleInput, string path, int opset = DefaultOpset,
        IReadOnlyDictionary<string, int[]>? dynamicAxes = null, string inputName = "input", string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(sampleInput);
        Export(module, xs => [module.Forward(xs[0])], [sampleInput], path, opset, dynamicAxes, [inputName], [outputName]);
    }

    /// <summary>
    /// Exports a forward with several inputs and outputs: <paramref name="forward"/> is called with copies of
    /// <paramref name="sampleInputs"/> and may use any modules below <paramref name="module"/> (whose state provides
    /// the initializers). Inputs are named <paramref name="inputNames"/> (default <c>input</c>, <c>input1</c>, …),
    /// outputs <paramref name="outputNames"/> (default <c>output</c>, <c>output1</c>, …); by default dim 0 of every
    /// input is dynamic.
    /// </summary>
    public static void Export(Module module, Func<Tensor[], Tensor[]> forward, Tensor[] sampleInputs, string path, int opset = DefaultOpset,
        IReadOnlyDictionary<string, int[]>? dynamicAxes = null, string[]? inputNames = null, string[]? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var model = BuildModel(module, forward, sampleInputs, opset, dynamicAxes, inputNames, outputNames);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, model.ToBytes());
    }

    internal static OnnxModel BuildModel(Module module, Func<Tensor[], Tensor[]> forward, Tensor[] sampleInputs, int opset,
        IReadOnlyDictionary<string, int[]>? dynamicAxes, string[]? inputNames, string[]? outputNames)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(sampleInputs);
        if (opset != DefaultOpset)
            throw new ArgumentException($"Onnx.Export: only opset {DefaultOpset} is supported, got opset {opset}.");
        if (sampleInputs.Length == 0) throw new ArgumentException("Onnx.Export: at least one sample input is required.");
        inputNames ??= [.. sampleInputs.Select((_, i) => i == 0 ? "input" : $"input{i}")];
        if (inputNames.Length != sampleInputs.Length)
            throw new ArgumentException($"Onnx.Export: {inputNames.Length} input names for {sampleInputs.Length} sample inputs.");
        var axes = new List<int>[sampleInputs.Length];
        for (int i = 0; i < sampleInputs.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(sampleInputs[i]);
            axes[i] = dynamicAxes is null ? (sampleInputs[i].Dim > 0 ? [0] : [])
                : dynamicAxes.TryGetValue(inputNames[i], out var a) ? [.. a] : [];
            foreach (int ax in axes[i])
                if (ax < 0 || ax >= sampleInputs[i].Dim)
                    throw new ArgumentException($"Onnx.Export: dynamic axis {ax} of input '{inputNames[i]}' is out of range for its sample shape [{string.Join(", ", sampleInputs[i].Shape)}].");
        }
        if (dynamicAxes is not null)
            foreach (var key in dynamicAxes.Keys)
                if (!inputNames.Contains(key) && !(outputNames ?? ["output"]).Contains(key))
                    throw new ArgumentException($"Onnx.Export: dynamicAxes names '{key}', which is neither an input ({string.Join(", ", inputNames)}) nor an output.");

        var modes = module.Modules().Select(m => (m, m.IsTraining)).ToList();
        module.Eval();
        try
        {
            var first = RunTrace(module, forward, sampleInputs);
            // A second trace with every dynamic axis one longer tells which recorded sizes follow the batch; its values
            // are moved by one place, so that a tensor computed from the input by an op that does not report (which
            // would otherwise look like a constant) differs between the traces and is caught.
            var other = sampleInputs.Select((s, i) =>
            {
                using var _ = GradMode.Set(false);
                var t = s.Detach();
                foreach (int ax in axes[i]) t = Tensor.Cat([t, t.Narrow(ax, 0, 1)], ax);
                if (t.NumEl < 2) return t;
                var flat = t.Reshape(-1);
                return Tensor.Cat([flat.Narrow(0, 1, t.NumEl - 1), flat.Narrow(0, 0, 1)], 0).Reshape(t.Shape);
            }).ToArray();
            var second = RunTrace(module, forward, other);
            var builder = new GraphBuilder(module, first, second, dynamic: axes.Any(a => a.Count > 0));
            return builder.Build(inputNames, outputNames, axes);
        }
        finally
        {
            // Pre-order: a module's own call comes after its ancestors', so each ends with its saved mode.
            foreach (var (m, training) in modes) m.Train(training);
        }
    }

    internal sealed record TraceResult(Tracer Tracer, Tensor[] Inputs, Tensor[] Outputs, HashSet<Tensor> Known);

    private static TraceResult RunTrace(Module module, Func<Tensor[], Tensor[]> forward, Tensor[] samples)
    {
        Tensor[] inputs;
        using (GradMode.Set(false)) inputs = [.. samples.Select(s => s.Detach().Clone())];
        foreach (var x in inputs) if (x.DType is DType.Float32 or DType.Float64) x.RequiresGrad = true;
        var known = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (_, t) in module.NamedParameters()) known.Add(t);
        foreach (var (_, t) in module.NamedBuffers()) known.Add(t);
        foreach (var x in inputs) known.Add(x);
        var tracer = new Tracer(module, known);
        Tensor[] outputs;
        try
        {
            using (GradMode.Set(true))
            using (Tracing.Begin(tracer))
                outputs = forward(inputs);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            var shapes = string.Join(", ", samples.Select(s => $"[{string.Join(", ", s.Shape)}] {s.DType}"));
            throw new ArgumentException($"Onnx.Export: the forward of {module.GetType().Name} failed on the sample input(s) {shapes}: {e.Message}", e);
        }
        if (outputs is null || outputs.Length == 0 || outputs.Any(o => o is null))
            throw new ArgumentException("Onnx.Export: the forward returned no output tensor.");
        return new TraceResult(tracer, inputs, outputs, known);
    }
}
