namespace DeepSharp.NN;

/// <summary>KL divergence loss (<c>nn.KLDivLoss</c>); see <see cref="F.KlDiv"/>.</summary>
public sealed class KLDivLoss : Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">"none", "mean" (default, as PyTorch), "batchmean" or "sum".</param>
    /// <param name="logTarget">Whether targets are log-probabilities.</param>
    public KLDivLoss(string reduction = "mean", bool logTarget = false)
    {
        if (reduction is not ("none" or "mean" or "sum" or "batchmean"))
            throw new ArgumentException($"KLDivLoss: reduction must be \"none\", \"mean\", \"batchmean\" or \"sum\", got \"{reduction}\".");
        Reduction = reduction;
        LogTarget = logTarget;
    }

    /// <summary>"none", "mean", "batchmean" or "sum".</summary>
    public string Reduction { get; }

    /// <summary>Whether targets are log-probabilities.</summary>
    public bool LogTarget { get; }

    /// <summary>The divergence of log-probabilities <paramref name="input"/> from <paramref name="target"/>.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.KlDiv(input, target, Reduction, LogTarget);
}

/// <summary>Huber loss (<c>nn.HuberLoss</c>); see <see cref="F.HuberLoss"/>.</summary>
public sealed class HuberLoss : Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    /// <param name="delta">The quadratic-to-linear threshold δ (default 1).</param>
    public HuberLoss(string reduction = "mean", double delta = 1.0)
    {
        LossChecks.Reduction(reduction, "HuberLoss");
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), $"HuberLoss: delta must be positive, got {delta}.");
        Reduction = reduction;
        Delta = delta;
    }

    /// <summary>"none", "mean" or "sum".</summary>
    public string Reduction { get; }

    /// <summary>δ.</summary>
    public double Delta { get; }

    /// <summary>The Huber loss, reduced.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.HuberLoss(input, target, Reduction, Delta);
}
