using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Testing;

/// <summary>How <see cref="TensorGen.WithLayout"/> lays out a copy of a tensor in memory.</summary>
public enum TensorLayout
{
    /// <summary>A fresh contiguous tensor.</summary>
    Contiguous,
    /// <summary>A permuted view of a contiguous buffer holding the dims in another order (strides not row-major).</summary>
    Transposed,
    /// <summary>Every k-th element along one dim of a larger buffer (<c>x[..., off::k, ...]</c>), the gaps filled with NaN.</summary>
    Strided,
    /// <summary>A contiguous view that starts at a nonzero storage offset, preceded by NaN.</summary>
    Offset,
}

/// <summary>
/// FsCheck generators for DeepSharp tensors, for property tests and gradient checks. Sizes are bounded
/// (rank ≤ 4 and at most <see cref="DefaultMaxNumel"/> elements by default) so that finite-difference checks stay fast.
/// Tensor values are derived from a seed that FsCheck draws, through DeepSharp's <see cref="Generator"/>, so a failing
/// case replays exactly from FsCheck's reported seed.
/// </summary>
public static class TensorGen
{
    /// <summary>The default bound on the number of elements of generated shapes.</summary>
    public const int DefaultMaxNumel = 48;

    /// <summary>A seed for DeepSharp's <see cref="Generator"/>.</summary>
    public static Gen<long> Seed { get; } = Gen.Choose(0, int.MaxValue).Select(i => (long)i);

    // ------------------------------------------------------------------ shapes and dims

    /// <summary>
    /// Shapes of rank <paramref name="minRank"/>…<paramref name="maxRank"/> with sizes <paramref name="minDim"/>…<paramref name="maxDim"/>
    /// and at most <paramref name="maxNumel"/> elements (the largest sizes are reduced until the bound holds).
    /// </summary>
    public static Gen<int[]> Shape(int maxRank = 3, int maxDim = 4, int minRank = 0, int minDim = 1, int maxNumel = DefaultMaxNumel)
    {
        if (minRank < 0 || maxRank < minRank || maxRank > 8)
            throw new ArgumentException($"TensorGen.Shape: need 0 ≤ minRank ≤ maxRank ≤ 8, got minRank {minRank} and maxRank {maxRank}.");
        if (minDim < 0 || maxDim < minDim)
            throw new ArgumentException($"TensorGen.Shape: need 0 ≤ minDim ≤ maxDim, got minDim {minDim} and maxDim {maxDim}.");
        return Gen.Choose(minRank, maxRank)
            .SelectMany(rank => Gen.ArrayOf(Gen.Choose(minDim, maxDim), rank))
            .Select(dims => Bound(dims, Math.Max(minDim, 1), maxNumel));
    }

    /// <summary>A shape of exactly <paramref name="rank"/> dims.</summary>
    public static Gen<int[]> ShapeOfRank(int rank, int maxDim = 4, int minDim = 1, int maxNumel = DefaultMaxNumel) =>
        Shape(rank, maxDim, rank, minDim, maxNumel);

    private static int[] Bound(int[] dims, int floor, int maxNumel)
    {
        while (Numel(dims) > maxNumel)
        {
            int largest = 0;
            for (int i = 1; i < dims.Length; i++) if (dims[i] > dims[largest]) largest = i;
            if (dims[largest] <= floor) break;
            dims[largest]--;
        }
        return dims;
    }

    private static long Numel(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    /// <summary>A valid dim for a tensor of rank <paramref name="rank"/>, negative (from the end) or not; a 0-d tensor takes 0 or −1.</summary>
    public static Gen<int> Dim(int rank)
    {
        int r = Math.Max(rank, 1);
        return Gen.Choose(-r, r - 1);
    }

    /// <summary>A non-empty list of distinct dims of a tensor of rank ≥ 1 (each possibly negative).</summary>
    public static Gen<int[]> Dims(int rank)
    {
        if (rank < 1) throw new ArgumentException($"TensorGen.Dims: need rank ≥ 1, got {rank}.");
        return Gen.SubListOf(Enumerable.Range(0, rank).ToArray())
            .Where(l => l.Count > 0)
            .SelectMany(l => Gen.CollectToArray(l, d => Gen.Elements(d, d - rank)));
    }

    /// <summary>
    /// Two shapes that broadcast together: a result shape is drawn, then each operand drops some leading dims and
    /// turns some sizes into 1 (so size-1 and missing leading dims are both exercised).
    /// </summary>
    public static Gen<(int[] Left, int[] Right)> BroadcastPair(int maxRank = 3, int maxDim = 4, int maxNumel = DefaultMaxNumel) =>
        from result in Shape(maxRank, maxDim, 0, 1, maxNumel)
        from left in Operand(result)
        from right in Operand(result)
        select (left, right);

    private static Gen<int[]> Operand(int[] result) =>
        from drop in Gen.Choose(0, result.Length)
        from ones in Gen.ArrayOf(Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true))), result.Length)
        select result.Skip(drop).Select((s, i) => ones[i + drop] ? 1 : s).ToArray();

    /// <summary>The shape two operands broadcast to (NumPy rules), or an <see cref="ArgumentException"/> when they do not.</summary>
    public static int[] BroadcastShape(int[] left, int[] right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        int rank = Math.Max(left.Length, right.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int a = i < rank - left.Length ? 1 : left[i - (rank - left.Length)];
            int b = i < rank - right.Length ? 1 : right[i - (rank - right.Length)];
            if (a != b && a != 1 && b != 1) throw new ArgumentException($"TensorGen.BroadcastShape: [{string.Join(", ", left)}] and [{string.Join(", ", right)}] do not broadcast.");
            result[i] = a == 1 ? b : a;
        }
        return result;
    }

    // ------------------------------------------------------------------ values

    /// <summary>Uniform values in [<paramref name="min"/>, <paramref name="max"/>) of the given shape, from a drawn seed.</summary>
    public static Gen<Tensor> Tensor(int[] shape, DType dtype = DType.Float64, double min = -2, double max = 2, bool requiresGrad = false) =>
        Seed.Select(s => FromSeed(s, shape, dtype, min, max, requiresGrad));

    /// <summary>Uniform values of a drawn shape.</summary>
    public static Gen<Tensor> Tensor(Gen<int[]> shape, DType dtype = DType.Float64, double min = -2, double max = 2, bool requiresGrad = false) =>
        shape.SelectMany(s => Tensor(s, dtype, min, max, requiresGrad));

    /// <summary>
    /// The tensor <see cref="Tensor(int[], DType, double, double, bool)"/> generates for <paramref name="seed"/>: uniform values
    /// in [min, max) (Int64: integers in [min, max); Bool: fair coin flips). Deterministic, for replaying a failure by hand.
    /// </summary>
    public static Tensor FromSeed(long seed, int[] shape, DType dtype = DType.Float64, double min = -2, double max = 2, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!(max >= min)) throw new ArgumentException($"TensorGen.FromSeed: min ({min}) must not exceed max ({max}).");
        var gen = new Generator(seed);
        var t = dtype switch
        {
            DType.Int64 => DeepSharp.Tensor.RandInt((long)Math.Ceiling(min), Math.Max((long)Math.Ceiling(min) + 1, (long)Math.Ceiling(max)), shape, DType.Int64, gen),
            DType.Bool => DeepSharp.Tensor.RandInt(0, 2, shape, DType.Int64, gen).To(DType.Bool),
            _ => DeepSharp.Tensor.Rand(shape, dtype, gen) * (max - min) + min,
        };
        return Finish(t, requiresGrad);
    }

    private static Tensor Finish(Tensor t, bool requiresGrad)
    {
        t = t.Detach();
        if (requiresGrad) t.RequiresGrad_();
        return t;
    }

    /// <summary>
    /// Values whose magnitude lies in [<paramref name="margin"/>, <paramref name="max"/>] with a random sign: away from the kink
    /// at 0 of ReLU, Abs, LeakyReLU and away from the pole of 1/x.
    /// </summary>
    public static Gen<Tensor> AwayFromZero(int[] shape, DType dtype = DType.Float64, double margin = 0.1, double max = 2, bool requiresGrad = false) =>
        AwayFrom(shape, [0.0], margin, dtype, -max, max, requiresGrad);

    /// <summary>
    /// Values in [<paramref name="min"/>, <paramref name="max"/>] at distance ≥ <paramref name="margin"/> from every point of
    /// <paramref name="kinks"/> (e.g. the bounds of a Clamp). Values drawn too close are pushed out to the margin.
    /// </summary>
    public static Gen<Tensor> AwayFrom(int[] shape, double[] kinks, double margin, DType dtype = DType.Float64, double min = -2, double max = 2, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(kinks);
        if (margin < 0) throw new ArgumentException($"TensorGen.AwayFrom: margin must be non-negative, got {margin}.");
        return Seed.Select(seed =>
        {
            var gen = new Generator(seed);
            int n = (int)Numel(shape);
            var values = new double[n];
            for (int i = 0; i < n; i++)
            {
                double v = min + gen.NextDouble() * (max - min);
                // A few passes: pushing away from one kink may land near another; give up after that (kinks closer than 2·margin).
                for (int pass = 0; pass < 4; pass++)
                {
                    bool moved = false;
                    foreach (double k in kinks)
                    {
                        if (Math.Abs(v - k) < margin) { v = v >= k ? k + margin : k - margin; moved = true; }
                    }
                    if (!moved) break;
                }
                values[i] = v;
            }
            return Build(values, shape, dtype, requiresGrad);
        });
    }

    /// <summary>
    /// Pairwise distinct values (a shuffled, jittered grid over [<paramref name="min"/>, <paramref name="max"/>] whose neighbours
    /// differ by at least half the grid step): no ties for Max/Min/Maximum, sorting or argmax.
    /// </summary>
    public static Gen<Tensor> Distinct(int[] shape, DType dtype = DType.Float64, double min = -2, double max = 2, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return Seed.Select(seed =>
        {
            var gen = new Generator(seed);
            int n = (int)Numel(shape);
            double step = n == 0 ? 0 : (max - min) / n;
            var values = new double[n];
            for (int i = 0; i < n; i++) values[i] = min + (i + 0.25 + 0.5 * gen.NextDouble()) * step;
            for (int i = n - 1; i > 0; i--)
            {
                int j = (int)gen.NextInt64(0, i + 1);
                (values[i], values[j]) = (values[j], values[i]);
            }
            return Build(values, shape, dtype, requiresGrad);
        });
    }

    /// <summary>Int64 indices in [0, <paramref name="high"/>) of the given shape (e.g. for Gather or IndexSelect).</summary>
    public static Gen<Tensor> Indices(int[] shape, int high)
    {
        if (high <= 0) throw new ArgumentException($"TensorGen.Indices: high must be positive, got {high}.");
        return Tensor(shape, DType.Int64, 0, high);
    }

    /// <summary>A Bool mask of the given shape.</summary>
    public static Gen<Tensor> Mask(int[] shape) => Tensor(shape, DType.Bool);

    private static Tensor Build(double[] values, int[] shape, DType dtype, bool requiresGrad)
    {
        var t = DeepSharp.Tensor.FromArray(values, (int[])shape.Clone());
        if (shape.Length == 0) t = t.Reshape();
        return Finish(t.To(dtype), requiresGrad);
    }

    // ------------------------------------------------------------------ layouts

    /// <summary>
    /// A tensor with the same values, shape, dtype and requires-grad flag as <paramref name="tensor"/>, laid out as a
    /// transposed or step-sliced view (falling back to an offset view when every non-contiguous layout is impossible,
    /// i.e. for fewer than two elements). Never an expanded view, so every element has its own memory location and
    /// finite differences can perturb elements one at a time. The result is a leaf.
    /// </summary>
    public static Gen<Tensor> NonContiguous(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var layouts = new List<TensorLayout>();
        if (CanTranspose(tensor.Shape)) layouts.Add(TensorLayout.Transposed);
        if (tensor.NumEl > 1) layouts.Add(TensorLayout.Strided);
        if (layouts.Count == 0) layouts.Add(TensorLayout.Offset);
        return Gen.Elements(layouts.ToArray()).SelectMany(l => Gen.Choose(0, 1000).Select(k => WithLayout(tensor, l, k)));
    }

    /// <summary>The tensor itself half of the time, otherwise one of its non-contiguous or offset copies.</summary>
    public static Gen<Tensor> AnyLayout(Tensor tensor) =>
        Gen.Frequency((2, Gen.Constant(tensor)), (2, NonContiguous(tensor)), (1, Gen.Choose(0, 1000).Select(k => WithLayout(tensor, TensorLayout.Offset, k))));

    private static bool CanTranspose(int[] shape) => shape.Count(s => s > 1) >= 2;

    /// <summary>
    /// A leaf copy of <paramref name="tensor"/> with the given memory layout; <paramref name="variant"/> picks among the
    /// possible permutations, dims, steps and offsets (deterministically). Padding elements of strided and offset layouts
    /// hold NaN (or a sentinel for Int64/Bool), so an op that reads outside the view gets caught.
    /// </summary>
    public static Tensor WithLayout(Tensor tensor, TensorLayout layout, int variant = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var shape = tensor.Shape;
        int rank = shape.Length;
        Tensor view;
        using (Autograd.NoGrad())
        {
            var values = tensor.Detach();
            switch (layout)
            {
                case TensorLayout.Contiguous:
                    view = values.Clone();
                    break;
                case TensorLayout.Transposed:
                {
                    if (!CanTranspose(shape)) throw new ArgumentException($"TensorGen.WithLayout: a tensor of shape [{string.Join(", ", shape)}] has no transposed layout.");
                    // Swap two dims of size > 1 (so the strides really change), then permute back.
                    var big = Enumerable.Range(0, rank).Where(i => shape[i] > 1).ToArray();
                    int a = big[variant % big.Length], b = big[(variant / big.Length + 1 + variant % big.Length) % big.Length];
                    if (a == b) b = big[(Array.IndexOf(big, a) + 1) % big.Length];
                    view = values.Transpose(a, b).Contiguous().Transpose(a, b);
                    break;
                }
                case TensorLayout.Strided:
                {
                    var big = Enumerable.Range(0, rank).Where(i => shape[i] > 1).ToArray();
                    if (big.Length == 0) throw new ArgumentException($"TensorGen.WithLayout: a tensor of shape [{string.Join(", ", shape)}] has no strided layout.");
                    int d = big[variant % big.Length];
                    int step = 2 + variant / big.Length % 2, start = variant % 3;
                    var bufShape = shape.ToArray();
                    bufShape[d] = start + (shape[d] - 1) * step + 1 + variant % 2;
                    var buffer = Padding(bufShape, values.DType);
                    view = buffer.Slice(d, start, null, step).Narrow(d, 0, shape[d]);
                    view.Copy_(values);
                    break;
                }
                case TensorLayout.Offset:
                {
                    int offset = 1 + variant % 5, n = tensor.NumEl;
                    var buffer = Padding([offset + n], values.DType);
                    view = buffer.Narrow(0, offset, n).View(shape);
                    view.Copy_(values);
                    break;
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(layout), layout, "Unknown layout.");
            }
        }
        return Finish(view, tensor.RequiresGrad);
    }

    private static Tensor Padding(int[] shape, DType dtype) =>
        dtype.IsFloatingPoint() ? DeepSharp.Tensor.Full(shape, double.NaN, dtype)
        : dtype == DType.Int64 ? DeepSharp.Tensor.Full(shape, -999_999, dtype)
        : DeepSharp.Tensor.Full(shape, 1, dtype);

    // ------------------------------------------------------------------ arbitraries

    /// <summary>
    /// Shrinks a tensor towards smaller ones (halving one dim, or removing one dim by selecting index 0), keeping the values
    /// of the elements that remain; for an <see cref="Arb.From{T}(Gen{T}, Func{T, IEnumerable{T}})"/> shrinker.
    /// </summary>
    public static IEnumerable<Tensor> Shrink(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var shape = tensor.Shape;
        for (int d = 0; d < shape.Length; d++)
        {
            Tensor smaller;
            using (Autograd.NoGrad()) smaller = tensor.Select(d, 0).Contiguous();
            yield return Finish(smaller.Clone(), tensor.RequiresGrad);
        }
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 2) continue;
            Tensor smaller;
            using (Autograd.NoGrad()) smaller = tensor.Narrow(d, 0, shape[d] / 2).Contiguous();
            yield return Finish(smaller.Clone(), tensor.RequiresGrad);
        }
    }
}

/// <summary>
/// Type-based arbitraries for FsCheck's <c>[Property(Arbitrary = new[] { typeof(TensorArbitraries) })]</c>:
/// Float64 <see cref="Tensor"/>s of bounded random shape (shrinking to smaller tensors), and bounded shapes.
/// </summary>
public static class TensorArbitraries
{
    /// <summary>Float64 tensors of rank ≤ 4 with values in [−2, 2), shrinking by dropping or halving dims.</summary>
    public static Arbitrary<Tensor> Tensor() =>
        Arb.From(TensorGen.Tensor(TensorGen.Shape(maxRank: 4)), TensorGen.Shrink);

    /// <summary>Shapes of rank ≤ 4 with at most <see cref="TensorGen.DefaultMaxNumel"/> elements.</summary>
    public static Arbitrary<int[]> Shape() =>
        Arb.From(TensorGen.Shape(maxRank: 4), s => Enumerable.Range(0, s.Length).Select(i => s.Where((_, j) => j != i).ToArray()));
}
