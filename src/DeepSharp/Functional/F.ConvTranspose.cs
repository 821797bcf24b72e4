namespace DeepSharp.NN;

// Transposed 2-D and plain 1-D convolution (torch.nn.functional.conv_transpose2d, conv1d).
public static partial class F
{
    /// <summary>2-D transposed convolution of [N, C_in, H, W] (or [C_in, H, W]) with weight [C_in, C_out/groups, kH, kW] (<c>F.conv_transpose2d</c>).</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0,
        int groups = 1, int dilation = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.ConvTranspose2d(weight, bias, stride, padding, outputPadding, groups, dilation);
    }

    /// <summary>2-D transposed convolution with separate height/width stride, padding, output padding and dilation.</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding,
        (int H, int W) outputPadding, int groups, (int H, int W) dilation)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.ConvTranspose2d(weight, bias, stride, padding, outputPadding, groups, dilation);
    }

    /// <summary>
    /// 1-D convolution of [N, C, L] (or [C, L]) with weight [O, C/groups, k] (<c>F.conv1d</c>): the 2-D convolution of
    /// the input seen as [N, C, 1, L], so it runs on the same kernels.
    /// </summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        var (x, w, unbatched) = Conv1dViews(input, weight);
        var y = x.Conv2d(w, bias, (1, stride), (0, padding), (1, dilation), groups).Squeeze(2);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>1-D convolution with padding "valid" (none) or "same" (output length = input length; stride 1 only).</summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias, string padding, int stride = 1, int dilation = 1, int groups = 1)
    {
        var (x, w, unbatched) = Conv1dViews(input, weight);
        if (padding == "same" && stride != 1) throw new ArgumentException($"Conv1d: padding='same' is not supported for strided convolutions (stride {stride}).");
        var y = x.Conv2d(w, bias, padding, (1, stride), (1, dilation), groups).Squeeze(2);
        return unbatched ? y.Squeeze(0) : y;
    }

    private static (Tensor X, Tensor W, bool Unbatched) Conv1dViews(Tensor input, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.Dim is not (2 or 3))
            throw new ArgumentException($"Conv1d: expected a 2-D or 3-D input [N, C, L], got shape {ShapeUtil.Format(input._shape)}.");
        if (weight.Dim != 3)
            throw new ArgumentException($"Conv1d: expected a 3-D weight [out, in/groups, k], got shape {ShapeUtil.Format(weight._shape)}.");
        bool unbatched = input.Dim == 2;
        var x = unbatched ? input.Unsqueeze(0) : input;
        if (x._shape[1] % weight._shape[1] != 0 || x._shape[1] / weight._shape[1] < 1)
            throw new ArgumentException($"Conv1d: input {ShapeUtil.Format(input._shape)} has {x._shape[1]} channels, which the weight {ShapeUtil.Format(weight._shape)} does not match.");
        return (x.Unsqueeze(2), weight.Unsqueeze(2), unbatched);
    }
}
