using System.Numerics;
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
        DispatchFloat(y.DType, "Relu", new ReluBackwardCore(yc, dy, dx));
        return dx;
    }

    private readonly record struct ReluBackwardCore(Tensor Y, Tensor Dy, Tensor Dx) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ElementwiseParallel.Run(Y.ReadSpan<T>(), Dy.ReadSpan<T>(), Dx.Span<T>(), ActivationKernels.ReluBackward);
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
        var y = tanh ? FusedForward<GeluTanhActivation>(x, "Gelu") : FusedForward<GeluErfActivation>(x, "Gelu");
        Tracing.Current?.Record("Gelu", y, [x], tanh);
        return Node.Record(y, "GeluBackward", [x], g =>
        {
            if (GradMode.IsEnabled || g.DType != x.DType) return [g * GeluDerivative(x, tanh)];
            return [tanh ? FusedBackward<GeluTanhActivation>(x, g) : FusedBackward<GeluErfActivation>(x, g)];
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
        var y = FusedForward<SiluActivation>(x, "Silu");
        Tracing.Current?.Record("Silu", y, [x]);
        return Node.Record(y, "SiluBackward", [x], g =>
        {
            if (GradMode.IsEnabled || g.DType != x.DType)
            {
                var sg = x.Sigmoid();
                return [g * sg * (1.0 + x * (1.0 - sg))];
            }
            return [FusedBackward<SiluActivation>(x, g)];
        }, x);
    }

    /// <summary>y = f(x) through a fused activation kernel, split over threads for long tensors.</summary>
    private static Tensor FusedForward<TAct>(Tensor x, string op) where TAct : struct, IFusedActivation
    {
        x.CheckFloating(op);
        var src = x.Contiguous();
        var y = Empty(x._shape, x.DType, zeroed: false);
        DispatchFloat(x.DType, op, new FusedActivationForward<TAct>(src, y));
        return y;
    }

    /// <summary>dx = dy·f'(x) through a fused activation kernel (the backward of <see cref="FusedForward{TAct}"/>).</summary>
    private static Tensor FusedBackward<TAct>(Tensor x, Tensor g) where TAct : struct, IFusedActivation
    {
        var xc = x.Contiguous();
        var gc = g.Contiguous();
        var dx = Empty(x._shape, x.DType, zeroed: false);
        DispatchFloat(x.DType, "backward", new FusedActivationBackward<TAct>(xc, gc, dx));
        return dx;
    }

    private readonly record struct FusedActivationForward<TAct>(Tensor X, Tensor Y) : IFloatFunc where TAct : struct, IFusedActivation
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ElementwiseParallel.Run(X.ReadSpan<T>(), Y.Span<T>(), static (a, d) => TAct.Forward(a, d));
    }

    private readonly record struct FusedActivationBackward<TAct>(Tensor X, Tensor G, Tensor Dx) : IFloatFunc where TAct : struct, IFusedActivation
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ElementwiseParallel.Run(X.ReadSpan<T>(), G.ReadSpan<T>(), Dx.Span<T>(), static (a, b, d) => TAct.Backward(a, b, d));
    }
}
