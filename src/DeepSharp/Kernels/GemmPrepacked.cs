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
        var bl = Blocking.For<T>();
        int mr = bl.MR, nr = bl.NR;
        int full = bl.Avx ? n / nr * nr : 0;
        for (int jr = 0; jr < full; jr += nr)
            for (int ir = 0; ir < m; ir += mr)
                MicroKernelAvx(k, pa + (long)ir * k, b + jr, ldb, c + (long)ir * ldc + jr, ldc, T.One, beta, Min(mr, m - ir), nr);
        if (full == n) return;
        int rest = n - full;
        T* pb = Buffers<T>.B((rest + nr - 1) / nr * nr * k);
        PackB(false, k, rest, b + full, ldb, nr, pb, bl.Avx);
        for (int jr = 0; jr < rest; jr += nr)
        {
            int nrEff = Min(nr, rest - jr);
            for (int ir = 0; ir < m; ir += mr)
            {
                T* cTile = c + (long)ir * ldc + full + jr;
                if (bl.Avx) MicroKernelAvx(k, pa + (long)ir * k, pb + (long)jr * k, cTile, ldc, T.One, beta, Min(mr, m - ir), nrEff);
                else MicroKernelPortable(k, pa + (long)ir * k, pb + (long)jr * k, cTile, ldc, T.One, beta, Min(mr, m - ir), nrEff);
            }
        }
    }
}
