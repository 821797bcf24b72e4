namespace DeepSharp.NN;

/// <summary>
/// A lookup table of <c>numEmbeddings</c> vectors of size <c>embeddingDim</c> (<c>nn.Embedding</c>). The input is an
/// Int64 tensor of indices of any shape; the output appends the embedding dim. Initialised N(0, 1) as PyTorch; the
/// <c>paddingIdx</c> row, if any, is zero-initialised and receives no gradient.
/// </summary>
public sealed class Embedding : Module<Tensor, Tensor>
{
    /// <summary>Creates the table.</summary>
    /// <param name="numEmbeddings">Number of rows (the vocabulary size).</param>
    /// <param name="embeddingDim">Size of each vector.</param>
    /// <param name="paddingIdx">Optional padding row (negative counts from the end).</param>
    /// <param name="dtype">Element type of the weight.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (numEmbeddings < 0 || embeddingDim < 0)
            throw new ArgumentOutOfRangeException(nameof(numEmbeddings), $"Embedding: sizes must be non-negative, got {numEmbeddings} × {embeddingDim}.");
        if (paddingIdx is { } p)
        {
            if (p < -numEmbeddings || p >= numEmbeddings)
                throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: paddingIdx {p} must be within num_embeddings ({numEmbeddings}).");
            paddingIdx = p < 0 ? p + numEmbeddings : p;
        }
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIdx = paddingIdx;
        var w = RegisterParameter("weight", Tensor.Zeros([numEmbeddings, embeddingDim], dtype))!;
        Init.Normal(w, 0, 1, generator);
        if (paddingIdx is { } pad) Init.Zeros(w.Select(0, pad));
    }

    /// <summary>Number of rows.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Size of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The padding row (non-negative), or null.</summary>
    public int? PaddingIdx { get; }

    /// <summary>
    /// The table [numEmbeddings, embeddingDim] (parameter <c>weight</c>). Setting it registers another leaf tensor of the
    /// same shape in its place, e.g. to tie it to a <see cref="Linear"/> output layer's weight (see <see cref="Linear.Weight"/>).
    /// </summary>
    public Tensor Weight
    {
        get => GetParameter("weight")!;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!ShapeUtil.SameShape(value._shape, [NumEmbeddings, EmbeddingDim]))
                throw new ArgumentException($"Embedding.Weight: expected a weight of shape [{NumEmbeddings}, {EmbeddingDim}], got {ShapeUtil.Format(value._shape)}.");
            RegisterParameter("weight", value, value.RequiresGrad);
        }
    }

    /// <summary>Looks up the rows for Int64 <paramref name="input"/> of any shape.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Embedding(input, Weight, PaddingIdx));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}" + (PaddingIdx is { } p ? $", padding_idx={p}" : "");
}
