using DeepSharp.NN;
using DeepSharp.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spectre.Console;

namespace DeepSharp.Examples.Mnist;

/// <summary><c>--export-onnx PATH</c>: writes the trained model as ONNX and scores that file with ONNX Runtime on the test set.</summary>
public static class OnnxExport
{
    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (dynamic batch) and returns ONNX Runtime's
    /// accuracy on <paramref name="test"/>, which should equal DeepSharp's.</summary>
    public static double ExportAndCheck(Module<Tensor, Tensor> model, MnistSplit test, string path, IAnsiConsole console)
    {
        Onnx.Onnx.Export(model, test.Images.Narrow(0, 0, 1), path);
        double accuracy = Accuracy(path, test);
        console.MarkupLineInterpolated($"Exported ONNX to {path}; ONNX Runtime test accuracy [bold]{accuracy * 100:F2}%[/]");
        return accuracy;
    }

    /// <summary>The accuracy of the ONNX model at <paramref name="path"/> on <paramref name="test"/>, run by ONNX Runtime.</summary>
    public static double Accuracy(string path, MnistSplit test, int batchSize = 1000)
    {
        using var session = new InferenceSession(path);
        var labels = test.Labels.ToArray<long>();
        long correct = 0;
        for (int start = 0; start < test.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, test.Count - start);
            var x = test.Images.Narrow(0, start, n).Contiguous();
            var input = NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.ToArray<float>(), x.Shape));
            using var results = session.Run([input]);
            var logits = results[0].AsTensor<float>().ToArray();
            int classes = logits.Length / n;
            for (int i = 0; i < n; i++)
            {
                int best = 0;
                for (int c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
                if (best == labels[start + i]) correct++;
            }
        }
        return (double)correct / test.Count;
    }
}
