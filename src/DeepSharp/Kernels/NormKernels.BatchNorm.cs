using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

// Batch normalisation over [N, C, S]: statistics, forward (optionally with a residual and a ReLU), backward in training
// and eval mode (optionally through the ReLU), and the per-channel reductions they share. LayerNorm and the helpers
// both use are in NormKernels.cs.
internal static partial class NormKernels
{
    // ---------------------------------------------------------------------------------------------------------------
    // BatchNorm over [N, C, S]
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Per-channel mean and biased variance of x [n, c, s] (over the n·s elements of each channel).</summary>
    public static void BatchNormStats<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<T> mean, Span<T> var)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBn(x.Length, n, c, s, nameof(x));
        CheckLen(mean, c, nameof(mean)); CheckLen(var, c, nameof(var));
        if (c == 0) return;
        double count = (double)n * s;
        double[] acc = ArrayPool<double>.Shared.Rent(c);
        try
        {
            // Pass 1: sums.
            ChannelSums(x, default, n, c, s, acc);
            for (int ch = 0; ch < c; ch++) mean[ch] = T.CreateChecked(acc[ch] / count);
            // Pass 2: Σ(x − mean)².
            ChannelSums(x, mean, n, c, s, acc);
            for (int ch = 0; ch < c; ch++) var[ch] = T.CreateChecked(acc[ch] / count);
        }
        finally { ArrayPool<double>.Shared.Return(acc); }
    }

    /// <summary>invstd[c] = 1/√(var[c] + eps) — for running statistics in eval mode or batch variance in training.</summary>
    public static void BatchNormInvStd<T>(ReadOnlySpan<T> var, T eps, Span<T> invstd) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckLen(invstd, var.Length, nameof(invstd));
        for (int i = 0; i < var.Length; i++) invstd[i] = T.One / T.Sqrt(var[i] + eps);
    }

    /// <summary>
    /// y = (x − mean[c])·invstd[c]·γ[c] + β[c] over x [n, c, s]; γ/β may be empty. y may alias x. With a
    /// <paramref name="residual"/> (same shape as x) it is added, and with <paramref name="relu"/> the result goes through
    /// max(·, 0) — each (image, channel) segment finished while it is in L1, so BatchNorm + skip add + ReLU read and write
    /// memory once instead of three times. The arithmetic is that of the separate ops, so the bits are the same.
    /// </summary>
    public static unsafe void BatchNormForward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> invstd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y, int n, int c, int s,
        ReadOnlySpan<T> residual = default, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBn(x.Length, n, c, s, nameof(x));
        CheckBn(y.Length, n, c, s, nameof(y));
        if (!residual.IsEmpty) CheckBn(residual.Length, n, c, s, nameof(residual));
        CheckLen(mean, c, nameof(mean)); CheckLen(invstd, c, nameof(invstd));
        CheckOptional(gamma, c, nameof(gamma)); CheckOptional(beta, c, nameof(beta));
        if (x.Length == 0) return;
        T[] coef = ArrayPool<T>.Shared.Rent(3 * c); // [mean | scale | beta]
        try
        {
            for (int ch = 0; ch < c; ch++)
            {
                coef[ch] = mean[ch];
                coef[c + ch] = gamma.IsEmpty ? invstd[ch] : invstd[ch] * gamma[ch];
                coef[2 * c + ch] = beta.IsEmpty ? T.Zero : beta[ch];
            }
            T[] k = coef;
            fixed (T* pr = residual)
            {
                nint rp = (nint)pr;
                int rlen = residual.Length;
                FusedRowParallel.Run(x, y, n, c * s, 2L * c * s, (xs, ys, r0, r1, rowLen) =>
                {
                    var res = new ReadOnlySpan<T>((void*)rp, rlen);
                    for (int i = r0; i < r1; i++)
                    {
                        if (s == 1)
                        {
                            // (x − mean)·scale + β, vectorised across channels.
                            var yr = ys.Slice(i * c, c);
                            TensorPrimitives.Subtract(xs.Slice(i * c, c), k.AsSpan(0, c), yr);
                            TensorPrimitives.MultiplyAdd(yr, k.AsSpan(c, c), k.AsSpan(2 * c, c), yr);
                            Finish(yr, res.IsEmpty ? default : res.Slice(i * c, c), relu);
                        }
                        else
                        {
                            for (int ch = 0; ch < c; ch++)
                            {
                                int off = (i * c + ch) * s;
                                Affine(xs.Slice(off, s), k[ch], k[c + ch], k[2 * c + ch], ys.Slice(off, s));
                                Finish(ys.Slice(off, s), res.IsEmpty ? default : res.Slice(off, s), relu);
                            }
                        }
                    }
                });
            }
        }
        finally { ArrayPool<T>.Shared.Return(coef); }

        // The skip add and the ReLU with the primitives the separate ops use (same bits, NaN kept, max(−0, 0) = 0).
        static void Finish(Span<T> y, ReadOnlySpan<T> residual, bool relu)
        {
            if (!residual.IsEmpty) TensorPrimitives.Add(y, residual, y);
            if (relu) TensorPrimitives.Max(y, T.Zero, y);
        }
    }

    /// <summary>
    /// BatchNorm backward in training mode, through the batch statistics. With M = n·s, x̂ = (x − mean)·invstd:
    /// dβ = Σ dy, dγ = Σ dy·x̂ (per channel), dx = γ·invstd·(dy − dβ/M − x̂·dγ/M). γ empty means γ = 1;
    /// dγ/dβ may be empty (not returned) and are overwritten otherwise. dx may alias dy.
    /// </summary>
    public static void BatchNormBackwardTraining<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> invstd,
        ReadOnlySpan<T> gamma, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBn(dy.Length, n, c, s, nameof(dy)); CheckBn(x.Length, n, c, s, nameof(x)); CheckBn(dx.Length, n, c, s, nameof(dx));
        CheckLen(mean, c, nameof(mean)); CheckLen(invstd, c, nameof(invstd));
        CheckOptional(gamma, c, nameof(gamma)); CheckOptional(dgamma, c, nameof(dgamma)); CheckOptional(dbeta, c, nameof(dbeta));
        if (c == 0) return;
        double[] sDy = ArrayPool<double>.Shared.Rent(c), sDyX = ArrayPool<double>.Shared.Rent(c);
        try
        {
            ChannelDotCentered(dy, x, mean, n, c, s, sDyX, sDy); // Σ dy·(x − mean) and Σ dy in one pass
            BackwardTrainingFromSums(dy, x, mean, invstd, gamma, sDy, sDyX, dx, dgamma, dbeta, n, c, s);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sDy); ArrayPool<double>.Shared.Return(sDyX);
        }
    }

    /// <summary>
    /// The backward of y = ReLU(BatchNorm(x) [+ residual]) in training mode, from the gradient g of y and y itself:
    /// g′ = y &gt; 0 ? g : 0 (the gradient of the BatchNorm output and of the residual) is written to
    /// <paramref name="gPre"/>, then dx, dγ, dβ are those of <see cref="BatchNormBackwardTraining{T}"/> with dy = g′.
    /// The mask and the channel sums are one pass (each segment masked, then reduced while it is in L1); the bits are
    /// those of ReLU's backward followed by BatchNorm's. gPre may alias dx (when the residual's gradient is not needed).
    /// </summary>
    public static void BatchNormReluBackwardTraining<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> y, ReadOnlySpan<T> x,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> invstd, ReadOnlySpan<T> gamma, Span<T> gPre, Span<T> dx, Span<T> dgamma, Span<T> dbeta,
        int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBn(g.Length, n, c, s, nameof(g)); CheckBn(y.Length, n, c, s, nameof(y)); CheckBn(x.Length, n, c, s, nameof(x));
        CheckBn(gPre.Length, n, c, s, nameof(gPre)); CheckBn(dx.Length, n, c, s, nameof(dx));
        CheckLen(mean, c, nameof(mean)); CheckLen(invstd, c, nameof(invstd));
        CheckOptional(gamma, c, nameof(gamma)); CheckOptional(dgamma, c, nameof(dgamma)); CheckOptional(dbeta, c, nameof(dbeta));
        if (c == 0) return;
        double[] sDy = ArrayPool<double>.Shared.Rent(c), sDyX = ArrayPool<double>.Shared.Rent(c);
        try
        {
            ChannelDotCentered(g, x, mean, n, c, s, sDyX, sDy, maskFrom: y, masked: gPre);
            BackwardTrainingFromSums<T>(gPre, x, mean, invstd, gamma, sDy, sDyX, dx, dgamma, dbeta, n, c, s);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sDy); ArrayPool<double>.Shared.Return(sDyX);
        }
    }

    /// <summary>dγ, dβ and dx of the training-mode backward from the channel sums Σ dy and Σ dy·(x − mean).</summary>
    private static void BackwardTrainingFromSums<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> invstd,
        ReadOnlySpan<T> gamma, double[] sDy, double[] sDyX, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int n, int c, int s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] coef = ArrayPool<T>.Shared.Rent(4 * c); // [mean | a = γ·invstd | b = Σdy/M | d = invstd·Σdy·x̂/M]
        try
        {
            double count = (double)n * s;
            for (int ch = 0; ch < c; ch++)
            {
                T inv = invstd[ch];
                T sumDy = T.CreateChecked(sDy[ch]);
                T sumDyXhat = T.CreateChecked(sDyX[ch]) * inv;
                if (!dbeta.IsEmpty) dbeta[ch] = sumDy;
                if (!dgamma.IsEmpty) dgamma[ch] = sumDyXhat;
                coef[ch] = mean[ch];
                coef[c + ch] = gamma.IsEmpty ? inv : gamma[ch] * inv;
                coef[2 * c + ch] = T.CreateChecked(sDy[ch] / count);
                coef[3 * c + ch] = inv * inv * T.CreateChecked(sDyX[ch] / count);
            }
            if (dx.IsEmpty) return;
            T[] k = coef;
            FusedRowParallel.Run(dy, x, dx, n, c * s, 3L * c * s, (dys, xs, dxs, r0, r1, rowLen) =>
            {
                for (int i = r0; i < r1; i++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        int off = (i * c + ch) * s;
                        T m = k[ch], a = k[c + ch], b = k[2 * c + ch], d = k[3 * c + ch];
                        BackwardAffine(dys.Slice(off, s), xs.Slice(off, s), m, a, b, d, dxs.Slice(off, s));
                    }
            });
        }
        finally { ArrayPool<T>.Shared.Return(coef); }
    }

    /// <summary>
    /// BatchNorm backward in eval mode (fixed running statistics): dx = dy·γ·invstd. Optionally dβ = Σ dy and
    /// dγ = Σ dy·(x − runningMean)·invstd (pass empty spans to skip; x and runningMean are only read for dγ).
    /// </summary>
    public static void BatchNormBackwardEval<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> runningMean, ReadOnlySpan<T> invstd,
        ReadOnlySpan<T> gamma, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBn(dy.Length, n, c, s, nameof(dy)); CheckBn(dx.Length, n, c, s, nameof(dx));
        CheckLen(invstd, c, nameof(invstd));
        CheckOptional(gamma, c, nameof(gamma)); CheckOptional(dgamma, c, nameof(dgamma)); CheckOptional(dbeta, c, nameof(dbeta));
        if (c == 0) return;
        double[] acc = ArrayPool<double>.Shared.Rent(c);
        try
        {
            if (!dbeta.IsEmpty)
            {
                ChannelSums(dy, default, n, c, s, acc);
                for (int ch = 0; ch < c; ch++) dbeta[ch] = T.CreateChecked(acc[ch]);
            }
            if (!dgamma.IsEmpty)
            {
                CheckBn(x.Length, n, c, s, nameof(x)); CheckLen(runningMean, c, nameof(runningMean));
                ChannelDotCentered(dy, x, runningMean, n, c, s, acc);
                for (int ch = 0; ch < c; ch++) dgamma[ch] = T.CreateChecked(acc[ch]) * invstd[ch];
            }
        }
        finally { ArrayPool<double>.Shared.Return(acc); }
        T[] coef = ArrayPool<T>.Shared.Rent(c);
        try
        {
            var a = coef.AsSpan(0, c);
            for (int ch = 0; ch < c; ch++) a[ch] = gamma.IsEmpty ? invstd[ch] : gamma[ch] * invstd[ch];
            for (int i = 0; i < n; i++)
            {
                if (s == 1) { TensorPrimitives.Multiply(dy.Slice(i * c, c), a, dx.Slice(i * c, c)); continue; }
                for (int ch = 0; ch < c; ch++)
                {
                    int off = (i * c + ch) * s;
                    TensorPrimitives.Multiply(dy.Slice(off, s), a[ch], dx.Slice(off, s));
                }
            }
        }
        finally { ArrayPool<T>.Shared.Return(coef); }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Per-channel reductions and affine passes
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>acc[ch] = Σ (x − center[ch]) (center empty: Σ x) over channel ch, or Σ (x − center)² when center is given.</summary>
    private static void ChannelSums<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> center, int n, int c, int s, Span<double> acc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        acc[..c].Clear();
        bool squares = !center.IsEmpty;
        if (s == 1)
        {
            for (int i = 0; i < n; i++)
            {
                var row = x.Slice(i * c, c);
                if (squares) for (int ch = 0; ch < c; ch++) { double d = double.CreateChecked(row[ch] - center[ch]); acc[ch] += d * d; }
                else for (int ch = 0; ch < c; ch++) acc[ch] += double.CreateChecked(row[ch]);
            }
            return;
        }
        SegmentReduce(x, x, center, n, c, s, squares ? SegmentOp.SquaredDeviations : SegmentOp.Sum, acc, default);
    }

    /// <summary>acc[ch] = Σ dy·(x − center[ch]) over channel ch; with <paramref name="sums"/> non-empty also
    /// sums[ch] = Σ dy (one pass over both). With <paramref name="masked"/> given, dy first goes through ReLU's backward
    /// (masked = maskFrom &gt; 0 ? dy : 0, segment by segment while it is in L1) and the sums are those of the masked dy.</summary>
    private static void ChannelDotCentered<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> center, int n, int c, int s,
        Span<double> acc, Span<double> sums = default, ReadOnlySpan<T> maskFrom = default, Span<T> masked = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        acc[..c].Clear();
        if (s == 1)
        {
            if (!masked.IsEmpty)
            {
                ActivationKernels.ReluBackward(maskFrom, dy, masked);
                dy = masked;
            }
            for (int i = 0; i < n; i++)
                for (int ch = 0; ch < c; ch++)
                    acc[ch] += double.CreateChecked(dy[i * c + ch] * (x[i * c + ch] - center[ch]));
            if (!sums.IsEmpty) ChannelSums(dy, default, n, c, s, sums);
            return;
        }
        SegmentReduce(dy, x, center, n, c, s, SegmentOp.SumAndDotCentered, acc, sums, maskFrom, masked);
    }

    private enum SegmentOp { Sum, SquaredDeviations, SumAndDotCentered }

    /// <summary>
    /// Per-channel reductions over [n, c, s] with s &gt; 1: each (image, channel) segment is reduced on its own (in
    /// parallel over images, vectorised along s), then the segment results are added per channel in image order in
    /// double — the same bits for any thread count. <paramref name="acc"/> gets Σ a, Σ (a − m)² or Σ a·(b − m);
    /// <paramref name="sums"/> (SumAndDotCentered only, may be empty) gets Σ a. With <paramref name="masked"/> given
    /// (SumAndDotCentered only), each segment of a is first written through ReLU's backward into masked (masked =
    /// maskFrom &gt; 0 ? a : 0) and that is reduced instead — the fused BatchNorm–ReLU backward's one pass.
    /// </summary>
    private static unsafe void SegmentReduce<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> center, int n, int c, int s,
        SegmentOp op, Span<double> acc, Span<double> sums, ReadOnlySpan<T> maskFrom = default, Span<T> masked = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int segs = n * c;
        bool mask = !masked.IsEmpty;
        double[] part = ArrayPool<double>.Shared.Rent(2 * segs);
        try
        {
            // The masking pass reads and writes two more streams: it is worth splitting from a quarter of the size.
            int chunks = FusedRowParallel.Chunks(n, (mask ? 4L : 1L) * c * s);
            fixed (T* pa = a, pb = b, pm = center, pf = maskFrom, pk = masked)
            {
                nint ap = (nint)pa, bp = (nint)pb, mp = (nint)pm, fp = (nint)pf, kp = (nint)pk;
                int len = a.Length, mlen = center.Length;
                double[] pr = part;
                FusedRowParallel.ForChunks(chunks, n, (_, i0, i1) =>
                {
                    var av = new ReadOnlySpan<T>((void*)ap, len);
                    var bv = new ReadOnlySpan<T>((void*)bp, len);
                    var mv = new ReadOnlySpan<T>((void*)mp, mlen);
                    var fv = new ReadOnlySpan<T>((void*)fp, mask ? len : 0);
                    var kv = new Span<T>((void*)kp, mask ? len : 0);
                    for (int i = i0; i < i1; i++)
                        for (int ch = 0; ch < c; ch++)
                        {
                            int seg = i * c + ch, off = seg * s;
                            switch (op)
                            {
                                case SegmentOp.Sum:
                                    pr[seg] = double.CreateChecked(TensorPrimitives.Sum(av.Slice(off, s)));
                                    break;
                                case SegmentOp.SquaredDeviations:
                                    pr[seg] = double.CreateChecked(SumSquaredDeviations(av.Slice(off, s), mv[ch]));
                                    break;
                                default:
                                    ReadOnlySpan<T> segA = av.Slice(off, s);
                                    if (mask)
                                    {
                                        ActivationKernels.ReluBackward(fv.Slice(off, s), segA, kv.Slice(off, s));
                                        segA = kv.Slice(off, s);
                                    }
                                    T sum = SumAndDotCentered(segA, bv.Slice(off, s), mv[ch], out T dot);
                                    pr[seg] = double.CreateChecked(dot);
                                    pr[segs + seg] = double.CreateChecked(sum);
                                    break;
                            }
                        }
                });
            }
            AddSegmentsInImageOrder(part, n, c, acc, op == SegmentOp.SumAndDotCentered ? sums : default);
        }
        finally { ArrayPool<double>.Shared.Return(part); }
    }

    /// <summary>
    /// acc[ch] += Σᵢ part[i·c + ch] and, when <paramref name="sums"/> is given, sums[ch] = Σᵢ part[n·c + i·c + ch]: the
    /// per-(image, channel) segment results added in image order, so the totals have the same bits for any thread count.
    /// </summary>
    private static void AddSegmentsInImageOrder(double[] part, int n, int c, Span<double> acc, Span<double> sums)
    {
        int segs = n * c;
        bool withSums = !sums.IsEmpty;
        if (withSums) sums[..c].Clear();
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                acc[ch] += part[i * c + ch];
                if (withSums) sums[ch] += part[segs + i * c + ch];
            }
    }

    /// <summary>Σ dy (returned) and Σ dy·(x − m) (<paramref name="dot"/>), two accumulators each.</summary>
    private static T SumAndDotCentered<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T m, out T dot) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0, n = x.Length;
        T sum = T.Zero, d = T.Zero;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= 2 * Vector<T>.Count)
        {
            ref T rx = ref MemoryMarshal.GetReference(x);
            ref T rdy = ref MemoryMarshal.GetReference(dy);
            int w = Vector<T>.Count;
            var vm = new Vector<T>(m);
            Vector<T> s0 = Vector<T>.Zero, s1 = Vector<T>.Zero, d0 = Vector<T>.Zero, d1 = Vector<T>.Zero;
            for (; j <= n - 2 * w; j += 2 * w)
            {
                var g0 = Vector.LoadUnsafe(ref rdy, (nuint)j);
                var g1 = Vector.LoadUnsafe(ref rdy, (nuint)(j + w));
                s0 += g0; s1 += g1;
                d0 += g0 * (Vector.LoadUnsafe(ref rx, (nuint)j) - vm);
                d1 += g1 * (Vector.LoadUnsafe(ref rx, (nuint)(j + w)) - vm);
            }
            sum = Vector.Sum(s0 + s1);
            d = Vector.Sum(d0 + d1);
        }
        for (; j < n; j++) { sum += dy[j]; d += dy[j] * (x[j] - m); }
        dot = d;
        return sum;
    }

    /// <summary>dx = a·(dy − b − (x − m)·d) (dx may alias dy).</summary>
    private static void BackwardAffine<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T m, T a, T b, T d, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0, n = x.Length;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T rx = ref MemoryMarshal.GetReference(x);
            ref T rdy = ref MemoryMarshal.GetReference(dy);
            ref T rdx = ref MemoryMarshal.GetReference(dx);
            int w = Vector<T>.Count;
            var vm = new Vector<T>(m); var va = new Vector<T>(a); var vb = new Vector<T>(b); var vd = new Vector<T>(d);
            for (; j <= n - w; j += w)
                (va * (Vector.LoadUnsafe(ref rdy, (nuint)j) - vb - (Vector.LoadUnsafe(ref rx, (nuint)j) - vm) * vd)).StoreUnsafe(ref rdx, (nuint)j);
        }
        for (; j < n; j++) dx[j] = a * (dy[j] - b - (x[j] - m) * d);
    }

    /// <summary>y = (x − m)·a + b.</summary>
    private static void Affine<T>(ReadOnlySpan<T> x, T m, T a, T b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0, n = x.Length;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T rx = ref MemoryMarshal.GetReference(x);
            ref T ry = ref MemoryMarshal.GetReference(y);
            int w = Vector<T>.Count;
            var vm = new Vector<T>(m); var va = new Vector<T>(a); var vb = new Vector<T>(b);
            for (; j <= n - w; j += w) ((Vector.LoadUnsafe(ref rx, (nuint)j) - vm) * va + vb).StoreUnsafe(ref ry, (nuint)j);
        }
        for (; j < n; j++) y[j] = (x[j] - m) * a + b;
    }

    private static void CheckBn(int length, int n, int c, int s, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        ArgumentOutOfRangeException.ThrowIfNegative(s);
        if ((long)n * c * s != length) throw new ArgumentException($"{name} length {length} != n·c·s = {n}·{c}·{s}.", name);
    }
}
