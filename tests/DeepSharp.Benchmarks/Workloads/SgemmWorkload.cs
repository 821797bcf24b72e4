using System.Text.Json.Nodes;
using DeepSharp.Kernels;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>Square float GEMM C = A·B at n = 256…2048; GFLOPS = 2n³ / median time.</summary>
public sealed class SgemmWorkload : IWorkload
{
    public string Name => "sgemm";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        foreach (int n in options.Sizes ?? [256, 512, 1024, 2048])
        {
            var rng = new Random(n);
            float[] a = Random(rng, n * n), b = Random(rng, n * n), c = new float[n * n];
            double seconds = Timing.MedianSeconds(
                () => Gemm.Compute(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n), options);
            double gflops = 2.0 * n * n * n / seconds / 1e9;
            yield return new JsonObject { ["workload"] = Name, ["n"] = n, ["gflops"] = Math.Round(gflops, 1) };
        }
    }

    private static float[] Random(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
