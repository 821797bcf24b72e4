using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Fills from a <see cref="Generator"/>, drawn in element order so that a seed gives the same values on every machine:
/// uniform and normal values, a truncated normal, and the one Fisher–Yates shuffle (RandPerm, DataLoader).
/// </summary>
internal static class RandomKernels
{
    /// <summary>d[i] = U[0, 1) rounded to T.</summary>
    public static void Uniform<T>(Span<T> d, Generator g) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = T.CreateTruncating(g.NextDouble());
    }

    /// <summary>d[i] = N(0, 1) rounded to T.</summary>
    public static void Normal<T>(Span<T> d, Generator g) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = T.CreateTruncating(g.NextNormal());
    }

    /// <summary>d[i] = mean + std·N(0, 1), redrawn until it lies in [a, b] (<c>trunc_normal_</c>).</summary>
    public static void TruncNormal(Span<double> d, double mean, double std, double a, double b, Generator g)
    {
        for (int i = 0; i < d.Length; i++)
        {
            double v;
            do v = mean + std * g.NextNormal(); while (v < a || v > b);
            d[i] = v;
        }
    }

    /// <summary>A uniform random permutation of <paramref name="data"/> in place (Fisher–Yates, from the last element down).</summary>
    public static void Shuffle<T>(Span<T> data, Generator g)
    {
        for (int i = data.Length - 1; i > 0; i--)
        {
            int j = (int)g.NextInt64(0, i + 1);
            (data[i], data[j]) = (data[j], data[i]);
        }
    }

    /// <summary>d[i] = a uniform integer in [low, high).</summary>
    public static void Integers(Span<long> d, long low, long high, Generator g)
    {
        for (int i = 0; i < d.Length; i++) d[i] = g.NextInt64(low, high);
    }
}

/// <summary>The next uniform integer in [Low, High) of a generator, as a double (RandInt into a non-Int64 dtype).</summary>
internal readonly record struct RandomIntegerValue(Generator G, long Low, long High) : IIndexValue
{
    public double At(int i) => G.NextInt64(Low, High);
}
