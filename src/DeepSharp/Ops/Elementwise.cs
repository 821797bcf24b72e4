using System.Numerics;
using DeepSharp.Interop;
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
        DispatchFloat(a.DType, op, new BinaryCore<TOp>(shape, a, sa, b, sb, result));
        Tracing.Current?.Record(typeof(TOp).Name, result, [a, b]);
        return result;
    }

    private readonly record struct BinaryCore<TOp>(int[] Shape, Tensor A, int[] Sa, Tensor B, int[] Sb, Tensor Result) : IFloatFunc
        where TOp : struct, IBinaryOp
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ElementwiseKernels.Binary<T, TOp>(Shape, A.Data<T>(), A._offset, Sa, B.Data<T>(), B._offset, Sb, Result.Span<T>());
    }

    /// <summary>op(a, s) or, when <paramref name="scalarFirst"/>, op(s, a).</summary>
    internal static Tensor ScalarForward<TOp>(Tensor a, double s, bool scalarFirst, string op) where TOp : struct, IBinaryOp
    {
        // An integral tensor with a double scalar computes in the default dtype, as PyTorch.
        if (a.DType is DType.Int64 or DType.Bool) return ScalarForward<TOp>(a.To(DType.Float32), s, scalarFirst, op);
        var src = a.Contiguous();
        var result = Empty(a._shape, a.DType, zeroed: false);
        DispatchFloat(a.DType, op, new ScalarCore<TOp>(src, s, result, scalarFirst));
        Tracing.Current?.Record(typeof(TOp).Name, result, [a], s, scalarFirst);
        return result;
    }

    private readonly record struct ScalarCore<TOp>(Tensor Src, double S, Tensor Result, bool ScalarFirst) : IFloatFunc
        where TOp : struct, IBinaryOp
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var s = T.CreateTruncating(S);
            if (ScalarFirst) TOp.Apply(s, Src.ReadSpan<T>(), Result.Span<T>());
            else TOp.Apply(Src.ReadSpan<T>(), s, Result.Span<T>());
        }
    }

    internal static Tensor UnaryForward<TOp>(Tensor x, string op) where TOp : struct, IUnaryOp
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var result = Empty(x._shape, x.DType, zeroed: false);
        DispatchFloat(x.DType, op, new UnaryCore<TOp>(src, result));
        Tracing.Current?.Record(typeof(TOp).Name, result, [x]);
        return result;
    }

    private readonly record struct UnaryCore<TOp>(Tensor Src, Tensor Result) : IFloatFunc where TOp : struct, IUnaryOp
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ElementwiseParallel.Unary<T, TOp>(Src.ReadSpan<T>(), Result.Span<T>());
    }

    /// <summary>Applies a scalar function element-wise (for ops with no span kernel); x is made contiguous.</summary>
    internal static Tensor MapForward(Tensor x, string op, Func<double, double> f)
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var result = Empty(x._shape, x.DType, zeroed: false);
        DispatchFloat(x.DType, op, new MapCore(src, result, f));
        Tracing.Current?.Record(op, result, [x]);
        return result;
    }

    private readonly record struct MapCore(Tensor Src, Tensor Result, Func<double, double> F) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ElementwiseKernels.Map(Src.ReadSpan<T>(), Result.Span<T>(), F);
    }
}
