using System.Numerics;

namespace DeepSharp.Optim;

/// <summary>
/// Base class of optimizers (PyTorch's <c>torch.optim.Optimizer</c>): parameter groups with their own
/// hyper-parameters, per-parameter state, <see cref="ZeroGrad"/>, <see cref="Step()"/> and a state dict for
/// resuming training. Updates run in place under <see cref="Autograd.NoGrad"/> as fused loops over contiguous
/// spans, without temporaries or allocation per step once the state exists; non-contiguous parameters or
/// gradients fall back to a copy. Float32 and Float64 parameters are supported.
/// </summary>
public abstract class Optimizer
{
    private readonly List<ParamGroup> _groups = [];
    private readonly Dictionary<string, double> _defaults;
    private readonly Dictionary<Tensor, ParamState> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>An optimizer over a single group of <paramref name="parameters"/>.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, IReadOnlyDictionary<string, double> defaults)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], defaults) { }

    /// <summary>An optimizer over several parameter groups; keys a group does not set take <paramref name="defaults"/>.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, IReadOnlyDictionary<string, double> defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(defaults);
        _defaults = new Dictionary<string, double>(defaults);
        var list = groups.ToList();
        if (list.Count == 0 || list.All(g => g.Params.Count == 0)) throw new ArgumentException($"{GetType().Name}: optimizer got an empty parameter list.");
        foreach (var g in list) AddParamGroup(g);
    }

    /// <summary>The parameter groups, in order.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>The default hyper-parameters given at construction.</summary>
    public IReadOnlyDictionary<string, double> Defaults => _defaults;

    /// <summary>The per-parameter state (step count and buffers such as <c>exp_avg</c>), created on first update.</summary>
    public IReadOnlyDictionary<Tensor, ParamState> State => _state;

    /// <summary>Adds a group (e.g. layers unfrozen during fine-tuning); missing hyper-parameters take the defaults.</summary>
    /// <exception cref="ArgumentException">A parameter is already in another group, is not floating point or is not a leaf.</exception>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var seen = new HashSet<Tensor>(_groups.SelectMany(g => g.Params), ReferenceEqualityComparer.Instance);
        foreach (var p in group.Params)
        {
            if (!p.DType.IsFloatingPoint())
                throw new ArgumentException($"{GetType().Name}: can only optimize floating-point tensors, got a {p.DType} tensor of shape {ShapeUtil.Format(p._shape)}.");
            if (!p.IsLeaf)
                throw new ArgumentException($"{GetType().Name}: can't optimize a non-leaf tensor (shape {ShapeUtil.Format(p._shape)}); pass the parameters themselves.");
            if (!seen.Add(p))
                throw new ArgumentException($"{GetType().Name}: some parameters appear in more than one parameter group (shape {ShapeUtil.Format(p._shape)}).");
        }
        group.ApplyDefaults(_defaults);
        Validate(group);
        _groups.Add(group);
    }

    /// <summary>Checks a group's hyper-parameters (throws <see cref="ArgumentException"/> for invalid values).</summary>
    protected virtual void Validate(ParamGroup group) { }

    /// <summary>Throws when the hyper-parameter <paramref name="key"/> of <paramref name="group"/> is negative or NaN.</summary>
    protected void CheckNonNegative(ParamGroup group, string key)
    {
        double v = group[key];
        if (!(v >= 0)) throw new ArgumentException($"{GetType().Name}: invalid {key} value: {v} (must be non-negative).");
    }

    /// <summary>Clears the gradients of all parameters: sets them to null (the default, as PyTorch) or zeroes them in place.</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var g in _groups)
            foreach (var p in g.Params)
            {
                if (p.Grad is null) continue;
                if (setToNone) p.Grad = null;
                else using (GradMode.Set(false)) p.Grad.Zero_();
            }
        Recycler.SafePoint();   // called from user code: no op of this thread is running (see Recycler)
    }

    /// <summary>Performs one update of every parameter that has a gradient.</summary>
    public void Step()
    {
        // No NoGrad scope is needed: the fused loops write raw spans and record nothing (and entering a scope
        // allocates). Only the non-contiguous fallback runs tensor ops, under its own scope.
        foreach (var group in _groups)
        {
            BeginGroup(group);
            var ps = group.Params;
            for (int pi = 0; pi < ps.Count; pi++)
            {
                var p = ps[pi];
                var grad = p.Grad;
                if (grad is null) continue;
                if (!ShapeUtil.SameShape(grad._shape, p._shape))
                    throw new InvalidOperationException($"{GetType().Name}.Step: gradient of shape {ShapeUtil.Format(grad._shape)} does not match its parameter of shape {ShapeUtil.Format(p._shape)}.");
                if (grad.DType != p.DType)
                    throw new InvalidOperationException($"{GetType().Name}.Step: gradient dtype {grad.DType} does not match its parameter's dtype {p.DType}.");
                if (!_state.TryGetValue(p, out var state))
                    _state[p] = state = new ParamState();
                state.Step++;
                var work = p._isContiguous ? p : CloneNoGrad(p);
                var g = grad._isContiguous ? grad : CloneNoGrad(grad);
                Tensor.DispatchFloat(p.DType, "Optimizer.Step", new UpdateCore(this, group, work, g, state));
                if (!ReferenceEquals(work, p)) p.CopyFromNoGrad(work);
                p.BumpVersion();
            }
        }
    }

    private static Tensor CloneNoGrad(Tensor t)
    {
        using var _ = GradMode.Set(false);
        return t.Clone();
    }

    /// <summary>Re-evaluates the model with <paramref name="closure"/> (grad enabled), then steps; returns the closure's loss.</summary>
    public Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        Tensor loss;
        using (Autograd.EnableGrad()) loss = closure();
        Step();
        return loss;
    }

    /// <summary>Called once per group and step before its parameters are updated (reads hyper-parameters).</summary>
    protected virtual void BeginGroup(ParamGroup group) { }

    /// <summary>
    /// Updates one parameter in place. <paramref name="param"/> and <paramref name="grad"/> are contiguous with the
    /// same shape and element type <typeparamref name="T"/>; <paramref name="state"/>'s step was already incremented.
    /// </summary>
    protected abstract void Update<T>(ParamGroup group, Tensor param, Tensor grad, ParamState state)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private readonly record struct UpdateCore(Optimizer Optimizer, ParamGroup Group, Tensor Param, Tensor Grad, ParamState State) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => Optimizer.Update<T>(Group, Param, Grad, State);
    }

    // ---------------------------------------------------------------- state dict

    /// <summary>
    /// A snapshot for resuming (PyTorch's <c>optimizer.state_dict()</c>): each group's hyper-parameters and the
    /// indices of its parameters (numbered across groups in order), and the state of each parameter by index
    /// (step count and copies of its buffers). See <see cref="OptimizerStateDict.ToJson"/> and
    /// <see cref="OptimizerStateDict.ToTensors"/> for the checkpoint form.
    /// </summary>
    public OptimizerStateDict StateDict()
    {
        var sd = new OptimizerStateDict();
        int index = 0;
        foreach (var g in _groups)
        {
            var indices = new int[g.Params.Count];
            for (int i = 0; i < indices.Length; i++, index++)
            {
                indices[i] = index;
                if (_state.TryGetValue(g.Params[i], out var s)) sd.State[index] = s.Copy();
            }
            sd.ParamGroups.Add(new ParamGroupState(new Dictionary<string, double>(g.Options), indices));
        }
        return sd;
    }

    /// <summary>
    /// Restores a snapshot from <see cref="StateDict"/> (PyTorch's <c>load_state_dict</c>): group hyper-parameters
    /// and per-parameter state, matched by position. Everything is validated before anything changes; buffers are
    /// copied and converted to each parameter's dtype.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot does not fit this optimizer's groups and parameters.</exception>
    public void LoadStateDict(OptimizerStateDict stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        string name = GetType().Name;
        if (stateDict.ParamGroups.Count != _groups.Count)
            throw new ArgumentException($"{name}.LoadStateDict: loaded state dict has {stateDict.ParamGroups.Count} parameter groups, the optimizer has {_groups.Count}.");
        var byIndex = new Dictionary<int, Tensor>();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var saved = stateDict.ParamGroups[gi];
            var group = _groups[gi];
            if (saved.Params.Length != group.Params.Count)
                throw new ArgumentException($"{name}.LoadStateDict: parameter group {gi} has {saved.Params.Length} parameters in the loaded state dict but {group.Params.Count} in the optimizer.");
            for (int i = 0; i < saved.Params.Length; i++)
                if (!byIndex.TryAdd(saved.Params[i], group.Params[i]))
                    throw new ArgumentException($"{name}.LoadStateDict: parameter index {saved.Params[i]} appears more than once.");
        }
        var newState = new List<(Tensor Param, ParamState Saved)>();
        foreach (var (idx, s) in stateDict.State)
        {
            if (!byIndex.TryGetValue(idx, out var p))
                throw new ArgumentException($"{name}.LoadStateDict: state for parameter index {idx}, which is in no parameter group.");
            if (s.Step < 0) throw new ArgumentException($"{name}.LoadStateDict: parameter {idx} has a negative step count {s.Step}.");
            foreach (var (bufName, buf) in s.Buffers)
            {
                if (!ShapeUtil.SameShape(buf._shape, p._shape))
                    throw new ArgumentException($"{name}.LoadStateDict: state '{bufName}' of parameter {idx} has shape {ShapeUtil.Format(buf._shape)}, the parameter has shape {ShapeUtil.Format(p._shape)}.");
                if (!buf.DType.IsFloatingPoint())
                    throw new ArgumentException($"{name}.LoadStateDict: state '{bufName}' of parameter {idx} has dtype {buf.DType}; expected a floating-point tensor.");
            }
            newState.Add((p, s));
        }
        // All checks passed: mutate.
        using var _ = GradMode.Set(false);
        _state.Clear();
        foreach (var (p, saved) in newState)
        {
            var copy = new ParamState { Step = saved.Step };
            foreach (var (bufName, buf) in saved.Buffers)
                copy.Buffers[bufName] = DisposeScope.Keep(buf.Detach().To(p.DType).Clone())!;
            _state[p] = copy;
        }
        for (int gi = 0; gi < _groups.Count; gi++)
            _groups[gi].SetOptions(stateDict.ParamGroups[gi].Options);
    }
}

/// <summary>The optimizer state of one parameter: its step count and named buffers (PyTorch's names, e.g. <c>exp_avg</c>).</summary>
public sealed class ParamState
{
    /// <summary>The number of updates applied to the parameter.</summary>
    public long Step { get; set; }

    /// <summary>Buffers by name, each with the parameter's shape and dtype.</summary>
    public Dictionary<string, Tensor> Buffers { get; } = [];

    /// <summary>The buffer <paramref name="name"/>, created as zeros like <paramref name="like"/> when missing.</summary>
    internal Tensor Buffer(string name, Tensor like)
    {
        if (!Buffers.TryGetValue(name, out var b))
            Buffers[name] = b = DisposeScope.Keep(Tensor.Zeros(like._shape, like.DType))!;   // optimizer state outlives any dispose scope
        return b;
    }

    internal ParamState Copy()
    {
        var c = new ParamState { Step = Step };
        foreach (var (k, v) in Buffers) c.Buffers[k] = DisposeScope.Keep(v.Detach().Clone())!;
        return c;
    }
}
