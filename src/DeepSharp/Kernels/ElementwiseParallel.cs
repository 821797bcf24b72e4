using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Element-wise kernels over one long contiguous span, cut into one contiguous chunk per thread. Each element is
/// computed exactly as on one thread (no reductions), so the bits do not depend on the thread count. Worth it only
/// for spans of at least <see cref="MinElements"/>: below that a fork/join costs more than the memory traffic saved.
/// </summary>
internal static unsafe class ElementwiseParallel
{
    /// <summary>Elements (per span) from which an element-wise kernel is split over threads (1 MiB of float).</summary>
    internal static int MinElements = 1 << 18;

    /// <summary>A kernel over three equally long spans (two inputs, one output).</summary>
    internal delegate void Body3<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d);

    internal delegate void Body2<T>(ReadOnlySpan<T> a, Span<T> d);

    private static int ChunksFor(int length)
    {
        int threads = KernelSettings.NumThreads;
        if (threads <= 1 || length < MinElements) return 1;
        return Math.Min(threads, length / (MinElements / 2));
    }

    /// <summary>Start of chunk <paramref name="c"/> of <paramref name="chunks"/>, on a 64-byte boundary of the span.</summary>
    private static int ChunkStart(int length, int c, int chunks) =>
        c == chunks ? length : (int)((long)length * c / chunks) & ~15;

    /// <summary>y = op(x) element-wise.</summary>
    public static void Unary<T, TOp>(ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IUnaryOp
    {
        if (y.Length != x.Length) throw new ArgumentException($"Element-wise op: input length {x.Length}, output length {y.Length}.");
        int n = x.Length, chunks = ChunksFor(n);
        if (chunks == 1) { TOp.Apply(x, y); return; }
        fixed (T* px = x, py = y)
        {
            nint ix = (nint)px, iy = (nint)py;
            KernelParallel.For(0, chunks, chunks, c =>
            {
                int s = ChunkStart(n, c, chunks), e = ChunkStart(n, c + 1, chunks);
                TOp.Apply(new ReadOnlySpan<T>((T*)ix + s, e - s), new Span<T>((T*)iy + s, e - s));
            });
        }
    }

    /// <summary>d = op(a, b) element-wise over equally long spans.</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryOp =>
        Run(a, b, d, static (x, y, z) => TOp.Apply(x, y, z));

    /// <summary><paramref name="body"/> over matching chunks of two equally long spans.</summary>
    public static void Run<T>(ReadOnlySpan<T> a, Span<T> d, Body2<T> body) where T : unmanaged
    {
        if (a.Length != d.Length) throw new ArgumentException($"Element-wise op: input length {a.Length}, output length {d.Length}.");
        int n = d.Length, chunks = ChunksFor(n);
        if (chunks == 1) { body(a, d); return; }
        fixed (T* pa = a, pd = d)
        {
            nint ia = (nint)pa, id = (nint)pd;
            KernelParallel.For(0, chunks, chunks, c =>
            {
                int s = ChunkStart(n, c, chunks), e = ChunkStart(n, c + 1, chunks);
                body(new ReadOnlySpan<T>((T*)ia + s, e - s), new Span<T>((T*)id + s, e - s));
            });
        }
    }

    /// <summary><paramref name="body"/> over matching chunks of three equally long spans.</summary>
    public static void Run<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d, Body3<T> body) where T : unmanaged
    {
        if (a.Length != d.Length || b.Length != d.Length)
            throw new ArgumentException($"Element-wise op: lengths {a.Length}, {b.Length} and output {d.Length} differ.");
        int n = d.Length, chunks = ChunksFor(n);
        if (chunks == 1) { body(a, b, d); return; }
        fixed (T* pa = a, pb = b, pd = d)
        {
            nint ia = (nint)pa, ib = (nint)pb, id = (nint)pd;
            KernelParallel.For(0, chunks, chunks, c =>
            {
                int s = ChunkStart(n, c, chunks), e = ChunkStart(n, c + 1, chunks);
                body(new ReadOnlySpan<T>((T*)ia + s, e - s), new ReadOnlySpan<T>((T*)ib + s, e - s), new Span<T>((T*)id + s, e - s));
            });
        }
    }
}
