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

/// <summary>Fused activation backward kernels (no mask temporaries).</summary>
internal static class ActivationKernels
{
    /// <summary>dx = y &gt; 0 ? dy : 0 (ReLU's backward from its output y, as PyTorch's threshold_backward).</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0;
        if (dy.Length != n || dx.Length != n) throw new ArgumentException("ReluBackward: length mismatch.");
        ref T py = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        ref T pg = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dy);
        ref T pd = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dx);
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            int w = System.Runtime.Intrinsics.Vector256<T>.Count;
            var zero = System.Runtime.Intrinsics.Vector256<T>.Zero;
            for (; i <= n - w; i += w)
            {
                var vy = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref py, (nuint)i);
                var vg = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref pg, (nuint)i);
                System.Runtime.Intrinsics.Vector256.StoreUnsafe(
                    System.Runtime.Intrinsics.Vector256.ConditionalSelect(System.Runtime.Intrinsics.Vector256.GreaterThan(vy, zero), vg, zero), ref pd, (nuint)i);
            }
        }
        for (; i < n; i++)
            System.Runtime.CompilerServices.Unsafe.Add(ref pd, i) = System.Runtime.CompilerServices.Unsafe.Add(ref py, i) > T.Zero
                ? System.Runtime.CompilerServices.Unsafe.Add(ref pg, i) : T.Zero;
    }
}
