using System.Collections;
using System.Globalization;

namespace DeepSharp.NN;

/// <summary>
/// Runs modules one after another, feeding each output to the next (<c>nn.Sequential</c>). Children are named
/// "0", "1", … (or by the names given), so parameters appear as <c>0.weight</c>, <c>2.bias</c>, ….
/// </summary>
public sealed class Sequential : Module<Tensor, Tensor>, IReadOnlyList<Module<Tensor, Tensor>>
{
    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>A pipeline of <paramref name="modules"/>, named by position.</summary>
    public Sequential(params Module<Tensor, Tensor>[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Append(m);
    }

    /// <summary>A pipeline of named modules (PyTorch's <c>Sequential(OrderedDict(...))</c>).</summary>
    public Sequential(IEnumerable<KeyValuePair<string, Module<Tensor, Tensor>>> namedModules)
    {
        ArgumentNullException.ThrowIfNull(namedModules);
        foreach (var (name, m) in namedModules)
        {
            ArgumentNullException.ThrowIfNull(m);
            if (GetChild(name) is not null) throw new ArgumentException($"Sequential: duplicate module name '{name}'.");
            _layers.Add(RegisterModule(name, m));
        }
    }

    /// <summary>Adds <paramref name="module"/> at the end, named by its position; returns this pipeline.</summary>
    public Sequential Append(Module<Tensor, Tensor> module)
    {
        ArgumentNullException.ThrowIfNull(module);
        _layers.Add(RegisterModule(_layers.Count.ToString(CultureInfo.InvariantCulture), module));
        return this;
    }

    /// <summary>The number of modules.</summary>
    public int Count => _layers.Count;

    /// <summary>The module at <paramref name="index"/> (negative counts from the end).</summary>
    public Module<Tensor, Tensor> this[int index] => _layers[index < 0 ? index + _layers.Count : index];

    /// <summary>Applies every module in order.</summary>
    public override Tensor Forward(Tensor input)
    {
        foreach (var m in _layers) input = m.Forward(input);
        return input;
    }

    /// <inheritdoc/>
    public IEnumerator<Module<Tensor, Tensor>> GetEnumerator() => _layers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// A list of child modules (<c>nn.ModuleList</c>): registered as "0", "1", … so their parameters are visible to
/// <see cref="Module.Parameters"/>, but with no <c>Forward</c> of its own. Use it to hold e.g. the blocks of a network.
/// </summary>
/// <typeparam name="T">The element type (use <see cref="ModuleList"/> for any module).</typeparam>
public class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>A list holding <paramref name="modules"/>.</summary>
    public ModuleList(params T[] modules) => AddRange(modules);

    /// <summary>Appends <paramref name="module"/>.</summary>
    public void Add(T module)
    {
        ArgumentNullException.ThrowIfNull(module);
        _items.Add(RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module));
    }

    /// <summary>Appends every module of <paramref name="modules"/> (PyTorch's <c>extend</c>).</summary>
    public void AddRange(IEnumerable<T> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Add(m);
    }

    /// <summary>The number of modules.</summary>
    public int Count => _items.Count;

    /// <summary>The module at <paramref name="index"/> (negative counts from the end).</summary>
    public T this[int index] => _items[index < 0 ? index + _items.Count : index];

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A list of modules of any type (<c>nn.ModuleList</c>); see <see cref="ModuleList{T}"/>.</summary>
public sealed class ModuleList : ModuleList<Module>
{
    /// <summary>A list holding <paramref name="modules"/>.</summary>
    public ModuleList(params Module[] modules) : base(modules) { }
}

/// <summary>A dictionary of child modules keyed by name, in insertion order (<c>nn.ModuleDict</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
public class ModuleDict<T> : Module, IEnumerable<KeyValuePair<string, T>> where T : Module
{
    private readonly OrderedDictionary<string, T> _items = new(StringComparer.Ordinal);

    /// <summary>Adds (or replaces) the module under <paramref name="name"/>.</summary>
    public void Add(string name, T module)
    {
        ArgumentNullException.ThrowIfNull(module);
        _items[name] = RegisterModule(name, module);
    }

    /// <summary>The module under <paramref name="name"/>; setting adds or replaces it.</summary>
    public T this[string name]
    {
        get => _items.TryGetValue(name, out var m) ? m : throw new KeyNotFoundException($"ModuleDict: no module named '{name}'.");
        set => Add(name, value);
    }

    /// <summary>Whether a module is stored under <paramref name="name"/>.</summary>
    public bool ContainsKey(string name) => _items.ContainsKey(name);

    /// <summary>The names, in insertion order.</summary>
    public IEnumerable<string> Keys => _items.Keys;

    /// <summary>The number of modules.</summary>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, T>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A dictionary of modules of any type (<c>nn.ModuleDict</c>); see <see cref="ModuleDict{T}"/>.</summary>
public sealed class ModuleDict : ModuleDict<Module>;

/// <summary>A residual connection: x + sublayer(x) (the sublayer's output must have the input's shape).</summary>
public sealed class Residual : Module<Tensor, Tensor>
{
    /// <summary>Wraps <paramref name="sublayer"/> (registered as child <c>sublayer</c>).</summary>
    public Residual(Module<Tensor, Tensor> sublayer)
    {
        ArgumentNullException.ThrowIfNull(sublayer);
        Sublayer = RegisterModule("sublayer", sublayer);
    }

    /// <summary>The wrapped module F.</summary>
    public Module<Tensor, Tensor> Sublayer { get; }

    /// <summary>x + F(x).</summary>
    public override Tensor Forward(Tensor input)
    {
        var y = Sublayer.Forward(input);
        if (!input._shape.AsSpan().SequenceEqual(y._shape))
            throw new ArgumentException($"Residual: the sublayer maps shape {ShapeUtil.Format(input._shape)} to {ShapeUtil.Format(y._shape)}; a residual connection needs them equal.");
        return input + y;
    }
}
