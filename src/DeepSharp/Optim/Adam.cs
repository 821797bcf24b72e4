using DeepSharp.Kernels;
using System.Numerics;

namespace DeepSharp.Optim;

/// <summary>
/// Adam (PyTorch's <c>torch.optim.Adam</c>). Per step t, with g the gradient (negated when <c>maximize</c>):
/// g ← g + λθ (L2 weight decay); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; m̂ ← m/(1−β1ᵗ);
/// v̂ ← v/(1−β2ᵗ) (AMSGrad: v̂ ← max(v̂max, v)/(1−β2ᵗ)); θ ← θ − γ·m̂/(√v̂ + ε).
/// State: <c>exp_avg</c>, <c>exp_avg_sq</c>, <c>max_exp_avg_sq</c> (AMSGrad) and the step count.
/// </summary>
public class Adam : Optimizer
{
    private readonly bool _decoupled;

    /// <summary>Adam over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate γ.</param>
    /// <param name="betas">Decay rates (β1, β2) of the moment estimates; (0.9, 0.999) when null.</param>
    /// <param name="eps">Term added to the denominator for numerical stability.</param>
    /// <param name="weightDecay">L2 penalty λ added to the gradient.</param>
    /// <param name="amsgrad">Use the AMSGrad variant (maximum of past squared-gradient averages).</param>
    /// <param name="maximize">Maximise the objective instead of minimising it.</param>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: false) { }

    /// <summary>Adam over parameter groups; options a group does not set take these defaults.</summary>
    /// <inheritdoc cref="Adam(IEnumerable{Tensor}, double, ValueTuple{double, double}?, double, double, bool, bool)"/>
    public Adam(IEnumerable<ParamGroup> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: false) { }

    private protected Adam(IEnumerable<Tensor> parameters, double lr, (double, double)? betas, double eps, double weightDecay, bool amsgrad, bool maximize, bool decoupled)
        : base(parameters, MakeDefaults(lr, betas, eps, weightDecay, amsgrad, maximize)) => _decoupled = decoupled;

    private protected Adam(IEnumerable<ParamGroup> parameters, double lr, (double, double)? betas, double eps, double weightDecay, bool amsgrad, bool maximize, bool decoupled)
        : base(parameters, MakeDefaults(lr, betas, eps, weightDecay, amsgrad, maximize)) => _decoupled = decoupled;

    private static Dictionary<string, double> MakeDefaults(double lr, (double B1, double B2)? betas, double eps, double weightDecay, bool amsgrad, bool maximize)
    {
        var (b1, b2) = betas ?? (0.9, 0.999);
        return new()
        {
            ["lr"] = lr, ["beta1"] = b1, ["beta2"] = b2, ["eps"] = eps, ["weight_decay"] = weightDecay,
            ["amsgrad"] = amsgrad ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
        };
    }

    /// <inheritdoc/>
    protected override void Validate(ParamGroup group)
    {
        CheckNonNegative(group, "lr");
        CheckNonNegative(group, "eps");
        CheckNonNegative(group, "weight_decay");
        foreach (var key in new[] { "beta1", "beta2" })
            if (!(group[key] >= 0 && group[key] < 1))
                throw new ArgumentException($"{GetType().Name}: invalid {key} value: {group[key]} (must be in [0, 1)).");
    }

    /// <inheritdoc/>
    protected override void Update<T>(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        double lr = group.Lr, wd = group.WeightDecay, beta1 = group["beta1"], beta2 = group["beta2"];
        bool amsgrad = group.Flag("amsgrad");
        var m = state.Buffer("exp_avg", param);
        var v = state.Buffer("exp_avg_sq", param);
        Span<T> vmax = amsgrad ? state.Buffer("max_exp_avg_sq", param).Span<T>() : default;
        double bc1 = 1 - Math.Pow(beta1, state.Step);
        double bc2 = 1 - Math.Pow(beta2, state.Step);
        double stepSize = lr / bc1;
        OptimizerKernels.Adam(param.Span<T>(), grad.ReadSpan<T>(), m.Span<T>(), v.Span<T>(), vmax, amsgrad,
            l2: T.CreateTruncating(_decoupled ? 0 : wd),
            decay: T.CreateTruncating(_decoupled ? 1 - lr * wd : 1),
            oneMinusBeta1: T.CreateTruncating(1 - beta1), beta2: T.CreateTruncating(beta2), oneMinusBeta2: T.CreateTruncating(1 - beta2),
            negStepSize: T.CreateTruncating(-stepSize), bc2Sqrt: T.CreateTruncating(Math.Sqrt(bc2)), eps: T.CreateTruncating(group["eps"]),
            maximize: group.Flag("maximize"));
    }
}

/// <summary>
/// AdamW: Adam with decoupled weight decay (PyTorch's <c>torch.optim.AdamW</c>). Each step first shrinks the
/// parameter, θ ← θ·(1 − γλ), then applies the Adam update without adding λθ to the gradient.
/// The default weight decay is 0.01, as PyTorch.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>AdamW over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate γ.</param>
    /// <param name="betas">Decay rates (β1, β2) of the moment estimates; (0.9, 0.999) when null.</param>
    /// <param name="eps">Term added to the denominator for numerical stability.</param>
    /// <param name="weightDecay">Decoupled weight decay λ.</param>
    /// <param name="amsgrad">Use the AMSGrad variant.</param>
    /// <param name="maximize">Maximise the objective instead of minimising it.</param>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: true) { }

    /// <summary>AdamW over parameter groups; options a group does not set take these defaults.</summary>
    /// <inheritdoc cref="AdamW(IEnumerable{Tensor}, double, ValueTuple{double, double}?, double, double, bool, bool)"/>
    public AdamW(IEnumerable<ParamGroup> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: true) { }
}
