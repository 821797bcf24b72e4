using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Loops of advanced indexing (<c>x[idx]</c>, <c>x[mask]</c>, <c>index_put</c>, <c>nonzero</c>): the tensor is seen as
/// rows of <c>rowLength</c> contiguous elements, and a linear Int64 index names one row per output entry. Pure span
/// loops, no autograd, no allocation per element.
/// </summary>
internal static class AdvancedIndexKernels
{
    /// <summary>
    /// linear[b] += wrap(index[b]) · stride for every b, where wrap maps −size ≤ i &lt; 0 to i + size.
    /// Returns −1 when every index is in [−size, size), else the position of the first one that is not
    /// (linear is then partly updated and must be discarded).
    /// </summary>
    public static int AccumulateLinear(ReadOnlySpan<long> index, long size, long stride, Span<long> linear)
    {
        for (int b = 0; b < index.Length; b++)
        {
            long i = index[b];
            if (i < 0) i += size;
            if ((ulong)i >= (ulong)size) return b;
            linear[b] += i * stride;
        }
        return -1;
    }

    /// <summary>dst row r = src row rows[r] (rows of <paramref name="rowLength"/> elements).</summary>
    public static void GatherRows<T>(ReadOnlySpan<T> src, ReadOnlySpan<long> rows, int rowLength, Span<T> dst) where T : unmanaged
    {
        if (rowLength == 1)
        {
            for (int r = 0; r < rows.Length; r++) dst[r] = src[(int)rows[r]];
            return;
        }
        for (int r = 0; r < rows.Length; r++)
            src.Slice((int)rows[r] * rowLength, rowLength).CopyTo(dst.Slice(r * rowLength, rowLength));
    }

    /// <summary>dst row rows[r] = src row r, in order of r: when a row is named twice the last write wins.</summary>
    public static void ScatterRows<T>(ReadOnlySpan<T> src, ReadOnlySpan<long> rows, int rowLength, Span<T> dst) where T : unmanaged
    {
        if (rowLength == 1)
        {
            for (int r = 0; r < rows.Length; r++) dst[(int)rows[r]] = src[r];
            return;
        }
        for (int r = 0; r < rows.Length; r++)
            src.Slice(r * rowLength, rowLength).CopyTo(dst.Slice((int)rows[r] * rowLength, rowLength));
    }

    /// <summary>dst row rows[r] += src row r (rows named several times receive the sum, in order of r).</summary>
    public static void AccumulateRows<T>(ReadOnlySpan<T> src, ReadOnlySpan<long> rows, int rowLength, Span<T> dst)
        where T : unmanaged, IAdditionOperators<T, T, T>, IAdditiveIdentity<T, T>
    {
        if (rowLength == 1)
        {
            for (int r = 0; r < rows.Length; r++) dst[(int)rows[r]] += src[r];
            return;
        }
        for (int r = 0; r < rows.Length; r++)
        {
            var target = dst.Slice((int)rows[r] * rowLength, rowLength);
            TensorPrimitives.Add(target, src.Slice(r * rowLength, rowLength), target);
        }
    }

    /// <summary>The number of elements that are not zero (not false).</summary>
    public static int CountNonzero<T>(ReadOnlySpan<T> values) where T : unmanaged, IEquatable<T>
    {
        int n = 0;
        for (int i = 0; i < values.Length; i++)
            if (!values[i].Equals(default)) n++;
        return n;
    }

    /// <summary>
    /// Writes the coordinates of every nonzero element of a row-major tensor of <paramref name="shape"/>, in order, as
    /// rows of <c>shape.Length</c> values into <paramref name="coords"/> (sized count × rank).
    /// </summary>
    public static void NonzeroCoordinates<T>(ReadOnlySpan<T> values, ReadOnlySpan<int> shape, Span<long> coords) where T : unmanaged, IEquatable<T>
    {
        int rank = shape.Length;
        Span<int> coord = stackalloc int[Math.Max(rank, 1)];
        coord.Clear();
        int w = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (!values[i].Equals(default))
            {
                for (int k = 0; k < rank; k++) coords[w + k] = coord[k];
                w += rank;
            }
            for (int k = rank - 1; k >= 0; k--)
            {
                if (++coord[k] < shape[k]) break;
                coord[k] = 0;
            }
        }
    }
}
