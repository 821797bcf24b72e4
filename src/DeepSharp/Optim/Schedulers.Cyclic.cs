namespace DeepSharp.Optim;

/// <summary>
/// The 1cycle policy (<c>OneCycleLR</c>, Smith &amp; Topin): the lr rises from max_lr/divFactor to max_lr over the first
/// <c>pctStart</c> of <c>totalSteps</c>, then anneals to initial_lr/finalDivFactor (with <c>threePhase</c>: back to
/// the initial lr, then down to the minimum). With <c>cycleMomentum</c>, the momentum (SGD/RMSprop <c>momentum</c>, or
/// Adam's β1) moves inversely between maxMomentum and baseMomentum. Step it after every batch; stepping past
/// <c>totalSteps</c> throws, as PyTorch.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private readonly int _totalSteps;
    private readonly bool _cos;
    private readonly string? _momentumKey;
    private readonly (double EndStep, int StartLr, int EndLr, bool StartMomentumMax, bool EndMomentumMax)[] _phases;
    private readonly double[] _maxLrs, _minLrs;
    private readonly double _baseMomentum, _maxMomentum;

    /// <summary>Creates the scheduler with one max lr for every group and applies step 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="maxLr">The peak learning rate.</param>
    /// <param name="totalSteps">The number of steps of the cycle (or pass <paramref name="epochs"/> and <paramref name="stepsPerEpoch"/>).</param>
    /// <param name="epochs">Epochs, with <paramref name="stepsPerEpoch"/>, when <paramref name="totalSteps"/> is null.</param>
    /// <param name="stepsPerEpoch">Steps per epoch.</param>
    /// <param name="pctStart">Fraction of the cycle spent increasing the lr (default 0.3).</param>
    /// <param name="annealStrategy">"cos" (default) or "linear".</param>
    /// <param name="cycleMomentum">Whether to cycle the momentum inversely to the lr (default true).</param>
    /// <param name="baseMomentum">Lowest momentum (at the peak lr; default 0.85).</param>
    /// <param name="maxMomentum">Highest momentum (default 0.95).</param>
    /// <param name="divFactor">initial_lr = maxLr / divFactor (default 25).</param>
    /// <param name="finalDivFactor">min_lr = initial_lr / finalDivFactor (default 1e4).</param>
    /// <param name="threePhase">Whether to use the three-phase schedule (default false).</param>
    public OneCycleLR(Optimizer optimizer, double maxLr, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null, double pctStart = 0.3,
        string annealStrategy = "cos", bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25,
        double finalDivFactor = 1e4, bool threePhase = false)
        : this(optimizer, Enumerable.Repeat(maxLr, optimizer?.ParamGroups.Count ?? 0).ToArray(), totalSteps, epochs, stepsPerEpoch, pctStart, annealStrategy,
            cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase) { }

    /// <summary>Creates the scheduler with one max lr per group and applies step 0 (parameters as the other constructor).</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="maxLrs">The peak learning rate of each group.</param>
    /// <param name="totalSteps">The number of steps of the cycle.</param>
    /// <param name="epochs">Epochs, with <paramref name="stepsPerEpoch"/>.</param>
    /// <param name="stepsPerEpoch">Steps per epoch.</param>
    /// <param name="pctStart">Fraction of the cycle spent increasing the lr.</param>
    /// <param name="annealStrategy">"cos" or "linear".</param>
    /// <param name="cycleMomentum">Whether to cycle the momentum.</param>
    /// <param name="baseMomentum">Lowest momentum.</param>
    /// <param name="maxMomentum">Highest momentum.</param>
    /// <param name="divFactor">initial_lr = maxLr / divFactor.</param>
    /// <param name="finalDivFactor">min_lr = initial_lr / finalDivFactor.</param>
    /// <param name="threePhase">Whether to use the three-phase schedule.</param>
    public OneCycleLR(Optimizer optimizer, double[] maxLrs, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null, double pctStart = 0.3,
        string annealStrategy = "cos", bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25,
        double finalDivFactor = 1e4, bool threePhase = false)
        : base(SetInitialLrs(optimizer, maxLrs, divFactor), applyInitial: false)
    {
        if (totalSteps is { } t)
        {
            if (t <= 0) throw new ArgumentException($"OneCycleLR: expected a positive integer totalSteps, but got {t}.");
            _totalSteps = t;
        }
        else if (epochs is { } e && stepsPerEpoch is { } s)
        {
            if (e <= 0 || s <= 0) throw new ArgumentException($"OneCycleLR: expected positive epochs and stepsPerEpoch, but got {e} and {s}.");
            _totalSteps = e * s;
        }
        else throw new ArgumentException("OneCycleLR: you must define either totalSteps or (epochs and stepsPerEpoch).");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentException($"OneCycleLR: expected a float between 0 and 1 for pctStart, but got {pctStart}.");
        _cos = annealStrategy switch
        {
            "cos" => true,
            "linear" => false,
            _ => throw new ArgumentException($"OneCycleLR: annealStrategy must be \"cos\" or \"linear\", got \"{annealStrategy}\"."),
        };
        const int Initial = 0, Max = 1, Min = 2;
        _phases = threePhase
            ? [(pctStart * _totalSteps - 1, Initial, Max, true, false), (2 * pctStart * _totalSteps - 2, Max, Initial, false, true), (_totalSteps - 1, Initial, Min, true, true)]
            : [(pctStart * _totalSteps - 1, Initial, Max, true, false), (_totalSteps - 1, Max, Min, false, true)];
        _maxLrs = (double[])maxLrs.Clone();
        _minLrs = BaseLrs.Select(b => b / finalDivFactor).ToArray();
        (_baseMomentum, _maxMomentum) = (baseMomentum, maxMomentum);
        if (cycleMomentum)
        {
            _momentumKey = optimizer.ParamGroups.All(g => g.Has("beta1")) ? "beta1"
                : optimizer.ParamGroups.All(g => g.Has("momentum")) ? "momentum"
                : throw new ArgumentException("OneCycleLR: optimizer must support momentum (SGD/RMSprop momentum or Adam betas) with cycleMomentum enabled.");
            foreach (var g in optimizer.ParamGroups)
            {
                g[_momentumKey] = maxMomentum;
                g["max_momentum"] = maxMomentum;
                g["base_momentum"] = baseMomentum;
            }
        }
        foreach (var (g, i) in optimizer.ParamGroups.Select((g, i) => (g, i)))
        {
            g["max_lr"] = _maxLrs[i];
            g["min_lr"] = _minLrs[i];
        }
        Step();
    }

    private static Optimizer SetInitialLrs(Optimizer optimizer, double[] maxLrs, double divFactor)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(maxLrs);
        if (maxLrs.Length != optimizer.ParamGroups.Count)
            throw new ArgumentException($"OneCycleLR: expected {optimizer.ParamGroups.Count} values for maxLrs, got {maxLrs.Length}.");
        for (int i = 0; i < maxLrs.Length; i++) optimizer.ParamGroups[i]["initial_lr"] = maxLrs[i] / divFactor;
        return optimizer;
    }

    /// <summary>The number of steps in the cycle.</summary>
    public int TotalSteps => _totalSteps;

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch)
    {
        if (epoch > _totalSteps)
            throw new InvalidOperationException($"OneCycleLR: tried to step {epoch} times. The specified number of total steps is {_totalSteps}.");
        double[] lrs = [baseLr, _maxLrs[group], _minLrs[group]];
        double startStep = 0;
        for (int i = 0; i < _phases.Length; i++)
        {
            var p = _phases[i];
            if (epoch <= p.EndStep || i == _phases.Length - 1)
            {
                double pct = (epoch - startStep) / (p.EndStep - startStep);
                if (_momentumKey is not null)
                    Optimizer.ParamGroups[group][_momentumKey] = Anneal(p.StartMomentumMax ? _maxMomentum : _baseMomentum, p.EndMomentumMax ? _maxMomentum : _baseMomentum, pct);
                return Anneal(lrs[p.StartLr], lrs[p.EndLr], pct);
            }
            startStep = p.EndStep;
        }
        throw new InvalidOperationException("OneCycleLR: unreachable.");
    }

    private double Anneal(double start, double end, double pct) =>
        _cos ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1) : (end - start) * pct + start;
}

/// <summary>
/// Cosine annealing with warm restarts (<c>CosineAnnealingWarmRestarts</c>, SGDR): lr = η_min + (base − η_min)·(1 +
/// cos(π·T_cur/T_i))/2, where T_cur counts steps since the last restart and the period T_i starts at T_0 and is
/// multiplied by T_mult at each restart.
/// </summary>
public sealed class CosineAnnealingWarmRestarts : LRScheduler
{
    private readonly int _t0, _tMult;
    private readonly double _etaMin;

    /// <summary>Creates the scheduler and applies epoch 0.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="t0">Steps until the first restart (positive).</param>
    /// <param name="tMult">Period multiplier after each restart (≥ 1, default 1).</param>
    /// <param name="etaMin">Minimum learning rate (default 0).</param>
    public CosineAnnealingWarmRestarts(Optimizer optimizer, int t0, int tMult = 1, double etaMin = 0) : base(optimizer, applyInitial: false)
    {
        if (t0 <= 0) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected a positive integer t0, but got {t0}.");
        if (tMult < 1) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected an integer tMult >= 1, but got {tMult}.");
        (_t0, _tMult, _etaMin) = (t0, tMult, etaMin);
        Step();
    }

    /// <summary>(T_cur, T_i) at <paramref name="epoch"/>: the restarts are walked one by one, in integers, as PyTorch's step-by-step counters.</summary>
    internal (long TCur, long TI) Position(int epoch)
    {
        long tCur = epoch, tI = _t0;
        while (tCur >= tI)
        {
            tCur -= tI;
            tI *= _tMult;
        }
        return (tCur, tI);
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch)
    {
        var (tCur, tI) = Position(epoch);
        return _etaMin + (baseLr - _etaMin) * (1 + Math.Cos(Math.PI * tCur / tI)) / 2;
    }
}

/// <summary>
/// Reduces the lr by <c>factor</c> when a metric stops improving for <c>patience</c> steps (<c>ReduceLROnPlateau</c>).
/// Call <see cref="Step(double)"/> with the metric (e.g. validation loss) after each epoch. An improvement is
/// a &lt; best·(1 − threshold) ("min", "rel"), a &lt; best − threshold ("min", "abs"), and the mirror images for
/// "max"; after a reduction, <c>cooldown</c> steps pass before bad steps count again; no lr goes below its
/// <c>minLr</c>, and a change smaller than <c>eps</c> is skipped, as PyTorch.
/// </summary>
public sealed class ReduceLROnPlateau : LRScheduler
{
    private readonly bool _max, _relative;
    private readonly double _factor, _threshold, _eps;
    private readonly int _patience, _cooldown;
    private readonly double[] _minLrs;
    private double[] _pending = [];

    /// <summary>Creates the scheduler; it leaves the lrs as they are until the metric plateaus.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="mode">"min" (default: lower is better) or "max".</param>
    /// <param name="factor">Multiplier of the lr on a plateau, below 1 (default 0.1).</param>
    /// <param name="patience">Steps without improvement tolerated before reducing (default 10).</param>
    /// <param name="threshold">Minimum significant change (default 1e-4).</param>
    /// <param name="thresholdMode">"rel" (default) or "abs".</param>
    /// <param name="cooldown">Steps to wait after a reduction before counting bad steps again (default 0).</param>
    /// <param name="minLr">Lower bound of every group's lr (default 0).</param>
    /// <param name="eps">Reductions smaller than this are skipped (default 1e-8).</param>
    public ReduceLROnPlateau(Optimizer optimizer, string mode = "min", double factor = 0.1, int patience = 10, double threshold = 1e-4,
        string thresholdMode = "rel", int cooldown = 0, double minLr = 0, double eps = 1e-8)
        : this(optimizer, mode, factor, patience, threshold, thresholdMode, cooldown, Enumerable.Repeat(minLr, optimizer?.ParamGroups.Count ?? 0).ToArray(), eps) { }

    /// <summary>Creates the scheduler with one minimum lr per group (parameters as the other constructor).</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="mode">"min" or "max".</param>
    /// <param name="factor">Multiplier of the lr on a plateau.</param>
    /// <param name="patience">Steps without improvement tolerated.</param>
    /// <param name="threshold">Minimum significant change.</param>
    /// <param name="thresholdMode">"rel" or "abs".</param>
    /// <param name="cooldown">Steps to wait after a reduction.</param>
    /// <param name="minLrs">Lower bound of each group's lr.</param>
    /// <param name="eps">Reductions smaller than this are skipped.</param>
    public ReduceLROnPlateau(Optimizer optimizer, string mode, double factor, int patience, double threshold, string thresholdMode, int cooldown,
        double[] minLrs, double eps = 1e-8) : base(optimizer, applyInitial: false)
    {
        ArgumentNullException.ThrowIfNull(minLrs);
        if (!(factor < 1)) throw new ArgumentException($"ReduceLROnPlateau: factor should be < 1.0, got {factor}.");
        if (minLrs.Length != optimizer.ParamGroups.Count)
            throw new ArgumentException($"ReduceLROnPlateau: expected {optimizer.ParamGroups.Count} min_lrs, got {minLrs.Length}.");
        _max = mode switch { "min" => false, "max" => true, _ => throw new ArgumentException($"ReduceLROnPlateau: mode {mode} is unknown (\"min\" or \"max\").") };
        _relative = thresholdMode switch { "rel" => true, "abs" => false, _ => throw new ArgumentException($"ReduceLROnPlateau: threshold mode {thresholdMode} is unknown (\"rel\" or \"abs\").") };
        if (patience < 0 || cooldown < 0) throw new ArgumentException($"ReduceLROnPlateau: patience and cooldown must be non-negative, got {patience} and {cooldown}.");
        (_factor, _patience, _threshold, _cooldown, _eps) = (factor, patience, threshold, cooldown, eps);
        _minLrs = (double[])minLrs.Clone();
        Best = _max ? double.NegativeInfinity : double.PositiveInfinity;
        _pending = optimizer.ParamGroups.Select(g => g.Lr).ToArray();
        ApplyEpoch(0);
    }

    /// <summary>The best metric seen so far.</summary>
    public double Best { get; private set; }

    /// <summary>Consecutive steps without improvement (reset by a reduction and during cooldown).</summary>
    public int NumBadEpochs { get; private set; }

    /// <summary>Steps of cooldown left.</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>Not used: this scheduler needs the metric; call <see cref="Step(double)"/>.</summary>
    /// <exception cref="InvalidOperationException">Always.</exception>
    public override void Step() =>
        throw new InvalidOperationException("ReduceLROnPlateau: Step needs the monitored metric; call Step(metric).");

    /// <summary>Records <paramref name="metric"/> and reduces the lrs if it has not improved for more than <c>patience</c> steps.</summary>
    public void Step(double metric)
    {
        if (IsBetter(metric)) { Best = metric; NumBadEpochs = 0; }
        else NumBadEpochs++;
        if (CooldownCounter > 0) { CooldownCounter--; NumBadEpochs = 0; }
        var groups = Optimizer.ParamGroups;
        _pending = groups.Select(g => g.Lr).ToArray();
        if (NumBadEpochs > _patience)
        {
            for (int i = 0; i < _pending.Length; i++)
            {
                double old = _pending[i], next = Math.Max(old * _factor, _minLrs[i]);
                if (old - next > _eps) _pending[i] = next;
            }
            CooldownCounter = _cooldown;
            NumBadEpochs = 0;
        }
        ApplyEpoch(LastEpoch + 1);
    }

    private bool IsBetter(double a) => (_max, _relative) switch
    {
        (false, true) => a < Best * (1 - _threshold),
        (false, false) => a < Best - _threshold,
        (true, true) => a > Best * (_threshold + 1),
        _ => a > Best + _threshold,
    };

    /// <inheritdoc/>
    protected override double ComputeLr(int group, double baseLr, int epoch) => _pending[group];
}
