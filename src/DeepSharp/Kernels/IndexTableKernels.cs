namespace DeepSharp.Kernels;

/// <summary>The padding modes that read from inside the tensor (constant padding writes a value instead).</summary>
internal enum PadIndexMode
{
    /// <summary>Mirror without repeating the edge: …, x2, x1, x0, x1, x2, ….</summary>
    Reflect,
    /// <summary>Repeat the edge element.</summary>
    Replicate,
    /// <summary>Wrap around.</summary>
    Circular,
}

/// <summary>
/// Source-index tables for ops that rearrange one dimension: nearest and linear resampling, reflect / replicate /
/// circular padding, repeat-interleave. Each loop runs over one dimension's positions; a gather along that dimension
/// (<c>SelectAlong</c>) then applies the table to the whole tensor, so the ops stay differentiable.
/// </summary>
internal static class IndexTableKernels
{
    /// <summary>Nearest resampling as PyTorch computes it, in float: <c>min(⌊j · scale⌋, in − 1)</c>.</summary>
    public static void Nearest(Span<int> index, int inSize, float scale)
    {
        for (int j = 0; j < index.Length; j++) index[j] = Math.Min((int)MathF.Floor(j * scale), inSize - 1);
    }

    /// <summary>Linear resampling: the two source positions of each output position and their weights
    /// (<c>w0 + w1 = 1</c>). With <paramref name="alignCorners"/> the corner samples line up (src = scale · j);
    /// otherwise half-pixel centres, clamped at 0 (src = max(scale · (j + ½) − ½, 0)).</summary>
    public static void Linear(Span<int> i0, Span<int> i1, Span<double> w0, Span<double> w1, int inSize, double scale,
        bool alignCorners)
    {
        for (int j = 0; j < i0.Length; j++)
        {
            double src = alignCorners ? scale * j : Math.Max(scale * (j + 0.5) - 0.5, 0);
            int lo = Math.Min((int)src, inSize - 1);
            i0[j] = lo;
            i1[j] = lo < inSize - 1 ? lo + 1 : lo;
            w1[j] = src - lo;
            w0[j] = 1 - w1[j];
        }
    }

    /// <summary>The source position of each of the <c>left + n + right</c> positions of a padded dimension of size
    /// <paramref name="n"/>. The caller has checked the padding against n for the mode.</summary>
    public static void Pad(Span<int> index, int n, int left, PadIndexMode mode)
    {
        for (int j = 0; j < index.Length; j++)
        {
            int src = j - left;
            index[j] = mode switch
            {
                PadIndexMode.Reflect => src < 0 ? -src : src >= n ? 2 * (n - 1) - src : src,
                PadIndexMode.Replicate => Math.Clamp(src, 0, n - 1),
                _ => ((src % n) + n) % n,
            };
        }
    }

    /// <summary>Position i repeated counts[i] times (or counts[0] times for every i when one count is given), for
    /// <paramref name="n"/> positions. The caller has checked that counts are non-negative and their total fits.</summary>
    public static void Repeat(Span<int> index, ReadOnlySpan<long> counts, int n)
    {
        int k = 0;
        for (int i = 0; i < n; i++)
        {
            long c = counts.Length == 1 ? counts[0] : counts[i];
            for (long r = 0; r < c; r++) index[k++] = i;
        }
    }
}
