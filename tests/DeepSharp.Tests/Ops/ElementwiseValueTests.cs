namespace DeepSharp.Tests.Ops;

using static V;

/// <summary>Hand-worked forward values of arithmetic, element-wise math and activations, in float32 and float64.</summary>
[TestFixture]
public class ElementwiseValueTests
{
    [Test]
    public void Arithmetic([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var a = T(dt, 1, 2, 3);
        var b = T(dt, 4, -5, 0.5);
        Equal(a + b, [5, -3, 3.5]);
        Equal(a - b, [-3, 7, 2.5]);
        Equal(a * b, [4, -10, 1.5]);
        Equal(a / b, [0.25, -0.4, 6]);
        Equal(-a, [-1, -2, -3]);
        Equal(a + 1.5, [2.5, 3.5, 4.5]);
        Equal(1.5 + a, [2.5, 3.5, 4.5]);
        Equal(a - 1, [0, 1, 2]);
        Equal(10 - a, [9, 8, 7]);
        Equal(a * 2, [2, 4, 6]);
        Equal(2 * a, [2, 4, 6]);
        Equal(a / 4, [0.25, 0.5, 0.75]);
        Equal(6 / a, [6, 3, 2]);
        Equal(a.Add(b, 2), [9, -8, 4]);
        Assert.That((a + b).DType, Is.EqualTo(dt));
    }

    [Test]
    public void BroadcastingColumnPlusRow([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var col = T(dt, [0, 10, 20], 3, 1);
        var row = T(dt, 1, 2, 3, 4);
        Equal(col + row, [1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24], [3, 4]);
        Equal(Tensor.Scalar(2, dt) * row, [2, 4, 6, 8]);
    }

    [Test]
    public void Powers([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 1, 2, 3);
        Equal(x.Pow(2), [1, 4, 9]);
        Equal(x.Pow(0.5), [1, Math.Sqrt(2), Math.Sqrt(3)]);
        Equal(x.Pow(-1), [1, 0.5, 1 / 3.0]);
        Equal(x.Pow(T(dt, 3, 2, 1)), [1, 4, 3]);
        Equal(Tensor.Pow(2, x), [2, 4, 8]);
        Equal(x.Square(), [1, 4, 9]);
    }

    [Test]
    public void MathFunctions([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 0.5, 1, 4);
        Equal(x.Exp(), [1.6487212707001282, Math.E, 54.598150033144236], dt == DType.Float32 ? 1e-5 : 1e-12);
        Equal(x.Log(), [-0.6931471805599453, 0, 1.3862943611198906]);
        Equal(x.Sqrt(), [0.7071067811865476, 1, 2]);
        Equal(x.Rsqrt(), [1.4142135623730951, 1, 0.5]);
        Equal(T(dt, -2, 0, 3).Abs(), [2, 0, 3]);
        Equal(T(dt, -2, 0, 3).Sign(), [-1, 0, 1]);
        Equal(T(dt, 0.5).Tanh(), [0.46211715726000974]);
        Equal(T(dt, 0, 1).Sigmoid(), [0.5, 0.7310585786300049]);
        Equal(T(dt, 0, Math.PI / 6).Sin(), [0, 0.5], 1e-6);
        Equal(T(dt, 0, Math.PI / 3).Cos(), [1, 0.5], 1e-6);
        Equal(T(dt, 0, 0.5, -1, 3).Erf(), [0, 0.5204998778130465, -0.8427007929497149, 0.9999779095030014], dt == DType.Float32 ? 1e-6 : 1e-14);
    }

    [Test]
    public void Activations([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, -2, 0, 1);
        Equal(x.Relu(), [0, 0, 1]);
        Equal(x.LeakyRelu(0.1), [-0.2, 0, 1]);
        Equal(x.LeakyRelu(), [-0.02, 0, 1]);
        // PyTorch: F.gelu(torch.tensor([-2., 0., 1.])) and approximate='tanh'.
        Equal(x.Gelu(), [-0.04550026389635842, 0, 0.8413447460685429], 1e-6);
        Equal(x.Gelu("tanh"), [-0.04540230591222, 0, 0.8411919906082768], 1e-6);
        Equal(x.Silu(), [-0.23840584404423515, 0, 0.7310585786300049], 1e-6);
        Equal(T(dt, -3, 0.5, 9).Clamp(-1, 2), [-1, 0.5, 2]);
        Equal(T(dt, -3, 0.5, 9).Clamp(min: 0), [0, 0.5, 9]);
        Equal(T(dt, -3, 0.5, 9).Clamp(max: 0), [-3, 0, 0]);
        Equal(Tensor.Maximum(T(dt, 1, 5), T(dt, 3, 2)), [3, 5]);
        Equal(Tensor.Minimum(T(dt, 1, 5), T(dt, 3, 2)), [1, 2]);
    }

    [Test]
    public void GradientsAtKinksFollowPyTorch()
    {
        var x = Tensor.FromArray(new[] { -1.0, 0.0, 2.0 });
        Assert.That(Grad(t => t.Relu(), x), Is.EqualTo(new[] { 0.0, 0.0, 1.0 }));
        Assert.That(Grad(t => t.Abs(), x), Is.EqualTo(new[] { -1.0, 0.0, 1.0 }));
        Assert.That(Grad(t => t.LeakyRelu(0.1), x), Is.EqualTo(new[] { 0.1, 0.1, 1.0 }).Within(1e-15));
        // Clamp passes the gradient at the bounds themselves.
        Assert.That(Grad(t => t.Clamp(0, 2), x), Is.EqualTo(new[] { 0.0, 1.0, 1.0 }));
        // Ties in Maximum/Minimum split the gradient.
        var y = Tensor.FromArray(new[] { -1.0, 1.0, 2.0 });
        Assert.That(Grad(t => Tensor.Maximum(t, y), x), Is.EqualTo(new[] { 0.5, 0.0, 0.5 }));
        Assert.That(Grad(t => Tensor.Minimum(t, y), x), Is.EqualTo(new[] { 0.5, 1.0, 0.5 }));
    }

    [Test]
    public void Float32RoundTripGradientIsExactAndFloat64()
    {
        var x = Tensor.FromArray(new[] { 0.1, -2.5, 3.0 }).RequiresGrad_();
        (x.To(DType.Float32).To(DType.Float64) * 3.0).Sum().Backward();
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.Float64));
        Assert.That(x.Grad.ToArray<double>(), Is.EqualTo(new[] { 3.0, 3.0, 3.0 }));
        var f = Tensor.FromArray(new[] { 1.5f, 2f }).RequiresGrad_();
        (f.Double() * f.Double()).Sum().Backward();
        Assert.That(f.Grad!.DType, Is.EqualTo(DType.Float32));
        Assert.That(f.Grad.ToArray<float>(), Is.EqualTo(new[] { 3f, 4f }));
    }
}
