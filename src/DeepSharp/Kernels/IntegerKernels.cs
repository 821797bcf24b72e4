namespace DeepSharp.Kernels;

/// <summary>An element-wise Int64 operation (wrapping on overflow, as PyTorch's integer arithmetic).</summary>
internal interface ILongOp
{
    static abstract long Apply(long a, long b);
}

internal readonly struct LongAdd : ILongOp { public static long Apply(long a, long b) => unchecked(a + b); }
internal readonly struct LongSub : ILongOp { public static long Apply(long a, long b) => unchecked(a - b); }
internal readonly struct LongMul : ILongOp { public static long Apply(long a, long b) => unchecked(a * b); }
internal readonly struct LongMax : ILongOp { public static long Apply(long a, long b) => Math.Max(a, b); }
internal readonly struct LongMin : ILongOp { public static long Apply(long a, long b) => Math.Min(a, b); }

/// <summary>Floor division (Python's and PyTorch's <c>//</c>): rounds toward −∞. The divisor is nonzero (checked by the caller).</summary>
internal readonly struct LongFloorDiv : ILongOp
{
    public static long Apply(long a, long b)
    {
        if (b == -1) return unchecked(-a);   // long.MinValue / −1 overflows in .NET; PyTorch wraps
        long q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }
}

/// <summary>Remainder with the divisor's sign (Python's and PyTorch's <c>%</c>). The divisor is nonzero.</summary>
internal readonly struct LongRemainder : ILongOp
{
    public static long Apply(long a, long b)
    {
        if (b == -1) return 0;
        long r = a % b;
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
}

/// <summary>Integer power by squaring; the exponent is non-negative (checked by the caller).</summary>
internal readonly struct LongPow : ILongOp
{
    public static long Apply(long a, long b)
    {
        long result = 1;
        unchecked
        {
            while (b > 0)
            {
                if ((b & 1) != 0) result *= a;
                a *= a;
                b >>= 1;
            }
        }
        return result;
    }
}

/// <summary>Span loops over Int64 data (integer tensors are indices and counts: a plain loop is enough).</summary>
internal static class IntegerKernels
{
    public static void Binary<TOp>(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> d) where TOp : struct, ILongOp
    {
        if (a.Length != d.Length || b.Length != d.Length) throw new ArgumentException("Int64 binary kernel: length mismatch.");
        for (int i = 0; i < d.Length; i++) d[i] = TOp.Apply(a[i], b[i]);
    }

    public static void Binary<TOp>(ReadOnlySpan<long> a, long b, Span<long> d) where TOp : struct, ILongOp
    {
        if (a.Length != d.Length) throw new ArgumentException("Int64 binary kernel: length mismatch.");
        for (int i = 0; i < d.Length; i++) d[i] = TOp.Apply(a[i], b);
    }

    public static void Binary<TOp>(long a, ReadOnlySpan<long> b, Span<long> d) where TOp : struct, ILongOp
    {
        if (b.Length != d.Length) throw new ArgumentException("Int64 binary kernel: length mismatch.");
        for (int i = 0; i < d.Length; i++) d[i] = TOp.Apply(a, b[i]);
    }

    /// <summary>Sums [outer, r, inner] along r into [outer, inner] (exact, wrapping on overflow).</summary>
    public static void Sum(ReadOnlySpan<long> src, Span<long> dst, int outer, int r, int inner)
    {
        dst.Clear();
        for (int o = 0; o < outer; o++)
        {
            var row = dst.Slice(o * inner, inner);
            for (int k = 0; k < r; k++)
            {
                var s = src.Slice((o * r + k) * inner, inner);
                for (int i = 0; i < inner; i++) row[i] = unchecked(row[i] + s[i]);
            }
        }
    }

    /// <summary>Max or min along r of [outer, r, inner] with the index of the first extreme.</summary>
    public static void ArgExtreme(ReadOnlySpan<long> src, Span<long> values, Span<long> indices, int outer, int r, int inner, bool max)
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int baseIdx = o * r * inner + i;
                long best = src[baseIdx];
                long bestK = 0;
                for (int k = 1; k < r; k++)
                {
                    long v = src[baseIdx + k * inner];
                    if (max ? v > best : v < best) { best = v; bestK = k; }
                }
                values[o * inner + i] = best;
                indices[o * inner + i] = bestK;
            }
        }
    }

    /// <summary>PyTorch's floating floor division (div_floor_floating) or, with <paramref name="remainder"/>, its
    /// remainder (the sign of the divisor), element by element over equally long spans.</summary>
    public static void FloorDivideOrRemainder<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d, bool remainder)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++)
        {
            T av = x[i], bv = y[i];
            T mod = av % bv;   // fmod: the sign of the dividend
            bool adjust = mod != T.Zero && (bv < T.Zero) != (mod < T.Zero);
            if (remainder) { d[i] = adjust ? mod + bv : mod; continue; }
            if (bv == T.Zero) { d[i] = av / bv; continue; }
            T div = (av - mod) / bv;
            if (adjust) div -= T.One;
            if (div == T.Zero) { d[i] = T.CopySign(T.Zero, av / bv); continue; }
            T floor = T.Floor(div);
            d[i] = div - floor > T.CreateTruncating(0.5) ? floor + T.One : floor;
        }
    }
}
