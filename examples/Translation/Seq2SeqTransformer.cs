using System.Globalization;
using DeepSharp;
using DeepSharp.NN;

namespace DeepSharp.Examples.Translation;

/// <summary>The size of a <see cref="Seq2SeqTransformer"/>.</summary>
public sealed record ModelConfig(int SourceVocab, int TargetVocab, int DModel = 64, int Heads = 4, int EncoderLayers = 2, int DecoderLayers = 2,
    int FeedForward = 256, double Dropout = 0.1, bool NormFirst = true, int MaxLength = 128)
{
    public string Norm => NormFirst ? "pre" : "post";

    /// <summary>As safetensors metadata (strings).</summary>
    public Dictionary<string, string> ToMetadata() => new()
    {
        ["source_vocab"] = I(SourceVocab), ["target_vocab"] = I(TargetVocab), ["d_model"] = I(DModel), ["heads"] = I(Heads),
        ["encoder_layers"] = I(EncoderLayers), ["decoder_layers"] = I(DecoderLayers), ["feed_forward"] = I(FeedForward),
        ["dropout"] = Dropout.ToString("R", CultureInfo.InvariantCulture), ["norm"] = Norm, ["max_length"] = I(MaxLength),
    };

    public static ModelConfig FromMetadata(IReadOnlyDictionary<string, string> m)
    {
        int Get(string key) => m.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n : throw new TranslationException($"The weights file has no '{key}' metadata; was it written by this example's --save?");
        return new ModelConfig(Get("source_vocab"), Get("target_vocab"), Get("d_model"), Get("heads"), Get("encoder_layers"), Get("decoder_layers"),
            Get("feed_forward"), 0, m.TryGetValue("norm", out var norm) ? norm == "pre" : throw new TranslationException("The weights file has no 'norm' metadata."),
            Get("max_length"));
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// An encoder-decoder translation model: scaled token embeddings plus sinusoidal positions, <see cref="Transformer"/>
/// (sequence-first layout, as PyTorch's default), and a linear layer to target-vocabulary logits.
/// Children: <c>src_embed</c>, <c>tgt_embed</c>, <c>pos</c>, <c>transformer</c>, <c>generator</c>.
/// </summary>
public sealed class Seq2SeqTransformer : Module
{
    public Seq2SeqTransformer(ModelConfig config, Generator? generator = null)
    {
        Config = config;
        RegisterModule("src_embed", new TokenEmbedding(config.SourceVocab, config.DModel, Vocabulary.PadId, generator: generator));
        RegisterModule("tgt_embed", new TokenEmbedding(config.TargetVocab, config.DModel, Vocabulary.PadId, generator: generator));
        RegisterModule("pos", new PositionalEncoding(config.DModel, config.Dropout, config.MaxLength + 2, generator: generator));
        RegisterModule("transformer", new Transformer(config.DModel, config.Heads, config.EncoderLayers, config.DecoderLayers, config.FeedForward,
            config.Dropout, normFirst: config.NormFirst, generator: generator));
        RegisterModule("generator", new Linear(config.DModel, config.TargetVocab, generator: generator));
        // Xavier-uniform for every matrix, as the Annotated Transformer: embeddings then have a scale comparable to
        // the positional encoding after the √d factor. The padding rows stay zero.
        foreach (var p in Parameters())
            if (p.Dim > 1) Init.XavierUniform(p, generator: generator);
        using (Autograd.NoGrad())
        {
            SrcEmbed.Embedding.Weight[Vocabulary.PadId].Zero_();
            TgtEmbed.Embedding.Weight[Vocabulary.PadId].Zero_();
        }
    }

    public ModelConfig Config { get; }
    public TokenEmbedding SrcEmbed => (TokenEmbedding)GetChild("src_embed")!;
    public TokenEmbedding TgtEmbed => (TokenEmbedding)GetChild("tgt_embed")!;
    public PositionalEncoding Positions => (PositionalEncoding)GetChild("pos")!;
    public Transformer Transformer => (Transformer)GetChild("transformer")!;
    public Linear Generator => (Linear)GetChild("generator")!;

    /// <summary>Encodes source ids [N, S] (batch-first ids) into memory [S, N, E].</summary>
    public Tensor Encode(Tensor source, Tensor sourcePadding)
    {
        var x = Positions.Forward(SrcEmbed.Forward(source.Transpose(0, 1).Contiguous()));
        return Transformer.Encoder.Forward(x, null, sourcePadding);
    }

    /// <summary>Decoder logits [T, N, V] for target input ids [N, T] against memory [S, N, E].</summary>
    public Tensor Decode(Tensor targetIn, Tensor memory, Tensor sourcePadding, Tensor? targetPadding)
    {
        int t = targetIn.Shape[1];
        var y = Positions.Forward(TgtEmbed.Forward(targetIn.Transpose(0, 1).Contiguous()));
        var mask = Transformer.GenerateSquareSubsequentMask(t);
        var h = Transformer.Decoder.Forward(y, memory, mask, null, targetPadding, sourcePadding);
        return Generator.Forward(h);
    }

    /// <summary>Teacher-forced logits [T, N, V].</summary>
    public Tensor Forward(Batch batch) =>
        Decode(batch.TargetIn, Encode(batch.Source, batch.SourcePadding), batch.SourcePadding, batch.TargetPadding);

    /// <summary>Maximum output length for a source of <paramref name="sourceLength"/> tokens.</summary>
    public int MaxOutputLength(int sourceLength) => Math.Min(Config.MaxLength, 2 * sourceLength + 10);

    /// <summary>
    /// Greedy decoding of a batch of source id rows (each ending in &lt;eos&gt;): the most likely next token at every step,
    /// all sentences in parallel. Each result ends with &lt;eos&gt; unless it reached the maximum length.
    /// </summary>
    public List<long[]> GreedyDecode(IReadOnlyList<long[]> sources)
    {
        using var _ = Autograd.NoGrad();
        var src = Batcher.Pad(sources);
        var srcPad = src.Eq(Vocabulary.PadId);
        var memory = Encode(src, srcPad);
        int n = sources.Count, maxLen = MaxOutputLength(src.Shape[1]);
        var outputs = Enumerable.Range(0, n).Select(_ => new List<long>()).ToArray();
        var done = new bool[n];
        var ys = new long[n][];
        for (int i = 0; i < n; i++) ys[i] = [Vocabulary.BosId];
        for (int step = 0; step < maxLen && !done.All(d => d); step++)
        {
            var logits = Decode(Batcher.Pad(ys), memory, srcPad, null);      // [t, N, V]
            var next = logits.Select(0, logits.Shape[0] - 1).ArgMax(-1).ToArray<long>();
            for (int i = 0; i < n; i++)
            {
                long token = done[i] ? Vocabulary.PadId : next[i];
                if (!done[i])
                {
                    outputs[i].Add(token);
                    if (token == Vocabulary.EosId) done[i] = true;
                }
                ys[i] = [.. ys[i], token];
            }
        }
        return outputs.Select(o => o.ToArray()).ToList();
    }

    /// <summary>
    /// Beam search with <paramref name="beamSize"/> hypotheses per sentence (<see cref="BeamSearch"/>), all sentences
    /// in one decoder batch of N·k rows. Returns the best finished hypothesis of each sentence, ending with &lt;eos&gt;
    /// (an open one if none finished within the maximum length).
    /// </summary>
    public List<long[]> BeamDecode(IReadOnlyList<long[]> sources, int beamSize, double lengthPenalty = 0.6)
    {
        if (beamSize <= 1) return GreedyDecode(sources);
        using var _ = Autograd.NoGrad();
        int n = sources.Count, k = beamSize;
        var src = Batcher.Pad(sources);
        var srcPad = src.Eq(Vocabulary.PadId);
        var memory = Encode(src, srcPad);                                      // [S, N, E]
        // Row r of the beam batch belongs to sentence r / k.
        var rowSentence = Tensor.FromArray(Enumerable.Range(0, n * k).Select(r => (long)(r / k)).ToArray(), n * k);
        var beamMemory = memory.IndexSelect(1, rowSentence);                   // [S, N·k, E]
        var beamPad = srcPad.IndexSelect(0, rowSentence);                      // [N·k, S]
        return BeamSearch.Search(n, k, Config.TargetVocab, MaxOutputLength(src.Shape[1]), prefixes =>
        {
            var logits = Decode(Batcher.Pad(prefixes), beamMemory, beamPad, null);
            return logits.Select(0, logits.Shape[0] - 1).LogSoftmax(-1).Double().ToArray<double>();
        }, lengthPenalty);
    }
}

/// <summary>The bookkeeping of batched beam search, independent of the model.</summary>
public static class BeamSearch
{
    /// <summary>
    /// Beam search for <paramref name="sentences"/> sentences with <paramref name="k"/> hypotheses each. At every step
    /// <paramref name="step"/> receives the N·k prefixes (each starting with &lt;bos&gt;; row r belongs to sentence r / k)
    /// and returns the next-token log-probabilities, row-major [N·k, vocab]. Each sentence keeps its k best open
    /// hypotheses among the 2k best continuations, and its k best finished ones (those that emitted &lt;eos&gt;), ranked
    /// by length-normalised score log P / length^α. A sentence is done when it has k finished hypotheses and no open
    /// one can still beat the best of them (log P only falls, so its bound is at the maximum length).
    /// </summary>
    public static List<long[]> Search(int sentences, int k, int vocab, int maxLength, Func<List<long[]>, double[]> step, double lengthPenalty = 0.6)
    {
        int n = sentences;
        var hyps = new List<long>[n * k];
        var scores = new double[n * k];
        for (int r = 0; r < n * k; r++)
        {
            hyps[r] = [Vocabulary.BosId];
            scores[r] = r % k == 0 ? 0 : double.NegativeInfinity;               // one live start per sentence
        }
        var finished = Enumerable.Range(0, n).Select(_ => new List<(long[] Tokens, double Score)>()).ToArray();
        var done = new bool[n];
        double Normalised(double logProb, int length) => logProb / Math.Pow(length, lengthPenalty);

        for (int t = 0; t < maxLength && !done.All(d => d); t++)
        {
            var logp = step(hyps.Select(h => h.ToArray()).ToList());
            var newHyps = new List<long>[n * k];
            var newScores = new double[n * k];
            for (int i = 0; i < n; i++)
            {
                if (done[i])
                {
                    for (int b = 0; b < k; b++) { newHyps[i * k + b] = [.. hyps[i * k + b], Vocabulary.PadId]; newScores[i * k + b] = double.NegativeInfinity; }
                    continue;
                }
                // The 2k best continuations of the sentence's open hypotheses.
                var candidates = new PriorityQueue<(int Row, int Token, double Score), double>();
                for (int b = 0; b < k; b++)
                {
                    int row = i * k + b;
                    if (double.IsNegativeInfinity(scores[row])) continue;
                    for (int tok = 0; tok < vocab; tok++)
                    {
                        if (tok is Vocabulary.PadId or Vocabulary.BosId) continue;
                        double s = scores[row] + logp[row * vocab + tok];
                        if (candidates.Count < 2 * k) candidates.Enqueue((row, tok, s), s);
                        else if (s > candidates.Peek().Score) candidates.EnqueueDequeue((row, tok, s), s);
                    }
                }
                var best = new List<(int Row, int Token, double Score)>();
                while (candidates.Count > 0) best.Add(candidates.Dequeue());
                best.Reverse();                                                 // highest first
                int filled = 0;
                foreach (var (row, tok, s) in best)
                {
                    int length = hyps[row].Count;                               // tokens after <bos>, this one included
                    if (tok == Vocabulary.EosId)
                    {
                        // Keep the k best finished hypotheses: an early, short one must not block a better, longer one.
                        finished[i].Add(([.. hyps[row].Skip(1), tok], Normalised(s, length)));
                        if (finished[i].Count > k) finished[i].Remove(finished[i].MinBy(f => f.Score));
                        continue;
                    }
                    if (filled == k) continue;
                    newHyps[i * k + filled] = [.. hyps[row], tok];
                    newScores[i * k + filled] = s;
                    filled++;
                }
                for (; filled < k; filled++) { newHyps[i * k + filled] = [.. hyps[i * k], Vocabulary.PadId]; newScores[i * k + filled] = double.NegativeInfinity; }
                if (finished[i].Count >= k)
                {
                    double bestFinished = finished[i].Max(f => f.Score);
                    double bestOpen = Enumerable.Range(0, k).Select(b => newScores[i * k + b]).Max();
                    if (double.IsNegativeInfinity(bestOpen) || Normalised(bestOpen, maxLength) <= bestFinished) done[i] = true;
                }
            }
            hyps = newHyps;
            scores = newScores;
        }
        var results = new List<long[]>(n);
        for (int i = 0; i < n; i++)
        {
            if (finished[i].Count > 0) { results.Add(finished[i].MaxBy(f => f.Score).Tokens); continue; }
            int bestRow = Enumerable.Range(i * k, k).MaxBy(r => scores[r]);
            results.Add(hyps[bestRow].Skip(1).ToArray());
        }
        return results;
    }
}
