using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    // ---------------------------------------------------------------------------------------------
    // AVX-512: MR = 12 rows × NR = 2 Vector512 (float 12×32, double 12×16): per k step 2 loads of B, 12 broadcasts
    // of A, 24 FMAs into 24 of the 32 zmm registers. In L1/L2 a 6-row tile already runs at the FMA ceiling, but
    // in a real GEMM each tile also loads and stores its slice of C (rows ldc apart, usually out of L2) and
    // re-reads the B micro-panel from L1 once per tile: twice the rows per tile halves both (12×32 against 6×32:
    // docs/performance.md). A packed panel interleaves 12 rows per k step; tiles of at most 6 valid
    // rows (the last panel of 64 or 512 rows) run the 6-row kernel over the first half of the panel instead.
    // ---------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fmadd512<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx512F.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Avx512F.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    /// <summary>The 6×(2·Vector512) tile from the first 6 rows of a packed 12-row A micro-panel and B rows at stride
    /// <paramref name="bs"/> (mr ≤ 6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel512<T>(int kc, T* a, T* b, int bs, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w);
            Vector512<T> av = Vector512.Create(a[0]);
            c00 = Fmadd512(av, b0, c00); c01 = Fmadd512(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Fmadd512(av, b0, c10); c11 = Fmadd512(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Fmadd512(av, b0, c20); c21 = Fmadd512(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Fmadd512(av, b0, c30); c31 = Fmadd512(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Fmadd512(av, b0, c40); c41 = Fmadd512(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Fmadd512(av, b0, c50); c51 = Fmadd512(av, b1, c51);
            a += 12; b += bs;
        }
        StoreTile512(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>The 12×(2·Vector512) tile from a packed 12-row A micro-panel and B rows at stride <paramref name="bs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel512x12<T>(int kc, T* a, T* b, int bs, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<T> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w);
            Vector512<T> av = Vector512.Create(a[0]);
            c00 = Fmadd512(av, b0, c00); c01 = Fmadd512(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Fmadd512(av, b0, c10); c11 = Fmadd512(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Fmadd512(av, b0, c20); c21 = Fmadd512(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Fmadd512(av, b0, c30); c31 = Fmadd512(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Fmadd512(av, b0, c40); c41 = Fmadd512(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Fmadd512(av, b0, c50); c51 = Fmadd512(av, b1, c51);
            av = Vector512.Create(a[6]);
            c60 = Fmadd512(av, b0, c60); c61 = Fmadd512(av, b1, c61);
            av = Vector512.Create(a[7]);
            c70 = Fmadd512(av, b0, c70); c71 = Fmadd512(av, b1, c71);
            av = Vector512.Create(a[8]);
            c80 = Fmadd512(av, b0, c80); c81 = Fmadd512(av, b1, c81);
            av = Vector512.Create(a[9]);
            c90 = Fmadd512(av, b0, c90); c91 = Fmadd512(av, b1, c91);
            av = Vector512.Create(a[10]);
            ca0 = Fmadd512(av, b0, ca0); ca1 = Fmadd512(av, b1, ca1);
            av = Vector512.Create(a[11]);
            cb0 = Fmadd512(av, b0, cb0); cb1 = Fmadd512(av, b1, cb1);
            a += 12; b += bs;
        }
        if (nr == 2 * w)
        {
            // Whole rows: all twelve, or the valid ones (7–11) of the last panel.
            Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
            bool z = beta == T.Zero;
            StoreRow512(c, w, va, vb, z, c00, c01); c += ldc;
            StoreRow512(c, w, va, vb, z, c10, c11); c += ldc;
            StoreRow512(c, w, va, vb, z, c20, c21); c += ldc;
            StoreRow512(c, w, va, vb, z, c30, c31); c += ldc;
            StoreRow512(c, w, va, vb, z, c40, c41); c += ldc;
            StoreRow512(c, w, va, vb, z, c50, c51); c += ldc;
            StoreRow512(c, w, va, vb, z, c60, c61); if (mr == 7) return; c += ldc;
            StoreRow512(c, w, va, vb, z, c70, c71); if (mr == 8) return; c += ldc;
            StoreRow512(c, w, va, vb, z, c80, c81); if (mr == 9) return; c += ldc;
            StoreRow512(c, w, va, vb, z, c90, c91); if (mr == 10) return; c += ldc;
            StoreRow512(c, w, va, vb, z, ca0, ca1); if (mr == 11) return; c += ldc;
            StoreRow512(c, w, va, vb, z, cb0, cb1);
            return;
        }
        // A narrow last panel: spill the accumulators and store what is valid.
        T* tile = stackalloc T[12 * 32];
        int s = 2 * w;
        Vector512.Store(c00, tile); Vector512.Store(c01, tile + w);
        Vector512.Store(c10, tile + s); Vector512.Store(c11, tile + s + w);
        Vector512.Store(c20, tile + 2 * s); Vector512.Store(c21, tile + 2 * s + w);
        Vector512.Store(c30, tile + 3 * s); Vector512.Store(c31, tile + 3 * s + w);
        Vector512.Store(c40, tile + 4 * s); Vector512.Store(c41, tile + 4 * s + w);
        Vector512.Store(c50, tile + 5 * s); Vector512.Store(c51, tile + 5 * s + w);
        Vector512.Store(c60, tile + 6 * s); Vector512.Store(c61, tile + 6 * s + w);
        Vector512.Store(c70, tile + 7 * s); Vector512.Store(c71, tile + 7 * s + w);
        Vector512.Store(c80, tile + 8 * s); Vector512.Store(c81, tile + 8 * s + w);
        Vector512.Store(c90, tile + 9 * s); Vector512.Store(c91, tile + 9 * s + w);
        Vector512.Store(ca0, tile + 10 * s); Vector512.Store(ca1, tile + 10 * s + w);
        Vector512.Store(cb0, tile + 11 * s); Vector512.Store(cb1, tile + 11 * s + w);
        StoreEdge(tile, s, c, ldc, alpha, beta, mr, nr);
    }

    /// <summary>As <see cref="MicroKernel512{T}"/> with A read in place (row r at a + r·lda; rows ≥ mr repeat the last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel512InPlaceA<T>(int kc, T* a, int lda, T* b, int bs, T* c, int ldc, T alpha, T beta, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        T* a0 = a;
        T* a1 = a + (long)Math.Min(1, mr - 1) * lda;
        T* a2 = a + (long)Math.Min(2, mr - 1) * lda;
        T* a3 = a + (long)Math.Min(3, mr - 1) * lda;
        T* a4 = a + (long)Math.Min(4, mr - 1) * lda;
        T* a5 = a + (long)Math.Min(5, mr - 1) * lda;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w);
            Vector512<T> av = Vector512.Create(a0[p]);
            c00 = Fmadd512(av, b0, c00); c01 = Fmadd512(av, b1, c01);
            av = Vector512.Create(a1[p]);
            c10 = Fmadd512(av, b0, c10); c11 = Fmadd512(av, b1, c11);
            av = Vector512.Create(a2[p]);
            c20 = Fmadd512(av, b0, c20); c21 = Fmadd512(av, b1, c21);
            av = Vector512.Create(a3[p]);
            c30 = Fmadd512(av, b0, c30); c31 = Fmadd512(av, b1, c31);
            av = Vector512.Create(a4[p]);
            c40 = Fmadd512(av, b0, c40); c41 = Fmadd512(av, b1, c41);
            av = Vector512.Create(a5[p]);
            c50 = Fmadd512(av, b0, c50); c51 = Fmadd512(av, b1, c51);
            b += bs;
        }
        StoreTile512(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreTile512<T>(T* c, int ldc, T alpha, T beta, int mr, int nr,
        Vector512<T> c00, Vector512<T> c01, Vector512<T> c10, Vector512<T> c11, Vector512<T> c20, Vector512<T> c21,
        Vector512<T> c30, Vector512<T> c31, Vector512<T> c40, Vector512<T> c41, Vector512<T> c50, Vector512<T> c51)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        if (nr == 2 * w)
        {
            // Whole rows: all six, or the valid ones when M is not a multiple of 6. (beta = 1 goes through the
            // general form: 1·C is exact, so the bits are those of a plain add.)
            Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
            bool b0 = beta == T.Zero;
            StoreRow512(c, w, va, vb, b0, c00, c01); if (mr == 1) return; c += ldc;
            StoreRow512(c, w, va, vb, b0, c10, c11); if (mr == 2) return; c += ldc;
            StoreRow512(c, w, va, vb, b0, c20, c21); if (mr == 3) return; c += ldc;
            StoreRow512(c, w, va, vb, b0, c30, c31); if (mr == 4) return; c += ldc;
            StoreRow512(c, w, va, vb, b0, c40, c41); if (mr == 5) return; c += ldc;
            StoreRow512(c, w, va, vb, b0, c50, c51);
        }
        else
        {
            StoreEdgeTile512(c, ldc, alpha, beta, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void StoreEdgeTile512<T>(T* c, int ldc, T alpha, T beta, int mr, int nr,
        Vector512<T> c00, Vector512<T> c01, Vector512<T> c10, Vector512<T> c11, Vector512<T> c20, Vector512<T> c21,
        Vector512<T> c30, Vector512<T> c31, Vector512<T> c40, Vector512<T> c41, Vector512<T> c50, Vector512<T> c51)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count, nrFull = 2 * w;
        T* tile = stackalloc T[6 * 32];
        Vector512.Store(c00, tile + 0 * nrFull); Vector512.Store(c01, tile + 0 * nrFull + w);
        Vector512.Store(c10, tile + 1 * nrFull); Vector512.Store(c11, tile + 1 * nrFull + w);
        Vector512.Store(c20, tile + 2 * nrFull); Vector512.Store(c21, tile + 2 * nrFull + w);
        Vector512.Store(c30, tile + 3 * nrFull); Vector512.Store(c31, tile + 3 * nrFull + w);
        Vector512.Store(c40, tile + 4 * nrFull); Vector512.Store(c41, tile + 4 * nrFull + w);
        Vector512.Store(c50, tile + 5 * nrFull); Vector512.Store(c51, tile + 5 * nrFull + w);
        StoreEdge(tile, nrFull, c, ldc, alpha, beta, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow512<T>(T* c, int w, Vector512<T> va, Vector512<T> vb, bool betaZero, Vector512<T> x0, Vector512<T> x1)
        where T : unmanaged
    {
        if (betaZero) Store512(c, w, va, x0, x1);
        else Store512B(c, w, va, vb, x0, x1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store512<T>(T* c, int w, Vector512<T> va, Vector512<T> x0, Vector512<T> x1) where T : unmanaged
    {
        Vector512.Store(va * x0, c);
        Vector512.Store(va * x1, c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store512B<T>(T* c, int w, Vector512<T> va, Vector512<T> vb, Vector512<T> x0, Vector512<T> x1) where T : unmanaged
    {
        Vector512.Store(Fmadd512(va, x0, vb * Vector512.Load(c)), c);
        Vector512.Store(Fmadd512(va, x1, vb * Vector512.Load(c + w)), c + w);
    }
}
