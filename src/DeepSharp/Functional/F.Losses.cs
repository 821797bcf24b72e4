using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Loss functions (torch.nn.functional *_loss), as compositions of differentiable ops. `reduction` is
// "none", "mean" or "sum", as PyTorch.
public static partial class F
{
    /// <summary>
    /// Cross-entropy between logits and targets (<c>F.cross_entropy</c>), i.e. <see cref="NllLoss"/> of
    /// <see cref="Tensor.LogSoftmax"/> along the class dim. <paramref name="input"/> is [N, C] or [N, C, d1, …] (or [C]
    /// unbatched). <paramref name="target"/> is either Int64 class indices of shape [N] / [N, d1, …] (entries equal to
    /// <paramref name="ignoreIndex"/> contribute nothing), or floating class probabilities of the input's shape.
    /// </summary>
    /// <param name="input">Unnormalised logits, classes in dim 1.</param>
    /// <param name="target">Class indices (Int64) or class probabilities (same shape and dtype as input).</param>
    /// <param name="weight">Optional per-class weights [C].</param>
    /// <param name="ignoreIndex">Index targets with this value are ignored (not allowed with probability targets).</param>
    /// <param name="reduction">"none", "mean" or "sum". With index targets and weights, "mean" divides by the sum of the
    /// weights of the non-ignored targets; with probability targets by the number of samples N·d1·…, as PyTorch.</param>
    /// <param name="labelSmoothing">ε in [0, 1]: the target becomes (1 − ε)·target + ε/C. With index targets the loss is
    /// (1 − ε)·nll + ε/C · Σ_c w_c·(−log p_c), both terms normalised by the same "mean" denominator, as PyTorch.</param>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100,
        string reduction = "mean", double labelSmoothing = 0)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckReduction(reduction, "CrossEntropy");
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropy: labelSmoothing must be between 0.0 and 1.0, got {labelSmoothing}.");
        input.CheckFloating("CrossEntropy");
        if (input.Dim == 0) throw new ArgumentException("CrossEntropy: the input must have at least 1 dimension (classes), got a 0-d tensor.");
        int classDim = input.Dim == 1 ? 0 : 1;
        if (target.DType.IsFloatingPoint())
            return ProbabilityCrossEntropy(input.LogSoftmax(classDim), target, weight, ignoreIndex, reduction, labelSmoothing, classDim);
        if (target.DType == DType.Int64 && weight?.RequiresGrad != true)
            return input.CrossEntropyWithIndices(target, weight, ignoreIndex, labelSmoothing, reduction); // fused kernels (Ops/CrossEntropy.cs)
        return ClassIndexLoss(input.LogSoftmax(classDim), target, weight, ignoreIndex, reduction, labelSmoothing, "CrossEntropy");
    }

    /// <summary>
    /// Negative log-likelihood of log-probabilities (<c>F.nll_loss</c>): loss_i = −w[t_i]·input[i, t_i], zero where
    /// t_i = <paramref name="ignoreIndex"/>. Shapes as <see cref="CrossEntropy"/> with index targets; "mean" divides by
    /// the sum of the weights of the non-ignored targets.
    /// </summary>
    public static Tensor NllLoss(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, string reduction = "mean")
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckReduction(reduction, "NllLoss");
        input.CheckFloating("NllLoss");
        if (input.Dim == 0) throw new ArgumentException("NllLoss: the input must have at least 1 dimension (classes), got a 0-d tensor.");
        if (target.DType != DType.Int64)
            throw new ArgumentException($"NllLoss: expected Int64 class-index targets, got {target.DType}.");
        return ClassIndexLoss(input, target, weight, ignoreIndex, reduction, 0, "NllLoss");
    }

    private static Tensor ClassIndexLoss(Tensor logp, Tensor target, Tensor? weight, long ignoreIndex, string reduction, double smoothing, string op)
    {
        if (target.DType != DType.Int64)
            throw new ArgumentException($"{op}: expected Int64 class-index targets or floating class probabilities, got {target.DType}.");
        bool unbatched = logp.Dim == 1;
        if (unbatched)
        {
            if (target.Dim != 0)
                throw new ArgumentException($"{op}: for an unbatched input of shape {ShapeUtil.Format(logp._shape)} the target must be 0-d, got shape {ShapeUtil.Format(target._shape)}.");
            logp = logp.Unsqueeze(0);
            target = target.Reshape(1);
        }
        int c = logp._shape[1];
        var expected = logp._shape.Where((_, d) => d != 1).ToArray();
        if (!ShapeUtil.SameShape(target._shape, expected))
            throw new ArgumentException($"{op}: expected target of shape {ShapeUtil.Format(expected)} for input of shape {ShapeUtil.Format(logp._shape)}, got target of shape {ShapeUtil.Format(target._shape)}.");
        CheckClassWeight(weight, c, logp, op);

        var t = target.ToArray<long>();
        var safe = new long[t.Length];
        var keep = new bool[t.Length];
        int bad = LossKernels.ClassTargets(t, c, ignoreIndex, safe, keep);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(target), $"{op}: target {t[bad]} is out of bounds for {c} classes (expected 0 to {c - 1}, or ignoreIndex {ignoreIndex}).");
        var safeIdx = Tensor.Wrap(safe, (int[])expected.Clone());
        var mask = Tensor.Wrap(keep, (int[])expected.Clone()).To(logp.DType);
        // Per-element weights w[t_i] (0 where ignored).
        var w = weight is null ? mask : weight.IndexSelect(0, safeIdx.Flatten()).View(expected) * mask;
        var picked = logp.Gather(1, safeIdx.Unsqueeze(1)).Squeeze(1);
        var loss = -(picked * w);
        if (smoothing > 0)
        {
            var bshape = Enumerable.Range(0, logp.Dim).Select(d => d == 1 ? c : 1).ToArray();
            var smooth = -(weight is null ? logp : logp * weight.View(bshape)).Sum(1) * mask;
            loss = loss * (1 - smoothing) + smooth * (smoothing / c);
        }
        return reduction switch
        {
            "none" => unbatched ? loss.Reshape() : loss,
            "sum" => loss.Sum(),
            _ => loss.Sum() / w.Sum(),
        };
    }

    private static Tensor ProbabilityCrossEntropy(Tensor logp, Tensor target, Tensor? weight, long ignoreIndex, string reduction, double smoothing, int classDim)
    {
        if (!ShapeUtil.SameShape(target._shape, logp._shape))
            throw new ArgumentException($"CrossEntropy: probability targets must have the input's shape {ShapeUtil.Format(logp._shape)}, got {ShapeUtil.Format(target._shape)}.");
        Tensor.CheckSameDType(logp, target, "CrossEntropy");
        if (ignoreIndex != -100)
            throw new ArgumentException("CrossEntropy: ignoreIndex is not supported for floating-point (probability) targets.");
        int c = logp._shape[classDim];
        CheckClassWeight(weight, c, logp, "CrossEntropy");
        var q = smoothing > 0 ? target * (1 - smoothing) + smoothing / c : target;
        var prod = logp * q;
        if (weight is not null)
            prod = prod * weight.View(Enumerable.Range(0, logp.Dim).Select(d => d == classDim ? c : 1).ToArray());
        var loss = -prod.Sum(classDim);
        return reduction switch
        {
            "none" => loss,
            "sum" => loss.Sum(),
            _ => loss.Mean(),
        };
    }

    private static void CheckClassWeight(Tensor? weight, int c, Tensor input, string op)
    {
        if (weight is null) return;
        if (weight.Dim != 1 || weight._shape[0] != c)
            throw new ArgumentException($"{op}: weight must be a 1-D tensor of {c} class weights, got shape {ShapeUtil.Format(weight._shape)} for input of shape {ShapeUtil.Format(input._shape)}.");
        Tensor.CheckSameDType(input, weight, op);
    }

    /// <summary>Mean squared error (<c>F.mse_loss</c>): (input − target)², reduced. The shapes must be equal.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, string reduction = "mean")
    {
        CheckPair(input, target, reduction, "MseLoss");
        var d = input - target;
        return Reduce(d * d, reduction);
    }

    /// <summary>Mean absolute error (<c>F.l1_loss</c>): |input − target|, reduced. The shapes must be equal.</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, string reduction = "mean")
    {
        CheckPair(input, target, reduction, "L1Loss");
        return Reduce((input - target).Abs(), reduction);
    }

    /// <summary>Smooth L1 loss (<c>F.smooth_l1_loss</c>): 0.5·d²/β where |d| &lt; β, else |d| − 0.5·β.</summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, string reduction = "mean", double beta = 1.0)
    {
        CheckPair(input, target, reduction, "SmoothL1Loss");
        if (beta < 0) throw new ArgumentOutOfRangeException(nameof(beta), $"SmoothL1Loss: beta must be non-negative, got {beta}.");
        var d = input - target;
        if (beta == 0) return Reduce(d.Abs(), reduction);
        var ad = d.Abs();
        return Reduce(Tensor.Where(ad.Lt(beta), d * d * (0.5 / beta), ad - 0.5 * beta), reduction);
    }

    /// <summary>
    /// Binary cross-entropy on logits (<c>F.binary_cross_entropy_with_logits</c>), computed stably as
    /// (1 − t)·x + (1 + (pos_weight − 1)·t)·softplus(−x), times <paramref name="weight"/> (broadcast to the input),
    /// then reduced. <paramref name="posWeight"/> broadcasts along the last (class) dim and weighs positive examples.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, string reduction = "mean", Tensor? posWeight = null)
    {
        CheckPair(input, target, reduction, "BinaryCrossEntropyWithLogits");
        var spNeg = (-input).Softplus(1, double.PositiveInfinity);
        Tensor loss;
        if (posWeight is null) loss = (1.0 - target) * input + spNeg;
        else
        {
            CheckBroadcastsTo(posWeight, input, "BinaryCrossEntropyWithLogits", "posWeight");
            loss = (1.0 - target) * input + (1.0 + (posWeight - 1.0) * target) * spNeg;
        }
        if (weight is not null)
        {
            CheckBroadcastsTo(weight, input, "BinaryCrossEntropyWithLogits", "weight");
            loss = loss * weight;
        }
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Binary cross-entropy on probabilities (<c>F.binary_cross_entropy</c>): −w·(t·log p + (1 − t)·log(1 − p)), with
    /// each log clamped at −100 as PyTorch. Prefer <see cref="BinaryCrossEntropyWithLogits"/>, which is stable.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight = null, string reduction = "mean")
    {
        CheckPair(input, target, reduction, "BinaryCrossEntropy");
        var loss = -(target * input.Log().Clamp(min: -100) + (1.0 - target) * (1.0 - input).Log().Clamp(min: -100));
        if (weight is not null)
        {
            CheckBroadcastsTo(weight, input, "BinaryCrossEntropy", "weight");
            loss = loss * weight;
        }
        return Reduce(loss, reduction);
    }

    private static void CheckPair(Tensor input, Tensor target, string reduction, string op)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckReduction(reduction, op);
        input.CheckFloating(op);
        if (!ShapeUtil.SameShape(input._shape, target._shape))
            throw new ArgumentException($"{op}: target shape {ShapeUtil.Format(target._shape)} must be the same as input shape {ShapeUtil.Format(input._shape)}.");
        Tensor.CheckSameDType(input, target, op);
    }

    private static void CheckBroadcastsTo(Tensor t, Tensor input, string op, string name)
    {
        var shape = ShapeUtil.Broadcast(input._shape, t._shape, op);
        if (!ShapeUtil.SameShape(shape, input._shape))
            throw new ArgumentException($"{op}: {name} of shape {ShapeUtil.Format(t._shape)} must broadcast to the input shape {ShapeUtil.Format(input._shape)}.");
        Tensor.CheckSameDType(input, t, op);
    }

    private static void CheckReduction(string reduction, string op)
    {
        if (reduction is not ("none" or "mean" or "sum"))
            throw new ArgumentException($"{op}: reduction must be \"none\", \"mean\" or \"sum\", got \"{reduction}\".");
    }

    private static Tensor Reduce(Tensor loss, string reduction) => reduction switch
    {
        "none" => loss,
        "sum" => loss.Sum(),
        _ => loss.Mean(),
    };
}
