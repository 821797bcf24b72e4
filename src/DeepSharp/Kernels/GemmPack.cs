using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    /// <summary>
    /// Packs an mc×kc block of op(A) (top-left at <paramref name="a"/>) into MR-row micro-panels: panel
    /// i holds, for each p in [0,kc), the MR values op(A)[i·MR + r, p] contiguously. Rows past mc are
    /// zero. op(A)[i,p] = a[i·lda + p], or a[p·lda + i] when transposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA<T>(bool trans, int mc, int kc, T* a, int lda, int mr, T* dst, bool avx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (trans)
        {
            // Row p of the stored K×M matrix holds op(A)[., p] contiguously: read it once, left to
            // right, scattering MR-runs into the panels (sequential reads; the panels stay in cache).
            int full = mc / mr, rest = mc - full * mr;
            long panel = (long)mr * kc;
            for (int p = 0; p < kc; p++)
            {
                T* s = a + (long)p * lda;
                T* d = dst + p * mr;
                if (mr == 6)
                {
                    for (int i = 0; i < full; i++, s += 6, d += panel)
                    {
                        d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3]; d[4] = s[4]; d[5] = s[5];
                    }
                }
                else if (mr == 12)
                {
                    for (int i = 0; i < full; i++, s += 12, d += panel)
                        Unsafe.CopyBlockUnaligned(d, s, (uint)(12 * sizeof(T)));
                }
                else
                {
                    for (int i = 0; i < full; i++, s += mr, d += panel)
                        for (int r = 0; r < mr; r++) d[r] = s[r];
                }
                if (rest > 0)
                {
                    int r = 0;
                    for (; r < rest; r++) d[r] = s[r];
                    for (; r < mr; r++) d[r] = T.Zero;
                }
            }
            return;
        }

        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Min(mr, mc - ir);
            T* src = a + (long)ir * lda;
            if (rows == 12 && mr == 12 && avx)
            {
                PackA12Avx(kc, src, lda, dst);
            }
            else if (rows == mr && mr == 6)
            {
                if (avx) PackA6Avx(kc, src, lda, dst);
                else
                {
                    T* s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
                    T* d = dst;
                    for (int p = 0; p < kc; p++, d += 6)
                    {
                        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                    }
                }
            }
            else
            {
                for (int r = 0; r < mr; r++)
                {
                    T* d = dst + r;
                    if (r < rows)
                    {
                        T* s = src + (long)r * lda;
                        for (int p = 0; p < kc; p++) d[p * mr] = s[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * mr] = T.Zero;
                    }
                }
            }
            dst += mr * kc;
        }
    }

    /// <summary>
    /// Packs a kc×nc block of op(B) (top-left at <paramref name="b"/>) into NR-column micro-panels: panel
    /// j holds, for each p in [0,kc), the NR values op(B)[p, j·NR + c] contiguously. Columns past nc are
    /// zero. op(B)[p,j] = b[p·ldb + j], or b[j·ldb + p] when transposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB<T>(bool trans, int kc, int nc, T* b, int ldb, int nr, T* dst, bool avx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int start = 0;
        if (!trans && nc >= nr)
        {
            // Whole panels row by row: each row of B is read once, front to back (the prefetchers follow it), and
            // its NR-wide pieces go to their panels. Panel by panel instead read kc rows ldb apart for each panel,
            // a new page every NR elements, which no prefetcher follows (figures in docs/performance.md).
            int full = nc / nr;
            PackBRows(kc, full, b, ldb, nr, dst);
            start = full * nr;
            dst += (long)full * kc * nr;
        }
        for (int jr = start; jr < nc; jr += nr)
        {
            int cols = Min(nr, nc - jr);
            if (!trans)
            {
                // The last, partial panel (whole panels went row by row above).
                T* src = b + jr;
                for (int p = 0; p < kc; p++)
                {
                    T* s = src + (long)p * ldb;
                    T* d = dst + p * nr;
                    int j = 0;
                    for (; j < cols; j++) d[j] = s[j];
                    for (; j < nr; j++) d[j] = T.Zero;
                }
            }
            else
            {
                // Row j of the stored N×K matrix holds op(B)[., j] contiguously.
                T* src = b + (long)jr * ldb;
                if (avx && cols == nr)
                {
                    PackBTransAvx(kc, src, ldb, dst, nr);
                    dst += nr * kc;
                    continue;
                }
                int j = 0;
                // Four columns at a time: four read streams, and each packed row gets 4 adjacent writes.
                for (; j + 4 <= cols; j += 4)
                {
                    T* s0 = src + (long)j * ldb, s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb;
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++, d += nr)
                    {
                        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
                    }
                }
                for (; j < cols; j++)
                {
                    T* s = src + (long)j * ldb;
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++, d += nr) *d = s[p];
                }
                for (; j < nr; j++)
                {
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++, d += nr) *d = T.Zero;
                }
            }
            dst += nr * kc;
        }
    }

    /// <summary>The first <paramref name="panels"/> whole NR-column panels of a row-major kc×(panels·NR) block of B,
    /// row by row; panel q of the result starts at dst + q·kc·NR.</summary>
    private static unsafe void PackBRows<T>(int kc, int panels, T* b, int ldb, int nr, T* dst) where T : unmanaged
    {
        long panelStride = (long)kc * nr;
        int pieceBytes = nr * sizeof(T);
        for (int p = 0; p < kc; p++)
        {
            T* s = b + (long)p * ldb;
            T* d = dst + (long)p * nr;
            if (pieceBytes == 128 && Vector512.IsHardwareAccelerated)
            {
                int w = Vector512<T>.Count;
                for (int q = 0; q < panels; q++, s += nr, d += panelStride)
                {
                    Vector512.Store(Vector512.Load(s), d);
                    Vector512.Store(Vector512.Load(s + w), d + w);
                }
            }
            else if (pieceBytes % 32 == 0 && Vector256.IsHardwareAccelerated)
            {
                int w = Vector256<T>.Count;
                for (int q = 0; q < panels; q++, s += nr, d += panelStride)
                    for (int v = 0; v < nr; v += w) Vector256.Store(Vector256.Load(s + v), d + v);
            }
            else
            {
                for (int q = 0; q < panels; q++, s += nr, d += panelStride)
                    Unsafe.CopyBlockUnaligned(d, s, (uint)pieceBytes);
            }
        }
    }
}
