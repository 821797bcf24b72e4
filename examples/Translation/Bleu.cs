namespace DeepSharp.Examples.Translation;

/// <summary>
/// Corpus BLEU (Papineni et al., 2002) with one reference per sentence: the clipped n-gram matches and the n-gram
/// counts of all sentences are summed first, then BLEU = BP · exp(Σₙ ¼ log pₙ) for n = 1…4, with the brevity penalty
/// BP = exp(1 − r/c) when the total hypothesis length c is shorter than the total reference length r (else 1).
/// No smoothing: a corpus without any matching 4-gram scores 0. Reported on a 0–100 scale, as sacreBLEU.
/// </summary>
public static class Bleu
{
    /// <summary>The statistics BLEU is computed from.</summary>
    public sealed record Stats(long[] Matches, long[] Totals, long HypothesisLength, long ReferenceLength)
    {
        public double Precision(int n) => Totals[n - 1] == 0 ? 0 : (double)Matches[n - 1] / Totals[n - 1];

        public double BrevityPenalty => HypothesisLength == 0 ? 0
            : HypothesisLength >= ReferenceLength ? 1 : Math.Exp(1 - (double)ReferenceLength / HypothesisLength);

        /// <summary>BLEU in [0, 100].</summary>
        public double Score
        {
            get
            {
                int order = Matches.Length;
                double logSum = 0;
                for (int n = 1; n <= order; n++)
                {
                    double p = Precision(n);
                    if (p == 0) return 0;
                    logSum += Math.Log(p) / order;
                }
                return 100 * BrevityPenalty * Math.Exp(logSum);
            }
        }
    }

    public static Stats Statistics(IReadOnlyList<IReadOnlyList<string>> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, int maxOrder = 4)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"BLEU needs one reference per hypothesis, got {hypotheses.Count} hypotheses and {references.Count} references.");
        var matches = new long[maxOrder];
        var totals = new long[maxOrder];
        long c = 0, r = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = hypotheses[s];
            var reference = references[s];
            c += hyp.Count;
            r += reference.Count;
            for (int n = 1; n <= maxOrder; n++)
            {
                var refCounts = NGrams(reference, n);
                foreach (var (gram, count) in NGrams(hyp, n))
                {
                    totals[n - 1] += count;
                    matches[n - 1] += Math.Min(count, refCounts.GetValueOrDefault(gram));
                }
            }
        }
        return new Stats(matches, totals, c, r);
    }

    /// <summary>Corpus BLEU-4 in [0, 100].</summary>
    public static double Corpus(IReadOnlyList<IReadOnlyList<string>> hypotheses, IReadOnlyList<IReadOnlyList<string>> references) =>
        Statistics(hypotheses, references).Score;

    private static Dictionary<string, int> NGrams(IReadOnlyList<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            // \u0001 cannot occur inside a token produced by the tokenizer.
            string key = string.Join('\u0001', Enumerable.Range(i, n).Select(j => tokens[j]));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }
}
