namespace DeepSharp.NN;

/// <summary>Returns its input unchanged (<c>nn.Identity</c>), e.g. as a placeholder in a <see cref="Sequential"/>.</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <summary>Returns <paramref name="input"/>.</summary>
    public override Tensor Forward(Tensor input) => input;
}
