namespace DeepSharp.NN;

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
