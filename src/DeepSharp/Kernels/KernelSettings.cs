using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Process-wide settings that the CPU kernels read: how many threads they may use and whether the
/// AVX2/FMA paths are enabled. Both can be set from the environment so that CI can run the same
/// tests on the portable path (<c>DEEPSHARP_PORTABLE_SIMD=1</c>) and with a fixed thread count
/// (<c>DEEPSHARP_NUM_THREADS=N</c>).
/// </summary>
public static class KernelSettings
{
    private static int _numThreads = ReadThreadsFromEnvironment();

    /// <summary>True when the environment variable <c>DEEPSHARP_PORTABLE_SIMD</c> is 1/true: kernels then take
    /// their portable <see cref="Vector128"/>/<c>Vector&lt;T&gt;</c> path even where AVX2 and FMA exist.</summary>
    public static bool ForcePortable { get; } = IsTruthy(Environment.GetEnvironmentVariable("DEEPSHARP_PORTABLE_SIMD"));

    /// <summary>True when the x86 AVX2 + FMA kernels may run on this machine (and are not disabled).</summary>
    public static bool UseAvx2Fma { get; } = !ForcePortable && Avx2.IsSupported && Fma.IsSupported && Vector256.IsHardwareAccelerated;

    /// <summary>True when the GEMM micro-kernels use 512-bit vectors (AVX-512F present, AVX2/FMA path on, and not
    /// disabled with <c>DEEPSHARP_AVX512=0</c>): where the cores run 512-bit FMAs at full rate this doubles their
    /// arithmetic ceiling. CI runs the kernel tests with it off as well.</summary>
    public static bool UseAvx512 { get; } = UseAvx2Fma && Avx512F.IsSupported && Vector512.IsHardwareAccelerated
        && Environment.GetEnvironmentVariable("DEEPSHARP_AVX512") != "0";

    /// <summary>
    /// The number of threads kernels may use (default: all cores, or <c>DEEPSHARP_NUM_THREADS</c>).
    /// Like <c>torch.set_num_threads</c>; values below 1 are rejected.
    /// </summary>
    /// <remarks>Inside a kernel's worker it reads as 1, so kernels never nest thread pools.</remarks>
    public static int NumThreads
    {
        get => KernelParallel.InWorker ? 1 : _numThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(NumThreads));
            _numThreads = value;
        }
    }

    /// <summary>How many parts a reduction over the batch (LayerNorm dγ/dβ, conv dW) is cut into, whatever the thread
    /// count: the parts' partial sums are added in part order, so the bits never depend on the number of threads.</summary>
    internal const int ShapeReductionParts = 8;

    /// <summary><see cref="ShapeReductionParts"/>, fewer when each part's partial result (<paramref name="partialLength"/>
    /// elements) is large, so the partials stay within 16M elements.</summary>
    internal static int ReductionParts(int partialLength) => Math.Clamp((1 << 24) / Math.Max(1, partialLength), 1, ShapeReductionParts);

    private static int ReadThreadsFromEnvironment()
    {
        string? s = Environment.GetEnvironmentVariable("DEEPSHARP_NUM_THREADS");
        return int.TryParse(s, out int n) && n > 0 ? n : Environment.ProcessorCount;
    }

    private static bool IsTruthy(string? s) =>
        s is not null && (s == "1" || s.Equals("true", StringComparison.OrdinalIgnoreCase));
}
