namespace DeepSharp.NN;

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
