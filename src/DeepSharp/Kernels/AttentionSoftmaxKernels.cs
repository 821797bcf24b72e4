using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// The attention softmax over rows of [rows, n]: y = softmax(scale·x + mask) with an optional additive mask read
/// through broadcast strides, and its backward. A row whose every entry is −∞ gives zeros (nothing to attend to).
/// </summary>
internal static unsafe class AttentionSoftmaxKernels
{
    /// <summary>
    /// y[r, :] = softmax(scale·x[r, :] + mask[r, :]) for x, y [rows, n]. Row r of the mask starts at
    /// Σ_d index_d(r)·maskStrides[d] over the leading dims <paramref name="lead"/> (row-major, product = rows), and is
    /// unit-stride along n, or constant when maskStrides[^1] is 0; empty <paramref name="maskStrides"/> means no mask.
    /// </summary>
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int[] lead, int[] maskStrides, T scale, Span<T> y, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, x.Length, nameof(x));
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        if (rows == 0 || n == 0) return;
        bool hasMask = maskStrides.Length != 0, rowConst = hasMask && maskStrides[^1] == 0;
        FusedRowParallel.Run(x, mask, y, rows, n, 4L * n, (xs, ms, ys, r0, r1, n) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var xr = xs.Slice(r * n, n);
                var yr = ys.Slice(r * n, n);
                if (!hasMask) TensorPrimitives.Multiply(xr, scale, yr);
                else
                {
                    int off = 0, rem = r;
                    for (int d = lead.Length - 1; d >= 0; d--)
                    {
                        off += rem % lead[d] * maskStrides[d];
                        rem /= lead[d];
                    }
                    if (rowConst) { TensorPrimitives.Multiply(xr, scale, yr); TensorPrimitives.Add<T>(yr, ms[off], yr); }
                    else TensorPrimitives.MultiplyAdd(xr, scale, ms.Slice(off, n), yr);
                }
                T max = TensorPrimitives.Max<T>(yr);
                if (T.IsNegativeInfinity(max)) { yr.Clear(); continue; } // nothing to attend to: zeros
                T sum = VectorMath.ExpShiftSum<T>(yr, max, yr);
                TensorPrimitives.Multiply(yr, T.One / sum, yr);
            }
        });
    }

    /// <summary>
    /// dz = (g − ⟨g, y⟩)·y per row (the gradient of the masked scores, copied to <paramref name="dz"/> unless it is
    /// empty) and dx = scale·dz, for y, g, dx, dz [rows, n].
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, T scale, Span<T> dx, Span<T> dz, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        FusedRowParallel.Check(rows, n, g.Length, nameof(g));
        FusedRowParallel.Check(rows, n, dx.Length, nameof(dx));
        if (!dz.IsEmpty) FusedRowParallel.Check(rows, n, dz.Length, nameof(dz));
        if (rows == 0 || n == 0) return;
        int chunks = FusedRowParallel.Chunks(rows, 3L * n);
        fixed (T* py = y, pg = g, pdx = dx, pdz = dz)
        {
            nint iy = (nint)py, ig = (nint)pg, idx = (nint)pdx, idz = (nint)pdz;
            int len = y.Length, lenZ = dz.Length;
            FusedRowParallel.For(chunks, rows, (r0, r1) =>
            {
                var ys = new ReadOnlySpan<T>((void*)iy, len);
                var gs = new ReadOnlySpan<T>((void*)ig, len);
                var dxs = new Span<T>((void*)idx, len);
                var dzs = new Span<T>((void*)idz, lenZ);
                for (int r = r0; r < r1; r++)
                {
                    var yr = ys.Slice(r * n, n);
                    var dxr = dxs.Slice(r * n, n);
                    T dot = TensorPrimitives.Dot<T>(gs.Slice(r * n, n), yr);
                    TensorPrimitives.AddMultiply(gs.Slice(r * n, n), -dot, yr, dxr); // (g − ⟨g, y⟩)·y
                    if (lenZ != 0) dxr.CopyTo(dzs.Slice(r * n, n));
                    if (scale != T.One) TensorPrimitives.Multiply(dxr, scale, dxr);
                }
            });
        }
    }
}
