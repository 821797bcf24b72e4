using System.Numerics;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    /// <summary>Elements <see cref="PackAPanels{T}"/> writes for an m×k matrix (m rounded up to whole MR panels).</summary>
    internal static int PackedALength<T>(int m, int k) where T : unmanaged
    {
        int mr = Blocking.For<T>().MR;
        return (m + mr - 1) / mr * mr * k;
    }

    /// <summary>
    /// Packs a row-major m×k matrix A once into the micro-kernel's MR-row panels, for callers that multiply the same A
    /// by many small B blocks (<see cref="MultiplyPackedA{T}"/>): the Winograd convolution's transformed weights.
    /// </summary>
    internal static unsafe void PackAPanels<T>(int m, int k, T* a, int lda, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var bl = Blocking.For<T>();
        PackA(false, m, k, a, lda, bl.MR, dst, bl.Avx);
    }

    /// <summary>
    /// C[m×n] = A·B + beta·C on the calling thread, A packed by <see cref="PackAPanels{T}"/>, B row-major (row stride
    /// ldb) read in place in whole NR-column panels (the last partial panel is packed). No cache blocking: meant for
    /// the small blocks (k ≲ 512, B ≲ L2) of a caller that has already tiled the problem.
    /// </summary>
    internal static unsafe void MultiplyPackedA<T>(int m, int n, int k, T* pa, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The driver's two macro-kernels with kc = k: whole panels of B in place, the rest packed.
        var bl = Blocking.For<T>();
        int full = bl.Avx ? n / bl.NR * bl.NR : 0;
        if (full > 0) MacroKernelInPlaceB(m, full, k, T.One, pa, b, ldb, beta, c, ldc, in bl);
        if (full == n) return;
        int rest = n - full;
        T* pb = Buffers<T>.B((rest + bl.NR - 1) / bl.NR * bl.NR * k);
        PackB(false, k, rest, b + full, ldb, bl.NR, pb, bl.Avx);
        MacroKernel(m, rest, k, T.One, pa, pb, beta, c + full, ldc, in bl);
    }
}
