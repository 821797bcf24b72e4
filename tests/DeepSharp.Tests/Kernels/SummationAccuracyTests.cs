using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Tests.Packaging;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Float32 reductions over 10⁶ elements (whole-tensor, along an inner dim, along an outer dim, Linear's bias gradient)
/// are at least as accurate as PyTorch 1.13's on the same data: the error against a float64 reference of the same
/// float32 values, over Σ|x|, is at most PyTorch's recorded error (docs/pytorch-reference/summation_accuracy.py).
/// Float32 sums add in float64 and round once; Mean divides before that rounding, as PyTorch's mean does.
/// </summary>
[TestFixture]
public class SummationAccuracyTests
{
    private const int N = 1_000_000;

    private static readonly Lazy<Dictionary<string, double>> Torch = new(() =>
        SafeTensors.Load(Path.Combine(DotnetCli.RepoRoot, "tests", "DeepSharp.Tests", "Kernels", "PyTorchReference", "summation_accuracy.safetensors"))
            .ToDictionary(kv => kv.Key, kv => kv.Value.ToArray<double>()[0]));

    // x_i = float32(((i · 2654435761) mod 2³²) / 2³² + 0.5 − shift), bit for bit the script's data.
    private static Tensor Data(double shift)
    {
        var v = new float[N];
        for (long i = 0; i < N; i++) v[i] = (float)((double)(i * 2654435761L % 4294967296L) / 4294967296.0 + 0.5 - shift);
        return Tensor.FromArray(v);
    }

    private static double Error(Tensor result32, Tensor ref64, Tensor scale)
    {
        var r = result32.ToArray<float>();
        var e = ref64.ToArray<double>();
        var s = scale.ToArray<double>();
        double worst = 0;
        for (int i = 0; i < r.Length; i++) worst = Math.Max(worst, Math.Abs(r[i] - e[i]) / s[i]);
        return worst;
    }

    private static readonly (string Name, Func<Tensor, Tensor> F32, Func<Tensor, (Tensor Ref, Tensor Scale)> F64)[] Cases =
    [
        ("sum_all", x => x.Sum(), x => (x.Sum(), x.Abs().Sum())),
        ("sum_dim0", x => x.View(250_000, 4).Sum(0), x => (x.View(250_000, 4).Sum(0), x.View(250_000, 4).Abs().Sum(0))),
        ("mean_dim1", x => x.View(4, 250_000).Mean(1), x => (x.View(4, 250_000).Mean(1), x.View(4, 250_000).Abs().Mean(1))),
        ("sum_dim0_square", x => x.View(1000, 1000).Sum(0), x => (x.View(1000, 1000).Sum(0), x.View(1000, 1000).Abs().Sum(0))),
        ("linear_bias_grad", x =>
        {
            var bias = Tensor.Zeros(4).RequiresGrad_();
            F.Linear(Tensor.Zeros(250_000, 3), Tensor.Zeros(4, 3), bias).Backward(x.View(250_000, 4));
            return bias.Grad!;
        }, x => (x.View(250_000, 4).Sum(0), x.View(250_000, 4).Abs().Sum(0))),
    ];

    public static IEnumerable<TestCaseData> AllCases() =>
        from c in Cases from d in new[] { "pos", "mixed" } select new TestCaseData(c.Name, d).SetName($"Float32Reduction_{d}_{c.Name}");

    [TestCaseSource(nameof(AllCases))]
    public void At_least_as_accurate_as_PyTorch(string name, string data)
    {
        var c = Cases.Single(k => k.Name == name);
        var x = Data(data == "pos" ? 0 : 1);
        var y = c.F32(x);
        Assert.That(y.DType, Is.EqualTo(DType.Float32));
        var (reference, scale) = c.F64(x.To(DType.Float64));
        double ours = Error(y, reference, scale);
        double torch = Torch.Value[$"{data}_{name}"];
        TestContext.Out.WriteLine($"{data} {name}: DeepSharp {ours:E3}, PyTorch 1.13 {torch:E3}");
        Assert.That(ours, Is.LessThanOrEqualTo(torch));
    }

    [Test]
    public void Pairwise_sum_is_exact_on_integers_and_handles_every_length()
    {
        // Lengths around the block boundaries; integers sum exactly in float32 below 2²⁴.
        foreach (int n in new[] { 0, 1, 127, 128, 129, 255, 256, 257, 1000, 4097 })
        {
            var v = Enumerable.Range(0, n).Select(i => (float)(i % 7)).ToArray();
            double expected = v.Sum(f => (double)f);
            Assert.That(Tensor.FromArray(v).Sum().Item(), Is.EqualTo(expected), $"n = {n}");
            if (n > 0)
            {
                var rows = Tensor.FromArray(v, n, 1).Expand(n, 3).Contiguous().Sum(0).ToArray<float>();
                Assert.That(rows, Is.EqualTo(new[] { (float)expected, (float)expected, (float)expected }), $"rows n = {n}");
            }
        }
    }
}
