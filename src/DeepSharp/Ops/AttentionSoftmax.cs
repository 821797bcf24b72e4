using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// The softmax of attention: softmax(scale·x + mask) along the last dim in one pass, where mask is an optional
// additive float mask (−∞ = not allowed) broadcast to x's shape. A row whose every entry is −∞ after masking (a
// query that may attend to nothing) gives zeros instead of NaN, so one fully masked row cannot poison a batch.
public sealed partial class Tensor
{
    /// <summary>
    /// softmax(scale·x + mask) along the last dim (the attention softmax; PyTorch computes it as
    /// <c>softmax(baddbmm(mask, q/√d, kᵀ))</c>). <paramref name="mask"/> is an optional additive float mask of the same
    /// dtype, broadcastable to this tensor's shape (−∞ excludes a position). A row in which every position is
    /// −∞ gives all zeros (PyTorch's slow path gives NaN). Differentiable in x and in the mask.
    /// </summary>
    internal Tensor AttentionSoftmax(double scale, Tensor? mask = null)
    {
        CheckFloating("AttentionSoftmax");
        if (Dim == 0) throw new ArgumentException("AttentionSoftmax: expected a tensor of rank ≥ 1.");
        if (mask is not null)
        {
            CheckSameDType(this, mask, "AttentionSoftmax");
            var shape = ShapeUtil.Broadcast(_shape, mask._shape, "AttentionSoftmax");
            if (!ShapeUtil.SameShape(shape, _shape))
                throw new ArgumentException($"AttentionSoftmax: the mask {ShapeUtil.Format(mask._shape)} must be broadcastable to the scores {ShapeUtil.Format(_shape)}.");
        }
        Tensor x, m = null!;
        int[] mStrides = [];
        using (GradMode.Set(false))
        {
            x = Contiguous();
            if (mask is not null)
            {
                // A broadcast view of the mask; rows must be unit-stride (or constant) along the last dim.
                var mm = mask._shape.Length > 0 && mask._shape[^1] > 1 && mask._strides[^1] != 1 ? mask.Contiguous() : mask;
                m = mm;
                mStrides = ShapeUtil.BroadcastStrides(mm._shape, mm._strides, _shape);
            }
        }
        int n = _shape[^1], rows = n == 0 ? 0 : NumEl / n;
        var y = Empty(_shape, DType, zeroed: false);
        DispatchFloat(DType, "AttentionSoftmax", new AttnSoftmaxForward(x, mask is null ? null : m, mStrides, scale, y, rows, n));

        Tracing.Current?.Record("AttentionSoftmax", y, [this, mask], scale);
        Tensor[] inputs = mask is null ? [this] : [this, mask];
        return Node.Record(y, "AttentionSoftmaxBackward", inputs, g =>
        {
            if (GradMode.IsEnabled)
            {
                // Recorded backward (higher-order gradients): the composite formula.
                var dz = y * (g - (g * y).Sum(-1, keepDim: true));
                return mask is null ? [dz * scale] : [dz * scale, dz];
            }
            var gc = g.Contiguous();
            var dx = Empty(y._shape, y.DType, zeroed: false);
            var dzOut = mask is not null && mask.RequiresGrad ? Empty(y._shape, y.DType, zeroed: false) : null;
            DispatchFloat(y.DType, "AttentionSoftmax", new AttnSoftmaxBackward(y, gc, scale, dx, dzOut, rows, n));
            return mask is null ? [dx] : [dx, dzOut];
        }, y);
    }

    private readonly record struct AttnSoftmaxForward(Tensor X, Tensor? Mask, int[] MaskStrides, double Scale, Tensor Y, int Rows, int N) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (Rows == 0 || N == 0) return;
            var lead = Y._shape.AsSpan(0, Y.Dim - 1).ToArray();
            var mask = Mask is null ? default : Mask.Data<T>().AsSpan(Mask._offset);
            AttentionSoftmaxKernels.Forward(X.ReadSpan<T>(), mask, lead, MaskStrides, T.CreateTruncating(Scale), Y.Span<T>(), Rows, N);
        }
    }

    private readonly record struct AttnSoftmaxBackward(Tensor Y, Tensor G, double Scale, Tensor Dx, Tensor? Dz, int Rows, int N) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            AttentionSoftmaxKernels.Backward(Y.ReadSpan<T>(), G.ReadSpan<T>(), T.CreateTruncating(Scale), Dx.Span<T>(), Dz is null ? default : Dz.Span<T>(), Rows, N);
    }
}
