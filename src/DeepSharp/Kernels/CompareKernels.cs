using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>The element comparisons.</summary>
internal enum CompareOp { Eq, Ne, Gt, Ge, Lt, Le }

/// <summary>Element-wise comparisons and logical ops into Bool spans (x, y and d equally long).</summary>
internal static class CompareKernels
{
    /// <summary>d[i] = x[i] cmp y[i].</summary>
    public static void Compare<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<bool> d, CompareOp cmp) where T : INumber<T>
    {
        for (int i = 0; i < d.Length; i++)
        {
            d[i] = cmp switch
            {
                CompareOp.Eq => x[i] == y[i],
                CompareOp.Ne => x[i] != y[i],
                CompareOp.Gt => x[i] > y[i],
                CompareOp.Ge => x[i] >= y[i],
                CompareOp.Lt => x[i] < y[i],
                _ => x[i] <= y[i],
            };
        }
    }

    /// <summary>d[i] = f(x[i], y[i]).</summary>
    public static void Logical(ReadOnlySpan<bool> x, ReadOnlySpan<bool> y, Span<bool> d, Func<bool, bool, bool> f)
    {
        for (int i = 0; i < d.Length; i++) d[i] = f(x[i], y[i]);
    }

    /// <summary>d[i] = !x[i].</summary>
    public static void Not(ReadOnlySpan<bool> x, Span<bool> d)
    {
        for (int i = 0; i < x.Length; i++) d[i] = !x[i];
    }

    /// <summary>
    /// True when every pair is close as <c>torch.allclose</c> counts it, in double: |a − b| ≤ atol + rtol·|b|, a NaN
    /// is never close, and an infinity is close only to the same infinity.
    /// </summary>
    public static bool AllClose<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, double rtol, double atol) where T : INumberBase<T>
    {
        if (a.Length != b.Length) throw new ArgumentException($"a length {a.Length} != b length {b.Length}.", nameof(b));
        for (int i = 0; i < a.Length; i++)
        {
            double x = double.CreateTruncating(a[i]), y = double.CreateTruncating(b[i]);
            if (double.IsNaN(x) || double.IsNaN(y)) return false;
            if (x == y) continue;
            if (double.IsInfinity(x) || double.IsInfinity(y)) return false;
            if (Math.Abs(x - y) > atol + rtol * Math.Abs(y)) return false;
        }
        return true;
    }
}
