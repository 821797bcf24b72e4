using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

[TestFixture]
public class InitTests
{
    private static (double Mean, double Std, double MaxAbs) Stats(Tensor t)
    {
        var v = Values(t);
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average()), v.Max(Math.Abs));
    }

    [Test]
    public void GainsMatchPyTorch()
    {
        Assert.That(Init.CalculateGain("linear"), Is.EqualTo(1));
        Assert.That(Init.CalculateGain("sigmoid"), Is.EqualTo(1));
        Assert.That(Init.CalculateGain("conv2d"), Is.EqualTo(1));
        Assert.That(Init.CalculateGain("tanh"), Is.EqualTo(5.0 / 3));
        Assert.That(Init.CalculateGain("relu"), Is.EqualTo(Math.Sqrt(2)));
        Assert.That(Init.CalculateGain("leaky_relu"), Is.EqualTo(Math.Sqrt(2 / (1 + 0.0001))));
        Assert.That(Init.CalculateGain("leaky_relu", Math.Sqrt(5)), Is.EqualTo(Math.Sqrt(1.0 / 3)).Within(1e-15));
        Assert.That(Init.CalculateGain("selu"), Is.EqualTo(0.75));
        Assert.Throws<ArgumentException>(() => Init.CalculateGain("swish"));
    }

    [Test]
    public void FansIncludeTheReceptiveField()
    {
        Assert.That(Init.CalculateFanInAndFanOut(Tensor.Zeros(8, 3)), Is.EqualTo((3, 8)));
        Assert.That(Init.CalculateFanInAndFanOut(Tensor.Zeros(16, 4, 3, 3)), Is.EqualTo((36, 144)));
        Assert.Throws<ArgumentException>(() => Init.CalculateFanInAndFanOut(Tensor.Zeros(5)));
    }

    [Test]
    public void UniformAndNormalFillInPlaceUnderNoGrad()
    {
        var p = Tensor.Zeros([200, 100], DType.Float64, requiresGrad: true);
        Assert.That(Init.Uniform(p, -2, 3, new Generator(1)), Is.SameAs(p));
        var (mean, std, _) = Stats(p);
        Assert.That(Values(p).All(v => v >= -2 && v < 3), Is.True);
        Assert.That(mean, Is.EqualTo(0.5).Within(0.05));
        Assert.That(std, Is.EqualTo(5 / Math.Sqrt(12)).Within(0.03));
        Assert.That(p.IsLeaf && p.RequiresGrad, Is.True);
        Init.Normal(p, 1, 2, new Generator(2));
        (mean, std, _) = Stats(p);
        Assert.That(mean, Is.EqualTo(1).Within(0.05));
        Assert.That(std, Is.EqualTo(2).Within(0.05));
        Init.Constant(p, 0.25);
        Assert.That(Values(p).Distinct(), Is.EqualTo(new[] { 0.25 }));
        Assert.That(Values(Init.Eye(Tensor.Zeros(2, 3))), Is.EqualTo(new double[] { 1, 0, 0, 0, 1, 0 }));
        var tn = Init.TruncNormal(Tensor.Zeros(1000), 0, 1, -0.5, 0.5, new Generator(3));
        Assert.That(Values(tn).All(v => v >= -0.5 && v <= 0.5), Is.True);
    }

    [TestCase(DType.Float32)]
    [TestCase(DType.Float64)]
    public void InPlaceFillsDrawTheValuesOfRandTimesScalePlusShift(DType dtype)
    {
        // Contiguous tensors are filled without temporaries; the values must be those of the expression, bit for bit,
        // and strided views (filled through temporaries) must agree too.
        var u = Init.Uniform(Tensor.Zeros([300, 7], dtype), -0.3, 0.7, new Generator(5));
        var n = Init.Normal(Tensor.Zeros([300, 7], dtype), 0.25, 1.5, new Generator(6));
        var uRef = Tensor.Rand([300, 7], dtype, new Generator(5)) * (0.7 - -0.3) + -0.3;
        var nRef = Tensor.Randn([300, 7], dtype, new Generator(6)) * 1.5 + 0.25;
        var view = Tensor.Zeros([7, 300], dtype).T;
        Init.Normal(view, 0.25, 1.5, new Generator(6));
        if (dtype == DType.Float32)
        {
            Assert.That(u.ToArray<float>(), Is.EqualTo(uRef.ToArray<float>()));
            Assert.That(n.ToArray<float>(), Is.EqualTo(nRef.ToArray<float>()));
            Assert.That(view.Contiguous().ToArray<float>(), Is.EqualTo(nRef.ToArray<float>()));
        }
        else
        {
            Assert.That(u.ToArray<double>(), Is.EqualTo(uRef.ToArray<double>()));
            Assert.That(n.ToArray<double>(), Is.EqualTo(nRef.ToArray<double>()));
            Assert.That(view.Contiguous().ToArray<double>(), Is.EqualTo(nRef.ToArray<double>()));
        }
        Assert.That(Values(u).Min(), Is.GreaterThanOrEqualTo(-0.3));
        Assert.That(Values(u).Max(), Is.LessThan(0.7));
    }

    [Test]
    public void XavierAndKaimingScales()
    {
        var w = Tensor.Zeros([300, 200], DType.Float64);
        Init.XavierUniform(w, generator: new Generator(1));
        Assert.That(Stats(w).MaxAbs, Is.LessThanOrEqualTo(Math.Sqrt(6.0 / 500)).And.GreaterThan(0.99 * Math.Sqrt(6.0 / 500)));
        Init.XavierNormal(w, gain: 2, generator: new Generator(2));
        Assert.That(Stats(w).Std, Is.EqualTo(2 * Math.Sqrt(2.0 / 500)).Within(0.02 * 2 * Math.Sqrt(2.0 / 500)));
        Init.KaimingUniform(w, mode: "fan_in", nonlinearity: "relu", generator: new Generator(3));
        double bound = Math.Sqrt(2) * Math.Sqrt(3.0 / 200);
        Assert.That(Stats(w).MaxAbs, Is.LessThanOrEqualTo(bound).And.GreaterThan(0.99 * bound));
        Init.KaimingNormal(w, mode: "fan_out", nonlinearity: "relu", generator: new Generator(4));
        Assert.That(Stats(w).Std, Is.EqualTo(Math.Sqrt(2.0 / 300)).Within(0.02 * Math.Sqrt(2.0 / 300)));
        Assert.Throws<ArgumentException>(() => Init.KaimingNormal(w, mode: "fan_avg"));
        Assert.Throws<ArgumentException>(() => Init.Normal(Tensor.Zeros([2], DType.Int64)));
    }

    [Test]
    public void LayerDefaultsAreOnesAndZerosForNorms()
    {
        var bn = new BatchNorm1d(3);
        Assert.That(bn.Weight!.ToArray<float>(), Is.EqualTo(new[] { 1f, 1f, 1f }));
        Assert.That(bn.Bias!.ToArray<float>(), Is.EqualTo(new[] { 0f, 0f, 0f }));
        Assert.That(bn.RunningMean!.ToArray<float>(), Is.EqualTo(new[] { 0f, 0f, 0f }));
        Assert.That(bn.RunningVar!.ToArray<float>(), Is.EqualTo(new[] { 1f, 1f, 1f }));
        Assert.That(new LayerNorm(4, elementwiseAffine: false).Parameters(), Is.Empty);
        Assert.That(new Linear(3, 2, dtype: DType.Float64).Weight.DType, Is.EqualTo(DType.Float64));
    }
}
