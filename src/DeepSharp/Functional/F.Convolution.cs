namespace DeepSharp.NN;

// Convolution and pooling (torch.nn.functional.conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d),
// forwarding to the tensor ops over the conv and pool kernels.
public static partial class F
{
    /// <summary>2-D convolution of [N, C, H, W] (or [C, H, W]) with weight [O, C/groups, kH, kW] (<c>F.conv2d</c>).</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Conv2d(weight, bias, stride, padding, dilation, groups);
    }

    /// <summary>2-D convolution with separate height/width stride, padding and dilation.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Conv2d(weight, bias, stride, padding, dilation, groups);
    }

    /// <summary>2-D convolution with padding "valid" (none) or "same" (output size = input size; stride 1 only, as PyTorch).</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, string padding, (int H, int W)? stride = null, (int H, int W)? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Conv2d(weight, bias, padding, stride, dilation, groups);
    }

    /// <summary>2-D max pooling (<c>F.max_pool2d</c>); the stride defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaxPool2d(kernelSize, stride, padding, dilation, ceilMode);
    }

    /// <summary>2-D max pooling with separate height/width parameters.</summary>
    public static Tensor MaxPool2d(Tensor input, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding, (int H, int W) dilation, bool ceilMode = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaxPool2d(kernelSize, stride, padding, dilation, ceilMode);
    }

    /// <summary>2-D average pooling (<c>F.avg_pool2d</c>); the stride defaults to the kernel size.</summary>
    public static Tensor AvgPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.AvgPool2d(kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride);
    }

    /// <summary>Adaptive average pooling to [outputH, outputW] (<c>F.adaptive_avg_pool2d</c>); (1, 1) is global average pooling.</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, int outputH, int outputW)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.AdaptiveAvgPool2d(outputH, outputW);
    }
}
