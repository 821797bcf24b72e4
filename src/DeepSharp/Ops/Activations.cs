using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Activation functions (torch.nn.functional): ReLU, LeakyReLU, GELU.
public sealed partial class Tensor
{
    /// <summary>max(x, 0). The gradient at exactly 0 is 0, as PyTorch.</summary>
    public Tensor Relu()
    {
        var result = UnaryForward<ReluOp>(this, "Relu");
        return Node.Record(result, "ReluBackward", [this], g => [ReluBackward(result, g)], result);
    }

    // dx = y > 0 ? dy : 0 in one pass; with createGraph, the composite form so the backward is differentiable.
    private static Tensor ReluBackward(Tensor y, Tensor g)
    {
        if (GradMode.IsEnabled || g.DType != y.DType) return g * y.StepMask(0);
        var dy = g.Contiguous();
        var yc = y.Contiguous();
        var dx = Empty(y._shape, y.DType, zeroed: false);
        if (y.DType == DType.Float32) ElementwiseParallel.Run(yc.ReadSpan<float>(), dy.ReadSpan<float>(), dx.Span<float>(), ActivationKernels.ReluBackward);
        else ElementwiseParallel.Run(yc.ReadSpan<double>(), dy.ReadSpan<double>(), dx.Span<double>(), ActivationKernels.ReluBackward);
        return dx;
    }

    /// <summary>x for x &gt; 0, slope·x otherwise.</summary>
    public Tensor LeakyRelu(double negativeSlope = 0.01)
    {
        var x = this;
        var result = MapForward(x, "LeakyRelu", v => v > 0 ? v : v * negativeSlope);
        Tracing.Current?.Record("LeakyRelu", result, [x], negativeSlope);
        return Node.Record(result, "LeakyReluBackward", [x], g =>
        {
            var positive = x.Gt(0).To(g.DType);
            return [g * (positive + (1.0 - positive) * negativeSlope)];
        }, x);
    }

    /// <summary>
    /// GELU, x·Φ(x). <paramref name="approximate"/> "none" uses the exact erf form, "tanh" PyTorch's
    /// tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    /// </summary>
    public Tensor Gelu(string approximate = "none")
    {
        switch (approximate)
        {
            case "none":
                return this * 0.5 * (1.0 + (this * (1.0 / Math.Sqrt(2.0))).Erf());
            case "tanh":
                var inner = (this + this.Pow(3) * 0.044715) * Math.Sqrt(2.0 / Math.PI);
                return this * 0.5 * (1.0 + inner.Tanh());
            default:
                throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\".");
        }
    }

    /// <summary>SiLU / swish, x·σ(x).</summary>
    public Tensor Silu() => this * Sigmoid();
}
