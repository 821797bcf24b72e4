namespace DeepSharp.NN;

// KL divergence and Huber loss (torch.nn.functional.kl_div, huber_loss), as compositions of differentiable ops.
public static partial class F
{
    /// <summary>
    /// Kullback–Leibler divergence (<c>F.kl_div</c>) of log-probabilities <paramref name="input"/> from
    /// <paramref name="target"/> (probabilities, or log-probabilities with <paramref name="logTarget"/>): pointwise
    /// target·(log target − input), 0 where target = 0 (or exp(t)·(t − input) for log targets).
    /// </summary>
    /// <param name="input">Log-probabilities.</param>
    /// <param name="target">Probabilities (or log-probabilities), same shape and dtype as the input.</param>
    /// <param name="reduction">"none", "mean" (over all elements, PyTorch's default), "batchmean" (sum / input.Size(0),
    /// the mathematically correct KL) or "sum".</param>
    /// <param name="logTarget">Whether <paramref name="target"/> holds log-probabilities.</param>
    public static Tensor KlDiv(Tensor input, Tensor target, string reduction = "mean", bool logTarget = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (reduction is not ("none" or "mean" or "sum" or "batchmean"))
            throw new ArgumentException($"KlDiv: reduction must be \"none\", \"mean\", \"batchmean\" or \"sum\", got \"{reduction}\".");
        input.CheckFloating("KlDiv");
        if (!ShapeUtil.SameShape(input._shape, target._shape))
            throw new ArgumentException($"KlDiv: target shape {ShapeUtil.Format(target._shape)} must be the same as input shape {ShapeUtil.Format(input._shape)}.");
        Tensor.CheckSameDType(input, target, "KlDiv");
        Tensor loss;
        if (logTarget) loss = target.Exp() * (target - input);
        else
        {
            // xlogy: 0·log 0 = 0; the log only sees positive values so its gradient stays finite.
            var positive = target.Gt(0);
            var safeLog = Tensor.Where(positive, target, 1.0).Log();
            loss = Tensor.Where(positive, target * safeLog, 0.0) - target * input;
        }
        return reduction switch
        {
            "none" => loss,
            "sum" => loss.Sum(),
            "batchmean" => input.Dim == 0 ? loss.Sum() : loss.Sum() / input._shape[0],
            _ => loss.Mean(),
        };
    }

    /// <summary>
    /// Huber loss (<c>F.huber_loss</c>): 0.5·d² where |d| &lt; δ, δ·(|d| − 0.5·δ) elsewhere, d = input − target.
    /// (SmoothL1 with β = δ, multiplied by δ.)
    /// </summary>
    /// <param name="input">Predictions.</param>
    /// <param name="target">Targets, same shape and dtype.</param>
    /// <param name="reduction">"none", "mean" or "sum".</param>
    /// <param name="delta">δ, positive (default 1).</param>
    public static Tensor HuberLoss(Tensor input, Tensor target, string reduction = "mean", double delta = 1.0)
    {
        CheckPair(input, target, reduction, "HuberLoss");
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), $"HuberLoss: delta must be positive, got {delta}.");
        var d = input - target;
        var ad = d.Abs();
        return Reduce(Tensor.Where(ad.Lt(delta), d * d * 0.5, (ad - 0.5 * delta) * delta), reduction);
    }
}
