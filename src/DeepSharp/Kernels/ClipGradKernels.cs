using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>The loops of gradient clipping (<c>ClipGrad</c>): a p-norm accumulated in double, a clamp and a scale in place.</summary>
internal static class ClipGradKernels
{
    /// <summary>The <paramref name="p"/>-norm of <paramref name="s"/> (∞: max |x|, NaN if any is NaN), accumulated in double.</summary>
    public static double Norm<T>(ReadOnlySpan<T> s, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (double.IsPositiveInfinity(p))
        {
            double max = 0;
            foreach (var v in s)
            {
                double a = Math.Abs(double.CreateTruncating(v));
                if (double.IsNaN(a)) return double.NaN;
                if (a > max) max = a;
            }
            return max;
        }
        double acc = 0;
        if (p == 2)
            foreach (var v in s) { double d = double.CreateTruncating(v); acc += d * d; }
        else if (p == 1)
            foreach (var v in s) acc += Math.Abs(double.CreateTruncating(v));
        else
            foreach (var v in s) acc += Math.Pow(Math.Abs(double.CreateTruncating(v)), p);
        return p == 1 ? acc : Math.Pow(acc, 1 / p);
    }

    /// <summary>x = clamp(x, −c, c) in place.</summary>
    public static void Clamp<T>(Span<T> x, T c) where T : unmanaged, IFloatingPointIeee754<T> =>
        TensorPrimitives.Clamp(x, -c, c, x);

    /// <summary>x = coef·x in place.</summary>
    public static void Scale<T>(Span<T> x, T coef) where T : unmanaged, IFloatingPointIeee754<T> =>
        TensorPrimitives.Multiply(x, coef, x);
}
