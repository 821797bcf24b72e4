using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>Row-wise argsort and multinomial sampling over contiguous rows.</summary>
internal static class SortKernels
{
    /// <summary>
    /// idx[row·n + k] = the position of the k-th smallest (largest when <paramref name="descending"/>) element of the
    /// row. NaN sorts above every number, as PyTorch. Ties keep their original order, so the sort is stable.
    /// </summary>
    public static void ArgSortRows<T>(ReadOnlySpan<T> src, int rows, int n, bool descending, Span<long> idx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var keys = new int[n];
        var values = new T[n];
        for (int row = 0; row < rows; row++)
        {
            src.Slice(row * n, n).CopyTo(values);
            for (int i = 0; i < n; i++) keys[i] = i;
            keys.AsSpan().Sort(new RowComparer<T>(values, descending));
            var dst = idx.Slice(row * n, n);
            for (int i = 0; i < n; i++) dst[i] = keys[i];
        }
    }

    private readonly struct RowComparer<T>(T[] values, bool descending) : IComparer<int> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public int Compare(int a, int b)
        {
            T x = values[a], y = values[b];
            bool nx = T.IsNaN(x), ny = T.IsNaN(y);
            int c = nx || ny ? nx.CompareTo(ny) : x < y ? -1 : x > y ? 1 : 0;
            if (descending) c = -c;
            return c != 0 ? c : a.CompareTo(b);
        }
    }

    /// <summary>
    /// Draws <paramref name="samples"/> category indices per row of non-negative weights [rows, n] (validated by the
    /// caller). With replacement: inverse-CDF on the running sums; without: each drawn category's weight is removed.
    /// </summary>
    public static void Multinomial(ReadOnlySpan<double> weights, int rows, int n, int samples, bool replacement, Generator gen, Span<long> dst)
    {
        var w = new double[n];
        var cdf = new double[n];
        for (int row = 0; row < rows; row++)
        {
            weights.Slice(row * n, n).CopyTo(w);
            var outRow = dst.Slice(row * samples, samples);
            if (replacement)
            {
                double total = 0;
                for (int i = 0; i < n; i++) { total += w[i]; cdf[i] = total; }
                for (int s = 0; s < samples; s++) outRow[s] = Pick(cdf, n, gen.NextDouble() * total);
                continue;
            }
            for (int s = 0; s < samples; s++)
            {
                double total = 0;
                for (int i = 0; i < n; i++) { total += w[i]; cdf[i] = total; }
                long k = Pick(cdf, n, gen.NextDouble() * total);
                outRow[s] = k;
                w[k] = 0;
            }
        }
    }

    /// <summary>The first i with u &lt; cdf[i] and a positive weight (binary search).</summary>
    private static long Pick(double[] cdf, int n, double u)
    {
        int lo = 0, hi = n - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (u < cdf[mid]) hi = mid; else lo = mid + 1;
        }
        // Rounding could land on a trailing zero-weight category: step back to the last one with weight.
        while (lo > 0 && cdf[lo] == cdf[lo - 1]) lo--;
        return lo;
    }
}
