using DeepSharp.NN;
using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Attention and the fused activations on the Transformer hot path.</summary>
    private static IEnumerable<OpInfo> AttentionOps()
    {
        // The fused kernel (no dropout): plain, causal, float mask, Bool mask; L ≠ S; 2-D to 4-D operands.
        yield return new("ScaledDotProductAttention",
            from rank in Gen.Choose(2, 4)
            from n in Gen.Choose(1, 2)
            from h in Gen.Choose(1, 2)
            from l in Gen.Choose(1, 5)
            from sLen in Gen.Choose(1, 5)
            from e in Gen.Choose(1, 4)
            from ev in Gen.Choose(1, 3)
            from kind in Gen.Choose(0, 3)
            let lead = rank == 2 ? Array.Empty<int>() : rank == 3 ? [n] : new[] { n, h }
            let s = kind == 1 ? l : sLen
            from q in Uniform([.. lead, l, e])
            from k in Uniform([.. lead, s, e])
            from v in Uniform([.. lead, s, ev])
            from fmask in TensorGen.Tensor([l, s], F64, -1, 1)
            from bmask in TensorGen.Mask([l, s])
            from scale in Gen.Elements<double?>(null, 0.5, 2.0)
            select new OpSample($"SDPA {(kind switch { 0 => "plain", 1 => "causal", 2 => "float mask", _ => "Bool mask" })} q {S(q.Shape)} k {S(k.Shape)} v {S(v.Shape)} scale {scale}",
                [q, k, v], xs => F.ScaledDotProductAttention(xs[0], xs[1], xs[2],
                    attnMask: kind == 2 ? fmask : kind == 3 ? bmask : null, isCausal: kind == 1, scale: scale)),
            [], MaxTest: 25, GradGrad: true);

        // The math path: a float mask that requires grad (gradient flows into the mask too).
        yield return new("ScaledDotProductAttention (mask with grad)",
            from l in Gen.Choose(1, 4)
            from s in Gen.Choose(1, 4)
            from e in Gen.Choose(1, 3)
            from q in Uniform([2, l, e])
            from k in Uniform([2, s, e])
            from v in Uniform([2, s, e])
            from m in Uniform([l, s])
            select new OpSample($"SDPA with a differentiable mask {S([l, s])}", [q, k, v, m],
                xs => F.ScaledDotProductAttention(xs[0], xs[1], xs[2], attnMask: xs[3])),
            [], GradGrad: true);
    }
}
