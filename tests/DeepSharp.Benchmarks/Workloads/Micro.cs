using System.Diagnostics;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary><c>micro</c>: interleaved A/B timings of small alternatives (median wall ms and process CPU ms).</summary>
public static class Micro
{
    public static int Run(string[] args)
    {
        DeepSharp.Kernels.KernelSettings.NumThreads = args.Length > 0 ? int.Parse(args[0]) : 1;
        var g = new Generator(1);
        var x = Tensor.Randn([128, 784], DType.Float32, g);
        var dy = Tensor.Randn([128, 512], DType.Float32, g);
        var w1 = Tensor.Randn([512, 784], DType.Float32, g) * 0.03;
        var w2 = Tensor.Randn([512, 512], DType.Float32, g) * 0.04;
        var h = x.MatMul(w1.T).Relu();
        var hc = h.Clone();
        var hn = Tensor.Randn([128, 512], DType.Float32, g);
        var cases = new (string Name, Action Body)[]
        {
            ("fwd1: x W1^T", () => x.MatMul(w1.T)),
            ("fwd2: relu(h) W2^T", () => h.MatMul(w2.T)),
            ("fwd2: randn W2^T", () => hn.MatMul(w2.T)),
            ("dW old: (x^T dy)^T.Clone", () => x.MT.MatMul(dy).MT.Contiguous()),
            ("dW new: dy^T x", () => dy.MT.MatMul(x)),
            ("dW nn: plain [512,128]x[128,784]", () => dy.MT.Contiguous().MatMul(x)),
        };
        var wall = cases.Select(_ => new List<double>()).ToArray();
        var cpu = cases.Select(_ => new List<double>()).ToArray();
        var proc = Process.GetCurrentProcess();
        for (int rep = 0; rep < 40; rep++)
            for (int c = 0; c < cases.Length; c++)
            {
                proc.Refresh();
                var c0 = proc.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < 5; i++) cases[c].Body();
                wall[c].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds / 5);
                proc.Refresh();
                cpu[c].Add((proc.TotalProcessorTime - c0).TotalMilliseconds / 5);
            }
        for (int c = 0; c < cases.Length; c++)
        {
            wall[c].Sort(); cpu[c].Sort();
            Console.WriteLine($"{cases[c].Name,-40} wall {wall[c][wall[c].Count / 2],8:F3} ms   cpu {cpu[c][cpu[c].Count / 2],8:F3} ms");
        }
        return 0;
    }
}
