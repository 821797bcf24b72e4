namespace DeepSharp.NN;

/// <summary>
/// A stack of encoder blocks (<c>nn.TransformerEncoder</c>), each a deep copy of the given block with its own
/// parameters (PyTorch's <c>_get_clones</c>; the given block itself is not part of the stack), followed by an optional
/// final LayerNorm — which a pre-LN stack needs, since its blocks do not normalise their output.
/// Children: <c>layers.0</c> … <c>layers.{numLayers−1}</c>, then <c>norm</c>.
/// </summary>
public sealed class TransformerEncoder : Module<Tensor, Tensor>
{
    private readonly ModuleList<TransformerEncoderLayer> _layers;
    private readonly LayerNorm? _norm;

    /// <summary>Creates the stack.</summary>
    /// <param name="encoderLayer">The block to copy.</param>
    /// <param name="numLayers">How many copies.</param>
    /// <param name="norm">The final normalisation, or null.</param>
    public TransformerEncoder(TransformerEncoderLayer encoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(encoderLayer);
        if (numLayers < 0) throw new ArgumentOutOfRangeException(nameof(numLayers), $"TransformerEncoder: numLayers must be non-negative, got {numLayers}.");
        _layers = RegisterModule("layers", new ModuleList<TransformerEncoderLayer>());
        for (int i = 0; i < numLayers; i++) _layers.Add(encoderLayer.DeepCopy());
        _norm = RegisterModule("norm", norm);
    }

    /// <summary>The blocks (child <c>layers</c>).</summary>
    public ModuleList<TransformerEncoderLayer> Layers => _layers;

    /// <summary>The number of blocks.</summary>
    public int NumLayers => Layers.Count;

    /// <summary>The final normalisation (child <c>norm</c>), or null.</summary>
    public LayerNorm? Norm => _norm;

    /// <summary>Encodes <paramref name="src"/> without masks.</summary>
    public override Tensor Forward(Tensor src) => Forward(src, null);

    /// <summary>Passes <paramref name="src"/> through every block, then the final norm
    /// (PyTorch's <c>forward(src, mask, src_key_padding_mask, is_causal)</c>).</summary>
    /// <param name="src">[S, N, E] ([N, S, E] when the blocks are batch-first).</param>
    /// <param name="mask">Attention mask [S, S] or [N·H, S, S].</param>
    /// <param name="srcKeyPaddingMask">[N, S], true = padding.</param>
    /// <param name="isCausal">Causal self-attention when <paramref name="mask"/> is null.</param>
    public Tensor Forward(Tensor src, Tensor? mask, Tensor? srcKeyPaddingMask = null, bool isCausal = false)
    {
        ArgumentNullException.ThrowIfNull(src);
        var x = src;
        foreach (var layer in Layers) x = layer.Forward(x, mask, srcKeyPaddingMask, isCausal);
        return _norm is { } n ? n.Forward(x) : x;
    }
}

/// <summary>
/// A stack of decoder blocks (<c>nn.TransformerDecoder</c>), deep copies of the given block, then an optional final
/// LayerNorm. Children: <c>layers.0</c> …, then <c>norm</c>.
/// </summary>
public sealed class TransformerDecoder : Module<Tensor, Tensor, Tensor>
{
    private readonly ModuleList<TransformerDecoderLayer> _layers;
    private readonly LayerNorm? _norm;

    /// <summary>Creates the stack.</summary>
    /// <param name="decoderLayer">The block to copy.</param>
    /// <param name="numLayers">How many copies.</param>
    /// <param name="norm">The final normalisation, or null.</param>
    public TransformerDecoder(TransformerDecoderLayer decoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(decoderLayer);
        if (numLayers < 0) throw new ArgumentOutOfRangeException(nameof(numLayers), $"TransformerDecoder: numLayers must be non-negative, got {numLayers}.");
        _layers = RegisterModule("layers", new ModuleList<TransformerDecoderLayer>());
        for (int i = 0; i < numLayers; i++) _layers.Add(decoderLayer.DeepCopy());
        _norm = RegisterModule("norm", norm);
    }

    /// <summary>The blocks (child <c>layers</c>).</summary>
    public ModuleList<TransformerDecoderLayer> Layers => _layers;

    /// <summary>The number of blocks.</summary>
    public int NumLayers => Layers.Count;

    /// <summary>The final normalisation (child <c>norm</c>), or null.</summary>
    public LayerNorm? Norm => _norm;

    /// <summary>Decodes without masks.</summary>
    public override Tensor Forward(Tensor tgt, Tensor memory) => Forward(tgt, memory, null);

    /// <summary>Passes <paramref name="tgt"/> through every block (each attending to <paramref name="memory"/>), then the
    /// final norm (PyTorch's <c>forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)</c>).</summary>
    /// <param name="tgt">[T, N, E] ([N, T, E] when batch-first).</param>
    /// <param name="memory">[S, N, E] ([N, S, E] when batch-first).</param>
    /// <param name="tgtMask">Self-attention mask [T, T] or [N·H, T, T].</param>
    /// <param name="memoryMask">Cross-attention mask [T, S] or [N·H, T, S].</param>
    /// <param name="tgtKeyPaddingMask">[N, T], true = padding.</param>
    /// <param name="memoryKeyPaddingMask">[N, S], true = padding.</param>
    /// <param name="tgtIsCausal">Causal self-attention when <paramref name="tgtMask"/> is null.</param>
    /// <param name="memoryIsCausal">Causal cross-attention when <paramref name="memoryMask"/> is null.</param>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null, bool tgtIsCausal = false, bool memoryIsCausal = false)
    {
        ArgumentNullException.ThrowIfNull(tgt);
        var x = tgt;
        foreach (var layer in Layers)
            x = layer.Forward(x, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal);
        return _norm is { } n ? n.Forward(x) : x;
    }
}

/// <summary>
/// The encoder-decoder Transformer of "Attention is all you need" (<c>nn.Transformer</c>), with PyTorch's defaults:
/// d_model 512, 8 heads, 6 encoder and 6 decoder blocks, feed-forward 2048, dropout 0.1, ReLU, post-LN, and a final
/// LayerNorm after both stacks (children <c>encoder</c> with <c>encoder.layers.i…</c>, <c>encoder.norm</c>;
/// <c>decoder</c> with <c>decoder.layers.i…</c>, <c>decoder.norm</c>). As PyTorch, every parameter of rank &gt; 1 is
/// re-initialised Xavier-uniform after construction, so the copied blocks start from different weights.
/// </summary>
public sealed class Transformer : Module<Tensor, Tensor, Tensor>
{
    private readonly TransformerEncoder _encoder;
    private readonly TransformerDecoder _decoder;

    /// <summary>Creates the model.</summary>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="nHead">The number of heads.</param>
    /// <param name="numEncoderLayers">Encoder blocks.</param>
    /// <param name="numDecoderLayers">Decoder blocks.</param>
    /// <param name="dimFeedforward">Feed-forward hidden dim.</param>
    /// <param name="dropout">Dropout probability.</param>
    /// <param name="activation">"relu" or "gelu".</param>
    /// <param name="layerNormEps">LayerNorm epsilon.</param>
    /// <param name="batchFirst">Inputs are [N, S, E] instead of [S, N, E].</param>
    /// <param name="normFirst">Pre-LN blocks.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for initialisation and dropout.</param>
    public Transformer(int dModel = 512, int nHead = 8, int numEncoderLayers = 6, int numDecoderLayers = 6, int dimFeedforward = 2048,
        double dropout = 0.1, string activation = "relu", double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        // Checked before anything is built: a bad decoder count must not first cost the encoder stack's allocation.
        if (numEncoderLayers < 0 || numDecoderLayers < 0)
            throw new ArgumentOutOfRangeException(numEncoderLayers < 0 ? nameof(numEncoderLayers) : nameof(numDecoderLayers),
                $"Transformer: numEncoderLayers and numDecoderLayers must be non-negative, got {numEncoderLayers} and {numDecoderLayers}.");
        DModel = dModel;
        NHead = nHead;
        BatchFirst = batchFirst;
        var encLayer = new TransformerEncoderLayer(dModel, nHead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, dtype, generator);
        _encoder = RegisterModule("encoder", new TransformerEncoder(encLayer, numEncoderLayers, new LayerNorm(dModel, layerNormEps, dtype: dtype)));
        var decLayer = new TransformerDecoderLayer(dModel, nHead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, dtype, generator);
        _decoder = RegisterModule("decoder", new TransformerDecoder(decLayer, numDecoderLayers, new LayerNorm(dModel, layerNormEps, dtype: dtype)));
        foreach (var p in Parameters())
            if (p.Dim > 1) Init.XavierUniform(p, generator: generator);
    }

    /// <summary>The model dim E.</summary>
    public int DModel { get; }

    /// <summary>The number of heads.</summary>
    public int NHead { get; }

    /// <summary>Whether inputs are [N, S, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>The encoder stack (child <c>encoder</c>).</summary>
    public TransformerEncoder Encoder => _encoder;

    /// <summary>The decoder stack (child <c>decoder</c>).</summary>
    public TransformerDecoder Decoder => _decoder;

    /// <summary>Runs without masks.</summary>
    public override Tensor Forward(Tensor src, Tensor tgt) => Forward(src, tgt, null);

    /// <summary>Encodes <paramref name="src"/> and decodes <paramref name="tgt"/> against it (PyTorch's
    /// <c>forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask)</c>).</summary>
    /// <param name="src">[S, N, E] ([N, S, E] with batchFirst).</param>
    /// <param name="tgt">[T, N, E] ([N, T, E] with batchFirst).</param>
    /// <param name="srcMask">Encoder self-attention mask [S, S].</param>
    /// <param name="tgtMask">Decoder self-attention mask [T, T], usually <see cref="GenerateSquareSubsequentMask"/>(T).</param>
    /// <param name="memoryMask">Cross-attention mask [T, S].</param>
    /// <param name="srcKeyPaddingMask">[N, S], true = padding.</param>
    /// <param name="tgtKeyPaddingMask">[N, T], true = padding.</param>
    /// <param name="memoryKeyPaddingMask">[N, S], true = padding (usually the same as <paramref name="srcKeyPaddingMask"/>).</param>
    /// <returns>[T, N, E] ([N, T, E] with batchFirst).</returns>
    public Tensor Forward(Tensor src, Tensor tgt, Tensor? srcMask, Tensor? tgtMask = null, Tensor? memoryMask = null,
        Tensor? srcKeyPaddingMask = null, Tensor? tgtKeyPaddingMask = null, Tensor? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentNullException.ThrowIfNull(tgt);
        if (src.Dim is not (2 or 3) || tgt.Dim != src.Dim)
            throw new ArgumentException($"Transformer: src and tgt must both be 2-D (unbatched) or both 3-D (batched), got {ShapeUtil.Format(src._shape)} and {ShapeUtil.Format(tgt._shape)}.");
        bool batched = src.Dim == 3;
        if (batched)
        {
            int bd = BatchFirst ? 0 : 1;
            if (src._shape[bd] != tgt._shape[bd])
                throw new ArgumentException($"Transformer: the batch number of src and tgt must be equal, got {ShapeUtil.Format(src._shape)} and {ShapeUtil.Format(tgt._shape)}.");
        }
        if (src._shape[^1] != DModel || tgt._shape[^1] != DModel)
            throw new ArgumentException($"Transformer: the feature number of src and tgt must be equal to dModel = {DModel}, got {ShapeUtil.Format(src._shape)} and {ShapeUtil.Format(tgt._shape)}.");
        var memory = Encoder.Forward(src, srcMask, srcKeyPaddingMask);
        return Decoder.Forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
    }

    /// <summary>The causal mask (PyTorch's <c>generate_square_subsequent_mask</c>): a float [size, size] tensor with −∞
    /// above the diagonal (position i may not attend to j &gt; i) and 0 elsewhere.</summary>
    /// <param name="size">The sequence length.</param>
    /// <param name="dtype">The float type of the mask.</param>
    public static Tensor GenerateSquareSubsequentMask(int size, DType dtype = DType.Float32)
    {
        if (size < 0) throw new ArgumentOutOfRangeException(nameof(size), $"GenerateSquareSubsequentMask: size must be non-negative, got {size}.");
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"GenerateSquareSubsequentMask: dtype must be floating-point, got {dtype}.");
        return MultiheadAttention.CausalMask(size, dtype);
    }
}
