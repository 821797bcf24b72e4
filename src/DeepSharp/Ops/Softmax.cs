using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Softmax and log-softmax along a dim, stable (the row max is subtracted). The backward formulas are
// written with tensor ops, so they are differentiable again.
public sealed partial class Tensor
{
    /// <summary>exp(x − max) / Σ exp(x − max) along dim.</summary>
    public Tensor Softmax(int dim)
    {
        var y = RowwiseForward(dim, "Softmax", log: false);
        int d = ShapeUtil.WrapDim(dim, Dim, "Softmax");
        Tracing.Current?.Record("Softmax", y, [this], d);
        return Node.Record(y, "SoftmaxBackward", [this], g =>
            [FusedRowBackward(y, g, d, log: false) ?? y * (g - (g * y).Sum(d, keepDim: true))], y);
    }

    /// <summary>x − max − log Σ exp(x − max) along dim.</summary>
    public Tensor LogSoftmax(int dim)
    {
        var y = RowwiseForward(dim, "LogSoftmax", log: true);
        int d = ShapeUtil.WrapDim(dim, Dim, "LogSoftmax");
        Tracing.Current?.Record("LogSoftmax", y, [this], d);
        return Node.Record(y, "LogSoftmaxBackward", [this], g =>
            [FusedRowBackward(y, g, d, log: true) ?? g - y.Exp() * g.Sum(d, keepDim: true)], y);
    }

    /// <summary>
    /// The fused backward kernel when no graph is being recorded and the dim is the last; null otherwise, and
    /// the caller uses the composite formula (which is differentiable, for higher-order gradients).
    /// </summary>
    private static Tensor? FusedRowBackward(Tensor y, Tensor g, int d, bool log)
    {
        if (GradMode.IsEnabled || d != y.Dim - 1 || y.Dim == 0) return null;
        var gc = g.Contiguous();
        int n = y._shape[^1], rows = n == 0 ? 0 : y.NumEl / n;
        var dx = Empty(y._shape, y.DType, zeroed: false);
        DispatchFloat(y.DType, log ? "LogSoftmax" : "Softmax", new RowSoftmaxCore(y, gc, dx, rows, n, log));
        return dx;
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
        DispatchFloat(DType, op, new RowSoftmaxCore(src, null, y, rows, n, log));
        if (d != Dim - 1)
            using (GradMode.Set(false)) y = y.Transpose(d, Dim - 1).Contiguous().Detach();
        return y;
    }

    // Forward: Y = (log)softmax(X) over rows (Dy null); backward: Dst = dX from the output X and its gradient Dy.
    private readonly record struct RowSoftmaxCore(Tensor X, Tensor? Dy, Tensor Dst, int Rows, int N, bool Log) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (Dy is not null)
            {
                if (Log) SoftmaxKernels.LogSoftmaxBackward(X.ReadSpan<T>(), Dy.ReadSpan<T>(), Dst.Span<T>(), Rows, N);
                else SoftmaxKernels.SoftmaxBackward(X.ReadSpan<T>(), Dy.ReadSpan<T>(), Dst.Span<T>(), Rows, N);
            }
            else if (Log) SoftmaxKernels.LogSoftmax(X.ReadSpan<T>(), Dst.Span<T>(), Rows, N);
            else SoftmaxKernels.Softmax(X.ReadSpan<T>(), Dst.Span<T>(), Rows, N);
        }
    }
}
