namespace DeepSharp;

// Softplus and log-sigmoid, computed without overflow. Needed by the numerically stable binary
// cross-entropy with logits: a composition through Abs/Relu would give a wrong gradient at exactly 0.
public sealed partial class Tensor
{
    /// <summary>
    /// log(1 + exp(β·x)) / β, element-wise (<c>torch.nn.functional.softplus</c>). Where β·x exceeds
    /// <paramref name="threshold"/> the result is x itself, as PyTorch. The gradient is σ(β·x) (differentiable again).
    /// </summary>
    public Tensor Softplus(double beta = 1, double threshold = 20)
    {
        if (!(beta > 0)) throw new ArgumentOutOfRangeException(nameof(beta), $"Softplus: beta must be positive, got {beta}.");
        var x = this;
        var result = MapForward(x, "Softplus", v =>
        {
            double z = beta * v;
            if (z > threshold) return v;
            // log(1 + e^z) = max(z, 0) + log1p(e^−|z|), exact for every z.
            return (Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)))) / beta;
        });
        return Node.Record(result, "SoftplusBackward", [x], g =>
        {
            var z = x * beta;
            var below = z.Le(threshold).To(g.DType);
            // Above the threshold the forward is the identity, so the gradient is 1 there.
            return [g * (z.Sigmoid() * below + (1.0 - below))];
        }, x);
    }

    /// <summary>log σ(x) = −softplus(−x), element-wise and stable for large |x| (<c>logsigmoid</c>).</summary>
    public Tensor LogSigmoid() => -(-this).Softplus(1, double.PositiveInfinity);
}
