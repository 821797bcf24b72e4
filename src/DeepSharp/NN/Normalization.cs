namespace DeepSharp.NN;

/// <summary>
/// The shared implementation of <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> (PyTorch's <c>_BatchNorm</c>):
/// per-channel normalisation of an [N, C, *] input with learnable affine weight/bias (ones/zeros) and running
/// statistics (buffers <c>running_mean</c> zeros, <c>running_var</c> ones, <c>num_batches_tracked</c> Int64 0).
/// </summary>
/// <remarks>
/// In training mode the batch mean and biased variance normalise the input, and the running statistics are updated
/// as running = (1 − momentum)·running + momentum·batch with the <i>unbiased</i> batch variance; with
/// <c>momentum</c> null the update is a cumulative average (factor 1/num_batches_tracked). In evaluation mode the
/// running statistics are used. Without <c>trackRunningStats</c> there are no running buffers and batch statistics
/// are used in both modes.
/// </remarks>
public abstract class BatchNorm : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="momentum">Running-statistics factor, or null for a cumulative moving average.</param>
    /// <param name="affine">Whether to learn a per-channel weight and bias.</param>
    /// <param name="trackRunningStats">Whether to keep running statistics (used in evaluation mode).</param>
    /// <param name="dtype">Element type of the parameters and running statistics.</param>
    protected BatchNorm(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
    {
        if (numFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(numFeatures), $"{TypeName}: numFeatures must be positive, got {numFeatures}.");
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"{TypeName}: dtype must be floating-point, got {dtype}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        RegisterParameter("weight", affine ? Tensor.Ones([numFeatures], dtype) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros([numFeatures], dtype) : null);
        RegisterBuffer("running_mean", trackRunningStats ? Tensor.Zeros([numFeatures], dtype) : null);
        RegisterBuffer("running_var", trackRunningStats ? Tensor.Ones([numFeatures], dtype) : null);
        RegisterBuffer("num_batches_tracked", trackRunningStats ? Tensor.Zeros([], DType.Int64) : null);
    }

    /// <summary>C, the number of channels.</summary>
    public int NumFeatures { get; }

    /// <summary>The variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>The running-statistics momentum, or null for a cumulative average.</summary>
    public double? Momentum { get; }

    /// <summary>Whether the layer has a learnable weight and bias.</summary>
    public bool Affine { get; }

    /// <summary>Whether running statistics are kept.</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Per-channel scale (parameter <c>weight</c>), or null when not affine.</summary>
    public Tensor? Weight => GetParameter("weight");

    /// <summary>Per-channel shift (parameter <c>bias</c>), or null when not affine.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <summary>The running mean (buffer <c>running_mean</c>), or null.</summary>
    public Tensor? RunningMean => GetBuffer("running_mean");

    /// <summary>The running variance (buffer <c>running_var</c>), or null.</summary>
    public Tensor? RunningVar => GetBuffer("running_var");

    /// <summary>The number of training batches seen (Int64 scalar buffer <c>num_batches_tracked</c>), or null.</summary>
    public Tensor? NumBatchesTracked => GetBuffer("num_batches_tracked");

    /// <summary>Resets the running statistics to mean 0, variance 1 and zero batches.</summary>
    public void ResetRunningStats()
    {
        using var _ = GradMode.Set(false);
        RunningMean?.Zero_();
        RunningVar?.Fill_(1);
        NumBatchesTracked?.Fill_(0);
    }

    /// <summary>Throws unless the input has a rank this layer accepts.</summary>
    protected abstract void CheckInputDim(Tensor input);

    /// <summary>Normalises <paramref name="input"/> (batch statistics in training, running statistics in evaluation).</summary>
    public override Tensor Forward(Tensor input) => Forward(input, residual: null, relu: false);

    /// <summary>ReLU(this(input) + residual) as one fused op (see <see cref="Tensor.BatchNormRelu"/>); residual optional.</summary>
    internal Tensor ForwardRelu(Tensor input, Tensor? residual) => Forward(input, residual, relu: true);

    private Tensor Forward(Tensor input, Tensor? residual, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInputDim(input);
        if (input._shape[1] != NumFeatures)
            throw new ArgumentException($"{TypeName}: expected {NumFeatures} channels in dim 1, got input of shape {ShapeUtil.Format(input._shape)}.");
        double factor = Momentum ?? 0.0;
        if (IsTraining && TrackRunningStats && NumBatchesTracked is { } nbt)
        {
            using (GradMode.Set(false)) nbt.Fill_(nbt.Item() + 1);
            if (Momentum is null) factor = 1.0 / nbt.Item();
        }
        bool useBatchStats = IsTraining || (RunningMean is null && RunningVar is null);
        bool update = !IsTraining || TrackRunningStats;
        if (!relu) return F.BatchNorm(input, update ? RunningMean : null, update ? RunningVar : null, Weight, Bias, useBatchStats, factor, Eps);
        return input.BatchNormRelu(update ? RunningMean : null, update ? RunningVar : null, Weight, Bias, useBatchStats, factor, Eps, residual);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{NumFeatures}, eps={Py(Eps)}, momentum={(Momentum is { } m ? Py(m) : "None")}, affine={Py(Affine)}, track_running_stats={Py(TrackRunningStats)}";
}

/// <summary>Batch normalisation of [N, C] or [N, C, L] inputs (<c>nn.BatchNorm1d</c>); see <see cref="BatchNorm"/>.</summary>
/// <param name="numFeatures">C, the number of channels.</param>
/// <param name="eps">Added to the variance (default 1e-5).</param>
/// <param name="momentum">Running-statistics factor (default 0.1), or null for a cumulative average.</param>
/// <param name="affine">Whether to learn weight and bias (default true).</param>
/// <param name="trackRunningStats">Whether to keep running statistics (default true).</param>
/// <param name="dtype">Element type.</param>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override void CheckInputDim(Tensor input)
    {
        if (input.Dim is not (2 or 3))
            throw new ArgumentException($"BatchNorm1d: expected 2D or 3D input ([N, C] or [N, C, L]), got input of shape {ShapeUtil.Format(input._shape)}.");
    }
}

/// <summary>Batch normalisation of [N, C, H, W] inputs (<c>nn.BatchNorm2d</c>); see <see cref="BatchNorm"/>.</summary>
/// <param name="numFeatures">C, the number of channels.</param>
/// <param name="eps">Added to the variance (default 1e-5).</param>
/// <param name="momentum">Running-statistics factor (default 0.1), or null for a cumulative average.</param>
/// <param name="affine">Whether to learn weight and bias (default true).</param>
/// <param name="trackRunningStats">Whether to keep running statistics (default true).</param>
/// <param name="dtype">Element type.</param>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override void CheckInputDim(Tensor input)
    {
        if (input.Dim != 4)
            throw new ArgumentException($"BatchNorm2d: expected 4D input ([N, C, H, W]), got input of shape {ShapeUtil.Format(input._shape)}.");
    }
}

/// <summary>
/// Layer normalisation over the trailing <c>normalizedShape</c> dims (<c>nn.LayerNorm</c>): (x − mean)/√(var + eps)
/// with the biased variance, then an element-wise affine transform (weight ones, bias zeros) when enabled.
/// </summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    private readonly int[] _normalizedShape;

    /// <summary>Creates the layer.</summary>
    /// <param name="normalizedShape">The trailing shape to normalise over.</param>
    /// <param name="eps">Added to the variance (default 1e-5).</param>
    /// <param name="elementwiseAffine">Whether to learn weight (and bias) of <paramref name="normalizedShape"/>.</param>
    /// <param name="bias">Whether to learn a bias (only with <paramref name="elementwiseAffine"/>).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"LayerNorm: normalizedShape must be non-empty with positive sizes, got {ShapeUtil.Format(normalizedShape)}.");
        _normalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        RegisterParameter("weight", elementwiseAffine ? Tensor.Ones(_normalizedShape, dtype) : null);
        RegisterParameter("bias", elementwiseAffine && bias ? Tensor.Zeros(_normalizedShape, dtype) : null);
    }

    /// <summary>Creates a layer normalising over the last dim of size <paramref name="normalizedShape"/>.</summary>
    /// <param name="normalizedShape">The size of the last dim.</param>
    /// <param name="eps">Added to the variance (default 1e-5).</param>
    /// <param name="elementwiseAffine">Whether to learn weight (and bias).</param>
    /// <param name="bias">Whether to learn a bias.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.Float32)
        : this([normalizedShape], eps, elementwiseAffine, bias, dtype) { }

    /// <summary>The normalised trailing shape (a copy).</summary>
    public int[] NormalizedShape => (int[])_normalizedShape.Clone();

    /// <summary>The variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>Whether the layer has learnable affine parameters.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>The scale (parameter <c>weight</c>), or null.</summary>
    public Tensor? Weight => GetParameter("weight");

    /// <summary>The shift (parameter <c>bias</c>), or null.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <summary>Normalises over the trailing dims.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.LayerNorm(input, _normalizedShape, Weight, Bias, Eps));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{PyTuple(_normalizedShape)}, eps={Py(Eps)}, elementwise_affine={Py(ElementwiseAffine)}";
}
