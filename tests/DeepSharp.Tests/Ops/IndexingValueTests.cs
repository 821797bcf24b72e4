namespace DeepSharp.Tests.Ops;

using static V;

/// <summary>Gather/scatter/index examples from PyTorch's documentation, joining and splitting, Where and MaskedFill.</summary>
[TestFixture]
public class IndexingValueTests
{
    private static Tensor L(long[] values, params int[] shape) => Tensor.FromArray(values, shape);

    [Test]
    public void GatherFromThePyTorchDocs([Values(DType.Float32, DType.Float64)] DType dt)
    {
        // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]])) = [[1, 1], [4, 3]]
        var t = T(dt, [1, 2, 3, 4], 2, 2);
        Equal(t.Gather(1, L([0, 0, 1, 0], 2, 2)), [1, 1, 4, 3], [2, 2]);
        Equal(t.Gather(0, L([1, 0], 1, 2)), [3, 2], [1, 2]);
    }

    [Test]
    public void ScatterAddFromThePyTorchDocs([Values(DType.Float32, DType.Float64)] DType dt)
    {
        // torch.zeros(3, 5).scatter_add_(0, tensor([[0, 1, 2, 0, 0]]), torch.ones(2, 5))
        var r = Tensor.Zeros([3, 5], dt).ScatterAdd(0, L([0, 1, 2, 0, 0], 1, 5), Tensor.Ones([2, 5], dt));
        Equal(r, [1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0], [3, 5]);
        // Repeated indices accumulate.
        Equal(Tensor.Zeros([2], dt).ScatterAdd(0, L([1, 1, 0], 3), T(dt, 1, 2, 4)), [4, 3]);
    }

    [Test]
    public void IndexSelectAndIndexAddFromThePyTorchDocs([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 3, 4);
        var idx = L([0, 2], 2);
        Equal(x.IndexSelect(0, idx), [0, 1, 2, 3, 8, 9, 10, 11], [2, 4]);
        Equal(x.IndexSelect(1, idx), [0, 2, 4, 6, 8, 10], [3, 2]);
        // x = torch.ones(5, 3); x.index_add_(0, tensor([0, 4, 2]), tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
        var r = Tensor.Ones([5, 3], dt).IndexAdd(0, L([0, 4, 2], 3), T(dt, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3));
        Equal(r, [2, 3, 4, 1, 1, 1, 8, 9, 10, 1, 1, 1, 5, 6, 7], [5, 3]);
    }

    [Test]
    public void WhereAndMaskedFill([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var cond = Tensor.FromArray(new[] { true, false, true });
        Equal(Tensor.Where(cond, T(dt, 1, 2, 3), T(dt, -1, -2, -3)), [1, -2, 3]);
        Equal(Tensor.Where(cond, 0.5, T(dt, -1, -2, -3)), [0.5, -2, 0.5]);
        Equal(Tensor.Where(cond, T(dt, 1, 2, 3), 9), [1, 9, 3]);
        var m = T(dt, [1, 2, 3, 4, 5, 6], 2, 3).MaskedFill(cond, 0);
        Equal(m, [0, 2, 0, 0, 5, 0], [2, 3]);
    }

    [Test]
    public void CatStackSplitChunk([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var a = T(dt, [1, 2, 3, 4], 2, 2);
        var b = T(dt, [5, 6], 1, 2);
        Equal(Tensor.Cat([a, b]), [1, 2, 3, 4, 5, 6], [3, 2]);
        Equal(Tensor.Cat([a, b.T], 1), [1, 2, 5, 3, 4, 6], [2, 3]);
        Equal(Tensor.Stack([a, a], 1), [1, 2, 1, 2, 3, 4, 3, 4], [2, 2, 2]);
        var x = T(dt, 0, 1, 2, 3, 4);
        var parts = x.Split(2);
        Assert.That(parts.Select(p => Values(p)), Is.EqualTo(new[] { new double[] { 0, 1 }, [2, 3], [4] }));
        Assert.That(x.Split([1, 4]).Select(p => p.Shape[0]), Is.EqualTo(new[] { 1, 4 }));
        Assert.That(x.Chunk(3).Select(p => p.Shape[0]), Is.EqualTo(new[] { 2, 2, 1 }));
        Assert.That(x.Chunk(10).Length, Is.EqualTo(5));
    }

    [Test]
    public void IndexOpsTreatAZeroDimTensorAsOneElement()
    {
        // PyTorch: a 0-d self takes dim 0 / -1 and index value 0; the result keeps the 0-d shape.
        var x = Tensor.Scalar(2.5, DType.Float64, requiresGrad: true);
        var i0 = Tensor.Scalar(0, DType.Int64);
        var i1 = L([0], 1);
        Equal(x.Gather(0, i0), [2.5], []);
        Equal(x.Gather(-1, i0), [2.5], []);
        Equal(x.IndexSelect(0, i1), [2.5], []);
        Equal(x.IndexSelect(-1, i0), [2.5], []);
        Equal(x.ScatterAdd(0, i0, Tensor.Scalar(4.0, DType.Float64)), [6.5], []);
        Equal(x.IndexAdd(0, i1, Tensor.Scalar(-1.0, DType.Float64)), [1.5], []);
        Assert.That(() => x.IndexSelect(0, L([0, 0, 0], 3)), Throws.ArgumentException.With.Message.Contains("[3]"));
        Assert.That(() => x.IndexSelect(0, L([1], 1)), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("index 1"));
        Assert.That(() => x.Gather(0, Tensor.Scalar(-1, DType.Int64)), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => x.IndexAdd(0, L([0, 0], 2), Tensor.Ones([2], DType.Float64)), Throws.ArgumentException.With.Message.Contains("0-d"));
        Assert.That(() => x.Gather(1, i0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        // Gradients flow through the 1-element view, checked against finite differences.
        var src = Tensor.Scalar(0.75, DType.Float64, requiresGrad: true);
        Assert.That(GradCheck.Check(t => t[0].Gather(0, i0) * t[0].IndexSelect(0, i1) + t[0].ScatterAdd(0, i0, t[1]).Pow(2) + t[0].IndexAdd(0, i1, t[1]) * t[1], [x, src]).Passed);
    }

    [Test]
    public void ExpandRejectsNegativeSizesOtherThanMinusOne()
    {
        var x = Tensor.Ones([1]);
        Assert.That(() => x.Expand(0, -2), Throws.ArgumentException.With.Message.Contains("-2"));
        Assert.That(() => x.Expand(-3), Throws.ArgumentException.With.Message.Contains("size -3"));
        Assert.That(x.Expand(0, -1).Shape, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(x.Expand(3, -1).Shape, Is.EqualTo(new[] { 3, 1 }));
    }
}
