using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Drivers that apply element-wise operators over strided, broadcast layouts. Dims are first coalesced
/// (adjacent dims that are contiguous with each other merge), so contiguous inputs become one span call;
/// otherwise the innermost run is handed to the operator's span form and only truly strided runs fall back
/// to scalar loops.
/// </summary>
internal static class ElementwiseKernels
{
    /// <summary>d = op(a, b) with a, b read through broadcast strides; d is contiguous with <paramref name="shape"/>.</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<int> shape,
        ReadOnlySpan<T> a, int aOffset, ReadOnlySpan<int> aStrides,
        ReadOnlySpan<T> b, int bOffset, ReadOnlySpan<int> bStrides,
        Span<T> d)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryOp
    {
        int n = d.Length;
        if (n == 0) return;
        Span<int> dims = stackalloc int[Math.Max(shape.Length, 1)];
        Span<int> sa = stackalloc int[dims.Length];
        Span<int> sb = stackalloc int[dims.Length];
        int rank = Coalesce(shape, aStrides, bStrides, dims, sa, sb);

        int inner = dims[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
        int outer = n / inner;
        if (outer == 1 && ia == 1 && ib == 1)
        {
            // Same-shape contiguous operands: one long span, split over threads when it is large.
            ElementwiseParallel.Binary<T, TOp>(a.Slice(aOffset, n), b.Slice(bOffset, n), d);
            return;
        }
        Span<int> index = stackalloc int[rank];
        int offA = aOffset, offB = bOffset;
        for (int o = 0, pos = 0; o < outer; o++, pos += inner)
        {
            Span<T> dst = d.Slice(pos, inner);
            if (ia == 1 && ib == 1) TOp.Apply(a.Slice(offA, inner), b.Slice(offB, inner), dst);
            else if (ia == 1 && ib == 0) TOp.Apply(a.Slice(offA, inner), b[offB], dst);
            else if (ia == 0 && ib == 1) TOp.Apply(a[offA], b.Slice(offB, inner), dst);
            else
                for (int j = 0; j < inner; j++) dst[j] = TOp.Apply(a[offA + j * ia], b[offB + j * ib]);

            // Advance the odometer over the outer dims.
            for (int dim = rank - 2; dim >= 0; dim--)
            {
                index[dim]++;
                offA += sa[dim];
                offB += sb[dim];
                if (index[dim] < dims[dim]) break;
                offA -= sa[dim] * dims[dim];
                offB -= sb[dim] * dims[dim];
                index[dim] = 0;
            }
        }
    }

    /// <summary>y[i] = f(x[i]) evaluated in double (for ops with no span kernel; a delegate call per element).</summary>
    public static void Map<T>(ReadOnlySpan<T> x, Span<T> y, Func<double, double> f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Length != x.Length) throw new ArgumentException($"Map: input length {x.Length}, output length {y.Length}.");
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(f(double.CreateTruncating(x[i])));
    }

    /// <summary>Copies a strided view into a contiguous destination (also used to convert layouts).</summary>
    public static void Copy<T>(ReadOnlySpan<int> shape, ReadOnlySpan<T> src, int offset, ReadOnlySpan<int> strides, Span<T> d)
    {
        int n = d.Length;
        if (n == 0) return;
        Span<int> dims = stackalloc int[Math.Max(shape.Length, 1)];
        Span<int> ss = stackalloc int[dims.Length];
        Span<int> unused = stackalloc int[dims.Length];
        int rank = Coalesce(shape, strides, strides, dims, ss, unused);
        int inner = dims[rank - 1], si = ss[rank - 1];
        int outer = n / inner;
        Span<int> index = stackalloc int[rank];
        int off = offset;
        for (int o = 0, pos = 0; o < outer; o++, pos += inner)
        {
            if (si == 1) src.Slice(off, inner).CopyTo(d.Slice(pos, inner));
            else if (si == 0) d.Slice(pos, inner).Fill(src[off]);
            else for (int j = 0; j < inner; j++) d[pos + j] = src[off + j * si];
            for (int dim = rank - 2; dim >= 0; dim--)
            {
                index[dim]++;
                off += ss[dim];
                if (index[dim] < dims[dim]) break;
                off -= ss[dim] * dims[dim];
                index[dim] = 0;
            }
        }
    }

    /// <summary>Writes a contiguous source into a strided destination view (for in-place ops on views).</summary>
    public static void Scatter<T>(ReadOnlySpan<int> shape, ReadOnlySpan<T> src, Span<T> dst, int offset, ReadOnlySpan<int> strides)
    {
        int n = src.Length;
        if (n == 0) return;
        Span<int> dims = stackalloc int[Math.Max(shape.Length, 1)];
        Span<int> ss = stackalloc int[dims.Length];
        Span<int> unused = stackalloc int[dims.Length];
        int rank = Coalesce(shape, strides, strides, dims, ss, unused);
        int inner = dims[rank - 1], si = ss[rank - 1];
        int outer = n / inner;
        Span<int> index = stackalloc int[rank];
        int off = offset;
        for (int o = 0, pos = 0; o < outer; o++, pos += inner)
        {
            if (si == 1) src.Slice(pos, inner).CopyTo(dst.Slice(off, inner));
            else for (int j = 0; j < inner; j++) dst[off + j * si] = src[pos + j];
            for (int dim = rank - 2; dim >= 0; dim--)
            {
                index[dim]++;
                off += ss[dim];
                if (index[dim] < dims[dim]) break;
                off -= ss[dim] * dims[dim];
                index[dim] = 0;
            }
        }
    }

    /// <summary>
    /// Drops size-1 dims and merges dim i into i+1 when both stride patterns allow it. Returns the new rank
    /// (at least 1) with merged sizes/strides in the output spans.
    /// </summary>
    internal static int Coalesce(ReadOnlySpan<int> shape, ReadOnlySpan<int> s1, ReadOnlySpan<int> s2,
        Span<int> dims, Span<int> o1, Span<int> o2)
    {
        int rank = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue;
            if (rank > 0 && o1[rank - 1] == s1[i] * shape[i] && o2[rank - 1] == s2[i] * shape[i])
            {
                dims[rank - 1] *= shape[i];
                o1[rank - 1] = s1[i];
                o2[rank - 1] = s2[i];
            }
            else
            {
                dims[rank] = shape[i];
                o1[rank] = s1[i];
                o2[rank] = s2[i];
                rank++;
            }
        }
        if (rank == 0)
        {
            dims[0] = 1; o1[0] = 0; o2[0] = 0;
            rank = 1;
        }
        return rank;
    }
}
