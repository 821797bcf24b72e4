using System.Diagnostics;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>Warm-up then median-of-repetitions timing of an action.</summary>
public static class Timing
{
    /// <summary>True while the measured repetitions run (false during warm-up), for workloads that count
    /// something (e.g. GC collections) over the measured calls only.</summary>
    [ThreadStatic] public static bool IsMeasuring;

    /// <summary>Median seconds per call of <paramref name="action"/>.</summary>
    public static double MedianSeconds(Action action, WorkloadOptions options)
    {
        // Warm-up: at least 3 calls and ~0.3 s (tiering, caches, thread pool, packing buffers).
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (warm < 3 || sw.Elapsed < TimeSpan.FromMilliseconds(300)) { action(); warm++; }
        double perCall = sw.Elapsed.TotalSeconds / warm;
        int inner = Math.Max(1, (int)Math.Ceiling(options.MinRepetitionTime.TotalSeconds / perCall));

        var samples = new double[Math.Max(1, options.Repetitions)];
        IsMeasuring = true;
        for (int r = 0; r < samples.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) action();
            samples[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / inner;
        }
        IsMeasuring = false;
        Array.Sort(samples);
        int mid = samples.Length / 2;
        return samples.Length % 2 == 1 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
    }
}
