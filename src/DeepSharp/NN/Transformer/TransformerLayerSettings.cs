namespace DeepSharp.NN;

/// <summary>
/// The constructor arguments shared by <see cref="TransformerEncoderLayer"/> and <see cref="TransformerDecoderLayer"/>,
/// checked once, with factories for the children they both build (each call draws its initial values from
/// <see cref="Generator"/>, so the layers call them in PyTorch's child order).
/// </summary>
internal sealed record TransformerLayerSettings(int DModel, int NHead, int DimFeedforward, double Dropout, string Activation,
    double LayerNormEps, bool BatchFirst, bool NormFirst, DType DType, Generator? Generator)
{
    /// <summary>The settings after checking <paramref name="activation"/> ("relu" or "gelu"); <paramref name="layer"/> is named in the error.</summary>
    public static TransformerLayerSettings Create(string layer, int dModel, int nHead, int dimFeedforward, double dropout, string activation,
        double layerNormEps, bool batchFirst, bool normFirst, DType dtype, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(activation);
        if (activation is not ("relu" or "gelu"))
            throw new ArgumentException($"{layer}: activation should be \"relu\" or \"gelu\", not \"{activation}\".");
        return new(dModel, nHead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, dtype, generator);
    }

    /// <summary>A multi-head attention over the model dim (self- or cross-attention).</summary>
    public MultiheadAttention NewAttention() =>
        new(DModel, NHead, Dropout, bias: true, BatchFirst, dtype: DType, generator: Generator);

    /// <summary>The feed-forward network's first projection, dModel → dimFeedforward.</summary>
    public Linear NewLinear1() => new(DModel, DimFeedforward, true, DType, Generator);

    /// <summary>The feed-forward network's second projection, dimFeedforward → dModel.</summary>
    public Linear NewLinear2() => new(DimFeedforward, DModel, true, DType, Generator);

    /// <summary>A LayerNorm over the model dim.</summary>
    public LayerNorm NewNorm() => new(DModel, LayerNormEps, dtype: DType);

    /// <summary>A dropout with the layer's probability.</summary>
    public Dropout NewDropout() => new(Dropout, Generator);
}
