using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Softmax and log-softmax over the rows of a contiguous row-major [rows, n] matrix, and their backward passes.
/// <para>Numerically stable: each row is shifted by its maximum before exponentiation. Outputs may be the same
/// memory as inputs (in place). Large inputs are split over <see cref="KernelSettings.NumThreads"/> by rows.</para>
/// <para>Special rows, as PyTorch: a row whose entries are all −∞ gives NaN everywhere (softmax and log-softmax),
/// since its maximum is −∞ and −∞ − (−∞) is NaN; the attention layer handles fully masked rows itself. A row with
/// some −∞ entries gives 0 (softmax) / −∞ (log-softmax) there. A NaN or +∞ entry makes the whole row NaN.</para>
/// </summary>
internal static class SoftmaxKernels
{
    /// <summary>y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max).</summary>
    public static void Softmax<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, x.Length, nameof(x));
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        if (rows == 0 || n == 0) return;
        FusedRowParallel.Run(x, y, rows, n, 3L * n, static (x, y, r0, r1, n) => SoftmaxRows(x, y, r0, r1, n));
    }

    /// <summary>y[r, :] = (x[r, :] − max) − log Σ exp(x[r, :] − max).</summary>
    public static void LogSoftmax<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, x.Length, nameof(x));
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        if (rows == 0 || n == 0) return;
        FusedRowParallel.Run(x, y, rows, n, 3L * n, static (x, y, r0, r1, n) => LogSoftmaxRows(x, y, r0, r1, n));
    }

    /// <summary>Backward of softmax given its output y: dx = y·(dy − Σ dy·y) per row. dx may alias dy or y.</summary>
    public static void SoftmaxBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        FusedRowParallel.Check(rows, n, dy.Length, nameof(dy));
        FusedRowParallel.Check(rows, n, dx.Length, nameof(dx));
        if (rows == 0 || n == 0) return;
        FusedRowParallel.Run(y, dy, dx, rows, n, 2L * n, static (y, dy, dx, r0, r1, n) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var yr = y.Slice(r * n, n);
                var dyr = dy.Slice(r * n, n);
                T dot = TensorPrimitives.Dot(dyr, yr);
                TensorPrimitives.AddMultiply(dyr, -dot, yr, dx.Slice(r * n, n)); // (dy − dot)·y
            }
        });
    }

    /// <summary>Backward of log-softmax given its output y (the log-probabilities): dx = dy − exp(y)·Σ dy per row.
    /// dx may alias dy or y.</summary>
    public static void LogSoftmaxBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, n, y.Length, nameof(y));
        FusedRowParallel.Check(rows, n, dy.Length, nameof(dy));
        FusedRowParallel.Check(rows, n, dx.Length, nameof(dx));
        if (rows == 0 || n == 0) return;
        FusedRowParallel.Run(y, dy, dx, rows, n, 3L * n, static (y, dy, dx, r0, r1, n) =>
        {
            const int Block = 256;
            Span<T> buf = stackalloc T[Block];
            for (int r = r0; r < r1; r++)
            {
                var yr = y.Slice(r * n, n);
                var dyr = dy.Slice(r * n, n);
                var dxr = dx.Slice(r * n, n);
                T s = TensorPrimitives.Sum(dyr);
                for (int j = 0; j < n; j += Block)
                {
                    int len = Math.Min(Block, n - j);
                    var b = buf[..len];
                    VectorMath.Exp(yr.Slice(j, len), b);
                    TensorPrimitives.MultiplyAdd(b, -s, dyr.Slice(j, len), dxr.Slice(j, len)); // dy − exp(y)·s
                }
            }
        });
    }

    private static void SoftmaxRows<T>(ReadOnlySpan<T> x, Span<T> y, int r0, int r1, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            T max = TensorPrimitives.Max(xr); // NaN if any NaN
            T sum = VectorMath.ExpShiftSum(xr, max, yr);
            TensorPrimitives.Multiply(yr, T.One / sum, yr);
        }
    }

    private static void LogSoftmaxRows<T>(ReadOnlySpan<T> x, Span<T> y, int r0, int r1, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * n, n);
            T max = TensorPrimitives.Max(xr);
            T sum = VectorMath.ExpShiftSum(xr, max, Span<T>.Empty);
            // (x − max) − log Σ, in this order (as PyTorch): max + log Σ could absorb log Σ when |max| is huge.
            var yr = y.Slice(r * n, n);
            TensorPrimitives.Subtract(xr, max, yr);
            TensorPrimitives.Subtract(yr, T.Log(sum), yr);
        }
    }
}

/// <summary>
/// Splits row-wise kernels over <see cref="KernelSettings.NumThreads"/> threads when there is enough work
/// (≳ 100 µs), in contiguous row ranges so results do not depend on the thread count.
/// </summary>
internal static unsafe class FusedRowParallel
{
    /// <summary>Below this many element-operations a kernel runs on the calling thread.</summary>
    internal const long MinParallelWork = 1L << 17;

    internal delegate void RowBody2<T>(ReadOnlySpan<T> a, Span<T> b, int r0, int r1, int n);
    internal delegate void RowBody3<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int r0, int r1, int n);

    /// <summary>How many contiguous chunks to split <paramref name="rows"/> rows into.</summary>
    internal static int Chunks(int rows, long workPerRow)
    {
        int threads = KernelSettings.NumThreads;
        if (threads <= 1 || rows < 2 || rows * workPerRow < MinParallelWork) return 1;
        return Math.Min(threads, rows);
    }

    /// <summary>
    /// The number of parts of a row-wise kernel that reduces across rows (per-part partial sums added in part order),
    /// from the shape alone: the bits do not depend on the thread count. Parts are shared by the available threads.
    /// </summary>
    internal static int ReductionParts(int rows, long workPerRow) =>
        rows < 2 || rows * workPerRow < MinParallelWork ? 1 : Math.Min(rows, KernelSettings.ShapeReductionParts);

    internal static void Check(int rows, int n, int length, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if ((long)rows * n != length)
            throw new ArgumentException($"Span length {length} does not match rows·n = {rows}·{n}.", name);
    }

    /// <summary>Runs <paramref name="body"/> over row ranges [r0, r1) of all chunks and waits.</summary>
    internal static void For(int chunks, int rows, Action<int, int> body) =>
        ForChunks(chunks, rows, (_, r0, r1) => body(r0, r1));

    /// <summary>Like <see cref="For"/>, also passing the chunk index (for per-chunk partial reductions).</summary>
    internal static void ForChunks(int chunks, int rows, Action<int, int, int> body)
    {
        if (chunks <= 1) { body(0, 0, rows); return; }
        KernelParallel.For(0, chunks, chunks,
            c => body(c, (int)((long)rows * c / chunks), (int)((long)rows * (c + 1) / chunks)));
    }

    internal static void Run<T>(ReadOnlySpan<T> a, Span<T> b, int rows, int n, long workPerRow, RowBody2<T> body) where T : unmanaged
    {
        int chunks = Chunks(rows, workPerRow);
        if (chunks == 1) { body(a, b, 0, rows, n); return; }
        fixed (T* pa = a) fixed (T* pb = b)
        {
            nint ia = (nint)pa, ib = (nint)pb;
            int la = a.Length, lb = b.Length;
            For(chunks, rows, (r0, r1) => body(new ReadOnlySpan<T>((void*)ia, la), new Span<T>((void*)ib, lb), r0, r1, n));
        }
    }

    internal static void Run<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int rows, int n, long workPerRow, RowBody3<T> body) where T : unmanaged
    {
        int chunks = Chunks(rows, workPerRow);
        if (chunks == 1) { body(a, b, c, 0, rows, n); return; }
        fixed (T* pa = a) fixed (T* pb = b) fixed (T* pc = c)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            int la = a.Length, lb = b.Length, lc = c.Length;
            For(chunks, rows, (r0, r1) => body(new ReadOnlySpan<T>((void*)ia, la), new ReadOnlySpan<T>((void*)ib, lb), new Span<T>((void*)ic, lc), r0, r1, n));
        }
    }
}
