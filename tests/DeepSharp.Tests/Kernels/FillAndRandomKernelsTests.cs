using System.Buffers.Binary;
using DeepSharp.Kernels;
using FsCheck;
using FsCheck.Fluent;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The fill, random, classification, comparison, class-target and decode kernels moved out of Ops/NN/Functional/Data/IO:
/// each against the loop it replaced (written here as the reference), bit for bit.
/// </summary>
[TestFixture, Category("Kernels")]
public class FillAndRandomKernelsTests
{
    private static FsCheck.Property ForAll<T>(Gen<T> gen, Action<T> body) => Prop.ForAll(Arb.From(gen), body);

    private static readonly Gen<(int N, int M, int Diagonal)> TriangleCase =
        from n in Gen.Choose(0, 9) from m in Gen.Choose(0, 9) from k in Gen.Choose(-10, 10) select (n, m, k);

    [Property(MaxTest = 60)]
    public FsCheck.Property TriangleMask_MatchesDefinition() => ForAll(TriangleCase, c =>
    {
        foreach (bool lower in new[] { true, false })
        {
            var d = new bool[c.N * c.M];
            FillKernels.TriangleMask(d, c.N, c.M, c.Diagonal, lower);
            for (int i = 0; i < c.N; i++)
                for (int j = 0; j < c.M; j++)
                    Assert.That(d[i * c.M + j], Is.EqualTo(lower ? j - i <= c.Diagonal : j - i >= c.Diagonal), $"({i}, {j}) lower={lower}");
        }
    });

    [Test]
    public void TriangleMask_HandWorked()
    {
        var d = new bool[6];
        FillKernels.TriangleMask(d, 2, 3, 0, lower: true);
        Assert.That(d, Is.EqualTo(new[] { true, false, false, true, true, false }));
        FillKernels.TriangleMask(d, 2, 3, 1, lower: false);
        Assert.That(d, Is.EqualTo(new[] { false, true, true, false, false, true }));
    }

    [Test]
    public void CausalMask_IsMinusInfinityAboveTheDiagonal([Values(0, 1, 2, 5, 17)] int size)
    {
        var d = new double[size * size];
        d.AsSpan().Fill(42);   // every element is written
        FillKernels.CausalMask(d, size, size);
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                Assert.That(d[i * size + j], Is.EqualTo(j > i ? double.NegativeInfinity : 0.0), $"({i}, {j})");
    }

    [Test]
    public void OneHot_OneOnePerRow()
    {
        long[] idx = [2, 0, 3, 3];
        var d = new long[16];
        d.AsSpan().Fill(7);
        FillKernels.OneHot(idx, d, 4);
        Assert.That(d, Is.EqualTo(new long[] { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 }));
    }

    [Test]
    public void SinusoidalTable_BitIdenticalToTheTutorialLoop([Values(1, 2, 7, 16)] int dModel)
    {
        const int maxLen = 11;
        var expected = new double[maxLen * dModel];
        var divTerm = new double[(dModel + 1) / 2];
        for (int i = 0; i < dModel; i += 2) divTerm[i / 2] = Math.Exp(i * (-Math.Log(10000.0) / dModel));
        for (int pos = 0; pos < maxLen; pos++)
            for (int i = 0; i < dModel; i += 2)
            {
                double angle = pos * divTerm[i / 2];
                expected[pos * dModel + i] = Math.Sin(angle);
                if (i + 1 < dModel) expected[pos * dModel + i + 1] = Math.Cos(angle);
            }
        var d = new double[maxLen * dModel];
        FillKernels.SinusoidalTable(d, maxLen, dModel);
        Assert.That(d, Is.EqualTo(expected));
        Assert.That(d[1 * dModel + 0], Is.EqualTo(Math.Sin(1.0)));   // pos 1, column 0: sin(1)
    }

    [Test]
    public void Uniform_And_Normal_DrawInElementOrder([Values(0, 1, 9, 100)] int n)
    {
        var f = new float[n]; var dd = new double[n];
        RandomKernels.Uniform<float>(f, new Generator(5));
        RandomKernels.Uniform<double>(dd, new Generator(5));
        var g = new Generator(5);
        for (int i = 0; i < n; i++)
        {
            double v = g.NextDouble();
            Assert.That(dd[i], Is.EqualTo(v));
            Assert.That(f[i], Is.EqualTo((float)v));
            Assert.That(v, Is.InRange(0.0, 1.0));
        }
        RandomKernels.Normal<float>(f, new Generator(6));
        RandomKernels.Normal<double>(dd, new Generator(6));
        g = new Generator(6);
        for (int i = 0; i < n; i++)
        {
            double v = g.NextNormal();
            Assert.That(dd[i], Is.EqualTo(v));
            Assert.That(f[i], Is.EqualTo((float)v));
        }
    }

    [Test]
    public void RandAndRandn_MatchTheKernels()
    {
        var t = Tensor.Rand([3, 4], DType.Float32, new Generator(11));
        var f = new float[12];
        RandomKernels.Uniform<float>(f, new Generator(11));
        Assert.That(t.ToArray<float>(), Is.EqualTo(f));
        var u = Tensor.Randn([5], DType.Float64, new Generator(12));
        var d = new double[5];
        RandomKernels.Normal<double>(d, new Generator(12));
        Assert.That(u.ToArray<double>(), Is.EqualTo(d));
    }

    [Test]
    public void TruncNormal_RedrawsOutside([Values(0.5, 1.0)] double bound)
    {
        var d = new double[200];
        RandomKernels.TruncNormal(d, 0.1, 1, -bound, bound, new Generator(3));
        Assert.That(d, Has.All.InRange(-bound, bound));
        var g = new Generator(3);
        double first;
        do first = 0.1 + g.NextNormal(); while (first < -bound || first > bound);
        Assert.That(d[0], Is.EqualTo(first));
    }

    [Property(MaxTest = 40)]
    public FsCheck.Property Shuffle_IsTheFisherYatesPermutation() => ForAll(
        from n in Gen.Choose(0, 40) from seed in Gen.Choose(0, 1000) select (n, seed), c =>
        {
            var data = Enumerable.Range(0, c.n).ToArray();
            RandomKernels.Shuffle<int>(data, new Generator(c.seed));
            var expected = Enumerable.Range(0, c.n).ToArray();
            var g = new Generator(c.seed);
            for (int i = c.n - 1; i > 0; i--)
            {
                int j = (int)g.NextInt64(0, i + 1);
                (expected[i], expected[j]) = (expected[j], expected[i]);
            }
            Assert.That(data, Is.EqualTo(expected));
            Assert.That(data.Order(), Is.EqualTo(Enumerable.Range(0, c.n)));
            var perm = Tensor.RandPerm(c.n, new Generator(c.seed)).ToArray<long>();
            Assert.That(perm, Is.EqualTo(expected.Select(v => (long)v)));
        });

    [Test]
    public void Classify_AllClasses()
    {
        double[] x = [0, -1.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, double.Epsilon];
        var d = new bool[x.Length];
        FloatClassKernels.Classify<double>(x, d, FloatClass.NaN);
        Assert.That(d, Is.EqualTo(new[] { false, false, true, false, false, false, false }));
        FloatClassKernels.Classify<double>(x, d, FloatClass.Infinite);
        Assert.That(d, Is.EqualTo(new[] { false, false, false, true, true, false, false }));
        FloatClassKernels.Classify<double>(x, d, FloatClass.Finite);
        Assert.That(d, Is.EqualTo(new[] { true, true, false, false, false, true, true }));
        float[] f = [float.NaN, float.NegativeInfinity, 3f];
        var e = new bool[3];
        FloatClassKernels.Classify<float>(f, e, FloatClass.Finite);
        Assert.That(e, Is.EqualTo(new[] { false, false, true }));
        Assert.That(FloatClassKernels.AnyNaN<float>(f), Is.True);
        Assert.That(FloatClassKernels.AnyNaN<float>([1f, float.PositiveInfinity]), Is.False);
    }

    [Test]
    public void AllClose_AsTorch()
    {
        Assert.That(CompareKernels.AllClose<double>([1, 2], [1, 2 + 1e-9], 1e-5, 1e-8), Is.True);
        Assert.That(CompareKernels.AllClose<double>([1, 2], [1, 2.1], 1e-5, 1e-8), Is.False);
        Assert.That(CompareKernels.AllClose<double>([double.NaN], [double.NaN], 1e-5, 1e-8), Is.False);
        Assert.That(CompareKernels.AllClose<double>([double.PositiveInfinity], [double.PositiveInfinity], 1e-5, 1e-8), Is.True);
        Assert.That(CompareKernels.AllClose<double>([double.PositiveInfinity], [double.NegativeInfinity], 1e-5, 1e-8), Is.False);
        // torch.allclose(tensor([1.]), tensor([inf])) is False: rtol·|inf| must not make a finite value close to ∞.
        Assert.That(CompareKernels.AllClose<double>([1], [double.PositiveInfinity], 1e-5, 1e-8), Is.False);
        Assert.That(CompareKernels.AllClose<float>([1f], [1.000005f], 1e-5, 1e-8), Is.True);
        Assert.That(Tensor.FromArray(new[] { 1f }).AllClose(Tensor.FromArray(new[] { float.PositiveInfinity })), Is.False);
        Assert.That(Tensor.FromArray(new[] { 1f, 2f }).AllClose(Tensor.FromArray(new[] { 1.0, 2.0 })), Is.True);
    }

    [Test]
    public void ClassTargets_SafeKeepAndFirstBad()
    {
        long[] t = [2, -100, 0, 1];
        var safe = new long[4]; var keep = new bool[4];
        Assert.That(LossKernels.ClassTargets(t, 3, -100, safe, keep), Is.EqualTo(-1));
        Assert.That(safe, Is.EqualTo(new long[] { 2, 0, 0, 1 }));
        Assert.That(keep, Is.EqualTo(new[] { true, false, true, true }));
        Assert.That(LossKernels.ClassTargets([0, 3, -1], 3, -100, new long[3], new bool[3]), Is.EqualTo(1));
        Assert.That(LossKernels.ClassTargets([-1], 3, -100, new long[1], new bool[1]), Is.EqualTo(0));
    }

    [Test]
    public void Decode_EveryElementType()
    {
        var be = new byte[8];
        BinaryPrimitives.WriteInt16BigEndian(be, -300); BinaryPrimitives.WriteInt16BigEndian(be.AsSpan(2), 7);
        var l = new long[2];
        DecodeKernels.Int16ToInt64(be, l, bigEndian: true);
        Assert.That(l, Is.EqualTo(new long[] { -300, 7 }));
        BinaryPrimitives.WriteInt32LittleEndian(be, -70000); BinaryPrimitives.WriteInt32LittleEndian(be.AsSpan(4), 5);
        DecodeKernels.Int32ToInt64(be, l, bigEndian: false);
        Assert.That(l, Is.EqualTo(new long[] { -70000, 5 }));
        DecodeKernels.Int8ToInt64([0xFF, 0x05], l);
        Assert.That(l, Is.EqualTo(new long[] { -1, 5 }));
        DecodeKernels.UInt8ToInt64([0xFF, 0x05], l);
        Assert.That(l, Is.EqualTo(new long[] { 255, 5 }));
        var b = new bool[3];
        DecodeKernels.UInt8ToBool([0, 2, 1], b);
        Assert.That(b, Is.EqualTo(new[] { false, true, true }));
        var f = new float[2];
        DecodeKernels.UInt8ToFloat([0, 255], f, scale: true);
        Assert.That(f, Is.EqualTo(new[] { 0f, 1f }));
        DecodeKernels.UInt8ToFloat([3, 255], f, scale: false);
        Assert.That(f, Is.EqualTo(new[] { 3f, 255f }));
        BinaryPrimitives.WriteSingleBigEndian(be, -2.5f); BinaryPrimitives.WriteSingleBigEndian(be.AsSpan(4), 1e-3f);
        DecodeKernels.Float32BigEndian(be, f);
        Assert.That(f, Is.EqualTo(new[] { -2.5f, 1e-3f }));
        var d = new double[1];
        BinaryPrimitives.WriteDoubleBigEndian(be, Math.PI);
        DecodeKernels.Float64BigEndian(be, d);
        Assert.That(d[0], Is.EqualTo(Math.PI));
        BinaryPrimitives.WriteHalfLittleEndian(be, (Half)1.5); BinaryPrimitives.WriteHalfLittleEndian(be.AsSpan(2), (Half)(-0.25));
        DecodeKernels.HalfToFloat(be, f);
        Assert.That(f, Is.EqualTo(new[] { 1.5f, -0.25f }));
        BinaryPrimitives.WriteUInt16LittleEndian(be, 0x3FC0); BinaryPrimitives.WriteUInt16LittleEndian(be.AsSpan(2), 0xC000);   // bf16 1.5, −2
        DecodeKernels.BFloat16ToFloat(be, f);
        Assert.That(f, Is.EqualTo(new[] { 1.5f, -2f }));
    }

    [Test]
    public void Linspace_And_Arange_AsTheFormerLoops([Values(0, 1, 2, 7, 10)] int steps)
    {
        // The former loop: fill from both ends so the last value is exactly end; then SetRaw's conversion per dtype.
        double start = -1.3, end = 2.9, step = steps > 1 ? (end - start) / (steps - 1) : 0;
        var expected = Enumerable.Range(0, steps).Select(i => steps == 1 || i < steps / 2 ? start + i * step : end - (steps - 1 - i) * step).ToArray();
        Assert.That(Tensor.Linspace(start, end, steps, DType.Float64).ToArray<double>(), Is.EqualTo(expected));
        Assert.That(Tensor.Linspace(start, end, steps, DType.Float32).ToArray<float>(), Is.EqualTo(expected.Select(v => (float)v)));
        Assert.That(Tensor.Linspace(start, end, steps, DType.Int64).ToArray<long>(), Is.EqualTo(expected.Select(v => (long)v)));
        Assert.That(Tensor.Linspace(start, end, steps, DType.Bool).ToArray<bool>(), Is.EqualTo(expected.Select(v => v != 0)));
        if (steps > 1) Assert.That(Tensor.Linspace(start, end, steps, DType.Float64).ToArray<double>()[^1], Is.EqualTo(end));
        var a = Tensor.Arange(0.5, 3.0, 0.7, DType.Float32).ToArray<float>();
        Assert.That(a, Is.EqualTo(new[] { 0.5f, (float)(0.5 + 0.7), (float)(0.5 + 2 * 0.7), (float)(0.5 + 3 * 0.7) }));
        Assert.That(Tensor.Arange(-3L, 8L, 4L).ToArray<long>(), Is.EqualTo(new long[] { -3, 1, 5 }));
    }

    [Test]
    public void RandInt_DrawsInOrder_EveryDType()
    {
        var g = new Generator(21);
        var expected = Enumerable.Range(0, 9).Select(_ => g.NextInt64(-5, 1L << 40)).ToArray();
        Assert.That(Tensor.RandInt(-5, 1L << 40, [3, 3], generator: new Generator(21)).ToArray<long>(), Is.EqualTo(expected));
        Assert.That(Tensor.RandInt(-5, 1L << 40, [9], DType.Float32, new Generator(21)).ToArray<float>(), Is.EqualTo(expected.Select(v => (float)(double)v)));
        Assert.That(Tensor.RandInt(-5, 1L << 40, [9], DType.Float64, new Generator(21)).ToArray<double>(), Is.EqualTo(expected.Select(v => (double)v)));
    }

    [Test]
    public void Eye_OnesOnTheDiagonalOnly([Values(0, 1, 3)] int n, [Values(0, 2, 5)] int m)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int64, DType.Bool })
        {
            var e = Tensor.Eye(n, m, dtype).To(DType.Float64).ToArray<double>();
            Assert.That(e.Length, Is.EqualTo(n * m));
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) Assert.That(e[i * m + j], Is.EqualTo(i == j ? 1.0 : 0.0), $"{dtype} ({i}, {j})");
        }
    }
}
