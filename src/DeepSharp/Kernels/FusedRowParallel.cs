namespace DeepSharp.Kernels;

/// <summary>
/// Splits row-wise kernels over <see cref="KernelSettings.NumThreads"/> threads when there is enough work
/// (≳ 100 µs), in contiguous row ranges so results do not depend on the thread count.
/// </summary>
internal static unsafe class FusedRowParallel
{
    internal delegate void RowBody2<T>(ReadOnlySpan<T> a, Span<T> b, int r0, int r1, int n);
    internal delegate void RowBody3<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int r0, int r1, int n);

    /// <summary>How many contiguous chunks to split <paramref name="rows"/> rows into.</summary>
    internal static int Chunks(int rows, long workPerRow) =>
        KernelParallel.WorkersFor(rows * workPerRow, rows, KernelSettings.RowParallelMinWork);

    /// <summary>
    /// The number of parts of a row-wise kernel that reduces across rows (per-part partial sums added in part order),
    /// from the shape alone: the bits do not depend on the thread count. Parts are shared by the available threads.
    /// </summary>
    internal static int ReductionParts(int rows, long workPerRow) =>
        rows < 2 || rows * workPerRow < KernelSettings.RowParallelMinWork ? 1 : Math.Min(rows, KernelSettings.ShapeReductionParts);

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
