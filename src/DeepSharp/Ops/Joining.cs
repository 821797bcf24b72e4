
using DeepSharp.Interop;

namespace DeepSharp;

// Concatenation and splitting: Cat, Stack, Split, Chunk.
public sealed partial class Tensor
{
    /// <summary>Concatenates tensors along an existing dim (<c>torch.cat</c>).</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Cat: expected a non-empty list of tensors.");
        var first = tensors[0];
        int d = ShapeUtil.WrapDim(dim, first.Dim, "Cat");
        if (first.Dim == 0) throw new ArgumentException("Cat: zero-dimensional tensors cannot be concatenated.");
        // Mixed dtypes promote, as PyTorch (Float32 with Float64 → Float64; the casts are differentiable).
        var dtype = first.DType;
        foreach (var t in tensors) dtype = PromoteTypes(dtype, t.DType);
        if (tensors.Any(t => t.DType != dtype)) { tensors = tensors.Select(t => t.To(dtype)).ToArray(); first = tensors[0]; }
        int total = 0;
        foreach (var t in tensors)
        {
            bool ok = t.Dim == first.Dim;
            for (int i = 0; ok && i < first.Dim; i++) ok = i == d || t._shape[i] == first._shape[i];
            if (!ok)
                throw new ArgumentException($"Cat: sizes of tensors must match except in dimension {d}; got {string.Join(" and ", tensors.Select(x => ShapeUtil.Format(x._shape)))}.");
            total += t._shape[d];
        }
        var shape = (int[])first._shape.Clone();
        shape[d] = total;
        var result = Empty(shape, first.DType, zeroed: false);
        var sizes = new int[tensors.Count];
        int offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            sizes[i] = tensors[i]._shape[d];
            using (GradMode.Set(false)) result.Narrow(d, offset, sizes[i]).CopyFromNoGrad(tensors[i]);
            offset += sizes[i];
        }
        Tracing.Current?.Record("Cat", result, [.. tensors], d);
        return Node.Record(result, "CatBackward", [.. tensors], g =>
        {
            var grads = new Tensor?[sizes.Length];
            int off = 0;
            for (int i = 0; i < sizes.Length; i++) { grads[i] = g.Narrow(d, off, sizes[i]); off += sizes[i]; }
            return grads;
        });
    }

    /// <summary>Stacks same-shape tensors along a new dim (<c>torch.stack</c>).</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Stack: expected a non-empty list of tensors.");
        foreach (var t in tensors)
            if (!ShapeUtil.SameShape(t._shape, tensors[0]._shape))
                throw new ArgumentException($"Stack: expects each tensor to be equal size, but got {ShapeUtil.Format(tensors[0]._shape)} and {ShapeUtil.Format(t._shape)}.");
        int d = ShapeUtil.WrapDim(dim, tensors[0].Dim + 1, "Stack");
        return Cat(tensors.Select(t => t.Unsqueeze(d)).ToArray(), d);
    }

    /// <summary>Splits into pieces of <paramref name="splitSize"/> along dim (the last may be smaller); views.</summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Split");
        if (splitSize <= 0) throw new ArgumentException($"Split: split size must be positive, got {splitSize}.");
        int size = _shape[d];
        var pieces = new List<Tensor>();
        for (int start = 0; start < size; start += splitSize) pieces.Add(Narrow(d, start, Math.Min(splitSize, size - start)));
        if (pieces.Count == 0) pieces.Add(Narrow(d, 0, 0));
        return [.. pieces];
    }

    /// <summary>Splits into pieces of the given sizes along dim (they must sum to the dim's size); views.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Split");
        if (sizes.Any(s => s < 0) || sizes.Sum(s => (long)s) != _shape[d])
            throw new ArgumentException($"Split: split sizes {ShapeUtil.Format(sizes)} must be non-negative and sum to {_shape[d]}, the size of dimension {d} (shape {ShapeUtil.Format(_shape)}).");
        var pieces = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++) { pieces[i] = Narrow(d, start, sizes[i]); start += sizes[i]; }
        return pieces;
    }

    /// <summary>Splits into <paramref name="chunks"/> pieces of size ⌈n/chunks⌉ along dim (fewer if the dim is small).</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentException($"Chunk: number of chunks must be positive, got {chunks}.");
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Chunk");
        int size = (_shape[d] + chunks - 1) / chunks;
        return Split(Math.Max(size, 1), d);
    }
}
