namespace DeepSharp.NN;

/// <summary>
/// A fully connected layer y = x·Wᵀ + b (<c>nn.Linear</c>), with weight [out, in] and bias [out]. Initialised as
/// PyTorch: weight by Kaiming-uniform with a = √5 (i.e. U(−1/√in, 1/√in)), bias by U(−1/√in, 1/√in).
/// </summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="inFeatures">Size of each input sample (last input dim).</param>
    /// <param name="outFeatures">Size of each output sample.</param>
    /// <param name="bias">Whether to learn an additive bias.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation (default generator when null).</param>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inFeatures < 0 || outFeatures < 0) throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear: feature counts must be non-negative, got in={inFeatures}, out={outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var w = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures], dtype))!;
        var b = RegisterParameter("bias", bias ? Tensor.Zeros([outFeatures], dtype) : null);
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: generator);
        if (b is not null)
        {
            double bound = inFeatures > 0 ? 1 / Math.Sqrt(inFeatures) : 0;
            Init.Uniform(b, -bound, bound, generator);
        }
    }

    /// <summary>Size of each input sample.</summary>
    public int InFeatures { get; }

    /// <summary>Size of each output sample.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight [out_features, in_features] (parameter <c>weight</c>).</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>The bias [out_features] (parameter <c>bias</c>), or null without bias.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <summary>x·Wᵀ + b for x of shape [*, in_features].</summary>
    public override Tensor Forward(Tensor input) => F.Linear(input, Weight, Bias);

    /// <summary>relu(x·Wᵀ + b) with the ReLU fused into the bias pass (one pass forward, one mask pass backward); the
    /// same values and gradients as <c>F.Relu(Forward(input))</c>.</summary>
    internal Tensor ForwardRelu(Tensor input) => F.Linear(input, Weight, Bias, relu: true);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Py(Bias is not null)}";
}

/// <summary>Returns its input unchanged (<c>nn.Identity</c>), e.g. as a placeholder in a <see cref="Sequential"/>.</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <summary>Returns <paramref name="input"/>.</summary>
    public override Tensor Forward(Tensor input) => input;
}

/// <summary>Flattens dims <c>startDim … endDim</c> into one (<c>nn.Flatten</c>; by default all but the batch dim).</summary>
/// <param name="startDim">First dim to flatten (default 1).</param>
/// <param name="endDim">Last dim to flatten (default −1).</param>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module<Tensor, Tensor>
{
    /// <summary>First dim to flatten.</summary>
    public int StartDim { get; } = startDim;

    /// <summary>Last dim to flatten.</summary>
    public int EndDim { get; } = endDim;

    /// <summary>The flattened view (or copy when the layout requires one).</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Flatten(StartDim, EndDim);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"start_dim={StartDim}, end_dim={EndDim}";
}

/// <summary>Splits dim <c>dim</c> into <c>sizes</c> (<c>nn.Unflatten</c>), the inverse of <see cref="Flatten"/>.</summary>
public sealed class Unflatten : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="dim">The dim to split.</param>
    /// <param name="sizes">The new sizes; their product must equal the size of <paramref name="dim"/> (one may be −1).</param>
    public Unflatten(int dim, params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length == 0) throw new ArgumentException("Unflatten: sizes must not be empty.");
        Dim = dim;
        _sizes = (int[])sizes.Clone();
    }

    /// <summary>The dim that is split.</summary>
    public int Dim { get; }

    /// <summary>The sizes it is split into (a copy).</summary>
    public int[] Sizes => (int[])_sizes.Clone();

    private readonly int[] _sizes;

    /// <summary>The unflattened view.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Unflatten(Dim, _sizes);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}, unflattened_size={PyTuple(_sizes)}";
}
