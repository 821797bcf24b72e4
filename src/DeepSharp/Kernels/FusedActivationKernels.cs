using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>An activation with a one-pass forward y = f(x) and a one-pass backward dx = dy·f'(x), over whole spans.</summary>
internal interface IFusedActivation
{
    static abstract void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>;

    static abstract void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>Exact GELU (vectorised erf).</summary>
internal readonly struct GeluErfActivation : IFusedActivation
{
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => VectorMath.GeluErf(x, y);

    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> =>
        VectorMath.GeluErfBackward(x, dy, dx);
}

/// <summary>GELU's tanh approximation.</summary>
internal readonly struct GeluTanhActivation : IFusedActivation
{
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => VectorMath.GeluTanh(x, y);

    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> =>
        VectorMath.GeluTanhBackward(x, dy, dx);
}

/// <summary>SiLU, x·σ(x).</summary>
internal readonly struct SiluActivation : IFusedActivation
{
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => VectorMath.Silu(x, y);

    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> =>
        VectorMath.SiluBackward(x, dy, dx);
}
