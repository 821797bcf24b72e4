using DeepSharp.Interop;
using DeepSharp.Kernels;

namespace DeepSharp;

// Advanced indexing, as PyTorch/NumPy: x[idx] with Int64 tensors, x[mask] with Bool tensors (mixed with ints, ranges,
// Ellipsis and NewAxis), assignment through the indexer (IndexPut_), IndexPut, MaskedSelect, MaskedScatter, Nonzero.
//
// Plan: ints, ranges and NewAxis are applied first as views (as PyTorch's applySlicing); each Bool mask becomes one
// Int64 index per dim it covers (its Nonzero columns). The tensor indices are then broadcast together to shape B; the
// indexed dims are moved to the front and flattened into N rows of R elements, and one linear Int64 index of shape B
// names a row per output entry. Two primitives do the work and are each other's backward, so every op here supports
// higher-order gradients: TakeRows (gather rows) and PutRows (write or accumulate rows). Everything else is views.
public sealed partial class Tensor
{
    /// <summary>One tensor index after basic indexing: the view dim it indexes, an Int64 index, and the dim of the
    /// original tensor (for messages).</summary>
    private readonly record struct AdvancedIndex(int Dim, Tensor Index, int ReportDim);

    // ---------------------------------------------------------------- public API

    /// <summary>
    /// Returns a copy of this tensor with <paramref name="values"/> written at the positions <paramref name="indices"/>
    /// name (<c>torch.index_put</c>; <c>x[indices] = values</c> out of place). Indices are as for the indexer: Int64 and
    /// Bool tensors, ints, ranges, <see cref="TensorIndex.Colon"/>, <see cref="TensorIndex.Ellipsis"/>,
    /// <see cref="TensorIndex.NewAxis"/>. <paramref name="values"/> (same dtype) is broadcast to the shape of
    /// <c>x[indices]</c>. With <paramref name="accumulate"/> false and a position named more than once, the last value
    /// in row-major order of the broadcast indices wins; with <paramref name="accumulate"/> true the values are added
    /// to the existing entries (duplicates are summed).
    /// </summary>
    public Tensor IndexPut(TensorIndex[] indices, Tensor values, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        CheckSameDType(this, values, "IndexPut");
        var (view, adv) = ApplyBasicIndexing(indices, "IndexPut");
        if (ReferenceEquals(view, this) && adv.Count > 0) return IndexPutCore(adv, values, accumulate, "IndexPut");
        var result = Clone();
        result.IndexPut_(indices, values, accumulate);
        return result;
    }

    /// <summary>
    /// Writes <paramref name="values"/> (broadcast) at the positions <paramref name="indices"/> name, in place
    /// (<c>torch.Tensor.index_put_</c>; the indexer's setter <c>x[indices] = values</c> calls it). See
    /// <see cref="IndexPut(TensorIndex[], Tensor, bool)"/> for the indices, duplicates and <paramref name="accumulate"/>.
    /// As every in-place op: refused on a leaf that requires grad (while grad mode records), bumps
    /// <see cref="Version"/>, and on a tensor with history it rebases that history onto the write.
    /// </summary>
    public Tensor IndexPut_(TensorIndex[] indices, Tensor values, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        CheckSameDType(this, values, "IndexPut_");
        CheckInPlaceAllowed("IndexPut_", values);
        var (view, adv) = ApplyBasicIndexing(indices, "IndexPut_");
        if (adv.Count > 0) view.IndexPutInPlace(adv, values, accumulate, "IndexPut_");
        else if (accumulate) view.Add_(values);
        else view.Copy_(values);
        return this;
    }

    /// <summary>Writes the scalar <paramref name="value"/> at the positions <paramref name="indices"/> name, in place
    /// (<c>x[indices] = value</c>).</summary>
    public Tensor IndexPut_(TensorIndex[] indices, double value) => IndexPut_(indices, Scalar(value, DType));

    /// <summary>
    /// The elements where the Bool <paramref name="mask"/> is true, as a 1-D tensor in row-major order; this tensor
    /// and the mask are broadcast together (<c>torch.masked_select</c>). Differentiable: the gradient flows back to
    /// the selected positions (summed over broadcast dims).
    /// </summary>
    public Tensor MaskedSelect(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.DType != DType.Bool) throw new ArgumentException($"MaskedSelect: expected a Bool mask but got {mask.DType}.");
        var shape = ShapeUtil.Broadcast(_shape, mask._shape, "MaskedSelect");
        var x = ShapeUtil.SameShape(shape, _shape) ? this : Expand(shape);
        var m = ShapeUtil.SameShape(shape, mask._shape) ? mask : mask.Expand(shape);
        var (view, adv) = x.ApplyBasicIndexing([m], "MaskedSelect");
        return view.IndexGetCore(adv, "MaskedSelect");
    }

    /// <summary>
    /// A copy of this tensor (broadcast with <paramref name="mask"/>) where the positions the Bool mask selects are
    /// filled, in row-major order, with the first elements of <paramref name="source"/> (<c>torch.masked_scatter</c>).
    /// <paramref name="source"/> needs at least as many elements as the mask has true entries. Differentiable with
    /// respect to both: this tensor's gradient is zero at the masked positions, source's is the gradient at them
    /// (zero for its unused elements).
    /// </summary>
    public Tensor MaskedScatter(Tensor mask, Tensor source)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(source);
        if (mask.DType != DType.Bool) throw new ArgumentException($"MaskedScatter: expected a Bool mask but got {mask.DType}.");
        CheckSameDType(this, source, "MaskedScatter");
        var shape = ShapeUtil.Broadcast(_shape, mask._shape, "MaskedScatter");
        var x = ShapeUtil.SameShape(shape, _shape) ? this : Expand(shape);
        var m = ShapeUtil.SameShape(shape, mask._shape) ? mask : mask.Expand(shape);
        var (view, adv) = x.ApplyBasicIndexing([m], "MaskedScatter");
        int count = adv[0].Index.NumEl;
        if (source.NumEl < count)
            throw new ArgumentException($"MaskedScatter: the mask {ShapeUtil.Format(mask._shape)} selects {count} elements but source {ShapeUtil.Format(source._shape)} has only {source.NumEl}.");
        var flat = source.Reshape(-1);
        var values = flat.NumEl == count ? flat : flat.Narrow(0, 0, count);
        return view.IndexPutCore(adv, values, accumulate: false, "MaskedScatter");
    }

    /// <summary>
    /// The coordinates of the nonzero (true) elements, one row each in row-major order: an Int64 tensor of shape
    /// [count, Dim] (<c>torch.nonzero</c>). Not differentiable.
    /// </summary>
    public Tensor Nonzero()
    {
        var c = Contiguous();
        int rank = Dim;
        int count = DType switch
        {
            DType.Float32 => AdvancedIndexKernels.CountNonzero(c.ReadSpan<float>()),
            DType.Float64 => AdvancedIndexKernels.CountNonzero(c.ReadSpan<double>()),
            DType.Int64 => AdvancedIndexKernels.CountNonzero(c.ReadSpan<long>()),
            _ => AdvancedIndexKernels.CountNonzero(c.ReadSpan<bool>()),
        };
        var result = Empty([count, rank], DType.Int64, zeroed: false);
        var coords = result.Span<long>();
        switch (DType)
        {
            case DType.Float32: AdvancedIndexKernels.NonzeroCoordinates(c.ReadSpan<float>(), _shape, coords); break;
            case DType.Float64: AdvancedIndexKernels.NonzeroCoordinates(c.ReadSpan<double>(), _shape, coords); break;
            case DType.Int64: AdvancedIndexKernels.NonzeroCoordinates(c.ReadSpan<long>(), _shape, coords); break;
            default: AdvancedIndexKernels.NonzeroCoordinates(c.ReadSpan<bool>(), _shape, coords); break;
        }
        return result;
    }

    // ---------------------------------------------------------------- the indexer (hooks from Views.cs)

    private Tensor IndexGet(TensorIndex[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var (view, adv) = ApplyBasicIndexing(indices, "Index");
        return adv.Count == 0 ? view : view.IndexGetCore(adv, "Index");
    }

    private void IndexSet(TensorIndex[] indices, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        // As PyTorch's __setitem__: the value is converted to this tensor's dtype.
        IndexPut_(indices, value.DType == DType ? value : value.To(DType));
    }

    /// <summary>Applies ints, ranges, NewAxis and Ellipsis as views, and returns the view with the tensor indices
    /// (Bool masks expanded into Int64 indices, one per covered dim) placed on its dims.</summary>
    private (Tensor View, List<AdvancedIndex> Advanced) ApplyBasicIndexing(TensorIndex[] indices, string op)
    {
        int consumed = 0, ellipses = 0;
        foreach (var idx in indices)
        {
            switch (idx.Kind)
            {
                case TensorIndex.IndexKind.Int or TensorIndex.IndexKind.Range: consumed++; break;
                case TensorIndex.IndexKind.Ellipsis: ellipses++; break;
                case TensorIndex.IndexKind.Tensor:
                    var ix = idx.Tensor!;
                    if (ix.DType is DType.Float32 or DType.Float64)
                        throw new ArgumentException($"{op}: tensors used as indices must be Int64 or Bool, got a {ix.DType} tensor of shape {ShapeUtil.Format(ix._shape)}; convert with Long().");
                    consumed += ix.DType == DType.Bool ? ix.Dim : 1;
                    break;
            }
        }
        if (ellipses > 1) throw new ArgumentException($"{op}: an index can only have a single Ellipsis.");
        if (consumed > Dim)
            throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: too many indices ({consumed}) for a tensor of rank {Dim} (shape {ShapeUtil.Format(_shape)}).");
        var adv = new List<AdvancedIndex>();
        var t = this;
        int dim = 0, orig = 0;
        foreach (var idx in indices)
        {
            switch (idx.Kind)
            {
                case TensorIndex.IndexKind.Int:
                    // ^k counts from the end: ^0 (one past the end) and ^k beyond the size are out of range.
                    if (idx.FromEnd && dim < t.Dim && (idx.Int == 0 || -idx.Int > t._shape[dim]))
                        throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: index ^{-idx.Int} is out of range for dimension {orig} with size {t._shape[dim]} (shape {ShapeUtil.Format(_shape)}).");
                    t = t.Select(dim, idx.Int);
                    orig++;
                    break;
                case TensorIndex.IndexKind.Range:
                    var (offset, length) = idx.Range.GetOffsetAndLengthClamped(t._shape[dim]);
                    if (offset != 0 || length != t._shape[dim]) t = t.Slice(dim, offset, offset + length);
                    dim++;
                    orig++;
                    break;
                case TensorIndex.IndexKind.NewAxis:
                    t = t.Unsqueeze(dim);
                    dim++;
                    break;
                case TensorIndex.IndexKind.Ellipsis:
                    dim += Dim - consumed;
                    orig += Dim - consumed;
                    break;
                case TensorIndex.IndexKind.Tensor:
                    var ix = idx.Tensor!;
                    if (ix.DType == DType.Int64)
                    {
                        adv.Add(new AdvancedIndex(dim++, ix, orig++));
                        break;
                    }
                    if (ix.Dim == 0)
                    {
                        // A 0-d Bool index adds a dim of size 1 (true) or 0 (false), as PyTorch.
                        bool keep = ix.Contiguous().ReadSpan<bool>()[0];
                        t = t.Unsqueeze(dim);
                        adv.Add(new AdvancedIndex(dim++, keep ? Zeros([1], DType.Int64) : Zeros([0], DType.Int64), orig));
                        break;
                    }
                    for (int j = 0; j < ix.Dim; j++)
                        if (ix._shape[j] != t._shape[dim + j])
                            throw new ArgumentException($"{op}: the shape of the mask {ShapeUtil.Format(ix._shape)} at index {j} does not match the shape of the indexed tensor {ShapeUtil.Format(_shape)} at dimension {orig + j} ({ix._shape[j]} vs {t._shape[dim + j]}).");
                    var nz = ix.Nonzero();
                    for (int j = 0; j < ix.Dim; j++) adv.Add(new AdvancedIndex(dim + j, nz.Select(1, j), orig + j));
                    dim += ix.Dim;
                    orig += ix.Dim;
                    break;
            }
        }
        return (t, adv);
    }

    // ---------------------------------------------------------------- the plan shared by get and put

    /// <summary>How one advanced indexing maps to rows: the permutation that puts the indexed dims first, the
    /// broadcast index shape B, the rest shape, the linear row index (shape [numel(B)]), and where B's dims go in
    /// the result (after the first <c>InsertAt</c> rest dims: at the first indexed dim when the indexed dims are
    /// adjacent, else in front).</summary>
    private sealed record IndexPlan(int[] Perm, int[] IndexedSizes, int[] Broadcast, int[] Rest, int InsertAt, Tensor Linear, int N, int R)
    {
        public int[] ResultShape => [.. Rest[..InsertAt], .. Broadcast, .. Rest[InsertAt..]];
    }

    private IndexPlan PlanIndex(List<AdvancedIndex> adv, string op)
    {
        adv.Sort((a, b) => a.Dim.CompareTo(b.Dim));
        var isIndexed = new bool[Dim];
        int[] b = [];
        foreach (var a in adv)
        {
            isIndexed[a.Dim] = true;
            b = ShapeUtil.Broadcast(b, a.Index._shape, op);
        }
        bool adjacent = adv[^1].Dim - adv[0].Dim == adv.Count - 1;
        var perm = new int[Dim];
        var indexedSizes = new int[adv.Count];
        var rest = new int[Dim - adv.Count];
        for (int i = 0; i < adv.Count; i++) { perm[i] = adv[i].Dim; indexedSizes[i] = _shape[adv[i].Dim]; }
        for (int d = 0, k = 0; d < Dim; d++)
            if (!isIndexed[d]) { perm[adv.Count + k] = d; rest[k++] = _shape[d]; }
        int m = ShapeUtil.Numel(b);
        var linear = Zeros([m], DType.Int64);
        var lin = linear.Span<long>();
        long stride = 1;
        for (int i = adv.Count - 1; i >= 0; i--)
        {
            var e = adv[i].Index.Expand(b).Contiguous().ReadSpan<long>();
            int bad = AdvancedIndexKernels.AccumulateLinear(e, indexedSizes[i], stride, lin);
            if (bad >= 0)
                throw new ArgumentOutOfRangeException("indices", $"{op}: index {e[bad]} is out of bounds for dimension {adv[i].ReportDim} with size {indexedSizes[i]}; indices must be in [{-indexedSizes[i]}, {indexedSizes[i]}).");
            stride *= indexedSizes[i];
        }
        int n = ShapeUtil.Numel(indexedSizes);
        return new IndexPlan(perm, indexedSizes, b, rest, adjacent ? adv[0].Dim : 0, linear, n, ShapeUtil.Numel(rest));
    }

    /// <summary>This tensor with the indexed dims first, flattened to [N, R].</summary>
    private Tensor AsRows(IndexPlan plan)
    {
        var t = IsIdentity(plan.Perm) ? this : Permute(plan.Perm);
        return t.Reshape(plan.N, plan.R);
    }

    private static bool IsIdentity(int[] perm)
    {
        for (int i = 0; i < perm.Length; i++) if (perm[i] != i) return false;
        return true;
    }

    /// <summary>Moves the B dims (first <paramref name="nb"/> dims of a [B…, rest…] tensor) to after the first
    /// <paramref name="insertAt"/> rest dims, or back when <paramref name="inverse"/>.</summary>
    private static Tensor MoveBroadcastDims(Tensor t, int nb, int insertAt, bool inverse)
    {
        if (insertAt == 0 || nb == 0) return t;
        int rank = t.Dim;
        var perm = new int[rank];
        int k = 0;
        for (int i = 0; i < insertAt; i++) perm[k++] = nb + i;
        for (int i = 0; i < nb; i++) perm[k++] = i;
        for (int i = nb + insertAt; i < rank; i++) perm[k++] = i;
        if (!inverse) return t.Permute(perm);
        var inv = new int[rank];
        for (int i = 0; i < rank; i++) inv[perm[i]] = i;
        return t.Permute(inv);
    }

    private Tensor IndexGetCore(List<AdvancedIndex> adv, string op)
    {
        var plan = PlanIndex(adv, op);
        var rows = TakeRows(AsRows(plan), plan.Linear);
        var canonical = rows.Reshape([.. plan.Broadcast, .. plan.Rest]);
        return MoveBroadcastDims(canonical, plan.Broadcast.Length, plan.InsertAt, inverse: false);
    }

    /// <summary>Out of place: a tensor of this shape with values written (or added) at the indexed positions.</summary>
    private Tensor IndexPutCore(List<AdvancedIndex> adv, Tensor values, bool accumulate, string op)
    {
        CheckSameDType(this, values, op);
        var plan = PlanIndex(adv, op);
        var target = plan.ResultShape;
        // Leading size-1 dims of the values are dropped, as PyTorch's setitem does (x[idx] = v with v [1, k]).
        int extra = values.Dim - target.Length;
        if (extra > 0 && values._shape[..extra].All(s => s == 1)) values = values.Reshape(values._shape[extra..]);
        if (!BroadcastsTo(values._shape, target))
            throw new ArgumentException($"{op}: shape mismatch: value tensor of shape {ShapeUtil.Format(values._shape)} cannot be broadcast to indexing result of shape {ShapeUtil.Format(target)}.");
        var v = ShapeUtil.SameShape(values._shape, target) ? values : values.Expand(target);
        v = MoveBroadcastDims(v, plan.Broadcast.Length, plan.InsertAt, inverse: true).Reshape(plan.Linear.NumEl, plan.R);
        var rows = PutRows(AsRows(plan), plan.Linear, v, accumulate);
        var permuted = rows.Reshape([.. plan.IndexedSizes, .. plan.Rest]);
        if (IsIdentity(plan.Perm)) return permuted;
        var inverse = new int[Dim];
        for (int i = 0; i < Dim; i++) inverse[plan.Perm[i]] = i;
        return permuted.Permute(inverse);
    }

    private static bool BroadcastsTo(int[] shape, int[] target)
    {
        if (shape.Length > target.Length) return false;
        for (int i = 1; i <= shape.Length; i++)
            if (shape[^i] != 1 && shape[^i] != target[^i]) return false;
        return true;
    }

    /// <summary>The in-place write of IndexPut_ on this tensor (maybe a view), with the in-place rules.</summary>
    private void IndexPutInPlace(List<AdvancedIndex> adv, Tensor values, bool accumulate, string op)
    {
        CheckInPlaceAllowed(op, values);
        if (!GradMode.IsEnabled || (!RequiresGrad && !values.RequiresGrad))
        {
            Tensor r;
            using (GradMode.Set(false)) r = IndexPutCore(adv, values, accumulate, op);
            CopyFromNoGrad(r);
            BumpVersion();
            return;
        }
        if (_base is not null)
        {
            InPlaceOnView(values, op, (a, b) => a.IndexPutCore(adv, b, accumulate, op), (self, b) =>
            {
                using (GradMode.Set(false)) self.CopyFromNoGrad(self.IndexPutCore(adv, b, accumulate, op));
            });
            return;
        }
        // Rebase (as the other in-place ops): computed out of place from a snapshot, written back, history adopted.
        var snapshot = Clone();
        var result = snapshot.IndexPutCore(adv, values, accumulate, op);
        using (GradMode.Set(false)) CopyFromNoGrad(result);
        BumpVersion();
        _gradFn = result._gradFn;
    }

    // ---------------------------------------------------------------- the two primitives (each the other's backward)

    /// <summary>Rows <paramref name="linear"/> of <paramref name="src"/> ([N, R]): a [M, R] tensor.</summary>
    private static Tensor TakeRows(Tensor src, Tensor linear)
    {
        var c = src.Contiguous();
        var idx = linear.ReadSpan<long>();
        int r = src._shape[1];
        var result = Empty([linear.NumEl, r], src.DType, zeroed: false);
        switch (src.DType)
        {
            case DType.Float32: AdvancedIndexKernels.GatherRows(c.ReadSpan<float>(), idx, r, result.Span<float>()); break;
            case DType.Float64: AdvancedIndexKernels.GatherRows(c.ReadSpan<double>(), idx, r, result.Span<double>()); break;
            case DType.Int64: AdvancedIndexKernels.GatherRows(c.ReadSpan<long>(), idx, r, result.Span<long>()); break;
            default: AdvancedIndexKernels.GatherRows(c.ReadSpan<bool>(), idx, r, result.Span<bool>()); break;
        }
        Tracing.Current?.Record("Index", result, [src]);   // not exportable: the exporter names the op
        var srcShape = src._shape;
        return Node.Record(result, "IndexBackward", [src], g => [PutRows(Zeros(srcShape, g.DType), linear, g, accumulate: true)]);
    }

    /// <summary>A copy of <paramref name="self"/> ([N, R]) with row linear[i] set to (or increased by) row i of
    /// <paramref name="values"/> ([M, R]).</summary>
    private static Tensor PutRows(Tensor self, Tensor linear, Tensor values, bool accumulate)
    {
        Tensor result;
        using (GradMode.Set(false)) result = self.Clone();
        var v = values.Contiguous();
        var idx = linear.ReadSpan<long>();
        int r = self._shape[1];
        switch (self.DType)
        {
            case DType.Float32:
                if (accumulate) AdvancedIndexKernels.AccumulateRows(v.ReadSpan<float>(), idx, r, result.Span<float>());
                else AdvancedIndexKernels.ScatterRows(v.ReadSpan<float>(), idx, r, result.Span<float>());
                break;
            case DType.Float64:
                if (accumulate) AdvancedIndexKernels.AccumulateRows(v.ReadSpan<double>(), idx, r, result.Span<double>());
                else AdvancedIndexKernels.ScatterRows(v.ReadSpan<double>(), idx, r, result.Span<double>());
                break;
            case DType.Int64:
                if (accumulate) AdvancedIndexKernels.AccumulateRows(v.ReadSpan<long>(), idx, r, result.Span<long>());
                else AdvancedIndexKernels.ScatterRows(v.ReadSpan<long>(), idx, r, result.Span<long>());
                break;
            default:
                if (accumulate) throw new ArgumentException("IndexPut: accumulate is not supported for Bool tensors.");
                AdvancedIndexKernels.ScatterRows(v.ReadSpan<bool>(), idx, r, result.Span<bool>());
                break;
        }
        Tracing.Current?.Record("IndexPut", result, [self, values], accumulate);
        var m = values._shape;
        return Node.Record(result, "IndexPutBackward", [self, values], g =>
        [
            !self.RequiresGrad ? null : accumulate ? g : PutRows(g, linear, Zeros(m, g.DType), accumulate: false),
            values.RequiresGrad ? TakeRows(g, linear) : null,
        ]);
    }
}

public static partial class Torch
{
    /// <summary>The elements of <paramref name="input"/> where <paramref name="mask"/> is true, as a 1-D tensor (<c>torch.masked_select</c>).</summary>
    public static Tensor MaskedSelect(Tensor input, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaskedSelect(mask);
    }

    /// <summary>A copy of <paramref name="input"/> with the masked positions filled from <paramref name="source"/> in order (<c>torch.masked_scatter</c>).</summary>
    public static Tensor MaskedScatter(Tensor input, Tensor mask, Tensor source)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaskedScatter(mask, source);
    }

    /// <summary>The coordinates of the nonzero elements, [count, rank] Int64 (<c>torch.nonzero</c>).</summary>
    public static Tensor Nonzero(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Nonzero();
    }

    /// <summary>A copy of <paramref name="input"/> with <paramref name="values"/> written (or added) at <paramref name="indices"/> (<c>torch.index_put</c>).</summary>
    public static Tensor IndexPut(Tensor input, TensorIndex[] indices, Tensor values, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.IndexPut(indices, values, accumulate);
    }
}
