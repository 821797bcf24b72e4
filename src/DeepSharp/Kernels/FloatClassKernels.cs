using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>The floating-point classes that <c>IsNan</c>, <c>IsInf</c> and <c>IsFinite</c> test for.</summary>
internal enum FloatClass { NaN, Infinite, Finite }

/// <summary>Element-wise floating-point classification into Bool spans (x and d equally long).</summary>
internal static class FloatClassKernels
{
    /// <summary>d[i] = x[i] is of class <paramref name="kind"/> (NaN; ±∞; neither NaN nor ±∞).</summary>
    public static void Classify<T>(ReadOnlySpan<T> x, Span<bool> d, FloatClass kind) where T : IFloatingPointIeee754<T>
    {
        if (d.Length != x.Length) throw new ArgumentException($"d length {d.Length} != x length {x.Length}.", nameof(d));
        switch (kind)
        {
            case FloatClass.NaN: for (int i = 0; i < x.Length; i++) d[i] = T.IsNaN(x[i]); break;
            case FloatClass.Infinite: for (int i = 0; i < x.Length; i++) d[i] = T.IsInfinity(x[i]); break;
            default: for (int i = 0; i < x.Length; i++) d[i] = T.IsFinite(x[i]); break;
        }
    }

    /// <summary>True when some element of <paramref name="x"/> is NaN.</summary>
    public static bool AnyNaN<T>(ReadOnlySpan<T> x) where T : IFloatingPointIeee754<T>
    {
        foreach (var v in x) if (T.IsNaN(v)) return true;
        return false;
    }
}
