using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>A value for each flat index, as a double (drawn in index order).</summary>
internal interface IIndexValue
{
    /// <summary>The value at flat index <paramref name="i"/>.</summary>
    double At(int i);
}

/// <summary>
/// Deterministic fills of fresh buffers: triangular and causal masks, one-hot rows, the sinusoidal positional-encoding
/// table. Sizes are checked by the caller.
/// </summary>
internal static class FillKernels
{
    /// <summary>The [n, m] mask of <c>tril</c> (<paramref name="lower"/>: column − row ≤ diagonal) or <c>triu</c>
    /// (column − row ≥ diagonal), row-major into <paramref name="d"/>.</summary>
    public static void TriangleMask(Span<bool> d, int n, int m, int diagonal, bool lower)
    {
        if (d.Length != n * m) throw new ArgumentException($"d length {d.Length} != {n}·{m}.", nameof(d));
        for (int i = 0; i < n; i++)
        {
            var row = d.Slice(i * m, m);
            for (int j = 0; j < m; j++) row[j] = lower ? j - i <= diagonal : j - i >= diagonal;
        }
    }

    /// <summary>The additive causal attention mask [rows, cols]: −∞ above the diagonal (query i may not attend to keys
    /// j &gt; i), 0 on and below it.</summary>
    public static void CausalMask(Span<double> d, int rows, int cols)
    {
        if (d.Length != (long)rows * cols) throw new ArgumentException($"d length {d.Length} != {rows}·{cols}.", nameof(d));
        for (int i = 0; i < rows; i++)
        {
            var row = d.Slice(i * cols, cols);
            int keep = Math.Min(i + 1, cols);
            row[..keep].Clear();
            row[keep..].Fill(double.NegativeInfinity);
        }
    }

    /// <summary>d[i·numClasses + idx[i]] = 1 and every other element 0 (<c>one_hot</c>; the indices lie in [0, numClasses)).</summary>
    public static void OneHot(ReadOnlySpan<long> idx, Span<long> d, int numClasses)
    {
        if (d.Length != (long)idx.Length * numClasses) throw new ArgumentException($"d length {d.Length} != {idx.Length}·{numClasses}.", nameof(d));
        d.Clear();
        for (int i = 0; i < idx.Length; i++) d[(int)(i * (long)numClasses + idx[i])] = 1;
    }

    /// <summary>
    /// The sinusoidal positional-encoding table [maxLen, dModel] of "Attention Is All You Need", as PyTorch's tutorial
    /// computes it: column pair (2i, 2i + 1) of row pos holds sin and cos of pos · exp(2i · (−ln 10000 / dModel)).
    /// </summary>
    public static void SinusoidalTable(Span<double> d, int maxLen, int dModel)
    {
        if (d.Length != (long)maxLen * dModel) throw new ArgumentException($"d length {d.Length} != {maxLen}·{dModel}.", nameof(d));
        // div_term once per column pair.
        Span<double> divTerm = dModel <= 512 ? stackalloc double[(dModel + 1) / 2] : new double[(dModel + 1) / 2];
        for (int i = 0; i < dModel; i += 2) divTerm[i / 2] = Math.Exp(i * (-Math.Log(10000.0) / dModel));
        for (int pos = 0; pos < maxLen; pos++)
        {
            var row = d.Slice(pos * dModel, dModel);
            for (int i = 0; i < dModel; i += 2)
            {
                double angle = pos * divTerm[i / 2];
                row[i] = Math.Sin(angle);
                if (i + 1 < dModel) row[i + 1] = Math.Cos(angle);
            }
        }
    }

    /// <summary>d[i] = v.At(i) converted to T (rounded to nearest for float, truncated for integers), in index order.</summary>
    public static void FromIndex<T, TV>(Span<T> d, TV v) where T : INumberBase<T> where TV : struct, IIndexValue
    {
        for (int i = 0; i < d.Length; i++) d[i] = T.CreateTruncating(v.At(i));
    }

    /// <summary>d[i] = v.At(i) != 0, in index order.</summary>
    public static void FromIndex<TV>(Span<bool> d, TV v) where TV : struct, IIndexValue
    {
        for (int i = 0; i < d.Length; i++) d[i] = v.At(i) != 0;
    }

    /// <summary>d[i] = start + i·step (Int64 <c>arange</c>; the caller has checked that every value is in range).</summary>
    public static void Arange(Span<long> d, long start, long step)
    {
        for (int i = 0; i < d.Length; i++) d[i] = start + i * step;
    }
}

/// <summary>start + i·step (<c>arange</c>).</summary>
internal readonly record struct ArangeValue(double Start, double Step) : IIndexValue
{
    public double At(int i) => Start + i * Step;
}

/// <summary>1 on the diagonal of a row-major [·, Cols] matrix, 0 elsewhere (<c>eye</c>).</summary>
internal readonly record struct EyeValue(int Cols) : IIndexValue
{
    public double At(int i) => i / Cols == i % Cols ? 1 : 0;
}

/// <summary><c>linspace</c>: filled from both ends, as PyTorch does, so the last value is exactly <c>End</c>.</summary>
internal readonly record struct LinspaceValue(double Start, double End, int Steps) : IIndexValue
{
    private double Step => Steps > 1 ? (End - Start) / (Steps - 1) : 0;
    public double At(int i) => Steps == 1 || i < Steps / 2 ? Start + i * Step : End - (Steps - 1 - i) * Step;
}
