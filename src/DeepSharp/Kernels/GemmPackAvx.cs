using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    // AVX packing of the two "gather" layouts, with in-register transposes instead of strided scalar
    // copies: op(A) not transposed (6 or 12 rows → interleaved panel) and op(B) transposed (16 or 8 rows
    // of the stored N×K matrix → row-major panel). Only used for full micro-panels on the AVX path.

    /// <summary>Full 6-row panel of a non-transposed A: dst[p·6 + r] = src[r·lda + p].</summary>
    private static unsafe void PackA6Avx<T>(int kc, T* src, int lda, T* dst) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) PackA6Avx(kc, (float*)src, lda, (float*)dst);
        else PackA6Avx(kc, (double*)src, lda, (double*)dst);
    }

    private static unsafe void PackA6Avx(int kc, float* src, int lda, float* dst)
    {
        float* s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        int p = 0;
        // Each transposed column is 8 wide (6 rows + 2 zeros) and stored at a 6-float stride: the
        // two extra floats land on the next row of the panel, which a later store overwrites. So the
        // vector loop stops before the panel's last 8 rows' worth and the tail is scalar.
        for (; p + 8 < kc; p += 8)
        {
            Transpose8x8(Avx.LoadVector256(s0 + p), Avx.LoadVector256(s1 + p), Avx.LoadVector256(s2 + p),
                Avx.LoadVector256(s3 + p), Avx.LoadVector256(s4 + p), Avx.LoadVector256(s5 + p),
                Vector256<float>.Zero, Vector256<float>.Zero,
                out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
            float* d = dst + p * 6;
            Avx.Store(d, o0); Avx.Store(d + 6, o1); Avx.Store(d + 12, o2); Avx.Store(d + 18, o3);
            Avx.Store(d + 24, o4); Avx.Store(d + 30, o5); Avx.Store(d + 36, o6); Avx.Store(d + 42, o7);
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * 6;
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
        }
    }

    private static unsafe void PackA6Avx(int kc, double* src, int lda, double* dst)
    {
        double* s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            Transpose4x4(Avx.LoadVector256(s0 + p), Avx.LoadVector256(s1 + p), Avx.LoadVector256(s2 + p),
                Avx.LoadVector256(s3 + p), out var o0, out var o1, out var o2, out var o3);
            Vector256<double> r4 = Avx.LoadVector256(s4 + p), r5 = Avx.LoadVector256(s5 + p);
            Vector256<double> lo = Avx.UnpackLow(r4, r5), hi = Avx.UnpackHigh(r4, r5);
            double* d = dst + p * 6;
            Avx.Store(d, o0); Sse2.Store(d + 4, lo.GetLower());
            Avx.Store(d + 6, o1); Sse2.Store(d + 10, hi.GetLower());
            Avx.Store(d + 12, o2); Sse2.Store(d + 16, lo.GetUpper());
            Avx.Store(d + 18, o3); Sse2.Store(d + 22, hi.GetUpper());
        }
        for (; p < kc; p++)
        {
            double* d = dst + p * 6;
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
        }
    }

    /// <summary>Full 12-row panel of a non-transposed A (the AVX-512 tile): dst[p·12 + r] = src[r·lda + p].</summary>
    private static unsafe void PackA12Avx<T>(int kc, T* src, int lda, T* dst) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) PackA12Avx(kc, (float*)src, lda, (float*)dst);
        else PackA12Avx(kc, (double*)src, lda, (double*)dst);
    }

    private static unsafe void PackA12Avx(int kc, float* src, int lda, float* dst)
    {
        float* s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        float* s6 = s5 + lda, s7 = s6 + lda, s8 = s7 + lda, s9 = s8 + lda, s10 = s9 + lda, s11 = s10 + lda;
        int p = 0;
        // Rows 0–7 transpose into 8-float column heads, rows 8–11 (+ 4 zero rows) into 4-float tails.
        for (; p + 8 <= kc; p += 8)
        {
            Transpose8x8(Avx.LoadVector256(s0 + p), Avx.LoadVector256(s1 + p), Avx.LoadVector256(s2 + p),
                Avx.LoadVector256(s3 + p), Avx.LoadVector256(s4 + p), Avx.LoadVector256(s5 + p),
                Avx.LoadVector256(s6 + p), Avx.LoadVector256(s7 + p),
                out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
            Transpose8x8(Avx.LoadVector256(s8 + p), Avx.LoadVector256(s9 + p), Avx.LoadVector256(s10 + p),
                Avx.LoadVector256(s11 + p), Vector256<float>.Zero, Vector256<float>.Zero,
                Vector256<float>.Zero, Vector256<float>.Zero,
                out var t0, out var t1, out var t2, out var t3, out var t4, out var t5, out var t6, out var t7);
            float* d = dst + p * 12;
            Avx.Store(d, o0); Sse.Store(d + 8, t0.GetLower());
            Avx.Store(d + 12, o1); Sse.Store(d + 20, t1.GetLower());
            Avx.Store(d + 24, o2); Sse.Store(d + 32, t2.GetLower());
            Avx.Store(d + 36, o3); Sse.Store(d + 44, t3.GetLower());
            Avx.Store(d + 48, o4); Sse.Store(d + 56, t4.GetLower());
            Avx.Store(d + 60, o5); Sse.Store(d + 68, t5.GetLower());
            Avx.Store(d + 72, o6); Sse.Store(d + 80, t6.GetLower());
            Avx.Store(d + 84, o7); Sse.Store(d + 92, t7.GetLower());
        }
        PackA12Tail(p, kc, src, lda, dst);
    }

    private static unsafe void PackA12Avx(int kc, double* src, int lda, double* dst)
    {
        double* s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        double* s6 = s5 + lda, s7 = s6 + lda, s8 = s7 + lda, s9 = s8 + lda, s10 = s9 + lda, s11 = s10 + lda;
        int p = 0;
        // Three 4×4 transposes: rows 0–3, 4–7 and 8–11 of each column.
        for (; p + 4 <= kc; p += 4)
        {
            Transpose4x4(Avx.LoadVector256(s0 + p), Avx.LoadVector256(s1 + p), Avx.LoadVector256(s2 + p),
                Avx.LoadVector256(s3 + p), out var a0, out var a1, out var a2, out var a3);
            Transpose4x4(Avx.LoadVector256(s4 + p), Avx.LoadVector256(s5 + p), Avx.LoadVector256(s6 + p),
                Avx.LoadVector256(s7 + p), out var b0, out var b1, out var b2, out var b3);
            Transpose4x4(Avx.LoadVector256(s8 + p), Avx.LoadVector256(s9 + p), Avx.LoadVector256(s10 + p),
                Avx.LoadVector256(s11 + p), out var c0, out var c1, out var c2, out var c3);
            double* d = dst + p * 12;
            Avx.Store(d, a0); Avx.Store(d + 4, b0); Avx.Store(d + 8, c0);
            Avx.Store(d + 12, a1); Avx.Store(d + 16, b1); Avx.Store(d + 20, c1);
            Avx.Store(d + 24, a2); Avx.Store(d + 28, b2); Avx.Store(d + 32, c2);
            Avx.Store(d + 36, a3); Avx.Store(d + 40, b3); Avx.Store(d + 44, c3);
        }
        PackA12Tail(p, kc, src, lda, dst);
    }

    /// <summary>Columns [p, kc) of a 12-row panel, element by element (the few left after the transposed blocks).</summary>
    private static unsafe void PackA12Tail<T>(int p, int kc, T* src, int lda, T* dst) where T : unmanaged
    {
        for (; p < kc; p++)
            for (int r = 0; r < 12; r++) dst[p * 12 + r] = src[(long)r * lda + p];
    }

    /// <summary>Full panel of a transposed B: dst[p·nr + j] = src[j·ldb + p], nr a multiple of 8 floats or 4 doubles.</summary>
    private static unsafe void PackBTransAvx<T>(int kc, T* src, int ldb, T* dst, int nr) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) PackBTransAvx(kc, (float*)src, ldb, (float*)dst, nr);
        else PackBTransAvx(kc, (double*)src, ldb, (double*)dst, nr);
    }

    private static unsafe void PackBTransAvx(int kc, float* src, int ldb, float* dst, int nr)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            for (int jj = 0; jj < nr; jj += 8)
            {
                float* s = src + (long)jj * ldb + p;
                Transpose8x8(Avx.LoadVector256(s), Avx.LoadVector256(s + ldb), Avx.LoadVector256(s + 2 * ldb),
                    Avx.LoadVector256(s + 3 * ldb), Avx.LoadVector256(s + 4 * ldb), Avx.LoadVector256(s + 5 * ldb),
                    Avx.LoadVector256(s + 6 * ldb), Avx.LoadVector256(s + 7 * ldb),
                    out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
                float* d = dst + p * nr + jj;
                Avx.Store(d, o0); Avx.Store(d + nr, o1); Avx.Store(d + 2 * nr, o2); Avx.Store(d + 3 * nr, o3);
                Avx.Store(d + 4 * nr, o4); Avx.Store(d + 5 * nr, o5); Avx.Store(d + 6 * nr, o6); Avx.Store(d + 7 * nr, o7);
            }
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * nr;
            for (int j = 0; j < nr; j++) d[j] = src[(long)j * ldb + p];
        }
    }

    private static unsafe void PackBTransAvx(int kc, double* src, int ldb, double* dst, int nr)
    {
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            for (int jj = 0; jj < nr; jj += 4)
            {
                double* s = src + (long)jj * ldb + p;
                Transpose4x4(Avx.LoadVector256(s), Avx.LoadVector256(s + ldb), Avx.LoadVector256(s + 2 * ldb),
                    Avx.LoadVector256(s + 3 * ldb), out var o0, out var o1, out var o2, out var o3);
                double* d = dst + p * nr + jj;
                Avx.Store(d, o0); Avx.Store(d + nr, o1); Avx.Store(d + 2 * nr, o2); Avx.Store(d + 3 * nr, o3);
            }
        }
        for (; p < kc; p++)
        {
            double* d = dst + p * nr;
            for (int j = 0; j < nr; j++) d[j] = src[(long)j * ldb + p];
        }
    }

    /// <summary>oQ[i] = rI[Q]: the 8×8 transpose of rows r0..r7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3,
        out Vector256<float> o4, out Vector256<float> o5, out Vector256<float> o6, out Vector256<float> o7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        o0 = Avx.Permute2x128(u0, u4, 0x20); o1 = Avx.Permute2x128(u1, u5, 0x20);
        o2 = Avx.Permute2x128(u2, u6, 0x20); o3 = Avx.Permute2x128(u3, u7, 0x20);
        o4 = Avx.Permute2x128(u0, u4, 0x31); o5 = Avx.Permute2x128(u1, u5, 0x31);
        o6 = Avx.Permute2x128(u2, u6, 0x31); o7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>oQ[i] = rI[Q]: the 4×4 transpose of rows r0..r3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(Vector256<double> r0, Vector256<double> r1, Vector256<double> r2, Vector256<double> r3,
        out Vector256<double> o0, out Vector256<double> o1, out Vector256<double> o2, out Vector256<double> o3)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        o0 = Avx.Permute2x128(t0, t2, 0x20); o1 = Avx.Permute2x128(t1, t3, 0x20);
        o2 = Avx.Permute2x128(t0, t2, 0x31); o3 = Avx.Permute2x128(t1, t3, 0x31);
    }
}
