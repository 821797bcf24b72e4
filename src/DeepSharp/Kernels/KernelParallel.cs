using System.Runtime.ExceptionServices;

namespace DeepSharp.Kernels;

/// <summary>
/// The one way kernels fork work: a fork/join over iterations <c>[from, to)</c> on persistent worker threads.
/// </summary>
/// <remarks>
/// <para>Why not <see cref="Parallel.For(int, int, Action{int})"/>: a GEMM of a training step lasts 0.3–2 ms, and the
/// thread pool often hands both halves of a two-part job to the calling thread before a pool thread wakes up,
/// so a "2-thread" GEMM measured no faster than one thread. Here the caller and <c>NumThreads − 1</c> dedicated
/// workers claim iterations from a shared counter; workers spin briefly after a job (the next kernel usually
/// follows within microseconds), then yield their core for up to a millisecond, and then block, so an idle process
/// costs no CPU.</para>
/// <para>Iteration i always computes the same part of the result whichever thread runs it, so results do not
/// depend on scheduling. One job runs on the workers at a time: a kernel called concurrently from another user
/// thread (separate models trained on separate threads) runs its iterations inline on its own thread instead.
/// Bodies run with a thread-local "inside a kernel worker" flag and <see cref="KernelSettings.NumThreads"/> reads
/// as 1 there, so a kernel called from another kernel's body runs single-threaded instead of nesting.</para>
/// </remarks>
internal static class KernelParallel
{
    [ThreadStatic] private static bool t_inWorker;

    /// <summary>True on a thread currently running a kernel body.</summary>
    public static bool InWorker => t_inWorker;

    /// <summary>
    /// The one "too little work → one thread" rule: how many threads a kernel uses for <paramref name="work"/>
    /// operations that split into <paramref name="units"/> independent parts. One when the work is below
    /// <paramref name="minWork"/> (a fork/join would cost more than it saves), when there are fewer than two parts,
    /// or inside a kernel worker; otherwise min(<see cref="KernelSettings.NumThreads"/>, units).
    /// </summary>
    public static int WorkersFor(long work, long units, long minWork)
    {
        int threads = KernelSettings.NumThreads;
        if (threads <= 1 || units < 2 || work < minWork) return 1;
        return (int)Math.Min(threads, units);
    }

    /// <summary>Runs <paramref name="body"/> for each i in [from, to) on up to <see cref="KernelSettings.NumThreads"/> threads.</summary>
    public static void For(int fromInclusive, int toExclusive, Action<int> body) =>
        For(fromInclusive, toExclusive, KernelSettings.NumThreads, body);

    /// <summary>Runs <paramref name="body"/> for each i in [from, to) on up to <paramref name="maxThreads"/> threads.</summary>
    public static void For(int fromInclusive, int toExclusive, int maxThreads, Action<int> body)
    {
        int count = toExclusive - fromInclusive;
        if (count <= 0) return;
        int threads = Math.Min(Math.Min(maxThreads, KernelSettings.NumThreads), count);
        if (threads <= 1 || t_inWorker || !Pool.Instance.TryRun(fromInclusive, toExclusive, threads, body))
            RunInline(fromInclusive, toExclusive, body);
    }

    private static void RunInline(int from, int to, Action<int> body)
    {
        bool previous = t_inWorker;
        t_inWorker = true;
        try
        {
            for (int i = from; i < to; i++) body(i);
        }
        finally { t_inWorker = previous; }
    }

    /// <summary>Persistent workers and the state of the one job they run.</summary>
    private sealed class Pool
    {
        public static readonly Pool Instance = new();

        // Spin, then yield, then block between jobs (the reasons are at the settings).
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency * KernelSettings.SpinMicroseconds / 1_000_000;
        private static readonly long YieldTicks = System.Diagnostics.Stopwatch.Frequency * KernelSettings.YieldMicroseconds / 1_000_000;

        private readonly object _gate = new();        // held by the caller for the duration of a job
        private readonly object _sleep = new();       // workers block on it between jobs
        private Thread[] _threads = [];
        private int _sleepers;

        // The current job (written under _gate before _generation is bumped).
        private Action<int>? _body;
        private int _next, _end, _helpers;
        private int _pendingHelpers;
        private int _generation;
        private ExceptionDispatchInfo? _error;
        private readonly ManualResetEventSlim _done = new(false, 100);

        public bool TryRun(int from, int to, int threads, Action<int> body)
        {
            if (!Monitor.TryEnter(_gate)) return false;   // another user thread owns the workers: run inline
            try
            {
                EnsureWorkers(threads - 1);
                _body = body;
                _next = from;
                _end = to;
                _error = null;
                _helpers = threads - 1;
                _pendingHelpers = threads - 1;
                _done.Reset();
                Interlocked.Increment(ref _generation);   // publishes the job to spinning workers
                if (Volatile.Read(ref _sleepers) > 0)
                    lock (_sleep) Monitor.PulseAll(_sleep);

                Work();                                     // the caller takes its share
                if (Volatile.Read(ref _pendingHelpers) > 0)
                {
                    long until = System.Diagnostics.Stopwatch.GetTimestamp() + YieldTicks;
                    while (Volatile.Read(ref _pendingHelpers) > 0 && System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.Yield();
                }
                if (Volatile.Read(ref _pendingHelpers) > 0) _done.Wait();
                _body = null;
                _error?.Throw();
                return true;
            }
            finally { Monitor.Exit(_gate); }
        }

        /// <summary>Claims iterations until none are left.</summary>
        private void Work()
        {
            var body = _body!;
            bool previous = t_inWorker;
            t_inWorker = true;
            try
            {
                int i;
                while ((i = Interlocked.Increment(ref _next) - 1) < _end)
                {
                    if (_error is not null) continue;       // a failed job drains quickly
                    try { body(i); }
                    catch (Exception e) { Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null); }
                }
            }
            finally { t_inWorker = previous; }
        }

        private void EnsureWorkers(int n)
        {
            if (_threads.Length >= n) return;
            var grown = new Thread[n];
            Array.Copy(_threads, grown, _threads.Length);
            for (int i = _threads.Length; i < n; i++)
            {
                int index = i, seen = Volatile.Read(ref _generation);
                grown[i] = new Thread(() => WorkerLoop(index, seen)) { IsBackground = true, Name = $"DeepSharp kernel worker {i + 1}" };
                grown[i].Start();
            }
            _threads = grown;
        }

        private void WorkerLoop(int index, int seen)
        {
            while (true)
            {
                long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _generation) == seen)
                {
                    long now = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (now < spinUntil) { Thread.SpinWait(10); continue; }
                    if (now < spinUntil + YieldTicks) { Thread.Yield(); continue; }
                    lock (_sleep)
                    {
                        Interlocked.Increment(ref _sleepers);      // a full fence before re-reading _generation
                        while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_sleep);
                        Interlocked.Decrement(ref _sleepers);
                    }
                }
                seen = Volatile.Read(ref _generation);
                if (index >= _helpers) continue;            // this job wants fewer threads
                Work();
                if (Interlocked.Decrement(ref _pendingHelpers) == 0) _done.Set();
            }
        }
    }
}
