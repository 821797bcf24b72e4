using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

// Element-wise operators for the tensor functions (rounding, log1p/expm1, erfinv) in the IUnaryOp pattern.

internal readonly struct FloorOp : IUnaryOp { public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Floor(x, y); }
internal readonly struct CeilOp : IUnaryOp { public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Ceiling(x, y); }
internal readonly struct TruncOp : IUnaryOp { public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Truncate(x, y); }

/// <summary>Round half to even, as <c>torch.round</c>.</summary>
internal readonly struct RoundOp : IUnaryOp { public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Round(x, MidpointRounding.ToEven, y); }

/// <summary>log(1 + x), accurate for small x (.NET's LogP1 is log(1 + x) rounded, which loses the low bits).</summary>
internal readonly struct Log1pOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(ScalarFunctions.Log1p(double.CreateTruncating(x[i])));
    }
}

/// <summary>eˣ − 1, accurate for small x.</summary>
internal readonly struct Expm1Op : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(ScalarFunctions.Expm1(double.CreateTruncating(x[i])));
    }
}

/// <summary>The inverse error function.</summary>
internal readonly struct ErfinvOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(ScalarFunctions.Erfinv(double.CreateTruncating(x[i])));
    }
}

internal readonly struct HypotOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Hypot(a, b);
    public static void Apply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Hypot(a, b, d);
    public static void Apply<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < a.Length; i++) d[i] = T.Hypot(a[i], b);
    }
    public static void Apply<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < b.Length; i++) d[i] = T.Hypot(a, b[i]);
    }
}

internal readonly struct Atan2Op : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Atan2(a, b);
    public static void Apply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Atan2(a, b, d);
    public static void Apply<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Atan2(a, b, d);
    public static void Apply<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Atan2(a, b, d);
}

/// <summary>Scalar special functions for the tensor functions.</summary>
internal static class ScalarFunctions
{
    /// <summary>log(1 + x) to full double precision (Kahan's trick: the rounding of 1 + x is corrected by x / (u − 1)).</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        if (double.IsInfinity(u)) return u;
        return Math.Log(u) * (x / (u - 1.0));
    }

    /// <summary>eˣ − 1 to full double precision (Kahan's trick on the rounding of eˣ).</summary>
    public static double Expm1(double x)
    {
        if (Math.Abs(x) < 1e-5) return x + 0.5 * x * x + x * x * x / 6.0;
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsInfinity(u)) return u;
        return um1 * (x / Math.Log(u));
    }

    /// <summary>erf⁻¹(y): Giles' approximation, then Newton steps on erf (ScalarMath.Erf) to double precision.</summary>
    public static double Erfinv(double y)
    {
        if (double.IsNaN(y) || y < -1 || y > 1) return double.NaN;
        if (y == 1) return double.PositiveInfinity;
        if (y == -1) return double.NegativeInfinity;
        if (y == 0) return y;
        double w = -Math.Log((1.0 - y) * (1.0 + y)), p;
        if (w < 6.25)
        {
            w -= 3.125;
            p = -3.6444120640178196996e-21; p = -1.685059138182016589e-19 + p * w; p = 1.2858480715256400167e-18 + p * w;
            p = 1.115787767802518096e-17 + p * w; p = -1.333171662854620906e-16 + p * w; p = 2.0972767875968561637e-17 + p * w;
            p = 6.6376381343583238325e-15 + p * w; p = -4.0545662729752068639e-14 + p * w; p = -8.1519341976054721522e-14 + p * w;
            p = 2.6335093153082322977e-12 + p * w; p = -1.2975133253453532498e-11 + p * w; p = -5.4154120542946279317e-11 + p * w;
            p = 1.051212273321532285e-09 + p * w; p = -4.1126339803469836976e-09 + p * w; p = -2.9070369957882005086e-08 + p * w;
            p = 4.2347877827932403518e-07 + p * w; p = -1.3654692000834678645e-06 + p * w; p = -1.3882523362786468719e-05 + p * w;
            p = 0.0001867342080340571352 + p * w; p = -0.00074070253416626697512 + p * w; p = -0.0060336708714301490533 + p * w;
            p = 0.24015818242558961693 + p * w; p = 1.6536545626831027356 + p * w;
        }
        else if (w < 16.0)
        {
            w = Math.Sqrt(w) - 3.25;
            p = 2.2137376921775787049e-09; p = 9.0756561938885390979e-08 + p * w; p = -2.7517406297064545428e-07 + p * w;
            p = 1.8239629214389227755e-08 + p * w; p = 1.5027403968909827627e-06 + p * w; p = -4.013867526981545969e-06 + p * w;
            p = 2.9234449089955446044e-06 + p * w; p = 1.2475304481671778723e-05 + p * w; p = -4.7318229009055733981e-05 + p * w;
            p = 6.8284851459573175448e-05 + p * w; p = 2.4031110387097893999e-05 + p * w; p = -0.0003550375203628474796 + p * w;
            p = 0.00095328937973738049703 + p * w; p = -0.0016882755560235047313 + p * w; p = 0.0024914420961078508066 + p * w;
            p = -0.0037512085075692412107 + p * w; p = 0.005370914553590063617 + p * w; p = 1.0052589676941592334 + p * w;
            p = 3.0838856104922207635 + p * w;
        }
        else
        {
            w = Math.Sqrt(w) - 5.0;
            p = -2.7109920616438573243e-11; p = -2.5556418169965252055e-10 + p * w; p = 1.5076572693500548083e-09 + p * w;
            p = -3.7894654401267369937e-09 + p * w; p = 7.6157012080783393804e-09 + p * w; p = -1.4960026627149240478e-08 + p * w;
            p = 2.9147953450901080826e-08 + p * w; p = -6.7711997758452339498e-08 + p * w; p = 2.2900482228026654717e-07 + p * w;
            p = -9.9298272942317002539e-07 + p * w; p = 4.5260625972231537039e-06 + p * w; p = -1.9681778105531670567e-05 + p * w;
            p = 7.5995277030017761139e-05 + p * w; p = -0.00021503011930044477347 + p * w; p = -0.00013871931833623122026 + p * w;
            p = 1.0103004648645343977 + p * w; p = 4.8499064014085844221 + p * w;
        }
        double x = p * y;
        // Newton on erf(x) − y; the derivative is 2/√π·e^(−x²). Two steps polish the approximation to the last bits.
        for (int i = 0; i < 2; i++)
        {
            double d = 1.1283791670955125738961589031215452 * Math.Exp(-x * x);
            if (d == 0) break;
            x -= (ScalarMath.Erf(x) - y) / d;
        }
        return x;
    }
}
