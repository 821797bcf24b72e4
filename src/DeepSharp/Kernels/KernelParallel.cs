namespace DeepSharp.Kernels;

/// <summary>
/// The one way kernels fork work. Bodies run with a thread-local "inside a kernel worker" flag, and
/// <see cref="KernelSettings.NumThreads"/> reads as 1 there, so a kernel called from another kernel's worker
/// (a GEMM inside a convolution's per-image worker) runs single-threaded instead of nesting thread pools.
/// </summary>
internal static class KernelParallel
{
    [ThreadStatic] private static bool t_inWorker;

    /// <summary>True on a thread currently running a kernel worker body.</summary>
    public static bool InWorker => t_inWorker;

    public static void For(int fromInclusive, int toExclusive, Action<int> body) =>
        For(fromInclusive, toExclusive, new ParallelOptions { MaxDegreeOfParallelism = KernelSettings.NumThreads }, body);

    public static void For(int fromInclusive, int toExclusive, ParallelOptions options, Action<int> body) =>
        Parallel.For(fromInclusive, toExclusive, options, i =>
        {
            bool previous = t_inWorker;
            t_inWorker = true;
            try { body(i); }
            finally { t_inWorker = previous; }
        });
}
