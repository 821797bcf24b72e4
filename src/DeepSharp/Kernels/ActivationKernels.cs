using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>Fused activation backward kernels (no mask temporaries).</summary>
internal static class ActivationKernels
{
    /// <summary>dx = y &gt; 0 ? dy : 0 (ReLU's backward from its output y, as PyTorch's threshold_backward).</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0;
        if (dy.Length != n || dx.Length != n) throw new ArgumentException("ReluBackward: length mismatch.");
        ref T py = ref MemoryMarshal.GetReference(y);
        ref T pg = ref MemoryMarshal.GetReference(dy);
        ref T pd = ref MemoryMarshal.GetReference(dx);
        if (Vector256.IsHardwareAccelerated)
        {
            int w = Vector256<T>.Count;
            var zero = Vector256<T>.Zero;
            for (; i <= n - w; i += w)
            {
                var vy = Vector256.LoadUnsafe(ref py, (nuint)i);
                var vg = Vector256.LoadUnsafe(ref pg, (nuint)i);
                Vector256.StoreUnsafe(
                    Vector256.ConditionalSelect(Vector256.GreaterThan(vy, zero), vg, zero), ref pd, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref pd, i) = Unsafe.Add(ref py, i) > T.Zero
                ? Unsafe.Add(ref pg, i) : T.Zero;
    }
}
