namespace DeepSharp.NN;

/// <summary>
/// 2-D convolution over [N, C, H, W] (or unbatched [C, H, W]) inputs (<c>nn.Conv2d</c>), with weight
/// [out, in/groups, kH, kW] and bias [out]. Initialised as PyTorch: Kaiming-uniform with a = √5 for the weight
/// (U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kH·kW) and U(−1/√fan_in, 1/√fan_in) for the bias.
/// </summary>
public sealed class Conv2d : ConvNdBase
{
    /// <summary>A square-kernel convolution with numeric padding.</summary>
    /// <param name="inChannels">Input channels C.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel height and width.</param>
    /// <param name="stride">Stride (default 1).</param>
    /// <param name="padding">Zero padding on every side (default 0).</param>
    /// <param name="dilation">Kernel dilation (default 1).</param>
    /// <param name="groups">Channel groups; in and out channels must be divisible by it (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), null, (dilation, dilation), groups, bias, dtype, generator) { }

    /// <summary>A convolution with separate height/width kernel size, stride, padding and dilation.</summary>
    /// <param name="inChannels">Input channels C.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">(kH, kW).</param>
    /// <param name="stride">(sH, sW), default (1, 1).</param>
    /// <param name="padding">(pH, pW), default (0, 0).</param>
    /// <param name="dilation">(dH, dW), default (1, 1).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
        (int H, int W)? dilation = null, int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, kernelSize, stride ?? (1, 1), padding ?? (0, 0), null, dilation ?? (1, 1), groups, bias, dtype, generator) { }

    /// <summary>A convolution with padding "valid" (none) or "same" (output size = input size, stride 1 only, as PyTorch).</summary>
    /// <param name="inChannels">Input channels C.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel height and width.</param>
    /// <param name="padding">"valid" or "same".</param>
    /// <param name="stride">Stride (default 1; must be 1 with "same").</param>
    /// <param name="dilation">Kernel dilation (default 1).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Conv2d(int inChannels, int outChannels, int kernelSize, string padding, int stride = 1, int dilation = 1, int groups = 1,
        bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (0, 0), padding ?? throw new ArgumentNullException(nameof(padding)),
            (dilation, dilation), groups, bias, dtype, generator) { }

    private Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding, string? paddingMode,
        (int H, int W) dilation, int groups, bool bias, DType dtype, Generator? generator)
        : base(inChannels, outChannels, groups, WeightShape(inChannels, outChannels, kernelSize, stride, padding, paddingMode, dilation, groups),
            bias, dtype, generator)
    {
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        PaddingMode = paddingMode;
        Dilation = dilation;
    }

    /// <summary>Checks the arguments (before anything is drawn from the generator); [out, in/groups, kH, kW].</summary>
    private static int[] WeightShape(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding,
        string? paddingMode, (int H, int W) dilation, int groups)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"Conv2d: channel counts must be positive, got in={inChannels}, out={outChannels}.");
        if (groups <= 0) throw new ArgumentOutOfRangeException(nameof(groups), $"Conv2d: groups must be positive, got {groups}.");
        if (inChannels % groups != 0) throw new ArgumentException($"Conv2d: in_channels ({inChannels}) must be divisible by groups ({groups}).");
        if (outChannels % groups != 0) throw new ArgumentException($"Conv2d: out_channels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize.H <= 0 || kernelSize.W <= 0 || stride.H <= 0 || stride.W <= 0 || dilation.H <= 0 || dilation.W <= 0)
            throw new ArgumentException($"Conv2d: kernel size {kernelSize}, stride {stride} and dilation {dilation} must be positive.");
        if (padding.H < 0 || padding.W < 0) throw new ArgumentException($"Conv2d: padding must be non-negative, got {padding}.");
        if (paddingMode is not (null or "valid" or "same"))
            throw new ArgumentException($"Conv2d: padding must be \"valid\", \"same\" or a number, got \"{paddingMode}\".");
        if (paddingMode == "same" && stride != (1, 1))
            throw new ArgumentException($"Conv2d: padding='same' is not supported for strided convolutions (stride {stride}).");
        return [outChannels, inChannels / groups, kernelSize.H, kernelSize.W];
    }

    /// <summary>(kH, kW).</summary>
    public (int H, int W) KernelSize { get; }

    /// <summary>(sH, sW).</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Numeric padding (pH, pW); (0, 0) when <see cref="PaddingMode"/> is set.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>"valid" or "same" when built with string padding, else null.</summary>
    public string? PaddingMode { get; }

    /// <summary>(dH, dW).</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Convolves [N, C, H, W] (or [C, H, W]) input.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return PaddingMode is { } mode
            ? input.Conv2d(Weight, Bias, mode, Stride, Dilation, Groups)
            : input.Conv2d(Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InChannels}, {OutChannels}, kernel_size={PyTuple([KernelSize.H, KernelSize.W])}, stride={PyTuple([Stride.H, Stride.W])}";
        if (PaddingMode is { } mode) s += $", padding={mode}";
        else if (Padding != (0, 0)) s += $", padding={PyTuple([Padding.H, Padding.W])}";
        if (Dilation != (1, 1)) s += $", dilation={PyTuple([Dilation.H, Dilation.W])}";
        if (Groups != 1) s += $", groups={Groups}";
        if (Bias is null) s += ", bias=False";
        return s;
    }
}

/// <summary>
/// The base of the convolution modules (<see cref="Conv1d"/>, <see cref="Conv2d"/>, <see cref="ConvTranspose2d"/>;
/// PyTorch's <c>_ConvNd</c>): the channel counts, the groups, and the parameters <c>weight</c> and optional <c>bias</c>
/// [out], initialised as PyTorch's <c>reset_parameters</c> does.
/// </summary>
public abstract class ConvNdBase : Module<Tensor, Tensor>
{
    /// <summary>Registers <c>weight</c> (zeros of <paramref name="weightShape"/>, then initialised) and, when
    /// <paramref name="bias"/>, <c>bias</c> [out]; the arguments are checked by the derived module.</summary>
    private protected ConvNdBase(int inChannels, int outChannels, int groups, int[] weightShape, bool bias, DType dtype, Generator? generator)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Groups = groups;
        var w = RegisterParameter("weight", Tensor.Zeros(weightShape, dtype))!;
        var b = RegisterParameter("bias", bias ? Tensor.Zeros([outChannels], dtype) : null);
        Init.ResetConvParameters(w, b, generator);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>The kernels (parameter <c>weight</c>): [out, in/groups, k…] for a convolution, [in, out/groups, k…] for a
    /// transposed one.</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>The bias [out] (parameter <c>bias</c>), or null.</summary>
    public Tensor? Bias => GetParameter("bias");
}

/// <summary>2-D max pooling (<c>nn.MaxPool2d</c>); the stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Implicit −∞ padding on every side (at most half the kernel).</param>
/// <param name="dilation">Spacing of window elements.</param>
/// <param name="ceilMode">Use ceil instead of floor for the output size.</param>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) : Module<Tensor, Tensor>
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding.</summary>
    public int Padding { get; } = padding;

    /// <summary>Dilation.</summary>
    public int Dilation { get; } = dilation;

    /// <summary>Whether the output size rounds up.</summary>
    public bool CeilMode { get; } = ceilMode;

    /// <summary>Pools [N, C, H, W] (or [C, H, W]) input.</summary>
    public override Tensor Forward(Tensor input) => F.MaxPool2d(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}, ceil_mode={Py(CeilMode)}";
}

/// <summary>2-D average pooling (<c>nn.AvgPool2d</c>); the stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Implicit zero padding on every side (at most half the kernel).</param>
/// <param name="ceilMode">Use ceil instead of floor for the output size.</param>
/// <param name="countIncludePad">Whether padded zeros count in the average (default true).</param>
/// <param name="divisorOverride">If given, the divisor instead of the window size.</param>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    : Module<Tensor, Tensor>
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding.</summary>
    public int Padding { get; } = padding;

    /// <summary>Whether the output size rounds up.</summary>
    public bool CeilMode { get; } = ceilMode;

    /// <summary>Whether padded zeros count in the average.</summary>
    public bool CountIncludePad { get; } = countIncludePad;

    /// <summary>The divisor override, or null.</summary>
    public int? DivisorOverride { get; } = divisorOverride;

    /// <summary>Pools [N, C, H, W] (or [C, H, W]) input.</summary>
    public override Tensor Forward(Tensor input) => F.AvgPool2d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad, DivisorOverride);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}

/// <summary>Adaptive average pooling to a fixed output size (<c>nn.AdaptiveAvgPool2d</c>); (1, 1) is global average pooling.</summary>
public sealed class AdaptiveAvgPool2d : Module<Tensor, Tensor>
{
    private readonly bool _square;

    /// <summary>Pools to <paramref name="outputSize"/> × <paramref name="outputSize"/>.</summary>
    public AdaptiveAvgPool2d(int outputSize) : this((outputSize, outputSize)) => _square = true;

    /// <summary>Pools to (H, W).</summary>
    public AdaptiveAvgPool2d((int H, int W) outputSize)
    {
        if (outputSize.H <= 0 || outputSize.W <= 0)
            throw new ArgumentOutOfRangeException(nameof(outputSize), $"AdaptiveAvgPool2d: the output size must be positive, got {outputSize}.");
        OutputSize = outputSize;
    }

    /// <summary>The output (H, W).</summary>
    public (int H, int W) OutputSize { get; }

    /// <summary>Pools [N, C, H, W] (or [C, H, W]) input.</summary>
    public override Tensor Forward(Tensor input) => F.AdaptiveAvgPool2d(input, OutputSize.H, OutputSize.W);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={(_square ? OutputSize.H.ToString(System.Globalization.CultureInfo.InvariantCulture) : PyTuple([OutputSize.H, OutputSize.W]))}";
}

/// <summary>
/// A ResNet basic block (torchvision's <c>BasicBlock</c>): conv3×3(stride)–BN–ReLU–conv3×3–BN, plus the input, then
/// ReLU. When the stride is not 1 or the channel count changes, the input goes through a projection shortcut,
/// conv1×1(stride)–BN, registered as <c>downsample</c>. Children are named as torchvision's (<c>conv1</c>, <c>bn1</c>,
/// <c>relu</c>, <c>conv2</c>, <c>bn2</c>, <c>downsample.0</c>, <c>downsample.1</c>), so state dicts line up.
/// </summary>
public sealed class ResidualBlock : Module<Tensor, Tensor>
{
    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="stride">Stride of the first convolution and of the shortcut (default 1).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public ResidualBlock(int inChannels, int outChannels, int stride = 1, DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, stride, padding: 1, bias: false, dtype: dtype, generator: generator));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(outChannels, dtype: dtype));
        RegisterModule("relu", new ReLU());
        Conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, 1, padding: 1, bias: false, dtype: dtype, generator: generator));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(outChannels, dtype: dtype));
        if (stride != 1 || inChannels != outChannels)
            Downsample = RegisterModule("downsample", new Sequential(
                new Conv2d(inChannels, outChannels, 1, stride, bias: false, dtype: dtype, generator: generator),
                new BatchNorm2d(outChannels, dtype: dtype)));
    }

    /// <summary>The first 3×3 convolution (carries the stride).</summary>
    public Conv2d Conv1 { get; }

    /// <summary>BatchNorm after <see cref="Conv1"/>.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary>The second 3×3 convolution.</summary>
    public Conv2d Conv2 { get; }

    /// <summary>BatchNorm after <see cref="Conv2"/>.</summary>
    public BatchNorm2d Bn2 { get; }

    /// <summary>The projection shortcut (conv1×1–BN), or null for the identity shortcut.</summary>
    public Sequential? Downsample { get; }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). Each BatchNorm runs fused with the ReLU (and the
    /// skip add) after it: the same values and gradients as the separate modules, one pass over memory instead of three.</summary>
    public override Tensor Forward(Tensor input)
    {
        var h = Bn1.ForwardRelu(Conv1.Forward(input), residual: null);
        var shortcut = Downsample is null ? input : Downsample.Forward(input);
        return Bn2.ForwardRelu(Conv2.Forward(h), shortcut);
    }

    /// <summary>The forward with the separate modules, unfused: the reference the fused forward is tested against.</summary>
    internal Tensor ForwardUnfused(Tensor input)
    {
        var h = Bn1.Forward(Conv1.Forward(input)).Relu();
        h = Bn2.Forward(Conv2.Forward(h));
        var shortcut = Downsample is null ? input : Downsample.Forward(input);
        return (h + shortcut).Relu();
    }
}
