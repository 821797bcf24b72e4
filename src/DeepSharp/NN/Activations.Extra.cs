namespace DeepSharp.NN;

/// <summary>ELU (<c>nn.ELU</c>): x for x &gt; 0, α·(eˣ − 1) otherwise.</summary>
/// <param name="alpha">α (default 1).</param>
public sealed class ELU(double alpha = 1.0) : Module<Tensor, Tensor>
{
    /// <summary>α.</summary>
    public double Alpha { get; } = alpha;

    /// <summary>Applies ELU element-wise.</summary>
    public override Tensor Forward(Tensor input) => F.Elu(input, Alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={Py(Alpha)}";
}

/// <summary>Mish (<c>nn.Mish</c>): x·tanh(softplus(x)).</summary>
public sealed class Mish : Module<Tensor, Tensor>
{
    /// <summary>Applies Mish element-wise.</summary>
    public override Tensor Forward(Tensor input) => F.Mish(input);
}

/// <summary>Hardswish (<c>nn.Hardswish</c>): x·ReLU6(x + 3)/6.</summary>
public sealed class Hardswish : Module<Tensor, Tensor>
{
    /// <summary>Applies Hardswish element-wise.</summary>
    public override Tensor Forward(Tensor input) => F.Hardswish(input);
}

/// <summary>
/// PReLU (<c>nn.PReLU</c>): max(0, x) + a·min(0, x) with a learnt slope a (parameter <c>weight</c>, shape
/// [numParameters], initialised to <c>init</c>): one slope shared by all channels, or one per channel (dim 1).
/// </summary>
public sealed class PReLU : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numParameters">1 (shared slope) or the number of channels.</param>
    /// <param name="init">Initial slope (default 0.25).</param>
    /// <param name="dtype">Element type of the weight.</param>
    public PReLU(int numParameters = 1, double init = 0.25, DType dtype = DType.Float32)
    {
        if (numParameters <= 0) throw new ArgumentOutOfRangeException(nameof(numParameters), $"PReLU: numParameters must be positive, got {numParameters}.");
        NumParameters = numParameters;
        RegisterParameter("weight", Tensor.Full([numParameters], init, dtype));
    }

    /// <summary>The number of slopes.</summary>
    public int NumParameters { get; }

    /// <summary>The slopes [numParameters] (parameter <c>weight</c>).</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>Applies PReLU element-wise.</summary>
    public override Tensor Forward(Tensor input) => F.Prelu(input, Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_parameters={NumParameters}";
}

/// <summary>
/// Channel dropout (<c>nn.Dropout2d</c>): in training mode each whole channel (dims 0 and 1 of an [N, C, H, W]
/// input, or of an [N, C, L] input as PyTorch treats 3-D inputs) is zeroed with probability p and the rest scaled by
/// 1/(1 − p); in evaluation mode it is the identity.
/// </summary>
public sealed class Dropout2d : Module<Tensor, Tensor>
{
    private readonly Generator? _generator;

    /// <summary>Creates the layer.</summary>
    /// <param name="p">Probability of zeroing a channel, in [0, 1].</param>
    /// <param name="generator">Random source for the masks (the default generator when null).</param>
    public Dropout2d(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout2d: probability has to be between 0 and 1, but got {p}.");
        P = p;
        _generator = generator;
    }

    /// <summary>The drop probability.</summary>
    public double P { get; }

    /// <summary>Applies channel dropout when <see cref="Module.IsTraining"/>; otherwise returns the input.</summary>
    public override Tensor Forward(Tensor input) => F.Dropout2d(input, P, IsTraining, _generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={Py(P)}";
}

/// <summary>Rearranges [*, C·r², H, W] into [*, C, H·r, W·r] (<c>nn.PixelShuffle</c>), as sub-pixel convolution upsamplers do.</summary>
/// <param name="upscaleFactor">r.</param>
public sealed class PixelShuffle(int upscaleFactor) : Module<Tensor, Tensor>
{
    /// <summary>r.</summary>
    public int UpscaleFactor { get; } = upscaleFactor;

    /// <summary>Shuffles the input.</summary>
    public override Tensor Forward(Tensor input) => F.PixelShuffle(input, UpscaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"upscale_factor={UpscaleFactor}";
}

/// <summary>The inverse of <see cref="PixelShuffle"/>: [*, C, H·r, W·r] into [*, C·r², H, W] (<c>nn.PixelUnshuffle</c>).</summary>
/// <param name="downscaleFactor">r.</param>
public sealed class PixelUnshuffle(int downscaleFactor) : Module<Tensor, Tensor>
{
    /// <summary>r.</summary>
    public int DownscaleFactor { get; } = downscaleFactor;

    /// <summary>Unshuffles the input.</summary>
    public override Tensor Forward(Tensor input) => F.PixelUnshuffle(input, DownscaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"downscale_factor={DownscaleFactor}";
}

/// <summary>Cosine similarity along a dim (<c>nn.CosineSimilarity</c>); see <see cref="F.CosineSimilarity"/>.</summary>
/// <param name="dim">The dim to reduce (default 1).</param>
/// <param name="eps">Lower bound of each norm (default 1e-8).</param>
public sealed class CosineSimilarity(int dim = 1, double eps = 1e-8) : Module<Tensor, Tensor, Tensor>
{
    /// <summary>The reduced dim.</summary>
    public int Dim { get; } = dim;

    /// <summary>The norm lower bound.</summary>
    public double Eps { get; } = eps;

    /// <summary>The similarity of <paramref name="input1"/> and <paramref name="input2"/> (broadcast).</summary>
    public override Tensor Forward(Tensor input1, Tensor input2) => F.CosineSimilarity(input1, input2, Dim, Eps);
}
