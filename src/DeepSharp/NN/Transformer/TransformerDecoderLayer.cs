namespace DeepSharp.NN;

/// <summary>
/// One Transformer decoder block (<c>nn.TransformerDecoderLayer</c>): (masked) self-attention over the target,
/// cross-attention from the target to the encoder's output (the memory), and a feed-forward network, each inside a
/// residual connection with LayerNorm.
/// </summary>
/// <remarks>
/// <para>Post-LN: x = norm1(x + SA(x)); x = norm2(x + MHA(x, mem)); x = norm3(x + FF(x)). Pre-LN:
/// x = x + SA(norm1(x)); x = x + MHA(norm2(x), mem); x = x + FF(norm3(x)).</para>
/// <para>For causal (autoregressive) self-attention pass <c>tgtMask</c> =
/// <see cref="Transformer.GenerateSquareSubsequentMask"/> (as in PyTorch), or <c>tgtIsCausal: true</c> without a mask.</para>
/// <para>Children, in PyTorch's order: <c>self_attn</c>, <c>multihead_attn</c> (cross-attention), <c>linear1</c>,
/// <c>dropout</c>, <c>linear2</c>, <c>norm1</c>, <c>norm2</c>, <c>norm3</c>, <c>dropout1</c>, <c>dropout2</c>, <c>dropout3</c>.</para>
/// </remarks>
public sealed class TransformerDecoderLayer : Module<Tensor, Tensor, Tensor>
{
    private readonly MultiheadAttention _selfAttn;
    private readonly MultiheadAttention _multiheadAttn;
    private readonly Linear _linear1;
    private readonly Dropout _dropout;
    private readonly Linear _linear2;
    private readonly LayerNorm _norm1;
    private readonly LayerNorm _norm2;
    private readonly LayerNorm _norm3;
    private readonly Dropout _dropout1;
    private readonly Dropout _dropout2;
    private readonly Dropout _dropout3;
    private readonly TransformerLayerSettings _settings;

    /// <summary>Creates the block.</summary>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="nHead">The number of attention heads.</param>
    /// <param name="dimFeedforward">The hidden dim of the feed-forward network.</param>
    /// <param name="dropout">Dropout probability.</param>
    /// <param name="activation">"relu" or "gelu" (exact).</param>
    /// <param name="layerNormEps">LayerNorm epsilon.</param>
    /// <param name="batchFirst">Inputs are [N, T, E] instead of [T, N, E].</param>
    /// <param name="normFirst">Pre-LN (true) or post-LN (false).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for initialisation and dropout.</param>
    public TransformerDecoderLayer(int dModel, int nHead, int dimFeedforward = 2048, double dropout = 0.1, string activation = "relu",
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
        : this(TransformerLayerSettings.Create("TransformerDecoderLayer", dModel, nHead, dimFeedforward, dropout, activation, layerNormEps, batchFirst,
            normFirst, dtype, generator))
    { }

    private TransformerDecoderLayer(TransformerLayerSettings s)
    {
        _settings = s;
        _selfAttn = RegisterModule("self_attn", s.NewAttention());
        _multiheadAttn = RegisterModule("multihead_attn", s.NewAttention());
        _linear1 = RegisterModule("linear1", s.NewLinear1());
        _dropout = RegisterModule("dropout", s.NewDropout());
        _linear2 = RegisterModule("linear2", s.NewLinear2());
        _norm1 = RegisterModule("norm1", s.NewNorm());
        _norm2 = RegisterModule("norm2", s.NewNorm());
        _norm3 = RegisterModule("norm3", s.NewNorm());
        _dropout1 = RegisterModule("dropout1", s.NewDropout());
        _dropout2 = RegisterModule("dropout2", s.NewDropout());
        _dropout3 = RegisterModule("dropout3", s.NewDropout());
    }

    /// <summary>The model dim E.</summary>
    public int DModel => _settings.DModel;

    /// <summary>The number of heads.</summary>
    public int NHead => _settings.NHead;

    /// <summary>The feed-forward hidden dim.</summary>
    public int DimFeedforward => _settings.DimFeedforward;

    /// <summary>The dropout probability.</summary>
    public double DropoutP => _settings.Dropout;

    /// <summary>"relu" or "gelu".</summary>
    public string Activation => _settings.Activation;

    /// <summary>The LayerNorm epsilon.</summary>
    public double LayerNormEps => _settings.LayerNormEps;

    /// <summary>Whether inputs are [N, T, E].</summary>
    public bool BatchFirst => _settings.BatchFirst;

    /// <summary>Pre-LN (true) or post-LN (false).</summary>
    public bool NormFirst => _settings.NormFirst;

    /// <summary>The self-attention over the target (child <c>self_attn</c>).</summary>
    public MultiheadAttention SelfAttn => _selfAttn;

    /// <summary>The cross-attention to the memory (child <c>multihead_attn</c>).</summary>
    public MultiheadAttention MultiheadAttn => _multiheadAttn;

    /// <summary>The first feed-forward projection (child <c>linear1</c>).</summary>
    public Linear Linear1 => _linear1;

    /// <summary>The second feed-forward projection (child <c>linear2</c>).</summary>
    public Linear Linear2 => _linear2;

    /// <summary>LayerNorm of the self-attention sublayer (child <c>norm1</c>).</summary>
    public LayerNorm Norm1 => _norm1;

    /// <summary>LayerNorm of the cross-attention sublayer (child <c>norm2</c>).</summary>
    public LayerNorm Norm2 => _norm2;

    /// <summary>LayerNorm of the feed-forward sublayer (child <c>norm3</c>).</summary>
    public LayerNorm Norm3 => _norm3;

    private Dropout Drop => _dropout;
    private Dropout Drop1 => _dropout1;
    private Dropout Drop2 => _dropout2;
    private Dropout Drop3 => _dropout3;

    /// <summary>Decodes <paramref name="tgt"/> against <paramref name="memory"/> without masks.</summary>
    public override Tensor Forward(Tensor tgt, Tensor memory) => Forward(tgt, memory, null);

    /// <summary>Decodes (PyTorch's <c>forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask, tgt_is_causal, memory_is_causal)</c>).</summary>
    /// <param name="tgt">[T, N, E] ([N, T, E] with batchFirst).</param>
    /// <param name="memory">[S, N, E] ([N, S, E] with batchFirst), the encoder's output.</param>
    /// <param name="tgtMask">Self-attention mask [T, T] (e.g. the causal one) or [N·H, T, T].</param>
    /// <param name="memoryMask">Cross-attention mask [T, S] or [N·H, T, S].</param>
    /// <param name="tgtKeyPaddingMask">[N, T], true = padding.</param>
    /// <param name="memoryKeyPaddingMask">[N, S], true = padding.</param>
    /// <param name="tgtIsCausal">Causal self-attention when <paramref name="tgtMask"/> is null.</param>
    /// <param name="memoryIsCausal">Causal cross-attention when <paramref name="memoryMask"/> is null (needs T = S).</param>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null, bool tgtIsCausal = false, bool memoryIsCausal = false)
    {
        ArgumentNullException.ThrowIfNull(tgt);
        ArgumentNullException.ThrowIfNull(memory);
        var x = tgt;
        if (NormFirst)
        {
            x = x + SelfAttentionBlock(_norm1.Forward(x), tgtMask, tgtKeyPaddingMask, tgtIsCausal);
            x = x + CrossAttentionBlock(_norm2.Forward(x), memory, memoryMask, memoryKeyPaddingMask, memoryIsCausal);
            x = x + Drop3.Forward(FeedForward.Run(_norm3.Forward(x), Linear1, Linear2, Drop, Activation));
        }
        else
        {
            x = _norm1.Forward(x + SelfAttentionBlock(x, tgtMask, tgtKeyPaddingMask, tgtIsCausal));
            x = _norm2.Forward(x + CrossAttentionBlock(x, memory, memoryMask, memoryKeyPaddingMask, memoryIsCausal));
            x = _norm3.Forward(x + Drop3.Forward(FeedForward.Run(x, Linear1, Linear2, Drop, Activation)));
        }
        return x;
    }

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask, bool isCausal) =>
        Drop1.Forward(SelfAttn.Forward(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask, isCausal: isCausal).Output);

    private Tensor CrossAttentionBlock(Tensor x, Tensor mem, Tensor? mask, Tensor? keyPaddingMask, bool isCausal) =>
        Drop2.Forward(MultiheadAttn.Forward(x, mem, mem, keyPaddingMask, needWeights: false, attnMask: mask, isCausal: isCausal).Output);

    /// <summary>A copy with its own parameters (same values) and the same training mode, as PyTorch's deepcopy.</summary>
    internal TransformerDecoderLayer DeepCopy()
    {
        var copy = new TransformerDecoderLayer(_settings with { DType = Linear1.Weight.DType });
        copy.LoadStateDict(StateDict());
        copy.Train(IsTraining);
        return copy;
    }
}
