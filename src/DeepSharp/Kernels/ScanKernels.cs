using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Scans and products along the middle dim of a contiguous [outer, r, inner] block (the layout reductions use), so
/// the inner loops run over contiguous runs of <c>inner</c> elements.
/// </summary>
internal static class ScanKernels
{
    /// <summary>dst = cumulative sum along r (from the end when <paramref name="reverse"/>), accumulated in double
    /// as PyTorch's CPU cumsum does for float.</summary>
    public static void Cumsum<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int r, int inner, bool reverse)
        where T : unmanaged, IFloatingPointIeee754<T> => Scan<T, SumScan>(src, dst, outer, r, inner, reverse);

    /// <summary>dst = cumulative product along r (double accumulation for float, as PyTorch).</summary>
    public static void Cumprod<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int r, int inner)
        where T : unmanaged, IFloatingPointIeee754<T> => Scan<T, ProdScan>(src, dst, outer, r, inner, reverse: false);

    /// <summary>An associative combine for <see cref="Scan"/>, with its identity.</summary>
    private interface IScanOp
    {
        static abstract double Identity { get; }
        static abstract double Combine(double acc, double x);
    }

    private readonly struct SumScan : IScanOp
    {
        public static double Identity => 0;
        public static double Combine(double acc, double x) => acc + x;
    }

    private readonly struct ProdScan : IScanOp
    {
        public static double Identity => 1;
        public static double Combine(double acc, double x) => acc * x;
    }

    /// <summary>The running combine along r, in double, one accumulator per inner position (per row when inner is 1).</summary>
    private static void Scan<T, TOp>(ReadOnlySpan<T> src, Span<T> dst, int outer, int r, int inner, bool reverse)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IScanOp
    {
        if (inner == 1)
        {
            // Scans along the last dim: one running value per row.
            for (int o = 0; o < outer; o++)
            {
                double acc = TOp.Identity;
                for (int step = 0; step < r; step++)
                {
                    int i = o * r + (reverse ? r - 1 - step : step);
                    acc = TOp.Combine(acc, double.CreateTruncating(src[i]));
                    dst[i] = T.CreateTruncating(acc);
                }
            }
            return;
        }
        var accs = new double[inner];
        for (int o = 0; o < outer; o++)
        {
            Array.Fill(accs, TOp.Identity);
            int block = o * r * inner;
            for (int step = 0; step < r; step++)
            {
                int i = reverse ? r - 1 - step : step;
                int off = block + i * inner;
                for (int j = 0; j < inner; j++)
                {
                    accs[j] = TOp.Combine(accs[j], double.CreateTruncating(src[off + j]));
                    dst[off + j] = T.CreateTruncating(accs[j]);
                }
            }
        }
    }

    /// <summary>
    /// The gradient of cumprod, exact when inputs are zero: grad_i = P_i·T_i with P_i = ∏_{j&lt;i} x_j and
    /// T_i = g_i + x_{i+1}·T_{i+1} (a backward recurrence), so no division by x.
    /// </summary>
    public static void CumprodBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx, int outer, int r, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = new T[inner];
        var p = new T[inner];
        for (int o = 0; o < outer; o++)
        {
            int block = o * r * inner;
            // Backward pass: dx holds T_i.
            for (int i = r - 1; i >= 0; i--)
            {
                int off = block + i * inner;
                for (int j = 0; j < inner; j++)
                {
                    t[j] = i == r - 1 ? g[off + j] : g[off + j] + x[off + inner + j] * t[j];
                    dx[off + j] = t[j];
                }
            }
            // Forward pass: multiply by the exclusive prefix product.
            Array.Fill(p, T.One);
            for (int i = 0; i < r; i++)
            {
                int off = block + i * inner;
                for (int j = 0; j < inner; j++)
                {
                    dx[off + j] *= p[j];
                    p[j] *= x[off + j];
                }
            }
        }
    }

    /// <summary>dst[o, j] = ∏ over r of src[o, i, j] (double accumulation for float).</summary>
    public static void Prod<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int r, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = new double[inner];
        for (int o = 0; o < outer; o++)
        {
            Array.Fill(acc, 1.0);
            int block = o * r * inner;
            for (int i = 0; i < r; i++)
                for (int j = 0; j < inner; j++) acc[j] *= double.CreateTruncating(src[block + i * inner + j]);
            for (int j = 0; j < inner; j++) dst[o * inner + j] = T.CreateTruncating(acc[j]);
        }
    }

    /// <summary>dx[o, i, j] = g[o, j] · ∏_{k≠i} x[o, k, j] (exclusive prefix × suffix products: exact with zeros).</summary>
    public static void ProdBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx, int outer, int r, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = new T[inner];
        for (int o = 0; o < outer; o++)
        {
            int block = o * r * inner;
            var go = g.Slice(o * inner, inner);
            go.CopyTo(acc);
            for (int i = 0; i < r; i++)
            {
                var row = dx.Slice(block + i * inner, inner);
                acc.CopyTo(row);
                TensorPrimitives.Multiply(acc, x.Slice(block + i * inner, inner), acc);
            }
            Array.Fill(acc, T.One);
            for (int i = r - 1; i >= 0; i--)
            {
                var row = dx.Slice(block + i * inner, inner);
                TensorPrimitives.Multiply(row, acc, row);
                TensorPrimitives.Multiply(acc, x.Slice(block + i * inner, inner), acc);
            }
        }
    }
}
