using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Differentiable backwards of Conv2d and the 2-D pools, used when the backward pass is itself recorded
// (createGraph: true). Convolution is bilinear in (input, weight) and pooling is linear in its input (max pooling
// piecewise, through fixed argmax indices), so each backward is an op whose own backward is one of the others:
//   y = F(x, w)       x̄ = BI(ȳ, w)       w̄ = BW(x, ȳ)
// with ⟨F(x, w), ȳ⟩ = ⟨x, BI(ȳ, w)⟩ = ⟨w, BW(x, ȳ)⟩, which gives every derivative of every order from the three
// fast kernels. The first-order path (grad mode off) keeps calling the kernels directly.
public sealed partial class Tensor
{
    /// <summary>Recorded convolution without bias: the forward of the double-backward graph.</summary>
    internal static Tensor ConvForwardOp(Conv2dGeometry g, Tensor x, Tensor w) =>
        RecordedBilinear(x, w, [g.N, g.OutC, g.OutH, g.OutW], "ConvolutionBackward",
            (xc, wc, y) => new Conv2dForward(g, xc, wc, B: null, y),
            gz => ConvBackwardInputOp(g, gz, w), gz => ConvBackwardWeightOp(g, x, gz));

    /// <summary>Recorded input gradient of a convolution (a transposed convolution of <paramref name="dy"/> with <paramref name="w"/>).</summary>
    internal static Tensor ConvBackwardInputOp(Conv2dGeometry g, Tensor dy, Tensor w) =>
        RecordedBilinear(dy, w, [g.N, g.InC, g.H, g.W], "ConvolutionBackwardBackward",
            (dyc, wc, dx) => new Conv2dBackward(g, X: dyc, W: wc, Dy: dyc, Dx: dx, Dw: null, Db: null),
            gz => ConvForwardOp(g, gz, w), gz => ConvBackwardWeightOp(g, gz, dy));

    /// <summary>Recorded weight gradient of a convolution (a correlation of <paramref name="x"/> with <paramref name="dy"/>).</summary>
    internal static Tensor ConvBackwardWeightOp(Conv2dGeometry g, Tensor x, Tensor dy)
        => RecordedBilinear(x, dy, [g.OutC, g.InCPerGroup, g.KernelH, g.KernelW], "ConvolutionBackwardBackward",
            (xc, dyc, dw) => new Conv2dBackward(g, X: xc, W: xc, Dy: dyc, Dx: null, Dw: dw, Db: null),
            gz => ConvBackwardInputOp(g, dy, gz), gz => ConvForwardOp(g, x, gz));

    /// <summary>
    /// One recorded bilinear convolution site: runs <paramref name="core"/> on contiguous copies of a and b into a fresh
    /// tensor of <paramref name="shape"/> and records a node whose gradients are <paramref name="gradA"/> and
    /// <paramref name="gradB"/> of the incoming gradient (each only when its input requires one).
    /// </summary>
    private static Tensor RecordedBilinear<TCore>(Tensor a, Tensor b, int[] shape, string node, Func<Tensor, Tensor, Tensor, TCore> core,
        Func<Tensor, Tensor> gradA, Func<Tensor, Tensor> gradB) where TCore : struct, IFloatFunc
    {
        Tensor ac, bc;
        using (GradMode.Set(false)) { ac = a.Contiguous(); bc = b.Contiguous(); }
        var result = Empty(shape, a.DType, zeroed: false);
        DispatchFloat(a.DType, "Conv2d", core(ac, bc, result));
        bool needA = a.RequiresGrad, needB = b.RequiresGrad;
        return Node.Record(result, node, [a, b], gz => [needA ? gradA(gz) : null, needB ? gradB(gz) : null]);
    }

    /// <summary>The gradients of Conv2d as recorded ops (createGraph), against the caller's original tensors.</summary>
    private static Tensor?[] ConvRecordedBackward(Conv2dGeometry g, Tensor input, Tensor weight, Tensor? bias, Tensor gradOut,
        bool needInput, bool needWeight, bool needBias)
    {
        var dx = needInput ? ConvBackwardInputOp(g, gradOut, weight) : null;
        var dw = needWeight ? ConvBackwardWeightOp(g, input, gradOut) : null;
        var db = needBias ? gradOut.Sum([0, 2, 3]) : null;
        return bias is null ? [dx, dw] : [dx, dw, db];
    }

    /// <summary>Recorded average pooling (no unbatched handling, no checks: the geometry is validated).</summary>
    internal static Tensor AvgPoolForwardOp(Pool2dGeometry g, Tensor x) =>
        RecordedLinear(x, [g.N, g.C, g.OutH, g.OutW], zeroed: false, "AvgPool2d", "AvgPool2DBackward",
            (xc, y) => new AvgPool2dCore(g, xc, y, Backward: false), gz => AvgPoolBackwardOp(g, gz));

    /// <summary>Recorded gradient of average pooling; its own gradient is the pooling.</summary>
    internal static Tensor AvgPoolBackwardOp(Pool2dGeometry g, Tensor dy) =>
        RecordedLinear(dy, [g.N, g.C, g.H, g.W], zeroed: true, "AvgPool2d", "AvgPool2DBackwardBackward",
            (dyc, dx) => new AvgPool2dCore(g, dyc, dx, Backward: true), gz => AvgPoolForwardOp(g, gz));

    /// <summary>Recorded adaptive average pooling.</summary>
    internal static Tensor AdaptiveAvgPoolForwardOp(AdaptivePool2dGeometry g, Tensor x) =>
        RecordedLinear(x, [g.N, g.C, g.OutH, g.OutW], zeroed: false, "AdaptiveAvgPool2d", "AdaptiveAvgPool2DBackward",
            (xc, y) => new AdaptiveAvgPool2dCore(g, xc, y, Backward: false), gz => AdaptiveAvgPoolBackwardOp(g, gz));

    /// <summary>Recorded gradient of adaptive average pooling.</summary>
    internal static Tensor AdaptiveAvgPoolBackwardOp(AdaptivePool2dGeometry g, Tensor dy) =>
        RecordedLinear(dy, [g.N, g.C, g.H, g.W], zeroed: true, "AdaptiveAvgPool2d", "AdaptiveAvgPool2DBackwardBackward",
            (dyc, dx) => new AdaptiveAvgPool2dCore(g, dyc, dx, Backward: true), gz => AdaptiveAvgPoolForwardOp(g, gz));

    /// <summary>Recorded max-pool gradient: scatters <paramref name="dy"/> to the argmax positions (max_unpool2d).
    /// <paramref name="indices"/> is owned by the graph (a copy of the forward's rented buffer).</summary>
    internal static Tensor MaxUnpoolOp(Pool2dGeometry g, Tensor dy, int[] indices) =>
        RecordedLinear(dy, [g.N, g.C, g.H, g.W], zeroed: true, "MaxPool2d", "MaxUnpool2DBackward",
            (dyc, dx) => new MaxPool2dCore(g, dyc, dx, indices, indices.Length, Backward: true), gz => MaxGatherOp(g, gz, indices));

    /// <summary>Recorded gather of the argmax positions (the max pool with its indices fixed); adjoint of <see cref="MaxUnpoolOp"/>.</summary>
    internal static Tensor MaxGatherOp(Pool2dGeometry g, Tensor x, int[] indices) =>
        RecordedLinear(x, [g.N, g.C, g.OutH, g.OutW], zeroed: false, "MaxPool2d", "MaxPool2DWithIndicesBackward",
            (xc, y) => new MaxGatherCore(xc, indices, y, g.N * g.C, g.H * g.W, g.OutH * g.OutW), gz => MaxUnpoolOp(g, gz, indices));

    /// <summary>
    /// One recorded linear pooling site: runs <paramref name="core"/> from a contiguous copy of x into a fresh tensor of
    /// <paramref name="shape"/> (zero-filled first when the core scatters) and records a node whose gradient is
    /// <paramref name="adjoint"/> of the incoming gradient.
    /// </summary>
    private static Tensor RecordedLinear<TCore>(Tensor x, int[] shape, bool zeroed, string op, string node, Func<Tensor, Tensor, TCore> core,
        Func<Tensor, Tensor> adjoint) where TCore : struct, IFloatFunc
    {
        Tensor xc;
        using (GradMode.Set(false)) xc = x.Contiguous();
        var y = Empty(shape, x.DType, zeroed);
        DispatchFloat(x.DType, op, core(xc, y));
        return Node.Record(y, node, [x], gz => [adjoint(gz)]);
    }

    private readonly record struct MaxGatherCore(Tensor X, int[] Indices, Tensor Y, int Planes, int InPlane, int OutPlane) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            PoolGather.Gather(X.ReadSpan<T>(), Indices, Y.Span<T>(), Planes, InPlane, OutPlane);
    }
}
