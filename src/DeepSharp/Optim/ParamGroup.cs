namespace DeepSharp.Optim;

/// <summary>
/// A group of parameters optimised with the same hyper-parameters (PyTorch's <c>param_groups</c> entries).
/// Hyper-parameters are named numbers using PyTorch's keys (<c>lr</c>, <c>weight_decay</c>, <c>momentum</c>,
/// <c>beta1</c>/<c>beta2</c> for Adam's <c>betas</c>, <c>eps</c>, <c>alpha</c>; flags such as <c>nesterov</c>,
/// <c>amsgrad</c>, <c>centered</c> and <c>maximize</c> are stored as 0/1). Keys a group does not set take the
/// optimizer's defaults when the group is added. Schedulers and user code may change values between steps.
/// </summary>
/// <example><code>
/// var opt = new SGD([new ParamGroup(backbone), new ParamGroup(head) { Lr = 0.1 }], lr: 0.01, momentum: 0.9);
/// </code></example>
public sealed class ParamGroup
{
    private readonly List<Tensor> _params;
    private readonly Dictionary<string, double> _options;

    /// <summary>A group of <paramref name="parameters"/> with optional per-group hyper-parameters.</summary>
    /// <param name="parameters">The tensors to optimise (floating-point leaves).</param>
    /// <param name="options">Hyper-parameters overriding the optimizer's defaults for this group.</param>
    public ParamGroup(IEnumerable<Tensor> parameters, IReadOnlyDictionary<string, double>? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = [.. parameters];
        foreach (var p in _params)
            ArgumentNullException.ThrowIfNull(p, nameof(parameters));
        _options = options is null ? [] : new Dictionary<string, double>(options);
    }

    /// <summary>The parameters of this group, in order.</summary>
    public IReadOnlyList<Tensor> Params => _params;

    /// <summary>All hyper-parameters of this group.</summary>
    public IReadOnlyDictionary<string, double> Options => _options;

    /// <summary>Gets or sets a hyper-parameter by its PyTorch name (e.g. <c>"lr"</c>).</summary>
    /// <exception cref="KeyNotFoundException">The group has no such hyper-parameter.</exception>
    public double this[string key]
    {
        get => _options.TryGetValue(key, out double v) ? v
            : throw new KeyNotFoundException($"ParamGroup: the group has no hyper-parameter '{key}' (it has: {string.Join(", ", _options.Keys)}).");
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            _options[key] = value;
        }
    }

    /// <summary>True when the group has the hyper-parameter <paramref name="key"/>.</summary>
    public bool Has(string key) => _options.ContainsKey(key);

    /// <summary>The learning rate (<c>lr</c>).</summary>
    public double Lr { get => this["lr"]; set => this["lr"] = value; }

    /// <summary>The weight decay (<c>weight_decay</c>).</summary>
    public double WeightDecay { get => this["weight_decay"]; set => this["weight_decay"] = value; }

    internal bool Flag(string key) => this[key] != 0;

    /// <summary>Adds the defaults for keys this group does not set (PyTorch's <c>setdefault</c>).</summary>
    internal void ApplyDefaults(IReadOnlyDictionary<string, double> defaults)
    {
        foreach (var (k, v) in defaults) _options.TryAdd(k, v);
    }

    internal void SetOptions(IReadOnlyDictionary<string, double> options)
    {
        _options.Clear();
        foreach (var (k, v) in options) _options[k] = v;
    }
}
