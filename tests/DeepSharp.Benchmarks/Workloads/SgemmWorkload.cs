using System.Text.Json.Nodes;
using DeepSharp.Kernels;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>Square float GEMM C = A·B at n = 256…2048; GFLOPS = 2n³ / median time. With <c>--trans</c>
/// other than nn, A and/or B are used transposed and the lines carry <c>"trans"</c>.</summary>
public sealed class SgemmWorkload : IWorkload
{
    public string Name => "sgemm";

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        bool ta = options.Trans is "tn" or "tt", tb = options.Trans is "nt" or "tt";
        foreach (int n in options.Sizes ?? [256, 512, 1024, 2048])
        {
            var rng = new Random(n);
            float[] a = Random(rng, n * n), b = Random(rng, n * n), c = new float[n * n];
            double seconds = Timing.MedianSeconds(
                () => Gemm.Compute(ta, tb, n, n, n, 1f, a, n, b, n, 0f, c, n), options);
            double gflops = 2.0 * n * n * n / seconds / 1e9;
            var line = new JsonObject { ["workload"] = Name, ["n"] = n, ["gflops"] = Math.Round(gflops, 1) };
            if (options.Trans != "nn") line["trans"] = options.Trans;
            yield return line;
        }
    }

    private static float[] Random(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
