namespace DeepSharp.Tests.Tensors;

/// <summary>Factory functions: shapes, dtypes, values, and reproducible randomness.</summary>
[TestFixture]
public class CreationTests
{
    [Test]
    public void ConstantsHaveShapeDTypeAndValue([Values(DType.Float32, DType.Float64, DType.Int64)] DType dt)
    {
        var z = Tensor.Zeros([2, 3], dt);
        Assert.That((z.Shape, z.DType, z.NumEl, z.IsContiguous), Is.EqualTo((new[] { 2, 3 }, dt, 6, true)));
        Assert.That(z.Double().ToArray<double>(), Has.All.EqualTo(0.0));
        Assert.That(Tensor.Ones([4], dt).Double().ToArray<double>(), Has.All.EqualTo(1.0));
        Assert.That(Tensor.Full([2, 2], 7, dt).Double().ToArray<double>(), Has.All.EqualTo(7.0));
        Assert.That(Tensor.ZerosLike(z).Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(Tensor.OnesLike(z, DType.Bool).DType, Is.EqualTo(DType.Bool));
        Assert.That(Tensor.FullLike(z, 3).Double().ToArray<double>(), Has.All.EqualTo(3.0));
    }

    [Test]
    public void DefaultsAreFloat32()
    {
        Assert.That(Tensor.Zeros(2, 3).DType, Is.EqualTo(DType.Float32));
        Assert.That(Tensor.Ones(2).DType, Is.EqualTo(DType.Float32));
        Assert.That(Tensor.Rand(2).DType, Is.EqualTo(DType.Float32));
        Assert.That(Tensor.Arange(3.0).DType, Is.EqualTo(DType.Float32));
        Assert.That(Tensor.Arange(3).DType, Is.EqualTo(DType.Int64));   // integer arguments, as torch.arange
        Assert.That(Tensor.RandInt(0, 3, [2]).DType, Is.EqualTo(DType.Int64));
    }

    [Test]
    public void RanksZeroToThree()
    {
        var s = Tensor.Scalar(2.5, DType.Float64);
        Assert.That((s.Dim, s.NumEl, s.Item()), Is.EqualTo((0, 1, 2.5)));
        Assert.That(Tensor.FromArray(new[] { 1f, 2f }).Shape, Is.EqualTo(new[] { 2 }));
        var m = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.That((m.Shape, m.DType), Is.EqualTo((new[] { 2, 3 }, DType.Float64)));
        Assert.That(m.ToArray<double>(), Is.EqualTo(new double[] { 1, 2, 3, 4, 5, 6 }));
        var c = Tensor.FromArray(new long[,,] { { { 1 }, { 2 } }, { { 3 }, { 4 } } });
        Assert.That((c.Shape, c.DType), Is.EqualTo((new[] { 2, 2, 1 }, DType.Int64)));
        Assert.That(Tensor.FromArray(new[] { 1, 2 }).DType, Is.EqualTo(DType.Int64), "int becomes Int64");
        Assert.That(Tensor.FromArray(new[] { true, false }).DType, Is.EqualTo(DType.Bool));
        Assert.That(Tensor.FromArray(new[] { 1.0, 2, 3, 4, 5, 6 }, 3, 2).Shape, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(Tensor.Zeros([0, 3], DType.Float32).NumEl, Is.EqualTo(0));
    }

    [Test]
    public void FromArrayCopiesButFromBufferShares()
    {
        var data = new[] { 1.0, 2.0 };
        var copy = Tensor.FromArray(data);
        var shared = Tensor.FromBuffer(data, 2);
        data[0] = 9;
        Assert.That(copy.ToArray<double>()[0], Is.EqualTo(1.0));
        Assert.That(shared.ToArray<double>()[0], Is.EqualTo(9.0));
    }

    [Test]
    public void RangesAndIdentity()
    {
        Assert.That(Tensor.Arange(5).ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 2, 3, 4 }));
        Assert.That(Tensor.Arange(5, DType.Float32).ToArray<float>(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4 }));
        Assert.That(Tensor.Arange(0.0, 5).ToArray<float>(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4 }));
        Assert.That(Tensor.Arange(2, 9, 3).ToArray<long>(), Is.EqualTo(new long[] { 2, 5, 8 }));
        Assert.That(Tensor.Arange(5, -2, -3).ToArray<long>(), Is.EqualTo(new long[] { 5, 2, -1 }));
        Assert.That(Tensor.Arange(4, 4).NumEl, Is.EqualTo(0));
        Assert.That(Tensor.Arange(1, 2, 0.25, DType.Float64).ToArray<double>(), Is.EqualTo(new[] { 1, 1.25, 1.5, 1.75 }));
        Assert.That(Tensor.Arange(3, 0, -1, DType.Int64).ToArray<long>(), Is.EqualTo(new long[] { 3, 2, 1 }));
        Assert.That(Tensor.Linspace(0, 1, 5, DType.Float64).ToArray<double>(), Is.EqualTo(new[] { 0, 0.25, 0.5, 0.75, 1 }));
        Assert.That(Tensor.Linspace(-1, 1, 1).ToArray<float>(), Is.EqualTo(new[] { -1f }));
        Assert.That(Tensor.Linspace(0, 1, 0).NumEl, Is.EqualTo(0));
        var eye = Tensor.Eye(2, 3, DType.Float64);
        Assert.That(eye.ToArray<double>(), Is.EqualTo(new double[] { 1, 0, 0, 0, 1, 0 }));
        Assert.That(Tensor.Eye(3).Shape, Is.EqualTo(new[] { 3, 3 }));
    }

    [Test]
    public void RandomValuesHaveTheirDistribution()
    {
        var gen = new Generator(11);
        var u = Tensor.Rand([2000], DType.Float64, gen).ToArray<double>();
        Assert.That(u, Has.All.InRange(0.0, 1.0 - 1e-17));
        Assert.That(u.Average(), Is.EqualTo(0.5).Within(0.03));
        var n = Tensor.Randn([4000], DType.Float64, gen).ToArray<double>();
        Assert.That(n.Average(), Is.EqualTo(0).Within(0.06));
        Assert.That(Math.Sqrt(n.Select(v => v * v).Average()), Is.EqualTo(1).Within(0.05));
        var ints = Tensor.RandInt(-2, 3, [500], generator: gen).ToArray<long>();
        Assert.That(ints, Has.All.InRange(-2L, 2L));
        Assert.That(ints.Distinct().Count(), Is.EqualTo(5));
        var perm = Tensor.RandPerm(10, gen).ToArray<long>();
        Assert.That(perm.Order(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)));
        Assert.That(Tensor.RandLike(Tensor.Zeros([3], DType.Float64), gen).DType, Is.EqualTo(DType.Float64));
        Assert.That(Tensor.RandnLike(Tensor.Zeros([3, 1], DType.Float32), gen).Shape, Is.EqualTo(new[] { 3, 1 }));
    }

    [Test]
    [NonParallelizable]
    public void ManualSeedMakesTheDefaultGeneratorReproducible()
    {
        Torch.ManualSeed(1234);
        var a = Tensor.Randn(5).ToArray<float>();
        var ai = Tensor.RandInt(0, 100, [5]).ToArray<long>();
        Torch.ManualSeed(1234);
        Assert.That(Tensor.Randn(5).ToArray<float>(), Is.EqualTo(a));
        Assert.That(Tensor.RandInt(0, 100, [5]).ToArray<long>(), Is.EqualTo(ai));
        Torch.ManualSeed(1235);
        Assert.That(Tensor.Randn(5).ToArray<float>(), Is.Not.EqualTo(a));
        var state = Torch.GetRngState();
        var next = Tensor.Rand(3).ToArray<float>();
        Torch.SetRngState(state);
        Assert.That(Tensor.Rand(3).ToArray<float>(), Is.EqualTo(next));
    }

    [Test]
    public void ExplicitGeneratorsAreIndependentAndReproducible()
    {
        var g1 = new Generator(7);
        var first = Tensor.Randn([6], DType.Float64, g1).ToArray<double>();
        Tensor.Rand(100); // the default generator does not disturb g1's stream
        var g2 = new Generator(7);
        Assert.That(Tensor.Randn([6], DType.Float64, g2).ToArray<double>(), Is.EqualTo(first));
        Assert.That(Tensor.Randn([6], DType.Float64, g1).ToArray<double>(), Is.Not.EqualTo(first));
        g1.ManualSeed(7);
        Assert.That(Tensor.Randn([6], DType.Float64, g1).ToArray<double>(), Is.EqualTo(first));
        Assert.That(g1.InitialSeed, Is.EqualTo(7));
    }

    [Test]
    public void RequiresGradFlags()
    {
        Assert.That(Tensor.Zeros([2], DType.Float64, requiresGrad: true).RequiresGrad, Is.True);
        Assert.That(Tensor.Randn([2], DType.Float32, requiresGrad: true).IsLeaf, Is.True);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2], DType.Int64, requiresGrad: true));
    }
}
