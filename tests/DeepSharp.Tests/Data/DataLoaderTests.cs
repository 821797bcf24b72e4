using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

[TestFixture]
public class DataLoaderTests
{
    private static TensorDataset Ten() => new(Tensor.Arange(0, 10).Unsqueeze(1) * 1.0, Tensor.Arange(0, 10, dtype: DType.Int64));

    private static long[] Order(IEnumerable<Tensor[]> epoch) => epoch.SelectMany(b => b[1].ToArray<long>()).ToArray();

    [Test]
    public void TensorDatasetRowsAndValidation()
    {
        var ds = Ten();
        Assert.That(ds.Count, Is.EqualTo(10));
        var item = ds[3];
        Assert.That(item[0].Shape, Is.EqualTo(new[] { 1 }));
        Assert.That(item[0].Item(), Is.EqualTo(3.0));
        Assert.That(item[1].Item(), Is.EqualTo(3.0));
        Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(3), Tensor.Zeros(4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = ds[10]);
    }

    [TestCase(false, 4, new[] { 3, 3, 3, 1 })]
    [TestCase(true, 3, new[] { 3, 3, 3 })]
    public void BatchCounts(bool dropLast, int count, int[] sizes)
    {
        var loader = new DataLoader(Ten(), batchSize: 3, dropLast: dropLast);
        Assert.That(loader.Count, Is.EqualTo(count));
        var batches = loader.ToList();
        Assert.That(batches.Select(b => b[0].Size(0)), Is.EqualTo(sizes));
        Assert.That(batches[0][0].Shape, Is.EqualTo(new[] { 3, 1 }));
        Assert.That(batches[0][1].DType, Is.EqualTo(DType.Int64));
        Assert.That(Order(batches), Is.EqualTo(Enumerable.Range(0, sizes.Sum()).Select(i => (long)i)), "in order without shuffle");
    }

    [Test]
    public void ShuffleIsReproducibleAndDiffersAcrossEpochs()
    {
        var l1 = new DataLoader(Ten(), batchSize: 4, shuffle: true, generator: new Generator(42));
        var l2 = new DataLoader(Ten(), batchSize: 4, shuffle: true, generator: new Generator(42));
        var e1 = Order(l1);
        var e2 = Order(l1);
        Assert.That(Order(l2), Is.EqualTo(e1), "same seed, same first epoch");
        Assert.That(Order(l2), Is.EqualTo(e2), "same seed, same second epoch");
        Assert.That(e2, Is.Not.EqualTo(e1), "epochs differ");
        Assert.That(e1.Order(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)), "each epoch is a permutation");
        Assert.That(e1, Is.Not.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)));
        var l3 = new DataLoader(Ten(), batchSize: 4, shuffle: true, generator: new Generator(43));
        Assert.That(Order(l3), Is.Not.EqualTo(e1));
    }

    [Test]
    public void ShuffleWithoutGeneratorFollowsManualSeed()
    {
        Torch.ManualSeed(5);
        var a = Order(new DataLoader(Ten(), batchSize: 2, shuffle: true));
        Torch.ManualSeed(5);
        var b = Order(new DataLoader(Ten(), batchSize: 2, shuffle: true));
        Assert.That(b, Is.EqualTo(a));
    }

    [Test]
    public void CustomCollateAndGenericLoader()
    {
        var loader = new DataLoader(Ten(), batchSize: 4, collate: items => [Tensor.Scalar(items.Count)]);
        Assert.That(loader.Select(b => b[0].Item()), Is.EqualTo(new[] { 4.0, 4, 2 }));

        var squares = new Squares(7);
        var generic = new DataLoader<int, int[]>(squares, items => [.. items], batchSize: 3);
        Assert.That(generic.Select(b => b.Sum()), Is.EqualTo(new[] { 0 + 1 + 4, 9 + 16 + 25, 36 }));
    }

    private sealed class Squares(int n) : Dataset<int>
    {
        public override int Count => n;
        public override int this[int index] => index * index;
    }

    private sealed class Rows(TensorDataset inner) : Dataset<Tensor[]>
    {
        public override int Count => inner.Count;
        public override Tensor[] this[int index] => inner[index];
    }

    [Test]
    public void DefaultStackCollateEqualsTheIndexSelectFastPath()
    {
        var fast = new DataLoader(Ten(), batchSize: 3, shuffle: true, generator: new Generator(9)).ToList();
        var slow = new DataLoader(new Rows(Ten()), batchSize: 3, shuffle: true, generator: new Generator(9)).ToList();
        Assert.That(slow, Has.Count.EqualTo(fast.Count));
        for (int i = 0; i < fast.Count; i++)
            for (int j = 0; j < 2; j++)
            {
                Assert.That(slow[i][j].Shape, Is.EqualTo(fast[i][j].Shape));
                Assert.That(slow[i][j].Double().ToArray<double>(), Is.EqualTo(fast[i][j].Double().ToArray<double>()));
            }
    }

    [Test]
    public void StateDictResumesMidEpoch()
    {
        var a = new DataLoader(Ten(), batchSize: 3, shuffle: true, generator: new Generator(1));
        var straight = new List<long[]>();
        for (int epoch = 0; epoch < 3; epoch++) straight.AddRange(a.Select(b => b[1].ToArray<long>()));

        var b1 = new DataLoader(Ten(), batchSize: 3, shuffle: true, generator: new Generator(1));
        var seen = new List<long[]>();
        seen.AddRange(b1.Select(b => b[1].ToArray<long>())); // epoch 0
        DataLoaderState? saved = null;
        foreach (var b in b1) // epoch 1: stop after 2 batches
        {
            seen.Add(b[1].ToArray<long>());
            if (seen.Count == 6) { saved = b1.StateDict(); break; }
        }
        Assert.That(saved!.BatchesConsumed, Is.EqualTo(2));
        var b2 = new DataLoader(Ten(), batchSize: 3, shuffle: true, generator: new Generator(999));
        b2.LoadStateDict(saved);
        seen.AddRange(b2.Select(b => b[1].ToArray<long>())); // rest of epoch 1
        seen.AddRange(b2.Select(b => b[1].ToArray<long>())); // epoch 2
        Assert.That(seen, Is.EqualTo(straight));
    }
}
