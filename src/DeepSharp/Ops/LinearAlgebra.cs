namespace DeepSharp;

// Vector norms. The gradient of a norm that is 0 is 0 (PyTorch masks it), never NaN, and every backward is
// written with differentiable ops.
public sealed partial class Tensor
{
    /// <summary>The p-norm over all elements (p = 2 by default; <c>torch.norm</c> / <c>torch.linalg.vector_norm</c>).</summary>
    public Tensor Norm(double p = 2) => Norm(p, null, false);

    /// <summary>The p-norm along one dim.</summary>
    public Tensor Norm(double p, int dim, bool keepDim = false) => Norm(p, [dim], keepDim);

    /// <summary>
    /// The p-norm (Σ|x|ᵖ)^(1/p) along dims (all when null): p = 2 Euclidean, 1 sum of magnitudes, ∞ / −∞ the largest /
    /// smallest magnitude, 0 the count of non-zeros (zero gradient), any other p the general formula. Where the norm is 0
    /// the gradient is 0, as PyTorch.
    /// </summary>
    public Tensor Norm(double p, int[]? dims, bool keepDim = false)
    {
        CheckFloating("Norm");
        if (double.IsNaN(p)) throw new ArgumentException("Norm: p must be a number, got NaN.");
        var mask = ReducedDims(dims, "Norm");
        var keptShape = KeptShape(mask, true);
        var outShape = KeptShape(mask, keepDim);
        var x = this;
        if (p == 1) return Abs().Sum(dims, keepDim);
        if (double.IsInfinity(p))
        {
            // The largest (smallest) magnitude over the reduced dims, jointly: ties share the gradient evenly.
            var flat = ReducedToLastDim(Abs(), mask);
            var m = p > 0 ? flat.Amax(-1) : -(-flat).Amax(-1);
            return m.Reshape(outShape);
        }
        Tensor result;
        using (GradMode.Set(false))
        {
            result = p == 0 ? Ne(0.0).To(DType).Sum(dims, keepDim)
                : p == 2 ? (x * x).Sum(dims, keepDim).Sqrt()
                : x.Abs().Pow(p).Sum(dims, keepDim).Pow(1 / p);
        }
        if (p == 0) return Node.Record(result, "NormBackward", [x], g => [ZerosLike(x)]);
        return Node.Record(result, "NormBackward", [x], g =>
        {
            var nk = result.Reshape(keptShape);
            var zero = nk.Eq(0.0);
            var safe = Where(zero, 1.0, nk);
            var gk = g.Reshape(keptShape);
            // grad = x·|x|^(p−2)·g / ‖x‖^(p−1), written as sign(x)·|x|^(p−1) so that x = 0 gives 0 for p > 1.
            var scale = Where(zero, 0.0, p == 2 ? gk / safe : gk / safe.Pow(p - 1));
            return [p == 2 ? x * scale : x.Sign() * x.Abs().Pow(p - 1) * scale];
        }, x, result);
    }

    /// <summary>t with the dims in <paramref name="mask"/> moved to the end and flattened into one.</summary>
    private static Tensor ReducedToLastDim(Tensor t, bool[] mask)
    {
        if (t.Dim == 0) return t.Reshape(1);
        var kept = Enumerable.Range(0, t.Dim).Where(i => !mask[i]).ToArray();
        var reduced = Enumerable.Range(0, t.Dim).Where(i => mask[i]).ToArray();
        var moved = t.Permute([.. kept, .. reduced]);
        return moved.Reshape([.. kept.Select(i => t._shape[i]), -1]);
    }
}
