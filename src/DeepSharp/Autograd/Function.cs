namespace DeepSharp;

/// <summary>
/// A differentiable op with a hand-written backward, defined in user code: DeepSharp's
/// <c>torch.autograd.Function</c>. Subclass it, implement <see cref="Forward"/> and <see cref="Backward"/>, and call
/// <see cref="Apply"/>:
/// <code>
/// sealed class Exp : Function
/// {
///     protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
///     {
///         var y = inputs[0].Exp();
///         ctx.SaveForBackward(y);
///         return y;
///     }
///     protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) =>
///         [gradOutput * ctx.SavedTensors[0]];
/// }
/// var y = new Exp().Apply(x);   // y.GradFn.Name == "ExpBackward"
/// </code>
/// </summary>
/// <remarks>
/// As in PyTorch: <see cref="Forward"/> runs with grad recording off (it is one op in the graph); the tensors given
/// to <see cref="FunctionContext.SaveForBackward"/> are checked for in-place modification before the backward runs
/// and are released after it (unless <c>retainGraph</c>); <see cref="Backward"/> returns one gradient per input
/// (null where none is needed, see <see cref="FunctionContext.NeedsInputGrad"/>), each of the input's shape (or a
/// shape that sums back to it) and dtype. Under <c>createGraph: true</c> the backward's own ops are recorded, so a
/// backward written with differentiable ops supports higher-order gradients. Check it with <see cref="GradCheck"/>.
/// One instance may be applied many times; each call gets its own context.
/// </remarks>
public abstract class Function
{
    /// <summary>The name of the nodes this function records (<see cref="Tensor.GradFn"/>): by default the class
    /// name followed by "Backward", as PyTorch prints custom functions.</summary>
    public virtual string Name => GetType().Name + "Backward";

    /// <summary>Computes the output from the inputs (grad recording is off here). Save what the backward needs
    /// with <see cref="FunctionContext.SaveForBackward"/>, and other state in <see cref="FunctionContext.Items"/>.</summary>
    protected abstract Tensor Forward(FunctionContext ctx, Tensor[] inputs);

    /// <summary>d(loss)/d(input i) for every input, from d(loss)/d(output); null for an input that needs no gradient.</summary>
    protected abstract Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput);

    /// <summary>Runs <see cref="Forward"/> and records it as one node of the graph when grad mode is on and an input
    /// requires grad.</summary>
    /// <exception cref="ArgumentNullException">An input is null.</exception>
    /// <exception cref="InvalidOperationException">Forward returned null.</exception>
    public Tensor Apply(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is null) throw new ArgumentNullException(nameof(inputs), $"{Name}: input {i} is null.");
        var needs = new bool[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) needs[i] = GradMode.IsEnabled && inputs[i].RequiresGrad;
        var ctx = new FunctionContext(needs);

        Tensor output;
        using (GradMode.Set(false)) output = Forward(ctx, inputs);
        if (output is null) throw new InvalidOperationException($"{Name}: Forward returned null.");
        // The node goes on a tensor object of its own: never on a caller's tensor returned as is.
        if (output._gradFn is not null || output.RequiresGrad || Array.IndexOf(inputs, output) >= 0) output = output.Detach();

        var shapes = new int[inputs.Length][];
        var dtypes = new DType[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) { shapes[i] = inputs[i]._shape; dtypes[i] = inputs[i].DType; }
        var result = Node.Record(output, Name, inputs, g => CheckedBackward(ctx, g, shapes, dtypes), [.. ctx.Saved]);
        if (result._gradFn is { } node) node.OnRelease(ctx.Release);
        else ctx.Release();
        return result;
    }

    private Tensor?[] CheckedBackward(FunctionContext ctx, Tensor gradOutput, int[][] shapes, DType[] dtypes)
    {
        var grads = Backward(ctx, gradOutput)
            ?? throw new InvalidOperationException($"{Name}: Backward returned null; return one gradient (or null) per input.");
        if (grads.Length != shapes.Length)
            throw new InvalidOperationException($"{Name}: Backward returned {grads.Length} gradients, but Forward had {shapes.Length} inputs.");
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            if (g is null) continue;
            if (!ctx.NeedsInputGrad[i]) { grads[i] = null; continue; }   // as PyTorch: ignored
            if (g.DType != dtypes[i])
                throw new InvalidOperationException($"{Name}: Backward returned a gradient of dtype {g.DType} for input {i}, which is {dtypes[i]}.");
            if (!ShapeUtil.SameShape(g._shape, shapes[i]) && !SumsBackTo(g._shape, shapes[i]))
                throw new InvalidOperationException($"{Name}: Backward returned a gradient of shape {ShapeUtil.Format(g._shape)} for input {i}, which has shape {ShapeUtil.Format(shapes[i])}.");
        }
        return grads;
    }

    // True when a tensor of shape `to` broadcasts to `from` (the engine then sums the gradient back).
    private static bool SumsBackTo(int[] from, int[] to)
    {
        if (to.Length > from.Length) return false;
        for (int i = 1; i <= to.Length; i++)
            if (to[^i] != from[^i] && to[^i] != 1) return false;
        return true;
    }
}

/// <summary>What a <see cref="Function"/>'s forward hands to its backward (PyTorch's <c>ctx</c>).</summary>
public sealed class FunctionContext
{
    private readonly List<Tensor> _saved = [];
    private bool _released;

    internal FunctionContext(bool[] needsInputGrad) => NeedsInputGrad = needsInputGrad;

    /// <summary>For each input: whether its gradient is needed (grad mode on and the input requires grad).</summary>
    public IReadOnlyList<bool> NeedsInputGrad { get; }

    /// <summary>Non-tensor state for the backward (sizes, flags, scalars), like attributes set on PyTorch's ctx.</summary>
    public Dictionary<string, object?> Items { get; } = [];

    internal IReadOnlyList<Tensor> Saved => _saved;

    /// <summary>Keeps tensors for the backward; modifying one in place before the backward makes it throw.
    /// Call it in <c>Forward</c> only.</summary>
    public void SaveForBackward(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var t in tensors) _saved.Add(t ?? throw new ArgumentNullException(nameof(tensors), "SaveForBackward: a tensor is null."));
    }

    /// <summary>The tensors given to <see cref="SaveForBackward"/>, in order.</summary>
    /// <exception cref="InvalidOperationException">The graph was already freed by a backward without <c>retainGraph</c>.</exception>
    public IReadOnlyList<Tensor> SavedTensors => _released
        ? throw new InvalidOperationException("SavedTensors: the saved tensors were freed after backward; pass retainGraph: true to Backward() to keep them.")
        : _saved;

    internal void Release()
    {
        _released = true;
        _saved.Clear();
        Items.Clear();
    }
}
