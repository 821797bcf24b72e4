namespace DeepSharp.Tests.Tensors;

/// <summary><see cref="Size"/> (torch.Size): printing, indexing, equality and the conversions that let it be passed as a shape.</summary>
[TestFixture]
public class SizeTests
{
    [Test]
    public void PrintsAsBracketedList()
    {
        Assert.That(Tensor.Zeros(2, 3).Shape.ToString(), Is.EqualTo("[2, 3]"));
        Assert.That($"{Tensor.Zeros(4).Shape}", Is.EqualTo("[4]"));
        Assert.That(Tensor.Scalar(1.0).Shape.ToString(), Is.EqualTo("[]"));
        Assert.That(default(Size).ToString(), Is.EqualTo("[]"));
        Assert.That(Tensor.Zeros(0, 5).Shape.ToString(), Is.EqualTo("[0, 5]"));
    }

    [Test]
    public void IndexesAndSlices()
    {
        var s = Tensor.Zeros(2, 3, 4).Shape;
        Assert.That(s.Length, Is.EqualTo(3));
        Assert.That(s.Count, Is.EqualTo(3));
        Assert.That(s[0], Is.EqualTo(2));
        Assert.That(s[^1], Is.EqualTo(4));
        Assert.That(s[^2], Is.EqualTo(3));
        Assert.That(s[1..].ToArray(), Is.EqualTo(new[] { 3, 4 }));
        Assert.That(s[..^1], Is.EqualTo(new Size(2, 3)));
        Assert.That(s.NumEl, Is.EqualTo(24));
        var ex = Assert.Throws<IndexOutOfRangeException>(() => _ = s[3]);
        Assert.That(ex!.Message, Does.Contain("index 3").And.Contain("[2, 3, 4]"));
        Assert.Throws<IndexOutOfRangeException>(() => _ = s[-1]);
        Assert.That(s is [2, _, 4], Is.True, "list patterns");
    }

    [Test]
    public void EnumeratesAndConverts()
    {
        var s = Tensor.Zeros(5, 6).Shape;
        var seen = new List<int>();
        foreach (int d in s) seen.Add(d);
        Assert.That(seen, Is.EqualTo(new[] { 5, 6 }));
        Assert.That(s.Select(d => d * 2).ToArray(), Is.EqualTo(new[] { 10, 12 }), "LINQ through IEnumerable<int>");
        int[] arr = s;
        arr[0] = 99;
        Assert.That(s[0], Is.EqualTo(5), "the int[] conversion is a copy");
        var copy = s.ToArray();
        copy[1] = 7;
        Assert.That(s[1], Is.EqualTo(6), "ToArray is a copy");
        ReadOnlySpan<int> span = s;
        Assert.That(span.ToArray(), Is.EqualTo(new[] { 5, 6 }));
        Assert.That(string.Join("x", s), Is.EqualTo("5x6"));
        int[] joined = [1, .. s];
        Assert.That(joined, Is.EqualTo(new[] { 1, 5, 6 }), "spreads in collection expressions");
    }

    [Test]
    public void EqualityWithSizeAndArrays()
    {
        var a = Tensor.Zeros(2, 3).Shape;
        var b = Tensor.Ones(2, 3).Shape;
        Assert.That(a == b, Is.True);
        Assert.That(a.Equals(b), Is.True);
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
        Assert.That(a != Tensor.Zeros(3, 2).Shape, Is.True);
        Assert.That(a == Tensor.Zeros(2, 3, 1).Shape, Is.False);
        Assert.That(a.Equals(new[] { 2, 3 }), Is.True);
        Assert.That(a.Equals(new[] { 2 }), Is.False);
        Assert.That(a.Equals((object)new[] { 2, 3 }), Is.True);
        Assert.That(a == new[] { 2, 3 }, Is.True, "int[] converts to Size");
        Assert.That(a.Equals((int[]?)null), Is.False);
        Assert.That(a, Is.EqualTo(new[] { 2, 3 }), "NUnit compares a Size with an array by value");
        Assert.That(default(Size) == Tensor.Scalar(0.0).Shape, Is.True);
        var set = new HashSet<Size> { a, b, Tensor.Zeros(3).Shape };
        Assert.That(set, Has.Count.EqualTo(2));
    }

    [Test]
    public void PassesAsAShape()
    {
        var x = Tensor.Randn(2, 3, 4);
        Assert.That(Tensor.Zeros(x.Shape).Shape, Is.EqualTo(x.Shape));
        Assert.That(Tensor.Randn(x.Shape, DType.Float64).Shape, Is.EqualTo(x.Shape));
        Assert.That(x.Reshape(6, 4).Reshape(x.Shape).Shape, Is.EqualTo(x.Shape));
        Assert.That(Tensor.Ones(1, 3, 1).Expand(x.Shape[0], 3, x.Shape[^1]).Shape, Is.EqualTo(new[] { 2, 3, 4 }));
        Assert.That(new Size(2, 3), Is.EqualTo(new Size(new[] { 2, 3 }.AsSpan())));
        var dims = new[] { 4, 5 };
        var fromArray = new Size(dims);
        dims[0] = 0;
        Assert.That(fromArray[0], Is.EqualTo(4), "the constructor copies");
    }
}
