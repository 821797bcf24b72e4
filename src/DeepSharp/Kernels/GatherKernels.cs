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
}
