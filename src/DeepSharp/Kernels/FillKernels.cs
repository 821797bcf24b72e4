namespace DeepSharp.Kernels;

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

    /// <summary>The additive causal attention mask [size, size]: −∞ above the diagonal (a position may not attend to
    /// later ones), 0 on and below it.</summary>
    public static void CausalMask(Span<double> d, int size)
    {
        if (d.Length != size * size) throw new ArgumentException($"d length {d.Length} != {size}².", nameof(d));
        for (int i = 0; i < size; i++)
        {
            var row = d.Slice(i * size, size);
            row[..Math.Min(i + 1, size)].Clear();
            row[(i + 1)..].Fill(double.NegativeInfinity);
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
}
