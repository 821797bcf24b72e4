using System.Diagnostics;
using System.Numerics.Tensors;
using DeepSharp.Kernels;

namespace DeepSharp.Benchmarks;

/// <summary>
/// <c>reduce [reps]</c>: float32 sums in-process, the pairwise kernels (<see cref="ReduceKernels.Sum{T}"/>) against the
/// sequential loops they replaced (reproduced here), on the same data; prints the median time of each and the
/// relative error of each against a float64 sum.
/// </summary>
internal static class ReduceBench
{
    public static int Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 21;
        var rng = new Random(1);
        var shapes = new (string Name, int Outer, int R, int Inner)[]
        {
            ("inner 1x1e6", 1, 1_000_000, 1),
            ("inner 1000x1000", 1000, 1000, 1),
            ("outer 1e6x4 (dim 0)", 1, 250_000, 4),
            ("outer 1000x1000 (dim 0)", 1, 1000, 1000),
            ("outer 4096x512 (bias grad shape)", 1, 4096, 512),
        };
        Console.WriteLine($"{"case",-34} {"old ms",9} {"new ms",9} {"old err",10} {"new err",10}");
        foreach (var (name, outer, r, inner) in shapes)
        {
            var x = new float[outer * r * inner];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() + 0.5);
            var yOld = new float[outer * inner];
            var yNew = new float[outer * inner];
            double tOld = Median(reps, () => OldSum(x, yOld, outer, r, inner));
            double tNew = Median(reps, () => ReduceKernels.Sum<float>(x, yNew, outer, r, inner));
            var reference = new double[outer * inner];
            for (int o = 0; o < outer; o++)
                for (int k = 0; k < r; k++)
                    for (int i = 0; i < inner; i++) reference[o * inner + i] += x[(o * r + k) * inner + i];
            Console.WriteLine($"{name,-34} {tOld,9:F3} {tNew,9:F3} {Err(yOld, reference),10:E2} {Err(yNew, reference),10:E2}");
        }
        return 0;
    }

    // The sequential kernels before the pairwise change.
    private static void OldSum(ReadOnlySpan<float> x, Span<float> y, int outer, int r, int inner)
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = TensorPrimitives.Sum(x.Slice(o * r, r));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            Span<float> dst = y.Slice(o * inner, inner);
            x.Slice(o * r * inner, inner).CopyTo(dst);
            for (int k = 1; k < r; k++) TensorPrimitives.Add(dst, x.Slice((o * r + k) * inner, inner), dst);
        }
    }

    private static double Err(float[] y, double[] reference)
    {
        double worst = 0;
        for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - reference[i]) / Math.Abs(reference[i]));
        return worst;
    }

    private static double Median(int reps, Action f)
    {
        f();
        var t = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            f();
            t[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(t);
        return t[reps / 2];
    }
}
