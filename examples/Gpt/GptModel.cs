using DeepSharp.NN;

namespace DeepSharp.Examples.Gpt;

/// <summary>The model's size (nanoGPT's GPTConfig).</summary>
public sealed record GptConfig(int VocabSize, int BlockSize, int Layers, int Heads, int Embd, double Dropout = 0)
{
    /// <summary>Checks the sizes, naming the flag at fault.</summary>
    public void Validate()
    {
        if (Embd % Heads != 0) throw new ArgumentException($"--embd ({Embd}) must be divisible by --heads ({Heads}).");
        if (VocabSize < 1 || BlockSize < 1 || Layers < 1) throw new ArgumentException("vocabulary, --block and --layers must be at least 1.");
    }
}

/// <summary>Keys and values of earlier positions for one layer, so that sampling a token costs O(T) instead of O(T²).</summary>
public sealed class KvCache(int batch, int heads, int capacity, int headDim)
{
    /// <summary>Keys [B, H, capacity, d]; the first <see cref="Length"/> positions are filled.</summary>
    public Tensor Keys { get; } = Tensor.Zeros(batch, heads, capacity, headDim);

    /// <summary>Values [B, H, capacity, d].</summary>
    public Tensor Values { get; } = Tensor.Zeros(batch, heads, capacity, headDim);

    /// <summary>How many positions are cached.</summary>
    public int Length { get; set; }

    /// <summary>How many positions fit.</summary>
    public int Capacity => capacity;
}

/// <summary>Causal multi-head self-attention with one packed q/k/v projection (nanoGPT's <c>CausalSelfAttention</c>).</summary>
public sealed class CausalSelfAttention : Module
{
    private readonly Linear _cAttn, _cProj;
    private readonly Dropout _residDropout;
    private readonly int _heads;
    private readonly double _dropout;
    private readonly Generator _generator;

    /// <summary>Creates the layer.</summary>
    public CausalSelfAttention(GptConfig config, Generator generator, Generator? dropoutGenerator = null)
    {
        _heads = config.Heads;
        _dropout = config.Dropout;
        _generator = dropoutGenerator ?? generator;
        _cAttn = RegisterModule("c_attn", new Linear(config.Embd, 3 * config.Embd, generator: generator));
        _cProj = RegisterModule("c_proj", new Linear(config.Embd, config.Embd, generator: generator));
        _residDropout = RegisterModule("resid_dropout", new Dropout(config.Dropout, generator: _generator));
    }

    /// <summary>The output projection (its init is scaled by depth).</summary>
    public Linear CProj => _cProj;

    /// <summary>x [B, T, C] → [B, T, C]; with a cache, x holds the positions after the cached ones.</summary>
    public Tensor Forward(Tensor x, KvCache? cache = null)
    {
        int b = x.Size(0), t = x.Size(1), c = x.Size(2), d = c / _heads;
        var qkv = _cAttn.Forward(x);                                                  // [B, T, 3C]
        Tensor Heads(int part) => qkv.Narrow(2, part * c, c).Reshape(b, t, _heads, d).Transpose(1, 2);   // [B, H, T, d] views
        Tensor q = Heads(0), k = Heads(1), v = Heads(2);
        Tensor y;
        if (cache is null)
        {
            y = F.ScaledDotProductAttention(q, k, v, dropoutP: IsTraining ? _dropout : 0, isCausal: true, generator: _generator);
        }
        else
        {
            int start = cache.Length, total = start + t;
            if (total > cache.Capacity) throw new InvalidOperationException($"KV cache full: {start} + {t} positions > {cache.Capacity}.");
            using (Autograd.NoGrad())
            {
                cache.Keys.Narrow(2, start, t).Copy_(k);
                cache.Values.Narrow(2, start, t).Copy_(v);
            }
            cache.Length = total;
            var keys = cache.Keys.Narrow(2, 0, total);
            var values = cache.Values.Narrow(2, 0, total);
            // New queries see every cached position and the new ones up to themselves (bottom-right causal).
            Tensor? mask = t == 1 ? null : Tensor.Arange(total).Unsqueeze(0).Le(Tensor.Arange(start, total).Unsqueeze(1));
            y = F.ScaledDotProductAttention(q, keys, values, attnMask: mask);
        }
        y = y.Transpose(1, 2).Reshape(b, t, c);
        return _residDropout.Forward(_cProj.Forward(y));
    }
}

/// <summary>The feed-forward part of a block: Linear(C, 4C), GELU, Linear(4C, C), dropout.</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Linear _cFc, _cProj;
    private readonly Dropout _dropout;

    /// <summary>Creates the layer.</summary>
    public Mlp(GptConfig config, Generator generator, Generator? dropoutGenerator = null)
    {
        _cFc = RegisterModule("c_fc", new Linear(config.Embd, 4 * config.Embd, generator: generator));
        _cProj = RegisterModule("c_proj", new Linear(4 * config.Embd, config.Embd, generator: generator));
        _dropout = RegisterModule("dropout", new Dropout(config.Dropout, generator: dropoutGenerator ?? generator));
    }

    /// <summary>The output projection (its init is scaled by depth).</summary>
    public Linear CProj => _cProj;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _dropout.Forward(_cProj.Forward(F.Gelu(_cFc.Forward(input), "tanh")));
}

/// <summary>A pre-LN Transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
public sealed class Block : Module
{
    private readonly LayerNorm _ln1, _ln2;
    private readonly CausalSelfAttention _attn;
    private readonly Mlp _mlp;

    /// <summary>Creates the block.</summary>
    public Block(GptConfig config, Generator generator, Generator? dropoutGenerator = null)
    {
        _ln1 = RegisterModule("ln_1", new LayerNorm(config.Embd));
        _attn = RegisterModule("attn", new CausalSelfAttention(config, generator, dropoutGenerator));
        _ln2 = RegisterModule("ln_2", new LayerNorm(config.Embd));
        _mlp = RegisterModule("mlp", new Mlp(config, generator, dropoutGenerator));
    }

    /// <summary>The attention.</summary>
    public CausalSelfAttention Attn => _attn;

    /// <summary>The feed-forward part.</summary>
    public Mlp Mlp => _mlp;

    /// <summary>x [B, T, C] → [B, T, C].</summary>
    public Tensor Forward(Tensor x, KvCache? cache = null)
    {
        x = x + _attn.Forward(_ln1.Forward(x), cache);
        return x + _mlp.Forward(_ln2.Forward(x));
    }
}

/// <summary>
/// A GPT language model in nanoGPT's layout and parameter names (<c>wte</c>, <c>wpe</c>, <c>h.N.…</c>, <c>ln_f</c>). The
/// output head shares the token embedding's weight (weight tying): logits = ln_f(x)·wteᵀ.
/// </summary>
public sealed class GptModel : Module<Tensor, Tensor>
{
    private readonly Embedding _wte, _wpe;
    private readonly Dropout _drop;
    private readonly ModuleList<Block> _blocks;
    private readonly LayerNorm _lnF;

    /// <summary>Builds the model with nanoGPT's initialisation: N(0, 0.02) weights, zero biases, and residual projections
    /// scaled by 1/√(2·layers).</summary>
    /// <param name="config">The sizes.</param>
    /// <param name="generator">Draws the initial weights.</param>
    /// <param name="dropoutGenerator">Draws the dropout masks (<paramref name="generator"/> when null). Data-parallel
    /// training reseeds it before each micro-batch from (seed, step, shard), so that a micro-batch gets the same masks
    /// whichever process runs it.</param>
    public GptModel(GptConfig config, Generator generator, Generator? dropoutGenerator = null)
    {
        config.Validate();
        Config = config;
        var dropout = dropoutGenerator ?? generator;
        DropoutGenerator = dropout;
        _wte = RegisterModule("wte", new Embedding(config.VocabSize, config.Embd, generator: generator));
        _wpe = RegisterModule("wpe", new Embedding(config.BlockSize, config.Embd, generator: generator));
        _drop = RegisterModule("drop", new Dropout(config.Dropout, generator: dropout));
        _blocks = RegisterModule("h", new ModuleList<Block>([.. Enumerable.Range(0, config.Layers).Select(_ => new Block(config, generator, dropout))]));
        _lnF = RegisterModule("ln_f", new LayerNorm(config.Embd));
        foreach (var (name, p) in NamedParameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal) || name.StartsWith("ln_", StringComparison.Ordinal) || name.Contains(".ln_", StringComparison.Ordinal)) continue;
            double std = name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? 0.02 / Math.Sqrt(2 * config.Layers) : 0.02;
            Init.Normal(p, 0, std, generator);
        }
        foreach (var (name, p) in NamedParameters())
            if (name.EndsWith(".bias", StringComparison.Ordinal) && !name.Contains("ln_", StringComparison.Ordinal)) Init.Zeros(p);
    }

    /// <summary>The sizes.</summary>
    public GptConfig Config { get; }

    /// <summary>The generator every dropout of the model draws its masks from.</summary>
    public Generator DropoutGenerator { get; }

    /// <summary>The token embedding [vocab, C], also the output head's weight.</summary>
    public Tensor TokenEmbedding => _wte.Weight;

    /// <summary>idx [B, T] (Int64 token ids, T ≤ block size) → logits [B, T, vocab].</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>idx [B, T] (Int64 token ids, T ≤ block size) → logits [B, T, vocab]. With <paramref name="caches"/> (one per
    /// layer), idx holds the positions after the cached ones.</summary>
    public Tensor Forward(Tensor idx, KvCache[]? caches)
    {
        int t = idx.Size(1), start = caches is null ? 0 : caches[0].Length;
        if (start + t > Config.BlockSize)
            throw new ArgumentException($"GptModel: {start + t} positions exceed the block size {Config.BlockSize}.");
        var pos = Tensor.Arange(start, start + t).To(DType.Int64);
        var x = _drop.Forward(_wte.Forward(idx) + _wpe.Forward(pos));
        for (int i = 0; i < _blocks.Count; i++) x = _blocks[i].Forward(x, caches?[i]);
        return F.Linear(_lnF.Forward(x), _wte.Weight);   // weight tying: the head is the embedding
    }

    /// <summary>One empty cache per layer for <paramref name="batch"/> sequences.</summary>
    public KvCache[] NewCaches(int batch) =>
        [.. Enumerable.Range(0, Config.Layers).Select(_ => new KvCache(batch, Config.Heads, Config.BlockSize, Config.Embd / Config.Heads))];
}
