using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// Adds the fixed sinusoidal position encoding of "Attention is all you need" and applies dropout:
/// PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)) (as PyTorch's tutorial module).
/// </summary>
/// <remarks>The table [maxLen, dModel] is a non-persistent buffer <c>pe</c> (it is recomputed, not saved). Input
/// [S, N, E] (or [N, S, E] with <c>batchFirst</c>, or [S, E]); positions 0…S−1 are added to every batch entry.</remarks>
public sealed class PositionalEncoding : Module<Tensor, Tensor>
{
    private readonly Dropout _dropout;

    /// <summary>Creates the module.</summary>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="dropout">Dropout probability applied after the addition.</param>
    /// <param name="maxLen">The longest sequence supported.</param>
    /// <param name="batchFirst">Inputs are [N, S, E].</param>
    /// <param name="dtype">Element type of the table.</param>
    /// <param name="generator">Random source for dropout.</param>
    public PositionalEncoding(int dModel, double dropout = 0.1, int maxLen = 5000, bool batchFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (dModel <= 0 || maxLen <= 0) throw new ArgumentOutOfRangeException(nameof(dModel), $"PositionalEncoding: dModel and maxLen must be positive, got {dModel} and {maxLen}.");
        // Checked before the table is built (maxLen·dModel can be large); Dropout checks its probability.
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"PositionalEncoding: dtype must be floating-point, got {dtype}.");
        var drop = new Dropout(dropout, generator);
        DModel = dModel;
        MaxLen = maxLen;
        BatchFirst = batchFirst;
        RegisterBuffer("pe", Table(maxLen, dModel).To(dtype), persistent: false);
        _dropout = RegisterModule("dropout", drop);
    }

    /// <summary>The model dim.</summary>
    public int DModel { get; }

    /// <summary>The longest sequence supported.</summary>
    public int MaxLen { get; }

    /// <summary>Whether inputs are [N, S, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>The encoding table [maxLen, dModel] (buffer <c>pe</c>).</summary>
    public Tensor Pe => GetBuffer("pe")!;

    /// <summary>The sinusoidal table [maxLen, dModel] in float64.</summary>
    public static Tensor Table(int maxLen, int dModel)
    {
        if (maxLen <= 0 || dModel <= 0) throw new ArgumentOutOfRangeException(nameof(maxLen), $"PositionalEncoding: dModel and maxLen must be positive, got {dModel} and {maxLen}.");
        // Checked element count: maxLen·dModel can overflow an int (the fuzz test found it).
        var data = new double[ShapeUtil.Numel([maxLen, dModel])];
        FillKernels.SinusoidalTable(data, maxLen, dModel);
        return Tensor.FromArray(data, maxLen, dModel);
    }

    /// <summary>x + PE[positions], then dropout.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (2 or 3) || input._shape[^1] != DModel)
            throw new ArgumentException($"PositionalEncoding: expected [S, N, {DModel}], [N, S, {DModel}] or [S, {DModel}], got {ShapeUtil.Format(input._shape)}.");
        int seqDim = input.Dim == 3 && BatchFirst ? 1 : 0;
        int s = input._shape[seqDim];
        if (s > MaxLen) throw new ArgumentException($"PositionalEncoding: sequence length {s} exceeds maxLen {MaxLen}.");
        var pe = Pe.Narrow(0, 0, s);
        if (pe.DType != input.DType) pe = pe.To(input.DType);
        if (input.Dim == 3 && !BatchFirst) pe = pe.Unsqueeze(1); // [S, 1, E]
        return _dropout.Forward(input + pe);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"d_model={DModel}, max_len={MaxLen}";
}

/// <summary>
/// A learned absolute position embedding (as in BERT/GPT): a trainable table <c>weight</c> [maxLen, dModel]
/// (initialised N(0, 1), as <c>nn.Embedding</c>) whose first S rows are added to an input of length S, then dropout.
/// </summary>
public sealed class LearnedPositionalEmbedding : Module<Tensor, Tensor>
{
    private readonly Dropout _dropout;

    /// <summary>Creates the module.</summary>
    /// <param name="maxLen">The longest sequence supported (rows of the table).</param>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="dropout">Dropout probability applied after the addition.</param>
    /// <param name="batchFirst">Inputs are [N, S, E] instead of [S, N, E].</param>
    /// <param name="dtype">Element type of the table.</param>
    /// <param name="generator">Random source for initialisation and dropout.</param>
    public LearnedPositionalEmbedding(int maxLen, int dModel, double dropout = 0, bool batchFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (dModel <= 0 || maxLen <= 0) throw new ArgumentOutOfRangeException(nameof(dModel), $"LearnedPositionalEmbedding: dModel and maxLen must be positive, got {dModel} and {maxLen}.");
        MaxLen = maxLen;
        DModel = dModel;
        BatchFirst = batchFirst;
        Init.Normal(RegisterParameter("weight", Tensor.Zeros([maxLen, dModel], dtype))!, 0, 1, generator);
        _dropout = RegisterModule("dropout", new Dropout(dropout, generator));
    }

    /// <summary>The longest sequence supported.</summary>
    public int MaxLen { get; }

    /// <summary>The model dim.</summary>
    public int DModel { get; }

    /// <summary>Whether inputs are [N, S, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>The table [maxLen, dModel] (parameter <c>weight</c>).</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>x + weight[0…S−1] (broadcast over the batch), then dropout.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (2 or 3) || input._shape[^1] != DModel)
            throw new ArgumentException($"LearnedPositionalEmbedding: expected [S, N, {DModel}], [N, S, {DModel}] or [S, {DModel}], got {ShapeUtil.Format(input._shape)}.");
        int seqDim = input.Dim == 3 && BatchFirst ? 1 : 0;
        int s = input._shape[seqDim];
        if (s > MaxLen) throw new ArgumentException($"LearnedPositionalEmbedding: sequence length {s} exceeds maxLen {MaxLen}.");
        var pe = Weight.Narrow(0, 0, s);
        if (input.Dim == 3 && !BatchFirst) pe = pe.Unsqueeze(1);
        return _dropout.Forward(input + pe);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{MaxLen}, {DModel}";
}

/// <summary>
/// Token embedding scaled by √dModel, as the Transformer's input embedding ("we multiply those weights by √d_model"):
/// an <see cref="Embedding"/> (child <c>embedding</c>, so the table is <c>embedding.weight</c>) of Int64 token ids of
/// any shape, times √dModel.
/// </summary>
public sealed class TokenEmbedding : Module<Tensor, Tensor>
{
    private readonly Embedding _embedding;

    /// <summary>Creates the module.</summary>
    /// <param name="vocabSize">The number of tokens.</param>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="paddingIdx">Optional padding token (zero row, no gradient).</param>
    /// <param name="dtype">Element type of the table.</param>
    /// <param name="generator">Random source for initialisation.</param>
    public TokenEmbedding(int vocabSize, int dModel, int? paddingIdx = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        DModel = dModel;
        _embedding = RegisterModule("embedding", new Embedding(vocabSize, dModel, paddingIdx, dtype, generator));
    }

    /// <summary>The model dim.</summary>
    public int DModel { get; }

    /// <summary>The lookup table (child <c>embedding</c>).</summary>
    public Embedding Embedding => _embedding;

    /// <summary>embedding(tokens)·√dModel; the output appends a dim of size dModel.</summary>
    public override Tensor Forward(Tensor input) => Embedding.Forward(input) * Math.Sqrt(DModel);
}
