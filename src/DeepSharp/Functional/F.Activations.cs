namespace DeepSharp.NN;

// ELU, Mish, Hardswish and PReLU (torch.nn.functional.elu, mish, hardswish, prelu), written with differentiable
// tensor ops so that every order of derivative works without a hand-written backward.
public static partial class F
{
    /// <summary>ELU (<c>F.elu</c>): x for x &gt; 0, α·(eˣ − 1) otherwise.</summary>
    /// <param name="input">Any floating-point tensor.</param>
    /// <param name="alpha">α (default 1).</param>
    public static Tensor Elu(Tensor input, double alpha = 1.0)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Elu");
        // exp only sees the non-positive part, so a large x never overflows into a NaN gradient.
        return input.Relu() + (input.Clamp(max: 0).Exp() - 1) * alpha;
    }

    /// <summary>Mish (<c>F.mish</c>): x·tanh(softplus(x)).</summary>
    public static Tensor Mish(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Mish");
        return input * input.Softplus().Tanh();
    }

    /// <summary>Hardswish (<c>F.hardswish</c>): x·ReLU6(x + 3)/6, i.e. 0 below −3, x above 3.</summary>
    public static Tensor Hardswish(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Hardswish");
        return input * (input + 3).Clamp(0, 6) * (1.0 / 6);
    }

    /// <summary>
    /// PReLU (<c>F.prelu</c>): max(0, x) + w·min(0, x), with <paramref name="weight"/> of one element (shared) or
    /// one element per channel (dim 1 of the input; dim 0 of a 1-D input).
    /// </summary>
    public static Tensor Prelu(Tensor input, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        input.CheckFloating("Prelu");
        if (weight.DType != input.DType)
            throw new ArgumentException($"Prelu: weight dtype {weight.DType} does not match input dtype {input.DType}.");
        if (weight.Dim > 1) throw new ArgumentException($"Prelu: weight must be 1-D (or a scalar), got shape {ShapeUtil.Format(weight._shape)}.");
        Tensor w = weight;
        if (weight.NumEl != 1)
        {
            int channelDim = input.Dim >= 2 ? 1 : 0;
            if (input.Dim == 0 || input._shape[channelDim] != weight.NumEl)
                throw new ArgumentException($"Prelu: weight of shape {ShapeUtil.Format(weight._shape)} has {weight.NumEl} elements, but the input of shape {ShapeUtil.Format(input._shape)} has {(input.Dim == 0 ? 0 : input._shape[channelDim])} channels.");
            var shape = new int[input.Dim - channelDim];
            Array.Fill(shape, 1);
            shape[0] = weight.NumEl;
            w = weight.Reshape(shape);
        }
        else if (weight.Dim == 1) w = weight.Reshape([]);
        return input.Relu() - (-input).Relu() * w;
    }
}
