using System.Diagnostics;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary><c>profile NAME [--steps N] [--threads N]</c>: Stopwatch breakdown of a train-step workload by phase,
/// forward layer (top-level Sequential children) and backward node name (median over steps, ms).</summary>
public static class StepProfiler
{
    public static int Run(string[] args)
    {
        string name = args[0];
        int steps = 20;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--steps") steps = int.Parse(args[++i]);
            else if (args[i] == "--threads") DeepSharp.Kernels.KernelSettings.NumThreads = int.Parse(args[++i]);
        }
        var w = (TrainStepWorkload)WorkloadRunner.All.First(x => x.Name == name);
        var g = new Generator(1234);               // the workload's model and batch, exactly
        var (model, shape) = w.BuildPublic(g);
        model.Train();
        var seq = (Sequential)model;
        var x = Tensor.Randn(shape, DType.Float32, g);
        var y = Tensor.RandInt(0, 10, [shape[0]], generator: g);
        var loss = new CrossEntropyLoss();
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var times = new Dictionary<string, List<double>>();
        var stepAcc = new Dictionary<string, double>();
        void Add(string k, double ms) { stepAcc[k] = stepAcc.GetValueOrDefault(k) + ms; }
        Engine.NodeTimer = (n, ticks) => Add("bwd " + n.Name, ticks * 1e3 / Stopwatch.Frequency);
        for (int s = 0; s < steps + 5; s++)
        {
            stepAcc.Clear();
            long t = Stopwatch.GetTimestamp(), t0 = t;
            double Lap() { long now = Stopwatch.GetTimestamp(); double ms = (now - t) * 1e3 / Stopwatch.Frequency; t = now; return ms; }
            opt.ZeroGrad(); Add("zero_grad", Lap());
            Tensor h = x;
            int li = 0;
            foreach (var m in seq) { h = m.Forward(h); Add($"fwd {li++:D2} {m.GetType().Name}", Lap()); }
            var l = loss.Forward(h, y); Add("fwd loss", Lap());
            l.Backward(); Add("backward total", Lap());
            opt.Step(); Add("adam step", Lap());
            Add("step total", (Stopwatch.GetTimestamp() - t0) * 1e3 / Stopwatch.Frequency);
            if (s % 10 == 0 && Environment.GetEnvironmentVariable("PROFILE_DENORMALS") == "1")
            {
                int sub = 0, total = 0;
                foreach (var p in model.Parameters())
                    foreach (var v in p.Grad!.ToArray<float>()) { total++; if (float.IsSubnormal(v)) sub++; }
                Console.WriteLine($"step {s}: loss {l.Item():G4}, subnormal grad elements {sub}/{total}");
            }
            if (s < 5) continue;
            foreach (var (k, v) in stepAcc) { if (!times.TryGetValue(k, out var list)) times[k] = list = []; list.Add(v); }
        }
        Engine.NodeTimer = null;
        foreach (var (k, list) in times.OrderBy(kv => kv.Key))
        {
            list.Sort();
            Console.WriteLine($"{k,-40} {list[list.Count / 2],9:F3} ms");
        }
        return 0;
    }
}
