using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Sum, mean, max/min, var/std, logsumexp, argmax: over all elements or along dims with keepDim.
public sealed partial class Tensor
{
    /// <summary>Normalises a dim list (negative dims wrap, duplicates rejected); null or empty means all dims.</summary>
    private bool[] ReducedDims(int[]? dims, string op)
    {
        var mask = new bool[Dim];
        if (dims is null || dims.Length == 0) { Array.Fill(mask, true); return mask; }
        foreach (int d in dims)
        {
            int w = ShapeUtil.WrapDim(d, Dim, op);
            if (Dim == 0) continue;
            if (mask[w]) throw new ArgumentException($"{op}: dim {d} appears multiple times in the list of dims.");
            mask[w] = true;
        }
        return mask;
    }

    private int[] KeptShape(bool[] mask, bool keepDim)
    {
        var shape = new List<int>();
        for (int i = 0; i < Dim; i++)
            if (!mask[i]) shape.Add(_shape[i]);
            else if (keepDim) shape.Add(1);
        return [.. shape];
    }

    /// <summary>Arranges the input as a contiguous [outer, r, inner] block for a reduction over <paramref name="mask"/>.</summary>
    private (Tensor Source, int Outer, int R, int Inner) ReduceLayout(bool[] mask)
    {
        int first = Array.IndexOf(mask, true), last = Array.LastIndexOf(mask, true);
        bool adjacent = first >= 0 && Enumerable.Range(first, last - first + 1).All(i => mask[i] || _shape[i] == 1);
        Tensor src;
        if (adjacent && _isContiguous)
        {
            src = this;
        }
        else
        {
            // Permute reduced dims to the end, once, then reduce contiguous rows.
            var perm = Enumerable.Range(0, Dim).Where(i => !mask[i]).Concat(Enumerable.Range(0, Dim).Where(i => mask[i])).ToArray();
            using (GradMode.Set(false)) src = Permute(perm).Contiguous();
            var permMask = perm.Select(i => mask[i]).ToArray();
            mask = permMask;
            first = Array.IndexOf(mask, true);
            last = Dim - 1;
        }
        int outer = 1, r = 1, inner = 1;
        for (int i = 0; i < Dim; i++)
        {
            if (i < first) outer *= src._shape[i];
            else if (i <= last) r *= mask[i] ? src._shape[i] : 1;
            else inner *= src._shape[i];
        }
        // Non-reduced size-1 dims inside [first, last] do not change the layout.
        return (src, outer, r, inner);
    }

    /// <summary>Sum of all elements (a 0-d tensor).</summary>
    public Tensor Sum() => Sum(null, false);

    /// <summary>Sum along one dim.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sum along dims (all when null).</summary>
    public Tensor Sum(int[]? dims, bool keepDim = false)
    {
        // Integer and Bool tensors sum to an Int64 count, as PyTorch's (pred == y).sum(); exact.
        if (DType is DType.Int64 or DType.Bool)
        {
            return LongSum(dims, keepDim);
        }
        CheckFloating("Sum");
        return SumOrMean(dims, keepDim, mean: false);
    }

    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => Mean(null, false);

    /// <summary>Mean along one dim.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Mean along dims (all when null).</summary>
    public Tensor Mean(int[]? dims, bool keepDim = false)
    {
        CheckFloating("Mean");   // as PyTorch: the mean of integers has no inferable dtype
        return SumOrMean(dims, keepDim, mean: true);
    }

    // Sum and Mean share one kernel call: Mean divides inside the reduction (one rounding, as PyTorch), not after it.
    private Tensor SumOrMean(int[]? dims, bool keepDim, bool mean)
    {
        string op = mean ? "Mean" : "Sum";
        var mask = ReducedDims(dims, op);
        int count = 1;
        for (int i = 0; i < Dim; i++) if (mask[i]) count *= _shape[i];
        var keptShape = KeptShape(mask, true);
        var result = Empty(keptShape, DType, zeroed: false);
        if (Dim == 0 || !mask.Contains(true)) result = Contiguous().Clone().Detach();   // nothing reduced: count is 1
        else
        {
            var (src, outer, r, inner) = ReduceLayout(mask);
            DispatchFloat(DType, op, new SumCore(src, result, outer, r, inner, mean ? count : 1));
        }
        var outShape = KeptShape(mask, keepDim);
        var final = new Tensor(result._storage, outShape, ShapeUtil.ContiguousStrides(outShape), 0);
        var inputShape = _shape;
        Tracing.Current?.Record(op, final, [this], mask, keepDim);
        if (!mean) return Node.Record(final, "SumBackward", [this], g => [g.Reshape(keptShape).Expand(inputShape)]);
        return Node.Record(final, "MeanBackward", [this], g => [g.Reshape(keptShape).Expand(inputShape) / count]);
    }

    /// <summary>Sums a (broadcast) gradient back to <paramref name="shape"/>: leading dims and dims that are 1 in the target.</summary>
    internal Tensor SumToShape(int[] shape)
    {
        if (ShapeUtil.SameShape(_shape, shape)) return this;
        int lead = Dim - shape.Length;
        if (lead < 0) throw new InvalidOperationException($"SumToShape: cannot reduce shape {ShapeUtil.Format(_shape)} to {ShapeUtil.Format(shape)}.");
        var dims = new List<int>();
        for (int i = 0; i < Dim; i++)
            if (i < lead || (shape[i - lead] == 1 && _shape[i] != 1)) dims.Add(i);
        var summed = dims.Count > 0 ? Sum([.. dims], keepDim: true) : this;
        return summed.Reshape(shape);
    }

    /// <summary>Largest element (gradient split evenly among ties, as PyTorch's <c>max()</c>).</summary>
    public Tensor Max() => ExtremeAll(true);

    /// <summary>Smallest element.</summary>
    public Tensor Min() => ExtremeAll(false);

    private Tensor ExtremeAll(bool max)
    {
        string op = max ? "Max" : "Min";
        if (NumEl == 0) throw new ArgumentException($"{op}: the reduction of an empty tensor is undefined; specify a dim.");
        if (DType is DType.Int64 or DType.Bool) return Flatten().LongExtreme(0, false, max, op).Values;
        CheckFloating(op);
        var (values, _) = Flatten().Extreme(0, false, max, op);
        var x = this;
        var v = values.Detach();
        return Node.Record(v, max ? "MaxBackward" : "MinBackward", [x], g =>
        {
            var ties = x.Eq(v).To(g.DType);
            return [ties * (g / ties.Sum())];
        }, x);
    }

    /// <summary>Max along dim: values and the Int64 index of each (<c>torch.max(x, dim)</c>).</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => Extreme(dim, keepDim, true, "Max");

    /// <summary>Min along dim: values and indices.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => Extreme(dim, keepDim, false, "Min");

    /// <summary>Max values along dims (<c>amax</c>; gradient split evenly among ties).</summary>
    public Tensor Amax(int dim, bool keepDim = false)
    {
        Tensor kept;
        using (GradMode.Set(false)) kept = Extreme(dim, true, true, "Amax").Values.Contiguous().Detach();
        int d = ShapeUtil.WrapDim(dim, Dim, "Amax");
        var outShape = keepDim || Dim == 0 ? kept._shape : kept._shape.Where((_, i) => i != d).ToArray();
        var result = new Tensor(kept._storage, outShape, ShapeUtil.ContiguousStrides(outShape), kept._offset);
        var x = this;
        var keptShape = kept._shape;
        return Node.Record(result, "AmaxBackward", [x], g =>
        {
            var ties = x.Eq(kept).To(g.DType);
            return [ties * (g.Reshape(keptShape) / ties.Sum(d, keepDim: true))];
        }, x);
    }

    /// <summary>Index of the largest element along dim (Int64, not differentiable).</summary>
    public Tensor ArgMax(int dim, bool keepDim = false) => Extreme(dim, keepDim, true, "ArgMax").Indices;

    /// <summary>Index of the largest element of the flattened tensor.</summary>
    public Tensor ArgMax() => Flatten().ArgMax(0);

    /// <summary>Index of the smallest element along dim.</summary>
    public Tensor ArgMin(int dim, bool keepDim = false) => Extreme(dim, keepDim, false, "ArgMin").Indices;

    /// <summary>Index of the smallest element of the flattened tensor.</summary>
    public Tensor ArgMin() => Flatten().ArgMin(0);

    private (Tensor Values, Tensor Indices) Extreme(int dim, bool keepDim, bool max, string op)
    {
        if (DType is DType.Int64 or DType.Bool) return LongExtreme(dim, keepDim, max, op);
        CheckFloating(op);
        int d = ShapeUtil.WrapDim(dim, Dim, op);
        if (Dim > 0 && _shape[d] == 0) throw new ArgumentException($"{op}: cannot reduce over dimension {d} of size 0 (shape {ShapeUtil.Format(_shape)}).");
        var mask = new bool[Dim];
        if (Dim > 0) mask[d] = true;
        var keptShape = KeptShape(mask, true);
        var values = Empty(keptShape, DType, zeroed: false);
        var indices = Empty(keptShape, DType.Int64, zeroed: false);
        if (Dim == 0) { values = Clone().Detach(); indices = Zeros([], DType.Int64); }
        else
        {
            var (src, outer, r, inner) = ReduceLayout(mask);
            DispatchFloat(DType, op, new ExtremeCore(src, values, indices, outer, r, inner, max));
        }
        var outShape = KeptShape(mask, keepDim);
        values = values.Reshape(outShape);
        indices = indices.Reshape(outShape);
        var inputShape = _shape;
        var keptIdx = indices.Reshape(keptShape);
        var result = Node.Record(values, max ? "MaxBackward" : "MinBackward", [this],
            g => [Dim == 0 ? g : ZerosLike(this).ScatterAdd(d, keptIdx, g.Reshape(keptShape))]);
        return (result, indices);
    }

    /// <summary>Variance along dims with Bessel's correction by default (<c>correction</c> = 1), as PyTorch.</summary>
    public Tensor Var(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        var mask = ReducedDims(dims, "Var");
        int n = 1;
        for (int i = 0; i < Dim; i++) if (mask[i]) n *= _shape[i];
        var centered = this - Mean(dims, keepDim: true);
        return (centered * centered).Sum(dims, keepDim) / Math.Max(n - correction, 0);
    }

    /// <summary>Variance along one dim.</summary>
    public Tensor Var(int dim, int correction = 1, bool keepDim = false) => Var([dim], correction, keepDim);

    /// <summary>Standard deviation along dims (Bessel's correction by default).</summary>
    public Tensor Std(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        ReducedDims(dims, "Std");
        return SqrtZeroGradAtZero(Var(dims, correction, keepDim));
    }

    /// <summary>Standard deviation along one dim.</summary>
    public Tensor Std(int dim, int correction = 1, bool keepDim = false) => Std([dim], correction, keepDim);

    /// <summary>log Σ exp(x) along dim, computed stably by subtracting the max.</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false)
    {
        CheckFloating("LogSumExp");
        ShapeUtil.WrapDim(dim, Dim, "LogSumExp");
        Tensor m;
        using (GradMode.Set(false))
        {
            m = Amax(dim, keepDim: true);
            // Rows of all −∞ would give −∞ − (−∞) = NaN; shift by 0 there instead.
            m = Where(m.Ne(double.NegativeInfinity).LogicalAnd(m.Ne(double.PositiveInfinity)), m, ZerosLike(m));
        }
        var result = (this - m).Exp().Sum(dim, keepDim: true).Log() + m;
        return keepDim ? result : result.Squeeze(dim);
    }

    private readonly record struct SumCore(Tensor Src, Tensor Result, int Outer, int R, int Inner, double Divisor) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ReduceKernels.Sum(Src.ReadSpan<T>(), Result.Span<T>(), Outer, R, Inner, Divisor);
    }

    private readonly record struct ExtremeCore(Tensor Src, Tensor Values, Tensor Indices, int Outer, int R, int Inner, bool Max) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ReduceKernels.ArgExtreme(Src.ReadSpan<T>(), Values.Span<T>(), Indices.Span<long>(), Outer, R, Inner, Max);
    }
}
