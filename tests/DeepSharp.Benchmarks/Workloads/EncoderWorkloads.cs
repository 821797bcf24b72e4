using System.Diagnostics;
using System.Text.Json.Nodes;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>The encoder-layer benchmark configuration shared by <see cref="EncoderStepWorkload"/> and
/// <see cref="EncoderInferWorkload"/>: d_model 256, 4 heads, feed-forward 1024, dropout 0, ReLU, batch-first
/// input [32, 64, 256] (docs/benchmarks/torch_peer.py builds the same).</summary>
internal static class EncoderBench
{
    public const int DModel = 256, Heads = 4, FF = 1024, Batch = 32, Seq = 64;

    public static (TransformerEncoderLayer Layer, Tensor X) Build(string norm)
    {
        var g = new Generator(0);
        var layer = new TransformerEncoderLayer(DModel, Heads, FF, dropout: 0, activation: "relu", batchFirst: true,
            normFirst: norm == "pre", generator: g);
        var x = Tensor.Randn([Batch, Seq, DModel], DType.Float32, g);
        return (layer, x);
    }

    /// <summary>
    /// Brings every method of the step to tier-1 code before timing: the JIT's tiering is per method, not per size,
    /// so ~60 steps of a tiny layer (well under a second) do it, where the timed warm-up of the real size
    /// (a few calls of ~0.1 s) would otherwise measure partly unoptimised code.
    /// </summary>
    public static void TierUp(string norm)
    {
        var g = new Generator(1);
        var layer = new TransformerEncoderLayer(16, 4, 32, dropout: 0, activation: "relu", batchFirst: true, normFirst: norm == "pre", generator: g);
        var x = Tensor.Randn([2, 8, 16], DType.Float32, g);
        var opt = new Adam(layer.Parameters(), lr: 1e-4);
        for (int i = 0; i < 60; i++)
        {
            Step(layer, x, opt);
            layer.Eval();
            using (Autograd.NoGrad()) layer.Forward(x);
            layer.Train();
        }
        Thread.Sleep(300); // let the background tier-1 compilations finish
    }

    /// <summary>One training step: forward, loss = mean(y²), backward, Adam.</summary>
    public static void Step(TransformerEncoderLayer layer, Tensor x, Adam opt)
    {
        opt.ZeroGrad();
        var y = layer.Forward(x);
        var loss = (y * y).Mean();
        loss.Backward();
        opt.Step();
    }
}

/// <summary>
/// <c>encoder_step</c>: one training step of a TransformerEncoderLayer (see <see cref="EncoderBench"/>), pre- and
/// post-LN; reports the median milliseconds per step. With the environment variable <c>DEEPSHARP_PROFILE=1</c> it also
/// prints a Stopwatch breakdown (forward by sublayer, backward, optimizer) to stderr.
/// </summary>
public sealed class EncoderStepWorkload : IWorkload
{
    public string Name => "encoder_step";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        foreach (var norm in new[] { "pre", "post" })
        {
            EncoderBench.TierUp(norm);
            var (layer, x) = EncoderBench.Build(norm);
            var opt = new Adam(layer.Parameters(), lr: 1e-4);
            double seconds = Timing.MedianSeconds(() => EncoderBench.Step(layer, x, opt), options);
            if (Environment.GetEnvironmentVariable("DEEPSHARP_PROFILE") == "1") Profile(layer, x, opt, norm);
            yield return new JsonObject { ["workload"] = Name, ["norm"] = norm, ["ms"] = Math.Round(seconds * 1e3, 2) };
        }
    }

    private static Tensor Ln(LayerNorm n, Tensor x) => x.LayerNorm(n.NormalizedShape, n.Weight, n.Bias, n.Eps);

    private static Tensor FF(TransformerEncoderLayer l, Tensor x) =>
        x.View(-1, EncoderBench.DModel).LinearRows(l.Linear1.Weight, l.Linear1.Bias, relu: true)
         .LinearRows(l.Linear2.Weight, l.Linear2.Bias, relu: false).View(x.Shape);

    /// <summary>Median per-phase times over 15 steps: the forward split at the sublayer boundaries (recomputed
    /// piecewise with the same ops as the layer), backward, Adam.</summary>
    private static void Profile(TransformerEncoderLayer layer, Tensor x, Adam opt, string norm)
    {
        var phases = new Dictionary<string, List<double>>();
        void Add(string k, double ms) { if (!phases.TryGetValue(k, out var l)) phases[k] = l = []; l.Add(ms); }
        // Backward nodes by name: summed within a step, median over steps.
        var nodes = new Dictionary<string, double[]>();
        int step = 0;
        Engine.NodeTimer = (n, ticks) =>
        {
            if (!nodes.TryGetValue(n.Name, out var a)) nodes[n.Name] = a = new double[15];
            a[step] += ticks * 1e3 / Stopwatch.Frequency;
        };
        for (int it = 0; it < 15; it++)
        {
            step = it;
            opt.ZeroGrad();
            var sw = Stopwatch.StartNew();
            Tensor h = x;
            double t0 = 0;
            double Lap() { double t = sw.Elapsed.TotalMilliseconds; double d = t - t0; t0 = t; return d; }
            if (layer.NormFirst)
            {
                var n1 = Ln(layer.Norm1, h); Add("fwd LN", Lap());
                var sa = layer.SelfAttn.Forward(n1, n1, n1, needWeights: false).Output; Add("fwd attention", Lap());
                h = h + sa; Add("fwd residual", Lap());
                var n2 = Ln(layer.Norm2, h); Add("fwd LN", Lap());
                var ff = FF(layer, n2); Add("fwd feed-forward", Lap());
                h = h + ff; Add("fwd residual", Lap());
            }
            else
            {
                var sa = layer.SelfAttn.Forward(h, h, h, needWeights: false).Output; Add("fwd attention", Lap());
                var r = h + sa; Add("fwd residual", Lap());
                h = Ln(layer.Norm1, r); Add("fwd LN", Lap());
                var ff = FF(layer, h); Add("fwd feed-forward", Lap());
                r = h + ff; Add("fwd residual", Lap());
                h = Ln(layer.Norm2, r); Add("fwd LN", Lap());
            }
            var loss = (h * h).Mean(); Add("fwd loss", Lap());
            loss.Backward(); Add("backward", Lap());
            opt.Step(); Add("adam", Lap());
        }
        var parts = phases.Select(p =>
        {
            // Sum the per-step laps of a phase that occurs twice (LN, residual) before the median.
            int per = p.Value.Count / 15;
            var steps = Enumerable.Range(0, 15).Select(i => p.Value.Skip(i * per).Take(per).Sum()).OrderBy(v => v).ToList();
            return $"{p.Key} {steps[7]:F1}";
        });
        Engine.NodeTimer = null;
        Console.Error.WriteLine($"profile encoder_step norm={norm} (median ms): " + string.Join(", ", parts));
        foreach (var (name, a) in nodes.OrderByDescending(kv => kv.Value.Sum()))
        {
            Array.Sort(a);
            Console.Error.WriteLine($"  bwd {name,-28} {a[7],7:F2}");
        }
    }
}

/// <summary><c>encoder_infer</c>: the forward of the same layer in eval mode under <see cref="Autograd.NoGrad"/>.</summary>
public sealed class EncoderInferWorkload : IWorkload
{
    public string Name => "encoder_infer";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        foreach (var norm in new[] { "pre", "post" })
        {
            EncoderBench.TierUp(norm);
            var (layer, x) = EncoderBench.Build(norm);
            layer.Eval();
            double seconds = Timing.MedianSeconds(() =>
            {
                using (Autograd.NoGrad()) layer.Forward(x);
            }, options);
            yield return new JsonObject { ["workload"] = Name, ["norm"] = norm, ["ms"] = Math.Round(seconds * 1e3, 2) };
        }
    }
}
