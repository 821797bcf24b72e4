using DeepSharp.Kernels;
using System.Numerics;

namespace DeepSharp.Optim;

/// <summary>
/// RMSprop (PyTorch's <c>torch.optim.RMSprop</c>). Per step, with g the gradient (negated when <c>maximize</c>):
/// g ← g + λθ; v ← αv + (1−α)g²; centered: ḡ ← αḡ + (1−α)g and ṽ ← v − ḡ², else ṽ ← v; with momentum μ:
/// b ← μb + g/(√ṽ + ε), θ ← θ − γb; else θ ← θ − γ·g/(√ṽ + ε).
/// State: <c>square_avg</c>, <c>grad_avg</c> (centered), <c>momentum_buffer</c> (momentum).
/// </summary>
public sealed class RMSprop : Optimizer
{
    /// <summary>RMSprop over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate γ.</param>
    /// <param name="alpha">Smoothing constant α.</param>
    /// <param name="eps">Term added to the denominator for numerical stability.</param>
    /// <param name="weightDecay">L2 penalty λ added to the gradient.</param>
    /// <param name="momentum">Momentum factor μ.</param>
    /// <param name="centered">Normalise by an estimate of the gradient's variance instead of its second moment.</param>
    /// <param name="maximize">Maximise the objective instead of minimising it.</param>
    public RMSprop(IEnumerable<Tensor> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8,
        double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, alpha, eps, weightDecay, momentum, centered, maximize)) { }

    /// <summary>RMSprop over parameter groups; options a group does not set take these defaults.</summary>
    /// <inheritdoc cref="RMSprop(IEnumerable{Tensor}, double, double, double, double, double, bool, bool)"/>
    public RMSprop(IEnumerable<ParamGroup> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8,
        double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, alpha, eps, weightDecay, momentum, centered, maximize)) { }

    private static Dictionary<string, double> MakeDefaults(double lr, double alpha, double eps, double weightDecay, double momentum, bool centered, bool maximize) => new()
    {
        ["lr"] = lr, ["alpha"] = alpha, ["eps"] = eps, ["weight_decay"] = weightDecay, ["momentum"] = momentum,
        ["centered"] = centered ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
    };

    /// <inheritdoc/>
    protected override void Validate(ParamGroup group)
    {
        foreach (var key in new[] { "lr", "alpha", "eps", "weight_decay", "momentum" }) CheckNonNegative(group, key);
    }

    /// <inheritdoc/>
    protected override void Update<T>(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        double momentum = group["momentum"];
        bool centered = group.Flag("centered");
        var sq = state.Buffer("square_avg", param);
        Span<T> gAvg = centered ? state.Buffer("grad_avg", param).Span<T>() : default;
        Span<T> buf = momentum > 0 ? state.Buffer("momentum_buffer", param).Span<T>() : default;
        OptimizerKernels.RmsProp(param.Span<T>(), grad.ReadSpan<T>(), sq.Span<T>(), gAvg, buf, T.CreateTruncating(group.Lr),
            T.CreateTruncating(group["alpha"]), T.CreateTruncating(group["eps"]), T.CreateTruncating(group.WeightDecay),
            T.CreateTruncating(momentum), centered, group.Flag("maximize"));
    }
}
