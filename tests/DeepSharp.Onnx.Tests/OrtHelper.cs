using DeepSharp.NN;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DeepSharp.Onnx.Tests;

/// <summary>Deletes the files the tests wrote.</summary>
[SetUpFixture]
public sealed class TempFiles
{
    /// <summary>Set DEEPSHARP_ONNX_KEEP_FILES=1 to keep the exported files (e.g. to run ONNX's checker on them).</summary>
    [OneTimeTearDown]
    public void Delete()
    {
        if (Environment.GetEnvironmentVariable("DEEPSHARP_ONNX_KEEP_FILES") == "1") return;
        foreach (var f in Directory.GetFiles(Path.GetTempPath(), $"deepsharp-onnx-{Environment.ProcessId}-*")) File.Delete(f);
    }
}

/// <summary>Runs ONNX files with ONNX Runtime and compares with DeepSharp.</summary>
internal static class OrtHelper
{
    public static string TempPath(string name) => Path.Combine(Path.GetTempPath(), $"deepsharp-onnx-{Environment.ProcessId}-{name}.onnx");

    /// <summary>Runs the model at <paramref name="path"/> on named inputs; returns the outputs in graph order.</summary>
    public static Tensor[] Run(string path, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new InferenceSession(path);
        var values = inputs.Select(i => i.Value.DType switch
        {
            DType.Float32 => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(i.Value.Contiguous().ToArray<float>(), i.Value.Shape)),
            DType.Int64 => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<long>(i.Value.Contiguous().ToArray<long>(), i.Value.Shape)),
            DType.Bool => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<bool>(i.Value.Contiguous().ToArray<bool>(), i.Value.Shape)),
            _ => throw new NotSupportedException(i.Value.DType.ToString()),
        }).ToList();
        using var results = session.Run(values);
        return [.. results.Select(r =>
        {
            var t = r.AsTensor<float>();
            return Tensor.FromArray(t.ToArray(), [.. t.Dimensions.ToArray()]);
        })];
    }

    public static void AssertClose(Tensor expected, Tensor actual, double atol = 1e-4, double rtol = 1e-4, string what = "")
    {
        Assert.That(actual.Shape, Is.EqualTo(expected.Shape), $"shape {what}");
        var e = expected.Detach().Contiguous().To(DType.Float64).ToArray<double>();
        var a = actual.Detach().Contiguous().To(DType.Float64).ToArray<double>();
        double worst = 0; int at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double excess = Math.Abs(e[i] - a[i]) - (atol + rtol * Math.Abs(e[i]));
            if (!(excess <= worst)) { worst = double.IsNaN(excess) ? double.PositiveInfinity : excess; at = i; }
        }
        Assert.That(at, Is.EqualTo(-1), () => $"{what}: element {at}: expected {e[at]}, got {a[at]}");
    }

    /// <summary>Exports <paramref name="module"/> on <paramref name="sample"/>, then checks ONNX Runtime against DeepSharp
    /// on the sample and on <paramref name="other"/> (a different batch size).</summary>
    public static string ExportAndCheck(Module<Tensor, Tensor> module, Tensor sample, Tensor other, string name, double atol = 1e-4)
    {
        var path = TempPath(name);
        Onnx.Export(module, sample, path);
        Assert.That(module.IsTraining, Is.True, "Export restores the training mode");
        module.Eval();
        foreach (var x in new[] { sample, other })
        {
            Tensor expected;
            using (Autograd.NoGrad()) expected = module.Forward(x);
            var actual = Run(path, ("input", x))[0];
            AssertClose(expected, actual, atol, atol, $"{name} batch {x.Shape[0]}");
        }
        module.Train();
        return path;
    }
}
