using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Winograd F(2×2, 3×3) convolution for 3×3, stride-1, undilated, ungrouped convs with padding ≤ 2 (Lavin &amp; Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 block of outputs is
/// <c>Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A</c> of a 4×4 input tile d, so the channel sums become 16 GEMMs
/// (one per tile position ξ) of [C_out × C_in]·[C_in × tiles] with 2.25× fewer multiply-adds than im2col's.
/// </summary>
/// <remarks>
/// <para>All three passes use the same tiles:</para>
/// <list type="bullet">
/// <item>forward: V = Bᵀ d B per (tile, input channel); M[ξ] = U[ξ]·V[ξ]; y = Aᵀ M A (+ bias).</item>
/// <item>input gradient: a forward pass over dY with the kernel flipped and its channels swapped, padded 2 − p
/// (the transposed convolution of a stride-1 3×3 conv is such a conv).</item>
/// <item>weight gradient: the adjoint of the forward's transforms: dM = A dY Aᵀ per output tile,
/// dU[ξ] = Σ_tiles dM[ξ]·V[ξ]ᵀ (a GEMM over tiles), dW = Gᵀ dU G.</item>
/// </list>
/// <para>The transforms add and halve only (no large constants), so float32 results stay within a few ulps of the
/// direct sum's rounding. Work is cut into chunks of whole tile rows (a chunk may span images); each worker owns
/// its transform buffers, sized to stay in L2. <see cref="KernelSettings.WinogradEnabled"/> (environment <c>DEEPSHARP_WINOGRAD=0</c>
/// turns it off) selects between this and im2col for A/B measurements and tests.</para>
/// <para>Files: this one (planning, the three passes, weight transforms, the generic tile transforms with their AVX2
/// and scalar loops) and <c>Conv2dWinograd.Avx512.cs</c> (the tile transforms for float with AVX-512).</para>
/// </remarks>
internal static unsafe partial class Conv2dWinograd
{
    /// <summary>Both channel counts must reach this: with fewer, the per-ξ GEMMs are too thin (K = C_in) to pay
    /// for the transforms, and im2col's single GEMM wins.</summary>
    internal const int MinChannels = 8;

    /// <summary>True when this geometry is computed with Winograd F(2×2, 3×3).</summary>
    public static bool Applies(in Conv2dGeometry g) => KernelSettings.WinogradEnabled && g.Groups == 1
        && g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1
        && g.PadTop <= 2 && g.PadBottom <= 2 && g.PadLeft <= 2 && g.PadRight <= 2
        && g.InC >= MinChannels && g.OutC >= MinChannels;

    // ------------------------------------------------------------------ entry points

    /// <summary>output = conv(input, weight) + bias (bias may be empty); geometry already validated.</summary>
    public static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Run(g, input, weight, flip: false, bias, output);

    /// <summary>gradInput (overwritten) = conv(gradOutput, flipped weight with channels swapped, padding 2 − p).</summary>
    public static void BackwardInput<T>(in Conv2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight,
        Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gt = new Conv2dGeometry(g.N, g.OutC, g.OutH, g.OutW, g.InC, 3, 3, 1, 1, 2 - g.PadTop, 2 - g.PadLeft, 1, 1, 1)
        { PadBottom = 2 - g.PadBottom, PadRight = 2 - g.PadRight };
        Run(gt, gradOutput, weight, flip: true, default, gradInput);
    }

    /// <summary>gradWeight (overwritten) = Gᵀ [Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B)] G.</summary>
    public static void BackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput,
        Span<T> gradWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ulen = 16 * g.OutC * g.InC;
        var plan = Plan.Create(g, KernelSettings.ReductionParts(ulen));
        T[] partial = ArrayPool<T>.Shared.Rent(plan.Workers * ulen);
        try
        {
            partial.AsSpan(0, plan.Workers * ulen).Clear();
            var gg = g;
            fixed (T* pi = input, pg = gradOutput, pp = partial)
            {
                nint ip = (nint)pi, gp = (nint)pg, pq = (nint)pp;
                int il = input.Length, gl = gradOutput.Length;
                if (plan.Workers == 1) WeightWorker(gg, plan, input, gradOutput, partial.AsSpan(0, ulen), 0);
                else
                    KernelParallel.For(0, plan.Workers, w => WeightWorker(gg, plan,
                        new ReadOnlySpan<T>((void*)ip, il), new ReadOnlySpan<T>((void*)gp, gl),
                        new Span<T>((void*)(pq + (nint)w * ulen * sizeof(T)), ulen), w));
            }
            // Workers' partial sums in worker order; the workers follow the shape, so any thread count gives the same bits.
            Span<T> du = partial.AsSpan(0, ulen);
            for (int w = 1; w < plan.Workers; w++)
            {
                ReadOnlySpan<T> p = partial.AsSpan(w * ulen, ulen);
                for (int i = 0; i < ulen; i++) du[i] += p[i];
            }
            WeightGradientFromU(g.OutC, g.InC, du, gradWeight);
        }
        finally { ArrayPool<T>.Shared.Return(partial); }
    }

    // ------------------------------------------------------------------ planning

    /// <summary>Tiles per row (TX) and column (TY) of an output plane; chunks of whole tile rows over N·TY rows.</summary>
    private readonly record struct Plan(int TX, int TY, int RowsPerChunk, int Chunks, int Workers, int Ld)
    {
        /// <summary>Tile rows [start, end) of a worker: equal contiguous shares (±1 row), cut into chunks of at most
        /// RowsPerChunk rows by the worker.</summary>
        public (int Start, int End) WorkerRows(in Conv2dGeometry g, int worker)
        {
            long rows = (long)g.N * TY;
            return ((int)(rows * worker / Workers), (int)(rows * (worker + 1) / Workers));
        }

        /// <summary>The forward GEMMs' N for a chunk of <paramref name="tiles"/> tiles: whole 32-column panels.</summary>
        public static int GemmColumns(int tiles) => (tiles + 31) / 32 * 32;

        // parts > 0: the weight gradient cut into that many parts (workers) in place of the thread count.
        public static Plan Create(in Conv2dGeometry g, int parts = 0)
        {
            int tx = (g.OutW + 1) / 2, ty = (g.OutH + 1) / 2;
            int rows = g.N * ty;
            int rowsPerChunk = Math.Clamp((KernelSettings.WinogradTargetTiles + tx / 2) / tx, 1, rows);
            long macs = (long)g.N * g.OutC * g.InC * g.OutH * g.OutW * 9;
            int threads = parts > 0 && macs >= KernelSettings.ConvParallelMinMacs ? parts : KernelParallel.WorkersFor(macs, int.MaxValue, KernelSettings.ConvParallelMinMacs);
            int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
            if (threads > 1 && chunks < threads)
            {
                rowsPerChunk = Math.Max(1, rows / threads);
                chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
            }
            // Vector loops write up to one vector (16 floats with AVX-512) past a tile row (the next row overwrites
            // it); the pad keeps the last row's overrun inside its own channel row. The forward GEMMs run over whole 32-column panels
            // (GemmColumns): the extra columns are ignored, and no partial panel is packed.
            int ld = (rowsPerChunk * tx + 31) / 32 * 32 + 16;
            return new Plan(tx, ty, rowsPerChunk, chunks, Math.Max(1, Math.Min(threads, chunks)), ld);
        }
    }

    /// <summary>
    /// The forward transform–GEMM–transform pipeline of geometry <paramref name="g"/> over all chunks. The kernel is
    /// <paramref name="weight"/> [g.OutC, g.InC, 3, 3], or with <paramref name="flip"/> a weight [g.InC, g.OutC, 3, 3]
    /// rotated by 180° with its channel axes swapped (the input gradient's transposed convolution).
    /// </summary>
    private static void Run<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight, bool flip,
        ReadOnlySpan<T> bias, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] u = ArrayPool<T>.Shared.Rent(16 * g.OutC * g.InC);
        try
        {
            if (flip) TransformWeights(g.InC, g.OutC, weight, u, flip: true);
            else TransformWeights(g.OutC, g.InC, weight, u, flip: false);
            RunTransformed(g, input, u, bias, output);
        }
        finally { ArrayPool<T>.Shared.Return(u); }
    }

    /// <summary>The pipeline on transformed weights u [16][g.OutC][g.InC].</summary>
    private static void RunTransformed<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, T[] u, ReadOnlySpan<T> bias, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = Plan.Create(g);
        var gg = g;
        // Each U[ξ] packed once into micro-kernel panels, shared read-only by the workers.
        int o = g.OutC, c = g.InC, plen = Gemm.PackedALength<T>(o, c);
        T[] up = ArrayPool<T>.Shared.Rent(16 * plen);
        try
        {
            fixed (T* pu = u, pp = up)
                for (int xi = 0; xi < 16; xi++) Gemm.PackAPanels(o, c, pu + xi * o * c, c, pp + xi * plen);
            if (plan.Workers == 1)
            {
                ForwardWorker(gg, plan, input, up, plen, bias, output, 0);
                return;
            }
            fixed (T* pi = input, pb = bias, po = output)
            {
                nint ip = (nint)pi, bp = (nint)pb, op = (nint)po;
                int il = input.Length, bl = bias.Length, ol = output.Length;
                KernelParallel.For(0, plan.Workers, w => ForwardWorker(gg, plan, new ReadOnlySpan<T>((void*)ip, il), up, plen,
                    new ReadOnlySpan<T>((void*)bp, bl), new Span<T>((void*)op, ol), w));
            }
        }
        finally { ArrayPool<T>.Shared.Return(up); }
    }

    // ------------------------------------------------------------------ workers

    private static void ForwardWorker<T>(Conv2dGeometry g, Plan plan, ReadOnlySpan<T> input, T[] up, int plen,
        ReadOnlySpan<T> bias, Span<T> output, int worker)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = g.InC, o = g.OutC, ld = plan.Ld;
        T[] v = ArrayPool<T>.Shared.Rent(16 * c * ld);
        T[] m = ArrayPool<T>.Shared.Rent(16 * o * ld);
        v.AsSpan(0, 16 * c * ld).Clear();   // the padding columns the GEMM reads stay finite
        T[] rows = ArrayPool<T>.Shared.Rent(RowScratch(plan));
        try
        {
            var (start, end) = plan.WorkerRows(g, worker);
            for (int r0 = start; r0 < end; r0 += plan.RowsPerChunk)
            {
                int r1 = Math.Min(r0 + plan.RowsPerChunk, end);
                int tiles = (r1 - r0) * plan.TX;
                InputTransform(g, plan, input, r0, r1, v, rows);
                // M[o][ξ][t] = U[ξ][o][c] · V[c][ξ][t] for the 16 ξ
                fixed (T* pu = up, pv = v, pm = m)
                    for (int xi = 0; xi < 16; xi++)
                        Gemm.MultiplyPackedA(o, Plan.GemmColumns(tiles), c, pu + xi * plen, pv + xi * ld, 16 * ld, T.Zero, pm + xi * ld, 16 * ld);
                OutputTransform(g, plan, m, bias, output, r0, r1);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(v);
            ArrayPool<T>.Shared.Return(m);
            ArrayPool<T>.Shared.Return(rows);
        }
    }

    private static void WeightWorker<T>(Conv2dGeometry g, Plan plan, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput,
        Span<T> du, int worker)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = g.InC, o = g.OutC, ld = plan.Ld;
        T[] v = ArrayPool<T>.Shared.Rent(16 * c * ld);
        T[] dm = ArrayPool<T>.Shared.Rent(16 * o * ld);
        T[] rows = ArrayPool<T>.Shared.Rent(RowScratch(plan));
        try
        {
            var (start, end) = plan.WorkerRows(g, worker);
            for (int r0 = start; r0 < end; r0 += plan.RowsPerChunk)
            {
                int r1 = Math.Min(r0 + plan.RowsPerChunk, end);
                int tiles = (r1 - r0) * plan.TX;
                InputTransform(g, plan, input, r0, r1, v, rows);
                GradOutputTransform(g, plan, gradOutput, r0, r1, dm, rows);
                // dU[ξ][o][c] += dM[o][ξ][t] · V[c][ξ][t]ᵀ for the 16 ξ
                Gemm.ComputeStridedBatched(16, false, true, o, c, tiles, T.One,
                    dm.AsSpan(0, 16 * o * ld), 16 * ld, ld,
                    v.AsSpan(0, 16 * c * ld), 16 * ld, ld,
                    T.One, du, c, o * c);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(v);
            ArrayPool<T>.Shared.Return(dm);
            ArrayPool<T>.Shared.Return(rows);
        }
    }

    // ------------------------------------------------------------------ transforms

    /// <summary>Entries per split row: TX + 1 rounded up so vector loops may read one vector past TX.</summary>
    private static int SplitStride(in Plan plan) => (plan.TX + 7) / 8 * 8 + 8;

    /// <summary>Scratch for one input tile row: 4 input rows split into even and odd columns (the AVX-512 float
    /// transforms load straight from the rows and need none).</summary>
    private static int RowScratch(in Plan plan) => 8 * SplitStride(plan);

    private static bool Vectorized<T>() => KernelSettings.UseAvx2Fma && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    /// <summary>
    /// U[ξ][o][c] = (G g Gᵀ)[ξ] with G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]. With <paramref name="flip"/>, g is the
    /// kernel rotated by 180° with its channel axes swapped (the transposed convolution's kernel): U[ξ][c][o].
    /// </summary>
    private static void TransformWeights<T>(int outC, int inC, ReadOnlySpan<T> weight, Span<T> u, bool flip)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        int rowsU = flip ? inC : outC, colsU = flip ? outC : inC, plane = rowsU * colsU;
        Span<T> k = stackalloc T[9];
        Span<T> r = stackalloc T[12];
        for (int oc = 0; oc < outC; oc++)
            for (int ic = 0; ic < inC; ic++)
            {
                ReadOnlySpan<T> w = weight.Slice((oc * inC + ic) * 9, 9);
                for (int i = 0; i < 9; i++) k[i] = flip ? w[8 - i] : w[i];
                // r = G·k (4×3)
                for (int j = 0; j < 3; j++)
                {
                    T a = k[j], b = k[3 + j], cc = k[6 + j];
                    r[j] = a;
                    r[3 + j] = (a + b + cc) * half;
                    r[6 + j] = (a - b + cc) * half;
                    r[9 + j] = cc;
                }
                int at = flip ? ic * colsU + oc : oc * colsU + ic;
                // U = r·Gᵀ (4×4)
                for (int i = 0; i < 4; i++)
                {
                    T a = r[3 * i], b = r[3 * i + 1], cc = r[3 * i + 2];
                    u[(4 * i + 0) * plane + at] = a;
                    u[(4 * i + 1) * plane + at] = (a + b + cc) * half;
                    u[(4 * i + 2) * plane + at] = (a - b + cc) * half;
                    u[(4 * i + 3) * plane + at] = cc;
                }
            }
    }

    /// <summary>dW[o][c] = Gᵀ dU[·][o][c] G (the adjoint of <see cref="TransformWeights{T}"/> without flip).</summary>
    private static void WeightGradientFromU<T>(int outC, int inC, ReadOnlySpan<T> du, Span<T> gradWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        int plane = outC * inC;
        Span<T> t = stackalloc T[12];
        for (int oc = 0; oc < outC; oc++)
            for (int ic = 0; ic < inC; ic++)
            {
                int at = oc * inC + ic;
                // t = Gᵀ·dU (3×4)
                for (int j = 0; j < 4; j++)
                {
                    T d0 = du[(0 + j) * plane + at], d1 = du[(4 + j) * plane + at];
                    T d2 = du[(8 + j) * plane + at], d3 = du[(12 + j) * plane + at];
                    t[j] = d0 + (d1 + d2) * half;
                    t[4 + j] = (d1 - d2) * half;
                    t[8 + j] = (d1 + d2) * half + d3;
                }
                Span<T> w = gradWeight.Slice(at * 9, 9);
                // dW = t·G (3×3)
                for (int a = 0; a < 3; a++)
                {
                    T t0 = t[4 * a], t1 = t[4 * a + 1], t2 = t[4 * a + 2], t3 = t[4 * a + 3];
                    w[3 * a + 0] = t0 + (t1 + t2) * half;
                    w[3 * a + 1] = (t1 - t2) * half;
                    w[3 * a + 2] = (t1 + t2) * half + t3;
                }
            }
    }

    /// <summary>
    /// V[c][ξ][t] = (Bᵀ d B)[ξ] for the tiles of tile rows [r0, r1), Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]].
    /// Tile (ty, tx) reads input rows 2ty − padTop + 0..3 and columns 2tx − padLeft + 0..3 (zero outside the image).
    /// Each input row is split into even and odd columns first, so both transform stages are loops over tx
    /// (tile j reads even/odd columns j and j + 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTransform<T>(in Conv2dGeometry g, in Plan plan, ReadOnlySpan<T> input, int r0, int r1,
        T[] v, T[] rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && KernelSettings.UseAvx512)
        {
            InputTransform512(g, plan, MemoryMarshal.Cast<T, float>(input), r0, r1, (float[])(object)v);
            return;
        }
        int tx = plan.TX, ld = plan.Ld, c = g.InC, plane = g.H * g.W, stride = SplitStride(plan);
        int xiStride = ld;
        bool vec = Vectorized<T>();
        ref T x0 = ref MemoryMarshal.GetReference(input);
        ref T rv = ref MemoryMarshal.GetArrayDataReference(v);
        // Four slots of split rows (even columns, then odd columns); input row iy lives in slot iy & 3, so the two rows
        // that consecutive tile rows share are split once.
        ref T e = ref MemoryMarshal.GetArrayDataReference(rows);
        ref T od = ref Unsafe.Add(ref e, 4 * stride);
        for (int ci = 0; ci < c; ci++)
        {
            int splitN = -1, splitTo = int.MinValue;   // rows < splitTo of image splitN are in their slots
            for (int r = r0; r < r1; r++)
            {
                int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                int y0 = 2 * ty - g.PadTop;
                int chanBase = (n * c + ci) * plane;
                if (n != splitN) { splitN = n; splitTo = y0; }
                for (int iy = Math.Max(y0, splitTo); iy < y0 + 4; iy++)
                {
                    ref T ek = ref Unsafe.Add(ref e, (iy & 3) * stride);
                    ref T ok = ref Unsafe.Add(ref od, (iy & 3) * stride);
                    if ((uint)iy >= (uint)g.H)
                    {
                        MemoryMarshal.CreateSpan(ref ek, stride).Clear();
                        MemoryMarshal.CreateSpan(ref ok, stride).Clear();
                    }
                    else SplitRow(ref Unsafe.Add(ref x0, chanBase + iy * g.W), g.W, g.PadLeft, tx + 1, ref ek, ref ok, vec);
                }
                splitTo = y0 + 4;
                ref T ea = ref Unsafe.Add(ref e, (y0 & 3) * stride), eb = ref Unsafe.Add(ref e, ((y0 + 1) & 3) * stride);
                ref T ec = ref Unsafe.Add(ref e, ((y0 + 2) & 3) * stride), ed = ref Unsafe.Add(ref e, ((y0 + 3) & 3) * stride);
                ref T oa = ref Unsafe.Add(ref od, (y0 & 3) * stride), ob = ref Unsafe.Add(ref od, ((y0 + 1) & 3) * stride);
                ref T oc = ref Unsafe.Add(ref od, ((y0 + 2) & 3) * stride), odd = ref Unsafe.Add(ref od, ((y0 + 3) & 3) * stride);
                ref T dst = ref Unsafe.Add(ref rv, ci * 16 * ld + t0);
                int j = 0;
                if (vec)
                {
                    // Whole vectors of tiles; the last may run past tx into scratch (see Plan.Ld).
                    for (; j < tx; j += Vector256<T>.Count)
                    {
                        Vector256<T> e0 = Ld(ref ea, j), e1 = Ld(ref eb, j), e2 = Ld(ref ec, j), e3 = Ld(ref ed, j);
                        Vector256<T> f0 = Ld(ref ea, j + 1), f1 = Ld(ref eb, j + 1), f2 = Ld(ref ec, j + 1), f3 = Ld(ref ed, j + 1);
                        Vector256<T> o0 = Ld(ref oa, j), o1 = Ld(ref ob, j), o2 = Ld(ref oc, j), o3 = Ld(ref odd, j);
                        Vector256<T> p0 = Ld(ref oa, j + 1), p1 = Ld(ref ob, j + 1), p2 = Ld(ref oc, j + 1), p3 = Ld(ref odd, j + 1);
                        ref T q = ref Unsafe.Add(ref dst, j);
                        ColumnStage(ref q, xiStride, 0, e0 - e2, o0 - o2, f0 - f2, p0 - p2);
                        ColumnStage(ref q, xiStride, 4, e1 + e2, o1 + o2, f1 + f2, p1 + p2);
                        ColumnStage(ref q, xiStride, 8, e2 - e1, o2 - o1, f2 - f1, p2 - p1);
                        ColumnStage(ref q, xiStride, 12, e1 - e3, o1 - o3, f1 - f3, p1 - p3);
                    }
                    continue;
                }
                for (; j < tx; j++)
                {
                    T e0 = Unsafe.Add(ref ea, j), e1 = Unsafe.Add(ref eb, j), e2 = Unsafe.Add(ref ec, j), e3 = Unsafe.Add(ref ed, j);
                    T f0 = Unsafe.Add(ref ea, j + 1), f1 = Unsafe.Add(ref eb, j + 1), f2 = Unsafe.Add(ref ec, j + 1), f3 = Unsafe.Add(ref ed, j + 1);
                    T o0 = Unsafe.Add(ref oa, j), o1 = Unsafe.Add(ref ob, j), o2 = Unsafe.Add(ref oc, j), o3 = Unsafe.Add(ref odd, j);
                    T p0 = Unsafe.Add(ref oa, j + 1), p1 = Unsafe.Add(ref ob, j + 1), p2 = Unsafe.Add(ref oc, j + 1), p3 = Unsafe.Add(ref odd, j + 1);
                    ref T q = ref Unsafe.Add(ref dst, j);
                    ColumnStage(ref q, xiStride, 0, e0 - e2, o0 - o2, f0 - f2, p0 - p2);
                    ColumnStage(ref q, xiStride, 4, e1 + e2, o1 + o2, f1 + f2, p1 + p2);
                    ColumnStage(ref q, xiStride, 8, e2 - e1, o2 - o1, f2 - f1, p2 - p1);
                    ColumnStage(ref q, xiStride, 12, e1 - e3, o1 - o3, f1 - f3, p1 - p3);
                }
            }
        }
    }

    /// <summary>One row of Bᵀd (its columns 2j..2j+3 = a, b, c, d) times B: a − c, b + c, c − b, b − d → V[ξ0..ξ0+3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnStage<T>(ref T q, int xiStride, int xi0, Vector256<T> a, Vector256<T> b, Vector256<T> c, Vector256<T> d)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (a - c).StoreUnsafe(ref Unsafe.Add(ref q, xi0 * xiStride));
        (b + c).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 1) * xiStride));
        (c - b).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 2) * xiStride));
        (b - d).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 3) * xiStride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnStage<T>(ref T q, int xiStride, int xi0, T a, T b, T c, T d)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Unsafe.Add(ref q, xi0 * xiStride) = a - c;
        Unsafe.Add(ref q, (xi0 + 1) * xiStride) = b + c;
        Unsafe.Add(ref q, (xi0 + 2) * xiStride) = c - b;
        Unsafe.Add(ref q, (xi0 + 3) * xiStride) = b - d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Ld<T>(ref T p, int i) where T : unmanaged => Vector256.LoadUnsafe(ref p, (nuint)i);

    /// <summary>even[j] = row[2j − padLeft], odd[j] = row[2j + 1 − padLeft] for j &lt; count, zero outside [0, width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SplitRow<T>(ref T row, int width, int padLeft, int count, ref T even, ref T odd, bool vec)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (vec)
        {
            // j where whole vectors of pairs lie inside the row: 2j − padLeft ≥ 0 and 2(j + w) − padLeft ≤ width.
            int w = Vector256<T>.Count;
            int lo = (padLeft + 1) / 2, hi = Math.Min(count, (width + padLeft) / 2) - w;   // last valid block start
            if (hi >= lo)
            {
                for (; j < lo; j++) SplitOne(ref row, width, padLeft, j, ref even, ref odd);
                for (; ; j += w)
                {
                    if (j > hi) j = hi;   // the last block overlaps the previous one instead of a scalar tail
                    ref T src = ref Unsafe.Add(ref row, 2 * j - padLeft);
                    Deinterleave(Vector256.LoadUnsafe(ref src), Vector256.LoadUnsafe(ref src, (nuint)w), out var ev, out var ov);
                    ev.StoreUnsafe(ref Unsafe.Add(ref even, j));
                    ov.StoreUnsafe(ref Unsafe.Add(ref odd, j));
                    if (j == hi) break;
                }
                j = hi + w;
            }
        }
        for (; j < count; j++) SplitOne(ref row, width, padLeft, j, ref even, ref odd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SplitOne<T>(ref T row, int width, int padLeft, int j, ref T even, ref T odd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int xe = 2 * j - padLeft, xo = xe + 1;
        Unsafe.Add(ref even, j) = (uint)xe < (uint)width ? Unsafe.Add(ref row, xe) : T.Zero;
        Unsafe.Add(ref odd, j) = (uint)xo < (uint)width ? Unsafe.Add(ref row, xo) : T.Zero;
    }

    /// <summary>(x0 … x2w−1) in two vectors → (x0, x2, …) and (x1, x3, …). AVX2, float or double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deinterleave<T>(Vector256<T> a, Vector256<T> b, out Vector256<T> even, out Vector256<T> odd)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            // per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6], then 64-bit lanes reordered 0, 2, 1, 3
            var ev = Avx.Shuffle(a.AsSingle(), b.AsSingle(), 0b10_00_10_00).AsDouble();
            var ov = Avx.Shuffle(a.AsSingle(), b.AsSingle(), 0b11_01_11_01).AsDouble();
            even = Avx2.Permute4x64(ev, 0b11_01_10_00).As<double, T>();
            odd = Avx2.Permute4x64(ov, 0b11_01_10_00).As<double, T>();
        }
        else
        {
            // [a0 b0 a2 b2] → lanes 0, 2, 1, 3
            even = Avx2.Permute4x64(Avx.UnpackLow(a.AsDouble(), b.AsDouble()), 0b11_01_10_00).As<double, T>();
            odd = Avx2.Permute4x64(Avx.UnpackHigh(a.AsDouble(), b.AsDouble()), 0b11_01_10_00).As<double, T>();
        }
    }

    /// <summary>(a0, a1, …), (b0, b1, …) → (a0, b0, a1, b1, …) in two vectors. AVX2, float or double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave<T>(Vector256<T> a, Vector256<T> b, out Vector256<T> lo, out Vector256<T> hi)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var l = Avx.UnpackLow(a.AsSingle(), b.AsSingle());    // [a0 b0 a1 b1 | a4 b4 a5 b5]
            var h = Avx.UnpackHigh(a.AsSingle(), b.AsSingle());   // [a2 b2 a3 b3 | a6 b6 a7 b7]
            lo = Avx.Permute2x128(l, h, 0x20).As<float, T>();
            hi = Avx.Permute2x128(l, h, 0x31).As<float, T>();
        }
        else
        {
            var l = Avx.UnpackLow(a.AsDouble(), b.AsDouble());    // [a0 b0 | a2 b2]
            var h = Avx.UnpackHigh(a.AsDouble(), b.AsDouble());   // [a1 b1 | a3 b3]
            lo = Avx.Permute2x128(l, h, 0x20).As<double, T>();
            hi = Avx.Permute2x128(l, h, 0x31).As<double, T>();
        }
    }

    /// <summary>
    /// output 2×2 blocks = Aᵀ M A (+ bias) for the tiles of tile rows [r0, r1), Aᵀ = [[1,1,1,0],[0,1,−1,−1]]; the
    /// parts of edge tiles beyond OutH/OutW are dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputTransform<T>(in Conv2dGeometry g, in Plan plan, T[] m, ReadOnlySpan<T> bias,
        Span<T> output, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && KernelSettings.UseAvx512)
        {
            OutputTransform512(g, plan, (float[])(object)m, MemoryMarshal.Cast<T, float>(bias), MemoryMarshal.Cast<T, float>(output), r0, r1);
            return;
        }
        int tx = plan.TX, ld = plan.Ld, o = g.OutC, oh = g.OutH, ow = g.OutW, plane = oh * ow;
        int xiStride = ld;
        bool vec = Vectorized<T>();
        int w = Vector256<T>.Count;
        ref T rm = ref MemoryMarshal.GetArrayDataReference(m);
        ref T y0 = ref MemoryMarshal.GetReference(output);
        // Channel-outer: the 16 rows M[co][·] are read, and the output plane of co written, as few sequential streams.
        for (int co = 0; co < o; co++)
        {
            T b = bias.IsEmpty ? T.Zero : bias[co];
            for (int r = r0; r < r1; r++)
            {
                int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                bool secondRow = 2 * ty + 1 < oh;
                ref T src = ref Unsafe.Add(ref rm, co * 16 * ld + t0);
                ref T out0 = ref Unsafe.Add(ref y0, (n * o + co) * plane + 2 * ty * ow);
                ref T out1 = ref Unsafe.Add(ref out0, ow);
                int j = 0;
                // Whole output pairs: tiles [0, full); an odd OutW leaves the last tile to the scalar loop.
                int full = ow / 2;
                if (vec && full >= w)
                {
                    var bv = Vector256.Create(b);
                    for (; ; j += w)
                    {
                        if (j > full - w) j = full - w;   // the last block overlaps the previous one
                        ref T q = ref Unsafe.Add(ref src, j);
                        var m0 = Ld(ref q, 0); var m1 = Ld(ref q, xiStride); var m2 = Ld(ref q, 2 * xiStride); var m3 = Ld(ref q, 3 * xiStride);
                        var m4 = Ld(ref q, 4 * xiStride); var m5 = Ld(ref q, 5 * xiStride); var m6 = Ld(ref q, 6 * xiStride); var m7 = Ld(ref q, 7 * xiStride);
                        var m8 = Ld(ref q, 8 * xiStride); var m9 = Ld(ref q, 9 * xiStride); var m10 = Ld(ref q, 10 * xiStride); var m11 = Ld(ref q, 11 * xiStride);
                        var s0 = m0 + m4 + m8; var s1 = m1 + m5 + m9; var s2 = m2 + m6 + m10; var s3 = m3 + m7 + m11;
                        Interleave(s0 + s1 + s2 + bv, s1 - s2 - s3 + bv, out var lo, out var hi);
                        lo.StoreUnsafe(ref out0, (nuint)(2 * j));
                        hi.StoreUnsafe(ref out0, (nuint)(2 * j + w));
                        if (secondRow)
                        {
                            var m12 = Ld(ref q, 12 * xiStride); var m13 = Ld(ref q, 13 * xiStride); var m14 = Ld(ref q, 14 * xiStride); var m15 = Ld(ref q, 15 * xiStride);
                            var u0 = m4 - m8 - m12; var u1 = m5 - m9 - m13; var u2 = m6 - m10 - m14; var u3 = m7 - m11 - m15;
                            Interleave(u0 + u1 + u2 + bv, u1 - u2 - u3 + bv, out lo, out hi);
                            lo.StoreUnsafe(ref out1, (nuint)(2 * j));
                            hi.StoreUnsafe(ref out1, (nuint)(2 * j + w));
                        }
                        if (j == full - w) break;
                    }
                    j = full;
                }
                for (; j < tx; j++)
                {
                    ref T q = ref Unsafe.Add(ref src, j);
                    T m0 = q, m1 = Unsafe.Add(ref q, xiStride), m2 = Unsafe.Add(ref q, 2 * xiStride), m3 = Unsafe.Add(ref q, 3 * xiStride);
                    T m4 = Unsafe.Add(ref q, 4 * xiStride), m5 = Unsafe.Add(ref q, 5 * xiStride), m6 = Unsafe.Add(ref q, 6 * xiStride), m7 = Unsafe.Add(ref q, 7 * xiStride);
                    T m8 = Unsafe.Add(ref q, 8 * xiStride), m9 = Unsafe.Add(ref q, 9 * xiStride), m10 = Unsafe.Add(ref q, 10 * xiStride), m11 = Unsafe.Add(ref q, 11 * xiStride);
                    T m12 = Unsafe.Add(ref q, 12 * xiStride), m13 = Unsafe.Add(ref q, 13 * xiStride), m14 = Unsafe.Add(ref q, 14 * xiStride), m15 = Unsafe.Add(ref q, 15 * xiStride);
                    // Aᵀ·M: row 0 = M0 + M1 + M2 (rows of 4), row 1 = M1 − M2 − M3
                    T s0 = m0 + m4 + m8, s1 = m1 + m5 + m9, s2 = m2 + m6 + m10, s3 = m3 + m7 + m11;
                    T u0 = m4 - m8 - m12, u1 = m5 - m9 - m13, u2 = m6 - m10 - m14, u3 = m7 - m11 - m15;
                    int x = 2 * j;
                    Unsafe.Add(ref out0, x) = s0 + s1 + s2 + b;
                    if (x + 1 < ow) Unsafe.Add(ref out0, x + 1) = s1 - s2 - s3 + b;
                    if (secondRow)
                    {
                        Unsafe.Add(ref out1, x) = u0 + u1 + u2 + b;
                        if (x + 1 < ow) Unsafe.Add(ref out1, x + 1) = u1 - u2 - u3 + b;
                    }
                }
            }
        }
    }

    /// <summary>
    /// dM[o][ξ][t] = (A dY Aᵀ)[ξ] for the tiles of tile rows [r0, r1), A = [[1,0],[1,1],[1,−1],[0,−1]]; gradient
    /// entries beyond OutH/OutW are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradOutputTransform<T>(in Conv2dGeometry g, in Plan plan, ReadOnlySpan<T> gradOutput,
        int r0, int r1, T[] dm, T[] rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && KernelSettings.UseAvx512)
        {
            GradOutputTransform512(g, plan, MemoryMarshal.Cast<T, float>(gradOutput), r0, r1, (float[])(object)dm);
            return;
        }
        int tx = plan.TX, ld = plan.Ld, o = g.OutC, oh = g.OutH, ow = g.OutW, plane = oh * ow;
        int xiStride = ld, stride = SplitStride(plan);
        bool vec = Vectorized<T>();
        ref T rd = ref MemoryMarshal.GetArrayDataReference(dm);
        ref T dy0 = ref MemoryMarshal.GetReference(gradOutput);
        ref T e = ref MemoryMarshal.GetArrayDataReference(rows);
        ref T od = ref Unsafe.Add(ref e, 2 * stride);
        // Channel-outer: the 16 rows dM[co][·] are written as 16 sequential streams (row-outer order touched every
        // channel's 16 rows per tile row, and the scattered partial-line writes cost ~5× more).
        for (int co = 0; co < o; co++)
        {
            for (int r = r0; r < r1; r++)
            {
                int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                for (int k = 0; k < 2; k++)
                {
                    int iy = 2 * ty + k;
                    ref T ek = ref Unsafe.Add(ref e, k * stride);
                    ref T ok = ref Unsafe.Add(ref od, k * stride);
                    if (iy >= oh)
                    {
                        MemoryMarshal.CreateSpan(ref ek, stride).Clear();
                        MemoryMarshal.CreateSpan(ref ok, stride).Clear();
                        continue;
                    }
                    SplitRow(ref Unsafe.Add(ref dy0, (n * o + co) * plane + iy * ow), ow, 0, tx, ref ek, ref ok, vec);
                }
                ref T dst = ref Unsafe.Add(ref rd, co * 16 * ld + t0);
                int j = 0;
                if (vec)
                {
                    for (; j < tx; j += Vector256<T>.Count)
                    {
                        // dY row 0: columns (a, b); row 1: (c, d). A·dY rows: (a, b), (a + c, b + d), (a − c, b − d), (−c, −d);
                        // then ·Aᵀ per row (x, z) → x, x + z, x − z, −z.
                        Vector256<T> a = Ld(ref e, j), b = Ld(ref od, j), c = Ld(ref e, stride + j), d = Ld(ref od, stride + j);
                        ref T q = ref Unsafe.Add(ref dst, j);
                        RowOfDm(ref q, xiStride, 0, a, b);
                        RowOfDm(ref q, xiStride, 4, a + c, b + d);
                        RowOfDm(ref q, xiStride, 8, a - c, b - d);
                        RowOfDm(ref q, xiStride, 12, -c, -d);
                    }
                    continue;
                }
                for (; j < tx; j++)
                {
                    T a = Unsafe.Add(ref e, j), b = Unsafe.Add(ref od, j);
                    T c = Unsafe.Add(ref e, stride + j), d = Unsafe.Add(ref od, stride + j);
                    ref T q = ref Unsafe.Add(ref dst, j);
                    RowOfDm(ref q, xiStride, 0, a, b);
                    RowOfDm(ref q, xiStride, 4, a + c, b + d);
                    RowOfDm(ref q, xiStride, 8, a - c, b - d);
                    RowOfDm(ref q, xiStride, 12, -c, -d);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowOfDm<T>(ref T q, int xiStride, int xi0, Vector256<T> x, Vector256<T> z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        x.StoreUnsafe(ref Unsafe.Add(ref q, xi0 * xiStride));
        (x + z).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 1) * xiStride));
        (x - z).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 2) * xiStride));
        (-z).StoreUnsafe(ref Unsafe.Add(ref q, (xi0 + 3) * xiStride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowOfDm<T>(ref T q, int xiStride, int xi0, T x, T z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Unsafe.Add(ref q, xi0 * xiStride) = x;
        Unsafe.Add(ref q, (xi0 + 1) * xiStride) = x + z;
        Unsafe.Add(ref q, (xi0 + 2) * xiStride) = x - z;
        Unsafe.Add(ref q, (xi0 + 3) * xiStride) = -z;
    }
}
