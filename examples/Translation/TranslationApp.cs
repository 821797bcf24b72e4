using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DeepSharp;
using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Examples.Common;
using ScottPlot;
using Spectre.Console;

namespace DeepSharp.Examples.Translation;

/// <summary>Held-out metrics of one decoding method.</summary>
public sealed record Evaluation(string Method, int Sentences, double ExactMatch, double Bleu, double Seconds, IReadOnlyList<(string Source, string Reference, string Output)> Samples);

/// <summary>Metrics after one epoch (the held-out check decodes only the first <see cref="TrainOptions.EpochEvalPairs"/> pairs).</summary>
public sealed record EpochStats(int Epoch, int Steps, double TrainLoss, double TokenAccuracy, double? CheckExactMatch, double Seconds);

/// <summary>What <see cref="TranslationApp.Run"/> returns.</summary>
/// <param name="Checks">Greedy exact match on the first held-out pairs, by optimizer step (every --eval-every steps and after each epoch).</param>
public sealed record TrainResult(string Norm, IReadOnlyList<EpochStats> Epochs, IReadOnlyList<double> StepLosses, IReadOnlyList<(int Step, double ExactMatch)> Checks, int Steps, double TrainSeconds,
    Evaluation Greedy, Evaluation? Beam, int TrainPairs, int HeldOutPairs, int SourceVocab, int TargetVocab, long Parameters,
    string? SavePath, string? PlotPath)
{
    public double ExactMatch => Greedy.ExactMatch;
    public double Bleu => Greedy.Bleu;
}

/// <summary>One translated sentence.</summary>
public sealed record Translation(string Source, string Output, IReadOnlyList<string> UnknownWords);

/// <summary>The translation example: training (<see cref="Run"/>), inference (<see cref="Translate"/>), callable in-process.</summary>
public static class TranslationApp
{
    /// <summary>Runs a command line; returns the exit code (0 success, 1 failure, 2 usage error).</summary>
    public static int Execute(string[] args, TextWriter output, TextWriter error, TextReader? input = null, bool interactive = false)
    {
        try
        {
            switch (CommandLine.Parse(args).Options)
            {
                case TrainOptions train: Run(train, output, interactive); break;
                case TranslateOptions translate: Translate(translate, output, input ?? TextReader.Null); break;
                case CorpusOptions corpus: WriteCorpus(corpus, output); break;
                case string help: output.Write(help); break;
            }
            return 0;
        }
        catch (UsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            error.WriteLine("Run with --help for the options.");
            return 2;
        }
        catch (TranslationException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    // ------------------------------------------------------------------------------------------------ training

    public static TrainResult Run(TrainOptions options, TextWriter output, bool interactive = false)
    {
        var console = ExampleConsole.Create(output, interactive);
        if (options.Threads is { } threads) Torch.SetNumThreads(threads);
        Torch.ManualSeed(options.Seed);
        var generator = new Generator(options.Seed);

        var corpus = options.DataPath is { } data
            ? ParallelCorpus.LoadTsv(data, options.HeldOutFraction, options.CorpusSeed)
            : ParallelCorpus.Toy(options.TrainPairs, options.HeldOutPairs, options.CorpusSeed);
        var srcVocab = Vocabulary.Build(corpus.Train.Select(p => (IReadOnlyList<string>)p.Source));
        var tgtVocab = Vocabulary.Build(corpus.Train.Select(p => (IReadOnlyList<string>)p.Target));
        int maxLen = corpus.Train.Concat(corpus.HeldOut).Max(p => Math.Max(p.Source.Length, p.Target.Length)) + 2;
        var config = new ModelConfig(srcVocab.Count, tgtVocab.Count, options.DModel, options.Heads, options.Layers, options.Layers,
            options.FeedForward, options.Dropout, options.NormFirst, Math.Max(64, maxLen * 2));
        var model = new Seq2SeqTransformer(config, generator);

        console.MarkupLineInterpolated($"[bold]DeepSharp translation[/] - {corpus.Description}: {corpus.Train.Count:N0} training and {corpus.HeldOut.Count:N0} held-out pairs, vocabularies {srcVocab.Count} / {tgtVocab.Count}");
        console.MarkupLineInterpolated($"Transformer [green]{config.Norm}-LN[/], d_model {config.DModel}, {config.Heads} heads, {config.EncoderLayers}+{config.DecoderLayers} layers, ff {config.FeedForward}, dropout {config.Dropout.ToString(CultureInfo.InvariantCulture)}, {model.ParameterCount():N0} parameters");
        console.MarkupLineInterpolated($"Adam (0.9, 0.98) with Noam warm-up {options.Warmup} × {options.LrFactor.ToString(CultureInfo.InvariantCulture)}, label smoothing {options.LabelSmoothing.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, up to {options.Epochs} epochs{(options.TimeLimit is { } tl ? $" or {tl.ToString(CultureInfo.InvariantCulture)} s" : "")}, seed {options.Seed}, {Torch.GetNumThreads()} threads");

        var optimizer = new Adam(model.Parameters(), lr: 1, betas: (0.9, 0.98), eps: 1e-9);
        var scheduler = new NoamLR(optimizer, config.DModel, options.Warmup, options.LrFactor);
        var lossFn = new CrossEntropyLoss(ignoreIndex: Vocabulary.PadId, labelSmoothing: options.LabelSmoothing);
        var shuffle = new Random((int)(options.Seed & 0x7fffffff));
        var heldOut = options.EvalLimit is { } limit ? corpus.HeldOut.Take(limit).ToList() : corpus.HeldOut;
        var check = heldOut.Take(options.EpochEvalPairs).ToList();

        var epochs = new List<EpochStats>();
        var stepLosses = new List<double>();
        var checks = new List<(int Step, double ExactMatch)>();
        int steps = 0;
        double Check()
        {
            double exact = Evaluate(model, check, srcVocab, tgtVocab, 1, 0).ExactMatch;
            if (checks.Count == 0 || checks[^1].Step != steps) checks.Add((steps, exact));
            return exact;
        }
        var trainClock = new Stopwatch();
        bool stop = false;
        for (int epoch = 1; epoch <= options.Epochs && !stop; epoch++)
        {
            var batches = Batcher.Epoch(corpus.Train, options.BatchSize, shuffle);
            double lossSum = 0;
            long tokens = 0, correct = 0;
            int done = 0;
            var epochClock = Stopwatch.StartNew();

            void TrainBatches(Action<int, double, double> report)
            {
                model.Train();
                foreach (var pairs in batches)
                {
                    trainClock.Start();
                    var batch = Batcher.Make(pairs, srcVocab, tgtVocab);
                    optimizer.ZeroGrad();
                    var logits = model.Forward(batch);                                        // [T, N, V]
                    var flat = logits.View(-1, config.TargetVocab);
                    var target = batch.TargetOut.Transpose(0, 1).Contiguous().View(-1);       // [T·N]
                    var loss = lossFn.Forward(flat, target);
                    loss.Backward();
                    if (options.ClipNorm > 0) ClipGrad.ClipGradNorm(model.Parameters(), options.ClipNorm);
                    optimizer.Step();
                    scheduler.Step();
                    double l = loss.Item();
                    long hits;
                    using (Autograd.NoGrad())
                        hits = (long)flat.ArgMax(-1).Eq(target).LogicalAnd(target.Ne(Vocabulary.PadId)).Float().Sum().Item();
                    trainClock.Stop();

                    steps++;
                    done++;
                    stepLosses.Add(l);
                    lossSum += l * batch.TargetTokens;
                    tokens += batch.TargetTokens;
                    correct += hits;
                    report(done, lossSum / tokens, (double)correct / tokens);
                    if (options.EvalEvery is { } every && check.Count > 0 && steps % every == 0 && done < batches.Count)
                    {
                        double exact = Check();
                        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  step {steps}: held-out check exact match {exact * 100:F1}%"));
                    }
                    if ((options.MaxSteps is { } ms && steps >= ms) || (options.TimeLimit is { } t && trainClock.Elapsed.TotalSeconds >= t))
                    {
                        stop = true;
                        break;
                    }
                }
            }

            if (interactive) WithProgressBar(console, epoch, options.Epochs, batches.Count, TrainBatches);
            else TrainBatches(PlainReporter(console, epoch, options.Epochs, batches.Count));

            double? checkExact = null;
            if (check.Count > 0)
            {
                checkExact = Check();
                if (options.StopAt is { } target && checkExact >= target) stop = true;
            }
            var stats = new EpochStats(epoch, steps, lossSum / Math.Max(1, tokens), (double)correct / Math.Max(1, tokens), checkExact, epochClock.Elapsed.TotalSeconds);
            epochs.Add(stats);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}: loss {stats.TrainLoss:F4}, token accuracy {stats.TokenAccuracy * 100:F2}%{(checkExact is { } c ? $", held-out check exact match {c * 100:F1}% ({check.Count} pairs)" : "")}, {stats.Seconds:F1} s, {steps} steps, lr {optimizer.ParamGroups[0].Lr:G3}"));
        }
        double trainSeconds = trainClock.Elapsed.TotalSeconds;
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Training: {steps} steps in {trainSeconds:F1} s ({steps / Math.Max(trainSeconds, 1e-9):F1} steps/s)."));

        var greedy = Evaluate(model, heldOut, srcVocab, tgtVocab, 1, 5);
        Evaluation? beam = options.Beam > 1 ? Evaluate(model, heldOut, srcVocab, tgtVocab, options.Beam, 0) : null;
        console.Write(ResultTable(greedy, beam));
        foreach (var (src, reference, hyp) in greedy.Samples)
        {
            console.WriteLine($"  {src}");
            console.WriteLine($"    → {hyp}{(hyp == reference ? "" : $"   (reference: {reference})")}");
        }

        string? savePath = null;
        if (options.SavePath is { } path)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            var metadata = config.ToMetadata();
            metadata["exact_match"] = greedy.ExactMatch.ToString("R", CultureInfo.InvariantCulture);
            metadata["bleu"] = greedy.Bleu.ToString("R", CultureInfo.InvariantCulture);
            SafeTensors.Save(model.StateDict(), path, metadata);
            Vocabulary.Save(Vocabulary.PathFor(path), srcVocab, tgtVocab);
            savePath = path;
            console.WriteLine($"Saved the weights to {path} and the vocabularies to {Vocabulary.PathFor(path)}");
        }

        var result = new TrainResult(config.Norm, epochs, stepLosses, checks, steps, trainSeconds, greedy, beam, corpus.Train.Count, heldOut.Count,
            srcVocab.Count, tgtVocab.Count, model.ParameterCount(), savePath, null);
        if (options.PlotPath is { } plotPath)
        {
            SavePlot([result], plotPath);
            result = result with { PlotPath = plotPath };
            console.WriteLine($"Wrote the training curves to {plotPath}");
        }

        if (options.Json)
        {
            var json = new JsonObject
            {
                ["exact_match"] = greedy.ExactMatch,
                ["bleu"] = greedy.Bleu,
                ["train_seconds"] = trainSeconds,
                ["norm"] = config.Norm,
                ["beam_size"] = beam is null ? null : options.Beam,
                ["beam_exact_match"] = beam?.ExactMatch,
                ["beam_bleu"] = beam?.Bleu,
                ["steps"] = steps,
                ["epochs"] = epochs.Count,
                ["final_train_loss"] = epochs.Count > 0 ? epochs[^1].TrainLoss : null,
                ["train_pairs"] = corpus.Train.Count,
                ["held_out_pairs"] = heldOut.Count,
                ["parameters"] = model.ParameterCount(),
                ["threads"] = Torch.GetNumThreads(),
            };
            output.Flush();
            output.WriteLine(json.ToJsonString());
        }
        output.Flush();
        return result;
    }

    /// <summary>Decodes held-out pairs in batches (greedy when <paramref name="beam"/> is 1) and scores exact match and BLEU.</summary>
    public static Evaluation Evaluate(Seq2SeqTransformer model, IReadOnlyList<TokenPair> pairs, Vocabulary src, Vocabulary tgt, int beam, int samples,
        int batchSize = 200)
    {
        bool wasTraining = model.IsTraining;
        model.Eval();
        var clock = Stopwatch.StartNew();
        var hyps = new List<IReadOnlyList<string>>(pairs.Count);
        // Decode sentences of similar length together; report in the original order.
        var order = Enumerable.Range(0, pairs.Count).OrderBy(i => pairs[i].Source.Length).ToArray();
        var decoded = new List<string>[pairs.Count];
        int chunk = beam > 1 ? Math.Max(1, batchSize / beam) : batchSize;
        for (int start = 0; start < order.Length; start += chunk)
        {
            var idx = order.Skip(start).Take(chunk).ToArray();
            var sources = idx.Select(i => src.Encode(pairs[i].Source)).ToList();
            var outputs = beam > 1 ? model.BeamDecode(sources, beam) : model.GreedyDecode(sources);
            for (int j = 0; j < idx.Length; j++) decoded[idx[j]] = tgt.Decode(outputs[j]);
        }
        int exact = 0;
        for (int i = 0; i < pairs.Count; i++)
        {
            hyps.Add(decoded[i]);
            if (decoded[i].SequenceEqual(pairs[i].Target)) exact++;
        }
        double bleu = Bleu.Corpus(hyps, pairs.Select(p => (IReadOnlyList<string>)p.Target).ToList());
        var sampleList = Enumerable.Range(0, Math.Min(samples, pairs.Count))
            .Select(i => (string.Join(' ', pairs[i].Source), string.Join(' ', pairs[i].Target), string.Join(' ', decoded[i]))).ToList();
        model.Train(wasTraining);
        return new Evaluation(beam > 1 ? $"beam {beam}" : "greedy", pairs.Count, pairs.Count == 0 ? 0 : (double)exact / pairs.Count, bleu,
            clock.Elapsed.TotalSeconds, sampleList);
    }

    // ------------------------------------------------------------------------------------------------ inference

    /// <summary>Loads a model written by --save (weights and vocabularies).</summary>
    public static (Seq2SeqTransformer Model, Vocabulary Source, Vocabulary Target) Load(string weightsPath)
    {
        if (!File.Exists(weightsPath)) throw new TranslationException($"Weights file '{weightsPath}' does not exist (write one with train --save PATH).");
        string vocabPath = Vocabulary.PathFor(weightsPath);
        if (!File.Exists(vocabPath)) throw new TranslationException($"Vocabulary file '{vocabPath}' (written next to the weights by --save) does not exist.");
        OrderedDictionary<string, Tensor> state;
        Dictionary<string, string> metadata;
        try
        {
            (state, metadata) = SafeTensors.LoadWithMetadata(weightsPath);
        }
        catch (InvalidDataException ex)
        {
            throw new TranslationException($"'{weightsPath}' is not a valid safetensors file: {ex.Message}", ex);
        }
        Vocabulary src, tgt;
        try
        {
            (src, tgt) = Vocabulary.Load(vocabPath);
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException)
        {
            throw new TranslationException($"'{vocabPath}' is not a vocabulary file: {ex.Message}", ex);
        }
        var config = ModelConfig.FromMetadata(metadata);
        if (config.SourceVocab != src.Count || config.TargetVocab != tgt.Count)
            throw new TranslationException($"'{vocabPath}' has {src.Count}/{tgt.Count} tokens but the weights expect {config.SourceVocab}/{config.TargetVocab}.");
        var model = new Seq2SeqTransformer(config);
        try
        {
            model.LoadStateDict(state);
        }
        catch (ArgumentException ex)
        {
            throw new TranslationException($"The weights in '{weightsPath}' do not fit the model described by their metadata: {ex.Message}", ex);
        }
        model.Eval();
        return (model, src, tgt);
    }

    public static List<Translation> Translate(TranslateOptions options, TextWriter output, TextReader input)
    {
        var (model, src, tgt) = Load(options.WeightsPath);
        var sentences = options.Sentences.Count > 0 ? options.Sentences.ToList() : ReadLines(input);
        var results = new List<Translation>();
        foreach (string sentence in sentences)
        {
            var tokens = Tokenizer.Tokenize(sentence);
            var unknown = tokens.Where(t => !src.Contains(t)).Distinct().ToList();
            string text = "";
            if (tokens.Length > 0)
            {
                var ids = src.Encode(tokens);
                var outIds = options.Beam > 1 ? model.BeamDecode([ids], options.Beam)[0] : model.GreedyDecode([ids])[0];
                text = Tokenizer.Detokenize(tgt.Decode(outIds));
            }
            var t = new Translation(sentence, text, unknown);
            results.Add(t);
            if (options.Json)
                output.WriteLine(new JsonObject
                {
                    ["source"] = sentence,
                    ["translation"] = text,
                    ["unknown_words"] = new JsonArray(unknown.Select(u => (JsonNode?)u).ToArray()),
                }.ToJsonString());
            else
            {
                output.WriteLine(text);
                if (unknown.Count > 0) output.WriteLine($"  (unknown words, read as <unk>: {string.Join(", ", unknown)})");
            }
        }
        output.Flush();
        return results;
    }

    private static List<string> ReadLines(TextReader input)
    {
        var lines = new List<string>();
        while (input.ReadLine() is { } line)
            if (line.Trim().Length > 0) lines.Add(line);
        return lines;
    }

    public static void WriteCorpus(CorpusOptions options, TextWriter output)
    {
        var (train, heldOut) = ToyLanguage.Corpus(options.TrainPairs, options.HeldOutPairs, options.Seed);
        var pairs = options.HeldOut ? heldOut : train;
        using var file = options.OutPath is { } p ? new StreamWriter(p) : null;
        var writer = file ?? output;
        foreach (var pair in pairs) writer.WriteLine($"{pair.Source}\t{pair.Target}");
        writer.Flush();
        if (file is not null) output.WriteLine($"Wrote {pairs.Count:N0} {(options.HeldOut ? "held-out" : "training")} pairs to {options.OutPath}");
    }

    // ------------------------------------------------------------------------------------------------ console

    private static void WithProgressBar(IAnsiConsole console, int epoch, int epochs, int batches, Action<Action<int, double, double>> body) =>
        ExampleConsole.ProgressBar(console, $"epoch {epoch}/{epochs}  starting…", batches, report =>
            body((batch, loss, accuracy) => report(batch, () =>
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}  loss [yellow]{loss:F4}[/]  token acc [green]{accuracy * 100:F2}%[/]"))));

    /// <summary>Without a terminal: a plain line at each quarter of the epoch.</summary>
    private static Action<int, double, double> PlainReporter(IAnsiConsole console, int epoch, int epochs, int batches)
    {
        var quarter = ExampleConsole.Quarters(batches);
        return (batch, loss, accuracy) =>
        {
            if (quarter(batch))
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  epoch {epoch}/{epochs} [{batch,5}/{batches}] loss {loss:F4}  token acc {accuracy * 100:F2}%"));
        };
    }

    /// <summary>The loss per step (moving average) and the held-out exact-match checks of one or more runs (e.g. pre-LN and post-LN).</summary>
    public static string SavePlot(IReadOnlyList<TrainResult> results, string path)
    {
        var first = results[0];
        var plot = new TrainingPlot(results.Count == 1
                ? $"DeepSharp translation, {first.Norm}-LN: {first.ExactMatch * 100:F1}% exact match, BLEU {first.Bleu:F1}"
                : "DeepSharp translation: " + string.Join(", ", results.Select(r => $"{r.Norm}-LN {r.ExactMatch * 100:F1}% / BLEU {r.Bleu:F1}")),
            "optimizer step", "label-smoothed cross-entropy", rightLabel: "exact match (%)");
        foreach (var result in results)
        {
            plot.SmoothedLoss($"{result.Norm}-LN train loss (moving average)", result.StepLosses, Math.Min(50, result.StepLosses.Count / 20));
            if (result.Checks.Count > 0)
                plot.Points($"{result.Norm}-LN held-out exact match (%, right axis)", result.Checks.Select(e => (double)e.Step).ToArray(),
                    result.Checks.Select(e => e.ExactMatch * 100).ToArray(), rightAxis: true, LinePattern.Dashed, markerSize: 7);
        }
        return plot.RightRange(0, 101).Save(path);
    }

    private static Table ResultTable(Evaluation greedy, Evaluation? beam)
    {
        var table = new Table().Title($"Held-out evaluation ({greedy.Sentences:N0} sentences)")
            .AddColumns(new TableColumn("decoding"), new TableColumn("exact match").RightAligned(), new TableColumn("BLEU").RightAligned(),
                new TableColumn("seconds").RightAligned());
        foreach (var e in beam is null ? [greedy] : new[] { greedy, beam })
            table.AddRow(e.Method, (e.ExactMatch * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
                e.Bleu.ToString("F2", CultureInfo.InvariantCulture), e.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        return table;
    }
}
