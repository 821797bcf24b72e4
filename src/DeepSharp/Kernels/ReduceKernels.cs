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
    /// <summary>y[o, i] = Σ_r x[o, r, i].</summary>
    public static void Sum<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = TensorPrimitives.Sum(x.Slice(o * r, r));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            Span<T> dst = y.Slice(o * inner, inner);
            if (r == 0) { dst.Clear(); continue; }
            x.Slice(o * r * inner, inner).CopyTo(dst);
            for (int k = 1; k < r; k++) TensorPrimitives.Add(dst, x.Slice((o * r + k) * inner, inner), dst);
        }
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
