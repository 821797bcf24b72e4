using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp;

// Softmax and log-softmax along a dim, stable (the row max is subtracted). The backward formulas are
// written with tensor ops, so they are differentiable again.
public sealed partial class Tensor
{
    /// <summary>exp(x − max) / Σ exp(x − max) along dim.</summary>
    public Tensor Softmax(int dim)
    {
        var y = RowwiseForward(dim, "Softmax", log: false);
        return Node.Record(y, "SoftmaxBackward", [this], g => [y * (g - (g * y).Sum(dim, keepDim: true))], y);
    }

    /// <summary>x − max − log Σ exp(x − max) along dim.</summary>
    public Tensor LogSoftmax(int dim)
    {
        var y = RowwiseForward(dim, "LogSoftmax", log: true);
        return Node.Record(y, "LogSoftmaxBackward", [this], g => [g - y.Exp() * g.Sum(dim, keepDim: true)], y);
    }

    private Tensor RowwiseForward(int dim, string op, bool log)
    {
        CheckFloating(op);
        int d = ShapeUtil.WrapDim(dim, Dim, op);
        if (Dim == 0) return log ? ZerosLike(this) : OnesLike(this);
        // Move dim last (a copy only when it is not already last and contiguous).
        Tensor src;
        using (GradMode.Set(false)) src = (d == Dim - 1 ? this : Transpose(d, Dim - 1)).Contiguous();
        int n = src._shape[^1], rows = n == 0 ? 0 : src.NumEl / n;
        var y = Empty(src._shape, DType, zeroed: false);
        if (DType == DType.Float32) Rows(src.ReadSpan<float>(), y.Span<float>(), rows, n, log);
        else Rows(src.ReadSpan<double>(), y.Span<double>(), rows, n, log);
        if (d != Dim - 1)
            using (GradMode.Set(false)) y = y.Transpose(d, Dim - 1).Contiguous().Detach();
        return y;

        static void Rows<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[]? scratch = log ? new T[n] : null;
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Slice(r * n, n);
                var yr = y.Slice(r * n, n);
                T max = TensorPrimitives.Max(xr);
                if (T.IsNegativeInfinity(max)) max = T.Zero;
                TensorPrimitives.Subtract(xr, max, yr);
                if (log)
                {
                    Span<T> tmp = scratch;
                    TensorPrimitives.Exp(yr, tmp);
                    T lse = T.Log(TensorPrimitives.Sum<T>(tmp));
                    TensorPrimitives.Subtract(yr, lse, yr);
                }
                else
                {
                    TensorPrimitives.Exp(yr, yr);
                    T sum = TensorPrimitives.Sum<T>(yr);
                    TensorPrimitives.Divide(yr, sum, yr);
                }
            }
        }
    }
}
