using DeepSharp.IO;
using DeepSharp.NN;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>Reads the PyTorch reference files written by docs/transformer_reference.py.</summary>
internal static class TransformerTestUtil
{
    public static string DataDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests/DeepSharp.Tests/NN/Transformer/data");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/DeepSharp.Tests/NN/Transformer/data not found above the test directory.");
    }

    /// <summary>The tensors of one reference case, split into the state dict (PyTorch names) and the rest.</summary>
    public sealed record Case(Dictionary<string, Tensor> State, Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor> Outputs,
        Dictionary<string, Tensor> Grads, Dictionary<string, string> Metadata);

    public static Case Load(string name)
    {
        var (tensors, meta) = SafeTensors.LoadWithMetadata(Path.Combine(DataDir(), name + ".safetensors"));
        Dictionary<string, Tensor> state = [], inputs = [], outputs = [], grads = [];
        foreach (var (key, t) in tensors)
        {
            if (key.StartsWith("input.", StringComparison.Ordinal)) inputs[key["input.".Length..]] = t;
            else if (key.StartsWith("output.", StringComparison.Ordinal)) outputs[key["output.".Length..]] = t;
            else if (key.StartsWith("grad.", StringComparison.Ordinal)) grads[key["grad.".Length..]] = t;
            else state[key] = t;
        }
        return new Case(state, inputs, outputs, grads, meta);
    }

    /// <summary>max |a − b| over all elements (shapes must match).</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.That(a.Shape, Is.EqualTo(b.Shape), "shape");
        var x = a.Double().Contiguous().ToArray<double>();
        var y = b.Double().Contiguous().ToArray<double>();
        double m = 0;
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(double.IsFinite(x[i]), Is.EqualTo(double.IsFinite(y[i])), $"element {i}: {x[i]} vs {y[i]}");
            if (double.IsFinite(x[i])) m = Math.Max(m, Math.Abs(x[i] - y[i]));
        }
        return m;
    }

    public static void AssertClose(Tensor actual, Tensor expected, double tol, string what)
    {
        double d = MaxAbsDiff(actual, expected);
        TestContext.Out.WriteLine($"{what}: max |DeepSharp − PyTorch| = {d:E2}");
        Assert.That(d, Is.LessThanOrEqualTo(tol), what);
    }

    /// <summary>Sets every parameter to small deterministic values (sin formula) in place.</summary>
    public static T Deterministic<T>(T module, double scale = 0.3) where T : Module
    {
        using var _ = Autograd.NoGrad();
        int j = 0;
        foreach (var (_, p) in module.NamedParameters())
        {
            int n = p.NumEl;
            var v = new double[n];
            for (int i = 0; i < n; i++) v[i] = scale * Math.Sin(0.37 * i + 1.1 * j + 0.5);
            p.Copy_(Tensor.FromArray(v, p.Shape));
            j++;
        }
        return module;
    }

    public static Tensor Input(long seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));
}
