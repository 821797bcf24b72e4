using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

internal static partial class Gemm
{
    /// <summary>Register (MR×NR) and cache (MC×KC, KC×NC) block sizes for one element type and SIMD path.</summary>
    internal readonly struct Blocking
    {
        public readonly int MR, NR, MC, KC, NC;
        public readonly bool Avx;

        /// <summary>Prefetch each C tile before its micro-kernel (set with the long KC: C far beyond the caches).</summary>
        public readonly bool PrefetchC;

        /// <summary>Bytes of one k step of a B micro-panel (NR elements).</summary>
        public readonly int PanelRowBytes;

        private Blocking(int mr, int nr, int mc, int kc, int nc, bool avx, int elementBytes, bool prefetchC = false)
        {
            MR = mr; NR = nr; MC = mc; KC = kc; NC = nc; Avx = avx; PanelRowBytes = nr * elementBytes; PrefetchC = prefetchC;
        }

        // Near BLIS's Zen3 values: the MC×KC block of A (≈144 KiB) sits in L2, a KC×NR micro-panel of
        // B (16 KiB) in L1, the KC×NC panel of B in L3.
        private static readonly Blocking Avx32 = new(6, 16, 144, 384, 4080, true, 4);
        private static readonly Blocking Avx64 = new(6, 8, 72, 256, 4080, true, 8);
        // AVX-512: tiles twice as wide and twice as tall (12×32 float, 12×16 double); KC 256 keeps the KC×NR
        // micro-panel of B (32 KiB) in L1.
        private static readonly Blocking Avx512x32 = new(12, 32, 144, 256, 4080, true, 4);
        private static readonly Blocking Avx512x64 = new(12, 16, 72, 256, 4080, true, 8);
        private static readonly Blocking Portable32 = new(6, 8, 144, 256, 4080, false, 4);
        private static readonly Blocking Portable64 = new(6, 4, 72, 256, 4080, false, 8);

        /// <summary>
        /// These block sizes for a GEMM whose whole C is m×n (the whole problem's, not a thread's part, so that the
        /// blocking — and the bits — do not depend on the thread count). Each KC block reads and writes all of C once;
        /// when C is far larger than the caches (≥ <see cref="KernelSettings.GemmLongKcMinC"/> elements) the AVX-512 float path doubles
        /// KC to halve that traffic, at the price of a B micro-panel (64 KiB) that streams from L2 instead of sitting
        /// in L1, and prefetches each C tile before its micro-kernel (figures in docs/performance.md).
        /// </summary>
        public Blocking ForC(int m, int n) =>
            PanelRowBytes == 128 && NR == 32 && (long)m * n >= KernelSettings.GemmLongKcMinC
                ? new Blocking(MR, NR, MC, 2 * KC, NC, Avx, PanelRowBytes / NR, prefetchC: true)
                : this;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Blocking For<T>()
        {
            if (typeof(T) == typeof(float)) return KernelSettings.UseAvx512 ? Avx512x32 : KernelSettings.UseAvx2Fma ? Avx32 : Portable32;
            return KernelSettings.UseAvx512 ? Avx512x64 : KernelSettings.UseAvx2Fma ? Avx64 : Portable64;
        }
    }

    /// <summary>Per-thread packing buffers (pinned, 64-byte aligned, grown on demand, never shrunk).</summary>
    private static class Buffers<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? t_a;
        [ThreadStatic] private static T[]? t_b;
        [ThreadStatic] private static T[]? t_shared;

        public static unsafe T* A(int length) => Get(ref t_a, length);
        public static unsafe T* B(int length) => Get(ref t_b, length);

        /// <summary>The packed B block a calling thread shares with the workers (<see cref="RunSharedB{T}"/>).</summary>
        public static unsafe T* Shared(int length) => Get(ref t_shared, length);

        private static unsafe T* Get(ref T[]? array, int length)
        {
            int pad = 64 / sizeof(T);
            if (array is null || array.Length < length + pad)
                array = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
            return (T*)((p + 63) & ~(nint)63);
        }
    }

    /// <summary>Split <paramref name="total"/> into equal blocks of at most <paramref name="max"/>, rounded up to <paramref name="unit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BalancedBlock(int total, int max, int unit)
    {
        int blocks = (total + max - 1) / max;
        int size = (total + blocks - 1) / blocks;
        size = (size + unit - 1) / unit * unit;
        return Min(size, max);
    }

    /// <summary>The BLIS five-loop algorithm on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Sequential<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, in Blocking bl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = bl.MR, nr = bl.NR;
        int kcMax = BalancedBlock(k, bl.KC, 1);
        int mcMax = BalancedBlock(m, bl.MC, mr);
        int ncMax = BalancedBlock(n, bl.NC, nr);
        T* bufA = Buffers<T>.A(mcMax * kcMax);
        T* bufB = Buffers<T>.B(((Min(ncMax, n) + nr - 1) / nr * nr) * kcMax);

        // With few rows of A, each packed B panel would be used by only a few micro-kernel calls and packing B
        // (a full read and write of it) costs about as much as the arithmetic: read a row-major B in place.
        bool inPlaceB = !transB && bl.Avx && m <= UnpackedBMaxMFor(in bl);
        // Symmetrically, with few columns each packed A panel serves only a few micro-kernel calls: read a
        // row-major A in place (B is then always packed: the in-place-A kernel reads a packed B panel).
        bool inPlaceA = !transA && bl.Avx && n <= KernelSettings.GemmUnpackedAMaxN && !inPlaceB;
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Min(kcMax, k - pc);
                T* bSrc = transB ? b + (long)jc * ldb + pc : b + (long)pc * ldb + jc;
                int fullCols = inPlaceB ? nc / nr * nr : 0;
                if (fullCols < nc)   // pack what is not read in place (all of B, or the last partial panel)
                    PackB(transB, kc, nc - fullCols, transB ? bSrc + (long)fullCols * ldb : bSrc + fullCols, ldb, nr, bufB, bl.Avx);
                T betaEff = pc == 0 ? beta : T.One;
                for (int ic = 0; ic < m; ic += mcMax)
                {
                    int mc = Min(mcMax, m - ic);
                    T* aSrc = transA ? a + (long)pc * lda + ic : a + (long)ic * lda + pc;
                    T* cBlock = c + (long)ic * ldc + jc;
                    if (inPlaceA)
                    {
                        MacroKernelInPlaceA(mc, nc - fullCols, kc, alpha, aSrc, lda, bufB, betaEff, cBlock + fullCols, ldc, in bl);
                        continue;
                    }
                    PackA(transA, mc, kc, aSrc, lda, mr, bufA, bl.Avx);
                    if (fullCols > 0) MacroKernelInPlaceB(mc, fullCols, kc, alpha, bufA, bSrc, ldb, betaEff, cBlock, ldc, in bl);
                    if (fullCols < nc) MacroKernel(mc, nc - fullCols, kc, alpha, bufA, bufB, betaEff, cBlock + fullCols, ldc, in bl);
                }
            }
        }
    }

    /// <summary>
    /// Up to how many rows B is read in place. A 64-byte micro-panel row (AVX2 float, 6×16) is one cache line per k
    /// step: reading it in place beats packing up to ~160 rows. A 128-byte row (AVX-512, 6×32 float / 6×16 double) is
    /// two lines per k step from rows ldb apart, and packing wins from ~64 rows on (figures in docs/performance.md).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int UnpackedBMaxMFor(in Blocking bl) =>
        KernelSettings.GemmUnpackedBMaxM >= 0 ? KernelSettings.GemmUnpackedBMaxM : bl.PanelRowBytes > 64 ? 48 : 160;

    /// <summary>Rows of the in-place-A micro-kernels (<see cref="MicroKernelAvxInPlaceA{T}"/>).</summary>
    private const int InPlaceARows = 6;

    /// <summary><see cref="MacroKernel{T}"/> with A read in place (row-major, row stride lda) and B packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MacroKernelInPlaceA<T>(int mc, int nc, int kc, T alpha, T* a, int lda, T* pb, T beta, T* c, int ldc, in Blocking bl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The in-place-A kernels are 6 rows tall on every path (12 row pointers would not fit the registers).
        const int mr = InPlaceARows;
        int nr = bl.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrEff = Min(nr, nc - jr);
            T* bPanel = pb + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mrEff = Min(mr, mc - ir);
                MicroKernelAvxInPlaceA(kc, a + (long)ir * lda, lda, bPanel, nr, c + (long)ir * ldc + jr, ldc, alpha, beta, mrEff, nrEff);
            }
        }
    }

    /// <summary><see cref="MacroKernel{T}"/> over full NR-wide panels of a row-major B read in place (row stride ldb).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MacroKernelInPlaceB<T>(int mc, int nc, int kc, T alpha, T* pa, T* b, int ldb, T beta, T* c, int ldc, in Blocking bl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = bl.MR, nr = bl.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            T* bPanel = b + jr;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mrEff = Min(mr, mc - ir);
                MicroKernelAvx(kc, pa + (long)ir * kc, bPanel, ldb, c + (long)ir * ldc + jr, ldc, alpha, beta, mrEff, nr);
            }
        }
    }

    /// <summary>All MR×NR tiles of an mc×nc block of C from packed A (mc×kc) and packed B (kc×nc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MacroKernel<T>(int mc, int nc, int kc, T alpha, T* pa, T* pb, T beta, T* c, int ldc, in Blocking bl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = bl.MR, nr = bl.NR;
        bool avx = bl.Avx;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrEff = Min(nr, nc - jr);
            T* bPanel = pb + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mrEff = Min(mr, mc - ir);
                T* aPanel = pa + (long)ir * kc;
                T* cTile = c + (long)ir * ldc + jr;
                if (bl.PrefetchC) PrefetchTile(cTile, ldc, mrEff, nrEff);
                if (avx) MicroKernelAvx(kc, aPanel, bPanel, cTile, ldc, alpha, beta, mrEff, nrEff);
                else MicroKernelPortable(kc, aPanel, bPanel, cTile, ldc, alpha, beta, mrEff, nrEff);
            }
        }
    }

    /// <summary>Asks for the lines of an mr×nr tile of C ahead of its micro-kernel, which reads them only after its
    /// k loop: with C far beyond the caches the loads would otherwise stall the end of every tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchTile<T>(T* c, int ldc, int mr, int nr) where T : unmanaged
    {
        if (!Sse.IsSupported) return;
        int lastByte = nr * sizeof(T) - 1;
        for (int r = 0; r < mr; r++)
        {
            byte* row = (byte*)(c + (long)r * ldc);
            for (int off = 0; off <= lastByte; off += 64) Sse.Prefetch0(row + off);
            Sse.Prefetch0(row + lastByte); // the line of the last element when the row is not 64-byte aligned
        }
    }
}
