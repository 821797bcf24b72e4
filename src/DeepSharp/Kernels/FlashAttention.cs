using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Where one operand of attention lives: element (b, h, i, c) of a [N, H, rows, cols] operand is at
/// <c>P + b·SB + h·SH + i·SL + c</c> (the last dim is unit-stride; any order of the other three dims).
/// </summary>
internal readonly unsafe struct AttnOperand<T>(T* p, long sb, long sh, long sl) where T : unmanaged
{
    public readonly T* P = p;
    public readonly long SB = sb, SH = sh, SL = sl;

    public T* Row(int b, int h, int i) => P + b * SB + h * SH + i * SL;
}

/// <summary>
/// Fused scaled-dot-product attention in the manner of FlashAttention (Dao et al. 2022, FlashAttention-2's loop order),
/// on the CPU: O = softmax(scale·Q·Kᵀ + mask)·V without ever holding the [L, S] score matrix. Queries go in blocks of
/// <see cref="BlockRows"/>, keys in blocks of <see cref="BlockCols"/>; the softmax runs online (a running max and sum per
/// query row rescale the partial output), and with <c>causal</c> the key blocks above the diagonal are skipped. Memory per
/// head is O(L) (the row log-sum-exps saved for backward) plus per-thread block scratch. The block products go through
/// the GEMM's single-thread path; threads split (batch, head, query block) in forward and (batch, head) in backward, so
/// every result is computed by one thread in a fixed order and does not depend on the thread count.
/// <para>A query row whose every key is masked gets an output of zeros (and a log-sum-exp of +∞, so backward gives it
/// zero gradients), as DeepSharp's MultiheadAttention does.</para>
/// </summary>
internal static unsafe class FlashAttention
{
    /// <summary>Query rows per block.</summary>
    internal const int BlockRows = 64;

    /// <summary>Keys per block.</summary>
    internal const int BlockCols = 64;

    /// <summary>
    /// Forward. q [N, H, L, D], k [N, H, S, D], v [N, H, S, Dv], optional additive mask broadcast to [N, H, L, S]
    /// (last-dim stride 1 or 0), o [N, H, L, Dv] (written), lse [N·H·L] (written: row log-sum-exps, +∞ for fully masked rows).
    /// Causal: key j is allowed for query i only when j ≤ i (top-left aligned, as PyTorch).
    /// </summary>
    public static void Forward<T>(int n, int h, int l, int s, int d, int dv, T scale,
        AttnOperand<T> q, AttnOperand<T> k, AttnOperand<T> v, AttnOperand<T>? mask, long maskColStride, bool causal,
        AttnOperand<T> o, T* lse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int qBlocks = (l + BlockRows - 1) / BlockRows;
        int items = n * h * qBlocks;
        if (items == 0) return;
        var job = new Job<T>(n, h, l, s, d, dv, scale, q, k, v, mask, maskColStride, causal, o, lse, default, default, default, default, null);
        KernelParallel.For(0, items, KernelSettings.NumThreads, item =>
        {
            int qb = item % qBlocks, bh = item / qBlocks;
            ForwardBlock(in job, bh / job.H, bh % job.H, qb * BlockRows);
        });
    }

    /// <summary>
    /// Backward given dO and the forward's o and lse: writes dq [N, H, L, D], dk [N, H, S, D], dv [N, H, S, Dv] (each
    /// overwritten). <paramref name="delta"/> is scratch of N·H·L elements.
    /// </summary>
    public static void Backward<T>(int n, int h, int l, int s, int d, int dv, T scale,
        AttnOperand<T> q, AttnOperand<T> k, AttnOperand<T> v, AttnOperand<T>? mask, long maskColStride, bool causal,
        AttnOperand<T> o, T* lse, AttnOperand<T> dO, AttnOperand<T> dq, AttnOperand<T> dk, AttnOperand<T> dvOut, T* delta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int items = n * h;
        if (items == 0) return;
        var job = new Job<T>(n, h, l, s, d, dv, scale, q, k, v, mask, maskColStride, causal, o, lse, dO, dq, dk, dvOut, delta);
        KernelParallel.For(0, items, KernelSettings.NumThreads, bh => BackwardHead(in job, bh / job.H, bh % job.H));
    }

    private readonly struct Job<T>(int n, int h, int l, int s, int d, int dv, T scale,
        AttnOperand<T> q, AttnOperand<T> k, AttnOperand<T> v, AttnOperand<T>? mask, long maskColStride, bool causal,
        AttnOperand<T> o, T* lse, AttnOperand<T> dO, AttnOperand<T> dq, AttnOperand<T> dk, AttnOperand<T> dv2, T* delta)
        where T : unmanaged
    {
        public readonly int N = n, H = h, L = l, S = s, D = d, Dv = dv;
        public readonly T Scale = scale;
        public readonly AttnOperand<T> Q = q, K = k, V = v, O = o, DO = dO, DQ = dq, DK = dk, DV = dv2;
        public readonly bool HasMask = mask.HasValue;
        public readonly AttnOperand<T> Mask = mask ?? default;
        public readonly long MaskColStride = maskColStride;
        public readonly bool Causal = causal;
        public readonly T* Lse = lse, Delta = delta;
    }

    /// <summary>Per-thread block scratch (grown once, then reused: no allocation per call in steady state).</summary>
    private static class Scratch<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? t_buffer;

        public static T[] Get(int length)
        {
            var b = t_buffer;
            if (b is null || b.Length < length) t_buffer = b = new T[length];
            return b;
        }
    }

    /// <summary>Scores of one block: sc[r, c] = scale·q_{i0+r}·k_{j0+c} + mask, −∞ where causal forbids; ld = BlockCols.</summary>
    private static void Scores<T>(in Job<T> job, int b, int hh, int i0, int rows, int j0, int cols, T* sc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.ComputeSingleThread(false, true, rows, cols, job.D, job.Scale,
            job.Q.Row(b, hh, i0), (int)job.Q.SL, job.K.Row(b, hh, j0), (int)job.K.SL, T.Zero, sc, BlockCols);
        if (job.HasMask)
        {
            for (int r = 0; r < rows; r++)
            {
                T* m = job.Mask.Row(b, hh, i0 + r) + j0 * job.MaskColStride;
                var row = new Span<T>(sc + r * BlockCols, cols);
                if (job.MaskColStride == 0) TensorPrimitives.Add(row, *m, row);
                else TensorPrimitives.Add(row, new ReadOnlySpan<T>(m, cols), row);
            }
        }
        if (job.Causal && j0 + cols - 1 > i0)
        {
            for (int r = 0; r < rows; r++)
            {
                int first = Math.Max(0, i0 + r + 1 - j0);    // keys j0+first… are after query i0+r
                for (int c = first; c < cols; c++) sc[r * BlockCols + c] = T.NegativeInfinity;
            }
        }
    }

    /// <summary>The number of keys query rows [i0, i0 + rows) may see (all S, or up to the diagonal when causal).</summary>
    private static int KeyEnd<T>(in Job<T> job, int i0, int rows) where T : unmanaged =>
        job.Causal ? Math.Min(job.S, i0 + rows) : job.S;

    private static void ForwardBlock<T>(in Job<T> job, int b, int hh, int i0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Math.Min(BlockRows, job.L - i0), dv = job.Dv;
        int scLen = BlockRows * BlockCols, accLen = BlockRows * dv;
        var scratch = Scratch<T>.Get(scLen + accLen + 2 * BlockRows);
        fixed (T* basePtr = scratch)
        {
            T* sc = basePtr, acc = sc + scLen, rowMax = acc + accLen, rowSum = rowMax + BlockRows;
            new Span<T>(acc, rows * dv).Clear();
            for (int r = 0; r < rows; r++) { rowMax[r] = T.NegativeInfinity; rowSum[r] = T.Zero; }

            int kEnd = KeyEnd(in job, i0, rows);
            for (int j0 = 0; j0 < kEnd; j0 += BlockCols)
            {
                int cols = Math.Min(BlockCols, kEnd - j0);
                Scores(in job, b, hh, i0, rows, j0, cols, sc);
                for (int r = 0; r < rows; r++)
                {
                    var row = new Span<T>(sc + r * BlockCols, cols);
                    T mNew = T.Max(rowMax[r], TensorPrimitives.Max<T>(row));
                    if (T.IsNegativeInfinity(mNew)) { row.Clear(); continue; }   // every key so far masked
                    T rescale = T.Exp(rowMax[r] - mNew);                        // 0 on the first live block
                    rowSum[r] = rowSum[r] * rescale + VectorMath.ExpShiftSum<T>(row, mNew, row);
                    rowMax[r] = mNew;
                    if (rescale != T.One)
                    {
                        var a = new Span<T>(acc + r * dv, dv);
                        TensorPrimitives.Multiply(a, rescale, a);
                    }
                }
                // acc += P·V_block
                Gemm.ComputeSingleThread(false, false, rows, dv, cols, T.One,
                    sc, BlockCols, job.V.Row(b, hh, j0), (int)job.V.SL, T.One, acc, dv);
            }

            T* lse = job.Lse + ((long)(b * job.H + hh) * job.L + i0);
            for (int r = 0; r < rows; r++)
            {
                var dst = new Span<T>(job.O.Row(b, hh, i0 + r), dv);
                if (rowSum[r] > T.Zero)
                {
                    TensorPrimitives.Multiply(new ReadOnlySpan<T>(acc + r * dv, dv), T.One / rowSum[r], dst);
                    lse[r] = rowMax[r] + T.Log(rowSum[r]);
                }
                else
                {
                    dst.Clear();
                    lse[r] = T.PositiveInfinity;
                }
            }
        }
    }

    private static void BackwardHead<T>(in Job<T> job, int b, int hh) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = job.L, d = job.D, dv = job.Dv;
        long headRow = (long)(b * job.H + hh) * l;
        T* lse = job.Lse + headRow, delta = job.Delta + headRow;

        // delta_i = Σ_c dO[i, c]·O[i, c]; dQ starts at zero.
        for (int i = 0; i < l; i++)
        {
            delta[i] = TensorPrimitives.Dot(new ReadOnlySpan<T>(job.DO.Row(b, hh, i), dv), new ReadOnlySpan<T>(job.O.Row(b, hh, i), dv));
            new Span<T>(job.DQ.Row(b, hh, i), d).Clear();
        }

        int scLen = BlockRows * BlockCols;
        var scratch = Scratch<T>.Get(2 * scLen + BlockCols * (d + dv));
        fixed (T* basePtr = scratch)
        {
            T* p = basePtr, ds = p + scLen, dkAcc = ds + scLen, dvAcc = dkAcc + BlockCols * d;
            for (int j0 = 0; j0 < job.S; j0 += BlockCols)
            {
                int cols = Math.Min(BlockCols, job.S - j0);
                new Span<T>(dkAcc, cols * d).Clear();
                new Span<T>(dvAcc, cols * dv).Clear();
                // With causal, query rows before j0 see none of these keys.
                int iStart = job.Causal ? j0 / BlockRows * BlockRows : 0;
                for (int i0 = iStart; i0 < l; i0 += BlockRows)
                {
                    int rows = Math.Min(BlockRows, l - i0);
                    Scores(in job, b, hh, i0, rows, j0, cols, p);
                    // P = exp(scores − lse): the forward's probabilities (0 for fully masked rows, lse = +∞).
                    for (int r = 0; r < rows; r++)
                    {
                        var row = new Span<T>(p + r * BlockCols, cols);
                        if (T.IsPositiveInfinity(lse[i0 + r])) row.Clear();
                        else VectorMath.ExpShiftSum<T>(row, lse[i0 + r], row);
                    }
                    // dV_j += Pᵀ·dO_i
                    Gemm.ComputeSingleThread(true, false, cols, dv, rows, T.One,
                        p, BlockCols, job.DO.Row(b, hh, i0), (int)job.DO.SL, T.One, dvAcc, dv);
                    // dP = dO_i·V_jᵀ, then dS = P∘(dP − delta_i)
                    Gemm.ComputeSingleThread(false, true, rows, cols, dv, T.One,
                        job.DO.Row(b, hh, i0), (int)job.DO.SL, job.V.Row(b, hh, j0), (int)job.V.SL, T.Zero, ds, BlockCols);
                    for (int r = 0; r < rows; r++)
                    {
                        var dsRow = new Span<T>(ds + r * BlockCols, cols);
                        TensorPrimitives.Subtract(dsRow, delta[i0 + r], dsRow);
                        TensorPrimitives.Multiply(dsRow, new ReadOnlySpan<T>(p + r * BlockCols, cols), dsRow);
                    }
                    // dQ_i += scale·dS·K_j ; dK_j += scale·dSᵀ·Q_i
                    Gemm.ComputeSingleThread(false, false, rows, d, cols, job.Scale,
                        ds, BlockCols, job.K.Row(b, hh, j0), (int)job.K.SL, T.One, job.DQ.Row(b, hh, i0), (int)job.DQ.SL);
                    Gemm.ComputeSingleThread(true, false, cols, d, rows, job.Scale,
                        ds, BlockCols, job.Q.Row(b, hh, i0), (int)job.Q.SL, T.One, dkAcc, d);
                }
                for (int c = 0; c < cols; c++)
                {
                    new ReadOnlySpan<T>(dkAcc + c * d, d).CopyTo(new Span<T>(job.DK.Row(b, hh, j0 + c), d));
                    new ReadOnlySpan<T>(dvAcc + c * dv, dv).CopyTo(new Span<T>(job.DV.Row(b, hh, j0 + c), dv));
                }
            }
        }
    }
}
