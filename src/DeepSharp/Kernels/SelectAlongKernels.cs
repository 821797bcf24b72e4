using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Index-select along the middle dim of a contiguous [outer, n, inner] block and its adjoint: whole runs of
/// <c>inner</c> contiguous elements copied (or added) at host-side indices.
/// </summary>
internal static class SelectAlongKernels
{
    /// <summary>dst[o, j, :] = src[o, index[j], :]; src is [outer, n, inner], dst is [outer, index.Length, inner].</summary>
    public static void Select<T>(ReadOnlySpan<T> src, Span<T> dst, ReadOnlySpan<int> index, int outer, int n, int inner)
        where T : unmanaged
    {
        int m = index.Length;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                src.Slice((o * n + index[j]) * inner, inner).CopyTo(dst.Slice((o * m + j) * inner, inner));
    }

    /// <summary>dst[o, index[j], :] += src[o, j, :]; src is [outer, index.Length, inner], dst is [outer, size, inner].</summary>
    public static void Add<T>(ReadOnlySpan<T> src, Span<T> dst, ReadOnlySpan<int> index, int outer, int size, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = index.Length;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
            {
                var run = dst.Slice((o * size + index[j]) * inner, inner);
                TensorPrimitives.Add(run, src.Slice((o * m + j) * inner, inner), run);
            }
    }
}
