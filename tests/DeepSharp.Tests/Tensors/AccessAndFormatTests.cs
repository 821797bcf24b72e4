namespace DeepSharp.Tests.Tensors;

/// <summary>Item/ToArray, dtype conversions, dtype mismatch errors and the ToString format.</summary>
[TestFixture]
public class AccessAndFormatTests
{
    [Test]
    public void ItemAndToArray()
    {
        Assert.That(Tensor.Scalar(3.5).Item(), Is.EqualTo(3.5));
        Assert.That(Tensor.FromArray(new[] { 4L }).Item<long>(), Is.EqualTo(4L));
        Assert.That(Tensor.FromArray(new[] { true }).Item(), Is.EqualTo(1.0));
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2, 2).Item());
        Assert.That(ex!.Message, Does.Contain("Item").And.Contain("4 elements").And.Contain("[2, 2]"));
        var ex2 = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).ToArray<double>());
        Assert.That(ex2!.Message, Does.Contain("Float32").And.Contain("To(DType.Float64)"));
        Assert.That(Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 2).T.ToArray<float>(), Is.EqualTo(new[] { 1f, 3f, 2f, 4f }), "row-major order of the view");
    }

    [Test]
    public void Conversions()
    {
        var x = Tensor.FromArray(new[] { 1.7, -1.7, 0.0, 2.0 });
        Assert.That(x.To(DType.Int64).ToArray<long>(), Is.EqualTo(new long[] { 1, -1, 0, 2 }), "truncation toward zero, as PyTorch");
        Assert.That(x.To(DType.Bool).ToArray<bool>(), Is.EqualTo(new[] { true, true, false, true }));
        Assert.That(x.Float().ToArray<float>(), Is.EqualTo(new[] { 1.7f, -1.7f, 0f, 2f }));
        Assert.That(x.Float().Double().ToArray<double>()[0], Is.EqualTo(1.7).Within(1e-7));
        Assert.That(x.Long().DType, Is.EqualTo(DType.Int64));
        Assert.That(Tensor.FromArray(new[] { true, false }).To(DType.Float32).ToArray<float>(), Is.EqualTo(new[] { 1f, 0f }));
        Assert.That(Tensor.FromArray(new[] { 3L, 0L }).To(DType.Bool).ToArray<bool>(), Is.EqualTo(new[] { true, false }));
        Assert.That(Tensor.FromArray(new[] { 3L }).To(DType.Float64).Item(), Is.EqualTo(3.0));
        Assert.That(x.To(DType.Float64), Is.SameAs(x));
        // A non-contiguous source converts in row-major order.
        var m = Tensor.FromArray(new[] { 1.0, 2, 3, 4 }, 2, 2).T.To(DType.Int64);
        Assert.That(m.ToArray<long>(), Is.EqualTo(new long[] { 1, 3, 2, 4 }));
    }

    [Test]
    public void DTypeMismatchThrowsWithAClearMessage()
    {
        var f = Tensor.Ones(2);
        var d = Tensor.Ones([2], DType.Float64);
        // Element-wise ops promote (TypePromotionTests); the matrix products refuse, as PyTorch does.
        foreach (var (name, call) in new (string, Func<Tensor>)[] { ("MatMul", () => f.MatMul(d)), ("Linear", () => DeepSharp.NN.F.Linear(f.View(1, 2), d.View(1, 2))) })
        {
            var ex = Assert.Throws<ArgumentException>(() => call(), name);
            Assert.That(ex!.Message, Does.StartWith(name + ":").And.Contain("expected both tensors to have the same dtype, but got Float32 and Float64").And.Contain("To(DType)"), name);
        }
    }

    [Test]
    public void ToStringShowsValuesShapeAndDType()
    {
        Assert.That(Tensor.FromArray(new[] { 1f, 2f, 3f }).ToString(), Is.EqualTo("tensor([1., 2., 3.], shape=[3], dtype=Float32)"));
        Assert.That(Tensor.FromArray(new[] { 0.5, -1.25 }).ToString(), Is.EqualTo("tensor([0.5000, -1.2500], shape=[2], dtype=Float64)"));
        Assert.That(Tensor.Scalar(2.5).ToString(), Is.EqualTo("tensor(2.5000, shape=[], dtype=Float32)"));
        Assert.That(Tensor.FromArray(new[] { 1L, 2L }).ToString(), Is.EqualTo("tensor([1, 2], shape=[2], dtype=Int64)"));
        Assert.That(Tensor.FromArray(new[] { true, false }).ToString(), Is.EqualTo("tensor([True, False], shape=[2], dtype=Bool)"));
        Assert.That(Tensor.FromArray(new[] { 1f, 2, 3, 4 }, 2, 2).ToString(), Is.EqualTo("tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=Float32)"));
        var x = Tensor.FromArray(new[] { 1.0 }).RequiresGrad_();
        Assert.That(x.ToString(), Does.EndWith("dtype=Float64, requires_grad=true)"));
        Assert.That((x * 2.0).ToString(), Does.EndWith("grad_fn=<MulBackward>)"));
    }

    [Test]
    public void ToStringTruncatesLargeTensors()
    {
        var s = Tensor.Arange(2000, DType.Float32).ToString();
        Assert.That(s, Does.StartWith("tensor([0., 1., 2., ..., 1997., 1998., 1999.], shape=[2000]"));
        var m = Tensor.Zeros(100, 100).ToString();
        Assert.That(m.Length, Is.LessThan(1000));
        Assert.That(m, Does.Contain("...").And.EndWith("shape=[100, 100], dtype=Float32)"));
    }
}
