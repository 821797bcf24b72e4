using FsCheck;

namespace DeepSharp.Tests;

/// <summary>The fused cross-entropy op against its composite twin, PyTorch's documented values and finite differences.</summary>
[TestFixture]
public class CrossEntropyOpTests
{
    [Test]
    public void ValuesByHand()
    {
        var logits = Tensor.FromArray(new double[,] { { 1, 2, 3 } });
        var target = Tensor.FromArray(new long[] { 2 });
        Assert.That(logits.CrossEntropyWithIndices(target, null, -100, 0, "mean").Item(), Is.EqualTo(0.40760596).Within(1e-8));
        // (1 − 0.1)·0.40760596 + 0.1/3·(2.40760596 + 1.40760596 + 0.40760596)
        Assert.That(logits.CrossEntropyWithIndices(target, null, -100, 0.1, "mean").Item(), Is.EqualTo(0.50760596).Within(1e-8));
    }

    [FsCheck.NUnit.Property(MaxTest = 30)]
    public void FusedMatchesCompositeAndGradChecks(PositiveInt seed)
    {
        var g = new Generator(seed.Get);
        int n = 1 + (int)g.NextInt64(0, 5), c = 2 + (int)g.NextInt64(0, 4);
        var logits = Tensor.Randn([n, c], DType.Float64, g).RequiresGrad_();
        var targetData = Enumerable.Range(0, n).Select(_ => g.NextInt64(0, c)).ToArray();
        long ignore = g.NextDouble() < 0.5 ? targetData[0] : -100;
        if (targetData.All(t => t == ignore)) ignore = -100;
        var target = Tensor.FromArray(targetData);
        var weight = g.NextDouble() < 0.5 ? null : Tensor.Rand([c], DType.Float64, g) + 0.5;
        double smoothing = g.NextDouble() < 0.5 ? 0 : 0.2;
        foreach (var reduction in new[] { "none", "mean", "sum" })
        {
            var fused = logits.CrossEntropyWithIndices(target, weight, ignore, smoothing, reduction);
            var composite = Tensor.CrossEntropyComposite(logits, target, weight, ignore, smoothing, reduction, [n]);
            Assert.That(fused.AllClose(composite, 1e-10, 1e-12), Is.True, $"{reduction}: {fused} vs {composite}");
            GradCheck.Check(x => x.CrossEntropyWithIndices(target, weight, ignore, smoothing, reduction), logits);
        }
        GradCheck.GradGradCheck(xs => xs[0].CrossEntropyWithIndices(target, weight, ignore, smoothing, "mean"), [logits]);
    }

    [Test]
    public void SpatialTargetsUseClassesInDimOne()
    {
        var g = new Generator(2);
        var logits = Tensor.Randn([2, 3, 2, 2], DType.Float64, g).RequiresGrad_();
        var target = Tensor.RandInt(0, 3, [2, 2, 2], generator: g);
        var loss = logits.CrossEntropyWithIndices(target, null, -100, 0, "none");
        Assert.That(loss.Shape, Is.EqualTo(new[] { 2, 2, 2 }));
        double expected = -logits.LogSoftmax(1).GetFlatAt([1, (int)target.GetFlat(7), 1, 1]);
        Assert.That(loss.GetFlat(7), Is.EqualTo(expected).Within(1e-12));
        GradCheck.Check(x => x.CrossEntropyWithIndices(target, null, -100, 0, "mean"), logits);
    }

    [Test]
    public void BadTargetsAreNamed()
    {
        var logits = Tensor.Zeros(2, 3);
        var ex = Assert.Catch<ArgumentException>(() => logits.CrossEntropyWithIndices(Tensor.FromArray(new long[] { 0, 5 }), null, -100, 0, "mean"));
        Assert.That(ex!.Message, Does.Contain("5"));
        Assert.Catch<ArgumentException>(() => logits.CrossEntropyWithIndices(Tensor.FromArray(new long[] { 0, 1, 2 }), null, -100, 0, "mean"));
        Assert.Catch<ArgumentException>(() => logits.CrossEntropyWithIndices(Tensor.FromArray(new float[] { 0, 1 }), null, -100, 0, "mean"));
    }
}

internal static class TensorTestExtensions
{
    /// <summary>The element at a multi-index, as double.</summary>
    public static double GetFlatAt(this Tensor t, int[] index)
    {
        int flat = 0;
        var shape = t.Shape;
        for (int d = 0; d < index.Length; d++) flat = flat * shape[d] + index[d];
        return t.GetFlat(flat);
    }
}
