using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Boolean-mask and integer-tensor indexing, IndexPut_, and ops whose gradients flow through integer index tensors.</summary>
    private static IEnumerable<OpInfo> IndexingAndIntegerOps()
    {
        // a = b·(q + f) with f in [0.15, 0.85]: a / b stays away from integers, where the remainder jumps.
        yield return new("Remainder",
            from shape in AnyShape()
            from b in TensorGen.AwayFromZero(shape, F64, 0.5)
            from q in TensorGen.Indices(shape, 5)
            from f in TensorGen.Tensor(shape, F64, 0.15, 0.85)
            let a = Detached(((q - 2L).To(F64) + f) * b)
            from ta in TensorGen.AnyLayout(a.RequiresGrad_())
            from tb in TensorGen.AnyLayout(Detached(b).RequiresGrad_())
            from useOperator in Gen.Elements(true, false)
            select new OpSample($"Remainder {S(shape)} ({(useOperator ? "%" : "method")})", [ta, tb],
                xs => useOperator ? xs[0] % xs[1] : xs[0].Remainder(xs[1])),
            ["Remainder", "op_Modulus"]);
        // Float64 with Int64 operands: promoted to Float64, the gradient flows to the floating input only.
        yield return new("Arithmetic promoted with Int64",
            from shapes in TensorGen.BroadcastPair()
            from x in Uniform(shapes.Left)
            from n in TensorGen.Tensor(shapes.Right, DType.Int64, 1, 4)
            select new OpSample($"x·n + n − x/n − 2 + 3·x with x {S(shapes.Left)} Float64, n {S(shapes.Right)} Int64", [x, n],
                xs => xs[0] * xs[1] + xs[1] - xs[0] / xs[1] - 2L + 3L * xs[0]),
            ["op_Multiply", "op_Addition", "op_Subtraction", "op_Division"]);
        // x[idx]: an Int64 index of rank 0-2 (duplicates, negative entries) on a random dim, or two indices
        // broadcast together on two random dims (adjacent or not), the other dims full slices.
        yield return new("Index by Int64 tensor",
            from shape in TensorGen.Shape(3, 4, 1)
            from dims in Gen.Elements(Subsets(shape.Length))
            from ishape in TensorGen.Shape(2, 3)
            from idx in Gen.CollectToArray(dims, d => TensorGen.Tensor(ishape, DType.Int64, -shape[d], shape[d]))
            from x in Uniform(shape)
            let key = Key(shape.Length, dims, [.. idx])
            select new OpSample($"x{S(shape)} with index {S(ishape)} on dims {S(dims)}", [x], xs => xs[0][key]),
            ["Index"], 20);
        // x[mask]: a Bool mask over k ≥ 1 consecutive dims starting at a random dim, optionally after an int.
        yield return new("Index by Bool mask",
            from shape in TensorGen.Shape(3, 4, 1)
            from start in Gen.Choose(0, shape.Length - 1)
            from k in Gen.Choose(1, shape.Length - start)
            from mask in TensorGen.Mask(shape[start..(start + k)])
            from x in Uniform(shape)
            from leadingInt in Gen.Elements(true, false)
            let useInt = leadingInt && start > 0
            select new OpSample($"x{S(shape)}[{(useInt ? "0, " : "")}mask {S(mask.Shape)} at dim {start}]", [x], xs =>
                useInt ? xs[0][[0, .. Enumerable.Repeat(TensorIndex.Colon, start - 1), mask]]
                       : xs[0][[.. Enumerable.Repeat(TensorIndex.Colon, start), mask]]),
            ["Index"], 20);
        // IndexPut with accumulate=false: distinct positions (with duplicates only the last write counts, and PyTorch's
        // gradient w.r.t. values, which this follows, is then not the derivative). Values broadcast from a random suffix.
        yield return new("IndexPut",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in Gen.Choose(0, shape.Length - 1)
            from count in Gen.Choose(0, shape[dim])
            from order in Gen.Shuffle(Enumerable.Range(0, shape[dim]).ToArray())
            from negative in Gen.Elements(true, false)
            let index = Tensor.FromArray(order.Take(count).Select(i => (long)(negative ? i - shape[dim] : i)).ToArray(), count)
            let target = (int[])[.. shape[..dim], count, .. shape[(dim + 1)..]]
            from drop in Gen.Choose(0, target.Length)
            from x in Uniform(shape)
            from v in Uniform(target[drop..])
            from inPlace in Gen.Elements(true, false)
            select new OpSample($"IndexPut x{S(shape)} dim {dim} {count} distinct indices, values {S(target[drop..])}{(inPlace ? " (setter on a clone)" : "")}", [x, v], xs =>
            {
                TensorIndex[] key = [.. Enumerable.Repeat(TensorIndex.Colon, dim), index];
                if (!inPlace) return xs[0].IndexPut(key, xs[1]);
                var y = xs[0] * 1.0;
                y[key] = xs[1];
                return y;
            }),
            ["IndexPut"], 20);
        // IndexPut with accumulate=true: any indices (duplicates summed), two indices broadcast together.
        yield return new("IndexPut accumulate",
            from shape in TensorGen.Shape(3, 4, 1)
            from dims in Gen.Elements(Subsets(shape.Length))
            from ishape in TensorGen.Shape(2, 3)
            from idx in Gen.CollectToArray(dims, d => TensorGen.Tensor(ishape, DType.Int64, -shape[d], shape[d]))
            let key = Key(shape.Length, dims, [.. idx])
            let target = IndexedShape(shape, key)
            from drop in Gen.Choose(0, target.Length)
            from x in Uniform(shape)
            from v in Uniform(target[drop..])
            from inPlace in Gen.Elements(true, false)
            select new OpSample($"IndexPut accumulate x{S(shape)} dims {S(dims)} index {S(ishape)} += values {S(target[drop..])}{(inPlace ? " (IndexPut_ on a clone)" : "")}", [x, v], xs =>
                inPlace ? (xs[0] * 1.0).IndexPut_(key, xs[1], accumulate: true) : xs[0].IndexPut(key, xs[1], accumulate: true)),
            ["IndexPut", "IndexPut_"], 20);
        yield return new("MaskedSelect",
            from shapes in TensorGen.BroadcastPair()
            from mask in TensorGen.Mask(shapes.Right)
            from x in Uniform(shapes.Left)
            select new OpSample($"MaskedSelect x{S(shapes.Left)} mask {S(shapes.Right)}", [x], xs => xs[0].MaskedSelect(mask)),
            ["MaskedSelect"], 20);
        yield return new("MaskedScatter",
            from shapes in TensorGen.BroadcastPair()
            from mask in TensorGen.Mask(shapes.Right)
            let count = Numel(ShapeOf(Tensor.Zeros(shapes.Left, F64).Expand(Broadcast(shapes.Left, shapes.Right)).MaskedSelect(mask.Expand(Broadcast(shapes.Left, shapes.Right)))))
            from extra in Gen.Choose(0, 3)
            from x in Uniform(shapes.Left)
            from source in Uniform([count + extra])
            select new OpSample($"MaskedScatter x{S(shapes.Left)} mask {S(shapes.Right)} source [{count + extra}]", [x, source], xs => xs[0].MaskedScatter(mask, xs[1])),
            ["MaskedScatter"], 20);
    }

    private static int[] ShapeOf(Tensor t) => [.. t.Shape];

    private static int[] Broadcast(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            r[i] = Math.Max(da, db);
        }
        return r;
    }

    /// <summary>The one- and two-element dim sets of a rank.</summary>
    private static int[][] Subsets(int rank)
    {
        var sets = new List<int[]>();
        for (int a = 0; a < rank; a++)
        {
            sets.Add([a]);
            for (int b = a + 1; b < rank; b++) sets.Add([a, b]);
        }
        return [.. sets];
    }

    /// <summary>Full slices everywhere except the given dims, which get the index tensors.</summary>
    private static TensorIndex[] Key(int rank, int[] dims, Tensor[] idx)
    {
        var key = new TensorIndex[dims[^1] + 1];
        for (int d = 0; d < key.Length; d++) key[d] = TensorIndex.Colon;
        for (int i = 0; i < dims.Length; i++) key[dims[i]] = idx[i];
        return key;
    }

    /// <summary>The shape x[key] has (computed by the op itself on zeros: only its shape is used).</summary>
    private static int[] IndexedShape(int[] shape, TensorIndex[] key) => ShapeOf(Tensor.Zeros(shape, F64)[key]);

    private static Tensor Detached(Tensor t)
    {
        using (Autograd.NoGrad()) return t.Clone().Detach();
    }
}
