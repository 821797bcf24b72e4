using DeepSharp.NN;

namespace DeepSharp.Onnx;

public static partial class Onnx
{
    /// <summary>
    /// Loads an ONNX model (written by <see cref="Export(Module{Tensor, Tensor}, Tensor, string, int, IReadOnlyDictionary{string, int[]}?, string, string)"/>
    /// or by PyTorch's <c>torch.onnx.export</c>, op set ≤ 17) as a DeepSharp module that runs the graph with DeepSharp's
    /// differentiable ops. Floating-point initializers become parameters (trainable: fine-tune with any optimizer) under
    /// their ONNX names (<c>fc1.weight</c> → child <c>fc1</c>, parameter <c>weight</c>), running statistics become buffers.
    /// </summary>
    /// <exception cref="NotSupportedException">The graph uses an op (or attribute) DeepSharp.Onnx cannot run; the message
    /// names it and the node.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model.</exception>
    public static OnnxModule Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Onnx.Load: no file at '{path}'.", path);
        return Load(File.ReadAllBytes(path));
    }

    /// <summary>Loads an ONNX model from its serialized bytes (see <see cref="Load(string)"/>).</summary>
    public static OnnxModule Load(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var m = OnnxModel.Parse(model);
        foreach (var (domain, version) in m.Opsets)
            if ((domain is "" or "ai.onnx") && version > DefaultOpset)
                throw new NotSupportedException($"Onnx.Load: the model uses op set {version}; DeepSharp.Onnx loads op sets up to {DefaultOpset}.");
        return new OnnxModule(m.Graph);
    }
}
