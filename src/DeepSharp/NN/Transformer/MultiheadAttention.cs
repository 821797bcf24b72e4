using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// Multi-head scaled dot-product attention (<c>nn.MultiheadAttention</c>):
/// softmax(Q·Kᵀ/√d + mask)·V per head, with input projections and an output projection.
/// </summary>
/// <remarks>
/// <para><b>Parameters</b> (names and layouts as PyTorch's, so its state dicts load): <c>in_proj_weight</c> [3E, E]
/// (rows 0…E−1 project the query, E…2E−1 the key, 2E…3E−1 the value; Xavier-uniform) when the key and value
/// dims equal E, otherwise <c>q_proj_weight</c> [E, E], <c>k_proj_weight</c> [E, kdim], <c>v_proj_weight</c>
/// [E, vdim]; <c>in_proj_bias</c> [3E] (zeros) when <c>bias</c>; <c>out_proj.weight</c> [E, E], <c>out_proj.bias</c>
/// [E] (zeros).</para>
/// <para><b>Shapes.</b> query [L, N, E] (or [N, L, E] with <c>batchFirst</c>, or unbatched [L, E]); key [S, N, kdim];
/// value [S, N, vdim]. The output has the query's layout; the weights are [N, L, S] (averaged over heads) or
/// [N, H, L, S] (per head), batch first whatever <c>batchFirst</c> is, as PyTorch.</para>
/// <para><b>Masks</b> (PyTorch semantics). <c>keyPaddingMask</c> [N, S]: Bool, true = that key is padding and is
/// ignored, or float, added to the scores. <c>attnMask</c> [L, S] or [N·H, L, S]: Bool, true = that query may
/// not attend to that key, or float, added to the scores (−∞ forbids; <see cref="Transformer.GenerateSquareSubsequentMask"/>
/// gives the causal one). Both are turned into one additive mask. With <c>isCausal</c> and no <c>attnMask</c>, the
/// causal mask (key j &gt; query i forbidden) is used; with an <c>attnMask</c>, <c>isCausal</c> is only a hint, as in
/// PyTorch.</para>
/// <para><b>Fully masked rows.</b> A query whose every key is masked has attention weights all zero (not NaN), so
/// its attention output before the output projection is zero and the layer returns <c>out_proj.bias</c> for it.
/// PyTorch 1.13's slow path returns NaN for such a row and its fast path zeros; DeepSharp always gives zeros, and
/// other rows and batch entries are unaffected.</para>
/// <para><b>Computation.</b> The heads are views: the projected [L, N, E] tensors are viewed as [L, N·H, d] and
/// transposed to [N·H, L, d] without copying; Q·Kᵀ and P·V are single batched GEMMs that read the transposed
/// operands through strides; the scale, the mask and the softmax are one fused op; only the heads' output is
/// copied once into [*, E] rows for the output projection.</para>
/// </remarks>
public sealed class MultiheadAttention : Module
{
    private readonly Linear _outProj;
    private readonly Generator? _generator;

    /// <summary>Creates the layer.</summary>
    /// <param name="embedDim">E, the model dim (query dim and output dim).</param>
    /// <param name="numHeads">H; must divide <paramref name="embedDim"/>. Each head has dim d = E/H.</param>
    /// <param name="dropout">Dropout probability on the attention weights (training only).</param>
    /// <param name="bias">Whether the input and output projections have biases.</param>
    /// <param name="batchFirst">Inputs and output are [N, L, E] instead of [L, N, E].</param>
    /// <param name="kdim">Key dim (default E).</param>
    /// <param name="vdim">Value dim (default E).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for initialisation and dropout.</param>
    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0, bool bias = true, bool batchFirst = false,
        int? kdim = null, int? vdim = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (embedDim <= 0) throw new ArgumentOutOfRangeException(nameof(embedDim), $"MultiheadAttention: embedDim must be positive, got {embedDim}.");
        if (numHeads <= 0 || embedDim % numHeads != 0)
            throw new ArgumentException($"MultiheadAttention: embedDim ({embedDim}) must be divisible by numHeads ({numHeads}).");
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentOutOfRangeException(nameof(dropout), $"MultiheadAttention: dropout must be in [0, 1], got {dropout}.");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        HeadDim = embedDim / numHeads;
        KDim = kdim ?? embedDim;
        VDim = vdim ?? embedDim;
        if (KDim <= 0 || VDim <= 0) throw new ArgumentOutOfRangeException(nameof(kdim), "MultiheadAttention: kdim and vdim must be positive.");
        DropoutP = dropout;
        BatchFirst = batchFirst;
        QkvSameEmbedDim = KDim == embedDim && VDim == embedDim;
        if (QkvSameEmbedDim)
        {
            Init.XavierUniform(RegisterParameter("in_proj_weight", Tensor.Zeros([3 * embedDim, embedDim], dtype))!, generator: generator);
        }
        else
        {
            Init.XavierUniform(RegisterParameter("q_proj_weight", Tensor.Zeros([embedDim, embedDim], dtype))!, generator: generator);
            Init.XavierUniform(RegisterParameter("k_proj_weight", Tensor.Zeros([embedDim, KDim], dtype))!, generator: generator);
            Init.XavierUniform(RegisterParameter("v_proj_weight", Tensor.Zeros([embedDim, VDim], dtype))!, generator: generator);
        }
        RegisterParameter("in_proj_bias", bias ? Tensor.Zeros([3 * embedDim], dtype) : null);
        _outProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, dtype, generator));
        if (_outProj.Bias is { } ob) Init.Zeros(ob);
        _generator = generator; // dropout on the weights is functional (no child module), as PyTorch
    }

    /// <summary>E, the model dim.</summary>
    public int EmbedDim { get; }

    /// <summary>H, the number of heads.</summary>
    public int NumHeads { get; }

    /// <summary>d = E/H, the dim of each head.</summary>
    public int HeadDim { get; }

    /// <summary>The key dim.</summary>
    public int KDim { get; }

    /// <summary>The value dim.</summary>
    public int VDim { get; }

    /// <summary>The attention-weight dropout probability.</summary>
    public double DropoutP { get; }

    /// <summary>Whether inputs and output are [N, L, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>True when the key and value dims equal E (one packed <c>in_proj_weight</c>).</summary>
    public bool QkvSameEmbedDim { get; }

    /// <summary>The packed input projection [3E, E] (parameter <c>in_proj_weight</c>), or null when kdim/vdim differ from E.</summary>
    public Tensor? InProjWeight => GetParameter("in_proj_weight");

    /// <summary>The query projection [E, E] (parameter <c>q_proj_weight</c>), only when kdim/vdim differ from E.</summary>
    public Tensor? QProjWeight => GetParameter("q_proj_weight");

    /// <summary>The key projection [E, kdim] (parameter <c>k_proj_weight</c>), only when kdim/vdim differ from E.</summary>
    public Tensor? KProjWeight => GetParameter("k_proj_weight");

    /// <summary>The value projection [E, vdim] (parameter <c>v_proj_weight</c>), only when kdim/vdim differ from E.</summary>
    public Tensor? VProjWeight => GetParameter("v_proj_weight");

    /// <summary>The packed input-projection bias [3E] (parameter <c>in_proj_bias</c>), or null.</summary>
    public Tensor? InProjBias => GetParameter("in_proj_bias");

    /// <summary>The output projection (child <c>out_proj</c>).</summary>
    public Linear OutProj => _outProj;

    /// <summary>
    /// Attends from <paramref name="query"/> to <paramref name="key"/>/<paramref name="value"/>
    /// (PyTorch's <c>forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal)</c>).
    /// </summary>
    /// <param name="query">[L, N, E] ([N, L, E] with batchFirst; [L, E] unbatched).</param>
    /// <param name="key">[S, N, kdim] ([N, S, kdim] with batchFirst; [S, kdim] unbatched).</param>
    /// <param name="value">[S, N, vdim] ([N, S, vdim] with batchFirst; [S, vdim] unbatched).</param>
    /// <param name="keyPaddingMask">[N, S] ([S] unbatched): Bool (true = ignore that key) or additive float.</param>
    /// <param name="needWeights">Whether to return the attention weights.</param>
    /// <param name="attnMask">[L, S] or [N·H, L, S]: Bool (true = not allowed) or additive float.</param>
    /// <param name="averageAttnWeights">Average the returned weights over heads ([N, L, S]) or not ([N, H, L, S]).</param>
    /// <param name="isCausal">Apply the causal mask when <paramref name="attnMask"/> is null (L must equal S).</param>
    /// <returns>The output (the query's layout, dim E) and the weights when <paramref name="needWeights"/>.</returns>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null,
        bool needWeights = true, Tensor? attnMask = null, bool averageAttnWeights = true, bool isCausal = false)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        bool batched = query.Dim == 3;
        if (!batched && query.Dim != 2)
            throw new ArgumentException($"MultiheadAttention: query should be unbatched 2-D or batched 3-D, got shape {ShapeUtil.Format(query._shape)}.");
        if (key.Dim != query.Dim || value.Dim != query.Dim)
            throw new ArgumentException($"MultiheadAttention: query, key and value must have the same rank, got {ShapeUtil.Format(query._shape)}, {ShapeUtil.Format(key._shape)}, {ShapeUtil.Format(value._shape)}.");
        bool sameQK = ReferenceEquals(query, key), sameKV = ReferenceEquals(key, value);
        // The shapes as the user passed them (batch first or unbatched), for error messages.
        string qUser = ShapeUtil.Format(query._shape), kUser = ShapeUtil.Format(key._shape), vUser = ShapeUtil.Format(value._shape);

        // Canonical layout: sequence first, [L, N, E].
        if (!batched)
        {
            query = query.Unsqueeze(1);
            key = sameQK ? query : key.Unsqueeze(1);
            value = sameKV ? key : value.Unsqueeze(1);
            if (keyPaddingMask is not null)
            {
                if (keyPaddingMask.Dim != 1)
                    throw new ArgumentException($"MultiheadAttention: for unbatched input keyPaddingMask must be 1-D [S], got {ShapeUtil.Format(keyPaddingMask._shape)}.");
                keyPaddingMask = keyPaddingMask.Unsqueeze(0);
            }
        }
        else if (BatchFirst)
        {
            query = query.Transpose(0, 1);
            key = sameQK ? query : key.Transpose(0, 1);
            value = sameKV ? key : value.Transpose(0, 1);
        }
        int L = query._shape[0], N = query._shape[1], S = key._shape[0];
        int E = EmbedDim, H = NumHeads, d = HeadDim;
        if (query._shape[2] != E)
            throw new ArgumentException($"MultiheadAttention: expected the query's last dim to be embedDim = {E}, got shape {qUser}.");
        if (key._shape[2] != KDim || value._shape[2] != VDim)
            throw new ArgumentException($"MultiheadAttention: expected key [.., {KDim}] and value [.., {VDim}], got {kUser} and {vUser}.");
        if (key._shape[1] != N || value._shape[1] != N || value._shape[0] != S)
            throw new ArgumentException($"MultiheadAttention: key {kUser} and value {vUser} do not match the query {qUser} (same batch size, same source length).");

        bool dropout = DropoutP > 0 && IsTraining;
        // The fused kernel serves every call that needs neither the weights nor dropout on them.
        bool fused = !needWeights && !dropout;
        bool causalFlag = fused && isCausal && attnMask is null;
        if (causalFlag && L != S) throw new ArgumentException($"MultiheadAttention: isCausal needs a square attention (L = S), got L = {L}, S = {S}.");
        var mask = MergeMasks(attnMask, keyPaddingMask, isCausal && !causalFlag, N, L, S, query.DType);
        if (fused && mask is { RequiresGrad: true }) { fused = false; causalFlag = false; mask = MergeMasks(attnMask, keyPaddingMask, isCausal, N, L, S, query.DType); }

        // Projections: [L, N, E] each, contiguous.
        var inBias = InProjBias;
        Tensor q, k, v;
        var wIn = InProjWeight;
        if (wIn is not null)
        {
            if (sameQK && sameKV)
            {
                var x = Rows(query);
                q = Project(x, wIn.Narrow(0, 0, E), inBias?.Narrow(0, 0, E), L, N);
                k = Project(x, wIn.Narrow(0, E, E), inBias?.Narrow(0, E, E), S, N);
                v = Project(x, wIn.Narrow(0, 2 * E, E), inBias?.Narrow(0, 2 * E, E), S, N);
            }
            else
            {
                q = Project(Rows(query), wIn.Narrow(0, 0, E), inBias?.Narrow(0, 0, E), L, N);
                var kx = Rows(key);
                k = Project(kx, wIn.Narrow(0, E, E), inBias?.Narrow(0, E, E), S, N);
                v = Project(sameKV ? kx : Rows(value), wIn.Narrow(0, 2 * E, E), inBias?.Narrow(0, 2 * E, E), S, N);
            }
        }
        else
        {
            q = Project(Rows(query), QProjWeight!, inBias?.Narrow(0, 0, E), L, N);
            k = Project(Rows(key), KProjWeight!, inBias?.Narrow(0, E, E), S, N);
            v = Project(Rows(value), VProjWeight!, inBias?.Narrow(0, 2 * E, E), S, N);
        }

        bool bf = batched && BatchFirst;
        Tensor rows, attn = null!;
        if (fused)
        {
            // Heads as views [N, H, T, d] of the [T, N, E] projections; the output is stored as rows of E in the
            // caller's layout, so the output projection reads it without a copy.
            var q4 = q.View(L, N, H, d).Permute(1, 2, 0, 3);
            var k4 = k.View(S, N, H, d).Permute(1, 2, 0, 3);
            var v4 = v.View(S, N, H, d).Permute(1, 2, 0, 3);
            Tensor? mask4 = mask is null ? null : mask._shape[0] == 1 ? mask.Unsqueeze(0) : mask.Reshape(N, H, mask._shape[1], S);
            var heads4 = Tensor.FusedAttention(q4, k4, v4, mask4, causalFlag, 1.0 / Math.Sqrt(d), bf ? [0, 2, 1, 3] : [2, 0, 1, 3]);
            ReleaseAfter(heads4, q, k, v);
            rows = bf ? heads4.Permute(0, 2, 1, 3).View(N * L, E) : heads4.Permute(2, 0, 1, 3).View(L * N, E);
        }
        else
        {
            var qh = q.View(L, N * H, d).Transpose(0, 1);   // [N·H, L, d], strided view
            var kh = k.View(S, N * H, d).Transpose(0, 1);   // [N·H, S, d]
            var vh = v.View(S, N * H, d).Transpose(0, 1);   // [N·H, S, d]
            var scores = qh.MatMul(kh.MT);                   // [N·H, L, S]; Kᵀ read through strides
            attn = scores.AttentionSoftmax(1.0 / Math.Sqrt(d), mask);
            if (dropout) attn = F.Dropout(attn, DropoutP, training: true, _generator);
            var heads = attn.MatMul(vh);                     // [N·H, L, d]
            // Back to rows of E for the output projection (the one copy), in the caller's layout.
            rows = bf ? heads.View(N, H, L, d).Permute(0, 2, 1, 3).Reshape(N * L, E) : heads.Transpose(0, 1).Reshape(L * N, E);
        }
        var output = bf ? _outProj.Forward(rows).View(N, L, E) : _outProj.Forward(rows).View(L, N, E);
        if (!batched) output = output.Squeeze(1);

        Tensor? weights = null;
        if (needWeights)
        {
            weights = attn.View(N, H, L, S);
            if (averageAttnWeights) weights = weights.Mean(1);
            if (!batched) weights = weights.Squeeze(0);
        }
        return Recycler.AfterModule((output, weights));
    }

    /// <summary>The projections q, k, v live only in this forward and in the views the attention node saved: their
    /// buffers go back to the pool when that node has run (or now, when no graph was recorded), not when a GC finds
    /// them. Not while tracing (the exporter reads the recorded tensors afterwards).</summary>
    private static void ReleaseAfter(Tensor attention, Tensor q, Tensor k, Tensor v)
    {
        if (Interop.Tracing.Current is not null) return;
        if (attention._gradFn is { } node)
        {
            node.ReleaseWith(q);
            node.ReleaseWith(k);
            node.ReleaseWith(v);
        }
        else
        {
            q.Dispose();
            k.Dispose();
            v.Dispose();
        }
    }

    /// <summary>[T, N, C] (any strides) as contiguous rows [T·N, C].</summary>
    private static Tensor Rows(Tensor x) => x.Contiguous().View(-1, x._shape[^1]);

    /// <summary>x·Wᵀ + b for rows x [T·N, C]: one GEMM with the bias added in place, viewed as [T, N, E].</summary>
    private static Tensor Project(Tensor x, Tensor w, Tensor? b, int t, int n) =>
        F.Linear(x, w, b).View(t, n, w._shape[0]);

    /// <summary>
    /// The one additive float mask broadcastable to [N·H, L, S] that combines <paramref name="attnMask"/>,
    /// <paramref name="keyPaddingMask"/> and the causal mask; null when there is none.
    /// </summary>
    private Tensor? MergeMasks(Tensor? attnMask, Tensor? keyPaddingMask, bool isCausal, int n, int l, int s, DType dtype)
    {
        int h = NumHeads;
        Tensor? mask = null;
        if (attnMask is not null)
        {
            mask = ToAdditive(attnMask, dtype, "attnMask");
            if (mask.Dim == 2)
            {
                if (mask._shape[0] != l || mask._shape[1] != s)
                    throw new ArgumentException($"MultiheadAttention: the 2-D attnMask should have shape [{l}, {s}], got {ShapeUtil.Format(mask._shape)}.");
                mask = mask.Unsqueeze(0);
            }
            else if (mask.Dim == 3)
            {
                if (mask._shape[0] != n * h || mask._shape[1] != l || mask._shape[2] != s)
                    throw new ArgumentException($"MultiheadAttention: the 3-D attnMask should have shape [{n * h}, {l}, {s}], got {ShapeUtil.Format(mask._shape)}.");
            }
            else throw new ArgumentException($"MultiheadAttention: attnMask must be 2-D or 3-D, got shape {ShapeUtil.Format(mask._shape)}.");
        }
        else if (isCausal)
        {
            if (l != s) throw new ArgumentException($"MultiheadAttention: isCausal needs a square attention (L = S), got L = {l}, S = {s}.");
            mask = CausalMaskCache.Get(l, l, dtype).Unsqueeze(0);
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Dim != 2 || keyPaddingMask._shape[0] != n || keyPaddingMask._shape[1] != s)
                throw new ArgumentException($"MultiheadAttention: expected keyPaddingMask of shape [{n}, {s}], got {ShapeUtil.Format(keyPaddingMask._shape)}.");
            var kpm = ToAdditive(keyPaddingMask, dtype, "keyPaddingMask");
            // [N, S] → [N·H, 1, S] (each batch entry's row repeated for its H heads).
            kpm = kpm.View(n, 1, 1, s).Expand(n, h, 1, s).Reshape(n * h, 1, s);
            mask = mask is null ? kpm : mask + kpm;
        }
        return mask;
    }

    private static Tensor ToAdditive(Tensor mask, DType dtype, string name)
    {
        if (mask.DType == DType.Bool)
        {
            using (GradMode.Set(false)) return Tensor.Zeros(mask._shape, dtype).MaskedFill(mask, double.NegativeInfinity);
        }
        if (!mask.DType.IsFloatingPoint())
            throw new ArgumentException($"MultiheadAttention: {name} must be Bool or floating-point, got {mask.DType}.");
        return mask.DType == dtype ? mask : mask.To(dtype);
    }

    /// <summary>The [size, size] additive causal mask: −∞ above the diagonal, 0 elsewhere.</summary>
    internal static Tensor CausalMask(int size, DType dtype = DType.Float32)
    {
        var data = new double[size * size];
        FillKernels.CausalMask(data, size, size);
        return Tensor.FromArray(data, size, size).To(dtype);
    }
}
