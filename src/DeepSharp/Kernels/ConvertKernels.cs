using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>Element-type conversions and masks over contiguous spans.</summary>
internal static class ConvertKernels
{
    public static void Convert<TFrom, TTo>(ReadOnlySpan<TFrom> x, Span<TTo> y)
        where TFrom : unmanaged, INumberBase<TFrom> where TTo : unmanaged, INumberBase<TTo>
    {
        for (int i = 0; i < x.Length; i++) y[i] = TTo.CreateTruncating(x[i]);
    }

    public static void FromBool<TTo>(ReadOnlySpan<bool> x, Span<TTo> y) where TTo : unmanaged, INumberBase<TTo>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] ? TTo.One : TTo.Zero;
    }

    public static void ToBool<TFrom>(ReadOnlySpan<TFrom> x, Span<bool> y) where TFrom : unmanaged, INumberBase<TFrom>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] != TFrom.Zero;
    }

    /// <summary>y = 1 where x &gt; threshold, else 0 (the ReLU derivative mask).</summary>
    public static void StepMask<T>(ReadOnlySpan<T> x, T threshold, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > threshold ? T.One : T.Zero;
    }
}
