using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace DeepSharp.Tests.Generators;

/// <summary>The generators keep their promises: bounded sizes, broadcastable pairs, domains, layouts, replayable seeds.</summary>
[TestFixture]
public class TensorGenTests
{
    private static T Sample<T>(Gen<T> gen, int seed) => gen.Sample(1, new Rnd((ulong)seed, 7), 10)[0];

    private static FsCheck.Property ForAll<T>(Gen<T> gen, Action<T> body) => Prop.ForAll(Arb.From(gen), body);

    [Property(MaxTest = 100)]
    public FsCheck.Property ShapesAreBounded() => ForAll(TensorGen.Shape(maxRank: 4, maxDim: 6), s =>
    {
        Assert.That(s.Length, Is.InRange(0, 4));
        Assert.That(s, Has.All.InRange(1, 6));
        Assert.That(s.Aggregate(1, (a, b) => a * b), Is.LessThanOrEqualTo(TensorGen.DefaultMaxNumel));
    });

    [Property(MaxTest = 100)]
    public FsCheck.Property BroadcastPairsBroadcast() => ForAll(TensorGen.BroadcastPair(), p =>
    {
        var a = Tensor.Zeros(p.Left, DType.Float64);
        var b = Tensor.Zeros(p.Right, DType.Float64);
        Assert.That((a + b).Shape, Is.EqualTo(TensorGen.BroadcastShape(p.Left, p.Right)));
    });

    [Test]
    public void BroadcastPairsCoverSizeOneAndMissingLeadingDims()
    {
        var pairs = TensorGen.BroadcastPair().Sample(200, new Rnd(1UL, 3), 10);
        Assert.That(pairs.Any(p => p.Left.Length != p.Right.Length), "missing leading dims");
        Assert.That(pairs.Any(p => p.Left.Length == p.Right.Length && p.Left.Zip(p.Right).Any(x => x.First == 1 && x.Second > 1)), "size-1 dims");
    }

    [Property(MaxTest = 50)]
    public FsCheck.Property DimsAreValid() => ForAll(TensorGen.Shape(maxRank: 4).SelectMany(s => TensorGen.Dim(s.Length).Select(d => (s, d))), p =>
    {
        var t = Tensor.Zeros(p.s, DType.Float64);
        Assert.DoesNotThrow(() => t.Sum(p.d));
    });

    [Property(MaxTest = 50)]
    public FsCheck.Property AwayFromZeroKeepsItsMargin() => ForAll(TensorGen.AwayFromZero([3, 4], margin: 0.2), t =>
        Assert.That(t.ToArray<double>().Select(Math.Abs), Has.All.InRange(0.2, 2.0)));

    [Property(MaxTest = 50)]
    public FsCheck.Property AwayFromKeepsAwayFromEveryKink() => ForAll(TensorGen.AwayFrom([48], [-1.0, 0.5], 0.1), t =>
        Assert.That(t.ToArray<double>().All(v => Math.Abs(v + 1) >= 0.1 - 1e-12 && Math.Abs(v - 0.5) >= 0.1 - 1e-12)));

    [Property(MaxTest = 50)]
    public FsCheck.Property DistinctValuesHaveNoNearTies() => ForAll(TensorGen.Distinct([4, 6]), t =>
    {
        var v = t.ToArray<double>().Order().ToArray();
        for (int i = 1; i < v.Length; i++) Assert.That(v[i] - v[i - 1], Is.GreaterThan(1e-3));
    });

    [Property(MaxTest = 60)]
    public FsCheck.Property NonContiguousViewsHoldTheSameValues() =>
        ForAll(TensorGen.Tensor(TensorGen.Shape(maxRank: 4), requiresGrad: true).SelectMany(t => TensorGen.NonContiguous(t).Select(v => (t, v))), p =>
        {
            var (t, v) = p;
            Assert.That(v.Shape, Is.EqualTo(t.Shape));
            Assert.That(v.ToArray<double>(), Is.EqualTo(t.ToArray<double>()));
            Assert.That(v.IsLeaf && v.RequiresGrad, Is.True);
            if (t.NumEl > 1) Assert.That(v.IsContiguous, Is.False, "two or more elements must give a non-contiguous layout");
            else Assert.That(v.StorageOffset, Is.GreaterThan(0));
            Assert.That(v.Strides, Has.None.EqualTo(0), "no expanded (stride-0) dims");
        });

    [Test]
    public void EveryLayoutKeepsValues([Values] TensorLayout layout)
    {
        var t = TensorGen.FromSeed(3, [2, 3, 4]);
        var v = TensorGen.WithLayout(t, layout, variant: 5);
        Assert.That(v.ToArray<double>(), Is.EqualTo(t.ToArray<double>()));
        Assert.That(v.IsContiguous, Is.EqualTo(layout is TensorLayout.Contiguous or TensorLayout.Offset));
    }

    [Test]
    public void TensorsReplayFromTheirSeed()
    {
        var gen = TensorGen.Tensor([3, 2], DType.Float32, -1, 1);
        var first = Sample(gen, 42).ToArray<float>();
        Assert.That(Sample(gen, 42).ToArray<float>(), Is.EqualTo(first));
        Assert.That(Sample(gen, 42).ToArray<float>(), Is.Not.EqualTo(Sample(gen, 43).ToArray<float>()));
        var replay = TensorGen.FromSeed(9, [5]).ToArray<double>();
        Assert.That(TensorGen.FromSeed(9, [5]).ToArray<double>(), Is.EqualTo(replay));
    }

    [Test]
    public void IndicesAndMasksHaveTheirDTypeAndRange()
    {
        var idx = Sample(TensorGen.Indices([10], 3), 1);
        Assert.That(idx.DType, Is.EqualTo(DType.Int64));
        Assert.That(idx.ToArray<long>(), Has.All.InRange(0L, 2L));
        Assert.That(Sample(TensorGen.Mask([4]), 1).DType, Is.EqualTo(DType.Bool));
    }

    [Property(MaxTest = 30, Arbitrary = new[] { typeof(TensorArbitraries) })]
    public void ArbitraryTensorsAreFloat64AndBounded(Tensor t)
    {
        Assert.That(t.DType, Is.EqualTo(DType.Float64));
        Assert.That(t.NumEl, Is.LessThanOrEqualTo(TensorGen.DefaultMaxNumel));
        foreach (var smaller in TensorGen.Shrink(t)) Assert.That(smaller.Dim < t.Dim || smaller.NumEl < t.NumEl, Is.True);
    }

    [Test]
    public void BadGeneratorArgumentsThrow()
    {
        Assert.Throws<ArgumentException>(() => TensorGen.Shape(maxRank: 2, minRank: 3));
        Assert.Throws<ArgumentException>(() => TensorGen.Indices([2], 0));
        Assert.Throws<ArgumentException>(() => TensorGen.WithLayout(Tensor.Zeros([1, 1], DType.Float64), TensorLayout.Transposed));
        Assert.Throws<ArgumentException>(() => TensorGen.BroadcastShape([2], [3]));
    }
}
