using DeepSharp.NN;
using static DeepSharp.Onnx.Tests.OrtHelper;

namespace DeepSharp.Onnx.Tests;

/// <summary>Advanced indexing (x[idx], x[mask], IndexPut, MaskedSelect, MaskedScatter) has no ONNX export: exporting a
/// model that uses it fails with the exporter's named "cannot be exported" error, naming the op and the module.</summary>
[TestFixture]
public class AdvancedIndexingExportTests
{
    private sealed class Indexes(Func<Tensor, Tensor> f) : Module<Tensor, Tensor>
    {
        private readonly Linear _fc = new(3, 4);
        public override Tensor Forward(Tensor input) => f(_fc.Forward(input)).Relu();
    }

    private static Tensor Idx => Tensor.FromArray(new long[] { 2, 0 }, 2);
    private static Tensor Mask => Tensor.FromArray(new[] { true, false, true, true }, 4);

    public static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("x[:, idx]", (Func<Tensor, Tensor>)(x => x[TensorIndex.Colon, Idx]), "'Index'");
        yield return new TestCaseData("x[:, mask]", (Func<Tensor, Tensor>)(x => x[TensorIndex.Colon, Mask]), "'Index'");
        yield return new TestCaseData("IndexPut", (Func<Tensor, Tensor>)(x => x.IndexPut([TensorIndex.Colon, Idx], Tensor.Scalar(1f))), "'IndexPut'");
        yield return new TestCaseData("MaskedSelect", (Func<Tensor, Tensor>)(x => x.MaskedSelect(Mask)), "'Index'");
        yield return new TestCaseData("MaskedScatter", (Func<Tensor, Tensor>)(x => x.MaskedScatter(Tensor.FromArray(new[] { true, true, true, true }, 4), x * 2.0)), "'IndexPut'");
    }

    [TestCaseSource(nameof(Cases))]
    public void ExportFailsWithTheNamedError(string what, Func<Tensor, Tensor> f, string op)
    {
        var path = TempPath("advanced-index-" + what.Replace(' ', '_').Replace(':', '_').Replace(',', '_').Replace('[', '_').Replace(']', '_'));
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Export(new Indexes(f), Tensor.Randn(2, 3), path));
        Assert.That(e!.Message, Does.Contain("Onnx.Export").And.Contain(op).And.Contain("cannot be exported").And.Contain("Indexes"));
        Assert.That(File.Exists(path), Is.False, "no file is written");
    }
}
