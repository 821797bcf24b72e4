using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Forward drivers shared by element-wise ops: dtype dispatch, broadcasting and layout, no autograd.
public sealed partial class Tensor
{
    internal static Tensor BinaryForward<TOp>(Tensor a, Tensor b, string op) where TOp : struct, IBinaryOp
    {
        if (a.DType != b.DType || !a.DType.IsFloatingPoint()) return MixedBinaryForward<TOp>(a, b, op);
        a.CheckFloating(op);
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op);
        var result = Empty(shape, a.DType, zeroed: false);
        var sa = ShapeUtil.BroadcastStrides(a._shape, a._strides, shape);
        var sb = ShapeUtil.BroadcastStrides(b._shape, b._strides, shape);
        if (a.DType == DType.Float32)
            ElementwiseKernels.Binary<float, TOp>(shape, a.Data<float>(), a._offset, sa, b.Data<float>(), b._offset, sb, result.Span<float>());
        else
            ElementwiseKernels.Binary<double, TOp>(shape, a.Data<double>(), a._offset, sa, b.Data<double>(), b._offset, sb, result.Span<double>());
        return result;
    }

    /// <summary>op(a, s) or, when <paramref name="scalarFirst"/>, op(s, a).</summary>
    internal static Tensor ScalarForward<TOp>(Tensor a, double s, bool scalarFirst, string op) where TOp : struct, IBinaryOp
    {
        // An integral tensor with a double scalar computes in the default dtype, as PyTorch.
        if (a.DType is DType.Int64 or DType.Bool) return ScalarForward<TOp>(a.To(DType.Float32), s, scalarFirst, op);
        var src = a.Contiguous();
        var result = Empty(a._shape, a.DType, zeroed: false);
        if (a.DType == DType.Float32) Run<float>(src, (float)s, result, scalarFirst);
        else Run<double>(src, s, result, scalarFirst);
        return result;

        static void Run<T>(Tensor src, T s, Tensor result, bool scalarFirst) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (scalarFirst) TOp.Apply(s, src.ReadSpan<T>(), result.Span<T>());
            else TOp.Apply(src.ReadSpan<T>(), s, result.Span<T>());
        }
    }

    internal static Tensor UnaryForward<TOp>(Tensor x, string op) where TOp : struct, IUnaryOp
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var result = Empty(x._shape, x.DType, zeroed: false);
        if (x.DType == DType.Float32) ElementwiseParallel.Unary<float, TOp>(src.ReadSpan<float>(), result.Span<float>());
        else ElementwiseParallel.Unary<double, TOp>(src.ReadSpan<double>(), result.Span<double>());
        return result;
    }

    /// <summary>Applies a scalar function element-wise (for ops with no span kernel); x is made contiguous.</summary>
    internal static Tensor MapForward(Tensor x, string op, Func<double, double> f)
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var result = Empty(x._shape, x.DType, zeroed: false);
        if (x.DType == DType.Float32)
        {
            var s = src.ReadSpan<float>(); var d = result.Span<float>();
            for (int i = 0; i < s.Length; i++) d[i] = (float)f(s[i]);
        }
        else
        {
            var s = src.ReadSpan<double>(); var d = result.Span<double>();
            for (int i = 0; i < s.Length; i++) d[i] = f(s[i]);
        }
        return result;
    }
}
