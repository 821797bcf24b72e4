using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Sort, ArgSort, TopK and Multinomial. Sorted values are Gather(dim, indices), so their gradient is a
// ScatterAdd and double backward comes for free.
public sealed partial class Tensor
{
    /// <summary>Sorts along dim (ascending unless <paramref name="descending"/>): the values and their Int64 positions in the
    /// input (<c>torch.sort</c>). NaN sorts above every number. The sort is always stable (equal elements keep their order),
    /// which satisfies <paramref name="stable"/> = true and is one valid answer for false.</summary>
    public (Tensor Values, Tensor Indices) Sort(int dim = -1, bool descending = false, bool stable = false)
    {
        _ = stable;
        var (values, indices) = SortCore(dim, descending, "Sort");
        var x = this;
        int d = Dim == 0 ? 0 : ShapeUtil.WrapDim(dim, Dim, "Sort");
        // As Gather's backward: the gradient goes back to where each value came from (ScatterAdd, whose backward
        // is Gather, so double backward works).
        var result = Node.Record(values, "SortBackward", [x], g => [x.Dim == 0 ? g : Zeros(x._shape, g.DType).ScatterAdd(d, indices, g)]);
        return (result, indices);
    }

    /// <summary>The Int64 positions that sort the input along dim (<c>torch.argsort</c>; stable).</summary>
    public Tensor ArgSort(int dim = -1, bool descending = false, bool stable = false)
    {
        _ = stable;
        return SortCore(dim, descending, "ArgSort").Indices;
    }

    private (Tensor Values, Tensor Indices) SortCore(int dim, bool descending, string op)
    {
        CheckFloating(op);
        int d = ShapeUtil.WrapDim(dim, Dim, op);
        if (Dim == 0) return (Detach().Clone(), Zeros([], DType.Int64));
        Tensor rows;
        using (GradMode.Set(false)) rows = Movedim(d, -1).Contiguous();
        int n = _shape[d];
        int count = n == 0 ? 0 : NumEl / n;
        var idx = Empty(rows._shape, DType.Int64, zeroed: false);
        var vals = Empty(rows._shape, DType, zeroed: false);
        DispatchFloat(DType, op, new SortRowsCore(rows, count, n, descending, vals, idx));
        if (d == Dim - 1) return (vals, idx);
        return (vals.Movedim(-1, d).Contiguous(), idx.Movedim(-1, d).Contiguous());
    }

    /// <summary>The k largest (smallest when not <paramref name="largest"/>) elements along dim and their Int64 positions,
    /// in sorted order (<c>torch.topk</c>; ties keep the earlier element first).</summary>
    public (Tensor Values, Tensor Indices) TopK(int k, int dim = -1, bool largest = true, bool sorted = true)
    {
        _ = sorted;
        CheckFloating("TopK");
        int d = ShapeUtil.WrapDim(dim, Dim, "TopK");
        int n = Dim == 0 ? 1 : _shape[d];
        if (k < 0 || k > n)
            throw new ArgumentException($"TopK: k ({k}) must be in [0, {n}], the size of dimension {d} of the input {ShapeUtil.Format(_shape)}.");
        if (Dim == 0)
        {
            var (v, i) = Reshape(1).TopK(k, 0, largest);
            return k == 1 ? (v.Reshape(), i.Reshape()) : (v, i);
        }
        var (ordered, order) = SortCore(d, largest, "TopK");
        var indices = order.Narrow(d, 0, k).Contiguous();
        var x = this;
        var values = Node.Record(ordered.Narrow(d, 0, k).Clone(), "TopKBackward", [x], g => [Zeros(x._shape, g.DType).ScatterAdd(d, indices, g)]);
        return (values, indices);
    }

    /// <summary>
    /// Draws <paramref name="numSamples"/> category indices (Int64) per row from non-negative weights — a 1-D tensor of n
    /// categories or a 2-D [rows, n] tensor (<c>torch.multinomial</c>). Without replacement each category is drawn at most
    /// once per row. Uses <paramref name="generator"/>, or the locked default generator.
    /// </summary>
    public Tensor Multinomial(int numSamples, bool replacement = false, Generator? generator = null)
    {
        CheckFloating("Multinomial");
        if (Dim is < 1 or > 2)
            throw new ArgumentException($"Multinomial: probabilities must be 1-D or 2-D, got shape {ShapeUtil.Format(_shape)}.");
        if (numSamples <= 0) throw new ArgumentException($"Multinomial: numSamples must be positive, got {numSamples}.");
        int n = _shape[^1], rows = Dim == 1 ? 1 : _shape[0];
        if (n == 0) throw new ArgumentException($"Multinomial: the number of categories cannot be zero (shape {ShapeUtil.Format(_shape)}).");
        if (!replacement && numSamples > n)
            throw new ArgumentException($"Multinomial: cannot sample {numSamples} > {n} categories (the size of the last dimension of {ShapeUtil.Format(_shape)}) without replacement.");
        double[] w;
        using (GradMode.Set(false)) w = To(DType.Float64).Contiguous().ToArray<double>();
        for (int r = 0; r < rows; r++)
        {
            double total = 0;
            int positive = 0;
            for (int i = 0; i < n; i++)
            {
                double v = w[r * n + i];
                if (!double.IsFinite(v) || v < 0)
                    throw new ArgumentException($"Multinomial: probabilities must be finite and non-negative, got {v} at row {r}, category {i} (shape {ShapeUtil.Format(_shape)}).");
                total += v;
                if (v > 0) positive++;
            }
            if (total <= 0) throw new ArgumentException($"Multinomial: the weights of row {r} sum to zero (shape {ShapeUtil.Format(_shape)}).");
            if (!replacement && positive < numSamples)
                throw new ArgumentException($"Multinomial: row {r} has only {positive} categories with non-zero probability, fewer than the {numSamples} samples requested without replacement.");
        }
        var result = Empty(Dim == 1 ? [numSamples] : [rows, numSamples], DType.Int64, zeroed: false);
        Generator.Use(generator, gen => SortKernels.Multinomial(w, rows, n, numSamples, replacement, gen, result.Span<long>()));
        return result;
    }

    private readonly record struct SortRowsCore(Tensor Rows, int Count, int N, bool Descending, Tensor Values, Tensor Indices)
        : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            SortKernels.SortRows(Rows.ReadSpan<T>(), Count, N, Descending, Values.Span<T>(), Indices.Span<long>());
    }
}
