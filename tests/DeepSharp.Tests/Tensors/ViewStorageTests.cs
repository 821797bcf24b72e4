namespace DeepSharp.Tests.Tensors;

/// <summary>Views share storage with their base: writes through a view are visible in the base and vice versa.</summary>
[TestFixture]
public class ViewStorageTests
{
    private static Tensor Base() => Tensor.Arange(0, 12, 1, DType.Float64).Reshape(3, 4);

    private static void Write(Tensor view, double value)
    {
        using (Autograd.NoGrad()) view.Fill_(value);
    }

    [Test]
    public void WritingThroughViewsChangesTheBase()
    {
        var x = Base();
        Write(x.Transpose(0, 1)[1], -1);            // column 1
        Write(x.Narrow(0, 2, 1), 100);              // last row
        Write(x.Slice(1, 0, null, 3)[0], 7);        // x[0, ::3]
        Assert.That(x.ToArray<double>(), Is.EqualTo(new double[] { 7, -1, 2, 7, 4, -1, 6, 7, 100, 100, 100, 100 }));
    }

    [Test]
    public void EveryViewOpSharesStorage()
    {
        var views = new (string Name, Func<Tensor, Tensor> View)[]
        {
            ("View", x => x.View(12)), ("Reshape", x => x.Reshape(2, 6)), ("Permute", x => x.Permute(1, 0)), ("T", x => x.T),
            ("MT", x => x.MT), ("Narrow", x => x.Narrow(1, 1, 2)), ("Select", x => x.Select(0, 1)), ("Slice", x => x.Slice(1, 1, null, 2)),
            ("Indexer", x => x[1..]), ("Unsqueeze", x => x.Unsqueeze(0)), ("Squeeze", x => x.Unsqueeze(1).Squeeze(1)), ("Flatten", x => x.Flatten()),
            ("Unflatten", x => x.Unflatten(1, 2, 2)), ("Expand", x => x.Unsqueeze(0).Expand(2, 3, 4)), ("Split", x => x.Split(2)[1]), ("Chunk", x => x.Chunk(2, 1)[0]),
        };
        foreach (var (name, makeView) in views)
        {
            var x = Base();
            var view = makeView(x);
            int before = x.Version;
            Write(view, 42);
            Assert.That(x.ToArray<double>(), Has.Some.EqualTo(42.0), name);
            Assert.That(x.Version, Is.GreaterThan(before), $"{name}: the base sees the view's version bump");
        }
    }

    [Test]
    public void WritingTheBaseIsSeenByTheView()
    {
        var x = Base();
        var v = x.T.Narrow(0, 1, 2);
        using (Autograd.NoGrad()) x.Add_(1.0);
        Assert.That(v.ToArray<double>(), Is.EqualTo(new double[] { 2, 6, 10, 3, 7, 11 }));
    }

    [Test]
    public void CopiesDoNotShare()
    {
        var x = Base();
        var c = x.Clone();
        var t = x.T.Contiguous();
        var r = x.T.Reshape(12); // not viewable: copies
        Write(c, 0); Write(t, 0); Write(r, 0);
        Assert.That(x.ToArray<double>(), Is.EqualTo(Enumerable.Range(0, 12).Select(i => (double)i)));
    }

    [Test]
    public void StridesAndOffsetsOfViews()
    {
        var x = Base();
        Assert.That(x.Strides, Is.EqualTo(new[] { 4, 1 }));
        Assert.That(x.T.Strides, Is.EqualTo(new[] { 1, 4 }));
        Assert.That(x.T.IsContiguous, Is.False);
        var s = x.Slice(1, 1, null, 2);
        Assert.That((s.Shape, s.Strides, s.StorageOffset), Is.EqualTo((new[] { 3, 2 }, new[] { 4, 2 }, 1)));
        Assert.That(x.Unsqueeze(0).Expand(5, 3, 4).Strides[0], Is.EqualTo(0));
        Assert.That(x[2, 3].Item(), Is.EqualTo(11));
        Assert.That(x[^1, ^2].Item(), Is.EqualTo(10));
        Assert.That(x[TensorIndex.Ellipsis, 0].ToArray<double>(), Is.EqualTo(new double[] { 0, 4, 8 }));
        Assert.That(x[TensorIndex.NewAxis, 1..2].Shape, Is.EqualTo(new[] { 1, 1, 4 }));
    }
}
