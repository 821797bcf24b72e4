using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

/// <summary>
/// Every differentiable op, with the domain its samples come from (like PyTorch's OpInfo database / derivatives.yaml).
/// Inputs are Float64 leaves that require grad, in random layouts (contiguous, transposed, step-sliced, offset), and
/// binary ops draw broadcasting shape pairs. <see cref="OpGradCheckTests"/> gradient-checks every entry, and
/// <see cref="OpCoverageTests"/> fails when a public op returning a tensor is neither here nor exempt.
/// </summary>
public static partial class OpCatalog
{
    private const DType F64 = DType.Float64;

    public static readonly OpInfo[] All = Build();

    public static OpInfo Get(string name) => All.Single(o => o.Name == name);

    // ------------------------------------------------------------------ input helpers

    /// <summary>A leaf that requires grad, with values from <paramref name="values"/>, in a random layout.</summary>
    private static Gen<Tensor> Input(Gen<Tensor> values) => values.SelectMany(t => TensorGen.AnyLayout(t.RequiresGrad_()));

    private static Gen<Tensor> Uniform(int[] shape, double min = -2, double max = 2) => Input(TensorGen.Tensor(shape, F64, min, max));
    private static Gen<Tensor> Positive(int[] shape) => Uniform(shape, 0.3, 2.5);
    private static Gen<Tensor> AwayFromZero(int[] shape, double margin = 0.1) => Input(TensorGen.AwayFromZero(shape, F64, margin));
    private static Gen<Tensor> Distinct(int[] shape) => Input(TensorGen.Distinct(shape, F64));

    /// <summary>Two tensors whose values are all pairwise distinct (no ties between them), in random layouts.</summary>
    private static Gen<(Tensor A, Tensor B)> DistinctPair(int[] a, int[] b) =>
        from all in TensorGen.Distinct([Numel(a) + Numel(b)], F64)
        from ta in TensorGen.AnyLayout(Piece(all, 0, a).RequiresGrad_())
        from tb in TensorGen.AnyLayout(Piece(all, Numel(a), b).RequiresGrad_())
        select (ta, tb);

    private static Tensor Piece(Tensor flat, int start, int[] shape)
    {
        using (Autograd.NoGrad()) return flat.Narrow(0, start, Numel(shape)).Reshape(shape).Clone();
    }

    private static int Numel(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    private static Gen<double> Scalar(double min = -2, double max = 2) => Gen.Choose(0, 1000).Select(i => min + (max - min) * i / 1000.0);

    private static Gen<double> ScalarAwayFromZero() => Gen.Choose(0, 1000).Select(i => (i % 2 == 0 ? 1 : -1) * (0.25 + 1.75 * i / 1000.0));

    private static Gen<int[]> AnyShape(int maxRank = 3) => TensorGen.Shape(maxRank: maxRank);

    private static string S(int[] shape) => $"[{string.Join(", ", shape)}]";

    private static Gen<OpSample> OneOf(params Gen<OpSample>[] variants) => Gen.OneOf(variants);

    // ------------------------------------------------------------------ entry builders

    private static OpInfo Unary(string name, Func<Tensor, Tensor> f, Func<int[], Gen<Tensor>> domain, string[] covers, bool gradGrad = true, int maxTest = 15) =>
        new(name,
            from shape in AnyShape()
            from x in domain(shape)
            select new OpSample(name, [x], xs => f(xs[0])),
            covers, maxTest, gradGrad);

    private static OpInfo Binary(string name, Func<Tensor, Tensor, Tensor> f, Func<int[], Gen<Tensor>> left, Func<int[], Gen<Tensor>> right, string[] covers, bool gradGrad = true) =>
        new(name,
            from shapes in TensorGen.BroadcastPair()
            from a in left(shapes.Left)
            from b in right(shapes.Right)
            select new OpSample($"{name} {S(shapes.Left)} with {S(shapes.Right)}", [a, b], xs => f(xs[0], xs[1])),
            covers, 15, gradGrad);

    private static OpInfo WithScalar(string name, Func<Tensor, double, Tensor> f, Func<int[], Gen<Tensor>> domain, Gen<double> scalar, string[] covers) =>
        new(name,
            from shape in AnyShape()
            from x in domain(shape)
            from s in scalar
            select new OpSample($"{name} s={s}", [x], xs => f(xs[0], s)),
            covers);

    /// <summary>A reduction over one random dim (keepDim random), over a random dim list, or over all elements.</summary>
    private static OpInfo Reduction(string name, Func<Tensor, Tensor> all, Func<Tensor, int, bool, Tensor> alongDim, Func<Tensor, int[], bool, Tensor>? alongDims,
        Func<int[], Gen<Tensor>> domain, string[] covers, bool gradGrad = true, int minRank = 0)
    {
        var allGen = from shape in TensorGen.Shape(3, 4, minRank)
                     from x in domain(shape)
                     select new OpSample($"{name}() of {S(shape)}", [x], xs => all(xs[0]));
        var dimGen = from shape in TensorGen.Shape(3, 4, Math.Max(minRank, 0))
                     from dim in TensorGen.Dim(shape.Length)
                     from keep in Gen.Elements(true, false)
                     from x in domain(shape)
                     select new OpSample($"{name}(dim {dim}, keepDim {keep}) of {S(shape)}", [x], xs => alongDim(xs[0], dim, keep));
        if (alongDims is null) return new(name, OneOf(allGen, dimGen, dimGen), covers, 20, gradGrad);
        var dimsGen = from shape in TensorGen.Shape(3, 4, Math.Max(minRank, 1))
                      from dims in TensorGen.Dims(shape.Length)
                      from keep in Gen.Elements(true, false)
                      from x in domain(shape)
                      select new OpSample($"{name}(dims {S(dims)}, keepDim {keep}) of {S(shape)}", [x], xs => alongDims(xs[0], dims, keep));
        return new(name, OneOf(allGen, dimGen, dimsGen), covers, 20, gradGrad);
    }

    /// <summary>A random shape with the same number of elements as <paramref name="shape"/> (one dim possibly −1).</summary>
    private static Gen<int[]> SameNumel(int[] shape)
    {
        int n = Numel(shape);
        return from parts in Gen.Choose(0, 3)
               from divisors in Gen.ArrayOf(Gen.Choose(1, 4), parts)
               from infer in Gen.Elements(true, false)
               select Factor(n, divisors, infer);

        static int[] Factor(int n, int[] divisors, bool infer)
        {
            var dims = new List<int>();
            int rest = n;
            foreach (int d in divisors)
            {
                if (rest % d != 0) continue;
                dims.Add(d);
                rest /= d;
            }
            dims.Add(rest);
            var result = dims.ToArray();
            if (infer && rest != 0) result[^1] = -1;
            return result;
        }
    }

    // ------------------------------------------------------------------ the catalog

    private static OpInfo[] Build()
    {
        var ops = new List<OpInfo>
        {
            // Arithmetic, tensor–tensor with broadcasting.
            Binary("Add", (a, b) => a + b, s => Uniform(s), s => Uniform(s), ["op_Addition"]),
            Binary("Add(alpha)", (a, b) => a.Add(b, -1.5), s => Uniform(s), s => Uniform(s), ["Add"]),
            Binary("Add method", (a, b) => a.Add(b), s => Uniform(s), s => Uniform(s), ["Add"]),
            Binary("Sub", (a, b) => a - b, s => Uniform(s), s => Uniform(s), ["op_Subtraction", "Sub"]),
            Binary("Mul", (a, b) => a.Mul(b) * b, s => Uniform(s), s => Uniform(s), ["op_Multiply", "Mul"], gradGrad: true),
            Binary("Div", (a, b) => a.Div(b), s => Uniform(s), s => AwayFromZero(s, 0.5), ["op_Division", "Div"], gradGrad: true),
            Binary("Div self", (a, b) => (a * b) / b, s => Uniform(s), s => AwayFromZero(s, 0.5), ["op_Division"]),
            Unary("Neg", x => -x, s => Uniform(s), ["op_UnaryNegation"]),
            Unary("Neg method", x => x.Neg(), s => Uniform(s), ["Neg"]),

            // Arithmetic with a scalar on either side.
            WithScalar("Tensor + s", (x, s) => x + s, s => Uniform(s), Scalar(), ["op_Addition"]),
            WithScalar("s + Tensor", (x, s) => s + x, s => Uniform(s), Scalar(), ["op_Addition"]),
            WithScalar("Tensor - s", (x, s) => x - s, s => Uniform(s), Scalar(), ["op_Subtraction"]),
            WithScalar("s - Tensor", (x, s) => s - x, s => Uniform(s), Scalar(), ["op_Subtraction"]),
            WithScalar("Tensor * s", (x, s) => x * s, s => Uniform(s), Scalar(), ["op_Multiply"]),
            WithScalar("s * Tensor", (x, s) => s * x, s => Uniform(s), Scalar(), ["op_Multiply"]),
            WithScalar("Tensor / s", (x, s) => x / s, s => Uniform(s), ScalarAwayFromZero(), ["op_Division"]),
            WithScalar("s / Tensor", (x, s) => s / x, s => AwayFromZero(s, 0.5), Scalar(), ["op_Division"]),

            // Powers.
            WithScalar("Pow(scalar) positive base", (x, p) => x.Pow(p), s => Positive(s), Gen.Elements(-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0), ["Pow"]),
            WithScalar("Pow(integer) any sign", (x, p) => x.Pow(p), s => AwayFromZero(s), Gen.Elements(-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0), ["Pow", "Square"]),
            Binary("Pow(tensor)", (x, p) => x.Pow(p), s => Positive(s), s => Uniform(s), ["Pow"], gradGrad: true),
            WithScalar("Pow(scalar base, tensor)", (x, b) => Tensor.Pow(b, x), s => Uniform(s), Gen.Elements(0.5, 2.0, Math.E, 3.0), ["Pow"]),
            Unary("Square", x => x.Square(), s => Uniform(s), ["Square"]),

            // Element-wise math.
            Unary("Exp", x => x.Exp(), s => Uniform(s), ["Exp"], gradGrad: true),
            Unary("Log", x => x.Log(), s => Positive(s), ["Log"]),
            Unary("Sqrt", x => x.Sqrt(), s => Positive(s), ["Sqrt"]),
            Unary("Rsqrt", x => x.Rsqrt(), s => Positive(s), ["Rsqrt"]),
            Unary("Abs", x => x.Abs(), s => AwayFromZero(s), ["Abs"]),
            Unary("Sign", x => x.Sign() * x, s => AwayFromZero(s), ["Sign"]),
            Unary("Tanh", x => x.Tanh(), s => Uniform(s), ["Tanh"], gradGrad: true),
            Unary("Sigmoid", x => x.Sigmoid(), s => Uniform(s, -4, 4), ["Sigmoid"], gradGrad: true),
            Unary("Sin", x => x.Sin(), s => Uniform(s, -4, 4), ["Sin"]),
            Unary("Cos", x => x.Cos(), s => Uniform(s, -4, 4), ["Cos"]),
            Unary("Erf", x => x.Erf(), s => Uniform(s, -3, 3), ["Erf"]),

            // Activations.
            Unary("Relu", x => x.Relu(), s => AwayFromZero(s), ["Relu"]),
            WithScalar("LeakyRelu", (x, slope) => x.LeakyRelu(slope), s => AwayFromZero(s), Gen.Elements(0.01, 0.2, 1.5), ["LeakyRelu"]),
            Unary("LeakyRelu default", x => x.LeakyRelu(), s => AwayFromZero(s), ["LeakyRelu"]),
            Unary("Gelu none", x => x.Gelu(), s => Uniform(s, -3, 3), ["Gelu"], gradGrad: true),
            Unary("Gelu tanh", x => x.Gelu("tanh"), s => Uniform(s, -3, 3), ["Gelu"], gradGrad: true),
            Unary("Silu", x => x.Silu(), s => Uniform(s, -3, 3), ["Silu"], gradGrad: true),

            // Clamp, away from its bounds.
            new("Clamp",
                from shape in AnyShape()
                from lo in Gen.Elements<double?>(null, -1.0, -0.5, 0.0)
                from hi in Gen.Elements<double?>(null, 0.25, 1.0, 1.5)
                where lo is not null || hi is not null
                from x in Input(TensorGen.AwayFrom(shape, new[] { lo, hi }.OfType<double>().ToArray(), 0.05, F64))
                select new OpSample($"Clamp({lo}, {hi})", [x], xs => xs[0].Clamp(lo, hi)),
                ["Clamp"]),

            // Maximum / Minimum on distinct values (no ties).
            new("Maximum",
                from shapes in TensorGen.BroadcastPair()
                from p in DistinctPair(shapes.Left, shapes.Right)
                select new OpSample($"Maximum {S(shapes.Left)} with {S(shapes.Right)}", [p.A, p.B], xs => Tensor.Maximum(xs[0], xs[1])),
                ["Maximum"]),
            new("Minimum",
                from shapes in TensorGen.BroadcastPair()
                from p in DistinctPair(shapes.Left, shapes.Right)
                select new OpSample($"Minimum {S(shapes.Left)} with {S(shapes.Right)}", [p.A, p.B], xs => Tensor.Minimum(xs[0], xs[1])),
                ["Minimum"]),

            // Softmax family along a random dim.
            new("Softmax",
                from shape in AnyShape()
                from dim in TensorGen.Dim(shape.Length)
                from x in Uniform(shape, -3, 3)
                select new OpSample($"Softmax(dim {dim})", [x], xs => xs[0].Softmax(dim)),
                ["Softmax"], 20, GradGrad: true),
            new("LogSoftmax",
                from shape in AnyShape()
                from dim in TensorGen.Dim(shape.Length)
                from x in Uniform(shape, -3, 3)
                select new OpSample($"LogSoftmax(dim {dim})", [x], xs => xs[0].LogSoftmax(dim)),
                ["LogSoftmax"], 20, GradGrad: true),
            new("LogSumExp",
                from shape in AnyShape()
                from dim in TensorGen.Dim(shape.Length)
                from keep in Gen.Elements(true, false)
                from x in Uniform(shape, -3, 3)
                select new OpSample($"LogSumExp(dim {dim}, keepDim {keep})", [x], xs => xs[0].LogSumExp(dim, keep)),
                ["LogSumExp"], 20),

            // Reductions.
            Reduction("Sum", x => x.Sum(), (x, d, k) => x.Sum(d, k), (x, ds, k) => x.Sum(ds, k), s => Uniform(s), ["Sum"], gradGrad: true),
            Reduction("Mean", x => x.Mean(), (x, d, k) => x.Mean(d, k), (x, ds, k) => x.Mean(ds, k), s => Uniform(s), ["Mean"]),
            Reduction("Max", x => x.Max(), (x, d, k) => x.Max(d, k).Values, null, s => Distinct(s), ["Max"]),
            Reduction("Min", x => x.Min(), (x, d, k) => x.Min(d, k).Values, null, s => Distinct(s), ["Min"]),
            Reduction("Amax", x => x.Amax(0), (x, d, k) => x.Amax(d, k), null, s => Distinct(s), ["Amax"]),
            new("Var",
                from shape in TensorGen.Shape(3, 4, 1, 2)
                from dims in TensorGen.Dims(shape.Length)
                from correction in Gen.Elements(0, 1)
                from keep in Gen.Elements(true, false)
                from form in Gen.Choose(0, 2)
                from x in Uniform(shape)
                select new OpSample($"Var form {form} dims {S(dims)} correction {correction} keepDim {keep}", [x], xs =>
                    form == 0 ? xs[0].Var(dims, correction, keep) : form == 1 ? xs[0].Var(dims[0], correction, keep) : xs[0].Var()),
                ["Var"], 20, GradGrad: true),
            new("Std",
                from shape in TensorGen.Shape(3, 4, 1, 2)
                from dims in TensorGen.Dims(shape.Length)
                from correction in Gen.Elements(0, 1)
                from keep in Gen.Elements(true, false)
                from form in Gen.Choose(0, 2)
                from x in Input(TensorGen.Distinct(shape, F64))
                select new OpSample($"Std form {form} dims {S(dims)} correction {correction} keepDim {keep}", [x], xs =>
                    form == 0 ? xs[0].Std(dims, correction, keep) : form == 1 ? xs[0].Std(dims[0], correction, keep) : xs[0].Std()),
                ["Std"], 20),

            // Matrix products.
            new("MatMul", MatMulSamples(), ["MatMul"], 25, GradGrad: true),
            new("Mm",
                from n in Gen.Choose(1, 4) from k in Gen.Choose(1, 4) from m in Gen.Choose(1, 4)
                from a in Uniform([n, k]) from b in Uniform([k, m])
                select new OpSample($"Mm {n}x{k} by {k}x{m}", [a, b], xs => xs[0].Mm(xs[1])),
                ["Mm"]),
            new("Bmm",
                from bt in Gen.Choose(1, 3) from n in Gen.Choose(1, 3) from k in Gen.Choose(1, 3) from m in Gen.Choose(1, 3)
                from a in Uniform([bt, n, k]) from b in Uniform([bt, k, m])
                select new OpSample($"Bmm {bt}x{n}x{k} by {bt}x{k}x{m}", [a, b], xs => xs[0].Bmm(xs[1])),
                ["Bmm"]),

            // Joining and splitting.
            new("Cat",
                from shape in TensorGen.Shape(3, 3, 1)
                from dim in TensorGen.Dim(shape.Length)
                from sizes in Gen.ArrayOf(Gen.Choose(0, 3), 3).Select(a => a.Take(1 + a[0] % 3).ToArray())
                from parts in Gen.CollectToArray(sizes, s => Uniform(WithSize(shape, dim, s)))
                select new OpSample($"Cat dim {dim} of {string.Join(", ", parts.Select(p => S(p.Shape)))}", parts, xs => Tensor.Cat(xs, dim)),
                ["Cat"], 20),
            new("Stack",
                from shape in TensorGen.Shape(3, 3, 0)
                from dim in TensorGen.Dim(shape.Length + 1)
                from count in Gen.Choose(1, 3)
                from parts in Gen.CollectToArray(Enumerable.Repeat(shape, count), s => Uniform(s))
                select new OpSample($"Stack dim {dim} of {count} x {S(shape)}", parts, xs => Tensor.Stack(xs, dim)),
                ["Stack"], 20),
            new("Split",
                OneOf(
                    from shape in TensorGen.Shape(3, 4, 1)
                    from dim in TensorGen.Dim(shape.Length)
                    from size in Gen.Choose(1, 4)
                    from x in Uniform(shape)
                    select new OpSample($"Split({size}, dim {dim})", [x], (Func<Tensor[], Tensor[]>)(xs => xs[0].Split(size, dim))),
                    from shape in TensorGen.Shape(3, 4, 1)
                    from dim in TensorGen.Dim(shape.Length)
                    from cut in Gen.Choose(0, 4)
                    from x in Uniform(shape)
                    let n = shape[dim < 0 ? dim + shape.Length : dim]
                    let sizes = new[] { Math.Min(cut, n), n - Math.Min(cut, n) }
                    select new OpSample($"Split({S(sizes)}, dim {dim})", [x], (Func<Tensor[], Tensor[]>)(xs => xs[0].Split(sizes, dim)))),
                ["Split"], 20),
            new("Chunk",
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                from chunks in Gen.Choose(1, 5)
                from x in Uniform(shape)
                select new OpSample($"Chunk({chunks}, dim {dim})", [x], (Func<Tensor[], Tensor[]>)(xs => xs[0].Chunk(chunks, dim))),
                ["Chunk"]),

            // Indexing.
            new("Gather",
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                let d = dim < 0 ? dim + shape.Length : dim
                from idxShape in Gen.CollectToArray(Enumerable.Range(0, shape.Length), i => i == d ? Gen.Choose(1, 4) : Gen.Choose(1, shape[i]))
                from index in TensorGen.Indices(idxShape, shape[d])
                from x in Uniform(shape)
                select new OpSample($"Gather(dim {dim}, index {S(idxShape)})", [x, index], xs => xs[0].Gather(dim, xs[1])),
                ["Gather"], 20),
            new("ScatterAdd",
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                let d = dim < 0 ? dim + shape.Length : dim
                from idxShape in Gen.CollectToArray(Enumerable.Range(0, shape.Length), i => i == d ? Gen.Choose(1, 4) : Gen.Choose(1, shape[i]))
                from extra in Gen.ArrayOf(Gen.Choose(0, 1), shape.Length)
                let srcShape = idxShape.Select((s, i) => s + extra[i]).ToArray()
                from index in TensorGen.Indices(idxShape, shape[d])
                from self in Uniform(shape)
                from src in Uniform(srcShape)
                select new OpSample($"ScatterAdd(dim {dim}, index {S(idxShape)}, src {S(srcShape)})", [self, index, src], xs => xs[0].ScatterAdd(dim, xs[1], xs[2])),
                ["ScatterAdd"], 20),
            new("IndexSelect",
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                let d = dim < 0 ? dim + shape.Length : dim
                from len in Gen.Choose(1, 4)
                from index in TensorGen.Indices([len], shape[d])
                from x in Uniform(shape)
                select new OpSample($"IndexSelect(dim {dim}, {len} indices)", [x, index], xs => xs[0].IndexSelect(dim, xs[1])),
                ["IndexSelect"], 20),
            new("IndexAdd",
                from shape in TensorGen.Shape(3, 4, 1)
                from dim in TensorGen.Dim(shape.Length)
                let d = dim < 0 ? dim + shape.Length : dim
                from len in Gen.Choose(1, 4)
                from index in TensorGen.Indices([len], shape[d])
                from self in Uniform(shape)
                from src in Uniform(WithSize(shape, d, len))
                select new OpSample($"IndexAdd(dim {dim}, {len} indices)", [self, index, src], xs => xs[0].IndexAdd(dim, xs[1], xs[2])),
                ["IndexAdd"], 20),
            new("Where",
                OneOf(
                    from shapes in TensorGen.BroadcastPair()
                    from condShape in Gen.Elements(shapes.Left, shapes.Right, TensorGen.BroadcastShape(shapes.Left, shapes.Right), [])
                    from cond in TensorGen.Mask(condShape)
                    from a in Uniform(shapes.Left)
                    from b in Uniform(shapes.Right)
                    select new OpSample($"Where(cond {S(condShape)}, {S(shapes.Left)}, {S(shapes.Right)})", [cond, a, b], xs => Tensor.Where(xs[0], xs[1], xs[2])),
                    from shape in AnyShape()
                    from cond in TensorGen.Mask(shape)
                    from s in Scalar()
                    from scalarFirst in Gen.Elements(true, false)
                    from x in Uniform(shape)
                    select new OpSample($"Where with scalar {s} {(scalarFirst ? "first" : "second")}", [cond, x],
                        xs => scalarFirst ? Tensor.Where(xs[0], s, xs[1]) : Tensor.Where(xs[0], xs[1], s))),
                ["Where"], 20),
            new("MaskedFill",
                from shapes in TensorGen.BroadcastPair()
                let full = TensorGen.BroadcastShape(shapes.Left, shapes.Right)
                from mask in TensorGen.Mask(shapes.Right)
                from x in Uniform(full)
                from s in Scalar()
                select new OpSample($"MaskedFill(mask {S(shapes.Right)}, {s}) of {S(full)}", [x, mask], xs => xs[0].MaskedFill(xs[1], s)),
                ["MaskedFill"]),
        };
        ops.AddRange(Views());
        ops.AddRange(InPlaceOps());
        ops.AddRange(NeuralNetOps());
        // Sections kept in their own files (OpCatalog.*.cs), one per area.
        ops.AddRange(TensorFunctionOps());
        ops.AddRange(IndexingAndIntegerOps());
        ops.AddRange(LayerOps());
        ops.AddRange(AttentionOps());
        return [.. ops];
    }

    private static int[] WithSize(int[] shape, int dim, int size)
    {
        var s = (int[])shape.Clone();
        s[dim < 0 ? dim + s.Length : dim] = size;
        return s;
    }

    private static Gen<OpSample> MatMulSamples()
    {
        var dims = Gen.Choose(1, 4);
        // An operand: a fresh leaf in a random layout, or explicitly a transposed view (column-major matrices).
        Gen<Tensor> Operand(int[] shape) =>
            Gen.Elements(false, true).SelectMany(transposed => transposed && shape.Length >= 2
                ? TensorGen.Tensor(shape, F64).Select(t => TransposedLeaf(t))
                : Uniform(shape));
        Gen<OpSample> Case(string kind, int[] a, int[] b) =>
            from x in Operand(a)
            from y in Operand(b)
            select new OpSample($"MatMul {kind} {S(a)} by {S(b)}", [x, y], xs => xs[0].MatMul(xs[1]));
        return OneOf(
            from k in dims from s in Case("1-D·1-D", [k], [k]) select s,
            from n in dims from k in dims from m in dims from s in Case("2-D·2-D", [n, k], [k, m]) select s,
            from k in dims from m in dims from s in Case("1-D·2-D", [k], [k, m]) select s,
            from n in dims from k in dims from s in Case("2-D·1-D", [n, k], [k]) select s,
            from bt in Gen.Choose(1, 3) from n in dims from k in dims from m in Gen.Choose(1, 3) from s in Case("batched", [bt, n, k], [bt, k, m]) select s,
            from b1 in Gen.Choose(1, 2) from b2 in Gen.Choose(1, 3) from n in Gen.Choose(1, 3) from k in Gen.Choose(1, 3) from m in Gen.Choose(1, 3)
            from s in Case("broadcast batch", [b2, 1, n, k], [b1 == 1 ? 1 : 2, k, m]) select s,
            from bt in Gen.Choose(2, 3) from n in dims from k in dims from s in Case("batched·1-D", [bt, n, k], [k]) select s,
            from bt in Gen.Choose(2, 3) from k in dims from m in dims from s in Case("1-D·batched", [k], [bt, k, m]) select s,
            from n in dims from k in dims from m in dims from s in Case("2-D·batched", [n, k], [2, k, m]) select s);
    }

    /// <summary>A leaf with the given shape whose last two dims are a transposed (column-major) view.</summary>
    private static Tensor TransposedLeaf(Tensor t)
    {
        Tensor v;
        using (Autograd.NoGrad()) v = t.MT.Contiguous().MT;
        return v.Detach().RequiresGrad_();
    }

    private static IEnumerable<OpInfo> Views()
    {
        yield return new("Reshape",
            from shape in AnyShape(4)
            from target in SameNumel(shape)
            from x in Uniform(shape)
            select new OpSample($"Reshape {S(shape)} to {S(target)}", [x], xs => xs[0].Reshape(target)),
            ["Reshape"], 20);
        yield return new("View",
            from shape in AnyShape(4)
            from target in SameNumel(shape)
            from x in TensorGen.Tensor(shape, F64, requiresGrad: true)
            select new OpSample($"View {S(shape)} as {S(target)}", [x], xs => xs[0].View(target)),
            ["View"]);
        yield return new("View of a transposed view",
            // Splitting or merging only dims that stay contiguous with each other is a view even for a transposed tensor.
            from n in Gen.Choose(1, 4) from m in Gen.Choose(1, 3) from k in Gen.Choose(1, 3)
            from x in TensorGen.Tensor([n, m * k], F64, requiresGrad: true).Select(TransposedLeaf)
            select new OpSample($"View [{n}, {m * k}] (transposed) as [{n}, {m}, {k}]", [x], xs => xs[0].View(n, m, k)),
            ["View"]);
        yield return new("ViewAs",
            from shape in AnyShape(4)
            from target in SameNumel(shape)
            let known = Numel(target.Where(v => v >= 0).ToArray())
            let resolved = target.Select(v => v >= 0 ? v : known == 0 ? 0 : Numel(shape) / known).ToArray()
            where Numel(resolved) == Numel(shape)
            from x in TensorGen.Tensor(shape, F64, requiresGrad: true)
            select new OpSample($"ViewAs {S(shape)} as {S(resolved)}", [x], xs => xs[0].ViewAs(Tensor.Zeros(resolved, F64))),
            ["ViewAs"]);
        yield return new("Flatten",
            from shape in AnyShape(4)
            from start in TensorGen.Dim(shape.Length)
            from end in TensorGen.Dim(shape.Length)
            let r = Math.Max(shape.Length, 1)
            where (start + r) % r <= (end + r) % r
            from x in Uniform(shape)
            select new OpSample($"Flatten({start}, {end}) of {S(shape)}", [x], xs => xs[0].Flatten(start, end)),
            ["Flatten"]);
        yield return new("Unflatten",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in TensorGen.Dim(shape.Length)
            let n = shape[dim < 0 ? dim + shape.Length : dim]
            from sizes in SameNumel([n])
            from x in Uniform(shape)
            select new OpSample($"Unflatten(dim {dim}, {S(sizes)}) of {S(shape)}", [x], xs => xs[0].Unflatten(dim, sizes)),
            ["Unflatten"]);
        yield return new("Permute",
            from shape in AnyShape(4)
            from perm in Gen.Shuffle(Enumerable.Range(0, shape.Length).ToArray())
            from negate in Gen.ArrayOf(Gen.Elements(true, false), shape.Length)
            let dims = perm.Select((p, i) => negate[i] ? p - shape.Length : p).ToArray()
            from x in Uniform(shape)
            select new OpSample($"Permute{S(dims)} of {S(shape)}", [x], xs => xs[0].Permute(dims).Exp()),
            ["Permute"]);
        yield return new("Transpose",
            from shape in AnyShape(4)
            from a in TensorGen.Dim(shape.Length)
            from b in TensorGen.Dim(shape.Length)
            from x in Uniform(shape)
            select new OpSample($"Transpose({a}, {b}) of {S(shape)}", [x], xs => xs[0].Transpose(a, b) * 2.0),
            ["Transpose"]);
        yield return new("T",
            from shape in AnyShape(2)
            from x in Uniform(shape)
            select new OpSample($"T of {S(shape)}", [x], xs => xs[0].T.Sin()),
            ["T"]);
        yield return new("MT",
            from shape in TensorGen.Shape(4, 4, 2)
            from x in Uniform(shape)
            select new OpSample($"MT of {S(shape)}", [x], xs => xs[0].MT.Sin()),
            ["MT"]);
        yield return new("Narrow",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in TensorGen.Dim(shape.Length)
            let n = shape[dim < 0 ? dim + shape.Length : dim]
            from start in Gen.Choose(-n, n)
            let s = start < 0 ? start + n : start
            from length in Gen.Choose(0, n - s)
            from x in Uniform(shape)
            select new OpSample($"Narrow(dim {dim}, {start}, {length}) of {S(shape)}", [x], xs => xs[0].Narrow(dim, start, length)),
            ["Narrow"], 20);
        yield return new("Slice",
            from shape in TensorGen.Shape(3, 5, 1)
            from dim in TensorGen.Dim(shape.Length)
            from start in Gen.Elements<int?>(null, 0, 1, -1, -3, 7)
            from end in Gen.Elements<int?>(null, 0, 2, -1, 9)
            from step in Gen.Choose(1, 3)
            from x in Uniform(shape)
            select new OpSample($"Slice(dim {dim}, {start}, {end}, {step}) of {S(shape)}", [x], xs => xs[0].Slice(dim, start, end, step)),
            ["Slice"], 25, GradGrad: true);
        yield return new("Select",
            from shape in TensorGen.Shape(3, 4, 1)
            from dim in TensorGen.Dim(shape.Length)
            let n = shape[dim < 0 ? dim + shape.Length : dim]
            from index in Gen.Choose(-n, n - 1)
            from x in Uniform(shape)
            select new OpSample($"Select(dim {dim}, {index}) of {S(shape)}", [x], xs => xs[0].Select(dim, index)),
            ["Select"], 20);
        yield return new("Indexer",
            from shape in TensorGen.Shape(3, 4, 2)
            from kind in Gen.Choose(0, 5)
            from x in Uniform(shape)
            select new OpSample($"Indexer form {kind} of {S(shape)}", [x], xs => kind switch
            {
                0 => xs[0][0],
                1 => xs[0][.., ^1],
                2 => xs[0][TensorIndex.Ellipsis, 0],
                3 => xs[0][1.., TensorIndex.NewAxis],
                4 => xs[0][^1, TensorIndex.Ellipsis, ..1],
                _ => xs[0][TensorIndex.NewAxis, ..^1, 0],
            }),
            ["Index"], 20);
        yield return new("Expand",
            from target in TensorGen.Shape(3, 3, 0)
            from drop in Gen.Choose(0, target.Length)
            from ones in Gen.ArrayOf(Gen.Elements(true, false), target.Length)
            let own = target.Skip(drop).Select((s, i) => ones[i + drop] ? 1 : s).ToArray()
            from useMinusOne in Gen.Elements(true, false)
            let request = target.Select((s, i) => useMinusOne && i >= drop && own[i - drop] == s ? -1 : s).ToArray()
            from x in Uniform(own)
            select new OpSample($"Expand {S(own)} to {S(request)}", [x], xs => xs[0].Expand(request)),
            ["Expand"], 20);
        yield return new("ExpandAs",
            from shapes in TensorGen.BroadcastPair()
            let full = TensorGen.BroadcastShape(shapes.Left, shapes.Right)
            from x in Uniform(shapes.Left)
            select new OpSample($"ExpandAs {S(shapes.Left)} to {S(full)}", [x], xs => xs[0].ExpandAs(Tensor.Zeros(full, F64))),
            ["ExpandAs"]);
        yield return new("Squeeze",
            from shape in TensorGen.Shape(4, 3, 0, 1)
            from all in Gen.Elements(true, false)
            from dim in TensorGen.Dim(shape.Length)
            from x in Uniform(shape.Select((s, i) => i % 2 == 0 ? 1 : s).ToArray())
            select new OpSample(all ? "Squeeze()" : $"Squeeze({dim})", [x], xs => all ? xs[0].Squeeze() : xs[0].Squeeze(dim)),
            ["Squeeze"], 20);
        yield return new("Unsqueeze",
            from shape in AnyShape()
            from dim in TensorGen.Dim(shape.Length + 1)
            from x in Uniform(shape)
            select new OpSample($"Unsqueeze({dim}) of {S(shape)}", [x], xs => xs[0].Unsqueeze(dim)),
            ["Unsqueeze"]);
        yield return Unary("Contiguous", x => x.Contiguous() * 1.5, s => Uniform(s), ["Contiguous"]);
        yield return Unary("Clone", x => x.Clone(), s => Uniform(s), ["Clone"]);
        yield return Unary("To(Float64)", x => x.To(DType.Float64).Exp(), s => Uniform(s), ["To"]);
        yield return Unary("Double", x => x.Double(), s => Uniform(s), ["Double"]);
    }

    /// <summary>In-place ops on non-leaf tensors: autograd rebases the tensor's history onto the op.</summary>
    private static IEnumerable<OpInfo> InPlaceOps()
    {
        OpInfo InPlace(string name, Func<Tensor, Tensor, Tensor> op, Func<int[], Gen<Tensor>> other) => new(name,
            from shape in AnyShape()
            from x in Uniform(shape)
            from y in other(shape)
            select new OpSample(name, [x, y], xs => op(xs[0] * 1.0, xs[1])),
            [name]);
        yield return InPlace("Add_", (a, b) => a.Add_(b), s => Uniform(s));
        yield return InPlace("Sub_", (a, b) => a.Sub_(b), s => Uniform(s));
        yield return InPlace("Mul_", (a, b) => a.Mul_(b), s => Uniform(s));
        yield return InPlace("Div_", (a, b) => a.Div_(b), s => AwayFromZero(s, 0.5));
        yield return InPlace("Copy_", (a, b) => a.Copy_(b), s => Uniform(s));
        yield return new("In-place with a scalar",
            from shape in AnyShape()
            from s in ScalarAwayFromZero()
            from which in Gen.Choose(0, 4)
            from x in Uniform(shape)
            select new OpSample($"In-place scalar op {which} with {s}", [x], xs =>
            {
                var y = xs[0] * 1.0;
                return which switch { 0 => y.Add_(s), 1 => y.Sub_(s), 2 => y.Mul_(s), 3 => y.Div_(s), _ => y.Add_(xs[0], s) };
            }),
            ["Add_", "Sub_", "Mul_", "Div_"]);
        yield return new("Clamp_",
            from shape in AnyShape()
            from x in Input(TensorGen.AwayFrom(shape, [-0.5, 1.0], 0.05, F64))
            select new OpSample("Clamp_(-0.5, 1)", [x], xs => (xs[0] * 1.0).Clamp_(-0.5, 1.0) * xs[0]),
            ["Clamp_"]);
        yield return new("Fill_ and Zero_",
            from shape in AnyShape()
            from zero in Gen.Elements(true, false)
            from x in Uniform(shape)
            select new OpSample(zero ? "Zero_" : "Fill_(2.5)", [x], xs =>
            {
                var y = xs[0] * 2.0;
                var z = zero ? y.Zero_() : y.Fill_(2.5);
                return z + xs[0];
            }),
            ["Fill_", "Zero_"]);
    }

    // ------------------------------------------------------------------ nn primitives (fused kernels)

    private static IEnumerable<OpInfo> NeuralNetOps()
    {
        yield return Unary("Softplus", x => x.Softplus(), s => Uniform(s, -3, 3), ["Softplus"], gradGrad: true);
        yield return Unary("LogSigmoid", x => x.LogSigmoid(), s => Uniform(s, -3, 3), ["LogSigmoid"]);
        yield return new("Movedim",
            from shape in AnyShape()
            from src in TensorGen.Dim(shape.Length)
            from dst in TensorGen.Dim(shape.Length)
            from x in Uniform(shape)
            select new OpSample($"Movedim({src}, {dst})", [x], xs => xs[0].Movedim(src, dst)),
            ["Movedim"]);
        yield return new("LayerNorm",
            from rows in Gen.Choose(1, 3)
            from n in Gen.Choose(2, 5)
            from affine in Gen.Elements(true, false)
            from x in Uniform([rows, n])
            from w in Uniform([n])
            from b in Uniform([n])
            select affine
                ? new OpSample($"LayerNorm([{n}]) affine", [x, w, b], xs => xs[0].LayerNorm([n], xs[1], xs[2]))
                : new OpSample($"LayerNorm([{n}])", [x], xs => xs[0].LayerNorm([n])),
            ["LayerNorm"], 15, GradGrad: true);
        yield return new("BatchNorm (training)",
            from batch in Gen.Choose(2, 3)
            from c in Gen.Choose(1, 3)
            from spatial in Gen.Choose(1, 3)
            from x in Uniform([batch, c, spatial])
            from w in Uniform([c])
            from b in Uniform([c])
            select new OpSample($"BatchNorm training [{batch}, {c}, {spatial}]", [x, w, b],
                xs => xs[0].BatchNorm(null, null, xs[1], xs[2], training: true)),
            ["BatchNorm"], 15, GradGrad: true);
        yield return new("Conv2d",
            from cin in Gen.Choose(1, 2)
            from cout in Gen.Choose(1, 2)
            from k in Gen.Choose(1, 2)
            from stride in Gen.Choose(1, 2)
            from pad in Gen.Choose(0, 1)
            from h in Gen.Choose(2, 4)
            from x in Uniform([1, cin, h, h])
            from w in Uniform([cout, cin, k, k])
            from b in Uniform([cout])
            select new OpSample($"Conv2d k{k} s{stride} p{pad} on [1, {cin}, {h}, {h}]", [x, w, b], xs => xs[0].Conv2d(xs[1], xs[2], stride, pad)),
            ["Conv2d"], GradGrad: true);
        yield return new("MaxPool2d",
            from h in Gen.Choose(2, 4)
            from x in Distinct([1, 2, h, h])
            select new OpSample("MaxPool2d(2, 1)", [x], xs => xs[0].MaxPool2d(2, 1)),
            ["MaxPool2d"], GradGrad: true);
        yield return new("AvgPool2d",
            from h in Gen.Choose(2, 4)
            from x in Uniform([1, 2, h, h])
            select new OpSample("AvgPool2d(2, 1, 1)", [x], xs => xs[0].AvgPool2d(2, 1, 1)),
            ["AvgPool2d"], GradGrad: true);
        yield return new("AdaptiveAvgPool2d",
            from h in Gen.Choose(2, 5)
            from o in Gen.Choose(1, 3)
            from x in Uniform([1, 2, h, h])
            select new OpSample($"AdaptiveAvgPool2d({o}, {o})", [x], xs => xs[0].AdaptiveAvgPool2d(o, o)),
            ["AdaptiveAvgPool2d"], GradGrad: true);
    }
}
