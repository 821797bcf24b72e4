using DeepSharp.Kernels;

namespace DeepSharp;

// Element-wise math functions and their derivatives.
public sealed partial class Tensor
{
    /// <summary>eˣ.</summary>
    public Tensor Exp()
    {
        var result = UnaryForward<ExpOp>(this, "Exp");
        return Node.Record(result, "ExpBackward", [this], g => [g * result], result);
    }

    /// <summary>Natural logarithm.</summary>
    public Tensor Log()
    {
        var x = this;
        return Node.Record(UnaryForward<LogOp>(x, "Log"), "LogBackward", [x], g => [g / x], x);
    }

    /// <summary>Square root.</summary>
    public Tensor Sqrt()
    {
        var result = UnaryForward<SqrtOp>(this, "Sqrt");
        return Node.Record(result, "SqrtBackward", [this], g => [g * 0.5 / result], result);
    }

    /// <summary>1/√x.</summary>
    public Tensor Rsqrt()
    {
        var result = UnaryForward<ReciprocalOp>(UnaryForward<SqrtOp>(this, "Rsqrt"), "Rsqrt");
        return Node.Record(result, "RsqrtBackward", [this], g => [g * -0.5 * result * result * result], result);
    }

    /// <summary>Absolute value (the gradient at 0 is 0, as PyTorch).</summary>
    public Tensor Abs()
    {
        var x = this;
        return Node.Record(UnaryForward<AbsOp>(x, "Abs"), "AbsBackward", [x], g => [g * x.Sign()], x);
    }

    /// <summary>−1, 0 or 1 by sign (not differentiable: zero gradient).</summary>
    public Tensor Sign()
    {
        var result = UnaryForward<SignOp>(this, "Sign");
        return Node.Record(result, "SignBackward", [this], g => [ZerosLike(g)]);
    }

    /// <summary>Square, x².</summary>
    public Tensor Square() => Pow(2);

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh()
    {
        var result = UnaryForward<TanhOp>(this, "Tanh");
        return Node.Record(result, "TanhBackward", [this], g => [g * (1.0 - result * result)], result);
    }

    /// <summary>Logistic sigmoid 1/(1+e⁻ˣ).</summary>
    public Tensor Sigmoid()
    {
        var result = UnaryForward<SigmoidOp>(this, "Sigmoid");
        return Node.Record(result, "SigmoidBackward", [this], g => [g * result * (1.0 - result)], result);
    }

    /// <summary>Sine.</summary>
    public Tensor Sin()
    {
        var x = this;
        return Node.Record(MapForward(x, "Sin", Math.Sin), "SinBackward", [x], g => [g * x.Cos()], x);
    }

    /// <summary>Cosine.</summary>
    public Tensor Cos()
    {
        var x = this;
        return Node.Record(MapForward(x, "Cos", Math.Cos), "CosBackward", [x], g => [-g * x.Sin()], x);
    }

    /// <summary>The Gauss error function.</summary>
    public Tensor Erf()
    {
        var x = this;
        // d/dx erf(x) = 2/√π · e^(−x²)
        return Node.Record(MapForward(x, "Erf", ScalarMath.Erf), "ErfBackward", [x],
            g => [g * (x * x * -1.0).Exp() * (2.0 / Math.Sqrt(Math.PI))], x);
    }

    /// <summary>Clamps every element to [min, max] (either bound may be null). The gradient is passed where
    /// the input lies within the bounds, as PyTorch.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("Clamp: at least one of min and max must be given.");
        if (min > max) throw new ArgumentException($"Clamp: min ({min}) must not exceed max ({max}).");
        var x = this;
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var result = MapForward(x, "Clamp", v => double.IsNaN(v) ? v : Math.Min(Math.Max(v, lo), hi));
        return Node.Record(result, "ClampBackward", [x], g =>
        {
            var inside = (min is null ? OnesLike(x, DType.Bool) : x.Ge(lo)).LogicalAnd(max is null ? OnesLike(x, DType.Bool) : x.Le(hi));
            return [g * inside.To(g.DType)];
        }, x);
    }
}
