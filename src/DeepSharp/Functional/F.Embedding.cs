using System.Numerics;

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
        if (w.DType == DType.Float32) Gather(src.ReadSpan<float>(), result.Span<float>(), idx, dim, zeroRow);
        else Gather(src.ReadSpan<double>(), result.Span<double>(), idx, dim, zeroRow);
        return Node.Record(result, "EmbeddingBackward", [w], g => [EmbeddingScatter(g, idx, num, pad)]);

        static void Gather<T>(ReadOnlySpan<T> w, Span<T> o, long[] idx, int dim, int zeroRow) where T : unmanaged
        {
            for (int i = 0; i < idx.Length; i++)
                if (idx[i] != zeroRow) w.Slice((int)idx[i] * dim, dim).CopyTo(o.Slice(i * dim, dim));
        }
    }

    /// <summary>out[idx[i]] += g[i] for idx[i] != pad; the inverse of <see cref="EmbeddingGather"/>.</summary>
    private static Tensor EmbeddingScatter(Tensor g, long[] idx, int num, int pad)
    {
        int dim = g._shape[1];
        var src = g.Contiguous();
        var result = Tensor.Empty([num, dim], g.DType, zeroed: true);
        if (g.DType == DType.Float32) Scatter(src.ReadSpan<float>(), result.Span<float>(), idx, dim, pad);
        else Scatter(src.ReadSpan<double>(), result.Span<double>(), idx, dim, pad);
        return Node.Record(result, "EmbeddingDenseBackward", [g], gg => [EmbeddingGather(gg, idx, zeroRow: pad, pad)]);

        static void Scatter<T>(ReadOnlySpan<T> g, Span<T> o, long[] idx, int dim, int pad) where T : unmanaged, INumberBase<T>
        {
            for (int i = 0; i < idx.Length; i++)
            {
                if (idx[i] == pad) continue;
                var dst = o.Slice((int)idx[i] * dim, dim);
                var row = g.Slice(i * dim, dim);
                for (int j = 0; j < dim; j++) dst[j] += row[j];
            }
        }
    }
}
