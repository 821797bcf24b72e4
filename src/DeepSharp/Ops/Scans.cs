using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Cumulative sums and products, and Prod. First-order backwards run exact kernels (no division, so zeros in the
// input are fine); when the backward itself is recorded they switch to a composite of differentiable ops.
public sealed partial class Tensor
{
    /// <summary>The contiguous [outer, r, inner] view of this tensor around dim d.</summary>
    private (Tensor Source, int Outer, int R, int Inner) AroundDim(int d)
    {
        Tensor src;
        using (GradMode.Set(false)) src = Contiguous();
        if (Dim == 0) return (src, 1, 1, 1);
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= _shape[i];
        for (int i = d + 1; i < Dim; i++) inner *= _shape[i];
        return (src, outer, _shape[d], inner);
    }

    /// <summary>Cumulative sum along dim (<c>torch.cumsum</c>).</summary>
    public Tensor Cumsum(int dim) => CumsumCore(ShapeUtil.WrapDim(dim, Dim, "Cumsum"), reverse: false, "Cumsum");

    private Tensor CumsumCore(int d, bool reverse, string op)
    {
        CheckFloating(op);
        var (src, outer, r, inner) = AroundDim(d);
        var result = Empty(_shape, DType, zeroed: false);
        DispatchFloat(DType, op, new CumsumCoreFunc(src, result, outer, r, inner, reverse));
        // The adjoint of a cumulative sum is the cumulative sum from the other end.
        return Node.Record(result, "CumsumBackward", [this], g => [g.CumsumCore(d, !reverse, op)]);
    }

    /// <summary>Cumulative product along dim (<c>torch.cumprod</c>); the gradient is exact where inputs are zero.</summary>
    public Tensor Cumprod(int dim)
    {
        CheckFloating("Cumprod");
        int d = ShapeUtil.WrapDim(dim, Dim, "Cumprod");
        var (src, outer, r, inner) = AroundDim(d);
        var result = Empty(_shape, DType, zeroed: false);
        DispatchFloat(DType, "Cumprod", new CumprodCore(src, result, outer, r, inner));
        var x = this;
        return Node.Record(result, "CumprodBackward", [x], g =>
        {
            if (x.Dim == 0) return [g];
            if (GradMode.IsEnabled) return [CumprodBackwardComposite(x, g, d)];
            var (xs, o, n, inn) = x.AroundDim(d);
            var gs = g.Contiguous();
            var dx = Empty(x._shape, g.DType, zeroed: false);
            DispatchFloat(g.DType, "Cumprod", new CumprodBackwardCore(xs, gs, dx, o, n, inn));
            return [dx];
        }, x);
    }

    /// <summary>x with x_i replaced by 1 in row i: [..., n, n] (row i, column j), for "products of the others".</summary>
    private static Tensor OthersMatrix(Tensor xLast)
    {
        int n = xLast._shape[^1];
        var eye = Eye(n, null, DType.Int64).Eq(1.0);
        var rows = xLast.Unsqueeze(-2).Expand([.. xLast._shape[..^1], n, n]);
        return Where(eye, 1.0, rows);
    }

    /// <summary>grad_i = Σ_{k≥i} g_k ∏_{j≤k, j≠i} x_j, from differentiable ops (for double backward).</summary>
    private static Tensor CumprodBackwardComposite(Tensor x, Tensor g, int d)
    {
        var xl = x.Movedim(d, -1);
        int n = xl._shape[^1];
        var c = OthersMatrix(xl).Cumprod(-1);                 // [..., i, k] = ∏_{j≤k, j≠i} x_j
        var upper = Ones([n, n], DType.Int64).Triu().Eq(1.0);  // k ≥ i
        var m = Where(upper, c, 0.0);
        return (m * g.Movedim(d, -1).Unsqueeze(-2)).Sum(-1).Movedim(-1, d);
    }

    /// <summary>Product of all elements (<c>torch.prod</c>).</summary>
    public Tensor Prod() => Dim == 0 ? Prod(0) : Reshape(-1).Prod(0);

    /// <summary>Product along dim (<c>torch.prod(x, dim)</c>); the gradient is exact where inputs are zero.</summary>
    public Tensor Prod(int dim, bool keepDim = false)
    {
        CheckFloating("Prod");
        int d = ShapeUtil.WrapDim(dim, Dim, "Prod");
        var (src, outer, r, inner) = AroundDim(d);
        var keptShape = Dim == 0 ? [] : (int[])_shape.Clone();
        if (Dim > 0) keptShape[d] = 1;
        var kept = Empty(keptShape, DType, zeroed: false);
        DispatchFloat(DType, "Prod", new ProdCore(src, kept, outer, r, inner));
        var outShape = keepDim || Dim == 0 ? keptShape : _shape.Where((_, i) => i != d).ToArray();
        var result = new Tensor(kept._storage, outShape, ShapeUtil.ContiguousStrides(outShape), 0);
        var x = this;
        return Node.Record(result, "ProdBackward", [x], g =>
        {
            if (x.Dim == 0) return [g];
            var gk = g.Reshape(keptShape);
            if (GradMode.IsEnabled)
                return [(OthersMatrix(x.Movedim(d, -1)).Prod(-1) * gk.Movedim(d, -1)).Movedim(-1, d)];
            var (xs, o, n, inn) = x.AroundDim(d);
            var gs = gk.Contiguous();
            var dx = Empty(x._shape, g.DType, zeroed: false);
            DispatchFloat(g.DType, "Prod", new ProdBackwardCore(xs, gs, dx, o, n, inn));
            return [dx];
        }, x);
    }

    private readonly record struct CumsumCoreFunc(Tensor Src, Tensor Result, int Outer, int R, int Inner, bool Reverse) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ScanKernels.Cumsum(Src.ReadSpan<T>(), Result.Span<T>(), Outer, R, Inner, Reverse);
    }

    private readonly record struct CumprodCore(Tensor Src, Tensor Result, int Outer, int R, int Inner) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ScanKernels.Cumprod(Src.ReadSpan<T>(), Result.Span<T>(), Outer, R, Inner);
    }

    private readonly record struct CumprodBackwardCore(Tensor X, Tensor G, Tensor Dx, int Outer, int R, int Inner) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ScanKernels.CumprodBackward(X.ReadSpan<T>(), G.ReadSpan<T>(), Dx.Span<T>(), Outer, R, Inner);
    }

    private readonly record struct ProdCore(Tensor Src, Tensor Result, int Outer, int R, int Inner) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ScanKernels.Prod(Src.ReadSpan<T>(), Result.Span<T>(), Outer, R, Inner);
    }

    private readonly record struct ProdBackwardCore(Tensor X, Tensor G, Tensor Dx, int Outer, int R, int Inner) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ScanKernels.ProdBackward(X.ReadSpan<T>(), G.ReadSpan<T>(), Dx.Span<T>(), Outer, R, Inner);
    }
}
