using DeepSharp.NN;

namespace DeepSharp.Distributed;

/// <summary>
/// Batch normalisation over the whole global batch (PyTorch's <c>SyncBatchNorm</c>): in training, each channel's mean
/// and variance come from every rank's batch (one all-reduce of the per-channel sums and squared sums per forward, and
/// one of their gradients in backward), so N ranks of batch B normalise like one process with a batch of N·B. In
/// evaluation it uses its running statistics, as <c>BatchNorm2d</c>. Input <c>[N, C, …]</c>. Use it in place of
/// <c>BatchNorm1d/2d</c> when the per-rank batch is too small for good statistics. Every rank must run its forward.
/// </summary>
public sealed class SyncBatchNorm : Module<Tensor, Tensor>
{
    private readonly ProcessGroup? _group;

    /// <summary>Creates the layer.</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="momentum">Running-statistics factor.</param>
    /// <param name="affine">Learn a per-channel scale (<c>weight</c>) and shift (<c>bias</c>).</param>
    /// <param name="group">The ranks whose batches are pooled; the world (at each forward) when null.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    public SyncBatchNorm(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, ProcessGroup? group = null, DType dtype = DType.Float32)
    {
        if (numFeatures <= 0) throw new ArgumentException($"SyncBatchNorm: numFeatures must be positive, got {numFeatures}.");
        if (!(eps > 0)) throw new ArgumentException($"SyncBatchNorm: eps must be positive, got {eps}.");
        if (!(momentum is >= 0 and <= 1)) throw new ArgumentException($"SyncBatchNorm: momentum must be in [0, 1], got {momentum}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        _group = group;
        RegisterParameter("weight", affine ? Tensor.Ones([numFeatures], dtype) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros([numFeatures], dtype) : null);
        RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], dtype));
        RegisterBuffer("running_var", Tensor.Ones([numFeatures], dtype));
    }

    /// <summary>C.</summary>
    public int NumFeatures { get; }

    /// <summary>The variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>The running-statistics factor.</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim < 2 || input.Shape[1] != NumFeatures)
            throw new ArgumentException($"SyncBatchNorm: expected input [N, {NumFeatures}, …], got [{string.Join(", ", input.Shape)}].");
        var shape = new int[input.Dim];
        Array.Fill(shape, 1);
        shape[1] = NumFeatures;
        int[] dims = [0, .. Enumerable.Range(2, input.Dim - 2)];
        var weight = GetParameter("weight");
        var bias = GetParameter("bias");
        var runningMean = GetBuffer("running_mean")!;
        var runningVar = GetBuffer("running_var")!;
        Tensor mean, variance;
        if (IsTraining)
        {
            var group = _group ?? Distributed.World;
            double count = input.NumEl / NumFeatures;
            var stats = Tensor.Cat([input.Sum(dims), input.Square().Sum(dims)], 0);
            var totals = new AllReduceSum(group).Apply(stats);
            var counts = Tensor.Full([1], count, DType.Float64);
            group.AllReduce(counts, ReduceOp.Sum);
            double n = counts.Item();
            if (n <= 1) throw new ArgumentException($"SyncBatchNorm: expected more than 1 value per channel over all ranks, got {n}.");
            mean = totals.Narrow(0, 0, NumFeatures) / n;
            variance = totals.Narrow(0, NumFeatures, NumFeatures) / n - mean.Square();
            using (Autograd.NoGrad())
            {
                runningMean.Mul_(1 - Momentum).Add_(mean.Detach() * Momentum);
                runningVar.Mul_(1 - Momentum).Add_(variance.Detach() * (Momentum * n / (n - 1)));
            }
        }
        else
        {
            mean = runningMean;
            variance = runningVar;
        }
        var y = (input - mean.View(shape)) * (variance + Eps).Rsqrt().View(shape);
        if (weight is not null) y = y * weight.View(shape) + bias!.View(shape);
        return y;
    }

    /// <summary>Sum over the ranks forward, and the same for the gradient backward (every rank's loss depends on every
    /// rank's statistics).</summary>
    private sealed class AllReduceSum(ProcessGroup group) : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            var sum = inputs[0].Contiguous().Clone();
            group.AllReduce(sum, ReduceOp.Sum);
            return sum;
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            var g = gradOutput.Contiguous().Clone();
            group.AllReduce(g, ReduceOp.Sum);
            return [g];
        }
    }
}
