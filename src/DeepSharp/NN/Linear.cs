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

    /// <summary>
    /// The weight [out_features, in_features] (parameter <c>weight</c>). Setting it registers another leaf tensor of the
    /// same shape in its place — <c>lmHead.Weight = embedding.Weight</c> ties the two layers (weight tying, as GPT
    /// models do): one tensor, listed once by <see cref="Module.Parameters"/>, gradients of both uses summed.
    /// </summary>
    public Tensor Weight
    {
        get => GetParameter("weight")!;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!ShapeUtil.SameShape(value._shape, [OutFeatures, InFeatures]))
                throw new ArgumentException($"Linear.Weight: expected a weight of shape [{OutFeatures}, {InFeatures}], got {ShapeUtil.Format(value._shape)}.");
            RegisterParameter("weight", value, value.RequiresGrad);
        }
    }

    /// <summary>The bias [out_features] (parameter <c>bias</c>), or null without bias.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <summary>x·Wᵀ + b for x of shape [*, in_features].</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Linear(input, Weight, Bias));

    /// <summary>relu(x·Wᵀ + b) with the ReLU fused into the bias pass (one pass forward, one mask pass backward); the
    /// same values and gradients as <c>F.Relu(Forward(input))</c>.</summary>
    internal Tensor ForwardRelu(Tensor input) => F.Linear(input, Weight, Bias, relu: true);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Py(Bias is not null)}";
}
