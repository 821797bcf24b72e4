namespace DeepSharp.NN;

/// <summary>
/// 2-D transposed convolution (<c>nn.ConvTranspose2d</c>, "deconvolution") over [N, C_in, H, W] (or [C_in, H, W]):
/// weight [in, out/groups, kH, kW] and bias [out], initialised as PyTorch (Kaiming-uniform a = √5 with
/// fan_in = out/groups·kH·kW, bias U(−1/√fan_in, 1/√fan_in)).
/// </summary>
public sealed class ConvTranspose2d : ConvNdBase
{
    /// <summary>A square-kernel transposed convolution.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel height and width.</param>
    /// <param name="stride">Stride (default 1).</param>
    /// <param name="padding">dilation·(k − 1) − padding zero rows/columns are added to each side of the input (default 0).</param>
    /// <param name="outputPadding">Extra size added to one side of the output (smaller than stride or dilation; default 0).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dilation">Kernel dilation (default 1).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public ConvTranspose2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1,
        bool bias = true, int dilation = 1, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, bias,
            (dilation, dilation), dtype, generator) { }

    /// <summary>A transposed convolution with separate height/width sizes.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">(kH, kW).</param>
    /// <param name="stride">(sH, sW), default (1, 1).</param>
    /// <param name="padding">(pH, pW), default (0, 0).</param>
    /// <param name="outputPadding">(opH, opW), default (0, 0).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dilation">(dH, dW), default (1, 1).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public ConvTranspose2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
        (int H, int W)? outputPadding = null, int groups = 1, bool bias = true, (int H, int W)? dilation = null, DType dtype = DType.Float32,
        Generator? generator = null)
        : base(inChannels, outChannels, groups, WeightShape(inChannels, outChannels, kernelSize, stride ?? (1, 1), outputPadding ?? (0, 0),
            groups, dilation ?? (1, 1)), bias, dtype, generator)
    {
        KernelSize = kernelSize;
        Stride = stride ?? (1, 1);
        Padding = padding ?? (0, 0);
        OutputPadding = outputPadding ?? (0, 0);
        Dilation = dilation ?? (1, 1);
    }

    /// <summary>Checks the arguments (before anything is drawn from the generator); [in, out/groups, kH, kW].</summary>
    private static int[] WeightShape(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) s, (int H, int W) op, int groups,
        (int H, int W) d)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"ConvTranspose2d: channel counts must be positive, got in={inChannels}, out={outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d: in_channels ({inChannels}) and out_channels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize.H <= 0 || kernelSize.W <= 0 || s.H <= 0 || s.W <= 0 || d.H <= 0 || d.W <= 0)
            throw new ArgumentException($"ConvTranspose2d: kernel size {kernelSize}, stride {s} and dilation {d} must be positive.");
        if (op.H >= Math.Max(s.H, d.H) || op.W >= Math.Max(s.W, d.W) || op.H < 0 || op.W < 0)
            throw new ArgumentException($"ConvTranspose2d: output padding {op} must be non-negative and smaller than either stride {s} or dilation {d}.");
        return [inChannels, outChannels / groups, kernelSize.H, kernelSize.W];
    }

    /// <summary>(kH, kW).</summary>
    public (int H, int W) KernelSize { get; }

    /// <summary>(sH, sW).</summary>
    public (int H, int W) Stride { get; }

    /// <summary>(pH, pW).</summary>
    public (int H, int W) Padding { get; }

    /// <summary>(opH, opW).</summary>
    public (int H, int W) OutputPadding { get; }

    /// <summary>(dH, dW).</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Applies the transposed convolution to [N, C_in, H, W] (or [C_in, H, W]) input.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (3 or 4) || input.Shape[^3] != InChannels)
            throw new ArgumentException($"ConvTranspose2d: expected input [N, {InChannels}, H, W] or [{InChannels}, H, W], got shape {ShapeUtil.Format(input._shape)}.");
        return input.ConvTranspose2d(Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InChannels}, {OutChannels}, kernel_size={PyTuple([KernelSize.H, KernelSize.W])}, stride={PyTuple([Stride.H, Stride.W])}";
        if (Padding != (0, 0)) s += $", padding={PyTuple([Padding.H, Padding.W])}";
        if (OutputPadding != (0, 0)) s += $", output_padding={PyTuple([OutputPadding.H, OutputPadding.W])}";
        if (Dilation != (1, 1)) s += $", dilation={PyTuple([Dilation.H, Dilation.W])}";
        if (Groups != 1) s += $", groups={Groups}";
        if (Bias is null) s += ", bias=False";
        return s;
    }
}

/// <summary>
/// 1-D convolution over [N, C, L] (or [C, L]) inputs (<c>nn.Conv1d</c>), weight [out, in/groups, k] and bias [out],
/// initialised as PyTorch; it runs on the 2-D convolution kernels (see <see cref="F.Conv1d(Tensor, Tensor, Tensor?, int, int, int, int)"/>).
/// </summary>
public sealed class Conv1d : ConvNdBase
{
    /// <summary>Creates the layer.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel length.</param>
    /// <param name="stride">Stride (default 1).</param>
    /// <param name="padding">Zero padding on both ends (default 0).</param>
    /// <param name="dilation">Kernel dilation (default 1).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, kernelSize, stride, padding, null, dilation, groups, bias, dtype, generator) { }

    /// <summary>Creates the layer with padding "valid" or "same" (stride 1 only, as PyTorch).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel length.</param>
    /// <param name="padding">"valid" or "same".</param>
    /// <param name="stride">Stride (default 1).</param>
    /// <param name="dilation">Kernel dilation (default 1).</param>
    /// <param name="groups">Channel groups (default 1).</param>
    /// <param name="bias">Whether to learn a bias (default true).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Conv1d(int inChannels, int outChannels, int kernelSize, string padding, int stride = 1, int dilation = 1, int groups = 1,
        bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(inChannels, outChannels, kernelSize, stride, 0, padding ?? throw new ArgumentNullException(nameof(padding)), dilation, groups, bias, dtype, generator) { }

    private Conv1d(int inChannels, int outChannels, int kernelSize, int stride, int padding, string? paddingMode, int dilation, int groups,
        bool bias, DType dtype, Generator? generator)
        : base(inChannels, outChannels, groups, WeightShape(inChannels, outChannels, kernelSize, stride, padding, paddingMode, dilation, groups),
            bias, dtype, generator) =>
        (KernelSize, Stride, Padding, PaddingMode, Dilation) = (kernelSize, stride, padding, paddingMode, dilation);

    /// <summary>Checks the arguments (before anything is drawn from the generator); [out, in/groups, k].</summary>
    private static int[] WeightShape(int inChannels, int outChannels, int kernelSize, int stride, int padding, string? paddingMode, int dilation,
        int groups)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"Conv1d: channel counts must be positive, got in={inChannels}, out={outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv1d: in_channels ({inChannels}) and out_channels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize <= 0 || stride <= 0 || dilation <= 0 || padding < 0)
            throw new ArgumentException($"Conv1d: kernel size {kernelSize}, stride {stride} and dilation {dilation} must be positive and padding {padding} non-negative.");
        if (paddingMode is not (null or "valid" or "same"))
            throw new ArgumentException($"Conv1d: padding must be \"valid\", \"same\" or a number, got \"{paddingMode}\".");
        if (paddingMode == "same" && stride != 1)
            throw new ArgumentException($"Conv1d: padding='same' is not supported for strided convolutions (stride {stride}).");
        return [outChannels, inChannels / groups, kernelSize];
    }

    /// <summary>Kernel length.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Numeric padding (0 when <see cref="PaddingMode"/> is set).</summary>
    public int Padding { get; }

    /// <summary>"valid" or "same" when built with string padding, else null.</summary>
    public string? PaddingMode { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Convolves [N, C, L] (or [C, L]) input.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (2 or 3) || input.Shape[^2] != InChannels)
            throw new ArgumentException($"Conv1d: expected input [N, {InChannels}, L] or [{InChannels}, L], got shape {ShapeUtil.Format(input._shape)}.");
        return PaddingMode is { } mode
            ? F.Conv1d(input, Weight, Bias, mode, Stride, Dilation, Groups)
            : F.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InChannels}, {OutChannels}, kernel_size=({KernelSize},), stride=({Stride},)";
        if (PaddingMode is { } mode) s += $", padding={mode}";
        else if (Padding != 0) s += $", padding=({Padding},)";
        if (Dilation != 1) s += $", dilation=({Dilation},)";
        if (Groups != 1) s += $", groups={Groups}";
        if (Bias is null) s += ", bias=False";
        return s;
    }
}
