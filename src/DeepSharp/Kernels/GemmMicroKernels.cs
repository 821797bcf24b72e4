using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    // ---------------------------------------------------------------------------------------------
    // AVX2 + FMA: MR = 6 rows × NR = 2 Vector256 (float 6×16, double 6×8). Per k step: 2 loads of B,
    // 6 broadcasts of A, 12 FMAs into 12 ymm accumulators (15 of the 16 ymm registers).
    // ---------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fmadd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<T> Broadcast256<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx.BroadcastScalarToVector256((float*)p).As<float, T>();
        return Avx.BroadcastScalarToVector256((double*)p).As<double, T>();
    }

    /// <summary>
    /// C[0..mr, 0..nr] = alpha·(Apanel·Bpanel) + beta·C for one 6×(2·Vector256) tile (beta = 0: C is
    /// not read). <paramref name="a"/> is a packed 6×kc micro-panel, <paramref name="b"/> a packed kc×NR one.
    /// </summary>
    private static unsafe void MicroKernelAvx<T>(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        MicroKernelAvx(kc, a, b, KernelSettings.UseAvx512 ? 2 * Vector512<T>.Count : 2 * Vector256<T>.Count, c, ldc, alpha, beta, mr, nr);

    /// <summary>As above with B read in place: row p of the kc×NR panel starts at b + p·<paramref name="bs"/> (bs = NR
    /// for a packed panel, ldb for an unpacked row-major B whose panel columns are contiguous).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernelAvx<T>(int kc, T* a, T* b, int bs, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (KernelSettings.UseAvx512)
        {
            if (mr > 6) MicroKernel512x12(kc, a, b, bs, c, ldc, alpha, beta, mr, nr);
            else MicroKernel512(kc, a, b, bs, c, ldc, alpha, beta, mr, nr);
            return;
        }
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            Vector256<T> b0 = Vector256.Load(b), b1 = Vector256.Load(b + w);
            Vector256<T> av = Broadcast256(a);
            c00 = Fmadd(av, b0, c00); c01 = Fmadd(av, b1, c01);
            av = Broadcast256(a + 1);
            c10 = Fmadd(av, b0, c10); c11 = Fmadd(av, b1, c11);
            av = Broadcast256(a + 2);
            c20 = Fmadd(av, b0, c20); c21 = Fmadd(av, b1, c21);
            av = Broadcast256(a + 3);
            c30 = Fmadd(av, b0, c30); c31 = Fmadd(av, b1, c31);
            av = Broadcast256(a + 4);
            c40 = Fmadd(av, b0, c40); c41 = Fmadd(av, b1, c41);
            av = Broadcast256(a + 5);
            c50 = Fmadd(av, b0, c50); c51 = Fmadd(av, b1, c51);

            b0 = Vector256.Load(b + bs); b1 = Vector256.Load(b + bs + w);
            av = Broadcast256(a + 6);
            c00 = Fmadd(av, b0, c00); c01 = Fmadd(av, b1, c01);
            av = Broadcast256(a + 7);
            c10 = Fmadd(av, b0, c10); c11 = Fmadd(av, b1, c11);
            av = Broadcast256(a + 8);
            c20 = Fmadd(av, b0, c20); c21 = Fmadd(av, b1, c21);
            av = Broadcast256(a + 9);
            c30 = Fmadd(av, b0, c30); c31 = Fmadd(av, b1, c31);
            av = Broadcast256(a + 10);
            c40 = Fmadd(av, b0, c40); c41 = Fmadd(av, b1, c41);
            av = Broadcast256(a + 11);
            c50 = Fmadd(av, b0, c50); c51 = Fmadd(av, b1, c51);
            a += 12; b += 2 * bs;
        }
        if (p < kc)
        {
            Vector256<T> b0 = Vector256.Load(b), b1 = Vector256.Load(b + w);
            Vector256<T> av = Broadcast256(a);
            c00 = Fmadd(av, b0, c00); c01 = Fmadd(av, b1, c01);
            av = Broadcast256(a + 1);
            c10 = Fmadd(av, b0, c10); c11 = Fmadd(av, b1, c11);
            av = Broadcast256(a + 2);
            c20 = Fmadd(av, b0, c20); c21 = Fmadd(av, b1, c21);
            av = Broadcast256(a + 3);
            c30 = Fmadd(av, b0, c30); c31 = Fmadd(av, b1, c31);
            av = Broadcast256(a + 4);
            c40 = Fmadd(av, b0, c40); c41 = Fmadd(av, b1, c41);
            av = Broadcast256(a + 5);
            c50 = Fmadd(av, b0, c50); c51 = Fmadd(av, b1, c51);
        }

        StoreTileAvx(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>
    /// The AVX2 tile with A read in place: row r of the 6×kc micro-panel starts at a + r·<paramref name="lda"/>
    /// (a row-major A, not packed). Rows at and beyond <paramref name="mr"/> repeat the last valid row (so no read
    /// leaves A); the edge store writes only mr rows. B as in the other variant (row stride <paramref name="bs"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernelAvxInPlaceA<T>(int kc, T* a, int lda, T* b, int bs, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (KernelSettings.UseAvx512)
        {
            MicroKernel512InPlaceA(kc, a, lda, b, bs, c, ldc, alpha, beta, mr, nr);
            return;
        }
        int w = Vector256<T>.Count;
        T* a0 = a;
        T* a1 = a + (long)Math.Min(1, mr - 1) * lda;
        T* a2 = a + (long)Math.Min(2, mr - 1) * lda;
        T* a3 = a + (long)Math.Min(3, mr - 1) * lda;
        T* a4 = a + (long)Math.Min(4, mr - 1) * lda;
        T* a5 = a + (long)Math.Min(5, mr - 1) * lda;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(b), b1 = Vector256.Load(b + w);
            Vector256<T> av = Broadcast256(a0 + p);
            c00 = Fmadd(av, b0, c00); c01 = Fmadd(av, b1, c01);
            av = Broadcast256(a1 + p);
            c10 = Fmadd(av, b0, c10); c11 = Fmadd(av, b1, c11);
            av = Broadcast256(a2 + p);
            c20 = Fmadd(av, b0, c20); c21 = Fmadd(av, b1, c21);
            av = Broadcast256(a3 + p);
            c30 = Fmadd(av, b0, c30); c31 = Fmadd(av, b1, c31);
            av = Broadcast256(a4 + p);
            c40 = Fmadd(av, b0, c40); c41 = Fmadd(av, b1, c41);
            av = Broadcast256(a5 + p);
            c50 = Fmadd(av, b0, c50); c51 = Fmadd(av, b1, c51);
            b += bs;
        }

        StoreTileAvx(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>Writes a 6×(2·Vector256) accumulator tile: C = alpha·acc + beta·C (beta = 0: C is not read), only the
    /// valid mr×nr corner of an edge tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreTileAvx<T>(T* c, int ldc, T alpha, T beta, int mr, int nr,
        Vector256<T> c00, Vector256<T> c01, Vector256<T> c10, Vector256<T> c11, Vector256<T> c20, Vector256<T> c21,
        Vector256<T> c30, Vector256<T> c31, Vector256<T> c40, Vector256<T> c41, Vector256<T> c50, Vector256<T> c51)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        if (nr == 2 * w)
        {
            // Whole rows: all six, or the valid ones when M is not a multiple of 6. (beta = 1 goes through the
            // general form: 1·C is exact, so the bits are those of a plain add.)
            Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
            bool b0 = beta == T.Zero;
            StoreRowAvx(c, w, va, vb, b0, c00, c01); if (mr == 1) return; c += ldc;
            StoreRowAvx(c, w, va, vb, b0, c10, c11); if (mr == 2) return; c += ldc;
            StoreRowAvx(c, w, va, vb, b0, c20, c21); if (mr == 3) return; c += ldc;
            StoreRowAvx(c, w, va, vb, b0, c30, c31); if (mr == 4) return; c += ldc;
            StoreRowAvx(c, w, va, vb, b0, c40, c41); if (mr == 5) return; c += ldc;
            StoreRowAvx(c, w, va, vb, b0, c50, c51);
        }
        else
        {
            StoreEdgeTileAvx(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
        }
    }

    /// <summary>Edge tile: spill the accumulators, then update only the valid mr×nr corner (kept out of line: the
    /// stackalloc would stop the full-tile store from being inlined).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void StoreEdgeTileAvx<T>(T* c, int ldc, T alpha, T beta, int mr, int nr,
        Vector256<T> c00, Vector256<T> c01, Vector256<T> c10, Vector256<T> c11, Vector256<T> c20, Vector256<T> c21,
        Vector256<T> c30, Vector256<T> c31, Vector256<T> c40, Vector256<T> c41, Vector256<T> c50, Vector256<T> c51)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        // Edge tile: spill the accumulators, then update only the valid mr×nr corner.
        int nrFull = 2 * w;
        T* tile = stackalloc T[6 * 16];
        Vector256.Store(c00, tile + 0 * nrFull); Vector256.Store(c01, tile + 0 * nrFull + w);
        Vector256.Store(c10, tile + 1 * nrFull); Vector256.Store(c11, tile + 1 * nrFull + w);
        Vector256.Store(c20, tile + 2 * nrFull); Vector256.Store(c21, tile + 2 * nrFull + w);
        Vector256.Store(c30, tile + 3 * nrFull); Vector256.Store(c31, tile + 3 * nrFull + w);
        Vector256.Store(c40, tile + 4 * nrFull); Vector256.Store(c41, tile + 4 * nrFull + w);
        Vector256.Store(c50, tile + 5 * nrFull); Vector256.Store(c51, tile + 5 * nrFull + w);
        StoreEdge(tile, nrFull, c, ldc, alpha, beta, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRowAvx<T>(T* c, int w, Vector256<T> va, Vector256<T> vb, bool betaZero, Vector256<T> x0, Vector256<T> x1)
        where T : unmanaged
    {
        if (betaZero) StoreAvx0(c, w, va, x0, x1);
        else StoreAvxB(c, w, va, vb, x0, x1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreAvx0<T>(T* c, int w, Vector256<T> va, Vector256<T> x0, Vector256<T> x1) where T : unmanaged
    {
        Vector256.Store(va * x0, c);
        Vector256.Store(va * x1, c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreAvxB<T>(T* c, int w, Vector256<T> va, Vector256<T> vb, Vector256<T> x0, Vector256<T> x1) where T : unmanaged
    {
        Vector256.Store(Fmadd(va, x0, vb * Vector256.Load(c)), c);
        Vector256.Store(Fmadd(va, x1, vb * Vector256.Load(c + w)), c + w);
    }

    /// <summary>C[0..mr, 0..nr] = alpha·tile + beta·C (beta = 0 overwrites) from a spilled accumulator tile.</summary>
    private static unsafe void StoreEdge<T>(T* tile, int tileStride, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < mr; i++)
        {
            T* t = tile + i * tileStride;
            T* cr = c + (long)i * ldc;
            if (beta == T.Zero)
            {
                for (int j = 0; j < nr; j++) cr[j] = alpha * t[j];
            }
            else
            {
                for (int j = 0; j < nr; j++) cr[j] = alpha * t[j] + beta * cr[j];
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Portable: MR = 6 rows × NR = 2 Vector128 (float 6×8, double 6×4), 12 accumulators. Vector128
    // maps to NEON on ARM64 and SSE on x86; MultiplyAddEstimate is a fused multiply-add where the
    // hardware has one and multiply + add otherwise.
    // ---------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAdd<T>(Vector128<T> a, Vector128<T> b, Vector128<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector128.MultiplyAddEstimate(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector128.MultiplyAddEstimate(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernelPortable<T>(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<T> b0 = Vector128.Load(b), b1 = Vector128.Load(b + w);
            Vector128<T> av = Vector128.Create(a[0]);
            c00 = MulAdd(av, b0, c00); c01 = MulAdd(av, b1, c01);
            av = Vector128.Create(a[1]);
            c10 = MulAdd(av, b0, c10); c11 = MulAdd(av, b1, c11);
            av = Vector128.Create(a[2]);
            c20 = MulAdd(av, b0, c20); c21 = MulAdd(av, b1, c21);
            av = Vector128.Create(a[3]);
            c30 = MulAdd(av, b0, c30); c31 = MulAdd(av, b1, c31);
            av = Vector128.Create(a[4]);
            c40 = MulAdd(av, b0, c40); c41 = MulAdd(av, b1, c41);
            av = Vector128.Create(a[5]);
            c50 = MulAdd(av, b0, c50); c51 = MulAdd(av, b1, c51);
            a += 6; b += 2 * w;
        }

        if (mr == 6 && nr == 2 * w)
        {
            Vector128<T> va = Vector128.Create(alpha);
            if (beta == T.Zero)
            {
                StoreP0(c, w, va, c00, c01); c += ldc;
                StoreP0(c, w, va, c10, c11); c += ldc;
                StoreP0(c, w, va, c20, c21); c += ldc;
                StoreP0(c, w, va, c30, c31); c += ldc;
                StoreP0(c, w, va, c40, c41); c += ldc;
                StoreP0(c, w, va, c50, c51);
            }
            else
            {
                Vector128<T> vb = Vector128.Create(beta);
                StorePB(c, w, va, vb, c00, c01); c += ldc;
                StorePB(c, w, va, vb, c10, c11); c += ldc;
                StorePB(c, w, va, vb, c20, c21); c += ldc;
                StorePB(c, w, va, vb, c30, c31); c += ldc;
                StorePB(c, w, va, vb, c40, c41); c += ldc;
                StorePB(c, w, va, vb, c50, c51);
            }
        }
        else
        {
            int nrFull = 2 * w;
            T* tile = stackalloc T[6 * 8];
            Vector128.Store(c00, tile + 0 * nrFull); Vector128.Store(c01, tile + 0 * nrFull + w);
            Vector128.Store(c10, tile + 1 * nrFull); Vector128.Store(c11, tile + 1 * nrFull + w);
            Vector128.Store(c20, tile + 2 * nrFull); Vector128.Store(c21, tile + 2 * nrFull + w);
            Vector128.Store(c30, tile + 3 * nrFull); Vector128.Store(c31, tile + 3 * nrFull + w);
            Vector128.Store(c40, tile + 4 * nrFull); Vector128.Store(c41, tile + 4 * nrFull + w);
            Vector128.Store(c50, tile + 5 * nrFull); Vector128.Store(c51, tile + 5 * nrFull + w);
            StoreEdge(tile, nrFull, c, ldc, alpha, beta, mr, nr);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreP0<T>(T* c, int w, Vector128<T> va, Vector128<T> x0, Vector128<T> x1) where T : unmanaged
    {
        Vector128.Store(va * x0, c);
        Vector128.Store(va * x1, c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StorePB<T>(T* c, int w, Vector128<T> va, Vector128<T> vb, Vector128<T> x0, Vector128<T> x1) where T : unmanaged
    {
        Vector128.Store(MulAdd(va, x0, vb * Vector128.Load(c)), c);
        Vector128.Store(MulAdd(va, x1, vb * Vector128.Load(c + w)), c + w);
    }
}
