namespace DeepSharp;

// Index-select along a dim with indices known on the host (padding, resizing, repeat_interleave): the input seen
// as [outer, n, inner] and whole runs of `inner` contiguous elements copied. Its backward adds the runs back
// (AddAlong), whose backward is SelectAlong again, so double backward works.
public sealed partial class Tensor
{
    /// <summary>out[o, j, :] = x[o, index[j], :] along dim d (indices already validated by the caller).</summary>
    internal Tensor SelectAlong(int d, int[] index)
    {
        var (src, outer, n, inner) = AroundDim(d);
        var shape = (int[])_shape.Clone();
        shape[d] = index.Length;
        var result = Empty(shape, DType, zeroed: false);
        switch (DType)
        {
            case DType.Float32: Run<float>(src, result); break;
            case DType.Float64: Run<double>(src, result); break;
            case DType.Int64: Run<long>(src, result); break;
            default: Run<bool>(src, result); break;
        }
        if (!DType.IsFloatingPoint()) return result;
        int size = n;
        return Node.Record(result, "IndexSelectBackward", [this], g => [g.AddAlong(d, index, size)]);

        void Run<T>(Tensor s, Tensor r) where T : unmanaged
        {
            var from = s.ReadSpan<T>();
            var to = r.Span<T>();
            int m = index.Length;
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    from.Slice((o * n + index[j]) * inner, inner).CopyTo(to.Slice((o * m + j) * inner, inner));
        }
    }

    /// <summary>The adjoint of <see cref="SelectAlong"/>: zeros with size <paramref name="size"/> along d, g's runs added at index.</summary>
    private Tensor AddAlong(int d, int[] index, int size)
    {
        var (src, outer, m, inner) = AroundDim(d);
        var shape = (int[])_shape.Clone();
        shape[d] = size;
        var result = Empty(shape, DType);
        if (DType == DType.Float32) Run<float>(src, result);
        else Run<double>(src, result);
        return Node.Record(result, "IndexAddBackward", [this], g => [g.SelectAlong(d, index)]);

        void Run<T>(Tensor s, Tensor r) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var from = s.ReadSpan<T>();
            var to = r.Span<T>();
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                {
                    var dst = to.Slice((o * size + index[j]) * inner, inner);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, from.Slice((o * m + j) * inner, inner), dst);
                }
        }
    }
}
