namespace DeepSharp.Optim;

/// <summary>Decays the lr by <c>gamma</c> every <c>stepSize</c> epochs: lr = base·γ^⌊epoch/stepSize⌋ (<c>StepLR</c>).</summary>
public sealed class StepLR : LRScheduler
{
    private readonly int _stepSize;
    private readonly double _gamma;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="stepSize">Period of decay, in epochs (positive).</param>
    /// <param name="gamma">Multiplicative factor of decay.</param>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer, applyInitial: false)
    {
        if (stepSize <= 0) throw new ArgumentException($"StepLR: stepSize must be positive, got {stepSize}.");
        (_stepSize, _gamma) = (stepSize, gamma);
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => baseLr * Math.Pow(_gamma, epoch / _stepSize);
}

/// <summary>Decays the lr by <c>gamma</c> at each milestone epoch: lr = base·γ^(number of milestones ≤ epoch) (<c>MultiStepLR</c>).</summary>
public sealed class MultiStepLR : LRScheduler
{
    private readonly int[] _milestones;
    private readonly double _gamma;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="milestones">Epochs at which to decay (duplicates decay repeatedly, as PyTorch).</param>
    /// <param name="gamma">Multiplicative factor of decay.</param>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1) : base(optimizer, applyInitial: false)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        _milestones = milestones.Order().ToArray();
        _gamma = gamma;
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => baseLr * Math.Pow(_gamma, _milestones.Count(m => m <= epoch));
}

/// <summary>Decays the lr by <c>gamma</c> every epoch: lr = base·γ^epoch (<c>ExponentialLR</c>).</summary>
public sealed class ExponentialLR : LRScheduler
{
    private readonly double _gamma;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="gamma">Multiplicative factor of decay.</param>
    public ExponentialLR(Optimizer optimizer, double gamma) : base(optimizer, applyInitial: false)
    {
        _gamma = gamma;
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => baseLr * Math.Pow(_gamma, epoch);
}

/// <summary>
/// Cosine annealing (<c>CosineAnnealingLR</c>, PyTorch's closed form): lr = η_min + (base − η_min)·(1 + cos(π·epoch/T_max))/2.
/// Past T_max the cosine continues (the lr rises again), as PyTorch's closed form.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    private readonly int _tMax;
    private readonly double _etaMin;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="tMax">Number of epochs (or iterations) of the half period (positive).</param>
    /// <param name="etaMin">Minimum learning rate.</param>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer, applyInitial: false)
    {
        if (tMax <= 0) throw new ArgumentException($"CosineAnnealingLR: tMax must be positive, got {tMax}.");
        (_tMax, _etaMin) = (tMax, etaMin);
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) =>
        _etaMin + (baseLr - _etaMin) * (1 + Math.Cos(Math.PI * epoch / _tMax)) / 2;
}

/// <summary>lr = base·λ(epoch) with a user function per group or one for all (<c>LambdaLR</c>). The functions are not part of the state dict.</summary>
public sealed class LambdaLR : LRScheduler
{
    private readonly Func<int, double>[] _lambdas;

    /// <summary>One multiplicative factor function for every group.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="lrLambda">Factor as a function of the epoch.</param>
    public LambdaLR(Optimizer optimizer, Func<int, double> lrLambda) : base(optimizer, applyInitial: false)
    {
        ArgumentNullException.ThrowIfNull(lrLambda);
        _lambdas = Enumerable.Repeat(lrLambda, optimizer.ParamGroups.Count).ToArray();
        Step();
    }

    /// <summary>One factor function per group.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="lrLambdas">Factor functions, one per parameter group.</param>
    public LambdaLR(Optimizer optimizer, IReadOnlyList<Func<int, double>> lrLambdas) : base(optimizer, applyInitial: false)
    {
        ArgumentNullException.ThrowIfNull(lrLambdas);
        if (lrLambdas.Count != optimizer.ParamGroups.Count)
            throw new ArgumentException($"LambdaLR: expected {optimizer.ParamGroups.Count} lr lambdas (one per group), got {lrLambdas.Count}.");
        _lambdas = [.. lrLambdas];
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => baseLr * _lambdas[group](epoch);
}

/// <summary>
/// Linear warm-up (or decay) of the lr factor from <c>startFactor</c> to <c>endFactor</c> over <c>totalIters</c> steps,
/// then constant (<c>LinearLR</c>): lr = base·(start + (end − start)·min(epoch, totalIters)/totalIters).
/// </summary>
public sealed class LinearLR : LRScheduler
{
    private readonly double _start, _end;
    private readonly int _totalIters;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="startFactor">Factor at epoch 0, in (0, 1].</param>
    /// <param name="endFactor">Factor from <paramref name="totalIters"/> on, in [0, 1].</param>
    /// <param name="totalIters">Number of steps of the ramp (positive).</param>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5) : base(optimizer, applyInitial: false)
    {
        if (!(startFactor > 0 && startFactor <= 1)) throw new ArgumentException($"LinearLR: startFactor must be in (0, 1], got {startFactor}.");
        if (!(endFactor >= 0 && endFactor <= 1)) throw new ArgumentException($"LinearLR: endFactor must be in [0, 1], got {endFactor}.");
        if (totalIters <= 0) throw new ArgumentException($"LinearLR: totalIters must be positive, got {totalIters}.");
        (_start, _end, _totalIters) = (startFactor, endFactor, totalIters);
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) =>
        baseLr * (_start + (_end - _start) * Math.Min(_totalIters, epoch) / _totalIters);
}

/// <summary>
/// The Transformer's inverse-square-root schedule with linear warm-up ("Attention Is All You Need", §5.3; the
/// "Noam" schedule): lr = factor·d^−0.5·min(s^−0.5, s·warmup^−1.5) with s = epoch + 1, so the s-th optimizer step
/// (1-based) uses lr(s) and the peak is at s = warmup. The rate is absolute: the optimizer's own lr is overwritten
/// (construct the optimizer with any lr, e.g. 1).
/// </summary>
public sealed class NoamLR : LRScheduler
{
    private readonly int _modelSize, _warmup;
    private readonly double _factor;

    /// <summary>Creates the scheduler and applies the rate of step 1.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="modelSize">The model width d (d_model).</param>
    /// <param name="warmupSteps">Warm-up steps (positive).</param>
    /// <param name="factor">Overall scale.</param>
    public NoamLR(Optimizer optimizer, int modelSize, int warmupSteps, double factor = 1.0) : base(optimizer, applyInitial: false)
    {
        if (modelSize <= 0) throw new ArgumentException($"NoamLR: modelSize must be positive, got {modelSize}.");
        if (warmupSteps <= 0) throw new ArgumentException($"NoamLR: warmupSteps must be positive, got {warmupSteps}.");
        (_modelSize, _warmup, _factor) = (modelSize, warmupSteps, factor);
        Step();
    }

    /// <summary>The rate at 1-based step <paramref name="step"/>.</summary>
    public double Rate(int step)
    {
        double s = Math.Max(step, 1);
        return _factor * Math.Pow(_modelSize, -0.5) * Math.Min(Math.Pow(s, -0.5), s * Math.Pow(_warmup, -1.5));
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => Rate(epoch + 1);
}

/// <summary>
/// Runs schedulers one after another (<c>SequentialLR</c>): scheduler i is active from milestone i−1 (epoch 0 for the
/// first) and sees epochs counted from the start of its phase, e.g. <c>LinearLR</c> warm-up then <c>CosineAnnealingLR</c>.
/// </summary>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] _schedulers;
    private readonly int[] _milestones;

    /// <summary>Creates the sequence and applies the first scheduler's epoch 0.</summary>
    /// <param name="optimizer">The optimizer every scheduler was built on.</param>
    /// <param name="schedulers">The schedulers, in order.</param>
    /// <param name="milestones">Epochs at which to switch to the next scheduler (one fewer than schedulers, increasing).</param>
    public SequentialLR(Optimizer optimizer, IReadOnlyList<LRScheduler> schedulers, IReadOnlyList<int> milestones) : base(optimizer, applyInitial: false)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedulers.Count == 0) throw new ArgumentException("SequentialLR: expected at least one scheduler.");
        if (milestones.Count != schedulers.Count - 1)
            throw new ArgumentException($"SequentialLR: expected {schedulers.Count - 1} milestones for {schedulers.Count} schedulers, got {milestones.Count}.");
        for (int i = 0; i < schedulers.Count; i++)
            if (!ReferenceEquals(schedulers[i].Optimizer, optimizer))
                throw new ArgumentException($"SequentialLR: scheduler {i} is attached to a different optimizer.");
        for (int i = 1; i < milestones.Count; i++)
            if (milestones[i] <= milestones[i - 1]) throw new ArgumentException("SequentialLR: milestones must be strictly increasing.");
        _schedulers = [.. schedulers];
        _milestones = [.. milestones];
        Step();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch)
    {
        int idx = 0;
        while (idx < _milestones.Length && _milestones[idx] <= epoch) idx++;
        var active = _schedulers[idx];
        int local = idx == 0 ? epoch : epoch - _milestones[idx - 1];
        if (group == 0) active.ApplyEpoch(local);
        return active.GetLastLr()[group];
    }

    /// <inheritdoc/>
    public override LRSchedulerState StateDict() => base.StateDict() with { Children = _schedulers.Select(s => s.StateDict()).ToArray() };

    /// <inheritdoc/>
    public override void LoadStateDict(LRSchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Children.Length != _schedulers.Length)
            throw new ArgumentException($"SequentialLR.LoadStateDict: the state has {state.Children.Length} nested schedulers, this one has {_schedulers.Length}.");
        for (int i = 0; i < _schedulers.Length; i++) _schedulers[i].LoadStateDict(state.Children[i]);
        base.LoadStateDict(state);
    }
}
