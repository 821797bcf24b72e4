using System.Collections;

namespace DeepSharp.Distributed;

/// <summary>
/// Which dataset items each rank trains on (PyTorch's <c>DistributedSampler</c>), laid out so that data parallelism
/// and gradient accumulation see the same micro-batches: each epoch the indices are shuffled with a generator seeded
/// from (<c>seed</c>, epoch), cut into global batches of <c>WorldSize × batchSize</c>, and rank r takes the r-th slice of
/// each global batch. One process that accumulates N micro-batches takes, for micro-batch k, what rank k would take.
/// Every rank gets the same number of items: with <c>dropLast</c> an incomplete last global batch is dropped,
/// otherwise the list is padded with items from its start to a multiple of the world size and the last global batch is
/// split evenly. Call <see cref="SetEpoch"/> before each epoch.
/// </summary>
public sealed class DistributedSampler : IEnumerable<int>
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="length">The dataset's item count.</param>
    /// <param name="batchSize">Items per rank per step (B).</param>
    /// <param name="numReplicas">The world size N (default <see cref="Distributed.WorldSize"/>).</param>
    /// <param name="rank">This rank (default <see cref="Distributed.Rank"/>).</param>
    /// <param name="shuffle">Shuffle each epoch; otherwise dataset order.</param>
    /// <param name="seed">The shuffle seed, the same on every rank.</param>
    /// <param name="dropLast">Drop an incomplete last global batch instead of padding.</param>
    public DistributedSampler(int length, int batchSize, int? numReplicas = null, int? rank = null, bool shuffle = true, long seed = 0, bool dropLast = false)
    {
        int n = numReplicas ?? Distributed.WorldSize, r = rank ?? Distributed.Rank;
        if (length < 0) throw new ArgumentException($"DistributedSampler: length must be non-negative, got {length}.");
        if (batchSize <= 0) throw new ArgumentException($"DistributedSampler: batchSize must be positive, got {batchSize}.");
        if (n <= 0) throw new ArgumentException($"DistributedSampler: numReplicas must be positive, got {n}.");
        if (r < 0 || r >= n) throw new ArgumentException($"DistributedSampler: rank {r} is outside [0, {n}).");
        if (!dropLast && length == 0) throw new ArgumentException("DistributedSampler: the dataset is empty.");
        Length = length;
        BatchSize = batchSize;
        NumReplicas = n;
        Rank = r;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    /// <summary>The dataset's item count.</summary>
    public int Length { get; }
    /// <summary>Items per rank per step.</summary>
    public int BatchSize { get; }
    /// <summary>The number of ranks the data is split over.</summary>
    public int NumReplicas { get; }
    /// <summary>This sampler's rank.</summary>
    public int Rank { get; }
    /// <summary>Whether each epoch has its own order.</summary>
    public bool Shuffle { get; }
    /// <summary>The shuffle seed.</summary>
    public long Seed { get; }
    /// <summary>Whether an incomplete last global batch is dropped.</summary>
    public bool DropLast { get; }
    /// <summary>The epoch whose order is produced (see <see cref="SetEpoch"/>).</summary>
    public long Epoch { get; private set; }

    /// <summary>Selects the epoch: the order is drawn from (seed, epoch), the same on every rank.</summary>
    public void SetEpoch(long epoch) => Epoch = epoch;

    private int Global => NumReplicas * BatchSize;

    /// <summary>The number of items this rank gets per epoch (the same on every rank).</summary>
    public int Count => DropLast ? Length / Global * BatchSize : (Length + NumReplicas - 1) / NumReplicas;

    /// <summary>The number of steps (global batches) per epoch.</summary>
    public int StepsPerEpoch => DropLast ? Length / Global : (Count + BatchSize - 1) / BatchSize;

    /// <summary>This rank's items of the epoch, batch by batch: element i is the (at most <see cref="BatchSize"/>) indices of step i.</summary>
    public IEnumerable<int[]> Batches()
    {
        int[] order = Order();
        int total = DropLast ? Length / Global * Global : Count * NumReplicas;
        for (int start = 0; start < total; start += Global)
        {
            int per = Math.Min(Global, total - start) / NumReplicas;
            var batch = new int[per];
            for (int i = 0; i < per; i++) batch[i] = order[(start + Rank * per + i) % Length];
            yield return batch;
        }
    }

    private int[] Order()
    {
        var order = new int[Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (!Shuffle) return order;
        var g = new Generator(Distributed.SeedFor(Seed, Epoch, 0));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)g.NextInt64(0, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>This rank's items of the epoch, in order (the concatenation of <see cref="Batches"/>).</summary>
    public IEnumerator<int> GetEnumerator() => Batches().SelectMany(b => b).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
