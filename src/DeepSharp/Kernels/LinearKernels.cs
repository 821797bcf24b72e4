using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// The epilogues of a linear layer on rows (<c>Tensor.LinearRows</c>): after the GEMM has written x·Wᵀ, one row-parallel
/// pass adds the bias and applies ReLU in place; the backward masks the gradient by ReLU and sums it over rows for the
/// bias. Row ranges are fixed by the row count and thread count, so results do not depend on scheduling.
/// </summary>
internal static unsafe class LinearKernels
{
    /// <summary>y[r, :] = relu?(y[r, :] + bias) in place for y [m, n]; bias [n] or empty (no bias).</summary>
    public static void BiasActivation<T>(Span<T> y, ReadOnlySpan<T> bias, bool relu, int m, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(m, n, y.Length, nameof(y));
        if (!bias.IsEmpty && bias.Length != n) throw new ArgumentException($"Bias length {bias.Length} does not match n = {n}.", nameof(bias));
        if (m == 0 || n == 0 || (bias.IsEmpty && !relu)) return;
        FusedRowParallel.Run(bias, y, m, n, 2L * n, relu
            ? static (b, ys, r0, r1, n) => BiasRows(b, ys, r0, r1, n, relu: true)
            : static (b, ys, r0, r1, n) => BiasRows(b, ys, r0, r1, n, relu: false));
    }

    private static void BiasRows<T>(ReadOnlySpan<T> bias, Span<T> y, int r0, int r1, int n, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = r0; r < r1; r++)
        {
            var row = y.Slice(r * n, n);
            if (!bias.IsEmpty) TensorPrimitives.Add(row, bias, row);
            if (relu) TensorPrimitives.Max(row, T.Zero, row);
        }
    }

    /// <summary>dz = y &gt; 0 ? g : 0 for y, g, dz [m, n], row-parallel (<see cref="ActivationKernels.ReluBackward{T}"/> per range).</summary>
    public static void ReluBackwardRows<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> dz, int m, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(m, n, dz.Length, nameof(dz));
        FusedRowParallel.Run(y, g, dz, m, n, 2L * n, static (ys, gs, zs, r0, r1, n) =>
        {
            int start = r0 * n, len = (r1 - r0) * n;
            ActivationKernels.ReluBackward(ys.Slice(start, len), gs.Slice(start, len), zs.Slice(start, len));
        });
    }

    /// <summary>
    /// sums[j] = Σ_r z[r, j] for z [m, n]: per-chunk partial sums over row ranges, then their sum in chunk order
    /// (deterministic for a given thread count). Float32 adds in float64 (<see cref="ReduceKernels.AddWidened"/>) and
    /// rounds once, so a bias gradient over a large batch is the rounding of the exact sum; float64 sums pairwise.
    /// </summary>
    public static void ColumnSums<T>(ReadOnlySpan<T> z, Span<T> sums, int m, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(m, n, z.Length, nameof(z));
        if (sums.Length != n) throw new ArgumentException($"Sums length {sums.Length} does not match n = {n}.", nameof(sums));
        int chunks = FusedRowParallel.Chunks(m, n);
        if (typeof(T) == typeof(float))
        {
            var wide = new double[chunks * n];
            fixed (T* pz = z)
            {
                nint iz = (nint)pz;
                int len = z.Length;
                FusedRowParallel.ForChunks(chunks, m, (c, r0, r1) =>
                {
                    var zs = new ReadOnlySpan<float>((void*)iz, len);
                    var acc = wide.AsSpan(c * n, n);
                    for (int r = r0; r < r1; r++) ReduceKernels.AddWidened(zs.Slice(r * n, n), acc);
                });
            }
            for (int c = 1; c < chunks; c++) TensorPrimitives.Add(wide.AsSpan(0, n), wide.AsSpan(c * n, n), wide.AsSpan(0, n));
            var dst = MemoryMarshal.Cast<T, float>(sums);
            for (int j = 0; j < n; j++) dst[j] = (float)wide[j];
            return;
        }
        var partial = new T[chunks * n];
        fixed (T* pz = z)
        {
            nint iz = (nint)pz;
            int len = z.Length;
            FusedRowParallel.ForChunks(chunks, m, (c, r0, r1) =>
            {
                var zs = new ReadOnlySpan<T>((void*)iz, len);
                // Pairwise over the chunk's rows.
                var scratch = r1 - r0 > KernelSettings.PairwiseSumBlock ? new T[n * ReduceKernels.ScratchLevels(r1 - r0)] : null;
                ReduceKernels.SumRows(zs.Slice(r0 * n, (r1 - r0) * n), partial.AsSpan(c * n, n), r1 - r0, n, scratch);
            });
        }
        partial.AsSpan(0, n).CopyTo(sums);
        for (int c = 1; c < chunks; c++) TensorPrimitives.Add(sums, partial.AsSpan(c * n, n), sums);
    }
}
