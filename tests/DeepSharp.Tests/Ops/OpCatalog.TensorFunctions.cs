using DeepSharp.NN;
using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Tensor functions: sorting, scans, rounding, norms, einsum and the other element-wise math.</summary>
    private static IEnumerable<OpInfo> TensorFunctionOps()
    {
        // Element-wise math.
        yield return Unary("Log1p", x => x.Log1p(), s => Uniform(s, -0.7, 2), ["Log1p"], gradGrad: true);
        yield return Unary("Expm1", x => x.Expm1(), s => Uniform(s), ["Expm1"], gradGrad: true);
        yield return Unary("Erfinv", x => x.Erfinv(), s => Uniform(s, -0.9, 0.9), ["Erfinv"], gradGrad: true);
        yield return Unary("NanToNum", x => x.NanToNum(), s => Uniform(s), ["NanToNum"], gradGrad: true);
        yield return Binary("Hypot", (a, b) => a.Hypot(b), s => AwayFromZero(s, 0.2), s => AwayFromZero(s, 0.2), ["Hypot"], gradGrad: true);
        yield return Binary("Hypot static", Tensor.Hypot, s => AwayFromZero(s, 0.2), s => Uniform(s), ["Hypot"]);
        yield return Binary("Atan2", (a, b) => a.Atan2(b), s => Uniform(s), s => AwayFromZero(s, 0.3), ["Atan2"], gradGrad: true);
        yield return Binary("Atan2 static", Tensor.Atan2, s => AwayFromZero(s, 0.3), s => Uniform(s), ["Atan2"]);
        yield return new("Lerp",
            from shapes in TensorGen.BroadcastPair()
            from weightShape in Gen.Elements(shapes.Left, shapes.Right, Array.Empty<int>())
            from form in Gen.Choose(0, 3)
            from w in Scalar(-0.5, 1.5)
            from a in Uniform(shapes.Left)
            from b in Uniform(shapes.Right)
            from weight in Uniform(weightShape)
            select form switch
            {
                0 => new OpSample($"Lerp {S(shapes.Left)} to {S(shapes.Right)} weight {w}", [a, b], xs => xs[0].Lerp(xs[1], w)),
                1 => new OpSample($"Tensor.Lerp {S(shapes.Left)} to {S(shapes.Right)} weight {w}", [a, b], xs => Tensor.Lerp(xs[0], xs[1], w)),
                2 => new OpSample($"Tensor.Lerp {S(shapes.Left)} to {S(shapes.Right)} weight {S(weightShape)}", [a, b, weight], xs => Tensor.Lerp(xs[0], xs[1], xs[2])),
                _ => new OpSample($"Lerp {S(shapes.Left)} to {S(shapes.Right)} weight {S(weightShape)}", [a, b, weight], xs => xs[0].Lerp(xs[1], xs[2])),
            },
            ["Lerp"], 20, GradGrad: true);

        // Scans and products.
        yield return new("Cumsum",
            from shape in AnyShape()
            from dim in TensorGen.Dim(shape.Length)
            from x in Uniform(shape)
            select new OpSample($"Cumsum(dim {dim}) of {S(shape)}", [x], xs => xs[0].Cumsum(dim)),
            ["Cumsum"], 15, GradGrad: true);
        yield return new("Cumprod",
            from shape in AnyShape()
            from dim in TensorGen.Dim(shape.Length)
            from zeros in Gen.Elements(false, false, true)
            from x in zeros ? WithZeros(shape) : Uniform(shape)
            select new OpSample($"Cumprod(dim {dim}) of {S(shape)}{(zeros ? " with zeros" : "")}", [x], xs => xs[0].Cumprod(dim)),
            ["Cumprod"], 20, GradGrad: true);
        yield return new("Prod",
            OneOf(
                from shape in AnyShape()
                from zeros in Gen.Elements(false, true)
                from x in zeros ? WithZeros(shape) : Uniform(shape)
                select new OpSample($"Prod() of {S(shape)}{(zeros ? " with zeros" : "")}", [x], xs => xs[0].Prod()),
                from shape in AnyShape()
                from dim in TensorGen.Dim(shape.Length)
                from keep in Gen.Elements(true, false)
                from zeros in Gen.Elements(false, true)
                from x in zeros ? WithZeros(shape) : Uniform(shape)
                select new OpSample($"Prod(dim {dim}, keepDim {keep}) of {S(shape)}{(zeros ? " with zeros" : "")}", [x], xs => xs[0].Prod(dim, keep))),
            ["Prod"], 20, GradGrad: true);

        // Rearranging copies.
        yield return new("Flip",
            from shape in AnyShape(4)
            from dims in TensorGen.Dims(Math.Max(shape.Length, 1))
            from x in Uniform(shape)
            let ds = shape.Length == 0 ? new[] { 0 } : dims
            select new OpSample($"Flip({S(ds)}) of {S(shape)}", [x], xs => xs[0].Flip(ds)),
            ["Flip"], 15, GradGrad: true);
        yield return new("Roll",
            OneOf(
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                from shift in Gen.Choose(-5, 5)
                from x in Uniform(shape)
                select new OpSample($"Roll({shift}, dim {dim}) of {S(shape)}", [x], xs => xs[0].Roll(shift, dim)),
                from shape in TensorGen.Shape(3, 4, 0)
                from shift in Gen.Choose(-5, 5)
                from x in Uniform(shape)
                select new OpSample($"Roll([{shift}]) flattened, of {S(shape)}", [x], xs => xs[0].Roll([shift]))),
            ["Roll"], 15, GradGrad: true);
        yield return new("Repeat",
            from shape in AnyShape()
            from extra in Gen.Choose(0, 1)
            from sizes in Gen.ArrayOf(Gen.Choose(1, 3), shape.Length + extra)
            from x in Uniform(shape)
            select new OpSample($"Repeat({S(sizes)}) of {S(shape)}", [x], xs => xs[0].Repeat(sizes)),
            ["Repeat"], 15, GradGrad: true);
        yield return new("RepeatInterleave",
            OneOf(
                from shape in TensorGen.Shape(3, 3, 1)
                from dim in Gen.Elements<int?>(null, 0, -1)
                from r in Gen.Choose(0, 3)
                from x in Uniform(shape)
                select new OpSample($"RepeatInterleave({r}, dim {dim}) of {S(shape)}", [x], xs => xs[0].RepeatInterleave(r, dim)),
                from shape in TensorGen.Shape(3, 3, 1)
                from counts in Gen.ArrayOf(Gen.Choose(0, 3), shape[0])
                from x in Uniform(shape)
                select new OpSample($"RepeatInterleave(tensor {S(counts)}, dim 0) of {S(shape)}", [x],
                    xs => xs[0].RepeatInterleave(Tensor.FromArray(counts.Select(c => (long)c).ToArray(), counts.Length), 0))),
            ["RepeatInterleave"], 15, GradGrad: true);
        yield return new("Tril and Triu",
            from shape in TensorGen.Shape(3, 4, 2)
            from diagonal in Gen.Choose(-2, 2)
            from lower in Gen.Elements(true, false)
            from x in Uniform(shape)
            select new OpSample($"{(lower ? "Tril" : "Triu")}({diagonal}) of {S(shape)}", [x], xs => lower ? xs[0].Tril(diagonal) : xs[0].Triu(diagonal)),
            ["Tril", "Triu"], 15, GradGrad: true);
        yield return new("Diag",
            OneOf(
                from n in Gen.Choose(1, 4)
                from k in Gen.Choose(-2, 2)
                from x in Uniform([n])
                select new OpSample($"Diag({k}) of [{n}]", [x], xs => xs[0].Diag(k)),
                from n in Gen.Choose(1, 4)
                from m in Gen.Choose(1, 4)
                from k in Gen.Choose(-2, 2)
                from x in Uniform([n, m])
                select new OpSample($"Diag({k}) of [{n}, {m}]", [x], xs => xs[0].Diag(k))),
            ["Diag"], 15, GradGrad: true);
        yield return new("Outer",
            from n in Gen.Choose(1, 4)
            from m in Gen.Choose(1, 4)
            from isStatic in Gen.Elements(true, false)
            from a in Uniform([n])
            from b in Uniform([m])
            select new OpSample($"Outer [{n}] with [{m}]", [a, b], xs => isStatic ? Tensor.Outer(xs[0], xs[1]) : xs[0].Outer(xs[1])),
            ["Outer"], 10, GradGrad: true);

        // Sorting (distinct values: no ties, so the sorted order is smooth in the inputs).
        yield return new("Sort",
            from shape in AnyShape()
            from dim in TensorGen.Dim(shape.Length)
            from desc in Gen.Elements(true, false)
            from x in Distinct(shape)
            select new OpSample($"Sort(dim {dim}, descending {desc}) of {S(shape)}", [x], xs => xs[0].Sort(dim, desc).Values),
            ["Sort"], 15, GradGrad: true);
        yield return new("TopK",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in TensorGen.Dim(shape.Length)
            let n = shape[dim < 0 ? dim + shape.Length : dim]
            from k in Gen.Choose(0, n)
            from largest in Gen.Elements(true, false)
            from x in Distinct(shape)
            select new OpSample($"TopK({k}, dim {dim}, largest {largest}) of {S(shape)}", [x], xs => xs[0].TopK(k, dim, largest).Values),
            ["TopK"], 15, GradGrad: true);

        // Norms.
        yield return new("Norm",
            from shape in TensorGen.Shape(3, 4, 1)
            from p in Gen.Elements(2.0, 2.0, 3.0, 1.5, 1.0, double.PositiveInfinity, double.NegativeInfinity)
            from form in Gen.Choose(0, 2)
            from dims in TensorGen.Dims(shape.Length)
            from keep in Gen.Elements(true, false)
            from x in double.IsInfinity(p) ? Input(TensorGen.Distinct(shape, F64, 0.3, 2.5)).Select(t => t) : AwayFromZero(shape, 0.2)
            select form switch
            {
                0 => new OpSample($"Norm({p}) of {S(shape)}", [x], xs => xs[0].Norm(p)),
                1 => new OpSample($"Norm({p}, dim {dims[0]}, keepDim {keep}) of {S(shape)}", [x], xs => xs[0].Norm(p, dims[0], keep)),
                _ => new OpSample($"Norm({p}, dims {S(dims)}, keepDim {keep}) of {S(shape)}", [x], xs => xs[0].Norm(p, dims, keep)),
            },
            ["Norm"], 25, GradGrad: true);
        yield return new("Norm smooth p",
            from shape in TensorGen.Shape(3, 4, 1)
            from p in Gen.Elements(2.0, 3.0)
            from dims in TensorGen.Dims(shape.Length)
            from keep in Gen.Elements(true, false)
            from x in AwayFromZero(shape, 0.2)
            select new OpSample($"Norm({p}, dims {S(dims)}, keepDim {keep}) of {S(shape)}", [x], xs => xs[0].Norm(p, dims, keep)),
            ["Norm"], 10, GradGrad: true);

        // Einsum: common equations with random sizes.
        yield return new("Einsum", EinsumSamples(), ["Einsum"], 30, GradGrad: true);

        // Functional (F.*): not Tensor members, gradient-checked here all the same.
        yield return new("F.Pad",
            from mode in Gen.Elements("constant", "reflect", "replicate", "circular")
            from k in Gen.Choose(1, 2)
            from batch in Gen.Choose(1, 2)
            from spatial in Gen.ArrayOf(Gen.Choose(2, 4), k)
            from pads in Gen.ArrayOf(Gen.Choose(mode == "constant" ? -1 : 0, mode == "reflect" ? 1 : 2), 2 * k)
            from x in Uniform([batch, 2, .. spatial])
            select new OpSample($"F.Pad({S(pads)}, {mode}) of {S(x.Shape)}", [x], xs => F.Pad(xs[0], pads, mode, 0.5)),
            [], 20, GradGrad: true);
        yield return new("F.Interpolate",
            OneOf(
                from h in Gen.Choose(1, 4)
                from w in Gen.Choose(1, 4)
                from oh in Gen.Choose(1, 6)
                from ow in Gen.Choose(1, 6)
                from mode in Gen.Elements("nearest", "bilinear")
                from align in Gen.Elements<bool?>(null, true, false)
                from x in Uniform([1, 2, h, w])
                let ac = mode == "nearest" ? null : align
                select new OpSample($"F.Interpolate(size [{oh}, {ow}], {mode}, alignCorners {ac}) of [1, 2, {h}, {w}]", [x],
                    xs => F.Interpolate(xs[0], [oh, ow], null, mode, ac)),
                from w in Gen.Choose(1, 5)
                from f in Gen.Elements(0.5, 1.5, 2.0, 3.0)
                from mode in Gen.Elements("nearest", "linear")
                from x in Uniform([2, 1, w])
                where Math.Floor(w * f) >= 1
                select new OpSample($"F.Interpolate(scaleFactor {f}, {mode}) of [2, 1, {w}]", [x],
                    xs => F.Interpolate(xs[0], null, [f], mode))),
            [], 20, GradGrad: true);
        yield return new("F.Normalize",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in TensorGen.Dim(shape.Length)
            from p in Gen.Elements(1.0, 2.0, 3.0)
            from x in AwayFromZero(shape, 0.2)
            select new OpSample($"F.Normalize(p {p}, dim {dim}) of {S(shape)}", [x], xs => F.Normalize(xs[0], p, dim)),
            [], 15, GradGrad: true);
        yield return new("F.Unfold and F.Fold",
            from c in Gen.Choose(1, 2)
            from h in Gen.Choose(2, 4)
            from w in Gen.Choose(2, 4)
            from k in Gen.Choose(1, 2)
            from dilation in Gen.Choose(1, 2)
            from pad in Gen.Choose(0, 1)
            from stride in Gen.Choose(1, 2)
            where h + 2 * pad - dilation * (k - 1) >= 1 && w + 2 * pad - dilation * (k - 1) >= 1
            let oh = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1
            let ow = (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1
            from fold in Gen.Elements(true, false)
            from x in fold ? Uniform([1, c * k * k, oh * ow]) : Uniform([2, c, h, w])
            select fold
                ? new OpSample($"F.Fold(output ({h}, {w}), k {k}, d {dilation}, p {pad}, s {stride}) of {S(x.Shape)}", [x], xs => F.Fold(xs[0], (h, w), k, dilation, pad, stride))
                : new OpSample($"F.Unfold(k {k}, d {dilation}, p {pad}, s {stride}) of {S(x.Shape)}", [x], xs => F.Unfold(xs[0], k, dilation, pad, stride)),
            [], 20, GradGrad: true);
    }

    /// <summary>Values in [−2, 2] with about a third of them exactly zero (products and their gradients at zeros).</summary>
    private static Gen<Tensor> WithZeros(int[] shape) =>
        from t in TensorGen.Tensor(shape, F64)
        from m in TensorGen.Tensor(shape, F64, 0, 3)
        let zeroed = ZeroWhere(t, m)
        from x in TensorGen.AnyLayout(zeroed.RequiresGrad_())
        select x;

    private static Tensor ZeroWhere(Tensor t, Tensor m)
    {
        using (Autograd.NoGrad()) return Tensor.Where(m.Lt(1.0), 0.0, t).Detach();
    }

    private static Gen<OpSample> EinsumSamples()
    {
        var n = Gen.Choose(1, 3);
        Gen<OpSample> Case(string eq, params Func<int, int, int, int, int[]>[] shapes) =>
            from a in n from b in n from c in n from d in n
            from xs in Gen.CollectToArray(shapes.Select(f => f(a, b, c, d)), s => Uniform(s))
            select new OpSample($"Einsum(\"{eq}\") of {string.Join(", ", xs.Select(x => S(x.Shape)))}", xs, ts => Tensor.Einsum(eq, ts));
        return OneOf(
            Case("bij,bjk->bik", (a, b, c, d) => [a, b, c], (a, b, c, d) => [a, c, d]),
            Case("ij,jk->ik", (a, b, c, d) => [a, b], (a, b, c, d) => [b, c]),
            Case("ij,jk", (a, b, c, d) => [a, b], (a, b, c, d) => [b, c]),
            Case("i,j->ij", (a, b, c, d) => [a], (a, b, c, d) => [b]),
            Case("i,i->", (a, b, c, d) => [a], (a, b, c, d) => [a]),
            Case("ij->ji", (a, b, c, d) => [a, b]),
            Case("ii->", (a, b, c, d) => [a, a]),
            Case("ii->i", (a, b, c, d) => [a, a]),
            Case("ij->", (a, b, c, d) => [a, b]),
            Case("ijk->ki", (a, b, c, d) => [a, b, c]),
            Case("bhqd,bhkd->bhqk", (a, b, c, d) => [1, a, b, c], (a, b, c, d) => [1, a, d, c]),
            Case("ij,jk,kl->il", (a, b, c, d) => [a, b], (a, b, c, d) => [b, c], (a, b, c, d) => [c, d]),
            Case("...ij,...jk->...ik", (a, b, c, d) => [2, a, b], (a, b, c, d) => [b, c]),
            Case("bi,bi->b", (a, b, c, d) => [a, b], (a, b, c, d) => [a, b]),
            Case("ij,j->i", (a, b, c, d) => [a, b], (a, b, c, d) => [b]));
    }
}
