using System.Numerics;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>
/// General matrix multiply over row-major spans: C = alpha·op(A)·op(B) + beta·C.
/// op(A) is A (stored M×K, row stride lda) or, when <c>transA</c>, Aᵀ (A stored K×M, row stride lda);
/// likewise op(B) is K×N. The backward passes use the transposed forms so no transpose is materialised.
/// </summary>
/// <remarks>
/// Implementation (BLIS recipe): op(B) is packed by KC×NC blocks into NR-wide micro-panels, op(A) by
/// MC×KC blocks into MR-tall micro-panels (the packing routines absorb the transposes), and a
/// register-blocked micro-kernel computes each MR×NR tile of C. On x86 with AVX2+FMA the micro-kernel
/// uses Vector256 (float 6×16, double 6×8: 12 accumulators); elsewhere, or with
/// <c>DEEPSHARP_PORTABLE_SIMD=1</c>, a Vector128 kernel (float 6×8, double 6×4).
/// Large problems are split into independent row (or column) ranges, one per thread; each thread packs
/// its own panels into thread-local cached buffers, so one fork/join per call and no allocation in
/// steady state. Files: Gemm.cs (API, validation, threading), GemmDriver.cs (blocking loops),
/// GemmPack.cs and GemmPackAvx.cs (packing), GemmMicroKernels.cs (micro-kernels).
/// </remarks>
internal static partial class Gemm
{
    /// <summary>Below this many flops (2·m·n·k, ≈ 96³ multiply-adds, ≈ 20 µs on one thread) a GEMM runs
    /// on the calling thread only: a fork/join costs a few µs and each part repacks one operand.</summary>
    internal const long ParallelThresholdFlops = 2L * 96 * 96 * 96;

    /// <summary>Each thread gets at least this many flops of work (≈ 10 µs).</summary>
    internal const long MinFlopsPerThread = ParallelThresholdFlops / 2;

    /// <summary>C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C. float and double only.</summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfUnsupported<T>();
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (T* pa = a)
            fixed (T* pb = b)
            fixed (T* pc = c)
            {
                Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, KernelSettings.NumThreads);
            }
        }
    }

    /// <summary>
    /// A batch of independent GEMMs; matrix i of A starts at i·strideA (0 broadcasts one matrix to
    /// the whole batch), likewise B and C. Small matrices are spread over threads by batch.
    /// </summary>
    public static void ComputeStridedBatched<T>(int batch, bool transA, bool transB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfUnsupported<T>();
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(strideA);
        ArgumentOutOfRangeException.ThrowIfNegative(strideB);
        ArgumentOutOfRangeException.ThrowIfNegative(strideC);
        ValidateDims(m, n, k);
        if (batch == 0 || m == 0 || n == 0) return;

        long aLen = k == 0 ? 0 : Required(transA ? k : m, transA ? m : k, lda, nameof(lda));
        long bLen = k == 0 ? 0 : Required(transB ? n : k, transB ? k : n, ldb, nameof(ldb));
        long cLen = Required(m, n, ldc, nameof(ldc));
        if (aLen > 0 && (long)(batch - 1) * strideA + aLen > a.Length)
            throw new ArgumentException($"A holds {a.Length} elements; batch {batch} with strideA {strideA} and {(transA ? k : m)}×{(transA ? m : k)} matrices (lda {lda}) need {(long)(batch - 1) * strideA + aLen}.", nameof(a));
        if (bLen > 0 && (long)(batch - 1) * strideB + bLen > b.Length)
            throw new ArgumentException($"B holds {b.Length} elements; batch {batch} with strideB {strideB} and {(transB ? n : k)}×{(transB ? k : n)} matrices (ldb {ldb}) need {(long)(batch - 1) * strideB + bLen}.", nameof(b));
        if ((long)(batch - 1) * strideC + cLen > c.Length)
            throw new ArgumentException($"C holds {c.Length} elements; batch {batch} with strideC {strideC} and {m}×{n} matrices (ldc {ldc}) need {(long)(batch - 1) * strideC + cLen}.", nameof(c));
        if (batch > 1 && strideC == 0)
        {
            // Every output would be the same matrix: the batch would race (and be order-dependent).
            // Interleaved outputs (strideC < m·ldc, e.g. heads side by side) are fine.
            throw new ArgumentException("strideC = 0 would make all outputs of the batch the same matrix.", nameof(strideC));
        }

        unsafe
        {
            fixed (T* pa = a)
            fixed (T* pb = b)
            fixed (T* pc = c)
            {
                RunBatched(batch, transA, transB, m, n, k, alpha, pa, lda, strideA, pb, ldb, strideB,
                    beta, pc, ldc, strideC, KernelSettings.NumThreads);
            }
        }
    }

    private static void ThrowIfUnsupported<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"Gemm supports float and double, not {typeof(T).Name}.");
    }

    private static void ValidateDims(int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
    }

    /// <summary>Elements a rows×cols row-major matrix with row stride ld spans (0 when empty).</summary>
    private static long Required(int rows, int cols, int ld, string ldName)
    {
        if (rows == 0 || cols == 0) return 0;
        if (ld < cols)
            throw new ArgumentException($"{ldName} = {ld} is smaller than the row width {cols}.", ldName);
        return (long)(rows - 1) * ld + cols;
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ValidateDims(m, n, k);
        if (m == 0 || n == 0) return;
        if (k > 0)
        {
            int ar = transA ? k : m, ac = transA ? m : k;
            long need = Required(ar, ac, lda, nameof(lda));
            if (aLength < need)
                throw new ArgumentException($"A holds {aLength} elements; a {ar}×{ac} matrix with lda {lda} needs {need}.", "a");
            int br = transB ? n : k, bc = transB ? k : n;
            need = Required(br, bc, ldb, nameof(ldb));
            if (bLength < need)
                throw new ArgumentException($"B holds {bLength} elements; a {br}×{bc} matrix with ldb {ldb} needs {need}.", "b");
        }
        long needC = Required(m, n, ldc, nameof(ldc));
        if (cLength < needC)
            throw new ArgumentException($"C holds {cLength} elements; a {m}×{n} matrix with ldc {ldc} needs {needC}.", "c");
    }

    /// <summary>Arguments of one GEMM as plain values (pointers as nint) so that worker lambdas can capture them.</summary>
    private readonly struct Job<T> where T : unmanaged
    {
        public readonly bool TransA, TransB;
        public readonly int M, N, K, Lda, Ldb, Ldc;
        public readonly T Alpha, Beta;
        public readonly nint A, B, C;
        public readonly int Parts;
        public readonly bool SplitM;
        public readonly long StrideA, StrideB, StrideC;

        public Job(bool transA, bool transB, int m, int n, int k, T alpha, nint a, int lda, nint b, int ldb,
            T beta, nint c, int ldc, int parts, bool splitM, long strideA = 0, long strideB = 0, long strideC = 0)
        {
            TransA = transA; TransB = transB; M = m; N = n; K = k; Alpha = alpha; Beta = beta;
            A = a; Lda = lda; B = b; Ldb = ldb; C = c; Ldc = ldc; Parts = parts; SplitM = splitM;
            StrideA = strideA; StrideB = strideB; StrideC = strideC;
        }
    }

    /// <summary>How many threads a single GEMM of this size should use (1 for small problems).</summary>
    private static int ThreadsFor(long flops, int threads)
    {
        if (threads <= 1 || flops < ParallelThresholdFlops) return 1;
        long byWork = Math.Max(1, flops / MinFlopsPerThread);
        return (int)Math.Min(threads, byWork);
    }

    private static unsafe void Run<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (k == 0 || alpha == T.Zero)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        Blocking bl = Blocking.For<T>();
        if (k >= KSplitMinK && k >= 4L * Math.Max(m, n) && (long)m * n <= KSplitMaxC)
        {
            RunKSplit(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }
        int t = ThreadsFor(2L * m * n * k, threads);
        // Split the larger of M and N: each part packs all of the other operand, so the redundant
        // packing is the smaller one. Parts are whole micro-panels.
        bool splitM = m >= n;
        int units = splitM ? (m + bl.MR - 1) / bl.MR : (n + bl.NR - 1) / bl.NR;
        if (!splitM && units < t) { splitM = true; units = (m + bl.MR - 1) / bl.MR; }
        t = Math.Min(t, units);
        if (t <= 1)
        {
            Sequential(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, in bl);
            return;
        }
        var job = new Job<T>(transA, transB, m, n, k, alpha, (nint)a, lda, (nint)b, ldb, beta, (nint)c, ldc, t, splitM);
        KernelParallel.For(0, t, t, part => RunPart(in job, part));
    }

    /// <summary>A GEMM whose K is at least this long (and 4× its M and N) is split along K.</summary>
    internal static int KSplitMinK = 2048;

    /// <summary>… when C has at most this many elements (the partial results are added afterwards).</summary>
    internal const long KSplitMaxC = 512 * 512;

    /// <summary>
    /// Small C, long K (a weight gradient over many rows: 256×256 from 2048 rows): splitting M or N would make every
    /// thread pack the whole long operand again, so split K instead into fixed parts of about 1024 — the same parts
    /// whatever the thread count, so the result has the same bits for any thread count. Part 0 accumulates into C
    /// (with beta), the others into scratch, added to C in part order.
    /// </summary>
    private static unsafe void RunKSplit<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Math.Min(8, k / 1024);
        long cLen = (long)m * n;
        T[] scratch = System.Buffers.ArrayPool<T>.Shared.Rent((int)(cLen * (parts - 1)));
        try
        {
            fixed (T* ps = scratch)
            {
                var job = new Job<T>(transA, transB, m, n, k, alpha, (nint)a, lda, (nint)b, ldb, beta, (nint)c, ldc, parts, false);
                nint sp = (nint)ps;
                KernelParallel.For(0, parts, Math.Min(threads, parts), part => RunKPart(in job, part, sp));
                for (int part = 1; part < parts; part++)
                {
                    T* src = ps + (part - 1) * cLen;
                    for (int i = 0; i < m; i++)
                    {
                        var row = new Span<T>(c + (long)i * ldc, n);
                        System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<T>(src + (long)i * n, n), row);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(scratch);
        }
    }

    private static unsafe void RunKPart<T>(in Job<T> job, int part, nint scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Blocking bl = Blocking.For<T>();
        int k0 = (int)((long)job.K * part / job.Parts), k1 = (int)((long)job.K * (part + 1) / job.Parts);
        T* a = (T*)job.A, b = (T*)job.B;
        T* aPart = job.TransA ? a + (long)k0 * job.Lda : a + k0;
        T* bPart = job.TransB ? b + k0 : b + (long)k0 * job.Ldb;
        if (part == 0)
            Sequential(job.TransA, job.TransB, job.M, job.N, k1 - k0, job.Alpha, aPart, job.Lda, bPart, job.Ldb,
                job.Beta, (T*)job.C, job.Ldc, in bl);
        else
            Sequential(job.TransA, job.TransB, job.M, job.N, k1 - k0, job.Alpha, aPart, job.Lda, bPart, job.Ldb,
                T.Zero, (T*)scratch + (long)(part - 1) * job.M * job.N, job.N, in bl);
    }

    /// <summary>Runs part <paramref name="part"/> of <see cref="Job{T}.Parts"/>: a contiguous range of whole micro-panels.</summary>
    private static unsafe void RunPart<T>(in Job<T> job, int part) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Blocking bl = Blocking.For<T>();
        T* a = (T*)job.A, b = (T*)job.B, c = (T*)job.C;
        if (job.SplitM)
        {
            int units = (job.M + bl.MR - 1) / bl.MR;
            int r0 = (int)((long)units * part / job.Parts) * bl.MR;
            int r1 = Math.Min(job.M, (int)((long)units * (part + 1) / job.Parts) * bl.MR);
            if (r1 <= r0) return;
            T* aPart = job.TransA ? a + r0 : a + (long)r0 * job.Lda;
            Sequential(job.TransA, job.TransB, r1 - r0, job.N, job.K, job.Alpha, aPart, job.Lda, b, job.Ldb,
                job.Beta, c + (long)r0 * job.Ldc, job.Ldc, in bl);
        }
        else
        {
            int units = (job.N + bl.NR - 1) / bl.NR;
            int c0 = (int)((long)units * part / job.Parts) * bl.NR;
            int c1 = Math.Min(job.N, (int)((long)units * (part + 1) / job.Parts) * bl.NR);
            if (c1 <= c0) return;
            T* bPart = job.TransB ? b + (long)c0 * job.Ldb : b + c0;
            Sequential(job.TransA, job.TransB, job.M, c1 - c0, job.K, job.Alpha, a, job.Lda, bPart, job.Ldb,
                job.Beta, c + c0, job.Ldc, in bl);
        }
    }

    private static unsafe void RunBatched<T>(int batch, bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, int strideA, T* b, int ldb, int strideB, T beta, T* c, int ldc, int strideC, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long flopsEach = 2L * m * n * k;
        int perMatrix = ThreadsFor(flopsEach, threads);
        int byBatch = ThreadsFor(flopsEach * batch, threads);
        // Spread over the batch when the matrices are too small to split, or when there are enough of
        // them for the batch split to balance well; otherwise split each matrix in turn.
        bool overBatch = byBatch > 1 && (perMatrix < byBatch || batch >= 4 * byBatch);
        if (!overBatch)
        {
            for (int i = 0; i < batch; i++)
                Run(transA, transB, m, n, k, alpha, a + (long)i * strideA, lda, b + (long)i * strideB, ldb,
                    beta, c + (long)i * strideC, ldc, threads);
            return;
        }
        int t = Math.Min(byBatch, batch);
        var job = new Job<T>(transA, transB, m, n, k, alpha, (nint)a, lda, (nint)b, ldb, beta, (nint)c, ldc,
            t, false, strideA, strideB, strideC);
        KernelParallel.For(0, t, t, part => RunBatchPart(in job, batch, part));
    }

    private static unsafe void RunBatchPart<T>(in Job<T> job, int batch, int part) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i0 = (int)((long)batch * part / job.Parts), i1 = (int)((long)batch * (part + 1) / job.Parts);
        T* a = (T*)job.A, b = (T*)job.B, c = (T*)job.C;
        for (int i = i0; i < i1; i++)
            Run(job.TransA, job.TransB, job.M, job.N, job.K, job.Alpha, a + i * job.StrideA, job.Lda,
                b + i * job.StrideB, job.Ldb, job.Beta, c + i * job.StrideC, job.Ldc, 1);
    }

    /// <summary>C = beta·C over an m×n block; beta = 0 overwrites (NaN in C does not survive).</summary>
    private static unsafe void ScaleC<T>(int m, int n, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (beta == T.One) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + (long)i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else
            {
                for (int j = 0; j < row.Length; j++) row[j] *= beta;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Min(int x, int y) => x < y ? x : y;
}
