using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Process-wide settings that the CPU kernels read, in one place: how many threads they may use, whether the
/// AVX2/FMA and AVX-512 paths are enabled, and every tuning threshold (internal). The environment variables that
/// set them (<c>DEEPSHARP_PORTABLE_SIMD=1</c> for the portable path, <c>DEEPSHARP_NUM_THREADS=N</c>, …) are
/// listed in one table in docs/performance.md.
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

    // ---- Tuning: every threshold the kernels use, in one place (the table in docs/performance.md lists them with
    // their environment variables). Mutable ones are set by tests that force a path; each keeps its measured default.

    /// <summary>How long a kernel worker spins after a job before yielding (µs; <c>DEEPSHARP_SPIN_US</c>): the next
    /// parallel kernel of a step usually follows within microseconds.</summary>
    internal static readonly int SpinMicroseconds = ReadInt("DEEPSHARP_SPIN_US", 20, min: 0);

    /// <summary>How long a worker then stays runnable yielding its core before it blocks (µs; <c>DEEPSHARP_YIELD_US</c>,
    /// 0 blocks right after spinning): waking a halted vCPU of a shared VM costs tens to hundreds of µs per fork/join.</summary>
    internal static readonly int YieldMicroseconds = ReadInt("DEEPSHARP_YIELD_US", 1000, min: 0);

    /// <summary>Element-operations from which a row-wise kernel (<see cref="FusedRowParallel"/>) is split over threads.</summary>
    internal const long RowParallelMinWork = 1L << 17;

    /// <summary>Elements (per span) from which an element-wise kernel is split over threads (1 MiB of float).</summary>
    internal static int ElementwiseMinElements = 1 << 18;

    /// <summary>Parameter elements from which an Adam/AdamW update is split over threads (seven memory-bound streams).</summary>
    internal const int OptimizerMinElements = 1 << 16;

    /// <summary>Multiply-adds from which a convolution (im2col or Winograd) runs on several threads; depthwise
    /// convolutions use a quarter of it (their per-MAC cost is higher).</summary>
    internal static long ConvParallelMinMacs = 1 << 20;

    /// <summary>Output elements from which the convolution bias gradient is split over output channels.</summary>
    internal const long ConvBiasParallelMinWork = 1 << 18;

    /// <summary>Upper bound on the bytes of one worker's im2col column tile (output rows are tiled to stay below it).</summary>
    internal static int ConvColumnTileBytes = 2 << 20;

    /// <summary>Whether 3×3 stride-1 convolutions may use Winograd F(2×2, 3×3) (<c>DEEPSHARP_WINOGRAD=0</c> turns it off).</summary>
    internal static bool WinogradEnabled = Environment.GetEnvironmentVariable("DEEPSHARP_WINOGRAD") != "0";

    /// <summary>Winograd tiles per chunk (the GEMMs' N): keeps a worker's transformed tiles in L2 while N stays wide.</summary>
    internal static int WinogradTargetTiles = 256;

    /// <summary>Window reads from which a pooling call is split over (image, channel) planes.</summary>
    internal static long PoolParallelMinWork = 1 << 18;

    /// <summary>Row-split GEMMs pack B once for all threads when B is at least this many columns wide
    /// (<c>DEEPSHARP_GEMM_SHARED_B_N</c>; int.MaxValue turns it off).</summary>
    internal static int GemmSharedBMinN = ReadInt("DEEPSHARP_GEMM_SHARED_B_N", 128);

    /// <summary>… and m·n·k is at least this (default 512³, <c>DEEPSHARP_GEMM_SHARED_B_WORK</c>): below it each
    /// thread packing its own B in one fork/join is faster.</summary>
    internal static long GemmSharedBMinWork = ReadLong("DEEPSHARP_GEMM_SHARED_B_WORK", 1L << 27);

    /// <summary>C of at least this many elements gets twice the KC on the AVX-512 float path
    /// (<c>DEEPSHARP_GEMM_LONG_KC_C</c>; long.MaxValue turns it off).</summary>
    internal static long GemmLongKcMinC = ReadLong("DEEPSHARP_GEMM_LONG_KC_C", 1L << 21);

    /// <summary>A GEMM with at most this many rows reads a non-transposed B in place instead of packing it (AVX path);
    /// −1 chooses by the micro-panel width (<c>DEEPSHARP_GEMM_INPLACE_B_M</c>).</summary>
    internal static int GemmUnpackedBMaxM = ReadInt("DEEPSHARP_GEMM_INPLACE_B_M", -1);

    /// <summary>A GEMM with at most this many columns reads a non-transposed A in place instead of packing it
    /// (AVX path; <c>DEEPSHARP_GEMM_INPLACE_A_N</c>).</summary>
    internal static int GemmUnpackedAMaxN = ReadInt("DEEPSHARP_GEMM_INPLACE_A_N", 128);

    /// <summary>The buffer pool's fixed cap in bytes (<c>DEEPSHARP_POOL_MB</c>; none by default), the initial value of
    /// <see cref="BufferPoolSettings.MaxPooledBytes"/>.</summary>
    internal static readonly long PoolCapBytes =
        long.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_POOL_MB"), out long mb) && mb >= 0 ? mb << 20 : long.MaxValue;

    /// <summary>Whether unreachable tensors' buffers are recycled (<c>DEEPSHARP_RECYCLE=0</c> turns it off), the initial
    /// value of <see cref="BufferPoolSettings.RecycleUnreachable"/>.</summary>
    internal static readonly bool RecycleUnreachable = Environment.GetEnvironmentVariable("DEEPSHARP_RECYCLE") is not ("0" or "false");

    private static int ReadInt(string name, int fallback, int min = int.MinValue) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) && v >= min ? v : fallback;

    private static long ReadLong(string name, long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable(name), out long v) ? v : fallback;

    /// <summary>Leaf size of the pairwise (cascade) summation of float reductions: a block of this many rows (for a
    /// reduction over an outer dim; 4× as many contiguous elements for one over the last dim, summed in SIMD lanes) is
    /// added directly; blocks are combined pairwise, so the rounding error grows with log₂(n / block) rather than n,
    /// as PyTorch's cascade sum. 32 measured best of 8/32/128 on SummationAccuracyTests' data.</summary>
    internal const int PairwiseSumBlock = 32;

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
