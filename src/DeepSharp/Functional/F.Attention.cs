namespace DeepSharp.NN;

public static partial class F
{
    /// <summary>
    /// Scaled dot-product attention (<c>F.scaled_dot_product_attention</c>): softmax(Q·Kᵀ·scale + mask)·V.
    /// </summary>
    /// <remarks>
    /// <para>Without dropout it runs one fused kernel in the manner of FlashAttention (online softmax over blocks of keys,
    /// no [L, S] matrix in memory, causal blocks above the diagonal skipped, a fused backward); MultiheadAttention and the
    /// Transformer layers use the same path. With <paramref name="dropoutP"/> &gt; 0, or a float mask that requires a
    /// gradient, it runs the math form (scores, softmax, dropout, product), as PyTorch does on the CPU.</para>
    /// <para>A query row whose every key is masked out gets zeros (PyTorch returns NaN there); other rows are unaffected.</para>
    /// </remarks>
    /// <param name="query">[…, L, E].</param>
    /// <param name="key">[…, S, E] (the same leading dims as the query).</param>
    /// <param name="value">[…, S, Ev].</param>
    /// <param name="attnMask">Broadcastable to […, L, S]: Bool, where <b>true means the position takes part</b> (as
    /// PyTorch's SDPA; the opposite of MultiheadAttention's Bool masks), or a float mask added to the scores.</param>
    /// <param name="dropoutP">Dropout probability on the attention weights, applied whenever it is above 0 (pass 0 in
    /// evaluation, as PyTorch's modules do).</param>
    /// <param name="isCausal">Key j may be attended from query i only when j ≤ i (top-left aligned). Not together with
    /// <paramref name="attnMask"/>.</param>
    /// <param name="scale">The score scale; 1/√E when null.</param>
    /// <param name="generator">Random source for the dropout.</param>
    /// <returns>[…, L, Ev].</returns>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null,
        double dropoutP = 0.0, bool isCausal = false, double? scale = null, Generator? generator = null)
    {
        const string op = "ScaledDotProductAttention";
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        query.CheckFloating(op);
        Tensor.CheckSameDType(query, key, op);
        Tensor.CheckSameDType(query, value, op);
        int rank = query.Dim;
        if (rank < 2 || key.Dim != rank || value.Dim != rank)
            throw new ArgumentException($"{op}: query, key and value must have the same rank ≥ 2 ([…, L, E], […, S, E], […, S, Ev]), got {S(query)}, {S(key)} and {S(value)}.");
        for (int i = 0; i < rank - 2; i++)
            if (key._shape[i] != query._shape[i] || value._shape[i] != query._shape[i])
                throw new ArgumentException($"{op}: query, key and value must have the same leading (batch) dims, got {S(query)}, {S(key)} and {S(value)}.");
        int l = query._shape[^2], e = query._shape[^1], s = key._shape[^2];
        if (key._shape[^1] != e)
            throw new ArgumentException($"{op}: the query's and key's last dims must match (E), got {S(query)} and {S(key)}.");
        if (value._shape[^2] != s)
            throw new ArgumentException($"{op}: key and value must have the same sequence length S, got {S(key)} and {S(value)}.");
        if (!(dropoutP >= 0 && dropoutP < 1))
            throw new ArgumentOutOfRangeException(nameof(dropoutP), $"{op}: dropoutP must be in [0, 1), got {dropoutP}.");
        if (isCausal && attnMask is not null)
            throw new ArgumentException($"{op}: pass either attnMask or isCausal, not both (as PyTorch).");
        double sc = scale ?? 1.0 / Math.Sqrt(e);
        if (!double.IsFinite(sc)) throw new ArgumentOutOfRangeException(nameof(scale), $"{op}: scale must be finite, got {sc}.");

        // Leading dims → [N, H]: up to two as they are, more flattened into N.
        int[] lead = query._shape[..^2];
        Tensor q = To4D(query), k = To4D(key), v = To4D(value);
        Tensor? mask = null;
        if (attnMask is not null)
        {
            mask = Additive(attnMask, query.DType, op);
            int[] full = [.. lead, l, s];
            ShapeUtil.Broadcast(mask._shape, full, op);
            if (!ShapeUtil.SameShape(ShapeUtil.Broadcast(mask._shape, full, op), full))
                throw new ArgumentException($"{op}: attnMask {S(mask)} must be broadcastable to [{string.Join(", ", full)}] (the scores' shape).");
            mask = lead.Length <= 2 ? Unsqueezed(mask, 4) : mask.Expand(full).Reshape(-1, 1, l, s);
        }

        Tensor output = dropoutP > 0 || mask is { RequiresGrad: true }
            ? Tensor.AttentionMath(q, k, v, mask, isCausal, sc, dropoutP, generator)
            : Tensor.FusedAttention(q, k, v, mask, isCausal, sc);
        return output.Reshape([.. lead, l, value._shape[^1]]);

        Tensor To4D(Tensor t) => lead.Length <= 2 ? Unsqueezed(t, 4) : t.Reshape(-1, 1, t._shape[^2], t._shape[^1]);
    }

    /// <summary><paramref name="t"/> with leading size-1 dims added up to <paramref name="rank"/> (a view).</summary>
    private static Tensor Unsqueezed(Tensor t, int rank)
    {
        while (t.Dim < rank) t = t.Unsqueeze(0);
        return t;
    }

    /// <summary>A Bool mask (true = take part) as an additive float mask (−∞ where false), or a float mask as it is.</summary>
    private static Tensor Additive(Tensor mask, DType dtype, string op)
    {
        if (mask.DType == DType.Bool)
        {
            using (GradMode.Set(false)) return Tensor.Zeros(mask._shape, dtype).MaskedFill(mask.LogicalNot(), double.NegativeInfinity);
        }
        if (!mask.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: attnMask must be Bool or floating-point, got {mask.DType}.");
        if (mask.DType != dtype)
            throw new ArgumentException($"{op}: a float attnMask must have the query's dtype {dtype}, got {mask.DType}.");
        return mask;
    }

    private static string S(Tensor t) => ShapeUtil.Format(t._shape);
}
