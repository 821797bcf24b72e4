using BenchmarkDotNet.Attributes;
using DeepSharp.Kernels;

namespace DeepSharp.Benchmarks;

/// <summary>BenchmarkDotNet micro-benchmarks of the GEMM kernel (<c>--filter *GemmBenchmarks*</c>).</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _af = [], _bf = [], _cf = [];
    private double[] _ad = [], _bd = [], _cd = [];

    [Params(64, 256, 1024)]
    public int N { get; set; }

    [Params(false, true)]
    public bool TransB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        int len = N * N;
        _af = new float[len]; _bf = new float[len]; _cf = new float[len];
        _ad = new double[len]; _bd = new double[len]; _cd = new double[len];
        for (int i = 0; i < len; i++)
        {
            _ad[i] = rng.NextDouble() - 0.5; _bd[i] = rng.NextDouble() - 0.5;
            _af[i] = (float)_ad[i]; _bf[i] = (float)_bd[i];
        }
    }

    [Benchmark(Baseline = true)]
    public void Sgemm() => Gemm.Compute(false, TransB, N, N, N, 1f, _af, N, _bf, N, 0f, _cf, N);

    [Benchmark]
    public void Dgemm() => Gemm.Compute(false, TransB, N, N, N, 1.0, _ad, N, _bd, N, 0.0, _cd, N);
}
