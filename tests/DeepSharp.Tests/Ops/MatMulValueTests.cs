namespace DeepSharp.Tests.Ops;

using static V;

/// <summary>Hand-worked matrix products in every rank combination.</summary>
[TestFixture]
public class MatMulValueTests
{
    [Test]
    public void SmallProducts([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var a = T(dt, [1, 2, 3, 4], 2, 2);
        var b = T(dt, [5, 6, 7, 8], 2, 2);
        Equal(a.MatMul(b), [19, 22, 43, 50], [2, 2]);
        Equal(a.Mm(b), [19, 22, 43, 50], [2, 2]);
        Equal(a.T.MatMul(b), [26, 30, 38, 44], [2, 2]);
        Equal(a.MatMul(b.T), [17, 23, 39, 53], [2, 2]);
        Equal(T(dt, 1, 2, 3).MatMul(T(dt, 4, 5, 6)), [32], []);
        Equal(a.MatMul(T(dt, 1, 1)), [3, 7], [2]);
        Equal(T(dt, 1, 1).MatMul(a), [4, 6], [2]);
        var r = T(dt, [1, 2, 3, 4, 5, 6], 2, 3);
        Equal(r.MatMul(T(dt, [1, 0, 0, 1, 1, 1], 3, 2)), [4, 5, 10, 11], [2, 2]);
    }

    [Test]
    public void BatchedAndBroadcast([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var batch = T(dt, [1, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2);
        var eye = Tensor.Eye(2, dtype: dt);
        Equal(batch.MatMul(eye), [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
        Equal(batch.Bmm(Tensor.Stack([eye, eye * 2])), [1, 2, 3, 4, 10, 12, 14, 16], [2, 2, 2]);
        // [2,1,2,2] · [3,2,2] broadcasts to [2,3,2,2].
        var lhs = T(dt, [1, 0, 0, 1, 2, 0, 0, 2], 2, 1, 2, 2);
        var rhs = T(dt, [1, 2, 3, 4, 0, 1, 1, 0, 1, 1, 1, 1], 3, 2, 2);
        var p = lhs.MatMul(rhs);
        Assert.That(p.Shape, Is.EqualTo(new[] { 2, 3, 2, 2 }));
        Equal(p[1, 0], [2, 4, 6, 8], [2, 2]);
        Equal(p[0, 1], [0, 1, 1, 0], [2, 2]);
        Equal(T(dt, 1, 1).MatMul(batch), [4, 6, 12, 14], [2, 2]);
    }
}
