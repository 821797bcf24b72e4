using DeepSharp;

namespace DeepSharp.Examples.Translation;

/// <summary>A tokenised sentence pair.</summary>
public sealed record TokenPair(string[] Source, string[] Target);

/// <summary>A training split and a held-out split of tokenised pairs; no held-out source sentence occurs in training.</summary>
public sealed record ParallelCorpus(List<TokenPair> Train, List<TokenPair> HeldOut, string Description)
{
    /// <summary>The built-in toy corpus (<see cref="ToyLanguage"/>).</summary>
    public static ParallelCorpus Toy(int trainCount, int heldOutCount, int seed)
    {
        var (train, heldOut) = ToyLanguage.Corpus(trainCount, heldOutCount, seed);
        return new ParallelCorpus(train.Select(ToTokens).ToList(), heldOut.Select(ToTokens).ToList(),
            $"built-in toy English → Toy corpus (seed {seed})");
    }

    private static TokenPair ToTokens(SentencePair p) => new(Tokenizer.Tokenize(p.Source), Tokenizer.Tokenize(p.Target));

    /// <summary>
    /// A user's tab-separated parallel corpus, one "source TAB target" pair per line (empty lines skipped).
    /// Distinct source sentences are shuffled with <paramref name="seed"/> and <paramref name="heldOutFraction"/> of
    /// them held out (at least one), so no held-out source occurs in training; a source that appears several times
    /// keeps all its translations on one side.
    /// </summary>
    public static ParallelCorpus LoadTsv(string path, double heldOutFraction, int seed, int? heldOutCount = null)
    {
        if (!File.Exists(path)) throw new TranslationException($"Data file '{path}' does not exist.");
        var bySource = new Dictionary<string, List<TokenPair>>(StringComparer.Ordinal);
        var order = new List<string>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            int tab = line.IndexOf('\t');
            if (tab < 0) throw new TranslationException($"{path}:{lineNumber}: expected 'source<TAB>target', found no tab.");
            var src = Tokenizer.Tokenize(line[..tab]);
            var tgt = Tokenizer.Tokenize(line[(tab + 1)..].Split('\t')[0]);
            if (src.Length == 0 || tgt.Length == 0) throw new TranslationException($"{path}:{lineNumber}: empty source or target sentence.");
            string key = string.Join(' ', src);
            if (!bySource.TryGetValue(key, out var list))
            {
                bySource[key] = list = [];
                order.Add(key);
            }
            list.Add(new TokenPair(src, tgt));
        }
        if (order.Count < 2) throw new TranslationException($"'{path}' needs at least two distinct source sentences, found {order.Count}.");
        var rng = new Random(seed);
        var keys = order.ToArray();
        rng.Shuffle(keys);
        int held = heldOutCount ?? (int)Math.Round(keys.Length * heldOutFraction);
        held = Math.Clamp(held, 1, keys.Length - 1);
        var heldOut = keys.Take(held).SelectMany(k => bySource[k]).ToList();
        var train = keys.Skip(held).SelectMany(k => bySource[k]).ToList();
        return new ParallelCorpus(train, heldOut, $"{path} ({lineNumber} lines)");
    }
}

/// <summary>A padded mini-batch (batch-first): ids, decoder input and output, and the key padding masks (true = pad).</summary>
public sealed record Batch(Tensor Source, Tensor TargetIn, Tensor TargetOut, Tensor SourcePadding, Tensor TargetPadding, int Count, int TargetTokens);

/// <summary>Encodes pairs and groups them into padded batches of similar length.</summary>
public static class Batcher
{
    /// <summary>Pads id sequences to the longest one: a [rows, maxLen] Int64 tensor.</summary>
    public static Tensor Pad(IReadOnlyList<long[]> rows, int? length = null)
    {
        int len = length ?? rows.Max(r => r.Length);
        var data = new long[rows.Count * len]; // zero = <pad>
        for (int i = 0; i < rows.Count; i++) Array.Copy(rows[i], 0, data, i * len, rows[i].Length);
        return Tensor.FromArray(data, rows.Count, len);
    }

    /// <summary>One batch for teacher forcing: target input is &lt;bos&gt; y₁…yₙ, target output y₁…yₙ &lt;eos&gt;.</summary>
    public static Batch Make(IReadOnlyList<TokenPair> pairs, Vocabulary src, Vocabulary tgt)
    {
        var s = pairs.Select(p => src.Encode(p.Source)).ToList();
        var t = pairs.Select(p => tgt.Encode(p.Target, bos: true, eos: true)).ToList();
        var tin = t.Select(x => x[..^1]).ToList();
        var tout = t.Select(x => x[1..]).ToList();
        var source = Pad(s);
        var targetIn = Pad(tin);
        return new Batch(source, targetIn, Pad(tout), source.Eq(Vocabulary.PadId), targetIn.Eq(Vocabulary.PadId), pairs.Count, tout.Sum(x => x.Length));
    }

    /// <summary>
    /// Batches of one epoch: the pairs shuffled, then within windows of 50 batches sorted by length (less padding),
    /// cut into batches, and the batches shuffled.
    /// </summary>
    public static List<List<TokenPair>> Epoch(IReadOnlyList<TokenPair> pairs, int batchSize, Random rng)
    {
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        rng.Shuffle(order);
        var batches = new List<List<TokenPair>>();
        int window = batchSize * 50;
        for (int start = 0; start < order.Length; start += window)
        {
            var chunk = order.Skip(start).Take(window).Select(i => pairs[i])
                .OrderBy(p => p.Source.Length).ThenBy(p => p.Target.Length).ToList();
            for (int b = 0; b < chunk.Count; b += batchSize) batches.Add(chunk.GetRange(b, Math.Min(batchSize, chunk.Count - b)));
        }
        var shuffled = batches.ToArray();
        rng.Shuffle(shuffled);
        return [.. shuffled];
    }
}

/// <summary>A problem with the input (missing file, bad data) reported without a stack trace, exit code 1.</summary>
public sealed class TranslationException(string message, Exception? inner = null) : Exception(message, inner);
