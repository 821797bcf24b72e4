using BenchmarkDotNet.Running;
using DeepSharp.Benchmarks.Workloads;

namespace DeepSharp.Benchmarks;

/// <summary>
/// <c>workloads [--json] [--threads N] [--only a,b] [--sizes 256,512]</c>: the DeepSharp side of the
/// PyTorch comparison (docs/benchmarks/torch_peer.py prints the same JSON lines). <c>reduce [reps]</c>: float32 sums,
/// pairwise kernels against the sequential loops they replaced.
/// Any other arguments go to BenchmarkDotNet's switcher (e.g. <c>--filter *Gemm*</c>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "workloads")
            return WorkloadRunner.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
        if (args.Length > 0 && args[0] == "micro")
            return Micro.Run(args.AsSpan(1).ToArray());
        if (args.Length > 0 && args[0] == "reduce")
            return ReduceBench.Run(args.AsSpan(1).ToArray());
        if (args.Length > 1 && args[0] == "profile")
            return StepProfiler.Run(args.AsSpan(1).ToArray());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
