using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Row gathers (an embedding lookup, <c>IndexSelect</c> of whole rows), their adjoint, a row scatter-add, and the
/// element select of <c>Where</c>. Indices are checked by the caller.
/// </summary>
internal static class GatherKernels
{
    /// <summary>o[i, :] = w[idx[i], :] for w [num, dim], o [idx.Length, dim]; rows where idx[i] == skip are left as they are.</summary>
    public static void Gather<T>(ReadOnlySpan<T> w, Span<T> o, ReadOnlySpan<long> idx, int dim, long skip) where T : unmanaged
    {
        for (int i = 0; i < idx.Length; i++)
            if (idx[i] != skip) w.Slice((int)idx[i] * dim, dim).CopyTo(o.Slice(i * dim, dim));
    }

    /// <summary>o[idx[i], :] += g[i, :] for g [idx.Length, dim], o [num, dim], in index order, skipping idx[i] == skip.</summary>
    public static void ScatterAdd<T>(ReadOnlySpan<T> g, Span<T> o, ReadOnlySpan<long> idx, int dim, long skip)
        where T : unmanaged, INumberBase<T>
    {
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] == skip) continue;
            var dst = o.Slice((int)idx[i] * dim, dim);
            var row = g.Slice(i * dim, dim);
            for (int j = 0; j < dim; j++) dst[j] += row[j];
        }
    }

    /// <summary>d[i] = c[i] ? x[i] : y[i].</summary>
    public static void Select<T>(ReadOnlySpan<bool> c, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = c[i] ? x[i] : y[i];
    }

    /// <summary>
    /// <c>gather</c> along <paramref name="dim"/>: for each flat position of the contiguous output (strides
    /// <paramref name="outStrides"/>), dst[flat] = src at the output's coordinates with coordinate <paramref name="dim"/>
    /// replaced by idx[flat], addressed through <paramref name="srcOffset"/> and <paramref name="srcStrides"/>.
    /// The indices are checked by the caller.
    /// </summary>
    public static void GatherAlong<T>(ReadOnlySpan<T> src, int srcOffset, ReadOnlySpan<int> srcStrides, ReadOnlySpan<long> idx,
        ReadOnlySpan<int> outStrides, int dim, Span<T> dst)
    {
        for (int flat = 0; flat < dst.Length; flat++)
        {
            int off = srcOffset, rem = flat;
            for (int k = 0; k < outStrides.Length; k++)
            {
                int coord = rem / outStrides[k];
                rem -= coord * outStrides[k];
                off += (k == dim ? (int)idx[flat] : coord) * srcStrides[k];
            }
            dst[flat] = src[off];
        }
    }

    /// <summary>
    /// <c>scatter_add</c> along <paramref name="dim"/>, in index order: for each flat position of the index (contiguous
    /// strides <paramref name="idxStrides"/>), dst at its coordinates with coordinate <paramref name="dim"/> replaced by
    /// idx[flat] (through <paramref name="dstStrides"/>) += src at its coordinates (through <paramref name="srcOffset"/>
    /// and <paramref name="srcStrides"/>). The indices are checked by the caller.
    /// </summary>
    public static void ScatterAddAlong<T>(ReadOnlySpan<T> src, int srcOffset, ReadOnlySpan<int> srcStrides, ReadOnlySpan<long> idx,
        ReadOnlySpan<int> idxStrides, int dim, Span<T> dst, ReadOnlySpan<int> dstStrides) where T : INumberBase<T>
    {
        for (int flat = 0; flat < idx.Length; flat++)
        {
            int d = 0, s = srcOffset, rem = flat;
            for (int k = 0; k < idxStrides.Length; k++)
            {
                int coord = rem / idxStrides[k];
                rem -= coord * idxStrides[k];
                d += (k == dim ? (int)idx[flat] : coord) * dstStrides[k];
                s += coord * srcStrides[k];
            }
            dst[d] += src[s];
        }
    }
}
