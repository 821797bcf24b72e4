using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// A linear layer on rows, x·Wᵀ + b (optionally followed by ReLU), as one op: the GEMM writes the output, one
// parallel pass adds the bias (and applies ReLU) in place, and the backward runs the ReLU mask, the two GEMMs and
// the bias column sums directly — instead of separate broadcast-add, ReLU and step-mask/multiply tensors, each a
// full pass and a fresh allocation. The Transformer's projections and feed-forward network use it.
public sealed partial class Tensor
{
    /// <summary>
    /// relu?(x·Wᵀ + b) for x [M, K] (this), W [N, K], b [N] or null; differentiable in all three (the recorded
    /// backward, for higher-order gradients, is the composite of MatMul, add and Relu).
    /// </summary>
    internal Tensor LinearRows(Tensor weight, Tensor? bias, bool relu)
    {
        CheckLinear(this, weight, bias, "Linear");
        if (Dim != 2) throw new ArgumentException($"Linear: expected rows x [M, K], got {ShapeUtil.Format(_shape)}.");
        return LinearRowsChecked(weight, bias, relu);
    }

    /// <summary>
    /// The one check of a linear layer's arguments, named for the op the user called: float dtypes that match,
    /// weight [out, in], input [*, in], bias [out].
    /// </summary>
    internal static void CheckLinear(Tensor input, Tensor weight, Tensor? bias, string op)
    {
        input.CheckFloating(op);
        CheckSameDType(input, weight, op);
        if (bias is not null) CheckSameDType(input, bias, op);
        if (weight.Dim != 2)
            throw new ArgumentException($"{op}: weight must be 2-D [out_features, in_features], got shape {ShapeUtil.Format(weight._shape)}.");
        if (input.Dim == 0 || input._shape[^1] != weight._shape[1])
            throw new ArgumentException($"{op}: input shape {ShapeUtil.Format(input._shape)} does not match weight shape {ShapeUtil.Format(weight._shape)} (the last input dimension must be in_features = {weight._shape[1]}).");
        if (bias is not null && (bias.Dim != 1 || bias._shape[0] != weight._shape[0]))
            throw new ArgumentException($"{op}: bias shape {ShapeUtil.Format(bias._shape)} does not match weight shape {ShapeUtil.Format(weight._shape)} (expected [{weight._shape[0]}]).");
    }

    /// <summary><see cref="LinearRows"/> for arguments already checked by <see cref="CheckLinear"/> (x is [M, K]).</summary>
    internal Tensor LinearRowsChecked(Tensor weight, Tensor? bias, bool relu)
    {
        int m = _shape[0], k = _shape[1], n = weight._shape[0];
        Tensor x, w, b = null!;
        using (GradMode.Set(false))
        {
            x = Contiguous();
            w = weight.Contiguous();
            if (bias is not null) b = bias.Contiguous();
        }
        var y = Empty([m, n], DType, zeroed: false);
        DispatchFloat(DType, "LinearRows", new LinearRowsForward(x, w, bias is null ? null : b, relu, y, m, n, k));

        Tracing.Current?.Record("Linear", y, [this, weight, bias], relu);
        Tensor[] inputs = bias is null ? [this, weight] : [this, weight, bias];
        var recorded = Node.Record(y, relu ? "LinearReluBackward" : "AddmmBackward", inputs, g =>
        {
            if (GradMode.IsEnabled)
                return CompositeBackward(inputs, ins =>
                {
                    var z = ins[0].MatMul(ins[1].T);
                    if (ins.Length > 2) z = z + ins[2];
                    return relu ? z.Relu() : z;
                }, g);
            var gc = g.Contiguous();
            var dx = inputs[0].RequiresGrad ? Empty([m, k], y.DType, zeroed: false) : null;
            var dw = inputs[1].RequiresGrad ? Empty([n, k], y.DType, zeroed: false) : null;
            var db = bias is not null && bias.RequiresGrad ? Empty([n], y.DType, zeroed: false) : null;
            DispatchFloat(y.DType, "LinearRows", new LinearRowsBackward(gc, x, w, relu ? y : null, dx, dw, db, m, n, k));
            return bias is null ? [dx, dw] : [dx, dw, db];
        }, relu ? [x, w, y] : [x, w]);
        // Contiguous copies of a strided input or weight are read only by the backward (or by nothing without a graph).
        if (recorded._gradFn is { } node) { node.ReleaseWithIfCopy(x, this); node.ReleaseWithIfCopy(w, weight); }
        else
        {
            if (!ReferenceEquals(x._storage, _storage)) x.Dispose();
            if (!ReferenceEquals(w._storage, weight._storage)) w.Dispose();
        }
        return recorded;
    }

    private readonly record struct LinearRowsForward(Tensor X, Tensor W, Tensor? B, bool Relu, Tensor Y, int M, int N, int K) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (M == 0 || N == 0) return;
            var y = Y.Span<T>();
            Gemm.Compute(false, true, M, N, K, T.One, X.ReadSpan<T>(), Math.Max(K, 1), W.ReadSpan<T>(), Math.Max(K, 1), T.Zero, y, N);
            LinearKernels.BiasActivation(y, B is null ? default : B.ReadSpan<T>(), Relu, M, N);
        }
    }

    // dz = g masked by the ReLU (y > 0), then dx = dz·W, dW = dzᵀ·x and db = column sums of dz.
    private readonly record struct LinearRowsBackward(Tensor G, Tensor X, Tensor W, Tensor? ReluOut, Tensor? Dx, Tensor? Dw, Tensor? Db,
        int M, int N, int K) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (M == 0 || N == 0)
            {
                Dx?.Span<T>().Clear(); Dw?.Span<T>().Clear(); Db?.Span<T>().Clear();
                return;
            }
            var dz = G;
            if (ReluOut is not null)
            {
                dz = Empty([M, N], G.DType, zeroed: false);
                LinearKernels.ReluBackwardRows(ReluOut.ReadSpan<T>(), G.ReadSpan<T>(), dz.Span<T>(), M, N);
            }
            var z = dz.ReadSpan<T>();
            if (Dx is not null) Gemm.Compute(false, false, M, K, N, T.One, z, N, W.ReadSpan<T>(), Math.Max(K, 1), T.Zero, Dx.Span<T>(), Math.Max(K, 1));
            if (Dw is not null) Gemm.Compute(true, false, N, K, M, T.One, z, N, X.ReadSpan<T>(), Math.Max(K, 1), T.Zero, Dw.Span<T>(), Math.Max(K, 1));
            if (Db is not null) LinearKernels.ColumnSums(z, Db.Span<T>(), M, N);
        }
    }
}
