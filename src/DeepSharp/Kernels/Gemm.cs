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
/// register-blocked micro-kernel computes each MR×NR tile of C. With AVX-512F it uses Vector512 (float 12×32,
/// double 12×16: 24 accumulators; <c>DEEPSHARP_AVX512=0</c> turns it off); on x86 with AVX2+FMA, Vector256 (float
/// 6×16, double 6×8: 12 accumulators); elsewhere, or with <c>DEEPSHARP_PORTABLE_SIMD=1</c>, a Vector128 kernel
/// (float 6×8, double 6×4).
/// Large problems are split into independent row (or column) ranges, one per thread; each thread packs
/// its own panels into thread-local cached buffers, so one fork/join per call and no allocation in
/// steady state (from 512³, row splits share one packed B instead, see <see cref="RunSharedB{T}"/>).
/// Files: Gemm.cs (API, validation, threading), GemmDriver.cs (blocking loops), GemmPack.cs and
/// GemmPackAvx.cs (packing), GemmMicroKernels.cs and GemmMicroKernels512.cs (micro-kernels).
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

    /// <summary>C = alpha·op(A)·op(B) + beta·C on the calling thread only, for callers that already split work over
    /// threads (blocks of fused attention). No validation: the caller owns the bounds.</summary>
    internal static unsafe void ComputeSingleThread<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 1);

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
        Blocking bl = Blocking.For<T>().ForC(m, n);
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
        if (splitM && SharedBApplies(transB, m, n, k, in bl))
        {
            RunSharedB(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, t, in bl);
            return;
        }
        var job = new Job<T>(transA, transB, m, n, k, alpha, (nint)a, lda, (nint)b, ldb, beta, (nint)c, ldc, t, splitM);
        KernelParallel.For(0, t, t, part => RunPart(in job, part));
    }

    /// <summary>Row-split GEMMs pack B once for all threads and hand out row chunks dynamically when B is at least
    /// this many columns wide and packed at all (see <see cref="UnpackedBMaxMFor"/>); int.MaxValue turns it off.</summary>
    internal static int SharedBMinN = int.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_GEMM_SHARED_B_N"), out int sv) ? sv : 128;

    /// <summary>… and when m·n·k is at least this (default 512³): below it, now that the workers stay awake between
    /// kernels, one fork/join with each thread packing its own B measured faster (2 threads: 256³ 164 → 178 GFLOPS,
    /// mlp_step 4.8 → 4.3 ms) than the shared packing's two; DEEPSHARP_GEMM_SHARED_B_WORK overrides.</summary>
    internal static long SharedBMinWork = long.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_GEMM_SHARED_B_WORK"), out long sw) ? sw : 1L << 27;
    private static bool SharedBApplies(bool transB, int m, int n, int k, in Blocking bl) =>
        bl.Avx && n >= SharedBMinN && (long)m * n * k >= SharedBMinWork && (transB || m > UnpackedBMaxMFor(in bl));

    /// <summary>Row chunks per thread in <see cref="RunSharedB{T}"/>: enough that a thread slowed by other load on the
    /// machine hands its remaining chunks to the others, few enough that each chunk still fills the micro-kernel.</summary>
    private const int SharedBChunksPerThread = 4;

    /// <summary>The last chunks in <see cref="RunSharedB{T}"/> are this many times smaller (2048², two threads: 2.1 %
    /// faster in 45 of 60 alternating calls on a quiet host, 0.8 % with another process taking bursts of a core).</summary>
    private const int SharedBTailSplit = 8;

    /// <summary>
    /// A row-split GEMM whose threads share one packed B. With one fixed half of the rows per thread, every thread packs
    /// all of B for each KC block, and a thread slowed by other load on the machine (a shared VM: it happens within
    /// a single GEMM) makes the other wait at the join. Here the threads first pack disjoint NR panels of the KC×NC
    /// block into one buffer owned by the calling thread, then claim chunks of whole MR panels of rows (a few per
    /// thread, the last ones <see cref="SharedBTailSplit"/> times smaller) from a shared counter and multiply each by
    /// the whole block. Two fork/joins per block instead of one,
    /// B packed once. The blocking and the micro-kernel are those of <see cref="Sequential{T}"/>, so the bits are the
    /// same for any thread count.
    /// </summary>
    private static unsafe void RunSharedB<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads, in Blocking bl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = bl.MR, nr = bl.NR;
        int kcMax = BalancedBlock(k, bl.KC, 1);
        int ncMax = BalancedBlock(n, bl.NC, nr);
        int units = (m + mr - 1) / mr;
        // Chunks of whole MR panels, at most MC rows, about SharedBChunksPerThread per thread.
        int chunkRows = Math.Max(mr, Min(BalancedBlock(m, bl.MC, mr), (units + threads * SharedBChunksPerThread - 1) / (threads * SharedBChunksPerThread) * mr));
        // The last threads·chunkRows rows go in finer chunks, so that a thread slowed near the end holds up the
        // others for a fraction of a chunk only.
        int headChunks = Math.Max(0, (m - threads * chunkRows) / chunkRows);
        int fineRows = Math.Max(mr, (chunkRows / SharedBTailSplit + mr - 1) / mr * mr);
        int chunks = headChunks + (m - headChunks * chunkRows + fineRows - 1) / fineRows;
        T* shared = Buffers<T>.Shared(((Min(ncMax, n) + nr - 1) / nr * nr) * kcMax);
        var job = new Job<T>(transA, transB, m, n, k, alpha, (nint)a, lda, (nint)b, ldb, beta, (nint)c, ldc, chunks, true);
        nint sp = (nint)shared;
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Min(ncMax, n - jc);
            int panels = (nc + nr - 1) / nr;
            int packParts = Min(panels, threads * SharedBChunksPerThread);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                var block = new SharedBlock(jc, nc, pc, Min(kcMax, k - pc), chunkRows, headChunks, fineRows, packParts);
                KernelParallel.For(0, packParts, threads, part => PackSharedBPart(in job, block, part, sp));
                KernelParallel.For(0, chunks, threads, chunk => MultiplySharedBChunk(in job, block, chunk, sp));
            }
        }
    }

    /// <summary>One KC×NC block of B in <see cref="RunSharedB{T}"/> and how its work is cut.</summary>
    private readonly record struct SharedBlock(int Jc, int Nc, int Pc, int Kc, int ChunkRows, int HeadChunks, int FineRows, int PackParts)
    {
        /// <summary>The first row of chunk <paramref name="chunk"/> and its row count (at most ChunkRows).</summary>
        public (int Row, int Rows) Chunk(int chunk, int m)
        {
            int row = chunk < HeadChunks ? chunk * ChunkRows : HeadChunks * ChunkRows + (chunk - HeadChunks) * FineRows;
            return (row, Math.Min(chunk < HeadChunks ? ChunkRows : FineRows, m - row));
        }
    }

    /// <summary>Part <paramref name="part"/> of the NR panels of the block into the shared buffer.</summary>
    private static unsafe void PackSharedBPart<T>(in Job<T> job, SharedBlock blk, int part, nint shared)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Blocking bl = Blocking.For<T>();
        int nr = bl.NR, panels = (blk.Nc + nr - 1) / nr;
        int p0 = (int)((long)panels * part / blk.PackParts), p1 = (int)((long)panels * (part + 1) / blk.PackParts);
        if (p1 <= p0) return;
        int col0 = p0 * nr, cols = Min(blk.Nc, p1 * nr) - col0;
        T* b = (T*)job.B;
        T* src = job.TransB ? b + (long)(blk.Jc + col0) * job.Ldb + blk.Pc : b + (long)blk.Pc * job.Ldb + blk.Jc + col0;
        PackB(job.TransB, blk.Kc, cols, src, job.Ldb, nr, (T*)shared + (long)col0 * blk.Kc, bl.Avx);
    }

    /// <summary>Rows [chunk·ChunkRows, …) of C block (·, Jc) += those rows of A · the shared packed B block.</summary>
    private static unsafe void MultiplySharedBChunk<T>(in Job<T> job, SharedBlock blk, int chunk, nint shared)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Blocking bl = Blocking.For<T>();
        var (ic, mc) = blk.Chunk(chunk, job.M);
        if (mc <= 0) return;
        T* a = (T*)job.A, c = (T*)job.C;
        T betaEff = blk.Pc == 0 ? job.Beta : T.One;
        T* aSrc = job.TransA ? a + (long)blk.Pc * job.Lda + ic : a + (long)ic * job.Lda + blk.Pc;
        T* cBlock = c + (long)ic * job.Ldc + blk.Jc;
        if (!job.TransA && job.N <= UnpackedAMaxN)
        {
            MacroKernelInPlaceA(mc, blk.Nc, blk.Kc, job.Alpha, aSrc, job.Lda, (T*)shared, betaEff, cBlock, job.Ldc, in bl);
            return;
        }
        T* bufA = Buffers<T>.A(blk.ChunkRows * blk.Kc);
        PackA(job.TransA, mc, blk.Kc, aSrc, job.Lda, bl.MR, bufA, bl.Avx);
        MacroKernel(mc, blk.Nc, blk.Kc, job.Alpha, bufA, (T*)shared, betaEff, cBlock, job.Ldc, in bl);
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
        Blocking bl = Blocking.For<T>().ForC(job.M, job.N);
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
        Blocking bl = Blocking.For<T>().ForC(job.M, job.N);
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
