namespace DeepSharp.NN;

/// <summary>
/// Group normalisation (<c>nn.GroupNorm</c>) over an [N, C, *] input: channels split into <c>numGroups</c> groups,
/// each normalised per sample; with <c>affine</c>, per-channel <c>weight</c> (ones) and <c>bias</c> (zeros) [C].
/// </summary>
public sealed class GroupNorm : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numGroups">Number of groups; must divide <paramref name="numChannels"/>.</param>
    /// <param name="numChannels">Number of channels C.</param>
    /// <param name="eps">Added to the variance (default 1e-5).</param>
    /// <param name="affine">Whether to learn per-channel weight and bias.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true, DType dtype = DType.Float32)
    {
        if (numGroups <= 0 || numChannels <= 0 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: numChannels ({numChannels}) must be positive and divisible by numGroups ({numGroups}).");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        Affine = affine;
        RegisterParameter("weight", affine ? Tensor.Ones([numChannels], dtype) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros([numChannels], dtype) : null);
    }

    /// <summary>Number of groups.</summary>
    public int NumGroups { get; }

    /// <summary>Number of channels.</summary>
    public int NumChannels { get; }

    /// <summary>The variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>Whether the layer has learnable affine parameters.</summary>
    public bool Affine { get; }

    /// <summary>The per-channel scale (parameter <c>weight</c>), or null.</summary>
    public Tensor? Weight => GetParameter("weight");

    /// <summary>The per-channel shift (parameter <c>bias</c>), or null.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <summary>Normalises [N, C, *] input.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim < 2 || input.Shape[1] != NumChannels)
            throw new ArgumentException($"GroupNorm: expected an input [N, {NumChannels}, *], got shape {ShapeUtil.Format(input._shape)}.");
        return F.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumGroups}, {NumChannels}, eps={Py(Eps)}, affine={Py(Affine)}";
}

/// <summary>
/// RMS normalisation (<c>nn.RMSNorm</c>, PyTorch 2.4): x / √(mean(x²) + ε) · weight over the trailing
/// <c>normalizedShape</c>; ε null means the machine epsilon of the input's dtype, as PyTorch. Weight (ones) is
/// parameter <c>weight</c>; there is no bias.
/// </summary>
public sealed class RMSNorm : Module<Tensor, Tensor>
{
    private readonly int[] _normalizedShape;

    /// <summary>Creates the layer.</summary>
    /// <param name="normalizedShape">The trailing shape to normalise over.</param>
    /// <param name="eps">Added to the mean square; null for the dtype's machine epsilon.</param>
    /// <param name="elementwiseAffine">Whether to learn a weight.</param>
    /// <param name="dtype">Element type of the weight.</param>
    public RMSNorm(int[] normalizedShape, double? eps = null, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"RMSNorm: normalizedShape must be non-empty with positive sizes, got {ShapeUtil.Format(normalizedShape)}.");
        _normalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        RegisterParameter("weight", elementwiseAffine ? Tensor.Ones(_normalizedShape, dtype) : null);
    }

    /// <summary>Creates a layer normalising over the last dim of size <paramref name="normalizedShape"/>.</summary>
    /// <param name="normalizedShape">The size of the last dim.</param>
    /// <param name="eps">Added to the mean square; null for the dtype's machine epsilon.</param>
    /// <param name="elementwiseAffine">Whether to learn a weight.</param>
    /// <param name="dtype">Element type of the weight.</param>
    public RMSNorm(int normalizedShape, double? eps = null, bool elementwiseAffine = true, DType dtype = DType.Float32)
        : this([normalizedShape], eps, elementwiseAffine, dtype) { }

    /// <summary>The normalised trailing shape (a copy).</summary>
    public int[] NormalizedShape => (int[])_normalizedShape.Clone();

    /// <summary>The epsilon, or null for the dtype's machine epsilon.</summary>
    public double? Eps { get; }

    /// <summary>Whether the layer has a learnable weight.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>The scale (parameter <c>weight</c>), or null.</summary>
    public Tensor? Weight => GetParameter("weight");

    /// <summary>Normalises over the trailing dims.</summary>
    public override Tensor Forward(Tensor input) => F.RmsNorm(input, _normalizedShape, Weight, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{PyTuple(_normalizedShape)}, eps={(Eps is { } e ? Py(e) : "None")}, elementwise_affine={Py(ElementwiseAffine)}";
}
