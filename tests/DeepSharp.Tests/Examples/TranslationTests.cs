using System.Text.Json;
using DeepSharp.Examples.Common;
using DeepSharp.Examples.Translation;

namespace DeepSharp.Tests.Examples;

/// <summary>The translation example: grammar, vocabulary, BLEU, decoding, and a tiny in-process training run.</summary>
[TestFixture]
public class TranslationTests
{
    private static IReadOnlyList<string> T(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    // ------------------------------------------------------------------------------------------------ BLEU

    [Test]
    public void BleuOfIdenticalCorporaIs100()
    {
        var refs = new[] { T("the cat sat on the mat"), T("a dog runs in the big green park today") };
        Assert.That(Bleu.Corpus(refs, refs), Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void BleuMatchesAHandWorkedSentence()
    {
        // hyp "the cat sat on the mat" vs ref "the cat sat on a mat":
        // p1 = 5/6 ("the" clipped to 1), p2 = 3/5, p3 = 2/4, p4 = 1/3, equal lengths so BP = 1:
        // BLEU = (5/6 · 3/5 · 2/4 · 1/3)^¼ = (1/12)^¼ = 0.537285.
        var stats = Bleu.Statistics([T("the cat sat on the mat")], [T("the cat sat on a mat")]);
        Assert.That(stats.Matches, Is.EqualTo(new long[] { 5, 3, 2, 1 }));
        Assert.That(stats.Totals, Is.EqualTo(new long[] { 6, 5, 4, 3 }));
        Assert.That(stats.BrevityPenalty, Is.EqualTo(1));
        Assert.That(stats.Score, Is.EqualTo(53.7284965911771).Within(1e-9));
    }

    [Test]
    public void BleuSumsCountsOverTheCorpusAndAppliesTheBrevityPenalty()
    {
        // Adding hyp "a b c d" vs ref "a b c d e f g h": matches and totals add up to 9/10, 6/8, 4/6, 2/4;
        // c = 10 < r = 14, so BP = exp(1 − 14/10). BLEU = BP · (0.9 · 0.75 · 2/3 · 0.5)^¼ = 46.1666.
        var stats = Bleu.Statistics([T("the cat sat on the mat"), T("a b c d")], [T("the cat sat on a mat"), T("a b c d e f g h")]);
        Assert.That(stats.Matches, Is.EqualTo(new long[] { 9, 6, 4, 2 }));
        Assert.That(stats.Totals, Is.EqualTo(new long[] { 10, 8, 6, 4 }));
        Assert.That(stats.BrevityPenalty, Is.EqualTo(Math.Exp(1 - 14.0 / 10)).Within(1e-12));
        Assert.That(stats.Score, Is.EqualTo(46.16659417741073).Within(1e-9));
    }

    [Test]
    public void BleuIsZeroWithoutA4GramMatchOrForEmptyOutput()
    {
        Assert.That(Bleu.Corpus([T("the cat is on the mat")], [T("the cat sat on the mat")]), Is.EqualTo(0));
        Assert.That(Bleu.Corpus([T("")], [T("the cat sat on the mat")]), Is.EqualTo(0));
        Assert.Throws<ArgumentException>(() => Bleu.Corpus([T("a")], []));
    }

    // ------------------------------------------------------------------------------------------------ toy language

    [Test]
    public void GrammarIsDeterministicAndTheHeldOutSplitIsDisjoint()
    {
        var (train1, held1) = ToyLanguage.Corpus(3000, 300, seed: 7);
        var (train2, held2) = ToyLanguage.Corpus(3000, 300, seed: 7);
        Assert.That(train1, Is.EqualTo(train2));
        Assert.That(held1, Is.EqualTo(held2));
        var (train3, _) = ToyLanguage.Corpus(3000, 300, seed: 8);
        Assert.That(train3, Is.Not.EqualTo(train1));

        var trainSources = train1.Select(p => p.Source).ToHashSet();
        Assert.That(trainSources, Has.Count.EqualTo(3000), "training sentences are distinct");
        Assert.That(held1.Where(p => trainSources.Contains(p.Source)), Is.Empty, "no held-out sentence occurs in training");
        foreach (var p in train1.Concat(held1))
        {
            int n = T(p.Source).Count;
            Assert.That(n, Is.InRange(ToyLanguage.MinLength, ToyLanguage.MaxLength), p.Source);
        }
        var lengths = train1.Select(p => T(p.Source).Count).ToHashSet();
        Assert.That(lengths.Min(), Is.EqualTo(3));
        Assert.That(lengths.Max(), Is.GreaterThanOrEqualTo(14));
    }

    [Test]
    public void ToyTranslationReordersAgreesAndWritesDigits()
    {
        var (train, _) = ToyLanguage.Corpus(5000, 0, seed: 3);
        int reordered = 0;
        foreach (var p in train)
        {
            var src = T(p.Source).ToList();
            var tgt = T(p.Target);
            Assert.That(tgt, Does.Contain(ToyLanguage.ObjectMarker), p.Target);
            // Number words become digits, and no English number word survives.
            for (int k = 0; k < ToyLanguage.NumberWords.Length; k++)
                if (src.Contains(ToyLanguage.NumberWords[k])) Assert.That(tgt, Does.Contain((k + 1).ToString()), p.Source);
            Assert.That(tgt.Intersect(ToyLanguage.NumberWords), Is.Empty);
            // The sentence ends with the verb (SOV), whose ending agrees with the subject.
            var verb = ToyLanguage.Verbs.Single(v => src.Contains(v.Singular) || src.Contains(v.Plural));
            Assert.That(tgt[^1], Does.StartWith(verb.Toy));
            int verbAt = src.Contains(verb.Singular) ? src.IndexOf(verb.Singular) : src.IndexOf(verb.Plural);
            if (verbAt < src.Count - 1) reordered++;
        }
        Assert.That(reordered, Is.EqualTo(train.Count), "English is SVO, so the verb is never last");

        // Hand-checked pairs of the seed-1 corpus: gendered article, adjectives after the noun agreeing with it
        // (doctor is feminine: kalm-a negr-a), the postposition phrase after the subject, object marker, verb last
        // agreeing with the subject (vid-is: feminine singular; kon-us: feminine plural), "ten" → 10.
        var (seed1, _) = ToyLanguage.Corpus(12, 2, seed: 1);
        Assert.That(seed1[0], Is.EqualTo(new SentencePair("the quiet black doctor sees my kings", "la medika kalma negra miaj rekon ka vidis")));
        Assert.That(seed1[3], Is.EqualTo(new SentencePair("the cats know ten children with a teacher", "las mirelen una dozen kun 10 kindon ka konus")));
    }

    [Test]
    public void AgreementFollowsTheSubjectsGenderAndNumber()
    {
        // Generate until sentences with a known subject shape appear, then check the verb and adjective endings.
        var rng = new Random(5);
        bool sawFemPl = false, sawMascSg = false;
        for (int i = 0; i < 50000 && !(sawFemPl && sawMascSg); i++)
        {
            var p = ToyLanguage.Sentence(rng);
            var src = T(p.Source);
            var tgt = T(p.Target);
            if (src.Count >= 3 && src[0] == "the" && src[1] == "big" && src[2] == "cats")
            {
                sawFemPl = true;
                Assert.That(tgt.Take(3), Is.EqualTo(new[] { "las", "mirelen", "granaj" }), p.Source);
                Assert.That(tgt[^1], Does.EndWith("us"), p.Target);
            }
            if (src.Count >= 2 && src[0] == "a" && src[1] == "dog")
            {
                sawMascSg = true;
                Assert.That(tgt.Take(2), Is.EqualTo(new[] { "un", "tovu" }), p.Source);
                Assert.That(tgt[^1], Does.EndWith("as"), p.Target);
            }
        }
        Assert.That(sawFemPl && sawMascSg, Is.True);
    }

    // ------------------------------------------------------------------------------------------------ data

    [Test]
    public void VocabularyHasTheSpecialTokensFirstAndMapsUnknownWords()
    {
        var v = Vocabulary.Build([T("b a b"), T("c b")]);
        Assert.That(v.Tokens.Take(5), Is.EqualTo(new[] { "<pad>", "<bos>", "<eos>", "<unk>", "b" }));
        Assert.That(v.Encode(T("a zzz"), bos: true), Is.EqualTo(new long[] { Vocabulary.BosId, v["a"], Vocabulary.UnkId, Vocabulary.EosId }));
        Assert.That(v.Decode([Vocabulary.BosId, v["c"], Vocabulary.EosId, v["a"]]), Is.EqualTo(new[] { "c" }));
        Assert.That(Tokenizer.Tokenize("It's 3 p.m., ok?"), Is.EqualTo(new[] { "It's", "3", "p", ".", "m", ".", ",", "ok", "?" }));

        string path = Path.Combine(Path.GetTempPath(), $"vocab-{Guid.NewGuid():N}.json");
        try
        {
            Vocabulary.Save(path, v, v);
            var (s, _) = Vocabulary.Load(path);
            Assert.That(s.Tokens, Is.EqualTo(v.Tokens));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void TsvCorpusHoldsOutWholeSourceSentences()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pairs-{Guid.NewGuid():N}.tsv");
        try
        {
            var lines = Enumerable.Range(0, 100).Select(i => $"source {i % 40}\ttarget {i}").Append("").ToArray();
            File.WriteAllLines(path, lines);
            var corpus = ParallelCorpus.LoadTsv(path, 0.1, seed: 1);
            Assert.That(corpus.Train.Count + corpus.HeldOut.Count, Is.EqualTo(100));
            var trainSources = corpus.Train.Select(p => string.Join(' ', p.Source)).ToHashSet();
            Assert.That(corpus.HeldOut, Is.Not.Empty);
            Assert.That(corpus.HeldOut.Where(p => trainSources.Contains(string.Join(' ', p.Source))), Is.Empty);
            File.WriteAllText(path, "no tab here\n");
            Assert.Throws<TranslationException>(() => ParallelCorpus.LoadTsv(path, 0.1, 1));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void BatchesUseTeacherForcingAndPaddingMasks()
    {
        var src = Vocabulary.Build([T("x y z")]);
        var tgt = Vocabulary.Build([T("p q")]);
        var batch = Batcher.Make([new TokenPair(["x", "y", "z"], ["p", "q"]), new TokenPair(["y"], ["q"])], src, tgt);
        Assert.That(batch.Source.Shape, Is.EqualTo(new[] { 2, 4 }));
        Assert.That(batch.TargetIn.ToArray<long>(), Is.EqualTo(new long[] { 1, tgt["p"], tgt["q"], 1, tgt["q"], 0 }));
        Assert.That(batch.TargetOut.ToArray<long>(), Is.EqualTo(new long[] { tgt["p"], tgt["q"], 2, tgt["q"], 2, 0 }));
        Assert.That(batch.SourcePadding.ToArray<bool>(), Is.EqualTo(new[] { false, false, false, false, false, false, true, true }));
        Assert.That(batch.TargetPadding.ToArray<bool>(), Is.EqualTo(new[] { false, false, false, false, false, true }));
        Assert.That(batch.TargetTokens, Is.EqualTo(5));
    }

    [Test]
    public void CommandLineParsesTrainAndTranslate()
    {
        var (cmd, o) = CommandLine.Parse(["--norm", "post", "--d-model", "32", "--json", "--beam", "3"]);
        Assert.That(cmd, Is.EqualTo("train"));
        var train = (TrainOptions)o!;
        Assert.That((train.NormFirst, train.DModel, train.Json, train.Beam), Is.EqualTo((false, 32, true, 3)));
        var (cmd2, o2) = CommandLine.Parse(["translate", "--weights", "m.safetensors", "the dog sees a cat"]);
        Assert.That(cmd2, Is.EqualTo("translate"));
        Assert.That(((TranslateOptions)o2!).Sentences, Is.EqualTo(new[] { "the dog sees a cat" }));
        Assert.Throws<UsageException>(() => CommandLine.Parse(["--norm", "sideways"]));
        Assert.Throws<UsageException>(() => CommandLine.Parse(["translate", "--epochs", "3"]));
        var error = new StringWriter();
        Assert.That(TranslationApp.Execute(["--bogus"], new StringWriter(), error), Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("--bogus"));
    }

    // ------------------------------------------------------------------------------------------------ training and decoding

    [Test]
    public void BeamSearchKeepsALongerBetterHypothesisAfterEarlyFinishedOnes()
    {
        // Vocabulary: 0 <pad>, 1 <bos>, 2 <eos>, 3 "a", 4 "b". Scores by prefix:
        //   [bos]       → eos 0.3, a 0.69, b 0.01
        //   [bos a]     → b 0.99 (the good path: "a b <eos>")
        //   [bos b]     → eos 0.99 (an early, poor finished hypothesis)
        //   [bos a b]   → eos 0.99
        // With k = 2 the beam finishes "<eos>" and "b <eos>" before "a b <eos>", which must still win.
        const int V = 5;
        double[] Row(params (int Token, double P)[] ps)
        {
            var row = Enumerable.Repeat(Math.Log(1e-6), V).ToArray();
            foreach (var (t, p) in ps) row[t] = Math.Log(p);
            return row;
        }
        var calls = 0;
        var result = BeamSearch.Search(1, 2, V, 10, prefixes =>
        {
            calls++;
            return prefixes.SelectMany(p => string.Join(' ', p) switch
            {
                "1" => Row((2, 0.3), (3, 0.69), (4, 0.01)),
                "1 3" => Row((4, 0.99)),
                "1 4" => Row((2, 0.99)),
                "1 3 4" => Row((2, 0.99)),
                _ => Row((2, 0.5)),
            }).ToArray();
        });
        Assert.That(result.Single(), Is.EqualTo(new long[] { 3, 4, 2 }));
        Assert.That(calls, Is.LessThan(10), "stops once no open hypothesis can win");
    }


    private static readonly TrainOptions Tiny = new()
    {
        TrainPairs = 400, HeldOutPairs = 24, DModel = 32, Heads = 2, Layers = 1, FeedForward = 64, Dropout = 0, BatchSize = 32,
        Epochs = 20, MaxSteps = 70, Warmup = 20, LrFactor = 1.0, Beam = 2, EpochEvalPairs = 0, Threads = 2, Json = true, TimeLimit = null,
    };

    [Test]
    public void TinyTrainingRunLearnsDecodesSavesAndTranslates()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"translation-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            string weights = Path.Combine(dir, "toy.safetensors");
            var result = TranslationApp.Run(Tiny with { SavePath = weights }, output);

            Assert.That(result.Steps, Is.EqualTo(70));
            double first = result.StepLosses.Take(5).Average(), last = result.StepLosses.TakeLast(5).Average();
            Assert.That(last, Is.LessThan(first * 0.8), $"loss {first:F3} → {last:F3}");
            Assert.That(result.Greedy.Sentences, Is.EqualTo(24));
            Assert.That(result.Beam, Is.Not.Null);
            Assert.That(result.Bleu, Is.InRange(0, 100));

            // The last line is the JSON summary.
            string lastLine = output.ToString().TrimEnd().Split('\n')[^1];
            using var json = JsonDocument.Parse(lastLine);
            foreach (string key in new[] { "exact_match", "bleu", "train_seconds", "norm" })
                Assert.That(json.RootElement.TryGetProperty(key, out _), Is.True, key);
            Assert.That(json.RootElement.GetProperty("norm").GetString(), Is.EqualTo("pre"));

            // Greedy and beam outputs of the saved model end with <eos> (or stop at the length limit).
            var (model, src, tgt) = TranslationApp.Load(weights);
            var (_, heldOut) = ToyLanguage.Corpus(Tiny.TrainPairs, Tiny.HeldOutPairs, Tiny.CorpusSeed);
            var sources = heldOut.Take(8).Select(p => src.Encode(Tokenizer.Tokenize(p.Source))).ToList();
            var greedy = model.GreedyDecode(sources);
            var beam = model.BeamDecode(sources, 3);
            for (int i = 0; i < sources.Count; i++)
                foreach (var outIds in new[] { greedy[i], beam[i] })
                {
                    Assert.That(outIds, Is.Not.Empty);
                    Assert.That(outIds[^1], Is.EqualTo(Vocabulary.EosId), string.Join(' ', tgt.Decode(outIds)));
                    Assert.That(outIds[..^1], Has.None.EqualTo(Vocabulary.EosId).And.None.EqualTo(Vocabulary.PadId).And.None.EqualTo(Vocabulary.BosId));
                }
            Assert.That(model.BeamDecode(sources, 1), Is.EqualTo(greedy), "beam size 1 is greedy");

            var translated = new StringWriter();
            int code = TranslationApp.Execute(["translate", "--weights", weights, "--json", "the dog sees a cat", "the zebra sees a cat"], translated, Console.Error);
            Assert.That(code, Is.EqualTo(0));
            var lines = translated.ToString().Trim().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(2));
            using var second = JsonDocument.Parse(lines[1]);
            Assert.That(second.RootElement.GetProperty("unknown_words")[0].GetString(), Is.EqualTo("zebra"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Test]
    public void PostNormTrainsOnAUserTsv()
    {
        string path = Path.Combine(Path.GetTempPath(), $"user-{Guid.NewGuid():N}.tsv");
        try
        {
            // A tiny "reverse the words" corpus.
            var rng = new Random(2);
            string[] words = ["red", "green", "blue", "one", "two", "three", "cat", "dog"];
            File.WriteAllLines(path, Enumerable.Range(0, 300).Select(_ =>
            {
                var s = Enumerable.Range(0, rng.Next(2, 6)).Select(_ => words[rng.Next(words.Length)]).ToArray();
                return string.Join(' ', s) + "\t" + string.Join(' ', s.Reverse());
            }));
            var result = TranslationApp.Run(Tiny with { DataPath = path, NormFirst = false, MaxSteps = 25, Beam = 1, Json = false }, new StringWriter());
            Assert.That(result.Norm, Is.EqualTo("post"));
            Assert.That(result.Beam, Is.Null);
            Assert.That(result.HeldOutPairs, Is.GreaterThan(0));
            Assert.That(result.StepLosses.TakeLast(5).Average(), Is.LessThan(result.StepLosses.Take(5).Average()));
        }
        finally { File.Delete(path); }
    }
}
