namespace DeepSharp.Tests.Ops;

using static V;

/// <summary>Hand-worked values of reductions, softmax and logsumexp.</summary>
[TestFixture]
public class ReductionValueTests
{
    [Test]
    public void SoftmaxFamily([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 1, 2, 3);
        Equal(x.Softmax(0), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219], 1e-7);
        Equal(x.LogSoftmax(-1), [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806], 1e-6);
        Equal(x.LogSumExp(0), [3.4076059644443806], [], 1e-6);
        // Large values stay finite (the max is subtracted).
        Equal(T(dt, 1000, 1000).Softmax(0), [0.5, 0.5]);
        Equal(T(dt, 1000, 1000).LogSumExp(0, keepDim: true), [1000 + Math.Log(2)], [1], 1e-4);
        // Along dim 0 of a matrix: each column sums to one.
        var m = T(dt, [1, 2, 3, 4], 2, 2).Softmax(0);
        Equal(m, [0.11920292202211755, 0.11920292202211755, 0.8807970779778823, 0.8807970779778823], [2, 2], 1e-7);
    }

    [Test]
    public void SumMeanVarStd([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 1, 2, 3, 4);
        Equal(x.Sum(), [10], []);
        Equal(x.Mean(), [2.5], []);
        Equal(x.Var(), [1.6666666666666667], [], 1e-6);
        Equal(x.Var(correction: 0), [1.25], []);
        Equal(x.Std(), [1.2909944487358056], [], 1e-6);
        var m = T(dt, [1, 2, 3, 4, 5, 6], 2, 3);
        Equal(m.Sum(0), [5, 7, 9], [3]);
        Equal(m.Sum(1, keepDim: true), [6, 15], [2, 1]);
        Equal(m.Sum([0, 1]), [21], []);
        Equal(m.Mean(-1), [2, 5], [2]);
        Equal(m.Var(0), [4.5, 4.5, 4.5], [3]);
        Equal(m.Var(1, keepDim: true), [1, 1], [2, 1]);
        Equal(m.Std([1], correction: 0), [Math.Sqrt(2.0 / 3), Math.Sqrt(2.0 / 3)], [2], 1e-6);
        var c = T(dt, [1, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2);
        Equal(c.Sum([0, 2]), [1 + 2 + 5 + 6, 3 + 4 + 7 + 8], [2]);
        Equal(c.Sum([2, 0], keepDim: true), [14, 22], [1, 2, 1]);
    }

    [Test]
    public void MaxMinAndArgs([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var m = T(dt, [3, 7, 1, 9, 2, 9], 2, 3);
        Equal(m.Max(), [9], []);
        Equal(m.Min(), [1], []);
        var (values, indices) = m.Max(1);
        Equal(values, [7, 9], [2]);
        Assert.That(indices.ToArray<long>(), Is.EqualTo(new long[] { 1, 0 }), "first index among ties, as PyTorch");
        var (minV, minI) = m.Min(0, keepDim: true);
        Equal(minV, [3, 2, 1], [1, 3]);
        Assert.That(minI.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 0 }));
        Assert.That(m.ArgMax().Item<long>(), Is.EqualTo(3));
        Assert.That(m.ArgMin(1).ToArray<long>(), Is.EqualTo(new long[] { 2, 1 }));
        Equal(m.Amax(0), [9, 7, 9], [3]);
    }

    [Test]
    public void GradientsOfTiesAreSplitEvenly()
    {
        var x = Tensor.FromArray(new[] { 1.0, 3.0, 3.0 });
        Assert.That(Grad(t => t.Max(), x), Is.EqualTo(new[] { 0.0, 0.5, 0.5 }));
        Assert.That(Grad(t => t.Amax(0), x), Is.EqualTo(new[] { 0.0, 0.5, 0.5 }), "amax splits ties (documented, as PyTorch)");
        Assert.That(Grad(t => t.Max(0).Values, x), Is.EqualTo(new[] { 0.0, 1.0, 0.0 }), "max(dim) sends it to the returned index");
    }
}

[TestFixture]
public class IntegralSumTests
{
    [Test]
    public void SumOfBoolAndInt64CountsAsInt64()
    {
        var a = Tensor.FromArray(new long[] { 1, 2, 3 });
        var b = Tensor.FromArray(new long[] { 1, 0, 3 });
        var count = a.Eq(b).Sum();
        Assert.That(count.DType, Is.EqualTo(DType.Int64));
        Assert.That(count.Item<long>(), Is.EqualTo(2L));
        Assert.That(a.Sum().Item<long>(), Is.EqualTo(6L));
        Assert.That(Tensor.FromArray(new long[,] { { 1, 2 }, { 3, 4 } }).Sum(0).ToArray<long>(), Is.EqualTo(new long[] { 4, 6 }));
    }
}
