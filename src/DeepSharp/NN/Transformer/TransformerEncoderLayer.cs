namespace DeepSharp.NN;

/// <summary>
/// One Transformer encoder block (<c>nn.TransformerEncoderLayer</c>): self-attention then a position-wise
/// feed-forward network, each inside a residual connection with LayerNorm.
/// </summary>
/// <remarks>
/// <para>Post-LN (<c>normFirst</c> false, the original Transformer): x = norm1(x + SA(x)); x = norm2(x + FF(x)).
/// Pre-LN (<c>normFirst</c> true): x = x + SA(norm1(x)); x = x + FF(norm2(x)) — its output is not normalised, so a
/// pre-LN stack needs a final LayerNorm (<see cref="TransformerEncoder"/>'s <c>norm</c>).
/// SA(x) = dropout1(self_attn(x, x, x)); FF(x) = dropout2(linear2(dropout(activation(linear1(x))))).</para>
/// <para>Children, in PyTorch's order and names: <c>self_attn</c> (<see cref="MultiheadAttention"/>), <c>linear1</c>
/// [dimFeedforward, dModel], <c>dropout</c>, <c>linear2</c> [dModel, dimFeedforward], <c>norm1</c>, <c>norm2</c>,
/// <c>dropout1</c>, <c>dropout2</c>; so the state dict keys are <c>self_attn.in_proj_weight</c>, <c>self_attn.in_proj_bias</c>,
/// <c>self_attn.out_proj.weight</c>, <c>self_attn.out_proj.bias</c>, <c>linear1.weight</c>, <c>linear1.bias</c>,
/// <c>linear2.weight</c>, <c>linear2.bias</c>, <c>norm1.weight</c>, <c>norm1.bias</c>, <c>norm2.weight</c>, <c>norm2.bias</c>.</para>
/// </remarks>
public sealed class TransformerEncoderLayer : Module<Tensor, Tensor>
{
    private readonly MultiheadAttention _selfAttn;
    private readonly Linear _linear1;
    private readonly Dropout _dropout;
    private readonly Linear _linear2;
    private readonly LayerNorm _norm1;
    private readonly LayerNorm _norm2;
    private readonly Dropout _dropout1;
    private readonly Dropout _dropout2;
    private readonly TransformerLayerSettings _settings;

    /// <summary>Creates the block.</summary>
    /// <param name="dModel">The model dim E.</param>
    /// <param name="nHead">The number of attention heads.</param>
    /// <param name="dimFeedforward">The hidden dim of the feed-forward network.</param>
    /// <param name="dropout">Dropout probability (attention weights, feed-forward hidden, both residual branches).</param>
    /// <param name="activation">"relu" or "gelu" (exact).</param>
    /// <param name="layerNormEps">LayerNorm epsilon.</param>
    /// <param name="batchFirst">Inputs are [N, S, E] instead of [S, N, E].</param>
    /// <param name="normFirst">Pre-LN (true) or post-LN (false).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for initialisation and dropout.</param>
    public TransformerEncoderLayer(int dModel, int nHead, int dimFeedforward = 2048, double dropout = 0.1, string activation = "relu",
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
        : this(TransformerLayerSettings.Create("TransformerEncoderLayer", dModel, nHead, dimFeedforward, dropout, activation, layerNormEps, batchFirst,
            normFirst, dtype, generator))
    { }

    private TransformerEncoderLayer(TransformerLayerSettings s)
    {
        _settings = s;
        _selfAttn = RegisterModule("self_attn", s.NewAttention());
        _linear1 = RegisterModule("linear1", s.NewLinear1());
        _dropout = RegisterModule("dropout", s.NewDropout());
        _linear2 = RegisterModule("linear2", s.NewLinear2());
        _norm1 = RegisterModule("norm1", s.NewNorm());
        _norm2 = RegisterModule("norm2", s.NewNorm());
        _dropout1 = RegisterModule("dropout1", s.NewDropout());
        _dropout2 = RegisterModule("dropout2", s.NewDropout());
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

    /// <summary>Whether inputs are [N, S, E].</summary>
    public bool BatchFirst => _settings.BatchFirst;

    /// <summary>Pre-LN (true) or post-LN (false).</summary>
    public bool NormFirst => _settings.NormFirst;

    /// <summary>The self-attention (child <c>self_attn</c>).</summary>
    public MultiheadAttention SelfAttn => _selfAttn;

    /// <summary>The first feed-forward projection (child <c>linear1</c>).</summary>
    public Linear Linear1 => _linear1;

    /// <summary>The second feed-forward projection (child <c>linear2</c>).</summary>
    public Linear Linear2 => _linear2;

    /// <summary>The LayerNorm of the attention sublayer (child <c>norm1</c>).</summary>
    public LayerNorm Norm1 => _norm1;

    /// <summary>The LayerNorm of the feed-forward sublayer (child <c>norm2</c>).</summary>
    public LayerNorm Norm2 => _norm2;

    private Dropout Drop => _dropout;
    private Dropout Drop1 => _dropout1;
    private Dropout Drop2 => _dropout2;

    /// <summary>Encodes <paramref name="src"/> without masks.</summary>
    public override Tensor Forward(Tensor src) => Forward(src, null, null, false);

    /// <summary>Encodes <paramref name="src"/> (PyTorch's <c>forward(src, src_mask, src_key_padding_mask, is_causal)</c>).</summary>
    /// <param name="src">[S, N, E] ([N, S, E] with batchFirst; [S, E] unbatched).</param>
    /// <param name="srcMask">Attention mask [S, S] or [N·H, S, S], Bool (true = not allowed) or additive float.</param>
    /// <param name="srcKeyPaddingMask">[N, S], Bool (true = padding) or additive float.</param>
    /// <param name="isCausal">Use the causal mask when <paramref name="srcMask"/> is null.</param>
    public Tensor Forward(Tensor src, Tensor? srcMask, Tensor? srcKeyPaddingMask = null, bool isCausal = false)
    {
        ArgumentNullException.ThrowIfNull(src);
        var x = src;
        if (NormFirst)
        {
            x = x + SelfAttentionBlock(_norm1.Forward(x), srcMask, srcKeyPaddingMask, isCausal);
            x = x + FeedForwardBlock(_norm2.Forward(x));
        }
        else
        {
            x = _norm1.Forward(x + SelfAttentionBlock(x, srcMask, srcKeyPaddingMask, isCausal));
            x = _norm2.Forward(x + FeedForwardBlock(x));
        }
        return x;
    }

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask, bool isCausal) =>
        Drop1.Forward(SelfAttn.Forward(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask, isCausal: isCausal).Output);

    private Tensor FeedForwardBlock(Tensor x) => Drop2.Forward(FeedForward.Run(x, Linear1, Linear2, Drop, Activation));

    /// <summary>A copy with its own parameters (same values) and the same training mode, as PyTorch's deepcopy.</summary>
    internal TransformerEncoderLayer DeepCopy()
    {
        var copy = new TransformerEncoderLayer(_settings with { DType = Linear1.Weight.DType });
        copy.LoadStateDict(StateDict());
        copy.Train(IsTraining);
        return copy;
    }
}

/// <summary>The position-wise feed-forward network shared by the encoder and decoder layers.</summary>
internal static class FeedForward
{
    /// <summary>linear2(dropout(activation(linear1(x)))); a ReLU is fused into linear1's bias pass.</summary>
    public static Tensor Run(Tensor x, Linear linear1, Linear linear2, Dropout dropout, string activation)
    {
        var h = activation == "gelu" ? F.Gelu(linear1.Forward(x)) : linear1.ForwardRelu(x);
        return linear2.Forward(dropout.Forward(h));
    }
}
