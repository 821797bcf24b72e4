using DeepSharp.Kernels;

namespace DeepSharp;

// Rearranging copies: Flip, Roll, Repeat, RepeatInterleave, Tril/Triu, Diag, Outer. Each is either a strided copy
// whose backward is its own adjoint copy, or a composite of differentiable ops, so all support double backward.
public sealed partial class Tensor
{
    /// <summary>A contiguous copy of the elements that (shape, offset, strides) address in this tensor's storage
    /// (strides may be negative: the copy driver only adds them).</summary>
    private Tensor StridedCopy(int[] shape, int offset, int[] strides)
    {
        var result = Empty(shape, DType, zeroed: false);
        ThrowIfDisposed();
        switch (_storage)
        {
            case Storage<float> s: ElementwiseKernels.Copy<float>(shape, s.Data, offset, strides, result.Span<float>()); break;
            case Storage<double> s: ElementwiseKernels.Copy<double>(shape, s.Data, offset, strides, result.Span<double>()); break;
            case Storage<long> s: ElementwiseKernels.Copy<long>(shape, s.Data, offset, strides, result.Span<long>()); break;
            case Storage<bool> s: ElementwiseKernels.Copy<bool>(shape, s.Data, offset, strides, result.Span<bool>()); break;
        }
        return result;
    }

    /// <summary>Reverses the order of elements along the given dims (<c>torch.flip</c>; a copy).</summary>
    public Tensor Flip(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        var mask = new bool[Dim];
        foreach (int dim in dims)
        {
            int d = ShapeUtil.WrapDim(dim, Dim, "Flip");
            if (Dim == 0) continue;
            if (mask[d]) throw new ArgumentException($"Flip: dim {dim} appears multiple times in the list of dims {ShapeUtil.Format(dims)}.");
            mask[d] = true;
        }
        var strides = (int[])_strides.Clone();
        int offset = _offset;
        for (int i = 0; i < Dim; i++)
        {
            if (!mask[i] || _shape[i] == 0) continue;
            offset += (_shape[i] - 1) * _strides[i];
            strides[i] = -_strides[i];
        }
        var result = StridedCopy(_shape, offset, strides);
        if (!DType.IsFloatingPoint()) return result;
        return Node.Record(result, "FlipBackward", [this], g => [g.Flip(dims)]);
    }

    /// <summary>Rolls elements along dims by shifts (elements leaving one end come back at the other; <c>torch.roll</c>).
    /// Without dims the tensor is flattened, rolled and restored to its shape.</summary>
    public Tensor Roll(int[] shifts, int[]? dims = null)
    {
        ArgumentNullException.ThrowIfNull(shifts);
        if (dims is null || dims.Length == 0)
        {
            if (shifts.Length != 1)
                throw new ArgumentException($"Roll: without dims, shifts must have one value, got {ShapeUtil.Format(shifts)}.");
            return Reshape(-1).Roll(shifts, [0]).Reshape(_shape);
        }
        if (shifts.Length != dims.Length)
            throw new ArgumentException($"Roll: shifts {ShapeUtil.Format(shifts)} and dims {ShapeUtil.Format(dims)} must have the same length.");
        var t = this;
        for (int i = 0; i < dims.Length; i++)
        {
            int d = ShapeUtil.WrapExistingDim(dims[i], Dim, "Roll");
            int n = _shape[d];
            if (n == 0) continue;
            int s = ((shifts[i] % n) + n) % n;
            if (s == 0) continue;
            t = Cat([t.Narrow(d, n - s, s), t.Narrow(d, 0, n - s)], d);
        }
        return ReferenceEquals(t, this) ? Clone() : t;
    }

    /// <summary>Rolls along one dim (<c>torch.roll(x, shift, dim)</c>).</summary>
    public Tensor Roll(int shift, int dim) => Roll([shift], [dim]);

    /// <summary>Tiles the tensor: dim i is repeated sizes[i] times (<c>Tensor.repeat</c>; extra leading sizes add dims).</summary>
    public Tensor Repeat(params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length < Dim)
            throw new ArgumentException($"Repeat: the number of repeat sizes ({sizes.Length}) cannot be smaller than the tensor's rank ({Dim}); shape {ShapeUtil.Format(_shape)}, sizes {ShapeUtil.Format(sizes)}.");
        if (sizes.Any(s => s < 0))
            throw new ArgumentException($"Repeat: repeat sizes must be non-negative, got {ShapeUtil.Format(sizes)}.");
        int lead = sizes.Length - Dim;
        var src = Enumerable.Repeat(1, lead).Concat(_shape).ToArray();
        // [1, s0, 1, s1, …] expanded to [r0, s0, r1, s1, …], then merged pairwise: the repeat index is the outer one.
        var interleaved = new int[2 * src.Length];
        var expanded = new int[2 * src.Length];
        var final = new int[src.Length];
        for (int i = 0; i < src.Length; i++)
        {
            interleaved[2 * i] = 1; interleaved[2 * i + 1] = src[i];
            expanded[2 * i] = sizes[i]; expanded[2 * i + 1] = src[i];
            final[i] = sizes[i] * src[i];
        }
        return Reshape(interleaved).Expand(expanded).Contiguous().View(final);
    }

    /// <summary>Repeats each element <paramref name="repeats"/> times along dim, or of the flattened tensor when dim is
    /// null (<c>torch.repeat_interleave</c>).</summary>
    public Tensor RepeatInterleave(int repeats, int? dim = null)
    {
        if (repeats < 0) throw new ArgumentException($"RepeatInterleave: repeats must be non-negative, got {repeats}.");
        if (dim is null) return Reshape(-1).RepeatInterleave(repeats, 0);
        int d = ShapeUtil.WrapExistingDim(dim.Value, Dim, "RepeatInterleave");
        var withAxis = ((int[])_shape.Clone()).ToList();
        withAxis.Insert(d + 1, repeats);
        var final = (int[])_shape.Clone();
        final[d] *= repeats;
        return Unsqueeze(d + 1).Expand([.. withAxis]).Contiguous().View(final);
    }

    /// <summary>Repeats element i along dim repeats[i] times (repeats: a 1-D Int64 tensor with one count per element, or
    /// one count for all), or of the flattened tensor when dim is null (<c>torch.repeat_interleave</c>).</summary>
    public Tensor RepeatInterleave(Tensor repeats, int? dim = null)
    {
        ArgumentNullException.ThrowIfNull(repeats);
        if (repeats.DType != DType.Int64)
            throw new ArgumentException($"RepeatInterleave: repeats must be an Int64 tensor, got {repeats.DType}.");
        if (dim is null) return Reshape(-1).RepeatInterleave(repeats, 0);
        int d = ShapeUtil.WrapExistingDim(dim.Value, Dim, "RepeatInterleave");
        if (repeats.Dim > 1 || (repeats.NumEl != 1 && repeats.NumEl != _shape[d]))
            throw new ArgumentException($"RepeatInterleave: repeats of shape {ShapeUtil.Format(repeats._shape)} must have one value or one per element of dimension {d} (size {_shape[d]}) of the input {ShapeUtil.Format(_shape)}.");
        var counts = repeats.Contiguous().ReadSpan<long>();
        long total = 0;
        for (int i = 0; i < _shape[d]; i++)
        {
            long c = counts.Length == 1 ? counts[0] : counts[i];
            if (c < 0) throw new ArgumentException($"RepeatInterleave: repeats must be non-negative, got {c} at position {i}.");
            if (c > Array.MaxLength - total)
                throw new ArgumentException($"RepeatInterleave: the repeats add up to more than {Array.MaxLength} elements along dimension {d}, more than an array can hold.");
            total += c;
        }
        var index = new int[total];
        IndexTableKernels.Repeat(index, counts, _shape[d]);
        return SelectAlong(d, index);
    }

    /// <summary>The lower triangle of the last two dims: elements with column − row ≤ diagonal, zeros elsewhere (<c>torch.tril</c>).</summary>
    public Tensor Tril(int diagonal = 0) => Triangle(diagonal, lower: true, "Tril");

    /// <summary>The upper triangle of the last two dims: elements with column − row ≥ diagonal (<c>torch.triu</c>).</summary>
    public Tensor Triu(int diagonal = 0) => Triangle(diagonal, lower: false, "Triu");

    private Tensor Triangle(int diagonal, bool lower, string op)
    {
        if (Dim < 2) throw new ArgumentException($"{op}: input must have at least 2 dimensions, got shape {ShapeUtil.Format(_shape)}.");
        int n = _shape[^2], m = _shape[^1];
        var mask = Empty([n, m], DType.Bool, zeroed: false);
        FillKernels.TriangleMask(mask.Span<bool>(), n, m, diagonal, lower);
        return Where(mask, this, 0.0);
    }

    /// <summary>For a 1-D tensor, the square matrix with it on the <paramref name="diagonal"/>-th diagonal; for a 2-D tensor,
    /// that diagonal as a 1-D tensor (<c>torch.diag</c>; a copy).</summary>
    public Tensor Diag(int diagonal = 0)
    {
        if (Dim == 1)
        {
            int n = _shape[0] + Math.Abs(diagonal);
            return DiagEmbed(this, diagonal, n, n);
        }
        if (Dim == 2) return DiagExtract(diagonal);
        throw new ArgumentException($"Diag: expected a 1-D or 2-D tensor, got shape {ShapeUtil.Format(_shape)}.");
    }

    private Tensor DiagExtract(int k)
    {
        int n = _shape[0], m = _shape[1];
        int len = k >= 0 ? Math.Max(0, Math.Min(n, m - k)) : Math.Max(0, Math.Min(n + k, m));
        int offset = _offset + (k >= 0 ? k * _strides[1] : -k * _strides[0]);
        var result = StridedCopy([len], len == 0 ? _offset : offset, [_strides[0] + _strides[1]]);
        if (!DType.IsFloatingPoint()) return result;
        return Node.Record(result, "DiagBackward", [this], g => [DiagEmbed(g, k, n, m)]);
    }

    /// <summary>An [n, m] matrix of zeros with v on diagonal k (the adjoint of <see cref="DiagExtract"/>).</summary>
    private static Tensor DiagEmbed(Tensor v, int k, int n, int m)
    {
        var result = Zeros([n, m], v.DType);
        int len = v._shape[0];
        if (len > 0)
        {
            int offset = k >= 0 ? k : -k * m;
            var target = new Tensor(result._storage, [len], [m + 1], offset);
            using (GradMode.Set(false)) target.CopyFromNoGrad(v);
        }
        if (!v.DType.IsFloatingPoint()) return result;
        return Node.Record(result, "DiagEmbedBackward", [v], g => [g.DiagExtract(k)]);
    }

    /// <summary>The outer product of two 1-D tensors, [n] and [m] to [n, m] (<c>torch.outer</c>).</summary>
    public Tensor Outer(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Dim != 1 || other.Dim != 1)
            throw new ArgumentException($"Outer: expected two 1-D tensors, got shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)}.");
        return Unsqueeze(1) * other.Unsqueeze(0);   // mixed float dtypes promote, as torch.outer
    }

    /// <summary>The outer product of two 1-D tensors (<c>torch.outer</c>).</summary>
    public static Tensor Outer(Tensor a, Tensor b) => (a ?? throw new ArgumentNullException(nameof(a))).Outer(b);
}
