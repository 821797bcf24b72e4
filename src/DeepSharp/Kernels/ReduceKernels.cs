using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Reductions over the middle axis of a contiguous [outer, r, inner] block: every reduction along a set of
/// adjacent dims of a contiguous tensor has this form, so the tensor layer only reshapes (or permutes once)
/// and the loops stay on contiguous rows.
/// </summary>
internal static class ReduceKernels
{
    /// <summary>
    /// y[o, i] = Σ_r x[o, r, i] / <paramref name="divisor"/> (1 for Sum, the count for Mean). Float32 adds in float64
    /// lanes and rounds once at the end (<see cref="SumWidened"/>), so the result is the float32 rounding of the exact
    /// sum (or mean) for all practical lengths: at least as accurate as PyTorch's cascade sum, which rounds to float32 at
    /// every level. Float64 sums pairwise (<see cref="PairwiseSum{T}"/>, <see cref="SumRows{T}"/>).
    /// </summary>
    public static void Sum<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r, int inner, double divisor = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            SumFloat(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), outer, r, inner, divisor);
            return;
        }
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = PairwiseSum(x.Slice(o * r, r));
        }
        else
        {
            T[]? scratch = r > KernelSettings.PairwiseSumBlock ? new T[inner * ScratchLevels(r)] : null;
            for (int o = 0; o < outer; o++)
                SumRows(x.Slice(o * r * inner, r * inner), y.Slice(o * inner, inner), r, inner, scratch);
        }
        if (divisor != 1) TensorPrimitives.Divide(y, T.CreateTruncating(divisor), y);
    }

    private static void SumFloat(ReadOnlySpan<float> x, Span<float> y, int outer, int r, int inner, double divisor)
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = (float)(SumWidened(x.Slice(o * r, r)) / divisor);
            return;
        }
        var acc = ArrayPool<double>.Shared.Rent(inner);
        try
        {
            var a = acc.AsSpan(0, inner);
            for (int o = 0; o < outer; o++)
            {
                a.Clear();
                var block = x.Slice(o * r * inner, r * inner);
                for (int k = 0; k < r; k++) AddWidened(block.Slice(k * inner, inner), a);
                var dst = y.Slice(o * inner, inner);
                for (int i = 0; i < inner; i++) dst[i] = (float)(a[i] / divisor);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(acc);
        }
    }

    /// <summary>Σ x in float64: each float widened exactly, added into four float64 vector accumulators. The error
    /// is about n · 2⁻⁵³ of Σ|x|, far below one float32 rounding for any length a tensor can have.</summary>
    public static double SumWidened(ReadOnlySpan<float> x)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= 2 * Vector<float>.Count)
        {
            var xs = MemoryMarshal.Cast<float, Vector<float>>(x);
            Vector<double> a0 = Vector<double>.Zero, a1 = a0, a2 = a0, a3 = a0;
            int v = 0;
            for (; v + 1 < xs.Length; v += 2)
            {
                Vector.Widen(xs[v], out var lo0, out var hi0);
                Vector.Widen(xs[v + 1], out var lo1, out var hi1);
                a0 += lo0; a1 += hi0; a2 += lo1; a3 += hi1;
            }
            for (; v < xs.Length; v++)
            {
                Vector.Widen(xs[v], out var lo, out var hi);
                a0 += lo; a1 += hi;
            }
            sum = Vector.Sum((a0 + a1) + (a2 + a3));
            i = xs.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }

    /// <summary>acc[i] += x[i], each float widened exactly to float64.</summary>
    public static void AddWidened(ReadOnlySpan<float> x, Span<double> acc)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var xs = MemoryMarshal.Cast<float, Vector<float>>(x);
            var accs = MemoryMarshal.Cast<double, Vector<double>>(acc);
            for (int v = 0; v < xs.Length; v++)
            {
                Vector.Widen(xs[v], out var lo, out var hi);
                accs[2 * v] += lo;
                accs[2 * v + 1] += hi;
            }
            i = xs.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) acc[i] += x[i];
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
