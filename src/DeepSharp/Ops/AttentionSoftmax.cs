using System.Numerics;
using System.Numerics.Tensors;
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
        if (DType == DType.Float32) AttnSoftmaxForward<float>(x, mask is null ? null : m, mStrides, (float)scale, y, rows, n);
        else AttnSoftmaxForward<double>(x, mask is null ? null : m, mStrides, scale, y, rows, n);

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
            if (y.DType == DType.Float32) AttnSoftmaxBackward<float>(y, gc, (float)scale, dx, dzOut, rows, n);
            else AttnSoftmaxBackward<double>(y, gc, scale, dx, dzOut, rows, n);
            return mask is null ? [dx] : [dx, dzOut];
        }, y);
    }

    private static void AttnSoftmaxForward<T>(Tensor x, Tensor? mask, int[] mStrides, T scale, Tensor y, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0 || n == 0) return;
        var xa = x.Data<T>();
        int xo = x._offset;
        var ya = y.Data<T>();
        var ma = mask?.Data<T>();
        int mo = mask?._offset ?? 0;
        var lead = y._shape.AsSpan(0, y.Dim - 1).ToArray();
        bool mRowConst = mask is not null && mStrides[^1] == 0;
        int chunks = FusedRowParallel.Chunks(rows, 4L * n);
        FusedRowParallel.For(chunks, rows, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var xr = xa.AsSpan(xo + r * n, n);
                var yr = ya.AsSpan(r * n, n);
                if (ma is null) TensorPrimitives.Multiply(xr, scale, yr);
                else
                {
                    int off = mo, rem = r;
                    for (int d = lead.Length - 1; d >= 0; d--)
                    {
                        off += rem % lead[d] * mStrides[d];
                        rem /= lead[d];
                    }
                    if (mRowConst) { TensorPrimitives.Multiply(xr, scale, yr); TensorPrimitives.Add<T>(yr, ma[off], yr); }
                    else TensorPrimitives.MultiplyAdd(xr, scale, ma.AsSpan(off, n), yr);
                }
                T max = TensorPrimitives.Max<T>(yr);
                if (T.IsNegativeInfinity(max)) { yr.Clear(); continue; } // nothing to attend to: zeros
                T sum = VectorMath.ExpShiftSum<T>(yr, max, yr);
                TensorPrimitives.Multiply(yr, T.One / sum, yr);
            }
        });
    }

    private static void AttnSoftmaxBackward<T>(Tensor y, Tensor g, T scale, Tensor dx, Tensor? dz, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0 || n == 0) return;
        var ya = y.Data<T>();
        var ga = g.Data<T>();
        int go = g._offset;
        var dxa = dx.Data<T>();
        var dza = dz?.Data<T>();
        int chunks = FusedRowParallel.Chunks(rows, 3L * n);
        FusedRowParallel.For(chunks, rows, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var yr = ya.AsSpan(r * n, n);
                var gr = ga.AsSpan(go + r * n, n);
                var dxr = dxa.AsSpan(r * n, n);
                T dot = TensorPrimitives.Dot<T>(gr, yr);
                TensorPrimitives.AddMultiply(gr, -dot, yr, dxr); // (g − ⟨g, y⟩)·y
                if (dza is not null) dxr.CopyTo(dza.AsSpan(r * n, n));
                if (scale != T.One) TensorPrimitives.Multiply(dxr, scale, dxr);
            }
        });
    }
}
