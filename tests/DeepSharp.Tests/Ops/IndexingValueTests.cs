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
}
