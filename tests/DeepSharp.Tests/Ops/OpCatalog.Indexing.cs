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
    }

    private static Tensor Detached(Tensor t)
    {
        using (Autograd.NoGrad()) return t.Clone().Detach();
    }
}
