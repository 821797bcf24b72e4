using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp.NN;

// Embedding lookup with its own forward and backward: a row gather, and a row scatter-add that skips the
// padding index. Each is the other's backward, so second derivatives work too.
public static partial class F
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/> [num, dim] for the Int64 indices in <paramref name="input"/> (any
    /// shape), giving [*input.shape, dim] (<c>F.embedding</c>). Rows looked up at <paramref name="paddingIdx"/> are
    /// returned as stored but receive no gradient. Indices must lie in [0, num).
    /// </summary>
    public static Tensor Embedding(Tensor input, Tensor weight, int? paddingIdx = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.DType != DType.Int64) throw new ArgumentException($"Embedding: expected Int64 indices, got {input.DType}; convert with Long().");
        if (weight.Dim != 2) throw new ArgumentException($"Embedding: weight must be 2-D [num_embeddings, embedding_dim], got shape {ShapeUtil.Format(weight._shape)}.");
        weight.CheckFloating("Embedding");
        int num = weight._shape[0];
        int pad = -1;
        if (paddingIdx is { } p)
        {
            if (p < -num || p >= num) throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: paddingIdx {p} must be within [{-num}, {num - 1}].");
            pad = p < 0 ? p + num : p;
        }
        var idx = input.ToArray<long>();
        foreach (long i in idx)
            if (i < 0 || i >= num)
                throw new ArgumentOutOfRangeException(nameof(input), $"Embedding: index {i} is out of range for {num} embeddings (valid indices are 0 to {num - 1}).");
        var flat = EmbeddingGather(weight, idx, zeroRow: -1, pad);
        var result = flat.View([.. input._shape, weight._shape[1]]);
        Tracing.Current?.Record("Embedding", result, [input, weight]);
        return result;
    }

    /// <summary>out[i] = w[idx[i]] (zero where idx[i] == zeroRow); backward scatters into w, skipping <paramref name="pad"/>.</summary>
    private static Tensor EmbeddingGather(Tensor w, long[] idx, int zeroRow, int pad)
    {
        int num = w._shape[0], dim = w._shape[1];
        var src = w.Contiguous();
        var result = Tensor.Empty([idx.Length, dim], w.DType, zeroed: true);
        Tensor.DispatchFloat(w.DType, "Embedding", new Gather(src, result, idx, dim, zeroRow));
        return Node.Record(result, "EmbeddingBackward", [w], g => [EmbeddingScatter(g, idx, num, pad)]);
    }

    /// <summary>out[idx[i]] += g[i] for idx[i] != pad; the inverse of <see cref="EmbeddingGather"/>.</summary>
    private static Tensor EmbeddingScatter(Tensor g, long[] idx, int num, int pad)
    {
        int dim = g._shape[1];
        var src = g.Contiguous();
        var result = Tensor.Empty([num, dim], g.DType, zeroed: true);
        Tensor.DispatchFloat(g.DType, "Embedding", new ScatterAdd(src, result, idx, dim, pad));
        return Node.Record(result, "EmbeddingDenseBackward", [g], gg => [EmbeddingGather(gg, idx, zeroRow: pad, pad)]);
    }

    private readonly record struct Gather(Tensor W, Tensor Result, long[] Idx, int Dim, int ZeroRow) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            GatherKernels.Gather(W.ReadSpan<T>(), Result.Span<T>(), Idx, Dim, ZeroRow);
    }

    private readonly record struct ScatterAdd(Tensor G, Tensor Result, long[] Idx, int Dim, int Pad) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            GatherKernels.ScatterAdd(G.ReadSpan<T>(), Result.Span<T>(), Idx, Dim, Pad);
    }
}
