using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Layer normalisation over the last dimension and batch normalisation over [N, C, S] (S = H·W, or 1 for BatchNorm1d
/// on [N, C]), forward and backward, as PyTorch defines them (biased variance in the normalisation).
/// <para>Optional affine parameters (γ, β) and optional gradient outputs are passed as empty spans. Gradient outputs
/// for parameters (dγ, dβ) are overwritten, not accumulated. Per-row / per-channel reductions are two-pass (mean,
/// then squared deviations) for accuracy; partial sums across segments are kept in double.</para>
/// </summary>
internal static partial class NormKernels
{
    // ---------------------------------------------------------------------------------------------------------------
    // LayerNorm
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// LayerNorm over rows of x [rows, n] with rows = mean.Length: mean = Σx/n, var = Σ(x − mean)²/n (biased, corrected
    /// two-pass),
    /// rstd = 1/√(var + eps), y = (x − mean)·rstd·γ + β. γ, β: [n] or empty. y may alias x.
    /// </summary>
    public static void LayerNormForward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, T eps,
        Span<T> y, Span<T> mean, Span<T> rstd) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = mean.Length;
        int n = RowLength(x.Length, rows);
        if (rstd.Length != rows) throw new ArgumentException($"rstd length {rstd.Length} != rows {rows}.", nameof(rstd));
        if (y.Length != x.Length) throw new ArgumentException($"y length {y.Length} != x length {x.Length}.", nameof(y));
        CheckOptional(gamma, n, nameof(gamma));
        CheckOptional(beta, n, nameof(beta));
        if (rows == 0) return;
        // Pack the per-row statistics after y so a single (a, b) Run carries everything: stats = [mean | rstd].
        T[] stats = ArrayPool<T>.Shared.Rent(2 * rows);
        T[] gb = ArrayPool<T>.Shared.Rent(2 * n);
        try
        {
            gamma.CopyTo(gb); beta.CopyTo(gb.AsSpan(n));
            bool hasG = !gamma.IsEmpty, hasB = !beta.IsEmpty;
            T[] statsArr = stats, gbArr = gb;
            FusedRowParallel.Run(x, y, rows, n, 4L * n, (xs, ys, r0, r1, nn) =>
            {
                ReadOnlySpan<T> g = hasG ? gbArr.AsSpan(0, nn) : default;
                ReadOnlySpan<T> b = hasB ? gbArr.AsSpan(nn, nn) : default;
                for (int r = r0; r < r1; r++)
                {
                    var xr = xs.Slice(r * nn, nn);
                    T m, rs;
                    if (nn == 0) { m = T.NaN; rs = T.NaN; }
                    else
                    {
                        T cnt = T.CreateChecked(nn);
                        m = ReduceKernels.PairwiseSum(xr) / cnt;
                        // Corrected two-pass: d = x − m is (nearly) exact, so Σd repairs the rounding of the first
                        // pass's mean (matters for float rows with a large mean and a small spread).
                        T sq = SumSquaredDeviations(xr, m, out T sd);
                        T corr = sd / cnt;
                        m += corr;
                        T v = T.Max(sq / cnt - corr * corr, T.Zero);
                        rs = T.One / T.Sqrt(v + eps);
                    }
                    statsArr[r] = m; statsArr[rows + r] = rs;
                    Normalize(xr, m, rs, g, b, ys.Slice(r * nn, nn));
                }
            });
            stats.AsSpan(0, rows).CopyTo(mean);
            stats.AsSpan(rows, rows).CopyTo(rstd);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(stats);
            ArrayPool<T>.Shared.Return(gb);
        }
    }

    /// <summary>
    /// LayerNorm backward. With x̂ = (x − mean)·rstd and g = dy·γ (dy when γ is empty):
    /// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ_rows dy·x̂; dβ = Σ_rows dy. dγ/dβ may be empty (not computed);
    /// they are overwritten. dx may alias dy.
    /// </summary>
    public static void LayerNormBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd,
        ReadOnlySpan<T> gamma, Span<T> dx, Span<T> dgamma, Span<T> dbeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = mean.Length;
        int n = RowLength(x.Length, rows);
        if (rstd.Length != rows) throw new ArgumentException($"rstd length {rstd.Length} != rows {rows}.", nameof(rstd));
        if (dy.Length != x.Length) throw new ArgumentException($"dy length {dy.Length} != x length {x.Length}.", nameof(dy));
        if (dx.Length != x.Length) throw new ArgumentException($"dx length {dx.Length} != x length {x.Length}.", nameof(dx));
        CheckOptional(gamma, n, nameof(gamma));
        CheckOptional(dgamma, n, nameof(dgamma));
        CheckOptional(dbeta, n, nameof(dbeta));
        dgamma.Clear(); dbeta.Clear();
        if (rows == 0 || n == 0) return;

        bool wantG = !dgamma.IsEmpty, wantB = !dbeta.IsEmpty, hasG = !gamma.IsEmpty;
        int chunks = FusedRowParallel.ReductionParts(rows, 6L * n);
        // Per-chunk partial dγ/dβ (reduced in chunk order; the chunks follow the shape, not the thread count, so the
        // bits are the same with any number of threads), plus a copy of
        // mean/rstd/γ that the worker lambdas can reach.
        T[] partial = ArrayPool<T>.Shared.Rent(Math.Max(1, chunks * 2 * n));
        T[] aux = ArrayPool<T>.Shared.Rent(2 * rows + n);
        try
        {
            partial.AsSpan(0, chunks * 2 * n).Clear();
            mean.CopyTo(aux); rstd.CopyTo(aux.AsSpan(rows)); gamma.CopyTo(aux.AsSpan(2 * rows));
            T[] part = partial, ax = aux;
            unsafe
            {
                fixed (T* pdy = dy) fixed (T* px = x) fixed (T* pdx = dx)
                {
                    nint idy = (nint)pdy, ix = (nint)px, idx = (nint)pdx;
                    int len = x.Length;
                    FusedRowParallel.ForChunks(chunks, rows, (chunk, r0, r1) =>
                    {
                        var dys = new ReadOnlySpan<T>((void*)idy, len);
                        var xs = new ReadOnlySpan<T>((void*)ix, len);
                        var dxs = new Span<T>((void*)idx, len);
                        Span<T> pg = part.AsSpan(chunk * 2 * n, n), pb = part.AsSpan(chunk * 2 * n + n, n);
                        ReadOnlySpan<T> g = hasG ? ax.AsSpan(2 * rows, n) : default;
                        for (int r = r0; r < r1; r++)
                            LayerNormBackwardRow(dys.Slice(r * n, n), xs.Slice(r * n, n), ax[r], ax[rows + r], g,
                                dxs.Slice(r * n, n), wantG ? pg : default, wantB ? pb : default);
                    });
                }
            }
            for (int c = 0; c < chunks; c++)
            {
                if (wantG) TensorPrimitives.Add(dgamma, partial.AsSpan(c * 2 * n, n), dgamma);
                if (wantB) TensorPrimitives.Add(dbeta, partial.AsSpan(c * 2 * n + n, n), dbeta);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(partial);
            ArrayPool<T>.Shared.Return(aux);
        }
    }

    private static void LayerNormBackwardRow<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T m, T rs, ReadOnlySpan<T> g,
        Span<T> dx, Span<T> accG, Span<T> accB) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length;
        bool hasG = !g.IsEmpty, wantG = !accG.IsEmpty, wantB = !accB.IsEmpty;
        T sumG = T.Zero, sumGX = T.Zero;
        int j = 0;
        ref T rdy = ref MemoryMarshal.GetReference(dy);
        ref T rx = ref MemoryMarshal.GetReference(x);
        ref T rg = ref MemoryMarshal.GetReference(g);
        ref T rag = ref MemoryMarshal.GetReference(accG);
        ref T rab = ref MemoryMarshal.GetReference(accB);
        ref T rdx = ref MemoryMarshal.GetReference(dx);
        int w = Vector<T>.Count;
        bool simd = Vector.IsHardwareAccelerated && Vector<T>.IsSupported;
        if (simd)
        {
            var vm = new Vector<T>(m); var vr = new Vector<T>(rs);
            Vector<T> s1 = Vector<T>.Zero, s2 = Vector<T>.Zero;
            for (; j <= n - w; j += w)
            {
                var vdy = Vector.LoadUnsafe(ref rdy, (nuint)j);
                var xh = (Vector.LoadUnsafe(ref rx, (nuint)j) - vm) * vr;
                var vg = hasG ? vdy * Vector.LoadUnsafe(ref rg, (nuint)j) : vdy;
                s1 += vg; s2 += vg * xh;
                if (wantG) (Vector.LoadUnsafe(ref rag, (nuint)j) + vdy * xh).StoreUnsafe(ref rag, (nuint)j);
                if (wantB) (Vector.LoadUnsafe(ref rab, (nuint)j) + vdy).StoreUnsafe(ref rab, (nuint)j);
            }
            sumG = Vector.Sum(s1); sumGX = Vector.Sum(s2);
        }
        for (; j < n; j++)
        {
            T xh = (x[j] - m) * rs;
            T gj = hasG ? dy[j] * g[j] : dy[j];
            sumG += gj; sumGX += gj * xh;
            if (wantG) accG[j] += dy[j] * xh;
            if (wantB) accB[j] += dy[j];
        }
        T cnt = T.CreateChecked(n);
        T a = sumG / cnt, b = sumGX / cnt;
        j = 0;
        if (simd)
        {
            var vm = new Vector<T>(m); var vr = new Vector<T>(rs); var va = new Vector<T>(a); var vb = new Vector<T>(b);
            for (; j <= n - w; j += w)
            {
                var vdy = Vector.LoadUnsafe(ref rdy, (nuint)j);
                var xh = (Vector.LoadUnsafe(ref rx, (nuint)j) - vm) * vr;
                var vg = hasG ? vdy * Vector.LoadUnsafe(ref rg, (nuint)j) : vdy;
                (vr * (vg - va - xh * vb)).StoreUnsafe(ref rdx, (nuint)j);
            }
        }
        for (; j < n; j++)
        {
            T xh = (x[j] - m) * rs;
            T gj = hasG ? dy[j] * g[j] : dy[j];
            dx[j] = rs * (gj - a - xh * b);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Σ (x − m)².</summary>
    internal static T SumSquaredDeviations<T>(ReadOnlySpan<T> x, T m) where T : unmanaged, IFloatingPointIeee754<T> =>
        SumSquaredDeviations(x, m, out _);

    /// <summary>Σ (x − m)², with Σ (x − m) in <paramref name="sumDev"/>; pairwise over blocks (as
    /// <see cref="ReduceKernels.PairwiseSum{T}"/>), so long float32 rows keep their accuracy.</summary>
    internal static T SumSquaredDeviations<T>(ReadOnlySpan<T> x, T m, out T sumDev) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int B = 2 * KernelSettings.PairwiseSumBlock;
        if (x.Length <= B) return SumSquaredDeviationsBlock(x, m, out sumDev);
        int half = (x.Length / B + 1) / 2 * B;
        T left = SumSquaredDeviations(x[..half], m, out T sdLeft);
        T right = SumSquaredDeviations(x[half..], m, out T sdRight);
        sumDev = sdLeft + sdRight;
        return left + right;
    }

    private static T SumSquaredDeviationsBlock<T>(ReadOnlySpan<T> x, T m, out T sumDev) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0, n = x.Length;
        T sum = T.Zero, sd = T.Zero;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            ref T rx = ref MemoryMarshal.GetReference(x);
            int w = Vector<T>.Count;
            var vm = new Vector<T>(m);
            Vector<T> a0 = Vector<T>.Zero, a1 = Vector<T>.Zero, s0 = Vector<T>.Zero, s1 = Vector<T>.Zero;
            for (; j <= n - 2 * w; j += 2 * w)
            {
                var d0 = Vector.LoadUnsafe(ref rx, (nuint)j) - vm;
                var d1 = Vector.LoadUnsafe(ref rx, (nuint)(j + w)) - vm;
                a0 += d0 * d0; a1 += d1 * d1; s0 += d0; s1 += d1;
            }
            for (; j <= n - w; j += w) { var d0 = Vector.LoadUnsafe(ref rx, (nuint)j) - vm; a0 += d0 * d0; s0 += d0; }
            sum = Vector.Sum(a0 + a1);
            sd = Vector.Sum(s0 + s1);
        }
        for (; j < n; j++) { T d = x[j] - m; sum += d * d; sd += d; }
        sumDev = sd;
        return sum;
    }

    /// <summary>y = ((x − m)·rs)·γ + β, γ/β optional.</summary>
    private static void Normalize<T>(ReadOnlySpan<T> x, T m, T rs, ReadOnlySpan<T> g, ReadOnlySpan<T> b, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0, n = x.Length;
        bool hasG = !g.IsEmpty, hasB = !b.IsEmpty;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T rx = ref MemoryMarshal.GetReference(x);
            ref T rg = ref MemoryMarshal.GetReference(g);
            ref T rb = ref MemoryMarshal.GetReference(b);
            ref T ry = ref MemoryMarshal.GetReference(y);
            int w = Vector<T>.Count;
            var vm = new Vector<T>(m); var vr = new Vector<T>(rs);
            for (; j <= n - w; j += w)
            {
                var v = (Vector.LoadUnsafe(ref rx, (nuint)j) - vm) * vr;
                if (hasG) v *= Vector.LoadUnsafe(ref rg, (nuint)j);
                if (hasB) v += Vector.LoadUnsafe(ref rb, (nuint)j);
                v.StoreUnsafe(ref ry, (nuint)j);
            }
        }
        for (; j < n; j++)
        {
            T v = (x[j] - m) * rs;
            if (hasG) v *= g[j];
            if (hasB) v += b[j];
            y[j] = v;
        }
    }

    private static int RowLength(int length, int rows)
    {
        if (rows == 0)
        {
            if (length != 0) throw new ArgumentException("x must be empty when there are no rows (mean is empty).", "x");
            return 0;
        }
        if (length % rows != 0) throw new ArgumentException($"x length {length} is not a multiple of rows {rows}.", "x");
        return length / rows;
    }

    private static void CheckOptional<T>(ReadOnlySpan<T> s, int n, string name)
    {
        if (!s.IsEmpty && s.Length != n) throw new ArgumentException($"{name} must be empty or of length {n}, got {s.Length}.", name);
    }

    private static void CheckLen<T>(ReadOnlySpan<T> s, int n, string name)
    {
        if (s.Length != n) throw new ArgumentException($"{name} must have length {n}, got {s.Length}.", name);
    }
}
