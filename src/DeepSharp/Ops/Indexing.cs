using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Index-based ops: Gather/ScatterAdd, IndexSelect/IndexAdd, Where, MaskedFill. Index tensors are Int64.
// Each pair is the other's backward, so all of them support higher-order gradients.
public sealed partial class Tensor
{
    private static void CheckIndexTensor(Tensor index, string op)
    {
        if (index.DType != DType.Int64)
            throw new ArgumentException($"{op}: expected an Int64 index tensor but got {index.DType}; convert with Long().");
    }

    /// <summary>out[i][j] = x[index[i][j]][j] for dim 0, etc. (<c>torch.gather</c>); index has the output's shape.</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        CheckIndexTensor(index, "Gather");
        CheckFloating("Gather");
        int d = ShapeUtil.WrapDim(dim, Dim, "Gather");
        if (Dim == 0 && index.Dim == 0) return Reshape(1).Gather(0, index.Reshape(1)).Reshape(); // as a 1-element vector
        if (index.Dim != Dim)
            throw new ArgumentException($"Gather: index tensor must have the same number of dimensions as input ({Dim}), got index shape {ShapeUtil.Format(index._shape)} and input shape {ShapeUtil.Format(_shape)}.");
        for (int i = 0; i < Dim; i++)
            if (i != d && index._shape[i] > _shape[i])
                throw new ArgumentException($"Gather: size of index {ShapeUtil.Format(index._shape)} exceeds the input {ShapeUtil.Format(_shape)} at dimension {i}.");
        var indexC = index.Contiguous();
        var idx = indexC.ReadSpan<long>();
        var result = Empty(index._shape, DType, zeroed: false);
        foreach (long j in idx)
            if (j < 0 || j >= _shape[d])
                throw new ArgumentOutOfRangeException(nameof(index), $"Gather: index {j} is out of bounds for dimension {d} with size {_shape[d]}.");
        DispatchFloat(DType, "Gather", new GatherAlongCore(this, indexC, result, d));
        var inputShape = _shape;
        var x = this;
        return Node.Record(result, "GatherBackward", [x], g => [Zeros(inputShape, g.DType).ScatterAdd(d, index, g)]);
    }

    /// <summary>A copy of this tensor with src added at the positions index names along dim (<c>scatter_add</c>, out of place).</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(src);
        CheckIndexTensor(index, "ScatterAdd");
        CheckSameDType(this, src, "ScatterAdd");
        int d = ShapeUtil.WrapDim(dim, Dim, "ScatterAdd");
        if (Dim == 0 && index.Dim == 0 && src.Dim == 0) return Reshape(1).ScatterAdd(0, index.Reshape(1), src.Reshape(1)).Reshape();
        if (index.Dim != Dim || src.Dim != Dim)
            throw new ArgumentException($"ScatterAdd: index {ShapeUtil.Format(index._shape)} and src {ShapeUtil.Format(src._shape)} must have the same rank as self {ShapeUtil.Format(_shape)}.");
        for (int i = 0; i < Dim; i++)
            if (index._shape[i] > src._shape[i] || (i != d && index._shape[i] > _shape[i]))
                throw new ArgumentException($"ScatterAdd: index {ShapeUtil.Format(index._shape)} does not fit src {ShapeUtil.Format(src._shape)} and self {ShapeUtil.Format(_shape)} at dimension {i}.");
        Tensor result;
        using (GradMode.Set(false)) result = Clone();
        var idx = index.Contiguous().ReadSpan<long>();
        foreach (long j in idx)
            if (j < 0 || j >= _shape[d])
                throw new ArgumentOutOfRangeException(nameof(index), $"ScatterAdd: index {j} is out of bounds for dimension {d} with size {_shape[d]}.");
        var idxStrides = ShapeUtil.ContiguousStrides(index._shape);
        switch (result._storage)
        {
            case Storage<float> r: GatherKernels.ScatterAddAlong(((Storage<float>)src._storage).Data, src._offset, src._strides, idx, idxStrides, d, r.Data.AsSpan(result._offset), result._strides); break;
            case Storage<double> r: GatherKernels.ScatterAddAlong(((Storage<double>)src._storage).Data, src._offset, src._strides, idx, idxStrides, d, r.Data.AsSpan(result._offset), result._strides); break;
            case Storage<long> r: GatherKernels.ScatterAddAlong(((Storage<long>)src._storage).Data, src._offset, src._strides, idx, idxStrides, d, r.Data.AsSpan(result._offset), result._strides); break;
            default: if (idx.Length > 0) throw new ArgumentException("ScatterAdd: Bool tensors cannot be added."); break;
        }
        var self = this;
        var srcShape = src._shape;
        return Node.Record(result, "ScatterAddBackward", [self, src], g => [g, src.RequiresGrad ? PadWithZeros(g.Gather(d, index), srcShape) : null]);
    }

    /// <summary>t extended with zeros at the end of each dim to <paramref name="shape"/> (differentiable: built from Cat).</summary>
    private static Tensor PadWithZeros(Tensor t, int[] shape)
    {
        for (int i = 0; i < shape.Length; i++)
        {
            if (t._shape[i] == shape[i]) continue;
            var padShape = (int[])t._shape.Clone();
            padShape[i] = shape[i] - t._shape[i];
            t = Cat([t, Zeros(padShape, t.DType)], i);
        }
        return t;
    }

    /// <summary>Selects entries along dim by a 1-D Int64 index (<c>index_select</c>).</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        CheckIndexTensor(index, "IndexSelect");
        int d = ShapeUtil.WrapDim(dim, Dim, "IndexSelect");
        if (index.Dim > 1) throw new ArgumentException($"IndexSelect: index must be 0-D or 1-D, got shape {ShapeUtil.Format(index._shape)}.");
        if (Dim == 0)
        {
            // A 0-d tensor is a 1-element vector here; the result stays 0-d, so the index names one element.
            if (index.NumEl != 1) throw new ArgumentException($"IndexSelect: the index into a 0-d tensor must have one value, got shape {ShapeUtil.Format(index._shape)}.");
            return Reshape(1).IndexSelect(0, index.Reshape(1)).Reshape();
        }
        var idx = index.Contiguous().ReadSpan<long>().ToArray();
        // As torch.index_select: indices must lie in [0, size) (negative indices are an error, not wrapped).
        foreach (long j in idx)
            if (j < 0 || j >= _shape[d])
                throw new ArgumentOutOfRangeException(nameof(index), $"IndexSelect: index {j} is out of range for dimension {d} with size {_shape[d]} (shape {ShapeUtil.Format(_shape)}); indices must be in [0, {_shape[d]}).");
        var shape = (int[])_shape.Clone();
        shape[d] = idx.Length;
        var result = Empty(shape, DType, zeroed: false);
        if (d == 0 && _isContiguous)
        {
            // Whole rows (a data loader's batch, an embedding lookup): one block copy per index.
            int row = _shape[0] == 0 ? 0 : NumEl / _shape[0];
            switch (DType)
            {
                case DType.Float32: CopyRows<float>(this, result, idx, row); break;
                case DType.Float64: CopyRows<double>(this, result, idx, row); break;
                case DType.Int64: CopyRows<long>(this, result, idx, row); break;
                default: CopyRows<bool>(this, result, idx, row); break;
            }
        }
        else
        {
            using (GradMode.Set(false))
                for (int i = 0; i < idx.Length; i++)
                    result.Narrow(d, i, 1).CopyFromNoGrad(Narrow(d, (int)idx[i], 1));
        }
        if (!DType.IsFloatingPoint()) return result;
        var inputShape = _shape;
        return Node.Record(result, "IndexSelectBackward", [this], g => [Zeros(inputShape, g.DType).IndexAdd(d, index, g)]);
    }

    private static void CopyRows<T>(Tensor src, Tensor dst, long[] idx, int row) where T : unmanaged =>
        GatherKernels.Gather(src.ReadSpan<T>(), dst.Span<T>(), idx, row, skip: -1);

    /// <summary>A copy of this tensor with the slices of src added at the positions index names along dim (<c>index_add</c>).</summary>
    public Tensor IndexAdd(int dim, Tensor index, Tensor src)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(src);
        CheckIndexTensor(index, "IndexAdd");
        CheckSameDType(this, src, "IndexAdd");
        int d = ShapeUtil.WrapDim(dim, Dim, "IndexAdd");
        if (index.Dim > 1) throw new ArgumentException($"IndexAdd: index must be 0-D or 1-D, got shape {ShapeUtil.Format(index._shape)}.");
        if (Dim == 0)
        {
            if (index.NumEl != 1 || src.Dim > 1 || src.NumEl != 1)
                throw new ArgumentException($"IndexAdd: into a 0-d tensor, index and src must have one value each, got index {ShapeUtil.Format(index._shape)} and src {ShapeUtil.Format(src._shape)}.");
            return Reshape(1).IndexAdd(0, index.Reshape(1), src.Reshape(1)).Reshape();
        }
        var idx = index.Contiguous().ReadSpan<long>().ToArray();
        bool fits = src.Dim == Dim && src._shape[d] == idx.Length;
        for (int i = 0; fits && i < Dim; i++) fits = i == d || src._shape[i] == _shape[i];
        if (!fits)
            throw new ArgumentException($"IndexAdd: src shape {ShapeUtil.Format(src._shape)} does not match self {ShapeUtil.Format(_shape)} with {idx.Length} indices along dimension {d}.");
        Tensor result;
        using (GradMode.Set(false))
        {
            result = Clone();
            for (int i = 0; i < idx.Length; i++)
            {
                long j = idx[i] < 0 ? idx[i] + _shape[d] : idx[i];
                if (j < 0 || j >= _shape[d])
                    throw new ArgumentOutOfRangeException(nameof(index), $"IndexAdd: index {idx[i]} is out of range for dimension {d} with size {_shape[d]}.");
                var slot = result.Narrow(d, (int)j, 1);
                slot.CopyFromNoGrad(slot + src.Narrow(d, i, 1));
            }
        }
        return Node.Record(result, "IndexAddBackward", [this, src], g => [g, src.RequiresGrad ? g.IndexSelect(d, index) : null]);
    }

    /// <summary>Elements of a where condition is true, else of b (broadcast; <c>torch.where</c>).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(condition);
        if (a.DType != b.DType) { var common = ResultType(a, b); a = a.To(common); b = b.To(common); } // PyTorch's promotion
        var shape = ShapeUtil.Broadcast(ShapeUtil.Broadcast(condition._shape, a._shape, "Where"), b._shape, "Where");
        var c = condition.To(DType.Bool).Expand(shape).Contiguous().ReadSpan<bool>();
        Tensor ea, eb;
        using (GradMode.Set(false)) { ea = a.Expand(shape).Contiguous(); eb = b.Expand(shape).Contiguous(); }
        var result = Empty(shape, a.DType, zeroed: false);
        switch (a.DType)
        {
            case DType.Float32: GatherKernels.Select(c, ea.ReadSpan<float>(), eb.ReadSpan<float>(), result.Span<float>()); break;
            case DType.Float64: GatherKernels.Select(c, ea.ReadSpan<double>(), eb.ReadSpan<double>(), result.Span<double>()); break;
            case DType.Int64: GatherKernels.Select(c, ea.ReadSpan<long>(), eb.ReadSpan<long>(), result.Span<long>()); break;
            default: GatherKernels.Select(c, ea.ReadSpan<bool>(), eb.ReadSpan<bool>(), result.Span<bool>()); break;
        }
        Tracing.Current?.Record("Where", result, [condition, a, b]);
        if (!a.DType.IsFloatingPoint()) return result;
        var cond = condition;
        return Node.Record(result, "WhereBackward", [a, b], g =>
        {
            var zero = ZerosLike(g);
            return [a.RequiresGrad ? Where(cond, g, zero) : null, b.RequiresGrad ? Where(cond, zero, g) : null];
        });
    }

    /// <summary>Where(condition, scalar, b).</summary>
    public static Tensor Where(Tensor condition, double a, Tensor b) => Where(condition, Scalar(a, b.DType), b);

    /// <summary>Where(condition, a, scalar).</summary>
    public static Tensor Where(Tensor condition, Tensor a, double b) => Where(condition, a, Scalar(b, a.DType));

    /// <summary>Replaces elements where the Bool <paramref name="mask"/> (broadcast) is true by value (<c>masked_fill</c>).</summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.DType != DType.Bool) throw new ArgumentException($"MaskedFill: expected a Bool mask but got {mask.DType}.");
        var shape = ShapeUtil.Broadcast(_shape, mask._shape, "MaskedFill");
        if (!ShapeUtil.SameShape(shape, _shape))
            throw new ArgumentException($"MaskedFill: the mask {ShapeUtil.Format(mask._shape)} must be broadcastable to the tensor's shape {ShapeUtil.Format(_shape)}.");
        return Where(mask, Scalar(value, DType), this);
    }

    // Element moves between storages of the same dtype (used by gather/scatter loops).
    /// <summary>Gather along Dim from Src's storage (its offset and strides) into the fresh contiguous Result.</summary>
    private readonly record struct GatherAlongCore(Tensor Src, Tensor Index, Tensor Result, int Dim) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            GatherKernels.GatherAlong(((Storage<T>)Src._storage).Data, Src._offset, Src._strides, Index.ReadSpan<long>(), Result._strides, Dim,
                Result.Span<T>());
    }
}
