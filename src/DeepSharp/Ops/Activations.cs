using DeepSharp.Kernels;

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
        return Node.Record(result, "LeakyReluBackward", [x], g =>
        {
            var positive = x.Gt(0).To(g.DType);
            return [g * (positive + (1.0 - positive) * negativeSlope)];
        }, x);
    }

    /// <summary>
    /// GELU, x·Φ(x). <paramref name="approximate"/> "none" uses the exact erf form, "tanh" PyTorch's
    /// tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). One fused pass forward and one backward
    /// (vectorised erf / tanh); a recorded backward (higher-order gradients) uses the derivative's composite form.
    /// </summary>
    public Tensor Gelu(string approximate = "none")
    {
        bool tanh = approximate switch
        {
            "none" => false,
            "tanh" => true,
            _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\"."),
        };
        var x = this;
        var y = tanh ? MapKernel(x, "Gelu", VectorMath.GeluTanh, VectorMath.GeluTanh) : MapKernel(x, "Gelu", VectorMath.GeluErf, VectorMath.GeluErf);
        return Node.Record(y, "GeluBackward", [x], g =>
        {
            if (GradMode.IsEnabled || g.DType != x.DType) return [g * GeluDerivative(x, tanh)];
            return [tanh ? ZipKernel(x, g, VectorMath.GeluTanhBackward, VectorMath.GeluTanhBackward)
                         : ZipKernel(x, g, VectorMath.GeluErfBackward, VectorMath.GeluErfBackward)];
        }, x);
    }

    /// <summary>dGELU/dx as differentiable ops: Φ(x) + x·φ(x), or the tanh form's derivative.</summary>
    private static Tensor GeluDerivative(Tensor x, bool tanh)
    {
        if (!tanh)
            return 0.5 * (1.0 + (x * VectorMath.InvSqrt2).Erf()) + x * (x * x * -0.5).Exp() * VectorMath.InvSqrt2Pi;
        var t = ((x + x.Pow(3) * VectorMath.GeluTanhCoeff) * VectorMath.SqrtTwoOverPi).Tanh();
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * VectorMath.SqrtTwoOverPi * (1.0 + 3 * VectorMath.GeluTanhCoeff * x * x);
    }

    /// <summary>SiLU / swish, x·σ(x), in one fused pass forward and backward (dx = dy·σ(x)·(1 + x·(1 − σ(x)))).</summary>
    public Tensor Silu()
    {
        var x = this;
        var y = MapKernel(x, "Silu", VectorMath.Silu, VectorMath.Silu);
        return Node.Record(y, "SiluBackward", [x], g =>
        {
            if (GradMode.IsEnabled || g.DType != x.DType)
            {
                var sg = x.Sigmoid();
                return [g * sg * (1.0 + x * (1.0 - sg))];
            }
            return [ZipKernel(x, g, VectorMath.SiluBackward, VectorMath.SiluBackward)];
        }, x);
    }

    /// <summary>y = f(x) element-wise through a span kernel, split over threads for long tensors.</summary>
    private static Tensor MapKernel(Tensor x, string op, SpanMap<float> f32, SpanMap<double> f64)
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var y = Empty(x._shape, x.DType, zeroed: false);
        if (x.DType == DType.Float32) ElementwiseParallel.Run(src.ReadSpan<float>(), y.Span<float>(), (a, d) => f32(a, d));
        else ElementwiseParallel.Run(src.ReadSpan<double>(), y.Span<double>(), (a, d) => f64(a, d));
        return y;
    }

    /// <summary>d = f(x, g) element-wise through a span kernel (backward of a fused activation).</summary>
    private static Tensor ZipKernel(Tensor x, Tensor g, SpanZip<float> f32, SpanZip<double> f64)
    {
        var xc = x.Contiguous();
        var gc = g.Contiguous();
        var dx = Empty(x._shape, x.DType, zeroed: false);
        if (x.DType == DType.Float32) ElementwiseParallel.Run(xc.ReadSpan<float>(), gc.ReadSpan<float>(), dx.Span<float>(), (a, b, d) => f32(a, b, d));
        else ElementwiseParallel.Run(xc.ReadSpan<double>(), gc.ReadSpan<double>(), dx.Span<double>(), (a, b, d) => f64(a, b, d));
        return dx;
    }

    private delegate void SpanMap<T>(ReadOnlySpan<T> x, Span<T> y);

    private delegate void SpanZip<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> d);
}
