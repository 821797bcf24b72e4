using System.Collections;

namespace DeepSharp.Data;

/// <summary>A map-style dataset (PyTorch's <c>torch.utils.data.Dataset</c>): a count and items by index.</summary>
/// <typeparam name="T">The item type, e.g. <c>Tensor[]</c> for (input, target) pairs.</typeparam>
public abstract class Dataset<T> : IReadOnlyList<T>
{
    /// <summary>The number of items (<c>__len__</c>).</summary>
    public abstract int Count { get; }

    /// <summary>The item at <paramref name="index"/> in [0, Count) (<c>__getitem__</c>).</summary>
    public abstract T this[int index] { get; }

    /// <summary>Enumerates the items in index order.</summary>
    public IEnumerator<T> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// A dataset over tensors that share their first dimension (PyTorch's <c>TensorDataset</c>): item i is the array of
/// row i of each tensor (views, not copies).
/// </summary>
public sealed class TensorDataset : Dataset<Tensor[]>
{
    private readonly Tensor[] _tensors;

    /// <summary>Wraps <paramref name="tensors"/>, which must all have the same size in dimension 0.</summary>
    /// <exception cref="ArgumentException">No tensors, a 0-d tensor, or first dimensions that differ.</exception>
    public TensorDataset(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Length == 0) throw new ArgumentException("TensorDataset: expected at least one tensor.");
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            if (t.Dim == 0) throw new ArgumentException("TensorDataset: tensors must have at least one dimension (0-d tensor given).");
        }
        int n = tensors[0]._shape[0];
        if (tensors.Any(t => t._shape[0] != n))
            throw new ArgumentException($"TensorDataset: size mismatch between tensors, first dimensions are {string.Join(", ", tensors.Select(t => t._shape[0]))}.");
        _tensors = [.. tensors];
    }

    /// <summary>The wrapped tensors.</summary>
    public IReadOnlyList<Tensor> Tensors => _tensors;

    /// <inheritdoc/>
    public override int Count => _tensors[0]._shape[0];

    /// <inheritdoc/>
    public override Tensor[] this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"TensorDataset: index {index} is out of range for a dataset of {Count} items.");
            var row = new Tensor[_tensors.Length];
            for (int i = 0; i < row.Length; i++) row[i] = _tensors[i].Select(0, index);
            return row;
        }
    }
}
