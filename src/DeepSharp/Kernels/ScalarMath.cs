namespace DeepSharp.Kernels;

// TEMPORARY: replaced by the fused-kernels branch.
internal static class ScalarMath
{
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            double sum = x, term = x, x2 = x * x;
            for (int n = 1; n < 100; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        if (ax > 6) return Math.Sign(x);
        // erfc by continued fraction (Lentz)
        double f = ax, c = ax, d = 0, tiny = 1e-300;
        for (int k = 1; k < 200; k++)
        {
            double a = k / 2.0;
            d = ax + a * d; d = Math.Abs(d) < tiny ? tiny : d; d = 1 / d;
            c = ax + a / c; c = Math.Abs(c) < tiny ? tiny : c;
            double delta = c * d; f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
