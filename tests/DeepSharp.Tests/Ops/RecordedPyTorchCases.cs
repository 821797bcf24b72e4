using DeepSharp.IO;
using DeepSharp.Tests.Packaging;

namespace DeepSharp.Tests.Ops;

/// <summary>
/// The shared half of the differential tests against PyTorch: a safetensors file written by a script under
/// docs/pytorch-reference/ holds, per case, the inputs (<c>name.in0</c>…), the output (<c>name.out</c>), and when the
/// case is differentiable a weight <c>name.w</c> and the gradients of Σ(out · w) (<c>name.grad0</c>…).
/// </summary>
internal static class RecordedPyTorchCases
{
    /// <summary>The recorded tensors of tests/DeepSharp.Tests/Ops/PyTorchReference/<paramref name="file"/>.</summary>
    public static Dictionary<string, Tensor> Load(string file) =>
        SafeTensors.Load(Path.Combine(DotnetCli.RepoRoot, "tests", "DeepSharp.Tests", "Ops", "PyTorchReference", file))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>The case names in the recording (the part before the last dot of each key).</summary>
    public static HashSet<string> CaseNames(Dictionary<string, Tensor> recorded) =>
        recorded.Keys.Select(k => k[..k.LastIndexOf('.')]).ToHashSet();

    /// <summary>Runs case <paramref name="name"/> on the recorded inputs and checks its output and, when recorded, the
    /// gradients of its inputs.</summary>
    public static void Check(Dictionary<string, Tensor> rec, string name, Func<Tensor[], Tensor> op)
    {
        var inputs = new List<Tensor>();
        for (int i = 0; rec.ContainsKey($"{name}.in{i}"); i++)
            inputs.Add(rec[$"{name}.in{i}"].Clone().RequiresGrad_(rec.ContainsKey($"{name}.grad{i}")));
        var output = op([.. inputs]);
        var expected = rec[$"{name}.out"];
        Assert.That(output.Shape, Is.EqualTo(expected.Shape), "output shape");
        AssertClose(output, expected, $"{name} output");
        if (!rec.TryGetValue($"{name}.w", out var w)) return;
        (output * w).Sum().Backward();
        for (int i = 0; i < inputs.Count; i++)
            if (rec.TryGetValue($"{name}.grad{i}", out var g))
                AssertClose(inputs[i].Grad ?? Tensor.ZerosLike(inputs[i]), g, $"{name} gradient of input {i}");
    }

    /// <summary>Within 1e-12 relative (a few ulps of rounding order), NaN and ±∞ where PyTorch has them.</summary>
    public static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        var a = actual.Detach().Double().Contiguous().ToArray<double>();
        var e = expected.ToArray<double>();
        Assert.That(a, Has.Length.EqualTo(e.Length), what);
        for (int i = 0; i < e.Length; i++)
        {
            if (double.IsNaN(e[i]) || double.IsInfinity(e[i])) { Assert.That(a[i], Is.EqualTo(e[i]), $"{what} [{i}]"); continue; }
            Assert.That(a[i], Is.EqualTo(e[i]).Within(1e-12 + 1e-12 * Math.Abs(e[i])), $"{what} [{i}]");
        }
    }
}
