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
        CheckSameDType(this, other, op);
        CheckFloating(op);
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
        if (_base is not null)
            throw new NotSupportedException($"{op}: in-place operations on a view of a tensor that takes part in autograd are not supported; use the out-of-place op.");

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
            if (self.DType == DType.Float32) TOp.Apply(self.ReadSpan<float>(), (float)s, self.Span<float>());
            else TOp.Apply(self.ReadSpan<double>(), s, self.Span<double>());
            return;
        }
        if (self._isContiguous && other._isContiguous && ShapeUtil.SameShape(self._shape, other._shape) && !ReferenceEquals(self._storage, other._storage))
        {
            if (self.DType == DType.Float32) TOp.Apply(self.ReadSpan<float>(), other.ReadSpan<float>(), self.Span<float>());
            else TOp.Apply(self.ReadSpan<double>(), other.ReadSpan<double>(), self.Span<double>());
            return;
        }
        self.CopyFromNoGrad(BinaryForward<TOp>(self, other, "InPlace"));
    }

    private static void BinaryInPlaceCopy(Tensor self, Tensor other) => self.CopyFromNoGrad(other.Expand(self._shape));
}
