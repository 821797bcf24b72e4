using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// 2-D convolution (torch.nn.functional.conv2d): forward and the three backward kernels side by side.
public sealed partial class Tensor
{
    /// <summary>2-D convolution of this [N, C, H, W] (or unbatched [C, H, W]) input with weight [O, C/groups, kH, kW].</summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>2-D convolution with separate height/width stride, padding and dilation.</summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1) =>
        ConvCore(weight, bias, stride, padding.H, padding.H, padding.W, padding.W, dilation, groups);

    /// <summary>2-D convolution with padding "valid" (none) or "same" (output size = input size; stride must be 1, as PyTorch).</summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias, string padding, (int H, int W)? stride = null, (int H, int W)? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var s = stride ?? (1, 1);
        var d = dilation ?? (1, 1);
        switch (padding)
        {
            case "valid":
                return ConvCore(weight, bias, s, 0, 0, 0, 0, d, groups);
            case "same":
                if (s != (1, 1)) throw new ArgumentException($"Conv2d: padding='same' is not supported for strided convolutions (stride {s}).");
                if (weight.Dim != 4) throw new ArgumentException($"Conv2d: expected a 4-D weight [out, in/groups, kH, kW], got shape {ShapeUtil.Format(weight._shape)}.");
                // PyTorch puts the odd extra row/column of padding at the bottom/right.
                int totalH = d.H * (weight._shape[2] - 1), totalW = d.W * (weight._shape[3] - 1);
                return ConvCore(weight, bias, s, totalH / 2, totalH - totalH / 2, totalW / 2, totalW - totalW / 2, d, groups);
            default:
                throw new ArgumentException($"Conv2d: padding must be \"valid\", \"same\" or a number, got \"{padding}\".");
        }
    }

    // userShape: the unbatched [C, H, W] shape the user passed, which error messages report instead of [1, C, H, W].
    private Tensor ConvCore(Tensor weight, Tensor? bias, (int H, int W) stride, int padTop, int padBottom, int padLeft, int padRight, (int H, int W) dilation, int groups,
        int[]? userShape = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (Dim == 3) return Unsqueeze(0).ConvCore(weight, bias, stride, padTop, padBottom, padLeft, padRight, dilation, groups, _shape).Squeeze(0);
        if (Dim != 4)
            throw new ArgumentException($"Conv2d: expected a 3-D or 4-D input [N, C, H, W], got shape {ShapeUtil.Format(_shape)}.");
        if (weight.Dim != 4)
            throw new ArgumentException($"Conv2d: expected a 4-D weight [out, in/groups, kH, kW], got shape {ShapeUtil.Format(weight._shape)}.");
        CheckSameDType(this, weight, "Conv2d");
        CheckFloating("Conv2d");
        if (groups < 1) throw new ArgumentException($"Conv2d: groups must be positive, got {groups}.");
        if (_shape[1] != weight._shape[1] * groups)
            throw new ArgumentException($"Conv2d: input {ShapeUtil.Format(userShape ?? _shape)} has {_shape[1]} channels but weight {ShapeUtil.Format(weight._shape)} with groups={groups} expects {weight._shape[1] * groups}.");
        if (bias is not null)
        {
            CheckSameDType(this, bias, "Conv2d");
            if (bias.Dim != 1 || bias._shape[0] != weight._shape[0])
                throw new ArgumentException($"Conv2d: bias must have shape [{weight._shape[0]}], got {ShapeUtil.Format(bias._shape)}.");
        }
        var g = new Conv2dGeometry(_shape[0], _shape[1], _shape[2], _shape[3], weight._shape[0], weight._shape[2], weight._shape[3],
            stride.H, stride.W, padTop, padLeft, dilation.H, dilation.W, groups) { PadBottom = padBottom, PadRight = padRight };
        g.Validate("Conv2d");

        Tensor x, w;
        using (GradMode.Set(false)) { x = Contiguous(); w = weight.Contiguous(); }
        var b = bias?.Contiguous();
        var result = Empty([g.N, g.OutC, g.OutH, g.OutW], DType, zeroed: false);
        DispatchFloat(DType, "Conv2d", new Conv2dForward(g, x, w, b, result));

        Tracing.Current?.Record("Conv2d", result, [this, weight, bias], stride.H, stride.W, padTop, padLeft, padBottom, padRight, dilation.H, dilation.W, groups);
        Tensor[] inputs = bias is null ? [this, weight] : [this, weight, bias];
        bool needInput = RequiresGrad, needWeight = weight.RequiresGrad, needBias = bias?.RequiresGrad ?? false;
        return Node.Record(result, "ConvolutionBackward", inputs, gradOut =>
        {
            if (GradMode.IsEnabled) return ConvRecordedBackward(g, this, weight, bias, gradOut, needInput, needWeight, needBias);
            var dy = gradOut.Contiguous();
            var dx = needInput ? Empty(x._shape, DType, zeroed: false) : null;
            var dw = needWeight ? Empty(w._shape, DType, zeroed: false) : null;
            var db = needBias ? Empty([g.OutC], DType, zeroed: false) : null;
            DispatchFloat(DType, "Conv2d", new Conv2dBackward(g, x, w, dy, dx, dw, db));
            return bias is null ? [dx, dw] : [dx, dw, db];
        }, x, w);
    }

    private readonly record struct Conv2dForward(Conv2dGeometry G, Tensor X, Tensor W, Tensor? B, Tensor Y) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Conv2dKernels.Forward(G, X.ReadSpan<T>(), W.ReadSpan<T>(), B is null ? default : B.ReadSpan<T>(), Y.Span<T>());
    }

    // The gradients that are not null: dx from dy and W, dW from x and dy, db from dy.
    private readonly record struct Conv2dBackward(Conv2dGeometry G, Tensor X, Tensor W, Tensor Dy, Tensor? Dx, Tensor? Dw, Tensor? Db) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (Dx is not null) Conv2dKernels.BackwardInput(G, Dy.ReadSpan<T>(), W.ReadSpan<T>(), Dx.Span<T>());
            if (Dw is not null) Conv2dKernels.BackwardWeight(G, X.ReadSpan<T>(), Dy.ReadSpan<T>(), Dw.Span<T>());
            if (Db is not null) Conv2dKernels.BackwardBias(G, Dy.ReadSpan<T>(), Db.Span<T>());
        }
    }
}
