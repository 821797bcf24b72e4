using DeepSharp.Kernels;
using System.Numerics;

namespace DeepSharp.Optim;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay
/// (PyTorch's <c>torch.optim.SGD</c>). Per step, with g the gradient (negated when <c>maximize</c>):
/// g ← g + λθ; with momentum μ: b ← g on the first step, else b ← μb + (1−τ)g, and g ← g + μb (Nesterov) or
/// g ← b; finally θ ← θ − γg. State: <c>momentum_buffer</c>.
/// </summary>
public sealed class SGD : Optimizer
{
    /// <summary>SGD over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate γ.</param>
    /// <param name="momentum">Momentum factor μ (0 disables momentum).</param>
    /// <param name="dampening">Dampening τ for momentum.</param>
    /// <param name="weightDecay">L2 penalty λ added to the gradient.</param>
    /// <param name="nesterov">Use Nesterov momentum (needs momentum &gt; 0 and zero dampening).</param>
    /// <param name="maximize">Maximise the objective instead of minimising it.</param>
    public SGD(IEnumerable<Tensor> parameters, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, momentum, dampening, weightDecay, nesterov, maximize)) { }

    /// <summary>SGD over parameter groups; options a group does not set take these defaults.</summary>
    /// <inheritdoc cref="SGD(IEnumerable{Tensor}, double, double, double, double, bool, bool)"/>
    public SGD(IEnumerable<ParamGroup> parameters, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, momentum, dampening, weightDecay, nesterov, maximize)) { }

    private static Dictionary<string, double> MakeDefaults(double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize) => new()
    {
        ["lr"] = lr, ["momentum"] = momentum, ["dampening"] = dampening, ["weight_decay"] = weightDecay,
        ["nesterov"] = nesterov ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
    };

    /// <inheritdoc/>
    protected override void Validate(ParamGroup group)
    {
        CheckNonNegative(group, "lr");
        CheckNonNegative(group, "momentum");
        CheckNonNegative(group, "weight_decay");
        if (group.Flag("nesterov") && (group["momentum"] <= 0 || group["dampening"] != 0))
            throw new ArgumentException("SGD: Nesterov momentum requires a momentum and zero dampening.");
    }

    /// <inheritdoc/>
    protected override void Update<T>(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        double momentum = group["momentum"];
        bool first = !state.Buffers.ContainsKey("momentum_buffer");
        Span<T> buf = momentum != 0 ? state.Buffer("momentum_buffer", param).Span<T>() : default;
        OptimizerKernels.Sgd(param.Span<T>(), grad.ReadSpan<T>(), buf, T.CreateTruncating(group.Lr), T.CreateTruncating(group.WeightDecay),
            T.CreateTruncating(momentum), T.CreateTruncating(group["dampening"]), group.Flag("nesterov"), group.Flag("maximize"), first);
    }
}
