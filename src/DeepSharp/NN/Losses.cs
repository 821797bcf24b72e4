namespace DeepSharp.NN;

/// <summary>
/// Cross-entropy loss on logits (<c>nn.CrossEntropyLoss</c>); see <see cref="F.CrossEntropy"/> for the target forms,
/// ignore index, class weights, label smoothing and the exact "mean" normalisation. Class weights are kept as the
/// buffer <c>weight</c>.
/// </summary>
public sealed class CrossEntropyLoss : WeightedLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="weight">Optional per-class weights [C].</param>
    /// <param name="ignoreIndex">Class-index targets with this value are ignored (default −100).</param>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    /// <param name="labelSmoothing">ε in [0, 1] (default 0).</param>
    public CrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, string reduction = "mean", double labelSmoothing = 0)
        : base(weight, reduction, "CrossEntropyLoss")
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropyLoss: labelSmoothing must be between 0.0 and 1.0, got {labelSmoothing}.");
        IgnoreIndex = ignoreIndex;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>The ignored target value.</summary>
    public long IgnoreIndex { get; }

    /// <summary>The label-smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <summary>The loss of logits <paramref name="input"/> against <paramref name="target"/>.</summary>
    public override Tensor Forward(Tensor input, Tensor target) =>
        F.CrossEntropy(input, target, Weight, IgnoreIndex, Reduction, LabelSmoothing);
}

/// <summary>Negative log-likelihood loss on log-probabilities (<c>nn.NLLLoss</c>); see <see cref="F.NllLoss"/>.</summary>
public sealed class NLLLoss : WeightedLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="weight">Optional per-class weights [C] (buffer <c>weight</c>).</param>
    /// <param name="ignoreIndex">Targets with this value are ignored (default −100).</param>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    public NLLLoss(Tensor? weight = null, long ignoreIndex = -100, string reduction = "mean")
        : base(weight, reduction, "NLLLoss") => IgnoreIndex = ignoreIndex;

    /// <summary>The ignored target value.</summary>
    public long IgnoreIndex { get; }

    /// <summary>The loss of log-probabilities <paramref name="input"/> against class indices <paramref name="target"/>.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.NllLoss(input, target, Weight, IgnoreIndex, Reduction);
}

/// <summary>Mean squared error (<c>nn.MSELoss</c>); see <see cref="F.MseLoss"/>.</summary>
public sealed class MSELoss : Loss
{
    /// <summary>Creates the loss with <paramref name="reduction"/> "none", "mean" (default) or "sum".</summary>
    public MSELoss(string reduction = "mean") : base(reduction, "MSELoss") { }

    /// <summary>(input − target)², reduced.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.MseLoss(input, target, Reduction);
}

/// <summary>Mean absolute error (<c>nn.L1Loss</c>); see <see cref="F.L1Loss"/>.</summary>
public sealed class L1Loss : Loss
{
    /// <summary>Creates the loss with <paramref name="reduction"/> "none", "mean" (default) or "sum".</summary>
    public L1Loss(string reduction = "mean") : base(reduction, "L1Loss") { }

    /// <summary>|input − target|, reduced.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.L1Loss(input, target, Reduction);
}

/// <summary>Smooth L1 loss (<c>nn.SmoothL1Loss</c>); see <see cref="F.SmoothL1Loss"/>.</summary>
public sealed class SmoothL1Loss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    /// <param name="beta">The quadratic-to-linear threshold (default 1).</param>
    public SmoothL1Loss(string reduction = "mean", double beta = 1.0) : base(reduction, "SmoothL1Loss") => Beta = beta;

    /// <summary>The threshold β.</summary>
    public double Beta { get; }

    /// <summary>The smooth L1 loss, reduced.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.SmoothL1Loss(input, target, Reduction, Beta);
}

/// <summary>
/// Binary cross-entropy on logits, numerically stable (<c>nn.BCEWithLogitsLoss</c>); see
/// <see cref="F.BinaryCrossEntropyWithLogits"/>. <c>weight</c> and <c>pos_weight</c> are buffers.
/// </summary>
public sealed class BCEWithLogitsLoss : WeightedLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="weight">Optional weight broadcast to the input.</param>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    /// <param name="posWeight">Optional weight of positive examples, broadcast along the last (class) dim.</param>
    public BCEWithLogitsLoss(Tensor? weight = null, string reduction = "mean", Tensor? posWeight = null)
        : base(weight, reduction, "BCEWithLogitsLoss") => RegisterBuffer("pos_weight", posWeight);

    /// <summary>The positive-class weight, or null.</summary>
    public Tensor? PosWeight => GetBuffer("pos_weight");

    /// <summary>The loss of logits <paramref name="input"/> against targets in [0, 1].</summary>
    public override Tensor Forward(Tensor input, Tensor target) =>
        F.BinaryCrossEntropyWithLogits(input, target, Weight, Reduction, PosWeight);
}

/// <summary>Binary cross-entropy on probabilities (<c>nn.BCELoss</c>); see <see cref="F.BinaryCrossEntropy"/>.</summary>
public sealed class BCELoss : WeightedLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="weight">Optional weight broadcast to the input (buffer <c>weight</c>).</param>
    /// <param name="reduction">"none", "mean" (default) or "sum".</param>
    public BCELoss(Tensor? weight = null, string reduction = "mean") : base(weight, reduction, "BCELoss") { }

    /// <summary>The loss of probabilities <paramref name="input"/> against targets in [0, 1].</summary>
    public override Tensor Forward(Tensor input, Tensor target) => F.BinaryCrossEntropy(input, target, Weight, Reduction);
}

/// <summary>
/// The base of the loss modules (PyTorch's <c>_Loss</c>): two tensors in, one out, and the <see cref="Reduction"/>
/// ("none", "mean" or "sum"), checked once here. Derive from it for a loss of your own.
/// </summary>
public abstract class Loss : Module<Tensor, Tensor, Tensor>
{
    /// <summary>Checks and keeps <paramref name="reduction"/>; <paramref name="name"/> is the loss named in the error.</summary>
    protected Loss(string reduction, string name) : this(reduction, name, allowBatchMean: false) { }

    /// <summary>As <see cref="Loss(string, string)"/>, also allowing "batchmean" when <paramref name="allowBatchMean"/>
    /// (KLDivLoss).</summary>
    protected Loss(string reduction, string name, bool allowBatchMean)
    {
        if (allowBatchMean)
        {
            if (reduction is not ("none" or "mean" or "sum" or "batchmean"))
                throw new ArgumentException($"{name}: reduction must be \"none\", \"mean\", \"batchmean\" or \"sum\", got \"{reduction}\".");
        }
        else if (reduction is not ("none" or "mean" or "sum"))
            throw new ArgumentException($"{name}: reduction must be \"none\", \"mean\" or \"sum\", got \"{reduction}\".");
        Reduction = reduction;
    }

    /// <summary>How the per-element losses are reduced: "none", "mean" or "sum" (KLDivLoss also "batchmean").</summary>
    public string Reduction { get; }
}

/// <summary>A <see cref="Loss"/> with optional class or element weights kept as the buffer <c>weight</c> (PyTorch's
/// <c>_WeightedLoss</c>).</summary>
public abstract class WeightedLoss : Loss
{
    /// <summary>Checks <paramref name="reduction"/> and registers <paramref name="weight"/> (may be null) as the buffer <c>weight</c>.</summary>
    protected WeightedLoss(Tensor? weight, string reduction, string name) : base(reduction, name) => RegisterBuffer("weight", weight);

    /// <summary>The weights, or null.</summary>
    public Tensor? Weight => GetBuffer("weight");
}
