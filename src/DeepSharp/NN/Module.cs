using System.Globalization;
using System.Text;

namespace DeepSharp.NN;

/// <summary>
/// The base of every layer and model, like PyTorch's <c>torch.nn.Module</c>: a tree of modules that own
/// parameters (trainable tensors) and buffers (state such as BatchNorm's running statistics).
/// </summary>
/// <remarks>
/// <para><b>Registration.</b> A module declares its state with exactly one mechanism: calls, normally in its
/// constructor, to <see cref="RegisterParameter"/>, <see cref="RegisterBuffer"/> and <see cref="RegisterModule{T}"/>.
/// There is no reflection over fields, so the module tree works under trimming and NativeAOT, and every
/// enumeration (<see cref="NamedParameters"/>, <see cref="StateDict"/>, …) follows registration order: a
/// module's own parameters, then its buffers, then each child in turn, with dotted names such as
/// <c>layers.0.weight</c> exactly as PyTorch builds them.</para>
/// <para><b>Parameters.</b> <c>Tensor</c> is sealed, so there is no <c>Parameter</c> subclass: a parameter is any
/// leaf floating-point tensor registered with <see cref="RegisterParameter"/>, which sets its
/// <see cref="Tensor.RequiresGrad"/>. Layers expose them as properties (e.g. <c>Linear.Weight</c>) that read the
/// registry, so a tensor replaced by <see cref="To(DType)"/> is seen everywhere.</para>
/// <para><b>Forward.</b> The base class has no <c>Forward</c>; derive from <see cref="Module{TIn, TOut}"/> (one input)
/// or <see cref="Module{TIn1, TIn2, TOut}"/> (two inputs, e.g. losses), or declare any <c>Forward</c> signature on a
/// class derived from <see cref="Module"/> directly.</para>
/// </remarks>
public abstract class Module
{
    private readonly OrderedDictionary<string, Tensor?> _parameters = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<string, Tensor?> _buffers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nonPersistent = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<string, Module?> _modules = new(StringComparer.Ordinal);

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>. Dropout and BatchNorm read it.</summary>
    public bool IsTraining { get; private set; } = true;

    // ---------------------------------------------------------------- registration

    /// <summary>
    /// Registers <paramref name="parameter"/> under <paramref name="name"/> (PyTorch's <c>register_parameter</c>),
    /// or replaces the one registered before under that name. The tensor must be a floating-point leaf; its
    /// <see cref="Tensor.RequiresGrad"/> is set (true by default). A null value reserves the name (e.g. a disabled
    /// bias) and is skipped by every enumeration.
    /// </summary>
    /// <param name="name">The attribute name (no dots), e.g. <c>weight</c>.</param>
    /// <param name="parameter">A floating-point leaf tensor, or null.</param>
    /// <param name="requiresGrad">False registers a frozen parameter (PyTorch's <c>Parameter(requires_grad=False)</c>).</param>
    /// <returns>The registered tensor, so a constructor can keep it in a field if it wishes.</returns>
    protected Tensor? RegisterParameter(string name, Tensor? parameter, bool requiresGrad = true)
    {
        CheckName(name, "RegisterParameter", allowExisting: _parameters);
        if (parameter is not null)
        {
            if (!parameter.IsLeaf)
                throw new ArgumentException($"RegisterParameter: cannot register a non-leaf tensor as parameter '{name}' (it has GradFn {parameter.GradFn}); Detach() it first.");
            if (!parameter.DType.IsFloatingPoint())
                throw new ArgumentException($"RegisterParameter: parameter '{name}' must be floating-point, got {parameter.DType}.");
            parameter.RequiresGrad = requiresGrad;
        }
        _parameters[name] = DisposeScope.Keep(parameter);   // a module's state outlives any dispose scope
        return parameter;
    }

    /// <summary>
    /// Registers a buffer (PyTorch's <c>register_buffer</c>): state that is not trained, such as running
    /// statistics. Persistent buffers are part of <see cref="StateDict"/>; non-persistent ones are not.
    /// Registering again under the same name replaces the buffer. A null value reserves the name.
    /// </summary>
    protected Tensor? RegisterBuffer(string name, Tensor? buffer, bool persistent = true)
    {
        CheckName(name, "RegisterBuffer", allowExisting: _buffers);
        _buffers[name] = DisposeScope.Keep(buffer);
        if (persistent) _nonPersistent.Remove(name);
        else _nonPersistent.Add(name);
        return buffer;
    }

    /// <summary>Registers a child module (PyTorch's <c>add_module</c>/<c>register_module</c>); its parameters and
    /// buffers appear under <c>name.</c>. Registering again under the same name replaces the child.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module?
    {
        CheckName(name, "RegisterModule", allowExisting: _modules);
        if (ReferenceEquals(module, this)) throw new ArgumentException($"RegisterModule: a module cannot be its own child ('{name}').");
        _modules[name] = module;
        return module;
    }

    private void CheckName<TValue>(string name, string op, OrderedDictionary<string, TValue> allowExisting)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0) throw new ArgumentException($"{op}: the name must not be empty.");
        if (name.Contains('.')) throw new ArgumentException($"{op}: the name '{name}' must not contain '.'.");
        bool taken = (!ReferenceEquals(allowExisting, _parameters) && _parameters.ContainsKey(name))
                     || (!ReferenceEquals(allowExisting, _buffers) && _buffers.ContainsKey(name))
                     || (!ReferenceEquals(allowExisting, _modules) && _modules.ContainsKey(name));
        if (taken) throw new ArgumentException($"{op}: '{name}' is already registered as another kind of attribute of {TypeName}.");
    }

    /// <summary>The parameter registered under <paramref name="name"/> on this module (not recursive), or null.</summary>
    protected Tensor? GetParameter(string name) => _parameters.TryGetValue(name, out var t) ? t : null;

    /// <summary>The buffer registered under <paramref name="name"/> on this module (not recursive), or null.</summary>
    protected Tensor? GetBuffer(string name) => _buffers.TryGetValue(name, out var t) ? t : null;

    /// <summary>The child registered under <paramref name="name"/>, or null.</summary>
    protected Module? GetChild(string name) => _modules.TryGetValue(name, out var m) ? m : null;

    /// <summary>The number of registered child slots (including null ones).</summary>
    private protected int ChildSlotCount => _modules.Count;

    /// <summary>The module at a dotted path such as <c>layers.0</c> (PyTorch's <c>get_submodule</c>); "" is this module.</summary>
    public Module GetSubmodule(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Length == 0) return this;
        Module current = this;
        foreach (var part in target.Split('.'))
        {
            if (!current._modules.TryGetValue(part, out var next) || next is null)
                throw new ArgumentException($"GetSubmodule: {current.TypeName} has no submodule '{part}' (path '{target}').");
            current = next;
        }
        return current;
    }

    // ---------------------------------------------------------------- enumeration

    /// <summary>The parameters of this module and (with <paramref name="recurse"/>) all descendants, each once.</summary>
    public IEnumerable<Tensor> Parameters(bool recurse = true) => NamedParameters("", recurse).Select(p => p.Value);

    /// <summary>(dotted name, parameter) pairs in registration order, e.g. <c>layers.0.weight</c>. A tensor shared by
    /// several modules is listed once, under its first name, as PyTorch.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedParameters(string prefix = "", bool recurse = true) =>
        NamedMembers(m => m._parameters, prefix, recurse, _ => true);

    /// <summary>The buffers of this module and (with <paramref name="recurse"/>) all descendants.</summary>
    public IEnumerable<Tensor> Buffers(bool recurse = true) => NamedBuffers("", recurse).Select(p => p.Value);

    /// <summary>(dotted name, buffer) pairs, persistent or not, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers(string prefix = "", bool recurse = true) =>
        NamedMembers(m => m._buffers, prefix, recurse, _ => true);

    private IEnumerable<KeyValuePair<string, Tensor>> NamedMembers(Func<Module, OrderedDictionary<string, Tensor?>> members,
        string prefix, bool recurse, Func<string, bool> include)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var modules = recurse ? NamedModules(prefix) : [new KeyValuePair<string, Module>(prefix, this)];
        foreach (var (modulePrefix, module) in modules)
            foreach (var (name, t) in members(module))
                if (t is not null && include(name) && seen.Add(t))
                    yield return new(Join(modulePrefix, name), t);
    }

    /// <summary>The direct children, in registration order.</summary>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Value);

    /// <summary>(name, child) pairs of the direct children, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedChildren()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        foreach (var (name, m) in _modules)
            if (m is not null && seen.Add(m)) yield return new(name, m);
    }

    /// <summary>This module and every descendant, depth first (this module first), each once.</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Value);

    /// <summary>(dotted name, module) pairs of this module ("" or <paramref name="prefix"/>) and all descendants.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedModules(string prefix = "")
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<KeyValuePair<string, Module>>();
        stack.Push(new(prefix, this));
        while (stack.Count > 0)
        {
            var (name, m) = stack.Pop();
            if (!seen.Add(m)) continue;
            yield return new(name, m);
            var children = m._modules.Where(c => c.Value is not null).ToList();
            for (int i = children.Count - 1; i >= 0; i--) stack.Push(new(Join(name, children[i].Key), children[i].Value!));
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    // ---------------------------------------------------------------- modes and bulk operations

    /// <summary>Sets training mode on this module and all descendants; returns this module.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var m in Modules()) m.IsTraining = mode;
        return this;
    }

    /// <summary>Sets evaluation mode (<c>Train(false)</c>): Dropout becomes the identity, BatchNorm uses running statistics.</summary>
    public Module Eval() => Train(false);

    /// <summary>Sets every parameter's gradient to null (PyTorch's <c>zero_grad(set_to_none=True)</c>).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    /// <summary>Sets <see cref="Tensor.RequiresGrad"/> on every parameter, e.g. false to freeze a sub-network; returns this module.</summary>
    public Module RequiresGrad_(bool requiresGrad = true)
    {
        foreach (var p in Parameters()) p.RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>Calls <paramref name="fn"/> on every descendant (children first) and then on this module, as PyTorch's
    /// <c>apply</c> — the usual way to run custom initialisation. Returns this module.</summary>
    public Module Apply(Action<Module> fn)
    {
        ArgumentNullException.ThrowIfNull(fn);
        foreach (var child in Children()) child.Apply(fn);
        fn(this);
        return this;
    }

    /// <summary>
    /// Converts every floating-point parameter and buffer to <paramref name="dtype"/> in place; returns this module.
    /// Tensors already of that dtype are kept as they are (same objects). Others are replaced in the registry by a
    /// converted leaf with the same <see cref="Tensor.RequiresGrad"/> (and a converted gradient); integer buffers
    /// such as <c>num_batches_tracked</c> are left alone, as PyTorch. An optimizer created before a dtype change
    /// holds the old tensors: create it after calling this.
    /// </summary>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"Module.To: only floating-point dtypes are allowed, got {dtype}.");
        using var _ = GradMode.Set(false);
        // One replacement per tensor, so a tensor shared by several modules (tied weights) stays shared.
        var replaced = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var m in Modules())
        {
            foreach (var name in m._parameters.Keys.ToList())
            {
                if (m._parameters[name] is not { } p || p.DType == dtype) continue;
                if (!replaced.TryGetValue(p, out var converted))
                {
                    converted = p.Detach().To(dtype);
                    converted.RequiresGrad = p.RequiresGrad;
                    converted.Grad = p.Grad?.To(dtype);
                    replaced[p] = converted;
                }
                m._parameters[name] = DisposeScope.Keep(converted);
            }
            foreach (var name in m._buffers.Keys.ToList())
            {
                if (m._buffers[name] is not { } b || !b.DType.IsFloatingPoint() || b.DType == dtype) continue;
                if (!replaced.TryGetValue(b, out var converted)) replaced[b] = converted = b.To(dtype);
                m._buffers[name] = DisposeScope.Keep(converted);
            }
        }
        return this;
    }

    /// <summary>Shorthand for <c>To(DType.Float64)</c>.</summary>
    public Module Double() => To(DType.Float64);

    /// <summary>Shorthand for <c>To(DType.Float32)</c>.</summary>
    public Module Float() => To(DType.Float32);

    // ---------------------------------------------------------------- state dict

    /// <summary>
    /// The module's state (PyTorch's <c>state_dict</c>): dotted name → tensor for every parameter and persistent
    /// buffer, in registration order (own entries first, then each child). The tensors are detached views that share
    /// storage with the module, as PyTorch's: clone them to snapshot.
    /// </summary>
    public OrderedDictionary<string, Tensor> StateDict()
    {
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        CollectState(this, "", result, new HashSet<Module>(ReferenceEqualityComparer.Instance));
        return result;
    }

    // Like PyTorch, a module or tensor reachable under several names is saved under each of them.
    private static void CollectState(Module m, string prefix, OrderedDictionary<string, Tensor> result, HashSet<Module> ancestors)
    {
        if (!ancestors.Add(m)) throw new InvalidOperationException($"StateDict: the module tree has a cycle at '{prefix}'.");
        foreach (var (name, p) in m._parameters)
            if (p is not null) result[Join(prefix, name)] = p.Detach();
        foreach (var (name, b) in m._buffers)
            if (b is not null && !m._nonPersistent.Contains(name)) result[Join(prefix, name)] = b.Detach();
        foreach (var (name, child) in m._modules)
            if (child is not null) CollectState(child, Join(prefix, name), result, ancestors);
        ancestors.Remove(m);
    }

    /// <summary>
    /// Copies values from <paramref name="stateDict"/> into this module's parameters and persistent buffers
    /// (PyTorch's <c>load_state_dict</c>). Values are copied in place under <see cref="Autograd.NoGrad"/>, converting
    /// dtype if needed, so the tensor objects (and an optimizer that holds them) stay valid.
    /// A shape mismatch always throws. In <paramref name="strict"/> mode, missing and unexpected keys throw too;
    /// the message lists every missing key, unexpected key and shape mismatch by name. Nothing is copied when it throws.
    /// </summary>
    /// <returns>The missing and unexpected keys (both empty after a strict load).</returns>
    public LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var own = StateDict();
        var missing = own.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = new List<string>();
        foreach (var (name, target) in own)
        {
            if (!stateDict.TryGetValue(name, out var src)) continue;
            if (src is null) { mismatched.Add($"'{name}': the value is null"); continue; }
            if (!ShapeUtil.SameShape(src._shape, target._shape))
                mismatched.Add($"'{name}': copying a param with shape {ShapeUtil.Format(src._shape)} from checkpoint, the shape in current model is {ShapeUtil.Format(target._shape)}");
        }
        if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var sb = new StringBuilder($"Error(s) in loading state_dict for {TypeName}:");
            if (strict && missing.Count > 0) sb.Append("\n  Missing key(s) in state_dict: ").AppendJoin(", ", missing.Select(k => $"\"{k}\"")).Append('.');
            if (strict && unexpected.Count > 0) sb.Append("\n  Unexpected key(s) in state_dict: ").AppendJoin(", ", unexpected.Select(k => $"\"{k}\"")).Append('.');
            foreach (var m in mismatched) sb.Append("\n  size mismatch for ").Append(m).Append('.');
            throw new ArgumentException(sb.ToString());
        }
        using (GradMode.Set(false))
        {
            foreach (var (name, target) in own)
                if (stateDict.TryGetValue(name, out var src))
                    target.Copy_(src);
        }
        return new LoadStateDictResult(missing, unexpected);
    }

    // ---------------------------------------------------------------- printing

    /// <summary>The name printed by <see cref="ToString"/>; the class name by default (without generic arity).</summary>
    protected virtual string TypeName
    {
        get
        {
            var name = GetType().Name;
            int tick = name.IndexOf('`', StringComparison.Ordinal);
            return tick < 0 ? name : name[..tick];
        }
    }

    /// <summary>The text inside the parentheses of this module's line, e.g. <c>in_features=784, out_features=256, bias=True</c>
    /// (PyTorch's <c>extra_repr</c>); empty by default.</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>The module tree as PyTorch prints it, e.g. <c>Linear(in_features=784, out_features=256, bias=True)</c>
    /// and one indented <c>(name): …</c> line per child.</summary>
    public override string ToString()
    {
        var extra = ExtraRepr();
        var children = _modules.Where(c => c.Value is not null).ToList();
        if (children.Count == 0) return extra.Contains('\n') ? $"{TypeName}(\n  {Indent(extra)}\n)" : $"{TypeName}({extra})";
        var sb = new StringBuilder(TypeName).Append('(');
        if (extra.Length > 0) sb.Append("\n  ").Append(Indent(extra));
        foreach (var (name, child) in children)
            sb.Append("\n  (").Append(name).Append("): ").Append(Indent(child!.ToString()));
        return sb.Append("\n)").ToString();
    }

    private static string Indent(string s) => s.Replace("\n", "\n  ", StringComparison.Ordinal);

    /// <summary>The number of parameter elements (each shared tensor counted once); with <paramref name="trainableOnly"/>,
    /// only those that require grad.</summary>
    public long ParameterCount(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.RequiresGrad).Sum(p => (long)p.NumEl);

    /// <summary>
    /// A table of every module with its type, the shapes of its own parameters and their element count, followed by
    /// the total and trainable parameter counts (in the spirit of Keras' <c>summary()</c>).
    /// </summary>
    public string Summary()
    {
        var rows = new List<(string Name, string Type, string Shapes, long Count)>();
        foreach (var (name, m) in NamedModules())
        {
            var own = m._parameters.Where(p => p.Value is not null).ToList();
            rows.Add((name.Length == 0 ? "(root)" : name, m.TypeName,
                string.Join(" ", own.Select(p => $"{p.Key}{ShapeUtil.Format(p.Value!._shape)}")),
                own.Sum(p => (long)p.Value!.NumEl)));
        }
        int w0 = Math.Max(6, rows.Max(r => r.Name.Length)), w1 = Math.Max(4, rows.Max(r => r.Type.Length)), w2 = Math.Max(10, rows.Max(r => r.Shapes.Length));
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string line = new('-', w0 + w1 + w2 + 20);
        sb.Append("Module".PadRight(w0)).Append("  ").Append("Type".PadRight(w1)).Append("  ").Append("Parameters".PadRight(w2)).Append("  ").Append("#Params".PadLeft(12)).Append('\n');
        sb.Append(line).Append('\n');
        foreach (var r in rows)
            sb.Append(r.Name.PadRight(w0)).Append("  ").Append(r.Type.PadRight(w1)).Append("  ").Append(r.Shapes.PadRight(w2)).Append("  ")
              .Append(r.Count.ToString("N0", inv).PadLeft(12)).Append('\n');
        sb.Append(line).Append('\n');
        sb.Append("Total params: ").Append(ParameterCount().ToString("N0", inv)).Append('\n');
        sb.Append("Trainable params: ").Append(ParameterCount(trainableOnly: true).ToString("N0", inv)).Append('\n');
        sb.Append("Non-trainable params: ").Append((ParameterCount() - ParameterCount(trainableOnly: true)).ToString("N0", inv));
        return sb.ToString();
    }

    /// <summary>Formats a bool as PyTorch's repr does (<c>True</c>/<c>False</c>).</summary>
    private protected static string Py(bool b) => b ? "True" : "False";

    /// <summary>Formats a double as PyTorch's repr does (<c>0.5</c>, <c>1e-05</c>).</summary>
    private protected static string Py(double d)
    {
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("0.0", CultureInfo.InvariantCulture);
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        // .NET prints 1E-05; Python prints 1e-05.
        return s.Replace("E", "e", StringComparison.Ordinal);
    }

    /// <summary>Formats an int array as a Python tuple, e.g. <c>(3, 3)</c> or <c>(10,)</c>.</summary>
    private protected static string PyTuple(IReadOnlyList<int> v) =>
        v.Count == 1 ? $"({v[0]},)" : "(" + string.Join(", ", v) + ")";
}

/// <summary>The keys a non-strict <see cref="Module.LoadStateDict"/> did not match (PyTorch's <c>_IncompatibleKeys</c>).</summary>
/// <param name="MissingKeys">Keys of the module that the state dict did not contain (left unchanged).</param>
/// <param name="UnexpectedKeys">Keys of the state dict that the module does not have (ignored).</param>
public sealed record LoadStateDictResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys)
{
    /// <summary>Prints the key lists, as PyTorch's <c>_IncompatibleKeys</c>: <c>LoadStateDictResult(MissingKeys=[a, b], UnexpectedKeys=[])</c>.</summary>
    public override string ToString() =>
        $"LoadStateDictResult(MissingKeys=[{string.Join(", ", MissingKeys)}], UnexpectedKeys=[{string.Join(", ", UnexpectedKeys)}])";
}

/// <summary>A module with one input and one output; subclasses implement <see cref="Forward"/>.</summary>
/// <typeparam name="TIn">The input type, usually <see cref="Tensor"/>.</typeparam>
/// <typeparam name="TOut">The output type, usually <see cref="Tensor"/>.</typeparam>
public abstract class Module<TIn, TOut> : Module
{
    /// <summary>Computes the module's output (PyTorch's <c>forward</c>; call it directly, there are no hooks).</summary>
    public abstract TOut Forward(TIn input);
}

/// <summary>A module with two inputs, e.g. a loss taking (input, target); subclasses implement <see cref="Forward"/>.</summary>
/// <typeparam name="TIn1">The first input type.</typeparam>
/// <typeparam name="TIn2">The second input type.</typeparam>
/// <typeparam name="TOut">The output type.</typeparam>
public abstract class Module<TIn1, TIn2, TOut> : Module
{
    /// <summary>Computes the module's output from both inputs.</summary>
    public abstract TOut Forward(TIn1 input1, TIn2 input2);
}
