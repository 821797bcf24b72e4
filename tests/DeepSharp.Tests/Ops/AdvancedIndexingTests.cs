namespace DeepSharp.Tests.Ops;

/// <summary>Advanced indexing beyond the PyTorch differential cases: duplicates, the in-place rules of the setter and
/// IndexPut_, integer tensors, edge shapes, and bad input (each error names the op and the values at fault).</summary>
[TestFixture]
public class AdvancedIndexingTests
{
    private static Tensor I(params long[] v) => Tensor.FromArray(v, v.Length);
    private static Tensor D(params double[] v) => Tensor.FromArray(v, v.Length);
    private static Tensor X234() => Tensor.Arange(0, 24, dtype: DType.Float64).Reshape(2, 3, 4);

    [Test]
    public void DuplicatesWithoutAccumulateLastWinsWithAccumulateSum()
    {
        var x = Tensor.Zeros([3], DType.Float64);
        Assert.That(x.IndexPut([I(1, 1, 1)], D(1, 2, 3)).ToArray<double>(), Is.EqualTo(new[] { 0.0, 3, 0 }));
        Assert.That(x.IndexPut([I(1, -2, 2)], D(1, 2, 3), accumulate: true).ToArray<double>(), Is.EqualTo(new[] { 0.0, 3, 3 }));
        var y = Tensor.Zeros([2, 2], DType.Float64);
        y[I(0, 0), I(1, 1)] = D(5, 7).Reshape(1, 1, 2);                  // leading size-1 dims dropped, as PyTorch

        Assert.That(y.ToArray<double>(), Is.EqualTo(new[] { 0.0, 7, 0, 0 }));
    }

    [Test]
    public void SetterWritesThroughMasksIndicesAndSlicesAndBumpsTheVersion()
    {
        var x = X234();
        int v0 = x.Version;
        x[x.Gt(20.0)] = Tensor.Scalar(-1.0, DType.Float64);
        Assert.That(x.Version, Is.GreaterThan(v0));
        Assert.That(x.Reshape(-1).ToArray<double>()[20..], Is.EqualTo(new[] { 20.0, -1, -1, -1 }));
        x[1, TensorIndex.Colon, I(0, 3)] = Tensor.Scalar(9f);            // Float32 value converted, as PyTorch's setitem
        Assert.That(x[1, TensorIndex.Colon, 0].ToArray<double>(), Is.EqualTo(new[] { 9.0, 9, 9 }));
        Assert.That(x[1, TensorIndex.Colon, 3].ToArray<double>(), Is.EqualTo(new[] { 9.0, 9, 9 }));
        Assert.That(x[1, TensorIndex.Colon, 1].ToArray<double>(), Is.EqualTo(new[] { 13.0, 17, -1 }));
        x[0, 1..] = Tensor.Zeros([4], DType.Float64);                     // basic indexing only: a copy into the view
        Assert.That(x[0].Sum().Item<double>(), Is.EqualTo(0 + 1 + 2 + 3));
        x.IndexPut_([I(0)], 2.5);
        Assert.That(x[0].ToArray<double>(), Is.All.EqualTo(2.5));
    }

    [Test]
    public void ANumberAssignsThroughMasksAndStaysInTheTensorsDType()
    {
        var x = Tensor.FromArray(new[] { 1f, -2f, 3f, -4f }, 4);
        x[x.Lt(0.0)] = 0.0;                                            // PyTorch: x[x < 0] = 0.
        Assert.That(x.DType, Is.EqualTo(DType.Float32));
        Assert.That(x.ToArray<float>(), Is.EqualTo(new[] { 1f, 0f, 3f, 0f }));
        x[Tensor.FromArray(new long[] { 3 }, 1)] = 7;                  // an int converts too
        Assert.That(x.ToArray<float>(), Is.EqualTo(new[] { 1f, 0f, 3f, 7f }));
        // A number is a 0-d Float64 tensor, which does not widen a tensor with dimensions (x * 0.5 stays float32).
        Tensor half = 0.5;
        var w = x * half;
        Assert.That(w.DType, Is.EqualTo(DType.Float32));
        Assert.That(w.ToArray<float>(), Is.EqualTo(new[] { 0.5f, 0f, 1.5f, 3.5f }));
        Tensor s = 2.5;
        Assert.That((s.DType, s.Dim, s.Item<double>()), Is.EqualTo((DType.Float64, 0, 2.5)));
    }

    [Test]
    public void IntegerAndBoolTensorsIndexWithoutGradients()
    {
        var n = Tensor.Arange(0, 6, dtype: DType.Int64).Reshape(2, 3);
        Assert.That(n[TensorIndex.Colon, I(2, 0)].ToArray<long>(), Is.EqualTo(new long[] { 2, 0, 5, 3 }));
        n[n.Gt(3L)] = Tensor.Scalar(0, DType.Int64);
        Assert.That(n.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 2, 3, 0, 0 }));
        Assert.That(n.IndexPut([I(1, 1)], I(4, 5).Reshape(2, 1), accumulate: true).ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 2, 12, 9, 9 }));
        var b = Tensor.FromArray(new[] { true, false, true }, 3);
        Assert.That(b[I(1, 2)].ToArray<bool>(), Is.EqualTo(new[] { false, true }));
    }

    [Test]
    public void EdgeShapes()
    {
        var x = X234();
        Assert.That(x[Tensor.Scalar(1, DType.Bool)].Shape, Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(x[Tensor.Scalar(0, DType.Bool)].Shape, Is.EqualTo(new[] { 0, 2, 3, 4 }));
        Assert.That(x[Tensor.Zeros([0], DType.Int64)].Shape, Is.EqualTo(new[] { 0, 3, 4 }));
        Assert.That(x[TensorIndex.Colon, Tensor.Zeros([2, 0], DType.Int64)].Shape, Is.EqualTo(new[] { 2, 2, 0, 4 }));
        Assert.That(Tensor.Scalar(3.0).Nonzero().Shape, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(Tensor.Scalar(0.0).Nonzero().Shape, Is.EqualTo(new[] { 0, 0 }));
        Assert.That(Tensor.Scalar(2.0).MaskedSelect(Tensor.Scalar(1, DType.Bool)).ToArray<float>(), Is.EqualTo(new[] { 2f }));
    }

    [Test]
    public void InPlaceRulesOfTheSetter()
    {
        var leaf = Tensor.Randn(3, 4).RequiresGrad_();
        var e = Assert.Throws<InvalidOperationException>(() => leaf[I(0)] = Tensor.Zeros(4));
        Assert.That(e!.Message, Does.Contain("IndexPut_").And.Contain("leaf"));
        Assert.Throws<InvalidOperationException>(() => leaf.IndexPut_([I(0)], Tensor.Zeros(4)));
        using (Autograd.NoGrad()) leaf[I(0)] = Tensor.Zeros(4);          // a parameter update: allowed
        Assert.That(leaf[0].ToArray<float>(), Is.All.EqualTo(0f));

        // A tensor saved for backward and then overwritten through the setter is detected by its version.
        var x = Tensor.Randn([3], DType.Float64).RequiresGrad_();
        var y = x * 1.0;
        var z = y * y;
        y[I(1)] = Tensor.Scalar(0.0, DType.Float64);
        var error = Assert.Throws<InvalidOperationException>(() => z.Sum().Backward());
        Assert.That(error!.Message, Does.Contain("saved by").And.Contain("version"));
    }

    [Test]
    public void SetterOnANonLeafRebasesItsHistory()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2, 3, 4 }, 4).RequiresGrad_();
        var v = Tensor.FromArray(new[] { 10.0, 20 }, 2).RequiresGrad_();
        var y = x * 2.0;
        y[I(3, 0)] = v;
        Assert.That(y.ToArray<double>(), Is.EqualTo(new[] { 20.0, 4, 6, 10 }));
        (y * D(1, 2, 3, 4)).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 0.0, 4, 6, 0 }));
        Assert.That(v.Grad!.ToArray<double>(), Is.EqualTo(new[] { 4.0, 1 }));
    }

    [Test]
    public void BadInputIsNamed()
    {
        var x = X234();
        var mask = Tensor.Ones([3, 2], DType.Bool);
        var e1 = Assert.Throws<ArgumentException>(() => _ = x[mask]);
        Assert.That(e1!.Message, Does.Contain("Index").And.Contain("mask [3, 2]").And.Contain("[2, 3, 4]").And.Contain("dimension 0"));

        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => _ = x[TensorIndex.Colon, I(0, 5)]);
        Assert.That(e2!.Message, Does.Contain("Index: index 5").And.Contain("dimension 1 with size 3"));
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => _ = x[1, TensorIndex.Colon, I(-5)]);
        Assert.That(e3!.Message, Does.Contain("index -5").And.Contain("dimension 2 with size 4"));
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => x.IndexPut_([I(2)], 0.0));
        Assert.That(e4!.Message, Does.Contain("IndexPut_: index 2").And.Contain("dimension 0 with size 2"));

        var e5 = Assert.Throws<ArgumentException>(() => _ = x[D(0, 1)]);
        Assert.That(e5!.Message, Does.Contain("Int64 or Bool").And.Contain("Float64"));

        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() => _ = x[0, I(0), 1, 2]);
        Assert.That(e6!.Message, Does.Contain("too many indices (4)").And.Contain("rank 3"));
        var e7 = Assert.Throws<ArgumentOutOfRangeException>(() => _ = x[Tensor.Ones([2, 3, 4, 1], DType.Bool)]);
        Assert.That(e7!.Message, Does.Contain("too many indices (4)"));

        var e8 = Assert.Throws<ArgumentException>(() => x[I(0, 1)] = Tensor.Ones([3, 3], DType.Float64));
        Assert.That(e8!.Message, Does.Contain("value tensor of shape [3, 3] cannot be broadcast to indexing result of shape [2, 3, 4]"));
        var e9 = Assert.Throws<ArgumentException>(() => x.IndexPut([I(0)], Tensor.Zeros(4)));
        Assert.That(e9!.Message, Does.Contain("IndexPut").And.Contain("Float64").And.Contain("Float32"));
        var e10 = Assert.Throws<ArgumentException>(() => x.MaskedScatter(x.Gt(3.0), Tensor.Zeros([5], DType.Float64)));
        Assert.That(e10!.Message, Does.Contain("MaskedScatter").And.Contain("selects 20 elements").And.Contain("[5]"));
        var e11 = Assert.Throws<ArgumentException>(() => x.MaskedSelect(I(1)));
        Assert.That(e11!.Message, Does.Contain("MaskedSelect").And.Contain("Bool mask"));
        var e12 = Assert.Throws<ArgumentException>(() => _ = x[TensorIndex.Ellipsis, I(0), TensorIndex.Ellipsis]);
        Assert.That(e12!.Message, Does.Contain("single Ellipsis"));
        var e13 = Assert.Throws<ArgumentException>(() => _ = x[I(0, 1, 0), TensorIndex.Colon, I(0, 1)]);
        Assert.That(e13!.Message, Does.Contain("Index").And.Contain("[3]").And.Contain("[2]"));
        Assert.That(x.ToArray<double>(), Is.EqualTo(X234().ToArray<double>()), "failed writes leave the tensor unchanged");
    }
}
