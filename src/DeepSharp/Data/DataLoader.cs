using System.Collections;
using DeepSharp.Kernels;

namespace DeepSharp.Data;

/// <summary>
/// Iterates a dataset in mini-batches (PyTorch's <c>DataLoader</c>): each enumeration is one epoch. With
/// <c>shuffle</c> every epoch draws a fresh permutation from the loader's <see cref="Generator"/>, so a run is
/// reproducible from its seed and epochs differ. The position within an epoch and the generator can be saved with
/// <see cref="StateDict"/> and restored with <see cref="LoadStateDict"/> to resume mid-epoch.
/// Loading happens on the calling thread.
/// </summary>
/// <typeparam name="TItem">The dataset's item type.</typeparam>
/// <typeparam name="TBatch">The type the collate function builds from a list of items.</typeparam>
public class DataLoader<TItem, TBatch> : IEnumerable<TBatch>
{
    private readonly Func<IReadOnlyList<TItem>, TBatch> _collate;
    private ulong[]? _epochStartState; // generator state before the current epoch's permutation
    private int _position;              // batches yielded in the current epoch
    private bool _inEpoch;
    private int _pendingSkip;

    /// <summary>A loader over <paramref name="dataset"/> that builds batches with <paramref name="collate"/>.</summary>
    /// <param name="dataset">The items.</param>
    /// <param name="collate">Builds a batch from the items of one mini-batch, in order.</param>
    /// <param name="batchSize">Items per batch (positive).</param>
    /// <param name="shuffle">Visit items in a new random order each epoch.</param>
    /// <param name="dropLast">Drop the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="generator">Source of the permutations; when null and shuffling, a generator seeded from the
    /// default generator (see <see cref="Torch.ManualSeed"/>) is created.</param>
    public DataLoader(Dataset<TItem> dataset, Func<IReadOnlyList<TItem>, TBatch> collate, int batchSize = 1, bool shuffle = false,
        bool dropLast = false, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(collate);
        if (batchSize <= 0) throw new ArgumentException($"DataLoader: batchSize must be positive, got {batchSize}.");
        Dataset = dataset;
        _collate = collate;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        if (shuffle && generator is null)
        {
            ulong seed = 0;
            DeepSharp.Generator.Use(null, g => seed = g.NextUInt64());
            generator = new Generator((long)seed);
        }
        Generator = generator;
    }

    /// <summary>The dataset.</summary>
    public Dataset<TItem> Dataset { get; }

    /// <summary>Items per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the items in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether an incomplete last batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>The generator the permutations are drawn from (null when not shuffling and none was given).</summary>
    public Generator? Generator { get; }

    /// <summary>The number of batches per epoch (<c>len(loader)</c>).</summary>
    public int Count => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>Starts an epoch: draws the order now (advancing the generator) and yields its batches.</summary>
    public IEnumerator<TBatch> GetEnumerator()
    {
        int n = Dataset.Count;
        _epochStartState = Generator?.GetState();
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (Shuffle)
        {
            RandomKernels.Shuffle<int>(order, Generator!);
        }
        int skip = _pendingSkip;
        _pendingSkip = 0;
        _position = skip;
        _inEpoch = true;
        return Iterate(order, skip, Count);
    }

    private IEnumerator<TBatch> Iterate(int[] order, int skip, int batches)
    {
        for (int b = skip; b < batches; b++)
        {
            int start = b * BatchSize, len = Math.Min(BatchSize, order.Length - start);
            var batch = Fetch(new ArraySegment<int>(order, start, len));
            _position = b + 1;
            if (_position == batches) _inEpoch = false;
            yield return batch;
        }
        _inEpoch = false;
    }

    /// <summary>Builds one batch from dataset indices (default: fetch each item, then collate).</summary>
    protected virtual TBatch Fetch(IReadOnlyList<int> indices)
    {
        var items = new TItem[indices.Count];
        for (int i = 0; i < items.Length; i++) items[i] = Dataset[indices[i]];
        return _collate(items);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// The loader's position for resuming: the generator state at the start of the current epoch and the number of
    /// batches already yielded in it (or, between epochs, the current generator state and 0).
    /// </summary>
    public DataLoaderState StateDict() => _inEpoch
        ? new DataLoaderState(_epochStartState, _position)
        : new DataLoaderState(Generator?.GetState(), 0);

    /// <summary>Restores <see cref="StateDict"/>: sets the generator and makes the next enumeration continue the saved epoch.</summary>
    /// <exception cref="ArgumentException">The state has a generator state but this loader has no generator, or a bad position.</exception>
    public void LoadStateDict(DataLoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.BatchesConsumed < 0 || state.BatchesConsumed > Count)
            throw new ArgumentException($"DataLoader.LoadStateDict: position {state.BatchesConsumed} is outside [0, {Count}] batches.");
        if (state.GeneratorState is not null)
        {
            if (Generator is null) throw new ArgumentException("DataLoader.LoadStateDict: the state has a generator state but this loader has no generator.");
            Generator.SetState(state.GeneratorState);
        }
        _pendingSkip = state.BatchesConsumed;
        _inEpoch = false;
    }
}

/// <summary>A data loader's resumable position (see <see cref="DataLoader{TItem, TBatch}.StateDict"/>).</summary>
/// <param name="GeneratorState">The generator state from which the epoch's permutation is drawn (null without a generator).</param>
/// <param name="BatchesConsumed">Batches of that epoch already yielded.</param>
public sealed record DataLoaderState(ulong[]? GeneratorState, int BatchesConsumed);

/// <summary>
/// The usual loader for tensor datasets: items are <c>Tensor[]</c> (e.g. input and target rows) and the default
/// collate stacks each position into a batch tensor, so a batch is <c>[inputs[B, …], targets[B, …]]</c>. Over a
/// <see cref="TensorDataset"/> the default collate gathers rows with one <see cref="Tensor.IndexSelect"/> per tensor.
/// </summary>
public sealed class DataLoader : DataLoader<Tensor[], Tensor[]>
{
    private readonly bool _fastPath;

    /// <summary>A loader over a dataset of tensor tuples.</summary>
    /// <param name="dataset">The items.</param>
    /// <param name="batchSize">Items per batch (positive).</param>
    /// <param name="shuffle">Visit items in a new random order each epoch.</param>
    /// <param name="dropLast">Drop the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="generator">Source of the permutations (see <see cref="DataLoader{TItem, TBatch}"/>).</param>
    /// <param name="collate">Builds a batch from items; <see cref="Collate.Stack(IReadOnlyList{Tensor[]})"/> when null.</param>
    public DataLoader(Dataset<Tensor[]> dataset, int batchSize = 1, bool shuffle = false, bool dropLast = false,
        Generator? generator = null, Func<IReadOnlyList<Tensor[]>, Tensor[]>? collate = null)
        : base(dataset, collate ?? Collate.Stack, batchSize, shuffle, dropLast, generator)
        => _fastPath = collate is null && dataset is TensorDataset;

    /// <inheritdoc/>
    protected override Tensor[] Fetch(IReadOnlyList<int> indices)
    {
        if (!_fastPath) return base.Fetch(indices);
        var idx = new long[indices.Count];
        for (int i = 0; i < idx.Length; i++) idx[i] = indices[i];
        var index = Tensor.FromBuffer(idx, idx.Length);
        var tensors = ((TensorDataset)Dataset).Tensors;
        var batch = new Tensor[tensors.Count];
        for (int i = 0; i < batch.Length; i++) batch[i] = tensors[i].IndexSelect(0, index);
        return batch;
    }
}

/// <summary>Collate functions (PyTorch's <c>default_collate</c> for tensors).</summary>
public static class Collate
{
    /// <summary>Stacks position j of every item into batch tensor j (items must have equal lengths and shapes per position).</summary>
    public static Tensor[] Stack(IReadOnlyList<Tensor[]> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("Collate.Stack: empty batch.");
        int k = items[0].Length;
        if (items.Any(it => it.Length != k))
            throw new ArgumentException($"Collate.Stack: items have different numbers of tensors ({string.Join(", ", items.Select(it => it.Length).Distinct())}).");
        var result = new Tensor[k];
        for (int j = 0; j < k; j++) result[j] = Tensor.Stack(items.Select(it => it[j]).ToArray());
        return result;
    }

    /// <summary>Stacks single-tensor items into one batch tensor.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("Collate.Stack: empty batch.");
        return Tensor.Stack(items);
    }
}
