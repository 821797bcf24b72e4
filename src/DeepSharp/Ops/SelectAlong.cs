using System.Numerics;
using DeepSharp.Kernels;

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

        void Run<T>(Tensor s, Tensor r) where T : unmanaged =>
            SelectAlongKernels.Select(s.ReadSpan<T>(), r.Span<T>(), index, outer, n, inner);
    }

    /// <summary>The adjoint of <see cref="SelectAlong"/>: zeros with size <paramref name="size"/> along d, g's runs added at index.</summary>
    private Tensor AddAlong(int d, int[] index, int size)
    {
        var (src, outer, _, inner) = AroundDim(d);
        var shape = (int[])_shape.Clone();
        shape[d] = size;
        var result = Empty(shape, DType);
        DispatchFloat(DType, "IndexSelectBackward", new AddAlongCore(src, result, index, outer, size, inner));
        return Node.Record(result, "IndexAddBackward", [this], g => [g.SelectAlong(d, index)]);
    }

    private readonly record struct AddAlongCore(Tensor Src, Tensor Result, int[] Index, int Outer, int Size, int Inner) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            SelectAlongKernels.Add(Src.ReadSpan<T>(), Result.Span<T>(), Index, Outer, Size, Inner);
    }
}
