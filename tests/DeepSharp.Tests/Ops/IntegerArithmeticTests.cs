namespace DeepSharp.Tests.Ops;

/// <summary>Int64 arithmetic, floor division and remainder with Python's sign rules, type promotion, integer
/// reductions and comparison operators; expected values recorded from PyTorch 1.13.</summary>
[TestFixture]
public class IntegerArithmeticTests
{
    private static Tensor L(params long[] values) => Tensor.FromArray(values);

    private static Tensor A => L(7, -7, 7, -7, 0, 5);
    private static Tensor B => L(2, 2, -2, -2, 3, -5);

    [Test]
    public void FloorDivisionAndRemainderFollowPythonsSigns()
    {
        var q = A.FloorDivide(B);
        Assert.That(q.DType, Is.EqualTo(DType.Int64));
        Assert.That(q.ToArray<long>(), Is.EqualTo(new long[] { 3, -4, -4, 3, 0, -1 }));
        Assert.That((A % B).ToArray<long>(), Is.EqualTo(new long[] { 1, 1, -1, -1, 0, 0 }));
        Assert.That(A.Remainder(3L).ToArray<long>(), Is.EqualTo(new long[] { 1, 2, 1, 2, 0, 2 }));
        Assert.That(L(long.MinValue).FloorDivide(-1L).ToArray<long>(), Is.EqualTo(new[] { long.MinValue }));   // wraps as PyTorch
    }

    [TestCase(DType.Float32)]
    [TestCase(DType.Float64)]
    public void FloatingFloorDivisionAndRemainder(DType dtype)
    {
        var a = V.T(dtype, 7.5, -7.5, 7.5, -7.5, 0.0, 5.0, -0.5);
        var b = V.T(dtype, 2.0, 2.0, -2.0, -2.0, 3.0, -5.0, 2.0);
        V.Equal(a.FloorDivide(b), [3, -4, -4, 3, 0, -1, -1]);
        V.Equal(a % b, [1.5, 0.5, -0.5, -1.5, 0, 0, 1.5]);
        Assert.That((a % 2.0).DType, Is.EqualTo(dtype));
    }

    [Test]
    public void IntegerDivisionByZeroNamesTheOp()
    {
        var ex = Assert.Throws<ArgumentException>(() => A.FloorDivide(L(1, 0, 1, 1, 1, 1)));
        Assert.That(ex!.Message, Does.Contain("FloorDivide").And.Contain("division by zero"));
        Assert.Throws<ArgumentException>(() => _ = A % 0L);
    }

    [Test]
    public void ArithmeticKeepsInt64WithIntegerOperands()
    {
        Assert.That((A + 2).DType, Is.EqualTo(DType.Int64));
        Assert.That((A - 3).ToArray<long>(), Is.EqualTo(new long[] { 4, -10, 4, -10, -3, 2 }));
        Assert.That((3 - A).ToArray<long>(), Is.EqualTo(new long[] { -4, 10, -4, 10, 3, -2 }));
        Assert.That((-A).ToArray<long>(), Is.EqualTo(new long[] { -7, 7, -7, 7, 0, -5 }));
        Assert.That(A.Pow(L(2)).ToArray<long>(), Is.EqualTo(new long[] { 49, 49, 49, 49, 0, 25 }));
        Assert.That((A * B).ToArray<long>(), Is.EqualTo(new long[] { 14, -14, -14, 14, 0, -25 }));
        Assert.That((L(1, 2) + L(10, 20, 30).Reshape(3, 1)).ToArray<long>(), Is.EqualTo(new long[] { 11, 12, 21, 22, 31, 32 }));
        Assert.That(Tensor.Maximum(A, B).ToArray<long>(), Is.EqualTo(new long[] { 7, 2, 7, -2, 3, 5 }));
        Assert.That(L(1L << 40).Mul(L(1L << 20)).ToArray<long>(), Is.EqualTo(new[] { 1L << 60 }));   // no float round trip
    }

    [Test]
    public void PromotionFollowsPyTorch()
    {
        Assert.That((A * 2.5).DType, Is.EqualTo(DType.Float32));
        Assert.That((A / 2).DType, Is.EqualTo(DType.Float32));
        var div = A / B;
        Assert.That(div.DType, Is.EqualTo(DType.Float32));
        Assert.That(div.ToArray<float>(), Is.EqualTo(new[] { 3.5f, -3.5f, -3.5f, 3.5f, 0f, -1f }));
        Assert.That((A + Tensor.Ones(6)).DType, Is.EqualTo(DType.Float32));
        Assert.That((Tensor.Ones([6], DType.Float64) * A).DType, Is.EqualTo(DType.Float64));
        Assert.That((Tensor.FromArray(new[] { true, false }) + 1).ToArray<long>(), Is.EqualTo(new long[] { 2, 1 }));
        // Two floating dtypes promote to the wider (TypePromotionTests covers the gradients' dtypes).
        Assert.That((Tensor.Ones(2) + Tensor.Ones([2], DType.Float64)).DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void GradientFlowsToTheFloatingOperandOnly()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0, 3.0 }).RequiresGrad_();
        var n = L(2, 3, 4);
        ((x * n).Sum() + (x / n).Sum()).Backward();
        V.Equal(x.Grad!, [2.5, 3 + 1 / 3.0, 4.25]);
    }

    [Test]
    public void IntegerReductionsAreExactInt64()
    {
        var s = A.Sum();
        Assert.That(s.DType, Is.EqualTo(DType.Int64));
        Assert.That(s.Item<long>(), Is.EqualTo(5));
        Assert.That(L(1L << 62, 3).Sum().Item<long>(), Is.EqualTo(4611686018427387907L));   // beyond 2^53
        Assert.That(A.Max().Item<long>(), Is.EqualTo(7));
        Assert.That(A.Min().Item<long>(), Is.EqualTo(-7));
        Assert.That(A.ArgMax().Item<long>(), Is.EqualTo(0));
        var m = L(3, 9, 2, 9, 1, 9).Reshape(2, 3);
        var (values, indices) = m.Max(1);
        Assert.That(values.ToArray<long>(), Is.EqualTo(new long[] { 9, 9 }));
        Assert.That(indices.ToArray<long>(), Is.EqualTo(new long[] { 1, 0 }));
        Assert.That(m.Sum(0).ToArray<long>(), Is.EqualTo(new long[] { 12, 10, 11 }));
        Assert.That(m.ArgMax(0).ToArray<long>(), Is.EqualTo(new long[] { 1, 0, 1 }));
        Assert.That(Tensor.FromArray(new[] { true, false, true }).Sum().DType, Is.EqualTo(DType.Int64));
        var ex = Assert.Throws<ArgumentException>(() => A.Mean());
        Assert.That(ex!.Message, Does.StartWith("Mean:").And.Contain("Int64"));
    }

    [Test]
    public void ComparisonOperatorsReturnBoolTensors()
    {
        Assert.That((A > 2.5).ToArray<bool>(), Is.EqualTo(new[] { true, false, true, false, false, true }));
        Assert.That((A >= 5).ToArray<bool>(), Is.EqualTo(new[] { true, false, true, false, false, true }));
        Assert.That((A < Tensor.Scalar(0.5)).ToArray<bool>(), Is.EqualTo(new[] { false, true, false, true, true, false }));
        Assert.That((2 <= A).ToArray<bool>(), Is.EqualTo(new[] { true, false, true, false, false, true }));
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f });
        var y = Tensor.FromArray(new[] { 3f, 2f, 1f });
        Assert.That((x < y).ToArray<bool>(), Is.EqualTo(new[] { true, false, false }));
        Assert.That((x >= y).ToArray<bool>(), Is.EqualTo(new[] { false, true, true }));
        Assert.That((x > y).DType, Is.EqualTo(DType.Bool));
        Assert.That(A.Gt(L(0)).Sum().Item<long>(), Is.EqualTo(3));
    }
}
