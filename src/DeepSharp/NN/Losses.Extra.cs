namespace DeepSharp.NN;

/// <summary>KL divergence loss (<c>nn.KLDivLoss</c>); see <see cref="F.KlDiv"/>.</summary>
public sealed class KLDivLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">"none", "mean" (default, as PyTorch), "batchmean" or "sum".</param>
    /// <param name="logTarget">Whether targets are log-probabilities.</param>
    public KLDivLoss(string reduction = "mean", bool logTarget = false) : base(reduction, "KLDivLoss", allowBatchMean: true) =>
        LogTarget = logTarget;

    /// <summary>Whether targets are log-probabilities.</summary>
    public bool LogTarget { get; }

    /// <summary>The divergence of log-probabilities <paramref name="input"/> from <paramref name="target"/>.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.KlDiv(input, target, Reduction, LogTarget);
}

/// <summary>Huber loss (<c>nn.HuberLoss</c>); see <see cref="F.HuberLoss"/>.</summary>
public sealed class HuberLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    /// <param name="delta">The quadratic-to-linear threshold δ (default 1).</param>
    public HuberLoss(string reduction = "mean", double delta = 1.0) : base(reduction, "HuberLoss")
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), $"HuberLoss: delta must be positive, got {delta}.");
        Delta = delta;
    }

    /// <summary>δ.</summary>
    public double Delta { get; }

    /// <summary>The Huber loss, reduced.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.HuberLoss(input, target, Reduction, Delta);
}
