using DeepSharp.Kernels;

namespace DeepSharp;

// + − × ÷, negation and powers, with broadcasting. Backward formulas sit beside each forward; gradients
// in the broadcast shape are summed back to each input's shape by the engine.
public sealed partial class Tensor
{
    /// <summary>Element-wise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) =>
        Node.Record(BinaryForward<AddOp>(a, b, "Add"), "AddBackward", [a, b], g => [g, g]);

    /// <summary>Element-wise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) =>
        Node.Record(BinaryForward<SubOp>(a, b, "Sub"), "SubBackward", [a, b], g => [g, -g]);

    /// <summary>Element-wise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) =>
        Node.Record(BinaryForward<MulOp>(a, b, "Mul"), "MulBackward", [a, b],
            g => [a.RequiresGrad ? g * b : null, b.RequiresGrad ? g * a : null], a, b);

    /// <summary>Element-wise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) =>
        Node.Record(BinaryForward<DivOp>(a, b, "Div"), "DivBackward", [a, b],
            g => [a.RequiresGrad ? g / b : null, b.RequiresGrad ? -g * a / (b * b) : null], a, b);

    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.DType == DType.Int64 ? 0L - a :
        Node.Record(UnaryForward<NegOp>(a, "Neg"), "NegBackward", [a], g => [-g]);

    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double s) =>
        Node.Record(ScalarForward<AddOp>(a, s, false, "Add"), "AddBackward", [a], g => [g]);

    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double s, Tensor a) => a + s;

    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double s) =>
        Node.Record(ScalarForward<SubOp>(a, s, false, "Sub"), "SubBackward", [a], g => [g]);

    /// <summary>Subtracts from a scalar.</summary>
    public static Tensor operator -(double s, Tensor a) =>
        Node.Record(ScalarForward<SubOp>(a, s, true, "Sub"), "RsubBackward", [a], g => [-g]);

    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, double s) =>
        Node.Record(ScalarForward<MulOp>(a, s, false, "Mul"), "MulBackward", [a], g => [g * s]);

    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(double s, Tensor a) => a * s;

    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double s) =>
        Node.Record(ScalarForward<DivOp>(a, s, false, "Div"), "DivBackward", [a], g => [g / s]);

    /// <summary>Divides a scalar by each element.</summary>
    public static Tensor operator /(double s, Tensor a)
    {
        var result = ScalarForward<DivOp>(a, s, true, "Div");
        return Node.Record(result, "DivBackward", [a], g => [-g * result / a], a, result);
    }

    /// <summary>Method forms for porting (<c>add</c>, <c>sub</c>, <c>mul</c>, <c>div</c>).</summary>
    public Tensor Add(Tensor other) => this + other;
    /// <inheritdoc cref="Add(Tensor)"/>
    public Tensor Add(Tensor other, double alpha) => alpha == 1 ? this + other : this + other * alpha;
    /// <inheritdoc cref="Add(Tensor)"/>
    public Tensor Sub(Tensor other) => this - other;
    /// <inheritdoc cref="Add(Tensor)"/>
    public Tensor Mul(Tensor other) => this * other;
    /// <inheritdoc cref="Add(Tensor)"/>
    public Tensor Div(Tensor other) => this / other;
    /// <summary>Negation (<c>neg</c>).</summary>
    public Tensor Neg() => -this;

    /// <summary>Raises each element to a scalar power.</summary>
    public Tensor Pow(double exponent)
    {
        var result = ScalarForward<PowOp>(this, exponent, false, "Pow");
        var x = this;
        return Node.Record(result, "PowBackward", [x],
            g => [exponent == 0 ? ZerosLike(g) : exponent == 2 ? g * x * 2.0 : g * exponent * x.Pow(exponent - 1)], x);
    }

    /// <summary>Raises each element to the power of the matching element of <paramref name="exponent"/> (broadcast).</summary>
    public Tensor Pow(Tensor exponent)
    {
        var x = this;
        var result = BinaryForward<PowOp>(x, exponent, "Pow");
        return Node.Record(result, "PowBackward", [x, exponent], g =>
        [
            x.RequiresGrad ? g * exponent * x.Pow(exponent - 1.0) : null,
            exponent.RequiresGrad ? g * result * x.Log() : null,
        ], x, exponent, result);
    }

    /// <summary>Raises a scalar base to each element's power.</summary>
    public static Tensor Pow(double baseValue, Tensor exponent)
    {
        var result = ScalarForward<PowOp>(exponent, baseValue, true, "Pow");
        return Node.Record(result, "PowBackward", [exponent], g => [g * result * Math.Log(baseValue)], result);
    }

    /// <summary>Element-wise maximum of two tensors (broadcast); the gradient goes to the larger input (split on ties).</summary>
    public static Tensor Maximum(Tensor a, Tensor b)
    {
        var result = BinaryForward<MaximumOp>(a, b, "Maximum");
        return Node.Record(result, "MaximumBackward", [a, b], g =>
        {
            var aWins = a.Gt(b).To(g.DType) + a.Eq(b).To(g.DType) * 0.5;
            return [g * aWins, g * (1.0 - aWins)];
        }, a, b);
    }

    /// <summary>Element-wise minimum of two tensors (broadcast).</summary>
    public static Tensor Minimum(Tensor a, Tensor b)
    {
        var result = BinaryForward<MinimumOp>(a, b, "Minimum");
        return Node.Record(result, "MinimumBackward", [a, b], g =>
        {
            var aWins = a.Lt(b).To(g.DType) + a.Eq(b).To(g.DType) * 0.5;
            return [g * aWins, g * (1.0 - aWins)];
        }, a, b);
    }
}
