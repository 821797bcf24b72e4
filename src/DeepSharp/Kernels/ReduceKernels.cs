using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Reductions over the middle axis of a contiguous [outer, r, inner] block: every reduction along a set of
/// adjacent dims of a contiguous tensor has this form, so the tensor layer only reshapes (or permutes once)
/// and the loops stay on contiguous rows.
/// </summary>
internal static class ReduceKernels
{
    /// <summary>y[o, i] = Σ_r x[o, r, i], summed pairwise (<see cref="PairwiseSum{T}"/>, <see cref="SumRows{T}"/>).</summary>
    public static void Sum<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = PairwiseSum(x.Slice(o * r, r));
            return;
        }
        T[]? scratch = r > KernelSettings.PairwiseSumBlock ? new T[inner * ScratchLevels(r)] : null;
        for (int o = 0; o < outer; o++)
            SumRows(x.Slice(o * r * inner, r * inner), y.Slice(o * inner, inner), r, inner, scratch);
    }

    /// <summary>
    /// Σ x, pairwise: blocks of 4 × <see cref="KernelSettings.PairwiseSumBlock"/> are summed with SIMD lanes, and the
    /// halves are summed recursively, so a float32 sum of 10⁶ elements keeps the accuracy of PyTorch's cascade sum
    /// (a plain lane-wise sum adds 10⁶ / 8 values one after another into each lane).
    /// </summary>
    public static T PairwiseSum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int B = 4 * KernelSettings.PairwiseSumBlock;   // SIMD lanes: about 128 / vector width adds per lane
        if (x.Length <= B) return TensorPrimitives.Sum(x);
        int half = (x.Length / B + 1) / 2 * B;   // a whole number of blocks on the left
        return PairwiseSum(x[..half]) + PairwiseSum(x[half..]);
    }

    /// <summary>How many scratch rows <see cref="SumRows{T}"/> needs for r rows (one per level of the recursion).</summary>
    public static int ScratchLevels(int r)
    {
        int levels = 0;
        for (long blocks = ((long)r + KernelSettings.PairwiseSumBlock - 1) / KernelSettings.PairwiseSumBlock; blocks > 1; blocks = (blocks + 1) / 2) levels++;
        return Math.Max(levels, 1);
    }

    /// <summary>
    /// dst[i] = Σ_k x[k, i] over r contiguous rows of length inner, pairwise over the rows: blocks of
    /// <see cref="KernelSettings.PairwiseSumBlock"/> rows are added one after another (vectorised along the row), the
    /// blocks' sums pairwise. <paramref name="scratch"/> holds <c>inner · ScratchLevels(r)</c> elements (may be
    /// empty when r ≤ the block).
    /// </summary>
    public static void SumRows<T>(ReadOnlySpan<T> x, Span<T> dst, int r, int inner, Span<T> scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int B = KernelSettings.PairwiseSumBlock;
        if (r <= B)
        {
            if (r == 0) { dst.Clear(); return; }
            x[..inner].CopyTo(dst);
            for (int k = 1; k < r; k++) TensorPrimitives.Add(dst, x.Slice(k * inner, inner), dst);
            return;
        }
        int half = (r / B + 1) / 2 * B;
        // The left half may use all of the scratch; once it is done, the first scratch row holds the right half,
        // whose own recursion uses the rows after it.
        SumRows(x[..(half * inner)], dst, half, inner, scratch);
        var tmp = scratch[..inner];
        SumRows(x[(half * inner)..], tmp, r - half, inner, scratch[inner..]);
        TensorPrimitives.Add(dst, tmp, dst);
    }

    /// <summary>Max (or min) over r with the index of the first extreme; NaN propagates (and wins), as PyTorch.</summary>
    public static void ArgExtreme<T>(ReadOnlySpan<T> x, Span<T> values, Span<long> indices, int outer, int r, int inner, bool max)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int baseIdx = o * r * inner + i;
                T best = x[baseIdx];
                long bestK = 0;
                if (!T.IsNaN(best))
                {
                    for (int k = 1; k < r; k++)
                    {
                        T v = x[baseIdx + k * inner];
                        if (T.IsNaN(v)) { best = v; bestK = k; break; }
                        if (max ? v > best : v < best) { best = v; bestK = k; }
                    }
                }
                values[o * inner + i] = best;
                indices[o * inner + i] = bestK;
            }
        }
    }
}
