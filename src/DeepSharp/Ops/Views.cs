
using DeepSharp.Interop;

namespace DeepSharp;

// Views share storage with their input: only shape, strides and offset change. Backward maps the gradient
// back to the input's layout.
public sealed partial class Tensor
{
    private Tensor MakeView(int[] shape, int[] strides, int offset, string name, BackwardFunction backward)
    {
        var root = _base ?? this;
        var view = new Tensor(_storage, shape, strides, offset) { _base = root, _viewOfBaseFn = root._gradFn };
        return Node.Record(view, name, [this], backward);
    }

    /// <summary>A view with a new shape (one dim may be −1); throws when the strides do not allow a view
    /// (use <see cref="Reshape"/>, which copies then).</summary>
    public Tensor View(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var target = ShapeUtil.InferShape(shape, NumEl, "View", _shape);
        var strides = ViewStrides(target) ?? throw new InvalidOperationException(
            $"View: shape {ShapeUtil.Format(target)} is not compatible with the input's size {ShapeUtil.Format(_shape)} and strides {ShapeUtil.Format(_strides)} (at least one dimension spans across two contiguous subspaces). Use Reshape(...) instead.");
        var from = _shape;
        var view = MakeView(target, strides, _offset, "ViewBackward", g => [g.Reshape(from)]);
        Tracing.Current?.Record("Reshape", view, [this], target);
        return view;
    }

    /// <summary>A tensor with a new shape (one dim may be −1): a view when possible, else a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var target = ShapeUtil.InferShape(shape, NumEl, "Reshape", _shape);
        if (ShapeUtil.SameShape(target, _shape)) return this;
        var strides = ViewStrides(target);
        var from = _shape;
        if (strides is not null)
        {
            var view = MakeView(target, strides, _offset, "ViewBackward", g => [g.Reshape(from)]);
            Tracing.Current?.Record("Reshape", view, [this], target);
            return view;
        }
        return Clone().View(target);
    }

    /// <summary>Reshapes to the shape of <paramref name="other"/>.</summary>
    public Tensor ViewAs(Tensor other) => View(other._shape);

    /// <summary>Strides for viewing this layout with <paramref name="target"/>, or null when impossible
    /// (the algorithm of PyTorch's computeStride: each run of target dims must fit inside one contiguous chunk).</summary>
    private int[]? ViewStrides(int[] target)
    {
        if (_isContiguous) return ShapeUtil.ContiguousStrides(target);
        var result = new int[target.Length];
        if (NumEl == 0) return ShapeUtil.ContiguousStrides(target);
        int viewD = target.Length - 1;
        long chunkBase = _strides[^1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            tensorNumel *= _shape[d];
            if (d == 0 || (_shape[d - 1] != 1 && _strides[d - 1] != tensorNumel * chunkBase))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] == 1))
                {
                    result[viewD] = (int)(viewNumel * chunkBase);
                    viewNumel *= target[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0)
                {
                    chunkBase = _strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? result : null;
    }

    /// <summary>Flattens dims startDim…endDim into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Dim == 0) return Reshape(1);
        int s = ShapeUtil.WrapDim(startDim, Dim, "Flatten"), e = ShapeUtil.WrapDim(endDim, Dim, "Flatten");
        if (s > e) throw new ArgumentException($"Flatten: startDim ({startDim}) cannot come after endDim ({endDim}).");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(_shape[i]);
        int prod = 1;
        for (int i = s; i <= e; i++) prod *= _shape[i];
        shape.Add(prod);
        for (int i = e + 1; i < Dim; i++) shape.Add(_shape[i]);
        return Reshape([.. shape]);
    }

    /// <summary>Splits dim into the given sizes (one may be −1).</summary>
    public Tensor Unflatten(int dim, params int[] sizes)
    {
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Unflatten");
        var inner = ShapeUtil.InferShape(sizes, _shape[d], "Unflatten", [_shape[d]]);
        var shape = new List<int>(_shape[..d]);
        shape.AddRange(inner);
        shape.AddRange(_shape[(d + 1)..]);
        return View([.. shape]);
    }

    /// <summary>Reorders the dims (<c>permute</c>).</summary>
    public Tensor Permute(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length != Dim)
            throw new ArgumentException($"Permute: number of dims ({dims.Length}) does not match the tensor's rank {Dim} (shape {ShapeUtil.Format(_shape)}).");
        var perm = new int[Dim];
        var seen = new bool[Dim];
        for (int i = 0; i < Dim; i++)
        {
            perm[i] = ShapeUtil.WrapDim(dims[i], Dim, "Permute");
            if (seen[perm[i]]) throw new ArgumentException($"Permute: dim {dims[i]} appears more than once in {ShapeUtil.Format(dims)}.");
            seen[perm[i]] = true;
        }
        var shape = new int[Dim];
        var strides = new int[Dim];
        var inverse = new int[Dim];
        for (int i = 0; i < Dim; i++)
        {
            shape[i] = _shape[perm[i]];
            strides[i] = _strides[perm[i]];
            inverse[perm[i]] = i;
        }
        var result = MakeView(shape, strides, _offset, "PermuteBackward", g => [g.Permute(inverse)]);
        Tracing.Current?.Record("Permute", result, [this], perm);
        return result;
    }

    /// <summary>Moves one dim to another position (<c>movedim</c>).</summary>
    public Tensor Movedim(int source, int destination)
    {
        int s = ShapeUtil.WrapDim(source, Dim, "Movedim"), d = ShapeUtil.WrapDim(destination, Dim, "Movedim");
        if (Dim == 0) return this;
        var order = Enumerable.Range(0, Dim).Where(i => i != s).ToList();
        order.Insert(d, s);
        return Permute([.. order]);
    }

    /// <summary>Swaps two dims.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = ShapeUtil.WrapDim(dim0, Dim, "Transpose"), b = ShapeUtil.WrapDim(dim1, Dim, "Transpose");
        if (Dim == 0) return this;
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        var result = MakeView(shape, strides, _offset, "TransposeBackward", g => [g.Transpose(a, b)]);
        Tracing.Current?.Record("Transpose", result, [this], a, b);
        return result;
    }

    /// <summary>The transpose of a tensor of rank ≤ 2 (<c>.T</c>).</summary>
    public Tensor T => Dim switch
    {
        < 2 => this,
        2 => Transpose(0, 1),
        _ => throw new InvalidOperationException($"T: expected a tensor of rank ≤ 2 but got shape {ShapeUtil.Format(_shape)}; use Transpose or mT for batches of matrices."),
    };

    /// <summary>Transposes the last two dims (<c>.mT</c>).</summary>
    public Tensor MT => Dim >= 2 ? Transpose(-2, -1)
        : throw new InvalidOperationException($"mT: expected a tensor of rank ≥ 2 but got shape {ShapeUtil.Format(_shape)}.");

    /// <summary>The slice start…start+length along dim (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Narrow");
        if (start < 0) start += _shape[d];
        if (start < 0 || length < 0 || start + length > _shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {_shape[d]} (shape {ShapeUtil.Format(_shape)}).");
        return Slice(d, start, start + length, 1);
    }

    /// <summary>Elements start, start+step, … below end along dim (Python's <c>x[start:end:step]</c>), a view.
    /// Out-of-range bounds are clamped as in Python.</summary>
    public Tensor Slice(int dim, int? start = null, int? end = null, int step = 1)
    {
        int d = ShapeUtil.WrapExistingDim(dim, Dim, "Slice");
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}.");
        int size = _shape[d];
        int s = start ?? 0, e = end ?? size;
        if (s < 0) s += size;
        if (e < 0) e += size;
        s = Math.Clamp(s, 0, size);
        e = Math.Clamp(e, s, size);
        int len = (e - s + step - 1) / step;
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        shape[d] = len;
        strides[d] = _strides[d] * step;
        var from = _shape;
        var result = MakeView(shape, strides, _offset + s * _strides[d], "SliceBackward",
            g => [SliceBackward(g, from, d, s, step)]);
        Tracing.Current?.Record("Slice", result, [this], d, s, e, step);
        return result;
    }

    /// <summary>Places g into zeros of the input's shape at the sliced positions; differentiable (its
    /// backward slices again), so slices support higher-order gradients.</summary>
    private static Tensor SliceBackward(Tensor g, int[] inputShape, int dim, int start, int step)
    {
        var result = Zeros(inputShape, g.DType);
        int len = g._shape[dim];
        var strides = (int[])result._strides.Clone();
        strides[dim] *= step;
        var target = new Tensor(result._storage, g._shape, strides, start * result._strides[dim]);
        target.CopyFromNoGrad(g);
        // For an empty slice the end must be start itself: start − step + 1 can be negative and would wrap around.
        int end = len == 0 ? start : start + (len - 1) * step + 1;
        return Node.Record(result, "SliceBackwardBackward", [g], gg => [gg.Slice(dim, start, end, step)]);
    }

    /// <summary>Removes dim by taking index <paramref name="index"/> (<c>x[..., i, ...]</c>), a view.</summary>
    public Tensor Select(int dim, int index)
    {
        int d = ShapeUtil.WrapDim(dim, Dim, "Select");
        if (Dim == 0) throw new InvalidOperationException("Select: cannot index a 0-d tensor.");
        int size = _shape[d];
        if (index < -size || index >= size)
            throw new ArgumentOutOfRangeException(nameof(index), $"Select: index {index} is out of bounds for dimension {d} with size {size} (shape {ShapeUtil.Format(_shape)}).");
        if (index < 0) index += size;
        return Slice(d, index, index + 1).Squeeze(d);
    }

    /// <summary>Broadcasts size-1 dims to larger sizes (−1 keeps a size), as a view with stride 0; new leading dims may be added.</summary>
    public Tensor Expand(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length < Dim)
            throw new ArgumentException($"Expand: the number of sizes ({shape.Length}) must be at least the tensor's rank ({Dim}); shape {ShapeUtil.Format(_shape)} to {ShapeUtil.Format(shape)}.");
        int lead = shape.Length - Dim;
        var newShape = new int[shape.Length];
        var strides = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < -1)
                throw new ArgumentException($"Expand: size {shape[i]} at dimension {i} is invalid, sizes must be non-negative or -1 (keep the size); shape {ShapeUtil.Format(_shape)} to {ShapeUtil.Format(shape)}.");
            if (i < lead)
            {
                if (shape[i] < 0) throw new ArgumentException($"Expand: size -1 is not allowed in a new leading dimension ({ShapeUtil.Format(shape)}).");
                newShape[i] = shape[i];
                strides[i] = 0;
                continue;
            }
            int own = _shape[i - lead];
            int want = shape[i] == -1 ? own : shape[i];
            if (own != want && own != 1)
                throw new ArgumentException($"Expand: the expanded size ({want}) must match the existing size ({own}) at non-singleton dimension {i}; shape {ShapeUtil.Format(_shape)} to {ShapeUtil.Format(shape)}.");
            newShape[i] = want;
            strides[i] = own == want ? _strides[i - lead] : 0;
        }
        if (ShapeUtil.SameShape(newShape, _shape)) return this;
        // The engine sums the gradient back to the input's shape.
        var result = MakeView(newShape, strides, _offset, "ExpandBackward", g => [g]);
        Tracing.Current?.Record("Expand", result, [this], newShape);
        return result;
    }

    /// <summary>Expands to the shape of <paramref name="other"/>.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other._shape);

    /// <summary>Removes all size-1 dims.</summary>
    public Tensor Squeeze()
    {
        var shape = _shape.Where(s => s != 1).ToArray();
        return shape.Length == Dim ? this : Reshape(shape);
    }

    /// <summary>Removes dim if its size is 1 (otherwise returns the tensor unchanged, as PyTorch).</summary>
    public Tensor Squeeze(int dim)
    {
        if (Dim == 0) { ShapeUtil.WrapDim(dim, 0, "Squeeze"); return this; }
        int d = ShapeUtil.WrapDim(dim, Dim, "Squeeze");
        if (_shape[d] != 1) return this;
        var shape = _shape.Where((_, i) => i != d).ToArray();
        var strides = _strides.Where((_, i) => i != d).ToArray();
        var from = _shape;
        var result = MakeView(shape, strides, _offset, "SqueezeBackward", g => [g.Reshape(from)]);
        Tracing.Current?.Record("Reshape", result, [this], shape);
        return result;
    }

    /// <summary>Inserts a size-1 dim at position dim (−1 appends).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = ShapeUtil.WrapDim(dim, Dim + 1, "Unsqueeze");
        var shape = new List<int>(_shape);
        var strides = new List<int>(_strides);
        shape.Insert(d, 1);
        strides.Insert(d, d < Dim ? _strides[d] * _shape[d] : 1);
        var from = _shape;
        var result = MakeView([.. shape], [.. strides], _offset, "UnsqueezeBackward", g => [g.Reshape(from)]);
        Tracing.Current?.Record("Reshape", result, [this], result._shape);
        return result;
    }

    /// <summary>Python-style indexing: ints select (remove the dim), ranges slice, <see cref="TensorIndex.Ellipsis"/>
    /// skips dims and <see cref="TensorIndex.NewAxis"/> inserts one, e.g. <c>x[0, 1..3]</c>, <c>x[.., ^1]</c>. Int64
    /// tensors index by position and Bool tensors by mask (advanced indexing, a copy; see docs/autograd.md); the setter
    /// writes through the same indices (<see cref="IndexPut_(TensorIndex[], Tensor, bool)"/>).</summary>
    [System.Runtime.CompilerServices.IndexerName("Index")]
    public Tensor this[params TensorIndex[] indices]
    {
        get => IndexGet(indices);
        set => IndexSet(indices, value);
    }
}

/// <summary>One entry of a tensor index: an int, a range, an Int64 or Bool tensor, <see cref="Colon"/>,
/// <see cref="NewAxis"/> or <see cref="Ellipsis"/>.</summary>
public readonly struct TensorIndex
{
    internal enum IndexKind { Int, Range, NewAxis, Ellipsis, Tensor }

    internal IndexKind Kind { get; }
    internal int Int { get; }
    internal Range Range { get; }
    internal bool FromEnd { get; }
    internal Tensor? Tensor { get; }

    private TensorIndex(IndexKind kind, int i = 0, Range r = default, bool fromEnd = false, Tensor? tensor = null) { Kind = kind; Int = i; Range = r; FromEnd = fromEnd; Tensor = tensor; }

    /// <summary>Indexes by an Int64 tensor (positions, negative counting from the end) or a Bool tensor (a mask over
    /// as many dims as it has).</summary>
    public static implicit operator TensorIndex(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return new(IndexKind.Tensor, tensor: index);
    }

    /// <summary>The whole dim (Python's <c>:</c>, the same as the range <c>..</c>).</summary>
    public static TensorIndex Colon => new(IndexKind.Range, r: Range.All);

    /// <summary>Selects one position (negative counts from the end).</summary>
    public static implicit operator TensorIndex(int index) => new(IndexKind.Int, index);

    /// <summary>Selects one position counted from the start or end.</summary>
    public static implicit operator TensorIndex(Index index) => new(IndexKind.Int, index.IsFromEnd ? -index.Value : index.Value, fromEnd: index.IsFromEnd);

    /// <summary>Slices a range of positions.</summary>
    public static implicit operator TensorIndex(Range range) => new(IndexKind.Range, r: range);

    /// <summary>Inserts a new size-1 dim (Python's <c>None</c>).</summary>
    public static TensorIndex NewAxis => new(IndexKind.NewAxis);

    /// <summary>Stands for as many full slices as needed (Python's <c>...</c>).</summary>
    public static TensorIndex Ellipsis => new(IndexKind.Ellipsis);
}

internal static class RangeExtensions
{
    public static (int Offset, int Length) GetOffsetAndLengthClamped(this Range range, int length)
    {
        int start = range.Start.IsFromEnd ? length - range.Start.Value : range.Start.Value;
        int end = range.End.IsFromEnd ? length - range.End.Value : range.End.Value;
        start = Math.Clamp(start, 0, length);
        end = Math.Clamp(end, start, length);
        return (start, end - start);
    }
}
