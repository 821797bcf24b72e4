using System.Numerics.Tensors;

namespace DeepSharp.Tests.Interop;

/// <summary>Spans, arrays and System.Numerics.Tensors: zero-copy where promised, copies where documented, values always right.</summary>
[TestFixture]
public class InteropTests
{
    private static float[] Flatten(Tensor<float> t)
    {
        var buffer = new float[t.FlattenedLength];
        t.FlattenTo(buffer);
        return buffer;
    }

    [Test]
    public void AsSpanSharesMemoryWithTheStorage()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = DeepSharp.Tensor.FromBuffer(data, 2, 3);
        var span = t.AsSpan<float>();
        Assert.That(span.ToArray(), Is.EqualTo(data));
        span[4] = 50;
        Assert.That(data[4], Is.EqualTo(50));
        Assert.That(t[1, 1].Item(), Is.EqualTo(50));
        // A contiguous view at an offset: the span starts at the view's first element.
        var row = t[1];
        Assert.That(row.AsReadOnlySpan<float>().ToArray(), Is.EqualTo(new float[] { 4, 50, 6 }));
    }

    [Test]
    public void AsSpanRejectsWrongTypeAndNonContiguousLayouts()
    {
        var t = DeepSharp.Tensor.Zeros(2, 3);
        Assert.Throws<ArgumentException>(() => t.AsSpan<double>());
        var ex = Assert.Throws<InvalidOperationException>(() => t.T.AsSpan<float>());
        Assert.That(ex!.Message, Does.Contain("Contiguous()"));
        Assert.Throws<NotSupportedException>(() => t.AsSpan<int>());
        Assert.That(t.T.Contiguous().AsSpan<float>().Length, Is.EqualTo(6));
    }

    [Test]
    public void ToTensorIsZeroCopyForAnyLayout()
    {
        var x = DeepSharp.Tensor.Arange(12, DType.Float32).Reshape(3, 4);
        var whole = x.ToTensor<float>();
        Assert.That(whole.Lengths.ToArray(), Is.EqualTo(new nint[] { 3, 4 }));
        Assert.That(x.SharesMemory(whole));
        Assert.That(Flatten(whole), Is.EqualTo(Enumerable.Range(0, 12).Select(i => (float)i)));

        // Transposed, sliced with a step, and expanded views keep their strides.
        var t = x.T;
        Assert.That(Flatten(t.ToTensor<float>()), Is.EqualTo(t.Contiguous().ToArray<float>()));
        var s = x.Slice(1, 1, 4, 2);
        Assert.That(Flatten(s.ToTensor<float>()), Is.EqualTo(s.Contiguous().ToArray<float>()));
        var e = x[0].Unsqueeze(0).Expand(2, 4);
        Assert.That(Flatten(e.ToTensor<float>()), Is.EqualTo(e.Contiguous().ToArray<float>()));

        // Writes through Tensor<T> show in the DeepSharp tensor.
        whole[[2, 3]] = -1;
        Assert.That(x[2, 3].Item(), Is.EqualTo(-1));
    }

    [Test]
    public void ToTensorHandlesScalarsEmptyTensorsAndOtherDTypes()
    {
        var scalar = DeepSharp.Tensor.Scalar(7, DType.Float64).ToTensor<double>();
        Assert.That(scalar.Lengths.ToArray(), Is.EqualTo(new nint[] { 1 }));
        Assert.That(scalar[[0]], Is.EqualTo(7));
        var empty = DeepSharp.Tensor.Zeros(4, 3).Narrow(0, 4, 0).ToTensor<float>();
        Assert.That((long)empty.FlattenedLength, Is.Zero);
        var ints = DeepSharp.Tensor.FromArray(new long[] { 1, 2, 3 }).ToTensor<long>();
        Assert.That(ints[[2]], Is.EqualTo(3L));
        var mask = DeepSharp.Tensor.FromArray(new[] { true, false }).ToTensor<bool>();
        Assert.That(mask[[1]], Is.False);
        Assert.Throws<ArgumentException>(() => DeepSharp.Tensor.Zeros(2).ToTensor<double>());
    }

    [Test]
    public void ToTensorHandlesSizeOneDimensionsAndOffsets()
    {
        var x = DeepSharp.Tensor.Arange(12, DType.Float32).Reshape(2, 1, 6);
        Assert.That(Flatten(x.ToTensor<float>()), Is.EqualTo(x.ToArray<float>()));
        var last = x[1, 0].Narrow(0, 5, 1);   // a [1] view on the last element of the storage
        Assert.That(Flatten(last.ToTensor<float>()), Is.EqualTo(new float[] { 11 }));
        var col = x.Narrow(2, 3, 1);          // [2, 1, 1] at offset 3
        Assert.That(Flatten(col.ToTensor<float>()), Is.EqualTo(new float[] { 3, 9 }));
    }

    [Test]
    public void FromTensorSharesMemoryAndKeepsStrides()
    {
        var array = new float[] { 1, 2, 3, 4, 5, 6 };
        var source = System.Numerics.Tensors.Tensor.Create(array, [2, 3]);
        var t = DeepSharp.Tensor.FromTensor(source);
        Assert.That(t.Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(t.SharesMemory(source), "FromTensor copied a dense Tensor<T>");
        array[0] = 10;
        Assert.That(t[0, 0].Item(), Is.EqualTo(10));
        Assert.That(t.RequiresGrad, Is.False);

        // A strided Tensor<T> (the transpose, starting at an offset) comes across as a strided view.
        var strided = System.Numerics.Tensors.Tensor.Create(array, 1, [2, 2], [1, 3]);
        var v = DeepSharp.Tensor.FromTensor(strided);
        Assert.That(v.Strides, Is.EqualTo(new[] { 1, 3 }));
        Assert.That(v.Contiguous().ToArray<float>(), Is.EqualTo(new float[] { 2, 5, 3, 6 }));
        Assert.That(v.IsContiguous, Is.False);

        // The converted tensor takes part in autograd like any other leaf.
        var w = DeepSharp.Tensor.FromTensor(System.Numerics.Tensors.Tensor.Create(new double[] { 1, 2, 3 }, [3])).RequiresGrad_();
        (w * w).Sum().Backward();
        Assert.That(w.Grad!.ToArray<double>(), Is.EqualTo(new double[] { 2, 4, 6 }));
    }

    [Test]
    public void RoundTripsPreserveValues()
    {
        var g = new Generator(3);
        var x = DeepSharp.Tensor.Randn([2, 3, 4], DType.Float64, g).Permute(2, 0, 1);
        var back = DeepSharp.Tensor.FromTensor(x.ToTensor<double>());
        Assert.That(back.Shape, Is.EqualTo(x.Shape));
        Assert.That(back.ToArray<double>(), Is.EqualTo(x.ToArray<double>()));
        var copy = DeepSharp.Tensor.FromTensorSpan(x.AsReadOnlyTensorSpan<double>());
        Assert.That(copy.IsContiguous);
        Assert.That(copy.ToArray<double>(), Is.EqualTo(x.ToArray<double>()));
        // FromTensorSpan copies: writing to the copy leaves the original alone.
        copy.AsSpan<double>()[0] = 1e9;
        Assert.That(x.ToArray<double>()[0], Is.Not.EqualTo(1e9));
    }

    [Test]
    public void TensorPrimitivesRunOnTheSpans()
    {
        var a = DeepSharp.Tensor.FromArray(new float[] { 1, 2, 3 });
        var b = DeepSharp.Tensor.FromArray(new float[] { 4, 5, 6 });
        Assert.That(TensorPrimitives.Dot(a.AsReadOnlySpan<float>(), b.AsReadOnlySpan<float>()), Is.EqualTo(32));
        var c = DeepSharp.Tensor.Zeros(3);
        TensorPrimitives.Add(a.AsReadOnlySpan<float>(), b.AsReadOnlySpan<float>(), c.AsSpan<float>());
        Assert.That(c.ToArray<float>(), Is.EqualTo(new float[] { 5, 7, 9 }));
    }
}
