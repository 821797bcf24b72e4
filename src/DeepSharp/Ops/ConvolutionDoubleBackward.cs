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
    internal static Tensor ConvForwardOp(Conv2dGeometry g, Tensor x, Tensor w)
    {
        Tensor xc, wc;
        using (GradMode.Set(false)) { xc = x.Contiguous(); wc = w.Contiguous(); }
        var result = Empty([g.N, g.OutC, g.OutH, g.OutW], x.DType, zeroed: false);
        DispatchFloat(x.DType, "Conv2d", new Conv2dForward(g, xc, wc, B: null, result));
        bool needX = x.RequiresGrad, needW = w.RequiresGrad;
        return Node.Record(result, "ConvolutionBackward", [x, w], gz =>
            [needX ? ConvBackwardInputOp(g, gz, w) : null, needW ? ConvBackwardWeightOp(g, x, gz) : null]);
    }

    /// <summary>Recorded input gradient of a convolution (a transposed convolution of <paramref name="dy"/> with <paramref name="w"/>).</summary>
    internal static Tensor ConvBackwardInputOp(Conv2dGeometry g, Tensor dy, Tensor w)
    {
        Tensor dyc, wc;
        using (GradMode.Set(false)) { dyc = dy.Contiguous(); wc = w.Contiguous(); }
        var dx = Empty([g.N, g.InC, g.H, g.W], dy.DType, zeroed: false);
        DispatchFloat(dy.DType, "Conv2d", new Conv2dBackward(g, X: dyc, W: wc, Dy: dyc, Dx: dx, Dw: null, Db: null));
        bool needDy = dy.RequiresGrad, needW = w.RequiresGrad;
        return Node.Record(dx, "ConvolutionBackwardBackward", [dy, w], gz =>
            [needDy ? ConvForwardOp(g, gz, w) : null, needW ? ConvBackwardWeightOp(g, gz, dy) : null]);
    }

    /// <summary>Recorded weight gradient of a convolution (a correlation of <paramref name="x"/> with <paramref name="dy"/>).</summary>
    internal static Tensor ConvBackwardWeightOp(Conv2dGeometry g, Tensor x, Tensor dy)
    {
        Tensor xc, dyc;
        using (GradMode.Set(false)) { xc = x.Contiguous(); dyc = dy.Contiguous(); }
        var dw = Empty([g.OutC, g.InCPerGroup, g.KernelH, g.KernelW], x.DType, zeroed: false);
        DispatchFloat(x.DType, "Conv2d", new Conv2dBackward(g, X: xc, W: xc, Dy: dyc, Dx: null, Dw: dw, Db: null));
        bool needX = x.RequiresGrad, needDy = dy.RequiresGrad;
        return Node.Record(dw, "ConvolutionBackwardBackward", [x, dy], gz =>
            [needX ? ConvBackwardInputOp(g, dy, gz) : null, needDy ? ConvForwardOp(g, x, gz) : null]);
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
    internal static Tensor AvgPoolForwardOp(Pool2dGeometry g, Tensor x)
    {
        Tensor xc;
        using (GradMode.Set(false)) xc = x.Contiguous();
        var y = Empty([g.N, g.C, g.OutH, g.OutW], x.DType, zeroed: false);
        DispatchFloat(x.DType, "AvgPool2d", new AvgPool2dCore(g, xc, y, Backward: false));
        return Node.Record(y, "AvgPool2DBackward", [x], gz => [AvgPoolBackwardOp(g, gz)]);
    }

    /// <summary>Recorded gradient of average pooling; its own gradient is the pooling.</summary>
    internal static Tensor AvgPoolBackwardOp(Pool2dGeometry g, Tensor dy)
    {
        Tensor dyc;
        using (GradMode.Set(false)) dyc = dy.Contiguous();
        var dx = Empty([g.N, g.C, g.H, g.W], dy.DType, zeroed: true);
        DispatchFloat(dy.DType, "AvgPool2d", new AvgPool2dCore(g, dyc, dx, Backward: true));
        return Node.Record(dx, "AvgPool2DBackwardBackward", [dy], gz => [AvgPoolForwardOp(g, gz)]);
    }

    /// <summary>Recorded adaptive average pooling.</summary>
    internal static Tensor AdaptiveAvgPoolForwardOp(AdaptivePool2dGeometry g, Tensor x)
    {
        Tensor xc;
        using (GradMode.Set(false)) xc = x.Contiguous();
        var y = Empty([g.N, g.C, g.OutH, g.OutW], x.DType, zeroed: false);
        DispatchFloat(x.DType, "AdaptiveAvgPool2d", new AdaptiveAvgPool2dCore(g, xc, y, Backward: false));
        return Node.Record(y, "AdaptiveAvgPool2DBackward", [x], gz => [AdaptiveAvgPoolBackwardOp(g, gz)]);
    }

    /// <summary>Recorded gradient of adaptive average pooling.</summary>
    internal static Tensor AdaptiveAvgPoolBackwardOp(AdaptivePool2dGeometry g, Tensor dy)
    {
        Tensor dyc;
        using (GradMode.Set(false)) dyc = dy.Contiguous();
        var dx = Empty([g.N, g.C, g.H, g.W], dy.DType, zeroed: true);
        DispatchFloat(dy.DType, "AdaptiveAvgPool2d", new AdaptiveAvgPool2dCore(g, dyc, dx, Backward: true));
        return Node.Record(dx, "AdaptiveAvgPool2DBackwardBackward", [dy], gz => [AdaptiveAvgPoolForwardOp(g, gz)]);
    }

    /// <summary>Recorded max-pool gradient: scatters <paramref name="dy"/> to the argmax positions (max_unpool2d).
    /// <paramref name="indices"/> is owned by the graph (a copy of the forward's rented buffer).</summary>
    internal static Tensor MaxUnpoolOp(Pool2dGeometry g, Tensor dy, int[] indices)
    {
        Tensor dyc;
        using (GradMode.Set(false)) dyc = dy.Contiguous();
        var dx = Empty([g.N, g.C, g.H, g.W], dy.DType, zeroed: true);
        DispatchFloat(dy.DType, "MaxPool2d", new MaxPool2dCore(g, dyc, dx, indices, indices.Length, Backward: true));
        return Node.Record(dx, "MaxUnpool2DBackward", [dy], gz => [MaxGatherOp(g, gz, indices)]);
    }

    /// <summary>Recorded gather of the argmax positions (the max pool with its indices fixed); adjoint of <see cref="MaxUnpoolOp"/>.</summary>
    internal static Tensor MaxGatherOp(Pool2dGeometry g, Tensor x, int[] indices)
    {
        Tensor xc;
        using (GradMode.Set(false)) xc = x.Contiguous();
        var y = Empty([g.N, g.C, g.OutH, g.OutW], x.DType, zeroed: false);
        int planes = g.N * g.C, inPlane = g.H * g.W, outPlane = g.OutH * g.OutW;
        DispatchFloat(x.DType, "MaxPool2d", new MaxGatherCore(xc, indices, y, planes, inPlane, outPlane));
        return Node.Record(y, "MaxPool2DWithIndicesBackward", [x], gz => [MaxUnpoolOp(g, gz, indices)]);
    }

    private readonly record struct MaxGatherCore(Tensor X, int[] Indices, Tensor Y, int Planes, int InPlane, int OutPlane) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            PoolGather.Gather(X.ReadSpan<T>(), Indices, Y.Span<T>(), Planes, InPlane, OutPlane);
    }
}
