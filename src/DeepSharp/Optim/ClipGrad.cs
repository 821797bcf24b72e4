using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp.Optim;

/// <summary>
/// Gradient clipping, PyTorch's <c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c>. Both modify
/// the <see cref="Tensor.Grad"/> of each parameter in place; parameters without a gradient are skipped.
/// </summary>
public static class ClipGrad
{
    /// <summary>
    /// Rescales gradients so that their combined norm is at most <paramref name="maxNorm"/>: the total norm is the
    /// <paramref name="normType"/>-norm of the per-parameter norms (as if all gradients were one vector); when it
    /// exceeds the limit every gradient is multiplied by maxNorm/(total + 1e-6), as PyTorch.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients to clip.</param>
    /// <param name="maxNorm">The largest allowed norm.</param>
    /// <param name="normType">The p of the p-norm; <see cref="double.PositiveInfinity"/> for the max-abs norm.</param>
    /// <param name="errorIfNonfinite">Throw when the total norm is NaN or infinite (the gradients are then left unchanged).</param>
    /// <returns>The total norm of the gradients before clipping.</returns>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2.0, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(normType > 0)) throw new ArgumentException($"ClipGradNorm: normType must be positive (or infinity), got {normType}.");
        var grads = parameters.Select(p => p.Grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0.0;
        double total;
        if (double.IsPositiveInfinity(normType))
        {
            total = 0;
            foreach (var g in grads) total = Math.Max(total, Norm(g, normType));
            foreach (var g in grads) if (double.IsNaN(Norm(g, normType))) total = double.NaN;
        }
        else
        {
            double acc = 0;
            foreach (var g in grads) acc += Math.Pow(Norm(g, normType), normType);
            total = Math.Pow(acc, 1 / normType);
        }
        if (errorIfNonfinite && !double.IsFinite(total))
            throw new InvalidOperationException($"ClipGradNorm: the total norm of order {normType} for gradients is non-finite ({total}), so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set errorIfNonfinite: false.");
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1 || double.IsNaN(coef))
        {
            using var _ = GradMode.Set(false);
            foreach (var g in grads) Scale(g, coef);
        }
        return total;
    }

    /// <summary>Clamps every gradient element to [−clipValue, clipValue] in place (<c>clip_grad_value_</c>).</summary>
    /// <param name="parameters">The parameters whose gradients to clip.</param>
    /// <param name="clipValue">The largest allowed magnitude (non-negative).</param>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0)) throw new ArgumentException($"ClipGradValue: clipValue must be non-negative, got {clipValue}.");
        using var _ = GradMode.Set(false);
        foreach (var p in parameters)
        {
            var g = p.Grad;
            if (g is null) continue;
            if (g._isContiguous && g.DType.IsFloatingPoint()) { Tensor.DispatchFloat(g.DType, "ClipGradValue", new ClampGrad(g, clipValue)); g.BumpVersion(); }
            else g.Clamp_(-clipValue, clipValue);
        }
    }

    /// <summary>The p-norm of one gradient, accumulated in double.</summary>
    private static double Norm(Tensor g, double p) =>
        Tensor.DispatchFloat<GradNorm, double>(g.DType, "ClipGradNorm", new GradNorm(g._isContiguous ? g : g.Contiguous(), p));

    private static void Scale(Tensor g, double coef)
    {
        if (g._isContiguous && g.DType.IsFloatingPoint()) { Tensor.DispatchFloat(g.DType, "ClipGradNorm", new ScaleGrad(g, coef)); g.BumpVersion(); }
        else g.Mul_(coef);
    }

    private readonly record struct GradNorm(Tensor G, double P) : IFloatFunc<double>
    {
        public double Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ClipGradKernels.Norm(G.ReadSpan<T>(), P);
    }

    private readonly record struct ClampGrad(Tensor G, double ClipValue) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ClipGradKernels.Clamp(G.Span<T>(), T.CreateTruncating(ClipValue));
    }

    private readonly record struct ScaleGrad(Tensor G, double Coef) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ClipGradKernels.Scale(G.Span<T>(), T.CreateTruncating(Coef));
    }
}
