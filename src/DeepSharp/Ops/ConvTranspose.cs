using DeepSharp.Kernels;

namespace DeepSharp;

// 2-D transposed convolution (torch.nn.functional.conv_transpose2d): the input gradient of a convolution, so it runs
// on the convolution kernels with the roles swapped — forward = conv BackwardInput, input gradient = conv Forward,
// weight gradient = conv BackwardWeight with input and output gradient exchanged.
public sealed partial class Tensor
{
    /// <summary>
    /// 2-D transposed convolution of this [N, C_in, H, W] (or unbatched [C_in, H, W]) input with weight
    /// [C_in, C_out/groups, kH, kW] (<c>F.conv_transpose2d</c>). Output size per dim:
    /// (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
    /// </summary>
    public Tensor ConvTranspose2d(Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1) =>
        ConvTranspose2d(weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, (dilation, dilation));

    /// <summary>2-D transposed convolution with separate height/width stride, padding, output padding and dilation.</summary>
    public Tensor ConvTranspose2d(Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding,
        int groups, (int H, int W) dilation) => ConvTranspose2dCore(weight, bias, stride, padding, outputPadding, groups, dilation, null);

    // userShape: the unbatched [C_in, H, W] shape the user passed, which error messages report instead of [1, C_in, H, W].
    private Tensor ConvTranspose2dCore(Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding,
        int groups, (int H, int W) dilation, int[]? userShape)
    {
        ArgumentNullException.ThrowIfNull(weight);
        const string op = "ConvTranspose2d";
        if (Dim == 3) return Unsqueeze(0).ConvTranspose2dCore(weight, bias, stride, padding, outputPadding, groups, dilation, _shape).Squeeze(0);
        if (Dim != 4) throw new ArgumentException($"{op}: expected a 3-D or 4-D input [N, C_in, H, W], got shape {ShapeUtil.Format(_shape)}.");
        if (weight.Dim != 4) throw new ArgumentException($"{op}: expected a 4-D weight [C_in, C_out/groups, kH, kW], got shape {ShapeUtil.Format(weight._shape)}.");
        CheckSameDType(this, weight, op);
        CheckFloating(op);
        if (groups < 1) throw new ArgumentException($"{op}: groups must be positive, got {groups}.");
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1 || padding.H < 0 || padding.W < 0 || outputPadding.H < 0 || outputPadding.W < 0)
            throw new ArgumentException($"{op}: stride {stride} and dilation {dilation} must be positive, padding {padding} and outputPadding {outputPadding} non-negative.");
        if (outputPadding.H >= Math.Max(stride.H, dilation.H) || outputPadding.W >= Math.Max(stride.W, dilation.W))
            throw new ArgumentException($"{op}: output padding {outputPadding} must be smaller than either stride {stride} or dilation {dilation}.");
        int n = _shape[0], inC = _shape[1], h = _shape[2], w = _shape[3];
        if (weight._shape[0] != inC || inC % groups != 0)
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(userShape ?? _shape)} has {inC} channels but weight {ShapeUtil.Format(weight._shape)} with groups={groups} expects {weight._shape[0]} (divisible by groups).");
        int outC = weight._shape[1] * groups, kH = weight._shape[2], kW = weight._shape[3];
        if (bias is not null)
        {
            CheckSameDType(this, bias, op);
            if (bias.Dim != 1 || bias._shape[0] != outC)
                throw new ArgumentException($"{op}: bias must have shape [{outC}], got {ShapeUtil.Format(bias._shape)}.");
        }
        long outH = (long)(h - 1) * stride.H - 2L * padding.H + (long)dilation.H * (kH - 1) + outputPadding.H + 1;
        long outW = (long)(w - 1) * stride.W - 2L * padding.W + (long)dilation.W * (kW - 1) + outputPadding.W + 1;
        if (outH < 1 || outW < 1 || outH > int.MaxValue || outW > int.MaxValue)
            throw new ArgumentException($"{op}: the output size ({outH}x{outW}) is invalid for input {ShapeUtil.Format(userShape ?? _shape)}, weight {ShapeUtil.Format(weight._shape)}, stride {stride}, padding {padding}, outputPadding {outputPadding}, dilation {dilation}.");
        // The convolution this op is the transpose of: output padding below the stride leaves its output size at H;
        // one at or above the stride (allowed below the dilation) is taken off the bottom/right padding.
        int padBottom = outputPadding.H < stride.H ? padding.H : padding.H - outputPadding.H;
        int padRight = outputPadding.W < stride.W ? padding.W : padding.W - outputPadding.W;
        if (padBottom < 0 || padRight < 0)
            throw new ArgumentException($"{op}: output padding {outputPadding} at or above the stride {stride} must not exceed the padding {padding}.");
        var g = new Conv2dGeometry(n, outC, (int)outH, (int)outW, inC, kH, kW, stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, groups)
            { PadBottom = padBottom, PadRight = padRight };
        g.Validate(op);
        if (g.OutH != h || g.OutW != w)
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(userShape ?? _shape)} does not match the geometry (kernel {kH}x{kW}, stride {stride}, padding {padding}, outputPadding {outputPadding}, dilation {dilation}).");

        Tensor x, wt;
        using (GradMode.Set(false)) { x = Contiguous(); wt = weight.Contiguous(); }
        var result = Empty([n, outC, (int)outH, (int)outW], DType, zeroed: false);
        // A transposed convolution's forward is the input gradient of the convolution it transposes (x plays dy).
        DispatchFloat(DType, op, new Conv2dBackward(g, X: x, W: wt, Dy: x, Dx: result, Dw: null, Db: null));
        if (bias is not null)
            using (GradMode.Set(false)) result.Add_(bias.Detach().View(1, outC, 1, 1));

        Tensor[] inputs = bias is null ? [this, weight] : [this, weight, bias];
        bool needInput = RequiresGrad, needWeight = weight.RequiresGrad, needBias = bias?.RequiresGrad ?? false;
        var pad = (Top: padding.H, Bottom: padBottom, Left: padding.W, Right: padRight);
        return Node.Record(result, "ConvolutionBackward", inputs, gradOut =>
        {
            Tensor? dx = null, dw = null, db = null;
            if (needBias) db = gradOut.Sum([0, 2, 3]);
            if (GradMode.IsEnabled)
            {
                // createGraph: the same gradients written with differentiable convolutions.
                if (needInput) dx = gradOut.ConvCore(weight, null, stride, pad.Top, pad.Bottom, pad.Left, pad.Right, dilation, groups);
                if (needWeight) dw = TransposedWeightGrad(this, gradOut, weight._shape, stride, pad, dilation, groups);
                return bias is null ? [dx, dw] : [dx, dw, db];
            }
            var dy = gradOut.Contiguous();
            if (needInput)
            {
                dx = Empty(x._shape, DType, zeroed: false);
                DispatchFloat(DType, op, new Conv2dForward(g, X: dy, W: wt, B: null, Y: dx));
            }
            if (needWeight)
            {
                dw = Empty(wt._shape, DType, zeroed: false);
                // The weight gradient of the transposed convolution: dy plays the convolution's input, x its dy.
                DispatchFloat(DType, op, new Conv2dBackward(g, X: dy, W: wt, Dy: x, Dx: null, Dw: dw, Db: null));
            }
            return bias is null ? [dx, dw] : [dx, dw, db];
        }, x, wt);
    }

    /// <summary>
    /// The weight gradient of a transposed convolution as a differentiable convolution, group by group: with the batch
    /// and channel dims swapped, Σₙ,ᵢ,ⱼ x[n,o,i,j]·dy[n,c,i·s+k·d−p, …] is a convolution of dy (batch c, channels n) with
    /// x (out o, channels n) at stride d and dilation s; its first kH×kW outputs are the gradient.
    /// </summary>
    private static Tensor TransposedWeightGrad(Tensor x, Tensor gradOut, int[] weightShape, (int H, int W) stride,
        (int Top, int Bottom, int Left, int Right) pad, (int H, int W) dilation, int groups)
    {
        int inPerGroup = weightShape[0] / groups, outPerGroup = weightShape[1], kH = weightShape[2], kW = weightShape[3];
        var parts = new Tensor[groups];
        for (int gi = 0; gi < groups; gi++)
        {
            var dyT = gradOut.Narrow(1, gi * outPerGroup, outPerGroup).Permute(1, 0, 2, 3);
            var xT = x.Narrow(1, gi * inPerGroup, inPerGroup).Permute(1, 0, 2, 3);
            var full = dyT.ConvCore(xT, null, dilation, pad.Top, pad.Bottom, pad.Left, pad.Right, stride, 1);
            parts[gi] = full.Narrow(2, 0, kH).Narrow(3, 0, kW).Permute(1, 0, 2, 3);
        }
        return groups == 1 ? parts[0] : Cat(parts, 0);
    }
}
