using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>Row-wise argsort and multinomial sampling over contiguous rows.</summary>
internal static class SortKernels
{
    /// <summary>
    /// Sorts each contiguous row of n: vals gets the sorted values and idx their positions in the row, ascending (or
    /// descending). NaN sorts above every number, as PyTorch. Equal elements keep their original order (stable).
    /// </summary>
    public static void SortRows<T>(ReadOnlySpan<T> src, int rows, int n, bool descending, Span<T> vals, Span<long> idx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var keys = new T[n];
        var items = new int[n];
        for (int row = 0; row < rows; row++)
        {
            src.Slice(row * n, n).CopyTo(keys);
            for (int i = 0; i < n; i++) items[i] = i;
            // The primitive-key introsort (fast, not stable; NaN first), then NaN moved and ties put back in order.
            keys.AsSpan().Sort(items.AsSpan());
            int nan = 0;
            while (nan < n && T.IsNaN(keys[nan])) nan++;
            var v = vals.Slice(row * n, n);
            var d = idx.Slice(row * n, n);
            for (int k = 0; k < n; k++)
            {
                // Ascending: numbers then NaNs; descending: NaNs then numbers from the largest.
                int from = descending ? (k < nan ? k : n - 1 - (k - nan)) : (k < n - nan ? nan + k : k - (n - nan));
                v[k] = keys[from];
                d[k] = items[from];
            }
            for (int k = 0; k < n;)
            {
                int end = k + 1;
                while (end < n && (v[end] == v[k] || (T.IsNaN(v[end]) && T.IsNaN(v[k])))) end++;
                if (end - k > 1) d.Slice(k, end - k).Sort();
                k = end;
            }
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
