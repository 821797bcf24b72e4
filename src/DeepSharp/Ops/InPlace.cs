using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// In-place ops (trailing underscore, as PyTorch). Each bumps the storage version so autograd can detect
// saved tensors modified after being saved. With grad recording on, an in-place op on a non-leaf rebases
// the tensor's history onto the op (PyTorch semantics); on a leaf that requires grad it is an error.
public sealed partial class Tensor
{
    /// <summary>this += other (broadcast to this tensor's shape).</summary>
    public Tensor Add_(Tensor other) => InPlace(other, "Add_", static (a, b) => a + b, BinaryInPlace<AddOp>);
    /// <summary>this += alpha·other.</summary>
    public Tensor Add_(Tensor other, double alpha) => alpha == 1 ? Add_(other) : Add_(other * alpha);
    /// <summary>this −= other.</summary>
    public Tensor Sub_(Tensor other) => InPlace(other, "Sub_", static (a, b) => a - b, BinaryInPlace<SubOp>);
    /// <summary>this ×= other.</summary>
    public Tensor Mul_(Tensor other) => InPlace(other, "Mul_", static (a, b) => a * b, BinaryInPlace<MulOp>);
    /// <summary>this ÷= other.</summary>
    public Tensor Div_(Tensor other) => InPlace(other, "Div_", static (a, b) => a / b, BinaryInPlace<DivOp>);
    /// <summary>this += s.</summary>
    public Tensor Add_(double s) => Add_(Scalar(s, DType));
    /// <summary>this −= s.</summary>
    public Tensor Sub_(double s) => Sub_(Scalar(s, DType));
    /// <summary>this ×= s.</summary>
    public Tensor Mul_(double s) => Mul_(Scalar(s, DType));
    /// <summary>this ÷= s.</summary>
    public Tensor Div_(double s) => Div_(Scalar(s, DType));

    /// <summary>Sets every element to 0.</summary>
    public Tensor Zero_() => Fill_(0);

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public Tensor Fill_(double value)
    {
        CheckInPlaceAllowed("Fill_", null);
        if (_base is not null && GradMode.IsEnabled && _base.RequiresGrad && DType.IsFloatingPoint())
        {
            // The base's history must learn that this region is now a constant (CopySlices with no gradient).
            var fill = Scalar(value, DType);
            return InPlaceOnView(fill, "Fill_", (a, b) => Full(a._shape, value, a.DType), (self, _) => self.FillRawAny(value));
        }
        if (_isContiguous) FillRaw(value);
        else CopyFromNoGrad(Full(_shape, value, DType));
        BumpVersion();
        if (_gradFn is not null && GradMode.IsEnabled) _gradFn = null; // a constant now: history is cut
        return this;
    }

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape, same dtype or converted) into this tensor.</summary>
    public Tensor Copy_(Tensor src)
    {
        ArgumentNullException.ThrowIfNull(src);
        ShapeUtil.Broadcast(_shape, src._shape, "Copy_");
        CheckInPlaceAllowed("Copy_", src);
        var value = src.DType == DType ? src : src.To(DType);
        if (GradMode.IsEnabled && (src.RequiresGrad || RequiresGrad))
            return InPlace(value, "Copy_", static (a, b) => b.Expand(a._shape) + a * 0.0, BinaryInPlaceCopy);
        CopyFromNoGrad(value.Expand(_shape));
        BumpVersion();
        return this;
    }

    /// <summary>Clamps in place.</summary>
    public Tensor Clamp_(double? min = null, double? max = null) =>
        InPlace(Scalar(0, DType), "Clamp_", (a, _) => a.Clamp(min, max), (self, _) =>
        {
            using (GradMode.Set(false)) self.CopyFromNoGrad(self.Clamp(min, max));
        });

    /// <summary>Raw copy of <paramref name="src"/> (same shape and dtype, any layout) into this view; no autograd, no version bump.</summary>
    internal void CopyFromNoGrad(Tensor src)
    {
        var c = src.Contiguous();
        switch (_storage)
        {
            case Storage<float> s: ElementwiseKernels.Scatter<float>(_shape, c.ReadSpan<float>(), s.Data, _offset, _strides); break;
            case Storage<double> s: ElementwiseKernels.Scatter<double>(_shape, c.ReadSpan<double>(), s.Data, _offset, _strides); break;
            case Storage<long> s: ElementwiseKernels.Scatter<long>(_shape, c.ReadSpan<long>(), s.Data, _offset, _strides); break;
            case Storage<bool> s: ElementwiseKernels.Scatter<bool>(_shape, c.ReadSpan<bool>(), s.Data, _offset, _strides); break;
        }
    }

    private void CheckInPlaceAllowed(string op, Tensor? other)
    {
        if (GradMode.IsEnabled && IsLeaf && RequiresGrad)
            throw new InvalidOperationException($"{op}: a leaf tensor that requires grad is being used in an in-place operation; wrap it in Autograd.NoGrad() (e.g. for a parameter update) or use the out-of-place op.");
    }

    private delegate void RawInPlace(Tensor self, Tensor other);

    private Tensor InPlace(Tensor other, string op, Func<Tensor, Tensor, Tensor> outOfPlace, RawInPlace raw)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckFloating(op);
        // As PyTorch, the other operand may be of any dtype that casts to this one (Float64 into Float32, Int64 into
        // either); it is converted first (differentiably, so its gradient comes back in its own dtype).
        if (other.DType != DType) other = other.To(DType);
        var shape = ShapeUtil.Broadcast(_shape, other._shape, op);
        if (!ShapeUtil.SameShape(shape, _shape))
            throw new ArgumentException($"{op}: output with shape {ShapeUtil.Format(_shape)} doesn't match the broadcast shape {ShapeUtil.Format(shape)} (other: {ShapeUtil.Format(other._shape)}).");
        CheckInPlaceAllowed(op, other);

        if (!GradMode.IsEnabled || (!RequiresGrad && !other.RequiresGrad))
        {
            raw(this, other);
            BumpVersion();
            return this;
        }
        if (_base is not null) return InPlaceOnView(other, op, outOfPlace, raw);

        // Rebase: compute out of place from a snapshot (so the op's saved input is never the modified
        // buffer), write the result into this storage and adopt the new node as this tensor's history.
        var snapshot = Clone();
        var result = outOfPlace(snapshot, other);
        using (GradMode.Set(false)) CopyFromNoGrad(result);
        BumpVersion();
        _gradFn = result._gradFn;
        return this;
    }

    private static void BinaryInPlace<TOp>(Tensor self, Tensor other) where TOp : struct, IBinaryOp
    {
        if (self._isContiguous && other.NumEl == 1 && other.Dim <= self.Dim)
        {
            double s = other.GetFlat(0);
            DispatchFloat(self.DType, "InPlace", new BinaryInPlaceCore<TOp>(self, null, s));
            return;
        }
        if (self._isContiguous && other._isContiguous && ShapeUtil.SameShape(self._shape, other._shape) && !ReferenceEquals(self._storage, other._storage))
        {
            DispatchFloat(self.DType, "InPlace", new BinaryInPlaceCore<TOp>(self, other, 0));
            return;
        }
        self.CopyFromNoGrad(BinaryForward<TOp>(self, other, "InPlace"));
    }

    // self = op(self, other) over contiguous spans, or op(self, s) when Other is null.
    private readonly record struct BinaryInPlaceCore<TOp>(Tensor Self, Tensor? Other, double S) : IFloatFunc where TOp : struct, IBinaryOp
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (Other is null) TOp.Apply(Self.ReadSpan<T>(), T.CreateTruncating(S), Self.Span<T>());
            else TOp.Apply(Self.ReadSpan<T>(), Other.ReadSpan<T>(), Self.Span<T>());
        }
    }

    private static void BinaryInPlaceCopy(Tensor self, Tensor other) => self.CopyFromNoGrad(other.Expand(self._shape));

    private void FillRawAny(double value)
    {
        if (_isContiguous) FillRaw(value);
        else CopyFromNoGrad(Full(_shape, value, DType));
    }

    // ---------------------------------------------------------------- in-place ops on views (PyTorch's CopySlices)

    /// <summary>
    /// An in-place op on a view of a tensor that takes part in autograd. As in PyTorch: the op is computed out of
    /// place from a snapshot of the view, written into the shared storage, and the <b>base</b> gets a new history,
    /// CopySlices(old base history, op result): its gradient flows to the old base everywhere except in the view's
    /// region, and from the region to the op's result. The view's own history becomes "a strided view of the new
    /// base"; other views of the same base regenerate theirs on next use (<see cref="RefreshViewHistory"/>).
    /// </summary>
    private Tensor InPlaceOnView(Tensor other, string op, Func<Tensor, Tensor, Tensor> outOfPlace, RawInPlace raw)
    {
        var root = _base!;
        if (root.IsLeaf && root.RequiresGrad)
            throw new InvalidOperationException($"{op}: a view of a leaf tensor that requires grad is being used in an in-place operation; wrap it in Autograd.NoGrad() or work on a Clone().");
        for (int i = 0; i < _shape.Length; i++)
            if (_strides[i] == 0 && _shape[i] > 1)
                throw new InvalidOperationException($"{op}: more than one element of the written-to tensor (shape {ShapeUtil.Format(_shape)}, strides {ShapeUtil.Format(_strides)}) refers to a single memory location; Clone() it before the in-place operation.");
        if (!root._isContiguous)
            throw new NotSupportedException($"{op}: in-place operations on a view of a non-contiguous base (shape {ShapeUtil.Format(root._shape)}, strides {ShapeUtil.Format(root._strides)}) with autograd are not supported; use the out-of-place op.");
        RefreshViewHistory();
        if (!RequiresGrad && !other.RequiresGrad)
        {
            raw(this, other);
            BumpVersion();
            return this;
        }

        var snapshot = Clone();                                  // differentiable: the view's current history
        var result = outOfPlace(snapshot, other);
        using (GradMode.Set(false)) CopyFromNoGrad(result);
        BumpVersion();

        var index = ViewIndex(root);
        var rootShape = root._shape;
        var keep = Tensor.Ones(rootShape, DType);                // 0 inside the view's region, 1 elsewhere
        ZeroViewRegion(root, keep);
        var baseOld = new Tensor(root._storage, root._shape, root._strides, root._offset) { _gradFn = root._gradFn };
        var viewShape = _shape;
        var alias = new Tensor(root._storage, root._shape, root._strides, root._offset);
        var copySlices = Node.Record(alias, "CopySlices", [baseOld, result], g =>
        [
            baseOld.RequiresGrad ? g * keep : null,
            result.RequiresGrad ? g.Reshape(-1).IndexSelect(0, index).View(viewShape) : null,
        ]);
        root._gradFn = copySlices._gradFn;
        RefreshViewHistory();
        return this;
    }

    /// <summary>Regenerates this view's history when its base's history changed since it was made (an in-place op on
    /// the base or on another view of it): the view is then a strided view of the base as it is now.</summary>
    internal void RefreshViewHistory()
    {
        var root = _base;
        if (root is null || ReferenceEquals(root._gradFn, _viewOfBaseFn)) return;
        _viewOfBaseFn = root._gradFn;
        if (root._gradFn is null || !root._isContiguous)
        {
            if (root._gradFn is null) _gradFn = null;             // the base is a constant now (e.g. filled)
            return;
        }
        var index = ViewIndex(root);
        var rootShape = root._shape;
        // Built directly (not through Node.Record): the history must exist whatever the grad mode of the caller.
        _gradFn = new Node("AsStridedBackward", [Node.EdgeTo(root)], g =>
            [Zeros(rootShape, g.DType).Reshape(-1).IndexAdd(0, index, g.Reshape(-1)).View(rootShape)], null);
    }

    /// <summary>The flat positions, in the contiguous base, of this view's elements in row-major order: the view's
    /// geometry applied to 0, 1, 2, … (one strided copy by the element-wise kernels).</summary>
    private Tensor ViewIndex(Tensor root)
    {
        var positions = Arange(0, root.NumEl, dtype: DType.Int64);
        return new Tensor(positions._storage, _shape, _strides, _offset - root._offset).Contiguous().View(-1);
    }

    /// <summary>Zeros the elements this view covers in <paramref name="like"/>, a contiguous tensor of the base's shape
    /// (no autograd).</summary>
    private void ZeroViewRegion(Tensor root, Tensor like)
    {
        var region = new Tensor(like._storage, _shape, _strides, _offset - root._offset);
        region.CopyFromNoGrad(Zeros(_shape, like.DType));
    }
}

